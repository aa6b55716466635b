//! The style contract told apart from the graph on the fixtures of models/make_style_fixtures.py:
//! fast-neural-style's TransformerNet (dynamic and static 224), AnimeGANv2 as tf2onnx writes it
//! (NHWC, `generator_input:0`, Tanh then Transpose) and as the PyTorch port (NCHW, Tanh last).

use std::path::PathBuf;

use gst_ai_kernels::{Layout, ValueRange};
use gst_ai_runtime::tasks::style::{StyleContract, StyleFamily};
use gst_ai_runtime::{Device, ModelSource, Precision, load};

fn fixture(name: &str) -> ModelSource {
    ModelSource::File(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/models").join(name))
}

fn detect(name: &str) -> gst_ai_runtime::Result<StyleContract> {
    let model = load(&fixture(name), Device::Cpu, Precision::Auto)?;
    StyleContract::detect(&model)
}

#[test]
fn families_are_told_apart() {
    let c = detect("style/transformer_net_dyn.onnx").unwrap();
    assert_eq!(c.family, StyleFamily::FastNeuralStyle);
    assert_eq!((c.image.spec.layout, c.image.spec.range, c.image.multiple), (Layout::Nchw, ValueRange::Byte, 4));
    assert_eq!(c.final_op.as_deref(), Some("Conv"));
    assert_eq!(c.image.static_size, None);

    let c = detect("style/transformer_net_224.onnx").unwrap();
    assert_eq!(c.family, StyleFamily::FastNeuralStyle);
    assert_eq!(c.image.static_size, Some((224, 224)));

    let c = detect("style/animegan_nhwc.onnx").unwrap();
    assert_eq!(c.family, StyleFamily::AnimeGan);
    assert_eq!((c.image.spec.layout, c.image.spec.range, c.image.multiple), (Layout::Nhwc, ValueRange::Signed, 32));
    assert_eq!(c.final_op.as_deref(), Some("Tanh"), "found through the Transpose after it");
    assert_eq!(c.image.input, "generator_input:0");

    let c = detect("style/animegan_nchw.onnx").unwrap();
    assert_eq!(c.family, StyleFamily::AnimeGan);
    assert_eq!((c.image.spec.layout, c.image.spec.range), (Layout::Nchw, ValueRange::Signed));
}

#[test]
fn the_builtin_styles_declare_their_range() {
    for source in [gst_ai_runtime::builtin::STYLE_PENCIL, gst_ai_runtime::builtin::STYLE_OIL] {
        let model = load(&source, Device::Cpu, Precision::Auto).unwrap();
        let c = StyleContract::detect(&model).unwrap();
        assert_eq!(c.image.spec.range, ValueRange::Unit, "{}", model.name);
        assert_eq!(c.image.multiple, 1, "any size, no padding");
    }
}

#[test]
fn scaling_models_are_refused() {
    let e = detect("nearest_x2.onnx").unwrap_err().to_string();
    assert!(e.contains("style transfer") && e.contains("does not scale") && e.contains("2x"), "{e}");
}
