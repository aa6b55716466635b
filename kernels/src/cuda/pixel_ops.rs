//! The operations of `style.cu` and `warp.cu` on any `Device`, with the arguments and the
//! validation of the crate's CPU functions (`crate::style`, `crate::flow`): the style steps,
//! luma, the backward warp, the scene-change measure (thumbnails on the device, the SSIM over
//! the 32 x 32 thumbnails on the host by the CPU's own code), and lip sync's face box crop and
//! feathered paste (`crate::face`).

use super::device::{Call, Device, download, grid1, grid2, upload, zeros};
use super::ops::int;
use crate::KernelError;
use crate::face::FaceBox;
use crate::flow::{check_len, plane_len};
use crate::style::{check, image_len};
use crate::tensor::{ChannelOrder, Layout, TensorSpec};

/// `crate::luma` on `d`.
pub fn luma<D: Device>(d: &D, rgb: &[f32], w: usize, h: usize, out: &mut [f32]) -> Result<(), KernelError> {
    let n = plane_len(w, h, 1, "luma image")?;
    check_len("luma input", rgb.len(), plane_len(w, h, 3, "luma image")?, format_args!("3x{h}x{w}"))?;
    check_len("luma output", out.len(), n, format_args!("{h}x{w}"))?;
    download(d, &luma_on(d, &upload(d, rgb)?, w, h)?, out)
}

/// Room for `n` f32 in `b`, else an error naming `what`.
fn room<D: Device>(d: &D, b: &D::Buffer, n: usize, what: &str) -> Result<(), KernelError> {
    if d.len(b) / 4 < n {
        return Err(KernelError::BufferLength { what: format!("{what} on the device"), len: d.len(b) / 4, need: n });
    }
    Ok(())
}

/// `luma` of an image (3 planes of w x h) already on the device, into a new buffer.
pub fn luma_on<D: Device>(d: &D, rgb: &D::Buffer, w: usize, h: usize) -> Result<D::Buffer, KernelError> {
    let n = plane_len(w, h, 1, "luma image")?;
    room(d, rgb, 3 * n, "luma input")?;
    let dst = zeros::<D, f32>(d, n)?;
    let mut call = Call::new("luma", grid1(n));
    call.buffer(rgb).buffer(&dst).value(n as i64);
    // SAFETY: the arguments match `luma` in style.cu; threads at or past n return; rgb holds 3
    // planes of n (checked above), dst one.
    unsafe { d.launch(&call) }?;
    Ok(dst)
}

/// Rust's `f32::clamp(0.0, 1.0)` of the first `n` values of `values`, in place (`clamp_unit`
/// in style.cu; NaN stays NaN, as on the CPU).
pub fn clamp_unit_on<D: Device>(d: &D, values: &D::Buffer, n: usize) -> Result<(), KernelError> {
    room(d, values, n, "clamp_unit values")?;
    if n == 0 {
        return Ok(());
    }
    let mut call = Call::new("clamp_unit", grid1(n));
    call.buffer(values).value(n as i64);
    // SAFETY: the arguments match `clamp_unit`; threads at or past n return; the buffer holds n.
    unsafe { d.launch(&call) }
}

/// `crate::count_non_finite` of the first `n` values of a device buffer (`count_non_finite` in
/// style.cu): the count comes back, 8 bytes.
pub fn count_non_finite_on<D: Device>(d: &D, values: &D::Buffer, n: usize) -> Result<usize, KernelError> {
    room(d, values, n, "count_non_finite values")?;
    let count = zeros::<D, i64>(d, 1)?;
    if n > 0 {
        let mut call = Call::new("count_non_finite", grid1(n));
        call.buffer(values).value(n as i64).buffer(&count);
        // SAFETY: the arguments match `count_non_finite`; threads at or past n return; the buffer
        // holds n values (checked above), the count one 64-bit integer, added to atomically.
        unsafe { d.launch(&call) }?;
    }
    let mut out = [0i64];
    download(d, &count, &mut out)?;
    Ok(out[0] as usize)
}

/// `clamp_unit_on` from and to host values (for the twin tests).
pub fn clamp_unit<D: Device>(d: &D, values: &mut [f32]) -> Result<(), KernelError> {
    let b = upload(d, values)?;
    clamp_unit_on(d, &b, values.len())?;
    download(d, &b, values)
}

