"""LSTM and GRU vs onnxruntime: directions forward/reverse/bidirectional,
odd hidden and input sizes, batch 1 and 3, with and without B, initial_h,
initial_c, P (peepholes), clip, input_forget (LSTM), linear_before_reset
(GRU), per-batch sequence_lens, layout 0 and 1 (opset 14+), opsets 7 and
14/22, each output alone (Y, Y_h, Y_c optional), weights as constants (packed
at load) and as graph inputs, every ISA path; a CRNN head (Conv ->
[T, N, C] -> bidirectional LSTM -> Softmax); bad attributes and shapes name
the node, other activation lists are refused naming the attribute."""
import itertools

import numpy as np
import pytest
from onnx import TensorProto, helper

import cnnrt
from helpers import assert_close, assert_load_error, check_model, make_model, run_ort

GATES = {"LSTM": 4, "GRU": 3}


def rnd(shape, seed, scale=0.5):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def rnn_model(op, T, N, I, H, direction="forward", opset=14, layout=0, bias=True, init_h=False, init_c=False,
              peep=False, seq_lens=None, outs=(0, 1, 2), const=True, name="rnn0", **attrs):
    """Returns (model, feeds)."""
    D = 2 if direction == "bidirectional" else 1
    G = GATES[op]
    # Weights shrink with the width: a recurrence with |R h| >> 1 is chaotic
    # over long sequences, and float32 rounding (onnxruntime's as much as
    # cnnrt's) then grows to 1e-3 of the result over 40 steps.
    ws = min(0.5, 2.0 / np.sqrt(max(H, I)))
    params = {"W": rnd([D, G * H, I], 1, ws), "R": rnd([D, G * H, H], 2, ws)}
    ins = ["x", "W", "R"]
    opt = {}
    if bias:
        opt["B"] = rnd([D, 2 * G * H], 3)
    if seq_lens is not None:
        opt["seq"] = np.asarray(seq_lens, np.int32)
    state = [N, D, H] if layout else [D, N, H]
    feeds = {"x": rnd([N, T, I] if layout else [T, N, I], 0, 1.0)}
    if init_h:
        feeds["h0"] = rnd(state, 4)
    if init_c:
        feeds["c0"] = rnd(state, 5)
    if peep:
        opt["P"] = rnd([D, 3 * H], 6)
    names = ["B", "seq", "h0", "c0", "P"] if op == "LSTM" else ["B", "seq", "h0"]
    present = [n for n in names if n in opt or n in feeds]
    last = max((names.index(n) for n in present), default=-1)
    ins += [n if (n in opt or n in feeds) else "" for n in names[: last + 1]]
    n_out = 3 if op == "LSTM" else 2
    out_names = [("y", "yh", "yc")[k] if k in outs else "" for k in range(n_out)]
    while out_names and not out_names[-1]:
        out_names.pop()
    if layout:
        attrs["layout"] = 1
    node = helper.make_node(op, ins, out_names, name=name, hidden_size=H, direction=direction, **attrs)
    inits = dict(opt)
    if not const:  # W, R (and B, P) as graph inputs
        for k in ("W", "R", "B", "P"):
            if k in inits:
                feeds[k] = inits.pop(k)
    inits.update(params if const else {})
    if not const:
        feeds["W"], feeds["R"] = params["W"], params["R"]
    outputs = [o for o in out_names if o]
    model_inputs = {k: np.zeros(v.shape, v.dtype) for k, v in feeds.items()}
    m = make_model([node], model_inputs, outputs, inits, opset=opset)
    return m, feeds


DIRS = ["forward", "reverse", "bidirectional"]


