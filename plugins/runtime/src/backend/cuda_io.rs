//! ONNX Runtime's CUDA execution provider fed our device buffers through I/O binding, on our
//! stream: [`open_session`] opens a model on the CUDA provider with a `Gpu`'s stream as its
//! compute stream (so the model's kernels run in order with ours: pack before it, unpack after
//! it, no synchronisation between), and [`run_bound`] binds a device [`Storage`] as the input
//! and a device buffer of ours as the output, both by their device addresses: no host copy, and
//! no device copy either.
//!
//! Both bindings go through ONNX Runtime's C API (`BindInput`, `BindOutput`) rather than ort's
//! `IoBinding::bind_input`, which clones a tensor it does not own (a tensor over a raw pointer)
//! before binding it: a device-to-device copy of every frame. Here the tensors are views made
//! by `TensorRefMut::from_raw` and live until the run has returned.
//!
//! Compiled in every build (ort's `cuda` feature links nothing: ONNX Runtime is loaded at run
//! time). Not yet run: this machine has neither a GPU nor ONNX Runtime's CUDA build; the test
//! (tests/cuda_io.rs) skips, saying why (docs/gpu.md). fp16 is not handled: f32 in and out.

use std::ffi::CString;

use gst_ai_kernels::cuda::Gpu;
use gst_ai_kernels::cuda::storage::Storage;
use ort::AsPointer;
use ort::ep::{self, ExecutionProvider};
use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};
use ort::session::Session;
use ort::value::{Shape, TensorRefMut};

use crate::backend::env::environment;
use crate::error::{Error, Result};

/// Whether the loaded ONNX Runtime has the CUDA execution provider, and if not, why.
pub fn cuda_provider() -> std::result::Result<(), String> {
    environment().map_err(|e| e.to_string())?;
    match <ep::CUDA as ExecutionProvider>::is_available() {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "the ONNX Runtime loaded ({}) has no CUDA execution provider (the onnxruntime-gpu build has it)",
            crate::backend::env::loaded_from().map_or("?".into(), |p| p.display().to_string())
        )),
        Err(e) => Err(format!("cannot ask ONNX Runtime for its providers: {e}")),
    }
}

/// Opens the ONNX model `bytes` (named `name` in errors) on the CUDA provider of `gpu`'s device,
/// queued on `gpu`'s stream. A provider that fails to register is an error, never a silent run on
/// the CPU. TF32 is off, so results stay within f32 rounding of the CPU's.
pub fn open_session(name: &str, bytes: &[u8], gpu: &Gpu) -> Result<Session> {
    let env = environment()?;
    let fail = |e: &dyn std::fmt::Display| Error::ModelLoad { model: name.to_string(), why: e.to_string() };
    let device_id = i32::try_from(gpu.ordinal()).map_err(|e| fail(&e))?;
    // SAFETY: `with_compute_stream` needs the stream to outlive the session. The caller keeps
    // `gpu` (which owns the stream) alive as long as the session: `run_bound` takes both, and
    // docs say so; the stream is never destroyed while the `Gpu` lives.
    let cuda = unsafe { ep::CUDA::default().with_device_id(device_id).with_compute_stream(gpu.raw_stream().cast()) }
        .with_tf32(false)
        .build()
        .error_on_failure();
    Session::builder(&env)
        .map_err(|e| fail(&e))?
        .with_execution_providers([cuda])
        .map_err(|e| fail(&e))?
        .commit_from_memory(bytes)
        .map_err(|e| fail(&e))
}

/// The number of values a tensor of `shape` holds, which must be `len` (`what` names it).
pub(crate) fn check_binding(what: &str, shape: &[usize], len: usize) -> Result<usize> {
    let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    match count {
        Some(n) if n == len && n > 0 => Ok(n),
        Some(n) => Err(Error::Unsupported(format!(
            "{what}: shape {shape:?} holds {n} values, the device buffer {len} (must be equal and not 0)"
        ))),
        None => Err(Error::Unsupported(format!("{what}: shape {shape:?} overflows"))),
    }
}

/// `ort`'s status to our error.
fn status(model: &str, what: &str, st: ort::sys::OrtStatusPtr) -> Result<()> {
    // SAFETY: `st` was just returned by an ONNX Runtime API call; this takes ownership of it.
    unsafe { ort::Error::<()>::result_from_status(st) }
        .map_err(|e| Error::Inference { model: model.to_string(), why: format!("{what}: {e}") })
}

