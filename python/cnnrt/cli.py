"""The cnnrt command line: `cnnrt info|run|check|bench|profile|demo`, `cnnrt --version`.

One function or module per command (python/cnnrt/_cli/): each registers its
parser in COMMANDS' order and returns an exit code (_cli/__init__.py)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional


def _demo_register(sub):
    d = sub.add_parser("demo", help="classify the bundled held-out digits with the bundled LeNet-5",
                       description="Classify the bundled held-out digits with the bundled LeNet-5.\n\n"
                                   "Example: cnnrt demo --threads 1",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--threads", type=int, default=None)
    d.set_defaults(func=_demo_main)


def _demo_main(args) -> int:
    import cnnrt
    from .demo import run_demo

    try:
        res = run_demo(threads=args.threads)
    except (cnnrt.CnnrtError, ValueError) as e:
        print(f"cnnrt demo: {e}", file=sys.stderr)
        return 2
    return 0 if res["accuracy"] >= 0.95 else 1


def _save_register(sub):
    sv = sub.add_parser("save", help="compile a model to a .cnnrt file (lowered graph + packed weights)",
                        description="Compile a model to a .cnnrt file (lowered graph + packed weights), load it\n"
                                    "back and check it. Example: cnnrt save model.onnx model.cnnrt --isa avx2",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    sv.add_argument("model")
    sv.add_argument("output")
    sv.add_argument("--isa", choices=["ref", "avx2", "avx512"], default=None, help="pack for this ISA (default: this CPU's)")
    sv.set_defaults(func=_save)


def _commands():
    from ._cli import bench, check, info, profile, run

    return [info.register, run.register, check.register, bench.register, profile.register, _save_register,
            _demo_register]


def main(argv: Optional[List[str]] = None) -> int:
    import cnnrt
    from ._cli.common import FAILED, CommandError, err

    p = argparse.ArgumentParser(
        prog="cnnrt", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="cnnrt: CPU inference for CNNs (ONNX models).",
        epilog="Examples:\n  cnnrt info model.onnx --shape input=1x3x224x224\n  cnnrt check model.onnx\n"
               "  cnnrt bench model.onnx --threads 1,2 --vs onnxruntime\n\n"
               "`cnnrt COMMAND --help` shows each command's options. MODEL may be 'demo' (the bundled LeNet-5).\n"
               "Exit codes: 0 done; 1 the command found a problem (check: outputs disagree; info: ops cnnrt\n"
               "cannot run); 2 it could not do its job (bad or unsupported model, bad input, missing package).")
    p.add_argument("--version", action="version", version=f"cnnrt {cnnrt.__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    for register in _commands():
        register(sub)
    args = p.parse_args(argv)
    if args.cmd is None:
        p.print_help()
        return 0
    if args.cmd == "info" and getattr(args, "model", None) is None:
        print(json.dumps(cnnrt.info(), indent=2))
        return 0
    try:
        return int(args.func(args))
    except CommandError as e:
        err(args.cmd, e)
    except cnnrt.CnnrtError as e:
        err(args.cmd, f"{type(e).__name__}: {e}")
    except KeyboardInterrupt:
        err(args.cmd, "interrupted")
    return FAILED


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
