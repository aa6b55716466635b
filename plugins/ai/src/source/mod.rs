//! `aisrc`: a video source that generates clips from a text prompt with a diffusion model.
//!
//! ```text
//! gst-launch-1.0 aisrc prompt="a blue square moving up" ! videoconvert ! autovideosink
//! gst-launch-1.0 aisrc prompt="a red circle moving right" num-frames=8 ! aiinterpolate \
//!   ! video/x-raw,framerate=24/1 ! aiupscale ! videoconvert ! x264enc ! mp4mux ! filesink location=clip.mp4
//! gst-launch-1.0 aisrc model=/models/text-to-video-ms-1.7b-onnx prompt="a panda eating bamboo" \
//!   ! video/x-raw,width=256,height=256 ! videoconvert ! autovideosink
//! ```
//!
//! A `GstPushSrc`: each clip is denoised on a worker thread while the previous one plays, then
//! decoded frame by frame into the negotiated format with timestamps from the frame rate. With no
//! `model` it runs the built-in model (models/t2v_builtin.md), which knows a small vocabulary of
//! coloured moving shapes; a diffusers / Optimum ONNX text-to-video folder (ModelScope,
//! Zeroscope) replaces it. Posts `aisrc-step` after each denoising step and `aisrc-clip` after
//! each clip, and sends the generation parameters downstream as tags.

use gst::glib;
use gst::prelude::*;

mod image;
mod imp;
mod settings;

glib::wrapper! {
    pub struct AiSrc(ObjectSubclass<imp::AiSrc>) @extends gst_base::PushSrc, gst_base::BaseSrc, gst::Element, gst::Object;
}

/// The `scheduler` property: how the denoising steps are taken.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAiScheduler")]
pub enum AiScheduler {
    #[enum_value(name = "DDIM (deterministic with eta 0; eta > 0 adds noise)", nick = "ddim")]
    Ddim = 0,
    #[enum_value(name = "Euler (discrete, first order)", nick = "euler")]
    Euler = 1,
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    AiScheduler::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "aisrc", gst::Rank::NONE, AiSrc::static_type())
}
