"""Bad input is normal input: every failure a user can cause is a cnnrt
exception (ModelLoadError, UnsupportedOpError, InputError, all CnnrtError)
whose message names the model, node, tensor or input at fault.

Everything that loads a damaged or hostile file, or hands a hostile graph to
the C++ runtime, runs in one child process (`file_results`): a crash there
(segfault, abort) fails every one of those tests with the case that was
running, instead of killing the test session.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import cnnrt

ERRORS = {"ModelLoadError": cnnrt.ModelLoadError, "UnsupportedOpError": cnnrt.UnsupportedOpError,
          "InputError": cnnrt.InputError}

# ----------------------------------------------------------------- models ---

RNG = np.random.default_rng(0)
W = (RNG.standard_normal([4, 3, 3, 3]) * 0.3).astype(np.float32)
B = (RNG.standard_normal(4) * 0.1).astype(np.float32)


def graph_model(nodes, inputs, outputs, inits=(), opset=17, name="bad", ir=8):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir
    return m


def fvi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def conv_model(x_shape=("N", 3, 8, 8), w=W, b=B, name="conv_net", **conv_attrs):
    conv_attrs.setdefault("pads", [1, 1, 1, 1])
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", **conv_attrs),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
    return graph_model(nodes, [fvi("x", list(x_shape))], [fvi("y", None)], inits, name=name)


def x_of(*shape):
    return np.random.default_rng(1).standard_normal(shape).astype(np.float32)


# ------------------------------------------------- file cases (subprocess) ---

_RUNNER = r"""
import json, sys, traceback
import numpy as np
import cnnrt

def attempt(src, feed_shape, feed_dtype="float32"):
    try:
        sess = cnnrt.load(src)
        if feed_shape is not None:
            sess.run(None, {sess.inputs[0].name: np.zeros(feed_shape, feed_dtype)})
        return {"cls": None}
    except cnnrt.CnnrtError as e:
        return {"cls": type(e).__name__, "msg": str(e), "cnnrt": True,
                "nodes": [list(n) for n in getattr(e, "nodes", [])]}
    except BaseException as e:
        return {"cls": type(e).__name__, "msg": traceback.format_exc(), "cnnrt": False}

cases = json.load(open(sys.argv[1]))
out = {}
for c in cases:
    sys.stderr.write("running case " + c["id"] + "\n")
    sys.stderr.flush()
    if c.get("sweep"):
        data = open(c["path"], "rb").read()
        seen = {}
        for cut in range(0, len(data), c["sweep"]):
            r = attempt(data[:cut], None)
            key = r["cls"] if r.get("cnnrt") or r["cls"] is None else "NOT-CNNRT " + r["cls"] + ": " + r["msg"]
            seen.setdefault(str(key), cut)
        out[c["id"]] = {"sweep": seen}
        continue
    src = c["path"]
    if c.get("as_bytes"):
        src = open(src, "rb").read()
    out[c["id"]] = attempt(src, c.get("feed_shape"), c.get("feed_dtype", "float32"))
    out[c["id"]]["label"] = None if c.get("as_bytes") else c["path"]
json.dump(out, open(sys.argv[2], "w"))
"""

# id -> (expected class or None for "loads and runs", substrings the message must contain)
FILE_CASES = {}


def _case(cid, expected, *needles):
    FILE_CASES[cid] = (expected, needles)


def _external(model, tensor, location, offset=None, length=None, extra=None):
    """Point `tensor`'s data at an external file (the file itself is written by the caller)."""
    for t in model.graph.initializer:
        if t.name == tensor:
            t.ClearField("raw_data")
            del t.float_data[:]
            t.data_location = TensorProto.EXTERNAL
            del t.external_data[:]
            entries = {"location": location}
            if offset is not None:
                entries["offset"] = str(offset)
            if length is not None:
                entries["length"] = str(length)
            entries.update(extra or {})
            for k, v in entries.items():
                e = t.external_data.add()
                e.key, e.value = k, v
            return model
    raise KeyError(tensor)


