#!/usr/bin/env python3
"""Write the tiny ONNX test fixtures of gst-ai into tests/models/.

Every fixture has an exactly known output, so the Rust tests can compare against
values computed by hand (nearest-neighbour replication) or against the stored
golden output (srvgg_x2_tiny_*.bin). Only numpy and onnx are needed; if
onnxruntime is installed (it should be: see requirements.txt) every fixture is
also run and checked at the end. If torch is installed, the srvgg golden output
is additionally cross-checked against a PyTorch implementation.

Usage:  python3 models/make_test_models.py [OUT_DIR]     (default: tests/models)
"""

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvgg_onnx import finish, random_srvgg_weights, resize_node, srvgg_graph  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "tests", "models")

F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def save(graph, name, doc):
    path = os.path.join(OUT, name)
    finish(graph, path, doc)
    return path


def nearest_graph(scale, channels=3, elem=F32, static_hw=None, name="nearest"):
    """input [1,C,H,W] -> Resize nearest x scale -> output [1,C,sH,sW]."""
    inits = []
    node = resize_node("input", "output", float(scale), "nearest", "up", inits)
    if static_hw is None:
        ins = [1, channels, "height", "width"]
        outs = [1, channels, f"height*{scale}", f"width*{scale}"]
    else:
        h, w = static_hw
        ins, outs = [1, channels, h, w], [1, channels, h * scale, w * scale]
    return helper.make_graph([node], name, [vi("input", elem, ins)],
                             [vi("output", elem, outs)], inits)


def nearest_f16_graph():
    """float16 in / out, the Resize itself runs in float16."""
    return nearest_graph(2, elem=F16, name="nearest_x2_f16")


def nearest_nhwc_graph():
    inits = []
    nodes = [
        helper.make_node("Transpose", ["input"], ["nchw"], perm=[0, 3, 1, 2]),
        resize_node("nchw", "up", 2.0, "nearest", "up", inits),
        helper.make_node("Transpose", ["up"], ["output"], perm=[0, 2, 3, 1]),
    ]
    return helper.make_graph(nodes, "nearest_x2_nhwc",
                             [vi("input", F32, [1, "height", "width", 3])],
                             [vi("output", F32, [1, "height*2", "width*2", 3])], inits)


def not_multiple_graph():
    """x1.5: ONNX Runtime gives floor(1.5 H) x floor(1.5 W), not an integer multiple."""
    inits = []
    node = resize_node("input", "output", 1.5, "nearest", "up", inits)
    return helper.make_graph([node], "not_multiple",
                             [vi("input", F32, [1, 3, "height", "width"])],
                             [vi("output", F32, [1, 3, "out_height", "out_width"])], inits)


def two_inputs_graph():
    inits = []
    nodes = [helper.make_node("Add", ["a", "b"], ["sum"]),
             resize_node("sum", "output", 2.0, "nearest", "up", inits)]
    return helper.make_graph(nodes, "two_inputs",
                             [vi("a", F32, [1, 3, "height", "width"]),
                              vi("b", F32, [1, 3, "height", "width"])],
                             [vi("output", F32, [1, 3, "height*2", "width*2"])], inits)


# ---------------------------------------------------------------- srvgg reference

def conv3x3_ref(x, w, b):
    """x [C,H,W] float64, w [O,C,3,3], zero padding 1 -> [O,H,W]."""
    c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    out = np.zeros((w.shape[0], h, wd))
    for dy in range(3):
        for dx in range(3):
            out += np.einsum("oc,chw->ohw", w[:, :, dy, dx], xp[:, dy:dy + h, dx:dx + wd])
    return out + b[:, None, None]


def srvgg_ref(x, weights, scale):
    """Float64 numpy reference of the SRVGG graph (nearest skip, no clip). x [3,H,W]."""
    y = x.astype(np.float64)
    for w, b, slope in weights:
        y = conv3x3_ref(y, w.astype(np.float64), b.astype(np.float64))
        if slope is not None:
            y = np.where(y >= 0, y, y * slope.astype(np.float64)[:, None, None])
    c, h, wd = y.shape
    # PixelShuffle / DepthToSpace CRD: channel c*s*s + i*s + j -> (c, y*s+i, x*s+j)
    y = y.reshape(3, scale, scale, h, wd).transpose(0, 3, 1, 4, 2).reshape(3, h * scale, wd * scale)
    return y + x.repeat(scale, axis=1).repeat(scale, axis=2)


