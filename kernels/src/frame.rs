//! Pixel formats, colorimetry and the borrowed views of a video frame in
//! system memory (`Frame`, `FrameMut`). This module also owns the layout
//! validation every kernel runs first, so the implementations can index rows
//! knowing they are in bounds.

use std::fmt;

use crate::error::KernelError;

/// The video formats the kernels understand (GStreamer names in `Display`):
/// the 8-bit ones in [`PixelFormat::ALL`] and the 10-bit 4:2:0 ones of
/// broadcast chains in [`PixelFormat::TEN_BIT`]. Packed formats store bytes in
/// the order of their name; the 4th byte of `Rgba`/`Bgra`/`Rgbx`/`Bgrx` is
/// alpha or padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    Rgb,
    Bgr,
    Rgba,
    Bgra,
    Rgbx,
    Bgrx,
    /// Planar 4:2:0: Y, U, V planes.
    I420,
    /// Semi-planar 4:2:0: Y plane, interleaved UV plane.
    Nv12,
    Gray8,
    /// Planar 4:2:0 with 10 bits per sample: Y, U, V planes of little-endian
    /// 16-bit words holding the value in their low 10 bits.
    I420_10Le,
    /// Semi-planar 4:2:0 with 10 bits per sample: Y plane, interleaved UV
    /// plane, little-endian 16-bit words holding the value in their high 10
    /// bits.
    P010_10Le,
}

impl PixelFormat {
    /// The 8-bit formats (those the CUDA twins handle too).
    pub const ALL: [PixelFormat; 9] =
        [Self::Rgb, Self::Bgr, Self::Rgba, Self::Bgra, Self::Rgbx, Self::Bgrx, Self::I420, Self::Nv12, Self::Gray8];

    /// The 10-bit formats (CPU kernels only: the CUDA twins refuse them).
    pub const TEN_BIT: [PixelFormat; 2] = [Self::I420_10Le, Self::P010_10Le];

    pub fn n_planes(self) -> usize {
        match self {
            Self::I420 | Self::I420_10Le => 3,
            Self::Nv12 | Self::P010_10Le => 2,
            _ => 1,
        }
    }

    /// Whether samples are 10-bit values in 16-bit words (else bytes).
    pub fn is_ten_bit(self) -> bool {
        matches!(self, Self::I420_10Le | Self::P010_10Le)
    }

    pub fn has_alpha(self) -> bool {
        matches!(self, Self::Rgba | Self::Bgra)
    }

    /// Whether the format is 4:2:0 YUV (8 or 10 bits).
    pub fn is_yuv(self) -> bool {
        matches!(self, Self::I420 | Self::Nv12 | Self::I420_10Le | Self::P010_10Le)
    }

    /// `(minimum row bytes, rows)` of plane `plane` of a `width` x `height`
    /// frame; `(0, 0)` for a plane the format does not have. 4:2:0 chroma is
    /// `ceil(w/2)` x `ceil(h/2)` samples (the NV12 UV plane is `2*ceil(w/2)`
    /// bytes wide; 10-bit samples take two bytes each). Saturates instead of overflowing, so absurd sizes fail
    /// validation rather than wrap.
    pub fn plane_dims(self, plane: usize, width: usize, height: usize) -> (usize, usize) {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        match (self, plane) {
            (Self::Rgb | Self::Bgr, 0) => (width.saturating_mul(3), height),
            (Self::Rgba | Self::Bgra | Self::Rgbx | Self::Bgrx, 0) => (width.saturating_mul(4), height),
            (Self::Gray8 | Self::I420 | Self::Nv12, 0) => (width, height),
            (Self::I420, 1 | 2) => (cw, ch),
            (Self::Nv12, 1) => (cw.saturating_mul(2), ch),
            (Self::I420_10Le | Self::P010_10Le, 0) => (width.saturating_mul(2), height),
            (Self::I420_10Le, 1 | 2) => (cw.saturating_mul(2), ch),
            (Self::P010_10Le, 1) => (cw.saturating_mul(4), ch),
            _ => (0, 0),
        }
    }
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rgb => "RGB",
            Self::Bgr => "BGR",
            Self::Rgba => "RGBA",
            Self::Bgra => "BGRA",
            Self::Rgbx => "RGBx",
            Self::Bgrx => "BGRx",
            Self::I420 => "I420",
            Self::Nv12 => "NV12",
            Self::Gray8 => "GRAY8",
            Self::I420_10Le => "I420_10LE",
            Self::P010_10Le => "P010_10LE",
        })
    }
}

