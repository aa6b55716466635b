//! aistylize, end to end: a fast-neural-style TransformerNet (the real architecture, random
//! weights) against PyTorch's golden output, whole-frame and resized to its static 224x224;
//! AnimeGANv2's contracts (NHWC and NCHW, −1..1) told apart from the graph; strength 0 as an
//! exact passthrough in every format; strength blending; preserve-colors keeping chroma;
//! temporal consistency cutting flicker on a panning, zooming photo without ghosting; history
//! reset on flush and at scene cuts; built-in styles; errors for wrong contracts.

use gst_ai_tests::clip::{Image, psnr};
use gst_ai_tests::frames::{buffer_image, frame_buffer, random_frame};
use gst_ai_tests::motion::{flicker, pan_zoom};
use gst_ai_tests::{Rng, demo_photo, expect_error, init, load_rgb, read_f32, run_frames, run_raw, test_model};
use gst_check::Harness;
use gst_video::prelude::*;

fn style_model(name: &str) -> String {
    test_model(&format!("style/{name}")).display().to_string()
}

fn read_golden(name: &str) -> Vec<f32> {
    read_f32(&test_model(&format!("style/{name}")))
}

fn golden_input() -> Image {
    let rgb = std::fs::read(test_model("style/golden_in.rgb")).unwrap();
    Image { width: 96, height: 64, rgb }
}

