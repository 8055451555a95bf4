"""FLOPs and convolution layer shapes of an ONNX graph, from onnx shape
inference: 2 * multiply-accumulates of Conv, Gemm and MatMul (the convention
under which torchvision's ResNet-50 is 8.18 GFLOP); element-wise ops,
pooling and activations are not counted."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import shape_inference


def _shapes(model, input_shape=None):
    if input_shape is not None:  # symbolic dims (a dynamic batch) made concrete
        model = onnx.ModelProto.FromString(model.SerializeToString())
        inits = {t.name for t in model.graph.initializer}
        graph_input = [i for i in model.graph.input if i.name not in inits][0]
        for d, v in zip(graph_input.type.tensor_type.shape.dim, input_shape):
            d.Clear()
            d.dim_value = int(v)
    model = shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    for t in model.graph.initializer:
        shapes[t.name] = list(t.dims)
    return model, shapes


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def conv_layers(model, input_shape=None):
    """One dict per Conv node: name, C, H, W, OC, KH, KW, stride (sh, sw),
    pads (t, l, b, r), groups, dilations, OH, OW, macs. `input_shape` fixes
    the (first) graph input's symbolic dims."""
    model, shapes = _shapes(model, input_shape)
    out = []
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        n, c, h, w = shapes[node.input[0]]
        oc, icg, kh, kw = shapes[node.input[1]]
        _, _, oh, ow = shapes[node.output[0]]
        out.append({
            "name": node.name or node.output[0], "N": n, "C": c, "H": h, "W": w, "OC": oc, "KH": kh, "KW": kw,
            "stride": tuple(_attr(node, "strides", [1, 1])), "pads": tuple(_attr(node, "pads", [0, 0, 0, 0])),
            "groups": _attr(node, "group", 1), "dilations": tuple(_attr(node, "dilations", [1, 1])),
            "OH": oh, "OW": ow, "macs": n * oc * oh * ow * icg * kh * kw,
        })
    return out


def gflop(model, input_shape=None):
    """2 * MACs of Conv, Gemm and MatMul, in GFLOP."""
    if isinstance(model, str):
        model = onnx.load(model)
    model_inf, shapes = _shapes(model, input_shape)
    macs = sum(layer["macs"] for layer in conv_layers(model, input_shape))
    for node in model_inf.graph.node:
        if node.op_type == "Gemm":
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            m, k = (a[1], a[0]) if _attr(node, "transA", 0) else (a[0], a[1])
            nn_ = b[0] if _attr(node, "transB", 0) else b[1]
            macs += m * k * nn_
        elif node.op_type == "MatMul":
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            y = shapes[node.output[0]]
            k = a[-1]
            macs += int(np.prod(y)) * k
    return 2 * macs / 1e9
