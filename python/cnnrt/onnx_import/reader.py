"""Read an ONNX model from a path, bytes or a ModelProto.

External data is read by cnnrt itself, never by onnx's loader: only the keys
location/offset/length/checksum; the location must be a relative path that
resolves (symlinks included) to a regular file inside the model's folder (or
the folder a symlinked model file resolves to: Hugging Face caches); the
byte range must lie inside the file and match the tensor's size.
"""
from __future__ import annotations

import mmap
import os
import stat
from typing import Optional, Tuple

import onnx
from google.protobuf.message import DecodeError

from ..errors import ModelLoadError

_EXTERNAL = onnx.TensorProto.EXTERNAL
_KNOWN_KEYS = {"location", "offset", "length", "checksum"}


class Weights:
    """Initializer bytes that the proto from open_model does not hold: per
    index in graph.initializer, where they are (the model file or bytes, or an
    external data file). to_ir reads each as it converts that initializer, so
    the weights are in memory once while loading, not once in the protobuf
    and once more as arrays."""

    def __init__(self, label: str):
        self._label = label
        self._where = {}  # index -> (source, offset, length, what for messages)
        self._files = {}  # path -> open file

    def __contains__(self, index) -> bool:
        return index in self._where

    def __len__(self) -> int:
        return len(self._where)

    def add(self, index: int, source, offset: int, length: int, short_read: str) -> None:
        """source: a bytes-like object, or a path (opened once, read with
        pread); short_read: the message if the file no longer has the bytes."""
        if isinstance(source, str) and source not in self._files:
            self._files[source] = _open_regular(source, short_read)
        self._where[index] = (source, offset, length, short_read)

    def read(self, index: int) -> bytes:
        source, offset, length, short_read = self._where[index]
        if isinstance(source, str):
            try:
                data = os.pread(self._files[source].fileno(), length, offset)
            except OSError as e:  # EIO, a file on a vanished mount, ...
                raise self._read_failed(source, e) from None
            if len(data) != length:
                raise ModelLoadError(short_read)
            return data
        return bytes(source[offset:offset + length])

    def _read_failed(self, path: str, e: OSError) -> ModelLoadError:
        return ModelLoadError(f"model '{self._label}': cannot read the weights from '{path}' ({e.strerror})")

    def nbytes(self, index: int) -> int:
        return self._where[index][2]

    def read_into(self, index: int, out) -> None:
        """Reads the bytes into `out`, a writable buffer of exactly nbytes(index)."""
        source, offset, length, short_read = self._where[index]
        view = memoryview(out).cast("B")
        if len(view) != length:
            raise ValueError(f"read_into: a buffer of {len(view)} bytes for {length}")
        if not isinstance(source, str):
            part = memoryview(source)[offset:offset + length]
            if len(part) != length:  # the scan keeps ranges inside the bytes; checked all the same
                raise ModelLoadError(short_read or f"model '{self._label}': an initializer's bytes run past the end")
            view[:] = part
            return
        fd = self._files[source].fileno()
        done = 0
        while done < length:  # one read returns at most ~2 GiB on Linux
            try:
                n = os.preadv(fd, [view[done:]], offset + done)
            except OSError as e:
                raise self._read_failed(source, e) from None
            if n <= 0:
                raise ModelLoadError(short_read)
            done += n

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
        self._where.clear()

    def __del__(self):
        self.close()


