//! `libgstai.so`, GStreamer plugin `ai`: AI video generation and enhancement elements. Each
//! element lives in its own module (`mod.rs`: registration and property enums; `imp.rs`: the
//! implementation); what they share (device and precision properties, frame views) is in
//! [`common`]. Models run through `gst-ai-runtime`; pixels are moved by `gst-ai-kernels`.
#![allow(clippy::non_send_fields_in_send_ty)]
#![forbid(unsafe_code)]

use gst::glib;

pub mod common;
pub mod interpolate;
pub mod lipsync;
pub mod source;
pub mod stylize;
pub mod upscale;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    interpolate::register(plugin)?;
    lipsync::register(plugin)?;
    source::register(plugin)?;
    stylize::register(plugin)?;
    upscale::register(plugin)?;
    Ok(())
}

gst::plugin_define!(
    ai,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MPL",
    env!("CARGO_PKG_NAME"),
    "gst-ai",
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
