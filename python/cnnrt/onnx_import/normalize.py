"""Opset normalisation: one attribute form per op, whatever the opset.

The runtime reads attributes by name; here every ONNX spelling (attribute vs
input, opset-specific defaults) is turned into the one form it reads:
- Softmax/LogSoftmax: `axis` with the opset's default, `legacy`=1 before
  opset 13 (coerce to 2-D at axis);
- Clip before 11: `min`/`max` attributes (from 11: optional inputs);
- Squeeze/Unsqueeze before 13: `axes` attribute (from 13: input);
- ConstantOfShape: `value` (one number) and `dtype` from the value tensor;
- BatchNormalization: refuses spatial=0 and training mode;
- Pad before 11: `pads`, `value` (default 0.0) and `mode` attributes, which the
  runtime reads as they are (from 11: inputs pads, constant_value and, from
  18, axes);
- Slice before 10: `starts`/`ends`/`axes` attributes (from 10: inputs, with
  steps);
- Split before 13: `split` attribute (from 13: input; 18 adds num_outputs);
- Cast: `to` as is; opset 19's `saturate` and 24's `round_mode` (float8
  targets only, which cnnrt refuses anyway) are dropped;
- Range (27): `stash_type` dropped (cnnrt computes float32 ranges in float
  with the length in double, int64 exactly);
- DepthToSpace/SpaceToDepth: `mode` defaults to DCR (DepthToSpace has CRD from
  opset 11, SpaceToDepth from 28; before, DCR only).
- Reduce*: `keepdims` (default 1) and `noop_with_empty_axes` (0 where the
  opset has no such attribute) always set; axes stay the `axes` attribute
  before opset 13 (ReduceSum) / 18 (the others) and input 1 from then on
  (an `axes` attribute there is refused: the op no longer has one);
- ArgMax/ArgMin: `axis` (0), `keepdims` (1), `select_last_index` (0 before
  opset 12);
- TopK: before opset 10 `k` is an attribute (required), from 10 input 1;
  `axis` (-1), `largest` and `sorted` (1; attributes from opset 11);
- Gelu: `approximate` ('none'); Celu, ThresholdedRelu: `alpha` (1.0);
- LpNormalization: `axis` (-1), `p` (2).
- Resize (10, 11, 13, 18, 19) and Upsample (7, 9, 10) become one Resize form:
  inputs (X, roi, scales, sizes), absent ones ""; Upsample-7's `scales`
  attribute stays an attribute the runtime reads; Resize-10 and Upsample use
  asymmetric coordinates and their own nearest rule (nearest_mode "simple":
  floor when upsampling, ceil when downsampling, as onnxruntime does); the
  opset-11+ defaults (half_pixel, round_prefer_floor, cubic_coeff_a -0.75)
  are written out;
- ConvTranspose: nothing changes between opsets 1 and 11 but the defaults.
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

from ..errors import ModelLoadError, UnsupportedOpError
from ..ir import Node

SUPPORTED_DTYPES = {np.dtype(np.float32), np.dtype(np.int64), np.dtype(np.bool_)}
_AT = onnx.AttributeProto

# The opset from which each Reduce op reads its axes from input 1.
REDUCE_AXES_INPUT_FROM = {
    "ReduceSum": 13, "ReduceMean": 18, "ReduceMax": 18, "ReduceMin": 18, "ReduceProd": 18, "ReduceL1": 18,
    "ReduceL2": 18, "ReduceSumSquare": 18, "ReduceLogSum": 18, "ReduceLogSumExp": 18,
}


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
        try:
            return numpy_helper.to_array(a.t)
        except Exception as e:  # no element type, wrong data size, ...
            raise ModelLoadError(f"{where}: attribute '{a.name}': cannot read its tensor ({e})") from None
    raise UnsupportedOpError(f"attribute '{a.name}' of type {_AT.AttributeType.Name(a.type)}")


def _float_attr(attrs, key, default, where):
    v = attrs.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ModelLoadError(f"{where}: attribute '{key}' must be a number, got {type(v).__name__} {v!r}")
    return float(v)


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
        attrs["min"] = _float_attr(attrs, "min", -np.inf, where)
        attrs["max"] = _float_attr(attrs, "max", np.inf, where)
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
    elif op == "Pad" and opset < 11:
        attrs["value"] = float(attrs.get("value", 0.0))
    elif op == "Cast":
        attrs.pop("saturate", None)
        attrs.pop("round_mode", None)
    elif op == "Range":
        attrs.pop("stash_type", None)
    elif op in ("DepthToSpace", "SpaceToDepth"):
        attrs.setdefault("mode", "DCR")
    elif op in REDUCE_AXES_INPUT_FROM:
        attrs.setdefault("keepdims", 1)
        if opset < REDUCE_AXES_INPUT_FROM[op]:
            attrs.pop("noop_with_empty_axes", None)
            attrs["noop_with_empty_axes"] = 0
            if len(node.inputs) > 1 and node.inputs[1]:
                raise ModelLoadError(f"{where}: {op} before opset {REDUCE_AXES_INPUT_FROM[op]} takes axes "
                                     f"as an attribute, not as input 1")
        else:
            attrs.setdefault("noop_with_empty_axes", 0)
            if "axes" in attrs:
                raise ModelLoadError(f"{where}: {op} from opset {REDUCE_AXES_INPUT_FROM[op]} takes axes as "
                                     f"input 1, not as an attribute")
    elif op in ("ArgMax", "ArgMin"):
        attrs.setdefault("axis", 0)
        attrs.setdefault("keepdims", 1)
        if opset < 12:
            attrs["select_last_index"] = 0
        attrs.setdefault("select_last_index", 0)
    elif op == "TopK":
        attrs.setdefault("axis", -1)
        if opset < 10:
            if "k" not in attrs:
                raise ModelLoadError(f"{where}: TopK before opset 10 needs the 'k' attribute")
        elif "k" in attrs:
            raise ModelLoadError(f"{where}: TopK from opset 10 takes k as input 1, not as an attribute")
        if opset < 11:
            attrs["largest"], attrs["sorted"] = 1, 1
        attrs.setdefault("largest", 1)
        attrs.setdefault("sorted", 1)
    elif op == "Gelu":
        attrs.setdefault("approximate", "none")
    elif op in ("Celu", "ThresholdedRelu"):
        attrs.setdefault("alpha", 1.0)
    elif op == "LpNormalization":
        attrs.setdefault("axis", -1)
        attrs.setdefault("p", 2)
    elif op in ("Resize", "Upsample"):
        if op == "Upsample" or opset < 11:
            # Upsample-7: X + scales attribute; Upsample-9/10 and Resize-10: (X, scales).
            ins = list(node.inputs)
            if op == "Upsample" and opset < 9:
                if "scales" not in attrs:
                    raise UnsupportedOpError(f"{where}: Upsample needs the scales attribute")
                attrs["scales"] = [float(v) for v in attrs["scales"]]
                node.inputs = ins[:1]
            else:
                attrs.pop("scales", None)
                node.inputs = ins[:1] + [""] + ins[1:2]
            attrs["coordinate_transformation_mode"] = "asymmetric"
            attrs["nearest_mode"] = "simple"
            attrs.setdefault("mode", "nearest")
            if op == "Upsample":
                attrs["cnnrt_upsample"] = 1  # scales must be >= 1 (Upsample's rule)
            node.op = "Resize"
        else:
            attrs.setdefault("coordinate_transformation_mode", "half_pixel")
            attrs.setdefault("nearest_mode", "round_prefer_floor")
            attrs.setdefault("mode", "nearest")
            if opset < 18:
                for k in ("antialias", "axes", "keep_aspect_ratio_policy"):
                    if k in attrs:
                        raise UnsupportedOpError(f"{where}: attribute '{k}' is new in Resize-18 (model opset {opset})")
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
