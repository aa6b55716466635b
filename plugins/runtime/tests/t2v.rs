//! Text-to-video against diffusers: the schedulers against vectors recorded from diffusers'
//! DDIMScheduler and EulerDiscreteScheduler, the tokenizer against transformers' CLIPTokenizer,
//! and the whole pipeline on a tiny random-weight model made from diffusers' and transformers'
//! real classes (tests/models/t2v_tiny, models/make_t2v_golden.py) against diffusers'
//! TextToVideoSDPipeline run on the same initial latents.

use std::path::PathBuf;

use gst_ai_runtime::Device;
use gst_ai_runtime::tasks::t2v::scheduler::{Config, Kind, Scheduler};
use gst_ai_runtime::tasks::t2v::{Folder, Pipeline, Request};
use serde_json::Value;

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/models")
}

fn read_json(rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(models().join(rel)).unwrap()).unwrap()
}

fn read_f32(rel: &str) -> Vec<f32> {
    let b = std::fs::read(models().join(rel)).unwrap();
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn schedulers_match_diffusers() {
    let all = read_json("t2v_sched/schedulers.json");
    let cases = all["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config = Config::parse(&case["config"].to_string()).unwrap();
        let kind = if case["scheduler"] == "DDIMScheduler" { Kind::Ddim } else { Kind::Euler };
        let n = case["num_inference_steps"].as_u64().unwrap() as usize;
        let s = Scheduler::new(kind, &config, n).unwrap();
        assert_eq!(s.timesteps(), &floats(&case["timesteps"])[..], "{name}: timesteps");
        for (t, a) in case["alphas_cumprod_probe"].as_object().unwrap() {
            let t: usize = t.parse().unwrap();
            let want = a.as_f64().unwrap() as f32;
            assert!((config.alphas_cumprod[t] - want).abs() <= 2e-6 * want.max(1e-3), "{name}: alphas_cumprod[{t}]");
        }
        let init = case["init_noise_sigma"].as_f64().unwrap();
        assert!(
            (s.init_noise_sigma() - init).abs() < 1e-5 * init,
            "{name}: init_noise_sigma {} vs {init}",
            s.init_noise_sigma()
        );
        if kind == Kind::Euler {
            for (got, want) in s.sigmas().iter().zip(floats(&case["sigmas"])) {
                assert!((got - want).abs() < 2e-5 * want.max(1e-3), "{name}: sigma {got} vs {want}");
            }
        }
        let mut x: Vec<f32> = floats(&case["sample_init"]).iter().map(|&v| v as f32).collect();
        let eta = case["eta"].as_f64().unwrap_or(0.0);
        for (k, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let out: Vec<f32> = floats(&step["model_output"]).iter().map(|&v| v as f32).collect();
            if kind == Kind::Euler {
                let f = step["scale_model_input_factor"].as_f64().unwrap();
                assert!((s.input_scale(k) - f).abs() < 1e-5, "{name} step {k}: scale_model_input");
            }
            let noise: Option<Vec<f32>> =
                step.get("variance_noise").map(|v| floats(v).iter().map(|&v| v as f32).collect());
            s.step(k, &out, &mut x, eta, noise.as_deref());
            let want: Vec<f32> = floats(&step["prev_sample"]).iter().map(|&v| v as f32).collect();
            let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            let d = max_abs(&x, &want);
            assert!(d <= 2e-5 * scale, "{name} step {k}: prev_sample differs by {d} (scale {scale})");
        }
    }
}

#[test]
fn tokenizer_matches_transformers() {
    let folder = Folder::open(&models().join("t2v_tiny")).unwrap();
    let golden = read_json("t2v_tiny/golden/golden.json");
    let cases = golden["tokenizer"]["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let want: Vec<i64> = case["input_ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        let got = folder.tokenizer.encode(text);
        assert_eq!(got.ids, want, "{text:?}");
    }
    // The same from tokenizer.json alone.
    let dir = std::env::temp_dir().join(format!("gst-ai-tokjson-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(models().join("t2v_tiny/tokenizer").join(f), dir.join(f)).unwrap();
    }
    let from_json = gst_ai_runtime::tasks::t2v::tokenizer::ClipTokenizer::from_dir(&dir).unwrap();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        assert_eq!(from_json.encode(text).ids, folder.tokenizer.encode(text).ids, "{text:?} via tokenizer.json");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn golden_run(kind: Kind) -> (Vec<f32>, Vec<f32>) {
    let folder = Folder::open(&models().join("t2v_tiny")).unwrap();
    let p = Pipeline::load(folder, Device::Cpu).unwrap();
    assert_eq!((p.vae_factor, p.latent_channels), (2, 4));
    let r = Request {
        prompt: "a red circle moving right".into(),
        negative_prompt: String::new(),
        seed: 0,
        steps: 6,
        guidance: 7.5,
        scheduler: kind,
        eta: 0.0,
        frames: 4,
        width: 16,
        height: 16,
        image: None,
        strength: 1.0,
    };
    let latents = read_f32("t2v_tiny/golden/latents.f32");
    let mut steps = Vec::new();
    let x = p
        .denoise(&r, Some(&latents), None, &mut |i, n, t| {
            steps.push((i, n, t));
            true
        })
        .unwrap();
    assert_eq!(steps.iter().map(|s| s.2).collect::<Vec<_>>(), [831.0, 665.0, 499.0, 333.0, 167.0, 1.0]);
    assert_eq!(steps.last().map(|s| (s.0, s.1)), Some((6, 6)));
    let clip = p.decode(&x, 4, 8, 8, None).unwrap();
    assert_eq!((clip.frames, clip.width, clip.height), (4, 16, 16));
    // To diffusers' output: [F, H, W, 3] in 0..1.
    let mut frames = Vec::with_capacity(4 * 16 * 16 * 3);
    for f in 0..4 {
        let fr = clip.frame(f);
        for y in 0..16 {
            for xx in 0..16 {
                for c in 0..3 {
                    frames.push((fr[c * 256 + y * 16 + xx] * 0.5 + 0.5).clamp(0.0, 1.0));
                }
            }
        }
    }
    (x, frames)
}

#[test]
fn pipeline_matches_diffusers_ddim() {
    let (latents, frames) = golden_run(Kind::Ddim);
    let dl = max_abs(&latents, &read_f32("t2v_tiny/golden/latents_ddim_final.f32"));
    let df = max_abs(&frames, &read_f32("t2v_tiny/golden/frames_ddim.f32"));
    println!("DDIM: final latents max abs diff {dl:.2e}, frames {df:.2e}");
    // Latents reach about ±25; ONNX Runtime in Python is 2.8e-5 from PyTorch on them.
    assert!(dl < 2e-4, "final latents differ by {dl}");
    // DDIM and Euler frames differ by 2e-3: this tolerance tells them apart.
    assert!(df < 1e-4, "frames differ by {df}");
}

#[test]
fn pipeline_matches_diffusers_euler() {
    let (latents, frames) = golden_run(Kind::Euler);
    let dl = max_abs(&latents, &read_f32("t2v_tiny/golden/latents_euler_final.f32"));
    let df = max_abs(&frames, &read_f32("t2v_tiny/golden/frames_euler.f32"));
    println!("Euler: final latents max abs diff {dl:.2e}, frames {df:.2e}");
    assert!(dl < 2e-4, "final latents differ by {dl}");
    assert!(df < 1e-4, "frames differ by {df}");
    let ddim = read_f32("t2v_tiny/golden/frames_ddim.f32");
    assert!(max_abs(&frames, &ddim) > 1e-3, "the Euler run must differ from the DDIM one");
}

#[test]
fn text_embeddings_match_transformers() {
    let folder = Folder::open(&models().join("t2v_tiny")).unwrap();
    let p = Pipeline::load(folder, Device::Cpu).unwrap();
    let ids = vec![p.tokenize("").0, p.tokenize("a red circle moving right").0];
    let (states, dim) = p.encode_text(&ids, None).unwrap();
    assert_eq!(dim, 32);
    let d = max_abs(&states, &read_f32("t2v_tiny/golden/text_embeds.f32"));
    assert!(d < 1e-5, "text embeddings differ by {d}");
}

#[test]
fn missing_parts_and_wrong_contracts_are_named() {
    let dir = std::env::temp_dir().join(format!("gst-ai-t2v-missing-{}", std::process::id()));
    let src = models().join("t2v_tiny");
    for sub in ["scheduler", "tokenizer", "text_encoder", "vae_decoder"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for e in std::fs::read_dir(src.join(sub)).unwrap().flatten() {
            std::fs::copy(e.path(), dir.join(sub).join(e.file_name())).unwrap();
        }
    }
    let e = Folder::open(&dir).err().unwrap().to_string();
    assert!(e.contains("unet/model.onnx"), "{e}");
    // An image model where the video UNet should be: the SR fixture has a 4-D input.
    std::fs::create_dir_all(dir.join("unet")).unwrap();
    std::fs::copy(models().join("nearest_x2.onnx"), dir.join("unet/model.onnx")).unwrap();
    let folder = Folder::open(&dir).unwrap();
    let e = Pipeline::load(folder, Device::Cpu).err().unwrap().to_string();
    assert!(e.contains("sample") || e.contains("UNet"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
    let e = Folder::open(&models().join("no_such_folder")).err().unwrap().to_string();
    assert!(e.contains("no_such_folder"), "{e}");
}

#[test]
fn sizes_the_model_cannot_make_are_refused() {
    let p = Pipeline::load(Folder::open(&models().join("t2v_tiny")).unwrap(), Device::Cpu).unwrap();
    assert!(p.check_size(4, 16, 16).is_ok());
    let e = p.check_size(4, 18, 16).unwrap_err().to_string();
    assert!(e.contains("width 18") && e.contains("multiple of 4"), "{e}");
    assert!(p.check_size(0, 16, 16).is_err());
}

mod worker {
    //! The generator worker with the built-in model: clips in order, requests taken as each clip
    //! begins, a stop that cancels the model run under way and joins the thread, an interrupt
    //! that releases a waiting consumer. Every assertion is on the order of what happened.

    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};

    use gst_ai_runtime::tasks::t2v::worker::{Event, Next, Worker};
    use gst_ai_runtime::{Device, Error};

    use super::*;

    fn builtin() -> Arc<Pipeline> {
        Arc::new(Pipeline::load(Folder::builtin().unwrap(), Device::Cpu).unwrap())
    }

    fn request(steps: usize, frames: usize) -> Request {
        Request {
            prompt: "a red circle moving right".into(),
            negative_prompt: String::new(),
            seed: 0,
            steps,
            guidance: 2.0,
            scheduler: Kind::Ddim,
            eta: 0.0,
            frames,
            width: 96,
            height: 96,
            image: None,
            strength: 1.0,
        }
    }

    type Log = Arc<Mutex<Vec<String>>>;

    /// The kernel's id of the calling thread.
    fn thread_id() -> u64 {
        std::fs::read_link("/proc/thread-self").unwrap().file_name().unwrap().to_str().unwrap().parse().unwrap()
    }

    /// Whether thread `tid` is still listed after its join. A joined thread's entry can outlive
    /// the join by a moment (the kernel wakes the joiner as the thread exits, before the task is
    /// reaped): a fresh-clone CI saw it under load. So it gets 50 ms to go, far less than the
    /// second a UNet run in flight would keep it alive.
    fn thread_alive(tid: u64) -> bool {
        let listed = || std::path::Path::new(&format!("/proc/self/task/{tid}")).exists();
        let until = std::time::Instant::now() + std::time::Duration::from_millis(50);
        while listed() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        listed()
    }

    /// A worker whose requests and events are written to the log; each `step 1` is also sent on
    /// the channel, with the id of the thread that reported it. `fail_at`: the clip whose request
    /// fails.
    fn spawn(
        name: &str,
        clips: u64,
        steps: usize,
        frames: usize,
        fail_at: Option<u64>,
    ) -> (Worker<Error>, Log, mpsc::Receiver<u64>) {
        let log: Log = Arc::default();
        let (tx, rx) = mpsc::channel();
        let (l1, l2) = (log.clone(), log.clone());
        let next = move |k: u64| {
            l1.lock().unwrap().push(format!("request {k}"));
            if fail_at == Some(k) {
                return Err(Error::Unsupported(format!("no request for clip {k}")));
            }
            Ok(request(steps, frames))
        };
        let on_event = move |e: Event<'_>| {
            let entry = match e {
                Event::Warning { text, .. } => format!("warning {text}"),
                Event::Step { clip, step, .. } => format!("clip {clip} step {step}"),
                Event::Clip { made, .. } => format!("clip {} made", made.index),
            };
            l2.lock().unwrap().push(entry.clone());
            if entry.ends_with(" step 1") {
                let _ = tx.send(thread_id());
            }
        };
        (Worker::spawn(name, builtin(), clips, next, on_event).unwrap(), log, rx)
    }

    fn entries(log: &Log) -> Vec<String> {
        log.lock().unwrap().clone()
    }

    #[test]
    fn clips_come_in_order_each_request_taken_as_its_clip_begins() {
        let (w, log, steps) = spawn("t2v-order", 2, 2, 2, None);
        let mut got = Vec::new();
        loop {
            match w.next() {
                Next::Clip(m) => {
                    assert_eq!((m.clip.frames, m.clip.width, m.clip.height), (2, 96, 96));
                    got.push(m.index);
                }
                Next::Done => break,
                Next::Failed(e) => panic!("{e}"),
                Next::Interrupted => panic!("not interrupted"),
            }
        }
        assert_eq!(got, [0, 1]);
        let want = ["request 0", "clip 0 step 1", "clip 0 step 2", "clip 0 made", "request 1"];
        assert_eq!(entries(&log)[..5], want, "clip 1's request is asked for only when clip 0 is made");
        assert_eq!(entries(&log).last().map(String::as_str), Some("clip 1 made"));
        let worker = steps.recv().unwrap();
        w.stop();
        assert!(!thread_alive(worker), "the worker thread is joined");
    }

    #[test]
    fn a_failed_request_is_handed_over_then_the_worker_ends() {
        let (w, _, _) = spawn("t2v-fail", 0, 1, 1, Some(1));
        assert!(matches!(w.next(), Next::Clip(m) if m.index == 0));
        assert!(matches!(w.next(), Next::Failed(Error::Unsupported(e)) if e.contains("clip 1")));
        assert!(matches!(w.next(), Next::Done));
    }

    #[test]
    fn stop_cancels_the_model_run_under_way_and_joins_the_thread() {
        // 256 frames: each UNet run takes a good second, and stop comes right after step 1, so
        // the run of step 2 is in flight when it does.
        let (w, log, steps) = spawn("t2v-stop", 0, 500, 256, None);
        let worker = steps.recv().unwrap();
        w.stop();
        log.lock().unwrap().push("stop returned".into());
        assert!(!thread_alive(worker), "the worker thread is joined");
        let log = entries(&log);
        assert_eq!(log, ["request 0", "clip 0 step 1", "stop returned"], "step 2's UNet run was cut short");
        assert!(matches!(w.next(), Next::Done));
    }

    #[test]
    fn interrupt_releases_a_waiting_consumer_at_once() {
        let (w, log, steps) = spawn("t2v-intr", 0, 500, 8, None);
        let w = Arc::new(w);
        let (w2, l2) = (w.clone(), log.clone());
        let consumer = std::thread::spawn(move || {
            let got = matches!(w2.next(), Next::Interrupted);
            l2.lock().unwrap().push(format!("next returned interrupted={got}"));
        });
        steps.recv().unwrap();
        w.interrupt(true);
        consumer.join().unwrap();
        assert!(matches!(w.next(), Next::Interrupted), "it stays interrupted until turned off");
        w.stop();
        let log = entries(&log);
        let at = log.iter().position(|e| e == "next returned interrupted=true").expect("next returned Interrupted");
        assert!(!log[..at].iter().any(|e| e.ends_with("made")), "no clip was made before: {log:?}");
        w.interrupt(false);
        assert!(matches!(w.next(), Next::Done));
    }
}
