"""Gemm (transA, transB, alpha, beta, C broadcasts, constant or runtime B)
and MatMul (1-D promotion, batch broadcasting) vs onnxruntime, every ISA path."""
import itertools

import numpy as np
import pytest
from onnx import helper

import cnnrt
from cnnrt import _core
from helpers import assert_close, check_model, make_model, run_ort

C_SHAPES = [None, "scalar", "n", "1n", "m1", "mn"]


def c_array(kind, m, n, rng):
    shape = {"scalar": (1,), "n": (n,), "1n": (1, n), "m1": (m, 1), "mn": (m, n)}[kind]
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("ta,tb", list(itertools.product([0, 1], [0, 1])))
@pytest.mark.parametrize("c_kind", C_SHAPES)
@pytest.mark.parametrize("b_const", [True, False])
def test_gemm(isa, ta, tb, c_kind, b_const):
    rng = np.random.default_rng(ta * 2 + tb)
    m, k, n = 3, 37, 19
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    inputs = {"a": a}
    inits = {}
    (inits if b_const else inputs)["b"] = b
    names = ["a", "b"]
    if c_kind:
        inits["c"] = c_array(c_kind, m, n, rng)
        names.append("c")
    node = helper.make_node("Gemm", names, ["y"], name="gemm0", transA=ta, transB=tb, alpha=0.7, beta=1.3)
    model = make_model([node], inputs, ["y"], inits, opset=13)
    feeds = {"a": a} if b_const else {"a": a, "b": b}
    check_model(model, feeds, isa=isa)


@pytest.mark.parametrize("m,k,n", [(1, 2048, 1000), (5, 4096, 33), (17, 9, 1)])
def test_gemm_fc_layer_shapes(isa, m, k, n):
    rng = np.random.default_rng(m)
    w = (rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32)
    node = helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="fc", transB=1)
    model = make_model([node], {"x": np.zeros((m, k), np.float32)}, ["y"],
                       {"w": w, "b": rng.standard_normal(n).astype(np.float32)})
    check_model(model, {"x": rng.standard_normal((m, k)).astype(np.float32)}, isa=isa, threads=2)


def _gemm_kernel(isa):
    """The name Session.kernels gives the table's GEMM on `isa`."""
    mr, nr = _core.kernels.gemm_tile(isa)
    return f"{isa}::f32_gemm_{mr}x{nr}"


def _check_loaded(model, feeds, isa, source, tmp_path):
    """cnnrt loaded from a ModelProto, a file (its weights read into the
    runtime's own buffers) or bytes, against onnxruntime; returns the kernel
    each node runs (Session.kernels: whether B was packed in place)."""
    ref = run_ort(model, feeds)
    if source == "path":
        path = tmp_path / "m.onnx"
        path.write_bytes(model.SerializeToString())
        model = str(path)
    elif source == "bytes":
        model = model.SerializeToString()
    sess = cnnrt.load(model, threads=2, isa=isa)
    got = sess.run(None, feeds)
    assert len(got) == len(ref)
    for k, (g, r) in enumerate(zip(got, ref)):
        assert_close(g, r, f"output {k}")
    return [kernel for _, _, kernel, _ in sess._core.kernels()]


# A constant B whose N is a multiple of every ISA's panel width (8, 16, 32) is
# packed over its own bytes when the op is its only reader: given transposed
# (Gemm transB = 1, PyTorch's Linear) panel by panel, as K x N (Gemm, MatMul:
# Keras's Dense) by a cycle-following block transpose. K = 1 and N = 32 (one
# panel on AVX-512) are already in panel order; 1024 x 4 bytes is the file
# loader's threshold for reading a weight into the runtime's buffer.
@pytest.mark.parametrize("m,k,n", [(1, 37, 32), (5, 300, 96), (2, 1024, 128), (3, 1, 64), (2, 50, 160)])
@pytest.mark.parametrize("source", ["proto", "path", "bytes"])
@pytest.mark.parametrize("op", ["gemm_tb1", "gemm_tb0", "matmul"])
def test_b_packed_in_place(isa, tmp_path, m, k, n, source, op):
    rng = np.random.default_rng(k)
    w = (rng.standard_normal((n, k) if op == "gemm_tb1" else (k, n)) / np.sqrt(k)).astype(np.float32)
    if op == "matmul":
        node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
        inits = {"w": w}
    else:
        node = helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="fc", transB=int(op == "gemm_tb1"), alpha=0.5)
        inits = {"w": w, "b": rng.standard_normal(n).astype(np.float32)}
    model = make_model([node], {"x": np.zeros((m, k), np.float32)}, ["y"], inits)
    kernels = _check_loaded(model, {"x": rng.standard_normal((m, k)).astype(np.float32)}, isa, source, tmp_path)
    assert kernels == [f"{_gemm_kernel(isa)} (B packed at load, in place)"]


