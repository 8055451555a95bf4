"""ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp vs
onnxruntime: axes as attribute (before opset 13 for ReduceSum, 18 for the
others) and as input (after), every single axis (positive and negative) and
pairs of axes of ranks 1-5 with odd sizes, keepdims 0/1, no axes / empty
axes (= all, or identity with noop_with_empty_axes=1), every opset that
changed the ops, int64 for Sum/Max/Min/Prod, bool for Max/Min, empty
reductions, special values (inf, NaN, LogSum of 0 and negatives), the fast
paths (innermost axis; H*W of NCHW, SE blocks' global average) past one
vector block and with threads, on every ISA path; errors naming the node."""
import itertools

import numpy as np
import onnx
import pytest
from onnx import helper

import cnnrt
from helpers import check_model, make_model

OPS = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
       "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"]
# First opset with axes as input 1.
AXES_INPUT_FROM = {op: (13 if op == "ReduceSum" else 18) for op in OPS}
# Opsets where the ops changed (from cnnrt's 7); onnxruntime runs them all.
OPSETS = {op: [7, 11, 13, 18] for op in OPS}
OPSETS["ReduceSum"] = [7, 11, 13]
OPSETS["ReduceMax"] = OPSETS["ReduceMin"] = [7, 11, 12, 13, 18, 20]
SHAPES = [[7], [3, 17], [2, 5, 3], [3, 4, 5, 7], [2, 3, 1, 4, 5]]


def reduce_model(op, opset, shape, axes=None, keepdims=None, noop=None, dtype=np.float32, axes_as_input=None):
    """axes None: not given at all."""
    attrs = {}
    if keepdims is not None:
        attrs["keepdims"] = keepdims
    inputs, inits = ["x"], {}
    as_input = opset >= AXES_INPUT_FROM[op] if axes_as_input is None else axes_as_input
    if axes is not None:
        if as_input:
            inputs.append("axes")
            inits["axes"] = np.array(axes, np.int64)
        elif axes:
            attrs["axes"] = list(axes)
    if noop is not None:
        attrs["noop_with_empty_axes"] = noop
    node = helper.make_node(op, inputs, ["y"], name="red0", **attrs)
    if axes is not None and not axes and not as_input:  # an explicit empty list
        node.attribute.append(helper.make_attribute("axes", [], attr_type=onnx.AttributeProto.INTS))
    return make_model([node], {"x": np.zeros(shape, dtype)}, ["y"], inits, opset=opset)


