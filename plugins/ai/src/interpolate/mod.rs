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

glib::wrapper! {
    pub struct AiInterpolate(ObjectSubclass<imp::AiInterpolate>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    Mode::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "aiinterpolate", gst::Rank::NONE, AiInterpolate::static_type())
}
