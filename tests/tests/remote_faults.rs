//! Faults of remote inference against a real Triton server (see remote.rs): no server at
//! start, a model the server does not have or cannot load, a model of the wrong contract or
//! answering the wrong shape, and the server killed, restarted or hung under a running pipeline.
//! Every one ends in a message naming the server and the model, or in a complete stream;
//! never in a hang.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_ai_tests::remote::{Served, Server, free_port, scratch, write_repository};
use gst_ai_tests::{expect_error, init, on_video_sample, parse, root, run_pipeline, test_model};

const SRC: &str = "videotestsrc num-buffers=2 ! video/x-raw,width=40,height=24";

#[test]
fn no_server_at_start_is_an_error_naming_the_uri() {
    let uri = format!("kserve://127.0.0.1:{}/sr_x2", free_port());
    let t0 = Instant::now();
    let e = expect_error(&format!("{SRC} ! aiupscale model={uri} remote-retries=2 ! fakesink"));
    assert!(
        e.contains(&uri) && e.contains("no answer from the inference server") && e.contains("after 3 tries"),
        "{e}"
    );
    assert!(t0.elapsed() < Duration::from_secs(20), "took {:?}", t0.elapsed());
    let e = expect_error(&format!("{SRC} ! aiupscale model=kserve://127.0.0.1/a/b/c ! fakesink"));
    assert!(e.contains("too many path parts") && e.contains("kserve://host[:port]/model[/version]"), "{e}");
}

#[test]
fn missing_broken_misfit_and_misshapen_models_are_named() {
    let dir = scratch("remote-faults");
    let repo = dir.join("models");
    let sr = root().join("models/sr_x2.onnx");
    let mut bad_shape = Served::new("sr_bad", &sr);
    bad_shape.wrong_shape = true;
    let mut broken = Served::new("broken", &sr);
    broken.fail_init = Some("weights missing (test)".into());
    write_repository(
        &repo,
        &[Served::new("sr_x2", &sr), bad_shape, broken, Served::new("rife", test_model("rife/rife_2in.onnx"))],
    )
    .unwrap();
    let server = Server::start(&repo).unwrap();
    let run = |model: &str| expect_error(&format!("{SRC} ! aiupscale model={} ! fakesink", server.uri(model)));

    let e = run("nope");
    assert!(e.contains(&server.uri("nope")) && e.contains("has no model 'nope'") && e.contains("sr_x2"), "{e}");
    let e = run("broken");
    assert!(
        e.contains(&server.uri("broken")) && e.contains("not ready") && e.contains("weights missing (test)"),
        "{e}"
    );
    // The contract comes from the server's metadata and is judged as a local file's would be.
    let e = run("rife");
    assert!(e.contains(&server.uri("rife")) && e.contains("does not fit the super-resolution contract"), "{e}");
    assert!(e.contains("found 3 (img0, img1, timestep)"), "{e}");
    let e = run("sr_bad");
    assert!(e.contains(&server.uri("sr_bad")) && e.contains("found 96x63"), "{e}");
    // A version the server does not have.
    let e = expect_error(&format!("{SRC} ! aiupscale model={}/7 ! fakesink", server.uri("sr_x2")));
    assert!(e.contains(&format!("{}/7", server.uri("sr_x2"))) && e.contains("not ready"), "{e}");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs `frames` frames (one every 100 ms) through aiupscale on `uri` with `props`, calling
/// `during` once the first frames came back; returns (frames out, errors, took).
fn run_under(uri: &str, props: &str, frames: usize, during: impl FnOnce()) -> (usize, Vec<String>, Duration) {
    init();
    let p = parse(&format!(
        "videotestsrc num-buffers={frames} ! video/x-raw,width=32,height=16,framerate=10/1 ! \
         identity sleep-time=100000 ! aiupscale model={uri} {props} ! appsink name=sink sync=false"
    ));
    let sink = p.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    on_video_sample(&sink, move |_, _| {
        c.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    let t0 = Instant::now();
    let runner = {
        let p = p.clone();
        std::thread::spawn(move || run_pipeline(&p, Duration::from_secs(120)))
    };
    while count.load(Ordering::SeqCst) < 3 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(count.load(Ordering::SeqCst) >= 3, "no frames came back before the fault");
    during();
    let r = runner.join().unwrap();
    (count.load(Ordering::SeqCst), r.errors, t0.elapsed())
}

#[test]
fn server_killed_mid_stream_restarted_or_gone_or_hung() {
    let dir = scratch("remote-kill");
    let repo = dir.join("models");
    write_repository(&repo, &[Served::new("sr_x2", root().join("models/sr_x2.onnx"))]).unwrap();
    let mut server = Server::start(&repo).unwrap();
    let uri = server.uri("sr_x2");

    // Killed and back within the retries: every frame comes out.
    let mut seen_at_kill = 0;
    let (n, errors, _) = run_under(&uri, "remote-retries=60 remote-timeout=5000", 30, || {
        server.kill();
        assert!(!server.ready());
        server.restart().unwrap();
        seen_at_kill = 1;
    });
    assert_eq!(seen_at_kill, 1);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(n, 30, "frames lost across the restart");

    // Killed for good: the retries run out, then an error naming the server; no hang.
    let (n, errors, took) = run_under(&uri, "remote-retries=2 remote-timeout=2000", 30, || server.kill());
    assert!(n < 30);
    let e = errors.join(" | ");
    assert!(e.contains(&uri) && e.contains("after 3 tries"), "{e}");
    assert!(took < Duration::from_secs(30), "took {took:?}");

    // Hung (stopped, connections accepted but never answered): the request deadline fires.
    server.restart().unwrap();
    let (n, errors, took) = run_under(&uri, "remote-retries=1 remote-timeout=500", 30, || server.freeze(true));
    assert!(n < 30);
    let e = errors.join(" | ");
    assert!(e.contains(&uri) && e.contains("timed out") && e.contains("after 2 tries"), "{e}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