# A B that something else reads too keeps its bytes: each reader packs its own
# copy (a Gemm that overwrote it would feed the other reader its packed panels).
@pytest.mark.parametrize("other", ["gemm", "matmul", "mul", "output"])
@pytest.mark.parametrize("source", ["proto", "path"])
def test_gemm_b_read_elsewhere_is_not_overwritten(isa, tmp_path, other, source):
    rng = np.random.default_rng(5)
    k, n = 1024, 64
    w = (rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32)
    feeds = {"x": rng.standard_normal((3, k)).astype(np.float32)}
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)]
    outputs = ["y"]
    if other == "gemm":
        nodes.append(helper.make_node("Gemm", ["x", "w"], ["y2"], name="fc2", transB=1, alpha=2.0))
        outputs.append("y2")
    elif other == "matmul":
        feeds["z"] = rng.standard_normal((2, n)).astype(np.float32)
        nodes.append(helper.make_node("MatMul", ["z", "w"], ["y2"], name="mm"))
        outputs.append("y2")
    elif other == "mul":
        feeds["s"] = np.array([1.5], np.float32)
        nodes.append(helper.make_node("Mul", ["w", "s"], ["y2"], name="mul"))
        outputs.append("y2")
    else:
        outputs.append("w")
    inputs = {name: v for name, v in feeds.items()}
    model = make_model(nodes, inputs, outputs, {"w": w})
    kernels = _check_loaded(model, feeds, isa, source, tmp_path)
    assert f"{_gemm_kernel(isa)} (B packed at load)" in kernels
    assert not any("in place" in k for k in kernels), kernels


def test_gemm_runtime_c(isa):
    rng = np.random.default_rng(9)
    a, b, c = (rng.standard_normal(s).astype(np.float32) for s in [(4, 5), (5, 6), (4, 1)])
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], name="g", beta=0.5)
    model = make_model([node], {"a": a, "b": b, "c": c}, ["y"], opset=11)
    check_model(model, {"a": a, "b": b, "c": c}, isa=isa)


