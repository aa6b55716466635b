//! f32 tensor -> whole frame. Each frame row is read from the tensor into
//! three f32 rows of clamped R, G, B byte values, then encoded by a function
//! chosen once per call for the pixel format. 4:2:0 formats work on pairs of
//! rows so each chroma row is produced by the band that owns its luma rows.

use std::ops::Range;

use super::yuv::{RgbToYuv, TenBit};
use super::{TensorView, clamp_byte, par, split3, to_u8};
use crate::frame::{FrameMut, PixelFormat};

/// Encodes one row of clamped R, G, B into the bytes of a packed row, using
/// three byte rows of scratch.
type EncodeRow = fn(&mut [u8], [&[f32]; 3], [&mut [u8]; 3]);

pub(crate) fn unpack(t: &TensorView<'_>, crop_x: usize, crop_y: usize, frame: &mut FrameMut<'_>) {
    let encode: EncodeRow = match frame.format {
        PixelFormat::Rgb => encode_packed::<3, 0, 1, 2>,
        PixelFormat::Bgr => encode_packed::<3, 2, 1, 0>,
        PixelFormat::Rgba | PixelFormat::Rgbx => encode_packed::<4, 0, 1, 2>,
        PixelFormat::Bgra | PixelFormat::Bgrx => encode_packed::<4, 2, 1, 0>,
        PixelFormat::Gray8 => encode_gray,
        PixelFormat::I420 => return unpack_420(t, crop_x, crop_y, frame, false),
        PixelFormat::Nv12 => return unpack_420(t, crop_x, crop_y, frame, true),
        PixelFormat::I420_10Le => return unpack_420_10(t, crop_x, crop_y, frame, false),
        PixelFormat::P010_10Le => return unpack_420_10(t, crop_x, crop_y, frame, true),
    };
    let (w, h, stride) = (frame.width, frame.height, frame.strides[0]);
    let row_bytes = frame.format.plane_dims(0, w, h).0;
    let (scale, offset) = t.spec.range.range_to_byte();
    let bands = par::bands(h, w);
    let jobs: Vec<_> = bands.iter().cloned().zip(par::split_rows(&mut *frame.planes[0], stride, &bands)).collect();
    par::run(jobs, |(band, plane): (Range<usize>, &mut [u8])| {
        let mut scratch = vec![0.0f32; 3 * w];
        let [r, g, b] = split3(&mut scratch, w);
        let mut bytes = vec![0u8; 3 * w];
        let (r8, rest) = bytes.split_at_mut(w);
        let (g8, b8) = rest.split_at_mut(w);
        for (k, y) in band.enumerate() {
            let rgb = [&mut *r, &mut *g, &mut *b];
            t.read_row(crop_y + y, crop_x, scale, offset, rgb);
            clamp_byte([&mut *r, &mut *g, &mut *b]);
            let row = &mut plane[k * stride..][..row_bytes];
            encode(row, [&*r, &*g, &*b], [&mut *r8, &mut *g8, &mut *b8]);
        }
    });
}

fn encode_packed<const BPP: usize, const R: usize, const G: usize, const B: usize>(
    row: &mut [u8],
    channels: [&[f32]; 3],
    mut bytes: [&mut [u8]; 3],
) {
    // Rounding runs as its own loop per channel so it vectorises; the
    // interleave below is then plain byte moves.
    for (src, dst) in channels.iter().zip(bytes.iter_mut()) {
        write_bytes(src, dst);
    }
    let [r, g, b] = bytes;
    for (((px, &r), &g), &b) in row.chunks_exact_mut(BPP).zip(&*r).zip(&*g).zip(&*b) {
        px[R] = r;
        px[G] = g;
        px[B] = b;
        if BPP == 4 {
            // Opaque alpha / padding; copy_alpha may overwrite it later.
            px[BPP - 1] = 255;
        }
    }
}

fn encode_gray(row: &mut [u8], [r, g, b]: [&[f32]; 3], _: [&mut [u8]; 3]) {
    for (((p, &r), &g), &b) in row.iter_mut().zip(r).zip(g).zip(b) {
        *p = to_u8(0.299 * r + 0.587 * g + 0.114 * b);
    }
}

