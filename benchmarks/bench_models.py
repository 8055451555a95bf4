"""cnnrt vs onnxruntime on the same models and inputs, interleaved in one
process: median and min latency, ratio to onnxruntime (< 1 means cnnrt is
faster). Ratios, not absolute times: these machines are shared.

    python benchmarks/bench_models.py --models lenet,light_resnet50 --threads 1,2

Models: `lenet` (the bundled demo), the onnx wheel's `light_*` zoo graphs
with seeded random weights (tests/models/zoo.py), or a path to an .onnx file.
Writes a Markdown table to stdout and JSON to --json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "models"))

from timing import interleaved, summary  # noqa: E402

import cnnrt  # noqa: E402


def load_model(name):
    """Returns (ModelProto or path, feeds dict)."""
    if name == "lenet":
        from cnnrt import demo

        x = demo.load_test_data()[0][:1]
        return demo.model_path(), {"input": np.ascontiguousarray(x)}
    if name.startswith("light_"):
        import zoo

        model, input_name, x, _ = zoo.prepare(name)
        return model, {input_name: x}
    import onnx

    model = onnx.load(name)
    feeds = {}
    inits = {t.name for t in model.graph.initializer}
    for i in model.graph.input:
        if i.name in inits:
            continue
        shape = [d.dim_value if d.dim_value > 0 else 1 for d in i.type.tensor_type.shape.dim]
        feeds[i.name] = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    return name, feeds


def ort_session(model, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    data = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="lenet,light_resnet50")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--min-seconds", type=float, default=2.0)
    p.add_argument("--block", type=int, default=5, help="consecutive runs per runtime in each round")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    info = cnnrt.info()
    rows = []
    for name in args.models.split(","):
        model, feeds = load_model(name)
        for th in [int(t) for t in args.threads.split(",")]:
            sess = cnnrt.load(model, threads=th)
            ref = ort_session(model, th)
            a = sess.run(None, feeds)[0]
            b = ref.run(None, feeds)[0]
            err = float(np.abs(a - b).max())
            times = interleaved({"cnnrt": lambda: sess.run(None, feeds), "onnxruntime": lambda: ref.run(None, feeds)},
                                runs=args.runs, min_seconds=args.min_seconds, block=args.block)
            c, o = summary(times["cnnrt"]), summary(times["onnxruntime"])
            rows.append({"model": name, "threads": th, "cnnrt": c, "onnxruntime": o,
                         "ratio": c["median_ms"] / o["median_ms"], "max_abs_err": err})
            print(f"{name} threads={th}: cnnrt {c['median_ms']:.3f} ms, onnxruntime {o['median_ms']:.3f} ms, "
                  f"ratio {rows[-1]['ratio']:.2f}", file=sys.stderr)
    cpu = info.get("cpu") or platform.processor()
    print(f"CPU: {cpu}; cnnrt ISA path: {info['isa_current']}; onnxruntime "
          f"{__import__('onnxruntime').__version__}; median of >= {args.runs} runs, interleaved in blocks of {args.block}\n")
    print("| model | threads | cnnrt median ms | onnxruntime median ms | ratio (cnnrt / ORT) | cnnrt min ms | ORT min ms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['threads']} | {r['cnnrt']['median_ms']:.3f} | {r['onnxruntime']['median_ms']:.3f} | "
              f"{r['ratio']:.2f} | {r['cnnrt']['min_ms']:.3f} | {r['onnxruntime']['min_ms']:.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu, "isa": info["isa_current"], "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
