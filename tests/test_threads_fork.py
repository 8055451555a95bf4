"""Threads and fork: many Python threads on one session give the bytes a
single thread gives (plans created and evicted concurrently); a child forked
after the parent ran inference, or while another thread of the parent was
running it, finishes its own inference (cnnrt's thread pool is rebuilt in the
child, and no lock is left held); idle helper threads sleep after a run.

No assertion here is about speed: a child gets 30 s to finish (a hang, not a
slow run, is what fails), and idleness is measured as CPU time, not wall time.
The speed side (a numpy matmul right after a run) is benchmarks/bench_soak.py."""
import multiprocessing as mp
import os
import signal
import threading
import time

import numpy as np
import pytest
from onnx import helper

import cnnrt
import cnnrt.demo
from cnnrt import _core
from helpers import make_model

LENET = cnnrt.demo.model_path()  # input 'input' [batch, 1, 32, 32] -> 'logits' [batch, 10]
CHILD_TIMEOUT = 30  # seconds: a hang, not a slow run

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")


def _model():
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return make_model(nodes, {"x": np.zeros((1, 16, 40, 40), np.float32)}, ["y"], {"w": w})


def _lenet_inputs(n=12):
    """Batch sizes 1..6, each twice with different data: 6 plans per session."""
    return [np.random.default_rng(k).standard_normal((1 + k % 6, 1, 32, 32)).astype(np.float32) for k in range(n)]


# ---------------------------------------------------------------- threads

@pytest.mark.parametrize("max_plans", [2, 8], ids=["evicting", "cached"])
@pytest.mark.parametrize("threads", [1, 2])
def test_eight_python_threads_match_single_threaded_reference(threads, max_plans):
    """8 Python threads x 100 runs on one session, 6 batch sizes mixed, the
    session's plan cache cold at the start: the first plans are created by
    several threads at once, and with max_plans=2 plans are evicted while
    other threads still run them. Every output is byte-identical to the one
    a single thread got from a session with the same options."""
    inputs = _lenet_inputs()
    ref = cnnrt.load(LENET, threads=threads, max_plans=max_plans)
    expected = [ref.run(None, {"input": x})[0].tobytes() for x in inputs]
    sess = cnnrt.load(LENET, threads=threads, max_plans=max_plans)
    assert sess._core.stats()["cached_plans"] == 0  # dynamic batch: nothing planned at load
    errors = []
    barrier = threading.Barrier(8)

    def worker(tid):
        try:
            barrier.wait()
            for r in range(100):
                k = (tid * 5 + r) % len(inputs)
                y = sess.run(None, {"input": inputs[k]})[0]
                if y.shape != (inputs[k].shape[0], 10) or y.tobytes() != expected[k]:
                    errors.append(f"thread {tid} run {r} input {k} (batch {inputs[k].shape[0]}): result differs")
        except Exception as e:  # surfaced below
            errors.append(f"thread {tid}: {type(e).__name__}: {e}")

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not any(t.is_alive() for t in ts), "a worker thread hung"
    assert not errors, errors[:5]
    assert sess._core.stats()["cached_plans"] <= max_plans


def test_intra_op_threads_do_not_change_the_bytes():
    """The work is split over output tiles, never over a reduction: 1 and 2
    intra-op threads give the same bytes."""
    inputs = _lenet_inputs(6)
    one, two = cnnrt.load(LENET, threads=1), cnnrt.load(LENET, threads=2)
    for x in inputs:
        assert one.run(None, {"input": x})[0].tobytes() == two.run(None, {"input": x})[0].tobytes()
    x = np.random.default_rng(3).standard_normal((2, 16, 40, 40)).astype(np.float32)
    a = cnnrt.load(_model(), threads=1).run(None, {"x": x[:1]})[0]
    b = cnnrt.load(_model(), threads=2).run(None, {"x": x[:1]})[0]
    assert a.tobytes() == b.tobytes()


# ---------------------------------------------------------------- fork

def _child(sess, x, want, q):
    got = sess.run(None, {"x": x})[0]
    fresh = cnnrt.load(_model(), threads=sess.threads).run(None, {"x": x})[0]  # a new session in the child too
    q.put((got.tobytes() == want.tobytes(), fresh.tobytes() == want.tobytes()))


