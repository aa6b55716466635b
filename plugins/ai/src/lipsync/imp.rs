//! The implementation of `ailipsync`, a `GstAggregator`. Audio buffers are converted to 16 kHz
//! mono as they arrive and placed by running time in an [`AudioTrack`]; each video buffer waits
//! (unless the audio ended or, live, the latency ran out) until the track holds the 212.5 ms of
//! audio after the frame's running time, then its mouth is animated and it is pushed with its own
//! timestamps. The source pad has the video pad's caps and segment.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::{VideoFrameRef, VideoInfo};

use gst_ai_kernels::{self as kernels, FaceBox, Mouth, Rect, TensorSpec};
use gst_ai_runtime::backend::model::{Model, ModelSource};
use gst_ai_runtime::dsp::audio::MelSpectrogram;
use gst_ai_runtime::dsp::resample::{Resampler, SampleFormat};
use gst_ai_runtime::tasks::lipsync::{
    AudioTrack, BoxSmoother, FaceDetector, MouthDriver, Padding, SILENCE, Wav2Lip, Window, sample_time,
};
use gst_ai_runtime::{DeviceRequest, Precision};

use crate::common::{self, lock};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("ailipsync", gst::DebugColorFlags::empty(), Some("AI lip sync")));

const DEFAULT_FACE_THRESHOLD: f64 = 0.5;
const DEFAULT_SMOOTHING: u32 = 5;
const DEFAULT_FEATHER: f64 = 0.15;
const DEFAULT_MOUTH_OPEN: f64 = 0.12;
const DEFAULT_PADDING: [i32; 4] = [0, 10, 0, 0];
const AUDIO_FORMATS: [(&str, SampleFormat); 4] = [
    ("S16LE", SampleFormat::S16),
    ("S32LE", SampleFormat::S32),
    ("F32LE", SampleFormat::F32),
    ("F64LE", SampleFormat::F64),
];
/// Audio that starts this far from where the converted stream ends is a discontinuity.
const AUDIO_DISCONT_NS: u64 = 20_000_000;
/// Added to the audio the frames wait for: the resampler's look-ahead at the lowest rates.
const RESAMPLER_SLACK_NS: u64 = 5_000_000;

/// Where the mouth is in a face box (fractions of the box): Wav2Lip-style boxes run from the
/// brows to the chin, so the lips meet at about three quarters of the height.
const MOUTH_Y: f32 = 0.74;
const MOUTH_HALF_WIDTH: f32 = 0.2;
const MOUTH_REACH: f32 = 0.2;
/// A dark, reddish mouth interior.
const MOUTH_INSIDE: [f32; 3] = [0.22, 0.07, 0.07];

#[derive(Debug, Clone)]
struct Settings {
    model: String,
    face_box: Option<[i32; 4]>,
    face_model: String,
    face_threshold: f64,
    padding: [i32; 4],
    smoothing: u32,
    feather: f64,
    mouth_open: f64,
    device: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: String::new(),
            face_box: None,
            face_model: String::new(),
            face_threshold: DEFAULT_FACE_THRESHOLD,
            padding: DEFAULT_PADDING,
            smoothing: DEFAULT_SMOOTHING,
            feather: DEFAULT_FEATHER,
            mouth_open: DEFAULT_MOUTH_OPEN,
            device: "auto".into(),
        }
    }
}

/// The audio pad's format and the conversion to 16 kHz mono.
struct AudioIn {
    rate: u32,
    bpf: usize,
    resampler: Resampler,
    /// Running time of the first input sample since the last discontinuity.
    start: Option<u64>,
    in_frames: u64,
    out_samples: u64,
}

enum Engine {
    /// The built-in animation.
    Builtin(MouthDriver),
    Wav2Lip(Arc<Model>, Box<Wav2Lip>),
}

struct State {
    video: Option<VideoInfo>,
    audio: Option<AudioIn>,
    track: AudioTrack,
    mel: MelSpectrogram,
    engine: Engine,
    detector: Option<(Arc<Model>, FaceDetector)>,
    smoother: BoxSmoother,
    settings: Settings,
    scratch: Vec<f32>,
    converted: Vec<f32>,
}

