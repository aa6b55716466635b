//! The built-in mouth's shapes on real faces, without GStreamer: RetinaFace finds the face, the
//! face mesh reads its lips (as `ailipsync` does by default), and `mouth::warp` opens them at
//! fixed (opening, width) pairs: small, medium and wide openings, a rounded and a spread mouth.
//! The face mesh, run again on each output, reads the inner-lip opening (points 13 / 14): it
//! must grow with the opening, the changes must stay inside the face's outline and below the
//! nose, and the strips (input, then each shape, zoomed on the mouth) go to
//! out/lipsync-shapes-*.png to be looked at. LFW faces 0-49 tuned the animation; 50-99 are held
//! out and reported separately.

use std::path::PathBuf;

use gst_ai_kernels::{Colorimetry, FaceBox, Filter, FrameMut, PixelFormat};
use gst_ai_runtime::backend::zoo;
use gst_ai_runtime::tasks::lipsync::{FaceDetector, FaceMesh, Found, mouth};
use gst_ai_runtime::{Device, Model, ModelSource, Precision, load};
use gst_ai_tests::clip::{Image, to_planar};
use gst_ai_tests::{load_rgb, save_png};

/// (opening 0..1, width): small, medium, wide, rounded, spread.
const SHAPES: [(f32, f32); 5] = [(0.3, 1.0), (0.6, 1.0), (1.0, 1.0), (0.8, 0.8), (0.8, 1.2)];
/// The element's default `mouth-open` and bottom padding.
const SCALE: f32 = 0.12;
const PAD_BOTTOM: f32 = 10.0;

fn image(name: &str) -> Image {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.deps/media")).join(name);
    let (width, height, rgb) = load_rgb(&p).unwrap_or_else(|e| panic!("{} (run `make setup`): {e}", p.display()));
    Image { width, height, rgb }
}

fn zoo_model(name: &str) -> std::sync::Arc<Model> {
    let path = zoo::resolve(name).unwrap_or_else(|e| panic!("zoo:{name} is missing (run `make setup`): {e}"));
    load(&ModelSource::File(path), Device::Cpu, Precision::Auto).unwrap_or_else(|e| panic!("zoo:{name}: {e}"))
}

struct Readers {
    det: std::sync::Arc<Model>,
    mesh: std::sync::Arc<Model>,
}

impl Readers {
    /// The face as the element finds it on a still: RetinaFace's box (padded as by default)
    /// and the mesh's mouth on it; None when either fails.
    fn find(&self, img: &Image) -> Option<(Found, FaceBox)> {
        let planar = to_planar(img);
        let d =
            FaceDetector::new(&self.det).ok()?.detect(&self.det, &planar, img.width, img.height, 0.5, None).ok()??;
        let marks =
            FaceMesh::new(&self.mesh).ok()?.mouth(&self.mesh, &planar, img.width, img.height, d.face, None).ok()??;
        let face = FaceBox { h: d.face.h + PAD_BOTTOM, ..d.face };
        Some((Found { face, marks: Some(marks) }, d.face))
    }

    /// The mesh's inner-lip opening (13 / 14) on `img`, read on the crop around `face`.
    fn opening(&self, img: &Image, face: FaceBox) -> f32 {
        let mut m = FaceMesh::new(&self.mesh).unwrap();
        let (p, _) = m.run(&self.mesh, &to_planar(img), img.width, img.height, face, None).unwrap();
        let [a, b] = FaceMesh::INNER_MIDDLE.map(|i| p[i]);
        ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
    }
}

fn animate(img: &Image, found: &Found, open: f32, width: f32) -> Image {
    let mut out = img.clone();
    let (w, h) = (img.width, img.height);
    let mut frame =
        FrameMut::new(PixelFormat::Rgb, w, h, vec![&mut out.rgb[..]], &[3 * w], Colorimetry::default()).unwrap();
    mouth::warp(&mut frame, found, open, width, SCALE).unwrap();
    out
}

/// Pixels changed outside the face's outline or above the nose's line (both from the mesh on
/// the input), and all pixels changed.
fn stray(a: &Image, b: &Image, found: &Found) -> (usize, usize) {
    let c = found.marks.as_ref().and_then(|m| m.contours).expect("the mesh's contours");
    let oval: Vec<(f32, f32)> = c.oval.to_vec();
    let inside = |x: f32, y: f32| {
        let mut odd = false;
        for (i, p) in oval.iter().enumerate() {
            let q = oval[(i + 1) % oval.len()];
            if (p.1 > y) != (q.1 > y) && x < p.0 + (y - p.1) * (q.0 - p.0) / (q.1 - p.1) {
                odd = !odd;
            }
        }
        odd
    };
    let (l, r) = (c.outer[0], c.outer[10]);
    // The nose's line, parallel to the corners' line.
    let slope = (r.1 - l.1) / (r.0 - l.0);
    let (mut bad, mut all) = (0, 0);
    for y in 0..a.height {
        for x in 0..a.width {
            let i = (y * a.width + x) * 3;
            if a.rgb[i..i + 3] != b.rgb[i..i + 3] {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                all += 1;
                let above_nose = py < c.nose.1 + slope * (px - c.nose.0);
                bad += usize::from(above_nose || !inside(px, py));
            }
        }
    }
    (bad, all)
}

