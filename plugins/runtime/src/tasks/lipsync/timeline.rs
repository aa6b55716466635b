//! The audio timeline of lip sync: the audio pad's samples converted to 16 kHz mono
//! ([`AudioInput`]) and placed by running time in an [`AudioTrack`], the Wav2Lip mel window each
//! video frame hears ([`Window`]), and whether a frame waits for its audio ([`decide`], a pure
//! function of the frame's window and what the audio pad said). All times are running times in
//! nanoseconds; the element converts timestamps to them.

use std::collections::BTreeMap;

use crate::dsp::audio::{HOP, MEL_FPS, MEL_STEP, MelSpectrogram, N_FFT, N_MELS, SAMPLE_RATE, preemphasised, reflect};
use crate::dsp::resample::{Resampler, SampleFormat};
use crate::error::{Error, Result};

const NS: u128 = 1_000_000_000;

/// Samples whose absolute value stays below this (−80 dBFS) are silence: the frame is left as
/// it is.
pub const SILENCE: f32 = 1e-4;

/// Running time (ns) of 16 kHz sample `n` after `origin`.
pub fn sample_time(origin: u64, n: usize) -> u64 {
    origin + (n as u128 * NS / u128::from(SAMPLE_RATE)) as u64
}

/// What a video frame's running time finds in the audio track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// No audio belongs to this frame (before the audio starts, after it ended, or no audio at
    /// all): the frame passes unchanged.
    NoAudio,
    /// The audio the frame needs has not arrived yet.
    Pending,
    /// The frame's `MEL_STEP` mel columns start at column `first` (80 columns per second after
    /// the track's first sample).
    Ready { first: usize },
}

/// The audio of a stream as 16 kHz mono samples placed by running time: sample `n` plays at
/// `origin + n / 16000` s. Gaps in the input are filled with silence, overlaps dropped. Mel
/// columns are computed once and cached; samples no later frame needs are discarded.
#[derive(Default)]
pub struct AudioTrack {
    origin: Option<u64>,
    samples: Vec<f32>,
    /// Absolute index of `samples[0]`.
    offset: usize,
    ended: bool,
    cache: BTreeMap<usize, [f32; N_MELS]>,
}

impl AudioTrack {
    /// Input whose start is this far from where the track ends is placed by its timestamp
    /// (silence inserted or samples dropped); closer, it is taken as continuous.
    const JITTER_NS: u64 = 2_000_000;

    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets everything (flush, seek).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Running time of the first sample, once there is one.
    pub fn origin(&self) -> Option<u64> {
        self.origin
    }

