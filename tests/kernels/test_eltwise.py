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


def _ulp_err(y, want):
    """|y - want| in units of the float32 spacing at want."""
    w32 = want.astype(np.float32)
    return np.abs(y.astype(np.float64) - want) / np.spacing(np.abs(w32)).astype(np.float64)


# The in-register Sigmoid and SiLU (simd/vact.inc; on AVX2 their own exp of
# -|x|, vexp_nonpos), which the fused convolutions use and the element-wise
# op shares: within 4 ulp of float64 on a dense sweep (every 2^-12 step over
# [-87, 100] and 64 steps within each power of two down to 1e-30). The ref
# path (act_one's exp form) is held to the same bound.
@pytest.mark.parametrize("kind,fn", [(4, lambda x: 1 / (1 + np.exp(-x))), (10, lambda x: x / (1 + np.exp(-x)))],
                         ids=["sigmoid", "silu"])
def test_sigmoid_silu_ulp(isa, kind, fn):
    dense = np.arange(-87 * 4096, 100 * 4096 + 1, dtype=np.float64) / 4096
    small = np.concatenate([2.0 ** e * (1 + np.arange(64) / 64) for e in range(-99, 0)])
    x = np.concatenate([dense, small, -small]).astype(np.float32)
    y = _core.kernels.act(isa, x, kind)
    err = _ulp_err(y, fn(x.astype(np.float64)))
    worst = int(np.argmax(err))
    assert err[worst] <= 4.0, f"{err[worst]:.2f} ulp at x={x[worst]!r}"


def test_sigmoid_silu_specials(isa):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, -87.5, -88.8, -100, -1e30, 1e30, 88.8], np.float32)
    s = _core.kernels.act(isa, x, 4)
    np.testing.assert_array_equal(s[:3], [0.5, 0.5, 1.0])
    # Below -87 the exp is clamped: a tiny normal number, not the true value.
    assert np.all((s[[3, 6, 7, 8, 9]] >= 0) & (s[[3, 6, 7, 8, 9]] < 2e-38)), s
    np.testing.assert_array_equal(s[10:], [1.0, 1.0])
    f = _core.kernels.act(isa, x, 10)
    np.testing.assert_array_equal(f[[0, 2, 10, 11]], x[[0, 2, 10, 11]])  # 0, inf, 1e30, 88.8: silu(x) = x
    assert np.signbit(f[1]) and f[1] == 0, f[1]
    # Far below the exp's range: -|x| times an exp clamped at e^-87 or so
    # (the true value underflows); never positive, never a NaN.
    assert np.all(f[6:10] <= 0) and np.all(np.abs(f[6:9]) < 1e-33), f[6:10]
    assert np.isnan(f[4]) and np.isnan(f[5]), f[4:6]  # x / (...) keeps a NaN x
    if isa == "avx2":
        # vexp_nonpos's clamp keeps NaN, so Sigmoid passes it through too
        # (act_one's clamp, which the ref and AVX-512 forms share, makes it a number).
        assert np.isnan(s[4]) and np.isnan(s[5]), s[4:6]


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


# ---- the unary math / activation kinds added with Gelu..Sign, vs float64.
# Per element: |y - ref| <= rtol * |ref| + atol * max(1, |x|). Tolerances,
# with the reason:
#  - rtol 3e-7 (~2.5 ulp) for exp, log, erf-free smooth kinds: Cephes expf /
#    logf polynomials (1-2 ulp) plus the final rounding;
#  - erf: 5e-7, the rational approximation's 4.2e-7;
#  - Gelu (erf form): 0.5 x (1 + erf(x / sqrt 2)) as onnxruntime computes it
#    cancels for x < -3, so its error is absolute: 2.5e-7 * |x|;
#  - Celu: alpha (exp(x / alpha) - 1) cancels near 0: absolute 2e-7 * alpha;
#  - Gelu (tanh form) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3):
#    rounding u to float32 moves exp's result by |2u| * 2^-24 relative per rounding (as
#    in any float32 evaluation; u itself carries ~3 roundings without FMA), so rtol is
#    1e-6 + 2e-7 |2u|;
#  - log: absolute 1e-7 next to x = 1, where log x -> 0;
#  - every kind: absolute 1.2e-38 (FLT_MIN) for results in the subnormal
#    range, which cnnrt flushes to zero while it runs;
#  - 0 (exact) for the exactly rounded kinds (compared bit for bit).
def _erf64(x):
    import math

    return np.vectorize(math.erf)(x)


