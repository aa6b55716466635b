//! The optical flow's image pyramid on a `Device` (flow.cu): the CPU's `build_pyramid`
//! (kernels/src/cpu/flow.rs) step by step, each level kept on the device. The inverse search and
//! the densification are not yet written.

use super::device::{Call, Device, download, grid2, upload, zeros};
use super::ops::int;
use crate::KernelError;

/// One padded level on the device: `w` x `h` interior, `pad` border.
pub struct Level<B> {
    pub data: B,
    pub w: usize,
    pub h: usize,
    pub pad: usize,
}

impl<B> Level<B> {
    fn len(&self) -> usize {
        (self.w + 2 * self.pad) * (self.h + 2 * self.pad)
    }
}

fn fill_border<D: Device>(d: &D, l: &Level<D::Buffer>) -> Result<(), KernelError> {
    let mut call = Call::new("fill_border", grid2(l.w + 2 * l.pad, l.h + 2 * l.pad));
    call.buffer(&l.data).value(int(l.w, "width")?).value(int(l.h, "height")?).value(int(l.pad, "pad")?);
    // SAFETY: the arguments match `fill_border`; threads outside the padded image return, the
    // buffer holds the padded image, and border threads write border pixels only, reading
    // interior ones.
    unsafe { d.launch(&call) }
}

fn blur121<D: Device>(d: &D, l: &Level<D::Buffer>) -> Result<(), KernelError> {
    let tmp = zeros::<D, f32>(d, l.w * l.h)?;
    let (w, h, pad) = (int(l.w, "width")?, int(l.h, "height")?, int(l.pad, "pad")?);
    let mut call = Call::new("blur_rows", grid2(l.w, l.h));
    call.buffer(&l.data).value(w).value(h).value(pad).buffer(&tmp);
    // SAFETY: the arguments match `blur_rows`; threads outside w x h return; they read the
    // padded row around (x, y) (pad >= 1, so x - 1 and x + 1 are inside it) and write tmp (w x h).
    unsafe { d.launch(&call) }?;
    let mut call = Call::new("blur_columns", grid2(l.w, l.h));
    call.buffer(&tmp).value(w).value(h).value(pad).buffer(&l.data);
    // SAFETY: the arguments match `blur_columns`; rows are clamped into tmp, and each thread
    // writes its interior pixel.
    unsafe { d.launch(&call) }?;
    fill_border(d, l)
}

/// `build_pyramid` on the device: level 0 is `src` (`w` x `h`) box-averaged by `2^ds`, each
/// next level halves the previous, all blurred by [1 2 1] / 4, with borders of `pad >= 1`.
pub fn pyramid<D: Device>(
    d: &D,
    src: &[f32],
    w: usize,
    h: usize,
    ds: u32,
    n: usize,
    pad: usize,
) -> Result<Vec<Level<D::Buffer>>, KernelError> {
    if src.len() != w * h || pad == 0 || n == 0 || ds >= usize::BITS || (w >> ds) == 0 || (h >> ds) == 0 {
        return Err(KernelError::InvalidArgument(format!(
            "pyramid of {} values as {w}x{h}, downscale 2^{ds}, {n} levels, pad {pad}",
            src.len()
        )));
    }
    let input = upload(d, src)?;
    let mut levels: Vec<Level<D::Buffer>> = Vec::with_capacity(n);
    for l in 0..n {
        let (sw, sh, f, start, stride) = match levels.last() {
            None => (w, h, 1usize << ds, 0, w),
            Some(p) => (p.w, p.h, 2, p.pad * (p.w + 2 * p.pad) + p.pad, p.w + 2 * p.pad),
        };
        let (dw, dh) = (sw / f, sh / f);
        if dw == 0 || dh == 0 {
            return Err(KernelError::InvalidArgument(format!("pyramid level {l} would be empty")));
        }
        let level = Level { data: zeros::<D, f32>(d, (dw + 2 * pad) * (dh + 2 * pad))?, w: dw, h: dh, pad };
        let from = levels.last().map_or(&input, |p| &p.data);
        let mut call = Call::new("box_down", grid2(dw, dh));
        call.buffer(from).value(start as i64).value(stride as i64).value(int(f, "factor")?);
        call.value(1.0 / (f * f) as f32).buffer(&level.data);
        call.value(int(dw, "width")?).value(int(dh, "height")?).value(int(pad, "pad")?);
        // SAFETY: the arguments match `box_down`; threads outside dw x dh return; output pixel
        // (x, y) reads rows y f .. y f + f - 1 < sh and columns x f .. x f + f - 1 < sw of the
        // source (the input, w x h, or the previous level's interior at `start` with `stride`),
        // and writes its interior pixel of the new level.
        unsafe { d.launch(&call) }?;
        fill_border(d, &level)?;
        levels.push(level);
    }
    for level in &levels {
        blur121(d, level)?;
    }
    Ok(levels)
}

/// A level's padded values, downloaded.
pub fn level_values<D: Device>(d: &D, l: &Level<D::Buffer>) -> Result<Vec<f32>, KernelError> {
    let mut v = vec![0.0; l.len()];
    download(d, &l.data, &mut v)?;
    Ok(v)
}

/// The CPU's pyramid (padded values, width, height), to compare with.
#[doc(hidden)]
pub fn cpu_pyramid(src: &[f32], w: usize, h: usize, ds: u32, n: usize, pad: usize) -> Vec<(Vec<f32>, usize, usize)> {
    crate::cpu::flow::pyramid_levels(src, w, h, ds, n, pad)
}
