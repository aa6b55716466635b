//! aisrc as a user meets it: clips of the negotiated size, format and frame rate with exact
//! timestamps and EOS; bit-identical frames for the same seed; messages per step and per clip;
//! the parameters as tags; continuous generation picking up a new prompt; image-to-video; live
//! mode; the errors and warnings for bad input; and, during a long generation, queries,
//! property reads, seeks, EOS and state changes that are answered at once (asserted on the
//! order of what happened, never on a duration).

use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_ai_tests::control::{self, Check, Log};
use gst_ai_tests::t2v::{self, Reading, Then, during_generation, generate, generate_with, recognise};
use gst_ai_tests::{init, root, test_model};

const T: Duration = Duration::from_secs(120);

fn ok(g: &t2v::Generated) {
    assert!(g.run.errors.is_empty(), "errors: {:?}", g.run.errors);
    assert!(g.run.eos, "no EOS");
}

#[test]
fn one_clip_at_the_models_size_and_rate_then_eos() {
    let g = generate("", "", T);
    ok(&g);
    assert_eq!((g.frames.len(), g.width, g.height), (8, 96, 96));
    for (i, (pts, d)) in g.pts.iter().zip(&g.durations).enumerate() {
        assert_eq!(*pts, Some(gst::ClockTime::from_nseconds(i as u64 * 125_000_000)), "pts of frame {i}");
        assert_eq!(*d, Some(gst::ClockTime::from_mseconds(125)));
    }
    let steps: Vec<_> = g.run.messages("aisrc-step").collect();
    assert_eq!(steps.len(), 25, "one aisrc-step per step of the built-in's 25");
    assert_eq!(steps.last().unwrap().get::<u32>("step").unwrap(), 25);
    let clips: Vec<_> = g.run.messages("aisrc-clip").collect();
    assert_eq!(clips.len(), 1);
    assert_eq!(clips[0].get::<u32>("frames").unwrap(), 8);
    let stats: Vec<_> = g.run.messages("aisrc-stats").collect();
    assert_eq!(stats.len(), 1, "the stats are posted at EOS");
    assert_eq!((stats[0].get::<u64>("clips").unwrap(), stats[0].get::<u64>("frames").unwrap()), (1, 8));
    assert!(stats[0].get::<f64>("seconds-per-step").unwrap() > 0.0);
    // Not a blank picture: the frames vary.
    let f = &g.frames[0];
    let (lo, hi) = (f.iter().min().unwrap(), f.iter().max().unwrap());
    assert!(hi - lo > 100, "frame 0 spans only {lo}..{hi}");
}

#[test]
fn same_seed_same_frames_other_seed_other_frames() {
    let a = generate("seed=7 steps=10", "", T);
    let b = generate("seed=7 steps=10", "", T);
    let c = generate("seed=8 steps=10", "", T);
    ok(&a);
    ok(&b);
    ok(&c);
    assert!(a.frames == b.frames, "the same seed must give bit-identical frames");
    assert!(a.frames != c.frames, "another seed must give other frames");
    let d = generate("seed=7 steps=10 scheduler=euler", "", T);
    ok(&d);
    assert!(a.frames != d.frames, "Euler must differ from DDIM");
}

#[test]
fn sizes_formats_and_rates_from_caps() {
    let g = generate("num-frames=3 steps=4", "video/x-raw,format=RGB,width=64,height=48,framerate=25/1", T);
    ok(&g);
    assert_eq!((g.frames.len(), g.width, g.height), (3, 64, 48));
    assert_eq!(g.pts[2], Some(gst::ClockTime::from_mseconds(80)));
    for format in ["I420", "RGBA", "NV12", "BGR"] {
        let g = generate("num-frames=2 steps=3", &format!("video/x-raw,format={format}"), T);
        ok(&g);
        assert_eq!(g.frames.len(), 2, "{format}");
    }
}

#[test]
fn a_size_the_model_cannot_make_is_an_error_naming_it() {
    let g = generate("steps=2", "video/x-raw,width=100,height=96", T);
    assert!(!g.run.eos);
    let e = g.run.errors.join(" | ");
    assert!(e.contains("width 100") && e.contains("multiple of 16"), "{e}");
}

