//! The Wav2Lip mel spectrogram against librosa's (golden vectors by models/make_mel_golden.py).

use std::path::PathBuf;

use gst_ai_runtime::dsp::audio::{MelSpectrogram, N_MELS};

fn read_f32(name: &str) -> Vec<f32> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/models/lipsync").join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[test]
fn matches_librosa() {
    let input = read_f32("mel_in.f32");
    let golden = read_f32("mel_golden.f32");
    let mel = MelSpectrogram::new().compute(&input);
    assert_eq!(mel.len(), golden.len(), "{} columns expected", golden.len() / N_MELS);
    let (mut worst, mut sum) = (0f32, 0f64);
    for (a, b) in mel.iter().zip(&golden) {
        let d = (a - b).abs();
        worst = worst.max(d);
        sum += d as f64;
    }
    let mean = sum / mel.len() as f64;
    eprintln!("mel vs librosa: max abs diff {worst:.2e}, mean {mean:.2e} (values in -4..4)");
    // f32 DFT against librosa's f64 pipeline; 1e-3 of a -4..4 range is 0.01 dB.
    assert!(worst < 1e-3, "max abs diff {worst}");
}
