//! `ailipsync`: audio matched to video by running time (click trains), silence and missing audio
//! leave frames unchanged, streams of different lengths and EOS on either pad, the built-in
//! animation's loudness tracking, the Wav2Lip path against PyTorch, face detection, and errors.

use gst_ai_tests::clip::Image;
use gst_ai_tests::lipsync::{self, Audio, Face};
use gst_ai_tests::{expect_error, read_f32, test_model};

const W: usize = 160;
const H: usize = 128;
const FACE: Face = [40, 16, 80, 96];
const FPS: i32 = 25;

/// The fixed face box, and no voice-activity gate: these tests' sounds (harmonic "vowels",
/// clicks, ticks, sines) are synthetic, not speech (the gate is tested in voice_activity.rs).
fn face_box() -> String {
    format!("face-box=\"<{}, {}, {}, {}>\" {NO_VAD}", FACE[0], FACE[1], FACE[2], FACE[3])
}

const NO_VAD: &str = "voice-activity=false";

fn clip(n: usize) -> Vec<Image> {
    vec![lipsync::face_image(W, H, FACE); n]
}

fn openings(frames: &[Image], base: &Image) -> Vec<f64> {
    let closed = lipsync::mouth_opening(base, FACE);
    frames.iter().map(|f| lipsync::mouth_opening(f, FACE) - closed).collect()
}

fn assert_clean(r: &lipsync::LipRun, frames: usize) {
    assert!(r.errors.is_empty(), "errors: {:?}", r.errors);
    assert!(r.eos, "no EOS");
    assert_eq!(r.frames.len(), frames, "every video frame comes out once");
}

#[test]
fn clicks_open_the_mouth_at_their_frames() {
    // Clicks 10 ms into frames 10, 30 and 50; audio at 44.1 kHz stereo S16, converted inside.
    let clicks = [10, 30, 50];
    let times: Vec<f64> = clicks.iter().map(|&i| i as f64 / FPS as f64 + 0.01).collect();
    let audio = Audio { samples: lipsync::click_train(2.6, 44100, &times), rate: 44100, channels: 2, start_ms: 0 };
    let frames = clip(64);
    let r = lipsync::run(&frames, FPS, Some(&audio), &face_box(), true);
    assert_clean(&r, 64);
    let open = openings(&r.frames, &frames[0]);
    for &c in &clicks {
        let window = c - 6..c + 7;
        let peak = window.clone().max_by(|&a, &b| open[a].total_cmp(&open[b])).unwrap();
        assert!(open[peak] > 20.0, "click at frame {c}: the mouth opens ({:?})", &open[window.clone()]);
        assert!(peak.abs_diff(c) <= 1, "click at frame {c}: peak at frame {peak} ({:?})", &open[window]);
    }
    for i in (0..7).chain(16..25) {
        assert!(r.frames[i].rgb == frames[i].rgb, "frame {i}, far from any click, is unchanged");
    }
}

#[test]
fn silence_and_no_audio_leave_frames_unchanged() {
    let frames = clip(20);
    let silence = Audio { samples: vec![0.0; 16000], rate: 48000, channels: 1, start_ms: 0 };
    let r = lipsync::run(&frames, FPS, Some(&silence), &face_box(), false);
    assert_clean(&r, 20);
    for (i, f) in r.frames.iter().enumerate() {
        assert!(f.rgb == frames[i].rgb, "frame {i} with silence");
    }
    let r = lipsync::run(&frames, FPS, None, &face_box(), false);
    assert_clean(&r, 20);
    assert!(r.frames.iter().zip(&frames).all(|(a, b)| a.rgb == b.rgb), "no audio pad: unchanged");
}

