//! The implementation of `aisrc`. The model folder is read and its sessions loaded in `start`
//! (so a bad folder is an error at the state change); caps are fixated to the model's size and
//! frame rate and checked against what it can make in `set_caps`. The first `create` starts the
//! worker thread, which generates clip after clip into a one-clip queue, taking a snapshot of the
//! settings as each clip starts: a prompt changed while playing is used from the next clip the
//! worker begins. `create` hands out the queued clip's frames; `unlock` makes it return
//! `Flushing`, and `stop` tells the worker to give up at its next step.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_src::CreateSuccess;
use gst_base::subclass::prelude::*;

use gst_ai_kernels::{ChannelOrder, Layout, TensorSpec, ValueRange};
use gst_ai_runtime::tasks::t2v::scheduler::Kind;
use gst_ai_runtime::tasks::t2v::{Clip, Folder, Pipeline, Request};

use super::AiScheduler;
use crate::common::{self, lock};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("aisrc", gst::DebugColorFlags::empty(), Some("AI text-to-video source")));

const DEFAULT_PROMPT: &str = "a red circle moving right";
const DEFAULT_SEED: u64 = 0;
const DEFAULT_STEPS: u32 = 0;
const DEFAULT_GUIDANCE: f64 = -1.0;
const DEFAULT_SCHEDULER: AiScheduler = AiScheduler::Ddim;
const DEFAULT_ETA: f64 = 0.0;
const DEFAULT_NUM_FRAMES: u32 = 0;
const DEFAULT_STRENGTH: f64 = 0.8;
const DEFAULT_NUM_CLIPS: u32 = 1;
const DEFAULT_IS_LIVE: bool = false;

#[derive(Debug, Clone)]
struct Settings {
    prompt: String,
    negative_prompt: String,
    seed: u64,
    steps: u32,
    guidance: f64,
    scheduler: AiScheduler,
    eta: f64,
    num_frames: u32,
    model: String,
    image: String,
    strength: f64,
    num_clips: u32,
    is_live: bool,
    device: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            prompt: DEFAULT_PROMPT.into(),
            negative_prompt: String::new(),
            seed: DEFAULT_SEED,
            steps: DEFAULT_STEPS,
            guidance: DEFAULT_GUIDANCE,
            scheduler: DEFAULT_SCHEDULER,
            eta: DEFAULT_ETA,
            num_frames: DEFAULT_NUM_FRAMES,
            model: String::new(),
            image: String::new(),
            strength: DEFAULT_STRENGTH,
            num_clips: DEFAULT_NUM_CLIPS,
            is_live: DEFAULT_IS_LIVE,
            device: "auto".into(),
        }
    }
}

/// What the worker sends: a clip with the parameters it was made with, the end, or an error.
enum Msg {
    Clip(Box<Made>),
    Done,
    Error(String),
}

struct Made {
    index: u64,
    clip: Clip,
    request: Request,
}

struct Worker {
    rx: Receiver<Msg>,
    stop: Arc<AtomicBool>,
}

struct State {
    pipeline: Arc<Pipeline>,
    info: Option<gst_video::VideoInfo>,
    frames_per_clip: usize,
    worker: Option<Worker>,
    /// The clip being played out and the index of its next frame.
    current: Option<(Box<Made>, usize)>,
    /// Frames pushed since start.
    frame: u64,
    /// Live mode: the running time of frame 0 and the offset added after late clips.
    live_base: Option<gst::ClockTime>,
}

#[derive(Default)]
struct Stats {
    clips: u64,
    frames: u64,
    last_clip_s: f64,
    last_step_s: f64,
}

#[derive(Default)]
pub struct AiSrc {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    flushing: AtomicBool,
    stats: Mutex<Stats>,
}

#[glib::object_subclass]
impl ObjectSubclass for AiSrc {
    const NAME: &'static str = "GstAiSrc";
    type Type = super::AiSrc;
    type ParentType = gst_base::PushSrc;
}

