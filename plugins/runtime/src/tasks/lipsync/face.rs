//! Faces and their mouths in a frame: an UltraFace-layout detector ([`FaceDetector`]), MediaPipe's
//! face mesh read on its crop ([`FaceMesh`], [`MouthMarks`]), and the even-aligned pixel regions
//! the work is done in. Following a face from frame to frame is [`track`](super::track)'s.

use gst_ai_kernels::{FaceBox, Rect, crop_resize};

use crate::backend::model::{Cancel, ElemType, InputData, Model, ModelInput};
use crate::error::{Error, Result};

/// Where a face's mouth is, read from landmarks, in frame pixels: the mouth corners (on the
/// image's left and right), the middle of the lips, the nose tip's height and, from the face
/// mesh, the chin's and the contours the built-in animation is shaped by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MouthMarks {
    pub left: (f32, f32),
    pub right: (f32, f32),
    pub centre: (f32, f32),
    pub nose_y: f32,
    pub chin_y: Option<f32>,
    pub contours: Option<Contours>,
}

/// The face mesh's contours around a mouth, in frame pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Contours {
    /// The lips' outer and inner edges, in the order of [`FaceMesh::OUTER_LIPS`] and
    /// [`FaceMesh::INNER_LIPS`].
    pub outer: [(f32, f32); 20],
    pub inner: [(f32, f32); 20],
    /// The bottom of the nose (between the nostrils).
    pub nose: (f32, f32),
    /// The face's outline, [`FaceMesh::FACE_OVAL`]: forehead, temples, cheeks, jaw and chin.
    pub oval: [(f32, f32); 36],
}

/// A face found in a frame: its (padded, smoothed) box and, when landmarks were read, its mouth.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Found {
    pub face: FaceBox,
    pub marks: Option<MouthMarks>,
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

impl MouthMarks {
    /// From a RetinaFace-style five: eyes, nose tip, mouth corners (no chin).
    pub fn from_five(p: &[(f32, f32); 5]) -> Self {
        let (left, right) = (p[3], p[4]);
        Self {
            left,
            right,
            centre: ((left.0 + right.0) / 2.0, (left.1 + right.1) / 2.0),
            nose_y: p[2].1,
            chin_y: None,
            contours: None,
        }
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
/// 1xNx2 (background, face) and `boxes` 1xNx4 (x1, y1, x2, y2, 0..1 of the input). Either the
/// best face above a threshold ([`detect`](Self::detect)) or all of them ([`detect_all`](Self::detect_all)).
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
    /// them; `cancel` can stop it while the model runs. The cheap path: no suppression.
    pub fn detect(
        &mut self,
        model: &Model,
        image: &[f32],
        w: usize,
        h: usize,
        threshold: f32,
        cancel: Option<&Cancel>,
    ) -> Result<Option<Detection>> {
        let raw = self.infer(model, image, w, h, cancel)?;
        let best =
            (0..raw.n).filter(|&i| raw.score(i) >= threshold).max_by(|&a, &b| raw.score(a).total_cmp(&raw.score(b)));
        Ok(best.and_then(|i| raw.detection(i, w, h)))
    }

    /// Every face in `image` with a score of at least `threshold`, most confident first, after
    /// non-maximum suppression: of boxes overlapping by more than [`NMS_IOU`](Self::NMS_IOU),
    /// the most confident stays (the detector scores each face at several anchors).
    pub fn detect_all(
        &mut self,
        model: &Model,
        image: &[f32],
        w: usize,
        h: usize,
        threshold: f32,
        cancel: Option<&Cancel>,
    ) -> Result<Vec<Detection>> {
        let raw = self.infer(model, image, w, h, cancel)?;
        let mut found: Vec<Detection> =
            (0..raw.n).filter(|&i| raw.score(i) >= threshold).filter_map(|i| raw.detection(i, w, h)).collect();
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(suppress(found, Self::NMS_IOU))
    }

    /// Overlap above which two detections are one face.
    pub const NMS_IOU: f32 = 0.4;

    fn infer(&mut self, model: &Model, image: &[f32], w: usize, h: usize, cancel: Option<&Cancel>) -> Result<Raw> {
        let (dw, dh) = (self.width, self.height);
        self.tensor.resize(3 * dw * dh, 0.0);
        crop_resize(image, w, h, FaceBox { x: 0.0, y: 0.0, w: w as f32, h: h as f32 }, &mut self.tensor, dw, dh)?;
        for v in &mut self.tensor {
            *v = (*v * 255.0 - 127.0) / 128.0;
        }
        let shape = [1, 3, dh, dw];
        let input = [ModelInput { name: &self.input, shape: &shape, data: InputData::F32(&self.tensor) }];
        let mut outputs = model.run_all(&input, cancel)?;
        let n = outputs[self.scores].0.get(1).copied().unwrap_or(0);
        let (ss, bs) = (&outputs[self.scores].0, &outputs[self.boxes].0);
        if ss.len() != 3 || ss[2] != 2 || bs.len() != 3 || bs[1] != n || bs[2] != 4 {
            return Err(Error::contract(
                &model.name,
                ULTRAFACE,
                "output shapes",
                "1xNx2 and 1xNx4",
                format!("{ss:?} and {bs:?}"),
            ));
        }
        let landmarks = self
            .landmarks
            .filter(|&k| {
                let ls = &outputs[k].0;
                ls.len() == 3 && ls[1] == n && ls[2] == 10
            })
            .map(|k| std::mem::take(&mut outputs[k].1));
        Ok(Raw {
            n,
            scores: std::mem::take(&mut outputs[self.scores].1),
            boxes: std::mem::take(&mut outputs[self.boxes].1),
            landmarks,
        })
    }
}

/// The detector's outputs for one image, every anchor.
struct Raw {
    n: usize,
    scores: Vec<f32>,
    boxes: Vec<f32>,
    landmarks: Option<Vec<f32>>,
}

impl Raw {
    fn score(&self, i: usize) -> f32 {
        self.scores[2 * i + 1]
    }

