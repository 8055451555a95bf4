"""fuse_pw_dw: a 1x1 convolution folded into the depthwise convolution that
reads it (ops/conv_pwdw.cc runs them in bands of output rows). Numerics
against onnxruntime over a sweep of windows, activations, sizes, band rows
and threads on every ISA path; the bands bit-identical to the layers apart;
the pattern's limits; bad fused nodes refused with a cnnrt error."""
import numpy as np
import pytest
from onnx import helper

import cnnrt
from cnnrt import _core
from cnnrt.onnx_import import read_model, to_ir
from cnnrt.passes import run_pipeline
from helpers import assert_close, make_model, run_ort

RNG = np.random.default_rng(11)
ACTS = {
    "none": [],
    "relu": [("Relu", {})],
    "clip": [("Clip", {"min": 0.0, "max": 6.0})],
    "hswish": [("HardSwish", {})],
    "sigmoid": [("Sigmoid", {})],
}


@pytest.fixture(autouse=True)
def default_env(monkeypatch):
    monkeypatch.delenv("CNNRT_LAYOUT", raising=False)
    monkeypatch.delenv("CNNRT_PW_DW", raising=False)


def _act_nodes(kind, src, dst, tag):
    chain = ACTS[kind]
    if not chain:
        return [helper.make_node("Identity", [src], [dst], name=f"{tag}_id")], {}
    op, attrs = chain[0]
    if op == "Clip":
        inits = {f"{tag}_lo": np.array(attrs["min"], np.float32), f"{tag}_hi": np.array(attrs["max"], np.float32)}
        return [helper.make_node("Clip", [src, f"{tag}_lo", f"{tag}_hi"], [dst], name=f"{tag}_clip")], inits
    return [helper.make_node(op, [src], [dst], name=f"{tag}_{op}")], {}


