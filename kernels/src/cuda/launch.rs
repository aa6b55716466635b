//! The GPU as a `Device`, through cudarc: buffers are `CudaSlice<u8>` on the `Gpu`'s stream, a
//! `Call` becomes a launch of the kernel of that name (every entry point of every source in
//! `kernels/cu/` is loaded). `Gpu::pack`, `unpack` and `resize` take the same arguments as the
//! crate's CPU functions and run the operations of `ops`, which the CPU shim runs too (so the
//! launches are proven in CI, the GPU's arithmetic only on a GPU).
//!
//! Not yet proven on a GPU: see docs/gpu.md.

use std::collections::HashMap;
use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, DevicePtrMut, DeviceRepr, LaunchConfig, PushKernelArg,
};

use super::device::{Arg, Call, Device};
use crate::KernelError;
use crate::frame::{Frame, FrameMut};
use crate::resize::Filter;
use crate::tensor::{Rect, TensorSpec};

fn driver(e: cudarc::driver::DriverError) -> KernelError {
    KernelError::Cuda(e.to_string())
}

/// A kernel argument's bytes, aligned for any argument type the kernels take; the driver reads
/// as many bytes as the kernel's parameter has.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct Param([u8; 64]);

// SAFETY: plain bytes, `Copy`, no pointers; the driver reads the parameter's size from its start.
unsafe impl DeviceRepr for Param {}

/// One CUDA device with the kernels loaded and a stream to run them on.
pub struct Gpu {
    stream: Arc<CudaStream>,
    functions: HashMap<&'static str, CudaFunction>,
}

impl Gpu {
    /// Opens device `ordinal` (after `probe`, so a missing driver is an error, not a panic) and
    /// loads every kernel of every source.
    pub fn new(ordinal: usize) -> Result<Self, KernelError> {
        super::probe(ordinal).map_err(KernelError::Cuda)?;
        let ctx = CudaContext::new(ordinal).map_err(driver)?;
        let mut functions = HashMap::new();
        for ((name, ptx), (_, source)) in super::modules()?.iter().zip(super::SOURCES) {
            let module = ctx.load_module(ptx.clone()).map_err(driver)?;
            for entry in super::entry_points(source) {
                let f =
                    module.load_function(entry).map_err(|e| KernelError::Cuda(format!("{name}.cu: {entry}: {e}")))?;
                functions.insert(entry, f);
            }
        }
        Ok(Self { stream: ctx.new_stream().map_err(driver)?, functions })
    }

    /// The stream every launch and copy of this `Gpu` is queued on.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// The CUDA device's number.
    pub fn ordinal(&self) -> usize {
        self.stream.context().ordinal()
    }

    /// The stream as the driver's raw handle, for a library that queues its own work on it
    /// (ONNX Runtime's CUDA provider: `user_compute_stream`), so that work runs in order with
    /// this `Gpu`'s launches.
    pub fn raw_stream(&self) -> *mut std::ffi::c_void {
        self.stream.cu_stream().cast()
    }

    /// The device address of `buffer`, for a library working on this `Gpu`'s stream (ONNX
    /// Runtime through I/O binding) that will only read it. The address stays valid while
    /// `buffer` lives; work queued on the stream before is ordered before that library's.
    pub fn address(&self, buffer: &CudaSlice<u8>) -> u64 {
        let (ptr, _recorded) = DevicePtr::device_ptr(buffer, &self.stream);
        ptr
    }

    /// As [`address`](Self::address), for a library that writes `buffer`.
    pub fn address_mut(&self, buffer: &mut CudaSlice<u8>) -> u64 {
        let (ptr, _recorded) = DevicePtrMut::device_ptr_mut(buffer, &self.stream);
        ptr
    }

    /// `crate::pack` on the GPU: same arguments, same validation, same result bit for bit.
    pub fn pack(&self, frame: &Frame<'_>, rect: Rect, spec: TensorSpec, out: &mut [f32]) -> Result<(), KernelError> {
        super::ops::pack(self, frame, rect, spec, out)
    }

