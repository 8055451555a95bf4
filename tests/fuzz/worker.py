"""A persistent fuzz worker: generates inputs (or replays files), and for each
one runs `cnnrt.load` + one `run`. A quarter of the generated inputs are
.cnnrt files (mutate_cnnrt.py), the rest ONNX (mutate.py). It is started by tests/fuzz/run.py and
restarted only after a crash or a timeout.

Protocol: before each input, its bytes are written to the `--cur` file (so
the driver can save the input that killed the worker); after it, one byte on
the report pipe (fd `--report`):
  o  loaded and ran            l  rejected at load with a cnnrt error
  u  rejected by run()         s  loaded; run skipped (inputs over the size cap)
  e  an exception that is not a cnnrt error (saved to --out with its traceback)
and b"R" once, when the worker is ready (imports done).
"""
from __future__ import annotations

import argparse
import faulthandler
import hashlib
import os
import random
import resource
import time
import traceback

from .run import input_ext

MAX_FEED_ELEMENTS = 1 << 20
CNNRT_SHARE = 0.25  # of generated inputs that are mutated .cnnrt files rather than ONNX
MAX_MEMORY = 64 << 20
SELFTEST_ENV = "CNNRT_FUZZ_SELFTEST"


def _limit_address_space(limit: int) -> None:
    if limit <= 0 or "libasan" in os.environ.get("LD_PRELOAD", ""):
        return  # ASan reserves terabytes of shadow address space; its own allocator limit applies instead
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _feeds(sess, r: random.Random):
    import numpy as np

    feeds = {}
    for info in sess.inputs:
        if info.shape is None:
            shape = [1, 3, 8, 8]
        else:
            shape = [d if isinstance(d, int) and d >= 0 else r.randint(1, 3) for d in info.shape]
        count = 1
        for d in shape:
            count *= d
        if count > MAX_FEED_ELEMENTS:
            return None
        g = np.random.default_rng(r.randrange(1 << 30))
        nonzero = 1
        for d in shape:
            nonzero *= d or 1
        if nonzero > MAX_FEED_ELEMENTS:
            return None  # numpy cannot make it (it checks the dims' product without the 0s): not a cnnrt case
        if info.dtype == np.int64:
            a = g.integers(-3, 10, shape, dtype=np.int64)
        elif info.dtype == np.bool_:
            a = g.integers(0, 2, shape).astype(np.bool_)
        else:
            a = g.standard_normal(shape).astype(np.float32)
            if a.size and r.random() < 0.1:
                a.reshape(-1)[r.randrange(a.size)] = r.choice([np.nan, np.inf, -np.inf, 1e38, 1e-42])
        feeds[info.name] = a
    return feeds


def _signature(exc: BaseException) -> str:
    """Exception type + the innermost frame in cnnrt (else the innermost)."""
    frames = traceback.extract_tb(exc.__traceback__)
    inner = [f for f in frames if "cnnrt" in f.filename] or frames
    where = f"{os.path.basename(inner[-1].filename)}:{inner[-1].lineno}" if inner else "?"
    return f"{type(exc).__name__}@{where}"


class Target:
    def __init__(self, out_dir: str, cur_path: str):
        import cnnrt

        self.cnnrt = cnnrt
        self.out_dir = out_dir
        self.cur_path = cur_path
        self.saved = {}  # signature -> count saved
        self.selftest = os.environ.get(SELFTEST_ENV) == "1"
        # A session memory cap, where this cnnrt has one: a mutated dim that
        # asks for gigabytes is then refused at load instead of computed
        # for seconds (a timeout).
        import inspect

        params = inspect.signature(cnnrt.Session.__init__).parameters
        self.options = {"max_memory": MAX_MEMORY} if "max_memory" in params else {}

    def one(self, data: bytes, r: random.Random, from_path: bool) -> bytes:
        cnnrt = self.cnnrt
        try:
            if self.selftest and data[:9] in (b"SELFCRASH", b"SELFHANG!", b"SELFRAISE"):
                self._selftest(data[:9])
            sess = cnnrt.load(self.cur_path if from_path else data, threads=1, **self.options)
        except cnnrt.CnnrtError:
            return b"l"
        except Exception as e:  # noqa: BLE001 - every other exception is a finding
            return self._finding(data, e, "load")
        try:
            feeds = _feeds(sess, r)
            if feeds is None:
                return b"s"
            sess.run(None, feeds)
        except cnnrt.CnnrtError:
            return b"u"
        except Exception as e:  # noqa: BLE001
            return self._finding(data, e, "run")
        return b"o"

    def _selftest(self, what: bytes) -> None:
        if what == b"SELFCRASH":
            os.abort()
        if what == b"SELFHANG!":
            time.sleep(3600)
        raise ValueError("self-test: a non-cnnrt exception")

    def _finding(self, data: bytes, e: BaseException, phase: str) -> bytes:
        sig = _signature(e)
        n = self.saved.get(sig, 0)
        self.saved[sig] = n + 1
        if n < 3 and self.out_dir:  # a few inputs per distinct place; the count is in the driver's total
            digest = hashlib.sha1(data).hexdigest()[:12]
            base = os.path.join(self.out_dir, f"exception-{digest}")
            with open(base + input_ext(data), "wb") as f:
                f.write(data)
            with open(base + ".txt", "w") as f:
                f.write(f"kind: exception in {phase}\nsignature: {sig}\n\n")
                f.write("".join(traceback.format_exception(e)))
        return b"e"


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--report", type=int, required=True)
    p.add_argument("--cur", required=True)
    p.add_argument("--out", default="")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--replay", default="", help="a file listing input paths, one a line")
    p.add_argument("--as-limit", type=int, default=2 << 30)
    a = p.parse_args(argv)
    faulthandler.enable()  # a fatal signal prints the Python stack to stderr (the driver's log)
    _limit_address_space(a.as_limit)
    from . import mutate, mutate_cnnrt, seeds

    target = Target(a.out, a.cur)
    report = a.report
    cur = os.open(a.cur, os.O_RDWR | os.O_CREAT, 0o600)

    def put(data: bytes) -> None:
        os.pwrite(cur, data, 0)
        os.ftruncate(cur, len(data))

    os.write(report, b"R")
    if a.replay:
        with open(a.replay) as f:
            paths = [line.rstrip("\n") for line in f if line.strip()]
        r = random.Random(a.seed)
        for path in paths:
            with open(path, "rb") as f:
                data = f.read()
            put(data)
            os.write(report, target.one(data, r, from_path=False))
        os.close(report)
        return
    corpus = seeds.serialized()
    compiled = seeds.serialized_cnnrt()
    r = random.Random(a.seed)
    while True:
        if r.random() < CNNRT_SHARE:
            data = mutate_cnnrt.mutate(r.choice(compiled), r, compiled)
        else:
            data = mutate.mutate(r.choice(corpus), r, corpus)
        put(data)
        os.write(report, target.one(data, r, from_path=r.random() < 0.15))


if __name__ == "__main__":
    main()
