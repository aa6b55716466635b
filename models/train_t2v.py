#!/usr/bin/env python3
"""Train aisrc's built-in text-to-video model and write it as a diffusers-layout ONNX folder.

The model is a small video diffusion model trained on a synthetic captioned dataset: one coloured
shape (circle or square) on a dark background, moving left, right, up or down over 8 frames.
Captions such as "a red circle moving right". Some colour x shape x direction combinations are held
out of training (HELD_OUT); the checker measures on those whether the model composes what it has
seen: colour, shape and direction recognised from the generated frames.

It is written in the same folder layout as a diffusers/Optimum ONNX export, so aisrc runs it
through the same code as any other model:

    models/t2v_builtin/model_index.json
    models/t2v_builtin/scheduler/scheduler_config.json   DDIM, linear betas 1e-4..0.02, v-prediction
    models/t2v_builtin/tokenizer/vocab.json, merges.txt  CLIP-style byte-level BPE of our words
    models/t2v_builtin/text_encoder/model.onnx           input_ids [B,77] int64 -> [B,77,32]
    models/t2v_builtin/unet/model.onnx                   sample [B,3,8,24,24], timestep [B] int64,
                                                         encoder_hidden_states [B,77,32] -> out_sample
    models/t2v_builtin/vae_decoder/model.onnx            latent_sample [N,3,h,w] -> sample [N,3,4h,4w]
    models/t2v_builtin/vae_decoder/config.json           scaling_factor 1.0

The "latents" are the pixels themselves at 24x24 (RGB in -1..1): the decoder is a fixed bicubic x4
upsampler, so the clip is 96x96 by default. The UNet factorises space and time: 3x3 convolutions
per frame, 3-tap convolutions across frames, FiLM conditioning from the timestep and from the text,
the text pooled by a learned attention over its 77 token states and summed as a bag of words.

    python3 models/train_t2v.py --minutes 40     # train (resumes from target/t2v_train/ckpt.pt)
    python3 models/train_t2v.py --export-only    # export + evaluate the last checkpoint

The committed model is three runs (models/t2v_builtin.md): --fresh --no-bow --minutes 40, resumed
to 53 minutes; then --finetune-from that checkpoint --minutes 25 --lr 1e-3 --shape-weight 10; then
the same from the second run's checkpoint with --minutes 40.
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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "models", "t2v_builtin")
CKPT_DIR = os.path.join(REPO, "target", "t2v_train")

FRAMES, SIZE, UPSCALE = 8, 24, 4
SPEED = 1.5  # pixels per frame at 24x24: 10.5 pixels over a clip
COLOURS = {
    "red": (0.92, 0.12, 0.10),
    "green": (0.12, 0.80, 0.15),
    "blue": (0.15, 0.30, 0.98),
    "yellow": (0.96, 0.90, 0.12),
}
BACKGROUND = (0.08, 0.08, 0.10)
SHAPES = ["circle", "square"]
DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
# One direction per colour x shape is never shown in training; each direction is held out twice.
HELD_OUT = [
    ("red", "circle", "up"),
    ("red", "square", "left"),
    ("green", "circle", "right"),
    ("green", "square", "down"),
    ("blue", "circle", "left"),
    ("blue", "square", "up"),
    ("yellow", "circle", "down"),
    ("yellow", "square", "right"),
]
TEMPLATES = [
    "a {c} {s} moving {d}",
    "{c} {s} moving {d}",
    "the {c} {s} moving {d}",
    "a {c} {s} moving to the {d}",
    "a {c} {s} going {d}",
]
WORDS = sorted(set(" ".join(TEMPLATES).replace("{c}", "").replace("{s}", "").replace("{d}", "").split())
               | set(COLOURS) | set(SHAPES) | set(DIRECTIONS))
MAX_LEN = 77
T_TRAIN = 1000
BETA0, BETA1 = 1e-4, 0.02
STEPS, GUIDANCE = 25, 2.0  # the defaults aisrc uses for this model (guidance chosen on training prompts)


def combos(held_out):
    out = []
    for c in COLOURS:
        for s in SHAPES:
            for d in DIRECTIONS:
                if ((c, s, d) in HELD_OUT) == held_out:
                    out.append((c, s, d))
    return out


# ---------------------------------------------------------------- tokenizer (CLIP-style BPE)
def bytes_to_unicode():
    """CLIP's reversible byte -> printable-unicode map (the byte-level alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def learn_merges(words):
    """Plain BPE learning over our word list until every word is one token (ties: first seen)."""
    seqs = [list(w[:-1]) + [w[-1] + "</w>"] for w in words]
    merges = []
    while any(len(s) > 1 for s in seqs):
        counts = {}
        for s in seqs:
            for a, b in zip(s, s[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        best = max(counts, key=lambda p: counts[p])
        merges.append(best)
        for i, s in enumerate(seqs):
            j, out = 0, []
            while j < len(s):
                if j + 1 < len(s) and (s[j], s[j + 1]) == best:
                    out.append(s[j] + s[j + 1])
                    j += 2
                else:
                    out.append(s[j])
                    j += 1
            seqs[i] = out
    return merges


def build_tokenizer():
    alphabet = list(bytes_to_unicode().values())
    vocab = alphabet + [a + "</w>" for a in alphabet]
    merges = learn_merges(WORDS)
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {tok: i for i, tok in enumerate(vocab)}, merges


class Tokenizer:
    """The reference the Rust tokenizer is tested against for this vocabulary (whole words only)."""

    def __init__(self):
        self.vocab, merges = build_tokenizer()
        self.word_id = {w: self.vocab[w + "</w>"] for w in WORDS}
        self.bos, self.eos = self.vocab["<|startoftext|>"], self.vocab["<|endoftext|>"]

    def __call__(self, text):
        ids = [self.bos] + [self.word_id[w] for w in text.lower().split()] + [self.eos]
        return ids + [self.eos] * (MAX_LEN - len(ids))


# ---------------------------------------------------------------- data
def render(colour, shape, direction, rng):
    """One clip [3, F, S, S] in -1..1, with analytic anti-aliasing."""
    r = rng.uniform(3.5, 4.5)
    speed = SPEED
    dx, dy = DIRECTIONS[direction]
    travel = speed * (FRAMES - 1)
    along = rng.uniform(r + 0.5, SIZE - r - 0.5 - travel)
    across = rng.uniform(r + 0.5, SIZE - r - 0.5)
    if dx:
        x0 = along if dx > 0 else SIZE - along
        y0 = across
    else:
        y0 = along if dy > 0 else SIZE - along
        x0 = across
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    fg = np.array(COLOURS[colour], np.float32)[:, None, None]
    bg = np.array(BACKGROUND, np.float32)[:, None, None]
    clip = np.empty((3, FRAMES, SIZE, SIZE), np.float32)
    differ = np.empty((FRAMES, SIZE, SIZE), np.float32)
    for f in range(FRAMES):
        cx, cy = x0 + dx * speed * f, y0 + dy * speed * f
        disc = np.clip(0.5 - (np.hypot(xx - cx, yy - cy) - r), 0.0, 1.0)
        box = np.clip(0.5 - (np.maximum(np.abs(xx - cx), np.abs(yy - cy)) - r * 0.9), 0.0, 1.0)
        cover = disc if shape == "circle" else box
        differ[f] = np.abs(disc - box)
        clip[:, f] = bg + (fg - bg) * cover
    render.differ = differ  # where a circle and a square of this clip would differ
    return clip * 2 - 1


def batch(n, rng, tok, drop=0.1):
    train = combos(False)
    clips, ids, differ = [], [], []
    for _ in range(n):
        c, s, d = train[rng.integers(len(train))]
        clips.append(render(c, s, d, rng))
        differ.append(render.differ)
        if rng.random() < drop:
            ids.append(tok(""))
        else:
            t = TEMPLATES[rng.integers(len(TEMPLATES))]
            ids.append(tok(t.format(c=c, s=s, d=d)))
    batch.differ = torch.from_numpy(np.stack(differ))[:, None]
    return torch.from_numpy(np.stack(clips)), torch.tensor(ids, dtype=torch.int64)


# ---------------------------------------------------------------- model
class TextEncoder(nn.Module):
    def __init__(self, vocab, dim=32):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.zeros(MAX_LEN, dim))
        self.mlp = nn.Sequential(nn.Linear(dim, 64), nn.GELU(), nn.Linear(64, dim))
        self.norm = nn.LayerNorm(dim)

    def forward(self, input_ids):
        h = self.emb(input_ids) + 0.1 * self.pos
        return self.norm(h + self.mlp(h))


def timestep_embedding(t, dim=64):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    a = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(a), torch.sin(a)], dim=1)


