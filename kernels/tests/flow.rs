//! Optical flow, warping, interpolation and scene-change detection on a real
//! photograph (tests/data, see its README) and on a synthetic texture, with
//! images moved by known sub-pixel motions so the truth is known exactly.
//! Numbers are printed (`--nocapture`) to document the achieved quality.

use std::f32::consts::PI;

use gst_ai_kernels::{
    FlowParams, FlowWorkspace, KernelError, interpolate, luma, optical_flow, optical_flow_pair, scene_change, warp,
};

/// A CHW RGB image in 0..1.
#[derive(Clone)]
struct Image {
    w: usize,
    h: usize,
    data: Vec<f32>,
}

impl Image {
    fn from_rgb8(bytes: &[u8], w: usize, h: usize) -> Self {
        assert_eq!(bytes.len(), w * h * 3);
        let n = w * h;
        let mut data = vec![0.0; 3 * n];
        for (i, px) in bytes.chunks_exact(3).enumerate() {
            for c in 0..3 {
                data[c * n + i] = f32::from(px[c]) / 255.0;
            }
        }
        Self { w, h, data }
    }

    fn photo() -> Self {
        Self::from_rgb8(include_bytes!("data/photo_320x240.rgb"), 320, 240)
    }

    fn coffee() -> Self {
        Self::from_rgb8(include_bytes!("data/coffee_160x120.rgb"), 160, 120)
    }

    /// Sinusoids at several frequencies and orientations, sharp rectangles
    /// and smooth noise.
    fn synthetic(w: usize, h: usize, seed: u64) -> Self {
        let n = w * h;
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            rng ^= rng >> 12;
            rng ^= rng << 25;
            rng ^= rng >> 27;
            (rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
        };
        // Smooth noise: a coarse random lattice, bilinearly interpolated.
        let (lw, lh) = (w / 8 + 2, h / 8 + 2);
        let lattice: Vec<f32> = (0..lw * lh * 3).map(|_| next()).collect();
        let rects: Vec<[f32; 7]> = (0..12)
            .map(|_| {
                let (x, y) = (next() * w as f32, next() * h as f32);
                [x, y, x + 8.0 + next() * w as f32 / 5.0, y + 8.0 + next() * h as f32 / 5.0, next(), next(), next()]
            })
            .collect();
        let mut data = vec![0.0; 3 * n];
        for y in 0..h {
            for x in 0..w {
                let (xf, yf) = (x as f32, y as f32);
                for c in 0..3 {
                    let cf = c as f32;
                    let mut v = 0.5
                        + 0.12 * (xf * 0.21 + cf).sin()
                        + 0.1 * ((xf * 0.6 + yf * 0.8) * 0.13 + 1.0).sin()
                        + 0.08 * ((yf * 0.37 - xf * 0.11) + 2.0 * cf).sin()
                        + 0.06 * ((xf + yf) * 0.045).cos();
                    let (gx, gy) = (xf / 8.0, yf / 8.0);
                    let (ix, iy) = (gx as usize, gy as usize);
                    let (ax, ay) = (gx - ix as f32, gy - iy as f32);
                    let l = |i: usize, j: usize| lattice[(j * lw + i) * 3 + c];
                    let noise = (1.0 - ay) * ((1.0 - ax) * l(ix, iy) + ax * l(ix + 1, iy))
                        + ay * ((1.0 - ax) * l(ix, iy + 1) + ax * l(ix + 1, iy + 1));
                    v += 0.2 * (noise - 0.5);
                    for r in &rects {
                        if xf >= r[0] && xf < r[2] && yf >= r[1] && yf < r[3] {
                            v = 0.6 * v + 0.4 * r[4 + c];
                        }
                    }
                    data[c * n + y * w + x] = v.clamp(0.0, 1.0);
                }
            }
        }
        Self { w, h, data }
    }

