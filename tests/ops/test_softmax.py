"""Softmax and LogSoftmax vs onnxruntime: every axis (positive and negative)
of ranks 1-5 in the legacy form (opset < 13: coerced to 2-D at axis) and the
per-axis form (opset >= 13), default axes, large and -inf inputs, sizes past
one vector block, threads, in-place chains, on every ISA path; errors."""
import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import check_model, make_model

OPS = ["Softmax", "LogSoftmax"]
SHAPES = [[7], [3, 17], [2, 5, 3], [3, 4, 5, 7], [2, 3, 1, 4, 5]]


def sm_model(op, shape, opset, axis=None, pre=None):
    attrs = {} if axis is None else {"axis": axis}
    nodes = []
    src = "x"
    if pre:
        nodes.append(helper.make_node(pre, ["x"], ["t"], name="pre"))
        src = "t"
    nodes.append(helper.make_node(op, [src], ["y"], name="sm0", **attrs))
    return make_model(nodes, {"x": np.zeros(shape, np.float32)}, ["y"], opset=opset)


def feed(shape, seed=0, scale=3.0, shift=0.0):
    return {"x": (scale * np.random.default_rng(seed).standard_normal(shape) + shift).astype(np.float32)}


CASES = [(shape, axis) for shape in SHAPES for axis in range(-len(shape), len(shape))]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("shape,axis", CASES)
def test_softmax_axes(isa, op, opset, shape, axis):
    check_model(sm_model(op, shape, opset, axis), feed(shape, seed=len(shape) + axis), isa=isa)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("opset", [7, 11, 13, 17])
@pytest.mark.parametrize("shape", [[3, 17], [2, 3, 4, 5]])
def test_softmax_default_axis(isa, op, opset, shape):
    """axis absent: 1 before opset 13 (coerced to 2-D), -1 from 13."""
    check_model(sm_model(op, shape, opset), feed(shape), isa=isa)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("opset", [11, 13])
def test_softmax_large_and_infinite_inputs(isa, op, opset):
    """Subtracting the maximum keeps exp finite; -inf entries give 0 / -inf."""
    shape = [3, 6, 5]
    x = feed(shape, scale=40.0, shift=500.0)
    check_model(sm_model(op, shape, opset, 1), x, isa=isa)
    x["x"][:, 2, :] = -np.inf
    x["x"][0, :, 1] = -1e30
    check_model(sm_model(op, shape, opset, 1), x, isa=isa)
    check_model(sm_model(op, shape, opset, -1), x, isa=isa)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("opset,axis,shape", [(13, -1, [3, 40]), (13, 1, [2, 5, 70]), (11, 1, [2, 5, 7])])
def test_softmax_nan_and_inf_inputs(isa, op, opset, axis, shape):
    """A NaN or +inf in a slice makes that slice NaN, as in onnxruntime; others are untouched."""
    x = feed(shape)
    x["x"].reshape(-1)[[3, 17]] = np.nan
    x["x"].reshape(-1)[25] = np.inf
    check_model(sm_model(op, shape, opset, axis), x, isa=isa)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("x0", [0.0, -50.0, -87.5, -88.0, -100.0, -1e30])
def test_softmax_exp_range(isa, op, x0):
    """Arguments of exp near and beyond float's underflow (about -87.3)."""
    x = {"x": (x0 * np.linspace(0, 1, 64, dtype=np.float32)[None, :] + np.zeros((3, 1), np.float32)).astype(np.float32)}
    check_model(sm_model(op, [3, 64], 13, -1), x, isa=isa)
    check_model(sm_model(op, [3, 64], 13, 0), x, isa=isa)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("shape,axis,opset", [
    ([4, 1000], 1, 13),          # long rows
    ([1, 3, 1000], 1, 11),       # legacy: one row of 3000
    ([2, 10, 13, 11], 1, 13),    # channel softmax, inner 143 = 2 blocks + tail
    ([3, 5, 200], 1, 13),
    ([257, 3], 0, 13),           # reduce over the outer-most dim
])
def test_softmax_threads_and_blocks(isa, op, threads, shape, axis, opset):
    check_model(sm_model(op, shape, opset, axis), feed(shape), isa=isa, threads=threads)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("opset", [11, 13])
def test_softmax_in_place_after_relu(isa, op, opset):
    """The producer's buffer is dead after the softmax reads it: run in place."""
    shape = [3, 7, 9]
    check_model(sm_model(op, shape, opset, 1, pre="Relu"), feed(shape), isa=isa)


@pytest.mark.parametrize("op", OPS)
def test_softmax_size_one_axis_and_empty(isa, op):
    check_model(sm_model(op, [4, 1, 3], 13, 1), feed([4, 1, 3]), isa=isa)
    m = sm_model(op, [0, 5], 13, 1)
    got = cnnrt.load(m, isa=isa).run(None, {"x": np.zeros([0, 5], np.float32)})[0]
    assert got.shape == (0, 5)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("opset,axis", [(11, 3), (13, -4), (13, 3)])
def test_softmax_axis_out_of_range_is_an_error(op, opset, axis):
    m = sm_model(op, [2, 3, 4], opset, axis)
    with pytest.raises(cnnrt.ModelLoadError, match="sm0.*axis"):
        cnnrt.load(m).run(None, feed([2, 3, 4]))


def test_softmax_int64_input_is_an_error():
    node = helper.make_node("Softmax", ["x"], ["y"], name="sm0", axis=-1)
    m = make_model([node], {"x": np.zeros([2, 3], np.int64)}, ["y"], opset=13)
    with pytest.raises(cnnrt.ModelLoadError, match="sm0.*int64"):
        cnnrt.load(m).run(None, {"x": np.zeros([2, 3], np.int64)})
