#!/usr/bin/env python3
"""SRVGGNetCompact x2 (models/make_srvgg_bench.py, random weights) through a bare ONNX Runtime
session: the GPU check's model benchmark (scripts/gpu-check.sh, docs/gpu.md).

    python3 models/bench_srvgg.py --models DIR --out FILE [--provider cuda|cpu] [--sizes 960x540,1920x1080]

For each input size and precision (fp32, fp16) it times `--frames` runs after a warm-up, two
ways: `host` (numpy in, numpy out: the upload and download in every run) and, on CUDA,
`device` (I/O binding: input and output stay on the GPU). Writes a Markdown table to --out.
With `--provider cuda` a missing CUDA execution provider is an error, never a silent CPU run.
"""

import argparse
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--provider", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--sizes", default="960x540,1920x1080")
    ap.add_argument("--frames", type=int, default=20)
    args = ap.parse_args()
    import onnxruntime as ort

    available = ort.get_available_providers()
    if args.provider == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise SystemExit(f"no CUDAExecutionProvider in onnxruntime {ort.__version__} ({available})")
        providers = [("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"]
    else:
        providers = ["CPUExecutionProvider"]
    rows = [f"onnxruntime {ort.__version__} at {ort.__file__}, providers {available}", "",
            "| model | input | way | ms per frame | frames/s |", "|---|---|---|---:|---:|"]
    for tag, dtype in [("fp32", np.float32), ("fp16", np.float16)]:
        path = f"{args.models}/srvgg_x2_bench_{tag}.onnx"
        sess = ort.InferenceSession(path, providers=providers)
        used = sess.get_providers()[0]
        if args.provider == "cuda" and used != "CUDAExecutionProvider":
            raise SystemExit(f"{path}: the session runs on {used}, not CUDA")
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.split("x"))
            x = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32).astype(dtype)
            ways = {"host": lambda: sess.run(None, {"input": x})}
            if args.provider == "cuda":
                xd = ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0)
                io = sess.io_binding()
                io.bind_ortvalue_input("input", xd)
                io.bind_output("output", "cuda", 0)
                ways["device"] = lambda: sess.run_with_iobinding(io)
            for way, run in ways.items():
                run()
                start = time.perf_counter()
                for _ in range(args.frames):
                    run()
                if way == "device":
                    io.synchronize_outputs()
                ms = (time.perf_counter() - start) * 1000 / args.frames
                rows.append(f"| {tag} | {w}x{h} -> {2 * w}x{2 * h} | {way} | {ms:.2f} | {1000 / ms:.1f} |")
                print(rows[-1], flush=True)
    with open(args.out, "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