def _softplus64(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


NEW_ACTS = {
    # name: (kind, (a, b), reference, rtol, atol)
    "gelu": (11, (0, 0), lambda x: 0.5 * x * (1 + _erf64(x / np.sqrt(2))), 1e-6, 2.5e-7),
    # 0.5 x (1 + tanh u) in the form float64 evaluates without cancelling
    "gelu_tanh": (12, (0, 0), lambda x: x / (1 + np.exp(-2 * np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
                  lambda x: 1e-6 + 2e-7 * np.abs(2 * np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)), 0),
    "mish": (13, (0, 0), lambda x: x * np.tanh(_softplus64(x)), 1e-6, 0),
    "softplus": (14, (0, 0), _softplus64, 1e-6, 0),
    "softsign": (15, (0, 0), lambda x: x / (1 + np.abs(x)), 3e-7, 0),
    "celu": (16, (1.3, 0), lambda x: np.where(x > 0, x, 1.3 * np.expm1(x / 1.3)), 1e-6, 2.6e-7),
    "thresholdedrelu": (17, (0.7, 0), lambda x: np.where(x > np.float32(0.7), x, 0), 0, 0),
    "erf": (18, (0, 0), _erf64, 5e-7, 0),
    "exp": (19, (0, 0), np.exp, 3e-7, 0),
    "log": (20, (0, 0), np.log, 3e-7, 1e-7),
    "sqrt": (21, (0, 0), None, 0, 0),
    "abs": (22, (0, 0), None, 0, 0),
    "neg": (23, (0, 0), None, 0, 0),
    "reciprocal": (24, (0, 0), None, 0, 0),
    "floor": (25, (0, 0), None, 0, 0),
    "ceil": (26, (0, 0), None, 0, 0),
    "round": (27, (0, 0), None, 0, 0),
    "sign": (28, (0, 0), None, 0, 0),
}
EXACT32 = {"sqrt": np.sqrt, "abs": np.abs, "neg": np.negative, "reciprocal": lambda x: np.float32(1) / x,
           "floor": np.floor, "ceil": np.ceil, "round": np.round, "sign": np.sign}


def _inputs(name, n, rng):
    x = (rng.standard_normal(n) * 4).astype(np.float32)
    if name in ("log", "sqrt"):
        x = np.abs(x) + np.float32(1e-6)
    if name in ("floor", "ceil", "round"):
        x = (np.round(x * 4) / 4).astype(np.float32)  # halves: round-half-to-even
    x[: min(n, 3)] = [1.0, 0.5, 1e-30][: min(n, 3)] if name in ("log",) else [0.0, -0.0, 1e-30][: min(n, 3)]
    return x


@pytest.mark.parametrize("name", sorted(NEW_ACTS))
def test_unary_math_kinds(isa, name):
    kind, (a, b), ref, rtol, atol = NEW_ACTS[name]
    rng = np.random.default_rng(kind)
    for n in LENGTHS + [4099]:
        x = _inputs(name, n, rng)
        y = _core.kernels.act(isa, x, kind, a, b)
        if name in EXACT32:
            np.testing.assert_array_equal(y, EXACT32[name](x).astype(np.float32), err_msg=f"{name} n={n}")
            continue
        want = ref(x.astype(np.float64))
        r = rtol(x.astype(np.float64)) if callable(rtol) else rtol
        bound = r * np.abs(want) + atol * np.maximum(1.0, np.abs(x)) + np.finfo(np.float32).tiny
        err = np.abs(y.astype(np.float64) - want)
        worst = int(np.argmax(err - bound))
        assert np.all(err <= bound), f"{name} n={n}: x={x[worst]!r} got {y[worst]!r} want {want[worst]!r}"


def test_unary_math_wide_range(isa):
    """exp and log over their whole float range (subnormal results and
    inputs included), softplus/mish/gelu_tanh far into the tails."""
    x = np.concatenate([np.linspace(-103, 88.7, 20001), [-87.33, -87.34, -90, -100, -103.9, 88.72, 88.7228]])
    x = x.astype(np.float32)
    y = _core.kernels.act(isa, x, 19)
    want = np.exp(x.astype(np.float64))
    normal = want >= np.finfo(np.float32).tiny
    assert np.all(np.abs(y[normal] - want[normal]) <= 3e-7 * want[normal])
    # subnormal results: within one subnormal step of float64's value
    assert np.all(np.abs(y[~normal] - want[~normal]) <= 2 * 1.4e-45 + 3e-7 * want[~normal])
    xs = np.concatenate([np.geomspace(1e-44, 3e38, 20001), [np.finfo(np.float32).tiny]]).astype(np.float32)
    xs = xs[xs > 0]
    got = _core.kernels.act(isa, xs, 20).astype(np.float64)
    want = np.log(xs.astype(np.float64))
    assert np.all(np.abs(got - want) <= 3e-7 * np.abs(want) + 1e-7), float(np.abs(got - want).max())
    t = np.linspace(-80, 80, 4001).astype(np.float32)
    t64 = t.astype(np.float64)
    for kind, ref, rtol in ((14, _softplus64, 1e-6), (13, lambda v: v * np.tanh(_softplus64(v)), 1e-6),
                            (12, lambda v: v / (1 + np.exp(-2 * np.sqrt(2 / np.pi) * (v + 0.044715 * v**3))),
                             NEW_ACTS["gelu_tanh"][3](t64))):
        got = _core.kernels.act(isa, t, kind).astype(np.float64)
        with np.errstate(over="ignore"):
            want = ref(t64)
        assert np.all(np.abs(got - want) <= rtol * np.abs(want) + np.finfo(np.float32).tiny), (kind, float(np.abs(got - want).max()))


def test_unary_math_specials(isa):
    inf, nan = np.inf, np.nan
    x = np.array([inf, -inf, nan, 0.0, -0.0, 89.0, -110.0], np.float32)
    cases = {  # kind: expected (NaN-aware)
        19: [inf, 0.0, nan, 1.0, 1.0, inf, 0.0],                      # exp
        20: [inf, nan, nan, -inf, -inf, np.log(np.float32(89)), nan],  # log
        14: [inf, 0.0, nan, np.log(2.0), np.log(2.0), 89.0, 0.0],      # softplus
        18: [1.0, -1.0, nan, 0.0, 0.0, 1.0, -1.0],                    # erf
        28: [1.0, -1.0, nan, 0.0, 0.0, 1.0, -1.0],                    # sign
        27: [inf, -inf, nan, 0.0, -0.0, 89.0, -110.0],                # round
    }
    for kind, want in cases.items():
        y = _core.kernels.act(isa, x, kind)
        np.testing.assert_allclose(y, np.array(want, np.float32), rtol=3e-7, atol=0, err_msg=f"kind {kind}")