def data(op, shape, seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    if dtype == np.int64:
        hi = 4 if op == "ReduceProd" else 1000
        return rng.integers(-hi, hi + 1, size=shape).astype(np.int64)
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    x = rng.standard_normal(shape)
    if op == "ReduceProd":
        x = 1 + 0.3 * x  # products of many values stay in range
    if op == "ReduceLogSum":
        x = np.abs(x) + 0.1
    return x.astype(np.float32)


def single_axes(rank):
    return [[a] for a in range(-rank, rank)]


@pytest.mark.parametrize("op", OPS)
def test_axes_keepdims_opsets(isa, op):
    for opset in OPSETS[op]:
        for k, shape in enumerate(SHAPES):
            r = len(shape)
            cases = single_axes(r) + [list(p) for p in itertools.combinations(range(r), 2)][:4]
            for axes in cases:
                for keep in (None, 0, 1):
                    model = reduce_model(op, opset, shape, axes, keep)
                    check_model(model, {"x": data(op, shape, k + opset)}, isa=isa)


@pytest.mark.parametrize("op", OPS)
def test_all_axes_defaults(isa, op):
    """No axes and axes=[] reduce everything (noop_with_empty_axes=0); in the
    input form with noop_with_empty_axes=1 and no/empty axes nothing is
    reduced, each element only mapped (SumSquare squares, L1 takes |x|...)."""
    for opset in OPSETS[op]:
        for shape in ([1], [5], [3, 1, 4], [2, 3, 4, 5]):
            x = {"x": data(op, shape, opset)}
            for keep in (None, 0, 1):
                check_model(reduce_model(op, opset, shape, None, keep), x, isa=isa)
                if opset < AXES_INPUT_FROM[op]:  # ([] as an input: onnxruntime's own test below)
                    check_model(reduce_model(op, opset, shape, [], keep), x, isa=isa)
            if opset >= AXES_INPUT_FROM[op]:
                xs = {"x": x["x"] - np.float32(0.5)}  # negative values: |x|, x^2 and log(x < 0) = NaN show
                for noop in (0, 1):
                    check_model(reduce_model(op, opset, shape, None, 1, noop=noop), xs, isa=isa)
                    check_model(reduce_model(op, opset, shape, [], 0, noop=noop), xs, isa=isa)


@pytest.mark.parametrize("op", OPS)
def test_three_and_more_axes(op):
    shape = [3, 4, 5, 6, 7]
    opset = OPSETS[op][-1]
    x = {"x": data(op, shape, 1)}
    for axes in ([0, 2, 4], [1, 2, 3], [-1, -3, 0], [0, 1, 3, 4], [4, 3, 2, 1, 0]):
        for keep in (0, 1):
            check_model(reduce_model(op, opset, shape, axes, keep), x)


@pytest.mark.parametrize("op", OPS)
def test_fast_paths_threads(isa, op):
    """Innermost axis and H*W of NCHW (ReduceMean over [2, 3] is global
    average pooling), rows past one 16-lane block, inner blocks past 256,
    with 1 and 3 threads."""
    opset = OPSETS[op][-1]
    for shape, axes in (([2, 64, 14, 14], [2, 3]), ([1, 300, 7, 7], [-2, -1]), ([4, 1037], [1]),
                        ([3, 33, 529], [-1]), ([2, 517, 9], [0, 2]), ([5, 600], [0]), ([7, 3, 300], [1])):
        for threads in (1, 3):
            x = {"x": data(op, shape, len(shape) + threads)}
            check_model(reduce_model(op, opset, shape, axes, 1), x, isa=isa, threads=threads)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"])
def test_int64(op):
    for opset in OPSETS[op]:
        for shape in ([7], [3, 5], [2, 3, 4]):
            for axes in single_axes(len(shape)) + [None]:
                for keep in (0, 1):
                    model = reduce_model(op, opset, shape, axes, keep, dtype=np.int64)
                    check_model(model, {"x": data(op, shape, opset, np.int64)})


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
def test_bool(op):
    for shape in ([7], [3, 5], [2, 3, 4]):
        for axes in single_axes(len(shape)) + [None]:
            for keep in (0, 1):
                model = reduce_model(op, 20, shape, axes, keep, dtype=np.bool_)
                for seed in range(3):
                    check_model(model, {"x": data(op, shape, seed, np.bool_)})


@pytest.mark.parametrize("op", OPS)
def test_empty_reduction(op):
    """Reducing an axis of size 0 gives the op's identity (onnx 18 rules,
    as onnxruntime): 0, 1, -inf, +inf, NaN (mean), -inf (log sums)."""
    opset = OPSETS[op][-1]
    shape = [2, 0, 3]
    want = {"ReduceSum": 0.0, "ReduceMean": np.nan, "ReduceMax": -np.inf, "ReduceMin": np.inf, "ReduceProd": 1.0,
            "ReduceL1": 0.0, "ReduceL2": 0.0, "ReduceSumSquare": 0.0, "ReduceLogSum": -np.inf,
            "ReduceLogSumExp": -np.inf}[op]
    model = reduce_model(op, opset, shape, [1], 1)
    got = cnnrt.load(model).run(None, {"x": np.zeros(shape, np.float32)})[0]
    assert got.shape == (2, 1, 3)
    np.testing.assert_array_equal(got, np.full((2, 1, 3), want, np.float32))
    if op != "ReduceMean":  # onnxruntime agrees where it runs empty reductions
        check_model(model, {"x": np.zeros(shape, np.float32)})
    # a kept axis of size 0: an empty output
    got = cnnrt.load(reduce_model(op, opset, shape, [2], 0)).run(None, {"x": np.zeros(shape, np.float32)})[0]
    assert got.shape == (2, 0)


@pytest.mark.parametrize("op", OPS)
def test_special_values(isa, op):
    opset = OPSETS[op][-1]
    x = np.array([[1.0, np.inf, 2.0], [-np.inf, 1.0, 0.5], [0.0, 0.0, 0.0], [-1.0, -2.0, 3.0],
                  [np.inf, np.inf, 1.0], [-np.inf, -np.inf, -np.inf], [3e38, 3e38, 1.0]], np.float32)
    for axes in ([1], [0]):
        check_model(reduce_model(op, opset, list(x.shape), axes, 0), {"x": x}, isa=isa)
    lse = reduce_model("ReduceLogSumExp", 18, [3, 4], [1], 0)
    big = np.array([[100.0, 100.0, 99.0, -1e30], [-100.0, -101.0, -102.0, -103.0], [88.0, 89.0, 90.0, 0.0]],
                   np.float32)
    check_model(lse, {"x": big}, isa=isa)


@pytest.mark.parametrize("op", OPS)
def test_nan_propagates(isa, op):
    """A NaN anywhere in a reduced row gives NaN, as numpy and the onnx
    reference implementation compute it. (onnxruntime's ReduceMax/Min keep
    the NaN only when it comes first in the row: an order-dependent result
    cnnrt does not copy; the other ops agree with it, checked here too.)"""
    opset = OPSETS[op][-1]
    x = np.array([[np.nan, 1.0, 2.0], [1.0, np.nan, 2.0], [1.0, 2.0, np.nan], [1.0, 2.0, 3.0]], np.float32)
    for xr, shape_axes in ((x, [1]), (x.T.copy(), [0])):
        got = cnnrt.load(reduce_model(op, opset, list(xr.shape), shape_axes, 0), isa=isa).run(
            None, {"x": xr})[0]
        assert np.isnan(got[:3]).all() and np.isfinite(got[3]), got
        if op not in ("ReduceMax", "ReduceMin"):
            check_model(reduce_model(op, opset, list(xr.shape), shape_axes, 0), {"x": xr}, isa=isa)


def test_se_block_global_average():
    """SE block: ReduceMean over [2, 3] keepdims=1 after a conv, then the
    gating: the reduce reads the conv's output whatever layout it ran in."""
    rng = np.random.default_rng(0)
    c = 16
    inits = {"w": (rng.standard_normal((c, 8, 3, 3)) * 0.2).astype(np.float32),
             "w1": (rng.standard_normal((4, c, 1, 1)) * 0.3).astype(np.float32),
             "w2": (rng.standard_normal((c, 4, 1, 1)) * 0.3).astype(np.float32),
             "axes": np.array([2, 3], np.int64)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["t"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["t"], ["r"], name="relu"),
             helper.make_node("ReduceMean", ["r", "axes"], ["m"], name="squeeze", keepdims=1),
             helper.make_node("Conv", ["m", "w1"], ["h"], name="fc1"),
             helper.make_node("Relu", ["h"], ["hr"], name="relu1"),
             helper.make_node("Conv", ["hr", "w2"], ["g"], name="fc2"),
             helper.make_node("Sigmoid", ["g"], ["s"], name="sig"),
             helper.make_node("Mul", ["r", "s"], ["y"], name="scale")]
    model = make_model(nodes, {"x": np.zeros((2, 8, 11, 13), np.float32)}, ["y"], inits, opset=18)
    check_model(model, {"x": rng.standard_normal((2, 8, 11, 13)).astype(np.float32)})


def test_int64_plan_time_value():
    """Shape arithmetic: ReduceProd of a Shape is known at plan time (Reshape reads it)."""
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("ReduceProd", ["s"], ["n"], name="numel", keepdims=1),
             helper.make_node("Reshape", ["x", "n"], ["y"], name="flat")]
    model = make_model(nodes, {"x": np.zeros((2, 3, 5), np.float32)}, ["y"], opset=13)
    got, _ = check_model(model, {"x": np.random.default_rng(0).standard_normal((2, 3, 5)).astype(np.float32)})
    assert got[0].shape == (30,)


