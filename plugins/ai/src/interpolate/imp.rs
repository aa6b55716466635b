//! The implementation of `aiinterpolate`: a plain element with one sink and one source pad. The
//! conversion (which inputs an output comes from, how it is made, scene cuts, live degradation)
//! is the runtime's [`FrameRateConverter`]; this side negotiates the output rate (`caps`), maps
//! buffers, stamps outputs (timestamps, offsets, DISCONT), and handles events and messages.
//!
//! Locks: `settings`, `stats` and `cancel` are taken only for a copy, an update or to trigger the
//! token; the latency figures are atomics. `stream` (the engine, the negotiated infos) is the
//! streaming thread's, held across a model run: besides `chain` only serialized sink events and
//! state changes with no buffer flowing take it, and nothing is pushed while it is held. So caps
//! and latency queries and every property read or write are answered while a frame is being
//! made; FLUSH_START stops a RIFE run in flight through the cancel token.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_video::{VideoFrameRef, VideoInfo};

use gst_ai_kernels::cuda::Gpu;
use gst_ai_runtime::backend::device;
use gst_ai_runtime::backend::model::ModelSource;
use gst_ai_runtime::tasks::flow_engine::{DeviceFlow, FlowEngine};
use gst_ai_runtime::tasks::interpolate::{FrameRateConverter, Params, Published, Tally};
use gst_ai_runtime::tasks::rife::RifeContract;
use gst_ai_runtime::{Cancel, Device, DeviceRequest};

use super::output::{Sent, emit};
use super::settings::{self, FALLBACK, Settings};
use super::{Mode, caps};
use crate::common::latency::{self, Announced};
use crate::common::{self, AiOnBadOutput, BadOutputWarnings, ElementError, RunCancel, Stats, bad_output, lock};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("aiinterpolate", gst::DebugColorFlags::empty(), Some("AI frame interpolation"))
});

/// The streaming thread's: the engine (with the input buffers it keeps for pass-through) and the
/// negotiated video infos.
struct Stream {
    engine: FrameRateConverter<gst::Buffer>,
    /// Input and output, from caps.
    infos: Option<(VideoInfo, VideoInfo)>,
    /// Input buffers already sent out once (a second copy loses its caption and timecode).
    sent: Sent,
}

pub struct AiInterpolate {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    stats: Stats,
    bad_output: BadOutputWarnings,
    /// Whether upstream is live (from the last latency query): only then does a mode degrade.
    live: AtomicBool,
    /// The engine's latency figures, atomics it updates.
    latency: Arc<Published>,
    /// The latency last announced in a LATENCY message.
    announced: Announced,
    /// Stops a RIFE run in flight (flush, stop); renewed after a flush, present with a model.
    cancel: RunCancel,
    stream: Mutex<Option<Stream>>,
}

impl AiInterpolate {
    fn params(&self) -> Params {
        let s = lock(&self.settings);
        Params {
            mode: s.mode.into(),
            scene_threshold: s.scene_threshold,
            live: self.live.load(Ordering::Relaxed),
            timestep: s.timestep.into(),
            bad_output_fallback: s.on_bad_output == AiOnBadOutput::Fallback,
        }
    }

    /// Runs `job` on the stream, adds what it did to the statistics, then pushes what
    /// it produced with no lock held.
    fn work(
        &self,
        job: impl FnOnce(&mut Stream, &Params, Option<&Cancel>, &mut Vec<gst::Buffer>) -> Result<Tally, ElementError>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let params = self.params();
        let cancel = self.cancel.token();
        let mut outputs = Vec::new();
        let result = match lock(&self.stream).as_mut() {
            Some(st) => job(st, &params, cancel.as_ref(), &mut outputs),
            None => return Err(gst::FlowError::Flushing),
        };
        let tally = result.map_err(|e| common::post(&*self.obj(), "aiinterpolate", &e))?;
        if tally.restarted {
            gst::debug!(CAT, imp = self, "timestamp gap or jump back: tail emitted, new timeline");
        }
        self.warn_timestamps(&tally);
        let s = &self.stats;
        for (name, n) in [
            ("frames-out", tally.outputs),
            ("interpolated", tally.made_ms.len() as u64),
            ("passed-through", tally.passed),
            ("scene-cuts", tally.scene_cuts),
            ("degraded", tally.degraded),
            ("dropped-inputs", tally.dropped),
            ("retimed-inputs", tally.retimed),
        ] {
            s.add(name, n);
        }
        if let Some(what) = &tally.bad_output {
            for _ in 0..tally.non_finite {
                self.bad_output.fell_back(self.obj().upcast_ref(), s, what, FALLBACK);
            }
        }
        tally.made_ms.iter().for_each(|&ms| s.frame(ms));
        (0..tally.passed).for_each(|_| s.count_frame());
        if self.announced.update(self.latency.latency_ns(params.mode)) {
            latency::post_latency_message(self.obj().upcast_ref());
        }
        for b in outputs {
            self.srcpad.push(b)?;
        }
        Ok(gst::FlowSuccess::Ok)
    }

