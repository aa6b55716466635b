//! The implementation of `aisrc`. The model is loaded in `start` (a bad folder is an error at the
//! state change); caps are fixated to the model's size and rate and checked against what it can
//! make in `set_caps`. The first `create` starts the runtime's generator worker, which takes a
//! snapshot of the settings as it begins each clip (a prompt changed while playing applies from
//! the next clip begun) and queues one clip ahead; `create` hands out its frames.
//!
//! Locks: `settings`, `stats`, `loaded` (the model and the negotiated caps, read by fixate,
//! set_caps, the latency query and create) and `control` (the worker handle) are taken only to
//! copy or change a value, never while a clip is awaited. `stream` is the streaming thread's,
//! held by `create` while it waits for a clip (which `unlock` ends at once); `start` and `stop`
//! take it when no buffer flows. `stop` cancels the clip under way and joins the worker.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_src::CreateSuccess;
use gst_base::subclass::prelude::*;

use gst_ai_kernels::{ChannelOrder, Layout, TensorSpec, ValueRange};
use gst_ai_runtime::backend::model::ModelSource;
use gst_ai_runtime::tasks::t2v::worker::{Event, Made, Next, Worker};
use gst_ai_runtime::tasks::t2v::{Folder, Pipeline, Request};

use super::image::{FLAT_SHARE_MIN, StartImage};
use super::settings::{DEFAULT_IS_LIVE, Settings};
use crate::common::{self, ElementError, Stats, lock};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("aisrc", gst::DebugColorFlags::empty(), Some("AI text-to-video source")));

/// The loaded model and the negotiated caps: what control paths read.
struct Loaded {
    pipeline: Arc<Pipeline>,
    frames_per_clip: usize,
    info: Option<gst_video::VideoInfo>,
}

type ClipWorker = Worker<ElementError>;

/// The worker handle and whether the streaming thread is being unblocked (`unlock` to
/// `unlock_stop`), changed together so that a worker started during a flush is interrupted too.
#[derive(Default)]
struct Control {
    worker: Option<Arc<ClipWorker>>,
    flushing: bool,
}

/// The streaming thread's.
#[derive(Default)]
struct Stream {
    /// The clip being played out and the index of its next frame.
    current: Option<(Box<Made>, usize)>,
    /// The size the worker makes clips at.
    size: Option<(u32, u32)>,
    /// Frames pushed since start.
    frame: u64,
    /// Live mode: the running time of frame 0, moved on after late clips.
    live_base: Option<gst::ClockTime>,
}

pub struct AiSrc {
    settings: Mutex<Settings>,
    loaded: Mutex<Option<Loaded>>,
    control: Mutex<Control>,
    stream: Mutex<Stream>,
    stats: Stats,
}

impl Default for AiSrc {
    fn default() -> Self {
        Self {
            settings: Mutex::default(),
            loaded: Mutex::default(),
            control: Mutex::default(),
            stream: Mutex::default(),
            stats: Stats::new("aisrc-stats", &["clips"], &["seconds-per-clip", "seconds-per-step"]),
        }
    }
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
            let mut v = Settings::pspecs();
            v.push(
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb(
                        "clips, frames, seconds-per-clip and seconds-per-step of the last clip, and the time \
                         create took per frame, the wait for its clip included (mean-ms, p95-ms, fps)",
                    )
                    .read_only()
                    .build(),
            );
            v
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        let name = pspec.name();
        assert!(s.set(name, value, |w| gst::warning!(CAT, imp = self, "{w}")), "unknown property {name}");
        let live = s.is_live;
        drop(s);
        if name == "is-live" {
            self.obj().set_live(live);
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "stats" => self.stats.structure().to_value(),
            name => lock(&self.settings).get(name).unwrap_or_else(|| unreachable!("unknown property {name}")),
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

    fn send_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::Eos(_) = event.view() {
            self.stats.post(&*self.obj());
        }
        self.parent_send_event(event)
    }
}

