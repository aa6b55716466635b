//! Lip sync without GStreamer types: the audio a video frame hears ([`AudioTrack`]: 16 kHz mono
//! samples placed by running time, the Wav2Lip mel window of each frame), what drives the
//! built-in mouth animation ([`MouthDriver`]), the Wav2Lip model contract ([`Wav2LipContract`],
//! [`Wav2Lip`]) and face boxes from an UltraFace-layout detector ([`FaceDetector`],
//! [`BoxSmoother`]).

use std::collections::BTreeMap;

use gst_ai_kernels::{FaceBox, crop_resize, paste_feathered};

use crate::backend::model::{ElemType, InputData, Model, ModelInput, TensorInfo};
use crate::dsp::audio::{HOP, MEL_FPS, MEL_STEP, MelSpectrogram, N_FFT, N_MELS, SAMPLE_RATE, preemphasised, reflect};
use crate::error::{Error, Result};

const NS: u128 = 1_000_000_000;

/// Samples whose absolute value stays below this (−80 dBFS) are silence: the frame is left as
/// it is.
pub const SILENCE: f32 = 1e-4;

/// Running time (ns) of 16 kHz sample `n` after `origin`.
pub fn sample_time(origin: u64, n: usize) -> u64 {
    origin + (n as u128 * NS / u128::from(SAMPLE_RATE)) as u64
}

/// What a video frame's running time finds in the audio track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// No audio belongs to this frame (before the audio starts, after it ended, or no audio at
    /// all): the frame passes unchanged.
    NoAudio,
    /// The audio the frame needs has not arrived yet.
    Pending,
    /// The frame's `MEL_STEP` mel columns start at column `first` (80 columns per second after
    /// the track's first sample).
    Ready { first: usize },
}

/// The audio of a stream as 16 kHz mono samples placed by running time: sample `n` plays at
/// `origin + n / 16000` s. Gaps in the input are filled with silence, overlaps dropped. Mel
/// columns are computed once and cached; samples no later frame needs are discarded.
#[derive(Default)]
pub struct AudioTrack {
    origin: Option<u64>,
    samples: Vec<f32>,
    /// Absolute index of `samples[0]`.
    offset: usize,
    ended: bool,
    cache: BTreeMap<usize, [f32; N_MELS]>,
}

impl AudioTrack {
    /// Input whose start is this far from where the track ends is placed by its timestamp
    /// (silence inserted or samples dropped); closer, it is taken as continuous.
    const JITTER_NS: u64 = 2_000_000;

    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets everything (flush, seek).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Running time of the first sample, once there is one.
    pub fn origin(&self) -> Option<u64> {
        self.origin
    }

