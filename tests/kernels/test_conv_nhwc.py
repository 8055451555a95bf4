"""NHWC convolution by (indirect) GEMM, the kernel-table entries
conv_packed_size / conv_pack / conv_nhwc, on every ISA path: against a float64
numpy convolution and against the ref path.

Integer-valued inputs and weights in [-21, 21] make every sum exact whatever
the order (MLAS), so those comparisons are `==`. The sweeps cover the tile
edges of every SIMD path (AVX-512 6 x 64, and 12 x 32 for K > 2560 or
OC <= 16; AVX2 6 x 16; panels narrower than NR at the OC edge, a masked last
vector): pixel counts 1..2*MR+1 around
the row blocks, OC around 8/16/32/48/64 multiples; the three A paths (direct
1x1, indirection with padding taps, row taps for few channels); and channel
slices (x_stride / y_stride > C) with NaN canaries around the written slice.
"""
import math

import numpy as np
import pytest

import cnnrt
from cnnrt import _core

K = _core.kernels
ACT = {"none": 0, "relu": 1, "leaky": 2, "clip": 3, "sigmoid": 4, "tanh": 5, "hardsigmoid": 6, "hardswish": 7,
       "elu": 8, "selu": 9, "silu": 10, "gelu": 11}
ACT_PARAMS = {"leaky": (0.5, 0.0), "clip": (-100.0, 250.0), "hardsigmoid": (0.2, 0.5), "elu": (1.0, 0.0),
              "selu": (1.6732632, 1.050701)}


def ints(rng, *shape, lim=21):
    return rng.integers(-lim, lim + 1, size=shape).astype(np.float32)


def out_size(n, k, s, d, pb, pe):
    return (n + pb + pe - (k - 1) * d - 1) // s + 1


def np_conv(x, w, strides=(1, 1), pads=(0, 0, 0, 0), dil=(1, 1)):
    """float64 NHWC convolution: x [N,H,W,C], w [OC,C,KH,KW], pads (t, l, b, r)."""
    n, h, wd, c = x.shape
    oc, _, kh, kw = w.shape
    sh, sw = strides
    dh, dw = dil
    oh, ow = out_size(h, kh, sh, dh, pads[0], pads[2]), out_size(wd, kw, sw, dw, pads[1], pads[3])
    xp = np.zeros((n, h + pads[0] + pads[2] + kh * dh, wd + pads[1] + pads[3] + kw * dw, c))
    xp[:, pads[0]:pads[0] + h, pads[1]:pads[1] + wd] = x
    y = np.zeros((n, oh, ow, oc))
    w64 = w.astype(np.float64)
    for i in range(kh):
        for j in range(kw):
            sl = xp[:, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw]
            y += sl @ w64[:, :, i, j].T
    return y


def np_epilogue(y, bias, res, act, p0, p1):
    if bias is not None:
        y = y + bias
    if res is not None:
        y = y + res[..., :y.shape[-1]]
    if act == "relu":
        y = np.maximum(y, 0)
    elif act == "leaky":
        y = np.where(y >= 0, y, y * p0)
    elif act == "clip":
        y = np.minimum(np.maximum(y, p0), p1)
    elif act == "sigmoid":
        y = 1 / (1 + np.exp(-y))
    elif act == "tanh":
        y = np.tanh(y)
    elif act == "hardsigmoid":
        y = np.clip(p0 * y + p1, 0, 1)
    elif act == "hardswish":
        y = y * np.clip(y / 6 + 0.5, 0, 1)
    elif act == "elu":
        y = np.where(y >= 0, y, p0 * (np.exp(y) - 1))
    elif act == "selu":
        y = np.where(y > 0, p1 * y, p1 * (p0 * np.exp(y) - p0))
    elif act == "silu":
        y = y / (1 + np.exp(-y))
    elif act == "gelu":
        y = 0.5 * y * (1 + np.vectorize(math.erf)(y / math.sqrt(2)))
    return y


def conv(isa, x, w, strides=(1, 1), pads=(0, 0, 0, 0), dil=(1, 1), **kw):
    return K.conv_nhwc(isa, "gemm", x, w, strides=list(strides), pads=list(pads), dilations=list(dil), **kw)


