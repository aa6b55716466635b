//! Frame interpolation from a pair of flows, plus the plain backward `warp`.
//!
//! `interpolate` works in three steps:
//!
//! 1. Nodes: on a coarse grid (one node per `g` x `g` block, `g` = 1, 2 or 4
//!    from the frame size; the flows come from a 1/2- or 1/4-resolution
//!    estimate and are smooth at that scale anyway) each frame's flow is read at the pixel
//!    nearest the node's centre, together with its photometric consistency
//!    `c = 1 / (1 + (e / 0.03)^2)^2`, `e` being the mean absolute RGB
//!    difference between that pixel and the (bilinear) pixel its flow points
//!    to in the other frame. `c` is low where the flow is wrong and where the
//!    pixel has no counterpart because it is occluded in the other frame.
//!    (A forward/backward flow test, `|F01(x) + F10(x + F01(x))|`, was tried
//!    first; with flows estimated at 1/4 resolution it is too often
//!    accidentally consistent near motion boundaries, and did worse.)
//! 2. Motion at time t by forward splatting: every node of frame 0 moves to
//!    `x + t F01(x)`, every node of frame 1 to `x + (1 - t) F10(x)`, and is
//!    splatted bilinearly there carrying its motion (`F01`, or `-F10`; the
//!    sums are in fixed point, see [`fixed`], so that they do not depend on
//!    the order of the additions: the CUDA twin adds with atomics),
//!    weighted by `c` (a soft z-buffer: where a well-matched foreground and
//!    a badly matched, about to be occluded background land on the same
//!    spot, the foreground's motion wins). Nodes nothing landed on (regions
//!    uncovered at time t) are filled by push-pull. Unlike Super SloMo's
//!    linear combination of `F01(x)` and `F10(x)` at the same `x`, this puts
//!    the motion of a moving object where the object is at time t.
//! 3. Visibility, per node: frame 0 is to be sampled at `x - t m`, frame 1
//!    at `x + (1 - t) m`; with `o_k = 1 - c_k` at those positions (bilinear
//!    on the node grids), `v0 = 1 - o1 (1 - o0)` and `v1 = 1 - o0 (1 - o1)`,
//!    and the blend weight of frame 1 is `t v1 / ((1 - t) v0 + t v1)`. When
//!    the sample of one frame has no counterpart in the other (it was just
//!    uncovered, or is about to be covered) while the other's sample does,
//!    that other sample is the occluder, which is not at this spot at time
//!    t, and the unmatched sample is used alone; when both or neither match,
//!    the blend is the usual `(1 - t) : t`.
//! 4. Per pixel: motion and blend weight are bilinearly upsampled from the
//!    nodes, both frames are sampled (bilinear, clamped to the image) and
//!    blended, in chunks of 8 pixels whose positions are computed together.
//!
//! Where the two frames are equal over a 3x3 neighbourhood (maximum channel
//! difference below 1/255, fading out at 3/255) the output is the pixel
//! itself, `f0 + t (f1 - f0)`: static content is reproduced exactly and
//! never shimmers, whatever the flow says.

mod compose;
mod sample;

use compose::compose;
use sample::{Taps, clampf, floor_split, plane_taps, sample1};

use super::par;

