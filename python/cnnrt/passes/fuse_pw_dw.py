"""A 1x1 convolution into the depthwise convolution that reads it (DESIGN:
"Fused epilogues"; MobileNet's inverted residual, EfficientNet's MBConv).

    e = Conv1x1(x, Wp, Bp) [act_p]     y = Conv_dw(e, Wd, Bd) [act]
 -> y = Conv(x, Wd, Bd, "", "", Wp, Bp, cnnrt_pw=1, cnnrt_pw_act=act_p, ...)

The runtime (ops/conv_pwdw.cc) runs the two in bands of output rows, so the
expansion `e` (six times the block's channels in MobileNetV2: 4.8 MB at
112x112x96) lives in an L2-sized buffer instead of being written to memory
and read back; where `e` fits in L2 anyway (at one thread: up to 4x L2,
which L3 holds) it runs the two kernels whole. The numbers are bit-identical
to the two layers apart.

Applies to NHWC convolutions (cnnrt_layout = 1) with constant weights: the
first 1x1, stride 1, no padding, group 1, no residual, its output read by
the depthwise one only and not a graph output; the second depthwise (weight
[C, 1, kh, kw], group C) with no residual; neither writing into a Concat.

At 2+ threads on small maps the runtime splits the channels between the
threads rather than the rows (no halo rows recomputed; see conv_pwdw.cc).

CNNRT_PW_DW (read when a model is loaded): `0` leaves the two apart (for
A/B measurement); `band=N` fuses with N output rows per band (`band=-1`:
fused, unbanded), which the tests use to cross band edges on any CPU;
`split=rows` or `split=channels` forces how threads share an image (a band
and a split may be joined by a comma: `band=2,split=channels`); unset or `1`:
fuse, bands and split chosen by the runtime from the CPU's L2 and the map.
"""
from __future__ import annotations

import os
from typing import Dict, Optional, Tuple

from ..ir import Graph, Node


_SPLITS = {"rows": 1, "channels": 2}


def _mode() -> Optional[Tuple[int, int]]:
    """None: off; else (band, split): band 0 the runtime's bands, N / -1
    forced band rows / unbanded; split 0 the runtime's, 1 rows, 2 channels."""
    raw = os.environ.get("CNNRT_PW_DW", "").strip().lower()
    if raw in ("", "1", "on", "auto"):
        return 0, 0
    if raw in ("0", "off"):
        return None
    band, split, ok = 0, 0, True
    for item in raw.split(","):
        key, _, val = item.strip().partition("=")
        if key == "band" and not band:
            try:
                band = int(val)
            except ValueError:
                band = -2
            ok = ok and band >= -1 and band != 0
        elif key == "split" and not split and val in _SPLITS:
            split = _SPLITS[val]
        else:
            ok = False
    if ok:
        return band, split
    raise ValueError("CNNRT_PW_DW must be '0', '1', 'band=N' (N >= 1 or -1), 'split=rows' or 'split=channels' "
                     f"(the last two may be joined by a comma), got {os.environ.get('CNNRT_PW_DW')!r}")


def _ints(n: Node, key: str, default):
    v = n.attrs.get(key, default)
    return [int(x) for x in v] if isinstance(v, (list, tuple)) else v


def _plain(n: Node) -> bool:
    """An NHWC Conv with a constant weight, no residual, not writing into a Concat."""
    return (n.op == "Conv" and n.attrs.get("cnnrt_layout") == 1 and "cnnrt_concat" not in n.attrs
            and "cnnrt_pw" not in n.attrs and len(n.inputs) >= 2 and bool(n.inputs[0])
            and (len(n.inputs) < 4 or not any(n.inputs[3:])))


def _pointwise(graph: Graph, n: Node) -> bool:
    if not _plain(n):
        return False
    w = graph.consts.get(n.inputs[1])
    return (w is not None and w.ndim == 4 and w.shape[2:] == (1, 1)
            and int(n.attrs.get("group", 1)) == 1
            and all(s == 1 for s in _ints(n, "strides", [1, 1]))
            and all(p == 0 for p in _ints(n, "pads", [0, 0, 0, 0]))
            and n.attrs.get("auto_pad", "NOTSET") in ("NOTSET", "VALID", b"NOTSET", b"VALID")
            and (len(n.inputs) < 3 or not n.inputs[2] or n.inputs[2] in graph.consts))


def _depthwise(graph: Graph, n: Node, channels: int) -> bool:
    if not _plain(n):
        return False
    w = graph.consts.get(n.inputs[1])
    return (w is not None and w.ndim == 4 and w.shape[0] == channels and w.shape[1] == 1
            and int(n.attrs.get("group", 1)) == channels
            and (len(n.inputs) < 3 or not n.inputs[2] or n.inputs[2] in graph.consts))


def fuse_pw_dw(graph: Graph) -> Graph:
    mode = _mode()
    if mode is None:
        return graph
    consumers = graph.consumers()
    producers = graph.producers()
    outs = graph.output_names()
    fused: Dict[str, Node] = {}  # depthwise node name -> fused node
    gone = set()  # 1x1 node names folded into a fused node
    for d in graph.nodes:
        if d.op != "Conv" or len(d.inputs) < 2 or d.inputs[1] not in graph.consts:
            continue
        e = d.inputs[0]
        p = producers.get(e)
        if p is None or p.name in gone or not _pointwise(graph, p) or p.outputs[0] != e:
            continue
        ce = int(graph.consts[p.inputs[1]].shape[0])
        if not _depthwise(graph, d, ce) or e in outs or len(consumers.get(e, [])) != 1:
            continue
        attrs = dict(d.attrs)
        attrs["cnnrt_pw"] = 1
        if "cnnrt_act" in p.attrs:
            attrs["cnnrt_pw_act"] = p.attrs["cnnrt_act"]
            attrs["cnnrt_pw_act_a"] = p.attrs.get("cnnrt_act_a", 0.0)
            attrs["cnnrt_pw_act_b"] = p.attrs.get("cnnrt_act_b", 0.0)
        if mode[0] != 0:
            attrs["cnnrt_pw_band"] = mode[0]
        if mode[1] != 0:
            attrs["cnnrt_pw_split"] = mode[1]
        bd = d.inputs[2] if len(d.inputs) > 2 else ""
        bp = p.inputs[2] if len(p.inputs) > 2 else ""
        fused[d.name] = Node("Conv", f"{p.name}+{d.name}", [p.inputs[0], d.inputs[1], bd, "", "", p.inputs[1], bp],
                             list(d.outputs), attrs)
        gone.add(p.name)
    if not fused:
        return graph
    nodes = [fused.get(n.name, n) for n in graph.nodes if n.name not in gone]
    return graph.replace(nodes=nodes, applied=graph.applied + ["fuse_pw_dw"])
