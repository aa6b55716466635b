//! Where the built-in flow mode of frame-rate conversion runs: the kernels' CPU functions
//! ([`CpuFlow`]), or their CUDA twins on a [`Device`] ([`DeviceFlow`]: a GPU, or in tests the
//! CPU shim that runs the same `.cu` sources). The twins give the CPU's results bit for bit
//! (kernels/tests/shim.rs), so a converter makes the same frames on either.

use std::sync::Arc;

use gst_ai_kernels::cuda::{Device, flow_ops, interp_ops};
use gst_ai_kernels::{FlowParams, FlowWorkspace, interpolate, interpolate_yuv420, optical_flow_pair};

use crate::error::Result;

/// The two steps of `Mode::Flow`, on some device.
pub trait FlowEngine: Send {
    /// What runs it, for logs ("cpu", a GPU's name...).
    fn name(&self) -> String;
    /// The flows from luma plane `a` to `b` and back (2 x `h` x `w` each).
    #[allow(clippy::too_many_arguments)]
    fn flow_pair(
        &mut self,
        a: &[f32],
        b: &[f32],
        w: usize,
        h: usize,
        p: &FlowParams,
        f01: &mut [f32],
        f10: &mut [f32],
    ) -> Result<()>;
    /// The frame at `t` between `f0` and `f1` (RGB planes, or 4:2:0 planes with `yuv420`).
    #[allow(clippy::too_many_arguments)]
    fn interpolate(
        &mut self,
        f0: &[f32],
        f1: &[f32],
        w: usize,
        h: usize,
        yuv420: bool,
        flows: (&[f32], &[f32]),
        t: f32,
        out: &mut [f32],
    ) -> Result<()>;
}

/// The kernels' CPU functions, with their scratch buffers.
#[derive(Default)]
pub struct CpuFlow(FlowWorkspace);

impl FlowEngine for CpuFlow {
    fn name(&self) -> String {
        "cpu".into()
    }

    fn flow_pair(
        &mut self,
        a: &[f32],
        b: &[f32],
        w: usize,
        h: usize,
        p: &FlowParams,
        f01: &mut [f32],
        f10: &mut [f32],
    ) -> Result<()> {
        Ok(optical_flow_pair(a, b, w, h, p, &mut self.0, f01, f10)?)
    }

    fn interpolate(
        &mut self,
        f0: &[f32],
        f1: &[f32],
        w: usize,
        h: usize,
        yuv420: bool,
        (f01, f10): (&[f32], &[f32]),
        t: f32,
        out: &mut [f32],
    ) -> Result<()> {
        match yuv420 {
            true => interpolate_yuv420(f0, f1, w, h, f01, f10, t, &mut self.0, out)?,
            false => interpolate(f0, f1, w, h, f01, f10, t, &mut self.0, out)?,
        }
        Ok(())
    }
}

/// The CUDA twins on `device`. Frames and flows cross to the device and back per call (the
/// element's buffers are in host memory); the pyramids, the flows' levels and the
/// interpolation's nodes and fields stay there.
pub struct DeviceFlow<D> {
    device: Arc<D>,
    name: String,
}

impl<D> DeviceFlow<D> {
    pub fn new(device: Arc<D>, name: impl Into<String>) -> Self {
        Self { device, name: name.into() }
    }
}

impl<D: Device + Send + Sync> FlowEngine for DeviceFlow<D> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn flow_pair(
        &mut self,
        a: &[f32],
        b: &[f32],
        w: usize,
        h: usize,
        p: &FlowParams,
        f01: &mut [f32],
        f10: &mut [f32],
    ) -> Result<()> {
        flow_ops::optical_flow(&*self.device, a, b, w, h, p, f01)?;
        flow_ops::optical_flow(&*self.device, b, a, w, h, p, f10)?;
        Ok(())
    }

    fn interpolate(
        &mut self,
        f0: &[f32],
        f1: &[f32],
        w: usize,
        h: usize,
        yuv420: bool,
        (f01, f10): (&[f32], &[f32]),
        t: f32,
        out: &mut [f32],
    ) -> Result<()> {
        let d = &*self.device;
        match yuv420 {
            true => interp_ops::interpolate_yuv420(d, f0, f1, w, h, f01, f10, t, out)?,
            false => interp_ops::interpolate(d, f0, f1, w, h, f01, f10, t, out)?,
        }
        Ok(())
    }
}
