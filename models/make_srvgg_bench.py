#!/usr/bin/env python3
"""Write full-size SRVGGNetCompact x2 models with random weights, for benchmarks.

Same shape as the published "realesr-animevideov3" network (64 features,
16 body convs, PReLU, pixel shuffle, nearest-upsampled input as skip), but x2
and with random weights: the output is meaningless, the cost is the real one.
Only numpy and onnx are needed (onnxruntime, if installed, checks the files).

    python3 models/make_srvgg_bench.py [OUT_DIR]      (default: target/models/)

writes OUT_DIR/srvgg_x2_bench_fp32.onnx and OUT_DIR/srvgg_x2_bench_fp16.onnx:
input `input` [1,3,H,W], output `output` [1,3,2H,2W] (float32 or float16
throughout, including input and output), dynamic H and W. These files are
generated, not committed.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvgg_onnx import conv_macs_per_lr_pixel, finish, random_srvgg_weights, srvgg_graph  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir", nargs="?", default=os.path.join(REPO, "target", "models"))
    ap.add_argument("--feats", type=int, default=64)
    ap.add_argument("--convs", type=int, default=16)
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    weights = random_srvgg_weights(np.random.default_rng(args.seed), args.feats, args.convs,
                                   args.scale)
    macs = conv_macs_per_lr_pixel(weights)
    paths = {}
    for dtype, tag in [(np.float32, "fp32"), (np.float16, "fp16")]:
        name = f"srvgg_x{args.scale}_bench_{tag}"
        path = os.path.join(args.out_dir, name + ".onnx")
        graph = srvgg_graph(weights, args.scale, skip="nearest", dtype=dtype, name=name)
        finish(graph, path, f"SRVGGNetCompact x{args.scale}, {args.feats} features, "
                            f"{args.convs} body convs, RANDOM weights ({tag}), for benchmarks")
        paths[tag] = path
        print(f"{os.path.getsize(path):9d}  {path}")
    print(f"{macs} MAC per input pixel = {2 * macs * 640 * 360 / 1e9:.1f} GFLOP per 640x360 input")
    verify(paths, args.scale)


def verify(paths, scale):
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not installed: not run")
        return
    x = np.random.default_rng(1).random((1, 3, 20, 31), dtype=np.float32)
    outs = {}
    for tag, path in paths.items():
        feed = x if tag == "fp32" else x.astype(np.float16)
        try:
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception as e:  # an execution provider without the fp16 kernels
            print(f"{tag}: not runnable on this onnxruntime CPU build: {e}")
            continue
        y = sess.run(None, {"input": feed})[0]
        assert y.shape == (1, 3, 20 * scale, 31 * scale) and y.dtype == feed.dtype, y.shape
        assert np.isfinite(y).all()
        outs[tag] = y.astype(np.float32)
    if len(outs) == 2:
        d = np.abs(outs["fp32"] - outs["fp16"]).max()
        print(f"fp16 vs fp32 max abs diff {d:.3e}")
        assert d < 0.05, d
    print(f"verified with onnxruntime {ort.__version__}: {sorted(outs)}")


if __name__ == "__main__":
    main()
