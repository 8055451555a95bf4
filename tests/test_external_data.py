"""External data that stays inside the model's folder loads and runs; the
hostile forms are in tests/errors."""
import os

import numpy as np
import onnx
from onnx import helper

import cnnrt
from helpers import assert_close, make_model


def _model_with_external(tmp_path, subdir="", symlink_model=False):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((64, 32)).astype(np.float32)
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
                       {"x": np.zeros((2, 64), np.float32)}, ["y"], {"w": w})
    folder = tmp_path / "m"
    folder.mkdir()
    path = folder / "model.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=os.path.join(subdir, "weights.bin") if subdir else "weights.bin", size_threshold=0)
    return path, w


def test_external_data_loads(tmp_path):
    path, w = _model_with_external(tmp_path)
    x = np.random.default_rng(1).standard_normal((2, 64)).astype(np.float32)
    y = cnnrt.load(str(path)).infer(x)
    assert_close(y, x @ w)


def test_external_data_through_symlinked_model_file(tmp_path):
    """A Hugging-Face-style cache: the model file is a symlink into a blobs
    folder next to its data; both resolve inside the same folder."""
    path, w = _model_with_external(tmp_path)
    link = path.parent / "link.onnx"
    os.symlink(path.name, link)
    x = np.ones((2, 64), np.float32)
    assert_close(cnnrt.load(str(link)).infer(x), x @ w)


def test_model_bytes_with_external_data_is_an_error(tmp_path):
    path, _ = _model_with_external(tmp_path)
    import pytest

    with pytest.raises(cnnrt.ModelLoadError, match="external data"):
        cnnrt.load(path.read_bytes())


def test_hugging_face_cache_layout(tmp_path):
    """snapshots/<rev>/model.onnx and model.onnx_data are both symlinks into
    blobs/ (huggingface_hub's cache): the data resolves outside the folder the
    model is named in, but inside the one the model file resolves to."""
    path, w = _model_with_external(tmp_path)
    blobs = tmp_path / "blobs"
    snap = tmp_path / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    blobs.mkdir()
    os.rename(path, blobs / "1111")
    os.rename(path.parent / "weights.bin", blobs / "2222")
    # The model names its data 'weights.bin': in the cache that is a symlink too.
    os.symlink("../../blobs/1111", snap / "model.onnx")
    os.symlink("../../blobs/2222", snap / "weights.bin")
    x = np.ones((2, 64), np.float32)
    assert_close(cnnrt.load(str(snap / "model.onnx")).infer(x), x @ w)


def test_symlinked_model_does_not_open_its_link_folder_to_others(tmp_path):
    """The model's own folder and the folder its file resolves to are the only
    two allowed: a data symlink from the snapshot to a third folder is refused."""
    import pytest

    path, _ = _model_with_external(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    os.rename(path.parent / "weights.bin", other / "weights.bin")
    snap = tmp_path / "snap"
    snap.mkdir()
    os.symlink(path, snap / "model.onnx")
    os.symlink(other / "weights.bin", snap / "weights.bin")
    with pytest.raises(cnnrt.ModelLoadError, match="outside the model's folder"):
        cnnrt.load(str(snap / "model.onnx"))


def test_fifo_as_external_data_does_not_hang(tmp_path):
    import pytest

    path, _ = _model_with_external(tmp_path)
    os.remove(path.parent / "weights.bin")
    os.mkfifo(path.parent / "weights.bin")
    with pytest.raises(cnnrt.ModelLoadError, match="not a regular file"):
        cnnrt.load(str(path))
