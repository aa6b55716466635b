//! Launching the kernels of `convert.cu` through cudarc: `Gpu::pack` and `Gpu::unpack` take the
//! same arguments as the crate's `pack` and `unpack`, validate them the same way, upload the
//! frame or tensor, run the kernel on the `Gpu`'s stream and download the result. They exist to
//! prove the kernels against their CPU twins (`kernels/tests/cuda.rs` on the GPU machine); the
//! elements' device-resident path builds on the same launches.
//!
//! Not yet proven on a GPU: see docs/gpu.md.

use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DeviceRepr, LaunchConfig, PushKernelArg,
};

use crate::KernelError;
use crate::convert::{check_pack, check_unpack};
use crate::cpu::resize::{Taps, cubic_taps, linear_taps};
use crate::cpu::yuv::{RgbToYuv, YuvToRgb};
use crate::frame::{Frame, FrameMut, PixelFormat};
use crate::resize::Filter;
use crate::tensor::{ChannelOrder, Layout, Rect, TensorSpec};

// SAFETY: `repr(C)` of six f32 (`y_off`, `y_gain`, `rv`, `gu`, `gv`, `bu`), laid out as
// `struct YuvToRgb` in convert.cu; `Copy`, no pointers, every bit pattern valid.
unsafe impl DeviceRepr for YuvToRgb {}
// SAFETY: `repr(C)` of one f32 and three `[f32; 3]` (`y_off`, `y`, `u`, `v`), laid out as
// `struct RgbToYuv` in convert.cu; `Copy`, no pointers, every bit pattern valid.
unsafe impl DeviceRepr for RgbToYuv {}

/// The tensor descriptor of convert.cu and tile.cu.
#[repr(C)]
#[derive(Clone, Copy)]
struct TensorArg {
    width: i32,
    height: i32,
    nhwc: i32,
    bgr: i32,
}

// SAFETY: `repr(C)` of four i32, laid out as `struct Tensor` in convert.cu and tile.cu; `Copy`,
// no pointers, every bit pattern valid.
unsafe impl DeviceRepr for TensorArg {}

fn driver(e: cudarc::driver::DriverError) -> KernelError {
    KernelError::Cuda(e.to_string())
}

fn int(v: usize, what: &'static str) -> Result<i32, KernelError> {
    i32::try_from(v).map_err(|_| KernelError::TooLarge { what })
}

/// The pixel format's number in convert.cu.
fn format_code(f: PixelFormat) -> i32 {
    match f {
        PixelFormat::Rgb => 0,
        PixelFormat::Bgr => 1,
        PixelFormat::Rgba => 2,
        PixelFormat::Rgbx => 3,
        PixelFormat::Bgra => 4,
        PixelFormat::Bgrx => 5,
        PixelFormat::Gray8 => 6,
        PixelFormat::I420 => 7,
        PixelFormat::Nv12 => 8,
        // Refused by `eight_bit` before any launch.
        PixelFormat::I420_10Le | PixelFormat::P010_10Le => -1,
    }
}

/// The CUDA twins (convert.cu) read and write 8-bit samples only: a 10-bit frame is refused with
/// an error saying so, never read as bytes. The CPU kernels handle 10-bit.
fn eight_bit(op: &'static str, format: PixelFormat) -> Result<(), KernelError> {
    if format.is_ten_bit() {
        return Err(KernelError::UnsupportedFormat {
            op,
            format,
            reason: "the CUDA kernels handle 8-bit formats only; use the CPU kernels (crate::pack, crate::unpack) \
                     for 10-bit frames",
        });
    }
    Ok(())
}

fn tensor_arg(width: usize, height: usize, spec: TensorSpec) -> Result<TensorArg, KernelError> {
    Ok(TensorArg {
        width: int(width, "tensor width")?,
        height: int(height, "tensor height")?,
        nhwc: i32::from(spec.layout == Layout::Nhwc),
        bgr: i32::from(spec.order == ChannelOrder::Bgr),
    })
}

/// A 2-D launch of 16 x 16 blocks over `w` x `h` threads.
fn grid(w: usize, h: usize) -> LaunchConfig {
    let blocks = |n: usize| n.div_ceil(16).max(1) as u32;
    LaunchConfig { grid_dim: (blocks(w), blocks(h), 1), block_dim: (16, 16, 1), shared_mem_bytes: 0 }
}

