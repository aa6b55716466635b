//! The CUDA kernels against their CPU twins on fresh random inputs, on any `Device`: the GPU
//! (tests/cuda.rs, on the GPU machine) and the CPU shim (tests/shim.rs, in CI) run the very same
//! cases from the same seed. `keep` thins the cases out (the sanitizer builds run a launch per
//! process, so they take a sample); the GPU keeps every case.

use super::{OwnedFrame, Rng, all_specs};
use gst_ai_kernels::cuda::tile_ops::DeviceTileMerger;
use gst_ai_kernels::cuda::{Device, ops};
use gst_ai_kernels::{
    Colorimetry, Filter, KernelError, PixelFormat, Rect, Tile, TileMerger, ValueRange, YuvMatrix, pack, plan_tiles,
    resize, unpack,
};

/// Seeds differ from run to run (fresh inputs every time), and are printed for a rerun.
pub fn fresh_seed() -> u64 {
    let seed = std::env::var("GST_AI_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    println!("GST_AI_SEED={seed}");
    seed
}

/// Equal bit for bit (NaN included), as the CUDA twins promise.
pub fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

pub const COLORIMETRIES: [Colorimetry; 3] = [
    Colorimetry { matrix: YuvMatrix::Bt601, full_range: false },
    Colorimetry { matrix: YuvMatrix::Bt709, full_range: true },
    Colorimetry { matrix: YuvMatrix::Bt2020, full_range: false },
];

/// The frame sizes of the pack and unpack cases.
pub const FRAME_SIZES: [(usize, usize); 4] = [(1, 1), (13, 7), (64, 33), (1920, 1080)];
/// The sizes of the resize cases: up, down, one axis only, same size, odd ratios, and a
/// model-sized x4 of a 480x270 frame.
pub const RESIZE_SIZES: [(usize, usize); 7] = [(1, 1), (7, 5), (13, 13), (64, 33), (33, 64), (480, 270), (1920, 1080)];

/// Which cases run: one in `one_in` of those on frames of at most `SMALL` pixels, one in
/// `large_one_in` of the others (none if 0). Each case draws its inputs from a generator of its
/// own (seeded by the run's seed and the case's number), so a case kept has the inputs the full
/// run gives it, and a case skipped costs nothing.
pub struct Cases {
    pub one_in: usize,
    pub large_one_in: usize,
}

/// Up to 64x33 pixels.
pub const SMALL: usize = 64 * 33;

impl Cases {
    pub const ALL: Cases = Cases { one_in: 1, large_one_in: 1 };
    pub fn keep(&self, seed: u64, case: usize, area: usize) -> bool {
        let draw = Rng::new(seed ^ 0x5eed).next_u64() ^ Rng::new(case as u64).next_u64();
        let draw = Rng::new(draw).next_u64();
        match area <= SMALL {
            true => draw.is_multiple_of(self.one_in as u64),
            false => self.large_one_in > 0 && draw.is_multiple_of(self.large_one_in as u64),
        }
    }
}

/// The generator of case (or group of cases) `case` of a run.
pub fn case_rng(seed: u64, case: usize) -> Rng {
    Rng::new(seed.wrapping_add((case as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

pub fn pack_cases<D: Device>(d: &D, seed: u64, cases: &Cases) -> Result<usize, KernelError> {
    let mut n = 0;
    let mut case = 0;
    let specs = all_specs();
    for (w, h) in FRAME_SIZES {
        for format in PixelFormat::ALL {
            for colorimetry in COLORIMETRIES {
                let first = case;
                case += specs.len();
                let kept: Vec<usize> = (0..specs.len()).filter(|&i| cases.keep(seed, first + i, w * h)).collect();
                if kept.is_empty() {
                    continue;
                }
                let mut rng = case_rng(seed, first + 1_000_000);
                let frame = OwnedFrame::filled(format, w, h, rng.below(5), colorimetry, || rng.byte());
                let view = frame.view()?;
                for i in kept {
                    let spec = specs[i];
                    let mut rng = case_rng(seed, first + i);
                    // Inside, overlapping the edges (reflected) and wider than the frame.
                    let rw = 1 + rng.below(w + 8);
                    let rh = 1 + rng.below(h + 8);
                    let rect = Rect::new(rng.below(w + 8) as isize - 4, rng.below(h + 8) as isize - 4, rw, rh);
                    let mut cpu = vec![0.0; 3 * rw * rh];
                    let mut dev = vec![f32::NAN; 3 * rw * rh];
                    pack(&view, rect, spec, &mut cpu)?;
                    ops::pack(d, &view, rect, spec, &mut dev)?;
                    assert!(
                        same_bits(&cpu, &dev),
                        "pack {format} {w}x{h} {colorimetry:?} {spec:?} {rect:?}: the kernel differs from the CPU"
                    );
                    n += 1;
                }
            }
        }
    }
    Ok(n)
}

pub fn unpack_cases<D: Device>(d: &D, seed: u64, cases: &Cases) -> Result<usize, KernelError> {
    let mut n = 0;
    let mut case = 0;
    for (w, h) in FRAME_SIZES {
        for format in PixelFormat::ALL {
            for colorimetry in COLORIMETRIES {
                for spec in all_specs() {
                    case += 1;
                    if !cases.keep(seed, case, w * h) {
                        continue;
                    }
                    let mut rng = case_rng(seed, case);
                    let (cx, cy) = (rng.below(3), rng.below(3));
                    let (tw, th) = (w + cx + rng.below(3), h + cy + rng.below(3));
                    // Values a little outside the range too, so clamping is compared.
                    let (lo, hi) = match spec.range {
                        ValueRange::Unit => (-0.1, 1.1),
                        ValueRange::Signed => (-1.2, 1.2),
                        ValueRange::Byte => (-20.0, 275.0),
                    };
                    let tensor: Vec<f32> = (0..3 * tw * th).map(|_| lo + (hi - lo) * rng.unit()).collect();
                    let pad = rng.below(5);
                    let mut on_cpu = OwnedFrame::filled(format, w, h, pad, colorimetry, || 7);
                    let mut on_dev = OwnedFrame::filled(format, w, h, pad, colorimetry, || 7);
                    unpack(&tensor, tw, th, spec, cx, cy, &mut on_cpu.view_mut()?)?;
                    ops::unpack(d, &tensor, tw, th, spec, cx, cy, &mut on_dev.view_mut()?)?;
                    assert!(
                        on_cpu.planes == on_dev.planes,
                        "unpack {format} {w}x{h} {colorimetry:?} {spec:?} crop ({cx}, {cy}): the kernel differs from the CPU"
                    );
                    n += 1;
                }
            }
        }
    }
    Ok(n)
}

pub fn resize_cases<D: Device>(d: &D, seed: u64, cases: &Cases) -> Result<usize, KernelError> {
    let mut n = 0;
    let mut case = 0;
    for filter in [Filter::Bilinear, Filter::Bicubic] {
        for &(sw, sh) in &RESIZE_SIZES {
            for &(dw, dh) in &RESIZE_SIZES {
                case += 1;
                if !cases.keep(seed, case, (sw * sh).max(dw * dh)) {
                    continue;
                }
                let mut rng = case_rng(seed, case);
                let channels = 1 + rng.below(3);
                let src: Vec<f32> = (0..channels * sw * sh).map(|_| rng.unit() * 2.0 - 0.5).collect();
                let mut cpu = vec![0.0; channels * dw * dh];
                let mut dev = vec![f32::NAN; channels * dw * dh];
                resize(&src, channels, sw, sh, &mut cpu, dw, dh, filter)?;
                ops::resize(d, &src, channels, sw, sh, &mut dev, dw, dh, filter)?;
                assert!(
                    same_bits(&cpu, &dev),
                    "resize {filter:?} {channels}x{sh}x{sw} -> {dh}x{dw}: the kernel differs from the CPU"
                );
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Frames cut into overlapping tiles, each tile's "model output" random in a random spec,
/// merged on the CPU (`TileMerger`) and on the device (`DeviceTileMerger`).
pub fn tile_cases<D: Device>(d: &D, seed: u64, cases: &Cases) -> Result<usize, KernelError> {
    let specs = all_specs();
    let mut n = 0;
    let mut case = 0;
    for (w, h) in [(5, 3), (40, 23), (64, 64), (480, 270)] {
        for scale in [1, 2, 4] {
            case += 1;
            if !cases.keep(seed, case, w * h * scale * scale) {
                continue;
            }
            let mut rng = case_rng(seed, case);
            let tile = 8 + rng.below(40);
            let overlap = rng.below(tile / 2);
            let tiles = plan_tiles(w, h, tile, overlap, 1)?;
            let spec = specs[rng.below(specs.len())];
            let pad = rng.below(3);
            let outputs: Vec<(Tile, Vec<f32>, usize, usize)> = tiles
                .iter()
                .map(|&t| {
                    let (tw, th) = (t.width * scale + pad, t.height * scale + pad);
                    let v = (0..3 * tw * th).map(|_| rng.unit() * 1.4 - 0.2).collect();
                    (t, v, tw, th)
                })
                .collect();
            let (ow, oh) = (w * scale, h * scale);
            let mut cpu = TileMerger::new(ow, oh, scale, overlap);
            let mut dev = DeviceTileMerger::new(d, ow, oh, scale, overlap);
            for (t, v, tw, th) in &outputs {
                cpu.add(*t, v, *tw, *th, spec)?;
                dev.add(*t, v, *tw, *th, spec)?;
            }
            let mut merged = Vec::new();
            dev.finish(&mut merged)?;
            assert!(
                same_bits(cpu.finish()?, &merged),
                "tiles of {w}x{h} x{scale} (tile {tile}, overlap {overlap}, {spec:?}): the kernel differs from the CPU"
            );
            // As the CPU's: a second finish gives the same image, an add after finish is refused.
            let mut again = Vec::new();
            dev.finish(&mut again)?;
            assert!(same_bits(&merged, &again), "tiles of {w}x{h} x{scale}: a second finish differs");
            let (t, v, tw, th) = &outputs[0];
            assert!(dev.add(*t, v, *tw, *th, spec).is_err(), "tiles of {w}x{h} x{scale}: add after finish accepted");
            n += 1;
        }
    }
    Ok(n)
}
