"""ArgMax, ArgMin, TopK and LpNormalization vs onnxruntime: every axis
(positive and negative) of ranks 1-5 with odd sizes, keepdims 0/1,
select_last_index with ties, every opset that changed the ops (ArgMax/Min 7,
11, 12, 13; TopK 7 with the k attribute, 10 with the K input, 11 with
largest/sorted/negative axes; LpNormalization p 1/2), float32 and int64,
ties (TopK: the lower index first, as onnxruntime), k = 0 and k = the axis
size, NaN, on every ISA path; one bad input per op naming the node."""
import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import check_model, make_model, run_cnnrt, run_ort

SHAPES = [[7], [3, 17], [2, 5, 3], [3, 4, 5, 7], [2, 3, 1, 4, 5]]


def rand(shape, seed, dtype=np.float32, ties=False):
    rng = np.random.default_rng(seed)
    if dtype == np.int64 or ties:
        x = rng.integers(-3, 4, size=shape)  # few distinct values: many ties
        return x.astype(dtype)
    return rng.standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------- ArgMax/Min

def arg_model(op, opset, shape, dtype=np.float32, **attrs):
    node = helper.make_node(op, ["x"], ["y"], name="arg0", **attrs)
    return make_model([node], {"x": np.zeros(shape, dtype)}, ["y"], opset=opset)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_arg_axes_keepdims_opsets(op, dtype):
    for opset in (7, 11, 12, 13):
        for k, shape in enumerate(SHAPES):
            r = len(shape)
            axes = range(0, r) if opset < 11 else range(-r, r)  # negative axes from opset 11
            for axis in list(axes) + [None]:
                for keep in (None, 0, 1):
                    lasts = (None, 0, 1) if opset >= 12 else (None,)
                    for last in lasts:
                        attrs = {n: v for n, v in (("axis", axis), ("keepdims", keep), ("select_last_index", last))
                                 if v is not None}
                        model = arg_model(op, opset, shape, dtype, **attrs)
                        check_model(model, {"x": rand(shape, k + opset, dtype, ties=True)})
                        if dtype == np.float32:
                            check_model(model, {"x": rand(shape, k + opset)})


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
def test_arg_ties_against_numpy(op):
    """First index of the extreme value, or the last with select_last_index=1."""
    x = np.array([[1, 3, 3, 0, 3], [2, 2, 2, 2, 2], [0, -1, 5, -1, 5]], np.float32)
    f = np.argmax if op == "ArgMax" else np.argmin
    first = f(x, axis=1)
    last = x.shape[1] - 1 - f(x[:, ::-1], axis=1)
    for sel, want in ((0, first), (1, last)):
        got = run_cnnrt(arg_model(op, 13, [3, 5], axis=1, keepdims=0, select_last_index=sel), {"x": x})[0]
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
def test_arg_nan_and_inf(op):
    """NaN wins and its first index is returned, as numpy's argmax/argmin
    (the onnx reference implementation). onnxruntime keeps a NaN only when it
    comes first; infinities agree with it."""
    x = np.array([[1, np.inf, 2], [np.nan, 1, 2], [1, np.nan, np.nan], [-np.inf, 1, -np.inf]], np.float32)
    f = np.argmax if op == "ArgMax" else np.argmin
    got = run_cnnrt(arg_model(op, 13, [4, 3], axis=1, keepdims=0), {"x": x})[0]
    np.testing.assert_array_equal(got, f(x, axis=1))
    finite_rows = x[[0, 3]]
    check_model(arg_model(op, 13, [2, 3], axis=1), {"x": finite_rows})


def test_arg_large_inner_blocks():
    """An inner size past the 256-wide accumulator block, and long axes."""
    for shape, axis in (([3, 40, 300], 1), ([2, 1000], 1), ([600, 5], 0)):
        for op in ("ArgMax", "ArgMin"):
            check_model(arg_model(op, 13, shape, axis=axis), {"x": rand(shape, 1)})


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
def test_arg_bad_inputs(op):
    x = np.zeros((2, 3), np.float32)
    for attrs, words in (({"axis": 2}, ["axis 2", "out of range"]), ({"axis": -3}, ["axis -3", "out of range"]),
                         ({"keepdims": 2}, ["keepdims"]), ({"select_last_index": 5}, ["select_last_index"])):
        with pytest.raises(cnnrt.ModelLoadError) as e:
            cnnrt.load(arg_model(op, 13, [2, 3], **attrs)).run(None, {"x": x})
        for w in ["arg0"] + words:
            assert w in str(e.value), str(e.value)


# ---------------------------------------------------------------------- TopK

def topk_model(opset, shape, k, dtype=np.float32, k_as_input=None, **attrs):
    as_input = opset >= 10 if k_as_input is None else k_as_input
    inits = {}
    if as_input:
        inputs = ["x", "k"]
        inits["k"] = np.array([k], np.int64)
    else:
        inputs = ["x"]
        attrs["k"] = k
    node = helper.make_node("TopK", inputs, ["v", "i"], name="topk0", **attrs)
    return make_model([node], {"x": np.zeros(shape, dtype)}, ["v", "i"], inits, opset=opset)


