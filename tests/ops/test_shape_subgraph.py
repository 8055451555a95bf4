"""The shape subgraphs exporters emit around Reshape/Expand (Shape -> Gather
-> Unsqueeze -> Concat -> Slice/Range/Expand/Where/Equal/Cast/Min/Max/Tile/
Pad/Split -> Reshape/Expand), on a model whose batch dimension is symbolic:
constant folding cannot remove them at load, so every op of the chain must
compute its output while the plan is built (int64, bool and float32 values)
for each batch size. One session runs batch 1, 3 and 8 and is checked
against onnxruntime, with and without a convolution in front (the layout
pass turns a Shape of an NHWC tensor into Shape + Gather)."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import cnnrt
from helpers import assert_close, run_ort

I64MAX = np.iinfo(np.int64).max


def chain_model(with_conv):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 4, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 12, 5])
    c = lambda name, v: onnx.numpy_helper.from_array(np.asarray(v), name)  # noqa: E731
    inits = [c("zero", np.array(0, np.int64)), c("one", np.array(1, np.int64)), c("ax0", np.array([0], np.int64)),
             c("st1", np.array([1], np.int64)), c("st2", np.array([2], np.int64)), c("st3", np.array([3], np.int64)),
             c("big", np.array([I64MAX], np.int64)), c("five", np.array([5], np.int64)),
             c("bias", np.arange(5, dtype=np.float32).reshape(1, 1, 5)), c("ones3", np.ones(3, np.int64)),
             c("pads", np.array([0, 2], np.int64)), c("w", np.full((3, 3, 1, 1), 0.5, np.float32))]
    n = helper.make_node
    src = "x"
    nodes = []
    if with_conv:
        nodes.append(n("Conv", ["x", "w"], ["xc"], name="conv"))
        src = "xc"
    nodes += [
        n("Shape", [src], ["s"], name="shape"),
        n("Gather", ["s", "zero"], ["nb"], name="gather", axis=0),
        n("Unsqueeze", ["nb", "ax0"], ["n1"], name="unsq"),
        n("Slice", ["s", "st1", "st2"], ["c3"], name="slice_c"),
        n("Slice", ["s", "st2", "big", "ax0", "st1"], ["hw"], name="slice_hw"),
        n("Split", ["hw"], ["h", "wd"], name="split", axis=0, num_outputs=2),
        n("Mul", ["c3", "h"], ["m"], name="mul"),
        n("Equal", ["wd", "five"], ["is5"], name="equal"),
        n("Not", ["is5"], ["not5"], name="not"),
        n("Where", ["not5", "one", "wd"], ["w5"], name="where"),
        n("Max", ["n1", "ones3"], ["n3"], name="max"),          # [N, N, N]
        n("Min", ["n3", "n1"], ["n3b"], name="min"),
        n("Slice", ["n3b", "ax0", "st1"], ["nn"], name="slice_n"),
        n("Concat", ["nn", "m", "w5"], ["shape"], name="concat", axis=0),
        n("Cast", ["shape"], ["shape_f"], name="to_float", to=TensorProto.FLOAT),
        n("Cast", ["shape_f"], ["shape_i"], name="to_int", to=TensorProto.INT64),
        n("Reshape", [src, "shape_i"], ["r"], name="reshape"),
        n("Expand", ["bias", "shape_i"], ["e"], name="expand"),
        n("Add", ["r", "e"], ["re"], name="add"),
        n("Range", ["zero", "nb", "one"], ["rg"], name="range"),
        n("Cast", ["rg"], ["rgf"], name="rg_float", to=TensorProto.FLOAT),
        n("Pad", ["n1", "pads", "one"], ["rs3"], name="pad"),               # [N, 1, 1]
        n("Tile", ["rgf", "one_t"], ["rgt"], name="tile"),
        n("Reshape", ["rgt", "rs3"], ["rg3"], name="reshape_rg"),
        n("Add", ["re", "rg3"], ["y"], name="add_rg"),
    ]
    inits.append(c("one_t", np.array([1], np.int64)))
    g = helper.make_graph(nodes, "chain", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


@pytest.mark.parametrize("with_conv", [False, True], ids=["plain", "conv"])
def test_shape_chain_dynamic_batch(with_conv):
    model = chain_model(with_conv)
    sess = cnnrt.load(model, threads=1)
    rng = np.random.default_rng(0)
    for batch in (1, 3, 8, 3):
        x = rng.standard_normal((batch, 3, 4, 5)).astype(np.float32)
        got = sess.run(None, {"x": x})[0]
        ref = run_ort(model, {"x": x})[0]
        assert got.shape == (batch, 12, 5)
        assert_close(got, ref, f"batch {batch}")
