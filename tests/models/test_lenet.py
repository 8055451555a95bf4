"""LeNet-5 end to end: a model built here with onnx.helper (seeded random
weights, dynamic batch) and the bundled demo model with its held-out digits,
cnnrt vs onnxruntime on every ISA path."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import cnnrt
from cnnrt import demo
from helpers import assert_close, run_ort


def lenet5(flatten: str = "Flatten", opset: int = 17, seed: int = 0) -> onnx.ModelProto:
    """Conv5x5(6) -> Relu -> MaxPool2 -> Conv5x5(16) -> Relu -> MaxPool2 ->
    Flatten | Reshape[-1,400] -> Gemm(120) -> Relu -> Gemm(84) -> Relu ->
    Gemm(10) -> Softmax; input [N,1,32,32], N symbolic."""
    rng = np.random.default_rng(seed)

    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    def small(n):
        return (rng.standard_normal(n) * 0.05).astype(np.float32)

    w = {
        "c1_w": he([6, 1, 5, 5], 25), "c1_b": small(6),
        "c2_w": he([16, 6, 5, 5], 150), "c2_b": small(16),
        "f1_w": he([120, 400], 400), "f1_b": small(120),
        "f2_w": he([84, 120], 120), "f2_b": small(84),
        "f3_w": he([10, 84], 84), "f3_b": small(10),
    }
    nodes = [
        helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["c1"], name="conv1", kernel_shape=[5, 5]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "c2_w", "c2_b"], ["c2"], name="conv2", kernel_shape=[5, 5]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
    ]
    if flatten == "Flatten":
        nodes.append(helper.make_node("Flatten", ["p2"], ["flat"], name="flatten", axis=1))
    else:
        w["flat_shape"] = np.array([-1, 400], dtype=np.int64)
        nodes.append(helper.make_node("Reshape", ["p2", "flat_shape"], ["flat"], name="reshape"))
    nodes += [
        helper.make_node("Gemm", ["flat", "f1_w", "f1_b"], ["f1"], name="fc1", transB=1),
        helper.make_node("Relu", ["f1"], ["r3"], name="relu3"),
        helper.make_node("Gemm", ["r3", "f2_w", "f2_b"], ["f2"], name="fc2", transB=1),
        helper.make_node("Relu", ["f2"], ["r4"], name="relu4"),
        helper.make_node("Gemm", ["r4", "f3_w", "f3_b"], ["logits"], name="fc3", transB=1),
        helper.make_node("Softmax", ["logits"], ["prob"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "lenet5",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 32, 32])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(v, k) for k, v in w.items()],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    onnx.checker.check_model(m, full_check=True)
    return m


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("flatten,opset", [("Flatten", 17), ("Reshape", 17), ("Flatten", 11)])
def test_lenet5_dynamic_batch(isa, threads, flatten, opset):
    """Batches 1, 3 and 8 through one session (a plan per shape) match
    onnxruntime, and each row equals that image run alone."""
    m = lenet5(flatten, opset)
    sess = cnnrt.load(m, threads=threads, isa=isa)
    assert sess.inputs[0].shape == ["N", 1, 32, 32]
    rng = np.random.default_rng(7)
    xs = {b: rng.standard_normal([b, 1, 32, 32]).astype(np.float32) for b in (1, 3, 8)}
    outs = {}
    for b in (1, 3, 8, 1):  # back to batch 1: a cached plan
        got = sess.run(None, {"x": xs[b]})[0]
        ref = run_ort(m, {"x": xs[b]})[0]
        assert_close(got, ref, f"batch {b}")
        assert np.array_equal(got.argmax(1), ref.argmax(1))
        outs.setdefault(b, got)
    again = sess.run(None, {"x": xs[1]})[0]
    assert np.array_equal(again, outs[1]), "batch 1 after other batch sizes is not bit-identical"
    alone = sess.run(None, {"x": xs[8][5:6]})[0]
    assert_close(outs[8][5:6], alone, "row 5 of batch 8 vs alone")


def test_demo_model_matches_onnxruntime(isa):
    """The bundled LeNet-5 on the 450 held-out digits: logits within tolerance
    of onnxruntime, same predictions, accuracy >= 95%."""
    images, labels = demo.load_test_data()
    m = onnx.load(demo.model_path())
    sess = cnnrt.load(demo.model_path(), threads=1, isa=isa)
    got = sess.run(None, {"input": images})[0]
    ref = run_ort(m, {"input": images})[0]
    assert got.shape == (len(labels), 10)
    assert_close(got, ref, "demo logits")
    assert np.array_equal(got.argmax(1), ref.argmax(1))
    acc = float((got.argmax(1) == labels).mean())
    assert acc >= 0.95, f"accuracy {acc:.3f} < 0.95"
    # batch-1 calls agree with the batched run
    for i in (0, 1, 449):
        one = sess.infer(images[i:i + 1])
        assert_close(one, got[i:i + 1], f"image {i} alone")
