//! Lip sync without GStreamer types. [`LipSyncer`] is the engine `ailipsync` drives: the audio
//! timeline ([`timeline`]: 16 kHz mono audio placed by running time, the mel window each frame
//! hears, whether a frame waits for its audio), the faces and where their mouths are ([`face`], followed over frames by [`track`]),
//! and the two ways to animate a mouth: the built-in loudness-driven warp ([`mouth`]) or a
//! Wav2Lip-family model ([`wav2lip`]). The element converts timestamps to running times, frames to
//! kernel frames and caps to formats; everything it decides from them is here.

pub mod face;
pub mod mouth;
pub mod timeline;
pub mod track;
pub mod vad;
pub mod wav2lip;

pub use face::{Contours, Detection, FaceDetector, FaceMesh, Found, MouthMarks};
pub use mouth::MouthDriver;
pub use timeline::{AudioInput, AudioTrack, SILENCE, Step, Timeline, Window, decide, latency_ns, sample_time};
pub use track::{BoxFilter, BoxSmoother, FaceReport, FaceSelect, FaceSource, FaceState, Faces, Padding, TrackOptions};
pub use vad::Vad;
pub use wav2lip::{Wav2Lip, Wav2LipContract};

use std::sync::Arc;

use gst_ai_kernels::{self as kernels, FaceBox, FrameMut, Rect, TensorSpec};

use crate::backend::model::{Cancel, Model};
use crate::dsp::audio::HOP;
use crate::error::{Error, Result};
use face::region;

/// How a [`LipSyncer`] is set up, in the units of the element's properties. The face box and the
/// detection settings hold from start; the rest may change while it runs ([`params`](Self::params)).
#[derive(Clone, Debug, PartialEq)]
pub struct LipOptions {
    /// x, y, width, height of the face in pixels, for a fixed framing; None: detected.
    pub face_box: Option<[i32; 4]>,
    /// Pixels added to detected boxes: top, bottom, left, right (Wav2Lip's pads).
    pub padding: [i32; 4],
    /// Detected boxes are smoothed as still as a mean of this many frames (Wav2Lip's 5).
    pub smoothing: u32,
    /// Which face is animated when several are found.
    pub face_select: FaceSelect,
    /// Frames a followed face may go unseen before it is given up.
    pub max_misses: u32,
    /// The detector runs every this many frames; the face mesh follows the face in between.
    pub detect_interval: u32,
    /// Faces smaller than this (pixels, the box's larger side) are left alone.
    pub min_face_size: u32,
    /// Faces turned further than this (degrees) are left alone.
    pub max_yaw: f64,
    pub face_threshold: f64,
    pub feather: f64,
    pub mouth_open: f64,
    /// The voice-activity probability a frame's sound needs to move the mouth.
    pub voice_threshold: f64,
}

impl Default for LipOptions {
    fn default() -> Self {
        Self {
            face_box: None,
            padding: [0, 10, 0, 0],
            smoothing: 5,
            face_select: FaceSelect::Largest,
            max_misses: TrackOptions::default().max_misses,
            detect_interval: TrackOptions::default().detect_interval,
            min_face_size: 48,
            max_yaw: 60.0,
            face_threshold: 0.5,
            feather: 0.15,
            mouth_open: 0.12,
            voice_threshold: 0.5,
        }
    }
}

impl LipOptions {
    /// What the next frame is processed with.
    pub fn params(&self) -> LipParams {
        LipParams {
            face_threshold: self.face_threshold as f32,
            feather: self.feather as f32,
            mouth_open: self.mouth_open as f32,
            voice_threshold: self.voice_threshold as f32,
            bad_output_fallback: true,
        }
    }

    /// The fixed face box, else faces found by `detector`, their lips read by `mesh` when there
    /// is one (None when there is neither a box nor a detector).
    pub fn faces(&self, detector: Option<Arc<Model>>, mesh: Option<Arc<Model>>) -> Option<FaceSource> {
        if let Some([x, y, w, h]) = self.face_box {
            return Some(FaceSource::Fixed(FaceBox { x: x as f32, y: y as f32, w: w as f32, h: h as f32 }));
        }
        let [top, bottom, left, right] = self.padding.map(|v| v as f32);
        let padding = Padding { top, bottom, left, right };
        let track = TrackOptions {
            padding,
            smoothing: self.smoothing,
            select: self.face_select,
            max_misses: self.max_misses,
            detect_interval: self.detect_interval.max(1),
            min_face_size: self.min_face_size as f32,
            max_yaw: self.max_yaw as f32,
        };
        detector.map(|model| FaceSource::Detector { model, mesh, track })
    }
}

