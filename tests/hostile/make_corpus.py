"""The hostile-model corpus: about 150 cases, each one broken relationship in a
model file, its external data or a run() call (issue 7).

A case is (id, category, expected, needles, build): `build(folder)` writes
whatever the case needs under `folder` and returns (source, run) where
source is what cnnrt.load gets (a path, bytes or a ModelProto) and run is
None (load only), "default" (one run on zeros of the inputs' shapes, symbolic
dims 1) or a function (session -> anything) for the run() cases. expected is
None (must load and run), a cnnrt exception class name, or a tuple of the
outcomes allowed where either is right (trailing bytes protobuf may merge).
needles: substrings the message must contain (what is wrong, where).

Cases are built inside the worker process that runs them (run_corpus.py), so
collecting the tests writes nothing.
"""
from __future__ import annotations

import os
import zipfile
from typing import Callable, Dict, List, NamedTuple, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)


class Case(NamedTuple):
    cid: str
    category: str
    expected: object  # None | str | tuple
    needles: Tuple[str, ...]
    build: Callable
    load_kwargs: Dict = {}


CASES: List[Case] = []


def case(cid, category, expected, *needles, load_kwargs=None):
    def deco(fn):
        CASES.append(Case(cid, category, expected, tuple(needles), fn, load_kwargs or {}))
        return fn
    return deco


def add(cid, category, expected, needles, fn, load_kwargs=None):
    CASES.append(Case(cid, category, expected, tuple(needles), fn, load_kwargs or {}))


# ------------------------------------------------------------ model helpers ---

RNG = np.random.default_rng(7)
W = (RNG.standard_normal([4, 3, 3, 3]) * 0.3).astype(np.float32)
B = (RNG.standard_normal(4) * 0.1).astype(np.float32)


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def model(nodes, inputs, outputs, inits=(), opset=17, ir=8, name="hostile"):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir
    return m


def conv_model(x_shape=(1, 3, 8, 8), w=W, b=B, **attrs):
    attrs.setdefault("pads", [1, 1, 1, 1])
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", **attrs)]
    return model(nodes, [vi("x", list(x_shape))], [vi("y", None)],
                 [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])


def one_node(op, attrs=None, x_shape=(1, 3, 8, 8), inits=(), extra_inputs=(), n_out=1, x_dtype=TensorProto.FLOAT,
             name=None):
    """x -> op(x, *extra_inputs) -> y (y0, y1, ... when n_out > 1)."""
    outs = ["y"] if n_out == 1 else [f"y{i}" for i in range(n_out)]
    node = helper.make_node(op, ["x", *extra_inputs], outs, name=name or op.lower(), **(attrs or {}))
    return model([node], [vi("x", list(x_shape), x_dtype)], [vi(o, None) for o in outs], list(inits))