/// Static-region detection thresholds on the 3x3 max of `max_c |f0 - f1|`.
pub(crate) const STATIC_LO: f32 = 1.0 / 255.0;
pub(crate) const STATIC_HI: f32 = 3.0 / 255.0;
/// Scale of the photometric error in the consistency `1 / (1 + (e / s)^2)^2`.
pub(crate) const MATCH_SCALE: f32 = 0.03;
/// Frames of at most this many pixels (640x360) are sampled bicubically;
/// larger ones bilinearly (bicubic doubles the cost of `interpolate`, which
/// 1280x720 at 60 fps cannot afford on two cores).
pub(crate) const BICUBIC_PIXELS: usize = 640 * 360;
/// Floor of the splatting weights, so that where only badly matched nodes
/// land their motions still average.
pub(crate) const SPLAT_FLOOR: f32 = 1e-3;
/// The splat's fixed point: sums are integers in units of 2^-24.
const SPLAT_ONE: f32 = 16_777_216.0;
/// Largest magnitude a splat contribution is clamped to before it is made fixed (2^30: no
/// frame's motion comes near it, and 2^30 2^24 leaves 2^9 of headroom below 2^63; sums of more
/// such extreme contributions wrap, the same way on the CPU (`wrapping_add`) and the GPU
/// (atomics modulo 2^64), so the twins still agree).
const SPLAT_MAX: f32 = 1_073_741_824.0;

/// `v` in the splat's fixed point, toward zero (NaN as the lowest value, as `clampf` gives):
/// integer sums are the same in any order, so the CUDA twin's atomic additions give the CPU's
/// sums bit for bit (float sums would depend on which thread adds first).
#[inline(always)]
fn fixed(v: f32) -> i64 {
    let v = clampf(v, -SPLAT_MAX, SPLAT_MAX) * SPLAT_ONE;
    // SAFETY: `v` is finite (clampf maps NaN to the lower bound) and at most 2^54 in magnitude,
    // so truncated it is an i64: one `cvttss2si`, without the range and NaN checks of `as`
    // (callgrind on yuv_eval, 640x272 4:2:0, flow and all: +7.6% of the instructions of float
    // sums with `as`, +4.3% with this).
    unsafe { v.to_int_unchecked::<i64>() }
}

/// A fixed-point sum back as a float.
#[inline(always)]
fn unfixed(v: i64) -> f32 {
    v as f32 * (1.0 / SPLAT_ONE)
}

#[derive(Default)]
pub(crate) struct Workspace {
    /// Per frame and node: motion (x, y) and consistency.
    nodes: [Vec<[f32; 3]>; 2],
    /// Per frame and node at time t: coverage, weight, weighted motion x, y, in fixed point.
    splat: [Vec<[i64; 4]>; 2],
    /// Per node: the motion at time t and the blend weight of frame 1.
    field: Vec<Node4>,
    /// Push-pull pyramid of (weighted motion x, y, weight).
    pull: Vec<Vec<[f32; 3]>>,
    /// Five rows per band: three of frame differences, weights, scratch.
    rows: Vec<f32>,
    /// One row of nodes per band, interpolated between two node rows.
    node_rows: Vec<Node4>,
    /// Per pixel column: left node and fraction.
    taps: Vec<(u32, f32)>,
}

/// Bilinear sample of plane `p` (`w` x `h`) at (x, y), clamped to the image.
#[inline(always)]
fn bilinear(p: &[f32], w: usize, h: usize, x: f32, y: f32) -> f32 {
    if w >= 2 && h >= 2 {
        return sample1(p, w, plane_taps(x, y, w, h));
    }
    bilinear_line(p, w, h, x, y)
}

/// `bilinear` for a single row or column (or pixel): linear along it.
fn bilinear_line(p: &[f32], w: usize, h: usize, x: f32, y: f32) -> f32 {
    let (len, v) = if w >= 2 { (w, x) } else { (h, y) };
    if len < 2 {
        return p[0];
    }
    let (i, f) = floor_split(clampf(v, 0.0, (len - 1) as f32), (len - 2) as f32);
    (1.0 - f) * p[i] + f * p[i + 1]
}

