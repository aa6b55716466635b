//! Lip-sync test material: a drawn face whose mouth can be measured, speech-like audio (voiced
//! syllables, click trains), a runner that feeds video and audio to `ailipsync` through two
//! appsrcs, and the mouth-opening measure used by the tests and the benchmark.

use std::time::{Duration, Instant};

use gst::prelude::*;

use crate::clip::Image;

/// A face box in pixels: x, y, width, height.
pub type Face = [usize; 4];

/// A cartoon face filling `face` on a grey background: skin, eyes, and closed lips (a red band
/// with a dark line where they meet) at 3/4 of the box's height, where `ailipsync` puts the mouth.
pub fn face_image(w: usize, h: usize, face: Face) -> Image {
    let [fx, fy, fw, fh] = face.map(|v| v as f32);
    let (cx, cy) = (fx + fw / 2.0, fy + fh / 2.0);
    let mouth_y = fy + 0.74 * fh;
    let mut rgb = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let mut c = [90 + (x * 40 / w) as u8, 100, 110 + (y * 30 / h) as u8];
            let e = ((px - cx) / (0.48 * fw)).powi(2) + ((py - cy) / (0.5 * fh)).powi(2);
            if e < 1.0 {
                c = [224, 180, 150];
                let eye = |ex: f32| ((px - ex).powi(2) + (py - (fy + 0.38 * fh)).powi(2)).sqrt() < 0.06 * fw;
                if eye(cx - 0.18 * fw) || eye(cx + 0.18 * fw) {
                    c = [40, 30, 30];
                }
                let lip = (px - cx).abs() < 0.17 * fw && (py - mouth_y).abs() < 0.045 * fh;
                if lip {
                    c = if (py - mouth_y).abs() < 0.5 { [110, 30, 40] } else { [190, 70, 80] };
                }
            }
            rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&c);
        }
    }
    Image { width: w, height: h, rgb }
}

/// Dark pixels (luma < 90) in the mouth region of `face`: the opening, in pixels. The closed
/// mouth's own line counts too, so subtract the input's value.
pub fn mouth_opening(img: &Image, face: Face) -> f64 {
    let [fx, fy, fw, fh] = face.map(|v| v as f64);
    let (x0, x1) = ((fx + 0.25 * fw) as usize, (fx + 0.75 * fw) as usize);
    let (y0, y1) = ((fy + 0.56 * fh) as usize, ((fy + 0.92 * fh) as usize).min(img.height));
    let mut n = 0;
    for y in y0..y1 {
        for x in x0..x1.min(img.width) {
            let p = &img.rgb[(y * img.width + x) * 3..][..3];
            let luma = 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64;
            n += usize::from(luma < 90.0);
        }
    }
    n as f64
}

/// A voiced sound (120 Hz and its harmonics to 4 kHz, falling as 1/k) at 16 kHz: sample `i`
/// of a unit-peak signal.
pub fn voice_sample(i: usize, rate: u32) -> f32 {
    let t = i as f32 / rate as f32;
    let v: f32 = (1..34).map(|k| (2.0 * std::f32::consts::PI * 120.0 * k as f32 * t).sin() / k as f32).sum();
    v / 1.7
}

/// `seconds` of mono audio at `rate` made of voiced syllables whose loudness follows
/// `envelope(t)` (0..1, t in seconds).
pub fn speech(seconds: f64, rate: u32, envelope: impl Fn(f64) -> f64) -> Vec<f32> {
    let n = (seconds * rate as f64) as usize;
    (0..n).map(|i| voice_sample(i, rate) * envelope(i as f64 / rate as f64) as f32 * 0.5).collect()
}

/// `seconds` of silence at `rate` with a loud 30 ms voiced burst starting at each of `clicks`
/// (seconds).
pub fn click_train(seconds: f64, rate: u32, clicks: &[f64]) -> Vec<f32> {
    speech(seconds, rate, |t| if clicks.iter().any(|&c| t >= c && t < c + 0.03) { 1.0 } else { 0.0 })
}

/// Audio given to [`run`]: mono f32 samples, their rate, the channel count they are spread to
/// (the same signal in each), and the running time of the first sample.
pub struct Audio {
    pub samples: Vec<f32>,
    pub rate: u32,
    pub channels: u32,
    pub start_ms: u64,
}

