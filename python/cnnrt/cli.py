"""The cnnrt command line: `cnnrt demo`, `cnnrt info`, `cnnrt --version`."""
from __future__ import annotations

import argparse
import json
import sys


def main(argv=None) -> int:
    import cnnrt

    p = argparse.ArgumentParser(prog="cnnrt", description="cnnrt: CPU inference for CNNs (ONNX models).")
    p.add_argument("--version", action="version", version=f"cnnrt {cnnrt.__version__}")
    sub = p.add_subparsers(dest="cmd")
    d = sub.add_parser("demo", help="classify the bundled held-out digits with the bundled LeNet-5",
                       description="Example: cnnrt demo --threads 1")
    d.add_argument("--threads", type=int, default=None)
    sub.add_parser("info", help="version, CPU, ISA path and threads", description="Example: cnnrt info")
    sv = sub.add_parser("save", help="compile a model to a .cnnrt file (lowered graph + packed weights)",
                        description="Example: cnnrt save model.onnx model.cnnrt --isa avx2")
    sv.add_argument("model")
    sv.add_argument("output")
    sv.add_argument("--isa", choices=["ref", "avx2", "avx512"], default=None, help="pack for this ISA (default: this CPU's)")
    args = p.parse_args(argv)
    if args.cmd == "save":
        return _save(args)
    if args.cmd == "demo":
        from .demo import run_demo

        try:
            res = run_demo(threads=args.threads)
        except (cnnrt.CnnrtError, ValueError) as e:
            print(f"cnnrt demo: {e}", file=sys.stderr)
            return 2
        return 0 if res["accuracy"] >= 0.95 else 1
    if args.cmd == "info":
        print(json.dumps(cnnrt.info(), indent=2))
        return 0
    p.print_help()
    return 0


def _save(args) -> int:
    """cnnrt save MODEL OUT: compile, write, load the file back and check it."""
    import os
    import time

    import cnnrt

    try:
        t0 = time.perf_counter()
        sess = cnnrt.load(args.model, isa=args.isa)
        t1 = time.perf_counter()
        sess.save(args.output)
        t2 = time.perf_counter()
        back = cnnrt.load(args.output, isa=args.isa)
        t3 = time.perf_counter()
    except cnnrt.UnsupportedOpError as e:
        print(f"cnnrt save: {e}", file=sys.stderr)
        for name, op, why in e.nodes:
            print(f"  unsupported: node '{name}' ({op}): {why}", file=sys.stderr)
        return 2
    except (cnnrt.CnnrtError, OSError) as e:
        print(f"cnnrt save: {e}", file=sys.stderr)
        return 2
    size = os.path.getsize(args.output)
    print(f"saved {args.output}: {size / 1e6:.2f} MB, {back.node_count} nodes, weights packed for {sess.isa}")
    print(f"compile {t1 - t0:.3f} s, write {t2 - t1:.3f} s, load back {t3 - t2:.3f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