    /// Bilinear sample of channel `c` at (x, y), clamped (independent of the
    /// crate's code).
    fn sample(&self, c: usize, x: f32, y: f32) -> f32 {
        let x = x.clamp(0.0, (self.w - 1) as f32);
        let y = y.clamp(0.0, (self.h - 1) as f32);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (ax, ay) = (x - x0 as f32, y - y0 as f32);
        let p = |x: usize, y: usize| self.data[c * self.w * self.h + y * self.w + x];
        (1.0 - ay) * ((1.0 - ax) * p(x0, y0) + ax * p(x1, y0)) + ay * ((1.0 - ax) * p(x0, y1) + ax * p(x1, y1))
    }

    /// A `w` x `h` image whose pixel p is this image at `map(p)`.
    fn resample(&self, w: usize, h: usize, map: impl Fn(f32, f32) -> (f32, f32)) -> Self {
        let n = w * h;
        let mut data = vec![0.0; 3 * n];
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = map(x as f32, y as f32);
                for c in 0..3 {
                    data[c * n + y * w + x] = self.sample(c, sx, sy);
                }
            }
        }
        Self { w, h, data }
    }

    /// The `w` x `h` window at (`ox`, `oy`) of this image, moved by `d`:
    /// pixel p shows this image at `p + o - d`.
    fn moved(&self, w: usize, h: usize, ox: f32, oy: f32, d: (f32, f32)) -> Self {
        self.resample(w, h, |x, y| (x + ox - d.0, y + oy - d.1))
    }

    fn luma(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.w * self.h];
        luma(&self.data, self.w, self.h, &mut out).unwrap();
        out
    }
}

fn flow(a: &Image, b: &Image, params: &FlowParams, ws: &mut FlowWorkspace) -> Vec<f32> {
    let mut f = vec![f32::NAN; 2 * a.w * a.h];
    optical_flow(&a.luma(), &b.luma(), a.w, a.h, params, ws, &mut f).unwrap();
    f
}

fn interp(f0: &Image, f1: &Image, params: &FlowParams, t: f32) -> (Image, Vec<f32>, Vec<f32>) {
    let mut ws = FlowWorkspace::new();
    let f01 = flow(f0, f1, params, &mut ws);
    let f10 = flow(f1, f0, params, &mut ws);
    let mut out = vec![f32::NAN; f0.data.len()];
    interpolate(&f0.data, &f1.data, f0.w, f0.h, &f01, &f10, t, &mut ws, &mut out).unwrap();
    (Image { w: f0.w, h: f0.h, data: out }, f01, f10)
}

/// Median endpoint error against `truth(x, y)` over pixels at least
/// `margin` from the border.
fn median_epe(flow: &[f32], w: usize, h: usize, margin: usize, truth: impl Fn(f32, f32) -> (f32, f32)) -> f32 {
    let n = w * h;
    let mut errs = Vec::new();
    for y in margin..h - margin {
        for x in margin..w - margin {
            let (tx, ty) = truth(x as f32, y as f32);
            let i = y * w + x;
            errs.push(((flow[i] - tx).powi(2) + (flow[n + i] - ty).powi(2)).sqrt());
        }
    }
    errs.sort_by(f32::total_cmp);
    errs[errs.len() / 2]
}

/// PSNR (dB, peak 1) of `a` against `b` over the rectangle `x0..x1`, `y0..y1`.
fn psnr_in(a: &Image, b: &Image, x0: usize, x1: usize, y0: usize, y1: usize) -> f64 {
    let n = a.w * a.h;
    let mut sum = 0.0f64;
    let mut count = 0usize;
    for c in 0..3 {
        for y in y0..y1 {
            for x in x0..x1 {
                let i = c * n + y * a.w + x;
                sum += f64::from(a.data[i] - b.data[i]).powi(2);
                count += 1;
            }
        }
    }
    10.0 * (count as f64 / sum).log10()
}

fn psnr(a: &Image, b: &Image, margin: usize) -> f64 {
    psnr_in(a, b, margin, a.w - margin, margin, a.h - margin)
}

