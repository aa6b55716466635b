//! Streaming conversion of interleaved audio of any sample rate and channel count to mono f32 at
//! another rate: what lip sync needs, because its audio features ([`crate::dsp::audio`]) are defined at
//! 16 kHz mono whatever the stream carries.
//!
//! Channels are downmixed to their mean, then the mono signal is resampled by band-limited
//! polyphase filtering with the exact rational ratio L/M = (out/g)/(in/g), g = gcd(in, out). The
//! filter is a Kaiser-windowed sinc (β = 7, about 70 dB of stopband rejection) with its cutoff at
//! 0.95 of the lower rate's Nyquist frequency, so that at 16 kHz everything above 8 kHz is removed
//! before it can alias, and 24 zero crossings of the sinc each side of the centre. The filter for
//! each of the L phases is precomputed (normalised to unit DC gain); for ratios with more than
//! 1024 phases (odd rates), 1024 + 1 are tabulated and the output is interpolated linearly between
//! the two nearest ones.
//!
//! The timing is exact and there is no delay: output sample `n` is the band-limited signal at
//! input time `n * in_rate / out_rate` samples, i.e. `n / out_rate` seconds after the first input
//! sample. Input before the first sample is taken as silence. Because the filter also looks ahead,
//! [`Resampler::push`] returns output sample `n` only once the input that follows its time by
//! [`Resampler::lookahead`] samples has arrived, and [`Resampler::finish`] produces the rest at the
//! end of the stream, taking the missing future as silence. When the two rates are equal nothing
//! is filtered: the output is the downmixed input, sample for sample.

use crate::{Error, Result};

/// Zero crossings of the sinc on each side of the filter's centre.
const ZERO_CROSSINGS: f64 = 24.0;
/// Kaiser window shape: about 70 dB of stopband rejection.
const KAISER_BETA: f64 = 7.0;
/// Cutoff, relative to the lower rate's Nyquist frequency.
const CUTOFF: f64 = 0.95;
/// Phases tabulated at most; ratios with more interpolate between them.
const MAX_PHASES: u64 = 1024;

/// Sample formats accepted (interleaved, little-endian, as GStreamer's S16LE, S32LE, F32LE, F64LE).
/// Integers are scaled so that their minimum maps to −1.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleFormat {
    S16,
    S32,
    F32,
    F64,
}

impl SampleFormat {
    /// The formats by their usual names (GStreamer's raw audio format names), in the order of
    /// preference.
    pub const NAMES: [&'static str; 4] = ["S16LE", "S32LE", "F32LE", "F64LE"];

    /// The format named `name` (one of [`NAMES`](Self::NAMES)).
    pub fn from_name(name: &str) -> Option<Self> {
        let all = [SampleFormat::S16, SampleFormat::S32, SampleFormat::F32, SampleFormat::F64];
        Self::NAMES.iter().position(|&n| n == name).map(|i| all[i])
    }

    /// Bytes in one sample of one channel.
    pub fn bytes(self) -> usize {
        match self {
            SampleFormat::S16 => 2,
            SampleFormat::S32 | SampleFormat::F32 => 4,
            SampleFormat::F64 => 8,
        }
    }
}

/// The polyphase filter bank for one ratio.
struct Filter {
    /// Output samples per `m` input samples (out_rate / gcd).
    l: u64,
    /// Input samples per `l` output samples (in_rate / gcd).
    m: u64,
    /// Half the number of taps: output sample `n` at input time `q + p / l` reads input samples
    /// `q - half + 1 ..= q + half`.
    half: usize,
    /// Phases tabulated: `l` (exact), or `MAX_PHASES` with one more row to interpolate towards.
    phases: u64,
    /// Rows of `2 * half` taps; row `r` is the filter for the fractional input time `r / phases`.
    table: Vec<f32>,
}

impl Filter {
    fn new(in_rate: u32, out_rate: u32) -> Self {
        let g = gcd(in_rate as u64, out_rate as u64);
        let (l, m) = (out_rate as u64 / g, in_rate as u64 / g);
        // Cutoff in cycles per input sample, and the window's half length in input samples.
        let cutoff = CUTOFF * 0.5 * in_rate.min(out_rate) as f64 / in_rate as f64;
        let reach = ZERO_CROSSINGS / (2.0 * cutoff);
        let half = (reach.ceil() as usize).max(1);
        let taps = 2 * half;
        let exact = l <= MAX_PHASES;
        let phases = if exact { l } else { MAX_PHASES };
        let rows = if exact { phases } else { phases + 1 } as usize;
        let i0_beta = bessel_i0(KAISER_BETA);
        let mut table = Vec::with_capacity(rows * taps);
        let mut row = vec![0f64; taps];
        for r in 0..rows {
            let frac = r as f64 / phases as f64;
            for (i, tap) in row.iter_mut().enumerate() {
                // Distance from the output's time to input sample `q - half + 1 + i`.
                let x = frac + (half - 1) as f64 - i as f64;
                let u = x / reach;
                *tap = if u.abs() >= 1.0 {
                    0.0
                } else {
                    let window = bessel_i0(KAISER_BETA * (1.0 - u * u).sqrt()) / i0_beta;
                    2.0 * cutoff * sinc(2.0 * cutoff * x) * window
                };
            }
            let sum: f64 = row.iter().sum();
            table.extend(row.iter().map(|&t| (t / sum) as f32));
        }
        Filter { l, m, half, phases, table }
    }

