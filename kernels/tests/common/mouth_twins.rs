//! The mouth animation's kernels (`open_mouth_field`, `open_mouth_shade` in face.cu) against
//! `open_mouth`, on any `Device`, from the run's seed as the other twins: random pictures, a
//! random mouth somewhere over the frame (corners 1.2 to 40 pixels apart, up to a fifth of the frame on large ones, tilted, at times past
//! the edges), outlines of 3 to 40 points, contours present or not, openings from 0 (nothing
//! moves) to 40 pixels, every width and teeth.

use super::pixel_twins::values;
use super::twins::{Cases, case_rng};
use gst_ai_kernels::cuda::{Device, pixel_ops as ops};
use gst_ai_kernels::{KernelError, MouthWarp, open_mouth};

/// Picture sizes: a pixel, a row, a column, odd sizes, face-sized regions, 1080p.
const SIZES: [(usize, usize); 8] = [(1, 1), (9, 1), (1, 9), (13, 7), (64, 33), (48, 44), (256, 256), (1920, 1080)];

/// Runs every case; values may differ from the CPU's by `tolerance` (0 on the shim, which calls
/// the CPU's C library; on a GPU CUDA's cosf and powf are a few ulp away). Returns the number of
/// cases, how many of them changed the picture, and the largest difference seen.
pub fn mouth_cases<D: Device>(
    d: &D,
    seed: u64,
    cases: &Cases,
    tolerance: f32,
) -> Result<(usize, usize, f32), KernelError> {
    let (mut n, mut moved, mut worst) = (0, 0, 0f32);
    let mut case = 30_000;
    for (w, h) in SIZES {
        for _ in 0..4 {
            case += 1;
            if !cases.keep(seed, case, w * h) {
                continue;
            }
            let mut rng = case_rng(seed, case);
            let src = values(&mut rng, 3 * w * h, 0.0, 1.0);
            let (fw, fh) = (w as f32, h as f32);
            // The mouth's middle anywhere over the frame and a little past it.
            let (cx, cy) = (fw * (1.4 * rng.unit() - 0.2), fh * (1.4 * rng.unit() - 0.2));
            let half = 0.6 + rng.unit() * (0.1 * w.min(h) as f32).max(20.0);
            let tilt = 0.6 * (rng.unit() - 0.5);
            let (ux, uy) = (tilt.cos(), tilt.sin());
            let at = |s: f32, t: f32| [cx + s * ux - t * uy, cy + s * uy + t * ux];
            let (rx, ry) = (half * (1.5 + 2.0 * rng.unit()), half * (2.0 + 3.0 * rng.unit()));
            let k = 3 + rng.below(38);
            let oval: Vec<[f32; 2]> = (0..k)
                .map(|i| {
                    let a = i as f32 * std::f32::consts::TAU / k as f32;
                    at(rx * a.cos(), -0.6 * ry + ry * a.sin() * (0.8 + 0.4 * rng.unit()))
                })
                .collect();
            let mut curve = |lift: f32| -> Vec<[f32; 2]> {
                if rng.below(2) == 0 {
                    return Vec::new();
                }
                let m = 2 + rng.below(8);
                (0..m).map(|i| at(half * (2.0 * i as f32 / (m - 1) as f32 - 1.0), lift * (0.5 + rng.unit()))).collect()
            };
            let (line, upper, lower) = (curve(0.3 * half), curve(-0.4 * half), curve(0.6 * half));
            let m = MouthWarp {
                left: at(-half, 0.0),
                right: at(half, 0.0),
                lip_line: &line,
                upper_lip: &upper,
                lower_lip: &lower,
                nose: at(0.0, -half * (0.3 + 1.2 * rng.unit())),
                oval: &oval,
                open: if rng.below(6) == 0 { 0.0 } else { 40.0 * rng.unit() },
                width: 0.5 + 1.5 * rng.unit(),
                teeth: if rng.below(2) == 0 { 0.0 } else { rng.unit() },
            };
            let (mut c, mut g) = (vec![0.0; src.len()], vec![f32::NAN; src.len()]);
            open_mouth(&src, w, h, &m, &mut c)?;
            ops::open_mouth(d, &src, w, h, &m, &mut g)?;
            let diff = c
                .iter()
                .zip(&g)
                .fold(0f32, |m, (a, b)| if a.to_bits() == b.to_bits() { m } else { m.max((a - b).abs()) });
            assert!(
                !diff.is_nan() && diff <= tolerance,
                "open_mouth {w}x{h} {m:?}: differs by {diff}, beyond {tolerance} (GST_AI_SEED={seed}, case {case})"
            );
            worst = worst.max(diff);
            moved += usize::from(c != src);
            n += 1;
        }
    }
    // The checks are the CPU's: a bad warp is refused with the CPU's error.
    let (src, mut out) = (vec![0.5f32; 3 * 8 * 8], vec![0f32; 3 * 8 * 8]);
    let oval = [[0.0, 0.0], [8.0, 0.0], [4.0, 8.0]];
    let bad = MouthWarp {
        left: [2.0, 5.0],
        right: [2.2, 5.0],
        lip_line: &[],
        upper_lip: &[],
        lower_lip: &[],
        nose: [4.0, 3.0],
        oval: &oval,
        open: 3.0,
        width: 1.0,
        teeth: 0.0,
    };
    let cpu = open_mouth(&src, 8, 8, &bad, &mut out).unwrap_err().to_string();
    let dev = ops::open_mouth(d, &src, 8, 8, &bad, &mut out).unwrap_err().to_string();
    assert_eq!(cpu, dev);
    assert!(ops::open_mouth(d, &src, 8, 7, &MouthWarp { right: [6.0, 5.0], ..bad }, &mut out).is_err());
    Ok((n, moved, worst))
}
