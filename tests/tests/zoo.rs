//! `zoo:NAME` in every element's model property: the search path (`GST_AI_ZOO_PATH`, then the
//! set-up's `.deps/zoo`), a user's own folder of named models, the blurbs that list them, and the
//! error for a name that is nowhere. Run through gst-launch-1.0 / gst-inspect-1.0 so that each
//! case has its own environment. The zoo models themselves are tested by the zoo_* files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(|p| p.parent()).expect("target/<profile>").to_path_buf()
}

/// A fresh folder under the temp dir, removed when dropped.
struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("gst-ai-zoo-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        Self(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn gst(tool: &str, args: &[&str], zoo_path: Option<&Path>, registry: &Path) -> Output {
    let dir = plugin_dir();
    assert!(dir.join("libgstai.so").is_file(), "{} was not built", dir.join("libgstai.so").display());
    let mut cmd = Command::new(tool);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("GST_PLUGIN_PATH", &dir)
        .env("GST_REGISTRY", registry);
    if let Some(z) = zoo_path {
        cmd.env("GST_AI_ZOO_PATH", z);
    }
    cmd.output().unwrap_or_else(|e| panic!("{tool} runs: {e}"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn a_users_folder_adds_named_models_listed_by_gst_inspect() {
    let tmp = TempDir::new("user");
    let reg = tmp.0.join("registry.bin");
    let zoo = tmp.0.join("my models");
    std::fs::create_dir_all(&zoo).unwrap();
    std::fs::copy(gst_ai_tests::test_model("nearest_x3.onnx"), zoo.join("mine-x3.onnx")).unwrap();

    let out = gst(
        "gst-launch-1.0",
        &[
            "-v",
            "videotestsrc",
            "num-buffers=2",
            "!",
            "video/x-raw,format=RGB,width=40,height=30",
            "!",
            "aiupscale",
            "model=zoo:mine-x3",
            "!",
            "fakesink",
        ],
        Some(&zoo),
        &reg,
    );
    let t = text(&out);
    assert!(out.status.success(), "zoo:mine-x3 from GST_AI_ZOO_PATH should run:\n{t}");
    assert!(t.contains("width=(int)120, height=(int)90"), "the user's x3 model should have made 120x90:\n{t}");

    let inspect = text(&gst("gst-inspect-1.0", &["aiupscale"], Some(&zoo), &reg));
    assert!(inspect.contains("zoo:mine-x3"), "gst-inspect's model blurb should list zoo:mine-x3:\n{inspect}");
}

#[test]
fn a_name_that_is_nowhere_is_an_error_naming_the_search_path_in_every_element() {
    let tmp = TempDir::new("missing");
    let reg = tmp.0.join("registry.bin");
    let v = "videotestsrc num-buffers=3 ! video/x-raw,format=RGB,width=64,height=48,framerate=10/1";
    let a = "audiotestsrc num-buffers=3 ! audio/x-raw,rate=16000,channels=1";
    let cases = [
        format!("{v} ! aiupscale model=zoo:no-such-sr ! fakesink"),
        format!("{v} ! aistylize model=zoo:no-such-sr ! fakesink"),
        format!("{v} ! aiinterpolate mode=model model=zoo:no-such-sr ! fakesink"),
        format!("{v} ! ailipsync name=l face-model=zoo:no-such-sr ! fakesink {a} ! l.audio"),
        "aisrc model=zoo:no-such-sr num-frames=2 ! fakesink".to_string(),
    ];
    for desc in cases {
        let args: Vec<&str> = desc.split_whitespace().collect();
        let out = gst("gst-launch-1.0", &args, Some(&tmp.0), &reg);
        let t = text(&out);
        assert!(!out.status.success(), "{desc}: should fail");
        assert!(
            t.contains("zoo:no-such-sr is not in the model zoo"),
            "{desc}: the error should name the zoo name:\n{t}"
        );
        assert!(t.contains(&tmp.0.display().to_string()), "{desc}: the error should name the search path:\n{t}");
    }
}
