//! Public entry point for resampling planar f32 images (`resize`) and its
//! filter choice. Validates sizes and dispatches to the backend.

use crate::cpu;
use crate::error::KernelError;

/// Resampling kernel of [`resize`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// 2x2 taps. Downscaling is plain bilinear without antialiasing (like
    /// PyTorch `interpolate(mode="bilinear", antialias=False)`), so strong
    /// downscales alias; use it for model-input sizing, not for thumbnails.
    Bilinear,
    /// 4x4 Keys cubic with a = -0.75 (PyTorch / OpenCV), taps past the edge
    /// clamped to the edge pixel. Can overshoot the input range.
    Bicubic,
}

/// Resizes `channels` planes stored CHW (`src.len() == channels * sw * sh`)
/// to `dw` x `dh` (`dst.len() == channels * dw * dh`), with half-pixel centres
/// (`align_corners = false`).
#[allow(clippy::too_many_arguments)] // mirrors the CUDA twin's flat signature
pub fn resize(
    src: &[f32],
    channels: usize,
    sw: usize,
    sh: usize,
    dst: &mut [f32],
    dw: usize,
    dh: usize,
    filter: Filter,
) -> Result<(), KernelError> {
    check(src.len(), channels, sw, sh, dst.len(), dw, dh)?;
    cpu::resize::resize(
        src,
        cpu::resize::Shape { channels, width: sw, height: sh },
        dst,
        cpu::resize::Shape { channels, width: dw, height: dh },
        filter,
    );
    Ok(())
}

/// The size checks of [`resize`], shared with its CUDA twin.
pub(crate) fn check(
    src_len: usize,
    channels: usize,
    sw: usize,
    sh: usize,
    dst_len: usize,
    dw: usize,
    dh: usize,
) -> Result<(), KernelError> {
    for (value, what) in [
        (channels, "resize channel count"),
        (sw, "resize source width"),
        (sh, "resize source height"),
        (dw, "resize destination width"),
        (dh, "resize destination height"),
    ] {
        if value == 0 {
            return Err(KernelError::ZeroSize { what });
        }
    }
    let plane_len = |w: usize, h: usize| {
        w.checked_mul(h).and_then(|n| n.checked_mul(channels)).ok_or(KernelError::TooLarge { what: "resize image" })
    };
    for (len, w, h, what) in [(src_len, sw, sh, "resize source"), (dst_len, dw, dh, "resize destination")] {
        let need = plane_len(w, h)?;
        if len != need {
            return Err(KernelError::BufferLength { what: format!("{what} ({channels}x{h}x{w})"), len, need });
        }
    }
    Ok(())
}
