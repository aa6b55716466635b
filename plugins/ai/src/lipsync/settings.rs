//! `ailipsync`'s settings: the properties' specs, and reading and writing them. Kept apart from
//! the element (`imp.rs`), which snapshots them at start and for each frame.

use gst::glib;
use gst::prelude::*;

use gst_ai_runtime::tasks::lipsync::{LipOptions, LipParams};

use super::FaceSelect;
use crate::common::{self, AiOnBadOutput, ModelProps, bad_output};

#[derive(Debug, Clone)]
pub struct Settings {
    pub model: ModelProps,
    pub face_model: String,
    pub lip: LipOptions,
    /// Why the last face-box given was refused: set while the property is READY-only, so `start`
    /// fails on it rather than running with the previous (often empty) box.
    pub face_box_invalid: Option<String>,
    pub voice_activity: bool,
    pub voice_model: String,
    pub end_with_audio: bool,
    pub on_bad_output: AiOnBadOutput,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: ModelProps::default(),
            face_model: String::new(),
            lip: LipOptions::default(),
            face_box_invalid: None,
            voice_activity: true,
            voice_model: String::new(),
            end_with_audio: false,
            on_bad_output: AiOnBadOutput::default(),
        }
    }
}

impl Settings {
    /// What the next frame is processed with.
    pub fn params(&self) -> LipParams {
        LipParams { bad_output_fallback: self.on_bad_output == AiOnBadOutput::Fallback, ..self.lip.params() }
    }

