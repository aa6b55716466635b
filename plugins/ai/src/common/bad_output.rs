//! What an element does with a model output that holds NaN or infinite values (the runtime's
//! `Error::NonFinite`, found before the output is turned into pixels): by default the frame
//! gets a picture made without the model (each element says which) and the bus a warning; with
//! `on-bad-output=error` the stream stops with an error. The warning names the model and the
//! share of bad values; it is posted for the first such frame, then at most once every
//! [`WARN_EVERY`] with the number of frames since, so a broken model does not flood the bus. Every
//! such frame is counted in the element's `stats` as `non-finite`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gst_ai_runtime::Error;

use super::{ElementError, Stats, lock};

/// The name of the property and of the `stats` counter.
pub const PROPERTY: &str = "on-bad-output";
pub const COUNTER: &str = "non-finite";

/// The shortest time between two warnings about bad output from one element.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAiOnBadOutput")]
pub enum AiOnBadOutput {
    #[default]
    #[enum_value(name = "Fallback: a picture made without the model, and a warning", nick = "fallback")]
    Fallback = 0,
    #[enum_value(name = "Error: stop the stream with an error", nick = "error")]
    Error = 1,
}

/// The `on-bad-output` property; `fallback` says what a frame gets instead (e.g. "the input,
/// bicubic-scaled").
pub fn pspec(fallback: &str) -> glib::ParamSpec {
    glib::ParamSpecEnum::builder_with_default(PROPERTY, AiOnBadOutput::Fallback)
        .nick("On bad output")
        .blurb(&format!(
            "What to do when the model's output holds NaN or infinite values (a broken or mis-exported model): \
             fallback gives the frame {fallback} and posts a warning naming the model and the share of bad values \
             (then at most one every {} s), counted in stats as non-finite; error stops the stream",
            WARN_EVERY.as_secs()
        ))
        .mutable_playing()
        .build()
}

/// True for the runtime's non-finite output error.
pub fn is_bad_output(e: &ElementError) -> bool {
    matches!(e, ElementError::Runtime(Error::NonFinite { .. }))
}

/// The rate limit of one element's warnings.
#[derive(Default)]
pub struct BadOutputWarnings {
    /// When the last warning was posted and how many bad frames came since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl BadOutputWarnings {
    /// Forgets the last warning (at start): the first bad frame of a new run is reported at once.
    pub fn reset(&self) {
        *lock(&self.state) = (None, 0);
    }

    /// Records a frame that got `fallback` because of `e`: counts it in `stats` and posts a
    /// warning from `element` (its factory name heads the text) when one is due.
    pub fn fell_back(&self, element: &gst::Element, stats: &Stats, e: &dyn std::fmt::Display, fallback: &str) {
        stats.add(COUNTER, 1);
        let since = {
            let mut s = lock(&self.state);
            let due = s.0.is_none_or(|t| t.elapsed() >= WARN_EVERY);
            if !due {
                s.1 += 1;
                return;
            }
            let since = s.1;
            *s = (Some(Instant::now()), 0);
            since
        };
        let what = element.factory().map(|f| f.name().to_string()).unwrap_or_else(|| element.name().to_string());
        let mut text = format!("{what}: {e}; the frame gets {fallback} instead (on-bad-output=error stops instead)");
        if since > 0 {
            text.push_str(&format!("; {since} more such frames since the last warning"));
        }
        let _ =
            element.post_message(gst::message::Warning::builder(gst::LibraryError::Failed, &text).src(element).build());
    }
}
