//! The built-in models, embedded in the plugin so that every element works with no model given.
//! Each is made by a script in `models/` and described by a card there.

use crate::backend::model::ModelSource;

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

/// aisrc's built-in text-to-video model (models/t2v_builtin.md): a diffusers-layout folder whose
/// files are embedded one by one.
pub mod t2v {
    macro_rules! part {
        ($path:literal) => {
            include_bytes!(concat!("../../../models/t2v_builtin/", $path))
        };
    }
    macro_rules! text {
        ($path:literal) => {
            include_str!(concat!("../../../models/t2v_builtin/", $path))
        };
    }
    pub const MODEL_INDEX: &str = text!("model_index.json");
    pub const SCHEDULER: &str = text!("scheduler/scheduler_config.json");
    pub const VOCAB: &str = text!("tokenizer/vocab.json");
    pub const MERGES: &str = text!("tokenizer/merges.txt");
    pub const TOKENIZER_CONFIG: &str = text!("tokenizer/tokenizer_config.json");
    pub const UNET_CONFIG: &str = text!("unet/config.json");
    pub const VAE_CONFIG: &str = text!("vae_decoder/config.json");
    pub const TEXT_ENCODER: &[u8] = part!("text_encoder/model.onnx");
    pub const UNET: &[u8] = part!("unet/model.onnx");
    pub const VAE_DECODER: &[u8] = part!("vae_decoder/model.onnx");
    pub const VAE_ENCODER: &[u8] = part!("vae_encoder/model.onnx");
}
