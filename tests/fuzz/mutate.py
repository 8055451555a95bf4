"""Mutations of serialized ONNX models: byte-level (flip, set, truncate,
insert, delete, duplicate, splice) and protobuf-aware (parse, set one field
to a boundary value from a dictionary, serialize)."""
from __future__ import annotations

import math
import random
import struct
from typing import Callable, List, Sequence, Tuple

import onnx

INTS = [0, 1, -1, 2, 3, -2, 7, 255, 65535, 2**31 - 1, 2**31, -(2**31), 2**32, 2**32 + 1, 2**62,
        2**63 - 1, -(2**63), 1 << 20, 1 << 40]
FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, math.nan, math.inf, -math.inf, 1e30, -1e30, 1e-45, 1e-38,
          3.4e38, 2.0**31, 2.0**63, 1e9]
NAMES = ["", "x", "y", "w", "nope", "../../etc/passwd", "a" * 300, "\x00", "é"]
OP_TYPES = ["Conv", "MaxPool", "AveragePool", "Gemm", "MatMul", "Concat", "Reshape", "Resize", "Pad", "Slice",
            "Split", "Transpose", "Gather", "Softmax", "Relu", "Add", "Mul", "BatchNormalization", "LRN",
            "ConvTranspose", "Flatten", "Unsqueeze", "Squeeze", "TopK", "ArgMax", "GlobalAveragePool", "Identity",
            "Upsample", "Expand", "Tile", "ConstantOfShape", "Range", "Loop", "If", "NoSuchOp", ""]
# ONNX tensor element types, valid and not.
DTYPES = [0, 1, 2, 3, 6, 7, 9, 10, 11, 16, 17, 23, 100, -1]

Slot = Tuple[str, Callable[[random.Random], None]]


def pick_int(r: random.Random) -> int:
    return r.choice(INTS) if r.random() < 0.85 else r.randint(-8, 64)


def pick_float(r: random.Random) -> float:
    return r.choice(FLOATS) if r.random() < 0.85 else r.uniform(-4, 4)


def _set_repeated(field, k, value) -> None:
    field[k] = value


