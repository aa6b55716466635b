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
//! (tests/cuda_io.rs) skips, saying why (docs/gpu.md).
//!
//! Storage holds f32. A model whose input or output is f16 (an fp16 model, `precision=fp16`) is
//! fed and read through the f16 conversion kernels (`cuda::half_ops`) on the device, with the
//! rounding of the host path's `half` conversion, bit for bit.

use std::ffi::CString;

use gst_ai_kernels::cuda::storage::Storage;
use gst_ai_kernels::cuda::{Gpu, half_ops};
use half::f16;
use ort::AsPointer;
use ort::ep::{self, ExecutionProvider};
use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};
use ort::session::Session;
use ort::value::{Shape, TensorElementType, TensorRefMut, ValueType};

use crate::backend::env::environment;
use crate::backend::model::Model;
use crate::backend::source::ModelSource;
use crate::error::{Error, Result};
use crate::image::contract::ImageContract;
use crate::image::tiled::SideInput;
use crate::image::tiled::device::DeviceModel;

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
    open_session_from(name, gpu, |mut b| b.commit_from_memory(bytes))
}

/// [`open_session`] of a model file, read by ONNX Runtime as the CPU path reads it (a model with
/// external data beside it loads the same).
pub fn open_session_file(name: &str, path: &std::path::Path, gpu: &Gpu) -> Result<Session> {
    open_session_from(name, gpu, |mut b| b.commit_from_file(path))
}

fn open_session_from(
    name: &str,
    gpu: &Gpu,
    commit: impl FnOnce(ort::session::builder::SessionBuilder) -> ort::Result<Session>,
) -> Result<Session> {
    let env = environment()?;
    let fail = |e: &dyn std::fmt::Display| Error::ModelLoad { model: name.to_string(), why: e.to_string() };
    let device_id = i32::try_from(gpu.ordinal()).map_err(|e| fail(&e))?;
    // SAFETY: `with_compute_stream` needs the stream to outlive the session. The caller keeps
    // `gpu` (which owns the stream) alive as long as the session: `run_bound` takes both, and
    // docs say so; the stream is never destroyed while the `Gpu` lives.
    let cuda = unsafe { ep::CUDA::default().with_device_id(device_id).with_compute_stream(gpu.raw_stream().cast()) }
        .with_tf32(false)
        // cuDNN's algorithm per convolution chosen by its heuristics, not by timing every
        // candidate on each new input shape (ONNX Runtime's default, EXHAUSTIVE): the first
        // frames of a stream and of each new tile size are not held up by a search.
        .with_conv_algorithm_search(ep::cuda::ConvAlgorithmSearch::Heuristic)
        .build()
        .error_on_failure();
    let builder =
        Session::builder(&env).map_err(|e| fail(&e))?.with_execution_providers([cuda]).map_err(|e| fail(&e))?;
    commit(builder).map_err(|e| fail(&e))
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

/// Whether the session's tensor `name` (an input, or an output when `output`) is f16 (else f32;
/// any other type, or no such name, is an error).
fn is_f16(session: &Session, model: &str, name: &str, output: bool) -> Result<bool> {
    let outlets = if output { session.outputs() } else { session.inputs() };
    let kind = if output { "output" } else { "input" };
    let Some(outlet) = outlets.iter().find(|o| o.name() == name) else {
        return Err(Error::Unsupported(format!("{model} has no {kind} named {name}")));
    };
    match outlet.dtype() {
        ValueType::Tensor { ty: TensorElementType::Float32, .. } => Ok(false),
        ValueType::Tensor { ty: TensorElementType::Float16, .. } => Ok(true),
        other => Err(Error::Unsupported(format!(
            "{model} {kind} {name} is {other:?}: device buffers are bound as f32 or f16 tensors only"
        ))),
    }
}

/// A tensor view of `shape` over device address `ptr` (f16 when `half`, else f32).
///
/// # Safety
/// `ptr` must be CUDA device memory of the device `info` names, holding the shape's values of
/// the tensor's type, and must outlive the returned tensor.
unsafe fn device_tensor(
    info: MemoryInfo<'static>,
    ptr: u64,
    shape: &[usize],
    half: bool,
) -> ort::Result<ort::value::ValueRefMut<'static, ort::value::DynValueTypeMarker>> {
    let shape = Shape::new(shape.iter().map(|&d| d as i64));
    let data = ptr as usize as *mut std::ffi::c_void;
    // SAFETY: the caller's contract, which is `from_raw`'s.
    unsafe {
        if half {
            TensorRefMut::<f16>::from_raw(info, data.cast(), shape).map(|t| t.into_dyn())
        } else {
            TensorRefMut::<f32>::from_raw(info, data.cast(), shape).map(|t| t.into_dyn())
        }
    }
}

/// Runs `session` (opened by [`open_session`] on `gpu`) with input `input_name` bound to
/// `input`'s device buffer viewed as a tensor of `input_shape`, and output `output_name` bound
/// to a new device buffer of `output_shape` (which the caller knows, from the model's
/// contract), returned as device storage of f32. Nothing crosses to the host. A host `input` is
/// refused (upload it with `Storage::to_device` first). An f16 input or output is converted on
/// the device, before and after the run.
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
    run_bound_with(session, gpu, model, (input_name, input, input_shape), &[], output_name, output_shape)
}