/// What may change while playing, read by the element for each frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LipParams {
    /// Score a detection needs; below it the last face is kept for `max_misses` frames.
    pub face_threshold: f32,
    /// Blend width of a model's face, as a fraction of the box's smaller side.
    pub feather: f32,
    /// The built-in's opening at full loudness, as a fraction of the face height.
    pub mouth_open: f32,
    /// The voice-activity probability a frame's sound needs (with a voice-activity model).
    pub voice_threshold: f32,
    /// A Wav2Lip output with NaN or infinite values leaves the face untouched (noted in
    /// [`LipSyncer::take_bad_output`]) instead of an [`Error::NonFinite`].
    pub bad_output_fallback: bool,
}

enum Animator {
    Builtin(MouthDriver),
    Wav2Lip(Arc<Model>, Box<Wav2Lip>),
}

/// One stream's lip sync: audio goes in by running time ([`push_audio`](Self::push_audio)),
/// each video frame asks what to do ([`step`](Self::step)) and, unless it waits, is animated in
/// place ([`process`](Self::process)).
pub struct LipSyncer {
    timeline: Timeline,
    faces: Faces,
    animator: Animator,
    vad: Option<Box<Vad>>,
    /// The last frame heard sound that the voice-activity model did not take for speech.
    unvoiced: bool,
    /// The last frame with sound was taken for speech (the gate's hysteresis).
    speaking: bool,
    /// What became of the face in the last frame processed.
    face: FaceReport,
    /// Why the last frame's model output was not used (NaN or Inf in it), until taken.
    bad_output: Option<String>,
    /// The built-in animation's (opening, width) for the last frame processed with a face.
    opening: Option<(f32, f32)>,
}

impl LipSyncer {
    /// A Wav2Lip-family `model`, or the built-in animation with None; faces from `faces`. An
    /// error when a model does not fit its contract.
    pub fn new(model: Option<Arc<Model>>, faces: FaceSource) -> Result<Self> {
        let animator = match model {
            Some(model) => {
                let w2l = Wav2Lip::new(&model)?;
                Animator::Wav2Lip(model, Box::new(w2l))
            }
            None => Animator::Builtin(MouthDriver::new()),
        };
        Ok(Self {
            timeline: Timeline::new(),
            faces: Faces::new(faces)?,
            animator,
            vad: None,
            unvoiced: false,
            speaking: false,
            face: FaceReport::default(),
            bad_output: None,
            opening: None,
        })
    }

    /// Gates the mouth with a Silero-VAD-contract `model` (see [`Vad`]): sound it does not take
    /// for speech (music, breathing, noise) leaves the mouth closed. An error when the model does
    /// not fit the contract.
    pub fn with_voice_activity(mut self, model: Arc<Model>) -> Result<Self> {
        self.vad = Some(Box::new(Vad::new(model)?));
        Ok(self)
    }

    /// Whether the last frame processed heard sound that the voice-activity model did not take
    /// for speech (so its mouth stayed closed).
    pub fn unvoiced(&self) -> bool {
        self.unvoiced
    }

    /// The model's contract, with a model.
    pub fn contract(&self) -> Option<&Wav2LipContract> {
        match &self.animator {
            Animator::Wav2Lip(_, w2l) => Some(&w2l.contract),
            Animator::Builtin(_) => None,
        }
    }

    /// Forgets the audio, the mouth's motion and the face history (flush, seek).
    pub fn reset(&mut self) {
        self.timeline.reset();
        if let Animator::Builtin(d) = &mut self.animator {
            d.reset();
        }
        self.faces.reset();
        if let Some(v) = &mut self.vad {
            v.reset();
        }
        self.speaking = false;
    }

    pub fn set_audio_format(&mut self, input: AudioInput) {
        self.timeline.set_format(input);
    }

    pub fn has_audio_format(&self) -> bool {
        self.timeline.has_format()
    }

    /// One audio buffer at running time `rt`; see [`Timeline::push`].
    /// The voice-activity model, when there is one, hears it at once.
    pub fn push_audio(&mut self, rt: Option<u64>, data: &[u8]) -> Result<Option<u64>> {
        let discont = self.timeline.push(rt, data)?;
        self.hear()?;
        Ok(discont)
    }

    /// The voice-activity model hears what came (the track's last partial chunk once it ended).
    fn hear(&mut self) -> Result<()> {
        match &mut self.vad {
            Some(v) => v.advance(self.timeline.track(), None),
            None => Ok(()),
        }
    }

    /// The audio pad ended (again: nothing changes). An error when the voice-activity model
    /// fails on the last chunk.
    pub fn end_audio(&mut self) -> Result<()> {
        self.timeline.end();
        self.hear()
    }

