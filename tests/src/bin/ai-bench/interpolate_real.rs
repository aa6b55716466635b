//! interpolate-real: frame interpolation on real footage, the protocol of issue 20. Each clip
//! (decoded by FFmpeg to I420) has every second frame dropped; the kept frames go through FFmpeg's
//! minterpolate (mci, aobmc, bidir, vsbmc), aiinterpolate mode=flow (the built-in) and, when
//! `zoo:rife-hdv3` resolves, aiinterpolate with RIFE HDv3, each at twice the rate, all in this one
//! run; the quality is the luma (Y plane) PSNR of the made frames against the dropped originals,
//! averaged over the made frames. Speed: output frames per second of a whole process, each
//! reading the kept frames from a raw file and writing its output to one (`ffmpeg`, and
//! `gst-launch-1.0` with the built `target/release/libgstai.so`: start-up and model loading
//! count), the best of two runs (one for RIFE), and its ratio to minterpolate's.
//!
//! bikes.mp4 is the clip the built-in was tuned on; bigbuckbunny.mp4 and carphone.mp4 are held
//! out (never used to choose anything). `GST_AI_BENCH_REAL_FRAMES` sets the frames taken from each
//! clip (default 41, i.e. 19 made frames scored per method; RIFE is slow at 1280x720);
//! `GST_AI_BENCH_REAL_CLIPS` a comma-separated subset of the clip names;
//! `GST_AI_BENCH_REAL_RIFE=0` skips RIFE; `GST_AI_BENCH_REAL_FLOW_PROPS` replaces the built-in's
//! properties (`mode=flow`), e.g. `mode=blend` for the cost of the element's pipeline alone.

use std::path::Path;
use std::process::Command;

use gst::prelude::*;
use std::time::Instant;

use gst_ai_tests::media;

/// (file, role) of the clips.
const CLIPS: [(&str, &str); 3] =
    [("bikes.mp4", "tuning"), ("bigbuckbunny.mp4", "held out"), ("carphone.mp4", "held out")];

struct Cell {
    fps: f64,
    psnr: f64,
}

