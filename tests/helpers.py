"""Shared test helpers: build small ONNX models, run them on cnnrt and on
onnxruntime (the reference), compare with the DESIGN tolerance."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

import cnnrt

try:
    import onnxruntime as ort
except ImportError:  # the tests that need it skip with the reason
    ort = None

NP_TO_ONNX = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64,
              np.dtype(np.bool_): TensorProto.BOOL}


def tensor_value(name, arr_or_dtype, shape=None):
    if isinstance(arr_or_dtype, np.generic):
        arr_or_dtype = np.asarray(arr_or_dtype)
    if isinstance(arr_or_dtype, np.ndarray):
        return helper.make_tensor_value_info(name, NP_TO_ONNX[arr_or_dtype.dtype], list(arr_or_dtype.shape))
    return helper.make_tensor_value_info(name, arr_or_dtype, shape)


def make_model(nodes, inputs, outputs, initializers=(), opset=17, name="test"):
    """inputs: dict name -> example array (its dtype and shape are declared);
    outputs: list of names (type left for onnx to infer) or ValueInfoProtos;
    initializers: dict name -> array."""
    ins = [tensor_value(k, v) for k, v in inputs.items()]
    outs = []
    for o in outputs:
        outs.append(o if isinstance(o, onnx.ValueInfoProto) else helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None))
    inits = [onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in dict(initializers).items()]
    g = helper.make_graph(nodes, name, ins, outs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = min(m.ir_version, 8)
    try:
        m = onnx.shape_inference.infer_shapes(m)
        # Declare inferred output types so onnxruntime accepts the model.
        known = {vi.name: vi for vi in m.graph.value_info}
        for o in m.graph.output:
            if o.type.tensor_type.elem_type == TensorProto.UNDEFINED and o.name in known:
                o.CopyFrom(known[o.name])
    except Exception:
        pass
    return m


def run_ort(model, feeds):
    if ort is None:
        import pytest
        pytest.skip("onnxruntime is not installed (pip install '.[test]')")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def run_cnnrt(model, feeds, threads=1, isa=None):
    sess = cnnrt.load(model, threads=threads, isa=isa)
    return sess.run(None, feeds)


def tolerance(ref: np.ndarray) -> float:
    """DESIGN.md: max abs error <= 1e-4 * max|ref| + 1e-5."""
    ref = np.asarray(ref)
    if ref.size == 0 or ref.dtype.kind != "f":
        return 0.0
    finite = np.abs(ref[np.isfinite(ref)])
    return 1e-4 * (float(finite.max()) if finite.size else 0.0) + 1e-5


def assert_close(got, ref, what="output", tol=None):
    got = np.asarray(got)
    ref = np.asarray(ref)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != reference {ref.shape}"
    if ref.dtype.kind != "f":
        assert got.dtype == ref.dtype, f"{what}: dtype {got.dtype} != reference {ref.dtype}"
        np.testing.assert_array_equal(got, ref, err_msg=what)
        return
    assert np.array_equal(np.isnan(got), np.isnan(ref)), f"{what}: NaN positions differ"
    mask = ~np.isnan(ref)
    if not mask.any():
        return
    inf = np.isinf(ref)
    assert np.array_equal(got[inf], ref[inf]), f"{what}: infinities differ"
    fin = mask & ~inf
    err = float(np.abs(got[fin].astype(np.float64) - ref[fin]).max()) if fin.any() else 0.0
    bound = tolerance(ref) if tol is None else tol
    assert err <= bound, f"{what}: max abs error {err:.3g} > tolerance {bound:.3g} (max|ref| {np.abs(ref[fin]).max():.3g})"


def check_model(model, feeds, isa=None, threads=1, tol=None):
    """Run on cnnrt and onnxruntime and compare every output."""
    ref = run_ort(model, feeds)
    got = run_cnnrt(model, feeds, threads=threads, isa=isa)
    assert len(got) == len(ref)
    for k, (g, r) in enumerate(zip(got, ref)):
        assert_close(g, r, f"output {k}", tol)
    return got, ref


def random_data(shape, dtype, seed=0):
    """Seeded data of any runtime dtype (float32 normal, int64 wide-range,
    bool); `seed` may also be a numpy Generator, which is used as is."""
    rng = np.random.default_rng(seed)
    if dtype == np.float32:
        return rng.standard_normal(shape).astype(np.float32)
    if dtype == np.int64:
        return rng.integers(-(2**40), 2**40, size=shape).astype(np.int64)
    return rng.random(shape) > 0.5


def assert_load_error(model, feeds, *words):
    """Loading and running raises cnnrt.ModelLoadError whose message holds every word."""
    import pytest

    with pytest.raises(cnnrt.ModelLoadError) as e:
        cnnrt.load(model, threads=1).run(None, feeds)
    for w in words:
        assert w in str(e.value), str(e.value)
    return str(e.value)


def check_model_or_reference(model, feeds, isa=None, threads=1):
    """cnnrt vs onnxruntime; where they differ, onnxruntime must differ from
    the ONNX reference evaluator too (or refuse the model) and cnnrt must
    match the reference (for the ops where onnxruntime departs from the
    spec: Resize, ConvTranspose). Returns which oracle decided."""
    from onnx.reference import ReferenceEvaluator

    try:
        ort_out = run_ort(model, feeds)[0]
    except Exception:
        ort_out = None
    got = run_cnnrt(model, feeds, isa=isa, threads=threads)[0]
    if ort_out is not None and got.shape == ort_out.shape and np.abs(got - ort_out).max() <= tolerance(ort_out):
        return "onnxruntime"
    ref = ReferenceEvaluator(model).run(None, feeds)[0]
    assert_close(got, ref, "cnnrt vs the ONNX reference (onnxruntime differs)")
    assert ort_out is None or ort_out.shape != ref.shape or np.abs(ort_out - ref).max() > tolerance(ref), \
        "onnxruntime agrees with the reference but not with cnnrt"
    return "reference"
