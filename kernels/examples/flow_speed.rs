//! Times the built-in frame interpolation at 1280x720: `luma` of both
//! frames, the two flows of the pair and `interpolate`, with
//! `FlowParams::default()`, on a synthetic textured frame pair moving by
//! (5.3, -2.6) px. Run with `cargo run -p gst-ai-kernels --release --example flow_speed`.

use std::time::{Duration, Instant};

use gst_ai_kernels::{FlowParams, FlowWorkspace, interpolate, luma, optical_flow, scene_change};

const W: usize = 1280;
const H: usize = 720;

/// A smooth-ish texture with sharp edges, moved by (dx, dy).
fn frame(dx: f32, dy: f32) -> Vec<f32> {
    let n = W * H;
    let mut out = vec![0.0; 3 * n];
    for c in 0..3 {
        for y in 0..H {
            for x in 0..W {
                let (xf, yf) = (x as f32 - dx, y as f32 - dy);
                let mut v = 0.5
                    + 0.15 * (xf * 0.05 + c as f32).sin() * (yf * 0.07).cos()
                    + 0.1 * ((xf * 0.6 + yf * 0.8) * 0.21).sin()
                    + 0.05 * ((xf * 0.013 + yf * 0.029) * (1.0 + c as f32)).sin();
                if ((xf / 97.0).floor() as i64 + (yf / 61.0).floor() as i64) % 3 == 0 {
                    v = 0.7 * v + 0.3;
                }
                out[c * n + y * W + x] = v.clamp(0.0, 1.0);
            }
        }
    }
    out
}

fn main() {
    let (f0, f1) = (frame(0.0, 0.0), frame(5.3, -2.6));
    let n = W * H;
    let params = FlowParams::default();
    let mut ws = FlowWorkspace::new();
    let (mut l0, mut l1) = (vec![0.0; n], vec![0.0; n]);
    let (mut f01, mut f10) = (vec![0.0; 2 * n], vec![0.0; 2 * n]);
    let mut out = vec![0.0; 3 * n];
    if std::env::var("ONLY_INTERP").is_ok() {
        luma(&f0, W, H, &mut l0).unwrap();
        luma(&f1, W, H, &mut l1).unwrap();
        optical_flow(&l0, &l1, W, H, &params, &mut ws, &mut f01).unwrap();
        optical_flow(&l1, &l0, W, H, &params, &mut ws, &mut f10).unwrap();
        let start = Instant::now();
        let iters: usize = std::env::var("ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
        for _ in 0..iters {
            interpolate(&f0, &f1, W, H, &f01, &f10, 0.5, &mut ws, &mut out).unwrap();
        }
        println!("interpolate mean {:.2} ms", start.elapsed().as_secs_f64() * 1e3 / iters as f64);
        return;
    }
    let mut times = [Duration::MAX; 5];
    let runs: usize = std::env::var("RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    for _ in 0..runs {
        let mut lap = Instant::now();
        let mut mark = |k: usize, times: &mut [Duration; 5]| {
            let now = Instant::now();
            times[k] = times[k].min(now - lap);
            lap = now;
        };
        luma(&f0, W, H, &mut l0).unwrap();
        luma(&f1, W, H, &mut l1).unwrap();
        mark(0, &mut times);
        optical_flow(&l0, &l1, W, H, &params, &mut ws, &mut f01).unwrap();
        mark(1, &mut times);
        optical_flow(&l1, &l0, W, H, &params, &mut ws, &mut f10).unwrap();
        mark(2, &mut times);
        interpolate(&f0, &f1, W, H, &f01, &f10, 0.5, &mut ws, &mut out).unwrap();
        mark(3, &mut times);
        std::hint::black_box(scene_change(&l0, &l1, W, H).unwrap());
        mark(4, &mut times);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("1280x720, {params:?}, best of {runs}:");
    for (name, t) in
        ["luma x2", "optical_flow 0->1", "optical_flow 1->0", "interpolate", "scene_change"].iter().zip(times)
    {
        println!("  {name:<20} {:7.2} ms", ms(t));
    }
    let total: f64 = times[..4].iter().map(|&t| ms(t)).sum();
    println!("  {:<20} {total:7.2} ms (luma + 2 flows + interpolate)", "total");
}
