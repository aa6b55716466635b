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
const MOUTH_INSIDE: [f32; 3] = [0.06, 0.03, 0.03];

/// Where a face's mouth is, read from landmarks, in frame pixels: the mouth corners (on the
/// image's left and right), the middle of the lips, the nose tip's height and, from the face
/// mesh, the chin's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MouthMarks {
    pub left: (f32, f32),
    pub right: (f32, f32),
    pub centre: (f32, f32),
    pub nose_y: f32,
    pub chin_y: Option<f32>,
}

/// A face found in a frame: its (padded, smoothed) box and, when landmarks were read, its mouth.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Found {
    pub face: FaceBox,
    pub marks: Option<MouthMarks>,
}

/// The built-in animation's mouth in `face`: opened by `gap` (0..1 of full loudness) times
/// `scale` (the fraction of the face height at full loudness), its width scaled by `width`.
/// With landmarks the mouth is where they say: centred on the lips, as wide as the corners
/// (a little more: the warp fades towards its ends), and its reach stays below the nose and
/// above the chin. Without, it is taken at 3/4 of a brows-to-chin box.
pub fn mouth(face: FaceBox, marks: Option<&MouthMarks>, open: f32, width: f32, scale: f32) -> Mouth {
    let full = MOUTH_REACH * face.h;
    let Some(m) = marks else {
        return Mouth {
            cx: face.x + 0.5 * face.w,
            cy: face.y + MOUTH_Y * face.h,
            half_width: MOUTH_HALF_WIDTH * face.w * width,
            gap: (open * scale * face.h).min(0.7 * full),
            reach: full,
            inside: MOUTH_INSIDE,
        };
    };
    let (cx, cy) = m.centre;
    let corners = ((m.right.0 - m.left.0).powi(2) + (m.right.1 - m.left.1).powi(2)).sqrt();
    let up = 0.85 * (cy - m.nose_y);
    let down = m.chin_y.map_or(full, |c| 0.6 * (c - cy));
    let reach = full.min(up).min(down).max(2.0);
    Mouth {
        cx,
        cy,
        half_width: (0.6 * corners * width).max(1.0),
        gap: (open * scale * face.h).min(0.7 * reach),
        reach,
        inside: MOUTH_INSIDE,
    }
}