#[test]
fn flow_recovers_translations() {
    let photo = Image::photo();
    let (w, h) = (288, 208);
    let a = photo.moved(w, h, 16.0, 16.0, (0.0, 0.0));
    let mut ws = FlowWorkspace::new();
    for d in [(3.3f32, -1.7f32), (12.5, 7.25), (-0.4, 0.6)] {
        let b = photo.moved(w, h, 16.0, 16.0, d);
        for (name, params) in [
            ("default", FlowParams::default()),
            ("full-res", FlowParams { downscale: 0, ..Default::default() }),
            // What aiinterpolate uses at this size (full resolution, 12x12 patches), and
            // above 320x240 (half resolution).
            ("for_size", FlowParams::for_size(w, h)),
            ("for_size 640x360", FlowParams::for_size(640, 360)),
        ] {
            let f = flow(&a, &b, &params, &mut ws);
            let e = median_epe(&f, w, h, 20, |_, _| d);
            println!("translation {d:?} {name}: median EPE {e:.4} px");
            assert!(e < 0.25, "translation {d:?} ({name}): median endpoint error {e}");
        }
        // The synthetic texture too.
        let tex = Image::synthetic(w + 32, h + 32, 7);
        let (ta, tb) = (tex.moved(w, h, 16.0, 16.0, (0.0, 0.0)), tex.moved(w, h, 16.0, 16.0, d));
        let f = flow(&ta, &tb, &FlowParams::default(), &mut ws);
        let e = median_epe(&f, w, h, 20, |_, _| d);
        println!("translation {d:?} synthetic: median EPE {e:.4} px");
        assert!(e < 0.25, "synthetic translation {d:?}: median endpoint error {e}");
    }
}

#[test]
fn flow_follows_rotation_and_zoom() {
    let photo = Image::photo();
    let (w, h) = (288, 208);
    let (cx, cy) = (160.0f32, 120.0f32);
    let (theta, zoom) = (2.0f32 * PI / 180.0, 1.03f32);
    let (s, c) = theta.sin_cos();
    let a = photo.moved(w, h, 16.0, 16.0, (0.0, 0.0));
    // b(p) = photo(centre + R(theta) (p + o - centre) / zoom).
    let b = photo.resample(w, h, |x, y| {
        let (dx, dy) = (x + 16.0 - cx, y + 16.0 - cy);
        (cx + (c * dx - s * dy) / zoom, cy + (s * dx + c * dy) / zoom)
    });
    // A point q of the photo shows in b at centre + zoom R(-theta) (q - centre).
    let truth = |x: f32, y: f32| {
        let (dx, dy) = (x + 16.0 - cx, y + 16.0 - cy);
        let (bx, by) = (cx + zoom * (c * dx + s * dy), cy + zoom * (-s * dx + c * dy));
        (bx - 16.0 - x, by - 16.0 - y)
    };
    let mut ws = FlowWorkspace::new();
    for (name, params) in
        [("default", FlowParams::default()), ("full-res", FlowParams { downscale: 0, ..Default::default() })]
    {
        let f = flow(&a, &b, &params, &mut ws);
        let e = median_epe(&f, w, h, 20, truth);
        println!("rotation 2 deg + zoom 1.03 {name}: median EPE {e:.4} px");
        assert!(e < 0.5, "rotation+zoom ({name}): median endpoint error {e}");
    }
}

