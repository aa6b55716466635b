//! The built-in animation: how far the mouth opens and how wide it is, from the speech in a
//! frame's mel window ([`MouthDriver`]), and the smooth local warp that opens it in the picture.

use gst_ai_kernels::{self as kernels, FaceBox, FrameMut, TensorSpec};

#[cfg(test)]
use super::face::Contours;
use super::face::{Found, MouthMarks, region};
use super::write_region;
use crate::dsp::audio::MEL_STEP;
use crate::error::Result;

/// Mouth opening (0 closed .. 1 fully open) and relative width (about 0.8 rounded .. 1.2
/// spread) for the built-in animation, from the first columns of a frame's mel window: the
/// speech band's power in dB (80 Hz .. 4 kHz, the pre-emphasis undone) gives the opening, the
/// share of the upper bands the width (front vowels and fricatives spread the lips, back vowels
/// round them). Smoothed over frames with an immediate attack and a slower release, as a jaw
/// moves.
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
    /// Loudness of the speech band (dB relative to a voiced sound peaking at full scale, see
    /// [`level`](Self::level)) where the mouth starts to open and where it is fully open: a
    /// voice peaking at −50 dBFS and at −4 dBFS.
    const QUIET_DB: f32 = -50.0;
    const LOUD_DB: f32 = -4.0;
    /// Between them the opening is the dB position raised to this power: quiet speech already
    /// parts the lips visibly (a jaw does not open in proportion to the sound's level; with a
    /// linear map from −40 dB, the quiet half of a sentence moved the lips by a pixel or two,
    /// which neither a viewer nor the face mesh could tell from rest).
    const CURVE: f32 = 0.7;
    /// Bands counted in the speech level: 80 Hz .. 4 kHz.
    const LEVEL_HZ: (f64, f64) = (80.0, 4000.0);

    /// Openings below this (a quarter of a pixel on a 100-pixel face) snap shut, so the frames
    /// after a sound return to the input exactly.
    const CLOSED: f32 = 0.02;

    pub fn new() -> Self {
        Self { open: 0.0, width: 1.0 }
    }

    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// The speech band's power in the frame's own columns of `window`, in dB, 0 for a voiced
    /// sound peaking at full scale (a jaw opens with the vowels' energy, which lies low in the
    /// spectrum): Wav2Lip's mel magnitudes back in linear units, the pre-emphasis undone per
    /// band (it lowers 200 Hz by 21 dB against 4 kHz), weighted by each band's width, summed
    /// over 80 Hz .. 4 kHz. It follows the sound's RMS level, where the mel mean over bands
    /// weighs the fricatives' high bands as much as the vowels.
    pub fn level(window: &[f32]) -> f32 {
        static WEIGHTS: std::sync::OnceLock<Vec<(usize, f32)>> = std::sync::OnceLock::new();
        let weights = WEIGHTS.get_or_init(|| {
            crate::dsp::audio::mel_bands()
                .into_iter()
                .enumerate()
                .filter(|(_, (f, _))| (Self::LEVEL_HZ.0..=Self::LEVEL_HZ.1).contains(f))
                .map(|(b, (f, width))| {
                    let w = 2.0 * std::f64::consts::PI * f / f64::from(crate::dsp::audio::SAMPLE_RATE);
                    let k = crate::dsp::audio::PREEMPHASIS as f64;
                    let gain = 1.0 + k * k - 2.0 * k * w.cos();
                    (b, (width / gain) as f32)
                })
                .collect()
        });
        let power: f32 = (0..Self::NOW)
            .flat_map(|t| weights.iter().map(move |&(b, w)| (b * MEL_STEP + t, w)))
            // Normalised log units (±4 over 100 dB) back to magnitude, relative to the floor.
            .map(|(i, w)| w * 10f32.powf(5.0 * (window[i] + 4.0) / 4.0))
            .sum();
        10.0 * (power / Self::NOW as f32).max(1e-30).log10() - Self::FULL_SCALE_DB
    }

    /// [`level`](Self::level)'s raw figure for a voiced sound peaking at full scale.
    const FULL_SCALE_DB: f32 = 110.2;

    /// The unsmoothed (opening, width) a window asks for.
    pub fn target(window: &[f32]) -> (f32, f32) {
        // The width: the share of the upper bands in the mean magnitude (normalised log units,
        // 0 = the floor, 0.2 per 20 dB): front vowels and fricatives spread the lips.
        let mean = |bands: std::ops::Range<usize>| {
            let n = (bands.len() * Self::NOW) as f32;
            let sum: f32 = bands
                .flat_map(|b| (0..Self::NOW).map(move |t| b * MEL_STEP + t))
                .map(|i| 10f32.powf(5.0 * (window[i] + 4.0) / 8.0))
                .sum();
            (sum / n).log10() / 5.0
        };
        let db = (Self::level(window) - Self::QUIET_DB) / (Self::LOUD_DB - Self::QUIET_DB);
        let open = db.clamp(0.0, 1.0).powf(Self::CURVE);
        let bright = ((mean(Self::UPPER) - mean(Self::SPEECH) + 0.15) / 0.3).clamp(0.0, 1.0);
        (open, 0.8 + 0.4 * bright)
    }

    /// Advances one frame towards the window's target; returns the smoothed (opening, width).
    pub fn step(&mut self, window: &[f32]) -> (f32, f32) {
        let (open, width) = Self::target(window);
        let k = if open > self.open { Self::ATTACK } else { Self::RELEASE };
        self.open += k * (open - self.open);
        if self.open < Self::CLOSED {
            self.open = 0.0;
        }
        self.width += 0.5 * (width - self.width);
        (self.open, self.width)
    }

    /// How far the opening moves toward a louder target in one frame, and toward a quieter one:
    /// a jaw opens on the sound and closes a little slower.
    const ATTACK: f32 = 1.0;
    const RELEASE: f32 = 0.75;

    /// A frame without audio: the mouth closes as after silence.
    pub fn rest(&mut self) -> f32 {
        self.open *= 0.4;
        if self.open < Self::CLOSED {
            self.open = 0.0;
        }
        self.open
    }
}

