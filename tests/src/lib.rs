//! Shared helpers of gst-ai's whole-pipeline tests, demo and benchmark drivers: registering the
//! plugin statically, locating fixtures, running a pipeline to its end and collecting what the
//! bus said, and building frames in memory.

pub mod clip;
pub mod control;
pub mod frames;
pub mod lipsync;
pub mod motion;
pub mod remote;
pub mod t2v;
pub mod track_scene;

use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use gst::prelude::*;
use gst_video::prelude::*;

/// A little-endian f32 file (the golden vectors of the scripts in `models/`).
pub fn read_f32(path: &std::path::Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// Runs the launch line `desc` and returns its error messages joined, failing the test when it
/// reaches EOS or posts no error.
pub fn expect_error(desc: &str) -> String {
    init();
    let r = run_pipeline(&parse(desc), Duration::from_secs(30));
    assert!(!r.eos && !r.errors.is_empty(), "expected an error: {desc}: {r:?}");
    r.errors.join(" | ")
}

/// Initialises GStreamer and registers the `ai` plugin from this build (no plugin path needed).
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().expect("GStreamer initialises");
        gstai::plugin_register_static().expect("the ai plugin registers");
    });
}

/// The repository's root folder.
pub fn root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

/// A file of tests/models/.
pub fn test_model(name: &str) -> PathBuf {
    root().join("tests").join("models").join(name)
}

/// What a pipeline run ended with.
#[derive(Debug, Default)]
pub struct RunResult {
    /// The error messages posted on the bus, as "domain-error: text (debug)".
    pub errors: Vec<String>,
    pub eos: bool,
    /// Element messages posted, by structure name.
    pub element_messages: Vec<gst::Structure>,
    /// The warning messages posted, formatted like the errors.
    pub warnings: Vec<String>,
}

impl RunResult {
    /// The element messages named `name`, in the order they were posted.
    pub fn messages<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a gst::Structure> {
        self.element_messages.iter().filter(move |s| s.name() == name)
    }
}

fn describe(e: &gst::glib::Error, debug: Option<impl std::fmt::Debug>) -> String {
    format!("{}: {} ({:?})", e.domain().as_str(), e, debug)
}

/// Runs `pipeline` until EOS or the first error (or `timeout`), then sets it to NULL. Never
/// panics on a pipeline failure: the caller asserts on the result.
pub fn run_pipeline(pipeline: &gst::Pipeline, timeout: Duration) -> RunResult {
    run_pipeline_with(pipeline, timeout, |_| false)
}

/// [`run_pipeline`], calling `on_message` with every bus message first (to change properties
/// while playing, say); when it returns true the run ends there, without EOS.
pub fn run_pipeline_with(
    pipeline: &gst::Pipeline,
    timeout: Duration,
    mut on_message: impl FnMut(&gst::Message) -> bool,
) -> RunResult {
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let mut result = RunResult::default();
    if let Err(e) = pipeline.set_state(gst::State::Playing) {
        result.errors.push(format!("set_state(Playing) failed: {e}"));
    }
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            result.errors.push(format!("timed out after {timeout:?}"));
            break;
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else {
            continue;
        };
        if on_message(&msg) {
            break;
        }
        match msg.view() {
            gst::MessageView::Eos(..) => {
                result.eos = true;
                break;
            }
            gst::MessageView::Error(e) => {
                result.errors.push(describe(&e.error(), e.debug()));
                break;
            }
            gst::MessageView::Warning(w) => result.warnings.push(describe(&w.error(), w.debug())),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure() {
                    result.element_messages.push(s.to_owned());
                }
            }
            _ => {}
        }
    }
    // Collect errors (and warnings) posted while the state change failed, then stop.
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Warning]) {
        match msg.view() {
            gst::MessageView::Error(e) => result.errors.push(describe(&e.error(), e.debug())),
            gst::MessageView::Warning(w) => result.warnings.push(describe(&w.error(), w.debug())),
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).expect("a pipeline can always go to NULL");
    result
}

/// Parses a gst-launch description into a pipeline.
pub fn parse(desc: &str) -> gst::Pipeline {
    gst::parse::launch(desc)
        .unwrap_or_else(|e| panic!("cannot parse '{desc}': {e}"))
        .downcast::<gst::Pipeline>()
        .expect("a launch line with several elements is a pipeline")
}

