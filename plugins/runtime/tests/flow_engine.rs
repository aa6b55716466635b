//! Frame-rate conversion with the flow on a device (`DeviceFlow`) makes the frames the CPU
//! makes, byte for byte, RGB and I420: here on the CPU shim, which runs the CUDA sources a GPU
//! runs (kernels/tests/shim.rs proves each kernel equal to its CPU twin bit for bit); the GPU
//! check (scripts/gpu-check.sh, step 7) runs the GPU test, where a missing device fails.

use std::path::Path;
use std::sync::Arc;

use gst_ai_kernels::cuda::Device;
use gst_ai_kernels::cuda::shim::{Sanitizer, Shim};
use gst_ai_kernels::{Colorimetry, Frame, FrameMut, PixelFormat};
use gst_ai_runtime::dsp::rate::Rate;
use gst_ai_runtime::tasks::flow_engine::{CpuFlow, DeviceFlow, FlowEngine};
use gst_ai_runtime::tasks::interpolate::{Content, FrameRateConverter, Mode, Output, Params, TimestepHandling};

const W: usize = 96;
const H: usize = 64;

/// Frame `k` of a textured picture whose middle square moves by (3, 2) px per frame.
fn rgb_frame(k: usize) -> Vec<u8> {
    let mut px = vec![0u8; W * H * 3];
    for y in 0..H {
        for x in 0..W {
            let (sx, sy) = (x as isize - 3 * k as isize, y as isize - 2 * k as isize);
            let inside = (30..60).contains(&sx) && (20..44).contains(&sy);
            let v = if inside { (sx * 7 + sy * 13) % 200 + 40 } else { ((x / 8 + y / 8) % 2 * 60 + 50) as isize };
            for c in 0..3 {
                px[(y * W + x) * 3 + c] = (v as usize + 25 * c).min(255) as u8;
            }
        }
    }
    px
}

/// The same picture as I420 planes (luma from G, flat chroma shaded by the square).
fn i420_frame(k: usize) -> Vec<u8> {
    let rgb = rgb_frame(k);
    let (cw, ch) = (W / 2, H / 2);
    let mut px: Vec<u8> = (0..W * H).map(|i| rgb[i * 3 + 1]).collect();
    for plane in 0..2 {
        px.extend((0..cw * ch).map(|i| rgb[((i / cw) * 2 * W + (i % cw) * 2) * 3 + 2 * plane].wrapping_add(9)));
    }
    px
}

/// Every output of converting five frames from 10 to 25 fps with `engine` in `mode`.
fn convert(engine: Box<dyn FlowEngine>, yuv: bool, mode: Mode) -> Vec<Vec<u8>> {
    let rate = |n| Rate::new(n, 1).unwrap();
    let mut conv = FrameRateConverter::<usize>::new(None, Arc::default());
    conv.set_format(rate(10), rate(25), W, H);
    conv.set_flow_engine(engine);
    let p =
        Params { mode, scene_threshold: 0.9, live: false, timestep: TimestepHandling::Auto, bad_output_fallback: true };
    let c = Colorimetry::default();
    let (format, strides): (PixelFormat, &[usize]) =
        if yuv { (PixelFormat::I420, &[W, W / 2, W / 2]) } else { (PixelFormat::Rgb, &[3 * W]) };
    let frames: Vec<Vec<u8>> = (0..5).map(|k| if yuv { i420_frame(k) } else { rgb_frame(k) }).collect();
    let mut outs = Vec::new();
    let mut emit = |o: Output<'_, usize>| -> gst_ai_runtime::Result<()> {
        let mut px = vec![0u8; frames[0].len()];
        match o.content {
            Content::Input(&k) => px.copy_from_slice(&frames[k]),
            Content::Made(m) => {
                let planes: Vec<&mut [u8]> = if yuv {
                    let (y, uv) = px.split_at_mut(W * H);
                    let (u, v) = uv.split_at_mut(W * H / 4);
                    vec![y, u, v]
                } else {
                    vec![&mut px[..]]
                };
                m.write(&mut FrameMut::new(format, W, H, planes, strides, c)?)?;
            }
        }
        outs.push(px);
        Ok(())
    };
    for (k, px) in frames.iter().enumerate() {
        let planes: Vec<&[u8]> = if yuv {
            let (y, uv) = px.split_at(W * H);
            let (u, v) = uv.split_at(W * H / 4);
            vec![y, u, v]
        } else {
            vec![&px[..]]
        };
        let frame = Frame::new(format, W, H, &planes, strides, c).unwrap();
        conv.push(&frame, k, Some(k as u64 * 100_000_000), &p, None, &mut emit).unwrap();
    }
    conv.drain(&p, None, &mut emit).unwrap();
    outs
}

fn shim() -> Arc<Shim> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cuda-shim");
    Arc::new(Shim::build(&dir, Sanitizer::None, &[]).unwrap_or_else(|e| panic!("{e}")))
}

/// Compares the CPU with `device` on both layouts; returns the number of frames compared.
fn cpu_against<D: Device + Send + Sync + 'static>(device: Arc<D>, name: &str) -> usize {
    let mut n = 0;
    for yuv in [false, true] {
        let cpu = convert(Box::new(CpuFlow::default()), yuv, Mode::Flow);
        let dev = convert(Box::new(DeviceFlow::new(device.clone(), name)), yuv, Mode::Flow);
        let blend = convert(Box::new(CpuFlow::default()), yuv, Mode::Blend);
        assert_eq!(cpu.len(), dev.len());
        // 5 inputs at 10 fps to 25 fps: 12 outputs, 10 of them made (t = 0.4, 0.8, 0.2, 0.6).
        assert_eq!(cpu.len(), 13, "outputs");
        for (k, (c, d)) in cpu.iter().zip(&dev).enumerate() {
            if let Some(i) = c.iter().zip(d).position(|(a, b)| a != b) {
                panic!("{name} yuv420 {yuv}: output {k} byte {i} is {} on the device, {} on the CPU", d[i], c[i]);
            }
        }
        // The flow really ran: made frames differ from a cross-fade.
        let differ = cpu.iter().zip(&blend).filter(|(c, b)| c != b).count();
        assert!(differ >= 8, "yuv420 {yuv}: only {differ} outputs differ from a blend");
        n += cpu.len();
    }
    n
}

#[test]
fn the_flow_on_the_cuda_shim_makes_the_cpus_frames() {
    let n = cpu_against(shim(), "cuda shim");
    println!("{n} output frames equal, RGB and I420");
}

#[test]
fn the_flow_on_a_gpu_makes_the_cpus_frames() {
    // The GPU check sets GST_AI_REQUIRE_CUDA: there a missing device is a failure.
    let ready = gst_ai_kernels::cuda::Gpu::new(0).map_err(|e| e.to_string());
    let Some(gpu) = gst_ai_kernels::cuda::gpu_or_skip("the_flow_on_a_gpu_makes_the_cpus_frames", ready) else {
        return;
    };
    let n = cpu_against(Arc::new(gpu), "cuda:0");
    println!("{n} output frames equal on the GPU, RGB and I420");
}
