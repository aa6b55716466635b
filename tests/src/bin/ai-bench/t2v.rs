//! t2v: aisrc with the built-in model (96x96, 8 frames, 25 DDIM steps, guidance 2, batched CFG)
//! — seconds per denoising step and per clip through the element, beside the bare UNet
//! session's time per call (the same [uncond; cond] batch of 2) in the same run; then prompt
//! adherence: clips generated for the colour x shape x direction combinations held out of
//! training (4 seeds each) and for the training combinations (1 seed each), read back by the
//! checker (colour, shape and direction from the frames).

use std::time::{Duration, Instant};

use gst_ai_runtime::builtin;
use gst_ai_tests::t2v::{self, HELD_OUT};
use ort::value::TensorRef;

pub fn bench() -> Result<(), String> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let clips: usize = std::env::var("GST_AI_BENCH_CLIPS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);

    // The element: per-step seconds from its aisrc-step messages, per-clip from aisrc-clip.
    let g = t2v::generate(&format!("num-clips={clips}"), "", Duration::from_secs(600));
    if !g.run.errors.is_empty() || !g.run.eos {
        return Err(format!("aisrc: {:?}", g.run.errors));
    }
    let seconds = |name| -> Vec<f64> { g.run.messages(name).filter_map(|s| s.get::<f64>("seconds").ok()).collect() };
    let (step_s, clip_s) = (seconds("aisrc-step"), seconds("aisrc-clip"));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;

    // The bare UNet: the same inputs the element gives it, one call per step.
    let mut unet = crate::bare_session(builtin::t2v::UNET)?;
    let x = vec![0.1f32; 2 * 3 * 8 * 24 * 24];
    let states = vec![0.05f32; 2 * 77 * 32];
    let mut call = |ts: i64| -> Result<(), String> {
        let t = [ts; 2];
        let inputs = ort::inputs![
            "sample" => TensorRef::from_array_view(([2usize, 3, 8, 24, 24], &x[..])).map_err(|e| e.to_string())?,
            "timestep" => TensorRef::from_array_view(([2usize], &t[..])).map_err(|e| e.to_string())?,
            "encoder_hidden_states" => TensorRef::from_array_view(([2usize, 77, 32], &states[..])).map_err(|e| e.to_string())?,
        ];
        unet.run(inputs).map(|_| ()).map_err(|e| e.to_string())
    };
    for _ in 0..5 {
        call(500)?;
    }
    let n = 100;
    let t0 = Instant::now();
    for i in 0..n {
        call(1 + 40 * (i % 25) as i64)?;
    }
    let bare = t0.elapsed().as_secs_f64() / n as f64;

    println!();
    println!(
        "aisrc, built-in model: 96x96, 8 frames, 25 DDIM steps, guidance 2 (UNet batch [uncond; cond] of 2), \
         {clips} clips, {threads} CPU threads"
    );
    println!("| {:<44} | {:>10} | {:>10} | {:>14} |", "what", "ms/step", "s/clip", "vs bare UNet");
    println!("|{:-<46}|{:-<12}|{:-<12}|{:-<16}|", "", "", "", "");
    println!("| {:<44} | {:>10.2} | {:>10} | {:>14} |", "bare UNet session, one call", bare * 1e3, "-", "1.00");
    let (ms, cs) = (mean(&step_s), mean(&clip_s));
    println!(
        "| {:<44} | {:>10.2} | {:>10.3} | {:>14.2} |",
        "aisrc step (UNet + CFG + scheduler)",
        ms * 1e3,
        cs,
        ms / bare
    );
    println!(
        "| {:<44} | {:>10} | {:>10.3} | {:>14.2} |",
        "aisrc clip vs 25 bare calls (text, VAE, all)",
        "-",
        cs,
        cs / (25.0 * bare)
    );

    println!();
    println!("aisrc, built-in model: prompt adherence read back from the frames by the checker (tests/src/t2v.rs)");
    println!(
        "| {:<40} | {:>6} | {:>7} | {:>7} | {:>9} | {:>9} |",
        "prompts", "clips", "colour", "shape", "direction", "all three"
    );
    println!("|{:-<42}|{:-<8}|{:-<9}|{:-<9}|{:-<11}|{:-<11}|", "", "", "", "", "", "");
    let held = t2v::adherence(&HELD_OUT, &[1, 2, 3, 4], "");
    let mut training = Vec::new();
    for c in t2v::COLOURS {
        for s in t2v::SHAPES {
            for d in t2v::DIRECTIONS {
                if !HELD_OUT.contains(&(c.0, s, d)) {
                    training.push((c.0, s, d));
                }
            }
        }
    }
    let seen = t2v::adherence(&training, &[1], "");
    for (name, a) in [("held-out combinations (goal: all >= 90%)", &held), ("training combinations", &seen)] {
        println!(
            "| {:<40} | {:>6} | {:>6.1}% | {:>6.1}% | {:>8.1}% | {:>8.1}% |",
            name,
            a.clips,
            a.colour * 100.0,
            a.shape * 100.0,
            a.direction * 100.0,
            a.all * 100.0
        );
    }
    for m in held.misses.iter().take(8) {
        println!("  held-out miss: {m}");
    }
    Ok(())
}
