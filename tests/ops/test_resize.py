"""Resize (opsets 10, 11, 13, 18, 19, 22) and Upsample (7, 9, 10) vs onnxruntime:
every mode x coordinate_transformation_mode x nearest_mode x scales
(up, down, non-integer, mixed) and sizes, antialias, axes,
keep_aspect_ratio_policy, tf_crop_and_resize with roi and extrapolation,
exclude_outside / cubic_coeff_a, scales/sizes as constants, as run-time
feeds and computed from Shape, every ISA path; the full product under -m slow.

Oracle: onnxruntime. Where it departs from the ONNX reference implementation
(onnx.reference) -- align_corners, tf_crop_and_resize and pytorch_half_pixel
dividing by the integer output size where the reference uses the float one
(scale * in, when that is not an integer), half_pixel_symmetric, nearest
ties computed in float32 rather than double (e.g. 1.5 / 0.6f), antialias
with align_corners -- or refuses the model (linear/cubic over N or C or
other ranks, exclude_outside without cubic, opset-11 models without roi),
the reference is the oracle: `check` accepts it only where onnxruntime
disagrees with the reference too (or refuses), so the switch is never
silent. Upsample-10, which neither computes, is checked against
onnxruntime's Upsample-9 (the same op).
"""
import itertools

import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import cnnrt
from helpers import assert_close, check_model_or_reference, make_model, run_cnnrt, run_ort

MODES = ["nearest", "linear", "cubic"]
COORDS = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize"]
NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
SCALES = {"up2": [1, 1, 2, 2], "down": [1, 1, 0.5, 0.6], "frac": [1, 1, 1.7, 0.8], "mixed": [1, 1, 3, 0.45]}
OUT = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)


def check(model, feeds, isa, threads=1):
    return check_model_or_reference(model, feeds, isa=isa, threads=threads)


def x_data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def resize_model(x, scales=None, sizes=None, roi=None, opset=19, feed=(), **attrs):
    """Resize with constant roi/scales/sizes, or fed at run time for the names in `feed`."""
    inputs = {"x": x}
    inits = {}
    names = ["x", "", "", ""]
    for k, (nm, v, dt) in enumerate([("roi", roi, np.float32), ("scales", scales, np.float32), ("sizes", sizes, np.int64)], 1):
        if v is None:
            continue
        names[k] = nm
        arr = np.asarray(v, dt)
        (inputs if nm in feed else inits)[nm] = arr
    while names and names[-1] == "":
        names.pop()
    node = helper.make_node("Resize", names, ["y"], name="resize0", **attrs)
    m = make_model([node], inputs, [OUT], inits, opset=opset)
    return m, {k: v for k, v in inputs.items()}


ROI = [0, 0, 0.2, 0.1, 1, 1, 0.9, 1.3]


def sweep_rows():
    rows = []
    for mode, coord in itertools.product(MODES, COORDS):
        for nm in (NEAREST if mode == "nearest" else ["round_prefer_floor"]):
            for sc in SCALES:
                rows.append((mode, coord, nm, sc))
    return rows


FULL = sweep_rows()
SAMPLE = [FULL[i] for i in np.random.default_rng(0).choice(len(FULL), 40, replace=False)]
# Always: the CNN upsamplers.
SAMPLE += [("nearest", "asymmetric", "floor", "up2"), ("linear", "half_pixel", "round_prefer_floor", "up2"),
           ("linear", "align_corners", "round_prefer_floor", "frac"), ("linear", "pytorch_half_pixel", "round_prefer_floor", "down")]


def _sweep(isa, mode, coord, nm, sc, batch=1):
    x = x_data((batch, 3, 5, 7))
    attrs = dict(mode=mode, coordinate_transformation_mode=coord, nearest_mode=nm)
    roi = ROI if coord == "tf_crop_and_resize" else None
    if roi is not None:
        attrs["extrapolation_value"] = -2.5
    m, feeds = resize_model(x, scales=SCALES[sc], roi=roi, **attrs)
    check(m, feeds, isa)


@pytest.mark.parametrize("mode,coord,nm,sc", SAMPLE)
def test_resize_sweep_sample(isa, mode, coord, nm, sc):
    _sweep(isa, mode, coord, nm, sc)


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("mode,coord,nm,sc", FULL)
def test_resize_sweep_full(isa, mode, coord, nm, sc, batch):
    _sweep(isa, mode, coord, nm, sc, batch)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("sizes", [[3, 3, 10, 14], [3, 3, 3, 4], [3, 3, 8, 5], [3, 3, 1, 1]])
