//! Proof that control paths do not wait for a model run: a pipeline whose element runs a
//! deliberately slow model (tests/models/slow/, seconds per run), control calls made while the
//! first frame is inside the element, and one ordered log of what happened. Tests assert on the
//! ORDER of the log (each call returned before the frame came out), never on a duration.

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use gst::prelude::*;

/// A control call made while a frame is being processed: its name (for the log) and what it does
/// with the element (a query, a property read or write).
pub type Check = (&'static str, Box<dyn Fn(&gst::Element) + Send>);

/// The ordered log of one run: `in` (the first buffer entered the element's `sink_pad`, or the
/// n-th: [`run_checks_at`]), then, in the order they happened, `<name> returned` for each check
/// and `out` (the first buffer left the element's `src` pad, or the n-th), then `eos` or
/// `error: ...`.
#[derive(Debug)]
pub struct Log(pub Vec<String>);

impl Log {
    pub fn position(&self, entry: &str) -> Option<usize> {
        self.0.iter().position(|e| e == entry)
    }

    /// Asserts that every check returned after the frame went in and before it came out.
    pub fn assert_answered_while_busy(&self, checks: &[&str]) {
        let log = &self.0;
        let i = self.position("in").unwrap_or_else(|| panic!("no frame entered the element: {log:?}"));
        let o = self.position("out").unwrap_or_else(|| panic!("no frame left the element: {log:?}"));
        for c in checks {
            let entry = format!("{c} returned");
            let p = self.position(&entry).unwrap_or_else(|| panic!("{c} never returned: {log:?}"));
            assert!(i < p && p < o, "{c} did not return while the frame was being processed: {log:?}");
        }
    }
}

/// Runs `desc` (it must name the element under test `el`) until EOS, error or `timeout`. When the
/// first buffer has entered `el`'s `sink_pad`, waits `settle` for the model run to be under way,
/// then makes each check from this thread, logging when it returns.
pub fn run_checks(desc: &str, sink_pad: &str, checks: Vec<Check>, settle: Duration, timeout: Duration) -> Log {
    run_checks_at(desc, sink_pad, 1, 1, checks, settle, timeout)
}

/// [`run_checks`] for an element whose model runs on a later buffer than the first (e.g. one that
/// needs a frame of look-ahead): `in` is logged, and the checks made `settle` after it, when the
/// `nth_in`-th buffer (from 1) enters `sink_pad`; `out` is logged when the `nth_out`-th leaves the
/// `src` pad.
pub fn run_checks_at(
    desc: &str,
    sink_pad: &str,
    nth_in: usize,
    nth_out: usize,
    checks: Vec<Check>,
    settle: Duration,
    timeout: Duration,
) -> Log {
    assert!(nth_in >= 1 && nth_out >= 1, "buffers are counted from 1");
    crate::init();
    let pipeline = crate::parse(desc);
    let el = pipeline.by_name("el").expect("the element under test is named el");
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let (in_tx, in_rx) = mpsc::channel::<()>();
    let in_tx = Mutex::new(Some(in_tx));
    {
        let log = log.clone();
        let pad = el.static_pad(sink_pad).unwrap_or_else(|| panic!("no pad {sink_pad}"));
        let seen = std::sync::atomic::AtomicUsize::new(0);
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == nth_in
                && let Some(tx) = in_tx.lock().unwrap().take()
            {
                log.lock().unwrap().push("in".into());
                let _ = tx.send(());
            }
            gst::PadProbeReturn::Ok
        });
    }
    {
        let log = log.clone();
        let seen = std::sync::atomic::AtomicUsize::new(0);
        el.static_pad("src").expect("a src pad").add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == nth_out {
                log.lock().unwrap().push("out".into());
            }
            gst::PadProbeReturn::Ok
        });
    }
    let bus = pipeline.bus().expect("a bus");
    pipeline.set_state(gst::State::Playing).expect("to PLAYING");
    if in_rx.recv_timeout(timeout).is_ok() {
        std::thread::sleep(settle);
        for (name, check) in checks {
            check(&el);
            log.lock().unwrap().push(format!("{name} returned"));
        }
    }
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            log.lock().unwrap().push("timeout".into());
            break;
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else { continue };
        match msg.view() {
            gst::MessageView::Eos(..) => {
                log.lock().unwrap().push("eos".into());
                break;
            }
            gst::MessageView::Error(e) => {
                log.lock().unwrap().push(format!("error: {}", e.error()));
                break;
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).expect("to NULL");
    Log(Arc::try_unwrap(log).map(|m| m.into_inner().unwrap()).unwrap_or_else(|a| a.lock().unwrap().clone()))
}

