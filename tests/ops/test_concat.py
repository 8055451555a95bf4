"""Concat vs onnxruntime: ranks 1..5, every axis (negative from opset 11),
1..4 inputs of different sizes along the axis, zero-size inputs, float32,
int64 and bool, batch 1 and 3, large copies split over 2 threads, every ISA
path; mismatched shapes raise ModelLoadError naming the node."""
import numpy as np
import pytest
from onnx import helper

from helpers import assert_load_error, check_model, make_model, random_data

BASE = {1: (5,), 2: (3, 7), 3: (2, 3, 5), 4: (3, 5, 4, 3), 5: (1, 3, 2, 4, 3)}
DTYPES = [np.float32, np.int64, np.bool_]




def run_concat(isa, base, axis, sizes, dtype, opset=13, threads=1, seed=0):
    rng = np.random.default_rng(seed)
    ax = axis % len(base)
    feeds = {}
    for k, n in enumerate(sizes):
        s = list(base)
        s[ax] = n
        feeds[f"x{k}"] = random_data(tuple(s), dtype, rng)
    node = helper.make_node("Concat", list(feeds), ["y"], name="cat", axis=axis)
    model = make_model([node], feeds, ["y"], opset=opset)
    check_model(model, feeds, isa=isa, threads=threads)


CASES = [(r, a) for r in BASE for a in range(-r, r)]


@pytest.mark.parametrize("rank,axis", CASES, ids=[f"r{r}a{a}" for r, a in CASES])
@pytest.mark.parametrize("sizes", [(2,), (1, 3), (4, 1, 2), (2, 3, 1, 5)], ids=lambda s: "n" + "-".join(map(str, s)))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_concat(isa, rank, axis, sizes, dtype):
    run_concat(isa, BASE[rank], axis, sizes, dtype, opset=11 if axis < 0 else 7)


@pytest.mark.parametrize("sizes", [(0, 3), (2, 0, 1), (0,), (0, 0)], ids=lambda s: "n" + "-".join(map(str, s)))
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_zero_size(isa, sizes, axis):
    run_concat(isa, (3, 4, 2), axis, sizes, np.float32)


def test_concat_zero_size_other_dim(isa):
    run_concat(isa, (3, 0, 2), 0, (1, 2, 3), np.float32)


# NCHW channel concat (an Inception/DenseNet block), batch 1 and 3, channels
# not multiples of 16, large enough (> 64 KiB) to split across threads.
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("axis,sizes", [(1, (13, 24, 33, 7)), (0, (2, 1)), (2, (17, 40)), (3, (5, 31, 9)), (-3, (3, 77))])
@pytest.mark.parametrize("threads", [1, 2])
def test_concat_large(isa, batch, axis, sizes, threads):
    run_concat(isa, (batch, 16, 19, 23), axis, sizes, np.float32, opset=13, threads=threads, seed=batch)


def test_concat_int64_shape_arithmetic(isa):
    """Concat of int64 constants and a computed shape (evaluated at plan time)."""
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("Concat", ["a", "s", "b"], ["c"], name="cat", axis=0),
             helper.make_node("Reshape", ["x", "t"], ["y"], name="rs")]
    model = make_model(nodes, {"x": x}, ["c", "y"], {"a": np.array([7], np.int64), "b": np.array([], np.int64),
                                                    "t": np.array([-1, 5], np.int64)}, opset=13)
    check_model(model, {"x": x}, isa=isa)




@pytest.mark.parametrize("shapes,axis,words", [
    (((2, 3), (2, 4)), 0, ["dimension 1 differs", "[2, 4]", "[2, 3]"]),
    (((2, 3, 4), (2, 3, 4), (2, 5, 4)), 2, ["input 2", "dimension 1 differs"]),
    (((2, 3), (2, 3, 1)), 1, ["rank"]),
    (((2, 3), (2, 3)), 2, ["axis 2", "out of range"]),
    (((2, 3), (2, 3)), -3, ["axis -3", "out of range"]),
])
def test_concat_bad(shapes, axis, words):
    feeds = {f"x{k}": np.zeros(s, np.float32) for k, s in enumerate(shapes)}
    model = make_model([helper.make_node("Concat", list(feeds), ["y"], name="bad_concat", axis=axis)], feeds, ["y"])
    assert_load_error(model, feeds, "bad_concat", *words)


def test_concat_bad_dtype():
    feeds = {"a": np.zeros((2,), np.float32), "b": np.zeros((2,), np.int64)}
    model = make_model([helper.make_node("Concat", ["a", "b"], ["y"], name="mixed", axis=0)], feeds, ["y"])
    assert_load_error(model, feeds, "mixed", "dtype")
