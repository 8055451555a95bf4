"""Cross-layer weight prefetch (Session::link_weight_prefetch): each NHWC
GEMM convolution is handed the first weights of the next layer that holds
any, past depthwise-sized ones, and prefetches them into L2 while its own
last tiles run. What it links is visible through `_core.prefetch_links()`;
the kernel side (every k step still runs once) is tested in
kernels/test_conv_nhwc.py::test_next_layer_prefetch_exact."""
import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import check_model, make_model


def inverted_residual_then_3x3(rng):
    """MobileNetV2-like block (1x1 expansion, depthwise 3x3, 1x1 projection)
    then a 3x3 convolution Winograd takes on the SIMD paths, then a 1x1."""
    w = lambda *s: (rng.standard_normal(s) * 0.1).astype(np.float32)  # noqa: E731
    inits = {"we": w(384, 96, 1, 1), "wd": w(384, 1, 3, 3), "wp": w(96, 384, 1, 1), "w3": w(96, 96, 3, 3),
             "wl": w(128, 96, 1, 1)}
    nodes = [helper.make_node("Conv", ["x", "we"], ["e"], name="expand"),
             helper.make_node("Relu", ["e"], ["er"]),
             helper.make_node("Conv", ["er", "wd"], ["d"], group=384, pads=[1, 1, 1, 1], name="depthwise"),
             helper.make_node("Relu", ["d"], ["dr"]),
             helper.make_node("Conv", ["dr", "wp"], ["p"], name="project"),
             helper.make_node("Conv", ["p", "w3"], ["q"], pads=[1, 1, 1, 1], name="conv3x3"),
             helper.make_node("Conv", ["q", "wl"], ["y"], name="last")]
    x = rng.standard_normal((1, 96, 14, 14)).astype(np.float32)
    return make_model(nodes, {"x": x}, ["y"], inits), {"x": x}


def links(sess):
    return {name: link for (name, *_), link in zip(sess._core.kernels(), sess._core.prefetch_links())}


@pytest.mark.parametrize("fuse", ["0", "1"], ids=["apart", "fused"])
def test_links_skip_depthwise_and_stop_at_winograd(isa, fuse, monkeypatch):
    monkeypatch.setenv("CNNRT_LAYOUT", "nhwc")
    monkeypatch.setenv("CNNRT_PW_DW", fuse)
    model, feeds = inverted_residual_then_3x3(np.random.default_rng(0))
    sess = cnnrt.load(model, isa=isa)
    got = links(sess)
    if isa == "ref":  # the ref kernels prefetch nothing: no op takes a link
        assert all(v is None for v in got.values()), got
        return
    kinds = {name: k for name, _, k, _ in sess._core.kernels()}
    assert "winograd" in kinds["conv3x3"], kinds
    # The expansion prefetches the projection's weights (96 x 384 floats),
    # past the depthwise layer's 14 KiB; at most a quarter of L2, 64-512 KiB.
    # Fused (passes/fuse_pw_dw.py), the expansion and the depthwise layer are
    # one op, whose 1x1 part prefetches.
    target, nbytes = got["expand+depthwise" if fuse == "1" else "expand"]
    assert target == "project"
    assert min(96 * 384 * 4, 64 << 10) <= nbytes <= min(96 * 384 * 4, 512 << 10)
    # Winograd is no prefetch target (Op::weights_read_first) and its kernel
    # prefetches nothing.
    assert got["project"] is None and got["conv3x3"] is None
    if fuse == "0":
        assert got["depthwise"] is None  # the depthwise kernel does not prefetch
    assert got["last"] is None  # no layer after it
    check_model(model, feeds, isa=isa)


def test_links_follow_run_order_past_weightless_ops(isa, monkeypatch):
    """A chain of 1x1 convolutions with Relu/MaxPool between them: each
    links to the next convolution (weights >= 64 KiB), the last to none."""
    monkeypatch.setenv("CNNRT_LAYOUT", "nhwc")
    rng = np.random.default_rng(1)
    c = [64, 256, 128, 512]
    inits = {f"w{i}": (rng.standard_normal((c[i + 1], c[i], 1, 1)) * 0.05).astype(np.float32) for i in range(3)}
    nodes = [helper.make_node("Conv", ["x", "w0"], ["a"], name="c0"),
             helper.make_node("Relu", ["a"], ["ar"]),
             helper.make_node("MaxPool", ["ar"], ["am"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["am", "w1"], ["b"], name="c1"),
             helper.make_node("Relu", ["b"], ["br"]),
             helper.make_node("Conv", ["br", "w2"], ["y"], name="c2")]
    x = rng.standard_normal((1, 64, 16, 16)).astype(np.float32)
    model = make_model(nodes, {"x": x}, ["y"], inits)
    got = links(cnnrt.load(model, isa=isa))
    if isa == "ref":  # the ref kernels prefetch nothing: no op takes a link
        assert all(v is None for v in got.values()), got
        check_model(model, {"x": x}, isa=isa, threads=2)
        return
    # At most a quarter of L2 (64-512 KiB) is prefetched: on a 512 KiB L2
    # (Zen 3) that cuts c2's 256 KiB to 128 KiB.
    cap = cnnrt._core.weight_prefetch_cap()
    assert 64 << 10 <= cap <= 512 << 10
    assert got["c0"] == ("c1", min(256 * 128 * 4, cap))
    assert got["c1"] == ("c2", min(128 * 512 * 4, cap))
    assert got["c2"] is None
    check_model(model, {"x": x}, isa=isa, threads=2)
