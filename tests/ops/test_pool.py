"""MaxPool / AveragePool (1-D, 2-D) and GlobalMaxPool / GlobalAveragePool vs
onnxruntime: a seeded sample of the attribute sweep (kernel, stride,
dilation, each pad side, every auto_pad, ceil_mode, count_include_pad,
channels, batch) on every ISA path, the opset 7/8/10/11/19/22 forms, edges
and errors; the full product runs under -m slow.

Two places where onnxruntime 1.32 is not the oracle, checked instead against
`ref_pool` below (a direct transcription of the ONNX operator text):
- auto_pad SAME with dilations > 1: onnxruntime pads for the undilated kernel
  and returns fewer outputs than ONNX shape inference (and its own model
  check) says; cnnrt follows ONNX (output ceil(in / stride));
- auto_pad SAME with kernel < stride: the SAME total pad is negative;
  onnxruntime computes it for AveragePool from opset 19 (windows shift right,
  as cnnrt does) but rejects it for MaxPool and older AveragePool kernels.
"""
import itertools
import math

import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import assert_close, check_model, make_model, run_cnnrt, run_ort

# Every test in both internal layouts (conftest.py).
pytestmark = pytest.mark.usefixtures("layout")

OPS = ["MaxPool", "AveragePool"]


def pool_attrs(nd, k, s=1, d=1, pads=None, auto_pad=None, ceil=None, cip=None):
    a = dict(kernel_shape=[k] * nd if isinstance(k, int) else list(k))
    a["strides"] = [s] * nd if isinstance(s, int) else list(s)
    if d != 1:
        a["dilations"] = [d] * nd if isinstance(d, int) else list(d)
    if auto_pad:
        a["auto_pad"] = auto_pad
    elif pads is not None:
        a["pads"] = list(pads)
    if ceil is not None:
        a["ceil_mode"] = ceil
    if cip is not None:
        a["count_include_pad"] = cip
    return a


def pool_model(op, x_shape, attrs, opset=19):
    node = helper.make_node(op, ["x"], ["y"], name="pool0", **attrs)
    return make_model([node], {"x": np.zeros(x_shape, np.float32)}, ["y"], opset=opset)


def feed(x_shape, seed=0):
    return {"x": np.random.default_rng(seed).standard_normal(x_shape).astype(np.float32)}


