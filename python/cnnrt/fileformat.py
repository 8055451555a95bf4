"""The .cnnrt compiled model file: writer and strict reader.

Layout (docs/cnnrt-format.md is the reference; all integers little-endian):

    header   128 bytes: magic, format version, sizes and offsets of the three
             sections, two CRC-32s, the pack signature, the ISA and the cnnrt
             version the weights were packed by, the header's own CRC-32
    graph    UTF-8 JSON: the lowered graph (what lower.py hands the runtime),
             the session's I/O description, and a table of every array
    data     64-byte aligned arrays used at every load: the packed weights
             (per op, tagged by layout) and the constants no op packs
    source   64-byte aligned arrays read only to repack: the weights the
             packed blobs were made from, for a load under another ISA

Nothing here imports onnx: loading a .cnnrt needs numpy and the runtime only.
"""
from __future__ import annotations

import json
import mmap
import os
import stat
import struct
import tempfile
import zlib
from typing import Dict, List, Tuple

import numpy as np

from .errors import ModelLoadError

MAGIC = b"\x89CNNRT\r\n"  # PNG-style: a high byte and CR LF catch text-mode and 7-bit mangling
FORMAT_VERSION = 1
HEADER_SIZE = 128
ALIGN = 64
_HEADER = struct.Struct("<8sIIQQQQQQQIIQ16s20sI")
assert _HEADER.size == HEADER_SIZE
_DTYPES = {1: np.dtype("<f4"), 7: np.dtype("<i8"), 9: np.dtype("?")}
_CODES = {np.dtype(np.float32): 1, np.dtype(np.int64): 7, np.dtype(np.bool_): 9}
_IO_DTYPES = {"float32": np.dtype(np.float32), "int64": np.dtype(np.int64), "bool": np.dtype(np.bool_)}


def _pad(n: int) -> int:
    return (-n) % ALIGN


class Compiled:
    """A .cnnrt file's contents once checked: what Session needs to build
    its runtime, plus the raw bytes (for save and pickle)."""

    __slots__ = ("label", "meta", "values", "nodes", "inputs", "outputs", "consts", "prepacked",
                 "isa", "version", "signature", "buffer", "repacked")


# ---------------------------------------------------------------- writing


def _encode_attr(v):
    if isinstance(v, (bytes, bytearray)):
        return {"bytes": bytes(v).hex()}
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_encode_attr(x) for x in v]
    return v


def _decode_attr(v, where):
    if isinstance(v, dict):
        if set(v) != {"bytes"} or not isinstance(v["bytes"], str):
            raise ValueError(f"{where}: bad attribute encoding")
        return bytes.fromhex(v["bytes"])
    if isinstance(v, list):
        for x in v:
            if not isinstance(x, (int, float)):
                raise ValueError(f"{where}: a list attribute holds {type(x).__name__}")
        return v
    if not isinstance(v, (int, float, str)):
        raise ValueError(f"{where}: attribute of type {type(v).__name__}")
    return v


