//! aiupscale's and aistylize's frame chains on CUDA against the CPU path, as the elements run
//! them (the runtime's engines, no GStreamer: the GPU machine has none): the same frames through
//! both, the largest byte difference and each side's frames per second, as a Markdown table.
//!
//!     cargo run --release -p gst-ai-runtime --example device_chain_bench -- [--shim] [--frames N]
//!         [--size WxH] [--sr-model FILE] [--out FILE]
//!
//! `--sr-model` runs that x2 super-resolution model (an ONNX file, e.g. the SRVGGNetCompact of
//! models/make_srvgg_bench.py) through aiupscale's chain instead of the built-in x2, and only
//! that: the element's side of the GPU check's element-vs-bare-session comparison (srvgg.md has
//! the bare session on the same model).
//!
//! On the GPU machine (scripts/gpu-check.sh run) the device side is the `Gpu` with the model on
//! ONNX Runtime's CUDA provider (`GST_AI_ORT_LIB` naming onnxruntime-gpu's library). `--shim`
//! runs the device side on the CPU shim with the model on the CPU session instead (the dry run:
//! proves the logic and the equality; its speeds mean nothing).

use std::time::Instant;

use gst_ai_kernels::cuda::Gpu;
use gst_ai_kernels::cuda::device::Device as KernelDevice;
use gst_ai_kernels::cuda::shim::{Sanitizer, Shim};
use gst_ai_kernels::{Colorimetry, Frame, FrameMut, PixelFormat};
use gst_ai_runtime::backend::cuda_io::CudaModel;
use gst_ai_runtime::image::tiled::device::{DeviceModel, DeviceUpscaler, HostModel};
use gst_ai_runtime::tasks::style::{DeviceStylizer, Fit, StyleContract, StyleParams, Stylizer};
use gst_ai_runtime::{Device, ModelSource, Precision, Result, TileParams, TiledRunner, builtin, load};

/// An RGB frame whose texture moves by `t` pixels.
fn picture(w: usize, h: usize, t: usize) -> Vec<u8> {
    let mut v = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            let (u, s) = (x + 3 * t, y + t);
            for c in 0..3 {
                v[y * w * 3 + x * 3 + c] =
                    ((u * 5 + s * 3 + c * 60) % 190 + (u / 9 + s / 7) % 2 * 50 + (u * s + c) % 11) as u8;
            }
        }
    }
    v
}

fn frame(data: &[u8], w: usize, h: usize) -> Frame<'_> {
    Frame::new(PixelFormat::Rgb, w, h, &[data], &[w * 3], Colorimetry::default()).expect("valid frame")
}

fn frame_mut(data: &mut [u8], w: usize, h: usize) -> FrameMut<'_> {
    FrameMut::new(PixelFormat::Rgb, w, h, vec![data], &[w * 3], Colorimetry::default()).expect("valid frame")
}

/// One row of the table: the largest byte difference, and frames per second of each side
/// (the first frame of each, which compiles and allocates, not timed).
struct Row {
    what: String,
    max_diff: u8,
    differing: f64,
    cpu_fps: f64,
    device_fps: f64,
}

fn compare(
    what: String,
    frames: usize,
    (w, h, scale): (usize, usize, usize),
    mut cpu: impl FnMut(&Frame, &mut FrameMut) -> Result<()>,
    mut device: impl FnMut(&Frame, &mut FrameMut) -> Result<()>,
) -> Result<Row> {
    let (ow, oh) = (w * scale, h * scale);
    let (mut a, mut b) = (vec![0u8; ow * oh * 3], vec![0u8; ow * oh * 3]);
    let (mut cpu_s, mut dev_s, mut max_diff, mut differing) = (0.0, 0.0, 0u8, 0usize);
    for t in 0..frames {
        let src = picture(w, h, t);
        let started = Instant::now();
        cpu(&frame(&src, w, h), &mut frame_mut(&mut a, ow, oh))?;
        let took = started.elapsed().as_secs_f64();
        cpu_s += if t > 0 { took } else { 0.0 };
        let started = Instant::now();
        device(&frame(&src, w, h), &mut frame_mut(&mut b, ow, oh))?;
        let took = started.elapsed().as_secs_f64();
        dev_s += if t > 0 { took } else { 0.0 };
        for (x, y) in a.iter().zip(&b) {
            let d = x.abs_diff(*y);
            max_diff = max_diff.max(d);
            differing += usize::from(d > 0);
        }
    }
    let timed = (frames.max(2) - 1) as f64;
    Ok(Row {
        what,
        max_diff,
        differing: differing as f64 / (frames * a.len()) as f64,
        cpu_fps: timed / cpu_s.max(1e-9),
        device_fps: timed / dev_s.max(1e-9),
    })
}

