//! Frames a model filter has no time for: the `on-late` policy of aiupscale and aistylize, the
//! judgement of which frames would be late, and the measured latency the element reports.
//!
//! A frame would be late when downstream said so (a QoS event: its running time is not after
//! the earliest time downstream still renders), or, on a live stream, when the clock says so:
//! now plus the measured processing time ([`MeasuredLatency`]) passes the frame's running time
//! plus the pipeline's configured latency (from the LATENCY event). A non-live stream (a file
//! transcode) is judged only by QoS events, which only a sink that syncs to the clock sends, so
//! a transcode never degrades. With the element's `qos` property off nothing is judged late.
//! Every [`RETRY_EVERY`]th late frame in a row is given to the model anyway, so the measured
//! time follows a machine that became faster (rarely: on a stream where the model cannot be on
//! time, that frame and those queued behind it are late). After [`WARN_AFTER`] late frames in a
//! row a warning (once per start) says the model cannot keep up.
//!
//! The element answers the late frame: `drop` drops it (counted, and a QoS message posted as
//! GStreamer's own filters do), `fallback` emits a cheap picture in its place, keeping the full
//! frame rate. GStreamer's own QoS dropping in `GstBaseTransform` is bypassed (QoS events are
//! taken here and passed upstream), so the policy alone decides.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst_base::prelude::*;
use gst_video::prelude::*;

use super::latency::{self, MeasuredLatency};

/// How many late frames in a row are judged late before one is given to the model again.
pub const RETRY_EVERY: u32 = 250;
/// How many late frames in a row make the element warn that the model cannot keep up.
pub const WARN_AFTER: u32 = 50;

const NONE: u64 = u64::MAX;

/// What a model filter does with a frame that would be late.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAiOnLate")]
pub enum OnLate {
    #[enum_value(name = "Drop: the frame is not output (counted as late-dropped)", nick = "drop")]
    Drop = 0,
    #[default]
    #[enum_value(
        name = "Fallback: a cheap picture in its place, keeping the frame rate (counted as late-fallback)",
        nick = "fallback"
    )]
    Fallback = 1,
}

pub const DEFAULT_ON_LATE: OnLate = OnLate::Fallback;

/// A frame judged late: what a QoS message about it says.
#[derive(Clone, Copy, Debug)]
pub struct Late {
    pub running_time: gst::ClockTime,
    /// How late (ns) it would be, by the clock or by downstream's QoS.
    pub jitter: i64,
}

/// An element's policy, the lateness it learns from events and queries, and its measured
/// latency. Every field is an atomic: control paths never wait for the streaming thread.
#[derive(Debug)]
pub struct Overload {
    policy: AtomicU32,
    pub latency: MeasuredLatency,
    /// Whether upstream is live (from the last latency query).
    live: AtomicBool,
    /// The pipeline's configured latency (ns), from the last LATENCY event; NONE before one.
    configured: AtomicU64,
    /// Downstream's earliest running time (ns) still rendered, from the last QoS event; i64::MIN
    /// before one.
    earliest: AtomicI64,
    proportion_bits: AtomicU64,
    late_in_a_row: AtomicU32,
    warned: AtomicBool,
    processed: AtomicU64,
    dropped: AtomicU64,
}

impl Default for Overload {
    fn default() -> Self {
        Self {
            policy: AtomicU32::new(DEFAULT_ON_LATE as u32),
            latency: MeasuredLatency::default(),
            live: AtomicBool::new(false),
            configured: AtomicU64::new(NONE),
            earliest: AtomicI64::new(i64::MIN),
            proportion_bits: AtomicU64::new(1f64.to_bits()),
            late_in_a_row: AtomicU32::new(0),
            warned: AtomicBool::new(false),
            processed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }
}

impl Overload {
    /// The `on-late` property; `fallback` is what the element emits in place of a late frame.
    pub fn pspec(fallback: &str) -> glib::ParamSpec {
        glib::ParamSpecEnum::builder_with_default("on-late", DEFAULT_ON_LATE)
            .nick("On late")
            .blurb(&format!(
                "What to do with a frame the model would finish too late (downstream's QoS events say so, or on \
                 a live stream the clock: now + the measured processing time past the frame's running time + the \
                 pipeline latency): drop it, or fallback: emit {fallback} instead, keeping the full frame rate. \
                 Counted in stats (late-dropped, late-fallback). A stream that is not live is judged only by QoS \
                 events, so a file transcode never degrades; qos=false judges no frame late"
            ))
            .mutable_playing()
            .build()
    }