def _build_file_cases(root):
    """Writes every file case under root; returns the runner's case list."""
    specs = []

    def save(cid, model, expected, *needles, feed_shape=None, feed_dtype="float32", as_bytes=False, sub=None):
        d = os.path.join(root, sub or cid)
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, "model.onnx")
        with open(p, "wb") as f:
            f.write(model if isinstance(model, bytes) else model.SerializeToString())
        specs.append({"id": cid, "path": p, "feed_shape": feed_shape, "feed_dtype": feed_dtype, "as_bytes": as_bytes})
        _case(cid, expected, *needles)
        return d

    good = conv_model().SerializeToString()
    n = len(good)
    # A file cut at several offsets, inside the header, the graph, the weights, the opset.
    for cut in sorted({1, 2, 5, 20, n // 4, n // 2, 3 * n // 4, n - 20, n - 3, n - 1}):
        save(f"truncated_{cut}", good[:cut], "ModelLoadError", "model.onnx")
    # Every cut point, in one case: none may load, every one a ModelLoadError.
    d = save("truncated_sweep", good, None)
    specs[-1]["sweep"] = 1
    for seed, size in ((0, 1), (1, 7), (2, 64), (3, 1000), (4, 100_000)):
        save(f"random_bytes_{size}", np.random.default_rng(seed).bytes(size), "ModelLoadError", "model.onnx")
    save("empty_file", b"", "ModelLoadError", "model.onnx", "empty")
    save("text_file", b"this is not an onnx model\n", "ModelLoadError", "model.onnx")
    specs.append({"id": "missing_path", "path": os.path.join(root, "does", "not", "exist.onnx")})
    _case("missing_path", "ModelLoadError", "exist.onnx")
    specs.append({"id": "directory_path", "path": root})
    _case("directory_path", "ModelLoadError", "not a regular file")

    # Graph structure.
    cyc = graph_model(
        [helper.make_node("Add", ["x", "r"], ["a"], name="add_in_cycle"),
         helper.make_node("Relu", ["a"], ["r"], name="relu_in_cycle"),
         helper.make_node("Sigmoid", ["a"], ["y"], name="out")],
        [fvi("x", [1, 4])], [fvi("y", [1, 4])])
    save("cycle", cyc, "ModelLoadError", "cycle", "add_in_cycle", "relu_in_cycle")
    ghost = graph_model([helper.make_node("Add", ["x", "ghost"], ["y"], name="adder")], [fvi("x", [1, 4])],
                        [fvi("y", [1, 4])])
    save("undefined_input", ghost, "ModelLoadError", "ghost", "adder")
    m = conv_model()
    del m.graph.initializer[0]  # the Conv weight 'w'
    save("missing_initializer", m, "ModelLoadError", "'w'", "conv")
    m = conv_model()
    m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:-8]
    save("initializer_short_data", m, "ModelLoadError", "'w'")
    m = conv_model()
    t = m.graph.initializer[0]
    del t.dims[:]
    t.dims.extend([1 << 40, 1 << 20])
    save("initializer_huge_dims", m, "ModelLoadError", "'w'")
    m = conv_model()
    del m.graph.initializer[0].dims[:]
    m.graph.initializer[0].dims.extend([-4, 3, 3, 3])
    save("initializer_negative_dims", m, "ModelLoadError", "'w'")
    twice = graph_model([helper.make_node("Relu", ["x"], ["y"], name="first"),
                         helper.make_node("Sigmoid", ["x"], ["y"], name="second")],
                        [fvi("x", [1, 4])], [fvi("y", [1, 4])])
    save("produced_twice", twice, "ModelLoadError", "'y'", "produced twice")
    never = graph_model([helper.make_node("Relu", ["x"], ["r"], name="relu")], [fvi("x", [1, 4])],
                        [fvi("nowhere", [1, 4])])
    save("output_never_produced", never, "ModelLoadError", "nowhere")
    m = conv_model()
    del m.graph.output[:]
    save("no_outputs", m, "ModelLoadError", "no outputs")
    m = conv_model()
    m.graph.input[0].type.Clear()
    save("input_without_type", m, "ModelLoadError", "'x'")
    m = conv_model()
    del m.opset_import[:]
    save("no_opset_import", m, "ModelLoadError", "opset")
    m = conv_model()
    m.opset_import[0].version = 6
    save("opset_too_old", m, "UnsupportedOpError", "opset 6")
    m = conv_model()
    m.opset_import[0].version = 999
    save("opset_too_new", m, "UnsupportedOpError", "opset 999")

    # Inconsistent graphs the C++ planner must reject (node named), static and at run.
    save("conv_channel_mismatch", conv_model(x_shape=(1, 5, 8, 8)), "ModelLoadError", "conv", feed_shape=[1, 5, 8, 8])
    save("conv_channel_mismatch_dynamic", conv_model(x_shape=("N", "C", "H", "W")), "ModelLoadError", "conv",
         feed_shape=[1, 5, 8, 8])
    save("conv_zero_stride", conv_model(strides=[0, 0]), "ModelLoadError", "conv", "stride", feed_shape=[1, 3, 8, 8])
    save("conv_zero_dilation", conv_model(dilations=[0, 1]), "ModelLoadError", "conv", "dilation",
         feed_shape=[1, 3, 8, 8])
    save("conv_negative_pads", conv_model(pads=[-5, 0, 0, 0]), "ModelLoadError", "conv", "pad",
         feed_shape=[1, 3, 8, 8])
    save("conv_bad_group", conv_model(group=2), "ModelLoadError", "conv", "group", feed_shape=[1, 3, 8, 8])
    save("conv_kernel_attr_mismatch", conv_model(kernel_shape=[5, 5]), "ModelLoadError", "conv", "kernel",
         feed_shape=[1, 3, 8, 8])
    save("conv_bias_size", conv_model(b=np.zeros(7, np.float32)), "ModelLoadError", "conv", "bias",
         feed_shape=[1, 3, 8, 8])
    save("conv_kernel_larger_than_input", conv_model(x_shape=(1, 3, 2, 2), pads=[0, 0, 0, 0]),
         "ModelLoadError", "conv", feed_shape=[1, 3, 2, 2])
    gemm = graph_model([helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)], [fvi("x", [2, 5])],
                       [fvi("y", None)], [numpy_helper.from_array(np.ones([4, 6], np.float32), "w")])
    save("gemm_inner_mismatch", gemm, "ModelLoadError", "fc", feed_shape=[2, 5])
    add = graph_model([helper.make_node("Add", ["x", "c"], ["y"], name="adder")], [fvi("x", [2, 3])],
                      [fvi("y", None)], [numpy_helper.from_array(np.ones([4], np.float32), "c")])
    save("add_broadcast_mismatch", add, "ModelLoadError", "adder", feed_shape=[2, 3])
    intin = graph_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
                        [fvi("x", [1, 3, 8, 8], TensorProto.INT64)], [fvi("y", None)],
                        [numpy_helper.from_array(W, "w")])
    save("conv_int64_input", intin, "ModelLoadError", "conv", "int64", feed_shape=[1, 3, 8, 8], feed_dtype="int64")
    intw = graph_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [fvi("x", [1, 3, 8, 8])],
                       [fvi("y", None)], [numpy_helper.from_array(W.astype(np.int64), "w")])
    save("conv_int64_weight", intw, "ModelLoadError", "conv", "float32")

    # External data.
    ext_bytes = W.tobytes()

    def ext_case(cid, location, expected, *needles, offset=None, length=None, extra=None, as_bytes=False,
                 feed_shape=(1, 3, 8, 8)):
        d = os.path.join(root, cid)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "w.bin"), "wb") as f:
            f.write(b"\0" * 16 + ext_bytes)
        m = _external(conv_model(), "w", location, offset, length, extra)
        return save(cid, m, expected, *needles, feed_shape=list(feed_shape), as_bytes=as_bytes)

    ext_case("external_ok", "w.bin", None, offset=16, length=len(ext_bytes))
    ext_case("external_ok_no_length", "w.bin", None, offset=16)
    d = ext_case("external_symlink_inside_ok", "link.bin", None, offset=16)
    os.symlink("w.bin", os.path.join(d, "link.bin"))
    outside = os.path.join(root, "outside")
    os.makedirs(outside, exist_ok=True)
    with open(os.path.join(outside, "x.bin"), "wb") as f:
        f.write(b"\0" * 16 + ext_bytes)
    ext_case("external_parent_dir", "../outside/x.bin", "ModelLoadError", "'w'", "../outside/x.bin", offset=16)
    ext_case("external_dotdot_only", "..", "ModelLoadError", "'w'", offset=16)
    ext_case("external_absolute", os.path.join(outside, "x.bin"), "ModelLoadError", "'w'", "x.bin", offset=16)
    d = ext_case("external_symlink_escape", "esc.bin", "ModelLoadError", "'w'", "esc.bin", "outside", offset=16)
    os.symlink(os.path.join(outside, "x.bin"), os.path.join(d, "esc.bin"))
    d = ext_case("external_dir_symlink_escape", "sub/x.bin", "ModelLoadError", "'w'", "sub/x.bin", offset=16)
    os.symlink(outside, os.path.join(d, "sub"))
    ext_case("external_offset_beyond", "w.bin", "ModelLoadError", "'w'", "w.bin", "offset 10000", offset=10_000)
    ext_case("external_length_beyond", "w.bin", "ModelLoadError", "'w'", "w.bin", offset=16,
             length=len(ext_bytes) + 4)
    ext_case("external_length_wrong", "w.bin", "ModelLoadError", "'w'", offset=16, length=len(ext_bytes) - 4)
    ext_case("external_negative_offset", "w.bin", "ModelLoadError", "'w'", offset=-16)
    ext_case("external_huge_offset", "w.bin", "ModelLoadError", "'w'", offset=1 << 62, length=len(ext_bytes))
    ext_case("external_offset_not_int", "w.bin", "ModelLoadError", "'w'", "integer", offset="sixteen")
    ext_case("external_unknown_key", "w.bin", "ModelLoadError", "'w'", "basepath", offset=16,
             extra={"basepath": "/etc"})
    ext_case("external_missing_file", "nothere.bin", "ModelLoadError", "'w'", "nothere.bin", offset=16)
    ext_case("external_from_bytes", "w.bin", "ModelLoadError", "'w'", "path", offset=16, as_bytes=True)
    ext_case("external_location_is_dir", ".", "ModelLoadError", "'w'", offset=16)
    return specs