    /// Samples received since the origin (dropped ones included).
    pub fn len(&self) -> usize {
        self.offset + self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Running time just after the last sample.
    pub fn end_time(&self) -> Option<u64> {
        self.origin.map(|o| sample_time(o, self.len()))
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Adds 16 kHz mono `samples` whose first plays at running time `start` (ns).
    pub fn push(&mut self, start: u64, samples: &[f32]) {
        if self.ended {
            return;
        }
        let Some(origin) = self.origin else {
            self.origin = Some(start);
            self.samples.extend_from_slice(samples);
            return;
        };
        let end = sample_time(origin, self.len());
        let mut skip = 0;
        if start > end + Self::JITTER_NS {
            let at = (u128::from(start - origin) * u128::from(SAMPLE_RATE) / NS) as usize;
            let gap = at.saturating_sub(self.len());
            self.samples.resize(self.samples.len() + gap, 0.0);
        } else if start + Self::JITTER_NS < end {
            skip = ((u128::from(end - start) * u128::from(SAMPLE_RATE) / NS) as usize).min(samples.len());
        }
        self.samples.extend_from_slice(&samples[skip..]);
    }

    /// The audio stream ended: frames past it get no audio, and the last windows are padded by
    /// reflection as Wav2Lip's centred STFT does.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// Mel columns in the whole track once it ended (`1 + samples / HOP`, librosa's count).
    fn columns_total(&self) -> usize {
        1 + self.len() / HOP
    }

    /// Where the frame at running time `t` (ns) stands. The window starts at Wav2Lip's
    /// `int(80 * t)` (t in seconds after the track's origin), moved back to end at the last
    /// column near the end of the audio; it needs audio up to 212.5 ms after `t`.
    pub fn window(&self, t: u64) -> Window {
        let Some(origin) = self.origin else {
            return if self.ended { Window::NoAudio } else { Window::Pending };
        };
        if t < origin {
            return Window::NoAudio;
        }
        // Half a microsecond of slack: timestamps are rounded to nanoseconds.
        let first = ((u128::from(t - origin) + 500) * u128::from(MEL_FPS) / NS) as usize;
        if self.ended {
            let total = self.columns_total();
            if first * HOP >= self.len() || total < MEL_STEP {
                return Window::NoAudio;
            }
            return Window::Ready { first: first.min(total - MEL_STEP) };
        }
        if self.len() > Self::last_sample(first) { Window::Ready { first } } else { Window::Pending }
    }

    /// The last sample (absolute index) the window starting at `first` reads.
    fn last_sample(first: usize) -> usize {
        (first + MEL_STEP - 1) * HOP + N_FFT / 2
    }

    /// Time (ns) after a frame's start that its audio runs to: what the element waits for.
    pub fn lookahead_ns() -> u64 {
        (u128::from(Self::last_sample(0) as u64 + 1) * NS / u128::from(SAMPLE_RATE)) as u64
    }

    /// The largest absolute sample value the window starting at `first` reads.
    pub fn peak(&self, first: usize) -> f32 {
        let lo = (first * HOP).saturating_sub(N_FFT / 2).max(self.offset);
        let hi = (Self::last_sample(first) + 1).min(self.len());
        if lo >= hi {
            return 0.0;
        }
        self.samples[lo - self.offset..hi - self.offset].iter().fold(0f32, |m, &v| m.max(v.abs()))
    }

    /// Pre-emphasised sample at absolute index `i`, reflected at the start and (once ended) at
    /// the end; zero where samples were discarded.
    fn y(&self, i: isize) -> f32 {
        let len = self.len();
        let j = if i < 0 || (self.ended && i >= len as isize) {
            match reflect(i, len) {
                Some(j) => j,
                None => return 0.0,
            }
        } else {
            i as usize
        };
        if j < self.offset || j >= len {
            return 0.0;
        }
        // The sample before the first kept one is gone; pre-emphasis there reads it as zero.
        let x = &self.samples;
        let k = j - self.offset;
        if k == 0 && j > 0 { x[0] } else { preemphasised(x, k) }
    }

    /// The `N_MELS` x `MEL_STEP` window (band-major) starting at column `first`.
    pub fn mel_window(&mut self, mel: &MelSpectrogram, first: usize) -> Vec<f32> {
        for c in first..first + MEL_STEP {
            if !self.cache.contains_key(&c) {
                let col = mel.columns(|i| self.y(i), c, 1);
                let mut v = [0f32; N_MELS];
                v.copy_from_slice(&col);
                self.cache.insert(c, v);
            }
        }
        let mut out = vec![0f32; N_MELS * MEL_STEP];
        for (t, c) in (first..first + MEL_STEP).enumerate() {
            let col = &self.cache[&c];
            for b in 0..N_MELS {
                out[b * MEL_STEP + t] = col[b];
            }
        }
        out
    }

    /// Drops the samples and cached columns no window starting at `first` or later needs.
    pub fn discard_before(&mut self, first: usize) {
        self.cache = self.cache.split_off(&first);
        // One more sample for pre-emphasis.
        let keep_from = (first * HOP).saturating_sub(N_FFT / 2 + 1);
        if keep_from > self.offset + 4 * SAMPLE_RATE as usize {
            let n = keep_from - self.offset;
            self.samples.drain(..n);
            self.offset += n;
        }
    }
}

/// Mouth opening (0 closed .. 1 fully open) and relative width (about 0.8 rounded .. 1.2
/// spread) for the built-in animation, from the first columns of a frame's mel window: speech
/// bands (300 Hz .. 4 kHz) give the loudness, the share of the upper bands the width (front
/// vowels and fricatives spread the lips, back vowels round them). Smoothed over frames with a
/// fast attack and a slower release, as a jaw moves.
#[derive(Default)]
pub struct MouthDriver {
    open: f32,
    width: f32,
}

impl MouthDriver {
    /// Mel bands of the speech range.
    const SPEECH: std::ops::Range<usize> = 6..64;
    /// Mel bands above ~2 kHz.
    const UPPER: std::ops::Range<usize> = 40..64;
    /// Columns of the window that belong to the frame itself (~40 ms).
    const NOW: usize = 4;
    /// Loudness (log mean magnitude in normalised mel units, 0.2 per 20 dB) where the mouth
    /// starts to open and where it is fully open (linearly between): a voiced sound peaking at
    /// −40 dBFS and at −2 dBFS.
    const QUIET: f32 = 0.20;
    const LOUD: f32 = 0.56;

    /// Openings below this (a quarter of a pixel on a 100-pixel face) snap shut, so the frames
    /// after a sound return to the input exactly.
    const CLOSED: f32 = 0.02;

    pub fn new() -> Self {
        Self { open: 0.0, width: 1.0 }
    }

    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// The unsmoothed (opening, width) a window asks for.
    pub fn target(window: &[f32]) -> (f32, f32) {
        // Mean magnitude over bands and columns, back in the normalised log units (0 = the
        // floor, 0.2 per 20 dB): loud narrow bands count as much as the energy they carry.
        let level = |bands: std::ops::Range<usize>| {
            let n = (bands.len() * Self::NOW) as f32;
            let sum: f32 = bands
                .flat_map(|b| (0..Self::NOW).map(move |t| b * MEL_STEP + t))
                .map(|i| 10f32.powf(5.0 * (window[i] + 4.0) / 8.0))
                .sum();
            (sum / n).log10() / 5.0
        };
        let loud = level(Self::SPEECH);
        let t = ((loud - Self::QUIET) / (Self::LOUD - Self::QUIET)).clamp(0.0, 1.0);
        let open = t;
        let bright = ((level(Self::UPPER) - loud + 0.15) / 0.3).clamp(0.0, 1.0);
        (open, 0.8 + 0.4 * bright)
    }

    /// Advances one frame towards the window's target; returns the smoothed (opening, width).
    pub fn step(&mut self, window: &[f32]) -> (f32, f32) {
        let (open, width) = Self::target(window);
        let k = if open > self.open { 0.8 } else { 0.6 };
        self.open += k * (open - self.open);
        if self.open < Self::CLOSED {
            self.open = 0.0;
        }
        self.width += 0.5 * (width - self.width);
        (self.open, self.width)
    }

    /// A frame without audio: the mouth closes as after silence.
    pub fn rest(&mut self) -> f32 {
        self.open *= 0.4;
        if self.open < Self::CLOSED {
            self.open = 0.0;
        }
        self.open
    }
}

const WAV2LIP: &str = "Wav2Lip";

/// How a Wav2Lip-family model is fed: which input takes the mel window, which the six-channel
/// face, and the face size (96 for the original, 256 or other for later variants).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wav2LipContract {
    pub mel_input: String,
    pub face_input: String,
    pub mel_elem: ElemType,
    pub face_elem: ElemType,
    pub size: usize,
}

impl Wav2LipContract {
    /// Reads the contract from the model's inputs: by name as in known exports
    /// (`mel_spectrogram`/`audio_sequences`/`mel`/`audio`, `video_frames`/`face_sequences`/`face`/
    /// `image`), else by shape (…x1x80x16 is the mel, 6 channels the face).
    pub fn detect(model: &Model) -> Result<Self> {
        Self::detect_io(&model.name, &model.inputs, &model.outputs)
    }

