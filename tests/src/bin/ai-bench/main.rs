//! `make bench`: tables, each measured in one run on this machine. `ai-bench [upscale]
//! [interpolate] [interpolate-real] [style] [lipsync] [lipsync-real] [lipsync-chain]
//! [lipsync-track] [t2v] [zoo] [remote]` runs the named sections (default: all but lipsync-real,
//! which is a part of lipsync, and lipsync-chain, a diagnosis).
//!
//! upscale: aiupscale with the built-in x2 model at 640x360 -> 1280x720 against the bare ONNX
//! Runtime session on the same model and input size (the element's overhead: pack, unpack,
//! buffers, GStreamer), and against the kernels' bicubic x2 (what a plain scaler costs). Frames
//! come from a pan across a real photograph. `GST_AI_BENCH_FRAMES` sets the number of timed
//! frames.
//!
//! interpolate-real: see `interpolate_real.rs` (real clips, minterpolate / flow / RIFE).
//!
//! style: see `style.rs`. lipsync: see `lipsync.rs` (lipsync-real: its 1280x720 real-face part
//! alone; lipsync-chain: `lipsync_chain.rs`); lipsync-track: `lipsync_track.rs`. zoo: see
//! `zoo.rs`. remote: `remote.rs`.
//!
//! interpolate: 1280x720 30 -> 60 fps with aiinterpolate (flow and blend) and with FFmpeg's
//! minterpolate (mci, aobmc, bidir, vsbmc) on the same I420 input in the same run: a 60 fps
//! clip whose odd frames are dropped and made again, so each one's PSNR against the dropped
//! frames is measured beside its speed.

use std::time::Instant;

use gst_ai_kernels::Filter;
use gst_ai_runtime::backend::model::ModelSource;
use gst_ai_runtime::builtin;
use gst_ai_tests::clip::{Image, pan, to_planar};
use gst_ai_tests::{demo_photo, load_rgb, run_frames};
use ort::session::{Session, builder::GraphOptimizationLevel};
use ort::value::TensorRef;