/// `out(p) = src(p + flow(p))` for each of the `channels` planes. Samples
/// are weighted sums `(1 - f) a + f b`, so whole-pixel positions (clamped
/// ones included) reproduce pixels exactly.
pub(crate) fn warp(src: &[f32], channels: usize, w: usize, h: usize, flow: &[f32], out: &mut [f32]) {
    let n = w * h;
    let (fx, fy) = flow.split_at(n);
    let bands = par::bands(h, w * channels);
    // Each job owns its band of rows in every channel plane.
    let mut planes: Vec<Vec<&mut [f32]>> = out.chunks_exact_mut(n).map(|p| par::split_rows(p, w, &bands)).collect();
    let jobs: Vec<_> = (0..bands.len())
        .map(|b| (bands[b].clone(), planes.iter_mut().map(|p| std::mem::take(&mut p[b])).collect::<Vec<_>>()))
        .collect();
    par::run(jobs, |(band, mut outs)| {
        for y in band.clone() {
            let yf = y as f32;
            let o = (y - band.start) * w;
            for x in 0..w {
                let i = y * w + x;
                let (px, py) = (x as f32 + fx[i], yf + fy[i]);
                if w >= 2 && h >= 2 {
                    let Taps { ix, iy, fx, fy } = plane_taps(px, py, w, h);
                    for (c, out) in outs.iter_mut().enumerate() {
                        let q = &src[c * n + iy * w + ix..][..w + 2];
                        let top = (1.0 - fx) * q[0] + fx * q[1];
                        let bottom = (1.0 - fx) * q[w] + fx * q[w + 1];
                        out[o + x] = (1.0 - fy) * top + fy * bottom;
                    }
                } else {
                    for (c, out) in outs.iter_mut().enumerate() {
                        out[o + x] = bilinear_line(&src[c * n..][..n], w, h, px, py);
                    }
                }
            }
        }
    });
}

/// Node spacing for a `w` x `h` frame: 4 while that keeps at least 256 nodes along the longer
/// side, else 2 while that keeps at least 32, else 1. The flow of frames up to 640x360 is
/// estimated at half resolution (`FlowParams::for_size`) and is smooth at that scale: nodes
/// every pixel cost twice the time of the whole pass for no gain (bikes.mp4 at 320x136 -0.02 dB
/// with half-resolution flow, at 640x272 -0.03 dB, at 176x144 -0.03 dB).
fn node_step(w: usize, h: usize) -> usize {
    let long = w.max(h);
    if long / 4 >= 256 {
        4
    } else if long / 2 >= 32 {
        2
    } else {
        1
    }
}

/// Full-resolution coordinate of node `i` (the centre of its block).
#[inline(always)]
fn node_pos(i: usize, g: usize) -> f32 {
    (i * g) as f32 + (g as f32 - 1.0) * 0.5
}

/// Horizontal or vertical bilinear tap from full-resolution index `x` into
/// `len` nodes spaced `g` apart: (left node, right node, fraction).
#[inline(always)]
fn node_tap(x: f32, inv_g: f32, len: usize) -> (usize, usize, f32) {
    if len < 2 {
        return (0, 0, 0.0);
    }
    let (i, f) = floor_split(clampf((x + 0.5) * inv_g - 0.5, 0.0, (len - 1) as f32), (len - 2) as f32);
    (i, i + 1, f)
}

/// How a frame's planes lie in the slices `interpolate` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PlaneLayout {
    /// Three `w` x `h` planes (R, G, B).
    Rgb,
    /// A `w` x `h` luma plane, then two `ceil(w/2)` x `ceil(h/2)` chroma planes (U, V): 4:2:0.
    Yuv420,
}

impl PlaneLayout {
    /// Values per frame of `w` x `h` pixels.
    pub(crate) fn len(self, w: usize, h: usize) -> usize {
        match self {
            Self::Rgb => 3 * w * h,
            Self::Yuv420 => w * h + 2 * w.div_ceil(2) * h.div_ceil(2),
        }
    }

    /// The groups of planes composed together: (width, height, subsampling, planes' offsets).
    pub(crate) fn groups(self, w: usize, h: usize) -> Vec<PlaneGroup> {
        let n = w * h;
        match self {
            Self::Rgb => vec![PlaneGroup { w, h, s: 1, starts: vec![0, n, 2 * n] }],
            Self::Yuv420 => {
                let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
                vec![
                    PlaneGroup { w, h, s: 1, starts: vec![0] },
                    PlaneGroup { w: cw, h: ch, s: 2, starts: vec![n, n + cw * ch] },
                ]
            }
        }
    }
}