    /// Samples received since the origin (dropped ones included).
    pub fn len(&self) -> usize {
        self.offset + self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Running time just after the last sample.
    pub fn end_time(&self) -> Option<u64> {
        self.origin.map(|o| sample_time(o, self.len()))
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The samples at absolute indices `from..to` (fewer at the end of what has come); None
    /// when `from` was discarded or has not come yet.
    pub fn samples(&self, from: usize, to: usize) -> Option<&[f32]> {
        let to = to.min(self.len());
        (from >= self.offset && from < to).then(|| &self.samples[from - self.offset..to - self.offset])
    }

    /// The first sample still held (absolute index).
    pub fn first_held(&self) -> usize {
        self.offset
    }

    /// Adds 16 kHz mono `samples` whose first plays at running time `start` (ns).
    pub fn push(&mut self, start: u64, samples: &[f32]) {
        if self.ended {
            return;
        }
        let Some(origin) = self.origin else {
            self.origin = Some(start);
            self.samples.extend_from_slice(samples);
            return;
        };
        let end = sample_time(origin, self.len());
        let mut skip = 0;
        if start > end + Self::JITTER_NS {
            let at = (u128::from(start - origin) * u128::from(SAMPLE_RATE) / NS) as usize;
            let gap = at.saturating_sub(self.len());
            self.samples.resize(self.samples.len() + gap, 0.0);
        } else if start + Self::JITTER_NS < end {
            skip = ((u128::from(end - start) * u128::from(SAMPLE_RATE) / NS) as usize).min(samples.len());
        }
        self.samples.extend_from_slice(&samples[skip..]);
    }

    /// The audio stream ended: frames past it get no audio, and the last windows are padded by
    /// reflection as Wav2Lip's centred STFT does.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// Mel columns in the whole track once it ended (`1 + samples / HOP`, librosa's count).
    fn columns_total(&self) -> usize {
        1 + self.len() / HOP
    }

    /// Where the frame at running time `t` (ns) stands. The window starts at Wav2Lip's
    /// `int(80 * t)` (t in seconds after the track's origin), moved back to end at the last
    /// column near the end of the audio; it needs audio up to 212.5 ms after `t`.
    pub fn window(&self, t: u64) -> Window {
        let Some(origin) = self.origin else {
            return if self.ended { Window::NoAudio } else { Window::Pending };
        };
        if t < origin {
            return Window::NoAudio;
        }
        let first = self.column(t).expect("t is at or after the origin");
        if self.ended {
            let total = self.columns_total();
            if first * HOP >= self.len() || total < MEL_STEP {
                return Window::NoAudio;
            }
            return Window::Ready { first: first.min(total - MEL_STEP) };
        }
        if self.len() > Self::last_sample(first) { Window::Ready { first } } else { Window::Pending }
    }

    /// The last sample (absolute index) the window starting at `first` reads.
    fn last_sample(first: usize) -> usize {
        (first + MEL_STEP - 1) * HOP + N_FFT / 2
    }

    /// One past the last sample the window starting at `first` reads: a frame whose window is
    /// [`Ready`](Window::Ready) has every sample before it.
    pub fn window_end(first: usize) -> usize {
        Self::last_sample(first) + 1
    }

    /// Time (ns) after a frame's start that its audio runs to: what the element waits for.
    pub fn lookahead_ns() -> u64 {
        (u128::from(Self::last_sample(0) as u64 + 1) * NS / u128::from(SAMPLE_RATE)) as u64
    }

    /// The largest absolute sample value the window starting at `first` reads.
    pub fn peak(&self, first: usize) -> f32 {
        let lo = (first * HOP).saturating_sub(N_FFT / 2).max(self.offset);
        let hi = (Self::last_sample(first) + 1).min(self.len());
        if lo >= hi {
            return 0.0;
        }
        self.samples[lo - self.offset..hi - self.offset].iter().fold(0f32, |m, &v| m.max(v.abs()))
    }

    /// Pre-emphasised sample at absolute index `i`, reflected at the start and (once ended) at
    /// the end; zero where samples were discarded.
    fn y(&self, i: isize) -> f32 {
        let len = self.len();
        let j = if i < 0 || (self.ended && i >= len as isize) {
            match reflect(i, len) {
                Some(j) => j,
                None => return 0.0,
            }
        } else {
            i as usize
        };
        if j < self.offset || j >= len {
            return 0.0;
        }
        // The sample before the first kept one is gone; pre-emphasis there reads it as zero.
        let x = &self.samples;
        let k = j - self.offset;
        if k == 0 && j > 0 { x[0] } else { preemphasised(x, k) }
    }

    /// The `N_MELS` x `MEL_STEP` window (band-major) starting at column `first`.
    pub fn mel_window(&mut self, mel: &MelSpectrogram, first: usize) -> Vec<f32> {
        for c in first..first + MEL_STEP {
            if !self.cache.contains_key(&c) {
                let col = mel.columns(|i| self.y(i), c, 1);
                let mut v = [0f32; N_MELS];
                v.copy_from_slice(&col);
                self.cache.insert(c, v);
            }
        }
        let mut out = vec![0f32; N_MELS * MEL_STEP];
        for (t, c) in (first..first + MEL_STEP).enumerate() {
            let col = &self.cache[&c];
            for b in 0..N_MELS {
                out[b * MEL_STEP + t] = col[b];
            }
        }
        out
    }

    /// The mel column where the window of a frame at running time `t` (ns) starts, once the
    /// track has an origin and `t` is not before it.
    pub fn column(&self, t: u64) -> Option<usize> {
        let origin = self.origin?;
        // Half a microsecond of slack: timestamps are rounded to nanoseconds.
        (t >= origin).then(|| ((u128::from(t - origin) + 500) * u128::from(MEL_FPS) / NS) as usize)
    }

    /// Drops the samples and cached columns no window starting at `first` or later needs.
    pub fn discard_before(&mut self, first: usize) {
        self.cache = self.cache.split_off(&first);
        // One more sample for pre-emphasis.
        let keep_from = (first * HOP).saturating_sub(N_FFT / 2 + 1);
        if keep_from > self.offset + 4 * SAMPLE_RATE as usize {
            // A frame that passed without its audio may lie beyond what arrived: all of it goes.
            let n = (keep_from - self.offset).min(self.samples.len());
            self.samples.drain(..n);
            self.offset += n;
        }
    }
}

/// Audio that starts this far from where the converted stream ends is a discontinuity: the
/// resampler's tail goes into the track and the buffer starts a new stretch at its own time.
const AUDIO_DISCONT_NS: u64 = 20_000_000;
/// Added to the audio the frames wait for: the resampler's look-ahead at the lowest rates.
const RESAMPLER_SLACK_NS: u64 = 5_000_000;

/// The latency lip sync adds (ns): each frame waits for the audio up to this long after it.
pub fn latency_ns() -> u64 {
    AudioTrack::lookahead_ns() + RESAMPLER_SLACK_NS
}

/// The audio pad's format and its conversion to 16 kHz mono.
pub struct AudioInput {
    rate: u32,
    /// Bytes per interleaved frame (all channels).
    bpf: usize,
    resampler: Resampler,
    /// Running time of the first input sample since the last discontinuity.
    start: Option<u64>,
    in_frames: u64,
    out_samples: u64,
}

impl AudioInput {
    /// Interleaved `format` samples, `channels` of them per frame, at `rate` Hz.
    pub fn new(format: SampleFormat, rate: u32, channels: u32) -> Result<Self> {
        if rate == 0 || channels == 0 {
            return Err(Error::Unsupported(format!("audio of {rate} Hz and {channels} channels")));
        }
        Ok(Self {
            rate,
            bpf: format.bytes() * channels as usize,
            resampler: Resampler::new(format, rate, channels, SAMPLE_RATE)?,
            start: None,
            in_frames: 0,
            out_samples: 0,
        })
    }

    fn restart(&mut self) {
        self.resampler.reset();
        self.start = None;
        self.in_frames = 0;
        self.out_samples = 0;
    }

    /// Running time of the next converted sample.
    fn converted_time(&self) -> u64 {
        sample_time(self.start.unwrap_or(0), self.out_samples as usize)
    }
}

/// What [`decide`] tells the element to do with the next video frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Its audio has not all arrived: wait for more (or for the live deadline).
    Wait,
    /// Animate it for this window.
    Process(Window),
    /// Its audio did not come in time (the live deadline passed, or the audio pad ended while
    /// the track was still open): it passes as a frame without audio.
    GiveUp,
}

/// Whether a frame whose running time found `window` in the track waits: only while its audio
/// is pending, the audio pad has not ended and the live deadline (`timed_out`) has not passed.
pub fn decide(window: Window, audio_eos: bool, timed_out: bool) -> Step {
    match window {
        Window::Pending if !timed_out && !audio_eos => Step::Wait,
        Window::Pending => Step::GiveUp,
        w => Step::Process(w),
    }
}

/// The audio pad's stream on the running-time axis: conversion, track and mel features.
#[derive(Default)]
pub struct Timeline {
    input: Option<AudioInput>,
    track: AudioTrack,
    mel: MelSpectrogram,
    converted: Vec<f32>,
}

impl Timeline {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the audio (flush, seek); the format stays.
    pub fn reset(&mut self) {
        self.track.reset();
        if let Some(a) = self.input.as_mut() {
            a.restart();
        }
    }

