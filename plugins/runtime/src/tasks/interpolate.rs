//! Frame-rate conversion of a stream of frames, any ratio: the engine of `aiinterpolate`, with no
//! GStreamer types. Input frames are packed once into planar RGB and luma; output frame k sits
//! at the position [`RateConverter`] gives it (exact integer arithmetic, so hours of video do not
//! drift), which needs one input frame of look-ahead. An output that lands exactly on an input
//! frame is that frame as it came (the caller's payload, e.g. its buffer); the others are made
//! between the two neighbouring inputs by the mode in use:
//!
//! - `Model`: a RIFE model ([`Rife`]), which a [`Cancel`] can stop mid-run (a flush). Times
//!   other than the midpoint come from the model's own timestep input or by bisection
//!   ([`TimestepHandling`]): the midpoint, made once per input pair and shared by every output
//!   between the two, then the model's own timestep inside the half holding t (a quarter is the
//!   midpoint of a half: exact bisection);
//! - `Flow`: the kernels' optical flow both ways and occlusion-aware warping, the flow planes
//!   computed once per input pair and shared by every output between the two;
//! - `Blend`: a cross-fade; `Duplicate`: the nearest input.
//!
//! A pair whose pictures differ more than the scene threshold is a cut: its in-between frames
//! repeat the nearest input instead of morphing. On a live stream a mode whose measured cost is
//! more than an output frame lasts degrades to the next cheaper one, and the wanted mode is tried
//! again every [`RETRY_EVERY`] frames to notice when the machine has become fast enough.
//!
//! The caller owns the timeline's outside (its timestamps, flags, metadata): it gives each input
//! with its timestamp in nanoseconds and receives each output through a callback, as an
//! [`Output`] whose [`Content`] is an input's payload or a [`Made`] frame to write into a frame of
//! its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use gst_ai_kernels::{
    FlowParams, Frame, FrameMut, PixelFormat, Rect, TensorSpec, luma, pack, scene_change, unpack, write_yuv420_planes,
    yuv420_len, yuv420_luma, yuv420_planes,
};

use crate::backend::model::{Cancel, Model};
use crate::dsp::rate::{Rate, RateConverter};
use crate::error::{Error, Result};
use crate::tasks::flow_engine::{CpuFlow, FlowEngine};
use crate::tasks::rife::{Rife, RifeContract};

/// How many in-between frames a degraded live stream makes before it tries the wanted mode again.
pub const RETRY_EVERY: u32 = 50;
/// Frames a mode must have made (in this format) before a live stream degrades it for being slow.
const TRUSTED: u32 = 2;

/// How a RIFE model makes a frame at a time t other than the midpoint.
///
/// Measured with RIFE HDv3 on real clips (docs/zoo.md, "aiinterpolate"): bisection and the
/// model's timestep (the zoo graph moves the midpoint's flows to t) are within 0.2 dB of each
/// other on held-out footage, bisection ahead by up to 0.45 dB on the tuning clip; bisection
/// costs one more run per input pair unless an output falls on the midpoint (2x, 4x: the same
/// runs). `Auto` takes bisection exactly where it is free.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TimestepHandling {
    /// For a model trained for the midpoint only (its manifest says `"timestep": "midpoint"`):
    /// `Bisect` for input pairs with an output on their midpoint, `Model` for the others. For
    /// other models, `Model`.
    #[default]
    Auto,
    /// The model's own timestep input, one run per output frame.
    Model,
    /// Bisection: the interval of depth [`BISECT_DEPTH`] holding t is reached through midpoints
    /// (each made once per input pair), and t inside it by the model's timestep; t on a midpoint
    /// (of that depth or the next) is that midpoint.
    Bisect,
}

/// How many levels of midpoints bisection goes down before the model's timestep takes over.
/// 1 (the halves) measured as good as 2 or 3 on the tuning clip (docs/zoo.md, "aiinterpolate")
/// and costs least: per input pair at most one run more than the model's own timestep.
pub const BISECT_DEPTH: u32 = 1;

/// Positions between two inputs are counted in units of 1/[`WHOLE`] (exact for midpoints).
const WHOLE: u32 = 1 << 16;

/// The interval of depth `depth` holding t (0 < t < 1), as (start, end) in units of 1/[`WHOLE`],
/// and t measured inside it (0..1).
pub fn bracket(t: f64, depth: u32) -> (u32, u32, f64) {
    let n = 1u32 << depth;
    let step = WHOLE / n;
    let i = ((t * n as f64).floor() as u32).min(n - 1);
    (i * step, (i + 1) * step, t * n as f64 - i as f64)
}

/// How in-between frames are made, from the most to the least expensive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A RIFE model (falls back to `Flow` when no model was given).
    Model,
    /// Built-in motion-compensated interpolation.
    Flow,
    /// `Flow` with the flow estimated at half its resolution (a quarter of the search's cost,
    /// bikes.mp4 at 1280x720 -0.23 dB): the first fallback of a live stream, never a setting.
    FastFlow,
    /// Cross-fade of the neighbouring frames.
    Blend,
    /// The nearest input frame.
    Duplicate,
}

impl Mode {
    pub const ALL: [Mode; 5] = [Mode::Model, Mode::Flow, Mode::FastFlow, Mode::Blend, Mode::Duplicate];

