"""Activation spellings exporters emit, recognised as the one op they are, so
that fuse_activation can fold them into the convolution before them:

- x * HardSigmoid(x) with alpha 1/6 and beta 0.5 (MobileNetV3 exported by
  frameworks without a HardSwish op, Keras' hard_swish) -> HardSwish(x);
- x * Relu6(x + 3) / 6 spelled Add(x, 3) -> Clip(0, 6) -> Mul(x, .) ->
  Div(., 6) (torch's hardswish before opset 14) -> HardSwish(x).

(Mul(x, Sigmoid(x)), SiLU, is recognised by fuse_activation itself.)
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Node


def _scalar(graph: Graph, name: str):
    a = graph.consts.get(name)
    if a is None or a.size != 1 or a.dtype != np.float32:
        return None
    return float(a.reshape(-1)[0])


def _other(mul: Node, name: str):
    a, b = mul.inputs[0], mul.inputs[1]
    return b if a == name else a if b == name else None


def recognize_activations(graph: Graph) -> Graph:
    consumers = graph.consumers()
    producers = graph.producers()
    outs = graph.output_names()
    drop, add = set(), {}

    def only_use(name, node):
        return name not in outs and [c.name for c in consumers.get(name, [])] == [node.name]

    for n in graph.nodes:
        if n.name in drop or n.op != "Mul" or len(n.inputs) != 2:
            continue
        # x * HardSigmoid(x; 1/6, 0.5)
        for k in (0, 1):
            hs = producers.get(n.inputs[k])
            if hs is None or hs.op != "HardSigmoid" or hs.name in drop:
                continue
            x = hs.inputs[0]
            if n.inputs[1 - k] != x or not only_use(hs.outputs[0], n):
                continue
            if abs(float(hs.attrs.get("alpha", 0.2)) - 1 / 6) > 1e-6 or abs(float(hs.attrs.get("beta", 0.5)) - 0.5) > 1e-6:
                continue
            drop.update({hs.name, n.name})
            add[n.name] = Node("HardSwish", n.name, [x], list(n.outputs), {})
            break
    for n in graph.nodes:
        # Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)
        if n.name in drop or n.op != "Div" or len(n.inputs) != 2 or _scalar(graph, n.inputs[1]) != 6.0:
            continue
        mul = producers.get(n.inputs[0])
        if mul is None or mul.op != "Mul" or mul.name in drop or not only_use(mul.outputs[0], n):
            continue
        for k in (0, 1):
            clip = producers.get(mul.inputs[k])
            if clip is None or clip.op != "Clip" or clip.name in drop or not only_use(clip.outputs[0], mul):
                continue
            lo = float(clip.attrs["min"]) if "min" in clip.attrs else (_scalar(graph, clip.inputs[1]) if len(clip.inputs) > 1 and clip.inputs[1] else None)
            hi = float(clip.attrs["max"]) if "max" in clip.attrs else (_scalar(graph, clip.inputs[2]) if len(clip.inputs) > 2 and clip.inputs[2] else None)
            if lo != 0.0 or hi != 6.0:
                continue
            addn = producers.get(clip.inputs[0])
            if addn is None or addn.op != "Add" or addn.name in drop or not only_use(addn.outputs[0], clip):
                continue
            x = mul.inputs[1 - k]
            if sorted([_scalar(graph, i) for i in addn.inputs if i != x] or [None], key=str) != [3.0] or x not in addn.inputs:
                continue
            drop.update({addn.name, clip.name, mul.name, n.name})
            add[n.name] = Node("HardSwish", n.name, [x], list(n.outputs), {})
            break
    if not add:
        return graph
    nodes = [add.get(m.name, m) for m in graph.nodes if m.name not in drop or m.name in add]
    return graph.replace(nodes=nodes, applied=graph.applied + ["recognize_activations"])
