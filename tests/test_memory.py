"""Memory: after load the weights are held once (packed), and running does not
grow the process. Measured in a child process (RSS from /proc), with margins
far from both the passing value and the failure each check is there to catch:
a second copy of 96 MiB of weights, or a leak per run of 1 MiB.

The weights are 24 layers of 4 MiB, not one large tensor: blocks of that size
come from malloc's heap once a few have been freed, and the originals freed
during load used to stay in the process as holes (RSS 2x the weights)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import cnnrt

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="RSS is read from /proc/self/status (Linux)")

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(os.path.dirname(cnnrt.__file__))

LAYERS, K = 24, 1024  # 24 Gemm weights of K x K float32: 96 MiB


def _save(model, path):
    path.write_bytes(model.SerializeToString())
    return str(path)


def _model(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "memory", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _gemm_chain():
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    for i in range(LAYERS):
        w = rng.standard_normal((K, K), dtype=np.float32) / np.float32(K ** 0.5)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(helper.make_node("Gemm", [f"h{i}" if i else "x", f"w{i}"], [f"h{i + 1}" if i < LAYERS - 1 else "y"],
                                      name=f"fc{i}", transB=1))
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", K])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", K])], inits)


def _relu_chain():
    return _model([helper.make_node("Relu", ["x"], ["a"], name="r1"),
                   helper.make_node("Sigmoid", ["a"], ["b"], name="s"),
                   helper.make_node("Relu", ["b"], ["y"], name="r2")],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 1024])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 1024])])


# The children's common part: RSS and peak RSS from /proc.
CHILD_HEAD = r"""
import json, sys
import numpy as np
import cnnrt

def status_mib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024

def rss_mib():
    return status_mib("VmRSS")

def reset_peak():
    # ru_maxrss would carry the parent's peak over fork and exec; VmHWM is
    # this process's, and clear_refs 5 resets it to the current RSS.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False

"""

CHILD = CHILD_HEAD + r"""
big, small, tiny = sys.argv[1:4]
warm = cnnrt.load(tiny, threads=1)  # first-load imports and one-time set-up
warm.run(None, {"x": np.ones((2, 1024), np.float32)})
del warm
out = {"base": rss_mib(), "peak_resettable": reset_peak()}
sess = cnnrt.load(big, threads=1)
out["after_load"] = rss_mib()
out["load_peak"] = status_mib("VmHWM")
out["constant_bytes"] = sess._core.stats()["constant_bytes"]
y = sess.run(None, {"x": np.ones((1, %(K)d), np.float32)})[0]
out["big_ok"] = bool(np.isfinite(y).all())
del sess, y

s = cnnrt.load(small, threads=2)
xs = [np.random.default_rng(k).standard_normal((b, 1024)).astype(np.float32) for k, b in enumerate((256, 255))]
def runs(n):
    for i in range(n):
        x = xs[i %% 2]
        s.run(None, {"x": x})                      # straight from the dict
        s.run(None, {"x": x.astype(np.float64)})   # converted
        s.infer(x)
