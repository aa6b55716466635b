//! lipsync tracking: ailipsync's face tracking at 1280x720 on a real face panned at a known
//! speed (astronaut.png's head at twice its size on coffee.png, still for 10 frames then moving
//! 6 px a frame right and 2 down for 30, with sensor-like noise): per detection interval, the
//! tracker's time per frame and the error of the box's and the lips' centres (against frame 0's
//! reading moved by the pan); then the element's own stats (detection, mesh and animation) for
//! detect-interval 1 and 4; and the box filter's lag and jitter on the detector's real boxes
//! against a plain mean of 5.

use gst_ai_kernels::{FaceBox, Filter};
use gst_ai_tests::clip::Image;
use gst_ai_tests::lipsync;
use gst_ai_tests::track_scene::*;

pub fn bench() -> Result<(), String> {
    use gst_ai_kernels::{Colorimetry, Frame, PixelFormat};
    use gst_ai_runtime::tasks::lipsync::{BoxFilter, BoxSmoother, FaceSource, Faces, TrackOptions};
    let (w, h) = (1280usize, 720usize);
    let bg = image("photos/coffee.png").resized(w, h, Filter::Bilinear);
    let astro = Face::astronaut(2.0);
    let offset = |t: usize| if t < 10 { (0.0, 0.0) } else { (6.0 * (t - 9) as f32, 2.0 * (t - 9) as f32) };
    let frames: Vec<Image> = (0..40)
        .map(|t| {
            let (dx, dy) = offset(t);
            let mut f = bg.clone();
            // Sensor-like noise (±4 levels, a fixed sequence), so the detector's boxes vary as
            // on a camera's frames.
            let mut seed = 1 + t as u64;
            for v in &mut f.rgb {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *v = (*v as i32 + ((seed >> 59) as i32 % 9) - 4).clamp(0, 255) as u8;
            }
            let img = &astro.img;
            for y in 0..img.height {
                let (fx, fy) = ((400.0 + dx) as usize, (150.0 + dy) as usize + y);
                let d = (fy * w + fx) * 3;
                for (o, &v) in f.rgb[d..d + 3 * img.width].iter_mut().zip(&img.rgb[y * img.width * 3..]) {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    *o = (v as i32 + ((seed >> 59) as i32 % 9) - 4).clamp(0, 255) as u8;
                }
            }
            f
        })
        .collect();
    let truth = |t: usize, p: (f32, f32)| {
        let (dx, dy) = offset(t);
        (p.0 + dx.floor(), p.1 + dy.floor())
    };
    let centre = |b: FaceBox| (b.x + 0.5 * b.w, b.y + 0.5 * b.h);
    let dist = |a: (f32, f32), b: (f32, f32)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    let mut raw_boxes = Vec::new();
    println!(
        "| detect-interval | ms/frame (tracker) | detections | box centre error mean / max px | lip centre error mean / max px |"
    );
    for interval in [1u32, 2, 4, 8] {
        let source = FaceSource::Detector {
            model: model("retinaface"),
            mesh: Some(model("face-mesh")),
            track: TrackOptions { detect_interval: interval, smoothing: 1, ..TrackOptions::default() },
        };
        let mut faces = Faces::new(source).map_err(|e| e.to_string())?;
        {
            // Warm-up: the sessions' first runs are not timed.
            let f = &frames[0];
            let frame = Frame::new(PixelFormat::Rgb, w, h, &[&f.rgb[..]], &[3 * w], Colorimetry::default())
                .map_err(|e| e.to_string())?;
            faces.find(&frame, 0.5, None).map_err(|e| e.to_string())?;
            faces.reset();
        }
        let (mut box0, mut lip0) = (None, None);
        let (mut be, mut le, mut detections) = (Vec::new(), Vec::new(), 0);
        let t0 = std::time::Instant::now();
        for (t, f) in frames.iter().enumerate() {
            let frame = Frame::new(PixelFormat::Rgb, w, h, &[&f.rgb[..]], &[3 * w], Colorimetry::default())
                .map_err(|e| e.to_string())?;
            let r = faces.find(&frame, 0.5, None).map_err(|e| e.to_string())?;
            detections += usize::from(r.detected);
            let found = r.found.ok_or_else(|| format!("interval {interval}: no face in frame {t} ({:?})", r.state))?;
            let lip = found
                .marks
                .ok_or_else(|| format!("interval {interval}: the mesh misses the lips in frame {t}"))?
                .centre;
            let (b0, l0) = (*box0.get_or_insert(centre(found.face)), *lip0.get_or_insert(lip));
            be.push(dist(centre(found.face), truth(t, b0)));
            le.push(dist(lip, truth(t, l0)));
            if interval == 1 {
                raw_boxes.push(found.face);
            }
        }
        let ms = t0.elapsed().as_secs_f64() * 1000.0 / frames.len() as f64;
        let stat = |v: &[f32]| (v.iter().sum::<f32>() / v.len() as f32, v.iter().fold(0f32, |m, &x| m.max(x)));
        let (b, l) = (stat(&be), stat(&le));
        println!("| {interval} | {ms:.1} | {detections} | {:.1} / {:.1} | {:.1} / {:.1} |", b.0, b.1, l.0, l.1);
    }
    for interval in [1, 4] {
        let (_, stats) = {
            let r =
                lipsync::run(&frames, FPS, Some(&speech(frames.len())), &format!("detect-interval={interval}"), false);
            if !r.errors.is_empty() {
                return Err(format!("detect-interval={interval}: {:?}", r.errors));
            }
            (r.frames, r.messages.iter().find(|s| s.name() == "ai-lipsync-stats").ok_or("no stats message")?.clone())
        };
        println!("element, detect-interval={interval}: {stats}");
    }
    // The filters on the detector's boxes (every frame, unsmoothed): jitter while still (frames
    // 2-9), lag while panning (frames 20-39, along the motion).
    let b0 = centre(raw_boxes[0]);
    let dir = (6.0 / 40f32.sqrt(), 2.0 / 40f32.sqrt());
    let measure = |boxes: &[FaceBox]| {
        let err: Vec<(f32, f32)> = boxes
            .iter()
            .enumerate()
            .map(|(t, &b)| {
                let (c, tr) = (centre(b), truth(t, b0));
                (c.0 - tr.0, c.1 - tr.1)
            })
            .collect();
        let still = err[2..10].iter().map(|e| e.0 * e.0 + e.1 * e.1).sum::<f32>() / 8.0;
        let lag = err[20..].iter().map(|e| -(e.0 * dir.0 + e.1 * dir.1)).sum::<f32>() / 20.0;
        (still.sqrt(), lag)
    };
    let mut mean = BoxSmoother::new(5);
    let means: Vec<FaceBox> = raw_boxes.iter().map(|&b| mean.push(b)).collect();
    for (name, boxes) in [("raw", &raw_boxes), ("mean of 5", &means)] {
        let (jitter, lag) = measure(boxes);
        println!("{name}: jitter at rest {jitter:.2} px, lag on the pan (6.3 px/frame) {lag:.2} px");
    }
    for (beta, cut) in [(BoxFilter::BETA, BoxFilter::SPEED_CUTOFF), (2.0, 0.05), (8.0, 0.05), (4.0, 0.1), (8.0, 0.1)] {
        let mut euro = BoxFilter::tuned(5, beta, cut);
        let euros: Vec<FaceBox> = raw_boxes.iter().map(|&b| euro.push(b)).collect();
        let (jitter, lag) = measure(&euros);
        println!(
            "one-euro (smoothing=5, beta {beta}, speed cut-off {cut}): jitter at rest {jitter:.2} px, lag {lag:.2} px"
        );
    }
    Ok(())
}