def ref_pool(x, op, attrs):
    """The ONNX operator text, directly: output sizes, SAME pads from the
    dilated extent (total/2 or (total+1)/2, truncated, not clamped), taps
    start + j*dilation, AveragePool divisors per count_include_pad."""
    x = x.astype(np.float64)
    sp = x.shape[2:]
    nd = len(sp)
    k = attrs["kernel_shape"]
    s = attrs.get("strides", [1] * nd)
    d = attrs.get("dilations", [1] * nd)
    auto = attrs.get("auto_pad", "NOTSET")
    pads = attrs.get("pads", [0] * 2 * nd)
    ceil = attrs.get("ceil_mode", 0)
    cip = attrs.get("count_include_pad", 0)
    out, pb, pe = [], [], []
    for i in range(nd):
        ext = (k[i] - 1) * d[i] + 1
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-sp[i] // s[i])
            tot = (o - 1) * s[i] + ext - sp[i]
            b = int(tot / 2) if auto == "SAME_UPPER" else int((tot + 1) / 2)
            out.append(o), pb.append(b), pe.append(tot - b)
            continue
        b, e = (0, 0) if auto == "VALID" else (pads[i], pads[i + nd])
        span = sp[i] + b + e - ext
        o = (-(-span // s[i]) if ceil else span // s[i]) + 1
        if ceil and (o - 1) * s[i] >= sp[i] + b:
            o -= 1
        out.append(o), pb.append(b), pe.append(e)
    y = np.zeros(x.shape[:2] + tuple(out))
    for idx in itertools.product(*[range(o) for o in out]):
        taps = [[idx[i] * s[i] - pb[i] + j * d[i] for j in range(k[i])] for i in range(nd)]
        inside = [[t for t in taps[i] if 0 <= t < sp[i]] for i in range(nd)]
        win = x[(slice(None), slice(None)) + np.ix_(*inside)] if all(inside) else None
        if op == "MaxPool":
            y[(...,) + idx] = win.reshape(x.shape[:2] + (-1,)).max(-1) if win is not None else np.finfo(np.float32).min
            continue
        total = win.reshape(x.shape[:2] + (-1,)).sum(-1) if win is not None else 0.0
        if cip:
            cnt = math.prod(len([t for t in taps[i] if t < sp[i] + pe[i]]) for i in range(nd))
        else:
            cnt = math.prod(len(v) for v in inside)
        y[(...,) + idx] = total / max(cnt, 1)
    return y.astype(np.float32)


def check_ref(op, x_shape, attrs, isa=None, opset=19, threads=1):
    model = pool_model(op, x_shape, attrs, opset)
    feeds = feed(x_shape)
    got = run_cnnrt(model, feeds, threads=threads, isa=isa)[0]
    assert_close(got, ref_pool(feeds["x"], op, attrs))


def pad_case(nd, k, mode):
    """mode: 'none', 'side<i>' (one pad side on its own), or an auto_pad value."""
    p = k - 1 if k <= 2 else k // 2
    if mode == "none":
        return dict(pads=[0] * 2 * nd)
    if mode.startswith("side"):
        pads = [0] * 2 * nd
        pads[int(mode[4:])] = p
        return dict(pads=pads)
    return dict(auto_pad=mode)


def ort_agrees(op, k, s, d, mode, opset):
    """False where onnxruntime 1.32 departs from ONNX (see the module doc)."""
    if mode not in ("SAME_UPPER", "SAME_LOWER"):
        return True
    return d == 1 and (k >= s or (op == "AveragePool" and opset >= 19))


def run_sweep(isa, op, nd, k, s, d, mode, ceil, cip, c, n, opset=19, threads=1):
    ext = (k - 1) * d + 1
    h = max(9, ext + 2) | 1
    sp = [h, h + 2][:nd] if nd == 2 else [h + 4]
    x_shape = [n, c] + sp
    attrs = pool_attrs(nd, k, s, d, ceil=ceil, cip=cip if op == "AveragePool" else None, **pad_case(nd, k, mode))
    if ort_agrees(op, k, s, d, mode, opset):
        check_model(pool_model(op, x_shape, attrs, opset), feed(x_shape, k * 7 + s), isa=isa, threads=threads)
    else:
        check_ref(op, x_shape, attrs, isa=isa, opset=opset, threads=threads)


KERNELS = [1, 2, 3, 5, 7]
STRIDES = [1, 2, 3]
DILATIONS = [1, 2]
MODES_2D = ["none", "side0", "side1", "side2", "side3", "SAME_UPPER", "SAME_LOWER", "VALID"]
CEIL = [0, 1]
CIP = [0, 1]
CHANNELS = [1, 3, 17]
BATCH = [1, 3]
FULL_2D = [(op, k, s, dd, m, ce, cp, ch, b)
           for op, k, s, dd, m, ce, cp, ch, b in itertools.product(OPS, KERNELS, STRIDES, DILATIONS, MODES_2D, CEIL, CIP,
                                                                   CHANNELS, BATCH)
           if not (op == "MaxPool" and cp)]
_rng = np.random.default_rng(0)
SAMPLE_2D = [FULL_2D[i] for i in sorted(_rng.choice(len(FULL_2D), 100, replace=False))]
MODES_1D = ["none", "side0", "side1", "SAME_UPPER", "SAME_LOWER", "VALID"]
FULL_1D = [(op, k, s, dd, m, ce, cp)
           for op, k, s, dd, m, ce, cp in itertools.product(OPS, KERNELS, STRIDES, DILATIONS, MODES_1D, CEIL, CIP)
           if not (op == "MaxPool" and cp)]
SAMPLE_1D = [FULL_1D[i] for i in sorted(_rng.choice(len(FULL_1D), 40, replace=False))]


@pytest.mark.parametrize("op,k,s,d,mode,ceil,cip,c,n", SAMPLE_2D)
def test_pool2d_sweep_sample(isa, op, k, s, d, mode, ceil, cip, c, n):
    run_sweep(isa, op, 2, k, s, d, mode, ceil, cip, c, n)


@pytest.mark.slow
@pytest.mark.parametrize("op,k,s,d,mode,ceil,cip,c,n", FULL_2D)
def test_pool2d_sweep_full(isa, op, k, s, d, mode, ceil, cip, c, n):
    run_sweep(isa, op, 2, k, s, d, mode, ceil, cip, c, n)


@pytest.mark.parametrize("op,k,s,d,mode,ceil,cip", SAMPLE_1D)
def test_pool1d_sweep_sample(isa, op, k, s, d, mode, ceil, cip):
    run_sweep(isa, op, 1, k, s, d, mode, ceil, cip, 3, 3)


@pytest.mark.slow
@pytest.mark.parametrize("op,k,s,d,mode,ceil,cip", FULL_1D)
def test_pool1d_sweep_full(isa, op, k, s, d, mode, ceil, cip):
    run_sweep(isa, op, 1, k, s, d, mode, ceil, cip, 3, 3)


@pytest.mark.parametrize("op,cip", [("MaxPool", None), ("AveragePool", 0), ("AveragePool", 1)])
@pytest.mark.parametrize("pads", [[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 2]])
@pytest.mark.parametrize("ceil", [0, 1])
def test_pool_each_pad_side(isa, op, cip, pads, ceil):
    x_shape = [3, 17, 11, 8]
    attrs = pool_attrs(2, [3, 4], [2, 3], pads=pads, ceil=ceil, cip=cip)
    check_model(pool_model(op, x_shape, attrs), feed(x_shape), isa=isa)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET"])
@pytest.mark.parametrize("s", [1, 2, 3])
def test_pool_auto_pad(isa, op, auto_pad, s):
    x_shape = [2, 3, 10, 7]
    attrs = pool_attrs(2, [4, 3], s, auto_pad=auto_pad, cip=1 if op == "AveragePool" else None)
    check_model(pool_model(op, x_shape, attrs), feed(x_shape), isa=isa)


@pytest.mark.parametrize("op,cip", [("MaxPool", None), ("AveragePool", 0), ("AveragePool", 1)])
@pytest.mark.parametrize("n,k,s,pads", [
    (6, 3, 2, [1, 1]),  # the last window runs past the right padding
    (4, 2, 2, [0, 1]),  # ceil would start a window in the right padding: dropped
    (7, 3, 3, [2, 0]),  # the first window starts in the left padding
    (8, 5, 3, [1, 2]),
    (5, 5, 2, [0, 0]),  # kernel == input
])
def test_pool_ceil_mode_edges(isa, op, cip, n, k, s, pads):
    attrs = pool_attrs(1, k, s, pads=pads, ceil=1, cip=cip)
    check_model(pool_model(op, [2, 3, n], attrs), feed([2, 3, n]), isa=isa)
    attrs2 = pool_attrs(2, [k, 2], [s, 1], pads=[pads[0], 0, pads[1], 1], ceil=1, cip=cip)
    check_model(pool_model(op, [1, 2, n, 5], attrs2), feed([1, 2, n, 5]), isa=isa)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
@pytest.mark.parametrize("k,s,d", [(2, 1, 2), (3, 2, 2), (3, 3, 2), (4, 1, 3)])
def test_pool_same_dilated_follows_onnx(isa, op, auto_pad, k, s, d):
    """onnxruntime departs from ONNX here (module doc): checked against ref_pool."""
    for cip in ([0, 1] if op == "AveragePool" else [None]):
        attrs = pool_attrs(2, k, s, d, auto_pad=auto_pad, cip=cip)
        check_ref(op, [2, 3, 9, 8], attrs, isa=isa)
        model = pool_model(op, [2, 3, 9, 8], attrs)
        assert run_cnnrt(model, feed([2, 3, 9, 8]), isa=isa)[0].shape[2:] == (-(-9 // s), -(-8 // s))


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
@pytest.mark.parametrize("k,s,n", [(1, 2, 6), (1, 3, 8), (2, 3, 7), (1, 3, 5)])
def test_pool_same_kernel_below_stride(isa, auto_pad, k, s, n):
    """A negative SAME pad shifts the windows: onnxruntime computes it for
    AveragePool-19; MaxPool is checked against ref_pool (onnxruntime rejects)."""
    for cip in (0, 1):
        attrs = pool_attrs(1, k, s, auto_pad=auto_pad, cip=cip)
        check_model(pool_model("AveragePool", [1, 3, n], attrs), feed([1, 3, n]), isa=isa)
    check_ref("MaxPool", [1, 3, n], pool_attrs(1, k, s, auto_pad=auto_pad), isa=isa)
    check_ref("MaxPool", [1, 2, n, n + 1], pool_attrs(2, k, s, auto_pad=auto_pad), isa=isa)


def test_pool_pads_not_below_kernel(isa):
    """ONNX allows pads >= kernel (onnxruntime refuses them): with dilation the
    windows still reach the input; checked against ref_pool."""
    attrs = pool_attrs(2, 2, 1, 3, pads=[2, 2, 3, 2])
    check_ref("MaxPool", [1, 3, 6, 7], attrs, isa=isa)
    for cip in (0, 1):
        check_ref("AveragePool", [1, 3, 6, 7], dict(attrs, count_include_pad=cip), isa=isa)


def test_pool_empty_window_values(isa):
    """A window wholly in the padding (pads >= kernel): MaxPool gives the lowest
    float, AveragePool 0 (onnxruntime refuses such pads)."""
    attrs = pool_attrs(1, 2, 1, pads=[3, 0])
    x = feed([1, 2, 4])
    y = run_cnnrt(pool_model("MaxPool", [1, 2, 4], attrs), x, isa=isa)[0]
    assert y.shape == (1, 2, 6)
    assert (y[..., :2] == np.finfo(np.float32).min).all()
    assert_close(y, ref_pool(x["x"], "MaxPool", attrs))
    for cip in (0, 1):
        a = dict(attrs, count_include_pad=cip)
        y = run_cnnrt(pool_model("AveragePool", [1, 2, 4], a), x, isa=isa)[0]
        assert (y[..., :2] == 0).all()
        assert_close(y, ref_pool(x["x"], "AveragePool", a))


def test_ref_pool_matches_onnxruntime():
    """The test oracle itself agrees with onnxruntime where onnxruntime follows ONNX."""
    for op, attrs in [("MaxPool", pool_attrs(2, 3, 2, 2, pads=[1, 0, 2, 1], ceil=1)),
                      ("AveragePool", pool_attrs(2, 3, 2, 2, pads=[1, 0, 2, 1], ceil=1, cip=1)),
                      ("AveragePool", pool_attrs(2, [2, 3], [3, 2], pads=[1, 2, 0, 1], ceil=1, cip=0)),
                      ("AveragePool", pool_attrs(1, 3, 2, auto_pad="SAME_LOWER", cip=1))]:
        x_shape = [2, 3, 9, 10] if len(attrs["kernel_shape"]) == 2 else [2, 3, 9]
        x = feed(x_shape)
        assert_close(ref_pool(x["x"], op, attrs), run_ort(pool_model(op, x_shape, attrs), x)[0], "ref_pool")


# Opset forms: ceil_mode and MaxPool dilations arrive in 10, MaxPool
# storage_order in 8 (it only orders the Indices output), AveragePool
# dilations in 19; 11 and 22 change no attribute cnnrt reads.
@pytest.mark.parametrize("opset,op,attrs", [
    (7, "MaxPool", pool_attrs(2, 3, 2, pads=[1, 1, 0, 0])),
    (7, "AveragePool", pool_attrs(2, 3, 2, pads=[1, 1, 0, 0], cip=1)),
    (7, "AveragePool", pool_attrs(2, 2, 1, auto_pad="SAME_LOWER")),
    (8, "MaxPool", dict(pool_attrs(2, 3, 2, pads=[1, 1, 1, 1]), storage_order=1)),
    (10, "MaxPool", pool_attrs(2, 3, 2, 2, pads=[1, 0, 1, 0], ceil=1)),
    (10, "AveragePool", pool_attrs(2, 3, 2, pads=[1, 0, 1, 0], ceil=1, cip=1)),
    (11, "MaxPool", pool_attrs(1, 5, 3, 2, pads=[2, 2], ceil=1)),
    (11, "AveragePool", pool_attrs(1, 4, 3, auto_pad="SAME_UPPER", ceil=1, cip=0)),
    (19, "AveragePool", pool_attrs(2, 3, 2, 2, pads=[2, 1, 0, 1], ceil=1, cip=1)),
    (19, "AveragePool", pool_attrs(2, 3, 1, 3, pads=[0, 1, 0, 1], ceil=0, cip=0)),
    (22, "MaxPool", pool_attrs(2, 2, 2, ceil=1)),
    (22, "AveragePool", pool_attrs(2, 3, 2, 2, pads=[1, 1, 1, 1], ceil=1, cip=1)),
])
def test_pool_opset_forms(isa, opset, op, attrs):
    x_shape = [3, 5, 13, 12] if len(attrs["kernel_shape"]) == 2 else [3, 5, 17]
    check_model(pool_model(op, x_shape, attrs, opset), feed(x_shape), isa=isa)


def test_pool_defaults_only(isa):
    """Only kernel_shape: strides 1, no pads, floor, count_include_pad 0."""
    for op in OPS:
        m = make_model([helper.make_node(op, ["x"], ["y"], kernel_shape=[2, 3])], {"x": np.zeros([2, 3, 7, 9], np.float32)},
                       ["y"], opset=19)
        check_model(m, feed([2, 3, 7, 9]), isa=isa)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("n,c", [(1, 1), (1, 2), (3, 17)])
def test_pool_threads(isa, threads, n, c):
    """Few planes split by output rows; many planes split by plane."""
    x_shape = [n, c, 61, 58]
    for op, attrs in [("MaxPool", pool_attrs(2, 3, 2, pads=[1, 1, 1, 1])),
                      ("AveragePool", pool_attrs(2, 5, 1, pads=[2, 2, 2, 2], cip=0)),
                      ("AveragePool", pool_attrs(2, 3, 2, 2, pads=[0, 1, 2, 1], ceil=1, cip=1))]:
        check_model(pool_model(op, x_shape, attrs), feed(x_shape), isa=isa, threads=threads)


@pytest.mark.parametrize("op,cip", [("MaxPool", None), ("AveragePool", 0), ("AveragePool", 1)])
@pytest.mark.parametrize("w,k,s,d,pads,ceil", [
    (4096, 3, 1, 1, [0, 0], 0),   # row buffer exactly full: separable form
    (4097, 3, 1, 1, [0, 0], 0),   # one column more: direct form
    (5003, 5, 2, 2, [3, 1], 1),
    (4500, 4, 3, 1, [0, 2], 1),
])
def test_pool_wide_rows(isa, op, cip, w, k, s, d, pads, ceil):
    """Rows beyond the separable form's 4096-float buffer take the direct form."""
    attrs = pool_attrs(1, k, s, d, pads=pads, ceil=ceil, cip=cip)
    check_model(pool_model(op, [2, 3, w], attrs), feed([2, 3, w]), isa=isa)
    attrs2 = pool_attrs(2, [2, k], [1, s], [1, d], pads=[1, pads[0], 0, pads[1]], ceil=ceil, cip=cip)
    check_model(pool_model(op, [1, 2, 3, w], attrs2), feed([1, 2, 3, w]), isa=isa, threads=2)


@pytest.mark.parametrize("op", ["GlobalMaxPool", "GlobalAveragePool"])
@pytest.mark.parametrize("shape", [[1, 1, 7], [3, 17, 5, 9], [1, 3, 37, 41], [3, 3, 2, 3, 5], [2, 4, 1, 1], [1, 2, 2, 3, 1, 2]])
@pytest.mark.parametrize("threads", [1, 2])
def test_global_pool(isa, op, shape, threads):
    m = make_model([helper.make_node(op, ["x"], ["y"], name="g0")], {"x": np.zeros(shape, np.float32)}, ["y"], opset=17)
    x = {"x": (np.random.default_rng(3).standard_normal(shape) + 2.0).astype(np.float32)}
    if len(shape) > 5:  # onnxruntime runs at most 3 spatial dims
        got = run_cnnrt(m, x, threads=threads, isa=isa)[0]
        red = tuple(range(2, len(shape)))
        want = x["x"].max(axis=red, keepdims=True) if op == "GlobalMaxPool" else x["x"].mean(axis=red, keepdims=True)
        assert_close(got, want)
    else:
        check_model(m, x, isa=isa, threads=threads)


# --- errors ---

def _load_run(model, x_shape):
    cnnrt.load(model).run(None, feed(x_shape))


@pytest.mark.parametrize("op", OPS)
def test_pool_kernel_larger_than_padded_input_is_an_error(op):
    model = pool_model(op, [1, 3, 4, 4], pool_attrs(2, [3, 6], pads=[0, 1, 0, 0]))
    with pytest.raises(cnnrt.ModelLoadError, match="pool0.*larger than the padded input"):
        _load_run(model, [1, 3, 4, 4])


def test_pool_bad_attributes_are_errors():
    for attrs, msg in [(pool_attrs(2, 3, [0, 1]), "strides"), (pool_attrs(2, 3, 1, [1, 0]), "dilations"),
                       (pool_attrs(2, 3, pads=[1, 1]), "pads"), (pool_attrs(2, 3, pads=[1, -1, 0, 0]), "pads"),
                       (pool_attrs(2, [3, 0]), "kernel_shape"), (dict(pool_attrs(2, 3), auto_pad="SAME"), "auto_pad")]:
        model = pool_model("MaxPool", [1, 3, 8, 8], attrs)
        with pytest.raises(cnnrt.ModelLoadError, match="pool0.*" + msg):
            _load_run(model, [1, 3, 8, 8])


def test_pool_missing_kernel_shape_is_an_error():
    node = helper.make_node("AveragePool", ["x"], ["y"], name="pool0")
    model = make_model([node], {"x": np.zeros([1, 2, 5, 5], np.float32)}, ["y"])
    with pytest.raises(cnnrt.ModelLoadError, match="pool0.*kernel_shape"):
        _load_run(model, [1, 2, 5, 5])


def test_pool_rank_mismatch_is_an_error():
    model = pool_model("MaxPool", [1, 2, 5, 5], pool_attrs(1, 3))
    with pytest.raises(cnnrt.ModelLoadError, match="pool0.*rank"):
        _load_run(model, [1, 2, 5, 5])


def test_pool_3d_is_unsupported():
    model = pool_model("MaxPool", [1, 2, 4, 4, 4], pool_attrs(3, 2))
    with pytest.raises(cnnrt.UnsupportedOpError, match="pool0"):
        cnnrt.load(model)


def test_maxpool_bad_storage_order_is_an_error():
    node = helper.make_node("MaxPool", ["x"], ["y", "idx"], name="pool0", kernel_shape=[2, 2], storage_order=2)
    model = make_model([node], {"x": np.zeros([1, 2, 4, 4], np.float32)},
                       [helper.make_tensor_value_info("y", 1, None), helper.make_tensor_value_info("idx", 7, None)])
    with pytest.raises(cnnrt.ModelLoadError, match="pool0.*storage_order"):
        cnnrt.load(model)


def test_global_pool_rank_2_is_an_error():
    node = helper.make_node("GlobalAveragePool", ["x"], ["y"], name="gap0")
    model = make_model([node], {"x": np.zeros([2, 3], np.float32)}, ["y"])
    with pytest.raises(cnnrt.ModelLoadError, match="gap0.*rank"):
        _load_run(model, [2, 3])


@pytest.mark.parametrize("op,attrs", [("MaxPool", pool_attrs(2, 2)), ("AveragePool", pool_attrs(1, 3, pads=[1, 1])),
                                      ("GlobalMaxPool", {}), ("GlobalAveragePool", {})])
def test_pool_empty_batch(isa, op, attrs):
    shape = [0, 3, 5] if attrs.get("kernel_shape") == [3] else [0, 3, 5, 4]
    want = {"MaxPool": (0, 3, 4, 3), "AveragePool": (0, 3, 5)}.get(op, (0, 3, 1, 1))
    m = make_model([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": np.zeros(shape, np.float32)}, ["y"])
    assert cnnrt.load(m, isa=isa).run(None, {"x": np.zeros(shape, np.float32)})[0].shape == want


INDICES_CASES = [
    # x shape, kernel, strides, pads, dilations, storage_order
    ((1, 3, 9, 9), [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 0),
    ((2, 5, 8, 7), [2, 3], [1, 2], [0, 1, 1, 0], [1, 1], 1),
    ((1, 2, 11, 10), [3, 2], [2, 1], [0, 0, 0, 0], [2, 2], 0),
    ((3, 4, 13), [5], [3], [2, 1], [1], 0),
]


@pytest.mark.parametrize("case", INDICES_CASES, ids=[str(c) for c in INDICES_CASES])
def test_maxpool_indices(isa, case):
    """MaxPool's second output: the flattened input position of each maximum
    (row-major, or column-major within each plane with storage_order=1)."""
    shape, k, s, pads, d, order = case
    rng = np.random.default_rng(len(shape) + k[0])
    x = rng.permutation(np.prod(shape)).reshape(shape).astype(np.float32)  # distinct values: a unique argmax
    node = helper.make_node("MaxPool", ["x"], ["y", "i"], name="mp", kernel_shape=k, strides=s, pads=pads,
                            dilations=d, storage_order=order)
    model = make_model([node], {"x": x}, ["y", "i"], opset=12)
    check_model(model, {"x": x}, isa=isa)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_pool_pads_beyond_input_plus_window_refused(op, layout, monkeypatch):
    """Up to the input plus one window the ONNX rule holds (above); beyond it
    every added window is padding only, and a crafted pad (2^20 rows around 8,
    found by the fuzzer) bought minutes of work per run: a ModelLoadError
    naming the node. 8 + 3 = 11 is the last pad allowed here."""
    monkeypatch.setenv("CNNRT_LAYOUT", layout)
    x = feed([1, 3, 8, 8])
    ok = pool_attrs(2, 3, 1, pads=[11, 0, 0, 0])
    assert run_cnnrt(pool_model(op, [1, 3, 8, 8], ok), x)[0].shape == (1, 3, 17, 6)
    bad = pool_attrs(2, 3, 1, pads=[12, 0, 0, 0])
    with pytest.raises(cnnrt.ModelLoadError, match=r"(?s)pool.*wholly in the padding"):
        run_cnnrt(pool_model(op, [1, 3, 8, 8], bad), x)
    huge = pool_attrs(2, 3, 2, pads=[1 << 20, 1, 1, 1])
    with pytest.raises(cnnrt.ModelLoadError, match="exceed the input"):
        run_cnnrt(pool_model(op, [1, 3, 8, 8], huge), x)
