//! Tiling of frames too large for a model: `plan_tiles` decides the
//! overlapping tiles in input coordinates, and `TileMerger` blends the model
//! outputs of those tiles into one image with feathered weights so that tile
//! seams vanish. Geometry lives here; the per-pixel accumulation is the
//! backend's.

use std::fmt;

use crate::convert::check_tensor_len;
use crate::cpu;
use crate::error::KernelError;
use crate::tensor::TensorSpec;

/// One tile in input-frame pixel coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

/// Splits a `width` x `height` frame into tiles of `tile` x `tile`, row-major.
///
/// Tiles advance by `tile - overlap`; the last tile of each axis is shifted
/// back to end exactly at the frame edge, so all tiles are full size when the
/// frame is at least `tile` in that axis (otherwise that axis has one tile of
/// the frame's size). `tile` is first rounded down to a multiple of
/// `multiple` (error if that is 0); a frame-sized tile need not be a multiple
/// (the caller pads it). `tile == 0` means one tile covering the whole frame,
/// and then `overlap` is ignored; otherwise `overlap` must be smaller than the
/// rounded tile.
pub fn plan_tiles(
    width: usize,
    height: usize,
    tile: usize,
    overlap: usize,
    multiple: usize,
) -> Result<Vec<Tile>, KernelError> {
    if width == 0 {
        return Err(KernelError::ZeroSize { what: "frame width" });
    }
    if height == 0 {
        return Err(KernelError::ZeroSize { what: "frame height" });
    }
    if multiple == 0 {
        return Err(KernelError::ZeroSize { what: "tile size multiple" });
    }
    let xs = plan_axis(width, tile, overlap, multiple)?;
    let ys = plan_axis(height, tile, overlap, multiple)?;
    Ok(ys.iter().flat_map(|&(y, h)| xs.iter().map(move |&(x, w)| Tile { x, y, width: w, height: h })).collect())
}

/// `(start, size)` of each tile along one axis of length `len`.
fn plan_axis(len: usize, tile: usize, overlap: usize, multiple: usize) -> Result<Vec<(usize, usize)>, KernelError> {
    if tile == 0 {
        return Ok(vec![(0, len)]);
    }
    let size = tile / multiple * multiple;
    if size == 0 {
        return Err(KernelError::InvalidArgument(format!(
            "tile size {tile} rounded down to a multiple of {multiple} is 0"
        )));
    }
    if overlap >= size {
        return Err(KernelError::InvalidArgument(format!(
            "tile overlap {overlap} must be smaller than the tile size {size}"
        )));
    }
    if len <= size {
        return Ok(vec![(0, len)]);
    }
    let step = size - overlap;
    let mut starts = Vec::with_capacity((len - overlap).div_ceil(step));
    let mut start = 0;
    // `start + size < len` keeps every pushed tile inside the frame; the
    // final, edge-aligned tile starts after the last pushed one and overlaps
    // it by at least `overlap`.
    while start + size < len {
        starts.push((start, size));
        start += step;
    }
    starts.push((len - size, size));
    Ok(starts)
}

/// Weight of an output pixel on a tile side that borders another tile, at
/// the very edge of that tile. Non-zero so a pixel that only one tile's ramp
/// reaches still gets a defined value.
const FEATHER_FLOOR: f32 = 1e-3;

/// Where a tile's output lands (output pixels) and its per-axis feather weights.
pub(crate) struct Placement {
    pub x: usize,
    pub y: usize,
    pub wx: Vec<f32>,
    pub wy: Vec<f32>,
}

/// Blends model outputs of tiles into one CHW, canonical (RGB, 0..1) image.
///
/// Storage is allocated on the first [`add`](Self::add) (so construction
/// cannot fail) and kept across [`reset`](Self::reset).
pub struct TileMerger {
    out_w: usize,
    out_h: usize,
    scale: usize,
    overlap: usize,
    /// 3 planes of weighted sums; normalised in place by `finish`.
    sum: Vec<f32>,
    weight: Vec<f32>,
    finished: bool,
}

