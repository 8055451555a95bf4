"""The per-session limits of SECURITY.md: the memory cap (max_memory) and the
bounded plan cache (max_plans)."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import cnnrt
from cnnrt.api import default_max_memory


def _conv(x_shape=("N", 3, 32, 32)):
    w = np.random.default_rng(0).standard_normal([8, 3, 3, 3]).astype(np.float32)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])], "limits",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [numpy_helper.from_array(w, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_default_cap_is_16_gib_or_machine_memory():
    import os

    phys = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert default_max_memory() == min(16 << 30, phys)


def test_plan_over_the_cap_is_a_model_load_error_naming_it():
    sess = cnnrt.load(_conv(), max_memory=1 << 20)
    sess.run(None, {"x": np.zeros([1, 3, 32, 32], np.float32)})  # ~64 KiB of activations: fits
    with pytest.raises(cnnrt.ModelLoadError, match="max_memory") as e:
        sess.run(None, {"x": np.zeros([64, 3, 32, 32], np.float32)})  # 2 MiB of output alone
    assert "conv" in str(e.value) or "limits" in str(e.value)
    # The session still works for shapes under the cap.
    assert sess.run(None, {"x": np.ones([2, 3, 32, 32], np.float32)})[0].shape == (2, 8, 32, 32)


def test_static_model_over_the_cap_fails_in_load():
    with pytest.raises(cnnrt.ModelLoadError, match="max_memory"):
        cnnrt.load(_conv(x_shape=(16, 3, 64, 64)), max_memory=1 << 20)


def test_huge_static_input_is_refused_before_allocating():
    # 2^34 floats = 64 GiB: the load-time plan would allocate its zeros first.
    with pytest.raises(cnnrt.ModelLoadError, match="'x'.*max_memory"):
        cnnrt.load(_conv(x_shape=(1 << 14, 3, 1 << 10, 1 << 10)))


@pytest.mark.parametrize("bad", [0, -1, 1.5, "1G", True, 1 << 63])
def test_bad_max_memory(bad):
    with pytest.raises(ValueError, match="max_memory"):
        cnnrt.load(_conv(), max_memory=bad)


@pytest.mark.parametrize("bad", [0, -3, 2.0, None])
def test_bad_max_plans(bad):
    with pytest.raises(ValueError, match="max_plans"):
        cnnrt.load(_conv(), max_plans=bad)


def test_plan_cache_stays_bounded_over_many_shapes():
    sess = cnnrt.load(_conv(x_shape=("N", 3, "H", "W")), threads=1, max_plans=3)
    for k in range(1, 25):
        sess.run(None, {"x": np.zeros([1, 3, k, 5], np.float32)})
        assert sess._core.stats()["cached_plans"] == min(k, 3)
