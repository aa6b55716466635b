//! `make demo`: the main job. A 256x144 clip (a camera panning across a real photograph held
//! out of the built-in model's training, box-downscaled from 512x288) is upscaled x2 by
//! `aiupscale` with the built-in model into an H.264 MP4, and a PNG strip compares, for a few
//! frames: the input, bicubic x2, aiupscale x2 and the true 512x288 picture. PSNR against the
//! truth is printed for bicubic and aiupscale.

use std::path::Path;

use gst_ai_kernels::Filter;
use gst_ai_tests::clip::{Image, pan, psnr};
use gst_ai_tests::{demo_photo, load_rgb, root, run_frames, save_png};

const FRAMES: usize = 48;
const FPS: i32 = 24;
const STRIP_EVERY: usize = 12;
/// The true (high-resolution) frame size; the input is half of it.
const W: usize = 512;
const H: usize = 288;

fn main() {
    if let Err(e) = run() {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let out_dir = root().join("out");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let mp4 = out_dir.join("demo-upscale.mp4");
    let strip = out_dir.join("demo-strip.png");

    let (pw, ph, rgb) = load_rgb(&demo_photo())?;
    let photo = Image { width: pw, height: ph, rgb };
    let truth = pan(&photo, W, H, FRAMES);
    let input: Vec<Image> = truth.iter().map(|f| f.downscaled(2)).collect();

    let tail = format!(
        "aiupscale ! tee name=t \
         t. ! queue ! videoconvert ! x264enc speed-preset=medium ! mp4mux ! filesink location=\"{}\" \
         t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! appsink name=sink sync=false",
        mp4.display()
    );
    println!("pipeline: appsrc ({}x{} RGB, {FPS} fps, {FRAMES} frames) ! {tail}", W / 2, H / 2);
    let (upscaled, took) = run_frames(&input, FPS, &tail)?;
    if upscaled.len() != FRAMES {
        return Err(format!("expected {FRAMES} frames out, got {}", upscaled.len()));
    }

    let (mut p_bic, mut p_ai) = (0.0, 0.0);
    let rows: Vec<usize> = (0..FRAMES).step_by(STRIP_EVERY).collect();
    let mut sheet = Image { width: 4 * W, height: rows.len() * H, rgb: vec![0; 4 * W * rows.len() * H * 3] };
    for (i, (lo, (ai, gt))) in input.iter().zip(upscaled.iter().zip(&truth)).enumerate() {
        let bic = lo.resized(W, H, Filter::Bicubic);
        p_bic += psnr(&bic, gt, 4);
        p_ai += psnr(ai, gt, 4);
        if let Some(r) = rows.iter().position(|&f| f == i) {
            let mut shown_input = Image { width: W, height: H, rgb: vec![0; W * H * 3] };
            shown_input.blit(lo, W / 4, H / 4);
            for (c, img) in [&shown_input, &bic, ai, gt].into_iter().enumerate() {
                sheet.blit(img, c * W, r * H);
            }
        }
    }
    save_png(&strip, sheet.width, sheet.height, &sheet.rgb)?;
    let n = FRAMES as f64;
    println!();
    println!(
        "upscaled {FRAMES} frames {}x{} -> {W}x{H} in {:.2} s ({:.1} fps)",
        W / 2,
        H / 2,
        took.as_secs_f64(),
        n / took.as_secs_f64()
    );
    println!("PSNR against the true {W}x{H} frames (mean over the clip):");
    println!("  bicubic x2   {:.2} dB", p_bic / n);
    println!("  aiupscale x2 {:.2} dB  (built-in model)", p_ai / n);
    println!();
    println!("video: {}", rel(&mp4));
    println!("strip: {}  (columns: input, bicubic, aiupscale, truth; one row every {STRIP_EVERY} frames)", rel(&strip));
    Ok(())
}

fn rel(p: &Path) -> String {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf()).display().to_string()
}
