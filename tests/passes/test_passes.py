"""Each pass on a small onnx.helper graph: op counts after the pass, and the
whole load numerically against onnxruntime."""
import numpy as np
import pytest
from onnx import helper

import cnnrt
from cnnrt.onnx_import import read_model, to_ir
from cnnrt.passes import (PIPELINE, eliminate_dead, fold_batchnorm, fold_constants, fuse_residual, layout,
                          remove_identity, run_pipeline)
from helpers import check_model, make_model


def ir(model):
    proto, _, label = read_model(model)
    return to_ir(proto, label)


def ops(graph):
    return [n.op for n in graph.nodes]


def fused(graph):
    """The pipeline up to the fusions (the layout pass has its own tests in
    test_layout.py)."""
    return run_pipeline(graph, [p for p in PIPELINE if p is not layout])


def rand(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def conv_bn_relu(rng, with_bias=True, act="Relu"):
    c, oc = 3, 8
    inits = {"w": rand(rng, oc, c, 3, 3, scale=0.3), "scale": rand(rng, oc) + 1.5, "bb": rand(rng, oc),
             "mean": rand(rng, oc), "var": np.abs(rand(rng, oc)) + 0.5}
    conv_in = ["x", "w"]
    if with_bias:
        inits["b"] = rand(rng, oc)
        conv_in.append("b")
    nodes = [helper.make_node("Conv", conv_in, ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "scale", "bb", "mean", "var"], ["n"], name="bn", epsilon=1e-3),
             helper.make_node(act, ["n"], ["y"], name="act")]
    return make_model(nodes, {"x": np.zeros((2, c, 9, 9), np.float32)}, ["y"], inits)


@pytest.mark.parametrize("with_bias", [True, False])
def test_fold_batchnorm_into_conv(with_bias):
    rng = np.random.default_rng(0)
    model = conv_bn_relu(rng, with_bias)
    g = fold_batchnorm(ir(model))
    assert ops(g) == ["Conv", "Relu"]
    assert "fold_batchnorm" in g.applied
    check_model(model, {"x": rand(rng, 2, 3, 9, 9)})


def test_fold_batchnorm_into_gemm():
    rng = np.random.default_rng(1)
    inits = {"w": rand(rng, 6, 10), "b": rand(rng, 6), "scale": rand(rng, 6) + 1.5, "bb": rand(rng, 6),
             "mean": rand(rng, 6), "var": np.abs(rand(rng, 6)) + 0.5}
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["g"], name="fc", transB=1, alpha=0.5, beta=2.0),
             helper.make_node("BatchNormalization", ["g", "scale", "bb", "mean", "var"], ["y"], name="bn")]
    model = make_model(nodes, {"x": np.zeros((3, 10), np.float32)}, ["y"], inits)
    assert ops(fold_batchnorm(ir(model))) == ["Gemm"]
    check_model(model, {"x": rand(rng, 3, 10)})


def test_batchnorm_not_folded_when_conv_output_is_shared():
    rng = np.random.default_rng(2)
    model = conv_bn_relu(rng)
    model.graph.output.append(helper.make_tensor_value_info("c", 1, None))
    g = fold_batchnorm(ir(model))
    assert "BatchNormalization" in ops(g)


@pytest.mark.parametrize("act", ["Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu", "Selu"])
def test_fuse_activation(act, isa):
    rng = np.random.default_rng(3)
    model = conv_bn_relu(rng, act=act)
    g = fused(ir(model))
    assert ops(g) == ["Conv"]
    assert g.nodes[0].attrs["cnnrt_act"] > 0
    check_model(model, {"x": rand(rng, 2, 3, 9, 9)}, isa=isa)


def test_fuse_clip_with_constant_bounds_only(isa):
    rng = np.random.default_rng(4)
    w = rand(rng, 4, 3, 1, 1)
    for const_bounds in (True, False):
        nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
                 helper.make_node("Clip", ["c", "lo", "hi"], ["y"], name="clip")]
        inputs = {"x": np.zeros((1, 3, 5, 5), np.float32)}
        inits = {"w": w}
        bounds = {"lo": np.array(0.0, np.float32), "hi": np.array(6.0, np.float32)}
        (inits if const_bounds else inputs).update(bounds)
        model = make_model(nodes, inputs, ["y"], inits)
        g = fused(ir(model))
        assert ops(g) == (["Conv"] if const_bounds else ["Conv", "Clip"])
        feeds = {"x": rand(rng, 1, 3, 5, 5, scale=5)}
        if not const_bounds:
            feeds.update(bounds)
        check_model(model, feeds, isa=isa)