/// What [`run`] returns.
pub struct LipRun {
    pub frames: Vec<Image>,
    pub errors: Vec<String>,
    pub eos: bool,
    /// The element messages posted (e.g. the stats at EOS).
    pub messages: Vec<gst::Structure>,
    pub took: Duration,
    pub element: gst::Element,
}

/// Pushes `frames` (RGB at `fps`) and `audio` (if any; S16LE when `s16`, else F32LE, in 20 ms
/// buffers) through `ailipsync <props>` and collects the output frames.
pub fn run(frames: &[Image], fps: i32, audio: Option<&Audio>, props: &str, s16: bool) -> LipRun {
    crate::init();
    let (w, h) = (frames[0].width, frames[0].height);
    let audio_branch = if audio.is_some() { "appsrc name=a format=time ! l.audio" } else { "" };
    let desc =
        format!("appsrc name=v format=time ! ailipsync name=l {props} ! appsink name=sink sync=false {audio_branch}");
    let pipeline = crate::parse(&desc);
    let element = pipeline.by_name("l").expect("ailipsync");
    let vsrc = pipeline.by_name("v").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, w as u32, h as u32)
        .fps(gst::Fraction::new(fps, 1))
        .build()
        .unwrap();
    vsrc.set_caps(Some(&info.to_caps().unwrap()));
    vsrc.set_max_bytes(0);
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let o2 = out.clone();
    crate::on_video_sample(&sink, move |info, buffer| {
        o2.lock().unwrap().push(crate::frames::buffer_image(info, buffer));
        Ok(())
    });
    let mut pushes: Vec<(gst_app::AppSrc, Vec<gst::Buffer>)> = Vec::new();
    let vbufs = frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut b = crate::frames::frame_buffer(&info, f, 0);
            let bm = b.get_mut().unwrap();
            bm.set_pts(gst::ClockTime::SECOND.mul_div_floor(i as u64, fps as u64));
            bm.set_duration(gst::ClockTime::SECOND.mul_div_floor(1, fps as u64));
            b
        })
        .collect();
    pushes.push((vsrc, vbufs));
    if let Some(a) = audio {
        let asrc = pipeline.by_name("a").unwrap().downcast::<gst_app::AppSrc>().unwrap();
        let caps = gst::Caps::builder("audio/x-raw")
            .field("format", if s16 { "S16LE" } else { "F32LE" })
            .field("layout", "interleaved")
            .field("rate", a.rate as i32)
            .field("channels", a.channels as i32)
            .build();
        asrc.set_caps(Some(&caps));
        asrc.set_max_bytes(0);
        let chunk = (a.rate / 50) as usize;
        let bufs = a
            .samples
            .chunks(chunk)
            .enumerate()
            .map(|(k, c)| {
                let mut bytes = Vec::new();
                for &v in c {
                    for _ in 0..a.channels {
                        if s16 {
                            bytes.extend_from_slice(&((v.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes());
                        } else {
                            bytes.extend_from_slice(&v.to_le_bytes());
                        }
                    }
                }
                let mut b = gst::Buffer::from_mut_slice(bytes);
                let bm = b.get_mut().unwrap();
                let start = gst::ClockTime::from_mseconds(a.start_ms);
                bm.set_pts(start + gst::ClockTime::SECOND.mul_div_floor((k * chunk) as u64, a.rate as u64).unwrap());
                bm.set_duration(gst::ClockTime::SECOND.mul_div_floor(c.len() as u64, a.rate as u64));
                b
            })
            .collect();
        pushes.push((asrc, bufs));
    }
    let t0 = Instant::now();
    for (src, bufs) in pushes {
        for b in bufs {
            let _ = src.push_buffer(b);
        }
        let _ = src.end_of_stream();
    }
    let r = crate::run_pipeline(&pipeline, Duration::from_secs(120));
    let took = t0.elapsed();
    let frames = std::mem::take(&mut *out.lock().unwrap());
    LipRun { frames, errors: r.errors, eos: r.eos, messages: r.element_messages, took, element }
}

/// Pearson correlation of two series.
pub fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    sab / (saa * sbb).sqrt().max(1e-12)
}

/// RMS of `samples` (at `rate`) over each video frame's duration at `fps`, for `n` frames.
pub fn frame_rms(samples: &[f32], rate: u32, fps: u32, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let a = i * rate as usize / fps as usize;
            let b = ((i + 1) * rate as usize / fps as usize).min(samples.len());
            if a >= b {
                return 0.0;
            }
            (samples[a..b].iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / (b - a) as f64).sqrt()
        })
        .collect()
}
