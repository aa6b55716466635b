//! Motion estimation and motion-compensated frame interpolation, the
//! built-in method of frame-rate conversion: `luma`, dense `optical_flow`
//! (DIS-style, coarse to fine), backward `warp`, `interpolate` (forward
//! splatting of both flows to the intermediate time, occlusion-aware blend,
//! exact static regions) and the `scene_change` measure that decides when
//! not to interpolate at all.
//!
//! At 1280x720 with `FlowParams::default()`, `luma` of both frames, the two
//! flows and one `interpolate` take about 25 ms on two CPU cores
//! (`examples/flow_speed.rs`).
//!
//! Images are planar f32, values in 0..1; an RGB image is three planes, R
//! then G then B (`TensorSpec::CANONICAL` as produced by `pack`). Flows are
//! two planes, x then y, in pixels. The methods are described in the
//! backend modules (`cpu::flow`, `cpu::interp`, `cpu::scene`).

use crate::cpu;
use crate::error::KernelError;

/// Parameters of [`optical_flow`]. `Default` is the speed/quality trade-off
/// for 720p frame-rate conversion on a few CPU cores (like OpenCV's DIS
/// "fast" preset: flow at 1/4 resolution, 8x8 patches at stride 4).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowParams {
    /// The flow is computed on the luma box-downscaled by `2^downscale`
    /// (0 = full resolution) and upsampled; vectors are always in
    /// full-resolution pixels on output. Lowered automatically while the
    /// downscaled image would be smaller than one patch.
    pub downscale: u32,
    /// Pyramid levels above the flow resolution; 0 = automatic (until the
    /// coarsest level's shorter side is 16..31 pixels). Levels smaller than
    /// a patch are never built. The largest motion found is roughly
    /// `patch * 2^(downscale + levels)` pixels.
    pub levels: u32,
    /// Side of the square patches, 2..=16 (clamped to the image size).
    pub patch: u32,
    /// Distance between patches, 1..=`patch`.
    pub stride: u32,
    /// Maximum Gauss-Newton iterations of each patch's inverse search (it
    /// stops early once converged).
    pub iterations: u32,
}

impl Default for FlowParams {
    fn default() -> Self {
        Self { downscale: 2, levels: 0, patch: 8, stride: 4, iterations: 8 }
    }
}

/// Frames of at most this many pixels (640x360) get their flow at half resolution.
const HALF_RES_PIXELS: usize = 640 * 360;

impl FlowParams {
    /// The parameters aiinterpolate uses for `w` x `h` frames, finer where the frame is small
    /// enough to afford it (tuned on bikes.mp4 at 640x272, 320x136 and squeezed to 176x144,
    /// with `cargo run --release -p gst-ai-kernels --example yuv_eval`): 12x12 patches every 6
    /// pixels at half resolution up to 640x360 (+0.33 dB at 640x272 over the default, at about
    /// 1.6x its cost); larger frames keep the default's quarter resolution, whose cost 1280x720
    /// at 60 fps can just afford. Full resolution was tried for frames up to 320x240: at
    /// 320x136 +0.02 dB and at 176x144 +0.12 dB for 2.1x and 2.7x the time of the whole
    /// interpolation, which small sizes cannot afford if they are to stay several times
    /// faster than FFmpeg's minterpolate.
    pub fn for_size(w: usize, h: usize) -> Self {
        if w.saturating_mul(h) <= HALF_RES_PIXELS {
            Self { downscale: 1, levels: 0, patch: 12, stride: 6, iterations: 8 }
        } else {
            Self::default()
        }
    }
}

/// Reusable working memory of [`optical_flow`] and [`interpolate`]
/// (pyramids, patch flows, splatting grids), so that a stream allocates
/// once. One workspace serves any frame size; it grows as needed.
#[derive(Default)]
pub struct FlowWorkspace {
    pub(crate) flow: cpu::flow::Workspace,
    pub(crate) interp: cpu::interp::Workspace,
}

impl FlowWorkspace {
    pub fn new() -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for FlowWorkspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowWorkspace").finish_non_exhaustive()
    }
}