/// One bench section: prints its tables, or says why it could not.
type Section = fn() -> Result<(), String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // lipsync-real is a part of lipsync and lipsync-chain a diagnosis: run only when named.
    let named_only = ["lipsync-real", "lipsync-chain"];
    let want = |s: &str| (args.is_empty() && !named_only.contains(&s)) || args.iter().any(|a| a == s);
    let mut failed = false;
    let sections: [(&str, Section); 11] = [
        ("upscale", bench_upscale),
        ("interpolate", interpolate::bench),
        ("interpolate-real", interpolate_real::bench),
        ("style", style::bench),
        ("lipsync", lipsync::bench),
        ("lipsync-real", lipsync::bench_real),
        ("lipsync-chain", lipsync_chain::bench),
        ("lipsync-track", lipsync_track::bench),
        ("t2v", t2v::bench),
        ("zoo", zoo::bench),
        ("remote", remote::bench),
    ];
    for (name, f) in sections {
        if want(name)
            && let Err(e) = f()
        {
            eprintln!("bench {name} failed: {e}");
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
}

mod interpolate;
mod interpolate_real;
mod lipsync;
mod lipsync_chain;
mod lipsync_track;
mod remote;
mod style;
mod t2v;
mod zoo;

/// A session on `bytes` as the runtime makes one: same ONNX Runtime library and environment, same
/// options (full graph optimisation, no spinning); the "bare model" the elements are compared with.
fn bare_session(bytes: &[u8]) -> Result<Session, String> {
    let env = gst_ai_runtime::backend::env::environment().map_err(|e| e.to_string())?;
    Session::builder(&env)
        .and_then(|b| b.with_optimization_level(GraphOptimizationLevel::All).map_err(Into::into))
        .and_then(|b| b.with_intra_op_spinning(false).map_err(Into::into))
        .and_then(|mut b| b.commit_from_memory(bytes))
        .map_err(|e| e.to_string())
}

struct Row {
    what: String,
    frames: usize,
    seconds: f64,
}

fn bench_upscale() -> Result<(), String> {
    let frames: usize = std::env::var("GST_AI_BENCH_FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let (w, h) = (640usize, 360usize);
    let (pw, ph, rgb) = load_rgb(&demo_photo())?;
    let photo = Image { width: pw, height: ph, rgb };
    // Low-resolution frames: a pan at 2x the size, box-downscaled, as a camera would give.
    let clip: Vec<Image> = pan(&photo.resized(2 * w + 64, 2 * h + 36, Filter::Bicubic), 2 * w, 2 * h, frames)
        .iter()
        .map(|f| f.downscaled(2))
        .collect();

    // The bare session: same ONNX Runtime library, same environment, same model bytes, same
    // options as the runtime uses (full graph optimisation, no spinning), fed a ready-made tensor.
    let ModelSource::Builtin { bytes, name, .. } = builtin::SR_X2 else { unreachable!("the built-in is embedded") };
    let mut session = bare_session(bytes)?;
    let input = to_planar(&clip[0]);
    let mut bare = |n: usize| -> Result<f64, String> {
        let t0 = Instant::now();
        for _ in 0..n {
            let t = TensorRef::from_array_view(([1usize, 3, h, w], &input[..])).map_err(|e| e.to_string())?;
            let out = session.run(ort::inputs!["input" => t]).map_err(|e| e.to_string())?;
            let (shape, _) = out[0].try_extract_tensor::<f32>().map_err(|e| e.to_string())?;
            if shape[2] != 2 * h as i64 || shape[3] != 2 * w as i64 {
                return Err(format!("unexpected output shape {shape:?}"));
            }
        }
        Ok(t0.elapsed().as_secs_f64())
    };
    let element = |imgs: &[Image]| -> Result<f64, String> {
        let (out, took) = run_frames(imgs, 30, "aiupscale ! appsink name=sink sync=false")?;
        if out.len() != imgs.len() || out[0].width != 2 * w {
            return Err(format!("element produced {} frames of width {}", out.len(), out[0].width));
        }
        Ok(took.as_secs_f64())
    };

    // Warm up both (first runs allocate), then time them alternately, three times each, and keep
    // the best of each: the machine may be busy with something else for a moment.
    bare(2)?;
    element(&clip[..2])?;
    let mut t_bare = f64::MAX;
    let mut t_elem = f64::MAX;
    for _ in 0..3 {
        t_bare = t_bare.min(bare(frames)?);
        t_elem = t_elem.min(element(&clip)?);
    }
    let t0 = Instant::now();
    for f in &clip {
        std::hint::black_box(f.resized(2 * w, 2 * h, Filter::Bicubic));
    }
    let t_bicubic = t0.elapsed().as_secs_f64();

    let rows = [
        Row { what: format!("bare ORT session ({name}, 1x3x{h}x{w} f32)"), frames, seconds: t_bare },
        Row { what: format!("aiupscale element ({w}x{h} RGB -> {}x{})", 2 * w, 2 * h), frames, seconds: t_elem },
        Row { what: "bicubic x2 (kernels, CPU, incl. u8<->f32)".into(), frames, seconds: t_bicubic },
    ];
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!();
    println!("aiupscale, built-in x2, {w}x{h} -> {}x{}, {frames} frames, {threads} CPU threads", 2 * w, 2 * h);
    println!("| {:<48} | {:>6} | {:>9} | {:>8} | {:>14} |", "what", "frames", "seconds", "fps", "vs bare model");
    println!("|{:-<50}|{:-<8}|{:-<11}|{:-<10}|{:-<16}|", "", "", "", "", "");
    for r in &rows {
        let fps = r.frames as f64 / r.seconds;
        println!(
            "| {:<48} | {:>6} | {:>9.3} | {:>8.2} | {:>13.1}% |",
            r.what,
            r.frames,
            r.seconds,
            fps,
            100.0 * t_bare / r.seconds
        );
    }
    let ratio = t_bare / t_elem;
    println!();
    println!(
        "element keeps {:.1}% of the bare model's throughput (goal >= 90%): {}",
        100.0 * ratio,
        if ratio >= 0.9 { "met" } else { "NOT met" }
    );
    Ok(())
}
