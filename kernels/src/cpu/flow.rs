//! Dense optical flow in the style of DIS (Kroeger et al., "Fast Optical Flow
//! using Dense Inverse Search", ECCV 2016), on a luma plane:
//!
//! 1. A pyramid: level 0 is the input box-averaged by `2^downscale`, each
//!    further level a 2x2 box average of the one below, and every level is
//!    then blurred with `[1 2 1] / 4` in both directions (smoother images
//!    make bilinear sub-pixel sampling more accurate: on a translated
//!    photograph the median error at 1/4 resolution dropped by a quarter to
//!    two thirds, the bias towards whole pixels). Levels are stored with a
//!    replicated border (`Padded`) so that patch windows can be read without
//!    per-pixel clamping.
//! 2. Coarse to fine, per level: `p` x `p` patches on a grid of stride `s`
//!    (the last row and column aligned to the edge, so every pixel is
//!    covered) start from the dense flow of the level above (at the patch
//!    centre, doubled) and run inverse-compositional Gauss-Newton on
//!    mean-normalised patches: the template's zero-mean gradient and its 2x2
//!    Hessian are computed once per patch, each iteration samples the other
//!    image. A patch is translated as a whole, so its bilinear weights are
//!    the same for every pixel and sampling is a vectorisable 4-tap filter
//!    over a `(p+1)^2` window. Iteration stops early once the update is
//!    below 0.01 pixel; the position with the lowest residual of those
//!    visited is kept, which also undoes diverging iterations, and a patch
//!    that wanders further than its own size is stopped.
//! 3. Densification: each pixel's flow is the average of the flows of the
//!    patches covering it, weighted by `1 / max(|I_b(x + u) - I_a(x)|, 1/255)^2`
//!    (the pixel's own matching error under that patch's flow; squared, the
//!    weights favour the patch that fits a pixel more sharply at motion
//!    boundaries than DIS's `1 / e`: +0.03 dB on bikes.mp4 interpolated).
//!
//! The flow of level 0 is finally bilinearly upsampled to full resolution,
//! vectors multiplied by `2^downscale`. Identical inputs give exactly zero
//! flow: every residual is then exactly zero.

use super::par;

/// Largest patch side.
pub(crate) const MAX_PATCH: usize = 16;
/// Densification weights saturate below one 8-bit step of error.
const DENSIFY_EPS: f32 = 1.0 / 255.0;
/// Gauss-Newton stops once an update is shorter than this (level pixels).
const CONVERGED: f32 = 0.01;

/// Validated parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    pub downscale: u32,
    /// 0 = automatic.
    pub levels: u32,
    pub patch: usize,
    pub stride: usize,
    pub iterations: usize,
}

/// A `w` x `h` image with `pad` replicated pixels on every side.
#[derive(Default)]
pub(crate) struct Padded {
    data: Vec<f32>,
    w: usize,
    h: usize,
    pad: usize,
}

impl Padded {
    fn reshape(&mut self, w: usize, h: usize, pad: usize) {
        self.w = w;
        self.h = h;
        self.pad = pad;
        self.data.resize((w + 2 * pad) * (h + 2 * pad), 0.0);
    }

    #[inline(always)]
    fn stride(&self) -> usize {
        self.w + 2 * self.pad
    }

    /// Index of interior pixel (x, y).
    #[inline(always)]
    fn at(&self, x: usize, y: usize) -> usize {
        (y + self.pad) * self.stride() + x + self.pad
    }

    /// Replicates the edge pixels into the border.
    fn fill_border(&mut self) {
        let (w, h, pad, stride) = (self.w, self.h, self.pad, self.stride());
        for y in 0..h {
            let row = &mut self.data[(y + pad) * stride..][..stride];
            let (first, last) = (row[pad], row[pad + w - 1]);
            row[..pad].fill(first);
            row[pad + w..].fill(last);
        }
        let (top, rest) = self.data.split_at_mut(pad * stride);
        for r in top.chunks_exact_mut(stride) {
            r.copy_from_slice(&rest[..stride]);
        }
        let split = (pad + h) * stride;
        let (body, bottom) = self.data.split_at_mut(split);
        for r in bottom.chunks_exact_mut(stride) {
            r.copy_from_slice(&body[split - stride..]);
        }
    }
}