    fn taps(&self) -> usize {
        2 * self.half
    }

    fn row(&self, r: u64) -> &[f32] {
        let taps = self.taps();
        &self.table[r as usize * taps..(r as usize + 1) * taps]
    }

    /// The output for the fractional input time `p / l` from the `2 * half` input samples around it.
    fn apply(&self, window: &[f32], p: u64) -> f32 {
        if self.phases == self.l {
            return dot(window, self.row(p));
        }
        let scaled = p * self.phases;
        let (r, rem) = (scaled / self.l, scaled % self.l);
        let a = dot(window, self.row(r));
        if rem == 0 {
            return a;
        }
        let b = dot(window, self.row(r + 1));
        a + (b - a) * (rem as f64 / self.l as f64) as f32
    }
}

/// Converts a stream of interleaved audio to mono f32 at another rate, chunk by chunk; see the
/// module documentation for the filter and the timing.
pub struct Resampler {
    format: SampleFormat,
    channels: usize,
    /// None when the rates are equal (no filtering).
    filter: Option<Filter>,
    /// Downmixed input not yet consumed. Entry `j` is input sample `drained + j - (half - 1)`: the
    /// stream starts with `half - 1` samples of silence so the first outputs have their past.
    buf: Vec<f32>,
    /// Entries removed from the front of `buf` so far.
    drained: u64,
    /// Input frames received.
    n_in: u64,
    /// Output samples produced.
    n_out: u64,
    /// The next output's input time, `q + p / l`.
    q: u64,
    p: u64,
}

impl Resampler {
    /// A resampler from `format` audio of `channels` interleaved channels at `in_rate` Hz to mono
    /// at `out_rate` Hz. All three numbers must be positive.
    pub fn new(format: SampleFormat, in_rate: u32, channels: u32, out_rate: u32) -> Result<Self> {
        if in_rate == 0 || out_rate == 0 || channels == 0 {
            return Err(Error::Unsupported(format!(
                "resampler: invalid audio format: {in_rate} Hz, {channels} channels, to {out_rate} Hz \
                 (rates and channels must be positive)"
            )));
        }
        let filter = (in_rate != out_rate).then(|| Filter::new(in_rate, out_rate));
        let mut resampler = Resampler {
            format,
            channels: channels as usize,
            filter,
            buf: Vec::new(),
            drained: 0,
            n_in: 0,
            n_out: 0,
            q: 0,
            p: 0,
        };
        resampler.reset();
        Ok(resampler)
    }

    /// Converts `bytes` (a whole number of frames; a trailing partial frame is an error and
    /// nothing is consumed) and appends the output samples that can be computed so far to `out`.
    /// Channels are downmixed to their mean. Chunk boundaries are seamless: the output does not
    /// depend on how the stream is split into calls.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<f32>) -> Result<()> {
        let frame = self.format.bytes() * self.channels;
        if !bytes.len().is_multiple_of(frame) {
            return Err(Error::Unsupported(format!(
                "resampler: {} bytes is not a whole number of {frame}-byte frames ({:?}, {} channels)",
                bytes.len(),
                self.format,
                self.channels
            )));
        }
        let frames = (bytes.len() / frame) as u64;
        self.n_in += frames;
        if self.filter.is_none() {
            downmix(self.format, self.channels, bytes, out);
            self.n_out += frames;
            return Ok(());
        }
        downmix(self.format, self.channels, bytes, &mut self.buf);
        self.produce(out, self.n_in, u64::MAX);
        Ok(())
    }