/// `crate::retensor` on `d`.
pub fn retensor<D: Device>(
    d: &D,
    src: &[f32],
    from: TensorSpec,
    w: usize,
    h: usize,
    to: TensorSpec,
    dst: &mut [f32],
) -> Result<(), KernelError> {
    crate::style::check_retensor(src.len(), w, h, dst.len())?;
    download(d, &retensor_on(d, &upload(d, src)?, from, w, h, to)?, dst)
}

/// `retensor` of a tensor (3 x w x h) already on the device, into a new buffer.
pub fn retensor_on<D: Device>(
    d: &D,
    src: &D::Buffer,
    from: TensorSpec,
    w: usize,
    h: usize,
    to: TensorSpec,
) -> Result<D::Buffer, KernelError> {
    let n = image_len(w, h, 3, "retensor tensor")?;
    room(d, src, n, "retensor input")?;
    let (s_in, o_in) = from.range.range_to_unit();
    let (s_out, o_out) = to.range.range_to_unit();
    let flags = |s: TensorSpec| (i32::from(s.layout == Layout::Nhwc), i32::from(s.order == ChannelOrder::Bgr));
    let ((fn_, fb), (tn, tb)) = (flags(from), flags(to));
    let b = zeros::<D, f32>(d, n)?;
    let mut call = Call::new("retensor", grid1(w * h));
    call.buffer(src).value(fn_).value(fb).value(s_in).value(o_in);
    call.buffer(&b).value(tn).value(tb).value(s_out).value(o_out).value((w * h) as i64);
    // SAFETY: the arguments match `retensor`; threads at or past w * h return, and each touches
    // its 3 values of tensors of 3 * w * h (checked above).
    unsafe { d.launch(&call) }?;
    Ok(b)
}

/// `crate::preserve_colors` on `d`.
pub fn preserve_colors<D: Device>(
    d: &D,
    input: &[f32],
    stylized: &mut [f32],
    w: usize,
    h: usize,
) -> Result<(), KernelError> {
    let n = image_len(w, h, 3, "preserve_colors image")?;
    check("preserve_colors input", input.len(), n)?;
    check("preserve_colors stylized", stylized.len(), n)?;
    let b = upload(d, stylized)?;
    preserve_colors_on(d, &upload(d, input)?, &b, w, h)?;
    download(d, &b, stylized)
}

/// `preserve_colors` of images (3 planes of w x h) already on the device; `stylized` in place.
pub fn preserve_colors_on<D: Device>(
    d: &D,
    input: &D::Buffer,
    stylized: &D::Buffer,
    w: usize,
    h: usize,
) -> Result<(), KernelError> {
    let n = image_len(w, h, 3, "preserve_colors image")?;
    room(d, input, n, "preserve_colors input")?;
    room(d, stylized, n, "preserve_colors stylized")?;
    let mut call = Call::new("preserve_colors", grid1(w * h));
    call.buffer(input).buffer(stylized).value((w * h) as i64);
    // SAFETY: the arguments match `preserve_colors`; threads at or past w * h return; both
    // images hold 3 planes of w * h (checked above).
    unsafe { d.launch(&call) }
}

/// `crate::mix` on `d`.
pub fn mix<D: Device>(d: &D, input: &[f32], out: &mut [f32], strength: f32) -> Result<(), KernelError> {
    check("mix output", out.len(), input.len())?;
    if !(0.0..=1.0).contains(&strength) {
        return Err(KernelError::InvalidArgument(format!("strength {strength} must be in 0..=1")));
    }
    if input.is_empty() {
        return Ok(());
    }
    let b = upload(d, out)?;
    mix_on(d, &upload(d, input)?, &b, input.len(), strength)?;
    download(d, &b, out)
}

/// `mix` of `len` values already on the device; `out` in place.
pub fn mix_on<D: Device>(
    d: &D,
    input: &D::Buffer,
    out: &D::Buffer,
    len: usize,
    strength: f32,
) -> Result<(), KernelError> {
    if !(0.0..=1.0).contains(&strength) {
        return Err(KernelError::InvalidArgument(format!("strength {strength} must be in 0..=1")));
    }
    room(d, input, len, "mix input")?;
    room(d, out, len, "mix output")?;
    if len == 0 {
        return Ok(());
    }
    let mut call = Call::new("mix", grid1(len));
    call.buffer(input).buffer(out).value(strength).value(len as i64);
    // SAFETY: the arguments match `mix`; threads at or past len return; both hold len values.
    unsafe { d.launch(&call) }
}

