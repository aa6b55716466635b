//! The tiled runner's chain on a kernels `Device`: pack → model → tile merge → unpack, written
//! once, generic over the device (`Gpu`, or the CPU shim in CI) and over how the model is fed
//! ([`DeviceModel`]: on a GPU, ONNX Runtime's CUDA provider bound to our device buffers,
//! `backend::cuda_io::CudaModel`; [`HostModel`], a CPU session fed by download and upload, which
//! is how CI runs the very same launches on the shim). The tiling plan (tiles, context, padding)
//! is the CPU runner's own ([`TiledRunner::tiles`], `tile_input`), and each kernel equals its CPU
//! twin, so on the shim the frame out equals the CPU path's bit for bit (tests/device_chain.rs).

use std::marker::PhantomData;
use std::sync::Arc;

use gst_ai_kernels::cuda::Gpu;
use gst_ai_kernels::cuda::device::{Device, download, upload};
use gst_ai_kernels::cuda::ops::{pack_planes_on, unpack_from, upload_frame};
use gst_ai_kernels::cuda::tile_ops::DeviceTileMerger;
use gst_ai_kernels::{Frame, FrameMut, Layout, TensorSpec, Tile, copy_alpha};
use half::f16;

use super::{SideInput, TileInput, TileParams, TiledRunner, tile_input};
use crate::backend::cuda_io::{CudaModel, OnGpu};
use crate::backend::model::{ElemType, InputData, Model, ModelInput};
use crate::error::{Error, Result};
use crate::image::contract::ImageContract;

/// An image model fed from and read into device buffers.
pub trait DeviceModel<D: Device> {
    /// Runs the model with its image input given by `input` (f32 values of `input_shape`, on the
    /// device) and `side` beside it; returns its image output (f32 of `output_shape`) in a new
    /// device buffer. An output of another shape is an error naming both.
    fn run(
        &mut self,
        d: &D,
        input: D::Buffer,
        input_shape: &[usize],
        output_shape: &[usize],
        side: &[SideInput],
    ) -> Result<D::Buffer>;
}

/// A model on the runtime's CPU session pool, fed from a device by download and upload: the
/// shim's model in CI (and a served model's anywhere). Checks the output as the CPU path does
/// (shape, finite values).
pub struct HostModel {
    model: Arc<Model>,
    input: String,
    elem: ElemType,
    host: Vec<f32>,
    half: Vec<f16>,
}

impl HostModel {
    pub fn new(model: Arc<Model>, contract: &ImageContract) -> Self {
        Self { model, input: contract.input.clone(), elem: contract.input_elem, host: Vec::new(), half: Vec::new() }
    }
}

impl<D: Device> DeviceModel<D> for HostModel {
    fn run(
        &mut self,
        d: &D,
        input: D::Buffer,
        input_shape: &[usize],
        output_shape: &[usize],
        side: &[SideInput],
    ) -> Result<D::Buffer> {
        self.host.resize(input_shape.iter().product(), 0.0);
        download(d, &input, &mut self.host)?;
        let data = InputData::for_elem(self.elem, &self.host, &mut self.half);
        let mut inputs = vec![ModelInput { name: &self.input, shape: input_shape, data }];
        inputs.extend(side.iter().map(SideInput::as_model_input));
        let name = &self.model.name;
        self.model.run(&inputs, |dims, out| {
            if dims != output_shape {
                return Err(output_shape_error(name, input_shape, dims, output_shape));
            }
            Error::check_finite(name, out)?;
            Ok(upload(d, out)?)
        })
    }
}

/// The error of a model whose output is not the shape its contract gives.
pub(crate) fn output_shape_error(model: &str, input: &[usize], found: &[usize], expected: &[usize]) -> Error {
    Error::Inference {
        model: model.to_string(),
        why: format!("for an input of shape {input:?} the output has shape {found:?}, expected {expected:?}"),
    }
}

/// One tile's model output on the device: `w` x `h` (the padded input times the scale) in
/// `spec`, the tile's own pixels starting at (`left`, `top`) times the scale.
struct TileOut<B> {
    buffer: B,
    w: usize,
    h: usize,
    spec: TensorSpec,
    left: usize,
    top: usize,
}

/// Runs the model on one tile (its input packed on the device as `TiledRunner::run_tile` packs
/// it on the CPU), from the frame's `planes` uploaded once for all its tiles.
fn run_tile<D: Device, M: DeviceModel<D>>(
    runner: &TiledRunner,
    model: &mut M,
    d: &D,
    (src, planes): (&Frame, &[D::Buffer; 3]),
    tile: Tile,
    context: usize,
) -> Result<TileOut<D::Buffer>> {
    let c = runner.contract();
    let TileInput { rect, left, top } = tile_input(c, src, tile, context);
    let (shape, _) = c.input_shape(rect.width, rect.height);
    let input = pack_planes_on(d, src, planes, rect, c.spec)?;
    let (w, h) = (rect.width * c.scale, rect.height * c.scale);
    let out_shape = match c.spec.layout {
        Layout::Nchw => [1, 3, h, w],
        Layout::Nhwc => [1, h, w, 3],
    };
    let buffer = model.run(d, input, &shape, &out_shape, runner.side_inputs())?;
    Ok(TileOut { buffer, w, h, spec: c.spec, left, top })
}

