#!/usr/bin/env python3
"""Golden vectors for ailipsync's audio features (tests/models/lipsync/).

Wav2Lip's mel spectrogram (its audio.py with its hparams) computed with librosa:
pre-emphasis 0.97 (scipy.signal.lfilter), librosa.stft(n_fft=800, hop_length=200,
win_length=800, centred, pad_mode="reflect" - librosa 0.7's default, which Wav2Lip
used; newer librosa pads with zeros unless told), magnitude, librosa.filters.mel
(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600; Slaney scale and norm),
20*log10(max(1e-5, x)) - 20, clip(8*(S+100)/100 - 4, -4, 4).

Input: 1.3 s at 16 kHz of a deterministic signal (a 150->3000 Hz chirp, a
tone burst, noise, silence). Writes mel_in.f32 (samples) and mel_golden.f32
(80 x T, row-major), little-endian float32.

    python3 models/make_mel_golden.py      # needs numpy, scipy, librosa
"""

import os

import librosa
import numpy as np
from scipy import signal

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "tests", "models", "lipsync")
SR = 16000


def wav2lip_mel(wav):
    y = signal.lfilter([1, -0.97], [1], wav)
    d = librosa.stft(y=y, n_fft=800, hop_length=200, win_length=800, pad_mode="reflect")
    basis = librosa.filters.mel(sr=SR, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    s = 20 * np.log10(np.maximum(1e-5, np.dot(basis, np.abs(d)))) - 20
    return np.clip((2 * 4) * ((s + 100) / 100) - 4, -4, 4)


def main():
    os.makedirs(OUT, exist_ok=True)
    t = np.arange(int(1.3 * SR)) / SR
    rng = np.random.default_rng(3)
    x = 0.4 * signal.chirp(t, f0=150, t1=1.3, f1=3000)
    x[8000:12000] += 0.3 * np.sin(2 * np.pi * 440 * t[8000:12000])
    x[12000:16000] = 0.05 * rng.standard_normal(4000)
    x[16000:18000] = 0.0
    x = x.astype(np.float32)
    mel = wav2lip_mel(x.astype(np.float64)).astype(np.float32)
    print(f"librosa {librosa.__version__}: mel {mel.shape}, range {mel.min():.3f}..{mel.max():.3f}")
    x.astype("<f4").tofile(os.path.join(OUT, "mel_in.f32"))
    mel.astype("<f4").tofile(os.path.join(OUT, "mel_golden.f32"))


if __name__ == "__main__":
    main()