def _block(n=1, c=8, ce=24, h=13, w=11, k=3, s=1, pads=None, dil=1, pw_act="clip", dw_act="clip", bias=True,
           extra_use=False, e_output=False, pw_stride=1, dw_group=None):
    """x -> Conv1x1(c -> ce) [pw_act] -> Conv kxk depthwise [dw_act] -> y."""
    pads = [k // 2 * dil] * 4 if pads is None else pads
    x = RNG.standard_normal((n, c, h, w)).astype(np.float32)
    g = ce if dw_group is None else dw_group
    inits = {"wp": (RNG.standard_normal((ce, c, 1, 1)) * 0.3).astype(np.float32),
             "wd": (RNG.standard_normal((ce, ce // g, k, k)) * 0.3).astype(np.float32)}
    pin = ["x", "wp"]
    din = ["e", "wd"]
    if bias:
        inits["bp"] = RNG.standard_normal(ce).astype(np.float32)
        inits["bd"] = RNG.standard_normal(ce).astype(np.float32)
        pin.append("bp")
        din.append("bd")
    nodes = [helper.make_node("Conv", pin, ["e0"], name="pw", strides=[pw_stride] * 2)]
    an, ai = _act_nodes(pw_act, "e0", "e", "pa")
    nodes += an
    inits.update(ai)
    nodes.append(helper.make_node("Conv", din, ["d0"], name="dw", group=g, kernel_shape=[k, k], strides=[s, s],
                                  pads=pads, dilations=[dil, dil]))
    an, ai = _act_nodes(dw_act, "d0", "y", "da")
    nodes += an
    inits.update(ai)
    outputs = ["y"]
    if extra_use:
        nodes.append(helper.make_node("Relu", ["e"], ["side"], name="side"))
        outputs.append("side")
    if e_output:
        outputs.append("e")
    return make_model(nodes, {"x": x}, outputs, inits), x


def _graph(model):
    proto, _, label = read_model(model)
    return run_pipeline(to_ir(proto, label))


def _fused(g):
    return [n for n in g.nodes if n.op == "Conv" and n.attrs.get("cnnrt_pw") == 1]


def _run(model, x, threads=1, isa=None):
    return cnnrt.load(model, threads=threads, isa=isa).run(None, {"x": x})


def test_pattern_is_fused():
    model, _ = _block()
    g = _graph(model)
    fused = _fused(g)
    assert "fuse_pw_dw" in g.applied
    assert len(fused) == 1 and [n.op for n in g.nodes].count("Conv") == 1
    f = fused[0]
    assert f.name == "pw+dw" and f.inputs[3:5] == ["", ""] and len(f.inputs) == 7
    assert f.attrs["cnnrt_pw_act"] == f.attrs["cnnrt_act"]  # both Clip(0, 6)
    assert "cnnrt_pw_band" not in f.attrs
    sess = cnnrt.load(model)
    assert any("fused, row bands" in k[2] for k in sess._core.kernels())


@pytest.mark.parametrize("case", ["extra_use", "e_output", "pw_stride", "not_depthwise", "grouped", "off"])
def test_left_apart(case, monkeypatch):
    kw = {"extra_use": {"extra_use": True}, "e_output": {"e_output": True}, "pw_stride": {"pw_stride": 2},
          "not_depthwise": {"dw_group": 1}, "grouped": {"dw_group": 4}, "off": {}}[case]
    if case == "off":
        monkeypatch.setenv("CNNRT_PW_DW", "0")
    model, x = _block(**kw)
    g = _graph(model)
    assert not _fused(g) and "fuse_pw_dw" not in g.applied
    got = _run(model, x)
    for a, b in zip(got, run_ort(model, {"x": x})):
        assert_close(a, b)


@pytest.mark.parametrize("value", ["2", "band=0", "band=-2", "band=x", "yes", "split=cols", "band=2,band=3",
                                   "split=rows,split=rows", "band=2,", "split="])
def test_bad_env_value(value, monkeypatch):
    monkeypatch.setenv("CNNRT_PW_DW", value)
    model, _ = _block()
    with pytest.raises(ValueError, match="CNNRT_PW_DW"):
        cnnrt.load(model)


# (k, s, dil, pads, h, w): 3x3 / 5x5, stride 1 / 2, dilation, asymmetric and
# no padding, maps of one row and of fewer rows than a band.
WINDOWS = [
    (3, 1, 1, None, 13, 11), (3, 2, 1, None, 14, 9), (3, 2, 1, None, 15, 15), (5, 1, 1, None, 12, 7),
    (5, 2, 1, None, 17, 10), (3, 1, 2, None, 11, 12), (3, 1, 1, [0, 0, 0, 0], 9, 8), (3, 2, 1, [0, 1, 2, 0], 12, 11),
    (3, 1, 1, None, 1, 9), (5, 2, 1, None, 3, 4), (7, 1, 1, [3, 3, 3, 3], 10, 10), (3, 1, 1, [2, 2, 2, 2], 6, 6),
]


@pytest.mark.parametrize("win", WINDOWS, ids=lambda v: f"k{v[0]}s{v[1]}d{v[2]}p{v[3]}_{v[4]}x{v[5]}")
@pytest.mark.parametrize("band", ["1", "band=1", "band=2", "band=3", "band=-1"])
@pytest.mark.parametrize("threads", [1, 2])
def test_matches_onnxruntime_and_unfused(isa, win, band, threads, monkeypatch):
    k, s, dil, pads, h, w = win
    model, x = _block(k=k, s=s, dil=dil, pads=pads, h=h, w=w)
    ref = run_ort(model, {"x": x})[0]
    monkeypatch.setenv("CNNRT_PW_DW", "0")
    apart = _run(model, x, threads, isa)[0]
    monkeypatch.setenv("CNNRT_PW_DW", band)
    g = _graph(model)
    assert len(_fused(g)) == 1
    got = _run(model, x, threads, isa)[0]
    assert_close(got, ref)
    # Same kernels, same per-element order: bit-identical to the layers apart.
    np.testing.assert_array_equal(got, apart)


# Channel groups (split=channels): each thread the 1x1 and the depthwise of
# its panels of e, over all rows. Channel counts around the panel width
# (kt.nhwc_slice_c: 16 on AVX2), so groups end on a narrower last panel or
# split unevenly; more threads than panels; bands inside a group; and the
# windows above. Bit-identical to the layers apart and to the row split.
SPLIT_CHANNELS = [(24, 1), (37, 2), (40, 3), (96, 2), (33, 4), (64, 3)]
# Maps with work enough for 4 threads (threads_for_work: 32K multiply-adds
# per thread) at 24 channels.
SPLIT_WINDOWS = [
    (3, 1, 1, None, 20, 19), (3, 2, 1, None, 42, 37), (5, 1, 1, None, 20, 18), (5, 2, 1, None, 41, 40),
    (3, 1, 2, None, 21, 20), (3, 1, 1, [0, 0, 0, 0], 22, 20), (3, 2, 1, [0, 1, 2, 0], 40, 39),
    (7, 1, 1, [3, 3, 3, 3], 20, 20),
]


@pytest.mark.parametrize("win", SPLIT_WINDOWS, ids=lambda v: f"k{v[0]}s{v[1]}d{v[2]}p{v[3]}_{v[4]}x{v[5]}")
@pytest.mark.parametrize("ce,threads", SPLIT_CHANNELS, ids=lambda v: str(v))
@pytest.mark.parametrize("band", ["", "band=1,", "band=3,", "band=-1,"])
def test_channel_split(isa, win, ce, threads, band, monkeypatch):
    k, s, dil, pads, h, w = win
    model, x = _block(c=6, ce=ce, k=k, s=s, dil=dil, pads=pads, h=h, w=w)
    monkeypatch.setenv("CNNRT_PW_DW", "0")
    apart = _run(model, x, threads, isa)[0]
    monkeypatch.setenv("CNNRT_PW_DW", band + "split=rows")
    rows = _run(model, x, threads, isa)[0]
    monkeypatch.setenv("CNNRT_PW_DW", band + "split=channels")
    before = _core.kernels.pwdw_channel_split_runs()
    got = _run(model, x, threads, isa)[0]
    split = _core.kernels.pwdw_channel_split_runs() - before
    np.testing.assert_array_equal(got, apart)
    np.testing.assert_array_equal(rows, apart)
    slice_c = _core.kernels.nhwc_slice_c(isa)
    # Split where the table slices packed weights and e has 2+ panels.
    assert (split > 0) == (threads > 1 and slice_c > 0 and ce > slice_c), (split, slice_c)


def test_slice_width_per_isa(isa):
    # AVX2 slices its 16-channel panels; AVX-512 (tile chosen from OC) and
    # ref do not: their tables must say 0 (AVX-512's is filled after AVX2's).
    assert _core.kernels.nhwc_slice_c(isa) == (16 if isa == "avx2" else 0)


def test_channel_split_chosen_on_small_maps(monkeypatch):
    # The runtime's own choice (cnnrt_pw_split = 0) at 2 threads, whatever
    # the L2: channel groups on a 7x7x960 expansion (7 depthwise rows split
    # 4 + 3 whole, or 4-row halos banded), rows on a 56x56x144 one (halo 1 row
    # in 28 per task; 9 panels would split 5 + 4).
    if _core.kernels.nhwc_slice_c(_core.isa_current()) == 0:
        pytest.skip(f"the {_core.isa_current()} path does not slice packed weights (AVX2 does)")
    for (c, ce, h), want in [((160, 960, 7), True), ((24, 144, 56), False)]:
        model, x = _block(c=c, ce=ce, h=h, w=h, pw_act="clip", dw_act="clip")
        before = _core.kernels.pwdw_channel_split_runs()
        got = _run(model, x, 2)[0]
        assert (_core.kernels.pwdw_channel_split_runs() > before) == want, (c, ce, h)
        assert_close(got, run_ort(model, {"x": x})[0])


@pytest.mark.parametrize("acts", [("none", "none"), ("relu", "clip"), ("hswish", "sigmoid"), ("sigmoid", "relu")])
@pytest.mark.parametrize("band", ["band=2", "band=-1"])
def test_activations_and_no_bias(isa, acts, band, monkeypatch):
    monkeypatch.setenv("CNNRT_PW_DW", band)
    for bias in (True, False):
        model, x = _block(pw_act=acts[0], dw_act=acts[1], bias=bias, c=5, ce=20, h=10, w=9)
        assert len(_fused(_graph(model))) == 1
        assert_close(_run(model, x, 2, isa)[0], run_ort(model, {"x": x})[0])


@pytest.mark.parametrize("band", ["1", "band=1", "band=4"])
def test_batch_and_wide_channels(isa, band, monkeypatch):
    # Several images (a task per image and row range), channel counts off
    # the vector width, and maps big enough for the runtime's own bands:
    # 48x48x96 floats (884 KB) over half of every L2 seen here, at 2+
    # threads; two 112x112x96 (9.6 MB) over 4x every L2 seen here, at one.
    monkeypatch.setenv("CNNRT_PW_DW", band)
    for n, c, ce, h, w, s in [(3, 7, 37, 9, 6, 2), (2, 16, 96, 48, 48, 2), (1, 24, 96, 48, 48, 1),
                              (2, 16, 96, 112, 112, 2)]:
        model, x = _block(n=n, c=c, ce=ce, h=h, w=w, s=s)
        ref = run_ort(model, {"x": x})[0]
        for threads in (1, 2, 3):
            assert_close(_run(model, x, threads, isa)[0], ref)


def test_dynamic_sizes(monkeypatch):
    monkeypatch.setenv("CNNRT_PW_DW", "band=2")
    model, _ = _block(s=2)
    d = model.graph.input[0].type.tensor_type.shape.dim
    d[0].dim_param, d[2].dim_param, d[3].dim_param = "N", "H", "W"
    del model.graph.value_info[:]
    for o in model.graph.output:
        o.type.tensor_type.ClearField("shape")
    sess = cnnrt.load(model.SerializeToString(), threads=2)
    for shape in [(1, 8, 13, 11), (2, 8, 5, 30), (1, 8, 2, 2), (3, 8, 31, 4)]:
        xx = RNG.standard_normal(shape).astype(np.float32)
        assert_close(sess.run(None, {"x": xx})[0], run_ort(model, {"x": xx})[0])


def _session(attrs, wd_shape=(6, 1, 3, 3), wp_shape=(6, 4, 1, 1), inputs=(0, 1, -1, -1, -1, 2)):
    wd = RNG.standard_normal(wd_shape).astype(np.float32)
    wp = RNG.standard_normal(wp_shape).astype(np.float32)
    values = [("x", 1, None), ("wd", 1, list(wd_shape)), ("wp", 1, list(wp_shape)), ("y", 1, None)]
    base = {"cnnrt_layout": 1, "cnnrt_pw": 1, "group": 6, "pads": [1, 1, 1, 1]}
    base.update(attrs)
    nodes = [("Conv", "f", list(inputs), [3], base)]
    return _core.Session("t", values, nodes, [0], [3], {1: wd, 2: wp}, 1)


@pytest.mark.parametrize("attrs,shapes,words", [
    ({"cnnrt_pw_band": -3}, {}, "cnnrt_pw_band"),
    ({"cnnrt_layout": 0}, {}, "cnnrt_layout"),
    ({"group": 3}, {}, "depthwise"),
    ({}, {"wd_shape": (6, 2, 3, 3)}, "depthwise"),
    ({}, {"wp_shape": (5, 4, 1, 1)}, "1x1 weight"),
    ({}, {"wp_shape": (6, 4, 3, 3)}, "1x1 weight"),
    ({}, {"inputs": (0, 1)}, "input 5"),
    ({"cnnrt_concat": [0, 6]}, {}, "cnnrt_concat"),
    ({"cnnrt_pw_act": 99}, {}, "cnnrt_pw_act"),
])
def test_bad_fused_node_is_a_load_error(attrs, shapes, words):
    with pytest.raises(cnnrt.ModelLoadError, match=words):
        _session(attrs, **shapes)


def test_wrong_input_channels_is_a_run_error():
    sess = _session({})
    with pytest.raises(cnnrt.CnnrtError, match="channels"):
        sess.run([RNG.standard_normal((1, 5, 5, 3)).astype(np.float32)])
    (y,) = sess.run([RNG.standard_normal((1, 5, 5, 4)).astype(np.float32)])
    assert y.shape == (1, 5, 5, 6)
