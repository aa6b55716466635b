//! Reliability (issue 17): memory stays bounded on huge frames. aiupscale's `tile-size=0` is
//! automatic: a frame runs whole while its estimated memory (input and output tensors, f32,
//! scale² for the output, times the model's working factor) fits `memory-budget`, and is cut into
//! feathered tiles beyond. A frame over a small budget must come out tiled (`tiled-frames` in
//! `stats`) and the same picture as the whole-frame run within the feathering's rounding.

use std::time::Duration;

use gst::prelude::*;
use gst_ai_tests::{Rng, init, run_pipeline, test_model};
use gst_video::{VideoFormat, VideoInfo};

const W: u32 = 256;
const H: u32 = 160;

/// Upscales one random W x H RGB frame with srvgg_x2_tiny (a conv net, receptive field 4 input
/// pixels) and `props`; returns the output's pixels and the `tiled-frames` count of its stats.
fn upscale(props: &str) -> (Vec<u8>, u64) {
    init();
    let info = VideoInfo::builder(VideoFormat::Rgb, W, H).fps(gst::Fraction::new(25, 1)).build().unwrap();
    let model = test_model("srvgg_x2_tiny.onnx");
    let desc = format!(
        "appsrc name=src format=time ! aiupscale name=up model={} {props} ! appsink name=sink sync=false",
        model.display()
    );
    let pipeline = gst_ai_tests::parse(&desc);
    let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    src.set_caps(Some(&info.to_caps().unwrap()));
    let mut rng = Rng::new(5);
    let data: Vec<u8> = (0..info.size()).map(|_| rng.byte(0, 255)).collect();
    let mut b = gst::Buffer::from_slice(data);
    b.get_mut().unwrap().set_pts(gst::ClockTime::ZERO);
    src.push_buffer(b).unwrap();
    src.end_of_stream().unwrap();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let g2 = got.clone();
    gst_ai_tests::on_video_sample(&sink, move |info, buffer| {
        g2.lock().unwrap().extend(gst_ai_tests::frames::buffer_image(info, buffer).rgb);
        Ok(())
    });
    let r = run_pipeline(&pipeline, Duration::from_secs(60));
    assert!(r.errors.is_empty() && r.eos, "{props}: {r:?}");
    let stats = r.messages("ai-upscale-stats").next().expect("stats at EOS").to_owned();
    let pixels = std::mem::take(&mut *got.lock().unwrap());
    assert_eq!(pixels.len(), (4 * W * H * 3) as usize, "{props}: one x2 frame");
    (pixels, stats.get::<u64>("tiled-frames").unwrap())
}

#[test]
fn a_frame_over_the_memory_budget_runs_tiled_and_seamless() {
    // 256x160 at x2 is estimated at 12 MiB: a 2 MiB budget cuts it into tiles, no limit (0) and
    // the default budget do not.
    let (whole, whole_tiled) = upscale("memory-budget=0");
    let (tiled, tiled_count) = upscale("memory-budget=2");
    let (default, default_tiled) = upscale("");
    assert_eq!(whole_tiled, 0, "no budget: the whole frame in one run");
    assert_eq!(default_tiled, 0, "a small frame fits the default budget");
    assert_eq!(tiled_count, 1, "over the budget: tiled");
    assert_eq!(default, whole, "the default budget gives the whole-frame picture");
    let diffs: Vec<u8> = whole.iter().zip(&tiled).map(|(a, b)| a.abs_diff(*b)).collect();
    let max = *diffs.iter().max().unwrap();
    let mean = diffs.iter().map(|&d| d as f64).sum::<f64>() / diffs.len() as f64;
    assert!(max <= 1 && mean < 0.01, "tiled vs whole: max {max}, mean {mean:.4}");
    assert!(whole.iter().any(|&v| v != whole[0]), "a real picture came out");
}

#[test]
fn the_memory_budget_is_a_documented_property_with_a_default() {
    init();
    let up = gst::ElementFactory::make("aiupscale").build().unwrap();
    let pspec = up.find_property("memory-budget").expect("aiupscale has memory-budget");
    assert!(pspec.blurb().is_some_and(|b| b.contains("MiB")), "{:?}", pspec.blurb());
    assert_eq!(up.property::<u32>("memory-budget"), 1024);
    assert!(up.find_property("tile-size").unwrap().blurb().unwrap().contains("memory-budget"));
}
