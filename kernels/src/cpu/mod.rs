//! The CPU backend. Callers at the crate root have validated every size, so
//! code here indexes freely: an out-of-bounds panic in this module is a bug
//! in that validation, never a consequence of caller input. Work is split
//! into row bands across threads by `par` when a call is large enough.

pub(crate) mod alpha;
pub(crate) mod flow;
pub(crate) mod interp;
pub(crate) mod pack;
pub(crate) mod par;
pub(crate) mod resize;
pub(crate) mod scene;
pub(crate) mod style;
pub(crate) mod tile;
pub(crate) mod unpack;
pub(crate) mod yuv;

use crate::tensor::{ChannelOrder, Layout, TensorSpec};

/// Rounds a 0..255 value to a byte, half up. The saturating `as` cast clamps
/// out-of-range values and maps NaN to 0, and (unlike `f32::round`) compiles
/// to vector instructions without needing SSE4.1.
#[inline(always)]
pub(crate) fn to_u8(v: f32) -> u8 {
    (v + 0.5) as u8
}

/// Clamps each value to 0..255; NaN becomes 0 because `max` ignores it.
#[allow(clippy::manual_clamp)] // `clamp` would let NaN through
pub(crate) fn clamp_byte(rows: [&mut [f32]; 3]) {
    for row in rows {
        for v in row {
            *v = v.max(0.0).min(255.0);
        }
    }
}

/// Splits a scratch buffer into three rows of `n`, one per channel.
pub(crate) fn split3(buf: &mut [f32], n: usize) -> [&mut [f32]; 3] {
    let (a, rest) = buf.split_at_mut(n);
    let (b, c) = rest.split_at_mut(n);
    [a, b, &mut c[..n]]
}

/// A validated 3 x `height` x `width` tensor in `spec`.
#[derive(Clone, Copy)]
pub(crate) struct TensorView<'a> {
    pub data: &'a [f32],
    pub width: usize,
    pub height: usize,
    pub spec: TensorSpec,
}

impl TensorView<'_> {
    /// Reads `dst[0].len()` pixels of row `y` from column `x0` into R, G, B
    /// rows (canonical order whatever `spec.order` is), mapping each value
    /// `v` to `v * scale + offset`.
    pub(crate) fn read_row(&self, y: usize, x0: usize, scale: f32, offset: f32, [r, g, b]: [&mut [f32]; 3]) {
        let n = r.len();
        match self.spec.layout {
            Layout::Nchw => {
                let plane = self.width * self.height;
                let row = |c: usize| &self.data[c * plane + y * self.width + x0..][..n];
                let (red, blue) = match self.spec.order {
                    ChannelOrder::Rgb => (0, 2),
                    ChannelOrder::Bgr => (2, 0),
                };
                affine(row(red), r, scale, offset);
                affine(row(1), g, scale, offset);
                affine(row(blue), b, scale, offset);
            }
            Layout::Nhwc => {
                let row = &self.data[(y * self.width + x0) * 3..][..n * 3];
                match self.spec.order {
                    ChannelOrder::Rgb => deinterleave::<0, 2>(row, [r, g, b], scale, offset),
                    ChannelOrder::Bgr => deinterleave::<2, 0>(row, [r, g, b], scale, offset),
                }
            }
        }
    }
}

fn affine(src: &[f32], dst: &mut [f32], scale: f32, offset: f32) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s * scale + offset;
    }
}

fn deinterleave<const R: usize, const B: usize>(row: &[f32], [r, g, b]: [&mut [f32]; 3], scale: f32, offset: f32) {
    for (((px, r), g), b) in row.chunks_exact(3).zip(r).zip(g).zip(b) {
        *r = px[R] * scale + offset;
        *g = px[1] * scale + offset;
        *b = px[B] * scale + offset;
    }
}