    /// Warns on the bus the first time a stream drops or re-times an input for its timestamp
    /// (every time is counted in `stats`).
    fn warn_timestamps(&self, tally: &Tally) {
        let st = self.stats.structure();
        let first = |name: &str, n: u64| n > 0 && st.get::<u64>(name).unwrap_or(0) == 0;
        if first("dropped-inputs", tally.dropped) {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Format,
                ["an input frame's timestamp repeats the previous one's: the frame is dropped (counted in \
                  stats as dropped-inputs) so output timestamps keep increasing"]
            );
        }
        if first("retimed-inputs", tally.retimed) {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Format,
                ["input timestamps jumped back: the frames from there on are moved to follow the last output \
                  (counted in stats as retimed-inputs) so output timestamps keep increasing"]
            );
        }
    }

    fn chain(&self, buffer: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.stats.add("frames-in", 1);
        self.work(move |st, params, cancel, outputs| {
            let Some((in_info, out_info)) = &st.infos else {
                return Err(ElementError::Negotiation("data before caps".into()));
            };
            let frame = VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), in_info)
                .map_err(|e| ElementError::Frame(e.to_string()))?;
            let view = common::frame_view(&frame)?;
            let (pts, payload) = (buffer.pts().map(gst::ClockTime::nseconds), buffer.clone());
            let sent = &mut st.sent;
            st.engine.push(&view, payload, pts, params, cancel, &mut |o| emit(out_info, sent, outputs, o))
        })
    }

    /// Emits the outputs that need no later input (after the last frame) and forgets the
    /// history.
    fn drain(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.work(|st, params, cancel, outputs| match &st.infos {
            Some((_, out_info)) => {
                let sent = &mut st.sent;
                let r = st.engine.drain(params, cancel, &mut |o| emit(out_info, sent, outputs, o));
                sent.clear();
                r
            }
            None => Ok(Tally::default()),
        })
    }

    fn sink_caps(&self, caps: &gst::Caps) -> Result<(), ElementError> {
        let factor = lock(&self.settings).factor;
        let n = caps::negotiate(&self.srcpad, caps, factor)?;
        let (i, o) = (n.in_rate, n.out_rate);
        gst::info!(CAT, imp = self, "{}/{} fps -> {}/{} fps", i.num, i.den, o.num, o.den);
        {
            // The tail of the old stream was drained before new caps take over.
            let mut guard = lock(&self.stream);
            let st = guard.as_mut().ok_or_else(|| ElementError::Negotiation("caps before start".into()))?;
            st.engine.set_format(i, o, n.in_info.width() as usize, n.in_info.height() as usize);
            st.infos = Some((n.in_info, n.out_info));
        }
        if !self.srcpad.push_event(gst::event::Caps::new(&n.out_caps)) {
            return Err(ElementError::Negotiation(format!("downstream refused {}", n.out_caps)));
        }
        Ok(())
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;
        match event.view() {
            EventView::Caps(c) => {
                let post = |e| common::post(&*self.obj(), "aiinterpolate", &e);
                return self.drain().is_ok() && self.sink_caps(&c.caps_owned()).map_err(post).is_ok();
            }
            EventView::Eos(_) => {
                let _ = self.drain();
                self.stats.post(&*self.obj());
            }
            // Stops a RIFE run in flight; the streaming thread then returns FLUSHING.
            EventView::FlushStart(_) => self.cancel.cancel(),
            // A flush forgets the history and renews the cancel token.
            EventView::FlushStop(_) => {
                if let Some(st) = lock(&self.stream).as_mut() {
                    st.engine.reset();
                    st.sent.clear();
                }
                self.cancel.renew();
            }
            // A new stream (concat's next file) or segment starts a new timeline: the last frame of
            // the old one and its tail go out first.
            EventView::StreamStart(_) | EventView::Segment(_) => {
                let _ = self.drain();
            }
            _ => {}
        }
        gst::Pad::event_default(pad, Some(&*self.obj()), event)
    }

    fn query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        use gst::QueryViewMut;
        match query.view_mut() {
            QueryViewMut::Caps(q) => {
                caps::answer_query(pad, if pad == &self.srcpad { &self.sinkpad } else { &self.srcpad }, q);
                true
            }
            QueryViewMut::Latency(q) if pad == &self.srcpad => {
                if !self.sinkpad.peer_query(q.query_mut()) {
                    return false;
                }
                // One input frame of look-ahead plus the measured time of the wanted mode.
                let mode = lock(&self.settings).mode.into();
                let ours = gst::ClockTime::from_nseconds(self.latency.latency_ns(mode));
                // Remembered apart from the stream: the pipeline asks before caps exist.
                let live = latency::add_ours(q, ours);
                self.live.store(live, Ordering::Relaxed);
                gst::debug!(CAT, imp = self, "latency: {:?} with ours {ours} (live {live})", q.result());
                true
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let props = &settings.model;
        // The built-in flow runs where `device` says (on CUDA: our kernels, no ONNX Runtime
        // provider needed); a RIFE model on the CPU.
        let request: DeviceRequest = props.device.parse().map_err(|e| common::start_error(&e))?;
        let (flow_device, why) = device::resolve_kernels(request).map_err(|e| common::start_error(&e))?;
        gst::info!(CAT, imp = self, "the built-in flow runs on {flow_device} ({why})");
        let (flow_engine, fell_back) = props.open_on(flow_device, |d| -> gst_ai_runtime::Result<_> {
            Ok(match d {
                Device::Cpu => None,
                Device::Cuda { ordinal } => {
                    let gpu = Gpu::new(ordinal as usize)?;
                    Some(Box::new(DeviceFlow::new(Arc::new(gpu), d.to_string())) as Box<dyn FlowEngine>)
                }
            })
        })?;
        if let Some(why) = fell_back {
            gst::warning!(CAT, imp = self, "{why}");
        }
        let rife = if props.model.trim().is_empty() {
            if settings.mode == Mode::Model {
                return Err(gst::error_msg!(
                    gst::LibraryError::Settings,
                    ["mode=model needs a RIFE ONNX model in the model property"]
                ));
            }
            None
        } else {
            if let DeviceRequest::Cuda(_) = request {
                return Err(gst::error_msg!(
                    gst::LibraryError::Settings,
                    [
                        "device={}: aiinterpolate runs its built-in flow on CUDA, but a RIFE model only on the \
                         CPU in this build; set device=auto (the flow on CUDA when usable, the model on the CPU, \
                         both logged) or device=cpu",
                        props.device
                    ]
                ));
            }
            let (dev, _) = props.resolve_device()?;
            gst::info!(CAT, imp = self, "model runs on {dev} (RIFE models run on the CPU in this build)");
            let source = ModelSource::file(&props.model)
                .map(|s| s.with_remote_options(props.remote_options()))
                .map_err(|e| common::start_error(&e))?;
            let model = common::load_model(self.obj().upcast_ref(), &source, dev, props.precision())?;
            let contract = RifeContract::detect(&model).map_err(|e| common::start_error(&e))?;
            gst::info!(CAT, imp = self, "model {}: {contract:?}", model.name);
            Some((model, contract))
        };
        self.cancel.start(rife.is_some()).map_err(|e| common::start_error(&e))?;
        let mut engine = FrameRateConverter::new(rife, self.latency.clone());
        if let Some(flow) = flow_engine {
            engine.set_flow_engine(flow);
        }
        *lock(&self.stream) = Some(Stream { engine, infos: None, sent: Sent::default() });
        self.stats.reset();
        self.bad_output.reset();
        self.latency.clear();
        self.announced.clear();
        Ok(())
    }
}

