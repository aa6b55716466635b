#!/usr/bin/env python3
"""Train gst-ai's built-in super-resolution model and export it to ONNX.

A small SRVGGNetCompact-style network (conv3x3 + PReLU stack, pixel shuffle,
bilinear-upsampled input added as a skip), trained with PyTorch on CPU on the
photographs bundled inside the scikit-image package (no download needed).

    python3 models/train_sr.py                 # x2: models/sr_x2.onnx (+ evaluation)
    python3 models/train_sr.py --scale 4       # x4: models/sr_x4.onnx
    python3 models/train_sr.py --export-only   # export + evaluate the last checkpoint

Checkpoints go to target/sr_train/ every --ckpt-every steps; a run that is cut
off is continued from the last one by simply running the same command again
(add --fresh to start over).

Degradation model: HR -> LR by torch.nn.functional.interpolate(mode="bicubic",
antialias=True, align_corners=False) at 1/scale, then rounding to 8 bits.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvgg_onnx import conv_macs_per_lr_pixel, finish, srvgg_graph  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Images bundled in skimage/data that are real photographs (synthetic test
# charts such as chessboard, color, phantom, logo are not used).
TRAIN_COLOR = ["astronaut.png", "motorcycle_left.png", "motorcycle_right.png",
               "hubble_deep_field.jpg", "ihc.png", "retina.jpg"]
# greyscale photographs, used as R=G=B images (texture and edges)
TRAIN_GRAY = ["camera.png", "brick.png", "grass.png", "gravel.png", "moon.png", "coins.png"]
HELD_OUT = ["chelsea.png", "coffee.png", "rocket.jpg"]  # never trained on


def skimage_data_dir():
    import skimage
    return os.path.join(os.path.dirname(skimage.__file__), "data")


def load_rgb(name):
    """uint8 HxWx3 from skimage/data (greyscale replicated, alpha dropped)."""
    im = Image.open(os.path.join(skimage_data_dir(), name)).convert("RGB")
    return np.asarray(im, dtype=np.uint8)


def to_tensor(a):
    return torch.from_numpy(np.array(a)).permute(2, 0, 1).float().div(255.0)[None]


def quantize(t):
    return t.clamp(0, 1).mul(255.0).round().div(255.0)


def downscale(hr, scale):
    """The degradation used for training and evaluation (8-bit output)."""
    lr = F.interpolate(hr, scale_factor=1.0 / scale, mode="bicubic", antialias=True,
                       align_corners=False)
    return quantize(lr)


class SRNet(nn.Module):
    def __init__(self, feats=32, convs=6, scale=2):
        super().__init__()
        self.scale = scale
        layers = [nn.Conv2d(3, feats, 3, padding=1), nn.PReLU(feats)]
        for _ in range(convs):
            layers += [nn.Conv2d(feats, feats, 3, padding=1), nn.PReLU(feats)]
        layers += [nn.Conv2d(feats, 3 * scale * scale, 3, padding=1)]
        self.body = nn.Sequential(*layers)
        # start as plain bilinear upscaling: the residual branch begins at zero
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)

    def forward(self, x):
        base = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return F.pixel_shuffle(self.body(x), self.scale) + base

    def weights(self):
        """[(conv weight, bias, prelu slope or None)] as numpy, for srvgg_graph()."""
        mods = list(self.body)
        out = []
        for i, m in enumerate(mods):
            if isinstance(m, nn.Conv2d):
                nxt = mods[i + 1] if i + 1 < len(mods) else None
                slope = nxt.weight.detach().numpy().copy() if isinstance(nxt, nn.PReLU) else None
                out.append((m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy(),
                            slope))
        return out


class Patches:
    """Aligned random LR/HR crop pairs from pre-degraded training images.

    Each image is degraded once for every sub-pixel phase (dy, dx) of the LR
    grid, so crops see all scale x scale alignments."""

    def __init__(self, names, scale, gen):
        self.scale, self.gen = scale, gen
        self.items = []  # (hr tensor, {phase: lr tensor}, is_color)
        for name in names:
            a = load_rgb(name)
            hr = to_tensor(a)
            lrs = {}
            for dy in range(scale):
                for dx in range(scale):
                    h = (hr.shape[2] - dy) // scale * scale
                    w = (hr.shape[3] - dx) // scale * scale
                    lrs[(dy, dx)] = downscale(hr[:, :, dy:dy + h, dx:dx + w], scale)
            color = not (np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 1], a[..., 2]))
            self.items.append((hr, lrs, color))

    def randint(self, n):
        return int(torch.randint(n, (1,), generator=self.gen))

    def sample(self, batch, lr_size):
        s = self.scale
        lrs, hrs = [], []
        while len(lrs) < batch:
            hr, phases, color = self.items[self.randint(len(self.items))]
            dy, dx = self.randint(s), self.randint(s)
            lr = phases[(dy, dx)]
            y, x = self.randint(lr.shape[2] - lr_size + 1), self.randint(lr.shape[3] - lr_size + 1)
            lp = lr[0, :, y:y + lr_size, x:x + lr_size]
            hp = hr[0, :, dy + s * y:dy + s * (y + lr_size), dx + s * x:dx + s * (x + lr_size)]
            if hp.std() < 0.02 and self.randint(10) != 0:
                continue  # mostly skip flat crops (black sky of hubble/retina)
            k = self.randint(8)  # the 8 dihedral transforms
            if k & 1:
                lp, hp = lp.flip(2), hp.flip(2)
            if k & 2:
                lp, hp = lp.flip(1), hp.flip(1)
            if k & 4:
                lp, hp = lp.transpose(1, 2), hp.transpose(1, 2)
            if color:  # random channel order: more colour variety from few images
                perm = torch.randperm(3, generator=self.gen)
                lp, hp = lp[perm], hp[perm]
            lrs.append(lp)
            hrs.append(hp)
        return torch.stack(lrs), torch.stack(hrs)


def charbonnier(a, b, eps=1e-3):
    return torch.sqrt((a - b) ** 2 + eps * eps).mean()


def psnr(a, b, border):
    """a, b: uint8 HxWx3. PSNR over RGB, 0..255, `border` pixels cropped."""
    a = a[border:-border, border:-border].astype(np.float64)
    b = b[border:-border, border:-border].astype(np.float64)
    mse = np.mean((a - b) ** 2)
    return 10 * math.log10(255.0 ** 2 / mse)


def to_u8(t):
    return t[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()


def export_onnx(model, path):
    graph = srvgg_graph(model.weights(), model.scale, skip="linear", clip=True,
                        name=f"gst_ai_sr_x{model.scale}")
    doc = (f"gst-ai built-in x{model.scale} super-resolution. input: [1,3,H,W] float32 RGB "
           f"0..1; output: [1,3,{model.scale}H,{model.scale}W] float32 RGB 0..1 (clipped). "
           "Made by models/train_sr.py; see models/sr_x%d.md." % model.scale)
    finish(graph, path, doc)


def evaluate(model, onnx_path, scale, border=4):
    import onnxruntime as ort
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    rows = []
    max_diff = 0.0
    for name in HELD_OUT:
        a = load_rgb(name)
        h, w = a.shape[0] // scale * scale, a.shape[1] // scale * scale
        a = a[:h, :w]
        hr = to_tensor(a)
        lr = downscale(hr, scale)
        out = sess.run(None, {"input": lr.numpy()})[0]
        with torch.no_grad():
            ref = model(lr).clamp(0, 1).numpy()
        max_diff = max(max_diff, float(np.abs(out - ref).max()))
        bic = F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False)
        bil = F.interpolate(lr, scale_factor=scale, mode="bilinear", align_corners=False)
        rows.append((name, f"{w}x{h}",
                     psnr(to_u8(bil), a, border), psnr(to_u8(bic), a, border),
                     psnr(to_u8(torch.from_numpy(out)), a, border)))
    return rows, max_diff


def print_table(rows, scale):
    lines = [f"| held-out image (HR size) | bilinear x{scale} | bicubic x{scale} | model | model - bicubic |",
             "|---|---:|---:|---:|---:|"]
    for name, size, bil, bic, mod in rows:
        lines.append(f"| {name} ({size}) | {bil:.2f} dB | {bic:.2f} dB | {mod:.2f} dB | {mod - bic:+.2f} dB |")
    m = np.mean([r[2:] for r in rows], axis=0)
    lines.append(f"| **mean** | {m[0]:.2f} dB | {m[1]:.2f} dB | {m[2]:.2f} dB | {m[2] - m[1]:+.2f} dB |")
    text = "\n".join(lines)
    print(text)
    return text, m


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--feats", type=int, default=32)
    ap.add_argument("--convs", type=int, default=6, help="body convs between the first and last")
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr-size", type=int, default=None, help="LR crop side (default 48 for x2, 32 for x4)")
    ap.add_argument("--lr", type=float, default=1e-3, help="peak Adam learning rate")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ckpt-every", type=int, default=250)
    ap.add_argument("--work", default=os.path.join(REPO, "target", "sr_train"))
    ap.add_argument("--out", default=None, help="ONNX path (default models/sr_x<scale>.onnx)")
    ap.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    ap.add_argument("--export-only", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    lr_size = args.lr_size or {2: 48, 4: 32}.get(args.scale, 96 // args.scale)
    out = args.out or os.path.join(REPO, "models", f"sr_x{args.scale}.onnx")
    os.makedirs(args.work, exist_ok=True)
    ckpt_path = os.path.join(args.work, f"ckpt_x{args.scale}.pt")

    model = SRNet(args.feats, args.convs, args.scale)
    ema = SRNet(args.feats, args.convs, args.scale)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99))
    gen = torch.Generator().manual_seed(args.seed)
    step, elapsed, loss_log = 0, 0.0, []
    if os.path.exists(ckpt_path) and not args.fresh:
        ck = torch.load(ckpt_path, weights_only=False)
        assert ck["args"]["feats"] == args.feats and ck["args"]["convs"] == args.convs
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        step, elapsed, loss_log = ck["step"], ck["elapsed"], ck["loss_log"]
        print(f"resumed from {ckpt_path} at step {step} ({elapsed / 60:.1f} min so far)")

    if not args.export_only and step < args.steps:
        data = Patches(TRAIN_COLOR + TRAIN_GRAY, args.scale, gen)
        print(f"training on {len(data.items)} images, {args.steps} steps, batch {args.batch}, "
              f"LR crop {lr_size}, {args.threads} thread(s)", flush=True)
        warmup = 200
        t0, run_loss = time.time(), 0.0
        model.train()
        while step < args.steps:
            # linear warm-up then cosine decay to 1% of the peak rate
            f = min(1.0, (step + 1) / warmup) * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
            for g in opt.param_groups:
                g["lr"] = args.lr * f
            lr_b, hr_b = data.sample(args.batch, lr_size)
            loss = charbonnier(model(lr_b), hr_b)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            decay = min(0.999, (1 + step) / (10 + step))
            with torch.no_grad():
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.mul_(decay).add_(pm, alpha=1 - decay)
            run_loss += loss.item()
            if step % 50 == 0:
                loss_log.append((step, run_loss / 50))
                now = time.time()
                print(f"step {step:6d}  loss {run_loss / 50:.5f}  lr {args.lr * f:.2e}  "
                      f"{(now - t0) / 50:.3f} s/step  total {(elapsed + now - t0) / 60:.1f} min",
                      flush=True)
                elapsed += now - t0
                t0, run_loss = now, 0.0
            if step % args.ckpt_every == 0 or step == args.steps:
                tmp = ckpt_path + ".tmp"
                torch.save({"model": model.state_dict(), "ema": ema.state_dict(),
                            "opt": opt.state_dict(), "gen": gen.get_state(), "step": step,
                            "elapsed": elapsed, "loss_log": loss_log, "args": vars(args)}, tmp)
                os.replace(tmp, ckpt_path)

    ema.eval()
    export_onnx(ema, out)
    rows, max_diff = evaluate(ema, out, args.scale)
    print(f"ONNX (onnxruntime) vs PyTorch max abs diff on the held-out images: {max_diff:.2e}")
    assert max_diff < 1e-4, max_diff
    table, mean = print_table(rows, args.scale)
    macs = conv_macs_per_lr_pixel(ema.weights())
    params = sum(p.numel() for p in ema.parameters())
    lr_w, lr_h = (640, 360) if args.scale == 2 else (320, 180)
    summary = {
        "scale": args.scale, "feats": args.feats, "convs": args.convs, "params": params,
        "conv_macs_per_lr_pixel": macs,
        "gflop_per_640x360_input": 2 * macs * 640 * 360 / 1e9,
        "gflop_per_1280x720_output": 2 * macs * lr_w * lr_h / 1e9,
        "steps": step, "batch": args.batch, "lr_size": lr_size, "train_minutes": elapsed / 60,
        "threads": args.threads, "onnx_bytes": os.path.getsize(out), "onnx_vs_torch": max_diff,
        "psnr_rows": rows, "psnr_mean": mean.tolist(), "table": table,
        "torch": torch.__version__,
    }
    with open(os.path.join(args.work, f"summary_x{args.scale}.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k not in ("table", "psnr_rows")}, indent=1))
    if mean[2] <= mean[1]:
        print("WARNING: the model does NOT beat bicubic on the held-out images")
        sys.exit(2)


if __name__ == "__main__":
    main()