    /// Ends the stream: appends the remaining output samples to `out`, taking the input after the
    /// last sample as silence, so that the stream gives `ceil(n_in * out_rate / in_rate)` output
    /// samples in all (those whose time falls within the input). The resampler is then reset,
    /// ready for a new stream.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if let Some(f) = &self.filter {
            let (half, l, m) = (f.half, f.l, f.m);
            let total = (self.n_in as u128 * l as u128).div_ceil(m as u128) as u64;
            self.buf.resize(self.buf.len() + half, 0.0);
            self.produce(out, self.n_in + half as u64, total);
        }
        self.reset();
    }

    /// How many output samples lag behind the input: 0. Output sample `n` is the signal at
    /// `n / out_rate` seconds after the first input sample, whether it comes from `push` or
    /// `finish` (it just comes [`lookahead`](Self::lookahead) input samples late from `push`).
    pub fn delay(&self) -> usize {
        0
    }

    /// How many input samples past an output sample's time `push` needs before it returns that
    /// sample (half the filter's length; 0 when the rates are equal). What a live pipeline adds to
    /// its latency.
    pub fn lookahead(&self) -> usize {
        self.filter.as_ref().map_or(0, |f| f.half)
    }

    /// Forgets the stream (after a flush or a discontinuity): the next input sample is the first.
    pub fn reset(&mut self) {
        self.buf.clear();
        if let Some(f) = &self.filter {
            self.buf.resize(f.half - 1, 0.0);
        }
        (self.drained, self.n_in, self.n_out, self.q, self.p) = (0, 0, 0, 0, 0);
    }

    /// Appends the outputs, up to the `limit`th, whose filter window ends before input sample
    /// `available`, then drops the input no later output needs.
    fn produce(&mut self, out: &mut Vec<f32>, available: u64, limit: u64) {
        let Some(f) = &self.filter else { return };
        let (taps, half) = (f.taps(), f.half as u64);
        let (step_q, step_p) = (f.m / f.l, f.m % f.l);
        while self.n_out < limit && self.q + half < available {
            let start = (self.q - self.drained) as usize;
            out.push(f.apply(&self.buf[start..start + taps], self.p));
            self.n_out += 1;
            self.q += step_q;
            self.p += step_p;
            if self.p >= f.l {
                self.p -= f.l;
                self.q += 1;
            }
        }
        let used = ((self.q - self.drained) as usize).min(self.buf.len());
        self.buf.drain(..used);
        self.drained += used as u64;
    }
}

/// Appends the mean of the channels of each frame of `bytes` to `out`.
fn downmix(format: SampleFormat, channels: usize, bytes: &[u8], out: &mut Vec<f32>) {
    match format {
        SampleFormat::S16 => downmix_as(bytes, channels, out, |b: [u8; 2]| i16::from_le_bytes(b) as f64 / 32768.0),
        SampleFormat::S32 => downmix_as(bytes, channels, out, |b: [u8; 4]| i32::from_le_bytes(b) as f64 / 2147483648.0),
        SampleFormat::F32 => downmix_as(bytes, channels, out, |b: [u8; 4]| f32::from_le_bytes(b) as f64),
        SampleFormat::F64 => downmix_as(bytes, channels, out, f64::from_le_bytes),
    }
}

fn downmix_as<const N: usize>(bytes: &[u8], channels: usize, out: &mut Vec<f32>, sample: impl Fn([u8; N]) -> f64) {
    let read = |s: &[u8]| sample(s.try_into().expect("chunks_exact gives N bytes"));
    out.reserve(bytes.len() / (N * channels));
    if channels == 1 {
        out.extend(bytes.chunks_exact(N).map(|s| read(s) as f32));
    } else {
        out.extend(
            bytes
                .chunks_exact(N * channels)
                .map(|frame| (frame.chunks_exact(N).map(read).sum::<f64>() / channels as f64) as f32),
        );
    }
}

