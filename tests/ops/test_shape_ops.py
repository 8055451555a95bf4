"""Shape (start/end from opset 15) and ConstantOfShape vs onnxruntime, and the
shape subgraphs exporters emit around Reshape/Flatten with a dynamic batch
dim (Shape -> Gather -> Unsqueeze -> Concat -> Reshape): one session runs
batch 1, 3 and 8, each planned (and its shape arithmetic evaluated) once and
cached. Inputs have symbolic dims so the compiler cannot fold the Shape
nodes: the runtime computes them when it plans."""
import numpy as np
import pytest
from onnx import TensorProto, helper

import cnnrt
from helpers import check_model, make_model, run_ort, assert_close


def symbolic(model, name, dims):
    """Make the declared dims of graph input `name` symbolic (None -> keep)."""
    for vi in model.graph.input:
        if vi.name == name:
            for d, new in zip(vi.type.tensor_type.shape.dim, dims):
                if new is not None:
                    d.ClearField("dim_value")
                    d.dim_param = new
    return model


SHAPES = [(7,), (3, 5), (2, 1, 4), (2, 3, 4, 5), (1, 2, 3, 4, 5)]
SLICES = [(None, None), (0, None), (1, None), (-1, None), (-2, None), (-10, None), (10, None), (None, 0), (None, 2),
          (None, -1), (None, 10), (None, -10), (1, -1), (2, 1), (-3, 4)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("start,end", SLICES, ids=[f"{a}:{b}" for a, b in SLICES])
def test_shape_slices(isa, shape, start, end):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    attrs = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Shape", ["r"], ["y"], name="shape", **attrs)]
    model = symbolic(make_model(nodes, {"x": x}, ["y"], opset=15), "x", [f"d{k}" for k in range(len(shape))])
    got, _ = check_model(model, {"x": x}, isa=isa)
    assert got[0].dtype == np.int64


@pytest.mark.parametrize("opset", [7, 13])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_], ids=lambda d: np.dtype(d).name)
def test_shape_old_opsets(isa, opset, dtype):
    x = np.zeros((3, 0, 4), dtype)
    model = symbolic(make_model([helper.make_node("Shape", ["x"], ["y"], name="shape")], {"x": x}, ["y"], opset=opset),
                     "x", ["a", "b", None])
    check_model(model, {"x": x}, isa=isa)


def test_shape_of_scalar(isa):
    x = np.array(2.0, np.float32)
    model = make_model([helper.make_node("Shape", ["x"], ["y"], name="shape")], {"x": x}, ["y"], opset=13)
    got, _ = check_model(model, {"x": x}, isa=isa)
    assert got[0].shape == (0,)


VALUES = [None, ("f", 2.5), ("f", -0.0), ("i", -7), ("i", 2**40), ("b", True), ("b", False)]


def value_tensor(v):
    if v is None:
        return {}
    kind, val = v
    if kind == "f":
        return {"value": helper.make_tensor("value", TensorProto.FLOAT, [1], [val])}
    if kind == "i":
        return {"value": helper.make_tensor("value", TensorProto.INT64, [1], [val])}
    return {"value": helper.make_tensor("value", TensorProto.BOOL, [1], [val])}


@pytest.mark.parametrize("value", VALUES, ids=lambda v: "default" if v is None else f"{v[0]}{v[1]}")
@pytest.mark.parametrize("shape", [[], [0], [3], [2, 3, 4], [1, 3, 1, 5, 2]], ids=str)
def test_constant_of_shape_constant(isa, value, shape):
    """A constant shape: planned (folded) by the runtime, alone and feeding another node."""
    x = np.zeros((1,), np.float32)
    nodes = [helper.make_node("ConstantOfShape", ["s"], ["y"], name="cos", **value_tensor(value))]
    model = make_model(nodes, {"x": x}, ["y"], {"s": np.array(shape, np.int64)}, opset=13)
    got, _ = check_model(model, {"x": x}, isa=isa)
    assert got[0].shape == tuple(shape)


@pytest.mark.parametrize("value", VALUES, ids=lambda v: "default" if v is None else f"{v[0]}{v[1]}")
@pytest.mark.parametrize("batch", [1, 3])
def test_constant_of_shape_dynamic(isa, value, batch):
    """The shape comes from Shape(x) with a symbolic batch dim: planned per shape."""
    x = np.random.default_rng(batch).standard_normal((batch, 3, 5)).astype(np.float32)
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("ConstantOfShape", ["s"], ["c"], name="cos", **value_tensor(value)),
             helper.make_node("Shape", ["c"], ["s2"], name="shape2")]
    model = symbolic(make_model(nodes, {"x": x}, ["c", "s2"], opset=13), "x", ["N"])
    check_model(model, {"x": x}, isa=isa)


def test_constant_of_shape_folded_at_load(isa):
    """All inputs constant and consumed by another node: the compiler folds it
    at load with the runtime's kernel."""
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    nodes = [helper.make_node("ConstantOfShape", ["s"], ["c"], name="cos",
                              value=helper.make_tensor("value", TensorProto.FLOAT, [1], [1.5])),
             helper.make_node("Mul", ["x", "c"], ["y"], name="mul")]
    model = make_model(nodes, {"x": x}, ["y"], {"s": np.array([2, 3], np.int64)}, opset=13)
    check_model(model, {"x": x}, isa=isa)
    assert "fold_constants" in cnnrt.load(model, threads=1).passes_applied


