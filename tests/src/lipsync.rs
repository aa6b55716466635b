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
    /// The warning messages posted.
    pub warnings: Vec<String>,
    pub took: Duration,
    /// When each output frame reached the sink, from the first push.
    pub arrivals: Vec<Duration>,
    /// The element named `l` (ailipsync), or the sink when the pipeline has none.
    pub element: gst::Element,
}

impl LipRun {
    /// Output frames per second between the first and the last frame's arrival: the steady
    /// rate, without the start (model loading, the first audio look-ahead).
    pub fn steady_fps(&self) -> f64 {
        match (self.arrivals.first(), self.arrivals.last()) {
            (Some(a), Some(b)) if self.arrivals.len() > 1 && b > a => {
                (self.arrivals.len() - 1) as f64 / (*b - *a).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

/// Pushes `frames` (RGB at `fps`) and `audio` (if any; S16LE when `s16`, else F32LE, in 20 ms
/// buffers) through `ailipsync <props>` and collects the output frames.
pub fn run(frames: &[Image], fps: i32, audio: Option<&Audio>, props: &str, s16: bool) -> LipRun {
    run_through(frames, fps, audio, Some(props), s16)
}

/// As [`run`], through `ailipsync name=l <props>` with Some, else straight from the sources to the
/// sinks (the audio into a fakesink): the same pipeline without the element.
pub fn run_through(frames: &[Image], fps: i32, audio: Option<&Audio>, props: Option<&str>, s16: bool) -> LipRun {
    crate::init();
    let (w, h) = (frames[0].width, frames[0].height);
    let audio_branch = match (audio, props) {
        (None, _) => "",
        (Some(_), Some(_)) => "appsrc name=a format=time ! l.audio",
        (Some(_), None) => "appsrc name=a format=time ! fakesink sync=false",
    };
    let element = props.map(|p| format!("ailipsync name=l {p} !")).unwrap_or_default();
    let desc = format!("appsrc name=v format=time ! {element} appsink name=sink sync=false {audio_branch}");
    let pipeline = crate::parse(&desc);
    let element = pipeline.by_name(if props.is_some() { "l" } else { "sink" }).expect("ailipsync");
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
    let t0 = Instant::now();
    crate::on_video_sample(&sink, move |info, buffer| {
        o2.lock().unwrap().push((crate::frames::buffer_image(info, buffer), t0.elapsed()));
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
    let start = t0.elapsed();
    let t0 = Instant::now();
    for (src, bufs) in pushes {
        for b in bufs {
            let _ = src.push_buffer(b);
        }
        let _ = src.end_of_stream();
    }
    let r = crate::run_pipeline(&pipeline, Duration::from_secs(120));
    let took = t0.elapsed();
    let (frames, arrivals) = std::mem::take(&mut *out.lock().unwrap()).into_iter().map(|(f, t)| (f, t - start)).unzip();
    LipRun {
        frames,
        errors: r.errors,
        eos: r.eos,
        messages: r.element_messages,
        warnings: r.warnings,
        took,
        arrivals,
        element,
    }
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

/// Mono samples of a 16-bit PCM WAV file (channels averaged) and its rate: `seconds` from
/// `from` (seconds; None: to the end).
pub fn read_wav(path: &std::path::Path, from: f64, seconds: Option<f64>) -> Result<(Vec<f32>, u32), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = || format!("{}: not a 16-bit PCM WAV file", path.display());
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad());
    }
    let (mut at, mut fmt, mut data) = (12, None, None);
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
        match &bytes[at..at + 4] {
            b"fmt " if body.len() >= 16 => fmt = Some(body),
            b"data" => data = Some(body),
            _ => {}
        }
        at += 8 + len + (len & 1);
    }
    let (fmt, data) = (fmt.ok_or_else(bad)?, data.ok_or_else(bad)?);
    let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
    let (format, channels, bits) = (u16_at(0), u16_at(2) as usize, u16_at(14));
    let rate = u32::from_le_bytes(fmt[4..8].try_into().unwrap());
    if format != 1 || bits != 16 || channels == 0 {
        return Err(bad());
    }
    let frames = data.len() / (2 * channels);
    let first = ((from * rate as f64) as usize).min(frames);
    let last = seconds.map_or(frames, |s| (first + (s * rate as f64) as usize).min(frames));
    let samples = (first..last)
        .map(|i| {
            let s: i32 = (0..channels)
                .map(|c| i16::from_le_bytes([data[2 * (i * channels + c)], data[2 * (i * channels + c) + 1]]) as i32)
                .sum();
            s as f32 / (32768.0 * channels as f32)
        })
        .collect();
    Ok((samples, rate))
}

/// Writes mono `samples` at `rate` as a 16-bit PCM WAV file.
pub fn write_wav(path: &std::path::Path, samples: &[f32], rate: u32) -> Result<(), String> {
    let n = samples.len() as u32 * 2;
    let mut b = Vec::with_capacity(44 + n as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + n).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&[1, 0, 1, 0]);
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&[2, 0, 16, 0]);
    b.extend_from_slice(b"data");
    b.extend_from_slice(&n.to_le_bytes());
    for &v in samples {
        b.extend_from_slice(&((v.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes());
    }
    std::fs::write(path, b).map_err(|e| format!("{}: {e}", path.display()))
}

/// The loudness of each video frame's own stretch of audio (RMS over the frame's duration, as
/// [`frame_rms`]) in dB of full scale, floored at `floor` dB: hearing and the jaw both follow
/// loudness on a log scale, and the floor keeps the noise of a pause from counting as a level.
pub fn frame_db(samples: &[f32], rate: u32, fps: u32, n: usize, floor: f64) -> Vec<f64> {
    frame_rms(samples, rate, fps, n).iter().map(|&r| (20.0 * r.max(1e-9).log10()).max(floor)).collect()
}

/// The zoo's face mesh reading a picture independently of the element: its own RetinaFace
/// detection, then the 468 points on the detected face's crop.
pub struct MeshReader {
    det: std::sync::Arc<gst_ai_runtime::Model>,
    mesh: std::sync::Arc<gst_ai_runtime::Model>,
}

/// What [`MeshReader::read`] saw.
#[derive(Clone, Debug)]
pub struct MeshReading {
    pub points: Vec<(f32, f32)>,
    /// The face's height by the mesh: the top of the forehead (point 10) to the chin (152).
    pub face_height: f32,
}

/// MediaPipe's face oval, clockwise from the top of the forehead: the jaw line is its lower half.
pub const FACE_OVAL: [usize; 36] = [
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150,
    136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
];

impl MeshReading {
    /// The inner-lip opening (points 13 and 14) as a fraction of the face height.
    pub fn opening(&self) -> f64 {
        let [a, b] = [13, 14].map(|i| self.points[i]);
        (((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt() / self.face_height.max(1.0)) as f64
    }

    /// The mouth's centre (the four lip-middle and corner points' mean) and width (corner to corner).
    pub fn mouth(&self) -> ((f32, f32), f32) {
        let [l, r, t, b] = [61, 291, 13, 14].map(|i| self.points[i]);
        let c = ((l.0 + r.0 + t.0 + b.0) / 4.0, (l.1 + r.1 + t.1 + b.1) / 4.0);
        (c, ((r.0 - l.0).powi(2) + (r.1 - l.1).powi(2)).sqrt())
    }

    /// Whether (x, y) lies in the lower face: below the nose tip (point 1) and inside the face
    /// oval (so above the jaw line and the chin), or within `margin` pixels of the oval's edge
    /// (two readings of the same jaw line, on differently placed crops, differ by a few pixels).
    pub fn in_lower_face(&self, x: f32, y: f32, margin: f32) -> bool {
        if y < self.points[1].1 {
            return false;
        }
        // Even-odd rule over the oval's edges.
        let mut inside = false;
        for k in 0..FACE_OVAL.len() {
            let (a, b) = (self.points[FACE_OVAL[k]], self.points[FACE_OVAL[(k + 1) % FACE_OVAL.len()]]);
            if (a.1 > y) != (b.1 > y) && x < a.0 + (y - a.1) / (b.1 - a.1) * (b.0 - a.0) {
                inside = !inside;
            }
        }
        inside || self.oval_distance(x, y) <= margin
    }

    /// The distance from (x, y) to the face oval's outline.
    pub fn oval_distance(&self, x: f32, y: f32) -> f32 {
        let n = FACE_OVAL.len();
        (0..n)
            .map(|k| {
                let (a, b) = (self.points[FACE_OVAL[k]], self.points[FACE_OVAL[(k + 1) % n]]);
                let (dx, dy) = (b.0 - a.0, b.1 - a.1);
                let t = (((x - a.0) * dx + (y - a.1) * dy) / (dx * dx + dy * dy).max(1e-6)).clamp(0.0, 1.0);
                ((a.0 + t * dx - x).powi(2) + (a.1 + t * dy - y).powi(2)).sqrt()
            })
            .fold(f32::MAX, f32::min)
    }
}

impl MeshReader {
    /// Loads zoo:retinaface and zoo:face-mesh; panics naming the set-up when the zoo lacks them.
    pub fn new() -> Self {
        let load = |name: &str| {
            let path = crate::zoo_model(name);
            let source = gst_ai_runtime::ModelSource::File(path);
            gst_ai_runtime::load(&source, gst_ai_runtime::Device::Cpu, gst_ai_runtime::Precision::Auto)
                .unwrap_or_else(|e| panic!("zoo:{name}: {e}"))
        };
        MeshReader { det: load("retinaface"), mesh: load("face-mesh") }
    }

    /// The mesh on the most confident face of `img`; None when no face is found or the mesh's
    /// score is under [`FaceMesh::MIN_SCORE`](gst_ai_runtime::tasks::lipsync::FaceMesh::MIN_SCORE).
    pub fn read(&self, img: &Image) -> Option<MeshReading> {
        use gst_ai_runtime::tasks::lipsync::{FaceDetector, FaceMesh};
        let planar = crate::clip::to_planar(img);
        let mut d = FaceDetector::new(&self.det).ok()?;
        let found = d.detect(&self.det, &planar, img.width, img.height, 0.5, None).ok()??;
        let mut m = FaceMesh::new(&self.mesh).ok()?;
        let (points, score) = m.run(&self.mesh, &planar, img.width, img.height, found.face, None).ok()?;
        let (top, chin) = (points[10], points[FaceMesh::CHIN]);
        let face_height = ((top.0 - chin.0).powi(2) + (top.1 - chin.1).powi(2)).sqrt();
        (score >= FaceMesh::MIN_SCORE).then_some(MeshReading { points, face_height })
    }
}

impl MeshReader {
    /// The face as `ailipsync` finds it on a still with its defaults: RetinaFace's box, padded
    /// at the bottom by the default `face-padding`, and the mesh's mouth on it; None when no face
    /// is found.
    pub fn find(&self, img: &Image) -> Option<gst_ai_runtime::tasks::lipsync::Found> {
        use gst_ai_runtime::tasks::lipsync::{FaceDetector, FaceMesh, Found, LipOptions};
        let planar = crate::clip::to_planar(img);
        let d =
            FaceDetector::new(&self.det).ok()?.detect(&self.det, &planar, img.width, img.height, 0.5, None).ok()??;
        let marks =
            FaceMesh::new(&self.mesh).ok()?.mouth(&self.mesh, &planar, img.width, img.height, d.face, None).ok()?;
        let pad = LipOptions::default().padding[1] as f32;
        Some(Found { face: gst_ai_kernels::FaceBox { h: d.face.h + pad, ..d.face }, marks })
    }
}

impl Default for MeshReader {
    fn default() -> Self {
        Self::new()
    }
}