/// `w * h * k`, or an error naming `what`.
pub(crate) fn plane_len(w: usize, h: usize, k: usize, what: &'static str) -> Result<usize, KernelError> {
    if w == 0 {
        return Err(KernelError::ZeroSize { what: "image width" });
    }
    if h == 0 {
        return Err(KernelError::ZeroSize { what: "image height" });
    }
    w.checked_mul(h).and_then(|n| n.checked_mul(k)).ok_or(KernelError::TooLarge { what })
}

/// `warp`'s checks (shared with its CUDA twin), on the lengths of source, flow and output;
/// the values of an image.
pub(crate) fn check_warp(lens: [usize; 3], channels: usize, w: usize, h: usize) -> Result<usize, KernelError> {
    let [src, flow, out] = lens;
    if channels == 0 {
        return Err(KernelError::ZeroSize { what: "warp channel count" });
    }
    let need = plane_len(w, h, channels, "warp image")?;
    check_len("warp source", src, need, format_args!("{channels}x{h}x{w}"))?;
    check_len("warp output", out, need, format_args!("{channels}x{h}x{w}"))?;
    check_len("warp flow", flow, plane_len(w, h, 2, "flow")?, format_args!("2x{h}x{w}"))?;
    Ok(need)
}

pub(crate) fn check_len(
    what: &str,
    len: usize,
    need: usize,
    shape: std::fmt::Arguments<'_>,
) -> Result<(), KernelError> {
    if len != need {
        return Err(KernelError::BufferLength { what: format!("{what} ({shape})"), len, need });
    }
    Ok(())
}

/// Luma `0.299 R + 0.587 G + 0.114 B` of a CHW RGB image into `out` (`w * h`).
pub fn luma(rgb: &[f32], w: usize, h: usize, out: &mut [f32]) -> Result<(), KernelError> {
    let n = plane_len(w, h, 1, "luma image")?;
    check_len("luma input", rgb.len(), plane_len(w, h, 3, "luma image")?, format_args!("3x{h}x{w}"))?;
    check_len("luma output", out.len(), n, format_args!("{h}x{w}"))?;
    cpu::scene::luma(rgb, w, h, out);
    Ok(())
}

/// Dense optical flow from `a` to `b` (luma planes, `w` x `h`): for each
/// pixel p of `a`, `p + flow(p)` is where it is in `b`. `flow` receives
/// `2 * w * h` values, the x plane then the y plane, at full resolution, in
/// pixels. Identical images give exactly zero flow. Images too small for
/// the requested downscale or patch use less of either; any size works.
pub fn optical_flow(
    a: &[f32],
    b: &[f32],
    w: usize,
    h: usize,
    params: &FlowParams,
    ws: &mut FlowWorkspace,
    flow: &mut [f32],
) -> Result<(), KernelError> {
    let cp = check_flow(a.len(), b.len(), w, h, params, flow.len())?;
    cpu::flow::optical_flow(a, b, w, h, &cp, &mut ws.flow, flow);
    Ok(())
}

/// [`optical_flow`] both ways between `a` and `b`: from `a` to `b` into `f01`, from `b` to `a`
/// into `f10`, equal to the two calls but with each frame's pyramid built once (what
/// [`interpolate`] needs for a pair of frames, about 1.5 ms less at 1280x720).
#[allow(clippy::too_many_arguments)]
pub fn optical_flow_pair(
    a: &[f32],
    b: &[f32],
    w: usize,
    h: usize,
    params: &FlowParams,
    ws: &mut FlowWorkspace,
    f01: &mut [f32],
    f10: &mut [f32],
) -> Result<(), KernelError> {
    let cp = check_flow(a.len(), b.len(), w, h, params, f01.len())?;
    check_len("optical_flow_pair f10", f10.len(), f01.len(), format_args!("2x{h}x{w}"))?;
    cpu::flow::optical_flow_pair(a, b, w, h, &cp, &mut ws.flow, f01, f10);
    Ok(())
}

