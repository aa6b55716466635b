//! The zoo's face family on real media (imported by `make setup` into .deps/zoo and .deps/media):
//! `zoo:retinaface` through ailipsync's `face-model` and through the runtime's FaceDetector,
//! its landmarks output, `zoo:face-mesh` on the face it finds, `zoo:silero-vad` on speech.
//!
//! Where things are in astronaut.png (512x512), read once by eye from the picture magnified 3x
//! with a pixel grid (not from any model's output): eyes at about (202, 101) and (247, 103), nose
//! tip (223, 127), mouth corners (203, 142) and (244, 142), mouth centre (223, 147); the face runs
//! from the cheeks at x 178 to 270 and from the hairline at y 65 to the chin at y 180. The
//! tolerances below are generous (a reading by eye is good to a few pixels; detectors differ in
//! where they put a box's edges): about 15% of the face's 92-pixel width.

use std::path::PathBuf;

use gst_ai_kernels::{FaceBox, crop_resize};
use gst_ai_runtime::backend::model::ModelInput;
use gst_ai_runtime::backend::zoo;
use gst_ai_runtime::tasks::lipsync::FaceDetector;
use gst_ai_runtime::{Device, InputData, Model, ModelSource, Precision, load};
use gst_ai_tests::clip::{Image, to_planar};
use gst_ai_tests::lipsync::{self, Audio};
use gst_ai_tests::load_rgb;

const EYES: [(f32, f32); 2] = [(202.0, 101.0), (247.0, 103.0)];
const NOSE: (f32, f32) = (223.0, 127.0);
const MOUTH_CORNERS: [(f32, f32); 2] = [(203.0, 142.0), (244.0, 142.0)];
const MOUTH: (f32, f32) = (223.0, 147.0);
/// x0, y0, x1, y1 of the face by eye (cheek to cheek, hairline to chin).
const FACE: [f32; 4] = [178.0, 65.0, 270.0, 180.0];
/// How far (pixels) a point may be from where it was read by eye.
const NEAR: f32 = 14.0;

fn media(name: &str) -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.deps/media")).join(name);
    assert!(p.exists(), "{} is missing: run `make setup` (it imports the real test media)", p.display());
    p
}

fn photo(name: &str) -> Image {
    let (width, height, rgb) = load_rgb(&media(&format!("photos/{name}"))).expect("the photo decodes");
    Image { width, height, rgb }
}

fn zoo_model(name: &str) -> std::sync::Arc<Model> {
    let path = zoo::resolve(name).unwrap_or_else(|e| panic!("zoo:{name} is missing (run `make setup`): {e}"));
    load(&ModelSource::File(path), Device::Cpu, Precision::Auto).unwrap_or_else(|e| panic!("zoo:{name}: {e}"))
}

fn dist(a: (f32, f32), b: (f32, f32)) -> f32 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

/// The runtime's detector (what ailipsync runs) on a whole picture.
fn detect(model: &Model, img: &Image, threshold: f32) -> Option<(FaceBox, f32)> {
    let mut det = FaceDetector::new(model).expect("zoo:retinaface has the UltraFace layout");
    det.detect(model, &to_planar(img), img.width, img.height, threshold, None)
        .expect("the detector runs")
        .map(|d| (d.face, d.score))
}

#[test]
fn retinaface_finds_the_astronauts_face_and_no_face_elsewhere() {
    let model = zoo_model("retinaface");
    let (b, score) = detect(&model, &photo("astronaut.png"), 0.5).expect("a face is found in astronaut.png");
    println!("astronaut.png: box x {:.1} y {:.1} w {:.1} h {:.1}, score {score:.4}", b.x, b.y, b.w, b.h);
    let (fw, fh) = (FACE[2] - FACE[0], FACE[3] - FACE[1]);
    let centre = (b.x + b.w / 2.0, b.y + b.h / 2.0);
    assert!(score > 0.9, "score {score}");
    assert!(dist(centre, ((FACE[0] + FACE[2]) / 2.0, (FACE[1] + FACE[3]) / 2.0)) < NEAR, "box centre {centre:?}");
    assert!((b.w / fw - 1.0).abs() < 0.3 && (b.h / fh - 1.0).abs() < 0.3, "box size {} x {}", b.w, b.h);
    // A cat's face, a coffee cup, a motorbike: no human face at the default threshold (0.5).
    for name in ["chelsea.png", "coffee.png", "motorcycle_left.png"] {
        let found = detect(&model, &photo(name), 0.5);
        assert!(found.is_none(), "{name}: a face was found: {found:?}");
    }
}

