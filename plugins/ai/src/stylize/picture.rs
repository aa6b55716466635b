//! Reads `aistylize`'s style picture (`style-image`): any file GStreamer decodes
//! (`common::picture`), cut to the style predictor's aspect
//! ratio around its centre and scaled to its size with an antialiased Lanczos-3 filter computed
//! as Pillow's `Image.resize(..., LANCZOS)` computes it (8-bit, horizontal pass then vertical,
//! fixed-point weights), which is what the arbitrary-style network's own pipeline feeds its
//! style predictor: the style vector then matches the original's.

/// The picture at `path` as a canonical image (three planes R, G, B in 0..1) of `width` x
/// `height`: the largest centred window of that aspect ratio, scaled. Errors name the file.
pub fn load(path: &str, width: usize, height: usize) -> Result<Vec<f32>, String> {
    let pic = crate::common::picture::decode(path, &format!("style-image {path}"), None)?;
    let (pw, ph, data, stride) = (pic.width, pic.height, &pic.data, 3 * pic.width);
    // The largest centred window of the wanted aspect ratio.
    let (cw, ch) = if pw * height > ph * width {
        (((ph * width) as f64 / height as f64).round().max(1.0) as usize, ph)
    } else {
        (pw, ((pw * height) as f64 / width as f64).round().max(1.0) as usize)
    };
    let (x0, y0) = ((pw - cw) / 2, (ph - ch) / 2);
    let mut window = Vec::with_capacity(cw * ch * 3);
    for y in y0..y0 + ch {
        window.extend_from_slice(&data[y * stride + 3 * x0..y * stride + 3 * (x0 + cw)]);
    }
    let scaled = resize_lanczos(&window, cw, ch, width, height);
    let plane = width * height;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, px) in scaled.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * plane + i] = px[c] as f32 / 255.0;
        }
    }
    Ok(out)
}

/// Pillow's fixed-point precision for 8-bit images.
const PRECISION_BITS: u32 = 32 - 8 - 2;

fn lanczos(x: f64) -> f64 {
    let sinc = |x: f64| if x == 0.0 { 1.0 } else { (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x) };
    if (-3.0..3.0).contains(&x) { sinc(x) * sinc(x / 3.0) } else { 0.0 }
}

/// For each of `out_size` output pixels: the first input pixel and its fixed-point weights, for
/// a Lanczos-3 filter widened by the downscale factor (Pillow's `precompute_coeffs` and
/// `normalize_coeffs_8bpc`).
fn coefficients(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i64>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 3.0 * filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let xmin = ((center - support + 0.5).floor().max(0.0)) as usize;
            let xmax = ((center + support + 0.5).floor() as usize).min(in_size);
            let w: Vec<f64> = (xmin..xmax).map(|x| lanczos((x as f64 - center + 0.5) / filterscale)).collect();
            let total: f64 = w.iter().sum();
            let fixed = w
                .iter()
                .map(|&k| {
                    let k = if total != 0.0 { k / total } else { k } * (1u64 << PRECISION_BITS) as f64;
                    (if k < 0.0 { k - 0.5 } else { k + 0.5 }) as i64
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

/// One pass of the separable filter over packed RGB: along x when `horizontal`, else along y.
fn pass(src: &[u8], w: usize, h: usize, out_w: usize, out_h: usize, horizontal: bool) -> Vec<u8> {
    let coeffs = if horizontal { coefficients(w, out_w) } else { coefficients(h, out_h) };
    let mut out = vec![0u8; out_w * out_h * 3];
    for y in 0..out_h {
        for x in 0..out_w {
            let (start, k) = &coeffs[if horizontal { x } else { y }];
            for c in 0..3 {
                let mut acc: i64 = 1 << (PRECISION_BITS - 1);
                for (i, &kk) in k.iter().enumerate() {
                    let (sx, sy) = if horizontal { (start + i, y) } else { (x, start + i) };
                    acc += src[(sy * w + sx) * 3 + c] as i64 * kk;
                }
                out[(y * out_w + x) * 3 + c] = (acc >> PRECISION_BITS).clamp(0, 255) as u8;
            }
        }
    }
    out
}

/// Packed RGB `w` x `h` scaled to `out_w` x `out_h` as Pillow's LANCZOS resize does it.
fn resize_lanczos(src: &[u8], w: usize, h: usize, out_w: usize, out_h: usize) -> Vec<u8> {
    let across = if out_w != w { pass(src, w, h, out_w, h, true) } else { src.to_vec() };
    if out_h != h { pass(&across, out_w, h, out_w, out_h, false) } else { across }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_a_same_size_resize_is_the_identity() {
        for (i, o) in [(512, 256), (1000, 256), (256, 256), (100, 256)] {
            for (_, k) in coefficients(i, o) {
                let sum: i64 = k.iter().sum();
                assert!((sum - (1 << PRECISION_BITS)).abs() <= k.len() as i64, "{i}->{o}: {sum}");
            }
        }
        let px: Vec<u8> = (0..6 * 4 * 3).map(|v| (v * 7 % 256) as u8).collect();
        assert_eq!(resize_lanczos(&px, 6, 4, 6, 4), px);
        // A flat picture stays flat at any size.
        let flat = vec![77u8; 9 * 7 * 3];
        assert!(resize_lanczos(&flat, 9, 7, 4, 3).iter().all(|&v| v == 77));
    }
}
