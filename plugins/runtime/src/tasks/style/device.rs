//! [`Stylizer::process`] and [`Stylizer::fallback`] on a kernels `Device`: pack → model (tiled,
//! or resized to a fixed-size model) → clamp → keep the colours → temporal blend along the
//! optical flow with the previous output → mix with the input → unpack, every step a kernel of
//! `kernels/cu/` on buffers that stay on the device (the scene-change measure downloads two
//! 32 x 32 thumbnails). Written once, generic over the device (`Gpu`, or the CPU shim in CI) and
//! the model ([`DeviceModel`]). The CPU `Stylizer` inside holds the contract and the style
//! input; the history lives on the device. Each kernel equals its CPU twin (bit for bit on the
//! shim; `temporal_blend` within 1e-5 on a GPU), so the frames equal the CPU path's
//! (tests/device_chain.rs).

use gst_ai_kernels::cuda::Gpu;
use gst_ai_kernels::cuda::device::{Device, zeros};
use gst_ai_kernels::cuda::flow_ops::optical_flow_on;
use gst_ai_kernels::cuda::ops::{pack_on, resize_on, unpack_from};
use gst_ai_kernels::cuda::pixel_ops::{
    clamp_unit_on, luma_on, mix_on, preserve_colors_on, retensor_on, scene_change_on, temporal_blend_on,
    temporal_confidence_on, warp_on,
};
use gst_ai_kernels::{Filter, Frame, FrameMut, Rect, TensorSpec, copy_alpha};

use super::{Fallback, Fit, StyleContract, StyleParams, Stylizer, flow_params};
use crate::backend::cuda_io::{CudaModel, OnGpu};
use crate::error::{Error, Result};
use crate::image::tiled::device::{DeviceModel, canonical_on};

/// The previous frame on the device: its input (canonical), luma, and output before the mix.
struct History<B> {
    w: usize,
    h: usize,
    input: B,
    luma: B,
    styled: B,
}

/// A [`Stylizer`] whose frames run on device `D` with model `M`.
pub struct DeviceStylizer<D: Device, M> {
    host: Stylizer,
    model: M,
    history: Option<History<D::Buffer>>,
}

/// A new buffer holding the first `n` f32 of `b`.
fn copy_of<D: Device>(d: &D, b: &D::Buffer, n: usize) -> Result<D::Buffer> {
    let mut out = zeros::<D, f32>(d, n)?;
    d.copy(b, &mut out)?;
    Ok(out)
}

impl<D: Device, M: DeviceModel<D>> DeviceStylizer<D, M> {
    /// `host` gives the contract and the style input (set through [`host_mut`](Self::host_mut));
    /// `model` runs the model on the device.
    pub fn new(host: Stylizer, model: M) -> Self {
        Self { host, model, history: None }
    }

    pub fn host(&self) -> &Stylizer {
        &self.host
    }

    pub fn host_mut(&mut self) -> &mut Stylizer {
        &mut self.host
    }

    /// As [`Stylizer::reset`] (the host stylizer's history too: `StyleEngine` runs 10-bit frames
    /// there).
    pub fn reset(&mut self) {
        self.history = None;
        self.host.reset();
    }

    /// As [`Stylizer::process`], on `d`.
    pub fn process(&mut self, d: &D, src: &Frame, dst: &mut FrameMut, p: &StyleParams) -> Result<()> {
        self.host.check_frames(src, dst)?;
        let (w, h) = (src.width, src.height);
        let n = w * h;
        let input = pack_on(d, src, Rect::new(0, 0, w, h), TensorSpec::CANONICAL)?;
        let styled = match self.host.contract.image.static_size {
            Some((sw, sh)) if p.fit == Fit::Resize && (sw, sh) != (w, h) => {
                self.run_resized(d, &input, w, h, sw, sh)?
            }
            _ => canonical_on(&mut self.host.runner, &mut self.model, d, src, p.tiles)?,
        };
        clamp_unit_on(d, &styled, 3 * n)?;
        if p.preserve_colors {
            preserve_colors_on(d, &input, &styled, w, h)?;
        }
        let luma = self.temporal(d, &input, &styled, w, h, p)?;
        // The history is the output before the mix with the input.
        let kept = match luma {
            Some(luma) => Some((luma, copy_of(d, &styled, 3 * n)?)),
            None => None,
        };
        if p.strength < 1.0 {
            mix_on(d, &input, &styled, 3 * n, p.strength)?;
        }
        unpack_from(d, &styled, 3 * n, w, h, TensorSpec::CANONICAL, 0, 0, dst)?;
        if src.format.has_alpha() {
            copy_alpha(src, dst)?;
        }
        self.history = kept.map(|(luma, styled)| History { w, h, input, luma, styled });
        Ok(())
    }

