//! CPU implementations of the style-transfer pixel steps (see `crate::style`).

use crate::tensor::{ChannelOrder, Layout, TensorSpec};

const LUMA: [f32; 3] = [0.299, 0.587, 0.114];

/// Index of (channel c, pixel i) in a 3-channel tensor of `n` pixels.
fn at(spec: TensorSpec, c: usize, i: usize, n: usize) -> usize {
    let c = match spec.order {
        ChannelOrder::Rgb => c,
        ChannelOrder::Bgr => 2 - c,
    };
    match spec.layout {
        Layout::Nchw => c * n + i,
        Layout::Nhwc => i * 3 + c,
    }
}

pub(crate) fn retensor(src: &[f32], from: TensorSpec, w: usize, h: usize, to: TensorSpec, dst: &mut [f32]) {
    let n = w * h;
    let (s_in, o_in) = from.range.range_to_unit();
    let (s_out, o_out) = to.range.range_to_unit();
    for c in 0..3 {
        for i in 0..n {
            let unit = src[at(from, c, i, n)] * s_in + o_in;
            dst[at(to, c, i, n)] = (unit - o_out) / s_out;
        }
    }
}

pub(crate) fn preserve_colors(input: &[f32], stylized: &mut [f32], n: usize) {
    let (ir, rest) = input.split_at(n);
    let (ig, ib) = rest.split_at(n);
    let (sr, rest) = stylized.split_at_mut(n);
    let (sg, sb) = rest.split_at_mut(n);
    for i in 0..n {
        let y_in = LUMA[0] * ir[i] + LUMA[1] * ig[i] + LUMA[2] * ib[i];
        let y = (LUMA[0] * sr[i] + LUMA[1] * sg[i] + LUMA[2] * sb[i]).clamp(0.0, 1.0);
        let d = [ir[i] - y_in, ig[i] - y_in, ib[i] - y_in];
        // The largest k <= 1 that keeps y + k * d inside 0..1 in every channel.
        let mut k = 1.0f32;
        for &dc in &d {
            if dc > 0.0 {
                k = k.min((1.0 - y) / dc);
            } else if dc < 0.0 {
                k = k.min(y / -dc);
            }
        }
        sr[i] = (y + k * d[0]).clamp(0.0, 1.0);
        sg[i] = (y + k * d[1]).clamp(0.0, 1.0);
        sb[i] = (y + k * d[2]).clamp(0.0, 1.0);
    }
}

pub(crate) fn mix(input: &[f32], out: &mut [f32], strength: f32) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = x + strength * (*o - x);
    }
}

/// 1 at or below `lo`, 0 at or above `hi`, linear between.
fn ramp_down(v: f32, lo: f32, hi: f32) -> f32 {
    ((hi - v) / (hi - lo)).clamp(0.0, 1.0)
}

#[allow(clippy::too_many_arguments)] // mirrors the public, flat signature
pub(crate) fn temporal_confidence(
    flow: &[f32],
    back: &[f32],
    luma: &[f32],
    image: &[f32],
    prev_image: &[f32],
    w: usize,
    h: usize,
    out: &mut [f32],
) {
    let n = w * h;
    let (fx, fy) = flow.split_at(n);
    let (bx, by) = back.split_at(n);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let (u, v) = (fx[i], fy[i]);
            let (sx, sy) = (x as f32 + u, y as f32 + v);
            // Half a pixel of slack: bilinear sampling at the border is still the frame.
            if sx < -0.5 || sy < -0.5 || sx > w as f32 - 0.5 || sy > h as f32 - 0.5 {
                out[i] = 0.0;
                continue;
            }
            let (p, q) = (bx[i], by[i]);
            let e = (u + p) * (u + p) + (v + q) * (v + q);
            let t = 0.01 * (u * u + v * v + p * p + q * q) + 0.5;
            let consistent = ramp_down(e, t, 2.0 * t);
            // Where the picture is flat a wrong vector fetches the same colours: disagreeing flows
            // (common there, nothing to match) do not matter.
            let gx = (luma[y * w + (x + 1).min(w - 1)] - luma[y * w + x.saturating_sub(1)]).abs();
            let gy = (luma[(y + 1).min(h - 1) * w + x] - luma[y.saturating_sub(1) * w + x]).abs();
            let flat = ramp_down(gx.max(gy), 0.02, 0.06);
            let consistent = consistent.max(flat);
            let mut diff = 0f32;
            for c in 0..3 {
                diff = diff.max((image[c * n + i] - prev_image[c * n + i]).abs());
            }
            let photometric = ramp_down(diff, 0.08, 0.2);
            out[i] = consistent * photometric;
        }
    }
}

pub(crate) fn temporal_blend(out: &mut [f32], warped_prev: &[f32], confidence: &[f32], alpha: f32) {
    let n = confidence.len();
    let keep = 1.0 - alpha;
    for i in 0..n {
        let d = ((out[i] - warped_prev[i]).abs()
            + (out[n + i] - warped_prev[n + i]).abs()
            + (out[2 * n + i] - warped_prev[2 * n + i]).abs())
            / 3.0;
        let small = (-(d / SMALL_CHANGE) * (d / SMALL_CHANGE)).exp();
        let w = confidence[i] * (1.0 - keep * keep.powf(2.0 * small));
        for c in 0..3 {
            let o = &mut out[c * n + i];
            *o += w * (warped_prev[c * n + i] - *o);
        }
    }
}

/// The scale of a "small" frame-to-frame change of the style (0..1 units), see `temporal_blend`.
const SMALL_CHANGE: f32 = 0.25;
