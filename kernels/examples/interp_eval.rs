//! Tuning aid for the built-in interpolation, on the kernels alone (no GStreamer): reads raw RGB
//! frames (`ffmpeg -i CLIP -f rawvideo -pix_fmt rgb24 FILE`), makes every odd frame from its two
//! even neighbours (pairs across a scene cut skipped, `luma`, both flows, `interpolate` at t = 0.5) and prints each made frame's
//! luma PSNR against the original, their mean and the time per made frame. `STRIPS=k` writes the
//! k worst frames (or the frames listed in
//! `STRIP_AT`) as `out/strip-NAME-FRAME.ppm`: truth | made | 4x error.
//!
//! `cargo run -p gst-ai-kernels --release --example interp_eval -- FILE W H [NAME]`; the flow
//! parameters come from `FlowParams::for_size`, overridden by `DS`, `PATCH`, `STRIDE`, `ITERS`.

use std::time::Instant;

use gst_ai_kernels::{FlowParams, FlowWorkspace, interpolate, luma, optical_flow, scene_change};

fn env(name: &str) -> Option<u32> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn planar(rgb: &[u8], n: usize) -> Vec<f32> {
    let mut out = vec![0.0; 3 * n];
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * n + i] = px[c] as f32 / 255.0;
        }
    }
    out
}

/// Luma in 0..255 of a planar RGB image (values rounded to 8 bits first, as an element outputs).
fn y255(p: &[f32], n: usize) -> Vec<f64> {
    let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as f64;
    (0..n).map(|i| 0.299 * q(p[i]) + 0.587 * q(p[n + i]) + 0.114 * q(p[2 * n + i])).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (file, w, h) = (&args[0], args[1].parse::<usize>().unwrap(), args[2].parse::<usize>().unwrap());
    let name = args.get(3).cloned().unwrap_or_else(|| "clip".into());
    let n = w * h;
    let bytes = std::fs::read(file).expect("readable raw RGB file");
    let frames: Vec<Vec<f32>> = bytes.chunks_exact(3 * n).map(|c| planar(c, n)).collect();
    let mut p = FlowParams::for_size(w, h);
    p.downscale = env("DS").unwrap_or(p.downscale);
    p.patch = env("PATCH").unwrap_or(p.patch);
    p.stride = env("STRIDE").unwrap_or(p.stride);
    p.iterations = env("ITERS").unwrap_or(p.iterations);
    let mut ws = FlowWorkspace::new();
    let (mut la, mut lb) = (vec![0.0; n], vec![0.0; n]);
    let (mut f01, mut f10, mut out) = (vec![0.0; 2 * n], vec![0.0; 2 * n], vec![0.0; 3 * n]);
    let mut results = Vec::new();
    let mut took = 0.0;
    for k in (1..frames.len().saturating_sub(1)).step_by(2) {
        let (a, b) = (&frames[k - 1], &frames[k + 1]);
        let t0 = Instant::now();
        luma(a, w, h, &mut la).unwrap();
        luma(b, w, h, &mut lb).unwrap();
        if scene_change(&la, &lb, w, h).unwrap() > 0.5 {
            // A cut: the element repeats a neighbour; nothing to score.
            continue;
        }
        optical_flow(&la, &lb, w, h, &p, &mut ws, &mut f01).unwrap();
        optical_flow(&lb, &la, w, h, &p, &mut ws, &mut f10).unwrap();
        interpolate(a, b, w, h, &f01, &f10, 0.5, &mut ws, &mut out).unwrap();
        took += t0.elapsed().as_secs_f64();
        let (yo, yt) = (y255(&out, n), y255(&frames[k], n));
        let mse = yo.iter().zip(&yt).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / n as f64;
        let psnr = 10.0 * (255.0 * 255.0 / mse.max(1e-10)).log10();
        results.push((k, psnr, out.clone()));
    }
    let mean = results.iter().map(|r| r.1).sum::<f64>() / results.len() as f64;
    if std::env::var("PER_FRAME").is_ok() {
        for (k, p, _) in &results {
            println!("frame {k}: {p:.2} dB");
        }
    }
    println!(
        "{name}: {} made frames, mean luma PSNR {mean:.3} dB, {:.2} ms per made frame ({p:?})",
        results.len(),
        1000.0 * took / results.len() as f64
    );
    let strips = env("STRIPS").unwrap_or(0) as usize;
    let mut worst: Vec<&(usize, f64, Vec<f32>)> = results.iter().collect();
    worst.sort_by(|a, b| a.1.total_cmp(&b.1));
    let at: Vec<usize> =
        std::env::var("STRIP_AT").unwrap_or_default().split(',').filter_map(|v| v.trim().parse().ok()).collect();
    let chosen: Vec<&(usize, f64, Vec<f32>)> = if at.is_empty() {
        worst.into_iter().take(strips).collect()
    } else {
        results.iter().filter(|r| at.contains(&r.0)).collect()
    };
    for (k, psnr, made) in chosen {
        let truth = &frames[*k];
        let mut ppm = format!("P6\n{} {}\n255\n", 3 * w, h).into_bytes();
        for y in 0..h {
            for (img, gain) in [(truth, 0.0f32), (made, 0.0), (made, 4.0)] {
                for x in 0..w {
                    let i = y * w + x;
                    for c in 0..3 {
                        let v =
                            if gain > 0.0 { 0.5 + gain * (img[c * n + i] - truth[c * n + i]) } else { img[c * n + i] };
                        ppm.push((v.clamp(0.0, 1.0) * 255.0).round() as u8);
                    }
                }
            }
        }
        let path = format!("out/strip-{name}-{k:03}.ppm");
        std::fs::write(&path, ppm).expect("writable out/");
        println!("wrote {path} ({psnr:.2} dB)");
    }
}