def srvgg_torch(x, weights, scale):
    """Independent PyTorch implementation (only used as a cross-check)."""
    import torch
    import torch.nn.functional as tf
    with torch.no_grad():
        t = torch.from_numpy(x[None].astype(np.float64))
        y = t
        for w, b, slope in weights:
            y = tf.conv2d(y, torch.from_numpy(w.astype(np.float64)),
                          torch.from_numpy(b.astype(np.float64)), padding=1)
            if slope is not None:
                y = tf.prelu(y, torch.from_numpy(slope.astype(np.float64)))
        y = tf.pixel_shuffle(y, scale) + tf.interpolate(t, scale_factor=scale, mode="nearest")
        return y[0].numpy()


def main():
    os.makedirs(OUT, exist_ok=True)
    written = []

    written.append(save(nearest_graph(2, name="nearest_x2"), "nearest_x2.onnx",
                        "NCHW f32 nearest-neighbour x2"))
    written.append(save(nearest_nhwc_graph(), "nearest_x2_nhwc.onnx",
                        "NHWC f32 nearest-neighbour x2"))
    written.append(save(nearest_f16_graph(), "nearest_x2_f16.onnx",
                        "NCHW float16 nearest-neighbour x2"))
    written.append(save(nearest_graph(3, name="nearest_x3"), "nearest_x3.onnx",
                        "NCHW f32 nearest-neighbour x3"))
    written.append(save(nearest_graph(4, name="nearest_x4"), "nearest_x4.onnx",
                        "NCHW f32 nearest-neighbour x4"))
    written.append(save(nearest_graph(2, static_hw=(64, 64), name="nearest_x2_static64"),
                        "nearest_x2_static64.onnx", "static [1,3,64,64] -> [1,3,128,128]"))
    written.append(save(nearest_graph(2, name="nearest_x2_bgr_signed"),
                        "nearest_x2_bgr_signed.onnx",
                        "nearest x2, identical to nearest_x2; comes with a manifest "
                        "declaring BGR channel order and -1..1 range"))
    with open(os.path.join(OUT, "nearest_x2_bgr_signed.json"), "w") as f:
        json.dump({"range": "-1..1", "channel_order": "bgr"}, f)
        f.write("\n")
    written.append(save(nearest_graph(2, channels=1, name="gray_x2"), "gray_x2.onnx",
                        "1-channel nearest x2 (must be rejected)"))
    written.append(save(not_multiple_graph(), "not_multiple.onnx",
                        "nearest x1.5: output is not an integer multiple (must be rejected)"))
    written.append(save(two_inputs_graph(), "two_inputs.onnx",
                        "two inputs a, b (must be rejected)"))

    # SRVGGNetCompact x2, F=8, N=2, random weights from numpy seed 0.
    rng = np.random.default_rng(0)
    weights = random_srvgg_weights(rng, feats=8, num_conv=2, scale=2, last_gain=1.0)
    written.append(save(srvgg_graph(weights, 2, skip="nearest", name="srvgg_x2_tiny"),
                        "srvgg_x2_tiny.onnx",
                        "SRVGGNetCompact x2, 8 features, 2 body convs, random weights (seed 0)"))
    x = np.random.default_rng(1).random((1, 3, 12, 17)).astype(np.float32)
    ref = srvgg_ref(x[0], weights, 2)[None].astype(np.float32)
    x.astype("<f4").tofile(os.path.join(OUT, "srvgg_x2_tiny_in.bin"))
    ref.astype("<f4").tofile(os.path.join(OUT, "srvgg_x2_tiny_out.bin"))
    with open(os.path.join(OUT, "srvgg_x2_tiny.txt"), "w") as f:
        f.write(
            "srvgg_x2_tiny golden I/O (written by models/make_test_models.py)\n"
            "srvgg_x2_tiny_in.bin:  float32 little-endian, NCHW [1, 3, 12, 17], "
            "numpy default_rng(1).random() in 0..1\n"
            "srvgg_x2_tiny_out.bin: float32 little-endian, NCHW [1, 3, 24, 34], the reference "
            "output, computed in float64 by an independent numpy implementation of the "
            "network (not by onnxruntime) and rounded to float32; onnxruntime (CPU) and, "
            "where installed, PyTorch agree with it to < 1e-5.\n"
            "Network: conv3x3 3->8, PReLU, 2 x (conv3x3 8->8, PReLU), conv3x3 8->12, "
            "PixelShuffle(2) (DepthToSpace CRD), + nearest x2 of the input. No clamp.\n")
    written += [os.path.join(OUT, n) for n in
                ("nearest_x2_bgr_signed.json", "srvgg_x2_tiny_in.bin",
                 "srvgg_x2_tiny_out.bin", "srvgg_x2_tiny.txt")]

    verify(weights, x, ref)
    for p in written:
        print(f"{os.path.getsize(p):8d}  {os.path.relpath(p, REPO)}")


