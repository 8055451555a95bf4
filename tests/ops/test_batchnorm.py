"""BatchNormalization (inference) vs onnxruntime: constant, run-time and mixed
parameters, ranks 2-5, channels, batch, epsilon, opset 7/9/14/15 forms,
threads, an in-place chain, on every ISA path; errors."""
import itertools

import numpy as np
import pytest
from onnx import helper

import cnnrt
from helpers import check_model, make_model

PARAMS = ["scale", "B", "mean", "var"]


def bn_params(c, seed=1):
    rng = np.random.default_rng(seed)
    return {"scale": rng.standard_normal(c).astype(np.float32), "B": rng.standard_normal(c).astype(np.float32),
            "mean": rng.standard_normal(c).astype(np.float32),
            "var": (rng.random(c) * 2 + 0.05).astype(np.float32)}


def bn_model(x_shape, params, const=PARAMS, opset=15, pre=None, **attrs):
    """params: name -> array; names in `const` become initializers, the rest graph inputs."""
    inputs = {"x": np.zeros(x_shape, np.float32)}
    inputs.update({k: v for k, v in params.items() if k not in const})
    inits = {k: v for k, v in params.items() if k in const}
    nodes = []
    src = "x"
    if pre:
        nodes.append(helper.make_node(pre, ["x"], ["t"], name="pre"))
        src = "t"
    nodes.append(helper.make_node("BatchNormalization", [src] + PARAMS, ["y"], name="bn0", **attrs))
    return make_model(nodes, inputs, ["y"], inits, opset=opset)


def bn_feeds(x_shape, params, const=PARAMS, seed=0):
    f = {"x": (2 * np.random.default_rng(seed).standard_normal(x_shape) + 0.5).astype(np.float32)}
    f.update({k: v for k, v in params.items() if k not in const})
    return f


SHAPES = {2: lambda n, c: [n, c], 3: lambda n, c: [n, c, 9], 4: lambda n, c: [n, c, 7, 5], 5: lambda n, c: [n, c, 3, 2, 5]}
CONSTNESS = {"const": PARAMS, "runtime": [], "mixed": ["scale", "var"]}


@pytest.mark.parametrize("rank", [2, 3, 4, 5])
@pytest.mark.parametrize("which", list(CONSTNESS))
@pytest.mark.parametrize("c,n", list(itertools.product([1, 3, 17], [1, 3])))
def test_batchnorm_sweep(isa, rank, which, c, n):
    shape = SHAPES[rank](n, c)
    params = bn_params(c, seed=c + rank)
    const = CONSTNESS[which]
    check_model(bn_model(shape, params, const), bn_feeds(shape, params, const), isa=isa)


@pytest.mark.parametrize("which", list(CONSTNESS))
@pytest.mark.parametrize("epsilon", [1e-5, 1e-3, 0.5])
def test_batchnorm_epsilon_and_momentum(isa, which, epsilon):
    """momentum changes nothing at inference."""
    shape = [2, 5, 4, 3]
    params = bn_params(5)
    params["var"] = (params["var"] * 1e-3).astype(np.float32)  # epsilon matters
    const = CONSTNESS[which]
    check_model(bn_model(shape, params, const, epsilon=epsilon, momentum=0.3), bn_feeds(shape, params, const), isa=isa)


@pytest.mark.parametrize("opset,attrs", [(7, {"spatial": 1}), (7, {}), (9, {}), (14, {"training_mode": 0}), (15, {})])
@pytest.mark.parametrize("which", ["const", "runtime"])
def test_batchnorm_opset_forms(isa, opset, attrs, which):
    shape = [3, 4, 6, 5]
    params = bn_params(4)
    const = CONSTNESS[which]
    check_model(bn_model(shape, params, const, opset=opset, epsilon=1e-4, **attrs), bn_feeds(shape, params, const), isa=isa)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("shape", [[1, 64, 28, 28], [257, 33], [3, 5, 1000]])
@pytest.mark.parametrize("which", ["const", "runtime"])
def test_batchnorm_threads(isa, threads, shape, which):
    params = bn_params(shape[1])
    const = CONSTNESS[which]
    check_model(bn_model(shape, params, const), bn_feeds(shape, params, const), isa=isa, threads=threads)


@pytest.mark.parametrize("which", ["const", "runtime"])
def test_batchnorm_in_place_after_relu(isa, which):
    shape = [3, 7, 9, 4]
    params = bn_params(7)
    const = CONSTNESS[which]
    check_model(bn_model(shape, params, const, pre="Relu"), bn_feeds(shape, params, const), isa=isa)


# --- errors ---

@pytest.mark.parametrize("which", ["const", "runtime", "mixed"])
def test_batchnorm_wrong_channel_count_is_an_error(which):
    params = bn_params(4)
    const = CONSTNESS[which]
    m = bn_model([2, 5, 3, 3], params, const)
    with pytest.raises(cnnrt.ModelLoadError, match=r"bn0.*4.* X has 5"):
        cnnrt.load(m).run(None, bn_feeds([2, 5, 3, 3], params, const))


def test_batchnorm_parameters_of_different_lengths_are_an_error():
    params = bn_params(4)
    params["mean"] = np.zeros(3, np.float32)
    m = bn_model([2, 4, 3], params)
    with pytest.raises(cnnrt.ModelLoadError, match="bn0.*input_mean"):
        cnnrt.load(m).run(None, bn_feeds([2, 4, 3], params))


def test_batchnorm_rank_1_is_an_error():
    params = bn_params(4)
    m = bn_model([4], params)
    with pytest.raises(cnnrt.ModelLoadError, match="bn0.*rank"):
        cnnrt.load(m).run(None, bn_feeds([4], params))


def test_batchnorm_training_mode_is_unsupported():
    params = bn_params(3)
    m = bn_model([2, 3, 4], params, opset=15, training_mode=1)
    with pytest.raises(cnnrt.UnsupportedOpError, match="bn0"):
        cnnrt.load(m)


@pytest.mark.parametrize("which", ["const", "runtime"])
def test_batchnorm_empty_batch(isa, which):
    params = bn_params(3)
    const = CONSTNESS[which]
    m = bn_model([0, 3, 4], params, const)
    assert cnnrt.load(m, isa=isa).run(None, bn_feeds([0, 3, 4], params, const))[0].shape == (0, 3, 4)