def check_exact(isa, x, w, strides=(1, 1), pads=(0, 0, 0, 0), dil=(1, 1), what="", **kw):
    y = conv(isa, x, w, strides, pads, dil, **kw)
    want = np_conv(x, w, strides, pads, dil).astype(np.float32)
    np.testing.assert_array_equal(y, want, err_msg=f"{isa} vs numpy {what}")
    if isa != "ref":
        np.testing.assert_array_equal(y, conv("ref", x, w, strides, pads, dil, **kw), err_msg=f"{isa} vs ref {what}")


OC_EDGES = [1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 47, 48, 49, 63, 64, 65, 80, 96, 127, 129, 200]


def test_tile_edges_direct_1x1(isa):
    """Direct 1x1: every pixel count 1..29 (row blocks of up to 14 and their
    remainders) against every OC edge (full panels, narrower last panels,
    the masked last vector)."""
    rng = np.random.default_rng(0)
    for p in list(range(1, 30)) + [49, 50]:
        c = int(rng.integers(1, 40))
        x = ints(rng, 1, 1, p, c)
        for oc in OC_EDGES:
            w = ints(rng, oc, c, 1, 1)
            check_exact(isa, x, w, what=f"P={p} C={c} OC={oc}")


def test_tile_edges_deep_k(isa):
    """K = KH*KW*C above 2560 switches AVX-512 to its deep tile (12 x 32):
    its row remainders 1..25 and OC edges, direct 1x1 and 3x3."""
    rng = np.random.default_rng(1)
    for p in list(range(1, 26)) + [49]:
        x = ints(rng, 1, 1, p, 2600, lim=5)
        for oc in (1, 16, 17, 32, 33, 48, 65):
            w = ints(rng, oc, 2600, 1, 1, lim=5)
            check_exact(isa, x, w, what=f"P={p} C=2600 OC={oc}")
    x, w = ints(rng, 2, 4, 5, 300, lim=5), ints(rng, 47, 300, 3, 3, lim=5)
    check_exact(isa, x, w, pads=(1, 1, 1, 1), what="3x3 C=300")


@pytest.mark.parametrize("c", [1, 3, 4, 15, 16, 17, 33, 64])
def test_channels_and_k_edges(isa, c):
    """3x3 pad 1 (indirection with padding taps; row taps below 16 channels)
    over the channel counts, two OC widths, N = 1 and 3."""
    rng = np.random.default_rng(c)
    for n, h, w_, oc in [(1, 5, 7, 16), (3, 4, 3, 37), (1, 9, 2, 70)]:
        x = ints(rng, n, h, w_, c)
        w = ints(rng, oc, c, 3, 3)
        check_exact(isa, x, w, pads=(1, 1, 1, 1), what=f"N={n} {h}x{w_} C={c} OC={oc}")


