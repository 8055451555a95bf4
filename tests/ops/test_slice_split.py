"""Slice and Split vs onnxruntime.
Slice: attribute form (opset 7, 9) and input form (10, 11, 13) with steps,
negative indices, negative steps, negative axes, omitted axes/steps,
INT64_MIN/MAX bounds (clamped), empty results, float32/int64/bool, starts
fed as an int64 graph input, a large slice over 2 threads; step 0 and a
repeated axis raise ModelLoadError naming the node.
Split: `split` attribute (7, 11), split input (13, 18), num_outputs with an
uneven last chunk (18), equal parts, negative axis, zero-size parts,
unrequested outputs; sizes that do not sum to the axis raise ModelLoadError."""
import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import assert_load_error, check_model, make_model, random_data

I64MAX, I64MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min
SHAPE = (4, 5, 6, 7)

# starts, ends, axes (None: omitted), steps (None: omitted)
SLICES = {
    "basic": ([1, 0], [3, 4], [0, 1], None),
    "no_axes": ([0, 1, 2], [2, 4, 5], None, None),
    "neg_idx": ([-3, -5], [-1, 100], [1, 3], None),
    "neg_axes": ([1, 2], [5, 6], [-1, -2], None),
    "steps": ([0, 1, 5], [4, 7, 0], [0, 3, 2], [2, 3, -2]),
    "neg_step_full": ([-1], [I64MIN], [2], [-1]),
    "extremes": ([I64MIN, 2], [I64MAX, I64MAX], [1, 3], [1, 2]),
    "neg_step_extremes": ([I64MAX, 3], [I64MIN, -100], [0, 1], [-3, -1]),
    "empty": ([3], [1], [1], [1]),
    "empty_neg": ([1], [3], [2], [-1]),
    "big_step": ([0], [I64MAX], [3], [I64MAX]),
    "big_neg_step": ([-1], [I64MIN], [3], [I64MIN]),
    "inner_contig": ([1], [5], [0], None),
}


def slice_model(x, starts, ends, axes, steps, opset, runtime_starts=False):
    feeds = {"x": x}
    if opset < 10:
        attrs = {"starts": starts, "ends": ends}
        if axes is not None:
            attrs["axes"] = axes
        node = helper.make_node("Slice", ["x"], ["y"], name="slice", **attrs)
        return make_model([node], feeds, ["y"], opset=opset), feeds
    inits = {"e": np.array(ends, np.int64)}
    ins = ["x", "s", "e"]
    if runtime_starts:
        feeds["s"] = np.array(starts, np.int64)
    else:
        inits["s"] = np.array(starts, np.int64)
    if axes is not None or steps is not None:
        ins.append("a" if axes is not None else "")
        if axes is not None:
            inits["a"] = np.array(axes, np.int64)
    if steps is not None:
        ins.append("t")
        inits["t"] = np.array(steps, np.int64)
    node = helper.make_node("Slice", ins, ["y"], name="slice")
    return make_model([node], feeds, ["y"], inits, opset=opset), feeds


CASES = [(o, k) for o in [10, 11, 13] for k in SLICES] + [
    (o, k) for o in [7, 9] for k, v in SLICES.items() if v[3] is None and k != "extremes"]


@pytest.mark.parametrize("opset,case", CASES, ids=[f"op{o}-{k}" for o, k in CASES])
def test_slice(opset, case):
    x = random_data(SHAPE, np.float32, 1)
    model, feeds = slice_model(x, *SLICES[case], opset)
    check_model(model, feeds)


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", ["steps", "neg_step_full", "neg_axes"])
def test_slice_dtypes(dtype, case):
    x = random_data(SHAPE, dtype, 2)
    model, feeds = slice_model(x, *SLICES[case], 13)
    check_model(model, feeds)


def test_slice_starts_as_input():
    """starts fed at run time (int64: known when the plan is built, one plan per value)."""
    x = random_data(SHAPE, np.float32, 3)
    model, feeds = slice_model(x, [1, 2], [4, 6], [0, 2], [1, 2], 13, runtime_starts=True)
    check_model(model, feeds)
    sess = cnnrt.load(model, threads=1)
    for s in ([0, 0], [2, -3], [-1, 1]):
        feeds["s"] = np.array(s, np.int64)
        np.testing.assert_array_equal(sess.run(None, feeds)[0], x[s[0]:4, :, s[1]:6:2])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("steps", [[1, 1], [1, 2], [-1, -1]])
