"""Winograd F(m x m, 3 x 3) over NHWC, m = 4, 6 and 2 (every table has all
three; kernels.h's winograd_worth_it, winograd6_better and winograd2_better
pick per layer), on every ISA path (ref
included: it is the scalar oracle of the transforms) against a direct
convolution in float64.

Declared error bound. Winograd is not exact: its transforms mix all of a
tile's (m+2) x (m+2) inputs and all 9 taps with factors up to 8 (F(4)) or 32
(F(6)) before the float products, so an output's error follows the
magnitudes in its whole tile and filter, not its receptive field's products
alone (a 1x1 image's only output x * w[1,1] is computed through all 9 taps).
With
    E[n, oh, ow, oc] = sum over the receptive field of |x[c]| * max_taps |w[oc, c]|
(a direct convolution of |x| by a box of each filter's largest |tap|) and
Et = the largest E among the m x m outputs of the tile holding (oh, ow)
(tiles start at output (0, 0)):

    |y - y_exact| <= TOL[m] * Et     for every output, any input values.

TOL[4] = 1e-5: the worst measured over the sweeps below and C in 1..1024 with
N(0,1), uniform [0,1), 80%-sparse and pixel-scale-varying (e^+-3) inputs was
3.6e-6 (every path; the ref path's plain matrix loops round no better than
the factorised SIMD transforms). TOL[6] = 2e-5 for F(6x6) (measured worst
6e-6); F(2x2) mixes 4x4 tiles with factors of 1 and 1/2 and keeps TOL[2] =
1e-5, the bound F(2x2, 5x5) shares (test_winograd5.py). The bound does not grow with C: E grows
with C as the accumulated rounding does. Relative to max|y| on N(0,1) data
the error is ~1e-5 at C = 512, as E / |y| grows like sqrt(C).
"""
import math

import numpy as np
import pytest
from onnx import helper

import cnnrt
from cnnrt import _core
from helpers import check_model, make_model

K = _core.kernels
TOL = {4: 1e-5, 6: 2e-5, 2: 1e-5}  # 2: F(2x2, 5x5), test_winograd5.py
ALGO = {4: "winograd", 6: "winograd6", 2: "winograd2"}  # conv_nhwc's algo for F(m x m, 3 x 3)


@pytest.fixture(params=[4, 6, 2], ids=["f4", "f6", "f2"])
def m(request):
    """The Winograd variant under test: F(m x m, 3 x 3)."""
    return request.param
ACTS = {  # name: (enum value, a, b)
    "none": (0, 0.0, 0.0), "relu": (1, 0.0, 0.0), "leaky": (2, 0.1, 0.0), "clip": (3, -0.5, 0.7),
    "sigmoid": (4, 0.0, 0.0), "tanh": (5, 0.0, 0.0), "hardsigmoid": (6, 0.2, 0.5), "hardswish": (7, 0.0, 0.0),
    "elu": (8, 0.7, 0.0), "selu": (9, 1.6733, 1.0507), "silu": (10, 0.0, 0.0),
}


def act_ref(v, name):
    _, a, b = ACTS[name]
    if name == "none":
        return v
    if name == "relu":
        return np.maximum(v, 0)
    if name == "leaky":
        return np.where(v >= 0, v, a * v)
    if name == "clip":
        return np.minimum(np.maximum(v, a), b)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-v))
    if name == "tanh":
        return np.tanh(v)
    if name == "hardsigmoid":
        return np.clip(a * v + b, 0, 1)
    if name == "hardswish":
        return v * np.clip(v / 6 + 0.5, 0, 1)
    if name == "elu":
        return np.where(v >= 0, v, a * (np.exp(v) - 1))
    if name == "selu":
        return np.where(v > 0, b * v, b * (a * np.exp(v) - a))
    if name == "silu":
        return v / (1 + np.exp(-v))
    raise ValueError(name)


