//! Sessions shared without serialising: a model used by several callers at once opens another
//! session when its first one is busy, so runs overlap instead of queueing; and a run in flight
//! stops when its `Cancel` is triggered. Uses the slow fixture (tests/models/slow/, seconds per
//! run): the assertions are on what happened and in which order, never on durations.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst_ai_runtime::backend::model::ModelInput;
use gst_ai_runtime::{Cancel, Device, Error, InputData, ModelSource, Precision, load};

fn slow(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/models/slow").join(name)
}

fn run(model: &gst_ai_runtime::Model, data: &[f32], cancel: Option<&Cancel>) -> gst_ai_runtime::Result<Vec<f32>> {
    let input = [ModelInput { name: &model.inputs[0].name, shape: &[1, 3, 16, 16], data: InputData::F32(data) }];
    model.run_with(&input, cancel, |_, out| Ok(out.to_vec()))
}

#[test]
fn overlapping_runs_use_two_sessions_and_agree() {
    // Its own file name in the cache key would be shared with other tests: load a fresh Model.
    let model = load(&ModelSource::File(slow("sr_x2_slow.onnx")), Device::Cpu, Precision::Auto).unwrap();
    assert_eq!(model.sessions_opened(), 1);
    let data: Vec<f32> = (0..3 * 16 * 16).map(|i| (i % 251) as f32 / 251.0).collect();
    let log = Arc::new(Mutex::new(Vec::<&str>::new()));
    let (a, b) = std::thread::scope(|s| {
        let first = s.spawn(|| {
            log.lock().unwrap().push("first started");
            let r = run(&model, &data, None);
            log.lock().unwrap().push("first returned");
            r
        });
        // Give the first run time to take the session, then start the second while it runs.
        std::thread::sleep(Duration::from_millis(300));
        let second = s.spawn(|| {
            log.lock().unwrap().push("second started");
            let r = run(&model, &data, None);
            log.lock().unwrap().push("second returned");
            r
        });
        (first.join().unwrap(), second.join().unwrap())
    });
    let log = log.lock().unwrap().clone();
    assert_eq!(&log[..2], ["first started", "second started"], "{log:?}");
    // The second run found the first session busy and opened another instead of waiting.
    assert_eq!(model.sessions_opened(), 2, "{log:?}");
    assert_eq!(a.unwrap(), b.unwrap());
}

#[test]
fn cancel_stops_a_run_in_flight() {
    let model = load(&ModelSource::File(slow("style_slow.onnx")), Device::Cpu, Precision::Auto).unwrap();
    let data = vec![0.5f32; 3 * 16 * 16];
    let cancel = Cancel::new().unwrap();
    let log = Arc::new(Mutex::new(Vec::<&str>::new()));
    let result = std::thread::scope(|s| {
        let runner = s.spawn(|| {
            let r = run(&model, &data, Some(&cancel));
            log.lock().unwrap().push("run returned");
            r
        });
        std::thread::sleep(Duration::from_millis(300));
        log.lock().unwrap().push("cancelling");
        cancel.cancel();
        runner.join().unwrap()
    });
    assert!(matches!(result, Err(Error::Cancelled)), "{:?}", result.map(|v| v.len()));
    assert_eq!(*log.lock().unwrap(), ["cancelling", "run returned"]);
    // A cancelled token stops later runs at once; a fresh one runs them.
    assert!(matches!(run(&model, &data, Some(&cancel)), Err(Error::Cancelled)));
    assert!(run(&model, &data, Some(&Cancel::new().unwrap())).is_ok());
}
