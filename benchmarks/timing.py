"""The timing module of benchmarks/ is cnnrt's own (python/cnnrt/_bench/
timing.py), shared with `cnnrt bench`: one implementation of the interleaved
runs, settle() and the summary."""
from _shared import load_shared

_m = load_shared("timing")
settle, interleaved, summary, cpu_name = _m.settle, _m.interleaved, _m.summary, _m.cpu_name
