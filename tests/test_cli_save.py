"""`cnnrt save MODEL OUT`, the real command line in a subprocess: the demo
LeNet, a light-zoo ResNet-50 and a model with an unsupported op."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import assert_close, make_model

DEMO = os.path.join(os.path.dirname(cnnrt.__file__), "demo", "lenet5_digits.onnx")


def _cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "cnnrt", "save", *args], capture_output=True, text=True,
                          timeout=timeout)


def _check_saved(r, out, src_model, x, ref=None):
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert "Traceback" not in r.stderr
    m = re.search(r"saved (\S+): ([0-9.]+) MB, (\d+) nodes, weights packed for (\w+)", r.stdout)
    assert m, r.stdout
    assert m.group(1) == out and m.group(4) == cnnrt.info()["isa_current"]
    assert abs(float(m.group(2)) - os.path.getsize(out) / 1e6) < 0.01
    back = cnnrt.load(out, threads=1)
    assert back._compiled is not None and not back._compiled.repacked
    assert int(m.group(3)) == back.node_count
    if ref is None:
        assert np.array_equal(back.infer(x), cnnrt.load(src_model, threads=1).infer(x))
    else:  # a large model: against onnxruntime (the bit-identical round trip is tests/test_cnnrt_format.py's)
        assert_close(back.infer(x), ref, "resnet50 from its .cnnrt")
        assert np.argmax(back.infer(x)) == np.argmax(ref)


def test_save_demo(tmp_path):
    out = str(tmp_path / "lenet.cnnrt")
    r = _cli(DEMO, out)
    _check_saved(r, out, DEMO, np.random.default_rng(0).random([3, 1, 32, 32], dtype=np.float32))


def test_save_light_zoo_resnet50(tmp_path):
    zoo = pytest.importorskip("zoo")
    if not os.path.exists(os.path.join(zoo.LIGHT, "light_resnet50.onnx")):
        pytest.skip(f"the onnx wheel has no light zoo at {zoo.LIGHT}")
    m, _, x, ref = zoo.prepare("light_resnet50")
    src = str(tmp_path / "resnet50.onnx")
    with open(src, "wb") as f:
        f.write(m.SerializeToString())
    out = str(tmp_path / "resnet50.cnnrt")
    _check_saved(_cli(src, out), out, src, x, ref[0])


def test_save_isa_option(tmp_path):
    out = str(tmp_path / "lenet_ref.cnnrt")
    r = _cli(DEMO, out, "--isa", "ref")
    assert r.returncode == 0, r.stderr
    assert "weights packed for ref" in r.stdout
    assert cnnrt.fileformat._HEADER.unpack_from(open(out, "rb").read(), 0)[13].rstrip(b"\0") == b"ref"


def test_save_unsupported_op(tmp_path):
    x = np.zeros([1, 4], np.float32)
    m = make_model([helper.make_node("Relu", ["x"], ["r"], name="ok"),
                    helper.make_node("Hardmax", ["r"], ["y"], name="the_hardmax"),
                    helper.make_node("Det", ["x2"], ["z"], name="the_det")],
                   {"x": x, "x2": np.zeros([3, 3], np.float32)}, ["y", "z"])
    src = str(tmp_path / "unsupported.onnx")
    with open(src, "wb") as f:
        f.write(m.SerializeToString())
    out = str(tmp_path / "unsupported.cnnrt")
    r = _cli(src, out)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    for words in ("the_hardmax", "Hardmax", "the_det", "Det"):
        assert words in r.stderr, r.stderr
    assert "unsupported: node 'the_hardmax' (Hardmax)" in r.stderr
    assert not os.path.exists(out)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_save_missing_model(tmp_path):
    r = _cli(str(tmp_path / "nope.onnx"), str(tmp_path / "x.cnnrt"))
    assert r.returncode == 2 and "cannot open" in r.stderr and "Traceback" not in r.stderr
