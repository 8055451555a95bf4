"""InstanceNormalization, LayerNormalization and GroupNormalization vs
onnxruntime: ranks 3-5 (and 1-2 for LayerNorm), odd sizes, batch 1 and 3,
epsilon, every LayerNorm axis (negative too) with and without B and with the
optional Mean/InvStdDev outputs, broadcast Scale/B, GroupNormalization's
opset 18 (per-group scale/bias) and 21 (per-channel) forms, large offsets
(two-pass variance), threads, a Conv in front (layout pass), every ISA path;
bad inputs name the node."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import cnnrt
from helpers import assert_load_error, check_model, make_model, tensor_value


def rnd(shape, seed, scale=1.0, shift=0.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape) + shift).astype(np.float32)


# ------------------------------------------------------------ Instance

INST_SHAPES = [[1, 1, 1], [1, 3, 7], [3, 5, 9], [3, 4, 5, 7], [1, 17, 3, 3], [2, 3, 2, 3, 5], [3, 2, 33, 31]]


def inst_model(shape, opset, eps=None, const=True):
    C = shape[1]
    attrs = {} if eps is None else {"epsilon": eps}
    node = helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], name="in0", **attrs)
    s, b = rnd([C], 1), rnd([C], 2)
    if const:
        return make_model([node], {"x": np.zeros(shape, np.float32)}, ["y"], {"s": s, "b": b}, opset=opset), {}
    return make_model([node], {"x": np.zeros(shape, np.float32), "s": s, "b": b}, ["y"], opset=opset), {"s": s, "b": b}


@pytest.mark.parametrize("shape", INST_SHAPES)
@pytest.mark.parametrize("opset", [7, 22])
def test_instance_norm(isa, shape, opset):
    m, extra = inst_model(shape, opset)
    check_model(m, {"x": rnd(shape, 0, 3.0, 0.5), **extra}, isa=isa)


@pytest.mark.parametrize("eps", [0.0, 1e-5, 0.3])
@pytest.mark.parametrize("const", [True, False])
def test_instance_norm_eps_and_inputs(eps, const):
    shape = [3, 4, 5, 7]
    m, extra = inst_model(shape, 17, eps, const)
    check_model(m, {"x": rnd(shape, 3), **extra})


def oracle_check(got, ref):
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max() + 1e-5, np.abs(got - ref).max()


def test_instance_norm_large_offset_threads():
    """Mean 1000, spread 0.01, against a float64 numpy oracle (onnxruntime's
    float32 result is 2e-3 relative off here; cnnrt works on x - x[0])."""
    shape = [3, 8, 40, 41]
    m, _ = inst_model(shape, 17)
    x = rnd(shape, 4, 0.01, 1000.0)
    init = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
    x64 = x.astype(np.float64)
    ref = (x64 - x64.mean((2, 3), keepdims=True)) / np.sqrt(x64.var((2, 3), keepdims=True) + 1e-5)
    ref = ref * init["s"].reshape(1, -1, 1, 1) + init["b"].reshape(1, -1, 1, 1)
    oracle_check(cnnrt.load(m, threads=2).run(None, {"x": x})[0], ref)
    check_model(m, {"x": rnd(shape, 4, 3.0, 1.0)}, threads=2)


# ------------------------------------------------------------ Layer

LN_SHAPES = [[7], [3, 17], [2, 5, 3], [3, 4, 5, 7], [1, 3, 1, 4, 5]]
LN_CASES = [(s, a) for s in LN_SHAPES for a in range(-len(s), len(s))]


def ln_model(shape, axis, bias=True, stats=0, eps=None, sshape=None, bshape=None, opset=17, const=True):
    ax = axis if axis is not None else -1
    norm = shape[(ax % len(shape)):]
    sshape = norm if sshape is None else sshape
    bshape = norm if bshape is None else bshape
    attrs = {}
    if axis is not None:
        attrs["axis"] = axis
    if eps is not None:
        attrs["epsilon"] = eps
    outs = ["y", "mean", "inv"][: 1 + stats]
    ins = ["x", "s"] + (["b"] if bias else [])
    node = helper.make_node("LayerNormalization", ins, outs, name="ln0", **attrs)
    params = {"s": rnd(sshape, 1, 1.0, 1.0)}
    if bias:
        params["b"] = rnd(bshape, 2)
    if const:
        return make_model([node], {"x": np.zeros(shape, np.float32)}, outs, params, opset=opset), {}
    return make_model([node], {"x": np.zeros(shape, np.float32), **params}, outs, opset=opset), params


@pytest.mark.parametrize("shape,axis", LN_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_axes(isa, shape, axis, bias):
    m, _ = ln_model(shape, axis, bias)
    check_model(m, {"x": rnd(shape, len(shape) + axis, 2.0, -1.0)}, isa=isa)


@pytest.mark.parametrize("stats", [1, 2])
@pytest.mark.parametrize("shape,axis", [([3, 17], -1), ([2, 5, 3], 1), ([3, 4, 5, 7], -3), ([3, 4, 5, 7], 0)])
def test_layer_norm_stats_outputs(shape, axis, stats):
    m, _ = ln_model(shape, axis, stats=stats)
    check_model(m, {"x": rnd(shape, 5, 2.0, 3.0)})


@pytest.mark.parametrize("opset", [17, 22])
@pytest.mark.parametrize("eps", [None, 0.0, 0.25])
def test_layer_norm_default_axis_eps(opset, eps):
    shape = [3, 6, 13]
    m, _ = ln_model(shape, None, eps=eps, opset=opset)
    check_model(m, {"x": rnd(shape, 6)})


@pytest.mark.parametrize("sshape,bshape", [([1], [1]), ([7], [1]), ([1, 7], [5, 7]), ([5, 1], [7]), ([5, 7], [])])
def test_layer_norm_broadcast_params(sshape, bshape):
    shape = [3, 4, 5, 7]
    m, _ = ln_model(shape, -2, sshape=sshape, bshape=bshape)
    check_model(m, {"x": rnd(shape, 7)})


def test_layer_norm_runtime_params_threads():
    shape = [3, 64, 33, 17]
    m, extra = ln_model(shape, 2, stats=2, const=False)
    check_model(m, {"x": rnd(shape, 8, 2.0, 1.0), **extra}, threads=2)
    # Mean 1000, spread 0.01: float64 oracle.
    x = rnd(shape, 8, 0.01, 1000.0)
    got = cnnrt.load(m, threads=2).run(None, {"x": x, **extra})
    x64 = x.astype(np.float64)
    mu = x64.mean((2, 3), keepdims=True)
    inv = 1 / np.sqrt(x64.var((2, 3), keepdims=True) + 1e-5)
    oracle_check(got[0], (x64 - mu) * inv * extra["s"] + extra["b"])
    oracle_check(got[1], mu)
    oracle_check(got[2], inv)


# ------------------------------------------------------------ Group

GN_CASES = [([1, 4, 5], 2), ([3, 6, 7, 5], 3), ([3, 6, 7, 5], 1), ([3, 6, 7, 5], 6), ([1, 9, 3, 3, 3], 3),
            ([3, 32, 9, 11], 8), ([2, 15, 1, 1], 5)]


def gn_model(shape, groups, opset, eps=None, const=True):
    C = shape[1]
    n = groups if opset < 21 else C
    attrs = {"num_groups": groups}
    if eps is not None:
        attrs["epsilon"] = eps
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], name="gn0", **attrs)
    params = {"s": rnd([n], 1, 1.0, 1.0), "b": rnd([n], 2)}
    y = tensor_value("y", TensorProto.FLOAT, shape)  # onnx infers no type through the function op
    if const:
        return make_model([node], {"x": np.zeros(shape, np.float32)}, [y], params, opset=opset), {}
    return make_model([node], {"x": np.zeros(shape, np.float32), **params}, [y], opset=opset), params


def gn_reference(x, s, b, groups, eps, per_channel):
    """numpy, float64: the op's definition, a second oracle next to
    onnxruntime (which runs GroupNormalization as its function body)."""
    N, C = x.shape[:2]
    xg = x.reshape(N, groups, -1).astype(np.float64)
    y = (xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + eps)
    y = y.reshape(x.shape)
    shp = [1, C] + [1] * (x.ndim - 2)
    if per_channel:
        return y * s.reshape(shp) + b.reshape(shp)
    rep = C // groups
    return y * np.repeat(s, rep).reshape(shp) + np.repeat(b, rep).reshape(shp)


@pytest.mark.parametrize("shape,groups", GN_CASES)
@pytest.mark.parametrize("opset", [18, 21])
def test_group_norm(isa, shape, groups, opset):
    m, _ = gn_model(shape, groups, opset)
    x = rnd(shape, 9, 2.0, 0.5)
    got, _ = check_model(m, {"x": x}, isa=isa)
    init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    oracle_check(got[0], gn_reference(x, init["s"], init["b"], groups, 1e-5, opset >= 21))


@pytest.mark.parametrize("opset", [18, 21])
@pytest.mark.parametrize("eps", [0.0, 0.5])
def test_group_norm_eps_runtime_params(opset, eps):
    shape = [3, 6, 5, 7]
    m, extra = gn_model(shape, 3, opset, eps=eps, const=False)
    check_model(m, {"x": rnd(shape, 10), **extra})


def test_group_norm_threads_large_offset():
    shape = [3, 32, 33, 35]
    m, _ = gn_model(shape, 8, 21)
    check_model(m, {"x": rnd(shape, 11, 2.0, 1.0)}, threads=2)
    x = rnd(shape, 11, 0.01, 1000.0)
    init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    oracle_check(cnnrt.load(m, threads=2).run(None, {"x": x})[0], gn_reference(x, init["s"], init["b"], 8, 1e-5, True))


# ------------------------------------------------------------ after a Conv

@pytest.mark.parametrize("op", ["InstanceNormalization", "GroupNormalization"])
def test_norm_after_conv(layout, op):
    """The layout pass hands these ops NCHW whatever the conv region uses."""
    x = rnd([3, 3, 11, 9], 12)
    w = rnd([8, 3, 3, 3], 13)
    attrs = {"num_groups": 4} if op == "GroupNormalization" else {}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node(op, ["c", "s", "b"], ["n"], name="norm", **attrs),
             helper.make_node("Relu", ["n"], ["y"], name="relu")]
    y = tensor_value("y", TensorProto.FLOAT, [3, 8, 11, 9])
    m = make_model(nodes, {"x": x}, [y], {"w": w, "s": rnd([8], 14), "b": rnd([8], 15)}, opset=21)
    check_model(m, {"x": x})


# ------------------------------------------------------------ errors

def test_instance_norm_bad_scale():
    shape = [2, 3, 4, 4]
    node = helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], name="in_bad")
    m = make_model([node], {"x": np.zeros(shape, np.float32)}, ["y"], {"s": rnd([4], 1), "b": rnd([3], 2)}, opset=17)
    assert_load_error(m, {"x": rnd(shape, 0)}, "in_bad", "scale", "[3]")


def test_instance_norm_rank2_refused():
    node = helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], name="in_r2")
    m = make_model([node], {"x": np.zeros([2, 3], np.float32)}, ["y"], {"s": rnd([3], 1), "b": rnd([3], 2)}, opset=17)
    assert_load_error(m, {"x": rnd([2, 3], 0)}, "in_r2", "rank")


def test_group_norm_groups_not_dividing():
    shape = [2, 6, 4, 4]
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], name="gn_bad", num_groups=4)
    m = make_model([node], {"x": np.zeros(shape, np.float32)}, ["y"], {"s": rnd([6], 1), "b": rnd([6], 2)}, opset=21)
    assert_load_error(m, {"x": rnd(shape, 0)}, "gn_bad", "num_groups 4", "6 channels")


def test_group_norm_opset18_per_channel_scale_refused():
    """Opset 18 takes one scale per group: a per-channel vector is an error."""
    shape = [2, 6, 4, 4]
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], name="gn18", num_groups=3)
    m = make_model([node], {"x": np.zeros(shape, np.float32)}, ["y"], {"s": rnd([6], 1), "b": rnd([6], 2)}, opset=18)
    assert_load_error(m, {"x": rnd(shape, 0)}, "gn18", "[3]", "per group")


def test_layer_norm_bad_axis_and_scale():
    shape = [2, 3, 4]
    node = helper.make_node("LayerNormalization", ["x", "s"], ["y"], name="ln_ax", axis=3)
    m = make_model([node], {"x": np.zeros(shape, np.float32)}, ["y"], {"s": rnd([4], 1)}, opset=17)
    assert_load_error(m, {"x": rnd(shape, 0)}, "ln_ax", "axis 3")
    node = helper.make_node("LayerNormalization", ["x", "s"], ["y"], name="ln_sc", axis=-1)
    m = make_model([node], {"x": np.zeros(shape, np.float32)}, ["y"], {"s": rnd([3], 1)}, opset=17)
    assert_load_error(m, {"x": rnd(shape, 0)}, "ln_sc", "Scale", "[3]")


def test_layer_norm_stash_type_refused():
    node = helper.make_node("LayerNormalization", ["x", "s"], ["y"], name="ln_st", stash_type=11)
    m = make_model([node], {"x": np.zeros([2, 3], np.float32)}, ["y"], {"s": rnd([3], 1)}, opset=17)
    with pytest.raises(cnnrt.UnsupportedOpError) as e:
        cnnrt.load(m).run(None, {"x": rnd([2, 3], 0)})
    assert "ln_st" in str(e.value) and "stash_type" in str(e.value)
