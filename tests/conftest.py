import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "models"))

import cnnrt  # noqa: E402
from cnnrt import _core  # noqa: E402

ALL_ISAS = ["ref", "avx2", "avx512"]
AVAILABLE = _core.info()["isa_available"]
# .ci/run's emulated-AVX-512 lane sets this to "avx512": the other paths ran
# in the main test run, so here they show as skips that say so.
ISA_ONLY = os.environ.get("CNNRT_TEST_ISA_ONLY", "")


@pytest.fixture(params=ALL_ISAS)
def isa(request):
    """Every kernel path: a path this CPU lacks is a visible skip, never a pass."""
    name = request.param
    if name not in AVAILABLE:
        pytest.skip(f"ISA path '{name}' is not available on this CPU ({_core.info()['cpu']}; detected {_core.isa_detected()})")
    if ISA_ONLY and name != ISA_ONLY:
        pytest.skip(f"CNNRT_TEST_ISA_ONLY={ISA_ONLY}: this run tests the {ISA_ONLY} path only; the main run tests '{name}'")
    return name


@pytest.fixture(params=["nhwc", "nchw"])
def layout(request, monkeypatch):
    """Both internal layouts of 2-D feature maps (CNNRT_LAYOUT, read at load):
    'nhwc' runs every Conv/Pool channels-last (even without a convolution in
    the graph), 'nchw' keeps the NCHW code paths tested."""
    monkeypatch.setenv("CNNRT_LAYOUT", request.param)
    return request.param


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)


def pytest_configure(config):
    # A CNNRT_TEST_ISA_ONLY this build cannot run would skip every ISA case and
    # pass (a non-emulated core on PYTHONPATH, a typo, a leaked variable).
    if ISA_ONLY and ISA_ONLY not in AVAILABLE:
        raise pytest.UsageError(
            f"CNNRT_TEST_ISA_ONLY={ISA_ONLY!r}, but this cnnrt ({cnnrt.__file__}) offers {AVAILABLE}: "
            "for avx512 on a CPU without it, put the emulated build (CNNRT_AVX512_EMULATE) on PYTHONPATH")


def pytest_report_header(config):
    info = cnnrt.info()
    emulated = " (avx512 EMULATED on AVX2: a test build)" if info["avx512_emulated"] else ""
    only = f" only={ISA_ONLY}" if ISA_ONLY else ""
    return f"cnnrt {info['version']}: cpu={info['cpu']!r} isa detected={info['isa_detected']}{emulated} available={AVAILABLE}{only}"
