"""ConvTranspose vs onnxruntime over a seeded sample of the attribute sweep
(kernel 1..5, stride 1..3, dilation 1..2, each pad side, output_padding,
groups incl. depthwise, odd channels and spatial sizes, batch 1 and 3, 1-D),
auto_pad / output_shape forms, runtime weights, opsets 7 and 11+, every ISA
path; the full product runs under -m slow.

Oracle: onnxruntime. Where onnxruntime departs from the ONNX specification
-- SAME_* with a kernel extent below the stride (it does not give in*stride
outputs), output_shape below the natural size with SAME_UPPER (a negative
total pad split the other way), output_padding >= stride below the dilation
(it refuses) -- the ONNX reference implementation (onnx.reference) is the
oracle instead: `check` accepts the reference only where onnxruntime also
disagrees with it (or refuses the model), so the switch is never silent.
"""
import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import cnnrt
from helpers import assert_close, check_model_or_reference, make_model, run_cnnrt, run_ort

pytestmark = pytest.mark.usefixtures("layout")


def ct_model(x_shape, w_shape, attrs, bias=True, w_const=True, opset=17, seed=0):
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal(w_shape) / np.sqrt(w_shape[0])).astype(np.float32)
    ins = ["x", "w"] + (["b"] if bias else [])
    inputs = {"x": np.zeros(x_shape, np.float32)}
    inits = {}
    if w_const:
        inits["w"] = w
    else:
        inputs["w"] = w
    if bias:
        inits["b"] = rng.standard_normal(w_shape[1] * attrs.get("group", 1)).astype(np.float32)
    node = helper.make_node("ConvTranspose", ins, ["y"], name="deconv0", **attrs)
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    m = make_model([node], inputs, [out], inits, opset=opset)
    feeds = {"x": rng.standard_normal(x_shape).astype(np.float32)}
    if not w_const:
        feeds["w"] = w
    return m, feeds


def check(model, feeds, isa, threads=1):
    return check_model_or_reference(model, feeds, isa=isa, threads=threads)


def run_case(isa, n, c, hw, ocg, k, s, d, group, pads=None, out_pad=None, nd=2, bias=True, threads=1, **extra):
    x_shape = [n, c] + ([hw] * nd if isinstance(hw, int) else list(hw))
    attrs = dict(strides=[s] * nd, dilations=[d] * nd, group=group, kernel_shape=[k] * nd, **extra)
    if pads is not None:
        attrs["pads"] = pads
    if out_pad is not None:
        attrs["output_padding"] = out_pad
    m, feeds = ct_model(x_shape, [c, ocg] + [k] * nd, attrs, bias=bias)
    check(m, feeds, isa, threads)


KERNELS = [1, 2, 3, 4, 5]
STRIDES = [1, 2, 3]
DILATIONS = [1, 2]
GROUPS = ["1", "2", "dw"]
CHANNELS = [3, 17]
BATCH = [1, 3]
FULL = list(itertools.product(KERNELS, STRIDES, DILATIONS, GROUPS, CHANNELS, BATCH))
SAMPLE = [FULL[i] for i in np.random.default_rng(0).choice(len(FULL), 30, replace=False)]
# Edge rows always in the sample: 1x1, kernel == stride (U-Net 2x2/2), depthwise stride 2.
SAMPLE += [(1, 1, 1, "1", 17, 1), (2, 2, 1, "1", 17, 1), (4, 2, 1, "dw", 17, 3), (3, 3, 2, "2", 3, 3)]


def _sweep(isa, k, s, d, g, c, n):
    if g == "2" and c % 2:
        c += 1
    group = {"1": 1, "2": 2, "dw": c}[g]
    ocg = 1 if g == "dw" else 5
    pad = ((k - 1) * d) // 2
    op = s - 1 if s > 1 else 0
    run_case(isa, n, c, (7, 5), ocg, k, s, d, group, pads=[pad, 0, 0, pad], out_pad=[op, 0])


@pytest.mark.parametrize("k,s,d,g,c,n", SAMPLE)
def test_convtranspose_sweep_sample(isa, k, s, d, g, c, n):
    _sweep(isa, k, s, d, g, c, n)


@pytest.mark.slow
@pytest.mark.parametrize("k,s,d,g,c,n", FULL)
def test_convtranspose_sweep_full(isa, k, s, d, g, c, n):
    _sweep(isa, k, s, d, g, c, n)


@pytest.mark.parametrize("pads", [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [2, 1, 0, 2]])
def test_convtranspose_each_pad_side(isa, pads):
    run_case(isa, 2, 5, 6, 3, 3, 2, 1, 1, pads=pads)


@pytest.mark.parametrize("out_pad", [[1, 0], [0, 1], [1, 2]])
def test_convtranspose_output_padding(isa, out_pad):
    run_case(isa, 1, 4, 5, 3, 3, 3, 1, 1, pads=[1, 1, 1, 1], out_pad=out_pad)


