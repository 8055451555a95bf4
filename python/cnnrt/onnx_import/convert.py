"""ONNX ModelProto -> cnnrt IR: checks, constants, opset normalisation.

After this step every node carries its attributes in one form whatever its
opset (see normalize.py), initializers and Constant nodes are numpy arrays,
nodes are in topological order, and every op cnnrt cannot run has been
reported, all at once, in one UnsupportedOpError.
"""
from __future__ import annotations

import functools
import math
import sys

from collections import deque
from typing import Dict, List

import numpy as np
import onnx
from onnx import numpy_helper

from .. import _core
from ..errors import ModelLoadError, UnsupportedOpError
from ..ir import Graph, Node, Value
from .normalize import normalize_node, SUPPORTED_DTYPES

MIN_OPSET = 7


def _np_dtype(elem_type: int):
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        return None


def _value(vi: onnx.ValueInfoProto) -> Value:
    tt = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
    dtype = _np_dtype(tt.elem_type) if tt is not None and tt.elem_type else None
    shape = None
    if tt is not None and tt.HasField("shape"):
        shape = []
        for d in tt.shape.dim:
            if d.HasField("dim_value"):
                shape.append(int(d.dim_value))
            elif d.HasField("dim_param"):
                shape.append(d.dim_param)
            else:
                shape.append(None)
    return Value(vi.name, dtype, shape)


def _non_tensor_kind(t: onnx.TypeProto):
    """'sequence', 'optional', 'map' or 'sparse tensor' for a value that is
    valid ONNX but not a dense tensor; None for a tensor or a missing type."""
    which = t.WhichOneof("value")
    return {"sequence_type": "sequence", "optional_type": "optional", "map_type": "map",
            "sparse_tensor_type": "sparse tensor", "opaque_type": "opaque"}.get(which)


def _to_array(t: onnx.TensorProto, where: str) -> np.ndarray:
    dims = [int(d) for d in t.dims]
    if any(d < 0 for d in dims):  # numpy's reshape would take any negative size as "infer this one"
        raise ModelLoadError(f"{where}: tensor '{t.name}' has a negative dimension in {dims}")
    try:
        arr = numpy_helper.to_array(t)
    except Exception as e:  # wrong raw_data size, unknown dtype, ...
        raise ModelLoadError(f"{where}: cannot read tensor '{t.name}' ({e})") from None
    if list(arr.shape) != dims:
        raise ModelLoadError(f"{where}: tensor '{t.name}' holds shape {list(arr.shape)}, its dims say {dims}")
    return _runtime_array(arr, where, t.name)


def _read_float32(t: onnx.TensorProto, weights, index: int):
    """A float32 initializer whose bytes are in `weights`, read straight into
    a runtime weight buffer (_core.weight_buffer): the only copy while
    loading, which the session then takes without copying (a protobuf
    tensor's bytes and numpy's array would be two more). None: not such a
    tensor (or its size is off): the caller's path, with its messages."""
    if t.data_type != onnx.TensorProto.FLOAT or sys.byteorder != "little":
        return None
    dims = [int(d) for d in t.dims]
    if any(d < 0 for d in dims):
        return None
    numel = math.prod(dims)
    if numel == 0 or weights.nbytes(index) != 4 * numel:
        return None
    buf = _core.weight_buffer(4 * numel)
    weights.read_into(index, buf)
    return buf.view(np.float32).reshape(dims)


