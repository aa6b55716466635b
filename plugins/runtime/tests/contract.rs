//! The runtime against generated models: contract detection for each variant of the
//! super-resolution family, the errors for models of the wrong contract, the shared session
//! cache, and a golden test of a real SRVGGNetCompact-architecture model against PyTorch.

use std::path::PathBuf;
use std::sync::Arc;

use gst_ai_kernels::{ChannelOrder, Colorimetry, Frame, FrameMut, Layout, PixelFormat, ValueRange};
use gst_ai_runtime::backend::model::ElemType;
use gst_ai_runtime::{
    Device, ImageContract, InputData, ModelSource, Precision, TileParams, TiledRunner, builtin, load,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/models").join(name)
}

fn detect(name: &str) -> gst_ai_runtime::Result<ImageContract> {
    let m = load(&ModelSource::File(fixture(name)), Device::Cpu, Precision::Auto)?;
    gst_ai_runtime::tasks::sr::detect(&m)
}

#[test]
fn detects_layout_type_and_scale() {
    let c = detect("nearest_x2.onnx").unwrap();
    assert_eq!((c.spec.layout, c.input_elem, c.scale, c.static_size), (Layout::Nchw, ElemType::F32, 2, None));
    let c = detect("nearest_x2_nhwc.onnx").unwrap();
    assert_eq!((c.spec.layout, c.scale), (Layout::Nhwc, 2));
    let c = detect("nearest_x2_f16.onnx").unwrap();
    assert_eq!((c.input_elem, c.scale), (ElemType::F16, 2));
    assert_eq!(detect("nearest_x3.onnx").unwrap().scale, 3);
    assert_eq!(detect("nearest_x4.onnx").unwrap().scale, 4);
    let c = detect("nearest_x2_static64.onnx").unwrap();
    assert_eq!((c.static_size, c.scale), (Some((64, 64)), 2));
    let c = detect("nearest_x2_bgr_signed.onnx").unwrap();
    assert_eq!((c.spec.range, c.spec.order), (ValueRange::Signed, ChannelOrder::Bgr));
    assert_eq!(detect("srvgg_x2_tiny.onnx").unwrap().scale, 2);
}

#[test]
fn wrong_contracts_are_named() {
    let e = detect("gray_x2.onnx").unwrap_err().to_string();
    assert!(e.contains("input 'input' channels") && e.contains("found 1"), "{e}");
    let e = detect("not_multiple.onnx").unwrap_err().to_string();
    assert!(e.contains("output 'output' size") && e.contains("integer multiple") && e.contains("72x48"), "{e}");
    let e = detect("two_inputs.onnx").unwrap_err().to_string();
    assert!(e.contains("number of inputs") && e.contains("a, b"), "{e}");
    let e = load(&ModelSource::File(fixture("missing.onnx")), Device::Cpu, Precision::Auto).err().unwrap().to_string();
    assert!(e.contains("missing.onnx") && e.contains("does not exist"), "{e}");
}

#[test]
fn sessions_are_shared() {
    let a = load(&ModelSource::File(fixture("nearest_x2.onnx")), Device::Cpu, Precision::Auto).unwrap();
    let b = load(&ModelSource::File(fixture("nearest_x2.onnx")), Device::Cpu, Precision::Auto).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    let c = load(&ModelSource::File(fixture("nearest_x3.onnx")), Device::Cpu, Precision::Auto).unwrap();
    assert!(!Arc::ptr_eq(&a, &c));
}

#[test]
fn builtin_model_is_x2_rgb() {
    let m = load(&builtin::SR_X2, Device::Cpu, Precision::Auto).unwrap();
    let c = gst_ai_runtime::tasks::sr::detect(&m).unwrap();
    assert_eq!((c.scale, c.spec.layout, c.input_elem, c.static_size), (2, Layout::Nchw, ElemType::F32, None));
}

