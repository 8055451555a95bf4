"""The cnnrt command line, run as users run it: `python -m cnnrt ...` in a
subprocess, on the demo LeNet-5, a light-zoo ResNet-50 (seeded weights,
tests/models/zoo.py) and a model with an op cnnrt does not have; checked
by output, files and exit code."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import helper

import cnnrt
from cnnrt import demo

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
from helpers import make_model, run_ort  # noqa: E402

COMMANDS = ["info", "run", "check", "bench", "profile", "demo"]


def cli(*args, env=None, timeout=600):
    e = dict(os.environ)
    e.setdefault("OPENBLAS_NUM_THREADS", "1")
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "cnnrt", *map(str, args)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, env=e, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def resnet50(tmp_path_factory):
    pytest.importorskip("onnxruntime", reason="the light-zoo weights are scaled with onnxruntime (zoo.py)")
    import zoo

    model, inp, x, _ = zoo.prepare("light_resnet50")
    d = tmp_path_factory.mktemp("r50")
    path = d / "resnet50.onnx"
    onnx.save(model, str(path))
    np.save(d / "x.npy", x)
    return path, inp, x


@pytest.fixture(scope="module")
def unsupported(tmp_path_factory):
    """Conv -> Hardmax -> Relu: Hardmax is an ONNX op cnnrt does not have."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Hardmax", ["c"], ["h"], name="the_hardmax", axis=1),
             helper.make_node("Relu", ["h"], ["y"], name="relu")]
    m = make_model(nodes, {"x": x}, ["y"], {"w": w}, opset=13)
    path = tmp_path_factory.mktemp("unsup") / "hardmax.onnx"
    onnx.save(m, str(path))
    return path


# --- version, help, info() ----------------------------------------------------------

def test_version_and_help_of_every_command():
    rc, out, _ = cli("--version")
    assert rc == 0 and out.strip() == f"cnnrt {cnnrt.__version__}"
    rc, out, _ = cli("--help")
    assert rc == 0 and all(c in out for c in COMMANDS)
    for c in COMMANDS:
        rc, out, err = cli(c, "--help")
        assert rc == 0, err
        assert "Example" in out and f"cnnrt {c}" in out, f"{c} --help has no example:\n{out}"


def test_info_without_model_is_json_with_build_flags():
    rc, out, _ = cli("info")
    assert rc == 0
    d = json.loads(out)
    assert d["version"] == cnnrt.__version__
    assert d["isa_current"] in d["isa_available"] and d["isa_detected"] == d["isa_available"][-1]
    assert "-O3" in d["build"] and d["default_threads"] >= 1 and "thread_pool" in d
    assert cnnrt.info()["build"] == d["build"]


# --- info ---------------------------------------------------------------------------

def test_info_demo():
    rc, out, err = cli("info", "demo", "--nodes")
    assert rc == 0, err
    assert "input     input: float32 [batch, 1, 32, 32]" in out  # the symbolic dim by its name
    assert "output    logits: float32 [batch, 10]" in out
    assert "opset ai.onnx 13" in out and "producer  pytorch" in out
    assert "Conv 2" in out and "Gemm 3" in out and "Relu 4" in out
    for name in ("/conv1/Conv", "/conv2/Conv", "/fc1/Gemm"):
        line = next(ln for ln in out.splitlines() if ln.startswith(name + " "))
        assert "::f32_" in line, line  # the kernel, named with its ISA
    assert "fuse_activation" in out and "support   yes" in out
    rc, out, err = cli("info", "demo", "--json", "--shape", "input=8x1x32x32")
    assert rc == 0, err
    d = json.loads(out)
    # LeNet-5's MACs from its layer shapes: conv1 6x(1x5x5) at 28x28, conv2
    # 16x(6x5x5) at 10x10, fc 400x120, 120x84, 84x10; FLOPs = 2 x MACs, x batch 8.
    macs = 6 * 25 * 28 * 28 + 16 * 150 * 10 * 10 + 400 * 120 + 120 * 84 + 84 * 10
    assert d["flops"] == 2 * macs * 8 and d["flops_at"] == {"input": [8, 1, 32, 32]}
    params = sum(int(np.prod(t.dims)) for t in onnx.load(demo.model_path()).graph.initializer)
    assert d["parameters"] == params
    assert d["fused"]["/Relu"] == "fused into /conv1/Conv"
    assert d["compiled"]["arena_at"] == {"input": [8, 1, 32, 32]} and d["compiled"]["arena_bytes"] > 0
    # a bigger batch needs a bigger arena
    d1 = json.loads(cli("info", "demo", "--json")[1])
    assert d1["compiled"]["arena_bytes"] < d["compiled"]["arena_bytes"]