/// `crate::temporal_confidence` on `d`.
#[allow(clippy::too_many_arguments)] // the arguments of `crate::temporal_confidence`
pub fn temporal_confidence<D: Device>(
    d: &D,
    flow: &[f32],
    back: &[f32],
    luma: &[f32],
    image: &[f32],
    prev_image: &[f32],
    w: usize,
    h: usize,
    out: &mut [f32],
) -> Result<(), KernelError> {
    crate::style::check_temporal_confidence([flow, back, luma, image, prev_image, out].map(<[f32]>::len), w, h)?;
    let bufs = [upload(d, flow)?, upload(d, back)?, upload(d, luma)?, upload(d, image)?, upload(d, prev_image)?];
    let [a, b, c, e, f] = &bufs;
    download(d, &temporal_confidence_on(d, [a, b, c, e, f], w, h)?, out)
}

/// `temporal_confidence` of buffers already on the device (flow, back-flow warped, luma,
/// image, previous image warped), into a new plane.
pub fn temporal_confidence_on<D: Device>(
    d: &D,
    bufs: [&D::Buffer; 5],
    w: usize,
    h: usize,
) -> Result<D::Buffer, KernelError> {
    let n = image_len(w, h, 1, "temporal_confidence image")?;
    for (b, (planes, what)) in
        bufs.iter().zip([(2, "flow"), (2, "back flow"), (1, "luma"), (3, "image"), (3, "previous")])
    {
        room(d, b, planes * n, what)?;
    }
    let dst = zeros::<D, f32>(d, n)?;
    let mut call = Call::new("temporal_confidence", grid2(w, h));
    for b in bufs {
        call.buffer(b);
    }
    call.value(int(w, "width")?).value(int(h, "height")?).buffer(&dst);
    // SAFETY: the arguments match `temporal_confidence`; threads outside w x h return; every
    // buffer has the length checked above, and neighbours are clamped into the image.
    unsafe { d.launch(&call) }?;
    Ok(dst)
}

/// `crate::temporal_blend` on `d` (within 1e-5 of the CPU on a GPU: expf and powf, style.cu).
pub fn temporal_blend<D: Device>(
    d: &D,
    out: &mut [f32],
    warped_prev: &[f32],
    confidence: &[f32],
    alpha: f32,
) -> Result<(), KernelError> {
    let n = crate::style::check_temporal_blend(out.len(), warped_prev.len(), confidence.len(), alpha)?;
    let o = upload(d, out)?;
    temporal_blend_on(d, &o, &upload(d, warped_prev)?, &upload(d, confidence)?, n, alpha)?;
    download(d, &o, out)
}

/// `temporal_blend` of images of `n` pixels already on the device; `out` in place.
pub fn temporal_blend_on<D: Device>(
    d: &D,
    out: &D::Buffer,
    warped_prev: &D::Buffer,
    confidence: &D::Buffer,
    n: usize,
    alpha: f32,
) -> Result<(), KernelError> {
    crate::style::check_temporal_blend(3 * n, 3 * n, n, alpha)?;
    room(d, out, 3 * n, "temporal_blend output")?;
    room(d, warped_prev, 3 * n, "temporal_blend previous")?;
    room(d, confidence, n, "temporal_blend confidence")?;
    let mut call = Call::new("temporal_blend", grid1(n));
    call.buffer(out).buffer(warped_prev).buffer(confidence).value(alpha).value(n as i64);
    // SAFETY: the arguments match `temporal_blend`; threads at or past n return; the images
    // hold 3 planes of n, the confidence n (checked above).
    unsafe { d.launch(&call) }
}

/// `crate::warp` on `d`.
pub fn warp<D: Device>(
    d: &D,
    src: &[f32],
    channels: usize,
    w: usize,
    h: usize,
    flow: &[f32],
    out: &mut [f32],
) -> Result<(), KernelError> {
    crate::flow::check_warp([src.len(), flow.len(), out.len()], channels, w, h)?;
    download(d, &warp_on(d, &upload(d, src)?, channels, w, h, &upload(d, flow)?)?, out)
}