def test_resize_sizes(isa, mode, coord, sizes):
    x = x_data((3, 3, 5, 7), 1)
    roi = ROI if coord == "tf_crop_and_resize" else None
    m, feeds = resize_model(x, sizes=sizes, roi=roi, mode=mode, coordinate_transformation_mode=coord, opset=13)
    check(m, feeds, isa)


OPSET_ROWS = [(o, m, c) for o in [11, 13, 18, 19, 22]
              for m, c in [("nearest", "asymmetric"), ("linear", "half_pixel"), ("cubic", "align_corners"),
                           ("linear", "pytorch_half_pixel"), ("nearest", "tf_half_pixel_for_nn")]
              if c != "tf_half_pixel_for_nn" or o == 11]  # tf_half_pixel_for_nn exists in Resize-11 only


@pytest.mark.parametrize("opset,mode,coord", OPSET_ROWS)
def test_resize_opsets(isa, opset, mode, coord):
    x = x_data((1, 2, 6, 5), 2)
    # Opset 11: roi and scales are required inputs (an empty scales with sizes).
    m, feeds = resize_model(x, scales=[1, 1, 1.5, 2.2], roi=[] if opset == 11 else None, opset=opset, mode=mode,
                            coordinate_transformation_mode=coord)
    check(m, feeds, isa)
    m, feeds = resize_model(x, scales=[] if opset == 11 else None, sizes=[1, 2, 4, 9], roi=[] if opset == 11 else None,
                            opset=opset, mode=mode, coordinate_transformation_mode=coord)
    check(m, feeds, isa)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("sc", [[1, 1, 2, 2], [1, 1, 0.5, 0.6], [1, 1, 1.7, 0.8], [1, 1, 0.4, 3]])
def test_resize_opset10(isa, mode, sc):
    x = x_data((2, 3, 5, 7), 3)
    node = helper.make_node("Resize", ["x", "s"], ["y"], name="resize0", mode=mode)
    m = make_model([node], {"x": x}, [OUT], {"s": np.array(sc, np.float32)}, opset=10)
    assert check(m, {"x": x}, isa) == "onnxruntime"


def upsample_model(x, opset, mode, sc):
    if opset == 7:
        node = helper.make_node("Upsample", ["x"], ["y"], name="up0", mode=mode, scales=[float(v) for v in sc])
        inits = {}
    else:
        node = helper.make_node("Upsample", ["x", "s"], ["y"], name="up0", mode=mode)
        inits = {"s": np.array(sc, np.float32)}
    return make_model([node], {"x": x}, [OUT], inits, opset=opset)


@pytest.mark.parametrize("opset", [7, 9, 10])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("sc", [[1, 1, 2, 2], [1, 1, 3, 1.5], [1, 2, 1, 1], [1, 1, 1.3, 2.6]])
def test_upsample(isa, opset, mode, sc):
    x = x_data((2, 3, 5, 7), 4)
    m = upsample_model(x, opset, mode, sc)
    if opset < 10:
        assert check(m, {"x": x}, isa) == "onnxruntime"
    else:
        # Upsample-10 (deprecated) is Upsample-9 unchanged; onnxruntime has no
        # opset-10 kernel, so the oracle is onnxruntime on the opset-9 model.
        want = run_ort(upsample_model(x, 9, mode, sc), {"x": x})[0]
        assert_close(run_cnnrt(m, {"x": x}, isa=isa)[0], want)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("sc", [[1, 1, 0.5, 0.6], [1, 1, 0.3, 0.45], [1, 1, 1.5, 0.8], [1, 1, 0.25, 1]])
@pytest.mark.parametrize("coord", ["half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel"])
def test_resize_antialias(isa, mode, sc, coord):
    x = x_data((1, 2, 9, 11), 5)
    m, feeds = resize_model(x, scales=sc, opset=18, mode=mode, antialias=1, coordinate_transformation_mode=coord)
    check(m, feeds, isa)


def test_resize_antialias_sizes(isa):
    x = x_data((1, 2, 16, 13), 6)
    for mode in ["linear", "cubic"]:
        m, feeds = resize_model(x, sizes=[5, 4], axes=[2, 3], opset=18, mode=mode, antialias=1)
        check(m, feeds, isa)


