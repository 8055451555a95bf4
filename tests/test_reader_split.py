"""open_model reads a model file without protobuf holding its large float32
weights: a scan of the wire format finds their raw_data, the rest is parsed,
and to_ir reads each weight from the file as it converts it. Whatever the
layout, the result must be what the plain parse gives."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import cnnrt
from cnnrt.onnx_import import open_model, read_model, to_ir
from cnnrt.onnx_import import reader


def _model():
    """Initializers: float32 above and below the 4 KiB cut, an int64 one above
    it, a float16 one, an empty one; a Constant node with a float tensor."""
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)       # 4.5 KiB: split
    b1 = rng.standard_normal(16).astype(np.float32)                  # small: stays
    w2 = rng.standard_normal((4, 16, 5, 5)).astype(np.float32)       # 6.25 KiB: split
    idx = np.arange(1024, dtype=np.int64)                            # 8 KiB int64: stays
    half = rng.standard_normal((64, 64)).astype(np.float16)          # float16: stays
    empty = np.zeros((0, 3), np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Constant", [], ["k"], name="k", value=numpy_helper.from_array(
            rng.standard_normal((16, 1, 1)).astype(np.float32) + 2)),
        helper.make_node("Mul", ["c1", "k"], ["m"], name="mul"),
        helper.make_node("Conv", ["m", "w2"], ["y"], name="conv2", kernel_shape=[5, 5], pads=[2, 2, 2, 2]),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((w1, "w1"), (b1, "b1"), (idx, "idx"), (w2, "w2"), (half, "half"), (empty, "empty"))]
    g = helper.make_graph(nodes, "split", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


@pytest.fixture()
def model_file(tmp_path):
    m = _model()
    p = tmp_path / "split.onnx"
    p.write_bytes(m.SerializeToString())
    return m, p


def _consts(proto, label, weights=None):
    return to_ir(proto, label, weights=weights).consts


def test_only_large_float32_initializers_are_split(model_file):
    m, p = model_file
    proto, _, _, weights = open_model(str(p))
    try:
        names = [t.name for t in proto.graph.initializer]
        split = [names[i] for i in range(len(names)) if i in weights]
        assert split == ["w1", "w2"]
        for t in proto.graph.initializer:
            assert (len(t.raw_data) == 0) == (t.name in split or t.name == "empty")
    finally:
        weights.close()


@pytest.mark.parametrize("source", ["path", "bytes", "bytearray", "memoryview"])
def test_same_constants_and_proto_as_the_plain_parse(model_file, source):
    m, p = model_file
    data = p.read_bytes()
    src = {"path": str(p), "bytes": data, "bytearray": bytearray(data), "memoryview": memoryview(data)}[source]
    want = _consts(m, "m")
    proto, _, label, weights = open_model(src)
    try:
        got = _consts(proto, label, weights)
    finally:
        if weights is not None:
            weights.close()
    assert list(got) == list(want)
    for k in want:
        assert got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]), k
    assert read_model(src)[0] == m  # the public reader still gives the whole model


def test_layouts_the_scan_leaves_to_protobuf(tmp_path):
    """Two serialized models concatenated are one valid model (protobuf merges
    the repeated graph field): the scan declines, the plain parse decides."""
    m = _model()
    extra = onnx.ModelProto()
    extra.graph.doc_string = "second half"
    data = m.SerializeToString() + extra.SerializeToString()
    with pytest.raises(reader._Unusual):
        reader._split_weights(data)
    p = tmp_path / "merged.onnx"
    p.write_bytes(data)
    proto, _, _, weights = open_model(str(p))
    assert weights is None
    want = onnx.ModelProto()
    want.ParseFromString(data)
    assert proto == want


def test_cut_inside_a_weight_is_the_plain_parse_error(model_file, tmp_path):
    m, p = model_file
    data = p.read_bytes()
    raw = m.graph.initializer[0].raw_data
    at = data.index(raw[:64]) + len(raw) // 2
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[:at])
    with pytest.raises(cnnrt.ModelLoadError, match="not a valid ONNX protobuf"):
        cnnrt.load(str(cut))


def test_weights_read_from_the_file_run_the_same(model_file):
    m, p = model_file
    x = np.random.default_rng(1).standard_normal((1, 8, 6, 6)).astype(np.float32)
    from_file = cnnrt.load(str(p), threads=1).infer(x)
    from_proto = cnnrt.load(m, threads=1).infer(x)
    assert np.array_equal(from_file, from_proto)


def test_file_shorter_than_when_scanned(model_file, tmp_path):
    """A file truncated between the scan and the read of its weights: a
    ModelLoadError, not a short array."""
    m, p = model_file
    proto, _, label, weights = open_model(str(p))
    try:
        with open(p, "r+b") as f:
            f.truncate(100)
        with pytest.raises(cnnrt.ModelLoadError, match="ended early"):
            to_ir(proto, label, weights=weights)
    finally:
        weights.close()