MATMUL_SHAPES = [
    ((7,), (7,)), ((7,), (7, 5)), ((3, 7), (7,)), ((3, 7), (7, 5)), ((2, 3, 7), (7, 5)),
    ((2, 3, 7), (2, 7, 5)), ((2, 1, 3, 7), (4, 7, 5)), ((1, 3, 7), (4, 1, 7, 5)), ((3, 2, 6), (4, 1, 6, 2)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=[f"{a}x{b}" for a, b in MATMUL_SHAPES])
@pytest.mark.parametrize("b_const", [True, False])
def test_matmul(isa, sa, sb, b_const):
    rng = np.random.default_rng(len(sa) * 7 + len(sb))
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    inputs, inits = {"a": a}, {}
    (inits if b_const else inputs)["b"] = b
    model = make_model([helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")], inputs, ["y"], inits)
    check_model(model, {k: v for k, v in {"a": a, "b": b}.items() if k in inputs}, isa=isa)


def test_matmul_add_is_fused_and_correct(isa):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((16, 10)).astype(np.float32)
    bias = rng.standard_normal(10).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["t"], name="mm"),
             helper.make_node("Add", ["t", "bias"], ["u"], name="add"),
             helper.make_node("Relu", ["u"], ["y"], name="relu")]
    model = make_model(nodes, {"x": np.zeros((3, 16), np.float32)}, ["y"], {"w": w, "bias": bias})
    sess = cnnrt.load(model, isa=isa)
    assert "fuse_bias" in sess.passes_applied and "fuse_activation" in sess.passes_applied
    assert sess.node_count == 1
    check_model(model, {"x": rng.standard_normal((3, 16)).astype(np.float32)}, isa=isa)


def test_gemm_inner_dim_mismatch_is_an_error():
    node = helper.make_node("Gemm", ["a", "b"], ["y"], name="gemm_bad")
    model = make_model([node], {"a": np.zeros((2, 3), np.float32), "b": np.zeros((4, 5), np.float32)},
                       [helper.make_tensor_value_info("y", 1, None)])
    with pytest.raises(cnnrt.ModelLoadError, match="gemm_bad.*inner dimensions"):
        cnnrt.load(model).run(None, {"a": np.zeros((2, 3), np.float32), "b": np.zeros((4, 5), np.float32)})


def test_matmul_batch_mismatch_is_an_error():
    node = helper.make_node("MatMul", ["a", "b"], ["y"], name="mm_bad")
    model = make_model([node], {"a": np.zeros((2, 3, 4), np.float32), "b": np.zeros((3, 4, 5), np.float32)},
                       [helper.make_tensor_value_info("y", 1, None)])
    with pytest.raises(cnnrt.ModelLoadError, match="mm_bad.*broadcast"):
        cnnrt.load(model).run(None, {"a": np.zeros((2, 3, 4), np.float32), "b": np.zeros((3, 4, 5), np.float32)})


# Numpy semantics sweep: 1-D promotion on either side, batch broadcasting
# between operands of different batch ranks (either one longer), size-1 batch
# dims on either side, odd sizes, empty dims (batch, M, K or N of 0), every
# opset that changed MatMul (1 -> 9 -> 13; 7 is cnnrt's oldest).
MATMUL_SWEEP = [
    ((5,), (3, 2, 5, 4)), ((2, 3, 1, 5, 4), (4,)), ((1,), (1,)), ((1,), (1, 1)), ((1, 1), (1,)),
    ((4, 5, 7), (7,)), ((7,), (4, 7, 3)), ((3, 1, 2, 5), (7, 5, 6)), ((7, 5, 6), (1, 6, 2)),
    ((2, 3, 4, 5, 6), (6, 3)), ((6, 3), (2, 3, 4, 3, 5)), ((3, 1, 5, 4), (1, 2, 4, 6)), ((1, 1, 5, 4), (3, 2, 4, 1)),
    ((1, 9, 17), (17, 33)), ((3, 33, 65), (3, 65, 17)), ((0, 3, 4), (4, 5)), ((2, 0, 4), (2, 4, 5)),
    ((2, 3, 0), (2, 0, 5)), ((3, 0), (0,)), ((2, 3, 4), (1, 4, 0)), ((0,), (0, 3)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SWEEP, ids=[f"{a}x{b}" for a, b in MATMUL_SWEEP])
@pytest.mark.parametrize("b_const", [True, False])
@pytest.mark.parametrize("opset", [7, 9, 13])
def test_matmul_numpy_semantics(isa, sa, sb, b_const, opset):
    rng = np.random.default_rng(len(sa) * 11 + len(sb) + opset)
    a = rng.integers(-21, 22, size=sa).astype(np.float32)  # integer-valued: exact whatever the order
    b = rng.integers(-21, 22, size=sb).astype(np.float32)
    inputs, inits = {"a": a}, {}
    (inits if b_const else inputs)["b"] = b
    model = make_model([helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")], inputs, ["y"], inits, opset=opset)
    got, ref = check_model(model, {k: v for k, v in {"a": a, "b": b}.items() if k in inputs}, isa=isa)
    np.testing.assert_array_equal(got[0], np.matmul(a, b))


@pytest.mark.parametrize("sa,sb", [((3, 40, 64), (64, 96)), ((2, 3, 40, 64), (3, 64, 96)), ((40, 3, 64), (64,))])
@pytest.mark.parametrize("b_const", [True, False])
def test_matmul_batched_threads(sa, sb, b_const):
    """Sizes where the GEMM splits over threads; A batched against a 2-D B is
    one GEMM over all rows."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    inputs, inits = {"a": a}, {}
    (inits if b_const else inputs)["b"] = b
    model = make_model([helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")], inputs, ["y"], inits)
    check_model(model, {k: v for k, v in {"a": a, "b": b}.items() if k in inputs}, threads=2)


def test_matmul_batched_bias_relu_fused(isa):
    """MatMul of a batched [T, N, C] sequence (a CRNN's classifier) with the
    Add and Relu fused into it."""
    rng = np.random.default_rng(6)
    w = rng.standard_normal((32, 11)).astype(np.float32)
    bias = rng.standard_normal(11).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["t"], name="mm"),
             helper.make_node("Add", ["t", "bias"], ["u"], name="add"),
             helper.make_node("Relu", ["u"], ["y"], name="relu")]
    model = make_model(nodes, {"x": np.zeros((7, 3, 32), np.float32)}, ["y"], {"w": w, "bias": bias})
    sess = cnnrt.load(model, isa=isa)
    assert sess.node_count == 1
    check_model(model, {"x": rng.standard_normal((7, 3, 32)).astype(np.float32)}, isa=isa)
