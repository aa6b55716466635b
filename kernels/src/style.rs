//! The per-pixel steps of style transfer around the model: converting
//! between tensor conventions (`retensor`), keeping the input's colours
//! (`preserve_colors`), the `strength` blend (`mix`), and temporal
//! consistency: how far the previous stylized frame, warped along the flow,
//! can be trusted at each pixel (`temporal_confidence`) and the blend with
//! it (`temporal_blend`).
//!
//! Images are planar f32 (`TensorSpec::CANONICAL`: R, G, B planes, 0..1)
//! unless a spec says otherwise; flows are two planes (x then y) in pixels,
//! as made by `optical_flow`.

use crate::cpu;
use crate::error::KernelError;
use crate::tensor::TensorSpec;

pub(crate) fn image_len(w: usize, h: usize, k: usize, what: &'static str) -> Result<usize, KernelError> {
    if w == 0 {
        return Err(KernelError::ZeroSize { what: "image width" });
    }
    if h == 0 {
        return Err(KernelError::ZeroSize { what: "image height" });
    }
    w.checked_mul(h).and_then(|n| n.checked_mul(k)).ok_or(KernelError::TooLarge { what })
}

/// `temporal_confidence`'s checks (shared with its CUDA twin), on the lengths of flow, back
/// flow, luma, image, previous image and output.
pub(crate) fn check_temporal_confidence(lens: [usize; 6], w: usize, h: usize) -> Result<(), KernelError> {
    let [flow, back, luma, image, prev_image, out] = lens;
    let n = image_len(w, h, 1, "temporal_confidence image")?;
    check("temporal_confidence flow", flow, 2 * n)?;
    check("temporal_confidence back flow", back, 2 * n)?;
    check("temporal_confidence luma", luma, n)?;
    check("temporal_confidence image", image, 3 * n)?;
    check("temporal_confidence previous image", prev_image, 3 * n)?;
    check("temporal_confidence output", out, n)
}

/// `temporal_blend`'s checks (shared with its CUDA twin); the pixel count.
pub(crate) fn check_temporal_blend(out: usize, warped_prev: usize, n: usize, alpha: f32) -> Result<usize, KernelError> {
    if n == 0 {
        return Err(KernelError::ZeroSize { what: "temporal_blend image" });
    }
    check("temporal_blend output", out, 3 * n)?;
    check("temporal_blend previous", warped_prev, 3 * n)?;
    if !(0.0..=1.0).contains(&alpha) {
        return Err(KernelError::InvalidArgument(format!("temporal weight {alpha} must be in 0..=1")));
    }
    Ok(n)
}

pub(crate) fn check(what: &str, len: usize, need: usize) -> Result<(), KernelError> {
    if len != need {
        return Err(KernelError::BufferLength { what: what.to_string(), len, need });
    }
    Ok(())
}

/// `retensor`'s checks (shared with its CUDA twin): both images 3 x `w` x `h`; that length.
pub(crate) fn check_retensor(src_len: usize, w: usize, h: usize, dst_len: usize) -> Result<usize, KernelError> {
    let n = image_len(w, h, 3, "retensor image")?;
    check("retensor source", src_len, n)?;
    check("retensor destination", dst_len, n)?;
    Ok(n)
}

/// Converts a 3-channel `w` x `h` image from one tensor convention (layout,
/// value range, channel order) to another.
pub fn retensor(
    src: &[f32],
    from: TensorSpec,
    w: usize,
    h: usize,
    to: TensorSpec,
    dst: &mut [f32],
) -> Result<(), KernelError> {
    check_retensor(src.len(), w, h, dst.len())?;
    cpu::style::retensor(src, from, w, h, to, dst);
    Ok(())
}