    pub fn policy(&self) -> OnLate {
        match self.policy.load(Ordering::Relaxed) {
            0 => OnLate::Drop,
            _ => OnLate::Fallback,
        }
    }

    pub fn set_policy(&self, p: OnLate) {
        self.policy.store(p as u32, Ordering::Relaxed);
    }

    /// Back to nothing known (start): no measurement, no QoS, no configured latency.
    pub fn reset(&self) {
        self.latency.clear();
        self.flushed();
        self.configured.store(NONE, Ordering::Relaxed);
        self.warned.store(false, Ordering::Relaxed);
        self.processed.store(0, Ordering::Relaxed);
        self.dropped.store(0, Ordering::Relaxed);
    }

    /// A flush or a new segment: earlier QoS no longer applies.
    pub fn flushed(&self) {
        self.earliest.store(i64::MIN, Ordering::Relaxed);
        self.proportion_bits.store(1f64.to_bits(), Ordering::Relaxed);
        self.late_in_a_row.store(0, Ordering::Relaxed);
    }

    /// A src pad event: QoS events are taken here and passed upstream (`Ok`, the result of the
    /// push); a LATENCY event is noted and everything else given back (`Err`) for the parent.
    pub fn src_event(&self, element: &gst_base::BaseTransform, event: gst::Event) -> Result<bool, gst::Event> {
        match event.view() {
            gst::EventView::Qos(q) => {
                let (_, proportion, diff, timestamp) = q.get();
                if let Some(ts) = timestamp {
                    let earliest = (ts.nseconds() as i128 + diff as i128).clamp(i64::MIN as i128 + 1, i64::MAX as i128);
                    self.earliest.store(earliest as i64, Ordering::Relaxed);
                    self.proportion_bits.store(proportion.to_bits(), Ordering::Relaxed);
                }
                Ok(element.sink_pad().push_event(event))
            }
            gst::EventView::Latency(l) => {
                gst::debug!(gst::CAT_PERFORMANCE, obj = element, "pipeline latency {}", l.latency());
                self.configured.store(l.latency().nseconds(), Ordering::Relaxed);
                Err(event)
            }
            _ => Err(event),
        }
    }

    /// Completes a latency query upstream has answered: adds the measured processing time.
    pub fn answer_latency(&self, q: &mut gst::query::Latency) {
        let live = latency::add_ours(q, self.latency.latency());
        self.live.store(live, Ordering::Relaxed);
    }

    /// One model run took `took`: recorded, and a LATENCY message posted when the figure changed
    /// notably. Call with no lock held that a latency query takes.
    pub fn ran(&self, element: &gst::Element, took: Duration) {
        self.processed.fetch_add(1, Ordering::Relaxed);
        if self.latency.record(took) {
            gst::debug!(gst::CAT_PERFORMANCE, obj = element, "processing latency now {}", self.latency.latency());
            latency::post_latency_message(element);
        }
    }

