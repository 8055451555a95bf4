"""Every CNN a user brings (issue 5, item 3): fifteen architectures written in
torch with their real structure and widths scaled down (nets_zoo.py), seeded
random weights and random BatchNorm statistics, exported by torch.onnx with
the TorchScript exporter (dynamo=False) and with the dynamo exporter
(dynamo=True), and compared with onnxruntime (DESIGN tolerance: max abs err
<= 1e-4 * max|ref| + 1e-5; equal argmax for classifiers and the CRNN's
per-step classes).

* every net, legacy exporter, dynamic batch: batch 1, 3, 8 in one cnnrt
  session (fully convolutional nets: dynamic H/W too, three input sizes in
  the same session; WaveNet and the CRNN: dynamic length / line width);
  on every ISA path;
* every net, dynamo exporter (dynamic batch), batch 1 and 3 in one session
  (all but three of them behind the `slow` marker: a dynamo export costs
  5-30 s);
* opsets 11, 13, 17 and the newest of each exporter (legacy 20, dynamo 23)
  for MobileNetV3-Small, U-Net and the YOLO-style detector;
* a Keras-style NHWC network written with onnx.helper (tf2onnx's shape).

Exports are cached for the session (a module-level dict), so each net is
exported once per (exporter, opset) whatever the number of tests using it.
Needs torch (`pip install torch==2.13.0`, a CPU build); the dynamo exporter
also needs onnxscript (`pip install onnxscript`): without either, the tests
that need it skip with that reason.
"""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import cnnrt
from helpers import assert_close, ort, tolerance

torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch==2.13.0, CPU build)")
import nets_zoo as zoo  # noqa: E402  (imports torch)

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]  # torch.export's own pytree deprecation

ALL = list(zoo.NETS)
SUBSET = ["mobilenet_v3_small", "unet", "yolo"]  # the opset sweep
LEGACY_NEWEST = 20  # torch.onnx's TorchScript exporter stops at opset 20
DYNAMO_NEWEST = 23

_MODELS: dict = {}
_EXPORTS: dict = {}
_ORT: dict = {}


def _model(name):
    if name not in _MODELS:
        _MODELS[name] = zoo.build(name)
    return _MODELS[name]


def exported(name, dynamo=False, opset=None):
    """The ONNX model of `name` (cached): dynamic batch always, plus the
    net's other dynamic axes (H/W, length) with the legacy exporter. A
    failing export is cached too and re-raised for every test that wants it."""
    key = (name, dynamo, opset)
    if key not in _EXPORTS:
        if dynamo:
            pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript (pip install onnxscript)")
        model, shape, kind = _model(name)
        try:
            _EXPORTS[key] = zoo.export(model, shape, dynamo=dynamo, opset=opset, name=name,
                                       dynamic_hw=not dynamo and name in zoo.OTHER_SIZES)
        except Exception as e:  # noqa: BLE001
            _EXPORTS[key] = e
    got = _EXPORTS[key]
    if isinstance(got, Exception):
        raise got
    return got


def reference(key, model, x):
    """onnxruntime's output for `x`, one ORT session per exported model."""
    if ort is None:
        pytest.skip("onnxruntime is not installed (pip install '.[test]')")
    if key not in _ORT:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        _ORT[key] = (ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]), {})
    sess, cache = _ORT[key]
    xk = (x.shape, hash(x.tobytes()))
    if xk not in cache:
        cache[xk] = sess.run(None, {"x": x})
    return cache[xk]


def inputs(name, batches=(1, 3, 8)):
    """The (batch, shape) runs of one session: every batch at the export
    size, then each other size of a net with dynamic spatial axes (batch 2)."""
    shape = zoo.NETS[name][1]
    runs = [(b,) + tuple(shape[1:]) for b in batches]
    for size in zoo.OTHER_SIZES.get(name, []):
        runs.append((2,) + tuple(shape[1:len(shape) - len(size)]) + tuple(size))
    return runs


def check_outputs(name, got, ref, what):
    kind = zoo.NETS[name][2]
    assert len(got) == len(ref), f"{what}: {len(got)} outputs, reference has {len(ref)}"
    for k, (g, r) in enumerate(zip(got, ref)):
        assert np.isfinite(r).all(), f"{what}: the reference itself is not finite (a bad net, not a cnnrt bug)"
        if name == "yolo":  # boxes in pixels (up to ~1e3), then probabilities: each against its own scale
            assert_close(g[..., :4], r[..., :4], f"{what} boxes")
            assert_close(g[..., 4:], r[..., 4:], f"{what} objectness/classes")
        else:
            assert_close(g, r, f"{what} output {k}")
    if kind == "classifier" or name == "crnn":
        g, r = got[0], ref[0]
        # a top-2 tie in the reference (within tolerance) accepts either class
        top = np.take_along_axis(r, g.argmax(-1)[..., None], -1)[..., 0]
        assert (np.equal(g.argmax(-1), r.argmax(-1)) | (r.max(-1) - top <= tolerance(r))).all(), \
            f"{what}: argmax differs"


def run_session(name, model, key, runs, isa=None, seed=0):
    sess = cnnrt.load(model, threads=2, isa=isa)
    assert sess.inputs[0].shape[0] != 1, f"batch axis not dynamic: {sess.inputs[0].shape}"
    rng = np.random.default_rng(seed)
    for shape in runs:
        x = rng.standard_normal(shape).astype(np.float32)
        if name == "crnn":
            x = np.abs(x)  # a grey image: values >= 0
        check_outputs(name, sess.run(None, {"x": x}), reference(key, model, x), f"{name} {key[1:]} input {shape}")
    return sess