#[test]
fn tags_carry_the_generation_parameters() {
    let g = generate("prompt=\"a blue square moving up\" seed=42 steps=5 num-clips=2", "", T);
    ok(&g);
    assert_eq!(g.frames.len(), 16);
    assert!(g.tags.len() >= 2, "one tag event per clip: {:?}", g.tags);
    let title = g.tags[0].get::<gst::tags::Title>().map(|v| v.get().to_string());
    assert_eq!(title.as_deref(), Some("a blue square moving up"));
    let comment = g.tags[0].get::<gst::tags::Comment>().map(|v| v.get().to_string()).unwrap_or_default();
    for want in ["seed=42", "steps=5", "scheduler=ddim", "model-hash=fnv1a64:", "model=built-in"] {
        assert!(comment.contains(want), "{want} not in {comment}");
    }
    let second = g.tags[1].get::<gst::tags::Comment>().map(|v| v.get().to_string()).unwrap_or_default();
    assert!(second.contains("seed=43"), "clip 1 uses seed + 1: {second}");
    // Clips 0 and 1 differ (different seeds).
    assert!(g.frames[..8] != g.frames[8..]);
}

#[test]
fn tags_reach_a_muxed_file() {
    init();
    let out = std::env::temp_dir().join(format!("gst-ai-aisrc-tags-{}.mp4", std::process::id()));
    let desc = format!(
        "aisrc prompt=\"a green circle moving down\" seed=3 steps=3 ! videoconvert ! x264enc ! mp4mux ! filesink location={}",
        out.display()
    );
    let r = gst_ai_tests::run_pipeline(&gst_ai_tests::parse(&desc), T);
    assert!(r.eos && r.errors.is_empty(), "{r:?}");
    let bytes = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("a green circle moving down"), "the title is stored");
    assert!(text.contains("seed=3"), "the parameters are stored");
}

#[test]
fn a_prompt_changed_while_playing_applies_to_a_later_clip() {
    let mut changed = false;
    let g = generate_with("prompt=\"a red circle moving right\" steps=5 num-clips=4", "", T, |p, m| {
        if let gst::MessageView::Element(e) = m.view()
            && e.structure().is_some_and(|s| s.name() == "aisrc-clip")
            && !changed
        {
            changed = true;
            p.by_name("src").unwrap().set_property("prompt", "a yellow square moving down");
        }
        false
    });
    ok(&g);
    let prompts: Vec<String> = g.run.messages("aisrc-clip").map(|s| s.get::<String>("prompt").unwrap()).collect();
    assert_eq!(prompts.len(), 4);
    assert_eq!(prompts[0], "a red circle moving right");
    // Clip 1 may already have started when the change arrived; clip 2 cannot have.
    assert_eq!(prompts[2], "a yellow square moving down", "{prompts:?}");
    assert_eq!(prompts[3], "a yellow square moving down");
    let titles: Vec<String> =
        g.tags.iter().filter_map(|t| t.get::<gst::tags::Title>().map(|v| v.get().to_string())).collect();
    assert_eq!(titles.last().map(String::as_str), Some("a yellow square moving down"));
}

#[test]
fn continuous_generation_stops_cleanly_mid_step() {
    // num-clips=0 generates forever; going to NULL in the middle of a clip must not hang.
    let mut steps_seen = 0;
    let mut to_null = Duration::ZERO;
    let g = generate_with("num-clips=0 steps=200", "", T, |p, m| {
        if let gst::MessageView::Element(e) = m.view()
            && e.structure().is_some_and(|s| s.name() == "aisrc-step")
        {
            steps_seen += 1;
            if steps_seen == 3 {
                let t0 = Instant::now();
                assert_eq!(p.set_state(gst::State::Null), Ok(gst::StateChangeSuccess::Success));
                to_null = t0.elapsed();
                return true;
            }
        }
        false
    });
    assert!(g.run.errors.is_empty(), "{:?}", g.run.errors);
    assert_eq!(steps_seen, 3);
    assert!(g.frames.is_empty(), "no frame before the first clip is done");
    // The worker is told to stop and not waited for: the state change is immediate.
    assert!(to_null < Duration::from_secs(2), "going to NULL took {to_null:?}");
}

#[test]
fn bad_prompts_are_warned_about() {
    let g = generate("prompt=\"\" steps=2", "", T);
    ok(&g);
    assert!(g.run.warnings.iter().any(|w| w.contains("prompt is empty")), "{:?}", g.run.warnings);

    let g = generate("prompt=\"a purple triangle moving right\" steps=2", "", T);
    ok(&g);
    let w = g.run.warnings.join(" | ");
    assert!(w.contains("purple") && w.contains("triangle") && !w.contains("right,"), "{w}");

    let long = vec!["red"; 100].join(" ");
    let g = generate(&format!("prompt=\"{long}\" steps=2"), "", T);
    ok(&g);
    assert!(g.run.warnings.iter().any(|w| w.contains("longer than") && w.contains("77")), "{:?}", g.run.warnings);
}