@pytest.mark.parametrize("op", ["Add", "Sum"])
def test_fuse_residual_then_relu(op, isa):
    rng = np.random.default_rng(5)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="c1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a"], ["r"], name="r1"),
             helper.make_node("Conv", ["r", "w2", "b2"], ["c"], name="c2", pads=[1, 1, 1, 1]),
             helper.make_node(op, ["c", "x"], ["s"], name="add"),
             helper.make_node("Relu", ["s"], ["y"], name="r2")]
    inits = {"w1": rand(rng, 4, 4, 3, 3, scale=0.3), "w2": rand(rng, 4, 4, 3, 3, scale=0.3), "b2": rand(rng, 4)}
    model = make_model(nodes, {"x": np.zeros((2, 4, 7, 7), np.float32)}, ["y"], inits)
    g = fused(ir(model))
    assert ops(g) == ["Conv", "Conv"]
    assert len(g.nodes[1].inputs) == 4 and g.nodes[1].inputs[3] == "x"
    check_model(model, {"x": rand(rng, 2, 4, 7, 7)}, isa=isa)


def test_residual_not_fused_when_shapes_differ():
    rng = np.random.default_rng(6)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="c1"),
             helper.make_node("Add", ["c", "bias"], ["y"], name="add")]
    model = make_model(nodes, {"x": np.zeros((1, 2, 5, 5), np.float32)}, ["y"],
                       {"w": rand(rng, 3, 2, 1, 1), "bias": rand(rng, 3, 1, 1)})
    assert ops(fuse_residual(ir(model))) == ["Conv", "Add"]
    check_model(model, {"x": rand(rng, 1, 2, 5, 5)})


def test_remove_identity_and_dropout():
    rng = np.random.default_rng(7)
    nodes = [helper.make_node("Identity", ["x"], ["a"], name="id"),
             helper.make_node("Dropout", ["a"], ["b"], name="drop"),
             helper.make_node("Relu", ["b"], ["c"], name="relu"),
             helper.make_node("Identity", ["c"], ["y"], name="id_out")]
    model = make_model(nodes, {"x": np.zeros((2, 3), np.float32)}, ["y"], opset=13)
    g = remove_identity(ir(model))
    assert ops(g) == ["Relu", "Identity"]  # the last one writes a graph output
    check_model(model, {"x": rand(rng, 2, 3)})


def test_identity_graph_input_to_output():
    rng = np.random.default_rng(8)
    model = make_model([helper.make_node("Identity", ["x"], ["y"], name="id")], {"x": np.zeros((4,), np.float32)}, ["y"])
    check_model(model, {"x": rand(rng, 4)})


def test_fold_constants_uses_runtime_kernels():
    rng = np.random.default_rng(9)
    nodes = [helper.make_node("Mul", ["w", "two"], ["w2"], name="scale_w"),
             helper.make_node("Add", ["x", "w2"], ["y"], name="add")]
    model = make_model(nodes, {"x": np.zeros((3,), np.float32)}, ["y"],
                       {"w": rand(rng, 3), "two": np.array(2.0, np.float32)})
    g = fold_constants(ir(model))
    assert ops(g) == ["Add"]
    np.testing.assert_array_equal(g.consts["w2"], model_w(model) * 2)
    check_model(model, {"x": rand(rng, 3)})


def model_w(model):
    from onnx import numpy_helper
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}["w"]


def test_eliminate_dead_drops_unused_branch():
    rng = np.random.default_rng(10)
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="used"),
             helper.make_node("Sigmoid", ["x"], ["unused"], name="dead")]
    model = make_model(nodes, {"x": np.zeros((3,), np.float32)}, ["y"])
    assert ops(eliminate_dead(ir(model))) == ["Relu"]
    check_model(model, {"x": rand(rng, 3)})