/// Where the mouth is in a face box (fractions of the box) without landmarks: Wav2Lip-style
/// boxes run from the brows to the chin, so the lips meet at about three quarters of the height.
const MOUTH_Y: f32 = 0.74;
const MOUTH_HALF_WIDTH: f32 = 0.17;
const NOSE_Y: f32 = 0.58;

/// The geometry of the built-in animation's mouth in frame pixels (what
/// [`kernels::MouthWarp`] borrows).
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub left: [f32; 2],
    pub right: [f32; 2],
    pub lip_line: Vec<[f32; 2]>,
    pub upper_lip: Vec<[f32; 2]>,
    pub lower_lip: Vec<[f32; 2]>,
    pub nose: [f32; 2],
    pub oval: Vec<[f32; 2]>,
}

/// A rounded box inscribed in `b` (a superellipse, |x|^2.5 + |y|^2.5 = 1), as a polygon: a face
/// outline for boxes without a mesh, with more room beside the jaw than an ellipse.
fn ellipse(b: FaceBox) -> Vec<[f32; 2]> {
    let (cx, cy) = (b.x + 0.5 * b.w, b.y + 0.5 * b.h);
    let bend = |v: f32| v.signum() * v.abs().powf(0.8);
    (0..36)
        .map(|k| {
            let a = k as f32 * std::f32::consts::TAU / 36.0;
            [cx + 0.5 * b.w * bend(a.cos()), cy + 0.5 * b.h * bend(a.sin())]
        })
        .collect()
}

/// The mouth of `face`. From the face mesh's contours: the lips' edges, the line where they
/// meet (the lower lip's inner edge), the nose's bottom and the face's outline. From a
/// detector's five landmarks: the corners and the nose tip, default lips, and a rounded box in
/// the face box for the outline. Without landmarks: the same at 3/4 of a brows-to-chin box.
pub fn shape(face: FaceBox, marks: Option<&MouthMarks>) -> Shape {
    let pt = |p: (f32, f32)| [p.0, p.1];
    match marks {
        Some(m) => match &m.contours {
            Some(c) => {
                // INNER_LIPS runs along the lower lip from corner to corner (0..=10) and back
                // along the upper one. The lips part along the lower lip's inner edge: what
                // shows between the inner contours (the upper teeth of a smile) belongs to the
                // upper jaw and stays, and the opening grows beneath it, as when a jaw drops.
                // (Parting half-way between the contours split a smile's teeth in two, and the
                // face mesh read those openings non-monotonically.)
                let mut lip_line = vec![pt(c.outer[0]), pt(c.inner[0])];
                lip_line.extend(c.inner[1..10].iter().copied().map(pt));
                lip_line.extend([pt(c.inner[10]), pt(c.outer[10])]);
                Shape {
                    left: pt(m.left),
                    right: pt(m.right),
                    lip_line,
                    upper_lip: std::iter::once(c.outer[0]).chain(c.outer[10..].iter().copied()).map(pt).collect(),
                    lower_lip: c.outer[..=10].iter().copied().map(pt).collect(),
                    nose: pt(c.nose),
                    oval: c.oval.iter().copied().map(pt).collect(),
                }
            }
            None => Shape {
                left: pt(m.left),
                right: pt(m.right),
                lip_line: Vec::new(),
                upper_lip: Vec::new(),
                lower_lip: Vec::new(),
                nose: [m.centre.0, m.nose_y],
                oval: ellipse(face),
            },
        },
        None => {
            let (cx, cy) = (face.x + 0.5 * face.w, face.y + MOUTH_Y * face.h);
            let half = MOUTH_HALF_WIDTH * face.w;
            Shape {
                left: [cx - half, cy],
                right: [cx + half, cy],
                lip_line: Vec::new(),
                upper_lip: Vec::new(),
                lower_lip: Vec::new(),
                nose: [cx, face.y + NOSE_Y * face.h],
                oval: ellipse(face),
            }
        }
    }
}

