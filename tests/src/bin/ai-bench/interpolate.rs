//! The interpolation benchmark: aiinterpolate against FFmpeg's minterpolate, speed and PSNR.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use gst_ai_kernels::{Colorimetry, Filter, FrameMut, PixelFormat, TensorSpec, unpack, warp};
use gst_ai_tests::clip::{Image, to_planar};
use gst_ai_tests::{demo_photo, load_rgb, run_raw};

const W: usize = 1280;
const H: usize = 720;

/// The ground-truth 60 fps clip, as I420 frames: the photograph (enlarged) under a camera that
/// pans and zooms, with an inset picture moving the other way over it (occlusions).
fn truth(frames: usize) -> Result<Vec<Vec<u8>>, String> {
    let (pw, ph, rgb) = load_rgb(&demo_photo())?;
    let big = Image { width: pw, height: ph, rgb }.resized(1700, 1134, Filter::Bicubic);
    let inset = big.crop(900, 500, 400, 260).resized(300, 200, Filter::Bilinear);
    let (bw, bh) = (big.width, big.height);
    let n = bw * bh;
    let planar = to_planar(&big);
    let info_cm = Colorimetry::default();
    let mut out = Vec::with_capacity(frames);
    let mut flow = vec![0f32; 2 * n];
    let mut warped = vec![0f32; 3 * n];
    let mut crop = vec![0f32; 3 * W * H];
    for k in 0..frames {
        // Camera: 2.3 px/frame right, 0.9 px/frame down, zooming in 0.15% per frame about the
        // centre of the 1280x720 window.
        let (sx, sy) = (k as f32 * 2.3, k as f32 * 0.9);
        let zoom = 1.0 + 0.0015 * k as f32;
        let (cx, cy) = (100.0 + W as f32 / 2.0, 100.0 + H as f32 / 2.0);
        for y in 0..bh {
            for x in 0..bw {
                let (tx, ty) = (cx + (x as f32 - cx) / zoom + sx, cy + (y as f32 - cy) / zoom + sy);
                flow[y * bw + x] = tx - x as f32;
                flow[n + y * bw + x] = ty - y as f32;
            }
        }
        warp(&planar, 3, bw, bh, &flow, &mut warped).map_err(|e| e.to_string())?;
        // Window at (100, 100), then the inset moving 4.1 px/frame left, 1.3 up.
        let (ix, iy) = (900.0 - 4.1 * k as f32, 400.0 - 1.3 * k as f32);
        for c in 0..3 {
            for y in 0..H {
                for x in 0..W {
                    let mut v = warped[c * n + (y + 100) * bw + x + 100];
                    let (fx, fy) = (x as f32 - ix, y as f32 - iy);
                    if fx >= 0.0 && fy >= 0.0 && fx < (inset.width - 1) as f32 && fy < (inset.height - 1) as f32 {
                        // Bilinear sample of the inset at its sub-pixel position.
                        let (x0, y0) = (fx as usize, fy as usize);
                        let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
                        let at = |xx: usize, yy: usize| inset.rgb[(yy * inset.width + xx) * 3 + c] as f32 / 255.0;
                        v = (at(x0, y0) * (1.0 - ax) + at(x0 + 1, y0) * ax) * (1.0 - ay)
                            + (at(x0, y0 + 1) * (1.0 - ax) + at(x0 + 1, y0 + 1) * ax) * ay;
                    }
                    crop[(c * H + y) * W + x] = v;
                }
            }
        }
        let mut yuv = vec![0u8; W * H * 3 / 2];
        {
            let (yp, uv) = yuv.split_at_mut(W * H);
            let (up, vp) = uv.split_at_mut(W * H / 4);
            let mut f = FrameMut::new(PixelFormat::I420, W, H, vec![yp, up, vp], &[W, W / 2, W / 2], info_cm)
                .map_err(|e| e.to_string())?;
            unpack(&crop, W, H, TensorSpec::CANONICAL, 0, 0, &mut f).map_err(|e| e.to_string())?;
        }
        out.push(yuv);
    }
    Ok(out)
}

/// PSNR over all Y, U and V samples.
fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let se: f64 = a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum();
    let mse = se / a.len() as f64;
    if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 / mse).log10() }
}

