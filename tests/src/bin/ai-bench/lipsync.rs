//! lipsync: ailipsync on a 1280x720 talking-face clip at 25 fps with 48 kHz stereo speech (voiced
//! syllables): frames per second through the element and the latency it adds per frame — the
//! 212.5 ms of audio each frame waits for plus its processing time (mean and p95 of the
//! element's own stats) — for the built-in animation and for a Wav2Lip-architecture model (the
//! tiny random-weight test export, 96x96: the cost of the crop, run and feathered paste, not of a
//! full-size Wav2Lip), beside the element with no audio pad (frames passed through). Then the
//! correlation between the audio's loudness per frame and the mouth opening measured on the
//! built-in's output frames.
//!
//! Then on a real face (issue 16): astronaut.png scaled to 720x720 inside a 1280x720 frame, with
//! 16 kHz speech from sample.wav, through ailipsync with its defaults (zoo:retinaface on every
//! frame, zoo:face-mesh on the face): frames per second (steady: between the first and the last
//! output frame, so model loading is not counted) and the added latency, beside the same pipeline
//! without ailipsync; the mouth opening the face mesh reads on the output against the loudness.
//! The machine's load average is printed with it: other work on the CPU slows every row.

use gst::prelude::*;
use gst_ai_kernels::Filter;
use gst_ai_runtime::tasks::lipsync::AudioTrack;
use gst_ai_tests::clip::Image;
use gst_ai_tests::lipsync::{self, Audio, Face, MeshReader};
use gst_ai_tests::{load_rgb, media, test_model};

pub fn bench() -> Result<(), String> {
    synthetic()?;
    real_face()?;
    long_speech()
}

/// Only the real face at 1280x720 (`ai-bench lipsync-real`).
pub fn bench_real() -> Result<(), String> {
    real_face()
}

/// The built-in on long continuous speech (issue 16's open point): sample.wav 7.6-17.6 s (the
/// stretch the driver was tuned on) and 18.5-29.5 s (held out), on astronaut.png's face and LFW
/// faces 20 (tuning), 60 and 80 (held out), 256x256 at 25 fps, element defaults (voice gate on):
/// Pearson r of the face mesh's inner-lip opening on the output with the loudness per frame (dB,
/// floored at -60), as tests/tests/lipsync_speech.rs measures it on its 2.4 s clip.
fn long_speech() -> Result<(), String> {
    let faces = [
        ("astronaut (tuning)", photo("photos/astronaut.png")?.crop(120, 30, 208, 208)),
        ("lfw 20 (tuning)", photo("lfw/face_020.png")?),
        ("lfw 60 (held out)", photo("lfw/face_060.png")?),
        ("lfw 80 (held out)", photo("lfw/face_080.png")?),
    ];
    let stretches = [("7.6-17.6 s (tuning)", 7.6, 10.0), ("18.5-29.5 s (held out)", 18.5, 11.0)];
    let reader = MeshReader::new();
    println!();
    println!("built-in on long continuous speech (sample.wav), 256x256 faces, 25 fps: r(opening, loudness dB)");
    println!("| {:<20} | {:>20} | {:>22} |", "face", stretches[0].0, stretches[1].0);
    println!("|{:-<22}|{:-<22}|{:-<24}|", "", "", "");
    for (name, face) in faces {
        let face = face.resized(256, 256, Filter::Bicubic);
        let base = reader.read(&face).ok_or_else(|| format!("{name}: the face mesh finds no face"))?.opening();
        let mut cells = Vec::new();
        for (_, from, secs) in stretches {
            let n = (secs * 25.0) as usize;
            let (samples, rate) = lipsync::read_wav(&media("sample.wav"), from, Some(secs))?;
            let db = lipsync::frame_db(&samples, rate, 25, n, -60.0);
            let audio = Audio { samples, rate, channels: 1, start_ms: 0 };
            let r = lipsync::run(&vec![face.clone(); n], 25, Some(&audio), "", false);
            if !r.errors.is_empty() || r.frames.len() != n {
                return Err(format!("{name}: {} frames, errors {:?}", r.frames.len(), r.errors));
            }
            let (open, loud): (Vec<f64>, Vec<f64>) =
                r.frames.iter().zip(&db).filter_map(|(f, &l)| reader.read(f).map(|m| (m.opening() - base, l))).unzip();
            cells.push(format!("{:.3} ({}/{n} read)", lipsync::correlation(&open, &loud), open.len()));
        }
        println!("| {name:<20} | {:>20} | {:>22} |", cells[0], cells[1]);
    }
    Ok(())
}