    /// [`Self::detect`] on a graph's inputs and outputs.
    pub fn detect_io(name: &str, inputs: &[TensorInfo], outputs: &[TensorInfo]) -> Result<Self> {
        struct Io<'a> {
            name: &'a str,
            inputs: &'a [TensorInfo],
            outputs: &'a [TensorInfo],
        }
        let model = Io { name, inputs, outputs };
        let err =
            |what: &str, expected: &str, found: String| Error::contract(model.name, WAV2LIP, what, expected, found);
        if model.inputs.len() != 2 {
            let names: Vec<&str> = model.inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(err("inputs", "2 (mel window, face)", format!("{} ({})", names.len(), names.join(", "))));
        }
        let by_name = |keys: &[&str]| {
            model.inputs.iter().find(|i| {
                let n = i.name.to_ascii_lowercase();
                keys.iter().any(|k| n.contains(k))
            })
        };
        let is_mel = |i: &&TensorInfo| {
            let s = &i.shape;
            s.len() == 4 && s[1] == 1 && s[2] == N_MELS as i64 && (s[3] == MEL_STEP as i64 || s[3] < 0)
        };
        let is_face = |i: &&TensorInfo| i.shape.len() == 4 && i.shape[1] == 6;
        let mel = by_name(&["mel", "audio"]).or_else(|| model.inputs.iter().find(is_mel));
        let face = by_name(&["video", "face", "image", "frame"]).or_else(|| model.inputs.iter().find(is_face));
        let (Some(mel), Some(face)) = (mel, face) else {
            let found: Vec<String> = model.inputs.iter().map(|i| format!("{} {}", i.name, i.shape_string())).collect();
            return Err(err("inputs", "a mel input Bx1x80x16 and a face input Bx6xSxS", found.join(", ")));
        };
        if mel.name == face.name {
            return Err(err("inputs", "two distinct inputs", format!("both found as {}", mel.name)));
        }
        if !is_mel(&mel) {
            return Err(err(&format!("input {} (mel window)", mel.name), "Bx1x80x16", mel.shape_string()));
        }
        if !is_face(&face) {
            return Err(err(&format!("input {} (face)", face.name), "Bx6xSxS", face.shape_string()));
        }
        let size = match (face.shape[2], face.shape[3]) {
            (h, w) if h > 0 && h == w => h as usize,
            (h, w) if h < 0 && w < 0 => 96,
            _ => return Err(err(&format!("input {} (face)", face.name), "a square face", face.shape_string())),
        };
        if size < 16 || size % 2 != 0 {
            return Err(err(&format!("input {} (face)", face.name), "an even size of at least 16", size.to_string()));
        }
        let float = |i: &TensorInfo| match i.elem {
            Some(e @ (ElemType::F32 | ElemType::F16)) => Ok(e),
            _ => Err(err(&format!("input {}", i.name), "float32 or float16", i.elem_name.clone())),
        };
        let out = model.outputs.first().ok_or_else(|| err("outputs", "1", "0".into()))?;
        if out.shape.len() != 4 || (out.shape[1] >= 0 && out.shape[1] != 3) {
            return Err(err(&format!("output {}", out.name), "Bx3xSxS", out.shape_string()));
        }
        Ok(Self {
            mel_input: mel.name.clone(),
            face_input: face.name.clone(),
            mel_elem: float(mel)?,
            face_elem: float(face)?,
            size,
        })
    }
}

