//! aiinterpolate, end to end: exact output counts and timestamps for common conversions, the
//! first frame passing through, factor, flush resetting the history, scene cuts, interpolation
//! quality on a real photograph moving by known sub-pixel amounts, static content staying
//! exact, RIFE models in their three export layouts against PyTorch's golden output, live
//! degradation, latency, control calls answered while a slow RIFE model runs, and errors.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::prelude::*;
use gst_ai_kernels::{Filter, warp};
use gst_ai_tests::clip::{Image, from_planar, psnr, to_planar};
use gst_ai_tests::control::{Check, caps_query, read_property, run_checks_at, slow_model, write_property};
use gst_ai_tests::frames::{buffer_image, frame_buffer};
use gst_ai_tests::{demo_photo, expect_error, init, load_rgb, parse, read_f32, run_frames, run_pipeline, test_model};
use gst_check::Harness;

/// Runs `desc` (ending in `appsink name=sink`) and returns (pts ns, duration ns, flags) of every
/// output buffer.
fn collect(desc: &str) -> (Vec<(u64, u64, gst::BufferFlags)>, gst_ai_tests::RunResult) {
    init();
    let p = parse(desc);
    let sink = p.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let b = sample.buffer().unwrap();
                s2.lock().unwrap().push((b.pts().unwrap().nseconds(), b.duration().unwrap().nseconds(), b.flags()));
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let r = run_pipeline(&p, Duration::from_secs(120));
    let v = std::mem::take(&mut *seen.lock().unwrap());
    (v, r)
}

#[test]
fn exact_counts_and_timestamps() {
    for (a, b, n) in [(24u64, 60u64, 24u64), (30, 60, 30), (25, 50, 25), (60, 30, 60), (30, 25, 30), (24, 60, 7)] {
        let (out, r) = collect(&format!(
            "videotestsrc num-buffers={n} pattern=ball ! video/x-raw,format=I420,width=64,height=48,framerate={a}/1 \
             ! aiinterpolate ! video/x-raw,framerate={b}/1 ! appsink name=sink sync=false"
        ));
        assert!(r.errors.is_empty() && r.eos, "{a}->{b}: {r:?}");
        let want = (n * b).div_ceil(a);
        assert_eq!(out.len() as u64, want, "{a}->{b} over {n} frames");
        for (k, &(pts, dur, _)) in out.iter().enumerate() {
            let k = k as u64;
            let start = k * 1_000_000_000 / b;
            let end = (k + 1) * 1_000_000_000 / b;
            assert_eq!(pts, start, "{a}->{b} frame {k} pts");
            assert_eq!(dur, end - start, "{a}->{b} frame {k} duration");
        }
        assert!(out[0].2.contains(gst::BufferFlags::DISCONT), "first output is DISCONT");
        assert!(!out[1].2.contains(gst::BufferFlags::DISCONT));
    }
}

#[test]
fn factor_property_and_default_doubling() {
    let (out, r) = collect(
        "videotestsrc num-buffers=12 ! video/x-raw,width=32,height=24,framerate=24/1 ! aiinterpolate factor=2.5 \
         ! appsink name=sink sync=false",
    );
    assert!(r.errors.is_empty(), "{r:?}");
    assert_eq!(out.len(), 30);
    assert_eq!(out[1].0, 1_000_000_000 / 60);
    // Downstream accepts any rate: twice the input.
    let (out, r) = collect(
        "videotestsrc num-buffers=10 ! video/x-raw,width=32,height=24,framerate=25/1 ! aiinterpolate \
         ! appsink name=sink sync=false",
    );
    assert!(r.errors.is_empty(), "{r:?}");
    assert_eq!(out.len(), 20);
    assert_eq!(out[1].0, 20_000_000);
}

fn rgb_info(w: u32, h: u32, fps: i32) -> gst_video::VideoInfo {
    gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, w, h).fps(gst::Fraction::new(fps, 1)).build().unwrap()
}

fn photo() -> Image {
    let (w, h, rgb) = load_rgb(&demo_photo()).unwrap();
    Image { width: w, height: h, rgb }
}

