//! aiupscale, end to end: every pixel format through generated models with exactly known output
//! (nearest-neighbour x2/x3/x4 in NCHW, NHWC, float16, a fixed 64x64 input size, BGR -1..1 by
//! manifest), tiling equal to whole-frame runs, odd sizes, caps negotiation both ways and
//! renegotiation, timestamps/flags/metas, the built-in model in a real encode/decode pipeline,
//! and the errors a user can cause.

use std::time::Duration;

use gst::prelude::*;
use gst_ai_tests::frames::{nearest_diff, random_frame};
use gst_ai_tests::{Rng, expect_error, init, parse, run_pipeline, test_model};
use gst_check::Harness;
use gst_video::{VideoFormat, VideoInfo};

const ALL_FORMATS: [VideoFormat; 9] = [
    VideoFormat::Rgb,
    VideoFormat::Bgr,
    VideoFormat::Rgba,
    VideoFormat::Bgra,
    VideoFormat::Rgbx,
    VideoFormat::Bgrx,
    VideoFormat::I420,
    VideoFormat::Nv12,
    VideoFormat::Gray8,
];

fn harness(props: &[(&str, &dyn ToValue)]) -> Harness {
    init();
    let mut b = gst::ElementFactory::make("aiupscale");
    for (k, v) in props {
        b = b.property(k, v.to_value());
    }
    let element = b.build().expect("aiupscale exists");
    Harness::with_element(&element, Some("sink"), Some("src"))
}

fn model(name: &str) -> String {
    test_model(name).to_str().expect("utf-8 path").to_string()
}

fn info(format: VideoFormat, w: u32, h: u32) -> VideoInfo {
    init();
    VideoInfo::builder(format, w, h).fps(gst::Fraction::new(25, 1)).build().expect("valid info")
}

/// Pushes one random frame through `h` and returns (input, output, output info).
fn push_one(h: &mut Harness, in_info: &VideoInfo, seed: u64) -> (gst::Buffer, gst::Buffer, VideoInfo) {
    h.set_src_caps(in_info.to_caps().expect("caps"));
    let input = random_frame(in_info, &mut Rng::new(seed));
    h.push(input.clone()).expect("push accepted");
    let out = h.pull().expect("an output buffer");
    let caps = h.sinkpad().expect("harness sink pad").current_caps().expect("output caps set");
    (input, out, VideoInfo::from_caps(&caps).expect("video caps"))
}

/// Worst per-channel difference allowed against the exact nearest-neighbour result: RGB and gray
/// survive unchanged; YUV goes through RGB floats and back, so rounding may move a value by 1-2.
fn tolerance(f: VideoFormat) -> u8 {
    if matches!(f, VideoFormat::I420 | VideoFormat::Nv12) { 2 } else { 0 }
}

fn check_model_all_formats(model_file: &str, k: usize, w: u32, h: u32, extra: &[(&str, &dyn ToValue)]) {
    for format in ALL_FORMATS {
        let m = model(model_file);
        let mut props: Vec<(&str, &dyn ToValue)> = vec![("model", &m)];
        props.extend_from_slice(extra);
        let mut hs = harness(&props);
        let in_info = info(format, w, h);
        let (inp, out, out_info) = push_one(&mut hs, &in_info, 7 + k as u64);
        let (d, at) = nearest_diff(&inp, &in_info, &out, &out_info, k);
        assert!(d <= tolerance(format), "{model_file} {format:?} {w}x{h}: off by {d} at {at}");
    }
}

#[test]
fn nearest_x2_every_format_odd_size() {
    check_model_all_formats("nearest_x2.onnx", 2, 17, 11, &[]);
}

#[test]
fn nearest_x2_every_format_even_size() {
    check_model_all_formats("nearest_x2.onnx", 2, 32, 18, &[]);
}

#[test]
fn nhwc_model() {
    check_model_all_formats("nearest_x2_nhwc.onnx", 2, 19, 13, &[]);
}

#[test]
fn float16_model() {
    // f16 holds every k/255 exactly enough that rounding back gives the same byte.
    check_model_all_formats("nearest_x2_f16.onnx", 2, 21, 9, &[]);
}

