"""The public API: load (path, bytes, ModelProto), run/infer, IO metadata,
options, info, thread safety, determinism, the command line."""
from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import cnnrt
import cnnrt.demo
from helpers import assert_close, run_ort


def small_cnn(multi_output: bool = False, seed: int = 0) -> onnx.ModelProto:
    """x [N,3,9,9] -> Conv3x3(8) -> Relu -> Conv1x1(8) + residual -> y;
    with multi_output also z = Sigmoid(first conv)."""
    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array((rng.standard_normal([8, 3, 3, 3]) * 0.3).astype(np.float32), "w1"),
        numpy_helper.from_array((rng.standard_normal(8) * 0.1).astype(np.float32), "b1"),
        numpy_helper.from_array((rng.standard_normal([8, 8, 1, 1]) * 0.3).astype(np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", kernel_shape=[1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["y"], name="residual"),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8, 9, 9])]
    if multi_output:
        nodes.append(helper.make_node("Sigmoid", ["c1"], ["z"], name="sigmoid"))
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 8, 9, 9]))
    g = helper.make_graph(nodes, "small_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 9, 9])],
                          outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m


def two_inputs() -> onnx.ModelProto:
    g = helper.make_graph(
        [helper.make_node("Mul", ["a", "b"], ["p"], name="mul"), helper.make_node("Relu", ["p"], ["out"], name="relu")],
        "two_inputs",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 4])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def x_of(batch, seed=1):
    return np.random.default_rng(seed).standard_normal([batch, 3, 9, 9]).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    return small_cnn()


@pytest.fixture(scope="module")
def model_path(model, tmp_path_factory):
    p = tmp_path_factory.mktemp("api") / "small_cnn.onnx"
    onnx.save(model, str(p))
    return p


def test_load_from_path_bytes_proto_agree(model, model_path):
    x = x_of(2)
    ref = run_ort(model, {"x": x})[0]
    results = []
    for src in (str(model_path), model_path, model_path.read_bytes(), bytearray(model_path.read_bytes()), model):
        sess = cnnrt.load(src, threads=1)
        assert isinstance(sess, cnnrt.Session)
        y = sess.infer(x)
        assert_close(y, ref, f"load({type(src).__name__})")
        results.append(y)
    for y in results[1:]:
        assert np.array_equal(y, results[0])


def test_load_does_not_modify_the_proto(model):
    before = model.SerializeToString()
    cnnrt.load(model)
    assert model.SerializeToString() == before


def test_infer_single_output_returns_array(model):
    sess = cnnrt.load(model)
    y = sess.infer(x_of(1))
    assert isinstance(y, np.ndarray)
    assert y.dtype == np.float32 and y.shape == (1, 8, 9, 9)
    # inputs may also be passed by name
    assert np.array_equal(sess.infer(x=x_of(1)), y)


def test_infer_multi_output_returns_tuple():
    m = small_cnn(multi_output=True)
    sess = cnnrt.load(m)
    x = x_of(3)
    out = sess.infer(x)
    assert isinstance(out, tuple) and len(out) == 2
    ref = run_ort(m, {"x": x})
    for g, r, name in zip(out, ref, ("y", "z")):
        assert_close(g, r, name)


def test_run_all_and_named_outputs():
    m = small_cnn(multi_output=True)
    sess = cnnrt.load(m)
    x = x_of(2)
    all_out = sess.run(None, {"x": x})
    assert isinstance(all_out, list) and len(all_out) == 2
    z = sess.run(["z"], {"x": x})
    assert isinstance(z, list) and len(z) == 1
    assert np.array_equal(z[0], all_out[1])
    zy = sess.run(["z", "y"], {"x": x})
    assert np.array_equal(zy[0], all_out[1]) and np.array_equal(zy[1], all_out[0])
    with pytest.raises(cnnrt.InputError, match="'nope'"):
        sess.run(["nope"], {"x": x})


def test_module_level_infer(model, model_path):
    x = x_of(1)
    y = cnnrt.infer(str(model_path), x)
    assert_close(y, run_ort(model, {"x": x})[0])
    assert np.array_equal(cnnrt.infer(model_path, x, threads=1), y)


def test_two_inputs_positional_and_named():
    m = two_inputs()
    sess = cnnrt.load(m)
    a = np.arange(12, dtype=np.float32).reshape(3, 4) - 5
    b = np.array([[1, -1, 2, 0.5]], dtype=np.float32)
    want = np.maximum(a * b, 0)
    np.testing.assert_array_equal(sess.infer(a, b), want)
    np.testing.assert_array_equal(sess.infer(b=b, a=a), want)
    np.testing.assert_array_equal(sess.run(None, {"a": a, "b": b})[0], want)
    with pytest.raises(cnnrt.InputError, match="expects 2 input"):
        sess.infer(a)
    with pytest.raises(cnnrt.InputError):
        sess.infer(a, b=b)