/// One CUDA device with the kernels loaded and a stream to run them on.
pub struct Gpu {
    stream: Arc<CudaStream>,
    pack: CudaFunction,
    unpack_packed: CudaFunction,
    unpack_420: CudaFunction,
    resize_rows: CudaFunction,
    resize_columns: CudaFunction,
}

/// A filter's taps flattened for resize.cu: per output index, `taps` source indices and weights.
struct DeviceTaps {
    index: CudaSlice<i32>,
    weight: CudaSlice<f32>,
    taps: i32,
}

impl Gpu {
    /// Opens device `ordinal` (after `probe`, so a missing driver is an error, not a panic) and
    /// loads the compiled kernels.
    pub fn new(ordinal: usize) -> Result<Self, KernelError> {
        super::probe(ordinal).map_err(KernelError::Cuda)?;
        let ctx = CudaContext::new(ordinal).map_err(driver)?;
        let modules = super::modules()?;
        let load = |module: &str| {
            let ptx = modules
                .iter()
                .find(|(name, _)| *name == module)
                .map(|(_, ptx)| ptx.clone())
                .ok_or_else(|| KernelError::Cuda(format!("no module {module}")))?;
            ctx.load_module(ptx).map_err(driver)
        };
        let (convert, resize) = (load("convert")?, load("resize")?);
        let f = |module: &Arc<CudaModule>, name: &str| module.load_function(name).map_err(driver);
        Ok(Self {
            stream: ctx.new_stream().map_err(driver)?,
            pack: f(&convert, "pack")?,
            unpack_packed: f(&convert, "unpack_packed")?,
            unpack_420: f(&convert, "unpack_420")?,
            resize_rows: f(&resize, "resize_rows")?,
            resize_columns: f(&resize, "resize_columns")?,
        })
    }

    /// Uploads the planes of `frame` (an empty stand-in of one byte for a plane the format
    /// lacks, so every kernel argument is a valid pointer).
    fn upload(&self, planes: [&[u8]; 3], n: usize) -> Result<[CudaSlice<u8>; 3], KernelError> {
        let one = |i: usize| -> Result<CudaSlice<u8>, KernelError> {
            let data: &[u8] = if i < n && !planes[i].is_empty() { planes[i] } else { &[0] };
            self.stream.clone_htod(data).map_err(driver)
        };
        Ok([one(0)?, one(1)?, one(2)?])
    }