impl ObjectImpl for AiSrc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("prompt")
                    .nick("Prompt")
                    .blurb(
                        "What to generate. The built-in model knows the words listed in models/t2v_builtin.md \
                         (red, green, blue, yellow; circle, square; moving left, right, up, down); other words \
                         get a warning. Longer than the tokenizer's 77 tokens: cut, with a warning. Changes \
                         while playing apply from the next clip",
                    )
                    .default_value(Some(DEFAULT_PROMPT))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("negative-prompt")
                    .nick("Negative prompt")
                    .blurb("What to steer away from (the unconditional side of classifier-free guidance)")
                    .default_value(Some(""))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt64::builder("seed")
                    .nick("Seed")
                    .blurb(
                        "Seed of the initial noise; clip k uses seed + k. Same seed and parameters on the same \
                         device give bit-identical frames",
                    )
                    .default_value(DEFAULT_SEED)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("steps")
                    .nick("Steps")
                    .blurb("Denoising steps per clip; 0: the model's recommendation (25 for the built-in model)")
                    .maximum(1000)
                    .default_value(DEFAULT_STEPS)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("guidance-scale")
                    .nick("Guidance scale")
                    .blurb(
                        "Classifier-free guidance weight w: eps = uncond + w (cond - uncond); 1 or less turns \
                         guidance off (one UNet batch row instead of two); negative: the model's \
                         recommendation (5 for the built-in model, 9 for folders that do not say)",
                    )
                    .minimum(-1.0)
                    .maximum(100.0)
                    .default_value(DEFAULT_GUIDANCE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("scheduler", DEFAULT_SCHEDULER)
                    .nick("Scheduler")
                    .blurb("Denoising scheduler, configured from the model's scheduler_config.json")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("eta")
                    .nick("Eta")
                    .blurb("DDIM's eta: 0 is deterministic DDIM, 1 is DDPM-like fresh noise at each step")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_ETA)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("num-frames")
                    .nick("Frames per clip")
                    .blurb("Frames per clip; 0: the model's recommendation (8 for the built-in model)")
                    .maximum(1024)
                    .default_value(DEFAULT_NUM_FRAMES)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb(
                        "A diffusers / Optimum ONNX text-to-video folder: model_index.json, scheduler/, \
                         tokenizer/ (vocab.json + merges.txt or tokenizer.json), text_encoder/model.onnx, \
                         unet/model.onnx (5-D latents; external weights beside it), vae_decoder/model.onnx \
                         (vae_encoder/model.onnx for image-to-video). Empty: the built-in model",
                    )
                    .default_value(Some(""))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("image")
                    .nick("Start image")
                    .blurb(
                        "Image-to-video: a picture file (any format GStreamer decodes), scaled to the output \
                         size, encoded and noised to `strength` as every frame's start. Empty: text only",
                    )
                    .default_value(Some(""))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("strength")
                    .nick("Strength")
                    .blurb(
                        "Image-to-video: how much of the denoising is redone (1: from pure noise, the image \
                         hardly matters; 0: the image itself)",
                    )
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_STRENGTH)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("num-clips")
                    .nick("Clips")
                    .blurb("Clips to generate before EOS; 0: generate until stopped")
                    .default_value(DEFAULT_NUM_CLIPS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("is-live")
                    .nick("Live")
                    .blurb(
                        "Act as a live source: frames are timestamped with the running time at which they are \
                         ready and played in real time; a clip that is late leaves a gap (marked DISCONT)",
                    )
                    .default_value(DEFAULT_IS_LIVE)
                    .mutable_ready()
                    .build(),
                common::device_pspec(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb("clips, frames, seconds-per-clip and seconds-per-step of the last clip")
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        match pspec.name() {
            "prompt" => s.prompt = value.get::<Option<String>>().unwrap_or_default().unwrap_or_default(),
            "negative-prompt" => {
                s.negative_prompt = value.get::<Option<String>>().unwrap_or_default().unwrap_or_default()
            }
            "seed" => s.seed = value.get().unwrap_or(DEFAULT_SEED),
            "steps" => s.steps = value.get().unwrap_or(DEFAULT_STEPS),
            "guidance-scale" => s.guidance = value.get().unwrap_or(DEFAULT_GUIDANCE),
            "scheduler" => s.scheduler = value.get().unwrap_or(DEFAULT_SCHEDULER),
            "eta" => s.eta = value.get().unwrap_or(DEFAULT_ETA),
            "num-frames" => s.num_frames = value.get().unwrap_or(DEFAULT_NUM_FRAMES),
            "model" => s.model = value.get::<Option<String>>().unwrap_or_default().unwrap_or_default(),
            "image" => s.image = value.get::<Option<String>>().unwrap_or_default().unwrap_or_default(),
            "strength" => s.strength = value.get().unwrap_or(DEFAULT_STRENGTH),
            "num-clips" => s.num_clips = value.get().unwrap_or(DEFAULT_NUM_CLIPS),
            "is-live" => {
                s.is_live = value.get().unwrap_or(DEFAULT_IS_LIVE);
                let live = s.is_live;
                drop(s);
                self.obj().set_live(live);
            }
            "device" => s.device = value.get::<Option<String>>().unwrap_or_default().unwrap_or_else(|| "auto".into()),
            other => gst::warning!(CAT, imp = self, "unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "stats" {
            let st = lock(&self.stats);
            return gst::Structure::builder("aisrc-stats")
                .field("clips", st.clips)
                .field("frames", st.frames)
                .field("seconds-per-clip", st.last_clip_s)
                .field("seconds-per-step", st.last_step_s)
                .build()
                .to_value();
        }
        let s = lock(&self.settings);
        match pspec.name() {
            "prompt" => s.prompt.to_value(),
            "negative-prompt" => s.negative_prompt.to_value(),
            "seed" => s.seed.to_value(),
            "steps" => s.steps.to_value(),
            "guidance-scale" => s.guidance.to_value(),
            "scheduler" => s.scheduler.to_value(),
            "eta" => s.eta.to_value(),
            "num-frames" => s.num_frames.to_value(),
            "model" => s.model.to_value(),
            "image" => s.image.to_value(),
            "strength" => s.strength.to_value(),
            "num-clips" => s.num_clips.to_value(),
            "is-live" => s.is_live.to_value(),
            "device" => s.device.to_value(),
            _ => glib::Value::from_type(pspec.value_type()),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.set_format(gst::Format::Time);
        obj.set_live(DEFAULT_IS_LIVE);
    }
}

impl GstObjectImpl for AiSrc {}

impl ElementImpl for AiSrc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "AI text-to-video source",
                "Source/Video",
                "Generates video clips from a text prompt (and optionally a start image) with a diffusion model",
                "gst-ai developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst_video::VideoCapsBuilder::new().format_list(common::FORMATS).build();
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &caps)
                    .expect("src template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl AiSrc {
    /// The request a clip is made with, from a snapshot of the settings.
    fn request(
        &self,
        s: &Settings,
        pipeline: &Pipeline,
        clip: u64,
        info: &gst_video::VideoInfo,
        frames: usize,
    ) -> Request {
        let d = &pipeline.folder.defaults;
        Request {
            prompt: s.prompt.clone(),
            negative_prompt: s.negative_prompt.clone(),
            seed: s.seed.wrapping_add(clip),
            steps: if s.steps == 0 { d.steps } else { s.steps as usize },
            guidance: if s.guidance < 0.0 { d.guidance } else { s.guidance },
            scheduler: match s.scheduler {
                AiScheduler::Ddim => Kind::Ddim,
                AiScheduler::Euler => Kind::Euler,
            },
            eta: s.eta,
            frames,
            width: info.width() as usize,
            height: info.height() as usize,
            image: None,
            strength: s.strength,
        }
    }

    fn start_worker(&self, state: &mut State) {
        let (tx, rx) = sync_channel::<Msg>(1);
        let stop = Arc::new(AtomicBool::new(false));
        let info = state.info.clone().expect("caps are set before create");
        let pipeline = state.pipeline.clone();
        let frames = state.frames_per_clip;
        let element = self.obj().downgrade();
        let stop_w = stop.clone();
        let num_clips = lock(&self.settings).num_clips;
        let spawned = std::thread::Builder::new().name("aisrc-worker".into()).spawn(move || {
            worker(element, pipeline, info, frames, num_clips, tx, stop_w);
        });
        if let Err(e) = spawned {
            gst::element_imp_error!(self, gst::CoreError::Thread, ["aisrc: cannot start the worker thread: {e}"]);
        }
        state.worker = Some(Worker { rx, stop });
    }

    fn post_warning(element: &super::AiSrc, text: String) {
        gst::element_warning!(element, gst::LibraryError::Settings, ("{}", text));
    }

    fn tags(&self, made: &Made, pipeline: &Pipeline) -> gst::TagList {
        let r = &made.request;
        let scheduler = match r.scheduler {
            Kind::Ddim => "ddim",
            Kind::Euler => "euler",
        };
        let params = format!(
            "prompt={:?} negative-prompt={:?} seed={} steps={} guidance-scale={} scheduler={scheduler} eta={} \
             model={} model-hash=fnv1a64:{}{}",
            r.prompt,
            r.negative_prompt,
            r.seed,
            r.steps,
            r.guidance,
            r.eta,
            pipeline.folder.name,
            pipeline.folder.hash,
            if r.image.is_some() { format!(" strength={}", r.strength) } else { String::new() }
        );
        let mut tags = gst::TagList::new();
        {
            let t = tags.get_mut().expect("new tag list");
            t.add::<gst::tags::Title>(&r.prompt.as_str(), gst::TagMergeMode::Replace);
            t.add::<gst::tags::Comment>(&params.as_str(), gst::TagMergeMode::Replace);
            t.add::<gst::tags::Description>(&params.as_str(), gst::TagMergeMode::Replace);
            t.add::<gst::tags::Encoder>(&"gst-ai aisrc", gst::TagMergeMode::Replace);
            for (k, v) in [
                ("seed", r.seed.to_string()),
                ("steps", r.steps.to_string()),
                ("scheduler", scheduler.to_string()),
                ("model-hash", format!("fnv1a64:{}", pipeline.folder.hash)),
            ] {
                t.add::<gst::tags::ExtendedComment>(&format!("aisrc-{k}={v}").as_str(), gst::TagMergeMode::Append);
            }
            // Global: what muxers store as the file's metadata (stream tags are often dropped).
            t.set_scope(gst::TagScope::Global);
        }
        tags
    }
}

/// The worker thread: generates clips until `num_clips` (0: forever) or until told to stop.
fn worker(
    element: glib::WeakRef<super::AiSrc>,
    pipeline: Arc<Pipeline>,
    info: gst_video::VideoInfo,
    frames: usize,
    num_clips: u32,
    tx: SyncSender<Msg>,
    stop: Arc<AtomicBool>,
) {
    let mut warned_prompt: Option<String> = None;
    // The decoded start image, kept while its path and modification time stay the same: decoding
    // it runs a whole GStreamer pipeline, which every clip need not repeat.
    type Key = (String, Option<std::time::SystemTime>);
    let mut start_image: Option<(Key, Vec<f32>)> = None;
    let mut clip: u64 = 0;
    while num_clips == 0 || clip < num_clips as u64 {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(el) = element.upgrade() else { return };
        let imp = el.imp();
        let settings = lock(&imp.settings).clone();
        let mut request = imp.request(&settings, &pipeline, clip, &info, frames);
        if warned_prompt.as_deref() != Some(settings.prompt.as_str()) {
            warned_prompt = Some(settings.prompt.clone());
            if settings.prompt.trim().is_empty() {
                AiSrc::post_warning(&el, "aisrc: the prompt is empty: generating without a text condition".into());
            }
            let (_, cut) = pipeline.tokenize(&settings.prompt);
            if !cut.is_empty() {
                AiSrc::post_warning(
                    &el,
                    format!(
                        "aisrc: the prompt is longer than the tokenizer's {} tokens; cut off: {}",
                        pipeline.folder.tokenizer.max_len,
                        cut.join(" ")
                    ),
                );
            }
            let unknown = pipeline.folder.unknown_words(&settings.prompt);
            if !unknown.is_empty() {
                AiSrc::post_warning(
                    &el,
                    format!(
                        "aisrc: the {} model does not know these words, which will be ignored or misread: {}",
                        pipeline.folder.name,
                        unknown.join(", ")
                    ),
                );
            }
        }
        if !settings.image.is_empty() {
            let key = (settings.image.clone(), std::fs::metadata(&settings.image).and_then(|m| m.modified()).ok());
            match start_image.as_ref().filter(|(k, _)| *k == key) {
                Some((_, img)) => request.image = Some(img.clone()),
                None => match super::image::load(&settings.image, request.width, request.height) {
                    Ok(img) => {
                        request.image = Some(img.clone());
                        start_image = Some((key, img));
                    }
                    Err(e) => {
                        let _ = tx.send(Msg::Error(format!("aisrc: {e}")));
                        return;
                    }
                },
            }
        }
        drop(el);
        let t0 = Instant::now();
        let mut last = Instant::now();
        let weak = element.clone();
        let result = pipeline.generate(&request, None, None, &mut |step, steps, timestep| {
            let step_s = last.elapsed().as_secs_f64();
            last = Instant::now();
            if let Some(el) = weak.upgrade() {
                let s = gst::Structure::builder("aisrc-step")
                    .field("clip", clip)
                    .field("step", step as u32)
                    .field("steps", steps as u32)
                    .field("timestep", timestep)
                    .field("seconds", step_s)
                    .build();
                let _ = el.post_message(gst::message::Element::builder(s).src(&el).build());
            }
            !stop.load(Ordering::SeqCst)
        });
        let seconds = t0.elapsed().as_secs_f64();
        match result {
            Ok(c) => {
                if let Some(el) = element.upgrade() {
                    let mut st = lock(&el.imp().stats);
                    st.clips += 1;
                    st.last_clip_s = seconds;
                    st.last_step_s = seconds / request.steps.max(1) as f64;
                    drop(st);
                    let s = gst::Structure::builder("aisrc-clip")
                        .field("clip", clip)
                        .field("frames", c.frames as u32)
                        .field("seconds", seconds)
                        .field("prompt", request.prompt.as_str())
                        .field("seed", request.seed)
                        .build();
                    let _ = el.post_message(gst::message::Element::builder(s).src(&el).build());
                }
                let made = Made { index: clip, clip: c, request: Request { image: None, ..request } };
                if tx.send(Msg::Clip(Box::new(made))).is_err() {
                    return;
                }
            }
            Err(gst_ai_runtime::Error::Cancelled) => return,
            Err(e) => {
                let _ = tx.send(Msg::Error(format!("aisrc: generation failed: {e}")));
                return;
            }
        }
        clip += 1;
    }
    let _ = tx.send(Msg::Done);
}

impl BaseSrcImpl for AiSrc {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = lock(&self.settings).clone();
        let (device, why) = common::resolve_device(&s.device)?;
        gst::info!(CAT, imp = self, "device {device} ({why})");
        let t0 = Instant::now();
        let folder = Folder::from_property(&s.model).map_err(|e| common::start_error(&e))?;
        let pipeline = Pipeline::load(folder, device).map_err(|e| common::start_error(&e))?;
        gst::info!(
            CAT,
            imp = self,
            "model {} loaded in {:.2} s: latents {} channels, VAE x{}",
            pipeline.folder.name,
            t0.elapsed().as_secs_f64(),
            pipeline.latent_channels,
            pipeline.vae_factor
        );
        let frames = if s.num_frames == 0 { pipeline.folder.defaults.frames } else { s.num_frames as usize };
        self.obj().set_live(s.is_live);
        *lock(&self.stats) = Stats::default();
        *lock(&self.state) = Some(State {
            pipeline: Arc::new(pipeline),
            info: None,
            frames_per_clip: frames,
            worker: None,
            current: None,
            frame: 0,
            live_base: None,
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(state) = lock(&self.state).take()
            && let Some(w) = state.worker
        {
            // The worker notices at its next step; it is not waited for (a step of a large model
            // can take seconds), and exits when its send fails on the dropped receiver.
            w.stop.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    fn is_seekable(&self) -> bool {
        false
    }

    fn fixate(&self, mut caps: gst::Caps) -> gst::Caps {
        let defaults = lock(&self.state).as_ref().map(|s| s.pipeline.folder.defaults.clone());
        if let Some(d) = defaults {
            caps.truncate();
            if let Some(s) = caps.make_mut().structure_mut(0) {
                s.fixate_field_nearest_int("width", d.width as i32);
                s.fixate_field_nearest_int("height", d.height as i32);
                if s.has_field("framerate") {
                    s.fixate_field_nearest_fraction("framerate", gst::Fraction::new(d.fps.0, d.fps.1));
                } else {
                    s.set("framerate", gst::Fraction::new(d.fps.0, d.fps.1));
                }
            }
        }
        self.parent_fixate(caps)
    }

    fn set_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info =
            gst_video::VideoInfo::from_caps(caps).map_err(|_| gst::loggable_error!(CAT, "invalid caps {caps}"))?;
        if common::rate_of(info.fps()).is_none() {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ["aisrc: the frame rate must be positive (found {}), e.g. video/x-raw,framerate=8/1", info.fps()]
            );
            return Err(gst::loggable_error!(CAT, "variable frame rate"));
        }
        let mut guard = lock(&self.state);
        let state = guard.as_mut().ok_or_else(|| gst::loggable_error!(CAT, "caps before start"))?;
        if let Err(e) = state.pipeline.check_size(state.frames_per_clip, info.width() as usize, info.height() as usize)
        {
            drop(guard);
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["aisrc: {e}"]);
            return Err(gst::loggable_error!(CAT, "{e}"));
        }
        if state.info.as_ref().is_some_and(|old| old != &info) && state.worker.is_some() {
            // A size change mid-stream: clips made for the old size are dropped.
            if let Some(w) = state.worker.take() {
                w.stop.store(true, Ordering::SeqCst);
            }
            state.current = None;
        }
        gst::debug!(CAT, imp = self, "caps {caps}");
        state.info = Some(info);
        Ok(())
    }

    fn query(&self, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let guard = lock(&self.state);
            let rate = guard.as_ref().and_then(|s| s.info.as_ref()).and_then(|i| common::rate_of(i.fps()));
            let live = lock(&self.settings).is_live;
            if let Some(rate) = rate {
                let frame = gst::ClockTime::from_nseconds(rate.frame_start_ns(1));
                q.set(live, if live { frame } else { gst::ClockTime::ZERO }, None);
                return true;
            }
            return false;
        }
        BaseSrcImplExt::parent_query(self, query)
    }

    fn unlock(&self) -> Result<(), gst::ErrorMessage> {
        self.flushing.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn unlock_stop(&self) -> Result<(), gst::ErrorMessage> {
        self.flushing.store(false, Ordering::SeqCst);
        Ok(())
    }

    fn times(&self, buffer: &gst::BufferRef) -> (Option<gst::ClockTime>, Option<gst::ClockTime>) {
        if !lock(&self.settings).is_live {
            return (None, None);
        }
        match (buffer.pts(), buffer.duration()) {
            (Some(pts), Some(d)) => (Some(pts), Some(pts + d)),
            (pts, _) => (pts, None),
        }
    }
}

impl PushSrcImpl for AiSrc {
    fn create(&self, _buffer: Option<&mut gst::BufferRef>) -> Result<CreateSuccess, gst::FlowError> {
        let mut guard = lock(&self.state);
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        if state.worker.is_none() {
            self.start_worker(state);
        }
        let mut new_clip = None;
        if state.current.as_ref().is_none_or(|(m, next)| *next >= m.clip.frames) {
            let rx = &state.worker.as_ref().ok_or(gst::FlowError::Error)?.rx;
            let msg = loop {
                if self.flushing.load(Ordering::SeqCst) {
                    return Err(gst::FlowError::Flushing);
                }
                match rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(m) => break m,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => {
                        drop(guard);
                        gst::element_imp_error!(self, gst::StreamError::Failed, ["aisrc: the worker thread ended"]);
                        return Err(gst::FlowError::Error);
                    }
                }
            };
            match msg {
                Msg::Clip(made) => {
                    new_clip = Some(self.tags(&made, &state.pipeline));
                    gst::debug!(CAT, imp = self, "clip {} ready", made.index);
                    state.current = Some((made, 0));
                }
                Msg::Done => {
                    gst::debug!(CAT, imp = self, "all clips done: EOS");
                    return Err(gst::FlowError::Eos);
                }
                Msg::Error(e) => {
                    drop(guard);
                    gst::element_imp_error!(self, gst::StreamError::Failed, ["{e}"]);
                    return Err(gst::FlowError::Error);
                }
            }
        }
        let (made, next) = state.current.as_mut().ok_or(gst::FlowError::Error)?;
        let clip = &made.clip;
        if clip.width != info.width() as usize || clip.height != info.height() as usize {
            gst::element_imp_error!(
                self,
                gst::StreamError::Failed,
                [
                    "aisrc: the model made {}x{} frames for {}x{} caps",
                    clip.width,
                    clip.height,
                    info.width(),
                    info.height()
                ]
            );
            return Err(gst::FlowError::Error);
        }
        let mut buffer = gst::Buffer::with_size(info.size()).map_err(|_| gst::FlowError::Error)?;
        {
            let buf = buffer.get_mut().ok_or(gst::FlowError::Error)?;
            let mut vframe =
                gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &info).map_err(|_| gst::FlowError::Error)?;
            let mut view = common::frame_view_mut(&mut vframe).map_err(|e| {
                gst::element_imp_error!(self, gst::CoreError::Negotiation, ["{e}"]);
                gst::FlowError::NotNegotiated
            })?;
            let spec = TensorSpec { layout: Layout::Nchw, range: ValueRange::Signed, order: ChannelOrder::Rgb };
            gst_ai_kernels::unpack(clip.frame(*next), clip.width, clip.height, spec, 0, 0, &mut view).map_err(|e| {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["aisrc: {e}"]);
                gst::FlowError::Error
            })?;
        }
        let rate = common::rate_of(info.fps()).ok_or(gst::FlowError::NotNegotiated)?;
        let at = |n: u64| gst::ClockTime::from_nseconds(rate.frame_start_ns(n));
        let n = state.frame;
        let (mut pts, duration) = (at(n), at(n + 1) - at(n));
        let mut discont = n == 0;
        let live = lock(&self.settings).is_live;
        if live {
            let obj = self.obj();
            let now = obj.clock().and_then(|c| Some(c.time() - obj.base_time()?));
            let base = *state.live_base.get_or_insert(now.unwrap_or_default());
            let mut t = base + pts;
            if let Some(now) = now.filter(|&now| now > t + duration) {
                // Late (the worker fell behind): restart the timeline at now.
                state.live_base = Some(now - pts);
                t = now;
                discont = true;
            }
            pts = t;
        }
        {
            let buf = buffer.get_mut().ok_or(gst::FlowError::Error)?;
            buf.set_pts(pts);
            buf.set_duration(duration);
            buf.set_offset(n);
            buf.set_offset_end(n + 1);
            if discont {
                buf.set_flags(gst::BufferFlags::DISCONT);
            }
        }
        *next += 1;
        state.frame += 1;
        drop(guard);
        lock(&self.stats).frames += 1;
        if let Some(tags) = new_clip {
            // Queued by the base class and pushed before this buffer, after the segment.
            self.obj().send_event(gst::event::Tag::new(tags));
        }
        Ok(CreateSuccess::NewBuffer(buffer))
    }
}
