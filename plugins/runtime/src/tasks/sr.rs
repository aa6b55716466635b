//! Super-resolution: the image contract with the family's defaults (RGB, 0..1, any size, an
//! integer scale), run over frames by the tiled runner.

use gst_ai_kernels::ValueRange;

use crate::backend::model::Model;
use crate::error::{Error, Result};
use crate::image::contract::{Family, ImageContract};

/// The super-resolution family: RGB 0..1, any size.
pub const FAMILY: Family = Family { name: "super-resolution", range: ValueRange::Unit, multiple: 1 };

/// Matches `model` to the super-resolution contract; may run the model once on a small probe
/// input to learn the scale when the graph's shapes do not fix it. A model whose output is its
/// input's size is a same-size image model (style transfer, restoration), not an upscaler: it is
/// refused unless its manifest says `"scale": 1`, which makes it a restoration model run at the
/// frame's size.
pub fn detect(model: &Model) -> Result<ImageContract> {
    let contract = ImageContract::detect_with(model, &FAMILY)?;
    if contract.scale == 1 && model.manifest.scale != Some(1) {
        return Err(Error::contract(
            &model.name,
            FAMILY.name,
            format!("scale (output '{}' size / input size)", contract.output),
            "2 or more; a same-size restoration model needs \"scale\": 1 in its manifest <model>.json",
            "1 (the output has the input's size: a same-size image-to-image model, such as a style-transfer \
             model, which is aistylize's)",
        ));
    }
    Ok(contract)
}