@needs_fork
@pytest.mark.parametrize("threads", [1, 2])
def test_forked_child_runs_inference(threads):
    sess = cnnrt.load(_model(), threads=threads)
    x = np.random.default_rng(1).standard_normal((1, 16, 40, 40)).astype(np.float32)
    want = sess.run(None, {"x": x})[0]
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(sess, x, want, q))
    p.start()
    try:
        same, fresh_same = q.get(timeout=CHILD_TIMEOUT)
        p.join(CHILD_TIMEOUT)
        assert p.exitcode == 0
    finally:
        if p.is_alive():
            p.kill()
            p.join()
    assert same, "the child's run of the inherited session differs from the parent's"
    assert fresh_same, "a session loaded in the child differs from the parent's"


def _wait_child(pid, timeout):
    """The child's exit code, or None (then killed) if it runs past timeout.
    A blocking waitpid (it releases the GIL, which the parent's busy threads
    want) with a watchdog that kills the child at the timeout."""
    timed_out = threading.Event()

    def kill():
        timed_out.set()
        os.kill(pid, signal.SIGKILL)

    watchdog = threading.Timer(timeout, kill)
    watchdog.start()
    try:
        _, status = os.waitpid(pid, 0)
    finally:
        watchdog.cancel()
    return None if timed_out.is_set() else os.waitstatus_to_exitcode(status)


@needs_fork
@pytest.mark.parametrize("threads", [1, 2])
def test_fork_while_another_thread_runs_inference(threads):
    """Two Python threads run LeNet without pause (4 batch sizes, a one-plan
    cache: plans are built and dropped all the time) while the main thread
    forks 100 children; each child runs the same session, every tenth one
    a new session too.
    Before the session locks were taken across fork() (session.cc), about 1
    child in 25 hung on the arena-pool lock that a parent thread held at the
    moment of the fork: this test failed in 4 runs out of 4."""
    sess = cnnrt.load(LENET, threads=threads, max_plans=1)
    xs = _lenet_inputs(4)
    want = [cnnrt.load(LENET, threads=1).run(None, {"input": x})[0].tobytes() for x in xs]
    stop = threading.Event()
    errors = []

    def churn(tid):
        i = tid
        try:
            while not stop.is_set():
                sess.run(None, {"input": xs[i % 4]})
                i += 1
        except Exception as e:
            errors.append(f"{type(e).__name__}: {e}")

    ts = [threading.Thread(target=churn, args=(t,)) for t in range(2)]
    for t in ts:
        t.start()
    hung, failed = [], []
    try:
        for k in range(100):
            pid = os.fork()
            if pid == 0:  # the child: no pytest, no exceptions past here
                code = 2
                try:
                    ok = sess.run(None, {"input": xs[k % 4]})[0].tobytes() == want[k % 4]
                    if k % 10 == 0:  # and a new session now and then (a load costs more than a fork)
                        ok &= cnnrt.load(LENET, threads=threads).run(None, {"input": xs[0]})[0].tobytes() == want[0]
                    code = 0 if ok else 1
                finally:
                    os._exit(code)
            code = _wait_child(pid, CHILD_TIMEOUT)
            if code is None:
                hung.append(k)
                break  # one is enough; do not spend 30 s per child
            if code != 0:
                failed.append((k, code))
    finally:
        stop.set()
        for t in ts:
            t.join(60)
    assert not hung, f"child {hung[0]} did not finish its inference in {CHILD_TIMEOUT} s (a lock left held by fork?)"
    assert not failed, f"children with wrong results (1) or an exception (2): {failed[:5]}"
    assert not errors, errors[:3]


# ---------------------------------------------------------------- idle threads

def _pool_threads():
    """(tid, state, utime+stime ticks) of cnnrt's helper threads (named cnnrt-pool)."""
    out = []
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().strip() != "cnnrt-pool":
                    continue
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended between listdir and open
            continue
        out.append((int(tid), fields[0], int(fields[11]) + int(fields[12])))  # state, utime, stime
    return out


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="per-thread state is read from /proc (Linux)")
def test_idle_threads_do_not_spin_after_run():
    """After a run returns, over the next second: the process burns next to no
    CPU (one spinning helper would burn ~1 s of it), cnnrt's helpers gain no
    CPU ticks and are all asleep (state S)."""
    sess = cnnrt.load(_model(), threads=2)
    x = np.ones((1, 16, 40, 40), np.float32)
    for _ in range(20):
        sess.run(None, {"x": x})
    before = {tid: ticks for tid, _, ticks in _pool_threads()}
    assert before, "threads=2 started no thread named cnnrt-pool"
    t0 = os.times()
    time.sleep(1.0)
    t1 = os.times()
    after = _pool_threads()
    burnt = (t1.user - t0.user) + (t1.system - t0.system)
    assert burnt < 0.1, f"{burnt:.3f} s of CPU burnt in the second after a run"
    ticks = sum(t - before.get(tid, 0) for tid, _, t in after)
    assert ticks <= 2, f"cnnrt's helpers gained {ticks} clock ticks of CPU while idle"
    awake = [(tid, state) for tid, state, _ in after if state != "S"]
    assert not awake, f"helper threads not asleep a second after the run: {awake}"


