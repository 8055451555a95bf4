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
    args = p.parse_args(argv)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
