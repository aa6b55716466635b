//! resize through the public API, checked against hand-computed values and a
//! direct (non-separable) reference implementation.

mod common;

use common::Rng;
use gst_ai_kernels::{Filter, KernelError, resize};

fn close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol, "[{i}]: {x} vs {y}");
    }
}

#[test]
fn constant_images_stay_constant() -> Result<(), KernelError> {
    for filter in [Filter::Bilinear, Filter::Bicubic] {
        for (sw, sh, dw, dh) in [(7, 5, 13, 11), (16, 16, 5, 3), (1, 1, 4, 4), (300, 200, 640, 480), (9, 4, 9, 17)] {
            let src: Vec<f32> = [0.25f32, -3.0, 100.0].iter().flat_map(|&v| vec![v; sw * sh]).collect();
            let mut dst = vec![f32::NAN; 3 * dw * dh];
            resize(&src, 3, sw, sh, &mut dst, dw, dh, filter)?;
            for c in 0..3 {
                let want = vec![src[c * sw * sh]; dw * dh];
                close(&dst[c * dw * dh..][..dw * dh], &want, 1e-4);
            }
        }
    }
    Ok(())
}

#[test]
fn bilinear_doubling_of_a_ramp_is_a_ramp() -> Result<(), KernelError> {
    // value = x + 10 y on 8x6 -> 16x12. Output centre (d + 0.5) / 2 - 0.5,
    // clamped to the first/last source centre.
    let (sw, sh) = (8, 6);
    let src: Vec<f32> = (0..sh).flat_map(|y| (0..sw).map(move |x| (x + 10 * y) as f32)).collect();
    let mut dst = vec![0.0; 16 * 12];
    resize(&src, 1, sw, sh, &mut dst, 16, 12, Filter::Bilinear)?;
    let pos = |d: usize, n: usize| ((d as f32 + 0.5) / 2.0 - 0.5).clamp(0.0, (n - 1) as f32);
    for y in 0..12 {
        for x in 0..16 {
            let want = pos(x, sw) + 10.0 * pos(y, sh);
            assert!((dst[y * 16 + x] - want).abs() < 1e-4, "({x},{y}) {} vs {want}", dst[y * 16 + x]);
        }
    }
    // Interior steps are exactly half a source pixel.
    for x in 1..14 {
        assert!((dst[x + 1] - dst[x] - 0.5).abs() < 1e-5);
    }
    Ok(())
}

#[test]
fn bilinear_downscale_does_not_antialias() -> Result<(), KernelError> {
    let src = [0.0, 10.0, 20.0, 30.0];
    let mut dst = [0.0; 2];
    resize(&src, 1, 4, 1, &mut dst, 2, 1, Filter::Bilinear)?;
    assert_eq!(dst, [5.0, 25.0]);
    Ok(())
}

#[test]
fn bicubic_halving_matches_hand_computed_values() -> Result<(), KernelError> {
    // Halving puts every output centre at t = 0.5 between two source pixels:
    // Keys(-0.75) weights [-0.09375, 0.59375, 0.59375, -0.09375], edges
    // clamped. Row 0..7 -> [0.40625, 2.5, 4.5, 6.59375].
    let src: Vec<f32> = (0..8).map(|x| x as f32).collect();
    let mut dst = [0.0; 4];
    resize(&src, 1, 8, 1, &mut dst, 4, 1, Filter::Bicubic)?;
    close(&dst, &[0.40625, 2.5, 4.5, 6.59375], 1e-6);
    Ok(())
}

/// Direct 4x4 evaluation per output pixel with the piecewise Keys kernel.
fn bicubic_reference(src: &[f32], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<f32> {
    fn kernel(x: f64) -> f64 {
        let a = -0.75;
        let x = x.abs();
        if x <= 1.0 {
            (a + 2.0) * x.powi(3) - (a + 3.0) * x * x + 1.0
        } else if x < 2.0 {
            a * x.powi(3) - 5.0 * a * x * x + 8.0 * a * x - 4.0 * a
        } else {
            0.0
        }
    }
    let mut out = vec![0.0; dw * dh];
    for oy in 0..dh {
        let fy = (oy as f64 + 0.5) * sh as f64 / dh as f64 - 0.5;
        for ox in 0..dw {
            let fx = (ox as f64 + 0.5) * sw as f64 / dw as f64 - 0.5;
            let mut acc = 0.0;
            for ky in fy.floor() as i64 - 1..=fy.floor() as i64 + 2 {
                for kx in fx.floor() as i64 - 1..=fx.floor() as i64 + 2 {
                    let sx = kx.clamp(0, sw as i64 - 1) as usize;
                    let sy = ky.clamp(0, sh as i64 - 1) as usize;
                    let w = kernel(fx - kx as f64) * kernel(fy - ky as f64);
                    acc += w * f64::from(src[sy * sw + sx]);
                }
            }
            out[oy * dw + ox] = acc as f32;
        }
    }
    out
}

#[test]
fn bicubic_matches_a_direct_reference() -> Result<(), KernelError> {
    let mut rng = Rng::new(5);
    for (sw, sh, dw, dh) in [(7, 5, 11, 9), (9, 8, 4, 3), (5, 5, 5, 12), (3, 2, 17, 1), (120, 90, 410, 300)] {
        let src: Vec<f32> = (0..2 * sw * sh).map(|_| rng.unit()).collect();
        let mut dst = vec![0.0; 2 * dw * dh];
        resize(&src, 2, sw, sh, &mut dst, dw, dh, Filter::Bicubic)?;
        for c in 0..2 {
            let want = bicubic_reference(&src[c * sw * sh..][..sw * sh], sw, sh, dw, dh);
            close(&dst[c * dw * dh..][..dw * dh], &want, 1e-5);
        }
    }
    Ok(())
}

#[test]
fn same_size_is_identity() -> Result<(), KernelError> {
    let mut rng = Rng::new(6);
    let src: Vec<f32> = (0..3 * 10 * 7).map(|_| rng.unit()).collect();
    for filter in [Filter::Bilinear, Filter::Bicubic] {
        let mut dst = vec![0.0; src.len()];
        resize(&src, 3, 10, 7, &mut dst, 10, 7, filter)?;
        assert_eq!(dst, src);
    }
    Ok(())
}