/// The photo moved by a similarity transform about (cx, cy) — rotated by `angle` radians, zoomed
/// by `zoom`, then translated by (dx, dy) — with bilinear sampling, cropped to w x h at (x0, y0).
#[allow(clippy::too_many_arguments)]
fn transformed(
    photo: &Image,
    dx: f32,
    dy: f32,
    angle: f32,
    zoom: f32,
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
) -> Image {
    let (pw, ph) = (photo.width, photo.height);
    let n = pw * ph;
    let planar = to_planar(photo);
    // Backward map: output pixel p samples the photo at R^-1 (p - c - d) / zoom + c.
    let (cx, cy) = ((x0 + w / 2) as f32, (y0 + h / 2) as f32);
    let (sin, cos) = (-angle).sin_cos();
    let mut flow = vec![0f32; 2 * n];
    for y in 0..ph {
        for x in 0..pw {
            let (ux, uy) = ((x as f32 - cx - dx) / zoom, (y as f32 - cy - dy) / zoom);
            let (sx, sy) = (cos * ux - sin * uy + cx, sin * ux + cos * uy + cy);
            flow[y * pw + x] = sx - x as f32;
            flow[n + y * pw + x] = sy - y as f32;
        }
    }
    let mut out = vec![0f32; 3 * n];
    warp(&planar, 3, pw, ph, &flow, &mut out).unwrap();
    from_planar(&out, pw, ph).crop(x0, y0, w, h)
}

#[test]
fn first_frame_passes_and_flush_resets() {
    init();
    let e = gst::ElementFactory::make("aiinterpolate").build().unwrap();
    let mut h = Harness::with_element(&e, Some("sink"), Some("src"));
    let info = rgb_info(48, 32, 10);
    h.set_src_caps(info.to_caps().unwrap());
    let ph = photo();
    let a = ph.crop(100, 100, 48, 32);
    let b = ph.crop(103, 100, 48, 32);
    h.push(frame_buffer(&info, &a, 0)).unwrap();
    h.push(frame_buffer(&info, &b, 100)).unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let out_info = gst_video::VideoInfo::from_caps(&caps).unwrap();
    assert_eq!(out_info.fps(), gst::Fraction::new(20, 1));
    let first = h.pull().unwrap();
    assert_eq!(buffer_image(&out_info, &first).rgb, a.rgb, "the first frame passes through unchanged");
    assert_eq!(first.pts(), Some(gst::ClockTime::ZERO));
    let mid = h.pull().unwrap();
    assert_eq!(mid.pts(), Some(gst::ClockTime::from_mseconds(50)));
    // A flush forgets the history: the next frame starts a new timeline at its own timestamp.
    assert!(h.push_event(gst::event::FlushStart::new()));
    assert!(h.push_event(gst::event::FlushStop::new(true)));
    let mut seg = gst::FormattedSegment::<gst::ClockTime>::new();
    seg.set_start(gst::ClockTime::from_seconds(5));
    assert!(h.push_event(gst::event::Segment::new(&seg)));
    h.push(frame_buffer(&info, &b, 5000)).unwrap();
    h.push(frame_buffer(&info, &a, 5100)).unwrap();
    let next = h.pull().unwrap();
    assert_eq!(next.pts(), Some(gst::ClockTime::from_seconds(5)));
    assert_eq!(buffer_image(&out_info, &next).rgb, b.rgb);
    assert!(next.flags().contains(gst::BufferFlags::DISCONT));
}