/// Planes of one size composed in one pass: `s` full-resolution pixels per plane pixel along
/// each axis, the planes starting at `starts`.
pub(crate) struct PlaneGroup {
    pub(crate) w: usize,
    pub(crate) h: usize,
    pub(crate) s: usize,
    pub(crate) starts: Vec<usize>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn interpolate(
    f0: &[f32],
    f1: &[f32],
    w: usize,
    h: usize,
    layout: PlaneLayout,
    flow01: &[f32],
    flow10: &[f32],
    t: f32,
    ws: &mut Workspace,
    out: &mut [f32],
) {
    // The end points are the frames themselves.
    if t == 0.0 || t == 1.0 {
        out.copy_from_slice(if t == 0.0 { f0 } else { f1 });
        return;
    }
    let grid = NodeGrid::new(w, h);
    sample_nodes(w, h, layout, &grid, [flow01, flow10], [f0, f1], &mut ws.nodes);
    splat(&ws.nodes, &grid, t, &mut ws.splat);
    merge(&ws.splat, &grid, &mut ws.field, &mut ws.pull);
    visibility(&ws.nodes, &grid, t, &mut ws.field);
    let mut rest = out;
    let mut at = 0;
    for g in layout.groups(w, h) {
        let (mut outs, mut p0, mut p1) = (Vec::new(), Vec::new(), Vec::new());
        let len = g.w * g.h;
        for &start in &g.starts {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(start - at + len);
            outs.push(&mut head[start - at..]);
            rest = tail;
            at = start + len;
            p0.push(&f0[start..start + len]);
            p1.push(&f1[start..start + len]);
        }
        compose(&p0, &p1, outs, &g, &grid, t, ws);
    }
}

/// The node grid of a frame: spacing `g` (and its inverse), `gw` x `gh` nodes.
#[derive(Clone, Copy)]
pub(crate) struct NodeGrid {
    pub(crate) g: usize,
    pub(crate) gw: usize,
    pub(crate) gh: usize,
    pub(crate) inv_g: f32,
}

impl NodeGrid {
    pub(crate) fn new(w: usize, h: usize) -> Self {
        let g = node_step(w, h);
        Self { g, gw: w.div_ceil(g), gh: h.div_ceil(g), inv_g: 1.0 / g as f32 }
    }
}

/// Samples both flows at the nodes, with their photometric consistency.
fn sample_nodes(
    w: usize,
    h: usize,
    layout: PlaneLayout,
    grid: &NodeGrid,
    flows: [&[f32]; 2],
    frames: [&[f32]; 2],
    nodes: &mut [Vec<[f32; 3]>; 2],
) {
    let n = w * h;
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (g, gw, gh) = (grid.g, grid.gw, grid.gh);
    let inv_scale = 1.0 / (3.0 * MATCH_SCALE);
    // The bands of both frames in one call: one wait instead of two.
    let bands = par::bands(gh, gw * 32);
    let mut jobs = Vec::with_capacity(2 * bands.len());
    for (k, out) in nodes.iter_mut().enumerate() {
        out.resize(gw * gh, [0.0; 3]);
        jobs.extend(bands.iter().cloned().zip(par::split_rows(&mut out[..], gw, &bands)).map(|(b, r)| (k, b, r)));
    }
    par::run(jobs, |(k, band, rows)| {
        let (fx, fy) = flows[k].split_at(n);
        let (here, there) = (frames[k], frames[1 - k]);
        for (j, row) in band.zip(rows.chunks_mut(gw)) {
            // The pixel nearest the node's centre (the flows are smooth
            // at node scale), and where its flow points to, bilinear.
            let py = (j * g + g / 2).min(h - 1);
            for (i, o) in row.iter_mut().enumerate() {
                let px = (i * g + g / 2).min(w - 1);
                let (x, y, i) = (px as f32, py as f32, py * w + px);
                let (u, v) = (fx[i], fy[i]);
                let mut e = 0.0f32;
                match layout {
                    PlaneLayout::Rgb => {
                        for c in 0..3 {
                            let b = bilinear(&there[c * n..][..n], w, h, x + u, y + v);
                            e += (here[c * n + i] - b).abs();
                        }
                    }
                    PlaneLayout::Yuv420 => {
                        // About the RGB sum of absolute differences (BT.601, limited
                        // range): a luma step moves R, G and B by ~3.5 times as much in
                        // all, a chroma step by ~2.4 times.
                        let b = bilinear(&there[..n], w, h, x + u, y + v);
                        e += 3.5 * (here[i] - b).abs();
                        let (cx, cy) = ((x + u + 0.5) * 0.5 - 0.5, (y + v + 0.5) * 0.5 - 0.5);
                        let ci = (py / 2) * cw + px / 2;
                        // One set of taps for both chroma planes (what `bilinear` takes
                        // for each).
                        let taps = (cw >= 2 && ch >= 2).then(|| plane_taps(cx, cy, cw, ch));
                        for c in [n, n + cw * ch] {
                            let p = &there[c..][..cw * ch];
                            let b = taps.map_or_else(|| bilinear(p, cw, ch, cx, cy), |t| sample1(p, cw, t));
                            e += 2.4 * (here[c + ci] - b).abs();
                        }
                    }
                }
                let z = e * inv_scale;
                let z = 1.0 + z * z;
                *o = [u, v, 1.0 / (z * z)];
            }
        }
    });
}

/// Forward-splats the nodes of both frames to time `t`.
fn splat(nodes: &[Vec<[f32; 3]>; 2], grid: &NodeGrid, t: f32, acc: &mut [Vec<[i64; 4]>; 2]) {
    let (gw, gh, inv_g) = (grid.gw, grid.gh, grid.inv_g);
    let [a0, a1] = acc;
    a0.resize(gw * gh, [0; 4]);
    a1.resize(gw * gh, [0; 4]);
    // Frame 0 moves by t F01 and has motion F01; frame 1 moves by
    // (1 - t) F10 and has motion -F10. One job per frame.
    let jobs = vec![(&nodes[0][..], &mut a0[..], t, 1.0f32), (&nodes[1][..], &mut a1[..], 1.0 - t, -1.0f32)];
    let work = |(src, acc, tau, sign): (&[[f32; 3]], &mut [[i64; 4]], f32, f32)| {
        acc.fill([0; 4]);
        for j in 0..gh {
            for i in 0..gw {
                let [u, v, c] = src[j * gw + i];
                let x = i as f32 + tau * u * inv_g;
                let y = j as f32 + tau * v * inv_g;
                if !(x > -1.0 && y > -1.0 && x < gw as f32 && y < gh as f32) {
                    continue;
                }
                // Shifted by 1 to be positive; node (xi, yi) is (x0 + 1, y0 + 1).
                let (xi, ax) = floor_split(x + 1.0, gw as f32);
                let (yi, ay) = floor_split(y + 1.0, gh as f32);
                let wc = c + SPLAT_FLOOR;
                let (mu, mv) = (sign * u, sign * v);
                for (yy, wy) in [(yi, 1.0 - ay), (yi + 1, ay)] {
                    if yy == 0 || yy > gh {
                        continue;
                    }
                    for (xx, wx) in [(xi, 1.0 - ax), (xi + 1, ax)] {
                        if xx == 0 || xx > gw {
                            continue;
                        }
                        let wgt = wx * wy;
                        let a = &mut acc[(yy - 1) * gw + xx - 1];
                        let add = [wgt, wgt * wc, wgt * wc * mu, wgt * wc * mv].map(fixed);
                        for (a, d) in a.iter_mut().zip(add) {
                            *a = a.wrapping_add(d);
                        }
                    }
                }
            }
        }
    };
    if gw * gh < 4096 {
        jobs.into_iter().for_each(work);
    } else {
        par::run(jobs, work);
    }
}

/// The motion at time t from both splats; nodes nothing landed on are
/// filled by push-pull.
fn merge(acc: &[Vec<[i64; 4]>; 2], grid: &NodeGrid, field: &mut Vec<Node4>, pull: &mut Vec<Vec<[f32; 3]>>) {
    let (gw, gh) = (grid.gw, grid.gh);
    if pull.is_empty() {
        pull.push(Vec::new());
    }
    pull[0].clear();
    pull[0]
        .extend(acc[0].iter().zip(&acc[1]).map(|(a0, a1)| merge1(std::array::from_fn(|k| a0[k].wrapping_add(a1[k])))));
    push_pull(pull, gw, gh);
    field.clear();
    field.extend(pull[0].iter().map(|p| [p[0], p[1], 0.0, 0.0]));
}

/// One node of `merge` from the sums of both splats: the mean motion weighted by consistency,
/// premultiplied by the coverage (capped at 1), and that coverage.
#[inline(always)]
fn merge1(a: [i64; 4]) -> [f32; 3] {
    let wz = unfixed(a[1]);
    let conf = unfixed(a[0]).min(1.0);
    if wz > 0.0 {
        let k = conf / wz;
        [unfixed(a[2]) * k, unfixed(a[3]) * k, conf]
    } else {
        [0.0; 3]
    }
}

/// Consistency of `nodes` at full-resolution coordinates (x, y), bilinear.
#[inline(always)]
fn consistency(nodes: &[[f32; 3]], grid: &NodeGrid, x: f32, y: f32) -> f32 {
    let (i0, i1, fx) = node_tap(x, grid.inv_g, grid.gw);
    let (j0, j1, fy) = node_tap(y, grid.inv_g, grid.gh);
    let (r0, r1) = (&nodes[j0 * grid.gw..][..grid.gw], &nodes[j1 * grid.gw..][..grid.gw]);
    let top = r0[i0][2] + fx * (r0[i1][2] - r0[i0][2]);
    let bottom = r1[i0][2] + fx * (r1[i1][2] - r1[i0][2]);
    top + fy * (bottom - top)
}

/// The blend weight of frame 1 at each node, from the consistencies of the
/// two frames where the node's motion samples them (see the module doc).
fn visibility(nodes: &[Vec<[f32; 3]>; 2], grid: &NodeGrid, t: f32, field: &mut [Node4]) {
    let (g, gw) = (grid.g, grid.gw);
    let bands = par::bands(grid.gh, gw * 16);
    let jobs: Vec<_> = bands.iter().cloned().zip(par::split_rows(field, gw, &bands)).collect();
    par::run(jobs, |(band, rows)| {
        for (j, row) in band.zip(rows.chunks_mut(gw)) {
            let y = node_pos(j, g);
            for (i, f) in row.iter_mut().enumerate() {
                let x = node_pos(i, g);
                let [mx, my, _, _] = *f;
                let o0 = 1.0 - consistency(&nodes[0], grid, x - t * mx, y - t * my);
                let o1 = 1.0 - consistency(&nodes[1], grid, x + (1.0 - t) * mx, y + (1.0 - t) * my);
                let w0 = (1.0 - t) * (1.0 - o1 * (1.0 - o0));
                let w1 = t * (1.0 - o0 * (1.0 - o1));
                f[2] = if w0 + w1 > 1e-6 { w1 / (w0 + w1) } else { t };
            }
        }
    });
}

/// Fills low-confidence entries of `pull[0]` (premultiplied motion, weight)
/// from coarser averages; on return `pull[0]` holds plain motion.
fn push_pull(pull: &mut Vec<Vec<[f32; 3]>>, gw: usize, gh: usize) {
    let mut dims = vec![(gw, gh)];
    while let Some(&(w, h)) = dims.last().filter(|&&(w, h)| w > 1 || h > 1) {
        let l = dims.len() - 1;
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        if pull.len() <= l + 1 {
            pull.push(Vec::new());
        }
        let (lo, hi) = pull.split_at_mut(l + 1);
        let (fine, coarse) = (&lo[l], &mut hi[0]);
        coarse.clear();
        coarse.resize(cw * ch, [0.0; 3]);
        for y in 0..h {
            for x in 0..w {
                let (f, c) = (fine[y * w + x], &mut coarse[(y / 2) * cw + x / 2]);
                *c = [c[0] + f[0], c[1] + f[1], c[2] + f[2]];
            }
        }
        // Normalise to at most unit weight, keeping the mean.
        for c in coarse.iter_mut() {
            if c[2] > 1.0 {
                let k = 1.0 / c[2];
                *c = [c[0] * k, c[1] * k, 1.0];
            }
        }
        dims.push((cw, ch));
    }
    // Push, coarse to fine: each entry becomes plain motion, its missing
    // weight taken from its (already plain) parent.
    for l in (0..dims.len()).rev() {
        let (w, h) = dims[l];
        let (lo, hi) = pull.split_at_mut(l + 1);
        let parent = if l + 1 < dims.len() { Some((&hi[0], dims[l + 1].0)) } else { None };
        for y in 0..h {
            for x in 0..w {
                let e = &mut lo[l][y * w + x];
                let (px, py) = parent.map_or((0.0, 0.0), |(p, cw)| {
                    let q = p[(y / 2) * cw + x / 2];
                    (q[0], q[1])
                });
                let miss = 1.0 - e[2];
                *e = [e[0] + miss * px, e[1] + miss * py, 1.0];
            }
        }
    }
}

/// Motion x, motion y, blend weight of frame 1, unused.
type Node4 = [f32; 4];

/// `a + f (b - a)` on all four lanes.
#[inline(always)]
fn lerp4(a: Node4, b: Node4, f: f32) -> Node4 {
    [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2]), a[3] + f * (b[3] - a[3])]
}

