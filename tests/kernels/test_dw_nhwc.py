"""NHWC depthwise convolution (kernel table dw_pack / dwconv_nhwc) on every
ISA path, against a float64 numpy reference and against the ref path.

Integer-valued inputs in [-21, 21] make every sum exact in float32 whatever
the order (25 taps * 21 * 21 + bias + residual < 2^24), so those runs compare
with ==, including the exact activations (None, Relu, LeakyRelu 0.5, Clip).
Float data and the transcendental / scaled activations (Sigmoid, Tanh,
HardSigmoid, HardSwish, Elu, Selu, Silu) use the project tolerance: the SIMD paths
start from the bias and use FMAs, the ref adds mul results then the bias.

The SIMD paths tile the interior in 8 pixels (then 4, 2, 1), do the padded
border pixel by pixel, have dedicated tiles for 3x3/5x5 at stride 1/2 and a
generic one for the rest, and vectorise over 16 (AVX-512) / 8 (AVX2) channels
with a masked tail: the sweeps below cross each of those edges."""
import numpy as np
import pytest

import cnnrt
from cnnrt import _core
from helpers import assert_close

K = _core.kernels

# Act enum (kernels.h): None, Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid, HardSwish, Elu, Selu, Silu.
ACTS = {
    0: ("none", 0.0, 0.0),
    1: ("relu", 0.0, 0.0),
    2: ("leaky_relu", 0.5, 0.0),
    3: ("clip", 0.0, 6.0),
    4: ("sigmoid", 0.0, 0.0),
    5: ("tanh", 0.0, 0.0),
    6: ("hard_sigmoid", 0.2, 0.5),
    7: ("hard_swish", 0.0, 0.0),
    8: ("elu", 1.0, 0.0),
    9: ("selu", 1.6732632, 1.0507010),
    10: ("silu", 0.0, 0.0),  # in registers on the SIMD paths (EfficientNet's depthwise layers)
}
EXACT_ACTS = {0, 1, 2, 3}


def np_act(y, act, a, b):
    if act == 0:
        return y
    if act == 1:
        return np.maximum(y, 0)
    if act == 2:
        return np.where(y >= 0, y, y * a)
    if act == 3:
        return np.minimum(np.maximum(y, a), b)
    if act == 4:
        return 1 / (1 + np.exp(-y))
    if act == 5:
        return np.tanh(y)
    if act == 6:
        return np.clip(a * y + b, 0, 1)
    if act == 7:
        return y * np.clip(y / 6 + 0.5, 0, 1)
    if act == 8:
        return np.where(y >= 0, y, a * (np.exp(y) - 1))
    if act == 10:
        return y / (1 + np.exp(-y))
    return np.where(y > 0, b * y, b * (a * np.exp(y) - a))


def out_size(n, k, s, d, pb, pe):
    return (n + pb + pe - (k - 1) * d - 1) // s + 1


def np_dw(x, w, bias, res, stride, pads, dil, act=0):
    """x [N,H,W,C], w [C,1,KH,KW], pads (t, l, b, r); float64, cast to float32."""
    N, H, W, C = x.shape
    KH, KW = w.shape[2:]
    t, l, b, r = pads
    xp = np.zeros((N, H + t + b, W + l + r, C))
    xp[:, t:t + H, l:l + W] = x
    OH = out_size(H, KH, stride[0], dil[0], t, b)
    OW = out_size(W, KW, stride[1], dil[1], l, r)
    y = np.zeros((N, OH, OW, C))
    for kh in range(KH):
        for kw in range(KW):
            h0, w0 = kh * dil[0], kw * dil[1]
            patch = xp[:, h0:h0 + (OH - 1) * stride[0] + 1:stride[0], w0:w0 + (OW - 1) * stride[1] + 1:stride[1]]
            y += patch * w[:, 0, kh, kw].astype(np.float64)
    if bias is not None:
        y += bias
    if res is not None:
        y += res[..., :C]
    _, a, bb = ACTS[act]
    return np_act(y, act, a, bb).astype(np.float32)


def ints(rng, shape):
    return rng.integers(-21, 22, shape).astype(np.float32)