def batch_model(opset):
    """y1 = Reshape(Relu(x), [N, -1]) with N from Shape->Gather->Unsqueeze->Concat;
    y2 = Flatten(x) + y1; y3 = x * ConstantOfShape(Shape(x), 1.5);
    y4 = Transpose(x) reshaped to [N, H*W, C] through the same kind of subgraph,
    y5 = Squeeze(Unsqueeze(x)) and the shape tail Shape(x)[1:] (opset 15)."""
    axes_attr = opset < 13
    idx0 = helper.make_tensor("idx0", TensorProto.INT64, [], [0])
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Constant", [], ["i0"], name="c_i0", value=idx0),
        helper.make_node("Gather", ["s", "i0"], ["n"], name="gather_n", axis=0),
    ]
    inits = {"minus1": np.array([-1], np.int64), "hwc": np.array([35, 3], np.int64)}
    if axes_attr:
        nodes.append(helper.make_node("Unsqueeze", ["n"], ["n1"], name="unsq_n", axes=[0]))
    else:
        inits["ax0"] = np.array([0], np.int64)
        nodes.append(helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"], name="unsq_n"))
    nodes += [
        helper.make_node("Concat", ["n1", "minus1"], ["shp"], name="cat_shape", axis=0),
        helper.make_node("Reshape", ["r", "shp"], ["y1"], name="reshape"),
        helper.make_node("Flatten", ["x"], ["f"], name="flatten", axis=1),
        helper.make_node("Add", ["y1", "f"], ["y2"], name="add"),
        helper.make_node("ConstantOfShape", ["s"], ["ones"], name="cos",
                         value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.5])),
        helper.make_node("Mul", ["x", "ones"], ["y3"], name="mul"),
        helper.make_node("Transpose", ["x"], ["t"], name="transpose", perm=[0, 2, 3, 1]),
        helper.make_node("Concat", ["n1", "hwc"], ["shp2"], name="cat_shape2", axis=0),
        helper.make_node("Reshape", ["t", "shp2"], ["y4"], name="reshape2"),
    ]
    if axes_attr:
        nodes += [helper.make_node("Unsqueeze", ["x"], ["u"], name="unsq", axes=[1, -1]),
                  helper.make_node("Squeeze", ["u"], ["y5"], name="sq", axes=[-1, 1])]
    else:
        inits["ax_u"] = np.array([1, -1], np.int64)
        nodes += [helper.make_node("Unsqueeze", ["x", "ax_u"], ["u"], name="unsq"),
                  helper.make_node("Squeeze", ["u", "ax_u"], ["y5"], name="sq")]
    outs = ["y1", "y2", "y3", "y4", "y5"]
    if opset >= 15:
        nodes.append(helper.make_node("Shape", ["x"], ["y6"], name="shape_tail", start=1))
        outs.append("y6")
    x = np.zeros((2, 3, 5, 7), np.float32)
    model = make_model(nodes, {"x": x}, outs, inits, opset=opset)
    return symbolic(model, "x", ["N"])


@pytest.mark.parametrize("opset", [11, 13, 15])
def test_dynamic_batch_shape_subgraph(isa, opset):
    model = batch_model(opset)
    sess = cnnrt.load(model, threads=2, isa=isa)
    assert sess.inputs[0].shape == ["N", 3, 5, 7]
    rng = np.random.default_rng(opset)
    for k, batch in enumerate([1, 3, 8, 3]):
        x = rng.standard_normal((batch, 3, 5, 7)).astype(np.float32)
        ref = run_ort(model, {"x": x})
        got = sess.run(None, {"x": x})
        assert len(got) == len(ref)
        for j, (g, r) in enumerate(zip(got, ref)):
            assert_close(g, r, f"batch {batch} output {j}")
        assert got[0].shape == (batch, 105) and got[3].shape == (batch, 35, 3)
        assert sess._core.stats()["cached_plans"] == min(k + 1, 3)


@pytest.mark.parametrize("shape,words", [([2, -3], ["negative"]), ([[2, 3]], ["rank 2"])])
def test_constant_of_shape_bad(shape, words):
    x = np.zeros((1,), np.float32)
    model = make_model([helper.make_node("ConstantOfShape", ["s"], ["y"], name="bad_cos"),
                        helper.make_node("Shape", ["y"], ["z"], name="sh")], {"x": x}, ["y"],
                       {"s": np.array(shape, np.int64)}, opset=13)
    with pytest.raises(cnnrt.ModelLoadError) as e:
        cnnrt.load(model, threads=1).run(None, {"x": x})
    assert "bad_cos" in str(e.value) and all(w in str(e.value) for w in words), str(e.value)


def test_constant_of_shape_unsupported_dtype():
    x = np.zeros((1,), np.float32)
    node = helper.make_node("ConstantOfShape", ["s"], ["y"], name="cos_f64",
                            value=helper.make_tensor("v", TensorProto.DOUBLE, [1], [1.0]))
    model = make_model([node, helper.make_node("Shape", ["y"], ["z"], name="sh")], {"x": x}, ["z"],
                       {"s": np.array([2], np.int64)}, opset=13)
    with pytest.raises(cnnrt.UnsupportedOpError) as e:
        cnnrt.load(model, threads=1)
    assert "cos_f64" in str(e.value)
