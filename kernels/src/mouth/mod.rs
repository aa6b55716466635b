//! The built-in lip-sync animation: `open_mouth` opens a face's real mouth by a smooth
//! displacement field over the lower face, sampled by inverse mapping, and paints the inside of
//! the opening (a shaded dark cavity with, at wide openings, a hint of upper teeth).
//!
//! The geometry ([`MouthWarp`]) comes from landmarks: the mouth corners, where the lips meet,
//! the lips' outer edges, the nose and the face's outline. Everything is measured in the mouth's
//! own frame (s along the corners' line, t across it, pointing to the chin), so a tilted head
//! opens along its own axis. The field is split at the lip line: the part above moves up (the
//! upper lip, a little), the part below moves down (the lower lip rigidly, the jaw with it,
//! broadening towards the chin); both fade to zero at the nose's line and at the face outline,
//! so the eyes, the nose and the background never move. What no source pixel lands on is the
//! opening.

use crate::error::KernelError;
mod inside;

use crate::face::{bilinear, check_len, ramp};
use inside::{cavity, look};

/// Where a mouth is and how it opens, in image pixels (x, y). Contours may be empty: the lip
/// line is then the corners' line and the lips get a default thickness.
#[derive(Clone, Copy, Debug)]
pub struct MouthWarp<'a> {
    /// The mouth corners (on the image's left and right).
    pub left: [f32; 2],
    pub right: [f32; 2],
    /// Where the lips meet, corner to corner (any order).
    pub lip_line: &'a [[f32; 2]],
    /// The upper lip's outer (top) edge and the lower lip's outer (bottom) edge.
    pub upper_lip: &'a [[f32; 2]],
    pub lower_lip: &'a [[f32; 2]],
    /// A point on the nose (its bottom): nothing above the line through it, parallel to the
    /// corners' line, moves.
    pub nose: [f32; 2],
    /// The face's outline, a closed polygon (at least 3 points): nothing outside it moves, and
    /// the warp fades towards it.
    pub oval: &'a [[f32; 2]],
    /// The opening between the lips at the middle, in pixels (0: the image is not changed). It
    /// is limited to what the room between the lower lip and the outline allows.
    pub open: f32,
    /// The corners' distance relative to the input's: below 1 rounds the mouth (the corners
    /// move in), above 1 spreads it.
    pub width: f32,
    /// How much of the upper teeth shows (0..1).
    pub teeth: f32,
}

/// Samples of a lip curve t(s) across the mouth, corner to corner.
const TABLE: usize = 65;

/// The mouth's frame: origin between the corners, `u` along them, `v` across (to the chin).
struct Axes {
    c: [f32; 2],
    u: [f32; 2],
    v: [f32; 2],
    /// Half the corners' distance.
    a: f32,
}