def run(isa, x, w, bias=None, res=None, stride=(1, 1), pads=(0, 0, 0, 0), dil=(1, 1), act=0, threads=1, **kw):
    _, a, b = ACTS[act]
    return K.dwconv_nhwc(isa, x, w, bias, res, strides=list(stride), pads=list(pads), dilations=list(dil), act=act,
                         p0=a, p1=b, threads=threads, **kw)


def check_exact(isa, x, w, bias, res, stride, pads, dil, act=0, threads=1, what=""):
    got = run(isa, x, w, bias, res, stride, pads, dil, act, threads)
    want = np_dw(x, w, bias, res, stride, pads, dil, act)
    assert got.shape == want.shape, what
    np.testing.assert_array_equal(got, want, err_msg=what)


CHANNELS = [1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 96, 144]


@pytest.mark.parametrize("C", CHANNELS)
def test_channels_exact(isa, C):
    """Every channel count around the 8/16-lane blocks, each fast tile
    (3x3/5x5, stride 1/2), bias, a residual and Clip(0, 6) (ReLU6)."""
    rng = np.random.default_rng(C)
    for k, s in [(3, 1), (3, 2), (5, 1), (5, 2)]:
        H, W = 9, 13  # 13 columns: interior tiles of 8 + 2 + 1 (stride 1)
        x = ints(rng, (1, H, W, C))
        w = ints(rng, (C, 1, k, k))
        b = ints(rng, C)
        p = k // 2
        OH, OW = out_size(H, k, s, 1, p, p), out_size(W, k, s, 1, p, p)
        res = ints(rng, (1, OH, OW, C)) if s == 1 else None
        check_exact(isa, x, w, b, res, (s, s), (p, p, p, p), (1, 1), act=3, what=f"C={C} k={k} s={s}")


SPATIAL = [(1, 1), (1, 5), (2, 3), (3, 3), (4, 7), (5, 5), (6, 2), (7, 7), (8, 9), (9, 8), (9, 17), (14, 14),
           (15, 15), (15, 14)]


@pytest.mark.parametrize("k,s", [(3, 1), (3, 2), (5, 1), (5, 2)])
def test_spatial_exact(isa, k, s):
    """Map sizes 1..15 (windows wider than the map, no interior, one or two
    tiles) with symmetric, asymmetric and no padding."""
    rng = np.random.default_rng(k * 10 + s)
    C = 17
    w = ints(rng, (C, 1, k, k))
    b = ints(rng, C)
    p = k // 2
    for H, W in SPATIAL:
        for pads in [(p, p, p, p), (0, p + 1, p, 0), (p, 0, 0, 1), (0, 0, 0, 0)]:
            if out_size(H, k, s, 1, pads[0], pads[2]) < 1 or out_size(W, k, s, 1, pads[1], pads[3]) < 1:
                continue
            x = ints(rng, (1, H, W, C))
            check_exact(isa, x, w, b, None, (s, s), pads, (1, 1), act=1, what=f"{H}x{W} pads={pads}")


# C, H, W, (KH, KW), (SH, SW), (t, l, b, r), (DH, DW): the generic tile and the
# fast tiles with a kernel row count / row stride / row dilation of their own.
GENERIC = [
    (5, 6, 9, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1)),
    (17, 7, 11, (2, 2), (2, 2), (0, 0, 1, 1), (1, 1)),
    (33, 11, 12, (7, 7), (1, 1), (3, 3, 3, 3), (1, 1)),
    (16, 15, 15, (7, 7), (2, 2), (3, 2, 3, 4), (1, 1)),
    (9, 9, 19, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2)),
    (31, 14, 14, (5, 5), (2, 2), (4, 4, 4, 4), (2, 2)),
    (8, 10, 23, (3, 3), (3, 3), (1, 1, 1, 1), (1, 1)),
    (15, 9, 13, (1, 3), (1, 1), (0, 1, 0, 1), (1, 1)),
    (24, 12, 9, (3, 1), (2, 1), (1, 0, 1, 0), (1, 1)),
    (17, 8, 21, (3, 5), (1, 2), (1, 2, 1, 2), (1, 1)),
    (3, 13, 10, (5, 3), (2, 1), (2, 1, 2, 1), (2, 1)),
    (33, 4, 30, (1, 3), (1, 1), (0, 3, 0, 3), (1, 3)),
]


