"""concat_in_place: a channel Concat of NHWC convolutions becomes convolutions
that write their channels straight into the joined tensor (cnnrt_concat +
input 4), numerics unchanged (vs onnxruntime), and only where every input is
a convolution output read by nothing else."""
import numpy as np
import pytest
from onnx import helper

import cnnrt
from cnnrt import _core
from cnnrt.onnx_import import read_model, to_ir
from cnnrt.passes import run_pipeline
from helpers import assert_close, check_model, make_model, run_ort

RNG = np.random.default_rng(7)


def _w(oc, c, k):
    return (RNG.standard_normal((oc, c, k, k)) * 0.2).astype(np.float32)


def _fire(x_shape=(1, 16, 13, 11), e1=24, e3=40, k3=3, group3=1, extra_use=False, as_output=False, opset=17):
    """squeeze 1x1 -> (expand 1x1, expand kxk) -> Concat(axis 1) -> Relu."""
    c = x_shape[1]
    x = RNG.standard_normal(x_shape).astype(np.float32)
    inits = {"ws": _w(8, c, 1), "bs": RNG.standard_normal(8).astype(np.float32),
             "w1": _w(e1, 8, 1), "b1": RNG.standard_normal(e1).astype(np.float32),
             "w3": _w(e3, 8 // group3, k3), "b3": RNG.standard_normal(e3).astype(np.float32)}
    nodes = [
        helper.make_node("Conv", ["x", "ws", "bs"], ["s0"], name="squeeze"),
        helper.make_node("Relu", ["s0"], ["s"], name="squeeze_relu"),
        helper.make_node("Conv", ["s", "w1", "b1"], ["a0"], name="expand1"),
        helper.make_node("Relu", ["a0"], ["a"], name="expand1_relu"),
        helper.make_node("Conv", ["s", "w3", "b3"], ["b0"], name="expand3", pads=[k3 // 2] * 4, group=group3),
        helper.make_node("Relu", ["b0"], ["b"], name="expand3_relu"),
        helper.make_node("Concat", ["a", "b"], ["cat"], name="cat", axis=1),
        helper.make_node("Conv", ["cat", "wn"], ["y"], name="next", pads=[1, 1, 1, 1]),
    ]
    inits["wn"] = _w(5, e1 + e3, 3)
    outputs = ["y"]
    if extra_use:
        nodes.append(helper.make_node("Sigmoid", ["a"], ["side"], name="side"))
        outputs.append("side")
    if as_output:
        outputs.append("b")
    return make_model(nodes, {"x": x}, outputs, inits, opset=opset), x


@pytest.fixture(autouse=True)
def default_layout(monkeypatch):
    monkeypatch.delenv("CNNRT_LAYOUT", raising=False)


def _ops(model):
    proto, _, label = read_model(model)
    g = run_pipeline(to_ir(proto, label))
    return [n.op for n in g.nodes], g


@pytest.mark.parametrize("k3,group3", [(3, 1), (1, 1), (5, 1), (3, 2), (3, 8)], ids=["wino3x3", "1x1", "5x5", "g2", "depthwise"])
def test_fire_module_writes_in_place(isa, k3, group3):
    e3 = 40 if group3 != 8 else 8
    model, x = _fire(e3=e3, k3=k3, group3=group3)
    ops, g = _ops(model)
    assert "Concat" not in ops, ops
    assert "concat_in_place" in g.applied
    cats = [n.attrs["cnnrt_concat"] for n in g.nodes if "cnnrt_concat" in n.attrs]
    assert cats == [[0, 24 + e3], [24, 24 + e3]]
    check_model(model, {"x": x}, isa=isa)


def test_three_way_inception_block(isa):
    x = RNG.standard_normal((1, 12, 9, 9)).astype(np.float32)
    inits = {"w1": _w(8, 12, 1), "w2": _w(16, 12, 3), "w3": _w(4, 12, 5), "w4": _w(6, 12, 1)}
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], name="b1"),
        helper.make_node("Conv", ["x", "w2"], ["b"], name="b2", pads=[1] * 4),
        helper.make_node("Conv", ["x", "w3"], ["c"], name="b3", pads=[2] * 4),
        helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[3, 3], pads=[1] * 4, strides=[1, 1]),
        helper.make_node("Conv", ["p", "w4"], ["d"], name="b4"),
        helper.make_node("Concat", ["a", "b", "c", "d"], ["y0"], name="cat", axis=1),
        helper.make_node("Relu", ["y0"], ["y"], name="relu"),
    ]
    model = make_model(nodes, {"x": x}, ["y"], inits)
    ops, g = _ops(model)
    assert "Concat" not in ops
    assert [n.attrs["cnnrt_concat"] for n in g.nodes if "cnnrt_concat" in n.attrs] == [[0, 34], [8, 34], [24, 34], [28, 34]]
    check_model(model, {"x": x}, isa=isa)


