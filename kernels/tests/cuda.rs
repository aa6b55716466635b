//! The CUDA kernels compile: every source in `kernels/cu/` goes through NVRTC and every
//! `extern "C" __global__` function it defines comes out as a PTX entry. NVRTC needs no GPU, so
//! this runs in CI (`make test` installs NVRTC from the `nvidia-cuda-nvrtc` wheel and sets
//! `GST_AI_REQUIRE_NVRTC=1`, which turns a missing NVRTC into a failure instead of a skip).
//! Where a CUDA device is usable (the GPU machine, docs/gpu.md) the kernels' results are compared
//! with their CPU twins on fresh random inputs; elsewhere those tests say they skipped, and
//! `GST_AI_REQUIRE_CUDA=1` (the GPU check sets it) turns that skip into a failure.

mod common;

use common::{OwnedFrame, Rng, all_specs};
use gst_ai_kernels::cuda::{self, Gpu, SOURCES, compile, entry_points};
use gst_ai_kernels::{Colorimetry, Filter, KernelError, PixelFormat, Rect, YuvMatrix, pack, resize, unpack};

fn nvrtc_or_skip(test: &str) -> bool {
    match cuda::nvrtc() {
        Ok(found) => {
            println!("NVRTC: {found}");
            true
        }
        Err(why) if std::env::var_os("GST_AI_REQUIRE_NVRTC").is_some() => {
            panic!("GST_AI_REQUIRE_NVRTC is set but {why}")
        }
        Err(why) => {
            eprintln!("{test}: skipped, {why}");
            false
        }
    }
}

#[test]
fn every_kernel_compiles_with_nvrtc() {
    if !nvrtc_or_skip("every_kernel_compiles_with_nvrtc") {
        return;
    }
    let modules = cuda::modules().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(modules.len(), SOURCES.len());
    let mut entries = 0;
    for ((name, ptx), (src_name, src)) in modules.iter().zip(SOURCES) {
        assert_eq!(name, src_name);
        let text = ptx.to_src();
        let names = entry_points(src);
        assert!(!names.is_empty(), "{name}.cu defines no kernel");
        for entry in names {
            assert!(text.contains(&format!(".entry {entry}(")), "{name}.cu: no PTX entry for {entry}");
            entries += 1;
        }
    }
    for expected in ["pack", "unpack_packed", "unpack_420", "resize_rows", "resize_columns", "tile_accumulate"] {
        assert!(SOURCES.iter().any(|(_, s)| entry_points(s).contains(&expected)), "no kernel {expected}");
    }
    println!("{} sources, {entries} kernels compiled", SOURCES.len());
    // Compiled once per process: the second call returns the same modules.
    assert!(std::ptr::eq(modules, cuda::modules().unwrap()));
}

#[test]
fn a_kernel_that_does_not_compile_is_an_error_naming_it() {
    if !nvrtc_or_skip("a_kernel_that_does_not_compile_is_an_error_naming_it") {
        return;
    }
    let e = compile("broken", "extern \"C\" __global__ void f(float* x) { x[0] = not_declared; }").unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, KernelError::Cuda(_)), "{e:?}");
    assert!(text.contains("broken.cu") && text.contains("not_declared"), "{text}");
}

#[test]
fn every_source_file_is_compiled() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cu");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok()?.strip_suffix(".cu").map(String::from))
        .collect();
    files.sort();
    let mut listed: Vec<String> = SOURCES.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "kernels/cu/*.cu and cuda::SOURCES differ");
}

#[test]
fn probing_a_device_never_panics() {
    // Without a driver (CI) this says so; with one, there is still no device 4096.
    let e = cuda::probe(4096).unwrap_err();
    assert!(e.contains("driver") || e.contains("no CUDA device 4096"), "{e}");
    match cuda::probe(0) {
        Ok(d) => println!("cuda:0 is {} (compute {}.{})", d.name, d.capability.0, d.capability.1),
        Err(why) => println!("cuda:0 unusable: {why}"),
    }
}

fn gpu_or_skip(test: &str) -> Option<Gpu> {
    match Gpu::new(0) {
        Ok(gpu) => Some(gpu),
        Err(why) if std::env::var_os("GST_AI_REQUIRE_CUDA").is_some() => {
            panic!("GST_AI_REQUIRE_CUDA is set but {why}")
        }
        Err(why) => {
            eprintln!("{test}: skipped, {why}");
            None
        }
    }
}

