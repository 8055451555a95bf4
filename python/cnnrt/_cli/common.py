"""Helpers shared by the subcommands: argument parsing, loading, feeds, tables."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

OK, FOUND_PROBLEM, FAILED = 0, 1, 2


class CommandError(Exception):
    """A failure the command reports as one line and exit code 2."""


def formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def add_model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="an ONNX file (or the word 'demo' for the bundled LeNet-5)")


def add_shape_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shape", action="append", default=[], metavar="NAME=1x3x224x224",
                   help="a concrete shape for an input (symbolic dims default to 1); repeatable")


def model_path(arg: str) -> str:
    if arg == "demo":
        from ..demo import model_path as demo_path

        return demo_path()
    if not os.path.exists(arg):
        raise CommandError(f"no such file: {arg}")
    return arg


def parse_dims(text: str, what: str) -> List[int]:
    try:
        dims = [int(d) for d in text.lower().replace(",", "x").split("x") if d != ""]
    except ValueError:
        raise CommandError(f"{what}: '{text}' is not a shape like 1x3x224x224") from None
    if not dims or any(d < 0 for d in dims):
        raise CommandError(f"{what}: '{text}' is not a shape like 1x3x224x224")
    return dims


def parse_shapes(items: Sequence[str]) -> Dict[str, List[int]]:
    out = {}
    for it in items:
        if "=" not in it:
            raise CommandError(f"--shape {it}: expected NAME=1x3x224x224")
        name, dims = it.split("=", 1)
        out[name] = parse_dims(dims, f"--shape {it}")
    return out


def parse_ints(text: str, what: str) -> List[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise CommandError(f"{what}: '{text}' is not a comma list of integers") from None
    if not vals or any(v < 1 for v in vals):
        raise CommandError(f"{what}: '{text}': positive integers expected")
    return vals


def concrete_shape(info, shapes: Dict[str, List[int]], batch: Optional[int] = None) -> List[int]:
    """An input's shape with --shape applied, symbolic dims as 1 (or the batch)."""
    if info.name in shapes:
        shp = list(shapes[info.name])
        if info.shape is not None and len(shp) != len(info.shape):
            raise CommandError(f"--shape {info.name}: rank {len(shp)}, the model's input has shape {fmt_shape(info.shape)}")
        if batch is not None and shp:
            shp[0] = batch
        return shp
    if info.shape is None:
        raise CommandError(f"input '{info.name}' has an unknown rank: give its shape with --shape {info.name}=...")
    out = [d if isinstance(d, int) and d >= 0 else 1 for d in info.shape]
    if batch is not None and out:
        out[0] = batch
    return out


def check_unknown_shapes(shapes: Dict[str, List[int]], inputs) -> None:
    names = [i.name for i in inputs]
    bad = [k for k in shapes if k not in names]
    if bad:
        raise CommandError(f"--shape for unknown input(s) {bad}; the model's inputs are {names}")


def random_feeds(inputs, shapes: Dict[str, List[int]], seed: int = 0, batch: Optional[int] = None) -> Dict[str, np.ndarray]:
    """Seeded inputs of each input's dtype and concrete shape: N(0, 1) floats,
    int64 in [0, 4), random bools."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for i in inputs:
        shp = concrete_shape(i, shapes, batch)
        dt = np.dtype(i.dtype)
        if dt == np.float32:
            feeds[i.name] = rng.standard_normal(shp).astype(np.float32)
        elif dt == np.int64:
            feeds[i.name] = rng.integers(0, 4, size=shp).astype(np.int64)
        elif dt == np.bool_:
            feeds[i.name] = rng.random(shp) < 0.5
        else:
            raise CommandError(f"input '{i.name}' has dtype {dt}, for which no random input is made; pass it")
    return feeds


def fmt_shape(shape) -> str:
    if shape is None:
        return "?"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def fmt_count(n: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.0f}"


def fmt_bytes(n: float) -> str:
    for unit, div in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n:.0f} B"


def table(head: Sequence[str], rows: Sequence[Sequence[object]], right: Optional[Sequence[bool]] = None) -> str:
    """A plain-text table: columns padded, numbers right-aligned."""
    cells = [[str(c) for c in head]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(head))]
    if right is None:
        right = [all(_numeric(r[k]) for r in cells[1:]) and len(cells) > 1 for k in range(len(head))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if rt else c.ljust(w) for c, w, rt in zip(r, widths, right)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _numeric(s: str) -> bool:
    s = s.strip().rstrip("x%").replace(",", "")
    try:
        float(s.split()[0] if s else "x")
        return True
    except ValueError:
        return s in ("-", "n/a")


def err(cmd: str, msg: object) -> None:
    print(f"cnnrt {cmd}: {msg}", file=sys.stderr)


def load(path: str, threads: Optional[int] = None, **kw):
    """cnnrt.load; a cnnrt error propagates (the command reports it)."""
    import cnnrt

    return cnnrt.load(path, threads=threads, **kw)


def is_class_scores(y: np.ndarray) -> bool:
    """[N, K] (or [N, K, 1, 1]) float with K > 1: a classifier's scores."""
    if y.dtype.kind != "f" or y.ndim < 2 or y.shape[1] < 2:
        return False
    return all(d == 1 for d in y.shape[2:])