/// A latency query on the element's src pad.
pub fn latency_query() -> Check {
    (
        "latency query",
        Box::new(|el: &gst::Element| {
            let mut q = gst::query::Latency::new();
            el.static_pad("src").expect("src").peer_query(&mut q);
            let _ = el.static_pad("src").expect("src").query(&mut q);
        }),
    )
}

/// A caps query on the element's src pad.
pub fn caps_query() -> Check {
    (
        "caps query",
        Box::new(|el: &gst::Element| {
            let _ = el.static_pad("src").expect("src").query_caps(None);
        }),
    )
}

/// Reads the property `name`.
pub fn read_property(name: &'static str) -> Check {
    (
        name,
        Box::new(move |el: &gst::Element| {
            let _ = el.property_value(name);
        }),
    )
}

/// Sets the property `name` to `value`; logged as `set <name>`.
pub fn write_property(name: &'static str, value: impl ToSendValue) -> Check {
    let value = value.to_send_value();
    (
        // One short string per check, for the life of the test program.
        Box::leak(format!("set {name}").into_boxed_str()),
        Box::new(move |el: &gst::Element| {
            el.set_property_from_value(name, &value);
        }),
    )
}

/// Path of a slow test model (tests/models/slow/).
pub fn slow_model(name: &str) -> std::path::PathBuf {
    crate::root().join("tests/models/slow").join(name)
}

/// Reads the element's `stats` and keeps its u64 field `field` in `seen`: made last, it tells
/// whether the checks before it waited for the run (the frame was then already counted).
pub fn stats_field(field: &'static str, seen: Arc<std::sync::atomic::AtomicU64>) -> Check {
    (
        "stats read",
        Box::new(move |el: &gst::Element| {
            let s = el.property::<gst::Structure>("stats");
            let v = s.get::<u64>(field).unwrap_or_else(|e| panic!("stats has no u64 {field}: {e} ({s})"));
            seen.store(v, std::sync::atomic::Ordering::SeqCst);
        }),
    )
}

/// The ordering test of a video filter (`element`, fed 64x48 RGB) running the slow model `model`:
/// a caps and a latency query, a read of the property `read`, the property write `write` and, last,
/// a `stats` read all return while the first frame is inside the element, before it comes out
/// and before it is counted (a call that had waited for the run would see it counted). Returns the
/// log for further assertions.
pub fn assert_filter_answers_while_busy(element: &str, model: &str, read: &'static str, write: Check) -> Log {
    let desc = format!(
        "videotestsrc num-buffers=2 ! video/x-raw,format=RGB,width=64,height=48 ! {element} name=el model={} \
         ! fakesink",
        slow_model(model).display()
    );
    let frames = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
    let write_name = write.0;
    let log = run_checks(
        &desc,
        "sink",
        vec![caps_query(), latency_query(), read_property(read), write, stats_field("frames", frames.clone())],
        Duration::from_millis(300),
        Duration::from_secs(60),
    );
    log.assert_answered_while_busy(&["caps query", "latency query", read, write_name, "stats read"]);
    assert_eq!(frames.load(std::sync::atomic::Ordering::SeqCst), 0, "the calls waited for the run: {log:?}");
    assert_eq!(log.0.last().map(String::as_str), Some("eos"), "{log:?}");
    log
}