def test_inputs_outputs_metadata():
    sess = cnnrt.load(small_cnn(multi_output=True))
    assert [i.name for i in sess.inputs] == ["x"]
    assert sess.inputs[0].shape == ["N", 3, 9, 9]
    assert isinstance(sess.inputs[0].shape[0], str)
    assert sess.inputs[0].dtype == np.float32
    assert [o.name for o in sess.outputs] == ["y", "z"]
    for o in sess.outputs:
        assert o.shape == ["N", 8, 9, 9] and o.dtype == np.float32
    assert sess.inputs[0] == cnnrt.IOInfo("x", ["N", 3, 9, 9], np.dtype(np.float32))
    assert "x" in repr(sess.inputs[0])
    assert "small_cnn" in repr(sess) or "<ModelProto>" in repr(sess)


def test_threads_option(model):
    x = x_of(4)
    default = cnnrt.load(model)
    assert default.threads == cnnrt.default_threads() >= 1
    outs = []
    for t in (1, 2, 3):
        sess = cnnrt.load(model, threads=t)
        assert sess.threads == t
        outs.append(sess.infer(x))
    for y in outs[1:]:
        assert_close(y, outs[0], "threads")
    with pytest.raises(ValueError):
        cnnrt.load(model, threads=-1)


def test_isa_option(model):
    avail = cnnrt.info()["isa_available"]
    x = x_of(2)
    ref = run_ort(model, {"x": x})[0]
    for isa in avail:
        sess = cnnrt.load(model, isa=isa)
        assert sess.isa == isa
        assert_close(sess.infer(x), ref, isa)


def test_info_keys():
    info = cnnrt.info()
    for key in ("version", "cpu", "isa_detected", "isa_current", "isa_available", "cpu_features", "thread_pool",
                "default_threads", "l2_cache_bytes"):
        assert key in info, key
    assert info["version"], "empty version"
    assert info["isa_detected"] in info["isa_available"]
    assert "ref" in info["isa_available"]
    assert isinstance(info["default_threads"], int) and info["default_threads"] >= 1
    assert isinstance(info["thread_pool"], str)
    # L2 per core as the C library reports it (0 where it does not); it sizes
    # the convolution's cache blocks and the cross-layer weight prefetch.
    assert isinstance(info["l2_cache_bytes"], int) and info["l2_cache_bytes"] >= 0


def test_info_says_whether_avx512_is_emulated():
    """Only a test build (CMake CNNRT_AVX512_EMULATE, .ci/run's emulated lane)
    offers the avx512 path without the CPU's AVX-512, and it says so in two
    places; a real build offers it only where cpu_features has it."""
    info = cnnrt.info()
    feats = info["cpu_features"]
    has512 = all(feats[f] for f in ("avx512f", "avx512bw", "avx512vl", "avx512dq"))
    assert isinstance(info["avx512_emulated"], bool)
    assert info["avx512_emulated"] == ("EMULATED" in info["build"])
    if info["avx512_emulated"]:
        assert "avx512" in info["isa_available"] and feats["avx2"] and feats["fma"]
    elif "avx512" in info["isa_available"]:
        assert has512, info


def test_supported_ops():
    ops = cnnrt.supported_ops()
    assert ops == sorted(ops)
    assert len(ops) == len(set(ops))
    for op in ("Conv", "Gemm", "Relu", "Add", "Sigmoid"):
        assert op in ops


