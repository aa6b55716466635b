//! `crate::interpolate` and `crate::interpolate_yuv420` on a `Device` (the `interp_*` and `pp_*`
//! kernels of warp.cu): the CPU's steps (kernels/src/cpu/interp/) one launch each, with the
//! same arithmetic in the same order, so the frame made is the CPU's bit for bit. The nodes, the
//! splat's fixed-point sums, the push-pull pyramid and the field stay on the device;
//! `interpolate_on` takes and gives device buffers (the frames and flows of a chain that stays
//! there, as `flow_ops`' flows).

use super::device::{Call, Device, download, grid1, grid2, upload, zeros};
use super::ops::int;
use crate::KernelError;
use crate::cpu::interp::{BICUBIC_PIXELS, MATCH_SCALE, NodeGrid, PlaneLayout, SPLAT_FLOOR, STATIC_HI, STATIC_LO};
use crate::flow::check_interpolate;

/// Pixels per thread of `interp_compose` (`INTERP_LANES` in warp.cu, the CPU's `LANES`).
const LANES: usize = 8;

/// `crate::interpolate` on `d`: RGB planes (3 x `h` x `w`) in host memory.
#[allow(clippy::too_many_arguments)] // the arguments of `crate::interpolate`
pub fn interpolate<D: Device>(
    d: &D,
    f0: &[f32],
    f1: &[f32],
    w: usize,
    h: usize,
    flow01: &[f32],
    flow10: &[f32],
    t: f32,
    out: &mut [f32],
) -> Result<(), KernelError> {
    from_host(d, [f0, f1, flow01, flow10], w, h, false, t, out)
}

/// `crate::interpolate_yuv420` on `d`: 4:2:0 planes (luma, then U and V at half size).
#[allow(clippy::too_many_arguments)] // the arguments of `crate::interpolate_yuv420`
pub fn interpolate_yuv420<D: Device>(
    d: &D,
    f0: &[f32],
    f1: &[f32],
    w: usize,
    h: usize,
    flow01: &[f32],
    flow10: &[f32],
    t: f32,
    out: &mut [f32],
) -> Result<(), KernelError> {
    from_host(d, [f0, f1, flow01, flow10], w, h, true, t, out)
}

fn from_host<D: Device>(
    d: &D,
    inputs: [&[f32]; 4],
    w: usize,
    h: usize,
    yuv420: bool,
    t: f32,
    out: &mut [f32],
) -> Result<(), KernelError> {
    let layout = if yuv420 { PlaneLayout::Yuv420 } else { PlaneLayout::Rgb };
    let [f0, f1, flow01, flow10] = inputs;
    check_interpolate([f0.len(), f1.len(), flow01.len(), flow10.len(), out.len()], w, h, layout, t)?;
    let [a, b, fa, fb] = inputs.map(|v| upload(d, v));
    let mut o = zeros::<D, f32>(d, out.len())?;
    interpolate_on(d, &a?, &b?, w, h, yuv420, &fa?, &fb?, t, &mut o)?;
    download(d, &o, out)
}

