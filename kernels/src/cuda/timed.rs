//! Kernel timing for the GPU check's bandwidth table: `Timed` wraps a `Device`, and each launch
//! an operation makes through it runs once to warm up and then `reps` times between two
//! synchronisations; the time per launch and the bytes of the buffers it was given (an estimate
//! of what it moves: each buffer read or written once) give a bandwidth, set against a
//! device-to-device copy (`copy_bandwidth`). On the CPU shim the figures mean nothing, but the
//! same code runs, so the GPU check's logic is tried in CI.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use super::device::{Arg, Call, Device};
use crate::KernelError;

/// One kernel's timing.
#[derive(Clone, Debug)]
pub struct Timing {
    pub kernel: &'static str,
    pub per_launch: Duration,
    /// The bytes of every buffer the launch was given.
    pub bytes: usize,
}

impl Timing {
    pub fn gb_per_s(&self) -> f64 {
        self.bytes as f64 / self.per_launch.as_secs_f64() / 1e9
    }
}

pub struct Timed<'d, D: Device> {
    pub inner: &'d D,
    pub reps: usize,
    pub timings: RefCell<Vec<Timing>>,
}

impl<'d, D: Device> Timed<'d, D> {
    pub fn new(inner: &'d D, reps: usize) -> Self {
        Self { inner, reps: reps.max(1), timings: RefCell::new(Vec::new()) }
    }
}

impl<D: Device> Device for Timed<'_, D> {
    type Buffer = D::Buffer;
    fn upload(&self, bytes: &[u8]) -> Result<Self::Buffer, KernelError> {
        self.inner.upload(bytes)
    }
    fn zeros(&self, len: usize) -> Result<Self::Buffer, KernelError> {
        self.inner.zeros(len)
    }
    fn download(&self, buffer: &Self::Buffer, out: &mut [u8]) -> Result<(), KernelError> {
        self.inner.download(buffer, out)
    }
    fn copy(&self, src: &Self::Buffer, dst: &mut Self::Buffer) -> Result<(), KernelError> {
        self.inner.copy(src, dst)
    }
    fn synchronize(&self) -> Result<(), KernelError> {
        self.inner.synchronize()
    }
    fn len(&self, buffer: &Self::Buffer) -> usize {
        self.inner.len(buffer)
    }
    unsafe fn launch(&self, call: &Call<'_, Self::Buffer>) -> Result<(), KernelError> {
        // SAFETY: the caller's contract, passed on unchanged; running a launch again is sound
        // (the same accesses), only its result may differ for kernels that accumulate.
        unsafe { self.inner.launch(call) }?;
        self.inner.synchronize()?;
        let start = Instant::now();
        for _ in 0..self.reps {
            // SAFETY: as above.
            unsafe { self.inner.launch(call) }?;
        }
        self.inner.synchronize()?;
        let per_launch = start.elapsed() / self.reps as u32;
        let bytes = call
            .args
            .iter()
            .map(|a| match a {
                Arg::Buffer(b) => self.inner.len(b),
                Arg::Value(_) => 0,
            })
            .sum();
        self.timings.borrow_mut().push(Timing { kernel: call.kernel, per_launch, bytes });
        Ok(())
    }
}

/// A device-to-device copy of `bytes` bytes, `reps` times: bytes read plus written per second.
pub fn copy_bandwidth<D: Device>(d: &D, bytes: usize, reps: usize) -> Result<Timing, KernelError> {
    let src = d.zeros(bytes)?;
    let mut dst = d.zeros(bytes)?;
    d.copy(&src, &mut dst)?;
    d.synchronize()?;
    let start = Instant::now();
    for _ in 0..reps.max(1) {
        d.copy(&src, &mut dst)?;
    }
    d.synchronize()?;
    let per_launch = start.elapsed() / reps.max(1) as u32;
    Ok(Timing { kernel: "device-to-device copy", per_launch, bytes: 2 * bytes })
}