impl Axes {
    fn st(&self, x: f32, y: f32) -> (f32, f32) {
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

    fn at(&self, table: &[f32; TABLE], s: f32) -> f32 {
        let f = ((s / self.a + 1.0) * 0.5 * (TABLE - 1) as f32).clamp(0.0, (TABLE - 1) as f32);
        let i = (f.floor() as usize).min(TABLE - 2);
        let k = f - i as f32;
        table[i] * (1.0 - k) + table[i + 1] * k
    }
}

/// Signed distance from (x, y) to the polygon's edge: positive inside, negative outside.
fn inside_distance(poly: &[[f32; 2]], x: f32, y: f32) -> f32 {
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
fn profile(u: f32, power: f32) -> f32 {
    let q = 1.0 - u * u;
    if q <= 0.0 { 0.0 } else { q.powf(power) }
}

fn smooth(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn check(m: &MouthWarp<'_>) -> Result<(), KernelError> {
    let bad = |why: &str| Err(KernelError::InvalidArgument(format!("mouth warp: {why}")));
    let points = [m.left, m.right, m.nose]
        .into_iter()
        .chain([m.lip_line, m.upper_lip, m.lower_lip, m.oval].into_iter().flat_map(|s| s.iter().copied()));
    if !points.flatten().chain([m.open, m.width, m.teeth]).all(f32::is_finite) {
        return bad("every point and amount must be finite");
    }
    let d = ((m.right[0] - m.left[0]).powi(2) + (m.right[1] - m.left[1]).powi(2)).sqrt();
    if d < 1.0 {
        return bad(&format!("the corners {:?} and {:?} are less than a pixel apart", m.left, m.right));
    }
    if m.oval.len() < 3 {
        return bad("the face outline needs at least 3 points");
    }
    if m.open < 0.0 || !(0.5..=2.0).contains(&m.width) || !(0.0..=1.0).contains(&m.teeth) {
        return bad(&format!("open {} must be >= 0, width {} in 0.5..2, teeth {} in 0..1", m.open, m.width, m.teeth));
    }
    Ok(())
}

/// Opens the mouth `m` of `src` (planar RGB 0..1, `w` x `h`) into `dst`. Outside the face
/// outline and above the nose's line `dst` is `src` exactly, and so is all of it when
/// `m.open` is 0. Points may lie outside the image (samples are clamped to it).
pub fn open_mouth(src: &[f32], w: usize, h: usize, m: &MouthWarp<'_>, dst: &mut [f32]) -> Result<(), KernelError> {
    check_len("open_mouth source", src.len(), w, h)?;
    check_len("open_mouth destination", dst.len(), w, h)?;
    check(m)?;
    dst.copy_from_slice(src);
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
        return Ok(());
    }
    let power = (0.5 + 1.25 * (m.width - 0.8)).clamp(0.4, 1.0);
    let spread = m.width - 1.0;
    let lk = look(src, w, h, &ax, &upper, &lower);
    let edge = 1.2 * lk.blur;

    // Forward displacements (x, y) of the part above the lip line and of the part below, on
    // the pixel grid; zero above the nose's line and outside the outline.
    let n = w * h;
    let mut up = vec![0f32; 2 * n];
    let mut down = vec![0f32; 2 * n];
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let (s, t) = ax.st(px, py);
            if t <= nose_t {
                continue;
            }
            let edge = inside_distance(m.oval, px, py);
            if edge <= 0.0 {
                continue;
            }
            let face = ramp(edge / fade);
            let below_nose = ramp((t - nose_t) / (ax.at(&upper, s) - nose_t).max(1.0));
            // Corners in or out: the lips follow their corners, the cheeks beside them less.
            let lateral = if s.abs() <= a { s } else { a.copysign(s) * ramp(2.0 - s.abs() / a) };
            let across = if t < top { ramp((t - nose_t) / (top - nose_t)) } else { ramp(1.0 - (t - bottom) / a) };
            let dx = spread * lateral * across * face;
            let dy_up = -g_up * profile(s / a, power) * below_nose * face;
            // The jaw below the lower lip moves as a whole: the profile widens towards the chin.
            let reach = a + 0.9 * (t - bottom).max(0.0);
            let dy_down = g_down * profile(s / reach, power) * face;
            let i = y * w + x;
            let (ddx, ddy) = (dx * ax.u[0], dx * ax.u[1]);
            up[i] = ddx + dy_up * ax.v[0];
            up[n + i] = ddy + dy_up * ax.v[1];
            down[i] = ddx + dy_down * ax.v[0];
            down[n + i] = ddy + dy_down * ax.v[1];
        }
    }