#[test]
fn scale_3_and_4() {
    check_model_all_formats("nearest_x3.onnx", 3, 13, 7, &[]);
    check_model_all_formats("nearest_x4.onnx", 4, 9, 5, &[]);
}

#[test]
fn manifest_bgr_signed_range() {
    check_model_all_formats("nearest_x2_bgr_signed.onnx", 2, 15, 10, &[]);
}

#[test]
fn fixed_input_size_model_is_tiled_and_padded() {
    // 100x70 needs 2x2 tiles of 64x64; 40x30 is smaller than the model's input and is padded.
    check_model_all_formats("nearest_x2_static64.onnx", 2, 100, 70, &[]);
    check_model_all_formats("nearest_x2_static64.onnx", 2, 40, 30, &[]);
}

#[test]
fn tiled_equals_whole_frame_for_pointwise_model() {
    let (ts, ov) = (8u32, 2u32);
    check_model_all_formats("nearest_x2.onnx", 2, 37, 23, &[("tile-size", &ts), ("tile-overlap", &ov)]);
}

#[test]
fn tiled_close_to_whole_frame_for_conv_model() {
    // A real SRVGG-style conv net (receptive field 4 input pixels) tiled with an overlap of 8:
    // every tile is given 8 pixels of context, so its pixels are computed as in the whole frame
    // (up to float summation order) and the picture is the same.
    let m = model("srvgg_x2_tiny.onnx");
    let in_info = info(VideoFormat::Rgb, 61, 45);
    let mut whole = harness(&[("model", &m)]);
    let (_, a, out_info) = push_one(&mut whole, &in_info, 3);
    let (ts, ov) = (24u32, 8u32);
    let mut tiled = harness(&[("model", &m), ("tile-size", &ts), ("tile-overlap", &ov)]);
    let (_, b, _) = push_one(&mut tiled, &in_info, 3);
    let ma = a.map_readable().unwrap();
    let mb = b.map_readable().unwrap();
    assert_eq!(ma.len(), out_info.size());
    // Compare pixels only: the bytes that pad each row to its stride are not part of the picture.
    let stride = out_info.stride()[0] as usize;
    let row = out_info.width() as usize * 3;
    let mut diffs = Vec::new();
    for y in 0..out_info.height() as usize {
        diffs.extend(
            ma[y * stride..y * stride + row].iter().zip(&mb[y * stride..y * stride + row]).map(|(x, y)| x.abs_diff(*y)),
        );
    }
    let max = *diffs.iter().max().unwrap();
    let mean = diffs.iter().map(|&d| d as f64).sum::<f64>() / diffs.len() as f64;
    assert!(max <= 1 && mean < 0.01, "tiled vs whole: max {max}, mean {mean:.4}");
    // And it must not be trivially equal because nothing ran: the output is not the input.
    assert!(ma.iter().any(|&v| v != ma[0]));
}

#[test]
fn tile_params_change_while_playing() {
    let m = model("nearest_x2.onnx");
    let mut h = harness(&[("model", &m)]);
    let in_info = info(VideoFormat::Rgb, 33, 21);
    let (inp, out, out_info) = push_one(&mut h, &in_info, 11);
    assert_eq!(nearest_diff(&inp, &in_info, &out, &out_info, 2).0, 0);
    h.element().unwrap().set_property("tile-size", 10u32);
    h.element().unwrap().set_property("tile-overlap", 3u32);
    let input = random_frame(&in_info, &mut Rng::new(12));
    h.push(input.clone()).unwrap();
    let out = h.pull().unwrap();
    assert_eq!(nearest_diff(&input, &in_info, &out, &out_info, 2).0, 0);
}

#[test]
fn renegotiation_mid_stream() {
    let m = model("nearest_x2.onnx");
    let mut h = harness(&[("model", &m)]);
    for (i, (f, w, hh)) in
        [(VideoFormat::Rgb, 16, 8), (VideoFormat::I420, 25, 15), (VideoFormat::Bgrx, 8, 6)].into_iter().enumerate()
    {
        let in_info = info(f, w, hh);
        let (inp, out, out_info) = push_one(&mut h, &in_info, i as u64);
        assert_eq!((out_info.width(), out_info.height()), (2 * w, 2 * hh));
        let (d, at) = nearest_diff(&inp, &in_info, &out, &out_info, 2);
        assert!(d <= tolerance(f), "{f:?}: off by {d} at {at}");
    }
}