# ------------------------------------------------------------------ errors

def _load_error(model, x, *words):
    with pytest.raises(cnnrt.ModelLoadError) as e:
        cnnrt.load(model).run(None, {"x": x})
    for w in ("red0",) + words:
        assert w in str(e.value), str(e.value)


@pytest.mark.parametrize("op", OPS)
def test_axis_out_of_range(op):
    for opset in (11, 18):
        x = np.zeros((2, 3), np.float32)
        _load_error(reduce_model(op, opset, [2, 3], [2]), x, "axis 2", "out of range")
        _load_error(reduce_model(op, opset, [2, 3], [-3]), x, "axis -3", "out of range")
        _load_error(reduce_model(op, opset, [2, 3], [1, -1]), x, "twice")


@pytest.mark.parametrize("op", OPS)
def test_bad_attributes(op):
    x = np.zeros((2, 3), np.float32)
    _load_error(reduce_model(op, 18, [2, 3], [1], keepdims=2), x, "keepdims")
    if op != "ReduceSum":
        _load_error(reduce_model(op, 18, [2, 3], [1], noop=3), x, "noop_with_empty_axes")
    # the wrong form for the opset
    with pytest.raises(cnnrt.ModelLoadError) as e:
        cnnrt.load(reduce_model(op, 18, [2, 3], [1], axes_as_input=False))
    assert "red0" in str(e.value) and "attribute" in str(e.value)
    with pytest.raises(cnnrt.ModelLoadError) as e:
        cnnrt.load(reduce_model(op, 11, [2, 3], [1], axes_as_input=True))
    assert "red0" in str(e.value) and "input 1" in str(e.value)


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceL2", "ReduceLogSumExp"])
def test_int64_refused(op):
    model = reduce_model(op, 18, [2, 3], [1], dtype=np.int64)
    with pytest.raises(cnnrt.UnsupportedOpError) as e:
        cnnrt.load(model)
    assert "red0" in str(e.value) and "int64" in str(e.value)


def test_axes_from_a_graph_input():
    """axes fed at run time (an int64 graph input: planned per value); a new value re-plans."""
    node = helper.make_node("ReduceSum", ["x", "axes"], ["y"], name="red0", keepdims=0)
    model = make_model([node], {"x": np.zeros((2, 3), np.float32), "axes": np.zeros(1, np.int64)}, ["y"], opset=13)
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    sess = cnnrt.load(model)
    for axes in ([1], [0], [-1]):
        a = np.array(axes, np.int64)
        check_model(model, {"x": x, "axes": a})
        np.testing.assert_allclose(sess.run(None, {"x": x, "axes": a})[0], x.sum(axis=tuple(axes)), rtol=1e-6)