#[cfg(test)]
mod tests {
    use super::sample::{ChunkTaps, LANES, catmull_rom};
    use super::*;

    #[test]
    fn chunk_taps_in_f32_lanes_equal_the_integer_ones() {
        // `new` (f32 index, planes under 2^23 pixels) against `new_large` (the integer path
        // larger planes take), on positions inside, on and past the borders.
        let mut k = 12345u32;
        let mut next = || {
            k = k.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (k >> 8) as f32 / (1 << 24) as f32
        };
        for (w, h) in [(2, 2), (7, 5), (1280, 720), (4095, 2047)] {
            for cubic in [false, true] {
                for _ in 0..200 {
                    let m = [[0.0; LANES]; 3].map(|_| std::array::from_fn(|_| (next() - 0.5) * 80.0));
                    let (x0, y) = ((next() * w as f32) as usize, (next() * h as f32).floor());
                    let t = next() * 2.0 - 1.0;
                    let (a, b) =
                        (ChunkTaps::new(x0, y, t, &m, w, h, cubic), ChunkTaps::new_large(x0, y, t, &m, w, h, cubic));
                    assert_eq!(a.index, b.index, "{w}x{h} x0 {x0} y {y}");
                    assert_eq!((a.fx, a.fy, a.cubic), (b.fx, b.fy, b.cubic), "{w}x{h} x0 {x0} y {y}");
                }
            }
        }
    }

