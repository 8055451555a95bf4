"""LRN vs onnxruntime: sizes 1/3/5, alpha/beta/bias (defaults, the beta=0.75
fast path and general powers), channels, batch, odd spatial sizes, threads,
on every ISA path; even sizes and ranks other than 4, which onnxruntime
refuses, against `ref_lrn` (the ONNX operator text); errors."""
import itertools

import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import assert_close, check_model, make_model, run_cnnrt


def lrn_model(x_shape, opset=13, **attrs):
    node = helper.make_node("LRN", ["x"], ["y"], name="lrn0", **attrs)
    return make_model([node], {"x": np.zeros(x_shape, np.float32)}, ["y"], opset=opset)


def feed(x_shape, seed=0, scale=3.0):
    return {"x": (scale * np.random.default_rng(seed).standard_normal(x_shape)).astype(np.float32)}


def ref_lrn(x, size, alpha=1e-4, beta=0.75, bias=1.0):
    """square_sum[c] = sum of x[c']^2, c' in [c - floor((size-1)/2), c + ceil((size-1)/2)]."""
    x = x.astype(np.float64)
    C = x.shape[1]
    sq = x * x
    y = np.empty_like(x)
    lo = (size - 1) // 2
    hi = size - 1 - lo
    for c in range(C):
        s = sq[:, max(0, c - lo):min(C, c + hi + 1)].sum(1)
        y[:, c] = x[:, c] / (bias + alpha / size * s) ** beta
    return y.astype(np.float32)


PARAMS = [dict(), dict(alpha=0.3, beta=0.6, bias=1.5), dict(alpha=2.0, beta=1.0, bias=0.5),
          dict(alpha=0.5, beta=0.75, bias=2.0), dict(alpha=1e-3, beta=0.5, bias=1.0)]


@pytest.mark.parametrize("size", [1, 3, 5])
@pytest.mark.parametrize("c", [1, 3, 17])
@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("p", range(len(PARAMS)))
def test_lrn_sweep(isa, size, c, n, p):
    shape = [n, c, 7, 5]
    check_model(lrn_model(shape, size=size, **PARAMS[p]), feed(shape, seed=size + c), isa=isa)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("shape", [[1, 7, 23, 29], [3, 16, 17, 1], [2, 5, 1, 300]])
def test_lrn_threads_and_blocks(isa, threads, shape):
    """Spatial sizes beyond one 256-position block, split across threads."""
    check_model(lrn_model(shape, size=5, alpha=0.2, beta=0.75, bias=1.0), feed(shape), isa=isa, threads=threads)
    check_model(lrn_model(shape, size=3, alpha=0.2, beta=0.9, bias=1.0), feed(shape), isa=isa, threads=threads)


@pytest.mark.parametrize("opset", [7, 13, 17])
def test_lrn_opset_forms(isa, opset):
    shape = [2, 6, 5, 3]
    check_model(lrn_model(shape, opset=opset, size=3), feed(shape), isa=isa)
    check_model(lrn_model(shape, opset=opset, size=5, alpha=0.1, beta=0.8, bias=2.0), feed(shape), isa=isa)


@pytest.mark.parametrize("size,shape", list(itertools.product([2, 4, 6, 9], [[2, 7, 4, 3], [2, 5]])))
def test_lrn_even_sizes_and_large_windows(isa, size, shape):
    """onnxruntime refuses even sizes: against ref_lrn (window size 9 > C too)."""
    x = feed(shape)
    got = run_cnnrt(lrn_model(shape, size=size, alpha=0.4, beta=0.7, bias=1.2), x, isa=isa)[0]
    assert_close(got, ref_lrn(x["x"], size, 0.4, 0.7, 1.2))


@pytest.mark.parametrize("shape", [[3, 6], [2, 6, 11], [1, 5, 3, 4, 2]])
def test_lrn_other_ranks(isa, shape):
    """onnxruntime runs 4-D only; ONNX defines any rank: against ref_lrn."""
    x = feed(shape)
    for beta in (0.75, 0.6):
        got = run_cnnrt(lrn_model(shape, size=3, alpha=0.3, beta=beta, bias=1.0), x, isa=isa)[0]
        assert_close(got, ref_lrn(x["x"], 3, 0.3, beta, 1.0))


def test_ref_lrn_matches_onnxruntime():
    from helpers import run_ort

    x = feed([2, 9, 4, 5])
    for size in (1, 3, 5, 7):
        want = run_ort(lrn_model([2, 9, 4, 5], size=size, alpha=0.3, beta=0.6, bias=1.5), x)[0]
        assert_close(ref_lrn(x["x"], size, 0.3, 0.6, 1.5), want, "ref_lrn")


def _load_run(model, shape):
    cnnrt.load(model).run(None, feed(shape))


def test_lrn_missing_size_is_an_error():
    with pytest.raises(cnnrt.ModelLoadError, match="lrn0.*size"):
        _load_run(lrn_model([1, 3, 4, 4]), [1, 3, 4, 4])


@pytest.mark.parametrize("size", [0, -3])
def test_lrn_bad_size_is_an_error(size):
    with pytest.raises(cnnrt.ModelLoadError, match="lrn0.*size must be positive"):
        _load_run(lrn_model([1, 3, 4, 4], size=size), [1, 3, 4, 4])


def test_lrn_rank_1_is_an_error():
    with pytest.raises(cnnrt.ModelLoadError, match="lrn0.*rank"):
        _load_run(lrn_model([5], size=3), [5])
