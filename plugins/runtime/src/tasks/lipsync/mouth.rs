//! The built-in animation: how far the mouth opens and how wide it is, from the speech in a
//! frame's mel window ([`MouthDriver`]), and the smooth local warp that opens it in the picture.

use gst_ai_kernels::{self as kernels, FaceBox, FrameMut, Mouth, TensorSpec};

use super::face::{Found, MouthMarks, region};
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
    pub(super) const NOW: usize = 4;
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

/// Where the mouth is in a face box (fractions of the box): Wav2Lip-style boxes run from the
/// brows to the chin, so the lips meet at about three quarters of the height.
const MOUTH_Y: f32 = 0.74;
const MOUTH_HALF_WIDTH: f32 = 0.2;
/// How far above and below the lips the built-in warp reaches.
const MOUTH_REACH: f32 = 0.2;
/// A dark, reddish mouth interior.
const MOUTH_INSIDE: [f32; 3] = [0.06, 0.03, 0.03];

/// The built-in animation's mouth in `face`: opened by `gap` (0..1 of full loudness) times
/// `scale` (the fraction of the face height at full loudness), its width scaled by `width`.
/// With landmarks the mouth is where they say: centred on the lips, as wide as the corners
/// (a little more: the warp fades towards its ends), and its reach stays below the nose and
/// above the chin. Without, it is taken at 3/4 of a brows-to-chin box.
pub fn mouth(face: FaceBox, marks: Option<&MouthMarks>, open: f32, width: f32, scale: f32) -> Mouth {
    let full = MOUTH_REACH * face.h;
    let Some(m) = marks else {
        return Mouth {
            cx: face.x + 0.5 * face.w,
            cy: face.y + MOUTH_Y * face.h,
            half_width: MOUTH_HALF_WIDTH * face.w * width,
            gap: (open * scale * face.h).min(0.7 * full),
            reach: full,
            inside: MOUTH_INSIDE,
        };
    };
    let (cx, cy) = m.centre;
    let corners = ((m.right.0 - m.left.0).powi(2) + (m.right.1 - m.left.1).powi(2)).sqrt();
    let up = 0.85 * (cy - m.nose_y);
    let down = m.chin_y.map_or(full, |c| 0.6 * (c - cy));
    let reach = full.min(up).min(down).max(2.0);
    Mouth {
        cx,
        cy,
        half_width: (0.6 * corners * width).max(1.0),
        gap: (open * scale * face.h).min(0.7 * reach),
        reach,
        inside: MOUTH_INSIDE,
    }
}

/// The face box Wav2Lip is given: with landmarks, the (smoothed) box moved so that the lips sit
/// where they sit in Wav2Lip's brows-to-chin crops (3/4 of the height, centred); else `face`.
pub fn wav2lip_box(found: &Found) -> FaceBox {
    let f = found.face;
    match found.marks {
        Some(m) => FaceBox { x: m.centre.0 - 0.5 * f.w, y: m.centre.1 - MOUTH_Y * f.h, ..f },
        None => f,
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

    #[test]
    fn without_landmarks_the_mouth_is_at_three_quarters_of_the_box() {
        let m = mouth(FaceBox { x: 40.0, y: 16.0, w: 80.0, h: 96.0 }, None, 1.0, 1.0, 0.12);
        assert_eq!((m.cx, m.half_width), (80.0, 16.0));
        assert!((m.cy - (16.0 + 0.74 * 96.0)).abs() < 1e-4 && (m.gap - 0.12 * 96.0).abs() < 1e-4);
    }

    #[test]
    fn landmarks_place_the_mouth_between_the_nose_and_the_chin() {
        // A detector's box (hairline to chin): the lips at 60% of its height, not 74%.
        let face = FaceBox { x: 40.0, y: 20.0, w: 80.0, h: 100.0 };
        let marks = MouthMarks {
            left: (60.0, 80.0),
            right: (100.0, 80.0),
            centre: (80.0, 81.0),
            nose_y: 66.0,
            chin_y: Some(110.0),
        };
        let m = mouth(face, Some(&marks), 1.0, 1.0, 0.12);
        assert_eq!((m.cx, m.cy), (80.0, 81.0));
        assert!((m.half_width - 24.0).abs() < 1e-4, "0.6 of the corners' distance: {}", m.half_width);
        assert!(m.cy - m.reach >= 66.0 && m.cy + m.reach <= 110.0, "reach {} crosses the nose or the chin", m.reach);
        assert!(m.gap > 0.0 && m.gap < m.reach);
        let from_five = MouthMarks::from_five(&[(0.0, 0.0), (0.0, 0.0), (80.0, 66.0), (60.0, 80.0), (100.0, 82.0)]);
        assert_eq!((from_five.centre, from_five.nose_y, from_five.chin_y), ((80.0, 81.0), 66.0, None));
        let w2l = wav2lip_box(&Found { face, marks: Some(marks) });
        assert!((w2l.y + 0.74 * w2l.h - 81.0).abs() < 1e-4 && (w2l.x + 0.5 * w2l.w - 80.0).abs() < 1e-4);
    }
}
