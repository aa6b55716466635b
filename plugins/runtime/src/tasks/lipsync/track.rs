//! Following one face from frame to frame: a fixed box, or a detector's faces of which one is
//! chosen ([`FaceSelect`]) and then followed by overlap, never jumping to another person; its box
//! smoothed by a one-euro filter ([`BoxFilter`]: still when the head is still, quick when it
//! moves), kept through short misses, given up after `max_misses`. Between detections (every
//! `detect_interval` frames) the face mesh follows the face, as MediaPipe does: the last frame's
//! 468 points give the next crop. Faces too small, turned to profile or with the mouth outside the
//! frame are reported and left alone ([`FaceState`]): a mouth is only drawn on the face it is on.

use std::sync::Arc;

use gst_ai_kernels::{self as kernels, FaceBox, Frame, Rect, TensorSpec};

use super::face::{Detection, FaceDetector, FaceMesh, Found, MouthMarks, iou, landmark_yaw};
use crate::backend::model::{Cancel, Model};
use crate::error::Result;

/// Where the faces come from.
pub enum FaceSource {
    /// A fixed framing: this box in every frame.
    Fixed(FaceBox),
    /// A detector, its faces followed as `track` says; with a face `mesh` (MediaPipe's), the lips
    /// are read on each frame's face crop and the face is followed between detections.
    Detector { model: Arc<Model>, mesh: Option<Arc<Model>>, track: TrackOptions },
}

/// Which face is animated when several are found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FaceSelect {
    /// The largest box.
    #[default]
    Largest,
    /// The highest detector score.
    MostConfident,
    /// The box whose centre is nearest the frame's.
    Centre,
}

/// How a detected face is followed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackOptions {
    pub padding: Padding,
    /// The box filter's strength, in frames: as still as a mean of this many frames when the
    /// head is still (1: no smoothing).
    pub smoothing: u32,
    pub select: FaceSelect,
    /// Frames a followed face may go unseen before it is given up.
    pub max_misses: u32,
    /// The detector runs every this many frames; the mesh follows the face in between. 4 by
    /// default: at 1280x720 on a panned face (tests/tests/lipsync_track.rs, `measure_…`) the
    /// element took 9.8 ms a frame against 18.4 ms detecting every frame (2-core CPU), with the
    /// same box and lip errors (2.9 vs 3.3 px, 1.0 vs 0.9 px mean).
    pub detect_interval: u32,
    /// Faces whose larger side is under this many pixels are left alone.
    pub min_face_size: f32,
    /// Faces turned further than this (degrees, estimated from the landmarks) are left alone.
    /// 60 by default: the tuning LFW faces' three-quarter views read up to 51° (face 30: the
    /// landmarks 51°, the mesh 29°) and are animated at the mouth (tests/tests/lipsync_real.rs).
    pub max_yaw: f32,
}

impl Default for TrackOptions {
    fn default() -> Self {
        Self {
            padding: Padding::default(),
            smoothing: 5,
            select: FaceSelect::Largest,
            max_misses: 6,
            detect_interval: 4,
            min_face_size: 48.0,
            max_yaw: 60.0,
        }
    }
}

/// What became of the face in one frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FaceState {
    /// The fixed box.
    Fixed,
    /// Found by the detector.
    Detected,
    /// Followed by the face mesh from the last frame's points, without detection.
    Tracked,
    /// The detector missed the followed face but it is kept: the mesh still sees it on its last
    /// crop (or, without a mesh, for at most `max_misses` frames).
    Held,
    /// No face: none found, or the followed one unseen (kept for `max_misses` frames, not drawn).
    #[default]
    NoFace,
    /// The face is under `min_face_size`.
    TooSmall,
    /// The face is turned past `max_yaw`, or the face mesh does not see the face found.
    Profile,
    /// The face's mouth is not inside the frame.
    MouthOutside,
}

impl FaceState {
    /// Whether the frame is animated on this face.
    pub fn drawn(self) -> bool {
        matches!(self, Self::Fixed | Self::Detected | Self::Tracked | Self::Held)
    }
}

/// One frame's outcome: the face to animate (with a drawn state), what happened, whether the
/// detector ran and whether a followed face was given up in this frame.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FaceReport {
    pub found: Option<Found>,
    pub state: FaceState,
    pub detected: bool,
    pub lost: bool,
}

/// The face of each frame.
pub enum Faces {
    Fixed(FaceBox),
    Detected(Box<Tracker>),
}

