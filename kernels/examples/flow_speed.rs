//! Times the built-in frame interpolation: `luma` of both frames, the two
//! flows of the pair and `interpolate` (plus `scene_change`, reported
//! apart), with `FlowParams::for_size` (`FlowParams::default()` when `DEFAULT` is set), on a synthetic textured frame pair
//! moving by (5.3, -2.6) px, at 1280x720 unless `W` and `H` say otherwise,
//! over `RUNS` runs (20). Run with
//! `cargo run -p gst-ai-kernels --release --example flow_speed`.

use std::time::{Duration, Instant};

use gst_ai_kernels::{
    FlowParams, FlowWorkspace, interpolate, interpolate_yuv420, luma, optical_flow, scene_change, yuv420_len,
};

/// A smooth-ish texture with sharp edges, moved by (dx, dy): separable
/// waves plus a checkerboard of brighter blocks.
fn frame(dx: f32, dy: f32, w: usize, h: usize) -> Vec<f32> {
    let n = w * h;
    let mut out = vec![0.0; 3 * n];
    for c in 0..3 {
        let cf = c as f32;
        let xs: Vec<(f32, f32, i64)> = (0..w)
            .map(|x| {
                let xf = x as f32 - dx;
                ((xf * 0.05 + cf).sin(), (xf * 0.126 + 0.3 * cf).sin(), (xf / 97.0).floor() as i64)
            })
            .collect();
        let ys: Vec<(f32, f32, i64)> = (0..h)
            .map(|y| {
                let yf = y as f32 - dy;
                ((yf * 0.07).cos(), (yf * 0.168).cos(), (yf / 61.0).floor() as i64)
            })
            .collect();
        for (y, &(cy, cy2, by)) in ys.iter().enumerate() {
            for (x, &(sx, sx2, bx)) in xs.iter().enumerate() {
                let mut v = 0.5 + 0.15 * sx * cy + 0.1 * sx2 * cy2;
                if (bx + by).rem_euclid(3) == 0 {
                    v = 0.7 * v + 0.3;
                }
                out[c * n + y * w + x] = v.clamp(0.0, 1.0);
            }
        }
    }
    out
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let (w, h, runs) = (env("W", 1280), env("H", 720), env("RUNS", 20).max(1));
    let (f0, f1) = (frame(0.0, 0.0, w, h), frame(5.3, -2.6, w, h));
    let n = w * h;
    let params = if std::env::var("DEFAULT").is_ok() { FlowParams::default() } else { FlowParams::for_size(w, h) };
    let mut ws = FlowWorkspace::new();
    let (mut l0, mut l1) = (vec![0.0; n], vec![0.0; n]);
    let (mut f01, mut f10) = (vec![0.0; 2 * n], vec![0.0; 2 * n]);
    let mut out = vec![0.0; 3 * n];
    // The same frames as 4:2:0 planes (luma, then the first two channels
    // averaged over 2x2 blocks), for interpolate_yuv420.
    let yuv = |f: &[f32]| {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut p = Vec::with_capacity(yuv420_len(w, h));
        let mut l = vec![0.0; n];
        luma(f, w, h, &mut l).unwrap();
        p.extend_from_slice(&l);
        for c in 0..2 {
            for y in 0..ch {
                for x in 0..cw {
                    let at = |xx: usize, yy: usize| f[c * n + yy.min(h - 1) * w + xx.min(w - 1)];
                    p.push(
                        0.25 * (at(2 * x, 2 * y)
                            + at(2 * x + 1, 2 * y)
                            + at(2 * x, 2 * y + 1)
                            + at(2 * x + 1, 2 * y + 1)),
                    );
                }
            }
        }
        p
    };
    let (y0, y1) = (yuv(&f0), yuv(&f1));
    let mut yout = vec![0.0; yuv420_len(w, h)];
    // Per stage and run: luma x2, flow 0->1, flow 1->0, interpolate, scene
    // change, the total of the first four, interpolate_yuv420.
    let mut times: Vec<[Duration; 7]> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut t = [Duration::ZERO; 7];
        let mut lap = Instant::now();
        let mut mark = |k: usize, t: &mut [Duration; 7]| {
            let now = Instant::now();
            t[k] = now - lap;
            lap = now;
        };
        luma(&f0, w, h, &mut l0).unwrap();
        luma(&f1, w, h, &mut l1).unwrap();
        mark(0, &mut t);
        optical_flow(&l0, &l1, w, h, &params, &mut ws, &mut f01).unwrap();
        mark(1, &mut t);
        optical_flow(&l1, &l0, w, h, &params, &mut ws, &mut f10).unwrap();
        mark(2, &mut t);
        interpolate(&f0, &f1, w, h, &f01, &f10, 0.5, &mut ws, &mut out).unwrap();
        mark(3, &mut t);
        std::hint::black_box(scene_change(&l0, &l1, w, h).unwrap());
        mark(4, &mut t);
        t[5] = t[..4].iter().sum();
        interpolate_yuv420(&y0, &y1, w, h, &f01, &f10, 0.5, &mut ws, &mut yout).unwrap();
        mark(6, &mut t);
        times.push(t);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{w}x{h}, {params:?}, {threads} threads, {runs} runs (ms):");
    println!("  {:<34} {:>8} {:>8}", "", "best", "median");
    let names = [
        "luma x2",
        "optical_flow 0->1",
        "optical_flow 1->0",
        "interpolate",
        "scene_change",
        "luma + 2 flows + interpolate",
        "interpolate_yuv420",
    ];
    for (k, name) in names.iter().enumerate() {
        let mut v: Vec<f64> = times.iter().map(|t| t[k].as_secs_f64() * 1e3).collect();
        v.sort_by(f64::total_cmp);
        println!("  {name:<34} {:8.2} {:8.2}", v[0], v[v.len() / 2]);
    }
}
