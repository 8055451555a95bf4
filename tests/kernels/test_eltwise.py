"""Activation and binary kernels vs numpy on every ISA path, at lengths
around the vector widths (1..2x16+1) and a long one."""
import numpy as np
import pytest

from cnnrt import _core

LENGTHS = [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 1000]
# kind code, params, numpy reference, tolerance (0 = exact)
ACTS = {
    "relu": (1, (0, 0), lambda x: np.maximum(x, 0), 0.0),
    "leaky": (2, (0.1, 0), lambda x: np.where(x >= 0, x, x * np.float32(0.1)), 0.0),
    "clip": (3, (-1.5, 2.0), lambda x: np.clip(x, -1.5, 2.0), 0.0),
    "sigmoid": (4, (0, 0), lambda x: 1 / (1 + np.exp(-x)), 2e-7),
    "tanh": (5, (0, 0), np.tanh, 4e-7),
    "hardsigmoid": (6, (0.2, 0.5), lambda x: np.clip(0.2 * x + 0.5, 0, 1), 1e-7),
    "hardswish": (7, (0, 0), lambda x: x * np.clip(x / 6 + 0.5, 0, 1), 1e-6),
    "elu": (8, (1.3, 0), lambda x: np.where(x >= 0, x, 1.3 * (np.exp(x) - 1)), 1e-6),
    "selu": (9, (1.6732632, 1.0507010), lambda x: np.where(x > 0, 1.0507010 * x, 1.0507010 * 1.6732632 * (np.exp(x) - 1)), 2e-6),
    "silu": (10, (0, 0), lambda x: x / (1 + np.exp(-x)), 1e-6),
}


@pytest.mark.parametrize("name", sorted(ACTS))
def test_activation(isa, name):
    kind, (a, b), ref, tol = ACTS[name]
    rng = np.random.default_rng(0)
    for n in LENGTHS:
        x = (rng.standard_normal(n) * 4).astype(np.float32)
        x[: min(n, 3)] = [0.0, -0.0, 1e-30][: min(n, 3)]
        y = _core.kernels.act(isa, x, kind, a, b)
        want = ref(x.astype(np.float64))
        if tol == 0.0:
            np.testing.assert_array_equal(y, want.astype(np.float32), err_msg=f"{name} n={n}")
        else:
            err = np.abs(y - want).max()
            assert err <= tol * max(1.0, np.abs(want).max()), f"{name} n={n}: err {err}"


def test_activation_extremes(isa):
    x = np.array([-1e30, -100, -88.8, 88.8, 100, 1e30, np.inf, -np.inf], np.float32)
    s = _core.kernels.act(isa, x, 4)
    assert np.all(np.isfinite(s)) and s.min() >= 0 and s.max() <= 1
    t = _core.kernels.act(isa, x, 5)
    np.testing.assert_allclose(t, np.sign(x), atol=1e-6)


@pytest.mark.parametrize("op,fn", [(0, np.add), (1, np.subtract), (2, np.multiply), (3, np.divide),
                                   (4, lambda a, b: np.where(a < 0, a * b, a))])
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_binary_exact(isa, op, fn, mode):
    rng = np.random.default_rng(op * 3 + mode)
    for n in LENGTHS:
        a = rng.integers(-21, 22, n).astype(np.float32)
        b = rng.integers(1, 22, n).astype(np.float32)
        if mode == 1:
            b = b[:1]
        if mode == 2:
            a = a[:1]
        y = _core.kernels.binary(isa, op, mode, a, b)
        want = fn(np.broadcast_to(a, (n,)), np.broadcast_to(b, (n,))).astype(np.float32)
        np.testing.assert_array_equal(y, want, err_msg=f"op={op} mode={mode} n={n}")
