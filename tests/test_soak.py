"""Soak: the process does not grow over many runs of the demo LeNet.

Each scenario runs in a fresh child process (nothing else allocating there)
that warms up, trims malloc's free memory (malloc_trim) and reads its RSS
from /proc/self/statm, repeats the scenario many times, trims and reads it
again. The growth must stay under 1 MiB: 1e4 runs leaking 100 bytes each
would add ~1 MiB, a leaked arena or plan far more.

Scenarios: 1e4 runs of one shape; 1e4 runs rotating over 4 batch sizes (all
plans cached) and 4000 with a 2-plan cache (a plan built and one dropped per
run); 1e4 calls with bad inputs (each an InputError); 500 load/run/drop
cycles of a session."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import cnnrt

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="RSS is read from /proc/self/statm (Linux)")

PYTHON_DIR = os.path.dirname(os.path.dirname(cnnrt.__file__))
LIMIT_KIB = 1024

CHILD = r"""
import ctypes, gc, json, os, sys
import numpy as np
import cnnrt, cnnrt.demo

scenario = sys.argv[1]
PAGE = os.sysconf("SC_PAGE_SIZE")
libc = ctypes.CDLL(None)

def rss_kib():
    gc.collect()
    libc.malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1024

model = open(cnnrt.demo.model_path(), "rb").read()
rng = np.random.default_rng(0)
xs = [rng.standard_normal((b, 1, 32, 32)).astype(np.float32) for b in (1, 2, 4, 8)]

def runs(sess, shapes):
    def body(i):
        sess.run(None, {"input": xs[i % shapes]})
    return body

def bad_inputs(sess):
    x = xs[0]
    bad = [
        {"input": x.astype(np.int8)},                        # integer dtype
        {"input": x[0]},                                     # rank 3
        {"input": np.zeros((1, 3, 32, 32), np.float32)},     # wrong static dim (fast path declines, then explains)
        {"input": np.zeros((1, 1, 32, 32), ">f4")[:, :, :, :31]},  # big-endian and wrong dim (converted first)
        {"inputs": x},                                       # misspelled name
        {},                                                  # missing input
        {"input": x, "extra": x},                            # extra name
        {"input": None},
        {"input": np.array(["a", "b"])},                     # strings
        {"input": np.array([object()] * 4, dtype=object)},
        [x],                                                 # not a dict
    ]
    for feeds in bad:  # every one is refused with an InputError, before and during the soak
        try:
            sess.run(None, feeds)
        except cnnrt.InputError:
            pass
        else:
            raise SystemExit(f"accepted bad feeds {feeds!r:.80}")

    def body(i):
        try:
            sess.run(None, bad[i % len(bad)])
        except cnnrt.InputError:
            return
        raise SystemExit(f"accepted bad feeds {i % len(bad)}")
    return body

def cycles(threads):
    def body(i):
        s = cnnrt.load(model, threads=threads)
        s.run(None, {"input": xs[i % 4]})
        del s
    return body

# name: (body, warm-up iterations, measured iterations)
SCENARIOS = {
    "runs":              lambda: (runs(cnnrt.load(model, threads=2), 1), 500, 10000),
    "rotating_shapes":   lambda: (runs(cnnrt.load(model, threads=2), 4), 500, 10000),
    "rotating_evicting": lambda: (runs(cnnrt.load(model, threads=2, max_plans=2), 4), 200, 4000),
    "bad_inputs":        lambda: (bad_inputs(cnnrt.load(model, threads=2)), 500, 10000),
    "load_run_drop":     lambda: (cycles(2), 50, 500),
}
body, warm, n = SCENARIOS[scenario]()
for i in range(warm):
    body(i)
before = rss_kib()
for i in range(n):
    body(i)
after = rss_kib()
print(json.dumps({"scenario": scenario, "iterations": n, "before_kib": before, "after_kib": after}))
"""


def _soak(scenario):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [PYTHON_DIR, os.environ.get("PYTHONPATH")])))
    r = subprocess.run([sys.executable, "-c", CHILD, scenario], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:] + r.stdout[-1000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("scenario", ["runs", "rotating_shapes", "rotating_evicting", "bad_inputs", "load_run_drop"])
def test_rss_flat_after_warm_up(scenario):
    m = _soak(scenario)
    grown = m["after_kib"] - m["before_kib"]
    print(f"{scenario}: RSS {m['before_kib']:.0f} KiB -> {m['after_kib']:.0f} KiB over {m['iterations']} iterations "
          f"({grown:+.0f} KiB)")
    assert grown < LIMIT_KIB, f"{scenario}: RSS grew by {grown:.0f} KiB over {m['iterations']} iterations after warm-up"