def _open_regular(path: str, where: str):
    """Opens a file for reading only if it is a regular file, checked on the
    open descriptor (no race with a rename), without blocking: a FIFO put in
    the file's place between a check and the open cannot hang the load."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise ModelLoadError(f"{where}: cannot open '{path}' ({e.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ModelLoadError(f"{where}: '{path}' is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_model(model) -> Tuple[onnx.ModelProto, Optional[str], str]:
    """Returns (ModelProto with external data resolved, base dir or None, label).
    A caller's ModelProto is returned as is (the importer only reads it) unless
    it has external data to resolve: then a copy, which gets the data."""
    proto, base_dir, label, weights = open_model(model)
    if weights is not None:
        try:
            for i, t in enumerate(proto.graph.initializer):
                if i in weights:
                    t.raw_data = weights.read(i)
        finally:
            weights.close()
    return proto, base_dir, label


def open_model(model) -> Tuple[onnx.ModelProto, Optional[str], str, Optional[Weights]]:
    """Like read_model, but float32 initializers of 4 KiB or more, and
    initializers in external data, come without their bytes: those are in
    `weights` (None when there are none), which to_ir reads from. A file is
    scanned for them before parsing, so protobuf never copies them; anything
    unusual in the file's layout takes the plain parse, with its messages."""
    base_dir = real_dir = None
    weights = None
    if isinstance(model, onnx.ModelProto):
        if any(t.data_location == _EXTERNAL for _, t in _tensors_with_external_data(model.graph)):
            proto = onnx.ModelProto()
            proto.CopyFrom(model)
        else:
            proto = model  # a copy would hold every weight a second time while loading
        label = proto.graph.name or "<ModelProto>"
    elif isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
        proto, weights = _parse_split(data, data, "<bytes>")
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
        with _open_regular(path, f"model '{path}'") as f:
            proto, weights = _parse_file(f, path)
        base_dir = os.path.dirname(os.path.abspath(path))
        # A model file that is a symlink (a Hugging Face cache: snapshots/<rev>/
        # model.onnx -> ../../blobs/<hash>) also owns the folder it resolves to.
        real_dir = os.path.dirname(os.path.realpath(path))
    else:
        raise ModelLoadError(
            f"cannot load a model from {type(model).__name__}: pass a path, bytes or an onnx.ModelProto"
        )
    try:
        if not proto.HasField("graph"):
            raise ModelLoadError(f"model '{label}': no graph (empty or not an ONNX model file)")
        if weights is None:
            weights = Weights(label)
        _load_external(proto, base_dir, label, weights, real_dir)
    except BaseException:
        if weights is not None:
            weights.close()
        raise
    if not len(weights):
        weights.close()
        weights = None
    return proto, base_dir, label, weights


def _parse(data: bytes, label: str) -> onnx.ModelProto:
    if not data:
        raise ModelLoadError(f"model '{label}': the file is empty")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise ModelLoadError(f"model '{label}': not a valid ONNX protobuf (truncated or corrupt: {e})") from None
    return proto


def _parse_file(f, path: str):
    """(proto, Weights or None) for an open model file: scanned through a
    read-only mapping (only field headers are touched), the weights then read
    with pread, so that neither the whole file nor the weights in protobuf
    are ever in memory."""
    size = os.fstat(f.fileno()).st_size
    if size:
        try:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                split = _split_weights(mm)
        except (_Unusual, ValueError, OSError):
            split = None
        if split is not None:
            proto = _parse_stripped(split[0])
            if proto is not None:
                weights = Weights(path)
                for index, (offset, length) in split[1].items():
                    weights.add(index, path, offset, length, f"model '{path}': the file ended early (changed while loading?)")
                return proto, weights
    f.seek(0)
    return _parse(f.read(), path), None


def _parse_split(data: bytes, source, label: str):
    """(proto, Weights or None) for a serialized model held in memory."""
    if data:
        try:
            split = _split_weights(data)
        except _Unusual:
            split = None
        if split is not None:
            proto = _parse_stripped(split[0])
            if proto is not None:
                weights = Weights(label)
                for index, (offset, length) in split[1].items():
                    weights.add(index, source, offset, length, "")
                return proto, weights
    return _parse(data, label), None


def _parse_stripped(data: bytes) -> Optional[onnx.ModelProto]:
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError):
        return None  # the plain parse gives the message
    return proto


# Protobuf wire format, just enough to find the initializers' raw_data.
class _Unusual(Exception):
    """A layout the scan does not handle (or a damaged file): parse it whole."""


_MODEL_GRAPH, _GRAPH_INITIALIZER = 7, 5
_TENSOR_DATA_TYPE, _TENSOR_RAW_DATA, _TENSOR_DATA_LOCATION = 2, 9, 14
_SPLIT_MIN_BYTES = 4096  # as _infer_shapes: smaller tensors stay in the proto (shape inference may read them)


def _varint(buf, pos: int, end: int):
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Unusual()
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _fields(buf, pos: int, end: int):
    """(field number, wire type, start of field, start of value, end) per field."""
    while pos < end:
        start = pos
        key, pos = _varint(buf, pos, end)
        field, wire = key >> 3, key & 7
        value = pos
        if wire == 0:
            _, pos = _varint(buf, pos, end)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            n, value = _varint(buf, pos, end)
            pos = value + n
        else:  # groups: not in ONNX
            raise _Unusual()
        if pos > end or field == 0:
            raise _Unusual()
        yield field, wire, start, value, pos


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len_field(field: int, payload: bytes) -> bytes:
    return _encode_varint(field << 3 | 2) + _encode_varint(len(payload)) + payload