/// `optical_flow`'s checks (shared with the CUDA twin, `cuda::flow_ops::optical_flow`): the
/// lengths and the parameters, validated.
pub(crate) fn check_flow(
    a_len: usize,
    b_len: usize,
    w: usize,
    h: usize,
    params: &FlowParams,
    flow_len: usize,
) -> Result<cpu::flow::Params, KernelError> {
    let n = plane_len(w, h, 1, "flow image")?;
    check_len("optical_flow image a", a_len, n, format_args!("{h}x{w}"))?;
    check_len("optical_flow image b", b_len, n, format_args!("{h}x{w}"))?;
    check_len("optical_flow output", flow_len, plane_len(w, h, 2, "flow")?, format_args!("2x{h}x{w}"))?;
    let p = params;
    if !(2..=cpu::flow::MAX_PATCH as u32).contains(&p.patch) {
        return Err(KernelError::InvalidArgument(format!(
            "flow patch size {} must be in 2..={}",
            p.patch,
            cpu::flow::MAX_PATCH
        )));
    }
    if p.stride == 0 || p.stride > p.patch {
        return Err(KernelError::InvalidArgument(format!(
            "flow patch stride {} must be in 1..={} (the patch size)",
            p.stride, p.patch
        )));
    }
    let cp = cpu::flow::Params {
        downscale: p.downscale,
        levels: p.levels,
        patch: p.patch as usize,
        stride: p.stride as usize,
        iterations: p.iterations as usize,
    };
    Ok(cp)
}

/// Backward warp of `channels` planes (`src`, CHW, `w` x `h`):
/// `out(p) = src(p + flow(p))`, bilinear, sampling coordinates clamped to
/// the image. `flow` is two planes (x then y).
pub fn warp(
    src: &[f32],
    channels: usize,
    w: usize,
    h: usize,
    flow: &[f32],
    out: &mut [f32],
) -> Result<(), KernelError> {
    check_warp([src.len(), flow.len(), out.len()], channels, w, h)?;
    cpu::interp::warp(src, channels, w, h, flow, out);
    Ok(())
}

/// The frame at time `t` (0..=1) between `f0` (t = 0) and `f1` (t = 1), CHW
/// RGB `w` x `h`, from `flow01` (f0 -> f1) and `flow10` (f1 -> f0) as made by
/// [`optical_flow`]. `t` = 0 and 1 return the frames themselves.
///
/// The flows from time t to both frames are `-t m` and `(1 - t) m`, `m`
/// being the motion at time t, estimated by forward splatting both flows
/// (not by Super SloMo's linear combination of `F01(x)` and `F10(x)`, which
/// is wrong at motion boundaries): each frame's pixels move to where they
/// are at time t, carrying their motion, and where several land on one spot
/// the well-matched ones win; spots nothing lands on are filled from around.
/// Both frames are backward-warped with those flows (bilinear) and blended
/// with weights `(1 - t) v0` and `t v1`. The visibilities come from each
/// frame's match quality `c = 1 / (1 + (e / 0.03)^2)^2`, `e` the colour
/// difference between a pixel and where its own flow sends it in the other
/// frame: with `o = 1 - c` at the two sampled pixels, `v0 = 1 - o1 (1 - o0)`
/// and `v1 = 1 - o0 (1 - o1)`, so that a sample that has no counterpart in
/// the other frame (background just uncovered, or about to be covered)
/// while the other frame's sample does (the occluder, which is elsewhere at
/// time t) is used alone. Where the two frames agree (static content: the
/// largest channel difference in the 3x3 neighbourhood is below 1/255,
/// fading out at 3/255) the output is `f0 + t (f1 - f0)` per pixel, i.e.
/// exactly the input when the frames are equal, whatever the flows say: no
/// shimmer. `ws` holds scratch buffers.
#[allow(clippy::too_many_arguments)] // mirrors the CUDA twin's flat signature
pub fn interpolate(
    f0: &[f32],
    f1: &[f32],
    w: usize,
    h: usize,
    flow01: &[f32],
    flow10: &[f32],
    t: f32,
    ws: &mut FlowWorkspace,
    out: &mut [f32],
) -> Result<(), KernelError> {
    interpolate_planes(f0, f1, w, h, cpu::interp::PlaneLayout::Rgb, flow01, flow10, t, ws, out)
}

