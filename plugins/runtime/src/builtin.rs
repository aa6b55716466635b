//! The built-in models, embedded in the plugin so that every element works with no model given.
//! Each is made by a script in `models/` and described by a card there.

use crate::model::ModelSource;

/// Learned x2 super-resolution (models/sr_x2.md).
pub const SR_X2: ModelSource =
    ModelSource::Builtin { name: "sr_x2", bytes: include_bytes!("../../../models/sr_x2.onnx"), manifest: "" };

/// Learned x4 super-resolution (models/sr_x4.md).
pub const SR_X4: ModelSource =
    ModelSource::Builtin { name: "sr_x4", bytes: include_bytes!("../../../models/sr_x4.onnx"), manifest: "" };

/// What the built-in styles' graphs cannot say: they take and give RGB 0..1, NCHW.
const STYLE_MANIFEST: &str = r#"{"range": "0..1", "layout": "nchw", "channel_order": "rgb", "multiple": 1}"#;

/// Learned pencil sketch (models/style_pencil.md).
pub const STYLE_PENCIL: ModelSource = ModelSource::Builtin {
    name: "style_pencil",
    bytes: include_bytes!("../../../models/style_pencil.onnx"),
    manifest: STYLE_MANIFEST,
};

/// Learned cartoon (models/style_cartoon.md).
pub const STYLE_CARTOON: ModelSource = ModelSource::Builtin {
    name: "style_cartoon",
    bytes: include_bytes!("../../../models/style_cartoon.onnx"),
    manifest: STYLE_MANIFEST,
};

/// Learned oil paint (models/style_oil.md).
pub const STYLE_OIL: ModelSource = ModelSource::Builtin {
    name: "style_oil",
    bytes: include_bytes!("../../../models/style_oil.onnx"),
    manifest: STYLE_MANIFEST,
};

/// The built-in models a `model` property may name as `builtin:<name>`.
pub const ALL: [ModelSource; 5] = [SR_X2, SR_X4, STYLE_PENCIL, STYLE_CARTOON, STYLE_OIL];
