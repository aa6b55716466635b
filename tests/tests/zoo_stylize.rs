//! aistylize with the zoo's real style networks (imported at set-up by models/zoo/families/
//! style.py) on real photographs: every one of zoo:style26's 26 named styles stylizes a photo and
//! keeps its structure (measured against the input); mixes by weight (0 and 1 give the pure
//! styles, 0.5 lies between; a change while playing applies from the next frame); zoo:style-
//! arbitrary with `style-image` (two pictures give two styles, one picture twice the same);
//! temporal consistency still cuts flicker; the errors name what is wrong. Small crops, few
//! frames.

use std::path::PathBuf;

use gst::prelude::*;
use gst_ai_kernels::Filter;
use gst_ai_tests::clip::{Image, psnr};
use gst_ai_tests::frames::{buffer_image, frame_buffer};
use gst_ai_tests::lipsync::correlation;
use gst_ai_tests::motion::{flicker, pan_zoom};
use gst_ai_tests::{expect_error, init, load_rgb, root, run_frames};
use gst_check::Harness;

fn deps(rel: &str) -> PathBuf {
    root().join(".deps").join(rel)
}

/// A file the set-up imports; a clear failure when it is missing.
fn imported(rel: &str) -> PathBuf {
    let p = deps(rel);
    assert!(
        p.exists(),
        "{} is missing: run `make setup` (scripts/zoo.sh) to import the zoo and its media",
        p.display()
    );
    p
}

fn photo(name: &str) -> Image {
    let (w, h, rgb) = load_rgb(&imported(&format!("media/photos/{name}"))).unwrap();
    Image { width: w, height: h, rgb }
}

/// A small real picture: the astronaut photograph scaled to 144x144, 128x96 of it.
fn content() -> Image {
    photo("astronaut.png").resized(144, 144, Filter::Bicubic).crop(8, 8, 128, 96)
}

fn style_picture(name: &str) -> String {
    imported(&format!("media/styles/{name}")).display().to_string()
}

fn stylize_one(img: &Image, props: &str) -> Image {
    imported("zoo/style26.onnx");
    let (out, _) = run_frames(
        std::slice::from_ref(img),
        10,
        &format!("aistylize temporal-consistency=0 {props} ! video/x-raw,format=RGB ! appsink name=sink sync=false"),
    )
    .unwrap_or_else(|e| panic!("aistylize {props}: {e}"));
    assert_eq!(out.len(), 1);
    out.into_iter().next().unwrap()
}

fn luma(img: &Image) -> Vec<f64> {
    img.rgb.chunks_exact(3).map(|p| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64).collect()
}

/// Sobel gradient magnitude of the luma, inside a 1-pixel border.
fn edges(img: &Image) -> Vec<f64> {
    let (w, h, y) = (img.width, img.height, luma(img));
    let at = |x: usize, yy: usize| y[yy * w + x];
    let mut out = Vec::with_capacity((w - 2) * (h - 2));
    for j in 1..h - 1 {
        for i in 1..w - 1 {
            let gx = at(i + 1, j - 1) + 2.0 * at(i + 1, j) + at(i + 1, j + 1)
                - at(i - 1, j - 1)
                - 2.0 * at(i - 1, j)
                - at(i - 1, j + 1);
            let gy = at(i - 1, j + 1) + 2.0 * at(i, j + 1) + at(i + 1, j + 1)
                - at(i - 1, j - 1)
                - 2.0 * at(i, j - 1)
                - at(i + 1, j - 1);
            out.push((gx * gx + gy * gy).sqrt());
        }
    }
    out
}

/// Edge structure shared with the input: correlation of the Sobel magnitudes of the luma,
/// after a 3x3 box blur of both (brush strokes move edges by a pixel or two).
fn structure(a: &Image, b: &Image) -> f64 {
    let blur = |img: &Image| img.downscaled(1).resized(img.width / 2, img.height / 2, Filter::Bilinear);
    correlation(&edges(&blur(a)), &edges(&blur(b)))
}

fn mean_abs(a: &Image, b: &Image) -> f64 {
    a.rgb.iter().zip(&b.rgb).map(|(&x, &y)| (x as f64 - y as f64).abs()).sum::<f64>() / a.rgb.len() as f64
}

