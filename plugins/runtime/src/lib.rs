//! gst-ai's runtime: everything between a frame in system memory and a model's output that does
//! not involve GStreamer. The ONNX Runtime environment and library discovery ([`env`]), devices
//! ([`device`]), model loading and the shared session cache ([`model`]), model contracts
//! ([`contract`], [`manifest`]), the per-frame super-resolution path ([`upscale`]) and the
//! built-in models ([`builtin`]). Pixel work is done by `gst-ai-kernels`.

pub mod audio;
pub mod builtin;
pub mod contract;
pub mod device;
pub mod env;
pub mod error;
pub mod lipsync;
pub mod manifest;
pub mod model;
pub mod onnx_graph;
pub mod rate;
pub mod resample;
pub mod rife;
pub mod scheduler;
pub mod style;
pub mod t2v;
pub mod tokenizer;
pub mod upscale;

pub use contract::SrContract;
pub use device::{Device, DeviceRequest, Precision};
pub use error::{Error, Result};
pub use model::{InputData, Model, ModelSource, load};
pub use upscale::{TileParams, Upscaler};
