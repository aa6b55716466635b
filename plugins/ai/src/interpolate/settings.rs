//! `aiinterpolate`'s settings: the property values with their defaults, and the properties'
//! specs. Kept apart from the element (`imp.rs`), which snapshots them for each frame.

use gst::glib;
use gst::prelude::*;

use super::{Mode, TimestepHandling};
use crate::common::{AiOnBadOutput, ModelProps, bad_output};

pub const DEFAULT_MODE: Mode = Mode::Flow;
pub const DEFAULT_FACTOR: f64 = 0.0;
pub const DEFAULT_SCENE_THRESHOLD: f64 = 0.5;
pub const DEFAULT_TIMESTEP: TimestepHandling = TimestepHandling::Auto;
/// What an in-between frame is when the model's output is unusable (`on-bad-output=fallback`).
pub const FALLBACK: &str = "a blend of its two neighbours";

#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    pub factor: f64,
    pub scene_threshold: f64,
    pub timestep: TimestepHandling,
    pub model: ModelProps,
    pub on_bad_output: AiOnBadOutput,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: DEFAULT_MODE,
            factor: DEFAULT_FACTOR,
            scene_threshold: DEFAULT_SCENE_THRESHOLD,
            timestep: DEFAULT_TIMESTEP,
            model: ModelProps::default(),
            on_bad_output: AiOnBadOutput::default(),
        }
    }
}

/// The element's properties, documented for gst-inspect.
pub fn pspecs() -> Vec<glib::ParamSpec> {
    let mut v = ModelProps::pspecs(
        "interpolate",
        "Path of a RIFE ONNX model for mode=model: vs-mlrt v1 (11-channel input), v2 (7-channel) or \
         Practical-RIFE style (img0, img1, timestep); sizes padded to a multiple of 32 unless a \
         <model>.json says \"multiple\". It runs on the CPU (device=cuda with a model is an error at \
         start); mode=flow runs on the device below",
        true,
    );
    v.extend(ModelProps::remote_pspecs());
    v.extend([
        glib::ParamSpecEnum::builder_with_default("mode", DEFAULT_MODE)
            .nick("Mode")
            .blurb(
                "How in-between frames are made: flow (built-in motion-compensated interpolation), model \
                 (a RIFE ONNX model), blend (cross-fade) or duplicate (nearest frame). On a live stream a \
                 mode that cannot keep up degrades to the next (model > flow > flow estimated at half \
                 resolution > blend > duplicate), counted in stats",
            )
            .mutable_playing()
            .build(),
        glib::ParamSpecDouble::builder("factor")
            .nick("Factor")
            .blurb(
                "Output frame rate as the input's times this (e.g. 2, 2.5); 0 = the rate downstream \
                 asks for (a caps filter such as video/x-raw,framerate=60/1), or twice the input's when \
                 downstream accepts any",
            )
            .minimum(0.0)
            .maximum(64.0)
            .default_value(DEFAULT_FACTOR)
            .mutable_ready()
            .build(),
        glib::ParamSpecDouble::builder("scene-threshold")
            .nick("Scene threshold")
            .blurb(
                "Scene-change measure (0 = same picture, 1 = unrelated) above which two frames are a cut: \
                 in-between frames then repeat the nearest frame instead of morphing; 1 disables",
            )
            .minimum(0.0)
            .maximum(1.0)
            .default_value(DEFAULT_SCENE_THRESHOLD)
            .mutable_playing()
            .build(),
        glib::ParamSpecEnum::builder_with_default("timestep-handling", DEFAULT_TIMESTEP)
            .nick("Timestep handling")
            .blurb(
                "How mode=model makes frames away from the midpoint (e.g. 4x, 24->60 fps): model (the \
                 model's own timestep input, one run per frame), bisect (the midpoint, made once per input \
                 pair, then the model's timestep inside the half holding t; quarters are midpoints of \
                 halves, as upstream RIFE does them; one run more per pair unless an output falls on the \
                 midpoint) or auto: for a model trained for the midpoint only (its manifest says \
                 \"timestep\": \"midpoint\", such as zoo:rife-hdv3) bisect where that is free (2x, 4x), \
                 else the model's timestep; measured within 0.2 dB of each other on held-out clips",
            )
            .mutable_playing()
            .build(),
        bad_output::pspec(&format!("{FALLBACK} (mode=model)")),
        glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
            .nick("Statistics")
            .blurb(
                "frames (out), frames-in, frames-out, interpolated, passed-through, scene-cuts, degraded, \
                 dropped-inputs (a timestamp repeating the previous input's), retimed-inputs (moved after \
                 a jump back in timestamps), non-finite (frames whose model output held NaN or Inf, \
                 blended instead), and the processing time per interpolated frame (mean-ms, p95-ms, and the fps it allows); \
                 also posted as an element message at EOS",
            )
            .read_only()
            .build(),
    ]);
    v
}