/// Runs one frame through `aistylize <props>` and returns the output.
fn stylize_one(img: &Image, props: &str) -> Image {
    let (out, _) = run_frames(
        std::slice::from_ref(img),
        10,
        &format!("aistylize {props} ! video/x-raw,format=RGB ! appsink name=sink sync=false"),
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    out.into_iter().next().unwrap()
}

/// Largest difference between an 8-bit output and a planar 0..255 golden (clamped, rounded).
fn max_diff_to_golden(out: &Image, golden: &[f32]) -> f32 {
    let n = out.width * out.height;
    assert_eq!(golden.len(), 3 * n);
    let mut worst = 0f32;
    for i in 0..n {
        for c in 0..3 {
            let want = golden[c * n + i].clamp(0.0, 255.0).round();
            worst = worst.max((out.rgb[i * 3 + c] as f32 - want).abs());
        }
    }
    worst
}

#[test]
fn transformer_net_matches_pytorch() {
    let input = golden_input();
    let out = stylize_one(&input, &format!("model={} temporal-consistency=0", style_model("transformer_net_dyn.onnx")));
    let d = max_diff_to_golden(&out, &read_golden("golden_dyn.bin"));
    eprintln!("TransformerNet dynamic: max diff {d} (8-bit units)");
    assert!(d <= 1.0, "max diff {d} to PyTorch");
    // The output is not the input: the model really ran.
    assert!(psnr(&out, &input, 0) < 20.0);
}

#[test]
fn static_224_model_is_resized_to_fit() {
    let input = golden_input();
    let out = stylize_one(
        &input,
        &format!("model={} fit=resize temporal-consistency=0", style_model("transformer_net_224.onnx")),
    );
    let d = max_diff_to_golden(&out, &read_golden("golden_224.bin"));
    eprintln!("TransformerNet 224 fit=resize: max diff {d} (8-bit units)");
    assert!(d <= 2.0, "max diff {d} to PyTorch's bicubic -> model -> bicubic");
    // Tiling a frame smaller than the model's size runs it once on the reflect-padded frame; it
    // gives another picture than resizing it (the style at the model's own scale).
    let tiled = stylize_one(
        &input,
        &format!("model={} fit=tile temporal-consistency=0", style_model("transformer_net_224.onnx")),
    );
    assert!(psnr(&tiled, &out, 0) < 30.0);
}

/// tanh(2x) in −1..1 on a uniform frame: the expected byte for an input byte.
fn tanh_model_byte(v: u8) -> f32 {
    let x = v as f32 / 127.5 - 1.0;
    (((2.0 * x).tanh() + 1.0) * 127.5).round()
}

#[test]
fn animegan_contracts_are_told_apart_from_the_graph() {
    let (w, h) = (40, 36); // not multiples of 32: padded by reflection and cropped
    let colour = [191u8, 128, 64];
    let img = Image { width: w, height: h, rgb: colour.iter().copied().cycle().take(w * h * 3).collect() };
    for model in ["animegan_nhwc.onnx", "animegan_nchw.onnx"] {
        let out = stylize_one(&img, &format!("model={} temporal-consistency=0", style_model(model)));
        for (c, &v) in colour.iter().enumerate() {
            let want = tanh_model_byte(v);
            let worst = out.rgb.iter().skip(c).step_by(3).map(|&o| (o as f32 - want).abs()).fold(0f32, f32::max);
            assert!(worst <= 1.0, "{model} channel {c}: want {want}, off by {worst}");
        }
    }
}

fn random_frames(format: gst_video::VideoFormat, w: u32, h: u32, n: usize) -> (gst_video::VideoInfo, Vec<Vec<u8>>) {
    let info = gst_video::VideoInfo::builder(format, w, h).fps(gst::Fraction::new(25, 1)).build().unwrap();
    let mut rng = Rng::new(11);
    let frames = (0..n)
        .map(|_| {
            let b = random_frame(&info, &mut rng);
            b.map_readable().unwrap().to_vec()
        })
        .collect();
    (info, frames)
}

#[test]
fn strength_zero_is_an_exact_passthrough() {
    for format in [gst_video::VideoFormat::Rgb, gst_video::VideoFormat::I420, gst_video::VideoFormat::Nv12] {
        let (info, frames) = random_frames(format, 37, 23, 3);
        let (out, out_info, _) =
            run_raw(&frames, &info, "aistylize strength=0 ! appsink name=sink sync=false").unwrap();
        let out_info = out_info.unwrap();
        assert_eq!(out.len(), frames.len());
        for (a, b) in frames.iter().zip(&out) {
            let (ba, bb) = (gst::Buffer::from_slice(a.clone()), gst::Buffer::from_slice(b.clone()));
            let fa = gst_video::VideoFrameRef::from_buffer_ref_readable(ba.as_ref(), &info).unwrap();
            let fb = gst_video::VideoFrameRef::from_buffer_ref_readable(bb.as_ref(), &out_info).unwrap();
            // Every plane's pixels (row padding is not compared).
            for p in 0..fa.n_planes() {
                let row = fa.comp_width(p) as usize * fa.comp_pstride(p) as usize;
                let (sa, sb) = (fa.plane_stride()[p as usize] as usize, fb.plane_stride()[p as usize] as usize);
                let (da, db) = (fa.plane_data(p).unwrap(), fb.plane_data(p).unwrap());
                for y in 0..fa.comp_height(p) as usize {
                    assert_eq!(&da[y * sa..y * sa + row], &db[y * sb..y * sb + row], "{format:?} plane {p} row {y}");
                }
            }
        }
    }
}

#[test]
fn strength_blends_with_the_original() {
    let (w, h, rgb) = load_rgb(&demo_photo()).unwrap();
    let img = Image { width: w, height: h, rgb }.crop(40, 30, 120, 80);
    let full = stylize_one(&img, "style=pencil temporal-consistency=0");
    let half = stylize_one(&img, "style=pencil strength=0.5 temporal-consistency=0");
    let mut worst = 0i32;
    for i in 0..img.rgb.len() {
        let want = (img.rgb[i] as f32 + full.rgb[i] as f32) / 2.0;
        worst = worst.max((half.rgb[i] as f32 - want).abs().ceil() as i32);
    }
    assert!(worst <= 1, "strength 0.5 is off the mid-point by {worst}");
    assert!(psnr(&full, &img, 0) < 20.0, "pencil changes the picture");
}

/// Mean absolute difference of the U and V planes of two I420 frames, and of their Y planes.
fn i420_diffs(info: &gst_video::VideoInfo, a: &[u8], b: &[u8]) -> (f64, f64) {
    let ba = gst::Buffer::from_slice(a.to_vec());
    let bb = gst::Buffer::from_slice(b.to_vec());
    let fa = gst_video::VideoFrameRef::from_buffer_ref_readable(ba.as_ref(), info).unwrap();
    let fb = gst_video::VideoFrameRef::from_buffer_ref_readable(bb.as_ref(), info).unwrap();
    let mut out = [0f64; 2];
    for (slot, planes) in [(0usize, vec![0u32]), (1, vec![1, 2])] {
        let (mut sum, mut n) = (0f64, 0f64);
        for p in planes {
            let (pw, ph) = (fa.comp_width(p) as usize, fa.comp_height(p) as usize);
            let s = fa.plane_stride()[p as usize] as usize;
            let (da, db) = (fa.plane_data(p).unwrap(), fb.plane_data(p).unwrap());
            for y in 0..ph {
                for x in 0..pw {
                    sum += (da[y * s + x] as f64 - db[y * s + x] as f64).abs();
                    n += 1.0;
                }
            }
        }
        out[slot] = sum / n;
    }
    (out[1], out[0])
}

#[test]
fn preserve_colors_keeps_chroma() {
    let (w, h, rgb) = load_rgb(&demo_photo()).unwrap();
    let img = Image { width: w, height: h, rgb }.crop(60, 40, 128, 96);
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 128, 96)
        .fps(gst::Fraction::new(10, 1))
        .build()
        .unwrap();
    let input = rgb_to_i420(&img, &info);
    let run = |props: &str| {
        let (out, _, _) = run_raw(
            std::slice::from_ref(&input),
            &info,
            &format!("aistylize style=oil {props} ! appsink name=sink sync=false"),
        )
        .unwrap();
        out.into_iter().next().unwrap()
    };
    let kept = run("preserve-colors=true");
    let plain = run("preserve-colors=false");
    let (chroma_kept, luma_kept) = i420_diffs(&info, &input, &kept);
    let (chroma_plain, _) = i420_diffs(&info, &input, &plain);
    eprintln!("preserve-colors: chroma diff {chroma_kept:.2} (plain oil {chroma_plain:.2}), luma diff {luma_kept:.2}");
    assert!(chroma_kept < 1.5, "chroma moved by {chroma_kept:.2} on average");
    assert!(chroma_plain > 2.0 * chroma_kept.max(0.5), "the oil style alone changes chroma ({chroma_plain:.2})");
    assert!(luma_kept > 2.5, "the style still changes brightness ({luma_kept:.2})");
}

