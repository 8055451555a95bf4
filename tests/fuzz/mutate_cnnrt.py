"""Mutations of .cnnrt files (docs/cnnrt-format.md), the second fuzz target.

A plain byte mutation of a .cnnrt file is caught by its CRC-32s, which
tests only the first check of the reader. So besides raw byte mutations
(kept, at a low rate) these mutators do what a careful forger does and redo
the checksums afterwards, reaching the reader's later checks and the C++
session behind it:

- bytes: byte mutations inside one section (graph JSON, packed data, source
  weights), then every CRC fixed up;
- header: one header field set to a boundary value, header CRC fixed up;
- graph: the JSON graph parsed, one leaf (an int, a string, a list entry, a
  whole entry) replaced by a boundary value, dropped or duplicated, the
  sections moved and every offset and CRC redone.
"""
from __future__ import annotations

import json
import random
import struct
import zlib
from typing import Any, List, Sequence, Tuple

from cnnrt import fileformat
from cnnrt.fileformat import ALIGN, HEADER_SIZE

from . import mutate as onnx_mutate

# The header's fields in the order of fileformat._HEADER (docs/cnnrt-format.md).
HEADER = fileformat._HEADER
MAGIC = fileformat.MAGIC
FIELDS = ["magic", "version", "hsize", "file_size", "g_off", "g_len", "d_off", "d_len", "s_off", "s_len",
          "crc_a", "crc_b", "sig", "isa", "ver", "hcrc"]

STRINGS = ["", "x", "Conv", "NoSuchOp", "MaxPool", "Gemm", "Reshape", "data", "source", "conv.nhwc.gemm",
           "avx512", "ref", "\x00", "a" * 200, "é"]
JSON_VALUES: List[Any] = [None, True, [], {}, [[]], -1, 0, 1, 1.5, float("nan"), "", [0] * 9, [-1, -1]]


def header(data: bytes) -> dict:
    return dict(zip(FIELDS, HEADER.unpack_from(data, 0)))


def with_header(data: bytes, fix_crc: bool = True, **changes) -> bytes:
    f = header(data)
    f.update(changes)
    head = HEADER.pack(*[f[n] for n in FIELDS])
    if fix_crc:
        head = head[:-4] + struct.pack("<I", zlib.crc32(head[:-4]))
    return head + data[HEADER_SIZE:]


def fix_crcs(data: bytes) -> bytes:
    """Recomputes the data and source checksums and the header's, from the
    section table as it stands (a table that points outside the file is
    left to the reader to refuse)."""
    h = header(data)
    g = data[h["g_off"]:h["g_off"] + h["g_len"]]
    d = data[h["d_off"]:h["d_off"] + h["d_len"]]
    s = data[h["s_off"]:h["s_off"] + h["s_len"]]
    return with_header(data, crc_a=zlib.crc32(d, zlib.crc32(g)), crc_b=zlib.crc32(s))


def with_graph_bytes(data: bytes, g: bytes) -> bytes:
    """`data` with its graph section replaced by `g`, what follows moved and
    the offsets and checksums redone."""
    h = header(data)
    d_off = HEADER_SIZE + len(g) + fileformat._pad(HEADER_SIZE + len(g))
    body = data[h["d_off"]:]
    out = data[:HEADER_SIZE] + g + b"\0" * (d_off - HEADER_SIZE - len(g)) + body
    out = with_header(out, g_len=len(g), d_off=d_off, s_off=d_off + h["d_len"], file_size=len(out))
    return fix_crcs(out)


def _leaves(obj: Any, max_depth: int = 12) -> List[Tuple]:
    """Paths to every value in a JSON tree (containers included), down to
    max_depth (a mutated file may nest deeper than recursion allows)."""
    out: List[Tuple] = []
    stack: List[Tuple[Tuple, Any]] = [((), obj)]
    while stack:
        path, o = stack.pop()
        out.append(path)
        if len(path) >= max_depth:
            continue
        if isinstance(o, dict):
            stack.extend((path + (k,), v) for k, v in o.items())
        elif isinstance(o, list):
            stack.extend((path + (k,), v) for k, v in enumerate(o))
    out.reverse()
    return out