/// Interpolates a clip whose in-between frames are known: the photo moving by `step` pixels per
/// output frame; the element gets every other frame and must recreate the others.
/// `step` = (dx, dy, angle, zoom factor) per output frame.
fn interpolation_psnr(step: (f32, f32, f32, f32), mode: &str) -> (f64, f64) {
    let ph = photo();
    let (w, h) = (160usize, 96usize);
    let truth: Vec<Image> = (0..9)
        .map(|k| {
            let k = k as f32;
            transformed(&ph, k * step.0, k * step.1, k * step.2, step.3.powf(k), 200, 150, w, h)
        })
        .collect();
    let input: Vec<Image> = truth.iter().step_by(2).cloned().collect();
    let (out, _) = run_frames(
        &input,
        15,
        &format!("aiinterpolate mode={mode} ! video/x-raw,framerate=30/1 ! appsink name=sink sync=false"),
    )
    .unwrap();
    assert_eq!(out.len(), 10, "5 input frames at 15 fps -> 10 at 30 fps");
    let mut p_interp = 0.0;
    let mut p_blend_ref = 0.0;
    for k in (1..8).step_by(2) {
        p_interp += psnr(&out[k], &truth[k], 8);
        // What a plain cross-fade gives, for comparison.
        let blend = Image {
            width: w,
            height: h,
            rgb: truth[k - 1]
                .rgb
                .iter()
                .zip(&truth[k + 1].rgb)
                .map(|(&a, &b)| (a as u16 + b as u16).div_ceil(2) as u8)
                .collect(),
        };
        p_blend_ref += psnr(&blend, &truth[k], 8);
    }
    for k in (0..9).step_by(2) {
        assert_eq!(out[k].rgb, truth[k].rgb, "input frame {k} passes through unchanged");
    }
    (p_interp / 4.0, p_blend_ref / 4.0)
}

#[test]
fn flow_recovers_subpixel_motion() {
    // 3.3 px right and 1.7 px up per output frame: 6.6 / 3.4 px between input frames.
    let (flow, blend) = interpolation_psnr((3.3, -1.7, 0.0, 1.0), "flow");
    eprintln!("translation: flow {flow:.2} dB, cross-fade {blend:.2} dB");
    assert!(flow > 32.0, "flow interpolation PSNR {flow:.2} dB");
    assert!(flow > blend + 6.0, "flow {flow:.2} dB should beat a cross-fade {blend:.2} dB clearly");
    // Blend mode really is the cross-fade (within rounding).
    let (b, reference) = interpolation_psnr((3.3, -1.7, 0.0, 1.0), "blend");
    assert!((b - reference).abs() < 0.5, "blend {b:.2} vs cross-fade {reference:.2}");
}

#[test]
fn flow_follows_rotation_and_zoom() {
    // 0.8 degrees and 1.5% zoom per output frame, plus a drift: 1.6 degrees and 3% between inputs.
    let (flow, blend) = interpolation_psnr((1.1, 0.7, 0.8f32.to_radians(), 1.015), "flow");
    eprintln!("rotation + zoom: flow {flow:.2} dB, cross-fade {blend:.2} dB");
    assert!(flow > 30.0, "flow interpolation PSNR {flow:.2} dB");
    assert!(flow > blend + 4.0, "flow {flow:.2} dB should beat a cross-fade {blend:.2} dB clearly");
}

#[test]
fn caps_change_drains_and_restarts() {
    init();
    let e = gst::ElementFactory::make("aiinterpolate").build().unwrap();
    let mut h = Harness::with_element(&e, Some("sink"), Some("src"));
    let ph = photo();
    let small = rgb_info(40, 30, 10);
    h.set_src_caps(small.to_caps().unwrap());
    h.push(frame_buffer(&small, &ph.crop(0, 0, 40, 30), 0)).unwrap();
    h.push(frame_buffer(&small, &ph.crop(2, 0, 40, 30), 100)).unwrap();
    // New caps mid-stream: the tail of the old stream (last frame and the time after it) comes
    // out first, at the old size, then the new stream at the new size.
    let big = rgb_info(64, 48, 10);
    h.set_src_caps(big.to_caps().unwrap());
    h.push(frame_buffer(&big, &ph.crop(0, 0, 64, 48), 200)).unwrap();
    h.push(frame_buffer(&big, &ph.crop(1, 1, 64, 48), 300)).unwrap();
    let mut sizes = Vec::new();
    while let Some(b) = h.try_pull() {
        sizes.push((b.size(), b.pts().unwrap().mseconds()));
    }
    let s_small = small.size();
    let s_big = big.size();
    assert_eq!(sizes, vec![(s_small, 0), (s_small, 50), (s_small, 100), (s_small, 150), (s_big, 200), (s_big, 250)]);
}

#[test]
fn static_content_stays_exact() {
    let ph = photo();
    let still = ph.crop(50, 50, 64, 48);
    let (out, _) = run_frames(
        &vec![still.clone(); 4],
        10,
        "aiinterpolate ! video/x-raw,framerate=30/1 ! appsink name=sink sync=false",
    )
    .unwrap();
    assert_eq!(out.len(), 12);
    for (k, f) in out.iter().enumerate() {
        assert_eq!(f.rgb, still.rgb, "frame {k} of a still input must be the still picture");
    }
}

