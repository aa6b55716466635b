//! The GPU check's bandwidth table (scripts/gpu-check.sh): every CUDA kernel on 1080p work,
//! timed per launch on device-resident buffers, its bandwidth (the bytes of the buffers it is
//! given, per second) set against a device-to-device copy's.
//!
//!     cargo run --release -p gst-ai-kernels --example cuda_bench -- [--shim] [--reps N] [--out FILE]
//!
//! `--shim` runs the same on the CPU shim (figures meaningless there: it proves the logic).

use std::fmt::Write as _;

use gst_ai_kernels::cuda::shim::{Sanitizer, Shim};
use gst_ai_kernels::cuda::tile_ops::DeviceTileMerger;
use gst_ai_kernels::cuda::timed::{Timed, copy_bandwidth};
use gst_ai_kernels::cuda::{Device, Gpu, ops, pixel_ops};
use gst_ai_kernels::{
    ChannelOrder, Colorimetry, Filter, Frame, FrameMut, KernelError, Layout, PixelFormat, Rect, TensorSpec, Tile,
    ValueRange,
};

const W: usize = 1920;
const H: usize = 1080;

fn run<D: Device>(d: &D, reps: usize) -> Result<String, KernelError> {
    let t = Timed::new(d, reps);
    let spec = TensorSpec { layout: Layout::Nchw, range: ValueRange::Unit, order: ChannelOrder::Rgb };
    let c = Colorimetry::default();
    let rgba = vec![77u8; W * H * 4];
    let nv12 = vec![99u8; W * H * 3 / 2];
    let mut tensor = vec![0.0f32; 3 * W * H];
    let frame = Frame::new(PixelFormat::Rgba, W, H, &[&rgba], &[W * 4], c)?;
    ops::pack(&t, &frame, Rect::new(0, 0, W, H), spec, &mut tensor)?;
    let (luma, chroma) = nv12.split_at(W * H);
    let frame = Frame::new(PixelFormat::Nv12, W, H, &[luma, chroma], &[W, W], c)?;
    ops::pack(&t, &frame, Rect::new(0, 0, W, H), spec, &mut tensor)?;
    let mut out = vec![0u8; W * H * 4];
    let mut frame = FrameMut::new(PixelFormat::Rgba, W, H, vec![&mut out[..]], &[W * 4], c)?;
    ops::unpack(&t, &tensor, W, H, spec, 0, 0, &mut frame)?;
    let mut out = vec![0u8; W * H * 3 / 2];
    let (luma, chroma) = out.split_at_mut(W * H);
    let mut frame = FrameMut::new(PixelFormat::Nv12, W, H, vec![luma, chroma], &[W, W], c)?;
    ops::unpack(&t, &tensor, W, H, spec, 0, 0, &mut frame)?;
    let small = vec![0.5f32; 3 * (W / 2) * (H / 2)];
    ops::resize(&t, &small, 3, W / 2, H / 2, &mut tensor, W, H, Filter::Bicubic)?;
    let mut merger = DeviceTileMerger::new(&t, W, H, 2, 8);
    merger.add(Tile { x: 0, y: 0, width: W / 2, height: H / 2 }, &small.repeat(4), W, H, spec)?;
    let mut merged = Vec::new();
    merger.finish(&mut merged)?;
    let n = W * H;
    let flow = vec![1.25f32; 2 * n];
    let mut warped = vec![0.0f32; 3 * n];
    pixel_ops::warp(&t, &tensor, 3, W, H, &flow, &mut warped)?;
    let mut luma = vec![0.0f32; n];
    pixel_ops::luma(&t, &tensor, W, H, &mut luma)?;
    pixel_ops::mix(&t, &tensor, &mut warped, 0.5)?;
    let confidence = vec![0.5f32; n];
    pixel_ops::temporal_blend(&t, &mut warped, &tensor, &confidence, 0.3)?;
    pixel_ops::scene_change(&t, &luma, &luma, W, H)?;

    let copy = copy_bandwidth(d, 3 * W * H * 4, reps)?;
    let mut table = String::new();
    writeln!(table, "| kernel (1080p work) | us per launch | GB/s | of a device-to-device copy |").unwrap();
    writeln!(table, "|---|---:|---:|---:|").unwrap();
    let labels = [
        "pack RGBA",
        "pack NV12",
        "unpack RGBA",
        "unpack NV12",
        "resize x2 bicubic",
        "resize x2 bicubic",
        "tile",
        "tile",
        "warp 3 planes",
        "luma",
        "mix",
        "temporal blend",
        "scene change a",
        "scene change b",
    ];
    for (timing, label) in t.timings.borrow().iter().zip(labels) {
        writeln!(
            table,
            "| {} ({label}) | {:.1} | {:.1} | {:.0}% |",
            timing.kernel,
            timing.per_launch.as_secs_f64() * 1e6,
            timing.gb_per_s(),
            100.0 * timing.gb_per_s() / copy.gb_per_s()
        )
        .unwrap();
    }
    writeln!(
        table,
        "| {} ({} MB) | {:.1} | {:.1} | 100% |",
        copy.kernel,
        copy.bytes / 2_000_000,
        copy.per_launch.as_secs_f64() * 1e6,
        copy.gb_per_s()
    )
    .unwrap();
    table.push_str(&whole_interpolation(d, reps)?);
    Ok(table)
}