def _runtime_array(arr: np.ndarray, where: str, name: str) -> np.ndarray:
    """Lossless conversion to the dtypes the runtime computes with."""
    if arr.dtype == np.float32 or arr.dtype == np.int64 or arr.dtype == np.bool_:
        return np.asarray(arr, order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d
    if arr.dtype in (np.int32, np.int16, np.int8, np.uint8, np.uint16, np.uint32):
        return np.asarray(arr.astype(np.int64), order="C")
    if arr.dtype == np.float16 or str(arr.dtype) == "bfloat16":
        return np.asarray(arr.astype(np.float32), order="C")
    raise UnsupportedOpError(
        f"{where}: tensor '{name}' has dtype {arr.dtype}; cnnrt runs float32, int64 and bool tensors",
        [(name, "initializer", f"dtype {arr.dtype}")],
    )


def _check_proto(model: onnx.ModelProto, label: str) -> None:
    """What the rest of the import (and onnx's shape inference) must not
    see: a string field that is not valid UTF-8 (protobuf hands it over as
    bytes), and a graph input with a negative dimension (onnx 1.23's Slice
    shape inference aborts the process on one: an assertion in std::clamp)."""
    g = model.graph

    def bad(value, what):
        if isinstance(value, bytes):
            raise ModelLoadError(f"model '{label}': {what} {value!r} is not valid UTF-8")

    bad(g.name, "graph name")
    for o in model.opset_import:
        bad(o.domain, "opset domain")
    for t in g.initializer:
        bad(t.name, "initializer name")
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        bad(vi.name, "value name")
    for vi in g.input:
        if vi.type.HasField("tensor_type"):
            for k, d in enumerate(vi.type.tensor_type.shape.dim):
                if d.HasField("dim_value") and d.dim_value < 0:
                    raise ModelLoadError(f"model '{label}': graph input '{vi.name}' has a negative dimension "
                                         f"({d.dim_value} at axis {k}) in its declared shape")
    for n in g.node:
        bad(n.op_type, "op type")
        bad(n.name, "node name")
        bad(n.domain, "node domain")
        for v in list(n.input) + list(n.output):
            bad(v, f"node '{n.name}' input/output name")
        for a in n.attribute:
            bad(a.name, f"node '{n.name}' attribute name")


@functools.lru_cache(maxsize=None)
def _schema(op_type: str, opset: int):
    try:
        return onnx.defs.get_schema(op_type, opset, "")
    except Exception:  # an op this onnx does not know: reported as unsupported later
        return None


def _check_schema(n: onnx.NodeProto, opset: int, where: str) -> None:
    """The node's input/output counts and attribute types as its ONNX schema
    says: the normalisation and the passes may then rely on them (an 'axis'
    that is a list or a string, a Shape without an input, is refused here)."""
    schema = _schema(n.op_type, opset)
    if schema is None:
        return
    if not schema.min_input <= len(n.input) <= schema.max_input:
        extra = [a.name for a in n.attribute if a.name not in schema.attributes]
        raise ModelLoadError(f"{where}: has {len(n.input)} inputs; {n.op_type}-{schema.since_version} takes "
                             f"{schema.min_input} to {schema.max_input}"
                             + (f" (input {schema.max_input} onwards: a newer opset's form?)"
                                if len(n.input) > schema.max_input else "")
                             + (f" (and has no attribute {extra}: an older opset's form?)" if extra else ""))
    if not schema.min_output <= len(n.output) <= schema.max_output:
        raise ModelLoadError(f"{where}: has {len(n.output)} outputs; {n.op_type}-{schema.since_version} gives "
                             f"{schema.min_output} to {schema.max_output}")
    declared = schema.attributes
    for a in n.attribute:
        spec = declared.get(a.name)
        if spec is not None and int(a.type) != int(spec.type.value):
            want = onnx.AttributeProto.AttributeType.Name(int(spec.type.value))
            got = onnx.AttributeProto.AttributeType.Name(a.type) if a.type in onnx.AttributeProto.AttributeType.values() else str(a.type)
            raise ModelLoadError(f"{where}: attribute '{a.name}' must be {want}, got {got}")


def opset_of(model: onnx.ModelProto) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    return 1 if model.ir_version < 3 else 0


def to_ir(model: onnx.ModelProto, label: str, known_ops=None, runtime_ops=None, weights=None) -> Graph:
    """known_ops: when given, nodes of other op types are reported here;
    when None, the caller checks after the passes (check_supported).
    runtime_ops: the ops the runtime has; when import itself refuses nodes
    (custom domain, refused attributes), the nodes whose op is not among
    these are listed in the same error, so that one load reports them all.
    weights: the reader.Weights that open_model returned with `model`: the
    bytes of the initializers it lists are read from there."""
    g = model.graph
    _check_proto(model, label)
    opset = opset_of(model)
    if opset == 0:
        raise ModelLoadError(
            f"model '{label}': no opset_import for the default ONNX domain (IR version {model.ir_version} requires one); "
            "the file is truncated or was not written by an ONNX exporter"
        )
    if opset < MIN_OPSET:
        raise UnsupportedOpError(f"model '{label}': ONNX opset {opset} is older than cnnrt supports (opset {MIN_OPSET} and newer)")
    newest = onnx.defs.onnx_opset_version()
    if opset > newest:
        raise UnsupportedOpError(f"model '{label}': ONNX opset {opset} is newer than this onnx package knows ({newest})")
    if len(g.output) == 0:
        raise ModelLoadError(f"model '{label}': the graph has no outputs")

    consts: Dict[str, np.ndarray] = {}
    for i, t in enumerate(g.initializer):
        if not t.name:
            raise ModelLoadError(f"model '{label}': an initializer has no name")
        if weights is not None and i in weights:
            arr = _read_float32(t, weights, i)
            if arr is not None:
                consts[t.name] = arr
                continue
            # A tensor of its own (freed after conversion), with the bytes.
            whole = onnx.TensorProto()
            whole.CopyFrom(t)
            whole.raw_data = weights.read(i)
            t = whole
        consts[t.name] = _to_array(t, f"model '{label}', initializer")
        t = whole = None
    for st in g.sparse_initializer:
        raise UnsupportedOpError(f"model '{label}': sparse initializer '{st.values.name}' is not supported")

    # IR-3 graphs list initializers as inputs too: those are constants.
    inputs = [_value(vi) for vi in g.input if vi.name not in consts]
    outputs = [_value(vi) for vi in g.output]
    seen = set()
    for v in inputs:
        if not v.name:
            raise ModelLoadError(f"model '{label}': a graph input has no name")
        if v.name in seen:
            raise ModelLoadError(f"model '{label}': graph input '{v.name}' is listed twice")
        seen.add(v.name)
    problems = []
    for kind, vis in (("input", g.input), ("output", g.output)):
        for vi in vis:
            what = _non_tensor_kind(vi.type) if vi.name not in consts else None
            if what:
                problems.append((vi.name, f"graph {kind}", f"type {what}"))
    if problems:
        raise UnsupportedOpError(
            f"model '{label}': " + "; ".join(f"{k} '{n}' has {r}" for n, k, r in problems)
            + " (cnnrt runs tensors only)",
            problems,
        )
    for v in inputs + outputs:
        kind = "input" if v in inputs else "output"
        if kind == "input" and v.shape is not None and any(isinstance(d, int) and d < 0 for d in v.shape):
            raise ModelLoadError(f"model '{label}': graph {kind} '{v.name}' declares a negative dimension in {v.shape}")
        if v.dtype is None:
            if kind == "input":
                raise ModelLoadError(f"model '{label}': graph input '{v.name}' has no tensor type")
            continue
        if v.dtype not in SUPPORTED_DTYPES:
            problems.append((v.name, f"graph {kind}", f"dtype {v.dtype}"))
    if problems:
        raise UnsupportedOpError(
            f"model '{label}': " + "; ".join(f"{k} '{n}' has {r}" for n, k, r in problems)
            + " (cnnrt runs float32, int64 and bool tensors)",
            problems,
        )

    nodes: List[Node] = []
    unsupported = []
    taken_names = set()
    for i, n in enumerate(g.node):
        # Passes key nodes by name: every node gets a unique one (ONNX allows
        # repeats and empty names).
        name = n.name or f"{n.op_type}_{i}"
        if name in taken_names:
            k = 2
            while f"{name}#{k}" in taken_names:
                k += 1
            name = f"{name}#{k}"
        taken_names.add(name)
        where = f"model '{label}', node '{name}' ({n.op_type})"
        if n.domain not in ("", "ai.onnx"):
            unsupported.append((name, f"{n.domain}::{n.op_type}", "custom domain"))
            continue
        if n.op_type == "Constant":
            if len(n.output) != 1:
                raise ModelLoadError(f"{where}: Constant must have one output")
            consts[n.output[0]] = _constant_value(n, where)
            continue
        _check_schema(n, opset, where)
        node = Node(n.op_type, name, list(n.input), list(n.output), {})
        try:
            node = normalize_node(n, node, opset, where)
        except UnsupportedOpError as e:
            unsupported.append((name, n.op_type, str(e)))
            continue
        if known_ops is not None and node.op not in known_ops:
            unsupported.append((name, n.op_type, "op not implemented"))
            continue
        nodes.append(node)
    if unsupported and runtime_ops is not None:
        unsupported += [(n.name, n.op, "op not implemented") for n in nodes if n.op not in runtime_ops]
    _raise_unsupported(label, unsupported)
    nodes = _toposort(nodes, inputs, consts, label)
    produced = {o for n in nodes for o in n.outputs if o} | {v.name for v in inputs} | set(consts)
    for v in outputs:
        if v.name not in produced:
            raise ModelLoadError(f"model '{label}': graph output '{v.name}' is never produced")

    shapes: Dict[str, Value] = {}
    for vi in list(g.value_info):
        shapes[vi.name] = _value(vi)
    graph = Graph(
        name=label, nodes=nodes, inputs=inputs, outputs=outputs, consts=consts, shapes=shapes, opset=opset
    )
    graph.shapes.update(_infer_shapes(model))
    return graph


def _raise_unsupported(label, unsupported):
    if not unsupported:
        return
    lines = ", ".join(f"'{nm}' ({op}{'' if r == 'op not implemented' else ': ' + r})" for nm, op, r in unsupported)
    ops = sorted({op for _, op, _ in unsupported})
    raise UnsupportedOpError(
        f"model '{label}': {len(unsupported)} node(s) cannot run in cnnrt [{', '.join(ops)}]: {lines}",
        unsupported,
    )


def check_supported(graph: Graph, known_ops) -> None:
    """Every node the passes left must be an op the runtime has; all
    offenders are reported at once."""
    _raise_unsupported(graph.name, [(n.name, n.op, "op not implemented") for n in graph.nodes if n.op not in known_ops])


def _negative_pads(model: onnx.ModelProto) -> bool:
    g = model.graph
    pads_inputs = {n.input[1] for n in g.node if n.op_type == "Pad" and len(n.input) > 1}
    for n in g.node:
        if n.op_type == "Pad" and any(a.name == "pads" and any(v < 0 for v in a.ints) for a in n.attribute):
            return True
        if n.op_type == "Constant" and set(n.output) & pads_inputs:
            if any(a.type != onnx.AttributeProto.TENSOR or _negative(a.t) for a in n.attribute):
                return True
    return any(_negative(t) for t in g.initializer if t.name in pads_inputs)


def _negative(t: onnx.TensorProto) -> bool:
    try:
        return bool((numpy_helper.to_array(t) < 0).any())
    except Exception:  # unreadable: refused later with its message; no inference before that
        return True


def _infer_shapes(model: onnx.ModelProto) -> Dict[str, Value]:
    """onnx's shape inference, used by passes that need static shapes; a model
    it cannot handle simply gets no extra information."""
    # Weights are not needed for shapes: large float initializers become
    # stubs (name, dtype, dims, no data), so inference does not copy them.
    light = onnx.ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    g = light.graph
    g.node.extend(model.graph.node)
    g.input.extend(model.graph.input)
    g.output.extend(model.graph.output)
    g.value_info.extend(model.graph.value_info)
    if _negative_pads(model):
        # onnx 1.23 infers Pad with negative pads into negative dims without
        # a check, and its Slice inference then aborts the process (an
        # assertion in std::clamp): such a model gets no inferred shapes (they
        # are hints; the runtime plans from the real ones).
        return {}
    # A negative declared dim aborts onnx 1.23's Slice inference (an
    # assertion in std::clamp); graph inputs with one are refused in
    # _check_proto, declared output and intermediate shapes are hints: unknown.
    for vi in list(g.output) + list(g.value_info):
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_value") and d.dim_value < 0:
                d.ClearField("dim_value")
    for t in model.graph.initializer:
        if t.data_type == onnx.TensorProto.FLOAT and len(t.raw_data) + 4 * len(t.float_data) > 4096:
            g.initializer.add(name=t.name, data_type=t.data_type, dims=t.dims)
        else:
            g.initializer.append(t)
    try:
        inferred = onnx.shape_inference.infer_shapes(light, strict_mode=False)
    except Exception:
        return {}
    return {vi.name: _value(vi) for vi in inferred.graph.value_info}


def _constant_value(n: onnx.NodeProto, where: str) -> np.ndarray:
    if len(n.attribute) != 1:
        raise ModelLoadError(f"{where}: Constant needs exactly one value attribute")
    a = n.attribute[0]
    if a.name == "value":
        return _to_array(a.t, where)
    if a.name == "value_float":
        return np.array(a.f, dtype=np.float32)
    if a.name == "value_floats":
        return np.array(list(a.floats), dtype=np.float32)
    if a.name == "value_int":
        return np.array(a.i, dtype=np.int64)
    if a.name == "value_ints":
        return np.array(list(a.ints), dtype=np.int64)
    raise UnsupportedOpError(f"{where}: Constant with attribute '{a.name}' is not supported")


def _toposort(nodes: List[Node], inputs, consts, label) -> List[Node]:
    available = {v.name for v in inputs} | set(consts)
    producer: Dict[str, int] = {}
    for i, n in enumerate(nodes):
        for o in n.outputs:
            if not o:
                continue
            if o in producer or o in available:
                raise ModelLoadError(f"model '{label}': value '{o}' is produced twice ({n.where()})")
            producer[o] = i
    indeg = [0] * len(nodes)
    users: Dict[int, List[int]] = {}
    for i, n in enumerate(nodes):
        for k, x in enumerate(n.inputs):
            if not x or x in available:
                continue
            if x not in producer:
                raise ModelLoadError(
                    f"model '{label}': {n.where()} input {k} '{x}' is not produced by any node, graph input or initializer"
                )
            p = producer[x]
            indeg[i] += 1
            users.setdefault(p, []).append(i)
    ready = deque(i for i in range(len(nodes)) if indeg[i] == 0)
    order = []
    while ready:
        i = ready.popleft()
        order.append(i)
        for u in users.get(i, []):
            indeg[u] -= 1
            if indeg[u] == 0:
                ready.append(u)
    if len(order) != len(nodes):
        stuck = [nodes[i].where() for i in range(len(nodes)) if indeg[i] > 0]
        raise ModelLoadError(f"model '{label}': the graph has a cycle through {', '.join(stuck[:8])}")
    return [nodes[i] for i in order]