def test_concurrent_python_threads_are_bit_identical(model):
    """8 Python threads x 20 runs on one session, batch sizes 1..5 mixed:
    each result equals the sequential run of the same input bit for bit."""
    sess = cnnrt.load(model, threads=2)
    inputs = [x_of(1 + k % 5, seed=k) for k in range(10)]
    expected = [sess.infer(x) for x in inputs]
    errors = []
    barrier = threading.Barrier(8)

    def worker(tid):
        try:
            barrier.wait()
            for r in range(20):
                k = (tid * 7 + r) % len(inputs)
                y = sess.infer(inputs[k])
                if not np.array_equal(y, expected[k]):
                    errors.append(f"thread {tid} run {r} input {k}: result differs")
        except Exception as e:  # surfaced below
            errors.append(f"thread {tid}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    assert not errors, errors[:5]


def test_repeated_runs_bit_identical(model):
    sess = cnnrt.load(model)
    x = x_of(3)
    first = sess.infer(x)
    for _ in range(10):
        assert np.array_equal(sess.infer(x), first)
    # a second session of the same model, too
    assert np.array_equal(cnnrt.load(model).infer(x), first)


def test_outputs_are_fresh_arrays(model):
    """A result is the caller's: a later run does not overwrite it."""
    sess = cnnrt.load(model)
    a = sess.infer(x_of(1, seed=1))
    keep = a.copy()
    sess.infer(x_of(1, seed=2))
    assert np.array_equal(a, keep)
    a[...] = 0  # writable, and writing it does not disturb the session
    assert np.array_equal(sess.infer(x_of(1, seed=1)), keep)


def test_float64_input_accepted_and_converted(model):
    sess = cnnrt.load(model)
    x32 = x_of(2)
    y = sess.infer(x32.astype(np.float64))
    assert y.dtype == np.float32
    assert np.array_equal(y, sess.infer(x32))


def test_non_contiguous_and_float16_input(model):
    sess = cnnrt.load(model)
    x = x_of(2)
    base = np.zeros([2, 3, 9, 18], np.float32)
    base[..., ::2] = x
    view = base[..., ::2]
    assert not view.flags.c_contiguous
    assert np.array_equal(sess.infer(view), sess.infer(x))
    xf16 = x.astype(np.float16)
    assert np.array_equal(sess.infer(xf16), sess.infer(xf16.astype(np.float32)))


def test_nested_list_input(model):
    sess = cnnrt.load(model)
    x = x_of(1)
    assert np.array_equal(sess.infer(x.tolist()), sess.infer(x))


def test_version_command_line():
    r = subprocess.run([sys.executable, "-m", "cnnrt", "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"cnnrt {cnnrt.__version__}"
    assert cnnrt.__version__


def test_info_command_line():
    import json

    r = subprocess.run([sys.executable, "-m", "cnnrt", "info"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["isa_detected"] == cnnrt.info()["isa_detected"]


@pytest.mark.parametrize("bad", [0, -1, 2.5, "2", True, 10**6])
def test_threads_option_is_validated(bad):
    with pytest.raises(ValueError, match="threads"):
        cnnrt.load(cnnrt.demo.model_path(), threads=bad)


def test_threads_option_accepts_numpy_integers():
    assert cnnrt.load(cnnrt.demo.model_path(), threads=np.int64(1)).threads == 1


def test_arrays_whose_dtype_is_an_equal_but_distinct_object():
    """A float32 array that went through pickle (as with multiprocessing), one
    with dtype metadata, and np.longlong indices are ordinary inputs."""
    import pickle

    node = helper.make_node("Relu", ["x"], ["y"], name="r")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    sess = cnnrt.load(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]))
    for x in (pickle.loads(pickle.dumps(np.array([1, -2], np.float32))),
              np.array([1, -2], dtype=np.dtype(np.float32, metadata={"a": 1}))):
        np.testing.assert_array_equal(sess.infer(x), [1, 0])
    data = np.arange(12, dtype=np.float32).reshape(4, 3)
    g = helper.make_graph([helper.make_node("Gather", ["d", "i"], ["y"], name="g", axis=0)], "g",
                          [helper.make_tensor_value_info("i", TensorProto.INT64, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
                          [numpy_helper.from_array(data, "d")])
    sess = cnnrt.load(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]))
    for i in (np.array([1, 2], np.longlong), pickle.loads(pickle.dumps(np.array([1, 2], np.int64)))):
        np.testing.assert_array_equal(sess.infer(i), data[[1, 2]])


def test_duplicate_node_names():
    """ONNX allows repeated node names; the passes must not merge the nodes."""
    rng = np.random.default_rng(0)
    w1, w2 = (rng.standard_normal((4, 4, 3, 3)).astype(np.float32) * 0.3 for _ in range(2))
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a"], ["b"], name="relu"),
             helper.make_node("Conv", ["b", "w2"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])],
                          [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    x = rng.standard_normal((1, 4, 6, 6)).astype(np.float32)
    got = cnnrt.load(model).infer(x)
    # onnxruntime refuses repeated names: its reference runs a renamed copy.
    unique = onnx.ModelProto()
    unique.CopyFrom(model)
    for k, n in enumerate(unique.graph.node):
        n.name = f"{n.name}_{k}"
    assert_close(got, run_ort(unique, {"x": x})[0])


def test_profile_times_every_step():
    from helpers import make_model

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 4, 8, 8)).astype(np.float32)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Softmax", ["c"], ["y"], name="soft", axis=1)]
    sess = cnnrt.load(make_model(nodes, {"x": x}, ["y"], {"w": w}).SerializeToString())
    rows = sess.profile({"x": x}, runs=3)
    ops = [r["op"] for r in rows]
    assert "Conv" in ops and "Softmax" in ops
    names = [r["name"] for r in rows]
    assert "conv" in names and "soft" in names
    assert all(r["median_ms"] >= r["min_ms"] >= 0 for r in rows)
    assert abs(sum(r["share"] for r in rows) - 1.0) < 1e-9
    with pytest.raises(cnnrt.InputError):
        sess.profile({"x": x}, runs=0)
    with pytest.raises(cnnrt.InputError):
        sess.profile({"nope": x})