/// A picture of the set-up's media (`.deps/media/NAME`).
pub(super) fn photo(name: &str) -> Result<Image, String> {
    let (width, height, rgb) = load_rgb(&media(name))?;
    Ok(Image { width, height, rgb })
}

/// The 1-, 5- and 15-minute load averages (Linux), as printed.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// ailipsync with its defaults on astronaut.png in a 1280x720 frame, against no ailipsync.
fn real_face() -> Result<(), String> {
    let frames: usize = std::env::var("GST_AI_BENCH_FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(75);
    let (w, h, fps) = (1280usize, 720usize, 25u32);
    let (pw, ph, rgb) = load_rgb(&media("photos/astronaut.png"))?;
    let face = Image { width: pw, height: ph, rgb }.resized(h, h, Filter::Bicubic);
    let mut frame = Image { width: w, height: h, rgb: [96u8, 100, 108].repeat(w * h) };
    frame.blit(&face, (w - h) / 2, 0);
    let clip = vec![frame; frames];
    // From 7.5 s: continuous speech.
    let (samples, rate) = lipsync::read_wav(&media("sample.wav"), 7.5, Some(frames as f64 / fps as f64 + 0.5))?;
    let db = lipsync::frame_db(&samples, rate, fps, frames, -60.0);
    let audio = Audio { samples, rate, channels: 1, start_ms: 0 };
    let lookahead_ms = AudioTrack::lookahead_ns() as f64 / 1e6;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let w2l = test_model("lipsync/wav2lip_tiny96.onnx");

    println!();
    println!(
        "ailipsync on a real face: astronaut.png at 720x720 in {w}x{h} RGB, {fps} fps, sample.wav from 7.5 s (16 kHz \
         mono), {frames} frames, {threads} CPU threads; load average before: {}",
        load()
    );
    println!(
        "| {:<46} | {:>8} | {:>9} | {:>8} | {:>8} | {:>22} |",
        "pipeline", "fps", "animated", "mean ms", "p95 ms", "added latency p95 (ms)"
    );
    println!("|{:-<48}|{:-<10}|{:-<11}|{:-<10}|{:-<10}|{:-<24}|", "", "", "", "", "", "");
    let cases = [
        ("appsrc ! appsink (no ailipsync)", None),
        ("ailipsync, defaults (retinaface + face mesh)", Some(String::new())),
        ("ailipsync, defaults + Wav2Lip tiny 96 (random)", Some(format!("model={}", w2l.display()))),
    ];
    let mut builtin = Vec::new();
    for (name, props) in cases {
        let r = lipsync::run_through(&clip, fps as i32, Some(&audio), props.as_deref(), true);
        if !r.errors.is_empty() || r.frames.len() != frames {
            return Err(format!("{name}: {} frames, errors {:?}", r.frames.len(), r.errors));
        }
        let fps_out = r.steady_fps();
        if props.is_none() {
            println!("| {name:<46} | {fps_out:>8.1} | {:>9} | {:>8} | {:>8} | {:>22} |", "-", "-", "-", "0");
            continue;
        }
        let stats = r.element.property::<gst::Structure>("stats");
        let get = |f: &str| stats.get::<f64>(f).map_err(|e| format!("stats {f}: {e}"));
        let animated = stats.get::<u64>("animated").map_err(|e| e.to_string())?;
        let (mean, p95) = (get("mean-ms")?, get("p95-ms")?);
        println!(
            "| {name:<46} | {fps_out:>8.1} | {animated:>9} | {mean:>8.2} | {p95:>8.2} | {:>22.1} |",
            lookahead_ms + p95
        );
        if props.as_deref() == Some("") {
            builtin = r.frames;
        }
    }
    println!("load average after: {} (the bench shares the CPU with whatever else runs)", load());
    // The face mesh reads the output, on the face's part of the frame.
    let reader = MeshReader::new();
    let x0 = (w - h) / 2;
    let crop = |f: &Image| f.crop(x0, 0, h, h);
    let base = reader.read(&crop(&clip[0])).ok_or("the face mesh finds no face in the input")?.opening();
    let read: Vec<(usize, f64, f64)> = builtin
        .iter()
        .zip(&db)
        .enumerate()
        .filter_map(|(i, (f, &l))| reader.read(&crop(f)).map(|m| (i, m.opening() - base, l)))
        .collect();
    let r_from = |first: usize| {
        let (open, loud): (Vec<f64>, Vec<f64>) = read.iter().filter(|p| p.0 >= first).map(|p| (p.1, p.2)).unzip();
        lipsync::correlation(&open, &loud)
    };
    // The voice-activity detector starts with no past: on speech cut mid-word it needs about
    // half a second to settle (README), during which the mouth stays closed.
    let settled = (fps as usize).div_ceil(2);
    println!(
        "built-in on the real face: the face mesh's inner-lip opening on the output vs the loudness per frame (dB): \
         Pearson r = {:.3} over {} frames read; {:.3} from frame {settled} on (the voice detector settled)",
        r_from(0),
        read.len(),
        r_from(settled)
    );
    println!(
        "(fps: steady rate between the first and the last output frame, RGB frames pushed and collected; the added \
         latency is the audio look-ahead of {lookahead_ms:.1} ms plus the p95 processing time of one frame)"
    );
    Ok(())
}

/// The drawn face with synthetic speech (the section as it was before the real face).
fn synthetic() -> Result<(), String> {
    let frames: usize = std::env::var("GST_AI_BENCH_FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(75);
    let (w, h, fps) = (1280usize, 720usize, 25);
    let face: Face = [480, 120, 320, 400];
    let clip = vec![lipsync::face_image(w, h, face); frames];
    let seconds = frames as f64 / fps as f64 + 0.5;
    let env = |t: f64| {
        let syllable = (std::f64::consts::PI * 4.0 * t).sin().abs().powf(1.5);
        syllable * (0.55 + 0.45 * (2.0 * std::f64::consts::PI * 0.37 * t).sin())
    };
    let samples = lipsync::speech(seconds, 48000, env);
    let rms = lipsync::frame_rms(&samples, 48000, fps as u32, frames);
    let audio = Audio { samples, rate: 48000, channels: 2, start_ms: 0 };
    // The voiced syllables are synthetic, not speech: no voice-activity gate here (the real-face
    // section below runs with it, on real speech).
    let boxed = format!("face-box=\"<{}, {}, {}, {}>\" voice-activity=false", face[0], face[1], face[2], face[3]);
    let w2l = test_model("lipsync/wav2lip_tiny96.onnx");
    let lookahead_ms = AudioTrack::lookahead_ns() as f64 / 1e6;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);

    println!();
    println!("ailipsync, {w}x{h} RGB at {fps} fps, 48 kHz stereo S16 speech, {frames} frames, {threads} CPU threads");
    println!(
        "| {:<34} | {:>8} | {:>9} | {:>8} | {:>8} | {:>22} |",
        "path", "fps", "animated", "mean ms", "p95 ms", "added latency p95 (ms)"
    );
    println!("|{:-<36}|{:-<10}|{:-<11}|{:-<10}|{:-<10}|{:-<24}|", "", "", "", "", "", "");
    let cases = [
        ("no audio pad (pass-through)", None, boxed.clone()),
        ("built-in animation", Some(&audio), boxed.clone()),
        ("Wav2Lip architecture, 96x96, tiny", Some(&audio), format!("{boxed} model={}", w2l.display())),
    ];
    let mut builtin_frames = Vec::new();
    for (name, a, props) in cases {
        let r = lipsync::run(&clip, fps, a, &props, true);
        if !r.errors.is_empty() || r.frames.len() != frames {
            return Err(format!("{name}: {} frames, errors {:?}", r.frames.len(), r.errors));
        }
        let stats = r.element.property::<gst::Structure>("stats");
        let get = |f: &str| stats.get::<f64>(f).map_err(|e| format!("stats {f}: {e}"));
        let animated = stats.get::<u64>("animated").map_err(|e| e.to_string())?;
        let (mean, p95) = (get("mean-ms")?, get("p95-ms")?);
        let added = if a.is_some() { lookahead_ms + p95 } else { p95 };
        println!(
            "| {:<34} | {:>8.1} | {:>9} | {:>8.2} | {:>8.2} | {:>22.1} |",
            name,
            frames as f64 / r.took.as_secs_f64(),
            animated,
            mean,
            p95,
            added
        );
        if name == "built-in animation" {
            builtin_frames = r.frames;
        }
    }
    let closed = lipsync::mouth_opening(&clip[0], face);
    let open: Vec<f64> = builtin_frames.iter().map(|f| lipsync::mouth_opening(f, face) - closed).collect();
    println!(
        "built-in animation: correlation of the audio RMS per frame with the mouth opening measured on the output \
         frames: {:.3}",
        lipsync::correlation(&rms, &open)
    );
    println!("(fps: wall clock from PLAYING to EOS, pushing and collecting RGB frames included; the added latency");
    println!(" is the audio look-ahead of {lookahead_ms:.1} ms plus the p95 processing time of one frame)");
    Ok(())
}
