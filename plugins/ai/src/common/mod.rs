//! What every element shares: caps formats and templates, the `precision` property's enum, views
//! of `VideoFrameRef`s as kernel frames, model loading with its messages; the shared properties
//! ([`props`]), statistics ([`stats`]), typed streaming errors ([`error`]), the token that
//! stops a model run in flight ([`cancel`]), the measured latency ([`latency`]) and the policy
//! for frames that would be late ([`late`]).

pub mod bad_output;
pub mod cancel;
pub mod error;
pub mod late;
pub mod latency;
pub mod picture;
pub mod props;
pub mod stats;

pub use bad_output::{AiOnBadOutput, BadOutputWarnings};
pub use cancel::RunCancel;
pub use error::{ElementError, post};
pub use late::{OnLate, Overload};
pub use props::{ModelProps, TileProps};
pub use stats::{Stats, Timings};

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst_ai_kernels::{Colorimetry, Frame, FrameMut, PixelFormat, YuvMatrix};
use gst_ai_runtime::backend::model::{Model, ModelSource};
use gst_ai_runtime::dsp::rate::Rate;
use gst_ai_runtime::{Device, Error, Precision};
use gst_video::{VideoFormat, VideoFrameExt, VideoFrameRef, VideoInfo};

/// The caps formats every image element accepts, in the order of preference. The 10-bit 4:2:0
/// formats of broadcast chains come last: they go through the kernels as 10-bit values, never
/// rounded to 8 bits.
pub const FORMATS: [VideoFormat; 11] = [
    VideoFormat::Rgb,
    VideoFormat::Bgr,
    VideoFormat::Rgba,
    VideoFormat::Bgra,
    VideoFormat::Rgbx,
    VideoFormat::Bgrx,
    VideoFormat::I420,
    VideoFormat::Nv12,
    VideoFormat::Gray8,
    VideoFormat::I42010le,
    VideoFormat::P01010le,
];

#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAiPrecision")]
pub enum AiPrecision {
    #[default]
    #[enum_value(name = "Auto: the model's own element type", nick = "auto")]
    Auto = 0,
    #[enum_value(name = "FP32: 32-bit floats", nick = "fp32")]
    Fp32 = 1,
    #[enum_value(name = "FP16: 16-bit floats (the model's, or a conversion on CUDA)", nick = "fp16")]
    Fp16 = 2,
}

impl From<AiPrecision> for Precision {
    fn from(p: AiPrecision) -> Self {
        match p {
            AiPrecision::Auto => Precision::Auto,
            AiPrecision::Fp32 => Precision::Fp32,
            AiPrecision::Fp16 => Precision::Fp16,
        }
    }
}

/// Always-present `src` and `sink` templates for raw video in [`FORMATS`], any size and rate:
/// what every video-to-video element of the plugin offers.
pub fn video_pad_templates() -> Vec<gst::PadTemplate> {
    let caps = gst_video::VideoCapsBuilder::new().format_list(FORMATS).build();
    [("src", gst::PadDirection::Src), ("sink", gst::PadDirection::Sink)]
        .into_iter()
        .map(|(name, dir)| gst::PadTemplate::new(name, dir, gst::PadPresence::Always, &caps).expect("valid template"))
        .collect()
}

/// Every element works on whole progressive frames: the two fields of an interlaced frame (woven
/// into one, or sent alone) would be blended into each other by a model or a resampler, a wrong
/// picture nobody is told about. So interlaced caps are refused, naming the element that fixes it.
pub fn require_progressive(info: &VideoInfo) -> Result<(), ElementError> {
    match info.interlace_mode() {
        gst_video::VideoInterlaceMode::Progressive => Ok(()),
        mode => Err(ElementError::Negotiation(format!(
            "interlaced video (interlace-mode={mode}) is not supported: its two fields would be blended into \
             each other. Put deinterlace (e.g. `deinterlace ! videoconvert`) before this element"
        ))),
    }
}

/// A runtime error as the message an element posts when it cannot start.
pub fn start_error(e: &Error) -> gst::ErrorMessage {
    error::runtime_message(e)
}

