"""`cnnrt profile MODEL`: time per node, as a table and a Chrome trace."""
from __future__ import annotations

import json
import os

from .common import (OK, CommandError, add_shape_arg, check_unknown_shapes, formatter, load, model_path,
                     parse_shapes, random_feeds, table)

EXAMPLE = """Runs the model --runs times (after one warm-up run) timing every step of its
plan (Session.profile), and prints per step: time (median over the runs) and
share of the total, the effective GFLOP/s of Conv/Gemm/MatMul steps (2 x MACs
of the ONNX node / time) and the kernel the step runs. Steps the compiler
inserted (layout conversions) have names of their own. --trace writes the
runs as a Chrome trace (chrome://tracing, https://ui.perfetto.dev): one
complete event per step and run.

Examples:
  cnnrt profile model.onnx --runs 20
  cnnrt profile model.onnx --shape input=1x3x224x224 --threads 2 --trace trace.json
"""


def register(sub) -> None:
    p = sub.add_parser("profile", help="per-node time, share, GFLOP/s and kernel; Chrome trace",
                       description=EXAMPLE, formatter_class=formatter)
    p.add_argument("model", help="an ONNX file, or 'demo'")
    add_shape_arg(p)
    p.add_argument("--runs", type=int, default=10, help="timed runs (default 10)")
    p.add_argument("--threads", type=int, default=None, help="threads (default: CPUs usable)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--top", type=int, default=0, metavar="N", help="only the N slowest steps (default: all)")
    p.add_argument("--trace", default=None, metavar="OUT.json", help="write a Chrome-trace JSON here")
    p.set_defaults(func=main)


def chrome_trace(rows, meta: dict) -> dict:
    """Each run's steps laid end to end (ts, dur in microseconds), one run
    after another: the step times are measured, the gaps between them
    (a few ns of the executor) are not."""
    events = []
    ts = 0.0
    runs = len(rows[0]["times_ms"]) if rows else 0
    for r in range(runs):
        start = ts
        for row in rows:
            dur = row["times_ms"][r] * 1e3
            events.append({"name": row["name"], "cat": row["op"], "ph": "X", "ts": round(ts, 3), "dur": round(dur, 3),
                           "pid": 1, "tid": 1, "args": {"op": row["op"], "kernel": row["kernel"], "run": r}})
            ts += dur
        events.append({"name": f"run {r}", "cat": "run", "ph": "X", "ts": round(start, 3), "dur": round(ts - start, 3),
                       "pid": 1, "tid": 0, "args": {}})
    events.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": 1, "args": {"name": "nodes"}})
    events.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": 0, "args": {"name": "runs"}})
    events.append({"name": "process_name", "ph": "M", "pid": 1, "args": {"name": f"cnnrt {meta['model']}"}})
    return {"traceEvents": events, "displayTimeUnit": "ms", "otherData": meta}


def main(args) -> int:
    from .._bench import onnx_stats
    from ..onnx_import import read_model

    if args.runs < 1:
        raise CommandError("--runs must be >= 1")
    path = model_path(args.model)
    shapes = parse_shapes(args.shape)
    sess = load(path, threads=args.threads)
    check_unknown_shapes(shapes, sess.inputs)
    feeds = random_feeds(sess.inputs, shapes, args.seed)
    sess.run(None, feeds)  # warm-up: plan built, caches warm
    rows = sess.profile(feeds, runs=args.runs)
    kernels = {n: (k or f"{op} (own loops)") for n, op, k, _ in sess._core.kernels()}
    proto, _, _ = read_model(path)
    try:
        macs = onnx_stats.node_macs(proto, {k: list(v.shape) for k, v in feeds.items()})
    except Exception:  # noqa: BLE001  (no FLOPs where onnx cannot infer the shapes)
        macs = {}
    total = sum(r["median_ms"] for r in rows)
    for r in rows:
        r["kernel"] = kernels.get(r["name"], "(inserted by the compiler)" if r["name"] not in kernels else "")
        r["gflops"] = 2 * macs[r["name"]] / (r["median_ms"] * 1e6) if r["name"] in macs and r["median_ms"] > 0 else None
    shown = sorted(rows, key=lambda r: -r["median_ms"])[: args.top] if args.top > 0 else rows
    body = [[r["name"], r["op"], f"{r['median_ms']:.4g}", f"{100 * r['share']:.1f}",
             f"{r['gflops']:.1f}" if r["gflops"] is not None else "-", r["kernel"]] for r in shown]
    print(f"model {path}: {len(rows)} steps, {sess.isa}, {sess.threads} thread{'s' if sess.threads != 1 else ''}, "
          f"{args.runs} runs, inputs " + ", ".join(f"{k} {list(v.shape)}" for k, v in feeds.items()))
    print()
    print(table(["node", "op", "ms", "%", "GFLOP/s", "kernel"], body,
                right=[False, False, True, True, True, False]))
    flops = 2 * sum(macs.values())
    print()
    print(f"total {total:.3f} ms (sum of the step medians)" + (f", {flops / (total * 1e6):.1f} GFLOP/s overall "
                                                                  f"({flops / 1e9:.3g} GFLOP)" if flops else ""))
    by_op = {}
    for r in rows:
        by_op[r["op"]] = by_op.get(r["op"], 0.0) + r["median_ms"]
    print("by op: " + ", ".join(f"{op} {ms / total * 100:.0f}%" for op, ms in sorted(by_op.items(), key=lambda x: -x[1])
                               if ms / total >= 0.005))
    if args.trace:
        doc = chrome_trace(rows, {"model": path, "isa": sess.isa, "threads": sess.threads, "runs": args.runs})
        tmp = args.trace + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, args.trace)
        print(f"wrote {args.trace} ({len(doc['traceEvents'])} events; open in chrome://tracing or ui.perfetto.dev)")
    return OK
