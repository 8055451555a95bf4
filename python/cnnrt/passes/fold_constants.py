"""Constant folding: a node whose inputs are all constants is evaluated once,
at load, by the runtime's own kernels (no second implementation in numpy);
Shape of a tensor whose shape is static becomes a constant, so the
Shape/Gather/Unsqueeze/Concat subgraphs exporters emit around Reshape and
Flatten fold away. With a dynamic dimension the runtime folds what remains
when it plans each input shape."""
from __future__ import annotations

import numpy as np

from ..ir import Graph
from . import _eval


def _static_shape(graph: Graph, name: str):
    s = graph.static_shape(name)
    if s is None or any(not isinstance(d, int) for d in s):
        return None
    return s


def fold_constants(graph: Graph) -> Graph:
    consts = dict(graph.consts)
    outs = graph.output_names()
    nodes = []
    changed = False
    for n in graph.nodes:
        if n.op == "Shape" and n.inputs[0] not in consts:
            s = _static_shape(graph, n.inputs[0])
            if s is not None:
                start = int(n.attrs.get("start", 0))
                end = n.attrs.get("end")
                r = len(s)
                start = max(0, min(r, start + r if start < 0 else start))
                end = r if end is None else int(end)
                end = max(0, min(r, end + r if end < 0 else end))
                consts[n.outputs[0]] = np.array(s[start:end], dtype=np.int64)
                changed = True
                continue
        present = [i for i in n.inputs if i]
        if present and all(i in consts for i in present) and not any(o in outs for o in n.outputs if o):
            values = _eval.evaluate(n, consts)
            if values is not None:
                for o, v in zip(n.outputs, values):
                    if o:
                        consts[o] = v
                changed = True
                continue
        nodes.append(n)
    if not changed:
        return graph
    return graph.replace(nodes=nodes, consts=consts, applied=graph.applied + ["fold_constants"])