/// Runs `session` (opened by [`open_session`] on `gpu`) with input `input_name` bound to
/// `input`'s device buffer viewed as an f32 tensor of `input_shape`, and output `output_name`
/// bound to a new device buffer of `output_shape` (which the caller knows, from the model's
/// contract), returned as device storage. Nothing crosses to the host. A host `input` is
/// refused (upload it with `Storage::to_device` first).
#[allow(clippy::too_many_arguments)] // two tensors, each a name and a shape
pub fn run_bound(
    session: &mut Session,
    gpu: &Gpu,
    model: &str,
    input_name: &str,
    input: &Storage<Gpu>,
    input_shape: &[usize],
    output_name: &str,
    output_shape: &[usize],
) -> Result<Storage<Gpu>> {
    let Storage::Device { buffer, len } = input else {
        return Err(Error::Unsupported(format!("{model}: run_bound takes a device input, not host values")));
    };
    check_binding(&format!("{model} input {input_name}"), input_shape, *len)?;
    let out_len = check_binding(&format!("{model} output {output_name}"), output_shape, output_shape.iter().product())?;
    let fail = |e: &dyn std::fmt::Display| Error::Inference { model: model.to_string(), why: e.to_string() };
    let device = i32::try_from(gpu.ordinal()).map_err(|e| fail(&e))?;
    let info = || MemoryInfo::new(AllocationDevice::CUDA, device, AllocatorType::Device, MemoryType::Default);
    let mut out = gst_ai_kernels::cuda::device::zeros::<Gpu, f32>(gpu, out_len)?;
    let (in_ptr, out_ptr) = (gpu.address(buffer), gpu.address_mut(&mut out));
    let dims = |s: &[usize]| Shape::new(s.iter().map(|&d| d as i64));
    // SAFETY: `from_raw` needs a pointer valid for the memory info and a tensor that does not
    // outlive the memory. Both addresses are device memory of `gpu`'s device (CUDA, `device`),
    // of at least 4 x the shape's values (`check_binding`: `len` f32 in `buffer`, `out_len` in
    // `out`); `buffer` is borrowed and `out` owned for this whole function, and both tensors are
    // dropped before it returns. The input is only read by the session.
    let (input_tensor, output_tensor) = unsafe {
        (
            TensorRefMut::<f32>::from_raw(info().map_err(|e| fail(&e))?, in_ptr as usize as *mut _, dims(input_shape))
                .map_err(|e| fail(&e))?,
            TensorRefMut::<f32>::from_raw(
                info().map_err(|e| fail(&e))?,
                out_ptr as usize as *mut _,
                dims(output_shape),
            )
            .map_err(|e| fail(&e))?,
        )
    };
    let mut binding = session.create_binding().map_err(|e| fail(&e))?;
    let (in_name, out_name) =
        (CString::new(input_name).map_err(|e| fail(&e))?, CString::new(output_name).map_err(|e| fail(&e))?);
    // SAFETY: the binding, the names (NUL-terminated, alive for the calls) and the values are
    // valid ONNX Runtime objects; ONNX Runtime keeps its own reference to each value's OrtValue
    // handle, and the memory behind them lives until after the run (above).
    status(model, "binding the input", unsafe {
        (ort::api().BindInput)(binding.ptr_mut(), in_name.as_ptr(), input_tensor.ptr())
    })?;
    // SAFETY: as above, for the output.
    status(model, "binding the output", unsafe {
        (ort::api().BindOutput)(binding.ptr_mut(), out_name.as_ptr(), output_tensor.ptr())
    })?;
    session.run_binding(&binding).map_err(|e| fail(&e))?;
    drop(binding);
    drop((input_tensor, output_tensor));
    Ok(Storage::Device { buffer: out, len: out_len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_must_match_the_device_buffers() {
        assert_eq!(check_binding("x", &[1, 3, 4, 5], 60).unwrap(), 60);
        let e = check_binding("model input x", &[1, 3, 4, 5], 59).unwrap_err().to_string();
        assert!(e.contains("model input x") && e.contains("60 values") && e.contains("59"), "{e}");
        assert!(check_binding("x", &[1, 0, 4], 0).is_err());
        assert!(check_binding("x", &[usize::MAX, 3], 3).unwrap_err().to_string().contains("overflows"));
    }
}
