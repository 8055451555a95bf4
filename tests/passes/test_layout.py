"""The layout pass: where the conversions land (graph-level checks on small
onnx.helper graphs) and, for the patterns that can go wrong, the whole load
against onnxruntime on every ISA path."""
import numpy as np
import pytest
from onnx import TensorProto, helper

import cnnrt
from cnnrt.onnx_import import read_model, to_ir
from cnnrt.passes import PIPELINE, layout, run_pipeline
from helpers import assert_close, check_model, make_model, run_cnnrt, run_ort

TO_NHWC = [0, 2, 3, 1]
TO_NCHW = [0, 3, 1, 2]


@pytest.fixture(autouse=True)
def default_layout(monkeypatch):
    """The graph-level checks are for the default rule, whatever the caller's
    environment says."""
    monkeypatch.delenv("CNNRT_LAYOUT", raising=False)


def ir(model):
    proto, _, label = read_model(model)
    return to_ir(proto, label)


def lay(model):
    return run_pipeline(ir(model))


def ops(graph):
    return [n.op for n in graph.nodes]


def node(graph, name):
    return next(n for n in graph.nodes if n.name == name)


def converters(graph):
    """(op, perm or shape, input) of the conversions the pass added."""
    out = []
    for n in graph.nodes:
        if n.op == "Transpose" and n.attrs.get("perm") in (TO_NHWC, TO_NCHW):
            out.append(("Transpose", tuple(n.attrs["perm"]), n.inputs[0]))
        elif n.op == "Reshape" and "::" in n.name:
            out.append(("Reshape", tuple(graph.consts[n.inputs[1]].tolist()), n.inputs[0]))
    return out