/// The RGB <-> YUV matrix of a YUV frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum YuvMatrix {
    Bt601,
    Bt709,
    Bt2020,
}

impl YuvMatrix {
    /// The luma weights `(Kr, Kb)`; `Kg = 1 - Kr - Kb`.
    pub(crate) fn kr_kb(self) -> (f64, f64) {
        match self {
            Self::Bt601 => (0.299, 0.114),
            Self::Bt709 => (0.2126, 0.0722),
            Self::Bt2020 => (0.2627, 0.0593),
        }
    }
}

/// How YUV values map to RGB. Ignored by RGB and GRAY8 frames (gray is always
/// full range).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Colorimetry {
    pub matrix: YuvMatrix,
    /// `false`: Y in 16..235, U/V in 16..240; `true`: all 0..255.
    pub full_range: bool,
}

impl Default for Colorimetry {
    fn default() -> Self {
        Self { matrix: YuvMatrix::Bt601, full_range: false }
    }
}

/// Checks that the planes can hold a `width` x `height` frame of `format` at
/// the given strides. Shared by `Frame` and `FrameMut`, and re-run by every
/// kernel because the fields are public and may have been set directly.
fn check_layout(
    format: PixelFormat,
    width: usize,
    height: usize,
    lens: [usize; 3],
    strides: [usize; 3],
) -> Result<(), KernelError> {
    if width == 0 {
        return Err(KernelError::ZeroSize { what: "frame width" });
    }
    if height == 0 {
        return Err(KernelError::ZeroSize { what: "frame height" });
    }
    for plane in 0..format.n_planes() {
        let (row_bytes, rows) = format.plane_dims(plane, width, height);
        let stride = strides[plane];
        if stride < row_bytes {
            return Err(KernelError::StrideTooSmall { format, plane, width, stride, row_bytes });
        }
        let need = stride
            .checked_mul(rows - 1)
            .and_then(|n| n.checked_add(row_bytes))
            .ok_or(KernelError::TooLarge { what: "frame plane" })?;
        if lens[plane] < need {
            return Err(KernelError::PlaneTooShort { format, plane, width, height, stride, len: lens[plane], need });
        }
    }
    Ok(())
}

fn check_counts(format: PixelFormat, planes: usize, strides: usize) -> Result<(), KernelError> {
    let expected = format.n_planes();
    if planes != expected {
        return Err(KernelError::PlaneCount { format, what: "planes", expected, got: planes });
    }
    if strides != expected {
        return Err(KernelError::PlaneCount { format, what: "strides", expected, got: strides });
    }
    Ok(())
}

/// A read-only view of one video frame in system memory. Unused planes are
/// empty slices with stride 0. Prefer [`Frame::new`], which validates; a frame
/// built from the public fields is validated again by every kernel.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub format: PixelFormat,
    pub width: usize,
    pub height: usize,
    pub planes: [&'a [u8]; 3],
    /// Bytes from the start of one row to the next, per plane.
    pub strides: [usize; 3],
    pub colorimetry: Colorimetry,
}

impl<'a> Frame<'a> {
    /// `planes` and `strides` must have exactly `format.n_planes()` entries.
    /// Fails if a dimension is zero, a stride is shorter than a row, or a
    /// plane is shorter than `stride * (rows - 1) + row bytes`.
    pub fn new(
        format: PixelFormat,
        width: usize,
        height: usize,
        planes: &[&'a [u8]],
        strides: &[usize],
        colorimetry: Colorimetry,
    ) -> Result<Self, KernelError> {
        check_counts(format, planes.len(), strides.len())?;
        let mut frame = Self { format, width, height, planes: [&[]; 3], strides: [0; 3], colorimetry };
        frame.planes[..planes.len()].copy_from_slice(planes);
        frame.strides[..strides.len()].copy_from_slice(strides);
        frame.validate()?;
        Ok(frame)
    }

    pub(crate) fn validate(&self) -> Result<(), KernelError> {
        check_layout(self.format, self.width, self.height, self.planes.map(<[u8]>::len), self.strides)
    }

    /// Row `y` of plane `plane`, exactly its row bytes long. Only for
    /// validated frames and in-range `y`.
    pub(crate) fn row(&self, plane: usize, y: usize) -> &'a [u8] {
        let (row_bytes, _) = self.format.plane_dims(plane, self.width, self.height);
        &self.planes[plane][y * self.strides[plane]..][..row_bytes]
    }
}

