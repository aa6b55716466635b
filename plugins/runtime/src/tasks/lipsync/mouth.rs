//! The built-in animation: how far the mouth opens and how wide it is, from the speech in a
//! frame's mel window ([`MouthDriver`]), and the smooth local warp that opens it in the picture.

use gst_ai_kernels::{self as kernels, FrameMut, TensorSpec};

use super::face::{Found, mouth, region};
use super::write_region;
use crate::dsp::audio::MEL_STEP;
use crate::error::Result;

/// Mouth opening (0 closed .. 1 fully open) and relative width (about 0.8 rounded .. 1.2
/// spread) for the built-in animation, from the first columns of a frame's mel window: speech
/// bands (300 Hz .. 4 kHz) give the loudness, the share of the upper bands the width (front
/// vowels and fricatives spread the lips, back vowels round them). Smoothed over frames with a
/// fast attack and a slower release, as a jaw moves.
#[derive(Default)]
pub struct MouthDriver {
    open: f32,
    width: f32,
}

impl MouthDriver {
    /// Mel bands of the speech range.
    const SPEECH: std::ops::Range<usize> = 6..64;
    /// Mel bands above ~2 kHz.
    const UPPER: std::ops::Range<usize> = 40..64;
    /// Columns of the window that belong to the frame itself (~40 ms).
    const NOW: usize = 4;
    /// Loudness (log mean magnitude in normalised mel units, 0.2 per 20 dB) where the mouth
    /// starts to open and where it is fully open (linearly between): a voiced sound peaking at
    /// −40 dBFS and at −2 dBFS.
    const QUIET: f32 = 0.20;
    const LOUD: f32 = 0.56;

    /// Openings below this (a quarter of a pixel on a 100-pixel face) snap shut, so the frames
    /// after a sound return to the input exactly.
    const CLOSED: f32 = 0.02;

    pub fn new() -> Self {
        Self { open: 0.0, width: 1.0 }
    }

    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// The unsmoothed (opening, width) a window asks for.
    pub fn target(window: &[f32]) -> (f32, f32) {
        // Mean magnitude over bands and columns, back in the normalised log units (0 = the
        // floor, 0.2 per 20 dB): loud narrow bands count as much as the energy they carry.
        let level = |bands: std::ops::Range<usize>| {
            let n = (bands.len() * Self::NOW) as f32;
            let sum: f32 = bands
                .flat_map(|b| (0..Self::NOW).map(move |t| b * MEL_STEP + t))
                .map(|i| 10f32.powf(5.0 * (window[i] + 4.0) / 8.0))
                .sum();
            (sum / n).log10() / 5.0
        };
        let loud = level(Self::SPEECH);
        let t = ((loud - Self::QUIET) / (Self::LOUD - Self::QUIET)).clamp(0.0, 1.0);
        let open = t;
        let bright = ((level(Self::UPPER) - loud + 0.15) / 0.3).clamp(0.0, 1.0);
        (open, 0.8 + 0.4 * bright)
    }

    /// Advances one frame towards the window's target; returns the smoothed (opening, width).
    pub fn step(&mut self, window: &[f32]) -> (f32, f32) {
        let (open, width) = Self::target(window);
        let k = if open > self.open { 0.8 } else { 0.6 };
        self.open += k * (open - self.open);
        if self.open < Self::CLOSED {
            self.open = 0.0;
        }
        self.width += 0.5 * (width - self.width);
        (self.open, self.width)
    }

    /// A frame without audio: the mouth closes as after silence.
    pub fn rest(&mut self) -> f32 {
        self.open *= 0.4;
        if self.open < Self::CLOSED {
            self.open = 0.0;
        }
        self.open
    }
}

/// Opens the mouth of the `found` face in `frame` (where its landmarks put it, else at 3/4 of its box) by `open` (0..1) at relative `width`, `scale` being the
/// opening at full loudness as a fraction of the face height. False when nothing changed (a
/// closed mouth, or one outside the frame).
pub(super) fn warp(frame: &mut FrameMut<'_>, found: &Found, open: f32, width: f32, scale: f32) -> Result<bool> {
    if open <= 0.0 {
        return Ok(false);
    }
    let m = mouth(found.face, found.marks.as_ref(), open, width, scale);
    let Some(roi) =
        region(frame.width, frame.height, m.cx - m.half_width, m.cy - m.reach, 2.0 * m.half_width, 2.0 * m.reach)
    else {
        return Ok(false);
    };
    let m = kernels::Mouth { cx: m.cx - roi.x as f32, cy: m.cy - roi.y as f32, ..m };
    let n = 3 * roi.width * roi.height;
    let mut src = vec![0f32; n];
    let mut dst = vec![0f32; n];
    kernels::pack(&frame.as_frame(), roi, TensorSpec::CANONICAL, &mut src)?;
    kernels::open_mouth(&src, roi.width, roi.height, m, &mut dst)?;
    write_region(frame, roi, &dst)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::super::tests::voiced;
    use super::super::timeline::{AudioTrack, Window};
    use super::*;
    use crate::dsp::audio::MelSpectrogram;

    #[test]
    fn loud_speech_opens_the_mouth_and_silence_closes_it() {
        let mel = MelSpectrogram::new();
        let mut track = AudioTrack::new();
        let mut x = vec![0f32; 8000];
        x.extend(voiced(8000, 0.3));
        x.extend(vec![0f32; 8000]);
        track.push(0, &x);
        track.end();
        let mut at = |ms: u64| {
            let Window::Ready { first } = track.window(ms * 1_000_000) else { panic!() };
            MouthDriver::target(&track.mel_window(&mel, first))
        };
        assert_eq!(at(200).0, 0.0, "silence");
        assert!(at(700).0 > 0.7, "a loud voiced sound (-10 dBFS): {:?}", at(700));
        let quiet = {
            let mut t = AudioTrack::new();
            t.push(0, &voiced(16000, 0.002));
            t.end();
            MouthDriver::target(&t.mel_window(&mel, 20)).0
        };
        assert!(quiet < 0.2, "a -54 dBFS voice barely opens it: {quiet}");
        let mut d = MouthDriver::new();
        let w = track.mel_window(&mel, 56);
        let (o1, _) = d.step(&w);
        let target = MouthDriver::target(&w).0;
        assert!((o1 - 0.8 * target).abs() < 1e-6, "fast attack: 80% of the way in one frame: {o1}");
        let silent = track.mel_window(&mel, 0);
        let (o2, _) = d.step(&silent);
        assert!((o2 - 0.4 * o1).abs() < 1e-6, "slower release: 60% of the way down: {o1} -> {o2}");
    }
}