#[test]
fn flow_pair_equals_the_two_flows() {
    let photo = Image::photo();
    let mut ws = FlowWorkspace::new();
    for (w, h) in [(288, 208), (97, 61), (8, 5)] {
        let (a, b) = (photo.moved(w, h, 16.0, 16.0, (0.0, 0.0)), photo.moved(w, h, 16.0, 16.0, (4.6, -2.2)));
        for params in [FlowParams::default(), FlowParams::for_size(w, h)] {
            let (f01, f10) = (flow(&a, &b, &params, &mut ws), flow(&b, &a, &params, &mut ws));
            let (mut p01, mut p10) = (vec![f32::NAN; 2 * w * h], vec![f32::NAN; 2 * w * h]);
            optical_flow_pair(&a.luma(), &b.luma(), w, h, &params, &mut ws, &mut p01, &mut p10).unwrap();
            assert!(p01.iter().zip(&f01).all(|(x, y)| x.to_bits() == y.to_bits()), "{w}x{h} {params:?}: a -> b");
            assert!(p10.iter().zip(&f10).all(|(x, y)| x.to_bits() == y.to_bits()), "{w}x{h} {params:?}: b -> a");
        }
    }
    // A second output of the wrong length is refused.
    let l = photo.moved(16, 16, 16.0, 16.0, (0.0, 0.0)).luma();
    let err = optical_flow_pair(&l, &l, 16, 16, &FlowParams::default(), &mut ws, &mut [0.0; 512], &mut [0.0; 511]);
    assert!(err.is_err());
}

#[test]
fn identical_images_have_zero_flow() {
    let photo = Image::photo();
    let mut ws = FlowWorkspace::new();
    let f = flow(&photo, &photo, &FlowParams::default(), &mut ws);
    assert!(f.iter().all(|&v| v == 0.0));
}

#[test]
fn interpolated_translation_matches_the_true_frame() {
    let photo = Image::photo();
    let (w, h) = (288, 208);
    for d in [(3.3f32, -1.7f32), (12.5, 7.25)] {
        let f0 = photo.moved(w, h, 16.0, 16.0, (0.0, 0.0));
        let f1 = photo.moved(w, h, 16.0, 16.0, d);
        for t in [0.5f32, 0.25] {
            let truth = photo.moved(w, h, 16.0, 16.0, (t * d.0, t * d.1));
            let (out, _, _) = interp(&f0, &f1, &FlowParams::default(), t);
            let p = psnr(&out, &truth, 16);
            // What a plain cross-fade would give, for scale.
            let mut fade = f0.clone();
            for (o, &b) in fade.data.iter_mut().zip(&f1.data) {
                *o += t * (b - *o);
            }
            println!("interpolate d={d:?} t={t}: PSNR {p:.2} dB (cross-fade {:.2} dB)", psnr(&fade, &truth, 16));
            assert!(p > 35.0, "d={d:?} t={t}: PSNR {p}");
        }
    }
}

#[test]
fn static_content_is_reproduced_exactly() {
    let photo = Image::photo();
    let mut ws = FlowWorkspace::new();
    let (w, h) = (photo.w, photo.h);
    let l = photo.luma();
    let mut f = vec![0.0; 2 * w * h];
    optical_flow(&l, &l, w, h, &FlowParams::default(), &mut ws, &mut f).unwrap();
    for t in [0.5f32, 0.3, 0.0, 1.0] {
        let mut out = vec![f32::NAN; photo.data.len()];
        interpolate(&photo.data, &photo.data, w, h, &f, &f, t, &mut ws, &mut out).unwrap();
        assert!(out == photo.data, "t={t}: static image not reproduced bit for bit");
        // Even with a (wrong) non-zero flow, equal frames stay exact.
        let wild: Vec<f32> = (0..2 * w * h).map(|i| (i % 7) as f32 - 3.0).collect();
        interpolate(&photo.data, &photo.data, w, h, &wild, &wild, t, &mut ws, &mut out).unwrap();
        assert!(out == photo.data, "t={t}: static image with noisy flow not exact");
    }
}