    /// Whether the frame with timestamp `pts` would be late if the model ran it (see the module
    /// doc); `None`: run it.
    pub fn judge(&self, element: &gst_base::BaseTransform, pts: Option<gst::ClockTime>) -> Option<Late> {
        if !element.is_qos() {
            return None;
        }
        let segment = element.segment();
        let rt = segment.downcast_ref::<gst::ClockTime>()?.to_running_time(pts?)?;
        let mut jitter = None;
        let earliest = self.earliest.load(Ordering::Relaxed);
        if earliest != i64::MIN && (rt.nseconds() as i64) <= earliest {
            jitter = Some(earliest - rt.nseconds() as i64);
        }
        let cost = self.latency.latency();
        let configured = self.configured.load(Ordering::Relaxed);
        if jitter.is_none() && self.live.load(Ordering::Relaxed) && cost > gst::ClockTime::ZERO && configured != NONE {
            let now = element.current_running_time()?;
            let finish = (now + cost).nseconds() as i128;
            let deadline = rt.nseconds() as i128 + configured as i128;
            if finish > deadline {
                jitter = Some((finish - deadline).min(i64::MAX as i128) as i64);
            }
        }
        let Some(jitter) = jitter else {
            self.late_in_a_row.store(0, Ordering::Relaxed);
            return None;
        };
        let in_a_row = self.late_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
        if in_a_row == WARN_AFTER && !self.warned.swap(true, Ordering::Relaxed) {
            let text = format!(
                "the model cannot keep up: {WARN_AFTER} frames in a row would have been late (it takes {} a \
                 frame; pipeline latency {}): on-late={} answers them. Without a queue before a sink that \
                 syncs, the sink's wait is spent in this element's thread",
                cost,
                gst::ClockTime::from_nseconds(if configured == NONE { 0 } else { configured }),
                match self.policy() {
                    OnLate::Drop => "drop",
                    OnLate::Fallback => "fallback",
                }
            );
            gst::warning!(gst::CAT_PERFORMANCE, obj = element, "{text}");
            let msg = gst::message::Warning::builder(gst::StreamError::Failed, &text).src(element).build();
            let _ = element.post_message(msg);
        }
        if in_a_row >= RETRY_EVERY {
            self.late_in_a_row.store(0, Ordering::Relaxed);
            return None;
        }
        Some(Late { running_time: rt, jitter })
    }

    /// A late frame answered by a cheap picture: it counts as processed for QoS messages.
    pub fn fell_back(&self) {
        self.processed.fetch_add(1, Ordering::Relaxed);
    }

    /// Posts the QoS message for a dropped frame, as `GstBaseTransform` does.
    pub fn dropped(&self, element: &gst_base::BaseTransform, late: Late, buffer: &gst::BufferRef) {
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let segment = element.segment();
        let stream_time =
            segment.downcast_ref::<gst::ClockTime>().and_then(|s| buffer.pts().and_then(|p| s.to_stream_time(p)));
        let msg = gst::message::Qos::builder(self.live.load(Ordering::Relaxed))
            .running_time(late.running_time)
            .stream_time(stream_time)
            .timestamp(buffer.pts())
            .duration(buffer.duration())
            .values(late.jitter, f64::from_bits(self.proportion_bits.load(Ordering::Relaxed)), 1_000_000)
            .stats(
                gst::format::Buffers::from_u64(self.processed.load(Ordering::Relaxed)),
                gst::format::Buffers::from_u64(dropped),
            )
            .src(element)
            .build();
        let _ = element.post_message(msg);
    }
}

impl Overload {
    /// For `transform_frame`, before the model: when the frame would be late, answers it by the
    /// policy and returns the flow result (a dropped frame, or `fallback`'s picture written into
    /// `outframe`), counted in `stats` (`late-dropped`, `late-fallback`; a fallback frame counts
    /// in `frames` with no processing time). `None`: the model runs it.
    pub fn answer_late(
        &self,
        element: &gst_base::BaseTransform,
        stats: &super::Stats,
        what: &str,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
        fallback: impl FnOnce(&gst_ai_kernels::Frame, &mut gst_ai_kernels::FrameMut) -> Result<(), super::ElementError>,
    ) -> Option<Result<gst::FlowSuccess, gst::FlowError>> {
        let late = self.judge(element, inframe.buffer().pts())?;
        gst::log!(
            gst::CAT_PERFORMANCE,
            obj = element,
            "frame at {} would be late by {} ns",
            late.running_time,
            late.jitter
        );
        Some(match self.policy() {
            OnLate::Drop => {
                stats.add("late-dropped", 1);
                self.dropped(element, late, inframe.buffer());
                Ok(gst_base::BASE_TRANSFORM_FLOW_DROPPED)
            }
            OnLate::Fallback => {
                let made = super::frame_view(inframe).and_then(|src| {
                    let mut dst = super::frame_view_mut(outframe)?;
                    fallback(&src, &mut dst)
                });
                match made {
                    Ok(()) => {
                        stats.add("late-fallback", 1);
                        stats.count_frame();
                        self.fell_back();
                        Ok(gst::FlowSuccess::Ok)
                    }
                    Err(e) => Err(super::post(element, what, &e)),
                }
            }
        })
    }
}
