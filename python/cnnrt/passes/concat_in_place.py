"""Concat written in place by its producers (DESIGN: "Concat written in place
by its producers").

A channel Concat of NHWC convolutions (SqueezeNet's fire modules, GoogLeNet's
inception blocks) copied every byte it joined: 7% of SqueezeNet's run. Here
each convolution writes its output channels straight into the joined tensor:

    a = Conv(xa)  b = Conv(xb)  y = Concat(a, b, axis=3)
 -> a' = Conv(xa, cnnrt_concat=[0, Ca + Cb])
    y  = Conv(xb, into=a', cnnrt_concat=[Ca, Ca + Cb])

`cnnrt_concat = [channel offset, total channels]` makes a convolution's
output the whole joined tensor, of which it writes its own channels; input 4
(`into`) is the tensor the convolutions before it wrote, whose buffer the
runtime's planner hands on in place (the op copies it only if the planner
could not). The rewrite applies when every Concat input is a distinct NHWC
Conv output (no fused residual) read by nothing else and not a graph output;
otherwise the Concat stays as it is.
"""
from __future__ import annotations

from typing import Dict, List

from ..ir import Graph, Node


def _out_channels(graph: Graph, conv: Node):
    """A convolution's output channels, from its constant weight [OC, C/g, kh, kw]."""
    w = graph.consts.get(conv.inputs[1]) if len(conv.inputs) > 1 else None
    return int(w.shape[0]) if w is not None and w.ndim == 4 else None


def _topo_sort(nodes: List[Node], ready: set) -> List[Node]:
    """Stable topological order: each node as early as its inputs allow, in
    the original order otherwise."""
    produced_by = {o: n.name for n in nodes for o in n.outputs if o}
    done = set()
    avail = set(ready)
    out = []
    pending = list(nodes)
    while pending:
        rest = []
        progressed = False
        for n in pending:
            if all((not i) or i in avail or i not in produced_by for i in n.inputs):
                out.append(n)
                done.add(n.name)
                avail.update(o for o in n.outputs if o)
                progressed = True
            else:
                rest.append(n)
        if not progressed:  # a cycle: leave the graph as it was (the runtime reports it)
            return nodes
        pending = rest
    return out


def concat_in_place(graph: Graph) -> Graph:
    consumers = graph.consumers()
    producers = graph.producers()
    outs = graph.output_names()
    rewrite: Dict[str, Node] = {}  # node name -> replacement
    drop = set()
    for n in graph.nodes:
        if n.op != "Concat" or int(n.attrs.get("axis", -1)) not in (3, -1) or len(n.inputs) < 2:
            continue
        ins = n.inputs
        if len(set(ins)) != len(ins) or any(not i for i in ins):
            continue
        convs = [producers.get(i) for i in ins]
        ok = all(
            c is not None and c.op == "Conv" and c.attrs.get("cnnrt_layout") == 1 and "cnnrt_concat" not in c.attrs
            and c.name not in rewrite and (len(c.inputs) < 4 or not c.inputs[3])
            and len(consumers.get(i, [])) == 1 and i not in outs and c.outputs[0] == i
            for c, i in zip(convs, ins)
        )
        if not ok:
            continue
        chans = [_out_channels(graph, c) for c in convs]
        if any(c is None for c in chans):
            continue
        total = sum(chans)
        offset = 0
        prev = ""
        for k, (c, i, ch) in enumerate(zip(convs, ins, chans)):
            inputs = list(c.inputs) + [""] * (5 - len(c.inputs))
            inputs[4] = prev
            last = k == len(ins) - 1
            out = n.outputs[0] if last else f"{i}::concat_part"
            attrs = dict(c.attrs)
            attrs["cnnrt_concat"] = [offset, total]
            rewrite[c.name] = Node(c.op, c.name, inputs, [out], attrs)
            offset += ch
            prev = out
        drop.add(n.name)
    if not rewrite:
        return graph
    nodes = [rewrite.get(m.name, m) for m in graph.nodes if m.name not in drop]
    ready = {v.name for v in graph.inputs} | set(graph.consts)
    nodes = _topo_sort(nodes, ready)
    return graph.replace(nodes=nodes, applied=graph.applied + ["concat_in_place"])
