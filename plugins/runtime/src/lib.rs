//! gst-ai's runtime: everything between a frame in system memory and a model's output that does
//! not involve GStreamer, grouped by job:
//! - [`backend`]: where a model runs: the ONNX Runtime environment, devices, loaded models and the
//!   shared session pool, manifests, ONNX graph reading;
//! - [`image`]: the image-to-image contract and the tiled runner every image family uses;
//! - [`tasks`]: one engine per job (super-resolution, style, frame-rate conversion and RIFE, lip
//!   sync, text-to-video);
//! - [`dsp`]: audio features, resampling and frame-rate arithmetic;
//! - [`builtin`]: the models embedded in the plugin; [`error`]: the one error type.
//!
//! Pixel work is done by `gst-ai-kernels`. `docs/architecture.md` describes the layers, the
//! threads and the locks.

// No unsafe code, but in one module: `backend::cuda_io` (device addresses handed to ONNX
// Runtime's C API for I/O binding), which allows it for itself.
#![deny(unsafe_code)]

pub mod backend;
pub mod builtin;
pub mod dsp;
pub mod error;
pub mod image;
pub mod tasks;

pub use backend::device::{Device, DeviceRequest, Precision};
pub use backend::model::{Cancel, InputData, Model, ModelSource, load};
pub use error::{Error, Result};
pub use image::contract::ImageContract;
pub use image::tiled::{TileParams, TiledRunner};
