//! The operations of `convert.cu` and `resize.cu` on any `Device`: the same arguments as the
//! crate's CPU functions, validated the same way (shared `check_*` functions), their inputs
//! uploaded, the kernels launched, the results downloaded. `Gpu`'s methods and the CPU shim both
//! run these, so the shim proves in CI the launches a GPU will make.

use super::device::{Call, Device, Plain, download, grid2, upload, zeros};
use crate::KernelError;
use crate::convert::{check_pack, check_unpack};
use crate::cpu::resize::{Taps, cubic_taps, linear_taps};
use crate::cpu::yuv::{RgbToYuv, YuvToRgb};
use crate::frame::{Frame, FrameMut, PixelFormat};
use crate::resize::Filter;
use crate::tensor::{ChannelOrder, Layout, Rect, TensorSpec};

// SAFETY: `repr(C)` of six f32 (`y_off`, `y_gain`, `rv`, `gu`, `gv`, `bu`): no padding, every bit
// pattern valid; laid out as `struct YuvToRgb` in convert.cu.
unsafe impl Plain for YuvToRgb {}
// SAFETY: `repr(C)` of one f32 and three `[f32; 3]`: no padding, every bit pattern valid; laid
// out as `struct RgbToYuv` in convert.cu.
unsafe impl Plain for RgbToYuv {}

/// The tensor descriptor of convert.cu and tile.cu.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct TensorArg {
    width: i32,
    height: i32,
    nhwc: i32,
    bgr: i32,
}

// SAFETY: `repr(C)` of four i32: no padding, every bit pattern valid; laid out as `struct Tensor`
// in convert.cu and tile.cu.
unsafe impl Plain for TensorArg {}