#[test]
fn timestamps_flags_and_metas_are_kept() {
    let m = model("nearest_x2.onnx");
    let mut h = harness(&[("model", &m)]);
    let in_info = info(VideoFormat::Rgb, 8, 8);
    h.set_src_caps(in_info.to_caps().unwrap());
    let mut input = random_frame(&in_info, &mut Rng::new(5));
    {
        let b = input.get_mut().unwrap();
        b.set_pts(gst::ClockTime::from_mseconds(1234));
        b.set_dts(gst::ClockTime::from_mseconds(1200));
        b.set_duration(gst::ClockTime::from_mseconds(40));
        b.set_offset(17);
        b.set_flags(gst::BufferFlags::DISCONT | gst::BufferFlags::DELTA_UNIT);
        let caps = gst::Caps::builder("timestamp/x-test").build();
        gst::ReferenceTimestampMeta::add(b, &caps, gst::ClockTime::from_seconds(99), None);
    }
    h.push(input).unwrap();
    let out = h.pull().unwrap();
    assert_eq!(out.pts(), Some(gst::ClockTime::from_mseconds(1234)));
    assert_eq!(out.dts(), Some(gst::ClockTime::from_mseconds(1200)));
    assert_eq!(out.duration(), Some(gst::ClockTime::from_mseconds(40)));
    assert_eq!(out.offset(), 17);
    assert!(out.flags().contains(gst::BufferFlags::DISCONT | gst::BufferFlags::DELTA_UNIT));
    let meta = out.meta::<gst::ReferenceTimestampMeta>().expect("reference timestamp meta kept");
    assert_eq!(meta.timestamp(), gst::ClockTime::from_seconds(99));
}

#[test]
fn scale_property_reports_the_model() {
    init();
    for (file, k) in [("nearest_x2.onnx", 2u32), ("nearest_x3.onnx", 3), ("nearest_x4.onnx", 4)] {
        let e = gst::ElementFactory::make("aiupscale").property("model", model(file)).build().unwrap();
        assert_eq!(e.property::<u32>("scale"), 0, "unknown before the model is loaded");
        e.set_state(gst::State::Paused).unwrap();
        assert_eq!(e.property::<u32>("scale"), k, "{file}");
        e.set_state(gst::State::Null).unwrap();
    }
    let e = gst::ElementFactory::make("aiupscale").property("model", "builtin:sr_x4").build().unwrap();
    e.set_state(gst::State::Paused).unwrap();
    assert_eq!(e.property::<u32>("scale"), 4, "the built-in x4");
    e.set_state(gst::State::Null).unwrap();
}

#[test]
fn error_unknown_builtin_model() {
    let e = expect_error("videotestsrc num-buffers=2 ! aiupscale model=builtin:sr_x9 ! fakesink");
    assert!(e.contains("builtin:sr_x9") && e.contains("builtin:sr_x2, builtin:sr_x4"), "{e}");
}

fn caps_of(sink: &gst::Element) -> (i32, i32) {
    let caps = sink.static_pad("sink").unwrap().current_caps().expect("negotiated");
    let s = caps.structure(0).unwrap();
    (s.get("width").unwrap(), s.get("height").unwrap())
}

#[test]
fn caps_downstream_and_upstream() {
    init();
    let m = model("nearest_x2.onnx");
    // Downstream: input size fixed, output follows.
    let p = parse(&format!(
        "videotestsrc num-buffers=3 ! video/x-raw,format=RGB,width=64,height=48 ! aiupscale model={m} ! fakesink name=sink"
    ));
    let sink = p.by_name("sink").unwrap();
    p.set_state(gst::State::Paused).unwrap();
    let _ = p.state(gst::ClockTime::from_seconds(10));
    assert_eq!(caps_of(&sink), (128, 96));
    p.set_state(gst::State::Null).unwrap();
    // An output size that is not a multiple of the scale cannot be produced: not-negotiated.
    let p = parse(&format!(
        "videotestsrc num-buffers=3 ! aiupscale model={m} ! video/x-raw,width=321,height=180 ! fakesink"
    ));
    let r = run_pipeline(&p, Duration::from_secs(30));
    assert!(!r.errors.is_empty(), "321 wide cannot come from a x2 model: {r:?}");
    assert!(r.errors[0].contains("not-negotiated") || r.errors[0].to_lowercase().contains("negotiat"), "{r:?}");
}