def test_info_resnet50(resnet50):
    path, inp, _ = resnet50
    rc, out, err = cli("info", path, "--json", "--shape", f"{inp}=1x3x224x224")
    assert rc == 0, err
    d = json.loads(out)
    # ResNet-50 v1: 4.1 GMACs by the usual count (Conv + FC)
    assert 7.5e9 < d["flops"] < 8.5e9 and 25e6 < d["parameters"] < 26e6
    assert d["ops"]["Conv"] == 53 and d["ops"]["BatchNormalization"] == 53
    fused = d["fused"]
    assert sum(v.startswith("fused into") for v in fused.values()) >= 53 + 49  # every BN, Relus and Adds
    c = d["compiled"]
    assert c["compiled_nodes"] < d["nodes"] and "fold_batchnorm" in c["passes_applied"]
    convs = [k["kernel"] for k in c["kernels"] if k["op"] == "Conv"]
    assert len(convs) == 53 and all(k.startswith(c["isa"] + "::f32_") for k in convs)
    assert 1 << 20 < c["arena_bytes"] < 1 << 28
    rc, out, _ = cli("info", path)
    assert rc == 0 and "kernels" in out and "arena" in out and "fused" in out


def test_info_unsupported(unsupported):
    rc, out, err = cli("info", unsupported)
    assert rc == 1, (out, err)
    assert "support   NO" in out and "node 'the_hardmax' (Hardmax)" in out
    assert "Hardmax 1 (!)" in out and "Conv 1," in out


