"""`cnnrt info [MODEL]`: what is inside a model and what cnnrt makes of it."""
from __future__ import annotations

import json
from collections import Counter
from typing import Dict, List

from .common import (FOUND_PROBLEM, OK, add_shape_arg, check_unknown_shapes, concrete_shape, fmt_bytes,
                     fmt_count, fmt_shape, formatter, load, model_path, parse_shapes, table)

EXAMPLE = """Without MODEL: cnnrt's version, CPU, ISA paths, threads and build flags (JSON).

With MODEL: inputs and outputs (symbolic dims by name), opset and producer,
nodes by op type, parameters and FLOPs (2 x multiply-accumulates of Conv,
ConvTranspose, Gemm and MatMul) at the given input shape, every op cnnrt
cannot run (with node names); and after compilation: the passes applied, the
nodes fused away, the ISA path, the kernel each node runs and the arena size.
Exit code 1 when cnnrt cannot run the model (the report says why), 2 when the
file cannot be read.

Examples:
  cnnrt info
  cnnrt info model.onnx --shape input=1x3x224x224
  cnnrt info model.onnx --nodes          # the kernel of every node
  cnnrt info model.onnx --json           # the same report as JSON
"""

_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool", 10: "float16",
           11: "float64", 16: "bfloat16"}


def register(sub) -> None:
    p = sub.add_parser("info", help="model inputs/outputs, ops, FLOPs, support, kernels (or, alone: version and CPU)",
                       description=EXAMPLE, formatter_class=formatter)
    p.add_argument("model", nargs="?", default=None, help="an ONNX file, or 'demo' (leave out: cnnrt's own info)")
    add_shape_arg(p)
    p.add_argument("--nodes", action="store_true", help="one line per compiled node: op, kernel")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--threads", type=int, default=None, help="threads of the compiled session (default: CPUs usable)")
    p.set_defaults(func=main)


def _dims(vi) -> List[object]:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim]


def analyse_onnx(proto, shapes: Dict[str, List[int]]) -> dict:
    """The model as ONNX has it: IO, opset, producer, ops, parameters, FLOPs."""
    from .._bench import onnx_stats

    g = proto.graph
    inits = {t.name for t in g.initializer}
    io = lambda vs: [{"name": v.name, "shape": _dims(v), "dtype": _DTYPES.get(v.type.tensor_type.elem_type, str(v.type.tensor_type.elem_type))}
                     for v in vs]
    inputs = io([i for i in g.input if i.name not in inits])
    opset = {(o.domain or "ai.onnx"): o.version for o in proto.opset_import}
    params = sum(_numel(t.dims) for t in g.initializer if t.data_type in (1, 10, 11, 16))
    rep = {"inputs": inputs, "outputs": io(g.output), "ir_version": proto.ir_version, "opset": opset,
           "producer": " ".join(x for x in (proto.producer_name, proto.producer_version) if x) or None,
           "nodes": len(g.node), "ops": dict(Counter(n.op_type for n in g.node).most_common()),
           "parameters": params, "initializers": len(g.initializer)}
    feed_shapes = {}
    for i in inputs:
        if i["name"] in shapes:
            feed_shapes[i["name"]] = shapes[i["name"]]
        elif i["shape"] is not None:
            feed_shapes[i["name"]] = [d if isinstance(d, int) and d > 0 else 1 for d in i["shape"]]
    rep["flops_at"] = feed_shapes
    try:
        macs = onnx_stats.node_macs(proto, feed_shapes)
        rep["flops"] = 2 * sum(macs.values())
        rep["flops_by_op"] = dict(Counter({n.op_type: 0 for n in g.node if (n.name or n.output[0]) in macs}))
        for n in g.node:
            k = n.name or n.output[0]
            if k in macs:
                rep["flops_by_op"][n.op_type] += 2 * macs[k]
    except Exception as e:  # noqa: BLE001  (a graph onnx cannot infer: say so, report the rest)
        rep["flops"] = None
        rep["flops_error"] = f"onnx shape inference failed: {str(e).splitlines()[0][:200]}"
    return rep


