//! The optical flow's image pyramid on a `Device` (flow.cu): the CPU's `build_pyramid`
//! (kernels/src/cpu/flow.rs) step by step, each level kept on the device; then, per level, the
//! inverse search (one thread per patch) and the densification (one thread per pixel), equal to
//! the CPU's `search_patches` and `densify` bit for bit; and the whole flow (`optical_flow`:
//! the same plan of levels, coarse to fine, the finest level upsampled to full resolution),
//! equal to the crate's `optical_flow` bit for bit.

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
    if src.len() != w * h {
        return Err(KernelError::InvalidArgument(format!(
            "pyramid of {} values as {w}x{h}, downscale 2^{ds}, {n} levels, pad {pad}",
            src.len()
        )));
    }
    // The other checks are `pyramid_on`'s.
    pyramid_on(d, &upload(d, src)?, w, h, ds, n, pad)
}

/// `pyramid` of a `w` x `h` plane already on the device.
pub fn pyramid_on<D: Device>(
    d: &D,
    input: &D::Buffer,
    w: usize,
    h: usize,
    ds: u32,
    n: usize,
    pad: usize,
) -> Result<Vec<Level<D::Buffer>>, KernelError> {
    if d.len(input) < 4 * w * h || pad == 0 || n == 0 || ds >= usize::BITS || (w >> ds) == 0 || (h >> ds) == 0 {
        return Err(KernelError::InvalidArgument(format!(
            "pyramid of {} bytes as {w}x{h}, downscale 2^{ds}, {n} levels, pad {pad}",
            d.len(input)
        )));
    }
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
        let from = levels.last().map_or(input, |p| &p.data);
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

/// The patch flows and the dense flow of one level on the device, both interleaved (u, v).
pub struct LevelFlow<B> {
    pub patches: B,
    pub nx: usize,
    pub ny: usize,
    pub flow: B,
    pub w: usize,
    pub h: usize,
}

/// Patches along an axis of `len` pixels: `p` wide, every `s`, the last at the edge.
fn patch_count(len: usize, p: usize, s: usize) -> usize {
    (len - p).div_ceil(s) + 1
}

/// One level of the coarse-to-fine flow from `a` to `b` (levels of the same size): the inverse
/// search of every `patch` x `patch` patch (stride `stride`, at most `iterations` Gauss-Newton
/// steps) from the coarser level's dense flow `init` when given (sampled at each patch centre,
/// doubled), then the densification: the CPU's `search_patches` and `densify`.
pub fn level_flow<D: Device>(
    d: &D,
    a: &Level<D::Buffer>,
    b: &Level<D::Buffer>,
    patch: usize,
    stride: usize,
    init: Option<&LevelFlow<D::Buffer>>,
    iterations: usize,
) -> Result<LevelFlow<D::Buffer>, KernelError> {
    let (w, h, pad) = (a.w, a.h, a.pad);
    if (b.w, b.h, b.pad) != (w, h, pad)
        || !(1..=16).contains(&patch)
        || !(1..=patch).contains(&stride)
        || w < patch
        || h < patch
        || pad == 0
    {
        return Err(KernelError::InvalidArgument(format!(
            "flow level {w}x{h} pad {pad} against {}x{} pad {}, patch {patch}, stride {stride}: the levels must \
             match, 1 <= stride <= patch <= 16, the level at least a patch, pad >= 1",
            b.w, b.h, b.pad
        )));
    }
    // The kernels index by these sizes: buffers shorter than they say are refused.
    let short = |buf: &D::Buffer, floats: usize| d.len(buf) < 4 * floats;
    if short(&a.data, a.len()) || short(&b.data, b.len()) || init.is_some_and(|f| short(&f.flow, 2 * f.w * f.h)) {
        return Err(KernelError::InvalidArgument(format!(
            "flow level {w}x{h} pad {pad}: a level or the coarser flow holds fewer values than its size"
        )));
    }
    let (nx, ny) = (patch_count(w, patch, stride), patch_count(h, patch, stride));
    let (eps, converged) = crate::cpu::flow::DENSIFY_EPS_AND_CONVERGED;
    let patches = zeros::<D, f32>(d, 2 * nx * ny)?;
    let none = zeros::<D, f32>(d, 2)?;
    let (init_buf, cw, ch) = match init {
        Some(f) => (&f.flow, f.w, f.h),
        None => (&none, 1, 1),
    };
    let geometry = [int(w, "width")?, int(h, "height")?, int(pad, "pad")?, int(patch, "patch")?];
    let grid = [int(stride, "stride")?, int(nx, "patch columns")?, int(ny, "patch rows")?];
    let mut call = Call::new("search_patches", grid2(nx, ny));
    call.buffer(&a.data).buffer(&b.data);
    geometry.iter().chain(&grid).for_each(|&v| {
        call.value(v);
    });
    call.buffer(init_buf).value(int(cw, "coarse width")?).value(int(ch, "coarse height")?);
    call.value(i32::from(init.is_some())).value(int(iterations, "iterations")?).value(converged).buffer(&patches);
    // SAFETY: the arguments match `search_patches`; threads outside nx x ny return; patch (i, j)
    // lies inside the w x h interior (patch_at <= len - p), its gradients read one pixel around it
    // (pad >= 1), its sample windows are clamped so that their p + 1 rows and columns stay in the
    // padded level; `init` (the coarser level's cw x ch flow, or a stand-in never read when has_init
    // is 0) is read at positions clamped into it; thread (i, j) writes entry j nx + i of 2 nx ny values.
    unsafe { d.launch(&call) }?;
    let flow = zeros::<D, f32>(d, 2 * w * h)?;
    let mut call = Call::new("densify", grid2(w, h));
    call.buffer(&a.data).buffer(&b.data);
    geometry.iter().chain(&grid).for_each(|&v| {
        call.value(v);
    });
    call.buffer(&patches).value(eps).buffer(&flow);
    // SAFETY: the arguments match `densify`; threads outside w x h return; pixel (x, y) reads its
    // own value of `a`, the patches covering it (indices below nx ny) and one clamped window value
    // of `b` per patch, and writes its entry of the 2 w h flow values.
    unsafe { d.launch(&call) }?;
    Ok(LevelFlow { patches, nx, ny, flow, w, h })
}

/// A level's patch flows and dense flow on the host, interleaved (u, v).
pub type Flows = (Vec<[f32; 2]>, Vec<[f32; 2]>);

/// Downloads a level's patch flows and dense flow.
pub fn level_flow_values<D: Device>(d: &D, f: &LevelFlow<D::Buffer>) -> Result<Flows, KernelError> {
    let (mut p, mut v) = (vec![0.0f32; 2 * f.nx * f.ny], vec![0.0f32; 2 * f.w * f.h]);
    download(d, &f.patches, &mut p)?;
    download(d, &f.flow, &mut v)?;
    let pairs = |x: Vec<f32>| x.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
    Ok((pairs(p), pairs(v)))
}

/// The CPU's level flow (patch flows, dense flow) on padded levels, to compare with.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn cpu_level_flow(
    a: (&[f32], usize, usize),
    b: (&[f32], usize, usize),
    pad: usize,
    patch: usize,
    stride: usize,
    init: Option<(&[[f32; 2]], usize, usize)>,
    iterations: usize,
) -> Flows {
    crate::cpu::flow::level_flow(a, b, pad, patch, stride, init, iterations)
}

