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

use gst_ai_runtime::tasks::lipsync;

mod imp;
mod settings;

/// Which face is animated when several are found (the runtime's [`lipsync::FaceSelect`]).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAiLipSyncFaceSelect")]
pub enum FaceSelect {
    #[default]
    #[enum_value(name = "Largest: the largest face", nick = "largest")]
    Largest = 0,
    #[enum_value(name = "Most confident: the detector's highest score", nick = "most-confident")]
    MostConfident = 1,
    #[enum_value(name = "Centre: the face nearest the frame's centre", nick = "centre")]
    Centre = 2,
}

impl From<FaceSelect> for lipsync::FaceSelect {
    fn from(f: FaceSelect) -> Self {
        match f {
            FaceSelect::Largest => Self::Largest,
            FaceSelect::MostConfident => Self::MostConfident,
            FaceSelect::Centre => Self::Centre,
        }
    }
}

impl From<lipsync::FaceSelect> for FaceSelect {
    fn from(f: lipsync::FaceSelect) -> Self {
        match f {
            lipsync::FaceSelect::Largest => Self::Largest,
            lipsync::FaceSelect::MostConfident => Self::MostConfident,
            lipsync::FaceSelect::Centre => Self::Centre,
        }
    }
}

glib::wrapper! {
    pub struct AiLipSync(ObjectSubclass<imp::AiLipSync>) @extends gst_base::Aggregator, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    FaceSelect::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "ailipsync", gst::Rank::NONE, AiLipSync::static_type())
}
