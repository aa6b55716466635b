//! Pixel and tensor kernels for gst-ai: converting video frames to the f32
//! tensors models consume (`pack`), converting model output back to frames
//! (`unpack`, `copy_alpha`), resampling tensors (`resize`) and splitting large
//! frames into overlapping tiles whose outputs are blended back together
//! (`plan_tiles`, `TileMerger`), motion estimation and compensation for
//! frame-rate conversion (`luma`, `optical_flow`, `warp`, `interpolate`,
//! `scene_change`), the steps around a style model (`retensor`,
//! `preserve_colors`, `mix`, `temporal_confidence`, `temporal_blend`) and
//! face crops and mouth animation for lip sync (`crop_resize`, `paste_feathered`,
//! `open_mouth`).
//!
//! The public types and entry points at the crate root validate every size and
//! then dispatch to an implementation; today that is always `cpu`, and the API
//! is kept to plain slices and plain-old-data descriptors so that a CUDA twin
//! can later sit beside it behind the same functions.

mod convert;
mod cpu;
pub mod cuda;
mod error;
mod face;
mod flow;
mod frame;
mod resize;
mod style;
mod tensor;
mod tile;

pub use convert::{copy_alpha, pack, unpack};
pub use error::KernelError;
pub use face::{FaceBox, Mouth, crop_resize, open_mouth, paste_feathered};
pub use flow::{FlowParams, FlowWorkspace, interpolate, luma, optical_flow, scene_change, warp};
pub use frame::{Colorimetry, Frame, FrameMut, PixelFormat, YuvMatrix};
pub use resize::{Filter, resize};
pub use style::{mix, preserve_colors, retensor, temporal_blend, temporal_confidence};
pub use tensor::{ChannelOrder, Layout, Rect, TensorSpec, ValueRange};
pub use tile::{Tile, TileMerger, plan_tiles};
