//! aiinterpolate at stream boundaries and on odd timestamps: a `concat` of two streams keeps
//! every frame (the last one before the switch and its tail included) with running times that
//! keep increasing; an input whose timestamp repeats the previous one's is dropped, and a jump
//! back re-times what follows, each with a warning on the bus and a count in `stats`, so output
//! timestamps always increase and every input is accounted for.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::prelude::*;
use gst_ai_tests::{init, parse, run_pipeline};

const W: u32 = 32;
const H: u32 = 24;
const FPS: u64 = 10;
const FRAME_NS: u64 = 1_000_000_000 / FPS;

/// What reached the appsink: (pts ns, running time ns) of every buffer.
type Seen = Arc<Mutex<Vec<(u64, u64)>>>;

fn collect_into(sink: &gst_app::AppSink) -> Seen {
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let b = sample.buffer().ok_or(gst::FlowError::Error)?;
                let pts = b.pts().ok_or(gst::FlowError::Error)?;
                let segment = sample.segment().and_then(|s| s.clone().downcast::<gst::ClockTime>().ok());
                let running = segment.and_then(|s| s.to_running_time(pts)).ok_or(gst::FlowError::Error)?;
                s2.lock().unwrap().push((pts.nseconds(), running.nseconds()));
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    seen
}

fn strictly_increasing(v: &[u64]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}

/// The counter `name` of the stats aiinterpolate posted at EOS.
fn stat(r: &gst_ai_tests::RunResult, name: &str) -> u64 {
    let s = r.messages("ai-interpolate-stats").last().expect("stats posted at EOS");
    s.get::<u64>(name).unwrap_or_else(|e| panic!("{name} in {s}: {e}"))
}

#[test]
fn concat_of_two_streams_keeps_every_frame() {
    init();
    let caps = format!("video/x-raw,format=I420,width={W},height={H},framerate=15/1");
    for (factor, want) in [(1u64, 30usize), (2, 60)] {
        let p = parse(&format!(
            "concat name=c ! aiinterpolate mode=blend factor={factor} ! appsink name=sink sync=false \
             videotestsrc num-buffers=15 pattern=ball ! {caps} ! c. \
             videotestsrc num-buffers=15 pattern=snow ! {caps} ! c."
        ));
        let sink = p.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
        let seen = collect_into(&sink);
        let r = run_pipeline(&p, Duration::from_secs(60));
        assert!(r.eos && r.errors.is_empty(), "factor {factor}: {r:?}");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), want, "factor {factor}: 2 x 15 frames in, every one accounted for");
        let running: Vec<u64> = seen.iter().map(|s| s.1).collect();
        assert!(strictly_increasing(&running), "factor {factor}: running times {running:?}");
        assert_eq!(stat(&r, "frames-in"), 30);
    }
}

/// Pushes `n_frames` small gray frames stamped `pts` (in input frames of 1/FPS s) through
/// `aiinterpolate <props>` and returns the output timestamps and the run's result.
fn run_stamped(pts: &[u64], props: &str) -> (Vec<u64>, gst_ai_tests::RunResult) {
    init();
    let p = parse(&format!("appsrc name=src format=time ! aiinterpolate {props} ! appsink name=sink sync=false"));
    let src = p.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let sink = p.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Gray8, W, H)
        .fps(gst::Fraction::new(FPS as i32, 1))
        .build()
        .unwrap();
    src.set_caps(Some(&info.to_caps().unwrap()));
    src.set_max_bytes(0);
    let seen = collect_into(&sink);
    for (i, &t) in pts.iter().enumerate() {
        let mut b = gst::Buffer::from_slice(vec![(i * 20) as u8; info.size()]);
        let bm = b.get_mut().unwrap();
        bm.set_pts(gst::ClockTime::from_nseconds(t * FRAME_NS));
        bm.set_duration(gst::ClockTime::from_nseconds(FRAME_NS));
        src.push_buffer(b).unwrap();
    }
    src.end_of_stream().unwrap();
    let r = run_pipeline(&p, Duration::from_secs(60));
    let out = seen.lock().unwrap().iter().map(|s| s.0).collect();
    (out, r)
}

#[test]
fn a_repeated_timestamp_is_dropped_with_a_warning_and_counted() {
    let (out, r) = run_stamped(&[0, 1, 1, 2, 3], "mode=blend factor=2");
    assert!(r.eos && r.errors.is_empty(), "{r:?}");
    assert!(strictly_increasing(&out), "output timestamps {out:?}");
    // Four distinct input times, each doubled.
    assert_eq!(out.len(), 8, "{out:?}");
    assert_eq!(stat(&r, "frames-in"), 5);
    assert_eq!(stat(&r, "dropped-inputs"), 1);
    assert!(r.warnings.iter().any(|w| w.contains("repeats the previous")), "{:?}", r.warnings);
}

#[test]
fn a_jump_back_is_retimed_with_a_warning_and_counted() {
    let (out, r) = run_stamped(&[0, 1, 2, 3, 1, 2, 3], "mode=blend factor=2");
    assert!(r.eos && r.errors.is_empty(), "{r:?}");
    assert!(strictly_increasing(&out), "output timestamps {out:?}");
    // Every input goes out (doubled): none is lost to the jump.
    assert_eq!(out.len(), 14, "{out:?}");
    // The frames after the jump follow the last output (which ended at 4 frames) evenly.
    let half = FRAME_NS / 2;
    assert_eq!(
        &out[8..],
        &[4 * FRAME_NS, 4 * FRAME_NS + half, 5 * FRAME_NS, 5 * FRAME_NS + half, 6 * FRAME_NS, 6 * FRAME_NS + half]
    );
    assert_eq!(stat(&r, "retimed-inputs"), 1);
    assert_eq!(stat(&r, "dropped-inputs"), 0);
    assert!(r.warnings.iter().any(|w| w.contains("jumped back")), "{:?}", r.warnings);
}

#[test]
fn a_gap_still_starts_a_new_timeline_at_its_time() {
    // Forward gaps keep their timing (nothing to clamp): the output resumes at the input's time.
    let (out, r) = run_stamped(&[0, 1, 5, 6], "mode=blend factor=2");
    assert!(r.eos && r.errors.is_empty(), "{r:?}");
    assert!(strictly_increasing(&out), "output timestamps {out:?}");
    assert!(out.contains(&(5 * FRAME_NS)), "{out:?}");
    assert_eq!(stat(&r, "retimed-inputs") + stat(&r, "dropped-inputs"), 0);
}
