//! The style, luma, warp, scene-change and face kernels (style.cu, warp.cu, face.cu) against their CPU twins,
//! on any `Device`, as twins.rs does for the conversions: fresh random inputs per case from the
//! run's seed, so the GPU and the shim see the same ones.

use super::all_specs;
use super::twins::{Cases, case_rng, same_bits};
use gst_ai_kernels::cuda::{Device, pixel_ops as ops};
use gst_ai_kernels::{
    FaceBox, KernelError, crop_resize, luma, mix, paste_feathered, preserve_colors, retensor, scene_change,
    temporal_blend, temporal_confidence, warp,
};

/// Frame sizes: single pixels, rows and columns (the warp's line cases), odd sizes, 1080p.
pub const SIZES: [(usize, usize); 6] = [(1, 1), (9, 1), (1, 9), (13, 7), (64, 33), (1920, 1080)];

/// `n` random values in lo..hi.
pub fn values(rng: &mut super::Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| lo + (hi - lo) * rng.unit()).collect()
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x - y).abs() <= tol)
}

/// Runs every case; `blend_tolerance` is how far `temporal_blend` and `paste_feathered` may be
/// from the CPU: they call expf, powf and cosf, whose CUDA versions are within a few ulp of the C
/// library's (style.cu, face.cu); 0 on the CPU shim, which calls the same C library as the CPU
/// twin.
pub fn pixel_cases<D: Device>(d: &D, seed: u64, cases: &Cases, blend_tolerance: f32) -> Result<usize, KernelError> {
    let specs = all_specs();
    let mut n = 0;
    let mut case = 10_000;
    for (w, h) in SIZES {
        let px = w * h;
        case += 1;
        if !cases.keep(seed, case, px) {
            continue;
        }
        let mut rng = case_rng(seed, case);
        let img = values(&mut rng, 3 * px, 0.0, 1.0);
        let prev = values(&mut rng, 3 * px, 0.0, 1.0);
        let (mut c, mut g) = (vec![0.0; px], vec![f32::NAN; px]);
        luma(&img, w, h, &mut c)?;
        ops::luma(d, &img, w, h, &mut g)?;
        assert!(same_bits(&c, &g), "luma {w}x{h}");
        let lum = c;

        let (from, to) = (specs[rng.below(specs.len())], specs[rng.below(specs.len())]);
        let t = values(&mut rng, 3 * px, -1.2, 270.0);
        let (mut c, mut g) = (vec![0.0; 3 * px], vec![f32::NAN; 3 * px]);
        retensor(&t, from, w, h, to, &mut c)?;
        ops::retensor(d, &t, from, w, h, to, &mut g)?;
        assert!(same_bits(&c, &g), "retensor {w}x{h} {from:?} -> {to:?}");

        let styl = values(&mut rng, 3 * px, -0.1, 1.1);
        let (mut c, mut g) = (styl.clone(), styl.clone());
        preserve_colors(&img, &mut c, w, h)?;
        ops::preserve_colors(d, &img, &mut g, w, h)?;
        assert!(same_bits(&c, &g), "preserve_colors {w}x{h}");

        // A style model's output, NaN included, clamped to 0..1 as the stylizer does.
        let (mut c, mut g) = (styl.clone(), styl.clone());
        c[0] = f32::NAN;
        g[0] = f32::NAN;
        c.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
        ops::clamp_unit(d, &mut g)?;
        assert!(same_bits(&c, &g), "clamp_unit {w}x{h}");
        // Some values made NaN or infinite, counted.
        let mut bad = styl.clone();
        for _ in 0..rng.below(4) {
            let i = rng.below(bad.len());
            bad[i] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][rng.below(3)];
        }
        let on_device = ops::count_non_finite_on(d, &gst_ai_kernels::cuda::device::upload(d, &bad)?, bad.len())?;
        assert_eq!(on_device, gst_ai_kernels::count_non_finite(&bad), "count_non_finite {w}x{h}");

        let strength = rng.unit();
        let (mut c, mut g) = (styl.clone(), styl.clone());
        mix(&img, &mut c, strength)?;
        ops::mix(d, &img, &mut g, strength)?;
        assert!(same_bits(&c, &g), "mix {w}x{h} {strength}");

        // Flows of up to a few pixels, some leaving the frame.
        let flow = values(&mut rng, 2 * px, -6.0, 6.0);
        let back = values(&mut rng, 2 * px, -6.0, 6.0);
        let (mut c, mut g) = (vec![0.0; px], vec![f32::NAN; px]);
        temporal_confidence(&flow, &back, &lum, &img, &prev, w, h, &mut c)?;
        ops::temporal_confidence(d, &flow, &back, &lum, &img, &prev, w, h, &mut g)?;
        assert!(same_bits(&c, &g), "temporal_confidence {w}x{h}");
        let conf = c;

        let alpha = rng.unit();
        let (mut c, mut g) = (styl.clone(), styl.clone());
        temporal_blend(&mut c, &prev, &conf, alpha)?;
        ops::temporal_blend(d, &mut g, &prev, &conf, alpha)?;
        assert!(close(&c, &g, blend_tolerance), "temporal_blend {w}x{h} alpha {alpha}: beyond {blend_tolerance}");

        let channels = 1 + rng.below(3);
        let src = values(&mut rng, channels * px, 0.0, 1.0);
        let (mut c, mut g) = (vec![0.0; channels * px], vec![f32::NAN; channels * px]);
        warp(&src, channels, w, h, &flow, &mut c)?;
        ops::warp(d, &src, channels, w, h, &flow, &mut g)?;
        assert!(same_bits(&c, &g), "warp {channels}x{h}x{w}");

        let other = values(&mut rng, px, 0.0, 1.0);
        let (a, b) = (&lum, if rng.below(2) == 0 { &other } else { &lum });
        let (c, g) = (scene_change(a, b, w, h)?, ops::scene_change(d, a, b, w, h)?);
        assert_eq!(c.to_bits(), g.to_bits(), "scene_change {w}x{h}: {c} on the CPU, {g} on the device");

        // A face box somewhere over the frame, partly outside it at times.
        let (bw, bh) = (1.0 + rng.unit() * w as f32, 1.0 + rng.unit() * h as f32);
        let b = FaceBox {
            x: rng.unit() * w as f32 * 1.2 - 0.4 * bw,
            y: rng.unit() * h as f32 * 1.2 - 0.4 * bh,
            w: bw,
            h: bh,
        };
        let (pw, ph) = (1 + rng.below(96), 1 + rng.below(96));
        let (mut c, mut g) = (vec![0.0; 3 * pw * ph], vec![f32::NAN; 3 * pw * ph]);
        crop_resize(&img, w, h, b, &mut c, pw, ph)?;
        ops::crop_resize(d, &img, w, h, b, &mut g, pw, ph)?;
        assert!(same_bits(&c, &g), "crop_resize {w}x{h} {b:?} -> {pw}x{ph}");
        let feather = if rng.below(4) == 0 { 0.0 } else { rng.unit() * 12.0 };
        let (mut c, mut g) = (img.clone(), img.clone());
        let patch = values(&mut rng, 3 * pw * ph, 0.0, 1.0);
        paste_feathered(&mut c, w, h, b, &patch, pw, ph, feather)?;
        ops::paste_feathered(d, &mut g, w, h, b, &patch, pw, ph, feather)?;
        assert!(
            close(&c, &g, blend_tolerance),
            "paste_feathered {w}x{h} {b:?} feather {feather}: beyond {blend_tolerance}"
        );
        n += 1;
    }
    Ok(n)
}

