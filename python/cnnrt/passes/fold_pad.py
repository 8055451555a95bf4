"""An explicit Pad in front of a convolution (exporters emit one for
asymmetric or framework-specific padding: TF 'SAME' with stride 2, PyTorch
ZeroPad2d/ReflectionPad2d followed by Conv) is folded into the Conv's own
`pads` when it adds zeros on the spatial axes only: mode constant (the
default) with value 0, pads known at load, none negative, none on batch or
channels, the Pad's output read only by that Conv (as its input 0), and the
Conv padding explicitly (auto_pad NOTSET or VALID). The convolution then
reads the unpadded tensor (no copy, and no NCHW round trip around the Pad
inside an NHWC region: the layout pass treats an unknown op as NCHW)."""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from ..ir import Graph, Node


def _const(graph: Graph, n: Node, k: int) -> Optional[np.ndarray]:
    if len(n.inputs) <= k or not n.inputs[k]:
        return None
    return graph.consts.get(n.inputs[k])


def _spatial_pads(graph: Graph, pad: Node, rank: int) -> Optional[List[int]]:
    """The Pad's [begin..., end...] over all `rank` dims, or None when it is
    not a zero pad known at load."""
    if pad.attrs.get("mode", "constant") != "constant":
        return None
    if "pads" in pad.attrs:  # opset < 11
        pads = [int(p) for p in pad.attrs["pads"]]
        if float(pad.attrs.get("value", 0.0)) != 0.0:
            return None
        axes = list(range(rank))
    else:
        p = _const(graph, pad, 1)
        if p is None:
            return None
        pads = [int(v) for v in p.reshape(-1)]
        if len(pad.inputs) > 2 and pad.inputs[2]:
            v = _const(graph, pad, 2)
            if v is None or v.size != 1 or float(v.reshape(-1)[0]) != 0.0:
                return None
        if len(pad.inputs) > 3 and pad.inputs[3]:
            a = _const(graph, pad, 3)
            if a is None:
                return None
            axes = [int(x) + rank if int(x) < 0 else int(x) for x in a.reshape(-1)]
        else:
            axes = list(range(rank))
    na = len(axes)
    if len(pads) != 2 * na or any(not 0 <= a < rank for a in axes) or len(set(axes)) != na:
        return None
    full = [0] * (2 * rank)
    for k, a in enumerate(axes):
        full[a], full[rank + a] = pads[k], pads[na + k]
    return full


def fold_pad(graph: Graph) -> Graph:
    consumers = graph.consumers()
    producers = graph.producers()
    outs = graph.output_names()
    drop = set()
    new_conv = {}
    for conv in graph.nodes:
        if conv.op != "Conv" or len(conv.inputs) < 2 or not conv.inputs[0]:
            continue
        pad = producers.get(conv.inputs[0])
        if pad is None or pad.op != "Pad" or pad.name in drop:
            continue
        t = conv.inputs[0]
        if t in outs or len(consumers.get(t, [])) != 1:
            continue
        w = graph.consts.get(conv.inputs[1])
        if w is None or w.ndim < 3:
            continue
        if conv.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            continue
        rank = w.ndim
        full = _spatial_pads(graph, pad, rank)
        if full is None or any(p < 0 for p in full):
            continue
        if full[0] or full[1] or full[rank] or full[rank + 1]:
            continue  # batch or channel padding: not a convolution's
        nd = rank - 2
        old = [int(p) for p in conv.attrs.get("pads", [0] * (2 * nd))] if conv.attrs.get("auto_pad", "NOTSET") == "NOTSET" else [0] * (2 * nd)
        if len(old) != 2 * nd:
            continue
        pads = [old[k] + full[2 + k] for k in range(nd)] + [old[nd + k] + full[rank + 2 + k] for k in range(nd)]
        attrs = dict(conv.attrs)
        attrs["pads"] = pads
        attrs.pop("auto_pad", None)
        new_conv[conv.name] = Node(conv.op, conv.name, [pad.inputs[0]] + list(conv.inputs[1:]), list(conv.outputs), attrs)
        drop.add(pad.name)
    if not drop:
        return graph
    nodes = [new_conv.get(n.name, n) for n in graph.nodes if n.name not in drop]
    return graph.replace(nodes=nodes, applied=graph.applied + ["fold_pad"])