/// `crate::interpolate` (or, with `yuv420`, `crate::interpolate_yuv420`) on device buffers: the
/// two frames, the two flows (2 x `h` x `w` each) and the output, each holding exactly its
/// tensor's values (f32). The launches are queued on the device's stream; nothing is read back.
#[allow(clippy::too_many_arguments)]
pub fn interpolate_on<D: Device>(
    d: &D,
    f0: &D::Buffer,
    f1: &D::Buffer,
    w: usize,
    h: usize,
    yuv420: bool,
    flow01: &D::Buffer,
    flow10: &D::Buffer,
    t: f32,
    out: &mut D::Buffer,
) -> Result<(), KernelError> {
    let layout = if yuv420 { PlaneLayout::Yuv420 } else { PlaneLayout::Rgb };
    let lens = [f0, f1, flow01, flow10, &*out].map(|b| d.len(b) / 4);
    check_interpolate(lens, w, h, layout, t)?;
    // The end points are the frames themselves.
    if t == 0.0 || t == 1.0 {
        return d.copy(if t == 0.0 { f0 } else { f1 }, out);
    }
    let grid = NodeGrid::new(w, h);
    let (gw, gh, gn) = (grid.gw, grid.gh, grid.gw * grid.gh);
    let (wi, hi, gwi, ghi, g) = (
        int(w, "width")?,
        int(h, "height")?,
        int(gw, "node columns")?,
        int(gh, "node rows")?,
        int(grid.g, "node spacing")?,
    );
    // Both frames' nodes, one z layer per frame.
    let nodes_launch = |n: usize| {
        let (mut grid, block) = grid2(gw, gh);
        grid[2] = n as u32;
        (grid, block)
    };
    let nodes = zeros::<D, f32>(d, 2 * gn * 3)?;
    let mut call = Call::new("interp_nodes", nodes_launch(2));
    call.buffer(f0).buffer(f1).buffer(flow01).buffer(flow10).value(wi).value(hi).value(i32::from(yuv420));
    call.value(g).value(gwi).value(ghi).value(1.0f32 / (3.0 * MATCH_SCALE)).buffer(&nodes);
    // SAFETY: the arguments match `interp_nodes`; threads outside gw x gh return; node (i, j)
    // reads the pixel (min(i g + g/2, w - 1), min(j g + g/2, h - 1)) of its frame and flow, and
    // the other frame's bilinear taps, clamped into each plane (lengths checked above), and
    // writes its 3 values of frame z's gw x gh block of `nodes`.
    unsafe { d.launch(&call) }?;
    let acc = zeros::<D, i64>(d, gn * 4)?;
    let mut call = Call::new("interp_splat", nodes_launch(2));
    call.buffer(&nodes).value(gwi).value(ghi).value(grid.inv_g).value(t).value(SPLAT_FLOOR).buffer(&acc);
    // SAFETY: the arguments match `interp_splat`; threads outside gw x gh return; each reads its
    // node and adds, atomically, into the 4 sums of at most 4 nodes inside gw x gh (the landing
    // position is checked to lie in -1 < x < gw, -1 < y < gh, and taps at 0 or past gw, gh are
    // skipped).
    unsafe { d.launch(&call) }?;
    let mut levels = vec![(zeros::<D, f32>(d, gn * 3)?, gw, gh)];
    let mut call = Call::new("interp_merge", grid1(gn));
    call.buffer(&acc).value(gn as i64).buffer(&levels[0].0);
    // SAFETY: the arguments match `interp_merge`; threads at or past gn return; each reads its 4
    // sums and writes its 3 values.
    unsafe { d.launch(&call) }?;
    // Pull: ever coarser averages, down to one entry.
    while let Some(&(_, lw, lh)) = levels.last().filter(|l| l.1 > 1 || l.2 > 1) {
        let (cw, ch) = (lw.div_ceil(2), lh.div_ceil(2));
        let coarse = zeros::<D, f32>(d, cw * ch * 3)?;
        let mut call = Call::new("pp_pull", grid2(cw, ch));
        call.buffer(&levels.last().expect("a level").0).value(int(lw, "level width")?).value(int(lh, "level height")?);
        call.buffer(&coarse).value(int(cw, "level width")?).value(int(ch, "level height")?);
        // SAFETY: the arguments match `pp_pull`; threads outside cw x ch return; entry (x, y)
        // reads fine entries 2x..2x+1, 2y..2y+1 below lw, lh, and writes its own 3 values.
        unsafe { d.launch(&call) }?;
        levels.push((coarse, cw, ch));
    }
    // Push: coarse to fine, the coarsest from zero motion.
    let zero = zeros::<D, f32>(d, 3)?;
    for l in (0..levels.len()).rev() {
        let (level, lw, lh) = &levels[l];
        let (parent, pw) = levels.get(l + 1).map_or((&zero, 1), |p| (&p.0, p.1));
        let mut call = Call::new("pp_push", grid2(*lw, *lh));
        call.buffer(level).value(int(*lw, "level width")?).value(int(*lh, "level height")?).buffer(parent);
        call.value(int(pw, "level width")?);
        // SAFETY: the arguments match `pp_push`; threads outside lw x lh return; entry (x, y)
        // updates its own 3 values and reads its parent (x/2, y/2), inside the next level's
        // ceil(lw/2) x ceil(lh/2) entries (or the single zero entry of the coarsest level).
        unsafe { d.launch(&call) }?;
    }
    let field = zeros::<D, f32>(d, gn * 4)?;
    let mut call = Call::new("interp_visibility", grid2(gw, gh));
    call.buffer(&nodes).buffer(&levels[0].0).value(g).value(gwi).value(ghi).value(grid.inv_g).value(t).buffer(&field);
    // SAFETY: the arguments match `interp_visibility`; threads outside gw x gh return; node
    // (i, j) reads its motion, the consistencies of both frames' node grids at taps clamped into
    // gw x gh, and writes its 4 values of `field`.
    unsafe { d.launch(&call) }?;
    let inv_static = 1.0 / (STATIC_HI - STATIC_LO);
    for pg in layout.groups(w, h) {
        let s = pg.s as f32;
        let start = |k: usize| pg.starts.get(k).copied().unwrap_or(pg.starts[0]) as i64;
        let cubic = pg.w * pg.h * pg.s * pg.s <= BICUBIC_PIXELS;
        let mut call = Call::new("interp_compose", grid2(pg.w.div_ceil(LANES), pg.h));
        call.buffer(f0).buffer(f1).buffer(&*out).value(start(0)).value(start(1)).value(start(2));
        call.value(pg.starts.len() as i32).value(int(pg.w, "plane width")?).value(int(pg.h, "plane height")?).value(s);
        call.buffer(&field).value(gwi).value(ghi).value(grid.inv_g).value(t).value(-t / s).value((1.0 - t) / s);
        call.value(i32::from(cubic)).value(STATIC_HI).value(inv_static);
        // SAFETY: the arguments match `interp_compose`; threads whose chunk starts at or past the
        // plane's width, or whose row is past its height, return; each writes the pixels of its
        // chunk of its row in the group's planes (all inside the frame: the group's planes lie
        // at `starts` with w x h values each), and reads the frames' pixels around them, taps
        // clamped into the plane (bicubic ones only where all 4 x 4 lie inside), and the field's
        // nodes clamped into gw x gh.
        unsafe { d.launch(&call) }?;
    }
    Ok(())
}
