"""Denormals: cnnrt flushes denormal results to zero while it computes (on
x86 an FMA with a denormal result or operand takes a microcode assist;
ResNet-50's deepest 3x3 layer ran 3.7x slower with them), keeps denormal
inputs as they are (Sqrt/Log/Sign of one as onnxruntime computes them), and
restores the caller's floating-point state after every run, so numpy work
that follows a run keeps IEEE gradual underflow."""
import threading

import numpy as np
from onnx import helper

import cnnrt
from helpers import check_model, make_model

TINY = np.float32(1e-39)  # a float32 denormal


def _denormal_still_works():
    # With FTZ/DAZ leaked into this thread the product would be 0.
    return float(np.multiply(np.array([TINY], np.float32), np.float32(1.0))[0]) > 0.0


def _conv_model():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((1, 8, 9, 9)) * 1e-36).astype(np.float32)  # many denormal products
    w = (rng.standard_normal((16, 8, 3, 3)) * 1e-3).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])
    return make_model([node], {"x": x}, ["y"], {"w": w}), x


def test_caller_fp_state_restored_after_run():
    assert _denormal_still_works(), "this interpreter already flushes denormals; the test cannot tell"
    model, x = _conv_model()
    sess = cnnrt.load(model.SerializeToString(), threads=2)
    for _ in range(3):
        sess.run(None, {"x": x})
        assert _denormal_still_works(), "cnnrt left flush-to-zero set in the calling thread"


def test_caller_fp_state_restored_in_other_threads():
    model, x = _conv_model()
    sess = cnnrt.load(model.SerializeToString(), threads=2)
    seen = []

    def work():
        sess.run(None, {"x": x})
        seen.append(_denormal_still_works())

    ts = [threading.Thread(target=work) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert seen == [True, True, True]


def test_denormal_inputs_match_onnxruntime(isa):
    # Flushed denormals differ from IEEE results by < 1.2e-38 each: far inside
    # the tolerance, whose absolute floor is 1e-5.
    model, x = _conv_model()
    x = x + np.float32(1.0)  # normal values with a denormal part left in the weights' products
    check_model(model, {"x": x}, isa=isa)
    check_model(model, {"x": (x - np.float32(1.0))}, isa=isa)


def test_denormal_inputs_keep_their_meaning():
    x = np.array([1e-40, -1e-40, 2.0], np.float32)
    for op, want in [("Sign", [1.0, -1.0, 1.0]), ("Abs", [1e-40, 1e-40, 2.0])]:
        model = make_model([helper.make_node(op, ["x"], ["y"], name="u")], {"x": x}, ["y"])
        got = cnnrt.load(model.SerializeToString()).run(None, {"x": x})[0]
        np.testing.assert_array_equal(got, np.array(want, np.float32), err_msg=op)