@pytest.fixture(scope="module")
def file_results(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_files")
    specs = _build_file_cases(str(root))
    cases = os.path.join(root, "cases.json")
    results = os.path.join(root, "results.json")
    with open(cases, "w") as f:
        json.dump(specs, f)
    r = subprocess.run([sys.executable, "-c", _RUNNER, cases, results], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        last = [ln for ln in r.stderr.splitlines() if ln.startswith("running case")]
        pytest.fail(f"the loader process died (exit {r.returncode}) during {last[-1] if last else '?'}:\n"
                    f"{r.stderr[-3000:]}")
    with open(results) as f:
        return json.load(f)


def _ids():
    # The case table is filled while building; build once into a scratch
    # folder only to know the ids for parametrisation.
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        FILE_CASES.clear()
        _build_file_cases(d)
    return sorted(FILE_CASES)


FILE_CASE_IDS = _ids()


@pytest.mark.parametrize("cid", FILE_CASE_IDS)
def test_bad_file(cid, file_results):
    expected, needles = FILE_CASES[cid]
    res = file_results[cid]
    if "sweep" in res:
        kinds = res["sweep"]
        assert set(kinds) == {"ModelLoadError"}, f"cut points giving something else (first cut each): {kinds}"
        return
    if expected is None:
        assert res["cls"] is None, f"{cid}: expected to load and run, got {res['cls']}: {res.get('msg')}"
        return
    assert res["cls"] is not None, f"{cid}: loaded and ran without an error"
    assert res.get("cnnrt"), f"{cid}: not a cnnrt exception:\n{res['msg']}"
    assert res["cls"] == expected, f"{cid}: expected {expected}, got {res['cls']}: {res['msg']}"
    assert issubclass(ERRORS[res["cls"]], cnnrt.CnnrtError)
    for s in needles:
        assert s in res["msg"], f"{cid}: message does not name {s!r}: {res['msg']}"
    if res["label"]:  # loaded from a path: the message names the model file
        assert res["label"] in res["msg"], f"{cid}: message does not name the model {res['label']}: {res['msg']}"


def test_external_data_matches_inline(tmp_path):
    """Positive control: external weights give the same output as inline ones."""
    m = conv_model()
    (tmp_path / "w.bin").write_bytes(W.tobytes())
    ext = _external(conv_model(), "w", "w.bin")
    p = tmp_path / "ext.onnx"
    p.write_bytes(ext.SerializeToString())
    x = x_of(2, 3, 8, 8)
    assert np.array_equal(cnnrt.load(str(p)).infer(x), cnnrt.load(m).infer(x))


def test_non_model_object():
    with pytest.raises(cnnrt.ModelLoadError, match="int"):
        cnnrt.load(42)
    with pytest.raises(cnnrt.ModelLoadError):
        cnnrt.load(None)


# ------------------------------------------------------- unsupported ops ---

def test_unsupported_ops_listed_all_at_once():
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="fine_relu"),
        helper.make_node("Einsum", ["r", "r"], ["e"], name="the_einsum", equation="ij,ij->ij"),
        helper.make_node("StringNormalizer", ["e"], ["s"], name="the_strnorm"),
        helper.make_node("MyOp", ["r"], ["c"], name="the_custom", domain="com.example"),
        helper.make_node("NotAnOnnxOp", ["c"], ["y"], name="the_unknown"),
    ]
    m = graph_model(nodes, [fvi("x", [2, 4])], [fvi("y", None), fvi("s", None)])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    with pytest.raises(cnnrt.UnsupportedOpError) as ei:
        cnnrt.load(m)
    e = ei.value
    assert isinstance(e, cnnrt.CnnrtError)
    msg = str(e)
    for name, op in (("the_einsum", "Einsum"), ("the_strnorm", "StringNormalizer"), ("the_custom", "MyOp"),
                     ("the_unknown", "NotAnOnnxOp")):
        assert name in msg and op in msg, f"{name} ({op}) missing from: {msg}"
    assert "fine_relu" not in msg
    assert sorted(n[0] for n in e.nodes) == ["the_custom", "the_einsum", "the_strnorm", "the_unknown"]
    assert "4 node(s)" in msg


