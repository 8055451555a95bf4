"""Gelu (both forms), Mish, Softplus, Softsign, Celu and ThresholdedRelu
fused into the Conv / Gemm / MatMul epilogue (fuse_activation's ACT_CODES):
op counts after the passes, the act code and its parameter, and numerics vs
onnxruntime on every ISA path, in the NHWC (conv kernels' epilogues, the
depthwise and Winograd kernels included) and NCHW layouts."""
import numpy as np
import pytest
from onnx import helper

from cnnrt.onnx_import import read_model, to_ir
from cnnrt.passes import PIPELINE, layout, run_pipeline
from helpers import check_model, make_model

# op, attrs, opset, expected cnnrt_act code, expected cnnrt_act_a
ACTS = [
    ("Gelu", {}, 20, 11, 0.0),
    ("Gelu", {"approximate": "tanh"}, 20, 12, 0.0),
    ("Mish", {}, 18, 13, 0.0),
    ("Softplus", {}, 17, 14, 0.0),
    ("Softsign", {}, 17, 15, 0.0),
    ("Celu", {"alpha": 0.7}, 17, 16, 0.7),
    ("Celu", {}, 17, 16, 1.0),
    ("ThresholdedRelu", {"alpha": 0.3}, 17, 17, 0.3),
]
IDS = [f"{a[0]}{'-' + '-'.join(f'{k}={v}' for k, v in a[1].items()) if a[1] else ''}" for a in ACTS]


def ir(model):
    proto, _, label = read_model(model)
    return to_ir(proto, label)


def fused(graph):
    return run_pipeline(graph, [p for p in PIPELINE if p is not layout])


def rand(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def conv_act(rng, op, attrs, opset, c=3, oc=8, k=3, group=1, hw=9):
    inits = {"w": rand(rng, oc, c // group, k, k, scale=0.4), "b": rand(rng, oc)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["t"], name="conv", pads=[k // 2] * 4, group=group),
             helper.make_node(op, ["t"], ["y"], name="act", **attrs)]
    return make_model(nodes, {"x": np.zeros((2, c, hw, hw), np.float32)}, ["y"], inits, opset=opset)


@pytest.mark.parametrize("op,attrs,opset,code,a", ACTS, ids=IDS)
def test_fused_into_conv(op, attrs, opset, code, a, isa, layout):
    rng = np.random.default_rng(code)
    # plain conv (GEMM epilogue), depthwise, and a 3x3 16->16 conv big enough for Winograd
    for c, oc, group, hw in ((3, 8, 1, 9), (8, 8, 8, 11), (16, 16, 1, 14)):
        model = conv_act(rng, op, attrs, opset, c, oc, group=group, hw=hw)
        g = fused(ir(model))
        assert [n.op for n in g.nodes] == ["Conv"]
        assert g.nodes[0].attrs["cnnrt_act"] == code
        assert g.nodes[0].attrs["cnnrt_act_a"] == pytest.approx(a)
        check_model(model, {"x": rand(rng, 2, c, hw, hw, scale=2.0)}, isa=isa)


@pytest.mark.parametrize("op,attrs,opset,code,a", ACTS, ids=IDS)
def test_fused_into_gemm_and_matmul(op, attrs, opset, code, a, isa):
    rng = np.random.default_rng(code + 100)
    for prod in ("Gemm", "MatMul"):
        inits = {"w": rand(rng, 10, 6)}
        if prod == "Gemm":
            inits["b"] = rand(rng, 6)
            first = helper.make_node("Gemm", ["x", "w", "b"], ["t"], name="fc")
        else:
            first = helper.make_node("MatMul", ["x", "w"], ["t"], name="fc")
        nodes = [first, helper.make_node(op, ["t"], ["y"], name="act", **attrs)]
        model = make_model(nodes, {"x": np.zeros((5, 10), np.float32)}, ["y"], inits, opset=opset)
        g = fused(ir(model))
        assert [n.op for n in g.nodes] == [prod]
        assert g.nodes[0].attrs["cnnrt_act"] == code
        check_model(model, {"x": rand(rng, 5, 10, scale=2.0)}, isa=isa)


def test_not_fused_when_conv_output_has_another_use():
    rng = np.random.default_rng(5)
    inits = {"w": rand(rng, 4, 3, 1, 1)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["t"], name="conv"),
             helper.make_node("Mish", ["t"], ["y"], name="act"),
             helper.make_node("Relu", ["t"], ["r"], name="other")]
    model = make_model(nodes, {"x": np.zeros((1, 3, 5, 5), np.float32)}, ["y", "r"], inits, opset=18)
    g = fused(ir(model))
    assert sorted(n.op for n in g.nodes) == ["Conv", "Mish", "Relu"]
    check_model(model, {"x": rand(rng, 1, 3, 5, 5)})


def test_unary_math_is_layout_agnostic():
    """Conv -> Erf/Exp/Abs... -> Conv stays channels-last: no conversion
    around the element-wise op."""
    rng = np.random.default_rng(6)
    inits = {"w": rand(rng, 4, 3, 3, 3, scale=0.3), "w2": rand(rng, 4, 4, 1, 1)}
    for op in ("Erf", "Abs", "Softsign", "Round", "Neg"):
        nodes = [helper.make_node("Conv", ["x", "w"], ["t"], name="conv", pads=[1, 1, 1, 1]),
                 helper.make_node(op, ["t"], ["u"], name="un"),
                 helper.make_node("Conv", ["u", "w2"], ["y"], name="conv2")]
        model = make_model(nodes, {"x": np.zeros((1, 3, 8, 8), np.float32)}, ["y"], inits, opset=17)
        g = run_pipeline(ir(model))
        transposes = [n for n in g.nodes if n.op == "Transpose"]
        assert len(transposes) <= 2, [n.op for n in g.nodes]  # the graph's edges only
        check_model(model, {"x": rand(rng, 1, 3, 8, 8)})
