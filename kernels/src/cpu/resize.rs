//! Separable resampling of CHW f32 planes with half-pixel centres. Filter
//! taps are precomputed per output column and row (`Taps`), then one pass
//! runs along rows and one along columns; the pass order is chosen so the
//! intermediate image is the smaller of the two possibilities.

use super::par;
use crate::resize::Filter;

#[derive(Clone, Copy)]
pub(crate) struct Shape {
    pub channels: usize,
    pub width: usize,
    pub height: usize,
}

/// For each output index: `N` source indices (already clamped to the edge)
/// and their weights.
pub(crate) struct Taps<const N: usize> {
    pub index: Vec<[usize; N]>,
    pub weight: Vec<[f32; N]>,
}

/// Bilinear taps, PyTorch `align_corners=False` rules: source positions left
/// of the first centre clamp to it, the right neighbour clamps to the edge.
pub(crate) fn linear_taps(src: usize, dst: usize) -> Taps<2> {
    let scale = src as f64 / dst as f64;
    let last = src - 1;
    let (index, weight) = (0..dst)
        .map(|d| {
            let s = ((d as f64 + 0.5) * scale - 0.5).max(0.0);
            let i0 = (s.floor() as usize).min(last);
            let frac = (s - i0 as f64) as f32;
            ([i0, (i0 + 1).min(last)], [1.0 - frac, frac])
        })
        .unzip();
    Taps { index, weight }
}

/// Keys cubic convolution weights for fractional offset `t` with a = -0.75,
/// for the taps at -1, 0, +1, +2.
fn keys(t: f64) -> [f64; 4] {
    const A: f64 = -0.75;
    let near = |x: f64| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let far = |x: f64| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

/// Bicubic taps: unlike bilinear, the source position is not clamped (as in
/// PyTorch); out-of-range taps read the edge pixel.
pub(crate) fn cubic_taps(src: usize, dst: usize) -> Taps<4> {
    let scale = src as f64 / dst as f64;
    let last = src as i64 - 1;
    let (index, weight) = (0..dst)
        .map(|d| {
            let s = (d as f64 + 0.5) * scale - 0.5;
            let base = s.floor();
            let i = base as i64;
            let index = [i - 1, i, i + 1, i + 2].map(|k| k.clamp(0, last) as usize);
            (index, keys(s - base).map(|w| w as f32))
        })
        .unzip();
    Taps { index, weight }
}

pub(crate) fn resize(src: &[f32], from: Shape, dst: &mut [f32], to: Shape, filter: Filter) {
    match filter {
        Filter::Bilinear => {
            separable(src, from, dst, to, &linear_taps(from.width, to.width), &linear_taps(from.height, to.height))
        }
        Filter::Bicubic => {
            separable(src, from, dst, to, &cubic_taps(from.width, to.width), &cubic_taps(from.height, to.height))
        }
    }
}

fn separable<const N: usize>(src: &[f32], from: Shape, dst: &mut [f32], to: Shape, xt: &Taps<N>, yt: &Taps<N>) {
    let c = from.channels;
    match (from.width == to.width, from.height == to.height) {
        (true, true) => dst.copy_from_slice(src),
        (false, true) => horizontal(src, from.width, xt, dst, to.width),
        (true, false) => vertical(src, from.height, yt, dst, to),
        (false, false) => {
            // Rows first leaves C*sh*dw values in between, columns first
            // C*dh*sw; the smaller is never larger than src or dst.
            if from.height * to.width <= to.height * from.width {
                let mut mid = vec![0.0; c * from.height * to.width];
                horizontal(src, from.width, xt, &mut mid, to.width);
                vertical(&mid, from.height, yt, dst, to);
            } else {
                let mut mid = vec![0.0; c * to.height * from.width];
                let mid_shape = Shape { width: from.width, ..to };
                vertical(src, from.height, yt, &mut mid, mid_shape);
                horizontal(&mid, from.width, xt, dst, to.width);
            }
        }
    }
}

/// Resamples every row (all channels' rows alike) from `sw` to `dw` values.
fn horizontal<const N: usize>(src: &[f32], sw: usize, xt: &Taps<N>, dst: &mut [f32], dw: usize) {
    let rows = dst.len() / dw;
    let bands = par::bands(rows, dw * N / 2);
    let jobs: Vec<_> = bands.iter().cloned().zip(par::split_rows(dst, dw, &bands)).collect();
    par::run(jobs, |(band, out)| {
        for (r, out) in band.zip(out.chunks_exact_mut(dw)) {
            let row = &src[r * sw..][..sw];
            for ((o, index), weight) in out.iter_mut().zip(&xt.index).zip(&xt.weight) {
                let mut acc = 0.0;
                for (&i, &w) in index.iter().zip(weight) {
                    acc += w * row[i];
                }
                *o = acc;
            }
        }
    });
}

/// Resamples every column of each channel from `sh` rows to `to.height`.
fn vertical<const N: usize>(src: &[f32], sh: usize, yt: &Taps<N>, dst: &mut [f32], to: Shape) {
    let (w, dh) = (to.width, to.height);
    let bands = par::bands(to.channels * dh, w * N / 2);
    let jobs: Vec<_> = bands.iter().cloned().zip(par::split_rows(dst, w, &bands)).collect();
    par::run(jobs, |(band, out)| {
        for (r, out) in band.zip(out.chunks_exact_mut(w)) {
            let plane = &src[(r / dh) * sh * w..][..sh * w];
            let y = r % dh;
            let rows = yt.index[y].map(|i| &plane[i * w..][..w]);
            blend(rows, yt.weight[y], out);
        }
    });
}

/// `out[x] = sum_k weight[k] * rows[k][x]`, vectorised along x.
fn blend<const N: usize>(rows: [&[f32]; N], weight: [f32; N], out: &mut [f32]) {
    let n = out.len();
    let rows = rows.map(|r| &r[..n]);
    for (x, o) in out.iter_mut().enumerate() {
        let mut acc = 0.0;
        for (row, &w) in rows.iter().zip(&weight) {
            acc += w * row[x];
        }
        *o = acc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_weights_sum_to_one_and_interpolate() {
        for t in [0.0, 0.1, 0.25, 0.5, 0.9] {
            let w = keys(t);
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert_eq!(keys(0.0), [0.0, 1.0, 0.0, 0.0]);
        assert_eq!(keys(0.5), [-0.09375, 0.59375, 0.59375, -0.09375]);
    }

    #[test]
    fn same_size_taps_are_identity() {
        let t = linear_taps(5, 5);
        for (d, (i, w)) in t.index.iter().zip(&t.weight).enumerate() {
            assert_eq!(i[0], d);
            assert_eq!(w[0], 1.0);
        }
    }
}