/// A deterministic pseudo-random byte generator (xorshift), so tests need no rand crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// A byte in lo..=hi.
    pub fn byte(&mut self, lo: u8, hi: u8) -> u8 {
        lo + (self.next_u64() % (hi as u64 - lo as u64 + 1)) as u8
    }
}

/// Decodes an image file (anything GStreamer decodes) to packed RGB, returning (w, h, bytes).
pub fn load_rgb(path: &std::path::Path) -> Result<(usize, usize, Vec<u8>), String> {
    let first = decode_frames(path, 1, None)?.swap_remove(0);
    Ok((first.width, first.height, first.rgb))
}

/// Decodes up to `max` frames of a video file (anything GStreamer decodes) to packed RGB images,
/// `width`x`height` (GStreamer's videoscale, its default filter) when given, else the file's size.
pub fn decode_frames(
    path: &std::path::Path,
    max: usize,
    size: Option<(usize, usize)>,
) -> Result<Vec<clip::Image>, String> {
    init();
    let size = size.map(|(w, h)| format!(",width={w},height={h},pixel-aspect-ratio=1/1")).unwrap_or_default();
    let desc = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! videoscale ! video/x-raw,format=RGB{size} \
         ! appsink name=sink sync=false",
        path.display()
    );
    let pipeline = gst::parse::launch(&desc)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline")?;
    let sink =
        pipeline.by_name("sink").ok_or("no sink")?.downcast::<gst_app::AppSink>().map_err(|_| "not an appsink")?;
    pipeline.set_state(gst::State::Playing).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while out.len() < max {
        let Ok(sample) = sink.pull_sample() else { break };
        let info = gst_video::VideoInfo::from_caps(sample.caps().ok_or("no caps")?).map_err(|e| e.to_string())?;
        let buffer = sample.buffer().ok_or("no buffer")?;
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).map_err(|e| e.to_string())?;
        let (w, h, stride) = (info.width() as usize, info.height() as usize, frame.plane_stride()[0] as usize);
        let data = frame.plane_data(0).map_err(|e| e.to_string())?;
        let rgb = (0..h).flat_map(|y| &data[y * stride..y * stride + w * 3]).copied().collect();
        out.push(clip::Image { width: w, height: h, rgb });
    }
    pipeline.set_state(gst::State::Null).map_err(|e| e.to_string())?;
    if out.is_empty() {
        return Err(format!("could not decode any frame of {}", path.display()));
    }
    Ok(out)
}

/// Encodes packed RGB into a PNG file with GStreamer's pngenc.
pub fn save_png(path: &std::path::Path, w: usize, h: usize, rgb: &[u8]) -> Result<(), String> {
    init();
    let desc = format!("appsrc name=src ! videoconvert ! pngenc ! filesink location=\"{}\"", path.display());
    let pipeline = gst::parse::launch(&desc)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline")?;
    let src = pipeline.by_name("src").ok_or("no src")?.downcast::<gst_app::AppSrc>().map_err(|_| "not an appsrc")?;
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, w as u32, h as u32)
        .fps(gst::Fraction::new(1, 1))
        .build()
        .map_err(|e| e.to_string())?;
    src.set_caps(Some(&info.to_caps().map_err(|e| e.to_string())?));
    src.set_format(gst::Format::Time);
    let mut buffer = gst::Buffer::with_size(info.size()).map_err(|e| e.to_string())?;
    {
        let b = buffer.get_mut().ok_or("buffer not writable")?;
        b.set_pts(gst::ClockTime::ZERO);
        let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(b, &info).map_err(|e| e.to_string())?;
        let stride = frame.plane_stride()[0] as usize;
        let data = frame.plane_data_mut(0).map_err(|e| e.to_string())?;
        for y in 0..h {
            data[y * stride..y * stride + w * 3].copy_from_slice(&rgb[y * w * 3..(y + 1) * w * 3]);
        }
    }
    src.push_buffer(buffer).map_err(|e| e.to_string())?;
    src.end_of_stream().map_err(|e| e.to_string())?;
    let r = run_pipeline(&pipeline, Duration::from_secs(30));
    if r.errors.is_empty() { Ok(()) } else { Err(r.errors.join("; ")) }
}