@pytest.mark.parametrize("case", ["extra_use", "as_output"])
def test_left_alone_when_an_input_is_read_elsewhere(case):
    model, x = _fire(**{case: True})
    ops, g = _ops(model)
    assert "Concat" in ops and "concat_in_place" not in g.applied
    check_model(model, {"x": x})


def test_left_alone_for_nchw_and_other_axes():
    model, x = _fire(x_shape=(1, 16, 1, 1), k3=1)  # H = W = 1 still runs NHWC
    check_model(model, {"x": x})
    x = RNG.standard_normal((1, 4, 6, 6)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="c1"),
             helper.make_node("Conv", ["x", "w2"], ["b"], name="c2"),
             helper.make_node("Concat", ["a", "b"], ["y"], name="cat", axis=2)]  # along H
    model = make_model(nodes, {"x": x}, ["y"], {"w1": _w(3, 4, 1), "w2": _w(3, 4, 1)})
    ops, _ = _ops(model)
    assert "Concat" in ops
    check_model(model, {"x": x})


def test_dynamic_batch_and_sizes():
    model, x = _fire()
    m = model
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    m.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "H"
    m.graph.input[0].type.tensor_type.shape.dim[3].dim_param = "W"
    del m.graph.value_info[:]
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    sess = cnnrt.load(m.SerializeToString())
    for shape in [(1, 16, 13, 11), (3, 16, 7, 9), (2, 16, 20, 4)]:
        xx = RNG.standard_normal(shape).astype(np.float32)
        ref = run_ort(m, {"x": xx})
        got = sess.run(None, {"x": xx})
        for a, b in zip(got, ref):
            assert_close(a, b)


def test_conv_copies_into_when_the_planner_cannot_alias():
    # `into` is a graph input here (not an arena buffer): the op copies it into
    # its output, then writes its own channels.
    w = _w(3, 2, 1)
    x = RNG.standard_normal((1, 4, 5, 2)).astype(np.float32)       # NHWC
    into = RNG.standard_normal((1, 4, 5, 7)).astype(np.float32)
    values = [("x", 1, [1, 4, 5, 2]), ("w", 1, [3, 2, 1, 1]), ("into", 1, [1, 4, 5, 7]), ("y", 1, None)]
    nodes = [("Conv", "c", [0, 1, -1, -1, 2], [3], {"cnnrt_layout": 1, "cnnrt_concat": [2, 7]})]
    sess = _core.Session("t", values, nodes, [0, 2], [3], {1: w}, 1)
    (y,) = sess.run([x, into])
    want = into.copy()
    want[..., 2:5] = np.einsum("nhwc,oc->nhwo", x, w[:, :, 0, 0])
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("attr,msg", [([5, 4], "cnnrt_concat"), ([0], "cnnrt_concat"), ([2, 4], "cnnrt_concat")])
def test_bad_concat_attribute(attr, msg):
    w = _w(3, 2, 1)
    values = [("x", 1, [1, 4, 5, 2]), ("w", 1, [3, 2, 1, 1]), ("y", 1, None)]
    nodes = [("Conv", "c", [0, 1], [2], {"cnnrt_layout": 1, "cnnrt_concat": attr})]
    with pytest.raises(cnnrt.ModelLoadError, match=msg):
        _core.Session("t", values, nodes, [0], [2], {1: w}, 1)
