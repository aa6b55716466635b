//! aiupscale's and aistylize's per-frame chains on a kernels `Device` (image::tiled::device,
//! tasks::style::device) against the CPU path, frame by frame:
//! - on the CPU shim (every CI run): the same launch code the GPU runs, the model on the CPU
//!   session (download, run, upload); every kernel is a bit-exact twin there, so the frames must
//!   equal the CPU path's byte for byte;
//! - on a GPU with ONNX Runtime's CUDA provider (skipped, saying why, without one; the GPU check
//!   sets `GST_AI_REQUIRE_CUDA=1` to make the skip a failure): the model through I/O binding,
//!   within one 8-bit step of the CPU (cuDNN sums in another order; temporal_blend's expf/powf).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use gst_ai_kernels::cuda::shim::{Sanitizer, Shim};
use gst_ai_kernels::cuda::{Device as KernelDevice, Gpu};
use gst_ai_kernels::{Colorimetry, Frame, FrameMut, PixelFormat};
use gst_ai_runtime::backend::cuda_io::{CudaModel, cuda_provider};
use gst_ai_runtime::image::tiled::device::{DeviceModel, DeviceUpscaler, HostModel};
use gst_ai_runtime::tasks::style::{DeviceStylizer, Fallback, Fit, StyleContract, StyleParams, Stylizer};
use gst_ai_runtime::{Device, ModelSource, Precision, TileParams, TiledRunner, builtin, load};

fn shim() -> &'static Shim {
    static SHIM: OnceLock<Shim> = OnceLock::new();
    SHIM.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cuda-shim");
        Shim::build(&dir, Sanitizer::None, &[]).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn gpu_or_skip(test: &str) -> Option<Gpu> {
    let ready = Gpu::new(0).map_err(|e| e.to_string()).and_then(|gpu| cuda_provider().map(|()| gpu));
    gst_ai_kernels::cuda::gpu_or_skip(test, ready)
}

/// A style fixture: in the checkout this binary was built in, else (the binary carried to the
/// GPU machine, run from a copy of the repository's root) under the working directory.
fn style_model(name: &str) -> ModelSource {
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/models/style");
    let dir = if built.is_dir() { built } else { PathBuf::from("tests/models/style") };
    ModelSource::File(dir.join(name))
}

/// A frame of `format` (packed RGB-like or I420), with texture that moves by `t` pixels, so the
/// flow has something to follow.
struct Picture {
    format: PixelFormat,
    w: usize,
    h: usize,
    planes: Vec<Vec<u8>>,
    strides: Vec<usize>,
}

impl Picture {
    fn new(format: PixelFormat, w: usize, h: usize, t: usize) -> Self {
        let value = |x: usize, y: usize, c: usize| {
            let (x, y) = (x + 2 * t, y + t);
            ((x * 7 + y * 3 + c * 50) % 200 + (x / 5 + y / 4) % 2 * 40 + (x * y + c) % 13) as u8
        };
        let mut p = Self::blank(format, w, h);
        match format {
            PixelFormat::I420 => {
                for (i, (pw, ph)) in (0..3).map(|i| (i, format.plane_dims(i, w, h))) {
                    for y in 0..ph {
                        for x in 0..pw {
                            p.planes[i][y * p.strides[i] + x] = value(x << (i > 0) as u32, y << (i > 0) as u32, i);
                        }
                    }
                }
            }
            _ => {
                let bpp = p.strides[0] / w;
                for y in 0..h {
                    for x in 0..w {
                        for c in 0..bpp {
                            p.planes[0][y * p.strides[0] + x * bpp + c] = value(x, y, c);
                        }
                    }
                }
            }
        }
        p
    }

    fn blank(format: PixelFormat, w: usize, h: usize) -> Self {
        let n = format.n_planes();
        let bpp = match format {
            PixelFormat::Rgb | PixelFormat::Bgr => 3,
            PixelFormat::I420 => 1,
            _ => 4,
        };
        let strides: Vec<usize> = (0..n).map(|i| format.plane_dims(i, w, h).0 * if i == 0 { bpp } else { 1 }).collect();
        let planes = (0..n).map(|i| vec![0u8; strides[i] * format.plane_dims(i, w, h).1]).collect();
        Self { format, w, h, planes, strides }
    }

