"""One timing module for benchmarks/ and (later) `cnnrt bench`: interleaved
runs of several callables on the same input, median and min per callable."""
from __future__ import annotations

import statistics
import time
from typing import Callable, Dict


def interleaved(fns: Dict[str, Callable[[], object]], runs: int = 50, warmup: int = 5, min_seconds: float = 0.0):
    """Calls every fn once per round, `runs` rounds (more while the total is
    under min_seconds), after `warmup` rounds. Returns name -> list of ms."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {k: [] for k in fns}
    start = time.perf_counter()
    r = 0
    while r < runs or (time.perf_counter() - start) < min_seconds:
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1e3)
        r += 1
    return times


def summary(ms):
    ms = sorted(ms)
    return {"median_ms": statistics.median(ms), "min_ms": ms[0], "p10_ms": ms[len(ms) // 10],
            "p90_ms": ms[(len(ms) * 9) // 10], "runs": len(ms)}