GEOMS = [  # (kh, kw), strides, pads (t, l, b, r), dilations
    ((1, 1), (2, 2), (0, 0, 0, 0), (1, 1)),
    ((1, 1), (1, 1), (1, 0, 0, 2), (1, 1)),
    ((3, 3), (1, 1), (0, 0, 0, 0), (1, 1)),
    ((3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),
    ((3, 3), (1, 2), (2, 0, 1, 1), (1, 1)),
    ((3, 3), (1, 1), (2, 2, 2, 2), (2, 2)),
    ((5, 5), (1, 1), (2, 2, 2, 2), (1, 1)),
    ((7, 7), (2, 2), (3, 3, 3, 3), (1, 1)),
    ((1, 3), (1, 1), (0, 1, 0, 1), (1, 1)),
    ((3, 1), (3, 1), (1, 0, 1, 0), (1, 2)),
    ((2, 4), (2, 3), (0, 3, 1, 0), (2, 1)),
    ((11, 11), (4, 4), (2, 2, 2, 2), (1, 1)),
]


def geom_id(g):
    (kh, kw), s, p, d = g
    return f"k{kh}x{kw}s{s[0]}{s[1]}p{''.join(map(str, p))}d{d[0]}{d[1]}"


@pytest.mark.parametrize("geom", GEOMS, ids=geom_id)
@pytest.mark.parametrize("c", [3, 17])
def test_geometry_exact(isa, geom, c):
    """Kernel sizes, strides, asymmetric pads, dilations; C = 3 (row taps
    where KW > 1) and 17 (indirection); N = 1 and 3."""
    (kh, kw), s, p, d = geom
    rng = np.random.default_rng(kh * 100 + kw * 10 + c)
    for n, h, w_, oc in [(1, 13, 11, 19), (3, 9, 14, 64)]:
        if out_size(h, kh, s[0], d[0], p[0], p[2]) < 1 or out_size(w_, kw, s[1], d[1], p[1], p[3]) < 1:
            h, w_ = h + kh * d[0], w_ + kw * d[1]
        x = ints(rng, n, h, w_, c)
        w = ints(rng, oc, c, kh, kw)
        check_exact(isa, x, w, s, p, d, what=f"N={n} {h}x{w_} OC={oc}")


def test_window_entirely_in_padding(isa):
    """Output pixels whose whole window lies in the padding (zeros only),
    and a 1x1 map."""
    rng = np.random.default_rng(7)
    x = ints(rng, 2, 1, 1, 5)
    w = ints(rng, 9, 5, 3, 3)
    check_exact(isa, x, w, pads=(2, 2, 2, 2), what="1x1 map, pad 2")
    x = ints(rng, 1, 2, 3, 3)
    w = ints(rng, 20, 3, 2, 2)
    check_exact(isa, x, w, strides=(3, 3), pads=(3, 3, 3, 3), what="stride 3, pad 3")


@pytest.mark.parametrize("act", list(ACT))
@pytest.mark.parametrize("bias,res", [(False, False), (True, False), (False, True), (True, True)])
def test_epilogue(isa, act, bias, res):
    """bias_n, residual and every activation, fused, on a direct 1x1 and a
    3x3 layer with a narrow last panel. Relu/LeakyRelu/Clip/None are exact;
    HardSigmoid/HardSwish/Sigmoid/SiLU run in registers (simd/vact.inc), the
    others through act_impl on the stored tile: both match numpy within 1e-5
    relative, and the ref path within 2 ulp-ish."""
    rng = np.random.default_rng(ACT[act] * 4 + bias * 2 + res)
    p0, p1 = ACT_PARAMS.get(act, (0.0, 0.0))
    exact = act in ("none", "relu", "leaky", "clip")
    # (1, 15, 17, 24, 100): a direct 1x1 run panel-outer in chunks of blocks
    # (43 blocks of 6 pixels, 2 panels; the activations after the tiles run per chunk).
    for (n, h, w_, c, oc, k, pad) in [(1, 7, 9, 24, 53, 1, 0), (3, 5, 4, 7, 100, 3, 1), (1, 15, 17, 24, 100, 1, 0)]:
        lim = 21 if exact else 2
        x, w = ints(rng, n, h, w_, c, lim=lim), ints(rng, oc, c, k, k, lim=lim)
        b = ints(rng, oc) if bias else None
        r = ints(rng, n, h, w_, oc) if res else None
        if not exact:
            x, w = x / 8, w / 8
        kw = dict(bias=b, residual=r, act=ACT[act], p0=p0, p1=p1)
        pads = (pad,) * 4
        y = conv(isa, x, w, pads=pads, **kw)
        want = np_epilogue(np_conv(x, w, pads=pads), b, r, act, p0, p1)
        yref = conv("ref", x, w, pads=pads, **kw)
        if exact:
            np.testing.assert_array_equal(y, want.astype(np.float32), err_msg=f"{act} vs numpy")
            np.testing.assert_array_equal(y, yref, err_msg=f"{act} vs ref")
        else:
            np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5, err_msg=f"{act} vs numpy")
            np.testing.assert_allclose(y, yref, rtol=1e-6, atol=1e-6, err_msg=f"{act} vs ref")


