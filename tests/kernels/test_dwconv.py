"""Depthwise convolution kernel vs a direct numpy reference on every ISA
path; integer-valued data, so results are exact."""
import numpy as np
import pytest

from cnnrt import _core


def ref_dw(x, w, b, stride, pads, dil):
    C, H, W = x.shape
    _, KH, KW = w.shape
    xp = np.zeros((C, H + pads[0] + pads[2], W + pads[1] + pads[3]), np.float64)
    xp[:, pads[0]:pads[0] + H, pads[1]:pads[1] + W] = x
    OH = (xp.shape[1] - (KH - 1) * dil[0] - 1) // stride[0] + 1
    OW = (xp.shape[2] - (KW - 1) * dil[1] - 1) // stride[1] + 1
    y = np.zeros((C, OH, OW), np.float64)
    for kh in range(KH):
        for kw in range(KW):
            patch = xp[:, kh * dil[0]: kh * dil[0] + (OH - 1) * stride[0] + 1: stride[0],
                       kw * dil[1]: kw * dil[1] + (OW - 1) * stride[1] + 1: stride[1]]
            y += patch * w[:, kh, kw][:, None, None]
    if b is not None:
        y += b[:, None, None]
    return y.astype(np.float32)


CASES = [
    # C, H, W, K, stride, pads (t, l, b, r), dilation
    (1, 5, 5, 3, 1, (1, 1, 1, 1), 1),
    (3, 7, 9, 3, 2, (1, 1, 1, 1), 1),
    (17, 11, 13, 5, 1, (2, 2, 2, 2), 1),
    (8, 14, 14, 5, 2, (2, 2, 2, 2), 1),
    (16, 9, 31, 3, 1, (0, 0, 0, 0), 2),
    (4, 6, 6, 3, 1, (2, 0, 0, 1), 1),
    (33, 17, 17, 7, 3, (3, 3, 3, 3), 1),
    (5, 3, 40, 1, 1, (0, 0, 0, 0), 1),
]


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
@pytest.mark.parametrize("relu", [False, True])
def test_dwconv_exact(isa, case, relu):
    C, H, W, K, s, pads, d = case
    rng = np.random.default_rng(C * 31 + K)
    x = rng.integers(-21, 22, (C, H, W)).astype(np.float32)
    w = rng.integers(-21, 22, (C, K, K)).astype(np.float32)
    b = rng.integers(-21, 22, C).astype(np.float32)
    y = _core.kernels.dwconv(isa, x, w, b, strides=[s, s], pads=list(pads), dilations=[d, d], act=1 if relu else 0,
                             threads=2)
    want = ref_dw(x, w, b, (s, s), pads, (d, d))
    if relu:
        want = np.maximum(want, 0)
    np.testing.assert_array_equal(y, want)
