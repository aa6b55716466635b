//! Luma extraction and the scene-change measure.
//!
//! The measure compares 32 x 32 area-averaged thumbnails with SSIM (uniform
//! 7 x 7 windows, C1 = 0.01^2, C2 = 0.03^2, like scikit-image's default),
//! maximised over thumbnail shifts of up to +-3 pixels (about a tenth of the
//! frame) so that a pan does not read as a cut; the result is
//! `clamp(1 - best SSIM, 0, 1)`.

use super::par;

const THUMB: usize = 32;
const WIN: usize = 7;

pub(crate) fn luma(rgb: &[f32], w: usize, h: usize, out: &mut [f32]) {
    let n = w * h;
    let (r, rest) = rgb.split_at(n);
    let (g, b) = rest.split_at(n);
    let bands = par::bands(h, w);
    let jobs: Vec<_> = bands.iter().cloned().zip(par::split_rows(out, w, &bands)).collect();
    par::run(jobs, |(band, out)| {
        let s = band.start * w..band.end * w;
        for (((o, &r), &g), &b) in out.iter_mut().zip(&r[s.clone()]).zip(&g[s.clone()]).zip(&b[s]) {
            *o = 0.299 * r + 0.587 * g + 0.114 * b;
        }
    });
}

/// Area-averaged `tw` x `th` thumbnail of a `w` x `h` plane: thumbnail
/// pixel `i` covers source columns `ceil(i w / tw) .. ceil((i + 1) w / tw)`
/// (and likewise rows).
fn thumbnail(src: &[f32], w: usize, h: usize, tw: usize, th: usize) -> Vec<f64> {
    let edges = |n: usize, t: usize| -> Vec<usize> { (0..=t).map(|i| (i * n).div_ceil(t)).collect() };
    let (xe, ye) = (edges(w, tw), edges(h, th));
    let mut out = vec![0.0f64; tw * th];
    for (j, ys) in ye.windows(2).enumerate() {
        let row = &mut out[j * tw..][..tw];
        for y in ys[0]..ys[1] {
            let line = &src[y * w..][..w];
            for (o, xs) in row.iter_mut().zip(xe.windows(2)) {
                // f32 partial sums of at most a few dozen values, then f64.
                *o += f64::from(line[xs[0]..xs[1]].iter().sum::<f32>());
            }
        }
        for (o, xs) in row.iter_mut().zip(xe.windows(2)) {
            *o /= ((xs[1] - xs[0]) * (ys[1] - ys[0])) as f64;
        }
    }
    out
}

/// Summed-area table with a zero first row and column.
fn integral(w: usize, h: usize, f: impl Fn(usize, usize) -> f64, out: &mut Vec<f64>) {
    out.clear();
    out.resize((w + 1) * (h + 1), 0.0);
    for y in 0..h {
        let mut acc = 0.0;
        for x in 0..w {
            acc += f(x, y);
            out[(y + 1) * (w + 1) + x + 1] = out[y * (w + 1) + x + 1] + acc;
        }
    }
}

