#!/usr/bin/env python3
"""Write a tiny Wav2Lip generator and golden vectors into tests/models/lipsync/.

The network is Wav2Lip's generator (Prajwal et al. 2020, models/wav2lip.py) for
96x96 faces, written here from its description with the real layer structure
(kernel sizes, strides, paddings, residuals, skip connections) but every channel
count divided by WIDTH = 8 (16 -> 2, 32 -> 4, ..., 512 -> 64) and random weights
(torch.manual_seed(0); BatchNorm running statistics calibrated on a random batch
and jittered, so BN is not an identity and the mel really matters), in eval mode.

Card / contract of wav2lip_tiny96.onnx (opset 17, IR 10, batch dimension dynamic):
  input  mel_spectrogram  float32 [B,1,80,16]  Wav2Lip mel window (80 mels x 16 steps)
  input  video_frames     float32 [B,6,96,96]  cat(masked, ref) on channels; each is a
                                               BGR face crop /255 in CHW; masked has
                                               rows 48..95 set to 0 (lower half)
  output output           float32 [B,3,96,96]  sigmoid, BGR, 0..1

Golden files (raw little-endian, no header):
  w2l_frame.u8   160x128 (w x h) RGB8 interleaved frame, synthetic face-like picture
                 (face box x=40 y=16 w=96 h=96: cropping it is an exact pixel copy)
  w2l_mel.f32    1x80x16 float32 mel window, seeded random in [-4, 4], smoothed
  w2l_out.f32    1x3x96x96 float32, the PyTorch output for w2l_mel and the face input
                 built from w2l_frame's box as described above (BGR order)

The script checks the ONNX file against PyTorch with onnxruntime (also at batch 2).

    python3 models/make_wav2lip.py [OUT_DIR]    # default tests/models/lipsync; needs
                                                 # numpy, torch (CPU), onnx, onnxruntime
"""

import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "tests", "models", "lipsync")

WIDTH = 8
OPSET = 17
IR_VERSION = 10  # ONNX Runtime 1.31 reads IR <= 13
FRAME_W, FRAME_H = 160, 128
BOX = (40, 16, 96, 96)  # x, y, w, h
SIZE = 96


def c(n):
    """Scale a Wav2Lip channel count by the width factor."""
    return n // WIDTH


class Conv2d(nn.Module):
    """Wav2Lip's Conv2d block: ReLU(BN(conv(x)) [+ x])."""

    def __init__(self, cin, cout, k, s, p, residual=False):
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, k, s, p), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x):
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return self.act(out)


class Conv2dTranspose(nn.Module):
    """Wav2Lip's Conv2dTranspose block: ReLU(BN(conv_transpose(x)))."""

    def __init__(self, cin, cout, k, s, p, output_padding=0):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, k, s, p, output_padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.conv_block(x))


def res(n):
    return Conv2d(c(n), c(n), 3, 1, 1, residual=True)