#[glib::object_subclass]
impl ObjectSubclass for AiInterpolate {
    const NAME: &'static str = "GstAiInterpolate";
    type Type = super::AiInterpolate;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let sinkpad = gst::Pad::builder_from_template(&klass.pad_template("sink").expect("sink template"))
            .chain_function(|_, parent, buffer| {
                AiInterpolate::catch_panic_pad_function(parent, || Err(gst::FlowError::Error), |imp| imp.chain(buffer))
            })
            .event_function(|pad, parent, event| {
                AiInterpolate::catch_panic_pad_function(parent, || false, |imp| imp.sink_event(pad, event))
            })
            .query_function(|pad, parent, query| {
                AiInterpolate::catch_panic_pad_function(parent, || false, |imp| imp.query(pad, query))
            })
            .build();
        let srcpad = gst::Pad::builder_from_template(&klass.pad_template("src").expect("src template"))
            .query_function(|pad, parent, query| {
                AiInterpolate::catch_panic_pad_function(parent, || false, |imp| imp.query(pad, query))
            })
            .build();
        Self {
            sinkpad,
            srcpad,
            settings: Mutex::new(Settings::default()),
            bad_output: BadOutputWarnings::default(),
            stats: Stats::new(
                "ai-interpolate-stats",
                &[
                    "frames-in",
                    "frames-out",
                    "interpolated",
                    "passed-through",
                    "scene-cuts",
                    "degraded",
                    "dropped-inputs",
                    "retimed-inputs",
                    bad_output::COUNTER,
                ],
                &[],
            ),
            live: AtomicBool::new(false),
            latency: Arc::default(),
            announced: Announced::default(),
            cancel: RunCancel::default(),
            stream: Mutex::new(None),
        }
    }
}

