"""Reshape, Flatten, Squeeze, Unsqueeze (views: the runtime aliases the input
buffer) vs onnxruntime: ranks 1..5, 0 / -1 / allowzero, negative axes, the
opset 11 (attribute) and 13 (input) forms of Squeeze/Unsqueeze, float32,
int64 and bool data, every ISA path; bad shapes raise ModelLoadError naming
the node."""
import numpy as np
import pytest
from onnx import helper

from helpers import assert_load_error, check_model, make_model, random_data

SHAPES = [(7,), (3, 5), (1, 4, 6), (2, 3, 1, 5), (3, 1, 2, 5, 3)]
DTYPES = [np.float32, np.int64, np.bool_]




def targets(shape):
    """Requested shapes for one input shape: plain, with 0 (copy), with -1."""
    n = int(np.prod(shape))
    out = [[n], [-1], list(reversed(shape)), [1, n, 1], [n, -1]]
    if len(shape) >= 2:
        out += [[0, -1], [-1, shape[-1]], list(shape[1:]) + [shape[0]]]
    if len(shape) >= 3:
        out += [[0, 0, -1], [shape[0] * shape[1], -1, 1]]
    return out


CASES = [(s, t) for s in SHAPES for t in targets(s)]


@pytest.mark.parametrize("shape,target", CASES, ids=[f"{s}->{t}" for s, t in CASES])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_reshape(isa, shape, target, dtype):
    x = random_data(shape, dtype, len(target))
    model = make_model([helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")], {"x": x}, ["y"],
                       {"s": np.array(target, np.int64)}, opset=13)
    check_model(model, {"x": x}, isa=isa)


@pytest.mark.parametrize("shape,target,allowzero", [
    ((0, 3), [3, 0], 1), ((0, 3), [0, 3], 1), ((2, 0, 4), [0, 4, 0], 1), ((2, 3, 4), [0, 12], 0),
    ((2, 0), [0, 7, 0], 1), ((4, 6), [0, -1], 0), ((4, 6), [2, 2, -1], 1),
])
def test_reshape_allowzero(isa, shape, target, allowzero):
    x = random_data(shape, np.float32)
    model = make_model([helper.make_node("Reshape", ["x", "s"], ["y"], name="rs", allowzero=allowzero)], {"x": x}, ["y"],
                       {"s": np.array(target, np.int64)}, opset=14)
    check_model(model, {"x": x}, isa=isa)


@pytest.mark.parametrize("batch", [1, 3])
def test_views_in_a_chain(isa, batch):
    """Views of arena buffers next to in-place ops: a Sigmoid that may run in
    place on the view's buffer must not clobber the other view of it."""
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, 4, 5, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu"),
        helper.make_node("Reshape", ["a", "s"], ["v"], name="rs"),
        helper.make_node("Sigmoid", ["v"], ["b"], name="sig"),
        helper.make_node("Flatten", ["a"], ["c"], name="fl", axis=2),
        helper.make_node("Reshape", ["c", "s"], ["c2"], name="rs2"),
        helper.make_node("Add", ["b", "c2"], ["y"], name="add"),
        helper.make_node("Unsqueeze", ["a"], ["z"], name="us", axes=[0, -1]),
        helper.make_node("Squeeze", ["z"], ["w"], name="sq", axes=[0]),
    ]
    model = make_model(nodes, {"x": x}, ["y", "w", "c"], {"s": np.array([batch, -1], np.int64)}, opset=11)
    check_model(model, {"x": x}, isa=isa)


def test_view_of_feed_is_graph_output(isa):
    x = random_data((3, 4), np.float32)
    model = make_model([helper.make_node("Reshape", ["x", "s"], ["y"], name="rs"),
                        helper.make_node("Flatten", ["x"], ["z"], name="fl", axis=0)], {"x": x}, ["y", "z"],
                       {"s": np.array([2, 6], np.int64)}, opset=13)
    got, _ = check_model(model, {"x": x}, isa=isa)
    assert not np.shares_memory(got[0], x)


@pytest.mark.parametrize("shape", SHAPES + [(2, 0, 3)])
@pytest.mark.parametrize("opset", [9, 13])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_flatten(isa, shape, opset, dtype):
    x = random_data(shape, dtype, 3)
    r = len(shape)
    axes = list(range(0, r + 1)) + (list(range(-r, 0)) if opset >= 11 else [])
    for axis in axes:
        model = make_model([helper.make_node("Flatten", ["x"], ["y"], name="fl", axis=axis)], {"x": x}, ["y"], opset=opset)
        check_model(model, {"x": x}, isa=isa)


def test_flatten_default_axis(isa):
    x = random_data((3, 2, 5, 7), np.float32)
    model = make_model([helper.make_node("Flatten", ["x"], ["y"], name="fl")], {"x": x}, ["y"], opset=13)
    got, _ = check_model(model, {"x": x}, isa=isa)
    assert got[0].shape == (3, 70)


SQUEEZE = [((1,), [0]), ((1,), None), ((3, 1), [1]), ((3, 1), [-1]), ((1, 4, 1), [0, 2]), ((1, 4, 1), [-1, 0]),
           ((1, 4, 1), None), ((2, 1, 3, 1, 5), [1, 3]), ((2, 1, 3, 1, 5), [-2]), ((1, 1, 1, 1, 1), None),
           ((2, 3, 5), None), ((1, 3, 1, 7), [2])]