    #[test]
    fn floor_split_matches_floor() {
        for v in [0.0f32, 0.25, 0.999_999, 1.0, 1.5, 2.0, 3.75, 1279.0, 1278.999, 4_000_000.5] {
            let (i, f) = floor_split(v, 1e7);
            assert_eq!(i as f32, v.floor(), "{v}");
            assert_eq!(f, v - v.floor(), "{v}");
        }
        // Capped at `top`, the fraction reaching 1.
        assert_eq!(floor_split(9.0, 8.0), (8, 1.0));
        assert_eq!(floor_split(8.5, 8.0), (8, 0.5));
    }

    #[test]
    fn clampf_limits_and_maps_nan_low() {
        assert_eq!(clampf(-1.0, 0.0, 5.0), 0.0);
        assert_eq!(clampf(7.0, 0.0, 5.0), 5.0);
        assert_eq!(clampf(2.5, 0.0, 5.0), 2.5);
        assert_eq!(clampf(f32::NAN, 0.0, 5.0), 0.0);
    }

    #[test]
    fn push_pull_keeps_known_motion_and_fills_holes() {
        // A 4x4 grid with motion 2 on the left half, 6 on the right, and a
        // hole at (1, 1) and one at (3, 3).
        let (gw, gh) = (4, 4);
        let mut level = vec![[0.0f32; 3]; gw * gh];
        for y in 0..gh {
            for x in 0..gw {
                let m = if x < 2 { 2.0 } else { 6.0 };
                level[y * gw + x] = [m, -m, 1.0];
            }
        }
        level[gw + 1] = [0.0; 3];
        level[3 * gw + 3] = [0.0; 3];
        let mut pull = vec![level];
        push_pull(&mut pull, gw, gh);
        let out = &pull[0];
        assert_eq!(out[0], [2.0, -2.0, 1.0]);
        assert_eq!(out[3], [6.0, -6.0, 1.0]);
        // The holes take the mean of their 2x2 block's known entries.
        assert_eq!(out[gw + 1], [2.0, -2.0, 1.0]);
        assert_eq!(out[3 * gw + 3], [6.0, -6.0, 1.0]);
    }

