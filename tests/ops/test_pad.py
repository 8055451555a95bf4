"""Pad vs onnxruntime: modes constant/reflect/edge/wrap, pads as attributes
(opset 7/2-10 form) and as an input (11, 13, 18 with axes, 19 with wrap, 21,
23, 25),
constant_value as a constant or a run-time input, negative pads (cropping),
negative axes, float32/int64/bool data, large feature maps over 2 threads;
a bad mode or bad pads raise ModelLoadError naming the node."""
import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import assert_load_error, check_model, make_model, random_data

MODES = ["constant", "reflect", "edge", "wrap"]
PADS = {  # per (N, C, H, W): begins then ends
    "hw": [0, 0, 1, 2, 0, 0, 2, 1],
    "w_only": [0, 0, 0, 3, 0, 0, 0, 1],
    "c_and_h": [0, 1, 2, 0, 0, 2, 1, 0],
    "all": [1, 1, 1, 1, 1, 1, 1, 1],
    "none": [0] * 8,
    "crop": [0, 0, -1, 1, 0, 0, 2, -2],
    "crop_only": [0, -1, -1, 0, 0, 0, -2, -1],
}
SHAPE = (2, 3, 5, 6)


def pad_model(x, pads, mode, opset, value=None, axes=None, value_input=False):
    inits, ins = {}, ["x"]
    attrs = {"mode": mode}
    if opset < 11:
        attrs["pads"] = pads
        if value is not None:
            attrs["value"] = float(value)
    else:
        inits["pads"] = np.array(pads, np.int64)
        ins.append("pads")
        if value is not None:
            ins.append("cv")
            if not value_input:
                inits["cv"] = np.array(value, x.dtype)
        elif axes is not None:
            ins.append("")
        if axes is not None:
            inits["axes"] = np.array(axes, np.int64)
            ins.append("axes")
    feeds = {"x": x}
    if value_input:
        feeds["cv"] = np.array(value, x.dtype)
    node = helper.make_node("Pad", ins, ["y"], name="pad", **attrs)
    return make_model([node], feeds, ["y"], inits, opset=opset), feeds


# wrap exists from opset 19; onnxruntime takes negative pads from opset 11.
MODE_CASES = [(o, m, p) for o in [7, 11, 13, 18, 19, 21, 23, 25] for m in MODES for p in PADS
              if not (m == "wrap" and o < 19) and not (p.startswith("crop") and o < 11)]


@pytest.mark.parametrize("opset,mode,pads", MODE_CASES, ids=[f"op{o}-{m}-{p}" for o, m, p in MODE_CASES])
def test_pad_modes(opset, mode, pads):
    x = random_data(SHAPE, np.float32, 1)
    value = 1.5 if mode == "constant" and opset != 13 else None
    model, feeds = pad_model(x, PADS[pads], mode, opset, value=value)
    check_model(model, feeds)


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect"])
def test_pad_dtypes(dtype, mode):
    x = random_data((3, 4, 5), dtype, 2)
    value = {np.float32: -2.0, np.int64: 7, np.bool_: True}[dtype] if mode == "constant" else None
    model, feeds = pad_model(x, [1, 0, 2, 0, 3, 1], mode, 13, value=value)
    check_model(model, feeds)


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_pad_value_input_at_run_time(dtype):
    """constant_value fed as a graph input: read when the kernel runs."""
    x = random_data((2, 3, 4), dtype, 3)
    model, feeds = pad_model(x, [0, 1, 1, 0, 2, 1], "constant", 13, value=dtype(3), value_input=True)
    check_model(model, feeds)
    sess = cnnrt.load(model, threads=1)
    feeds["cv"] = np.array(-5, dtype)
    y = sess.run(None, feeds)[0]
    np.testing.assert_array_equal(y, np.pad(x, [(0, 0), (1, 2), (1, 1)], constant_values=-5))


@pytest.mark.parametrize("axes", [[2, 3], [-1, -2], [1], [-3, 0]])
@pytest.mark.parametrize("mode", MODES)
def test_pad_axes_opset18(axes, mode):
    x = random_data(SHAPE, np.float32, 4)
    pads = [1, 0][: len(axes)] + [1, 1][: len(axes)]
    model, feeds = pad_model(x, pads, mode, 19, value=0.25 if mode == "constant" else None, axes=axes)
    check_model(model, feeds)


@pytest.mark.parametrize("shape", [(7,), (1, 1), (4, 1, 3), (2, 3, 4, 5, 3)])
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad_ranks(shape, mode):
    x = random_data(shape, np.float32, 5)
    r = len(shape)
    pads = [min(1, d - 1) if mode == "reflect" else 1 for d in shape] + [0] * (r - 1) + [min(2, shape[-1] - 1) if mode == "reflect" else 2]
    model, feeds = pad_model(x, pads, mode, 13)
    check_model(model, feeds)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("mode", MODES)
def test_pad_large_feature_map(threads, mode):
    x = random_data((2, 32, 57, 61), np.float32, 6)
    model, feeds = pad_model(x, [0, 0, 1, 3, 0, 0, 2, 1], mode, 19)
    check_model(model, feeds, threads=threads)


def test_pad_reflect_wider_than_input_numpy():
    """reflect by more than dim - 1 (onnxruntime refuses it): numpy's repeated reflection."""
    x = random_data((2, 3), np.float32, 7)
    model, feeds = pad_model(x, [0, 4, 0, 5], "reflect", 13)
    y = cnnrt.load(model, threads=1).run(None, feeds)[0]
    np.testing.assert_array_equal(y, np.pad(x, [(0, 0), (4, 5)], mode="reflect"))


def test_pad_bad_mode():
    x = random_data((2, 3), np.float32, 0)
    model, feeds = pad_model(x, [0, 1, 0, 1], "symmetric", 13)
    assert_load_error(model, feeds, "pad", "mode", "symmetric")


def test_pad_bad_pads():
    x = random_data((2, 3), np.float32, 0)
    model, feeds = pad_model(x, [0, 1, 0], "constant", 13)
    assert_load_error(model, feeds, "pad", "pads")
    model, feeds = pad_model(x, [0, -2, 0, -2], "constant", 13)
    assert_load_error(model, feeds, "pad", "crop")
    model, feeds = pad_model(x, [0, -3, 0, 1], "edge", 13)
    assert_load_error(model, feeds, "pad", "nothing of it is left")
