//! The implementation of `ailipsync`, a `GstAggregator`: the GStreamer side of the runtime's
//! [`LipSyncer`], which decides whether a frame waits for its audio and animates it. Here caps
//! become formats, timestamps running times, buffers kernel frames; frames go out with their own
//! timestamps, the video pad's caps and segment, and the latency is the audio a frame waits for.
//!
//! Locks: `settings`, `stats`, `video` (the video caps) and `pending` (what sink events and
//! flushes leave for the aggregate thread) are taken only for a copy or an update. `syncer` is
//! the aggregate thread's, held across the model run; only `start`/`stop` (no buffer flows) take
//! it besides. So every property read and write, `stats` included, and every query is answered
//! while a frame is being animated.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::{VideoFrameRef, VideoInfo};

use gst_ai_runtime::Precision;
use gst_ai_runtime::backend::model::{Model, ModelSource};
use gst_ai_runtime::backend::zoo;
use gst_ai_runtime::dsp::resample::SampleFormat;
use gst_ai_runtime::tasks::lipsync::{self, AudioInput, FaceState, LipSyncer, Step, Window};

use super::settings::Settings;
use crate::common::{self, BadOutputWarnings, ElementError, RunCancel, Stats, bad_output, lock};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("ailipsync", gst::DebugColorFlags::empty(), Some("AI lip sync")));

/// The zoo's face detector, used when neither face-box nor face-model is set.
const DEFAULT_DETECTOR: &str = "retinaface";
/// The zoo's face mesh, which places the mouth on detected faces.
const FACE_MESH: &str = "face-mesh";
/// The zoo's voice-activity detector, used with voice-activity when voice-model is empty.
const DEFAULT_VAD: &str = "silero-vad";

/// The `stats` counters: frames animated, frames left for their face (by [`FaceState`]), and
/// how the face was followed.
/// What a frame gets when the model's output is unusable (`on-bad-output=fallback`).
pub(super) const FALLBACK: &str = "its face untouched (Wav2Lip models)";

const COUNTERS: &[&str] = &[
    bad_output::COUNTER,
    "animated",
    "unvoiced",
    "no-face",
    "too-small",
    "profile",
    "mouth-outside",
    "face-held",
    "face-lost",
    "detections",
    "tracked",
];

/// What sink events and flushes leave for the aggregate thread, applied before its next frame.
#[derive(Default)]
struct Pending {
    reset: bool,
    audio: Option<AudioInput>,
}

pub struct AiLipSync {
    video_pad: gst_base::AggregatorPad,
    audio_pad: Mutex<Option<gst_base::AggregatorPad>>,
    /// The video pad's caps (the source pad's) and what they say.
    video: Mutex<Option<(gst::Caps, VideoInfo)>>,
    settings: Mutex<Settings>,
    stats: Stats,
    bad_output: BadOutputWarnings,
    pending: Mutex<Pending>,
    /// The aggregate thread's.
    syncer: Mutex<Option<LipSyncer>>,
    /// The aggregate thread's: running time just after the last audio buffer (end-with-audio).
    audio_end: Mutex<Option<u64>>,
    /// Stops a model run in flight: triggered by FLUSH_START and PAUSED->READY, renewed after.
    cancel: RunCancel,
}

#[glib::object_subclass]
impl ObjectSubclass for AiLipSync {
    const NAME: &'static str = "GstAiLipSync";
    type Type = super::AiLipSync;
    type ParentType = gst_base::Aggregator;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("video").expect("video template");
        Self {
            video_pad: gst::PadBuilder::<gst_base::AggregatorPad>::from_template(&templ).build(),
            audio_pad: Mutex::new(None),
            video: Mutex::new(None),
            settings: Mutex::default(),
            stats: Stats::new("ai-lipsync-stats", COUNTERS, &[]),
            bad_output: BadOutputWarnings::default(),
            pending: Mutex::default(),
            syncer: Mutex::new(None),
            audio_end: Mutex::new(None),
            cancel: RunCancel::default(),
        }
    }
}

impl ObjectImpl for AiLipSync {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(Settings::pspecs);
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let name = pspec.name();
        let log = |w: &str| gst::warning!(CAT, imp = self, "{w}");
        let warn = |e: String| gst::element_imp_warning!(self, gst::LibraryError::Settings, ["{e}: ignored"]);
        if !lock(&self.settings).set(name, value, log, warn) {
            unreachable!("unknown property {name}");
        }
        gst::debug!(CAT, imp = self, "{name} set to {value:?}");
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "stats" => self.stats.structure().to_value(),
            name => lock(&self.settings).get(name).unwrap_or_else(|| unreachable!("unknown property {name}")),
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

