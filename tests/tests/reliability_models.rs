//! Reliability (issue 17): models that misbehave or are not what the element takes them for.
//!
//! - A model whose output holds NaN or Inf (tests/models/reliability/nan_*.onnx, made by
//!   models/make_reliability_models.py) gives no black picture: aiupscale gives the input
//!   bicubic-scaled, aistylize the input, aiinterpolate (mode=model) a blend of the two frames,
//!   ailipsync (Wav2Lip) the untouched face; one warning names the model and the share of bad
//!   values (rate-limited: not one per frame), `stats` counts the frames as `non-finite`, and
//!   `on-bad-output=error` stops the stream instead.
//! - A same-size model given to aiupscale is refused naming what it is, unless its manifest says
//!   `"scale": 1` (a restoration model, run at the frame's size, `scale` 1).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::prelude::*;
use gst_ai_kernels::Filter;
use gst_ai_tests::clip::Image;
use gst_ai_tests::frames::{buffer_image, frame_buffer};
use gst_ai_tests::lipsync::{self, Audio};
use gst_ai_tests::{Rng, RunResult, expect_error, init, on_video_sample, parse, run_pipeline, test_model};
use gst_video::{VideoFormat, VideoInfo};

fn model(name: &str) -> String {
    test_model(&format!("reliability/{name}")).to_str().expect("utf-8 path").to_string()
}

fn random_image(w: usize, h: usize, seed: u64) -> Image {
    let mut rng = Rng::new(seed);
    Image { width: w, height: h, rgb: (0..w * h * 3).map(|_| rng.byte(0, 255)).collect() }
}

/// Pushes RGB `frames` at `fps` through `tail` (ending before the sink) and returns the frames
/// that reached the sink with the run's messages.
fn run_rgb(frames: &[Image], fps: i32, tail: &str) -> (Vec<Image>, RunResult) {
    init();
    let info = VideoInfo::builder(VideoFormat::Rgb, frames[0].width as u32, frames[0].height as u32)
        .fps(gst::Fraction::new(fps, 1))
        .build()
        .expect("valid info");
    let pipeline = parse(&format!(
        "appsrc name=src format=time ! {tail} ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false"
    ));
    let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    src.set_caps(Some(&info.to_caps().unwrap()));
    src.set_max_bytes(0);
    let out = Arc::new(Mutex::new(Vec::new()));
    let o2 = out.clone();
    on_video_sample(&sink, move |info, b| {
        o2.lock().unwrap().push(buffer_image(info, b));
        Ok(())
    });
    for (i, f) in frames.iter().enumerate() {
        let mut b = frame_buffer(&info, f, i as u64 * 1000 / fps as u64);
        b.get_mut().unwrap().set_duration(gst::ClockTime::from_mseconds(1000 / fps as u64));
        src.push_buffer(b).unwrap();
    }
    src.end_of_stream().unwrap();
    let r = run_pipeline(&pipeline, Duration::from_secs(60));
    let frames = std::mem::take(&mut *out.lock().unwrap());
    (frames, r)
}

/// The stats structure `name` posted at EOS.
fn posted_stats<'a>(r: &'a RunResult, name: &'a str) -> &'a gst::Structure {
    let posted: Vec<_> = r.messages(name).collect();
    assert_eq!(posted.len(), 1, "one {name} at EOS: {:?}", r.element_messages);
    posted[0]
}

/// Exactly one warning (the rate limit holds the rest back) naming `model_file` and the share.
fn assert_one_warning(warnings: &[String], model_file: &str) {
    assert_eq!(warnings.len(), 1, "one warning for the run, not one per frame: {warnings:?}");
    let w = &warnings[0];
    assert!(w.contains(model_file) && w.contains("non-finite") && w.contains('%'), "{w}");
}

fn max_diff(a: &Image, b: &Image) -> u8 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    a.rgb.iter().zip(&b.rgb).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0)
}

#[test]
fn upscale_falls_back_to_bicubic_on_non_finite_output() {
    let frames: Vec<Image> = (0..3).map(|i| random_image(40, 24, 11 + i)).collect();
    let (out, r) = run_rgb(&frames, 25, &format!("aiupscale model={}", model("nan_x2.onnx")));
    assert!(r.errors.is_empty() && r.eos, "{r:?}");
    assert_eq!(out.len(), 3);
    for (o, i) in out.iter().zip(&frames) {
        // The picture a bicubic x2 gives (not a black one), within rounding.
        let want = i.resized(80, 48, Filter::Bicubic);
        assert!(max_diff(o, &want) <= 1, "off by {} from the input bicubic-scaled", max_diff(o, &want));
    }
    assert_one_warning(&r.warnings, "nan_x2.onnx");
    let stats = posted_stats(&r, "ai-upscale-stats");
    assert_eq!(stats.get::<u64>("non-finite").unwrap(), 3, "{stats}");
    assert_eq!(stats.get::<u64>("frames").unwrap(), 3, "{stats}");
}

#[test]
fn upscale_on_bad_output_error_stops_with_the_model_named() {
    let e = expect_error(&format!(
        "videotestsrc num-buffers=3 ! video/x-raw,width=32,height=24 ! aiupscale on-bad-output=error model={} ! fakesink",
        model("nan_x2.onnx")
    ));
    assert!(e.contains("nan_x2.onnx") && e.contains("non-finite") && e.contains('%'), "{e}");
}