    /// Why the model's output for the last frame [`process`](Self::process)ed was not used (it
    /// held NaN or infinite values, the face was left as it was), once.
    pub fn take_bad_output(&mut self) -> Option<String> {
        self.bad_output.take()
    }

    /// What became of the face in the last frame [`process`](Self::process)ed.
    pub fn face(&self) -> FaceReport {
        self.face
    }

    /// The built-in animation's mouth (opening 0..1, relative width) in the last frame
    /// [`process`](Self::process)ed; None with a model or when that frame had no face.
    pub fn opening(&self) -> Option<(f32, f32)> {
        self.opening
    }

    /// What to do with the frame at running time `frame`; see [`Timeline::step`].
    pub fn step(&self, frame: Option<u64>, audio_eos: Option<bool>, timed_out: bool) -> Step {
        self.timeline.step(frame, audio_eos, timed_out)
    }

    /// Animates the mouth in `frame` for the audio `window` (the frame's [`Step`]); false when
    /// the frame is left as it is (no face, no audio, silence, a closed mouth).
    /// `cancel` stops the face detector's or Wav2Lip's run in flight ([`Error::Cancelled`]).
    pub fn process(
        &mut self,
        frame: &mut FrameMut<'_>,
        window: Window,
        params: &LipParams,
        cancel: Option<&Cancel>,
    ) -> Result<bool> {
        self.unvoiced = false;
        self.opening = None;
        let animated = self.animate(frame, window, params, cancel)?;
        self.timeline.done(window);
        if let (Some(v), Window::Ready { first }) = (&mut self.vad, window) {
            v.discard_before((first * HOP).saturating_sub(2 * Vad::CHUNK));
        }
        Ok(animated)
    }

    /// The frame at running time `t` passes without its audio ([`Step::GiveUp`]): the audio
    /// (and voice-activity readings) before it are forgotten, as after a processed frame.
    pub fn passed(&mut self, t: u64) {
        if let (Some(first), Some(v)) = (self.timeline.passed(t), &mut self.vad) {
            v.discard_before((first * HOP).saturating_sub(2 * Vad::CHUNK));
        }
    }

    fn animate(
        &mut self,
        frame: &mut FrameMut<'_>,
        window: Window,
        params: &LipParams,
        cancel: Option<&Cancel>,
    ) -> Result<bool> {
        self.face = self.faces.find(&frame.as_frame(), params.face_threshold, cancel)?;
        let Some(found) = self.face.found else {
            return Ok(false);
        };
        let first = self.voiced(self.timeline.audible(window), params.voice_threshold);
        match &mut self.animator {
            Animator::Builtin(driver) => {
                let (open, width) = match first {
                    Some(first) => driver.step(&self.timeline.mel_window(first)),
                    None => (driver.rest(), 1.0),
                };
                self.opening = Some((open, width));
                mouth::warp(frame, &found, open, width, params.mouth_open)
            }
            Animator::Wav2Lip(model, w2l) => {
                let Some(first) = first else { return Ok(false) };
                let face = mouth::wav2lip_box(&found);
                let Some(roi) = region(frame.width, frame.height, face.x, face.y, face.w, face.h) else {
                    return Ok(false);
                };
                let mut image = vec![0f32; 3 * roi.width * roi.height];
                kernels::pack(&frame.as_frame(), roi, TensorSpec::CANONICAL, &mut image)?;
                let local = FaceBox { x: face.x - roi.x as f32, y: face.y - roi.y as f32, ..face };
                let mel = self.timeline.mel_window(first);
                let feather = params.feather * face.w.min(face.h);
                match w2l.apply(model, &mut image, roi.width, roi.height, local, &mel, feather, cancel) {
                    Err(e @ Error::NonFinite { .. }) if params.bad_output_fallback => {
                        self.bad_output = Some(e.to_string());
                        return Ok(false);
                    }
                    other => other?,
                }
                write_region(frame, roi, &image)?;
                Ok(true)
            }
        }
    }
}

