#!/usr/bin/env python3
"""Train gst-ai's built-in styles for aistylize and export them to ONNX.

Each built-in style is a small fully convolutional network that learns to
approximate an artistic image operator, the approach of Chen, Xu and Koltun,
"Fast Image Processing with Fully-Convolutional Networks" (ICCV 2017): a
context-aggregation network (3x3 convolutions with exponentially growing
dilation, so a receptive field of 65 pixels for 7 layers) regressed on pairs
(photograph, operator(photograph)). The operators, written below in numpy:

  pencil   colour-dodge pencil sketch: grey / (1 - blur(1 - grey)), graphite tone
  cartoon  edge-preserving smoothing (bilateral, twice), soft colour quantisation
           and XDoG ink lines
  oil      generalised Kuwahara filter (Papari et al.: 4 sectors weighted by
           their variance), saturation boost

Data: the photographs bundled in scikit-image (as train_sr.py, same held-out
three), at three scales, each also in two colour variants (channels permuted,
saturation scaled), flipped and rotated; half the crops touch an image border
so the borders are learned too. Training runs on CPU.

    python3 models/train_style.py                # all styles: models/style_<name>.onnx + cards' numbers
    python3 models/train_style.py --style pencil
    python3 models/train_style.py --export-only  # export + evaluate the last checkpoints

Checkpoints go to target/style_train/; a run that is cut off continues from the
last checkpoint when the same command is run again (--fresh starts over).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvgg_onnx import finish  # noqa: E402
from train_sr import HELD_OUT, TRAIN_COLOR, TRAIN_GRAY, load_rgb  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STYLES = ["pencil", "cartoon", "oil"]
DILATIONS = [1, 2, 4, 8, 16, 1]  # 3x3 convs; then a 1x1 to RGB
CONTEXT = 1 + sum(DILATIONS)  # receptive-field radius in pixels


# ---------------------------------------------------------------- operators
def luma(img):
    return img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def op_pencil(img):
    """Colour-dodge sketch of the grey image against its blurred negative."""
    g = luma(img)
    blur = ndimage.gaussian_filter(1.0 - g, sigma=5.0, mode="reflect")
    dodge = np.clip(g / np.maximum(1.0 - blur, 1e-3), 0.0, 1.0)
    s = dodge ** 2.2  # darker graphite
    paper = np.array([0.98, 0.96, 0.92], dtype=np.float32)  # warm paper tint for white
    return (s[..., None] * paper).astype(np.float32)


def op_cartoon(img):
    """Bilateral-smoothed soft-quantised colours multiplied by XDoG ink lines."""
    from skimage.restoration import denoise_bilateral

    s = img
    for _ in range(2):
        s = denoise_bilateral(s, sigma_color=0.08, sigma_spatial=3.0, channel_axis=-1).astype(np.float32)
    levels = 6.0
    v = s * levels
    base = np.floor(v)
    frac = v - base
    step = 1.0 / (1.0 + np.exp(-(frac - 0.5) * 12.0))  # soft staircase
    q = np.clip((base + step) / levels, 0.0, 1.0)
    g = luma(img)
    d = ndimage.gaussian_filter(g, 1.0) - 0.98 * ndimage.gaussian_filter(g, 1.6)
    eps, phi = -0.002, 120.0
    ink = np.where(d >= eps, 1.0, 1.0 + np.tanh(phi * (d - eps)))
    return np.clip(q * ink[..., None], 0.0, 1.0).astype(np.float32)


def op_oil(img, r=4, q=6.0):
    """Generalised Kuwahara: mean colour of the 4 (r+1)x(r+1) sectors around a
    pixel, weighted by (variance of their luma)^-q/2, then saturation x1.3."""
    g = luma(img).astype(np.float64)
    size = r + 1
    means, variances = [], []
    # uniform_filter centres the window; shift it so it covers one quadrant.
    for oy in (-r // 2, r // 2):
        for ox in (-r // 2, r // 2):
            def box(a):
                return ndimage.shift(ndimage.uniform_filter(a, size=size, mode="reflect"), (oy, ox),
                                     order=0, mode="nearest")
            m = np.stack([box(img[..., c].astype(np.float64)) for c in range(3)], axis=-1)
            mg = box(g)
            var = np.maximum(box(g * g) - mg * mg, 0.0)
            means.append(m)
            variances.append(var)
    w = [1.0 / (v + 1e-4) ** (q / 2) for v in variances]
    wsum = sum(w)
    out = sum(wi[..., None] * m for wi, m in zip(w, means)) / wsum[..., None]
    grey = luma(out.astype(np.float32))[..., None]
    out = grey + 1.3 * (out - grey)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


OPERATORS = {"pencil": op_pencil, "cartoon": op_cartoon, "oil": op_oil}


# ---------------------------------------------------------------- network
class StyleNet(nn.Module):
    """Context aggregation network: 3x3 convs with dilations DILATIONS, LeakyReLU
    0.2, a 1x1 conv to RGB (added to the input when `skip`), clipped to 0..1."""

    def __init__(self, feats=16, skip=True):
        super().__init__()
        self.skip = skip
        self.convs = nn.ModuleList()
        cin = 3
        for d in DILATIONS:
            self.convs.append(nn.Conv2d(cin, feats, 3, padding=d, dilation=d))
            cin = feats
        self.last = nn.Conv2d(feats, 3, 1)

    def forward(self, x):
        y = x
        for c in self.convs:
            y = F.leaky_relu(c(y), 0.2)
        y = self.last(y)
        return x + y if self.skip else y

    def macs_per_pixel(self):
        return sum(c.weight.numel() for c in self.convs) + self.last.weight.numel()


def export_onnx(net, path, style):
    """Writes the network with onnx.helper: input 'image' 1x3xHxW RGB 0..1 (dynamic), output 'stylized'."""
    inits, nodes = [], []
    x = "image"
    for i, c in enumerate(net.convs):
        d = c.dilation[0]
        wn, bn = f"conv{i}.weight", f"conv{i}.bias"
        inits += [numpy_helper.from_array(c.weight.detach().numpy().astype(np.float32), wn),
                  numpy_helper.from_array(c.bias.detach().numpy().astype(np.float32), bn)]
        nodes.append(helper.make_node("Conv", [x, wn, bn], [f"conv{i}"], name=f"conv{i}", kernel_shape=[3, 3],
                                      pads=[d, d, d, d], dilations=[d, d]))
        nodes.append(helper.make_node("LeakyRelu", [f"conv{i}"], [f"act{i}"], name=f"act{i}", alpha=0.2))
        x = f"act{i}"
    inits += [numpy_helper.from_array(net.last.weight.detach().numpy().astype(np.float32), "last.weight"),
              numpy_helper.from_array(net.last.bias.detach().numpy().astype(np.float32), "last.bias"),
              numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
              numpy_helper.from_array(np.array(1.0, np.float32), "hi")]
    nodes.append(helper.make_node("Conv", [x, "last.weight", "last.bias"], ["residual"], name="last",
                                  kernel_shape=[1, 1]))
    if net.skip:
        nodes.append(helper.make_node("Add", ["image", "residual"], ["sum"], name="skip"))
    nodes.append(helper.make_node("Clip", ["sum" if net.skip else "residual", "lo", "hi"], ["stylized"], name="clip"))
    shape = [1, 3, "height", "width"]
    graph = helper.make_graph(nodes, f"style_{style}",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("stylized", TensorProto.FLOAT, shape)], inits)
    finish(graph, path, doc=f"gst-ai built-in style '{style}' (models/train_style.py); RGB 0..1 NCHW")


# ---------------------------------------------------------------- data
def photos(names):
    out = []
    for n in names:
        img = load_rgb(n).astype(np.float32) / 255.0
        out.append((n, img))
    return out


def scaled(img, s):
    if s == 1.0:
        return img
    t = torch.from_numpy(img).permute(2, 0, 1)[None]
    t = F.interpolate(t, scale_factor=s, mode="bicubic", antialias=True, align_corners=False)
    return t[0].permute(1, 2, 0).clamp(0, 1).numpy().copy()


def build_pairs(style, work):
    """(input, target) full images for training, cached in `work`."""
    cache = os.path.join(work, f"pairs_v2_{style}.npz")
    if os.path.exists(cache):
        z = np.load(cache)
        n = len([k for k in z.files if k.startswith("x")])
        return [(z[f"x{i}"], z[f"y{i}"]) for i in range(n)]
    op = OPERATORS[style]
    pairs = []
    t0 = time.time()
    rng = np.random.default_rng(1)
    for name, img in photos(TRAIN_COLOR + TRAIN_GRAY):
        for s in (1.0, 0.7, 0.5):
            x = scaled(img, s)
            pairs.append((x, op(x)))
            # Colour variants (channels permuted, saturation scaled), so that every hue is seen:
            # the photographs alone have few strong reds, greens or yellows.
            for _ in range(2):
                v = x[..., rng.permutation(3)]
                grey = luma(v)[..., None]
                v = np.clip(grey + rng.uniform(0.7, 1.8) * (v - grey), 0.0, 1.0).astype(np.float32)
                pairs.append((v, op(v)))
    print(f"{style}: {len(pairs)} training pairs made in {time.time() - t0:.0f} s", flush=True)
    np.savez(cache, **{f"x{i}": p[0] for i, p in enumerate(pairs)}, **{f"y{i}": p[1] for i, p in enumerate(pairs)})
    return pairs


def sample(pairs, rng, batch, size):
    """Random crops of size + 2 * CONTEXT with a loss mask: a crop side inside the image gets a
    CONTEXT-wide margin without loss (the network sees no real context there); a side on the
    image's own border is trained, so the network learns the borders (half the crops touch one)."""
    pad = CONTEXT
    full = size + 2 * pad
    xs, ys, ms = [], [], []
    for _ in range(batch):
        x, y = pairs[rng.integers(len(pairs))]
        h, w = x.shape[:2]
        fy, fx = min(full, h), min(full, w)
        oy = rng.integers(h - fy + 1)
        ox = rng.integers(w - fx + 1)
        if rng.integers(2):
            oy = 0 if rng.integers(2) else h - fy
        if rng.integers(2):
            ox = 0 if rng.integers(2) else w - fx
        m = np.zeros((fy, fx), np.float32)
        top = 0 if oy == 0 else pad
        bottom = fy if oy + fy == h else fy - pad
        left = 0 if ox == 0 else pad
        right = fx if ox + fx == w else fx - pad
        m[top:bottom, left:right] = 1.0
        xc, yc = x[oy:oy + fy, ox:ox + fx], y[oy:oy + fy, ox:ox + fx]
        k = rng.integers(4)
        xc, yc, m = np.rot90(xc, k), np.rot90(yc, k), np.rot90(m, k)
        if rng.integers(2):
            xc, yc, m = xc[:, ::-1], yc[:, ::-1], m[:, ::-1]
        xs.append(np.ascontiguousarray(xc))
        ys.append(np.ascontiguousarray(yc))
        ms.append(np.ascontiguousarray(m))
    hh = min(a.shape[0] for a in xs)
    ww = min(a.shape[1] for a in xs)
    xt = torch.from_numpy(np.stack([a[:hh, :ww] for a in xs])).permute(0, 3, 1, 2)
    yt = torch.from_numpy(np.stack([a[:hh, :ww] for a in ys])).permute(0, 3, 1, 2)
    mt = torch.from_numpy(np.stack([a[:hh, :ww] for a in ms]))[:, None]
    return xt, yt, mt