/// Runs a Wav2Lip-family model on one face: the crop with its lower half masked beside the
/// unmasked crop as the reference (what Wav2Lip's inference does), BGR 0..1.
pub struct Wav2Lip {
    pub contract: Wav2LipContract,
    input: Vec<f32>,
    half: (Vec<half::f16>, Vec<half::f16>),
}

impl Wav2Lip {
    pub fn new(model: &Model) -> Result<Self> {
        Ok(Self { contract: Wav2LipContract::detect(model)?, input: Vec::new(), half: Default::default() })
    }

    /// `face` is the crop, planar RGB 0..1 at the model's size; `mel` the 80x16 window. Returns
    /// the new face, planar RGB 0..1, same size.
    pub fn run(&mut self, model: &Model, face: &[f32], mel: &[f32]) -> Result<Vec<f32>> {
        let s = self.contract.size;
        let n = s * s;
        assert_eq!(face.len(), 3 * n, "face crop size");
        self.input.clear();
        self.input.resize(6 * n, 0.0);
        for c in 0..3 {
            let src = &face[(2 - c) * n..(3 - c) * n]; // RGB -> BGR
            self.input[(3 + c) * n..(4 + c) * n].copy_from_slice(src);
            self.input[c * n..c * n + n / 2].copy_from_slice(&src[..n / 2]); // rows s/2.. stay 0
        }
        let mel_shape = [1, 1, N_MELS, MEL_STEP];
        let face_shape = [1, 6, s, s];
        let inputs = [
            ModelInput {
                name: &self.contract.mel_input,
                shape: &mel_shape,
                data: InputData::for_elem(self.contract.mel_elem, mel, &mut self.half.0),
            },
            ModelInput {
                name: &self.contract.face_input,
                shape: &face_shape,
                data: InputData::for_elem(self.contract.face_elem, &self.input, &mut self.half.1),
            },
        ];
        model.run(&inputs, |shape, out| {
            if shape != [1, 3, s, s] {
                return Err(Error::contract(
                    &model.name,
                    WAV2LIP,
                    "output shape",
                    format!("[1, 3, {s}, {s}]"),
                    format!("{shape:?}"),
                ));
            }
            let mut rgb = vec![0f32; 3 * n];
            for c in 0..3 {
                rgb[c * n..(c + 1) * n].copy_from_slice(&out[(2 - c) * n..(3 - c) * n]);
            }
            Ok(rgb)
        })
    }
}

