"""GFLOP/s of the convolution path per ISA and thread count, on layer shapes
taken from real networks (benchmarks/shapes/*.txt), against the peak of this
CPU measured by an FMA-loop probe (independent FMA chains in registers). Best of N runs: kernels, unlike whole models, are measured at
their best to see what the code can reach.

    python benchmarks/bench_kernels.py --shapes resnet50_conv --threads 1,2
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from onnx import helper

import cnnrt
from cnnrt import _core

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from helpers import make_model  # noqa: E402


def read_shapes(name):
    rows = []
    with open(os.path.join(HERE, "shapes", name + ".txt")) as f:
        for line in f:
            line = line.split("#")[0].split()
            if line:
                rows.append((line[0], *map(int, line[1:])))
    return rows


def best_ms(fn, runs):
    fn()
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def peak_gflops(isa, threads):
    """The FMA units' rate: 12 independent FMA chains in registers per thread,
    no memory traffic (the best of three 0.2 s probes)."""
    return max(_core.kernels.fma_peak(isa, threads, 0.2) for _ in range(3))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", default="resnet50_conv")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--isa", default=",".join(_core.info()["isa_available"]))
    p.add_argument("--runs", type=int, default=10)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    info = cnnrt.info()
    print(f"CPU: {info['cpu']}; best of {args.runs} runs; GFLOP/s (% of the probe's peak)\n")
    isas = args.isa.split(",")
    threads = [int(t) for t in args.threads.split(",")]
    peaks = {(i, t): peak_gflops(i, t) for i in isas for t in threads}
    cols = [f"{i} t{t}" for i in isas for t in threads]
    print("| layer | C x H x W -> OC, k/s | GFLOP | " + " | ".join(cols) + " |")
    print("|---|---|---|" + "---|" * len(cols))
    print("| peak probe | | | " + " | ".join(f"{peaks[(i, t)]:.0f}" for i in isas for t in threads) + " |")
    for name, c, h, w, oc, k, s, pad in read_shapes(args.shapes):
        wts = (rng.standard_normal((oc, c, k, k)) * 0.05).astype(np.float32)
        x = rng.standard_normal((1, c, h, w)).astype(np.float32)
        node = helper.make_node("Conv", ["x", "w"], ["y"], name=name, strides=[s, s], pads=[pad] * 4)
        model = make_model([node], {"x": x}, ["y"], {"w": wts})
        oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
        gflop = 2 * oc * oh * ow * c * k * k / 1e9
        cells = []
        for i in isas:
            for t in threads:
                sess = cnnrt.load(model, threads=t, isa=i)
                ms = best_ms(lambda: sess.run(None, {"x": x}), args.runs)
                g = gflop / ms * 1e3
                cells.append(f"{g:.0f} ({100 * g / peaks[(i, t)]:.0f}%)")
        print(f"| {name} | {c}x{h}x{w} -> {oc}, {k}/{s} | {gflop:.3f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