    pub fn has_format(&self) -> bool {
        self.input.is_some()
    }

    /// New audio caps: what the old format left in the resampler goes into the track first.
    pub fn set_format(&mut self, input: AudioInput) {
        if self.input.is_some() {
            self.end_stretch();
        }
        self.input = Some(input);
    }

    /// Converts and places one buffer of the audio format's `data` that starts at running time
    /// `rt` (None: right after the previous one). Returns the time the buffer was expected at
    /// when it did not follow the previous one (a discontinuity).
    pub fn push(&mut self, rt: Option<u64>, data: &[u8]) -> Result<Option<u64>> {
        let not_set = || Error::Unsupported("audio before its format".into());
        let a = self.input.as_ref().ok_or_else(not_set)?;
        let mut discont = None;
        if let (Some(rt), Some(start)) = (rt, a.start) {
            let expected = start + (u128::from(a.in_frames) * 1_000_000_000 / u128::from(a.rate)) as u64;
            if rt.abs_diff(expected) > AUDIO_DISCONT_NS {
                discont = Some(expected);
                self.end_stretch();
            }
        }
        let end = self.track.end_time();
        let a = self.input.as_mut().ok_or_else(not_set)?;
        if a.start.is_none() {
            a.start = Some(rt.unwrap_or_else(|| end.unwrap_or(0)));
            a.in_frames = 0;
            a.out_samples = 0;
        }
        self.converted.clear();
        a.resampler.push(data, &mut self.converted)?;
        self.track.push(a.converted_time(), &self.converted);
        a.out_samples += self.converted.len() as u64;
        a.in_frames += (data.len() / a.bpf) as u64;
        Ok(discont)
    }

