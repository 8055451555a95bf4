"""DepthToSpace (DCR and CRD, opsets 7/1, 11, 13, 28) and SpaceToDepth (7,
13, 28; its CRD mode, new in 28, vs numpy) vs onnxruntime: block sizes 1-4, channels and sizes
not multiples of the vector width, float32 (int64/bool vs onnx's reference
evaluator), batch > 1, large
over 2 threads; channels not divisible by blocksize^2 (or spatial dims by
blocksize), a bad mode and a missing blocksize raise ModelLoadError naming
the node."""
import numpy as np
import pytest
from onnx import helper

import cnnrt
from onnx.reference import ReferenceEvaluator

from helpers import assert_close, assert_load_error, check_model, make_model, random_data, run_cnnrt


def check(model, feeds, dtype):
    """onnxruntime for float32; its CPU kernels lack int64/bool DepthToSpace
    and SpaceToDepth, so those are checked against onnx's reference evaluator."""
    if dtype == np.float32:
        check_model(model, feeds)
    else:
        assert_close(run_cnnrt(model, feeds)[0], ReferenceEvaluator(model).run(None, feeds)[0])


def d2s_model(x, b, opset, mode=None, op="DepthToSpace"):
    attrs = {"blocksize": b}
    if mode is not None:
        attrs["mode"] = mode
    node = helper.make_node(op, ["x"], ["y"], name="d2s", **attrs)
    return make_model([node], {"x": x}, ["y"], opset=opset), {"x": x}


D2S = [(1, (1, 3, 4, 5)), (2, (1, 8, 3, 5)), (2, (2, 12, 4, 3)), (3, (1, 18, 2, 7)), (4, (2, 16, 3, 3)), (2, (1, 4, 1, 1))]
D2S_CASES = [(o, m, k) for o in (7, 11, 13, 28) for m in ([None] if o < 11 else [None, "DCR", "CRD"]) for k in range(len(D2S))]


@pytest.mark.parametrize("opset,mode,case", D2S_CASES, ids=[f"op{o}-{m}-{k}" for o, m, k in D2S_CASES])
def test_depth_to_space(opset, mode, case):
    b, shape = D2S[case]
    x = random_data(shape, np.float32, case)
    model, feeds = d2s_model(x, b, opset, mode)
    check_model(model, feeds)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space_dtypes(dtype, mode):
    x = random_data((2, 12, 3, 4), dtype, 1)
    model, feeds = d2s_model(x, 2, 13, mode)
    check(model, feeds, dtype)


S2D = [(1, (1, 3, 4, 5)), (2, (1, 3, 4, 6)), (2, (2, 5, 8, 2)), (3, (1, 2, 9, 6)), (4, (1, 1, 8, 12))]


@pytest.mark.parametrize("opset", [7, 13, 28])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", range(len(S2D)))
def test_space_to_depth(opset, dtype, case):
    b, shape = S2D[case]
    x = random_data(shape, dtype, case)
    model, feeds = d2s_model(x, b, opset, op="SpaceToDepth")
    check(model, feeds, dtype)


@pytest.mark.parametrize("case", range(len(S2D)))
def test_space_to_depth_crd_opset28(case):
    """CRD (opset 28, newer than onnxruntime's CPU kernels): numpy reference,
    the inverse of DepthToSpace CRD."""
    b, (n, c, h, w) = S2D[case]
    x = random_data((n, c, h, w), np.float32, case)
    model, feeds = d2s_model(x, b, 28, "CRD", op="SpaceToDepth")
    y = cnnrt.load(model, threads=1).run(None, feeds)[0]
    ref = x.reshape(n, c, h // b, b, w // b, b).transpose(0, 1, 3, 5, 2, 4).reshape(n, c * b * b, h // b, w // b)
    np.testing.assert_array_equal(y, ref)
    # and DepthToSpace CRD takes it back
    back, _ = d2s_model(y, b, 13, "CRD")
    np.testing.assert_array_equal(cnnrt.load(back, threads=1).run(None, {"x": y})[0], x)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_space_large(threads, mode):
    x = random_data((1, 64, 56, 56), np.float32, 3)
    model, feeds = d2s_model(x, 2, 13, mode)
    check_model(model, feeds, threads=threads)
    model, feeds = d2s_model(x, 4, 13, op="SpaceToDepth")
    check_model(model, feeds, threads=threads)


def test_depth_to_space_channels_not_divisible():
    x = random_data((1, 6, 2, 2), np.float32, 0)
    model, feeds = d2s_model(x, 2, 13, "DCR")
    assert_load_error(model, feeds, "d2s", "not divisible")


def test_space_to_depth_size_not_divisible():
    x = random_data((1, 2, 5, 4), np.float32, 0)
    model, feeds = d2s_model(x, 2, 13, op="SpaceToDepth")
    assert_load_error(model, feeds, "d2s", "not divisible")


def test_depth_to_space_bad_mode_and_blocksize():
    x = random_data((1, 8, 2, 2), np.float32, 0)
    model, feeds = d2s_model(x, 2, 13, "XYZ")
    assert_load_error(model, feeds, "d2s", "mode")
    model, feeds = d2s_model(x, 0, 13, "DCR")
    assert_load_error(model, feeds, "d2s", "blocksize")
