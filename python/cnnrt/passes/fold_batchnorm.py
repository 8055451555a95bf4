"""BatchNormalization after a Conv (or Gemm with a constant B) is folded into
its weights and bias: W' = W * s, b' = (b - mean) * s + beta, with
s = scale / sqrt(var + eps), per output channel. Needs the conv's output to
feed only the BatchNormalization and every parameter to be constant."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Node


def fold_batchnorm(graph: Graph) -> Graph:
    consts = dict(graph.consts)
    consumers = graph.consumers()
    producers = graph.producers()
    outs = graph.output_names()
    drop = set()
    replaced = {}
    for bn in graph.nodes:
        if bn.op != "BatchNormalization" or len(bn.inputs) < 5:
            continue
        x, scale, beta, mean, var = bn.inputs[:5]
        if not all(p in consts for p in (scale, beta, mean, var)):
            continue
        prod = producers.get(x)
        if prod is None or prod.name in drop or prod.op not in ("Conv", "Gemm"):
            continue
        if len(consumers.get(x, [])) != 1 or x in outs:
            continue
        if len(prod.inputs) < 2 or prod.inputs[1] not in consts or len(prod.inputs) > 3 and any(prod.inputs[3:]):
            continue
        if any(k.startswith("cnnrt_") for k in prod.attrs):
            continue
        w = consts[prod.inputs[1]]
        eps = float(bn.attrs.get("epsilon", 1e-5))
        s = consts[scale].astype(np.float64) / np.sqrt(consts[var].astype(np.float64) + eps)
        if prod.op == "Conv":
            oc = w.shape[0]
            if s.shape != (oc,):
                continue
            w2 = (w.astype(np.float64) * s.reshape((oc,) + (1,) * (w.ndim - 1))).astype(np.float32)
        else:  # Gemm: Y = alpha * A B' + beta * C, BN over columns of Y
            if w.ndim != 2 or int(prod.attrs.get("transA", 0)):
                continue
            tb = int(prod.attrs.get("transB", 0))
            n_out = w.shape[0] if tb else w.shape[1]
            if s.shape != (n_out,):
                continue
            w2 = (w * (s[:, None] if tb else s[None, :])).astype(np.float32)
        oc = s.shape[0]
        if len(prod.inputs) > 2 and prod.inputs[2]:
            b = consts[prod.inputs[2]] if prod.inputs[2] in consts else None
            # Per output channel only: Conv's B is [oc]; Gemm's C may be a
            # scalar or a row [oc] / [1, oc] (a column [M, 1] is per row).
            if b is None or b.shape not in ((oc,), (1, oc), (), (1,)):
                continue
            b = np.broadcast_to(b.reshape(-1), (oc,)).astype(np.float64)
            if prod.op == "Gemm":
                b = b * float(prod.attrs.get("beta", 1.0))
        else:
            b = np.zeros(oc, np.float64)
        b2 = ((b - consts[mean].astype(np.float64)) * s + consts[beta].astype(np.float64)).astype(np.float32)
        wname = f"{prod.name}::bn_folded_W"
        bname = f"{prod.name}::bn_folded_B"
        consts[wname] = np.ascontiguousarray(w2)
        consts[bname] = b2
        attrs = dict(prod.attrs)
        if prod.op == "Gemm":
            attrs["beta"] = 1.0
            alpha = float(attrs.get("alpha", 1.0))
            if alpha != 1.0:
                consts[wname] = np.ascontiguousarray(w2 * np.float32(alpha))
                attrs["alpha"] = 1.0
        replaced[prod.name] = Node(prod.op, prod.name, [prod.inputs[0], wname, bname], [bn.outputs[0]], attrs)
        drop.add(bn.name)
    if not replaced:
        return graph
    nodes = [replaced.get(n.name, n) for n in graph.nodes if n.name not in drop]
    return graph.replace(nodes=nodes, consts=consts, applied=graph.applied + ["fold_batchnorm"])
