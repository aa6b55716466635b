//! pack / unpack / copy_alpha through the public API.

mod common;

use common::*;
use gst_ai_kernels::{
    ChannelOrder, Colorimetry, FrameMut, KernelError, Layout, PixelFormat, Rect, TensorSpec, ValueRange, YuvMatrix,
    copy_alpha, pack, unpack,
};

fn packed_formats() -> impl Iterator<Item = PixelFormat> {
    PixelFormat::ALL.into_iter().filter(|f| !f.is_yuv())
}

#[test]
fn packed_and_gray_round_trip_exactly_in_every_spec() -> Result<(), KernelError> {
    let mut rng = Rng::new(1);
    // 300x260 is past the threading threshold; 1x1 is the degenerate case.
    for (w, h) in [(13, 7), (1, 1), (300, 260)] {
        for format in packed_formats() {
            for spec in all_specs() {
                let src = OwnedFrame::random(format, w, h, 5, &mut rng);
                let mut tensor = vec![f32::NAN; 3 * w * h];
                pack(&src.view()?, Rect::new(0, 0, w, h), spec, &mut tensor)?;
                for y in 0..h {
                    for x in 0..w {
                        let rgb = src.rgb(x, y);
                        for c in 0..3 {
                            let got = tensor[tidx(spec, w, h, c, x, y)];
                            let want = byte_to(spec.range, f32::from(rgb[c]));
                            assert!((got - want).abs() < 1e-5, "{format} {spec:?} ({x},{y}) c{c}: {got} vs {want}");
                        }
                    }
                }
                let mut dst = OwnedFrame::filled(format, w, h, 3, Colorimetry::default(), || 7);
                unpack(&tensor, w, h, spec, 0, 0, &mut dst.view_mut()?)?;
                for y in 0..h {
                    for x in 0..w {
                        assert_eq!(dst.rgb(x, y), src.rgb(x, y), "{format} {spec:?} ({x},{y})");
                        if dst.bpp() == 4 {
                            assert_eq!(dst.pixel(x, y)[3], 255, "{format} alpha/x byte");
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Builds a canonical tensor of flat 2x2 blocks (partial at odd edges).
fn block_tensor(w: usize, h: usize, rng: &mut Rng) -> Vec<f32> {
    let (bw, bh) = (w.div_ceil(2), h.div_ceil(2));
    let colours: Vec<[u8; 3]> = (0..bw * bh).map(|_| [rng.byte(), rng.byte(), rng.byte()]).collect();
    let mut t = vec![0.0; 3 * w * h];
    for y in 0..h {
        for x in 0..w {
            let col = colours[(y / 2) * bw + x / 2];
            for c in 0..3 {
                t[c * w * h + y * w + x] = f32::from(col[c]) / 255.0;
            }
        }
    }
    t
}

#[test]
fn yuv_flat_blocks_round_trip_within_two() -> Result<(), KernelError> {
    let mut rng = Rng::new(2);
    let specs = all_specs();
    let mut n = 0;
    for format in [PixelFormat::I420, PixelFormat::Nv12] {
        for matrix in [YuvMatrix::Bt601, YuvMatrix::Bt709, YuvMatrix::Bt2020] {
            for full_range in [false, true] {
                for (w, h) in [(16, 8), (17, 11), (1, 1), (301, 219)] {
                    let spec = specs[n % specs.len()];
                    n += 1;
                    let colorimetry = Colorimetry { matrix, full_range };
                    let canon = block_tensor(w, h, &mut rng);
                    let tensor = from_canonical(&canon, w, h, spec);
                    let mut frame = OwnedFrame::filled(format, w, h, 9, colorimetry, || 0);
                    unpack(&tensor, w, h, spec, 0, 0, &mut frame.view_mut()?)?;
                    let mut back = vec![f32::NAN; 3 * w * h];
                    pack(&frame.view()?, Rect::new(0, 0, w, h), spec, &mut back)?;
                    for (i, (&a, &b)) in tensor.iter().zip(&back).enumerate() {
                        let err = (to_byte(spec.range, a) - to_byte(spec.range, b)).abs();
                        assert!(err <= 2.0, "{format} {colorimetry:?} {w}x{h} {spec:?} [{i}]: {a} vs {b}");
                    }
                }
            }
        }
    }
    Ok(())
}

#[test]
fn pack_reads_bgrx_channels_into_the_right_slots() -> Result<(), KernelError> {
    // 3x2 BGRx, pixel (1, 1) = B 10, G 20, R 30, x 99; everything else 0.
    let mut frame = OwnedFrame::filled(PixelFormat::Bgrx, 3, 2, 4, Colorimetry::default(), || 0);
    let at = frame.strides[0] + 4;
    frame.planes[0][at..at + 4].copy_from_slice(&[10, 20, 30, 99]);
    let view = frame.view()?;
    let rect = Rect::new(0, 0, 3, 2);
    let mut out = [0.0f32; 18];

    let nchw_rgb_byte = TensorSpec { layout: Layout::Nchw, range: ValueRange::Byte, order: ChannelOrder::Rgb };
    pack(&view, rect, nchw_rgb_byte, &mut out)?;
    assert_eq!((out[4], out[6 + 4], out[12 + 4]), (30.0, 20.0, 10.0));
    assert_eq!(out.iter().filter(|&&v| v != 0.0).count(), 3);

    let nhwc_bgr_unit = TensorSpec { layout: Layout::Nhwc, range: ValueRange::Unit, order: ChannelOrder::Bgr };
    pack(&view, rect, nhwc_bgr_unit, &mut out)?;
    // Pixel (1, 1) is NHWC slot 4; BGR order puts blue first.
    for (got, want) in out[12..15].iter().zip([10.0, 20.0, 30.0]) {
        assert!((got - want / 255.0).abs() < 1e-6, "{:?}", &out[12..15]);
    }

    let nchw_bgr_signed = TensorSpec { layout: Layout::Nchw, range: ValueRange::Signed, order: ChannelOrder::Bgr };
    pack(&view, rect, nchw_bgr_signed, &mut out)?;
    let expect = [10.0 / 127.5 - 1.0, 20.0 / 127.5 - 1.0, 30.0 / 127.5 - 1.0];
    for (c, e) in expect.iter().enumerate() {
        assert!((out[c * 6 + 4] - e).abs() < 1e-6, "channel {c}: {}", out[c * 6 + 4]);
    }
    assert_eq!(out[0], -1.0);
    Ok(())
}

#[test]
fn pack_reflects_by_hand_computed_indices() -> Result<(), KernelError> {
    // 5x4 gray with value 10*y + x; the rect is 3 pixels past every edge.
    let mut v = (0..4).flat_map(|y| (0..5).map(move |x| 10 * y + x));
    let frame = OwnedFrame::filled(PixelFormat::Gray8, 5, 4, 0, Colorimetry::default(), || v.next().unwrap_or(0));
    let xs = [3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1];
    let ys = [3, 2, 1, 0, 1, 2, 3, 2, 1, 0];
    let spec = TensorSpec { layout: Layout::Nchw, range: ValueRange::Byte, order: ChannelOrder::Rgb };
    let mut out = vec![0.0; 3 * 11 * 10];
    pack(&frame.view()?, Rect::new(-3, -3, 11, 10), spec, &mut out)?;
    for c in 0..3 {
        for (oy, &y) in ys.iter().enumerate() {
            for (ox, &x) in xs.iter().enumerate() {
                assert_eq!(out[c * 110 + oy * 11 + ox], (10 * y + x) as f32);
            }
        }
    }

    // Pads wider than the frame reflect repeatedly (numpy), 1-pixel axes clamp.
    let mut v = [0u8, 1, 2].into_iter();
    let row = OwnedFrame::filled(PixelFormat::Gray8, 3, 1, 0, Colorimetry::default(), || v.next().unwrap_or(0));
    let mut out = vec![0.0; 3 * 13 * 3];
    pack(&row.view()?, Rect::new(-5, -1, 13, 3), spec, &mut out)?;
    let numpy = [1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1];
    for y in 0..3 {
        let got: Vec<f32> = out[y * 13..][..13].to_vec();
        assert_eq!(got, numpy.map(|i| i as f32));
    }
    Ok(())
}

#[test]
fn pack_rects_match_an_independent_mirror_for_every_format() -> Result<(), KernelError> {
    let mut rng = Rng::new(3);
    let (w, h) = (9, 7);
    let spec = TensorSpec::CANONICAL;
    for format in PixelFormat::ALL {
        let mut frame = OwnedFrame::random(format, w, h, 3, &mut rng);
        frame.colorimetry = Colorimetry { matrix: YuvMatrix::Bt709, full_range: true };
        let mut full = vec![0.0; 3 * w * h];
        pack(&frame.view()?, Rect::new(0, 0, w, h), spec, &mut full)?;
        for rect in [
            Rect::new(-3, -3, w + 6, h + 6),
            Rect::new(2, 1, 4, 3),
            Rect::new(-20, 5, 30, 9),
            Rect::new(7, -2, 5, 2),
            Rect::new(50, 50, 3, 3),
        ] {
            let (rw, rh) = (rect.width, rect.height);
            let mut out = vec![0.0; 3 * rw * rh];
            pack(&frame.view()?, rect, spec, &mut out)?;
            for oy in 0..rh {
                let sy = mirror(rect.y as i64 + oy as i64, h);
                for ox in 0..rw {
                    let sx = mirror(rect.x as i64 + ox as i64, w);
                    for c in 0..3 {
                        assert_eq!(
                            out[c * rw * rh + oy * rw + ox],
                            full[c * w * h + sy * w + sx],
                            "{format} {rect:?} ({ox},{oy})"
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

fn yuv_frame(format: PixelFormat, w: usize, h: usize, yuv: [u8; 3], c: Colorimetry) -> OwnedFrame {
    let mut f = OwnedFrame::filled(format, w, h, 2, c, || 0);
    f.planes[0].fill(yuv[0]);
    match format {
        PixelFormat::I420 => {
            f.planes[1].fill(yuv[1]);
            f.planes[2].fill(yuv[2]);
        }
        _ => {
            for (i, b) in f.planes[1].iter_mut().enumerate() {
                *b = if i % 2 == 0 { yuv[1] } else { yuv[2] };
            }
        }
    }
    f
}

#[test]
fn known_yuv_values() -> Result<(), KernelError> {
    let spec = TensorSpec::CANONICAL;
    let bt601 = Colorimetry::default();
    for format in [PixelFormat::I420, PixelFormat::Nv12] {
        // Pure red, BT.601 limited range.
        let red: Vec<f32> = [1.0, 0.0, 0.0].iter().flat_map(|&v| [v; 4]).collect();
        let mut frame = OwnedFrame::filled(format, 2, 2, 0, bt601, || 0);
        unpack(&red, 2, 2, spec, 0, 0, &mut frame.view_mut()?)?;
        let (y, u, v) = match format {
            PixelFormat::I420 => (frame.planes[0][0], frame.planes[1][0], frame.planes[2][0]),
            _ => (frame.planes[0][0], frame.planes[1][0], frame.planes[1][1]),
        };
        assert!(frame.planes[0].iter().all(|&l| l == y));
        for (got, want) in [(y, 81), (u, 90), (v, 240)] {
            assert!(got.abs_diff(want) <= 1, "{format}: {y},{u},{v}");
        }

        let red_frame = yuv_frame(format, 4, 2, [81, 90, 240], bt601);
        let mut out = vec![0.0; 3 * 8];
        pack(&red_frame.view()?, Rect::new(0, 0, 4, 2), spec, &mut out)?;
        for (c, want) in [1.0f32, 0.0, 0.0].into_iter().enumerate() {
            assert!(out[c * 8..][..8].iter().all(|v| (v - want).abs() < 0.01), "{format}: {out:?}");
        }

        // Mid gray stays gray in BT.709 full range, both ways.
        let bt709_full = Colorimetry { matrix: YuvMatrix::Bt709, full_range: true };
        let gray = yuv_frame(format, 3, 3, [128, 128, 128], bt709_full);
        let mut out = vec![0.0; 27];
        pack(&gray.view()?, Rect::new(0, 0, 3, 3), spec, &mut out)?;
        assert!(out.iter().all(|v| (v - 128.0 / 255.0).abs() < 1e-6), "{out:?}");
        let mut back = OwnedFrame::filled(format, 3, 3, 1, bt709_full, || 0);
        unpack(&out, 3, 3, spec, 0, 0, &mut back.view_mut()?)?;
        for (p, plane) in back.planes.iter().enumerate() {
            let (row, rows) = format.plane_dims(p, 3, 3);
            for r in 0..rows {
                assert!(plane[r * back.strides[p]..][..row].iter().all(|&b| b == 128), "{format} plane {p}: {plane:?}");
            }
        }
    }
    Ok(())
}

#[test]
fn yuv_chroma_averages_partial_blocks() -> Result<(), KernelError> {
    // 3x1 full-range BT.601: column 2 is alone in its chroma block, so its U
    // must be that of its own colour, and block 0 the mean of two colours.
    let c = Colorimetry { matrix: YuvMatrix::Bt601, full_range: true };
    let (r, g, b) = ([255.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 255.0, 255.0]);
    let tensor: Vec<f32> = [r, g, b].iter().flatten().map(|v| v / 255.0).collect();
    let mut frame = OwnedFrame::filled(PixelFormat::I420, 3, 1, 0, c, || 0);
    unpack(&tensor, 3, 1, TensorSpec::CANONICAL, 0, 0, &mut frame.view_mut()?)?;
    // Full-range U = 128 + (B - Y) / 1.772, V = 128 + (R - Y) / 1.402.
    let u = |r: f32, g: f32, b: f32| 128.0 + (b - (0.299 * r + 0.587 * g + 0.114 * b)) / 1.772;
    let v = |r: f32, g: f32, b: f32| 128.0 + (r - (0.299 * r + 0.587 * g + 0.114 * b)) / 1.402;
    let u0 = (u(255.0, 0.0, 0.0) + u(0.0, 0.0, 255.0)) / 2.0;
    let v0 = (v(255.0, 0.0, 0.0) + v(0.0, 0.0, 255.0)) / 2.0;
    assert_eq!(frame.planes[1], [u0.round() as u8, u(0.0, 0.0, 255.0).round() as u8]);
    assert_eq!(frame.planes[2], [v0.round() as u8, v(0.0, 0.0, 255.0).round() as u8]);
    Ok(())
}

#[test]
fn unpack_crops_padding_and_clamps() -> Result<(), KernelError> {
    // 4x3 frame taken from (2, 1) of a 7x5 Byte tensor whose values overshoot.
    let (tw, th) = (7, 5);
    let tensor: Vec<f32> = (0..3 * tw * th).map(|i| i as f32 * 3.0 - 20.0).collect();
    let spec = TensorSpec { layout: Layout::Nchw, range: ValueRange::Byte, order: ChannelOrder::Rgb };
    let mut frame = OwnedFrame::filled(PixelFormat::Rgb, 4, 3, 1, Colorimetry::default(), || 0);
    unpack(&tensor, tw, th, spec, 2, 1, &mut frame.view_mut()?)?;
    for y in 0..3 {
        for x in 0..4 {
            let want: [u8; 3] =
                std::array::from_fn(|c| tensor[c * tw * th + (y + 1) * tw + x + 2].clamp(0.0, 255.0).round() as u8);
            assert_eq!(frame.rgb(x, y), want, "({x},{y})");
        }
    }
    Ok(())
}

#[test]
fn gray_unpack_uses_full_range_luma() -> Result<(), KernelError> {
    let tensor = [1.0f32, 0.0, 0.0, 1.0, 0.0, 0.0];
    let mut frame = OwnedFrame::filled(PixelFormat::Gray8, 2, 1, 0, Colorimetry::default(), || 0);
    unpack(&tensor, 2, 1, TensorSpec::CANONICAL, 0, 0, &mut frame.view_mut()?)?;
    // (R, G, B) = (1, 0, 0) -> 0.299 * 255 = 76.2; (0, 1, 0) -> 149.7.
    assert_eq!(frame.planes[0], [76, 150]);
    Ok(())
}

#[test]
fn copy_alpha_copies_and_resizes() -> Result<(), KernelError> {
    let mut rng = Rng::new(4);
    let src = OwnedFrame::random(PixelFormat::Rgba, 5, 3, 2, &mut rng);
    let mut dst = OwnedFrame::random(PixelFormat::Bgra, 5, 3, 1, &mut rng);
    let colours: Vec<[u8; 3]> = (0..15).map(|i| dst.rgb(i % 5, i / 5)).collect();
    copy_alpha(&src.view()?, &mut dst.view_mut()?)?;
    for (i, colour) in colours.iter().enumerate() {
        let (x, y) = (i % 5, i / 5);
        assert_eq!(dst.pixel(x, y)[3], src.pixel(x, y)[3]);
        assert_eq!(&dst.rgb(x, y), colour, "colour untouched");
    }

    // 2x1 alpha [0, 255] -> 4x1, half-pixel bilinear: 0, 63.75, 191.25, 255.
    let mut a = [0u8, 0, 0, 0, 0, 0, 0, 255].into_iter();
    let src = OwnedFrame::filled(PixelFormat::Bgra, 2, 1, 0, Colorimetry::default(), || a.next().unwrap_or(0));
    let mut dst = OwnedFrame::filled(PixelFormat::Rgba, 4, 2, 0, Colorimetry::default(), || 9);
    copy_alpha(&src.view()?, &mut dst.view_mut()?)?;
    for y in 0..2 {
        let alphas: Vec<u8> = (0..4).map(|x| dst.pixel(x, y)[3]).collect();
        assert_eq!(alphas, [0, 64, 191, 255]);
    }
    Ok(())
}

#[test]
fn copy_alpha_rejects_formats_without_alpha() -> Result<(), KernelError> {
    let src = OwnedFrame::filled(PixelFormat::Rgba, 2, 2, 0, Colorimetry::default(), || 1);
    let mut dst = OwnedFrame::filled(PixelFormat::Rgbx, 2, 2, 0, Colorimetry::default(), || 1);
    let err = copy_alpha(&src.view()?, &mut dst.view_mut()?);
    assert!(matches!(err, Err(KernelError::UnsupportedFormat { format: PixelFormat::Rgbx, .. })));
    Ok(())
}

#[test]
fn unpack_yuv_matches_a_reference_formula() -> Result<(), KernelError> {
    // Random 5x3 (odd both ways) through every matrix and range, checked
    // sample by sample against the defining equations, chroma averaged over
    // the pixels of each (possibly partial) 2x2 block.
    let mut rng = Rng::new(10);
    let (w, h) = (5, 3);
    for format in [PixelFormat::I420, PixelFormat::Nv12] {
        for (matrix, kr, kb) in
            [(YuvMatrix::Bt601, 0.299, 0.114), (YuvMatrix::Bt709, 0.2126, 0.0722), (YuvMatrix::Bt2020, 0.2627, 0.0593)]
        {
            for full_range in [false, true] {
                let canon: Vec<f32> = (0..3 * w * h).map(|_| rng.unit()).collect();
                let c = Colorimetry { matrix, full_range };
                let mut frame = OwnedFrame::filled(format, w, h, 1, c, || 0);
                unpack(&canon, w, h, TensorSpec::CANONICAL, 0, 0, &mut frame.view_mut()?)?;
                let (y_off, y_gain, c_gain) = if full_range { (0.0, 255.0, 255.0) } else { (16.0, 219.0, 224.0) };
                let px = |x: usize, y: usize| {
                    let [r, g, b]: [f64; 3] = std::array::from_fn(|ch| f64::from(canon[ch * w * h + y * w + x]));
                    let luma = kr * r + (1.0 - kr - kb) * g + kb * b;
                    (luma, (b - luma) / (2.0 * (1.0 - kb)), (r - luma) / (2.0 * (1.0 - kr)))
                };
                for y in 0..h {
                    for x in 0..w {
                        let want = y_off + y_gain * px(x, y).0;
                        let got = f64::from(frame.planes[0][y * frame.strides[0] + x]);
                        assert!((got - want).abs() <= 0.5 + 1e-3, "{format} {c:?} Y({x},{y}) {got} vs {want}");
                    }
                }
                for cy in 0..h.div_ceil(2) {
                    for cx in 0..w.div_ceil(2) {
                        let block: Vec<_> = (2 * cy..(2 * cy + 2).min(h))
                            .flat_map(|y| (2 * cx..(2 * cx + 2).min(w)).map(move |x| (x, y)))
                            .collect();
                        let n = block.len() as f64;
                        let cb: f64 = block.iter().map(|&(x, y)| px(x, y).1).sum::<f64>() / n;
                        let cr: f64 = block.iter().map(|&(x, y)| px(x, y).2).sum::<f64>() / n;
                        let (u, v) = match format {
                            PixelFormat::I420 => (
                                frame.planes[1][cy * frame.strides[1] + cx],
                                frame.planes[2][cy * frame.strides[2] + cx],
                            ),
                            _ => (
                                frame.planes[1][cy * frame.strides[1] + 2 * cx],
                                frame.planes[1][cy * frame.strides[1] + 2 * cx + 1],
                            ),
                        };
                        for (got, want) in [(u, 128.0 + c_gain * cb), (v, 128.0 + c_gain * cr)] {
                            assert!(
                                (f64::from(got) - want).abs() <= 0.5 + 1e-3,
                                "{format} {c:?} C({cx},{cy}) {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[test]
fn a_region_writes_only_its_pixels() {
    for format in [PixelFormat::Rgb, PixelFormat::Bgrx, PixelFormat::I420, PixelFormat::Nv12, PixelFormat::Gray8] {
        let (w, h) = (10usize, 8usize);
        let strides: Vec<usize> = (0..format.n_planes()).map(|p| format.plane_dims(p, w, h).0 + 3).collect();
        let mut planes: Vec<Vec<u8>> =
            (0..format.n_planes()).map(|p| vec![7u8; strides[p] * format.plane_dims(p, w, h).1]).collect();
        let before = planes.clone();
        {
            let refs: Vec<&mut [u8]> = planes.iter_mut().map(|p| p.as_mut_slice()).collect();
            let mut frame = FrameMut::new(format, w, h, refs, &strides, Colorimetry::default()).unwrap();
            let mut sub = frame.region(2, 4, 4, 4).unwrap();
            let white = vec![1f32; 3 * 4 * 4];
            unpack(&white, 4, 4, TensorSpec::CANONICAL, 0, 0, &mut sub).unwrap();
            assert!(frame.region(1, 0, 2, 2).is_err() || !format.is_yuv(), "{format}: odd x on 4:2:0");
            assert!(frame.region(8, 0, 4, 2).is_err(), "{format}: past the right edge");
        }
        // Only the region's rows and columns (and, for 4:2:0, their chroma samples) changed.
        for (p, plane) in planes.iter().enumerate() {
            let (row_bytes, rows) = format.plane_dims(p, w, h);
            let sub = if p > 0 { 2 } else { 1 }; // chroma planes are subsampled 2x2
            let bytes_per_sample = row_bytes / w.div_ceil(sub); // NV12's UV pairs: 2
            for y in 0..rows {
                for b in 0..row_bytes {
                    let (x, py) = (b / bytes_per_sample * sub, y * sub);
                    let inside = (2..6).contains(&x) && (4..8).contains(&py);
                    let changed = plane[y * strides[p] + b] != before[p][y * strides[p] + b];
                    assert!(inside || !changed, "{format} plane {p}: byte {b} of row {y} outside the region changed");
                    if p == 0 && inside {
                        assert!(changed, "{format}: byte {b} of row {y} not written");
                    }
                }
            }
        }
    }
}
