"""Identity and inference-mode Dropout are removed: their consumers read the
input directly. Kept when the output is a graph output fed straight from a
graph input or constant (the runtime copies), or when Dropout's mask is used."""
from __future__ import annotations

from ..ir import Graph


def remove_identity(graph: Graph) -> Graph:
    outs = graph.output_names()
    rename = {}
    nodes = []
    changed = False
    for n in graph.nodes:
        if n.op in ("Identity", "Dropout") and n.inputs and n.inputs[0]:
            mask_used = n.op == "Dropout" and len(n.outputs) > 1 and n.outputs[1]
            training = n.op == "Dropout" and len(n.inputs) > 2 and n.inputs[2]
            if not mask_used and not training and n.outputs[0] not in outs:
                src = n.inputs[0]
                rename[n.outputs[0]] = rename.get(src, src)
                changed = True
                continue
        nodes.append(n)
    if not changed:
        return graph
    new_nodes = []
    for n in nodes:
        ins = [rename.get(i, i) for i in n.inputs]
        new_nodes.append(n.__class__(n.op, n.name, ins, list(n.outputs), dict(n.attrs)))
    return graph.replace(nodes=new_nodes, applied=graph.applied + ["remove_identity"])