impl AiSrc {
    /// A worker making clips of `info`'s size from the settings as they are when each clip
    /// begins, its progress posted as messages.
    fn spawn(&self, pipeline: Arc<Pipeline>, info: &gst_video::VideoInfo) -> Result<ClipWorker, ElementError> {
        let (width, height) = (info.width() as usize, info.height() as usize);
        let clips = lock(&self.settings).num_clips as u64;
        let obj = self.obj();
        let (weak, weak_events, defaults) = (obj.downgrade(), obj.downgrade(), pipeline.folder.defaults.clone());
        let mut start_image = StartImage::default();
        let builtin = matches!(pipeline.folder.unet, ModelSource::Builtin { .. });
        let next = move |clip: u64| -> Result<Request, ElementError> {
            let el = weak.upgrade().ok_or(ElementError::Runtime(gst_ai_runtime::Error::Cancelled))?;
            let s = lock(&el.imp().settings).clone();
            let mut r = s.request(&defaults, clip, width, height);
            if !s.image.is_empty() {
                let image = start_image.load(&s.image, width, height).map_err(ElementError::Settings)?;
                if builtin && image.fresh && image.flat < FLAT_SHARE_MIN {
                    let text = super::image::photograph_warning(&s.image, image.flat);
                    gst::element_warning!(el, gst::LibraryError::Settings, ("aisrc: {text}"));
                }
                r.image = Some(image.data);
            }
            Ok(r)
        };
        let on_event = move |e: Event<'_>| {
            if let Some(el) = weak_events.upgrade() {
                el.imp().post_progress(e);
            }
        };
        Ok(Worker::spawn(&format!("aisrc {}", obj.name()), pipeline, clips, next, on_event)?)
    }

    fn post_progress(&self, e: Event<'_>) {
        let s = match e {
            Event::Warning { text, .. } => {
                gst::element_imp_warning!(self, gst::LibraryError::Settings, ("aisrc: {text}"));
                return;
            }
            Event::Step { clip, step, steps, timestep, seconds } => gst::Structure::builder("aisrc-step")
                .field("clip", clip)
                .field("step", step as u32)
                .field("steps", steps as u32)
                .field("timestep", timestep)
                .field("seconds", seconds)
                .build(),
            Event::Clip { made, seconds } => {
                self.stats.add("clips", 1);
                self.stats.set("seconds-per-clip", seconds);
                self.stats.set("seconds-per-step", seconds / made.request.steps.max(1) as f64);
                gst::Structure::builder("aisrc-clip")
                    .field("clip", made.index)
                    .field("frames", made.clip.frames as u32)
                    .field("seconds", seconds)
                    .field("prompt", made.request.prompt.as_str())
                    .field("seed", made.request.seed)
                    .build()
            }
        };
        let obj = self.obj();
        let _ = obj.post_message(gst::message::Element::builder(s).src(&*obj).build());
    }

    /// Replaces the worker by one making clips of `info`'s size: at the first buffer, and when
    /// the caps change size mid-stream (clips made for the old size are dropped).
    fn restart(
        &self,
        stream: &mut Stream,
        pipeline: Arc<Pipeline>,
        info: &gst_video::VideoInfo,
    ) -> Result<(), ElementError> {
        let old = lock(&self.control).worker.take();
        if let Some(old) = old {
            old.stop();
        }
        stream.current = None;
        let worker = Arc::new(self.spawn(pipeline, info)?);
        let mut control = lock(&self.control);
        worker.interrupt(control.flushing);
        control.worker = Some(worker);
        stream.size = Some((info.width(), info.height()));
        Ok(())
    }

    fn set_flushing(&self, on: bool) {
        let mut control = lock(&self.control);
        control.flushing = on;
        if let Some(w) = control.worker.as_ref() {
            w.interrupt(on);
        }
    }

    /// The current clip's next frame in the negotiated format, timestamped.
    fn render(&self, stream: &mut Stream, info: &gst_video::VideoInfo) -> Result<gst::Buffer, ElementError> {
        let (made, next) = stream.current.as_mut().ok_or_else(|| ElementError::Frame("no clip to read".into()))?;
        let clip = &made.clip;
        let mut buffer = gst::Buffer::with_size(info.size()).map_err(|e| ElementError::Frame(e.to_string()))?;
        {
            let mut vframe = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer.make_mut(), info)
                .map_err(|e| ElementError::Frame(e.to_string()))?;
            let mut view = common::frame_view_mut(&mut vframe)?;
            let spec = TensorSpec { layout: Layout::Nchw, range: ValueRange::Signed, order: ChannelOrder::Rgb };
            gst_ai_kernels::unpack(clip.frame(*next), clip.width, clip.height, spec, 0, 0, &mut view)?;
        }
        *next += 1;
        let n = stream.frame;
        stream.frame += 1;
        let rate = common::rate_of(info.fps()).ok_or_else(|| ElementError::Negotiation("no frame rate".into()))?;
        let at = |n: u64| gst::ClockTime::from_nseconds(rate.frame_start_ns(n));
        let (mut pts, duration) = (at(n), at(n + 1) - at(n));
        let mut discont = n == 0;
        if lock(&self.settings).is_live {
            let obj = self.obj();
            let now = obj.clock().and_then(|c| Some(c.time() - obj.base_time()?));
            let base = *stream.live_base.get_or_insert(now.unwrap_or_default());
            let mut t = base + pts;
            if let Some(now) = now.filter(|&now| now > t + duration) {
                // Late (the worker fell behind): restart the timeline at now.
                stream.live_base = Some(now - pts);
                t = now;
                discont = true;
            }
            pts = t;
        }
        let buf = buffer.make_mut();
        buf.set_pts(pts);
        buf.set_duration(duration);
        buf.set_offset(n);
        buf.set_offset_end(n + 1);
        if discont {
            buf.set_flags(gst::BufferFlags::DISCONT);
        }
        Ok(buffer)
    }
}

