//! Remote inference against a real NVIDIA Triton Inference Server (the `tritonserver` of the
//! nvidia-pytriton wheel, installed by scripts/triton.sh) on loopback, serving our ONNX models
//! through ONNX Runtime inside its Python backend: every element's output with
//! `model=kserve://...` equals its output with the same model run locally, within float
//! tolerance (aiupscale, aistylize, aiinterpolate's RIFE, ailipsync's Wav2Lip, aisrc's three
//! networks). Nothing is mocked. The fault tests are in remote_faults.rs.

use gst_ai_tests::clip::Image;
use gst_ai_tests::lipsync::{self, Audio};
use gst_ai_tests::remote::{Served, Server, scratch, write_repository};
use gst_ai_tests::{Rng, root, run_frames, t2v, test_model};

fn frames(n: usize, w: usize, h: usize, seed: u64) -> Vec<Image> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            // Smooth content with some noise: what a model sees in video, not pure noise.
            let mut rgb = vec![0u8; w * h * 3];
            let (fx, fy) = (rng.byte(1, 7) as f32, rng.byte(1, 5) as f32);
            for y in 0..h {
                for x in 0..w {
                    for c in 0..3 {
                        let v = 128.0
                            + 90.0 * ((x as f32 * fx / w as f32 + c as f32) * 3.1).sin()
                            + 30.0 * ((y as f32 * fy / h as f32) * 4.7).cos()
                            + rng.byte(0, 16) as f32
                            - 8.0;
                        rgb[(y * w + x) * 3 + c] = v.clamp(0.0, 255.0) as u8;
                    }
                }
            }
            Image { width: w, height: h, rgb }
        })
        .collect()
}