def psnr(a, b):
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(1.0 / max(mse, 1e-12))


def evaluate(style, onnx_path):
    """PSNR (8-bit rounded) of the exported model vs the operator on the held-out photos, read
    through ONNX Runtime so the figure is for the file that ships."""
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    rows = []
    for name, img in photos(HELD_OUT):
        target = OPERATORS[style](img)
        out = sess.run(None, {"image": img.transpose(2, 0, 1)[None].astype(np.float32)})[0][0].transpose(1, 2, 0)
        q = lambda a: np.round(np.clip(a, 0, 1) * 255) / 255  # noqa: E731
        rows.append({"image": name, "psnr_model": round(psnr(q(out), q(target)), 2),
                     "psnr_identity": round(psnr(q(img), q(target)), 2)})
    return rows


DESCRIPTIONS = {
    "pencil": "a graphite pencil sketch on warm paper: the grey image colour-dodged against its blurred "
              "negative (Gaussian sigma 5), gamma 2.2, times the paper tone (0.98, 0.96, 0.92)",
    "cartoon": "flat colours with ink lines: two passes of skimage's bilateral filter (sigma_color 0.08, "
               "sigma_spatial 3), a soft 6-level quantisation of each channel, times XDoG lines (Gaussian "
               "1.0 minus 0.98 x Gaussian 1.6 of the luma, epsilon -0.002, phi 120)",
    "oil": "oil paint: a generalised Kuwahara filter (four 5x5 sectors, each sector's mean colour weighted by "
           "its luma variance to the power -3), then saturation x1.3",
}


