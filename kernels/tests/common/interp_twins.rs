//! Frame interpolation on a `Device` (`cuda::interp_ops`, warp.cu's `interp_*` and `pp_*`
//! kernels) against the crate's `interpolate` and `interpolate_yuv420`, bit for bit, on fresh
//! random inputs per case from the run's seed (as twins.rs): moving content with a static
//! corner, flows with noise and a few wild values (motions far out of the frame, which the
//! splat drops, and NaN-free extremes), times 0, 1 and in between.

use super::pixel_twins::values;
use super::twins::{Cases, case_rng, same_bits};
use gst_ai_kernels::cuda::{Device, interp_ops};
use gst_ai_kernels::{FlowWorkspace, KernelError, interpolate, interpolate_yuv420};

/// Frame sizes: one pixel, a row, a column, odd sizes, node spacings 1 (23x17), 2 (64x33,
/// 177x145) and 4 (1030x70, 720p), rows ending in a partial chunk of 8 pixels, bicubic sampling
/// (up to 640x360 pixels) and bilinear (720p).
pub const SIZES: [(usize, usize); 9] =
    [(1, 1), (9, 1), (1, 9), (2, 2), (23, 17), (64, 33), (177, 145), (1030, 70), (1280, 720)];

/// Runs every case; returns how many ran. Each also checks that the motion-compensated path
/// ran (some pixels differ from the plain blend) where the frame is at least 2 x 2.
pub fn interp_cases<D: Device>(d: &D, seed: u64, cases: &Cases) -> Result<usize, KernelError> {
    let mut n = 0;
    let mut case = 50_000;
    for (w, h) in SIZES {
        for yuv in [false, true] {
            case += 1;
            if !cases.keep(seed, case, w * h) {
                continue;
            }
            let mut rng = case_rng(seed, case);
            let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
            let planes: Vec<(usize, usize)> = if yuv { vec![(w, h), (cw, ch), (cw, ch)] } else { vec![(w, h); 3] };
            let (dx, dy) = (rng.below(9) as isize - 4, rng.below(9) as isize - 4);
            let (mut f0, mut f1) = (Vec::new(), Vec::new());
            for &(pw, ph) in &planes {
                let a = values(&mut rng, pw * ph, 0.0, 1.0);
                // Frame 1: frame 0 moved by (dx, dy) (in this plane's pixels) plus noise, but
                // equal in the top-left quarter (static content).
                for (i, &v) in a.iter().enumerate() {
                    let (x, y) = (i % pw, i / pw);
                    let b = if x < pw / 4 && y < ph / 4 {
                        v
                    } else {
                        let sx = (x as isize + dx).clamp(0, pw as isize - 1) as usize;
                        let sy = (y as isize + dy).clamp(0, ph as isize - 1) as usize;
                        a[sy * pw + sx] + 0.02 * (rng.unit() - 0.5)
                    };
                    f1.push(b);
                }
                f0.extend(a);
            }
            let flow = |rng: &mut super::Rng, sign: f32| -> Vec<f32> {
                let mut f = values(rng, 2 * w * h, -1.5, 1.5);
                for (i, v) in f.iter_mut().enumerate() {
                    *v += sign * if i < w * h { dx as f32 } else { dy as f32 };
                    if rng.below(97) == 0 {
                        *v = (rng.unit() - 0.5) * 1e4;
                    }
                }
                f
            };
            let (flow01, flow10) = (flow(&mut rng, -1.0), flow(&mut rng, 1.0));
            // The end points (a copy) on the smallest frames, times in between on the others.
            let t = match (w * h <= 4, rng.below(3)) {
                (true, k) => [0.0, 1.0, 0.5][k],
                (false, 0) => 0.5,
                _ => rng.unit(),
            };
            let len = f0.len();
            let (mut cpu, mut dev) = (vec![0.0; len], vec![f32::NAN; len]);
            let mut ws = FlowWorkspace::new();
            if yuv {
                interpolate_yuv420(&f0, &f1, w, h, &flow01, &flow10, t, &mut ws, &mut cpu)?;
                interp_ops::interpolate_yuv420(d, &f0, &f1, w, h, &flow01, &flow10, t, &mut dev)?;
            } else {
                interpolate(&f0, &f1, w, h, &flow01, &flow10, t, &mut ws, &mut cpu)?;
                interp_ops::interpolate(d, &f0, &f1, w, h, &flow01, &flow10, t, &mut dev)?;
            }
            let what = format!("interpolate{} {w}x{h} t {t}", if yuv { "_yuv420" } else { "" });
            if let Some(i) = (0..len).find(|&i| cpu[i].to_bits() != dev[i].to_bits()) {
                panic!("{what}: value {i} of {len} is {} on the device, {} on the CPU", dev[i], cpu[i]);
            }
            assert!(same_bits(&cpu, &dev), "{what}");
            if w >= 2 && h >= 2 && t > 0.0 && t < 1.0 {
                let moved = (0..len).filter(|&i| cpu[i] != f0[i] + t * (f1[i] - f0[i])).count();
                assert!(moved > 0, "{what}: no pixel was motion-compensated");
            }
            n += 1;
        }
    }
    // Bad arguments: the CPU's errors.
    let e = interp_ops::interpolate(d, &[0.0; 12], &[0.0; 12], 2, 2, &[0.0; 8], &[0.0; 8], 1.5, &mut [0.0; 12])
        .unwrap_err()
        .to_string();
    assert!(e.contains("interpolation time 1.5"), "{e}");
    let e = interp_ops::interpolate(d, &[0.0; 11], &[0.0; 12], 2, 2, &[0.0; 8], &[0.0; 8], 0.5, &mut [0.0; 12])
        .unwrap_err()
        .to_string();
    assert!(e.contains("frame 0"), "{e}");
    Ok(n)
}
