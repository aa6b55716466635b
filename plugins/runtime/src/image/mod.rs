//! Image-to-image models in general: the contract every image family shares ([`contract`]: one
//! image in, one image out at an integer scale, layout, range and padding learned from the graph
//! and the manifest) and the runner that applies such a model to a whole frame, tiled or not,
//! with feathered seams ([`tiled`]). Super-resolution and style build on these; [`bicubic`] is
//! super-resolution's cheap stand-in.

pub mod bicubic;
pub mod contract;
pub mod tiled;
