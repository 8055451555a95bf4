"""Whole networks: the nine `light` model-zoo graphs shipped in the onnx wheel
(AlexNet, ZFNet-512, VGG-19, GoogLeNet, Inception-v2, ResNet-50, SqueezeNet,
ShuffleNet, DenseNet-121) with seeded random weights (zoo.py), cnnrt vs
onnxruntime on every ISA path.
"""
from __future__ import annotations

import functools

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import cnnrt
from helpers import ort, tolerance
from zoo import MODELS, Prepared, _ort_session, input_for, prepare

ISAS = ["ref", "avx2", "avx512"]


@functools.lru_cache(maxsize=1)
def prepared(name: str) -> Prepared:
    if ort is None:
        pytest.skip("onnxruntime is not installed (pip install '.[test]')")
    return Prepared(name, *prepare(name))


def check_classifier(got, ref, what):
    """Tolerance on every value and the same argmax per row (the top-2 of the
    reference within tolerance of each other is a tie: either is accepted)."""
    got = np.asarray(got)
    ref = np.asarray(ref)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != reference {ref.shape}"
    assert np.isfinite(got).all(), f"{what}: non-finite values"
    tol = tolerance(ref)
    err = float(np.abs(got.astype(np.float64) - ref).max())
    assert err <= tol, f"{what}: max abs error {err:.3g} > tolerance {tol:.3g} (max|ref| {np.abs(ref).max():.3g})"
    g2 = got.reshape(got.shape[0], -1)
    r2 = ref.reshape(ref.shape[0], -1)
    for b in range(r2.shape[0]):
        top = np.argsort(r2[b])[::-1]
        want = {int(top[0])}
        if r2[b, top[0]] - r2[b, top[1]] <= tol:
            want.add(int(top[1]))
        assert int(np.argmax(g2[b])) in want, (
            f"{what}, row {b}: argmax {int(np.argmax(g2[b]))} but reference argmax {int(top[0])}"
        )


# Model-major order, so that the one-entry cache prepares each model once.
CASES = [pytest.param(n, i, id=f"{n}-{i}") for n in MODELS for i in ISAS]


@pytest.mark.parametrize("name,isa", CASES, indirect=["isa"])
def test_light_zoo_matches_onnxruntime(name, isa):
    """cnnrt == onnxruntime on the prepared light zoo graph, batch 1, 2 threads.

    Every ISA path, the scalar `ref` path on VGG-19 included: the whole file
    took about 2 minutes on the 2-core development machine (VGG-19 on ref:
    ~15 s plus ~10 s to prepare the model), under the 6 minutes above which
    the ref path on the biggest networks would go behind `slow`.
    """
    p = prepared(name)
    sess = cnnrt.load(p.model, threads=2, isa=isa)
    assert sess.isa == isa
    got = sess.run(None, {p.input_name: p.x})
    assert len(got) == len(p.ref)
    for k, (g, r) in enumerate(zip(got, p.ref)):
        check_classifier(g, r, f"{name} [{isa}] output {k}")
    # The prepared outputs are informative: not a one-hot softmax.
    top = np.sort(np.asarray(p.ref[0]).ravel())[::-1]
    assert top[1] > 1e-3 * top[0], f"{name}: degenerate reference output (top-2 {top[:2]})"


def test_light_zoo_preparation_is_deterministic():
    """Two preparations of the same graph give bit-identical weights."""
    a = prepare("light_squeezenet")[0]
    b = prepare("light_squeezenet")[0]
    ta = {t.name: numpy_helper.to_array(t) for t in a.graph.initializer}
    tb = {t.name: numpy_helper.to_array(t) for t in b.graph.initializer}
    assert ta.keys() == tb.keys()
    for k in ta:
        assert np.array_equal(ta[k], tb[k]), k


def test_resnet50_dynamic_batch():
    """Batch 2 on ResNet-50 in one session that also runs batch 1.

    The light ResNet-50 declares its input as [1,3,224,224] and its Reshape
    before the classifier hard-codes [1, 2048] (`OC2_DUMMY_1`), so as shipped
    it only runs batch 1 (and cnnrt must reject batch 2 with InputError). The
    test then makes the batch dimension symbolic and the Reshape target
    [-1, 2048], which is what an exporter with a dynamic batch writes, and
    checks batch 1 and 2 against onnxruntime.
    """
    p = prepared("light_resnet50")
    x2 = input_for(batch=2, seed=2)
    sess = cnnrt.load(p.model, threads=2)
    with pytest.raises(cnnrt.InputError, match=p.input_name):
        sess.run(None, {p.input_name: x2})

    m = onnx.ModelProto()
    m.CopyFrom(p.model)
    g = m.graph
    reshapes = [n for n in g.node if n.op_type == "Reshape"]
    assert len(reshapes) == 1
    target = reshapes[0].input[1]
    for t in g.initializer:
        if t.name == target:
            assert list(numpy_helper.to_array(t)) == [1, 2048]
            t.CopyFrom(numpy_helper.from_array(np.array([-1, 2048], np.int64), target))
    for vi in list(g.input) + list(g.output):
        if vi.name in (p.input_name, g.output[0].name):
            vi.type.tensor_type.shape.dim[0].dim_param = "N"
    ref = _ort_session(m).run(None, {p.input_name: x2})[0]
    sess = cnnrt.load(m, threads=2)
    assert sess.inputs[0].shape[0] == "N"
    got1 = sess.run(None, {p.input_name: p.x})[0]
    got2 = sess.run(None, {p.input_name: x2})[0]
    check_classifier(got1, p.ref[0], "resnet50 batch 1")
    check_classifier(got2, ref, "resnet50 batch 2")
    # Each row of the batch equals the same image run alone.
    alone = sess.run(None, {p.input_name: x2[1:2]})[0]
    check_classifier(got2[1:2], alone, "resnet50 batch-2 row 1 vs batch 1")