    /// `crate::unpack` on the GPU: same arguments, same validation, same result bit for bit.
    #[allow(clippy::too_many_arguments)] // the arguments of `crate::unpack`
    pub fn unpack(
        &self,
        tensor: &[f32],
        tensor_w: usize,
        tensor_h: usize,
        spec: TensorSpec,
        crop_x: usize,
        crop_y: usize,
        frame: &mut FrameMut<'_>,
    ) -> Result<(), KernelError> {
        super::ops::unpack(self, tensor, tensor_w, tensor_h, spec, crop_x, crop_y, frame)
    }

    /// `crate::resize` on the GPU: same taps, passes and sums as the CPU, so the same result.
    #[allow(clippy::too_many_arguments)] // the arguments of `crate::resize`
    pub fn resize(
        &self,
        src: &[f32],
        channels: usize,
        sw: usize,
        sh: usize,
        dst: &mut [f32],
        dw: usize,
        dh: usize,
        filter: Filter,
    ) -> Result<(), KernelError> {
        super::ops::resize(self, src, channels, sw, sh, dst, dw, dh, filter)
    }
}

impl Device for Gpu {
    type Buffer = CudaSlice<u8>;

    fn upload(&self, bytes: &[u8]) -> Result<Self::Buffer, KernelError> {
        self.stream.clone_htod(bytes).map_err(driver)
    }

    fn zeros(&self, len: usize) -> Result<Self::Buffer, KernelError> {
        // cudarc refuses an empty allocation; one byte stands in (never read).
        self.stream.alloc_zeros::<u8>(len.max(1)).map_err(driver)
    }

    fn download(&self, buffer: &Self::Buffer, out: &mut [u8]) -> Result<(), KernelError> {
        if out.is_empty() {
            return Ok(());
        }
        let view = buffer.slice(..out.len());
        self.stream.memcpy_dtoh(&view, out).map_err(driver)?;
        self.stream.synchronize().map_err(driver)
    }

    fn copy(&self, src: &Self::Buffer, dst: &mut Self::Buffer) -> Result<(), KernelError> {
        if src.len() > dst.len() {
            return Err(KernelError::InvalidArgument(format!(
                "device copy of {} bytes into a buffer of {}",
                src.len(),
                dst.len()
            )));
        }
        let mut to = dst.slice_mut(..src.len());
        self.stream.memcpy_dtod(src, &mut to).map_err(driver)
    }

    fn synchronize(&self) -> Result<(), KernelError> {
        self.stream.synchronize().map_err(driver)
    }

    fn len(&self, buffer: &Self::Buffer) -> usize {
        buffer.len()
    }

    unsafe fn launch(&self, call: &Call<'_, Self::Buffer>) -> Result<(), KernelError> {
        let f = self
            .functions
            .get(call.kernel)
            .ok_or_else(|| KernelError::Cuda(format!("no kernel {} in kernels/cu/", call.kernel)))?;
        let mut params = Vec::with_capacity(call.args.len());
        for arg in &call.args {
            if let Arg::Value(bytes) = arg {
                let mut p = Param([0; 64]);
                if bytes.len() > p.0.len() {
                    return Err(KernelError::Cuda(format!("{}: an argument of {} bytes", call.kernel, bytes.len())));
                }
                p.0[..bytes.len()].copy_from_slice(bytes);
                params.push(p);
            }
        }
        let mut launch = self.stream.launch_builder(f);
        let mut values = params.iter();
        for arg in &call.args {
            match arg {
                Arg::Value(_) => launch.arg(values.next().expect("one Param per value")),
                Arg::Buffer(b) => launch.arg(*b),
            };
        }
        let cfg = LaunchConfig {
            grid_dim: (call.grid[0], call.grid[1], call.grid[2]),
            block_dim: (call.block[0], call.block[1], call.block[2]),
            shared_mem_bytes: 0,
        };
        // SAFETY: the caller's contract (`Device::launch`): the arguments match the kernel's
        // parameters (each value's bytes start its `Param`, which outlives the launch), and every
        // access is inside the buffers given. Buffers are passed as shared references, so
        // cudarc records a read on each; all work is on this one stream, in order, so a buffer
        // written by one launch is complete before the next reads it, and cudarc's drop of a
        // `CudaSlice` waits for the events recorded on it.
        unsafe { launch.launch(cfg) }.map_err(driver)?;
        Ok(())
    }
}