    /// Fixed-size model, `fit=resize`: frame → model size → model → frame size (bicubic).
    fn run_resized(&mut self, d: &D, input: &D::Buffer, w: usize, h: usize, sw: usize, sh: usize) -> Result<D::Buffer> {
        let c = &self.host.contract.image;
        let small = resize_on(d, input, 3, w, h, sw, sh, Filter::Bicubic)?;
        let tensor = retensor_on(d, &small, TensorSpec::CANONICAL, sw, sh, c.spec)?;
        let (shape, _) = c.input_shape(sw, sh);
        let out = self.model.run(d, tensor, &shape, &shape, self.host.runner.side_inputs())?;
        let small_out = retensor_on(d, &out, c.spec, sw, sh, TensorSpec::CANONICAL)?;
        Ok(resize_on(d, &small_out, 3, sw, sh, w, h, Filter::Bicubic)?)
    }

    /// `Stylizer::temporal` on the device: blends `styled` with the previous output warped along
    /// the flow. Returns this frame's luma when the frame is to become the history (the
    /// temporal weight is above zero), None otherwise (and the history is dropped).
    fn temporal(
        &mut self,
        d: &D,
        input: &D::Buffer,
        styled: &D::Buffer,
        w: usize,
        h: usize,
        p: &StyleParams,
    ) -> Result<Option<D::Buffer>> {
        if p.temporal <= 0.0 {
            self.history = None;
            return Ok(None);
        }
        let luma = luma_on(d, input, w, h)?;
        let Some(hist) = self.history.take().filter(|hist| (hist.w, hist.h) == (w, h)) else {
            return Ok(Some(luma));
        };
        if scene_change_on(d, &hist.luma, &luma, w, h)? > p.scene_threshold {
            self.host.scene_cuts += 1;
            return Ok(Some(luma));
        }
        let params = flow_params(w, h);
        let flow = optical_flow_on(d, &luma, &hist.luma, w, h, &params)?;
        let back = optical_flow_on(d, &hist.luma, &luma, w, h, &params)?;
        let back_warped = warp_on(d, &back, 2, w, h, &flow)?;
        let prev_input_warped = warp_on(d, &hist.input, 3, w, h, &flow)?;
        let prev_warped = warp_on(d, &hist.styled, 3, w, h, &flow)?;
        let confidence = temporal_confidence_on(d, [&flow, &back_warped, &luma, input, &prev_input_warped], w, h)?;
        temporal_blend_on(d, styled, &prev_warped, &confidence, w * h, p.temporal)?;
        Ok(Some(luma))
    }

    /// As [`Stylizer::fallback`], on `d`: the previous output warped along the flow to this
    /// frame (which becomes the history), or the input when there is no usable history.
    pub fn fallback(&mut self, d: &D, src: &Frame, dst: &mut FrameMut, p: &StyleParams) -> Result<Fallback> {
        self.host.check_frames(src, dst)?;
        let (w, h) = (src.width, src.height);
        let n = w * h;
        let input = pack_on(d, src, Rect::new(0, 0, w, h), TensorSpec::CANONICAL)?;
        let luma = luma_on(d, &input, w, h)?;
        let hist = match self.history.take() {
            Some(hist) if p.temporal > 0.0 && (hist.w, hist.h) == (w, h) => {
                let cut = scene_change_on(d, &hist.luma, &luma, w, h)? > p.scene_threshold;
                (!cut).then_some(hist)
            }
            _ => None,
        };
        let Some(hist) = hist else {
            unpack_from(d, &input, 3 * n, w, h, TensorSpec::CANONICAL, 0, 0, dst)?;
            if src.format.has_alpha() {
                copy_alpha(src, dst)?;
            }
            return Ok(Fallback::Input);
        };
        let flow = optical_flow_on(d, &luma, &hist.luma, w, h, &flow_params(w, h))?;
        let styled = warp_on(d, &hist.styled, 3, w, h, &flow)?;
        let kept = copy_of(d, &styled, 3 * n)?;
        if p.strength < 1.0 {
            mix_on(d, &input, &styled, 3 * n, p.strength)?;
        }
        unpack_from(d, &styled, 3 * n, w, h, TensorSpec::CANONICAL, 0, 0, dst)?;
        if src.format.has_alpha() {
            copy_alpha(src, dst)?;
        }
        self.history = Some(History { w, h, input, luma, styled: kept });
        Ok(Fallback::Warped)
    }
}

