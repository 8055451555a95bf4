"""Unary math and the activations added with it, vs onnxruntime: Sqrt, Exp,
Log, Abs, Neg, Reciprocal, Floor, Ceil, Round, Sign, Erf, Gelu (both
`approximate` forms), Mish, Softplus, Softsign, Celu, ThresholdedRelu.
Every opset that changed an op (from 7), ranks 1-5 with odd sizes, lengths
around the vector widths, attribute values, special values (0, -0, halves
for Round, negative inputs of Log/Sqrt giving NaN, +-inf, NaN, subnormals,
the exp overflow/underflow edges) compared NaN-aware, int64 for Abs/Neg/Sign,
on every ISA path; in-place chains; plan-time int64 values; errors naming
the node."""
import numpy as np
import onnx
import pytest
from onnx import helper

import cnnrt
from helpers import assert_close, check_model, make_model, run_cnnrt, run_ort

# op -> opsets to test: the first version (raised to 7, cnnrt's oldest) and
# every later one onnxruntime runs.
def _versions(op):
    vs = sorted({s.since_version for s in onnx.defs.get_all_schemas_with_history() if s.name == op and s.domain == ""})
    return sorted({max(7, v) for v in vs})


OPS = ["Sqrt", "Exp", "Log", "Abs", "Neg", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Erf", "Gelu", "Mish",
       "Softplus", "Softsign", "Celu", "ThresholdedRelu"]
VERSIONS = {op: _versions(op) for op in OPS}
# Attribute variants (the default first).
ATTRS = {
    "Gelu": [{}, {"approximate": "none"}, {"approximate": "tanh"}],
    "Celu": [{}, {"alpha": 0.5}, {"alpha": 2.5}],
    "ThresholdedRelu": [{}, {"alpha": 0.0}, {"alpha": -0.75}, {"alpha": 2.0}],
}
SHAPES = [[1], [7], [33], [3, 17], [2, 5, 3], [3, 1, 5, 7], [2, 3, 1, 4, 5], [1000]]
SPECIALS = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.5, 4.5, -4.5, 1e-30, -1e-30, 1e-40, -1e-40,
                     np.inf, -np.inf, np.nan, 88.5, 88.72, 88.73, 89.0, -87.0, -88.0, -100.0, -104.0, -110.0, 20.0,
                     21.0, -20.0, 30.0, -30.0, 1e30, -1e30, 8388607.5, 8388608.0, -8388609.0, 1e-7, -1e-7],
                    np.float32)


def unary_model(op, opset, shape, dtype=np.float32, attrs=None, chain=1):
    nodes, src = [], "x"
    for k in range(chain):
        dst = "y" if k == chain - 1 else f"t{k}"
        nodes.append(helper.make_node(op, [src], [dst], name=f"{op.lower()}{k}", **(attrs or {})))
        src = dst
    return make_model(nodes, {"x": np.zeros(shape, dtype)}, ["y"], opset=opset)