def test_unsupported_op_from_file(tmp_path):
    m = graph_model([helper.make_node("Einsum", ["x", "x"], ["y"], name="ein", equation="ij,ij->ij")],
                    [fvi("x", [2, 2])], [fvi("y", None)])
    p = tmp_path / "einsum.onnx"
    onnx.save(m, str(p))
    with pytest.raises(cnnrt.UnsupportedOpError, match="ein") as ei:
        cnnrt.load(str(p))
    assert "einsum.onnx" in str(ei.value)


def test_unsupported_tensor_dtype():
    m = graph_model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [fvi("x", [2], TensorProto.STRING)],
                    [fvi("y", None)])
    with pytest.raises(cnnrt.UnsupportedOpError, match="'x'"):
        cnnrt.load(m)


# ---------------------------------------------------------------- feeds ---

@pytest.fixture(scope="module")
def sess():
    return cnnrt.load(conv_model(name="feeds_net"), threads=1)


def test_feed_wrong_name(sess):
    with pytest.raises(cnnrt.InputError) as ei:
        sess.run(None, {"X": x_of(1, 3, 8, 8)})
    assert "'X'" in str(ei.value) and "'x'" in str(ei.value) and "feeds_net" in str(ei.value)


def test_feed_missing(sess):
    with pytest.raises(cnnrt.InputError, match="missing input 'x'"):
        sess.run(None, {})