#[test]
fn static_logo_over_moving_background_stays_exact() {
    let photo = Image::photo();
    let (w, h) = (288, 208);
    let d = (3.3f32, -1.7f32);
    // A logo: a bright block with dark stripes, identical in both frames.
    let (lx0, lx1, ly0, ly1) = (200usize, 260usize, 20usize, 50usize);
    let stamp = |img: &mut Image| {
        for c in 0..3 {
            for y in ly0..ly1 {
                for x in lx0..lx1 {
                    let v = if (x / 4 + y / 6) % 2 == 0 { 0.95 } else { 0.1 + 0.2 * c as f32 };
                    img.data[c * w * h + y * w + x] = v;
                }
            }
        }
    };
    let (mut f0, mut f1) = (photo.moved(w, h, 16.0, 16.0, (0.0, 0.0)), photo.moved(w, h, 16.0, 16.0, d));
    stamp(&mut f0);
    stamp(&mut f1);
    let mut truth = photo.moved(w, h, 16.0, 16.0, (0.5 * d.0, 0.5 * d.1));
    stamp(&mut truth);
    let (out, _, _) = interp(&f0, &f1, &FlowParams::default(), 0.5);
    // Every logo pixel whose 3x3 neighbourhood is logo is exact.
    for c in 0..3 {
        for y in ly0 + 1..ly1 - 1 {
            for x in lx0 + 1..lx1 - 1 {
                let i = c * w * h + y * w + x;
                assert_eq!(out.data[i], f0.data[i], "logo pixel ({x}, {y}) channel {c}");
            }
        }
    }
    // The background still moves: compare left of the logo.
    let p = psnr_in(&out, &truth, 16, 180, 16, h - 16);
    println!("moving background next to a static logo: PSNR {p:.2} dB");
    assert!(p > 33.0, "background PSNR {p}");
}

/// A real photograph (the coffee picture) of `SIZE` x `SIZE` pixels at
/// (`x`, `OBJ_Y`) over the static background photograph.
fn object_scene(background: &Image, object: &Image, x: f32) -> Image {
    let (w, h) = (background.w, background.h);
    let mut img = background.clone();
    let moved = object.moved(w, h, 20.0, 10.0, (x, OBJ_Y));
    for c in 0..3 {
        for y in OBJ_Y as usize..OBJ_Y as usize + OBJ_SIZE {
            for px in 0..w {
                let fx = px as f32 - x;
                if fx >= 0.0 && fx < OBJ_SIZE as f32 {
                    let i = c * w * h + y * w + px;
                    img.data[i] = moved.data[i];
                }
            }
        }
    }
    img
}

const OBJ_X: f32 = 70.0;
const OBJ_Y: f32 = 50.0;
const OBJ_SIZE: usize = 100;

/// Both frames warped with Super SloMo's linear combination of the flows at
/// the same pixel, blended (1 - t) : t: interpolation without visibility.
fn without_visibility(f0: &Image, f1: &Image, f01: &[f32], f10: &[f32], t: f32) -> Image {
    let (w, h) = (f0.w, f0.h);
    let n = w * h;
    let ft0: Vec<f32> = (0..2 * n).map(|i| -(1.0 - t) * t * f01[i] + t * t * f10[i]).collect();
    let ft1: Vec<f32> = (0..2 * n).map(|i| (1.0 - t) * (1.0 - t) * f01[i] - t * (1.0 - t) * f10[i]).collect();
    let (mut w0, mut w1) = (vec![0.0; 3 * n], vec![0.0; 3 * n]);
    warp(&f0.data, 3, w, h, &ft0, &mut w0).unwrap();
    warp(&f1.data, 3, w, h, &ft1, &mut w1).unwrap();
    Image { w, h, data: w0.iter().zip(&w1).map(|(a, b)| (1.0 - t) * a + t * b).collect() }
}

/// PSNRs of `img` against `truth` on the strip uncovered behind the object
/// and on the strip it covers in front, at time `t` for a move by `step`.
fn strips(img: &Image, truth: &Image, t: f32, step: f32) -> (f64, f64) {
    let (y0, y1) = (OBJ_Y as usize + 8, OBJ_Y as usize + OBJ_SIZE - 8);
    let size = OBJ_SIZE as f32;
    let behind = psnr_in(img, truth, OBJ_X as usize, (OBJ_X + t * step) as usize, y0, y1);
    let ahead = psnr_in(img, truth, (OBJ_X + size + t * step) as usize, (OBJ_X + size + step) as usize, y0, y1);
    (behind, ahead)
}

