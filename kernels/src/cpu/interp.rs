//! Frame interpolation from a pair of flows, plus the plain backward `warp`.
//!
//! `interpolate` works in three steps:
//!
//! 1. Nodes: on a coarse grid (one node per `g` x `g` block, `g` = 1, 2 or 4
//!    from the frame size; the flows come from a 1/4-resolution estimate and
//!    are smooth at that scale anyway) each frame's flow is sampled, together
//!    with its photometric consistency `c = exp(-(e / 0.03)^2)`, `e` being
//!    the mean absolute RGB difference between the node's pixel and the pixel
//!    its flow points to in the other frame. `c` is low where the flow is
//!    wrong and where the pixel has no counterpart because it is occluded in
//!    the other frame.
//! 2. Motion at time t by forward splatting: every node of frame 0 moves to
//!    `x + t F01(x)`, every node of frame 1 to `x + (1 - t) F10(x)`, and is
//!    splatted bilinearly there carrying its motion (`F01`, or `-F10`),
//!    weighted by `c` (a soft z-buffer: where a well-matched foreground and
//!    a badly matched, about to be occluded background land on the same
//!    spot, the foreground's motion wins). Nodes nothing landed on (regions
//!    uncovered at time t) are filled by push-pull. Unlike Super SloMo's
//!    linear combination of `F01(x)` and `F10(x)` at the same `x`, this puts
//!    the motion of a moving object where the object is at time t.
//! 3. Per pixel: the motion `m` is bilinearly upsampled, frame 0 is sampled
//!    at `x - t m` and frame 1 at `x + (1 - t) m` (bilinear, clamped), and
//!    the two are blended with weights `(1 - t) v0` and `t v1`. With
//!    `o_k = 1 - c_k` at the two sampled positions, `v0 = 1 - o1 (1 - o0)` and
//!    `v1 = 1 - o0 (1 - o1)`: when the sample of one frame has no counterpart
//!    in the other (it was uncovered, or is about to be covered) while the
//!    other's sample does, the other one is the occluder, which is not at
//!    this spot at time t, and the unmatched sample is used alone; when
//!    both or neither match, the blend is the usual `(1 - t) : t`.
//!
//! Where the two frames are equal over a 3x3 neighbourhood (maximum channel
//! difference below 1/255, fading out at 3/255) the output is the pixel
//! itself, `f0 + t (f1 - f0)`: static content is reproduced exactly and
//! never shimmers, whatever the flow says.

use super::par;

/// Static-region detection thresholds on the 3x3 max of `max_c |f0 - f1|`.
const STATIC_LO: f32 = 1.0 / 255.0;
const STATIC_HI: f32 = 3.0 / 255.0;
/// Scale of the photometric error in the consistency `exp(-(e / s)^2)`.
const MATCH_SCALE: f32 = 0.03;
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
    field: Vec<[f32; 3]>,
    /// Push-pull pyramid of (weighted motion x, y, weight).
    pull: Vec<Vec<[f32; 3]>>,
    /// Full-resolution maximum channel difference between the frames.
    diff: Vec<f32>,
    /// Both frames interleaved and padded (see `Rgbx`).
    rgbx: [Vec<Rgbx>; 2],
    /// Three rows per band: static-window maxima, motion x, motion y.
    rows: Vec<f32>,
    /// Two sets of sampling positions per band.
    row_taps: Vec<Taps>,
    taps: Vec<(u32, u32, f32)>,
}

/// Bilinear sample of plane `p` (`w` x `h`) at (x, y), clamped.
#[inline(always)]
fn taps2(x: f32, y: f32, w: usize, h: usize) -> (usize, usize, usize, f32, f32) {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x as usize, y as usize);
    let dx = usize::from(x0 + 1 < w);
    let dy = if y0 + 1 < h { w } else { 0 };
    (y0 * w + x0, dx, dy, x - x0 as f32, y - y0 as f32)
}

#[inline(always)]
fn bilerp(p: &[f32], i: usize, dx: usize, dy: usize, fx: f32, fy: f32) -> f32 {
    let top = p[i] + fx * (p[i + dx] - p[i]);
    let bottom = p[i + dy] + fx * (p[i + dy + dx] - p[i + dy]);
    top + fy * (bottom - top)
}