def data(op, shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    if op in ("Log", "Sqrt"):
        x = np.abs(x) * 2 + 1e-3  # the NaN and 0 cases are in test_special_values
    if op in ("Floor", "Ceil", "Round"):
        x = np.round(x * 4) / 4  # many exact halves and integers
    return x.astype(np.float32)


@pytest.mark.parametrize("op", OPS)
def test_opsets_and_shapes(isa, op):
    for opset in VERSIONS[op]:
        for k, shape in enumerate(SHAPES):
            for attrs in ATTRS.get(op, [{}]):
                model = unary_model(op, opset, shape, attrs=attrs)
                check_model(model, {"x": data(op, shape, 10 * k + opset)}, isa=isa)


@pytest.mark.parametrize("op", OPS)
def test_special_values(isa, op):
    """0, -0, halves, +-inf, NaN, subnormals, overflow edges: NaN positions
    and infinities must match onnxruntime exactly, the rest within tolerance."""
    opset = VERSIONS[op][-1]
    for attrs in ATTRS.get(op, [{}]):
        model = unary_model(op, opset, [SPECIALS.size], attrs=attrs)
        check_model(model, {"x": SPECIALS}, isa=isa)


def test_log_sqrt_negative_and_zero(isa):
    x = np.array([-1.0, -1e-30, -np.inf, 0.0, -0.0, 1.0, 4.0, np.inf], np.float32)
    for op, want in (("Log", [np.nan, np.nan, np.nan, -np.inf, -np.inf, 0.0, np.log(np.float32(4)), np.inf]),
                     ("Sqrt", [np.nan, np.nan, np.nan, 0.0, -0.0, 1.0, 2.0, np.inf])):
        model = unary_model(op, 13, [x.size])
        got, ref = check_model(model, {"x": x}, isa=isa)
        assert_close(got[0], np.array(want, np.float32), f"{op} vs hand-written values")


def test_exact_ops_bitwise(isa):
    """Abs, Neg, Floor, Ceil, Round (half to even), Sign, Reciprocal and Sqrt
    are exactly rounded: equal to numpy's float32 bit for bit."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(997) * 100, np.arange(-8, 8.5, 0.5), [2**23 - 0.5, 2**23 + 1, -(2**24) + 1]])
    x = x.astype(np.float32)
    fns = {"Abs": np.abs, "Neg": np.negative, "Floor": np.floor, "Ceil": np.ceil, "Round": np.round,
           "Sign": np.sign, "Reciprocal": lambda v: np.float32(1) / v, "Sqrt": lambda v: np.sqrt(np.abs(v))}
    for op, fn in fns.items():
        xin = np.abs(x) if op == "Sqrt" else x
        got = run_cnnrt(unary_model(op, VERSIONS[op][-1], [xin.size]), {"x": xin}, isa=isa)[0]
        np.testing.assert_array_equal(got, fn(xin).astype(np.float32), err_msg=op)


@pytest.mark.parametrize("op", ["Abs", "Neg", "Sign"])
def test_int64(op):
    x = np.array([0, 1, -1, 7, -7, 2**40, -(2**40), 2**62, -(2**63), 2**63 - 1], np.int64)
    for opset in VERSIONS[op]:
        for shape in ([10], [2, 5], [1, 2, 1, 5, 1]):
            check_model(unary_model(op, opset, shape, np.int64), {"x": x.reshape(shape)})


@pytest.mark.parametrize("op", ["Abs", "Neg", "Sign"])
def test_int64_plan_time_value(op):
    """Shape arithmetic: Shape -> Neg/Abs/Sign -> Reshape needs the value at plan time."""
    shape = [2, 3, 4]
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("Neg", ["s"], ["n"], name="neg0"),
             helper.make_node(op, ["n"], ["m"], name="op")]
    if op == "Sign":  # [-1, -1, -1][:1]: flatten
        nodes.append(helper.make_node("Gather", ["m", "i0"], ["a"], name="first"))
    else:
        nodes.append(helper.make_node("Abs", ["m"], ["a"], name="abs0"))
    nodes.append(helper.make_node("Reshape", ["x", "a"], ["y"], name="reshape"))
    model = make_model(nodes, {"x": np.zeros(shape, np.float32)}, ["y"], {"i0": np.array([0], np.int64)}, opset=13)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    got, _ = check_model(model, {"x": x})
    assert got[0].shape == ((24,) if op == "Sign" else (2, 3, 4))



@pytest.mark.parametrize("op", OPS)
def test_chain_in_place_threads(op):
    """Three in a row (the planner runs element-wise ops in place), 3 threads."""
    shape = [2, 7, 9, 11]
    model = unary_model(op, VERSIONS[op][-1], shape, chain=3)
    x = data(op, shape, 5)
    if op == "Exp":
        x = x / 8  # exp(exp(exp(x))) stays finite
    check_model(model, {"x": x}, threads=3)


def test_gelu_tanh_differs_from_erf():
    """The two forms are different functions: a swapped attribute would show."""
    x = np.linspace(-4, 4, 101).astype(np.float32)
    a = run_cnnrt(unary_model("Gelu", 20, [101]), {"x": x})[0]
    b = run_cnnrt(unary_model("Gelu", 20, [101], attrs={"approximate": "tanh"}), {"x": x})[0]
    assert np.abs(a - b).max() > 1e-4


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("op", OPS)
def test_bad_dtype_names_node(op):
    """float32 only (Abs/Neg/Sign: and int64): a bool input is refused naming the node."""
    model = unary_model(op, VERSIONS[op][-1], [4], dtype=np.bool_)
    with pytest.raises((cnnrt.ModelLoadError, cnnrt.UnsupportedOpError)) as e:
        cnnrt.load(model).run(None, {"x": np.ones(4, np.bool_)})
    assert f"{op.lower()}0" in str(e.value), str(e.value)


def test_int64_refused_where_not_computed():
    model = unary_model("Sqrt", 13, [4], dtype=np.int64)
    with pytest.raises((cnnrt.ModelLoadError, cnnrt.UnsupportedOpError)) as e:
        cnnrt.load(model).run(None, {"x": np.ones(4, np.int64)})
    assert "sqrt0" in str(e.value) and "int64" in str(e.value)


def test_gelu_bad_approximate():
    model = unary_model("Gelu", 20, [4], attrs={"approximate": "erf"})
    with pytest.raises(cnnrt.ModelLoadError) as e:
        cnnrt.load(model).run(None, {"x": np.ones(4, np.float32)})
    assert "gelu0" in str(e.value) and "approximate" in str(e.value) and "'erf'" in str(e.value)