def test_passes_are_pure():
    rng = np.random.default_rng(11)
    g0 = ir(conv_bn_relu(rng))
    before = [(n.op, list(n.inputs), list(n.outputs), dict(n.attrs)) for n in g0.nodes]
    consts_before = {k: v.copy() for k, v in g0.consts.items()}
    run_pipeline(g0)
    assert [(n.op, list(n.inputs), list(n.outputs), dict(n.attrs)) for n in g0.nodes] == before
    for k, v in consts_before.items():
        np.testing.assert_array_equal(g0.consts[k], v)


def test_weights_are_not_held_twice_after_load():
    """After a BatchNorm fold the original conv weight is unused: the compiler
    drops it, and the runtime frees the constants its ops packed. Nothing of
    the model's float weights stays behind as an unpacked copy."""
    rng = np.random.default_rng(12)
    model = conv_bn_relu(rng)
    g = run_pipeline(ir(model))
    conv = next(n for n in g.nodes if n.op == "Conv")
    assert "w" not in g.consts and set(g.consts) == {n for n in conv.inputs[1:3]}
    sess = cnnrt.load(model)
    assert sess._core.stats()["constant_bytes"] == 0


def test_eliminate_dead_drops_unused_constants():
    rng = np.random.default_rng(13)
    model = make_model([helper.make_node("Relu", ["x"], ["y"], name="r")], {"x": np.zeros((3,), np.float32)}, ["y"],
                       {"leftover": rand(rng, 1000)})
    g = eliminate_dead(ir(model))
    assert "leftover" not in g.consts


def test_gemm_column_bias_blocks_the_batchnorm_fold():
    """Gemm's C of shape [M, 1] adds per row; with M == N it must not be
    mistaken for a per-output-channel bias."""
    rng = np.random.default_rng(14)
    n = 4
    inits = {"w": rand(rng, 3, n), "c": rand(rng, n, 1), "scale": rand(rng, n) + 1.5, "bb": rand(rng, n),
             "mean": rand(rng, n), "var": np.abs(rand(rng, n)) + 0.5}
    nodes = [helper.make_node("Gemm", ["x", "w", "c"], ["g"], name="fc"),
             helper.make_node("BatchNormalization", ["g", "scale", "bb", "mean", "var"], ["y"], name="bn")]
    model = make_model(nodes, {"x": np.zeros((n, 3), np.float32)}, ["y"], inits)
    assert "BatchNormalization" in ops(fold_batchnorm(ir(model)))
    check_model(model, {"x": rand(rng, n, 3)})


def silu_graph(rng, producer="Conv", swap=False, extra_use=False):
    if producer == "Conv":
        inits = {"w": rand(rng, 8, 3, 3, 3, scale=0.5), "b": rand(rng, 8)}
        first = helper.make_node("Conv", ["x", "w", "b"], ["t"], name="conv", pads=[1, 1, 1, 1])
        shape = (2, 3, 9, 9)
    else:
        inits = {"w": rand(rng, 6, 10), "b": rand(rng, 6)}
        first = helper.make_node("Gemm", ["x", "w", "b"], ["t"], name="fc", transB=1)
        shape = (3, 10)
    mul_in = ["s", "t"] if swap else ["t", "s"]
    nodes = [first, helper.make_node("Sigmoid", ["t"], ["s"], name="sig"),
             helper.make_node("Mul", mul_in, ["y"], name="mul")]
    outs = ["y"]
    if extra_use:
        nodes.append(helper.make_node("Relu", ["t"], ["r"], name="other"))
        outs.append("r")
    return make_model(nodes, {"x": np.zeros(shape, np.float32)}, outs, inits), shape


@pytest.mark.parametrize("producer,swap", [("Conv", False), ("Conv", True), ("Gemm", False)])
def test_fuse_silu(producer, swap, isa):
    rng = np.random.default_rng(11)
    model, shape = silu_graph(rng, producer, swap)
    g = run_pipeline(ir(model))
    prod = [n for n in g.nodes if n.op == producer]
    assert len(prod) == 1 and prod[0].attrs["cnnrt_act"] == 10
    assert "Sigmoid" not in ops(g) and "Mul" not in ops(g)
    check_model(model, {"x": rand(rng, *shape, scale=3.0)}, isa=isa)


def test_silu_not_fused_when_its_input_has_another_use():
    rng = np.random.default_rng(12)
    model, shape = silu_graph(rng, extra_use=True)
    g = run_pipeline(ir(model))
    assert "Mul" in ops(g) and "Sigmoid" in ops(g)
    check_model(model, {"x": rand(rng, *shape)})
