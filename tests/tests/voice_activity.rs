//! `ailipsync`'s voice-activity gate (issue 16, item 4): by default the zoo's Silero VAD hears the
//! 16 kHz audio, and only what it takes for speech moves the mouth. Real speech (pyannote.audio's
//! sample.wav) moves it; music, noise and breathing at speech loudness do not, though each of
//! them moves it with the gate off (so the gate, not the loudness rule, is what keeps it closed).
//!
//! The face is the drawn test face with a fixed face-box: the gate does not depend on the face.

use gst_ai_tests::Rng;
use gst_ai_tests::clip::Image;
use gst_ai_tests::lipsync::{self, Audio, Face};

const W: usize = 96;
const H: usize = 96;
const FACE: Face = [24, 8, 48, 80];
const FPS: i32 = 25;
const RATE: u32 = 16_000;

fn face_box() -> String {
    format!("face-box=\"<{}, {}, {}, {}>\"", FACE[0], FACE[1], FACE[2], FACE[3])
}

/// Which frames the element changed, and the stats it posted at EOS.
fn animated(samples: Vec<f32>, props: &str) -> (Vec<bool>, gst::Structure) {
    let frames_n = samples.len() * FPS as usize / RATE as usize;
    let face = lipsync::face_image(W, H, FACE);
    let frames: Vec<Image> = vec![face.clone(); frames_n];
    let audio = Audio { samples, rate: RATE, channels: 1, start_ms: 0 };
    let r = lipsync::run(&frames, FPS, Some(&audio), &format!("{} {props}", face_box()), false);
    assert!(r.errors.is_empty() && r.eos, "errors {:?}", r.errors);
    assert_eq!(r.frames.len(), frames_n);
    let stats = r.messages.iter().find(|m| m.name() == "ai-lipsync-stats").expect("stats at EOS").clone();
    (r.frames.iter().map(|f| f.rgb != face.rgb).collect(), stats)
}

fn share(v: &[bool]) -> f64 {
    v.iter().filter(|&&b| b).count() as f64 / v.len().max(1) as f64
}

/// `seconds` of sample.wav (16 kHz mono) from `start` seconds.
fn speech(start: f64, seconds: f64) -> Vec<f32> {
    let (samples, rate) =
        lipsync::read_wav(&gst_ai_tests::media("sample.wav"), start, Some(seconds)).expect("sample.wav");
    assert_eq!(rate, RATE);
    samples
}

/// Scales `x` to an RMS of `db` dBFS.
fn at_level(mut x: Vec<f32>, db: f64) -> Vec<f32> {
    let rms = (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    let k = (10f64.powf(db / 20.0) / rms) as f32;
    x.iter_mut().for_each(|v| *v *= k);
    x
}

/// White noise.
fn noise(seconds: f64, rng: &mut Rng) -> Vec<f32> {
    (0..(seconds * RATE as f64) as usize).map(|_| rng.next_u64() as f32 / u64::MAX as f32 * 2.0 - 1.0).collect()
}

/// Music: plucked three-note chords (each note with its harmonics, a sharp attack and an
/// exponential decay), a new chord every 0.4 s over a walking bass.
fn music(seconds: f64) -> Vec<f32> {
    const CHORDS: [[f32; 3]; 4] =
        [[261.6, 329.6, 392.0], [220.0, 261.6, 329.6], [174.6, 220.0, 261.6], [196.0, 246.9, 293.7]];
    let tau = std::f32::consts::TAU;
    (0..(seconds * RATE as f64) as usize)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let (k, local) = ((t / 0.4) as usize, t % 0.4);
            let env = (local / 0.005).min(1.0) * (-local * 6.0).exp();
            let chord: f32 = CHORDS[k % 4]
                .iter()
                .map(|&f| (1..6).map(|h| (tau * f * h as f32 * t).sin() / (h * h) as f32).sum::<f32>())
                .sum();
            let bass = (tau * CHORDS[k % 4][0] / 2.0 * t).sin();
            env * chord + 0.5 * bass
        })
        .collect()
}

/// Breathing: noise shaped like breath (smoothed, low-passed), in 0.6 s breaths with 0.4 s
/// pauses that rise and fall smoothly.
fn breathing(seconds: f64, rng: &mut Rng) -> Vec<f32> {
    let white = noise(seconds, rng);
    let mut low = 0f32;
    white
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            low += 0.15 * (v - low);
            let t = (i as f32 / RATE as f32) % 1.0;
            let env = if t < 0.6 { (std::f32::consts::PI * t / 0.6).sin() } else { 0.0 };
            env * low
        })
        .collect()
}