def _slots(m: onnx.ModelProto) -> List[Slot]:
    """Every scalar the protobuf-aware mutation may set, as (what, setter)."""
    slots: List[Slot] = [("ir_version", lambda r: setattr(m, "ir_version", pick_int(r)))]
    for op in m.opset_import:
        slots.append(("opset", lambda r, op=op: setattr(op, "version", pick_int(r))))
        slots.append(("opset domain", lambda r, op=op: setattr(op, "domain", r.choice(["ai.onnx", "x", "ai.onnx.ml"]))))
    g = m.graph
    for n in g.node:
        slots.append(("op_type", lambda r, n=n: setattr(n, "op_type", r.choice(OP_TYPES))))
        slots.append(("domain", lambda r, n=n: setattr(n, "domain", r.choice(["", "ai.onnx", "com.microsoft", "x"]))))
        for k in range(len(n.input)):
            slots.append(("node input", lambda r, n=n, k=k: _set_repeated(n.input, k, _name(r, g))))
        for k in range(len(n.output)):
            slots.append(("node output", lambda r, n=n, k=k: _set_repeated(n.output, k, _name(r, g))))
        slots.append(("extra input", lambda r, n=n: n.input.append(_name(r, g))))
        slots.append(("drop input", lambda r, n=n: n.input.pop() if len(n.input) else None))
        for a in n.attribute:
            slots.append(("attr type", lambda r, a=a: setattr(a, "type", r.choice([0, 1, 2, 3, 4, 6, 7, 8, 99]))))
            slots.append(("drop attr", lambda r, n=n, a=a: n.attribute.remove(a)))
            if a.type == onnx.AttributeProto.INT:
                slots.append(("attr i", lambda r, a=a: setattr(a, "i", pick_int(r))))
            elif a.type == onnx.AttributeProto.FLOAT:
                slots.append(("attr f", lambda r, a=a: setattr(a, "f", pick_float(r))))
            elif a.type == onnx.AttributeProto.STRING:
                slots.append(("attr s", lambda r, a=a: setattr(a, "s", r.choice([b"", b"SAME_LOWER", b"VALID", b"cubic",
                                                                              b"linear", b"edge", b"\xff", b"x" * 99]))))
            elif a.type == onnx.AttributeProto.INTS:
                for k in range(len(a.ints)):
                    slots.append(("attr ints", lambda r, a=a, k=k: _set_repeated(a.ints, k, pick_int(r))))
                slots.append(("attr ints len", lambda r, a=a: a.ints.append(pick_int(r)) if r.random() < 0.5
                              else (a.ints.pop() if len(a.ints) else None)))
            elif a.type == onnx.AttributeProto.FLOATS:
                for k in range(len(a.floats)):
                    slots.append(("attr floats", lambda r, a=a, k=k: _set_repeated(a.floats, k, pick_float(r))))
        slots.append(("new attr", lambda r, n=n: n.attribute.append(_new_attr(r))))
    for t in g.initializer:
        for k in range(len(t.dims)):
            slots.append(("init dim", lambda r, t=t, k=k: _set_repeated(t.dims, k, pick_int(r))))
        slots.append(("init rank", lambda r, t=t: t.dims.append(pick_int(r)) if r.random() < 0.5
                      else (t.dims.pop() if len(t.dims) else None)))
        slots.append(("init dtype", lambda r, t=t: setattr(t, "data_type", r.choice(DTYPES))))
        slots.append(("init name", lambda r, t=t: setattr(t, "name", _name(r, g))))
        if t.raw_data:
            slots.append(("init raw value", lambda r, t=t: _poke_raw(r, t)))
            slots.append(("init raw length", lambda r, t=t: setattr(
                t, "raw_data", t.raw_data[: r.randrange(len(t.raw_data))] if r.random() < 0.7 else t.raw_data * 2)))
        for k in range(len(t.int64_data)):
            slots.append(("init int64", lambda r, t=t, k=k: _set_repeated(t.int64_data, k, pick_int(r))))
        for k in range(len(t.float_data)):
            slots.append(("init float", lambda r, t=t, k=k: _set_repeated(t.float_data, k, pick_float(r))))
        slots.append(("external data", lambda r, t=t: _make_external(r, t)))
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        tt = vi.type.tensor_type
        slots.append(("io elem_type", lambda r, tt=tt: setattr(tt, "elem_type", r.choice(DTYPES))))
        slots.append(("io name", lambda r, vi=vi: setattr(vi, "name", _name(r, g))))
        for d in tt.shape.dim:
            slots.append(("io dim", lambda r, d=d: setattr(d, "dim_value", pick_int(r)) if r.random() < 0.8
                          else setattr(d, "dim_param", r.choice(["N", "", "?"]))))
        slots.append(("io rank", lambda r, tt=tt: tt.shape.dim.add().__setattr__("dim_value", pick_int(r))
                      if r.random() < 0.5 else (tt.shape.dim.pop() if len(tt.shape.dim) else None)))
    slots.append(("drop node", lambda r: g.node.pop(r.randrange(len(g.node))) if len(g.node) else None))
    slots.append(("dup node", lambda r: g.node.add().CopyFrom(r.choice(g.node)) if len(g.node) else None))
    slots.append(("swap nodes", lambda r: _swap_nodes(r, g)))
    slots.append(("drop init", lambda r: g.initializer.pop(r.randrange(len(g.initializer))) if len(g.initializer) else None))
    slots.append(("drop output", lambda r: g.output.pop() if len(g.output) else None))
    slots.append(("init as input", lambda r: _init_as_input(r, g)))
    return slots


def _name(r: random.Random, g: onnx.GraphProto) -> str:
    """Another value's name most of the time (dangling edges, cycles), else an odd one."""
    names = [v for n in g.node for v in list(n.input) + list(n.output)] + [t.name for t in g.initializer]
    if names and r.random() < 0.7:
        return r.choice(names)
    return r.choice(NAMES)


def _new_attr(r: random.Random) -> onnx.AttributeProto:
    name = r.choice(["axis", "axes", "group", "kernel_shape", "pads", "strides", "dilations", "perm", "mode",
                     "auto_pad", "ceil_mode", "keepdims", "alpha", "epsilon", "size", "split", "value"])
    if r.random() < 0.5:
        return onnx.helper.make_attribute(name, pick_int(r))
    return onnx.helper.make_attribute(name, [pick_int(r) for _ in range(r.randint(0, 9))])