impl Wav2Lip {
    /// The whole face path on `image` (planar RGB 0..1, `w` x `h`): the box `face` cropped and
    /// resized to the model's size, the model run with `mel`, its face resized back into the box
    /// and blended in with a mask that rises over `feather` pixels from the box's edges.
    #[allow(clippy::too_many_arguments)] // the image, its size, the box and the blend are all needed
    pub fn apply(
        &mut self,
        model: &Model,
        image: &mut [f32],
        w: usize,
        h: usize,
        face: FaceBox,
        mel: &[f32],
        feather: f32,
    ) -> Result<()> {
        let s = self.contract.size;
        let mut crop = vec![0f32; 3 * s * s];
        crop_resize(image, w, h, face, &mut crop, s, s)?;
        let patch = self.run(model, &crop, mel)?;
        paste_feathered(image, w, h, face, &patch, s, s, feather)?;
        Ok(())
    }
}

const ULTRAFACE: &str = "UltraFace face detector";

/// A face detector with UltraFace's output layout (Linzaer's Ultra-Light-Fast-Generic-Face-
/// Detector as in the ONNX model zoo): input 1x3xHxW RGB `(x − 127) / 128`; outputs `scores`
/// 1xNx2 (background, face) and `boxes` 1xNx4 (x1, y1, x2, y2, 0..1 of the input). The best
/// face above `threshold` wins (one face per frame).
pub struct FaceDetector {
    input: String,
    width: usize,
    height: usize,
    scores: usize,
    boxes: usize,
    tensor: Vec<f32>,
}

impl FaceDetector {
    pub fn new(model: &Model) -> Result<Self> {
        let err =
            |what: &str, expected: &str, found: String| Error::contract(&model.name, ULTRAFACE, what, expected, found);
        let [input] = model.inputs.as_slice() else {
            return Err(err("inputs", "1 (the image)", model.inputs.len().to_string()));
        };
        let s = &input.shape;
        if s.len() != 4 || s[1] != 3 || s[2] <= 0 || s[3] <= 0 || input.elem != Some(ElemType::F32) {
            return Err(err(
                &format!("input {}", input.name),
                "float32 1x3xHxW with a fixed H and W",
                format!("{} {}", input.elem_name, input.shape_string()),
            ));
        }
        let find = |name: &str, last: i64| {
            model
                .outputs
                .iter()
                .position(|o| o.name == name)
                .or_else(|| model.outputs.iter().position(|o| o.shape.len() == 3 && o.shape[2] == last))
        };
        let (Some(scores), Some(boxes)) = (find("scores", 2), find("boxes", 4)) else {
            let found: Vec<String> = model.outputs.iter().map(|o| format!("{} {}", o.name, o.shape_string())).collect();
            return Err(err("outputs", "scores 1xNx2 and boxes 1xNx4", found.join(", ")));
        };
        Ok(Self {
            input: input.name.clone(),
            width: s[3] as usize,
            height: s[2] as usize,
            scores,
            boxes,
            tensor: Vec::new(),
        })
    }