def build(lowered, packed, meta: dict, isa: str, version: str, signature: int) -> List[bytes]:
    """The file as a list of byte chunks. lowered: lower()'s (values, nodes,
    inputs, outputs, consts); packed: [(node index, tag, buffer)]."""
    values, nodes, inputs, outputs, consts = lowered
    packed_nodes = {}
    for ni, tag, _ in packed:
        packed_nodes.setdefault(ni, []).append(tag)
    # A constant goes to the source section when every node reading it packed
    # it (its weight input 1) and nothing else reads it: then a load under the
    # same ISA never touches its bytes.
    readers: Dict[int, List[Tuple[int, int]]] = {}
    for ni, (_, _, ins, _, _) in enumerate(nodes):
        for k, vid in enumerate(ins):
            if vid >= 0:
                readers.setdefault(vid, []).append((ni, k))
    out_ids = set(outputs)

    def in_source(vid):
        r = readers.get(vid, [])
        return bool(r) and vid not in out_ids and all(k == 1 and ni in packed_nodes for ni, k in r)

    data_chunks: List[bytes] = []
    source_chunks: List[bytes] = []
    sizes = {"data": 0, "source": 0}

    def put(section, buf) -> int:
        mv = memoryview(buf).cast("B")
        chunks = data_chunks if section == "data" else source_chunks
        off = sizes[section]
        chunks.append(mv)
        pad = _pad(mv.nbytes)
        if pad:
            chunks.append(b"\0" * pad)
        sizes[section] = off + mv.nbytes + pad
        return off

    const_table = []
    for vid in sorted(consts):
        arr = np.ascontiguousarray(consts[vid])
        code = _CODES.get(arr.dtype)
        if code is None:
            raise ModelLoadError(f"cannot save a constant of dtype {arr.dtype}")
        arr = arr.astype(_DTYPES[code], copy=False)
        section = "source" if in_source(vid) else "data"
        off = put(section, arr)
        const_table.append([vid, code, [int(d) for d in arr.shape], section, off, int(arr.nbytes)])
    packed_table = []
    for ni, tag, buf in packed:
        mv = memoryview(buf).cast("B")
        off = put("data", mv)
        packed_table.append([int(ni), str(tag), off, mv.nbytes])
    graph = {
        "meta": meta,
        "values": [[n, int(c), None if s is None else [int(d) for d in s]] for n, c, s in values],
        "nodes": [[op, name, [int(i) for i in ins], [int(o) for o in outs],
                   {k: _encode_attr(v) for k, v in attrs.items()}] for op, name, ins, outs, attrs in nodes],
        "inputs": [int(i) for i in inputs],
        "outputs": [int(o) for o in outputs],
        "consts": const_table,
        "packed": packed_table,
    }
    gbytes = json.dumps(graph, separators=(",", ":")).encode("utf-8")
    graph_off = HEADER_SIZE
    data_off = graph_off + len(gbytes) + _pad(graph_off + len(gbytes))
    source_off = data_off + sizes["data"]
    file_size = source_off + sizes["source"]
    crc_a = zlib.crc32(gbytes)
    for c in data_chunks:
        crc_a = zlib.crc32(c, crc_a)
    crc_b = 0
    for c in source_chunks:
        crc_b = zlib.crc32(c, crc_b)
    head = _HEADER.pack(MAGIC, FORMAT_VERSION, HEADER_SIZE, file_size, graph_off, len(gbytes), data_off,
                        sizes["data"], source_off, sizes["source"], crc_a, crc_b, signature,
                        isa.encode("ascii"), version.encode("ascii")[:20], 0)
    head = head[:-4] + struct.pack("<I", zlib.crc32(head[:-4]))
    return [head, gbytes, b"\0" * (data_off - graph_off - len(gbytes))] + data_chunks + source_chunks


def write_file(path, chunks: List[bytes]) -> None:
    """Writes through a temporary file in the same folder and renames it over
    `path`: a failure never leaves a partial file under the user's name."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".cnnrt-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            for c in chunks:
                f.write(c)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---------------------------------------------------------------- reading


def is_compiled(model) -> bool:
    """Whether `model` (a path or bytes) starts with the .cnnrt magic."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(memoryview(model)[:8]) == MAGIC
    if isinstance(model, (str, os.PathLike)):
        # Non-blocking, and only a regular file is read: a FIFO (or a device)
        # must not hang the load here; the ONNX reader then names the problem.
        try:
            fd = os.open(model, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except (OSError, ValueError):
            return False
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return False
            return os.pread(fd, 8, 0) == MAGIC
        except OSError:
            return False
        finally:
            os.close(fd)
    return False


def _map(path: str):
    try:
        st = os.stat(path)
    except OSError as e:
        raise ModelLoadError(f"model '{path}': cannot open ({e.strerror})") from None
    if st.st_size < HEADER_SIZE:
        raise ModelLoadError(f"model '{path}': truncated: {st.st_size} bytes, a .cnnrt header alone is {HEADER_SIZE}")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ModelLoadError(f"model '{path}': not a regular file")
        # Private copy-on-write pages: untouched ones stay shared with the page
        # cache, and nothing the runtime does can write to the file.
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)


