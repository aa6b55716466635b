//! The style-transfer pixel steps: tensor conventions round-trip, preserve_colors keeps the
//! colour differences, mix, and the temporal confidence's three tests (inside the previous
//! frame, forward/backward agreement, colour match).

use gst_ai_kernels::{
    ChannelOrder, KernelError, Layout, TensorSpec, ValueRange, luma, mix, preserve_colors, retensor, temporal_blend,
    temporal_confidence,
};

fn ramp(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 37) % 101) as f32 / 100.0).collect()
}

#[test]
fn retensor_round_trips_every_convention() {
    let (w, h) = (5, 3);
    let src = ramp(3 * w * h);
    for layout in [Layout::Nchw, Layout::Nhwc] {
        for range in [ValueRange::Unit, ValueRange::Signed, ValueRange::Byte] {
            for order in [ChannelOrder::Rgb, ChannelOrder::Bgr] {
                let spec = TensorSpec { layout, range, order };
                let mut t = vec![0f32; src.len()];
                let mut back = vec![0f32; src.len()];
                retensor(&src, TensorSpec::CANONICAL, w, h, spec, &mut t).unwrap();
                retensor(&t, spec, w, h, TensorSpec::CANONICAL, &mut back).unwrap();
                for (a, b) in src.iter().zip(&back) {
                    assert!((a - b).abs() < 1e-5, "{spec:?}");
                }
                // Spot-check one value's place and scale: pixel 4 (x=4, y=0), green.
                let g = src[w * h + 4];
                let want = match range {
                    ValueRange::Unit => g,
                    ValueRange::Signed => 2.0 * g - 1.0,
                    ValueRange::Byte => 255.0 * g,
                };
                let at = match layout {
                    Layout::Nchw => w * h + 4,
                    Layout::Nhwc => 4 * 3 + 1,
                };
                assert!((t[at] - want).abs() < 1e-4, "{spec:?}: {} vs {want}", t[at]);
            }
        }
    }
    let mut short = vec![0f32; 10];
    assert!(matches!(
        retensor(&src, TensorSpec::CANONICAL, w, h, TensorSpec::CANONICAL, &mut short),
        Err(KernelError::BufferLength { .. })
    ));
}

#[test]
fn preserve_colors_keeps_colour_differences() {
    let (w, h) = (4, 4);
    let n = w * h;
    // Mid-range colours so nothing clamps.
    let input: Vec<f32> = (0..3 * n).map(|i| 0.3 + 0.4 * ((i * 13) % 17) as f32 / 17.0).collect();
    let mut styled: Vec<f32> = (0..3 * n).map(|i| 0.35 + 0.3 * ((i * 7) % 11) as f32 / 11.0).collect();
    let luma = |v: &[f32], i: usize| 0.299 * v[i] + 0.587 * v[n + i] + 0.114 * v[2 * n + i];
    let want_luma: Vec<f32> = (0..n).map(|i| luma(&styled, i)).collect();
    preserve_colors(&input, &mut styled, w, h).unwrap();
    for i in 0..n {
        assert!((luma(&styled, i) - want_luma[i]).abs() < 1e-5, "brightness is the style's");
        for c in [0, 2] {
            let d_in = input[c * n + i] - luma(&input, i);
            let d_out = styled[c * n + i] - luma(&styled, i);
            assert!((d_in - d_out).abs() < 1e-5, "colour difference kept");
        }
    }
}

#[test]
fn mix_endpoints_are_exact() {
    let input = ramp(30);
    let styled: Vec<f32> = input.iter().map(|v| 1.0 - v).collect();
    let mut out = styled.clone();
    mix(&input, &mut out, 0.0).unwrap();
    assert_eq!(out, input);
    let mut out = styled.clone();
    mix(&input, &mut out, 1.0).unwrap();
    assert_eq!(out, styled);
    let mut out = styled.clone();
    mix(&input, &mut out, 0.25).unwrap();
    for i in 0..30 {
        assert!((out[i] - (0.75 * input[i] + 0.25 * styled[i])).abs() < 1e-6);
    }
    assert!(mix(&input, &mut out, 1.5).is_err());
}

#[test]
fn temporal_confidence_tests_inside_agreement_and_colour() {
    let (w, h) = (20, 10);
    let n = w * h;
    let image = ramp(3 * n); // textured: no flat pixels
    let mut lum = vec![0f32; n];
    luma(&image, w, h, &mut lum).unwrap();
    let mut flow = vec![0f32; 2 * n];
    let mut back = vec![0f32; 2 * n];
    // Everything moved 3 px right: the current pixel was 3 px to the left in the previous frame.
    flow[..n].fill(-3.0);
    back[..n].fill(3.0);
    let mut c = vec![0f32; n];
    temporal_confidence(&flow, &back, &lum, &image, &image, w, h, &mut c).unwrap();
    for y in 0..h {
        for x in 0..w {
            let want = if x >= 3 { 1.0 } else { 0.0 }; // columns 0..2 came from outside the frame
            assert_eq!(c[y * w + x], want, "({x}, {y})");
        }
    }
    // Disagreeing backward flow at one pixel: not trusted.
    back[5 * w + 10] = -3.0;
    // Colour mismatch at another, in the blue channel only.
    let mut prev = image.clone();
    prev[2 * n + 2 * w + 8] = (prev[2 * n + 2 * w + 8] + 0.3) % 1.0;
    temporal_confidence(&flow, &back, &lum, &image, &prev, w, h, &mut c).unwrap();
    assert_eq!(c[5 * w + 10], 0.0);
    assert_eq!(c[2 * w + 8], 0.0);
    assert_eq!(c[5 * w + 11], 1.0);
    // On a flat picture disagreeing flows do not matter: the colours fetched are the same.
    let flat = vec![0.5f32; 3 * n];
    let mut cf = vec![0f32; n];
    temporal_confidence(&flow, &back, &vec![0.5f32; n], &flat, &flat, w, h, &mut cf).unwrap();
    assert_eq!(cf[5 * w + 10], 1.0);
    // The blend follows the confidence.
    let mut out = vec![0f32; 3 * n];
    let prev_img = vec![1f32; 3 * n];
    temporal_blend(&mut out, &prev_img, &c, 0.5).unwrap();
    assert!((out[5 * w + 11] - 0.5).abs() < 1e-5, "a large difference gets the weight itself");
    assert_eq!(out[n + 5 * w + 10], 0.0);
    assert!(temporal_blend(&mut out, &prev_img, &c, -0.1).is_err());
    // A small difference (flicker rather than a change of picture) is pulled in harder.
    let mut out = vec![0.5f32; 3 * n];
    let near = vec![0.51f32; 3 * n];
    temporal_blend(&mut out, &near, &c, 0.5).unwrap();
    let w = (out[5 * w + 11] - 0.5) / 0.01;
    assert!(w > 0.86 && w < 0.88, "weight {w} for a small difference");
}