def ints(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


def floats(name, values):
    return numpy_helper.from_array(np.array(values, np.float32), name)


def save(folder, m, fname="model.onnx"):
    p = os.path.join(folder, fname)
    with open(p, "wb") as f:
        f.write(m if isinstance(m, (bytes, bytearray)) else m.SerializeToString())
    return p


def path_case(cid, category, expected, needles, make, run="default", load_kwargs=None):
    """A case whose model (from make()) is written to folder/model.onnx and loaded by path."""
    add(cid, category, expected, needles, lambda d: (save(d, make()), run), load_kwargs)


# ------------------------------------------------------------------ files ---

GOOD = conv_model().SerializeToString()
N = len(GOOD)

path_case("file_empty", "files", "ModelLoadError", ["empty"], lambda: b"")
path_case("file_one_byte", "files", "ModelLoadError", ["not a valid ONNX"], lambda: b"\x08")
for seed, size in ((0, 7), (1, 64), (2, 1000), (3, 100_000)):
    path_case(f"file_random_{size}", "files", "ModelLoadError", ["model.onnx"],
              lambda seed=seed, size=size: np.random.default_rng(seed).bytes(size))
for cut in sorted({2, 5, 20, N // 4, N // 2, 3 * N // 4, N - 20, N - 3, N - 1}):
    path_case(f"file_truncated_{cut}", "files", "ModelLoadError", ["model.onnx"], lambda cut=cut: GOOD[:cut])
path_case("file_trailing_garbage", "files", "ModelLoadError", ["not a valid ONNX"],
          lambda: GOOD + b"\xff\xff\xff\xff garbage")
# Bytes that parse as extra fields: protobuf accepts them (unknown field 15); the model loads.
path_case("file_trailing_unknown_field", "files", None, [], lambda: GOOD + b"\x7a\x03abc")


def _zip():
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("model.onnx", GOOD)
    return buf.getvalue()


path_case("file_zip", "files", "ModelLoadError", ["model.onnx"], _zip)
path_case("file_gzip", "files", "ModelLoadError", ["model.onnx"], lambda: __import__("gzip").compress(GOOD))
path_case("file_text", "files", "ModelLoadError", ["model.onnx"], lambda: b"ir_version: 8\ngraph { }\n")


def _deep_nesting():
    # graph -> node -> attribute(g) -> graph -> ... 10000 levels of submessages:
    # deeper than protobuf's recursion limit.
    inner = b""
    for _ in range(10000):
        node = b"\x2a" + _vlen(b"\x0a\x01g" + b"\x32" + _vlen(inner) + b"\xa0\x01\x05")  # attribute{name g, g: graph, type GRAPH}
        inner = b"\x0a" + _vlen(node)  # graph.node
    return b"\x08\x08" + b"\x3a" + _vlen(inner)


def _vlen(b):
    n, out = len(b), bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out) + b


path_case("file_deep_nesting", "files", "ModelLoadError", ["model.onnx"], _deep_nesting)
add("file_directory", "files", "ModelLoadError", ["not a regular file"], lambda d: (d, None))
add("file_missing", "files", "ModelLoadError", ["nothere.onnx"], lambda d: (os.path.join(d, "nothere.onnx"), None))


def _fifo_model(d):
    p = os.path.join(d, "model.onnx")
    os.mkfifo(p)
    return p, None


add("file_fifo", "files", "ModelLoadError", ["not a regular file"], _fifo_model)
add("file_dev_zero", "files", "ModelLoadError", ["not a regular file"], lambda d: ("/dev/zero", None))
add("file_bytes_random", "files", "ModelLoadError", ["not a valid ONNX"],
    lambda d: (np.random.default_rng(9).bytes(300), None))
add("file_not_a_model_object", "files", "ModelLoadError", ["cannot load a model from int"], lambda d: (12345, None))

# ----------------------------------------------------------------- graphs ---


def _with(m, fn):
    fn(m)
    return m


path_case("graph_ir_version_0", "graphs", "UnsupportedOpError", ["opset 1"],
          lambda: _with(conv_model(), lambda m: (setattr(m, "ir_version", 0), m.ClearField("opset_import"))))
path_case("graph_ir_version_99", "graphs", (None, "ModelLoadError", "UnsupportedOpError"), [],
          lambda: _with(conv_model(), lambda m: setattr(m, "ir_version", 99)))
path_case("graph_opset_6", "graphs", "UnsupportedOpError", ["opset 6"],
          lambda: _with(conv_model(), lambda m: setattr(m.opset_import[0], "version", 6)))
path_case("graph_opset_999", "graphs", "UnsupportedOpError", ["opset 999"],
          lambda: _with(conv_model(), lambda m: setattr(m.opset_import[0], "version", 999)))
path_case("graph_opset_negative", "graphs", "UnsupportedOpError", ["opset -1"],
          lambda: _with(conv_model(), lambda m: setattr(m.opset_import[0], "version", -1)))
path_case("graph_no_opset", "graphs", "ModelLoadError", ["opset"],
          lambda: _with(conv_model(), lambda m: m.ClearField("opset_import")))
path_case("graph_no_graph", "graphs", "ModelLoadError", ["no graph"], lambda: _with(conv_model(), lambda m: m.ClearField("graph")))
path_case("graph_unknown_domain", "graphs", "UnsupportedOpError", ["com.evil", "custom domain"],
          lambda: model([helper.make_node("Relu", ["x"], ["y"], name="r", domain="com.evil")],
                        [vi("x", [1, 4])], [vi("y", None)]))
path_case("graph_unknown_op", "graphs", "UnsupportedOpError", ["FrobnicateOp"],
          lambda: model([helper.make_node("FrobnicateOp", ["x"], ["y"], name="frob")], [vi("x", [1, 4])], [vi("y", None)]))
path_case("graph_empty_op_type", "graphs", "UnsupportedOpError", ["'noop'"],
          lambda: model([helper.make_node("", ["x"], ["y"], name="noop")], [vi("x", [1, 4])], [vi("y", None)]))
path_case("graph_dangling_input", "graphs", "ModelLoadError", ["ghost", "adder"],
          lambda: model([helper.make_node("Add", ["x", "ghost"], ["y"], name="adder")], [vi("x", [1, 4])], [vi("y", None)]))
path_case("graph_duplicate_producer", "graphs", "ModelLoadError", ["'y'", "produced twice"],
          lambda: model([helper.make_node("Relu", ["x"], ["y"], name="a"), helper.make_node("Sigmoid", ["x"], ["y"], name="b")],
                        [vi("x", [1, 4])], [vi("y", None)]))
path_case("graph_output_overwrites_input", "graphs", "ModelLoadError", ["'x'", "produced twice"],
          lambda: model([helper.make_node("Relu", ["x"], ["x"], name="self")], [vi("x", [1, 4])], [vi("x", None)]))
path_case("graph_cycle", "graphs", "ModelLoadError", ["cycle", "a_in_cycle"],
          lambda: model([helper.make_node("Add", ["x", "r"], ["a"], name="a_in_cycle"),
                         helper.make_node("Relu", ["a"], ["r"], name="r_in_cycle"),
                         helper.make_node("Sigmoid", ["a"], ["y"], name="out")], [vi("x", [1, 4])], [vi("y", None)]))
path_case("graph_self_loop", "graphs", "ModelLoadError", ["cycle", "loop"],
          lambda: model([helper.make_node("Add", ["x", "y"], ["y"], name="loop")], [vi("x", [1, 4])], [vi("y", None)]))
path_case("graph_missing_output", "graphs", "ModelLoadError", ["nowhere", "never produced"],
          lambda: model([helper.make_node("Relu", ["x"], ["r"], name="relu")], [vi("x", [1, 4])], [vi("nowhere", None)]))
path_case("graph_no_outputs", "graphs", "ModelLoadError", ["no outputs"],
          lambda: _with(conv_model(), lambda m: m.graph.ClearField("output")))
path_case("graph_input_twice", "graphs", "ModelLoadError", ["'x'", "listed twice"],
          lambda: model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [1, 4]), vi("x", [1, 4])], [vi("y", None)]))
path_case("graph_input_no_name", "graphs", "ModelLoadError", ["no name"],
          lambda: model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [1, 4]), vi("", [1, 4])], [vi("y", None)]))
path_case("graph_input_untyped", "graphs", "ModelLoadError", ["'x'", "no tensor type"],
          lambda: _with(conv_model(), lambda m: m.graph.input[0].type.Clear()))
path_case("graph_initializer_no_name", "graphs", "ModelLoadError", ["initializer has no name"],
          lambda: _with(conv_model(), lambda m: setattr(m.graph.initializer[1], "name", "")))
path_case("graph_missing_initializer", "graphs", "ModelLoadError", ["'w'", "conv"],
          lambda: _with(conv_model(), lambda m: m.graph.initializer.__delitem__(0)))
path_case("graph_output_is_input", "graphs", None, [],
          lambda: model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [1, 4])], [vi("y", None), vi("x", None)]))
path_case("graph_sequence_input", "graphs", "UnsupportedOpError", ["sequence"],
          lambda: model([helper.make_node("Identity", ["x"], ["y"], name="i")],
                        [helper.make_tensor_sequence_value_info("x", TensorProto.FLOAT, [1])], [vi("y", None)]))


def _many_nodes(n=100_000):
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"n{i}") for i in range(n)]
    nodes[0].input[0] = "x"
    nodes[-1].output[0] = "y"
    return model(nodes, [vi("x", [1, 4])], [vi("y", [1, 4])])


# 1e4 here; the issue's 1e5 chain takes 12-15 s to load on this 2-core machine
# (onnxruntime: 11 s for the same file), over the 5 s a corpus case may take:
# tests/hostile/test_hostile.py::test_graph_1e5_nodes runs it on its own.
path_case("graph_1e4_nodes", "graphs", None, [], lambda: _many_nodes(10_000))
path_case("graph_huge_names", "graphs", None, [],
          lambda: model([helper.make_node("Relu", ["x" * 1_000_000], ["y" * 1_000_000], name="n" * 1_000_000)],
                        [vi("x" * 1_000_000, [1, 4])], [vi("y" * 1_000_000, None)]))
