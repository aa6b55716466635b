#!/usr/bin/env python3
"""Write the reliability fixtures of gst-ai into tests/models/reliability/ (issue 17).

- nan_x2.onnx: the nearest x2 fixture whose output is sqrt(y - 0.5): NaN wherever the picture
  is darker than mid-grey, so a share of the values is bad (not all of them).
- nan_style.onnx: a same-size (fast-neural-style contract) model, nan_rife.onnx and
  nan_wav2lip.onnx: graphs of RIFE's two-frame and Wav2Lip's 96x96 contracts; their output is
  NaN (every value bad).
- same_x1.onnx: a same-size image model (output = input), which aiupscale must refuse, and
  restore_x1.onnx with restore_x1.json saying "scale": 1, which it must run as a restoration model.

Only numpy and onnx are needed; with onnxruntime installed every fixture is run once to check
that its output holds the non-finite values it is meant to.

Usage:  python3 models/make_reliability_models.py [OUT_DIR]   (default: tests/models/reliability)
"""

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvgg_onnx import finish, resize_node  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(REPO, "tests", "models")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(MODELS, "reliability")


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def nan_x2():
    inits = [numpy_helper.from_array(np.array(0.5, dtype=np.float32), "half")]
    nodes = [
        resize_node("input", "up", 2.0, "nearest", "up", inits),
        helper.make_node("Sub", ["up", "half"], ["centred"]),
        helper.make_node("Sqrt", ["centred"], ["output"]),
    ]
    graph = helper.make_graph(nodes, "nan_x2", [vi("input", [1, 3, "height", "width"])],
                              [vi("output", [1, 3, "height*2", "width*2"])], inits)
    return finish(graph, doc="x2 nearest, then sqrt(y - 0.5): NaN below mid-grey")


def same_size(name, factor=1.0):
    inits = [numpy_helper.from_array(np.array(factor, dtype=np.float32), "one")]
    nodes = [helper.make_node("Mul", ["input", "one"], ["output"])]
    graph = helper.make_graph(nodes, name, [vi("input", [1, 3, "height", "width"])],
                              [vi("output", [1, 3, "height", "width"])], inits)
    return finish(graph, doc="a same-size image model: output = input")


def nan_rife():
    """RIFE's two-frame contract (img0, img1, timestep -> frame), every value NaN."""
    inits = [numpy_helper.from_array(np.array(np.nan, dtype=np.float32), "nan")]
    hw = ["height", "width"]
    nodes = [helper.make_node("Mul", ["img0", "nan"], ["output"])]
    graph = helper.make_graph(nodes, "nan_rife", [vi("img0", [1, 3] + hw), vi("img1", [1, 3] + hw),
                                                 vi("timestep", [1])],
                              [vi("output", [1, 3] + hw)], inits)
    return finish(graph, doc="RIFE's two-frame contract, output NaN")


def nan_wav2lip():
    """Wav2Lip's contract at 96x96 (mel 1x80x16, face 6x96x96 -> face 3x96x96), every value NaN."""
    inits = [numpy_helper.from_array(np.array(np.nan, dtype=np.float32), "nan"),
             numpy_helper.from_array(np.array([0], dtype=np.int64), "c0"),
             numpy_helper.from_array(np.array([3], dtype=np.int64), "c3"),
             numpy_helper.from_array(np.array([1], dtype=np.int64), "axis")]
    nodes = [
        helper.make_node("Slice", ["video_frames", "c0", "c3", "axis"], ["face"]),
        helper.make_node("Mul", ["face", "nan"], ["output"]),
    ]
    graph = helper.make_graph(nodes, "nan_wav2lip", [vi("mel_spectrogram", ["batch", 1, 80, 16]),
                                                    vi("video_frames", ["batch", 6, 96, 96])],
                              [vi("output", ["batch", 3, 96, 96])], inits)
    return finish(graph, doc="Wav2Lip's contract, output NaN")


def check(path, model):
    try:
        import onnxruntime as ort
    except ImportError:
        return
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {}
    for i in s.get_inputs():
        shape = [d if isinstance(d, int) else 32 for d in i.shape]
        dtype = np.int64 if "int64" in i.type else np.float32
        feeds[i.name] = np.random.default_rng(1).random(shape).astype(dtype)
    y = s.run(None, feeds)[0]
    bad = np.count_nonzero(~np.isfinite(y))
    print(f"{os.path.basename(path)}: output {list(y.shape)}, {bad} of {y.size} non-finite")


def main():
    os.makedirs(OUT, exist_ok=True)
    models = {
        "nan_x2.onnx": nan_x2(),
        "nan_style.onnx": same_size("nan_style", np.nan),
        "nan_rife.onnx": nan_rife(),
        "nan_wav2lip.onnx": nan_wav2lip(),
        "same_x1.onnx": same_size("same_x1"),
        "restore_x1.onnx": same_size("restore_x1"),
    }
    for name, model in models.items():
        path = os.path.join(OUT, name)
        onnx.save(model, path)
        check(path, model)
    with open(os.path.join(OUT, "restore_x1.json"), "w") as f:
        json.dump({"scale": 1}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