def rand(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def conv(name, x, y, w, b=None, **attrs):
    return helper.make_node("Conv", [x, w] + ([b] if b else []), [y], name=name, **attrs)


def weights(rng, oc, c, k, group=1):
    return rand(rng, oc, c // group, k, k, scale=1.0 / np.sqrt(c // group * k * k))


# ---------------------------------------------------------------- graph level


def test_conv_chain_converts_once_at_each_edge():
    rng = np.random.default_rng(0)
    nodes = [conv("c1", "x", "a", "w1", "b1", pads=[1, 1, 1, 1]), helper.make_node("Relu", ["a"], ["r"], name="relu"),
             conv("c2", "r", "y", "w2", strides=[2, 2])]
    inits = {"w1": weights(rng, 8, 5, 3), "b1": rand(rng, 8), "w2": weights(rng, 6, 8, 1)}
    model = make_model(nodes, {"x": np.zeros((2, 5, 9, 9), np.float32)}, ["y"], inits)
    g = lay(model)
    assert ops(g) == ["Transpose", "Conv", "Conv", "Transpose"]
    assert all(n.attrs.get("cnnrt_layout") == 1 for n in g.nodes if n.op == "Conv")
    assert converters(g) == [("Transpose", tuple(TO_NHWC), "x"), ("Transpose", tuple(TO_NCHW), "y::nhwc")]
    assert g.nodes[-1].outputs == ["y"] and [v.name for v in g.outputs] == ["y"]
    assert "layout" in g.applied
    # graph.shapes follows the layout: NHWC entries for the NHWC tensors, NCHW for the output.
    assert g.shapes["r"].shape == [2, 9, 9, 8]
    assert g.shapes["y::nhwc"].shape == [2, 5, 5, 6]
    assert g.shapes["y"].shape == [2, 6, 5, 5]
    check_model(model, {"x": rand(rng, 2, 5, 9, 9)})


def test_one_shared_transpose_per_tensor_and_direction():
    """A graph input read by two convs is converted once; a conv output read
    by two NCHW consumers is converted back once."""
    rng = np.random.default_rng(1)
    nodes = [conv("c1", "x", "a", "w1"), conv("c2", "x", "b", "w2"), helper.make_node("Add", ["a", "b"], ["s"], name="add"),
             helper.make_node("Softmax", ["s"], ["y1"], name="sm", axis=1),
             helper.make_node("LogSoftmax", ["s"], ["y2"], name="lsm", axis=1)]
    inits = {"w1": weights(rng, 4, 3, 3), "w2": weights(rng, 4, 3, 3)}
    model = make_model(nodes, {"x": np.zeros((1, 3, 7, 7), np.float32)}, ["y1", "y2"], inits)
    g = lay(model)
    conv_s = [c for c in converters(g)]
    assert conv_s == [("Transpose", tuple(TO_NHWC), "x"), ("Transpose", tuple(TO_NCHW), "s")]
    assert node(g, "sm").inputs == node(g, "lsm").inputs
    check_model(model, {"x": rand(rng, 1, 3, 7, 7)})


def test_unit_spatial_conversion_is_a_reshape(isa):
    """GlobalAveragePool -> Flatten -> Gemm: [N,1,1,C] and [N,C,1,1] hold the
    same bytes, so the conversion is a (free) Reshape, not a Transpose."""
    rng = np.random.default_rng(2)
    nodes = [conv("c1", "x", "a", "w", "b", pads=[1, 1, 1, 1]), helper.make_node("GlobalAveragePool", ["a"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]
    inits = {"w": weights(rng, 21, 3, 3), "b": rand(rng, 21), "fw": rand(rng, 10, 21), "fb": rand(rng, 10)}
    model = make_model(nodes, {"x": np.zeros((3, 3, 11, 13), np.float32)}, ["y"], inits)
    g = lay(model)
    assert node(g, "gap").attrs["cnnrt_layout"] == 1
    assert converters(g) == [("Transpose", tuple(TO_NHWC), "x"), ("Reshape", (0, 21, 1, 1), "p")]
    check_model(model, {"x": rand(rng, 3, 3, 11, 13)}, isa=isa)


def test_unit_spatial_graph_input_enters_by_reshape(isa):
    """An NCHW [N, C, 1, 1] graph input multiplied into an NHWC map enters by
    a Reshape too."""
    rng = np.random.default_rng(3)
    nodes = [conv("c1", "x", "a", "w"), helper.make_node("Mul", ["a", "s"], ["y"], name="mul")]
    model = make_model(nodes, {"x": np.zeros((2, 3, 6, 6), np.float32), "s": np.zeros((2, 5, 1, 1), np.float32)}, ["y"],
                       {"w": weights(rng, 5, 3, 1)})
    g = lay(model)
    assert ("Reshape", (0, 1, 1, 5), "s") in converters(g)
    check_model(model, {"x": rand(rng, 2, 3, 6, 6), "s": rand(rng, 2, 5, 1, 1)}, isa=isa)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("shape", [(1, 7, 1, 1), (7, 1, 1), (1,), (), (1, 1, 1, 1), (5,), (1, 7, 5, 5), (7, 5, 1)])
def test_constant_operands_are_permuted(op, shape, isa):
    """A constant operand is made rank 4 and permuted (scalars and one-element
    constants as they are); it broadcasts the same way in NHWC."""
    rng = np.random.default_rng(4)
    k = rand(rng, *shape) + (3.0 if op == "Div" else 0.0)
    nodes = [conv("c1", "x", "a", "w"), helper.make_node(op, ["k", "a"] if op == "Sub" else ["a", "k"], ["e"], name="elt"),
             conv("c2", "e", "y", "w2")]
    model = make_model(nodes, {"x": np.zeros((2, 3, 5, 5), np.float32)}, ["y"],
                       {"w": weights(rng, 7, 3, 1), "w2": weights(rng, 4, 7, 1), "k": k})
    g = lay(model)
    elt = node(g, "elt")
    kname = elt.inputs[0] if op == "Sub" else elt.inputs[1]
    if k.size == 1:
        assert kname == "k"
    else:
        want = k.reshape((1,) * (4 - k.ndim) + k.shape).transpose(TO_NHWC)
        np.testing.assert_array_equal(g.consts[kname], want)
    assert ops(g).count("Transpose") == 2
    check_model(model, {"x": rand(rng, 2, 3, 5, 5)}, isa=isa)


@pytest.mark.parametrize("op", ["Min", "Max", "Mean", "Pow"])
@pytest.mark.parametrize("shape", [(), (1, 7, 1, 1), (7, 1, 1), (1, 7, 5, 5)])
def test_variadic_and_pow_follow_the_region(op, shape, isa):
    """Min/Max/Mean/Pow with a constant operand run NHWC between two
    convolutions (ReLU6 exported as Max(x, 0) then Min(x, 6))."""
    rng = np.random.default_rng(5)
    k = np.abs(rand(rng, *shape)) + (1.0 if op == "Pow" else 0.0)
    nodes = [conv("c1", "x", "a", "w"), helper.make_node("Relu", ["a"], ["ar"], name="relu"),
             helper.make_node(op, ["ar", "k"], ["e"], name="elt"), conv("c2", "e", "y", "w2")]
    model = make_model(nodes, {"x": np.zeros((2, 3, 5, 5), np.float32)}, ["y"],
                       {"w": weights(rng, 7, 3, 1), "w2": weights(rng, 4, 7, 1), "k": np.asarray(k, np.float32)})
    g = lay(model)
    assert ops(g).count("Transpose") == 2, ops(g)
    check_model(model, {"x": rand(rng, 2, 3, 5, 5)}, isa=isa)


def test_prelu_slope_is_permuted(isa):
    rng = np.random.default_rng(5)
    nodes = [conv("c1", "x", "a", "w"), helper.make_node("PRelu", ["a", "slope"], ["y"], name="prelu")]
    model = make_model(nodes, {"x": np.zeros((1, 3, 6, 5), np.float32)}, ["y"],
                       {"w": weights(rng, 6, 3, 3), "slope": rand(rng, 6, 1, 1)})
    g = lay(model)
    assert g.consts[node(g, "prelu").inputs[1]].shape == (1, 1, 1, 6)
    check_model(model, {"x": rand(rng, 1, 3, 6, 5)}, isa=isa)


def test_concat_axis_and_nchw_input(isa):
    """Concat over channels -> axis 3; an NCHW input (here the graph input)
    gets a Transpose to NHWC."""
    rng = np.random.default_rng(6)
    nodes = [conv("c1", "x", "a", "w1", pads=[1, 1, 1, 1]), conv("c2", "x", "b", "w2"),
             helper.make_node("Concat", ["a", "x", "b"], ["cat"], name="cat", axis=1),
             conv("c3", "cat", "y", "w3")]
    inits = {"w1": weights(rng, 5, 3, 3), "w2": weights(rng, 7, 3, 1), "w3": weights(rng, 4, 15, 1)}
    model = make_model(nodes, {"x": np.zeros((2, 3, 6, 7), np.float32)}, ["y"], inits)
    g = lay(model)
    cat = node(g, "cat")
    assert cat.attrs["axis"] == 3
    assert cat.inputs[1] == "x::nhwc"
    assert ops(g).count("Transpose") == 2
    check_model(model, {"x": rand(rng, 2, 3, 6, 7)}, isa=isa)


@pytest.mark.parametrize("axis", [0, 2, -1])
def test_concat_other_axes_are_remapped(axis):
    rng = np.random.default_rng(7)
    nodes = [conv("c1", "x", "a", "w1"), conv("c2", "x", "b", "w2"),
             helper.make_node("Concat", ["a", "b"], ["y"], name="cat", axis=axis)]
    inits = {"w1": weights(rng, 4, 3, 1), "w2": weights(rng, 4, 3, 1)}
    model = make_model(nodes, {"x": np.zeros((2, 3, 5, 6), np.float32)}, ["y"], inits)
    g = lay(model)
    assert node(g, "cat").attrs["axis"] == {0: 0, 2: 1, -1: 2}[axis]
    check_model(model, {"x": rand(rng, 2, 3, 5, 6)})


def test_conv_output_that_is_also_a_graph_output(isa):
    """The graph output keeps its name and NCHW layout; the next conv reads
    the NHWC value directly."""
    rng = np.random.default_rng(8)
    nodes = [conv("c1", "x", "a", "w1", pads=[1, 1, 1, 1]), conv("c2", "a", "y", "w2")]
    model = make_model(nodes, {"x": np.zeros((1, 4, 7, 7), np.float32)}, ["a", "y"],
                       {"w1": weights(rng, 6, 4, 3), "w2": weights(rng, 5, 6, 1)})
    g = lay(model)
    assert [v.name for v in g.outputs] == ["a", "y"]
    assert node(g, "c1").outputs == ["a::nhwc"] and node(g, "c2").inputs[0] == "a::nhwc"
    assert {n.outputs[0] for n in g.nodes if n.op == "Transpose" and n.attrs["perm"] == TO_NCHW} == {"a", "y"}
    got, _ = check_model(model, {"x": rand(rng, 1, 4, 7, 7)}, isa=isa)
    assert got[0].shape == (1, 6, 7, 7)


def test_graph_output_fed_straight_from_an_nhwc_op_and_read_again(isa):
    """A pooled map that is a graph output and also read by an NCHW op (Flatten):
    both read the one NCHW copy."""
    rng = np.random.default_rng(9)
    nodes = [conv("c1", "x", "a", "w"), helper.make_node("MaxPool", ["a"], ["p"], name="pool", kernel_shape=[2, 2]),
             helper.make_node("Flatten", ["p"], ["y"], name="flat")]
    model = make_model(nodes, {"x": np.zeros((2, 3, 8, 8), np.float32)}, ["p", "y"], {"w": weights(rng, 5, 3, 3)})
    g = lay(model)
    assert node(g, "flat").inputs == ["p"]
    assert ops(g).count("Transpose") == 2
    check_model(model, {"x": rand(rng, 2, 3, 8, 8)}, isa=isa)


def test_flatten_of_a_feature_map_sees_nchw_order(isa):
    """Flatten of a 7x7 map: the flattened order must be C, H, W."""
    rng = np.random.default_rng(10)
    nodes = [conv("c1", "x", "a", "w", "b", pads=[1, 1, 1, 1]), helper.make_node("Relu", ["a"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fw"], ["y"], name="fc", transB=1)]
    inits = {"w": weights(rng, 9, 5, 3), "b": rand(rng, 9), "fw": rand(rng, 10, 9 * 7 * 7, scale=0.05)}
    model = make_model(nodes, {"x": np.zeros((3, 5, 7, 7), np.float32)}, ["y"], inits)
    g = lay(model)
    assert converters(g)[-1] == ("Transpose", tuple(TO_NCHW), "r")  # the conv's output, Relu fused
    check_model(model, {"x": rand(rng, 3, 5, 7, 7)}, isa=isa)


def test_se_block(isa):
    """Squeeze-and-excitation: GlobalAveragePool -> Conv1x1 -> Relu -> Conv1x1
    -> Sigmoid -> Mul with the feature map; all of it stays NHWC."""
    rng = np.random.default_rng(11)
    c, r = 24, 6
    nodes = [conv("c0", "x", "f", "w0", "b0", pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["f"], ["p"], name="gap"),
             conv("se1", "p", "s1", "w1", "b1"), helper.make_node("Relu", ["s1"], ["s2"], name="relu"),
             conv("se2", "s2", "s3", "w2", "b2"), helper.make_node("Sigmoid", ["s3"], ["s4"], name="sig"),
             helper.make_node("Mul", ["f", "s4"], ["y"], name="scale")]
    inits = {"w0": weights(rng, c, 3, 3), "b0": rand(rng, c), "w1": weights(rng, r, c, 1), "b1": rand(rng, r),
             "w2": weights(rng, c, r, 1), "b2": rand(rng, c)}
    model = make_model(nodes, {"x": np.zeros((3, 3, 9, 10), np.float32)}, ["y"], inits)
    g = lay(model)
    assert ops(g).count("Transpose") == 2 and "Reshape" not in ops(g)
    check_model(model, {"x": rand(rng, 3, 3, 9, 10)}, isa=isa)


def test_residual_add_of_two_nhwc_tensors(isa):
    """Add(relu(conv), relu(conv)) stays an NHWC Add; a residual fused from a
    graph input reads the input's NHWC copy."""
    rng = np.random.default_rng(12)
    nodes = [conv("c1", "x", "a", "w1", pads=[1, 1, 1, 1]), helper.make_node("Relu", ["a"], ["ra"], name="r1"),
             conv("c2", "x", "b", "w2"), helper.make_node("Relu", ["b"], ["rb"], name="r2"),
             helper.make_node("Add", ["ra", "rb"], ["s"], name="add"),
             conv("c3", "s", "c", "w3", pads=[1, 1, 1, 1]), helper.make_node("Add", ["c", "x"], ["y"], name="res")]
    inits = {"w1": weights(rng, 6, 6, 3), "w2": weights(rng, 6, 6, 1), "w3": weights(rng, 6, 6, 3)}
    model = make_model(nodes, {"x": np.zeros((2, 6, 7, 9), np.float32)}, ["y"], inits)
    g = lay(model)
    assert node(g, "add").inputs == ["ra", "rb"]  # the Relus fused into the convs, which produce NHWC
    assert node(g, "c3").inputs[3] == "x::nhwc"
    assert ops(g).count("Transpose") == 2
    check_model(model, {"x": rand(rng, 2, 6, 7, 9)}, isa=isa)


@pytest.mark.parametrize("group,c,oc", [(2, 6, 10), (3, 9, 3), (4, 68, 36), (5, 5, 5), (7, 7, 14)])
def test_grouped_conv(group, c, oc, isa):
    rng = np.random.default_rng(13)
    nodes = [conv("c1", "x", "y", "w", "b", group=group, pads=[1, 0, 2, 1], strides=[1, 2])]
    model = make_model(nodes, {"x": np.zeros((3, c, 9, 8), np.float32)}, ["y"],
                       {"w": weights(rng, oc, c, 3, group), "b": rand(rng, oc)})
    g = lay(model)
    assert node(g, "c1").attrs["cnnrt_layout"] == 1
    check_model(model, {"x": rand(rng, 3, c, 9, 8)}, isa=isa)


def test_conv_with_runtime_weight_stays_nchw(isa):
    rng = np.random.default_rng(14)
    nodes = [conv("c1", "x", "a", "w"), helper.make_node("Relu", ["a"], ["r"], name="relu"),
             conv("c2", "r", "y", "w2")]
    model = make_model(nodes, {"x": np.zeros((1, 3, 6, 6), np.float32), "w": np.zeros((4, 3, 3, 3), np.float32)}, ["y"],
                       {"w2": weights(rng, 5, 4, 1)})
    g = lay(model)
    assert "cnnrt_layout" not in node(g, "c1").attrs and node(g, "c2").attrs["cnnrt_layout"] == 1
    assert converters(g) == [("Transpose", tuple(TO_NHWC), "r"), ("Transpose", tuple(TO_NCHW), "y::nhwc")]
    check_model(model, {"x": rand(rng, 1, 3, 6, 6), "w": weights(rng, 4, 3, 3)}, isa=isa)


def test_conv_free_graph_is_left_alone():
    nodes = [helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[3, 3]),
             helper.make_node("Relu", ["p"], ["y"], name="relu")]
    model = make_model(nodes, {"x": np.zeros((1, 3, 9, 9), np.float32)}, ["y"])
    g0 = run_pipeline(ir(model), [p for p in PIPELINE if p is not layout])
    assert layout(g0) is g0


def test_pooling_region_without_a_conv_stays_nchw():
    """A lone pooling next to (but not connected to) a conv region would pay
    two transposes for nothing."""
    rng = np.random.default_rng(15)
    nodes = [conv("c1", "x", "a", "w"), helper.make_node("LRN", ["a"], ["l"], name="lrn", size=3),
             helper.make_node("Softmax", ["l"], ["s"], name="sm", axis=1),
             helper.make_node("MaxPool", ["s"], ["y"], name="pool", kernel_shape=[2, 2])]
    model = make_model(nodes, {"x": np.zeros((1, 3, 8, 8), np.float32)}, ["y"], {"w": weights(rng, 4, 3, 3)})
    g = lay(model)
    assert "cnnrt_layout" not in node(g, "pool").attrs
    assert node(g, "lrn").attrs["cnnrt_layout"] == 1


def test_env_nchw_keeps_the_graph_and_nhwc_forces_it(monkeypatch):
    rng = np.random.default_rng(16)
    model = make_model([conv("c1", "x", "y", "w")], {"x": np.zeros((1, 3, 5, 5), np.float32)}, ["y"],
                       {"w": weights(rng, 4, 3, 3)})
    pool = make_model([helper.make_node("AveragePool", ["x"], ["y"], name="pool", kernel_shape=[2, 2])],
                      {"x": np.zeros((1, 3, 5, 5), np.float32)}, ["y"])
    monkeypatch.setenv("CNNRT_LAYOUT", "nchw")
    g = lay(model)
    assert ops(g) == ["Conv"] and "layout" not in g.applied and "cnnrt_layout" not in g.nodes[0].attrs
    assert "layout" not in cnnrt.load(model).passes_applied
    monkeypatch.setenv("CNNRT_LAYOUT", "nhwc")
    assert ops(lay(pool)) == ["Transpose", "AveragePool", "Transpose"]
    monkeypatch.setenv("CNNRT_LAYOUT", "auto")
    assert ops(lay(pool)) == ["AveragePool"]
    assert "layout" in cnnrt.load(model).passes_applied
    monkeypatch.setenv("CNNRT_LAYOUT", "NCWH")
    with pytest.raises(ValueError, match="CNNRT_LAYOUT"):
        cnnrt.load(model)


def test_layout_pass_is_pure():
    rng = np.random.default_rng(17)
    nodes = [conv("c1", "x", "a", "w"), helper.make_node("Add", ["a", "k"], ["b"], name="add"),
             helper.make_node("Concat", ["b", "x"], ["y"], name="cat", axis=1)]
    model = make_model(nodes, {"x": np.zeros((1, 3, 5, 5), np.float32)}, ["y"],
                       {"w": weights(rng, 4, 3, 1), "k": rand(rng, 4, 1, 1)})
    g0 = run_pipeline(ir(model), [p for p in PIPELINE if p is not layout])
    before = [(n.op, list(n.inputs), list(n.outputs), dict(n.attrs)) for n in g0.nodes]
    consts = {k: v.copy() for k, v in g0.consts.items()}
    shapes = {k: list(v.shape) if v.shape else v.shape for k, v in g0.shapes.items()}
    g1 = layout(g0)
    assert g1 is not g0 and "layout" in g1.applied and "layout" not in g0.applied
    assert [(n.op, list(n.inputs), list(n.outputs), dict(n.attrs)) for n in g0.nodes] == before
    assert set(g0.consts) == set(consts)
    for k, v in consts.items():
        np.testing.assert_array_equal(g0.consts[k], v)
    assert {k: list(v.shape) if v.shape else v.shape for k, v in g0.shapes.items()} == shapes
    assert layout(g1) is g1  # applied once


def test_shape_of_an_nhwc_tensor_needs_no_transpose(isa):
    """x.view(x.size(0), -1) with a dynamic batch: Shape -> Gather -> ... ->
    Reshape. Shape of the NHWC tensor becomes Shape + Gather of the permuted
    dims, and the flattened order is still C, H, W (the Reshape's input is
    converted)."""
    rng = np.random.default_rng(18)
    i0 = helper.make_tensor("i0", TensorProto.INT64, [], [0])
    nodes = [conv("c1", "x", "a", "w", pads=[1, 1, 1, 1]),
             helper.make_node("Shape", ["a"], ["s"], name="shape"),
             helper.make_node("Gather", ["s", "i0"], ["n"], name="g", axis=0),
             helper.make_node("Unsqueeze", ["n", "ax"], ["nu"], name="u"),
             helper.make_node("Concat", ["nu", "m1"], ["tgt"], name="tcat", axis=0),
             helper.make_node("Reshape", ["a", "tgt"], ["f"], name="flat"),
             helper.make_node("Shape", ["a"], ["hw"], name="shape_hw", start=2),
             helper.make_node("Relu", ["f"], ["y"], name="relu")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 5, 6])
    g = helper.make_graph(nodes, "dyn", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                                              helper.make_tensor_value_info("hw", TensorProto.INT64, None)],
                          [helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], weights(rng, 4, 3, 3).ravel()), i0,
                           helper.make_tensor("ax", TensorProto.INT64, [1], [0]),
                           helper.make_tensor("m1", TensorProto.INT64, [1], [-1])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    gl = lay(model)
    assert node(gl, "shape").inputs == ["a"] and node(gl, "shape").attrs == {}
    assert "shape_hw" in {n.name for n in gl.nodes}
    assert [n.op for n in gl.nodes].count("Transpose") == 2  # in, and before the flattening Reshape
    sess = cnnrt.load(model, threads=1, isa=isa)
    for batch in (1, 3):
        feeds = {"x": rand(rng, batch, 3, 5, 6)}
        ref = run_ort(model, feeds)
        got = sess.run(None, feeds)
        assert_close(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])


def shuffle_model(rng, n=2, c=12, g=3, hw=(5, 6)):
    h, w = hw
    nodes = [conv("c1", "x", "a", "w1", "b1"),
             helper.make_node("Reshape", ["a", "s5"], ["r5"], name="to5"),
             helper.make_node("Transpose", ["r5"], ["t5"], name="shuffle", perm=[0, 2, 1, 3, 4]),
             helper.make_node("Reshape", ["t5", "s4"], ["r4"], name="to4"),
             conv("c2", "r4", "y", "w2", group=c, pads=[1, 1, 1, 1])]
    inits = {"w1": weights(rng, c, 5, 1), "b1": rand(rng, c), "w2": weights(rng, c, c, 3, group=c),
             "s5": np.array([n, g, c // g, h, w], np.int64), "s4": np.array([n, c, h, w], np.int64)}
    return make_model(nodes, {"x": np.zeros((n, 5, h, w), np.float32)}, ["y"], inits)


def test_channel_shuffle_runs_on_nhwc(isa):
    rng = np.random.default_rng(19)
    model = shuffle_model(rng)
    g = lay(model)
    assert len(converters(g)) == 2
    assert node(g, "shuffle").attrs["perm"] == [0, 1, 2, 4, 3]
    assert g.consts[node(g, "to5").inputs[1]].tolist() == [0, 5, 6, 3, 4]
    check_model(model, {"x": rand(rng, 2, 5, 5, 6)}, isa=isa)


def test_channel_shuffle_other_transposes_stay_nchw():
    """Only the shuffle's own perm is rewritten; any other 5-D transpose reads NCHW."""
    rng = np.random.default_rng(20)
    model = shuffle_model(rng)
    model.graph.node[2].attribute[0].ints[:] = [0, 1, 2, 4, 3]
    g = lay(model)
    assert node(g, "shuffle").attrs["perm"] == [0, 1, 2, 4, 3]
    assert node(g, "to5").inputs[0] == "a::nchw"
    check_model(model, {"x": rand(rng, 2, 5, 5, 6)})


def lrn_bn_model(rng, size):
    c = 19
    c = 19
    nodes = [conv("c1", "x", "a", "w1", pads=[1, 1, 1, 1]), conv("c2", "x", "b", "w2"),
             helper.make_node("Concat", ["a", "b"], ["cat"], name="cat", axis=1),
             helper.make_node("BatchNormalization", ["cat", "sc", "bb", "mu", "var"], ["bn"], name="bn"),
             helper.make_node("LRN", ["bn"], ["l"], name="lrn", size=size, alpha=0.01, beta=0.75 if size != 4 else 0.6),
             conv("c3", "l", "y", "w3")]
    inits = {"w1": weights(rng, 7, 3, 3), "w2": weights(rng, c - 7, 3, 1), "w3": weights(rng, 5, c, 1),
             "sc": rand(rng, c) + 1.5, "bb": rand(rng, c), "mu": rand(rng, c), "var": np.abs(rand(rng, c)) + 0.5}
    return make_model(nodes, {"x": np.zeros((2, 3, 7, 6), np.float32)}, ["y"], inits)


@pytest.mark.parametrize("size", [1, 3, 5])
def test_lrn_and_unfused_batchnorm_follow_the_region(size, isa):
    """DenseNet's BatchNorm after a Concat (not foldable) and GoogLeNet's LRN
    run NHWC in the region instead of two transposes each."""
    rng = np.random.default_rng(21)
    model = lrn_bn_model(rng, size)
    g = lay(model)
    assert node(g, "bn").attrs["cnnrt_layout"] == 1 and node(g, "lrn").attrs["cnnrt_layout"] == 1
    assert ops(g).count("Transpose") == 2
    check_model(model, {"x": rand(rng, 2, 3, 7, 6)}, isa=isa)


@pytest.mark.parametrize("size", [2, 4])
def test_lrn_even_size_same_in_both_layouts(size, monkeypatch):
    """onnxruntime refuses even sizes; the two layouts agree."""
    rng = np.random.default_rng(22)
    model = lrn_bn_model(rng, size)
    feeds = {"x": rand(rng, 2, 3, 7, 6)}
    monkeypatch.setenv("CNNRT_LAYOUT", "nchw")
    ref = run_cnnrt(model, feeds)[0]
    monkeypatch.setenv("CNNRT_LAYOUT", "nhwc")
    assert_close(run_cnnrt(model, feeds)[0], ref)


def test_batchnorm_with_runtime_parameters_in_nhwc(isa):
    rng = np.random.default_rng(22)
    c = 6
    nodes = [conv("c1", "x", "a", "w"),
             helper.make_node("BatchNormalization", ["a", "sc", "bb", "mu", "var"], ["y"], name="bn")]
    feeds = {"x": rand(rng, 3, 3, 5, 5), "sc": rand(rng, c), "bb": rand(rng, c), "mu": rand(rng, c),
             "var": np.abs(rand(rng, c)) + 0.5}
    model = make_model(nodes, {k: np.zeros_like(v) for k, v in feeds.items()}, ["y"], {"w": weights(rng, c, 3, 3)})
    assert node(lay(model), "bn").attrs["cnnrt_layout"] == 1
    check_model(model, feeds, isa=isa)


def test_both_layouts_agree(monkeypatch):
    """A small network with every kind of node the pass touches, in both
    layouts: the same outputs within fp32 rounding."""
    rng = np.random.default_rng(23)
    nodes = [conv("c1", "x", "a", "w1", "b1", pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("MaxPool", ["a"], ["p"], name="pool", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             conv("dw", "p", "d", "wd", group=16, pads=[1, 1, 1, 1]),
             helper.make_node("Clip", ["d", "lo", "hi"], ["cl"], name="clip"),
             conv("pw", "cl", "e", "wp", "bp"),
             helper.make_node("AveragePool", ["e"], ["q"], name="avg", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
             helper.make_node("GlobalMaxPool", ["q"], ["m"], name="gmp"),
             helper.make_node("Flatten", ["m"], ["y"], name="flat")]
    inits = {"w1": weights(rng, 16, 3, 3), "b1": rand(rng, 16), "wd": weights(rng, 16, 16, 3, group=16),
             "wp": weights(rng, 24, 16, 1), "bp": rand(rng, 24), "lo": np.array(0, np.float32),
             "hi": np.array(6, np.float32)}
    model = make_model(nodes, {"x": np.zeros((3, 3, 23, 19), np.float32)}, ["y", "q"], inits)
    feeds = {"x": rand(rng, 3, 3, 23, 19)}
    got = {}
    for mode in ("nchw", "nhwc"):
        monkeypatch.setenv("CNNRT_LAYOUT", mode)
        got[mode] = run_cnnrt(model, feeds)
    ref = run_ort(model, feeds)
    for a, b, r in zip(got["nchw"], got["nhwc"], ref):
        assert_close(b, a)
        assert_close(b, r)
