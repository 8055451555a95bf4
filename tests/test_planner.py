"""The memory planner: tensors whose lifetimes do not overlap share arena
bytes, element-wise ops run in place, views cost nothing."""
import numpy as np
import pytest
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


def _conv(name, x, w, out, group=1, pads=(0, 0, 0, 0)):
    return helper.make_node("Conv", [x, w], [out], name=name, group=group, pads=list(pads))


# (weight shape, group, pads): a 1x1 (indirect GEMM), a 3x3 on a map big
# enough for Winograd, a 3x3 stride-1 GEMM on few channels, a depthwise 3x3.
RESIDUAL_CONVS = [((32, 32, 1, 1), 1, (0, 0, 0, 0)), ((32, 32, 3, 3), 1, (1, 1, 1, 1)),
                  ((32, 4, 3, 3), 8, (1, 1, 1, 1)), ((32, 1, 3, 3), 32, (1, 1, 1, 1))]


@pytest.mark.parametrize("wshape,group,pads", RESIDUAL_CONVS)
@pytest.mark.parametrize("threads", [1, 2])
def test_conv_output_over_its_residual(isa, wshape, group, pads, threads):
    """A Conv with a fused residual writes its output over the residual's
    buffer when the residual dies there (ResNet's blocks: r = relu(x),
    y = conv(conv(r)) + r), and never when the residual is also the Conv's
    own input (y = conv(r) + r: the kernel would read pixels it had
    overwritten). Both against onnxruntime, on every kernel the residual
    reaches."""
    rng = np.random.default_rng(sum(wshape) + group)
    x = rng.standard_normal((1, 32, 24, 24)).astype(np.float32)
    inits = {f"w{i}": (rng.standard_normal(wshape) * 0.2).astype(np.float32) for i in range(3)}
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             _conv("c0", "r", "w0", "t", group, pads),
             _conv("c1", "t", "w1", "u", group, pads),
             helper.make_node("Add", ["u", "r"], ["s"], name="add_dies"),  # r's last use: in place
             helper.make_node("Relu", ["s"], ["s2"], name="relu2"),
             _conv("c2", "s2", "w2", "v", group, pads),
             helper.make_node("Add", ["v", "s2"], ["y"], name="add_shared")]  # s2 is c2's input too
    model = make_model(nodes, {"x": x}, ["y"], inits)
    check_model(model, {"x": x}, isa=isa, threads=threads)


def test_residual_chain_writes_in_place(layout):
    """Eight ResNet-style blocks a = relu(conv(relu(conv(a))) + a): in NHWC
    on a SIMD path each block's second conv writes over the residual it
    consumes, so the arena holds two activations (the block input and the
    intermediate); three on the ref path, whose kernels store the sums
    before reading the residual."""
    rng = np.random.default_rng(5)
    nodes, inits = [], {}
    prev = "x"
    for i in range(8):
        inits[f"wa{i}"] = (rng.standard_normal((16, 16, 1, 1)) * 0.3).astype(np.float32)
        inits[f"wb{i}"] = (rng.standard_normal((16, 16, 1, 1)) * 0.3).astype(np.float32)
        nodes += [_conv(f"ca{i}", prev, f"wa{i}", f"p{i}"),
                  helper.make_node("Relu", [f"p{i}"], [f"q{i}"], name=f"ra{i}"),
                  _conv(f"cb{i}", f"q{i}", f"wb{i}", f"b{i}"),
                  helper.make_node("Add", [f"b{i}", prev], [f"s{i}"], name=f"add{i}"),
                  helper.make_node("Relu", [f"s{i}"], [f"a{i}"], name=f"rb{i}")]
        prev = f"a{i}"
    nodes.append(helper.make_node("Identity", [prev], ["y"], name="out"))
    x = rng.standard_normal((1, 16, 32, 32)).astype(np.float32)
    model = make_model(nodes, {"x": x}, ["y"], inits)
    if layout == "nhwc":
        sess = cnnrt.load(model, threads=1)
        acts = 3 if sess.isa == "ref" else 2
        assert sess._core.arena_bytes([x]) <= acts * x.nbytes + 1024
    check_model(model, {"x": x})