    /// The most confident face in `image` (planar RGB 0..1, `w` x `h`) with a score of at least
    /// `threshold`, in image pixels, and its score.
    pub fn detect(
        &mut self,
        model: &Model,
        image: &[f32],
        w: usize,
        h: usize,
        threshold: f32,
    ) -> Result<Option<(FaceBox, f32)>> {
        let (dw, dh) = (self.width, self.height);
        self.tensor.resize(3 * dw * dh, 0.0);
        crop_resize(image, w, h, FaceBox { x: 0.0, y: 0.0, w: w as f32, h: h as f32 }, &mut self.tensor, dw, dh)?;
        for v in &mut self.tensor {
            *v = (*v * 255.0 - 127.0) / 128.0;
        }
        let shape = [1, 3, dh, dw];
        let outputs =
            model.run_all(&[ModelInput { name: &self.input, shape: &shape, data: InputData::F32(&self.tensor) }])?;
        let (ss, scores) = &outputs[self.scores];
        let (bs, boxes) = &outputs[self.boxes];
        let n = ss.get(1).copied().unwrap_or(0);
        if ss.len() != 3 || ss[2] != 2 || bs.len() != 3 || bs[1] != n || bs[2] != 4 {
            return Err(Error::contract(
                &model.name,
                ULTRAFACE,
                "output shapes",
                "1xNx2 and 1xNx4",
                format!("{ss:?} and {bs:?}"),
            ));
        }
        let best = (0..n)
            .filter(|&i| scores[2 * i + 1] >= threshold)
            .max_by(|&a, &b| scores[2 * a + 1].total_cmp(&scores[2 * b + 1]));
        Ok(best.and_then(|i| {
            let b = &boxes[4 * i..4 * i + 4];
            let (x1, y1) = (b[0].clamp(0.0, 1.0) * w as f32, b[1].clamp(0.0, 1.0) * h as f32);
            let (x2, y2) = (b[2].clamp(0.0, 1.0) * w as f32, b[3].clamp(0.0, 1.0) * h as f32);
            (x2 - x1 >= 2.0 && y2 - y1 >= 2.0)
                .then_some((FaceBox { x: x1, y: y1, w: x2 - x1, h: y2 - y1 }, scores[2 * i + 1]))
        }))
    }
}

/// Box padding in pixels (Wav2Lip's `pads`: top, bottom, left, right).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Padding {
    pub top: f32,
    pub bottom: f32,
    pub left: f32,
    pub right: f32,
}

impl Padding {
    pub fn apply(&self, b: FaceBox) -> FaceBox {
        FaceBox {
            x: b.x - self.left,
            y: b.y - self.top,
            w: b.w + self.left + self.right,
            h: b.h + self.top + self.bottom,
        }
    }
}

/// The mean of the last `n` detected boxes (Wav2Lip smooths over 5), so the crop does not jitter.
pub struct BoxSmoother {
    n: usize,
    boxes: std::collections::VecDeque<FaceBox>,
}

impl BoxSmoother {
    pub fn new(n: usize) -> Self {
        Self { n: n.max(1), boxes: Default::default() }
    }

    pub fn reset(&mut self) {
        self.boxes.clear();
    }

    pub fn push(&mut self, b: FaceBox) -> FaceBox {
        if self.boxes.len() == self.n {
            self.boxes.pop_front();
        }
        self.boxes.push_back(b);
        self.last().unwrap_or(b)
    }

