"""Conv vs onnxruntime over a seeded sample of the attribute sweep (kernel,
stride, dilation, pads, auto_pad, groups, depthwise, 1-D), every ISA path;
the full product runs under -m slow."""
import itertools

import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import check_model, make_model

# Every test in both internal layouts (conftest.py).
pytestmark = pytest.mark.usefixtures("layout")


def conv_model(x_shape, w_shape, bias, attrs, opset=17, w_const=True):
    rng = np.random.default_rng(abs(hash((tuple(x_shape), tuple(w_shape)))) % 2**32)
    w = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(np.float32)
    ins = ["x", "w"] + (["b"] if bias else [])
    inits = {}
    inputs = {"x": np.zeros(x_shape, np.float32)}
    if w_const:
        inits["w"] = w
    else:
        inputs["w"] = w
    if bias:
        inits["b"] = rng.standard_normal(w_shape[0]).astype(np.float32)
    node = helper.make_node("Conv", ins, ["y"], name="conv0", **attrs)
    return make_model([node], inputs, ["y"], inits, opset=opset), w


def run_case(isa, n, c, hw, oc, k, stride, dil, pads, group, auto_pad=None, bias=True, nd=2, threads=1, w_const=True):
    x_shape = [n, c] + [hw] * nd if isinstance(hw, int) else [n, c] + list(hw)
    w_shape = [oc, c // group] + [k] * nd
    attrs = dict(strides=[stride] * nd, dilations=[dil] * nd, group=group)
    if auto_pad:
        attrs["auto_pad"] = auto_pad
    else:
        attrs["pads"] = pads
    model, w = conv_model(x_shape, w_shape, bias, attrs, w_const=w_const)
    rng = np.random.default_rng(7)
    feeds = {"x": rng.standard_normal(x_shape).astype(np.float32)}
    if not w_const:
        feeds["w"] = w
    check_model(model, feeds, isa=isa, threads=threads)


KERNELS = [1, 3, 5, 7]
STRIDES = [1, 2]
DILATIONS = [1, 2]
GROUPS = ["1", "2", "dw"]
CHANNELS = [3, 17]
BATCH = [1, 3]
FULL = list(itertools.product(KERNELS, STRIDES, DILATIONS, GROUPS, CHANNELS, BATCH))
SAMPLE = [FULL[i] for i in np.random.default_rng(0).choice(len(FULL), 24, replace=False)]


def _run_sweep_case(isa, k, s, d, g, c, n):
    if g == "2" and c % 2:
        c += 1
    group = {"1": 1, "2": 2, "dw": c}[g]
    oc = c if g == "dw" else 2 * group + 5 * group
    pad = (k - 1) * d // 2
    hw = 13 if k * d < 13 else k * d + 2
    run_case(isa, n, c, hw, oc, k, s, d, [pad, pad, pad, pad], group)


@pytest.mark.parametrize("k,s,d,g,c,n", SAMPLE)
def test_conv_sweep_sample(isa, k, s, d, g, c, n):
    _run_sweep_case(isa, k, s, d, g, c, n)


@pytest.mark.slow
@pytest.mark.parametrize("k,s,d,g,c,n", FULL)
def test_conv_sweep_full(isa, k, s, d, g, c, n):
    _run_sweep_case(isa, k, s, d, g, c, n)


@pytest.mark.parametrize("pads", [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [2, 1, 0, 3]])
def test_conv_each_pad_side(isa, pads):
    run_case(isa, 1, 4, (9, 11), 6, 3, 1, 1, pads, 1)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv_auto_pad(isa, auto_pad, stride):
    run_case(isa, 2, 5, (10, 7), 8, 4, stride, 1, None, 1, auto_pad=auto_pad)


@pytest.mark.parametrize("k,s,d", [(1, 1, 1), (3, 1, 1), (3, 2, 1), (5, 1, 2), (11, 3, 1)])
def test_conv_1d(isa, k, s, d):
    run_case(isa, 3, 7, 50, 9, k, s, d, [k // 2, k // 2 + 1], 1, nd=1)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_conv_threads_and_big_channels(isa, threads):
    run_case(isa, 1, 64, 28, 96, 3, 1, 1, [1, 1, 1, 1], 1, threads=threads)
    run_case(isa, 2, 256, 7, 130, 1, 1, 1, [0, 0, 0, 0], 1, threads=threads)


def test_conv_runtime_weights(isa):
    """Weights fed at run time (not an initializer): no packing at load."""
    run_case(isa, 2, 6, 9, 4, 3, 1, 1, [1, 1, 1, 1], 2, w_const=False)
    run_case(isa, 1, 5, 9, 5, 3, 2, 1, [1, 1, 1, 1], 5, w_const=False)


def test_conv_no_bias_kernel_attr_absent(isa):
    run_case(isa, 1, 3, 8, 4, 2, 1, 1, [0, 0, 0, 0], 1, bias=False)


def test_conv_wrong_channels_is_an_error():
    model, _ = conv_model([1, 4, 8, 8], [6, 3, 3, 3], True, {})
    with pytest.raises(cnnrt.ModelLoadError, match="conv0"):  # static input shape: planned, so caught, at load
        cnnrt.load(model).run(None, {"x": np.zeros((1, 4, 8, 8), np.float32)})


def test_conv_kernel_larger_than_input_is_an_error():
    model, _ = conv_model([1, 3, 4, 4], [2, 3, 7, 7], False, {})
    with pytest.raises(cnnrt.ModelLoadError, match="conv0.*larger than the padded input"):
        cnnrt.load(model).run(None, {"x": np.zeros((1, 3, 4, 4), np.float32)})


def test_conv_bad_attributes_are_errors():
    for attrs, msg in [({"strides": [0, 1]}, "strides"), ({"dilations": [1, -1]}, "dilations"),
                       ({"pads": [1, 1]}, "pads"), ({"group": 2}, "divisible|channels"),
                       ({"auto_pad": "SAME"}, "auto_pad")]:
        model, _ = conv_model([1, 3, 8, 8], [3, 3, 3, 3], False, attrs)
        with pytest.raises(cnnrt.ModelLoadError, match=msg):
            cnnrt.load(model).run(None, {"x": np.zeros((1, 3, 8, 8), np.float32)})


def test_conv_3d_is_unsupported():
    model, _ = conv_model([1, 2, 4, 4, 4], [2, 2, 3, 3, 3], False, {})
    with pytest.raises(cnnrt.UnsupportedOpError, match="conv0"):
        cnnrt.load(model)


def test_conv_output_larger_than_one_packing_chunk(isa):
    """More output pixels than the GEMM packs at once (16 x 512 columns):
    the B operand is packed chunk by chunk, never as one whole im2col."""
    run_case(isa, 1, 3, (97, 103), 5, 3, 1, 1, [1, 1, 1, 1], 1, threads=2)
    run_case(isa, 1, 2, 120, 3, 1, 1, 1, [0, 0, 0, 0], 1)