#[test]
fn scene_cut_duplicates_instead_of_morphing() {
    let ph = photo();
    let a = ph.crop(0, 0, 96, 64);
    let b = ph.resized(96, 64, Filter::Bilinear);
    let b = Image { width: 96, height: 64, rgb: b.rgb.iter().rev().copied().collect() }; // rotated 180°
    let frames = vec![a.clone(), a.clone(), b.clone(), b.clone()];
    init();
    let (out, _) =
        run_frames(&frames, 10, "aiinterpolate name=ip ! video/x-raw,framerate=20/1 ! appsink name=sink sync=false")
            .unwrap();
    assert_eq!(out.len(), 8);
    // Output 3 sits half way between input 1 (a) and input 2 (b): a cut, so a copy of one of them.
    assert!(out[3].rgb == a.rgb || out[3].rgb == b.rgb, "a cut must not be morphed");
    // Within a scene, in-between frames of identical pictures are those pictures.
    assert_eq!(out[1].rgb, a.rgb);
    assert_eq!(out[5].rgb, b.rgb);
}

#[test]
fn rife_models_match_pytorch_in_every_layout() {
    let dir = test_model("rife");
    let (w, h) = (96usize, 64usize);
    let a = Image { width: w, height: h, rgb: std::fs::read(dir.join("golden_img0.rgb")).unwrap() };
    let b = Image { width: w, height: h, rgb: std::fs::read(dir.join("golden_img1.rgb")).unwrap() };
    let want = read_f32(&dir.join("golden_out8_t050.bin"));
    assert_eq!(want.len(), 3 * w * h);
    for file in ["rife_v1_11ch.onnx", "rife_v2_7ch.onnx", "rife_2in.onnx"] {
        let (out, _) = run_frames(
            &[a.clone(), b.clone()],
            1,
            &format!(
                "aiinterpolate mode=model model={} ! video/x-raw,framerate=2/1 ! appsink name=sink sync=false",
                dir.join(file).display()
            ),
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(out.len(), 4);
        let mid = &out[1];
        let mut max = 0f32;
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    let got = mid.rgb[(y * w + x) * 3 + c] as f32;
                    let reference = (want[(c * h + y) * w + x] * 255.0).clamp(0.0, 255.0);
                    max = max.max((got - reference).abs());
                }
            }
        }
        // The element rounds to 8 bits: within 0.5 plus float noise of PyTorch.
        assert!(max <= 0.51, "{file}: max difference to PyTorch {max} (8-bit units)");
    }
}

#[test]
fn live_source_degrades_instead_of_falling_behind() {
    init();
    let p = parse(
        "videotestsrc is-live=true num-buffers=20 pattern=ball ! video/x-raw,width=640,height=360,framerate=60/1 \
         ! aiinterpolate name=ip ! video/x-raw,framerate=240/1 ! fakesink sync=false",
    );
    let ip = p.by_name("ip").unwrap();
    let r = run_pipeline(&p, Duration::from_secs(120));
    assert!(r.errors.is_empty() && r.eos, "{r:?}");
    let stats = ip.property::<gst::Structure>("stats");
    let out = stats.get::<u64>("frames-out").unwrap();
    let degraded = stats.get::<u64>("degraded").unwrap();
    assert_eq!(out, 80, "{stats}");
    assert_eq!(stats.get::<u64>("frames").unwrap(), out, "frames counts the frames out: {stats}");
    // 4.2 ms per output frame is far less than flow needs at 640x360 on a CPU.
    assert!(degraded > 0, "{stats}");
    let msg = r.messages("ai-interpolate-stats").next().expect("stats posted at EOS");
    assert_eq!(msg.get::<u64>("frames-out").unwrap(), 80);
}

