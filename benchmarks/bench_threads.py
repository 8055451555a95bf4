"""Thread scaling: each runtime's sessions at every thread count, timed
interleaved in one process, and the speed-up over the first thread count.

    python benchmarks/bench_threads.py                          # resnet50, 1 vs 2 threads, cnnrt + onnxruntime
    python benchmarks/bench_threads.py --models resnet50,mobilenet_v2 --threads 1,2,4 --runtimes cnnrt,onnxruntime,ncnn
    python benchmarks/bench_threads.py --steps 20 --out /tmp/threads   # + cnnrt's steps, markdown and JSON

Why a script of its own: bench_models.py times every runtime at one thread
count, then at the next, minutes later. On the shared machines here the
host has slow and fast phases lasting seconds (one process's MobileNetV2
runs split into bands near 8.5 and 12 ms), so a speed-up taken from two such
medians measures the phases as much as the threads. Here all the sessions
of a model (runtime x thread count) run in the same rounds, `--block` runs
each (timing.interleaved), and the speed-up is paired: per round, the
runtime's median at the first thread count over its median at the other,
then the median of those per-round ratios. The ratio of the overall medians
and of the minima are printed beside it.

--steps N adds cnnrt's per-step view: Session.profile rounds at each thread
count, interleaved the same way; the sum of each step's minimum per thread
count (what the kernels reach when undisturbed, with no fork/join or host
noise between them) and the N steps that gain least from the extra threads.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_models import _reason, cpu_slug, load_model  # noqa: E402
from runtimes import RUNTIMES  # noqa: E402
from timing import cpu_name, interleaved, summary  # noqa: E402

import cnnrt  # noqa: E402


def paired_speedup(base, other, block):
    """Median over rounds of median(base round) / median(other round)."""
    n = min(len(base), len(other)) // block
    if n == 0:
        return float("nan")
    return statistics.median(statistics.median(base[i * block:(i + 1) * block]) /
                             statistics.median(other[i * block:(i + 1) * block]) for i in range(n))


def time_sessions(path, x, runtimes, threads, args):
    """{runtime: {threads: [ms, ...]}} from one interleaved run; {runtime: why} for those that did not run."""
    fns, skipped = {}, {}
    for rt in runtimes:
        try:
            art = RUNTIMES[rt].prepare(path, x.shape)
            for t in threads:
                run = RUNTIMES[rt].session(art, t, x.shape)
                run(x)
                fns[(rt, t)] = (lambda run=run: run(x))
        except Exception as e:  # noqa: BLE001  (a peer that fails is a note, not a crash)
            skipped[rt] = _reason(e)
            for t in threads:
                fns.pop((rt, t), None)
    # --max-seconds stops only after 4 rounds: the speed-up is paired per round.
    times = interleaved(fns, runs=args.runs, block=args.block, min_seconds_each=args.min_seconds,
                        max_seconds=args.max_seconds, min_runs=4 * args.block)
    out = {}
    for (rt, t), ms in times.items():
        out.setdefault(rt, {})[t] = ms
    return out, skipped


def step_view(path, x, threads, args):
    """cnnrt's steps: per thread count the sum of step minima; per step the minima."""
    sessions = {t: cnnrt.load(path, threads=t) for t in threads}
    feeds = {sessions[threads[0]].inputs[0].name: x}
    mins = {t: {} for t in threads}
    kinds = {r[0]: r[2] for r in sessions[threads[0]]._core.kernels()}
    for _ in range(args.step_rounds):
        for t, s in sessions.items():
            for v in s.profile(feeds, runs=args.block):
                m = mins[t]
                m[v["name"]] = min(m.get(v["name"], float("inf")), v["min_ms"])
    return mins, kinds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="resnet50")
    p.add_argument("--threads", default="1,2", help="the first is the base of the speed-up")
    p.add_argument("--runtimes", default="cnnrt,onnxruntime")
    p.add_argument("--runs", type=int, default=100, help="timed runs per session, at least")
    p.add_argument("--block", type=int, default=5)
    p.add_argument("--min-seconds", type=float, default=0.0, help="per session, at least")
    p.add_argument("--max-seconds", type=float, default=300.0)
    p.add_argument("--steps", type=int, default=0, help="cnnrt's N least-scaling steps (0: no step view)")
    p.add_argument("--step-rounds", type=int, default=20)
    p.add_argument("--out", default=None, help="folder for results.md and results.json")
    args = p.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    runtimes = [r for r in args.runtimes.split(",") if r]
    for rt in runtimes:
        if rt not in RUNTIMES:
            raise SystemExit(f"unknown runtime {rt!r}; known: {', '.join(RUNTIMES)}")
    if len(threads) < 2:
        raise SystemExit("--threads needs at least two counts, the first being the base")

    md = [f"# Thread scaling on {cpu_name()} ({os.cpu_count()} CPUs)", "",
          f"Paired speed-up over {threads[0]} thread(s): per round of {args.block} runs, the median at "
          f"{threads[0]} over the median at N, then the median over rounds. Beside it: the ratio of the "
          "overall medians and of the minima.", ""]
    rows = []
    for name in args.models.split(","):
        path, x = load_model(name)
        times, skipped = time_sessions(path, x, runtimes, threads, args)
        md += [f"## {name}", "", "| runtime | threads | median ms | min ms | speed-up (paired) | median ratio | min ratio |",
               "|---|---|---|---|---|---|---|"]
        for rt, per in times.items():
            base = per[threads[0]]
            for t in threads:
                s = summary(per[t])
                row = {"model": name, "runtime": rt, "threads": t, **s}
                if t != threads[0]:
                    row["speedup_paired"] = paired_speedup(base, per[t], args.block)
                    row["speedup_median"] = statistics.median(base) / s["median_ms"]
                    row["speedup_min"] = min(base) / s["min_ms"]
                rows.append(row)
                sp = (f"{row['speedup_paired']:.3f} | {row['speedup_median']:.3f} | {row['speedup_min']:.3f}"
                      if t != threads[0] else "- | - | -")
                md.append(f"| {rt} | {t} | {s['median_ms']:.4g} | {s['min_ms']:.4g} | {sp} |")
        for rt, why in skipped.items():
            md.append(f"| {rt} | - | not run: {why} | | | | |")
        md.append("")
        if args.steps > 0 and "cnnrt" in runtimes:
            mins, kinds = step_view(path, x, threads, args)
            sums = {t: sum(mins[t].values()) for t in threads}
            md.append("cnnrt, sum of step minima: " + ", ".join(
                f"{t} thread(s) {sums[t]:.3f} ms" + (f" (x{sums[threads[0]] / sums[t]:.3f})" if t != threads[0] else "")
                for t in threads))
            t1, tn = threads[0], threads[-1]
            lost = sorted(mins[t1], key=lambda k: -(mins[tn][k] - mins[t1][k] * t1 / tn))
            md += ["", f"| step ({t1} -> {tn} threads, most time lost first) | {t1} ms | {tn} ms | speed-up | kernel |",
                   "|---|---|---|---|---|"]
            for k in lost[:args.steps]:
                a, b = mins[t1][k], mins[tn][k]
                md.append(f"| {k[-60:]} | {a:.3f} | {b:.3f} | {a / b:.2f} | {kinds.get(k, '')[:50]} |")
            md.append("")
            rows.append({"model": name, "runtime": "cnnrt", "steps_sum_min_ms": {str(t): sums[t] for t in threads}})
    text = "\n".join(md)
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "results.md"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump({"cpu": cpu_name(), "cpu_slug": cpu_slug(), "threads": threads, "settings": vars(args),
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
