"""Small valid models the fuzzer mutates: one op family each (plus a few
chains), tiny shapes so one load + run costs about a millisecond. Built with
onnx.helper, deterministic (seeded weights)."""
from __future__ import annotations

from typing import Dict, List

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
I64 = TensorProto.INT64


def _w(rng, name, shape):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.5).astype(np.float32), name)


def _i64(name, values):
    return numpy_helper.from_array(np.asarray(values, np.int64), name)


def _model(name, nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="cnnrt-fuzz-seed")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def _vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def build() -> Dict[str, onnx.ModelProto]:
    rng = np.random.default_rng(7)
    x = _vi("x", [1, 3, 8, 8])
    seeds = {}
    seeds["conv_relu"] = _model(
        "conv_relu",
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv"),
         helper.make_node("Relu", ["c"], ["y"], name="relu")],
        [x], [_vi("y", [1, 4, 8, 8])], [_w(rng, "w", [4, 3, 3, 3]), _w(rng, "b", [4])])
    seeds["conv_strided_dilated"] = _model(
        "conv_strided_dilated",
        [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2], dilations=[2, 1],
                          pads=[2, 1, 1, 0], name="conv")],
        [x], [_vi("y", [1, 5, 4, 4])], [_w(rng, "w", [5, 3, 3, 3])])
    seeds["dwconv_group"] = _model(
        "dwconv_group",
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], group=3, kernel_shape=[3, 3], auto_pad="SAME_UPPER",
                          name="dw")],
        [x], [_vi("y", [1, 3, 8, 8])], [_w(rng, "w", [3, 1, 3, 3]), _w(rng, "b", [3])])
    seeds["maxpool_avgpool"] = _model(
        "maxpool_avgpool",
        [helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                          name="maxpool"),
         helper.make_node("AveragePool", ["p"], ["y"], kernel_shape=[2, 2], ceil_mode=1, count_include_pad=1,
                          name="avgpool")],
        [x], [_vi("y", [1, 3, 3, 3])])
    seeds["gemm"] = _model(
        "gemm",
        [helper.make_node("Flatten", ["x"], ["f"], axis=1, name="flatten"),
         helper.make_node("Gemm", ["f", "w", "b"], ["y"], transB=1, alpha=0.5, beta=1.0, name="gemm")],
        [x], [_vi("y", [1, 10])], [_w(rng, "w", [10, 192]), _w(rng, "b", [10])])
    seeds["matmul_softmax"] = _model(
        "matmul_softmax",
        [helper.make_node("MatMul", ["a", "w"], ["m"], name="matmul"),
         helper.make_node("Softmax", ["m"], ["y"], axis=-1, name="softmax")],
        [_vi("a", [2, 5, 6])], [_vi("y", [2, 5, 4])], [_w(rng, "w", [6, 4])])
    seeds["concat_bn"] = _model(
        "concat_bn",
        [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1], name="conv1x1"),
         helper.make_node("Concat", ["x", "c"], ["cat"], axis=1, name="concat"),
         helper.make_node("BatchNormalization", ["cat", "s", "bb", "mu", "var"], ["y"], epsilon=1e-5, name="bn")],
        [x], [_vi("y", [1, 5, 8, 8])],
        [_w(rng, "w", [2, 3, 1, 1]), _w(rng, "s", [5]), _w(rng, "bb", [5]), _w(rng, "mu", [5]),
         numpy_helper.from_array(rng.uniform(0.5, 2, 5).astype(np.float32), "var")])
    seeds["reshape_transpose"] = _model(
        "reshape_transpose",
        [helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape"),
         helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1], name="transpose"),
         helper.make_node("Unsqueeze", ["t", "axes"], ["y"], name="unsqueeze")],
        [x], [_vi("y", [1, 1, 16, 12])], [_i64("shape", [1, -1, 16]), _i64("axes", [0])])
    seeds["resize"] = _model(
        "resize",
        [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest", name="resize"),],
        [x], [_vi("y", [1, 3, 16, 16])],
        [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")])
    seeds["resize_linear_sizes"] = _model(
        "resize_linear_sizes",
        [helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear",
                          coordinate_transformation_mode="align_corners", name="resize")],
        [x], [_vi("y", [1, 3, 5, 11])], [_i64("sizes", [1, 3, 5, 11])])
    seeds["pad_slice"] = _model(
        "pad_slice",
        [helper.make_node("Pad", ["x", "pads"], ["p"], mode="reflect", name="pad"),
         helper.make_node("Slice", ["p", "starts", "ends", "axes", "steps"], ["y"], name="slice")],
        [x], [_vi("y", [1, 2, 11, 6])],
        [_i64("pads", [0, 0, 1, 2, 0, 0, 2, 1]), _i64("starts", [1, -1]), _i64("ends", [3, -100]),
         _i64("axes", [1, 3]), _i64("steps", [1, -2])])
    seeds["split_add_gap"] = _model(
        "split_add_gap",
        [helper.make_node("Split", ["x", "split"], ["s0", "s1"], axis=1, name="split"),
         helper.make_node("ReduceMean", ["s1"], ["m"], axes=[1], keepdims=1, name="mean"),
         helper.make_node("Add", ["s0", "m"], ["a"], name="add"),
         helper.make_node("GlobalAveragePool", ["a"], ["y"], name="gap")],
        [x], [_vi("y", [1, 1, 1, 1])], [_i64("split", [1, 2])])
    seeds["convtranspose_lrn"] = _model(
        "convtranspose_lrn",
        [helper.make_node("ConvTranspose", ["x", "w"], ["c"], kernel_shape=[3, 3], strides=[2, 2],
                          output_padding=[1, 1], name="deconv"),
         helper.make_node("LRN", ["c"], ["y"], size=3, name="lrn")],
        [x], [_vi("y", [1, 2, 18, 18])], [_w(rng, "w", [3, 2, 3, 3])])
    seeds["dynamic_batch_gather"] = _model(
        "dynamic_batch_gather",
        [helper.make_node("Shape", ["x"], ["s"], name="shape"),
         helper.make_node("Gather", ["s", "idx"], ["n"], axis=0, name="gather"),
         helper.make_node("Concat", ["n", "rest"], ["shp"], axis=0, name="cat"),
         helper.make_node("Reshape", ["x", "shp"], ["y"], name="reshape")],
        [_vi("x", ["N", 3, 4, 4])], [_vi("y", ["N", 48])], [_i64("idx", [0]), _i64("rest", [-1])])
    seeds["topk_argmax"] = _model(
        "topk_argmax",
        [helper.make_node("TopK", ["a", "k"], ["v", "i"], axis=1, name="topk"),
         helper.make_node("ArgMax", ["a"], ["y"], axis=1, keepdims=0, name="argmax")],
        [_vi("a", [2, 9])], [_vi("v", [2, 3]), _vi("i", [2, 3], I64), _vi("y", [2], I64)], [_i64("k", [3])])
    seeds["opset9_upsample_clip"] = _model(
        "opset9_upsample_clip",
        [helper.make_node("Upsample", ["x", "scales"], ["u"], mode="nearest", name="upsample"),
         helper.make_node("Clip", ["u"], ["y"], min=-0.5, max=0.5, name="clip")],
        [x], [_vi("y", [1, 3, 16, 16])],
        [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")], opset=9)
    return seeds


def serialized() -> List[bytes]:
    return [m.SerializeToString() for _, m in sorted(build().items())]


def serialized_cnnrt() -> List[bytes]:
    """The seeds compiled to .cnnrt files (the second fuzz target): each under
    the ISA this CPU runs, whose packed weights load in place, and under
    "ref" where that is another ISA, whose weights are repacked at load."""
    import cnnrt

    out = []
    isas = [None] + (["ref"] if cnnrt.info()["isa_current"] != "ref" else [])
    for _, m in sorted(build().items()):
        for isa in isas:
            out.append(cnnrt.load(m.SerializeToString(), threads=1, isa=isa).to_bytes())
    return out