/// A file of the real test media the set-up imports (`.deps/media/`, see models/zoo/families/
/// media.py: which part is for tuning and which is held out); panics naming the set-up if absent.
pub fn media(rel: &str) -> PathBuf {
    let p = root().join(".deps").join("media").join(rel);
    assert!(
        p.exists(),
        "{} is missing: the set-up imports the real test media (make setup, or scripts/zoo.sh)",
        p.display()
    );
    p
}

/// The file of `zoo:NAME` (via the runtime's search path); panics naming the set-up if absent.
pub fn zoo_model(name: &str) -> PathBuf {
    gst_ai_runtime::backend::zoo::resolve(name)
        .unwrap_or_else(|e| panic!("{e} (the set-up imports the zoo: make setup, or scripts/zoo.sh)"))
}

/// The photograph the demo and the benchmark pan across (held out of the built-in model's
/// training; see models/sr_x2.md).
pub fn demo_photo() -> PathBuf {
    root().join("tests").join("media").join("demo.png")
}

/// Pushes `frames` (RGB, all the same size) through `pipeline_tail` (a launch fragment that
/// starts after `appsrc name=src !` and has an `appsink name=sink` receiving RGB), and returns
/// the frames the sink received and the time from the first push to EOS. The pipeline is
/// prerolled first, so model loading is not timed.
pub fn run_frames(
    frames: &[clip::Image],
    fps: i32,
    pipeline_tail: &str,
) -> Result<(Vec<clip::Image>, Duration), String> {
    init();
    let (w, h) = (frames[0].width, frames[0].height);
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, w as u32, h as u32)
        .fps(gst::Fraction::new(fps, 1))
        .build()
        .map_err(|e| e.to_string())?;
    let raw: Vec<Vec<u8>> = frames.iter().map(|f| to_strided(&f.rgb, w * 3, h, info.stride()[0] as usize)).collect();
    let (out, out_info, took) = run_raw(&raw, &info, pipeline_tail)?;
    let Some(out_info) = out_info else { return Ok((Vec::new(), took)) };
    if out_info.format() != gst_video::VideoFormat::Rgb {
        return Err(format!("expected RGB out of the pipeline, got {:?}", out_info.format()));
    }
    let (ow, oh, stride) = (out_info.width() as usize, out_info.height() as usize, out_info.stride()[0] as usize);
    let images = out
        .iter()
        .map(|b| clip::Image {
            width: ow,
            height: oh,
            rgb: (0..oh).flat_map(|y| &b[y * stride..y * stride + ow * 3]).copied().collect(),
        })
        .collect();
    Ok((images, took))
}

/// Rows of `row` bytes laid out at `stride`.
fn to_strided(data: &[u8], row: usize, rows: usize, stride: usize) -> Vec<u8> {
    let mut out = vec![0u8; stride * rows];
    for y in 0..rows {
        out[y * stride..y * stride + row].copy_from_slice(&data[y * row..(y + 1) * row]);
    }
    out
}

/// Hands every video sample `sink` receives to `each` with the video info of its caps.
pub fn on_video_sample(
    sink: &gst_app::AppSink,
    each: impl Fn(&gst_video::VideoInfo, &gst::BufferRef) -> Result<(), gst::FlowError> + Send + Sync + 'static,
) {
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let info = gst_video::VideoInfo::from_caps(sample.caps().ok_or(gst::FlowError::NotNegotiated)?)
                    .map_err(|_| gst::FlowError::NotNegotiated)?;
                each(&info, sample.buffer().ok_or(gst::FlowError::Error)?)?;
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
}

/// What [`run_raw`] returns: the output frames' bytes, the output's video info (None when
/// nothing came out) and the time from the first push to EOS.
pub type RawRun = (Vec<Vec<u8>>, Option<gst_video::VideoInfo>, Duration);

