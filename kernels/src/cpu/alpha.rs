//! Alpha transfer between RGBA/BGRA frames with bilinear resizing, for
//! carrying the input's alpha around a model that only sees RGB. In all
//! four formats alpha is byte 3 of each pixel.

use super::resize::{Taps, linear_taps};
use super::{par, to_u8};
use crate::frame::{Frame, FrameMut};

pub(crate) fn copy_alpha(src: &Frame<'_>, dst: &mut FrameMut<'_>) {
    let (dw, dh, stride) = (dst.width, dst.height, dst.strides[0]);
    let xt = linear_taps(src.width, dw);
    let yt = linear_taps(src.height, dh);
    let bands = par::bands(dh, dw);
    let jobs: Vec<_> = bands.iter().cloned().zip(par::split_rows(&mut *dst.planes[0], stride, &bands)).collect();
    par::run(jobs, |(band, plane)| {
        let mut scratch = vec![0.0f32; 2 * dw];
        let (top, bottom) = scratch.split_at_mut(dw);
        for (k, y) in band.enumerate() {
            let ([i0, i1], [w0, w1]) = (yt.index[y], yt.weight[y]);
            resample_alpha_row(src.row(0, i0), &xt, top);
            resample_alpha_row(src.row(0, i1), &xt, bottom);
            let row = &mut plane[k * stride..][..4 * dw];
            for ((px, &t), &b) in row.chunks_exact_mut(4).zip(&*top).zip(&*bottom) {
                px[3] = to_u8(w0 * t + w1 * b);
            }
        }
    });
}

fn resample_alpha_row(row: &[u8], xt: &Taps<2>, out: &mut [f32]) {
    for ((o, [i0, i1]), [w0, w1]) in out.iter_mut().zip(&xt.index).zip(&xt.weight) {
        *o = w0 * f32::from(row[i0 * 4 + 3]) + w1 * f32::from(row[i1 * 4 + 3]);
    }
}