/// `img` converted to I420 by videoconvert, as one raw frame in `info`'s layout.
fn rgb_to_i420(img: &Image, info: &gst_video::VideoInfo) -> Vec<u8> {
    let rgb_info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, img.width as u32, img.height as u32)
        .fps(gst::Fraction::new(10, 1))
        .build()
        .unwrap();
    let stride = rgb_info.stride()[0] as usize;
    let mut raw = vec![0u8; rgb_info.size()];
    for y in 0..img.height {
        raw[y * stride..y * stride + img.width * 3]
            .copy_from_slice(&img.rgb[y * img.width * 3..(y + 1) * img.width * 3]);
    }
    let (out, out_info, _) =
        run_raw(&[raw], &rgb_info, "videoconvert ! video/x-raw,format=I420 ! appsink name=sink sync=false").unwrap();
    assert_eq!(out_info.unwrap().size(), info.size());
    out.into_iter().next().unwrap()
}

/// Stylizes a panning, zooming photo with `temporal-consistency=tc`; returns the flicker of the
/// output, and the frames.
fn flicker_run(style: &str, tc: f64) -> (f64, Vec<Image>) {
    let (w, h, rgb) = load_rgb(&demo_photo()).unwrap();
    let photo = Image { width: w, height: h, rgb };
    let (frames, cams) = pan_zoom(&photo, 160, 112, 10, 1.7, 0.01);
    let (out, _) = run_frames(
        &frames,
        25,
        &format!(
            "aistylize style={style} temporal-consistency={tc} ! video/x-raw,format=RGB ! appsink name=sink sync=false"
        ),
    )
    .unwrap();
    assert_eq!(out.len(), frames.len());
    (flicker(&out, &cams), out)
}