/// The pipeline `desc`, which has an appsrc named `src` and an appsink named `sink`, with the
/// appsrc's caps set to `info`.
pub fn appsrc_pipeline(
    desc: &str,
    info: &gst_video::VideoInfo,
) -> Result<(gst::Pipeline, gst_app::AppSrc, gst_app::AppSink), String> {
    let pipeline = gst::parse::launch(desc)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline")?;
    let src = pipeline.by_name("src").ok_or("no src")?.downcast::<gst_app::AppSrc>().map_err(|_| "not an appsrc")?;
    let sink =
        pipeline.by_name("sink").ok_or("no sink")?.downcast::<gst_app::AppSink>().map_err(|_| "not an appsink")?;
    src.set_caps(Some(&info.to_caps().map_err(|e| e.to_string())?));
    Ok((pipeline, src, sink))
}

/// Pushes raw frames (each exactly `info.size()` bytes in `info`'s default layout) through
/// `pipeline_tail` (which has an `appsink name=sink`) and returns the raw output frames, the
/// output's video info and the time from the first push to EOS; the pipeline is prerolled first
/// so set-up (model loading) is not timed.
pub fn run_raw(frames: &[Vec<u8>], info: &gst_video::VideoInfo, pipeline_tail: &str) -> Result<RawRun, String> {
    init();
    let (pipeline, src, sink) =
        appsrc_pipeline(&format!("appsrc name=src format=time is-live=false ! {pipeline_tail}"), info)?;
    src.set_max_bytes(0);
    let fps = info.fps();
    let collected = std::sync::Arc::new(std::sync::Mutex::new((Vec::new(), None)));
    let c2 = collected.clone();
    on_video_sample(&sink, move |info, buffer| {
        let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
        let mut c = c2.lock().expect("not poisoned");
        c.0.push(map.to_vec());
        c.1 = Some(info.clone());
        Ok(())
    });
    let buffers: Vec<gst::Buffer> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut b = gst::Buffer::from_slice(f.clone());
            let bm = b.get_mut().expect("writable");
            let num = fps.numer().max(1) as u64;
            let den = fps.denom().max(1) as u64;
            bm.set_pts(gst::ClockTime::SECOND.mul_div_floor(i as u64 * den, num));
            bm.set_duration(gst::ClockTime::SECOND.mul_div_floor(den, num));
            b
        })
        .collect();
    pipeline.set_state(gst::State::Paused).map_err(|e| format!("cannot pause: {e}"))?;
    let t0 = std::time::Instant::now();
    for b in buffers {
        src.push_buffer(b).map_err(|e| e.to_string())?;
    }
    src.end_of_stream().map_err(|e| e.to_string())?;
    let r = run_pipeline(&pipeline, Duration::from_secs(900));
    let elapsed = t0.elapsed();
    if !r.errors.is_empty() {
        return Err(r.errors.join("; "));
    }
    let (frames, info) = std::mem::take(&mut *collected.lock().expect("not poisoned"));
    Ok((frames, info, elapsed))
}

/// The kernel's id of the calling thread (from /proc/thread-self).
pub fn thread_id() -> Option<u64> {
    std::fs::read_link("/proc/thread-self").ok()?.file_name()?.to_str()?.parse().ok()
}

/// Whether the thread `tid` of this process is still running.
pub fn thread_alive(tid: u64) -> bool {
    std::path::Path::new(&format!("/proc/self/task/{tid}")).exists()
}

/// Runs three 32x24 RGB frames through `element` and asserts that its statistics were posted once
/// at EOS as the element message `name`, with every frame counted and a processing time.
pub fn assert_stats_posted_at_eos(element: &str, name: &str) {
    init();
    let r = run_pipeline(
        &parse(&format!(
            "videotestsrc num-buffers=3 ! video/x-raw,format=RGB,width=32,height=24 ! {element} ! fakesink"
        )),
        Duration::from_secs(60),
    );
    assert!(r.eos && r.errors.is_empty(), "{r:?}");
    let posted: Vec<_> = r.messages(name).collect();
    assert_eq!(posted.len(), 1, "{r:?}");
    assert_eq!(posted[0].get::<u64>("frames").unwrap(), 3, "{:?}", posted[0]);
    assert!(posted[0].get::<f64>("mean-ms").unwrap() > 0.0, "{:?}", posted[0]);
}