def direct(x, w, pads):
    """y and E (see the module docstring), float64, NHWC; a k x k filter."""
    N, H, W, C = x.shape
    k = w.shape[2]
    t, l, b, r = pads
    xp = np.zeros((N, H + t + b, W + l + r, C))
    xp[:, t:t + H, l:l + W] = x
    OH, OW = H + t + b - (k - 1), W + l + r - (k - 1)
    y = np.zeros((N, OH, OW, w.shape[0]))
    e = np.zeros_like(y)
    w = w.astype(np.float64)
    wmax = np.abs(w).max(axis=(2, 3)).T
    for kh in range(k):
        for kw in range(k):
            patch = xp[:, kh:kh + OH, kw:kw + OW, :]
            y += patch @ w[:, :, kh, kw].T
            e += np.abs(patch) @ wmax
    return y, e


def data(rng, N, H, W, C, OC, k=3):
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = (rng.standard_normal((OC, C, k, k)) / math.sqrt(k * k * C)).astype(np.float32)
    return x, w


def tile_max(e, m):
    """Et: each output's E replaced by the largest E of its m x m tile."""
    N, OH, OW, OC = e.shape
    th, tw = -(-OH // m), -(-OW // m)
    p = np.zeros((N, th * m, tw * m, OC))
    p[:, :OH, :OW] = e
    t = p.reshape(N, th, m, tw, m, OC).max(axis=(2, 4))
    return np.repeat(np.repeat(t, m, 1), m, 2)[:, :OH, :OW]


def check_bound(got, want, e, m, what, slack=1.0, extra=0.0):
    err = np.abs(got.astype(np.float64) - want)
    e = tile_max(e, m)
    lim = slack * TOL[m] * e + extra
    bad = err > lim
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} beyond the bound; worst err {err.max():.3g}, "
                           f"err/E {np.max(err / np.maximum(e, 1e-30)):.3g}")


def test_every_path_has_every_variant(isa):
    # The ref path is the SIMD paths' oracle only if it runs the same transforms.
    got = (K.winograd_m(isa), K.winograd6_m(isa), K.winograd2_m(isa))
    assert got == (K.winograd_m("ref"), K.winograd6_m("ref"), K.winograd2_m("ref")) == (4, 6, 2)


# Tile edges: H, W in 1..13 cover 1..3 tiles of F(4) and F(6), 1..7 of F(2), with every
# remainder; pads 0, 1 and asymmetric ones (the tile grid starts at -pad).
PADS = [(0, 0, 0, 0), (1, 1, 1, 1), (0, 1, 2, 0), (2, 0, 1, 2)]


@pytest.mark.parametrize("pads", PADS, ids=[str(p) for p in PADS])
def test_tile_edges(isa, m, pads):
    rng = np.random.default_rng(sum(pads))
    for H in range(1, 14):
        for W in (1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13)[H % 3::3] + (H,):
            if H + pads[0] + pads[2] < 3 or W + pads[1] + pads[3] < 3:
                continue
            x, w = data(rng, 1, H, W, 5, 7)
            want, e = direct(x, w, pads)
            got = K.conv_nhwc(isa, ALGO[m], x, w, pads=list(pads))
            assert got.shape == want.shape
            check_bound(got, want, e, m, f"H={H} W={W}")


CH = [1, 3, 15, 16, 17, 33, 64]


@pytest.mark.parametrize("C", CH)
def test_channels(isa, m, C):
    rng = np.random.default_rng(C)
    for OC in CH:
        x, w = data(rng, 1, 9, 11, C, OC)
        want, e = direct(x, w, (1, 1, 1, 1))
        got = K.conv_nhwc(isa, ALGO[m], x, w, pads=[1, 1, 1, 1])
        check_bound(got, want, e, m, f"C={C} OC={OC}")