    /// The resampler's tail goes into the track; the next buffer starts a new stretch at its own
    /// running time.
    fn end_stretch(&mut self) {
        if let Some(a) = self.input.as_mut() {
            self.converted.clear();
            a.resampler.finish(&mut self.converted);
            if a.start.is_some() {
                self.track.push(a.converted_time(), &self.converted);
            }
            a.resampler.reset();
            a.start = None;
        }
    }

    /// The audio pad ended: its tail goes into the track, which is closed (once; the audio stays
    /// ended until a reset).
    pub fn end(&mut self) {
        if self.track.is_ended() {
            return;
        }
        self.end_stretch();
        self.track.end();
    }

    pub fn is_ended(&self) -> bool {
        self.track.is_ended()
    }

    /// What to do with a frame at running time `frame` (None: no time, so no audio of its own).
    /// `audio_eos` is None without an audio pad, else whether that pad has ended.
    pub fn step(&self, frame: Option<u64>, audio_eos: Option<bool>, timed_out: bool) -> Step {
        match (frame, audio_eos) {
            (Some(t), Some(eos)) => decide(self.track.window(t), eos, timed_out),
            _ => Step::Process(Window::NoAudio),
        }
    }

    /// The 16 kHz track.
    pub fn track(&self) -> &AudioTrack {
        &self.track
    }

    /// The first mel column of `window` when it holds sound (not silence).
    pub fn audible(&self, window: Window) -> Option<usize> {
        match window {
            Window::Ready { first } if self.track.peak(first) >= SILENCE => Some(first),
            _ => None,
        }
    }

    /// The `N_MELS` x `MEL_STEP` mel window starting at column `first`.
    pub fn mel_window(&mut self, first: usize) -> Vec<f32> {
        self.track.mel_window(&self.mel, first)
    }

    /// A frame at `window` is done: what no later frame needs is dropped.
    pub fn done(&mut self, window: Window) {
        if let Window::Ready { first } = window {
            self.track.discard_before(first);
        }
    }

