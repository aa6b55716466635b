//! The inside of an opened mouth: what the picture around the lips is like ([`look`]: how soft
//! its edges are, how coloured, how dark) and the colour of the opening ([`cavity`]).

use super::plan::{Axes, TABLE, profile, smooth};
use crate::face::bilinear;

/// The inside of a mouth (RGB 0..1): dark and warm, darker deep inside, the tongue's red low
/// down, the teeth a light warm grey. Grey pictures get the same luma without the tint.
const RIM: f32 = 0.45;
const DEEP: [f32; 3] = [0.075, 0.03, 0.028];
const TONGUE: [f32; 3] = [0.3, 0.11, 0.1];
const TEETH: [f32; 3] = [0.8, 0.75, 0.66];

/// What the picture around the lips is like: how blurred its edges are (the spread of a
/// blurred step, in pixels: an upscaled face is soft, and a crisp opening on it reads as a
/// sticker) and how coloured it is (0 grey .. 1), read along a few columns across the lips;
/// and the inside's colours tinted to match. `repr(C)`: part of the kernels' `MouthPlan`.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct Look {
    pub(crate) blur: f32,
    /// DEEP, TONGUE and TEETH tinted in proportion to the picture's own colour (0 grey .. 1).
    /// The deep inside is no darker than a third of the darkest luma across the lips (where a
    /// closed mouth's lips meet; up to a dark grey), so a low-contrast picture gets no
    /// pitch-black hole.
    deep: [f32; 3],
    tongue: [f32; 3],
    white: [f32; 3],
}

pub(crate) fn look(src: &[f32], w: usize, h: usize, ax: &Axes, upper: &[f32; TABLE], lower: &[f32; TABLE]) -> Look {
    let n = w * h;
    let a = ax.a;
    let (mut blurs, mut chroma, mut count, mut darkest) = (Vec::new(), 0f32, 0f32, 1f32);
    for k in [-0.4f32, -0.2, 0.0, 0.2, 0.4] {
        let s = k * a;
        let (t0, t1) = (ax.at(upper, s) - 0.3 * a, ax.at(lower, s) + 0.3 * a);
        let (mut lo, mut hi, mut steep, mut prev) = (f32::INFINITY, f32::NEG_INFINITY, 0f32, None::<f32>);
        let mut t = t0;
        while t <= t1 {
            let (x, y) = (ax.c[0] + s * ax.u[0] + t * ax.v[0], ax.c[1] + s * ax.u[1] + t * ax.v[1]);
            let rgb: [f32; 3] = std::array::from_fn(|c| bilinear(&src[c * n..(c + 1) * n], w, h, x - 0.5, y - 0.5));
            let l = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
            chroma += rgb.iter().fold(0f32, |m, &v| m.max(v)) - rgb.iter().fold(1f32, |m, &v| m.min(v));
            count += 1.0;
            (lo, hi) = (lo.min(l), hi.max(l));
            if let Some(p) = prev {
                steep = steep.max((l - p).abs() / 0.5);
            }
            prev = Some(l);
            t += 0.5;
        }
        darkest = darkest.min(lo);
        if steep > 1e-4 {
            // A step of contrast C blurred by a Gaussian of spread σ is at most C / (2.5 σ) steep.
            blurs.push((hi - lo) / (2.5 * steep));
        }
    }
    blurs.sort_by(f32::total_cmp);
    let blur = blurs.get(blurs.len() / 2).copied().unwrap_or(0.5);
    let colour = (chroma / count.max(1.0) / 0.12).clamp(0.0, 1.0);
    // The tint, in proportion to the picture's own colour.
    let tint = |c: &[f32; 3], floor: f32| -> [f32; 3] {
        let l = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
        let lift = floor.max(l) / l;
        std::array::from_fn(|k| lift * (l + colour * (c[k] - l)))
    };
    Look {
        // At least half a pixel, at most 0.15 a (a mouth under 7 pixels wide gets half a pixel;
        // `clamp` would panic there).
        blur: blur.min(0.15 * a).max(0.5),
        deep: tint(&DEEP, (0.35 * darkest).min(0.09)),
        tongue: tint(&TONGUE, 0.0),
        white: tint(&TEETH, 0.0),
    }
}

/// The colour inside the opening at `from_top` / `from_bottom` pixels from its upper and lower
/// edges, at `s` along the mouth (half width `a`, opening `open` at the middle): the lips' own
/// colour, darkened, at the rim; dark and warm deep inside; the tongue's red low down; and a
/// soft band of upper teeth under the upper lip when `teeth` > 0 and the opening is tall enough.
/// Edges are as soft as the picture's own.
#[allow(clippy::too_many_arguments)]
pub(crate) fn cavity(
    lo: &[f32; 3],
    hi: &[f32; 3],
    from_top: f32,
    from_bottom: f32,
    s: f32,
    a: f32,
    open: f32,
    teeth: f32,
    lk: &Look,
) -> [f32; 3] {
    let (ft, fb) = (from_top.max(0.0), from_bottom.max(0.0));
    let tall = ft + fb;
    let rim_width = 0.15 * open + 0.6 * lk.blur;
    let deep = smooth(ft.min(fb) / rim_width);
    let low = if tall > 0.0 { smooth((ft / tall - 0.55) / 0.45) } else { 0.0 };
    let (dark, tongue, white) = (&lk.deep, &lk.tongue, &lk.white);
    let mut c: [f32; 3] = std::array::from_fn(|k| {
        let rim = RIM * 0.5 * (lo[k] + hi[k]);
        let inner = dark[k] + (tongue[k] - dark[k]) * low * smooth(open / (0.4 * a));
        rim + (inner - rim) * deep
    });
    if teeth > 0.0 {
        let band = 0.16 * a;
        let soft = 1.0 + 2.0 * lk.blur;
        let room = smooth((tall - 1.5 * band) / band);
        let under = smooth((band - ft) / soft + 0.5);
        let shade = 0.55 + 0.45 * profile(s / a, 1.0);
        let alpha = teeth * room * under * smooth(1.0 - (s / a).abs() * 1.1);
        for k in 0..3 {
            c[k] += alpha * (white[k] * shade - c[k]);
        }
    }
    c
}