def check_topk(model, x, sorted_=True):
    ref = run_ort(model, {"x": x})
    got = run_cnnrt(model, {"x": x})
    if not sorted_:  # order unspecified: compare as sets along the axis (sorted by index)
        axis = model.graph.node[0].attribute
        ax = [a.i for a in axis if a.name == "axis"]
        ax = ax[0] if ax else -1
        def canon(v, i):
            o = np.argsort(i, axis=ax, kind="stable")
            return np.take_along_axis(v, o, ax), np.take_along_axis(i, o, ax)
        ref = canon(*ref)
        got = canon(*got)
    assert got[1].dtype == np.int64
    np.testing.assert_array_equal(got[1], ref[1])
    np.testing.assert_array_equal(got[0], ref[0])


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_topk_sweep(dtype):
    for opset in (7, 10, 11, 24) if dtype == np.float32 else (11, 24):  # int64 TopK from opset 11
        for n, shape in enumerate(SHAPES):
            r = len(shape)
            axes = [None, -1] + (list(range(-r, r)) if opset >= 11 else list(range(r)))
            for axis in axes:
                dim = shape[-1 if axis is None else axis]
                for k in sorted({0, 1, min(3, dim), dim}):
                    variants = [{}] if opset < 11 else [{}, {"largest": 0}, {"largest": 1, "sorted": 1},
                                                         {"largest": 0, "sorted": 0}, {"sorted": 0}]
                    for attrs in variants:
                        if axis is not None:
                            attrs = dict(attrs, axis=axis)
                        if k == 0 and opset < 10:
                            continue  # onnxruntime rejects the k=0 attribute
                        model = topk_model(opset, shape, k, dtype, **attrs)
                        x = rand(shape, n + k + opset, dtype, ties=(n % 2 == 0))
                        check_topk(model, x, sorted_=attrs.get("sorted", 1) == 1)


def test_topk_ties_lower_index_first():
    x = np.array([[3, 1, 3, 2, 3, 1]], np.float32)
    for largest, want in ((1, [0, 2, 4, 3]), (0, [1, 5, 3, 0])):
        model = topk_model(11, [1, 6], 4, largest=largest)
        check_topk(model, x)
        got = run_cnnrt(model, {"x": x})
        np.testing.assert_array_equal(got[1][0], want)


def test_topk_long_axis_threads_inner():
    for shape, axis, k in (([2, 1000], 1, 17), ([3, 300, 5], 1, 100), ([2, 3, 257], -1, 256)):
        model = topk_model(11, shape, k, axis=axis)
        check_topk(model, rand(shape, 7))


def test_topk_values_output_unused():
    """Only the indices read (argmax-by-TopK), and only the values read."""
    for out in ("i", "v"):
        node = helper.make_node("TopK", ["x", "k"], ["v", "i"], name="topk0", axis=1)
        model = make_model([node], {"x": np.zeros((3, 9), np.float32)}, [out], {"k": np.array([4], np.int64)},
                           opset=11)
        check_model(model, {"x": rand([3, 9], 3)})


def test_topk_nan_largest():
    """NaN ranks above every number (numpy's sort order)."""
    x = np.array([[1, np.nan, 3, -np.inf, np.inf]], np.float32)
    v, i = run_cnnrt(topk_model(11, [1, 5], 3), {"x": x})
    np.testing.assert_array_equal(i[0], [1, 4, 2])
    v, i = run_cnnrt(topk_model(11, [1, 5], 2, largest=0), {"x": x})
    np.testing.assert_array_equal(i[0], [3, 0])


def test_topk_bad_inputs():
    x = np.zeros((2, 5), np.float32)
    for model, words in ((topk_model(11, [2, 5], 6), ["k = 6", "exceeds", "5"]),
                         (topk_model(11, [2, 5], -1), ["k = -1", "negative"]),
                         (topk_model(11, [2, 5], 2, axis=2), ["axis 2", "out of range"]),
                         (topk_model(11, [2, 5], 2, largest=3), ["largest"])):
        with pytest.raises(cnnrt.ModelLoadError) as e:
            cnnrt.load(model).run(None, {"x": x})
        for w in ["topk0"] + words:
            assert w in str(e.value), str(e.value)
    # the wrong k form for the opset
    with pytest.raises(cnnrt.ModelLoadError) as e:
        cnnrt.load(topk_model(11, [2, 5], 2, k_as_input=False))
    assert "topk0" in str(e.value) and "attribute" in str(e.value)


# ----------------------------------------------------------- LpNormalization

def lp_model(shape, **attrs):
    node = helper.make_node("LpNormalization", ["x"], ["y"], name="lp0", **attrs)
    return make_model([node], {"x": np.zeros(shape, np.float32)}, ["y"], opset=17)


def test_lpnorm_sweep(isa):
    for n, shape in enumerate(SHAPES + [[2, 300, 3], [3, 1000]]):
        r = len(shape)
        for axis in list(range(-r, r)) + [None]:
            for p in (None, 1, 2):
                attrs = {k: v for k, v in (("axis", axis), ("p", p)) if v is not None}
                check_model(lp_model(shape, **attrs), {"x": rand(shape, n)}, isa=isa)


def test_lpnorm_zero_rows(isa):
    x = np.array([[0, 0, 0], [1, -2, 2], [0, 0, 0]], np.float32)
    for p in (1, 2):
        for axis in (0, 1):
            got, _ = check_model(lp_model([3, 3], axis=axis, p=p), {"x": x}, isa=isa)
            assert np.isfinite(got[0]).all()


def test_lpnorm_bad_p():
    for p in (0, 3, -1):
        with pytest.raises(cnnrt.ModelLoadError) as e:
            cnnrt.load(lp_model([2, 3], p=p)).run(None, {"x": np.ones((2, 3), np.float32)})
        assert "lp0" in str(e.value) and f"got {p}" in str(e.value)
    with pytest.raises(cnnrt.ModelLoadError) as e:
        cnnrt.load(lp_model([2, 3], axis=2)).run(None, {"x": np.ones((2, 3), np.float32)})
    assert "lp0" in str(e.value) and "out of range" in str(e.value)
