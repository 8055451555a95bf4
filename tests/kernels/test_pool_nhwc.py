"""NHWC max / average / global pooling (kernel table pool_nhwc,
global_pool_nhwc) on every ISA path, against the ref path (bit for bit: the
SIMD paths take each lane's taps in the ref's order with the ref's
expressions) and against a float64 numpy reference (max exact, average
within the project tolerance).

Geometry as the layout pass passes it: OH/OW from the ONNX output-size rule
(ceil_mode included), PHE/PWE = the ONNX end pads; count_include_pad counts
the taps before the end of the end padding; a max window with no tap inside
the input gives the lowest float (onnxruntime, ops/pool.cc), an average one 0."""
import math

import numpy as np
import pytest

import cnnrt
from cnnrt import _core
from helpers import assert_close

K = _core.kernels
LOWEST = np.finfo(np.float32).min


def out_size(n, k, s, d, pb, pe, ceil):
    span = (n + pb + pe - ((k - 1) * d + 1)) / s
    o = (math.ceil(span) if ceil else math.floor(span)) + 1
    if ceil and (o - 1) * s >= n + pb:  # the last window must start inside the input or left padding
        o -= 1
    return o


def np_pool(x, kind, k, s, pads, d, out, cip):
    """x [N,H,W,C]; pads (t, l, b, r); out (OH, OW)."""
    N, H, W, C = x.shape
    OH, OW = out
    y = np.zeros((N, OH, OW, C))
    x64 = x.astype(np.float64)
    for oh in range(OH):
        hs = oh * s[0] - pads[0]
        hv = [hs + j * d[0] for j in range(k[0]) if 0 <= hs + j * d[0] < H]
        hp = [j for j in range(k[0]) if -pads[0] <= hs + j * d[0] < H + pads[2]]
        for ow in range(OW):
            ws = ow * s[1] - pads[1]
            wv = [ws + j * d[1] for j in range(k[1]) if 0 <= ws + j * d[1] < W]
            wp = [j for j in range(k[1]) if -pads[1] <= ws + j * d[1] < W + pads[3]]
            win = x64[:, hv][:, :, wv].reshape(N, -1, C)
            if kind == "max":
                y[:, oh, ow] = win.max(axis=1) if win.shape[1] else LOWEST
            else:
                cnt = len(hp) * len(wp) if cip else len(hv) * len(wv)
                y[:, oh, ow] = win.sum(axis=1) / cnt if cnt else 0.0
    return y.astype(np.float32)


def geometry(H, W, k, s, pads, d, ceil):
    OH = out_size(H, k[0], s[0], d[0], pads[0], pads[2], ceil)
    OW = out_size(W, k[1], s[1], d[1], pads[1], pads[3], ceil)
    return OH, OW


def pool(isa, kind, x, k, s, pads, d, out, cip=False, threads=1, **kw):
    return K.pool_nhwc(isa, kind, x, list(k), list(s), list(pads), list(d), list(out), cip, threads, **kw)


def check(isa, kind, x, k, s, pads, d, ceil=False, cip=False, threads=1, what=""):
    H, W = x.shape[1:3]
    out = geometry(H, W, k, s, pads, d, ceil)
    got = pool(isa, kind, x, k, s, pads, d, out, cip, threads)
    ref = pool("ref", kind, x, k, s, pads, d, out, cip, 1)
    np.testing.assert_array_equal(got, ref, err_msg=f"{what} vs ref")
    want = np_pool(x, kind, k, s, pads, d, out, cip)
    if kind == "max":
        np.testing.assert_array_equal(got, want, err_msg=f"{what} vs numpy")
    else:
        assert_close(got, want, f"{what} vs numpy")


KINDS = [("max", False), ("avg", False), ("avg", True)]
CHANNELS = [1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 96, 144, 200]