/// Working memory of one flow computation, reused across calls.
#[derive(Default)]
pub(crate) struct Workspace {
    pyr_a: Vec<Padded>,
    pyr_b: Vec<Padded>,
    /// Rows of the box filter, per pyramid.
    pyr_rows: [Vec<f32>; 2],
    /// Per direction of a pair (one for a single flow).
    dirs: [Direction; 2],
}

/// Working memory of the search in one direction.
#[derive(Default)]
struct Direction {
    /// Patch flows of the current level, row-major over the patch grid.
    patches: Vec<[f32; 2]>,
    /// Dense flow of the current and of the previous (coarser) level.
    flow: Vec<[f32; 2]>,
    coarse: Vec<[f32; 2]>,
    /// Densification sums (weighted u, weighted v, weight).
    acc: Vec<[f32; 3]>,
    /// Rows of the final upsampling, one set per band.
    rows: Vec<f32>,
    /// Fractions of the final upsampling.
    fracs: Vec<f32>,
}

/// Builds both pyramids, as two jobs (each runs its bands inline: one sync for both instead of
/// one per pass, and no idle worker on the small passes).
fn build_pyramids(a: &[f32], b: &[f32], w: usize, h: usize, pl: Plan, ws: &mut Workspace) {
    let [ra, rb] = &mut ws.pyr_rows;
    let jobs = vec![(a, &mut ws.pyr_a, ra), (b, &mut ws.pyr_b, rb)];
    par::run(jobs, |(src, pyr, rows)| build_pyramid(src, w, h, pl.ds, pl.levels, pl.pad, pyr, rows));
}

/// Flow from `a` to `b` (both `w` x `h` luma), written as two full-resolution
/// planes (x then y) into `out`.
pub(crate) fn optical_flow(a: &[f32], b: &[f32], w: usize, h: usize, p: &Params, ws: &mut Workspace, out: &mut [f32]) {
    let pl = plan(w, h, p);
    build_pyramids(a, b, w, h, pl, ws);
    flow_between(&ws.pyr_a, &ws.pyr_b, w, h, p, pl, &mut ws.dirs[0], out);
}

/// `optical_flow` from `a` to `b` into `f01` and from `b` to `a` into `f10`, each pyramid built
/// once and the two directions run as two jobs (each with its bands inline, so that the many
/// small passes of the coarse levels keep both workers busy): the same values as the two calls.
#[allow(clippy::too_many_arguments)]
pub(crate) fn optical_flow_pair(
    a: &[f32],
    b: &[f32],
    w: usize,
    h: usize,
    p: &Params,
    ws: &mut Workspace,
    f01: &mut [f32],
    f10: &mut [f32],
) {
    let pl = plan(w, h, p);
    build_pyramids(a, b, w, h, pl, ws);
    let Workspace { pyr_a, pyr_b, dirs, .. } = ws;
    let (pa, pb) = (&pyr_a[..], &pyr_b[..]);
    let [d01, d10] = dirs;
    let jobs = vec![(pa, pb, d01, f01), (pb, pa, d10, f10)];
    par::run(jobs, |(from, to, dir, out)| flow_between(from, to, w, h, p, pl, dir, out));
}

