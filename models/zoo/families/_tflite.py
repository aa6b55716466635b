"""A small reader of TensorFlow Lite flatbuffers (numpy only), enough for plain float32 image
models: the tensors of the first subgraph (shape, type, constant data), its operators (builtin
code, inputs, outputs, options table) and its inputs / outputs.

Flatbuffers in brief: a table starts with an int32 back-offset to its vtable; the vtable holds
uint16 (vtable size, table size, then one offset per field, 0 = absent, default applies). A
field that is a table, vector or string holds a uint32 offset from the field's own position;
vectors and strings start with a uint32 length. Field numbers below are those of TensorFlow
Lite's schema.fbs (Model, SubGraph, Tensor, Operator, Buffer and the options tables).
"""

import struct

import numpy as np

# BuiltinOperator codes (schema.fbs)
OP_NAMES = {0: "ADD", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 17: "MAX_POOL_2D", 34: "PAD", 54: "PRELU"}
# TensorType
FLOAT32, INT32 = 0, 2
TYPES = {FLOAT32: np.float32, INT32: np.int32}


class Table:
    def __init__(self, buf: bytes, pos: int):
        self.buf, self.pos = buf, pos
        vt = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vt_size = struct.unpack_from("<H", buf, vt)[0]
        self.vt = vt

    def _field(self, i: int):
        o = 4 + 2 * i
        if o >= self.vt_size:
            return None
        off = struct.unpack_from("<H", self.buf, self.vt + o)[0]
        return self.pos + off if off else None

    def scalar(self, i: int, fmt: str, default=0):
        p = self._field(i)
        return default if p is None else struct.unpack_from("<" + fmt, self.buf, p)[0]

    def _target(self, i: int):
        p = self._field(i)
        return None if p is None else p + struct.unpack_from("<I", self.buf, p)[0]

    def table(self, i: int):
        p = self._target(i)
        return None if p is None else Table(self.buf, p)

    def vector(self, i: int, fmt: str) -> list:
        p = self._target(i)
        if p is None:
            return []
        n = struct.unpack_from("<I", self.buf, p)[0]
        return list(struct.unpack_from(f"<{n}{fmt}", self.buf, p + 4))

    def bytes(self, i: int) -> bytes:
        p = self._target(i)
        if p is None:
            return b""
        n = struct.unpack_from("<I", self.buf, p)[0]
        return self.buf[p + 4:p + 4 + n]

    def tables(self, i: int) -> list:
        p = self._target(i)
        if p is None:
            return []
        n = struct.unpack_from("<I", self.buf, p)[0]
        out = []
        for k in range(n):
            e = p + 4 + 4 * k
            out.append(Table(self.buf, e + struct.unpack_from("<I", self.buf, e)[0]))
        return out


class Tensor:
    def __init__(self, index, name, shape, dtype, data):
        self.index, self.name, self.shape, self.dtype, self.data = index, name, shape, dtype, data


class Op:
    def __init__(self, name, inputs, outputs, options):
        self.name, self.inputs, self.outputs, self.options = name, inputs, outputs, options


def read(buf: bytes):
    """(tensors, operators, input indices, output indices) of the model's first subgraph."""
    if buf[4:8] != b"TFL3":
        raise ValueError("not a TensorFlow Lite flatbuffer (no TFL3 identifier)")
    model = Table(buf, struct.unpack_from("<I", buf, 0)[0])
    codes = []
    for oc in model.tables(1):  # operator_codes
        # builtin_code (field 3, int32) supersedes deprecated_builtin_code (field 0, int8)
        codes.append(max(oc.scalar(0, "b"), oc.scalar(3, "i")))
    buffers = [b.bytes(0) for b in model.tables(4)]
    graphs = model.tables(2)
    if len(graphs) != 1:
        raise ValueError(f"expected one subgraph, found {len(graphs)}")
    g = graphs[0]
    tensors = []
    for k, t in enumerate(g.tables(0)):
        ttype = t.scalar(1, "b")
        if ttype not in TYPES:
            raise ValueError(f"tensor {k}: type {ttype} is not float32 or int32")
        if t.table(4) is not None and t.table(4).vector(2, "f"):  # quantization.scale
            raise ValueError(f"tensor {k} is quantized")
        shape = t.vector(0, "i")
        raw = buffers[t.scalar(2, "I")]
        data = np.frombuffer(raw, TYPES[ttype]).reshape(shape).copy() if raw else None
        tensors.append(Tensor(k, t.bytes(3).decode(), shape, TYPES[ttype], data))
    ops = []
    for o in g.tables(3):
        code = codes[o.scalar(0, "I")]
        if code not in OP_NAMES:
            raise ValueError(f"operator code {code} is not supported by this reader")
        ops.append(Op(OP_NAMES[code], o.vector(1, "i"), o.vector(2, "i"), o.table(4)))
    return tensors, ops, g.vector(1, "i"), g.vector(2, "i")