#[test]
fn upstream_size_is_derived_from_downstream_caps() {
    init();
    let m = model("nearest_x3.onnx");
    let p = parse(&format!(
        "videotestsrc num-buffers=2 ! identity name=before ! aiupscale model={m} ! video/x-raw,width=96,height=60 ! fakesink"
    ));
    let before = p.by_name("before").unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen2 = seen.clone();
    before.static_pad("src").unwrap().add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        if let Some(gst::PadProbeData::Event(ev)) = &info.data
            && let gst::EventView::Caps(c) = ev.view()
        {
            let s = c.caps().structure(0).unwrap();
            *seen2.lock().unwrap() = Some((s.get::<i32>("width").unwrap(), s.get::<i32>("height").unwrap()));
        }
        gst::PadProbeReturn::Ok
    });
    let r = run_pipeline(&p, Duration::from_secs(30));
    assert!(r.errors.is_empty() && r.eos, "{r:?}");
    assert_eq!(*seen.lock().unwrap(), Some((32, 20)));
}

/// Runs `desc` and returns the first error message, asserting that the pipeline reported one
/// (and did not hang or crash).
#[test]
fn error_missing_model_file() {
    let e = expect_error("videotestsrc num-buffers=2 ! aiupscale model=/nonexistent/sr.onnx ! fakesink");
    assert!(e.contains("/nonexistent/sr.onnx") && e.contains("does not exist"), "{e}");
}