def test_feed_extra_unknown(sess):
    with pytest.raises(cnnrt.InputError, match="'extra'"):
        sess.run(None, {"x": x_of(1, 3, 8, 8), "extra": x_of(1)})


@pytest.mark.parametrize("shape", [(3, 8, 8), (1, 1, 3, 8, 8), (24,), ()])
def test_feed_wrong_rank(sess, shape):
    with pytest.raises(cnnrt.InputError) as ei:
        sess.run(None, {"x": np.zeros(shape, np.float32)})
    msg = str(ei.value)
    assert "'x'" in msg and "rank" in msg and str(len(shape)) in msg


@pytest.mark.parametrize("shape", [(1, 4, 8, 8), (2, 1, 8, 8)])
def test_feed_wrong_static_dim(sess, shape):
    with pytest.raises(cnnrt.InputError) as ei:
        sess.run(None, {"x": np.zeros(shape, np.float32)})
    msg = str(ei.value)
    assert "'x'" in msg and "dimension 1 must be 3" in msg and str(list(shape)) in msg


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_, np.complex64])
def test_feed_wrong_dtype(sess, dtype):
    with pytest.raises(cnnrt.InputError) as ei:
        sess.run(None, {"x": np.zeros([1, 3, 8, 8], dtype)})
    msg = str(ei.value)
    assert "'x'" in msg and "float32" in msg and np.dtype(dtype).name in msg