def write_card(style, summary):
    rows = "\n".join(f"| {r['image']} | {r['psnr_model']:.2f} | {r['psnr_identity']:.2f} |"
                     for r in summary["held_out"])
    kb = summary["bytes"] / 1024
    text = f"""# Built-in style `{style}` (`models/style_{style}.onnx`)

What it is: a small fully convolutional network trained to approximate an artistic image operator,
{DESCRIPTIONS[style]}. The operator is `op_{style}` in `models/train_style.py`; the network replaces
it with one fixed-cost pass that runs through ONNX Runtime on any frame size.

- Architecture: context-aggregation network (Chen, Xu, Koltun, ICCV 2017): six 3x3 convolutions with
  16 channels and dilations {DILATIONS} (receptive field {2 * sum(DILATIONS) + 1} pixels), LeakyReLU 0.2, a 1x1
  convolution to RGB{" added to the input" if style != "pencil" else ""}, clipped to 0..1.
  Input `image` and output `stylized`: 1x3xHxW RGB 0..1, any H and W.
- Size: {summary["params"]} parameters, {kb:.0f} KiB; {summary["macs_per_pixel"]} multiply-adds per pixel
  ({summary["macs_per_pixel"] * 1280 * 720 / 1e9:.1f} GMAC for a 1280x720 frame).
- Data: the photographs bundled with scikit-image (astronaut, motorcycle left/right, Hubble deep
  field, IHC, retina in colour; camera, brick, grass, gravel, moon, coins in grey), each at scales
  1, 0.7 and 0.5 and in two colour variants (channels permuted, saturation scaled), random crops,
  flips and rotations, half of them touching the image border.
- Training: {summary["steps"]} Adam steps (one-cycle, peak 2e-3), batch 8, L1 loss,
  {summary["train_minutes"]} minutes on one CPU core.

## Fidelity to the operator

PSNR (dB, 8-bit) of the network's output against the operator's output on photographs held out of
training, measured through ONNX Runtime on the committed file; "identity" is the input itself
against the operator's output (how far the operator moves the picture).

| held-out image | network vs operator | identity vs operator |
|---|---|---|
{rows}
| **mean** | **{summary["mean_psnr_model"]:.2f}** | {summary["mean_psnr_identity"]:.2f} |

Limitations: the network smooths what the operator does sharply (hard quantisation steps, single-
pixel lines), so its output is a softer version of the operator's; it was trained on a dozen
photographs, so unusual content (text, graphics) may be rendered less faithfully.

Rerun: `python3 models/train_style.py --style {style}` (checkpoints in `target/style_train/`;
`--export-only` re-exports and re-measures the last one).
"""
    with open(os.path.join(REPO, "models", f"style_{style}.md"), "w") as f:
        f.write(text)