fn upscale<D: KernelDevice, M: DeviceModel<D>>(
    d: &D,
    model: impl Fn(&TiledRunner) -> M,
    (w, h, frames): (usize, usize, usize),
    sr_model: Option<&str>,
) -> Result<Vec<Row>> {
    let (source, name) = match sr_model {
        Some(path) => (ModelSource::file(path)?, path.rsplit('/').next().unwrap_or(path).to_string()),
        None => (builtin::SR_X2, "builtin sr_x2".to_string()),
    };
    let m = load(&source, Device::Cpu, Precision::Auto)?;
    let c = gst_ai_runtime::tasks::sr::detect(&m)?;
    if c.scale != 2 {
        return Err(gst_ai_runtime::Error::Unsupported(format!("{name} scales by {}, this bench takes x2", c.scale)));
    }
    let mut cpu = TiledRunner::new(m.clone(), c.clone());
    let runner = TiledRunner::new(m, c);
    let device_model = model(&runner);
    let mut dev = DeviceUpscaler::new(runner, device_model);
    let mut rows = Vec::new();
    for params in [TileParams { size: 0, overlap: 16 }, TileParams { size: 256.min(w / 2), overlap: 16 }] {
        let what = format!("aiupscale {name} {w}x{h} -> {}x{}, tile-size {}", 2 * w, 2 * h, params.size);
        rows.push(compare(
            what,
            frames,
            (w, h, 2),
            |s, o| cpu.process(s, o, params),
            |s, o| dev.process(d, s, o, params),
        )?);
    }
    Ok(rows)
}

fn stylize<D: KernelDevice, M: DeviceModel<D>>(
    d: &D,
    model: impl Fn(&Stylizer) -> M,
    (w, h, frames): (usize, usize, usize),
) -> Result<Vec<Row>> {
    let m = load(&builtin::STYLE_CARTOON, Device::Cpu, Precision::Auto)?;
    let contract = StyleContract::detect(&m)?;
    let mut cpu = Stylizer::new(m.clone(), contract.clone());
    let host = Stylizer::new(m, contract);
    let device_model = model(&host);
    let mut dev = DeviceStylizer::new(host, device_model);
    // aistylize's defaults: temporal consistency 0.5, fit=resize (a dynamic model is run whole).
    let p = StyleParams {
        strength: 1.0,
        temporal: 0.5,
        preserve_colors: false,
        fit: Fit::Resize,
        tiles: TileParams { size: 0, overlap: 32 },
        scene_threshold: 0.5,
    };
    let what = format!("aistylize builtin cartoon {w}x{h}, temporal 0.5 ({frames} moving frames)");
    Ok(vec![compare(what, frames, (w, h, 1), |s, o| cpu.process(s, o, &p), |s, o| dev.process(d, s, o, &p))?])
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let shim = args.iter().any(|a| a == "--shim");
    let frames: usize = value("--frames").and_then(|v| v.parse().ok()).unwrap_or(if shim { 3 } else { 30 });
    let (w, h) = value("--size")
        .and_then(|v| v.split_once('x').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?))))
        .unwrap_or(if shim { (96, 64) } else { (960, 540) });
    let run = (w, h, frames);
    let sr_model = value("--sr-model");
    let sr_model = sr_model.as_deref();
    let result = if shim {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/cuda-shim");
        Shim::build(&dir, Sanitizer::None, &[]).map_err(gst_ai_runtime::Error::from).and_then(|s| {
            let host = |r: &TiledRunner| HostModel::new(r.model().clone(), r.contract());
            let mut rows = upscale(&s, host, run, sr_model)?;
            if sr_model.is_none() {
                rows.extend(stylize(
                    &s,
                    |st: &Stylizer| HostModel::new(st.model().clone(), &st.contract().image),
                    run,
                )?);
            }
            Ok(("CPU shim, model on the CPU session (dry run: speeds meaningless)".to_string(), rows))
        })
    } else {
        Gpu::new(0).map_err(gst_ai_runtime::Error::from).and_then(|gpu| {
            let cuda = |r: &TiledRunner| CudaModel::open(r.model(), r.contract(), &gpu).expect("CUDA session");
            let mut rows = upscale(&gpu, cuda, run, sr_model)?;
            if sr_model.is_none() {
                let cuda = |s: &Stylizer| CudaModel::open(s.model(), &s.contract().image, &gpu).expect("CUDA session");
                rows.extend(stylize(&gpu, cuda, run)?);
            }
            Ok((format!("CUDA device {}, model on ONNX Runtime's CUDA provider", gpu.ordinal()), rows))
        })
    };
    let (device, rows) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("device_chain_bench: {e}");
            std::process::exit(1);
        }
    };
    let mut table = format!(
        "Device side: {device}\n\n| chain | max byte difference | bytes differing | CPU fps | device fps |\n|---|---|---|---|---|\n"
    );
    for r in &rows {
        table += &format!(
            "| {} | {} | {:.4} % | {:.2} | {:.2} |\n",
            r.what,
            r.max_diff,
            100.0 * r.differing,
            r.cpu_fps,
            r.device_fps
        );
    }
    print!("{table}");
    if let Some(path) = value("--out")
        && let Err(e) = std::fs::write(&path, &table)
    {
        eprintln!("device_chain_bench: cannot write {path}: {e}");
        std::process::exit(1);
    }
    // The CPU and the device must agree within one 8-bit step (exactly, on the shim).
    let limit = if shim { 0 } else { 1 };
    if let Some(r) = rows.iter().find(|r| r.max_diff > limit) {
        eprintln!("device_chain_bench: {} differs from the CPU by {} (limit {limit})", r.what, r.max_diff);
        std::process::exit(1);
    }
}