    // Displacement planes are sampled at pixel centres; bilinear() works on pixel indices.
    let field = |f: &[f32], x: f32, y: f32| {
        (bilinear(&f[..n], w, h, x - 0.5, y - 0.5), bilinear(&f[n..], w, h, x - 0.5, y - 0.5))
    };
    // Where a displaced pixel came from: q + d(q) = p, by fixed-point steps (they converge as
    // the field's slope is below 1).
    let source = |f: &[f32], px: f32, py: f32| {
        let (mut qx, mut qy) = (px, py);
        for _ in 0..16 {
            let (dx, dy) = field(f, qx, qy);
            (qx, qy) = (px - dx, py - dy);
        }
        (qx, qy)
    };
    let sample = |x: f32, y: f32| -> [f32; 3] {
        std::array::from_fn(|c| bilinear(&src[c * n..(c + 1) * n], w, h, x - 0.5, y - 0.5))
    };
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let (_, t) = ax.st(px, py);
            if t <= nose_t - 1.0 {
                continue;
            }
            let (lx, ly) = source(&down, px, py);
            let (hx, hy) = source(&up, px, py);
            if (lx, ly) == (px, py) && (hx, hy) == (px, py) {
                continue;
            }
            // How far each source lies on its own side of the lip line (negative: across it).
            let (ls, lt) = ax.st(lx, ly);
            let (hs, ht) = ax.st(hx, hy);
            let below = lt - ax.at(&line, ls);
            let above = ax.at(&line, hs) - ht;
            let (mut wl, mut wu) = ((below / edge + 0.5).clamp(0.0, 1.0), (above / edge + 0.5).clamp(0.0, 1.0));
            let cover = wl + wu;
            if cover > 1.0 {
                (wl, wu) = (wl / cover, wu / cover);
            }
            let wi = (1.0 - wl - wu).max(0.0);
            let (lo, hi) = (sample(lx, ly), sample(hx, hy));
            let inside = if wi > 0.0 { cavity(&lo, &hi, -above, -below, hs, a, open, m.teeth, &lk) } else { [0.0; 3] };
            let i = y * w + x;
            for c in 0..3 {
                dst[c * n + i] = wl * lo[c] + wu * hi[c] + wi * inside[c];
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A face: grey skin, a red lip band around row `my` between the corners, a dark line where
    /// the lips meet, on a blue background outside an ellipse.
    struct Scene {
        w: usize,
        h: usize,
        src: Vec<f32>,
        oval: Vec<[f32; 2]>,
    }

    fn scene() -> Scene {
        let (w, h) = (96, 112);
        let (cx, cy, rx, ry) = (48.0, 52.0, 38.0, 50.0);
        let oval: Vec<[f32; 2]> = (0..36)
            .map(|k| {
                let a = k as f32 * std::f32::consts::TAU / 36.0;
                [cx + rx * a.cos(), cy + ry * a.sin()]
            })
            .collect();
        let mut src = vec![0f32; 3 * w * h];
        for y in 0..h {
            for x in 0..w {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let inside = ((px - cx) / rx).powi(2) + ((py - cy) / ry).powi(2) < 1.0;
                let lips = (34.0..62.0).contains(&px) && (68.0..80.0).contains(&py);
                // Texture, so that moving pixels shows.
                let tex = 0.05 * ((x * 7 + y * 13) % 5) as f32;
                let c = match () {
                    _ if !inside => [0.1, 0.2, 0.7 + tex],
                    _ if lips && y == 73 => [0.3, 0.1, 0.1],
                    _ if lips => [0.8, 0.25 + tex, 0.25],
                    _ => [0.7 + tex, 0.6, 0.5],
                };
                for k in 0..3 {
                    src[k * w * h + y * w + x] = c[k];
                }
            }
        }
        Scene { w, h, src, oval }
    }

    fn warp(sc: &Scene, open: f32) -> MouthWarp<'_> {
        MouthWarp {
            left: [34.0, 74.0],
            right: [62.0, 74.0],
            lip_line: &[],
            upper_lip: &[],
            lower_lip: &[],
            nose: [48.0, 60.0],
            oval: &sc.oval,
            open,
            width: 1.0,
            teeth: 0.0,
        }
    }

    fn run(sc: &Scene, m: &MouthWarp<'_>) -> Vec<f32> {
        let mut dst = vec![0f32; sc.src.len()];
        open_mouth(&sc.src, sc.w, sc.h, m, &mut dst).unwrap();
        dst
    }

    fn luma(img: &[f32], n: usize, i: usize) -> f32 {
        0.3 * img[i] + 0.59 * img[n + i] + 0.11 * img[2 * n + i]
    }

    #[test]
    fn a_closed_mouth_changes_nothing() {
        let sc = scene();
        assert_eq!(run(&sc, &warp(&sc, 0.0)), sc.src);
        assert_eq!(run(&sc, &MouthWarp { width: 1.2, ..warp(&sc, 0.0) }), sc.src);
    }