pub fn pixel_format(f: VideoFormat) -> Option<PixelFormat> {
    Some(match f {
        VideoFormat::Rgb => PixelFormat::Rgb,
        VideoFormat::Bgr => PixelFormat::Bgr,
        VideoFormat::Rgba => PixelFormat::Rgba,
        VideoFormat::Bgra => PixelFormat::Bgra,
        VideoFormat::Rgbx => PixelFormat::Rgbx,
        VideoFormat::Bgrx => PixelFormat::Bgrx,
        VideoFormat::I420 => PixelFormat::I420,
        VideoFormat::Nv12 => PixelFormat::Nv12,
        VideoFormat::Gray8 => PixelFormat::Gray8,
        VideoFormat::I42010le => PixelFormat::I420_10Le,
        VideoFormat::P01010le => PixelFormat::P010_10Le,
        _ => return None,
    })
}

pub fn colorimetry(info: &VideoInfo) -> Colorimetry {
    let c = info.colorimetry();
    let matrix = match c.matrix() {
        gst_video::VideoColorMatrix::Bt709 => YuvMatrix::Bt709,
        gst_video::VideoColorMatrix::Bt2020 => YuvMatrix::Bt2020,
        _ => YuvMatrix::Bt601,
    };
    Colorimetry { matrix, full_range: c.range() == gst_video::VideoColorRange::Range0_255 }
}

pub fn frame_view<'a>(f: &'a VideoFrameRef<&gst::BufferRef>) -> Result<Frame<'a>, ElementError> {
    let format = pixel_format(f.format()).ok_or(ElementError::Format(f.format()))?;
    let n = f.n_planes() as usize;
    let mut planes = Vec::with_capacity(n);
    for i in 0..n {
        planes.push(f.plane_data(i as u32).map_err(|e| ElementError::Frame(e.to_string()))?);
    }
    let strides: Vec<usize> = f.plane_stride()[..n].iter().map(|&s| s as usize).collect();
    Ok(Frame::new(format, f.width() as usize, f.height() as usize, &planes, &strides, colorimetry(f.info()))?)
}

pub fn frame_view_mut<'a>(f: &'a mut VideoFrameRef<&mut gst::BufferRef>) -> Result<FrameMut<'a>, ElementError> {
    let format = pixel_format(f.format()).ok_or(ElementError::Format(f.format()))?;
    let (w, h) = (f.width() as usize, f.height() as usize);
    let n = f.n_planes() as usize;
    let strides: Vec<usize> = f.plane_stride()[..n].iter().map(|&s| s as usize).collect();
    let colorimetry = colorimetry(f.info());
    let planes = f.planes_data_mut();
    let planes: Vec<&mut [u8]> = planes.into_iter().take(n).collect();
    Ok(FrameMut::new(format, w, h, planes, &strides, colorimetry)?)
}

/// A caps frame rate as an exact positive rate; `None` for 0/1 (variable) or a negative one.
pub fn rate_of(f: gst::Fraction) -> Option<Rate> {
    (f.numer() > 0 && f.denom() > 0).then(|| Rate::new(f.numer() as u64, f.denom() as u64)).flatten()
}

/// Loads (or takes from the shared cache) a model for `element`, posting `ai-model` element
/// messages before ("loading") and after ("loaded", with the seconds it took).
pub fn load_model(
    element: &gst::Element,
    source: &ModelSource,
    device: Device,
    precision: Precision,
) -> Result<Arc<Model>, gst::ErrorMessage> {
    let name = source.display_name();
    let post = |stage: &str, seconds: f64| {
        let factory = element.factory().map(|f| f.name().to_string()).unwrap_or_default();
        let s = gst::Structure::builder("ai-model")
            .field("element", factory)
            .field("model", name.as_str())
            .field("stage", stage)
            .field("seconds", seconds)
            .build();
        let _ = element.post_message(gst::message::Element::builder(s).src(element).build());
    };
    let t0 = Instant::now();
    post("loading", 0.0);
    let model = gst_ai_runtime::load(source, device, precision).map_err(|e| start_error(&e))?;
    post("loaded", t0.elapsed().as_secs_f64());
    Ok(model)
}

/// Locks a mutex, using the data even if another thread panicked while holding it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