/// How far the object moves between the two frames of the occlusion scene.
const STEP: f32 = 12.0;

/// The occlusion scene: a photographed object moving `STEP` px right over a static 288x208
/// photograph; frames 0 and 1 and the true frame at time `t`.
fn occlusion_frames(t: f32) -> (Image, Image, Image) {
    let background = Image::photo().moved(288, 208, 16.0, 16.0, (0.0, 0.0));
    let object = Image::coffee();
    let frame = |x: f32| object_scene(&background, &object, x);
    (frame(OBJ_X), frame(OBJ_X + STEP), frame(OBJ_X + t * STEP))
}

#[test]
fn occluded_background_comes_from_the_frame_that_shows_it() {
    // A photographed object moves 12 px right over a static photograph. With
    // the exact flows (object motion on the object, zero elsewhere, in each
    // frame), the background uncovered behind the object must come from
    // frame 1 and the background about to be covered from frame 0; blending
    // both frames (1 - t) : t without visibility ghosts the object there.
    let (step, t) = (STEP, 0.5f32);
    let (f0, f1, truth) = occlusion_frames(t);
    let (w, h) = (f0.w, f0.h);
    let n = w * h;
    let (mut f01, mut f10) = (vec![0.0; 2 * n], vec![0.0; 2 * n]);
    for y in OBJ_Y as usize..OBJ_Y as usize + OBJ_SIZE {
        for x in 0..w {
            let xf = x as f32;
            if xf >= OBJ_X && xf < OBJ_X + OBJ_SIZE as f32 {
                f01[y * w + x] = step;
            }
            if xf >= OBJ_X + step && xf < OBJ_X + step + OBJ_SIZE as f32 {
                f10[y * w + x] = -step;
            }
        }
    }
    let mut out = vec![0.0; 3 * n];
    interpolate(&f0.data, &f1.data, w, h, &f01, &f10, t, &mut FlowWorkspace::new(), &mut out).unwrap();
    let out = Image { w, h, data: out };
    let plain = without_visibility(&f0, &f1, &f01, &f10, t);
    let ((ours_behind, ours_ahead), (plain_behind, plain_ahead)) =
        (strips(&out, &truth, t, step), strips(&plain, &truth, t, step));
    println!(
        "occlusion, exact flows: uncovered strip {ours_behind:.2} dB ({plain_behind:.2} dB without visibility), \
         covered strip {ours_ahead:.2} dB ({plain_ahead:.2} dB), whole frame {:.2} dB ({:.2} dB)",
        psnr(&out, &truth, 16),
        psnr(&plain, &truth, 16)
    );
    // The motion is read on nodes every 2 px (a frame this size gets its flow at half
    // resolution), which softens the exact flows' edge by about a pixel: the 12 px strips come
    // out at 32.1 and 30.6 dB (above 40 dB with nodes every pixel), against 20.4 and 19.8 dB
    // without visibility.
    for (name, ours, plain) in [("uncovered", ours_behind, plain_behind), ("covered", ours_ahead, plain_ahead)] {
        assert!(ours > 29.0, "{name} strip: {ours} dB");
        assert!(ours > plain + 10.0, "{name} strip: {ours} dB vs {plain} dB without visibility");
    }
}

