//! The per-pixel pass of `interpolate`.

use super::sample::{ChunkTaps, LANES, blend, clampf, maxf};
use super::{BICUBIC_PIXELS, NodeGrid, PlaneGroup, STATIC_HI, STATIC_LO, Workspace, lerp4, node_tap};
use crate::cpu::par;

/// `max_c |f0 - f1|` over the group's planes, of row `y` into `out`.
fn diff_row(f0: &[&[f32]], f1: &[&[f32]], w: usize, y: usize, out: &mut [f32]) {
    let r = y * w..y * w + w;
    let out = &mut out[..w];
    for (c, (p0, p1)) in f0.iter().zip(f1).enumerate() {
        for ((d, &a), &b) in out.iter_mut().zip(&p0[r.clone()]).zip(&p1[r.clone()]) {
            let e = (a - b).abs();
            *d = if c == 0 { e } else { maxf(*d, e) };
        }
    }
}

/// The per-pixel pass over one group of planes (`g`: their size and subsampling): the static
/// blend, and where the frames differ, motion compensation over it (upsampled motion and blend
/// weight, the two fetches and their blend). A plane pixel `x` sits at full-resolution
/// `(x + 0.5) s - 0.5` and moves by the motion divided by `s`.
#[allow(clippy::too_many_arguments)]
pub(super) fn compose(
    f0: &[&[f32]],
    f1: &[&[f32]],
    outs: Vec<&mut [f32]>,
    g: &PlaneGroup,
    grid: &NodeGrid,
    t: f32,
    ws: &mut Workspace,
) {
    let (w, h, s) = (g.w, g.h, g.s as f32);
    let n = w * h;
    let (gw, gh, inv_g) = (grid.gw, grid.gh, grid.inv_g);
    // Full-resolution coordinate of plane pixel i (exactly i when s = 1).
    let full = |i: usize| (i as f32 + 0.5) * s - 0.5;
    ws.taps.clear();
    ws.taps.extend((0..w).map(|x| {
        let (i0, _, f) = node_tap(full(x), inv_g, gw);
        (i0 as u32, f)
    }));
    let bands = par::bands(h, w * 16);
    // Per band: three rows of frame differences (rolling), the weights and
    // a scratch row.
    ws.rows.resize(5 * w * bands.len(), 0.0);
    ws.node_rows.resize((gw + 1) * bands.len(), [0.0; 4]);
    let (taps, field) = (&ws.taps[..], &ws.field[..]);
    let mut planes: Vec<Vec<&mut [f32]>> = outs.into_iter().map(|p| par::split_rows(p, w, &bands)).collect();
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
    // Bicubic for small frames (counted at full resolution).
    let cubic = n * g.s * g.s <= BICUBIC_PIXELS;
    // Moves of the plane's samples: the motion over s.
    let (ka, kb) = (-t / s, (1.0 - t) / s);
    let exact_index = n < 1 << 23;
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
            let (j0, j1, fy) = node_tap(full(y), inv_g, gh);
            let (r0, r1) = (&field[j0 * gw..][..gw], &field[j1 * gw..][..gw]);
            for ((o, &a), &b) in nodes.iter_mut().zip(r0).zip(r1) {
                *o = lerp4(a, b, fy);
            }
            nodes[gw] = nodes[gw - 1];
            let o = (y - band.start) * w;
            let row = y * w..y * w + w;
            // The static blend everywhere (vectorised), exact where the
            // frames are equal ...
            for ((out, p0), p1) in outs.iter_mut().zip(f0).zip(f1) {
                for ((o, &a), &b) in out[o..o + w].iter_mut().zip(&p0[row.clone()]).zip(&p1[row.clone()]) {
                    *o = a + t * (b - a);
                }
            }
            // ... then motion compensation where they differ, in chunks of
            // `LANES` pixels: positions, gathers, then the blend over the
            // static value, each a short loop over the lanes.
            if w < 2 || h < 2 {
                // (A plane one pixel wide or high has nothing to compensate.)
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
                let (ta, tb) = if exact_index {
                    (ChunkTaps::new(x0, yf, ka, &m, w, h, cubic), ChunkTaps::new(x0, yf, kb, &m, w, h, cubic))
                } else {
                    (
                        ChunkTaps::new_large(x0, yf, ka, &m, w, h, cubic),
                        ChunkTaps::new_large(x0, yf, kb, &m, w, h, cubic),
                    )
                };
                let cw = (ta.cubic && tb.cubic).then(|| (ta.weights(), tb.weights()));
                for ((out, p0), p1) in outs.iter_mut().zip(f0).zip(f1) {
                    let (a, b) = match &cw {
                        Some((wa, wb)) => (ta.gather_cubic(p0, w, wa), tb.gather_cubic(p1, w, wb)),
                        None => (ta.gather(p0, w), tb.gather(p1, w)),
                    };
                    let out = &mut out[o + x0..o + x0 + lanes];
                    for l in 0..lanes {
                        out[l] = blend(out[l], a[l], b[l], m[2][l], k[l]);
                    }
                }
            }
        }
    });
}
