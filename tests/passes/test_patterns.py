"""Exporter patterns: Keras-style NHWC blocks (Transpose pairs cancelled after
the layout pass), activation spellings recognised (x*HardSigmoid(x) and
torch's pre-opset-14 hardswish as HardSwish, then fused into the Conv), Sum
of many inputs, Clip bounds as inputs, and a custom-domain opset import no
node uses. Op counts after the passes, numerics vs onnxruntime."""
import numpy as np
import pytest
from onnx import helper

import cnnrt
from cnnrt.onnx_import import read_model, to_ir
from cnnrt.passes import run_pipeline
from helpers import check_model, make_model

RNG = np.random.default_rng(11)


@pytest.fixture(autouse=True)
def default_layout(monkeypatch):
    monkeypatch.delenv("CNNRT_LAYOUT", raising=False)


def compiled(model):
    proto, _, label = read_model(model)
    return run_pipeline(to_ir(proto, label))


def ops(g):
    return [n.op for n in g.nodes]


def w(oc, c, k):
    return (RNG.standard_normal((oc, c, k, k)) * 0.3).astype(np.float32)


def keras_block(out_nhwc=True):
    """NHWC input -> Transpose -> Conv+Relu -> Conv -> Transpose -> NHWC output
    (tf2onnx's shape of a Keras conv stack)."""
    x = RNG.standard_normal((2, 9, 7, 3)).astype(np.float32)
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], name="in_t", perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["xt", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1])]
    if out_nhwc:
        nodes.append(helper.make_node("Transpose", ["c2"], ["y"], name="out_t", perm=[0, 2, 3, 1]))
    else:
        nodes.append(helper.make_node("Relu", ["c2"], ["y"], name="relu2"))
    inits = {"w1": w(8, 3, 3), "b1": RNG.standard_normal(8).astype(np.float32), "w2": w(5, 8, 3)}
    return make_model(nodes, {"x": x}, ["y"], inits), x


def test_keras_nhwc_block_has_no_transpose_left(isa):
    model, x = keras_block()
    g = compiled(model)
    assert "Transpose" not in ops(g), ops(g)
    assert "cancel_transposes" in g.applied
    check_model(model, {"x": x}, isa=isa)


def test_keras_input_only_keeps_one_output_conversion(isa):
    model, x = keras_block(out_nhwc=False)
    g = compiled(model)
    assert ops(g).count("Transpose") == 1, ops(g)  # back to NCHW for the NCHW graph output
    check_model(model, {"x": x}, isa=isa)


def test_transpose_chain_composes_to_one():
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    nodes = [helper.make_node("Transpose", ["x"], ["a"], name="t1", perm=[1, 0, 2, 3]),
             helper.make_node("Transpose", ["a"], ["b"], name="t2", perm=[0, 2, 1, 3]),
             helper.make_node("Transpose", ["b"], ["y"], name="t3")]  # default perm: reverse
    model = make_model(nodes, {"x": x}, ["y"], {})
    g = compiled(model)
    assert ops(g) == ["Transpose"]
    check_model(model, {"x": x})


def test_transpose_pair_kept_when_middle_is_read_elsewhere():
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    nodes = [helper.make_node("Transpose", ["x"], ["a"], name="t1", perm=[2, 0, 1]),
             helper.make_node("Transpose", ["a"], ["y"], name="t2", perm=[1, 2, 0]),
             helper.make_node("Relu", ["a"], ["z"], name="side")]
    model = make_model(nodes, {"x": x}, ["y", "z"], {})
    g = compiled(model)
    assert ops(g).count("Transpose") == 2
    check_model(model, {"x": x})


def test_identity_pair_between_graph_input_and_output():
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    nodes = [helper.make_node("Transpose", ["x"], ["a"], name="t1", perm=[2, 0, 1]),
             helper.make_node("Transpose", ["a"], ["y"], name="t2", perm=[1, 2, 0])]
    model = make_model(nodes, {"x": x}, ["y"], {})
    g = compiled(model)
    assert "Transpose" not in ops(g)
    check_model(model, {"x": x})


def _conv_then(act_nodes, out, opset=17, extra=None):
    x = RNG.standard_normal((1, 4, 6, 6)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["t"], name="conv", pads=[1, 1, 1, 1])] + act_nodes
    inits = {"w": w(6, 4, 3), "b": RNG.standard_normal(6).astype(np.float32)}
    inits.update(extra or {})
    return make_model(nodes, {"x": x}, [out], inits, opset=opset), x


def test_x_times_hardsigmoid_is_hardswish_fused(isa):
    model, x = _conv_then([helper.make_node("HardSigmoid", ["t"], ["h"], name="hs", alpha=1 / 6, beta=0.5),
                           helper.make_node("Mul", ["t", "h"], ["y"], name="mul")], "y")
    g = compiled(model)
    assert ops(g) == ["Transpose", "Conv", "Transpose"] and "recognize_activations" in g.applied, ops(g)
    check_model(model, {"x": x}, isa=isa)


def test_hardsigmoid_with_other_slope_is_left_alone():
    model, x = _conv_then([helper.make_node("HardSigmoid", ["t"], ["h"], name="hs", alpha=0.2, beta=0.5),
                           helper.make_node("Mul", ["h", "t"], ["y"], name="mul")], "y")
    g = compiled(model)
    assert "recognize_activations" not in g.applied
    check_model(model, {"x": x})


@pytest.mark.parametrize("opset", [9, 13])
def test_torch_old_hardswish_spelling_is_hardswish(isa, opset):
    three, six, zero = (np.array(v, np.float32) for v in (3.0, 6.0, 0.0))
    clip = (helper.make_node("Clip", ["a"], ["c"], name="clip", min=0.0, max=6.0) if opset < 11 else
            helper.make_node("Clip", ["a", "zero", "six"], ["c"], name="clip"))
    model, x = _conv_then([helper.make_node("Add", ["t", "three"], ["a"], name="add"), clip,
                           helper.make_node("Mul", ["t", "c"], ["m"], name="mul"),
                           helper.make_node("Div", ["m", "six"], ["y"], name="div")], "y", opset=opset,
                          extra={"three": three, "six": six, "zero": zero})
    g = compiled(model)
    assert "recognize_activations" in g.applied and ops(g).count("Conv") == 1 and len(ops(g)) == 3, ops(g)
    check_model(model, {"x": x}, isa=isa)


def test_sum_of_many_inputs_with_broadcast(isa):
    xs = {f"x{i}": RNG.standard_normal((2, 3, 4) if i % 2 == 0 else (3, 1)).astype(np.float32) for i in range(7)}
    model = make_model([helper.make_node("Sum", list(xs), ["y"], name="sum")], xs, ["y"], {})
    check_model(model, xs, isa=isa)


def test_unused_custom_domain_opset_import_is_ignored():
    model, x = keras_block()
    model.opset_import.append(helper.make_opsetid("com.example.custom", 3))
    sess = cnnrt.load(model.SerializeToString())
    assert sess.run(None, {"x": x})[0].shape == (2, 9, 7, 5)


def test_used_custom_domain_op_is_named():
    model, x = keras_block()
    model.opset_import.append(helper.make_opsetid("com.example.custom", 3))
    model.graph.node.append(helper.make_node("Fancy", ["y"], ["z"], name="fancy_node", domain="com.example.custom"))
    model.graph.output.append(helper.make_tensor_value_info("z", 1, None))
    with pytest.raises(cnnrt.UnsupportedOpError, match="fancy_node"):
        cnnrt.load(model.SerializeToString())