/// The coarse-to-fine search from pyramid `pyr_a` to `pyr_b` and the upsampling to `out`.
#[allow(clippy::too_many_arguments)]
fn flow_between(
    pyr_a: &[Padded],
    pyr_b: &[Padded],
    w: usize,
    h: usize,
    p: &Params,
    pl: Plan,
    dir: &mut Direction,
    out: &mut [f32],
) {
    let Plan { ds, patch, stride, levels: n_levels, .. } = pl;
    let (w0, h0) = (w >> ds, h >> ds);
    let Direction { patches, flow, coarse, acc, rows, fracs } = dir;
    for level in (0..n_levels).rev() {
        let (la, lb) = (&pyr_a[level], &pyr_b[level]);
        let (lw, lh) = (la.w, la.h);
        let grid = Grid::new(lw, lh, patch, stride);
        patches.resize(grid.nx * grid.ny, [0.0; 2]);
        let init = (level + 1 < n_levels).then(|| (&coarse[..], pyr_a[level + 1].w, pyr_a[level + 1].h));
        flow.resize(lw * lh, [0.0; 2]);
        acc.resize(lw * lh, [0.0; 3]);
        let (patches, acc, dense) = (&mut patches[..], &mut acc[..], &mut flow[..]);
        macro_rules! by_patch {
            ($($n:literal)*) => {
                match patch {
                    $($n => {
                        search_patches::<$n>(la, lb, &grid, init, p.iterations, patches);
                        densify::<$n>(la, lb, &grid, patches, acc, dense);
                    })*
                    _ => unreachable!("patch size {patch} outside 1..={MAX_PATCH}"),
                }
            };
        }
        by_patch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
        std::mem::swap(flow, coarse);
    }
    // `coarse` now holds level 0.
    upsample(coarse, w0, h0, ds, w, h, fracs, rows, out);
}

/// What `optical_flow` computes on: the downscale, the patch and stride used, the number of
/// pyramid levels and the levels' border.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub ds: u32,
    pub patch: usize,
    pub stride: usize,
    pub levels: usize,
    pub pad: usize,
}

pub(crate) fn plan(w: usize, h: usize, p: &Params) -> Plan {
    // The level the flow is computed on must hold at least one patch.
    let mut ds = p.downscale.min(usize::BITS - 1);
    while ds > 0 && ((w >> ds) < p.patch || (h >> ds) < p.patch) {
        ds -= 1;
    }
    let patch = p.patch.min(w).min(h);
    let stride = p.stride.min(patch);
    let (w0, h0) = (w >> ds, h >> ds);
    let mut n_levels = 1;
    loop {
        let (lw, lh) = (w0 >> n_levels, h0 >> n_levels);
        let more = if p.levels == 0 { lw.min(lh) >= 16 } else { n_levels <= p.levels as usize };
        if !more || lw < patch || lh < patch {
            break;
        }
        n_levels += 1;
    }
    let pad = patch + 2;
    Plan { ds, patch, stride, levels: n_levels, pad }
}

/// The levels `build_pyramid` makes (padded data, width, height), for the CUDA twin's tests.
pub(crate) fn pyramid_levels(
    src: &[f32],
    w: usize,
    h: usize,
    ds: u32,
    n: usize,
    pad: usize,
) -> Vec<(Vec<f32>, usize, usize)> {
    let (mut pyr, mut rows) = (Vec::new(), Vec::new());
    build_pyramid(src, w, h, ds, n, pad, &mut pyr, &mut rows);
    pyr.into_iter().take(n).map(|l| (l.data, l.w, l.h)).collect()
}

/// One level of the coarse-to-fine search on padded levels `a` and `b` (as `pyramid_levels`
/// gives them, border `pad`): the patch flows and the dense flow (interleaved), from the coarser
/// level's dense flow `init` (`cw` x `ch`) when given, for the CUDA twin's tests.
#[allow(clippy::too_many_arguments)]
pub(crate) fn level_flow(
    a: (&[f32], usize, usize),
    b: (&[f32], usize, usize),
    pad: usize,
    patch: usize,
    stride: usize,
    init: Option<(&[[f32; 2]], usize, usize)>,
    iterations: usize,
) -> (Vec<[f32; 2]>, Vec<[f32; 2]>) {
    let padded = |(d, w, h): (&[f32], usize, usize)| Padded { data: d.to_vec(), w, h, pad };
    let (la, lb) = (padded(a), padded(b));
    let grid = Grid::new(la.w, la.h, patch, stride);
    let mut patches = vec![[0.0; 2]; grid.nx * grid.ny];
    let mut acc = vec![[0.0; 3]; la.w * la.h];
    let mut flow = vec![[0.0; 2]; la.w * la.h];
    macro_rules! by_patch {
        ($($n:literal)*) => {
            match patch {
                $($n => {
                    search_patches::<$n>(&la, &lb, &grid, init, iterations, &mut patches);
                    densify::<$n>(&la, &lb, &grid, &patches, &mut acc, &mut flow);
                })*
                _ => panic!("patch size {patch} outside 1..={MAX_PATCH}"),
            }
        };
    }
    by_patch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
    (patches, flow)
}

