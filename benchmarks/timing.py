"""One timing module for benchmarks/ and (later) `cnnrt bench`: interleaved
runs of several callables on the same input, median and min per callable."""
from __future__ import annotations

import statistics
import time
from typing import Callable, Dict


def interleaved(fns: Dict[str, Callable[[], object]], runs: int = 50, warmup: int = 5, min_seconds: float = 0.0,
                block: int = 5):
    """Rounds in which every fn runs `block` times in a row, until each has
    `runs` timed runs (more while the total is under min_seconds), after
    `warmup` untimed runs each. Returns name -> list of ms.

    Blocks rather than strict alternation: a runtime's thread pool keeps
    spinning for a while after its run returns (onnxruntime's does by
    default), which would tax whichever runtime runs next on every single
    call; within a block only the first call pays it, and the median does
    not see it. Drift on the machine still hits every runtime alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {k: [] for k in fns}
    start = time.perf_counter()
    while min(len(v) for v in times.values()) < runs or (time.perf_counter() - start) < min_seconds:
        for name, fn in fns.items():
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t0) * 1e3)
    return times


def summary(ms):
    ms = sorted(ms)
    return {"median_ms": statistics.median(ms), "min_ms": ms[0], "p10_ms": ms[len(ms) // 10],
            "p90_ms": ms[(len(ms) * 9) // 10], "runs": len(ms)}
