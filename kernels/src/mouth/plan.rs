//! The mouth warp split where its CUDA twin (`open_mouth_field` and `open_mouth_shade` in
//! kernels/cu/face.cu) splits it: [`plan`] (on the host: checks, the mouth's frame, the lip
//! tables, the amounts, the picture's look) and the two per-pixel passes, [`field_at`] (the
//! forward displacements) and [`shade_at`] (inverse mapping, blending and the inside). The
//! plan is `repr(C)` and goes to the kernels as one argument, laid out as `struct MouthPlan` in
//! face.cu, so both sides compute from the same numbers in the same order.

use super::inside::{Look, cavity, look};
use super::{MouthWarp, check};
use crate::error::KernelError;
use crate::face::{bilinear, check_len, ramp};

/// Samples of a lip curve t(s) across the mouth, corner to corner.
pub(crate) const TABLE: usize = 65;

/// The mouth's frame: origin between the corners, `u` along them, `v` across (to the chin).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct Axes {
    pub(crate) c: [f32; 2],
    pub(crate) u: [f32; 2],
    pub(crate) v: [f32; 2],
    /// Half the corners' distance.
    pub(crate) a: f32,
}

impl Axes {
    pub(crate) fn st(&self, x: f32, y: f32) -> (f32, f32) {
        let (dx, dy) = (x - self.c[0], y - self.c[1]);
        (dx * self.u[0] + dy * self.u[1], dx * self.v[0] + dy * self.v[1])
    }

    /// A curve's t at the table's s positions (linear between its points, constant past its
    /// ends); `default` where it has no points.
    fn table(&self, points: &[[f32; 2]], default: impl Fn(f32) -> f32) -> [f32; TABLE] {
        let mut st: Vec<(f32, f32)> = points.iter().map(|p| self.st(p[0], p[1])).collect();
        st.sort_by(|a, b| a.0.total_cmp(&b.0));
        std::array::from_fn(|k| {
            let s = self.a * (2.0 * k as f32 / (TABLE - 1) as f32 - 1.0);
            match st.iter().position(|p| p.0 >= s) {
                _ if st.is_empty() => default(s),
                Some(0) => st[0].1,
                None => st[st.len() - 1].1,
                Some(i) => {
                    let ((s0, t0), (s1, t1)) = (st[i - 1], st[i]);
                    if s1 - s0 < 1e-6 { t1 } else { t0 + (t1 - t0) * (s - s0) / (s1 - s0) }
                }
            }
        })
    }

    pub(crate) fn at(&self, table: &[f32; TABLE], s: f32) -> f32 {
        let f = ((s / self.a + 1.0) * 0.5 * (TABLE - 1) as f32).clamp(0.0, (TABLE - 1) as f32);
        let i = (f.floor() as usize).min(TABLE - 2);
        let k = f - i as f32;
        table[i] * (1.0 - k) + table[i + 1] * k
    }
}

/// How far the corners follow the width: a third of it. The width shapes the opening (a round
/// hole for an "oo", a slot for an "ee") in full; moving the corners by all of it made the face
/// mesh read the opening less faithfully on real faces (r of its reading with the driver on
/// LFW 5: 0.34 with the corners moving in full, 0.88 at 0.3, 0.93 not at all; `ai-bench
/// lipsync-chain`), where the opening's shape cost nothing.
const SPREAD: f32 = 0.3;

/// Everything the per-pixel passes need, computed once per call.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct MouthPlan {
    pub(crate) ax: Axes,
    pub(crate) look: Look,
    /// Nothing at or above this t moves.
    nose_t: f32,
    /// The upper lip's highest point, and the lower lip's t at the middle.
    top: f32,
    bottom: f32,
    /// The width of the fade towards the face outline.
    fade: f32,
    /// How far the parts above and below the lip line move at the middle, and their sum.
    g_up: f32,
    g_down: f32,
    open: f32,
    /// The opening's profile exponent and the corners' spread (`SPREAD` (width - 1)).
    power: f32,
    spread: f32,
    /// The softness of the lips' edges over the opening, in pixels.
    edge: f32,
    teeth: f32,
    /// Where the lips meet and the upper lip's outer edge, as t at TABLE positions along s.
    line: [f32; TABLE],
    upper: [f32; TABLE],
}