/// The densification's weight floor and the search's convergence step, for the CUDA twin.
pub(crate) const DENSIFY_EPS_AND_CONVERGED: (f32, f32) = (DENSIFY_EPS, CONVERGED);

/// Builds `n` levels: level 0 is `src` box-averaged by `2^ds`.
#[allow(clippy::too_many_arguments)]
fn build_pyramid(
    src: &[f32],
    w: usize,
    h: usize,
    ds: u32,
    n: usize,
    pad: usize,
    pyr: &mut Vec<Padded>,
    rows: &mut Vec<f32>,
) {
    if pyr.len() < n {
        pyr.resize_with(n, Padded::default);
    }
    pyr[0].reshape(w >> ds, h >> ds, pad);
    box_down(src, w, 0, 1 << ds, &mut pyr[0], rows);
    for l in 1..n {
        let (lo, hi) = pyr.split_at_mut(l);
        let prev = &lo[l - 1];
        hi[0].reshape(prev.w / 2, prev.h / 2, pad);
        box_down(&prev.data, prev.stride(), prev.at(0, 0), 2, &mut hi[0], rows);
    }
    // A light blur makes bilinear sampling of the levels more accurate (less
    // bias of sub-pixel estimates towards whole pixels).
    for level in &mut pyr[..n] {
        blur121(level, rows);
    }
}

/// In-place separable `[1 2 1] / 4` blur of the interior of `img` (the
/// border is replicated again afterwards).
fn blur121(img: &mut Padded, tmp: &mut Vec<f32>) {
    let (w, h) = (img.w, img.h);
    tmp.resize(w * h, 0.0);
    for y in 0..h {
        let i = img.at(0, y);
        let row = &img.data[i - 1..][..w + 2];
        for (x, o) in tmp[y * w..][..w].iter_mut().enumerate() {
            *o = 0.25 * (row[x] + row[x + 2]) + 0.5 * row[x + 1];
        }
    }
    // Vertical, reading the horizontally blurred rows (clamped at the edges).
    for y in 0..h {
        let (up, mid, down) = (y.saturating_sub(1), y, (y + 1).min(h - 1));
        let i = img.at(0, y);
        let out = &mut img.data[i..][..w];
        let (a, b, c) = (&tmp[up * w..][..w], &tmp[mid * w..][..w], &tmp[down * w..][..w]);
        for x in 0..w {
            out[x] = 0.25 * (a[x] + c[x]) + 0.5 * b[x];
        }
    }
    img.fill_border();
}

/// `dst` interior = `f` x `f` box average of `src`, whose row `y` starts at
/// `start + y * stride`.
fn box_down(src: &[f32], stride: usize, start: usize, f: usize, dst: &mut Padded, rows: &mut Vec<f32>) {
    let (dw, dh, pad) = (dst.w, dst.h, dst.pad);
    let dstride = dst.stride();
    let scale = 1.0 / (f * f) as f32;
    let bands = par::bands(dh, dw * f * f);
    rows.resize(bands.len() * dw * f, 0.0);
    let first = pad * dstride;
    let jobs: Vec<_> = bands
        .iter()
        .cloned()
        .zip(par::split_rows(&mut dst.data[first..], dstride, &bands))
        .zip(rows.chunks_exact_mut(dw * f))
        .collect();
    par::run(jobs, |((band, out), sum)| {
        for (y, row) in band.zip(out.chunks_mut(dstride)) {
            let out = &mut row[pad..][..dw];
            // Vertical sum of the f source rows, then horizontal groups of f.
            sum.copy_from_slice(&src[start + y * f * stride..][..dw * f]);
            for k in 1..f {
                for (s, &v) in sum.iter_mut().zip(&src[start + (y * f + k) * stride..][..dw * f]) {
                    *s += v;
                }
            }
            for (o, chunk) in out.iter_mut().zip(sum.chunks_exact(f)) {
                *o = chunk.iter().sum::<f32>() * scale;
            }
        }
    });
    dst.fill_border();
}

