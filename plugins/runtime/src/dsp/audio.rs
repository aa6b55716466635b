//! Audio features for lip sync: the mel spectrogram Wav2Lip was trained on (MODELS.md), and the
//! window of mel columns that belongs to each video frame. The input is 16 kHz mono f32.
//!
//! Wav2Lip's `audio.py` (hparams: n_fft 800, hop 200, win 800, 80 mels, 55..7600 Hz, pre-emphasis
//! 0.97, ref_level_db 20, min_level_db −100, symmetric normalisation to ±4) through librosa 0.7:
//! pre-emphasis, centred STFT with reflection padding (librosa 0.7's default), magnitude, Slaney
//! mel filters with Slaney area normalisation, `20 log10(max(1e-5, x)) − 20`, then
//! `clip(8 (S + 100) / 100 − 4, −4, 4)`. Checked against librosa by `models/make_mel_golden.py`.

/// Sample rate the features are defined at.
pub const SAMPLE_RATE: u32 = 16_000;
pub const N_FFT: usize = 800;
pub const HOP: usize = 200;
pub const N_MELS: usize = 80;
const F_MIN: f64 = 55.0;
const F_MAX: f64 = 7600.0;
pub const PREEMPHASIS: f32 = 0.97;
/// Mel columns per second (SAMPLE_RATE / HOP).
pub const MEL_FPS: u32 = SAMPLE_RATE / HOP as u32;
/// Mel columns the model sees per video frame.
pub const MEL_STEP: usize = 16;

/// Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
fn hz_to_mel(f: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if f >= min_log_hz { min_log_mel + (f / min_log_hz).ln() / logstep } else { f / f_sp }
}

fn mel_to_hz(m: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if m >= min_log_mel { min_log_hz * (logstep * (m - min_log_mel)).exp() } else { f_sp * m }
}

/// Each mel band's centre frequency and width (Hz): half its triangle's base, the share of the
/// spectrum it stands for (neighbouring triangles overlap by half).
pub fn mel_bands() -> Vec<(f64, f64)> {
    let (lo, hi) = (hz_to_mel(F_MIN), hz_to_mel(F_MAX));
    let edge = |i: usize| mel_to_hz(lo + (hi - lo) * i as f64 / (N_MELS + 1) as f64);
    (0..N_MELS).map(|m| (edge(m + 1), 0.5 * (edge(m + 2) - edge(m)))).collect()
}

/// The mel filter bank, `N_MELS` rows of `N_FFT / 2 + 1` weights (librosa.filters.mel with
/// norm="slaney").
fn mel_filters() -> Vec<Vec<f32>> {
    let bins = N_FFT / 2 + 1;
    let fft_freqs: Vec<f64> = (0..bins).map(|i| i as f64 * SAMPLE_RATE as f64 / N_FFT as f64).collect();
    let (lo, hi) = (hz_to_mel(F_MIN), hz_to_mel(F_MAX));
    let mel_f: Vec<f64> = (0..N_MELS + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (N_MELS + 1) as f64)).collect();
    (0..N_MELS)
        .map(|m| {
            let (f0, f1, f2) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
            let enorm = 2.0 / (f2 - f0);
            fft_freqs
                .iter()
                .map(|&f| {
                    let lower = (f - f0) / (f1 - f0);
                    let upper = (f2 - f) / (f2 - f1);
                    (lower.min(upper).max(0.0) * enorm) as f32
                })
                .collect()
        })
        .collect()
}

/// Computes Wav2Lip mel spectrograms; keeps the filter bank and DFT tables.
pub struct MelSpectrogram {
    filters: Vec<Vec<f32>>,
    window: Vec<f32>,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Default for MelSpectrogram {
    fn default() -> Self {
        Self::new()
    }
}

impl MelSpectrogram {
    pub fn new() -> Self {
        let bins = N_FFT / 2 + 1;
        // Periodic Hann (scipy.signal.get_window("hann", N, fftbins=True)).
        let window = (0..N_FFT)
            .map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32)
            .collect();
        let mut cos = vec![0f32; bins * N_FFT];
        let mut sin = vec![0f32; bins * N_FFT];
        for k in 0..bins {
            for n in 0..N_FFT {
                // Reduce k*n mod N first so the angle stays exact in f64.
                let a = 2.0 * std::f64::consts::PI * ((k * n) % N_FFT) as f64 / N_FFT as f64;
                cos[k * N_FFT + n] = a.cos() as f32;
                sin[k * N_FFT + n] = a.sin() as f32;
            }
        }
        Self { filters: mel_filters(), window, cos, sin }
    }

    /// The normalised mel spectrogram of `samples` (16 kHz mono): `N_MELS` rows of
    /// `1 + samples.len() / HOP` columns, row-major (mel band, then time), values in −4..4.
    /// Empty input gives no columns.
    pub fn compute(&self, samples: &[f32]) -> Vec<f32> {
        if samples.is_empty() {
            return Vec::new();
        }
        let len = samples.len();
        self.columns(|i| reflect(i, len).map_or(0.0, |j| preemphasised(samples, j)), 0, 1 + len / HOP)
    }

