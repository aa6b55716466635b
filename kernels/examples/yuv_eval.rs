//! Tuning and profiling aid for the built-in interpolation of 4:2:0 video, on the kernels alone,
//! step for step what aiinterpolate does with I420 input and no model: reads raw I420 frames
//! (`ffmpeg -i CLIP -f rawvideo -pix_fmt yuv420p FILE`), makes every odd frame from its two even
//! neighbours (`yuv420_planes`, `yuv420_luma`, `scene_change`, `optical_flow_pair`,
//! `interpolate_yuv420` at t = 0.5, `write_yuv420_planes`) and prints the mean luma PSNR of the
//! made frames against the originals and the time of each step per made frame (the pair's first
//! frame's conversions are counted, as the element converts each input once), with the cores it
//! kept busy (process CPU time over wall time).
//!
//! `cargo run -p gst-ai-kernels --release --example yuv_eval -- FILE W H`; the flow parameters
//! come from `FlowParams::for_size`, overridden by `DS`, `PATCH`, `STRIDE`, `ITERS`; `REPEAT=k`
//! runs the clip k times (for profiling).

use std::time::{Duration, Instant};

use gst_ai_kernels::{
    Colorimetry, FlowParams, FlowWorkspace, Frame, FrameMut, PixelFormat, interpolate_yuv420, optical_flow_pair,
    scene_change, write_yuv420_planes, yuv420_len, yuv420_luma, yuv420_planes,
};

fn env(name: &str) -> Option<u32> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// CPU time of this process so far (user + system, from /proc: 10 ms ticks, unbiased when summed
/// over many steps).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: u64 = fields.get(11..13).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10)
}

fn frame(bytes: &[u8], w: usize, h: usize) -> Frame<'_> {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (y, rest) = bytes.split_at(w * h);
    let (u, v) = rest.split_at(cw * ch);
    Frame::new(PixelFormat::I420, w, h, &[y, u, v], &[w, cw, cw], Colorimetry::default()).expect("valid I420 frame")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (file, w, h) = (&args[0], args[1].parse::<usize>().unwrap(), args[2].parse::<usize>().unwrap());
    let size = w * h + 2 * w.div_ceil(2) * h.div_ceil(2);
    let bytes = std::fs::read(file).expect("readable raw I420 file");
    let frames: Vec<&[u8]> = bytes.chunks_exact(size).collect();
    let mut p = FlowParams::for_size(w, h);
    p.downscale = env("DS").unwrap_or(p.downscale);
    p.patch = env("PATCH").unwrap_or(p.patch);
    p.stride = env("STRIDE").unwrap_or(p.stride);
    p.iterations = env("ITERS").unwrap_or(p.iterations);
    let repeat = env("REPEAT").unwrap_or(1).max(1);
    let len = yuv420_len(w, h);
    let mut ws = FlowWorkspace::new();
    let (mut pa, mut pb, mut made) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
    let (mut la, mut lb) = (vec![0.0; w * h], vec![0.0; w * h]);
    let (mut f01, mut f10) = (vec![0.0; 2 * w * h], vec![0.0; 2 * w * h]);
    let mut out = vec![0u8; size];
    let names = ["in (planes + luma)", "scene_change", "optical_flow_pair", "interpolate_yuv420", "out (write)"];
    let mut spent = [Duration::ZERO; 5];
    let mut cpu = [Duration::ZERO; 5];
    let (mut psnr_sum, mut count) = (0.0, 0usize);
    let pairs = (frames.len().saturating_sub(1)) / 2;
    for _ in 0..repeat {
        for k in 0..pairs {
            let (a, truth, b) = (frames[2 * k], frames[2 * k + 1], frames[2 * k + 2]);
            let c0 = cpu_time();
            let t0 = Instant::now();
            yuv420_planes(&frame(a, w, h), &mut pa).unwrap();
            yuv420_luma(&pa, w, h, false, &mut la).unwrap();
            yuv420_planes(&frame(b, w, h), &mut pb).unwrap();
            yuv420_luma(&pb, w, h, false, &mut lb).unwrap();
            let t1 = Instant::now();
            let c1 = cpu_time();
            let cut = scene_change(&la, &lb, w, h).unwrap();
            let t2 = Instant::now();
            let c2 = cpu_time();
            optical_flow_pair(&la, &lb, w, h, &p, &mut ws, &mut f01, &mut f10).unwrap();
            let t3 = Instant::now();
            let c3 = cpu_time();
            interpolate_yuv420(&pa, &pb, w, h, &f01, &f10, 0.5, &mut ws, &mut made).unwrap();
            let t4 = Instant::now();
            let c4 = cpu_time();
            {
                let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
                let (y, rest) = out.split_at_mut(w * h);
                let (u, v) = rest.split_at_mut(cw * ch);
                let mut fm =
                    FrameMut::new(PixelFormat::I420, w, h, vec![y, u, v], &[w, cw, cw], Colorimetry::default())
                        .expect("valid I420 frame");
                write_yuv420_planes(&made, &mut fm).unwrap();
            }
            let t5 = Instant::now();
            let c5 = cpu_time();
            cpu[0] += (c1 - c0) / 2;
            for (s, d) in cpu[1..].iter_mut().zip([c2 - c1, c3 - c2, c4 - c3, c5 - c4]) {
                *s += d;
            }
            // Each input is converted once by the element: count half the conversions.
            spent[0] += (t1 - t0) / 2;
            for (s, d) in spent[1..].iter_mut().zip([t2 - t1, t3 - t2, t4 - t3, t5 - t4]) {
                *s += d;
            }
            if cut > 0.6 {
                continue;
            }
            let se: f64 = out[..w * h].iter().zip(&truth[..w * h]).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
            psnr_sum += 10.0 * (255.0f64 * 255.0 / (se / (w * h) as f64).max(1e-10)).log10();
            count += 1;
        }
    }
    let made_frames = (pairs * repeat as usize).max(1) as f64;
    println!("{w}x{h}, {p:?}, {pairs} made frames x {repeat}: mean luma PSNR {:.3} dB", psnr_sum / count.max(1) as f64);
    let total: Duration = spent.iter().sum();
    println!("  {:<22} {:>7} {:>10}", "step (per made frame)", "wall ms", "cores used");
    for ((name, s), c) in names.iter().zip(spent).zip(cpu) {
        println!("  {name:<22} {:7.2} {:10.2}", s.as_secs_f64() * 1e3 / made_frames, c.as_secs_f64() / s.as_secs_f64());
    }
    println!("  {:<22} {:7.2} ms per input frame", "total", total.as_secs_f64() * 1e3 / made_frames);
}
