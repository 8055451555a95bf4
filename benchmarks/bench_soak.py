"""The speed side of the soak/thread/fpenv tests (tests/test_soak.py,
test_threads_fork.py, test_fpenv.py check the mechanisms; speed is measured
here, never asserted in a test):

1. denormals: convolutions (ResNet-like, 128 -> 128 channels, 28x28; 3x3
   stride 1 (Winograd), 3x3 stride 2, 1x1) with normal data, with denormal
   inputs, with denormal weights, and with normal operands whose products
   underflow, as a ratio to the normal case. numpy's matmul of the same GEMM
   shape (OpenBLAS, no flush-to-zero) and onnxruntime's conv (no
   flush-to-zero by default) show whether this CPU penalises denormals at
   all: if they slow down and cnnrt does not, cnnrt's flush modes (FTZ for
   the run, DAZ in Conv/Gemm/MatMul steps; core/fpenv.h) are what save it.
2. a numpy matmul right after a cnnrt run, against the same matmul after the
   process has been idle (ratio; onnxruntime's spinning pool for contrast).
3. CPU time the process burns in the second after a run returns.

One-thread convolutions are timed on the calling thread's CPU clock
(preemption by other processes does not count); everything else on the wall
clock, interleaved, median of many. Quote the ratios, not the times.

    python benchmarks/bench_soak.py              # ~30 s
    python benchmarks/bench_soak.py --quick      # fewer runs
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import cnnrt
import cnnrt.demo

try:
    import onnxruntime as ort
except ImportError:  # optional: the contrast columns are left out
    ort = None

C, OC, HW = 128, 128, 28
CONVS = [("3x3 s1", 3, 1), ("3x3 s2", 3, 2), ("1x1", 1, 1)]  # Winograd, implicit GEMM, plain GEMM


def conv_model(w, stride):
    k = w.shape[-1]
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[k // 2] * 4,
                                            strides=[stride, stride])], "conv",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, HW, HW])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(w, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def timed(fn, clock, reps):
    fn()
    out = []
    for _ in range(reps):
        t0 = clock()
        fn()
        out.append(clock() - t0)
    return out


def medians(fns, clock, rounds, reps):
    """Rounds of `reps` runs of each fn in turn; name -> median seconds."""
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            times[k] += timed(fn, clock, reps)
    return {k: statistics.median(v) for k, v in times.items()}


def denormal_cases(k):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, C, HW, HW)).astype(np.float32)
    w = (rng.standard_normal((OC, C, k, k)) * 0.05).astype(np.float32)
    return {  # name: (x, w)
        "normal": (x, w),
        "denormal inputs": ((x * 1e-39).astype(np.float32), w),
        "denormal weights": (x, (w * 1e-37).astype(np.float32)),
        "underflowing products": ((x * 1e-20).astype(np.float32), (w * 1e-19).astype(np.float32)),
    }


def bench_denormals(threads, rounds, reps):
    """cnnrt on every conv kind, interleaved; onnxruntime and numpy (tens of
    times slower with denormals) on the 3x3 s1 shape, with a few runs only."""
    clock = time.thread_time if threads == 1 else time.perf_counter
    print(f"\n1. denormals, conv {C}->{OC} ch {HW}x{HW}, threads={threads}, median time as a ratio to the "
          f"normal case of the same engine and shape ({'thread CPU clock' if threads == 1 else 'wall clock'}; "
          "numpy: wall clock, its BLAS threads)")
    cols = [f"cnnrt {name}" for name, _, _ in CONVS] + (["onnxruntime 3x3 s1"] if ort is not None else []) + ["numpy matmul"]
    med = {}
    for name, k, stride in CONVS:
        fns = {}
        for case, (x, w) in denormal_cases(k).items():
            sess = cnnrt.load(conv_model(w, stride), threads=threads)
            fns[case] = (lambda s=sess, x=x: s.run(None, {"x": x}))
        for case, t in medians(fns, clock, rounds, reps).items():
            med[(f"cnnrt {name}", case)] = t
    contrast = {}
    for case, (x, w) in denormal_cases(3).items():
        if ort is not None:
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            o = ort.InferenceSession(conv_model(w, 1), so, providers=["CPUExecutionProvider"])
            contrast[("onnxruntime 3x3 s1", case)] = (clock, lambda o=o, x=x: o.run(None, {"x": x}))
        # the same GEMM as the 3x3 s1 conv (OH*OW x C*9 times C*9 x OC) on the same values
        a = np.ascontiguousarray(np.resize(x, (HW * HW, C * 9)))
        b = np.ascontiguousarray(w.reshape(OC, C * 9).T)
        contrast[("numpy matmul", case)] = (time.perf_counter, lambda a=a, b=b: a @ b)
    for key, (clk, fn) in contrast.items():
        med[key] = statistics.median(timed(fn, clk, 5))
    print(f"   {'case':22s} " + " ".join(f"{c:>18s}" for c in cols))
    for case in denormal_cases(1):
        print(f"   {case:22s} " + " ".join(f"{med[(c, case)] / med[(c, 'normal')]:17.2f}x" for c in cols))
    print("   normal-case medians: " + ", ".join(f"{c} {med[(c, 'normal')] * 1e3:.2f} ms" for c in cols))
    return med


def _lenet_engines():
    """One LeNet batch-8 run per call, per engine (cnnrt, and onnxruntime where installed), 2 threads each."""
    x = np.random.default_rng(2).standard_normal((8, 1, 32, 32)).astype(np.float32)
    sess = cnnrt.load(cnnrt.demo.model_path(), threads=2)
    engines = {"cnnrt": lambda: sess.run(None, {"input": x})}
    if ort is not None:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        o = ort.InferenceSession(cnnrt.demo.model_path(), so, providers=["CPUExecutionProvider"])
        engines["onnxruntime"] = lambda: o.run(None, {"input": x})
    return engines


def bench_matmul_after_run(rounds):
    """A matmul right after a run of each engine, and after 50 ms of idling,
    interleaved round by round (the load on a shared machine drifts)."""
    a = np.random.default_rng(1).standard_normal((384, 384)).astype(np.float32)
    engines = _lenet_engines()
    times = {k: [] for k in ["idle", *engines]}
    for _ in range(rounds):
        for name in times:
            time.sleep(0.05)
            if name != "idle":
                for _ in range(3):
                    engines[name]()
            t0 = time.perf_counter()
            a @ a
            times[name].append(time.perf_counter() - t0)
    idle = statistics.median(times["idle"])
    print(f"\n2. numpy matmul 384x384 (float32, its own BLAS threads) right after a 2-thread LeNet run (batch 8), "
          f"vs after 50 ms idle: wall clock, median of {rounds}, interleaved")
    print(f"   {'idle':12s} {idle * 1e3:8.3f} ms")
    for name in engines:
        m = statistics.median(times[name])
        print(f"   after {name:12s} {m * 1e3:8.3f} ms   ratio to idle {m / idle:5.2f}x")


def bench_idle_cpu():
    engines = _lenet_engines()
    print("\n3. process CPU time in the second after a run returns (2 threads)")
    for name, run in engines.items():
        time.sleep(1.0)  # the other engine's spinning, if any, is over
        for _ in range(20):
            run()
        t0 = os.times()
        time.sleep(1.0)
        t1 = os.times()
        print(f"   {name:12s} {(t1.user - t0.user + t1.system - t0.system) * 1e3:6.0f} ms of CPU")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer runs (a smoke run)")
    args = ap.parse_args(argv)
    rounds, reps = (3, 3) if args.quick else (8, 5)
    info = cnnrt.info()
    print(f"cnnrt {info['version']} isa={info['isa_current']} cpu={info['cpu']!r} "
          f"onnxruntime={'absent' if ort is None else ort.__version__} numpy={np.__version__}")
    bench_denormals(1, rounds, reps)
    bench_denormals(2, rounds, reps)
    bench_matmul_after_run(30 if args.quick else 150)
    bench_idle_cpu()
    return 0


if __name__ == "__main__":
    sys.exit(main())