    fn change_state(&self, t: gst::StateChange) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if t == gst::StateChange::PausedToReady {
            self.cancel.cancel();
        }
        self.parent_change_state(t)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let video = gst_video::VideoCapsBuilder::new().format_list(common::FORMATS).build();
            let audio = gst::Caps::builder("audio/x-raw")
                .field("format", gst::List::new(SampleFormat::NAMES))
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
    fn start_syncer(&self) -> Result<LipSyncer, gst::ErrorMessage> {
        let s = lock(&self.settings).clone();
        if let Some(why) = &s.face_box_invalid {
            return Err(gst::error_msg!(gst::LibraryError::Settings, ["ailipsync: {why}"]));
        }
        let element = self.obj();
        let load = |path: &str| -> Result<Arc<Model>, gst::ErrorMessage> {
            let (device, _) = s.model.resolve_device()?;
            let source = ModelSource::file(path)
                .map(|m| m.with_remote_options(s.model.remote_options()))
                .map_err(|e| common::start_error(&e))?;
            common::load_model(element.upcast_ref(), &source, device, Precision::Auto)
        };
        // Faces: the fixed box; else face-model; else the zoo's RetinaFace when the zoo has it.
        // A detected face's lips are read by the zoo's face mesh when the zoo has it.
        let detector = if s.lip.face_box.is_some() {
            None
        } else if !s.face_model.trim().is_empty() {
            Some(load(&s.face_model)?)
        } else if zoo::resolve(DEFAULT_DETECTOR).is_ok() {
            gst::info!(CAT, imp = self, "no face-box or face-model: faces found by zoo:{DEFAULT_DETECTOR}");
            Some(load(&format!("zoo:{DEFAULT_DETECTOR}"))?)
        } else {
            None
        };
        let mesh = match (&detector, zoo::resolve(FACE_MESH)) {
            (Some(_), Ok(_)) => Some(load(&format!("zoo:{FACE_MESH}"))?),
            (Some(_), Err(_)) => {
                gst::info!(CAT, imp = self, "zoo:{FACE_MESH} is missing: the mouth is placed from the face box");
                None
            }
            (None, _) => None,
        };
        let faces = s.lip.faces(detector, mesh).ok_or_else(|| {
            gst::error_msg!(
                gst::LibraryError::Settings,
                ["ailipsync needs a face: set face-box=\"<x, y, width, height>\" or face-model=<detector.onnx> \
                     (zoo:{DEFAULT_DETECTOR}, the default, is not in the zoo: run `make setup`)"]
            )
        })?;
        let model = (!s.model.model.trim().is_empty()).then(|| load(&s.model.model)).transpose()?;
        let mut syncer = LipSyncer::new(model, faces).map_err(|e| common::start_error(&e))?;
        let vad = if !s.voice_activity {
            None
        } else if !s.voice_model.trim().is_empty() {
            Some(load(&s.voice_model)?)
        } else if zoo::resolve(DEFAULT_VAD).is_ok() {
            Some(load(&format!("zoo:{DEFAULT_VAD}"))?)
        } else {
            gst::info!(CAT, imp = self, "zoo:{DEFAULT_VAD} is missing: any sound moves the mouth");
            None
        };
        if let Some(vad) = vad {
            syncer = syncer.with_voice_activity(vad).map_err(|e| common::start_error(&e))?;
        }
        if let Some(c) = syncer.contract() {
            gst::info!(CAT, imp = self, "Wav2Lip contract of {}: {c:?}", s.model.model);
        }
        Ok(syncer)
    }

    fn audio_input(caps: &gst::CapsRef) -> Result<AudioInput, ElementError> {
        let s = caps.structure(0).ok_or_else(|| ElementError::Negotiation("empty audio caps".into()))?;
        let positive = |name| s.get::<i32>(name).ok().filter(|&v| v > 0).map(|v| v as u32);
        match (s.get::<&str>("format").ok().and_then(SampleFormat::from_name), positive("rate"), positive("channels")) {
            (Some(format), Some(rate), Some(channels)) => Ok(AudioInput::new(format, rate, channels)?),
            _ => Err(ElementError::Negotiation(format!("audio caps {caps}: unsupported format, rate or channels"))),
        }
    }

    fn running_time(pad: &gst_base::AggregatorPad, buf: &gst::BufferRef) -> Option<u64> {
        let segment = pad.segment();
        let segment = segment.downcast_ref::<gst::ClockTime>()?;
        segment.to_running_time(buf.pts()?).map(|t| t.nseconds())
    }