/// Patch positions along both axes.
struct Grid {
    xs: Vec<usize>,
    ys: Vec<usize>,
    nx: usize,
    ny: usize,
}

impl Grid {
    fn new(w: usize, h: usize, p: usize, s: usize) -> Self {
        let axis = |len: usize| -> Vec<usize> {
            let n = (len - p).div_ceil(s) + 1;
            (0..n).map(|i| (i * s).min(len - p)).collect()
        };
        let (xs, ys) = (axis(w), axis(h));
        Self { nx: xs.len(), ny: ys.len(), xs, ys }
    }
}

/// Reads the `P` x `P` bilinear window of `img` whose top-left corner is at
/// interior coordinates (`x`, `y`), clamped so that it stays in the border.
#[inline(always)]
fn sample_window<const P: usize>(img: &Padded, x: f32, y: f32, out: &mut [[f32; P]; P]) {
    let pad = img.pad as f32;
    let x = x.clamp(-pad, (img.w + img.pad - P - 1) as f32);
    let y = y.clamp(-pad, (img.h + img.pad - P - 1) as f32);
    // Both are >= -pad: the padded coordinates are >= 0 and truncation is
    // the floor.
    let (px, py) = (x + pad, y + pad);
    let (ix, iy) = (px as usize, py as usize);
    let (ax, ay) = (px - ix as f32, py - iy as f32);
    let (w00, w10, w01, w11) = ((1.0 - ax) * (1.0 - ay), ax * (1.0 - ay), (1.0 - ax) * ay, ax * ay);
    let s = img.stride();
    let data = &img.data[iy * s + ix..][..P * s + P + 1];
    for (r, o) in out.iter_mut().enumerate() {
        let r0 = &data[r * s..][..P + 1];
        let r1 = &data[(r + 1) * s..][..P + 1];
        for c in 0..P {
            o[c] = w00 * r0[c] + w10 * r0[c + 1] + w01 * r1[c] + w11 * r1[c + 1];
        }
    }
}

/// Bilinear sample of an interleaved flow field at (x, y), clamped.
#[inline(always)]
fn sample_flow(f: &[[f32; 2]], w: usize, h: usize, x: f32, y: f32) -> [f32; 2] {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let mut out = [0.0; 2];
    for (k, o) in out.iter_mut().enumerate() {
        let top = f[y0 * w + x0][k] + fx * (f[y0 * w + x1][k] - f[y0 * w + x0][k]);
        let bottom = f[y1 * w + x0][k] + fx * (f[y1 * w + x1][k] - f[y1 * w + x0][k]);
        *o = top + fy * (bottom - top);
    }
    out
}

/// Inverse search for every patch of `grid`.
fn search_patches<const P: usize>(
    a: &Padded,
    b: &Padded,
    grid: &Grid,
    init: Option<(&[[f32; 2]], usize, usize)>,
    iterations: usize,
    out: &mut [[f32; 2]],
) {
    let bands = par::bands(grid.ny, grid.nx * (iterations / 2 + 2) * P * P / 2);
    let jobs: Vec<_> = bands.iter().cloned().zip(par::split_rows(out, grid.nx, &bands)).collect();
    let half = (P as f32 - 1.0) * 0.5;
    par::run(jobs, |(band, rows)| {
        for (j, row) in band.zip(rows.chunks_mut(grid.nx)) {
            let y0 = grid.ys[j];
            for (o, &x0) in row.iter_mut().zip(&grid.xs) {
                let start = match init {
                    // The patch centre on the coarser level, vectors doubled.
                    Some((f, cw, ch)) => {
                        let cx = (x0 as f32 + half + 0.5) * 0.5 - 0.5;
                        let cy = (y0 as f32 + half + 0.5) * 0.5 - 0.5;
                        let [u, v] = sample_flow(f, cw, ch, cx, cy);
                        [2.0 * u, 2.0 * v]
                    }
                    None => [0.0; 2],
                };
                *o = search_patch::<P>(a, b, x0, y0, start, iterations);
            }
        }
    });
}