impl State {
    fn reset(&mut self) {
        self.track.reset();
        if let Some(a) = self.audio.as_mut() {
            a.resampler.reset();
            a.start = None;
            a.in_frames = 0;
            a.out_samples = 0;
        }
        if let Engine::Builtin(d) = &mut self.engine {
            d.reset();
        }
        self.smoother.reset();
    }

    /// Running time of the next converted sample.
    fn converted_time(a: &AudioIn) -> u64 {
        sample_time(a.start.unwrap_or(0), a.out_samples as usize)
    }

    /// Converts and places one audio buffer that starts at running time `rt`.
    fn push_audio(&mut self, rt: Option<u64>, data: &[u8]) -> Result<(), String> {
        let a = self.audio.as_mut().ok_or("audio buffer before audio caps")?;
        if let (Some(rt), Some(start)) = (rt, a.start) {
            let expected = start + (u128::from(a.in_frames) * 1_000_000_000 / u128::from(a.rate)) as u64;
            if rt.abs_diff(expected) > AUDIO_DISCONT_NS {
                gst::debug!(CAT, "audio discontinuity: {rt} ns where {expected} ns was expected");
                self.end_audio_tail();
            }
        }
        let a = self.audio.as_mut().ok_or("audio buffer before audio caps")?;
        if a.start.is_none() {
            a.start = Some(rt.unwrap_or_else(|| self.track.end_time().unwrap_or(0)));
            a.in_frames = 0;
            a.out_samples = 0;
        }
        self.converted.clear();
        a.resampler.push(data, &mut self.converted).map_err(|e| e.to_string())?;
        self.track.push(Self::converted_time(a), &self.converted);
        a.out_samples += self.converted.len() as u64;
        a.in_frames += (data.len() / a.bpf) as u64;
        Ok(())
    }

    /// The resampler's tail goes into the track (end of stream, new caps); the next buffer
    /// starts a new stretch at its own running time.
    fn end_audio_tail(&mut self) {
        if let Some(a) = self.audio.as_mut() {
            self.converted.clear();
            a.resampler.finish(&mut self.converted);
            if a.start.is_some() {
                self.track.push(Self::converted_time(a), &self.converted);
            }
            a.resampler.reset();
            a.start = None;
        }
    }

    /// The audio ended: its tail goes into the track, which is closed.
    fn end_audio(&mut self) {
        self.end_audio_tail();
        self.track.end();
    }

    /// The face box for this frame, if any.
    fn face(&mut self, frame: &kernels::Frame<'_>) -> Result<Option<FaceBox>, String> {
        if let Some([x, y, w, h]) = self.settings.face_box {
            return Ok(Some(FaceBox { x: x as f32, y: y as f32, w: w as f32, h: h as f32 }));
        }
        let Some((model, detector)) = self.detector.as_mut() else { return Ok(None) };
        let (w, h) = (frame.width, frame.height);
        self.scratch.resize(3 * w * h, 0.0);
        kernels::pack(frame, Rect::new(0, 0, w, h), TensorSpec::CANONICAL, &mut self.scratch)
            .map_err(|e| e.to_string())?;
        let found = detector
            .detect(model, &self.scratch, w, h, self.settings.face_threshold as f32)
            .map_err(|e| e.to_string())?;
        let [top, bottom, left, right] = self.settings.padding.map(|v| v as f32);
        Ok(match found {
            Some((b, _score)) => Some(self.smoother.push(Padding { top, bottom, left, right }.apply(b))),
            None => self.smoother.last(),
        })
    }

