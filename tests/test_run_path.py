"""Session.run's two paths: arrays that need no conversion run straight from
the feeds dict (_core.run_dict); anything else returns None there and takes
the converting path. Both must give the same results and errors, and the plan
cache must key plans on shapes and on the values of int64/bool inputs."""
from __future__ import annotations

import collections
import threading

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import cnnrt


def _model(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "run_path", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _conv_model():
    """x [N, 3, 7, 7] -> Conv 3x3 (5 channels) -> Relu -> y."""
    w = np.random.default_rng(0).standard_normal((5, 3, 3, 3)).astype(np.float32)
    return _model([helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                   helper.make_node("Relu", ["c"], ["y"], name="relu")],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 7, 7])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5, 7, 7])],
                  [numpy_helper.from_array(w, "w")])


@pytest.fixture(scope="module")
def conv_sess():
    return cnnrt.load(_conv_model(), threads=1)


def _x(batch=2, seed=1):
    return np.random.default_rng(seed).standard_normal((batch, 3, 7, 7)).astype(np.float32)


def test_direct_path_taken_only_for_ready_arrays(conv_sess):
    x = _x()
    core = conv_sess._core
    assert isinstance(core.run_dict({"x": x}), list)
    for feeds in ({"x": x.astype(np.float64)},                       # needs conversion
                  {"x": np.asfortranarray(x)},                       # not C-contiguous
                  {"x": x.astype(">f4")},                            # foreign byte order
                  {"x": x.tolist()},                                 # not an array
                  {"x": x[0]},                                       # wrong rank: the error path
                  {"x": _x()[:, :2].copy()},                         # wrong static dim
                  {"x": x, "extra": x},                              # unknown name
                  {"y": x},                                          # missing name
                  collections.OrderedDict(x=x),                      # not exactly a dict
                  [x]):                                              # not a dict at all
        assert core.run_dict(feeds) is None


def test_paths_agree_bit_for_bit(conv_sess):
    x = _x(3)
    want = conv_sess.run(None, {"x": x})[0]
    assert np.array_equal(conv_sess._core.run([x])[0], want)
    for other in (x.astype(np.float64), np.asfortranarray(x), x.astype(">f4"), x.tolist(),
                  collections.OrderedDict(x=x)):
        feeds = other if isinstance(other, dict) else {"x": other}
        got = conv_sess.run(None, feeds)[0]
        assert got.dtype == np.float32 and np.array_equal(got, want)


def test_errors_are_the_same_on_both_paths(conv_sess):
    with pytest.raises(cnnrt.InputError, match=r"input 'x': expected rank 4 .*received rank 3"):
        conv_sess.run(None, {"x": _x()[0]})
    with pytest.raises(cnnrt.InputError, match=r"dimension 1 must be 3"):
        conv_sess.run(None, {"x": _x()[:, :2].copy()})
    with pytest.raises(cnnrt.InputError, match=r"unknown input name\(s\) \['extra'\]"):
        conv_sess.run(None, {"x": _x(), "extra": _x()})
    with pytest.raises(cnnrt.InputError, match=r"missing input 'x'"):
        conv_sess.run(None, {})
    with pytest.raises(cnnrt.InputError, match=r"feeds must be a dict"):
        conv_sess.run(None, [_x()])


def test_outputs_own_fresh_writeable_memory(conv_sess):
    x = _x(1)
    a = conv_sess.run(None, {"x": x})[0]
    b = conv_sess.run(None, {"x": x})[0]
    assert a.flags.c_contiguous and a.flags.writeable and a.flags.owndata
    assert not np.shares_memory(a, b)
    a[...] = -1
    assert np.array_equal(conv_sess.run(None, {"x": x})[0], b)


def test_plan_cache_most_recent_and_eviction():
    sess = cnnrt.load(_conv_model(), threads=1, max_plans=2)
    ref = cnnrt.load(_conv_model(), threads=1)
    for batch in [1, 2, 1, 3, 1, 2, 2, 3]:
        x = _x(batch, seed=batch)
        got = sess.run(None, {"x": x})[0]
        assert got.shape == (batch, 5, 7, 7)
        assert np.array_equal(got, ref._core.run([x])[0])
        assert sess._core.stats()["cached_plans"] <= 2


def _reshape_model():
    """y = Reshape(x, s) with s an int64 graph input: the plan depends on s's values."""
    return _model([helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6]),
                   helper.make_tensor_value_info("s", TensorProto.INT64, [2])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])


def test_int64_input_values_select_the_plan():
    sess = cnnrt.load(_reshape_model(), threads=1)
    x = np.arange(6, dtype=np.float32)
    for shape in ([2, 3], [3, 2], [2, 3], [6, 1], [1, 6], [3, 2]):
        s = np.array(shape, np.int64)
        assert sess._core.run_dict({"x": x, "s": s}) is not None
        got = sess.run(None, {"x": x, "s": s})[0]
        assert got.shape == tuple(shape) and np.array_equal(got.ravel(), x)
    assert sess._core.stats()["cached_plans"] == 4
    # Converted on the other path (int32, a list), same plan as the int64 array.
    assert sess.run(None, {"x": x, "s": np.array([3, 2], np.int32)})[0].shape == (3, 2)
    assert sess.run(None, {"x": x, "s": [2, 3]})[0].shape == (2, 3)
    assert sess._core.stats()["cached_plans"] == 4


def test_bool_input_runs_directly():
    sess = cnnrt.load(_model([helper.make_node("Identity", ["b"], ["y"], name="ident")],
                             [helper.make_tensor_value_info("b", TensorProto.BOOL, [2, 3])],
                             [helper.make_tensor_value_info("y", TensorProto.BOOL, [2, 3])]), threads=1)
    b = np.array([[True, False, True], [False, False, True]])
    assert sess._core.run_dict({"b": b}) is not None
    got = sess.run(None, {"b": b})[0]
    assert got.dtype == np.bool_ and np.array_equal(got, b)
    with pytest.raises(cnnrt.InputError, match="expected bool"):
        sess.run(None, {"b": b.astype(np.float32)})


def test_feeds_dict_changed_by_another_thread_while_running(conv_sess):
    """The arrays stay alive and unchanged in shape while the GIL is released,
    whatever another thread does to the dict."""
    x = _x(2)
    want = conv_sess.run(None, {"x": x})[0]
    feeds = {"x": x.copy()}
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            feeds["x"] = x.copy()

    t = threading.Thread(target=churn)
    t.start()
    try:
        for _ in range(300):
            assert np.array_equal(conv_sess.run(None, feeds)[0], want)
    finally:
        stop.set()
        t.join()