/// Faces found by a detector, one of them followed.
pub struct Tracker {
    model: Arc<Model>,
    detector: FaceDetector,
    mesh: Option<(Arc<Model>, FaceMesh)>,
    options: TrackOptions,
    track: Option<Track>,
    scratch: Vec<f32>,
}

/// The followed face.
struct Track {
    /// Its box in this frame, framed as the detector frames faces, unsmoothed.
    raw: FaceBox,
    filter: BoxFilter,
    /// The detector's box relative to the mesh points' bounds (x, y, w, h in units of them), to
    /// frame a box from the points between detections as the detector would.
    frame: Option<[f32; 4]>,
    points: Option<Vec<(f32, f32)>>,
    landmarks: Option<[(f32, f32); 5]>,
    marks: Option<MouthMarks>,
    misses: u32,
    since_detection: u32,
}

/// A face as seen in one frame.
struct Seen {
    face: FaceBox,
    points: Option<Vec<(f32, f32)>>,
    marks: Option<MouthMarks>,
    landmarks: Option<[(f32, f32); 5]>,
}

impl Faces {
    pub fn new(source: FaceSource) -> Result<Self> {
        Ok(match source {
            FaceSource::Fixed(b) => Self::Fixed(b),
            FaceSource::Detector { model, mesh, track } => Self::Detected(Box::new(Tracker {
                detector: FaceDetector::new(&model)?,
                model,
                mesh: mesh.map(|m| FaceMesh::new(&m).map(|fm| (m, fm))).transpose()?,
                options: track,
                track: None,
                scratch: Vec::new(),
            })),
        })
    }

    /// Forgets the followed face (flush, seek).
    pub fn reset(&mut self) {
        if let Self::Detected(t) = self {
            t.track = None;
        }
    }

    /// The face to animate in `frame`, found at `threshold` or better, and what became of it.
    pub fn find(&mut self, frame: &Frame<'_>, threshold: f32, cancel: Option<&Cancel>) -> Result<FaceReport> {
        match self {
            Self::Fixed(b) => Ok(FaceReport {
                found: Some(Found { face: *b, marks: None }),
                state: FaceState::Fixed,
                ..Default::default()
            }),
            Self::Detected(t) => t.find(frame, threshold, cancel),
        }
    }
}

impl Tracker {
    fn find(&mut self, frame: &Frame<'_>, threshold: f32, cancel: Option<&Cancel>) -> Result<FaceReport> {
        let (w, h) = (frame.width, frame.height);
        self.scratch.resize(3 * w * h, 0.0);
        kernels::pack(frame, Rect::new(0, 0, w, h), TensorSpec::CANONICAL, &mut self.scratch)?;
        let mut report = FaceReport::default();
        let o = self.options;
        // Between detections the mesh follows the face from its last points; a face it no longer
        // sees is looked for by the detector at once.
        let due = self.track.as_ref().is_none_or(|t| t.misses > 0 || t.since_detection + 1 >= o.detect_interval);
        let mut state = None;
        if !due
            && let Some(crop) = self.track.as_ref().and_then(|t| t.mesh_box())
            && let Some(seen) = self.look(crop, w, h, cancel)?
        {
            self.update(seen, false);
            state = Some(FaceState::Tracked);
        }
        if state.is_none() {
            report.detected = true;
            let found = self.detector.detect_all(&self.model, &self.scratch, w, h, threshold, cancel)?;
            state = Some(match self.choose(&found, w, h) {
                Some(d) => {
                    let seen = match self.look(d.face, w, h, cancel)? {
                        Some(seen) => Seen { face: d.face, landmarks: d.landmarks, ..seen },
                        None => Seen {
                            face: d.face,
                            points: None,
                            marks: d.landmarks.map(|p| MouthMarks::from_five(&p)),
                            landmarks: d.landmarks,
                        },
                    };
                    self.update(seen, true);
                    FaceState::Detected
                }
                None if found.iter().any(|d| self.too_small(d.face)) && self.track.is_none() => FaceState::TooSmall,
                None => self.missed(w, h, cancel, &mut report)?,
            });
        }
        let state = state.unwrap_or_default();
        let Some(t) = self.track.as_ref().filter(|_| state.drawn()) else {
            report.state = state;
            return Ok(report);
        };
        report.state = if self.too_small(t.raw) {
            FaceState::TooSmall
        } else if t.yaw().is_some_and(|yaw| yaw.abs() > o.max_yaw)
            || (self.mesh.is_some() && t.points.is_none() && t.landmarks.is_some())
        {
            // The mesh not seeing a face a landmark detector (a real face detector) found: turned
            // or hidden too far for the lips to be read (on LFW face 10 turned 60°, RetinaFace's
            // landmarks read 24° and the mesh's score is 0.02). A detector without landmarks keeps
            // the box placement (the synthetic fixtures of tests/tests/lipsync.rs).
            FaceState::Profile
        } else if !mouth_inside(t, w, h) {
            FaceState::MouthOutside
        } else {
            state
        };
        if report.state.drawn() {
            let face = o.padding.apply(t.filter.last().unwrap_or(t.raw));
            report.found = Some(Found { face, marks: t.marks });
        }
        Ok(report)
    }