    /// `crate::pack` on the GPU: same arguments, same validation, same result bit for bit.
    pub fn pack(&self, frame: &Frame<'_>, rect: Rect, spec: TensorSpec, out: &mut [f32]) -> Result<(), KernelError> {
        check_pack(frame, rect, out.len())?;
        eight_bit("CUDA pack", frame.format)?;
        let [p0, p1, p2] = self.upload(frame.planes, frame.format.n_planes())?;
        let mut dst = self.stream.alloc_zeros::<f32>(out.len()).map_err(driver)?;
        let [s0, s1, s2] = frame.strides.map(|s| int(s, "stride"));
        let (s0, s1, s2) = (s0?, s1?, s2?);
        let (fw, fh) = (int(frame.width, "frame width")?, int(frame.height, "frame height")?);
        let code = format_code(frame.format);
        let yuv = YuvToRgb::new(frame.colorimetry);
        let (rx, ry) = (rect.x as i64, rect.y as i64);
        let t = tensor_arg(rect.width, rect.height, spec)?;
        let (scale, offset) = spec.range.byte_to_range();
        let mut launch = self.stream.launch_builder(&self.pack);
        launch.arg(&p0).arg(&p1).arg(&p2).arg(&s0).arg(&s1).arg(&s2).arg(&fw).arg(&fh).arg(&code).arg(&yuv);
        launch.arg(&rx).arg(&ry).arg(&t).arg(&scale).arg(&offset).arg(&mut dst);
        // SAFETY: cudarc cannot check three things, all true here. (1) The arguments match
        // `pack` in convert.cu in number, order and type (`long long` for `rx`, `ry`; the
        // `repr(C)` structs above). (2) The kernel writes only `out`, passed as `&mut dst`; the
        // planes are only read. (3) Every access is in bounds: threads outside the tensor
        // return; `dst` holds 3 x rect.width x rect.height values (`check_pack`); reads are at
        // coordinates reflected into the frame, in planes `frame.validate()` checked against
        // size and strides (non-zero), with offsets formed in 64 bits; and the one-byte
        // stand-ins are never read: chroma planes are read for I420 and NV12 only, the second
        // for I420 only. Buffers outlive the kernel: the launch is recorded on each buffer's
        // events, and cudarc's drop of a `CudaSlice` waits for them.
        unsafe { launch.launch(grid(rect.width, rect.height)) }.map_err(driver)?;
        self.stream.memcpy_dtoh(&dst, out).map_err(driver)?;
        self.stream.synchronize().map_err(driver)
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
        check_unpack(tensor.len(), tensor_w, tensor_h, crop_x, crop_y, frame)?;
        eight_bit("CUDA unpack", frame.format)?;
        let src = self.stream.clone_htod(tensor).map_err(driver)?;
        let n = frame.format.n_planes();
        let planes: [&[u8]; 3] = [&*frame.planes[0], &*frame.planes[1], &*frame.planes[2]];
        let [mut p0, mut p1, mut p2] = self.upload(planes, n)?;
        let t = tensor_arg(tensor_w, tensor_h, spec)?;
        let (cx, cy) = (int(crop_x, "crop x")?, int(crop_y, "crop y")?);
        let (scale, offset) = spec.range.range_to_byte();
        let (w, h) = (int(frame.width, "frame width")?, int(frame.height, "frame height")?);
        let [s0, s1, s2] = frame.strides.map(|s| int(s, "stride"));
        let (s0, s1, s2) = (s0?, s1?, s2?);
        let mut launch;
        let cfg;
        let (nv12, yuv, code);
        if frame.format.is_yuv() {
            nv12 = i32::from(frame.format == PixelFormat::Nv12);
            yuv = RgbToYuv::new(frame.colorimetry);
            launch = self.stream.launch_builder(&self.unpack_420);
            launch.arg(&src).arg(&t).arg(&cx).arg(&cy).arg(&scale).arg(&offset);
            launch.arg(&mut p0).arg(&mut p1).arg(&mut p2).arg(&s0).arg(&s1).arg(&s2).arg(&w).arg(&h);
            launch.arg(&nv12).arg(&yuv);
            cfg = grid(frame.width.div_ceil(2), frame.height.div_ceil(2));
        } else {
            code = format_code(frame.format);
            launch = self.stream.launch_builder(&self.unpack_packed);
            launch.arg(&src).arg(&t).arg(&cx).arg(&cy).arg(&scale).arg(&offset);
            launch.arg(&mut p0).arg(&s0).arg(&w).arg(&h).arg(&code);
            cfg = grid(frame.width, frame.height);
        }
        // SAFETY: as in `pack`: (1) the arguments match `unpack_420` or `unpack_packed` in
        // convert.cu in number, order and type; (2) the kernels write only the planes, passed
        // as `&mut`, and read the tensor; (3) threads outside the frame (or its chroma grid)
        // return, the pixels read from the tensor are at (crop_x + x, crop_y + y), inside it by
        // `check_unpack`, writes land in planes validated for the frame's size and strides
        // (their copies on the device have the same lengths), and the stand-ins are never
        // touched: `unpack_packed` uses plane 0 only, NV12 writes no third plane.
        unsafe { launch.launch(cfg) }.map_err(driver)?;
        drop(launch);
        for (i, dev) in [&p0, &p1, &p2].into_iter().enumerate().take(n) {
            self.stream.memcpy_dtoh(dev, &mut *frame.planes[i]).map_err(driver)?;
        }
        self.stream.synchronize().map_err(driver)
    }