def test_convtranspose_output_padding_below_dilation(isa):
    # output_padding may reach max(stride, dilation) - 1 (PyTorch's rule); onnxruntime
    # refuses it and onnx.reference fails on it: the direct definition is the oracle.
    m, feeds = ct_model([1, 4, 5, 5], [4, 3, 3, 3], dict(dilations=[2, 2], output_padding=[1, 1], pads=[1, 0, 0, 1]))
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    want = np_conv_transpose(feeds["x"], inits["w"], inits["b"], (1, 1), (2, 2), (1, 0), (9, 9))
    assert_close(run_cnnrt(m, feeds, isa=isa)[0], want)
    # The same oracle agrees with onnxruntime on a case both compute.
    m2, f2 = ct_model([1, 4, 5, 5], [4, 3, 3, 3], dict(strides=[2, 2], dilations=[2, 2], output_padding=[1, 1], pads=[1, 0, 0, 1]))
    i2 = {t.name: onnx.numpy_helper.to_array(t) for t in m2.graph.initializer}
    assert_close(np_conv_transpose(f2["x"], i2["w"], i2["b"], (2, 2), (2, 2), (1, 0), (13, 13)), run_ort(m2, f2)[0])


@pytest.mark.parametrize("c,ocg,group", [(1, 1, 1), (7, 9, 1), (8, 16, 1), (16, 8, 1), (33, 3, 1), (24, 1, 24), (12, 2, 4)])
def test_convtranspose_channels(isa, c, ocg, group):
    run_case(isa, 1, c, (9, 7), ocg, 3, 2, 1, group, pads=[1, 1, 1, 1], out_pad=[1, 1])


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET"])
@pytest.mark.parametrize("k,s", [(3, 1), (3, 2), (4, 2), (2, 2), (5, 3)])
def test_convtranspose_auto_pad(isa, auto_pad, k, s):
    m, feeds = ct_model([2, 3, 5, 6], [3, 4, k, k], dict(strides=[s, s], auto_pad=auto_pad))
    check(m, feeds, isa)


def test_convtranspose_same_kernel_below_stride(isa):
    m, feeds = ct_model([1, 3, 5, 6], [3, 4, 1, 1], dict(strides=[2, 2], auto_pad="SAME_LOWER"))
    assert check(m, feeds, isa) == "reference"
    assert run_cnnrt(m, feeds, isa=isa)[0].shape == (1, 4, 10, 12)  # in * stride, as the spec says


@pytest.mark.parametrize("oshape,auto_pad", [([11, 13], None), ([12, 12], None), ([10, 14], "SAME_LOWER"),
                                            ([12, 14], "SAME_UPPER"), ([11, 13], "SAME_UPPER")])
def test_convtranspose_output_shape(isa, oshape, auto_pad):
    attrs = dict(strides=[2, 2], output_shape=oshape)
    if auto_pad:
        attrs["auto_pad"] = auto_pad
    m, feeds = ct_model([1, 3, 5, 6], [3, 2, 3, 3], attrs)
    check(m, feeds, isa)
    assert run_cnnrt(m, feeds, isa=isa)[0].shape == (1, 2, *oshape)


def np_conv_transpose(x, w, b, strides, dilations, pads_begin, out_hw):
    """Direct scatter form of the definition (group 1, 2-D): the oracle where
    neither onnxruntime nor onnx.reference computes the case."""
    n, c, h, wd = x.shape
    _, oc, kh, kw = w.shape
    y = np.zeros((n, oc, *out_hw), np.float64) + b.reshape(1, oc, 1, 1)
    for ih, iw, i, j in itertools.product(range(h), range(wd), range(kh), range(kw)):
        oh = ih * strides[0] - pads_begin[0] + i * dilations[0]
        ow = iw * strides[1] - pads_begin[1] + j * dilations[1]
        if 0 <= oh < out_hw[0] and 0 <= ow < out_hw[1]:
            y[:, :, oh, ow] += np.einsum("nc,co->no", x[:, :, ih, iw], w[:, :, i, j])
    return y.astype(np.float32)


@pytest.mark.parametrize("s,d,pads,out_pad,group", [(1, 1, [0, 0], [0], 1), (2, 1, [1, 2], [1], 1), (3, 2, [0, 1], [2], 3),
                                                    (2, 1, [0, 0], [0], 6)])
def test_convtranspose_1d(isa, s, d, pads, out_pad, group):
    run_case(isa, 3, 6, 11, 2 if group < 6 else 1, 3, s, d, group, pads=pads, out_pad=out_pad, nd=1)


@pytest.mark.parametrize("bias", [True, False])
def test_convtranspose_runtime_weight(isa, bias):
    m, feeds = ct_model([2, 4, 5, 5], [4, 3, 3, 3], dict(strides=[2, 2], pads=[1, 0, 1, 0], group=2), bias=bias, w_const=False)
    check(m, feeds, isa)