def test_slice_large(threads, steps):
    x = random_data((2, 64, 56, 56), np.float32, 4)
    st = [50, -3] if steps[0] < 0 else [3, 1]
    en = [1, -50] if steps[0] < 0 else [60, 50]
    model, feeds = slice_model(x, st, en, [1, 3], steps, 13)
    check_model(model, feeds, threads=threads)


def test_slice_step_zero():
    x = random_data(SHAPE, np.float32, 0)
    model, feeds = slice_model(x, [0], [3], [1], [0], 13)
    assert_load_error(model, feeds, "slice", "step 0")


def test_slice_repeated_axis():
    x = random_data(SHAPE, np.float32, 0)
    model, feeds = slice_model(x, [0, 1], [3, 3], [1, -3], None, 13)
    assert_load_error(model, feeds, "slice", "twice")


# ---------------------------------------------------------------- Split

def split_model(x, n_out, axis, opset, split=None, num_outputs=None, as_input=False, wanted=None):
    attrs = {"axis": axis}
    inits = {}
    ins = ["x"]
    if split is not None:
        if as_input:
            ins.append("sp")
            inits["sp"] = np.array(split, np.int64)
        else:
            attrs["split"] = split
    if num_outputs is not None:
        attrs["num_outputs"] = num_outputs
    outs = [f"y{k}" for k in range(n_out)]
    node_outs = [o if wanted is None or k in wanted else "" for k, o in enumerate(outs)]
    node = helper.make_node("Split", ins, node_outs, name="split", **attrs)
    graph_outs = [o for o in node_outs if o]
    return make_model([node], {"x": x}, graph_outs, inits, opset=opset), {"x": x}


SPLITS = [  # opset, axis, split, as_input, num_outputs, n_out
    (7, 1, [2, 3], False, None, 2),
    (7, 0, None, False, None, 2),
    (11, -1, [1, 4, 2], False, None, 3),
    (11, 2, None, False, None, 3),
    (13, 3, [3, 0, 4], True, None, 3),
    (13, -4, [1, 3], True, None, 2),
    (13, 1, None, False, None, 5),
    (18, 1, [2, 3], True, None, 2),
    (18, 3, None, False, 3, 3),   # 7 -> 3, 3, 1
    (18, 2, None, False, 4, 4),   # 6 -> 2, 2, 2, 0
    (18, -1, None, False, 2, 2),  # 7 -> 4, 3
    (18, 0, None, False, 4, 4),
]


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", range(len(SPLITS)))
def test_split(case, dtype):
    opset, axis, split, as_input, num, n_out = SPLITS[case]
    x = random_data(SHAPE, dtype, case)
    model, feeds = split_model(x, n_out, axis, opset, split=split, num_outputs=num, as_input=as_input)
    check_model(model, feeds)


def test_split_some_outputs():
    """An output left unnamed is not computed (onnxruntime 1.32 crashes on
    this model, so numpy is the reference)."""
    x = random_data(SHAPE, np.float32, 5)
    model, feeds = split_model(x, 3, 1, 13, split=[1, 2, 2], as_input=True, wanted={0, 2})
    y0, y2 = cnnrt.load(model, threads=1).run(None, feeds)
    np.testing.assert_array_equal(y0, x[:, :1])
    np.testing.assert_array_equal(y2, x[:, 3:])


@pytest.mark.parametrize("threads", [1, 2])
def test_split_large(threads):
    x = random_data((2, 96, 40, 40), np.float32, 6)
    model, feeds = split_model(x, 3, 1, 13, split=[32, 48, 16], as_input=True)
    check_model(model, feeds, threads=threads)


def test_split_sizes_not_summing():
    x = random_data(SHAPE, np.float32, 0)
    model, feeds = split_model(x, 2, 1, 13, split=[2, 2], as_input=True)
    assert_load_error(model, feeds, "split", "sums to 4")


def test_split_uneven_without_sizes():
    x = random_data(SHAPE, np.float32, 0)
    model, feeds = split_model(x, 2, 1, 13)
    assert_load_error(model, feeds, "split", "equal parts")
