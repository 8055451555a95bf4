"""cnnrt against onnxruntime, OpenVINO, ncnn, MNN and LiteRT on whole
networks: the same ONNX model and input for every runtime, batch 1, all
runtimes interleaved in one process (benchmarks/timing.py), per thread count.
Reports median and min latency, the ratio to onnxruntime (< 1: faster than
ORT), cnnrt's effective GFLOP/s and its share of this CPU's FMA peak (the
probe in bench_kernels.py), the fastest peer, each runtime's peak RSS (load
+ N runs in a child process of its own) and each peer's max abs difference
from onnxruntime's output.

    pip install ".[bench]"     # matplotlib + the peers (see README, Benchmarks)
    python benchmarks/bench_models.py --threads 1,2 --out /tmp/bench
    python benchmarks/bench_models.py --models resnet18,lenet5 --runtimes cnnrt,onnxruntime,openvino --quick

Models: the nine networks of benchmarks/nets.py (torchvision's resnet50,
resnet18, mobilenet_v2, squeezenet1_1, googlenet, vgg16, alexnet,
efficientnet_b0, and lenet5 at 1x1x32x32; seeded random weights and
BatchNorm statistics, exported with torch.onnx.export(opset 17, dynamo=False)
in a child process and cached in benchmarks/.cache/onnx/), `lenet` (the
bundled demo), the onnx wheel's `light_*` zoo graphs (tests/models/zoo.py),
or a path to a single-input .onnx file. Conversions for ncnn (pnnx), MNN
(its converter) and LiteRT (onnx2tf in benchmarks/.cache/tfvenv) are cached
beside them. A runtime that is not installed, or fails to convert or run a
model, is left out of that row and named with its reason; GFLOP counts
2 * MACs of Conv/Gemm/MatMul (benchmarks/onnx_stats.py).

Writes results.md, results.json and results.png (ratio to onnxruntime per
model and runtime) to --out, after every model (a stopped run keeps what it
measured). Ratios, not absolute times, are what to compare: these machines
are shared.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time

# numpy's OpenBLAS pool is no runtime under test: its threads, once woken by a
# numpy call, spin beside the runtimes (seen in perf on this machine).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "models"))

import onnx_stats  # noqa: E402
from runtimes import ALL, RUNTIMES, Unavailable  # noqa: E402
from timing import cpu_name, interleaved, summary  # noqa: E402

import cnnrt  # noqa: E402
from cnnrt import _core  # noqa: E402

NETS = ["resnet50", "resnet18", "mobilenet_v2", "squeezenet1_1", "googlenet", "vgg16", "alexnet",
        "efficientnet_b0", "lenet5"]
CACHE = os.path.join(HERE, ".cache")
OPSET = 17
REF = "onnxruntime"


def _reason(e):
    msg = str(e).strip().splitlines()
    msg = msg[0] if msg else type(e).__name__
    return msg if isinstance(e, Unavailable) else f"{type(e).__name__}: {msg}"[:300]


def export_net(name, rebuild=False):
    """benchmarks/.cache/onnx/<name>.onnx, exported by nets.py in a child
    process (this one never imports torch); exported again when nets.py
    changes or the file is no longer the one exported (a converter that
    rewrites its input in place would otherwise go unnoticed)."""
    src = os.path.join(HERE, "nets.py")
    out = os.path.join(CACHE, "onnx", name + ".onnx")
    with open(src, "rb") as f:
        key = hashlib.sha1(f.read() + f"opset{OPSET}".encode()).hexdigest()

    def stamp_of(path):
        st = os.stat(path)
        return f"{key} {st.st_size} {st.st_mtime_ns}"

    stamp = out + ".key"
    if not rebuild and os.path.exists(out) and os.path.exists(stamp) and open(stamp).read() == stamp_of(out):
        return out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    print(f"exporting {name} ...", file=sys.stderr)
    tmp = out + ".tmp"
    p = subprocess.run([sys.executable, src, "export", name, tmp], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"export of {name} failed:\n{p.stdout[-3000:]}")
    os.replace(tmp, out)
    with open(stamp, "w") as f:
        f.write(stamp_of(out))
    return out


def random_input(path):
    """Seeded N(0, 1) input of the model's (single) graph input shape, symbolic dims as 1."""
    import onnx

    model = onnx.load(path, load_external_data=False)
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise SystemExit(f"{path}: {len(inputs)} graph inputs; bench_models runs single-input models")
    shape = [d.dim_value if d.dim_value > 0 else 1 for d in inputs[0].type.tensor_type.shape.dim]
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def load_model(name, rebuild=False):
    """Returns (ONNX path, input array)."""
    if name in NETS:
        path = export_net(name, rebuild)
        return path, random_input(path)
    if name == "lenet":
        from cnnrt import demo

        return demo.model_path(), np.ascontiguousarray(demo.load_test_data()[0][:1])
    if name.startswith("light_"):
        import onnx
        import zoo

        model, _, x, _ = zoo.prepare(name)
        path = os.path.join(CACHE, "onnx", name + ".onnx")
        if rebuild or not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            onnx.save(model, path)
        return path, np.ascontiguousarray(x)
    return name, random_input(name)