    /// The next cheaper mode a live stream falls back to when this one cannot keep up.
    pub fn cheaper(self) -> Option<Mode> {
        match self {
            Mode::Model => Some(Mode::Flow),
            Mode::Flow => Some(Mode::FastFlow),
            Mode::FastFlow => Some(Mode::Blend),
            Mode::Blend => Some(Mode::Duplicate),
            Mode::Duplicate => None,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// What the caller's settings say, read for every input frame (they may change while playing).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    pub mode: Mode,
    /// Scene-change measure (0 = same picture, 1 = unrelated) above which a pair is a cut; 1 or
    /// more never cuts.
    pub scene_threshold: f64,
    /// Whether the stream is live: only then does a mode degrade when it cannot keep up.
    pub live: bool,
    /// How a RIFE model reaches times other than the midpoint.
    pub timestep: TimestepHandling,
    /// A model output with NaN or infinite values gives a blend of the two frames (counted in
    /// [`Tally::non_finite`]) instead of an [`Error::NonFinite`].
    pub bad_output_fallback: bool,
}

/// A frame made between two inputs (planar RGB 0..1, or the planes of an I420/NV12 input as
/// stored), for the caller to write into its own frame.
pub struct Made<'a> {
    pix: &'a [f32],
    width: usize,
    height: usize,
    yuv: bool,
}

impl Made<'_> {
    /// Writes the frame into `dst` (any pixel format for RGB planes, the input's format for YUV
    /// ones; the input's size), rounded and clamped.
    pub fn write(&self, dst: &mut FrameMut<'_>) -> Result<()> {
        if self.yuv {
            return Ok(write_yuv420_planes(self.pix, dst)?);
        }
        Ok(unpack(self.pix, self.width, self.height, TensorSpec::CANONICAL, 0, 0, dst)?)
    }
}

/// What an output frame shows.
pub enum Content<'a, T> {
    /// An input frame as it came: the payload given with it.
    Input(&'a T),
    /// A frame made between two inputs.
    Made(Made<'a>),
}

/// One output frame and where it sits on the output timeline.
pub struct Output<'a, T> {
    /// Its index since the timeline (re)started: frame k of the output rate.
    pub k: u64,
    /// Start in nanoseconds: the first input's timestamp plus k output frames, computed, never
    /// summed.
    pub pts_ns: u64,
    pub duration_ns: u64,
    /// The first output of a new timeline.
    pub discont: bool,
    pub content: Content<'a, T>,
}

/// The latency figures a converter publishes for other threads (a latency query) whenever they
/// change, read without waiting for it: one input frame of look-ahead and the measured cost of
/// each mode.
#[derive(Debug, Default)]
pub struct Published {
    /// 0 before a format.
    input_frame_ns: AtomicU64,
    /// 0 until the mode has made a frame.
    cost_ns: [AtomicU64; 5],
}

impl Published {
    /// The latency the conversion adds when `mode` is wanted: one input frame plus the measured
    /// time of a frame made by `mode` (0 before a format).
    pub fn latency_ns(&self, mode: Mode) -> u64 {
        match self.input_frame_ns.load(Ordering::Relaxed) {
            0 => 0,
            frame => frame + self.cost_ns[mode.index()].load(Ordering::Relaxed),
        }
    }

    /// Back to nothing known (the stream stopped).
    pub fn clear(&self) {
        self.input_frame_ns.store(0, Ordering::Relaxed);
        self.cost_ns.iter().for_each(|c| c.store(0, Ordering::Relaxed));
    }
}

/// What one call did, for statistics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Outputs handed to the callback.
    pub outputs: u64,
    /// Outputs that are an input frame as it came (on an input, duplicates, scene cuts).
    pub passed: u64,
    /// Milliseconds each made frame took, writing it out included.
    pub made_ms: Vec<f64>,
    /// Input pairs found to be a scene cut.
    pub scene_cuts: u64,
    /// In-between frames made by a cheaper mode than the wanted one (live streams).
    pub degraded: u64,
    /// In-between frames whose model output held NaN or infinite values, made by a blend instead.
    pub non_finite: u64,
    /// What was wrong with the last of those (the model and the share of bad values).
    pub bad_output: Option<String>,
    /// The input did not continue the timeline (a gap or a jump back): what was pending was
    /// emitted and a new timeline started at it.
    pub restarted: bool,
    /// Inputs dropped because their timestamp repeats the previous input's (within half a
    /// frame): kept, they would have put an output before the last one.
    pub dropped: u64,
    /// Inputs whose timestamp jumped back further than the previous input: they start a new
    /// timeline moved forward to where the output is, so output timestamps keep increasing.
    pub retimed: u64,
}

/// An input frame kept for interpolation: the caller's payload, its planes and its luma.
struct Input<T> {
    payload: T,
    /// Planar RGB 0..1, or with `yuv` the Y, U and V planes of an 8-bit 4:2:0 input as stored
    /// (byte / 255): the built-in modes then never convert colours, and write the bytes of
    /// static content back unchanged.
    pix: Vec<f32>,
    yuv: bool,
    luma: Vec<f32>,
}

/// What is computed once per pair of neighbouring input frames.
#[derive(Default)]
struct Pair {
    /// The pair's flows, and the mode (`Flow` or `FastFlow`) they were estimated for.
    flows: Option<(Vec<f32>, Vec<f32>)>,
    flows_for: Option<Mode>,
    cut: Option<bool>,
    /// Midpoints made by bisection: (position in units of 1/WHOLE, planar RGB).
    mids: Vec<(u32, Vec<f32>)>,
    /// Whether an output of this pair falls on its midpoint (bisection then costs no extra run).
    midpoint_out: bool,
}