    /// Animates the mouth in `frame` for the audio `window`; false when the frame is left as it is.
    fn process(&mut self, frame: &mut kernels::FrameMut<'_>, window: Window) -> Result<bool, String> {
        let Some(face) = self.face(&frame.as_frame())? else { return Ok(false) };
        let first = match window {
            Window::Ready { first } if self.track.peak(first) >= SILENCE => Some(first),
            _ => None,
        };
        let (fw, fh) = (frame.width, frame.height);
        match &mut self.engine {
            Engine::Builtin(driver) => {
                let (open, width) = match first {
                    Some(first) => driver.step(&self.track.mel_window(&self.mel, first)),
                    None => (driver.rest(), 1.0),
                };
                if open <= 0.0 {
                    return Ok(false);
                }
                let reach = MOUTH_REACH * face.h;
                let mouth = Mouth {
                    cx: face.x + 0.5 * face.w,
                    cy: face.y + MOUTH_Y * face.h,
                    half_width: MOUTH_HALF_WIDTH * face.w * width,
                    gap: (open * self.settings.mouth_open as f32 * face.h).min(0.7 * reach),
                    reach,
                    inside: MOUTH_INSIDE,
                };
                let Some(roi) =
                    region(fw, fh, mouth.cx - mouth.half_width, mouth.cy - reach, 2.0 * mouth.half_width, 2.0 * reach)
                else {
                    return Ok(false);
                };
                let mouth = Mouth { cx: mouth.cx - roi.x as f32, cy: mouth.cy - roi.y as f32, ..mouth };
                let n = 3 * roi.width * roi.height;
                let mut src = vec![0f32; n];
                let mut dst = vec![0f32; n];
                kernels::pack(&frame.as_frame(), roi, TensorSpec::CANONICAL, &mut src).map_err(|e| e.to_string())?;
                kernels::open_mouth(&src, roi.width, roi.height, mouth, &mut dst).map_err(|e| e.to_string())?;
                write_region(frame, roi, &dst)?;
                Ok(true)
            }
            Engine::Wav2Lip(model, w2l) => {
                let Some(first) = first else { return Ok(false) };
                let Some(roi) = region(fw, fh, face.x, face.y, face.w, face.h) else { return Ok(false) };
                let mut image = vec![0f32; 3 * roi.width * roi.height];
                kernels::pack(&frame.as_frame(), roi, TensorSpec::CANONICAL, &mut image).map_err(|e| e.to_string())?;
                let local = FaceBox { x: face.x - roi.x as f32, y: face.y - roi.y as f32, ..face };
                let mel = self.track.mel_window(&self.mel, first);
                let feather = self.settings.feather as f32 * face.w.min(face.h);
                w2l.apply(model, &mut image, roi.width, roi.height, local, &mel, feather).map_err(|e| e.to_string())?;
                write_region(frame, roi, &image)?;
                Ok(true)
            }
        }
    }
}

/// The pixel rectangle covering (x, y, w, h) inside a `fw` x `fh` frame, widened to even
/// coordinates (4:2:0 chroma blocks); None when nothing of it is inside.
fn region(fw: usize, fh: usize, x: f32, y: f32, w: f32, h: f32) -> Option<Rect> {
    let even_down = |v: f32, limit: usize| ((v.floor().max(0.0) as usize).min(limit) / 2) * 2;
    let even_up = |v: f32, limit: usize| {
        let e = v.ceil().max(0.0) as usize;
        (e.div_ceil(2) * 2).min(limit)
    };
    let (x0, y0) = (even_down(x, fw), even_down(y, fh));
    let (x1, y1) = (even_up(x + w, fw), even_up(y + h, fh));
    (x1 > x0 && y1 > y0).then(|| Rect::new(x0 as isize, y0 as isize, x1 - x0, y1 - y0))
}

/// Writes planar RGB `image` into the `roi` of `frame`, leaving the rest of the frame untouched.
fn write_region(frame: &mut kernels::FrameMut<'_>, roi: Rect, image: &[f32]) -> Result<(), String> {
    let mut sub = frame.region(roi.x as usize, roi.y as usize, roi.width, roi.height).map_err(|e| e.to_string())?;
    kernels::unpack(image, roi.width, roi.height, TensorSpec::CANONICAL, 0, 0, &mut sub).map_err(|e| e.to_string())
}

#[derive(Default)]
struct Stats {
    frames: u64,
    animated: u64,
    times: common::Timings,
}

pub struct AiLipSync {
    video_pad: gst_base::AggregatorPad,
    audio_pad: Mutex<Option<gst_base::AggregatorPad>>,
    /// The video pad's caps: the source pad's.
    video_caps: Mutex<Option<gst::Caps>>,
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    stats: Mutex<Stats>,
}

#[glib::object_subclass]
impl ObjectSubclass for AiLipSync {
    const NAME: &'static str = "GstAiLipSync";
    type Type = super::AiLipSync;
    type ParentType = gst_base::Aggregator;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("video").expect("video template");
        let video_pad = gst::PadBuilder::<gst_base::AggregatorPad>::from_template(&templ).build();
        Self {
            video_pad,
            audio_pad: Mutex::new(None),
            video_caps: Mutex::new(None),
            settings: Mutex::default(),
            state: Mutex::new(None),
            stats: Mutex::default(),
        }
    }
}