    fn frame(&self) -> Frame<'_> {
        let planes: Vec<&[u8]> = self.planes.iter().map(Vec::as_slice).collect();
        Frame::new(self.format, self.w, self.h, &planes, &self.strides, Colorimetry::default()).unwrap()
    }

    fn frame_mut(&mut self) -> FrameMut<'_> {
        let planes: Vec<&mut [u8]> = self.planes.iter_mut().map(Vec::as_mut_slice).collect();
        FrameMut::new(self.format, self.w, self.h, planes, &self.strides, Colorimetry::default()).unwrap()
    }

    /// The largest difference of a byte from `other`'s.
    fn max_diff(&self, other: &Self) -> u8 {
        let bytes = |p: &Self| p.planes.concat();
        bytes(self).iter().zip(bytes(other)).map(|(a, b)| a.abs_diff(b)).max().unwrap_or(0)
    }
}

const FORMATS: [PixelFormat; 3] = [PixelFormat::Rgb, PixelFormat::Rgba, PixelFormat::I420];

/// The built-in x2 model over a 70x46 frame (not a multiple of the tile) in tiles of 32 with an
/// overlap of 6, and whole: the device chain against the CPU runner. Returns the largest byte
/// difference of any frame.
fn upscale_against_cpu<D: KernelDevice, M: DeviceModel<D>>(d: &D, model: impl Fn(&TiledRunner) -> M) -> u8 {
    let m = load(&builtin::SR_X2, Device::Cpu, Precision::Auto).unwrap();
    let c = gst_ai_runtime::tasks::sr::detect(&m).unwrap();
    let mut cpu = TiledRunner::new(m.clone(), c.clone());
    let runner = TiledRunner::new(m, c);
    let device_model = model(&runner);
    let mut dev = DeviceUpscaler::new(runner, device_model);
    let (w, h) = (70, 46);
    let mut worst = 0;
    for format in FORMATS {
        let src = Picture::new(format, w, h, 0);
        for params in [TileParams { size: 32, overlap: 6 }, TileParams { size: 0, overlap: 0 }] {
            let (mut a, mut b) = (Picture::blank(format, 2 * w, 2 * h), Picture::blank(format, 2 * w, 2 * h));
            cpu.process(&src.frame(), &mut a.frame_mut(), params).unwrap();
            dev.process(d, &src.frame(), &mut b.frame_mut(), params).unwrap();
            let tiles = dev.runner().last_tile_count();
            assert_eq!(tiles, cpu.last_tile_count());
            assert!(params.size == 0 || tiles == 6, "{params:?}: {tiles} tiles");
            let diff = a.max_diff(&b);
            println!("aiupscale {format:?} {w}x{h} {params:?} ({tiles} tiles): max byte difference {diff}");
            worst = worst.max(diff);
        }
    }
    worst
}

#[test]
fn upscale_on_the_shim_equals_the_cpu_path() {
    let worst = upscale_against_cpu(shim(), |r| HostModel::new(r.model().clone(), r.contract()));
    assert_eq!(worst, 0, "the shim's chain differs from the CPU path");
}

#[test]
fn upscale_on_a_gpu_is_within_a_step_of_the_cpu_path() {
    let Some(gpu) = gpu_or_skip("upscale_on_a_gpu_is_within_a_step_of_the_cpu_path") else { return };
    let worst = upscale_against_cpu(&gpu, |r| CudaModel::open(r.model(), r.contract(), &gpu).unwrap());
    assert!(worst <= 1, "the GPU's chain differs from the CPU path by {worst}");
}

fn params(fit: Fit, preserve_colors: bool, strength: f32) -> StyleParams {
    StyleParams {
        strength,
        temporal: 0.6,
        preserve_colors,
        fit,
        tiles: TileParams { size: 32, overlap: 6 },
        scene_threshold: 0.5,
    }
}

/// A style model over a few moving frames with temporal blending (and a scene cut, a fallback
/// frame, a reset): the device chain against the CPU stylizer, byte for byte differences.
fn stylize_against_cpu<D: KernelDevice, M: DeviceModel<D>>(
    d: &D,
    name: &str,
    p: StyleParams,
    model: impl Fn(&Stylizer) -> M,
) -> u8 {
    let m = load(&style_model(name), Device::Cpu, Precision::Auto).unwrap();
    let contract = StyleContract::detect(&m).unwrap();
    let mut cpu = Stylizer::new(m.clone(), contract.clone());
    let host = Stylizer::new(m, contract);
    let device_model = model(&host);
    let mut dev = DeviceStylizer::new(host, device_model);
    let (w, h) = (62, 44);
    let mut worst = 0;
    for format in [PixelFormat::Rgb, PixelFormat::I420] {
        cpu.reset();
        dev.reset();
        // Frames 0-3 move, 4 is a fallback, 5 another scene (a cut), 6 after a reset.
        for t in 0..7 {
            let src = if t == 5 { Picture::blank(format, w, h) } else { Picture::new(format, w, h, t) };
            let (mut a, mut b) = (Picture::blank(format, w, h), Picture::blank(format, w, h));
            if t == 6 {
                cpu.reset();
                dev.reset();
            }
            if t == 4 {
                let fa = cpu.fallback(&src.frame(), &mut a.frame_mut(), &p).unwrap();
                let fb = dev.fallback(d, &src.frame(), &mut b.frame_mut(), &p).unwrap();
                assert_eq!((fa, fb), (Fallback::Warped, Fallback::Warped));
            } else {
                cpu.process(&src.frame(), &mut a.frame_mut(), &p).unwrap();
                dev.process(d, &src.frame(), &mut b.frame_mut(), &p).unwrap();
            }
            if t == 3 {
                // The blend had something to blend: the flow was trusted somewhere.
                assert!(cpu.confidence().iter().any(|&c| c > 0.5), "{name}: no confident pixel");
            }
            let diff = a.max_diff(&b);
            worst = worst.max(diff);
            assert!(diff <= 1, "{name} {format:?} frame {t}: max byte difference {diff}");
        }
        assert_eq!(cpu.scene_cuts, dev.host().scene_cuts);
    }
    assert!(cpu.scene_cuts >= 2, "the blank frame was not a scene cut: {}", cpu.scene_cuts);
    println!("aistylize {name} {w}x{h} {p:?}: 2 formats x 7 frames, max byte difference {worst}");
    worst
}

