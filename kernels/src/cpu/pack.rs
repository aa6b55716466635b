//! Frame region -> f32 tensor. Each output row is decoded into three f32
//! rows of R, G, B byte values by a decoder chosen once per call for the
//! pixel format, then mapped to the tensor's range and layout. Columns and
//! rows outside the frame go through precomputed reflect index maps, so the
//! per-pixel loops never branch on geometry.

use std::ops::Range;

use super::par;
use super::yuv::{TenBit, YuvToRgb};
use crate::frame::{Frame, PixelFormat};
use crate::tensor::{ChannelOrder, Layout, Rect, TensorSpec};

/// numpy `reflect` of index `i` into `0..n` (edge not repeated), repeating
/// for indices further out than `n`; a single-pixel axis is clamped. `i128`
/// because rect coordinates plus offsets may exceed `isize`.
pub(crate) fn reflect(i: i128, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let n = n as i128;
    let period = 2 * (n - 1);
    let m = i.rem_euclid(period);
    (if m < n { m } else { period - m }) as usize
}

/// Source column of every output column, plus the run of output columns
/// that read frame columns one-to-one (copied without the map).
struct Columns {
    map: Vec<usize>,
    interior: Range<usize>,
    first_src: usize,
}

impl Columns {
    fn new(x: isize, len: usize, frame_width: usize) -> Self {
        let x = x as i128;
        let map = (0..len).map(|i| reflect(x + i as i128, frame_width)).collect();
        let start = (-x).clamp(0, len as i128);
        let end = (frame_width as i128 - x).clamp(start, len as i128);
        let first_src = if start < end { (x + start) as usize } else { 0 };
        Self { map, interior: start as usize..end as usize, first_src }
    }

    /// Output columns outside the frame.
    fn pads(&self) -> impl Iterator<Item = usize> + use<> {
        (0..self.interior.start).chain(self.interior.end..self.map.len())
    }
}

struct Source<'f> {
    frame: Frame<'f>,
    cols: Columns,
    rows: Vec<usize>,
    yuv: YuvToRgb,
    ten: TenBit,
}