/// Dot product with eight independent partial sums (so it vectorises), in a fixed order.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// sin(πx) / (πx).
fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// The modified Bessel function of the first kind, order 0 (its power series).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, half_x) = (1.0, 1.0, x / 2.0);
    for k in 1..200 {
        term *= half_x / k as f64;
        let t = term * term;
        sum += t;
        if t < sum * 1e-17 {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use super::*;

    const OUT: u32 = 16_000;

    fn f32_bytes(samples: &[f32]) -> Vec<u8> {
        samples.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn s16_bytes(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// The whole stream in one push, then finish.
    fn convert(format: SampleFormat, rate: u32, channels: u32, bytes: &[u8]) -> Vec<f32> {
        let mut r = Resampler::new(format, rate, channels, OUT).unwrap();
        let mut out = Vec::new();
        r.push(bytes, &mut out).unwrap();
        r.finish(&mut out);
        out
    }

    /// `seconds` of interleaved stereo F32 at `rate` whose channel mean is `amp sin(2π freq t)`
    /// (the channels differ by an unrelated tone that the downmix cancels).
    fn stereo_tone(rate: u32, freq: f64, amp: f64, seconds: f64) -> Vec<u8> {
        let n = (rate as f64 * seconds) as usize;
        let mut s = Vec::with_capacity(2 * n);
        for i in 0..n {
            let t = i as f64 / rate as f64;
            let (x, d) = (amp * (2.0 * PI * freq * t).sin(), 0.2 * (2.0 * PI * 3100.0 * t).sin());
            s.extend([(x + d) as f32, (x - d) as f32]);
        }
        f32_bytes(&s)
    }

    fn mono_tone(rate: u32, freq: f64, amp: f64, seconds: f64) -> Vec<f32> {
        let n = (rate as f64 * seconds) as usize;
        (0..n).map(|i| (amp * (2.0 * PI * freq * i as f64 / rate as f64).sin()) as f32).collect()
    }

    /// Largest |out[n] − amp sin(2π freq n / OUT)| over `edge..len − edge`.
    fn max_error(out: &[f32], freq: f64, amp: f64, edge: usize) -> f64 {
        (edge..out.len() - edge)
            .map(|n| (out[n] as f64 - amp * (2.0 * PI * freq * n as f64 / OUT as f64).sin()).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn same_rate_mono_f32_is_an_exact_copy() {
        let x: Vec<f32> = vec![0.0, -0.0, 1.0, -1.0, 0.123_456_79, f32::MIN_POSITIVE, 3.5, -1e-30];
        let out = convert(SampleFormat::F32, OUT, 1, &f32_bytes(&x));
        assert_eq!(
            out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            x.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(Resampler::new(SampleFormat::F32, OUT, 1, OUT).unwrap().lookahead(), 0);
    }

    #[test]
    fn integers_are_scaled_and_channels_averaged() {
        let out = convert(SampleFormat::S16, OUT, 1, &s16_bytes(&[i16::MIN, 16384, 0, i16::MAX]));
        assert_eq!(out, [-1.0, 0.5, 0.0, 32767.0 / 32768.0]);
        let s32: Vec<u8> = [i32::MIN, 1 << 30].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(convert(SampleFormat::S32, OUT, 1, &s32), [-1.0, 0.5]);
        let f64s: Vec<u8> = [0.25f64, -0.75].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(convert(SampleFormat::F64, OUT, 1, &f64s), [0.25, -0.75]);
        // Stereo and 3 channels: the mean of each frame.
        let out = convert(SampleFormat::F32, OUT, 2, &f32_bytes(&[1.0, 0.0, -0.5, 0.25, 0.3, 0.3]));
        assert_eq!(out, [0.5, -0.125, 0.3]);
        let out = convert(SampleFormat::S16, OUT, 3, &s16_bytes(&[16384, 16384, -16384, 3, 3, 3]));
        assert!((out[0] - 1.0 / 6.0).abs() < 1e-7 && (out[1] - 3.0 / 32768.0).abs() < 1e-9, "{out:?}");
    }

    #[test]
    fn downsampled_tone_keeps_its_exact_timing() {
        for rate in [44_100, 48_000, 44_101, 22_050, 96_000] {
            let out = convert(SampleFormat::F32, rate, 2, &stereo_tone(rate, 1000.0, 0.5, 1.0));
            assert_eq!(out.len(), OUT as usize, "{rate} Hz");
            let err = max_error(&out, 1000.0, 0.5, 100);
            assert!(err < 2e-3, "{rate} Hz: max error {err}");
        }
    }

    #[test]
    fn tones_above_the_output_nyquist_are_rejected() {
        let x = mono_tone(48_000, 10_000.0, 0.5, 1.0);
        let out = convert(SampleFormat::F32, 48_000, 1, &f32_bytes(&x));
        let body = &out[100..out.len() - 100];
        let rms = (body.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / body.len() as f64).sqrt();
        let db = 20.0 * (rms / (0.5 / 2f64.sqrt())).log10();
        assert!(db < -40.0, "10 kHz at 48 kHz -> 16 kHz: {db:.1} dB");
    }

    #[test]
    fn upsampled_tone_matches() {
        let x = mono_tone(8000, 500.0, 0.5, 1.0);
        let out = convert(SampleFormat::F32, 8000, 1, &f32_bytes(&x));
        assert_eq!(out.len(), 16_000);
        let err = max_error(&out, 500.0, 0.5, 100);
        assert!(err < 5e-3, "8 kHz -> 16 kHz: max error {err}");
    }

    #[test]
    fn chunking_does_not_change_the_output() {
        let mut lcg = 12345u64;
        let mut next = move || {
            lcg = lcg.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (lcg >> 33) as usize
        };
        let noise: Vec<i16> = (0..2 * 30_000).map(|_| (next() % 20_000) as i16 - 10_000).collect();
        let cases = [
            (SampleFormat::S16, 44_100, 2, s16_bytes(&noise)),
            (SampleFormat::F32, 48_000, 2, stereo_tone(48_000, 1000.0, 0.5, 0.7)),
            (SampleFormat::F32, 44_101, 2, stereo_tone(44_101, 1000.0, 0.5, 0.7)),
            (SampleFormat::S16, 8000, 1, s16_bytes(&noise[..8001])),
            (SampleFormat::S16, 16_000, 3, s16_bytes(&noise[..3 * 5000])),
        ];
        for (format, rate, channels, bytes) in cases {
            let whole = convert(format, rate, channels, &bytes);
            let frame = format.bytes() * channels as usize;
            let n_in = bytes.len() / frame;
            let expected = (n_in as f64 * OUT as f64 / rate as f64).round();
            assert!((whole.len() as f64 - expected).abs() <= 1.0, "{rate} Hz: {} vs {expected}", whole.len());
            let mut r = Resampler::new(format, rate, channels, OUT).unwrap();
            // Twice, to check that finish leaves it ready for a new stream.
            for _ in 0..2 {
                let (mut out, mut at) = (Vec::new(), 0);
                while at < n_in {
                    let frames = (next() % 1500).min(n_in - at);
                    r.push(&bytes[at * frame..(at + frames) * frame], &mut out).unwrap();
                    at += frames;
                }
                r.finish(&mut out);
                assert_eq!(out.len(), whole.len(), "{rate} Hz");
                let diff = out.iter().zip(&whole).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
                assert!(diff <= 1e-6, "{rate} Hz: chunked output differs by {diff}");
            }
        }
    }

    #[test]
    fn reset_forgets_the_stream() {
        let bytes = stereo_tone(44_100, 1000.0, 0.5, 0.1);
        let mut r = Resampler::new(SampleFormat::F32, 44_100, 2, OUT).unwrap();
        let mut out = Vec::new();
        r.push(&bytes[..4000], &mut out).unwrap();
        r.reset();
        out.clear();
        r.push(&bytes, &mut out).unwrap();
        r.finish(&mut out);
        assert_eq!(out, convert(SampleFormat::F32, 44_100, 2, &bytes));
        assert_eq!(r.delay(), 0);
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(Resampler::new(SampleFormat::S16, 0, 2, OUT).is_err());
        assert!(Resampler::new(SampleFormat::S16, 48_000, 0, OUT).is_err());
        assert!(Resampler::new(SampleFormat::S16, 48_000, 2, 0).is_err());
        let mut r = Resampler::new(SampleFormat::S16, 48_000, 2, OUT).unwrap();
        let mut out = Vec::new();
        assert!(r.push(&[0; 6], &mut out).is_err());
        assert!(r.push(&[0; 8], &mut out).is_ok());
        let mut same = Resampler::new(SampleFormat::F32, OUT, 1, OUT).unwrap();
        assert!(same.push(&[0; 3], &mut out).is_err());
    }

    #[test]
    fn ten_seconds_of_48k_stereo_is_fast() {
        let bytes = stereo_tone(48_000, 1000.0, 0.5, 10.0);
        let mut r = Resampler::new(SampleFormat::F32, 48_000, 2, OUT).unwrap();
        let mut out = Vec::new();
        let t = std::time::Instant::now();
        for chunk in bytes.chunks(8 * 1024) {
            r.push(chunk, &mut out).unwrap();
        }
        r.finish(&mut out);
        let elapsed = t.elapsed();
        eprintln!("10 s of 48 kHz stereo -> 16 kHz: {elapsed:?}, {} taps", 2 * r.lookahead());
        assert_eq!(out.len(), 160_000);
    }
}
