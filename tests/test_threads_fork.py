"""The thread pool: a child forked after the parent ran multi-threaded
inference runs its own inference (the pool is rebuilt in the child), and
idle helper threads do not burn CPU after a run returns."""
import multiprocessing as mp
import os
import time

import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import make_model


def _model():
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return make_model(nodes, {"x": np.zeros((1, 16, 40, 40), np.float32)}, ["y"], {"w": w})


def _child(sess, x, q):
    q.put(sess.run(None, {"x": x})[0])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
def test_forked_child_runs_inference():
    sess = cnnrt.load(_model(), threads=2)
    x = np.random.default_rng(1).standard_normal((1, 16, 40, 40)).astype(np.float32)
    want = sess.run(None, {"x": x})[0]
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(sess, x, q))
    p.start()
    got = q.get(timeout=30)
    p.join(timeout=30)
    assert p.exitcode == 0
    np.testing.assert_array_equal(got, want)


def test_idle_threads_do_not_spin_after_run():
    sess = cnnrt.load(_model(), threads=2)
    x = np.ones((1, 16, 40, 40), np.float32)
    for _ in range(20):
        sess.run(None, {"x": x})
    time.sleep(0.05)
    c0 = time.process_time()
    time.sleep(0.5)
    burnt = time.process_time() - c0
    assert burnt < 0.05, f"{burnt:.3f} s of CPU burnt in 0.5 s of idle time"