    /// Every property's spec, `stats` (which the element answers itself) included.
    pub fn pspecs() -> Vec<glib::ParamSpec> {
        let d = LipOptions::default();
        let ints = |name, nick, blurb| {
            let int = glib::ParamSpecInt::builder("value").build();
            gst::ParamSpecArray::builder(name).nick(nick).blurb(blurb).element_spec(&int).mutable_ready().build()
        };
        let uint = |name, nick, blurb, min, max, default| {
            let b = glib::ParamSpecUInt::builder(name).nick(nick).blurb(blurb).minimum(min).maximum(max);
            b.default_value(default).mutable_ready().build()
        };
        let live = |name, nick, blurb, max, default| {
            let b = glib::ParamSpecDouble::builder(name).nick(nick).blurb(blurb).minimum(0.0).maximum(max);
            b.default_value(default).mutable_playing().build()
        };
        let mut shared = ModelProps::pspecs(
            "lip sync",
            "Path of a Wav2Lip-family ONNX model (mel window Bx1x80x16 and six-channel face BxSxS \
             inputs, found by name or shape; 96x96 and 256x256 variants). Empty: the built-in \
             animation, a smooth warp of the mouth driven by the speech loudness",
            false,
        );
        let device = shared.pop().expect("device");
        vec![
            shared.pop().expect("model"),
            ints(
                "face-box",
                "Face box",
                "<x, y, width, height> of the face in pixels, for a fixed framing (brows to chin: the mouth \
                 is taken at 3/4 of its height). Empty: found by face-model (by default zoo:retinaface). \
                 Not four values, or a width or height of 0 or less: an error at start",
            ),
            glib::ParamSpecString::builder("face-model")
                .nick("Face model")
                .blurb(&common::props::with_zoo(
                    "face detection",
                    "Path of an ONNX face detector with UltraFace's layout (input 1x3xHxW RGB (x-127)/128; \
                     outputs scores 1xNx2 and boxes 1xNx4 x1,y1,x2,y2 in 0..1), run when face-box is empty \
                     (see detect-interval); one face is chosen (face-select) and followed. Empty: \
                     zoo:retinaface when the zoo has it. On detected faces the zoo's face-mesh (when \
                     present) places the mouth on the lips and follows the face between detections",
                ))
                .default_value(Some(""))
                .mutable_ready()
                .build(),
            live(
                "face-threshold",
                "Face threshold",
                "Score a detection needs; below it the last face is kept (for max-misses frames, while the \
                 face mesh still sees it)",
                1.0,
                d.face_threshold,
            ),
            ints(
                "face-padding",
                "Face padding",
                "<top, bottom, left, right> pixels added to detected boxes (Wav2Lip's pads)",
            ),
            uint(
                "smoothing",
                "Smoothing",
                "Detected boxes are averaged (a one-euro filter: its time constant at rest is this many \
                 frames minus one, shorter as the head moves), so the crop does not jitter; 1: none",
                1,
                100,
                d.smoothing,
            ),
            glib::ParamSpecEnum::builder_with_default("face-select", FaceSelect::from(d.face_select))
                .nick("Face selection")
                .blurb(
                    "Which face is animated when several are found; it is then followed by overlap, never \
                     jumping to another person, until it is lost",
                )
                .mutable_ready()
                .build(),
            uint(
                "max-misses",
                "Maximum misses",
                "Frames a followed face may go unfound (the mesh still seeing it on its last crop) before \
                 it is given up; then frames pass unchanged until a face is found again",
                0,
                1000,
                d.max_misses,
            ),
            uint(
                "detect-interval",
                "Detection interval",
                "Run the face detector every this many frames; in between the face mesh follows the face \
                 from its last points (and a face it loses is looked for at once). 1: every frame",
                1,
                1000,
                d.detect_interval,
            ),
            uint(
                "min-face-size",
                "Minimum face size",
                "Faces smaller than this many pixels (the box's larger side) are left unchanged",
                0,
                10000,
                d.min_face_size,
            ),
            glib::ParamSpecDouble::builder("max-yaw")
                .nick("Maximum yaw")
                .blurb(
                    "Faces turned further than this many degrees (estimated from the landmarks: the nose \
                     tip between the face's sides) are left unchanged",
                )
                .minimum(0.0)
                .maximum(90.0)
                .default_value(d.max_yaw)
                .mutable_ready()
                .build(),
            live(
                "feather",
                "Feather",
                "Width of the blend between a model's face and the frame, as a fraction of the box's \
                 smaller side (0 = a hard box)",
                0.5,
                d.feather,
            ),
            live(
                "mouth-open",
                "Mouth opening",
                "How wide the built-in animation opens the mouth at full loudness, as a fraction of the face height",
                0.14,
                d.mouth_open,
            ),
            glib::ParamSpecBoolean::builder("end-with-audio")
                .nick("End with the audio")
                .blurb(
                    "End the stream at the first video frame past the end of the audio (once the audio pad \
                     is at EOS): avatar mode, where imagefreeze repeats a photograph endlessly. Off: frames \
                     after the audio pass unchanged until the video ends",
                )
                .default_value(false)
                .mutable_playing()
                .build(),
            device,
            glib::ParamSpecBoolean::builder("voice-activity")
                .nick("Voice activity")
                .blurb(
                    "Gate the mouth with a voice-activity detector (voice-model) run on the 16 kHz audio, so \
                     music, breathing and noise leave it closed; false: any sound moves it",
                )
                .default_value(true)
                .mutable_ready()
                .build(),
            glib::ParamSpecString::builder("voice-model")
                .nick("Voice model")
                .blurb(&common::props::with_zoo(
                    "voice activity",
                    "Path of an ONNX voice-activity detector with Silero VAD's contract (inputs input 1xN \
                     float audio: 64 samples of context then 512 new ones at 16 kHz, state 2x1x128, sr int64; \
                     outputs the speech probability and the next state). Empty: zoo:silero-vad when the zoo \
                     has it, else no gating",
                ))
                .default_value(Some(""))
                .mutable_ready()
                .build(),
            live(
                "voice-threshold",
                "Voice threshold",
                "Speech probability a frame's sound needs to move the mouth (with voice-activity)",
                1.0,
                d.voice_threshold,
            ),
            bad_output::pspec(super::imp::FALLBACK),
            glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                .nick("Statistics")
                .blurb(
                    "frames, frames animated (the rest passed unchanged: no face, no audio or silence), unvoiced \
                     (sound the voice-activity detector did not take for speech), the \
                     frames passed unchanged for the face: no-face (none found, or the followed one unseen), \
                     too-small, profile, mouth-outside (the mouth outside the frame); face-held (frames the \
                     detector missed the face but it was kept), face-lost (times a followed face was given \
                     up), detections (detector runs), tracked (frames the mesh alone followed the face), \
                     non-finite (frames whose Wav2Lip output held NaN or Inf, the face left untouched); and \
                     the processing time per frame over the last 512 frames (mean-ms, p95-ms, fps)",
                )
                .read_only()
                .build(),
        ]
        .into_iter()
        .chain(ModelProps::remote_pspecs())
        .collect()
    }