/// I420 (`nv12 == false`) or NV12. Bands are ranges of chroma rows; band
/// `c0..c1` writes luma rows `2*c0..min(2*c1, h)`.
fn unpack_420(t: &TensorView<'_>, crop_x: usize, crop_y: usize, frame: &mut FrameMut<'_>, nv12: bool) {
    let (w, h) = (frame.width, frame.height);
    let cw = w.div_ceil(2);
    let [s0, s1, s2] = frame.strides;
    let conv = RgbToYuv::new(frame.colorimetry);
    let (scale, offset) = t.spec.range.range_to_byte();
    let bands = par::bands(h.div_ceil(2), 2 * w);
    let luma_bands: Vec<_> = bands.iter().map(|b| 2 * b.start..(2 * b.end).min(h)).collect();
    let [p0, p1, p2] = &mut frame.planes;
    let luma = par::split_rows(p0, s0, &luma_bands);
    let first = par::split_rows(p1, s1, &bands);
    // NV12 has no third plane; give each band an empty stand-in.
    let second =
        if nv12 { bands.iter().map(|_| <&mut [u8]>::default()).collect() } else { par::split_rows(p2, s2, &bands) };
    let jobs: Vec<_> = bands.iter().cloned().zip(luma).zip(first).zip(second).collect();
    par::run(jobs, |(((band, luma), first), second)| {
        let mut scratch = vec![0.0f32; 5 * w + 2 * cw];
        let (rgb, rest) = scratch.split_at_mut(3 * w);
        let (u_acc, rest) = rest.split_at_mut(w);
        let (v_acc, rest) = rest.split_at_mut(w);
        let (u_avg, v_avg) = rest.split_at_mut(cw);
        let [r, g, b] = split3(rgb, w);
        for (k, cy) in band.enumerate() {
            let rows = if 2 * cy + 1 < h { 2 } else { 1 };
            for dy in 0..rows {
                let y = 2 * cy + dy;
                t.read_row(crop_y + y, crop_x, scale, offset, [&mut *r, &mut *g, &mut *b]);
                clamp_byte([&mut *r, &mut *g, &mut *b]);
                conv.luma([&*r, &*g, &*b], &mut luma[(2 * k + dy) * s0..][..w]);
                conv.chroma([&*r, &*g, &*b], u_acc, v_acc, dy == 0);
            }
            average_pairs(u_acc, rows, u_avg);
            average_pairs(v_acc, rows, v_avg);
            if nv12 {
                let row = &mut first[k * s1..][..2 * cw];
                for ((px, &u), &v) in row.chunks_exact_mut(2).zip(&*u_avg).zip(&*v_avg) {
                    px[0] = to_u8(u);
                    px[1] = to_u8(v);
                }
            } else {
                write_bytes(u_avg, &mut first[k * s1..][..cw]);
                write_bytes(v_avg, &mut second[k * s2..][..cw]);
            }
        }
    });
}