#[test]
fn latency_includes_one_input_frame() {
    init();
    let p = parse(
        "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=25/1 ! aiinterpolate name=ip \
         ! video/x-raw,framerate=50/1 ! fakesink",
    );
    p.set_state(gst::State::Playing).unwrap();
    let _ = p.state(gst::ClockTime::from_seconds(10));
    let src = p.by_name("ip").unwrap().static_pad("src").unwrap();
    let mut q = gst::query::Latency::new();
    assert!(src.query(&mut q));
    let (live, min, _) = q.result();
    // Upstream alone: the live source's own latency.
    let mut up = gst::query::Latency::new();
    assert!(p.by_name("ip").unwrap().static_pad("sink").unwrap().peer_query(&mut up));
    p.set_state(gst::State::Null).unwrap();
    assert!(live);
    let (_, up_min, _) = up.result();
    assert!(min >= up_min + gst::ClockTime::from_mseconds(40), "latency {min} must add one 25 fps frame to {up_min}");
}

/// No control path waits for a model run. With a RIFE model that takes seconds per run, a latency
/// query, a caps query, a `stats` read and property writes and reads are made while the first
/// in-between frame is being made, and each returns before that frame leaves the element. The
/// first input only fills the look-ahead; the model runs when the second arrives, which is when
/// the checks start ("in" is the second input); "out" is the second output, the frame the model
/// makes. What the checks saw proves it too, whatever the threads' timing: nothing was counted
/// out yet, and the latency was one input frame with no processing time measured yet.
#[test]
fn control_calls_return_while_rife_runs() {
    let model = slow_model("rife_slow.onnx");
    assert!(model.is_file(), "{} is missing (models/make_slow_models.py makes it)", model.display());
    let stats = Arc::new(Mutex::new(None::<gst::Structure>));
    let latency = Arc::new(Mutex::new(None::<(gst::ClockTime, gst::ClockTime)>));
    let (s2, l2) = (stats.clone(), latency.clone());
    let checks: Vec<Check> = vec![
        (
            "latency query",
            Box::new(move |el: &gst::Element| {
                let (mut ours, mut up) = (gst::query::Latency::new(), gst::query::Latency::new());
                assert!(el.static_pad("src").unwrap().query(&mut ours));
                assert!(el.static_pad("sink").unwrap().peer_query(&mut up));
                *l2.lock().unwrap() = Some((ours.result().1, up.result().1));
            }),
        ),
        caps_query(),
        ("stats", Box::new(move |el: &gst::Element| *s2.lock().unwrap() = Some(el.property("stats")))),
        write_property("scene-threshold", 0.3f64),
        read_property("mode"),
    ];
    let log = run_checks_at(
        &format!(
            "videotestsrc num-buffers=2 pattern=ball ! video/x-raw,format=RGB,width=64,height=48,framerate=1/1 \
             ! aiinterpolate name=el mode=model model={} ! video/x-raw,framerate=2/1 ! fakesink sync=false",
            model.display()
        ),
        "sink",
        2,
        2,
        checks,
        Duration::from_millis(100),
        Duration::from_secs(120),
    );
    eprintln!("{log:?}");
    log.assert_answered_while_busy(&["latency query", "caps query", "stats", "set scene-threshold", "mode"]);
    assert_eq!(log.0.last().map(String::as_str), Some("eos"), "{log:?}");
    let stats = stats.lock().unwrap().take().expect("stats read");
    eprintln!("stats during the run: {stats}");
    assert_eq!(stats.get::<u64>("frames-in").unwrap(), 2, "{stats}");
    assert_eq!(stats.get::<u64>("interpolated").unwrap(), 0, "{stats}");
    assert!(stats.get::<u64>("frames-out").unwrap() < 2, "the made frame is not out: {stats}");
    let (ours, upstream) = latency.lock().unwrap().take().expect("latency answered");
    eprintln!("latency during the run: {ours} (upstream {upstream})");
    assert_eq!(ours, upstream + gst::ClockTime::from_seconds(1), "one 1 fps input frame, no run measured yet");
}