impl ObjectImpl for AiInterpolate {
    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).expect("add sink pad");
        obj.add_pad(&self.srcpad).expect("add src pad");
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(settings::pspecs);
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        let name = pspec.name();
        if !s.model.set(name, value, |w| gst::warning!(CAT, imp = self, "{w}")) {
            match name {
                "mode" => s.mode = value.get().expect("type checked upstream"),
                "factor" => s.factor = value.get().expect("type checked upstream"),
                "scene-threshold" => s.scene_threshold = value.get().expect("type checked upstream"),
                "timestep-handling" => s.timestep = value.get().expect("type checked upstream"),
                bad_output::PROPERTY => s.on_bad_output = value.get().expect("type checked upstream"),
                other => unreachable!("unknown property {other}"),
            }
        }
        gst::debug!(CAT, imp = self, "{name} set to {value:?}");
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "stats" {
            return self.stats.structure().to_value();
        }
        let s = lock(&self.settings);
        match pspec.name() {
            "mode" => s.mode.to_value(),
            "factor" => s.factor.to_value(),
            "scene-threshold" => s.scene_threshold.to_value(),
            "timestep-handling" => s.timestep.to_value(),
            bad_output::PROPERTY => s.on_bad_output.to_value(),
            name => s.model.get(name).unwrap_or_else(|| unreachable!("unknown property {name}")),
        }
    }
}

impl GstObjectImpl for AiInterpolate {}

impl ElementImpl for AiInterpolate {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "AI frame interpolation",
                "Filter/Effect/Video",
                "Converts the frame rate by motion-compensated interpolation (built-in optical flow, or a RIFE \
                 model), any ratio",
                "gst-ai developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(common::video_pad_templates);
        TEMPLATES.as_ref()
    }

    fn change_state(&self, transition: gst::StateChange) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        match transition {
            gst::StateChange::ReadyToPaused => {
                if let Err(e) = self.start() {
                    self.post_error_message(e);
                    return Err(gst::StateChangeError);
                }
            }
            // Deactivating the pads waits for the streaming thread: stop a model run first.
            gst::StateChange::PausedToReady => self.cancel.cancel(),
            _ => {}
        }
        let r = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            *lock(&self.stream) = None;
            self.latency.clear();
        }
        Ok(r)
    }
}
