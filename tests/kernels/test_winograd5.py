"""Winograd F(2x2, 5x5) over NHWC (kernel table conv_winograd5) on every ISA
path (ref included: the scalar oracle of the transforms) against a direct
5x5 convolution in float64.

Declared error bound, as for F(m, 3) (test_winograd.py's docstring): with
    E[n, oh, ow, oc] = sum over the receptive field of |x[c]| * max_taps |w[oc, c]|
and Et = the largest E among the 2 x 2 outputs of the tile holding (oh, ow)
(tiles start at output (0, 0)):

    |y - y_exact| <= TOL5 * Et     for every output, any input values,

TOL5 = 1e-5. The six points are F(4, 3)'s, so B^T is the same (factors up to
5), A^T's up to 2 and G's up to 2/3; the worst measured err / Et over
C in 1..512, the pads below and N(0,1), uniform, 80%-sparse and
pixel-scale-varying (e^+-3) inputs was 3.7e-6 on the ref path (plain matrix
loops) and 1.8e-6 on AVX2 (Zen 3).
"""
import numpy as np
import pytest
from onnx import helper

import cnnrt
from cnnrt import _core
from helpers import check_model, make_model

from test_winograd import TOL, direct  # the F(m, 3) tests' helpers, k from the weight
from test_winograd import check_bound as _check_bound
from test_winograd import data as _data

K = _core.kernels
TOL5 = TOL[2]
M = 2


def data(rng, N, H, W, C, OC):
    return _data(rng, N, H, W, C, OC, k=5)


def check_bound(got, want, e, what, slack=1.0, extra=0.0):
    _check_bound(got, want, e, M, what, slack, extra)


PADS = [(0, 0, 0, 0), (2, 2, 2, 2), (0, 1, 2, 0), (2, 0, 1, 2), (1, 3, 0, 1)]


@pytest.mark.parametrize("pads", PADS, ids=[str(p) for p in PADS])
def test_tile_edges(isa, pads):
    rng = np.random.default_rng(sum(pads) + 5)
    for H in range(1, 12):
        for W in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)[H % 3::3] + (H,):
            if H + pads[0] + pads[2] < 5 or W + pads[1] + pads[3] < 5:
                continue
            x, w = data(rng, 1, H, W, 5, 7)
            want, e = direct(x, w, pads)
            got = K.conv_nhwc(isa, "winograd", x, w, pads=list(pads))
            assert got.shape == want.shape
            check_bound(got, want, e, f"H={H} W={W}")


CH = [1, 3, 15, 16, 17, 33, 64]


@pytest.mark.parametrize("C", CH)
def test_channels(isa, C):
    rng = np.random.default_rng(C)
    for OC in CH:
        x, w = data(rng, 1, 9, 8, C, OC)
        want, e = direct(x, w, (2, 2, 2, 2))
        got = K.conv_nhwc(isa, "winograd", x, w, pads=[2, 2, 2, 2])
        check_bound(got, want, e, f"C={C} OC={OC}")


@pytest.mark.parametrize("act,kind,a,b", [("none", 0, 0, 0), ("relu", 1, 0, 0), ("clip", 3, -0.5, 0.7),
                                          ("sigmoid", 4, 0, 0)])
def test_epilogue(isa, act, kind, a, b):
    rng = np.random.default_rng(kind)
    x, w = data(rng, 3, 10, 7, 19, 37)
    conv, e = direct(x, w, (2, 2, 2, 2))
    bias = rng.standard_normal(37).astype(np.float32)
    res = rng.standard_normal(conv.shape).astype(np.float32)
    f = {"none": lambda v: v, "relu": lambda v: np.maximum(v, 0), "clip": lambda v: np.clip(v, a, b),
         "sigmoid": lambda v: 1 / (1 + np.exp(-v))}[act]
    for with_bias, with_res in [(True, False), (False, True), (True, True)]:
        want = f(conv + (bias if with_bias else 0) + (res if with_res else 0))
        got = K.conv_nhwc(isa, "winograd", x, w, bias=bias if with_bias else None,
                          residual=res if with_res else None, pads=[2, 2, 2, 2], act=kind, p0=a, p1=b)
        check_bound(got, want, e, f"{act} bias={with_bias} res={with_res}", slack=2.0, extra=1e-6 * (1 + np.abs(want)))


def test_channel_slices(isa):
    rng = np.random.default_rng(3)
    C, OC = 19, 40
    x, w = data(rng, 2, 9, 10, C, OC)
    xw = rng.standard_normal((2, 9, 10, C + 7)).astype(np.float32)
    xw[..., 2:2 + C] = x
    want, e = direct(x, w, (2, 1, 2, 3))
    bias = rng.standard_normal(OC).astype(np.float32)
    resw = rng.standard_normal(want.shape[:3] + (OC + 4,)).astype(np.float32)
    got = K.conv_nhwc(isa, "winograd", xw, w, bias=bias, residual=resw, pads=[2, 1, 2, 3], act=1,
                      x_off=2, y_stride=OC + 5, y_off=3)
    assert np.isnan(got[..., :3]).all() and np.isnan(got[..., 3 + OC:]).all()
    check_bound(got[..., 3:3 + OC], np.maximum(want + bias + resw[..., :OC], 0), e, "slice", extra=1e-6)


