//! Scenes for the tracking test (tests/tests/lipsync_track.rs) and bench (ai-bench lipsync): real
//! faces (astronaut.png's head, LFW faces upscaled) pasted on a real photograph, with where their
//! lower faces are, and the element run on them with loud speech.

use crate::clip::{Image, to_planar};
use crate::lipsync::{self, Audio};
use crate::{load_rgb, media, save_png, zoo_model};
use gst_ai_kernels::Filter;
use gst_ai_runtime::backend::model::Model;
use gst_ai_runtime::tasks::lipsync::{FaceDetector, FaceMesh};
use gst_ai_runtime::{Device, ModelSource, Precision, load};

pub const FPS: i32 = 25;
pub const W: usize = 320;
pub const H: usize = 240;

pub fn image(name: &str) -> Image {
    let (width, height, rgb) = load_rgb(&media(name)).expect("the picture decodes");
    Image { width, height, rgb }
}

pub fn model(name: &str) -> std::sync::Arc<Model> {
    load(&ModelSource::File(zoo_model(name)), Device::Cpu, Precision::Auto).expect("the zoo model loads")
}

/// A face picture and where its lower face is, in its own pixels: the nose tip's height, the
/// mouth corners, the chin's height, and the jaw line's leftmost and rightmost x below the nose.
#[derive(Clone)]
pub struct Face {
    pub img: Image,
    pub nose_y: f32,
    pub corners: [(f32, f32); 2],
    pub chin_y: f32,
    pub jaw_x: (f32, f32),
}

/// The leftmost and rightmost x of the face mesh's outline below `nose_y`, read on `img` alone.
fn jaw_x(img: &Image, nose_y: f32) -> (f32, f32) {
    let (det, mesh) = (model("retinaface"), model("face-mesh"));
    let planar = to_planar(img);
    let (w, h) = (img.width, img.height);
    let d = FaceDetector::new(&det).unwrap().detect(&det, &planar, w, h, 0.5, None).unwrap().expect("a face");
    let (pts, _) = FaceMesh::new(&mesh).unwrap().run(&mesh, &planar, w, h, d.face, None).unwrap();
    FaceMesh::FACE_OVAL
        .iter()
        .map(|&i| pts[i])
        .filter(|p| p.1 > nose_y)
        .fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)))
}

impl Face {
    /// astronaut.png's head, 160x192 from (150, 30), scaled by `s`; its marks read by eye (see
    /// tests/tests/zoo_face.rs): nose (223, 127), mouth corners (203, 142) (244, 142), chin 180.
    pub fn astronaut(s: f32) -> Self {
        let (ox, oy) = (150.0, 30.0);
        let img = image("photos/astronaut.png").crop(150, 30, 160, 192);
        let img = img.resized((160.0 * s) as usize, (192.0 * s) as usize, Filter::Bicubic);
        let nose_y = (127.0 - oy) * s;
        Face {
            jaw_x: jaw_x(&img, nose_y),
            img,
            nose_y,
            corners: [((203.0 - ox) * s, (142.0 - oy) * s), ((244.0 - ox) * s, (142.0 - oy) * s)],
            chin_y: (180.0 - oy) * s,
        }
    }

    /// LFW face `k` upscaled to `size`; its nose and mouth corners from RetinaFace's landmarks and
    /// its chin from the face mesh, on the face alone.
    pub fn lfw(k: usize, size: usize) -> Self {
        let img = image(&format!("lfw/face_{k:03}.png")).resized(size, size, Filter::Bicubic);
        let (det, mesh) = (model("retinaface"), model("face-mesh"));
        let planar = to_planar(&img);
        let d = FaceDetector::new(&det)
            .unwrap()
            .detect(&det, &planar, size, size, 0.5, None)
            .unwrap()
            .unwrap_or_else(|| panic!("RetinaFace finds LFW face {k} alone"));
        let p = d.landmarks.expect("RetinaFace's landmarks");
        let (pts, score) = FaceMesh::new(&mesh).unwrap().run(&mesh, &planar, size, size, d.face, None).unwrap();
        assert!(score > 0.5, "the mesh sees LFW face {k}");
        let jaw_x = jaw_x(&img, p[2].1);
        Face { img, nose_y: p[2].1, corners: [p[3], p[4]], chin_y: pts[FaceMesh::CHIN].1, jaw_x }
    }
}

/// A face pasted at (x, y) of a frame.
#[derive(Clone)]
pub struct Placed<'a> {
    pub face: &'a Face,
    pub x: f32,
    pub y: f32,
}

