"""The fuzz harness and its regression cases.

- Every input the fuzzer once found (a crash, a hang, an exception that was
  not a cnnrt error) is kept under regressions/ and replayed here in worker
  subprocesses: each must now end in a result or a cnnrt error.
- The seeds are valid models that load and run.
- The mutators change what they say they change.
- The driver notices a crash, a hang and a non-cnnrt exception (a worker
  self-test mode plants each), so a quiet fuzz run means something.
The timed fuzz run itself is a step of .ci/run (python -m tests.fuzz.run)."""
import importlib.util
import inspect
import os
import random
import subprocess
import sys

import numpy as np
import onnx
import pytest

import cnnrt
from cnnrt import fileformat
from fuzz import mutate, mutate_cnnrt, run, seeds
from fuzz.worker import SELFTEST_ENV

HERE = os.path.dirname(os.path.abspath(__file__))


def _inputs(folder):
    d = os.path.join(HERE, folder)
    return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(run.INPUT_EXTS))


def test_regressions_replay():
    paths = _inputs("regressions")
    assert len(paths) >= 10
    st = run.replay(paths)
    assert st.bad == 0, "\n\n".join(st.findings)
    assert sum(st.counts.values()) == len(paths)


@pytest.mark.skipif("max_memory" not in inspect.signature(cnnrt.Session.__init__).parameters,
                    reason="these inputs plan gigabyte tensors that take seconds to compute; they end in a "
                           "ModelLoadError only with the session memory cap (issue 7 item 1, max_memory=)")
def test_regressions_needing_a_memory_cap_replay():
    paths = _inputs("regressions_memcap")
    st = run.replay(paths)
    assert st.bad == 0, "\n\n".join(st.findings)


@pytest.mark.parametrize("name", sorted(seeds.build()))
def test_seed_loads_and_runs(name):
    m = seeds.build()[name]
    sess = cnnrt.load(m.SerializeToString(), threads=1)
    feeds = {i.name: np.ones([d if isinstance(d, int) else 2 for d in i.shape], i.dtype) for i in sess.inputs}
    outs = sess.run(None, feeds)
    assert len(outs) == len(m.graph.output)
    for o, vi in zip(outs, m.graph.output):
        declared = [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
        assert all(w is None or g == w for g, w in zip(o.shape, declared)), (name, o.shape, declared)


def test_proto_mutation_sets_a_boundary_value():
    base = seeds.build()["conv_relu"].SerializeToString()
    r = random.Random(3)
    changed = 0
    boundary = set(mutate.INTS) | {float(v) for v in mutate.FLOATS if v == v}
    for _ in range(200):
        out = mutate.proto_mutate(base, r)
        if out == base:
            continue
        changed += 1
        onnx.ModelProto().ParseFromString(out)  # a proto mutation keeps the protobuf well-formed
    assert changed >= 150
    # One targeted field: the Conv kernel_shape through the attr-ints slot takes dictionary values.
    m = onnx.ModelProto()
    m.ParseFromString(base)
    slots = [s for what, s in mutate._slots(m) if what == "attr ints"]
    slots[0](random.Random(0))
    values = list(m.graph.node[0].attribute[0].ints) + list(m.graph.node[0].attribute[1].ints)
    assert any(v in boundary or -8 <= v <= 64 for v in values)


def test_byte_mutation_changes_bytes():
    corpus = seeds.serialized()
    r = random.Random(5)
    outs = [mutate.byte_mutate(corpus[0], r, corpus) for _ in range(100)]
    assert len(set(outs)) > 90 and sum(o != corpus[0] for o in outs) >= 95


def test_cnnrt_seeds_round_trip_through_fixups():
    """Fixing up an unchanged seed must give back the same bytes, and a
    rewritten (unchanged) graph must still load and run: otherwise the
    .cnnrt mutators only test the checksums."""
    assert len(mutate_cnnrt.FIELDS) == len(fileformat._HEADER.unpack(bytes(fileformat.HEADER_SIZE)))
    compiled = seeds.serialized_cnnrt()
    assert len(compiled) >= len(seeds.build())
    for data in compiled:
        assert mutate_cnnrt.fix_crcs(data) == data
        h = mutate_cnnrt.header(data)
        g = data[h["g_off"]:h["g_off"] + h["g_len"]]
        again = mutate_cnnrt.with_graph_bytes(data, g + b" " * 70)  # moves the data sections by a whole ALIGN
        assert again != data
        sess = cnnrt.load(again, threads=1)
        feeds = {i.name: np.ones([d if isinstance(d, int) else 2 for d in i.shape], i.dtype) for i in sess.inputs}
        ref = cnnrt.load(data, threads=1).run(None, feeds)
        for a, b in zip(sess.run(None, feeds), ref):
            np.testing.assert_array_equal(a, b)


def test_cnnrt_mutations_get_past_the_checksums():
    """Most .cnnrt mutations must reach the reader's checks after the CRCs:
    a ModelLoadError that is not a checksum mismatch, or a load."""
    compiled = seeds.serialized_cnnrt()
    r = random.Random(1)
    past, total = 0, 300
    for _ in range(total):
        data = mutate_cnnrt.mutate(r.choice(compiled), r, compiled)
        try:
            cnnrt.load(data, threads=1)
            past += 1
        except cnnrt.CnnrtError as e:
            past += "checksum" not in str(e) and "corrupt)" not in str(e)
    assert past >= total // 2, past


def test_driver_catches_crash_hang_and_exception(tmp_path, monkeypatch):
    monkeypatch.setenv(SELFTEST_ENV, "1")
    files = []
    for tag in (b"SELFCRASH", b"SELFHANG!", b"SELFRAISE", b"not a model"):
        p = tmp_path / f"{tag.decode()}.onnx"
        p.write_bytes(tag)
        files.append(str(p))
    st = run.replay(files, timeout=2.0)
    assert (st.crashes, st.hangs, st.counts["e"], st.counts["l"]) == (1, 1, 1, 1), (st.counts, st.findings)
    assert any("SELFCRASH" in f for f in st.findings) and any("SELFHANG" in f for f in st.findings)
    assert any("ValueError" in f for f in st.findings)


def test_short_fuzz_run_is_clean(tmp_path):
    """A few seconds of the real thing on one worker: nothing found, inputs executed."""
    st = run.fuzz(8, 1, str(tmp_path), seed=11, quiet=True)
    assert st.execs > 50
    assert st.bad == 0, [open(p.replace(".onnx", ".txt")).read() for p in st.findings] or os.listdir(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None,
                    reason="atheris is not installed (pip install 'atheris>=3'; .ci/run installs it)")
def test_atheris_cnnrt_target_runs(tmp_path):
    """The coverage-guided .cnnrt target: 2000 libFuzzer executions from the
    compiled seeds end without a finding (libFuzzer exits non-zero on one)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(HERE)] + sys.path))
    p = subprocess.run([sys.executable, "-m", "fuzz.atheris_cnnrt", "-runs=2000", "-seed=1",
                        f"-artifact_prefix={tmp_path}/", str(corpus)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-4000:]
    assert "Done 2000 runs" in p.stderr, p.stderr[-2000:]
    assert len(os.listdir(corpus)) > len(seeds.build()), "the seeds were not written, or nothing new was kept"