/// The largest difference between two runs' frames, in 8-bit units.
fn max_diff(a: &[Image], b: &[Image]) -> u8 {
    assert_eq!(a.len(), b.len(), "frame counts differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            assert_eq!((x.width, x.height), (y.width, y.height));
            x.rgb.iter().zip(&y.rgb).map(|(p, q)| p.abs_diff(*q)).max().unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
}

fn same_through_server(input: &[Image], fps: i32, local: &str, remote: &str) {
    let (want, _) = run_frames(input, fps, local).unwrap_or_else(|e| panic!("{local}: {e}"));
    let (got, _) = run_frames(input, fps, remote).unwrap_or_else(|e| panic!("{remote}: {e}"));
    assert!(!want.is_empty(), "{local} gave no frames");
    // The same ONNX Runtime version on both sides: the float outputs agree to rounding, and the
    // element rounds to 8 bits, so at most one step apart where a value sits on a boundary.
    let d = max_diff(&want, &got);
    assert!(d <= 1, "{remote}: differs from the local run by up to {d} (8-bit units)");
}

#[test]
fn every_element_matches_its_local_run() {
    let dir = scratch("remote-repo");
    let repo = dir.join("models");
    let style_manifest = r#"{"range": "0..1", "layout": "nchw", "channel_order": "rgb", "multiple": 1}"#;
    let mut style = Served::new("style_pencil", root().join("models/style_pencil.onnx"));
    style.manifest = Some(style_manifest.into());
    write_repository(
        &repo,
        &[
            Served::new("sr_x2", root().join("models/sr_x2.onnx")),
            style,
            Served::new("rife", test_model("rife/rife_2in.onnx")),
            Served::new("w2l", test_model("lipsync/wav2lip_tiny96.onnx")),
        ],
    )
    .unwrap();
    let server = Server::start(&repo).unwrap();
    let sink = "videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false";

    let input = frames(3, 40, 24, 1);
    same_through_server(
        &input,
        25,
        &format!("aiupscale model=builtin:sr_x2 ! {sink}"),
        &format!("aiupscale model={} ! {sink}", server.uri("sr_x2")),
    );
    same_through_server(
        &input,
        25,
        &format!("aistylize model=builtin:style_pencil ! {sink}"),
        &format!("aistylize model={} ! {sink}", server.uri("style_pencil")),
    );
    let pair = frames(2, 64, 32, 2);
    same_through_server(
        &pair,
        1,
        &format!(
            "aiinterpolate mode=model model={} ! video/x-raw,framerate=2/1 ! {sink}",
            test_model("rife/rife_2in.onnx").display()
        ),
        &format!("aiinterpolate mode=model model={} ! video/x-raw,framerate=2/1 ! {sink}", server.uri("rife")),
    );

    // ailipsync's Wav2Lip model, fed a fixed face and speech-like sound.
    let face: lipsync::Face = [40, 16, 80, 96];
    let faces = vec![lipsync::face_image(160, 128, face); 6];
    let audio = Audio { samples: lipsync::speech(0.5, 16000, |_| 1.0), rate: 16000, channels: 1, start_ms: 0 };
    let props = |model: &str| {
        format!("face-box=\"<{}, {}, {}, {}>\" voice-activity=false model={model}", face[0], face[1], face[2], face[3])
    };
    let local = lipsync::run(
        &faces,
        25,
        Some(&audio),
        &props(&test_model("lipsync/wav2lip_tiny96.onnx").display().to_string()),
        false,
    );
    let remote = lipsync::run(&faces, 25, Some(&audio), &props(&server.uri("w2l")), false);
    assert!(local.errors.is_empty() && remote.errors.is_empty(), "{:?} {:?}", local.errors, remote.errors);
    assert_eq!(local.frames.len(), 6);
    assert!(local.frames[0].rgb != faces[0].rgb, "the local model changed nothing: the comparison would prove nothing");
    let d = max_diff(&local.frames, &remote.frames);
    assert!(d <= 1, "ailipsync through the server differs from the local run by up to {d}");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn aisrc_networks_on_the_server_match_the_local_run() {
    // The built-in model's three networks, served under the prefix t2v (no VAE encoder: it is
    // optional, for image-to-video only).
    let dir = scratch("remote-t2v");
    let repo = dir.join("models");
    let builtin = root().join("models/t2v_builtin");
    write_repository(
        &repo,
        &[
            Served::new("t2v-text-encoder", builtin.join("text_encoder/model.onnx")),
            Served::new("t2v-unet", builtin.join("unet/model.onnx")),
            Served::new("t2v-vae-decoder", builtin.join("vae_decoder/model.onnx")),
        ],
    )
    .unwrap();
    let server = Server::start(&repo).unwrap();
    let timeout = std::time::Duration::from_secs(120);
    let props = "seed=5 steps=2 num-frames=2 prompt=\"a blue square moving left\"";
    let caps = "video/x-raw,format=RGB,width=32,height=32";
    let run = |model: &str| {
        let g = t2v::generate(&format!("{props} {model}"), caps, timeout);
        assert!(g.run.errors.is_empty() && g.run.eos, "{model}: {:?}", g.run.errors);
        assert_eq!((g.frames.len(), g.width, g.height), (2, 32, 32), "{model}");
        g.frames.into_iter().map(|rgb| Image { width: 32, height: 32, rgb }).collect::<Vec<_>>()
    };
    let local = run("");
    let (lo, hi) = (local[0].rgb.iter().min().unwrap(), local[0].rgb.iter().max().unwrap());
    assert!(hi - lo > 50, "the local frame spans only {lo}..{hi}: the comparison would prove nothing");
    // The built-in's tokenizer and scheduler; then the same from a local folder.
    for model in [
        format!("model={} remote-timeout=20000 remote-retries=1", server.uri("t2v")),
        format!("model=\"{}?folder={}\"", server.uri("t2v"), builtin.display()),
    ] {
        let d = max_diff(&local, &run(&model));
        eprintln!("aisrc {model}: largest difference from the local run {d} (8-bit units)");
        assert!(d <= 1, "aisrc {model} differs from the local run by up to {d} (8-bit units)");
    }
    // Image-to-video without PREFIX-vae-encoder on the server: an error naming it.
    let picture = dir.join("start.png");
    gst_ai_tests::save_png(&picture, 32, 32, &local[0].rgb).unwrap();
    let g = t2v::generate(&format!("{props} model={} image={}", server.uri("t2v"), picture.display()), caps, timeout);
    let e = g.run.errors.join(" ");
    assert!(e.contains("image-to-video needs the served model t2v-vae-encoder"), "{e}");
    // A prefix the server does not have: the error names the network's served model.
    let g = t2v::generate(&format!("{props} model={}", server.uri("zeroscope")), caps, timeout);
    let e = g.run.errors.join(" ");
    assert!(e.contains("zeroscope-text-encoder"), "{e}");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