path_case("graph_unicode_names", "graphs", None, [],
          lambda: model([helper.make_node("Relu", ["x\u2603\0"], ["y\U0001F600"], name="\udcff".encode("utf-8", "surrogatepass").decode("utf-8", "replace"))],
                        [vi("x\u2603\0", [1, 4])], [vi("y\U0001F600", None)]))
path_case("graph_if_subgraph", "graphs", "UnsupportedOpError", ["If"],
          lambda: model([helper.make_node("If", ["c"], ["y"], name="branch",
                                          then_branch=helper.make_graph([], "t", [], [vi("x", [1])]),
                                          else_branch=helper.make_graph([], "e", [], [vi("x", [1])]))],
                        [vi("c", [], TensorProto.BOOL), vi("x", [1])], [vi("y", None)]))
path_case("graph_sparse_initializer", "graphs", "UnsupportedOpError", ["sparse"],
          lambda: _with(model([helper.make_node("Add", ["x", "s"], ["y"], name="add")], [vi("x", [4])], [vi("y", None)]),
                        lambda m: m.graph.sparse_initializer.append(helper.make_sparse_tensor(
                            floats("s", [1.0]), ints("si", [0]), [4]))))

# ------------------------------------------------------- types and dims ---

for code, label in ((TensorProto.STRING, "string"), (TensorProto.COMPLEX64, "complex64"), (TensorProto.UINT64, "uint64")):
    path_case(f"dtype_input_{label}", "types", "UnsupportedOpError", ["'x'"],
              lambda code=code: one_node("Relu", x_shape=[1, 4], x_dtype=code))
path_case("dtype_input_undefined", "types", "ModelLoadError", ["'x'"],
          lambda: one_node("Relu", x_shape=[1, 4], x_dtype=TensorProto.UNDEFINED))
path_case("dtype_input_code_999", "types", "ModelLoadError", ["'x'"],
          lambda: one_node("Relu", x_shape=[1, 4], x_dtype=999))
path_case("dtype_initializer_string", "types", "UnsupportedOpError", ["'s'", "dtype object"],
          lambda: model([helper.make_node("Add", ["x", "s"], ["y"], name="add")], [vi("x", [1])], [vi("y", None)],
                        [helper.make_tensor("s", TensorProto.STRING, [1], [b"a"])]))
path_case("dtype_initializer_complex", "types", "UnsupportedOpError", ["'c'", "complex"],
          lambda: model([helper.make_node("Add", ["x", "c"], ["y"], name="add")], [vi("x", [1])], [vi("y", None)],
                        [numpy_helper.from_array(np.ones(1, np.complex64), "c")]))
path_case("dtype_initializer_code_999", "types", "ModelLoadError", ["'w'"],
          lambda: _with(conv_model(), lambda m: setattr(m.graph.initializer[0], "data_type", 999)))
path_case("dtype_conv_int64_input", "types", "ModelLoadError", ["conv", "int64"],
          lambda: model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [vi("x", [1, 3, 8, 8], TensorProto.INT64)],
                        [vi("y", None)], [numpy_helper.from_array(W, "w")]))
path_case("rank0_conv", "types", "ModelLoadError", ["conv", "rank"], lambda: conv_model(x_shape=[]))
path_case("rank9_relu", "types", None, [], lambda: one_node("Relu", x_shape=[1, 2, 1, 2, 1, 2, 1, 2, 1]))
path_case("rank9_conv", "types", ("ModelLoadError", "UnsupportedOpError"), ["conv"],
          lambda: conv_model(x_shape=[1, 3, 2, 2, 2, 2, 2, 2, 2], pads=None))
path_case("rank9_maxpool", "types", ("ModelLoadError", "UnsupportedOpError"), ["maxpool"],
          lambda: one_node("MaxPool", {"kernel_shape": [1] * 7}, x_shape=[1, 1] + [2] * 7))
path_case("dim_zero_static", "types", None, [], lambda: one_node("Relu", x_shape=[0, 4]))
path_case("dim_zero_conv_channels", "types", "ModelLoadError", ["conv"], lambda: conv_model(x_shape=[1, 0, 8, 8]))
path_case("dim_zero_spatial_conv", "types", ("ModelLoadError", None), ["conv"], lambda: conv_model(x_shape=[1, 3, 0, 8], pads=[0, 0, 0, 0]))
path_case("dim_negative_input", "types", "ModelLoadError", ["'x'", "-3"], lambda: one_node("Relu", x_shape=[1, -3]))
path_case("dim_negative_output_declared", "types", None, [], lambda: _with(one_node("Relu", x_shape=[1, 4]),
          lambda m: m.graph.output[0].CopyFrom(vi("y", [1, -4]))))
path_case("dim_2p31_input", "types", "ModelLoadError", ["'x'", "max_memory"], lambda: one_node("Relu", x_shape=[1 << 31]))
path_case("dim_2p32_input", "types", "ModelLoadError", ["'x'", "max_memory"], lambda: one_node("Relu", x_shape=[1 << 32, 1]))
path_case("dim_product_overflows", "types", "ModelLoadError", ["'x'"], lambda: one_node("Relu", x_shape=[1 << 32, 1 << 32, 8]))
path_case("dim_int64_max", "types", "ModelLoadError", ["'x'"], lambda: one_node("Relu", x_shape=[INT64_MAX]))
path_case("init_dims_overflow", "types", "ModelLoadError", ["'w'"],
          lambda: _with(conv_model(), lambda m: (m.graph.initializer[0].ClearField("dims"),
                                                  m.graph.initializer[0].dims.extend([1 << 40, 1 << 40]))))
path_case("init_dims_negative", "types", "ModelLoadError", ["'w'", "negative"],
          lambda: _with(conv_model(), lambda m: (m.graph.initializer[0].ClearField("dims"),
                                                  m.graph.initializer[0].dims.extend([-4, 3, 3, 3]))))
path_case("init_dims_int64_min", "types", "ModelLoadError", ["'w'"],
          lambda: _with(conv_model(), lambda m: (m.graph.initializer[0].ClearField("dims"),
                                                  m.graph.initializer[0].dims.extend([INT64_MIN]))))
path_case("init_rank_64", "types", "ModelLoadError", ["'w'"],
          lambda: _with(conv_model(), lambda m: (m.graph.initializer[0].ClearField("dims"),
                                                  m.graph.initializer[0].dims.extend([1] * 64))))
path_case("dim_symbolic_conv_channels", "types", "ModelLoadError", ["conv"],
          lambda: conv_model(x_shape=["N", "C", "H", "W"]), run=lambda s: s.run(None, {"x": np.zeros([1, 5, 8, 8], np.float32)}))