/// The face box Wav2Lip is given: with landmarks, the (smoothed) box moved so that the lips sit
/// where they sit in Wav2Lip's brows-to-chin crops (3/4 of the height, centred); else `face`.
pub fn wav2lip_box(found: &Found) -> FaceBox {
    let f = found.face;
    match found.marks {
        Some(m) => FaceBox { x: m.centre.0 - 0.5 * f.w, y: m.centre.1 - MOUTH_Y * f.h, ..f },
        None => f,
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
    /// A detector run on every frame, its boxes padded and averaged over `smoothing` frames;
    /// with a face `mesh` (MediaPipe's), the lips are read on each frame's face crop.
    Detector { model: Arc<Model>, padding: Padding, smoothing: usize, mesh: Option<Arc<Model>> },
}

/// The face of each frame.
pub(super) enum Faces {
    Fixed(FaceBox),
    Detected(Box<Tracked>),
}

/// Faces found by a detector, their mouths by a face mesh.
pub(super) struct Tracked {
    model: Arc<Model>,
    detector: FaceDetector,
    padding: Padding,
    smoother: BoxSmoother,
    mesh: Option<(Arc<Model>, FaceMesh)>,
    marks: Option<MouthMarks>,
    scratch: Vec<f32>,
}

impl Faces {
    pub(super) fn new(source: FaceSource) -> Result<Self> {
        Ok(match source {
            FaceSource::Fixed(b) => Self::Fixed(b),
            FaceSource::Detector { model, padding, smoothing, mesh } => Self::Detected(Box::new(Tracked {
                detector: FaceDetector::new(&model)?,
                model,
                padding,
                smoother: BoxSmoother::new(smoothing),
                mesh: mesh.map(|m| FaceMesh::new(&m).map(|fm| (m, fm))).transpose()?,
                marks: None,
                scratch: Vec::new(),
            })),
        })
    }

    pub(super) fn reset(&mut self) {
        if let Self::Detected(t) = self {
            t.smoother.reset();
            t.marks = None;
        }
    }

    /// The face for `frame`: the detection at `threshold` or better, padded and smoothed, with
    /// its mouth read by the face mesh (or, when the mesh is unsure or absent, from the
    /// detector's mouth-corner landmarks); the last one when nothing is found, None before the
    /// first.
    pub(super) fn find(&mut self, frame: &Frame<'_>, threshold: f32, cancel: Option<&Cancel>) -> Result<Option<Found>> {
        let t = match self {
            Self::Fixed(b) => return Ok(Some(Found { face: *b, marks: None })),
            Self::Detected(t) => t,
        };
        let (w, h) = (frame.width, frame.height);
        t.scratch.resize(3 * w * h, 0.0);
        kernels::pack(frame, Rect::new(0, 0, w, h), TensorSpec::CANONICAL, &mut t.scratch)?;
        let Some(d) = t.detector.detect(&t.model, &t.scratch, w, h, threshold, cancel)? else {
            return Ok(t.smoother.last().map(|face| Found { face, marks: t.marks }));
        };
        let face = t.smoother.push(t.padding.apply(d.face));
        let from_mesh = match &mut t.mesh {
            Some((m, fm)) => fm.mouth(m, &t.scratch, w, h, d.face, cancel)?,
            None => None,
        };
        t.marks = from_mesh.or_else(|| d.landmarks.map(|p| MouthMarks::from_five(&p)));
        Ok(Some(Found { face, marks: t.marks }))
    }
}

impl MouthMarks {
    /// From a RetinaFace-style five: eyes, nose tip, mouth corners (no chin).
    pub fn from_five(p: &[(f32, f32); 5]) -> Self {
        let (left, right) = (p[3], p[4]);
        Self { left, right, centre: ((left.0 + right.0) / 2.0, (left.1 + right.1) / 2.0), nose_y: p[2].1, chin_y: None }
    }
}

/// One detection: the box, its score and, when the detector gives them, five landmarks (eyes,
/// nose tip, mouth corners) in image pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    pub face: FaceBox,
    pub score: f32,
    pub landmarks: Option<[(f32, f32); 5]>,
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
    /// An optional `landmarks` output, 1xNx10 (five x, y pairs, 0..1 of the input).
    landmarks: Option<usize>,
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
            landmarks: model
                .outputs
                .iter()
                .position(|o| o.name == "landmarks" && o.shape.len() == 3 && o.shape[2] == 10),
            tensor: Vec::new(),
        })
    }

    /// The most confident face in `image` (planar RGB 0..1, `w` x `h`) with a score of at least
    /// `threshold`, in image pixels, with its score and the detector's five landmarks when it has
    /// them; `cancel` can stop it while the model runs.
    pub fn detect(
        &mut self,
        model: &Model,
        image: &[f32],
        w: usize,
        h: usize,
        threshold: f32,
        cancel: Option<&Cancel>,
    ) -> Result<Option<Detection>> {
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
        let marks = self.landmarks.map(|k| &outputs[k]).filter(|(ls, _)| ls.len() == 3 && ls[1] == n && ls[2] == 10);
        let best = (0..n)
            .filter(|&i| scores[2 * i + 1] >= threshold)
            .max_by(|&a, &b| scores[2 * a + 1].total_cmp(&scores[2 * b + 1]));
        Ok(best.and_then(|i| {
            let b = &boxes[4 * i..4 * i + 4];
            let (x1, y1) = (b[0].clamp(0.0, 1.0) * w as f32, b[1].clamp(0.0, 1.0) * h as f32);
            let (x2, y2) = (b[2].clamp(0.0, 1.0) * w as f32, b[3].clamp(0.0, 1.0) * h as f32);
            let landmarks = marks.map(|(_, l)| {
                std::array::from_fn(|k| (l[10 * i + 2 * k] * w as f32, l[10 * i + 2 * k + 1] * h as f32))
            });
            (x2 - x1 >= 2.0 && y2 - y1 >= 2.0).then_some(Detection {
                face: FaceBox { x: x1, y: y1, w: x2 - x1, h: y2 - y1 },
                score: scores[2 * i + 1],
                landmarks,
            })
        }))
    }
}

const MESH: &str = "MediaPipe face mesh";

/// MediaPipe's face mesh (as `zoo:face-mesh`): input 1x3x192x192 RGB 0..1 (a square face crop),
/// outputs `landmarks` 1x468x3 (x, y in pixels of the crop) and `score` 1x1 (a face or not).
pub struct FaceMesh {
    input: String,
    landmarks: usize,
    score: usize,
    tensor: Vec<f32>,
}

impl FaceMesh {
    /// The crop's side.
    pub const SIZE: usize = 192;
    /// The crop: a square around the detector's box, this many times its larger side (MediaPipe
    /// crops its detections enlarged 1.5x).
    pub const ENLARGE: f32 = 1.5;
    /// The score below which the mesh is not trusted.
    pub const MIN_SCORE: f32 = 0.5;
    /// MediaPipe's mesh indices: the mouth corners, the middle of the upper and lower inner lip,
    /// the nose tip, the chin.
    pub const CORNERS: [usize; 2] = [61, 291];
    pub const INNER_MIDDLE: [usize; 2] = [13, 14];
    pub const NOSE_TIP: usize = 1;
    pub const CHIN: usize = 152;
    /// The outer and inner lip contours.
    pub const OUTER_LIPS: [usize; 20] =
        [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185];
    pub const INNER_LIPS: [usize; 20] =
        [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191];

