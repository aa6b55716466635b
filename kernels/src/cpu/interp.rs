//! Frame interpolation from a pair of flows, plus the plain backward `warp`.
//!
//! `interpolate` works in three steps:
//!
//! 1. Nodes: on a coarse grid (one node per `g` x `g` block, `g` = 1, 2 or 4
//!    from the frame size; the flows come from a 1/4-resolution estimate and
//!    are smooth at that scale anyway) each frame's flow is read at the pixel
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
//!    splatted bilinearly there carrying its motion (`F01`, or `-F10`),
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

use super::par;

/// Static-region detection thresholds on the 3x3 max of `max_c |f0 - f1|`.
const STATIC_LO: f32 = 1.0 / 255.0;
const STATIC_HI: f32 = 3.0 / 255.0;
/// Scale of the photometric error in the consistency `1 / (1 + (e / s)^2)^2`.
const MATCH_SCALE: f32 = 0.03;
/// Frames of at most this many pixels (640x360) are sampled bicubically;
/// larger ones bilinearly (bicubic doubles the cost of `interpolate`, which
/// 1280x720 at 60 fps cannot afford on two cores).
const BICUBIC_PIXELS: usize = 640 * 360;
/// Floor of the splatting weights, so that where only badly matched nodes
/// land their motions still average.
const SPLAT_FLOOR: f32 = 1e-3;