impl Placed<'_> {
    /// The lower face in frame pixels, x0, y0, x1, y1: below the nose, above the chin, inside
    /// the jaw line (the built-in moves the jaw with the lower lip; tests/tests/lipsync_real.rs
    /// holds it to the jaw line itself), with a margin of 4% of the face picture's height below
    /// and beside: the mesh reads the jaw on the face alone, the element on the whole frame,
    /// and the two readings differ by a few pixels.
    pub fn lower_face(&self) -> [f32; 4] {
        let f = self.face;
        let m = 0.04 * f.img.height as f32;
        [self.x + f.jaw_x.0 - m, self.y + f.nose_y, self.x + f.jaw_x.1 + m, self.y + f.chin_y + m]
    }

    /// Whether the mouth (corners and the lips' middle, a quarter of its width around) is inside
    /// a `W` x `H` frame.
    pub fn mouth_inside(&self) -> bool {
        let [l, r] = self.face.corners;
        let m = 0.25 * (r.0 - l.0);
        [l, r].iter().all(|&(x, y)| {
            let (x, y) = (self.x + x, self.y + y);
            x >= m && y >= m && x <= W as f32 - m && y <= H as f32 - m
        })
    }

    pub fn rect(&self) -> [f32; 4] {
        [self.x, self.y, self.x + self.face.img.width as f32, self.y + self.face.img.height as f32]
    }
}

/// coffee.png (no face) stretched to the frame: the background.
pub fn background() -> Image {
    image("photos/coffee.png").resized(W, H, Filter::Bilinear)
}

/// `bg` with `faces` pasted (cut by the frame's edges).
pub fn compose(bg: &Image, faces: &[Placed<'_>]) -> Image {
    let mut out = bg.clone();
    for p in faces {
        let img = &p.face.img;
        for y in 0..img.height {
            for x in 0..img.width {
                let (fx, fy) = (p.x as isize + x as isize, p.y as isize + y as isize);
                if fx >= 0 && fy >= 0 && (fx as usize) < W && (fy as usize) < H {
                    let (d, s) = ((fy as usize * W + fx as usize) * 3, (y * img.width + x) * 3);
                    out.rgb[d..d + 3].copy_from_slice(&img.rgb[s..s + 3]);
                }
            }
        }
    }
    out
}

/// Loud speech for `frames` frames (synthetic voiced syllables: the element runs without its
/// voice-activity gate, which only real speech opens; see voice_activity.rs).
pub fn speech(frames: usize) -> Audio {
    let secs = frames as f64 / FPS as f64 + 0.3;
    Audio { samples: lipsync::speech(secs, 16000, |_| 1.0), rate: 16000, channels: 1, start_ms: 0 }
}

/// The element (default properties plus `props`) on `frames` with loud speech: the output frames
/// and the stats posted at EOS.
pub fn run(frames: &[Image], props: &str) -> (Vec<Image>, gst::Structure) {
    let props = format!("voice-activity=false {props}");
    let r = lipsync::run(frames, FPS, Some(&speech(frames.len())), &props, false);
    assert!(r.errors.is_empty() && r.eos, "errors {:?}", r.errors);
    assert_eq!(r.frames.len(), frames.len());
    let stats = r.messages.iter().find(|s| s.name() == "ai-lipsync-stats").expect("stats at EOS").clone();
    (r.frames, stats)
}

pub fn count(stats: &gst::Structure, name: &str) -> u64 {
    stats.get::<u64>(name).unwrap_or_else(|e| panic!("stats has no {name}: {e} ({stats})"))
}

/// The changed pixels of `out` against `input`: how many, and how many outside `allowed`.
pub fn changes(input: &Image, out: &Image, allowed: Option<[f32; 4]>) -> (usize, usize) {
    let (mut changed, mut outside) = (0, 0);
    for y in 0..H {
        for x in 0..W {
            let i = (y * W + x) * 3;
            if input.rgb[i..i + 3] != out.rgb[i..i + 3] {
                changed += 1;
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let inside = allowed.is_some_and(|[x0, y0, x1, y1]| px >= x0 && px <= x1 && py >= y0 && py <= y1);
                outside += usize::from(!inside);
            }
        }
    }
    (changed, outside)
}

pub fn save_strip(name: &str, frames: &[&Image]) {
    let n = frames.len();
    let mut s = Image { width: W * n, height: H, rgb: vec![0; 3 * W * n * H] };
    for (i, f) in frames.iter().enumerate() {
        s.blit(f, i * W, 0);
    }
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../out"));
    std::fs::create_dir_all(&dir).unwrap();
    save_png(&dir.join(format!("lipsync-track-{name}.png")), s.width, s.height, &s.rgb).unwrap();
}
