//! Cutting a face box out of a frame for a lip-sync model and putting the model's output back
//! without a visible box: `crop_resize` (box → model-size patch, bilinear) and `paste_feathered`
//! (patch → box, blended with a mask that rises smoothly from the box's edges).
//!
//! Images are planar f32 (`TensorSpec::CANONICAL`); boxes are in pixels and may reach past the
//! frame (samples are clamped to it; pasting skips what falls outside).

use crate::error::KernelError;

/// A box in frame pixels: top-left corner and size.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct FaceBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

pub(crate) fn check_box(b: &FaceBox) -> Result<(), KernelError> {
    if !(b.w > 0.0 && b.h > 0.0 && b.x.is_finite() && b.y.is_finite() && b.w.is_finite() && b.h.is_finite()) {
        return Err(KernelError::InvalidArgument(format!("face box {b:?} must have a positive, finite size")));
    }
    Ok(())
}

pub(crate) fn check_len(what: &str, len: usize, w: usize, h: usize) -> Result<(), KernelError> {
    if w == 0 || h == 0 {
        return Err(KernelError::ZeroSize { what: "face image size" });
    }
    let need = 3 * w * h;
    if len != need {
        return Err(KernelError::BufferLength { what: format!("{what} (3x{h}x{w})"), len, need });
    }
    Ok(())
}

/// Bilinear sample of plane `p` (`w` x `h`) at (x, y), coordinates clamped to the image.
/// `crop_resize`'s checks (shared with its CUDA twin): frame and patch lengths, the box.
pub(crate) fn check_crop_resize(
    frame_len: usize,
    fw: usize,
    fh: usize,
    b: &FaceBox,
    patch_len: usize,
    pw: usize,
    ph: usize,
) -> Result<(), KernelError> {
    check_len("crop_resize frame", frame_len, fw, fh)?;
    check_len("crop_resize patch", patch_len, pw, ph)?;
    check_box(b)
}

/// `paste_feathered`'s checks (shared with its CUDA twin): frame and patch lengths for their
/// sizes, the box, the feather width.
pub(crate) fn check_paste(
    frame: usize,
    (fw, fh): (usize, usize),
    b: &FaceBox,
    patch: usize,
    (pw, ph): (usize, usize),
    feather: f32,
) -> Result<(), KernelError> {
    check_len("paste_feathered frame", frame, fw, fh)?;
    check_len("paste_feathered patch", patch, pw, ph)?;
    check_box(b)?;
    if !(feather >= 0.0 && feather.is_finite()) {
        return Err(KernelError::InvalidArgument(format!("feather {feather} must be a finite width >= 0")));
    }
    Ok(())
}

pub(crate) fn bilinear(p: &[f32], w: usize, h: usize, x: f32, y: f32) -> f32 {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let top = p[y0 * w + x0] * (1.0 - fx) + p[y0 * w + x1] * fx;
    let bottom = p[y1 * w + x0] * (1.0 - fx) + p[y1 * w + x1] * fx;
    top * (1.0 - fy) + bottom * fy
}

/// The box `b` of `frame` (`fw` x `fh`) resampled to a `pw` x `ph` patch (pixel centres mapped
/// onto each other, bilinear).
pub fn crop_resize(
    frame: &[f32],
    fw: usize,
    fh: usize,
    b: FaceBox,
    patch: &mut [f32],
    pw: usize,
    ph: usize,
) -> Result<(), KernelError> {
    check_crop_resize(frame.len(), fw, fh, &b, patch.len(), pw, ph)?;
    let (sx, sy) = (b.w / pw as f32, b.h / ph as f32);
    let (fnn, pn) = (fw * fh, pw * ph);
    for c in 0..3 {
        let src = &frame[c * fnn..(c + 1) * fnn];
        for y in 0..ph {
            let fy = b.y + (y as f32 + 0.5) * sy - 0.5;
            for x in 0..pw {
                let fx = b.x + (x as f32 + 0.5) * sx - 0.5;
                patch[c * pn + y * pw + x] = bilinear(src, fw, fh, fx, fy);
            }
        }
    }
    Ok(())
}

/// Smooth step 0 → 1 over 0..1 (raised cosine).
pub(crate) fn ramp(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    0.5 - 0.5 * (std::f32::consts::PI * t).cos()
}