/// The negotiated conversion: the rates and the frame size.
#[derive(Clone, Copy)]
struct Format {
    conv: RateConverter,
    width: usize,
    height: usize,
    /// Seconds a live stream can spend on one made frame: an input frame's duration over the
    /// in-between frames made per input (on average over `BUDGET_PAIRS` pairs). The outputs
    /// that are inputs cost next to nothing, and the flow of a pair is paid once for all its
    /// in-between frames, so this, not an output frame's duration, is what keeps up: at
    /// 30 -> 60 a made frame may take 33 ms, not 17.
    budget: f64,
}

/// Input pairs whose in-between frames are counted for a live stream's budget.
const BUDGET_PAIRS: u64 = 240;

impl Format {
    fn new(input: Rate, output: Rate, width: usize, height: usize) -> Self {
        let conv = RateConverter::new(input, output);
        let made: u64 = (1..=BUDGET_PAIRS)
            .map(|j| conv.outputs_for_pair(j).filter(|&k| !conv.source(k).exact).count() as u64)
            .sum();
        let budget = if made == 0 {
            conv.output.frame_start_ns(1) as f64 / 1e9
        } else {
            conv.input.frame_start_ns(BUDGET_PAIRS) as f64 / 1e9 / made as f64
        };
        Self { conv, width, height, budget }
    }
}

/// Converts a stream of frames (each with a payload `T` given back for pass-through outputs)
/// from one frame rate to another. One per stream; it keeps the last two inputs, the flow of
/// the current pair, the RIFE runner and its buffers, and the measured cost of each mode.
pub struct FrameRateConverter<T> {
    format: Option<Format>,
    rife: Option<(Arc<Model>, Rife)>,
    /// Timestamp of input frame 0 of the current timeline.
    base_ns: Option<u64>,
    /// Input frames since the timeline started.
    count: u64,
    prev: Option<Input<T>>,
    cur: Option<Input<T>>,
    pair: Pair,
    /// Flow planes of the last pair, reused by the next.
    spare_flows: Option<(Vec<f32>, Vec<f32>)>,
    /// Midpoint frames of earlier pairs, reused by the next.
    spare_mids: Vec<Vec<f32>>,
    /// Where `Mode::Flow` runs (the CPU unless [`set_flow_engine`](Self::set_flow_engine)).
    engine: Box<dyn FlowEngine>,
    flow: FlowParams,
    /// `flow` at half its resolution, for `Mode::FastFlow`.
    fast_flow: FlowParams,
    scratch: Vec<f32>,
    discont: bool,
    /// Added to every input timestamp since a jump back moved the timeline forward (0 until then).
    shift_ns: u64,
    /// End of the last output emitted since the last reset: a jump back continues from here.
    last_end_ns: Option<u64>,
    /// Running estimate of seconds per made frame, per mode; kept across format changes.
    cost: [Option<f64>; 5],
    /// Frames made per mode since the format was set (capped): a live stream degrades a mode
    /// only on an estimate of at least `TRUSTED` of them, so that one slow first frame (buffers
    /// allocated, caches cold) does not cost the next `RETRY_EVERY`.
    measured: [u32; 5],
    since_retry: u32,
    /// The frame being made is a retry of the wanted mode: its time replaces the estimate.
    retrying: bool,
    published: Arc<Published>,
}

impl<T> FrameRateConverter<T> {
    /// A converter with no format yet ([`set_format`](Self::set_format)), running `rife` for
    /// [`Mode::Model`] and publishing its latency figures in `published`.
    pub fn new(rife: Option<(Arc<Model>, RifeContract)>, published: Arc<Published>) -> Self {
        Self {
            format: None,
            rife: rife.map(|(model, contract)| (model, Rife::new(contract))),
            base_ns: None,
            count: 0,
            prev: None,
            cur: None,
            pair: Pair::default(),
            spare_flows: None,
            spare_mids: Vec::new(),
            engine: Box::new(CpuFlow::default()),
            flow: FlowParams::default(),
            fast_flow: FlowParams::default(),
            scratch: Vec::new(),
            discont: true,
            shift_ns: 0,
            last_end_ns: None,
            cost: [None; 5],
            measured: [0; 5],
            since_retry: 0,
            retrying: false,
            published,
        }
    }

    pub fn has_model(&self) -> bool {
        self.rife.is_some()
    }

    /// Runs `Mode::Flow` on `engine` from now on (a GPU through the kernels' CUDA twins, which
    /// make the CPU's frames bit for bit).
    pub fn set_flow_engine(&mut self, engine: Box<dyn FlowEngine>) {
        self.engine = engine;
    }

    /// What runs `Mode::Flow`.
    pub fn flow_engine(&self) -> String {
        self.engine.name()
    }

    /// Converts `input` to `output` frames of `width` x `height` from now on. What was pending
    /// must have been drained first; the measured costs are kept.
    pub fn set_format(&mut self, input: Rate, output: Rate, width: usize, height: usize) {
        self.format = Some(Format::new(input, output, width, height));
        self.flow = FlowParams::for_size(width, height);
        self.fast_flow = FlowParams { downscale: self.flow.downscale + 1, ..self.flow };
        self.reset();
        self.spare_flows = None;
        self.spare_mids.clear();
        self.scratch = Vec::new();
        self.since_retry = 0;
        self.measured = [0; 5];
        self.publish();
    }

    fn publish(&self) {
        self.published.input_frame_ns.store(self.input_frame_ns(), Ordering::Relaxed);
        for m in Mode::ALL {
            let ns = self.cost(m).map_or(0, |s| (s * 1e9) as u64);
            self.published.cost_ns[m.index()].store(ns, Ordering::Relaxed);
        }
    }