/// The optical flow's pyramid (flow.cu) level by level against the CPU's, padded borders included.
pub fn pyramid_cases<D: Device>(d: &D, seed: u64, cases: &Cases) -> Result<usize, KernelError> {
    use gst_ai_kernels::cuda::flow_ops::{cpu_pyramid, level_values, pyramid};
    let mut n = 0;
    let mut case = 20_000;
    for (w, h, ds, levels) in [(9, 5, 0, 2), (13, 7, 1, 1), (64, 33, 0, 3), (64, 33, 2, 2), (1920, 1080, 1, 5)] {
        case += 1;
        if !cases.keep(seed, case, w * h) {
            continue;
        }
        let mut rng = case_rng(seed, case);
        let src = values(&mut rng, w * h, 0.0, 1.0);
        let pad = 1 + rng.below(10);
        let cpu = cpu_pyramid(&src, w, h, ds, levels, pad);
        let dev = pyramid(d, &src, w, h, ds, levels, pad)?;
        assert_eq!(cpu.len(), dev.len());
        for (l, ((values, lw, lh), level)) in cpu.iter().zip(&dev).enumerate() {
            assert_eq!((*lw, *lh), (level.w, level.h), "pyramid {w}x{h} level {l} size");
            assert!(
                same_bits(values, &level_values(d, level)?),
                "pyramid {w}x{h} /2^{ds} pad {pad}: level {l} differs"
            );
        }
        n += 1;
    }
    Ok(n)
}

