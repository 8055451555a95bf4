"""Nodes none of whose outputs reach a graph output are dropped; outputs
nobody reads are marked unrequested (""), except output 0; constants nobody
reads (weights a BatchNorm fold replaced, initializers an exporter left
behind) are dropped, so they are not handed to the runtime. TopK keeps its
Indices output even when nobody reads it: the runtime sorts in it."""
from __future__ import annotations

from ..ir import Graph

# Ops whose every output the runtime writes (its working storage).
KEEP_OUTPUTS = {"TopK"}


def eliminate_dead(graph: Graph) -> Graph:
    live = set(graph.output_names())
    keep = []
    for n in reversed(graph.nodes):
        if any(o and o in live for o in n.outputs):
            keep.append(n)
            live.update(i for i in n.inputs if i)
    keep.reverse()
    nodes = []
    used = {i for n in keep for i in n.inputs if i} | graph.output_names()
    changed = len(keep) != len(graph.nodes) or any(k not in used for k in graph.consts)
    for n in keep:
        outs = [o if (k == 0 or o in live or n.op in KEEP_OUTPUTS) else "" for k, o in enumerate(n.outputs)]
        if outs != n.outputs:
            changed = True
            n = n.__class__(n.op, n.name, list(n.inputs), outs, dict(n.attrs))
        nodes.append(n)
    if not changed:
        return graph
    used = {i for n in nodes for i in n.inputs if i} | graph.output_names()
    consts = {k: v for k, v in graph.consts.items() if k in used}
    return graph.replace(nodes=nodes, consts=consts, applied=graph.applied + ["eliminate_dead"])