# ------------------------------------------------------------------- data ---

path_case("data_raw_short", "data", "ModelLoadError", ["'w'"],
          lambda: _with(conv_model(), lambda m: setattr(m.graph.initializer[0], "raw_data", W.tobytes()[:-8])))
path_case("data_raw_long", "data", "ModelLoadError", ["'w'"],
          lambda: _with(conv_model(), lambda m: setattr(m.graph.initializer[0], "raw_data", W.tobytes() + b"\0" * 8)))
path_case("data_raw_not_multiple", "data", "ModelLoadError", ["'w'"],
          lambda: _with(conv_model(), lambda m: setattr(m.graph.initializer[0], "raw_data", W.tobytes()[:-1])))
path_case("data_float_data_short", "data", "ModelLoadError", ["'b'"],
          lambda: _with(conv_model(), lambda m: (m.graph.initializer[1].ClearField("raw_data"),
                                                  m.graph.initializer[1].float_data.extend([1.0]))))
path_case("data_raw_and_no_dims_big", "data", "ModelLoadError", ["'w'"],
          lambda: _with(conv_model(), lambda m: m.graph.initializer[0].ClearField("dims")))
for label, value in (("nan", np.nan), ("inf", np.inf), ("denormal", 1e-40)):
    path_case(f"data_weights_{label}", "data", None, [],
              lambda value=value: conv_model(w=np.full_like(W, value)))
path_case("data_pad_crops_to_empty", "data", None, [],
          lambda: one_node("Pad", x_shape=[1, 3, 8, 8], inits=[ints("p", [0, 0, -8, 0, 0, 0, 0, 0])], extra_inputs=["p"]))
path_case("data_reshape_two_minus_one", "data", "ModelLoadError", ["reshape", "-1"],
          lambda: one_node("Reshape", x_shape=[2, 6], inits=[ints("s", [-1, -1])], extra_inputs=["s"]))
path_case("data_reshape_count_mismatch", "data", "ModelLoadError", ["reshape"],
          lambda: one_node("Reshape", x_shape=[2, 6], inits=[ints("s", [5, 5])], extra_inputs=["s"]))
path_case("data_reshape_int64_max", "data", "ModelLoadError", ["reshape"],
          lambda: one_node("Reshape", x_shape=[2, 6], inits=[ints("s", [INT64_MAX, -1])], extra_inputs=["s"]))
path_case("data_reshape_negative_dim", "data", "ModelLoadError", ["reshape"],
          lambda: one_node("Reshape", x_shape=[2, 6], inits=[ints("s", [-3, 4])], extra_inputs=["s"]))
path_case("data_reshape_zero_copies_out_of_range", "data", "ModelLoadError", ["reshape"],
          lambda: one_node("Reshape", x_shape=[2, 6], inits=[ints("s", [0, 0, 0])], extra_inputs=["s"]))
for label, pads in (("int64_max", [0, 0, 0, INT64_MAX, 0, 0, 0, 0]), ("int64_min", [0, 0, 0, INT64_MIN, 0, 0, 0, 0]),
                    ("2p62", [0, 0, 1 << 62, 0, 0, 0, 0, 0]), ("odd_count", [1, 1, 1]), ("crops_below_zero", [0, 0, -9, 0, 0, 0, 0, 0])):
    path_case(f"data_pad_{label}", "data", "ModelLoadError", ["pad"],
              lambda pads=pads: one_node("Pad", x_shape=[1, 3, 8, 8], inits=[ints("p", pads)], extra_inputs=["p"]))
for label, (starts, ends, steps), expected in (
        ("extremes", ([INT64_MIN], [INT64_MAX], [1]), None),
        ("reverse_extremes", ([INT64_MAX], [INT64_MIN], [-1]), None),
        ("step_0", ([0], [4], [0]), "ModelLoadError"),
        ("step_int64_min", ([INT64_MAX], [INT64_MIN], [INT64_MIN]), None),
        ("step_int64_max", ([0], [INT64_MAX], [INT64_MAX]), None),
        ("lengths_differ", ([0, 0], [4], [1]), "ModelLoadError")):
    path_case(f"data_slice_{label}", "data", expected, ["slice"] if expected else [],
              lambda starts=starts, ends=ends, steps=steps: one_node(
                  "Slice", x_shape=[4, 5], extra_inputs=["s", "e", "a", "st"],
                  inits=[ints("s", starts), ints("e", ends), ints("a", list(range(len(starts)))), ints("st", steps)]))
path_case("data_slice_axis_out_of_range", "data", "ModelLoadError", ["slice", "axis"],
          lambda: one_node("Slice", x_shape=[4, 5], extra_inputs=["s", "e", "a"],
                           inits=[ints("s", [0]), ints("e", [2]), ints("a", [7])]))
for label, scale, needle in (("0", 0.0, "resize"), ("nan", float("nan"), "resize"), ("1e9", 1e9, "resize"),
                             ("negative", -2.0, "resize"), ("inf", float("inf"), "resize")):
    path_case(f"data_resize_scale_{label}", "data", "ModelLoadError", [needle],
              lambda scale=scale: one_node("Resize", {"mode": "nearest"}, x_shape=[1, 1, 4, 4], extra_inputs=["", "sc"],
                                           inits=[floats("sc", [1, 1, scale, scale])]))
path_case("data_resize_sizes_2p40", "data", "ModelLoadError", ["resize"],
          lambda: one_node("Resize", {"mode": "nearest"}, x_shape=[1, 1, 4, 4], extra_inputs=["", "", "sz"],
                           inits=[ints("sz", [1, 1, 1 << 20, 1 << 20])]))
path_case("data_resize_sizes_negative", "data", "ModelLoadError", ["resize"],
          lambda: one_node("Resize", {"mode": "nearest"}, x_shape=[1, 1, 4, 4], extra_inputs=["", "", "sz"],
                           inits=[ints("sz", [1, 1, -4, 4])]))
path_case("data_expand_huge", "data", "ModelLoadError", ["expand"],
          lambda: one_node("Expand", x_shape=[1, 1], inits=[ints("s", [1 << 30, 1 << 30])], extra_inputs=["s"]))
path_case("data_expand_overflow", "data", "ModelLoadError", ["expand"],
          lambda: one_node("Expand", x_shape=[1, 1], inits=[ints("s", [1 << 40, 1 << 40])], extra_inputs=["s"]))
path_case("data_tile_huge", "data", "ModelLoadError", ["tile"],
          lambda: one_node("Tile", x_shape=[2, 2], inits=[ints("r", [1 << 31, 1 << 31])], extra_inputs=["r"]))