/// [`run_bound`] with `side` inputs beside the image (a style vector: a few values), bound from
/// host memory (ONNX Runtime copies them to the device).
pub fn run_bound_with(
    session: &mut Session,
    gpu: &Gpu,
    model: &str,
    (input_name, input, input_shape): (&str, &Storage<Gpu>, &[usize]),
    side: &[SideInput],
    output_name: &str,
    output_shape: &[usize],
) -> Result<Storage<Gpu>> {
    let Storage::Device { buffer, len } = input else {
        return Err(Error::Unsupported(format!("{model}: run_bound takes a device input, not host values")));
    };
    check_binding(&format!("{model} input {input_name}"), input_shape, *len)?;
    let out_len = check_binding(&format!("{model} output {output_name}"), output_shape, output_shape.iter().product())?;
    let (half_in, half_out) = (is_f16(session, model, input_name, false)?, is_f16(session, model, output_name, true)?);
    let fail = |e: &dyn std::fmt::Display| Error::Inference { model: model.to_string(), why: e.to_string() };
    let device = i32::try_from(gpu.ordinal()).map_err(|e| fail(&e))?;
    let info = || {
        MemoryInfo::new(AllocationDevice::CUDA, device, AllocatorType::Device, MemoryType::Default)
            .map_err(|e| fail(&e))
    };
    // The input as the model takes it: ours, or its f16 conversion (kept alive to the end).
    let converted = if half_in { Some(half_ops::to_f16_on(gpu, buffer, *len)?) } else { None };
    let bound_in = converted.as_ref().unwrap_or(buffer);
    let out_bytes = out_len * if half_out { 2 } else { 4 };
    let mut out = gst_ai_kernels::cuda::device::zeros::<Gpu, u8>(gpu, out_bytes)?;
    let (in_ptr, out_ptr) = (gpu.address(bound_in), gpu.address_mut(&mut out));
    // SAFETY: both addresses are device memory of `gpu`'s device (CUDA, `device`) holding the
    // shape's values of the tensor's type: `len` f32 in `buffer` (`check_binding`) or `len` f16
    // in `converted`; `out_len` of the output's type in `out` (`out_bytes`). `buffer` is
    // borrowed, `converted` and `out` owned for this whole function, and both tensors are
    // dropped before it returns. The input is only read by the session.
    let (input_tensor, output_tensor) = unsafe {
        (
            device_tensor(info()?, in_ptr, input_shape, half_in).map_err(|e| fail(&e))?,
            device_tensor(info()?, out_ptr, output_shape, half_out).map_err(|e| fail(&e))?,
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
    for s in side {
        let value = ort::value::Tensor::from_array((s.shape.clone(), s.data.clone())).map_err(|e| fail(&e))?;
        binding.bind_input(s.name.as_str(), &value).map_err(|e| fail(&e))?;
    }
    session.run_binding(&binding).map_err(|e| fail(&e))?;
    drop(binding);
    drop((input_tensor, output_tensor, converted));
    let out = if half_out { half_ops::from_f16_on(gpu, &out, out_len)? } else { out };
    Ok(Storage::Device { buffer: out, len: out_len })
}

/// A local model (built in, or a file) opened on `gpu`'s CUDA provider, its image input and
/// output those of `contract`: the model of the device chain (`image::tiled::device`) on a GPU.
/// The session runs on the `Gpu`'s stream, so the `Gpu` must outlive it ([`OnGpu`] keeps the
/// two together in that order).
pub struct CudaModel {
    session: Session,
    name: String,
    input: String,
    output: String,
}

impl CudaModel {
    pub fn open(model: &Model, contract: &ImageContract, gpu: &Gpu) -> Result<Self> {
        let session = match &model.source {
            ModelSource::Builtin { bytes, .. } => open_session(&model.name, bytes, gpu)?,
            ModelSource::File(path) => open_session_file(&model.name, path, gpu)?,
            ModelSource::Remote(_) => {
                return Err(Error::Unsupported(format!(
                    "{} is a served model: it runs where its server runs it, not on this machine's CUDA device",
                    model.name
                )));
            }
        };
        Ok(Self { session, name: model.name.clone(), input: contract.input.clone(), output: contract.output.clone() })
    }
}

impl DeviceModel<Gpu> for CudaModel {
    fn run(
        &mut self,
        gpu: &Gpu,
        input: <Gpu as gst_ai_kernels::cuda::Device>::Buffer,
        input_shape: &[usize],
        output_shape: &[usize],
        side: &[SideInput],
    ) -> Result<<Gpu as gst_ai_kernels::cuda::Device>::Buffer> {
        let input = Storage::on_device(gpu, input, input_shape.iter().product())?;
        let image = (self.input.as_str(), &input, input_shape);
        let out = run_bound_with(&mut self.session, gpu, &self.name, image, side, &self.output, output_shape)?;
        let Storage::Device { buffer, len } = out else { unreachable!("run_bound returns device storage") };
        // As the CPU path: an output with NaN or infinite values is an error (on-bad-output).
        match gst_ai_kernels::cuda::pixel_ops::count_non_finite_on(gpu, &buffer, len)? {
            0 => Ok(buffer),
            bad => Err(Error::NonFinite { model: self.name.clone(), bad, total: len }),
        }
    }
}

/// Work on a GPU together with the GPU it runs on: `work` (which may hold sessions queued on
/// the GPU's stream) is dropped before `gpu`.
pub struct OnGpu<T> {
    pub work: T,
    pub gpu: Gpu,
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