fn style_names() -> Vec<String> {
    let text = std::fs::read_to_string(imported("zoo/style26.json")).unwrap();
    let start = text.find("\"styles\"").expect("style26.json lists its styles");
    let list = &text[start..];
    let list = &list[list.find('[').unwrap() + 1..list.find(']').unwrap()];
    list.split(',').map(|s| s.trim().trim_matches('"').to_string()).filter(|s| !s.is_empty()).collect()
}

/// Floors, measured against the input (not against the model's own output): each style moves
/// the picture by at least this many 8-bit levels on average, and the edges of the result still
/// correlate with the photograph's at least this much. An unrelated photograph's edges, as a
/// reference, correlate with these about 0 (printed).
const MIN_CHANGE: f64 = 12.0;
const MIN_STRUCTURE: f64 = 0.2;
/// The one style that replaces the picture by its pattern (a grid of red, blue and yellow
/// bricks; edge correlation about 0.05 at 128x96, 0.02-0.09 up to 384x288, and no coarse layout
/// either: see the card): it is held to the change floor only.
const PATTERN_STYLES: [&str; 1] = ["red-bricks"];

#[test]
fn every_named_style_stylizes_and_keeps_structure() {
    let img = content();
    let unrelated = photo("coffee.png").resized(192, 128, Filter::Bicubic).crop(32, 16, 128, 96);
    let baseline = structure(&unrelated, &img);
    let names = style_names();
    assert_eq!(names.len(), 26);
    let outs: Vec<Image> = names.iter().map(|name| stylize_one(&img, &format!("style={name}"))).collect();
    let measured: Vec<(f64, f64)> = outs.iter().map(|out| (mean_abs(out, &img), structure(out, &img))).collect();
    for (name, (change, keep)) in names.iter().zip(&measured) {
        eprintln!("{name:>22}: mean change {change:5.1} levels, edge correlation {keep:.3}");
    }
    eprintln!("unrelated photograph: edge correlation {baseline:.3}");
    for (name, &(change, keep)) in names.iter().zip(&measured) {
        assert!(change >= MIN_CHANGE, "style {name} barely changes the picture: {change:.1} levels");
        if PATTERN_STYLES.contains(&name.as_str()) {
            continue;
        }
        assert!(keep >= MIN_STRUCTURE, "style {name} loses the picture's structure: {keep:.3}");
        assert!(keep > baseline + 0.15, "style {name}: {keep:.3} vs an unrelated picture's {baseline:.3}");
    }
    for i in 0..outs.len() {
        for j in i + 1..outs.len() {
            assert!(mean_abs(&outs[i], &outs[j]) > 3.0, "styles {} and {} look the same", names[i], names[j]);
        }
    }
    // With no model, a style that is not built in is a style of zoo:style26; an index is a name.
    assert_eq!(stylize_one(&img, "model=zoo:style26 style=19").rgb, outs[19].rgb);
    assert_eq!(names[19], "starry-night");
}

#[test]
fn mixing_weights_move_between_the_pure_styles() {
    let img = content();
    let a = stylize_one(&img, "style=starry-night");
    let b = stylize_one(&img, "style=mosaic");
    assert_eq!(stylize_one(&img, "style=starry-night:1,mosaic:0").rgb, a.rgb, "weight 1/0 is starry-night");
    assert_eq!(stylize_one(&img, "style=starry-night:0,mosaic:1").rgb, b.rgb, "weight 0/1 is mosaic");
    // Weights are normalised: 3 and 3 is 0.5 and 0.5.
    let half = stylize_one(&img, "style=starry-night:0.5,mosaic:0.5");
    assert_eq!(stylize_one(&img, "style=starry-night:3,mosaic:3").rgb, half.rgb);
    let (ab, ha, hb) = (mean_abs(&a, &b), mean_abs(&half, &a), mean_abs(&half, &b));
    eprintln!("starry-night vs mosaic {ab:.1} levels; the 0.5 mix is {ha:.1} from starry-night, {hb:.1} from mosaic");
    assert!(ha > 2.0 && hb > 2.0, "the mix is one of the pure styles");
    assert!(ha < ab && hb < ab, "the mix does not lie between the pure styles");
    // Further from mosaic with more starry-night.
    let more_a = stylize_one(&img, "style=starry-night:0.8,mosaic:0.2");
    assert!(mean_abs(&more_a, &a) < ha && mean_abs(&more_a, &b) > hb, "weights do not order the mixes");
}

