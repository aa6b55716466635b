//! The implementation of `aiinterpolate`: a plain element with one sink and one source pad.
//! Input frames are packed once into planar RGB floats; every output frame's position between
//! two input frames comes from `gst_ai_runtime::dsp::rate` (exact integer arithmetic, one input frame
//! of look-ahead); an output that lands exactly on an input frame is that frame's buffer, others
//! are interpolated by the mode in use. Nothing is pushed downstream while a lock is held.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_video::VideoInfo;

use gst_ai_kernels::{
    FlowParams, FlowWorkspace, Rect, TensorSpec, interpolate as flow_interpolate, luma, optical_flow, pack,
    scene_change, unpack,
};
use gst_ai_runtime::backend::device::Precision;
use gst_ai_runtime::backend::model::{Model, ModelSource};
use gst_ai_runtime::dsp::rate::{Rate, RateConverter};
use gst_ai_runtime::tasks::rife::{Rife, RifeContract};

use super::Mode;
use crate::common::{self, AiPrecision, lock};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("aiinterpolate", gst::DebugColorFlags::empty(), Some("AI frame interpolation"))
});

const DEFAULT_MODE: Mode = Mode::Flow;
const DEFAULT_FACTOR: f64 = 0.0;
const DEFAULT_MODEL: &str = "";
const DEFAULT_SCENE_THRESHOLD: f64 = 0.5;
const DEFAULT_DEVICE: &str = "auto";
const DEFAULT_PRECISION: AiPrecision = AiPrecision::Auto;
/// How many output frames a live stream waits before trying the wanted mode again after
/// degrading, to notice when the machine has become fast enough.
const RETRY_EVERY: u32 = 50;

#[derive(Debug, Clone)]
struct Settings {
    mode: Mode,
    factor: f64,
    model: String,
    scene_threshold: f64,
    device: String,
    precision: AiPrecision,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: DEFAULT_MODE,
            factor: DEFAULT_FACTOR,
            model: DEFAULT_MODEL.into(),
            scene_threshold: DEFAULT_SCENE_THRESHOLD,
            device: DEFAULT_DEVICE.into(),
            precision: DEFAULT_PRECISION,
        }
    }
}

/// An input frame kept for interpolation: the buffer (for pass-through) and its planar RGB and
/// luma.
struct Input {
    buffer: gst::Buffer,
    rgb: Vec<f32>,
    luma: Vec<f32>,
}

/// What is computed once per pair of neighbouring input frames.
#[derive(Default)]
struct Pair {
    flows: Option<(Vec<f32>, Vec<f32>)>,
    cut: Option<bool>,
}

#[derive(Default)]
struct Stats {
    frames_in: u64,
    frames_out: u64,
    interpolated: u64,
    passed: u64,
    scene_cuts: u64,
    degraded: u64,
    /// Processing time of the last interpolated frames.
    times: common::Timings,
}

impl Stats {
    fn structure(&self) -> gst::Structure {
        let (mean, p95) = self.times.mean_p95();
        gst::Structure::builder("ai-interpolate-stats")
            .field("frames-in", self.frames_in)
            .field("frames-out", self.frames_out)
            .field("interpolated", self.interpolated)
            .field("passed-through", self.passed)
            .field("scene-cuts", self.scene_cuts)
            .field("degraded", self.degraded)
            .field("mean-ms", mean)
            .field("p95-ms", p95)
            .build()
    }
}

struct State {
    in_info: VideoInfo,
    out_info: VideoInfo,
    conv: RateConverter,
    /// Timestamp of input frame 0 since the last reset; outputs are base + k / output rate.
    base: Option<gst::ClockTime>,
    /// Input frames since the last reset.
    count: u64,
    prev: Option<Input>,
    cur: Option<Input>,
    pair: Pair,
    /// Flow planes of the last pair, reused by the next.
    spare_flows: Option<(Vec<f32>, Vec<f32>)>,
    workspace: FlowWorkspace,
    params: FlowParams,
    scratch: Vec<f32>,
    /// Whether the next output starts a new run (DISCONT).
    discont: bool,
    /// Running estimate of seconds per interpolated frame, per mode.
    cost: [Option<f64>; 4],
    since_retry: u32,
}

