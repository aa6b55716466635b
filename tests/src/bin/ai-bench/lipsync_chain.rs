//! lipsync-chain (run only when named): where the built-in animation loses correlation with the
//! speech on long continuous speech, link by link. For each face and stretch of sample.wav (as the
//! `lipsync` section's long-speech table):
//! - **driver**: the element's own mouth opening per frame (the runtime's `LipSyncer` with the
//!   zoo's voice-activity gate, as the element runs it) against the loudness per frame (dB);
//! - **picture**: the face mesh's inner-lip opening on the element's output against that driver
//!   opening (how faithfully the warp shows what the driver asked for);
//! - **total**: the mesh's opening against the loudness (the figure issue 16 asks ≥ 0.8 of).
//!
//! Then, per face, the mesh's reading of a still sweep of openings 0, 0.1 .. 1 (width 1) as
//! the element draws them (% of the mesh's face height, minus the input's): where the picture
//! stops following the driver.
//!
//! By default the tuning stretch (7.6-17.6 s) on astronaut.png and the LFW tuning faces 0, 5 ..
//! 45. `GST_AI_CHAIN_STRETCH=FROM,SECONDS` and `GST_AI_CHAIN_LFW=K,K,..` choose others (the held-out
//! ones are 18.5,11 and 50..99); `GST_AI_CHAIN_CSV=PATH` writes the loudness and the driver's
//! opening per frame, with and without the voice gate.

use std::sync::Arc;

use gst_ai_kernels::{Colorimetry, Filter, FrameMut, PixelFormat};
use gst_ai_runtime::dsp::resample::SampleFormat;
use gst_ai_runtime::tasks::lipsync::{AudioInput, LipOptions, LipSyncer, Step, mouth};
use gst_ai_runtime::{Device, Model, ModelSource, Precision, load};
use gst_ai_tests::lipsync::{self, Audio, MeshReader};
use gst_ai_tests::{media, zoo_model};

use super::lipsync::photo;

/// The element's driver opening per frame at `fps` for 16 kHz mono `samples` (gated by `vad`).
fn driver(samples: &[f32], fps: u32, n: usize, vad: Option<&Arc<Model>>) -> Result<Vec<f64>, String> {
    let options = LipOptions { face_box: Some([0, 0, 32, 32]), ..LipOptions::default() };
    let faces = options.faces(None, None).ok_or("no face source")?;
    let mut syncer = LipSyncer::new(None, faces).map_err(|e| e.to_string())?;
    if let Some(vad) = vad {
        syncer = syncer.with_voice_activity(vad.clone()).map_err(|e| e.to_string())?;
    }
    syncer.set_audio_format(AudioInput::new(SampleFormat::F32, 16_000, 1).map_err(|e| e.to_string())?);
    let bytes: Vec<u8> = samples.iter().flat_map(|v| v.to_le_bytes()).collect();
    syncer.push_audio(Some(0), &bytes).map_err(|e| e.to_string())?;
    syncer.end_audio().map_err(|e| e.to_string())?;
    let params = options.params();
    let mut rgb = vec![128u8; 32 * 32 * 3];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as u64 * 1_000_000_000 / u64::from(fps);
        let open = match syncer.step(Some(t), Some(true), false) {
            Step::Process(window) => {
                let mut frame =
                    FrameMut::new(PixelFormat::Rgb, 32, 32, vec![&mut rgb[..]], &[96], Colorimetry::default())
                        .map_err(|e| e.to_string())?;
                syncer.process(&mut frame, window, &params, None).map_err(|e| e.to_string())?;
                syncer.opening().map_or(0.0, |o| o.0)
            }
            _ => 0.0,
        };
        out.push(f64::from(open));
    }
    Ok(out)
}

