"""The onnx wheel's nine `light` model-zoo graphs, made runnable with seeded
random weights: shared by tests/models/test_zoo.py and benchmarks/.

What prepare() does (from the original test docstring):
Whole networks: the nine `light` model-zoo graphs shipped in the onnx wheel
(AlexNet, ZFNet-512, VGG-19, GoogLeNet, Inception-v2, ResNet-50, SqueezeNet,
ShuffleNet, DenseNet-121), cnnrt vs onnxruntime on every ISA path.

In these files every weight is produced by a ConstantOfShape node from an
int64 `*__SHAPE` initializer, with one value (0.02) for all elements, which
makes every channel identical and the outputs degenerate. `prepare()` replaces
each ConstantOfShape output by a seeded random float32 initializer of that
shape, scaled so that activations stay in a sane range:

* conv / FC weights: N(0,1) * sqrt(2 / fan_in) (He);
* biases: N(0, 0.05); BatchNorm (and the Unsqueeze->Mul/Add affine pairs of
  DenseNet and Inception-v2) scale U(0.5, 1.5), bias N(0, 0.05), mean
  N(0, 0.1), var U(0.5, 1.5);
* the BatchNorm scale of a residual branch that joins an identity shortcut
  (Sum/Add whose other input is not a BatchNorm) is U(0.1, 0.3), as in
  "zero-gamma" residual initialisation: without it ResNet-50 and ShuffleNet
  grow by ~1.6x per block and their logits reach 1e5, a one-hot softmax;
* the classifier head (the Gemm/Conv whose output, through Relu/pooling/
  Reshape, feeds the Softmax or the graph output) is rescaled once, measured
  with onnxruntime, so that its output has standard deviation 3: the softmax
  then has several non-negligible classes and a wrong logit shows.

The ConstantOfShape nodes and the then-unused `__SHAPE` initializers and graph
inputs (these IR-3 graphs list initializers as inputs) are removed; everything
else, including the few real initializers the files carry, is kept.

"""
from __future__ import annotations

import os
import zlib

import numpy as np
import onnx
from onnx import helper, numpy_helper

try:
    import onnxruntime as ort
except ImportError:  # callers skip or fail with the reason
    ort = None

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
MODELS = [
    "light_bvlc_alexnet",
    "light_zfnet512",
    "light_vgg19",
    "light_inception_v1",
    "light_inception_v2",
    "light_resnet50",
    "light_squeezenet",
    "light_shufflenet",
    "light_densenet121",
]
HEAD_STD = 3.0
# Ops between the classifier head and the Softmax / graph output that are
# positively homogeneous, so scaling the head's weights and bias scales the
# logits by the same factor.
_HOMOGENEOUS = {"Relu", "GlobalAveragePool", "AveragePool", "Reshape", "Flatten", "Dropout"}


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _ort_session(model, threads=2):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3  # the files carry an unused initializer ORT warns about
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


class Prepared:
    def __init__(self, name, model, input_name, x, ref):
        self.name = name
        self.model = model
        self.input_name = input_name
        self.x = x
        self.ref = ref


def _role(out, consumers, consts):
    """What a ConstantOfShape output is used as, and the node using it."""
    uses = consumers.get(out, [])
    if not uses:
        raise AssertionError(f"'{out}' has no consumer")
    node, k = uses[0]
    op = node.op_type
    if op == "Conv":
        return ("conv_w" if k == 1 else "bias"), node
    if op == "Gemm":
        return ("fc_w" if k == 1 else "bias"), node
    if op == "BatchNormalization":
        return {1: "scale", 2: "bias", 3: "mean", 4: "var"}[k], node
    if op == "Unsqueeze":  # DenseNet / Inception-v2: BN affine as Unsqueeze -> Mul / Add
        nxt = consumers.get(node.output[0], [])
        return ("scale" if nxt and nxt[0][0].op_type == "Mul" else "bias"), node
    if op == "Reshape" and k == 0:  # GoogLeNet: the FC weight is reshaped before Gemm
        nxt = consumers.get(node.output[0], [])
        if nxt and nxt[0][0].op_type == "Gemm" and nxt[0][1] == 1:
            target = [int(d) for d in consts[node.input[1]]]
            fan_in = target[1] if _attr(nxt[0][0], "transB", 0) else target[0]
            return ("fc_w", fan_in), node
    raise AssertionError(f"'{out}': unexpected use by {op} input {k}")