impl fmt::Debug for TileMerger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TileMerger")
            .field("out_w", &self.out_w)
            .field("out_h", &self.out_h)
            .field("scale", &self.scale)
            .field("overlap", &self.overlap)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl TileMerger {
    /// An `out_w` x `out_h` output image; `scale` is output pixels per input
    /// pixel and `overlap` the input-space overlap used by [`plan_tiles`]
    /// (feather ramps are `overlap * scale` output pixels long). Sizes are
    /// checked by the first `add`/`finish`.
    pub fn new(out_w: usize, out_h: usize, scale: usize, overlap: usize) -> Self {
        Self { out_w, out_h, scale, overlap, sum: Vec::new(), weight: Vec::new(), finished: false }
    }

    /// The output's size in pixels, checked.
    pub(crate) fn check_size(&self) -> Result<usize, KernelError> {
        if self.out_w == 0 || self.out_h == 0 {
            return Err(KernelError::ZeroSize { what: "TileMerger output size" });
        }
        if self.scale == 0 {
            return Err(KernelError::ZeroSize { what: "TileMerger scale" });
        }
        let too_large = KernelError::TooLarge { what: "TileMerger output" };
        let pixels = self.out_w.checked_mul(self.out_h).ok_or(too_large.clone())?;
        pixels.checked_mul(3).ok_or(too_large)?;
        Ok(pixels)
    }

    fn ensure_storage(&mut self) -> Result<(), KernelError> {
        let pixels = self.check_size()?;
        let too_large = KernelError::TooLarge { what: "TileMerger output" };
        if self.weight.len() != pixels {
            self.sum = zeroed(3 * pixels).ok_or(too_large.clone())?;
            self.weight = zeroed(pixels).ok_or(too_large)?;
        }
        Ok(())
    }

    pub(crate) fn out_width(&self) -> usize {
        self.out_w
    }

    /// Where `tile`'s output lands in the output image and its feather weights, after checking
    /// the tile and its tensor (the checks of `add`).
    pub(crate) fn place(
        &self,
        tile: Tile,
        tensor_len: usize,
        tensor_w: usize,
        tensor_h: usize,
    ) -> Result<Placement, KernelError> {
        if tile.width == 0 || tile.height == 0 {
            return Err(KernelError::ZeroSize { what: "tile size" });
        }
        let scaled = |v: usize| v.checked_mul(self.scale).ok_or(KernelError::TooLarge { what: "scaled tile" });
        let (x, y) = (scaled(tile.x)?, scaled(tile.y)?);
        let (width, height) = (scaled(tile.width)?, scaled(tile.height)?);
        if x.saturating_add(width) > self.out_w || y.saturating_add(height) > self.out_h {
            return Err(KernelError::InvalidArgument(format!(
                "tile {}x{} at ({}, {}) scaled by {} does not fit the {}x{} output",
                tile.width, tile.height, tile.x, tile.y, self.scale, self.out_w, self.out_h
            )));
        }
        if width > tensor_w || height > tensor_h {
            return Err(KernelError::InvalidArgument(format!(
                "tile tensor {tensor_w}x{tensor_h} is smaller than the scaled tile {width}x{height}"
            )));
        }
        check_tensor_len("tile tensor", tensor_len, tensor_w, tensor_h)?;
        let ramp = self.overlap.saturating_mul(self.scale);
        let wx = feather(width, ramp, x > 0, x + width < self.out_w);
        let wy = feather(height, ramp, y > 0, y + height < self.out_h);
        Ok(Placement { x, y, wx, wy })
    }

    /// Adds the model output for `tile` (input coordinates): `tensor` is 3 x
    /// `tensor_h` x `tensor_w` in `spec`, of which only the top-left
    /// `tile.width * scale` x `tile.height * scale` is used (the rest is
    /// padding). Each output pixel's weight is the product over x and y of a
    /// ramp rising linearly from a small floor to 1 across `overlap * scale`
    /// pixels on each tile side that is not at the image edge, 1 elsewhere.
    pub fn add(
        &mut self,
        tile: Tile,
        tensor: &[f32],
        tensor_w: usize,
        tensor_h: usize,
        spec: TensorSpec,
    ) -> Result<(), KernelError> {
        if self.finished {
            return Err(KernelError::InvalidArgument("TileMerger::add after finish; call reset first".into()));
        }
        self.ensure_storage()?;
        let Placement { x, y, wx, wy } = self.place(tile, tensor.len(), tensor_w, tensor_h)?;
        cpu::tile::accumulate(
            cpu::tile::Canvas { sum: &mut self.sum, weight: &mut self.weight, width: self.out_w },
            cpu::tile::Region { x, y, wx: &wx, wy: &wy },
            &cpu::TensorView { data: tensor, width: tensor_w, height: tensor_h, spec },
        );
        Ok(())
    }

    /// Normalises the weighted sums and returns the 3 x `out_h` x `out_w`
    /// canonical image. Fails, leaving the merger usable for more `add`s, if
    /// some output pixel was never covered. Calling it again returns the same
    /// image until [`reset`](Self::reset).
    pub fn finish(&mut self) -> Result<&[f32], KernelError> {
        if !self.finished {
            self.ensure_storage()?;
            if let Some(i) = self.weight.iter().position(|&w| w <= 0.0) {
                return Err(KernelError::Uncovered { x: i % self.out_w, y: i / self.out_w });
            }
            cpu::tile::normalise(&mut self.sum, &self.weight, self.out_w);
            self.finished = true;
        }
        Ok(&self.sum)
    }

    /// Clears the image for the next frame, keeping the allocation.
    pub fn reset(&mut self) {
        self.sum.fill(0.0);
        self.weight.fill(0.0);
        self.finished = false;
    }
}