def _poke_raw(r: random.Random, t: onnx.TensorProto) -> None:
    raw = bytearray(t.raw_data)
    if t.data_type == onnx.TensorProto.INT64 and len(raw) >= 8:
        k = r.randrange(len(raw) // 8) * 8
        raw[k:k + 8] = struct.pack("<q", max(-(2**63), min(2**63 - 1, pick_int(r))))
    elif len(raw) >= 4:
        k = r.randrange(len(raw) // 4) * 4
        raw[k:k + 4] = struct.pack("<f", pick_float(r))
    t.raw_data = bytes(raw)


def _make_external(r: random.Random, t: onnx.TensorProto) -> None:
    t.data_location = onnx.TensorProto.EXTERNAL
    del t.external_data[:]
    for key, value in [("location", r.choice(["w.bin", "../w.bin", "/etc/passwd", "", ".", "/dev/zero", "~"])),
                       ("offset", str(pick_int(r))), ("length", str(pick_int(r))), (r.choice(["checksum", "x"]), "0")]:
        e = t.external_data.add()
        e.key, e.value = key, value
    t.ClearField("raw_data")


def _swap_nodes(r: random.Random, g: onnx.GraphProto) -> None:
    if len(g.node) >= 2:
        i, j = r.sample(range(len(g.node)), 2)
        a, b = onnx.NodeProto(), onnx.NodeProto()
        a.CopyFrom(g.node[i])
        b.CopyFrom(g.node[j])
        g.node[i].CopyFrom(b)
        g.node[j].CopyFrom(a)


def _init_as_input(r: random.Random, g: onnx.GraphProto) -> None:
    """IR-3 style: an initializer also listed as a graph input."""
    if len(g.initializer):
        t = r.choice(g.initializer)
        g.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type or 1, list(t.dims)))


def proto_mutate(data: bytes, r: random.Random, count: int = 1) -> bytes:
    """Sets `count` random fields of the parsed model to boundary values; the
    input unchanged if it does not parse."""
    m = onnx.ModelProto()
    try:
        m.ParseFromString(data)
    except Exception:
        return data
    for _ in range(count):
        slots = _slots(m)
        _, setter = r.choice(slots)
        try:
            setter(r)
        except (ValueError, TypeError, IndexError, OverflowError):
            pass  # the value does not fit this field (e.g. 2**40 into an int32): the model stays as it was
    try:
        return m.SerializeToString()
    except Exception:
        return data


def byte_mutate(data: bytes, r: random.Random, others: Sequence[bytes], count: int = 1) -> bytes:
    b = bytearray(data)
    for _ in range(count):
        op = r.randrange(8)
        n = len(b)
        if op == 0 and n:  # flip one bit
            k = r.randrange(n)
            b[k] ^= 1 << r.randrange(8)
        elif op == 1 and n:  # an interesting byte
            b[r.randrange(n)] = r.choice([0, 1, 0x7F, 0x80, 0xFF, 0x08, 0x0A, 0x12, 0x1A])
        elif op == 2 and n:  # truncate
            del b[r.randrange(n):]
        elif op == 3:  # insert random bytes (or a huge varint)
            k = r.randrange(n + 1)
            ins = bytes([0xFF] * 9 + [0x01]) if r.random() < 0.3 else bytes(r.randrange(256) for _ in range(r.randint(1, 8)))
            b[k:k] = ins
        elif op == 4 and n:  # delete a chunk
            k = r.randrange(n)
            del b[k:k + r.randint(1, 16)]
        elif op == 5 and n:  # duplicate a chunk
            k = r.randrange(n)
            chunk = b[k:k + r.randint(1, 64)]
            j = r.randrange(n + 1)
            b[j:j] = chunk
        elif op == 6 and others:  # splice: a prefix of this one, a suffix of another
            o = r.choice(others)
            b = b[: r.randrange(n + 1)] + bytearray(o[r.randrange(len(o) + 1):])
        elif op == 7 and n >= 4:  # a 32-bit boundary value anywhere
            k = r.randrange(n - 3)
            b[k:k + 4] = struct.pack("<I", r.choice([0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0x7FC00000]))
    return bytes(b)


def mutate(seed: bytes, r: random.Random, others: Sequence[bytes]) -> bytes:
    """One fuzz input from a seed: protobuf-aware, byte-level, or both."""
    x = r.random()
    if x < 0.55:
        return proto_mutate(seed, r, count=r.choice([1, 1, 1, 2, 3]))
    if x < 0.8:
        return byte_mutate(seed, r, others, count=r.choice([1, 1, 2, 4]))
    return byte_mutate(proto_mutate(seed, r, count=r.choice([1, 2])), r, others, count=1)
