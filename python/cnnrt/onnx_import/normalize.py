"""Opset normalisation: one attribute form per op, whatever the opset.

The runtime reads attributes by name; here every ONNX spelling (attribute vs
input, opset-specific defaults) is turned into the one form it reads:
- Softmax/LogSoftmax: `axis` with the opset's default, `legacy`=1 before
  opset 13 (coerce to 2-D at axis);
- Clip before 11: `min`/`max` attributes (from 11: optional inputs);
- Squeeze/Unsqueeze before 13: `axes` attribute (from 13: input);
- ConstantOfShape: `value` (one number) and `dtype` from the value tensor;
- BatchNormalization: refuses spatial=0 and training mode;
- Resize (10, 11, 13, 18, 19) and Upsample (7, 9, 10) become one Resize form:
  inputs (X, roi, scales, sizes), absent ones ""; Upsample-7's `scales`
  attribute stays an attribute the runtime reads; Resize-10 and Upsample use
  asymmetric coordinates and their own nearest rule (nearest_mode "simple":
  floor when upsampling, ceil when downsampling, as onnxruntime does); the
  opset-11+ defaults (half_pixel, round_prefer_floor, cubic_coeff_a -0.75)
  are written out;
- ConvTranspose: nothing changes between opsets 1 and 11 but the defaults.
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


def normalize_node(proto: onnx.NodeProto, node: Node, opset: int, where: str) -> Node:
    attrs = {a.name: _attr_value(a, where) for a in proto.attribute}
    op = node.op
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
    elif op == "Dropout":
        attrs.pop("is_test", None)
        attrs.pop("seed", None)
        attrs.pop("ratio", None)
    for k, v in list(attrs.items()):
        if isinstance(v, np.ndarray):
            raise UnsupportedOpError(f"tensor attribute '{k}'")
    node.attrs = attrs
    return node