class Wav2Lip(nn.Module):
    def __init__(self):
        super().__init__()
        S = nn.Sequential
        self.face_encoder_blocks = nn.ModuleList([
            S(Conv2d(6, c(16), 7, 1, 3)),                                        # 96
            S(Conv2d(c(16), c(32), 3, 2, 1), res(32), res(32)),                  # 48
            S(Conv2d(c(32), c(64), 3, 2, 1), res(64), res(64), res(64)),         # 24
            S(Conv2d(c(64), c(128), 3, 2, 1), res(128), res(128)),               # 12
            S(Conv2d(c(128), c(256), 3, 2, 1), res(256), res(256)),              # 6
            S(Conv2d(c(256), c(512), 3, 2, 1), res(512)),                        # 3
            S(Conv2d(c(512), c(512), 3, 1, 0), Conv2d(c(512), c(512), 1, 1, 0)),  # 1
        ])
        self.audio_encoder = S(                                                   # 80x16
            Conv2d(1, c(32), 3, 1, 1), res(32), res(32),
            Conv2d(c(32), c(64), 3, (3, 1), 1), res(64), res(64),                 # 27x16
            Conv2d(c(64), c(128), 3, 3, 1), res(128), res(128),                   # 9x6
            Conv2d(c(128), c(256), 3, (3, 2), 1), res(256),                       # 3x3
            Conv2d(c(256), c(512), 3, 1, 0), Conv2d(c(512), c(512), 1, 1, 0),     # 1x1
        )
        self.face_decoder_blocks = nn.ModuleList([
            S(Conv2d(c(512), c(512), 1, 1, 0)),                                   # 1
            S(Conv2dTranspose(c(1024), c(512), 3, 1, 0), res(512)),               # 3
            S(Conv2dTranspose(c(1024), c(512), 3, 2, 1, 1), res(512), res(512)),  # 6
            S(Conv2dTranspose(c(768), c(384), 3, 2, 1, 1), res(384), res(384)),   # 12
            S(Conv2dTranspose(c(512), c(256), 3, 2, 1, 1), res(256), res(256)),   # 24
            S(Conv2dTranspose(c(320), c(128), 3, 2, 1, 1), res(128), res(128)),   # 48
            S(Conv2dTranspose(c(160), c(64), 3, 2, 1, 1), res(64), res(64)),      # 96
        ])
        self.output_block = S(
            Conv2d(c(80), c(32), 3, 1, 1), nn.Conv2d(c(32), 3, 1, 1, 0), nn.Sigmoid())

    def forward(self, audio_sequences, face_sequences):
        audio_embedding = self.audio_encoder(audio_sequences)  # B, c(512), 1, 1
        feats = []
        x = face_sequences
        for f in self.face_encoder_blocks:
            x = f(x)
            feats.append(x)
        x = audio_embedding
        for f in self.face_decoder_blocks:
            x = f(x)
            x = torch.cat((x, feats[-1]), dim=1)
            feats.pop()
        return self.output_block(x)


