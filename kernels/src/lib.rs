//! Pixel and tensor kernels for gst-ai, on planar f32 images and borrowed video frames.
//!
//! What the crate root offers, one module each:
//! - `frame`: pixel formats (RGB, BGR, RGBA, RGBx, BGRA, BGRx, GRAY8, I420, NV12), colorimetry,
//!   and the borrowed frame views `Frame` and `FrameMut` (with `FrameMut::region`), whose layout
//!   is validated once so the backends can index rows freely; `tensor`: the descriptors of model
//!   tensors (`TensorSpec`: layout, value range, channel order) and of frame regions (`Rect`).
//! - `convert`: `pack` (frame region -> f32 tensor, reflect-padded where it leaves the frame),
//!   `unpack` (tensor -> frame) and `copy_alpha` (carries alpha around an RGB-only model).
//! - `resize`: bilinear and bicubic resampling of planar f32 images.
//! - `tile`: `plan_tiles` (overlapping tiles for frames too large for a model) and `TileMerger`
//!   (feathered blending of the tiles' outputs).
//! - `flow`: frame-rate conversion: `luma`, dense `optical_flow` (DIS-style), backward `warp`,
//!   `interpolate` (motion-compensated, occlusion-aware) and the `scene_change` measure.
//! - `style`: the per-pixel steps around a style model: `retensor`, `preserve_colors`, `mix`,
//!   `temporal_confidence` and `temporal_blend`.
//! - `face`: lip sync: `crop_resize` (face box -> model patch) and `paste_feathered` (patch -> box
//!   without a seam); `mouth`: `open_mouth`, the built-in animation (a displacement field over the
//!   lower face from lip, nose and face-outline landmarks, and a shaded mouth interior).
//! - `error`: `KernelError`, the one error type: every public function validates its arguments
//!   and reports what is wrong instead of panicking.
//!
//! Implementations: the public functions validate every size and then call the `cpu` backend,
//! which runs large calls in row bands on a process-wide thread pool (`cpu::par`); only `face` and
//! `mouth` do their (single-threaded) work in its own module. `cuda` (public) holds the CUDA twins: the
//! sources in `kernels/cu/` compiled at run time by NVRTC, a device probe that never panics, the
//! `Device` trait with the operations written once on it (`cuda::ops`, `cuda::tile_ops`), and
//! two devices: `cuda::Gpu` (cudarc; not yet run on a GPU) and `cuda::shim::Shim`, the same
//! sources compiled for the CPU, which CI runs against the CPU twins, under AddressSanitizer and
//! ThreadSanitizer too (docs/gpu.md). Nothing dispatches to CUDA by itself: a caller that wants
//! it opens a `Gpu`.
//!
//! Every `unsafe` block and impl carries a `// SAFETY:` comment saying why it is sound (clippy's
//! `undocumented_unsafe_blocks` is denied in Cargo.toml). They are the pool's hand-over of jobs to
//! its workers (`cpu::par`), and in `cuda` the loading of NVRTC and the driver, the kernel
//! argument structs and the kernel launches.

mod convert;
mod cpu;
pub mod cuda;
mod error;
mod face;
mod flow;
mod frame;
mod mouth;
mod planes;
mod resize;
mod style;
mod tensor;
mod tile;

pub use convert::{copy_alpha, count_non_finite, pack, unpack};
pub use error::KernelError;
pub use face::{FaceBox, crop_resize, paste_feathered};
pub use flow::{
    FlowParams, FlowWorkspace, interpolate, interpolate_yuv420, luma, optical_flow, optical_flow_pair, scene_change,
    warp,
};
pub use frame::{Colorimetry, Frame, FrameMut, PixelFormat, YuvMatrix};
pub use mouth::{MouthWarp, open_mouth};
pub use planes::{write_yuv420_planes, yuv420_len, yuv420_luma, yuv420_planes};
pub use resize::{Filter, resize};
pub use style::{mix, preserve_colors, retensor, temporal_blend, temporal_confidence};
pub use tensor::{ChannelOrder, Layout, Rect, TensorSpec, ValueRange};
pub use tile::{Tile, TileMerger, plan_tiles};