#[test]
fn retinaface_landmarks_sit_on_the_eyes_nose_and_mouth() {
    // The extra `landmarks` output (1xNx10, 0..1 of the 320x240 input) of the best anchor.
    let model = zoo_model("retinaface");
    let img = photo("astronaut.png");
    let (w, h) = (320, 240);
    let mut input = vec![0f32; 3 * w * h];
    let full = FaceBox { x: 0.0, y: 0.0, w: img.width as f32, h: img.height as f32 };
    crop_resize(&to_planar(&img), img.width, img.height, full, &mut input, w, h).unwrap();
    input.iter_mut().for_each(|v| *v = (*v * 255.0 - 127.0) / 128.0);
    let shape = [1, 3, h, w];
    let out = model
        .run_all(&[ModelInput { name: "input", shape: &shape, data: InputData::F32(&input) }], None)
        .expect("runs");
    let names: Vec<&str> = model.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["scores", "boxes", "landmarks"]);
    let (scores, marks) = (&out[0].1, &out[2].1);
    let n = out[0].0[1];
    assert_eq!((out[2].0.as_slice(), n), ([1, n, 10].as_slice(), 3160));
    let best = (0..n).max_by(|&a, &b| scores[2 * a + 1].total_cmp(&scores[2 * b + 1])).unwrap();
    let p = |k: usize| (marks[10 * best + 2 * k] * img.width as f32, marks[10 * best + 2 * k + 1] * img.height as f32);
    let expected = [EYES[0], EYES[1], NOSE, MOUTH_CORNERS[0], MOUTH_CORNERS[1]];
    for (k, want) in expected.into_iter().enumerate() {
        println!("landmark {k}: {:?} (by eye {want:?})", p(k));
        assert!(dist(p(k), want) < NEAR, "landmark {k} at {:?}, by eye {want:?}", p(k));
    }
}

#[test]
fn ailipsync_with_zoo_retinaface_animates_the_astronauts_mouth() {
    // A 256x192 crop of astronaut.png (from (96, 20)) as 50 frames, with speech (sample.wav
    // from 6.5 s, where it starts; the voice-activity gate hears it from its start, as in a real
    // stream): the built-in mouth animation is placed by zoo:retinaface.
    let (ox, oy) = (96usize, 20usize);
    let crop = photo("astronaut.png").crop(ox, oy, 256, 192);
    let frames = vec![crop; 50];
    let audio = Audio { samples: speech_from(6.5, 2.0), rate: 16000, channels: 1, start_ms: 0 };
    let r = lipsync::run(&frames, 25, Some(&audio), "face-model=zoo:retinaface face-padding=\"<0, 0, 0, 0>\"", false);
    assert!(r.errors.is_empty() && r.eos, "errors {:?}", r.errors);
    assert_eq!(r.frames.len(), 50);
    let (mut n, mut sx, mut sy) = (0usize, 0f64, 0f64);
    for (f, orig) in r.frames.iter().zip(&frames) {
        for y in 0..orig.height {
            for x in 0..orig.width {
                let i = (y * orig.width + x) * 3;
                if f.rgb[i..i + 3] != orig.rgb[i..i + 3] {
                    let (px, py) = ((x + ox) as f32, (y + oy) as f32);
                    // The opened mouth may reach a little below the chin: NEAR more below.
                    assert!(
                        (FACE[0]..FACE[2]).contains(&px) && (FACE[1]..FACE[3] + NEAR).contains(&py),
                        "pixel ({px}, {py}) of astronaut.png changed: outside the face"
                    );
                    (n, sx, sy) = (n + 1, sx + px as f64, sy + py as f64);
                }
            }
        }
    }
    assert!(n > 200, "the mouth moved ({n} pixels changed)");
    let stats = r.messages.iter().find(|m| m.name() == "ai-lipsync-stats").expect("stats at EOS");
    println!("stats: {stats}");
    let animated = stats.get::<u64>("animated").unwrap();
    assert!(animated >= 25, "the speech animated {animated} of 50 frames: {stats}");
    let centre = ((sx / n as f64) as f32, (sy / n as f64) as f32);
    println!("{n} pixels changed, centred at {centre:?} (mouth by eye {MOUTH:?})");
    assert!(dist(centre, MOUTH) < NEAR, "the animation is centred at {centre:?}, the mouth by eye at {MOUTH:?}");
}

#[test]
fn ailipsync_with_zoo_retinaface_leaves_a_cat_alone() {
    // chelsea.png (a cat's face), 256x192 from (100, 50), with the same speech: nothing changes.
    let frames = vec![photo("chelsea.png").crop(100, 50, 256, 192); 6];
    let audio = Audio { samples: speech_from(8.0, 0.5), rate: 16000, channels: 1, start_ms: 0 };
    let r = lipsync::run(&frames, 25, Some(&audio), "face-model=zoo:retinaface", false);
    assert!(r.errors.is_empty() && r.eos, "errors {:?}", r.errors);
    assert_eq!(r.frames.len(), 6);
    for (f, orig) in r.frames.iter().zip(&frames) {
        assert!(f.rgb == orig.rgb, "a frame of the cat changed");
    }
    let stats = r.messages.iter().find(|m| m.name() == "ai-lipsync-stats").expect("stats at EOS");
    assert_eq!(stats.get::<u64>("animated").unwrap(), 0, "{stats}");
}