/// The optical flow's inverse search and densification (flow.cu), coarse to fine over a
/// pyramid, level by level against the CPU's: `b` is `a` shifted by whole pixels plus noise
/// (none in the first case, which must give exactly zero flow).
pub fn flow_search_cases<D: Device>(d: &D, seed: u64, cases: &Cases) -> Result<usize, KernelError> {
    use gst_ai_kernels::cuda::flow_ops::{cpu_level_flow, cpu_pyramid, level_flow, level_flow_values, pyramid};
    let mut n = 0;
    let mut case = 30_000;
    // (w, h, downscale, levels, patch, stride, iterations)
    for (w, h, ds, levels, patch, stride, iters) in [
        (24, 17, 0, 2, 4, 2, 6),
        (40, 29, 0, 2, 8, 4, 12),
        (64, 33, 1, 2, 6, 3, 8),
        (37, 23, 0, 3, 3, 1, 16),
        (44, 44, 0, 2, 16, 5, 10),
        (13, 9, 0, 1, 1, 1, 3),
        (1920, 1080, 2, 3, 8, 4, 12),
    ] {
        case += 1;
        if !cases.keep(seed, case, w * h) {
            continue;
        }
        let mut rng = case_rng(seed, case);
        let a = values(&mut rng, w * h, 0.0, 1.0);
        let (dx, dy, noise) = match case {
            30_001 => (0, 0, 0.0),
            _ => (rng.below(7) as isize - 3, rng.below(7) as isize - 3, 0.05),
        };
        let b: Vec<f32> = (0..w * h)
            .map(|i| {
                let x = (i % w) as isize + dx;
                let y = (i / w) as isize + dy;
                let src = y.clamp(0, h as isize - 1) as usize * w + x.clamp(0, w as isize - 1) as usize;
                a[src] + noise * (rng.unit() - 0.5)
            })
            .collect();
        let pad = patch + 2;
        let (ca, cb) = (cpu_pyramid(&a, w, h, ds, levels, pad), cpu_pyramid(&b, w, h, ds, levels, pad));
        let (ga, gb) = (pyramid(d, &a, w, h, ds, levels, pad)?, pyramid(d, &b, w, h, ds, levels, pad)?);
        let mut cpu_prev: Option<(Vec<[f32; 2]>, usize, usize)> = None;
        let mut dev_prev = None;
        for l in (0..levels).rev() {
            let ((da, lw, lh), (db, _, _)) = (&ca[l], &cb[l]);
            let init = cpu_prev.as_ref().map(|(f, cw, ch)| (&f[..], *cw, *ch));
            let (cpu_patches, cpu_flow) =
                cpu_level_flow((da, *lw, *lh), (db, *lw, *lh), pad, patch, stride, init, iters);
            let dev = level_flow(d, &ga[l], &gb[l], patch, stride, dev_prev.as_ref(), iters)?;
            let (dev_patches, dev_flow) = level_flow_values(d, &dev)?;
            let what = format!("flow {w}x{h} /2^{ds} level {l} patch {patch} stride {stride} iterations {iters}");
            assert!(same_bits(cpu_patches.as_flattened(), dev_patches.as_flattened()), "{what}: patch flows differ");
            assert!(same_bits(cpu_flow.as_flattened(), dev_flow.as_flattened()), "{what}: dense flows differ");
            // Identical frames give exactly zero flow.
            if noise == 0.0 {
                assert!(cpu_flow.as_flattened().iter().all(|&v| v == 0.0), "{what}: identical frames, non-zero flow");
            }
            cpu_prev = Some((cpu_flow, *lw, *lh));
            dev_prev = Some(dev);
        }
        n += 1;
    }
    Ok(n)
}

/// The whole optical flow on the device (`cuda::flow_ops::optical_flow`: pyramids, the levels'
/// search and densification, the upsampling) against the crate's `optical_flow`, bit for bit.
pub fn optical_flow_cases<D: Device>(d: &D, seed: u64, cases: &Cases) -> Result<usize, KernelError> {
    use gst_ai_kernels::cuda::flow_ops::optical_flow as on_device;
    use gst_ai_kernels::{FlowParams, FlowWorkspace, optical_flow};
    let mut n = 0;
    let mut case = 40_000;
    // (w, h, downscale, levels, patch, stride)
    for (w, h, downscale, levels, patch, stride) in [
        (1, 1, 2, 0, 8, 4),
        (5, 3, 0, 0, 2, 1),
        (23, 17, 0, 1, 4, 3),
        (64, 33, 2, 0, 8, 4),
        (61, 34, 1, 0, 6, 6),
        (30, 20, 3, 2, 3, 2),
        (1920, 1080, 2, 0, 8, 4),
    ] {
        case += 1;
        if !cases.keep(seed, case, w * h) {
            continue;
        }
        let mut rng = case_rng(seed, case);
        let a = values(&mut rng, w * h, 0.0, 1.0);
        let (dx, dy) = (rng.below(9) as isize - 4, rng.below(9) as isize - 4);
        let b: Vec<f32> = (0..w * h)
            .map(|i| {
                let x = ((i % w) as isize + dx).clamp(0, w as isize - 1) as usize;
                let y = ((i / w) as isize + dy).clamp(0, h as isize - 1) as usize;
                a[y * w + x] + 0.05 * (rng.unit() - 0.5)
            })
            .collect();
        let iterations = rng.below(13) as u32;
        let p = FlowParams { downscale, levels, patch, stride, iterations };
        let (mut cpu, mut dev) = (vec![0.0; 2 * w * h], vec![f32::NAN; 2 * w * h]);
        optical_flow(&a, &b, w, h, &p, &mut FlowWorkspace::new(), &mut cpu)?;
        on_device(d, &a, &b, w, h, &p, &mut dev)?;
        assert!(same_bits(&cpu, &dev), "optical_flow {w}x{h} {p:?}: differs");
        n += 1;
    }
    // Bad parameters: the CPU's errors.
    let p = FlowParams { patch: 1, ..FlowParams::default() };
    let e = on_device(d, &[0.0; 16], &[0.0; 16], 4, 4, &p, &mut [0.0; 32]).unwrap_err().to_string();
    assert!(e.contains("patch size 1"), "{e}");
    Ok(n)
}
