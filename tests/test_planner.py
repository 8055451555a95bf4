"""The memory planner: tensors whose lifetimes do not overlap share arena
bytes, element-wise ops run in place, views cost nothing."""
import numpy as np
from onnx import helper

import cnnrt
from helpers import check_model, make_model


def _arena(model, feeds):
    sess = cnnrt.load(model, threads=1)
    return sess._core.arena_bytes([feeds[i.name] for i in sess.inputs])


def test_chain_reuses_memory(layout):
    """Ten 3x3 convs in a row, each adding the input x back (fused into the
    conv as a residual): the arena holds about two activations, not ten
    (three in NHWC: x's channels-last copy, read by every conv, lives
    through the chain)."""
    rng = np.random.default_rng(0)
    nodes, inits = [], {}
    prev = "x"
    for i in range(10):
        inits[f"w{i}"] = (rng.standard_normal((8, 8, 3, 3)) * 0.2).astype(np.float32)
        nodes.append(helper.make_node("Conv", [prev, f"w{i}"], [f"c{i}"], name=f"conv{i}", pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Add", [f"c{i}", "x"], [f"a{i}"], name=f"add{i}"))
        prev = f"a{i}"
    nodes.append(helper.make_node("Identity", [prev], ["y"], name="out"))
    x = rng.standard_normal((1, 8, 32, 32)).astype(np.float32)
    model = make_model(nodes, {"x": x}, ["y"], inits)
    one = x.nbytes
    assert _arena(model, {"x": x}) <= (2 if layout == "nchw" else 3) * one + 1024
    check_model(model, {"x": x})


def test_elementwise_chain_runs_in_place():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 1000)).astype(np.float32)
    ops = ["Relu", "Sigmoid", "Tanh", "Elu", "HardSwish", "Sigmoid"]
    nodes = [helper.make_node("Mul", ["x", "x"], ["t0"], name="sq")]
    for i, op in enumerate(ops):
        nodes.append(helper.make_node(op, [f"t{i}"], [f"t{i + 1}"], name=f"{op}{i}"))
    nodes.append(helper.make_node("Add", [f"t{len(ops)}", "x"], ["y"], name="add"))
    model = make_model(nodes, {"x": x}, ["y"])
    assert _arena(model, {"x": x}) <= x.nbytes + 64
    check_model(model, {"x": x})


def test_views_cost_nothing():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flat"),
             helper.make_node("Reshape", ["f", "shape"], ["s"], name="reshape"),
             helper.make_node("Unsqueeze", ["s", "axes"], ["u"], name="unsq"),
             helper.make_node("Sigmoid", ["u"], ["y"], name="sig")]
    model = make_model(nodes, {"x": x}, ["y"], {"shape": np.array([6, 20], np.int64), "axes": np.array([0], np.int64)})
    assert _arena(model, {"x": x}) <= x.nbytes + 64
    check_model(model, {"x": x})
