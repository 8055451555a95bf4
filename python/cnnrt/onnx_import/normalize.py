"""Opset normalisation: one attribute form per op, whatever the opset.

The runtime reads attributes by name; here every ONNX spelling (attribute vs
input, opset-specific defaults) is turned into the one form it reads:
- Softmax/LogSoftmax: `axis` with the opset's default, `legacy`=1 before
  opset 13 (coerce to 2-D at axis);
- Clip before 11: `min`/`max` attributes (from 11: optional inputs);
- Squeeze/Unsqueeze before 13: `axes` attribute (from 13: input);
- ConstantOfShape: `value` (one number) and `dtype` from the value tensor;
- BatchNormalization: refuses spatial=0 and training mode;
- GroupNormalization: `per_channel`=0 before opset 21 (scale/bias [num_groups]),
  1 from 21 (scale/bias [C]);
- LSTM/GRU: the default activations only (LSTM Sigmoid, Tanh, Tanh; GRU
  Sigmoid, Tanh, per direction), spelled out or absent; the attributes are
  dropped (other lists: UnsupportedOpError naming `activations`); `layout`
  exists from opset 14 (0 before);
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import UnsupportedOpError
from ..ir import Node

SUPPORTED_DTYPES = {np.dtype(np.float32), np.dtype(np.int64), np.dtype(np.bool_)}
_AT = onnx.AttributeProto


def _attr_value(a: onnx.AttributeProto, where: str):
    if a.ref_attr_name:
        raise UnsupportedOpError(f"{where}: attribute '{a.name}' refers to a function attribute")
    if a.type == _AT.INT:
        return int(a.i)
    if a.type == _AT.FLOAT:
        return float(a.f)
    if a.type == _AT.STRING:
        return a.s.decode("utf-8", errors="replace")
    if a.type == _AT.INTS:
        return [int(v) for v in a.ints]
    if a.type == _AT.FLOATS:
        return [float(v) for v in a.floats]
    if a.type == _AT.TENSOR:
        return numpy_helper.to_array(a.t)
    raise UnsupportedOpError(f"attribute '{a.name}' of type {_AT.AttributeType.Name(a.type)}")


_RNN_ACTS = {"LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"]}


def _rnn_activations(proto: onnx.NodeProto, op: str) -> None:
    """Refuses an LSTM/GRU whose activations differ from the defaults."""
    acts = None
    for a in proto.attribute:
        if a.name == "activations":
            acts = [s.decode("utf-8", errors="replace") for s in a.strings]
    if acts is None:
        return
    direction = "forward"
    for a in proto.attribute:
        if a.name == "direction":
            direction = a.s.decode("utf-8", errors="replace")
    want = _RNN_ACTS[op] * (2 if direction == "bidirectional" else 1)
    if [x.lower() for x in acts] != want:
        raise UnsupportedOpError(
            f"attribute 'activations' {acts}: cnnrt runs {op} with its default activations "
            f"{[x.capitalize() for x in _RNN_ACTS[op]]} (per direction) only"
        )


def normalize_node(proto: onnx.NodeProto, node: Node, opset: int, where: str) -> Node:
    op = node.op
    if op in _RNN_ACTS:
        _rnn_activations(proto, op)
        attrs = {a.name: _attr_value(a, where) for a in proto.attribute
                 if a.name not in ("activations", "activation_alpha", "activation_beta")}
    else:
        attrs = {a.name: _attr_value(a, where) for a in proto.attribute}
    if op in ("Softmax", "LogSoftmax"):
        if opset < 13:
            attrs.setdefault("axis", 1)
            attrs["legacy"] = 1
        else:
            attrs.setdefault("axis", -1)
            attrs["legacy"] = 0
    elif op == "Clip" and opset < 11:
        attrs["min"] = float(attrs.get("min", -np.inf))
        attrs["max"] = float(attrs.get("max", np.inf))
    elif op == "ConstantOfShape":
        v = attrs.pop("value", None)
        if v is None:
            v = np.zeros(1, np.float32)
        v = np.asarray(v).reshape(-1)
        if v.size != 1:
            raise UnsupportedOpError("value must hold one element")
        if v.dtype == np.float32 or v.dtype == np.float16 or v.dtype == np.float64:
            if v.dtype != np.float32:
                raise UnsupportedOpError(f"value dtype {v.dtype}")
            attrs["value"] = float(v[0])
            attrs["dtype"] = int(onnx.TensorProto.FLOAT)
        elif v.dtype == np.bool_:
            attrs["value"] = int(bool(v[0]))
            attrs["dtype"] = int(onnx.TensorProto.BOOL)
        elif v.dtype == np.int64 or v.dtype == np.int32:
            attrs["value"] = int(v[0])
            attrs["dtype"] = int(onnx.TensorProto.INT64)
            if v.dtype == np.int32:
                raise UnsupportedOpError("value dtype int32")
        else:
            raise UnsupportedOpError(f"value dtype {v.dtype}")
    elif op == "BatchNormalization":
        if int(attrs.get("spatial", 1)) != 1:
            raise UnsupportedOpError("spatial=0 (per-activation statistics)")
        if int(attrs.pop("training_mode", 0)) != 0:
            raise UnsupportedOpError("training_mode=1")
        attrs.pop("spatial", None)
        attrs.pop("is_test", None)
        attrs.pop("consumed_inputs", None)
        # Extra outputs (running/saved statistics) exist only in training.
        if any(o for o in node.outputs[1:]):
            node.outputs = node.outputs[:1] + ["" for _ in node.outputs[1:]]
    elif op == "GroupNormalization":
        attrs["per_channel"] = 1 if opset >= 21 else 0
        # stash_type (21): statistics in float32 is what cnnrt computes.
        if int(attrs.pop("stash_type", 1)) != 1:
            raise UnsupportedOpError("stash_type other than 1 (float32 statistics)")
    elif op in _RNN_ACTS:
        if opset < 14:
            attrs.pop("layout", None)
    elif op == "Dropout":
        attrs.pop("is_test", None)
        attrs.pop("seed", None)
        attrs.pop("ratio", None)
    for k, v in list(attrs.items()):
        if isinstance(v, np.ndarray):
            raise UnsupportedOpError(f"tensor attribute '{k}'")
    node.attrs = attrs
    return node
