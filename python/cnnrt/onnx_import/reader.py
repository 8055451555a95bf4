"""Read an ONNX model from a path, bytes or a ModelProto.

External data is read by cnnrt itself, never by onnx's loader: only the keys
location/offset/length/checksum; the location must be a relative path that
resolves (symlinks included) to a regular file inside the model's folder; the
byte range must lie inside the file and match the tensor's size.
"""
from __future__ import annotations

import os
import stat
from typing import Optional, Tuple

import onnx
from google.protobuf.message import DecodeError

from ..errors import ModelLoadError

_EXTERNAL = onnx.TensorProto.EXTERNAL
_KNOWN_KEYS = {"location", "offset", "length", "checksum"}


def read_model(model) -> Tuple[onnx.ModelProto, Optional[str], str]:
    """Returns (ModelProto with external data resolved, base dir or None, label).
    A caller's ModelProto is returned as is (the importer only reads it) unless
    it has external data to resolve: then a copy, which gets the data."""
    base_dir = None
    if isinstance(model, onnx.ModelProto):
        if any(t.data_location == _EXTERNAL for t in _tensors_with_external_data(model.graph)):
            proto = onnx.ModelProto()
            proto.CopyFrom(model)
        else:
            proto = model  # a copy would hold every weight a second time while loading
        label = proto.graph.name or "<ModelProto>"
    elif isinstance(model, (bytes, bytearray, memoryview)):
        proto = _parse(bytes(model), "<bytes>")
        label = proto.graph.name or "<bytes>"
    elif isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        label = path
        try:
            st = os.stat(path)
        except OSError as e:
            raise ModelLoadError(f"model '{path}': cannot open ({e.strerror})") from None
        if not stat.S_ISREG(st.st_mode):
            raise ModelLoadError(f"model '{path}': not a regular file")
        with open(path, "rb") as f:
            data = f.read()
        proto = _parse(data, path)
        base_dir = os.path.dirname(os.path.abspath(path))
    else:
        raise ModelLoadError(
            f"cannot load a model from {type(model).__name__}: pass a path, bytes or an onnx.ModelProto"
        )
    if not proto.HasField("graph"):
        raise ModelLoadError(f"model '{label}': no graph (empty or not an ONNX model file)")
    _load_external(proto, base_dir, label)
    return proto, base_dir, label


def _parse(data: bytes, label: str) -> onnx.ModelProto:
    if not data:
        raise ModelLoadError(f"model '{label}': the file is empty")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise ModelLoadError(f"model '{label}': not a valid ONNX protobuf (truncated or corrupt: {e})") from None
    return proto


def _tensors_with_external_data(graph):
    for t in graph.initializer:
        yield t
    for n in graph.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                yield a.t


def _load_external(proto: onnx.ModelProto, base_dir: Optional[str], label: str) -> None:
    for t in _tensors_with_external_data(proto.graph):
        if t.data_location != _EXTERNAL:
            continue
        where = f"model '{label}', tensor '{t.name}'"
        if base_dir is None:
            raise ModelLoadError(f"{where}: uses external data, which needs the model to be loaded from its path")
        keys = {e.key: e.value for e in t.external_data}
        unknown = set(keys) - _KNOWN_KEYS
        if unknown:
            raise ModelLoadError(f"{where}: unknown external data key(s) {sorted(unknown)}")
        loc = keys.get("location", "")
        if not loc or loc in (".", "..") or os.path.isabs(loc) or loc.startswith("~"):
            raise ModelLoadError(f"{where}: external data location '{loc}' must be a relative file path inside the model's folder")
        root = os.path.realpath(base_dir)
        target = os.path.realpath(os.path.join(base_dir, loc))
        if os.path.commonpath([root, target]) != root:
            raise ModelLoadError(f"{where}: external data location '{loc}' resolves outside the model's folder")
        try:
            st = os.stat(target)
        except OSError as e:
            raise ModelLoadError(f"{where}: external data file '{loc}' cannot be opened ({e.strerror})") from None
        if not stat.S_ISREG(st.st_mode):
            raise ModelLoadError(f"{where}: external data '{loc}' is not a regular file")
        try:
            offset = int(keys.get("offset", "0"))
            length = int(keys["length"]) if "length" in keys else None
        except ValueError:
            raise ModelLoadError(f"{where}: external data offset/length are not integers") from None
        if offset < 0 or (length is not None and length < 0):
            raise ModelLoadError(f"{where}: negative external data offset or length")
        size = st.st_size
        if offset > size:
            raise ModelLoadError(f"{where}: external data offset {offset} lies beyond the end of '{loc}' ({size} bytes)")
        if length is None:
            length = size - offset
        if offset + length > size:
            raise ModelLoadError(
                f"{where}: external data range [{offset}, {offset + length}) lies outside '{loc}' ({size} bytes)"
            )
        expected = _expected_bytes(t)
        if expected is not None and expected != length:
            raise ModelLoadError(f"{where}: external data has {length} bytes, the tensor needs {expected}")
        with open(target, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        if len(data) != length:
            raise ModelLoadError(f"{where}: external data file '{loc}' ended early")
        t.raw_data = data
        del t.external_data[:]
        t.data_location = onnx.TensorProto.DEFAULT


def _expected_bytes(t) -> Optional[int]:
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    except Exception:
        return None
    n = 1
    for d in t.dims:
        if d < 0:
            return None
        n *= d
    return n * itemsize
