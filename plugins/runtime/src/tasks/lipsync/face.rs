//! Mouth geometry: where the face is in each frame (a fixed box, or an UltraFace-layout detector
//! [`FaceDetector`] whose boxes are padded and smoothed over frames), where the mouth is in a face
//! box, and the even-aligned pixel regions the work is done in.

use std::sync::Arc;

use gst_ai_kernels::{self as kernels, FaceBox, Frame, Mouth, Rect, TensorSpec, crop_resize};

use crate::backend::model::{Cancel, ElemType, InputData, Model, ModelInput};
use crate::error::{Error, Result};

/// Where the mouth is in a face box (fractions of the box): Wav2Lip-style boxes run from the
/// brows to the chin, so the lips meet at about three quarters of the height.
const MOUTH_Y: f32 = 0.74;
const MOUTH_HALF_WIDTH: f32 = 0.2;
/// How far above and below the lips the built-in warp reaches.
const MOUTH_REACH: f32 = 0.2;
/// A dark, reddish mouth interior.
const MOUTH_INSIDE: [f32; 3] = [0.22, 0.07, 0.07];

/// The built-in animation's mouth in `face`: opened by `gap` (0..1 of full loudness) times
/// `scale` (the fraction of the face height at full loudness), its width scaled by `width`.
pub fn mouth(face: FaceBox, open: f32, width: f32, scale: f32) -> Mouth {
    let reach = MOUTH_REACH * face.h;
    Mouth {
        cx: face.x + 0.5 * face.w,
        cy: face.y + MOUTH_Y * face.h,
        half_width: MOUTH_HALF_WIDTH * face.w * width,
        gap: (open * scale * face.h).min(0.7 * reach),
        reach,
        inside: MOUTH_INSIDE,
    }
}

/// The pixel rectangle covering (x, y, w, h) inside a `fw` x `fh` frame, widened to even
/// coordinates (4:2:0 chroma blocks); None when nothing of it is inside.
pub fn region(fw: usize, fh: usize, x: f32, y: f32, w: f32, h: f32) -> Option<Rect> {
    let even_down = |v: f32, limit: usize| ((v.floor().max(0.0) as usize).min(limit) / 2) * 2;
    let even_up = |v: f32, limit: usize| {
        let e = v.ceil().max(0.0) as usize;
        (e.div_ceil(2) * 2).min(limit)
    };
    let (x0, y0) = (even_down(x, fw), even_down(y, fh));
    let (x1, y1) = (even_up(x + w, fw), even_up(y + h, fh));
    (x1 > x0 && y1 > y0).then(|| Rect::new(x0 as isize, y0 as isize, x1 - x0, y1 - y0))
}

/// Where the faces come from.
pub enum FaceSource {
    /// A fixed framing: this box in every frame.
    Fixed(FaceBox),
    /// A detector run on every frame, its boxes padded and averaged over `smoothing` frames.
    Detector { model: Arc<Model>, padding: Padding, smoothing: usize },
}

/// The face of each frame.
pub(super) enum Faces {
    Fixed(FaceBox),
    Detected { model: Arc<Model>, detector: FaceDetector, padding: Padding, smoother: BoxSmoother, scratch: Vec<f32> },
}

impl Faces {
    pub(super) fn new(source: FaceSource) -> Result<Self> {
        Ok(match source {
            FaceSource::Fixed(b) => Self::Fixed(b),
            FaceSource::Detector { model, padding, smoothing } => Self::Detected {
                detector: FaceDetector::new(&model)?,
                model,
                padding,
                smoother: BoxSmoother::new(smoothing),
                scratch: Vec::new(),
            },
        })
    }

    pub(super) fn reset(&mut self) {
        if let Self::Detected { smoother, .. } = self {
            smoother.reset();
        }
    }

    /// The face box for `frame`: the detection at `threshold` or better, padded and smoothed;
    /// the last one when nothing is found, None before the first.
    pub(super) fn find(
        &mut self,
        frame: &Frame<'_>,
        threshold: f32,
        cancel: Option<&Cancel>,
    ) -> Result<Option<FaceBox>> {
        let (model, detector, padding, smoother, scratch) = match self {
            Self::Fixed(b) => return Ok(Some(*b)),
            Self::Detected { model, detector, padding, smoother, scratch } => {
                (model, detector, padding, smoother, scratch)
            }
        };
        let (w, h) = (frame.width, frame.height);
        scratch.resize(3 * w * h, 0.0);
        kernels::pack(frame, Rect::new(0, 0, w, h), TensorSpec::CANONICAL, scratch)?;
        Ok(match detector.detect(model, scratch, w, h, threshold, cancel)? {
            Some((b, _score)) => Some(smoother.push(padding.apply(b))),
            None => smoother.last(),
        })
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
    /// `threshold`, in image pixels, and its score; `cancel` can stop it while the model runs.
    pub fn detect(
        &mut self,
        model: &Model,
        image: &[f32],
        w: usize,
        h: usize,
        threshold: f32,
        cancel: Option<&Cancel>,
    ) -> Result<Option<(FaceBox, f32)>> {
        let (dw, dh) = (self.width, self.height);
        self.tensor.resize(3 * dw * dh, 0.0);
        crop_resize(image, w, h, FaceBox { x: 0.0, y: 0.0, w: w as f32, h: h as f32 }, &mut self.tensor, dw, dh)?;
        for v in &mut self.tensor {
            *v = (*v * 255.0 - 127.0) / 128.0;
        }
        let shape = [1, 3, dh, dw];
        let input = [ModelInput { name: &self.input, shape: &shape, data: InputData::F32(&self.tensor) }];
        let outputs = model.run_all(&input, cancel)?;
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

    #[test]
    fn regions_are_even_and_inside_the_frame() {
        assert_eq!(region(100, 80, 11.5, 9.2, 20.0, 30.0), Some(Rect::new(10, 8, 22, 32)));
        assert_eq!(region(100, 80, -5.0, 70.0, 20.0, 30.0), Some(Rect::new(0, 70, 16, 10)));
        assert_eq!(region(100, 80, 120.0, 10.0, 20.0, 30.0), None, "outside");
        let m = mouth(FaceBox { x: 40.0, y: 16.0, w: 80.0, h: 96.0 }, 1.0, 1.0, 0.12);
        assert_eq!((m.cx, m.half_width), (80.0, 16.0));
        assert!((m.cy - (16.0 + 0.74 * 96.0)).abs() < 1e-4 && (m.gap - 0.12 * 96.0).abs() < 1e-4);
    }
}
