"""fold_pad: a zero Pad on the spatial axes in front of a Conv becomes the
Conv's pads (opset 7 attribute form, 11/13 inputs, 18 with axes), adding to
the Conv's own pads; every other Pad stays (reflect/edge, a non-zero value,
batch/channel or negative pads, a second consumer, auto_pad SAME_*).
Numerics against onnxruntime through the whole pipeline; between two
convolutions the folded graph has no NCHW round trip left."""
import numpy as np
import pytest
from onnx import helper

from cnnrt.onnx_import import read_model, to_ir
from cnnrt.passes import PIPELINE, fold_constants, fold_pad, run_pipeline
from helpers import check_model, make_model


def ir(model):
    proto, _, label = read_model(model)
    return fold_constants(to_ir(proto, label))


def ops(graph):
    return [n.op for n in graph.nodes]


def pad_conv(pads, opset=13, mode="constant", value=None, axes=None, conv_attrs=None, extra_consumer=False):
    rng = np.random.default_rng(0)
    inits = {"w": (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)}
    attrs = {"mode": mode}
    ins = ["x"]
    if opset < 11:
        attrs["pads"] = pads
        if value is not None:
            attrs["value"] = value
    else:
        inits["pads"] = np.array(pads, np.int64)
        ins.append("pads")
        if value is not None or axes is not None:
            ins.append("cv" if value is not None else "")
            if value is not None:
                inits["cv"] = np.array(value, np.float32)
        if axes is not None:
            inits["axes"] = np.array(axes, np.int64)
            ins.append("axes")
    nodes = [helper.make_node("Pad", ins, ["p"], name="pad", **attrs),
             helper.make_node("Conv", ["p", "w"], ["y"], name="conv", **(conv_attrs or {}))]
    outs = ["y"]
    if extra_consumer:
        nodes.append(helper.make_node("Relu", ["p"], ["r"], name="relu"))
        outs.append("r")
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    return make_model(nodes, {"x": x}, outs, inits, opset=opset), {"x": x}


FOLDS = [
    ("op11", dict(pads=[0, 0, 1, 2, 0, 0, 2, 1])),
    ("op7_attr", dict(pads=[0, 0, 1, 1, 0, 0, 1, 1], opset=7)),
    ("op7_attr_value0", dict(pads=[0, 0, 0, 1, 0, 0, 1, 0], opset=7, value=0.0)),
    ("value0_input", dict(pads=[0, 0, 1, 0, 0, 0, 0, 1], value=0.0)),
    ("axes18", dict(pads=[1, 0, 2, 1], opset=18, axes=[2, 3])),
    ("neg_axes18", dict(pads=[1, 2], opset=18, axes=[-1])),
    ("conv_pads_add", dict(pads=[0, 0, 1, 0, 0, 0, 0, 1], conv_attrs={"pads": [1, 1, 1, 1], "strides": [2, 2]})),
    ("conv_valid", dict(pads=[0, 0, 1, 1, 0, 0, 1, 1], conv_attrs={"auto_pad": "VALID"})),
]


@pytest.mark.parametrize("name,kw", FOLDS, ids=[f[0] for f in FOLDS])
def test_fold_pad(name, kw):
    model, feeds = pad_conv(**kw)
    g = fold_pad(ir(model))
    assert ops(g) == ["Conv"], ops(g)
    assert "fold_pad" in g.applied
    check_model(model, feeds)


KEEPS = [
    ("reflect", dict(pads=[0, 0, 1, 1, 0, 0, 1, 1], mode="reflect")),
    ("edge", dict(pads=[0, 0, 1, 1, 0, 0, 1, 1], mode="edge")),
    ("value", dict(pads=[0, 0, 1, 1, 0, 0, 1, 1], value=1.0)),
    ("attr_value", dict(pads=[0, 0, 1, 1, 0, 0, 1, 1], opset=7, value=0.5)),
    ("negative", dict(pads=[0, 0, -1, 1, 0, 0, 1, 1])),
    ("second_consumer", dict(pads=[0, 0, 1, 1, 0, 0, 1, 1], extra_consumer=True)),
    ("same_upper", dict(pads=[0, 0, 1, 1, 0, 0, 1, 1], conv_attrs={"auto_pad": "SAME_UPPER"})),
]


@pytest.mark.parametrize("name,kw", KEEPS, ids=[k[0] for k in KEEPS])
def test_pad_kept(name, kw):
    model, feeds = pad_conv(**kw)
    g = fold_pad(ir(model))
    assert "Pad" in ops(g)
    assert "fold_pad" not in g.applied
    check_model(model, feeds)


def test_pad_on_channels_kept():
    """Channel padding changes the conv's input channels: not a conv pad (and
    the weight no longer matches, so only the pass is checked)."""
    model, _ = pad_conv([0, 1, 1, 1, 0, 0, 1, 1])
    assert "Pad" in ops(fold_pad(ir(model)))


def test_pad_between_convs_no_layout_round_trip():
    """Conv -> Pad -> Conv: once folded, the NHWC region is not cut by an
    NCHW Pad (no Transpose between the convolutions)."""
    rng = np.random.default_rng(1)
    inits = {"w1": (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32),
             "w2": (rng.standard_normal((8, 8, 3, 3)) * 0.3).astype(np.float32),
             "pads": np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64)}
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="c1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a"], ["b"], name="r1"),
             helper.make_node("Pad", ["b", "pads"], ["p"], name="pad"),
             helper.make_node("Conv", ["p", "w2"], ["y"], name="c2", strides=[2, 2])]
    x = rng.standard_normal((1, 3, 16, 16)).astype(np.float32)
    model = make_model(nodes, {"x": x}, ["y"], inits, opset=13)
    g = run_pipeline(ir(model), PIPELINE)
    if "layout" in g.applied:
        assert ops(g).count("Transpose") == 2, ops(g)  # into the region and out of it, nothing in between
    assert "Pad" not in ops(g)
    check_model(model, {"x": x})