#[test]
fn a_model_folder_missing_a_part_is_named() {
    let dir = std::env::temp_dir().join(format!("gst-ai-aisrc-partial-{}", std::process::id()));
    let src = test_model("t2v_tiny");
    for sub in ["scheduler", "tokenizer", "unet", "vae_decoder"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for e in std::fs::read_dir(src.join(sub)).unwrap().flatten() {
            std::fs::copy(e.path(), dir.join(sub).join(e.file_name())).unwrap();
        }
    }
    let g = generate(&format!("model={}", dir.display()), "", T);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!g.run.eos);
    let e = g.run.errors.join(" | ");
    assert!(e.contains("text_encoder/model.onnx"), "{e}");

    let g = generate("model=/no/such/folder", "", T);
    assert!(g.run.errors.join(" ").contains("/no/such/folder"), "{:?}", g.run.errors);
}

#[test]
fn a_diffusers_folder_runs_in_the_element() {
    // The tiny random-weight pipeline of the golden tests, at a size it can make.
    let folder = test_model("t2v_tiny");
    let g = generate(
        &format!("model={} num-frames=4 steps=3 guidance-scale=7.5", folder.display()),
        "video/x-raw,format=RGB,width=16,height=16",
        T,
    );
    ok(&g);
    assert_eq!((g.frames.len(), g.width, g.height), (4, 16, 16));
    let g = generate(&format!("model={}", folder.display()), "video/x-raw,width=18,height=16", T);
    assert!(g.run.errors.join(" ").contains("width 18"), "{:?}", g.run.errors);
}

fn mean_abs(a: &[u8], b: &[u8]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).abs()).sum::<f64>() / a.len() as f64
}

#[test]
fn image_to_video_starts_from_the_image() {
    // A start image: a white square on the left, as a PNG.
    let img = std::env::temp_dir().join(format!("gst-ai-aisrc-start-{}.png", std::process::id()));
    let (w, h) = (96usize, 96usize);
    let mut rgb = vec![20u8; w * h * 3];
    for y in 30..66 {
        for x in 10..46 {
            rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&[240, 240, 240]);
        }
    }
    gst_ai_tests::save_png(&img, w, h, &rgb).unwrap();
    let run = |strength: f64| {
        let g = generate(&format!("image={} strength={strength} steps=10 seed=1", img.display()), "", T);
        ok(&g);
        g.frames.iter().map(|f| mean_abs(f, &rgb)).sum::<f64>() / g.frames.len() as f64
    };
    let (s0, s3, s10) = (run(0.0), run(0.3), run(1.0));
    let _ = std::fs::remove_file(&img);
    println!("mean abs difference from the start image: strength 0 {s0:.1}, 0.3 {s3:.1}, 1.0 {s10:.1}");
    // Strength 0 is the image through the built-in's 4x4 latent grid and back (bicubic): close.
    assert!(s0 < 8.0, "strength 0: {s0}");
    assert!(s3 < s10, "less strength stays nearer the image: {s3} vs {s10}");
    let g = generate("image=/no/such/picture.png steps=2", "", T);
    assert!(g.run.errors.join(" ").contains("/no/such/picture.png"), "{:?}", g.run.errors);
}

#[test]
fn live_mode_reports_latency_and_reaches_eos() {
    init();
    let p = gst_ai_tests::parse("aisrc is-live=true steps=3 ! videoconvert ! fakesink sync=true");
    let r = gst_ai_tests::run_pipeline(&p, T);
    assert!(r.eos && r.errors.is_empty(), "{r:?}");
    let src = gst::ElementFactory::make("aisrc").property("is-live", true).build().unwrap();
    assert!(src.property::<bool>("is-live"));
}

