//! 8-bit 4:2:0 frames (I420, NV12) as planar f32 and back, without colour conversion: what
//! [`interpolate_yuv420`](crate::interpolate_yuv420) works on. A value is the stored byte over
//! 255, so writing an unchanged plane back gives the same bytes, and a plane the interpolation
//! reproduced exactly (static content) stays bit-exact.

use crate::cpu::par;
use crate::error::KernelError;
use crate::frame::{Frame, FrameMut, PixelFormat};

/// Values of a `w` x `h` frame as planes: luma, then U and V at `ceil(w/2)` x `ceil(h/2)`.
pub fn yuv420_len(w: usize, h: usize) -> usize {
    w * h + 2 * w.div_ceil(2) * h.div_ceil(2)
}

fn check(format: PixelFormat, w: usize, h: usize, len: usize, what: &str) -> Result<(), KernelError> {
    if !matches!(format, PixelFormat::I420 | PixelFormat::Nv12) {
        return Err(KernelError::InvalidArgument(format!(
            "{what}: planar 4:2:0 values need an I420 or NV12 frame, not {format}"
        )));
    }
    let need = yuv420_len(w, h);
    if len != need {
        return Err(KernelError::BufferLength { what: format!("{what} (yuv420 {h}x{w})"), len, need });
    }
    Ok(())
}

/// The planes of an I420 or NV12 `frame` into `out` ([`yuv420_len`] values): byte / 255.
pub fn yuv420_planes(frame: &Frame<'_>, out: &mut [f32]) -> Result<(), KernelError> {
    frame.validate()?;
    let (w, h) = (frame.width, frame.height);
    check(frame.format, w, h, out.len(), "yuv420_planes output")?;
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (luma, chroma) = out.split_at_mut(w * h);
    let (u, v) = chroma.split_at_mut(cw * ch);
    const K: f32 = 1.0 / 255.0;
    let bands = par::bands(h, w);
    let jobs: Vec<_> = bands.iter().cloned().zip(par::split_rows(luma, w, &bands)).collect();
    par::run(jobs, |(band, rows)| {
        for (y, dst) in band.zip(rows.chunks_exact_mut(w)) {
            dst.iter_mut().zip(frame.row(0, y)).for_each(|(d, &b)| *d = b as f32 * K);
        }
    });
    let bands = par::bands(ch, 2 * cw);
    let jobs: Vec<_> =
        bands.iter().cloned().zip(par::split_rows(u, cw, &bands)).zip(par::split_rows(v, cw, &bands)).collect();
    par::run(jobs, |((band, us), vs)| {
        for ((y, ur), vr) in band.zip(us.chunks_exact_mut(cw)).zip(vs.chunks_exact_mut(cw)) {
            if frame.format == PixelFormat::I420 {
                ur.iter_mut().zip(frame.row(1, y)).for_each(|(d, &b)| *d = b as f32 * K);
                vr.iter_mut().zip(frame.row(2, y)).for_each(|(d, &b)| *d = b as f32 * K);
            } else {
                for ((du, dv), uv) in ur.iter_mut().zip(vr.iter_mut()).zip(frame.row(1, y).chunks_exact(2)) {
                    (*du, *dv) = (uv[0] as f32 * K, uv[1] as f32 * K);
                }
            }
        }
    });
    Ok(())
}