/// The built-in style the flicker test runs.
const STYLE: &str = "cartoon";

#[test]
fn temporal_consistency_cuts_flicker_without_ghosting() {
    let (f0, plain) = flicker_run(STYLE, 0.0);
    let (f5, smooth) = flicker_run(STYLE, 0.5);
    // Frame 0 has no history and is the same in both.
    let p: f64 = plain.iter().zip(&smooth).skip(1).map(|(a, b)| psnr(a, b, 0)).sum::<f64>() / (plain.len() - 1) as f64;
    eprintln!("{STYLE} flicker: temporal 0 -> {f0:.2}, 0.5 -> {f5:.2} ({:.2}x); PSNR vs per-frame {p:.2} dB", f0 / f5);
    assert!(f5 <= 0.5 * f0, "flicker {f5:.2} is not half of {f0:.2} or less");
    assert!(p > 28.0, "temporal blending drifts from the per-frame style: {p:.2} dB");
}

/// Pushes frames through a harness around `aistylize` and returns the outputs.
fn harness_frames(props: &[(&str, &str)], pushes: &mut dyn FnMut(&mut Harness, &gst_video::VideoInfo)) -> Vec<Image> {
    init();
    let mut builder = gst::ElementFactory::make("aistylize");
    for (k, v) in props {
        builder = builder.property_from_str(k, v);
    }
    let e = builder.build().unwrap();
    let mut h = Harness::with_element(&e, Some("sink"), Some("src"));
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, 96, 64)
        .fps(gst::Fraction::new(10, 1))
        .build()
        .unwrap();
    h.set_src_caps(info.to_caps().unwrap());
    pushes(&mut h, &info);
    let mut out = Vec::new();
    while let Some(b) = h.try_pull() {
        out.push(buffer_image(&info, &b));
    }
    out
}

#[test]
fn flush_and_scene_cuts_reset_the_history() {
    let (w, h, rgb) = load_rgb(&demo_photo()).unwrap();
    let ph = Image { width: w, height: h, rgb };
    let a = ph.crop(100, 80, 96, 64);
    let b = ph.crop(103, 81, 96, 64);
    let alone = stylize_one(&b, "style=cartoon temporal-consistency=0");
    let props = [("temporal-consistency", "0.9")];
    let out = harness_frames(&props, &mut |h, info| {
        h.push(frame_buffer(info, &a, 0)).unwrap();
        h.push(frame_buffer(info, &b, 100)).unwrap();
        assert!(h.push_event(gst::event::FlushStart::new()));
        assert!(h.push_event(gst::event::FlushStop::new(true)));
        assert!(h.push_event(gst::event::Segment::new(&gst::FormattedSegment::<gst::ClockTime>::new())));
        h.push(frame_buffer(info, &b, 0)).unwrap();
    });
    assert_eq!(out.len(), 3);
    assert!(out[1].rgb != alone.rgb, "frame 2 is blended with frame 1");
    assert_eq!(out[2].rgb, alone.rgb, "after a flush the frame is stylized on its own");
    // A cut to an unrelated picture is not blended with the previous one.
    let other = ph.crop(0, 0, 96, 64);
    let other_alone = stylize_one(&other, "style=cartoon temporal-consistency=0");
    let out = harness_frames(&props, &mut |h, info| {
        h.push(frame_buffer(info, &a, 0)).unwrap();
        h.push(frame_buffer(info, &other, 100)).unwrap();
    });
    assert_eq!(out[1].rgb, other_alone.rgb, "a scene cut drops the history");
}