def test_feed_strings_and_objects(sess):
    with pytest.raises(cnnrt.InputError, match="'x'"):
        sess.run(None, {"x": np.array([["a"]])})
    with pytest.raises(cnnrt.InputError, match="'x'"):
        sess.run(None, {"x": np.array([object()])})


def test_feed_float64_accepted(sess):
    x = x_of(2, 3, 8, 8)
    got = sess.run(None, {"x": x.astype(np.float64)})[0]
    assert got.dtype == np.float32
    assert np.array_equal(got, sess.run(None, {"x": x})[0])


def test_feed_none(sess):
    with pytest.raises(cnnrt.InputError, match="'x'.*None"):
        sess.run(None, {"x": None})


def test_feeds_not_a_dict(sess):
    with pytest.raises(cnnrt.InputError, match="dict"):
        sess.run(None, [x_of(1, 3, 8, 8)])


def test_infer_wrong_count(sess):
    with pytest.raises(cnnrt.InputError, match="expects 1 input"):
        sess.infer(x_of(1, 3, 8, 8), x_of(1, 3, 8, 8))


def test_unknown_output_name(sess):
    with pytest.raises(cnnrt.InputError, match="'z'"):
        sess.run(["z"], {"x": x_of(1, 3, 8, 8)})


def test_session_still_works_after_errors(sess):
    x = x_of(1, 3, 8, 8)
    before = sess.run(None, {"x": x})[0]
    for bad in ({"x": None}, {"x": np.zeros([1, 4, 8, 8], np.float32)}, {}):
        with pytest.raises(cnnrt.InputError):
            sess.run(None, bad)
    assert np.array_equal(sess.run(None, {"x": x})[0], before)


def test_spatial_feed_too_small_for_kernel():
    """A symbolic spatial size the Conv cannot take: a cnnrt error naming the node."""
    s = cnnrt.load(conv_model(x_shape=("N", 3, "H", "W"), pads=[0, 0, 0, 0]))
    with pytest.raises(cnnrt.CnnrtError, match="conv"):
        s.run(None, {"x": np.zeros([1, 3, 2, 2], np.float32)})
    # and the session still runs a valid size afterwards
    assert s.run(None, {"x": np.zeros([1, 3, 5, 5], np.float32)})[0].shape == (1, 4, 3, 3)


def test_zero_batch():
    """An empty batch is valid input: an empty output, as onnxruntime gives."""
    s = cnnrt.load(conv_model())
    assert s.run(None, {"x": np.zeros([0, 3, 8, 8], np.float32)})[0].shape == (0, 4, 8, 8)
    assert s.run(None, {"x": x_of(1, 3, 8, 8)})[0].shape == (1, 4, 8, 8)