#[test]
fn loudness_drives_the_mouth_opening() {
    // Syllables at ~4 Hz with varying loudness; 16 kHz mono F32.
    let env = |t: f64| {
        let syll = (std::f64::consts::PI * 4.0 * t).sin().abs().powf(1.5);
        syll * (0.55 + 0.45 * (2.0 * std::f64::consts::PI * 0.37 * t).sin())
    };
    let samples = lipsync::speech(4.0, 16000, env);
    let n = 96;
    let rms = lipsync::frame_rms(&samples, 16000, FPS as u32, n);
    let audio = Audio { samples, rate: 16000, channels: 1, start_ms: 0 };
    let frames = clip(n);
    let r = lipsync::run(&frames, FPS, Some(&audio), &face_box(), false);
    assert_clean(&r, n);
    let open = openings(&r.frames, &frames[0]);
    let corr = lipsync::correlation(&rms, &open);
    println!("correlation(audio RMS, mouth opening) = {corr:.3}");
    assert!(corr > 0.8, "the opening follows the loudness: r = {corr:.3}");
}

#[test]
fn streams_of_different_lengths_and_eos_on_either_pad() {
    // Audio ends after 1 s of a 2 s video: the frames after it pass unchanged.
    let frames = clip(50);
    let loud = |s: f64| Audio { samples: lipsync::speech(s, 16000, |_| 1.0), rate: 16000, channels: 1, start_ms: 0 };
    let r = lipsync::run(&frames, FPS, Some(&loud(1.0)), &face_box(), false);
    assert_clean(&r, 50);
    let open = openings(&r.frames, &frames[0]);
    assert!(open[5..20].iter().all(|&o| o > 20.0), "open while there is audio: {:?}", &open[..25]);
    for (i, (out, orig)) in r.frames.iter().zip(&frames).enumerate().skip(30) {
        assert!(out.rgb == orig.rgb, "frame {i}, after the audio ended, is unchanged");
    }
    // Audio of 3 s with a 1 s video: EOS after the last video frame.
    let r = lipsync::run(&clip(25), FPS, Some(&loud(3.0)), &face_box(), false);
    assert_clean(&r, 25);
    // Audio that starts at 1 s: the frames before it are unchanged.
    let late = Audio { start_ms: 1000, ..loud(1.0) };
    let r = lipsync::run(&frames, FPS, Some(&late), &face_box(), false);
    assert_clean(&r, 50);
    let open = openings(&r.frames, &frames[0]);
    assert!(r.frames[..25].iter().zip(&frames).all(|(a, b)| a.rgb == b.rgb), "before the audio");
    assert!(open[27..40].iter().all(|&o| o > 20.0), "after it starts: {:?}", &open[25..45]);
}

#[test]
fn wav2lip_matches_pytorch_through_crop_model_and_paste() {
    use gst_ai_kernels::FaceBox;
    use gst_ai_runtime::tasks::lipsync::Wav2Lip;
    use gst_ai_runtime::{Device, ModelSource, Precision, load};
    gst_ai_tests::init();
    let dir = test_model("lipsync");
    let model = load(&ModelSource::File(dir.join("wav2lip_tiny96.onnx")), Device::Cpu, Precision::Auto).unwrap();
    let mut w2l = Wav2Lip::new(&model).unwrap();
    assert_eq!(w2l.contract.size, 96);
    let frame = std::fs::read(dir.join("w2l_frame.u8")).unwrap();
    let (w, h) = (160, 128);
    let mut image = vec![0f32; 3 * w * h];
    for i in 0..w * h {
        for c in 0..3 {
            image[c * w * h + i] = frame[i * 3 + c] as f32 / 255.0;
        }
    }
    let before = image.clone();
    let mel = read_f32(&dir.join("w2l_mel.f32"));
    let golden = read_f32(&dir.join("w2l_out.f32")); // 1x3x96x96 BGR
    let face = FaceBox { x: 40.0, y: 16.0, w: 96.0, h: 96.0 };
    w2l.apply(&model, &mut image, w, h, face, &mel, 0.0, None).unwrap();
    let mut worst = 0f32;
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let got = image[c * w * h + y * w + x];
                let inside = (40..136).contains(&x) && (16..112).contains(&y);
                let want = if inside {
                    golden[(2 - c) * 96 * 96 + (y - 16) * 96 + (x - 40)]
                } else {
                    before[c * w * h + y * w + x]
                };
                worst = worst.max((got - want).abs());
            }
        }
    }
    println!("Wav2Lip path vs PyTorch: max abs difference {worst:.2e}");
    assert!(worst < 1e-4, "max abs difference {worst}");
}