/// Seeds differ from run to run (fresh inputs every time), and are printed for a rerun.
fn fresh_seed() -> u64 {
    let seed = std::env::var("GST_AI_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    println!("GST_AI_SEED={seed}");
    seed
}

/// Equal bit for bit (NaN included), as the CUDA twins promise.
fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

const COLORIMETRIES: [Colorimetry; 3] = [
    Colorimetry { matrix: YuvMatrix::Bt601, full_range: false },
    Colorimetry { matrix: YuvMatrix::Bt709, full_range: true },
    Colorimetry { matrix: YuvMatrix::Bt2020, full_range: false },
];

#[test]
fn pack_on_the_gpu_equals_the_cpu_bit_for_bit() -> Result<(), KernelError> {
    let Some(gpu) = gpu_or_skip("pack_on_the_gpu_equals_the_cpu_bit_for_bit") else { return Ok(()) };
    let mut rng = Rng::new(fresh_seed());
    let mut cases = 0;
    for (w, h) in [(1, 1), (13, 7), (64, 33), (1920, 1080)] {
        for format in PixelFormat::ALL {
            for colorimetry in COLORIMETRIES {
                let frame = OwnedFrame::filled(format, w, h, rng.below(5), colorimetry, || rng.byte());
                let view = frame.view()?;
                for spec in all_specs() {
                    // Inside, overlapping the edges (reflected) and wider than the frame.
                    let rw = 1 + rng.below(w + 8);
                    let rh = 1 + rng.below(h + 8);
                    let rect = Rect::new(rng.below(w + 8) as isize - 4, rng.below(h + 8) as isize - 4, rw, rh);
                    let mut cpu = vec![0.0; 3 * rw * rh];
                    let mut gpu_out = vec![f32::NAN; 3 * rw * rh];
                    pack(&view, rect, spec, &mut cpu)?;
                    gpu.pack(&view, rect, spec, &mut gpu_out)?;
                    assert!(
                        same_bits(&cpu, &gpu_out),
                        "pack {format} {w}x{h} {colorimetry:?} {spec:?} {rect:?}: CUDA differs from the CPU"
                    );
                    cases += 1;
                }
            }
        }
    }
    println!("{cases} pack cases equal");
    Ok(())
}

#[test]
fn unpack_on_the_gpu_equals_the_cpu_bit_for_bit() -> Result<(), KernelError> {
    let Some(gpu) = gpu_or_skip("unpack_on_the_gpu_equals_the_cpu_bit_for_bit") else { return Ok(()) };
    let mut rng = Rng::new(fresh_seed());
    let mut cases = 0;
    for (w, h) in [(1, 1), (13, 7), (64, 33), (1920, 1080)] {
        for format in PixelFormat::ALL {
            for colorimetry in COLORIMETRIES {
                for spec in all_specs() {
                    let (cx, cy) = (rng.below(3), rng.below(3));
                    let (tw, th) = (w + cx + rng.below(3), h + cy + rng.below(3));
                    // Values a little outside the range too, so clamping is compared.
                    let (lo, hi) = match spec.range {
                        gst_ai_kernels::ValueRange::Unit => (-0.1, 1.1),
                        gst_ai_kernels::ValueRange::Signed => (-1.2, 1.2),
                        gst_ai_kernels::ValueRange::Byte => (-20.0, 275.0),
                    };
                    let tensor: Vec<f32> = (0..3 * tw * th).map(|_| lo + (hi - lo) * rng.unit()).collect();
                    let pad = rng.below(5);
                    let mut on_cpu = OwnedFrame::filled(format, w, h, pad, colorimetry, || 7);
                    let mut on_gpu = OwnedFrame::filled(format, w, h, pad, colorimetry, || 7);
                    unpack(&tensor, tw, th, spec, cx, cy, &mut on_cpu.view_mut()?)?;
                    gpu.unpack(&tensor, tw, th, spec, cx, cy, &mut on_gpu.view_mut()?)?;
                    assert!(
                        on_cpu.planes == on_gpu.planes,
                        "unpack {format} {w}x{h} {colorimetry:?} {spec:?} crop ({cx}, {cy}): CUDA differs from the CPU"
                    );
                    cases += 1;
                }
            }
        }
    }
    println!("{cases} unpack cases equal");
    Ok(())
}

#[test]
fn resize_on_the_gpu_equals_the_cpu_bit_for_bit() -> Result<(), KernelError> {
    let Some(gpu) = gpu_or_skip("resize_on_the_gpu_equals_the_cpu_bit_for_bit") else { return Ok(()) };
    let mut rng = Rng::new(fresh_seed());
    let mut cases = 0;
    // Up, down, one axis only, same size, odd ratios, and a model-sized x4 of a 480x270 frame.
    let sizes = [(1, 1), (7, 5), (13, 13), (64, 33), (33, 64), (480, 270), (1920, 1080)];
    for filter in [Filter::Bilinear, Filter::Bicubic] {
        for &(sw, sh) in &sizes {
            for &(dw, dh) in &sizes {
                let channels = 1 + rng.below(3);
                let src: Vec<f32> = (0..channels * sw * sh).map(|_| rng.unit() * 2.0 - 0.5).collect();
                let mut cpu = vec![0.0; channels * dw * dh];
                let mut on_gpu = vec![f32::NAN; channels * dw * dh];
                resize(&src, channels, sw, sh, &mut cpu, dw, dh, filter)?;
                gpu.resize(&src, channels, sw, sh, &mut on_gpu, dw, dh, filter)?;
                assert!(
                    same_bits(&cpu, &on_gpu),
                    "resize {filter:?} {channels}x{sh}x{sw} -> {dh}x{dw}: CUDA differs from the CPU"
                );
                cases += 1;
            }
        }
    }
    println!("{cases} resize cases equal");
    Ok(())
}
