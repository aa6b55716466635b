//! Interlaced video, element by element: every filter works on whole progressive frames, so
//! interlaced caps are refused with an error that names `deinterlace` (instead of the two fields
//! being blended into each other), and the same stream through `deinterlace` first runs; aisrc
//! makes progressive frames only and says so when downstream insists on interlaced ones.

use std::time::Duration;

use gst::prelude::*;
use gst_ai_tests::{expect_error, init, parse, run_pipeline};

const NO_VAD: &str = "voice-activity=false";

/// A small interlaced test stream: `videotestsrc` with caps that say its frames hold two fields.
fn interlaced(width: u32, height: u32) -> String {
    format!(
        "videotestsrc num-buffers=2 ! video/x-raw,format=I420,width={width},height={height},framerate=10/1,\
         interlace-mode=interleaved"
    )
}

/// Each element on a small frame, as a launch-line fragment (ailipsync with a fixed face box).
fn elements() -> [(&'static str, String, (u32, u32)); 4] {
    [
        ("aiupscale", "aiupscale".into(), (32, 24)),
        ("aistylize", "aistylize".into(), (32, 24)),
        ("aiinterpolate", "aiinterpolate factor=2".into(), (32, 24)),
        ("ailipsync", format!("ailipsync face-box=\"<40, 16, 80, 96>\" {NO_VAD}"), (160, 128)),
    ]
}

#[test]
fn filters_refuse_interlaced_input_naming_deinterlace() {
    for (name, element, (w, h)) in elements() {
        let e = expect_error(&format!("{} ! {element} ! fakesink", interlaced(w, h)));
        assert!(e.contains("deinterlace"), "{name} names deinterlace: {e}");
        assert!(e.contains("interlace-mode=interleaved"), "{name} names what it found: {e}");
        assert!(e.contains(name), "{name} names itself: {e}");
    }
}

#[test]
fn the_same_stream_through_deinterlace_runs() {
    init();
    for (name, element, (w, h)) in elements() {
        let desc = format!("{} ! deinterlace ! {element} ! fakesink", interlaced(w, h));
        let r = run_pipeline(&parse(&desc), Duration::from_secs(60));
        assert!(r.eos && r.errors.is_empty(), "{name} after deinterlace: {r:?}");
    }
}

#[test]
fn aisrc_output_is_progressive() {
    init();
    let p = parse("aisrc steps=1 num-frames=2 ! appsink name=sink sync=false");
    let sink = p.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    let modes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let m2 = modes.clone();
    gst_ai_tests::on_video_sample(&sink, move |info, _| {
        m2.lock().unwrap().push(info.interlace_mode());
        Ok(())
    });
    let r = run_pipeline(&p, Duration::from_secs(60));
    assert!(r.eos && r.errors.is_empty(), "{r:?}");
    let modes = modes.lock().unwrap();
    assert_eq!(modes.len(), 2, "two frames");
    assert!(modes.iter().all(|&m| m == gst_video::VideoInterlaceMode::Progressive), "{modes:?}");
    let e = expect_error("aisrc steps=1 num-frames=2 ! video/x-raw,interlace-mode=interleaved ! fakesink");
    assert!(e.contains("progressive") && e.contains("interlace-mode=interleaved"), "{e}");
    assert!(e.contains("put interlace after aisrc"), "{e}");
}