/// `interp_ops::interpolate_on` (about 30 launches: nodes, splat, merge, the push-pull levels,
/// visibility, compose) per 1080p frame on device-resident frames and flows, against the
/// crate's CPU `interpolate` on the same frames, in one run.
fn whole_interpolation<D: Device>(d: &D, reps: usize) -> Result<String, KernelError> {
    use gst_ai_kernels::cuda::device::{upload, zeros};
    use gst_ai_kernels::cuda::interp_ops::interpolate_on;
    use std::time::Instant;
    let n = W * H;
    // A textured frame and the same moved by (3, -2) px, the flows that say so.
    let f0: Vec<f32> = (0..3 * n).map(|i| ((i % W) as f32 * 0.37 + (i / W) as f32 * 0.11).sin() * 0.5 + 0.5).collect();
    let f1: Vec<f32> = (0..3 * n)
        .map(|i| {
            let (c, p) = (i / n, i % n);
            let (x, y) = ((p % W + 3).min(W - 1), (p / W).saturating_sub(2));
            f0[c * n + y * W + x]
        })
        .collect();
    let flow = |sign: f32| -> Vec<f32> { (0..2 * n).map(|i| sign * if i < n { 3.0 } else { -2.0 }).collect() };
    let (flow01, flow10) = (flow(1.0), flow(-1.0));
    let bufs = [upload(d, &f0)?, upload(d, &f1)?, upload(d, &flow01)?, upload(d, &flow10)?];
    let mut out = zeros::<D, f32>(d, 3 * n)?;
    let [a, b, fa, fb] = &bufs;
    interpolate_on(d, a, b, W, H, false, fa, fb, 0.5, &mut out)?;
    d.synchronize()?;
    let start = Instant::now();
    for _ in 0..reps {
        interpolate_on(d, a, b, W, H, false, fa, fb, 0.5, &mut out)?;
    }
    d.synchronize()?;
    let on_device = start.elapsed().as_secs_f64() / reps as f64;
    let mut ws = gst_ai_kernels::FlowWorkspace::new();
    let mut cpu = vec![0.0f32; 3 * n];
    let cpu_reps = reps.div_ceil(4);
    let start = Instant::now();
    for _ in 0..cpu_reps {
        gst_ai_kernels::interpolate(&f0, &f1, W, H, &flow01, &flow10, 0.5, &mut ws, &mut cpu)?;
    }
    let on_cpu = start.elapsed().as_secs_f64() / cpu_reps as f64;
    Ok(format!(
        "\n| whole operation (1080p RGB) | ms per frame on the device | ms on the CPU ({} threads) | CPU / device |\n\
         |---|---:|---:|---:|\n| interpolate t = 0.5 | {:.3} | {:.3} | {:.1}x |\n",
        std::thread::available_parallelism().map_or(1, |p| p.get()),
        on_device * 1e3,
        on_cpu * 1e3,
        on_cpu / on_device
    ))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let reps: usize = value("--reps").and_then(|r| r.parse().ok()).unwrap_or(20);
    let result = if args.iter().any(|a| a == "--shim") {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/cuda-shim");
        Shim::build(&dir, Sanitizer::None, &[])
            .and_then(|s| run(&s, reps))
            .map(|t| format!("CPU shim (figures meaningless)\n\n{t}"))
    } else {
        Gpu::new(0).and_then(|g| {
            let info = gst_ai_kernels::cuda::probe(0).map_err(KernelError::Cuda)?;
            run(&g, reps).map(|t| format!("{} (compute {}.{})\n\n{t}", info.name, info.capability.0, info.capability.1))
        })
    };
    match result {
        Ok(text) => {
            println!("{text}");
            if let Some(path) = value("--out") {
                std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{path}: {e}"));
            }
        }
        Err(e) => {
            eprintln!("cuda_bench: {e}");
            std::process::exit(1);
        }
    }
}