@pytest.mark.parametrize("C", CHANNELS)
def test_channels(isa, C):
    """Channel counts around the 8/16-lane blocks and the 8-vector chunks
    (144 = 9 vectors of 16; 200 = 12.5), on the networks' window shapes:
    3x3/2 (resnet, ceil_mode as googlenet/squeezenet), 3x3/1 pad 1, 2x2/2."""
    rng = np.random.default_rng(C)
    for kind, cip in KINDS:
        for k, s, p, ceil in [(3, 2, 1, False), (3, 2, 0, True), (3, 1, 1, False), (2, 2, 0, False)]:
            x = rng.standard_normal((1, 9, 10, C)).astype(np.float32)
            check(isa, kind, x, (k, k), (s, s), (p,) * 4, (1, 1), ceil, cip, what=f"{kind} cip={cip} k={k} s={s}")


SPATIAL = [(1, 1), (1, 6), (2, 3), (3, 3), (4, 7), (5, 5), (7, 7), (8, 9), (9, 8), (14, 14), (15, 15), (15, 14)]


@pytest.mark.parametrize("kind,cip", KINDS)
@pytest.mark.parametrize("k", [1, 2, 3, 5, 7])
def test_windows(isa, kind, cip, k):
    """Map sizes 1..15, strides 1..3, symmetric / asymmetric / no padding,
    floor and ceil mode, dilation 1 and 2."""
    rng = np.random.default_rng(k)
    C = 17
    for H, W in SPATIAL:
        for s in (1, 2, 3):
            for pads in [(k // 2,) * 4, (0, k // 2, (k - 1) // 2, 0), (0, 0, 0, 0)]:
                for d in (1, 2):
                    for ceil in (False, True):
                        OH, OW = geometry(H, W, (k, k), (s, s), pads, (d, d), ceil)
                        if OH < 1 or OW < 1 or (s, d, ceil) not in [(1, 1, False), (2, 1, True), (3, 2, True),
                                                                     (2, 2, False), (1, 2, True)]:
                            continue
                        x = rng.standard_normal((1, H, W, C)).astype(np.float32)
                        check(isa, kind, x, (k, k), (s, s), pads, (d, d), ceil, cip,
                              what=f"{H}x{W} s={s} pads={pads} d={d} ceil={ceil}")


def test_rectangular_and_integer_avg_exact(isa):
    """Non-square windows; integer data makes the average's sum exact, so
    numpy's sum * (1 / count) equals it bit for bit."""
    rng = np.random.default_rng(3)
    for k, s, pads, d in [((1, 3), (1, 2), (0, 1, 0, 1), (1, 1)), ((3, 1), (2, 1), (1, 0, 1, 0), (1, 1)),
                          ((2, 5), (1, 3), (0, 2, 1, 2), (2, 1))]:
        x = rng.integers(-50, 51, (3, 11, 13, 20)).astype(np.float32)
        for kind, cip in KINDS:
            out = geometry(11, 13, k, s, pads, d, True)
            got = pool(isa, kind, x, k, s, pads, d, out, cip, threads=2)
            if kind == "max":
                want = np_pool(x, kind, k, s, pads, d, out, cip)
            else:  # the kernels multiply the sum by the reciprocal of the count
                want = np_pool_recip(x, k, s, pads, d, out, cip)
            np.testing.assert_array_equal(got, want, err_msg=f"{kind} cip={cip} k={k}")


def np_pool_recip(x, k, s, pads, d, out, cip):
    """Average as sum (exact for integers) * float32(1 / count)."""
    N, H, W, C = x.shape
    y = np.zeros((N,) + tuple(out) + (C,), np.float32)
    for oh in range(out[0]):
        hs = oh * s[0] - pads[0]
        hv = [hs + j * d[0] for j in range(k[0]) if 0 <= hs + j * d[0] < H]
        hp = [j for j in range(k[0]) if -pads[0] <= hs + j * d[0] < H + pads[2]]
        for ow in range(out[1]):
            ws = ow * s[1] - pads[1]
            wv = [ws + j * d[1] for j in range(k[1]) if 0 <= ws + j * d[1] < W]
            wp = [j for j in range(k[1]) if -pads[1] <= ws + j * d[1] < W + pads[3]]
            cnt = len(hp) * len(wp) if cip else len(hv) * len(wv)
            tot = x[:, hv][:, :, wv].astype(np.float64).sum(axis=(1, 2)).astype(np.float32)
            y[:, oh, ow] = tot * (np.float32(1) / np.float32(cnt)) if cnt else 0
    return y


def test_empty_windows(isa):
    """pads >= kernel: windows with no tap inside the input give the lowest
    float (max) and 0 (average), as onnxruntime does."""
    x = np.random.default_rng(0).standard_normal((1, 3, 3, 19)).astype(np.float32)
    for kind, cip in KINDS:
        got = pool(isa, kind, x, (2, 2), (1, 1), (3, 3, 3, 3), (1, 1), (8, 8), cip)
        assert got.shape == (1, 8, 8, 19)
        np.testing.assert_array_equal(got, pool("ref", kind, x, (2, 2), (1, 1), (3, 3, 3, 3), (1, 1), (8, 8), cip))
        assert_close(got, np_pool(x, kind, (2, 2), (1, 1), (3, 3, 3, 3), (1, 1), (8, 8), cip))
        assert (got[:, 0] == (LOWEST if kind == "max" else 0)).all()


def test_nan_inf_like_ref(isa):
    """Max with NaN and infinities: the ref's x > acc ? x : acc lane by lane
    (a NaN tap is skipped unless it comes first, ...): bit-identical to the ref."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 8, 9, 33)).astype(np.float32)
    x.flat[rng.integers(0, x.size, 200)] = np.nan
    x.flat[rng.integers(0, x.size, 100)] = np.inf
    x.flat[rng.integers(0, x.size, 100)] = -np.inf
    for kind, cip in KINDS:
        out = geometry(8, 9, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True)
        got = pool(isa, kind, x, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), out, cip)
        ref = pool("ref", kind, x, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), out, cip)
        np.testing.assert_array_equal(got, ref)
    for kind in ("max", "avg"):
        np.testing.assert_array_equal(K.global_pool_nhwc(isa, kind, x.reshape(2, 72, 33)),
                                      K.global_pool_nhwc("ref", kind, x.reshape(2, 72, 33)))


@pytest.mark.parametrize("C,xs,ys", [(1, 4, 3), (7, 16, 9), (17, 40, 33), (33, 48, 64), (144, 200, 160)])
def test_strided_tensors(isa, C, xs, ys):
    """x and y as channel slices of wider tensors: only channels [0, C) are
    read and written (the hook fills y with NaN first)."""
    rng = np.random.default_rng(C)
    x = rng.standard_normal((3, 9, 10, xs)).astype(np.float32)
    x[..., C:] = np.nan
    for kind, cip in KINDS:
        for k, s, p in [(3, 2, 1), (2, 2, 0), (3, 1, 1)]:
            out = geometry(9, 10, (k, k), (s, s), (p,) * 4, (1, 1), True)
            got = pool(isa, kind, x, (k, k), (s, s), (p,) * 4, (1, 1), out, cip, threads=2, channels=C, y_stride=ys)
            assert got.shape == (3,) + out + (ys,)
            ref = pool("ref", kind, np.ascontiguousarray(x[..., :C]), (k, k), (s, s), (p,) * 4, (1, 1), out, cip)
            np.testing.assert_array_equal(got[..., :C], ref)
            assert np.isnan(got[..., C:]).all(), "wrote past the C channels of a pixel"


# The networks' pooling layers (C, H, W, k, s, pad, ceil): resnet's 3x3/2 at
# 112, googlenet's ceil_mode 3x3/2 and 3x3/1 pad 1, squeezenet's 3x3/2 ceil, vgg's 2x2/2.
NETWORK = [
    (64, 112, 112, 3, 2, 1, False), (192, 56, 56, 3, 2, 0, True), (256, 28, 28, 3, 1, 1, True),
    (832, 7, 7, 3, 1, 1, True), (96, 109, 109, 3, 2, 0, True), (512, 14, 14, 2, 2, 0, False),
]


@pytest.mark.parametrize("layer", NETWORK, ids=[f"{c}x{h}x{w}k{k}s{s}" for c, h, w, k, s, _, _ in NETWORK])
def test_network_layers_threads(isa, layer):
    C, H, W, k, s, p, ceil = layer
    x = np.random.default_rng(C).standard_normal((1, H, W, C)).astype(np.float32)
    out = geometry(H, W, (k, k), (s, s), (p,) * 4, (1, 1), ceil)
    for kind, cip in KINDS:
        args = (kind, x, (k, k), (s, s), (p,) * 4, (1, 1), out, cip)
        y1 = pool(isa, *args, threads=1)
        np.testing.assert_array_equal(y1, pool(isa, *args, threads=2))
        np.testing.assert_array_equal(y1, pool("ref", *args))


# With more threads than images, the pixels are split into one contiguous
# share per thread (partial sums combined after): an average then adds in
# another order than one thread does, so it matches within the tolerance;
# max is exact either way, and repeated runs are bit-identical.
@pytest.mark.parametrize("C", [1, 3, 15, 16, 17, 33, 144, 1000, 2048])
@pytest.mark.parametrize("HW", [1, 49, 50, 12544])
def test_global(isa, C, HW):
    rng = np.random.default_rng(C * HW)
    for N in (1, 3):
        if HW * C * N > 4_000_000:
            continue
        x = rng.standard_normal((N, HW, C)).astype(np.float32)
        for kind in ("max", "avg"):
            got = K.global_pool_nhwc(isa, kind, x, 2)
            np.testing.assert_array_equal(got, K.global_pool_nhwc(isa, kind, x, 2))
            one = K.global_pool_nhwc(isa, kind, x, 1)
            np.testing.assert_array_equal(one, K.global_pool_nhwc("ref", kind, x, 1))
            if kind == "max":
                np.testing.assert_array_equal(got, one)
            else:
                assert_close(got, one)
            want = x.max(axis=1) if kind == "max" else x.astype(np.float64).mean(axis=1).astype(np.float32)
            if kind == "max":
                np.testing.assert_array_equal(got, want)
            else:
                assert_close(got, want)


def test_bad_input():
    x = np.zeros((1, 5, 5, 8), np.float32)
    with pytest.raises(cnnrt.InputError, match="y_stride"):
        pool("ref", "max", x, (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), (2, 2), y_stride=4)
    with pytest.raises(cnnrt.InputError, match="channels"):
        pool("ref", "max", x, (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), (2, 2), channels=9)
    with pytest.raises(cnnrt.InputError, match="global_pool_nhwc"):
        K.global_pool_nhwc("ref", "max", x)


@pytest.mark.slow
@pytest.mark.parametrize("C", CHANNELS)
def test_full_product(isa, C):
    rng = np.random.default_rng(C + 1000)
    for H, W in SPATIAL:
        for k in (1, 2, 3, 5, 7):
            for s in (1, 2, 3):
                for pads in [(k // 2,) * 4, (0, k // 2, (k - 1) // 2, 0), (0, 0, 0, 0)]:
                    for d in (1, 2):
                        for ceil in (False, True):
                            OH, OW = geometry(H, W, (k, k), (s, s), pads, (d, d), ceil)
                            if OH < 1 or OW < 1:
                                continue
                            x = rng.standard_normal((1, H, W, C)).astype(np.float32)
                            for kind, cip in KINDS:
                                out = (OH, OW)
                                np.testing.assert_array_equal(
                                    pool(isa, kind, x, (k, k), (s, s), pads, (d, d), out, cip, threads=2),
                                    pool("ref", kind, x, (k, k), (s, s), pads, (d, d), out, cip))
