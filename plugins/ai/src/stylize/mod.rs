//! `aistylize`: style transfer that does not flicker.
//!
//! ```text
//! gst-launch-1.0 videotestsrc pattern=ball ! video/x-raw,width=640,height=360 ! aistylize style=pencil \
//!   ! videoconvert ! autovideosink
//! gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! aistylize model=mosaic-9.onnx \
//!   temporal-consistency=0.6 ! videoconvert ! x264enc ! mp4mux ! filesink location=out.mp4
//! ```
//!
//! With no `model` it runs one of the built-in learned styles (models/style_*.md); any
//! fast-neural-style or AnimeGANv2 ONNX model replaces them. The zoo's `style26` gives 26 named
//! styles and their mixes (`style=starry-night:0.7,mosaic:0.3`), `style-arbitrary` any picture
//! as the style (`style-image=painting.jpg`). The previous output, warped along
//! the optical flow, is blended in where forward and backward flow agree, so the style does not
//! shimmer from frame to frame.

use gst::glib;
use gst::prelude::*;

mod imp;
mod picture;

/// How a model with a fixed input size is applied to frames of another size.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAiStyleFit")]
pub enum Fit {
    #[default]
    #[enum_value(name = "Resize: the frame to the model's size and back", nick = "resize")]
    Resize = 0,
    #[enum_value(name = "Tile: tiles of the model's size, blended", nick = "tile")]
    Tile = 1,
}

glib::wrapper! {
    pub struct AiStylize(ObjectSubclass<imp::AiStylize>) @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    Fit::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    crate::common::OnLate::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "aistylize", gst::Rank::NONE, AiStylize::static_type())
}
