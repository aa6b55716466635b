"""Build an SRVGGNetCompact-style super-resolution graph directly with onnx.helper.

Shared by make_test_models.py, make_srvgg_bench.py and train_sr.py, so that every
SR model in this repository is written the same way, from plain numpy weights:

    conv3x3(3 -> F) -> PReLU
    N x [conv3x3(F -> F) -> PReLU]
    conv3x3(F -> 3*s*s) -> DepthToSpace(s, mode=CRD)       (== torch PixelShuffle)
    + Resize(input, x s)                                    (the skip; nearest or linear)
    [-> Clip(0, 1)]

Resize attributes are chosen to match PyTorch's F.interpolate exactly:
  nearest: coordinate_transformation_mode=asymmetric, nearest_mode=floor
  linear : coordinate_transformation_mode=half_pixel  (== bilinear, align_corners=False)
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 10  # ONNX Runtime 1.31 reads IR <= 13; onnx >= 1.23 would write 14.


def finish(graph, path=None, doc=""):
    """Wrap a graph into a model with our opset / IR version, check it and save it."""
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="gst-ai/models",
        doc_string=doc,
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        onnx.save(model, path)
    return model


def resize_node(inp, out, scale, mode, prefix, inits):
    """Append the scales initializer and return a Resize node (x scale on H and W)."""
    scales_name = f"{prefix}_scales"
    inits.append(numpy_helper.from_array(
        np.array([1.0, 1.0, scale, scale], dtype=np.float32), scales_name))
    if mode == "nearest":
        attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                     nearest_mode="floor")
    elif mode == "linear":
        attrs = dict(mode="linear", coordinate_transformation_mode="half_pixel")
    else:
        raise ValueError(mode)
    return helper.make_node("Resize", [inp, "", scales_name], [out],
                            name=f"{prefix}_resize", **attrs)


def srvgg_graph(weights, scale, skip="nearest", clip=False, dtype=np.float32,
                static_hw=None, name="srvgg"):
    """weights: list of (conv_weight[O,I,3,3], conv_bias[O], prelu_slope[O] or None).

    Every entry but the last must have a PReLU slope; the last conv has none.
    dtype: np.float32 or np.float16 (input, output and all weights).
    static_hw: None for dynamic H, W (dim_param "height"/"width"), or (H, W).
    """
    onnx_type = TensorProto.FLOAT if dtype == np.float32 else TensorProto.FLOAT16
    nodes, inits = [], []
    x = "input"
    for i, (w, b, slope) in enumerate(weights):
        wn, bn = f"conv{i}.weight", f"conv{i}.bias"
        inits.append(numpy_helper.from_array(np.asarray(w, dtype=dtype), wn))
        inits.append(numpy_helper.from_array(np.asarray(b, dtype=dtype), bn))
        y = f"conv{i}_out"
        nodes.append(helper.make_node("Conv", [x, wn, bn], [y], name=f"conv{i}",
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        x = y
        if slope is not None:
            sn = f"prelu{i}.slope"
            inits.append(numpy_helper.from_array(
                np.asarray(slope, dtype=dtype).reshape(-1, 1, 1), sn))
            y = f"prelu{i}_out"
            nodes.append(helper.make_node("PRelu", [x, sn], [y], name=f"prelu{i}"))
            x = y
    assert weights[-1][2] is None, "last conv must not have a PReLU"
    nodes.append(helper.make_node("DepthToSpace", [x], ["shuffled"], name="pixel_shuffle",
                                  blocksize=scale, mode="CRD"))
    nodes.append(resize_node("input", "base", float(scale), skip, "skip", inits))
    last = "output" if not clip else "sum"
    nodes.append(helper.make_node("Add", ["shuffled", "base"], [last], name="add_skip"))
    if clip:
        inits.append(numpy_helper.from_array(np.array(0.0, dtype=dtype), "clip_min"))
        inits.append(numpy_helper.from_array(np.array(1.0, dtype=dtype), "clip_max"))
        nodes.append(helper.make_node("Clip", ["sum", "clip_min", "clip_max"], ["output"],
                                      name="clip"))
    if static_hw is None:
        in_shape = [1, 3, "height", "width"]
        out_shape = [1, 3, f"height*{scale}", f"width*{scale}"]
    else:
        h, w = static_hw
        in_shape = [1, 3, h, w]
        out_shape = [1, 3, h * scale, w * scale]
    return helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("input", onnx_type, in_shape)],
        [helper.make_tensor_value_info("output", onnx_type, out_shape)], inits)


def random_srvgg_weights(rng, feats, num_conv, scale, in_ch=3, out_ch=3, last_gain=0.1):
    """Random weights with a sensible scale (Kaiming-like), PReLU slopes 0.25."""
    weights = []
    cin = in_ch
    for _ in range(num_conv + 1):
        std = np.sqrt(2.0 / (cin * 9))
        weights.append((rng.normal(0, std, (feats, cin, 3, 3)).astype(np.float32),
                        rng.normal(0, 0.01, feats).astype(np.float32),
                        np.full(feats, 0.25, np.float32)))
        cin = feats
    std = np.sqrt(1.0 / (cin * 9)) * last_gain
    weights.append((rng.normal(0, std, (out_ch * scale * scale, cin, 3, 3)).astype(np.float32),
                    np.zeros(out_ch * scale * scale, np.float32), None))
    return weights


def conv_macs_per_lr_pixel(weights):
    """Multiply-accumulates per low-resolution pixel for the convolutions."""
    return sum(int(np.prod(w.shape)) for w, _, _ in weights)