impl BaseSrcImpl for AiSrc {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = lock(&self.settings).clone();
        let (device, why) = s.model.resolve_device()?;
        gst::info!(CAT, imp = self, "device {device} ({why})");
        let t0 = Instant::now();
        let folder = Folder::from_property(&s.model.model)
            .map(|f| f.with_remote_options(s.model.remote_options()))
            .map_err(|e| common::start_error(&e))?;
        let pipeline = Pipeline::load(folder, device).map_err(|e| common::start_error(&e))?;
        let (name, seconds) = (&pipeline.folder.name, t0.elapsed().as_secs_f64());
        gst::info!(CAT, imp = self, "model {name} loaded in {seconds:.2} s, VAE x{}", pipeline.vae_factor);
        let frames = s.frames(&pipeline.folder.defaults);
        self.obj().set_live(s.is_live);
        self.stats.reset();
        *lock(&self.stream) = Stream::default();
        *lock(&self.loaded) = Some(Loaded { pipeline: Arc::new(pipeline), frames_per_clip: frames, info: None });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        let worker = lock(&self.control).worker.take();
        if let Some(w) = worker {
            w.stop();
        }
        *lock(&self.stream) = Stream::default();
        *lock(&self.loaded) = None;
        Ok(())
    }

    fn is_seekable(&self) -> bool {
        false
    }

    fn fixate(&self, mut caps: gst::Caps) -> gst::Caps {
        let defaults = lock(&self.loaded).as_ref().map(|l| l.pipeline.folder.defaults.clone());
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
        let refuse = |why: String| {
            let _ = common::post(&*self.obj(), "aisrc", &ElementError::Negotiation(why.clone()));
            gst::loggable_error!(CAT, "{why}")
        };
        if info.interlace_mode() != gst_video::VideoInterlaceMode::Progressive {
            return Err(refuse(format!(
                "aisrc makes progressive frames only, downstream asks for interlace-mode={}: put interlace \
                 after aisrc to make interlaced video",
                info.interlace_mode()
            )));
        }
        if common::rate_of(info.fps()).is_none() {
            return Err(refuse(format!(
                "the frame rate must be positive (found {}), e.g. video/x-raw,framerate=8/1",
                info.fps()
            )));
        }
        let mut guard = lock(&self.loaded);
        let loaded = guard.as_mut().ok_or_else(|| gst::loggable_error!(CAT, "caps before start"))?;
        let (w, h) = (info.width() as usize, info.height() as usize);
        if let Err(e) = loaded.pipeline.check_size(loaded.frames_per_clip, w, h) {
            drop(guard);
            return Err(refuse(e.to_string()));
        }
        gst::debug!(CAT, imp = self, "caps {caps}");
        loaded.info = Some(info);
        Ok(())
    }

    fn query(&self, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let rate = lock(&self.loaded).as_ref().and_then(|l| l.info.as_ref()).and_then(|i| common::rate_of(i.fps()));
            let live = lock(&self.settings).is_live;
            let Some(rate) = rate else { return false };
            let frame = gst::ClockTime::from_nseconds(rate.frame_start_ns(1));
            q.set(live, if live { frame } else { gst::ClockTime::ZERO }, None);
            return true;
        }
        BaseSrcImplExt::parent_query(self, query)
    }

    fn unlock(&self) -> Result<(), gst::ErrorMessage> {
        self.set_flushing(true);
        Ok(())
    }

    fn unlock_stop(&self) -> Result<(), gst::ErrorMessage> {
        self.set_flushing(false);
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
        let t0 = Instant::now();
        let (pipeline, info) = {
            let guard = lock(&self.loaded);
            let l = guard.as_ref().ok_or(gst::FlowError::Flushing)?;
            (l.pipeline.clone(), l.info.clone().ok_or(gst::FlowError::NotNegotiated)?)
        };
        let post = |e: ElementError| common::post(&*self.obj(), "aisrc", &e);
        let mut stream = lock(&self.stream);
        if stream.size != Some((info.width(), info.height())) {
            self.restart(&mut stream, pipeline.clone(), &info).map_err(post)?;
        }
        let mut new_clip = None;
        if stream.current.as_ref().is_none_or(|(m, next)| *next >= m.clip.frames) {
            let worker = lock(&self.control).worker.clone().ok_or(gst::FlowError::Flushing)?;
            match worker.next() {
                Next::Clip(made) => {
                    gst::debug!(CAT, imp = self, "clip {} ready", made.index);
                    new_clip = Some(super::settings::tags(&made.request, &pipeline));
                    stream.current = Some((made, 0));
                }
                Next::Done => {
                    gst::debug!(CAT, imp = self, "all clips done: EOS");
                    self.stats.post(&*self.obj());
                    return Err(gst::FlowError::Eos);
                }
                Next::Failed(e) => return Err(post(e)),
                Next::Interrupted => return Err(gst::FlowError::Flushing),
            }
        }
        let buffer = self.render(&mut stream, &info).map_err(post)?;
        drop(stream);
        self.stats.frame(t0.elapsed().as_secs_f64() * 1e3);
        if let Some(tags) = new_clip {
            // GstBaseSrc queues it and pushes it after the segment, before this buffer. Not
            // gst_element_send_event: it takes the state lock, which a state change holds while
            // it waits for this thread.
            self.parent_send_event(gst::event::Tag::new(tags));
        }
        Ok(CreateSuccess::NewBuffer(buffer))
    }
}