fn int_array(value: &glib::Value, what: &str) -> Result<Vec<i32>, String> {
    let arr = value.get::<gst::Array>().map_err(|e| format!("{what}: {e}"))?;
    arr.iter().map(|v| v.get::<i32>().map_err(|_| format!("{what}: the values must be integers"))).collect()
}

impl ObjectImpl for AiLipSync {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let int = glib::ParamSpecInt::builder("value").build();
            vec![
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb(
                        "Path of a Wav2Lip-family ONNX model (mel window Bx1x80x16 and six-channel face BxSxS \
                         inputs, found by name or shape; 96x96 and 256x256 variants). Empty: the built-in \
                         animation, a smooth warp of the mouth driven by the speech loudness",
                    )
                    .default_value(Some(""))
                    .mutable_ready()
                    .build(),
                gst::ParamSpecArray::builder("face-box")
                    .nick("Face box")
                    .blurb(
                        "<x, y, width, height> of the face in pixels, for a fixed framing (brows to chin: the \
                         mouth is taken at 3/4 of its height). Empty: found by face-model",
                    )
                    .element_spec(&int)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("face-model")
                    .nick("Face model")
                    .blurb(
                        "Path of an ONNX face detector with UltraFace's layout (input 1x3xHxW RGB (x-127)/128; \
                         outputs scores 1xNx2 and boxes 1xNx4 x1,y1,x2,y2 in 0..1), run on every frame when \
                         face-box is empty; the most confident face is used",
                    )
                    .default_value(Some(""))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("face-threshold")
                    .nick("Face threshold")
                    .blurb("Score a detection needs; below it the last face is kept")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_FACE_THRESHOLD)
                    .mutable_playing()
                    .build(),
                gst::ParamSpecArray::builder("face-padding")
                    .nick("Face padding")
                    .blurb("<top, bottom, left, right> pixels added to detected boxes (Wav2Lip's pads)")
                    .element_spec(&int)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("smoothing")
                    .nick("Smoothing")
                    .blurb("Detected boxes are averaged over this many frames, so the crop does not jitter")
                    .minimum(1)
                    .maximum(100)
                    .default_value(DEFAULT_SMOOTHING)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("feather")
                    .nick("Feather")
                    .blurb(
                        "Width of the blend between a model's face and the frame, as a fraction of the box's \
                         smaller side (0 = a hard box)",
                    )
                    .minimum(0.0)
                    .maximum(0.5)
                    .default_value(DEFAULT_FEATHER)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("mouth-open")
                    .nick("Mouth opening")
                    .blurb("How wide the built-in animation opens the mouth at full loudness, as a fraction of the face height")
                    .minimum(0.0)
                    .maximum(0.14)
                    .default_value(DEFAULT_MOUTH_OPEN)
                    .mutable_playing()
                    .build(),
                common::device_pspec(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb(
                        "frames, frames animated (the rest passed unchanged: no face, no audio or silence) and \
                         the processing time per frame over the last 512 frames (mean-ms, p95-ms, fps)",
                    )
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        let string = || value.get::<Option<String>>().expect("type checked upstream").unwrap_or_default();
        match pspec.name() {
            "model" => s.model = string(),
            "face-model" => s.face_model = string(),
            "face-box" => match int_array(value, "face-box") {
                Ok(v) if v.is_empty() => s.face_box = None,
                Ok(v) if v.len() == 4 && v[2] > 0 && v[3] > 0 => s.face_box = Some([v[0], v[1], v[2], v[3]]),
                Ok(v) => gst::element_imp_warning!(
                    self,
                    gst::LibraryError::Settings,
                    ["face-box must be <x, y, width, height> with a positive size, not {v:?}: ignored"]
                ),
                Err(e) => gst::element_imp_warning!(self, gst::LibraryError::Settings, ["{e}: ignored"]),
            },
            "face-padding" => match int_array(value, "face-padding") {
                Ok(v) if v.len() == 4 => s.padding = [v[0], v[1], v[2], v[3]],
                Ok(v) => gst::element_imp_warning!(
                    self,
                    gst::LibraryError::Settings,
                    ["face-padding must be <top, bottom, left, right>, not {v:?}: ignored"]
                ),
                Err(e) => gst::element_imp_warning!(self, gst::LibraryError::Settings, ["{e}: ignored"]),
            },
            "face-threshold" => s.face_threshold = value.get().expect("type checked upstream"),
            "smoothing" => s.smoothing = value.get().expect("type checked upstream"),
            "feather" => s.feather = value.get().expect("type checked upstream"),
            "mouth-open" => s.mouth_open = value.get().expect("type checked upstream"),
            "device" => {
                let d = string();
                if let Err(e) = d.parse::<DeviceRequest>() {
                    gst::warning!(CAT, imp = self, "{e}; the element will refuse to start");
                }
                s.device = d;
            }
            other => unreachable!("unknown property {other}"),
        }
        // What may change while playing reaches the running state too.
        if let Some(st) = lock(&self.state).as_mut() {
            st.settings.face_threshold = s.face_threshold;
            st.settings.feather = s.feather;
            st.settings.mouth_open = s.mouth_open;
        }
        gst::debug!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        let array = |v: &[i32]| gst::Array::new(v.iter().copied()).to_value();
        match pspec.name() {
            "model" => s.model.to_value(),
            "face-model" => s.face_model.to_value(),
            "face-box" => array(s.face_box.as_ref().map_or(&[][..], |b| &b[..])),
            "face-padding" => array(&s.padding),
            "face-threshold" => s.face_threshold.to_value(),
            "smoothing" => s.smoothing.to_value(),
            "feather" => s.feather.to_value(),
            "mouth-open" => s.mouth_open.to_value(),
            "device" => s.device.to_value(),
            "stats" => {
                let st = lock(&self.stats);
                st.times
                    .fields(
                        gst::Structure::builder("ai-lipsync-stats")
                            .field("frames", st.frames)
                            .field("animated", st.animated),
                    )
                    .build()
                    .to_value()
            }
            other => unreachable!("unknown property {other}"),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        self.obj().add_pad(&self.video_pad).expect("adding the video pad");
    }
}

impl GstObjectImpl for AiLipSync {}

impl ElementImpl for AiLipSync {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "AI lip sync",
                "Filter/Effect/Video",
                "Animates a face's mouth from an audio stream: a built-in loudness-driven warp, or a Wav2Lip-family \
                 ONNX model pasted back with a feathered mask",
                "gst-ai developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let video = gst_video::VideoCapsBuilder::new().format_list(common::FORMATS).build();
            let audio = gst::Caps::builder("audio/x-raw")
                .field("format", gst::List::new(AUDIO_FORMATS.map(|(name, _)| name)))
                .field("layout", "interleaved")
                .field("rate", gst::IntRange::new(1, i32::MAX))
                .field("channels", gst::IntRange::new(1, i32::MAX))
                .build();
            let pad = gst_base::AggregatorPad::static_type();
            vec![
                gst::PadTemplate::with_gtype("src", gst::PadDirection::Src, gst::PadPresence::Always, &video, pad)
                    .expect("src template"),
                gst::PadTemplate::with_gtype("video", gst::PadDirection::Sink, gst::PadPresence::Always, &video, pad)
                    .expect("video template"),
                gst::PadTemplate::with_gtype("audio", gst::PadDirection::Sink, gst::PadPresence::Request, &audio, pad)
                    .expect("audio template"),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn release_pad(&self, pad: &gst::Pad) {
        let mut audio = lock(&self.audio_pad);
        if audio.as_ref().is_some_and(|a| a.upcast_ref::<gst::Pad>() == pad) {
            *audio = None;
        }
        drop(audio);
        self.parent_release_pad(pad);
    }
}

impl AiLipSync {
    fn start_state(&self) -> Result<State, gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        if settings.face_box.is_none() && settings.face_model.trim().is_empty() {
            return Err(gst::error_msg!(
                gst::LibraryError::Settings,
                ["ailipsync needs a face: set face-box=\"<x, y, width, height>\" or face-model=<detector.onnx>"]
            ));
        }
        let device = || common::resolve_device(&settings.device).map(|(d, _)| d);
        let element = self.obj();
        let element = element.upcast_ref::<gst::Element>();
        let engine = if settings.model.trim().is_empty() {
            Engine::Builtin(MouthDriver::new())
        } else {
            let source = ModelSource::File(settings.model.trim().into());
            let model = common::load_model(element, &source, device()?, Precision::Auto)?;
            let w2l = Wav2Lip::new(&model).map_err(|e| common::start_error(&e))?;
            gst::info!(CAT, imp = self, "Wav2Lip contract of {}: {:?}", model.name, w2l.contract);
            Engine::Wav2Lip(model, Box::new(w2l))
        };
        let detector = if settings.face_box.is_none() {
            let source = ModelSource::File(settings.face_model.trim().into());
            let model = common::load_model(element, &source, device()?, Precision::Auto)?;
            let detector = FaceDetector::new(&model).map_err(|e| common::start_error(&e))?;
            Some((model, detector))
        } else {
            None
        };
        Ok(State {
            video: None,
            audio: None,
            track: AudioTrack::new(),
            mel: MelSpectrogram::new(),
            engine,
            detector,
            smoother: BoxSmoother::new(settings.smoothing as usize),
            settings,
            scratch: Vec::new(),
            converted: Vec::new(),
        })
    }