@pytest.mark.parametrize("case", GENERIC, ids=[f"k{c[3]}s{c[4]}d{c[6]}" for c in GENERIC])
def test_generic_exact(isa, case):
    C, H, W, ks, st, pads, dil = case
    rng = np.random.default_rng(C + H + W)
    x = ints(rng, (3, H, W, C))
    w = ints(rng, (C, 1) + ks)
    b = ints(rng, C)
    OH, OW = out_size(H, ks[0], st[0], dil[0], pads[0], pads[2]), out_size(W, ks[1], st[1], dil[1], pads[1], pads[3])
    res = ints(rng, (3, OH, OW, C))
    check_exact(isa, x, w, b, res, st, pads, dil, act=0)
    check_exact(isa, x, w, None, None, st, pads, dil, act=1)


@pytest.mark.parametrize("act", sorted(ACTS), ids=[ACTS[a][0] for a in sorted(ACTS)])
def test_epilogue(isa, act):
    """Every activation, bias and residual present or absent: float data
    against numpy and the ref path (tolerance); integer data exact for the
    exact activations."""
    rng = np.random.default_rng(act)
    for C, k, s in [(17, 3, 1), (40, 5, 2), (8, 3, 2)]:
        N, H, W = 2, 10, 11
        p = k // 2
        OH, OW = out_size(H, k, s, 1, p, p), out_size(W, k, s, 1, p, p)
        for with_bias in (False, True):
            for with_res in (False, True):
                x = rng.standard_normal((N, H, W, C)).astype(np.float32)
                w = (rng.standard_normal((C, 1, k, k)) * 0.5).astype(np.float32)
                b = rng.standard_normal(C).astype(np.float32) if with_bias else None
                res = rng.standard_normal((N, OH, OW, C)).astype(np.float32) if with_res else None
                args = (x, w, b, res, (s, s), (p, p, p, p), (1, 1), act)
                got = run(isa, *args, threads=2)
                what = f"act={ACTS[act][0]} C={C} k={k} s={s} bias={with_bias} res={with_res}"
                assert_close(got, np_dw(*args), what + " vs numpy")
                assert_close(got, run("ref", *args), what + " vs ref")
                if act in EXACT_ACTS:
                    xi, wi = ints(rng, x.shape), ints(rng, w.shape)
                    bi = ints(rng, C) if with_bias else None
                    ri = ints(rng, res.shape) if with_res else None
                    check_exact(isa, xi, wi, bi, ri, (s, s), (p, p, p, p), (1, 1), act, threads=2, what=what)


@pytest.mark.parametrize("C,xs,ys,ldr", [(1, 4, 3, 2), (7, 16, 9, 8), (17, 40, 33, 17), (33, 48, 64, 40), (16, 32, 16, 24)])
def test_strided_tensors(isa, C, xs, ys, ldr):
    """x, y and the residual as channel slices of wider tensors (groups,
    concat): only channels [0, C) are read, and only they are written (the
    hook fills y with NaN first)."""
    rng = np.random.default_rng(C * xs)
    N, H, W = 3, 9, 10
    for k, s in [(3, 1), (5, 2), (2, 1)]:
        p = k // 2
        x = ints(rng, (N, H, W, xs))
        x[..., C:] = np.nan  # must never be read into a result
        w = ints(rng, (C, 1, k, k))
        b = ints(rng, C)
        OH, OW = out_size(H, k, s, 1, p, p), out_size(W, k, s, 1, p, p)
        res = ints(rng, (N, OH, OW, ldr))
        res[..., C:] = np.nan
        got = run(isa, x, w, b, res, (s, s), (p, p, p, p), (1, 1), 3, threads=2, channels=C, y_stride=ys)
        assert got.shape == (N, OH, OW, ys)
        want = np_dw(x[..., :C], w, b, res[..., :C], (s, s), (p, p, p, p), (1, 1), 3)
        np.testing.assert_array_equal(got[..., :C], want)
        assert np.isnan(got[..., C:]).all(), "wrote past the C channels of a pixel"