def check_rnn(op, *args, layout=0, isa=None, threads=1, **kw):
    """check_model; for layout 1 (batch-major, which onnxruntime's CPU
    kernels refuse) the reference is the layout-0 model run by onnxruntime on
    the transposed inputs, its outputs transposed back."""
    m, feeds = rnn_model(op, *args, layout=layout, **kw)
    if layout == 0:
        return check_model(m, feeds, isa=isa, threads=threads)
    m0, _ = rnn_model(op, *args, layout=0, **kw)
    f0 = dict(feeds)
    f0["x"] = feeds["x"].transpose(1, 0, 2).copy()
    for k in ("h0", "c0"):
        if k in feeds:
            f0[k] = feeds[k].transpose(1, 0, 2).copy()
    ref = run_ort(m0, f0)
    names = [o.name for o in m.graph.output]
    ref = [r.transpose(2, 0, 1, 3) if n == "y" else r.transpose(1, 0, 2) for n, r in zip(names, ref)]
    got = cnnrt.load(m, isa=isa, threads=threads).run(None, feeds)
    assert len(got) == len(ref)
    for k, (g, r) in enumerate(zip(got, ref)):
        assert_close(g, r, f"output {names[k]}")


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
@pytest.mark.parametrize("direction", DIRS)
@pytest.mark.parametrize("T,N,I,H", [(1, 1, 1, 1), (5, 3, 7, 9), (4, 1, 16, 17), (9, 3, 3, 33)])
def test_rnn_shapes(isa, op, direction, T, N, I, H):
    m, feeds = rnn_model(op, T, N, I, H, direction)
    check_model(m, feeds, isa=isa)


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
@pytest.mark.parametrize("direction", DIRS)
@pytest.mark.parametrize("opset", [7, 14, 22])
@pytest.mark.parametrize("bias,init", [(False, False), (True, True), (False, True)])
def test_rnn_optional_inputs(op, direction, opset, bias, init):
    m, feeds = rnn_model(op, 6, 3, 5, 7, direction, opset=opset, bias=bias, init_h=init, init_c=init and op == "LSTM")
    check_model(m, feeds)


@pytest.mark.parametrize("direction", DIRS)
@pytest.mark.parametrize("peep,input_forget,clip", list(itertools.product([False, True], [0, 1], [None, 0.7])))
def test_lstm_peepholes_input_forget_clip(direction, peep, input_forget, clip):
    attrs = {"input_forget": input_forget}
    if clip is not None:
        attrs["clip"] = clip
    m, feeds = rnn_model("LSTM", 5, 3, 4, 6, direction, init_h=True, init_c=True, peep=peep, **attrs)
    check_model(m, feeds)


@pytest.mark.parametrize("direction", DIRS)
@pytest.mark.parametrize("lbr", [0, 1])
@pytest.mark.parametrize("clip", [None, 0.6])
@pytest.mark.parametrize("const", [True, False])
def test_gru_linear_before_reset_clip(direction, lbr, clip, const):
    attrs = {"linear_before_reset": lbr}
    if clip is not None:
        attrs["clip"] = clip
    m, feeds = rnn_model("GRU", 5, 3, 4, 6, direction, init_h=True, const=const, **attrs)
    check_model(m, feeds)


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
@pytest.mark.parametrize("direction", DIRS)
@pytest.mark.parametrize("layout", [0, 1])
@pytest.mark.parametrize("seq", [[6, 6, 6], [6, 2, 4], [1, 6, 3]])
def test_rnn_sequence_lens_layout(op, direction, layout, seq):
    check_rnn(op, 6, 3, 5, 7, direction, layout=layout, seq_lens=seq, init_h=True, init_c=op == "LSTM",
              peep=op == "LSTM")


OUTS = [("LSTM", o) for o in [(0,), (1,), (2,), (0, 2), (1, 2)]] + [("GRU", o) for o in [(0,), (1,)]]


@pytest.mark.parametrize("op,outs", OUTS)
@pytest.mark.parametrize("layout", [0, 1])
def test_rnn_each_output(op, outs, layout):
    check_rnn(op, 5, 3, 4, 6, "bidirectional", layout=layout, outs=outs)


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
@pytest.mark.parametrize("const", [True, False])
def test_rnn_weights_inputs_threads(op, const):
    """Large enough for the projection GEMM to use threads; W/R raw or packed."""
    m, feeds = rnn_model(op, 40, 3, 64, 96, "bidirectional", const=const, init_h=True)
    check_model(m, feeds, threads=2)


def test_lstm_default_activations_spelled_out():
    m, feeds = rnn_model("LSTM", 4, 3, 5, 6, "bidirectional",
                         activations=["Sigmoid", "Tanh", "Tanh", "Sigmoid", "Tanh", "Tanh"])
    check_model(m, feeds)
    m, feeds = rnn_model("GRU", 4, 3, 5, 6, "forward", activations=["Sigmoid", "Tanh"])
    check_model(m, feeds)


