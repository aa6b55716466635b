//! A camera moving over a photograph with a known motion, and the flicker measure of a stylized
//! version of it: how much each output frame differs from the previous output frame carried
//! along the true motion. The motion is exact (not estimated), so the measure does not depend
//! on the optical flow the element itself uses.

use crate::clip::Image;

/// One frame's camera: the photo point at the frame's centre and the zoom (frame pixels per
/// photo pixel).
#[derive(Clone, Copy, Debug)]
pub struct Camera {
    pub cx: f64,
    pub cy: f64,
    pub zoom: f64,
}

impl Camera {
    /// The photo coordinates of frame pixel (x, y) in a w x h frame.
    fn frame_to_photo(self, x: f64, y: f64, w: usize, h: usize) -> (f64, f64) {
        (self.cx + (x - w as f64 / 2.0) / self.zoom, self.cy + (y - h as f64 / 2.0) / self.zoom)
    }

    fn photo_to_frame(self, sx: f64, sy: f64, w: usize, h: usize) -> (f64, f64) {
        ((sx - self.cx) * self.zoom + w as f64 / 2.0, (sy - self.cy) * self.zoom + h as f64 / 2.0)
    }
}

/// Bilinear sample of channel c at (x, y), None outside the image.
fn sample(img: &Image, x: f64, y: f64, c: usize) -> Option<f64> {
    if x < 0.0 || y < 0.0 || x > (img.width - 1) as f64 || y > (img.height - 1) as f64 {
        return None;
    }
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(img.width - 1), (y0 + 1).min(img.height - 1));
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let p = |x: usize, y: usize| img.rgb[(y * img.width + x) * 3 + c] as f64;
    let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
    let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
    Some(top * (1.0 - fy) + bottom * fy)
}

/// Keys cubic weight (a = -0.5, the interpolating cubic that reproduces quadratics).
fn cubic(t: f64) -> f64 {
    let (a, t) = (-0.5, t.abs());
    if t < 1.0 {
        ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    } else if t < 2.0 {
        (((t - 5.0) * t + 8.0) * t - 4.0) * a
    } else {
        0.0
    }
}

/// Bicubic sample of channel c at (x, y) (taps past the edge clamped), None outside the image.
fn sample_cubic(img: &Image, x: f64, y: f64, c: usize) -> Option<f64> {
    if x < 0.0 || y < 0.0 || x > (img.width - 1) as f64 || y > (img.height - 1) as f64 {
        return None;
    }
    let (x0, y0) = (x.floor() as isize, y.floor() as isize);
    let mut v = 0.0;
    for j in -1..=2 {
        let wy = cubic(y - (y0 + j) as f64);
        let yy = (y0 + j).clamp(0, img.height as isize - 1) as usize;
        for i in -1..=2 {
            let wx = cubic(x - (x0 + i) as f64);
            let xx = (x0 + i).clamp(0, img.width as isize - 1) as usize;
            v += wx * wy * img.rgb[(yy * img.width + xx) * 3 + c] as f64;
        }
    }
    Some(v)
}

/// `frames` frames of w x h: the camera pans right and down while zooming in, `pan` photo
/// pixels and `zoom_step` (e.g. 0.01 = 1%) per frame, starting zoomed to fit the photo's middle.
/// Returns the frames and their cameras.
pub fn pan_zoom(
    photo: &Image,
    w: usize,
    h: usize,
    frames: usize,
    pan: f64,
    zoom_step: f64,
) -> (Vec<Image>, Vec<Camera>) {
    let zoom0 = (w as f64 / (photo.width as f64 * 0.7)).max(h as f64 / (photo.height as f64 * 0.7));
    let start = Camera { cx: photo.width as f64 * 0.4, cy: photo.height as f64 * 0.45, zoom: zoom0 };
    let cams: Vec<Camera> = (0..frames)
        .map(|i| Camera {
            cx: start.cx + pan * i as f64,
            cy: start.cy + pan * 0.4 * i as f64,
            zoom: start.zoom * (1.0 + zoom_step).powi(i as i32),
        })
        .collect();
    let images = cams
        .iter()
        .map(|cam| {
            let mut rgb = vec![0u8; w * h * 3];
            for y in 0..h {
                for x in 0..w {
                    // A camera integrates over each pixel's area: 4x4 samples across it.
                    for c in 0..3 {
                        let mut v = 0.0;
                        for j in 0..4 {
                            for i in 0..4 {
                                let (ox, oy) = ((i as f64 + 0.5) / 4.0 - 0.5, (j as f64 + 0.5) / 4.0 - 0.5);
                                let (sx, sy) = cam.frame_to_photo(x as f64 + ox, y as f64 + oy, w, h);
                                v += sample(photo, sx, sy, c).expect("the camera stays inside the photo");
                            }
                        }
                        rgb[(y * w + x) * 3 + c] = (v / 16.0).round() as u8;
                    }
                }
            }
            Image { width: w, height: h, rgb }
        })
        .collect();
    (images, cams)
}

/// Frame `prev` (seen by camera `from`) carried to camera `to` along the true motion: per pixel
/// of the w x h result, the bicubic sample of `prev`, or None where it was not in view.
pub fn carry(prev: &Image, from: Camera, to: Camera) -> Vec<Option<[f64; 3]>> {
    let (w, h) = (prev.width, prev.height);
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = to.frame_to_photo(x as f64, y as f64, w, h);
            let (px, py) = from.photo_to_frame(sx, sy, w, h);
            out.push(if px < 1.0 || py < 1.0 || px > (w - 2) as f64 || py > (h - 2) as f64 {
                None
            } else {
                let s = |c| sample_cubic(prev, px, py, c).expect("checked inside");
                Some([s(0), s(1), s(2)])
            });
        }
    }
    out
}

/// Mean absolute difference (8-bit units, all channels) between each frame t >= 1 and frame
/// t - 1 sampled (bicubic) where frame t's pixels were in it (the true motion), over the pixels
/// visible in both frames (1 pixel of margin).
pub fn flicker(frames: &[Image], cams: &[Camera]) -> f64 {
    assert_eq!(frames.len(), cams.len());
    let (mut sum, mut n) = (0f64, 0u64);
    for t in 1..frames.len() {
        let carried = carry(&frames[t - 1], cams[t - 1], cams[t]);
        for (i, p) in carried.iter().enumerate() {
            if let Some(p) = p {
                for (c, v) in p.iter().enumerate() {
                    sum += (frames[t].rgb[i * 3 + c] as f64 - v).abs();
                    n += 1;
                }
            }
        }
    }
    sum / n.max(1) as f64
}