#[test]
fn the_checker_reads_rendered_clips() {
    // Clips drawn here (discs and squares moving 1.2 px per frame) must be read back exactly, or
    // the benchmark's adherence figure would mean nothing.
    let (w, h) = (96usize, 96usize);
    for (ci, &(colour, rgb)) in t2v::COLOURS.iter().enumerate() {
        for (si, shape) in t2v::SHAPES.iter().enumerate() {
            let direction = t2v::DIRECTIONS[(ci + si) % 4];
            let (dx, dy) = match direction {
                "left" => (-1.0, 0.0),
                "right" => (1.0, 0.0),
                "up" => (0.0, -1.0),
                _ => (0.0, 1.0),
            };
            let frames: Vec<Vec<u8>> = (0..8)
                .map(|f| {
                    let (cx, cy) = (48.0 + dx * 4.8 * f as f32 - dx * 17.0, 48.0 + dy * 4.8 * f as f32 - dy * 17.0);
                    let mut px = Vec::with_capacity(w * h * 3);
                    for y in 0..h {
                        for x in 0..w {
                            let (fx, fy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                            let inside = if si == 0 { fx.hypot(fy) < 16.0 } else { fx.abs().max(fy.abs()) < 14.4 };
                            let c = if inside { rgb } else { t2v::BACKGROUND };
                            px.extend(c.iter().map(|v| (v * 255.0).round() as u8));
                        }
                    }
                    px
                })
                .collect();
            assert_eq!(
                recognise(&frames, w, h),
                Some(Reading { colour, shape, direction }),
                "{colour} {shape} {direction}"
            );
        }
    }
    assert_eq!(recognise(&[vec![20u8; w * h * 3]], w, h), None, "a blank clip is unreadable");
}

#[test]
fn builtin_follows_held_out_prompts() {
    // A short version of the benchmark's adherence check (which runs more seeds): combinations
    // of colour, shape and direction that were never in the training data, one clip each (the
    // generation is deterministic, so this cannot flake). At most one of the 8 may miss.
    let a = t2v::adherence(&t2v::HELD_OUT, &[11], "");
    println!(
        "held-out adherence over {} clips: colour {:.0}%, shape {:.0}%, direction {:.0}%, all {:.0}%; misses {:?}",
        a.clips,
        a.colour * 100.0,
        a.shape * 100.0,
        a.direction * 100.0,
        a.all * 100.0,
        a.misses
    );
    assert!(a.colour >= 0.875, "colour followed in only {:.0}% of held-out clips", a.colour * 100.0);
    assert!(a.direction >= 0.875, "direction followed in only {:.0}% of held-out clips", a.direction * 100.0);
    assert!(a.shape >= 0.875, "shape followed in only {:.0}% of held-out clips", a.shape * 100.0);
    assert!(a.all >= 0.875, "all three followed in only {:.0}% of held-out clips", a.all * 100.0);
    assert!(root().join("models/t2v_builtin.md").is_file(), "the built-in model has a card");
}

/// 500 denoising steps of the built-in model: a clip takes many seconds (at 256 frames, each
/// UNet run a good second), and these tests end long before one could be made.
const LONG: &str = "steps=500";

fn at(log: &Log, entry: &str) -> usize {
    log.position(entry).unwrap_or_else(|| panic!("no '{entry}' in {:?}", log.0))
}

/// Asserts that `entries` are in the log in this order, that the first step came before them,
/// and that no clip was made (nor a frame pushed) before the last of them.
fn answered_mid_generation(log: &Log, entries: &[&str]) {
    println!("{:?}", log.0);
    let mut last = at(log, "clip 0 step 1");
    for e in entries {
        let p = at(log, e);
        assert!(p > last, "'{e}' out of order: {:?}", log.0);
        last = p;
    }
    for never in ["clip 0 made", "out"] {
        assert!(log.position(never).is_none_or(|p| p > last), "'{never}' came before the calls returned: {:?}", log.0);
    }
}

#[test]
fn queries_and_property_reads_are_answered_while_a_clip_is_generated() {
    let set_prompt: Check =
        ("prompt write", Box::new(|el: &gst::Element| el.set_property("prompt", "a blue square moving up")));
    let checks = vec![
        control::latency_query(),
        control::read_property("stats"),
        control::caps_query(),
        control::read_property("prompt"),
        set_prompt,
    ];
    let log = during_generation("ctl", LONG, checks, Then::Step, T);
    let calls =
        ["latency query returned", "stats returned", "caps query returned", "prompt returned", "prompt write returned"];
    answered_mid_generation(&log, &calls);
    // The generation went on after the calls returned: they were answered during it.
    let after = at(&log, "prompt write returned");
    assert!(log.0[after..].iter().any(|e| e.contains(" step ")), "no step after the calls: {:?}", log.0);
    assert_eq!(log.0.last().map(String::as_str), Some("worker thread gone"));
}

#[test]
fn going_to_null_mid_step_cancels_the_model_run_and_joins_the_worker() {
    // 256 frames: the NULL request comes right after step 1, with step 2's UNet run in flight.
    let log = during_generation("null", &format!("{LONG} num-frames=256 num-clips=0"), vec![], Then::Nothing, T);
    answered_mid_generation(&log, &["null returned"]);
    assert!(log.position("clip 0 step 2").is_none(), "the UNet run in flight was waited for: {:?}", log.0);
    assert_eq!(log.0[at(&log, "null returned")..], ["null returned", "worker thread gone"], "nothing after NULL");
}

#[test]
fn a_flushing_seek_and_eos_are_handled_while_a_clip_is_generated() {
    let seek: Check = (
        "seek",
        Box::new(|el: &gst::Element| {
            let flags = gst::SeekFlags::FLUSH;
            let seek = gst::event::Seek::new(
                1.0,
                flags,
                gst::SeekType::Set,
                gst::ClockTime::ZERO,
                gst::SeekType::None,
                gst::ClockTime::NONE,
            );
            el.send_event(seek);
        }),
    );
    let eos: Check = ("eos event", Box::new(|el: &gst::Element| assert!(el.send_event(gst::event::Eos::new()))));
    let log = during_generation("seek", LONG, vec![seek, eos], Then::Eos, T);
    answered_mid_generation(&log, &["seek returned", "eos event returned", "eos"]);
    assert!(!log.0.iter().any(|e| e.starts_with("error")), "{:?}", log.0);
    assert_eq!(log.0.last().map(String::as_str), Some("worker thread gone"));
}

#[test]
fn fifty_start_stop_cycles_never_hang() {
    // Once a deadlock: create() sent each clip's tags with gst_element_send_event, which waits
    // for the state lock that set_state(NULL) holds while it waits for create() to return.
    init();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let p = gst_ai_tests::parse("aisrc name=cycles steps=1 num-frames=2 num-clips=0 ! fakesink name=sink");
        // The workers: the threads that post the step messages.
        let workers = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
        let w = workers.clone();
        p.bus().unwrap().set_sync_handler(move |_, msg| {
            if let gst::MessageView::Element(e) = msg.view()
                && e.structure().is_some_and(|s| s.name() == "aisrc-step")
            {
                w.lock().unwrap().extend(gst_ai_tests::thread_id());
            }
            gst::BusSyncReply::Drop
        });
        let pushed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = pushed.clone();
        p.by_name("sink").unwrap().static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            gst::PadProbeReturn::Ok
        });
        for i in 0..50u64 {
            pushed.store(0, std::sync::atomic::Ordering::SeqCst);
            p.set_state(gst::State::Playing).unwrap();
            // Stop at every stage: at once, after the first clip, a few clips in.
            let until = Instant::now() + Duration::from_secs(10);
            while pushed.load(std::sync::atomic::Ordering::SeqCst) < (i % 4) * 2 && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(2));
            }
            p.set_state(gst::State::Null).unwrap();
            let alive = workers.lock().unwrap().iter().any(|&t| gst_ai_tests::thread_alive(t));
            tx.send((i, alive)).unwrap();
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    for i in 0..50 {
        let left = deadline.saturating_duration_since(Instant::now());
        assert_eq!(rx.recv_timeout(left), Ok((i, false)), "cycle {i} hung, or a worker outlived it");
    }
}

