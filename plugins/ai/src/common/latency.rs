//! The latency an element's own processing adds, measured: what its latency query answers on top
//! of upstream's, and when it posts a LATENCY message so the pipeline asks again.
//!
//! The streaming thread records the time of each model run; the figure is a high percentile
//! ([`MeasuredLatency::PERCENTILE`]) of the last [`MeasuredLatency::WINDOW`] runs, capped at
//! [`MeasuredLatency::MAX`], so one slow run ages out instead of raising the pipeline's latency
//! for good, and no run, however long, raises it without bound. The figure is published in an
//! atomic: a latency query (any thread) never waits for a run in flight. aiinterpolate measures
//! its cost per mode in the runtime and announces it through [`Announced`] too.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gst::prelude::*;

use super::lock;

/// The figure last announced in a LATENCY message, and the rule for announcing a new one.
#[derive(Debug, Default)]
pub struct Announced(AtomicU64);

impl Announced {
    /// Whether `ns` differs notably from what was announced (grown by more than a tenth and a
    /// millisecond, or fallen below half); if so it becomes the announced figure.
    pub fn update(&self, ns: u64) -> bool {
        let old = self.0.load(Ordering::Relaxed);
        let grown = ns > old + old / 10 + 1_000_000;
        let shrunk = ns < old / 2;
        if grown || shrunk {
            self.0.store(ns, Ordering::Relaxed);
        }
        grown || shrunk
    }

    pub fn clear(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// Posts a LATENCY message from `element` (the application, or a bin that handles it,
/// recalculates the pipeline's latency). The caller holds no lock the latency query takes.
pub fn post_latency_message(element: &gst::Element) {
    let _ = element.post_message(gst::message::Latency::builder().src(element).build());
}

/// Adds the element's own latency `ours` to an upstream answer already in `q`; returns whether
/// upstream is live.
pub fn add_ours(q: &mut gst::query::Latency, ours: gst::ClockTime) -> bool {
    let (live, min, max) = q.result();
    q.set(live, min + ours, max.map(|m| m + ours));
    live
}

/// The measured processing time of an element's model runs, published for control paths.
#[derive(Debug, Default)]
pub struct MeasuredLatency {
    /// The last runs (ns): the streaming thread's, its lock taken only to add one.
    runs: Mutex<VecDeque<u64>>,
    /// The figure a latency query adds (ns), 0 before the first run.
    published: AtomicU64,
    announced: Announced,
}

impl MeasuredLatency {
    /// How many recent runs the figure is taken from.
    pub const WINDOW: usize = 32;
    /// The percentile of those runs that is reported.
    pub const PERCENTILE: f64 = 0.95;
    /// The most a figure can be, whatever a run took (a stalled run, a machine swapping).
    pub const MAX: Duration = Duration::from_secs(10);

    /// One model run took `took`. Returns true when the published figure changed notably since
    /// it was last announced: the caller then posts a LATENCY message (with no lock held that a
    /// latency query takes), see [`post_latency_message`].
    pub fn record(&self, took: Duration) -> bool {
        let ns = (took.as_nanos() as u64).min(Self::MAX.as_nanos() as u64);
        let figure = {
            let mut runs = lock(&self.runs);
            if runs.len() == Self::WINDOW {
                runs.pop_front();
            }
            runs.push_back(ns);
            let mut sorted: Vec<u64> = runs.iter().copied().collect();
            sorted.sort_unstable();
            sorted[((sorted.len() as f64 * Self::PERCENTILE) as usize).min(sorted.len() - 1)]
        };
        self.published.store(figure, Ordering::Relaxed);
        self.announced.update(figure)
    }

    /// The element's own latency: the figure, or zero before the first run.
    pub fn latency(&self) -> gst::ClockTime {
        gst::ClockTime::from_nseconds(self.published.load(Ordering::Relaxed))
    }

    /// Back to nothing measured (start, stop).
    pub fn clear(&self) {
        lock(&self.runs).clear();
        self.published.store(0, Ordering::Relaxed);
        self.announced.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn figure_is_a_high_percentile_of_recent_runs_and_bounded() {
        let l = MeasuredLatency::default();
        assert_eq!(l.latency(), gst::ClockTime::ZERO);
        assert!(l.record(ms(100)), "the first run is announced");
        assert_eq!(l.latency().mseconds(), 100);
        assert!(!l.record(ms(105)), "5% more is not notable");
        assert!(l.record(ms(400)), "four times as long is announced");
        assert_eq!(l.latency().mseconds(), 400, "the highest of three runs");
        // The slow run ages out of the window, and the figure comes down (announced at half).
        let mut announced_down = false;
        for _ in 0..MeasuredLatency::WINDOW {
            announced_down |= l.record(ms(100));
        }
        assert_eq!(l.latency().mseconds(), 100);
        assert!(announced_down);
        // One slow run among 31 usual ones is above the 95th percentile: it does not count.
        l.record(Duration::from_secs(3600));
        assert_eq!(l.latency().mseconds(), 100);
        l.clear();
        l.record(Duration::from_secs(3600));
        assert_eq!(l.latency(), gst::ClockTime::from_seconds(10), "capped");
        l.clear();
        assert_eq!(l.latency(), gst::ClockTime::ZERO);
    }
}