#[test]
fn occlusion_with_estimated_flows_beats_plain_blending() {
    // The same scene with the flows estimated at the default 1/4 resolution:
    // the object's edges are only resolved to a few pixels there, so the
    // strips themselves improve little, but the frame as a whole must.
    let (step, t) = (STEP, 0.5f32);
    let (f0, f1, truth) = occlusion_frames(t);
    let (out, f01, f10) = interp(&f0, &f1, &FlowParams::default(), t);
    let plain = without_visibility(&f0, &f1, &f01, &f10, t);
    let ((ob, oa), (pb, pa)) = (strips(&out, &truth, t, step), strips(&plain, &truth, t, step));
    let (ours, other) = (psnr(&out, &truth, 16), psnr(&plain, &truth, 16));
    println!(
        "occlusion, estimated flows: whole frame {ours:.2} dB ({other:.2} dB without visibility), \
         uncovered strip {ob:.2} dB ({pb:.2}), covered strip {oa:.2} dB ({pa:.2})"
    );
    assert!(ours > other + 1.0, "whole frame {ours} dB vs {other} dB without visibility");
    assert!(ours > 30.0, "whole frame {ours} dB");
}

#[test]
fn scene_change_separates_cuts_from_motion() {
    let photo = Image::photo();
    let (w, h) = (288, 208);
    let base = photo.moved(w, h, 16.0, 16.0, (0.0, 0.0));
    let m = |a: &Image, b: &Image| scene_change(&a.luma(), &b.luma(), w, h).unwrap();
    assert_eq!(m(&base, &base), 0.0);

    let pan = photo.moved(w, h, 16.0, 16.0, (14.0, -9.0));
    let zoom = photo.resample(w, h, |x, y| (160.0 + (x + 16.0 - 160.0) / 1.1, 120.0 + (y + 16.0 - 120.0) / 1.1));
    let brighter = Image { w, h, data: base.data.iter().map(|v| (v * 1.1 + 0.03).min(1.0)).collect() };
    for (name, img) in [("pan", &pan), ("zoom 1.1", &zoom), ("brighter", &brighter)] {
        let s = m(&base, img);
        println!("scene_change {name}: {s:.3}");
        assert!(s < 0.4, "{name}: {s}");
    }

    let flipped = base.resample(w, h, |x, y| (w as f32 - 1.0 - x, h as f32 - 1.0 - y));
    let coffee = Image::coffee();
    let coffee = coffee.resample(w, h, |x, y| (x * 160.0 / w as f32, y * 120.0 / h as f32));
    let synthetic = Image::synthetic(w, h, 11);
    // The same photograph upside down keeps its colours and statistics, so
    // it scores lower than a different picture, but still well above motion.
    for (name, img, low) in
        [("rotated 180", &flipped, 0.6), ("other photo", &coffee, 0.8), ("synthetic", &synthetic, 0.8)]
    {
        let s = m(&base, img);
        println!("scene_change {name}: {s:.3}");
        assert!(s > low, "{name}: {s}");
    }
}

#[test]
fn warp_with_zero_and_integer_flow() {
    let img = Image::synthetic(37, 23, 5);
    let (w, h) = (img.w, img.h);
    let n = w * h;
    let mut out = vec![f32::NAN; 3 * n];
    warp(&img.data, 3, w, h, &vec![0.0; 2 * n], &mut out).unwrap();
    assert!(out == img.data);
    // out(x, y) = src(x + 3, y - 2), clamped at the edges.
    let mut f = vec![3.0; 2 * n];
    f[n..].fill(-2.0);
    warp(&img.data, 3, w, h, &f, &mut out).unwrap();
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = ((x + 3).min(w - 1), y.saturating_sub(2));
                assert_eq!(out[c * n + y * w + x], img.data[c * n + sy * w + sx], "({x}, {y}) channel {c}");
            }
        }
    }
    // Single channel, half-pixel flow: the mean of two neighbours.
    let plane = &img.data[..n];
    let mut half = vec![0.0; 2 * n];
    half[..n].fill(0.5);
    let mut out1 = vec![0.0; n];
    warp(plane, 1, w, h, &half, &mut out1).unwrap();
    assert!((out1[5] - 0.5 * (plane[5] + plane[6])).abs() < 1e-6);
}