def cpu_slug():
    s = re.sub(r"\((r|tm)\)|cpu|processor|@.*", "", cpu_name().lower())
    return "-".join(re.findall(r"[a-z0-9.]+", s)) + f"-{os.cpu_count()}cpu"


def peak_gflops(isa, threads, probes=3):
    """The FMA-loop probe of bench_kernels.py: best of `probes` 0.2 s runs."""
    return max(_core.kernels.fma_peak(isa, threads, 0.2) for _ in range(probes))


def rss(runtime, artifact, threads, runs, shape):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(cnnrt.__file__)),
                                         env.get("PYTHONPATH", "")])
    p = subprocess.run([sys.executable, os.path.join(HERE, "runtimes.py"), "rss", runtime, artifact, str(threads),
                        str(runs), "x".join(map(str, shape))], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env, timeout=1200)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"exit {p.returncode}: {tail}")
    return json.loads(lines[-1])


def bench_row(name, path, x, gflop, threads, artifacts, unavailable, args):
    """One (model, threads): every runtime's session in this process,
    compared with onnxruntime, then timed interleaved; RSS per runtime in
    child processes."""
    un = dict(unavailable)
    runs = {}
    for rt, art in artifacts.items():
        try:
            runs[rt] = RUNTIMES[rt].session(art, threads, x.shape)
        except Exception as e:  # noqa: BLE001  (any failure of a peer is a row note, not a crash)
            un[rt] = _reason(e)
    outs, errs = {}, {}
    for rt, run in list(runs.items()):
        try:
            outs[rt] = np.asarray(run(x), dtype=np.float32)
        except Exception as e:  # noqa: BLE001
            un[rt] = _reason(e)
            del runs[rt]
    if REF not in outs:
        raise RuntimeError(f"{name}: onnxruntime, the reference, did not run: {un.get(REF)}")
    ref = outs[REF]
    ref_max = float(np.abs(ref).max())
    for rt, y in outs.items():
        if y.size != ref.size:
            un[rt] = f"output has {y.size} elements, onnxruntime's {ref.size}"
            del runs[rt]
            continue
        errs[rt] = float(np.abs(y.reshape(ref.shape) - ref).max())
    # At least --min-rounds rounds, even past --max-seconds: VGG-16 met its
    # 10 runs and 1.5 s per runtime in two rounds, and a row of two rounds
    # is decided by which phase of the shared host each fell in (Zen 3, z7:
    # 1.20 of MNN at 1 thread, 0.93 when rerun with 8-60 s per runtime).
    min_runs = args.min_rounds * args.block
    times = interleaved({rt: (lambda run=run: run(x)) for rt, run in runs.items()}, runs=max(args.runs, min_runs),
                        warmup=args.warmup, warmup_seconds=args.warmup_seconds, block=args.block,
                        min_seconds_each=args.min_seconds, max_seconds=args.max_seconds, min_runs=min_runs)
    del runs, outs
    res = {}
    for rt, ms in times.items():
        s = summary(ms)
        s["max_abs_err"] = errs[rt]
        step = max(1, len(ms) // 1000)  # at most ~1000 of them, spread over the run, to keep the JSON small
        s["samples_ms"] = [round(v, 4) for v in ms[::step]]
        res[rt] = s
    ort_med = res[REF]["median_ms"]
    for rt, s in res.items():
        s["ratio_to_ort"] = s["median_ms"] / ort_med
        s["gflops"] = gflop / s["median_ms"] * 1e3
    if args.rss_runs > 0:
        for rt in res:
            try:
                r = rss(rt, artifacts[rt], threads, args.rss_runs, x.shape)
                res[rt]["rss_peak_mib"], res[rt]["rss_base_mib"] = r["peak_mib"], r["base_mib"]
            except Exception as e:  # noqa: BLE001
                res[rt]["rss_error"] = _reason(e)
    row = {"model": name, "gflop": gflop, "threads": threads, "input_shape": list(x.shape), "ref_max_abs": ref_max,
           "results": res, "unavailable": {rt: un[rt] for rt in args.runtimes if rt in un}}
    if "cnnrt" in res:
        row["cnnrt_gflops"] = res["cnnrt"]["gflops"]
    peers = [rt for rt in res if rt != "cnnrt"]
    if peers:
        best = min(peers, key=lambda rt: res[rt]["median_ms"])
        row["best_peer"] = best
    return row


# --- reports ------------------------------------------------------------------------

def _ms(v):
    return f"{v:.3g}" if v < 10 else f"{v:.1f}"


def markdown(doc):
    m = doc["meta"]
    rts = [rt for rt in m["runtimes"] if any(rt in r["results"] for r in doc["rows"])]
    lines = [f"# cnnrt model benchmark, {m['date']}", ""]
    peaks = ", ".join(f"{p:.0f} GFLOP/s at {t} thread{'s' if t != '1' else ''}" for t, p in m["peak_gflops"].items())
    lines.append(f"CPU: {m['cpu']} ({m['cpus']} CPUs), cnnrt ISA path {m['isa']}; FMA-loop peak (best probe of the "
                 f"run) {peaks}.")
    lines.append("Versions: " + ", ".join(f"{rt} {v}" for rt, v in m["versions"].items()) + ".")
    s = m["settings"]
    rss_note = (f"Peak RSS: load + {s['rss_runs']} runs, each runtime in its own process. " if s["rss_runs"]
                else "Peak RSS not measured. ")
    lines.append(f"Batch 1, fp32 everywhere. All runtimes interleaved in one process in blocks of {s['block']} runs, each block started once no thread of the process burns CPU (timing.settle); "
                 f">= {s['runs']} timed runs, >= {s.get('min_rounds', 1)} rounds and >= {s['min_seconds']} s per runtime per row"
                 + (f" (at most {s['max_seconds']} s per row past the rounds)" if s.get("max_seconds") else "")
                 + f". {rss_note}Total run time {m.get('total_seconds', 0) / 60:.1f} min.")
    lines += ["", "Median ms (ratio to onnxruntime; < 1 is faster than ORT). GFLOP = 2 x MACs of Conv/Gemm/MatMul.", ""]
    head = ["model", "GFLOP", "threads"] + [f"{rt} ms" for rt in rts] + ["cnnrt GFLOP/s", "cnnrt % peak", "best peer"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|---" * len(head) + "|")
    for r in doc["rows"]:
        cells = [r["model"], f"{r['gflop']:.4g}", str(r["threads"])]
        for rt in rts:
            s = r["results"].get(rt)
            if s is None:
                cells.append("n/a")
            elif rt == REF:
                cells.append(_ms(s["median_ms"]))
            else:
                cells.append(f"{_ms(s['median_ms'])} ({s['ratio_to_ort']:.2f})")
        cells.append(f"{r['cnnrt_gflops']:.1f}" if "cnnrt_gflops" in r else "n/a")
        cells.append(f"{r['cnnrt_pct_peak']:.0f}%" if "cnnrt_pct_peak" in r else "n/a")
        if "best_peer" in r:
            b = r["best_peer"]
            cell = f"{b} {_ms(r['results'][b]['median_ms'])}"
            if "cnnrt" in r["results"]:
                cell += f" (cnnrt {r['results']['cnnrt']['median_ms'] / r['results'][b]['median_ms']:.2f}x)"
            cells.append(cell)
        else:
            cells.append("n/a")
        lines.append("| " + " | ".join(cells) + " |")

    def table(title, fn, label=lambda r: r["model"]):
        out = ["", title, "", "| model | threads | " + " | ".join(rts) + " |", "|---|---" + "|---" * len(rts) + "|"]
        for r in doc["rows"]:
            out.append(f"| {label(r)} | {r['threads']} | "
                       + " | ".join(fn(r, r["results"][rt]) if rt in r["results"] else "n/a" for rt in rts) + " |")
        return out

    lines += table("Min ms.", lambda r, s: _ms(s["min_ms"]))
    if any("rss_peak_mib" in s or "rss_error" in s for r in doc["rows"] for s in r["results"].values()):
        lines += table("Peak RSS, MiB, of a process that imports the runtime, loads the model and runs it (VmHWM, "
                       "which is ru_maxrss without the forking parent's RSS that Linux carries over exec); "
                       "in brackets: after the imports, before the load.",
                       lambda r, s: (f"{s['rss_peak_mib']:.0f} ({s['rss_base_mib']:.0f})" if "rss_peak_mib" in s
                                     else f"failed: {s.get('rss_error', 'not measured')}"))
    lines += table("Max abs difference from onnxruntime's output (its max |output| in brackets; "
                   "! marks a difference above 1% of that).",
                   lambda r, s: f"{s['max_abs_err']:.1e}" + (" !" if s["max_abs_err"] > 1e-2 * r["ref_max_abs"] else ""),
                   lambda r: f"{r['model']} ({r['ref_max_abs']:.2g})")
    notes = {}
    for r in doc["rows"]:
        for rt, why in r["unavailable"].items():
            notes.setdefault((rt, why), []).append(f"{r['model']}/t{r['threads']}")
    for rt, why in m.get("unavailable", {}).items():
        notes.setdefault((rt, why), []).append("all models")
    if notes:
        lines += ["", "Not available:", ""]
        for (rt, why), where in sorted(notes.items()):
            where = sorted(set(where))
            lines.append(f"- {rt}: {why} ({', '.join(where) if len(where) < 8 else str(len(where)) + ' rows'})")
    lines.append("")
    return "\n".join(lines)


def chart(doc, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = doc["rows"]
    rts = [rt for rt in doc["meta"]["runtimes"] if any(rt in r["results"] for r in rows)]
    threads = sorted({r["threads"] for r in rows})
    fig, axes = plt.subplots(len(threads), 1, figsize=(max(8, 1.2 * len({r["model"] for r in rows}) + 3),
                                                         4.0 * len(threads)), squeeze=False)
    for ax, t in zip(axes[:, 0], threads):
        tr = [r for r in rows if r["threads"] == t]
        xs = np.arange(len(tr))
        w = 0.8 / max(1, len(rts))
        for k, rt in enumerate(rts):
            vals, lo, hi = [], [], []
            for r in tr:
                s = r["results"].get(rt)
                ort = r["results"][REF]["median_ms"]
                if s is None:
                    vals.append(np.nan), lo.append(0), hi.append(0)
                    continue
                v = s["median_ms"] / ort
                vals.append(v)
                lo.append(max(0.0, v - s["p25_ms"] / ort))
                hi.append(max(0.0, s["p75_ms"] / ort - v))
            ax.bar(xs + (k - (len(rts) - 1) / 2) * w, vals, w, yerr=[lo, hi], capsize=2, label=rt,
                   error_kw={"elinewidth": 0.8})
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(xs)
        ax.set_xticklabels([r["model"] for r in tr], rotation=20, ha="right")
        ax.set_ylabel("ratio to onnxruntime")
        ax.set_title(f"{t} thread{'s' if t > 1 else ''}: median latency / onnxruntime's median "
                     "(lower is faster; whiskers: quartiles)", fontsize=10)
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8, ncol=len(rts), loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    fig.suptitle(f"cnnrt vs peers, batch 1 fp32, {doc['meta']['cpu']}, {doc['meta']['date']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(doc, out, json_path=None):
    peaks = doc["meta"]["peak_gflops"]
    for r in doc["rows"]:
        if "cnnrt_gflops" in r:
            r["cnnrt_pct_peak"] = 100 * r["cnnrt_gflops"] / peaks[str(r["threads"])]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(doc, f, indent=1)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(markdown(doc))
    try:
        chart(doc, os.path.join(out, "results.png"))
    except ImportError as e:
        print(f"no chart: matplotlib not installed ({e}); pip install '.[bench]'", file=sys.stderr)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(NETS), help="comma list (default: the nine networks)")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--runtimes", default=",".join(ALL), help=f"comma list of {','.join(ALL)}")
    p.add_argument("--runs", type=int, default=10, help="timed runs per runtime per row, at least")
    p.add_argument("--min-seconds", type=float, default=1.5, help="timed seconds per runtime per row, at least")
    p.add_argument("--max-seconds", type=float, default=120.0, help="per row: stop there once --min-rounds are done")
    p.add_argument("--min-rounds", type=int, default=4, help="rounds of --block runs per runtime per row, at least")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs per runtime (fewer past 2 s)")
    p.add_argument("--warmup-seconds", type=float, default=2.0)
    p.add_argument("--block", type=int, default=5, help="consecutive runs per runtime in each round")
    p.add_argument("--rss-runs", type=int, default=None,
                   help="runs in each peak-RSS child process (default 5, --quick 1; 0: no RSS)")
    p.add_argument("--quick", action="store_true", help="development: 3 runs, 0.2 s, 1 warm-up, 1 RSS run")
    p.add_argument("--rebuild", action="store_true", help="re-export the ONNX files (conversions follow)")
    p.add_argument("--out", default=None, help="folder for results.md/json/png "
                   "(default: benchmarks/results/<date>-<cpu>, which git ignores until added)")
    p.add_argument("--json", default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.min_seconds, args.warmup, args.block, args.min_rounds = 3, 0.2, 1, 3, 1
    if args.rss_runs is None:
        args.rss_runs = 1 if args.quick else 5
    args.runtimes = [rt.strip() for rt in args.runtimes.split(",") if rt.strip()]
    bad = [rt for rt in args.runtimes if rt not in RUNTIMES]
    if bad:
        p.error(f"unknown runtime(s) {bad}; known: {ALL}")
    if REF not in args.runtimes:
        args.runtimes.append(REF)  # the reference for ratios and output checks
    args.runtimes.sort(key=ALL.index)
    threads = [int(t) for t in args.threads.split(",")]
    date = datetime.date.today().isoformat()
    out = args.out or os.path.join(HERE, "results", f"{date}-{cpu_slug()}")
    t_start = time.time()

    versions, unavailable = {}, {}
    for rt in args.runtimes:
        try:
            versions[rt] = RUNTIMES[rt].version()
        except Unavailable as e:
            unavailable[rt] = _reason(e)
            print(f"{rt}: not available: {e}", file=sys.stderr)
    if REF in unavailable:
        raise SystemExit(f"onnxruntime is needed as the reference: {unavailable[REF]}")
    isa = cnnrt.info()["isa_current"]
    peaks = {str(t): peak_gflops(isa, t) for t in threads}
    doc = {"meta": {"date": date, "cpu": cpu_name(), "cpus": os.cpu_count(), "isa": isa, "python": platform.python_version(),
                    "runtimes": args.runtimes, "versions": versions, "unavailable": unavailable,
                    "peak_gflops": peaks, "settings": {k: getattr(args, k) for k in (
                        "runs", "min_rounds", "min_seconds", "max_seconds", "warmup", "warmup_seconds", "block", "rss_runs",
                        "quick")}, "command": " ".join([os.path.basename(sys.argv[0])] + (argv or sys.argv[1:]))},
           "models": {}, "rows": []}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        path, x = load_model(name, args.rebuild)
        gflop = onnx_stats.gflop(path, x.shape)
        artifacts, un = {}, {}
        for rt in args.runtimes:
            if rt in unavailable:
                continue
            t0 = time.time()
            try:
                artifacts[rt] = RUNTIMES[rt].prepare(path, x.shape)
            except Exception as e:  # noqa: BLE001
                un[rt] = _reason(e)
                print(f"{name}: {rt} not available: {un[rt]}", file=sys.stderr)
            if time.time() - t0 > 1:
                print(f"{name}: {rt} conversion {time.time() - t0:.0f} s", file=sys.stderr)
        doc["models"][name] = {"onnx": os.path.relpath(path, os.path.join(HERE, "..")) if path.startswith(HERE)
                               else path, "gflop": gflop, "input_shape": list(x.shape)}
        for t in threads:
            # the probe before every row, the best one so far is the peak: on a
            # shared machine a single probe can land on a busy moment
            peaks[str(t)] = max(peaks[str(t)], peak_gflops(isa, t))
            row = bench_row(name, path, x, gflop, t, artifacts, un, args)
            doc["rows"].append(row)
            res = row["results"]
            print(f"{name} t{t}: " + ", ".join(f"{rt} {res[rt]['median_ms']:.2f} ms" for rt in res)
                  + ("; n/a: " + ", ".join(row["unavailable"]) if row["unavailable"] else ""), file=sys.stderr)
        doc["meta"]["total_seconds"] = time.time() - t_start
        write(doc, out, args.json)
    peaks.update({str(t): max(peaks[str(t)], peak_gflops(isa, t)) for t in threads})
    doc["meta"]["total_seconds"] = time.time() - t_start
    write(doc, out, args.json)
    print(markdown(doc))
    print(f"wrote {out}/results.md, results.json, results.png ({doc['meta']['total_seconds'] / 60:.1f} min)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
