"""Mutation fuzzing of `cnnrt.load` + one `run`, on ONNX files and on
compiled .cnnrt files.

    python -m tests.fuzz.run --minutes 4 --workers 2          # the CI smoke run
    python -m tests.fuzz.run --minutes 120 --out /tmp/fuzz    # hours
    python -m tests.fuzz.run --replay tests/fuzz/regressions  # re-run saved inputs

Workers (tests/fuzz/worker.py) are persistent processes, each with a 2 GiB
address-space limit; the driver gives each input 2 s (from the worker's last
report) and restarts a worker only after it crashed or timed out. Saved in
--out: every crash and hang (input + the worker's stderr: faulthandler's
Python stack, a sanitizer report) and every exception that is not a cnnrt
error (input + traceback; a few per distinct place). Move the inputs worth
keeping to tests/fuzz/regressions/, which tests/fuzz/test_fuzz.py replays.
Exit status 1 when anything was found.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOT = "import sys; sys.path.insert(0, sys.argv.pop(1)); from fuzz.worker import main; main()"
CODES = {"o": "ran", "l": "rejected at load", "u": "rejected by run", "s": "run skipped (big input)",
         "e": "non-cnnrt exception"}
STARTUP_S = 120.0


@dataclass
class Worker:
    index: int
    seed: int
    proc: subprocess.Popen
    fd: int
    cur: str
    log: str
    last: float
    ready: bool = False
    done: int = 0  # inputs finished by this process
    expected: int = -1  # replay: the number of inputs it was given (then exit status 0 is the normal end)


@dataclass
class Stats:
    counts: Dict[str, int] = field(default_factory=lambda: {k: 0 for k in CODES})
    crashes: int = 0
    hangs: int = 0
    restarts: int = 0
    findings: List[str] = field(default_factory=list)

    @property
    def execs(self) -> int:
        return sum(self.counts.values()) + self.crashes + self.hangs

    @property
    def bad(self) -> int:
        return self.crashes + self.hangs + self.counts["e"]


def _env() -> dict:
    env = dict(os.environ)
    # One thread per worker: the workers are the parallelism.
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if env.get("PYTHONPATH"):  # the workers run in a scratch folder
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    return env


def _spawn(index: int, seed: int, work: str, out: str, as_limit: int, replay: str = "") -> Worker:
    rfd, wfd = os.pipe()
    cur = os.path.join(work, f"w{index}.cur")
    log = os.path.join(work, f"w{index}.log")
    args = [sys.executable, "-c", BOOT, TESTS_DIR, "--report", str(wfd), "--cur", cur, "--out", out,
            "--seed", str(seed), "--as-limit", str(as_limit)]
    if replay:
        args += ["--replay", replay]
    with open(log, "wb") as logf:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, pass_fds=[wfd],
                                env=_env(), cwd=work)
    os.close(wfd)
    return Worker(index, seed, proc, rfd, cur, log, time.monotonic())


def _tail(path: str, n: int = 12000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - n))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _save(out: str, kind: str, w: Worker, detail: str) -> str:
    try:
        with open(w.cur, "rb") as f:
            data = f.read()
    except OSError:
        data = b""
    digest = hashlib.sha1(data).hexdigest()[:12]
    base = os.path.join(out, f"{kind}-{digest}")
    ext = input_ext(data)
    with open(base + ext, "wb") as f:
        f.write(data)
    with open(base + ".txt", "w") as f:
        f.write(f"kind: {kind}\n{detail}\n\n--- worker stderr (tail) ---\n{_tail(w.log)}")
    return base + ext


def input_ext(data: bytes) -> str:
    """.cnnrt for what starts with the .cnnrt magic, else .onnx (the loader
    goes by the bytes, the name only helps a reader)."""
    return ".cnnrt" if data[:8] == b"\x89CNNRT\r\n" else ".onnx"


INPUT_EXTS = (".onnx", ".cnnrt")


def _stop(w: Worker, hang: bool) -> None:
    if w.proc.poll() is None:
        if hang:  # faulthandler prints every thread's Python stack on SIGABRT: the log says where it hung
            w.proc.send_signal(signal.SIGABRT)
            try:
                w.proc.wait(2)
            except subprocess.TimeoutExpired:
                pass
        if w.proc.poll() is None:
            w.proc.kill()
        w.proc.wait()
    os.close(w.fd)


def _describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"


def _serve(workers: List[Worker], stats: Stats, respawn, out: str, timeout: float, deadline: Optional[float],
           quiet: bool, progress_s: float = 15.0) -> None:
    """Reads reports until the deadline (or, when replaying, until every worker is done)."""
    t0 = time.monotonic()
    next_print = t0 + progress_s
    while workers and (deadline is None or time.monotonic() < deadline):
        fds = {w.fd: w for w in workers}
        ready, _, _ = select.select(list(fds), [], [], 0.25)
        now = time.monotonic()
        for fd in ready:
            w = fds[fd]
            data = os.read(fd, 65536)
            if data:
                w.last = now
                for c in data.decode("ascii", "replace"):
                    if c == "R":
                        w.ready = True
                    elif c in stats.counts:
                        stats.counts[c] += 1
                        w.done += 1
                continue
            rc = w.proc.wait()
            _stop(w, hang=False)
            workers.remove(w)
            if rc == 0 and 0 <= w.expected <= w.done:
                continue  # a replay worker that finished its list
            if not w.ready:
                raise SystemExit(f"fuzz worker {w.index} failed to start ({_describe_exit(rc)}):\n{_tail(w.log)}")
            stats.crashes += 1
            path = _save(out, "crash", w, _describe_exit(rc))
            stats.findings.append(path)
            print(f"[fuzz] CRASH ({_describe_exit(rc)}): saved {path}", flush=True)
            nw = respawn(w) if respawn else None
            if nw:
                workers.append(nw)
        for w in list(workers):
            limit = timeout if w.ready else STARTUP_S
            if now - w.last > limit:
                if not w.ready:
                    _stop(w, hang=False)
                    raise SystemExit(f"fuzz worker {w.index} did not start in {STARTUP_S:.0f} s:\n{_tail(w.log)}")
                _stop(w, hang=True)
                workers.remove(w)
                stats.hangs += 1
                path = _save(out, "hang", w, f"no result within {timeout} s")
                stats.findings.append(path)
                print(f"[fuzz] HANG (> {timeout} s): saved {path}", flush=True)
                nw = respawn(w) if respawn else None
                if nw:
                    workers.append(nw)
        if not quiet and now >= next_print:
            next_print = now + progress_s
            el = now - t0
            print(f"[fuzz] {el:6.0f} s  {stats.execs} execs  {stats.execs / el:.0f}/s  found {stats.bad}", flush=True)


def fuzz(seconds: float, workers: int, out: str, seed: int = 0, timeout: float = 2.0, as_limit: int = 2 << 30,
         quiet: bool = False) -> Stats:
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="cnnrt-fuzz-")
    # An external data file the mutated models may point at ("w.bin" beside the model).
    with open(os.path.join(work, "w.bin"), "wb") as f:
        f.write(bytes(range(256)) * 16)
    stats = Stats()

    def respawn(w: Worker) -> Worker:
        stats.restarts += 1
        return _spawn(w.index, w.seed + 7919 * (stats.restarts + 1), work, out, as_limit)

    pool = [_spawn(k, seed * 1000 + k, work, out, as_limit) for k in range(workers)]
    t0 = time.monotonic()
    # Execution time starts when the workers are ready (imports take a second or two).
    while not all(w.ready for w in pool):
        _serve(pool, stats, respawn, out, timeout, time.monotonic() + 0.5, quiet=True)
        if time.monotonic() - t0 > STARTUP_S:
            raise SystemExit("fuzz workers did not start")
    start = time.monotonic()
    try:
        _serve(pool, stats, respawn, out, timeout, start + seconds, quiet)
    finally:
        for w in pool:
            _stop(w, hang=False)
        shutil.rmtree(work, ignore_errors=True)
    stats.elapsed = time.monotonic() - start
    return stats


def replay(paths: List[str], timeout: float = 5.0, as_limit: int = 2 << 30) -> Stats:
    """Runs each saved input once; stats.findings lists the inputs that still crash, hang or raise."""
    work = tempfile.mkdtemp(prefix="cnnrt-replay-")
    out = os.path.join(work, "found")
    os.makedirs(out)
    stats = Stats()
    remaining = [os.path.abspath(p) for p in paths]  # the worker runs in a scratch folder

    def start(items: List[str]) -> Optional[Worker]:
        if not items:
            return None
        lst = os.path.join(work, "list.txt")
        with open(lst, "w") as f:
            f.write("".join(p + "\n" for p in items))
        w = _spawn(0, 0, work, out, as_limit, replay=lst)
        w.expected = len(items)
        return w

    def respawn(w: Worker) -> Optional[Worker]:
        # The input that crashed or hung is remaining[w.done]; go on after it.
        bad = remaining[w.done]
        stats.findings[-1] = f"{bad}: {stats.findings[-1]}"
        del remaining[: w.done + 1]
        return start(remaining)

    try:
        w = start(remaining)
        _serve([w] if w else [], stats, respawn, out, timeout, None, quiet=True)
        for name in sorted(os.listdir(out)):
            if name.endswith(".txt") and name.startswith("exception-"):
                with open(os.path.join(out, name)) as f:
                    stats.findings.append(f.read())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return stats


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=float(os.environ.get("CNNRT_FUZZ_MINUTES", "4")))
    p.add_argument("--workers", type=int, default=int(os.environ.get("CNNRT_FUZZ_WORKERS", "2")))
    p.add_argument("--seed", type=int, default=int(os.environ.get("CNNRT_FUZZ_SEED", "0")),
                   help="a CI run uses the same seed every time unless told otherwise")
    p.add_argument("--out", default="", help="where findings go (default: a new folder under /tmp)")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per input")
    p.add_argument("--as-limit-mb", type=int, default=2048, help="address-space limit of a worker (RLIMIT_AS)")
    p.add_argument("--replay", nargs="*", help="replay saved inputs (files or folders of *.onnx, *.cnnrt) instead")
    a = p.parse_args(argv)
    if a.replay is not None:
        paths = []
        for item in a.replay:
            if os.path.isdir(item):
                paths += sorted(os.path.join(item, n) for n in os.listdir(item) if n.endswith(INPUT_EXTS))
            else:
                paths.append(item)
        st = replay(paths, timeout=max(a.timeout, 5.0), as_limit=a.as_limit_mb << 20)
        print(f"[fuzz] replayed {len(paths)} inputs: " + ", ".join(f"{CODES[k]} {v}" for k, v in st.counts.items() if v))
        for f in st.findings:
            print(f"[fuzz] STILL FAILS: {f}")
        return 1 if st.bad else 0
    out = a.out or tempfile.mkdtemp(prefix="cnnrt-fuzz-found-")
    print(f"[fuzz] {a.minutes} min on {a.workers} workers, seed {a.seed}, {a.timeout} s per input, "
          f"{a.as_limit_mb} MiB address space; findings go to {out}", flush=True)
    st = fuzz(a.minutes * 60, a.workers, out, seed=a.seed, timeout=a.timeout, as_limit=a.as_limit_mb << 20)
    el = st.elapsed
    print(f"[fuzz] done: {st.execs} executions in {el:.0f} s = {st.execs / el:.0f}/s on {a.workers} workers; "
          f"worker restarts {st.restarts}")
    print("[fuzz] outcomes: " + ", ".join(f"{CODES[k]} {v}" for k, v in st.counts.items())
          + f", crashes {st.crashes}, hangs {st.hangs}")
    if st.bad:
        print(f"[fuzz] FOUND {st.bad} problem(s); inputs and tracebacks in {out}:")
        for name in sorted(os.listdir(out)):
            if name.endswith(INPUT_EXTS):
                print(f"    {os.path.join(out, name)}")
        return 1
    if not a.out:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
