"""NHWC depthwise convolution and pooling kernels per ISA and thread count,
on the layer shapes of mobilenet_v2 / efficientnet_b0 (depthwise 3x3 / 5x5,
stride 1 / 2, bias + Clip(0, 6)) and the networks' pooling layers (resnet,
googlenet, squeezenet, vgg, alexnet; global average pools).

Depthwise convolution is memory-bound: each output does 9 or 25 FMAs per
channel on 8 bytes of traffic. Per shape: GFLOP/s (2 * MACs / time; % of the
FMA-probe peak) and GB/s (input read once + output written once / time).
Pooling: GB/s. The ref path's probe is scalar (its kernels auto-vectorise),
so no % for it. Best of --reps runs of the kernel alone (weights packed
once), the ISAs and thread counts interleaved in rounds so machine drift hits
them alike. With torch installed, its channels_last conv2d / pooling (oneDNN)
runs as an outside reference.

    python benchmarks/bench_dw_pool.py [--threads 1,2] [--isa avx2,avx512] [--reps 30] [--only dw|pool]
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

import cnnrt
from cnnrt import _core

K = _core.kernels

# name, C, H, W, k, s (pad k // 2): mobilenet_v2 (mb) and efficientnet_b0 (ef) depthwise layers.
DW = [
    ("mb/ef 112 s1", 32, 112, 112, 3, 1),
    ("mb/ef 112 s2", 96, 112, 112, 3, 2),
    ("mb/ef 56 s1", 144, 56, 56, 3, 1),
    ("mb 56 s2", 144, 56, 56, 3, 2),
    ("ef 56 5x5 s2", 144, 56, 56, 5, 2),
    ("mb 28 s1", 192, 28, 28, 3, 1),
    ("mb 28 s2", 192, 28, 28, 3, 2),
    ("ef 28 5x5 s1", 240, 28, 28, 5, 1),
    ("ef 28 s2", 240, 28, 28, 3, 2),
    ("mb 14 s1", 384, 14, 14, 3, 1),
    ("ef 14 s1", 480, 14, 14, 3, 1),
    ("ef 14 5x5 s1", 672, 14, 14, 5, 1),
    ("mb 14 s1", 576, 14, 14, 3, 1),
    ("mb 14 s2", 576, 14, 14, 3, 2),
    ("ef 14 5x5 s2", 672, 14, 14, 5, 2),
    ("mb 7 s1", 960, 7, 7, 3, 1),
    ("ef 7 5x5 s1", 1152, 7, 7, 5, 1),
    ("ef 7 3x3 s1", 1152, 7, 7, 3, 1),
]

# name, kind, C, H, W, k, s, pad, ceil_mode
POOL = [
    ("resnet maxpool", "max", 64, 112, 112, 3, 2, 1, False),
    ("googlenet pool2", "max", 192, 56, 56, 3, 2, 0, True),
    ("googlenet 3a branch", "max", 192, 28, 28, 3, 1, 1, True),
    ("googlenet 4e branch", "max", 528, 14, 14, 3, 1, 1, True),
    ("googlenet pool4", "max", 832, 14, 14, 2, 2, 0, True),
    ("squeezenet pool1", "max", 96, 109, 109, 3, 2, 0, True),
    ("squeezenet pool3", "max", 256, 27, 27, 3, 2, 0, True),
    ("vgg pool1", "max", 64, 224, 224, 2, 2, 0, False),
    ("vgg pool4", "max", 512, 28, 28, 2, 2, 0, False),
    ("alexnet pool2", "max", 192, 27, 27, 3, 2, 0, False),
    ("avg 3x3 s1 (cip=0)", "avg", 256, 28, 28, 3, 1, 1, False),
]

# name, kind, C, HW
GLOBAL = [
    ("resnet50 global avg", "avg", 2048, 49),
    ("mobilenet_v2 global avg", "avg", 1280, 49),
    ("googlenet global avg", "avg", 1024, 49),
    ("squeezenet global avg", "avg", 1000, 169),
    ("1x1 global avg", "avg", 2048, 1),
    ("global max 7x7", "max", 512, 49),
]


def out_size(n, k, s, pb, pe, ceil=False):
    span = (n + pb + pe - k) / s
    o = (math.ceil(span) if ceil else math.floor(span)) + 1
    if ceil and (o - 1) * s >= n + pb:
        o -= 1
    return o


def peak(isa, threads):
    return max(K.fma_peak(isa, threads, 0.2) for _ in range(3))


def best_of(rounds, fns, reps):
    """fns: key -> callable(reps) -> list of seconds. Interleaved rounds; best per key."""
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            best[k] = min(best[k], min(fn(reps)))
    return best


def import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--isa", default=",".join(i for i in _core.info()["isa_available"] if i != "ref"))
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", choices=["dw", "pool"], default=None)
    p.add_argument("--no-torch", action="store_true")
    args = p.parse_args(argv)
    isas = args.isa.split(",")
    threads = [int(t) for t in args.threads.split(",")]
    torch = None if args.no_torch else import_torch()
    rng = np.random.default_rng(0)
    print(f"CPU: {cnnrt.info()['cpu']}; best of {args.rounds} x {args.reps} runs per cell")
    cols = [(i, t) for i in isas for t in threads]
    tcols = [("torch", t) for t in threads] if torch is not None else []

    if args.only in (None, "dw"):
        peaks = {(i, t): peak(i, t) for i, t in cols}
        print("\nDepthwise conv, bias + Clip(0,6): GFLOP/s (% of FMA peak) / GB/s\n")
        names = [f"{i} t{t}" for i, t in cols] + [f"torch t{t}" for _, t in tcols]
        print("| layer | C x H x W, k/s | " + " | ".join(names) + " |")
        print("|---|---|" + "---|" * len(names))
        print("| FMA peak | | " + " | ".join(f"{peaks[c]:.0f}" for c in cols) + " |" + " |" * len(tcols))
        for name, C, H, W, k, s in DW:
            pd = k // 2
            x = rng.standard_normal((1, H, W, C)).astype(np.float32)
            w = (rng.standard_normal((C, 1, k, k)) * 0.3).astype(np.float32)
            b = rng.standard_normal(C).astype(np.float32)
            OH, OW = out_size(H, k, s, pd, pd), out_size(W, k, s, pd, pd)
            flop = 2 * C * OH * OW * k * k
            nbytes = 4 * (H * W * C + OH * OW * C)
            fns = {}
            for i, t in cols:
                fns[(i, t)] = (lambda i=i, t=t: lambda reps: K.conv_nhwc(
                    i, "dw", x, w, b, None, [s, s], [pd] * 4, [1, 1], 3, 0.0, 6.0, t, reps)[1])()
            if torch is not None:
                xt = torch.from_numpy(x).permute(0, 3, 1, 2)  # NCHW view of NHWC memory: channels_last
                wt = torch.from_numpy(w)
                bt = torch.from_numpy(b)
                for _, t in tcols:
                    def tf(reps, t=t):
                        torch.set_num_threads(t)
                        out = []
                        with torch.no_grad():
                            for _ in range(reps):
                                t0 = time.perf_counter()
                                torch.clamp_(torch.nn.functional.conv2d(xt, wt, bt, s, pd, 1, C), 0, 6)
                                out.append(time.perf_counter() - t0)
                        return out
                    fns[("torch", t)] = tf
            best = best_of(args.rounds, fns, args.reps)
            cells = []
            for c in cols:
                g = flop / best[c] / 1e9
                pct = "" if c[0] == "ref" else f" ({100 * g / peaks[c]:.0f}%)"  # ref's probe is scalar
                cells.append(f"{g:.0f}{pct} / {nbytes / best[c] / 1e9:.0f}")
            for c in tcols:
                cells.append(f"{flop / best[c] / 1e9:.0f} / {nbytes / best[c] / 1e9:.0f}")
            print(f"| {name} | {C}x{H}x{W}, {k}/{s} | " + " | ".join(cells) + " |")

    if args.only in (None, "pool"):
        names = [f"{i} t{t}" for i, t in cols] + [f"torch t{t}" for _, t in tcols]
        print("\nPooling: GB/s (input read once + output written once) / us\n")
        print("| layer | kind C x H x W, k/s | " + " | ".join(names) + " |")
        print("|---|---|" + "---|" * len(names))
        for name, kind, C, H, W, k, s, pd, ceil in POOL:
            x = rng.standard_normal((1, H, W, C)).astype(np.float32)
            OH, OW = out_size(H, k, s, pd, pd, ceil), out_size(W, k, s, pd, pd, ceil)
            nbytes = 4 * (H * W * C + OH * OW * C)
            fns = {}
            for i, t in cols:
                fns[(i, t)] = (lambda i=i, t=t: lambda reps: K.pool_nhwc(
                    i, kind, x, [k, k], [s, s], [pd] * 4, [1, 1], [OH, OW], False, t, reps=reps)[1])()
            if torch is not None:
                xt = torch.from_numpy(x).permute(0, 3, 1, 2)
                f = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
                for _, t in tcols:
                    def tf(reps, t=t, f=f):
                        torch.set_num_threads(t)
                        out = []
                        with torch.no_grad():
                            for _ in range(reps):
                                t0 = time.perf_counter()
                                if kind == "max":
                                    f(xt, k, s, pd, ceil_mode=ceil)
                                else:
                                    f(xt, k, s, pd, ceil_mode=ceil, count_include_pad=False)
                                out.append(time.perf_counter() - t0)
                        return out
                    fns[("torch", t)] = tf
            best = best_of(args.rounds, fns, args.reps)
            cells = [f"{nbytes / best[c] / 1e9:.0f} / {best[c] * 1e6:.0f}" for c in cols + tcols]
            print(f"| {name} | {kind} {C}x{H}x{W}, {k}/{s} | " + " | ".join(cells) + " |")
        for name, kind, C, HW in GLOBAL:
            x = rng.standard_normal((1, HW, C)).astype(np.float32)
            nbytes = 4 * (HW * C + C)
            fns = {}
            for i, t in cols:
                fns[(i, t)] = (lambda i=i, t=t: lambda reps: K.global_pool_nhwc(i, kind, x, t, reps)[1])()
            if torch is not None:
                side = int(round(HW ** 0.5))
                xt = torch.from_numpy(x.reshape(1, side, HW // side, C)).permute(0, 3, 1, 2)
                for _, t in tcols:
                    def tf(reps, t=t):
                        torch.set_num_threads(t)
                        out = []
                        with torch.no_grad():
                            for _ in range(reps):
                                t0 = time.perf_counter()
                                if kind == "max":
                                    torch.nn.functional.adaptive_max_pool2d(xt, 1)
                                else:
                                    torch.nn.functional.adaptive_avg_pool2d(xt, 1)
                                out.append(time.perf_counter() - t0)
                        return out
                    fns[("torch", t)] = tf
            best = best_of(args.rounds, fns, args.reps)
            cells = [f"{nbytes / best[c] / 1e9:.0f} / {best[c] * 1e6:.1f}" for c in cols + tcols]
            print(f"| {name} | global {kind} {C} x {HW} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