@pytest.mark.parametrize("act", list(ACTS))
def test_epilogue(isa, m, act):
    """act(conv + bias + residual) on 3 images, OC with a vector tail."""
    rng = np.random.default_rng(len(act))
    kind, a, b = ACTS[act]
    x, w = data(rng, 3, 10, 7, 19, 37)
    conv, e = direct(x, w, (1, 1, 1, 1))
    bias = rng.standard_normal(37).astype(np.float32)
    res = rng.standard_normal(conv.shape).astype(np.float32)
    for with_bias, with_res in [(True, False), (False, True), (True, True)]:
        pre = conv + (bias if with_bias else 0) + (res if with_res else 0)
        want = act_ref(pre, act)
        got = K.conv_nhwc(isa, ALGO[m], x, w, bias=bias if with_bias else None, residual=res if with_res else None,
                          pads=[1, 1, 1, 1], act=kind, p0=a, p1=b)
        # Activations are at most 1.76-Lipschitz (Selu); exp_approx adds ~2 ulp.
        check_bound(got, want, e, m, f"{act} bias={with_bias} res={with_res}", slack=2.0,
                    extra=1e-6 * (1 + np.abs(want)))


@pytest.mark.parametrize("C,OC", [(5, 3), (16, 32), (19, 40)])
def test_channel_slices(isa, m, C, OC):
    """x_stride > C (channels [2, 2 + C) of a wider tensor, as a group or a
    concat slice), y_stride > OC (write channels [3, 3 + OC) of a wider
    output; the others stay untouched: NaN) and a residual wider than OC."""
    rng = np.random.default_rng(C + OC)
    x, w = data(rng, 2, 9, 10, C, OC)
    xw = rng.standard_normal((2, 9, 10, C + 7)).astype(np.float32)
    xw[..., 2:2 + C] = x
    want, e = direct(x, w, (1, 0, 1, 2))
    bias = rng.standard_normal(OC).astype(np.float32)
    resw = rng.standard_normal(want.shape[:3] + (OC + 4,)).astype(np.float32)
    got = K.conv_nhwc(isa, ALGO[m], xw, w, bias=bias, residual=resw, pads=[1, 0, 1, 2], act=1,
                      x_off=2, y_stride=OC + 5, y_off=3)
    assert got.shape == want.shape[:3] + (OC + 5,)
    assert np.isnan(got[..., :3]).all() and np.isnan(got[..., 3 + OC:]).all()
    check_bound(got[..., 3:3 + OC], np.maximum(want + bias + resw[..., :OC], 0), e, m, "slice", extra=1e-6)


@pytest.mark.parametrize("N", [1, 3])
@pytest.mark.parametrize("shape", [(13, 13, 32, 64), (7, 7, 64, 96), (30, 17, 20, 33)])
def test_threads_and_batch(isa, m, N, shape):
    """Two threads split the tiles x output-channel grid: each output is
    computed in the same order whatever the split, so the results are equal."""
    H, W, C, OC = shape
    rng = np.random.default_rng(N * H)
    x, w = data(rng, N, H, W, C, OC)
    want, e = direct(x, w, (1, 1, 1, 1))
    one = K.conv_nhwc(isa, ALGO[m], x, w, pads=[1, 1, 1, 1], threads=1)
    two = K.conv_nhwc(isa, ALGO[m], x, w, pads=[1, 1, 1, 1], threads=2)
    check_bound(one, want, e, m, "threads=1")
    np.testing.assert_array_equal(two, one)


@pytest.mark.parametrize("HW,OC", [(14, 64), (7, 100)])
def test_error_bound_large_c(isa, m, HW, OC):
    """C = 512: the accumulation over channels is where the error grows."""
    rng = np.random.default_rng(HW)
    x, w = data(rng, 1, HW, HW, 512, OC)
    want, e = direct(x, w, (1, 1, 1, 1))
    got = K.conv_nhwc(isa, ALGO[m], x, w, pads=[1, 1, 1, 1], threads=2)
    check_bound(got, want, e, m, "N(0,1), C=512")
    rel = np.abs(got - want).max() / np.abs(want).max()
    assert rel < (5e-5 if m == 4 else 1e-4), rel
    # Pixel magnitudes varying by up to e^6 between neighbours; all positive.
    for xs in [x * np.exp(rng.uniform(-3, 3, (1, HW, HW, 1))), np.abs(x)]:
        xs = xs.astype(np.float32)
        want, e = direct(xs, w, (1, 1, 1, 1))
        got = K.conv_nhwc(isa, ALGO[m], xs, w, pads=[1, 1, 1, 1])
        check_bound(got, want, e, m, "C=512, scaled / positive")