    /// Sets property `name` (false: not one of these); `log` receives the model settings' notes,
    /// `warn` a value refused (the setting is then unchanged).
    pub fn set(&mut self, name: &str, value: &glib::Value, log: impl FnOnce(&str), warn: impl Fn(String)) -> bool {
        match name {
            _ if self.model.set(name, value, log) => {}
            "face-box" | "face-padding" => {
                let array = value.get::<gst::Array>().expect("type checked upstream");
                let v: Vec<i32> = array.iter().filter_map(|v| v.get().ok()).collect();
                if name == "face-box" {
                    self.face_box_invalid = None;
                }
                match (name, v.as_slice()) {
                    ("face-box", []) => self.lip.face_box = None,
                    ("face-box", &[x, y, w, h]) if w > 0 && h > 0 => self.lip.face_box = Some([x, y, w, h]),
                    ("face-padding", &[top, bottom, left, right]) => self.lip.padding = [top, bottom, left, right],
                    ("face-box", _) => {
                        let why = match v.len() {
                            4 => "its width and height must be above 0".to_string(),
                            n => format!("it takes four values, not {n}"),
                        };
                        let given: Vec<String> = v.iter().map(i32::to_string).collect();
                        let text = format!(
                            "face-box <{}> is invalid: {why} (<x, y, width, height> in pixels; empty: faces are \
                             found by face-model)",
                            given.join(", ")
                        );
                        // Not `warn` (the value is not ignored): start fails on it, naming it.
                        self.face_box_invalid = Some(text);
                    }
                    _ => warn(format!("face-padding must be <top, bottom, left, right>, not {v:?}")),
                }
            }
            "face-model" => self.face_model = value.get::<Option<String>>().expect("type checked").unwrap_or_default(),
            "face-threshold" => self.lip.face_threshold = value.get().expect("type checked upstream"),
            "smoothing" => self.lip.smoothing = value.get().expect("type checked upstream"),
            "face-select" => self.lip.face_select = value.get::<FaceSelect>().expect("type checked upstream").into(),
            "max-misses" => self.lip.max_misses = value.get().expect("type checked upstream"),
            "detect-interval" => self.lip.detect_interval = value.get().expect("type checked upstream"),
            "min-face-size" => self.lip.min_face_size = value.get().expect("type checked upstream"),
            "max-yaw" => self.lip.max_yaw = value.get().expect("type checked upstream"),
            "feather" => self.lip.feather = value.get().expect("type checked upstream"),
            "mouth-open" => self.lip.mouth_open = value.get().expect("type checked upstream"),
            "voice-activity" => self.voice_activity = value.get().expect("type checked upstream"),
            "voice-model" => {
                self.voice_model = value.get::<Option<String>>().expect("type checked").unwrap_or_default()
            }
            "voice-threshold" => self.lip.voice_threshold = value.get().expect("type checked upstream"),
            "end-with-audio" => self.end_with_audio = value.get().expect("type checked upstream"),
            bad_output::PROPERTY => self.on_bad_output = value.get().expect("type checked upstream"),
            _ => return false,
        }
        true
    }

    /// The value of property `name` (None: not one of these).
    pub fn get(&self, name: &str) -> Option<glib::Value> {
        let array = |v: &[i32]| gst::Array::new(v.iter().copied()).to_value();
        Some(match name {
            "face-model" => self.face_model.to_value(),
            "face-box" => array(self.lip.face_box.as_ref().map_or(&[][..], |b| &b[..])),
            "face-padding" => array(&self.lip.padding),
            "face-threshold" => self.lip.face_threshold.to_value(),
            "smoothing" => self.lip.smoothing.to_value(),
            "face-select" => FaceSelect::from(self.lip.face_select).to_value(),
            "max-misses" => self.lip.max_misses.to_value(),
            "detect-interval" => self.lip.detect_interval.to_value(),
            "min-face-size" => self.lip.min_face_size.to_value(),
            "max-yaw" => self.lip.max_yaw.to_value(),
            "feather" => self.lip.feather.to_value(),
            "mouth-open" => self.lip.mouth_open.to_value(),
            "voice-activity" => self.voice_activity.to_value(),
            "voice-model" => self.voice_model.to_value(),
            "voice-threshold" => self.lip.voice_threshold.to_value(),
            "end-with-audio" => self.end_with_audio.to_value(),
            bad_output::PROPERTY => self.on_bad_output.to_value(),
            name => return self.model.get(name),
        })
    }
}
