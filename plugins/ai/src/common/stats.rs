//! The statistics every element keeps: frames, the element's own counters and values, and the
//! processing time per frame over a bounded window. They are published for control paths in
//! their own small lock, taken only to add a number or to copy them out, never across a model
//! run: the `stats` property reads them while a frame is being processed. The same structure is
//! posted as an element message at EOS.

use std::collections::VecDeque;
use std::sync::Mutex;

use gst::prelude::*;

use super::lock;

/// Processing times of the last frames: a bounded window so a long stream reports its recent
/// behaviour.
#[derive(Default, Clone)]
pub struct Timings {
    ms: VecDeque<f64>,
}

impl Timings {
    const WINDOW: usize = 512;

    pub fn record(&mut self, ms: f64) {
        if self.ms.len() == Self::WINDOW {
            self.ms.pop_front();
        }
        self.ms.push_back(ms);
    }

    /// The `mean-ms`, `p95-ms` and `fps` fields of an element's `stats` structure.
    pub fn fields(&self, b: gst::structure::Builder) -> gst::structure::Builder {
        let (mean, p95) = self.mean_p95();
        b.field("mean-ms", mean).field("p95-ms", p95).field("fps", if mean > 0.0 { 1000.0 / mean } else { 0.0 })
    }

    /// (mean, 95th percentile) in milliseconds; zeros before the first frame.
    pub fn mean_p95(&self) -> (f64, f64) {
        if self.ms.is_empty() {
            return (0.0, 0.0);
        }
        let mut sorted: Vec<f64> = self.ms.iter().copied().collect();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
        let p95 = sorted[((sorted.len() as f64 * 0.95) as usize).min(sorted.len() - 1)];
        (mean, p95)
    }
}

#[derive(Clone)]
struct Numbers {
    frames: u64,
    counters: Vec<(&'static str, u64)>,
    values: Vec<(&'static str, f64)>,
    times: Timings,
}

/// One element's statistics. `name` is the structure's name (e.g. `ai-upscale-stats`); the
/// counters and values are the element's own fields, in the order they are reported.
pub struct Stats {
    name: &'static str,
    counter_names: &'static [&'static str],
    value_names: &'static [&'static str],
    numbers: Mutex<Numbers>,
}

impl Stats {
    pub fn new(name: &'static str, counters: &'static [&'static str], values: &'static [&'static str]) -> Self {
        Self { name, counter_names: counters, value_names: values, numbers: Mutex::new(Self::zero(counters, values)) }
    }

    fn zero(counters: &'static [&'static str], values: &'static [&'static str]) -> Numbers {
        Numbers {
            frames: 0,
            counters: counters.iter().map(|&c| (c, 0)).collect(),
            values: values.iter().map(|&v| (v, 0.0)).collect(),
            times: Timings::default(),
        }
    }

    /// Back to zero (at start).
    pub fn reset(&self) {
        *lock(&self.numbers) = Self::zero(self.counter_names, self.value_names);
    }

    /// One frame done, which took `ms` milliseconds.
    pub fn frame(&self, ms: f64) {
        let mut n = lock(&self.numbers);
        n.frames += 1;
        n.times.record(ms);
    }

    /// One frame counted without a processing time (e.g. passed through).
    pub fn count_frame(&self) {
        lock(&self.numbers).frames += 1;
    }

    /// Adds `by` to the counter `name` (one of the names given to [`new`](Self::new)).
    pub fn add(&self, name: &str, by: u64) {
        let mut n = lock(&self.numbers);
        match n.counters.iter_mut().find(|(c, _)| *c == name) {
            Some((_, v)) => *v += by,
            None => debug_assert!(false, "unknown counter {name}"),
        }
    }

    /// Sets the value `name` (one of the names given to [`new`](Self::new)).
    pub fn set(&self, name: &str, value: f64) {
        let mut n = lock(&self.numbers);
        match n.values.iter_mut().find(|(c, _)| *c == name) {
            Some((_, v)) => *v = value,
            None => debug_assert!(false, "unknown value {name}"),
        }
    }

    /// `frames`, the counters, the values, then `mean-ms`, `p95-ms` and the `fps` they allow.
    pub fn structure(&self) -> gst::Structure {
        let n = lock(&self.numbers).clone();
        let mut b = gst::Structure::builder(self.name).field("frames", n.frames);
        for (name, v) in n.counters {
            b = b.field(name, v);
        }
        for (name, v) in n.values {
            b = b.field(name, v);
        }
        n.times.fields(b).build()
    }

    /// Posts [`structure`](Self::structure) as an element message of `element` (at EOS).
    pub fn post(&self, element: &impl IsA<gst::Element>) {
        let element = element.as_ref();
        let _ = element.post_message(gst::message::Element::builder(self.structure()).src(element).build());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_structure_has_every_field_in_order() {
        gst::init().unwrap();
        let s = Stats::new("t-stats", &["a", "b"], &["x"]);
        s.frame(10.0);
        s.frame(30.0);
        s.add("b", 3);
        s.set("x", 1.5);
        let st = s.structure();
        let names: Vec<&str> = st.fields().map(|f| f.as_str()).collect();
        assert_eq!(names, ["frames", "a", "b", "x", "mean-ms", "p95-ms", "fps"]);
        assert_eq!(st.get::<u64>("frames").unwrap(), 2);
        assert_eq!(st.get::<u64>("b").unwrap(), 3);
        assert_eq!(st.get::<f64>("x").unwrap(), 1.5);
        assert_eq!(st.get::<f64>("mean-ms").unwrap(), 20.0);
        assert_eq!(st.get::<f64>("fps").unwrap(), 50.0);
        s.reset();
        assert_eq!(s.structure().get::<u64>("frames").unwrap(), 0);
    }
}