/// Signed distance from (x, y) to the polygon's edge: positive inside, negative outside.
pub(crate) fn inside_distance(poly: &[[f32; 2]], x: f32, y: f32) -> f32 {
    let mut best = f32::INFINITY;
    let mut inside = false;
    for (i, p) in poly.iter().enumerate() {
        let q = poly[(i + 1) % poly.len()];
        if (p[1] > y) != (q[1] > y) && x < p[0] + (y - p[1]) * (q[0] - p[0]) / (q[1] - p[1]) {
            inside = !inside;
        }
        let (ex, ey) = (q[0] - p[0], q[1] - p[1]);
        let len2 = ex * ex + ey * ey;
        let k = if len2 > 0.0 { (((x - p[0]) * ex + (y - p[1]) * ey) / len2).clamp(0.0, 1.0) } else { 0.0 };
        let (dx, dy) = (x - p[0] - k * ex, y - p[1] - k * ey);
        best = best.min(dx * dx + dy * dy);
    }
    if inside { best.sqrt() } else { -best.sqrt() }
}

/// How the opening narrows towards the corners: an ellipse for a rounded mouth, a flatter,
/// more pointed slot for a spread one.
pub(crate) fn profile(u: f32, power: f32) -> f32 {
    let q = 1.0 - u * u;
    if q <= 0.0 { 0.0 } else { q.powf(power) }
}