def _numel(dims) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def fused_map(proto, lowered) -> Dict[str, str]:
    """ONNX node -> what became of it when it is not a node of the compiled
    graph: "fused into <node>" (a surviving node upstream of it took it into
    its epilogue: BatchNorm, bias, activation, residual Add), "removed"
    (Identity, Dropout) or "folded at load" (computed once: shape
    arithmetic, constants)."""
    kept = {n for n, *_ in lowered}
    produced_by = {o: n for n, _, _, outs in lowered for o in outs}
    onnx_producer = {o: n for n in proto.graph.node for o in n.output if o}
    consumers: Dict[str, list] = {}
    for n in proto.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    out = {}
    for n in proto.graph.node:
        if n.name in kept or not n.name:
            continue
        if n.op_type in ("Identity", "Dropout"):
            out[n.name] = "removed"
            continue
        # the first surviving value downstream, through removed nodes
        frontier, seen, target = list(n.output), set(), None
        while frontier and target is None:
            v = frontier.pop(0)
            if v in seen:
                continue
            seen.add(v)
            if v in produced_by:
                target = produced_by[v]
                break
            for c in consumers.get(v, []):
                if c.name not in kept:
                    frontier.extend(c.output)
        # ... whose compiled producer is upstream of this node
        up, stack, seen = False, list(n.input), set()
        while target is not None and stack and not up:
            v = stack.pop()
            if v in seen or v not in onnx_producer:
                continue
            seen.add(v)
            p = onnx_producer[v]
            if p.name == target:
                up = True
            elif p.name not in kept:
                stack.extend(p.input)
        out[n.name] = f"fused into {target}" if up else "folded at load"
    return out


def compile_report(path: str, shapes, threads) -> dict:
    import numpy as np

    import cnnrt

    sess = load(path, threads=threads)
    check_unknown_shapes(shapes, sess.inputs)
    arrays = [np.zeros(concrete_shape(i, shapes), np.dtype(i.dtype)) for i in sess.inputs]
    lowered = [tuple(k) for k in sess._core.kernels()]
    stats = sess._core.stats()
    rep = {"isa": stats["isa"], "isa_detected": cnnrt.info()["isa_detected"], "threads": sess.threads,
           "passes_applied": sess.passes_applied, "compiled_nodes": len(lowered),
           "constant_bytes": stats["constant_bytes"],
           "kernels": [{"node": n, "op": op, "kernel": k or f"{op} (own loops)", "outputs": list(outs)}
                       for n, op, k, outs in lowered]}
    try:
        rep["arena_bytes"] = int(sess._core.arena_bytes(arrays))
        rep["arena_at"] = {i.name: list(a.shape) for i, a in zip(sess.inputs, arrays)}
    except cnnrt.CnnrtError as e:
        rep["arena_error"] = str(e)
    return rep


def main(args) -> int:
    import cnnrt

    path = model_path(args.model)
    shapes = parse_shapes(args.shape)
    from ..onnx_import import read_model

    proto, _, _ = read_model(path)  # cnnrt's reader: a bad file is a ModelLoadError (exit 2)
    rep = {"model": path, **analyse_onnx(proto, shapes)}
    try:
        rep["compiled"] = compile_report(path, shapes, args.threads)
        rep["supported"] = True
        rep["fused"] = fused_map(proto, [(k["node"], k["op"], k["kernel"], k["outputs"]) for k in rep["compiled"]["kernels"]])
    except cnnrt.UnsupportedOpError as e:
        rep["supported"] = False
        rep["unsupported"] = [{"node": n, "op": op, "reason": why} for n, op, why in e.nodes] or [{"node": "?", "op": "?", "reason": str(e)}]
    if args.json:
        print(json.dumps(rep, indent=1, default=str))
    else:
        print(render(rep, args.nodes))
    return OK if rep["supported"] else FOUND_PROBLEM


