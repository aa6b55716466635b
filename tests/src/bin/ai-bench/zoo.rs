//! zoo: every model of the zoo that an element runs on pictures, measured in one run: fps through
//! its element, fps of a bare ONNX Runtime session on the same model and input size, their ratio,
//! and its quality on held-out real media. Also written to `target/zoo-bench.json`, which
//! `make models` shows.
//!
//! Upscale models: input sized so that the output is about 1280x720 (640x360 for x2), frames
//! from a pan across a real photograph; quality = PSNR against the true picture of the held-out
//! photographs (chelsea, coffee, rocket), downscaled by the scale and upscaled back, and its gain
//! over bicubic upscaling, for two downscalers: imresize's antialiased bicubic (what SR models
//! are trained and scored on) and a box filter (a camera's binning). `GST_AI_BENCH_ZOO_FRAMES` sets the timed frames (default 4).

use std::time::Instant;

use gst_ai_kernels::{Filter, Layout};
use gst_ai_runtime::backend::manifest::Manifest;
use gst_ai_runtime::backend::zoo;
use gst_ai_tests::clip::{Image, pan, psnr};
use gst_ai_tests::{demo_photo, load_rgb, media, run_frames};
use ort::value::Tensor;

use crate::bare_session;

const HELD_OUT: [&str; 3] = ["photos/chelsea.png", "photos/coffee.png", "photos/rocket.jpg"];

struct Measured {
    name: String,
    what: String,
    fps_element: f64,
    fps_bare: f64,
    quality: String,
}

pub fn bench() -> Result<(), String> {
    let frames: usize = std::env::var("GST_AI_BENCH_ZOO_FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let entries: Vec<zoo::Entry> = zoo::entries().into_iter().filter(|e| e.element == "aiupscale").collect();
    if entries.is_empty() {
        return Err(format!("no upscale models in the zoo ({}): run make setup", zoo::blurb_for("upscale")));
    }
    let (pw, ph, rgb) = load_rgb(&demo_photo())?;
    let photo = Image { width: pw, height: ph, rgb };
    let held: Vec<Image> = HELD_OUT
        .iter()
        .map(|p| load_rgb(&media(p)).map(|(width, height, rgb)| Image { width, height, rgb }))
        .collect::<Result<_, _>>()?;

    let mut rows = Vec::new();
    for e in &entries {
        let scale = e.info.get("scale").and_then(|v| v.as_u64()).unwrap_or(2) as usize;
        let (w, h) = ((1280 / scale) & !1, (720 / scale) & !1);
        let clip: Vec<Image> = pan(&photo.resized(w + 64, h + 36, Filter::Bicubic), w, h, frames);
        let tail = format!("aiupscale model=zoo:{} ! appsink name=sink sync=false", e.name);

        // Element: warm up (model load, first allocations), then the best of two timed runs.
        run_frames(&clip[..1], 30, &tail)?;
        let mut t_elem = f64::MAX;
        for _ in 0..2 {
            let (out, took) = run_frames(&clip, 30, &tail)?;
            if out.len() != frames || out[0].width != w * scale {
                return Err(format!("zoo:{}: {} frames of width {} out", e.name, out.len(), out[0].width));
            }
            t_elem = t_elem.min(took.as_secs_f64());
        }

        // The bare session on the same file and input size.
        let bytes = std::fs::read(&e.path).map_err(|err| format!("{}: {err}", e.path.display()))?;
        let manifest = Manifest::for_model(&e.path).map_err(|err| err.to_string())?;
        let mut session = bare_session(&bytes)?;
        let input_name = session.inputs()[0].name().to_string();
        let shape = match manifest.layout {
            Some(Layout::Nhwc) => [1usize, h, w, 3],
            _ => [1usize, 3, h, w],
        };
        let data = vec![0.5f32; 3 * w * h];
        let mut bare = |n: usize| -> Result<f64, String> {
            let t0 = Instant::now();
            for _ in 0..n {
                let t = Tensor::from_array((shape, data.clone())).map_err(|err| err.to_string())?;
                session.run(ort::inputs![input_name.as_str() => t]).map_err(|err| err.to_string())?;
            }
            Ok(t0.elapsed().as_secs_f64())
        };
        bare(1)?;
        let t_bare = bare(frames)?.min(bare(frames)?);

        // Quality on the held-out photographs, made small by a box filter (a camera's binning) and
        // by an antialiased bicubic (MATLAB's imresize, what SR models are trained and scored on).
        let mut gain = [0.0f64; 2];
        let mut p_model = 0.0;
        for img in &held {
            let m = 2 * scale;
            let truth = img.crop(0, 0, img.width / m * m, img.height / m * m);
            for (k, low) in [truth.downscaled(scale), truth.imresize_down(scale)].iter().enumerate() {
                let (out, _) = run_frames(std::slice::from_ref(low), 1, &tail)?;
                let border = 4 * scale;
                let p = psnr(&out[0], &truth, border);
                let p_bic = psnr(&low.resized(truth.width, truth.height, Filter::Bicubic), &truth, border);
                gain[k] += (p - p_bic) / held.len() as f64;
                if k == 1 {
                    p_model += p / held.len() as f64;
                }
            }
        }
        rows.push(Measured {
            name: e.name.clone(),
            what: format!("zoo:{} ({w}x{h} -> {}x{})", e.name, w * scale, h * scale),
            fps_element: frames as f64 / t_elem,
            fps_bare: frames as f64 / t_bare,
            quality: format!("{p_model:.2} dB; vs bicubic {:+.2} / {:+.2}", gain[1], gain[0]),
        });
        eprintln!("  measured zoo:{}", e.name);
    }

    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!();
    println!(
        "zoo, upscale models through aiupscale vs the bare ONNX Runtime session, {frames} frames each, {threads} CPU \
         threads; quality: RGB PSNR on the held-out photographs (chelsea, coffee, rocket) downscaled by imresize's \
         antialiased bicubic, then its gain over bicubic upscaling with imresize / box downscaling"
    );
    println!(
        "| {:<52} | {:>8} | {:>8} | {:>8} | {:<36} |",
        "model (input -> output)", "element", "bare", "ratio", "quality"
    );
    println!("|{:-<54}|{:-<10}|{:-<10}|{:-<10}|{:-<38}|", "", "", "", "", "");
    for r in &rows {
        println!(
            "| {:<52} | {:>8.2} | {:>8.2} | {:>7.1}% | {:<36} |",
            r.what,
            r.fps_element,
            r.fps_bare,
            100.0 * r.fps_element / r.fps_bare,
            r.quality
        );
    }
    println!("(element and bare in frames per second)");

    let json = serde_json::json!({
        "threads": threads,
        "models": rows.iter().map(|r| serde_json::json!({
            "name": r.name,
            "quality": r.quality,
            "speed": format!("{:.2} fps ({:.0}% of bare ORT), {threads} threads", r.fps_element, 100.0 * r.fps_element / r.fps_bare),
        })).collect::<Vec<_>>(),
    });
    let path = gst_ai_tests::root().join("target").join("zoo-bench.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap_or_default()).map_err(|e| e.to_string())?;
    println!("written: {}", path.display());
    Ok(())
}