#[test]
fn a_wav2lip_model_changes_only_the_face_box() {
    let frames = clip(12);
    let audio = Audio { samples: lipsync::speech(1.0, 16000, |_| 1.0), rate: 16000, channels: 1, start_ms: 0 };
    let model = test_model("lipsync/wav2lip_tiny96.onnx");
    let props = format!("{} model={} feather=0.1", face_box(), model.display());
    let r = lipsync::run(&frames, FPS, Some(&audio), &props, false);
    assert_clean(&r, 12);
    let [fx, fy, fw, fh] = FACE;
    for (f, orig) in r.frames.iter().zip(&frames) {
        let mut changed_inside = 0;
        for y in 0..H {
            for x in 0..W {
                let i = (y * W + x) * 3;
                let differs = f.rgb[i..i + 3] != orig.rgb[i..i + 3];
                let inside = (fx..fx + fw).contains(&x) && (fy..fy + fh).contains(&y);
                assert!(inside || !differs, "pixel ({x}, {y}) outside the face box changed");
                changed_inside += usize::from(differs);
            }
        }
        assert!(changed_inside > fw * fh / 2, "the model's face is pasted ({changed_inside} pixels changed)");
    }
    // The stats, posted at EOS, count every frame as animated.
    let posted: Vec<_> = r.messages.iter().filter(|m| m.name() == "ai-lipsync-stats").collect();
    assert_eq!(posted.len(), 1, "{:?}", r.messages);
    assert_eq!(posted[0].get::<u64>("frames").unwrap(), 12, "{}", posted[0]);
    assert_eq!(posted[0].get::<u64>("animated").unwrap(), 12, "{}", posted[0]);
    assert!(posted[0].get::<f64>("mean-ms").unwrap() > 0.0, "{}", posted[0]);
}

#[test]
fn a_face_detector_places_the_mouth() {
    // The fixture detector "finds" the brightest 40x40 cell of its 320x240 input, boxed with
    // half a cell around it: here the face drawn at (160, 80) in a 320x240 frame.
    let (w, h) = (320, 240);
    let face: Face = [160, 80, 40, 40];
    let mut img = lipsync::face_image(w, h, face);
    for p in img.rgb.chunks_mut(3) {
        if p[1] == 100 {
            // The background (the only green 100) goes black, so the face is the bright cell.
            p.copy_from_slice(&[0, 0, 0]);
        }
    }
    let frames = vec![img; 10];
    let audio = Audio { samples: lipsync::speech(1.0, 16000, |_| 1.0), rate: 16000, channels: 1, start_ms: 0 };
    let det = test_model("lipsync/facedet_ultraface_layout.onnx");
    let props = format!("face-model={} face-padding=\"<0, 0, 0, 0>\" {NO_VAD}", det.display());
    let r = lipsync::run(&frames, FPS, Some(&audio), &props, false);
    assert_clean(&r, 10);
    // The detected box is (140, 60, 80, 80): the mouth warp stays inside it.
    let mut changed = 0;
    for y in 0..h {
        for x in 0..w {
            let i = (y * w + x) * 3;
            if r.frames[5].rgb[i..i + 3] != frames[5].rgb[i..i + 3] {
                assert!((140..220).contains(&x) && (60..140).contains(&y), "({x}, {y}) changed");
                changed += 1;
            }
        }
    }
    assert!(changed > 20, "the mouth moved ({changed} pixels)");
}