pub(crate) fn int(v: usize, what: &'static str) -> Result<i32, KernelError> {
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

pub(crate) fn tensor_arg(width: usize, height: usize, spec: TensorSpec) -> Result<TensorArg, KernelError> {
    Ok(TensorArg {
        width: int(width, "tensor width")?,
        height: int(height, "tensor height")?,
        nhwc: i32::from(spec.layout == Layout::Nhwc),
        bgr: i32::from(spec.order == ChannelOrder::Bgr),
    })
}

/// Uploads the planes of a frame (a stand-in of one byte for a plane the format lacks, so every
/// kernel argument is a valid pointer).
fn upload_planes<D: Device>(d: &D, planes: [&[u8]; 3], n: usize) -> Result<[D::Buffer; 3], KernelError> {
    let one = |i: usize| {
        let data: &[u8] = if i < n && !planes[i].is_empty() { planes[i] } else { &[0] };
        d.upload(data)
    };
    Ok([one(0)?, one(1)?, one(2)?])
}

fn strides(s: [usize; 3]) -> Result<[i32; 3], KernelError> {
    Ok([int(s[0], "stride")?, int(s[1], "stride")?, int(s[2], "stride")?])
}

/// `crate::pack` on `d`: same arguments, same validation, same result bit for bit.
pub fn pack<D: Device>(
    d: &D,
    frame: &Frame<'_>,
    rect: Rect,
    spec: TensorSpec,
    out: &mut [f32],
) -> Result<(), KernelError> {
    check_pack(frame, rect, out.len())?;
    let dst = pack_on(d, frame, rect, spec)?;
    download(d, &dst, out)
}

/// `pack` leaving the tensor (3 x rect.width x rect.height values) on the device.
pub fn pack_on<D: Device>(d: &D, frame: &Frame<'_>, rect: Rect, spec: TensorSpec) -> Result<D::Buffer, KernelError> {
    eight_bit("CUDA pack", frame.format)?;
    pack_planes_on(d, frame, &upload_frame(d, frame)?, rect, spec)
}

/// The planes of `frame` on the device, uploaded once for several `pack_planes_on` (the tiles
/// of one frame).
pub fn upload_frame<D: Device>(d: &D, frame: &Frame<'_>) -> Result<[D::Buffer; 3], KernelError> {
    upload_planes(d, frame.planes, frame.format.n_planes())
}

/// `pack_on` from `planes`, `frame`'s planes as `upload_frame` uploaded them.
pub fn pack_planes_on<D: Device>(
    d: &D,
    frame: &Frame<'_>,
    planes: &[D::Buffer; 3],
    rect: Rect,
    spec: TensorSpec,
) -> Result<D::Buffer, KernelError> {
    let len = rect
        .width
        .checked_mul(rect.height)
        .and_then(|n| n.checked_mul(3))
        .ok_or(KernelError::TooLarge { what: "pack tensor" })?;
    check_pack(frame, rect, len)?;
    eight_bit("CUDA pack", frame.format)?;
    for (i, p) in planes.iter().enumerate().take(frame.format.n_planes()) {
        if d.len(p) < frame.planes[i].len() {
            return Err(KernelError::BufferLength {
                what: format!("pack plane {i} on the device (bytes)"),
                len: d.len(p),
                need: frame.planes[i].len(),
            });
        }
    }
    let [p0, p1, p2] = planes;
    let dst = zeros::<D, f32>(d, len)?;
    let [s0, s1, s2] = strides(frame.strides)?;
    let (scale, offset) = spec.range.byte_to_range();
    let mut call = Call::new("pack", grid2(rect.width, rect.height));
    call.buffer(p0).buffer(p1).buffer(p2).value(s0).value(s1).value(s2);
    call.value(int(frame.width, "frame width")?).value(int(frame.height, "frame height")?);
    call.value(format_code(frame.format)).value(YuvToRgb::new(frame.colorimetry));
    call.value(rect.x as i64).value(rect.y as i64).value(tensor_arg(rect.width, rect.height, spec)?);
    call.value(scale).value(offset).buffer(&dst);
    // SAFETY: (1) the arguments match `pack` in convert.cu in number, order and type (`long long`
    // for the rect's origin; the `repr(C)` structs above). (2) The kernel writes only `dst`; the
    // planes are only read. (3) Every access is in bounds: threads outside the tensor return;
    // `dst` holds 3 x rect.width x rect.height values (`check_pack`); reads are at coordinates
    // reflected into the frame, in planes `frame.validate()` checked against size and strides
    // (their device copies hold at least as many bytes, checked above), with offsets formed in
    // 64 bits; the one-byte stand-ins are never read (chroma planes are
    // read for I420 and NV12 only, the third for I420 only).
    unsafe { d.launch(&call) }?;
    Ok(dst)
}

/// `crate::unpack` on `d`: same arguments, same validation, same result bit for bit.
#[allow(clippy::too_many_arguments)] // the arguments of `crate::unpack`
pub fn unpack<D: Device>(
    d: &D,
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
    let src = upload(d, tensor)?;
    unpack_from(d, &src, tensor.len(), tensor_w, tensor_h, spec, crop_x, crop_y, frame)
}

/// `unpack` from a tensor of `len` values already on the device.
#[allow(clippy::too_many_arguments)] // the arguments of `crate::unpack`
pub fn unpack_from<D: Device>(
    d: &D,
    src: &D::Buffer,
    len: usize,
    tensor_w: usize,
    tensor_h: usize,
    spec: TensorSpec,
    crop_x: usize,
    crop_y: usize,
    frame: &mut FrameMut<'_>,
) -> Result<(), KernelError> {
    check_unpack(len, tensor_w, tensor_h, crop_x, crop_y, frame)?;
    eight_bit("CUDA unpack", frame.format)?;
    if d.len(src) < len * 4 {
        return Err(KernelError::BufferLength { what: "unpack device tensor".into(), len: d.len(src) / 4, need: len });
    }
    let n = frame.format.n_planes();
    let planes: [&[u8]; 3] = [&*frame.planes[0], &*frame.planes[1], &*frame.planes[2]];
    let [p0, p1, p2] = upload_planes(d, planes, n)?;
    let t = tensor_arg(tensor_w, tensor_h, spec)?;
    let (cx, cy) = (int(crop_x, "crop x")?, int(crop_y, "crop y")?);
    let (scale, offset) = spec.range.range_to_byte();
    let (w, h) = (int(frame.width, "frame width")?, int(frame.height, "frame height")?);
    let [s0, s1, s2] = strides(frame.strides)?;
    let call = if frame.format.is_yuv() {
        let mut call = Call::new("unpack_420", grid2(frame.width.div_ceil(2), frame.height.div_ceil(2)));
        call.buffer(src).value(t).value(cx).value(cy).value(scale).value(offset);
        call.buffer(&p0).buffer(&p1).buffer(&p2).value(s0).value(s1).value(s2).value(w).value(h);
        call.value(i32::from(frame.format == PixelFormat::Nv12)).value(RgbToYuv::new(frame.colorimetry));
        call
    } else {
        let mut call = Call::new("unpack_packed", grid2(frame.width, frame.height));
        call.buffer(src).value(t).value(cx).value(cy).value(scale).value(offset);
        call.buffer(&p0).value(s0).value(w).value(h).value(format_code(frame.format));
        call
    };
    // SAFETY: as in `pack`: (1) the arguments match `unpack_420` or `unpack_packed` in
    // convert.cu in number, order and type; (2) the kernels write only the planes and read the
    // tensor; (3) threads outside the frame (or its chroma grid) return, the pixels read from
    // the tensor are at (crop_x + x, crop_y + y), inside it by `check_unpack`, writes land in
    // planes validated for the frame's size and strides (their device copies have the same
    // lengths), and the stand-ins are never touched: `unpack_packed` uses plane 0 only, NV12
    // writes no third plane.
    unsafe { d.launch(&call) }?;
    for (i, dev) in [&p0, &p1, &p2].into_iter().enumerate().take(n) {
        d.download(dev, &mut *frame.planes[i])?;
    }
    Ok(())
}

/// A filter's taps flattened for resize.cu: per output index, `taps` source indices and weights.
struct DeviceTaps<B> {
    index: B,
    weight: B,
    taps: i32,
}

fn device_taps<D: Device, const N: usize>(d: &D, t: Taps<N>) -> Result<DeviceTaps<D::Buffer>, KernelError> {
    let index: Result<Vec<i32>, _> = t.index.iter().flatten().map(|&i| int(i, "resize tap index")).collect();
    let weight: Vec<f32> = t.weight.iter().flatten().copied().collect();
    Ok(DeviceTaps { index: upload(d, &index?)?, weight: upload(d, &weight)?, taps: N as i32 })
}

/// `crate::resize` on `d`: the same taps (computed by the CPU's own functions), the same choice
/// and order of passes, the same sums, so the same result bit for bit.
#[allow(clippy::too_many_arguments)] // the arguments of `crate::resize`
pub fn resize<D: Device>(
    d: &D,
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
    let input = upload(d, src)?;
    let out = resize_on(d, &input, channels, sw, sh, dw, dh, filter)?;
    download(d, &out, dst)
}

/// `resize` of `channels` planes already on the device, into a new device buffer.
#[allow(clippy::too_many_arguments)] // the arguments of `crate::resize`
pub fn resize_on<D: Device>(
    d: &D,
    input: &D::Buffer,
    channels: usize,
    sw: usize,
    sh: usize,
    dw: usize,
    dh: usize,
    filter: Filter,
) -> Result<D::Buffer, KernelError> {
    let (len, out_len) = (channels * sw * sh, channels * dw * dh);
    crate::resize::check(len, channels, sw, sh, out_len, dw, dh)?;
    if d.len(input) < len * 4 {
        return Err(KernelError::BufferLength { what: "resize device input".into(), len: d.len(input) / 4, need: len });
    }
    if (sw, sh) == (dw, dh) {
        let mut out = zeros::<D, f32>(d, len)?;
        d.copy(input, &mut out)?;
        return Ok(out);
    }
    let taps = |from: usize, to: usize| match filter {
        Filter::Bilinear => device_taps(d, linear_taps(from, to)),
        Filter::Bicubic => device_taps(d, cubic_taps(from, to)),
    };
    Ok(match (sw == dw, sh == dh) {
        (false, true) => rows(d, input, sw, dw, channels * sh, &taps(sw, dw)?)?,
        (true, false) => columns(d, input, sh, dh, sw, channels, &taps(sh, dh)?)?,
        // Rows first when that leaves the smaller image in between, as on the CPU.
        _ if sh * dw <= dh * sw => {
            let mid = rows(d, input, sw, dw, channels * sh, &taps(sw, dw)?)?;
            columns(d, &mid, sh, dh, dw, channels, &taps(sh, dh)?)?
        }
        _ => {
            let mid = columns(d, input, sh, dh, sw, channels, &taps(sh, dh)?)?;
            rows(d, &mid, sw, dw, channels * dh, &taps(sw, dw)?)?
        }
    })
}

/// Every one of `rows` rows from `sw` to `dw` values.
fn rows<D: Device>(
    d: &D,
    src: &D::Buffer,
    sw: usize,
    dw: usize,
    rows: usize,
    t: &DeviceTaps<D::Buffer>,
) -> Result<D::Buffer, KernelError> {
    let out = zeros::<D, f32>(d, dw * rows)?;
    let mut call = Call::new("resize_rows", grid2(dw, rows));
    call.buffer(src).value(int(sw, "resize width")?).buffer(&out).value(int(dw, "resize width")?);
    call.value(int(rows, "resize rows")?).buffer(&t.index).buffer(&t.weight).value(t.taps);
    // SAFETY: (1) the arguments match `resize_rows` in resize.cu in number, order and type; (2)
    // it writes only `out` and reads `src` and the taps; (3) threads outside `dw` x `rows`
    // return, `src` holds `rows` rows of `sw` (the input checked by `resize::check`, or the other
    // pass's output) and `out` rows of `dw`, and the taps hold `taps` indices and weights per
    // output column, indices clamped below `sw` by the tap functions.
    unsafe { d.launch(&call) }?;
    Ok(out)
}

/// Every column of `channels` planes `width` wide from `sh` to `dh` rows.
fn columns<D: Device>(
    d: &D,
    src: &D::Buffer,
    sh: usize,
    dh: usize,
    width: usize,
    channels: usize,
    t: &DeviceTaps<D::Buffer>,
) -> Result<D::Buffer, KernelError> {
    let out = zeros::<D, f32>(d, dh * width * channels)?;
    let mut call = Call::new("resize_columns", grid2(width, channels * dh));
    call.buffer(src).value(int(sh, "resize height")?).buffer(&out).value(int(dh, "resize height")?);
    call.value(int(width, "resize width")?).value(int(channels, "resize channels")?);
    call.buffer(&t.index).buffer(&t.weight).value(t.taps);
    // SAFETY: as in `rows`, along columns: (1) the arguments match `resize_columns`; (2) it
    // writes only `out`; (3) threads outside `width` x `channels * dh` return, `src` holds
    // `channels` planes of `sh` rows of `width`, `out` the same with `dh` rows, and the taps hold
    // `taps` entries per output row with indices clamped below `sh`.
    unsafe { d.launch(&call) }?;
    Ok(out)
}