/// Mean PSNR of the odd (made-up) output frames against the truth, over the frames both have.
fn odd_psnr(out: &[Vec<u8>], truth: &[Vec<u8>]) -> (f64, usize) {
    let mut sum = 0.0;
    let mut n = 0;
    for k in (1..out.len().min(truth.len())).step_by(2) {
        sum += psnr(&out[k], &truth[k]);
        n += 1;
    }
    (sum / n.max(1) as f64, n)
}

struct Row {
    what: &'static str,
    frames: usize,
    seconds: f64,
    psnr: f64,
}

pub fn bench() -> Result<(), String> {
    let inputs: usize = std::env::var("GST_AI_BENCH_INTERP_FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let t0 = Instant::now();
    let truth = truth(2 * inputs - 1)?;
    let input: Vec<Vec<u8>> = truth.iter().step_by(2).cloned().collect();
    eprintln!("made the {}-frame ground truth in {:.1} s", truth.len(), t0.elapsed().as_secs_f64());
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, W as u32, H as u32)
        .fps(gst::Fraction::new(30, 1))
        .build()
        .map_err(|e| e.to_string())?;
    if info.size() != W * H * 3 / 2 {
        return Err("unexpected I420 layout".into());
    }
    let mut rows = Vec::new();
    for (what, mode) in [("aiinterpolate mode=flow", "flow"), ("aiinterpolate mode=blend", "blend")] {
        let (out, _, took) = run_raw(
            &input,
            &info,
            &format!("aiinterpolate mode={mode} ! video/x-raw,framerate=60/1 ! appsink name=sink sync=false"),
        )?;
        let (p, _) = odd_psnr(&out, &truth);
        rows.push(Row { what, frames: out.len(), seconds: took.as_secs_f64(), psnr: p });
    }
    // FFmpeg on the same bytes.
    let dir = std::env::temp_dir().join(format!("gst-ai-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let in_path = dir.join("in.yuv");
    let out_path = dir.join("out.yuv");
    std::fs::write(&in_path, input.concat()).map_err(|e| e.to_string())?;
    let (ff, took) = ffmpeg(&in_path, &out_path)?;
    let _ = std::fs::remove_dir_all(&dir);
    let (p, _) = odd_psnr(&ff, &truth);
    rows.push(Row { what: "ffmpeg minterpolate (mci/aobmc/bidir/vsbmc)", frames: ff.len(), seconds: took, psnr: p });

    let ff_fps = rows[2].frames as f64 / rows[2].seconds;
    println!();
    println!(
        "frame interpolation, 1280x720 I420, 30 -> 60 fps, {inputs} input frames; PSNR of the made-up frames vs the dropped ones"
    );
    println!(
        "| {:<44} | {:>6} | {:>8} | {:>8} | {:>14} | {:>9} |",
        "what", "frames", "seconds", "fps", "vs minterpolate", "PSNR dB"
    );
    println!("|{:-<46}|{:-<8}|{:-<10}|{:-<10}|{:-<16}|{:-<11}|", "", "", "", "", "", "");
    for r in &rows {
        let fps = r.frames as f64 / r.seconds;
        println!(
            "| {:<44} | {:>6} | {:>8.2} | {:>8.1} | {:>14.1}x | {:>9.2} |",
            r.what,
            r.frames,
            r.seconds,
            fps,
            fps / ff_fps,
            r.psnr
        );
    }
    let speed = (rows[0].frames as f64 / rows[0].seconds) / ff_fps;
    println!();
    println!(
        "flow is {speed:.1}x minterpolate's speed (goal >= 10x) and {:+.2} dB in PSNR (goal >= 0): {}",
        rows[0].psnr - rows[2].psnr,
        if speed >= 10.0 && rows[0].psnr >= rows[2].psnr { "met" } else { "NOT met" }
    );
    Ok(())
}

fn ffmpeg(input: &Path, output: &Path) -> Result<(Vec<Vec<u8>>, f64), String> {
    let t0 = Instant::now();
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p"])
        .args(["-s", &format!("{W}x{H}"), "-r", "30", "-i"])
        .arg(input)
        .args(["-vf", "minterpolate=fps=60:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"])
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p"])
        .arg(output)
        .status()
        .map_err(|e| format!("cannot run ffmpeg (make bench installs it): {e}"))?;
    let took = t0.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!("ffmpeg failed: {status}"));
    }
    let bytes = std::fs::read(output).map_err(|e| e.to_string())?;
    Ok((bytes.chunks_exact(W * H * 3 / 2).map(|c| c.to_vec()).collect(), took))
}