    /// The smoothed box of the frames so far (none before the first detection).
    pub fn last(&self) -> Option<FaceBox> {
        let k = self.boxes.len() as f32;
        (k > 0.0).then(|| {
            let sum = self.boxes.iter().fold([0f32; 4], |s, b| [s[0] + b.x, s[1] + b.y, s[2] + b.w, s[3] + b.h]);
            FaceBox { x: sum[0] / k, y: sum[1] / k, w: sum[2] / k, h: sum[3] / k }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A voiced sound: 120 Hz and its harmonics to 4 kHz falling as 1/k, peaking at `amp`.
    pub(crate) fn voiced(n: usize, amp: f32) -> Vec<f32> {
        let raw: Vec<f32> = (0..n)
            .map(|i| {
                (1..34)
                    .map(|k| (2.0 * std::f32::consts::PI * 120.0 * k as f32 * i as f32 / 16000.0).sin() / k as f32)
                    .sum()
            })
            .collect();
        let peak = raw.iter().fold(0f32, |m, v| m.max(v.abs()));
        raw.iter().map(|v| v * amp / peak).collect()
    }

    #[test]
    fn streamed_windows_equal_the_whole_spectrogram() {
        let mel = MelSpectrogram::new();
        let x: Vec<f32> = (0..16000).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
        let whole = mel.compute(&x);
        let cols = 1 + x.len() / HOP;
        let mut track = AudioTrack::new();
        for (k, chunk) in x.chunks(333).enumerate() {
            track.push(1_000_000_000 + sample_time(0, k * 333), chunk);
        }
        // Frame 5 at 25 fps, one second after the origin is 0: window 16, mid-stream.
        let t = 1_000_000_000 + 200_000_000;
        assert_eq!(track.window(t), Window::Ready { first: 16 });
        let w = track.mel_window(&mel, 16);
        for b in 0..N_MELS {
            for i in 0..MEL_STEP {
                let d = (w[b * MEL_STEP + i] - whole[b * cols + 16 + i]).abs();
                assert!(d < 1e-4, "band {b} column {i}: {d}");
            }
        }
        // The first window reads the reflection at the start, as librosa's padding does.
        let w0 = track.mel_window(&mel, 0);
        assert!((w0[0] - whole[0]).abs() < 1e-4);
        // The last window before the end is pending until the audio ends, then reflected.
        assert_eq!(track.window(1_000_000_000 + 900_000_000), Window::Pending);
        track.end();
        let Window::Ready { first } = track.window(1_000_000_000 + 900_000_000) else { panic!("ready after end") };
        assert_eq!(first, cols - MEL_STEP);
        let w = track.mel_window(&mel, first);
        for b in 0..N_MELS {
            let d = (w[b * MEL_STEP + MEL_STEP - 1] - whole[b * cols + cols - 1]).abs();
            assert!(d < 1e-4, "last column, band {b}: {d}");
        }
        assert_eq!(track.window(2_000_000_000), Window::NoAudio, "after the audio");
        assert_eq!(track.window(500_000_000), Window::NoAudio, "before the audio");
    }

    #[test]
    fn gaps_become_silence_and_overlaps_are_dropped() {
        let mut track = AudioTrack::new();
        track.push(0, &[1.0; 1600]); // 0..100 ms
        track.push(200_000_000, &[1.0; 1600]); // 200..300 ms: 100 ms of silence before it
        assert_eq!(track.len(), 4800);
        assert_eq!(track.samples[2000], 0.0);
        assert_eq!(track.samples[3200], 1.0);
        track.push(250_000_000, &[2.0; 1600]); // overlaps 50 ms
        assert_eq!(track.len(), 4800 + 800);
        assert_eq!(track.samples[4800], 2.0);
        track.push(350_000_000 + 1_000_000, &[3.0; 16]); // 1 ms late: jitter, taken as continuous
        assert_eq!(track.len(), 5616);
    }

    #[test]
    fn loud_speech_opens_the_mouth_and_silence_closes_it() {
        let mel = MelSpectrogram::new();
        let mut track = AudioTrack::new();
        let mut x = vec![0f32; 8000];
        x.extend(voiced(8000, 0.3));
        x.extend(vec![0f32; 8000]);
        track.push(0, &x);
        track.end();
        let mut at = |ms: u64| {
            let Window::Ready { first } = track.window(ms * 1_000_000) else { panic!() };
            MouthDriver::target(&track.mel_window(&mel, first))
        };
        assert_eq!(at(200).0, 0.0, "silence");
        assert!(at(700).0 > 0.7, "a loud voiced sound (-10 dBFS): {:?}", at(700));
        let quiet = {
            let mut t = AudioTrack::new();
            t.push(0, &voiced(16000, 0.002));
            t.end();
            MouthDriver::target(&t.mel_window(&mel, 20)).0
        };
        assert!(quiet < 0.2, "a -54 dBFS voice barely opens it: {quiet}");
        let mut d = MouthDriver::new();
        let w = track.mel_window(&mel, 56);
        let (o1, _) = d.step(&w);
        let target = MouthDriver::target(&w).0;
        assert!((o1 - 0.8 * target).abs() < 1e-6, "fast attack: 80% of the way in one frame: {o1}");
        let silent = track.mel_window(&mel, 0);
        let (o2, _) = d.step(&silent);
        assert!((o2 - 0.4 * o1).abs() < 1e-6, "slower release: 60% of the way down: {o1} -> {o2}");
    }

    fn info(name: &str, shape: &[i64]) -> TensorInfo {
        TensorInfo { name: name.into(), elem: Some(ElemType::F32), elem_name: "float32".into(), shape: shape.to_vec() }
    }

    #[test]
    fn wav2lip_inputs_are_found_by_name_or_shape() {
        let out = [info("out", &[-1, 3, -1, -1])];
        // The original repo's argument names, 256x256 variant, inputs in the other order.
        let c = Wav2LipContract::detect_io(
            "m",
            &[info("face_sequences", &[-1, 6, 256, 256]), info("audio_sequences", &[-1, 1, 80, 16])],
            &out,
        )
        .unwrap();
        assert_eq!((c.mel_input.as_str(), c.face_input.as_str(), c.size), ("audio_sequences", "face_sequences", 256));
        // Anonymous names: by shape.
        let c =
            Wav2LipContract::detect_io("m", &[info("x", &[1, 1, 80, 16]), info("y", &[1, 6, 96, 96])], &out).unwrap();
        assert_eq!((c.mel_input.as_str(), c.face_input.as_str(), c.size), ("x", "y", 96));
        // Wrong contracts name what was expected.
        let e = Wav2LipContract::detect_io("m", &[info("input", &[1, 3, 64, 64])], &out).unwrap_err().to_string();
        assert!(e.contains("Wav2Lip") && e.contains("2 (mel window, face)"), "{e}");
        let e = Wav2LipContract::detect_io("m", &[info("mel", &[1, 1, 40, 16]), info("face", &[1, 6, 96, 96])], &out)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Bx1x80x16"), "{e}");
        let e = Wav2LipContract::detect_io("m", &[info("mel", &[1, 1, 80, 16]), info("face", &[1, 6, 96, 128])], &out)
            .unwrap_err()
            .to_string();
        assert!(e.contains("square"), "{e}");
    }

    #[test]
    fn smoother_averages_the_last_boxes() {
        let mut s = BoxSmoother::new(2);
        let b = |x| FaceBox { x, y: 0.0, w: 10.0, h: 10.0 };
        assert_eq!(s.push(b(0.0)).x, 0.0);
        assert_eq!(s.push(b(10.0)).x, 5.0);
        assert_eq!(s.push(b(20.0)).x, 15.0);
        let p = Padding { top: 0.0, bottom: 10.0, left: 1.0, right: 2.0 };
        assert_eq!(p.apply(b(5.0)), FaceBox { x: 4.0, y: 0.0, w: 13.0, h: 20.0 });
    }
}