    #[test]
    fn an_open_mouth_is_dark_inside_and_moves_only_the_lower_face() {
        let sc = scene();
        let (w, h, n) = (sc.w, sc.h, sc.w * sc.h);
        let dst = run(&sc, &warp(&sc, 12.0));
        assert!(dst.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
        // Nothing above the nose's line (y 60) or outside the outline changes.
        for y in 0..h {
            for x in 0..w {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                if py < 60.0 || inside_distance(&sc.oval, px, py) <= 0.0 {
                    for c in 0..3 {
                        assert_eq!(dst[c * n + y * w + x], sc.src[c * n + y * w + x], "({x}, {y}) moved");
                    }
                }
            }
        }
        // The middle of the mouth is dark: the opening spans several rows around the lip line.
        let dark: Vec<usize> = (60..100).filter(|&y| luma(&dst, n, y * w + 48) < 0.15).collect();
        assert!(dark.len() >= 6, "dark rows at the middle: {dark:?}");
        assert!(dark.iter().all(|&y| (70..90).contains(&y)), "{dark:?}");
        assert!(luma(&dst, n, 74 * w + 48) < 0.1, "deep inside is darker than the lips' line (0.16)");
        // The lower lip moved down by about 3/4 of the opening: red now where skin was.
        let red = |img: &[f32], y: usize| img[y * w + 48] > 0.75 && img[n + y * w + 48] < 0.45;
        assert!(!red(&sc.src, 85) && red(&dst, 85), "the lower lip moved down");
        assert!(red(&dst, 67) && !red(&sc.src, 67), "the upper lip moved up a little");
        // The opening narrows towards the corners.
        let col = |x: usize| (60..100).filter(|&y| luma(&dst, n, y * w + x) < 0.15).count();
        assert!(col(48) > col(56) && col(56) >= col(60), "{} {} {}", col(48), col(56), col(60));
    }

    #[test]
    fn rounded_and_spread_mouths_differ_and_teeth_show_only_when_asked() {
        let sc = scene();
        let (w, n) = (sc.w, sc.w * sc.h);
        let dark_width = |img: &[f32]| (0..w).filter(|&x| luma(img, n, 76 * w + x) < 0.15).count();
        let round = run(&sc, &MouthWarp { width: 0.8, ..warp(&sc, 10.0) });
        let spread = run(&sc, &MouthWarp { width: 1.2, ..warp(&sc, 10.0) });
        assert!(dark_width(&spread) > dark_width(&round) + 4, "{} vs {}", dark_width(&spread), dark_width(&round));
        let plain = run(&sc, &warp(&sc, 14.0));
        let teeth = run(&sc, &MouthWarp { teeth: 1.0, ..warp(&sc, 14.0) });
        // Teeth: rows at the middle much lighter than without them, just under the upper lip.
        let light: Vec<usize> =
            (60..100).filter(|&y| luma(&teeth, n, y * w + 48) > luma(&plain, n, y * w + 48) + 0.2).collect();
        let dark: Vec<usize> = (60..100).filter(|&y| luma(&plain, n, y * w + 48) < 0.15).collect();
        assert!(!light.is_empty() && light.iter().all(|y| y <= &dark[dark.len() / 2]), "{light:?} in {dark:?}");
    }

    #[test]
    fn points_outside_the_frame_and_bad_arguments() {
        let sc = scene();
        let far: Vec<[f32; 2]> = sc.oval.iter().map(|p| [p[0] + 60.0, p[1] + 50.0]).collect();
        let m = MouthWarp {
            left: [80.0, 110.0],
            right: [120.0, 112.0],
            nose: [100.0, 95.0],
            oval: &far,
            ..warp(&sc, 20.0)
        };
        let dst = run(&sc, &m);
        assert!(dst.iter().all(|v| v.is_finite()));
        let mut out = vec![0f32; sc.src.len()];
        assert!(open_mouth(&sc.src, sc.w, sc.h, &MouthWarp { open: f32::NAN, ..m }, &mut out).is_err());
        assert!(open_mouth(&sc.src, sc.w, sc.h, &MouthWarp { right: m.left, ..m }, &mut out).is_err());
        assert!(open_mouth(&sc.src, sc.w, sc.h, &MouthWarp { oval: &far[..2], ..m }, &mut out).is_err());
        assert!(open_mouth(&sc.src, sc.w, sc.h - 1, &m, &mut out).is_err());
    }
}