#[derive(Default)]
pub(crate) struct Workspace {
    /// Per frame and node: motion (x, y) and consistency.
    nodes: [Vec<[f32; 3]>; 2],
    /// Per frame and node at time t: coverage, weight, weighted motion x, y.
    splat: [Vec<[f32; 4]>; 2],
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

/// Node spacing for a `w` x `h` frame: the largest of 1, 2, 4 that keeps at
/// least 256 nodes along the longer side.
fn node_step(w: usize, h: usize) -> usize {
    let long = w.max(h);
    [4, 2].into_iter().find(|&g| long / g >= 256).unwrap_or(1)
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

#[allow(clippy::too_many_arguments)]
pub(crate) fn interpolate(
    f0: &[f32],
    f1: &[f32],
    w: usize,
    h: usize,
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
    sample_nodes(w, h, &grid, [flow01, flow10], [f0, f1], &mut ws.nodes);
    splat(&ws.nodes, &grid, t, &mut ws.splat);
    merge(&ws.splat, &grid, &mut ws.field, &mut ws.pull);
    visibility(&ws.nodes, &grid, t, &mut ws.field);
    compose(f0, f1, w, h, &grid, t, ws, out);
}

#[derive(Clone, Copy)]
struct NodeGrid {
    g: usize,
    gw: usize,
    gh: usize,
    inv_g: f32,
}

impl NodeGrid {
    fn new(w: usize, h: usize) -> Self {
        let g = node_step(w, h);
        Self { g, gw: w.div_ceil(g), gh: h.div_ceil(g), inv_g: 1.0 / g as f32 }
    }
}

/// Samples both flows at the nodes, with their photometric consistency.
fn sample_nodes(
    w: usize,
    h: usize,
    grid: &NodeGrid,
    flows: [&[f32]; 2],
    frames: [&[f32]; 2],
    nodes: &mut [Vec<[f32; 3]>; 2],
) {
    let n = w * h;
    let (g, gw, gh) = (grid.g, grid.gw, grid.gh);
    let inv_scale = 1.0 / (3.0 * MATCH_SCALE);
    for (k, out) in nodes.iter_mut().enumerate() {
        out.resize(gw * gh, [0.0; 3]);
        let (fx, fy) = flows[k].split_at(n);
        let (here, there) = (frames[k], frames[1 - k]);
        let bands = par::bands(gh, gw * 32);
        let jobs: Vec<_> = bands.iter().cloned().zip(par::split_rows(&mut out[..], gw, &bands)).collect();
        par::run(jobs, |(band, rows)| {
            for (j, row) in band.zip(rows.chunks_mut(gw)) {
                // The pixel nearest the node's centre (the flows are smooth
                // at node scale), and where its flow points to, bilinear.
                let py = (j * g + g / 2).min(h - 1);
                for (i, o) in row.iter_mut().enumerate() {
                    let px = (i * g + g / 2).min(w - 1);
                    let (x, y, i) = (px as f32, py as f32, py * w + px);
                    let (u, v) = (fx[i], fy[i]);
                    let mut e = 0.0f32;
                    for c in 0..3 {
                        let b = bilinear(&there[c * n..][..n], w, h, x + u, y + v);
                        e += (here[c * n + i] - b).abs();
                    }
                    let z = e * inv_scale;
                    let z = 1.0 + z * z;
                    *o = [u, v, 1.0 / (z * z)];
                }
            }
        });
    }
}

/// Forward-splats the nodes of both frames to time `t`.
fn splat(nodes: &[Vec<[f32; 3]>; 2], grid: &NodeGrid, t: f32, acc: &mut [Vec<[f32; 4]>; 2]) {
    let (gw, gh, inv_g) = (grid.gw, grid.gh, grid.inv_g);
    let [a0, a1] = acc;
    a0.resize(gw * gh, [0.0; 4]);
    a1.resize(gw * gh, [0.0; 4]);
    // Frame 0 moves by t F01 and has motion F01; frame 1 moves by
    // (1 - t) F10 and has motion -F10. One job per frame.
    let jobs = vec![(&nodes[0][..], &mut a0[..], t, 1.0f32), (&nodes[1][..], &mut a1[..], 1.0 - t, -1.0f32)];
    let work = |(src, acc, tau, sign): (&[[f32; 3]], &mut [[f32; 4]], f32, f32)| {
        acc.fill([0.0; 4]);
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
                        a[0] += wgt;
                        a[1] += wgt * wc;
                        a[2] += wgt * wc * mu;
                        a[3] += wgt * wc * mv;
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
fn merge(acc: &[Vec<[f32; 4]>; 2], grid: &NodeGrid, field: &mut Vec<Node4>, pull: &mut Vec<Vec<[f32; 3]>>) {
    let (gw, gh) = (grid.gw, grid.gh);
    if pull.is_empty() {
        pull.push(Vec::new());
    }
    pull[0].clear();
    pull[0].extend(acc[0].iter().zip(&acc[1]).map(|(a0, a1)| {
        let wz = a0[1] + a1[1];
        // Confidence: how much landed (coverage), capped at 1.
        let conf = (a0[0] + a1[0]).min(1.0);
        if wz > 0.0 {
            let k = conf / wz;
            [(a0[2] + a1[2]) * k, (a0[3] + a1[3]) * k, conf]
        } else {
            [0.0; 3]
        }
    }));
    push_pull(pull, gw, gh);
    field.clear();
    field.extend(pull[0].iter().map(|p| [p[0], p[1], 0.0, 0.0]));
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

/// `x` limited to `lo..=hi` (NaN gives `lo`). Unlike `f32::clamp`, `max`
/// and `min`, which handle NaN and panic on bad bounds, this is two
/// instructions (`maxss`, `minss`), in loops as in vectors.
#[inline(always)]
fn clampf(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x > lo { x } else { lo };
    if x < hi { x } else { hi }
}

/// `(min(floor(v), top), v - that)` for `0 <= v < 2^22`, branch-free and
/// without a float-to-int conversion (Rust's saturating `as` costs about
/// ten instructions with NaN and range checks): adding 2^23 rounds `v` to an
/// integer held in the mantissa bits.
#[inline(always)]
fn floor_split(v: f32, top: f32) -> (usize, f32) {
    const MAGIC: f32 = 8_388_608.0;
    let r = (v + MAGIC) - MAGIC;
    let fl = r - if r > v { 1.0 } else { 0.0 };
    let fl = if fl < top { fl } else { top };
    let i = (fl + MAGIC).to_bits() - MAGIC.to_bits();
    (i as usize, v - fl)
}

/// The larger of `a` and `b` (`b` if either is NaN), one `maxss`.
#[inline(always)]
fn maxf(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// Bilinear taps of a `w` x `h` plane (both at least 2) at (x, y), clamped
/// to the image: the top-left tap (never on the last row or column; the
/// fraction is 1 there instead) and the two fractions.
#[inline(always)]
fn plane_taps(x: f32, y: f32, w: usize, h: usize) -> Taps {
    let (ix, fx) = floor_split(clampf(x, 0.0, (w - 1) as f32), (w - 2) as f32);
    let (iy, fy) = floor_split(clampf(y, 0.0, (h - 1) as f32), (h - 2) as f32);
    Taps { ix, iy, fx, fy }
}

/// Top-left tap and fractions of a bilinear sample (see `plane_taps`).
#[derive(Clone, Copy)]
struct Taps {
    ix: usize,
    iy: usize,
    fx: f32,
    fy: f32,
}

/// Bilinear value of plane `p` (rows of `w`) at the taps.
#[inline(always)]
fn sample1(p: &[f32], w: usize, Taps { ix, iy, fx, fy }: Taps) -> f32 {
    // One bounds check for the four taps.
    let q = &p[iy * w + ix..][..w + 2];
    let top = q[0] + fx * (q[1] - q[0]);
    let bottom = q[w] + fx * (q[w + 1] - q[w]);
    top + fy * (bottom - top)
}

/// Pixels per chunk of the motion-compensation loop.
const LANES: usize = 8;

/// Taps of `LANES` pixels of a row: index of the top-left bilinear tap and
/// the two fractions per lane, and when every lane's 4x4 neighbourhood lies
/// inside the plane, the Catmull-Rom weights of each lane (bicubic sampling:
/// sharper than bilinear at the half-pixel positions of a midpoint, +0.37 dB
/// on bikes.mp4; a chunk at the border samples bilinearly).
struct ChunkTaps {
    index: [usize; LANES],
    fx: [f32; LANES],
    fy: [f32; LANES],
    cubic: bool,
}

/// Catmull-Rom weights along x and y of each lane of a `ChunkTaps`.
struct CubicWeights {
    kx: [[f32; 4]; LANES],
    ky: [[f32; 4]; LANES],
}

impl ChunkTaps {
    /// Taps of pixels `x0 + l` of row `y` moved by `k` times the motion
    /// `m[0]`, `m[1]`; bicubic ones if `cubic` and the chunk allows.
    #[inline(always)]
    fn new(x0: usize, y: f32, k: f32, m: &[[f32; LANES]; 3], w: usize, h: usize, cubic: bool) -> Self {
        let mut t = Self { index: [0; LANES], fx: [0.0; LANES], fy: [0.0; LANES], cubic };
        let x0 = x0 as f32;
        for (l, (mx, my)) in m[0].iter().zip(&m[1]).enumerate() {
            let Taps { ix, iy, fx, fy } = plane_taps(x0 + l as f32 + k * mx, y + k * my, w, h);
            t.index[l] = iy * w + ix;
            t.fx[l] = fx;
            t.fy[l] = fy;
            t.cubic &= ix >= 1 && iy >= 1 && ix + 2 < w && iy + 2 < h;
        }
        t
    }

    /// The bicubic weights of the lanes.
    #[inline(always)]
    fn weights(&self) -> CubicWeights {
        CubicWeights { kx: self.fx.map(catmull_rom), ky: self.fy.map(catmull_rom) }
    }

    /// Bicubic values of plane `p` (rows of `w`) at the taps, weighted by `k`.
    #[inline(always)]
    fn gather_cubic(&self, p: &[f32], w: usize, k: &CubicWeights) -> [f32; LANES] {
        let mut out = [0.0; LANES];
        for l in 0..LANES {
            // One bounds check for the sixteen taps.
            let q = &p[self.index[l] - w - 1..][..3 * w + 4];
            let (kx, ky) = (&k.kx[l], &k.ky[l]);
            let mut v = 0.0;
            for (r, wy) in ky.iter().enumerate() {
                let row = &q[r * w..][..4];
                v += wy * (kx[0] * row[0] + kx[1] * row[1] + kx[2] * row[2] + kx[3] * row[3]);
            }
            out[l] = v;
        }
        out
    }

    /// Bilinear values of plane `p` (rows of `w`) at the taps.
    #[inline(always)]
    fn gather(&self, p: &[f32], w: usize) -> [f32; LANES] {
        let mut out = [0.0; LANES];
        for l in 0..LANES {
            // One bounds check for the four taps.
            let q = &p[self.index[l]..][..w + 2];
            let top = q[0] + self.fx[l] * (q[1] - q[0]);
            let bottom = q[w] + self.fx[l] * (q[w + 1] - q[w]);
            out[l] = top + self.fy[l] * (bottom - top);
        }
        out
    }
}

/// Catmull-Rom weights of the four taps around a sample at fraction `f` past the second.
#[inline(always)]
fn catmull_rom(f: f32) -> [f32; 4] {
    let (f2, f3) = (f * f, f * f * f);
    [0.5 * (-f3 + 2.0 * f2 - f), 0.5 * (3.0 * f3 - 5.0 * f2 + 2.0), 0.5 * (-3.0 * f3 + 4.0 * f2 + f), 0.5 * (f3 - f2)]
}

/// `st + k (a + alpha (b - a) - st)`: the motion-compensated blend of `a`
/// and `b` over the static value `st`.
#[inline(always)]
fn blend(st: f32, a: f32, b: f32, alpha: f32, k: f32) -> f32 {
    st + k * (a + alpha * (b - a) - st)
}

/// `max_c |f0 - f1|` of row `y` into `out`.
fn diff_row(f0: [&[f32]; 3], f1: [&[f32]; 3], w: usize, y: usize, out: &mut [f32]) {
    let r = y * w..y * w + w;
    let out = &mut out[..w];
    for c in 0..3 {
        for ((d, &a), &b) in out.iter_mut().zip(&f0[c][r.clone()]).zip(&f1[c][r.clone()]) {
            let e = (a - b).abs();
            *d = if c == 0 { e } else { maxf(*d, e) };
        }
    }
}

/// The per-pixel pass: the static blend, and where the frames differ,
/// motion compensation over it (upsampled motion and blend weight, the two
/// bilinear fetches and their blend).
#[allow(clippy::too_many_arguments)]
fn compose(f0: &[f32], f1: &[f32], w: usize, h: usize, grid: &NodeGrid, t: f32, ws: &mut Workspace, out: &mut [f32]) {
    let n = w * h;
    let (gw, gh, inv_g) = (grid.gw, grid.gh, grid.inv_g);
    ws.taps.clear();
    ws.taps.extend((0..w).map(|x| {
        let (i0, _, f) = node_tap(x as f32, inv_g, gw);
        (i0 as u32, f)
    }));
    let bands = par::bands(h, w * 16);
    // Per band: three rows of frame differences (rolling), the weights and
    // a scratch row.
    ws.rows.resize(5 * w * bands.len(), 0.0);
    ws.node_rows.resize((gw + 1) * bands.len(), [0.0; 4]);
    let (taps, field) = (&ws.taps[..], &ws.field[..]);
    let mut planes: Vec<Vec<&mut [f32]>> = out.chunks_exact_mut(n).map(|p| par::split_rows(p, w, &bands)).collect();
    let jobs: Vec<_> = bands
        .iter()
        .cloned()
        .zip(ws.rows.chunks_exact_mut(5 * w))
        .zip(ws.node_rows.chunks_exact_mut(gw + 1))
        .enumerate()
        .map(|(b, ((band, rows), nodes))| {
            let outs: Vec<&mut [f32]> = planes.iter_mut().map(|p| std::mem::take(&mut p[b])).collect();
            (band, rows, nodes, outs)
        })
        .collect();
    let inv_static = 1.0 / (STATIC_HI - STATIC_LO);
    let cubic = n <= BICUBIC_PIXELS;
    let f0 = [&f0[..n], &f0[n..2 * n], &f0[2 * n..]];
    let f1 = [&f1[..n], &f1[n..2 * n], &f1[2 * n..]];
    par::run(jobs, |(band, rows, nodes, mut outs)| {
        let (diffs, rest) = rows.split_at_mut(3 * w);
        let (keep, hmax) = rest.split_at_mut(w);
        // diffs holds rows y - 1, y, y + 1 (clamped) at slots (r % 3).
        let slot = |r: usize| (r % 3) * w;
        let first = band.start.saturating_sub(1);
        for r in first..=(band.start + 1).min(h - 1) {
            diff_row(f0, f1, w, r, &mut diffs[slot(r)..]);
        }
        for y in band.clone() {
            if y + 1 < h && y > band.start {
                diff_row(f0, f1, w, y + 1, &mut diffs[slot(y + 1)..]);
            }
            // Weight of the motion-compensated value: 1 - s, s the static
            // weight from the 3x3 maximum of the frame difference.
            let d = [y.saturating_sub(1), y, (y + 1).min(h - 1)].map(|r| &diffs[slot(r)..][..w]);
            for (((m, &a), &b), &c) in keep.iter_mut().zip(d[0]).zip(d[1]).zip(d[2]) {
                *m = maxf(maxf(a, b), c);
            }
            // Horizontal 3-max into `hmax` (shifted slices, vectorised), then
            // the weight.
            let (first, last) = (maxf(keep[0], keep[1.min(w - 1)]), maxf(keep[w - 1], keep[w.saturating_sub(2)]));
            if w > 2 {
                let (l, c, r) = (&keep[..w - 2], &keep[1..w - 1], &keep[2..]);
                for (((o, &l), &c), &r) in hmax[1..w - 1].iter_mut().zip(l).zip(c).zip(r) {
                    *o = maxf(maxf(l, c), r);
                }
            }
            hmax[0] = first;
            hmax[w - 1] = last;
            for (k, &m) in keep.iter_mut().zip(&hmax[..w]) {
                *k = 1.0 - clampf((STATIC_HI - m) * inv_static, 0.0, 1.0);
            }
            // Motion and blend weight between the two node rows around y
            // (padded with the last value), interpolated along x below.
            let (j0, j1, fy) = node_tap(y as f32, inv_g, gh);
            let (r0, r1) = (&field[j0 * gw..][..gw], &field[j1 * gw..][..gw]);
            for ((o, &a), &b) in nodes.iter_mut().zip(r0).zip(r1) {
                *o = lerp4(a, b, fy);
            }
            nodes[gw] = nodes[gw - 1];
            let o = (y - band.start) * w;
            let [or, og, ob] = &mut outs[..] else { unreachable!("three output planes") };
            let (or, og, ob) = (&mut or[o..o + w], &mut og[o..o + w], &mut ob[o..o + w]);
            let row = y * w..y * w + w;
            // The static blend everywhere (vectorised), exact where the
            // frames are equal ...
            for (out, c) in [&mut *or, &mut *og, &mut *ob].into_iter().zip(0..3) {
                for ((o, &a), &b) in out.iter_mut().zip(&f0[c][row.clone()]).zip(&f1[c][row.clone()]) {
                    *o = a + t * (b - a);
                }
            }
            // ... then motion compensation where they differ, in chunks of
            // `LANES` pixels: positions, gathers, then the blend over the
            // static value, each a short loop over the lanes.
            if w < 2 || h < 2 {
                // (A frame one pixel wide or high has nothing to compensate.)
                continue;
            }
            let yf = y as f32;
            for x0 in (0..w).step_by(LANES) {
                let lanes = LANES.min(w - x0);
                let k = &keep[x0..x0 + lanes];
                if k.iter().all(|&k| k <= 0.0) {
                    continue;
                }
                let mut m = [[0.0f32; LANES]; 3];
                for (l, &(i, f)) in taps[x0..x0 + lanes].iter().enumerate() {
                    let pair = &nodes[i as usize..][..2];
                    let v = lerp4(pair[0], pair[1], f);
                    (m[0][l], m[1][l], m[2][l]) = (v[0], v[1], v[2]);
                }
                let ta = ChunkTaps::new(x0, yf, -t, &m, w, h, cubic);
                let tb = ChunkTaps::new(x0, yf, 1.0 - t, &m, w, h, cubic);
                let cw = (ta.cubic && tb.cubic).then(|| (ta.weights(), tb.weights()));
                for (c, out) in [&mut *or, &mut *og, &mut *ob].into_iter().enumerate() {
                    let (a, b) = match &cw {
                        Some((ka, kb)) => (ta.gather_cubic(f0[c], w, ka), tb.gather_cubic(f1[c], w, kb)),
                        None => (ta.gather(f0[c], w), tb.gather(f1[c], w)),
                    };
                    let out = &mut out[x0..x0 + lanes];
                    for l in 0..lanes {
                        out[l] = blend(out[l], a[l], b[l], m[2][l], k[l]);
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(node_step(320, 240), 1);
        let grid = NodeGrid::new(1281, 721);
        assert_eq!((grid.gw, grid.gh), (321, 181));
    }
}