def read(model, current_isa: str, current_signature: int, version: str) -> Compiled:
    """Checks and opens a .cnnrt file (path) or its bytes. Every failure is a
    ModelLoadError naming the file and what is wrong."""
    if isinstance(model, (str, os.PathLike)):
        label = os.fspath(model)
        buf = _map(label)
    else:
        label = "<bytes>"
        buf = memoryview(model).cast("B")
    try:
        return _read(buf, label, current_isa, current_signature, version)
    except ModelLoadError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, UnicodeDecodeError, RecursionError) as e:
        raise ModelLoadError(f"model '{label}': corrupt .cnnrt graph section: {e}") from None


def _read(buf, label: str, current_isa: str, current_signature: int, version: str) -> Compiled:
    def bad(msg):
        raise ModelLoadError(f"model '{label}': {msg}")

    size = len(buf)
    if size < HEADER_SIZE:
        bad(f"truncated: {size} bytes, a .cnnrt header alone is {HEADER_SIZE}")
    (magic, fver, hsize, file_size, g_off, g_len, d_off, d_len, s_off, s_len, crc_a, crc_b, sig, isa_b, ver_b,
     hcrc) = _HEADER.unpack_from(buf, 0)
    if magic != MAGIC:
        bad(f"not a .cnnrt file (magic {magic!r}, expected {MAGIC!r})")
    if fver != FORMAT_VERSION:
        if fver > FORMAT_VERSION:
            bad(f".cnnrt format version {fver} is newer than this cnnrt ({version}) reads (version {FORMAT_VERSION}); "
                f"re-save the model with this cnnrt")
        bad(f"unknown .cnnrt format version {fver}")
    if zlib.crc32(memoryview(buf)[:HEADER_SIZE - 4]) != hcrc:
        bad("header checksum mismatch (the file is corrupt)")
    if hsize != HEADER_SIZE:
        bad(f"header size {hsize}, expected {HEADER_SIZE}")
    if file_size != size:
        bad(f"truncated: {size} bytes, the header says {file_size}" if size < file_size
            else f"{size - file_size} bytes of trailing data after the {file_size} the header describes")
    if not (g_off == HEADER_SIZE and g_off + g_len <= d_off and d_off % ALIGN == 0 and d_off + d_len == s_off
            and s_off % ALIGN == 0 and s_off + s_len == file_size and d_len % ALIGN == 0 and s_len % ALIGN == 0):
        bad(f"inconsistent section table (graph {g_off}+{g_len}, data {d_off}+{d_len}, source {s_off}+{s_len}, "
            f"file {file_size})")
    view = memoryview(buf)
    if any(view[g_off + g_len:d_off]):
        bad("non-zero padding after the graph section")
    crc = zlib.crc32(view[g_off:g_off + g_len])
    if zlib.crc32(view[d_off:d_off + d_len], crc) != crc_a:
        bad("checksum mismatch in the graph or data section (the file is corrupt)")
    try:
        isa = isa_b.rstrip(b"\0").decode("ascii")
        file_version = ver_b.rstrip(b"\0").decode("ascii")
    except UnicodeDecodeError:
        bad("ISA or version field is not ASCII")
    graph = json.loads(bytes(view[g_off:g_off + g_len]).decode("utf-8"))
    if not isinstance(graph, dict) or set(graph) != {"meta", "values", "nodes", "inputs", "outputs", "consts", "packed"}:
        bad("graph section has the wrong fields")

    # Packed blobs are used in place only when this runtime packs the same
    # way: same ISA, same layouts (signature), same cnnrt version.
    reuse = isa == current_isa and sig == current_signature and file_version == version
    if not reuse and s_len and zlib.crc32(view[s_off:s_off + s_len]) != crc_b:
        bad("checksum mismatch in the source-weights section (the file is corrupt)")

    c = Compiled()
    c.label = label
    c.isa, c.version, c.signature = isa, file_version, sig
    c.repacked = not reuse
    c.buffer = buf
    c.meta = _check_meta(graph["meta"])
    values = graph["values"]
    _expect(isinstance(values, list), "values must be a list")
    c.values = []
    for v in values:
        _expect(isinstance(v, list) and len(v) == 3 and isinstance(v[0], str) and _is_int(v[1])
                and (v[2] is None or _int_list(v[2])), f"bad value entry {v!r:.80}")
        c.values.append((v[0], v[1], v[2]))
    nv = len(c.values)
    c.nodes = []
    for n in graph["nodes"]:
        _expect(isinstance(n, list) and len(n) == 5 and isinstance(n[0], str) and isinstance(n[1], str)
                and _int_list(n[2]) and _int_list(n[3]) and isinstance(n[4], dict), f"bad node entry {n!r:.80}")
        where = f"node '{n[1]}'"
        c.nodes.append((n[0], n[1], n[2], n[3], {str(k): _decode_attr(v, where) for k, v in n[4].items()}))
    _expect(_int_list(graph["inputs"]) and _int_list(graph["outputs"]), "inputs/outputs must be lists of value ids")
    c.inputs, c.outputs = graph["inputs"], graph["outputs"]
    for key, ids in (("inputs", c.inputs), ("outputs", c.outputs)):
        _expect(all(0 <= i < nv for i in ids), f"{key}: a value id out of range")
        _expect([io[0] for io in c.meta[key]] == [c.values[i][0] for i in ids],
                f"meta.{key} does not name the graph's {key}")

    sections = {"data": (d_off, d_len), "source": (s_off, s_len)}
    c.consts = {}
    for e in graph["consts"]:
        _expect(isinstance(e, list) and len(e) == 6 and _is_int(e[0]) and 0 <= e[0] < nv and e[1] in _DTYPES
                and _int_list(e[2]) and all(d >= 0 for d in e[2]) and e[3] in sections, f"bad constant entry {e!r:.80}")
        vid, code, shape, sec, off, nbytes = e
        dt = _DTYPES[code]
        count = int(np.prod(shape, dtype=object)) if shape else 1
        _expect(nbytes == count * dt.itemsize, f"constant {vid}: {nbytes} bytes for shape {shape} of {dt}")
        _expect(vid not in c.consts, f"constant {vid} given twice")
        c.consts[vid] = _array(view, sections[sec], off, nbytes, dt, shape, f"constant {vid}")
    c.prepacked = {}
    for e in graph["packed"]:
        _expect(isinstance(e, list) and len(e) == 4 and _is_int(e[0]) and 0 <= e[0] < len(c.nodes)
                and isinstance(e[1], str), f"bad packed entry {e!r:.80}")
        ni, tag, off, nbytes = e
        arr = _array(view, sections["data"], off, nbytes, np.dtype(np.uint8), [nbytes], f"packed weights of node {ni}")
        if reuse:
            c.prepacked.setdefault(ni, []).append((tag, arr))
    return c