    /// `crate::resize` on the GPU: the same taps (computed here by the CPU's own functions), the
    /// same choice and order of passes, the same sums, so the same result bit for bit.
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
        crate::resize::check(src.len(), channels, sw, sh, dst.len(), dw, dh)?;
        if (sw, sh) == (dw, dh) {
            dst.copy_from_slice(src);
            return Ok(());
        }
        let taps = |from: usize, to: usize| match filter {
            Filter::Bilinear => self.taps(linear_taps(from, to)),
            Filter::Bicubic => self.taps(cubic_taps(from, to)),
        };
        let input = self.stream.clone_htod(src).map_err(driver)?;
        let out = match (sw == dw, sh == dh) {
            (false, true) => self.rows(&input, sw, dw, channels * sh, &taps(sw, dw)?)?,
            (true, false) => self.columns(&input, sh, dh, sw, channels, &taps(sh, dh)?)?,
            // Rows first when that leaves the smaller image in between, as on the CPU.
            _ if sh * dw <= dh * sw => {
                let mid = self.rows(&input, sw, dw, channels * sh, &taps(sw, dw)?)?;
                self.columns(&mid, sh, dh, dw, channels, &taps(sh, dh)?)?
            }
            _ => {
                let mid = self.columns(&input, sh, dh, sw, channels, &taps(sh, dh)?)?;
                self.rows(&mid, sw, dw, channels * dh, &taps(sw, dw)?)?
            }
        };
        self.stream.memcpy_dtoh(&out, dst).map_err(driver)?;
        self.stream.synchronize().map_err(driver)
    }

    fn taps<const N: usize>(&self, t: Taps<N>) -> Result<DeviceTaps, KernelError> {
        let index: Result<Vec<i32>, _> = t.index.iter().flatten().map(|&i| int(i, "resize tap index")).collect();
        let weight: Vec<f32> = t.weight.iter().flatten().copied().collect();
        Ok(DeviceTaps {
            index: self.stream.clone_htod(&index?).map_err(driver)?,
            weight: self.stream.clone_htod(&weight).map_err(driver)?,
            taps: N as i32,
        })
    }

    /// Every one of `rows` rows from `sw` to `dw` values.
    fn rows(
        &self,
        src: &CudaSlice<f32>,
        sw: usize,
        dw: usize,
        rows: usize,
        t: &DeviceTaps,
    ) -> Result<CudaSlice<f32>, KernelError> {
        let mut out = self.stream.alloc_zeros::<f32>(dw * rows).map_err(driver)?;
        let (sw_, dw_, rows_) = (int(sw, "resize width")?, int(dw, "resize width")?, int(rows, "resize rows")?);
        let mut launch = self.stream.launch_builder(&self.resize_rows);
        launch.arg(src).arg(&sw_).arg(&mut out).arg(&dw_).arg(&rows_).arg(&t.index).arg(&t.weight).arg(&t.taps);
        // SAFETY: (1) the arguments match `resize_rows` in resize.cu in number, order and type;
        // (2) it writes only `out` (`&mut`) and reads `src` and the taps; (3) threads outside
        // `dw` x `rows` return, `src` holds `rows` rows of `sw` (the input checked by
        // `resize::check`, or the other pass's output) and `out` rows of `dw`, and the taps hold
        // `taps` indices and weights per output column, indices clamped below `sw` by the tap
        // functions. Buffers outlive the kernel (cudarc's events, as in `pack`).
        unsafe { launch.launch(grid(dw, rows)) }.map_err(driver)?;
        Ok(out)
    }

    /// Every column of `channels` planes `width` wide from `sh` to `dh` rows.
    fn columns(
        &self,
        src: &CudaSlice<f32>,
        sh: usize,
        dh: usize,
        width: usize,
        channels: usize,
        t: &DeviceTaps,
    ) -> Result<CudaSlice<f32>, KernelError> {
        let mut out = self.stream.alloc_zeros::<f32>(dh * width * channels).map_err(driver)?;
        let (sh_, dh_) = (int(sh, "resize height")?, int(dh, "resize height")?);
        let (w_, c_) = (int(width, "resize width")?, int(channels, "resize channels")?);
        let mut launch = self.stream.launch_builder(&self.resize_columns);
        launch.arg(src).arg(&sh_).arg(&mut out).arg(&dh_).arg(&w_).arg(&c_).arg(&t.index).arg(&t.weight).arg(&t.taps);
        // SAFETY: as in `rows`, along columns: (1) the arguments match `resize_columns`; (2) it
        // writes only `out`; (3) threads outside `width` x `channels * dh` return, `src` holds
        // `channels` planes of `sh` rows of `width`, `out` the same with `dh` rows, and the taps
        // hold `taps` entries per output row with indices clamped below `sh`.
        unsafe { launch.launch(grid(width, channels * dh)) }.map_err(driver)?;
        Ok(out)
    }
}