/// How the built-in animation opens `shape` for a driver's (`open` 0..1, `width`), `scale`
/// being the opening at full loudness as a fraction of `face_h`: the opening in pixels and the
/// relative width. A spread mouth opens less tall (an "ee"), a rounded one keeps its height (an
/// "oo").
///
/// No teeth are drawn (the kernel can): with a band of upper teeth at wide openings, the face
/// mesh read the loudest openings as narrower than the medium ones on real faces, and its
/// reading followed the loudness less (r with the dB per frame on LFW tuning faces 0/5/45, the
/// width held at 1: 0.87/0.86/0.78 without teeth, 0.84/0.55/0.57 with; `ai-bench
/// lipsync-chain`).
pub fn amounts(open: f32, width: f32, scale: f32, face_h: f32) -> (f32, f32) {
    let spread = (width - 1.0).max(0.0);
    let gap = open * scale * face_h * (1.0 - 0.6 * spread);
    (gap, width.clamp(0.5, 2.0))
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

/// Opens the mouth of the `found` face in `frame` (shaped by its landmarks, else at 3/4 of its
/// box) by `open` (0..1) at relative `width`, `scale` being the opening at full loudness as a
/// fraction of the face box's height. False when nothing changed (a closed mouth, or a face
/// outside the frame).
pub fn warp(frame: &mut FrameMut<'_>, found: &Found, open: f32, width: f32, scale: f32) -> Result<bool> {
    if open <= 0.0 {
        return Ok(false);
    }
    let s = shape(found.face, found.marks.as_ref());
    let (gap, width) = amounts(open, width, scale, found.face.h);
    if gap <= 0.0 {
        return Ok(false);
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f32::INFINITY, f32::INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY);
    for p in &s.oval {
        (x0, y0, x1, y1) = (x0.min(p[0]), y0.min(p[1]), x1.max(p[0]), y1.max(p[1]));
    }
    // Nothing above the nose moves: the region starts a little above it (a tilted head's line).
    let y0 = y0.max(s.nose[1] - 0.25 * (x1 - x0));
    let Some(roi) = region(frame.width, frame.height, x0, y0, x1 - x0, y1 - y0) else {
        return Ok(false);
    };
    let (ox, oy) = (roi.x as f32, roi.y as f32);
    let local = |v: &[[f32; 2]]| v.iter().map(|p| [p[0] - ox, p[1] - oy]).collect::<Vec<_>>();
    let (line, upper, lower, oval) = (local(&s.lip_line), local(&s.upper_lip), local(&s.lower_lip), local(&s.oval));
    let m = kernels::MouthWarp {
        left: [s.left[0] - ox, s.left[1] - oy],
        right: [s.right[0] - ox, s.right[1] - oy],
        lip_line: &line,
        upper_lip: &upper,
        lower_lip: &lower,
        nose: [s.nose[0] - ox, s.nose[1] - oy],
        oval: &oval,
        open: gap,
        width,
        teeth: 0.0,
    };
    let n = 3 * roi.width * roi.height;
    let mut src = vec![0f32; n];
    let mut dst = vec![0f32; n];
    kernels::pack(&frame.as_frame(), roi, TensorSpec::CANONICAL, &mut src)?;
    kernels::open_mouth(&src, roi.width, roi.height, &m, &mut dst)?;
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
        assert!((o1 - target).abs() < 1e-6, "the attack reaches the target in one frame: {o1}");
        let silent = track.mel_window(&mel, 0);
        let (o2, _) = d.step(&silent);
        assert!((o2 - 0.25 * o1).abs() < 1e-6, "slower release: 75% of the way down: {o1} -> {o2}");
    }

    #[test]
    fn without_landmarks_the_mouth_is_at_three_quarters_of_the_box() {
        let face = FaceBox { x: 40.0, y: 16.0, w: 80.0, h: 96.0 };
        let s = shape(face, None);
        let y = 16.0 + 0.74 * 96.0;
        assert!((s.left[1] - y).abs() < 1e-4 && (s.right[1] - y).abs() < 1e-4);
        assert!((0.5 * (s.left[0] + s.right[0]) - 80.0).abs() < 1e-4);
        assert!(s.nose[1] < y && s.nose[1] > 16.0 + 0.5 * 96.0, "the nose between the middle and the lips");
        assert!(s.oval.iter().all(|p| p[0] >= 40.0 - 1e-3 && p[0] <= 120.0 + 1e-3 && p[1] <= 112.0 + 1e-3));
    }

    #[test]
    fn the_mesh_contours_shape_the_mouth_and_five_landmarks_do_without() {
        let face = FaceBox { x: 40.0, y: 20.0, w: 80.0, h: 100.0 };
        // A mouth at y 80 from x 60 to 100: inner lips 1 px apart, outer lips 6 px above / 8 below.
        let along = |j: usize| 60.0 + 40.0 * j as f32 / 10.0;
        let bow = |j: usize| 1.0 - ((j as f32 - 5.0) / 5.0).powi(2);
        let ring = |above: f32, below: f32| -> [(f32, f32); 20] {
            std::array::from_fn(|k| {
                if k <= 10 { (along(k), 80.0 + below * bow(k)) } else { (along(20 - k), 80.0 - above * bow(20 - k)) }
            })
        };
        let contours = Contours {
            outer: ring(6.0, 8.0),
            inner: ring(0.5, 0.5),
            nose: (80.0, 68.0),
            oval: std::array::from_fn(|k| {
                let a = k as f32 * std::f32::consts::TAU / 36.0;
                (80.0 + 38.0 * a.cos(), 70.0 + 48.0 * a.sin())
            }),
        };
        let marks = MouthMarks {
            left: (60.0, 80.0),
            right: (100.0, 80.0),
            centre: (80.0, 80.0),
            nose_y: 62.0,
            chin_y: Some(118.0),
            contours: Some(contours),
        };
        let s = shape(face, Some(&marks));
        assert_eq!((s.left, s.right, s.nose), ([60.0, 80.0], [100.0, 80.0], [80.0, 68.0]));
        // The lips part along the lower lip's inner edge (0.5 below the middle line at its middle).
        let (lo, hi) = s.lip_line.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| (lo.min(p[1]), hi.max(p[1])));
        assert!(lo > 80.0 - 1e-4 && (hi - 80.5).abs() < 1e-4, "the lower lip's inner edge: {:?}", s.lip_line);
        assert!(
            s.upper_lip.iter().any(|p| (p[1] - 74.0).abs() < 1e-4)
                && s.lower_lip.iter().any(|p| (p[1] - 88.0).abs() < 1e-4)
        );
        assert_eq!((s.upper_lip.len(), s.lower_lip.len(), s.oval.len()), (11, 11, 36));
        let from_five = MouthMarks::from_five(&[(0.0, 0.0), (0.0, 0.0), (80.0, 66.0), (60.0, 80.0), (100.0, 82.0)]);
        assert_eq!((from_five.centre, from_five.nose_y, from_five.chin_y), ((80.0, 81.0), 66.0, None));
        let s5 = shape(face, Some(&from_five));
        assert_eq!((s5.nose, s5.lip_line.len()), ([80.0, 66.0], 0));
        let w2l = wav2lip_box(&Found { face, marks: Some(marks) });
        assert!((w2l.y + 0.74 * w2l.h - 80.0).abs() < 1e-4 && (w2l.x + 0.5 * w2l.w - 80.0).abs() < 1e-4);
    }

    #[test]
    fn spread_mouths_open_less_tall() {
        let (round, _) = amounts(1.0, 0.8, 0.12, 100.0);
        let (spread, w) = amounts(1.0, 1.2, 0.12, 100.0);
        assert!((round - 12.0).abs() < 1e-4 && spread < round && w == 1.2, "{round} {spread}");
    }
}