#[test]
fn gst_launch_stops_on_ctrl_c_mid_generation() {
    use std::io::Read;
    // The plugin file, as gst-launch-1.0 finds it (tests/inspect.rs does the same).
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|p| p.parent()).unwrap().to_path_buf();
    assert!(
        dir.join("libgstai.so").is_file(),
        "{} was not built (cargo build --release -p gst-plugin-ai)",
        dir.display()
    );
    let registry = std::env::temp_dir().join(format!("gst-ai-aisrc-registry-{}.bin", std::process::id()));
    for props in ["steps=1 num-frames=2", "steps=500 num-frames=256"] {
        let cmd = format!("exec gst-launch-1.0 -e -m aisrc {props} num-clips=0 ! fakesink 2>&1");
        let mut child = std::process::Command::new("sh")
            .args(["-c", &cmd])
            .env("GST_PLUGIN_PATH", &dir)
            .env("GST_REGISTRY", &registry)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let (mut text, mut buf, mut told) = (String::new(), [0u8; 4096], false);
            while let Ok(n @ 1..) = out.read(&mut buf) {
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
                if !told && text.contains("aisrc-step") {
                    told = true;
                    let _ = tx.send(());
                }
            }
            text
        });
        rx.recv_timeout(T).expect("gst-launch-1.0 reports denoising steps");
        let pid = child.id().to_string();
        assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("gst-launch-1.0 -e ... {props} hangs after Ctrl-C");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let text = reader.join().unwrap();
        assert!(status.success(), "{props}: {status}\n{text}");
        let tail = &text[text.find("EOS received").unwrap_or_else(|| panic!("{props}: no EOS:\n{text}"))..];
        assert!(
            tail.trim_end().ends_with("Freeing pipeline ..."),
            "{props}: output after the pipeline was freed:\n{tail}"
        );
    }
    let _ = std::fs::remove_file(&registry);
}
