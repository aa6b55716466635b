//! For aisrc's tests, benchmark and demo: running the element into an appsink (frames, times,
//! tags, messages, warnings), and the prompt-adherence checker, which reads the colour, shape and
//! direction of the moving shape in a generated clip. The rules are the ones of
//! `recognise` in models/train_t2v.py, which measured the same thing during training.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::prelude::*;

/// The built-in model's palette and background (models/train_t2v.py), RGB 0..1.
pub const COLOURS: [(&str, [f32; 3]); 4] = [
    ("red", [0.92, 0.12, 0.10]),
    ("green", [0.12, 0.80, 0.15]),
    ("blue", [0.15, 0.30, 0.98]),
    ("yellow", [0.96, 0.90, 0.12]),
];
pub const BACKGROUND: [f32; 3] = [0.08, 0.08, 0.10];
pub const SHAPES: [&str; 2] = ["circle", "square"];
pub const DIRECTIONS: [&str; 4] = ["left", "right", "up", "down"];
/// Colour x shape x direction combinations never shown in training (HELD_OUT in the script).
pub const HELD_OUT: [(&str, &str, &str); 8] = [
    ("red", "circle", "up"),
    ("red", "square", "left"),
    ("green", "circle", "right"),
    ("green", "square", "down"),
    ("blue", "circle", "left"),
    ("blue", "square", "up"),
    ("yellow", "circle", "down"),
    ("yellow", "square", "right"),
];

/// What the checker read from a clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub colour: &'static str,
    pub shape: &'static str,
    pub direction: &'static str,
}