def test_simd_agrees_with_ref(isa, m):
    rng = np.random.default_rng(7)
    x, w = data(rng, 2, 23, 18, 40, 72)
    _, e = direct(x, w, (1, 1, 1, 1))
    got = K.conv_nhwc(isa, ALGO[m], x, w, pads=[1, 1, 1, 1], threads=2)
    ref = K.conv_nhwc("ref", ALGO[m], x, w, pads=[1, 1, 1, 1])
    check_bound(got, ref.astype(np.float64), e, m, "vs ref", slack=2.0)


def test_bad_kernel_rejected(isa, m):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 8, 8, 4)).astype(np.float32)
    # F(4)'s entry also takes 5x5 (F(2x2, 5x5): test_winograd5.py); F(6)'s and F(2)'s only 3x3.
    with pytest.raises(Exception, match="needs 3x3.* stride 1"):
        K.conv_nhwc(isa, ALGO[m], x, np.ones((4, 4, 7, 7), np.float32), pads=[3, 3, 3, 3])
    with pytest.raises(Exception, match="needs 3x3.* stride 1"):
        K.conv_nhwc(isa, ALGO[m], x, np.ones((4, 4, 3, 3), np.float32), strides=[2, 2], pads=[1, 1, 1, 1])
    if m in (6, 2):
        with pytest.raises(Exception, match=f"F\\({m}x{m}\\) needs 3x3"):
            K.conv_nhwc(isa, ALGO[m], x, np.ones((4, 4, 5, 5), np.float32), pads=[2, 2, 2, 2])


@pytest.mark.slow
@pytest.mark.parametrize("C", [1, 2, 7, 8, 9, 16, 31, 47, 100])
def test_full_product(isa, m, C):
    rng = np.random.default_rng(C)
    for OC in (1, 5, 16, 31, 32, 33, 47, 64, 100):
        for H, W in [(1, 1), (2, 9), (4, 4), (6, 6), (8, 8), (15, 4), (19, 21)]:
            for pads in PADS:
                if H + pads[0] + pads[2] < 3 or W + pads[1] + pads[3] < 3:
                    continue
                for N in (1, 2):
                    x, w = data(rng, N, H, W, C, OC)
                    want, e = direct(x, w, pads)
                    got = K.conv_nhwc(isa, ALGO[m], x, w, pads=list(pads), threads=2)
                    check_bound(got, want, e, m, f"N={N} H={H} W={W} C={C} OC={OC} pads={pads}")


@pytest.mark.parametrize("C,OC,OH,OW,want", [
    (64, 64, 56, 56, True),     # resnet 3x3 layers
    (128, 128, 28, 28, True),
    (256, 256, 14, 14, True),
    (512, 512, 7, 7, False),    # 37.7 MB of transformed weights for 49 pixels
    (512, 512, 14, 14, {"avx2": True, "avx512": False}),  # vgg conv5: AVX2 amortises over half the pixels
    (256, 256, 7, 7, False),    # ... but not on 7x7 maps
    (512, 512, 13, 13, False),
    (256, 512, 14, 14, True),
    (512, 512, 28, 28, True),   # vgg conv4
    (16, 64, 55, 55, True),     # squeezenet fire2
    (3, 64, 224, 224, False),   # first layers: too few input channels
    (8, 32, 56, 56, False),
    (64, 8, 56, 56, False),
    (64, 64, 9, 9, False),      # 56% of the tile outputs inside the image
    (64, 64, 6, 6, False),
    (64, 64, 8, 8, True),       # F(4x4): 2x2 tiles of 16 for 64 pixels
    (64, 64, 1, 300, False),
])
def test_selection_rule(isa, C, OC, OH, OW, want):
    # The ref table keeps direct convolution (the oracle); the SIMD tables follow the measured rule.
    if isinstance(want, dict):
        want = want.get(isa, False)
    assert K.winograd_worth_it(isa, C, OC, OH, OW) == (want and isa != "ref")