    fn fail(&self, e: impl Into<ElementError>) -> gst::FlowError {
        common::post(&*self.obj(), "ailipsync", &e.into())
    }

    /// Posts `e` and refuses the event it came with.
    fn refuse(&self, e: ElementError) -> bool {
        let _ = self.fail(e);
        false
    }

    /// Takes the audio the audio pad holds into the syncer.
    fn pull_audio(&self, syncer: &mut LipSyncer, pad: &gst_base::AggregatorPad) -> Result<(), gst::FlowError> {
        while let Some(buf) = pad.pop_buffer() {
            if !syncer.has_audio_format() {
                return Err(self.fail(ElementError::Negotiation("audio buffer before audio caps".into())));
            }
            let rt = Self::running_time(pad, &buf);
            if let Some(t) = rt {
                let end = t + buf.duration().map_or(0, |d| d.nseconds());
                let mut last = lock(&self.audio_end);
                *last = Some(last.map_or(end, |e| e.max(end)));
            }
            let map = buf.map_readable().map_err(|e| self.fail(ElementError::Frame(format!("audio: {e}"))))?;
            if let Some(expected) = syncer.push_audio(rt, &map).map_err(|e| self.fail(e))? {
                gst::debug!(CAT, imp = self, "audio discontinuity: {rt:?} ns where {expected} ns was expected");
            }
        }
        if pad.is_eos() {
            syncer.end_audio().map_err(|e| self.fail(e))?;
        }
        Ok(())
    }
}