    /// Nanoseconds one input frame lasts (0 before a format): the look-ahead the conversion needs.
    pub fn input_frame_ns(&self) -> u64 {
        self.format.map_or(0, |f| f.conv.input.frame_start_ns(1))
    }

    /// `cost`, once made from at least `TRUSTED` frames of this format.
    fn trusted_cost(&self, mode: Mode) -> Option<f64> {
        self.cost[mode.index()].filter(|_| self.measured[mode.index()] >= TRUSTED)
    }

    /// The measured seconds one frame made by `mode` takes, once it has made one.
    pub fn cost(&self, mode: Mode) -> Option<f64> {
        self.cost[mode.index()]
    }

    /// Forgets the history: the next input starts a new timeline at its own timestamp.
    pub fn reset(&mut self) {
        self.restart();
        self.shift_ns = 0;
        self.last_end_ns = None;
    }

    /// Forgets the frames and the timeline's origin, keeping how far input timestamps are moved.
    fn restart(&mut self) {
        self.base_ns = None;
        self.count = 0;
        self.prev = None;
        self.cur = None;
        self.pair = Pair::default();
        self.discont = true;
    }

    /// Takes input frame `frame` (the negotiated size) with `payload` and timestamp `pts_ns`
    /// (`None`: where the timeline expects it) and hands every output it completes to `emit`, in
    /// order. An input that does not continue the timeline first emits what was pending and
    /// starts a new timeline.
    pub fn push<E: From<Error>>(
        &mut self,
        frame: &Frame<'_>,
        payload: T,
        pts_ns: Option<u64>,
        params: &Params,
        cancel: Option<&Cancel>,
        emit: &mut impl FnMut(Output<'_, T>) -> Result<(), E>,
    ) -> Result<Tally, E> {
        let f = self.format.ok_or_else(|| Error::Unsupported("a frame before the format was set".into()))?;
        if (frame.width, frame.height) != (f.width, f.height) {
            return Err(Error::Unsupported(format!(
                "a {}x{} frame where the format says {}x{}",
                frame.width, frame.height, f.width, f.height
            ))
            .into());
        }
        let mut tally = Tally::default();
        let mut pts_ns = pts_ns.map(|p| p.saturating_add(self.shift_ns));
        if let (Some(base), Some(pts)) = (self.base_ns, pts_ns) {
            let expected = base + f.conv.input.frame_start_ns(self.count);
            let half = self.input_frame_ns() / 2;
            if pts.abs_diff(expected) > half {
                if pts < expected {
                    // count >= 1 once a timeline has a base.
                    let previous = base + f.conv.input.frame_start_ns(self.count - 1);
                    if pts + half >= previous {
                        // The previous input's time again: its outputs are out already.
                        tally.dropped = 1;
                        return Ok(tally);
                    }
                    tally.retimed = 1;
                }
                tally.restarted = true;
                let tail = f.conv.outputs_for_tail(self.count);
                let r = self.produce(tail, true, params, cancel, emit, &mut tally);
                self.restart();
                r?;
                if tally.retimed == 1 {
                    // A jump back: the new timeline starts where the output is, and the
                    // inputs after this one keep their spacing to it.
                    let end = self.last_end_ns.unwrap_or(expected).max(pts);
                    self.shift_ns += end - pts;
                    pts_ns = Some(end);
                }
            }
        }
        // Reuse the planes of the frame about to be forgotten: a stream does not allocate per frame.
        let (mut pix, mut l) = self.prev.take().map(|r| (r.pix, r.luma)).unwrap_or_default();
        let (w, h) = (f.width, f.height);
        l.resize(w * h, 0.0);
        // A model needs RGB; without one, 8-bit 4:2:0 video stays in its own planes.
        let yuv = self.rife.is_none() && matches!(frame.format, PixelFormat::I420 | PixelFormat::Nv12);
        if yuv {
            pix.resize(yuv420_len(w, h), 0.0);
            yuv420_planes(frame, &mut pix).map_err(Error::from)?;
            yuv420_luma(&pix, w, h, frame.colorimetry.full_range, &mut l).map_err(Error::from)?;
        } else {
            pix.resize(3 * w * h, 0.0);
            pack(frame, Rect { x: 0, y: 0, width: w, height: h }, TensorSpec::CANONICAL, &mut pix)
                .map_err(Error::from)?;
            luma(&pix, w, h, &mut l).map_err(Error::from)?;
        }
        if self.count == 0 {
            self.base_ns = Some(pts_ns.unwrap_or(0));
        }
        self.prev = self.cur.take();
        self.cur = Some(Input { payload, pix, yuv, luma: l });
        let done = std::mem::take(&mut self.pair);
        if let Some(flows) = done.flows {
            self.spare_flows = Some(flows);
        }
        self.spare_mids.extend(done.mids.into_iter().map(|(_, frame)| frame));
        if self.count >= 1 {
            let ks = f.conv.outputs_for_pair(self.count);
            self.produce(ks, false, params, cancel, emit, &mut tally)?;
        }
        self.count += 1;
        Ok(tally)
    }

    /// Emits the outputs that need no later input (from the last frame to the end of its
    /// duration) and forgets the history: at the end of a stream or before a new one.
    pub fn drain<E: From<Error>>(
        &mut self,
        params: &Params,
        cancel: Option<&Cancel>,
        emit: &mut impl FnMut(Output<'_, T>) -> Result<(), E>,
    ) -> Result<Tally, E> {
        let mut tally = Tally::default();
        let r = match self.format {
            Some(f) => self.produce(f.conv.outputs_for_tail(self.count), true, params, cancel, emit, &mut tally),
            None => Ok(()),
        };
        self.reset();
        r.map(|()| tally)
    }

    /// Outputs `ks`, between prev and cur once cur arrived, or (`tail`) from cur on, which has
    /// no next frame to move towards.
    fn produce<E: From<Error>>(
        &mut self,
        ks: std::ops::Range<u64>,
        tail: bool,
        params: &Params,
        cancel: Option<&Cancel>,
        emit: &mut impl FnMut(Output<'_, T>) -> Result<(), E>,
        tally: &mut Tally,
    ) -> Result<(), E> {
        let (prev, cur) = (self.prev.take(), self.cur.take());
        if !tail {
            let conv = self.format.expect("checked by the callers").conv;
            self.pair.midpoint_out = ks.clone().any(|k| {
                let s = conv.source(k);
                !s.exact && s.t == 0.5
            });
        }
        let result = (|| {
            for k in ks {
                let (a, b) = match (&prev, &cur, tail) {
                    (Some(p), Some(c), false) => (p, Some(c)),
                    (_, Some(c), true) => (c, None),
                    _ => return Err(Error::Unsupported(format!("no input frames for output {k}")).into()),
                };
                let src = self.format.expect("checked by the callers").conv.source(k);
                match b {
                    Some(b) if !src.exact => self.between(a, b, k, src.t, params, cancel, emit, tally)?,
                    _ => self.pass(a, k, emit, tally)?,
                }
                tally.outputs += 1;
            }
            Ok(())
        })();
        self.prev = prev;
        self.cur = cur;
        result
    }

    fn output<'a>(&mut self, k: u64, content: Content<'a, T>) -> Output<'a, T> {
        let out = self.format.expect("checked by the callers").conv.output;
        let (start, end) = (out.frame_start_ns(k), out.frame_start_ns(k + 1));
        let pts_ns = self.base_ns.unwrap_or(0) + start;
        self.last_end_ns = Some(pts_ns + end - start);
        Output { k, pts_ns, duration_ns: end - start, discont: std::mem::take(&mut self.discont), content }
    }

    fn pass<E>(
        &mut self,
        frame: &Input<T>,
        k: u64,
        emit: &mut impl FnMut(Output<'_, T>) -> Result<(), E>,
        tally: &mut Tally,
    ) -> Result<(), E> {
        let o = self.output(k, Content::Input(&frame.payload));
        emit(o)?;
        tally.passed += 1;
        Ok(())
    }

    /// The mode for the next in-between frame: the wanted one, or on a live stream a cheaper
    /// one when the wanted one is known to take longer than an output frame lasts.
    fn choose_mode(&mut self, params: &Params) -> Mode {
        if !params.live {
            return params.mode;
        }
        self.since_retry += 1;
        if self.since_retry >= RETRY_EVERY {
            self.since_retry = 0;
            self.retrying = true;
            return params.mode;
        }
        let budget = self.format.map_or(0.0, |f| f.budget);
        let mut mode = params.mode;
        while let (Some(cost), Some(cheaper)) = (self.trusted_cost(mode), mode.cheaper()) {
            if cost <= budget {
                break;
            }
            mode = cheaper;
        }
        mode
    }

    /// Output frame k, between `a` and `b` at fraction t (not 0).
    #[allow(clippy::too_many_arguments)]
    fn between<E: From<Error>>(
        &mut self,
        a: &Input<T>,
        b: &Input<T>,
        k: u64,
        t: f64,
        params: &Params,
        cancel: Option<&Cancel>,
        emit: &mut impl FnMut(Output<'_, T>) -> Result<(), E>,
        tally: &mut Tally,
    ) -> Result<(), E> {
        let started = Instant::now();
        let mut mode = self.choose_mode(params);
        if mode != params.mode {
            tally.degraded += 1;
        }
        if mode == Mode::Model && self.rife.is_none() {
            // Switched to model mode while playing without a model: flow is the best left.
            mode = Mode::Flow;
        }
        let f = self.format.expect("checked by the callers");
        let (w, h) = (f.width, f.height);
        if mode != Mode::Duplicate && params.scene_threshold < 1.0 {
            let cut = match self.pair.cut {
                Some(c) => c,
                None => {
                    let d = scene_change(&a.luma, &b.luma, w, h).map_err(Error::from)?;
                    let c = d as f64 > params.scene_threshold;
                    tally.scene_cuts += c as u64;
                    self.pair.cut = Some(c);
                    c
                }
            };
            if cut {
                mode = Mode::Duplicate;
            }
        }
        // (Frames of two layouts never pair: a new format restarts the timeline. Still, never
        // blend them.)
        if mode == Mode::Duplicate || a.yuv != b.yuv {
            return self.pass(if t < 0.5 { a } else { b }, k, emit, tally);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.resize(a.pix.len(), 0.0);
        let mut made = self.make(mode, params.timestep, a, b, w, h, t, cancel, &mut scratch);
        if params.bad_output_fallback
            && let Err(e @ Error::NonFinite { .. }) = &made
        {
            tally.non_finite += 1;
            tally.bad_output = Some(e.to_string());
            made = self.make(Mode::Blend, params.timestep, a, b, w, h, t, cancel, &mut scratch);
        }
        let result = made.map_err(E::from).and_then(|()| {
            let o = self.output(k, Content::Made(Made { pix: &scratch, width: w, height: h, yuv: a.yuv }));
            emit(o)
        });
        self.scratch = scratch;
        result?;
        let secs = started.elapsed().as_secs_f64();
        // The first frames of a format (the first is a warm-up) and a retry measure afresh; then
        // a running average.
        let m = mode.index();
        let retry = std::mem::take(&mut self.retrying);
        let fresh = self.measured[m] < TRUSTED || retry;
        self.cost[m] = Some(match self.cost[m] {
            Some(old) if !fresh => 0.8 * old + 0.2 * secs,
            _ => secs,
        });
        self.measured[m] = (self.measured[m] + 1).min(TRUSTED);
        self.publish();
        tally.made_ms.push(secs * 1e3);
        Ok(())
    }

    /// The frame at t between `a` and `b` by `mode` (not `Duplicate`) into `out`.
    #[allow(clippy::too_many_arguments)]
    fn make(
        &mut self,
        mode: Mode,
        timestep: TimestepHandling,
        a: &Input<T>,
        b: &Input<T>,
        w: usize,
        h: usize,
        t64: f64,
        cancel: Option<&Cancel>,
        out: &mut [f32],
    ) -> Result<()> {
        let t = t64 as f32;
        match mode {
            Mode::Blend => {
                for ((o, &x), &y) in out.iter_mut().zip(&a.pix).zip(&b.pix) {
                    *o = x + (y - x) * t;
                }
            }
            Mode::Flow | Mode::FastFlow => {
                if self.pair.flows.is_none() || self.pair.flows_for != Some(mode) {
                    let (mut f01, mut f10) =
                        self.pair.flows.take().or_else(|| self.spare_flows.take()).unwrap_or_default();
                    f01.resize(2 * w * h, 0.0);
                    f10.resize(2 * w * h, 0.0);
                    let p = if mode == Mode::Flow { &self.flow } else { &self.fast_flow };
                    self.engine.flow_pair(&a.luma, &b.luma, w, h, p, &mut f01, &mut f10)?;
                    self.pair.flows = Some((f01, f10));
                    self.pair.flows_for = Some(mode);
                }
                let (f01, f10) = self.pair.flows.as_ref().expect("just computed");
                self.engine.interpolate(&a.pix, &b.pix, w, h, a.yuv, (f01, f10), t, out)?;
            }
            Mode::Model => {
                let (model, rife) = self.rife.as_mut().expect("checked by the caller");
                let bisect = match timestep {
                    TimestepHandling::Auto => rife.contract().midpoint_only && self.pair.midpoint_out,
                    TimestepHandling::Model => false,
                    TimestepHandling::Bisect => true,
                };
                if !bisect {
                    rife.run(model, &a.pix, &b.pix, w, h, t, out, cancel)?;
                    return Ok(());
                }
                let (lo, hi, inside) = bracket(t64, BISECT_DEPTH);
                let mid = (lo + hi) / 2;
                let exact = |p: u32| (t64 * WHOLE as f64 - p as f64).abs() < 1e-6;
                // On a midpoint (of this depth or the next): that frame, made by bisection.
                if let Some(p) = [lo, mid].into_iter().find(|&p| p != 0 && exact(p)) {
                    self.midpoint(a, b, p, w, h, cancel)?;
                    out.copy_from_slice(Self::frame_at(&self.pair.mids, a, b, p));
                    return Ok(());
                }
                self.midpoint(a, b, lo, w, h, cancel)?;
                self.midpoint(a, b, hi, w, h, cancel)?;
                let (model, rife) = self.rife.as_mut().expect("checked by the caller");
                let (f0, f1) = (Self::frame_at(&self.pair.mids, a, b, lo), Self::frame_at(&self.pair.mids, a, b, hi));
                rife.run(model, f0, f1, w, h, inside as f32, out, cancel)?;
            }
            Mode::Duplicate => unreachable!("handled by the caller"),
        }
        Ok(())
    }
}

impl<T> FrameRateConverter<T> {
    /// The frame at position `p` (units of 1/WHOLE) between `a` and `b`: an input at 0 and
    /// WHOLE, else a midpoint this pair has made.
    fn frame_at<'a>(mids: &'a [(u32, Vec<f32>)], a: &'a Input<T>, b: &'a Input<T>, p: u32) -> &'a [f32] {
        match p {
            0 => &a.pix,
            WHOLE => &b.pix,
            _ => &mids.iter().find(|(q, _)| *q == p).expect("made before it is read").1,
        }
    }

    /// Makes the midpoint at `p` (units of 1/WHOLE) by bisection, with the ones it needs, unless
    /// this pair has it already: the model at t = 0.5 between its two neighbours one level up.
    fn midpoint(
        &mut self,
        a: &Input<T>,
        b: &Input<T>,
        p: u32,
        w: usize,
        h: usize,
        cancel: Option<&Cancel>,
    ) -> Result<()> {
        if p == 0 || p == WHOLE || self.pair.mids.iter().any(|(q, _)| *q == p) {
            return Ok(());
        }
        let step = p & p.wrapping_neg();
        self.midpoint(a, b, p - step, w, h, cancel)?;
        self.midpoint(a, b, p + step, w, h, cancel)?;
        let mut frame = self.spare_mids.pop().unwrap_or_default();
        frame.resize(3 * w * h, 0.0);
        let (model, rife) = self.rife.as_mut().expect("checked by the caller");
        let (f0, f1) =
            (Self::frame_at(&self.pair.mids, a, b, p - step), Self::frame_at(&self.pair.mids, a, b, p + step));
        match rife.run(model, f0, f1, w, h, 0.5, &mut frame, cancel) {
            Ok(()) => {
                self.pair.mids.push((p, frame));
                Ok(())
            }
            Err(e) => {
                self.spare_mids.push(frame);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gst_ai_kernels::{Colorimetry, PixelFormat};

    const W: usize = 8;
    const H: usize = 6;

    fn rate(n: u64) -> Rate {
        Rate::new(n, 1).unwrap()
    }

    fn params(mode: Mode) -> Params {
        Params { mode, scene_threshold: 0.5, live: false, timestep: TimestepHandling::Auto, bad_output_fallback: true }
    }

    /// A W x H RGB picture: a horizontal ramp plus `shade`.
    fn picture(shade: u8) -> Vec<u8> {
        (0..W * H * 3).map(|i| ((i / 3 % W) as u8 * 20).wrapping_add(shade)).collect()
    }

    fn frame(rgb: &[u8]) -> Frame<'_> {
        Frame::new(PixelFormat::Rgb, W, H, &[rgb], &[3 * W], Colorimetry::default()).unwrap()
    }

    /// What an output was: ('i', payload) for an input, ('m', first byte written) for a made frame.
    type Seen = Vec<(u64, u64, char, u32)>;

    fn run(conv: &mut FrameRateConverter<u32>, inputs: &[(u32, u64, Vec<u8>)], p: &Params) -> (Seen, Vec<Tally>) {
        let mut seen = Vec::new();
        let mut tallies = Vec::new();
        let mut emit = |o: Output<'_, u32>| -> Result<()> {
            let what = match o.content {
                Content::Input(&id) => ('i', id),
                Content::Made(m) => {
                    let mut px = [0u8; W * H * 3];
                    let mut dst =
                        FrameMut::new(PixelFormat::Rgb, W, H, vec![&mut px[..]], &[3 * W], Colorimetry::default())?;
                    m.write(&mut dst)?;
                    ('m', px[3 * W * 2] as u32)
                }
            };
            seen.push((o.k, o.pts_ns, what.0, what.1));
            Ok(())
        };
        for (id, pts, px) in inputs {
            tallies.push(conv.push(&frame(px), *id, Some(*pts), p, None, &mut emit).unwrap());
        }
        tallies.push(conv.drain(p, None, &mut emit).unwrap());
        (seen, tallies)
    }

    #[test]
    fn doubles_with_inputs_passed_and_blends_between() {
        let mut conv = FrameRateConverter::<u32>::new(None, Arc::default());
        conv.set_format(rate(10), rate(20), W, H);
        let inputs = [(0, 1_000, picture(0)), (1, 100_001_000, picture(10)), (2, 200_001_000, picture(20))];
        let (seen, tallies) = run(&mut conv, &inputs, &params(Mode::Blend));
        let ks: Vec<u64> = seen.iter().map(|s| s.0).collect();
        assert_eq!(ks, [0, 1, 2, 3, 4, 5]);
        // Timestamps start at the first input's and step by exact output frames.
        let pts: Vec<u64> = seen.iter().map(|s| s.1).collect();
        assert_eq!(pts, [1_000, 50_001_000, 100_001_000, 150_001_000, 200_001_000, 250_001_000]);
        let kinds: Vec<(char, u32)> = seen.iter().map(|s| (s.2, s.3)).collect();
        // Blend half way between shade 0 and 10 at ramp x=0, row 0: 5.
        assert_eq!(kinds, [('i', 0), ('m', 5), ('i', 1), ('m', 15), ('i', 2), ('i', 2)]);
        let total: u64 = tallies.iter().map(|t| t.outputs).sum();
        assert_eq!(total, 6);
        assert_eq!(tallies.iter().map(|t| t.made_ms.len()).sum::<usize>(), 2);
        assert_eq!(tallies.iter().map(|t| t.passed).sum::<u64>(), 4);
        assert!(conv.cost(Mode::Blend).is_some() && conv.cost(Mode::Flow).is_none());
    }

    #[test]
    fn latency_is_published_for_other_threads() {
        let published = Arc::new(Published::default());
        let mut conv = FrameRateConverter::<u32>::new(None, published.clone());
        assert_eq!(published.latency_ns(Mode::Blend), 0, "nothing before a format");
        conv.set_format(rate(25), rate(50), W, H);
        assert_eq!(published.latency_ns(Mode::Blend), 40_000_000, "one input frame");
        run(&mut conv, &[(0, 0, picture(0)), (1, 40_000_000, picture(5))], &params(Mode::Blend));
        let blend = (conv.cost(Mode::Blend).unwrap() * 1e9) as u64;
        assert_eq!(published.latency_ns(Mode::Blend), 40_000_000 + blend);
        assert_eq!(published.latency_ns(Mode::Flow), 40_000_000, "flow has not run");
        published.clear();
        assert_eq!(published.latency_ns(Mode::Blend), 0);
    }

    #[test]
    fn a_scene_cut_repeats_the_nearest_input() {
        let mut conv = FrameRateConverter::<u32>::new(None, Arc::default());
        conv.set_format(rate(10), rate(40), W, H);
        let other: Vec<u8> = picture(0).iter().map(|v| 255 - v).collect();
        let (seen, tallies) = run(&mut conv, &[(0, 0, picture(0)), (1, 100_000_000, other)], &params(Mode::Flow));
        let kinds: Vec<(char, u32)> = seen.iter().take(4).map(|s| (s.2, s.3)).collect();
        assert_eq!(kinds, [('i', 0), ('i', 0), ('i', 1), ('i', 1)], "t 0.25 -> a, 0.5 and 0.75 -> b");
        assert_eq!(tallies[1].scene_cuts, 1, "one cut per pair, however many outputs");
        assert!(tallies[1].made_ms.is_empty());
    }

    #[test]
    fn a_gap_emits_the_tail_and_restarts() {
        let mut conv = FrameRateConverter::<u32>::new(None, Arc::default());
        conv.set_format(rate(10), rate(20), W, H);
        let inputs = [(0, 0, picture(0)), (1, 100_000_000, picture(0)), (2, 5_000_000_000, picture(0))];
        let (seen, tallies) = run(&mut conv, &inputs, &params(Mode::Blend));
        let at: Vec<(u64, u64)> = seen.iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(
            at,
            [(0, 0), (1, 50_000_000), (2, 100_000_000), (3, 150_000_000), (0, 5_000_000_000), (1, 5_050_000_000)]
        );
        assert!(tallies[2].restarted && !tallies[1].restarted);
    }

    #[test]
    fn live_streams_degrade_when_a_mode_is_too_slow_and_retry() {
        let mut conv = FrameRateConverter::<u32>::new(None, Arc::default());
        conv.set_format(rate(10), rate(20), W, H);
        // Flow is known to take a second: far more than the 100 ms an input lasts.
        conv.cost[Mode::Flow.index()] = Some(1.0);
        conv.measured[Mode::Flow.index()] = TRUSTED;
        let live = Params { live: true, ..params(Mode::Flow) };
        let mut emit = |_: Output<'_, u32>| -> Result<()> { Ok(()) };
        let mut degraded = 0;
        for i in 0..(RETRY_EVERY as u64 + 1) {
            let px = picture(i as u8);
            degraded += conv.push(&frame(&px), 0, Some(i * 100_000_000), &live, None, &mut emit).unwrap().degraded;
        }
        // One in-between frame per input after the first; the retry makes the wanted mode run once.
        assert_eq!(degraded, RETRY_EVERY as u64 - 1);
        // The first fallback is the flow at half resolution, not a blend.
        assert!(conv.cost(Mode::FastFlow).is_some() && conv.cost(Mode::Blend).is_none());
        // Not live: never degraded.
        let px = picture(0);
        let t = conv.push(&frame(&px), 0, None, &params(Mode::Flow), None, &mut emit).unwrap();
        assert_eq!(t.degraded, 0);
    }

    #[test]
    fn one_slow_first_frame_does_not_degrade_a_live_stream() {
        let mut conv = FrameRateConverter::<u32>::new(None, Arc::default());
        conv.set_format(rate(10), rate(20), W, H);
        // The first frame made by flow took a second (a warm-up): not trusted yet.
        conv.cost[Mode::Flow.index()] = Some(1.0);
        conv.measured[Mode::Flow.index()] = 1;
        let live = Params { live: true, ..params(Mode::Flow) };
        let mut emit = |_: Output<'_, u32>| -> Result<()> { Ok(()) };
        let mut degraded = 0;
        for i in 0..4u64 {
            let px = picture(i as u8);
            degraded += conv.push(&frame(&px), 0, Some(i * 100_000_000), &live, None, &mut emit).unwrap().degraded;
        }
        assert_eq!(degraded, 0);
        // The second frame replaced the warm-up's time instead of averaging with it.
        assert!(conv.cost(Mode::Flow).unwrap() < 0.5, "{:?}", conv.cost(Mode::Flow));
    }

    #[test]
    fn a_live_budget_is_an_input_frame_over_the_frames_made_per_input() {
        let budget = |a, b| Format::new(rate(a), rate(b), W, H).budget;
        // 30 -> 60: one made frame per input.
        assert!((budget(30, 60) - 1.0 / 30.0).abs() < 1e-12);
        // 24 -> 60: five outputs per two inputs, one of them an input: two made per input.
        assert!((budget(24, 60) - 1.0 / 48.0).abs() < 1e-12);
        // 60 -> 30: nothing is made; an output frame's duration.
        assert!((budget(60, 30) - 1.0 / 30.0).abs() < 1e-9);
    }

    #[test]
    fn bisection_brackets() {
        assert_eq!(bracket(0.25, 2), (WHOLE / 4, WHOLE / 2, 0.0));
        assert_eq!(bracket(0.5, 1), (WHOLE / 2, WHOLE, 0.0));
        let (lo, hi, inside) = bracket(0.4, 2);
        assert_eq!((lo, hi), (WHOLE / 4, WHOLE / 2));
        assert!((inside - 0.6).abs() < 1e-9);
        let (lo, hi, inside) = bracket(0.95, 2);
        assert_eq!((lo, hi), (3 * WHOLE / 4, WHOLE));
        assert!((inside - 0.8).abs() < 1e-9);
        let (lo, hi, inside) = bracket(0.1, 1);
        assert_eq!((lo, hi), (0, WHOLE / 2));
        assert!((inside - 0.2).abs() < 1e-9);
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let mut conv = FrameRateConverter::<u32>::new(None, Arc::default());
        let mut emit = |_: Output<'_, u32>| -> Result<()> { Ok(()) };
        let px = picture(0);
        let e = conv.push(&frame(&px), 0, None, &params(Mode::Flow), None, &mut emit).unwrap_err();
        assert!(e.to_string().contains("before the format"), "{e}");
        conv.set_format(rate(10), rate(20), W + 2, H);
        let e = conv.push(&frame(&px), 0, None, &params(Mode::Flow), None, &mut emit).unwrap_err();
        assert!(e.to_string().contains("8x6 frame where the format says 10x6"), "{e}");
    }
}