#[test]
fn real_speech_moves_the_mouth_and_its_pauses_do_not() {
    // sample.wav from 5 s: near-silent room tone to ~6.4 s, then speech.
    let audio = speech(5.0, 6.0);
    let (gated, stats) = animated(audio.clone(), "");
    let (open, _) = animated(audio, "voice-activity=false");
    let fps = FPS as usize;
    let (quiet, talk) = (0..fps * 7 / 5, fps * 5 / 2..gated.len());
    println!(
        "sample.wav 5-11 s: animated with the gate {:.2} (room tone) / {:.2} (speech), without {:.2} / {:.2}; {stats}",
        share(&gated[quiet.clone()]),
        share(&gated[talk.clone()]),
        share(&open[quiet.clone()]),
        share(&open[talk.clone()])
    );
    assert_eq!(share(&gated[quiet]), 0.0, "the room tone before the speech moved the mouth");
    let (with, without) = (share(&gated[talk.clone()]), share(&open[talk]));
    assert!(without > 0.8, "the speech should move the mouth without the gate: {without:.2}");
    assert!(with >= 0.9 * without, "the gate closed the mouth on real speech: {with:.2} of frames vs {without:.2}");
}

/// A stream that starts mid-sentence: Silero can need some 200 ms of speech before its
/// probability rises, so a gate that heard only each frame's own sound kept the first frames
/// closed (here the first 3, at -35 dBFS). The gate also hears the whole chunks of the rest of
/// the frame's mel window, which the frame waits for anyway. (Where Silero needs longer, the
/// first frames stay closed: from 12.5 s, 3 frames where there were 5; from 10.7 s, 7 both ways.)
#[test]
fn speech_from_the_first_sample_moves_the_first_frames() {
    // sample.wav from 16.7 s: mid-sentence.
    let audio = speech(16.7, 1.5);
    let (gated, stats) = animated(audio.clone(), "");
    let (open, _) = animated(audio, "voice-activity=false");
    let first = FPS as usize / 4; // the first 240 ms
    println!(
        "sample.wav from 16.7 s, first {first} frames: gated {:?} ungated {:?}; {stats}",
        &gated[..first],
        &open[..first]
    );
    assert!(open[..first].iter().all(|&b| b), "the speech should move every early frame without the gate");
    let moved = gated[..first].iter().filter(|&&b| b).count();
    assert!(moved + 1 >= first, "the gate kept {} of the first {first} frames closed", first - moved);
}

#[test]
fn music_noise_and_breathing_do_not_move_the_mouth() {
    let mut rng = Rng::new(16);
    let sounds = [
        ("music", at_level(music(3.0), -18.0)),
        ("white noise", at_level(noise(3.0, &mut rng), -24.0)),
        ("breathing", at_level(breathing(3.0, &mut rng), -24.0)),
    ];
    for (name, audio) in sounds {
        let (open, _) = animated(audio.clone(), "voice-activity=false");
        let (gated, stats) = animated(audio, "");
        println!("{name}: animated {:.2} without the gate, {:.2} with it; {stats}", share(&open), share(&gated));
        assert!(share(&open) > 0.3, "{name} is too quiet to test the gate: {:.2} animated without it", share(&open));
        assert!(share(&gated) <= 0.05, "{name} moved the mouth in {:.2} of the frames", share(&gated));
        let unvoiced = stats.get::<u64>("unvoiced").unwrap();
        assert!(unvoiced as usize >= open.iter().filter(|&&b| b).count() / 2, "unvoiced {unvoiced}: {stats}");
    }
}

#[test]
fn a_voice_model_of_the_wrong_contract_is_an_error() {
    let sr = gst_ai_tests::test_model("nearest_x2.onnx");
    let desc = format!(
        "videotestsrc num-buffers=2 ! video/x-raw,width=64,height=64 ! ailipsync name=l {} voice-model={} ! fakesink \
         audiotestsrc num-buffers=2 ! audio/x-raw,rate=16000,channels=1 ! l.audio",
        face_box(),
        sr.display()
    );
    let e = gst_ai_tests::expect_error(&desc);
    assert!(e.contains("Silero VAD") && e.contains("nearest_x2"), "{e}");
}