/// `out(p) = src(p + flow(p))` for each of the `channels` planes.
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
            for x in 0..w {
                let i = y * w + x;
                let (k, dx, dy, ax, ay) = taps2(x as f32 + fx[i], y as f32 + fy[i], w, h);
                for (c, o) in outs.iter_mut().enumerate() {
                    o[(y - band.start) * w + x] = bilerp(&src[c * n..][..n], k, dx, dy, ax, ay);
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
    let s = ((x + 0.5) * inv_g - 0.5).clamp(0.0, (len - 1) as f32);
    let i0 = s as usize;
    (i0, (i0 + 1).min(len - 1), s - i0 as f32)
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
    let grid = NodeGrid::new(w, h);
    sample_nodes(w, h, &grid, [flow01, flow10], [f0, f1], &mut ws.nodes);
    splat(&ws.nodes, &grid, t, &mut ws.splat);
    merge(&ws.splat, &grid, &mut ws.field, &mut ws.pull);
    visibility(&ws.nodes, &grid, t, &mut ws.field);
    prepare(f0, f1, w, h, ws);
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
                let y = node_pos(j, g).min((h - 1) as f32);
                for (i, o) in row.iter_mut().enumerate() {
                    let x = node_pos(i, g).min((w - 1) as f32);
                    let (q, dx, dy, ax, ay) = taps2(x, y, w, h);
                    let (u, v) = (bilerp(fx, q, dx, dy, ax, ay), bilerp(fy, q, dx, dy, ax, ay));
                    let (p, px, py, bx, by) = taps2(x + u, y + v, w, h);
                    let mut e = 0.0f32;
                    for c in 0..3 {
                        let a = bilerp(&here[c * n..][..n], q, dx, dy, ax, ay);
                        let b = bilerp(&there[c * n..][..n], p, px, py, bx, by);
                        e += (a - b).abs();
                    }
                    let e = e * inv_scale;
                    *o = [u, v, (-e * e).exp()];
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
                // x, y > -1: shifting by 1 makes truncation the floor.
                let (xi, yi) = ((x + 1.0) as usize, (y + 1.0) as usize);
                let (ax, ay) = (x + 1.0 - xi as f32, y + 1.0 - yi as f32);
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
fn merge(acc: &[Vec<[f32; 4]>; 2], grid: &NodeGrid, field: &mut Vec<[f32; 3]>, pull: &mut Vec<Vec<[f32; 3]>>) {
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
    field.extend(pull[0].iter().map(|p| [p[0], p[1], 0.0]));
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
fn visibility(nodes: &[Vec<[f32; 3]>; 2], grid: &NodeGrid, t: f32, field: &mut [[f32; 3]]) {
    let (g, gw) = (grid.g, grid.gw);
    let bands = par::bands(grid.gh, gw * 16);
    let jobs: Vec<_> = bands.iter().cloned().zip(par::split_rows(field, gw, &bands)).collect();
    par::run(jobs, |(band, rows)| {
        for (j, row) in band.zip(rows.chunks_mut(gw)) {
            let y = node_pos(j, g);
            for (i, f) in row.iter_mut().enumerate() {
                let x = node_pos(i, g);
                let [mx, my, _] = *f;
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

/// Pixels as (R, G, B, 0), rows of `w + 1` pixels (the last repeated) and
/// `h + 1` rows (the last repeated), so that the right and bottom
/// neighbours of a bilinear tap always exist.
type Rgbx = [f32; 4];

/// Interleaves both frames and computes `diff = max_c |f0 - f1|`.
fn prepare(f0: &[f32], f1: &[f32], w: usize, h: usize, ws: &mut Workspace) {
    let (n, w1) = (w * h, w + 1);
    ws.diff.resize(n, 0.0);
    for buf in &mut ws.rgbx {
        buf.resize(w1 * (h + 1), [0.0; 4]);
    }
    let bands = par::bands(h, w * 4);
    let [r0, r1] = &mut ws.rgbx;
    let jobs: Vec<_> = bands
        .iter()
        .cloned()
        .zip(par::split_rows(&mut ws.diff[..], w, &bands))
        .zip(par::split_rows(&mut r0[..], w1, &bands))
        .zip(par::split_rows(&mut r1[..], w1, &bands))
        .collect();
    par::run(jobs, |(((band, diff), r0), r1)| {
        for (k, y) in band.clone().enumerate() {
            let row = y * w..y * w + w;
            let [a, b] = [f0, f1].map(|f| [0, 1, 2].map(|c| &f[c * n..][row.clone()]));
            let (o0, o1) = (&mut r0[k * w1..][..w1], &mut r1[k * w1..][..w1]);
            for x in 0..w {
                o0[x] = [a[0][x], a[1][x], a[2][x], 0.0];
                o1[x] = [b[0][x], b[1][x], b[2][x], 0.0];
            }
            o0[w] = o0[w - 1];
            o1[w] = o1[w - 1];
            for (x, d) in diff[k * w..][..w].iter_mut().enumerate() {
                *d = (a[0][x] - b[0][x]).abs().max((a[1][x] - b[1][x]).abs()).max((a[2][x] - b[2][x]).abs());
            }
        }
    });
    for buf in &mut ws.rgbx {
        buf.copy_within((h - 1) * w1..h * w1, h * w1);
    }
}

/// `a + f (b - a)` on all three lanes.
#[inline(always)]
fn lerp3(a: [f32; 3], b: [f32; 3], f: f32) -> [f32; 3] {
    [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])]
}

/// `a + f (b - a)` on all four lanes.
#[inline(always)]
fn lerp4(a: Rgbx, b: Rgbx, f: f32) -> Rgbx {
    [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2]), a[3] + f * (b[3] - a[3])]
}

/// `floor(x)` for `0 <= x < 2^22`, as a float and as an integer, without
/// float-to-int conversions, which do not vectorise (Rust's saturating `as`
/// is scalarised and SSE2 has no vector floor).
#[inline(always)]
fn floor_small(x: f32) -> (f32, u32) {
    const MAGIC: f32 = 8_388_608.0; // 2^23: adding it rounds to an integer
    let r = (x + MAGIC) - MAGIC;
    let f = if r > x { r - 1.0 } else { r };
    // An integer below 2^23 plus 2^23 has the integer as its mantissa.
    (f, (f + MAGIC).to_bits() - MAGIC.to_bits())
}

/// Sampling positions of one frame for a row of pixels: index of the top
/// left tap in the padded `Rgbx` image and the two fractions.
#[derive(Default)]
struct Taps {
    /// Scratch row of motion-compensated pixels (only in the third set).
    mc: Vec<Rgbx>,
    index: Vec<u32>,
    fx: Vec<f32>,
    fy: Vec<f32>,
}

impl Taps {
    fn resize(&mut self, w: usize) {
        self.mc.resize(w, [0.0; 4]);
        self.index.resize(w, 0);
        self.fx.resize(w, 0.0);
        self.fy.resize(w, 0.0);
    }

    /// Positions `(x + k mx[x], y + k my[x])` for the row.
    fn fill(&mut self, y: usize, k: f32, mx: &[f32], my: &[f32], w: usize, h: usize) {
        let (xmax, ymax) = ((w - 1) as f32, (h - 1) as f32);
        let (yf, w1) = (y as f32, (w + 1) as u32);
        let n = mx.len();
        let (my, index, fx, fy) = (&my[..n], &mut self.index[..n], &mut self.fx[..n], &mut self.fy[..n]);
        for x in 0..n {
            let px = (x as f32 + k * mx[x]).clamp(0.0, xmax);
            let py = (yf + k * my[x]).clamp(0.0, ymax);
            let ((i, ii), (j, jj)) = (floor_small(px), floor_small(py));
            index[x] = jj * w1 + ii;
            fx[x] = px - i;
            fy[x] = py - j;
        }
    }

    /// The bilinear sample of `img` (rows of `w1`) at pixel `x` of the row.
    #[inline(always)]
    fn sample(&self, x: usize, img: &[Rgbx], w1: usize) -> Rgbx {
        let i = self.index[x] as usize;
        let (fx, fy) = (self.fx[x], self.fy[x]);
        let top = lerp4(img[i], img[i + 1], fx);
        let bottom = lerp4(img[i + w1], img[i + w1 + 1], fx);
        lerp4(top, bottom, fy)
    }
}

/// The per-pixel pass: upsampled motion, sampling positions (vectorised),
/// then per pixel the two bilinear fetches, visibilities and the blend, over
/// the static blend.
#[allow(clippy::too_many_arguments)]
fn compose(f0: &[f32], f1: &[f32], w: usize, h: usize, grid: &NodeGrid, t: f32, ws: &mut Workspace, out: &mut [f32]) {
    let n = w * h;
    let (gw, gh, inv_g) = (grid.gw, grid.gh, grid.inv_g);
    let w1 = w + 1;
    ws.taps.clear();
    ws.taps.extend((0..w).map(|x| {
        let (i0, i1, f) = node_tap(x as f32, inv_g, gw);
        (i0 as u32, i1 as u32, f)
    }));
    let bands = par::bands(h, w * 16);
    ws.rows.resize(4 * w * bands.len(), 0.0);
    ws.row_taps.resize_with(3 * bands.len(), Taps::default);
    let (taps, field, diff) = (&ws.taps[..], &ws.field[..], &ws.diff[..]);
    let [rgb0, rgb1] = &ws.rgbx;
    let mut planes: Vec<Vec<&mut [f32]>> = out.chunks_exact_mut(n).map(|p| par::split_rows(p, w, &bands)).collect();
    let jobs: Vec<_> = bands
        .iter()
        .cloned()
        .zip(ws.rows.chunks_exact_mut(4 * w))
        .zip(ws.row_taps.chunks_exact_mut(3))
        .enumerate()
        .map(|(b, ((band, rows), taps))| {
            let outs: Vec<&mut [f32]> = planes.iter_mut().map(|p| std::mem::take(&mut p[b])).collect();
            (band, rows, taps, outs)
        })
        .collect();
    let inv_static = 1.0 / (STATIC_HI - STATIC_LO);
    let f0 = [&f0[..n], &f0[n..2 * n], &f0[2 * n..3 * n]];
    let f1 = [&f1[..n], &f1[n..2 * n], &f1[2 * n..3 * n]];
    par::run(jobs, |(band, rows, row_taps, mut outs)| {
        let (keep, rest) = rows.split_at_mut(w);
        let (mxr, rest) = rest.split_at_mut(w);
        let (myr, alr) = rest.split_at_mut(w);
        let [t0, t1, t2] = row_taps else { unreachable!("three tap sets") };
        t0.resize(w);
        t1.resize(w);
        t2.resize(w);
        let mc = &mut t2.mc;
        for y in band.clone() {
            // Weight of the motion-compensated value: 1 - s, s the static
            // weight from the 3x3 maximum of the frame difference.
            let d = [y.saturating_sub(1), y, (y + 1).min(h - 1)].map(|r| &diff[r * w..][..w]);
            for (((m, &a), &b), &c) in keep.iter_mut().zip(d[0]).zip(d[1]).zip(d[2]) {
                *m = a.max(b).max(c);
            }
            let (mut prev, mut cur) = (keep[0], keep[0]);
            for x in 0..w {
                let next = keep[(x + 1).min(w - 1)];
                let m = prev.max(cur).max(next);
                prev = cur;
                cur = next;
                keep[x] = 1.0 - ((STATIC_HI - m) * inv_static).clamp(0.0, 1.0);
            }
            // Motion and blend weight of this row, bilinear from the nodes.
            let (j0, j1, fy) = node_tap(y as f32, inv_g, gh);
            let (r0, r1) = (&field[j0 * gw..][..gw], &field[j1 * gw..][..gw]);
            for (((mx, my), al), &(i0, i1, fx)) in mxr.iter_mut().zip(myr.iter_mut()).zip(alr.iter_mut()).zip(taps) {
                let (a, b, c, e) = (r0[i0 as usize], r0[i1 as usize], r1[i0 as usize], r1[i1 as usize]);
                let top = lerp3(a, b, fx);
                let bottom = lerp3(c, e, fx);
                [*mx, *my, *al] = lerp3(top, bottom, fy);
            }
            t0.fill(y, -t, mxr, myr, w, h);
            t1.fill(y, 1.0 - t, mxr, myr, w, h);
            let o = (y - band.start) * w;
            let row = y * w..y * w + w;
            // The static blend everywhere (vectorised) ...
            for (c, out) in outs.iter_mut().enumerate() {
                let out = &mut out[o..o + w];
                for ((o, &a), &b) in out.iter_mut().zip(&f0[c][row.clone()]).zip(&f1[c][row.clone()]) {
                    *o = a + t * (b - a);
                }
            }
            // ... then motion compensation where the frames differ: all four
            // lanes are computed and stored (keeping them alive lets them be
            // one vector), then blended into the planes.
            for x in 0..w {
                mc[x] = if keep[x] > 0.0 {
                    lerp4(t0.sample(x, rgb0, w1), t1.sample(x, rgb1, w1), alr[x])
                } else {
                    [0.0; 4]
                };
            }
            let [or, og, ob] = &mut outs[..] else { unreachable!("three output planes") };
            let (or, og, ob) = (&mut or[o..o + w], &mut og[o..o + w], &mut ob[o..o + w]);
            for x in 0..w {
                let (k, m) = (keep[x], mc[x]);
                if k > 0.0 {
                    or[x] += k * (m[0] - or[x]);
                    og[x] += k * (m[1] - og[x]);
                    ob[x] += k * (m[2] - ob[x]);
                }
            }
        }
    });
}
