//! `aiupscale`: neural super-resolution inside a pipeline.
//!
//! ```text
//! gst-launch-1.0 videotestsrc num-buffers=30 ! video/x-raw,width=640,height=360 ! aiupscale \
//!   ! videoconvert ! autovideosink
//! gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! aiupscale model=realesr-x4.onnx \
//!   tile-size=256 ! videoconvert ! x264enc ! mp4mux ! filesink location=out.mp4
//! ```
//!
//! With no `model` it runs the built-in learned x2 network (models/sr_x2.md); any ONNX model of
//! the super-resolution family (MODELS.md) at an integer scale replaces it.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct AiUpscale(ObjectSubclass<imp::AiUpscale>) @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    crate::common::AiPrecision::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    crate::common::OnLate::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    crate::common::AiOnBadOutput::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "aiupscale", gst::Rank::NONE, AiUpscale::static_type())
}
