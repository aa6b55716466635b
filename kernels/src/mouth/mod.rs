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
pub(crate) mod plan;

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
    let plan = plan::plan(src, dst.len(), w, h, m)?;
    dst.copy_from_slice(src);
    let Some(p) = plan else { return Ok(()) };
    // Forward displacements (x, y) of the part above the lip line and of the part below, on
    // the pixel grid.
    let n = w * h;
    let mut up = vec![0f32; 2 * n];
    let mut down = vec![0f32; 2 * n];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            [up[i], up[n + i], down[i], down[n + i]] = plan::field_at(&p, m.oval, x, y);
        }
    }
    for y in 0..h {
        for x in 0..w {
            if let Some(rgb) = plan::shade_at(&p, src, w, h, &up, &down, x, y) {
                for c in 0..3 {
                    dst[c * n + y * w + x] = rgb[c];
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::plan::inside_distance;
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
        // The opening's extent: its widest dark row, and its dark height half-way to a corner.
        let extent = |img: &[f32]| {
            let wide = (60..100).map(|y| (0..w).filter(|&x| luma(img, n, y * w + x) < 0.15).count()).max().unwrap();
            (wide, (60..100).filter(|&y| luma(img, n, y * w + 56) < 0.15).count())
        };
        let round = extent(&run(&sc, &MouthWarp { width: 0.8, ..warp(&sc, 10.0) }));
        let spread = extent(&run(&sc, &MouthWarp { width: 1.2, ..warp(&sc, 10.0) }));
        // At the same opening a spread mouth is a wider slot, pointed towards the corners; a
        // rounded one a narrower, fuller hole (the corners follow the width by a third).
        assert!(spread.0 > round.0 && spread.1 < round.1, "(width, height): spread {spread:?}, round {round:?}");
        let plain = run(&sc, &warp(&sc, 14.0));
        let teeth = run(&sc, &MouthWarp { teeth: 1.0, ..warp(&sc, 14.0) });
        // Teeth: rows at the middle much lighter than without them, just under the upper lip.
        let light: Vec<usize> =
            (60..100).filter(|&y| luma(&teeth, n, y * w + 48) > luma(&plain, n, y * w + 48) + 0.2).collect();
        let dark: Vec<usize> = (60..100).filter(|&y| luma(&plain, n, y * w + 48) < 0.15).collect();
        assert!(!light.is_empty() && light.iter().all(|y| y <= &dark[dark.len() / 2]), "{light:?} in {dark:?}");
    }

    #[test]
    fn a_mouth_a_few_pixels_wide_opens_without_a_panic() {
        // The edges' softness is limited to 0.15 x the half width, below the half-pixel floor
        // for corners under 7 pixels apart (`clamp` with min > max used to panic there).
        let sc = scene();
        let m = MouthWarp { left: [46.0, 74.0], right: [49.0, 74.0], ..warp(&sc, 3.0) };
        let dst = run(&sc, &m);
        assert!(dst.iter().all(|v| v.is_finite()) && dst != sc.src);
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
