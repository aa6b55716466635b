//! ONNX Runtime's CUDA provider fed device buffers through I/O binding (backend::cuda_io): the
//! built-in x2 model run on a GPU with its input and output in device memory, against the same
//! model on the CPU. Skips, saying why, without a CUDA device or without ONNX Runtime's CUDA
//! build (this machine and CI have neither); `GST_AI_REQUIRE_CUDA=1` (the GPU check) turns the
//! skip into a failure.

use gst_ai_kernels::cuda::Gpu;
use gst_ai_kernels::cuda::storage::Storage;
use gst_ai_runtime::backend::cuda_io::{cuda_provider, open_session, run_bound};
use gst_ai_runtime::{Device, InputData, ModelSource, Precision, builtin, load};

fn gpu_or_skip(test: &str) -> Option<Gpu> {
    let ready = Gpu::new(0).map_err(|e| e.to_string()).and_then(|gpu| cuda_provider().map(|()| gpu));
    gst_ai_kernels::cuda::gpu_or_skip(test, ready)
}

#[test]
fn a_model_runs_on_device_buffers_through_io_binding() {
    let ModelSource::Builtin { name, bytes, .. } = builtin::SR_X2 else { unreachable!() };
    let cpu = load(&builtin::SR_X2, Device::Cpu, Precision::Auto).unwrap();
    let (input, output) = (cpu.inputs[0].name.clone(), cpu.outputs[0].name.clone());
    let (w, h) = (40, 24);
    let data: Vec<f32> = (0..3 * w * h).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let shape = [1, 3, h, w];
    let on_cpu = cpu.run_single(&input, shape, InputData::F32(&data), |s, v| Ok((s.to_vec(), v.to_vec()))).unwrap();
    assert_eq!(on_cpu.0, vec![1, 3, 2 * h, 2 * w]);
    // The reference above runs everywhere; the rest needs the GPU.
    let Some(gpu) = gpu_or_skip("a_model_runs_on_device_buffers_through_io_binding") else { return };

    let mut session = open_session(name, bytes, &gpu).unwrap();
    let on_device = Storage::Host(data).to_device(&gpu).unwrap();
    let out = run_bound(&mut session, &gpu, name, &input, &on_device, &shape, &output, &on_cpu.0).unwrap();
    assert!(out.is_on_device() && out.len() == on_cpu.1.len());
    let back = out.into_host(&gpu).unwrap();
    let worst = back.iter().zip(&on_cpu.1).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    // cuDNN's convolutions sum in another order than the CPU's (TF32 is off): f32 rounding only.
    assert!(worst < 1e-3, "the CUDA provider's output differs from the CPU's by {worst}");
    println!("sr_x2 {w}x{h} through I/O binding on {}: within {worst:e} of the CPU", gpu.ordinal());

    // A host input, and a shape that does not fit the buffer, are errors, not crashes.
    let host = Storage::<Gpu>::Host(vec![0.0; 3 * w * h]);
    assert!(run_bound(&mut session, &gpu, name, &input, &host, &shape, &output, &on_cpu.0).is_err());
    let short = Storage::Host(vec![0.0; 10]).to_device(&gpu).unwrap();
    let Err(e) = run_bound(&mut session, &gpu, name, &input, &short, &shape, &output, &on_cpu.0) else {
        panic!("a device buffer of 10 values was bound as 2880")
    };
    assert!(e.to_string().contains("holds 2880 values"), "{e}");
}

#[test]
fn an_fp16_model_is_fed_and_read_through_the_device_conversions() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/models/nearest_x2_f16.onnx");
    let cpu = load(&ModelSource::File(path.clone()), Device::Cpu, Precision::Auto).unwrap();
    assert_eq!(cpu.inputs[0].elem, Some(gst_ai_runtime::backend::model::ElemType::F16));
    let (input, output) = (cpu.inputs[0].name.clone(), cpu.outputs[0].name.clone());
    let (w, h) = (17, 9);
    // Values that f16 rounds (and a few it cannot hold: beyond 65504, below its subnormals).
    let mut data: Vec<f32> = (0..3 * w * h).map(|i| ((i * 7919) % 1000) as f32 / 997.0 + 1e-4).collect();
    data[..3].copy_from_slice(&[70000.0, -1e-9, 1.0 / 3.0]);
    let shape = [1, 3, h, w];
    let mut halves = Vec::new();
    let host_input = InputData::for_elem(gst_ai_runtime::backend::model::ElemType::F16, &data, &mut halves);
    let on_cpu = cpu.run_single(&input, shape, host_input, |s, v| Ok((s.to_vec(), v.to_vec()))).unwrap();
    assert_eq!(on_cpu.0, vec![1, 3, 2 * h, 2 * w]);
    let Some(gpu) = gpu_or_skip("an_fp16_model_is_fed_and_read_through_the_device_conversions") else { return };

    let bytes = std::fs::read(&path).unwrap();
    let mut session = open_session("nearest_x2_f16", &bytes, &gpu).unwrap();
    let on_device = Storage::Host(data).to_device(&gpu).unwrap();
    let out = run_bound(&mut session, &gpu, "nearest_x2_f16", &input, &on_device, &shape, &output, &on_cpu.0).unwrap();
    let back = out.into_host(&gpu).unwrap();
    // Nearest neighbour copies values: the device's conversions must round as the host's did.
    assert!(
        back.len() == on_cpu.1.len() && back.iter().zip(&on_cpu.1).all(|(a, b)| a.to_bits() == b.to_bits()),
        "the fp16 model on device buffers differs from the CPU's"
    );
    println!("nearest_x2_f16 {w}x{h} through I/O binding: equal to the CPU bit for bit");
}

#[test]
fn the_provider_probe_never_panics() {
    // Here: no CUDA build of ONNX Runtime (or no runtime at all); on the GPU machine with one: Ok.
    match cuda_provider() {
        Ok(()) => println!("ONNX Runtime has the CUDA execution provider"),
        Err(why) => {
            println!("no CUDA execution provider: {why}");
            assert!(why.contains("CUDA") || why.contains("ONNX Runtime"), "{why}");
        }
    }
}