#[test]
fn bad_settings_and_models_are_errors_on_the_bus() {
    let src = "videotestsrc num-buffers=5 ! video/x-raw,width=160,height=128 ! ailipsync";
    if gst_ai_runtime::backend::zoo::resolve("retinaface").is_ok() {
        // Neither face-box nor face-model: the zoo's RetinaFace finds faces (none in a test
        // pattern: frames pass unchanged).
        let r = gst_ai_tests::run_pipeline(
            &gst_ai_tests::parse(&format!("{src} ! fakesink")),
            std::time::Duration::from_secs(60),
        );
        assert!(r.errors.is_empty(), "no face settings, with the zoo: {:?}", r.errors);
    } else {
        let e = expect_error(&format!("{src} ! fakesink"));
        assert!(e.contains("needs a face") && e.contains("face-box") && e.contains("make setup"), "{e}");
    }
    let e = expect_error(&format!("{src} {} model=/nonexistent/w2l.onnx ! fakesink", face_box()));
    assert!(e.contains("/nonexistent/w2l.onnx"), "{e}");
    let sr = test_model("nearest_x2.onnx");
    let e = expect_error(&format!("{src} {} model={} ! fakesink", face_box(), sr.display()));
    assert!(e.contains("Wav2Lip"), "{e}");
    let w2l = test_model("lipsync/wav2lip_tiny96.onnx");
    let e = expect_error(&format!("{src} face-model={} ! fakesink", w2l.display()));
    assert!(e.contains("UltraFace"), "{e}");
}

#[test]
fn live_sources_run_with_the_audio_latency_reported() {
    use gst::prelude::*;
    gst_ai_tests::init();
    let desc = format!(
        "videotestsrc is-live=true num-buffers=25 ! video/x-raw,width=160,height=128,framerate=25/1 \
         ! ailipsync name=l {} ! fakesink sync=true \
         audiotestsrc is-live=true wave=ticks num-buffers=60 ! audio/x-raw,rate=48000,channels=2 ! l.audio",
        face_box()
    );
    let pipeline = gst_ai_tests::parse(&desc);
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let timeout = gst::ClockTime::from_seconds(20);
    let msg = bus.timed_pop_filtered(timeout, &[gst::MessageType::AsyncDone, gst::MessageType::Error]);
    assert!(matches!(msg.as_ref().map(|m| m.view()), Some(gst::MessageView::AsyncDone(_))), "{msg:?}");
    let mut q = gst::query::Latency::new();
    assert!(pipeline.query(&mut q), "latency query answered");
    let (live, min, _max) = q.result();
    assert!(live, "a live pipeline");
    assert!(min >= gst::ClockTime::from_mseconds(212), "the 212.5 ms of audio each frame waits for: {min}");
    let msg = bus.timed_pop_filtered(timeout, &[gst::MessageType::Eos, gst::MessageType::Error]);
    assert!(matches!(msg.as_ref().map(|m| m.view()), Some(gst::MessageView::Eos(_))), "{msg:?}");
    let stats = pipeline.by_name("l").unwrap().property::<gst::Structure>("stats");
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(stats.get::<u64>("frames").unwrap(), 25, "{stats}");
    assert!(stats.get::<u64>("animated").unwrap() > 0, "the ticks move the mouth: {stats}");
}

/// Live frames wait for their audio (up to the latency the element reports) instead of passing
/// without it: with a live source for each pad and the audio outlasting the video, every frame
/// but the first few is animated, also into a sink that does not sync (an encoder and filesink,
/// gst-launch's fakesink), which does not hold the element back to the clock. (Before the output
/// segment's position followed the frames, the aggregator's deadline for every frame after the
/// first lay in the past: into such a sink, all passed unanimated.)
#[test]
fn live_frames_wait_for_their_audio() {
    use gst::prelude::*;
    gst_ai_tests::init();
    let desc = format!(
        "videotestsrc is-live=true num-buffers=25 ! video/x-raw,width=160,height=128,framerate=25/1 \
         ! ailipsync name=l voice-activity=false {} ! fakesink sync=false \
         audiotestsrc is-live=true wave=sine volume=0.5 samplesperbuffer=480 num-buffers=200 \
         ! audio/x-raw,rate=48000,channels=2 ! l.audio",
        face_box()
    );
    let pipeline = gst_ai_tests::parse(&desc);
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg =
        bus.timed_pop_filtered(gst::ClockTime::from_seconds(20), &[gst::MessageType::Eos, gst::MessageType::Error]);
    let stats = pipeline.by_name("l").unwrap().property::<gst::Structure>("stats");
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(matches!(msg.as_ref().map(|m| m.view()), Some(gst::MessageView::Eos(_))), "{msg:?}");
    assert_eq!(stats.get::<u64>("frames").unwrap(), 25, "{stats}");
    let animated = stats.get::<u64>("animated").unwrap();
    assert!(animated >= 22, "a loud tone under every frame: {animated} of 25 animated ({stats})");
}