@pytest.mark.parametrize("opset", [7, 9, 11, 13, 17, 22])
def test_convtranspose_opsets(isa, opset):
    m, feeds = ct_model([1, 3, 6, 6], [3, 4, 3, 3], dict(strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]), opset=opset)
    check(m, feeds, isa)


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_convtranspose_threads_large(isa, threads):
    # A U-Net decoder step: 2x2 stride 2, 64 -> 32 channels, 24 x 24 -> 48 x 48.
    run_case(isa, 1, 64, 24, 32, 2, 2, 1, 1, threads=threads)
    run_case(isa, 1, 32, 16, 16, 3, 2, 1, 1, pads=[1, 1, 1, 1], out_pad=[1, 1], threads=threads)


@pytest.mark.parametrize("s,d,pads", [(1, 1, [2, 2, 2, 2]), (2, 2, [3, 1, 0, 4]), (3, 1, [0, 0, 0, 0])])
def test_convtranspose_row_bands(isa, s, d, pads):
    # M = OCg*KH*KW = 64*25 = 1600 and W = 30: col is computed 2 input rows at a
    # time (~512 KiB bands), 5 bands over H = 9, the last one partial.
    run_case(isa, 2, 8, (9, 30), 64, 5, s, d, 1, pads=pads, out_pad=[s - 1, 0])


def test_convtranspose_constant_input_folded(isa):
    """All inputs constant: the compiler folds the node with the runtime's own op
    (plan-time evaluation, which gives the op its workspace too)."""
    rng = np.random.default_rng(5)
    xc = rng.standard_normal((1, 3, 4, 5)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    x = rng.standard_normal((1, 2, 9, 11)).astype(np.float32)
    nodes = [helper.make_node("ConvTranspose", ["xc", "w"], ["t"], strides=[2, 2]), helper.make_node("Add", ["x", "t"], ["y"])]
    m = make_model(nodes, {"x": x}, ["y"], {"xc": xc, "w": w})
    assert cnnrt.load(m).node_count == 1  # only the Add is left
    check(m, {"x": x}, isa)


def test_convtranspose_in_conv_chain(isa):
    """Conv -> ConvTranspose -> Relu -> Conv: the layout pass puts Transposes around it when convs run NHWC."""
    rng = np.random.default_rng(3)
    w1 = (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32)
    wt = (rng.standard_normal((8, 6, 2, 2)) * 0.3).astype(np.float32)
    bt = rng.standard_normal(6).astype(np.float32)
    w2 = (rng.standard_normal((4, 6, 3, 3)) * 0.3).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("ConvTranspose", ["a", "wt", "bt"], ["b"], strides=[2, 2]),
             helper.make_node("Relu", ["b"], ["c"]),
             helper.make_node("Conv", ["c", "w2"], ["y"], pads=[1, 1, 1, 1])]
    x = rng.standard_normal((2, 3, 9, 7)).astype(np.float32)
    m = make_model(nodes, {"x": x}, ["y"], {"w1": w1, "wt": wt, "bt": bt, "w2": w2})
    check(m, {"x": x}, isa)


# ---- bad inputs: errors name the node


def _load_error(attrs, w_shape=(3, 2, 3, 3), x_shape=(1, 3, 5, 5), exc=cnnrt.ModelLoadError, words=()):
    m, feeds = ct_model(list(x_shape), list(w_shape), attrs, bias=False)
    with pytest.raises(exc) as e:
        cnnrt.load(m).run(None, feeds)
    msg = str(e.value)
    assert "deconv0" in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_convtranspose_bad_output_padding():
    _load_error(dict(strides=[2, 2], output_padding=[2, 0]), words=["output_padding"])
    _load_error(dict(output_padding=[1, 1]), words=["output_padding"])  # stride 1, dilation 1
    _load_error(dict(strides=[2, 2], output_padding=[-1, 0]), words=["output_padding"])


def test_convtranspose_bad_kernel():
    # kernel_shape disagreeing with the weight
    _load_error(dict(kernel_shape=[5, 5]), words=["kernel_shape"])
    # a kernel larger than the padded output allows: output size <= 0
    _load_error(dict(pads=[4, 4, 4, 4]), x_shape=(1, 3, 1, 1), words=["would be"])


def test_convtranspose_bad_attrs():
    _load_error(dict(strides=[0, 1]), words=["strides"])
    _load_error(dict(dilations=[1]), words=["dilations"])
    _load_error(dict(pads=[1, 1, 1]), words=["pads"])
    _load_error(dict(pads=[-1, 0, 0, 0]), words=["pads"])
    _load_error(dict(auto_pad="SAME"), words=["auto_pad"])
    _load_error(dict(group=2), words=["group"])  # 3 input channels
    _load_error(dict(output_shape=[4]), words=["output_shape"])
    _load_error(dict(output_shape=[1, 2, 12, 14]), words=["output_shape"])  # spatial dims only
    _load_error(dict(), x_shape=(1, 4, 5, 5), words=["channels"])


def test_convtranspose_3d_unsupported():
    _load_error(dict(), w_shape=(3, 2, 3, 3, 3), x_shape=(1, 3, 4, 4, 4), exc=cnnrt.UnsupportedOpError, words=["3-D"])