    /// A frame at running time `t` passed without its audio (it did not come in time): the audio
    /// before it is dropped all the same, so a live stream whose frames give up does not keep
    /// its audio for ever. The first column no later frame needs, if any.
    pub fn passed(&mut self, t: u64) -> Option<usize> {
        let first = self.track.column(t)?;
        self.track.discard_before(first);
        Some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::voiced;
    use super::*;

    #[test]
    fn frames_that_pass_without_their_audio_still_let_it_go() {
        // A live stream whose frames give up on their audio (it came late) must not keep it:
        // 10 s held, a frame at 8 s passes, what is left starts within its window's reach.
        let mut tl = Timeline::new();
        tl.track.push(0, &vec![0.1f32; 10 * SAMPLE_RATE as usize]);
        assert_eq!(tl.track.first_held(), 0);
        assert_eq!(tl.passed(8_000_000_000), Some(640));
        assert_eq!(tl.track.first_held(), 640 * HOP - N_FFT / 2 - 1);
        assert_eq!(tl.track.window(8_000_000_000), Window::Ready { first: 640 }, "the frame's own window stays");
        // A frame beyond the audio that arrived (it came late): what is held goes, and audio
        // arriving after it still lands at its own time.
        let mut ahead = Timeline::new();
        ahead.track.push(0, &vec![0.1f32; 5 * SAMPLE_RATE as usize]);
        assert_eq!(ahead.passed(9_000_000_000), Some(720));
        assert_eq!(ahead.track.first_held(), 5 * SAMPLE_RATE as usize);
        ahead.track.push(5_000_000_000, &vec![0.2f32; 5 * SAMPLE_RATE as usize]);
        assert_eq!(ahead.track.len(), 10 * SAMPLE_RATE as usize);
        assert_eq!(ahead.track.window(9_000_000_000), Window::Ready { first: 720 });
        // Before the track's origin nothing is dropped.
        let mut late = Timeline::new();
        late.track.push(5_000_000_000, &[0.0; 1600]);
        assert_eq!(late.passed(1_000_000_000), None);
    }

    #[test]
    fn streamed_windows_equal_the_whole_spectrogram() {
        let mel = MelSpectrogram::new();
        let x: Vec<f32> = (0..16000).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
        let whole = mel.compute(&x);
        let cols = 1 + x.len() / HOP;
        let mut track = AudioTrack::new();
        for (k, chunk) in x.chunks(333).enumerate() {
            track.push(1_000_000_000 + sample_time(0, k * 333), chunk);
        }
        // Frame 5 at 25 fps, one second after the origin is 0: window 16, mid-stream.
        let t = 1_000_000_000 + 200_000_000;
        assert_eq!(track.window(t), Window::Ready { first: 16 });
        let w = track.mel_window(&mel, 16);
        for b in 0..N_MELS {
            for i in 0..MEL_STEP {
                let d = (w[b * MEL_STEP + i] - whole[b * cols + 16 + i]).abs();
                assert!(d < 1e-4, "band {b} column {i}: {d}");
            }
        }
        // The first window reads the reflection at the start, as librosa's padding does.
        let w0 = track.mel_window(&mel, 0);
        assert!((w0[0] - whole[0]).abs() < 1e-4);
        // The last window before the end is pending until the audio ends, then reflected.
        assert_eq!(track.window(1_000_000_000 + 900_000_000), Window::Pending);
        track.end();
        let Window::Ready { first } = track.window(1_000_000_000 + 900_000_000) else { panic!("ready after end") };
        assert_eq!(first, cols - MEL_STEP);
        let w = track.mel_window(&mel, first);
        for b in 0..N_MELS {
            let d = (w[b * MEL_STEP + MEL_STEP - 1] - whole[b * cols + cols - 1]).abs();
            assert!(d < 1e-4, "last column, band {b}: {d}");
        }
        assert_eq!(track.window(2_000_000_000), Window::NoAudio, "after the audio");
        assert_eq!(track.window(500_000_000), Window::NoAudio, "before the audio");
    }

    #[test]
    fn gaps_become_silence_and_overlaps_are_dropped() {
        let mut track = AudioTrack::new();
        track.push(0, &[1.0; 1600]); // 0..100 ms
        track.push(200_000_000, &[1.0; 1600]); // 200..300 ms: 100 ms of silence before it
        assert_eq!(track.len(), 4800);
        assert_eq!(track.samples[2000], 0.0);
        assert_eq!(track.samples[3200], 1.0);
        track.push(250_000_000, &[2.0; 1600]); // overlaps 50 ms
        assert_eq!(track.len(), 4800 + 800);
        assert_eq!(track.samples[4800], 2.0);
        track.push(350_000_000 + 1_000_000, &[3.0; 16]); // 1 ms late: jitter, taken as continuous
        assert_eq!(track.len(), 5616);
    }

    #[test]
    fn frames_wait_only_while_their_audio_can_still_come() {
        let ready = Window::Ready { first: 3 };
        assert_eq!(decide(Window::Pending, false, false), Step::Wait);
        assert_eq!(decide(Window::Pending, true, false), Step::GiveUp, "the audio pad ended");
        assert_eq!(decide(Window::Pending, false, true), Step::GiveUp, "the live deadline passed");
        assert_eq!(decide(ready, false, false), Step::Process(ready));
        assert_eq!(decide(Window::NoAudio, false, false), Step::Process(Window::NoAudio));

        let mut t = Timeline::new();
        t.set_format(AudioInput::new(SampleFormat::F32, 16_000, 1).unwrap());
        assert_eq!(t.step(Some(0), None, false), Step::Process(Window::NoAudio), "no audio pad");
        assert_eq!(t.step(None, Some(false), false), Step::Process(Window::NoAudio), "no frame time");
        assert_eq!(t.step(Some(0), Some(false), false), Step::Wait, "nothing arrived yet");
        // 300 ms of audio from 1 s: a frame at 1 s needs 212.5 ms of it; one at 1.2 s waits.
        let bytes: Vec<u8> = voiced(4800, 0.5).iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(t.push(Some(1_000_000_000), &bytes).unwrap(), None);
        assert_eq!(t.step(Some(500_000_000), Some(false), false), Step::Process(Window::NoAudio), "before it");
        assert_eq!(t.step(Some(1_000_000_000), Some(false), false), Step::Process(Window::Ready { first: 0 }));
        assert_eq!(t.step(Some(1_200_000_000), Some(false), false), Step::Wait);
        assert!(t.audible(Window::Ready { first: 0 }).is_some());
        t.end();
        assert_eq!(t.step(Some(1_200_000_000), Some(true), false), Step::Process(Window::Ready { first: 9 }));
        assert_eq!(t.step(Some(1_400_000_000), Some(true), false), Step::Process(Window::NoAudio), "after it");
    }

    #[test]
    fn audio_far_from_where_it_was_expected_starts_a_new_stretch() {
        let mut t = Timeline::new();
        t.set_format(AudioInput::new(SampleFormat::S16, 16_000, 2).unwrap());
        let buf = vec![0u8; 320 * 4]; // 20 ms of stereo S16
        assert_eq!(t.push(Some(0), &buf).unwrap(), None);
        assert_eq!(t.push(Some(20_000_000), &buf).unwrap(), None);
        assert_eq!(t.push(None, &buf).unwrap(), None, "no time: continuous");
        assert_eq!(t.push(Some(500_000_000), &buf).unwrap(), Some(60_000_000));
        assert_eq!(t.track.end_time(), Some(520_000_000), "the new stretch is placed by its time");
        assert!(AudioInput::new(SampleFormat::F32, 0, 1).is_err());
        assert!(Timeline::new().push(Some(0), &buf).is_err(), "no format");
    }
}
