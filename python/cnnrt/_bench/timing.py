"""One timing module for benchmarks/ and `cnnrt bench`: interleaved
runs of several callables on the same input, median and min per callable."""
from __future__ import annotations

import platform
import statistics
import time
from typing import Callable, Dict, Optional


def cpu_name() -> str:
    """The CPU's model name, as a speed figure names it: /proc/cpuinfo's
    "model name", else the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def settle(max_seconds: float = 0.3, window: float = 0.005, idle_share: float = 0.2) -> float:
    """Waits until no thread of this process burns CPU (less than
    `idle_share` of one core over a `window`), at most `max_seconds`; returns
    the seconds waited. onnxruntime's pool spins about 50 ms after every run
    (measured: 0.05 s of CPU in the 0.1 s after a 2-thread SqueezeNet run on
    an idle Xeon), so a runtime whose block starts inside that window shares
    a core with it: cnnrt's 2-thread SqueezeNet ran 9-10 ms there and 4 ms
    after a settle. Called between blocks, every runtime starts its block on
    a machine as quiet as it would be in a process of its own."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < max_seconds:
        c0, w0 = time.process_time(), time.perf_counter()
        time.sleep(window)
        if (time.process_time() - c0) / max(time.perf_counter() - w0, 1e-9) < idle_share:
            break
    return time.perf_counter() - t0


def interleaved(fns: Dict[str, Callable[[], object]], runs: int = 50, warmup: int = 5, min_seconds: float = 0.0,
                block: int = 5, min_seconds_each: float = 0.0, warmup_seconds: Optional[float] = None,
                max_seconds: Optional[float] = None, min_runs: int = 3):
    """Rounds in which every fn runs `block` times in a row, until each has
    `runs` timed runs, the round-robin has lasted `min_seconds`, and each fn
    has spent `min_seconds_each` in its timed runs; after `warmup` untimed
    runs each (fewer once a fn's warm-up has taken `warmup_seconds`, at least
    one). `max_seconds` ends the rounds early, once every fn has `min_runs`
    timed runs, so that one slow model cannot stall a sweep. Returns
    name -> list of ms.

    Blocks rather than strict alternation: a runtime's thread pool keeps
    spinning for a while after its run returns (onnxruntime's does by
    default), which would tax whichever runtime runs next on every single
    call; within a block only the first call pays it, and the median does
    not see it. Drift on the machine still hits every runtime alike. And
    between blocks, `settle()` waits for the spinning to stop: blocks alone
    did not suffice, since a block of a fast model ends well within the
    50 ms that onnxruntime's pool spins."""
    for fn in fns.values():
        t0 = time.perf_counter()
        for _ in range(warmup):
            fn()
            if warmup_seconds is not None and time.perf_counter() - t0 >= warmup_seconds:
                break
    times = {k: [] for k in fns}
    spent = {k: 0.0 for k in fns}
    start = time.perf_counter()

    def done():
        elapsed = time.perf_counter() - start
        if max_seconds is not None and elapsed >= max_seconds and min(len(v) for v in times.values()) >= min_runs:
            return True
        return (min(len(v) for v in times.values()) >= runs and elapsed >= min_seconds
                and min(spent.values()) >= min_seconds_each)

    while not done():
        for name, fn in fns.items():
            if len(fns) > 1:
                settle()
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                dt = time.perf_counter() - t0
                times[name].append(dt * 1e3)
                spent[name] += dt
    return times


def summary(ms):
    ms = sorted(ms)
    n = len(ms)
    return {"median_ms": statistics.median(ms), "min_ms": ms[0], "p10_ms": ms[n // 10], "p25_ms": ms[n // 4],
            "p75_ms": ms[(n * 3) // 4], "p90_ms": ms[(n * 9) // 10], "runs": n}