def test_unreadable_model_exit_2(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    for cmd in ("info", "run", "check", "bench", "profile"):
        rc, out, err = cli(cmd, bad)
        assert rc == 2, (cmd, out, err)
        assert "ModelLoadError" in err and "bad.onnx" in err
    rc, _, err = cli("info", tmp_path / "missing.onnx")
    assert rc == 2 and "no such file" in err


# --- run ----------------------------------------------------------------------------

def test_run_demo_npy_and_npz_output(tmp_path):
    x, _ = demo.load_test_data()
    np.save(tmp_path / "x.npy", x[:3])
    rc, out, err = cli("run", "demo", "--input", f"input={tmp_path / 'x.npy'}", "--output", tmp_path / "y.npz")
    assert rc == 0, err
    want = cnnrt.load(demo.model_path(), threads=1).infer(x[:3])
    with np.load(tmp_path / "y.npz") as z:
        assert list(z.keys()) == ["logits"]
        np.testing.assert_array_equal(z["logits"], want)
    assert "output logits: float32 [3, 10]" in out and "top-5 (batch 2):" in out
    assert f"1. class {int(want[0].argmax())} " in out


def test_run_demo_image(tmp_path):
    pytest.importorskip("PIL", reason="image inputs need Pillow (the cli extra)")
    from PIL import Image

    x, labels = demo.load_test_data()
    hits = 0
    for k in range(3):
        px = np.round(x[k, 0] * 255).astype(np.uint8)
        Image.fromarray(px, "L").save(tmp_path / f"d{k}.png")
        rc, out, err = cli("run", "demo", "--input", tmp_path / f"d{k}.png", "--top", "3")
        assert rc == 0, err
        want = cnnrt.load(demo.model_path(), threads=1).infer((px.astype(np.float32) / 255)[None, None])
        top1 = int(out.split("1. class ")[1].split()[0])
        assert top1 == int(want.argmax())  # the image path: scale 1/255, grey, NCHW
        hits += top1 == labels[k]
        assert "4. class" not in out and "3. class" in out
    assert hits >= 2


def test_run_resnet50_top5(resnet50, tmp_path):
    path, inp, x = resnet50
    rc, out, err = cli("run", path, "--input", f"{inp}={os.path.dirname(path)}/x.npy", "--output", tmp_path / "o.npz")
    assert rc == 0, err
    with np.load(tmp_path / "o.npz") as z:
        y = z[next(iter(z.keys()))]
    assert y.shape == (1, 1000)
    top = np.argsort(-y[0])[:5]
    assert [int(s.split("class ")[1].split()[0]) for s in out.split("\n") if ". class " in s] == list(top)


def test_run_errors(unsupported, tmp_path):
    rc, out, err = cli("run", unsupported, "--random")
    assert rc == 2 and "UnsupportedOpError" in err and "the_hardmax" in err
    rc, out, err = cli("run", "demo")
    assert rc == 2 and "no data for input(s) input (float32 [batch, 1, 32, 32])" in err
    np.save(tmp_path / "bad.npy", np.zeros((1, 3, 32, 32), np.float32))
    rc, out, err = cli("run", "demo", "--input", f"input={tmp_path / 'bad.npy'}")
    assert rc == 2 and "InputError" in err and "channels" not in out
    rc, out, err = cli("run", "demo", "--input", f"nope={tmp_path / 'bad.npy'}")
    assert rc == 2 and "no input named 'nope'" in err


# --- check --------------------------------------------------------------------------

def test_check_demo_agrees_and_inputs_npz(tmp_path):
    rc, out, err = cli("check", "demo", "--shape", "input=4x1x32x32")
    assert rc == 0, (out, err)
    assert "OK: every output agrees" in out and "input [4, 1, 32, 32]" in out and " 4/4 " in out
    x, _ = demo.load_test_data()
    np.savez(tmp_path / "f.npz", input=x[:2])
    rc, out, err = cli("check", "demo", "--inputs", tmp_path / "f.npz")
    assert rc == 0 and f"--inputs {tmp_path / 'f.npz'}" in out and " 2/2 " in out
    np.savez(tmp_path / "g.npz", other=x[:2])
    rc, out, err = cli("check", "demo", "--inputs", tmp_path / "g.npz")
    assert rc == 2 and "missing ['input']" in err


def test_check_names_first_differing_node():
    """The test hook scales /conv2/Conv's weight for cnnrt only: the outputs
    differ, and the report must name the first value that differs, the
    fused Conv+Relu output computed by /conv2/Conv, with the agreeing value
    before it (the first pool's output)."""
    rc, out, err = cli("check", "demo", env={"CNNRT_CHECK_FAULT": "/conv2/Conv"})
    assert rc == 1, (out, err)
    assert "CNNRT_CHECK_FAULT" in err and "DIFFERENT" in out and " NO" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("first differing value"))
    assert "node '/Relu_1' (Relu)" in line and "cnnrt computes it in node '/conv2/Conv'" in line, line
    assert "the value before it that agrees: '/MaxPool_output_0'" in out
    # a fault at the first conv: nothing before it to agree
    rc, out, _ = cli("check", "demo", env={"CNNRT_CHECK_FAULT": "/conv1/Conv"})
    assert rc == 1 and "cnnrt computes it in node '/conv1/Conv'" in out and "no value before it" in out


def test_check_resnet50(resnet50):
    path, inp, _ = resnet50
    rc, out, err = cli("check", path)
    assert rc == 0, (out, err)
    assert "OK: every output agrees" in out and " 1/1 " in out


def test_check_unsupported(unsupported):
    rc, out, err = cli("check", unsupported)
    assert rc == 2 and "UnsupportedOpError" in err and "the_hardmax" in err and "OK" not in out


# --- bench --------------------------------------------------------------------------