#[test]
fn stylize_gives_the_input_on_non_finite_output() {
    let frames: Vec<Image> = (0..3).map(|i| random_image(48, 32, 21 + i)).collect();
    let (out, r) = run_rgb(&frames, 25, &format!("aistylize model={}", model("nan_style.onnx")));
    assert!(r.errors.is_empty() && r.eos, "{r:?}");
    assert_eq!(out.len(), 3);
    for (o, i) in out.iter().zip(&frames) {
        assert_eq!(max_diff(o, i), 0, "the input as it came");
    }
    assert_one_warning(&r.warnings, "nan_style.onnx");
    assert_eq!(posted_stats(&r, "ai-stylize-stats").get::<u64>("non-finite").unwrap(), 3);
    let e = expect_error(&format!(
        "videotestsrc num-buffers=2 ! video/x-raw,width=32,height=24 ! aistylize on-bad-output=error model={} ! fakesink",
        model("nan_style.onnx")
    ));
    assert!(e.contains("nan_style.onnx") && e.contains("non-finite"), "{e}");
}

#[test]
fn interpolate_blends_on_non_finite_model_output() {
    let (a, b) = (random_image(64, 48, 31), random_image(64, 48, 32));
    let frames = vec![a.clone(), b.clone(), a.clone()];
    let tail = format!(
        "aiinterpolate mode=model scene-threshold=1 model={} ! video/x-raw,framerate=2/1",
        model("nan_rife.onnx")
    );
    let (out, r) = run_rgb(&frames, 1, &tail);
    assert!(r.errors.is_empty() && r.eos, "{r:?}");
    assert!(out.len() >= 4, "{} frames out", out.len());
    // Frame 1 is half-way between a and b: their blend, not black.
    let blend = Image {
        width: a.width,
        height: a.height,
        rgb: a.rgb.iter().zip(&b.rgb).map(|(&x, &y)| (x as u16 + y as u16).div_ceil(2) as u8).collect(),
    };
    assert!(max_diff(&out[1], &blend) <= 1, "off by {} from the blend", max_diff(&out[1], &blend));
    assert_one_warning(&r.warnings, "nan_rife.onnx");
    let stats = posted_stats(&r, "ai-interpolate-stats");
    assert!(stats.get::<u64>("non-finite").unwrap() >= 2, "{stats}");
    let e = expect_error(&format!(
        "videotestsrc num-buffers=3 ! video/x-raw,width=64,height=48,framerate=1/1 ! aiinterpolate mode=model \
         scene-threshold=1 on-bad-output=error model={} ! video/x-raw,framerate=2/1 ! fakesink",
        model("nan_rife.onnx")
    ));
    assert!(e.contains("nan_rife.onnx") && e.contains("non-finite"), "{e}");
}

#[test]
fn lipsync_leaves_the_face_untouched_on_non_finite_output() {
    const FACE: [usize; 4] = [40, 16, 80, 96];
    let frames = vec![lipsync::face_image(160, 128, FACE); 8];
    let audio = Audio { samples: lipsync::speech(1.0, 16000, |_| 1.0), rate: 16000, channels: 1, start_ms: 0 };
    let props = format!(
        "face-box=\"<{}, {}, {}, {}>\" voice-activity=false model={}",
        FACE[0],
        FACE[1],
        FACE[2],
        FACE[3],
        model("nan_wav2lip.onnx")
    );
    let r = lipsync::run(&frames, 25, Some(&audio), &props, false);
    assert!(r.errors.is_empty() && r.eos, "{:?}", r.errors);
    assert_eq!(r.frames.len(), 8);
    for (o, i) in r.frames.iter().zip(&frames) {
        assert_eq!(max_diff(o, i), 0, "the face as it came");
    }
    assert_one_warning(&r.warnings, "nan_wav2lip.onnx");
    let stats = r.messages.iter().find(|m| m.name() == "ai-lipsync-stats").expect("stats at EOS");
    assert!(stats.get::<u64>("non-finite").unwrap() > 0, "{stats}");
    assert_eq!(stats.get::<u64>("animated").unwrap(), 0, "{stats}");
    let r = lipsync::run(&frames, 25, Some(&audio), &format!("{props} on-bad-output=error"), false);
    let e = r.errors.join(" | ");
    assert!(e.contains("nan_wav2lip.onnx") && e.contains("non-finite"), "{e}");
}

#[test]
fn upscale_refuses_a_same_size_model_naming_what_it_is() {
    let e = expect_error(&format!("videotestsrc num-buffers=2 ! aiupscale model={} ! fakesink", model("same_x1.onnx")));
    assert!(e.contains("super-resolution") && e.contains("same-size") && e.contains("aistylize"), "{e}");
    assert!(e.contains("scale") && e.contains("in its manifest"), "says how to run it as a restoration model: {e}");
}

#[test]
fn upscale_runs_a_restoration_model_whose_manifest_says_scale_1() {
    let frames = vec![random_image(32, 24, 41)];
    let (out, r) = run_rgb(&frames, 25, &format!("aiupscale name=up model={}", model("restore_x1.onnx")));
    assert!(r.errors.is_empty() && r.eos, "{r:?}");
    assert_eq!(out.len(), 1);
    assert_eq!(max_diff(&out[0], &frames[0]), 0, "an identity model at the frame's size");
    let up = gst::ElementFactory::make("aiupscale").property("model", model("restore_x1.onnx")).build().unwrap();
    up.set_state(gst::State::Paused).ok();
    let _ = up.state(gst::ClockTime::from_seconds(10));
    let scale: u32 = up.property("scale");
    up.set_state(gst::State::Null).unwrap();
    assert_eq!(scale, 1);
}
