//! `ailipsync`: a face's mouth animated from an audio stream.
//!
//! ```text
//! gst-launch-1.0 filesrc location=talk.mp4 ! decodebin name=d \
//!   d. ! queue ! videoconvert ! ailipsync name=l face-box="<480,120,320,400>" ! videoconvert ! autovideosink \
//!   d. ! queue ! audioconvert ! tee name=t ! queue ! l.audio  t. ! queue ! autoaudiosink
//! ```
//!
//! Avatar mode: a photograph speaks; `end-with-audio` ends the endless still picture with the audio.
//!
//! ```text
//! gst-launch-1.0 filesrc location=photo.png ! pngdec ! videoconvert ! imagefreeze ! video/x-raw,framerate=25/1 \
//!   ! ailipsync name=l end-with-audio=true ! videoconvert ! autovideosink \
//!   filesrc location=speech.wav ! decodebin ! audioconvert ! tee name=t ! queue ! l.audio  t. ! queue ! autoaudiosink
//! ```
//!
//! A `GstAggregator` with a `video` sink pad, an `audio` request pad (any rate and channel count,
//! converted to 16 kHz mono inside) and one video source pad. Each video frame hears the audio
//! at its running time: Wav2Lip's window of 16 mel columns (200 ms) from the frame's start. With
//! no `model` the built-in animation opens the mouth by a smooth warp driven by the speech
//! loudness; a Wav2Lip-family ONNX model regenerates the lower face instead, pasted back with a
//! feathered mask. Without audio, before it starts, after it ends and in silence, frames pass
//! unchanged.

use gst::glib;
use gst::prelude::*;

mod imp;
mod settings;

glib::wrapper! {
    pub struct AiLipSync(ObjectSubclass<imp::AiLipSync>) @extends gst_base::Aggregator, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "ailipsync", gst::Rank::NONE, AiLipSync::static_type())
}