fn harness(props: &[(&str, &str)]) -> (Harness, gst_video::VideoInfo) {
    init();
    let mut builder = gst::ElementFactory::make("aistylize");
    for (k, v) in props {
        builder = builder.property_from_str(k, v);
    }
    let mut h = Harness::with_element(&builder.build().unwrap(), Some("sink"), Some("src"));
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, 128, 96)
        .fps(gst::Fraction::new(10, 1))
        .build()
        .unwrap();
    h.set_src_caps(info.to_caps().unwrap());
    (h, info)
}

#[test]
fn style_changes_while_playing_apply_from_the_next_frame() {
    let img = content();
    let a = stylize_one(&img, "style=starry-night");
    let mix = stylize_one(&img, "style=starry-night:0.3,woodcut:0.7");
    let (mut h, info) = harness(&[("model", "zoo:style26"), ("style", "starry-night"), ("temporal-consistency", "0")]);
    let e = h.element().unwrap();
    h.push(frame_buffer(&info, &img, 0)).unwrap();
    e.set_property("style", "starry-night:0.3,woodcut:0.7");
    h.push(frame_buffer(&info, &img, 100)).unwrap();
    // An unknown name while playing is a warning; the style stays.
    e.set_property("style", "no-such-style");
    h.push(frame_buffer(&info, &img, 200)).unwrap();
    assert_eq!(e.property::<String>("style"), "no-such-style");
    let out: Vec<Image> = (0..3).map(|_| buffer_image(&info, &h.pull().unwrap())).collect();
    assert_eq!(out[0].rgb, a.rgb);
    assert_eq!(out[1].rgb, mix.rgb, "the new mix applies from the next frame");
    assert_eq!(out[2].rgb, mix.rgb, "an invalid style keeps the previous one");
}

#[test]
fn style_image_gives_the_pictures_style() {
    let img = content();
    let ihc = style_picture("ihc.png");
    let hubble = style_picture("hubble_deep_field.jpg");
    let a = stylize_one(&img, &format!("style-image={ihc}"));
    let a2 = stylize_one(&img, &format!("model=zoo:style-arbitrary style-image={ihc}"));
    let b = stylize_one(&img, &format!("style-image={hubble}"));
    assert_eq!(a.rgb, a2.rgb, "the same picture twice gives the same style");
    let (da, db, dab) = (mean_abs(&a, &img), mean_abs(&b, &img), mean_abs(&a, &b));
    let (sa, sb) = (structure(&a, &img), structure(&b, &img));
    eprintln!(
        "style-image ihc: change {da:.1}, edges {sa:.3}; hubble: change {db:.1}, edges {sb:.3}; ihc vs hubble {dab:.1}"
    );
    assert!(da >= MIN_CHANGE && db >= MIN_CHANGE, "a style picture barely changes the photo");
    assert!(sa >= MIN_STRUCTURE && sb >= MIN_STRUCTURE, "a style picture loses the photo's structure");
    assert!(dab > 10.0, "two different style pictures give nearly the same output: {dab:.1} levels");

    // A change of picture while playing: computed when set, used from the next frame.
    let (mut h, info) = harness(&[("style-image", &ihc), ("temporal-consistency", "0")]);
    let e = h.element().unwrap();
    h.push(frame_buffer(&info, &img, 0)).unwrap();
    e.set_property("style-image", &hubble);
    h.push(frame_buffer(&info, &img, 100)).unwrap();
    e.set_property("style-image", "/no/such/painting.png");
    h.push(frame_buffer(&info, &img, 200)).unwrap();
    let out: Vec<Image> = (0..3).map(|_| buffer_image(&info, &h.pull().unwrap())).collect();
    assert_eq!(out[0].rgb, a.rgb);
    assert_eq!(out[1].rgb, b.rgb);
    assert_eq!(out[2].rgb, b.rgb, "an unreadable picture while playing keeps the previous style");
}

