//! `aiinterpolate`: motion-compensated frame-rate conversion.
//!
//! ```text
//! gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! aiinterpolate \
//!   ! video/x-raw,framerate=60/1 ! videoconvert ! autovideosink
//! gst-launch-1.0 videotestsrc pattern=ball ! video/x-raw,framerate=24/1 ! aiinterpolate factor=2.5 \
//!   ! videoconvert ! autovideosink
//! ```
//!
//! Produces the frame rate negotiated downstream (or the input's times `factor`), any ratio.
//! The default `flow` mode is built in (optical flow, bidirectional warping, occlusion-aware
//! blending, scene cuts); `model` runs a RIFE ONNX model.

use gst::glib;
use gst::prelude::*;
use gst_ai_runtime::tasks::interpolate;

mod caps;
mod imp;
mod output;
mod settings;

#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAiInterpolateMode")]
pub enum Mode {
    #[default]
    #[enum_value(name = "Flow: built-in motion-compensated interpolation", nick = "flow")]
    Flow = 0,
    #[enum_value(name = "Model: a RIFE ONNX model (the model property)", nick = "model")]
    Model = 1,
    #[enum_value(name = "Blend: cross-fade of the neighbouring frames", nick = "blend")]
    Blend = 2,
    #[enum_value(name = "Duplicate: the nearest input frame", nick = "duplicate")]
    Duplicate = 3,
}

impl From<Mode> for interpolate::Mode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Flow => Self::Flow,
            Mode::Model => Self::Model,
            Mode::Blend => Self::Blend,
            Mode::Duplicate => Self::Duplicate,
        }
    }
}

/// How `mode=model` makes a frame at a time other than the midpoint (the runtime's
/// [`interpolate::TimestepHandling`]).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAiInterpolateTimestep")]
pub enum TimestepHandling {
    #[default]
    #[enum_value(
        name = "Auto: for a model trained for the midpoint only (manifest \"timestep\": \"midpoint\", e.g. \
                zoo:rife-hdv3) bisect where an output falls on the midpoint (no extra run), else the model's own \
                timestep",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(name = "Model: the model's own timestep input, one run per frame", nick = "model")]
    Model = 1,
    #[enum_value(
        name = "Bisect: the midpoint (made once per input pair), then the model's timestep inside the half \
                holding t; quarters are midpoints of halves",
        nick = "bisect"
    )]
    Bisect = 2,
}

impl From<TimestepHandling> for interpolate::TimestepHandling {
    fn from(m: TimestepHandling) -> Self {
        match m {
            TimestepHandling::Auto => Self::Auto,
            TimestepHandling::Model => Self::Model,
            TimestepHandling::Bisect => Self::Bisect,
        }
    }
}

glib::wrapper! {
    pub struct AiInterpolate(ObjectSubclass<imp::AiInterpolate>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    Mode::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    TimestepHandling::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "aiinterpolate", gst::Rank::NONE, AiInterpolate::static_type())
}