path_case("data_tile_negative", "data", "ModelLoadError", ["tile"],
          lambda: one_node("Tile", x_shape=[2, 2], inits=[ints("r", [-1, 2])], extra_inputs=["r"]))
path_case("data_constant_of_shape_huge", "data", "ModelLoadError", [],
          lambda: model([helper.make_node("ConstantOfShape", ["s"], ["c"], name="cos"),
                         helper.make_node("Add", ["x", "c"], ["y"], name="add")],
                        [vi("x", [1])], [vi("y", None)], [ints("s", [1 << 20, 1 << 20])]))
path_case("data_range_huge", "data", "ModelLoadError", [],
          lambda: model([helper.make_node("Range", ["a", "b", "d"], ["r"], name="range"),
                         helper.make_node("Add", ["x", "r"], ["y"], name="add")],
                        [vi("x", [1])], [vi("y", None)], [ints("a", 0), ints("b", INT64_MAX), ints("d", 1)]))
path_case("data_range_delta_0", "data", "ModelLoadError", [],
          lambda: model([helper.make_node("Range", ["a", "b", "d"], ["r"], name="range"),
                         helper.make_node("Add", ["x", "r"], ["y"], name="add")],
                        [vi("x", [1], TensorProto.INT64)], [vi("y", None)], [ints("a", 0), ints("b", 10), ints("d", 0)]))
path_case("data_gather_const_index_out_of_range", "data", "ModelLoadError", ["gather"],
          lambda: one_node("Gather", {"axis": 0}, x_shape=[4, 3], inits=[ints("i", [0, 99])], extra_inputs=["i"]))
path_case("data_gather_const_index_int64_min", "data", "ModelLoadError", ["gather"],
          lambda: one_node("Gather", {"axis": 0}, x_shape=[4, 3], inits=[ints("i", [INT64_MIN])], extra_inputs=["i"]))


def _gather_runtime_index():
    m = model([helper.make_node("Gather", ["x", "i"], ["y"], name="gather", axis=0)],
              [vi("x", [4, 3]), vi("i", [2], TensorProto.INT64)], [vi("y", None)])
    return m


path_case("data_gather_run_index_out_of_range", "data", ("InputError", "ModelLoadError"), ["gather"], _gather_runtime_index,
          run=lambda s: s.run(None, {"x": np.zeros([4, 3], np.float32), "i": np.array([1, 1 << 40], np.int64)}))
path_case("data_squeeze_non_one", "data", "ModelLoadError", ["squeeze"],
          lambda: one_node("Squeeze", x_shape=[2, 3], inits=[ints("a", [0])], extra_inputs=["a"]))
path_case("data_unsqueeze_duplicate", "data", "ModelLoadError", ["unsqueeze"],
          lambda: one_node("Unsqueeze", x_shape=[2, 3], inits=[ints("a", [0, 0])], extra_inputs=["a"]))
path_case("data_topk_k_too_big", "data", "ModelLoadError", ["topk"],
          lambda: one_node("TopK", x_shape=[2, 3], inits=[ints("k", [10])], extra_inputs=["k"], n_out=2))
path_case("data_topk_k_negative", "data", "ModelLoadError", ["topk"],
          lambda: one_node("TopK", x_shape=[2, 3], inits=[ints("k", [-1])], extra_inputs=["k"], n_out=2))

# ------------------------------------------------------------- attributes ---


def conv_attr(cid, expected, needles, **attrs):
    path_case(cid, "attributes", expected, needles, lambda: conv_model(**attrs))


conv_attr("attr_conv_kernel_0", "ModelLoadError", ["conv", "kernel"], kernel_shape=[0, 0])
conv_attr("attr_conv_kernel_negative", "ModelLoadError", ["conv", "kernel"], kernel_shape=[-3, -3])
conv_attr("attr_conv_kernel_larger_than_padded", "ModelLoadError", ["conv"], x_shape=[1, 3, 2, 2], pads=[0, 0, 0, 0])
conv_attr("attr_conv_stride_0", "ModelLoadError", ["conv", "stride"], strides=[0, 1])
conv_attr("attr_conv_stride_negative", "ModelLoadError", ["conv", "stride"], strides=[-1, 1])
conv_attr("attr_conv_stride_int64_max", "ModelLoadError", ["conv", "strides", "2^31"], strides=[INT64_MAX, INT64_MAX])
conv_attr("attr_conv_stride_2p31", "ModelLoadError", ["conv", "strides", "2^31"], strides=[1 << 31, 1])
conv_attr("attr_conv_stride_2p31_minus_1", None, [], strides=[(1 << 31) - 1, 1])
# A 3-D input to a 2-D Conv (fuzz, ASan): the NHWC Winograd cut-over read the
# shape hint of an input the compiler had dropped.
conv_attr("attr_conv_input_rank_3", "ModelLoadError", ["conv", "input"], x_shape=[1, 3, 8])
conv_attr("attr_conv_dilation_0", "ModelLoadError", ["conv", "dilation"], dilations=[0, 1])
conv_attr("attr_conv_dilation_negative", "ModelLoadError", ["conv", "dilation"], dilations=[1, -2])
conv_attr("attr_conv_dilation_2p62", "ModelLoadError", ["conv"], dilations=[1 << 62, 1])
conv_attr("attr_conv_pads_negative", "ModelLoadError", ["conv", "pad"], pads=[-5, 0, 0, 0])
conv_attr("attr_conv_pads_2p62", "ModelLoadError", ["conv"], pads=[1 << 62, 0, 0, 0])
conv_attr("attr_conv_pads_int64_max", "ModelLoadError", ["conv"], pads=[INT64_MAX, INT64_MAX, 0, 0])
conv_attr("attr_conv_pads_odd_count", "ModelLoadError", ["conv", "pads"], pads=[1, 1, 1])
conv_attr("attr_conv_strides_wrong_count", "ModelLoadError", ["conv", "strides"], strides=[1, 1, 1])
conv_attr("attr_conv_group_0", "ModelLoadError", ["conv", "group"], group=0)
conv_attr("attr_conv_group_negative", "ModelLoadError", ["conv", "group"], group=-1)
conv_attr("attr_conv_group_not_dividing", "ModelLoadError", ["conv", "group"], group=2)
conv_attr("attr_conv_group_int64_max", "ModelLoadError", ["conv", "group"], group=INT64_MAX)
conv_attr("attr_conv_auto_pad_bogus", ("ModelLoadError", "UnsupportedOpError"), ["conv", "BOGUS"], auto_pad="BOGUS", pads=None)
conv_attr("attr_conv_kernel_attr_mismatch", "ModelLoadError", ["conv", "kernel"], kernel_shape=[5, 5])
conv_attr("attr_conv_bias_size", "ModelLoadError", ["conv", "bias"], b=np.zeros(7, np.float32))
conv_attr("attr_conv_weight_rank_3", "ModelLoadError", ["conv"], w=np.ones([4, 3, 3], np.float32))
for op in ("MaxPool", "AveragePool"):
    lo = op.lower()
    for label, attrs, needle in (("kernel_0", {"kernel_shape": [0, 0]}, "kernel"),
                                 ("kernel_negative", {"kernel_shape": [-2, 2]}, "kernel"),
                                 ("kernel_larger_than_input", {"kernel_shape": [20, 20]}, lo),
                                 ("stride_0", {"kernel_shape": [2, 2], "strides": [0, 0]}, "stride"),
                                 # fuzz, UBSan: (n - 1 - off) / s + 1 overflowed
                                 ("stride_int64_max", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1],
                                                       "strides": [2, INT64_MAX]}, "strides"),
                                 ("pads_2p62", {"kernel_shape": [2, 2], "pads": [1 << 62, 0, 0, 0]}, lo),
                                 ("pads_negative", {"kernel_shape": [2, 2], "pads": [-1, 0, 0, 0]}, "pad"),
                                 ("no_kernel_shape", {}, "kernel_shape")):
        path_case(f"attr_{lo}_{label}", "attributes", "ModelLoadError", [lo, needle],
                  lambda op=op, attrs=attrs: one_node(op, attrs, x_shape=[1, 3, 8, 8]))