/// I420_10LE (`p010 == false`) or P010_10LE: as [`unpack_420`], with luma and chroma kept as
/// values on the 0..255 scale until they become 10-bit codes (never rounded to 8 bits).
fn unpack_420_10(t: &TensorView<'_>, crop_x: usize, crop_y: usize, frame: &mut FrameMut<'_>, p010: bool) {
    let (w, h) = (frame.width, frame.height);
    let cw = w.div_ceil(2);
    let [s0, s1, s2] = frame.strides;
    let conv = RgbToYuv::new(frame.colorimetry);
    let ten = TenBit::new(frame.colorimetry);
    // I420_10LE holds the value in the low bits of each word, P010 in the high bits.
    let shift = if p010 { 6 } else { 0 };
    let put = move |row: &mut [u8], i: usize, code: u16| {
        row[2 * i..2 * i + 2].copy_from_slice(&(code << shift).to_le_bytes());
    };
    let (scale, offset) = t.spec.range.range_to_byte();
    let bands = par::bands(h.div_ceil(2), 2 * w);
    let luma_bands: Vec<_> = bands.iter().map(|b| 2 * b.start..(2 * b.end).min(h)).collect();
    let [p0, p1, p2] = &mut frame.planes;
    let luma = par::split_rows(p0, s0, &luma_bands);
    let first = par::split_rows(p1, s1, &bands);
    let second =
        if p010 { bands.iter().map(|_| <&mut [u8]>::default()).collect() } else { par::split_rows(p2, s2, &bands) };
    let jobs: Vec<_> = bands.iter().cloned().zip(luma).zip(first).zip(second).collect();
    par::run(jobs, |(((band, luma), first), second)| {
        let mut scratch = vec![0.0f32; 6 * w + 2 * cw];
        let (rgb, rest) = scratch.split_at_mut(3 * w);
        let (u_acc, rest) = rest.split_at_mut(w);
        let (v_acc, rest) = rest.split_at_mut(w);
        let (y_val, rest) = rest.split_at_mut(w);
        let (u_avg, v_avg) = rest.split_at_mut(cw);
        let [r, g, b] = split3(rgb, w);
        for (k, cy) in band.enumerate() {
            let rows = if 2 * cy + 1 < h { 2 } else { 1 };
            for dy in 0..rows {
                let y = 2 * cy + dy;
                t.read_row(crop_y + y, crop_x, scale, offset, [&mut *r, &mut *g, &mut *b]);
                clamp_byte([&mut *r, &mut *g, &mut *b]);
                conv.luma_values([&*r, &*g, &*b], y_val);
                let row = &mut luma[(2 * k + dy) * s0..][..2 * w];
                for (i, &v) in y_val.iter().enumerate() {
                    put(row, i, ten.luma_code(v));
                }
                conv.chroma([&*r, &*g, &*b], u_acc, v_acc, dy == 0);
            }
            average_pairs(u_acc, rows, u_avg);
            average_pairs(v_acc, rows, v_avg);
            if p010 {
                let row = &mut first[k * s1..][..4 * cw];
                for (i, (&u, &v)) in u_avg.iter().zip(&*v_avg).enumerate() {
                    put(row, 2 * i, ten.chroma_code(u));
                    put(row, 2 * i + 1, ten.chroma_code(v));
                }
            } else {
                let (row_u, row_v) = (&mut first[k * s1..][..2 * cw], &mut second[k * s2..][..2 * cw]);
                for (i, (&u, &v)) in u_avg.iter().zip(&*v_avg).enumerate() {
                    put(row_u, i, ten.chroma_code(u));
                    put(row_v, i, ten.chroma_code(v));
                }
            }
        }
    });
}

/// Averages horizontal pairs of `acc` (each already summed over `rows` rows)
/// into offset chroma values; an odd last column averages alone.
fn average_pairs(acc: &[f32], rows: usize, out: &mut [f32]) {
    let inv_rows = 1.0 / rows as f32;
    let pairs = acc.chunks_exact(2);
    let last = pairs.remainder().first().copied();
    let full = acc.len() / 2;
    for (o, p) in out[..full].iter_mut().zip(pairs) {
        *o = 128.0 + (p[0] + p[1]) * (0.5 * inv_rows);
    }
    if let (Some(a), Some(o)) = (last, out.get_mut(full)) {
        *o = 128.0 + a * inv_rows;
    }
}

/// How many values of `data` are NaN or infinite: a model output that holds them would otherwise
/// be unpacked as black (NaN) or saturated (Inf) pixels without a word. Counted on the tensor
/// before it is unpacked, in chunks so the comparison vectorises; a few milliseconds per 4K frame.
pub(crate) fn count_non_finite(data: &[f32]) -> usize {
    data.chunks(4096).map(|c| c.iter().filter(|v| !v.is_finite()).count()).sum()
}

fn write_bytes(src: &[f32], dst: &mut [u8]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = to_u8(s);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn non_finite_values_are_counted_across_chunks() {
        let mut data = vec![0.5f32; 10_000];
        for (i, v) in [(0, f32::NAN), (4095, f32::INFINITY), (4096, f32::NEG_INFINITY), (9999, f32::NAN)] {
            data[i] = v;
        }
        data[5] = f32::MAX;
        assert_eq!(super::count_non_finite(&data), 4);
        assert_eq!(super::count_non_finite(&[]), 0);
    }
}