def _get(obj: Any, path: Tuple) -> Any:
    for k in path:
        obj = obj[k]
    return obj


def _new_value(r: random.Random, old: Any) -> Any:
    if isinstance(old, bool) or old is None:
        return r.choice(JSON_VALUES)
    if isinstance(old, int):
        return onnx_mutate.pick_int(r) if r.random() < 0.85 else r.choice(JSON_VALUES)
    if isinstance(old, float):
        return onnx_mutate.pick_float(r)
    if isinstance(old, str):
        return r.choice(STRINGS)
    return r.choice(JSON_VALUES)


def graph_mutate(data: bytes, r: random.Random, count: int = 1) -> bytes:
    h = header(data)
    graph = json.loads(data[h["g_off"]:h["g_off"] + h["g_len"]])
    for _ in range(count):
        paths = [p for p in _leaves(graph) if p]
        if not paths:
            break
        path = r.choice(paths)
        parent = _get(graph, path[:-1])
        key = path[-1]
        roll = r.random()
        if isinstance(parent, list) and roll < 0.15:
            del parent[key]
        elif isinstance(parent, list) and roll < 0.3:
            parent.insert(key, json.loads(json.dumps(parent[key])))
        elif isinstance(parent, dict) and roll < 0.2:
            del parent[key]
        else:
            parent[key] = _new_value(r, parent[key])
    # allow_nan: NaN / Infinity tokens are something a reader may meet.
    return with_graph_bytes(data, json.dumps(graph, allow_nan=True).encode())


def header_mutate(data: bytes, r: random.Random) -> bytes:
    name = r.choice(FIELDS[1:-1])
    if name == "isa":
        value = r.choice([b"ref", b"avx2", b"avx512", b"neon", b"", b"\xff" * 16])
    elif name == "ver":
        value = r.choice([b"0.0.0", b"", b"99.0", b"\xff"])
    else:
        bits = 32 if name in ("version", "hsize", "crc_a", "crc_b") else 64
        value = r.choice([0, 1, ALIGN, HEADER_SIZE, (1 << bits) - 1, 1 << (bits - 1),
                          header(data)[name] + r.choice([-ALIGN, -1, 1, ALIGN])]) % (1 << bits)
    return with_header(data, **{name: value})


def section_mutate(data: bytes, r: random.Random, others: Sequence[bytes]) -> bytes:
    """Byte mutations inside one section, checksums redone."""
    h = header(data)
    name = r.choice(["g", "d", "s"])
    off, n = h[name + "_off"], h[name + "_len"]
    if n <= 0 or off + n > len(data):
        return data
    part = bytearray(data[off:off + n])
    for _ in range(r.randint(1, 4)):
        k = r.randrange(len(part))
        part[k] = r.choice([0, 0xFF, 0x7F, 0x80, ord("9"), ord("-"), ord("["), ord('"'), r.randrange(256)])
    out = data[:off] + bytes(part) + data[off + n:]
    return fix_crcs(out)


def mutate(seed: bytes, r: random.Random, others: Sequence[bytes]) -> bytes:
    roll = r.random()
    try:
        if roll < 0.45:
            return graph_mutate(seed, r, count=r.choice([1, 1, 1, 2, 3]))
        if roll < 0.65:
            return section_mutate(seed, r, others)
        if roll < 0.85:
            return header_mutate(seed, r)
    except (ValueError, KeyError, IndexError, TypeError, struct.error, RecursionError, OverflowError):
        pass  # not a well-formed .cnnrt to start from (a mutated corpus entry): bytes only
    return onnx_mutate.byte_mutate(seed, r, others, count=r.choice([1, 1, 2, 4]))