@pytest.mark.parametrize("C,OC,OH,OW,want", [
    (64, 128, 112, 112, True),  # vgg conv2_1, conv2_2: F(6) 0.81-0.88 of F(4)'s time
    (128, 128, 112, 112, True),
    (128, 128, 224, 224, True),
    (128, 128, 96, 96, True),
    (64, 64, 224, 224, False),  # vgg conv1_2: level alone, 1.03-1.05 in the network
    (32, 128, 112, 112, False), # C < 64
    (128, 128, 95, 96, False),  # below 96x96 outputs
    (256, 256, 56, 56, False),  # vgg conv3: F(6) 1.11-1.13
    (128, 256, 56, 56, False),
    (512, 512, 28, 28, False),
    (64, 64, 56, 56, False),    # resnet, googlenet
    (64, 64, 112, 112, False),  # OC < 128
    (256, 512, 112, 112, False),  # F(6)'s weights beyond 16 MiB
    (3, 64, 224, 224, False),   # no Winograd at all
])
def test_f6_selection_rule(isa, C, OC, OH, OW, want):
    # Only among layers given to Winograd; never on the ref table.
    assert K.winograd6_better(isa, C, OC, OH, OW) == (want and isa != "ref")


@pytest.mark.parametrize("C,OC,OH,OW,want", [
    (512, 512, 7, 7, True),     # resnet layer4 3x3: 2.45-2.54 -> 1.59-1.62 ms in the network
    (160, 320, 7, 7, True),     # googlenet 5a, 5b
    (192, 384, 7, 7, True),
    (256, 256, 7, 7, True),
    (512, 512, 14, 14, False),  # F(4x4) on AVX2 (winograd_worth_it)
    (64, 64, 7, 7, False),      # F(4x4): few channels
    (32, 2048, 7, 7, False),    # C < 64 (F(4x4) turns it down too: its weight stream)
    (2048, 32, 7, 7, False),    # OC < 64
    (512, 512, 6, 6, False),    # under 7x7
    (512, 512, 9, 9, False),    # above 8x8: unmeasured
    (512, 512, 13, 13, False),
    (64, 64, 1, 300, False),    # F(4x4) turned it down for its tile fill, not its weights
    (64, 64, 9, 9, False),
    (1024, 1024, 7, 7, False),  # beyond 512 x 512 channels: unmeasured
])
def test_f2_selection_rule(isa, C, OC, OH, OW, want):
    # AVX2 only: measured there; AVX-512 and ref keep direct convolution.
    assert K.winograd2_better(isa, C, OC, OH, OW) == (want and isa == "avx2")


@pytest.mark.parametrize("hw,c,oc", [(100, 64, 128), (40, 64, 128), (7, 256, 256)])
def test_conv_op_takes_the_rule(isa, hw, c, oc):
    """A 3x3 Conv + residual Add + Relu against onnxruntime: the SIMD paths
    run F(6x6) on a map of 100x100 outputs, F(4x4) on 40x40 (winograd6_better);
    AVX2 F(2x2) on 7x7 256 -> 256 (winograd2_better), which AVX-512 and the
    ref path leave to direct convolution."""
    want_m = {100: 6, 40: 4, 7: 2}[hw]
    rng = np.random.default_rng(hw)
    x = rng.standard_normal((1, c, hw, hw)).astype(np.float32)
    r = rng.standard_normal((1, oc, hw, hw)).astype(np.float32)
    w = (rng.standard_normal((oc, c, 3, 3)) / math.sqrt(9 * c)).astype(np.float32)
    b = rng.standard_normal(oc).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv3"),
             helper.make_node("Add", ["c", "r"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    model = make_model(nodes, {"x": x, "r": r}, ["y"], {"w": w, "b": b})
    sess = cnnrt.load(model, isa=isa)
    kind = [k[2] for k in sess._core.kernels() if k[0] == "conv3"][0]
    if isa == "ref" or (want_m == 2 and isa != "avx2"):
        assert "winograd" not in kind, kind
    else:
        assert f"winograd_f{want_m}x{want_m}" in kind, kind
    check_model(model, {"x": x, "r": r}, isa=isa, threads=2)
