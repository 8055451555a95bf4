"""Min, Max, Mean and Pow vs onnxruntime.
Min/Max/Mean: 1 to 4 inputs, same shapes at opset 7 (version 6, no
broadcasting), numpy broadcasting from 8, int64 for Min/Max from 12, large
feature maps over 2 threads; mismatched dtypes or int64 Mean raise
ModelLoadError naming the node.
Pow: opsets 7, 12, 13, 15; float32 base with float32 or int64 exponent,
int64 base (12+); broadcasting both ways; the fast paths for a constant
scalar exponent 2, 3, 0.5 (with negative, zero, infinite bases) and the
general path; a bad dtype raises ModelLoadError."""
import numpy as np
import pytest
from onnx import TensorProto, helper

from helpers import assert_load_error, check_model, make_model, random_data


def var_model(op, arrays, opset):
    names = [f"x{k}" for k in range(len(arrays))]
    node = helper.make_node(op, names, ["y"], name="n")
    feeds = dict(zip(names, arrays))
    return make_model([node], feeds, ["y"], opset=opset), feeds


BCAST = [[(2, 3, 4)], [(2, 3, 4), (4,)], [(3, 1), (2, 1, 4), ()], [(1, 3, 1, 5), (2, 1, 4, 1), (5,), (2, 3, 4, 5)],
         [(4,), (2, 3, 4)]]
SAME = [[(5,)], [(2, 3, 4), (2, 3, 4)], [(3, 5), (3, 5), (3, 5)], [(2, 2), (2, 2), (2, 2), (2, 2)]]
CASES = ([(op, 7, np.float32, s) for op in ("Min", "Max", "Mean") for s in range(len(SAME))]
         + [(op, o, np.float32, s) for op in ("Min", "Max", "Mean") for o in (8, 13) for s in range(len(BCAST))]
         + [(op, o, np.int64, s) for op in ("Min", "Max") for o in (12, 13) for s in range(len(BCAST))])


@pytest.mark.parametrize("op,opset,dtype,shapes", CASES,
                         ids=[f"{op}{o}-{np.dtype(d).name}-{s}" for op, o, d, s in CASES])
def test_variadic(op, opset, dtype, shapes):
    rng = np.random.default_rng(shapes)
    table = SAME if opset == 7 else BCAST
    arrays = [np.asarray(random_data(s, dtype, rng)) for s in table[shapes]]
    model, feeds = var_model(op, arrays, opset)
    check_model(model, feeds)


@pytest.mark.parametrize("op", ["Min", "Max"])
def test_minmax_nan(op):
    a = np.array([np.nan, 1.0, 2.0, -np.inf], np.float32)
    b = np.array([0.0, np.nan, 3.0, np.inf], np.float32)
    model, feeds = var_model(op, [a, b], 13)
    check_model(model, feeds)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("op", ["Min", "Max", "Mean"])
def test_variadic_large(threads, op):
    rng = np.random.default_rng(4)
    arrays = [random_data((2, 64, 56, 56), np.float32, rng), np.asarray(random_data((), np.float32, rng))]
    model, feeds = var_model(op, arrays, 13)
    check_model(model, feeds, threads=threads)


def test_variadic_dtype_mismatch():
    a, b = np.zeros((2, 3), np.float32), np.zeros((2, 3), np.int64)
    node = helper.make_node("Max", ["a", "b"], ["y"], name="max_node")
    model = make_model([node], {"a": a, "b": b}, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], opset=13)
    assert_load_error(model, {"a": a, "b": b}, "max_node", "dtype")


def test_mean_int64_refused():
    a = np.zeros((2, 3), np.int64)
    node = helper.make_node("Mean", ["a", "b"], ["y"], name="mean_node")
    model = make_model([node], {"a": a, "b": a}, [helper.make_tensor_value_info("y", TensorProto.INT64, [2, 3])], opset=13)
    assert_load_error(model, {"a": a, "b": a}, "mean_node", "expected float32")


# ---------------------------------------------------------------- Pow

