//! The built-in models, embedded in the plugin so that every element works with no model given.
//! Each is made by a script in `models/` and described by a card there.

use crate::model::ModelSource;

/// Learned x2 super-resolution (models/sr_x2.md).
pub const SR_X2: ModelSource =
    ModelSource::Builtin { name: "sr_x2", bytes: include_bytes!("../../../models/sr_x2.onnx") };

/// Learned x4 super-resolution (models/sr_x4.md).
pub const SR_X4: ModelSource =
    ModelSource::Builtin { name: "sr_x4", bytes: include_bytes!("../../../models/sr_x4.onnx") };

/// The built-in models a `model` property may name as `builtin:<name>`.
pub const ALL: [ModelSource; 2] = [SR_X2, SR_X4];