# Layers of mobilenet_v2 / efficientnet_b0 (reduced batch), threads 1 and 2
# must agree bit for bit with each other and with numpy.
NETWORK = [
    (32, 112, 112, 3, 1), (96, 112, 112, 3, 2), (144, 56, 56, 3, 2), (144, 28, 28, 5, 1), (240, 28, 28, 5, 2),
    (480, 14, 14, 3, 1), (672, 14, 14, 5, 2), (960, 7, 7, 3, 1), (1152, 7, 7, 5, 1),
]


@pytest.mark.parametrize("layer", NETWORK, ids=[f"{c}x{h}x{w}k{k}s{s}" for c, h, w, k, s in NETWORK])
def test_network_layers_threads(isa, layer):
    C, H, W, k, s = layer
    rng = np.random.default_rng(C + k)
    x = rng.integers(-4, 5, (1, H, W, C)).astype(np.float32)
    w = rng.integers(-4, 5, (C, 1, k, k)).astype(np.float32)
    b = rng.integers(-4, 5, C).astype(np.float32)
    p = k // 2
    args = (x, w, b, None, (s, s), (p, p, p, p), (1, 1), 3)
    y1 = run(isa, *args, threads=1)
    y2 = run(isa, *args, threads=2)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(y1, np_dw(*args))


def test_batch_threads_float(isa):
    """N = 3 float data, 2 threads vs 1 thread (same summation per output,
    so bit-identical) and vs the ref path."""
    rng = np.random.default_rng(5)
    for C, H, W, k, s in [(96, 15, 14, 3, 1), (33, 14, 15, 5, 2), (144, 9, 9, 3, 2)]:
        x = rng.standard_normal((3, H, W, C)).astype(np.float32)
        w = rng.standard_normal((C, 1, k, k)).astype(np.float32)
        b = rng.standard_normal(C).astype(np.float32)
        p = k // 2
        args = (x, w, b, None, (s, s), (p, p, p, p), (1, 1), 7)
        y1 = run(isa, *args, threads=1)
        np.testing.assert_array_equal(y1, run(isa, *args, threads=2))
        assert_close(y1, run("ref", *args), "vs ref")
        assert_close(y1, np_dw(*args), "vs numpy")


def test_pack_layouts_differ_but_agree():
    """Each ISA packs its own layout (channel blocks of its vector width);
    the packed size covers the padded channel blocks."""
    for isa in _core.info()["isa_available"]:
        x = np.arange(2 * 5 * 6 * 19, dtype=np.float32).reshape(2, 5, 6, 19) % 7 - 3
        w = (np.arange(19 * 9, dtype=np.float32).reshape(19, 1, 3, 3) % 5) - 2
        np.testing.assert_array_equal(run(isa, x, w, pads=(1, 1, 1, 1)), np_dw(x, w, None, None, (1, 1), (1, 1, 1, 1), (1, 1)))


def test_bad_input():
    x = np.zeros((1, 5, 5, 8), np.float32)
    with pytest.raises(cnnrt.InputError, match="dwconv_nhwc"):
        K.dwconv_nhwc("ref", x, np.zeros((9, 1, 3, 3), np.float32))  # 9 filters for 8 channels
    with pytest.raises(cnnrt.InputError, match="y_stride"):
        K.dwconv_nhwc("ref", x, np.zeros((8, 1, 3, 3), np.float32), y_stride=4)


@pytest.mark.slow
@pytest.mark.parametrize("C", CHANNELS)
def test_full_product(isa, C):
    rng = np.random.default_rng(C + 1000)
    for H, W in SPATIAL:
        for k in (1, 2, 3, 5, 7):
            for s in (1, 2, 3):
                for d in (1, 2):
                    for pads in [(k // 2,) * 4, (0, k // 2, k // 2 + 1, 0), (0, 0, 0, 0)]:
                        if out_size(H, k, s, d, pads[0], pads[2]) < 1 or out_size(W, k, s, d, pads[1], pads[3]) < 1:
                            continue
                        x = ints(rng, (1, H, W, C))
                        w = ints(rng, (C, 1, k, k))
                        check_exact(isa, x, w, ints(rng, C), None, (s, s), pads, (d, d), act=3,
                                    what=f"{H}x{W} k={k} s={s} d={d} pads={pads}")