/// Puts `patch` (`pw` x `ph`) back into box `b` of `frame`, blended by a mask that is 0 on the
/// box's edges and rises to 1 over `feather` pixels inward (a raised cosine), so no seam shows;
/// `feather` 0 pastes a hard box. Pixels outside the frame are skipped.
#[allow(clippy::too_many_arguments)] // flat, like the CUDA twin's signature will be
pub fn paste_feathered(
    frame: &mut [f32],
    fw: usize,
    fh: usize,
    b: FaceBox,
    patch: &[f32],
    pw: usize,
    ph: usize,
    feather: f32,
) -> Result<(), KernelError> {
    check_paste(frame.len(), (fw, fh), &b, patch.len(), (pw, ph), feather)?;
    let (fnn, pn) = (fw * fh, pw * ph);
    let (sx, sy) = (pw as f32 / b.w, ph as f32 / b.h);
    let x0 = b.x.floor().max(0.0) as usize;
    let y0 = b.y.floor().max(0.0) as usize;
    let x1 = ((b.x + b.w).ceil().max(0.0) as usize).min(fw);
    let y1 = ((b.y + b.h).ceil().max(0.0) as usize).min(fh);
    for y in y0..y1 {
        let cy = y as f32 + 0.5; // pixel centre
        let dy = (cy - b.y).min(b.y + b.h - cy);
        if dy <= 0.0 {
            continue;
        }
        for x in x0..x1 {
            let cx = x as f32 + 0.5;
            let dx = (cx - b.x).min(b.x + b.w - cx);
            if dx <= 0.0 {
                continue;
            }
            let m = if feather > 0.0 { ramp(dx / feather) * ramp(dy / feather) } else { 1.0 };
            if m <= 0.0 {
                continue;
            }
            let (px, py) = ((cx - b.x) * sx - 0.5, (cy - b.y) * sy - 0.5);
            for c in 0..3 {
                let v = bilinear(&patch[c * pn..(c + 1) * pn], pw, ph, px, py);
                let o = &mut frame[c * fnn + y * fw + x];
                *o += m * (v - *o);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: usize, h: usize, f: impl Fn(usize, usize, usize) -> f32) -> Vec<f32> {
        let mut v = vec![0f32; 3 * w * h];
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    v[c * w * h + y * w + x] = f(c, x, y);
                }
            }
        }
        v
    }

    #[test]
    fn crop_then_paste_at_the_same_size_is_exact() {
        let (w, h) = (40, 30);
        let frame = image(w, h, |c, x, y| ((x * 7 + y * 3 + c * 11) % 50) as f32 / 50.0);
        let b = FaceBox { x: 10.0, y: 5.0, w: 16.0, h: 12.0 };
        let mut patch = vec![0f32; 3 * 16 * 12];
        crop_resize(&frame, w, h, b, &mut patch, 16, 12).unwrap();
        assert_eq!(patch[0], frame[5 * w + 10]);
        let mut out = vec![0f32; frame.len()];
        paste_feathered(&mut out, w, h, b, &patch, 16, 12, 0.0).unwrap();
        for y in 0..h {
            for x in 0..w {
                let inside = (10..26).contains(&x) && (5..17).contains(&y);
                let want = if inside { frame[y * w + x] } else { 0.0 };
                assert!((out[y * w + x] - want).abs() < 1e-6, "({x}, {y})");
            }
        }
    }

    #[test]
    fn feathered_paste_has_no_seam() {
        let (w, h) = (64, 64);
        let mut frame = vec![0f32; 3 * w * h];
        let patch = vec![1f32; 3 * 32 * 32];
        let b = FaceBox { x: 16.0, y: 16.0, w: 32.0, h: 32.0 };
        paste_feathered(&mut frame, w, h, b, &patch, 32, 32, 8.0).unwrap();
        let row: Vec<f32> = (0..w).map(|x| frame[32 * w + x]).collect();
        assert_eq!(row[15], 0.0, "outside untouched");
        assert!(row[16] < 0.05, "the box edge barely changes ({})", row[16]);
        assert!((row[32] - 1.0).abs() < 1e-6, "the middle is the patch");
        // Monotonic rise with no step larger than a raised cosine over 8 px allows.
        for x in 16..24 {
            assert!(row[x + 1] >= row[x] && row[x + 1] - row[x] < 0.25, "step at {x}: {:?}", &row[16..25]);
        }
        assert!(paste_feathered(&mut frame, w, h, b, &patch, 32, 32, -1.0).is_err());
        let bad = FaceBox { w: 0.0, ..b };
        assert!(crop_resize(&frame, w, h, bad, &mut vec![0f32; 3 * 32 * 32], 32, 32).is_err());
    }

    #[test]
    fn boxes_past_the_frame_are_clamped_and_clipped() {
        let (w, h) = (20, 20);
        let mut frame = vec![0.5f32; 3 * w * h];
        let b = FaceBox { x: -5.0, y: 12.0, w: 10.0, h: 12.0 };
        let mut patch = vec![0f32; 3 * 8 * 8];
        crop_resize(&frame, w, h, b, &mut patch, 8, 8).unwrap();
        assert!(patch.iter().all(|&v| (v - 0.5).abs() < 1e-6));
        let ones = vec![1f32; 3 * 8 * 8];
        paste_feathered(&mut frame, w, h, b, &ones, 8, 8, 0.0).unwrap();
        assert_eq!(frame[15 * w], 1.0);
        assert_eq!(frame[15 * w + 6], 0.5);
    }
}