fn read_f32(name: &str) -> Vec<f32> {
    std::fs::read(fixture(name))
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The SRVGGNetCompact-architecture fixture run through ONNX Runtime reproduces the reference
/// output recorded by models/make_test_models.py (see tests/models/srvgg_x2_tiny.txt).
#[test]
fn srvgg_golden_against_pytorch() {
    let input = read_f32("srvgg_x2_tiny_in.bin");
    let want = read_f32("srvgg_x2_tiny_out.bin");
    assert_eq!(input.len(), 3 * 12 * 17);
    assert_eq!(want.len(), 3 * 24 * 34);
    let m = load(&ModelSource::File(fixture("srvgg_x2_tiny.onnx")), Device::Cpu, Precision::Auto).unwrap();
    let got = m
        .run_single("input", [1, 3, 12, 17], InputData::F32(&input), |dims, out| {
            assert_eq!(dims, [1, 3, 24, 34]);
            Ok(out.to_vec())
        })
        .unwrap();
    let max = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(max < 1e-4, "max abs difference to the reference {max}");
}

/// The built-in model (8 convs: a receptive field of 8 input pixels) tiled with an overlap of 8,
/// so each tile sees 8 pixels of context: the same picture as in one run, up to rounding.
#[test]
fn upscaler_tiles_and_whole_frame_agree_on_builtin() {
    let m = load(&builtin::SR_X2, Device::Cpu, Precision::Auto).unwrap();
    let c = gst_ai_runtime::tasks::sr::detect(&m).unwrap();
    let mut up = TiledRunner::new(m, c);
    let (w, h) = (50usize, 38usize);
    let src_data: Vec<u8> = (0..w * h * 3).map(|i| ((i * 37 + (i / 7) * 11) % 251) as u8).collect();
    let src = Frame::new(PixelFormat::Rgb, w, h, &[&src_data], &[w * 3], Colorimetry::default()).unwrap();
    let mut a = vec![0u8; 4 * w * h * 3];
    let mut b = vec![0u8; 4 * w * h * 3];
    {
        let mut dst =
            FrameMut::new(PixelFormat::Rgb, 2 * w, 2 * h, vec![&mut a[..]], &[2 * w * 3], Colorimetry::default())
                .unwrap();
        up.process(&src, &mut dst, TileParams { size: 0, overlap: 0 }).unwrap();
    }
    {
        let mut dst =
            FrameMut::new(PixelFormat::Rgb, 2 * w, 2 * h, vec![&mut b[..]], &[2 * w * 3], Colorimetry::default())
                .unwrap();
        up.process(&src, &mut dst, TileParams { size: 20, overlap: 8 }).unwrap();
    }
    let max = a.iter().zip(&b).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
    let mean = a.iter().zip(&b).map(|(x, y)| x.abs_diff(*y) as f64).sum::<f64>() / a.len() as f64;
    assert!(max <= 1 && mean < 0.01, "tiled vs whole frame: max {max}, mean {mean:.4}");
}

/// Tiling reuses its buffers from frame to frame: five tiled frames in a row all equal the
/// whole-frame result.
#[test]
fn srvgg_tiled_equals_whole_repeatedly() {
    let m = load(&ModelSource::File(fixture("srvgg_x2_tiny.onnx")), Device::Cpu, Precision::Auto).unwrap();
    let c = gst_ai_runtime::tasks::sr::detect(&m).unwrap();
    let mut up = TiledRunner::new(m, c);
    let (w, h) = (61usize, 45usize);
    let src_data: Vec<u8> = (0..w * h * 3).map(|i| ((i * 37 + (i / 7) * 11) % 251) as u8).collect();
    let src = Frame::new(PixelFormat::Rgb, w, h, &[&src_data], &[w * 3], Colorimetry::default()).unwrap();
    let mut a = vec![0u8; 4 * w * h * 3];
    {
        let mut dst =
            FrameMut::new(PixelFormat::Rgb, 2 * w, 2 * h, vec![&mut a[..]], &[2 * w * 3], Colorimetry::default())
                .unwrap();
        up.process(&src, &mut dst, TileParams { size: 0, overlap: 0 }).unwrap();
    }
    for round in 0..5 {
        let mut b = vec![0u8; 4 * w * h * 3];
        {
            let mut dst =
                FrameMut::new(PixelFormat::Rgb, 2 * w, 2 * h, vec![&mut b[..]], &[2 * w * 3], Colorimetry::default())
                    .unwrap();
            up.process(&src, &mut dst, TileParams { size: 24, overlap: 8 }).unwrap();
        }
        let max = a.iter().zip(&b).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
        let worst = a.iter().zip(&b).position(|(x, y)| x.abs_diff(*y) == max).unwrap();
        let (px, py) = ((worst / 3) % (2 * w), (worst / 3) / (2 * w));
        assert!(max <= 1, "round {round}: max {max} at output pixel ({px},{py})");
    }
}
