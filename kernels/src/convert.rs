//! Public entry points that move pixels between frames and tensors: `pack`
//! (frame region -> tensor), `unpack` (tensor -> frame) and `copy_alpha`.
//! They validate every size and hand over to the backend; today the only
//! backend is `cpu`.

use crate::cpu;
use crate::error::KernelError;
use crate::frame::{Frame, FrameMut};
use crate::tensor::{Rect, TensorSpec};

/// `3 * width * height`, the element count of a 3-channel tensor.
pub(crate) fn tensor_len(width: usize, height: usize) -> Result<usize, KernelError> {
    width.checked_mul(height).and_then(|n| n.checked_mul(3)).ok_or(KernelError::TooLarge { what: "tensor" })
}

pub(crate) fn check_tensor_len(what: &str, len: usize, width: usize, height: usize) -> Result<(), KernelError> {
    let need = tensor_len(width, height)?;
    if len != need {
        return Err(KernelError::BufferLength { what: format!("{what} (3x{height}x{width} tensor)"), len, need });
    }
    Ok(())
}

/// Converts the `rect` region of `frame` into a 3-channel tensor of
/// `rect.width` x `rect.height` pixels in `spec`; `out.len()` must be exactly
/// `3 * rect.width * rect.height`.
///
/// * RGB-ish formats: R, G, B are taken, alpha/padding ignored.
/// * GRAY8: gray (full range) is replicated to all three channels.
/// * I420/NV12: converted with `frame.colorimetry`; pixel (x, y) uses chroma
///   sample (x/2, y/2) (nearest), the rule [`unpack`] averages with, so flat
///   2x2 blocks round-trip. RGB is clamped to 0..255 before range mapping.
///
/// Pixels of `rect` outside the frame are reflected (see [`Rect`]).
pub fn pack(frame: &Frame<'_>, rect: Rect, spec: TensorSpec, out: &mut [f32]) -> Result<(), KernelError> {
    check_pack(frame, rect, out.len())?;
    cpu::pack::pack(frame, rect, spec, out);
    Ok(())
}

/// The checks of [`pack`], shared with its CUDA twin.
pub(crate) fn check_pack(frame: &Frame<'_>, rect: Rect, out_len: usize) -> Result<(), KernelError> {
    frame.validate()?;
    if rect.width == 0 {
        return Err(KernelError::ZeroSize { what: "rect width" });
    }
    if rect.height == 0 {
        return Err(KernelError::ZeroSize { what: "rect height" });
    }
    check_tensor_len("pack output", out_len, rect.width, rect.height)
}

/// Writes the whole of `frame` from a 3 x `tensor_h` x `tensor_w` tensor in
/// `spec`, taking the frame's pixels from tensor column `crop_x`, row
/// `crop_y` onwards (so right/bottom padding and left/top borders are cut).
///
/// Values are mapped from `spec.range` to 0..255, clamped and rounded half up
/// (which, after clamping, is round half away from zero). Alpha and padding
/// bytes are set to 255 (overwrite alpha with [`copy_alpha`] if wanted).
/// GRAY8 gets full-range luma 0.299 R + 0.587 G + 0.114 B. I420/NV12 use
/// `frame.colorimetry`; each chroma sample is the mean of the chroma of the
/// pixels of its 2x2 block that exist (odd right/bottom edges have partial
/// blocks).
pub fn unpack(
    tensor: &[f32],
    tensor_w: usize,
    tensor_h: usize,
    spec: TensorSpec,
    crop_x: usize,
    crop_y: usize,
    frame: &mut FrameMut<'_>,
) -> Result<(), KernelError> {
    check_unpack(tensor.len(), tensor_w, tensor_h, crop_x, crop_y, frame)?;
    cpu::unpack::unpack(
        &cpu::TensorView { data: tensor, width: tensor_w, height: tensor_h, spec },
        crop_x,
        crop_y,
        frame,
    );
    Ok(())
}

/// How many values of a model's output `tensor` are not finite (NaN, +Inf or -Inf). Callers check
/// an output with it before [`unpack`], which would turn NaN into black and Inf into a saturated
/// colour. `cuda::Gpu::unpack` takes the same host tensor, so the same check covers it.
pub fn count_non_finite(tensor: &[f32]) -> usize {
    cpu::unpack::count_non_finite(tensor)
}

/// The checks of [`unpack`], shared with its CUDA twin.
pub(crate) fn check_unpack(
    tensor_len: usize,
    tensor_w: usize,
    tensor_h: usize,
    crop_x: usize,
    crop_y: usize,
    frame: &FrameMut<'_>,
) -> Result<(), KernelError> {
    frame.validate()?;
    if tensor_w == 0 {
        return Err(KernelError::ZeroSize { what: "tensor width" });
    }
    if tensor_h == 0 {
        return Err(KernelError::ZeroSize { what: "tensor height" });
    }
    check_tensor_len("unpack input", tensor_len, tensor_w, tensor_h)?;
    let fits = |crop: usize, size: usize, limit: usize| crop.checked_add(size).is_some_and(|end| end <= limit);
    if !fits(crop_x, frame.width, tensor_w) || !fits(crop_y, frame.height, tensor_h) {
        return Err(KernelError::InvalidArgument(format!(
            "a {}x{} frame at crop ({crop_x}, {crop_y}) does not fit in a {tensor_w}x{tensor_h} tensor",
            frame.width, frame.height
        )));
    }
    Ok(())
}

/// Copies the alpha channel of `src` into the alpha bytes of `dst`,
/// bilinearly resized (half-pixel centres, no antialiasing) when the sizes
/// differ. Both frames must be RGBA or BGRA. Exists because models only see
/// RGB, so alpha has to be carried around them.
pub fn copy_alpha(src: &Frame<'_>, dst: &mut FrameMut<'_>) -> Result<(), KernelError> {
    src.validate()?;
    dst.validate()?;
    for format in [src.format, dst.format] {
        if !format.has_alpha() {
            return Err(KernelError::UnsupportedFormat {
                op: "copy_alpha",
                format,
                reason: "both frames need an alpha channel (RGBA or BGRA)",
            });
        }
    }
    cpu::alpha::copy_alpha(src, dst);
    Ok(())
}