path_case("attr_maxpool_dilation_0", "attributes", "ModelLoadError", ["maxpool", "dilation"],
          lambda: one_node("MaxPool", {"kernel_shape": [2, 2], "dilations": [0, 1]}, x_shape=[1, 3, 8, 8]))
for label, size in (("0", 0), ("negative", -3)):
    path_case(f"attr_lrn_size_{label}", "attributes", "ModelLoadError", ["lrn", "size"],
              lambda size=size: one_node("LRN", {"size": size}, x_shape=[1, 3, 8, 8]))
# A window wider than the channels sums all of them (ONNX): legal. INT64_MAX
# once overflowed the work estimate, and after a Conv (NHWC) looped 2^63 times.
path_case("attr_lrn_size_int64_max", "attributes", None, [],
          lambda: one_node("LRN", {"size": INT64_MAX}, x_shape=[1, 3, 8, 8]))
path_case("attr_lrn_size_int64_max_nhwc", "attributes", None, [],
          lambda: model([helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
                         helper.make_node("LRN", ["c"], ["y"], name="lrn", size=INT64_MAX)],
                        [vi("x", [1, 3, 8, 8])], [vi("y", None)], [numpy_helper.from_array(W, "w")]))
for op, attrs, needle in (("Softmax", {"axis": 5}, "axis"), ("Softmax", {"axis": -9}, "axis"),
                          ("Flatten", {"axis": 7}, "axis"), ("ArgMax", {"axis": 4}, "axis"),
                          ("LogSoftmax", {"axis": INT64_MIN}, "axis"),
                          ("DepthToSpace", {"blocksize": 0}, "blocksize"), ("SpaceToDepth", {"blocksize": 3}, "blocksize"),
                          ("SpaceToDepth", {"blocksize": -2}, "blocksize"),
                          ("Transpose", {"perm": [0, 1]}, "perm"), ("Transpose", {"perm": [0, 0, 1, 2]}, "perm"),
                          ("Transpose", {"perm": [0, 1, 2, 9]}, "perm"), ("Transpose", {"perm": [0, 1, 2, INT64_MIN]}, "perm")):
    cid = f"attr_{op.lower()}_{'_'.join(f'{k}_{v}' for k, v in attrs.items())}".replace("-", "m").replace(", ", "_").replace("[", "").replace("]", "")
    path_case(cid, "attributes", "ModelLoadError", [op.lower(), needle],
              lambda op=op, attrs=attrs: one_node(op, attrs, x_shape=[1, 4, 4, 4]))
path_case("attr_concat_axis_out_of_range", "attributes", "ModelLoadError", ["concat", "axis"],
          lambda: model([helper.make_node("Concat", ["x", "x"], ["y"], name="concat", axis=4)], [vi("x", [1, 2, 3, 4])], [vi("y", None)]))
path_case("attr_split_not_summing", "attributes", "ModelLoadError", ["split"],
          lambda: one_node("Split", {"axis": 1}, x_shape=[1, 6], inits=[ints("s", [2, 2])], extra_inputs=["s"], n_out=2))
path_case("attr_split_negative", "attributes", "ModelLoadError", ["split"],
          lambda: one_node("Split", {"axis": 1}, x_shape=[1, 6], inits=[ints("s", [8, -2])], extra_inputs=["s"], n_out=2))
path_case("attr_split_count_mismatch", "attributes", "ModelLoadError", ["split"],
          lambda: one_node("Split", {"axis": 1}, x_shape=[1, 6], inits=[ints("s", [2, 2, 2])], extra_inputs=["s"], n_out=2))
path_case("attr_gemm_k_mismatch", "attributes", "ModelLoadError", ["gemm"],
          lambda: one_node("Gemm", {"transB": 1}, x_shape=[2, 5], inits=[floats("w", np.ones([4, 6]))], extra_inputs=["w"]))
path_case("attr_gemm_weight_rank_3", "attributes", "ModelLoadError", ["gemm"],
          lambda: one_node("Gemm", {}, x_shape=[2, 5], inits=[floats("w", np.ones([5, 4, 1]))], extra_inputs=["w"]))
path_case("attr_matmul_mismatch", "attributes", "ModelLoadError", ["matmul"],
          lambda: one_node("MatMul", {}, x_shape=[2, 5], inits=[floats("w", np.ones([6, 4]))], extra_inputs=["w"]))
path_case("attr_batchnorm_size_mismatch", "attributes", "ModelLoadError", ["batchnormalization"],
          lambda: one_node("BatchNormalization", {}, x_shape=[1, 3, 4, 4], extra_inputs=["s", "b", "m", "v"],
                           inits=[floats("s", np.ones(5)), floats("b", np.ones(3)), floats("m", np.ones(3)), floats("v", np.ones(3))]))