    /// The detection to follow: the followed face's (the best overlap with its box), else, with
    /// no face followed, the one `select` prefers among those large enough.
    fn choose<'a>(&self, found: &'a [Detection], w: usize, h: usize) -> Option<&'a Detection> {
        if let Some(t) = &self.track {
            return found
                .iter()
                .map(|d| (iou(d.face, t.raw), d))
                .filter(|(o, _)| *o >= Self::SAME_FACE)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, d)| d);
        }
        let (cx, cy) = (0.5 * w as f32, 0.5 * h as f32);
        let key = |d: &Detection| match self.options.select {
            FaceSelect::Largest => d.face.w * d.face.h,
            FaceSelect::MostConfident => d.score,
            FaceSelect::Centre => {
                -((d.face.x + 0.5 * d.face.w - cx).powi(2) + (d.face.y + 0.5 * d.face.h - cy).powi(2))
            }
        };
        found.iter().filter(|d| !self.too_small(d.face)).max_by(|a, b| key(a).total_cmp(&key(b)))
    }

    /// Overlap a detection needs with the followed face's last box to be that face.
    const SAME_FACE: f32 = 0.25;

    fn too_small(&self, b: FaceBox) -> bool {
        b.w.max(b.h) < self.options.min_face_size
    }

    /// The detector did not see the followed face (or there is none): kept while the mesh still
    /// sees it on its last crop; else unseen, given up after `max_misses` frames.
    fn missed(&mut self, w: usize, h: usize, cancel: Option<&Cancel>, report: &mut FaceReport) -> Result<FaceState> {
        let Some(t) = self.track.as_mut() else { return Ok(FaceState::NoFace) };
        t.misses += 1;
        if t.misses > self.options.max_misses {
            self.track = None;
            report.lost = true;
            return Ok(FaceState::NoFace);
        }
        let crop = t.mesh_box().unwrap_or(t.raw);
        if self.mesh.is_none() {
            return Ok(FaceState::Held);
        }
        Ok(match self.look(crop, w, h, cancel)? {
            Some(seen) => {
                self.update(seen, false);
                FaceState::Held
            }
            None => FaceState::NoFace,
        })
    }

    /// The face mesh on the crop around `face`: None when there is no mesh or it sees no face.
    fn look(&mut self, face: FaceBox, w: usize, h: usize, cancel: Option<&Cancel>) -> Result<Option<Seen>> {
        let Some((m, fm)) = &mut self.mesh else { return Ok(None) };
        if !(face.w > 0.0 && face.h > 0.0) {
            return Ok(None);
        }
        let (points, score) = fm.run(m, &self.scratch, w, h, face, cancel)?;
        let Some(marks) = FaceMesh::marks(&points, score) else { return Ok(None) };
        Ok(Some(Seen { face, points: Some(points), marks: Some(marks), landmarks: None }))
    }

    /// Follows the face `seen` in this frame; `detected`: its box is the detector's (which also
    /// ends a run of misses).
    fn update(&mut self, seen: Seen, detected: bool) {
        let bounds = seen.points.as_deref().map(point_bounds);
        let t = self.track.get_or_insert_with(|| Track {
            raw: seen.face,
            filter: BoxFilter::new(self.options.smoothing),
            frame: None,
            points: None,
            landmarks: None,
            marks: None,
            misses: 0,
            since_detection: 0,
        });
        t.raw = match (detected, bounds, t.frame) {
            (false, Some(b), Some(f)) => framed(b, f),
            _ => seen.face,
        };
        if detected {
            t.frame = bounds.filter(|b| b.w > 0.0 && b.h > 0.0).map(|b| {
                let f = seen.face;
                [(f.x - b.x) / b.w, (f.y - b.y) / b.h, f.w / b.w, f.h / b.h]
            });
            t.landmarks = seen.landmarks;
            t.since_detection = 0;
            // Only a detection ends a miss: the mesh following the face between detections
            // runs only while there is none, and holding a missed face keeps its count.
            t.misses = 0;
        } else {
            t.since_detection += 1;
        }
        t.filter.push(t.raw);
        t.points = seen.points;
        t.marks = seen.marks;
    }
}

