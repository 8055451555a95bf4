"""Denormals: cnnrt flushes denormal results to zero while it computes (on
x86 an FMA with a denormal result or operand takes a microcode assist;
ResNet-50's deepest 3x3 layer ran 3.7x slower with them), reads denormal
operands of Conv/ConvTranspose/Gemm/MatMul as zero while those run (a
GEMM-path conv with denormal inputs or weights ran 90-160x slower), keeps
denormal inputs of every other op as they are (Sqrt/Log/Sign of one as
onnxruntime computes them), runs the pool's helpers in the caller's mode, and
restores the caller's floating-point state after every run, so numpy work
that follows a run keeps IEEE gradual underflow, and a caller that set its
own mode (flush-to-zero, a rounding direction) keeps it.

The speed side (a convolution with denormal inputs or weights against one
without) is benchmarks/bench_soak.py; here the mechanism is checked."""
import ctypes
import ctypes.util
import platform
import struct
import sys
import threading

import numpy as np
import pytest
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


# ---- the flush mode seen in results, and the caller's MXCSR read through glibc

def _flush_model(shape=(1, 16, 40, 40), oc=32):
    """Conv of x = 1e-20 with w = 1e-20: every product is 1e-40, a denormal.
    In IEEE arithmetic the 144 products of an inner point sum to ~1.4e-38
    (a normal number: onnxruntime, which does not flush, gives 1.44e-38 at
    every inner point); with results flushed to zero every partial sum is 0."""
    w = np.full((oc, shape[1], 3, 3), 1e-20, np.float32)
    x = np.full(shape, 1e-20, np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])
    return make_model([node], {"x": x}, ["y"], {"w": w}), x


@pytest.mark.parametrize("threads", [1, 2])
def test_denormal_results_are_flushed_during_run(isa, threads):
    assert np.float32(1e-20) * np.float32(1e-20) > 0, "this interpreter already flushes denormals; the test cannot tell"
    model, x = _flush_model()
    y = cnnrt.load(model.SerializeToString(), threads=threads, isa=isa).run(None, {"x": x})[0]
    assert y.shape == (1, 32, 40, 40)
    # The work (7.4M multiply-adds) is split over both threads when threads=2.
    assert not np.any(y), f"{np.count_nonzero(y)} of {y.size} outputs are not 0: flush-to-zero was off in some thread"


_X86_GLIBC = platform.machine() in ("x86_64", "AMD64") and sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
_FTZ, _DAZ, _RC_DOWN, _CONTROL = 0x8000, 0x0040, 0x2000, 0xFFC0  # MXCSR bits; _CONTROL: all but the sticky flags


class _FEnv:
    """The calling thread's floating-point environment through glibc's
    fegetenv/fesetenv; on x86-64 glibc's fenv_t ends with MXCSR (offset 28)."""

    def __init__(self):
        self.libm = ctypes.CDLL(ctypes.util.find_library("m"))

    def get(self):
        buf = ctypes.create_string_buffer(64)
        assert self.libm.fegetenv(buf) == 0
        return buf

    def mxcsr(self):
        return struct.unpack_from("<I", self.get().raw, 28)[0]

    def set_mxcsr(self, value):
        buf = self.get()
        struct.pack_into("<I", buf, 28, value)
        assert self.libm.fesetenv(buf) == 0


@pytest.mark.skipif(not _X86_GLIBC, reason="reads MXCSR through glibc's x86-64 fenv_t layout")
@pytest.mark.parametrize("threads", [1, 2])
def test_caller_mxcsr_is_restored_bit_for_bit(threads):
    """A caller that set flush-to-zero, denormals-are-zero and rounding toward
    -inf itself keeps all three after a run (cnnrt restores what it found,
    it does not clear FTZ); a caller with the default IEEE state keeps it."""
    env = _FEnv()
    saved = env.get()
    model, x = _conv_model()
    sess = cnnrt.load(model.SerializeToString(), threads=threads)
    default = env.mxcsr() & _CONTROL
    assert not default & (_FTZ | _DAZ), f"MXCSR {default:#x}: this process already flushes; the test cannot tell"
    try:
        env.set_mxcsr(env.mxcsr() | _FTZ | _DAZ | _RC_DOWN)
        custom = env.mxcsr() & _CONTROL
        assert custom & _RC_DOWN and custom & _FTZ
        sess.run(None, {"x": x})
        after = env.mxcsr() & _CONTROL
        # numpy computes in this thread with the caller's mode, read back as numbers too
        flushed = float(np.multiply(np.array([TINY], np.float32), np.float32(1.0))[0])
        rounded = float((np.array([1.0], np.float32) - np.array([1e-8], np.float32))[0])
    finally:
        assert env.libm.fesetenv(saved) == 0
    assert after == custom, f"caller's MXCSR control bits {custom:#06x} came back as {after:#06x}"
    assert flushed == 0.0 and rounded < 1.0
    sess.run(None, {"x": x})
    assert env.mxcsr() & _CONTROL == default
    assert _denormal_still_works()