/// Reads a clip of packed RGB frames (`width` x `height`): foreground = pixels further than 0.25
/// from the background colour; colour = palette entry nearest the foreground's mean; shape =
/// the mean share of its bounding box the foreground fills (a disc fills pi/4, a square all of
/// it; below 0.9 is a circle); direction = the larger component of the centroid's motion from
/// the first frame to the last. None when a frame has (almost) no foreground.
pub fn recognise(frames: &[Vec<u8>], width: usize, height: usize) -> Option<Reading> {
    let mut fills = Vec::new();
    let mut centroids = Vec::new();
    let mut sum = [0.0f64; 3];
    let mut count = 0usize;
    for f in frames {
        let (mut n, mut sx, mut sy) = (0usize, 0.0f64, 0.0f64);
        let (mut x0, mut x1, mut y0, mut y1) = (usize::MAX, 0, usize::MAX, 0);
        for y in 0..height {
            for x in 0..width {
                let p = &f[(y * width + x) * 3..(y * width + x) * 3 + 3];
                let rgb = [p[0] as f32 / 255.0, p[1] as f32 / 255.0, p[2] as f32 / 255.0];
                let d: f32 = rgb.iter().zip(BACKGROUND).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt();
                if d > 0.25 {
                    n += 1;
                    sx += x as f64;
                    sy += y as f64;
                    (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
                    for c in 0..3 {
                        sum[c] += rgb[c] as f64;
                    }
                }
            }
        }
        if n < 4 {
            return None;
        }
        count += n;
        fills.push(n as f64 / ((x1 - x0 + 1) * (y1 - y0 + 1)) as f64);
        centroids.push((sx / n as f64, sy / n as f64));
    }
    let mean = sum.map(|s| (s / count as f64) as f32);
    let dist = |c: &[f32; 3]| c.iter().zip(mean).map(|(a, b)| (a - b) * (a - b)).sum::<f32>();
    let colour = COLOURS.iter().min_by(|a, b| dist(&a.1).total_cmp(&dist(&b.1)))?.0;
    let fill = fills.iter().sum::<f64>() / fills.len() as f64;
    let shape = if fill < 0.9 { "circle" } else { "square" };
    let (first, last) = (centroids.first()?, centroids.last()?);
    let (dx, dy) = (last.0 - first.0, last.1 - first.1);
    let direction = if dx.abs() > dy.abs() {
        if dx > 0.0 { "right" } else { "left" }
    } else if dy > 0.0 {
        "down"
    } else {
        "up"
    };
    Some(Reading { colour, shape, direction })
}

/// What one aisrc run produced: the frames, their timestamps and tags, and the bus's account.
#[derive(Debug, Default)]
pub struct Generated {
    pub run: crate::RunResult,
    /// Packed RGB frames (the appsink asks for RGB).
    pub frames: Vec<Vec<u8>>,
    pub width: usize,
    pub height: usize,
    pub pts: Vec<Option<gst::ClockTime>>,
    pub durations: Vec<Option<gst::ClockTime>>,
    pub tags: Vec<gst::TagList>,
}

/// Runs `aisrc <props> ! <caps> ! appsink` until EOS, an error or `timeout`. `caps` is a caps
/// string for the appsink ("video/x-raw,format=RGB" when empty); frames are copied out
/// without padding (width x 3 bytes per row) when the format is RGB.
pub fn generate(props: &str, caps: &str, timeout: Duration) -> Generated {
    generate_with(props, caps, timeout, |_, _| false)
}

/// [`generate`], calling `on_message(pipeline, message)` for every bus message (to change
/// properties while playing); when it returns true the run ends there (no EOS).
pub fn generate_with(
    props: &str,
    caps: &str,
    timeout: Duration,
    mut on_message: impl FnMut(&gst::Pipeline, &gst::Message) -> bool,
) -> Generated {
    crate::init();
    let caps = if caps.is_empty() { "video/x-raw,format=RGB" } else { caps };
    let desc = format!("aisrc name=src {props} ! {caps} ! appsink name=sink sync=false");
    let pipeline = crate::parse(&desc);
    let sink = pipeline.by_name("sink").expect("sink").downcast::<gst_app::AppSink>().expect("appsink");
    let out = Arc::new(Mutex::new(Generated::default()));
    let o2 = out.clone();
    crate::on_video_sample(&sink, move |info, buffer| {
        let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
        let (w, h) = (info.width() as usize, info.height() as usize);
        let mut g = o2.lock().expect("not poisoned");
        if info.format() == gst_video::VideoFormat::Rgb {
            let stride = info.stride()[0] as usize;
            let mut f = Vec::with_capacity(w * h * 3);
            for y in 0..h {
                f.extend_from_slice(&map[y * stride..y * stride + w * 3]);
            }
            g.frames.push(f);
        } else {
            g.frames.push(map.to_vec());
        }
        g.width = w;
        g.height = h;
        g.pts.push(buffer.pts());
        g.durations.push(buffer.duration());
        Ok(())
    });
    let o3 = out.clone();
    sink.static_pad("sink").expect("sink pad").add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        if let Some(gst::PadProbeData::Event(e)) = &info.data
            && let gst::EventView::Tag(t) = e.view()
        {
            o3.lock().expect("not poisoned").tags.push(t.tag_owned());
        }
        gst::PadProbeReturn::Ok
    });
    let run = crate::run_pipeline_with(&pipeline, timeout, |msg| on_message(&pipeline, msg));
    let mut g = std::mem::take(&mut *out.lock().expect("not poisoned"));
    g.run = run;
    g
}

/// Adherence of the built-in model: for each held-out combination and each seed, generates a
/// clip with "a <colour> <shape> moving <direction>" and reads it back. Returns per-attribute and
/// all-three accuracies (0..1) and the readings.
pub struct Adherence {
    pub clips: usize,
    pub colour: f64,
    pub shape: f64,
    pub direction: f64,
    pub all: f64,
    pub misses: Vec<String>,
}

pub fn adherence(combos: &[(&str, &str, &str)], seeds: &[u64], extra_props: &str) -> Adherence {
    let (mut c, mut s, mut d, mut all, mut n) = (0, 0, 0, 0, 0);
    let mut misses = Vec::new();
    for &(colour, shape, direction) in combos {
        for &seed in seeds {
            let prompt = format!("a {colour} {shape} moving {direction}");
            let g = generate(&format!("prompt=\"{prompt}\" seed={seed} {extra_props}"), "", Duration::from_secs(120));
            assert!(g.run.errors.is_empty() && g.run.eos, "{prompt}: {:?}", g.run.errors);
            n += 1;
            let r = recognise(&g.frames, g.width, g.height);
            let ok = r.as_ref().map(|r| (r.colour == colour, r.shape == shape, r.direction == direction));
            let (oc, os, od) = ok.unwrap_or((false, false, false));
            c += oc as usize;
            s += os as usize;
            d += od as usize;
            if oc && os && od {
                all += 1;
            } else {
                misses.push(format!("'{prompt}' seed {seed}: read {r:?}"));
            }
        }
    }
    let f = |k: usize| k as f64 / n.max(1) as f64;
    Adherence { clips: n, colour: f(c), shape: f(s), direction: f(d), all: f(all), misses }
}

