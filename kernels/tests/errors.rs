//! Bad sizes are reported as errors naming the problem, never panics.

mod common;

use common::OwnedFrame;
use gst_ai_kernels::{
    Colorimetry, Filter, Frame, FrameMut, KernelError, PixelFormat, Rect, TensorSpec, Tile, TileMerger, copy_alpha,
    pack, plan_tiles, resize, unpack,
};

const C: Colorimetry = Colorimetry { matrix: gst_ai_kernels::YuvMatrix::Bt601, full_range: false };

#[test]
fn short_plane_is_reported_with_sizes() {
    let buf = [0u8; 100];
    let err = Frame::new(PixelFormat::Rgb, 10, 4, &[&buf], &[30], C).unwrap_err();
    assert!(matches!(err, KernelError::PlaneTooShort { plane: 0, len: 100, need: 120, .. }));
    assert_eq!(err.to_string(), "plane 0 has 100 bytes, need 120 for 10x4 RGB at stride 30");

    // The chroma plane of I420 is checked too: 5x3 needs 3x2 chroma.
    let (y, u, v) = ([0u8; 15], [0u8; 6], [0u8; 5]);
    let err = Frame::new(PixelFormat::I420, 5, 3, &[&y, &u, &v], &[5, 3, 3], C).unwrap_err();
    assert!(matches!(err, KernelError::PlaneTooShort { plane: 2, need: 6, .. }), "{err}");
}

#[test]
fn tight_last_row_is_accepted() {
    // 3 rows at stride 40 of 30-byte rows: 40 * 2 + 30 = 110 bytes suffice.
    let buf = [0u8; 110];
    assert!(Frame::new(PixelFormat::Rgb, 10, 3, &[&buf], &[40], C).is_ok());
}

#[test]
fn small_stride_and_bad_counts_are_errors() {
    let buf = [0u8; 400];
    let err = Frame::new(PixelFormat::Rgba, 10, 4, &[&buf], &[39], C).unwrap_err();
    assert!(matches!(err, KernelError::StrideTooSmall { stride: 39, row_bytes: 40, .. }), "{err}");
    let err = Frame::new(PixelFormat::Nv12, 4, 4, &[&buf], &[4], C).unwrap_err();
    assert!(matches!(err, KernelError::PlaneCount { expected: 2, got: 1, .. }), "{err}");
    let err = Frame::new(PixelFormat::Gray8, 4, 4, &[&buf], &[4, 4], C).unwrap_err();
    assert!(matches!(err, KernelError::PlaneCount { what: "strides", .. }), "{err}");
    let err = Frame::new(PixelFormat::Gray8, 0, 4, &[&buf], &[4], C).unwrap_err();
    assert!(matches!(err, KernelError::ZeroSize { .. }), "{err}");
    let mut buf = [0u8; 10];
    let err = FrameMut::new(PixelFormat::Gray8, 4, 4, vec![&mut buf], &[4], C).unwrap_err();
    assert!(matches!(err, KernelError::PlaneTooShort { .. }), "{err}");
}

#[test]
fn frames_built_from_fields_are_still_validated() {
    let buf = [0u8; 8];
    let frame = Frame {
        format: PixelFormat::Rgb,
        width: 4,
        height: 4,
        planes: [&buf, &[], &[]],
        strides: [12, 0, 0],
        colorimetry: C,
    };
    let mut out = vec![0.0; 48];
    let err = pack(&frame, Rect::new(0, 0, 4, 4), TensorSpec::CANONICAL, &mut out);
    assert!(matches!(err, Err(KernelError::PlaneTooShort { .. })));
}