impl LipSyncer {
    /// `first` (a frame's sound) when the voice-activity model, if any, takes it for speech:
    /// the highest probability of the 32 ms chunks from just before the frame's own 50 ms to
    /// the end of its mel window (as far as heard) reaches `threshold`, or, while the previous
    /// frame with sound was speech, `threshold` − 0.15 (the hysteresis Silero's own
    /// segmentation uses, so quieter syllables inside speech still move the mouth). Else None,
    /// noted in [`unvoiced`](Self::unvoiced).
    fn voiced(&mut self, first: Option<usize>, threshold: f32) -> Option<usize> {
        let (Some(vad), Some(c)) = (&self.vad, first) else {
            self.speaking &= first.is_some();
            return first;
        };
        let from = (c * HOP).saturating_sub(Vad::CHUNK);
        // The frame's own sound, and the whole chunks of what its mel window holds after it:
        // Silero's probability rises some 200 ms after speech starts (at a word's onset, or
        // when a stream starts mid-sentence), and a ready frame has already waited for that
        // audio, so looking at it costs no latency. Whole chunks only, so that what the gate
        // hears does not depend on how the audio arrived (the voice-activity model has heard
        // every whole chunk of what came; a frame given up on before its audio came hears what
        // there is).
        let own = (c + MouthDriver::NOW) * HOP + Vad::CHUNK;
        let window = AudioTrack::window_end(c) / Vad::CHUNK * Vad::CHUNK;
        let to = window.min(vad.heard()).max(own);
        // Not heard yet cannot happen for a ready frame (its audio runs 200 ms further); if it
        // did, the sound is let through rather than silenced.
        let p = vad.speech(from, to).unwrap_or(1.0);
        let needed = if self.speaking { threshold - Self::HYSTERESIS } else { threshold };
        self.speaking = p >= needed;
        self.unvoiced = !self.speaking;
        self.speaking.then_some(c)
    }

    const HYSTERESIS: f32 = 0.15;
}

/// Writes planar RGB `image` into the `roi` of `frame`, leaving the rest of the frame untouched.
fn write_region(frame: &mut FrameMut<'_>, roi: Rect, image: &[f32]) -> Result<()> {
    let mut sub = frame.region(roi.x as usize, roi.y as usize, roi.width, roi.height)?;
    kernels::unpack(image, roi.width, roi.height, TensorSpec::CANONICAL, 0, 0, &mut sub)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::resample::SampleFormat;
    use gst_ai_kernels::{Colorimetry, PixelFormat};

    #[test]
    fn a_frame_is_animated_only_when_it_hears_sound() {
        let (w, h) = (64, 64);
        assert!(LipOptions::default().faces(None, None).is_none(), "neither a face box nor a detector");
        let options = LipOptions { face_box: Some([16, 8, 32, 48]), ..LipOptions::default() };
        let mut syncer = LipSyncer::new(None, options.faces(None, None).unwrap()).expect("the built-in animation");
        assert!(syncer.contract().is_none());
        syncer.set_audio_format(AudioInput::new(SampleFormat::F32, 16_000, 1).unwrap());
        let mut loud = vec![0f32; 4000]; // 250 ms of silence, then a loud voice
        loud.extend(voiced(8000, 0.5));
        let bytes: Vec<u8> = loud.iter().flat_map(|v| v.to_le_bytes()).collect();
        syncer.push_audio(Some(0), &bytes).unwrap();
        let params = LipOptions::default().params();
        let gray: Vec<u8> = (0..w * h * 3).map(|i| (i % 251) as u8).collect();
        let run = |syncer: &mut LipSyncer, t: u64, audio_eos: bool| {
            let Step::Process(window) = syncer.step(Some(t), Some(audio_eos), false) else { return None };
            let mut rgb = gray.clone();
            let mut frame =
                FrameMut::new(PixelFormat::Rgb, w, h, vec![&mut rgb[..]], &[3 * w], Colorimetry::default()).unwrap();
            let animated = syncer.process(&mut frame, window, &params, None).unwrap();
            assert_eq!(animated, rgb != gray, "reported as animated exactly when the frame changed");
            Some(animated)
        };
        assert_eq!(run(&mut syncer, 0, false), Some(false), "silence");
        assert_eq!(run(&mut syncer, 400_000_000, false), Some(true), "the voice");
        assert_eq!(run(&mut syncer, 700_000_000, false), None, "its audio has not all come: it waits");
        syncer.reset();
        assert_eq!(run(&mut syncer, 400_000_000, false), None, "after a reset the audio is gone");
        syncer.end_audio().unwrap();
        assert_eq!(run(&mut syncer, 400_000_000, true), Some(false), "the audio ended: unchanged");
    }

    /// A voiced sound: 120 Hz and its harmonics to 4 kHz falling as 1/k, peaking at `amp`.
    pub(crate) fn voiced(n: usize, amp: f32) -> Vec<f32> {
        let raw: Vec<f32> = (0..n)
            .map(|i| {
                (1..34)
                    .map(|k| (2.0 * std::f32::consts::PI * 120.0 * k as f32 * i as f32 / 16000.0).sin() / k as f32)
                    .sum()
            })
            .collect();
        let peak = raw.iter().fold(0f32, |m, v| m.max(v.abs()));
        raw.iter().map(|v| v * amp / peak).collect()
    }
}