    #[test]
    fn catmull_rom_keeps_pixels_and_ramps() {
        assert_eq!(catmull_rom(0.0), [0.0, 1.0, 0.0, 0.0]);
        for f in [0.1f32, 0.25, 0.5, 0.9] {
            let k = catmull_rom(f);
            assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{f}: {k:?}");
        }
        // Bicubic sampling of a ramp (x + 10 y) is exact; bilinear at the border too.
        let (w, h) = (16, 12);
        let p: Vec<f32> = (0..w * h).map(|i| (i % w) as f32 + 10.0 * (i / w) as f32).collect();
        let m = [[0.37f32; LANES], [-1.61; LANES], [0.0; LANES]];
        for (x0, y) in [(4, 5.0), (0, 0.0), (8, 11.0)] {
            let taps = ChunkTaps::new(x0, y, 1.0, &m, w, h, true);
            let got = if taps.cubic { taps.gather_cubic(&p, w, &taps.weights()) } else { taps.gather(&p, w) };
            for (l, g) in got.iter().enumerate() {
                let (x, yy) = (clampf(x0 as f32 + l as f32 + 0.37, 0.0, 15.0), clampf(y - 1.61, 0.0, 11.0));
                assert!((g - (x + 10.0 * yy)).abs() < 1e-3, "({x0}, {y}) lane {l}: {g} vs {}", x + 10.0 * yy);
            }
        }
        assert!(ChunkTaps::new(4, 5.0, 1.0, &m, w, h, true).cubic);
        assert!(!ChunkTaps::new(4, 5.0, 1.0, &m, w, h, false).cubic);
    }

    #[test]
    fn nodes_are_dense_enough() {
        assert_eq!(node_step(1280, 720), 4);
        assert_eq!(node_step(640, 360), 2);
        assert_eq!(node_step(320, 240), 2);
        assert_eq!(node_step(176, 144), 2);
        assert_eq!(node_step(48, 32), 1);
        let grid = NodeGrid::new(1281, 721);
        assert_eq!((grid.gw, grid.gh), (321, 181));
    }
}