/// Control paths do not wait for the model: with a Wav2Lip model that takes seconds per run, a caps
/// and a latency query on the source pad, property reads (`stats` included) and a property write
/// made while the first frame is being animated all return before that frame comes out.
#[test]
fn control_paths_answer_while_a_frame_is_animated() {
    use gst::prelude::*;
    use gst_ai_tests::control::{Check, caps_query, latency_query, read_property, run_checks, slow_model, stats_field};
    let model = slow_model("wav2lip_slow.onnx");
    let desc = format!(
        "videotestsrc num-buffers=1 ! video/x-raw,format=RGB,width={W},height={H},framerate={FPS}/1 \
         ! ailipsync name=el {} model={} ! fakesink \
         audiotestsrc wave=sine num-buffers=20 ! audio/x-raw,rate=16000,channels=1 ! el.audio",
        face_box(),
        model.display()
    );
    let write: Check = ("feather write", Box::new(|el: &gst::Element| el.set_property("feather", 0.2f64)));
    // Read last: a call before it that had waited for the run would leave the frame counted.
    let frames = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
    let log = run_checks(
        &desc,
        "video",
        vec![
            caps_query(),
            latency_query(),
            read_property("stats"),
            read_property("face-box"),
            write,
            stats_field("frames", frames.clone()),
        ],
        std::time::Duration::from_millis(300),
        std::time::Duration::from_secs(60),
    );
    println!("{:?}", log.0);
    log.assert_answered_while_busy(&[
        "caps query",
        "latency query",
        "stats",
        "face-box",
        "feather write",
        "stats read",
    ]);
    assert_eq!(frames.load(std::sync::atomic::Ordering::SeqCst), 0, "the calls waited for the run: {log:?}");
    assert_eq!(log.0.last().map(String::as_str), Some("eos"), "{log:?}");
}

/// A state change to NULL while the slow Wav2Lip model runs stops the run instead of waiting for
/// it: when `set_state` returns, the frame has not been counted (a waited-for run would have
/// been).
#[test]
fn stopping_cancels_a_run_in_flight() {
    use gst::prelude::*;
    use gst_ai_tests::control::slow_model;
    gst_ai_tests::init();
    let p = gst_ai_tests::parse(&format!(
        "videotestsrc num-buffers=1 ! video/x-raw,format=RGB,width={W},height={H},framerate={FPS}/1 \
         ! ailipsync name=el {} model={} ! fakesink \
         audiotestsrc wave=sine num-buffers=20 ! audio/x-raw,rate=16000,channels=1 ! el.audio",
        face_box(),
        slow_model("wav2lip_slow.onnx").display()
    ));
    let el = p.by_name("el").unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let tx = std::sync::Mutex::new(Some(tx));
    el.static_pad("video").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(());
        }
        gst::PadProbeReturn::Ok
    });
    p.set_state(gst::State::Playing).unwrap();
    rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the frame entered ailipsync");
    // The aggregate thread takes it when its audio has come: well within this wait, far from the
    // end of a run of seconds.
    std::thread::sleep(std::time::Duration::from_millis(500));
    p.set_state(gst::State::Null).unwrap();
    let stats = el.property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("frames").unwrap(), 0, "the run was waited for: {stats}");
}