path_case("attr_convtranspose_output_padding_ge_stride", "attributes", "ModelLoadError", ["convtranspose"],
          lambda: one_node("ConvTranspose", {"strides": [1, 1], "output_padding": [3, 3]}, x_shape=[1, 4, 4, 4],
                           inits=[floats("w", np.ones([4, 2, 3, 3]))], extra_inputs=["w"]))
path_case("attr_convtranspose_output_shape_huge", "attributes", "ModelLoadError", ["convtranspose"],
          lambda: one_node("ConvTranspose", {"output_shape": [1 << 30, 1 << 30]}, x_shape=[1, 4, 4, 4],
                           inits=[floats("w", np.ones([4, 2, 3, 3]))], extra_inputs=["w"]))
path_case("attr_unknown_attribute_ignored", "attributes", None, [],
          lambda: one_node("Relu", {"frobnicate": 3}, x_shape=[1, 4]))
path_case("attr_wrong_attribute_type", "attributes", ("ModelLoadError", "UnsupportedOpError"), ["conv"],
          lambda: conv_model(strides="fast"))
path_case("attr_leakyrelu_alpha_nan", "attributes", None, [], lambda: one_node("LeakyRelu", {"alpha": float("nan")}, x_shape=[1, 4]))
path_case("attr_clip_min_gt_max", "attributes", None, [],
          lambda: one_node("Clip", x_shape=[1, 4], inits=[floats("lo", 1.0), floats("hi", -1.0)], extra_inputs=["lo", "hi"]))
path_case("attr_reduce_axes_out_of_range", "attributes", "ModelLoadError", ["reducemean", "ax"],
          lambda: one_node("ReduceMean", {"axes": [5]}, x_shape=[1, 4], name="reducemean") if False else
          model([helper.make_node("ReduceMean", ["x"], ["y"], name="reducemean", axes=[5])], [vi("x", [1, 4])], [vi("y", None)], opset=13))

# ---------------------------------------------------------- external data ---


def _external_model(location, offset=None, length=None, extra=None):
    m = conv_model()
    t = m.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    entries = {"location": location}
    if offset is not None:
        entries["offset"] = str(offset)
    if length is not None:
        entries["length"] = str(length)
    entries.update(extra or {})
    for k, v in entries.items():
        e = t.external_data.add()
        e.key, e.value = k, v
    return m


def ext_case(cid, location, expected, needles, offset=16, length=None, extra=None, setup=None):
    def build(d):
        with open(os.path.join(d, "w.bin"), "wb") as f:
            f.write(b"\0" * 16 + W.tobytes())
        outside = os.path.join(os.path.dirname(d), "outside_" + cid)
        os.makedirs(outside, exist_ok=True)
        with open(os.path.join(outside, "x.bin"), "wb") as f:
            f.write(b"\0" * 16 + W.tobytes())
        if setup:
            setup(d, outside)
        loc = location.replace("{outside}", outside)
        return save(d, _external_model(loc, offset, length, extra)), "default"
    add(cid, "external", expected, needles, build)


NB = W.nbytes
ext_case("ext_ok", "w.bin", None, [], length=NB)
ext_case("ext_ok_checksum_key", "w.bin", None, [], extra={"checksum": "abc"})
ext_case("ext_parent", "../outside_ext_parent/x.bin", "ModelLoadError", ["'w'", "../outside_ext_parent/x.bin"])
ext_case("ext_dotdot_inside", "sub/../w.bin", "ModelLoadError", ["'w'", "sub/../w.bin"], setup=lambda d, o: os.mkdir(os.path.join(d, "sub")))
ext_case("ext_absolute", "{outside}/x.bin", "ModelLoadError", ["'w'", "x.bin"])
ext_case("ext_etc_passwd", "/etc/passwd", "ModelLoadError", ["'w'", "/etc/passwd"], offset=0)
ext_case("ext_tilde", "~", "ModelLoadError", ["'w'", "'~'"])
ext_case("ext_tilde_path", "~/w.bin", "ModelLoadError", ["'w'", "~/w.bin"])
ext_case("ext_empty_location", "", "ModelLoadError", ["'w'", "location ''"])
ext_case("ext_dot", ".", "ModelLoadError", ["'w'", "'.'"])
ext_case("ext_backslash_parent", "..\\outside\\x.bin", "ModelLoadError", ["'w'"])
ext_case("ext_nul_in_location", "w.bin\0.txt", "ModelLoadError", ["'w'"])
ext_case("ext_directory", "sub", "ModelLoadError", ["'w'", "not a regular file"], setup=lambda d, o: os.mkdir(os.path.join(d, "sub")))
ext_case("ext_symlink_out", "esc.bin", "ModelLoadError", ["'w'", "outside"],
         setup=lambda d, o: os.symlink(os.path.join(o, "x.bin"), os.path.join(d, "esc.bin")))
ext_case("ext_symlink_dir_out", "sub/x.bin", "ModelLoadError", ["'w'", "outside"], setup=lambda d, o: os.symlink(o, os.path.join(d, "sub")))
ext_case("ext_symlink_inside_ok", "link.bin", None, [], setup=lambda d, o: os.symlink("w.bin", os.path.join(d, "link.bin")))
ext_case("ext_fifo", "pipe", "ModelLoadError", ["'w'", "not a regular file"], setup=lambda d, o: os.mkfifo(os.path.join(d, "pipe")))
ext_case("ext_dev_zero", "/dev/zero", "ModelLoadError", ["'w'", "/dev/zero"], offset=0)
ext_case("ext_symlink_dev_zero", "zero", "ModelLoadError", ["'w'", "outside"], offset=0,
         setup=lambda d, o: os.symlink("/dev/zero", os.path.join(d, "zero")))
ext_case("ext_missing_file", "nothere.bin", "ModelLoadError", ["'w'", "nothere.bin"])
ext_case("ext_offset_past_end", "w.bin", "ModelLoadError", ["'w'", "offset 100000"], offset=100_000)
ext_case("ext_length_past_end", "w.bin", "ModelLoadError", ["'w'", "outside 'w.bin'"], length=NB + 4)
ext_case("ext_length_wrong", "w.bin", "ModelLoadError", ["'w'", "needs"], length=NB - 4)
ext_case("ext_offset_overflow", "w.bin", "ModelLoadError", ["'w'"], offset=(1 << 64) - 16, length=NB)
ext_case("ext_offset_plus_length_overflow", "w.bin", "ModelLoadError", ["'w'"], offset=16, length=(1 << 63) - 1)
ext_case("ext_offset_negative", "w.bin", "ModelLoadError", ["'w'", "negative"], offset=-16)
ext_case("ext_length_negative", "w.bin", "ModelLoadError", ["'w'", "negative"], length=-1)
ext_case("ext_offset_not_int", "w.bin", "ModelLoadError", ["'w'", "integer"], offset="0x10")
ext_case("ext_offset_huge_digits", "w.bin", "ModelLoadError", ["'w'"], offset="9" * 5000)
ext_case("ext_unknown_key", "w.bin", "ModelLoadError", ["'w'", "basepath"], extra={"basepath": "/etc"})