    fn audio_caps(&self, caps: &gst::CapsRef) -> Result<AudioIn, String> {
        let s = caps.structure(0).ok_or("empty audio caps")?;
        let format = s.get::<&str>("format").map_err(|e| format!("audio caps {caps}: {e}"))?;
        let (_, sample) = AUDIO_FORMATS
            .iter()
            .find(|(name, _)| *name == format)
            .ok_or_else(|| format!("unsupported audio format {format}"))?;
        let rate = s.get::<i32>("rate").map_err(|e| format!("audio caps {caps}: rate: {e}"))?;
        let channels = s.get::<i32>("channels").map_err(|e| format!("audio caps {caps}: channels: {e}"))?;
        if rate <= 0 || channels <= 0 {
            return Err(format!("audio caps {caps}: rate and channels must be positive"));
        }
        let resampler = Resampler::new(*sample, rate as u32, channels as u32, 16_000)
            .map_err(|e| format!("audio conversion: {e}"))?;
        Ok(AudioIn {
            rate: rate as u32,
            bpf: sample.bytes() * channels as usize,
            resampler,
            start: None,
            in_frames: 0,
            out_samples: 0,
        })
    }

    fn running_time(pad: &gst_base::AggregatorPad, buf: &gst::BufferRef) -> Option<u64> {
        let segment = pad.segment();
        let segment = segment.downcast_ref::<gst::ClockTime>()?;
        segment.to_running_time(buf.pts()?).map(|t| t.nseconds())
    }