impl Track {
    /// The crop for the mesh in the next frame: the box framed from this frame's points.
    fn mesh_box(&self) -> Option<FaceBox> {
        Some(framed(point_bounds(self.points.as_deref()?), self.frame?))
    }

    /// The head's turn in degrees, the larger of the last detection's landmarks' reading and
    /// the mesh's. On a photograph turned by a cylindrical warp (tests/tests/lipsync_track.rs)
    /// the detector's five landmarks follow the turn (34° at 40°, 47° at 60°) while the mesh
    /// keeps reading a narrower frontal face (under 16°), so the mesh alone would miss profiles.
    fn yaw(&self) -> Option<f32> {
        let det = self.landmarks.as_ref().map(landmark_yaw);
        let mesh = self.points.as_deref().and_then(mesh_yaw);
        match (det, mesh) {
            (Some(a), Some(b)) => Some(if a.abs() >= b.abs() { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

/// The box framed as the detector frames faces from mesh points' bounds `b`: `f` is the
/// detector's box relative to them (see [`Track::frame`]).
fn framed(b: FaceBox, f: [f32; 4]) -> FaceBox {
    FaceBox { x: b.x + f[0] * b.w, y: b.y + f[1] * b.h, w: f[2] * b.w, h: f[3] * b.h }
}

/// The bounds of `points`.
fn point_bounds(points: &[(f32, f32)]) -> FaceBox {
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for &(x, y) in points {
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    FaceBox { x: x0, y: y0, w: (x1 - x0).max(0.0), h: (y1 - y0).max(0.0) }
}

/// The mesh's points at the face's sides (by the ears) and the nose tip.
const SIDES: [usize; 2] = [234, 454];

/// The head's turn from the face mesh, in degrees (0 = frontal): the nose tip's offset from the
/// middle of the face's sides, over half their distance, is about tan(yaw) (a round head whose
/// sides are ~90° from the nose). None when the points are not the mesh's.
pub fn mesh_yaw(p: &[(f32, f32)]) -> Option<f32> {
    let (l, r, nose) = (*p.get(SIDES[0])?, *p.get(SIDES[1])?, *p.get(FaceMesh::NOSE_TIP)?);
    let half = 0.5 * ((r.0 - l.0).powi(2) + (r.1 - l.1).powi(2)).sqrt();
    // Along the line between the sides, so a tilted head reads as its turn only.
    let (ux, uy) = if half > 0.0 { ((r.0 - l.0) / (2.0 * half), (r.1 - l.1) / (2.0 * half)) } else { (1.0, 0.0) };
    let offset = (nose.0 - 0.5 * (l.0 + r.0)) * ux + (nose.1 - 0.5 * (l.1 + r.1)) * uy;
    Some(if half > 0.0 { (offset / half).atan().to_degrees() } else { 90f32.copysign(offset) })
}

/// Whether the followed face's mouth lies inside the `w` x `h` frame: its corners and middle,
/// with a margin of a quarter of its width (the warp reaches around it); without marks, the
/// middle of the box's lower quarter.
fn mouth_inside(t: &Track, w: usize, h: usize) -> bool {
    let inside = |(x, y): (f32, f32), m: f32| x >= m && y >= m && x <= w as f32 - m && y <= h as f32 - m;
    match &t.marks {
        Some(k) => {
            let m = 0.25 * ((k.right.0 - k.left.0).powi(2) + (k.right.1 - k.left.1).powi(2)).sqrt();
            inside(k.left, m) && inside(k.right, m) && inside(k.centre, m)
        }
        None => inside((t.raw.x + 0.5 * t.raw.w, t.raw.y + 0.75 * t.raw.h), 0.0),
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

#[path = "track_filter.rs"]
mod filter;
pub use filter::{BoxFilter, BoxSmoother};

#[cfg(test)]
#[path = "track_tests.rs"]
mod tests;
