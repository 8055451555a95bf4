"""Channels-last layout: 2-D feature maps run NHWC inside the engine.

At the API tensors are NCHW; inside, the convolutions and poolings run on
[N, H, W, C] tensors (a 1x1 convolution is a plain GEMM, depthwise conv and
pooling vectorise over channels). This pass marks them `cnnrt_layout = 1`
and places the conversions once, at the edges of the NHWC regions:

- anchors: Conv with a constant 4-D weight (any group), 2-D MaxPool (no
  Indices output) and AveragePool, GlobalAveragePool/GlobalMaxPool of a
  rank-4 input;
- layout-agnostic ops follow their inputs: unary activations (and PRelu
  with a constant slope, permuted), Identity/Dropout, the per-channel ops
  with an NHWC form (unfused BatchNormalization, LRN), Add/Sub/Mul/Div/Sum/
  Min/Max/Mean/Pow (ReLU6 exported as Max then Min stays in the region)
  whose operands are NHWC or constants (permuted to match; scalars as they
  are), Concat (its axis is remapped, e.g. channels 1 -> 3). A rank-4
  non-constant NCHW operand of such an op is converted to NHWC;
- every other op reads NCHW: one Transpose (perm [0, 3, 1, 2]) per NHWC
  tensor an NCHW consumer reads, shared by all of them, and one Transpose
  to NHWC (perm [0, 2, 3, 1]) per NCHW tensor entering a region. Where a
  tensor is statically known to have H = W = 1 the two layouts hold the
  same bytes and the conversion is a Reshape (a view) instead; a Shape of
  an NHWC tensor becomes Shape + Gather (no conversion at all), and
  ShuffleNet's channel shuffle (Reshape 5-D, Transpose, Reshape) is
  rewritten to shuffle the NHWC channels in place;
- graph outputs keep their names and NCHW layout.

Regions without a convolution stay NCHW (a lone pooling would pay two
transposes for nothing), and so does a graph without a convolution.
CNNRT_LAYOUT (read when a model is loaded): `nchw` keeps every graph NCHW,
so the two layouts can be compared by measurement; `nhwc` converts every
anchor, with or without a convolution in its region (the op tests use it to
run the pooling ops' NHWC paths); unset or `auto`: the rule above.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional

import numpy as np

from ..ir import Graph, Node, Value

TO_NCHW = [0, 3, 1, 2]  # NHWC -> NCHW
TO_NHWC = [0, 2, 3, 1]  # NCHW -> NHWC
NHWC = 1  # value of the cnnrt_layout attribute

UNARY = {"Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu", "Selu", "Identity",
         "Dropout", "Gelu", "Mish", "Softplus", "Softsign", "Celu", "ThresholdedRelu", "Erf", "Exp", "Log", "Sqrt",
         "Abs", "Neg", "Reciprocal", "Floor", "Ceil", "Round", "Sign"}
BINARY = {"Add", "Sub", "Mul", "Div", "Sum", "PRelu", "Min", "Max", "Mean", "Pow"}
# Per-channel ops with an NHWC form (cnnrt_layout = 1) that follow their input.
CHANNEL_OPS = {"BatchNormalization", "LRN"}


def layout_mode() -> str:
    """CNNRT_LAYOUT: 'auto' (unset), 'nhwc' or 'nchw'."""
    mode = os.environ.get("CNNRT_LAYOUT", "").strip().lower() or "auto"
    if mode not in ("auto", "nhwc", "nchw"):
        raise ValueError(f"CNNRT_LAYOUT must be 'auto', 'nhwc' or 'nchw', got {os.environ.get('CNNRT_LAYOUT')!r}")
    return mode


def _permute(shape, perm):
    return [shape[p] for p in perm]


def _is_anchor_candidate(n: Node, graph: Graph) -> bool:
    if n.op == "Conv":
        return (len(n.inputs) >= 2 and bool(n.inputs[0]) and n.inputs[1] in graph.consts
                and graph.consts[n.inputs[1]].ndim == 4)
    if n.op in ("MaxPool", "AveragePool"):
        ks = n.attrs.get("kernel_shape")
        if not isinstance(ks, list) or len(ks) != 2:
            return False
        return n.op == "AveragePool" or len(n.outputs) < 2 or not n.outputs[1]
    return n.op in ("GlobalAveragePool", "GlobalMaxPool")


def _is_agnostic(n: Node) -> bool:
    if n.op in UNARY:
        # Dropout's mask is laid out like its input; keep it simple: NCHW.
        return not (n.op == "Dropout" and len(n.outputs) > 1 and n.outputs[1])
    return n.op in BINARY or n.op in CHANNEL_OPS or n.op == "Concat"


def _active_components(graph: Graph, candidates: Dict[str, bool]) -> set:
    """Names of the candidate nodes (anchors and agnostic ops) connected,
    through tensors, to a convolution."""
    parent = {name: name for name in candidates}

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    producers = graph.producers()
    for n in graph.nodes:
        if n.name not in candidates:
            continue
        for i in n.inputs:
            p = producers.get(i)
            if p is not None and p.name in candidates:
                parent[find(p.name)] = find(n.name)
    with_conv = {find(name) for name, is_conv in candidates.items() if is_conv}
    return {name for name in candidates if find(name) in with_conv}


class _Rewriter:
    def __init__(self, graph: Graph):
        self.g = graph
        self.consts = dict(graph.consts)
        self.shapes = dict(graph.shapes)
        self.outs = graph.output_names()
        self.nodes: List[Node] = []
        self.taken_values = ({v.name for v in graph.inputs} | set(graph.consts)
                             | {o for n in graph.nodes for o in n.outputs if o} | self.outs)
        self.taken_nodes = {n.name for n in graph.nodes}
        self.nhwc: Dict[str, str] = {}  # tensor -> name of its NHWC version
        self.nchw: Dict[str, str] = {}  # tensor (NHWC-produced) -> name of its NCHW version
        self.produced_nhwc: set = set()  # tensors an NHWC node produces
        self.permuted: Dict[str, str] = {}  # constant operand -> its rank-4 NHWC copy

    # ---- names
    def fresh_value(self, base: str) -> str:
        name, k = base, 2
        while name in self.taken_values:
            name, k = f"{base}#{k}", k + 1
        self.taken_values.add(name)
        return name

    def fresh_node(self, base: str) -> str:
        name, k = base, 2
        while name in self.taken_nodes:
            name, k = f"{base}#{k}", k + 1
        self.taken_nodes.add(name)
        return name

    def const(self, base: str, arr: np.ndarray) -> str:
        name = self.fresh_value(base)
        self.consts[name] = arr
        return name

    # ---- shapes (original, NCHW)
    def shape(self, t: str):
        return self.g.static_shape(t)

    def rank(self, t: str) -> Optional[int]:
        if t in self.produced_nhwc or t in self.nhwc:
            return 4
        s = self.shape(t)
        return None if s is None else len(s)

    def unit_hw(self, t: str) -> bool:
        s = self.shape(t)
        return s is not None and len(s) == 4 and s[2] == 1 and s[3] == 1

    def set_shape(self, name: str, shape, dtype=np.float32):
        self.shapes[name] = Value(name, np.dtype(dtype), None if shape is None else list(shape))

    # ---- conversions
    def _convert(self, src: str, dst: str, perm: List[int], orig: str):
        """dst = src in the other layout; a Reshape (view) where H = W = 1."""
        s = self.shape(orig)
        if self.unit_hw(orig):
            c = s[1] if isinstance(s[1], int) else -1
            target = [0, c, 1, 1] if perm == TO_NCHW else [0, 1, 1, c]
            shp = self.const(f"{dst}::shape", np.array(target, np.int64))
            self.nodes.append(Node("Reshape", self.fresh_node(f"{dst}::reshape"), [src, shp], [dst], {}))
        else:
            self.nodes.append(Node("Transpose", self.fresh_node(f"{dst}::transpose"), [src], [dst],
                                   {"perm": list(perm)}))
        if s is not None and len(s) == 4:
            self.set_shape(dst, s if perm == TO_NCHW else _permute(s, TO_NHWC))

    def as_nchw(self, t: str) -> str:
        if t not in self.produced_nhwc:
            return t
        if t not in self.nchw:
            dst = self.fresh_value(f"{t}::nchw")
            self._convert(self.nhwc[t], dst, TO_NCHW, t)
            self.nchw[t] = dst
        return self.nchw[t]

    def as_nhwc(self, t: str) -> Optional[str]:
        """The NHWC version of a rank-4 tensor (None if it is not rank 4)."""
        if t in self.nhwc:
            return self.nhwc[t]
        if self.rank(t) != 4:
            return None
        if t in self.consts:
            dst = self.const(f"{t}::nhwc", np.ascontiguousarray(self.consts[t].transpose(TO_NHWC)))
        else:
            dst = self.fresh_value(f"{t}::nhwc")
            self._convert(t, dst, TO_NHWC, t)
        self.nhwc[t] = dst
        return dst

    def const_operand(self, t: str) -> Optional[str]:
        """A constant operand of an element-wise op with an NHWC tensor:
        broadcasts the same way once made rank 4 and permuted."""
        a = self.consts[t]
        if a.size == 1 or a.ndim == 0:
            return t
        if a.ndim > 4:
            return None
        if t not in self.permuted:
            b = a.reshape((1,) * (4 - a.ndim) + a.shape).transpose(TO_NHWC)
            self.permuted[t] = self.const(f"{t}::nhwc", np.ascontiguousarray(b))
        return self.permuted[t]

    # ---- nodes
    def emit_nhwc(self, n: Node, inputs: List[str], attrs: Dict):
        """n runs NHWC: output 0 is NHWC; a graph output keeps its name and
        NCHW layout through a conversion right after it."""
        out = n.outputs[0]
        internal = self.fresh_value(f"{out}::nhwc") if out in self.outs else out
        self.nodes.append(Node(n.op, n.name, inputs, [internal] + list(n.outputs[1:]), attrs))
        self.produced_nhwc.add(out)
        self.nhwc[out] = internal
        s = self.shape(out)
        if s is not None and len(s) == 4:
            self.set_shape(internal, _permute(s, TO_NHWC))
        elif internal in self.shapes:
            del self.shapes[internal]
        if out in self.outs:
            self._convert(internal, out, TO_NCHW, out)
            self.nchw[out] = out

    def emit_nchw(self, n: Node):
        if n.op == "Shape" and n.inputs and n.inputs[0] in self.produced_nhwc:
            # The NCHW dims are a permutation of the NHWC tensor's: no data moved.
            idx = TO_NCHW[slice(int(n.attrs.get("start", 0)), n.attrs.get("end"))]
            full = self.fresh_value(f"{n.outputs[0]}::nhwc_shape")
            self.nodes.append(Node("Shape", n.name, [self.nhwc[n.inputs[0]]], [full], {}))
            ids = self.const(f"{n.outputs[0]}::perm", np.array(idx, np.int64))
            self.nodes.append(Node("Gather", self.fresh_node(f"{n.name}::to_nchw"), [full, ids], [n.outputs[0]],
                                   {"axis": 0}))
            return
        ins = [self.as_nchw(i) if i else i for i in n.inputs]
        self.nodes.append(n if ins == n.inputs else Node(n.op, n.name, ins, list(n.outputs), dict(n.attrs)))

    def anchor(self, n: Node) -> bool:
        x = n.inputs[0]
        if self.rank(x) != 4:  # unknown, or not 2-D spatial: the op stays NCHW and checks its input
            return False
        if n.op == "Conv" and len(n.inputs) > 3 and n.inputs[3] and self.rank(n.inputs[3]) != 4:
            return False
        ins = list(n.inputs)
        ins[0] = self.as_nhwc(x)
        if n.op == "Conv" and len(ins) > 3 and ins[3]:
            ins[3] = self.as_nhwc(ins[3])
        attrs = dict(n.attrs)
        attrs["cnnrt_layout"] = NHWC
        self.emit_nhwc(n, ins, attrs)
        return True

    def channel_shuffle(self, n: Node, consumers) -> Optional[List[str]]:
        """ShuffleNet's channel shuffle of an NHWC tensor: Reshape [N, g, C/g,
        H, W] -> Transpose [0, 2, 1, 3, 4] -> Reshape [N, C, H, W] becomes
        Reshape [N, H, W, g, C/g] -> Transpose [0, 1, 2, 4, 3] -> Reshape
        [N, H, W, C], on the NHWC tensor (no conversion in or out). Returns
        the names of the two nodes it consumed after n, or None."""
        x = n.inputs[0]
        if n.op != "Reshape" or x not in self.produced_nhwc:
            return None
        sx = self.shape(x)
        mid = n.outputs[0]
        sm = self.shape(mid)
        if sx is None or sm is None or len(sx) != 4 or len(sm) != 5:
            return None
        _, c, h, w = sx
        if not all(isinstance(d, int) for d in (c, h, w, *sm[1:])):
            return None
        g, cg = sm[1], sm[2]
        if g * cg != c or sm[3:] != [h, w]:
            return None
        users = consumers.get(mid, [])
        if mid in self.outs or len(users) != 1 or users[0].op != "Transpose":
            return None
        tr = users[0]
        if tr.attrs.get("perm") != [0, 2, 1, 3, 4]:
            return None
        t_out = tr.outputs[0]
        users = consumers.get(t_out, [])
        if t_out in self.outs or len(users) != 1 or users[0].op != "Reshape" or users[0].inputs[0] != t_out:
            return None
        back = users[0]
        sb = self.shape(back.outputs[0])
        if sb is None or len(sb) != 4 or sb[1:] != [c, h, w]:
            return None
        a = self.fresh_value(f"{mid}::nhwc")
        b = self.fresh_value(f"{t_out}::nhwc")
        s5 = self.const(f"{mid}::nhwc_shape", np.array([0, h, w, g, cg], np.int64))
        s4 = self.const(f"{back.outputs[0]}::nhwc_shape", np.array([0, h, w, c], np.int64))
        self.set_shape(a, [sm[0], h, w, g, cg])
        self.set_shape(b, [sm[0], h, w, cg, g])
        self.nodes.append(Node("Reshape", n.name, [self.nhwc[x], s5], [a], {}))
        self.nodes.append(Node("Transpose", tr.name, [a], [b], {"perm": [0, 1, 2, 4, 3]}))
        self.emit_nhwc(back, [b, s4], {})
        return [tr.name, back.name]

    def agnostic(self, n: Node) -> bool:
        data = [0] if n.op in UNARY or n.op in CHANNEL_OPS else list(range(len(n.inputs)))
        if not any(n.inputs[k] in self.produced_nhwc for k in data if n.inputs[k]):
            return False
        if n.op == "PRelu" and n.inputs[0] not in self.produced_nhwc:
            return False
        if n.op == "Concat":
            if not all(i and self.rank(i) == 4 for i in n.inputs) or not -4 <= int(n.attrs.get("axis", 1)) < 4:
                return False
        # Decide before creating anything.
        for k in data:
            i = n.inputs[k]
            if not i or i in self.produced_nhwc:
                continue
            if i in self.consts:
                a = self.consts[i]
                if n.op == "Concat" and a.ndim != 4 or a.ndim > 4:
                    return False
            elif self.rank(i) != 4:
                return False
        ins = list(n.inputs)
        for k in data:
            i = n.inputs[k]
            if not i:
                continue
            if i in self.consts and n.op != "Concat":
                ins[k] = self.const_operand(i)
            else:
                ins[k] = self.as_nhwc(i)
        attrs = dict(n.attrs)
        if n.op in CHANNEL_OPS:
            attrs["cnnrt_layout"] = NHWC
        if n.op == "Concat":
            axis = int(attrs.get("axis", 1))
            axis = axis + 4 if axis < 0 else axis
            attrs["axis"] = TO_NHWC.index(axis)
        self.emit_nhwc(n, ins, attrs)
        return True


def layout(graph: Graph) -> Graph:
    mode = layout_mode()
    if "layout" in graph.applied or mode == "nchw":
        return graph
    candidates = {}
    for n in graph.nodes:
        if _is_anchor_candidate(n, graph):
            candidates[n.name] = n.op == "Conv" or mode == "nhwc"
        elif _is_agnostic(n):
            candidates[n.name] = False
    if not any(candidates.values()):
        return graph  # nothing to gain without a convolution
    active = _active_components(graph, candidates)
    rw = _Rewriter(graph)
    consumers = graph.consumers()
    done = set()
    for n in graph.nodes:
        if n.name in done:
            continue
        if n.op == "Reshape":
            consumed = rw.channel_shuffle(n, consumers)
            if consumed:
                done.update(consumed)
                continue
        if n.name in active:
            if _is_anchor_candidate(n, graph):
                if rw.anchor(n):
                    continue
            elif rw.agnostic(n):
                continue
        rw.emit_nchw(n)
    if not rw.produced_nhwc:
        return graph
    # NHWC tensors that keep their name: their shape entries follow the layout.
    for t in rw.produced_nhwc:
        if rw.nhwc[t] == t:
            s = graph.static_shape(t)
            if s is not None and len(s) == 4:
                rw.set_shape(t, _permute(s, TO_NHWC))
            else:
                rw.shapes.pop(t, None)
    used = {i for n in rw.nodes for i in n.inputs if i} | graph.output_names()
    consts = {k: v for k, v in rw.consts.items() if k in used}
    # Shape entries only for values of the new graph (a rewritten shuffle's
    # intermediate values are gone).
    live = used | {o for n in rw.nodes for o in n.outputs if o}
    shapes = {k: v for k, v in rw.shapes.items() if k in live}
    return graph.replace(nodes=rw.nodes, consts=consts, shapes=shapes, applied=graph.applied + ["layout"])
