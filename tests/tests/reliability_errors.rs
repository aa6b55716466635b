//! Bad input that once got a misleading message (issue 17): a directory given as a model file or
//! a picture, a file given where aisrc takes a folder, an invalid face-box; and frames smaller
//! than a style network's reflect padding, which now run.

use std::time::Duration;

use gst::prelude::*;

use gst_ai_tests::{init, parse, run_pipeline, test_model};

const T: Duration = Duration::from_secs(60);

/// Runs `desc` and returns its errors, joined (none: an empty string).
fn errors_of(desc: &str) -> String {
    init();
    let r = run_pipeline(&parse(desc), T);
    r.errors.join(" | ")
}

const FRAMES: &str = "videotestsrc num-buffers=1 ! video/x-raw,width=64,height=64";

#[test]
fn a_directory_given_as_a_model_or_picture_is_called_a_directory() {
    let dir = std::env::temp_dir().join(format!("gst-ai-reliability-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    // ailipsync's own slots after a fixed face box, so that no detector is looked for first.
    let lip = "ailipsync face-box=<8,8,32,32>";
    let cases = [
        format!("{FRAMES} ! aiupscale model={d} ! fakesink"),
        format!("{FRAMES} ! aistylize model={d} ! fakesink"),
        format!("{FRAMES} ! aistylize style-image={d} ! fakesink"),
        format!("{FRAMES} ! aiinterpolate model={d} ! fakesink"),
        format!("{FRAMES} ! {lip} model={d} ! fakesink"),
        format!("{FRAMES} ! ailipsync face-model={d} ! fakesink"),
        format!("{FRAMES} ! {lip} voice-model={d} ! fakesink"),
        format!("aisrc image={d} steps=1 num-frames=2 ! fakesink"),
    ];
    let mut wrong = Vec::new();
    for desc in &cases {
        let e = errors_of(desc);
        let says = e.contains(&d.to_string()) && e.contains("is a directory");
        if !says || e.contains("does not exist") || e.contains("no such file") {
            wrong.push(format!("{desc}\n  -> {e}"));
        }
    }
    let _ = std::fs::remove_dir(&dir);
    assert!(wrong.is_empty(), "not named a directory:\n{}", wrong.join("\n"));
}

#[test]
fn a_file_given_as_aisrcs_model_folder_is_called_a_file() {
    let file = test_model("nearest_x2.onnx");
    let e = errors_of(&format!("aisrc model={} ! fakesink", file.display()));
    assert!(e.contains(&*file.to_string_lossy()) && e.contains("is a file, not a folder"), "{e}");
    assert!(!e.contains("does not exist"), "{e}");
}

#[test]
fn an_invalid_face_box_is_called_invalid() {
    for (value, why) in [
        ("<8,8,-32,32>", "width and height must be above 0"),
        ("<8,8,32>", "four values, not 3"),
        ("<0,0,0,0>", "width and height must be above 0"),
    ] {
        let e = errors_of(&format!("{FRAMES} ! ailipsync face-box={value} ! fakesink"));
        assert!(e.contains("face-box") && e.contains("is invalid") && e.contains(why), "face-box={value}: {e}");
    }
}

#[test]
fn frames_smaller_than_a_style_networks_reflect_padding_are_stylized() {
    // transformer_net_dyn opens with a 4-pixel reflect pad, which ONNX Runtime refuses on a side
    // of 4 or less (once: "Pad reflect: pre-pad (4) exceeds maximum allowed (3)").
    init();
    let model = test_model("style/transformer_net_dyn.onnx");
    for side in 1..=5 {
        let desc = format!(
            "videotestsrc num-buffers=2 ! video/x-raw,format=RGB,width={side},height={side} ! aistylize model={} ! \
             video/x-raw,format=RGB ! appsink name=sink sync=false",
            model.display()
        );
        let p = parse(&desc);
        let sink = p.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
        let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s2 = sizes.clone();
        gst_ai_tests::on_video_sample(&sink, move |info, _| {
            s2.lock().unwrap().push((info.width(), info.height()));
            Ok(())
        });
        let r = run_pipeline(&p, T);
        assert!(r.errors.is_empty() && r.eos, "{side}x{side}: {:?}", r.errors);
        assert_eq!(*sizes.lock().unwrap(), [(side, side); 2], "{side}x{side}: both frames, at their size");
    }
}
