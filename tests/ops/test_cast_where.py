"""Cast and Where vs onnxruntime.
Cast (opsets 7/6, 9, 13, 19 with saturate, 21, 23, 25, 28): every pair of float32,
int64 and bool (fractions, negatives, large values, NaN/inf to bool), fed
as graph inputs and folded from constants; a cast to another dtype
(float16, int32, double, ...) raises UnsupportedOpError naming the node.
Where (9, 16): float32/int64 values (bool vs numpy: onnxruntime has no bool kernel), three-way broadcasting, large
over 2 threads; a non-bool condition raises ModelLoadError."""
import numpy as np
import pytest
from onnx import TensorProto, helper

import cnnrt
from helpers import assert_close, assert_load_error, check_model, make_model, random_data, run_cnnrt

ONNX = {np.float32: TensorProto.FLOAT, np.int64: TensorProto.INT64, np.bool_: TensorProto.BOOL}
DTYPES = [np.float32, np.int64, np.bool_]


def cast_input(dtype, rng):
    if dtype == np.float32:
        return np.concatenate([np.array([0.0, -0.0, 0.5, -0.5, 1.7, -2.9, 1e6, -3e9], np.float32),
                               (rng.standard_normal(40) * 100).astype(np.float32)]).reshape(4, 12)
    if dtype == np.int64:
        return np.concatenate([np.array([0, 1, -1, 2**40, -(2**40), 16777217], np.int64),
                               rng.integers(-1000, 1000, 42)]).reshape(4, 12)
    return rng.random((4, 12)) > 0.5


CAST_CASES = [(o, a, b) for o in (7, 9, 13, 19, 21, 23, 25, 28) for a in DTYPES for b in DTYPES]


@pytest.mark.parametrize("opset,src,dst", CAST_CASES,
                         ids=[f"op{o}-{np.dtype(a).name}-{np.dtype(b).name}" for o, a, b in CAST_CASES])
def test_cast(opset, src, dst):
    x = cast_input(src, np.random.default_rng(opset))
    attrs = {"to": ONNX[dst]}
    if opset >= 19:
        attrs["saturate"] = 1
    node = helper.make_node("Cast", ["x"], ["y"], name="cast", **attrs)
    model = make_model([node], {"x": x}, ["y"], opset=opset)
    got, _ = check_model(model, {"x": x})
    assert got[0].dtype == np.dtype(dst)


def test_cast_float_specials_to_bool():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30], np.float32)
    model = make_model([helper.make_node("Cast", ["x"], ["y"], name="cast", to=TensorProto.BOOL)], {"x": x}, ["y"], opset=13)
    check_model(model, {"x": x})


@pytest.mark.parametrize("dst", [np.float32, np.int64, np.bool_], ids=lambda d: np.dtype(d).name)
def test_cast_folded_constant(dst):
    """Cast of a constant folds at load with the runtime's own kernel."""
    c = np.array([[1.5, -2.5, 0.0]], np.float32)
    nodes = [helper.make_node("Cast", ["c"], ["cc"], name="cast", to=ONNX[dst]),
             helper.make_node("Cast", ["cc"], ["cf"], name="back", to=TensorProto.FLOAT),
             helper.make_node("Add", ["x", "cf"], ["y"], name="add")]
    x = random_data((2, 3), np.float32, 0)
    model = make_model(nodes, {"x": x}, ["y"], {"c": c}, opset=13)
    check_model(model, {"x": x})


@pytest.mark.parametrize("to", [TensorProto.FLOAT16, TensorProto.INT32, TensorProto.DOUBLE, TensorProto.UINT8])
def test_cast_other_dtype_refused(to):
    x = random_data((2, 3), np.float32, 0)
    nodes = [helper.make_node("Cast", ["x"], ["h"], name="cast_other", to=to),
             helper.make_node("Cast", ["h"], ["y"], name="cast_back", to=TensorProto.FLOAT)]
    model = make_model(nodes, {"x": x}, ["y"], opset=13)
    with pytest.raises(cnnrt.UnsupportedOpError, match="cast_other"):
        cnnrt.load(model, threads=1).run(None, {"x": x})


def where_model(c, a, b, opset):
    node = helper.make_node("Where", ["c", "a", "b"], ["y"], name="where")
    feeds = {"c": c, "a": a, "b": b}
    return make_model([node], feeds, ["y"], opset=opset), feeds


WHERE_SHAPES = [((2, 3, 4), (2, 3, 4), (2, 3, 4)), ((2, 3, 4), (), (4,)), ((3, 1), (1, 4), (2, 1, 1)),
                ((), (2, 3), (2, 3)), ((1, 3, 1, 5), (2, 1, 4, 1), (5,)), ((4,), (2, 3, 4), ())]


@pytest.mark.parametrize("opset", [9, 16])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shapes", range(len(WHERE_SHAPES)))
def test_where(opset, dtype, shapes):
    rng = np.random.default_rng(shapes)
    sc, sa, sb = WHERE_SHAPES[shapes]
    c = np.asarray(rng.random(sc) > 0.5)
    a = np.asarray(random_data(sa, dtype, rng))
    b = np.asarray(random_data(sb, dtype, rng))
    model, feeds = where_model(c, a, b, opset)
    if dtype == np.bool_:  # onnxruntime has no bool Where kernel: numpy is the reference
        assert_close(run_cnnrt(model, feeds)[0], np.where(c, a, b))
    else:
        check_model(model, feeds)


@pytest.mark.parametrize("threads", [1, 2])
def test_where_large(threads):
    rng = np.random.default_rng(3)
    c = rng.random((2, 64, 56, 56)) > 0.5
    model, feeds = where_model(c, random_data((2, 64, 56, 56), np.float32, rng), np.zeros((1,), np.float32), 16)
    check_model(model, feeds, threads=threads)


def test_where_condition_not_bool():
    c = np.zeros((2, 3), np.float32)
    a = np.zeros((2, 3), np.float32)
    node = helper.make_node("Where", ["c", "a", "a"], ["y"], name="where_node")
    model = make_model([node], {"c": c, "a": a}, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], opset=16)
    assert_load_error(model, {"c": c, "a": a}, "where_node", "bool")