    fn fail(&self, what: &str) -> gst::FlowError {
        gst::element_imp_error!(self, gst::StreamError::Failed, ["ailipsync: {what}"]);
        gst::FlowError::Error
    }
}

impl AggregatorImpl for AiLipSync {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let state = self.start_state()?;
        *lock(&self.state) = Some(state);
        *lock(&self.stats) = Stats::default();
        let lookahead = gst::ClockTime::from_nseconds(AudioTrack::lookahead_ns() + RESAMPLER_SLACK_NS);
        self.obj().set_latency(lookahead, Some(lookahead));
        self.parent_start()
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.state) = None;
        *lock(&self.video_caps) = None;
        self.parent_stop()
    }

    fn create_new_pad(
        &self,
        templ: &gst::PadTemplate,
        req_name: Option<&str>,
        _caps: Option<&gst::Caps>,
    ) -> Option<gst_base::AggregatorPad> {
        if templ.name_template() != "audio" || req_name.is_some_and(|n| n != "audio") {
            gst::warning!(CAT, imp = self, "only the pad \"audio\" can be requested");
            return None;
        }
        let mut audio = lock(&self.audio_pad);
        if audio.is_some() {
            gst::warning!(CAT, imp = self, "the audio pad was already requested");
            return None;
        }
        let pad = gst::PadBuilder::<gst_base::AggregatorPad>::from_template(templ).name("audio").build();
        *audio = Some(pad.clone());
        Some(pad)
    }

    fn sink_event(&self, pad: &gst_base::AggregatorPad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Caps(c) if pad == &self.video_pad => {
                let caps = c.caps_owned();
                match VideoInfo::from_caps(&caps) {
                    Ok(info) => {
                        if let Some(st) = lock(&self.state).as_mut() {
                            st.video = Some(info);
                        }
                        *lock(&self.video_caps) = Some(caps);
                        self.obj().src_pad().mark_reconfigure();
                    }
                    Err(e) => {
                        gst::element_imp_error!(self, gst::StreamError::Format, ["ailipsync: video caps {caps}: {e}"]);
                        return false;
                    }
                }
            }
            gst::EventView::Caps(c) => {
                let caps = c.caps_owned();
                match self.audio_caps(&caps) {
                    Ok(audio) => {
                        if let Some(st) = lock(&self.state).as_mut() {
                            // What the old format left in the resampler goes into the track first.
                            if st.audio.is_some() {
                                st.end_audio_tail();
                            }
                            st.audio = Some(audio);
                        }
                    }
                    Err(e) => {
                        gst::element_imp_error!(self, gst::StreamError::Format, ["ailipsync: {e}"]);
                        return false;
                    }
                }
            }
            gst::EventView::Segment(s) if pad == &self.video_pad => {
                if let Ok(segment) = s.segment().clone().downcast::<gst::ClockTime>() {
                    self.obj().update_segment(&segment);
                }
            }
            _ => {}
        }
        self.parent_sink_event(pad, event)
    }

    fn update_src_caps(&self, _downstream: &gst::Caps) -> Result<gst::Caps, gst::FlowError> {
        lock(&self.video_caps).clone().ok_or(gst_base::AGGREGATOR_FLOW_NEED_DATA)
    }

    fn flush(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        if let Some(st) = lock(&self.state).as_mut() {
            st.reset();
        }
        self.parent_flush()
    }

    fn next_time(&self) -> Option<gst::ClockTime> {
        self.obj().simple_get_next_time()
    }

    fn aggregate(&self, timeout: bool) -> Result<gst::FlowSuccess, gst::FlowError> {
        let audio_pad = lock(&self.audio_pad).clone();
        let mut guard = lock(&self.state);
        let st = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        if let Some(ap) = &audio_pad {
            while let Some(buf) = ap.pop_buffer() {
                let rt = Self::running_time(ap, &buf);
                let map = buf.map_readable().map_err(|_| self.fail("cannot read an audio buffer"))?;
                st.push_audio(rt, &map).map_err(|e| self.fail(&e))?;
            }
            if ap.is_eos() && !st.track.is_ended() {
                st.end_audio();
            }
        }
        let Some(buf) = self.video_pad.peek_buffer() else {
            if self.video_pad.is_eos() {
                return Err(gst::FlowError::Eos);
            }
            return Err(gst_base::AGGREGATOR_FLOW_NEED_DATA);
        };
        let rt = Self::running_time(&self.video_pad, &buf);
        let window = match (&audio_pad, rt) {
            (None, _) | (_, None) => Window::NoAudio,
            (Some(ap), Some(rt)) => match st.track.window(rt) {
                Window::Pending if !timeout && !ap.is_eos() => return Err(gst_base::AGGREGATOR_FLOW_NEED_DATA),
                Window::Pending => {
                    gst::debug!(CAT, imp = self, "audio for {rt} ns did not come in time");
                    Window::NoAudio
                }
                w => w,
            },
        };
        self.video_pad.drop_buffer();
        let info = st.video.clone().ok_or_else(|| self.fail("video buffer before video caps"))?;
        let t0 = Instant::now();
        let mut buf = buf;
        let animated = {
            let buf = buf.make_mut();
            let mut vframe = VideoFrameRef::from_buffer_ref_writable(buf, &info)
                .map_err(|_| self.fail("cannot map a video frame for writing"))?;
            let mut frame = common::frame_view_mut(&mut vframe).map_err(|e| self.fail(&e.to_string()))?;
            st.process(&mut frame, window).map_err(|e| self.fail(&e))?
        };
        if let Window::Ready { first } = window {
            st.track.discard_before(first);
        }
        drop(guard);
        {
            let mut stats = lock(&self.stats);
            stats.frames += 1;
            stats.animated += u64::from(animated);
            stats.times.record(t0.elapsed().as_secs_f64() * 1000.0);
        }
        self.obj().finish_buffer(buf)
    }
}