    pub fn new(model: &Model) -> Result<Self> {
        let err = |what: &str, expected: &str, found: String| Error::contract(&model.name, MESH, what, expected, found);
        let [input] = model.inputs.as_slice() else {
            return Err(err("inputs", "1 (the face crop)", model.inputs.len().to_string()));
        };
        let n = Self::SIZE as i64;
        if input.shape.as_slice() != [1, 3, n, n] || input.elem != Some(ElemType::F32) {
            return Err(err(
                &format!("input {}", input.name),
                "float32 1x3x192x192",
                format!("{} {}", input.elem_name, input.shape_string()),
            ));
        }
        let find = |name: &str| model.outputs.iter().position(|o| o.name == name);
        let (Some(landmarks), Some(score)) = (find("landmarks"), find("score")) else {
            let found: Vec<String> = model.outputs.iter().map(|o| format!("{} {}", o.name, o.shape_string())).collect();
            return Err(err("outputs", "landmarks 1x468x3 and score 1x1", found.join(", ")));
        };
        Ok(Self { input: input.name.clone(), landmarks, score, tensor: Vec::new() })
    }

    /// The square crop the mesh reads for a detector's `face` box.
    pub fn crop(face: FaceBox) -> FaceBox {
        let side = Self::ENLARGE * face.w.max(face.h);
        FaceBox { x: face.x + 0.5 * face.w - 0.5 * side, y: face.y + 0.5 * face.h - 0.5 * side, w: side, h: side }
    }

    /// The 468 points (x, y in `image` pixels) and the score of the face in the crop around
    /// `face` of `image` (planar RGB 0..1, `w` x `h`).
    pub fn run(
        &mut self,
        model: &Model,
        image: &[f32],
        w: usize,
        h: usize,
        face: FaceBox,
        cancel: Option<&Cancel>,
    ) -> Result<(Vec<(f32, f32)>, f32)> {
        let n = Self::SIZE;
        let crop = Self::crop(face);
        self.tensor.resize(3 * n * n, 0.0);
        crop_resize(image, w, h, crop, &mut self.tensor, n, n)?;
        let shape = [1, 3, n, n];
        let input = [ModelInput { name: &self.input, shape: &shape, data: InputData::F32(&self.tensor) }];
        let outputs = model.run_all(&input, cancel)?;
        let (ls, l) = &outputs[self.landmarks];
        let score = outputs[self.score].1.first().copied().unwrap_or(0.0);
        if ls.len() != 3 || ls[1] != 468 || ls[2] != 3 {
            return Err(Error::contract(&model.name, MESH, "landmarks", "1x468x3", format!("{ls:?}")));
        }
        let k = crop.w / n as f32;
        let points = (0..468).map(|i| (crop.x + l[3 * i] * k, crop.y + l[3 * i + 1] * k)).collect();
        Ok((points, score))
    }

    /// The mouth the mesh reads in the crop around `face`; None when its score is too low.
    pub fn mouth(
        &mut self,
        model: &Model,
        image: &[f32],
        w: usize,
        h: usize,
        face: FaceBox,
        cancel: Option<&Cancel>,
    ) -> Result<Option<MouthMarks>> {
        let (p, score) = self.run(model, image, w, h, face, cancel)?;
        if score.is_nan() || score < Self::MIN_SCORE {
            return Ok(None);
        }
        let [a, b] = Self::INNER_MIDDLE.map(|i| p[i]);
        let [l, r] = Self::CORNERS.map(|i| p[i]);
        Ok(Some(MouthMarks {
            left: l,
            right: r,
            centre: ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0),
            nose_y: p[Self::NOSE_TIP].1,
            chin_y: Some(p[Self::CHIN].1),
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
        let m = mouth(FaceBox { x: 40.0, y: 16.0, w: 80.0, h: 96.0 }, None, 1.0, 1.0, 0.12);
        assert_eq!((m.cx, m.half_width), (80.0, 16.0));
        assert!((m.cy - (16.0 + 0.74 * 96.0)).abs() < 1e-4 && (m.gap - 0.12 * 96.0).abs() < 1e-4);
    }

    #[test]
    fn landmarks_place_the_mouth_between_the_nose_and_the_chin() {
        // A detector's box (hairline to chin): the lips at 60% of its height, not 74%.
        let face = FaceBox { x: 40.0, y: 20.0, w: 80.0, h: 100.0 };
        let marks = MouthMarks {
            left: (60.0, 80.0),
            right: (100.0, 80.0),
            centre: (80.0, 81.0),
            nose_y: 66.0,
            chin_y: Some(110.0),
        };
        let m = mouth(face, Some(&marks), 1.0, 1.0, 0.12);
        assert_eq!((m.cx, m.cy), (80.0, 81.0));
        assert!((m.half_width - 24.0).abs() < 1e-4, "0.6 of the corners' distance: {}", m.half_width);
        assert!(m.cy - m.reach >= 66.0 && m.cy + m.reach <= 110.0, "reach {} crosses the nose or the chin", m.reach);
        assert!(m.gap > 0.0 && m.gap < m.reach);
        let from_five = MouthMarks::from_five(&[(0.0, 0.0), (0.0, 0.0), (80.0, 66.0), (60.0, 80.0), (100.0, 82.0)]);
        assert_eq!((from_five.centre, from_five.nose_y, from_five.chin_y), ((80.0, 81.0), 66.0, None));
        let w2l = wav2lip_box(&Found { face, marks: Some(marks) });
        assert!((w2l.y + 0.74 * w2l.h - 81.0).abs() < 1e-4 && (w2l.x + 0.5 * w2l.w - 80.0).abs() < 1e-4);
    }
}
