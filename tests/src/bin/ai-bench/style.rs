//! style: aistylize with each built-in style at 1280x720 against the bare ONNX Runtime session
//! on the same model and size (temporal consistency off, and at its default 0.5, which adds two
//! optical flows per frame), then the flicker of each style on a camera panning and zooming
//! over a photograph none of the styles was trained on: the mean absolute difference between
//! each output frame and the previous output carried along the true motion (visible pixels
//! only), with temporal-consistency 0 and 0.5, and the PSNR of the consistent frames against
//! the per-frame ones, so less flicker is not bought with ghosting.

use std::time::Instant;

use gst_ai_runtime::backend::model::ModelSource;
use gst_ai_runtime::builtin;
use gst_ai_tests::clip::{Image, pan, psnr, to_planar};
use gst_ai_tests::motion::{flicker, pan_zoom};
use gst_ai_tests::{demo_photo, load_rgb, run_frames};
use ort::value::TensorRef;

const STYLES: [(&str, ModelSource); 3] =
    [("pencil", builtin::STYLE_PENCIL), ("cartoon", builtin::STYLE_CARTOON), ("oil", builtin::STYLE_OIL)];

pub fn bench() -> Result<(), String> {
    let frames: usize = std::env::var("GST_AI_BENCH_FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    let (w, h) = (1280usize, 720usize);
    let (pw, ph, rgb) = load_rgb(&demo_photo())?;
    let photo = Image { width: pw, height: ph, rgb };
    let big = photo.resized(w + 96, h + 54, gst_ai_kernels::Filter::Bicubic);
    let clip = pan(&big, w, h, frames);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);

    println!();
    println!("aistylize, built-in styles, {w}x{h} RGB, {frames} frames, {threads} CPU threads (best of 2)");
    println!(
        "| {:<8} | {:>15} | {:>15} | {:>8} | {:>17} | {:>8} |",
        "style", "bare model fps", "element fps tc0", "vs bare", "element fps tc0.5", "vs bare"
    );
    println!("|{:-<10}|{:-<17}|{:-<17}|{:-<10}|{:-<19}|{:-<10}|", "", "", "", "", "", "");
    for (style, source) in STYLES {
        let ModelSource::Builtin { bytes, .. } = source else { unreachable!("built-ins are embedded") };
        let mut session = super::bare_session(bytes)?;
        let input = to_planar(&clip[0]);
        let mut bare = |n: usize| -> Result<f64, String> {
            let t0 = Instant::now();
            for _ in 0..n {
                let t = TensorRef::from_array_view(([1usize, 3, h, w], &input[..])).map_err(|e| e.to_string())?;
                let out = session.run(ort::inputs!["image" => t]).map_err(|e| e.to_string())?;
                let (shape, _) = out[0].try_extract_tensor::<f32>().map_err(|e| e.to_string())?;
                if shape[2] != h as i64 || shape[3] != w as i64 {
                    return Err(format!("unexpected output shape {shape:?}"));
                }
            }
            Ok(t0.elapsed().as_secs_f64())
        };
        let element = |imgs: &[Image], tc: f64| -> Result<f64, String> {
            let (out, took) = run_frames(
                imgs,
                30,
                &format!("aistylize style={style} temporal-consistency={tc} ! appsink name=sink sync=false"),
            )?;
            if out.len() != imgs.len() {
                return Err(format!("element produced {} frames of {}", out.len(), imgs.len()));
            }
            Ok(took.as_secs_f64())
        };
        bare(1)?;
        element(&clip[..1], 0.0)?;
        let (mut t_bare, mut t0, mut t5) = (f64::MAX, f64::MAX, f64::MAX);
        for _ in 0..2 {
            t_bare = t_bare.min(bare(frames)?);
            t0 = t0.min(element(&clip, 0.0)?);
            t5 = t5.min(element(&clip, 0.5)?);
        }
        let fps = |t: f64| frames as f64 / t;
        println!(
            "| {:<8} | {:>15.2} | {:>15.2} | {:>7.1}% | {:>17.2} | {:>7.1}% |",
            style,
            fps(t_bare),
            fps(t0),
            100.0 * t_bare / t0,
            fps(t5),
            100.0 * t_bare / t5
        );
    }

    let (sw, sh, n) = (320usize, 224usize, 16usize);
    let (seq, cams) = pan_zoom(&photo, sw, sh, n, 2.3, 0.012);
    println!();
    println!(
        "flicker on a pan + zoom ({sw}x{sh}, {n} frames, 2.3 px and 1.2% per frame): mean |out(t) - out(t-1) along \
         the true motion|, 8-bit units (the input's own: {:.2})",
        flicker(&seq, &cams)
    );
    println!(
        "| {:<8} | {:>12} | {:>14} | {:>10} | {:>22} |",
        "style", "flicker tc0", "flicker tc0.5", "reduction", "PSNR tc0.5 vs tc0 (dB)"
    );
    println!("|{:-<10}|{:-<14}|{:-<16}|{:-<12}|{:-<24}|", "", "", "", "", "");
    let mut all_halved = true;
    for (style, _) in STYLES {
        let run = |tc: f64| {
            run_frames(
                &seq,
                25,
                &format!("aistylize style={style} temporal-consistency={tc} ! appsink name=sink sync=false"),
            )
            .map(|(o, _)| o)
        };
        let (plain, smooth) = (run(0.0)?, run(0.5)?);
        let (f0, f5) = (flicker(&plain, &cams), flicker(&smooth, &cams));
        // Frame 0 has no history and is the same in both.
        let p = plain.iter().zip(&smooth).skip(1).map(|(a, b)| psnr(a, b, 0)).sum::<f64>() / (n - 1) as f64;
        all_halved &= f5 <= 0.5 * f0;
        println!("| {:<8} | {:>12.2} | {:>14.2} | {:>9.2}x | {:>22.2} |", style, f0, f5, f0 / f5, p);
    }
    println!();
    println!(
        "flicker at least halved by temporal-consistency=0.5 (goal): {}",
        if all_halved { "met" } else { "NOT met" }
    );
    Ok(())
}