def _generate(g, rng):
    """Random arrays for every ConstantOfShape output: {name: array}."""
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    consumers = {}
    producer = {}
    for n in g.node:
        for k, x in enumerate(n.input):
            consumers.setdefault(x, []).append((n, k))
        for o in n.output:
            producer[o] = n
    arrays, roles = {}, {}
    for n in g.node:
        if n.op_type != "ConstantOfShape":
            continue
        out = n.output[0]
        shape = [int(d) for d in consts[n.input[0]]]
        role, user = _role(out, consumers, consts)
        if isinstance(role, tuple):
            role, fan_in = role
        elif role == "conv_w":
            fan_in = int(np.prod(shape[1:]))
        elif role == "fc_w":
            fan_in = shape[1] if _attr(user, "transB", 0) else shape[0]
        if role in ("conv_w", "fc_w"):
            a = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        elif role == "bias":
            a = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.05)
        elif role in ("scale", "var"):
            a = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:  # mean
            a = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1)
        arrays[out] = a
        roles[out] = role

    # Residual branches joining an identity shortcut: small BN scale.
    for n in g.node:
        if n.op_type not in ("Sum", "Add") or len(n.input) != 2:
            continue
        srcs = [producer.get(x) for x in n.input]
        if any(s is None or s.op_type in ("Unsqueeze", "ConstantOfShape") for s in srcs):
            continue  # an affine Add with a constant, not a residual join
        bns = [s for s in srcs if s.op_type == "BatchNormalization"]
        if len(bns) == 1 and bns[0].input[1] in arrays:
            scale = bns[0].input[1]
            arrays[scale] = rng.uniform(0.1, 0.3, arrays[scale].shape).astype(np.float32)
    return arrays, consumers, producer


def _head(g, producer):
    """The Gemm/Conv whose output reaches the Softmax (or the graph output)
    through positively homogeneous ops only."""
    softmax = [n for n in g.node if n.op_type == "Softmax"]
    t = softmax[-1].input[0] if softmax else g.output[0].name
    while True:
        n = producer[t]
        if n.op_type in ("Gemm", "Conv"):
            return n
        assert n.op_type in _HOMOGENEOUS, f"cannot walk back through {n.op_type}"
        t = n.input[0]


def _randomize(name: str, seed: int):
    m = onnx.load(os.path.join(LIGHT, name + ".onnx"))
    g = m.graph
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    arrays, consumers, producer = _generate(g, rng)

    shape_inputs = {n.input[0] for n in g.node if n.op_type == "ConstantOfShape"}
    keep = [n for n in g.node if n.op_type != "ConstantOfShape"]
    still_used = {x for n in keep for x in n.input}
    dropped = shape_inputs - still_used
    inits = [t for t in g.initializer if t.name not in dropped]
    inits += [numpy_helper.from_array(a, k) for k, a in arrays.items()]
    ins = [vi for vi in g.input if vi.name not in dropped]
    ins += [helper.make_tensor_value_info(k, onnx.TensorProto.FLOAT, list(a.shape)) for k, a in arrays.items()]
    del g.node[:]
    g.node.extend(keep)
    del g.initializer[:]
    g.initializer.extend(inits)
    del g.input[:]
    g.input.extend(ins)
    assert not any(n.op_type == "ConstantOfShape" for n in g.node)

    return m, _head(g, producer), producer


def data_input(m: onnx.ModelProto) -> str:
    inits = {t.name for t in m.graph.initializer}
    names = [vi.name for vi in m.graph.input if vi.name not in inits]
    assert len(names) == 1, names
    return names[0]


def input_for(batch: int = 1, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal([batch, 3, 224, 224]).astype(np.float32)


def prepare(name: str, seed: int = 0):
    """Returns (prepared ModelProto, input name, input, onnxruntime outputs)."""
    m, head, producer = _randomize(name, seed)
    g = m.graph
    inp = data_input(m)
    x = input_for()
    outputs = [o.name for o in g.output]
    # One onnxruntime session (serialising VGG-19 takes seconds) measures the
    # head's output, then gives the reference with the rescaled head weights
    # fed in place of their initializers. onnxruntime lets a feed override an
    # initializer that is also a graph input from IR version 4 on (it treats
    # IR-3 initializers as constants), hence the IR version of that copy.
    g.output.append(helper.make_tensor_value_info(head.output[0], onnx.TensorProto.FLOAT, None))
    ir = m.ir_version
    m.ir_version = max(ir, 4)
    sess = _ort_session(m)
    m.ir_version = ir
    g.output.pop()
    logits = sess.run([head.output[0]], {inp: x})[0]
    k = np.float32(HEAD_STD / float(np.std(logits)))
    by_name = {t.name: t for t in g.initializer}
    feeds = {inp: x}
    for w in head.input[1:]:
        if w and w not in by_name and producer[w].op_type == "Reshape":  # GoogLeNet's FC weight
            w = producer[w].input[0]
        if w:
            t = by_name[w]
            a = numpy_helper.to_array(t) * k
            t.CopyFrom(numpy_helper.from_array(a, w))
            feeds[w] = a
    ref = sess.run(outputs, feeds)
    return m, inp, x, ref