# ---- denormal operands of convolutions and matrix products read as zero (DAZ per step)

def _daz_models():
    """x -> Conv (1x1, weight 1e30) -> y, and x -> Sign -> s in the same graph;
    and a Gemm whose weights are denormal."""
    conv = make_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv"),
                       helper.make_node("Sign", ["x"], ["s"], name="sign")],
                      {"x": np.zeros((1, 16, 40, 40), np.float32)}, ["y", "s"],
                      {"w": np.full((32, 16, 1, 1), 1e30, np.float32)})
    gemm = make_model([helper.make_node("Gemm", ["x", "w"], ["y"], name="fc")],
                      {"x": np.zeros((64, 256), np.float32)}, ["y"], {"w": np.full((256, 128), 1e-39, np.float32)})
    return conv, gemm


@pytest.mark.parametrize("threads", [1, 2])
def test_conv_and_gemm_read_denormal_operands_as_zero(isa, threads):
    """On x86 an FMA with a denormal operand takes a microcode assist even
    with results flushed (a GEMM-path conv ran 90-160x slower with denormal
    inputs or weights; benchmarks/bench_soak.py). Conv/ConvTranspose/Gemm/
    MatMul read denormal operands as zero (DAZ) while they run, in every
    thread: 1e-39 x 1e30 comes out 0 where IEEE gives 1e-9. Other ops keep
    denormals' meaning: Sign(1e-39) after the conv in the same run is 1."""
    conv, gemm = _daz_models()
    x = np.full((1, 16, 40, 40), 1e-39, np.float32)
    y, s = cnnrt.load(conv.SerializeToString(), threads=threads, isa=isa).run(None, {"x": x})
    assert np.float32(1e-39) * np.float32(1e30) > 1e-10  # what IEEE arithmetic gives
    assert not np.any(y), f"{np.count_nonzero(y)} of {y.size} conv outputs used a denormal input"
    assert np.all(s == 1.0), "Sign after the conv saw its denormal input as 0: DAZ leaked out of the conv step"
    y = cnnrt.load(gemm.SerializeToString(), threads=threads, isa=isa).run(None, {"x": np.full((64, 256), 1e30, np.float32)})[0]
    assert not np.any(y), f"{np.count_nonzero(y)} of {y.size} Gemm outputs used a denormal weight"


@pytest.mark.skipif(not _X86_GLIBC, reason="sets MXCSR through glibc's x86-64 fenv_t layout")
def test_helper_threads_take_the_callers_rounding_mode():
    """The pool's helpers run with the calling thread's MXCSR (per job): with
    the caller rounding toward -inf, 2 threads give the bytes 1 thread gives,
    and those differ from round-to-nearest's (so the mode was in effect)."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    model = make_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])],
                       {"x": np.zeros((1, 16, 40, 40), np.float32)}, ["y"], {"w": w}).SerializeToString()
    x = rng.standard_normal((1, 16, 40, 40)).astype(np.float32)
    one, two = cnnrt.load(model, threads=1), cnnrt.load(model, threads=2)
    nearest = one.run(None, {"x": x})[0].tobytes()
    env = _FEnv()
    saved = env.get()
    try:
        env.set_mxcsr(env.mxcsr() | _RC_DOWN)
        down = one.run(None, {"x": x})[0].tobytes()
        split = [two.run(None, {"x": x})[0].tobytes() for _ in range(5)]
    finally:
        assert env.libm.fesetenv(saved) == 0
    assert down != nearest, "rounding toward -inf changed nothing; the test cannot tell"
    assert all(b == down for b in split), "2 threads under the caller's round-down differ from 1 thread"