runs(30)
out["warm"] = rss_mib()
runs(300)
out["after_runs"] = rss_mib()
print(json.dumps(out))
""" % {"K": K}


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    d = tmp_path_factory.mktemp("memory")
    paths = [_save(_gemm_chain(), d / "big.onnx"), _save(_relu_chain(), d / "small.onnx"),
             _save(_relu_chain(), d / "tiny.onnx")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [PYTHON_DIR, os.environ.get("PYTHONPATH")])))
    r = subprocess.run([sys.executable, "-c", CHILD, *paths], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_weights_are_held_once_after_load(measured):
    weight_mib = LAYERS * K * K * 4 / 2**20
    grown = measured["after_load"] - measured["base"]
    assert measured["big_ok"]
    assert measured["constant_bytes"] == 0  # the originals were packed, then freed
    # Packed weights + plan: ~1.0x. Held twice (a copy kept, or freed heap
    # not returned): ~2x.
    assert grown < 1.3 * weight_mib, f"RSS grew by {grown:.0f} MiB on load for {weight_mib:.0f} MiB of weights"


def test_weights_in_memory_about_once_while_loading(measured):
    if not measured["peak_resettable"]:
        pytest.skip("this kernel does not let a process reset its peak RSS (/proc/self/clear_refs)")
    weight_mib = LAYERS * K * K * 4 / 2**20
    peak = measured["load_peak"] - measured["base"]
    # The file's weights are read from it once, into the arrays that the
    # runtime packs and frees one by one: ~1.1x. With protobuf holding them
    # too, or the file read whole, or the originals kept until every layer
    # is packed: >= 2x.
    assert peak < 1.6 * weight_mib, f"RSS peaked {peak:.0f} MiB above the start of load for {weight_mib:.0f} MiB of weights"


def test_rss_does_not_grow_over_runs(measured):
    # 900 runs, each making 1 MiB outputs: a leak per run would be >= 300 MiB.
    grown = measured["after_runs"] - measured["warm"]
    assert grown < 24, f"RSS grew by {grown:.1f} MiB over 900 runs"


# One fully connected layer of 64 MiB (VGG-16's first one is 392 MiB): the
# weight is read from the file into the buffer the runtime keeps and packs in
# place, so that it is in memory once while loading, not once per stage
# (protobuf's bytes, numpy's array, the runtime's copy, the packed copy).
FC_K, FC_N = 4096, 4096

ONE_CHILD = CHILD_HEAD + r"""
path, tiny, source = sys.argv[1:4]
warm = cnnrt.load(tiny, threads=1)
warm.run(None, {"x": np.ones((2, 1024), np.float32)})
del warm
model = open(path, "rb").read() if source == "bytes" else path  # the bytes are the caller's, counted in base
base = status_mib("VmRSS")
reset_peak()
sess = cnnrt.load(model, threads=1)
peak = status_mib("VmHWM") - base
w = np.fromfile(sys.argv[4], np.float32).reshape(%(N)d, %(K)d)
x = np.random.default_rng(1).standard_normal((3, %(K)d)).astype(np.float32)
y = sess.run(None, {"x": x})[0]
err = float(np.abs(y - x @ w.T).max() / np.abs(x @ w.T).max())
print(json.dumps({"peak": peak, "err": err}))
""" % {"K": FC_K, "N": FC_N}


@pytest.mark.parametrize("source,op", [("path", "Gemm"), ("external", "Gemm"), ("bytes", "Gemm"), ("path", "MatMul")])
def test_one_large_weight_in_memory_once_while_loading(tmp_path, source, op):
    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("this kernel does not let a process reset its peak RSS (/proc/self/clear_refs)")
    import onnx

    w = (np.random.default_rng(0).standard_normal((FC_N, FC_K)) / np.float32(FC_K ** 0.5)).astype(np.float32)
    w.tofile(tmp_path / "w.raw")
    node = (helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1) if op == "Gemm" else
            helper.make_node("MatMul", ["x", "wt"], ["y"], name="fc"))
    init = numpy_helper.from_array(w, "w") if op == "Gemm" else numpy_helper.from_array(np.ascontiguousarray(w.T), "wt")
    model = _model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", FC_K])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", FC_N])], [init])
    path = tmp_path / "fc.onnx"
    if source == "external":
        onnx.save_model(model, str(path), save_as_external_data=True, location="fc.bin")
    else:
        _save(model, path)
    tiny = _save(_relu_chain(), tmp_path / "tiny.onnx")
    del model
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [PYTHON_DIR, os.environ.get("PYTHONPATH")])))
    r = subprocess.run([sys.executable, "-c", ONE_CHILD, str(path), tiny, source, str(tmp_path / "w.raw")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["err"] < 1e-4, out
    weight_mib = FC_N * FC_K * 4 / 2**20
    # Measured 1.0x. A second copy at any stage: >= 2x.
    assert out["peak"] < 1.4 * weight_mib, f"RSS peaked {out['peak']:.0f} MiB above the start of load for {weight_mib:.0f} MiB of weights ({source}, {op})"