/// `warp` of `channels` planes of w x h already on the device along a flow on the device, into
/// a new buffer.
pub fn warp_on<D: Device>(
    d: &D,
    src: &D::Buffer,
    channels: usize,
    w: usize,
    h: usize,
    flow: &D::Buffer,
) -> Result<D::Buffer, KernelError> {
    let need = image_len(w, h, channels, "warp image")?;
    let n = image_len(w, h, 1, "warp image")?;
    crate::flow::check_warp([need, 2 * n, need], channels, w, h)?;
    room(d, src, need, "warp input")?;
    room(d, flow, 2 * n, "warp flow")?;
    let o = zeros::<D, f32>(d, need)?;
    let mut call = Call::new("warp", grid2(w, h));
    call.buffer(src).value(int(channels, "channels")?).value(int(w, "width")?).value(int(h, "height")?);
    call.buffer(flow).buffer(&o);
    // SAFETY: the arguments match `warp` in warp.cu; threads outside w x h return; sampling
    // positions are clamped into the image and the top-left tap is at most (w - 2, h - 2) when
    // both sides are at least 2 (so q[w + 1] is inside the plane), at most len - 2 along a
    // single row or column; the buffers have the lengths checked above.
    unsafe { d.launch(&call) }?;
    Ok(o)
}

/// `crate::scene_change` on `d`: the thumbnails on the device, the measure on the host.
pub fn scene_change<D: Device>(d: &D, a: &[f32], b: &[f32], w: usize, h: usize) -> Result<f32, KernelError> {
    let n = plane_len(w, h, 1, "scene_change image")?;
    check_len("scene_change image a", a.len(), n, format_args!("{h}x{w}"))?;
    check_len("scene_change image b", b.len(), n, format_args!("{h}x{w}"))?;
    scene_change_on(d, &upload(d, a)?, &upload(d, b)?, w, h)
}

/// `scene_change` of two planes already on the device: their thumbnails made there and
/// downloaded (2 x 32 x 32 values), the measure on the host.
pub fn scene_change_on<D: Device>(d: &D, a: &D::Buffer, b: &D::Buffer, w: usize, h: usize) -> Result<f32, KernelError> {
    let n = plane_len(w, h, 1, "scene_change image")?;
    room(d, a, n, "scene_change image a")?;
    room(d, b, n, "scene_change image b")?;
    let (tw, th) = crate::cpu::scene::thumb_size(w, h);
    let mut thumbs = [vec![0.0f64; tw * th], vec![0.0f64; tw * th]];
    for (src, thumb) in [a, b].into_iter().zip(&mut thumbs) {
        let dst = zeros::<D, f64>(d, tw * th)?;
        let mut call = Call::new("thumbnail", grid2(tw, th));
        call.buffer(src).value(int(w, "width")?).value(int(h, "height")?);
        call.value(int(tw, "thumbnail")?).value(int(th, "thumbnail")?).buffer(&dst);
        // SAFETY: the arguments match `thumbnail` in warp.cu; threads outside tw x th return;
        // thumbnail pixel (i, j) reads rows and columns below ceil((i + 1) w / tw) <= w (and
        // likewise h) of a plane of w x h (checked above), and writes its one f64.
        unsafe { d.launch(&call) }?;
        download(d, &dst, thumb)?;
    }
    Ok(crate::cpu::scene::measure(&thumbs[0], &thumbs[1], tw, th))
}

// SAFETY: `repr(C)` of four f32: no padding, every bit pattern valid; laid out as `struct
// FaceBox` in face.cu.
unsafe impl super::device::Plain for FaceBox {}

/// `crate::crop_resize` on `d`.
#[allow(clippy::too_many_arguments)] // the arguments of `crate::crop_resize`
pub fn crop_resize<D: Device>(
    d: &D,
    frame: &[f32],
    fw: usize,
    fh: usize,
    b: FaceBox,
    patch: &mut [f32],
    pw: usize,
    ph: usize,
) -> Result<(), KernelError> {
    crate::face::check_crop_resize(frame.len(), fw, fh, &b, patch.len(), pw, ph)?;
    let (f, p) = (upload(d, frame)?, zeros::<D, f32>(d, patch.len())?);
    let mut call = Call::new("crop_resize", grid2(pw, ph));
    call.buffer(&f).value(int(fw, "width")?).value(int(fh, "height")?).value(b);
    call.buffer(&p).value(int(pw, "patch width")?).value(int(ph, "patch height")?);
    // SAFETY: the arguments match `crop_resize` in face.cu; threads outside pw x ph return;
    // samples are clamped into the frame (3 planes of fw x fh, checked) and each thread writes
    // its pixel of the 3 patch planes (checked).
    unsafe { d.launch(&call) }?;
    download(d, &p, patch)
}

