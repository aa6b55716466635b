//! Weighted accumulation of tile outputs into the merge canvas and the final
//! normalisation, for `TileMerger`. The canvas is three planes of weighted
//! sums plus one plane of summed weights.

use super::{TensorView, par, split3};

pub(crate) struct Canvas<'a> {
    /// 3 planes of `width` x `height` weighted sums.
    pub sum: &'a mut [f32],
    pub weight: &'a mut [f32],
    pub width: usize,
}

/// Where a tile's output lands (output pixels) and its per-axis weights;
/// the region is `wx.len()` x `wy.len()`.
pub(crate) struct Region<'a> {
    pub x: usize,
    pub y: usize,
    pub wx: &'a [f32],
    pub wy: &'a [f32],
}

pub(crate) fn accumulate(canvas: Canvas<'_>, region: Region<'_>, t: &TensorView<'_>) {
    let (rw, rh, cw) = (region.wx.len(), region.wy.len(), canvas.width);
    let plane = canvas.weight.len();
    let (scale, offset) = t.spec.range.range_to_unit();
    let bands = par::bands(rh, rw);
    let first = region.y * cw;
    let (s0, rest) = canvas.sum.split_at_mut(plane);
    let (s1, s2) = rest.split_at_mut(plane);
    let jobs: Vec<_> = bands
        .iter()
        .cloned()
        .zip(par::split_rows(&mut s0[first..], cw, &bands))
        .zip(par::split_rows(&mut s1[first..], cw, &bands))
        .zip(par::split_rows(&mut s2[first..], cw, &bands))
        .zip(par::split_rows(&mut canvas.weight[first..], cw, &bands))
        .collect();
    par::run(jobs, |((((band, s0), s1), s2), weight)| {
        let mut scratch = vec![0.0f32; 3 * rw];
        let [r, g, b] = split3(&mut scratch, rw);
        for (k, y) in band.enumerate() {
            t.read_row(y, 0, scale, offset, [&mut *r, &mut *g, &mut *b]);
            let wy = region.wy[y];
            let at = k * cw + region.x;
            let sums = s0[at..][..rw]
                .iter_mut()
                .zip(&mut s1[at..][..rw])
                .zip(&mut s2[at..][..rw])
                .zip(&mut weight[at..][..rw]);
            let values = region.wx.iter().zip(&*r).zip(&*g).zip(&*b);
            for ((((s0, s1), s2), wsum), (((&wx, &r), &g), &b)) in sums.zip(values) {
                let w = wy * wx;
                *s0 += w * r;
                *s1 += w * g;
                *s2 += w * b;
                *wsum += w;
            }
        }
    });
}

/// Divides each of the 3 sum planes by the (all positive) weights.
pub(crate) fn normalise(sum: &mut [f32], weight: &[f32], width: usize) {
    let plane = weight.len();
    let bands = par::bands(plane / width, 3 * width);
    let (s0, rest) = sum.split_at_mut(plane);
    let (s1, s2) = rest.split_at_mut(plane);
    let jobs: Vec<_> = bands
        .iter()
        .cloned()
        .zip(par::split_rows(s0, width, &bands))
        .zip(par::split_rows(s1, width, &bands))
        .zip(par::split_rows(s2, width, &bands))
        .collect();
    par::run(jobs, |(((band, s0), s1), s2)| {
        let weights = &weight[band.start * width..band.end * width];
        for sums in [s0, s1, s2] {
            for (s, &w) in sums.iter_mut().zip(weights) {
                *s /= w;
            }
        }
    });
}