class Res(nn.Module):
    """GN-SiLU-conv3x3 per frame, FiLM, GN-SiLU-temporal conv, GN-SiLU-conv3x3; 1x1 skip."""

    def __init__(self, cin, cout, emb=128):
        super().__init__()
        self.n1 = nn.GroupNorm(8, cin)
        self.c1 = nn.Conv3d(cin, cout, (1, 3, 3), padding=(0, 1, 1))
        self.film = nn.Linear(emb, 2 * cout)
        self.n2 = nn.GroupNorm(8, cout)
        self.t = nn.Conv3d(cout, cout, (3, 1, 1), padding=(1, 0, 0))
        self.n3 = nn.GroupNorm(8, cout)
        self.c2 = nn.Conv3d(cout, cout, (1, 3, 3), padding=(0, 1, 1))
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, e):
        h = self.c1(F.silu(self.n1(x)))
        scale, shift = self.film(e)[:, :, None, None, None].chunk(2, dim=1)
        h = h * (1 + scale) + shift
        h = h + self.t(F.silu(self.n2(h)))
        h = self.c2(F.silu(self.n3(h)))
        return self.skip(x) + h


class UNet(nn.Module):
    def __init__(self, text_dim=32, ch=(16, 32, 64), heads=4, bow=True):
        super().__init__()
        self.query = nn.Parameter(torch.randn(heads, text_dim) * 0.3)
        self.text = nn.Sequential(nn.Linear(heads * text_dim, 128), nn.SiLU(), nn.Linear(128, 128))
        # A bag of words beside the attention pooling: the sum over the 77 token states of each state
        # minus the last one (padding for any prompt shorter than 77 tokens), so that every word
        # reaches the conditioning. With attention pooling alone the queries settled on the
        # colour and the direction (the words that change most pixels) and none on the shape word,
        # whose pooled feature then differed by 2% between "circle" and "square": the model drew
        # the same blob for both. Its last layer starts at zero, so adding it to a trained model
        # changes nothing until it learns.
        self.bow = nn.Sequential(nn.Linear(text_dim, 128), nn.SiLU(), nn.Linear(128, 128)) if bow else None
        if bow:
            nn.init.zeros_(self.bow[2].weight), nn.init.zeros_(self.bow[2].bias)
        self.time = nn.Sequential(nn.Linear(64, 128), nn.SiLU(), nn.Linear(128, 128))
        a, b, c = ch
        # The input also gets x, y and frame-index coordinate channels (-1..1): convolutions alone
        # hardly know where they are, and a motion is a position that depends on the frame.
        self.inp = nn.Conv3d(3 + 3, a, (1, 3, 3), padding=(0, 1, 1))
        self.d0 = Res(a, a)
        self.down1 = nn.Conv3d(a, a, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.d1 = Res(a, b)
        self.down2 = nn.Conv3d(b, b, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.m1 = Res(b, c)
        self.m2 = Res(c, c)
        self.u1 = Res(c + b, b)
        self.u0 = Res(b + a, a)
        self.out_norm = nn.GroupNorm(8, a)
        self.out = nn.Conv3d(a, 3, (1, 3, 3), padding=(0, 1, 1))

    def forward(self, sample, timestep, encoder_hidden_states):
        ehs = encoder_hidden_states
        att = torch.softmax(torch.einsum("bld,hd->bhl", ehs, self.query) / math.sqrt(ehs.shape[-1]), dim=-1)
        pooled = torch.einsum("bhl,bld->bhd", att, ehs).flatten(1)
        e = self.time(timestep_embedding(timestep)) + self.text(pooled)
        if self.bow is not None:
            e = e + self.bow((ehs - ehs[:, -1:]).sum(1))
        e = F.silu(e)
        b, _, f, h, w = sample.shape
        ramp = lambda n: (torch.arange(n, dtype=sample.dtype) + 0.5) * (2.0 / n) - 1.0  # noqa: E731
        coords = torch.stack(torch.broadcast_tensors(ramp(f)[:, None, None], ramp(h)[None, :, None], ramp(w)[None, None, :]))
        h0 = self.d0(self.inp(torch.cat([sample, coords[None].expand(b, -1, -1, -1, -1)], 1)), e)
        h1 = self.d1(self.down1(h0), e)
        h = self.m2(self.m1(self.down2(h1), e), e)
        h = F.interpolate(h, scale_factor=(1, 2, 2), mode="nearest")
        h = self.u1(torch.cat([h, h1], 1), e)
        h = F.interpolate(h, scale_factor=(1, 2, 2), mode="nearest")
        h = self.u0(torch.cat([h, h0], 1), e)
        return self.out(F.silu(self.out_norm(h)))


class Decoder(nn.Module):
    def forward(self, latent_sample):
        return F.interpolate(latent_sample, scale_factor=UPSCALE, mode="bicubic", align_corners=False)


class Encoder(nn.Module):
    """Image-to-video's way into the latents: the mean of each 4x4 block."""

    def forward(self, sample):
        return F.avg_pool2d(sample, UPSCALE)


# ---------------------------------------------------------------- diffusion
def alphas_cumprod():
    betas = torch.linspace(BETA0, BETA1, T_TRAIN, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0).float()


def ddim_sample(text, unet, ids, steps=STEPS, guidance=GUIDANCE, seed=0, uncond_ids=None):
    """DDIM, eta 0, "leading" spacing with steps_offset 1, v-prediction: the formulas aisrc implements."""
    ac = alphas_cumprod()
    n = ids.shape[0]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, FRAMES, SIZE, SIZE, generator=g)
    cond = text(ids)
    unc = text(uncond_ids.expand(n, -1))
    step = T_TRAIN // steps
    ts = [k * step + 1 for k in range(steps)][::-1]
    for t in ts:
        tt = torch.full((2 * n,), t, dtype=torch.int64)
        v = unet(torch.cat([x, x]), tt, torch.cat([unc, cond]))
        vu, vc = v.chunk(2)
        v = vu + guidance * (vc - vu)
        a_t = ac[t]
        a_p = ac[t - step] if t - step >= 0 else ac[0]
        x0 = a_t.sqrt() * x - (1 - a_t).sqrt() * v
        eps = a_t.sqrt() * v + (1 - a_t).sqrt() * x
        x = a_p.sqrt() * x0 + (1 - a_p).sqrt() * eps
    return x


# ---------------------------------------------------------------- checker
def recognise(frames):
    """frames [F, H, W, 3] in 0..1 -> (colour, shape, direction) or None where unreadable.

    The same rules as the Rust checker (tests/src/t2v_check.rs): foreground = pixels further than
    0.25 from the background colour; colour = nearest palette colour to the foreground's mean; shape
    = how much of its bounding box the foreground fills (circle pi/4, square 1), averaged over
    frames; direction = the larger component of the centroid's motion from first to last frame."""
    bg = np.array(BACKGROUND, np.float32)
    fills, cents, cols = [], [], []
    for fr in frames:
        m = np.linalg.norm(fr - bg, axis=-1) > 0.25
        if m.sum() < 4:
            return None
        ys, xs = np.nonzero(m)
        box = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
        fills.append(m.sum() / box)
        cents.append((xs.mean(), ys.mean()))
        cols.append(fr[m].mean(0))
    mean = np.mean(cols, 0)
    colour = min(COLOURS, key=lambda c: np.linalg.norm(mean - np.array(COLOURS[c])))
    shape = "circle" if np.mean(fills) < 0.9 else "square"
    dx, dy = np.subtract(cents[-1], cents[0])
    if abs(dx) > abs(dy):
        direction = "right" if dx > 0 else "left"
    else:
        direction = "down" if dy > 0 else "up"
    return colour, shape, direction


def evaluate(text, unet, tok, seeds=4, held_out=True):
    combos_ = combos(held_out)
    prompts = [f"a {c} {s} moving {d}" for c, s, d in combos_]
    ids = torch.tensor([tok(p) for p in prompts for _ in range(seeds)])
    unc = torch.tensor([tok("")])
    hits = {"colour": 0, "shape": 0, "direction": 0, "all": 0}
    with torch.no_grad():
        x = ddim_sample(text, unet, ids, seed=1234, uncond_ids=unc)
        up = Decoder()(x.permute(0, 2, 1, 3, 4).reshape(-1, 3, SIZE, SIZE))
        img = (up / 2 + 0.5).clamp(0, 1).reshape(len(ids), FRAMES, 3, SIZE * UPSCALE, SIZE * UPSCALE)
        img = img.permute(0, 1, 3, 4, 2).numpy()
    for i, (c, s, d) in enumerate([cs for cs in combos_ for _ in range(seeds)]):
        got = recognise(img[i])
        ok = got is not None and (got[0] == c, got[1] == s, got[2] == d)
        if ok:
            hits["colour"] += ok[0]
            hits["shape"] += ok[1]
            hits["direction"] += ok[2]
            hits["all"] += all(ok)
    return {k: v / len(ids) for k, v in hits.items()}


# ---------------------------------------------------------------- export
def save_onnx(module, args, names, outputs, path, dynamic):
    import onnx

    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(module, args, path, input_names=names, output_names=outputs, opset_version=17,
                      dynamic_axes=dynamic, dynamo=False)
    m = onnx.load(path)
    m.ir_version = 10
    m.producer_name = "gst-ai/models/train_t2v.py"
    onnx.checker.check_model(m)
    onnx.save(m, path)


def export(text, unet, tok):
    os.makedirs(OUT, exist_ok=True)
    vocab, merges = build_tokenizer()
    os.makedirs(os.path.join(OUT, "tokenizer"), exist_ok=True)
    with open(os.path.join(OUT, "tokenizer", "vocab.json"), "w") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(OUT, "tokenizer", "merges.txt"), "w") as f:
        f.write("#version: gst-ai built-in\n" + "".join(f"{a} {b}\n" for a, b in merges))
    with open(os.path.join(OUT, "tokenizer", "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": MAX_LEN, "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
                   "pad_token": "<|endoftext|>", "do_lower_case": True}, f, indent=1)
    os.makedirs(os.path.join(OUT, "scheduler"), exist_ok=True)
    with open(os.path.join(OUT, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump({"_class_name": "DDIMScheduler", "num_train_timesteps": T_TRAIN, "beta_start": BETA0,
                   "beta_end": BETA1, "beta_schedule": "linear", "prediction_type": "v_prediction",
                   "timestep_spacing": "leading", "steps_offset": 1, "set_alpha_to_one": False,
                   "clip_sample": False}, f, indent=1)
    with open(os.path.join(OUT, "model_index.json"), "w") as f:
        json.dump({"_class_name": "TextToVideoSDPipeline", "_gst_ai": {
            "num_frames": FRAMES, "height": SIZE * UPSCALE, "width": SIZE * UPSCALE,
            "num_inference_steps": STEPS, "guidance_scale": GUIDANCE, "framerate": 8,
            "vocabulary": WORDS},
            "scheduler": ["diffusers", "DDIMScheduler"], "text_encoder": ["onnx", "model.onnx"],
            "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["onnx", "model.onnx"],
            "vae_decoder": ["onnx", "model.onnx"]}, f, indent=1)
    os.makedirs(os.path.join(OUT, "vae_decoder"), exist_ok=True)
    with open(os.path.join(OUT, "vae_decoder", "config.json"), "w") as f:
        json.dump({"_class_name": "AutoencoderKL", "latent_channels": 3, "scaling_factor": 1.0,
                   "_gst_ai": "fixed bicubic x4 upsampler: the latents are 24x24 RGB pixels"}, f, indent=1)
    os.makedirs(os.path.join(OUT, "unet"), exist_ok=True)
    with open(os.path.join(OUT, "unet", "config.json"), "w") as f:
        json.dump({"_class_name": "gst-ai factorised 3-D UNet", "in_channels": 3, "out_channels": 3,
                   "block_out_channels": [16, 32, 64], "sample_size": SIZE, "num_frames": FRAMES}, f, indent=1)
    save_onnx(Encoder(), (torch.randn(1, 3, SIZE * UPSCALE, SIZE * UPSCALE),), ["sample"], ["latent_sample"],
              os.path.join(OUT, "vae_encoder", "model.onnx"),
              {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_sample": {0: "batch", 2: "height", 3: "width"}})
    ids = torch.tensor([tok("a red circle moving right")] * 2)
    save_onnx(text, (ids,), ["input_ids"], ["last_hidden_state"],
              os.path.join(OUT, "text_encoder", "model.onnx"), {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}})
    x = torch.randn(2, 3, FRAMES, SIZE, SIZE)
    t = torch.tensor([500, 500], dtype=torch.int64)
    ehs = text(ids)
    save_onnx(unet, (x, t, ehs), ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
              os.path.join(OUT, "unet", "model.onnx"),
              {"sample": {0: "batch", 2: "frames", 3: "height", 4: "width"}, "timestep": {0: "batch"},
               "encoder_hidden_states": {0: "batch"}, "out_sample": {0: "batch", 2: "frames", 3: "height", 4: "width"}})
    save_onnx(Decoder(), (torch.randn(2, 3, SIZE, SIZE),), ["latent_sample"], ["sample"],
              os.path.join(OUT, "vae_decoder", "model.onnx"),
              {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}})
    # ONNX Runtime against PyTorch on the UNet, the part that matters.
    import onnxruntime as ort

    s = ort.InferenceSession(os.path.join(OUT, "unet", "model.onnx"), providers=["CPUExecutionProvider"])
    got = s.run(None, {"sample": x.numpy(), "timestep": t.numpy(), "encoder_hidden_states": ehs.detach().numpy()})[0]
    ref = unet(x, t, ehs).detach().numpy()
    print(f"unet ORT vs torch max abs {np.abs(got - ref).max():.2e}")


# ---------------------------------------------------------------- training
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=40)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--export-only", action="store_true")
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--shape-weight", type=float, default=0.0)
    ap.add_argument("--eval-every", type=float, default=10, help="minutes between quick held-out checks")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-bow", action="store_true",
                    help="without the bag-of-words branch (the first 53 minutes of the built-in model)")
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    ap.add_argument("--finetune-from", metavar="CKPT",
                    help="start from this checkpoint's EMA weights (parts it lacks keep their initial "
                         "values) with a fresh optimiser and schedule, instead of resuming ckpt.pt")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tok = Tokenizer()
    text, unet = TextEncoder(len(tok.vocab)), UNet(bow=not args.no_bow)
    ema_t, ema_u = TextEncoder(len(tok.vocab)), UNet(bow=not args.no_bow)
    params = list(text.parameters()) + list(unet.parameters())
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=1e-4)
    step, elapsed = 0, 0.0
    os.makedirs(CKPT_DIR, exist_ok=True)
    ckpt = os.path.join(CKPT_DIR, "ckpt.pt")
    if args.finetune_from:
        st = torch.load(args.finetune_from)
        missing = text.load_state_dict(st["ema_t"], strict=False).missing_keys
        missing += unet.load_state_dict(st["ema_u"], strict=False).missing_keys
        ema_t.load_state_dict(text.state_dict()), ema_u.load_state_dict(unet.state_dict())
        print(f"fine-tuning from {args.finetune_from} (step {st['step']}); new: {missing}")
    elif os.path.exists(ckpt) and not args.fresh:
        st = torch.load(ckpt)
        text.load_state_dict(st["text"]), unet.load_state_dict(st["unet"])
        ema_t.load_state_dict(st["ema_t"]), ema_u.load_state_dict(st["ema_u"])
        opt.load_state_dict(st["opt"])
        step, elapsed = st["step"], st["elapsed"]
        print(f"resumed at step {step}, {elapsed / 60:.1f} min")
    else:
        ema_t.load_state_dict(text.state_dict()), ema_u.load_state_dict(unet.state_dict())
    print(f"unet parameters: {sum(p.numel() for p in unet.parameters())}, "
          f"text: {sum(p.numel() for p in text.parameters())}")
    ac = alphas_cumprod()
    rng = np.random.default_rng(step + 1)
    budget = args.minutes * 60
    t0 = time.time() - elapsed
    last_save = last_eval = time.time()
    while not args.export_only and time.time() - t0 < budget:
        x0, ids = batch(args.batch, rng, tok)
        t = torch.randint(0, T_TRAIN, (args.batch,))
        noise = torch.randn_like(x0)
        a = ac[t][:, None, None, None, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        # v-prediction: with eps-prediction the x0 implied at high noise is the model's error
        # divided by sqrt(alpha_bar), which a small model trained briefly never gets small enough.
        v = a.sqrt() * noise - (1 - a).sqrt() * x0
        # --shape-weight: the few pixels where a circle and a square differ (the corners) weigh
        # more; with plain MSE the model learned colour and motion but ignored the shape word.
        w = 1 + args.shape_weight * batch.differ
        loss = (w * (unet(xt, t, text(ids)) - v) ** 2).mean() / w.mean()
        # one-cycle-ish: warm up 200 steps, cosine to 5% over the budget
        frac = min(1.0, (time.time() - t0) / budget)
        lr = args.lr * min(1.0, (step + 1) / 200) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for gr in opt.param_groups:
            gr["lr"] = lr
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, m in ((ema_t, text), (ema_u, unet)):
                for pe, pm in zip(e.parameters(), m.parameters()):
                    pe.mul_(decay).add_(pm, alpha=1 - decay)
        step += 1
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} lr {lr:.2e} {(time.time() - t0) / 60:.1f} min", flush=True)
        if args.eval_every and time.time() - last_eval > args.eval_every * 60:
            last_eval = time.time()
            r = evaluate(ema_t, ema_u, tok, seeds=2, held_out=True)
            print(f"step {step} held-out adherence: " + ", ".join(f"{k} {v:.1%}" for k, v in r.items()), flush=True)
        if time.time() - last_save > 120:
            torch.save({"text": text.state_dict(), "unet": unet.state_dict(), "ema_t": ema_t.state_dict(),
                        "ema_u": ema_u.state_dict(), "opt": opt.state_dict(), "step": step,
                        "elapsed": time.time() - t0}, ckpt)
            last_save = time.time()
    if not args.export_only:
        torch.save({"text": text.state_dict(), "unet": unet.state_dict(), "ema_t": ema_t.state_dict(),
                    "ema_u": ema_u.state_dict(), "opt": opt.state_dict(), "step": step,
                    "elapsed": time.time() - t0}, ckpt)
    ema_t.eval(), ema_u.eval()
    for name, held in () if args.no_eval else (("held-out", True), ("training", False)):
        r = evaluate(ema_t, ema_u, tok, held_out=held)
        print(f"adherence on {name} combinations (PyTorch DDIM {STEPS} steps, guidance {GUIDANCE}): "
              + ", ".join(f"{k} {v:.1%}" for k, v in r.items()), flush=True)
    export(ema_t, ema_u, tok)
    print(f"trained {step} steps, {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
