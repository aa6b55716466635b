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

    rows.extend(style_and_rife(frames)?);

    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!();
    println!(
        "zoo, each model through its element vs the bare ONNX Runtime session, {frames} frames each, {threads} CPU \
         threads. Upscale quality: RGB PSNR on the held-out photographs (chelsea, coffee, rocket) downscaled by \
         imresize's antialiased bicubic, then its gain over bicubic upscaling with imresize / box downscaling. \
         RIFE: made frames per second; quality: PSNR of the remade odd frames of held-out clips, beside blend's"
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

/// A bare session's time for `n` runs on the same inputs (each run builds its tensors afresh, as
/// the element does).
fn time_bare(path: &std::path::Path, n: usize, inputs: &[(&str, Vec<usize>, Vec<f32>)]) -> Result<f64, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut session = bare_session(&bytes)?;
    let mut run = |n: usize| -> Result<f64, String> {
        let t0 = Instant::now();
        for _ in 0..n {
            let mut values = Vec::new();
            for (name, shape, data) in inputs {
                let t = Tensor::from_array((shape.clone(), data.clone())).map_err(|e| e.to_string())?;
                values.push((name.to_string(), ort::value::DynValue::from(t)));
            }
            session.run(values).map_err(|e| e.to_string())?;
        }
        Ok(t0.elapsed().as_secs_f64())
    };
    run(1)?;
    Ok(run(n)?.min(run(n)?))
}

/// The style models through aistylize and RIFE HDv3 through aiinterpolate, at 640x360.
fn style_and_rife(frames: usize) -> Result<Vec<Measured>, String> {
    let (w, h) = (640usize, 360usize);
    let clip = gst_ai_tests::decode_frames(&media("bikes.mp4"), 2 * frames + 1, Some((w, h)))?;
    let mut rows = Vec::new();
    let element_fps = |imgs: &[Image], tail: &str, made: &dyn Fn(usize) -> usize| -> Result<f64, String> {
        run_frames(&imgs[..2], 12, tail)?;
        let mut best = f64::MAX;
        for _ in 0..2 {
            let (out, took) = run_frames(imgs, 12, tail)?;
            best = best.min(took.as_secs_f64() / made(out.len()).max(1) as f64);
        }
        Ok(1.0 / best)
    };

    // Styles: temporal consistency off, so the element does what the bare model does.
    let painting = media("styles/hubble_deep_field.jpg");
    let styles = [
        ("style26", "model=zoo:style26 style=starry-night".to_string(), "starry-night"),
        ("style-arbitrary", format!("style-image=\"{}\"", painting.display()), "style-image hubble"),
    ];
    for (name, props, what) in styles {
        let Ok(path) = zoo::resolve(name) else { continue };
        let tail = format!("aistylize {props} temporal-consistency=0 ! appsink name=sink sync=false");
        let fps = element_fps(&clip[..frames], &tail, &|n| n)?;
        let inputs: Vec<(&str, Vec<usize>, Vec<f32>)> = if name == "style26" {
            let mut weights = vec![0f32; 26];
            weights[19] = 1.0;
            vec![("image", vec![1, 3, h, w], vec![0.5; 3 * w * h]), ("style_weights", vec![26], weights)]
        } else {
            vec![
                ("content_image", vec![1, h, w, 3], vec![0.5; 3 * w * h]),
                ("mobilenet_conv/Conv/BiasAdd", vec![1, 1, 1, 100], vec![0.1; 100]),
            ]
        };
        let bare = frames as f64 / time_bare(&path, frames, &inputs)?;
        rows.push(Measured {
            name: name.into(),
            what: format!("zoo:{name} ({what}, {w}x{h})"),
            fps_element: fps,
            fps_bare: bare,
            quality: "no truth to score against (card)".into(),
        });
        eprintln!("  measured zoo:{name}");
    }

    // RIFE: 12 -> 24 fps (one midpoint per input pair), timed per made frame; quality on the
    // held-out clips with their odd frames dropped, against blend.
    if let Ok(path) = zoo::resolve("rife-hdv3") {
        let input: Vec<Image> = clip.iter().step_by(2).cloned().collect();
        let tail =
            |mode: &str| format!("aiinterpolate {mode} ! video/x-raw,framerate=24/1 ! appsink name=sink sync=false");
        let rife = tail("mode=model model=zoo:rife-hdv3");
        let fps = element_fps(&input, &rife, &|n| n / 2)?;
        let hp = h.div_ceil(32) * 32;
        let img = vec![0.5f32; 3 * w * hp];
        let inputs = [
            ("img0", vec![1, 3, hp, w], img.clone()),
            ("img1", vec![1, 3, hp, w], img),
            ("timestep", vec![1], vec![0.5]),
        ];
        let bare = frames as f64 / time_bare(&path, frames, &inputs)?;
        let (mut p_rife, mut p_blend, mut n) = (0.0, 0.0, 0.0);
        for held in ["bigbuckbunny.mp4", "carphone.mp4"] {
            // bigbuckbunny is 1280x720: at 640x360, as the card measured it; carphone as it is.
            let size = (held == "bigbuckbunny.mp4").then_some((w, h));
            let truth = gst_ai_tests::decode_frames(&media(held), 17, size)?;
            let input: Vec<Image> = truth.iter().step_by(2).cloned().collect();
            for (mode, acc) in [("mode=model model=zoo:rife-hdv3", &mut p_rife), ("mode=blend", &mut p_blend)] {
                let (out, _) = run_frames(&input, 12, &tail(mode))?;
                let odd: Vec<usize> = (1..truth.len().min(out.len())).step_by(2).collect();
                *acc += odd.iter().map(|&i| psnr(&out[i], &truth[i], 4)).sum::<f64>() / odd.len() as f64;
            }
            n += 1.0;
        }
        rows.push(Measured {
            name: "rife-hdv3".into(),
            what: format!("zoo:rife-hdv3 (midpoints, {w}x{h})"),
            fps_element: fps,
            fps_bare: bare,
            quality: format!("{:.2} dB; blend {:.2}", p_rife / n, p_blend / n),
        });
        eprintln!("  measured zoo:rife-hdv3");
    }
    Ok(rows)
}
