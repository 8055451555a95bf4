"""SGEMM kernel vs numpy on every ISA path, over every tile edge (XNNPACK's
sweep): m in 1..MR+1, n in 1..2NR+1 and 3NR, k around the K block (256).
Integer-valued inputs in [-21, 21] make every result exact whatever the
summation order, so the comparison is `==` (MLAS)."""
import numpy as np
import pytest

from cnnrt import _core

K_BLOCK = 256
ACT = {"none": 0, "relu": 1, "leaky": 2, "clip": 3}


def ints(rng, *shape):
    return rng.integers(-21, 22, size=shape).astype(np.float32)


def ref_gemm(a, b, ta, tb):
    A = a.T if ta else a
    B = b.T if tb else b
    return (A.astype(np.float64) @ B.astype(np.float64)).astype(np.float32)


def tile(isa):
    return _core.kernels.gemm_tile(isa)


def edge_sizes(isa):
    mr, nr = tile(isa)
    ms = sorted(set(list(range(1, mr + 2)) + [2 * mr + 1]))
    ns = sorted(set([1, 2, nr - 1, nr, nr + 1, 2 * nr - 1, 2 * nr, 3 * nr, 3 * nr + 5]) - {0})
    return ms, ns


@pytest.mark.parametrize("k", [1, 3, K_BLOCK - 1, K_BLOCK, K_BLOCK + 1, 2 * K_BLOCK + 7])
def test_tile_edges_exact(isa, k):
    rng = np.random.default_rng(k)
    ms, ns = edge_sizes(isa)
    for m in ms:
        for n in ns:
            a, b = ints(rng, m, k), ints(rng, k, n)
            c = _core.kernels.gemm(isa, a, b)
            np.testing.assert_array_equal(c, ref_gemm(a, b, False, False), err_msg=f"m={m} n={n} k={k}")


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("pack_a", [False, True])
@pytest.mark.parametrize("pack_b", [False, True])
def test_transpose_and_prepack_exact(isa, ta, tb, pack_a, pack_b):
    rng = np.random.default_rng(1)
    mr, nr = tile(isa)
    for (m, n, k) in [(mr + 3, 2 * nr + 5, 300), (1, 1000, 37), (70, 3, 513), (2 * mr, nr, 1)]:
        a = ints(rng, k, m) if ta else ints(rng, m, k)
        b = ints(rng, n, k) if tb else ints(rng, k, n)
        c = _core.kernels.gemm(isa, a, b, trans_a=ta, trans_b=tb, pack_a=pack_a, pack_b=pack_b)
        np.testing.assert_array_equal(c, ref_gemm(a, b, ta, tb), err_msg=f"m={m} n={n} k={k}")


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_exact(isa, threads):
    rng = np.random.default_rng(threads)
    for (m, n, k) in [(64, 3136, 147), (2048, 49, 512), (1, 1000, 2048), (33, 517, 260)]:
        a, b = ints(rng, m, k), ints(rng, k, n)
        c = _core.kernels.gemm(isa, a, b, pack_a=True, threads=threads)
        np.testing.assert_array_equal(c, ref_gemm(a, b, False, False), err_msg=f"m={m} n={n} k={k}")


def test_prime_row_stride(isa):
    """A view with a prime row stride (lda = 37, ldb = 41) through the raw path."""
    rng = np.random.default_rng(2)
    big_a, big_b = ints(rng, 19, 37), ints(rng, 37, 41)
    a, b = big_a[:, :30], big_b[:30, :33]
    c = _core.kernels.gemm(isa, np.ascontiguousarray(a), np.ascontiguousarray(b))
    np.testing.assert_array_equal(c, ref_gemm(a, b, False, False))


@pytest.mark.parametrize("act", ["none", "relu", "leaky", "clip"])
def test_epilogue_exact(isa, act):
    """bias per row, bias per column, residual and activation, all fused."""
    rng = np.random.default_rng(3)
    mr, nr = tile(isa)
    m, n, k = 2 * mr + 1, 2 * nr + 3, 300
    a, b = ints(rng, m, k), ints(rng, k, n)
    bm, bn, res = ints(rng, m), ints(rng, n), ints(rng, m, n)
    p0, p1 = {"leaky": (0.5, 0.0), "clip": (-100.0, 250.0)}.get(act, (0.0, 0.0))
    c = _core.kernels.gemm(isa, a, b, pack_a=True, bias_m=bm, bias_n=bn, residual=res, act=ACT[act], p0=p0, p1=p1)
    want = ref_gemm(a, b, False, False) + bm[:, None] + bn[None, :] + res
    if act == "relu":
        want = np.maximum(want, 0)
    elif act == "leaky":
        want = np.where(want >= 0, want, want * 0.5)
    elif act == "clip":
        want = np.clip(want, p0, p1)
    np.testing.assert_array_equal(c, want.astype(np.float32))


def test_alpha_and_empty_k(isa):
    rng = np.random.default_rng(4)
    a, b = ints(rng, 5, 7), ints(rng, 7, 9)
    c = _core.kernels.gemm(isa, a, b, alpha=0.5)
    np.testing.assert_array_equal(c, ref_gemm(a, b, False, False) * 0.5)
    c0 = _core.kernels.gemm(isa, np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32), bias_n=np.arange(4, dtype=np.float32))
    np.testing.assert_array_equal(c0, np.tile(np.arange(4, dtype=np.float32), (3, 1)))


def test_random_float_close(isa):
    """Non-integer data: close to float64 numpy within a K-scaled bound."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((37, 611)).astype(np.float32)
    b = rng.standard_normal((611, 129)).astype(np.float32)
    c = _core.kernels.gemm(isa, a, b, pack_b=True)
    want = a.astype(np.float64) @ b.astype(np.float64)
    assert np.abs(c - want).max() <= 1e-5 * np.sqrt(611) * np.abs(want).max()


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
def test_small_m_prepacked_b_exact(isa, ta, threads):
    """M <= 4 against prepacked B (fully connected layers at batch 1-4) runs
    its own panel-streaming path: every M, N around the panel width, K around
    the accumulator chains, with the epilogue."""
    rng = np.random.default_rng(5)
    _, nr = tile(isa)
    for m in [1, 2, 3, 4, 5]:
        for n in [1, nr - 1, nr, nr + 1, 3 * nr + 7]:
            for k in [1, 2, 3, 5, 8, 301]:
                a = ints(rng, k, m) if ta else ints(rng, m, k)
                b = ints(rng, k, n)
                bn, res = ints(rng, n), ints(rng, m, n)
                c = _core.kernels.gemm(isa, a, b, trans_a=ta, pack_b=True, bias_n=bn, residual=res, act=1,
                                       threads=threads)
                want = np.maximum(ref_gemm(a, b, ta, False) + bn + res, 0)
                np.testing.assert_array_equal(c, want, err_msg=f"m={m} n={n} k={k}")