/// Inverse-compositional Gauss-Newton for the translation of one patch.
fn search_patch<const P: usize>(
    a: &Padded,
    b: &Padded,
    x0: usize,
    y0: usize,
    start: [f32; 2],
    iters: usize,
) -> [f32; 2] {
    let mut tpl = [[0.0f32; P]; P];
    let mut gx = [[0.0f32; P]; P];
    let mut gy = [[0.0f32; P]; P];
    let s = a.stride();
    let base = a.at(x0, y0);
    for r in 0..P {
        let i = base + r * s;
        let (up, mid, down) = (&a.data[i - s..][..P], &a.data[i - 1..][..P + 2], &a.data[i + s..][..P]);
        for c in 0..P {
            tpl[r][c] = mid[c + 1];
            gx[r][c] = 0.5 * (mid[c + 2] - mid[c]);
            gy[r][c] = 0.5 * (down[c] - up[c]);
        }
    }
    let inv_n = 1.0 / (P * P) as f32;
    // Zero-mean template and gradients: the residual of mean-normalised
    // patches, and its Jacobian.
    for v in [&mut tpl, &mut gx, &mut gy] {
        let mean = v.iter().flatten().sum::<f32>() * inv_n;
        v.iter_mut().flatten().for_each(|x| *x -= mean);
    }
    let (mut hxx, mut hxy, mut hyy) = (0.0f32, 0.0f32, 0.0f32);
    for (gxr, gyr) in gx.iter().zip(&gy) {
        for c in 0..P {
            hxx += gxr[c] * gxr[c];
            hxy += gxr[c] * gyr[c];
            hyy += gyr[c] * gyr[c];
        }
    }
    // A Tikhonov term of about a third of an 8-bit step of gradient per
    // pixel keeps flat patches from drifting on noise.
    let reg = (P * P) as f32 * 1.5e-6;
    let (hxx, hyy) = (hxx + reg, hyy + reg);
    let inv_det = 1.0 / (hxx * hyy - hxy * hxy);

    let mut win = [[0.0f32; P]; P];
    let (mut u, mut v) = (start[0], start[1]);
    let mut best = (f32::INFINITY, start);
    let limit = (P * P) as f32;
    for it in 0..=iters {
        sample_window::<P>(b, x0 as f32 + u, y0 as f32 + v, &mut win);
        let mean = win.iter().flatten().sum::<f32>() * inv_n;
        let (mut e, mut bx, mut by) = (0.0f32, 0.0f32, 0.0f32);
        for r in 0..P {
            for c in 0..P {
                let d = win[r][c] - tpl[r][c];
                let res = d - mean;
                e += res * res;
                // The gradients are zero-mean, so `d` needs no centring.
                bx += gx[r][c] * d;
                by += gy[r][c] * d;
            }
        }
        if e < best.0 {
            best = (e, [u, v]);
        }
        if it == iters {
            break;
        }
        let du = (hyy * bx - hxy * by) * inv_det;
        let dv = (hxx * by - hxy * bx) * inv_det;
        u -= du;
        v -= dv;
        let (tu, tv) = (u - start[0], v - start[1]);
        // Converged, or lost: a patch that wanders further than its own size.
        let wander = tu * tu + tv * tv;
        if du * du + dv * dv < CONVERGED * CONVERGED || wander > limit || wander.is_nan() {
            break;
        }
    }
    best.1
}

