"""FLOPs and convolution layer shapes of an ONNX graph, from onnx shape
inference: 2 * multiply-accumulates of Conv, Gemm and MatMul (the convention
under which torchvision's ResNet-50 is 8.18 GFLOP); element-wise ops,
pooling and activations are not counted."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import shape_inference


def _shapes(model, input_shape=None):
    """`input_shape`: the first graph input's shape, or a dict of input name -> shape."""
    if input_shape is not None:  # symbolic dims (a dynamic batch) made concrete
        model = onnx.ModelProto.FromString(model.SerializeToString())
        inits = {t.name for t in model.graph.initializer}
        graph_inputs = [i for i in model.graph.input if i.name not in inits]
        given = input_shape if isinstance(input_shape, dict) else {graph_inputs[0].name: input_shape}
        for graph_input in graph_inputs:
            if graph_input.name not in given:
                continue
            for d, v in zip(graph_input.type.tensor_type.shape.dim, given[graph_input.name]):
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


def node_macs(model, input_shapes=None):
    """Multiply-accumulates of every Conv, ConvTranspose, Gemm and MatMul
    node whose shapes inference knows: {node name (or its first output's
    name when unnamed): MACs}. `input_shapes`: dict of input name -> shape."""
    model_inf, shapes = _shapes(model, input_shapes)
    out = {}

    def known(*names):
        return all(n in shapes and shapes[n] and None not in shapes[n] and 0 not in shapes[n] for n in names)

    for node in model_inf.graph.node:
        key = node.name or node.output[0]
        op = node.op_type
        if op in ("Conv", "ConvTranspose") and known(node.input[0], node.input[1], node.output[0]):
            w, x, y = shapes[node.input[1]], shapes[node.input[0]], shapes[node.output[0]]
            if op == "Conv":  # N * OC * out pixels * (C/group * kernel)
                out[key] = int(np.prod(y)) * int(np.prod(w[1:]))
            else:  # every input pixel scatters C x (OC/group * kernel)
                out[key] = int(np.prod(x)) * int(np.prod(w[1:]))
        elif op == "Gemm" and known(node.input[0], node.input[1]):
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            m, k = (a[1], a[0]) if _attr(node, "transA", 0) else (a[0], a[1])
            out[key] = m * k * (b[0] if _attr(node, "transB", 0) else b[1])
        elif op == "MatMul" and known(node.input[0], node.output[0]):
            out[key] = int(np.prod(shapes[node.output[0]])) * shapes[node.input[0]][-1]
    return out
