"""Transpose pairs cancelled, chains composed.

A Keras/TensorFlow export runs NHWC: tf2onnx wraps each convolution block in
Transpose(0,3,1,2) ... Transpose(0,2,3,1). Once the layout pass has made the
block channels-last it adds the opposite conversions at the block's edges,
so the graph holds Transpose(p) -> Transpose(q) pairs that compose to the
identity. Here a Transpose whose input is another Transpose read by nothing
else is composed with it: the identity disappears (consumers read the first
one's input; an Identity keeps a graph output's name), anything else becomes
one Transpose. Runs after the layout pass.
"""
from __future__ import annotations

from typing import List, Optional

from ..ir import Graph, Node


def _perm(n: Node, rank: Optional[int]) -> Optional[List[int]]:
    p = n.attrs.get("perm")
    if p is None:
        return list(range(rank))[::-1] if rank is not None else None
    return [int(v) for v in p]


def cancel_transposes(graph: Graph) -> Graph:
    changed = False
    nodes = list(graph.nodes)
    while True:
        consumers = {}
        for n in nodes:
            for i in n.inputs:
                if i:
                    consumers.setdefault(i, []).append(n)
        producers = {o: n for n in nodes for o in n.outputs if o}
        outs = graph.output_names()
        hit = None
        for n in nodes:
            if n.op != "Transpose" or not n.inputs or not n.inputs[0]:
                continue
            first = producers.get(n.inputs[0])
            if first is None or first.op != "Transpose" or not first.inputs or not first.inputs[0]:
                continue
            mid = n.inputs[0]
            if mid in outs or len(consumers.get(mid, [])) != 1:
                continue
            shape = graph.static_shape(first.inputs[0])
            rank = len(shape) if shape is not None else None
            p1, p2 = _perm(first, rank), _perm(n, rank)
            if p1 is None or p2 is None or len(p1) != len(p2) or sorted(p1) != list(range(len(p1))):
                continue
            hit = (first, n, [p1[k] for k in p2])
            break
        if hit is None:
            break
        first, second, perm = hit
        changed = True
        src, out = first.inputs[0], second.outputs[0]
        if perm == list(range(len(perm))) and out not in graph.output_names():
            nodes = [Node(m.op, m.name, [src if i == out else i for i in m.inputs], list(m.outputs), dict(m.attrs))
                     for m in nodes if m is not first and m is not second]
            continue
        if perm == list(range(len(perm))):  # keeps the graph output's name
            repl = Node("Identity", second.name, [src], [out], {})
        else:
            repl = Node("Transpose", second.name, [src], [out], {"perm": perm})
        nodes = [repl if m is second else m for m in nodes if m is not first]
    if not changed:
        return graph
    return graph.replace(nodes=nodes, applied=graph.applied + ["cancel_transposes"])
