"""`cnnrt check MODEL`: cnnrt against onnxruntime on the same inputs."""
from __future__ import annotations

import os
import sys
from typing import Dict, Optional

import numpy as np

from .common import (FOUND_PROBLEM, OK, CommandError, add_shape_arg, check_unknown_shapes, formatter,
                     is_class_scores, load, model_path, parse_shapes, random_feeds, table)

EXAMPLE = """Runs cnnrt and onnxruntime (the reference: no graph optimisation) on the
same inputs, from --inputs (a .npz with one array per input name) or seeded
random, shape-aware ones (--shape for symbolic dims, which default to 1), and
prints per output the max abs error, the max |reference|, the relative error,
the tolerance of cnnrt's design (max abs err <= 1e-4 * max|ref| + 1e-5) and,
for class scores ([N, K]), whether the argmax agrees. Where an output
differs, both runtimes run again with the intermediate values that exist in
both (cnnrt fuses nodes; values fused away are skipped) as extra outputs,
and the first value in graph order that differs is named with its node.
Exit code 0 only when every output agrees; 1 when one differs; 2 when the
check cannot run (model cnnrt cannot run, onnxruntime not installed).

Examples:
  cnnrt check model.onnx
  cnnrt check model.onnx --inputs feeds.npz
  cnnrt check model.onnx --shape input=4x3x224x224 --seed 1
"""

# Test hook: the name of a node whose constant weight cnnrt (only) gets
# scaled by 1.5, so that the tests can show the first-difference report
# naming that node. Never set outside tests; a note on stderr says it is on.
FAULT_ENV = "CNNRT_CHECK_FAULT"


def register(sub) -> None:
    p = sub.add_parser("check", help="compare cnnrt with onnxruntime; name the first node that differs",
                       description=EXAMPLE, formatter_class=formatter)
    p.add_argument("model", help="an ONNX file, or 'demo'")
    p.add_argument("--inputs", default=None, metavar="FEEDS.npz", help="one array per input name (default: random)")
    add_shape_arg(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--threads", type=int, default=None, help="cnnrt's threads (default: CPUs usable)")
    p.set_defaults(func=main)


def tolerance(ref: np.ndarray) -> float:
    """DESIGN.md: max abs error <= 1e-4 * max|ref| + 1e-5 (tests/helpers.py)."""
    if ref.size == 0 or ref.dtype.kind != "f":
        return 0.0
    finite = np.abs(ref[np.isfinite(ref)])
    return 1e-4 * (float(finite.max()) if finite.size else 0.0) + 1e-5


def compare(got: np.ndarray, ref: np.ndarray) -> dict:
    got, ref = np.asarray(got), np.asarray(ref)
    r = {"shape": list(ref.shape), "got_shape": list(got.shape)}
    if got.shape != ref.shape:
        r.update(ok=False, why=f"shape {list(got.shape)} vs onnxruntime's {list(ref.shape)}")
        return r
    if ref.dtype.kind != "f" or got.dtype.kind != "f":
        same = bool(np.array_equal(got, ref))
        r.update(ok=same, max_abs=float(np.abs(got.astype(np.float64) - ref.astype(np.float64)).max()) if got.size else 0.0,
                 max_ref=float(np.abs(ref).max()) if ref.size else 0.0, tol=0.0)
        r["rel"] = r["max_abs"] / r["max_ref"] if r["max_ref"] else r["max_abs"]
        return r
    fin = np.isfinite(ref) & np.isfinite(got)
    nonfinite_ok = bool(np.array_equal(np.where(fin, 0, ref), np.where(fin, 0, got), equal_nan=True))
    diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))[fin]
    max_abs = float(diff.max()) if diff.size else 0.0
    max_ref = float(np.abs(ref[np.isfinite(ref)]).max()) if np.isfinite(ref).any() else 0.0
    tol = tolerance(ref)
    r.update(max_abs=max_abs, max_ref=max_ref, tol=tol, rel=max_abs / max_ref if max_ref else max_abs,
             ok=nonfinite_ok and max_abs <= tol)
    if not nonfinite_ok:
        r["why"] = "NaN/inf at different places"
    if is_class_scores(ref):
        a = ref.reshape(ref.shape[0], ref.shape[1]).argmax(1)
        b = got.reshape(got.shape[0], got.shape[1]).argmax(1)
        r["argmax"] = (int((a == b).sum()), int(a.size))
        r["ok"] = r["ok"] and r["argmax"][0] == r["argmax"][1]
    return r


