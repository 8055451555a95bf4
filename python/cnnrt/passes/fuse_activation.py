"""Epilogue fusion into Conv / Gemm / MatMul (the runtime applies these while
the output tile is still in cache):
- fuse_bias: MatMul followed by Add of a constant [N] vector -> MatMul bias;
- fuse_residual: Conv followed by Add/Sum(conv, other) of the same shape ->
  Conv with a residual input (ResNet's shortcut);
- fuse_activation: Relu, LeakyRelu, Clip (constant bounds), Sigmoid, Tanh,
  HardSigmoid, HardSwish, Elu, Selu, Gelu (both forms), Mish, Softplus,
  Softsign, Celu, ThresholdedRelu after them -> cnnrt_act attributes (the
  epilogues apply these through the same act loops as the standalone op); and
  SiLU as exporters spell it, Mul(t, Sigmoid(t)) (EfficientNet's activation),
  when t feeds only that Sigmoid and that Mul.
Each needs the producer's output to have a single consumer and not to be a
graph output."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Node

# Values match cnnrt::Act in cpp/src/kernels/kernels.h.
ACT_CODES = {"Relu": 1, "LeakyRelu": 2, "Clip": 3, "Sigmoid": 4, "Tanh": 5, "HardSigmoid": 6,
             "HardSwish": 7, "Elu": 8, "Selu": 9, "Gelu": 11, "Mish": 13, "Softplus": 14, "Softsign": 15,
             "Celu": 16, "ThresholdedRelu": 17}
SILU = 10
GELU_TANH = 12  # Gelu with approximate='tanh'


def _act_code(node: Node):
    if node.op == "Gelu":
        approx = node.attrs.get("approximate", "none")
        return {"none": ACT_CODES["Gelu"], "tanh": GELU_TANH}.get(approx)
    return ACT_CODES[node.op]


def _single_use(graph, consumers, outs, name):
    return name not in outs and len(consumers.get(name, [])) == 1


def _act_params(node: Node, consts):
    op = node.op
    a = node.attrs
    if op == "LeakyRelu":
        return float(a.get("alpha", 0.01)), 0.0
    if op == "Clip":
        lo, hi = float(a.get("min", -np.inf)), float(a.get("max", np.inf))
        if len(node.inputs) > 1 and node.inputs[1]:
            if node.inputs[1] not in consts:
                return None
            lo = float(consts[node.inputs[1]].reshape(-1)[0])
        if len(node.inputs) > 2 and node.inputs[2]:
            if node.inputs[2] not in consts:
                return None
            hi = float(consts[node.inputs[2]].reshape(-1)[0])
        return lo, hi
    if op == "HardSigmoid":
        return float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
    if op == "Elu":
        return float(a.get("alpha", 1.0)), 0.0
    if op == "Selu":
        return float(a.get("alpha", 1.6732632423543772)), float(a.get("gamma", 1.0507009873554805))
    if op in ("Celu", "ThresholdedRelu"):
        return float(a.get("alpha", 1.0)), 0.0
    return 0.0, 0.0


def _rebuild(graph, replaced, drop, consts, name):
    nodes = [replaced.get(n.name, n) for n in graph.nodes if n.name not in drop]
    return graph.replace(nodes=nodes, consts=consts, applied=graph.applied + [name])


def _silu_mul(graph, consumers, producers, outs, sig):
    """The Mul that makes Sigmoid node `sig` a SiLU of its input, or None."""
    t = sig.inputs[0] if sig.inputs else ""
    if not t or t in outs or not _single_use(graph, consumers, outs, sig.outputs[0]):
        return None
    mul = consumers[sig.outputs[0]][0]
    if mul.op != "Mul" or sorted(mul.inputs) != sorted([t, sig.outputs[0]]):
        return None
    if sorted(n.name for n in consumers.get(t, [])) != sorted([sig.name, mul.name]):
        return None
    return mul


def fuse_activation(graph: Graph) -> Graph:
    consumers = graph.consumers()
    producers = graph.producers()
    outs = graph.output_names()
    replaced, drop = {}, set()
    for sig in graph.nodes:
        if sig.op != "Sigmoid":
            continue
        mul = _silu_mul(graph, consumers, producers, outs, sig)
        prod = producers.get(sig.inputs[0]) if mul is not None else None
        if prod is None or prod.op not in ("Conv", "Gemm", "MatMul") or "cnnrt_act" in prod.attrs:
            continue
        attrs = dict(prod.attrs)
        attrs["cnnrt_act"], attrs["cnnrt_act_a"], attrs["cnnrt_act_b"] = SILU, 0.0, 0.0
        replaced[prod.name] = Node(prod.op, prod.name, list(prod.inputs), [mul.outputs[0]], attrs)
        drop.update((sig.name, mul.name))
    for act in graph.nodes:
        if act.op not in ACT_CODES or not act.inputs or not act.inputs[0]:
            continue
        prod = producers.get(act.inputs[0])
        if prod is None or prod.op not in ("Conv", "Gemm", "MatMul") or prod.name in drop:
            continue
        prod = replaced.get(prod.name, prod)
        if "cnnrt_act" in prod.attrs or not _single_use(graph, consumers, outs, act.inputs[0]):
            continue
        params = _act_params(act, graph.consts)
        code = _act_code(act)
        if params is None or code is None:
            continue
        attrs = dict(prod.attrs)
        attrs["cnnrt_act"] = code
        attrs["cnnrt_act_a"], attrs["cnnrt_act_b"] = params
        replaced[prod.name] = Node(prod.op, prod.name, list(prod.inputs), [act.outputs[0]], attrs)
        drop.add(act.name)
    if not replaced:
        return graph
    return _rebuild(graph, replaced, drop, graph.consts, "fuse_activation")


def _same_shape(graph, a, b):
    sa, sb = graph.static_shape(a), graph.static_shape(b)
    if sa is None or sb is None or len(sa) != len(sb):
        return False
    return all(x is not None and x == y for x, y in zip(sa, sb))


def fuse_residual(graph: Graph) -> Graph:
    consumers = graph.consumers()
    producers = graph.producers()
    outs = graph.output_names()
    replaced, drop = {}, set()
    for add in graph.nodes:
        if add.op not in ("Add", "Sum") or len(add.inputs) != 2 or not all(add.inputs):
            continue
        for k in (0, 1):
            conv_out, other = add.inputs[k], add.inputs[1 - k]
            prod = producers.get(conv_out)
            if prod is None or prod.op != "Conv" or prod.name in replaced or prod.name in drop:
                continue
            if "cnnrt_act" in prod.attrs or len(prod.inputs) > 3:
                continue
            if not _single_use(graph, consumers, outs, conv_out) or other == conv_out:
                continue
            if not _same_shape(graph, conv_out, other) or not _same_shape(graph, conv_out, add.outputs[0]):
                continue
            # The residual must be computed before the conv runs.
            ins = list(prod.inputs) + [""] * (3 - len(prod.inputs))
            replaced[prod.name] = Node("Conv", prod.name, ins + [other], [add.outputs[0]], dict(prod.attrs))
            drop.add(add.name)
            break
    if not replaced:
        return graph
    # A residual produced after the conv in the node order breaks the topology:
    # move each fused conv after its residual's producer.
    nodes = [replaced.get(n.name, n) for n in graph.nodes if n.name not in drop]
    nodes = _reorder(nodes, graph)
    return graph.replace(nodes=nodes, applied=graph.applied + ["fuse_residual"])


def _reorder(nodes, graph):
    available = {v.name for v in graph.inputs} | set(graph.consts)
    pending = list(nodes)
    order = []
    while pending:
        rest = []
        progressed = False
        for n in pending:
            if all((not i) or i in available for i in n.inputs):
                order.append(n)
                available.update(o for o in n.outputs if o)
                progressed = True
            else:
                rest.append(n)
        if not progressed:  # cannot happen for a DAG; keep the original order
            return nodes
        pending = rest
    return order


def fuse_bias(graph: Graph) -> Graph:
    consumers = graph.consumers()
    producers = graph.producers()
    outs = graph.output_names()
    replaced, drop = {}, set()
    for add in graph.nodes:
        if add.op != "Add" or len(add.inputs) != 2:
            continue
        for k in (0, 1):
            mm_out, bias = add.inputs[k], add.inputs[1 - k]
            prod = producers.get(mm_out)
            if prod is None or prod.op != "MatMul" or prod.name in replaced:
                continue
            if bias not in graph.consts or prod.inputs[1] not in graph.consts:
                continue
            b = graph.consts[bias]
            w = graph.consts[prod.inputs[1]]
            if w.ndim != 2 or b.dtype != np.float32 or b.ndim != 1 or b.shape[0] != w.shape[1]:
                continue
            if not _single_use(graph, consumers, outs, mm_out) or "cnnrt_act" in prod.attrs:
                continue
            replaced[prod.name] = Node("MatMul", prod.name, [prod.inputs[0], prod.inputs[1], bias],
                                       [add.outputs[0]], dict(prod.attrs))
            drop.add(add.name)
            break
    if not replaced:
        return graph
    return _rebuild(graph, replaced, drop, graph.consts, "fuse_bias")
