#!/usr/bin/env python3
"""Write tests/models/lipsync/facedet_ultraface_layout.onnx, a fake face detector.

The graph has the inputs and outputs of the UltraFace detector (Linzaer's
Ultra-Light-Fast-Generic-Face-Detector, ONNX model zoo "version-RFB-320"), but instead
of a trained network it "detects" the brightest 40x40 cells, so tests are exact:

  input  input   float32 [1,3,240,320]  RGB, (x - 127) / 128
  output scores  float32 [1,48,2]       softmax over (background, face)
  output boxes   float32 [1,48,4]       x1, y1, x2, y2, normalised 0..1 to 320x240

  b      = AveragePool_40x40,stride40(ReduceMean over channels)   -> 6x8 grid = 48 cells
  scores = Softmax([-4 b, 4 b])          (cells in row-major order over the grid)
  boxes  = constant: each cell's own rectangle grown by half a cell on every side,
           clamped to 0..1 (cell r, c: x 40c-20 .. 40c+60, y 40r-20 .. 40r+60 pixels)

Built directly with onnx.helper (opset 17, IR 10) and checked with onnxruntime on a
black image with a white 40x40 square at cell (2, 5).

    python3 models/make_face_detector.py [OUT_DIR]   # default tests/models/lipsync
"""

import os
import sys

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvgg_onnx import finish  # noqa: E402  (opset 17, ir_version 10, check + save)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "tests", "models", "lipsync")

W, H = 320, 240
CELL = 40
ROWS, COLS = H // CELL, W // CELL  # 6, 8
N = ROWS * COLS                    # 48


def cell_boxes():
    """[1, N, 4] x1, y1, x2, y2 per cell, row-major, normalised and clamped."""
    boxes = np.zeros((1, N, 4), np.float32)
    for r in range(ROWS):
        for c in range(COLS):
            x1, y1 = (c - 0.5) * CELL, (r - 0.5) * CELL
            x2, y2 = (c + 1.5) * CELL, (r + 1.5) * CELL
            boxes[0, r * COLS + c] = np.clip([x1 / W, y1 / H, x2 / W, y2 / H], 0.0, 1.0)
    return boxes


def build():
    inits = [
        numpy_helper.from_array(np.array([1, N, 1], np.int64), "cells_shape"),
        numpy_helper.from_array(np.array([-4.0, 4.0], np.float32), "logit_scale"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["gray"], axes=[1], keepdims=1),
        helper.make_node("AveragePool", ["gray"], ["pooled"],
                         kernel_shape=[CELL, CELL], strides=[CELL, CELL]),   # [1,1,6,8]
        helper.make_node("Reshape", ["pooled", "cells_shape"], ["b"]),       # [1,48,1]
        helper.make_node("Mul", ["b", "logit_scale"], ["logits"]),           # [1,48,2]
        helper.make_node("Softmax", ["logits"], ["scores"], axis=-1),
        helper.make_node("Constant", [], ["boxes"],
                         value=numpy_helper.from_array(cell_boxes(), "boxes_value")),
    ]
    graph = helper.make_graph(
        nodes, "facedet_ultraface_layout",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, H, W])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, N, 2]),
         helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, N, 4])],
        inits,
    )
    return graph


def main():
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "facedet_ultraface_layout.onnx")
    finish(build(), path, doc="UltraFace RFB-320 I/O layout; scores the brightest 40x40 cells")

    img = np.zeros((H, W, 3), np.uint8)
    r, c = 2, 5
    img[r * CELL:(r + 1) * CELL, c * CELL:(c + 1) * CELL] = 255
    x = ((img.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    scores, boxes = sess.run(["scores", "boxes"], {"input": x})
    best = int(np.argmax(scores[0, :, 1]))
    print("scores %s boxes %s" % (scores.shape, boxes.shape))
    print("best index %d (expected %d): face score %.6f, background %.6f, box %s"
          % (best, r * COLS + c, scores[0, best, 1], scores[0, best, 0],
             np.array2string(boxes[0, best], precision=6)))
    print("other cells: max face score %.6f" % np.delete(scores[0, :, 1], best).max())
    assert best == r * COLS + c
    expected = [(c - 0.5) * CELL / W, (r - 0.5) * CELL / H, (c + 1.5) * CELL / W, (r + 1.5) * CELL / H]
    assert np.allclose(boxes[0, best], expected), boxes[0, best]
    print("%s %d bytes" % (os.path.basename(path), os.path.getsize(path)))


if __name__ == "__main__":
    main()