pub fn bench() -> Result<(), String> {
    let mut faces = vec![("astronaut".to_string(), photo("photos/astronaut.png")?.crop(120, 30, 208, 208))];
    let wanted: Vec<usize> = std::env::var("GST_AI_CHAIN_LFW")
        .ok()
        .map(|v| v.split(',').filter_map(|k| k.trim().parse().ok()).collect())
        .unwrap_or_else(|| (0..50).step_by(5).collect());
    for k in wanted {
        faces.push((format!("lfw {k}"), photo(&format!("lfw/face_{k:03}.png"))?));
    }
    let stretch: Vec<f64> = std::env::var("GST_AI_CHAIN_STRETCH")
        .ok()
        .map(|v| v.split(',').filter_map(|k| k.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![7.6, 10.0]);
    let (from, secs) = (stretch[0], stretch[1]);
    let n = (secs * 25.0) as usize;
    let (samples, rate) = lipsync::read_wav(&media("sample.wav"), from, Some(secs))?;
    if rate != 16_000 {
        return Err(format!("sample.wav is {rate} Hz, the chain expects 16 kHz"));
    }
    let db = lipsync::frame_db(&samples, rate, 25, n, -60.0);
    let vad = load(&ModelSource::File(zoo_model("silero-vad")), Device::Cpu, Precision::Auto)
        .map_err(|e| format!("zoo:silero-vad: {e}"))?;
    let drive = driver(&samples, 25, n, Some(&vad))?;
    if let Ok(path) = std::env::var("GST_AI_CHAIN_CSV") {
        let ungated = driver(&samples, 25, n, None)?;
        let rows: String = (0..n).map(|i| format!("{i},{:.3},{:.4},{:.4}\n", db[i], drive[i], ungated[i])).collect();
        std::fs::write(&path, format!("frame,db,drive,ungated\n{rows}")).map_err(|e| e.to_string())?;
    }
    println!();
    println!(
        "lipsync chain, sample.wav {from}-{} s, 256x256, 25 fps; r(driver opening, dB) = {:.3}",
        from + secs,
        lipsync::correlation(&drive, &db)
    );
    let reader = MeshReader::new();
    println!(
        "| {:<12} | {:>14} | {:>14} | {:>7} | sweep 0..1 (% face height)",
        "face", "r(mesh, drive)", "r(mesh, dB)", "read"
    );
    for (name, face) in faces {
        let face = face.resized(256, 256, Filter::Bicubic);
        let base = reader.read(&face).ok_or_else(|| format!("{name}: the face mesh finds no face"))?.opening();
        let audio = Audio { samples: samples.clone(), rate, channels: 1, start_ms: 0 };
        let r = lipsync::run(&vec![face.clone(); n], 25, Some(&audio), "", false);
        if !r.errors.is_empty() || r.frames.len() != n {
            return Err(format!("{name}: {} frames, errors {:?}", r.frames.len(), r.errors));
        }
        let (m, (d, l)): (Vec<f64>, (Vec<f64>, Vec<f64>)) = r
            .frames
            .iter()
            .zip(drive.iter().zip(&db))
            .filter_map(|(f, (&d, &l))| reader.read(f).map(|m| (m.opening() - base, (d, l))))
            .unzip();
        // The still sweep, drawn as the element draws it on the face it finds, read by the
        // independent reader.
        let f = reader.find(&face).ok_or_else(|| format!("{name}: no face found"))?;
        let sweep: Vec<String> = (0..=10)
            .map(|k| {
                let mut out = face.clone();
                let mut frame =
                    FrameMut::new(PixelFormat::Rgb, 256, 256, vec![&mut out.rgb[..]], &[768], Colorimetry::default())
                        .unwrap();
                mouth::warp(&mut frame, &f, k as f32 / 10.0, 1.0, 0.12).unwrap();
                reader.read(&out).map_or("-".into(), |m| format!("{:.1}", 100.0 * (m.opening() - base)))
            })
            .collect();
        println!(
            "| {name:<12} | {:>14.3} | {:>14.3} | {:>7} | {}",
            lipsync::correlation(&m, &d),
            lipsync::correlation(&m, &l),
            format!("{}/{n}", m.len()),
            sweep.join(" ")
        );
    }
    Ok(())
}