impl AggregatorImpl for AiLipSync {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let syncer = self.start_syncer()?;
        *lock(&self.syncer) = Some(syncer);
        *lock(&self.pending) = Pending::default();
        self.bad_output.reset();
        // As before: the built-in path runs no model, so a missing token is no reason to fail.
        let _ = self.cancel.start(true);
        self.stats.reset();
        let latency = gst::ClockTime::from_nseconds(lipsync::latency_ns());
        self.obj().set_latency(latency, Some(latency));
        self.parent_start()
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.syncer) = None;
        *lock(&self.video) = None;
        self.parent_stop()
    }

    fn create_new_pad(
        &self,
        templ: &gst::PadTemplate,
        req_name: Option<&str>,
        _caps: Option<&gst::Caps>,
    ) -> Option<gst_base::AggregatorPad> {
        let mut audio = lock(&self.audio_pad);
        if templ.name_template() != "audio" || req_name.is_some_and(|n| n != "audio") || audio.is_some() {
            gst::warning!(CAT, imp = self, "only one pad, \"audio\", can be requested");
            return None;
        }
        let pad = gst::PadBuilder::<gst_base::AggregatorPad>::from_template(templ).name("audio").build();
        *audio = Some(pad.clone());
        Some(pad)
    }

    fn sink_event(&self, pad: &gst_base::AggregatorPad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Caps(c) if pad == &self.video_pad => match VideoInfo::from_caps(c.caps()) {
                Ok(info) if common::require_progressive(&info).is_err() => {
                    return self.refuse(common::require_progressive(&info).expect_err("checked above"));
                }
                Ok(info) => {
                    *lock(&self.video) = Some((c.caps_owned(), info));
                    self.obj().src_pad().mark_reconfigure();
                }
                Err(e) => return self.refuse(ElementError::Negotiation(format!("video caps {}: {e}", c.caps()))),
            },
            gst::EventView::Caps(c) => match Self::audio_input(c.caps()) {
                Ok(input) => lock(&self.pending).audio = Some(input),
                Err(e) => return self.refuse(e),
            },
            gst::EventView::FlushStart(_) => self.cancel.cancel(),
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
        lock(&self.video).as_ref().map(|(caps, _)| caps.clone()).ok_or(gst_base::AGGREGATOR_FLOW_NEED_DATA)
    }

    fn flush(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        lock(&self.pending).reset = true;
        self.cancel.renew();
        self.parent_flush()
    }

    fn next_time(&self) -> Option<gst::ClockTime> {
        self.obj().simple_get_next_time()
    }

    fn aggregate(&self, timeout: bool) -> Result<gst::FlowSuccess, gst::FlowError> {
        let audio_pad = lock(&self.audio_pad).clone();
        let mut guard = lock(&self.syncer);
        let syncer = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let pending = std::mem::take(&mut *lock(&self.pending));
        if pending.reset {
            syncer.reset();
            *lock(&self.audio_end) = None;
        }
        if let Some(input) = pending.audio {
            syncer.set_audio_format(input);
        }
        if let Some(pad) = &audio_pad {
            self.pull_audio(syncer, pad)?;
        }
        let Some(buf) = self.video_pad.peek_buffer() else {
            if self.video_pad.is_eos() {
                self.stats.post(&*self.obj());
                return Err(gst::FlowError::Eos);
            }
            return Err(gst_base::AGGREGATOR_FLOW_NEED_DATA);
        };
        let rt = Self::running_time(&self.video_pad, &buf);
        // Avatar mode: a still picture (imagefreeze) never ends by itself; the speech does.
        let audio_ended = audio_pad.as_ref().is_some_and(|p| p.is_eos());
        if audio_ended && lock(&self.settings).end_with_audio {
            let end = *lock(&self.audio_end);
            if let (Some(t), Some(end)) = (rt, end)
                && t >= end
            {
                gst::debug!(CAT, imp = self, "end-with-audio: the audio ended at {end} ns, the video ends at {t} ns");
                self.stats.post(&*self.obj());
                return Err(gst::FlowError::Eos);
            }
        }
        let window = match syncer.step(rt, audio_pad.as_ref().map(|p| p.is_eos()), timeout) {
            Step::Wait => return Err(gst_base::AGGREGATOR_FLOW_NEED_DATA),
            Step::GiveUp => {
                gst::debug!(
                    CAT,
                    imp = self,
                    "audio for {rt:?} ns did not come in time (audio so far ends at {:?} ns)",
                    *lock(&self.audio_end)
                );
                if let Some(t) = rt {
                    syncer.passed(t);
                }
                Window::NoAudio
            }
            Step::Process(w) => w,
        };
        self.video_pad.drop_buffer();
        let info = lock(&self.video).as_ref().map(|(_, info)| info.clone());
        let info = info.ok_or_else(|| self.fail(ElementError::Negotiation("video buffer before video caps".into())))?;
        let (params, cancel) = (lock(&self.settings).params(), self.cancel.token());
        let t0 = Instant::now();
        let mut buf = buf;
        let animated = {
            let mut vframe = VideoFrameRef::from_buffer_ref_writable(buf.make_mut(), &info)
                .map_err(|e| self.fail(ElementError::Frame(e.to_string())))?;
            common::frame_view_mut(&mut vframe)
                .and_then(|mut frame| Ok(syncer.process(&mut frame, window, &params, cancel.as_ref())?))
                .map_err(|e| self.fail(e))?
        };
        // Counted before the engine is let go: a control path that wrongly waited for the engine
        // would then see the frame counted (what the ordering test checks).
        self.stats.frame(t0.elapsed().as_secs_f64() * 1000.0);
        self.stats.add("animated", u64::from(animated));
        if let Some(what) = syncer.take_bad_output() {
            self.bad_output.fell_back(self.obj().upcast_ref(), &self.stats, &what, FALLBACK);
        }
        self.stats.add("unvoiced", u64::from(syncer.unvoiced()));
        let face = syncer.face();
        let counter = match face.state {
            FaceState::NoFace => Some("no-face"),
            FaceState::TooSmall => Some("too-small"),
            FaceState::Profile => Some("profile"),
            FaceState::MouthOutside => Some("mouth-outside"),
            FaceState::Held => Some("face-held"),
            FaceState::Tracked => Some("tracked"),
            FaceState::Fixed | FaceState::Detected => None,
        };
        if let Some(c) = counter {
            self.stats.add(c, 1);
        }
        self.stats.add("face-lost", u64::from(face.lost));
        self.stats.add("detections", u64::from(face.detected));
        drop(guard);
        self.advance_position(&buf);
        self.obj().finish_buffer(buf)
    }
}

impl AiLipSync {
    /// Moves the output segment's position to the end of `buf`: the aggregator's live deadline
    /// for the next frame is that position plus the latency ([`next_time`](AggregatorImpl::next_time)).
    /// Left at the segment's start, the deadline of every frame after the first would lie in the
    /// past, and live frames would never wait for their audio.
    fn advance_position(&self, buf: &gst::Buffer) {
        let Some(pts) = buf.pts() else { return };
        let end = pts + buf.duration().unwrap_or(gst::ClockTime::ZERO);
        if let Ok(mut segment) = self.obj().src_pad().segment().downcast::<gst::ClockTime>() {
            segment.set_position(end);
            self.obj().update_segment(&segment);
        }
    }
}
