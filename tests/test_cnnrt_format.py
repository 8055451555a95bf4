"""The .cnnrt compiled model file (docs/cnnrt-format.md): round trip, ISA
changes, a strict reader, pickling."""
from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from onnx import helper

import cnnrt
from cnnrt import _core, fileformat
from conftest import AVAILABLE
from helpers import assert_close, make_model, run_ort

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(os.path.dirname(cnnrt.__file__), "demo", "lenet5_digits.onnx")


def _net(seed=0):
    """Every op that packs weights for a file: 3x3 stride-1 convs (Winograd
    where the table takes it), depthwise, 1x1, strided and grouped convs, Gemm
    and MatMul with constant B; plus constants no op packs (an Add's)."""
    rng = np.random.default_rng(seed)

    def w(*s):
        return (rng.standard_normal(s) * np.sqrt(2.0 / np.prod(s[1:]))).astype(np.float32)

    inits = {"w1": w(32, 16, 3, 3), "b1": w(32), "w2": w(32, 1, 3, 3), "w3": w(48, 32, 1, 1),
             "w4": w(48, 24, 3, 3), "w5": w(64, 48, 3, 3), "add": w(1, 64, 1, 1),
             "fc": w(64, 10).T.copy(), "fcb": w(10), "mm": w(10, 7)}
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], group=32),
        helper.make_node("Conv", ["c2", "w3"], ["c3"]),
        helper.make_node("Conv", ["c3", "w4"], ["c4"], pads=[1, 1, 1, 1], group=2),
        helper.make_node("Conv", ["c4", "w5"], ["c5"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Add", ["c5", "add"], ["a5"]),
        helper.make_node("GlobalAveragePool", ["a5"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], transB=1),
        helper.make_node("MatMul", ["y", "mm"], ["z"]),
    ]
    x = np.zeros([1, 16, 28, 28], np.float32)
    return make_model(nodes, {"x": x}, ["z"], inits, name="fmtnet")


def _x(seed=1):
    return np.random.default_rng(seed).standard_normal([1, 16, 28, 28]).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    return _net()


@pytest.fixture(scope="module")
def ref(model):
    return run_ort(model, {"x": _x()})[0]


def _saved(model, tmp_path, isa):
    sess = cnnrt.load(model, threads=1, isa=isa)
    path = str(tmp_path / f"m_{isa}.cnnrt")
    sess.save(path)
    return sess, path


def test_round_trip_is_bit_identical(model, tmp_path, isa):
    sess, path = _saved(model, tmp_path, isa)
    tags = sorted({t for _, t, _ in sess._core.export_packed()})
    assert "gemm.b" in tags and "matmul.b" in tags and any(t.startswith("conv.") for t in tags), tags
    back = cnnrt.load(path, threads=1, isa=isa)
    assert not back._compiled.repacked  # the packed weights were used as they are
    assert back.isa == isa
    assert [i.name for i in back.inputs] == ["x"] and back.outputs[0].name == "z"
    assert back.passes_applied == sess.passes_applied and back.node_count == sess.node_count
    x = _x()
    assert np.array_equal(back.infer(x), sess.infer(x))
    # Saving a session loaded from a .cnnrt writes the same bytes.
    again = str(tmp_path / "again.cnnrt")
    back.save(again)
    assert open(again, "rb").read() == open(path, "rb").read()


def test_demo_round_trip(tmp_path):
    sess = cnnrt.load(DEMO, threads=1)
    path = str(tmp_path / "lenet.cnnrt")
    sess.save(path)
    x = np.random.default_rng(0).random([5, 1, 32, 32], dtype=np.float32)
    back = cnnrt.load(path, threads=1)
    assert back.inputs == sess.inputs and back.outputs == sess.outputs  # symbolic batch dim kept
    assert np.array_equal(back.infer(x), sess.infer(x))


@pytest.mark.parametrize("saved_isa", ["ref", "avx2", "avx512"])
def test_other_isa_repacks(model, ref, tmp_path, saved_isa):
    if saved_isa not in AVAILABLE:
        pytest.skip(f"ISA path '{saved_isa}' is not available on this CPU")
    others = [i for i in AVAILABLE if i != saved_isa]
    if not others:
        pytest.skip(f"only ISA path {AVAILABLE} on this CPU: nothing to repack for")
    _, path = _saved(model, tmp_path, saved_isa)
    for isa in others:
        back = cnnrt.load(path, threads=1, isa=isa)
        assert back._compiled.repacked and back.isa == isa
        assert_close(back.infer(_x()), ref, f"saved under {saved_isa}, loaded under {isa}")


def test_load_tells_formats_by_magic_not_name(model, tmp_path):
    sess = cnnrt.load(model, threads=1)
    odd = str(tmp_path / "compiled.onnx")
    sess.save(odd)
    assert cnnrt.load(odd)._compiled is not None
    onnx_named_cnnrt = tmp_path / "model.cnnrt"
    onnx_named_cnnrt.write_bytes(model.SerializeToString())
    assert cnnrt.load(str(onnx_named_cnnrt))._compiled is None
    assert cnnrt.load(sess.to_bytes())._compiled is not None  # bytes too


def test_loading_a_cnnrt_does_not_import_onnx(tmp_path):
    path = str(tmp_path / "lenet.cnnrt")
    cnnrt.load(DEMO).save(path)
    code = ("import sys, numpy as np, cnnrt\n"
            f"s = cnnrt.load({path!r})\n"
            "y = s.infer(np.zeros([2, 1, 32, 32], np.float32))\n"
            "assert y.shape == (2, 10), y.shape\n"
            "bad = sorted(m for m in sys.modules if m == 'onnx' or m.startswith('onnx.'))\n"
            "print('onnx modules:', bad)\n"
            "sys.exit(1 if bad else 0)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------- a strict reader


@pytest.fixture(scope="module")
def good(model, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("fmt") / "good.cnnrt")
    cnnrt.load(model, threads=1, isa="ref").save(path)
    return open(path, "rb").read()


def _load_bytes_as_file(tmp_path, data, isa="ref", name="bad.cnnrt"):
    p = tmp_path / name
    p.write_bytes(data)
    return cnnrt.load(str(p), threads=1, isa=isa)


def _header(data):
    return fileformat._HEADER.unpack_from(data, 0)


def _with_header(data, **changes):
    """`data` with header fields replaced and the header checksum redone."""
    names = ["magic", "version", "hsize", "file_size", "g_off", "g_len", "d_off", "d_len", "s_off", "s_len",
             "crc_a", "crc_b", "sig", "isa", "ver", "hcrc"]
    fields = dict(zip(names, _header(data)))
    fields.update(changes)
    head = fileformat._HEADER.pack(*[fields[n] for n in names])
    head = head[:-4] + struct.pack("<I", zlib.crc32(head[:-4]))
    return head + data[fileformat.HEADER_SIZE:]


def _with_graph(data, edit):
    """`data` with its graph JSON edited by `edit(dict)` and everything
    after it moved, offsets and checksums redone: what a careful forger
    writes, which only the reader's own checks can catch."""
    h = dict(zip(["g_off", "g_len", "d_off", "d_len", "s_off", "s_len"], _header(data)[4:10]))
    graph = json.loads(data[h["g_off"]:h["g_off"] + h["g_len"]])
    edit(graph)
    g = json.dumps(graph).encode()
    d_off = fileformat.HEADER_SIZE + len(g) + fileformat._pad(fileformat.HEADER_SIZE + len(g))
    body = data[h["d_off"]:]
    out = data[:fileformat.HEADER_SIZE] + g + b"\0" * (d_off - fileformat.HEADER_SIZE - len(g)) + body
    crc_a = zlib.crc32(out[d_off:d_off + h["d_len"]], zlib.crc32(g))
    return _with_header(out, g_len=len(g), d_off=d_off, s_off=d_off + h["d_len"], file_size=len(out), crc_a=crc_a)


def _expect_error(tmp_path, data, *words, isa="ref"):
    with pytest.raises(cnnrt.ModelLoadError) as e:
        _load_bytes_as_file(tmp_path, data, isa=isa)
    msg = str(e.value)
    assert "bad.cnnrt" in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_the_forging_helpers_make_a_loadable_file(good, tmp_path):
    # The mutation tests below are only meaningful if an unchanged round
    # through the helpers still loads.
    assert _load_bytes_as_file(tmp_path, _with_graph(_with_header(good), lambda g: None)).infer(_x()).shape == (1, 7)


@pytest.mark.parametrize("where", ["header", "graph", "data"])
def test_flipped_byte(good, tmp_path, where):
    h = _header(good)
    pos = {"header": 40, "graph": h[4] + h[5] // 2, "data": h[6] + h[7] // 3}[where]
    bad = bytearray(good)
    bad[pos] ^= 0x10
    _expect_error(tmp_path, bytes(bad), "checksum")


def test_flipped_byte_in_source_weights_is_found_when_they_are_read(good, tmp_path):
    h = _header(good)
    assert h[9] > 0, "the test net has source weights"
    bad = bytearray(good)
    bad[h[8] + h[9] // 2] ^= 0x01
    # Under the ISA it was packed for, the source weights are never read.
    _load_bytes_as_file(tmp_path, bytes(bad), isa="ref")
    others = [i for i in AVAILABLE if i != "ref"]
    if not others:
        pytest.skip("only the ref ISA path on this CPU: the source weights are never read")
    _expect_error(tmp_path, bytes(bad), "checksum", "source", isa=others[0])


def test_bad_magic(good, tmp_path):
    with pytest.raises(cnnrt.ModelLoadError, match="not a .cnnrt file"):
        fileformat.read(b"\x89CNNRX\r\n" + good[8:], "ref", 0, "x")
    with pytest.raises(cnnrt.ModelLoadError):  # not our magic: read as ONNX, which it is not either
        _load_bytes_as_file(tmp_path, b"\x89CNNRX\r\n" + good[8:])


def test_future_version(good, tmp_path):
    _expect_error(tmp_path, _with_header(good, version=fileformat.FORMAT_VERSION + 1), "newer")


@pytest.mark.parametrize("frac", [0.0, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999])
def test_truncated(good, tmp_path, frac):
    n = int(len(good) * frac)
    for cut in {n, max(0, n - 1), 7, 8, 64, 127, 128, 129}:
        if cut < len(good):
            _expect_error(tmp_path, good[:cut], "truncated")


def test_trailing_garbage(good, tmp_path):
    _expect_error(tmp_path, good + b"\0" * 64, "trailing")


@pytest.mark.parametrize("changes, words", [
    ({"g_off": 64}, ["section table"]),
    ({"d_off": 1 << 62}, ["section table"]),
    ({"s_len": 64}, ["section table"]),
    ({"hsize": 256}, ["header size"]),
])
def test_inconsistent_header(good, tmp_path, changes, words):
    _expect_error(tmp_path, _with_header(good, **changes), *words)


def _first_const(g, section):
    return next(c for c in g["consts"] if c[3] == section)


@pytest.mark.parametrize("edit, words", [
    (lambda g: g["nodes"][0][2].__setitem__(0, 10 ** 6), []),
    (lambda g: g["nodes"][0][2].__setitem__(0, "x"), ["bad node"]),
    (lambda g: _first_const(g, "data").__setitem__(4, 1 << 40), ["outside"]),
    (lambda g: _first_const(g, "data").__setitem__(4, 3), ["outside"]),  # misaligned
    (lambda g: _first_const(g, "data").__setitem__(2, [10 ** 9]), ["bytes for shape"]),
    (lambda g: _first_const(g, "data").__setitem__(1, 5), ["bad constant"]),
    (lambda g: g["packed"][0].__setitem__(3, g["packed"][0][3] - 64), ["prepacked", "bytes"]),
    (lambda g: g["packed"][0].__setitem__(1, "conv.bogus"), ["not used"]),
    (lambda g: g["packed"][0].__setitem__(0, 10 ** 6), ["bad packed"]),
    (lambda g: g["meta"]["inputs"][0].__setitem__(0, "y"), ["meta.inputs"]),
    (lambda g: g.pop("packed"), ["wrong fields"]),
    (lambda g: g["outputs"].append(10 ** 6), ["out of range"]),
])
def test_forged_graph(good, tmp_path, edit, words):
    _expect_error(tmp_path, _with_graph(good, edit), *words)


def test_not_json(good, tmp_path):
    h = _header(good)
    data = bytearray(good)
    data[h[4]] = ord("[")  # valid UTF-8, invalid JSON; checksum redone
    crc_a = zlib.crc32(bytes(data[h[6]:h[6] + h[7]]), zlib.crc32(bytes(data[h[4]:h[4] + h[5]])))
    _expect_error(tmp_path, _with_header(bytes(data), crc_a=crc_a), "corrupt")


# ---------------------------------------------------------------- save sources and pickle


def test_save_from_bytes_and_modelproto(model, tmp_path):
    x = _x()
    want = cnnrt.load(model, threads=1).infer(x)
    for src in (model, model.SerializeToString()):
        p = str(tmp_path / "m.cnnrt")
        cnnrt.load(src, threads=1).save(p)
        assert np.array_equal(cnnrt.load(p, threads=1).infer(x), want)
    with pytest.raises(cnnrt.CnnrtError, match="bytearray"):
        cnnrt.load(bytearray(model.SerializeToString())).save(str(tmp_path / "n.cnnrt"))
    assert not os.path.exists(tmp_path / "n.cnnrt")


def test_save_refuses_a_changed_source(model, tmp_path):
    src = tmp_path / "m.onnx"
    src.write_bytes(model.SerializeToString())
    sess = cnnrt.load(str(src))
    os.utime(src, ns=(1, 1))
    with pytest.raises(cnnrt.CnnrtError, match="changed"):
        sess.save(str(tmp_path / "m.cnnrt"))


def test_pickle_round_trip(model):
    x = _x()
    for sess in (cnnrt.load(model, threads=1), cnnrt.load(cnnrt.load(model).to_bytes(), threads=1)):
        back = pickle.loads(pickle.dumps(sess))
        assert back.threads == 1 and back._compiled is not None
        assert np.array_equal(back.infer(x), sess.infer(x))


def _run_in_child(sess, x):
    return sess.infer(x)


def test_pickle_through_spawned_process(model):
    sess = cnnrt.load(model, threads=1)
    x = _x()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        got = pool.apply(_run_in_child, (sess, x))
    assert np.array_equal(got, sess.infer(x))


def test_packed_weights_are_used_in_place_from_the_mapping(model, tmp_path):
    _, path = _saved(model, tmp_path, "ref")
    back = cnnrt.load(path, threads=1, isa="ref")
    base = np.frombuffer(back._compiled.buffer, np.uint8).ctypes.data
    end = base + len(back._compiled.buffer)
    blobs = back._core.export_packed()
    assert blobs
    for _, tag, mv in blobs:
        addr = np.frombuffer(mv, np.uint8).ctypes.data
        assert base <= addr < end and addr % 64 == 0, tag
    # Under another ISA they are the session's own, repacked.
    others = [i for i in AVAILABLE if i != "ref"]
    if others:
        other = cnnrt.load(path, threads=1, isa=others[0])
        for _, tag, mv in other._core.export_packed():
            addr = np.frombuffer(mv, np.uint8).ctypes.data
            assert not base <= addr < end, tag


def test_packed_weights_packed_at_load_are_64_byte_aligned(model, isa):
    """The kernels load weights in whole vectors: a blob 16 bytes off a line
    (a std::vector's block) splits every 64-byte load in two (ResNet-50's 7x7
    512->2048 ran 25% slower in a session than alone)."""
    sess = cnnrt.load(model, threads=1, isa=isa)
    blobs = sess._core.export_packed()
    assert any(t.startswith("conv.") for _, t, _ in blobs)
    for _, tag, mv in blobs:
        assert np.frombuffer(mv, np.uint8).ctypes.data % 64 == 0, tag


def test_the_mapping_outlives_the_file_and_the_bytes(model, tmp_path):
    x = _x()
    sess = cnnrt.load(model, threads=1)
    want = sess.infer(x)
    path = tmp_path / "gone.cnnrt"
    sess.save(str(path))
    back = cnnrt.load(str(path), threads=1)
    os.unlink(path)
    data = sess.to_bytes()
    from_bytes = cnnrt.load(data, threads=1)
    del data, sess
    import gc

    gc.collect()
    assert np.array_equal(back.infer(x), want)
    assert np.array_equal(from_bytes.infer(x), want)