/// What aistylize runs its frames with: the CPU [`Stylizer`], or the device chain on a GPU.
pub enum StyleEngine {
    Cpu(Box<Stylizer>),
    Cuda(Box<OnGpu<DeviceStylizer<Gpu, CudaModel>>>),
}

impl StyleEngine {
    /// The engine for `device`: on CUDA the device chain with the model on the CUDA provider
    /// (the GPU opened here), else the CPU stylizer. A served model stays on the CPU path (its
    /// server decides where it runs).
    pub fn open(stylizer: Stylizer, device: crate::Device) -> Result<Self> {
        Self::open_or_cpu(stylizer, device, false).map(|(engine, _)| engine)
    }

    /// [`open`](Self::open), but with `fall_back` a CUDA device that cannot be opened (the GPU,
    /// or the model's CUDA session) gives the CPU stylizer and the error that made it.
    pub fn open_or_cpu(stylizer: Stylizer, device: crate::Device, fall_back: bool) -> Result<(Self, Option<Error>)> {
        match device {
            crate::Device::Cuda { ordinal } if !stylizer.model().is_remote() => {
                let opened = Gpu::new(ordinal as usize).map_err(Error::from).and_then(|gpu| {
                    let cuda = CudaModel::open(stylizer.model(), &stylizer.contract().image, &gpu)?;
                    Ok((gpu, cuda))
                });
                match opened {
                    Ok((gpu, cuda)) => {
                        Ok((Self::Cuda(Box::new(OnGpu { work: DeviceStylizer::new(stylizer, cuda), gpu })), None))
                    }
                    Err(e) if fall_back => Ok((Self::Cpu(Box::new(stylizer)), Some(e))),
                    Err(e) => Err(e),
                }
            }
            _ => Ok((Self::Cpu(Box::new(stylizer)), None)),
        }
    }

    /// Where the frames run.
    pub fn device(&self) -> crate::Device {
        match self {
            Self::Cpu(_) => crate::Device::Cpu,
            Self::Cuda(g) => crate::Device::Cuda { ordinal: g.gpu.ordinal() as u32 },
        }
    }

    fn host(&self) -> &Stylizer {
        match self {
            Self::Cpu(s) => s,
            Self::Cuda(g) => g.work.host(),
        }
    }

    fn host_mut(&mut self) -> &mut Stylizer {
        match self {
            Self::Cpu(s) => s,
            Self::Cuda(g) => g.work.host_mut(),
        }
    }

    pub fn contract(&self) -> &StyleContract {
        self.host().contract()
    }

    /// As [`Stylizer::set_style`].
    pub fn set_style(&mut self, values: &[f32]) -> Result<()> {
        self.host_mut().set_style(values)
    }

    /// Frames whose history was dropped at a scene change.
    pub fn scene_cuts(&self) -> u64 {
        self.host().scene_cuts
    }

    /// As [`Stylizer::reset`].
    pub fn reset(&mut self) {
        match self {
            Self::Cpu(s) => s.reset(),
            Self::Cuda(g) => g.work.reset(),
        }
    }

    /// As [`Stylizer::process`].
    pub fn process(&mut self, src: &Frame, dst: &mut FrameMut, p: &StyleParams) -> Result<()> {
        match self {
            Self::Cpu(s) => s.process(src, dst, p),
            // The CUDA pack and unpack are 8-bit: a 10-bit stream runs on the CPU path.
            Self::Cuda(g) if src.format.is_ten_bit() => g.work.host_mut().process(src, dst, p),
            Self::Cuda(g) => g.work.process(&g.gpu, src, dst, p),
        }
    }

    /// As [`Stylizer::fallback`].
    pub fn fallback(&mut self, src: &Frame, dst: &mut FrameMut, p: &StyleParams) -> Result<Fallback> {
        match self {
            Self::Cpu(s) => s.fallback(src, dst, p),
            Self::Cuda(g) if src.format.is_ten_bit() => g.work.host_mut().fallback(src, dst, p),
            Self::Cuda(g) => g.work.fallback(&g.gpu, src, dst, p),
        }
    }
}
