"""Loads a module of python/cnnrt/_bench/ by its path, without importing the
cnnrt package: the peak-RSS child of one runtime (runtimes.py rss ...) must
load no other runtime, cnnrt included."""
from __future__ import annotations

import importlib.util
import os
import sys


def shared_dir() -> str:
    spec = importlib.util.find_spec("cnnrt")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("benchmarks/ needs the cnnrt package (pip install . or PYTHONPATH=python)")
    return os.path.join(list(spec.submodule_search_locations)[0], "_bench")


def load_shared(name: str):
    key = f"cnnrt_bench_shared_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, os.path.join(shared_dir(), name + ".py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
    return sys.modules[key]