# ---------------------------------------------------------------- one thread or all, per plan

def test_plan_chooses_one_thread_or_all_from_its_first_runs():
    """With threads > 1, a plan's first runs alternate one thread and all
    (Session::run), then it keeps the faster; which one depends on the
    machine, but the choice is made, and every run gives the same bytes
    (one thread runs the same tasks, split by the session's thread count)."""
    sess = cnnrt.load(LENET, threads=2)
    x = _lenet_inputs(1)[0]
    assert sess._core.thread_mode([x]) == "undecided"
    first = sess.infer(x)
    for _ in range(12):
        assert np.array_equal(sess.infer(x), first)
    assert sess._core.thread_mode([x]) in ("serial", "parallel")
    for mode in ("serial", "parallel"):
        assert sess._core.thread_mode([x], mode) == mode
        assert np.array_equal(sess.infer(x), first)
    with pytest.raises(cnnrt.InputError, match="thread_mode"):
        sess._core.thread_mode([x], "both")


@pytest.mark.parametrize("serial_us,parallel_us,want", [
    (20, 30, "serial"), (20, 20, "serial"), (20, 19, "serial"), (20, 18.1, "serial"),
    (20, 17.9, "parallel"), (20, 10, "parallel"), (1000, 899, "parallel")])
def test_small_plan_keeps_one_thread_unless_all_win_by_a_margin(serial_us, parallel_us, want):
    """The probes' best runs decide, but all threads must be at least 10%
    faster: a tie or a few percent (noise on a tens-of-microseconds run) keeps
    one thread, which LeNet-5 runs faster in an interleaved benchmark."""
    assert _core.thread_mode_choice(int(serial_us * 1000), int(parallel_us * 1000)) == want


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="per-thread CPU time is read from /proc (Linux)")
def test_serial_plan_leaves_the_helpers_idle():
    """A plan run on one thread wakes no helper: over 500 runs of a 40x40
    convolution (which splits over 2 threads in parallel mode) the helpers
    gain no CPU time."""
    sess = cnnrt.load(_model(), threads=2)
    x = np.random.default_rng(0).standard_normal((1, 16, 40, 40)).astype(np.float32)
    sess._core.thread_mode([x], "parallel")
    want = sess.run(None, {"x": x})[0]  # starts the helpers
    sess._core.thread_mode([x], "serial")
    time.sleep(0.05)  # the helpers go back to sleep (100 us spin)
    before = {tid: ticks for tid, _, ticks in _pool_threads()}
    assert before, "threads=2 started no thread named cnnrt-pool"
    for _ in range(500):
        got = sess.run(None, {"x": x})[0]
    assert np.array_equal(got, want)
    ticks = sum(t - before.get(tid, 0) for tid, _, t in _pool_threads())
    assert ticks <= 2, f"cnnrt's helpers gained {ticks} clock ticks while every run was on one thread"


def test_one_thread_mode_gives_the_bits_of_the_split_sums():
    """A global average pool at batch 1 sums its pixels in one share per
    thread, then adds the shares: run on one thread, the plan keeps that split
    (the same tasks, inline), so both modes give the same bits."""
    model = make_model([helper.make_node("GlobalAveragePool", ["x"], ["y"], name="gap")],
                       {"x": np.zeros((1, 64, 56, 56), np.float32)}, ["y"])
    sess = cnnrt.load(model, threads=2)
    x = np.random.default_rng(3).standard_normal((1, 64, 56, 56)).astype(np.float32)
    got = {}
    for mode in ("parallel", "serial"):
        sess._core.thread_mode([x], mode)
        got[mode] = sess.run(None, {"x": x})[0]
    assert np.array_equal(got["serial"], got["parallel"])
    one = cnnrt.load(model, threads=1).run(None, {"x": x})[0]
    np.testing.assert_allclose(got["serial"], one, rtol=1e-6, atol=1e-6)
