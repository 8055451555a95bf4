"""Activations (Relu, LeakyRelu, PRelu, Elu, Selu, Sigmoid, Tanh, HardSigmoid,
HardSwish, Clip in every opset form) and binary ops with numpy broadcasting
(Add, Sub, Mul, Div, Sum; float32 and int64) vs onnxruntime, every ISA path."""
import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import check_model, make_model

ACTS = [
    ("Relu", {}), ("LeakyRelu", {}), ("LeakyRelu", {"alpha": 0.3}), ("Elu", {}), ("Elu", {"alpha": 0.5}),
    ("Selu", {}), ("Selu", {"alpha": 1.5, "gamma": 2.0}), ("Sigmoid", {}), ("Tanh", {}), ("HardSigmoid", {}),
    ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}), ("HardSwish", {}),
]


@pytest.mark.parametrize("op,attrs", ACTS, ids=[f"{o}{a}" for o, a in ACTS])
@pytest.mark.parametrize("shape", [(1,), (3, 17), (2, 3, 5, 7)])
def test_activation(isa, op, attrs, shape):
    rng = np.random.default_rng(len(shape))
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    model = make_model([helper.make_node(op, ["x"], ["y"], name="act", **attrs)], {"x": x}, ["y"], opset=14 if op != "HardSwish" else 14)
    check_model(model, {"x": x}, isa=isa)


@pytest.mark.parametrize("form", ["attr6", "inputs11", "min_only", "max_only", "none", "runtime"])
def test_clip_forms(isa, form):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 11)) * 3).astype(np.float32)
    inputs, inits = {"x": x}, {}
    if form == "attr6":
        node, opset = helper.make_node("Clip", ["x"], ["y"], name="c", min=-1.0, max=0.5), 7
    elif form == "inputs11":
        node, opset = helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="c"), 13
        inits = {"lo": np.array(-1.0, np.float32), "hi": np.array(0.5, np.float32)}
    elif form == "min_only":
        node, opset = helper.make_node("Clip", ["x", "lo"], ["y"], name="c"), 13
        inits = {"lo": np.array(-0.2, np.float32)}
    elif form == "max_only":
        node, opset = helper.make_node("Clip", ["x", "", "hi"], ["y"], name="c"), 13
        inits = {"hi": np.array(0.2, np.float32)}
    elif form == "none":
        node, opset = helper.make_node("Clip", ["x"], ["y"], name="c"), 13
    else:
        node, opset = helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="c"), 13
        inputs = {"x": x, "lo": np.array(-0.7, np.float32), "hi": np.array(0.9, np.float32)}
    model = make_model([node], inputs, ["y"], inits, opset=opset)
    check_model(model, inputs, isa=isa)


PRELU_SLOPES = [(1,), (5, 1, 1), (1, 5, 1, 1), (7,), (5, 6, 7)]


@pytest.mark.parametrize("slope_shape", PRELU_SLOPES)
def test_prelu(isa, slope_shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 6, 7)).astype(np.float32)
    slope = rng.standard_normal(slope_shape).astype(np.float32)
    model = make_model([helper.make_node("PRelu", ["x", "s"], ["y"], name="p")], {"x": x}, ["y"], {"s": slope})
    check_model(model, {"x": x}, isa=isa)


BCAST = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 4), (1,)), ((3, 4), ()), ((2, 3, 4, 5), (3, 1, 1)),
         ((2, 3, 4, 5), (1, 3, 1, 1)), ((3, 1), (1, 4)), ((1,), (2, 3)), ((2, 1, 5), (3, 1)), ((5, 4, 1, 3), (4, 7, 1)),
         ((0, 3), (3,))]


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("sa,sb", BCAST, ids=[f"{a}-{b}" for a, b in BCAST])
def test_binary_broadcast(isa, op, sa, sb):
    rng = np.random.default_rng(len(sa) + 10 * len(sb))
    a = np.asarray(rng.standard_normal(sa), np.float32)
    b = np.asarray(rng.standard_normal(sb) + 3, np.float32)
    model = make_model([helper.make_node(op, ["a", "b"], ["y"], name="bin")], {"a": a, "b": b}, ["y"])
    check_model(model, {"a": a, "b": b}, isa=isa)
    model = make_model([helper.make_node(op, ["b", "a"], ["y"], name="bin")], {"a": a, "b": b}, ["y"])
    check_model(model, {"a": a, "b": b}, isa=isa)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_binary_int64(op):
    a = np.array([[6, -7, 8], [9, 10, -12]], np.int64)
    b = np.array([3, 2, 4], np.int64)
    model = make_model([helper.make_node(op, ["a", "b"], ["y"], name="bin")], {"a": a, "b": b}, ["y"])
    check_model(model, {"a": a, "b": b})


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_sum(isa, n):
    rng = np.random.default_rng(n)
    shapes = [(2, 3, 4), (3, 1), (4,), (1, 1, 1), (2, 1, 4)][:n]
    xs = {f"x{i}": rng.standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)}
    model = make_model([helper.make_node("Sum", list(xs), ["y"], name="sum")], xs, ["y"])
    check_model(model, xs, isa=isa)


def test_inplace_chain_does_not_clobber_shared_input(isa):
    """x feeds two element-wise chains; the in-place planner must not let the
    first chain overwrite x's buffer before the second reads it."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 8)).astype(np.float32)
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="r0"), helper.make_node("Sigmoid", ["a"], ["b"], name="s0"),
             helper.make_node("Tanh", ["a"], ["c"], name="t0"), helper.make_node("Add", ["b", "c"], ["d"], name="add"),
             helper.make_node("Mul", ["d", "a"], ["y"], name="mul")]
    model = make_model(nodes, {"x": x}, ["y", "a"])
    check_model(model, {"x": x}, isa=isa)


def test_broadcast_mismatch_is_an_error():
    a, b = np.zeros((3, 4), np.float32), np.zeros((3, 5), np.float32)
    node = helper.make_node("Add", ["a", "b"], ["y"], name="add_bad")
    model = make_model([node], {"a": a, "b": b}, [helper.make_tensor_value_info("y", 1, None)])
    with pytest.raises(cnnrt.ModelLoadError, match="add_bad.*cannot be broadcast"):
        cnnrt.load(model).run(None, {"a": a, "b": b})


# Large enough for several threads (>= 2^15 elements per thread): each thread
# takes a contiguous share of the outer rows or, with no outer rows, of the
# inner run. Shapes whose row count does not divide by the thread count, a
# scalar on either side, a per-channel scale in NHWC (the squeeze-excitation
# Mul) and in NCHW, and a broadcast along the outer dims of both inputs.
BIG_BCAST = [
    ((1, 97, 101, 32), (1, 1, 1, 32)),
    ((1, 32, 97, 101), (1, 32, 1, 1)),
    ((3, 1, 150, 151), (1, 5, 1, 151)),
    ((200001,), (1,)),
    ((1,), (7, 30011)),
    ((5, 70001), (5, 70001)),
]


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("sa,sb", BIG_BCAST, ids=[f"{a}x{b}" for a, b in BIG_BCAST])
def test_binary_threads(isa, op, sa, sb, threads):
    rng = np.random.default_rng(len(sa) + len(sb))
    a = rng.standard_normal(sa).astype(np.float32)
    b = (rng.standard_normal(sb) + (3 if op == "Div" else 0)).astype(np.float32)
    model = make_model([helper.make_node(op, ["a", "b"], ["y"], name="bin")], {"a": a, "b": b}, ["y"], opset=14)
    check_model(model, {"a": a, "b": b}, isa=isa, threads=threads)