/// A camera panning and zooming across a real photograph: 6 frames of 128x96.
fn clip() -> (Vec<Image>, Vec<gst_ai_tests::motion::Camera>) {
    pan_zoom(&photo("motorcycle_left.png"), 128, 96, 6, 1.7, 0.01)
}

/// Flicker of a panning, zooming real photograph through `props`, at temporal consistency `tc`.
fn flicker_run(props: &str, tc: f64) -> (f64, Vec<Image>) {
    let (frames, cams) = clip();
    let (out, _) = run_frames(
        &frames,
        25,
        &format!("aistylize {props} temporal-consistency={tc} ! video/x-raw,format=RGB ! appsink name=sink sync=false"),
    )
    .unwrap();
    assert_eq!(out.len(), frames.len());
    (flicker(&out, &cams), out)
}

#[test]
fn temporal_consistency_works_with_the_zoo_styles() {
    let ihc = style_picture("ihc.png");
    let (frames_in, _) = clip();
    for props in ["style=starry-night:0.7,mosaic:0.3".to_string(), format!("style-image={ihc}")] {
        let (f0, plain) = flicker_run(&props, 0.0);
        let (f5, smooth) = flicker_run(&props, 0.5);
        let p: f64 =
            plain.iter().zip(&smooth).skip(1).map(|(a, b)| psnr(a, b, 0)).sum::<f64>() / (plain.len() - 1) as f64;
        let last = frames_in.last().unwrap();
        let keep = structure(smooth.last().unwrap(), last);
        eprintln!(
            "{props}: flicker {f0:.2} -> {f5:.2} ({:.2}x); PSNR vs per-frame {p:.2} dB; last frame's edge \
             correlation with its input {keep:.3}",
            f0 / f5
        );
        assert!(f5 <= 0.5 * f0, "{props}: flicker {f5:.2} is not halved from {f0:.2}");
        // These styles change a lot from frame to frame (the flicker above), so the consistent
        // frames differ from the per-frame ones by about that much, not more, and keep the
        // picture's structure (no smear of old frames).
        assert!(p > 18.0, "{props}: temporal blending drifts from the per-frame style: {p:.2} dB");
        assert!(keep >= MIN_STRUCTURE, "{props}: the blended frames lose the picture's structure: {keep:.3}");
    }
}

#[test]
fn errors_name_what_is_wrong() {
    imported("zoo/style26.onnx");
    let src = "videotestsrc num-buffers=2 ! video/x-raw,width=64,height=48 ! aistylize";
    let e = expect_error(&format!("{src} style=no-such-style ! fakesink"));
    assert!(e.contains("no-such-style") && e.contains("starry-night") && e.contains("mosaic"), "{e}");
    let e = expect_error(&format!("{src} style=starry-night:0.5,nope:0.5 ! fakesink"));
    assert!(e.contains("'nope'") && e.contains("woodcut"), "{e}");
    let e = expect_error(&format!("{src} style=starry-night:lots ! fakesink"));
    assert!(e.contains("lots") && e.contains("not a number"), "{e}");
    let e = expect_error(&format!("{src} style-image=/no/such/painting.png ! fakesink"));
    assert!(e.contains("/no/such/painting.png"), "{e}");
    let not_a_picture = imported("zoo/style26.json");
    let e = expect_error(&format!("{src} style-image={} ! fakesink", not_a_picture.display()));
    assert!(e.contains(&not_a_picture.display().to_string()), "{e}");
    // Named styles on a model without a style input, a picture on one with named styles, and
    // the arbitrary network without a picture.
    let e = expect_error(&format!("{src} model=builtin:style_oil style=starry-night ! fakesink"));
    assert!(e.contains("no style input") && e.contains("starry-night"), "{e}");
    let e = expect_error(&format!("{src} model=zoo:style26 style-image={} ! fakesink", style_picture("ihc.png")));
    assert!(e.contains("style-image") && e.contains("zoo:style-arbitrary"), "{e}");
    let e = expect_error(&format!("{src} model=zoo:style-arbitrary ! fakesink"));
    assert!(e.contains("style-image=PATH"), "{e}");
}