/// `seconds` of sample.wav (16 kHz mono) from `start` seconds.
fn speech_from(start: f64, seconds: f64) -> Vec<f32> {
    let (samples, rate) = lipsync::read_wav(&media("sample.wav"), start, Some(seconds)).expect("sample.wav");
    assert_eq!(rate, 16000);
    samples
}

#[test]
fn face_mesh_puts_the_lips_on_the_astronauts_mouth() {
    // The face as zoo:retinaface finds it, squared and enlarged 1.5x, stretched to 192x192.
    let det = zoo_model("retinaface");
    let img = photo("astronaut.png");
    let (b, _) = detect(&det, &img, 0.5).expect("a face");
    let side = 1.5 * b.w.max(b.h);
    let crop = FaceBox { x: b.x + b.w / 2.0 - side / 2.0, y: b.y + b.h / 2.0 - side / 2.0, w: side, h: side };
    let mut input = vec![0f32; 3 * 192 * 192];
    crop_resize(&to_planar(&img), img.width, img.height, crop, &mut input, 192, 192).unwrap();
    let mesh = zoo_model("face-mesh");
    let run = |input: &[f32]| {
        let shape = [1, 3, 192, 192];
        mesh.run_all(&[ModelInput { name: "input", shape: &shape, data: InputData::F32(input) }], None).expect("runs")
    };
    let out = run(&input);
    let (marks, score) = (&out[0], out[1].1[0]);
    assert_eq!(marks.0, [1, 468, 3]);
    assert!(score > 0.9, "face score {score}");
    // Points in the picture's pixels.
    let p = |k: usize| (crop.x + marks.1[3 * k] * side / 192.0, crop.y + marks.1[3 * k + 1] * side / 192.0);
    // MediaPipe's mesh: 13 / 14 the middle of the upper / lower inner lip, 61 / 291 the mouth
    // corners, 1 the nose tip.
    let lips = ((p(13).0 + p(14).0) / 2.0, (p(13).1 + p(14).1) / 2.0);
    println!("face score {score:.4}; lips {lips:?}, corners {:?} {:?}, nose {:?}", p(61), p(291), p(1));
    assert!(dist(lips, MOUTH) < NEAR, "lips at {lips:?}, by eye {MOUTH:?}");
    assert!(dist(p(61), MOUTH_CORNERS[0]) < NEAR && dist(p(291), MOUTH_CORNERS[1]) < NEAR, "mouth corners");
    assert!(dist(p(1), NOSE) < NEAR, "nose tip {:?}", p(1));
    // The same place on the cat: the model says it is no (human) face.
    let cat = photo("chelsea.png");
    let whole = FaceBox { x: 100.0, y: 50.0, w: 192.0, h: 192.0 };
    crop_resize(&to_planar(&cat), cat.width, cat.height, whole, &mut input, 192, 192).unwrap();
    let cat_score = run(&input)[1].1[0];
    println!("chelsea.png crop: face score {cat_score:.4}");
    assert!(cat_score < 0.5, "face score on a cat {cat_score}");
}

#[test]
fn silero_vad_hears_speech_and_not_silence() {
    let vad = zoo_model("silero-vad");
    let pcm = speech_from(0.0, 30.0);
    // As silero-vad's own wrapper runs it: 512 new samples after the last 64, state carried.
    let mut state = vec![0f32; 2 * 128];
    let mut chunk = vec![0f32; 64 + 512];
    let mut probs = Vec::new();
    for block in pcm.chunks_exact(512) {
        chunk.copy_within(512.., 0);
        chunk[64..].copy_from_slice(block);
        let sr = [16000i64];
        let inputs = [
            ModelInput { name: "input", shape: &[1, 576], data: InputData::F32(&chunk) },
            ModelInput { name: "state", shape: &[2, 1, 128], data: InputData::F32(&state) },
            ModelInput { name: "sr", shape: &[], data: InputData::I64(&sr) },
        ];
        let out = vad.run_all(&inputs, None).expect("runs");
        probs.push(out[0].1[0]);
        state.copy_from_slice(&out[1].1);
    }
    let mean = |from: f64, to: f64| {
        let (a, b) = ((from * 16000.0 / 512.0) as usize, (to * 16000.0 / 512.0) as usize);
        probs[a..b].iter().sum::<f32>() / (b - a) as f32
    };
    let (quiet, speech) = (mean(0.0, 2.0), mean(8.0, 14.0));
    println!("speech probability: 0-2 s (silent) {quiet:.3}, 8-14 s (speech) {speech:.3}");
    assert!(quiet < 0.1, "silence heard as speech: {quiet}");
    assert!(speech > 0.8, "speech not heard: {speech}");
}
