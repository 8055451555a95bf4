"""`cnnrt bench MODEL`: latency and throughput, against peer runtimes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import List

import numpy as np

from .common import (OK, CommandError, add_shape_arg, check_unknown_shapes, concrete_shape, err, formatter, load,
                     model_path, parse_ints, parse_shapes, table)

EXAMPLE = """Warm-up, then timed runs of every configuration (threads x batch) and every
runtime, interleaved in blocks in this process (the timing of benchmarks/,
shared: python/cnnrt/_bench/timing.py), on the same seeded input. Prints
median / p10 / p90 latency, throughput, each peer's ratio to cnnrt, the
effective GFLOP/s (2 x MACs of Conv/Gemm/MatMul per second) and each
runtime's peak RSS (a child process that loads the model and runs it
--rss-runs times). Peers that are not installed, or cannot run the model,
are named with the reason and left out. OpenVINO is forced to f32 unless
--allow-bf16. Single-input models.

Examples:
  cnnrt bench model.onnx
  cnnrt bench model.onnx --threads 1,2 --batch 1,8 --vs onnxruntime,openvino,ncnn
  cnnrt bench model.onnx --runs 50 --json out.json --plot out.png
"""


def register(sub) -> None:
    p = sub.add_parser("bench", help="median/p10/p90 latency, throughput, GFLOP/s, RSS; vs onnxruntime & co.",
                       description=EXAMPLE, formatter_class=formatter)
    p.add_argument("model", help="an ONNX file, or 'demo'")
    p.add_argument("--threads", default="1", metavar="1,2", help="comma list of thread counts (default 1)")
    p.add_argument("--batch", default="1", metavar="1,8", help="comma list of batch sizes (default 1)")
    p.add_argument("--vs", default="onnxruntime", metavar="RT,...",
                   help="peers: onnxruntime, openvino, ncnn (default onnxruntime; 'none' for cnnrt alone)")
    add_shape_arg(p)
    p.add_argument("--runs", type=int, default=20, help="timed runs per runtime and configuration, at least (default 20)")
    p.add_argument("--min-seconds", type=float, default=1.0, help="timed seconds per runtime and configuration, at least")
    p.add_argument("--max-seconds", type=float, default=60.0, help="per configuration: stop there once each has 3 runs")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs per runtime first (default 3)")
    p.add_argument("--block", type=int, default=5, help="consecutive runs per runtime in each round (default 5)")
    p.add_argument("--rss-runs", type=int, default=1, help="runs in each peak-RSS child process (0: no RSS)")
    p.add_argument("--allow-bf16", action="store_true", help="let OpenVINO compute in bf16 where the CPU can")
    p.add_argument("--json", default=None, metavar="OUT.json", help="write every number (and the samples) here")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="bar chart of the medians, p10-p90 whiskers")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def _progress(total: int, disable: bool):
    """tqdm's bar where installed (on stderr), else one line per step."""
    if not disable:
        try:
            from tqdm import tqdm

            return tqdm(total=total, unit="config", file=sys.stderr, leave=False)
        except ImportError:
            pass

    class Lines:
        n = 0

        def set_description(self, d):
            self.d = d

        def update(self, k):
            self.n += k
            if not disable:
                print(f"[{self.n}/{total}] {getattr(self, 'd', '')}", file=sys.stderr)

        def close(self):
            pass

    return Lines()


def rss_child(rt: str, artifact: str, threads: int, runs: int, shape) -> dict:
    """Peak RSS of a process that imports the runtime, loads and runs it."""
    from .._bench import runtimes

    import cnnrt

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(cnnrt.__file__)), env.get("PYTHONPATH", "")])
    # by path, not -m: the child of one runtime must not import cnnrt (or onnx) with it
    p = subprocess.run([sys.executable, runtimes.__file__, "rss", rt, artifact, str(threads), str(runs),
                        "x".join(map(str, shape))], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=env, timeout=1200)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"exit {p.returncode}: {(p.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(lines[-1])


def _reason(e: BaseException) -> str:
    msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return msg[:300]