def _hf_layout(d):
    """snapshots/<rev>/model.onnx and its data file are symlinks into blobs/."""
    blobs = os.path.join(d, "blobs")
    snap = os.path.join(d, "snapshots", "rev1")
    os.makedirs(blobs)
    os.makedirs(snap)
    with open(os.path.join(blobs, "aaa"), "wb") as f:
        f.write(W.tobytes())
    save(blobs, _external_model("model.onnx_data", 0, NB), "bbb")
    os.symlink("../../blobs/bbb", os.path.join(snap, "model.onnx"))
    os.symlink("../../blobs/aaa", os.path.join(snap, "model.onnx_data"))
    return os.path.join(snap, "model.onnx"), "default"


add("ext_hugging_face_layout", "external", None, [], _hf_layout)


def _ext_bytes(d):
    with open(os.path.join(d, "w.bin"), "wb") as f:
        f.write(W.tobytes())
    return _external_model("w.bin").SerializeToString(), "default"


add("ext_from_bytes", "external", "ModelLoadError", ["'w'", "path"], _ext_bytes)

# ----------------------------------------------------------- run() inputs ---


def run_case(cid, expected, needles, feeds, x_shape=("N", "C", "H", "W"), load_kwargs=None):
    def build(d):
        def run(sess):
            f = feeds() if callable(feeds) else feeds
            return sess.run(None, f)
        return conv_model(x_shape=x_shape), run
    add(cid, "run", expected, needles, build, load_kwargs)


X = np.random.default_rng(3).standard_normal([1, 3, 8, 8]).astype(np.float32)
run_case("run_float64", None, [], lambda: {"x": X.astype(np.float64)})
run_case("run_float16", None, [], lambda: {"x": X.astype(np.float16)})
run_case("run_int8", "InputError", ["'x'", "int8"], lambda: {"x": X.astype(np.int8)})
run_case("run_int64", "InputError", ["'x'", "int64"], lambda: {"x": X.astype(np.int64)})
run_case("run_bool", "InputError", ["'x'", "bool"], lambda: {"x": X > 0})
run_case("run_object", "InputError", ["'x'", "object"], lambda: {"x": X.astype(object)})
run_case("run_strings", "InputError", ["'x'"], lambda: {"x": np.full([1, 3, 8, 8], "a")})
run_case("run_complex", "InputError", ["'x'", "complex"], lambda: {"x": X.astype(np.complex64)})
run_case("run_non_contiguous", None, [], lambda: {"x": np.zeros([1, 3, 16, 8], np.float32)[:, :, ::2]})
run_case("run_fortran_order", None, [], lambda: {"x": np.asfortranarray(X)})
run_case("run_big_endian", None, [], lambda: {"x": X.astype(">f4")})
run_case("run_read_only", None, [], lambda: {"x": _readonly(X.copy())})
run_case("run_batch_0", None, [], lambda: {"x": np.zeros([0, 3, 8, 8], np.float32)})
run_case("run_nan_inf", None, [], lambda: {"x": np.where(X > 0, np.nan, np.inf).astype(np.float32)})
run_case("run_missing_name", "InputError", ["missing input 'x'"], lambda: {})
run_case("run_extra_name", "InputError", ["'extra'"], lambda: {"x": X, "extra": X})
run_case("run_misspelled_name", "InputError", ["'X'"], lambda: {"X": X})
run_case("run_none", "InputError", ["'x'", "None"], lambda: {"x": None})
run_case("run_feeds_a_list", "InputError", ["dict"], lambda: [X])
run_case("run_feeds_none", "InputError", ["dict"], lambda: None)
run_case("run_0d_array", "InputError", ["'x'", "rank"], lambda: {"x": np.float32(1.0)})
run_case("run_python_list", None, [], lambda: {"x": X.tolist()})
run_case("run_ragged_list", "InputError", ["'x'"], lambda: {"x": [[1.0, 2.0], [3.0]]})
run_case("run_wrong_rank", "InputError", ["'x'", "rank"], lambda: {"x": X[0]})
run_case("run_wrong_channels", "ModelLoadError", ["conv"], lambda: {"x": np.zeros([1, 5, 8, 8], np.float32)})
run_case("run_wrong_static_dim", "InputError", ["'x'", "dimension"], lambda: {"x": np.zeros([2, 3, 8, 8], np.float32)},
         x_shape=(1, 3, 8, 8))
run_case("run_spatial_too_small", "ModelLoadError", ["conv"], lambda: {"x": np.zeros([1, 3, 1, 0], np.float32)})
run_case("run_int_key", "InputError", ["0"], lambda: {0: X})
run_case("run_memory_cap", "ModelLoadError", ["max_memory"], lambda: {"x": np.zeros([64, 3, 64, 64], np.float32)},
         load_kwargs={"max_memory": 1 << 20})


def _readonly(a):
    a.setflags(write=False)
    return a


def _run_output_name(d):
    return conv_model(), lambda s: s.run(["nope"], {"x": X})


add("run_unknown_output_name", "run", "InputError", ["'nope'"], _run_output_name)


def _infer_count(d):
    return conv_model(), lambda s: s.infer(X, X)


add("run_infer_wrong_count", "run", "InputError", ["expects 1 input"], _infer_count)

IDS = [c.cid for c in CASES]
assert len(IDS) == len(set(IDS)), [i for i in IDS if IDS.count(i) > 1]
BY_ID = {c.cid: c for c in CASES}

if os.environ.get("CNNRT_HOSTILE_FAKE"):  # the runner's own test (test_hostile.py): a crash, a hang, a plain case
    def _crash(d):
        import signal
        os.kill(os.getpid(), signal.SIGSEGV)

    def _hang(d):
        import time
        time.sleep(60)

    BY_ID["t_crash"] = Case("t_crash", "files", None, (), _crash)
    BY_ID["t_hang"] = Case("t_hang", "files", None, (), _hang)
    BY_ID["t_ok"] = Case("t_ok", "files", "ModelLoadError", ("empty",), lambda d: (b"", None))
