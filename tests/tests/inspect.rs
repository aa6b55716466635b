//! The built plugin file, found the way a user finds it: `GST_PLUGIN_PATH` pointing at the
//! build folder and no other variable. `gst-inspect-1.0` must list the plugin and document every
//! property of aiupscale.

use std::path::PathBuf;
use std::process::Command;

/// The folder of the plugin built with these tests (target/release or target/debug).
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test binary>
    exe.parent().and_then(|p| p.parent()).expect("target/<profile>").to_path_buf()
}

fn inspect(what: &str) -> String {
    let dir = plugin_dir();
    assert!(
        dir.join("libgstai.so").is_file(),
        "{} was not built (make test builds it first; or cargo build --release -p gst-plugin-ai)",
        dir.join("libgstai.so").display()
    );
    let registry = std::env::temp_dir().join(format!("gst-ai-inspect-registry-{}.bin", std::process::id()));
    let out = Command::new("gst-inspect-1.0")
        .arg(what)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("GST_PLUGIN_PATH", &dir)
        .env("GST_REGISTRY", &registry)
        .output()
        .expect("gst-inspect-1.0 runs (gstreamer1.0-tools is installed by make setup)");
    let _ = std::fs::remove_file(&registry);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "gst-inspect-1.0 {what} failed: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    text
}

#[test]
fn plugin_is_listed() {
    let text = inspect("ai");
    for element in ["aiupscale", "aiinterpolate", "aistylize", "ailipsync", "aisrc"] {
        assert!(text.contains(element), "{element} missing from:\n{text}");
    }
    assert!(text.contains("libgstai.so"), "{text}");
}

/// Asserts that gst-inspect's text for `element` lists every property of `props`, each with the
/// given words within its description; returns the text.
fn assert_documented(element: &str, props: &[(&str, &str)]) -> String {
    let text = inspect(element);
    for (prop, words) in props {
        // Long names run into the colon: "  temporal-consistency: ...".
        let at = text
            .find(&format!("  {prop} "))
            .or_else(|| text.find(&format!("  {prop}:")))
            .unwrap_or_else(|| panic!("{element} property {prop} not listed:\n{text}"));
        let block = &text[at..text.len().min(at + 900)];
        assert!(block.contains(words), "{element} property {prop} lacks '{words}':\n{block}");
    }
    text
}

#[test]
fn every_aistylize_property_is_documented() {
    assert_documented(
        "aistylize",
        &[
            ("model", "AnimeGANv2"),
            ("style", "pencil"),
            ("style", "starry-night:0.7,mosaic:0.3"),
            ("style-image", "arbitrary-style network"),
            ("strength", "0 gives the input exactly"),
            ("temporal-consistency", "optical flow"),
            ("preserve-colors", "chroma"),
            ("fit", "resize"),
            ("tile-size", "0 = the whole frame"),
            ("tile-overlap", "feathered"),
            ("scene-threshold", "unrelated"),
            ("device", "cuda:N"),
            ("stats", "p95"),
        ],
    );
}

#[test]
fn every_aiinterpolate_property_is_documented() {
    assert_documented(
        "aiinterpolate",
        &[
            ("mode", "degrades"),
            ("factor", "twice the input's"),
            ("model", "Practical-RIFE"),
            ("timestep-handling", "trained for the midpoint only"),
            ("scene-threshold", "unrelated"),
            ("device", "cuda:N"),
            ("precision", "fp16"),
            ("stats", "p95"),
        ],
    );
}

#[test]
fn every_aisrc_property_is_documented() {
    let text = assert_documented(
        "aisrc",
        &[
            ("prompt", "next clip"),
            ("negative-prompt", "classifier-free"),
            ("seed", "bit-identical"),
            ("steps", "model's recommendation"),
            ("guidance-scale", "uncond"),
            ("scheduler", "scheduler_config.json"),
            ("eta", "deterministic"),
            ("num-frames", "Frames per clip"),
            ("model", "unet/model.onnx"),
            ("image", "Image-to-video"),
            ("strength", "denoising"),
            ("num-clips", "0: generate until stopped"),
            ("is-live", "running time"),
            ("device", "cuda:N"),
            ("stats", "seconds-per-step"),
        ],
    );
    for words in ["SRC template: 'src'", "video/x-raw", "ddim", "euler"] {
        assert!(text.contains(words), "aisrc: '{words}' missing from:\n{text}");
    }
}

#[test]
fn every_ailipsync_property_and_pad_is_documented() {
    let text = assert_documented(
        "ailipsync",
        &[
            ("model", "Wav2Lip"),
            ("face-box", "<x, y, width, height>"),
            ("face-model", "UltraFace"),
            ("face-threshold", "last face is kept"),
            ("face-padding", "<top, bottom, left, right>"),
            ("smoothing", "averaged"),
            ("face-select", "most-confident"),
            ("max-misses", "given up"),
            ("detect-interval", "face mesh follows"),
            ("min-face-size", "left unchanged"),
            ("max-yaw", "degrees"),
            ("feather", "0 = a hard box"),
            ("mouth-open", "full loudness"),
            ("device", "cuda:N"),
            ("stats", "p95"),
        ],
    );
    for pad in ["SINK template: 'video'", "SINK template: 'audio'", "Availability: On request", "audio/x-raw"] {
        assert!(text.contains(pad), "'{pad}' missing:\n{text}");
    }
}

#[test]
fn every_property_is_documented() {
    let text = assert_documented(
        "aiupscale",
        &[
            ("model", "built-in"),
            ("tile-size", "0 = the whole frame"),
            ("tile-overlap", "feathered"),
            ("device", "cuda:N"),
            ("precision", "fp16"),
            ("scale", "read"),
            ("stats", "p95"),
            ("remote-timeout", "milliseconds"),
            ("remote-retries", "50 ms"),
        ],
    );
    assert!(text.contains("kserve://host[:port]/model[/version]"), "{text}");
    assert!(text.contains("Filter/Effect/Video/Scaler"), "{text}");
}

/// The plugin finds ONNX Runtime by itself (the set-up location recorded at build time): a
/// pipeline runs with no ONNX Runtime variable set.
#[test]
fn runs_with_no_environment_variable() {
    let dir = plugin_dir();
    let registry = std::env::temp_dir().join(format!("gst-ai-launch-registry-{}.bin", std::process::id()));
    let out = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "videotestsrc",
            "num-buffers=2",
            "!",
            "video/x-raw,width=32,height=24",
            "!",
            "aiupscale",
            "!",
            "fakesink",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("GST_PLUGIN_PATH", &dir)
        .env("GST_REGISTRY", &registry)
        .output()
        .expect("gst-launch-1.0 runs");
    let _ = std::fs::remove_file(&registry);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Pointed at a library that is not there, the element fails at the state change and says
/// where it looked.
#[test]
fn missing_runtime_library_is_a_clear_error() {
    let dir = plugin_dir();
    let registry = std::env::temp_dir().join(format!("gst-ai-noort-registry-{}.bin", std::process::id()));
    let out = Command::new("gst-launch-1.0")
        .args(["videotestsrc", "num-buffers=2", "!", "aiupscale", "!", "fakesink"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("GST_PLUGIN_PATH", &dir)
        .env("GST_REGISTRY", &registry)
        .env("GST_AI_ORT_LIB", "/nowhere/libonnxruntime.so")
        .output()
        .expect("gst-launch-1.0 runs");
    let _ = std::fs::remove_file(&registry);
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("/nowhere/libonnxruntime.so") && all.contains("GST_AI_ORT_LIB"), "{all}");
}
