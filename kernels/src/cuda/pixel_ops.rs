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
    let (src, dst) = (upload(d, rgb)?, zeros::<D, f32>(d, n)?);
    let mut call = Call::new("luma", grid1(n));
    call.buffer(&src).buffer(&dst).value(n as i64);
    // SAFETY: the arguments match `luma` in style.cu; threads at or past n return; src holds 3
    // planes of n, dst one (checked above).
    unsafe { d.launch(&call) }?;
    download(d, &dst, out)
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
    let n = crate::style::check_retensor(src.len(), w, h, dst.len())?;
    let (s_in, o_in) = from.range.range_to_unit();
    let (s_out, o_out) = to.range.range_to_unit();
    let flags = |s: TensorSpec| (i32::from(s.layout == Layout::Nhwc), i32::from(s.order == ChannelOrder::Bgr));
    let ((fn_, fb), (tn, tb)) = (flags(from), flags(to));
    let (a, b) = (upload(d, src)?, zeros::<D, f32>(d, n)?);
    let mut call = Call::new("retensor", grid1(w * h));
    call.buffer(&a).value(fn_).value(fb).value(s_in).value(o_in);
    call.buffer(&b).value(tn).value(tb).value(s_out).value(o_out).value((w * h) as i64);
    // SAFETY: the arguments match `retensor`; threads at or past w * h return, and each touches
    // its 3 values of tensors of 3 * w * h (checked above).
    unsafe { d.launch(&call) }?;
    download(d, &b, dst)
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
    let (a, b) = (upload(d, input)?, upload(d, stylized)?);
    let mut call = Call::new("preserve_colors", grid1(w * h));
    call.buffer(&a).buffer(&b).value((w * h) as i64);
    // SAFETY: the arguments match `preserve_colors`; threads at or past w * h return; both
    // images hold 3 planes of w * h.
    unsafe { d.launch(&call) }?;
    download(d, &b, stylized)
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
    let (a, b) = (upload(d, input)?, upload(d, out)?);
    let mut call = Call::new("mix", grid1(input.len()));
    call.buffer(&a).buffer(&b).value(strength).value(input.len() as i64);
    // SAFETY: the arguments match `mix`; threads at or past len return; both hold len values.
    unsafe { d.launch(&call) }?;
    download(d, &b, out)
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
    let n = w * h;
    let bufs = [upload(d, flow)?, upload(d, back)?, upload(d, luma)?, upload(d, image)?, upload(d, prev_image)?];
    let dst = zeros::<D, f32>(d, n)?;
    let mut call = Call::new("temporal_confidence", grid2(w, h));
    for b in &bufs {
        call.buffer(b);
    }
    call.value(int(w, "width")?).value(int(h, "height")?).buffer(&dst);
    // SAFETY: the arguments match `temporal_confidence`; threads outside w x h return; every
    // buffer has the length checked above, and neighbours are clamped into the image.
    unsafe { d.launch(&call) }?;
    download(d, &dst, out)
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
    let (o, p, c) = (upload(d, out)?, upload(d, warped_prev)?, upload(d, confidence)?);
    let mut call = Call::new("temporal_blend", grid1(n));
    call.buffer(&o).buffer(&p).buffer(&c).value(alpha).value(n as i64);
    // SAFETY: the arguments match `temporal_blend`; threads at or past n return; the images
    // hold 3 planes of n, the confidence n.
    unsafe { d.launch(&call) }?;
    download(d, &o, out)
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
    let need = crate::flow::check_warp([src.len(), flow.len(), out.len()], channels, w, h)?;
    let (s, f, o) = (upload(d, src)?, upload(d, flow)?, zeros::<D, f32>(d, need)?);
    let mut call = Call::new("warp", grid2(w, h));
    call.buffer(&s).value(int(channels, "channels")?).value(int(w, "width")?).value(int(h, "height")?);
    call.buffer(&f).buffer(&o);
    // SAFETY: the arguments match `warp` in warp.cu; threads outside w x h return; sampling
    // positions are clamped into the image and the top-left tap is at most (w - 2, h - 2) when
    // both sides are at least 2 (so q[w + 1] is inside the plane), at most len - 2 along a
    // single row or column; the buffers have the lengths checked above.
    unsafe { d.launch(&call) }?;
    download(d, &o, out)
}

/// `crate::scene_change` on `d`: the thumbnails on the device, the measure on the host.
pub fn scene_change<D: Device>(d: &D, a: &[f32], b: &[f32], w: usize, h: usize) -> Result<f32, KernelError> {
    let n = plane_len(w, h, 1, "scene_change image")?;
    check_len("scene_change image a", a.len(), n, format_args!("{h}x{w}"))?;
    check_len("scene_change image b", b.len(), n, format_args!("{h}x{w}"))?;
    let (tw, th) = crate::cpu::scene::thumb_size(w, h);
    let mut thumbs = [vec![0.0f64; tw * th], vec![0.0f64; tw * th]];
    for (img, thumb) in [a, b].into_iter().zip(&mut thumbs) {
        let (src, dst) = (upload(d, img)?, zeros::<D, f64>(d, tw * th)?);
        let mut call = Call::new("thumbnail", grid2(tw, th));
        call.buffer(&src).value(int(w, "width")?).value(int(h, "height")?);
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