/// [`interpolate`] on YUV 4:2:0 frames: each of `f0`, `f1` and `out` is a `w` x `h` luma plane
/// followed by two `ceil(w/2)` x `ceil(h/2)` chroma planes (U, V), values 0..1 as stored (see
/// [`yuv420_planes`](crate::yuv420_planes)); the flows are at luma resolution. The chroma
/// planes move by half the motion. Half the samples of the RGB planes, and no conversion for
/// I420 or NV12 video: about twice as fast. The match quality weighs luma differences by 3.5
/// and chroma ones by 2.4, about their share of an RGB difference.
#[allow(clippy::too_many_arguments)]
pub fn interpolate_yuv420(
    f0: &[f32],
    f1: &[f32],
    w: usize,
    h: usize,
    flow01: &[f32],
    flow10: &[f32],
    t: f32,
    ws: &mut FlowWorkspace,
    out: &mut [f32],
) -> Result<(), KernelError> {
    interpolate_planes(f0, f1, w, h, cpu::interp::PlaneLayout::Yuv420, flow01, flow10, t, ws, out)
}

#[allow(clippy::too_many_arguments)]
fn interpolate_planes(
    f0: &[f32],
    f1: &[f32],
    w: usize,
    h: usize,
    layout: cpu::interp::PlaneLayout,
    flow01: &[f32],
    flow10: &[f32],
    t: f32,
    ws: &mut FlowWorkspace,
    out: &mut [f32],
) -> Result<(), KernelError> {
    check_interpolate([f0, f1, flow01, flow10, out].map(<[f32]>::len), w, h, layout, t)?;
    cpu::interp::interpolate(f0, f1, w, h, layout, flow01, flow10, t, &mut ws.interp, out);
    Ok(())
}

/// The checks of `interpolate` (and its CUDA twin) on the lengths of frame 0, frame 1, the two
/// flows and the output.
pub(crate) fn check_interpolate(
    [f0, f1, flow01, flow10, out]: [usize; 5],
    w: usize,
    h: usize,
    layout: cpu::interp::PlaneLayout,
    t: f32,
) -> Result<(), KernelError> {
    let shape = match layout {
        cpu::interp::PlaneLayout::Rgb => "3",
        cpu::interp::PlaneLayout::Yuv420 => "yuv420",
    };
    plane_len(w, h, 3, "interpolate image")?;
    let need = layout.len(w, h);
    let flow_len = plane_len(w, h, 2, "flow")?;
    check_len("interpolate frame 0", f0, need, format_args!("{shape}x{h}x{w}"))?;
    check_len("interpolate frame 1", f1, need, format_args!("{shape}x{h}x{w}"))?;
    check_len("interpolate flow01", flow01, flow_len, format_args!("2x{h}x{w}"))?;
    check_len("interpolate flow10", flow10, flow_len, format_args!("2x{h}x{w}"))?;
    check_len("interpolate output", out, need, format_args!("{shape}x{h}x{w}"))?;
    if !(0.0..=1.0).contains(&t) {
        return Err(KernelError::InvalidArgument(format!("interpolation time {t} must be in 0..=1")));
    }
    Ok(())
}

/// Scene-change measure between two luma planes (`w` x `h`, values 0..1):
/// 0 = identical, towards 1 = unrelated. It is `1 - SSIM` (7x7 windows) of
/// 32x32 area-averaged thumbnails, taking the best over thumbnail shifts of
/// up to about a tenth of the frame, so that a pan or a zoom of the same
/// scene stays low while a cut between different pictures is high. On a
/// 288x208 photograph: panned by (14, -9) px 0.15, zoomed 1.1x 0.34, 10%
/// brighter 0.02; against a different photograph about 0.9, against itself
/// rotated by 180 degrees 0.74. A threshold around 0.6 separates the two.
/// (Practical-RIFE treats thumbnail SSIM < 0.2, i.e. a measure > 0.8, as a
/// cut.)
pub fn scene_change(a: &[f32], b: &[f32], w: usize, h: usize) -> Result<f32, KernelError> {
    let n = plane_len(w, h, 1, "scene_change image")?;
    check_len("scene_change image a", a.len(), n, format_args!("{h}x{w}"))?;
    check_len("scene_change image b", b.len(), n, format_args!("{h}x{w}"))?;
    Ok(cpu::scene::scene_change(a, b, w, h))
}