#[test]
fn wrong_buffer_lengths_are_errors() -> Result<(), KernelError> {
    let mut f = OwnedFrame::filled(PixelFormat::Bgra, 4, 3, 0, C, || 0);
    let spec = TensorSpec::CANONICAL;
    let mut out = vec![0.0; 35];
    let err = pack(&f.view()?, Rect::new(0, 0, 4, 3), spec, &mut out).unwrap_err();
    assert!(matches!(err, KernelError::BufferLength { len: 35, need: 36, .. }), "{err}");
    let err = pack(&f.view()?, Rect::new(0, 0, 0, 3), spec, &mut []).unwrap_err();
    assert!(matches!(err, KernelError::ZeroSize { .. }), "{err}");

    let err = unpack(&[0.0; 36], 4, 4, spec, 0, 0, &mut f.view_mut()?).unwrap_err();
    assert!(matches!(err, KernelError::BufferLength { len: 36, need: 48, .. }), "{err}");
    // A crop that runs past the tensor.
    let err = unpack(&[0.0; 48], 4, 4, spec, 1, 0, &mut f.view_mut()?).unwrap_err();
    assert!(matches!(err, KernelError::InvalidArgument(_)), "{err}");
    let err = unpack(&[0.0; 60], 5, 4, spec, 1, usize::MAX, &mut f.view_mut()?).unwrap_err();
    assert!(matches!(err, KernelError::InvalidArgument(_)), "{err}");

    let err = resize(&[0.0; 11], 1, 3, 4, &mut [0.0; 4], 2, 2, Filter::Bilinear).unwrap_err();
    assert!(matches!(err, KernelError::BufferLength { len: 11, need: 12, .. }), "{err}");
    let err = resize(&[0.0; 12], 1, 3, 4, &mut [0.0; 5], 2, 2, Filter::Bicubic).unwrap_err();
    assert!(matches!(err, KernelError::BufferLength { len: 5, need: 4, .. }), "{err}");
    let err = resize(&[], 1, 0, 4, &mut [0.0; 4], 2, 2, Filter::Bicubic).unwrap_err();
    assert!(matches!(err, KernelError::ZeroSize { .. }), "{err}");

    let src = OwnedFrame::filled(PixelFormat::Rgb, 4, 3, 0, C, || 0);
    assert!(copy_alpha(&src.view()?, &mut f.view_mut()?).is_err());
    Ok(())
}

#[test]
fn bad_tile_plans_are_errors() {
    let err = plan_tiles(100, 100, 32, 32, 1).unwrap_err();
    assert!(matches!(err, KernelError::InvalidArgument(_)), "{err}");
    assert!(err.to_string().contains("overlap 32"), "{err}");
    assert!(plan_tiles(100, 100, 32, 40, 1).is_err());
    // 50 rounded to multiples of 16 is 48, so overlap 48 is too big.
    assert!(plan_tiles(100, 100, 50, 48, 16).is_err());
    assert!(plan_tiles(100, 100, 7, 0, 8).is_err());
    assert!(plan_tiles(100, 100, 32, 0, 0).is_err());
    assert!(plan_tiles(0, 100, 32, 0, 1).is_err());
}

#[test]
fn bad_merger_inputs_are_errors() {
    let spec = TensorSpec::CANONICAL;
    let tile = Tile { x: 8, y: 0, width: 4, height: 4 };
    let mut m = TileMerger::new(10, 10, 1, 2);
    // Tile past the right edge.
    assert!(matches!(m.add(tile, &[0.0; 48], 4, 4, spec), Err(KernelError::InvalidArgument(_))));
    // Tensor smaller than the scaled tile.
    let tile = Tile { x: 0, y: 0, width: 4, height: 4 };
    let mut m2 = TileMerger::new(20, 20, 2, 2);
    assert!(matches!(m2.add(tile, &[0.0; 48], 4, 4, spec), Err(KernelError::InvalidArgument(_))));
    // Wrong tensor length.
    assert!(matches!(m.add(tile, &[0.0; 47], 4, 4, spec), Err(KernelError::BufferLength { .. })));
    let mut m3 = TileMerger::new(10, 10, 0, 2);
    assert!(matches!(m3.add(tile, &[0.0; 48], 4, 4, spec), Err(KernelError::ZeroSize { .. })));
    let mut m4 = TileMerger::new(usize::MAX, 3, 1, 0);
    assert!(matches!(m4.finish(), Err(KernelError::TooLarge { .. })));
}