def pow_model(x, e, opset, const_exp=False):
    node = helper.make_node("Pow", ["x", "e"], ["y"], name="pow")
    if const_exp:
        return make_model([node], {"x": x}, ["y"], {"e": e}, opset=opset), {"x": x}
    return make_model([node], {"x": x, "e": e}, ["y"], opset=opset), {"x": x, "e": e}


POW_SHAPES = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), ()), ((2, 3, 4), (4,)), ((4,), (2, 3, 4)), ((3, 1), (1, 5))]


def base(shape, rng, dtype=np.float32):
    if dtype == np.int64:
        return rng.integers(-4, 5, size=shape).astype(np.int64)
    return np.asarray((rng.random(shape) * 3 + 0.1).astype(np.float32))


def expo(shape, rng, dtype):
    if dtype == np.int64:
        return np.asarray(rng.integers(0, 4, size=shape).astype(np.int64))
    return np.asarray((rng.random(shape) * 4 - 2).astype(np.float32))


POW_CASES = ([(o, np.float32, np.float32) for o in (7, 12, 13, 15)]
             + [(o, np.float32, np.int64) for o in (12, 13, 15)]
             + [(o, np.int64, np.int64) for o in (12, 15)] + [(13, np.int64, np.float32)])


@pytest.mark.parametrize("opset,bt,et", POW_CASES, ids=[f"op{o}-{np.dtype(b).name}-{np.dtype(e).name}" for o, b, e in POW_CASES])
@pytest.mark.parametrize("shapes", range(len(POW_SHAPES)))
def test_pow(opset, bt, et, shapes):
    rng = np.random.default_rng(shapes)
    sx, se = POW_SHAPES[shapes]
    x = base(sx, rng, bt)
    e = expo(se, rng, et)
    if bt == np.int64 and et == np.float32:
        e = np.asarray(np.round(e), np.float32)  # integral float exponents: the result is exact
    model, feeds = pow_model(x, e, opset)
    check_model(model, feeds)


SPECIAL = np.array([-3.5, -1.0, -0.0, 0.0, 0.25, 1.0, 2.0, 1e10, np.inf, -np.inf, np.nan], np.float32)


# An int64 exponent is integral and exists from opset 12.
CONST_CASES = [(e, d, o) for e in (2.0, 3.0, 0.5, 1.5, -1.0) for d in (np.float32, np.int64) for o in (7, 13)
               if d == np.float32 or (e == int(e) and o >= 12)]


@pytest.mark.parametrize("e,edtype,opset", CONST_CASES, ids=[f"{e}-{np.dtype(d).name}-op{o}" for e, d, o in CONST_CASES])
def test_pow_constant_exponent(e, edtype, opset):
    """Scalar constant exponent: x*x, x*x*x and sqrt fast paths (and pow for the rest)."""
    rng = np.random.default_rng(5)
    x = np.concatenate([SPECIAL, rng.standard_normal(1000).astype(np.float32)]).reshape(1, -1)
    model, feeds = pow_model(x, np.array(e, edtype), opset, const_exp=True)
    check_model(model, feeds)


@pytest.mark.parametrize("threads", [1, 2])
def test_pow_large(threads):
    rng = np.random.default_rng(6)
    x = base((2, 64, 40, 40), rng)
    model, feeds = pow_model(x, np.array(2.0, np.float32), 13, const_exp=True)
    check_model(model, feeds, threads=threads)
    model, feeds = pow_model(x, expo((64, 1, 1), rng, np.float32), 13)
    check_model(model, feeds, threads=threads)


def test_pow_bool_refused():
    x = np.zeros((2, 3), np.bool_)
    e = np.zeros((2, 3), np.float32)
    node = helper.make_node("Pow", ["x", "e"], ["y"], name="pow_node")
    model = make_model([node], {"x": x, "e": e}, [helper.make_tensor_value_info("y", TensorProto.BOOL, [2, 3])], opset=13)
    assert_load_error(model, {"x": x, "e": e}, "pow_node", "expected float32 or int64")
