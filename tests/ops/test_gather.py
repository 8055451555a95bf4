"""Gather vs onnxruntime: data ranks 1..4, every axis (negative too),
indices of rank 0..3 with negative and repeated entries, as a constant or as
an int64 graph input (known when the plan is built), float32/int64/bool
data, batch 1 and 3, large gathers split over 2 threads, every ISA path;
an out-of-range index raises ModelLoadError naming the node."""
import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import assert_load_error, check_model, make_model, random_data

DATA = {1: (7,), 2: (5, 3), 3: (3, 6, 5), 4: (2, 3, 5, 4)}
INDICES = {"scalar": (), "vec": (4,), "mat": (2, 3), "r3": (2, 1, 2), "empty": (0,)}
DTYPES = [np.float32, np.int64, np.bool_]




CASES = [(r, a) for r in DATA for a in range(-r, r)]


@pytest.mark.parametrize("rank,axis", CASES, ids=[f"r{r}a{a}" for r, a in CASES])
@pytest.mark.parametrize("ind", list(INDICES))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_gather(isa, rank, axis, ind, dtype):
    rng = np.random.default_rng(rank * 10 + axis)
    x = random_data(DATA[rank], dtype, rng)
    dim = x.shape[axis]
    idx = np.asarray(rng.integers(-dim, dim, size=INDICES[ind]), np.int64)
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], name="g", axis=axis)], {"x": x}, ["y"], {"i": idx},
                       opset=13)
    check_model(model, {"x": x}, isa=isa)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_indices_as_input(isa, axis):
    """int64 indices fed at run time: each distinct value gets its own plan."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5, 6)).astype(np.float32)
    dim = x.shape[axis]
    i0 = np.asarray(rng.integers(-dim, dim, size=(3,)), np.int64)
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], name="g", axis=axis)], {"x": x, "i": i0}, ["y"])
    check_model(model, {"x": x, "i": i0}, isa=isa)
    sess = cnnrt.load(model, threads=1, isa=isa)
    for k in range(3):
        i = np.asarray(rng.integers(-dim, dim, size=(3,)), np.int64)
        np.testing.assert_array_equal(sess.run(None, {"x": x, "i": i})[0], np.take(x, i, axis=axis))


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("axis,nidx", [(0, 300), (1, 37), (2, 70), (3, 1)])
def test_gather_large(isa, batch, threads, axis, nidx):
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch * 7, 33, 29, 17)).astype(np.float32)
    dim = x.shape[axis]
    idx = rng.integers(-dim, dim, size=(nidx,)).astype(np.int64)
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], name="g", axis=axis)], {"x": x}, ["y"], {"i": idx})
    check_model(model, {"x": x}, isa=isa, threads=threads)


def test_gather_opset7_default_axis(isa):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], name="g")], {"x": x}, ["y"],
                       {"i": np.array([[5, 0], [2, 2]], np.int64)}, opset=7)
    check_model(model, {"x": x}, isa=isa)


def test_gather_int32_indices_constant(isa):
    """The importer widens int32 constants to int64."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], name="g", axis=1)], {"x": x}, ["y"],
                       {"i": np.array([3, -1, 0], np.int32)}, opset=13)
    check_model(model, {"x": x}, isa=isa)




@pytest.mark.parametrize("idx,axis,words", [
    ([0, 5], 1, ["index 5", "axis 1 of size 5"]),
    ([-6], 1, ["index -6"]),
    ([[1, 2], [3, 4]], 0, ["index 3", "position 2", "axis 0 of size 3"]),
    ([0], 2, ["axis 2", "out of range"]),
])
def test_gather_bad(idx, axis, words):
    x = np.zeros((3, 5), np.float32)
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], name="bad_gather", axis=axis)], {"x": x}, ["y"],
                       {"i": np.array(idx, np.int64)})
    assert_load_error(model, {"x": x}, "bad_gather", *words)


def test_gather_bad_index_fed_at_run_time():
    x = np.zeros((3, 5), np.float32)
    i = np.array([0, 7], np.int64)
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], name="bad_gather")], {"x": x, "i": i}, ["y"])
    assert_load_error(model, {"x": x, "i": i}, "bad_gather", "index 7")


def test_gather_bad_index_on_constant_data():
    """All inputs constant: folded at load, so the error comes from the runtime's plan."""
    model = make_model([helper.make_node("Gather", ["d", "i"], ["y"], name="bad_gather"),
                        helper.make_node("Add", ["y", "x"], ["z"], name="add")], {"x": np.zeros((2,), np.float32)}, ["z"],
                       {"d": np.arange(4, dtype=np.float32), "i": np.array([1, 4], np.int64)})
    assert_load_error(model, {"x": np.zeros((2,), np.float32)}, "bad_gather", "index 4")