def test_bench_demo_json_plot(tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib (the cli extra)")
    from PIL import Image

    js, png = tmp_path / "b.json", tmp_path / "b.png"
    rc, out, err = cli("bench", "demo", "--threads", "2", "--batch", "1,2", "--vs", "onnxruntime,openvino,ncnn",
                       "--runs", "3", "--warmup", "1", "--min-seconds", "0", "--json", js, "--plot", png,
                       env={"CNNRT_BENCH_CACHE": str(tmp_path / "cache")})  # converted models: not in ~/.cache
    assert rc == 0, err
    d = json.loads(js.read_text())
    assert [(r["threads"], r["batch"]) for r in d["rows"]] == [(2, 1), (2, 2)]
    for r in d["rows"]:
        c = r["results"]["cnnrt"]
        assert c["runs"] >= 3 and c["p10_ms"] <= c["median_ms"] <= c["p90_ms"] and c["rss_peak_mib"] > 10
        assert abs(c["throughput"] - r["batch"] * 1e3 / c["median_ms"]) < 1e-6 * c["throughput"]
        for peer in ("onnxruntime", "openvino", "ncnn"):
            # measured, or named with the reason it is left out, never missing
            assert peer in r["results"] or peer in r["unavailable"] or peer in d["unavailable"], (peer, r)
            if peer in r["results"]:
                s = r["results"][peer]
                assert s["ratio_to_cnnrt"] == pytest.approx(s["median_ms"] / c["median_ms"])
                assert f"  {peer} " in out
    lines = [ln for ln in out.splitlines() if ln.split()[:3] == ["2", "2", "cnnrt"]]
    assert len(lines) == 1 and "peak RSS MiB" in out and "GFLOP/s" in out
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] >= 400 and im.size[1] >= 300
    assert os.path.getsize(png) > 5000


def test_bench_resnet50_onnxruntime(resnet50, tmp_path):
    path, _, _ = resnet50
    rc, out, err = cli("bench", path, "--vs", "onnxruntime", "--runs", "1", "--warmup", "0", "--block", "1",
                       "--min-seconds", "0", "--rss-runs", "0", "--batch", "1,2", "--json", tmp_path / "r.json")
    assert rc == 0, err
    d = json.loads((tmp_path / "r.json").read_text())
    r1, r2 = d["rows"]
    assert set(r1["results"]) == {"cnnrt", "onnxruntime"} and 7.5 < r1["gflop"] < 8.5
    assert r2["results"] == {} and "fixed batch of 1" in r2["unavailable"]["all"]  # the zoo file's batch is 1
    assert "fixed batch of 1" in out


def test_bench_unsupported_and_bad_peer(unsupported):
    rc, out, err = cli("bench", unsupported)
    assert rc == 2 and "the_hardmax" in err
    rc, out, err = cli("bench", "demo", "--vs", "tensorflow")
    assert rc == 2 and "unknown peer(s) ['tensorflow']" in err


# --- profile ------------------------------------------------------------------------

def test_profile_demo_trace(tmp_path):
    tr = tmp_path / "t.json"
    rc, out, err = cli("profile", "demo", "--runs", "3", "--trace", tr, "--threads", "1")
    assert rc == 0, err
    assert "/conv1/Conv" in out and "GFLOP/s" in out and "::f32_" in out and "total" in out
    conv = next(ln for ln in out.splitlines() if ln.startswith("/conv2/Conv "))
    assert float(conv.split()[4]) > 0  # its GFLOP/s
    d = json.loads(tr.read_text())
    ev = [e for e in d["traceEvents"] if e["ph"] == "X" and e["cat"] != "run"]
    steps = len(ev) // 3
    assert len(ev) == 3 * steps and steps >= 7
    assert all(e["dur"] >= 0 and isinstance(e["ts"], (int, float)) and "kernel" in e["args"] for e in ev)
    ts = [e["ts"] for e in ev]
    assert ts == sorted(ts)  # steps laid end to end, run after run
    assert {e["args"]["run"] for e in ev} == {0, 1, 2}


def test_profile_resnet50(resnet50):
    path, _, _ = resnet50
    # Medians of 5 runs: with one, a step the scheduler preempted (a 50 us
    # Add held up for a 4 ms time slice) could rank among the Conv layers.
    rc, out, err = cli("profile", path, "--runs", "5", "--top", "5")
    assert rc == 0, err
    rows = [ln for ln in out.splitlines() if ln.split()[1:2] == ["Conv"]]
    assert len(rows) == 5 and all("::f32_" in r for r in rows)


def test_profile_unsupported(unsupported):
    rc, out, err = cli("profile", unsupported)
    assert rc == 2 and "the_hardmax" in err


def test_reference_agrees_for_unsupported_model_fixture(unsupported):
    """The unsupported-op model is a valid ONNX model: onnxruntime runs it,
    so its refusal by cnnrt is cnnrt's, not a broken file."""
    m = onnx.load(str(unsupported))
    y = run_ort(m, {"x": np.zeros((1, 2, 6, 6), np.float32)})[0]
    assert y.shape == (1, 4, 4, 4)