#[test]
fn bad_sizes_are_errors() {
    let (w, h) = (16, 12);
    let n = w * h;
    let mut ws = FlowWorkspace::default();
    let (a, mut f) = (vec![0.0; n], vec![0.0; 2 * n]);
    let p = FlowParams::default();
    let err = optical_flow(&a[1..], &a, w, h, &p, &mut ws, &mut f).unwrap_err();
    assert!(matches!(err, KernelError::BufferLength { len: 191, need: 192, .. }), "{err}");
    let err = optical_flow(&a, &a, w, h, &p, &mut ws, &mut f[1..]).unwrap_err();
    assert!(matches!(err, KernelError::BufferLength { need: 384, .. }), "{err}");
    let err = optical_flow(&a, &a, 0, h, &p, &mut ws, &mut f).unwrap_err();
    assert!(matches!(err, KernelError::ZeroSize { .. }), "{err}");
    for bad in [FlowParams { patch: 17, ..p }, FlowParams { stride: 0, ..p }, FlowParams { stride: 9, ..p }] {
        let err = optical_flow(&a, &a, w, h, &bad, &mut ws, &mut f).unwrap_err();
        assert!(matches!(err, KernelError::InvalidArgument(_)), "{err}");
    }

    let rgb = vec![0.0; 3 * n];
    let mut out = vec![0.0; 3 * n];
    let err = interpolate(&rgb, &rgb[..n], w, h, &f, &f, 0.5, &mut ws, &mut out).unwrap_err();
    assert!(matches!(err, KernelError::BufferLength { .. }), "{err}");
    let err = interpolate(&rgb, &rgb, w, h, &f[..n], &f, 0.5, &mut ws, &mut out).unwrap_err();
    assert!(matches!(err, KernelError::BufferLength { .. }), "{err}");
    for t in [-0.1, 1.5, f32::NAN] {
        let err = interpolate(&rgb, &rgb, w, h, &f, &f, t, &mut ws, &mut out).unwrap_err();
        assert!(matches!(err, KernelError::InvalidArgument(_)), "{err}");
    }
    let err = warp(&rgb, 3, w, h, &f, &mut out[1..]).unwrap_err();
    assert!(matches!(err, KernelError::BufferLength { .. }), "{err}");
    let err = warp(&rgb, 0, w, h, &f, &mut out).unwrap_err();
    assert!(matches!(err, KernelError::ZeroSize { .. }), "{err}");
    let mut l = vec![0.0; n];
    let err = luma(&rgb[..2 * n], w, h, &mut l).unwrap_err();
    assert!(matches!(err, KernelError::BufferLength { .. }), "{err}");
    let err = scene_change(&l, &l[1..], w, h).unwrap_err();
    assert!(matches!(err, KernelError::BufferLength { .. }), "{err}");
}

#[test]
fn tiny_images_do_not_panic() {
    let mut ws = FlowWorkspace::new();
    for (w, h) in [(1, 1), (3, 2), (7, 40), (40, 5)] {
        let n = w * h;
        let a: Vec<f32> = (0..n).map(|i| (i % 5) as f32 / 5.0).collect();
        let b: Vec<f32> = (0..n).map(|i| ((i + 1) % 5) as f32 / 5.0).collect();
        let mut f = vec![f32::NAN; 2 * n];
        optical_flow(&a, &b, w, h, &FlowParams::default(), &mut ws, &mut f).unwrap();
        assert!(f.iter().all(|v| v.is_finite()), "{w}x{h}");
        let rgb0: Vec<f32> = a.iter().chain(&a).chain(&a).copied().collect();
        let rgb1: Vec<f32> = b.iter().chain(&b).chain(&b).copied().collect();
        let mut out = vec![f32::NAN; 3 * n];
        interpolate(&rgb0, &rgb1, w, h, &f, &f, 0.5, &mut ws, &mut out).unwrap();
        assert!(out.iter().all(|v| v.is_finite()), "{w}x{h}");
        assert!(scene_change(&a, &b, w, h).unwrap().is_finite());
    }
}