def train(style, args):
    work = args.work
    os.makedirs(work, exist_ok=True)
    out = os.path.join(REPO, "models", f"style_{style}.onnx")
    ckpt_path = os.path.join(work, f"ckpt_{style}.pt")
    torch.manual_seed(args.seed)
    net = StyleNet(args.feats, skip=style != "pencil")  # a sketch keeps nothing of the colours
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.05)
    step, elapsed = 0, 0.0
    if os.path.exists(ckpt_path) and not args.fresh:
        ck = torch.load(ckpt_path, weights_only=False)
        net.load_state_dict(ck["net"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        step, elapsed = ck["step"], ck["elapsed"]
        print(f"{style}: resumed at step {step}", flush=True)
    if not args.export_only and step < args.steps:
        pairs = build_pairs(style, work)
        rng = np.random.default_rng(args.seed + step)
        t0 = time.time() - elapsed
        loss_avg = None
        while step < args.steps:
            x, y, m = sample(pairs, rng, args.batch, args.size)
            pred = net(x)
            loss = ((pred - y).abs() * m).sum() / (3 * m.sum())
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            loss_avg = loss.item() if loss_avg is None else 0.98 * loss_avg + 0.02 * loss.item()
            if step % 100 == 0:
                print(f"{style} step {step}/{args.steps} l1 {loss_avg:.4f} {time.time() - t0:.0f} s", flush=True)
            if step % args.ckpt_every == 0 or step == args.steps:
                tmp = ckpt_path + ".tmp"
                torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                            "step": step, "elapsed": time.time() - t0}, tmp)
                os.replace(tmp, ckpt_path)
        elapsed = time.time() - t0
    net.eval()
    export_onnx(net, out, style)
    rows = evaluate(style, out)
    params = sum(p.numel() for p in net.parameters())
    summary = {"style": style, "params": params, "bytes": os.path.getsize(out),
               "macs_per_pixel": net.macs_per_pixel(), "steps": step, "train_minutes": round(elapsed / 60, 1),
               "held_out": rows,
               "mean_psnr_model": round(float(np.mean([r["psnr_model"] for r in rows])), 2),
               "mean_psnr_identity": round(float(np.mean([r["psnr_identity"] for r in rows])), 2)}
    with open(os.path.join(work, f"summary_{style}.json"), "w") as f:
        json.dump(summary, f, indent=1)
    write_card(style, summary)
    print(json.dumps(summary), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style", choices=STYLES + ["all"], default="all")
    ap.add_argument("--feats", type=int, default=16)
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=96, help="side of the loss window (input adds the context)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ckpt-every", type=int, default=250)
    ap.add_argument("--work", default=os.path.join(REPO, "target", "style_train"))
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--export-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for style in STYLES if args.style == "all" else [args.style]:
        train(style, args)


if __name__ == "__main__":
    main()
