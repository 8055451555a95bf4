"""Load time: cnnrt.load(model.onnx), cnnrt.load(model.cnnrt) and
onnxruntime.InferenceSession(model.onnx), interleaved (timing.interleaved),
median and min per loader, plus the file sizes.

    python benchmarks/bench_load.py [--nets resnet50,lenet5] [--runs 7] [--threads 1]
        [--onnx-dir DIR]   (default: benchmarks/.cache/onnx, exported by bench_models.export_net)

A load is everything until the first run can start: cnnrt compiles (ONNX),
or checks and maps the .cnnrt file and hands its packed weights over, and
builds the plan for the model's static input shape; onnxruntime parses,
optimises (its default level) and prepacks. All files are in the page cache
after the warm-up load, so this measures the CPU work of a load, not the disk.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cnnrt  # noqa: E402
from timing import interleaved  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", default="resnet50,lenet5")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--onnx-dir", default=None)
    args = ap.parse_args(argv)
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    print(f"cpu: {cnnrt.info()['cpu']}; isa: {cnnrt.info()['isa_current']}; threads {args.threads}; "
          f"onnxruntime {ort.__version__}; cnnrt {cnnrt.__version__}")
    print(f"{'net':<10} {'onnx MB':>8} {'cnnrt MB':>9} {'load .onnx ms':>14} {'load .cnnrt ms':>15} "
          f"{'ort ms':>8} {'ort / .cnnrt':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for net in args.nets.split(","):
            if args.onnx_dir:
                onnx_path = os.path.join(args.onnx_dir, net + ".onnx")
            else:
                from bench_models import export_net

                onnx_path = export_net(net)
            compiled = os.path.join(tmp, net + ".cnnrt")
            cnnrt.load(onnx_path, threads=args.threads).save(compiled)
            t = interleaved({
                "onnx": lambda: cnnrt.load(onnx_path, threads=args.threads),
                "cnnrt": lambda: cnnrt.load(compiled, threads=args.threads),
                "ort": lambda: ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"]),
            }, runs=args.runs, warmup=1, block=1)
            med = {k: statistics.median(v) for k, v in t.items()}
            print(f"{net:<10} {os.path.getsize(onnx_path) / 1e6:>8.1f} {os.path.getsize(compiled) / 1e6:>9.1f} "
                  f"{med['onnx']:>14.1f} {med['cnnrt']:>15.1f} {med['ort']:>8.1f} {med['ort'] / med['cnnrt']:>12.1f}x")


if __name__ == "__main__":
    main()
