"""Tile, Expand and Range vs onnxruntime.
Tile (opset 7, 13): repeats over ranks 1-4 with 0 and 1 entries, float32 /
int64 / bool, repeats fed as an int64 graph input, a large tile over 2
threads; a negative repeat or a wrong count raises ModelLoadError.
Expand (8, 13): broadcasting both ways (shape smaller than the input's rank,
size-1 dims in either), inner and outer broadcast, dtypes, large over 2
threads; an incompatible shape raises ModelLoadError.
Range (11, 27): int64 and float32, positive/negative/fractional deltas, empty
results; delta 0 raises ModelLoadError; Range or Expand asked for 1e12
elements raises ModelLoadError at planning, before any allocation."""
import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import assert_load_error, check_model, make_model, random_data

DTYPES = [np.float32, np.int64, np.bool_]


def tile_model(x, reps, opset=13, reps_input=False):
    feeds = {"x": x}
    inits = {}
    if reps_input:
        feeds["r"] = np.array(reps, np.int64)
    else:
        inits["r"] = np.array(reps, np.int64)
    node = helper.make_node("Tile", ["x", "r"], ["y"], name="tile")
    return make_model([node], feeds, ["y"], inits, opset=opset), feeds


TILES = [((5,), [3]), ((5,), [0]), ((2, 3), [1, 1]), ((2, 3), [2, 3]), ((2, 3), [3, 1]), ((2, 1, 4), [1, 5, 1]),
         ((2, 3, 4, 5), [1, 2, 1, 3]), ((2, 3, 4, 5), [2, 1, 1, 1]), ((1, 3, 1, 1), [2, 1, 4, 5])]


@pytest.mark.parametrize("opset", [7, 13])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", range(len(TILES)))
def test_tile(opset, dtype, case):
    shape, reps = TILES[case]
    x = random_data(shape, dtype, case)
    model, feeds = tile_model(x, reps, opset)
    check_model(model, feeds)


def test_tile_repeats_input():
    x = random_data((2, 3), np.float32, 1)
    model, feeds = tile_model(x, [2, 2], reps_input=True)
    check_model(model, feeds)
    sess = cnnrt.load(model, threads=1)
    for r in ([1, 3], [3, 1], [0, 2]):
        feeds["r"] = np.array(r, np.int64)
        np.testing.assert_array_equal(sess.run(None, feeds)[0], np.tile(x, r))


@pytest.mark.parametrize("threads", [1, 2])
def test_tile_large(threads):
    x = random_data((1, 32, 28, 28), np.float32, 2)
    model, feeds = tile_model(x, [2, 1, 2, 3])
    check_model(model, feeds, threads=threads)


def test_tile_negative_repeat():
    x = random_data((2, 3), np.float32, 0)
    model, feeds = tile_model(x, [1, -2])
    assert_load_error(model, feeds, "tile", "negative")
    model, feeds = tile_model(x, [1, 2, 3])
    assert_load_error(model, feeds, "tile", "rank 2")


def expand_model(x, shape, opset=13):
    node = helper.make_node("Expand", ["x", "s"], ["y"], name="expand")
    return make_model([node], {"x": x}, ["y"], {"s": np.array(shape, np.int64)}, opset=opset), {"x": x}


EXPANDS = [((3, 1), [2, 3, 4]), ((3, 1), [3, 1]), ((1,), [5]), ((), [2, 3]), ((2, 3), [3]), ((2, 3), [1, 1]),
           ((4, 1, 1), [2, 1, 5, 6]), ((1, 3, 1, 1), [2, 3, 7, 7]), ((2, 1, 3), [2, 4, 1]), ((2, 3), [0, 1, 3]),
           ((5, 1, 4), [5, 3, 4])]


@pytest.mark.parametrize("opset", [8, 13])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", range(len(EXPANDS)))
def test_expand(opset, dtype, case):
    shape, target = EXPANDS[case]
    x = np.asarray(random_data(shape, dtype, case))
    model, feeds = expand_model(x, target, opset)
    check_model(model, feeds)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(1, 64, 1, 1), (1, 1, 56, 56), (1, 64, 56, 1)])
def test_expand_large(threads, shape):
    x = random_data(shape, np.float32, 3)
    model, feeds = expand_model(x, [2, 64, 56, 56])
    check_model(model, feeds, threads=threads)


def test_expand_incompatible():
    x = random_data((2, 3), np.float32, 0)
    model, feeds = expand_model(x, [2, 4])
    assert_load_error(model, feeds, "expand", "cannot be broadcast")


def test_expand_absurd_size():
    x = random_data((1, 1), np.float32, 0)
    model, feeds = expand_model(x, [1000000, 1000000])
    assert_load_error(model, feeds, "expand", "limit")


def range_model(start, limit, delta, as_inputs=False, opset=11):
    vals = {"s": start, "l": limit, "d": delta}
    node = helper.make_node("Range", ["s", "l", "d"], ["y"], name="range")
    if as_inputs:
        return make_model([node], vals, ["y"], opset=opset), vals
    # Range feeding an Add with a graph input keeps it from being the whole graph.
    add = helper.make_node("Add", ["y", "z"], ["out"], name="add")
    z = np.zeros((1,), np.asarray(start).dtype)
    return make_model([node, add], {"z": z}, ["out"], vals, opset=opset), {"z": z}


RANGES = [(0, 10, 1), (3, 17, 4), (10, 0, -3), (-5, 5, 2), (5, 5, 1), (5, 0, 1), (0, 1, 3)]


@pytest.mark.parametrize("opset", [11, 27])
@pytest.mark.parametrize("dtype", [np.float32, np.int64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", RANGES, ids=str)
def test_range(opset, dtype, case):
    start, limit, delta = (np.array(v, dtype) for v in case)
    model, feeds = range_model(start, limit, delta, opset=opset)
    check_model(model, feeds)


@pytest.mark.parametrize("case", [(0.5, 3.2, 0.3), (1.0, -2.5, -0.7), (0.0, 1.0, 0.1)], ids=str)
def test_range_fractional(case):
    start, limit, delta = (np.array(v, np.float32) for v in case)
    model, feeds = range_model(start, limit, delta)
    check_model(model, feeds)


def test_range_int64_inputs():
    """int64 bounds fed at run time are known when the plan is built."""
    vals = [np.array(v, np.int64) for v in (2, 20, 3)]
    model, feeds = range_model(*vals, as_inputs=True)
    check_model(model, feeds)


def test_range_float_inputs_refused():
    vals = [np.array(v, np.float32) for v in (2, 20, 3)]
    model, feeds = range_model(*vals, as_inputs=True)
    with pytest.raises(cnnrt.UnsupportedOpError, match="range"):
        cnnrt.load(model, threads=1).run(None, feeds)


def test_range_delta_zero():
    vals = [np.array(v, np.int64) for v in (0, 10, 0)]
    model, feeds = range_model(*vals)
    assert_load_error(model, feeds, "range", "delta is 0")


@pytest.mark.parametrize("dtype", [np.float32, np.int64], ids=lambda d: np.dtype(d).name)
def test_range_absurd_size(dtype):
    vals = [np.array(v, dtype) for v in (0, 1e12, 1)]
    model, feeds = range_model(*vals)
    assert_load_error(model, feeds, "range", "limit")