def test_crnn_head(isa):
    """A CRNN recogniser's head: Conv feature map [N, C, 1, W] -> Squeeze ->
    Transpose to [T=W, N, C] -> bidirectional LSTM -> [T, N, 2H] -> Gemm-like
    MatMul -> Softmax."""
    N, C, W, H, K = 3, 8, 13, 16, 11
    x = rnd([N, 3, 4, W], 10, 1.0)
    conv_w = rnd([C, 3, 4, 3], 11)
    D = 2
    nodes = [
        helper.make_node("Conv", ["x", "cw"], ["f"], name="conv", pads=[0, 1, 0, 1]),
        helper.make_node("Relu", ["f"], ["fr"], name="relu"),
        helper.make_node("Squeeze", ["fr", "ax2"], ["s"], name="sq"),
        helper.make_node("Transpose", ["s"], ["seq"], name="tr", perm=[2, 0, 1]),
        helper.make_node("LSTM", ["seq", "W", "R", "B"], ["y"], name="lstm", hidden_size=H, direction="bidirectional"),
        helper.make_node("Transpose", ["y"], ["yt"], name="tr2", perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["yt", "shp"], ["yr"], name="rs"),
        helper.make_node("MatMul", ["yr", "fc"], ["logits"], name="fc"),
        helper.make_node("Softmax", ["logits"], ["prob"], name="sm", axis=-1),
    ]
    inits = {"cw": conv_w, "ax2": np.array([2], np.int64), "W": rnd([D, 4 * H, C], 12), "R": rnd([D, 4 * H, H], 13),
             "B": rnd([D, 8 * H], 14), "shp": np.array([W, N, 2 * H], np.int64), "fc": rnd([2 * H, K], 15)}
    m = make_model(nodes, {"x": x}, ["prob"], inits, opset=14)
    check_model(m, {"x": x}, isa=isa)


# ------------------------------------------------------------ errors

def test_rnn_bad_w_shape():
    m, feeds = rnn_model("LSTM", 4, 3, 5, 6, name="lstm_bad")
    # W for hidden_size 6 but the node says 7.
    for a in m.graph.node[0].attribute:
        if a.name == "hidden_size":
            a.i = 7
    assert_load_error(m, feeds, "lstm_bad", "hidden_size")


def test_rnn_bad_direction():
    m, feeds = rnn_model("GRU", 4, 3, 5, 6, name="gru_dir")
    for a in m.graph.node[0].attribute:
        if a.name == "direction":
            a.s = b"sideways"
    assert_load_error(m, feeds, "gru_dir", "direction", "sideways")


def test_rnn_bad_sequence_lens():
    m, feeds = rnn_model("LSTM", 4, 3, 5, 6, seq_lens=[4, 5, 1], name="lstm_seq")
    assert_load_error(m, feeds, "lstm_seq", "sequence_lens", "1..4")


def test_rnn_bad_initial_h():
    m, feeds = rnn_model("GRU", 4, 3, 5, 6, init_h=True, name="gru_h0")
    for vi in m.graph.input:
        if vi.name == "h0":
            vi.type.tensor_type.shape.dim[2].dim_value = 5
    feeds["h0"] = rnd([1, 3, 5], 0)
    assert_load_error(m, feeds, "gru_h0", "initial_h", "[1, 3, 6]")


@pytest.mark.parametrize("op,acts", [("LSTM", ["Relu", "Tanh", "Tanh"]), ("GRU", ["Sigmoid", "Relu"])])
def test_rnn_other_activations_refused(op, acts):
    m, feeds = rnn_model(op, 4, 3, 5, 6, name="rnn_act", activations=acts)
    with pytest.raises(cnnrt.UnsupportedOpError) as e:
        cnnrt.load(m)
    assert "rnn_act" in str(e.value) and "activations" in str(e.value)


def test_rnn_concurrent_runs_use_own_workspace():
    """The recurrence state lives in the run's arena (PlanCtx workspace): one
    session called from several Python threads at once gives each its own."""
    from concurrent.futures import ThreadPoolExecutor

    m, feeds = rnn_model("LSTM", 12, 3, 16, 24, "bidirectional", init_h=True, init_c=True)
    sess = cnnrt.load(m)
    inputs = []
    for k in range(8):
        f = dict(feeds)
        f["x"] = rnd(feeds["x"].shape, 100 + k, 1.0)
        inputs.append(f)
    want = [sess.run(None, f) for f in inputs]
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda f: sess.run(None, f), inputs * 4))
    for k, g in enumerate(got):
        for a, b in zip(g, want[k % 8]):
            np.testing.assert_array_equal(a, b)