/// Decodes source row `sy` into R, G, B byte values (channel-order agnostic:
/// the caller decides which output rows receive them).
type DecodeRow = fn(&Source<'_>, usize, [&mut [f32]; 3]);

fn decoder(format: PixelFormat) -> DecodeRow {
    match format {
        PixelFormat::Rgb => decode_packed::<3, 0, 1, 2>,
        PixelFormat::Bgr => decode_packed::<3, 2, 1, 0>,
        PixelFormat::Rgba | PixelFormat::Rgbx => decode_packed::<4, 0, 1, 2>,
        PixelFormat::Bgra | PixelFormat::Bgrx => decode_packed::<4, 2, 1, 0>,
        PixelFormat::Gray8 => decode_gray,
        PixelFormat::I420 => decode_i420,
        PixelFormat::Nv12 => decode_nv12,
        PixelFormat::I420_10Le => decode_i420_10,
        PixelFormat::P010_10Le => decode_p010,
    }
}

pub(crate) fn pack(frame: &Frame<'_>, rect: Rect, spec: TensorSpec, out: &mut [f32]) {
    let (w, h) = (rect.width, rect.height);
    let src = Source {
        frame: *frame,
        cols: Columns::new(rect.x, w, frame.width),
        rows: (0..h).map(|i| reflect(rect.y as i128 + i as i128, frame.height)).collect(),
        yuv: YuvToRgb::new(frame.colorimetry),
        ten: TenBit::new(frame.colorimetry),
    };
    let decode = decoder(frame.format);
    let (scale, offset) = spec.range.byte_to_range();
    let bands = par::bands(h, w);
    match spec.layout {
        Layout::Nchw => {
            let (c0, rest) = out.split_at_mut(w * h);
            let (c1, c2) = rest.split_at_mut(w * h);
            let (r, g, b) = match spec.order {
                ChannelOrder::Rgb => (c0, c1, c2),
                ChannelOrder::Bgr => (c2, c1, c0),
            };
            let jobs: Vec<_> = bands
                .iter()
                .cloned()
                .zip(par::split_rows(r, w, &bands))
                .zip(par::split_rows(g, w, &bands))
                .zip(par::split_rows(b, w, &bands))
                .collect();
            par::run(jobs, |(((band, r), g), b)| {
                let rows = r.chunks_exact_mut(w).zip(g.chunks_exact_mut(w));
                for ((y, (r, g)), b) in band.zip(rows).zip(b.chunks_exact_mut(w)) {
                    decode(&src, src.rows[y], [&mut *r, &mut *g, &mut *b]);
                    // One loop per row: a chained iterator would not vectorise.
                    for row in [r, g, b] {
                        for v in row.iter_mut() {
                            *v = *v * scale + offset;
                        }
                    }
                }
            });
        }
        Layout::Nhwc => {
            let jobs: Vec<_> = bands.iter().cloned().zip(par::split_rows(out, 3 * w, &bands)).collect();
            par::run(jobs, |(band, out)| {
                let mut scratch = vec![0.0f32; 3 * w];
                let [r, g, b] = super::split3(&mut scratch, w);
                for (y, row) in band.zip(out.chunks_exact_mut(3 * w)) {
                    decode(&src, src.rows[y], [&mut *r, &mut *g, &mut *b]);
                    let (first, last) = match spec.order {
                        ChannelOrder::Rgb => (&*r, &*b),
                        ChannelOrder::Bgr => (&*b, &*r),
                    };
                    for (((px, &c0), &c1), &c2) in row.chunks_exact_mut(3).zip(first).zip(&*g).zip(last) {
                        px[0] = c0 * scale + offset;
                        px[1] = c1 * scale + offset;
                        px[2] = c2 * scale + offset;
                    }
                }
            });
        }
    }
}

fn decode_packed<const BPP: usize, const R: usize, const G: usize, const B: usize>(
    src: &Source<'_>,
    sy: usize,
    [r, g, b]: [&mut [f32]; 3],
) {
    let row = src.frame.row(0, sy);
    let cols = &src.cols;
    for i in cols.pads() {
        let px = &row[cols.map[i] * BPP..][..BPP];
        r[i] = f32::from(px[R]);
        g[i] = f32::from(px[G]);
        b[i] = f32::from(px[B]);
    }
    let Range { start, end } = cols.interior;
    let pixels = row[cols.first_src * BPP..][..(end - start) * BPP].chunks_exact(BPP);
    let dst = r[start..end].iter_mut().zip(&mut g[start..end]).zip(&mut b[start..end]);
    for (px, ((r, g), b)) in pixels.zip(dst) {
        *r = f32::from(px[R]);
        *g = f32::from(px[G]);
        *b = f32::from(px[B]);
    }
}

fn decode_gray(src: &Source<'_>, sy: usize, [r, g, b]: [&mut [f32]; 3]) {
    let row = src.frame.row(0, sy);
    let cols = &src.cols;
    for i in cols.pads() {
        r[i] = f32::from(row[cols.map[i]]);
    }
    let Range { start, end } = cols.interior;
    for (d, &s) in r[start..end].iter_mut().zip(&row[cols.first_src..][..end - start]) {
        *d = f32::from(s);
    }
    g.copy_from_slice(r);
    b.copy_from_slice(r);
}

fn decode_i420(src: &Source<'_>, sy: usize, [y, u, v]: [&mut [f32]; 3]) {
    let f = &src.frame;
    let (luma, cb, cr) = (f.row(0, sy), f.row(1, sy / 2), f.row(2, sy / 2));
    let dst = y.iter_mut().zip(u.iter_mut()).zip(v.iter_mut());
    for (&sx, ((y, u), v)) in src.cols.map.iter().zip(dst) {
        *y = f32::from(luma[sx]);
        *u = f32::from(cb[sx / 2]);
        *v = f32::from(cr[sx / 2]);
    }
    src.yuv.convert([y, u, v]);
}

fn decode_nv12(src: &Source<'_>, sy: usize, [y, u, v]: [&mut [f32]; 3]) {
    let f = &src.frame;
    let (luma, chroma) = (f.row(0, sy), f.row(1, sy / 2));
    let dst = y.iter_mut().zip(u.iter_mut()).zip(v.iter_mut());
    for (&sx, ((y, u), v)) in src.cols.map.iter().zip(dst) {
        *y = f32::from(luma[sx]);
        // Sample sx/2 is the pair at bytes 2*(sx/2) and 2*(sx/2)+1.
        *u = f32::from(chroma[sx & !1]);
        *v = f32::from(chroma[sx | 1]);
    }
    src.yuv.convert([y, u, v]);
}

/// Sample `i` of a row of little-endian 16-bit words.
#[inline(always)]
fn word(row: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([row[2 * i], row[2 * i + 1]])
}

fn decode_i420_10(src: &Source<'_>, sy: usize, [y, u, v]: [&mut [f32]; 3]) {
    let (f, ten) = (&src.frame, src.ten);
    let (luma, cb, cr) = (f.row(0, sy), f.row(1, sy / 2), f.row(2, sy / 2));
    let dst = y.iter_mut().zip(u.iter_mut()).zip(v.iter_mut());
    // The value is in the low 10 bits; stray high bits are ignored, not trusted.
    for (&sx, ((y, u), v)) in src.cols.map.iter().zip(dst) {
        *y = ten.luma(word(luma, sx) & 0x3ff);
        *u = ten.chroma(word(cb, sx / 2) & 0x3ff);
        *v = ten.chroma(word(cr, sx / 2) & 0x3ff);
    }
    src.yuv.convert([y, u, v]);
}

fn decode_p010(src: &Source<'_>, sy: usize, [y, u, v]: [&mut [f32]; 3]) {
    let (f, ten) = (&src.frame, src.ten);
    let (luma, chroma) = (f.row(0, sy), f.row(1, sy / 2));
    let dst = y.iter_mut().zip(u.iter_mut()).zip(v.iter_mut());
    // The value is in the high 10 bits of each word; U and V alternate.
    for (&sx, ((y, u), v)) in src.cols.map.iter().zip(dst) {
        *y = ten.luma(word(luma, sx) >> 6);
        *u = ten.chroma(word(chroma, sx & !1) >> 6);
        *v = ten.chroma(word(chroma, sx | 1) >> 6);
    }
    src.yuv.convert([y, u, v]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_matches_numpy() {
        // np.pad([0, 1, 2], 5, 'reflect') == [1,0,1,2,1,0,1,2,1,0,1,2,1]
        let got: Vec<usize> = (-5..8).map(|i| reflect(i, 3)).collect();
        assert_eq!(got, [1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1]);
        assert_eq!(reflect(-7, 1), 0);
        assert_eq!(reflect(4, 2), 0);
    }

    #[test]
    fn columns_split_interior_and_pads() {
        let c = Columns::new(-2, 10, 6);
        assert_eq!(c.interior, 2..8);
        assert_eq!(c.first_src, 0);
        assert_eq!(c.pads().collect::<Vec<_>>(), [0, 1, 8, 9]);
        let outside = Columns::new(20, 3, 6);
        assert!(outside.interior.is_empty());
    }
}