pub(crate) fn smooth(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// `open_mouth`'s checks (shared with its CUDA twin): the images' lengths and the warp.
pub(crate) fn check_open_mouth(
    src: usize,
    dst: usize,
    w: usize,
    h: usize,
    m: &MouthWarp<'_>,
) -> Result<(), KernelError> {
    check_len("open_mouth source", src, w, h)?;
    check_len("open_mouth destination", dst, w, h)?;
    check(m)
}

/// Checks the arguments and plans the warp of `m` over `src`; `None` when nothing opens (the
/// output is then the input).
pub(crate) fn plan(
    src: &[f32],
    dst_len: usize,
    w: usize,
    h: usize,
    m: &MouthWarp<'_>,
) -> Result<Option<MouthPlan>, KernelError> {
    check_open_mouth(src.len(), dst_len, w, h, m)?;
    let (ux, uy) = (m.right[0] - m.left[0], m.right[1] - m.left[1]);
    let len = (ux * ux + uy * uy).sqrt();
    let ax = Axes {
        c: [0.5 * (m.left[0] + m.right[0]), 0.5 * (m.left[1] + m.right[1])],
        u: [ux / len, uy / len],
        v: [-uy / len, ux / len],
        a: 0.5 * len,
    };
    let a = ax.a;
    let line = ax.table(m.lip_line, |_| 0.0);
    let lip = |s: f32| 0.4 + 0.6 * profile(s / a, 0.5);
    let mut upper = ax.table(m.upper_lip, |s| -0.22 * a * lip(s));
    let mut lower = ax.table(m.lower_lip, |s| 0.3 * a * lip(s));
    for k in 0..TABLE {
        upper[k] = upper[k].min(line[k] - 0.5);
        lower[k] = lower[k].max(line[k] + 0.5);
    }
    let top = upper.iter().fold(f32::INFINITY, |t, &v| t.min(v));
    let (_, nose_t) = ax.st(m.nose[0], m.nose[1]);
    // The nose's line must lie above the lips; a landmark that says otherwise moves it up.
    let nose_t = nose_t.min(top - 1.0);
    let bottom = ax.at(&lower, 0.0);
    // The fade to the outline starts below the lower lip, so the lips move whole. The jaw's
    // slope (a raised cosine over `fade`: at most 1.57 x its displacement / `fade`) must stay
    // below 1 or the warp folds: the lower lip moves at most 0.55 `fade`, the upper at most half
    // its distance to the nose, each saturating smoothly towards that (so a wider request still
    // reads wider).
    let (bx, by) = (ax.c[0] + bottom * ax.v[0], ax.c[1] + bottom * ax.v[1]);
    let fade = (0.9 * inside_distance(m.oval, bx, by)).max(1.0);
    let soft = |x: f32, limit: f32| x / (1.0 + (x / limit).powi(4)).powf(0.25);
    let g_down = soft(0.7 * m.open, 0.55 * fade);
    let g_up = soft(0.3 * m.open, 0.5 * (ax.at(&upper, 0.0) - nose_t).max(1.0));
    let open = g_up + g_down;
    if open <= 0.0 {
        return Ok(None);
    }
    let look = look(src, w, h, &ax, &upper, &lower);
    Ok(Some(MouthPlan {
        ax,
        edge: 1.2 * look.blur,
        look,
        nose_t,
        top,
        bottom,
        fade,
        g_up,
        g_down,
        open,
        power: (0.5 + 1.25 * (m.width - 0.8)).clamp(0.4, 1.0),
        spread: SPREAD * (m.width - 1.0),
        teeth: m.teeth,
        line,
        upper,
    }))
}

/// The forward displacements at pixel (x, y) of the part above the lip line and of the part
/// below: (up x, up y, down x, down y); zero above the nose's line and outside the outline.
pub(crate) fn field_at(p: &MouthPlan, oval: &[[f32; 2]], x: usize, y: usize) -> [f32; 4] {
    let (ax, a) = (&p.ax, p.ax.a);
    let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
    let (s, t) = ax.st(px, py);
    if t <= p.nose_t {
        return [0.0; 4];
    }
    let edge = inside_distance(oval, px, py);
    if edge <= 0.0 {
        return [0.0; 4];
    }
    let face = ramp(edge / p.fade);
    let below_nose = ramp((t - p.nose_t) / (ax.at(&p.upper, s) - p.nose_t).max(1.0));
    // Corners in or out: the lips follow their corners, the cheeks beside them less.
    let lateral = if s.abs() <= a { s } else { a.copysign(s) * ramp(2.0 - s.abs() / a) };
    let across = if t < p.top { ramp((t - p.nose_t) / (p.top - p.nose_t)) } else { ramp(1.0 - (t - p.bottom) / a) };
    let dx = p.spread * lateral * across * face;
    let dy_up = -p.g_up * profile(s / a, p.power) * below_nose * face;
    // The jaw below the lower lip moves as a whole: the profile widens towards the chin.
    let reach = a + 0.9 * (t - p.bottom).max(0.0);
    let dy_down = p.g_down * profile(s / reach, p.power) * face;
    let (ddx, ddy) = (dx * ax.u[0], dx * ax.u[1]);
    [ddx + dy_up * ax.v[0], ddy + dy_up * ax.v[1], ddx + dy_down * ax.v[0], ddy + dy_down * ax.v[1]]
}

/// The output colour at pixel (x, y), from the displacement planes `up` and `down` (x plane then
/// y plane, each `w` x `h`, sampled at pixel centres); `None` where it is the input's.
#[allow(clippy::too_many_arguments)] // the kernel's arguments
pub(crate) fn shade_at(
    p: &MouthPlan,
    src: &[f32],
    w: usize,
    h: usize,
    up: &[f32],
    down: &[f32],
    x: usize,
    y: usize,
) -> Option<[f32; 3]> {
    let n = w * h;
    let ax = &p.ax;
    let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
    let (_, t) = ax.st(px, py);
    if t <= p.nose_t - 1.0 {
        return None;
    }
    // bilinear() works on pixel indices.
    let field = |f: &[f32], x: f32, y: f32| {
        (bilinear(&f[..n], w, h, x - 0.5, y - 0.5), bilinear(&f[n..], w, h, x - 0.5, y - 0.5))
    };
    // Where a displaced pixel came from: q + d(q) = p, by fixed-point steps (they converge as
    // the field's slope is below 1).
    let source = |f: &[f32]| {
        let (mut qx, mut qy) = (px, py);
        for _ in 0..16 {
            let (dx, dy) = field(f, qx, qy);
            (qx, qy) = (px - dx, py - dy);
        }
        (qx, qy)
    };
    let (lx, ly) = source(down);
    let (hx, hy) = source(up);
    if (lx, ly) == (px, py) && (hx, hy) == (px, py) {
        return None;
    }
    // How far each source lies on its own side of the lip line (negative: across it).
    let (ls, lt) = ax.st(lx, ly);
    let (hs, ht) = ax.st(hx, hy);
    let below = lt - ax.at(&p.line, ls);
    let above = ax.at(&p.line, hs) - ht;
    let (mut wl, mut wu) = ((below / p.edge + 0.5).clamp(0.0, 1.0), (above / p.edge + 0.5).clamp(0.0, 1.0));
    let cover = wl + wu;
    if cover > 1.0 {
        (wl, wu) = (wl / cover, wu / cover);
    }
    let wi = (1.0 - wl - wu).max(0.0);
    let sample = |x: f32, y: f32| -> [f32; 3] {
        std::array::from_fn(|c| bilinear(&src[c * n..(c + 1) * n], w, h, x - 0.5, y - 0.5))
    };
    let (lo, hi) = (sample(lx, ly), sample(hx, hy));
    let inside = if wi > 0.0 { cavity(&lo, &hi, -above, -below, hs, ax.a, p.open, p.teeth, &p.look) } else { [0.0; 3] };
    Some(std::array::from_fn(|c| wl * lo[c] + wu * hi[c] + wi * inside[c]))
}