@pytest.mark.parametrize("axes,sizes", [([2, 3], [9, 3]), ([3, 2], [3, 9]), ([-1], [11]), ([1], [7]), ([0, 3], [2, 4])])
@pytest.mark.parametrize("mode", MODES)
def test_resize_axes_sizes(isa, axes, sizes, mode):
    x = x_data((3, 4, 5, 7), 7)
    m, feeds = resize_model(x, sizes=sizes, opset=18, mode=mode, axes=axes)
    check(m, feeds, isa)


@pytest.mark.parametrize("axes,scales", [([2, 3], [2.0, 0.5]), ([3, 2], [1.5, 2.0]), ([-2], [3.0])])
def test_resize_axes_scales(isa, axes, scales):
    x = x_data((2, 3, 5, 7), 8)
    for mode in MODES:
        m, feeds = resize_model(x, scales=scales, opset=19, mode=mode, axes=axes)
        check(m, feeds, isa)


@pytest.mark.parametrize("policy", ["stretch", "not_larger", "not_smaller"])
@pytest.mark.parametrize("sizes", [[9, 10], [3, 20], [10, 3]])
@pytest.mark.parametrize("mode", MODES)
def test_resize_keep_aspect_ratio(isa, policy, sizes, mode):
    x = x_data((1, 3, 5, 7), 9)
    m, feeds = resize_model(x, sizes=sizes, opset=18, mode=mode, axes=[2, 3], keep_aspect_ratio_policy=policy)
    check(m, feeds, isa)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("roi,sizes", [(ROI, [2, 3, 6, 9]), ([0, 0, -0.3, 0.4, 1, 1, 0.7, 1.2], [2, 3, 4, 4]),
                                       ([0, 0, 0.5, 0.5, 1, 1, 0.5, 0.5], [2, 3, 1, 3])])
def test_resize_tf_crop_and_resize(isa, mode, roi, sizes):
    x = x_data((2, 3, 5, 7), 10)
    m, feeds = resize_model(x, sizes=sizes, roi=roi, opset=13, mode=mode, coordinate_transformation_mode="tf_crop_and_resize",
                            extrapolation_value=7.5)
    check(m, feeds, isa)


def test_resize_tf_crop_and_resize_axes(isa):
    x = x_data((2, 3, 5, 7), 11)
    for axes, roi in [([2, 3], [0.2, -0.1, 0.8, 1.2]), ([3, 2], [-0.1, 0.2, 1.2, 0.8])]:
        m, feeds = resize_model(x, sizes=[6, 6], roi=roi, opset=18, axes=axes, mode="linear",
                                coordinate_transformation_mode="tf_crop_and_resize")
        check(m, feeds, isa)


@pytest.mark.parametrize("a", [-0.75, -0.5])
@pytest.mark.parametrize("exclude", [0, 1])
@pytest.mark.parametrize("sc", [[1, 1, 1.6, 0.7], [1, 1, 3, 3]])
def test_resize_cubic_params(isa, a, exclude, sc):
    x = x_data((1, 2, 6, 7), 12)
    m, feeds = resize_model(x, scales=sc, opset=13, mode="cubic", cubic_coeff_a=a, exclude_outside=exclude)
    check(m, feeds, isa)


@pytest.mark.parametrize("mode", MODES)
def test_resize_exclude_outside_linear_nearest(isa, mode):
    x = x_data((1, 2, 6, 7), 13)
    m, feeds = resize_model(x, scales=[1, 1, 1.6, 0.7], opset=13, mode=mode, exclude_outside=1)
    check(m, feeds, isa)


@pytest.mark.parametrize("shape,scales", [((6, 5), [2.0, 0.6]), ((4, 5, 6), [1.5, 2.0, 0.5]), ((2, 3, 4, 5), [2.0, 1.5, 1.0, 1.0]),
                                          ((2, 3, 4, 5), [1.0, 2.0, 1.5, 1.0]), ((3, 2, 2, 3, 4), [1, 1, 2, 1.5, 0.5]), ((7,), [2.5])])
@pytest.mark.parametrize("mode", MODES)
def test_resize_any_axes(isa, shape, scales, mode):
    """Linear and cubic over any axis, other ranks than 4."""
    x = x_data(shape, 14)
    m, feeds = resize_model(x, scales=scales, opset=13, mode=mode)
    check(m, feeds, isa)