/// Writes planes made by [`yuv420_planes`] (or from them) into an I420 or NV12 `frame` of the
/// same size: `round(255 v)`, clamped to 0..255.
pub fn write_yuv420_planes(planes: &[f32], frame: &mut FrameMut<'_>) -> Result<(), KernelError> {
    frame.validate()?;
    let (w, h) = (frame.width, frame.height);
    check(frame.format, w, h, planes.len(), "write_yuv420_planes input")?;
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (luma, chroma) = planes.split_at(w * h);
    let (u, v) = chroma.split_at(cw * ch);
    let byte = |v: f32| (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
    let nv12 = frame.format == PixelFormat::Nv12;
    let strides = frame.strides;
    let [p0, p1, p2] = &mut frame.planes;
    let bands = par::bands(h, w);
    let jobs: Vec<_> = bands.iter().cloned().zip(par::split_rows(p0, strides[0], &bands)).collect();
    par::run(jobs, |(band, rows)| {
        for (y, row) in band.zip(rows.chunks_mut(strides[0])) {
            row[..w].iter_mut().zip(&luma[y * w..][..w]).for_each(|(d, &v)| *d = byte(v));
        }
    });
    let bands = par::bands(ch, 2 * cw);
    let first = par::split_rows(p1, strides[1], &bands);
    let second =
        if nv12 { bands.iter().map(|_| &mut [][..]).collect() } else { par::split_rows(p2, strides[2], &bands) };
    let jobs: Vec<_> = bands.iter().cloned().zip(first).zip(second).collect();
    par::run(jobs, |((band, first), second)| {
        for (i, y) in band.enumerate() {
            let (ur, vr) = (&u[y * cw..][..cw], &v[y * cw..][..cw]);
            if nv12 {
                let row = &mut first[i * strides[1]..][..2 * cw];
                for ((d, &a), &b) in row.chunks_exact_mut(2).zip(ur).zip(vr) {
                    (d[0], d[1]) = (byte(a), byte(b));
                }
            } else {
                first[i * strides[1]..][..cw].iter_mut().zip(ur).for_each(|(d, &v)| *d = byte(v));
                second[i * strides[2]..][..cw].iter_mut().zip(vr).for_each(|(d, &v)| *d = byte(v));
            }
        }
    });
    Ok(())
}

/// Luma 0..1 for [`optical_flow`](crate::optical_flow) and
/// [`scene_change`](crate::scene_change) from the first plane of [`yuv420_planes`]: the stored
/// value, stretched from 16..235 to 0..1 when `full_range` is false (values outside are kept).
pub fn yuv420_luma(planes: &[f32], w: usize, h: usize, full_range: bool, out: &mut [f32]) -> Result<(), KernelError> {
    let need = yuv420_len(w, h);
    if planes.len() != need {
        return Err(KernelError::BufferLength {
            what: format!("yuv420_luma input (yuv420 {h}x{w})"),
            len: planes.len(),
            need,
        });
    }
    if out.len() != w * h {
        return Err(KernelError::BufferLength {
            what: format!("yuv420_luma output ({h}x{w})"),
            len: out.len(),
            need: w * h,
        });
    }
    let (scale, offset) = if full_range { (1.0, 0.0) } else { (255.0 / 219.0, 16.0 / 219.0) };
    let bands = par::bands(h, w);
    let jobs: Vec<_> = bands.iter().cloned().zip(par::split_rows(out, w, &bands)).collect();
    par::run(jobs, |(band, rows)| {
        let src = &planes[band.start * w..band.end * w];
        rows.iter_mut().zip(src).for_each(|(o, &v)| *o = v * scale - offset);
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Colorimetry;

    fn frame_bytes(format: PixelFormat, w: usize, h: usize) -> (Vec<Vec<u8>>, Vec<usize>) {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut k = 7u32;
        let mut next = || {
            k = k.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (k >> 16) as u8
        };
        // Strides wider than the rows, to be skipped.
        let luma: Vec<u8> = (0..(w + 3) * h).map(|_| next()).collect();
        match format {
            PixelFormat::I420 => {
                let u: Vec<u8> = (0..(cw + 1) * ch).map(|_| next()).collect();
                let v: Vec<u8> = (0..(cw + 1) * ch).map(|_| next()).collect();
                (vec![luma, u, v], vec![w + 3, cw + 1, cw + 1])
            }
            _ => {
                let uv: Vec<u8> = (0..(2 * cw + 2) * ch).map(|_| next()).collect();
                (vec![luma, uv], vec![w + 3, 2 * cw + 2])
            }
        }
    }

    #[test]
    fn planes_round_trip_to_the_same_bytes() {
        for format in [PixelFormat::I420, PixelFormat::Nv12] {
            for (w, h) in [(1, 1), (5, 3), (16, 9), (33, 17)] {
                let (bytes, strides) = frame_bytes(format, w, h);
                let planes: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
                let frame = Frame::new(format, w, h, &planes, &strides, Colorimetry::default()).unwrap();
                let mut values = vec![0.0; yuv420_len(w, h)];
                yuv420_planes(&frame, &mut values).unwrap();
                assert!((values[0] - bytes[0][0] as f32 / 255.0).abs() < 1e-6);
                let mut out_bytes = bytes.clone();
                for b in out_bytes.iter_mut() {
                    b.fill(0);
                }
                let out_planes: Vec<&mut [u8]> = out_bytes.iter_mut().map(Vec::as_mut_slice).collect();
                let mut out = FrameMut::new(format, w, h, out_planes, &strides, Colorimetry::default()).unwrap();
                write_yuv420_planes(&values, &mut out).unwrap();
                let (back, orig) = (out.as_frame(), frame);
                for p in 0..format.n_planes() {
                    let rows = format.plane_dims(p, w, h).1;
                    for y in 0..rows {
                        assert_eq!(back.row(p, y), orig.row(p, y), "{format:?} {w}x{h} plane {p} row {y}");
                    }
                }
            }
        }
    }

    #[test]
    fn wrong_format_or_length_is_refused() {
        let rgb = [0u8; 12];
        let frame = Frame::new(PixelFormat::Rgb, 2, 2, &[&rgb], &[6], Colorimetry::default()).unwrap();
        let err = yuv420_planes(&frame, &mut [0.0; 6]).unwrap_err().to_string();
        assert!(err.contains("I420 or NV12"), "{err}");
        let (bytes, strides) = frame_bytes(PixelFormat::I420, 4, 4);
        let planes: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
        let frame = Frame::new(PixelFormat::I420, 4, 4, &planes, &strides, Colorimetry::default()).unwrap();
        assert!(yuv420_planes(&frame, &mut [0.0; 23]).is_err());
        assert!(yuv420_luma(&[0.0; 24], 4, 4, false, &mut [0.0; 15]).is_err());
    }

    #[test]
    fn limited_range_luma_is_stretched() {
        let mut planes = vec![0.5; yuv420_len(2, 2)];
        planes[0] = 16.0 / 255.0;
        planes[1] = 235.0 / 255.0;
        let mut out = [0.0; 4];
        yuv420_luma(&planes, 2, 2, false, &mut out).unwrap();
        assert!(out[0].abs() < 1e-6 && (out[1] - 1.0).abs() < 1e-6, "{out:?}");
        yuv420_luma(&planes, 2, 2, true, &mut out).unwrap();
        assert_eq!(out[1], 235.0 / 255.0);
    }
}