/// A zero-filled vector, or `None` if it cannot be allocated (so an absurd
/// output size is an error rather than an abort).
fn zeroed(len: usize) -> Option<Vec<f32>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).ok()?;
    v.resize(len, 0.0);
    Some(v)
}

/// Per-pixel weights along one axis of a tile of `len` output pixels.
fn feather(len: usize, ramp: usize, rise_at_start: bool, rise_at_end: bool) -> Vec<f32> {
    let ramp = ramp.min(len);
    // Sampling the ramp at pixel centres makes two tiles overlapping by
    // exactly `ramp` pixels cross-fade with weights summing to ~1.
    let rise = |d: usize| {
        if d < ramp { FEATHER_FLOOR + (1.0 - FEATHER_FLOOR) * ((d as f32 + 0.5) / ramp as f32) } else { 1.0 }
    };
    (0..len)
        .map(|i| {
            let mut w = 1.0f32;
            if rise_at_start {
                w = w.min(rise(i));
            }
            if rise_at_end {
                w = w.min(rise(len - 1 - i));
            }
            w
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feather_crossfades_to_one_over_exact_overlap() {
        let left = feather(8, 4, false, true);
        let right = feather(8, 4, true, false);
        // The last 4 pixels of `left` overlap the first 4 of `right`.
        for k in 0..4 {
            let total = left[4 + k] + right[k];
            assert!((total - (1.0 + FEATHER_FLOOR)).abs() < 1e-6, "{total}");
        }
        assert!(left[..4].iter().all(|&w| w == 1.0));
        assert!(right[4..].iter().all(|&w| w == 1.0));
        assert!(right.windows(2).all(|p| p[0] <= p[1]));
    }

    #[test]
    fn feather_without_neighbours_is_flat() {
        assert!(feather(5, 3, false, false).iter().all(|&w| w == 1.0));
    }
}