def build_model():
    """Random weights (torch's default init, seed 0) and random but sensible BN statistics.

    With default init and identity BatchNorm the signal dies out along the ~20-layer
    paths, and the output would not depend on the mel at all.  So the running
    statistics are calibrated in one pass over a random batch (each BN's input mean
    and variance, like a training step), then jittered (mean + N(0, 0.1) * std,
    var * U(0.5, 1.5)), so that every input measurably changes the output.
    """
    torch.manual_seed(0)
    model = Wav2Lip().eval()
    gen = torch.Generator().manual_seed(1)

    def calibrate(bn, inputs):
        x = inputs[0]
        var = x.var((0, 2, 3), unbiased=False) + 1e-3
        mean = x.mean((0, 2, 3)) + torch.randn(var.shape, generator=gen) * 0.1 * var.sqrt()
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var * (0.5 + torch.rand(var.shape, generator=gen)))

    hooks = [m.register_forward_pre_hook(calibrate)
             for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    rng = np.random.default_rng(5)
    mel = rng.uniform(-4, 4, (16, 1, 80, 16)).astype(np.float32)
    face = rng.uniform(0, 1, (16, 6, SIZE, SIZE)).astype(np.float32)
    with torch.no_grad():
        model(torch.from_numpy(mel), torch.from_numpy(face))
    for h in hooks:
        h.remove()
    return model


def make_frame():
    """A synthetic face-like RGB8 frame, [H, W, 3]."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    img = np.empty((FRAME_H, FRAME_W, 3), np.float32)
    img[..., 0] = 60 + 120 * xx / FRAME_W          # background gradients
    img[..., 1] = 90 + 80 * yy / FRAME_H
    img[..., 2] = 150 - 60 * (xx + yy) / (FRAME_W + FRAME_H)
    bx, by, bw, bh = BOX
    cx, cy = bx + bw / 2, by + bh / 2
    face = ((xx - cx) / 38) ** 2 + ((yy - cy) / 46) ** 2 <= 1.0   # skin ellipse
    shade = 1.0 - 0.25 * (yy - by) / bh
    img[face] = np.stack([215 * shade, 170 * shade, 140 * shade], -1)[face]
    for ex in (cx - 16, cx + 16):                                  # eyes
        eye = ((xx - ex) / 7) ** 2 + ((yy - (cy - 12)) / 4) ** 2 <= 1.0
        img[eye] = (40, 30, 30)
    mouth = ((xx - cx) / 16) ** 2 + ((yy - (cy + 22)) / 5) ** 2 <= 1.0
    img[mouth] = (150, 40, 50)
    img += rng.normal(0, 8, img.shape)                             # texture
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_mel():
    rng = np.random.default_rng(1)
    m = rng.uniform(-4, 4, (80, 16)).astype(np.float32)
    k = np.array([0.25, 0.5, 0.25], np.float32)                    # 3-tap smoothing
    m = np.apply_along_axis(lambda r: np.convolve(np.pad(r, 1, mode="edge"), k, "valid"), 0, m)
    m = np.apply_along_axis(lambda r: np.convolve(np.pad(r, 1, mode="edge"), k, "valid"), 1, m)
    return np.clip(m, -4, 4).astype(np.float32).reshape(1, 1, 80, 16)


def face_input(frame):
    bx, by, bw, bh = BOX
    crop = frame[by:by + bh, bx:bx + bw]                    # RGB, exactly SIZE x SIZE
    ref = crop[..., ::-1].astype(np.float32) / 255.0        # BGR
    ref = np.ascontiguousarray(ref.transpose(2, 0, 1))      # CHW
    masked = ref.copy()
    masked[:, SIZE // 2:] = 0.0
    return np.concatenate([masked, ref], 0)[None]           # 1, 6, 96, 96


def export(model, path):
    mel = torch.zeros(1, 1, 80, 16)
    face = torch.zeros(1, 6, SIZE, SIZE)
    torch.onnx.export(
        model, (mel, face), path, dynamo=False, opset_version=OPSET,
        input_names=["mel_spectrogram", "video_frames"], output_names=["output"],
        dynamic_axes={"mel_spectrogram": {0: "batch"}, "video_frames": {0: "batch"},
                      "output": {0: "batch"}},
        do_constant_folding=True)
    m = onnx.load(path)
    m.ir_version = IR_VERSION
    m.producer_name = "gst-ai/models"
    m.doc_string = "Wav2Lip generator structure, channels / %d, random weights" % WIDTH
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)


def main():
    os.makedirs(OUT, exist_ok=True)
    model = build_model()
    nparams = sum(p.numel() for p in model.parameters())
    print("parameters: %d" % nparams)

    frame = make_frame()
    mel = make_mel()
    face = face_input(frame)
    with torch.no_grad():
        out = model(torch.from_numpy(mel), torch.from_numpy(face)).numpy()
        moved = model(torch.from_numpy(-mel), torch.from_numpy(face)).numpy()
    print("output: min %.4f max %.4f mean %.4f std %.4f; mean |change| for -mel: %.4f"
          % (out.min(), out.max(), out.mean(), out.std(), np.abs(moved - out).mean()))

    onnx_path = os.path.join(OUT, "wav2lip_tiny96.onnx")
    export(model, onnx_path)
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    got = sess.run(["output"], {"mel_spectrogram": mel, "video_frames": face})[0]
    diff = float(np.abs(got - out).max())
    print("torch vs onnxruntime max abs diff (batch 1): %.3g" % diff)
    assert diff < 1e-4, diff

    rng = np.random.default_rng(2)                      # batch 2 through the dynamic axis
    mel2 = np.concatenate([mel, rng.uniform(-4, 4, mel.shape).astype(np.float32)])
    face2 = np.concatenate([face, rng.uniform(0, 1, face.shape).astype(np.float32)])
    with torch.no_grad():
        ref2 = model(torch.from_numpy(mel2), torch.from_numpy(face2)).numpy()
    got2 = sess.run(["output"], {"mel_spectrogram": mel2, "video_frames": face2})[0]
    diff2 = float(np.abs(got2 - ref2).max())
    print("torch vs onnxruntime max abs diff (batch 2): %.3g" % diff2)
    assert diff2 < 1e-4, diff2

    files = {
        "w2l_frame.u8": frame.tobytes(),
        "w2l_mel.f32": mel.astype("<f4").tobytes(),
        "w2l_out.f32": out.astype("<f4").tobytes(),
    }
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    for name in ["wav2lip_tiny96.onnx", *files]:
        print("%-22s %8d bytes" % (name, os.path.getsize(os.path.join(OUT, name))))


if __name__ == "__main__":
    main()