@pytest.mark.parametrize("N", [1, 3])
@pytest.mark.parametrize("shape", [(27, 27, 64, 48), (7, 7, 32, 96), (30, 17, 20, 33)])
def test_threads_and_batch(isa, N, shape):
    H, W, C, OC = shape
    rng = np.random.default_rng(N * H)
    x, w = data(rng, N, H, W, C, OC)
    want, e = direct(x, w, (2, 2, 2, 2))
    one = K.conv_nhwc(isa, "winograd", x, w, pads=[2, 2, 2, 2], threads=1)
    two = K.conv_nhwc(isa, "winograd", x, w, pads=[2, 2, 2, 2], threads=2)
    check_bound(one, want, e, "threads=1")
    np.testing.assert_array_equal(two, one)


def test_error_bound_large_c(isa):
    rng = np.random.default_rng(11)
    x, w = data(rng, 1, 13, 13, 512, 40)
    want, e = direct(x, w, (2, 2, 2, 2))
    got = K.conv_nhwc(isa, "winograd", x, w, pads=[2, 2, 2, 2], threads=2)
    check_bound(got, want, e, "N(0,1), C=512")
    assert np.abs(got - want).max() / np.abs(want).max() < 5e-5
    for xs in [x * np.exp(rng.uniform(-3, 3, (1, 13, 13, 1))), np.abs(x), x * (rng.random(x.shape) < 0.2)]:
        xs = xs.astype(np.float32)
        want, e = direct(xs, w, (2, 2, 2, 2))
        got = K.conv_nhwc(isa, "winograd", xs, w, pads=[2, 2, 2, 2])
        check_bound(got, want, e, "C=512, scaled / positive / sparse")


def test_simd_agrees_with_ref(isa):
    rng = np.random.default_rng(7)
    x, w = data(rng, 2, 23, 18, 40, 72)
    _, e = direct(x, w, (2, 2, 2, 2))
    got = K.conv_nhwc(isa, "winograd", x, w, pads=[2, 2, 2, 2], threads=2)
    ref = K.conv_nhwc("ref", "winograd", x, w, pads=[2, 2, 2, 2])
    check_bound(got, ref.astype(np.float64), e, "vs ref", slack=2.0)


def test_bad_kernel_rejected(isa):
    x = np.ones((1, 8, 8, 4), np.float32)
    for kw in [dict(strides=[2, 2]), dict(dilations=[2, 2])]:
        with pytest.raises(Exception, match="3x3 or 5x5, stride 1, dilation 1"):
            K.conv_nhwc(isa, "winograd", x, np.ones((4, 4, 5, 5), np.float32), pads=[2, 2, 2, 2], **kw)
    with pytest.raises(Exception, match="3x3 or 5x5"):
        K.conv_nhwc(isa, "winograd", x, np.ones((4, 4, 7, 7), np.float32), pads=[3, 3, 3, 3])


# Measured on Zen 3 (AVX2), kernel alone, 1 thread, Winograd / direct:
# 64x27x27->192 (AlexNet conv2) 2.19 / 4.69 ms, 16x14x14->32 0.046 / 0.076,
# 128x14x14->128 1.03 / 2.06, 256x7x7->256 1.85 / 2.06, 512x14x14->512
# 17.2 / 28.2; 2 threads 1.54 / 2.76 (AlexNet's), 0.79 / 0.92 (7x7 256).
@pytest.mark.parametrize("C,OC,OH,OW,want", [
    (64, 192, 27, 27, True), (16, 32, 14, 14, True), (256, 256, 7, 7, True), (512, 512, 14, 14, True),
    (3, 64, 112, 112, False), (64, 8, 28, 28, False), (64, 64, 6, 6, False), (64, 64, 0, 0, False),
])
def test_selection_rule(isa, C, OC, OH, OW, want):
    got = K.winograd5_worth_it(isa, C, OC, OH, OW)
    assert got == (want and isa != "ref")


@pytest.mark.parametrize("pads,group", [([2, 2, 2, 2], 1), ([0, 1, 2, 1], 1), ([2, 2, 2, 2], 2)])
def test_conv_op_takes_it(isa, pads, group):
    """A 5x5 Conv (AlexNet's conv2 shape, smaller) against onnxruntime; the
    SIMD paths choose F(2x2, 5x5), a grouped one stays on the GEMM path."""
    rng = np.random.default_rng(len(pads) + group)
    x = rng.standard_normal((1, 32, 15, 13)).astype(np.float32)
    w = (rng.standard_normal((48, 32 // group, 5, 5)) * 0.05).astype(np.float32)
    b = rng.standard_normal(48).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=pads, group=group, name="conv5"),
             helper.make_node("Relu", ["c"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], {"w": w, "b": b})
    sess = cnnrt.load(model, isa=isa)
    kind = [k[2] for k in sess._core.kernels() if k[0] == "conv5"][0]
    assert ("winograd_f2x2_5x5" in kind) == (isa != "ref" and group == 1), kind
    check_model(model, {"x": x}, isa=isa, threads=2)