def main(args) -> int:
    from .._bench import onnx_stats
    from .._bench.runtimes import RUNTIMES, Unavailable
    from .._bench.timing import cpu_name, interleaved, summary

    path = model_path(args.model)
    shapes = parse_shapes(args.shape)
    threads = parse_ints(args.threads, "--threads")
    batches = parse_ints(args.batch, "--batch")
    peers = [] if args.vs.strip() in ("", "none") else [p.strip() for p in args.vs.split(",") if p.strip()]
    bad = [p for p in peers if p not in RUNTIMES or p == "cnnrt"]
    if bad:
        raise CommandError(f"--vs {args.vs}: unknown peer(s) {bad}; known: {[r for r in RUNTIMES if r != 'cnnrt']}")
    if args.runs < 1 or args.warmup < 0:
        raise CommandError("--runs must be >= 1 and --warmup >= 0")
    sess = load(path, threads=1)  # fails early, with cnnrt's message, on a model cnnrt cannot run
    check_unknown_shapes(shapes, sess.inputs)
    if len(sess.inputs) != 1:
        raise CommandError(f"bench runs single-input models; this one has {[i.name for i in sess.inputs]}")
    inp = sess.inputs[0]
    if np.dtype(inp.dtype) != np.float32:
        raise CommandError(f"bench feeds float32; input '{inp.name}' is {inp.dtype}")
    fixed_batch = inp.shape[0] if inp.shape and isinstance(inp.shape[0], int) else None
    del sess
    RUNTIMES["openvino"].allow_bf16 = args.allow_bf16
    versions, unavailable = {}, {}
    for rt in ["cnnrt"] + peers:
        try:
            versions[rt] = RUNTIMES[rt].version()
        except Unavailable as e:
            unavailable[rt] = str(e)
            err("bench", f"{rt}: not available: {e}")
    runtimes = [rt for rt in ["cnnrt"] + peers if rt in versions]
    from ..onnx_import import read_model

    proto, _, _ = read_model(path)
    configs = [(t, b) for b in batches for t in threads]
    doc = {"model": path, "input": inp.name, "versions": versions, "unavailable": dict(unavailable),
           "cpu": cpu_name(), "isa": versions.get("cnnrt", ""), "settings": {k: getattr(args, k) for k in (
               "runs", "min_seconds", "max_seconds", "warmup", "block", "rss_runs", "allow_bf16")}, "rows": []}
    bar = _progress(len(configs), args.no_progress)
    t_start = time.time()
    for t, b in configs:
        bar.set_description(f"threads {t} batch {b}")
        shape = concrete_shape(inp, shapes, batch=b)
        row = {"threads": t, "batch": b, "shape": shape, "results": {}, "unavailable": {}}
        doc["rows"].append(row)
        if fixed_batch is not None and b != fixed_batch:
            row["unavailable"]["all"] = f"the model's input '{inp.name}' has a fixed batch of {fixed_batch}"
            bar.update(1)
            continue
        row["gflop"] = 2 * sum(onnx_stats.node_macs(proto, {inp.name: shape}).values()) / 1e9
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        fns, arts = {}, {}
        for rt in runtimes:
            try:
                if rt == "ncnn" and b != 1:
                    raise Unavailable("the ncnn adapter runs batch 1")
                arts[rt] = RUNTIMES[rt].prepare(path, tuple(shape))
                run = RUNTIMES[rt].session(arts[rt], t, tuple(shape))
                y = np.asarray(run(x))  # also the first warm-up run
                if y.size == 0:
                    raise Unavailable("empty output")
                fns[rt] = (lambda run=run: run(x))
            except Exception as e:  # noqa: BLE001  (a peer's failure is a note, never the end of the bench)
                if rt == "cnnrt":
                    raise
                row["unavailable"][rt] = _reason(e)
        times = interleaved(fns, runs=args.runs, warmup=args.warmup, block=args.block,
                            min_seconds_each=args.min_seconds, max_seconds=args.max_seconds)
        del fns
        for rt, ms in times.items():
            s = summary(ms)
            s["samples_ms"] = [round(v, 4) for v in ms[:: max(1, len(ms) // 500)]]
            s["throughput"] = b / s["median_ms"] * 1e3
            s["gflops"] = row["gflop"] / s["median_ms"] * 1e3
            row["results"][rt] = s
        cn = row["results"]["cnnrt"]["median_ms"]
        for rt, s in row["results"].items():
            s["ratio_to_cnnrt"] = s["median_ms"] / cn
        if args.rss_runs > 0:
            for rt in row["results"]:
                try:
                    r = rss_child(rt, arts[rt], t, args.rss_runs, shape)
                    row["results"][rt]["rss_peak_mib"] = r["peak_mib"]
                except Exception as e:  # noqa: BLE001
                    row["results"][rt]["rss_error"] = _reason(e)
        bar.update(1)
    bar.close()
    doc["seconds"] = time.time() - t_start
    print(render(doc, runtimes))
    if args.json:
        _write(args.json, lambda f: json.dump(doc, f, indent=1), "w")
        print(f"wrote {args.json}")
    if args.plot:
        try:
            plot(doc, runtimes, args.plot)
        except ImportError:
            raise CommandError("--plot needs matplotlib: pip install 'cnnrt[cli]' (or pip install matplotlib)") from None
        print(f"wrote {args.plot}")
    return OK


def _write(path: str, fn, mode: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, mode) as f:
        fn(f)
    os.replace(tmp, path)


def _ms(v: float) -> str:
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def render(doc: dict, runtimes: List[str]) -> str:
    out = [f"model {doc['model']}  ({doc['cpu']})",
           "versions: " + ", ".join(f"{rt} {v}" for rt, v in doc["versions"].items())]
    rows = []
    for r in doc["rows"]:
        for rt in runtimes:
            s = r["results"].get(rt)
            if s is None:
                continue
            ratio = "1 (ref)" if rt == "cnnrt" else f"{s['ratio_to_cnnrt']:.2f}x"
            rss = f"{s['rss_peak_mib']:.0f}" if "rss_peak_mib" in s else ("failed" if "rss_error" in s else "-")
            rows.append([r["threads"], r["batch"], rt, _ms(s["median_ms"]), _ms(s["p10_ms"]), _ms(s["p90_ms"]),
                         f"{s['throughput']:.1f}", ratio, f"{s['gflops']:.1f}", rss, s["runs"]])
    out.append("")
    out.append(table(["threads", "batch", "runtime", "median ms", "p10 ms", "p90 ms", "img/s", "time / cnnrt's",
                      "GFLOP/s", "peak RSS MiB", "runs"], rows))
    notes = []
    for rt, why in doc["unavailable"].items():
        notes.append(f"  {rt}: not available: {why}")
    for r in doc["rows"]:
        for rt, why in r["unavailable"].items():
            notes.append(f"  threads {r['threads']} batch {r['batch']}: {rt}: {why}")
    if notes:
        out += ["", "left out:"] + notes
    g = next((r["gflop"] for r in doc["rows"] if "gflop" in r), None)
    out += ["", f"GFLOP per image: {g / doc['rows'][0]['batch']:.3g} (2 x MACs of Conv/Gemm/MatMul); "
                f"time / cnnrt's > 1: cnnrt is faster; {doc['seconds']:.0f} s" if g is not None else ""]
    return "\n".join(out)


def plot(doc: dict, runtimes: List[str], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in doc["rows"] if r["results"]]
    labels = [f"{r['threads']} thr, batch {r['batch']}" for r in rows]
    xs = np.arange(len(rows))
    w = 0.8 / max(1, len(runtimes))
    fig, ax = plt.subplots(figsize=(max(4.5, 1.6 * len(rows) + 2), 3.4))
    for k, rt in enumerate(runtimes):
        med, lo, hi = [], [], []
        for r in rows:
            s = r["results"].get(rt)
            if s is None:
                med.append(np.nan), lo.append(0), hi.append(0)
                continue
            med.append(s["median_ms"])
            lo.append(max(0.0, s["median_ms"] - s["p10_ms"]))
            hi.append(max(0.0, s["p90_ms"] - s["median_ms"]))
        ax.bar(xs + (k - (len(runtimes) - 1) / 2) * w, med, w, yerr=[lo, hi], capsize=3, label=rt,
               error_kw={"elinewidth": 0.8})
    meds = [s["median_ms"] for r in rows for s in r["results"].values()]
    if meds and max(meds) > 20 * min(meds):  # runtimes far apart: a log axis keeps every bar readable
        ax.set_yscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels(labels)
    ax.set_ylabel("latency, ms (median; p10-p90)")
    ax.set_title(f"{os.path.basename(doc['model'])}: cnnrt bench", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)