def _split_weights(buf):
    """(the model serialized without the raw_data of float32 initializers of
    _SPLIT_MIN_BYTES or more, {initializer index: (offset, length) in buf})."""
    out = bytearray()
    spans = {}
    seen_graph = False
    for field, wire, start, value, end in _fields(buf, 0, len(buf)):
        if field != _MODEL_GRAPH or wire != 2:
            out += buf[start:end]
            continue
        if seen_graph:  # repeated message fields merge: leave that to protobuf
            raise _Unusual()
        seen_graph = True
        graph = bytearray()
        index = 0
        for gfield, gwire, gstart, gvalue, gend in _fields(buf, value, end):
            if gfield != _GRAPH_INITIALIZER or gwire != 2:
                graph += buf[gstart:gend]
                continue
            tensor = bytearray()
            raw = None
            data_type = location = 0
            for tfield, twire, tstart, tvalue, tend in _fields(buf, gvalue, gend):
                if tfield == _TENSOR_RAW_DATA and twire == 2:
                    if raw is not None:
                        raise _Unusual()
                    raw = (tstart, tvalue, tend)
                    continue
                if tfield == _TENSOR_DATA_TYPE and twire == 0:
                    data_type = _varint(buf, tvalue, tend)[0]
                elif tfield == _TENSOR_DATA_LOCATION and twire == 0:
                    location = _varint(buf, tvalue, tend)[0]
                tensor += buf[tstart:tend]
            if raw is not None:
                if data_type == onnx.TensorProto.FLOAT and location == 0 and raw[2] - raw[1] >= _SPLIT_MIN_BYTES:
                    spans[index] = (raw[1], raw[2] - raw[1])
                else:
                    tensor += buf[raw[0]:raw[2]]
            graph += _len_field(_GRAPH_INITIALIZER, bytes(tensor))
            index += 1
        out += _len_field(_MODEL_GRAPH, bytes(graph))
    return bytes(out), spans


def _tensors_with_external_data(graph):
    """(index in graph.initializer or None, tensor) for every tensor that may
    have external data."""
    for i, t in enumerate(graph.initializer):
        yield i, t
    for n in graph.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                yield None, a.t


def _load_external(proto: onnx.ModelProto, base_dir: Optional[str], label: str, weights: Weights,
                   real_dir: Optional[str] = None) -> None:
    """Checks every external data reference; an initializer's bytes go to
    `weights` (read when converted), a node attribute's into the proto.

    The location must be relative, without '..' components, and resolve
    (symlinks followed) inside the model's folder: the folder as named, or
    the folder the model file itself resolves to (real_dir), so that a
    Hugging Face cache whose model and data are both symlinks into one blobs
    folder loads, while a symlink from the model's folder to anywhere else
    does not."""
    roots = []
    if base_dir is not None:
        roots = list(dict.fromkeys(os.path.realpath(d) for d in (base_dir, real_dir) if d))
    for index, t in _tensors_with_external_data(proto.graph):
        if t.data_location != _EXTERNAL:
            continue
        where = f"model '{label}', tensor '{t.name}'"
        if base_dir is None:
            raise ModelLoadError(f"{where}: uses external data, which needs the model to be loaded from its path")
        if any(isinstance(e.key, bytes) or isinstance(e.value, bytes) for e in t.external_data):
            raise ModelLoadError(f"{where}: an external data key or value is not valid UTF-8")
        keys = {e.key: e.value for e in t.external_data}
        unknown = set(keys) - _KNOWN_KEYS
        if unknown:
            raise ModelLoadError(f"{where}: unknown external data key(s) {sorted(unknown)}")
        loc = keys.get("location", "")
        parts = loc.replace("\\", "/").split("/")
        if (not loc or loc in (".", "..") or os.path.isabs(loc) or loc.startswith("~") or ".." in parts
                or "\0" in loc or (len(loc) > 1 and loc[1] == ":")):
            raise ModelLoadError(f"{where}: external data location '{loc}' must be a relative file path inside the model's folder")
        target = os.path.realpath(os.path.join(base_dir, loc))
        if not any(os.path.commonpath([root, target]) == root for root in roots):
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
        if index is not None:
            weights.add(index, target, offset, length, f"{where}: external data file '{loc}' ended early")
        else:
            with _open_regular(target, where) as f:
                data = os.pread(f.fileno(), length, offset)
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
