//! Test clips made from a real photograph: a camera panning across it, at a chosen size, with
//! the ground truth at the upscaled size, so demos and benchmarks can show measured quality.

use gst_ai_kernels::{Filter, resize};

/// An RGB image in memory.
#[derive(Clone)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Image {
    pub fn crop(&self, x: usize, y: usize, w: usize, h: usize) -> Image {
        let mut rgb = Vec::with_capacity(w * h * 3);
        for row in y..y + h {
            let start = (row * self.width + x) * 3;
            rgb.extend_from_slice(&self.rgb[start..start + w * 3]);
        }
        Image { width: w, height: h, rgb }
    }

    /// Resized with the kernels' bilinear or bicubic filter (rounded, clamped).
    pub fn resized(&self, w: usize, h: usize, filter: Filter) -> Image {
        let planar = to_planar(self);
        let mut out = vec![0f32; 3 * w * h];
        resize(&planar, 3, self.width, self.height, &mut out, w, h, filter).expect("valid sizes");
        from_planar(&out, w, h)
    }

    /// Downscaled by an integer factor with a box filter (area average): the "camera" that
    /// made the low-resolution clip.
    pub fn downscaled(&self, k: usize) -> Image {
        let (w, h) = (self.width / k, self.height / k);
        let mut rgb = vec![0u8; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    let mut s = 0u32;
                    for dy in 0..k {
                        for dx in 0..k {
                            s += self.rgb[((y * k + dy) * self.width + x * k + dx) * 3 + c] as u32;
                        }
                    }
                    rgb[(y * w + x) * 3 + c] = ((s as f32) / (k * k) as f32).round() as u8;
                }
            }
        }
        Image { width: w, height: h, rgb }
    }

    /// Downscaled by `k` with an antialiased bicubic filter (a = -0.5, the kernel widened k times,
    /// as MATLAB's imresize, which SR models are commonly trained and scored with).
    pub fn imresize_down(&self, k: usize) -> Image {
        let img = self;
        fn cubic(x: f64) -> f64 {
            let x = x.abs();
            if x <= 1.0 {
                1.5 * x * x * x - 2.5 * x * x + 1.0
            } else if x < 2.0 {
                -0.5 * x * x * x + 2.5 * x * x - 4.0 * x + 2.0
            } else {
                0.0
            }
        }
        // Weights of one axis: output i from input taps around its centre (i + 0.5) * k - 0.5.
        let taps = |n_in: usize, n_out: usize| -> Vec<Vec<(usize, f64)>> {
            (0..n_out)
                .map(|i| {
                    let c = (i as f64 + 0.5) * k as f64 - 0.5;
                    let lo = (c - 2.0 * k as f64).floor() as i64;
                    let hi = (c + 2.0 * k as f64).ceil() as i64;
                    let mut w: Vec<(usize, f64)> = (lo..=hi)
                        .map(|j| (j.clamp(0, n_in as i64 - 1) as usize, cubic((j as f64 - c) / k as f64)))
                        .filter(|(_, v)| *v != 0.0)
                        .collect();
                    let s: f64 = w.iter().map(|(_, v)| v).sum();
                    w.iter_mut().for_each(|(_, v)| *v /= s);
                    w
                })
                .collect()
        };
        let (w, h) = (img.width / k, img.height / k);
        let (tx, ty) = (taps(img.width, w), taps(img.height, h));
        let mut rows = vec![0f64; img.height * w * 3];
        for y in 0..img.height {
            for (x, t) in tx.iter().enumerate() {
                for c in 0..3 {
                    rows[(y * w + x) * 3 + c] =
                        t.iter().map(|&(j, v)| v * img.rgb[(y * img.width + j) * 3 + c] as f64).sum();
                }
            }
        }
        let mut rgb = vec![0u8; w * h * 3];
        for (y, t) in ty.iter().enumerate() {
            for x in 0..w {
                for c in 0..3 {
                    let v: f64 = t.iter().map(|&(j, v)| v * rows[(j * w + x) * 3 + c]).sum();
                    rgb[(y * w + x) * 3 + c] = v.round().clamp(0.0, 255.0) as u8;
                }
            }
        }
        Image { width: w, height: h, rgb }
    }

    /// Copies `other` into this image at (x, y).
    pub fn blit(&mut self, other: &Image, x: usize, y: usize) {
        for row in 0..other.height {
            let d = ((y + row) * self.width + x) * 3;
            let s = row * other.width * 3;
            self.rgb[d..d + other.width * 3].copy_from_slice(&other.rgb[s..s + other.width * 3]);
        }
    }
}

/// Planar RGB floats 0..1 (CHW, the kernels' canonical layout) of `img`.
pub fn to_planar(img: &Image) -> Vec<f32> {
    let n = img.width * img.height;
    let mut out = vec![0f32; 3 * n];
    for i in 0..n {
        for c in 0..3 {
            out[c * n + i] = img.rgb[i * 3 + c] as f32 / 255.0;
        }
    }
    out
}

/// An image from planar RGB floats 0..1 (rounded, clamped).
pub fn from_planar(p: &[f32], w: usize, h: usize) -> Image {
    let n = w * h;
    let mut rgb = vec![0u8; 3 * n];
    for i in 0..n {
        for c in 0..3 {
            rgb[i * 3 + c] = (p[c * n + i] * 255.0).round().clamp(0.0, 255.0) as u8;
        }
    }
    Image { width: w, height: h, rgb }
}

/// PSNR in dB between two images of the same size, with `border` pixels cropped on each side.
pub fn psnr(a: &Image, b: &Image, border: usize) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let mut se = 0f64;
    let mut n = 0usize;
    for y in border..a.height - border {
        for x in border..a.width - border {
            for c in 0..3 {
                let i = (y * a.width + x) * 3 + c;
                let d = a.rgb[i] as f64 - b.rgb[i] as f64;
                se += d * d;
                n += 1;
            }
        }
    }
    let mse = se / n as f64;
    if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 / mse).log10() }
}

/// `frames` ground-truth frames of w x h panning left to right (and a little down) across
/// `photo`, which must be at least that size.
pub fn pan(photo: &Image, w: usize, h: usize, frames: usize) -> Vec<Image> {
    let span_x = photo.width - w;
    let span_y = photo.height - h;
    (0..frames)
        .map(|i| {
            let t = if frames > 1 { i as f64 / (frames - 1) as f64 } else { 0.0 };
            let x = (t * span_x as f64).round() as usize;
            let y = (t * span_y as f64 * 0.5).round() as usize;
            photo.crop(x, y, w, h)
        })
        .collect()
}
