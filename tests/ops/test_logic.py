"""Comparisons (Equal, Greater, Less, GreaterOrEqual, LessOrEqual) and logic
(And, Or, Xor, Not) vs onnxruntime: every opset that changed them,
float32 and int64 (Equal also bool), numpy broadcasting (scalars, inner and
outer, both sides), ties, output bool; mismatched dtypes or bool input to a
comparison raise ModelLoadError naming the node."""
import numpy as np
import pytest
from onnx import helper

from helpers import assert_load_error, check_model, make_model

CMP_OPSETS = {"Equal": [7, 11, 13, 19], "Greater": [7, 9, 13], "Less": [7, 9, 13],
              "GreaterOrEqual": [12, 16], "LessOrEqual": [12, 16]}
SHAPES = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((4,), (2, 3, 4)), ((2, 1, 4), (3, 1)), ((), (2, 3)),
          ((2, 3, 1, 5), (1, 3, 4, 1)), ((5,), ())]


def ints(shape, rng):
    # Few distinct values so that ties (==, >=, <=) happen.
    return rng.integers(-3, 4, size=shape).astype(np.int64)


def data(shape, dtype, rng):
    if dtype == np.bool_:
        return np.asarray(rng.random(shape) > 0.5)
    return np.asarray(ints(shape, rng).astype(dtype) * dtype(0.5 if dtype == np.float32 else 1), dtype)


def binary_model(op, a, b, opset):
    node = helper.make_node(op, ["a", "b"], ["y"], name="n")
    return make_model([node], {"a": a, "b": b}, ["y"], opset=opset), {"a": a, "b": b}


# ONNX types: Equal-7 takes integers and bool (no float), Greater/Less-7 floats only.
CMP_CASES = [(op, o, d) for op, os in CMP_OPSETS.items() for o in os for d in (np.float32, np.int64)
             if not (op == "Equal" and o == 7 and d == np.float32) and not (op in ("Greater", "Less") and o == 7 and d == np.int64)]


@pytest.mark.parametrize("op,opset,dtype", CMP_CASES, ids=[f"{op}{o}-{np.dtype(d).name}" for op, o, d in CMP_CASES])
@pytest.mark.parametrize("shapes", range(len(SHAPES)))
def test_compare(op, opset, dtype, shapes):
    rng = np.random.default_rng(shapes)
    sa, sb = SHAPES[shapes]
    model, feeds = binary_model(op, np.asarray(data(sa, dtype, rng)), np.asarray(data(sb, dtype, rng)), opset)
    got, _ = check_model(model, feeds)
    assert got[0].dtype == np.bool_


@pytest.mark.parametrize("opset", [11, 13, 19])
def test_equal_bool(opset):
    rng = np.random.default_rng(1)
    model, feeds = binary_model("Equal", data((2, 3, 4), np.bool_, rng), data((3, 1), np.bool_, rng), opset)
    check_model(model, feeds)


def test_compare_nan_and_inf():
    a = np.array([np.nan, 1.0, np.inf, -np.inf, 0.0, -0.0], np.float32)
    b = np.array([np.nan, np.nan, np.inf, 1.0, -0.0, 0.0], np.float32)
    for op in CMP_OPSETS:
        model, feeds = binary_model(op, a, b, 16 if "Or" in op else 13)
        check_model(model, feeds)


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
@pytest.mark.parametrize("shapes", range(len(SHAPES)))
def test_logic(op, shapes):
    rng = np.random.default_rng(10 + shapes)
    sa, sb = SHAPES[shapes]
    model, feeds = binary_model(op, np.asarray(data(sa, np.bool_, rng)), np.asarray(data(sb, np.bool_, rng)), 7)
    check_model(model, feeds)


@pytest.mark.parametrize("shape", [(), (7,), (2, 3, 4), (2, 64, 33, 17)])
def test_not(shape):
    x = np.asarray(np.random.default_rng(0).random(shape) > 0.5)
    model = make_model([helper.make_node("Not", ["x"], ["y"], name="n")], {"x": x}, ["y"], opset=7)
    check_model(model, {"x": x})


@pytest.mark.parametrize("threads", [1, 2])
def test_compare_large(threads):
    rng = np.random.default_rng(3)
    model, feeds = binary_model("Greater", data((2, 64, 56, 56), np.float32, rng), data((1, 64, 1, 1), np.float32, rng), 13)
    check_model(model, feeds, threads=threads)
    model, feeds = binary_model("Less", data((2, 64, 56, 56), np.float32, rng), data((), np.float32, rng), 13)
    check_model(model, feeds, threads=threads)


def test_compare_dtype_mismatch():
    a = np.zeros((2, 3), np.float32)
    b = np.zeros((2, 3), np.int64)
    node = helper.make_node("Greater", ["a", "b"], ["y"], name="cmp_node")
    from onnx import TensorProto
    model = make_model([node], {"a": a, "b": b}, [helper.make_tensor_value_info("y", TensorProto.BOOL, [2, 3])], opset=13)
    assert_load_error(model, {"a": a, "b": b}, "cmp_node", "dtypes differ")


def test_logic_needs_bool():
    a = np.zeros((2, 3), np.float32)
    node = helper.make_node("And", ["a", "b"], ["y"], name="and_node")
    from onnx import TensorProto
    model = make_model([node], {"a": a, "b": a}, [helper.make_tensor_value_info("y", TensorProto.BOOL, [2, 3])], opset=7)
    assert_load_error(model, {"a": a, "b": a}, "and_node", "expected bool")


def test_compare_shapes_do_not_broadcast():
    a, b = np.zeros((2, 3), np.float32), np.zeros((4,), np.float32)
    node = helper.make_node("Equal", ["a", "b"], ["y"], name="eq")
    from onnx import TensorProto
    model = make_model([node], {"a": a, "b": b}, [helper.make_tensor_value_info("y", TensorProto.BOOL, None)], opset=13)
    assert_load_error(model, {"a": a, "b": b}, "eq", "cannot be broadcast")
