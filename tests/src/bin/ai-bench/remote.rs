//! remote: aiupscale with the built-in x2 model run locally and through a real Triton server on
//! loopback (the tritonserver of scripts/triton.sh, the model in ONNX Runtime inside its Python
//! backend, on this machine's CPU), from one run: fps and the time each frame gains by going
//! through the server (request, copies, HTTP, the Python backend). Then several pipelines share
//! one server, with Triton's dynamic batching off (one model instance, one request at a time)
//! and on (the same model with a dynamic batch dimension, up to 4 requests run as one batch).
//! `GST_AI_BENCH_FRAMES` sets the frames per pipeline (default 20).

use std::path::Path;
use std::time::Instant;

use gst_ai_kernels::Filter;
use gst_ai_tests::clip::{Image, pan};
use gst_ai_tests::remote::{Served, Server, require_triton, scratch, write_repository};
use gst_ai_tests::{demo_photo, load_rgb, root, run_frames};

const W: usize = 320;
const H: usize = 180;

/// Seconds for `clip` through aiupscale with `model`, checking every frame came out doubled.
fn upscale(clip: &[Image], model: &str) -> Result<f64, String> {
    let (out, took) = run_frames(clip, 30, &format!("aiupscale model={model} ! appsink name=sink sync=false"))?;
    if out.len() != clip.len() || out[0].width != 2 * W {
        return Err(format!("{model}: {} frames of width {}", out.len(), out.first().map_or(0, |f| f.width)));
    }
    Ok(took.as_secs_f64())
}

/// A copy of `onnx` whose first dimension is dynamic, made with the zoo's Python (onnx), so
/// that Triton may stack requests into one batch.
fn batchable(onnx: &Path, out: &Path) -> Result<(), String> {
    let python = root().join(".deps/zoo-venv/bin/python");
    let script = "import onnx, sys\n\
                  m = onnx.load(sys.argv[1])\n\
                  for v in list(m.graph.input) + list(m.graph.output):\n\
                  \x20   v.type.tensor_type.shape.dim[0].dim_param = 'batch'\n\
                  onnx.save(m, sys.argv[2])\n";
    let status = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(onnx)
        .arg(out)
        .status()
        .map_err(|e| format!("{}: {e} (run scripts/bootstrap.sh)", python.display()))?;
    if !status.success() {
        return Err(format!("making a batchable copy of {} failed", onnx.display()));
    }
    Ok(())
}

/// Total frames per second of `n` pipelines running `clip` at once against `uri`.
fn shared(n: usize, clip: &[Image], uri: &str) -> Result<f64, String> {
    let t0 = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (clip, uri) = (clip.to_vec(), uri.to_string());
            std::thread::spawn(move || upscale(&clip, &uri))
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "a pipeline thread panicked")??;
    }
    Ok((n * clip.len()) as f64 / t0.elapsed().as_secs_f64())
}

pub fn bench() -> Result<(), String> {
    require_triton();
    let frames: usize = std::env::var("GST_AI_BENCH_FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let (pw, ph, rgb) = load_rgb(&demo_photo())?;
    let photo = Image { width: pw, height: ph, rgb };
    let clip = pan(&photo.resized(W + 32, H + 18, Filter::Bicubic), W, H, frames);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);

    let dir = scratch("bench-remote");
    let sr = root().join("models/sr_x2.onnx");
    let batch_onnx = dir.join("sr_x2_batch.onnx");
    batchable(&sr, &batch_onnx)?;
    let mut batched = Served::new("sr_x2_batched", &batch_onnx);
    batched.max_batch = 4;
    write_repository(&dir.join("models"), &[Served::new("sr_x2", &sr), batched])?;
    let server = Server::start(&dir.join("models"))?;

    // Warm both (first runs allocate, the server's first request loads the Python side).
    upscale(&clip[..2], "builtin:sr_x2")?;
    upscale(&clip[..2], &server.uri("sr_x2"))?;
    let (mut local, mut remote) = (f64::MAX, f64::MAX);
    for _ in 0..2 {
        local = local.min(upscale(&clip, "builtin:sr_x2")?);
        remote = remote.min(upscale(&clip, &server.uri("sr_x2"))?);
    }
    let per = |t: f64| 1000.0 * t / frames as f64;
    println!();
    println!(
        "aiupscale built-in x2, {W}x{H} -> {}x{}, {frames} frames, {threads} CPU threads, Triton 2.51 on loopback \
         (ONNX Runtime in its Python backend, same CPU) (best of 2)",
        2 * W,
        2 * H
    );
    println!("| {:<22} | {:>8} | {:>10} | {:>16} |", "where the model runs", "fps", "ms/frame", "added ms/frame");
    println!("|{:-<24}|{:-<10}|{:-<12}|{:-<18}|", "", "", "", "");
    println!("| {:<22} | {:>8.2} | {:>10.1} | {:>16} |", "local session", frames as f64 / local, per(local), "");
    println!(
        "| {:<22} | {:>8.2} | {:>10.1} | {:>16.1} |",
        "server, kserve://",
        frames as f64 / remote,
        per(remote),
        per(remote) - per(local)
    );

    println!();
    println!("pipelines sharing one server, {frames} frames each: total fps");
    println!("| {:<9} | {:>20} | {:>23} |", "pipelines", "dynamic batching off", "dynamic batching on (4)");
    println!("|{:-<11}|{:-<22}|{:-<25}|", "", "", "");
    for n in [1, 2, 4] {
        let off = shared(n, &clip, &server.uri("sr_x2"))?;
        let on = shared(n, &clip, &server.uri("sr_x2_batched"))?;
        println!("| {n:<9} | {off:>20.2} | {on:>23.2} |");
    }
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