/// Mean SSIM of `a` over `b` shifted by (dx, dy), on their overlap.
fn shifted_ssim(a: &[f64], b: &[f64], tw: usize, th: usize, dx: isize, dy: isize, sat: &mut [Vec<f64>; 5]) -> f64 {
    let (x0, y0) = ((-dx).max(0) as usize, (-dy).max(0) as usize);
    let (ow, oh) = (tw - dx.unsigned_abs(), th - dy.unsigned_abs());
    let at = |img: &[f64], x: usize, y: usize| img[(y0 + y) * tw + x0 + x];
    let bt = |x: usize, y: usize| b[((y0 + y) as isize + dy) as usize * tw + ((x0 + x) as isize + dx) as usize];
    let [sa, sb, saa, sbb, sab] = sat;
    integral(ow, oh, |x, y| at(a, x, y), sa);
    integral(ow, oh, bt, sb);
    integral(ow, oh, |x, y| at(a, x, y) * at(a, x, y), saa);
    integral(ow, oh, |x, y| bt(x, y) * bt(x, y), sbb);
    integral(ow, oh, |x, y| at(a, x, y) * bt(x, y), sab);
    let win = WIN.min(ow).min(oh);
    let inv = 1.0 / (win * win) as f64;
    let box_sum = |s: &[f64], x: usize, y: usize| {
        let st = ow + 1;
        s[(y + win) * st + x + win] - s[y * st + x + win] - s[(y + win) * st + x] + s[y * st + x]
    };
    const C1: f64 = 0.01 * 0.01;
    const C2: f64 = 0.03 * 0.03;
    let mut total = 0.0;
    let (nx, ny) = (ow - win + 1, oh - win + 1);
    for y in 0..ny {
        for x in 0..nx {
            let (ma, mb) = (box_sum(sa, x, y) * inv, box_sum(sb, x, y) * inv);
            let vaa = box_sum(saa, x, y) * inv - ma * ma;
            let vbb = box_sum(sbb, x, y) * inv - mb * mb;
            let vab = box_sum(sab, x, y) * inv - ma * mb;
            // Written so that identical inputs give exactly 1.
            let num = (ma * mb + ma * mb + C1) * (vab + vab + C2);
            let den = (ma * ma + mb * mb + C1) * (vaa + vbb + C2);
            total += num / den;
        }
    }
    total / (nx * ny) as f64
}

pub(crate) fn scene_change(a: &[f32], b: &[f32], w: usize, h: usize) -> f32 {
    let (tw, th) = thumb_size(w, h);
    let mut thumbs: [Vec<f64>; 2] = Default::default();
    let jobs: Vec<_> = thumbs.iter_mut().zip([a, b]).collect();
    par::run(jobs, |(out, src)| *out = thumbnail(src, w, h, tw, th));
    measure(&thumbs[0], &thumbs[1], tw, th)
}

/// The thumbnails' size for a `w` x `h` frame.
pub(crate) fn thumb_size(w: usize, h: usize) -> (usize, usize) {
    (THUMB.min(w), THUMB.min(h))
}

/// The measure from the two frames' thumbnails (the CUDA twin makes them on the device).
pub(crate) fn measure(ta: &[f64], tb: &[f64], tw: usize, th: usize) -> f32 {
    let reach = (tw.min(th) + 5) / 10;
    // One job per vertical shift (the best of a row of shifts each).
    let shifts: Vec<isize> = (-(reach as isize)..=reach as isize).collect();
    let mut best_of = vec![f64::NEG_INFINITY; shifts.len()];
    let jobs: Vec<_> = shifts.iter().zip(best_of.iter_mut()).collect();
    par::run(jobs, |(&dy, best)| {
        let mut sat: [Vec<f64>; 5] = Default::default();
        for &dx in &shifts {
            *best = best.max(shifted_ssim(ta, tb, tw, th, dx, dy, &mut sat));
        }
    });
    let best = best_of.into_iter().fold(f64::NEG_INFINITY, f64::max);
    (1.0 - best).clamp(0.0, 1.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnail_averages_uneven_bins() {
        // 5 columns into 2 bins: columns 0..3 and 3..5.
        let src = [1.0f32, 2.0, 3.0, 10.0, 20.0];
        assert_eq!(thumbnail(&src, 5, 1, 2, 1), vec![2.0, 15.0]);
        let flat = vec![0.25f32; 100 * 60];
        assert!(thumbnail(&flat, 100, 60, 32, 32).iter().all(|&v| (v - 0.25).abs() < 1e-9));
    }

    #[test]
    fn identical_and_tiny_inputs() {
        let img: Vec<f32> = (0..64 * 48).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
        assert_eq!(scene_change(&img, &img, 64, 48), 0.0);
        assert_eq!(scene_change(&[0.5], &[0.5], 1, 1), 0.0);
        assert!(scene_change(&[0.0, 1.0], &[1.0, 0.0], 2, 1).is_finite());
    }
}