@pytest.mark.parametrize("shape,axes", SQUEEZE, ids=[f"{s}{a}" for s, a in SQUEEZE])
@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("dtype", [np.float32, np.int64], ids=lambda d: np.dtype(d).name)
def test_squeeze(isa, shape, axes, opset, dtype):
    x = random_data(shape, dtype, 4)
    inits = {}
    if axes is None:
        node = helper.make_node("Squeeze", ["x"], ["y"], name="sq")
    elif opset < 13:
        node = helper.make_node("Squeeze", ["x"], ["y"], name="sq", axes=axes)
    else:
        node = helper.make_node("Squeeze", ["x", "a"], ["y"], name="sq")
        inits = {"a": np.array(axes, np.int64)}
    model = make_model([node], {"x": x}, ["y"], inits, opset=opset)
    check_model(model, {"x": x}, isa=isa)


def test_squeeze_empty_axes_input(isa):
    """An empty axes tensor (opset 13) squeezes every size-1 dim, as onnxruntime does."""
    x = random_data((1, 3, 1, 2), np.float32)
    model = make_model([helper.make_node("Squeeze", ["x", "a"], ["y"], name="sq")], {"x": x}, ["y"],
                       {"a": np.zeros((0,), np.int64)}, opset=13)
    got, _ = check_model(model, {"x": x}, isa=isa)
    assert got[0].shape == (3, 2)


UNSQUEEZE = [((), [0]), ((5,), [0]), ((5,), [1]), ((5,), [-1]), ((5,), [0, 2]), ((3, 4), [1]), ((3, 4), [-1, 0]),
             ((3, 4), [0, 1, 2, 3]), ((2, 3, 4), [-4]), ((2, 3, 4), [4, 0]), ((2, 1, 3, 4), [2]), ((1, 2, 3, 4, 5), [-1])]


@pytest.mark.parametrize("shape,axes", UNSQUEEZE, ids=[f"{s}{a}" for s, a in UNSQUEEZE])
@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_unsqueeze(isa, shape, axes, opset, dtype):
    x = np.asarray(random_data(shape, dtype, 5))
    if opset < 13:
        node, inits = helper.make_node("Unsqueeze", ["x"], ["y"], name="us", axes=axes), {}
    else:
        node, inits = helper.make_node("Unsqueeze", ["x", "a"], ["y"], name="us"), {"a": np.array(axes, np.int64)}
    model = make_model([node], {"x": x}, ["y"], inits, opset=opset)
    check_model(model, {"x": x}, isa=isa)




@pytest.mark.parametrize("target,words", [
    ([4, 4], ["[3, 5]", "[4, 4]", "elements"]),
    ([-1, -1], ["more than one -1"]),
    ([-1, 4], ["[3, 5]", "[-1, 4]"]),
    ([0, 0, 0, 15], ["rank"]),
    ([3, -2, 5], ["invalid dimension -2"]),
])
def test_reshape_bad(target, words):
    x = random_data((3, 5), np.float32)
    model = make_model([helper.make_node("Reshape", ["x", "s"], ["y"], name="bad_reshape")], {"x": x}, ["y"],
                       {"s": np.array(target, np.int64)}, opset=13)
    assert_load_error(model, {"x": x}, "bad_reshape", *words)


def test_reshape_allowzero_with_minus_one_is_bad():
    x = random_data((3, 0), np.float32)
    model = make_model([helper.make_node("Reshape", ["x", "s"], ["y"], name="az", allowzero=1)], {"x": x}, ["y"],
                       {"s": np.array([0, -1], np.int64)}, opset=14)
    assert_load_error(model, {"x": x}, "az", "allowzero")


def test_squeeze_bad():
    x = random_data((1, 3, 1), np.float32)
    model = make_model([helper.make_node("Squeeze", ["x", "a"], ["y"], name="bad_squeeze")], {"x": x}, ["y"],
                       {"a": np.array([1], np.int64)}, opset=13)
    assert_load_error(model, {"x": x}, "bad_squeeze", "dimension 1", "not 1")
    model = make_model([helper.make_node("Squeeze", ["x"], ["y"], name="sq_range", axes=[3])], {"x": x}, ["y"], opset=11)
    assert_load_error(model, {"x": x}, "sq_range", "out of range")


@pytest.mark.parametrize("axes,word", [([1, 1], "twice"), ([0, -3], "twice"), ([3], "out of range"), ([-4], "out of range")])
def test_unsqueeze_bad(axes, word):
    x = random_data((4,), np.float32)
    model = make_model([helper.make_node("Unsqueeze", ["x", "a"], ["y"], name="bad_unsqueeze")], {"x": x}, ["y"],
                       {"a": np.array(axes, np.int64)}, opset=13)
    assert_load_error(model, {"x": x}, "bad_unsqueeze", word)


def test_flatten_bad_axis():
    x = random_data((2, 3), np.float32)
    model = make_model([helper.make_node("Flatten", ["x"], ["y"], name="bad_flatten", axis=3)], {"x": x}, ["y"], opset=13)
    assert_load_error(model, {"x": x}, "bad_flatten", "axis 3")