def ort_session(model, threads: int = 1):
    try:
        import onnxruntime as ort
    except ImportError:
        raise CommandError("check compares with onnxruntime, which is not installed: pip install onnxruntime") from None
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    data = model if isinstance(model, (str, bytes)) else model.SerializeToString()
    try:
        return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001  (onnxruntime's own exception types)
        raise CommandError(f"onnxruntime cannot load the model: {str(e).splitlines()[0][:300]}") from None


def with_fault(proto, node_name: str):
    """A copy of `proto` whose node `node_name` has its first constant float
    input scaled by 1.5 (FAULT_ENV)."""
    import onnx
    from onnx import numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(proto)
    inits = {t.name: t for t in m.graph.initializer}
    node = next((n for n in m.graph.node if n.name == node_name), None)
    if node is None:
        raise CommandError(f"{FAULT_ENV}={node_name}: no such node")
    for i in node.input:
        if i in inits and inits[i].data_type == onnx.TensorProto.FLOAT:
            a = numpy_helper.to_array(inits[i]) * np.float32(1.5)
            inits[i].CopyFrom(numpy_helper.from_array(a.astype(np.float32), i))
            return m
    raise CommandError(f"{FAULT_ENV}={node_name}: the node has no constant float input")


def read_feeds(path: str, inputs) -> Dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            feeds = {k: z[k] for k in z.keys()}
    except (OSError, ValueError) as e:
        raise CommandError(f"--inputs {path}: cannot read it as .npz ({e})") from None
    names = [i.name for i in inputs]
    missing = [n for n in names if n not in feeds]
    extra = [k for k in feeds if k not in names]
    if missing or extra:
        raise CommandError(f"--inputs {path}: arrays {sorted(feeds)}; the model's inputs are {names}"
                           + (f" (missing {missing})" if missing else "") + (f" (unknown {extra})" if extra else ""))
    return feeds


def first_difference(proto, fault_proto, feeds, lowered, threads) -> Optional[dict]:
    """Runs both runtimes with every value that is a node output in both
    graphs as an extra graph output; the first (in the ONNX graph's order)
    that differs beyond the tolerance, or None."""
    import onnx

    cn_outputs = {o: (n, op, k) for n, op, k, outs in lowered for o in outs}
    graph_outs = {o.name for o in proto.graph.output}
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=False)
        vinfo = {v.name: v for v in inferred.graph.value_info}
    except Exception:  # noqa: BLE001
        vinfo = {}
    order = []  # (value, ONNX node)
    for n in proto.graph.node:
        for o in n.output:
            if o and o in cn_outputs and o not in graph_outs and o in vinfo \
                    and vinfo[o].type.tensor_type.elem_type == onnx.TensorProto.FLOAT:
                order.append((o, n))
    if not order:
        return {"compared": 0}

    def extended(m):
        e = onnx.ModelProto()
        e.CopyFrom(m)
        e.graph.output.extend([vinfo[v] for v, _ in order])
        return e

    ref = ort_session(extended(proto)).run([v for v, _ in order], feeds)
    sess = load(extended(fault_proto or proto), threads=threads)
    got = dict(zip([o.name for o in sess.outputs], sess.run(None, feeds)))
    last_ok = None
    for (v, node), r in zip(order, ref):
        c = compare(got[v], r)
        if not c["ok"]:
            n, op, k = cn_outputs[v]
            return {"compared": len(order), "value": v, "node": node.name, "op": node.op_type, "cnnrt_node": n,
                    "cnnrt_op": op, "kernel": k, "cmp": c, "last_ok": last_ok}
        last_ok = (v, node.name)
    return {"compared": len(order), "value": None, "last_ok": last_ok}


