"""Transpose vs onnxruntime: every permutation up to rank 4, a sample at rank
5, the default (reversed) perm, size-1 dims (merged away), sizes across the
32-element tile edge, float32/int64/bool data, 1 and 2 threads (large copies
split across threads), every ISA path; a bad perm raises ModelLoadError
naming the node."""
import itertools

import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import check_model, make_model, random_data

SHAPES = {1: (7,), 2: (5, 3), 3: (3, 1, 7), 4: (2, 3, 5, 4), 5: (2, 3, 1, 4, 5)}
DTYPES = [np.float32, np.int64, np.bool_]




def perms():
    out = []
    for r in (1, 2, 3, 4):
        out += [(SHAPES[r], p) for p in itertools.permutations(range(r))]
    rng = np.random.default_rng(5)
    out += [(SHAPES[5], tuple(int(v) for v in rng.permutation(5))) for _ in range(8)]
    out += [(SHAPES[5], (0, 1, 2, 3, 4)), (SHAPES[5], (4, 3, 2, 1, 0)), (SHAPES[5], (0, 2, 3, 4, 1))]
    return out


PERMS = perms()


@pytest.mark.parametrize("shape,perm", PERMS, ids=[f"{s}{p}" for s, p in PERMS])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_transpose(isa, shape, perm, dtype):
    x = random_data(shape, dtype, len(perm))
    model = make_model([helper.make_node("Transpose", ["x"], ["y"], name="tr", perm=list(perm))], {"x": x}, ["y"])
    check_model(model, {"x": x}, isa=isa)


@pytest.mark.parametrize("shape", [(6,), (3, 4), (2, 1, 5), (3, 2, 4, 5), (1, 2, 3, 2, 3), ()])
def test_transpose_default_perm(isa, shape):
    x = np.asarray(random_data(shape, np.float32, 1))
    model = make_model([helper.make_node("Transpose", ["x"], ["y"], name="tr")], {"x": x}, ["y"], opset=7)
    check_model(model, {"x": x}, isa=isa)


# NCHW <-> NHWC and other layout moves at sizes around the tile (32) edges,
# large enough (> 64 KiB) that two threads split the copy.
BIG = [((1, 33, 31, 17), (0, 2, 3, 1)), ((3, 31, 33, 17), (0, 3, 1, 2)), ((2, 64, 65), (0, 2, 1)),
       ((129, 67), (1, 0)), ((3, 5, 32, 32), (1, 0, 2, 3)), ((4, 7, 33, 9), (2, 1, 3, 0)),
       ((1, 1, 1000, 1), (3, 2, 1, 0)), ((2, 0, 5), (2, 0, 1)),
       # the layout conversions with a narrow side (1-4 channels): their own path
       ((1, 3, 97, 101), (0, 2, 3, 1)), ((3, 2, 67, 71), (0, 2, 3, 1)), ((2, 4, 45, 91), (0, 2, 3, 1)),
       ((1, 97, 101, 3), (0, 3, 1, 2)), ((3, 67, 71, 1), (0, 3, 1, 2)), ((2, 45, 91, 4), (0, 3, 1, 2)),
       ((3, 7, 5), (0, 2, 1)), ((5, 3, 4000), (0, 2, 1)), ((1500, 4, 17), (0, 2, 1)), ((1500, 17, 3), (0, 2, 1))]


@pytest.mark.parametrize("shape,perm", BIG, ids=[f"{s}{p}" for s, p in BIG])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_transpose_large(isa, shape, perm, threads, dtype):
    x = random_data(shape, dtype, 2)
    model = make_model([helper.make_node("Transpose", ["x"], ["y"], name="tr", perm=list(perm))], {"x": x}, ["y"])
    check_model(model, {"x": x}, isa=isa, threads=threads)


def test_transpose_in_a_graph(isa):
    """Transpose between computations (arena buffers), batch 1 and 3."""
    for batch in (1, 3):
        x = random_data((batch, 5, 6, 7), np.float32, batch)
        nodes = [helper.make_node("Relu", ["x"], ["a"], name="relu"),
                 helper.make_node("Transpose", ["a"], ["b"], name="tr", perm=[0, 2, 3, 1]),
                 helper.make_node("Sigmoid", ["b"], ["c"], name="sig"),
                 helper.make_node("Transpose", ["c"], ["y"], name="tr2", perm=[0, 3, 1, 2])]
        model = make_model(nodes, {"x": x}, ["y"])
        check_model(model, {"x": x}, isa=isa)


@pytest.mark.parametrize("perm,word", [([0, 0, 1], "appears twice"), ([0, 1], "rank 3"), ([0, 1, 3], "entry 3"),
                                       ([0, -1, 1], "entry -1"), ([2, 1, 0, 3], "rank 3")])
def test_transpose_bad_perm(perm, word):
    x = random_data((2, 3, 4), np.float32)
    model = make_model([helper.make_node("Transpose", ["x"], ["y"], name="bad_transpose", perm=perm)], {"x": x}, ["y"])
    with pytest.raises(cnnrt.ModelLoadError) as e:
        cnnrt.load(model, threads=1).run(None, {"x": x})
    assert "bad_transpose" in str(e.value) and word in str(e.value), str(e.value)