/// Keeps the input's colour and takes the stylized image's brightness: each
/// channel of the result is `Y(stylized) + k (input - Y(input))` with BT.601
/// luma weights, k = 1 unless that leaves 0..1, else the largest k that does
/// (the colour's hue is kept and its saturation reduced just enough, rather
/// than each channel clipped, which would shift the hue). With k = 1 the
/// colour differences R - Y and B - Y (and so Cb and Cr) are exactly the
/// input's. Written into `stylized`.
pub fn preserve_colors(input: &[f32], stylized: &mut [f32], w: usize, h: usize) -> Result<(), KernelError> {
    let n = image_len(w, h, 3, "preserve_colors image")?;
    check("preserve_colors input", input.len(), n)?;
    check("preserve_colors stylized", stylized.len(), n)?;
    cpu::style::preserve_colors(input, stylized, w * h);
    Ok(())
}

/// `out = input + strength * (out - input)`, elementwise, `strength` in
/// 0..=1 (0 gives the input, 1 leaves `out` as it is).
pub fn mix(input: &[f32], out: &mut [f32], strength: f32) -> Result<(), KernelError> {
    check("mix output", out.len(), input.len())?;
    if !(0.0..=1.0).contains(&strength) {
        return Err(KernelError::InvalidArgument(format!("strength {strength} must be in 0..=1")));
    }
    cpu::style::mix(input, out, strength);
    Ok(())
}

/// Per-pixel trust (0..1) in the previous frame's content brought to the
/// current frame along `flow` (current -> previous). `back` is the
/// previous -> current flow already warped to the current frame (sampled at
/// `p + flow(p)`), `luma` the current frame's luma (as `luma` makes it),
/// `image` the current frame (3 planes) and `prev_image` the previous frame
/// warped the same way. A pixel is trusted when
/// 1. it comes from inside the previous frame,
/// 2. forward and backward flow agree (Sundaram et al.'s test: with
///    `e = |flow + back|^2` and `t = 0.01 (|flow|^2 + |back|^2) + 0.5`,
///    full trust for `e <= t`, none from `e >= 2t`), or the picture is flat
///    there (largest central luma difference below 0.02, fading out at
///    0.06), where flows often disagree for lack of anything to match and a
///    wrong vector fetches the same colours anyway, and
/// 3. the colours match (largest channel difference below 0.08, none from
///    0.2; colour, not just luma, so a new object of the old brightness is
///    not blended with what was there):
///    flow that agrees with itself but lands on a different surface (a
///    motion boundary at the flow's reduced resolution) is not trusted.
///
/// The result is the product of the three.
#[allow(clippy::too_many_arguments)] // mirrors the CUDA twin's flat signature
pub fn temporal_confidence(
    flow: &[f32],
    back: &[f32],
    luma: &[f32],
    image: &[f32],
    prev_image: &[f32],
    w: usize,
    h: usize,
    out: &mut [f32],
) -> Result<(), KernelError> {
    check_temporal_confidence([flow, back, luma, image, prev_image, out].map(<[f32]>::len), w, h)?;
    cpu::style::temporal_confidence(flow, back, luma, image, prev_image, w, h, out);
    Ok(())
}

/// Pulls the stylized frame `out` towards the previous output `warped_prev`
/// (already warped to this frame) where that can be trusted:
/// `out += w * (warped_prev - out)` with `w = confidence * (1 - (1 - alpha)^(1 + 2s))`,
/// `s = exp(-(d / 0.25)^2)` and `d` the pixel's mean channel difference
/// between the two. A large difference (the picture really changed) gets
/// the weight `alpha`; a small one (the style flickering on the same
/// content) up to `1 - (1 - alpha)^3` (0.875 for 0.5). Why: a plain
/// recursive blend with weight `alpha` removes only part of the flicker (on
/// a panning photo, weight 0.5 with the true motion took 1.7x off, not 2x),
/// while weighting small changes more removes flicker without holding on to
/// real changes (ghosting). `alpha` in 0..=1 (0: `out` unchanged, 1: the
/// previous output wherever trusted); `confidence` is one plane.
pub fn temporal_blend(out: &mut [f32], warped_prev: &[f32], confidence: &[f32], alpha: f32) -> Result<(), KernelError> {
    check_temporal_blend(out.len(), warped_prev.len(), confidence.len(), alpha)?;
    cpu::style::temporal_blend(out, warped_prev, confidence, alpha);
    Ok(())
}