def test_resize_identity_and_channel_only(isa):
    x = x_data((2, 3, 4, 5), 15)
    for sc in [[1, 1, 1, 1], [1, 2, 1, 1]]:
        for mode in ["nearest", "linear"]:
            m, feeds = resize_model(x, scales=sc, opset=13, mode=mode)
            check(m, feeds, isa)


@pytest.mark.parametrize("feed", [("scales",), ("sizes",), ("roi", "sizes")])
def test_resize_runtime_inputs(isa, feed):
    """roi/scales/sizes fed at run time: known when the plan is built (part of its key)."""
    x = x_data((1, 2, 5, 6), 16)
    kw = dict(scales=[1, 1, 2, 1.5]) if "scales" in feed else dict(sizes=[1, 2, 7, 4])
    coord = "tf_crop_and_resize" if "roi" in feed else "half_pixel"
    roi = [0, 0, 0.1, 0.2, 1, 1, 0.9, 0.8] if "roi" in feed else None
    m, feeds = resize_model(x, roi=roi, feed=feed, mode="linear", coordinate_transformation_mode=coord, **kw)
    check(m, feeds, isa)
    sess = cnnrt.load(m, isa=isa)
    # another value of the same shape gets its own plan
    key = "scales" if "scales" in feed else "sizes"
    other = dict(feeds)
    other[key] = (np.array([1, 1, 3, 0.5], np.float32) if key == "scales" else np.array([1, 2, 3, 9], np.int64))
    want = ReferenceEvaluator(m).run(None, other)[0]
    assert_close(sess.run(None, other)[0], want)
    assert_close(sess.run(None, feeds)[0], ReferenceEvaluator(m).run(None, feeds)[0])


def test_resize_sizes_from_shape(isa):
    """sizes = Shape(x) * [1, 1, 2, 3]: a plan-time int64 value."""
    x = x_data((2, 3, 5, 4), 17)
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Mul", ["s", "k"], ["sz"]),
             helper.make_node("Resize", ["x", "", "", "sz"], ["y"], mode="nearest")]
    m = make_model(nodes, {"x": x}, [OUT], {"k": np.array([1, 1, 2, 3], np.int64)}, opset=13)
    check(m, {"x": x}, isa)


def test_resize_constant_input_folded(isa):
    """Constant X: folded at load by the runtime's own op (a multi-pass
    cubic resize over three axes, which needs its workspace there too)."""
    xc = x_data((2, 3, 4, 5), 20)
    x = x_data((2, 6, 7, 10), 21)
    nodes = [helper.make_node("Resize", ["xc", "", "s"], ["t"], mode="cubic"), helper.make_node("Add", ["x", "t"], ["y"])]
    m = make_model(nodes, {"x": x}, [OUT], {"xc": xc, "s": np.array([1, 2, 1.75, 2.0], np.float32)}, opset=13)
    assert cnnrt.load(m).node_count == 1
    check(m, {"x": x}, isa)


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("mode,coord,sc", [("nearest", "asymmetric", [1, 1, 2, 2]), ("nearest", "half_pixel", [1, 1, 3, 3]),
                                           ("linear", "half_pixel", [1, 1, 2, 2]), ("linear", "align_corners", [1, 1, 1.5, 2.5]),
                                           ("cubic", "half_pixel", [1, 1, 2, 2]), ("linear", "half_pixel", [1, 1, 0.5, 0.5])])
def test_resize_large_threads(isa, threads, mode, coord, sc):
    x = x_data((2, 32, 40, 36), 18)
    m, feeds = resize_model(x, scales=sc, opset=13, mode=mode, coordinate_transformation_mode=coord, nearest_mode="floor")
    check(m, feeds, isa, threads=threads)