def render(rep: dict, nodes: bool = False) -> str:
    L = [f"model     {rep['model']}",
         f"producer  {rep['producer'] or '-'}, ONNX IR {rep['ir_version']}, opset "
         + ", ".join(f"{d} {v}" for d, v in rep["opset"].items())]
    for kind in ("inputs", "outputs"):
        for v in rep[kind]:
            L.append(f"{kind[:-1]:<9} {v['name']}: {v['dtype']} {fmt_shape(v['shape'])}")
    at = ", ".join(f"{k} {'x'.join(map(str, s))}" for k, s in rep["flops_at"].items())
    L.append(f"params    {fmt_count(rep['parameters'])} ({rep['parameters']:,} in {rep['initializers']} initializers)")
    if rep.get("flops") is not None:
        by = ", ".join(f"{op} {fmt_count(f)}" for op, f in sorted(rep["flops_by_op"].items(), key=lambda x: -x[1]))
        L.append(f"FLOPs     {fmt_count(rep['flops'])} at {at} (2 x MACs; {by or 'no Conv/Gemm/MatMul'})")
    else:
        L.append(f"FLOPs     unknown: {rep.get('flops_error')}")
    supported = set(_supported_ops())
    bad_ops = {u["op"] for u in rep.get("unsupported", [])}
    ops = ", ".join(f"{op} {c}" + ("" if op in supported and op not in bad_ops else " (!)")
                    for op, c in rep["ops"].items())
    L.append(f"nodes     {rep['nodes']}: {ops}")
    if not rep["supported"]:
        L.append(f"support   NO: cnnrt cannot run {len(rep['unsupported'])} node(s) of this model:")
        for u in rep["unsupported"]:
            L.append(f"            node '{u['node']}' ({u['op']}): {u['reason']}")
        return "\n".join(L)
    c = rep["compiled"]
    L.append("support   yes: cnnrt runs every node")
    L.append("")
    L.append(f"compiled  {c['compiled_nodes']} nodes, ISA path {c['isa']} (detected {c['isa_detected']}), "
             f"{c['threads']} thread{'s' if c['threads'] != 1 else ''}")
    L.append(f"passes    {', '.join(c['passes_applied']) or 'none changed the graph'}")
    fused = rep.get("fused", {})
    groups: Dict[str, List[str]] = {}
    for n, what in fused.items():
        groups.setdefault(what.split(" ")[0], []).append(n)
    if fused:
        parts = []
        for kind in ("fused", "removed", "folded"):
            if kind in groups:
                parts.append(f"{len(groups[kind])} {kind}")
        L.append(f"fused     {len(fused)} ONNX nodes are not compiled nodes: {', '.join(parts)}")
        ex = [f"{n} -> {w}" for n, w in fused.items() if w.startswith("fused")][:4]
        if ex:
            L.append("          e.g. " + "; ".join(ex))
    if "arena_bytes" in c:
        at = ", ".join(f"{k} {'x'.join(map(str, s))}" for k, s in c["arena_at"].items())
        L.append(f"memory    arena {fmt_bytes(c['arena_bytes'])} at {at}; constants outside the ops {fmt_bytes(c['constant_bytes'])}")
    else:
        L.append(f"memory    arena: no plan ({c['arena_error']}); constants outside the ops {fmt_bytes(c['constant_bytes'])}")
    if nodes:
        L.append("")
        L.append(table(["node", "op", "kernel"], [[k["node"], k["op"], k["kernel"]] for k in c["kernels"]]))
    else:
        by_kernel = Counter(k["kernel"] for k in c["kernels"])
        L.append("kernels   " + "\n          ".join(f"{n:>3} x {k}" for k, n in by_kernel.most_common()))
        L.append("          (--nodes: the kernel of every node)")
    return "\n".join(L)


def _supported_ops():
    import cnnrt
    from ..optable import IMPORT_ONLY

    return list(cnnrt.supported_ops()) + list(IMPORT_ONLY) + ["Dropout", "Identity"]