@pytest.mark.parametrize("name", ALL)
def test_legacy_export(name, isa):
    """TorchScript exporter, default opset, dynamic batch (and H/W, length):
    every run of `inputs` in one session."""
    model = exported(name)
    run_session(name, model, (name, "legacy", None), inputs(name), isa=isa)


def _dynamo_case(name):
    # A dynamo export takes 5-30 s a net (torch.export, then onnxscript's
    # optimiser), 10x the TorchScript exporter: the default run exports the
    # opset-sweep subset, the `slow` run (-m slow) every net.
    return name if name in SUBSET else pytest.param(name, marks=pytest.mark.slow)


@pytest.mark.parametrize("name", [_dynamo_case(n) for n in ALL])
def test_dynamo_export(name):
    """The dynamo exporter (torch.export + onnxscript, opset 20 by default,
    optimised graph), dynamic batch: batch 1 and 3 in one session."""
    model = exported(name, dynamo=True)
    run_session(name, model, (name, "dynamo", None), inputs(name, (1, 3))[:2])


@pytest.mark.parametrize("opset", [11, 13, 17, LEGACY_NEWEST])
@pytest.mark.parametrize("name", SUBSET)
def test_legacy_opsets(name, opset):
    model = exported(name, opset=opset)
    assert model.opset_import[0].version == opset
    runs = inputs(name, (1, 3))
    run_session(name, model, (name, "legacy", opset), runs[:3], seed=opset)


@pytest.mark.slow
@pytest.mark.parametrize("name", SUBSET)
def test_dynamo_newest_opset(name):
    model = exported(name, dynamo=True, opset=DYNAMO_NEWEST)
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {DYNAMO_NEWEST}
    run_session(name, model, (name, "dynamo", DYNAMO_NEWEST), inputs(name, (1, 2))[:2], seed=5)


# --------------------------------------------------------------------------- Keras-style NHWC

def keras_net(head, rng):
    """What tf2onnx writes for a Keras Sequential CNN: NHWC input, a
    Transpose to NCHW in front of the first Conv, Conv + PRelu (slopes per
    channel, shape [C, 1, 1]) stacks with stride-2 convs, a Transpose back
    to NHWC, then the head: Flatten of the NHWC tensor through Reshape
    [-1, H*W*C] ("flatten") or GlobalAveragePooling2D as ReduceMean over
    axes 1, 2 ("gap"), MatMul + Add, Softmax."""
    h = w = 64
    chans = [3, 8, 16, 24, 32]
    nodes = [helper.make_node("Transpose", ["x"], ["t0"], name="to_nchw", perm=[0, 3, 1, 2])]
    inits = {}
    cur = "t0"
    for i, (ci, co) in enumerate(zip(chans, chans[1:])):
        stride = 1 if i == 0 else 2
        inits[f"w{i}"] = (rng.standard_normal((co, ci, 3, 3)) * np.sqrt(2 / (9 * ci))).astype(np.float32)
        inits[f"b{i}"] = (rng.standard_normal(co) * 0.05).astype(np.float32)
        inits[f"a{i}"] = rng.uniform(0.05, 0.3, (co, 1, 1)).astype(np.float32)
        nodes += [helper.make_node("Conv", [cur, f"w{i}", f"b{i}"], [f"c{i}"], name=f"conv{i}", kernel_shape=[3, 3],
                                   strides=[stride, stride], pads=[1, 1, 1, 1]),
                  helper.make_node("PRelu", [f"c{i}", f"a{i}"], [f"p{i}"], name=f"prelu{i}")]
        cur = f"p{i}"
        if i > 0:
            h, w = (h + 1) // 2, (w + 1) // 2
    nodes.append(helper.make_node("Transpose", [cur], ["nhwc"], name="to_nhwc", perm=[0, 2, 3, 1]))
    c = chans[-1]
    if head == "flatten":
        inits["flat_shape"] = np.array([-1, h * w * c], np.int64)
        nodes.append(helper.make_node("Reshape", ["nhwc", "flat_shape"], ["feat"], name="flatten"))
        fan = h * w * c
    else:
        nodes.append(helper.make_node("ReduceMean", ["nhwc"], ["feat"], name="gap", axes=[1, 2], keepdims=0))
        fan = c
    inits["fc_w"] = (rng.standard_normal((fan, 10)) * 3 / np.sqrt(fan)).astype(np.float32)
    inits["fc_b"] = (rng.standard_normal(10) * 0.05).astype(np.float32)
    nodes += [helper.make_node("MatMul", ["feat", "fc_w"], ["mm"], name="dense"),
              helper.make_node("Add", ["mm", "fc_b"], ["logits"], name="dense_bias"),
              helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=-1)]
    graph = helper.make_graph(
        nodes, "keras_nhwc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64, 64, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        [helper.make_tensor(k, TensorProto.INT64 if v.dtype == np.int64 else TensorProto.FLOAT, v.shape, v.ravel().tolist())
         for k, v in inits.items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="tf2onnx")
    m.ir_version = 8
    return m


@pytest.mark.parametrize("head", ["flatten", "gap"])
def test_keras_nhwc(head, isa):
    rng = np.random.default_rng(3)
    model = keras_net(head, rng)
    sess = cnnrt.load(model, threads=2, isa=isa)
    for batch in (1, 3, 8):
        x = rng.standard_normal((batch, 64, 64, 3)).astype(np.float32)
        got = sess.run(None, {"x": x})[0]
        ref = reference(("keras", head), model, x)[0]
        assert_close(got, ref, f"keras {head} batch {batch}")
        assert np.array_equal(got.argmax(1), ref.argmax(1))