#[test]
fn error_corrupt_model_file() {
    let dir = std::env::temp_dir().join(format!("gst-ai-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("corrupt.onnx");
    let mut bytes = std::fs::read(test_model("nearest_x2.onnx")).unwrap();
    bytes.truncate(bytes.len() / 2);
    bytes.extend_from_slice(b"\xff\xfe garbage");
    std::fs::write(&bad, &bytes).unwrap();
    let e = expect_error(&format!("videotestsrc num-buffers=2 ! aiupscale model={} ! fakesink", bad.display()));
    assert!(e.contains("could not load model") && e.contains("corrupt.onnx"), "{e}");
}

#[test]
fn error_one_channel_model() {
    let e = expect_error(&format!("videotestsrc num-buffers=2 ! aiupscale model={} ! fakesink", model("gray_x2.onnx")));
    assert!(e.contains("channels") && e.contains("expected 3") && e.contains("found 1"), "{e}");
}

#[test]
fn error_output_not_a_multiple() {
    let e = expect_error(&format!(
        "videotestsrc num-buffers=2 ! aiupscale model={} ! fakesink",
        model("not_multiple.onnx")
    ));
    assert!(e.contains("integer multiple") && e.contains("1.500"), "{e}");
}

#[test]
fn error_two_inputs() {
    let e =
        expect_error(&format!("videotestsrc num-buffers=2 ! aiupscale model={} ! fakesink", model("two_inputs.onnx")));
    assert!(e.contains("number of inputs") && e.contains("expected 1"), "{e}");
}

#[test]
fn error_cuda_not_available_and_bad_device() {
    let e = expect_error("videotestsrc num-buffers=2 ! aiupscale device=cuda ! fakesink");
    assert!(e.contains("cuda") && e.contains("not available"), "{e}");
    let e = expect_error("videotestsrc num-buffers=2 ! aiupscale device=quantum ! fakesink");
    assert!(e.contains("invalid device 'quantum'"), "{e}");
    let e = expect_error("videotestsrc num-buffers=2 ! aiupscale precision=fp16 ! fakesink");
    assert!(e.contains("fp16") && e.contains("CUDA"), "{e}");
}

#[test]
fn builtin_model_encode_and_decode_back() {
    init();
    let dir = std::env::temp_dir().join(format!("gst-ai-enc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("up.mp4");
    let p = parse(&format!(
        "videotestsrc num-buffers=12 pattern=smpte ! video/x-raw,width=160,height=90,framerate=12/1 ! aiupscale name=up \
         ! videoconvert ! x264enc speed-preset=ultrafast ! mp4mux ! filesink location={}",
        file.display()
    ));
    let r = run_pipeline(&p, Duration::from_secs(120));
    assert!(r.errors.is_empty() && r.eos, "{r:?}");
    let stats = p.by_name("up").unwrap().property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("frames").unwrap(), 12, "{stats}");
    assert!(stats.get::<f64>("mean-ms").unwrap() > 0.0 && stats.get::<f64>("p95-ms").unwrap() > 0.0, "{stats}");
    let loaded: Vec<_> = r.messages("ai-model").collect();
    assert!(loaded.iter().any(|s| s.get::<String>("stage").unwrap() == "loaded"), "{:?}", r.element_messages);
    // Decode it back: 12 frames of 320x180.
    let p = parse(&format!(
        "filesrc location={} ! qtdemux ! avdec_h264 ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false",
        file.display()
    ));
    let sink = p.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    p.set_state(gst::State::Playing).unwrap();
    let mut n = 0;
    let mut size = None;
    while let Ok(s) = sink.pull_sample() {
        let i = VideoInfo::from_caps(s.caps().unwrap()).unwrap();
        size = Some((i.width(), i.height()));
        n += 1;
    }
    p.set_state(gst::State::Null).unwrap();
    assert_eq!(n, 12);
    assert_eq!(size, Some((320, 180)));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Control paths do not wait for the model: with a model that takes seconds per frame, caps and
/// latency queries and property reads and writes made while the first frame is being upscaled all
/// return before that frame comes out, and before it is counted.
#[test]
fn control_paths_answer_while_a_frame_is_upscaled() {
    use gst_ai_tests::control::{assert_filter_answers_while_busy, write_property};
    assert_filter_answers_while_busy("aiupscale", "sr_x2_slow.onnx", "scale", write_property("tile-size", 32u32));
}

/// The `stats` structure is posted as an element message at EOS, with every frame counted.
#[test]
fn stats_posted_at_eos() {
    gst_ai_tests::assert_stats_posted_at_eos("aiupscale", "ai-upscale-stats");
}

/// Two pipelines in one process sharing one model file run at the same time: the model's session
/// pool opened a second session because the first was busy (with one session the second frame
/// would have waited for it), and both give the same picture.
#[test]
fn two_pipelines_share_a_model_without_waiting_for_each_other() {
    use gst_ai_runtime::{Device, ModelSource, Precision, load};
    init();
    // A copy of its own, so that no other test of this process shares its cached model.
    let model = std::env::temp_dir().join(format!("gst-ai-shared-{}.onnx", std::process::id()));
    std::fs::copy(gst_ai_tests::control::slow_model("sr_x2_slow.onnx"), &model).unwrap();
    let make = || {
        parse(&format!(
            "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format=RGB,width=64,height=48 \
             ! aiupscale model={} ! appsink name=out sync=false",
            model.display()
        ))
    };
    let pipelines = [make(), make()];
    for p in &pipelines {
        p.set_state(gst::State::Playing).expect("to PLAYING");
    }
    let mut frames = Vec::new();
    for p in &pipelines {
        let sink = p.by_name("out").unwrap().downcast::<gst_app::AppSink>().unwrap();
        let sample = sink.try_pull_sample(gst::ClockTime::from_seconds(60)).expect("a frame from each pipeline");
        frames.push(sample.buffer().unwrap().map_readable().unwrap().to_vec());
    }
    // Both elements are still in PLAYING and hold the model: the cache hands out the same one.
    let shared = load(&ModelSource::File(model.clone()), Device::Cpu, Precision::Auto).unwrap();
    let opened = shared.sessions_opened();
    for p in &pipelines {
        p.set_state(gst::State::Null).expect("to NULL");
    }
    let _ = std::fs::remove_file(&model);
    assert_eq!(opened, 2, "the two runs did not overlap");
    assert_eq!(frames[0], frames[1]);
}