def main(args) -> int:
    from ..onnx_import import read_model

    path = model_path(args.model)
    shapes = parse_shapes(args.shape)
    fault = os.environ.get(FAULT_ENV)
    proto = fault_proto = None
    if fault:
        print(f"note: {FAULT_ENV}={fault} (test hook): cnnrt runs the model with that node's weight x 1.5",
              file=sys.stderr)
        proto, _, _ = read_model(path)
        fault_proto = with_fault(proto, fault)
    sess = load(fault_proto if fault_proto is not None else path, threads=args.threads)
    check_unknown_shapes(shapes, sess.inputs)
    feeds = read_feeds(args.inputs, sess.inputs) if args.inputs else random_feeds(sess.inputs, shapes, args.seed)
    ort = ort_session(path)
    import onnxruntime

    ref = ort.run([o.name for o in sess.outputs], feeds)
    got = sess.run(None, feeds)
    src = f"--inputs {args.inputs}" if args.inputs else f"seeded random (seed {args.seed})"
    print(f"model    {path}")
    print("inputs   " + ", ".join(f"{k} {list(v.shape)}" for k, v in feeds.items()) + f", {src}")
    print(f"runtimes cnnrt {_version()} ({sess.isa}, {sess.threads} thread{'s' if sess.threads != 1 else ''}) vs "
          f"onnxruntime {onnxruntime.__version__} (CPU, no graph optimisation)")
    rows, all_ok = [], True
    for o, g, r in zip(sess.outputs, got, ref):
        c = compare(g, r)
        all_ok &= c["ok"]
        if "max_abs" in c:
            am = f"{c['argmax'][0]}/{c['argmax'][1]}" if "argmax" in c else "-"
            rows.append([o.name, str(c["shape"]), f"{c['max_abs']:.2e}", f"{c['max_ref']:.3g}", f"{c['rel']:.2e}",
                         f"{c['tol']:.2e}", am, "yes" if c["ok"] else "NO" + (f" ({c['why']})" if "why" in c else "")])
        else:
            rows.append([o.name, str(c["shape"]), "-", "-", "-", "-", "-", f"NO ({c['why']})"])
    print()
    print(table(["output", "shape", "max abs err", "max |ref|", "rel err", "tolerance", "argmax", "agrees"], rows))
    print()
    if all_ok:
        print("OK: every output agrees with onnxruntime (max abs err <= 1e-4 * max|ref| + 1e-5; same argmax)")
        return OK
    lowered = [tuple(k) for k in sess._core.kernels()]
    if proto is None:
        proto, _, _ = read_model(path)
    d = first_difference(proto, fault_proto, feeds, lowered, args.threads)
    if d.get("value"):
        c = d["cmp"]
        fused = "" if d["cnnrt_node"] == d["node"] else f"; cnnrt computes it in node '{d['cnnrt_node']}' ({d['cnnrt_op']}, fused)"
        print(f"first differing value: '{d['value']}', output of node '{d['node']}' ({d['op']}){fused}; "
              f"kernel {d['kernel'] or d['cnnrt_op'] + ' (own loops)'}")
        print(f"  max abs err {c.get('max_abs', float('nan')):.3e} > tolerance {c.get('tol', 0):.3e}"
              f" (max |ref| {c.get('max_ref', float('nan')):.3g})" if "max_abs" in c else f"  {c.get('why')}")
        if d["last_ok"]:
            print(f"  the value before it that agrees: '{d['last_ok'][0]}' (node '{d['last_ok'][1]}')")
        else:
            print("  no value before it was compared: the difference starts at or before this node")
        print(f"  ({d['compared']} intermediate values exist in both runtimes and were compared)")
    elif d["compared"]:
        print(f"every one of the {d['compared']} intermediate values that exist in both runtimes agrees: "
              "the difference is in the last node(s) before the outputs")
    else:
        print("no intermediate value exists in both runtimes to narrow the difference down")
    print("DIFFERENT: cnnrt's outputs differ from onnxruntime's beyond the tolerance")
    return FOUND_PROBLEM


def _version() -> str:
    import cnnrt

    return cnnrt.__version__
