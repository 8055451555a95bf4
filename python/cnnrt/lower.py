"""Lower the IR to the plain data the C++ runtime takes (value ids, node
tuples, constant arrays)."""
from __future__ import annotations

import numpy as np

from .ir import Graph

DTYPE_CODES = {np.dtype(np.float32): 1, np.dtype(np.int64): 7, np.dtype(np.bool_): 9}


def lower(graph: Graph):
    ids = {}
    values = []

    def vid(name, dtype=None, shape=None):
        if name not in ids:
            ids[name] = len(values)
            code = DTYPE_CODES.get(np.dtype(dtype), 1) if dtype is not None else 1
            values.append((name, code, shape))
        return ids[name]

    def dims(v):
        if v is None or v.shape is None:
            return None
        # A negative declared dim (a broken output or value_info hint) is unknown;
        # graph inputs with one were refused at import.
        return [d if isinstance(d, int) and d >= 0 else -1 for d in v.shape]

    for v in graph.inputs:
        vid(v.name, v.dtype, dims(v))

    def _hint(g, name):
        v = g.shapes.get(name)
        return (v.dtype, dims(v)) if v is not None and v.dtype is not None else (None, None)

    consts = {}
    for name, arr in graph.consts.items():
        consts[vid(name, arr.dtype, list(arr.shape))] = arr
    nodes = []
    for n in graph.nodes:
        # Inferred shapes travel as load-time hints (an op may choose its
        # algorithm by them, e.g. Conv's Winograd cut-over); run-time shapes
        # are always checked at planning.
        ins = [vid(i, *_hint(graph, i)) if i else -1 for i in n.inputs]
        outs = [vid(o, *_hint(graph, o)) if o else -1 for o in n.outputs]
        nodes.append((n.op, n.name, ins, outs, n.attrs))
    inputs = [ids[v.name] for v in graph.inputs]
    outputs = [vid(v.name) for v in graph.outputs]
    return values, nodes, inputs, outputs, consts