/// Per-pixel weighted average of the flows of the patches covering it.
fn densify<const P: usize>(
    a: &Padded,
    b: &Padded,
    grid: &Grid,
    patches: &[[f32; 2]],
    acc: &mut [[f32; 3]],
    flow: &mut [[f32; 2]],
) {
    let w = a.w;
    let bands = par::bands(a.h, w * P * P / 4);
    let jobs: Vec<_> =
        bands.iter().cloned().zip(par::split_rows(acc, w, &bands)).zip(par::split_rows(flow, w, &bands)).collect();
    par::run(jobs, |((band, acc), flow)| {
        let acc = &mut acc[..band.len() * w];
        acc.fill([0.0; 3]);
        let mut win = [[0.0f32; P]; P];
        for (j, &y0) in grid.ys.iter().enumerate() {
            if y0 + P <= band.start || y0 >= band.end {
                continue;
            }
            let rows = y0.max(band.start)..(y0 + P).min(band.end);
            for (i, &x0) in grid.xs.iter().enumerate() {
                let [u, v] = patches[j * grid.nx + i];
                sample_window::<P>(b, x0 as f32 + u, y0 as f32 + v, &mut win);
                for y in rows.clone() {
                    let ar = &a.data[a.at(x0, y)..][..P];
                    let wr = &win[y - y0];
                    let out = &mut acc[(y - band.start) * w + x0..][..P];
                    for c in 0..P {
                        let e = (wr[c] - ar[c]).abs().max(DENSIFY_EPS);
                        let l = 1.0 / (e * e);
                        out[c][0] += l * u;
                        out[c][1] += l * v;
                        out[c][2] += l;
                    }
                }
            }
        }
        for (f, s) in flow.iter_mut().zip(acc.iter()) {
            let inv = 1.0 / s[2];
            *f = [s[0] * inv, s[1] * inv];
        }
    });
}

