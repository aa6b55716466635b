//! Super-resolution: the image contract with the family's defaults (RGB, 0..1, any size, an
//! integer scale), run over frames by the tiled runner.

use gst_ai_kernels::ValueRange;

use crate::backend::model::Model;
use crate::error::Result;
use crate::image::contract::{Family, ImageContract};

/// The super-resolution family: RGB 0..1, any size.
pub const FAMILY: Family = Family { name: "super-resolution", range: ValueRange::Unit, multiple: 1 };

/// Matches `model` to the super-resolution contract; may run the model once on a small probe
/// input to learn the scale when the graph's shapes do not fix it.
pub fn detect(model: &Model) -> Result<ImageContract> {
    ImageContract::detect_with(model, &FAMILY)
}