/// `crate::paste_feathered` on `d` (within 1e-5 of the CPU on a GPU: cosf, face.cu).
#[allow(clippy::too_many_arguments)] // the arguments of `crate::paste_feathered`
pub fn paste_feathered<D: Device>(
    d: &D,
    frame: &mut [f32],
    fw: usize,
    fh: usize,
    b: FaceBox,
    patch: &[f32],
    pw: usize,
    ph: usize,
    feather: f32,
) -> Result<(), KernelError> {
    crate::face::check_paste(frame.len(), (fw, fh), &b, patch.len(), (pw, ph), feather)?;
    // The box's pixels inside the frame, as face.rs computes them.
    let x0 = b.x.floor().max(0.0) as usize;
    let y0 = b.y.floor().max(0.0) as usize;
    let x1 = ((b.x + b.w).ceil().max(0.0) as usize).min(fw);
    let y1 = ((b.y + b.h).ceil().max(0.0) as usize).min(fh);
    if x0 >= x1 || y0 >= y1 {
        return Ok(());
    }
    let (f, p) = (upload(d, frame)?, upload(d, patch)?);
    let mut call = Call::new("paste_feathered", grid2(x1 - x0, y1 - y0));
    call.buffer(&f).value(int(fw, "width")?).value(int(fh, "height")?).value(b);
    call.buffer(&p).value(int(pw, "patch width")?).value(int(ph, "patch height")?).value(feather);
    call.value(int(x0, "x")?).value(int(y0, "y")?).value(int(x1, "x")?).value(int(y1, "y")?);
    // SAFETY: the arguments match `paste_feathered` in face.cu; threads cover x0..x1 x y0..y1,
    // inside the frame (x1 <= fw, y1 <= fh), and write their own pixel of its 3 planes; patch
    // samples are clamped into the patch (3 planes of pw x ph, checked).
    unsafe { d.launch(&call) }?;
    download(d, &f, frame)
}

// SAFETY: `repr(C)` of f32 fields and f32 arrays only: no padding, every bit pattern valid; laid
// out as `struct MouthPlan` in face.cu.
unsafe impl super::device::Plain for crate::mouth::plan::MouthPlan {}

/// `crate::open_mouth` on `d`: the same plan (checks, the mouth's frame, the lip tables and the
/// picture's look, computed on the host by the CPU's own `mouth::plan`), then its two per-pixel
/// passes as kernels (face.cu). Bit for bit on the shim; on a GPU within the tolerance docs/gpu.md
/// states (CUDA's cosf and powf).
pub fn open_mouth<D: Device>(
    d: &D,
    src: &[f32],
    w: usize,
    h: usize,
    m: &crate::MouthWarp<'_>,
    dst: &mut [f32],
) -> Result<(), KernelError> {
    let Some(plan) = crate::mouth::plan::plan(src, dst.len(), w, h, m)? else {
        dst.copy_from_slice(src);
        return Ok(());
    };
    let (wi, hi, count) = (int(w, "width")?, int(h, "height")?, int(m.oval.len(), "face outline")?);
    let oval: Vec<f32> = m.oval.iter().flatten().copied().collect();
    let n = w * h;
    let (p, o, s) = (upload(d, std::slice::from_ref(&plan))?, upload(d, &oval)?, upload(d, src)?);
    let (up, down, out) = (zeros::<D, f32>(d, 2 * n)?, zeros::<D, f32>(d, 2 * n)?, zeros::<D, f32>(d, 3 * n)?);
    let mut call = Call::new("open_mouth_field", grid2(w, h));
    call.buffer(&p).buffer(&o).value(count).value(wi).value(hi).buffer(&up).buffer(&down);
    // SAFETY: the arguments match `open_mouth_field` in face.cu; threads outside w x h return;
    // the plan is one MouthPlan, the outline `count` (x, y) pairs, and each thread writes its
    // pixel of the two planes of `up` and of `down` (2 w h each).
    unsafe { d.launch(&call) }?;
    let mut call = Call::new("open_mouth_shade", grid2(w, h));
    call.buffer(&p).buffer(&s).value(wi).value(hi).buffer(&up).buffer(&down).buffer(&out);
    // SAFETY: the arguments match `open_mouth_shade`; threads outside w x h return; samples of
    // `src` (3 planes, checked by the plan), `up` and `down` are clamped into their planes, and
    // each thread writes its pixel of the 3 planes of `out`.
    unsafe { d.launch(&call) }?;
    download(d, &out, dst)
}