impl State {
    fn reset(&mut self) {
        self.base = None;
        self.count = 0;
        self.prev = None;
        self.cur = None;
        self.pair = Pair::default();
        self.discont = true;
    }

    fn frame_ns(&self) -> u64 {
        self.conv.input.frame_start_ns(1)
    }
}

/// A loaded RIFE model and its runner.
struct Loaded {
    model: Arc<Model>,
    rife: Rife,
}

pub struct AiInterpolate {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    stats: Mutex<Stats>,
    loaded: Mutex<Option<Loaded>>,
    /// Whether upstream is live (from the last latency query): only then does a mode degrade.
    live: AtomicBool,
}

fn fraction_of(rate: Rate) -> gst::Fraction {
    gst::Fraction::new(rate.num as i32, rate.den as i32)
}

/// `rate` times `factor`, as an exact fraction when factor has at most three decimals.
fn scaled_rate(rate: Rate, factor: f64) -> Option<Rate> {
    let milli = (factor * 1000.0).round() as u64;
    let (mut n, mut d) = (rate.num * milli, rate.den * 1000);
    let g = gcd(n, d);
    n /= g;
    d /= g;
    (n > 0 && n <= i32::MAX as u64 && d <= i32::MAX as u64).then(|| Rate::new(n, d)).flatten()
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

impl AiInterpolate {
    fn post_stats(&self) {
        let s = lock(&self.stats).structure();
        let _ = self.obj().post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
    }

    /// The output caps for `in_caps`: the same with the framerate downstream prefers (or the
    /// input's times `factor`); without preference, twice the input rate.
    fn output_caps(&self, in_caps: &gst::Caps, in_rate: Rate) -> Result<gst::Caps, String> {
        let factor = lock(&self.settings).factor;
        let mut s = in_caps.structure(0).ok_or("empty caps")?.to_owned();
        if factor > 0.0 {
            let rate =
                scaled_rate(in_rate, factor).ok_or_else(|| format!("factor {factor} gives no valid frame rate"))?;
            s.set("framerate", fraction_of(rate));
            let caps = gst::Caps::builder_full().structure(s).build();
            if !self.srcpad.peer_query_accept_caps(&caps) {
                return Err(format!(
                    "downstream does not accept {}/{} fps, the input rate times factor={factor}",
                    rate.num, rate.den
                ));
            }
            return Ok(caps);
        }
        s.set("framerate", gst::FractionRange::new(gst::Fraction::new(1, i32::MAX), gst::Fraction::new(i32::MAX, 1)));
        let template = gst::Caps::builder_full().structure(s).build();
        let mut peer = self.srcpad.peer_query_caps(Some(&template));
        if peer.is_empty() {
            return Err(format!("downstream accepts none of {template}"));
        }
        peer.truncate();
        {
            let caps = peer.make_mut();
            let s = caps.structure_mut(0).ok_or("empty caps")?;
            let double = scaled_rate(in_rate, 2.0).unwrap_or(in_rate);
            s.fixate_field_nearest_fraction("framerate", fraction_of(double));
        }
        peer.fixate();
        Ok(peer)
    }

    fn sink_caps(&self, caps: &gst::Caps) -> Result<(), String> {
        let in_info = VideoInfo::from_caps(caps).map_err(|e| format!("invalid input caps {caps}: {e}"))?;
        let in_rate = common::rate_of(in_info.fps()).ok_or_else(|| {
            format!("aiinterpolate needs a fixed input frame rate; the caps have framerate {}", in_info.fps())
        })?;
        let out_caps = self.output_caps(caps, in_rate)?;
        let out_info = VideoInfo::from_caps(&out_caps).map_err(|e| format!("invalid output caps {out_caps}: {e}"))?;
        let out_rate = common::rate_of(out_info.fps()).ok_or_else(|| format!("no output frame rate in {out_caps}"))?;
        gst::info!(CAT, imp = self, "{}/{} fps -> {}/{} fps", in_rate.num, in_rate.den, out_rate.num, out_rate.den);
        // The tail of the old stream is drained by the caller before new caps take over.
        let mut st = lock(&self.state);
        let cost = st.as_ref().map(|s| s.cost).unwrap_or([None; 4]);
        *st = Some(State {
            in_info,
            out_info,
            conv: RateConverter::new(in_rate, out_rate),
            base: None,
            count: 0,
            prev: None,
            cur: None,
            pair: Pair::default(),
            spare_flows: None,
            workspace: FlowWorkspace::new(),
            params: FlowParams::default(),
            scratch: Vec::new(),
            discont: true,
            cost,
            since_retry: 0,
        });
        drop(st);
        if !self.srcpad.push_event(gst::event::Caps::new(&out_caps)) {
            return Err(format!("downstream refused {out_caps}"));
        }
        Ok(())
    }

    /// Packs `buffer` into planar RGB and luma, reusing the planes of `recycled` (the frame
    /// that is about to be forgotten) so a stream does not allocate per frame.
    fn make_input(&self, st: &State, buffer: gst::Buffer, recycled: Option<Input>) -> Result<Input, String> {
        let info = &st.in_info;
        let (w, h) = (info.width() as usize, info.height() as usize);
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), info)
            .map_err(|e| format!("cannot map input buffer: {e}"))?;
        let view = common::frame_view(&frame).map_err(|e| e.to_string())?;
        let (mut rgb, mut l) = recycled.map(|r| (r.rgb, r.luma)).unwrap_or_default();
        rgb.resize(3 * w * h, 0.0);
        l.resize(w * h, 0.0);
        pack(&view, Rect { x: 0, y: 0, width: w, height: h }, TensorSpec::CANONICAL, &mut rgb)
            .map_err(|e| e.to_string())?;
        luma(&rgb, w, h, &mut l).map_err(|e| e.to_string())?;
        drop(frame);
        Ok(Input { buffer, rgb, luma: l })
    }

    /// Stamps an output buffer as frame k.
    fn stamp(st: &mut State, buffer: &mut gst::BufferRef, k: u64) {
        let base = st.base.unwrap_or(gst::ClockTime::ZERO);
        let start = st.conv.output.frame_start_ns(k);
        let end = st.conv.output.frame_start_ns(k + 1);
        buffer.set_pts(base + gst::ClockTime::from_nseconds(start));
        buffer.set_dts(gst::ClockTime::NONE);
        buffer.set_duration(gst::ClockTime::from_nseconds(end - start));
        buffer.set_offset(k);
        buffer.set_offset_end(k + 1);
        if std::mem::take(&mut st.discont) {
            buffer.set_flags(gst::BufferFlags::DISCONT);
        } else {
            buffer.unset_flags(gst::BufferFlags::DISCONT);
        }
    }

    fn pass(st: &mut State, stats: &mut Stats, frame: &Input, k: u64) -> gst::Buffer {
        let mut out = frame.buffer.copy();
        Self::stamp(st, out.make_mut(), k);
        stats.passed += 1;
        out
    }

    /// The mode to use for the next interpolated frame: the wanted one, or on a live stream a
    /// cheaper one when the wanted one is known to take longer than an output frame lasts.
    fn choose_mode(&self, st: &mut State, wanted: Mode) -> Mode {
        if !self.live.load(Ordering::Relaxed) {
            return wanted;
        }
        st.since_retry += 1;
        if st.since_retry >= RETRY_EVERY {
            st.since_retry = 0;
            return wanted;
        }
        let budget = st.conv.output.frame_start_ns(1) as f64 / 1e9;
        let mut mode = wanted;
        while let (Some(cost), Some(cheaper)) = (st.cost[mode as usize], mode.cheaper()) {
            if cost <= budget {
                break;
            }
            mode = cheaper;
        }
        mode
    }

    /// Output frame k, between `a` and `b` at fraction t (not 0).
    #[allow(clippy::too_many_arguments)]
    fn interpolate_one(
        &self,
        st: &mut State,
        stats: &mut Stats,
        settings: &Settings,
        a: &Input,
        b: &Input,
        k: u64,
        t: f64,
    ) -> Result<gst::Buffer, String> {
        let started = Instant::now();
        let mut mode = self.choose_mode(st, settings.mode);
        if mode != settings.mode {
            stats.degraded += 1;
        }
        if mode == Mode::Model && lock(&self.loaded).is_none() {
            // Switched to model mode while playing without a model: flow is the best left.
            mode = Mode::Flow;
        }
        let (w, h) = (st.in_info.width() as usize, st.in_info.height() as usize);
        if mode != Mode::Duplicate && settings.scene_threshold < 1.0 {
            let cut = match st.pair.cut {
                Some(c) => c,
                None => {
                    let d = scene_change(&a.luma, &b.luma, w, h).map_err(|e| e.to_string())?;
                    let c = d as f64 > settings.scene_threshold;
                    if c {
                        stats.scene_cuts += 1;
                        gst::debug!(CAT, imp = self, "scene cut before input frame {} (change {d:.3})", st.count);
                    }
                    st.pair.cut = Some(c);
                    c
                }
            };
            if cut {
                mode = Mode::Duplicate;
            }
        }
        if mode == Mode::Duplicate {
            let nearest = if t < 0.5 { a } else { b };
            return Ok(Self::pass(st, stats, nearest, k));
        }
        st.scratch.resize(3 * w * h, 0.0);
        let t32 = t as f32;
        match mode {
            Mode::Blend => {
                for ((o, &x), &y) in st.scratch.iter_mut().zip(&a.rgb).zip(&b.rgb) {
                    *o = x + (y - x) * t32;
                }
            }
            Mode::Flow => {
                if st.pair.flows.is_none() {
                    let (mut f01, mut f10) = st.spare_flows.take().unwrap_or_default();
                    f01.resize(2 * w * h, 0.0);
                    f10.resize(2 * w * h, 0.0);
                    optical_flow(&a.luma, &b.luma, w, h, &st.params, &mut st.workspace, &mut f01)
                        .map_err(|e| e.to_string())?;
                    optical_flow(&b.luma, &a.luma, w, h, &st.params, &mut st.workspace, &mut f10)
                        .map_err(|e| e.to_string())?;
                    st.pair.flows = Some((f01, f10));
                }
                let (f01, f10) = st.pair.flows.as_ref().expect("just computed");
                flow_interpolate(&a.rgb, &b.rgb, w, h, f01, f10, t32, &mut st.workspace, &mut st.scratch)
                    .map_err(|e| e.to_string())?;
            }
            Mode::Model => {
                let mut loaded = lock(&self.loaded);
                let l = loaded.as_mut().expect("checked above");
                l.rife.run(&l.model, &a.rgb, &b.rgb, w, h, t32, &mut st.scratch).map_err(|e| e.to_string())?;
            }
            Mode::Duplicate => unreachable!("handled above"),
        }
        let mut out = gst::Buffer::with_size(st.out_info.size()).map_err(|e| e.to_string())?;
        {
            let ob = out.get_mut().expect("new buffer is writable");
            Self::stamp(st, ob, k);
            let mut frame =
                gst_video::VideoFrameRef::from_buffer_ref_writable(ob, &st.out_info).map_err(|e| e.to_string())?;
            let mut view = common::frame_view_mut(&mut frame).map_err(|e| e.to_string())?;
            unpack(&st.scratch, w, h, TensorSpec::CANONICAL, 0, 0, &mut view).map_err(|e| e.to_string())?;
        }
        let secs = started.elapsed().as_secs_f64();
        let c = &mut st.cost[mode as usize];
        *c = Some(c.map_or(secs, |old| 0.8 * old + 0.2 * secs));
        stats.interpolated += 1;
        stats.times.record(secs * 1e3);
        Ok(out)
    }

    /// Outputs `ks` for the pair (prev, cur) after cur arrived, or (`tail`) for the time after
    /// the last frame, cur, which has no next frame to move towards.
    fn produce(
        &self,
        st: &mut State,
        settings: &Settings,
        ks: std::ops::Range<u64>,
        tail: bool,
        out: &mut Vec<gst::Buffer>,
    ) -> Result<(), String> {
        let (prev, cur) = (st.prev.take(), st.cur.take());
        let result = (|| -> Result<(), String> {
            let mut stats = lock(&self.stats);
            for k in ks {
                let src = st.conv.source(k);
                let (a, b) = match (&prev, &cur, tail) {
                    (Some(p), Some(c), false) => (p, Some(c)),
                    (_, Some(c), true) => (c, None),
                    _ => return Err(format!("no input frames for output {k}")),
                };
                let buffer = match b {
                    Some(b) if !src.exact => self.interpolate_one(st, &mut stats, settings, a, b, k, src.t)?,
                    _ => Self::pass(st, &mut stats, a, k),
                };
                stats.frames_out += 1;
                out.push(buffer);
            }
            Ok(())
        })();
        st.prev = prev;
        st.cur = cur;
        result
    }

    fn chain(&self, _pad: &gst::Pad, buffer: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = lock(&self.settings).clone();
        let mut outputs = Vec::new();
        {
            let mut guard = lock(&self.state);
            let Some(st) = guard.as_mut() else {
                gst::element_imp_error!(self, gst::CoreError::Negotiation, ["data before caps"]);
                return Err(gst::FlowError::NotNegotiated);
            };
            lock(&self.stats).frames_in += 1;
            // Input that does not continue the timeline (a gap, or a jump back) starts a new run:
            // what was pending is drained and the frame count starts again.
            if let (Some(base), Some(pts)) = (st.base, buffer.pts()) {
                let expected = base.nseconds() + st.conv.input.frame_start_ns(st.count);
                if pts.nseconds().abs_diff(expected) > st.frame_ns() / 2 {
                    gst::debug!(CAT, imp = self, "timestamp {pts} where {expected} ns was expected: restarting");
                    let tail = st.conv.outputs_for_tail(st.count);
                    let r = self.produce(st, &settings, tail, true, &mut outputs);
                    st.reset();
                    r.map_err(|e| self.stream_error(e))?;
                }
            }
            let recycled = st.prev.take();
            let input = self.make_input(st, buffer, recycled).map_err(|e| self.stream_error(e))?;
            if st.count == 0 {
                st.base = Some(input.buffer.pts().unwrap_or(gst::ClockTime::ZERO));
            }
            st.prev = st.cur.take();
            st.cur = Some(input);
            // Keep the flow planes for the next pair.
            if let Some(flows) = std::mem::take(&mut st.pair).flows {
                st.spare_flows = Some(flows);
            }
            if st.count >= 1 {
                let ks = st.conv.outputs_for_pair(st.count);
                self.produce(st, &settings, ks, false, &mut outputs).map_err(|e| self.stream_error(e))?;
            }
            st.count += 1;
        }
        for b in outputs {
            self.srcpad.push(b)?;
        }
        Ok(gst::FlowSuccess::Ok)
    }

    fn stream_error(&self, e: String) -> gst::FlowError {
        gst::element_imp_error!(self, gst::StreamError::Failed, ["aiinterpolate: {e}"]);
        gst::FlowError::Error
    }

    /// Emits the outputs that need no later input (after the last frame) and forgets the
    /// history.
    fn drain(&self) -> Result<(), gst::FlowError> {
        let settings = lock(&self.settings).clone();
        let mut outputs = Vec::new();
        {
            let mut guard = lock(&self.state);
            if let Some(st) = guard.as_mut() {
                // The tail is counted from the last frame: make it the "earlier" frame.
                let tail = st.conv.outputs_for_tail(st.count);
                let r = self.produce(st, &settings, tail, true, &mut outputs);
                st.reset();
                r.map_err(|e| self.stream_error(e))?;
            }
        }
        for b in outputs {
            self.srcpad.push(b)?;
        }
        Ok(())
    }

    fn reset(&self) {
        if let Some(st) = lock(&self.state).as_mut() {
            st.reset();
        }
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;
        match event.view() {
            EventView::Caps(c) => {
                let caps = c.caps_owned();
                if self.drain().is_err() {
                    return false;
                }
                match self.sink_caps(&caps) {
                    Ok(()) => true,
                    Err(e) => {
                        gst::element_imp_error!(self, gst::CoreError::Negotiation, ["{e}"]);
                        false
                    }
                }
            }
            EventView::Eos(_) => {
                let _ = self.drain();
                self.post_stats();
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            EventView::FlushStop(_) => {
                self.reset();
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            EventView::Segment(_) => {
                // A new segment (a seek, a new stream) starts a new timeline.
                let _ = self.drain();
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            EventView::StreamStart(_) => {
                self.reset();
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }

    /// Caps of the other side with any frame rate.
    fn free_rate(caps: &gst::Caps) -> gst::Caps {
        let mut caps = caps.clone();
        for s in caps.make_mut().iter_mut() {
            s.remove_field("framerate");
        }
        caps
    }

    fn query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        use gst::QueryViewMut;
        match query.view_mut() {
            QueryViewMut::Caps(q) => {
                let other = if pad == &self.srcpad { &self.sinkpad } else { &self.srcpad };
                let filter = q.filter_owned().map(|f| Self::free_rate(&f));
                let peer = other.peer_query_caps(filter.as_ref());
                let template = pad.pad_template_caps();
                let mut result = Self::free_rate(&peer).intersect(&template);
                if let Some(f) = q.filter() {
                    result = f.intersect_with_mode(&result, gst::CapsIntersectMode::First);
                }
                q.set_result(&result);
                true
            }
            QueryViewMut::Latency(q) if pad == &self.srcpad => {
                if !self.sinkpad.peer_query(q.query_mut()) {
                    return false;
                }
                let (live, min, max) = q.result();
                // Remembered apart from the stream state: the pipeline asks before caps exist.
                self.live.store(live, Ordering::Relaxed);
                let ours = {
                    let st = lock(&self.state);
                    match st.as_ref() {
                        Some(st) => {
                            let mode = lock(&self.settings).mode;
                            let processing = st.cost[mode as usize].unwrap_or(0.0);
                            gst::ClockTime::from_nseconds(st.frame_ns() + (processing * 1e9) as u64)
                        }
                        None => gst::ClockTime::ZERO,
                    }
                };
                gst::debug!(CAT, imp = self, "latency: upstream {min}-{max:?} + ours {ours} (live {live})");
                q.set(live, min + ours, max.map(|m| m + ours));
                true
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    fn load_model(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        if settings.model.trim().is_empty() {
            *lock(&self.loaded) = None;
            if settings.mode == Mode::Model {
                return Err(gst::error_msg!(
                    gst::LibraryError::Settings,
                    ["mode=model needs a RIFE ONNX model in the model property"]
                ));
            }
            return Ok(());
        }
        let (dev, why) = common::resolve_device(&settings.device)?;
        gst::info!(CAT, imp = self, "model runs on {dev} ({why})");
        let precision: Precision = settings.precision.into();
        let source = ModelSource::File(settings.model.clone().into());
        let model = common::load_model(self.obj().upcast_ref(), &source, dev, precision)?;
        let contract = RifeContract::detect(&model).map_err(|e| common::start_error(&e))?;
        gst::info!(CAT, imp = self, "model {}: {contract:?}", model.name);
        *lock(&self.loaded) = Some(Loaded { model, rife: Rife::new(contract) });
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
            .chain_function(|pad, parent, buffer| {
                AiInterpolate::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.chain(pad, buffer),
                )
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
            state: Mutex::new(None),
            stats: Mutex::new(Stats::default()),
            loaded: Mutex::new(None),
            live: AtomicBool::new(false),
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
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecEnum::builder_with_default("mode", DEFAULT_MODE)
                    .nick("Mode")
                    .blurb(
                        "How in-between frames are made: flow (built-in motion-compensated interpolation), model \
                         (a RIFE ONNX model), blend (cross-fade) or duplicate (nearest frame). On a live stream a \
                         mode that cannot keep up degrades to the next (model > flow > blend > duplicate), counted \
                         in stats",
                    )
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("factor")
                    .nick("Factor")
                    .blurb(
                        "Output frame rate as the input's times this (e.g. 2, 2.5); 0 = the rate downstream \
                         asks for (a caps filter such as video/x-raw,framerate=60/1), or twice the input's when \
                         downstream accepts any",
                    )
                    .minimum(0.0)
                    .maximum(64.0)
                    .default_value(DEFAULT_FACTOR)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb(
                        "Path of a RIFE ONNX model for mode=model: vs-mlrt v1 (11-channel input), v2 (7-channel) \
                         or Practical-RIFE style (img0, img1, timestep); sizes padded to a multiple of 32 unless \
                         a <model>.json says \"multiple\"",
                    )
                    .default_value(Some(DEFAULT_MODEL))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("scene-threshold")
                    .nick("Scene threshold")
                    .blurb(
                        "Scene-change measure (0 = same picture, 1 = unrelated) above which two frames are a cut: \
                         in-between frames then repeat the nearest frame instead of morphing; 1 disables",
                    )
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_SCENE_THRESHOLD)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("device")
                    .nick("Device")
                    .blurb("Where a model runs: auto, cpu, cuda or cuda:N (the flow mode runs on the CPU)")
                    .default_value(Some(DEFAULT_DEVICE))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("precision", DEFAULT_PRECISION)
                    .nick("Precision")
                    .blurb("Numeric precision of the model: auto uses the model's own element type")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb(
                        "frames-in, frames-out, interpolated, passed-through, scene-cuts, degraded, and the \
                         processing time per interpolated frame (mean-ms, p95-ms); also posted as an element \
                         message at EOS",
                    )
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        match pspec.name() {
            "mode" => s.mode = value.get().expect("type checked upstream"),
            "factor" => s.factor = value.get().expect("type checked upstream"),
            "model" => s.model = value.get::<Option<String>>().expect("type checked upstream").unwrap_or_default(),
            "scene-threshold" => s.scene_threshold = value.get().expect("type checked upstream"),
            "device" => s.device = value.get::<Option<String>>().expect("type checked upstream").unwrap_or_default(),
            "precision" => s.precision = value.get().expect("type checked upstream"),
            other => unreachable!("unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "mode" => s.mode.to_value(),
            "factor" => s.factor.to_value(),
            "model" => s.model.to_value(),
            "scene-threshold" => s.scene_threshold.to_value(),
            "device" => s.device.to_value(),
            "precision" => s.precision.to_value(),
            "stats" => lock(&self.stats).structure().to_value(),
            other => unreachable!("unknown property {other}"),
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
        if transition == gst::StateChange::ReadyToPaused {
            if let Err(e) = self.load_model() {
                self.post_error_message(e);
                return Err(gst::StateChangeError);
            }
            *lock(&self.stats) = Stats::default();
        }
        let r = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            *lock(&self.state) = None;
        }
        Ok(r)
    }
}