/// Every tile run and merged on the device: the canonical image (3 planes of the output size,
/// 0..1, not clamped) in a new device buffer.
fn merge<D: Device, M: DeviceModel<D>>(
    runner: &TiledRunner,
    model: &mut M,
    d: &D,
    src: &Frame,
    tiles: &[Tile],
    overlap: usize,
) -> Result<D::Buffer> {
    let s = runner.contract().scale;
    let mut merger = DeviceTileMerger::new(d, src.width * s, src.height * s, s, overlap);
    // A model with a fixed input size cannot be given extra context around a tile.
    let context = if runner.contract().static_size.is_some() { 0 } else { overlap };
    let planes = upload_frame(d, src)?;
    for &tile in tiles {
        let out = run_tile(runner, model, d, (src, &planes), tile, context)?;
        let len = 3 * out.w * out.h;
        merger.add_on(tile, &out.buffer, len, (out.w, out.h), out.spec, (out.left * s, out.top * s))?;
    }
    Ok(merger.into_image()?)
}

/// `TiledRunner::process_canonical` on `d`: the canonical image left on the device.
pub fn canonical_on<D: Device, M: DeviceModel<D>>(
    runner: &mut TiledRunner,
    model: &mut M,
    d: &D,
    src: &Frame,
    params: TileParams,
) -> Result<D::Buffer> {
    let (tiles, overlap) = runner.tiles(src.width, src.height, params)?;
    runner.last_tiles = tiles.len();
    merge(runner, model, d, src, &tiles, overlap)
}

/// `TiledRunner::process` on `d`.
pub fn process_on<D: Device, M: DeviceModel<D>>(
    runner: &mut TiledRunner,
    model: &mut M,
    d: &D,
    src: &Frame,
    dst: &mut FrameMut,
    params: TileParams,
) -> Result<()> {
    runner.check_output(src, dst)?;
    let (tiles, overlap) = runner.tiles(src.width, src.height, params)?;
    runner.last_tiles = tiles.len();
    if let [tile] = tiles[..] {
        let out = run_tile(runner, model, d, (src, &upload_frame(d, src)?), tile, 0)?;
        unpack_from(d, &out.buffer, 3 * out.w * out.h, out.w, out.h, out.spec, 0, 0, dst)?;
    } else {
        let image = merge(runner, model, d, src, &tiles, overlap)?;
        let (w, h) = (dst.width, dst.height);
        unpack_from(d, &image, 3 * w * h, w, h, TensorSpec::CANONICAL, 0, 0, dst)?;
    }
    if src.format.has_alpha() {
        copy_alpha(src, dst)?;
    }
    Ok(())
}

/// A [`TiledRunner`] whose frames run on device `D` with model `M`: the runner plans the tiles
/// and holds the side inputs and the memory budget, the chain runs on the device.
pub struct DeviceUpscaler<D: Device, M> {
    runner: TiledRunner,
    model: M,
    device: PhantomData<fn(&D)>,
}

impl<D: Device, M: DeviceModel<D>> DeviceUpscaler<D, M> {
    pub fn new(runner: TiledRunner, model: M) -> Self {
        Self { runner, model, device: PhantomData }
    }

    pub fn runner(&self) -> &TiledRunner {
        &self.runner
    }

    pub fn runner_mut(&mut self) -> &mut TiledRunner {
        &mut self.runner
    }

    /// As [`TiledRunner::process`], on `d`.
    pub fn process(&mut self, d: &D, src: &Frame, dst: &mut FrameMut, params: TileParams) -> Result<()> {
        process_on(&mut self.runner, &mut self.model, d, src, dst, params)
    }
}

/// What aiupscale runs its frames with: the CPU [`TiledRunner`], or the device chain on a GPU.
pub enum UpscaleEngine {
    Cpu(Box<TiledRunner>),
    Cuda(Box<OnGpu<DeviceUpscaler<Gpu, CudaModel>>>),
}

impl UpscaleEngine {
    /// The engine for `device`: on CUDA the device chain with the model on the CUDA provider
    /// (the GPU opened here), else the CPU runner. A served model stays on the CPU path (its
    /// server decides where it runs).
    pub fn open(model: Arc<Model>, contract: ImageContract, device: crate::Device) -> Result<Self> {
        let runner = TiledRunner::new(model.clone(), contract.clone());
        match device {
            crate::Device::Cuda { ordinal } if !model.is_remote() => {
                let gpu = Gpu::new(ordinal as usize)?;
                let cuda = CudaModel::open(&model, &contract, &gpu)?;
                Ok(Self::Cuda(Box::new(OnGpu { work: DeviceUpscaler::new(runner, cuda), gpu })))
            }
            _ => Ok(Self::Cpu(Box::new(runner))),
        }
    }

    /// Where the frames run.
    pub fn device(&self) -> crate::Device {
        match self {
            Self::Cpu(_) => crate::Device::Cpu,
            Self::Cuda(g) => crate::Device::Cuda { ordinal: g.gpu.ordinal() as u32 },
        }
    }

    pub fn runner(&self) -> &TiledRunner {
        match self {
            Self::Cpu(r) => r,
            Self::Cuda(g) => g.work.runner(),
        }
    }

    pub fn runner_mut(&mut self) -> &mut TiledRunner {
        match self {
            Self::Cpu(r) => r,
            Self::Cuda(g) => g.work.runner_mut(),
        }
    }

    /// As [`TiledRunner::process`].
    pub fn process(&mut self, src: &Frame, dst: &mut FrameMut, params: TileParams) -> Result<()> {
        match self {
            Self::Cpu(r) => r.process(src, dst, params),
            // The CUDA pack and unpack are 8-bit: a 10-bit frame runs on the CPU path.
            Self::Cuda(g) if src.format.is_ten_bit() => g.work.runner_mut().process(src, dst, params),
            Self::Cuda(g) => g.work.process(&g.gpu, src, dst, params),
        }
    }
}