/// A square around the mouth, from the nose to below the chin, zoomed to `side` pixels.
fn zoom(img: &Image, found: &Found, side: usize) -> Image {
    let m = found.marks.unwrap();
    let half = (0.8 * (m.right.0 - m.left.0)).max(12.0);
    let (cx, cy) = (m.centre.0, m.centre.1 + 0.2 * half);
    let x0 = (cx - half).clamp(0.0, (img.width - 1) as f32) as usize;
    let y0 = (cy - half).clamp(0.0, (img.height - 1) as f32) as usize;
    let s = (2.0 * half) as usize;
    let (s_w, s_h) = (s.min(img.width - x0), s.min(img.height - y0));
    img.crop(x0, y0, s_w, s_h).resized(side, side, Filter::Bicubic)
}

fn strip(rows: &[Vec<Image>], side: usize) -> Image {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(1);
    let mut s =
        Image { width: side * cols, height: side * rows.len(), rgb: vec![0; 3 * side * cols * side * rows.len()] };
    for (j, row) in rows.iter().enumerate() {
        for (i, im) in row.iter().enumerate() {
            s.blit(im, i * side, j * side);
        }
    }
    s
}

/// The readings of one face: the input's opening, each shape's, and stray / changed pixels.
struct Reading {
    name: String,
    input: f32,
    shapes: Vec<f32>,
    stray: usize,
    changed: usize,
}

fn read(readers: &Readers, name: &str, img: &Image, rows: Option<&mut Vec<Vec<Image>>>) -> Option<Reading> {
    let (found, det) = readers.find(img)?;
    let input = readers.opening(img, det);
    let (mut shapes, mut stray_px, mut changed) = (Vec::new(), 0, 0);
    let mut row = vec![zoom(img, &found, 192)];
    for &(open, width) in &SHAPES {
        let out = animate(img, &found, open, width);
        let (b, a) = stray(img, &out, &found);
        (stray_px, changed) = (stray_px + b, changed + a);
        shapes.push(readers.opening(&out, det));
        row.push(zoom(&out, &found, 192));
    }
    if let Some(rows) = rows {
        rows.push(row);
    }
    let r = Reading { name: name.to_string(), input, shapes, stray: stray_px, changed };
    let list: Vec<String> = r.shapes.iter().map(|v| format!("{v:5.1}")).collect();
    println!(
        "{:>18}: input {:4.1} px | small, medium, wide, rounded, spread: {} | {} of {} changed px stray",
        r.name,
        r.input,
        list.join(" "),
        r.stray,
        r.changed
    );
    Some(r)
}

#[test]
fn the_mouth_shapes_read_as_openings_on_real_faces() {
    let readers = Readers { det: zoo_model("retinaface"), mesh: zoo_model("face-mesh") };
    let out_dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../out"));
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut rows = Vec::new();
    let astro = image("photos/astronaut.png").crop(96, 20, 256, 192);
    let a = read(&readers, "astronaut.png", &astro, Some(&mut rows)).expect("the astronaut's face");
    let mut sets = Vec::new();
    for (set, range) in [("tuning", 0..50), ("held-out", 50..100)] {
        let mut rs = Vec::new();
        let mut rows_set = Vec::new();
        for k in range.step_by(5) {
            let img = image(&format!("lfw/face_{k:03}.png")).resized(200, 200, Filter::Bicubic);
            if let Some(r) = read(&readers, &format!("{set} lfw {k}"), &img, Some(&mut rows_set)) {
                rs.push(r);
            }
        }
        let s = strip(&rows_set, 192);
        save_png(&out_dir.join(format!("lipsync-shapes-{set}.png")), s.width, s.height, &s.rgb).unwrap();
        if set == "tuning" {
            rows.extend(rows_set.into_iter().take(3));
        }
        let n = rs.len();
        let grows = rs.iter().filter(|r| r.shapes[0] < r.shapes[1] && r.shapes[1] < r.shapes[2]).count();
        let wide_over_input = rs.iter().filter(|r| r.shapes[2] > r.input + 2.0).count();
        let mean = |f: &dyn Fn(&Reading) -> f32| rs.iter().map(f).sum::<f32>() / n.max(1) as f32;
        println!(
            "{set}: {n} faces; mean opening read: input {:.1}, small {:.1}, medium {:.1}, wide {:.1}, rounded {:.1}, \
             spread {:.1} px; {grows}/{n} grow small < medium < wide; {wide_over_input}/{n} wide > input + 2 px",
            mean(&|r| r.input),
            mean(&|r| r.shapes[0]),
            mean(&|r| r.shapes[1]),
            mean(&|r| r.shapes[2]),
            mean(&|r| r.shapes[3]),
            mean(&|r| r.shapes[4]),
        );
        sets.push((set, n, grows, wide_over_input, rs.iter().map(|r| r.stray).sum::<usize>()));
    }
    let s = strip(&rows, 192);
    save_png(&out_dir.join("lipsync-shapes.png"), s.width, s.height, &s.rgb).unwrap();
    for (set, n, grows, wide_over_input, stray) in sets {
        assert!(n >= 8, "{set}: the face and its mesh are found on most faces ({n})");
        assert_eq!(stray, 0, "{set}: pixels changed outside the face or above the nose");
        // The mesh's reading of 25-pixel faces upscaled 8x is noisy: 7/10 tuning faces read every
        // step (10/10 held out when this was set); 6/10 is required.
        assert!(grows * 10 >= n * 6, "{set}: the mesh reads the opening growing on only {grows}/{n} faces");
        assert!(wide_over_input * 10 >= n * 6, "{set}: the wide opening is read on only {wide_over_input}/{n}");
    }
    assert_eq!(a.stray, 0, "astronaut.png: pixels changed outside the face or above the nose");
    // The astronaut smiles with her teeth showing: the mesh reads her output as open, not by how much.
    assert!(a.shapes[2] > a.input + 2.0, "astronaut.png: wide {:.1} vs input {:.1}", a.shapes[2], a.input);
}