/// Bilinear upsampling (half-pixel centres, clamped at the edges) of the
/// interleaved `lw` x `lh` flow by `2^ds` to planar `w` x `h`, vectors
/// multiplied by `2^ds`. With `S = 2^ds > 1`, output column `S j + S/2 + k`
/// (`k < S`) lies at `j + (k + 0.5) / S` on the level, so each level
/// interval expands into `S` outputs with fixed fractions.
#[allow(clippy::too_many_arguments)]
fn upsample(
    flow: &[[f32; 2]],
    lw: usize,
    lh: usize,
    ds: u32,
    w: usize,
    h: usize,
    fracs: &mut Vec<f32>,
    rows: &mut Vec<f32>,
    out: &mut [f32],
) {
    let (xs, ys) = out.split_at_mut(w * h);
    let s = 1usize << ds;
    let scale = s as f32;
    fracs.clear();
    fracs.extend((0..s).map(|k| (k as f32 + 0.5) / scale));
    let fracs = &fracs[..];
    let bands = par::bands(h, w * 2);
    rows.resize(bands.len() * 2 * lw, 0.0);
    let jobs: Vec<_> = bands
        .iter()
        .cloned()
        .zip(par::split_rows(xs, w, &bands))
        .zip(par::split_rows(ys, w, &bands))
        .zip(rows.chunks_exact_mut(2 * lw))
        .collect();
    par::run(jobs, |(((band, xs), ys), tmp)| {
        let (tx, ty) = tmp.split_at_mut(lw);
        for ((y, xr), yr) in band.zip(xs.chunks_mut(w)).zip(ys.chunks_mut(w)) {
            // Vertical: the two level rows around y, vectors scaled.
            let v = ((y as f32 + 0.5) / scale - 0.5).clamp(0.0, (lh - 1) as f32);
            let j0 = v as usize;
            let (j1, fy) = ((j0 + 1).min(lh - 1), v - j0 as f32);
            let (r0, r1) = (&flow[j0 * lw..][..lw], &flow[j1 * lw..][..lw]);
            for (((a, b), tx), ty) in r0.iter().zip(r1).zip(tx.iter_mut()).zip(ty.iter_mut()) {
                *tx = (a[0] + fy * (b[0] - a[0])) * scale;
                *ty = (a[1] + fy * (b[1] - a[1])) * scale;
            }
            // Horizontal: clamped left border, level intervals, clamped
            // right border (which also covers columns past `lw * S`).
            for (out, t) in [(&mut *xr, &*tx), (&mut *yr, &*ty)] {
                if s == 1 {
                    out.copy_from_slice(&t[..w]);
                    continue;
                }
                let left = (s / 2).min(w);
                out[..left].fill(t[0]);
                // Whole intervals that fit, then the clamped rest.
                let whole = (lw - 1).min((w - left) / s);
                let body = &mut out[left..left + whole * s];
                if s == 4 {
                    for (o, p) in body.chunks_exact_mut(4).zip(t.windows(2)) {
                        let d = p[1] - p[0];
                        o.copy_from_slice(&[p[0] + 0.125 * d, p[0] + 0.375 * d, p[0] + 0.625 * d, p[0] + 0.875 * d]);
                    }
                } else {
                    for (o, p) in body.chunks_exact_mut(s).zip(t.windows(2)) {
                        for (o, &f) in o.iter_mut().zip(fracs) {
                            *o = p[0] + f * (p[1] - p[0]);
                        }
                    }
                }
                let mut x = left + whole * s;
                if whole < lw - 1 {
                    // A partial interval at the right edge.
                    let p = &t[whole..whole + 2];
                    for (o, &f) in out[x..].iter_mut().zip(fracs) {
                        *o = p[0] + f * (p[1] - p[0]);
                    }
                    x = w;
                }
                out[x..].fill(t[lw - 1]);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bilinear upsampling written directly from its definition.
    fn reference(flow: &[[f32; 2]], lw: usize, lh: usize, s: usize, x: usize, y: usize) -> [f32; 2] {
        let fx = ((x as f32 + 0.5) / s as f32 - 0.5).clamp(0.0, (lw - 1) as f32);
        let fy = ((y as f32 + 0.5) / s as f32 - 0.5).clamp(0.0, (lh - 1) as f32);
        let v = sample_flow(flow, lw, lh, fx, fy);
        [v[0] * s as f32, v[1] * s as f32]
    }

    #[test]
    fn upsample_is_clamped_bilinear() {
        for (lw, lh, ds, w, h) in
            [(5, 4, 2, 20, 16), (5, 4, 2, 23, 19), (7, 3, 1, 15, 7), (4, 4, 0, 4, 4), (3, 2, 3, 30, 17)]
        {
            let flow: Vec<[f32; 2]> = (0..lw * lh).map(|i| [(i * 7 % 11) as f32, (i * 5 % 13) as f32 - 6.0]).collect();
            let (mut fracs, mut rows, mut out) = (Vec::new(), Vec::new(), vec![f32::NAN; 2 * w * h]);
            upsample(&flow, lw, lh, ds, w, h, &mut fracs, &mut rows, &mut out);
            for y in 0..h {
                for x in 0..w {
                    let want = reference(&flow, lw, lh, 1 << ds, x, y);
                    let got = [out[y * w + x], out[w * h + y * w + x]];
                    for k in 0..2 {
                        assert!(
                            (got[k] - want[k]).abs() < 1e-4,
                            "{lw}x{lh} ds {ds} -> {w}x{h} at ({x}, {y}): {got:?} vs {want:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn box_down_averages_blocks_and_pads() {
        let (w, h) = (9, 6);
        let src: Vec<f32> = (0..w * h).map(|i| i as f32).collect();
        let mut dst = Padded::default();
        dst.reshape(w / 2, h / 2, 2);
        box_down(&src, w, 0, 2, &mut dst, &mut Vec::new());
        for y in 0..h / 2 {
            for x in 0..w / 2 {
                let want = (src[2 * y * w + 2 * x]
                    + src[2 * y * w + 2 * x + 1]
                    + src[(2 * y + 1) * w + 2 * x]
                    + src[(2 * y + 1) * w + 2 * x + 1])
                    / 4.0;
                assert_eq!(dst.data[dst.at(x, y)], want);
            }
        }
        // The border repeats the edge: the top-left corner of the padding.
        assert_eq!(dst.data[0], dst.data[dst.at(0, 0)]);
        let last = dst.data.len() - 1;
        assert_eq!(dst.data[last], dst.data[dst.at(w / 2 - 1, h / 2 - 1)]);
    }

    #[test]
    fn patch_grid_covers_every_pixel() {
        for (len, p, s) in [(20, 8, 4), (21, 8, 4), (8, 8, 4), (37, 6, 5), (9, 3, 1)] {
            let grid = Grid::new(len, len, p, s);
            let mut covered = vec![false; len];
            for &x in &grid.xs {
                assert!(x + p <= len);
                covered[x..x + p].iter_mut().for_each(|c| *c = true);
            }
            assert!(covered.iter().all(|&c| c), "{len} {p} {s}");
        }
    }
}
