"""NonMaxSuppression vs onnxruntime, exactly (int64 rows, same order):
opsets 10 and 11+, center_point_box 0 (corners in either order) and 1,
batches 1 and 3, several classes, clustered boxes, tied scores, every
optional input absent or given (as constants and as graph inputs), limits
0 / 1 / many, iou_threshold 0 / 0.5 / 1, score thresholds that drop boxes;
the data-dependent output size (planned as an upper bound, trimmed to the
rows found, repeated runs with different row counts, a constant-folded NMS,
and refusal when another node reads the output); bad shapes name the node."""
import itertools

import numpy as np
import pytest
from onnx import TensorProto, helper

import cnnrt
from helpers import assert_load_error, check_model, make_model, run_ort, tensor_value


def boxes_scores(N, B, C, seed, center=0, ties=False):
    rng = np.random.default_rng(seed)
    # Clusters of overlapping boxes, so suppression happens.
    centers = rng.uniform(0, 10, size=(N, max(1, B // 3), 2))
    pick = rng.integers(0, centers.shape[1], size=(N, B))
    c = np.take_along_axis(centers, pick[..., None].repeat(2, -1), 1) + rng.normal(0, 0.4, size=(N, B, 2))
    wh = rng.uniform(0.5, 3, size=(N, B, 2))
    if center:
        boxes = np.concatenate([c, wh], -1)
    else:
        y1x1 = c[..., ::-1] - wh[..., ::-1] / 2
        y2x2 = c[..., ::-1] + wh[..., ::-1] / 2
        boxes = np.concatenate([y1x1, y2x2], -1)
        flip = rng.random((N, B)) < 0.3  # corners given in the other order
        boxes[flip] = boxes[flip][:, [2, 3, 0, 1]]
    scores = rng.random((N, C, B))
    if ties:
        scores = np.round(scores * 4) / 4
    return boxes.astype(np.float32), scores.astype(np.float32)


def nms_model(N, B, C, opset=11, center=None, max_out=None, iou=None, score=None, as_inputs=False, name="nms0"):
    """Optional inputs given as values (None = absent); as_inputs makes them
    graph inputs (fed) instead of initializers."""
    ins = ["boxes", "scores"]
    opt = [("max_out", None if max_out is None else np.array([max_out], np.int64)),
           ("iou", None if iou is None else np.array([iou], np.float32)),
           ("score", None if score is None else np.array([score], np.float32))]
    last = max([k for k, (_, v) in enumerate(opt) if v is not None], default=-1)
    inits, extra = {}, {}
    for k, (n, v) in enumerate(opt[: last + 1]):
        ins.append(n if v is not None else "")
        if v is not None:
            (extra if as_inputs else inits)[n] = v
    attrs = {} if center is None else {"center_point_box": center}
    node = helper.make_node("NonMaxSuppression", ins, ["sel"], name=name, **attrs)
    feeds = {"boxes": np.zeros([N, B, 4], np.float32), "scores": np.zeros([N, C, B], np.float32), **extra}
    out = tensor_value("sel", TensorProto.INT64, None)
    return make_model([node], feeds, [out], inits, opset=opset), extra


SHAPES = [(1, 1, 1), (1, 7, 1), (3, 11, 2), (2, 30, 3), (1, 64, 5)]


@pytest.mark.parametrize("N,B,C", SHAPES)
@pytest.mark.parametrize("center", [None, 0, 1])
@pytest.mark.parametrize("opset", [10, 11, 22])
def test_nms_shapes(N, B, C, center, opset):
    m, extra = nms_model(N, B, C, opset, center, max_out=5, iou=0.5, score=0.2)
    bx, sc = boxes_scores(N, B, C, N * B + C, center or 0)
    got, ref = check_model(m, {"boxes": bx, "scores": sc, **extra})
    assert got[0].dtype == np.int64 and got[0].shape[1] == 3


PARAMS = list(itertools.product([None, 0, 1, 3, 100], [None, 0.0, 0.5, 1.0], [None, -1.0, 0.5, 0.99]))


@pytest.mark.parametrize("max_out,iou,score", PARAMS)
def test_nms_optional_inputs(max_out, iou, score):
    N, B, C = 2, 23, 3
    m, extra = nms_model(N, B, C, max_out=max_out, iou=iou, score=score)
    bx, sc = boxes_scores(N, B, C, 7)
    check_model(m, {"boxes": bx, "scores": sc, **extra})


@pytest.mark.parametrize("center", [0, 1])
@pytest.mark.parametrize("as_inputs", [False, True])
def test_nms_tied_scores_inputs(center, as_inputs):
    """Equal scores: box index order, as onnxruntime."""
    N, B, C = 3, 40, 4
    m, extra = nms_model(N, B, C, center=center, max_out=7, iou=0.3, score=0.0, as_inputs=as_inputs)
    bx, sc = boxes_scores(N, B, C, 8, center, ties=True)
    check_model(m, {"boxes": bx, "scores": sc, **extra})


def test_nms_rows_change_between_runs():
    """One plan (same shapes), data with different numbers of survivors."""
    N, B, C = 2, 30, 3
    m, _ = nms_model(N, B, C, max_out=10, iou=0.4, score=0.5)
    sess = cnnrt.load(m)
    counts = set()
    for seed in range(6):
        bx, sc = boxes_scores(N, B, C, 100 + seed)
        sc = sc * (seed / 5)  # fewer boxes above the threshold for small seeds
        feeds = {"boxes": bx, "scores": sc}
        got = sess.run(None, feeds)[0]
        ref = run_ort(m, feeds)[0]
        np.testing.assert_array_equal(got, ref)
        counts.add(got.shape[0])
    assert len(counts) >= 3 and 0 in counts, counts
    assert sess._core.stats()["cached_plans"] == 1


def test_nms_degenerate_boxes():
    """Zero-area and identical boxes: never suppress through a zero area."""
    bx = np.array([[[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0.5, 0.5, 1.5, 1.5], [1, 1, 1, 1]]],
                  np.float32)
    sc = np.array([[[0.9, 0.9, 0.8, 0.8, 0.7, 0.6]]], np.float32)
    for iou in (0.0, 0.1, 0.99):
        m, _ = nms_model(1, 6, 1, max_out=6, iou=iou)
        check_model(m, {"boxes": bx, "scores": sc})


def test_nms_constant_folded():
    """All inputs constant: the importer folds the node with the runtime's
    own kernel; the folded value has the real row count."""
    bx, sc = boxes_scores(1, 12, 2, 9)
    node = helper.make_node("NonMaxSuppression", ["b", "s", "mo", "iou"], ["sel"], name="nms_c")
    add = helper.make_node("Add", ["x", "one"], ["y"], name="add")
    inits = {"b": bx, "s": sc, "mo": np.array([3], np.int64), "iou": np.array([0.4], np.float32),
             "one": np.ones([1], np.float32)}
    out = tensor_value("sel", TensorProto.INT64, None)
    m = make_model([node, add], {"x": np.zeros([2], np.float32)}, [out, "y"], inits, opset=11)
    check_model(m, {"x": np.arange(2, dtype=np.float32)})


def test_nms_output_consumed_refused():
    """A node reading the data-dependent output is refused, naming it."""
    N, B, C = 1, 8, 1
    nodes = [helper.make_node("NonMaxSuppression", ["boxes", "scores", "mo"], ["sel"], name="nms_x"),
             helper.make_node("Gather", ["sel", "zero"], ["g"], name="gather_after_nms", axis=1)]
    m = make_model(nodes, {"boxes": np.zeros([N, B, 4], np.float32), "scores": np.zeros([N, C, B], np.float32)},
                   [tensor_value("g", TensorProto.INT64, None)], {"mo": np.array([3], np.int64),
                                                                  "zero": np.array(0, np.int64)}, opset=11)
    bx, sc = boxes_scores(N, B, C, 3)
    with pytest.raises(cnnrt.UnsupportedOpError) as e:
        cnnrt.load(m).run(None, {"boxes": bx, "scores": sc})
    assert "gather_after_nms" in str(e.value) and "data-dependent" in str(e.value)


def test_nms_bad_shapes():
    m, _ = nms_model(2, 5, 3, max_out=2, name="nms_bad")
    bx, sc = boxes_scores(2, 5, 3, 0)
    # scores with another box count than boxes
    for vi in m.graph.input:
        if vi.name == "scores":
            vi.type.tensor_type.shape.dim[2].dim_value = 6
    assert_load_error(m, {"boxes": bx, "scores": np.zeros([2, 3, 6], np.float32)}, "nms_bad", "scores", "[2, 3, 6]")
    m, _ = nms_model(2, 5, 3, max_out=2, name="nms_bad4")
    for vi in m.graph.input:
        if vi.name == "boxes":
            vi.type.tensor_type.shape.dim[2].dim_value = 3
    assert_load_error(m, {"boxes": np.zeros([2, 5, 3], np.float32), "scores": sc}, "nms_bad4", "boxes")


def test_nms_bad_center_point_box():
    m, _ = nms_model(1, 4, 1, center=2, max_out=2, name="nms_cpb")
    bx, sc = boxes_scores(1, 4, 1, 0)
    assert_load_error(m, {"boxes": bx, "scores": sc}, "nms_cpb", "center_point_box")