    /// Mel columns `first..first + count` of a signal given as `y(i)`: its pre-emphasised
    /// samples at any index, padding included (column `t` is centred on sample `t * HOP`, so it
    /// reads `y(t * HOP - N_FFT / 2 ..)`). Rows of `count` values per mel band. What streaming
    /// callers use: they own the samples and the padding rule.
    pub fn columns(&self, y: impl Fn(isize) -> f32, first: usize, count: usize) -> Vec<f32> {
        let pad = N_FFT / 2;
        let bins = N_FFT / 2 + 1;
        let mut out = vec![0f32; N_MELS * count];
        let mut frame = vec![0f32; N_FFT];
        let mut mag = vec![0f32; bins];
        for t in 0..count {
            let start = ((first + t) * HOP) as isize - pad as isize;
            for (n, v) in frame.iter_mut().enumerate() {
                *v = y(start + n as isize) * self.window[n];
            }
            for (k, m) in mag.iter_mut().enumerate() {
                let (c, s) = (&self.cos[k * N_FFT..(k + 1) * N_FFT], &self.sin[k * N_FFT..(k + 1) * N_FFT]);
                let (mut re, mut im) = (0f64, 0f64);
                for n in 0..N_FFT {
                    re += (frame[n] * c[n]) as f64;
                    im += (frame[n] * s[n]) as f64;
                }
                *m = (re * re + im * im).sqrt() as f32;
            }
            for (b, filt) in self.filters.iter().enumerate() {
                let e: f32 = filt.iter().zip(&mag).map(|(w, m)| w * m).sum();
                let db = 20.0 * e.max(1e-5).log10() - 20.0;
                out[b * count + t] = (8.0 * (db + 100.0) / 100.0 - 4.0).clamp(-4.0, 4.0);
            }
        }
        out
    }
}

/// Sample `i` of `x` after pre-emphasis (scipy.signal.lfilter([1, -k], [1], x): the first sample
/// is kept as it is).
pub fn preemphasised(x: &[f32], i: usize) -> f32 {
    x[i] - if i > 0 { PREEMPHASIS * x[i - 1] } else { 0.0 }
}

/// Index `i` of a signal of `len` samples padded by reflection at both ends (numpy "reflect":
/// no edge repeat; a single sample is repeated). None for an empty signal.
pub fn reflect(i: isize, len: usize) -> Option<usize> {
    match len {
        0 => None,
        1 => Some(0),
        _ => {
            let period = 2 * (len as isize - 1);
            let mut j = i.rem_euclid(period);
            if j >= len as isize {
                j = period - j;
            }
            Some(j as usize)
        }
    }
}

/// The first of the `MEL_STEP` mel columns for video frame `i` at `fps` (frames per second as a
/// fraction), given `columns` mel columns in all: Wav2Lip's `int(80 * i / fps)`, moved back so
/// the window ends at the last column when it would run past it. None when there are fewer
/// columns than one window.
pub fn mel_window_start(i: u64, fps_num: u64, fps_den: u64, columns: usize) -> Option<usize> {
    if columns < MEL_STEP || fps_num == 0 {
        return None;
    }
    let start = (u128::from(MEL_FPS) * u128::from(i) * u128::from(fps_den) / u128::from(fps_num)) as usize;
    Some(start.min(columns - MEL_STEP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_round_trips_and_matches_slaney_points() {
        for f in [0.0, 55.0, 999.0, 1000.0, 4000.0, 7600.0] {
            assert!((mel_to_hz(hz_to_mel(f)) - f).abs() < 1e-9);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn windows_follow_the_frame_rate_and_stop_at_the_end() {
        assert_eq!(mel_window_start(0, 25, 1, 100), Some(0));
        assert_eq!(mel_window_start(5, 25, 1, 100), Some(16)); // 80 * 5 / 25
        assert_eq!(mel_window_start(3, 30000, 1001, 1000), Some(8)); // int(80 * 3 / 29.97) = 8
        assert_eq!(mel_window_start(100, 25, 1, 100), Some(84)); // past the end: the last 16
        assert_eq!(mel_window_start(0, 25, 1, 10), None);
    }

    #[test]
    fn silence_is_the_floor_and_a_tone_lights_its_band() {
        let mel = MelSpectrogram::new();
        let silence = mel.compute(&vec![0.0; 1600]);
        assert_eq!(silence.len(), N_MELS * 9);
        assert!(silence.iter().all(|&v| v == -4.0), "20 log10(1e-5) - 20 = -120 dB clips to -4");
        let tone: Vec<f32> =
            (0..16000).map(|n| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 16000.0).sin()).collect();
        let m = mel.compute(&tone);
        let frames = 81;
        let col = 40;
        let loudest = (0..N_MELS).max_by(|&a, &b| m[a * frames + col].total_cmp(&m[b * frames + col])).unwrap();
        let hz = mel_to_hz(hz_to_mel(F_MIN) + (hz_to_mel(F_MAX) - hz_to_mel(F_MIN)) * (loudest + 1) as f64 / 81.0);
        assert!((hz - 1000.0).abs() < 80.0, "1 kHz tone peaks in the band around {hz} Hz");
    }
}