/// A flushing seek while the RIFE model runs stops the run (the cancel token): the seek returns
/// (it waits for the streaming thread to leave the element) with the frame never made, and the
/// stream goes on to EOS (videotestsrc has one buffer left after the seek: no pair, no run).
#[test]
fn a_flushing_seek_stops_a_rife_run() {
    let model = slow_model("rife_slow.onnx");
    assert!(model.is_file(), "{} is missing (models/make_slow_models.py makes it)", model.display());
    let after = Arc::new(Mutex::new(None::<gst::Structure>));
    let a2 = after.clone();
    let seek: Check = (
        "flushing seek",
        Box::new(move |el: &gst::Element| {
            assert!(el.seek_simple(gst::SeekFlags::FLUSH, gst::ClockTime::ZERO).is_ok());
            *a2.lock().unwrap() = Some(el.property("stats"));
        }),
    );
    let log = run_checks_at(
        &format!(
            "videotestsrc num-buffers=3 ! video/x-raw,format=RGB,width=64,height=48,framerate=1/1 \
             ! aiinterpolate name=el mode=model model={} ! video/x-raw,framerate=2/1 ! fakesink sync=false",
            model.display()
        ),
        "sink",
        2,
        1,
        vec![seek],
        Duration::from_millis(100),
        Duration::from_secs(120),
    );
    eprintln!("{log:?}");
    let after = after.lock().unwrap().take().expect("the seek returned");
    eprintln!("stats after the seek: {after}");
    assert_eq!(after.get::<u64>("interpolated").unwrap(), 0, "the run in flight was stopped: {after}");
    assert!(log.position("flushing seek returned").is_some(), "{log:?}");
    assert_eq!(log.0.last().map(String::as_str), Some("eos"), "{log:?}");
}

#[test]
fn errors() {
    let e = expect_error("videotestsrc num-buffers=3 ! aiinterpolate mode=model ! fakesink");
    assert!(e.contains("mode=model needs a RIFE ONNX model"), "{e}");
    let e = expect_error(&format!(
        "videotestsrc num-buffers=3 ! aiinterpolate mode=model model={} ! fakesink",
        test_model("nearest_x2.onnx").display()
    ));
    assert!(e.contains("RIFE") && e.contains("[1, 11, H, W]"), "{e}");
    let e = expect_error("videotestsrc num-buffers=3 ! aiinterpolate model=/no/such/rife.onnx ! fakesink");
    assert!(e.contains("/no/such/rife.onnx") && e.contains("does not exist"), "{e}");
    let e = expect_error("videotestsrc num-buffers=3 ! video/x-raw,framerate=0/1 ! aiinterpolate ! fakesink");
    assert!(e.contains("fixed input frame rate"), "{e}");
    // The device is checked like every element's, even when no model runs.
    let e = expect_error("videotestsrc num-buffers=3 ! aiinterpolate device=quantum ! fakesink");
    assert!(e.contains("invalid device 'quantum'"), "{e}");
}

/// `device` decides where the built-in flow runs (CUDA kernels, no ONNX Runtime provider needed):
/// with no usable GPU, `cuda` is an error on the bus naming what is missing, and `auto` runs
/// on the CPU; a bad value is refused by name. (The flow on a device makes the CPU's frames
/// byte for byte: plugins/runtime/tests/flow_engine.rs, on the CUDA shim here and on a GPU in
/// scripts/gpu-check.sh.)
#[test]
fn device_cuda_without_a_gpu_is_an_error_naming_it() {
    if gst_ai_kernels::cuda::probe(0).is_ok() {
        println!("SKIPPED device_cuda_without_a_gpu_is_an_error_naming_it: a CUDA device is usable here");
        return;
    }
    let e = expect_error("videotestsrc num-buffers=2 ! aiinterpolate device=cuda ! fakesink");
    assert!(e.contains("cuda") && e.contains("not available"), "{e}");
    let e = expect_error("videotestsrc num-buffers=2 ! aiinterpolate device=cuda:3 mode=flow ! fakesink");
    assert!(e.contains("cuda:3") && e.contains("not available"), "{e}");
    let e = expect_error("videotestsrc num-buffers=2 ! aiinterpolate device=quantum ! fakesink");
    assert!(e.contains("invalid device 'quantum'"), "{e}");
    let p = parse(
        "videotestsrc num-buffers=3 ! video/x-raw,width=64,height=48,framerate=10/1 ! aiinterpolate device=auto \
         factor=2 ! fakesink",
    );
    let r = run_pipeline(&p, Duration::from_secs(30));
    assert!(r.eos && r.errors.is_empty(), "{:?}", r.errors);
}