@pytest.mark.usefixtures("layout")
def test_resize_in_conv_chain(isa):
    """Conv -> Resize (2x nearest) -> Conv, and Conv -> bilinear Resize -> Concat: the NHWC layout puts Transposes around it."""
    rng = np.random.default_rng(19)
    w1 = (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32)
    w2 = (rng.standard_normal((4, 8, 3, 3)) * 0.3).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Resize", ["a", "", "s"], ["b"], mode="nearest"),
             helper.make_node("Conv", ["b", "w2"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Resize", ["a", "", "s"], ["d"], mode="linear"),
             helper.make_node("Conv", ["d", "w2"], ["e"], pads=[1, 1, 1, 1]),
             helper.make_node("Concat", ["c", "e"], ["y"], axis=1)]
    x = rng.standard_normal((2, 3, 9, 7)).astype(np.float32)
    m = make_model(nodes, {"x": x}, ["y"], {"w1": w1, "w2": w2, "s": np.array([1, 1, 2, 2], np.float32)}, opset=13)
    check(m, {"x": x}, isa)


# ---- bad inputs: cnnrt errors naming the node


def _load_error(m, feeds, *words, exc=cnnrt.ModelLoadError):
    with pytest.raises(exc) as e:
        cnnrt.load(m).run(None, feeds)
    msg = str(e.value)
    assert "resize0" in msg or "up0" in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


X = x_data((1, 2, 4, 4))


@pytest.mark.parametrize("attr,value", [("mode", "bilinearr"), ("coordinate_transformation_mode", "half"),
                                        ("nearest_mode", "round"), ("keep_aspect_ratio_policy", "fit")])
def test_resize_bad_strings(attr, value):
    m, feeds = resize_model(X, scales=[1, 1, 2, 2], opset=18, **{attr: value})
    _load_error(m, feeds, value)


def test_resize_scales_and_sizes():
    m, feeds = resize_model(X, scales=[1, 1, 2, 2], sizes=[1, 2, 8, 8], opset=13)
    _load_error(m, feeds, "both")


def test_resize_neither_scales_nor_sizes():
    m, feeds = resize_model(X, scales=[], roi=[], opset=11)
    _load_error(m, feeds, "neither")


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_resize_bad_scale(bad):
    m, feeds = resize_model(X, scales=[1, 1, bad, 2], opset=13)
    _load_error(m, feeds, "scale")
    # fed at run time: the same error when the plan is built
    m, feeds = resize_model(X, scales=[1, 1, bad, 2], opset=13, feed=("scales",))
    _load_error(m, feeds, "scale")


def test_resize_wrong_lengths():
    m, feeds = resize_model(X, sizes=[8, 8], opset=13)
    _load_error(m, feeds, "sizes has 2 values, expected 4")
    m, feeds = resize_model(X, scales=[2, 2, 2], opset=13)
    _load_error(m, feeds, "scales has 3 values, expected 4")
    m, feeds = resize_model(X, sizes=[8, 8, 8], opset=18, axes=[2, 3])
    _load_error(m, feeds, "sizes has 3 values, expected 2")
    m, feeds = resize_model(X, sizes=[1, 2, 0, 8], opset=13)
    _load_error(m, feeds, "positive")


def test_resize_bad_axes():
    m, feeds = resize_model(X, sizes=[8, 8], opset=18, axes=[2, 4])
    _load_error(m, feeds, "out of range")
    m, feeds = resize_model(X, sizes=[8, 8], opset=18, axes=[2, -2])
    _load_error(m, feeds, "twice")


def test_resize_huge_scale_is_refused():
    """A scale of 1e9 must fail the runtime's memory check, not try to allocate."""
    m, feeds = resize_model(X, scales=[1, 1, 1e9, 1e9], opset=13)
    _load_error(m, feeds, "memory")
    m, feeds = resize_model(X, scales=[1, 1, 1e9, 1], opset=13, feed=("scales",))
    _load_error(m, feeds, "memory")
    m, feeds = resize_model(X, scales=[1e30, 1, 1, 1], opset=13)
    _load_error(m, feeds, "too large")


def test_resize_antialias_nearest():
    m, feeds = resize_model(X, scales=[1, 1, 0.5, 0.5], opset=18, antialias=1)
    _load_error(m, feeds, "antialias")


def test_resize_tf_crop_without_roi():
    m, feeds = resize_model(X, scales=[1, 1, 2, 2], opset=13, coordinate_transformation_mode="tf_crop_and_resize")
    _load_error(m, feeds, "roi")


def test_upsample_scale_below_one():
    node = helper.make_node("Upsample", ["x", "s"], ["y"], name="up0")
    m = make_model([node], {"x": X}, [OUT], {"s": np.array([1, 1, 0.5, 2], np.float32)}, opset=9)
    _load_error(m, {"x": X}, ">= 1")


def test_resize_int64_data():
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], name="resize0")
    xi = np.arange(16, dtype=np.int64).reshape(1, 1, 4, 4)
    m = make_model([node], {"x": xi}, [helper.make_tensor_value_info("y", TensorProto.INT64, None)],
                   {"s": np.array([1, 1, 2, 2], np.float32)}, opset=13)
    _load_error(m, {"x": xi}, "float32")