/// A writable view of one video frame in system memory; fields as in
/// [`Frame`].
#[derive(Debug)]
pub struct FrameMut<'a> {
    pub format: PixelFormat,
    pub width: usize,
    pub height: usize,
    pub planes: [&'a mut [u8]; 3],
    pub strides: [usize; 3],
    pub colorimetry: Colorimetry,
}

impl<'a> FrameMut<'a> {
    /// `planes` is a `Vec` (not an array) so callers can pass exactly
    /// `format.n_planes()` mutable slices, which is what borrowing them out
    /// of a mapped buffer naturally yields; `strides` must match it in length.
    /// Validation as in [`Frame::new`].
    pub fn new(
        format: PixelFormat,
        width: usize,
        height: usize,
        planes: Vec<&'a mut [u8]>,
        strides: &[usize],
        colorimetry: Colorimetry,
    ) -> Result<Self, KernelError> {
        check_counts(format, planes.len(), strides.len())?;
        let mut slots: [&'a mut [u8]; 3] = Default::default();
        for (slot, plane) in slots.iter_mut().zip(planes) {
            *slot = plane;
        }
        let mut fixed_strides = [0; 3];
        fixed_strides[..strides.len()].copy_from_slice(strides);
        let frame = Self { format, width, height, planes: slots, strides: fixed_strides, colorimetry };
        frame.validate()?;
        Ok(frame)
    }

    /// A read-only view of the same memory.
    pub fn as_frame(&self) -> Frame<'_> {
        Frame {
            format: self.format,
            width: self.width,
            height: self.height,
            planes: [&*self.planes[0], &*self.planes[1], &*self.planes[2]],
            strides: self.strides,
            colorimetry: self.colorimetry,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), KernelError> {
        check_layout(self.format, self.width, self.height, std::array::from_fn(|i| self.planes[i].len()), self.strides)
    }

    /// A writable view of the `w` x `h` pixels at (`x`, `y`), sharing this frame's memory: what
    /// is written there lands in the frame, nothing outside it is touched. For 4:2:0 formats `x`
    /// and `y` must be even (a chroma sample belongs to one 2x2 block), and so must `w` and `h`
    /// unless the region reaches the frame's right or bottom edge.
    pub fn region(&mut self, x: usize, y: usize, w: usize, h: usize) -> Result<FrameMut<'_>, KernelError> {
        let fits =
            x.checked_add(w).is_some_and(|e| e <= self.width) && y.checked_add(h).is_some_and(|e| e <= self.height);
        if w == 0 || h == 0 || !fits {
            return Err(KernelError::InvalidArgument(format!(
                "region {w}x{h} at ({x}, {y}) is empty or not inside the {}x{} frame",
                self.width, self.height
            )));
        }
        if self.format.is_yuv() {
            let odd_end = |start: usize, len: usize, limit: usize| len % 2 == 1 && start + len != limit;
            if x % 2 == 1 || y % 2 == 1 || odd_end(x, w, self.width) || odd_end(y, h, self.height) {
                return Err(KernelError::InvalidArgument(format!(
                    "region {w}x{h} at ({x}, {y}) of a {} frame must lie on 2x2 chroma blocks",
                    self.format
                )));
            }
        }
        let offset = |plane: usize| -> usize {
            let stride = self.strides[plane];
            match (self.format, plane) {
                (PixelFormat::Rgb | PixelFormat::Bgr, _) => y * stride + 3 * x,
                (PixelFormat::Gray8, _) | (PixelFormat::I420 | PixelFormat::Nv12, 0) => y * stride + x,
                (PixelFormat::I420, _) => y / 2 * stride + x / 2,
                (PixelFormat::Nv12, _) => y / 2 * stride + x,
                (PixelFormat::I420_10Le | PixelFormat::P010_10Le, 0) => y * stride + 2 * x,
                (PixelFormat::I420_10Le, _) => y / 2 * stride + x,
                (PixelFormat::P010_10Le, _) => y / 2 * stride + 2 * x,
                _ => y * stride + 4 * x,
            }
        };
        let n = self.format.n_planes();
        let offsets: Vec<usize> = (0..n).map(offset).collect();
        let planes: Vec<&mut [u8]> = self.planes.iter_mut().take(n).zip(offsets).map(|(p, o)| &mut p[o..]).collect();
        FrameMut::new(self.format, w, h, planes, &self.strides[..n], self.colorimetry)
    }
}