/// What [`during_generation`] waits for after the checks, before it sets the pipeline to NULL.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Then {
    Nothing,
    /// The next denoising step.
    Step,
    /// EOS (or an error) on the bus.
    Eos,
}

/// Runs `aisrc name=<name> <props> ! fakesink` and, once the first denoising step is reported
/// (a generation is under way), makes each check from this thread, logging when it returns.
/// Then waits for `then` (up to `timeout`) and sets the pipeline to NULL. The log holds,
/// in the order they happened: `clip C step S` and `clip C made` as aisrc posts them (a sync
/// handler logs them in the worker's thread, as they are posted), `out` when the first buffer
/// leaves aisrc, `<check> returned`, `eos` and `error: ...` as posted, `null returned`, and last
/// whether the worker thread (the one that posted the steps) is still alive.
pub fn during_generation(
    name: &str,
    props: &str,
    checks: Vec<crate::control::Check>,
    then: Then,
    timeout: Duration,
) -> crate::control::Log {
    crate::init();
    let pipeline = crate::parse(&format!("aisrc name={name} {props} ! fakesink"));
    let el = pipeline.by_name(name).expect("aisrc");
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let push = {
        let log = log.clone();
        move |e: String| log.lock().expect("not poisoned").push(e)
    };
    let (step_tx, step_rx) = std::sync::mpsc::channel::<()>();
    let (end_tx, end_rx) = std::sync::mpsc::channel::<()>();
    let step_tx = Mutex::new(step_tx);
    let worker = Arc::new(Mutex::new(None));
    let w = worker.clone();
    let (end_tx, p) = (Mutex::new(end_tx), push.clone());
    pipeline.bus().expect("a bus").set_sync_handler(move |_, msg| {
        let entry = match msg.view() {
            gst::MessageView::Element(e) => match e.structure() {
                Some(s) if s.name() == "aisrc-step" => Some(format!(
                    "clip {} step {}",
                    s.get::<u64>("clip").unwrap_or(0),
                    s.get::<u32>("step").unwrap_or(0)
                )),
                Some(s) if s.name() == "aisrc-clip" => Some(format!("clip {} made", s.get::<u64>("clip").unwrap_or(0))),
                _ => None,
            },
            gst::MessageView::Eos(_) => Some("eos".to_string()),
            gst::MessageView::Error(e) => Some(format!("error: {}", e.error())),
            _ => None,
        };
        if let Some(entry) = entry {
            let (end, step) = (entry == "eos" || entry.starts_with("error"), entry.contains(" step "));
            // Logged first, then told: the log has it before anything the test then does.
            p(entry);
            if end {
                let _ = end_tx.lock().expect("not poisoned").send(());
            }
            if step {
                w.lock().expect("not poisoned").get_or_insert_with(crate::thread_id);
                let _ = step_tx.lock().expect("not poisoned").send(());
            }
        }
        gst::BusSyncReply::Drop
    });
    let (p, seen) = (push.clone(), std::sync::atomic::AtomicBool::new(false));
    el.static_pad("src").expect("src pad").add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        if !seen.swap(true, std::sync::atomic::Ordering::SeqCst) {
            p("out".into());
        }
        gst::PadProbeReturn::Ok
    });
    pipeline.set_state(gst::State::Playing).expect("to PLAYING");
    if step_rx.recv_timeout(timeout).is_ok() {
        for (check, run) in checks {
            run(&el);
            push(format!("{check} returned"));
        }
        match then {
            Then::Nothing => {}
            Then::Step => {
                let _ = step_rx.try_iter().count();
                let _ = step_rx.recv_timeout(timeout);
            }
            Then::Eos => {
                let _ = end_rx.recv_timeout(timeout);
            }
        }
    }
    pipeline.set_state(gst::State::Null).expect("to NULL");
    push("null returned".into());
    let alive = worker.lock().expect("not poisoned").flatten().is_some_and(crate::thread_alive);
    push(format!("worker thread {}", if alive { "alive" } else { "gone" }));
    crate::control::Log(std::mem::take(&mut *log.lock().expect("not poisoned")))
}