fn host_model(s: &Stylizer) -> HostModel {
    HostModel::new(s.model().clone(), &s.contract().image)
}

#[test]
fn stylize_on_the_shim_equals_the_cpu_path() {
    let s = shim();
    // Tiled (dynamic model), with colours kept and half strength; resized (static 224 model);
    // NHWC in -1..1 (AnimeGAN layout).
    for (name, p) in [
        ("transformer_net_dyn.onnx", params(Fit::Tile, true, 0.7)),
        ("transformer_net_224.onnx", params(Fit::Resize, false, 1.0)),
        ("animegan_nhwc.onnx", params(Fit::Tile, false, 1.0)),
    ] {
        assert_eq!(stylize_against_cpu(s, name, p, host_model), 0, "{name}");
    }
}

#[test]
fn stylize_on_a_gpu_is_within_a_step_of_the_cpu_path() {
    let Some(gpu) = gpu_or_skip("stylize_on_a_gpu_is_within_a_step_of_the_cpu_path") else { return };
    let open = |s: &Stylizer| CudaModel::open(s.model(), &s.contract().image, &gpu).unwrap();
    stylize_against_cpu(&gpu, "transformer_net_dyn.onnx", params(Fit::Tile, true, 0.7), open);
    stylize_against_cpu(&gpu, "transformer_net_224.onnx", params(Fit::Resize, false, 1.0), open);
}

#[test]
fn device_buffers_too_short_are_errors_naming_them() {
    use gst_ai_kernels::cuda::device::zeros;
    use gst_ai_kernels::cuda::pixel_ops::{mix_on, temporal_blend_on, warp_on};
    use gst_ai_kernels::cuda::tile_ops::DeviceTileMerger;
    use gst_ai_kernels::{TensorSpec, Tile};
    let s = shim();
    let short = zeros::<Shim, f32>(s, 10).unwrap();
    let image = zeros::<Shim, f32>(s, 3 * 8 * 8).unwrap();
    let Err(e) = warp_on(s, &short, 3, 8, 8, &image) else { panic!("warp of a short buffer ran") };
    let e = e.to_string();
    assert!(e.contains("warp input"), "{e}");
    let e = mix_on(s, &image, &short, 3 * 64, 0.5).unwrap_err().to_string();
    assert!(e.contains("mix output"), "{e}");
    let e = temporal_blend_on(s, &image, &image, &short, 64, 0.5).unwrap_err().to_string();
    assert!(e.contains("temporal_blend confidence"), "{e}");
    let mut merger = DeviceTileMerger::new(s, 16, 16, 2, 0);
    let tile = Tile { x: 0, y: 0, width: 8, height: 8 };
    // A buffer shorter than the tensor it is said to hold, and a window the tile does not fit.
    let e = merger.add_on(tile, &short, 3 * 16 * 16, (16, 16), TensorSpec::CANONICAL, (0, 0)).unwrap_err();
    assert!(e.to_string().contains("tile tensor 16x16"), "{e}");
    let big = zeros::<Shim, f32>(s, 3 * 16 * 16).unwrap();
    let e = merger.add_on(tile, &big, 3 * 16 * 16, (16, 16), TensorSpec::CANONICAL, (4, 0)).unwrap_err();
    assert!(e.to_string().contains("smaller than the scaled tile"), "{e}");
    merger.add_on(tile, &big, 3 * 16 * 16, (16, 16), TensorSpec::CANONICAL, (0, 0)).unwrap();
}