def verify(weights, x_tiny, ref_tiny):
    """Load and run every fixture in onnxruntime and check shapes and values."""
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not installed: fixtures were written but NOT run")
        return

    def run(name, feeds):
        m = onnx.load(os.path.join(OUT, name))
        assert m.ir_version == 10, (name, m.ir_version)
        assert m.opset_import[0].version == 17
        s = ort.InferenceSession(os.path.join(OUT, name), providers=["CPUExecutionProvider"])
        return s, s.run(None, feeds)[0]

    rng = np.random.default_rng(2)
    rep = lambda a, s, ax=(2, 3): a.repeat(s, axis=ax[0]).repeat(s, axis=ax[1])  # noqa: E731

    for h, w in [(5, 7), (36, 64), (1, 1)]:
        x = rng.random((1, 3, h, w), dtype=np.float32)
        for name, s in [("nearest_x2.onnx", 2), ("nearest_x3.onnx", 3),
                        ("nearest_x4.onnx", 4), ("nearest_x2_bgr_signed.onnx", 2)]:
            _, y = run(name, {"input": x})
            assert y.shape == (1, 3, h * s, w * s) and np.array_equal(y, rep(x, s)), name
        xh = x.transpose(0, 2, 3, 1).copy()
        _, y = run("nearest_x2_nhwc.onnx", {"input": xh})
        assert y.shape == (1, 2 * h, 2 * w, 3) and np.array_equal(y, rep(xh, 2, (1, 2)))
        x16 = x.astype(np.float16)
        _, y = run("nearest_x2_f16.onnx", {"input": x16})
        assert y.dtype == np.float16 and np.array_equal(y, rep(x16, 2))
        g = x[:, :1].copy()
        _, y = run("gray_x2.onnx", {"input": g})
        assert y.shape == (1, 1, 2 * h, 2 * w) and np.array_equal(y, rep(g, 2))
        s, y = run("two_inputs.onnx", {"a": x, "b": x})
        assert len(s.get_inputs()) == 2 and np.array_equal(y, rep(x + x, 2))
        _, y = run("not_multiple.onnx", {"input": x})
        assert y.shape == (1, 3, (3 * h) // 2, (3 * w) // 2), y.shape

    x64 = rng.random((1, 3, 64, 64), dtype=np.float32)
    s, y = run("nearest_x2_static64.onnx", {"input": x64})
    assert s.get_inputs()[0].shape == [1, 3, 64, 64]
    assert s.get_outputs()[0].shape == [1, 3, 128, 128]
    assert np.array_equal(y, rep(x64, 2))

    s, y = run("srvgg_x2_tiny.onnx", {"input": x_tiny})
    assert s.get_inputs()[0].shape == [1, 3, "height", "width"]
    assert y.shape == (1, 3, 24, 34)
    d = np.abs(y - ref_tiny).max()
    assert d < 1e-5, d
    # the conv branch must matter, otherwise the fixture would not test it
    assert np.abs(ref_tiny - rep(x_tiny, 2)).max() > 0.1
    msg = f"srvgg_x2_tiny: onnxruntime vs reference max abs diff {d:.2e}"
    try:
        yt = srvgg_torch(x_tiny[0], weights, 2)[None]
        dt = np.abs(yt - ref_tiny).max()
        assert dt < 1e-5, dt
        msg += f"; PyTorch vs reference {dt:.2e}"
    except ImportError:
        msg += "; PyTorch not installed, not cross-checked"
    print(msg)
    _, y = run("srvgg_x2_tiny.onnx", {"input": rng.random((1, 3, 33, 20), dtype=np.float32)})
    assert y.shape == (1, 3, 66, 40)
    print(f"all fixtures verified with onnxruntime {ort.__version__}")


if __name__ == "__main__":
    main()