#[test]
fn every_builtin_style_runs_and_differs() {
    let (w, h, rgb) = load_rgb(&demo_photo()).unwrap();
    let img = Image { width: w, height: h, rgb }.crop(20, 20, 128, 96);
    let outs: Vec<Image> = ["pencil", "cartoon", "oil"]
        .iter()
        .map(|s| stylize_one(&img, &format!("style={s} temporal-consistency=0")))
        .collect();
    for (i, a) in outs.iter().enumerate() {
        assert!(psnr(a, &img, 0) < 35.0, "style {i} leaves the picture as it was");
        for b in &outs[i + 1..] {
            assert!(psnr(a, b, 0) < 30.0, "two built-in styles look alike");
        }
    }
    let via_name = stylize_one(&img, "model=builtin:style_oil temporal-consistency=0");
    assert_eq!(via_name.rgb, outs[2].rgb);
}

#[test]
fn errors() {
    let e = expect_error(&format!(
        "videotestsrc num-buffers=2 ! aistylize model={} ! fakesink",
        test_model("nearest_x2.onnx").display()
    ));
    assert!(e.contains("style transfer") && e.contains("does not scale"), "{e}");
    let e = expect_error(&format!(
        "videotestsrc num-buffers=2 ! aistylize model={} ! fakesink",
        test_model("gray_x2.onnx").display()
    ));
    assert!(e.contains("channels") && e.contains("3 (RGB)"), "{e}");
    let e = expect_error(&format!(
        "videotestsrc num-buffers=2 ! aistylize model={} ! fakesink",
        test_model("two_inputs.onnx").display()
    ));
    assert!(e.contains("number of inputs"), "{e}");
    let e = expect_error("videotestsrc num-buffers=2 ! aistylize model=/no/such/style.onnx ! fakesink");
    assert!(e.contains("/no/such/style.onnx"), "{e}");
    let e = expect_error("videotestsrc num-buffers=2 ! aistylize device=cuda ! fakesink");
    assert!(e.to_lowercase().contains("cuda"), "{e}");
}

#[test]
fn a_real_change_is_not_ghosted() {
    // A still picture into which a blue square appears: where the colour changed the previous
    // output must not be blended in, so the square shows at once as stylized on its own.
    let (w, h, rgb) = load_rgb(&demo_photo()).unwrap();
    let still = Image { width: w, height: h, rgb }.crop(120, 60, 128, 96);
    let mut changed = still.clone();
    let square = Image { width: 24, height: 24, rgb: [30u8, 60, 220].repeat(24 * 24) };
    changed.blit(&square, 50, 30);
    let frames = [still.clone(), still, changed];
    let run = |tc: f64| {
        run_frames(
            &frames,
            10,
            &format!("aistylize style=cartoon temporal-consistency={tc} ! appsink name=sink sync=false"),
        )
        .unwrap()
        .0
    };
    let (plain, smooth) = (run(0.0), run(0.9));
    let (a, b) = (plain[2].crop(52, 32, 20, 20), smooth[2].crop(52, 32, 20, 20));
    let worst = a.rgb.iter().zip(&b.rgb).map(|(x, y)| (*x as i32 - *y as i32).abs()).max().unwrap();
    eprintln!(
        "worst {worst}, mean {}",
        a.rgb.iter().zip(&b.rgb).map(|(x, y)| (*x as i32 - *y as i32).abs()).sum::<i32>() as f64 / a.rgb.len() as f64
    );
    assert!(worst <= 2, "the new square is blended with what was there before (off by {worst})");
}

/// Control paths do not wait for the model: with a model that takes seconds per frame, caps and
/// latency queries and property reads and writes made while the first frame is being stylized all
/// return before that frame comes out, and before it is counted.
#[test]
fn control_paths_answer_while_a_frame_is_stylized() {
    use gst_ai_tests::control::{assert_filter_answers_while_busy, write_property};
    assert_filter_answers_while_busy(
        "aistylize",
        "style_slow.onnx",
        "temporal-consistency",
        write_property("strength", 0.5f64),
    );
}

/// The `stats` structure is posted as an element message at EOS, with every frame counted.
#[test]
fn stats_posted_at_eos() {
    gst_ai_tests::assert_stats_posted_at_eos("aistylize", "ai-stylize-stats");
}