    /// Anchor `i` in pixels of a `w` x `h` image (the box clamped to it, the landmarks not);
    /// None for a box under 2 pixels.
    fn detection(&self, i: usize, w: usize, h: usize) -> Option<Detection> {
        let b = &self.boxes[4 * i..4 * i + 4];
        let (x1, y1) = (b[0].clamp(0.0, 1.0) * w as f32, b[1].clamp(0.0, 1.0) * h as f32);
        let (x2, y2) = (b[2].clamp(0.0, 1.0) * w as f32, b[3].clamp(0.0, 1.0) * h as f32);
        let landmarks = self
            .landmarks
            .as_ref()
            .map(|l| std::array::from_fn(|k| (l[10 * i + 2 * k] * w as f32, l[10 * i + 2 * k + 1] * h as f32)));
        (x2 - x1 >= 2.0 && y2 - y1 >= 2.0).then_some(Detection {
            face: FaceBox { x: x1, y: y1, w: x2 - x1, h: y2 - y1 },
            score: self.score(i),
            landmarks,
        })
    }
}

/// Intersection over union of two boxes (0 when either is empty).
pub fn iou(a: FaceBox, b: FaceBox) -> f32 {
    let iw = ((a.x + a.w).min(b.x + b.w) - a.x.max(b.x)).max(0.0);
    let ih = ((a.y + a.h).min(b.y + b.h) - a.y.max(b.y)).max(0.0);
    let inter = iw * ih;
    let union = a.w * a.h + b.w * b.h - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Greedy non-maximum suppression of `sorted` (most confident first): a detection overlapping a
/// kept one by more than `max_iou` is dropped.
fn suppress(sorted: Vec<Detection>, max_iou: f32) -> Vec<Detection> {
    let mut kept: Vec<Detection> = Vec::new();
    for d in sorted {
        if kept.iter().all(|k| iou(k.face, d.face) <= max_iou) {
            kept.push(d);
        }
    }
    kept
}

impl Detection {
    /// The head's turn estimated from the five landmarks: the nose tip's offset from the eyes'
    /// midpoint, over half the eyes' distance, is about 0.5·tan(yaw) on a head seen from the
    /// side (eyes ~35° either side of the nose on a round head); degrees, 0 = frontal. None
    /// without landmarks.
    pub fn yaw(&self) -> Option<f32> {
        self.landmarks.as_ref().map(landmark_yaw)
    }
}

/// [`Detection::yaw`] from five landmarks (eyes, nose tip, mouth corners).
pub fn landmark_yaw(p: &[(f32, f32); 5]) -> f32 {
    let (l, r, nose) = (p[0], p[1], p[2]);
    let half = 0.5 * ((r.0 - l.0).powi(2) + (r.1 - l.1).powi(2)).sqrt();
    let offset = nose.0 - 0.5 * (l.0 + r.0);
    if half > 0.0 { (offset / half / 0.5).atan().to_degrees() } else { 90f32.copysign(offset) }
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
    /// The bottom of the nose.
    pub const NOSE_BOTTOM: usize = 2;
    /// The face's outline, clockwise from the top of the forehead.
    pub const FACE_OVAL: [usize; 36] = [
        10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149,
        150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
    ];

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
        Ok(Self::marks(&p, score))
    }

    /// The mouth in the mesh's 468 `p`oints; None when its `score` is too low.
    pub fn marks(p: &[(f32, f32)], score: f32) -> Option<MouthMarks> {
        if score.is_nan() || score < Self::MIN_SCORE || p.len() < 468 {
            return None;
        }
        let [a, b] = Self::INNER_MIDDLE.map(|i| p[i]);
        let [l, r] = Self::CORNERS.map(|i| p[i]);
        Some(MouthMarks {
            left: l,
            right: r,
            centre: ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0),
            nose_y: p[Self::NOSE_TIP].1,
            chin_y: Some(p[Self::CHIN].1),
            contours: Some(Contours {
                outer: Self::OUTER_LIPS.map(|i| p[i]),
                inner: Self::INNER_LIPS.map(|i| p[i]),
                nose: p[Self::NOSE_BOTTOM],
                oval: Self::FACE_OVAL.map(|i| p[i]),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_even_and_inside_the_frame() {
        assert_eq!(region(100, 80, 11.5, 9.2, 20.0, 30.0), Some(Rect::new(10, 8, 22, 32)));
        assert_eq!(region(100, 80, -5.0, 70.0, 20.0, 30.0), Some(Rect::new(0, 70, 16, 10)));
        assert_eq!(region(100, 80, 120.0, 10.0, 20.0, 30.0), None, "outside");
    }

    fn det(x: f32, score: f32) -> Detection {
        Detection { face: FaceBox { x, y: 0.0, w: 10.0, h: 10.0 }, score, landmarks: None }
    }

    #[test]
    fn overlapping_detections_are_one_face() {
        assert_eq!(iou(det(0.0, 1.0).face, det(0.0, 1.0).face), 1.0);
        assert!((iou(det(0.0, 1.0).face, det(5.0, 1.0).face) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(iou(det(0.0, 1.0).face, det(20.0, 1.0).face), 0.0);
        let kept = suppress(vec![det(0.0, 0.9), det(1.0, 0.8), det(30.0, 0.7), det(5.0, 0.6)], 0.4);
        assert_eq!(kept, vec![det(0.0, 0.9), det(30.0, 0.7), det(5.0, 0.6)], "IoU 0.82 dropped, 0.33 kept");
    }
}