@pytest.mark.parametrize("k", [1, 3])
def test_channel_slices(isa, k):
    """x_stride > C (a channel slice of a wider input, e.g. a group), y_stride
    > OC (writing into a slice of a Concat) and a residual wider than OC: the
    result lands in its slice, every other channel keeps its NaN canary."""
    rng = np.random.default_rng(10 + k)
    n, h, w_, c, cx, x_off, oc, ys, y_off = 3, 6, 5, 13, 40, 9, 37, 101, 50
    xw = ints(rng, n, h, w_, cx)
    w = ints(rng, oc, c, k, k)
    b = ints(rng, oc)
    resw = ints(rng, n, h, w_, 45)
    pads = (k // 2,) * 4
    y = conv(isa, xw, w, pads=pads, x_off=x_off, y_stride=ys, y_off=y_off, bias=b, residual=resw, act=ACT["relu"])
    want = np_epilogue(np_conv(xw[..., x_off:x_off + c], w, pads=pads), b, resw, "relu", 0, 0).astype(np.float32)
    np.testing.assert_array_equal(y[..., y_off:y_off + oc], want)
    assert np.isnan(y[..., :y_off]).all() and np.isnan(y[..., y_off + oc:]).all(), "wrote outside its slice"


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_exact(isa, threads):
    """Threaded results are bit-identical: splits over pixel blocks (big map,
    few channels) and over output-channel panels (7x7, many channels)."""
    rng = np.random.default_rng(20 + threads)
    for (n, h, w_, c, oc, k) in [(1, 20, 19, 16, 24, 3), (1, 7, 7, 64, 300, 1), (3, 7, 7, 33, 130, 3),
                                 (2, 9, 11, 24, 200, 1), (1, 3, 3, 8, 2, 1)]:
        x, w = ints(rng, n, h, w_, c), ints(rng, oc, c, k, k)
        b = ints(rng, oc)
        pads = (k // 2,) * 4
        y = conv(isa, x, w, pads=pads, bias=b, threads=threads)
        want = (np_conv(x, w, pads=pads) + b).astype(np.float32)
        np.testing.assert_array_equal(y, want, err_msg=f"{n}x{h}x{w_}x{c} -> {oc}, k{k}")


def test_large_k_several_weight_blocks(isa):
    """K = 9 x 512 (a 3x3 layer with 512 channels): the weight panels exceed
    one L2 block, so the driver walks several output-channel blocks and
    prefetches the next one; still exact (|sums| < 2^24)."""
    rng = np.random.default_rng(30)
    x, w = ints(rng, 1, 4, 5, 512, lim=7), ints(rng, 200, 512, 3, 3, lim=7)
    check_exact(isa, x, w, pads=(1, 1, 1, 1), what="C=512 3x3")
    x, w = ints(rng, 1, 3, 3, 2048, lim=7), ints(rng, 300, 2048, 1, 1, lim=7)
    check_exact(isa, x, w, what="C=2048 1x1", threads=2)


# (N, H, W, C, OC, k, stride, dilation): layers the AVX2 path runs K-blocked
# (a 6-row block's A over K beyond 32 KiB: K > 1365; the map within L2), so
# chunks of 256 k steps: a 3x3 tap split in two (C = 512), in parts of
# unequal length (C = 600: 3 x 200), one tap per chunk (C = 200), two taps
# per chunk (5x5, C = 120: the last chunk one tap), and a 1x1 in six parts
# (C = 1500); P around the 6-row blocks (1, 5, 9, 13, 18, 42, 49: one row
# count or two), OC around the 16-wide panels (a narrower, masked last
# panel), stride 2, dilation 2 and batch 2. The other paths run them
# unblocked: the same exact sums. The 1x1 (294 KB of input rows) is blocked
# only where L2 holds them (512 KiB here; not on a 256 KiB L2).
K_BLOCKED = [(1, 7, 7, 512, 33, 3, 1, 1), (1, 1, 5, 600, 17, 3, 1, 1), (1, 1, 1, 200, 9, 3, 1, 1),
             (1, 3, 3, 120, 16, 5, 1, 1), (1, 7, 7, 1500, 40, 1, 1, 1), (2, 5, 6, 200, 1, 3, 2, 1),
             (1, 6, 7, 160, 48, 3, 1, 2), (1, 13, 1, 300, 100, 3, 1, 1)]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_k_blocked_exact(isa, threads):
    """K-blocked layers (see K_BLOCKED): exact against numpy and the ref path
    with bias, residual and Relu (or Clip) fused at the last chunk, the residual also
    in place on the SIMD paths (y is the residual's buffer, as the session
    lays a fused Add out: the partial sums must not pass through y), and
    with SiLU after the
    tiles; thread counts split the panels between tasks."""
    rng = np.random.default_rng(60 + threads)
    for (n, h, w_, c, oc, k, s, d) in K_BLOCKED:
        x, w = ints(rng, n, h, w_, c, lim=4), ints(rng, oc, c, k, k, lim=4)
        before = K.conv_k_blocked_tasks()
        pad = (k - 1) * d // 2
        pads, st, dl = (pad,) * 4, (s, s), (d, d)
        oh = out_size(h, k, s, d, pad, pad)
        ow = out_size(w_, k, s, d, pad, pad)
        b, r = ints(rng, oc), ints(rng, n, oh, ow, oc)
        what = f"{(n, h, w_, c)} * {(oc, k, k)} s{s} d{d}, {threads} threads"
        check_exact(isa, x, w, st, pads, dl, what=what, threads=threads)
        blocked = K.conv_k_blocked_tasks() - before
        if isa == "avx2" and c != 1500:  # the path meant for these layers ran
            assert blocked > 0, what + ": not K-blocked"
        elif isa == "avx512":  # kKBlock false: unblocked until measured there
            assert blocked == 0, what + ": K-blocked on avx512"
        want = np_epilogue(np_conv(x, w, st, pads, dl), b, r, "relu", 0, 0).astype(np.float32)
        y = conv(isa, x, w, st, pads, dl, bias=b, residual=r, act=ACT["relu"], threads=threads)
        np.testing.assert_array_equal(y, want, err_msg=what + ", bias + residual + relu")
        want_clip = np_epilogue(np_conv(x, w, st, pads, dl), b, r, "clip", -300.0, 400.0).astype(np.float32)
        y = conv(isa, x, w, st, pads, dl, bias=b, residual=r, act=ACT["clip"], p0=-300.0, p1=400.0, threads=threads)
        np.testing.assert_array_equal(y, want_clip, err_msg=what + ", bias + residual + clip")
        if isa != "ref":  # the session adds in place on the SIMD paths only (ConvOp::inplace_input)
            r_in = r.copy()
            conv(isa, x, w, st, pads, dl, bias=b, residual=r_in, out=r_in, act=ACT["relu"], threads=threads)
            np.testing.assert_array_equal(r_in, want, err_msg=what + ", residual in place")
        xs, ws = x / 8, w / 8
        y = conv(isa, xs, ws, st, pads, dl, bias=b, act=ACT["silu"], threads=threads)
        np.testing.assert_allclose(y, np_epilogue(np_conv(xs, ws, st, pads, dl), b, None, "silu", 0, 0),
                                   rtol=1e-5, atol=1e-4, err_msg=what + ", silu")


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_narrow_last_panel_on_big_maps(isa, threads):
    """Direct 1x1 layers whose input rows are too many for panel-outer runs
    (P x C x 4 bytes over threads x 1 MiB: pixel-block outer) with a
    one-vector last panel (OC 17, 24, 40, 56 on AVX2), which runs after
    every 8 pixel blocks over their rows as 8-row tiles: P chosen so tasks
    end on blocks of 5 and 6 rows, and chunks of fewer than 8 rows. Exact
    with bias + residual + Relu, the residual also in place, and SiLU after
    the tiles."""
    rng = np.random.default_rng(90 + threads)
    for p, c, oc in [(3 * 1100 + 1, 100, 24), (3 * 1400 - 1, 100, 40), (2 * 2900 + 7, 100, 17), (6 * 1000 + 5, 150, 56)]:
        x, w = ints(rng, 1, 1, p, c, lim=3), ints(rng, oc, c, 1, 1, lim=3)
        b, r = ints(rng, oc), ints(rng, 1, 1, p, oc)
        what = f"P={p} C={c} OC={oc}, {threads} threads"
        check_exact(isa, x, w, what=what, threads=threads)
        want = np_epilogue(np_conv(x, w), b, r, "relu", 0, 0).astype(np.float32)
        y = conv(isa, x, w, bias=b, residual=r, act=ACT["relu"], threads=threads)
        np.testing.assert_array_equal(y, want, err_msg=what + ", bias + residual + relu")
        if isa != "ref":
            r_in = r.copy()
            conv(isa, x, w, bias=b, residual=r_in, out=r_in, act=ACT["relu"], threads=threads)
            np.testing.assert_array_equal(r_in, want, err_msg=what + ", residual in place")
        xs, ws = x / 8, w / 8
        y = conv(isa, xs, ws, bias=b, act=ACT["silu"], threads=threads)
        np.testing.assert_allclose(y, np_epilogue(np_conv(xs, ws), b, None, "silu", 0, 0),
                                   rtol=1e-5, atol=1e-4, err_msg=what + ", silu")


@pytest.mark.parametrize("k", [1, 3])
def test_k_blocked_channel_slices(isa, k):
    """A K-blocked layer (K = 9 x 300 or 1 x 1500, 49 pixels) reading a
    channel slice of a wider input and writing into a slice of a wider
    output (GoogLeNet's inception5 3x3 branches into their Concat), with a
    wider residual: exact, every other channel keeps its NaN canary."""
    rng = np.random.default_rng(70 + k)
    c = 300 if k == 3 else 1500
    n, h, w_, cx, x_off, oc, ys, y_off = 1, 7, 7, c + 40, 17, 70, 190, 100
    xw = ints(rng, n, h, w_, cx, lim=4)
    w = ints(rng, oc, c, k, k, lim=4)
    b = ints(rng, oc)
    resw = ints(rng, n, h, w_, 75)
    pads = (k // 2,) * 4
    before = K.conv_k_blocked_tasks()
    y = conv(isa, xw, w, pads=pads, x_off=x_off, y_stride=ys, y_off=y_off, bias=b, residual=resw, act=ACT["relu"],
             threads=2)
    if isa == "avx2" and k == 3:  # (the 1x1's 294 KB of input rows need a 512 KiB L2)
        assert K.conv_k_blocked_tasks() > before, "not K-blocked"
    want = np_epilogue(np_conv(xw[..., x_off:x_off + c], w, pads=pads), b, resw, "relu", 0, 0).astype(np.float32)
    np.testing.assert_array_equal(y[..., y_off:y_off + oc], want)
    assert np.isnan(y[..., :y_off]).all() and np.isnan(y[..., y_off + oc:]).all(), "wrote outside its slice"


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_next_layer_prefetch_exact(isa, threads):
    """A session hands each conv the next layer's first weights to prefetch
    (ConvNhwcArgs::pf_next): the tiles of the task's last weight block carry
    those lines on the k steps after their own prefetches. Whatever the
    range (one line, a share per tile, more lines than the tiles have k
    steps), every k step still runs once: exact against numpy and the ref
    path, on each A path (direct 1x1 panel-outer and block-outer, indirect
    3x3, row taps, several weight blocks, the deep tile) and thread count."""
    rng = np.random.default_rng(50 + threads)
    cases = [((1, 9, 10, 24), (70, 24, 1, 1), (0, 0, 0, 0)),      # direct 1x1, small K: panel-outer
             ((1, 7, 7, 300), (130, 300, 1, 1), (0, 0, 0, 0)),     # direct 1x1, block-outer
             ((2, 6, 5, 33), (47, 33, 3, 3), (1, 1, 1, 1)),        # indirect 3x3 with padding taps
             ((1, 8, 9, 5), (20, 5, 3, 3), (1, 1, 1, 1)),          # row taps (few channels)
             ((1, 4, 5, 512), (200, 512, 3, 3), (1, 1, 1, 1)),     # several weight (NC) blocks
             ((1, 3, 4, 2600), (33, 2600, 1, 1), (0, 0, 0, 0))]    # AVX-512 deep tile
    for xs, ws, pads in cases:
        x, w = ints(rng, *xs, lim=5), ints(rng, *ws, lim=5)
        for floats in (16, 25_000, 600_000):
            nxt = rng.standard_normal(floats).astype(np.float32)
            check_exact(isa, x, w, pads=pads, threads=threads, prefetch=nxt,
                        what=f"{xs} * {ws}, prefetch {floats * 4} bytes, {threads} threads")


def test_random_float_close(isa):
    """Non-integer data: close to float64 numpy within a K-scaled bound."""
    rng = np.random.default_rng(40)
    x = rng.standard_normal((2, 9, 8, 70)).astype(np.float32)
    w = rng.standard_normal((90, 70, 3, 3)).astype(np.float32)
    y = conv(isa, x, w, strides=(2, 1), pads=(1, 0, 2, 1))
    want = np_conv(x, w, (2, 1), (1, 0, 2, 1))
    assert np.abs(y - want).max() <= 1e-6 * np.sqrt(630) * np.abs(want).max()


def test_packed_size_covers_panels():
    """The packed weights of every path hold at least the K x OC weights, and
    the SIMD layouts pad OC only to their vector width."""
    rng = np.random.default_rng(50)
    for isa in ["ref"] + [i for i in ("avx2", "avx512") if i in _core.info()["isa_available"]]:
        for oc in (1, 16, 17, 100):
            x, w = ints(rng, 1, 3, 3, 5), ints(rng, oc, 5, 3, 3)
            check_exact(isa, x, w, what=f"OC={oc}")


def test_bad_input_raises(isa):
    """The hook rejects a slice that does not fit (the kernel itself takes
    only raw pointers)."""
    x = np.zeros((1, 3, 3, 8), np.float32)
    w = np.zeros((4, 6, 1, 1), np.float32)
    with pytest.raises(cnnrt.InputError, match="x_off"):
        conv(isa, x, w, x_off=3)
    with pytest.raises(cnnrt.InputError, match="y_stride"):
        conv(isa, x[..., :6], w, y_stride=3)


@pytest.mark.slow
@pytest.mark.parametrize("geom", GEOMS)
@pytest.mark.parametrize("c", [1, 4, 8, 15, 16, 31, 33, 64])
@pytest.mark.parametrize("oc", [3, 16, 17, 48, 65, 130])
def test_full_product_slow(isa, geom, c, oc):
    (kh, kw), s, p, d = geom
    rng = np.random.default_rng(kh + 7 * c + 13 * oc)
    for n, h, w_ in [(1, 12, 13), (3, 5, 17)]:
        h, w_ = h + kh * d[0], w_ + kw * d[1]
        x, w = ints(rng, n, h, w_, c), ints(rng, oc, c, kh, kw)
        check_exact(isa, x, w, s, p, d, what=f"N={n} {h}x{w_}", threads=2)


@pytest.mark.parametrize("oc", [1, 2, 6, 8, 11, 12, 13, 16, 17])
def test_single_channel_direct(isa, oc):
    """One input channel at W-stride 1 (LeNet's first layer) runs vectorised
    over output pixels for OC <= 16 (12 on AVX2): widths around the vector
    length, kernel sizes, each pad side, H stride and dilation, N = 3; OC 17
    takes the GEMM path beside it. Exact on integers."""
    rng = np.random.default_rng(60 + oc)
    cases = [  # (n, h, w, (kh, kw), strides, pads (t, l, b, r), dilations)
        (1, 32, 32, (5, 5), (1, 1), (0, 0, 0, 0), (1, 1)),
        (1, 9, 1, (3, 1), (1, 1), (1, 0, 1, 0), (1, 1)),
        (3, 6, 7, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),
        (1, 5, 16, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1)),
        (1, 4, 17, (2, 3), (2, 1), (0, 2, 1, 0), (2, 1)),
        (2, 11, 33, (7, 7), (1, 1), (3, 3, 3, 3), (1, 1)),
        (1, 3, 15, (1, 4), (3, 1), (0, 0, 0, 3), (1, 1)),
        (1, 2, 5, (3, 3), (1, 1), (2, 5, 2, 5), (1, 1)),  # whole vectors in the padding
    ]
    for n, h, w_, (kh, kw), s, p, d in cases:
        x = ints(rng, n, h, w_, 1)
        w = ints(rng, oc, 1, kh, kw)
        check_exact(isa, x, w, s, p, d, what=f"N={n} {h}x{w_} k{kh}x{kw} OC={oc}")


@pytest.mark.parametrize("act", ["none", "relu", "sigmoid"])
def test_single_channel_direct_epilogue_slices_threads(isa, act):
    """The one-channel path's epilogue (bias, residual, activation), output
    channel slice (y_stride > OC, NaN canaries kept) and threads."""
    rng = np.random.default_rng(70)
    n, h, w_, oc, ys, y_off = 2, 13, 21, 6, 19, 5
    x = ints(rng, n, h, w_, 1, lim=4) / 4
    w = ints(rng, oc, 1, 5, 5, lim=4) / 4
    b = ints(rng, oc)
    r = ints(rng, n, h, w_, oc)
    for threads in (1, 2, 3):
        y = conv(isa, x, w, pads=(2, 2, 2, 2), y_stride=ys, y_off=y_off, bias=b, residual=r, act=ACT[act],
                 threads=threads)
        want = np_epilogue(np_conv(x, w, pads=(2, 2, 2, 2)), b, r, act, 0, 0)
        np.testing.assert_allclose(y[..., y_off:y_off + oc], want, rtol=1e-6, atol=1e-6, err_msg=f"threads={threads}")
        assert np.isnan(y[..., :y_off]).all() and np.isnan(y[..., y_off + oc:]).all(), "wrote outside its slice"
