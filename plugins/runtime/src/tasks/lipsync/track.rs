//! Following the face from frame to frame: a fixed box, or a detector's boxes padded and smoothed
//! over frames, each frame's mouth read by the face mesh.

use std::sync::Arc;

use gst_ai_kernels::{self as kernels, FaceBox, Frame, Rect, TensorSpec};

use super::face::{FaceDetector, FaceMesh, Found, MouthMarks};
use crate::backend::model::{Cancel, Model};
use crate::error::Result;

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
}