/// `n` frames of `path` as I420 (the file's size) with FFmpeg: (width, height, frames).
fn decode(path: &Path, n: usize) -> Result<(usize, usize, Vec<Vec<u8>>), String> {
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run ffprobe (make bench installs FFmpeg): {e}"))?;
    let text = String::from_utf8_lossy(&probe.stdout);
    let dims: Vec<usize> = text.trim().split(',').filter_map(|v| v.trim().parse().ok()).collect();
    let [w, h] = dims[..] else { return Err(format!("ffprobe gave no size for {}: {text}", path.display())) };
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(path)
        .args(["-frames:v", &n.to_string(), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"])
        .output()
        .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
    let size = w * h * 3 / 2;
    let mut frames: Vec<Vec<u8>> = out.stdout.chunks_exact(size).map(|c| c.to_vec()).collect();
    // An odd count: the dropped frames are the odd ones, each between two kept ones.
    if frames.len().is_multiple_of(2) {
        frames.pop();
    }
    if frames.len() < 3 {
        return Err(format!("decoded only {} frames of {}", frames.len(), path.display()));
    }
    Ok((w, h, frames))
}

/// Mean luma PSNR of the odd (made) frames of `out` against `truth`, all but the last (the
/// element's output ends at the last input's time, FFmpeg's may not: the same frames for all).
fn luma_psnr(out: &[Vec<u8>], truth: &[Vec<u8>], luma: usize) -> Result<f64, String> {
    let odd: Vec<usize> = (1..truth.len() - 2).step_by(2).collect();
    if out.len() < truth.len() - 2 {
        return Err(format!("{} frames out, at least {} expected", out.len(), truth.len() - 2));
    }
    let mut sum = 0.0;
    for &k in &odd {
        let se: f64 = out[k][..luma].iter().zip(&truth[k][..luma]).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
        let mse = (se / luma as f64).max(1e-10);
        sum += 10.0 * (255.0f64 * 255.0 / mse).log10();
    }
    Ok(sum / odd.len() as f64)
}

/// A folder of this run's raw files, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `cmd` `runs` times (it writes `output`): the output frames of `w` x `h` I420 and the
/// shortest wall time.
fn timed(
    mut cmd: Command,
    what: &str,
    output: &Path,
    (w, h): (usize, usize),
    runs: usize,
) -> Result<(Vec<Vec<u8>>, f64), String> {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t0 = Instant::now();
        let out = cmd.output().map_err(|e| format!("cannot run {what}: {e}"))?;
        best = best.min(t0.elapsed().as_secs_f64());
        if !out.status.success() {
            return Err(format!("{what} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
        }
    }
    let bytes = std::fs::read(output).map_err(|e| format!("{what} wrote no {}: {e}", output.display()))?;
    Ok((bytes.chunks_exact(w * h * 3 / 2).map(|c| c.to_vec()).collect(), best))
}

fn minterpolate(input: &Path, dir: &Path, w: usize, h: usize) -> Result<(Vec<Vec<u8>>, f64), String> {
    let out = dir.join("minterpolate.yuv");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p"])
        .args(["-s", &format!("{w}x{h}"), "-r", "30", "-i"])
        .arg(input)
        .args(["-vf", "minterpolate=fps=60:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"])
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p"])
        .arg(&out);
    timed(cmd, "ffmpeg minterpolate", &out, (w, h), 2)
}

/// aiinterpolate with `props`, 30 -> 60, in a gst-launch-1.0 process, best of `runs`.
fn element(
    input: &Path,
    dir: &Path,
    w: usize,
    h: usize,
    props: &str,
    runs: usize,
) -> Result<(Vec<Vec<u8>>, f64), String> {
    let root = gst_ai_tests::root();
    let plugins = root.join("target").join("release");
    if !plugins.join("libgstai.so").exists() {
        return Err(format!("{} is missing: run make build first", plugins.join("libgstai.so").display()));
    }
    let out = dir.join("aiinterpolate.yuv");
    let pipeline = format!(
        "filesrc location={} ! rawvideoparse format=i420 width={w} height={h} framerate=30/1 ! aiinterpolate {props} \
         ! video/x-raw,framerate=60/1 ! filesink location={}",
        input.display(),
        out.display()
    );
    let mut cmd = Command::new("gst-launch-1.0");
    cmd.arg("-q")
        .args(pipeline.split_whitespace())
        .env("GST_PLUGIN_PATH", &plugins)
        .env("GST_REGISTRY", root.join("target").join("gst-registry.bin"));
    // The plugin registry is brought up to date outside the timed runs.
    Command::new("gst-inspect-1.0")
        .arg("aiinterpolate")
        .env("GST_PLUGIN_PATH", &plugins)
        .env("GST_REGISTRY", root.join("target").join("gst-registry.bin"))
        .output()
        .map_err(|e| format!("cannot run gst-inspect-1.0: {e}"))?;
    timed(cmd, &format!("gst-launch-1.0 ... aiinterpolate {props}"), &out, (w, h), runs)
}

/// What a live 30 -> 60 stream of the frames gave (the kept frames pushed at 30 fps into
/// `aiinterpolate mode=flow`, a syncing sink after it): in-between frames made, how many of them
/// the element had to degrade to a cheaper mode to keep up, and the p95 time of one in ms.
struct Live {
    /// Luma PSNR of the made frames, as `luma_psnr` (degraded ones included).
    psnr: f64,
    made: u64,
    degraded: u64,
    mean_ms: f64,
    p95_ms: f64,
}

fn live(input: &[Vec<u8>], truth: &[Vec<u8>], w: usize, h: usize) -> Result<Live, String> {
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w as u32, h as u32)
        .fps(gst::Fraction::new(30, 1))
        .build()
        .map_err(|e| e.to_string())?;
    let (pipeline, src, sink) = gst_ai_tests::appsrc_pipeline(
        "appsrc name=src is-live=true format=time do-timestamp=true ! aiinterpolate name=ip mode=flow \
         ! video/x-raw,framerate=60/1 ! queue ! appsink name=sink sync=true",
        &info,
    )?;
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    gst_ai_tests::on_video_sample(&sink, move |_, b| {
        let map = b.map_readable().map_err(|_| gst::FlowError::Error)?;
        keep.lock().expect("not poisoned").push(map.to_vec());
        Ok(())
    });
    let feeder = {
        let (src, frames) = (src.clone(), input.to_vec());
        std::thread::spawn(move || {
            let start = Instant::now();
            for (i, f) in frames.into_iter().enumerate() {
                let due = start + std::time::Duration::from_secs_f64(i as f64 / 30.0);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                if src.push_buffer(gst::Buffer::from_mut_slice(f)).is_err() {
                    break;
                }
            }
            let _ = src.end_of_stream();
        })
    };
    let r = gst_ai_tests::run_pipeline(&pipeline, std::time::Duration::from_secs(120));
    let _ = feeder.join();
    let stats = pipeline.by_name("ip").ok_or("no aiinterpolate")?.property::<gst::Structure>("stats");
    let _ = pipeline.set_state(gst::State::Null);
    if !r.errors.is_empty() {
        return Err(r.errors.join("; "));
    }
    let field = |name: &str| stats.get::<u64>(name).map_err(|e| format!("stats.{name}: {e}"));
    let got = std::mem::take(&mut *got.lock().expect("not poisoned"));
    Ok(Live {
        psnr: luma_psnr(&got, truth, w * h)?,
        made: field("interpolated")?,
        degraded: field("degraded")?,
        mean_ms: stats.get::<f64>("mean-ms").map_err(|e| format!("stats.mean-ms: {e}"))?,
        p95_ms: stats.get::<f64>("p95-ms").map_err(|e| format!("stats.p95-ms: {e}"))?,
    })
}

pub fn bench() -> Result<(), String> {
    gst_ai_tests::init();
    let n: usize = std::env::var("GST_AI_BENCH_REAL_FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(41).max(3) | 1;
    let only = std::env::var("GST_AI_BENCH_REAL_CLIPS").unwrap_or_default();
    let rife = std::env::var("GST_AI_BENCH_REAL_RIFE").map_or(true, |v| v != "0")
        && gst_ai_runtime::backend::zoo::resolve("rife-hdv3").is_ok();
    let mut table = Vec::new();
    for (clip, role) in CLIPS {
        if !only.is_empty() && !only.split(',').any(|c| clip.starts_with(c.trim())) {
            continue;
        }
        let (w, h, truth) = decode(&media(clip), n)?;
        let input: Vec<Vec<u8>> = truth.iter().step_by(2).cloned().collect();
        let luma = w * h;
        let dir = Scratch(std::env::temp_dir().join(format!("gst-ai-bench-real-{}", std::process::id())));
        std::fs::create_dir_all(&dir.0).map_err(|e| e.to_string())?;
        let in_path = dir.0.join("in.yuv");
        std::fs::write(&in_path, input.concat()).map_err(|e| e.to_string())?;
        let (ff, t_ff) = minterpolate(&in_path, &dir.0, w, h)?;
        let mt = Cell { fps: ff.len() as f64 / t_ff, psnr: luma_psnr(&ff, &truth, luma)? };
        let props = std::env::var("GST_AI_BENCH_REAL_FLOW_PROPS").unwrap_or_else(|_| "mode=flow".into());
        let (out, t) = element(&in_path, &dir.0, w, h, &props, 2)?;
        let flow = Cell { fps: out.len() as f64 / t, psnr: luma_psnr(&out, &truth, luma)? };
        let model = if rife {
            let (out, t) = element(&in_path, &dir.0, w, h, "mode=model model=zoo:rife-hdv3", 1)?;
            Some(Cell { fps: out.len() as f64 / t, psnr: luma_psnr(&out, &truth, luma)? })
        } else {
            None
        };
        let lv = live(&input, &truth, w, h)?;
        eprintln!("  measured {clip}");
        table.push((clip, role, w, h, truth.len(), mt, flow, model, lv));
    }
    println!();
    println!(
        "frame interpolation on real clips: every second frame dropped and made again (input at 30 fps -> 60), luma \
         PSNR of the made frames vs the dropped ones; fps = output frames per second (ratio to minterpolate's)"
    );
    println!(
        "| {:<38} | {:>6} | {:<30} | {:<30} | {:<30} | {:>8} |",
        "clip",
        "frames",
        "minterpolate (mci/aobmc/bidir)",
        "aiinterpolate flow",
        "aiinterpolate + RIFE HDv3",
        "gap shut"
    );
    println!("|{:-<40}|{:-<8}|{:-<32}|{:-<32}|{:-<32}|{:-<10}|", "", "", "", "", "", "");
    let cell = |c: &Cell, base: f64| format!("{:.1} fps ({:.1}x), {:.2} dB", c.fps, c.fps / base, c.psnr);
    let mut held = Vec::new();
    for (clip, role, w, h, frames, mt, flow, model, _) in &table {
        let gap = model.as_ref().map(|r| (flow.psnr - mt.psnr) / (r.psnr - mt.psnr));
        if *role == "held out"
            && let Some(g) = gap
        {
            held.push(g);
        }
        println!(
            "| {:<38} | {:>6} | {:<30} | {:<30} | {:<30} | {:>8} |",
            format!("{clip} {w}x{h} ({role})"),
            frames,
            cell(mt, mt.fps),
            cell(flow, mt.fps),
            model.as_ref().map_or("not imported".into(), |r| cell(r, mt.fps)),
            gap.map_or("-".into(), |g| format!("{:.0}%", 100.0 * g)),
        );
    }
    println!();
    println!(
        "the same kept frames as a live stream (pushed at 30 fps, aiinterpolate mode=flow -> 60 fps, syncing sink): \
         in-between frames made, those degraded to a cheaper mode to keep up, mean and p95 time of one (all modes; budget 33.3 ms), luma PSNR of the made frames"
    );
    for (clip, _, w, h, _, _, _, _, lv) in &table {
        println!(
            "  {clip} {w}x{h}: {} made, {} degraded, mean {:.1} ms, p95 {:.1} ms, {:.2} dB",
            lv.made, lv.degraded, lv.mean_ms, lv.p95_ms, lv.psnr
        );
    }
    if !held.is_empty() {
        println!(
            "held-out clips: flow shuts {:.0}% of the minterpolate -> RIFE gap on average (goal >= 67%)",
            100.0 * held.iter().sum::<f64>() / held.len() as f64
        );
    }
    Ok(())
}