/// `crate::optical_flow` on `d`: same arguments (no workspace), same validation, the same
/// flow bit for bit; the pyramids and every level's flow stay on the device, only the result
/// comes back.
pub fn optical_flow<D: Device>(
    d: &D,
    a: &[f32],
    b: &[f32],
    w: usize,
    h: usize,
    params: &crate::FlowParams,
    flow: &mut [f32],
) -> Result<(), KernelError> {
    crate::flow::check_flow(a.len(), b.len(), w, h, params, flow.len())?;
    let out = optical_flow_on(d, &upload(d, a)?, &upload(d, b)?, w, h, params)?;
    download(d, &out, flow)
}

/// `optical_flow` of two `w` x `h` planes already on the device: the flow (2 planes of w x h)
/// in a new device buffer.
pub fn optical_flow_on<D: Device>(
    d: &D,
    a: &D::Buffer,
    b: &D::Buffer,
    w: usize,
    h: usize,
    params: &crate::FlowParams,
) -> Result<D::Buffer, KernelError> {
    let n = w.checked_mul(h).ok_or(KernelError::TooLarge { what: "flow image" })?;
    let (la, lb) = (d.len(a) / 4, d.len(b) / 4);
    let p = crate::flow::check_flow(la.min(n), lb.min(n), w, h, params, 2 * n)?;
    let plan = crate::cpu::flow::plan(w, h, &p);
    let pa = pyramid_on(d, a, w, h, plan.ds, plan.levels, plan.pad)?;
    let pb = pyramid_on(d, b, w, h, plan.ds, plan.levels, plan.pad)?;
    let mut coarse: Option<LevelFlow<D::Buffer>> = None;
    for l in (0..plan.levels).rev() {
        coarse = Some(level_flow(d, &pa[l], &pb[l], plan.patch, plan.stride, coarse.as_ref(), p.iterations)?);
    }
    let fine = coarse.expect("at least one level");
    let out = zeros::<D, f32>(d, 2 * w * h)?;
    let mut call = Call::new("upsample_flow", grid2(w, h));
    call.buffer(&fine.flow).value(int(fine.w, "level width")?).value(int(fine.h, "level height")?);
    call.value(int(1usize << plan.ds, "downscale")?).value(int(w, "width")?).value(int(h, "height")?).buffer(&out);
    // SAFETY: the arguments match `upsample_flow`; threads outside w x h return; pixel (x, y)
    // reads level rows and columns clamped into the fine level's lw x lh flow (columns below lw:
    // the interval index is below `whole + 1 <= lw - 1`), and writes its entries of the two
    // w x h planes.
    unsafe { d.launch(&call) }?;
    Ok(out)
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