def _array(view, section, off, nbytes, dt, shape, what):
    s_off, s_len = section
    _expect(_is_int(off) and _is_int(nbytes) and 0 <= off and 0 <= nbytes and off % ALIGN == 0
            and off + nbytes <= s_len, f"{what}: bytes {off}+{nbytes} outside its section of {s_len}")
    return np.frombuffer(view, dtype=dt, count=nbytes // dt.itemsize, offset=s_off + off).reshape(shape)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _int_list(x) -> bool:
    return isinstance(x, list) and all(_is_int(i) for i in x)


def _expect(cond, msg):
    if not cond:
        raise ValueError(msg)


def _check_meta(m):
    _expect(isinstance(m, dict), "meta must be an object")
    for key in ("inputs", "outputs"):
        _expect(isinstance(m.get(key), list), f"meta.{key} must be a list")
        for io in m[key]:
            _expect(isinstance(io, list) and len(io) == 3 and isinstance(io[0], str) and io[2] in _IO_DTYPES
                    and (io[1] is None or (isinstance(io[1], list)
                                           and all(d is None or isinstance(d, str) or (_is_int(d) and d >= 0)
                                               for d in io[1]))),
                    f"bad meta.{key} entry {io!r:.80}")
    _expect(isinstance(m.get("label"), str), "meta.label must be a string")
    _expect(isinstance(m.get("passes"), list) and all(isinstance(p, str) for p in m["passes"]), "meta.passes")
    _expect(_is_int(m.get("node_count")), "meta.node_count must be an int")
    return m


def io_to_meta(infos) -> list:
    return [[i.name, i.shape, str(np.dtype(i.dtype))] for i in infos]


def io_dtype(name: str) -> np.dtype:
    return _IO_DTYPES[name]
