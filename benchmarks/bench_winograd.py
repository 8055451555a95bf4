"""Winograd 3x3 stride-1 convolution over NHWC (the kernel alone, weights
transformed once), per ISA and thread count, on the 3x3 layers of real
networks. "Effective GFLOP/s" counts the direct convolution's FLOPs
(2 * N * OH * OW * OC * C * 9) over the measured time, so a Winograd above
100% of the FMA probe's peak is faster than any direct or GEMM kernel could
be on this machine. Best of --runs runs: on a shared VM noise only ever
slows a run down. One-thread runs are timed on the thread's CPU-time clock
(preemption by other processes does not count; cache pollution still does);
two-thread runs on the wall clock. The peak is the best of many short FMA
probes for the same reason; on a machine too busy for any probe to run
undisturbed, --peak avx512=175,avx2=95 gives it per thread instead (the
best short probes on this project's Xeon).

    python benchmarks/bench_winograd.py                   # all networks
    python benchmarks/bench_winograd.py --nets resnet --threads 1,2
    python benchmarks/bench_winograd.py --nets sweep      # where Winograd stops paying

--algo winograd6 / winograd2 times F(6x6, 3x3) / F(2x2, 3x3) instead of
F(4x4, 3x3), --algo gemm the table's direct NHWC kernel (conv_nhwc), on the
same shapes: the comparisons behind winograd_worth_it, winograd6_better and
winograd2_better (kernels.h), whose verdict is the `rule` column (W4, W6,
W2: Winograd F(4x4), F(6x6) or F(2x2); d: direct).
"""
from __future__ import annotations

import argparse

import numpy as np

from cnnrt import _core

K = _core.kernels

# (name, C, H, W, OC): 3x3, stride 1, pad 1, batch 1.
NETS = {
    "resnet": [
        ("resnet l1 3x3", 64, 56, 56, 64),
        ("resnet l2 3x3", 128, 28, 28, 128),
        ("resnet l3 3x3", 256, 14, 14, 256),
        ("resnet l4 3x3", 512, 7, 7, 512),
    ],
    "vgg16": [
        ("vgg conv1_2", 64, 224, 224, 64),
        ("vgg conv2_2", 128, 112, 112, 128),
        ("vgg conv3_2", 256, 56, 56, 256),
        ("vgg conv4_2", 512, 28, 28, 512),
        ("vgg conv5_2", 512, 14, 14, 512),
    ],
    "googlenet": [
        ("googlenet conv2", 64, 56, 56, 192),
        ("googlenet 3a", 96, 28, 28, 128),
        ("googlenet 3b", 128, 28, 28, 192),
        ("googlenet 4a", 96, 14, 14, 208),
        ("googlenet 4b", 112, 14, 14, 224),
        ("googlenet 4c", 128, 14, 14, 256),
        ("googlenet 4d", 144, 14, 14, 288),
        ("googlenet 4e", 160, 14, 14, 320),
        ("googlenet 5a", 160, 7, 7, 320),
        ("googlenet 5b", 192, 7, 7, 384),
    ],
    "squeezenet": [
        ("squeezenet fire2", 16, 55, 55, 64),
        ("squeezenet fire4", 32, 55, 55, 128),
        ("squeezenet fire5", 32, 27, 27, 128),
        ("squeezenet fire6", 48, 27, 27, 192),
        ("squeezenet fire8", 64, 27, 27, 256),
        ("squeezenet 1.1 fire6", 48, 13, 13, 192),
        ("squeezenet 1.1 fire8", 64, 13, 13, 256),
    ],
    # Where Winograd stops paying: small channel counts, small maps.
    "sweep": [(f"sweep {c}->{oc} {hw}x{hw}", c, hw, hw, oc)
              for hw in (56, 28, 14, 7) for (c, oc) in ((4, 4), (8, 8), (8, 32), (16, 16), (16, 64), (32, 32),
                                                          (64, 16), (64, 64), (256, 256))],
}


def best_seconds(algo, isa, x, w, threads, runs):
    _, secs = K.conv_nhwc(isa, algo, x, w, pads=[1, 1, 1, 1], threads=threads, reps=runs + 1,
                          undisturbed=True)
    return min(secs[1:])


def peak_gflops(isa, threads):
    return max(K.fma_peak(isa, threads, 0.005) for _ in range(40))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nets", default="resnet,vgg16,googlenet,squeezenet")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--isa", default=",".join(i for i in _core.info()["isa_available"] if i != "ref"))
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--algo", default="winograd", choices=["winograd", "winograd6", "winograd2", "gemm"])
    p.add_argument("--peak", default="", help="per-thread GFLOP/s per ISA, e.g. avx512=175,avx2=95 (else probed)")
    args = p.parse_args(argv)
    isas = args.isa.split(",")
    threads = [int(t) for t in args.threads.split(",")]
    rng = np.random.default_rng(0)
    given = {k: float(v) for k, v in (kv.split("=") for kv in args.peak.split(",") if kv)}
    peaks = {(i, t): given[i] * t if i in given else peak_gflops(i, t) for i in isas for t in threads}
    what = {"winograd": "Winograd F(4x4,3x3)", "winograd6": "Winograd F(6x6,3x3)", "winograd2": "Winograd F(2x2,3x3)",
            "gemm": "direct NHWC convolution (conv_nhwc)"}[args.algo]
    print(f"CPU: {_core.info()['cpu']}; {what}; best of up to {10 * args.runs} runs; "
          "effective GFLOP/s (% of the FMA probe's peak)\n")
    cols = [f"{i} t{t}" for i in isas for t in threads]
    print("| layer | C x HxW -> OC | GFLOP | rule | " + " | ".join(cols) + " |")
    print("|---|---|---|---|" + "---|" * len(cols))
    print(f"| FMA peak{' (given)' if given else ''} | | | | " + " | ".join(f"{peaks[(i, t)]:.0f}" for i in isas for t in threads) + " |")
    for net in args.nets.split(","):
        for name, c, h, w_, oc in NETS[net]:
            x = rng.standard_normal((1, h, w_, c)).astype(np.float32)
            w = (rng.standard_normal((oc, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
            gflop = 2 * h * w_ * oc * c * 9 / 1e9
            runs = max(5, min(10 * args.runs, int(args.runs / gflop)))
            cells = []
            for i in isas:
                for t in threads:
                    g = gflop / best_seconds(args.algo, i, x, w, t, runs)
                    cells.append(f"{g:.0f} ({100 * g / peaks[(i, t)]:.0f}%)")
            rule = ("W6" if K.winograd6_better(isas[-1], c, oc, h, w_) else "W4") \
                if K.winograd_worth_it(isas[-1], c, oc, h, w_) else \
                ("W2" if K.winograd2_better(isas[-1], c, oc, h, w_) else "d")
            print(f"| {name} | {c} x {h}x{w_} -> {oc} | {gflop:.3f} | {rule} | " + " | ".join(cells) + " |",
                  flush=True)


if __name__ == "__main__":
    main()
