//! Sampling helpers of `interpolate`: branch-free clamps and floors, bilinear taps, and the
//! taps of a chunk of `LANES` pixels (bilinear or bicubic) with their gathers.

/// `x` limited to `lo..=hi` (NaN gives `lo`). Unlike `f32::clamp`, `max`
/// and `min`, which handle NaN and panic on bad bounds, this is two
/// instructions (`maxss`, `minss`), in loops as in vectors.
#[inline(always)]
pub(super) fn clampf(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x > lo { x } else { lo };
    if x < hi { x } else { hi }
}

/// Adding this to a float in `0..2^23` rounds it to an integer held in the mantissa bits.
pub(super) const MAGIC: f32 = 8_388_608.0;

/// `(min(floor(v), top), v - that)` for `0 <= v < 2^22`, branch-free and
/// without a float-to-int conversion (Rust's saturating `as` costs about
/// ten instructions with NaN and range checks): the floor of `floor_top`,
/// read from the mantissa bits after adding [`MAGIC`].
#[inline(always)]
pub(super) fn floor_split(v: f32, top: f32) -> (usize, f32) {
    let (fl, f) = floor_top(v, top);
    (((fl + MAGIC).to_bits() - MAGIC.to_bits()) as usize, f)
}

/// `(min(floor(v), top), v - that)` for `0 <= v < 2^22`, the floor as f32.
#[inline(always)]
pub(super) fn floor_top(v: f32, top: f32) -> (f32, f32) {
    let r = (v + MAGIC) - MAGIC;
    let fl = r - if r > v { 1.0 } else { 0.0 };
    let fl = if fl < top { fl } else { top };
    (fl, v - fl)
}

/// The larger of `a` and `b` (`b` if either is NaN), one `maxss`.
#[inline(always)]
pub(super) fn maxf(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// Bilinear taps of a `w` x `h` plane (both at least 2) at (x, y), clamped
/// to the image: the top-left tap (never on the last row or column; the
/// fraction is 1 there instead) and the two fractions.
#[inline(always)]
pub(super) fn plane_taps(x: f32, y: f32, w: usize, h: usize) -> Taps {
    let (ix, fx) = floor_split(clampf(x, 0.0, (w - 1) as f32), (w - 2) as f32);
    let (iy, fy) = floor_split(clampf(y, 0.0, (h - 1) as f32), (h - 2) as f32);
    Taps { ix, iy, fx, fy }
}

/// Top-left tap and fractions of a bilinear sample (see `plane_taps`).
#[derive(Clone, Copy)]
pub(super) struct Taps {
    pub(super) ix: usize,
    pub(super) iy: usize,
    pub(super) fx: f32,
    pub(super) fy: f32,
}

/// Bilinear value of plane `p` (rows of `w`) at the taps.
#[inline(always)]
pub(super) fn sample1(p: &[f32], w: usize, Taps { ix, iy, fx, fy }: Taps) -> f32 {
    // One bounds check for the four taps.
    let q = &p[iy * w + ix..][..w + 2];
    let top = q[0] + fx * (q[1] - q[0]);
    let bottom = q[w] + fx * (q[w + 1] - q[w]);
    top + fy * (bottom - top)
}

/// Pixels per chunk of the motion-compensation loop.
pub(super) const LANES: usize = 8;

/// Taps of `LANES` pixels of a row: index of the top-left bilinear tap and
/// the two fractions per lane, and when every lane's 4x4 neighbourhood lies
/// inside the plane, the Catmull-Rom weights of each lane (bicubic sampling:
/// sharper than bilinear at the half-pixel positions of a midpoint, +0.37 dB
/// on bikes.mp4; a chunk at the border samples bilinearly).
pub(super) struct ChunkTaps {
    pub(super) index: [usize; LANES],
    pub(super) fx: [f32; LANES],
    pub(super) fy: [f32; LANES],
    pub(super) cubic: bool,
}

/// Catmull-Rom weights along x and y of each lane of a `ChunkTaps`.
pub(super) struct CubicWeights {
    pub(super) kx: [[f32; 4]; LANES],
    pub(super) ky: [[f32; 4]; LANES],
}

impl ChunkTaps {
    /// Taps of pixels `x0 + l` of row `y` moved by `k` times the motion
    /// `m[0]`, `m[1]`; bicubic ones if `cubic` and the chunk allows. The
    /// arithmetic stays in f32 lanes (which vectorise) up to the tap's index:
    /// `plane_taps`' floor and fractions exactly, the index `iy w + ix` an
    /// integer below 2^23 and so exact in f32 (the caller's `exact_index`).
    #[inline(always)]
    pub(super) fn new(x0: usize, y: f32, k: f32, m: &[[f32; LANES]; 3], w: usize, h: usize, cubic: bool) -> Self {
        let (wf, hf) = (w as f32, h as f32);
        let (xmax, ymax, xtop, ytop) = (wf - 1.0, hf - 1.0, wf - 2.0, hf - 2.0);
        let x0 = x0 as f32;
        let mut index = [0.0f32; LANES];
        let mut t = Self { index: [0; LANES], fx: [0.0; LANES], fy: [0.0; LANES], cubic };
        let mut inside = [true; LANES];
        for l in 0..LANES {
            let (ix, fx) = floor_top(clampf(x0 + l as f32 + k * m[0][l], 0.0, xmax), xtop);
            let (iy, fy) = floor_top(clampf(y + k * m[1][l], 0.0, ymax), ytop);
            index[l] = iy * wf + ix;
            t.fx[l] = fx;
            t.fy[l] = fy;
            if cubic {
                inside[l] = (ix >= 1.0) & (iy >= 1.0) & (ix + 2.0 < wf) & (iy + 2.0 < hf);
            }
        }
        // The integer in the mantissa bits (index < 2^23).
        for (i, &v) in t.index.iter_mut().zip(&index) {
            *i = ((v + MAGIC).to_bits() - MAGIC.to_bits()) as usize;
        }
        if cubic {
            t.cubic = inside.iter().all(|&i| i);
        }
        t
    }

    /// `new` for planes too large for `new`'s f32 index (2^23 pixels or more).
    #[inline(always)]
    pub(super) fn new_large(x0: usize, y: f32, k: f32, m: &[[f32; LANES]; 3], w: usize, h: usize, cubic: bool) -> Self {
        let mut t = Self { index: [0; LANES], fx: [0.0; LANES], fy: [0.0; LANES], cubic };
        let x0 = x0 as f32;
        for (l, (mx, my)) in m[0].iter().zip(&m[1]).enumerate() {
            let Taps { ix, iy, fx, fy } = plane_taps(x0 + l as f32 + k * mx, y + k * my, w, h);
            t.index[l] = iy * w + ix;
            t.fx[l] = fx;
            t.fy[l] = fy;
            t.cubic &= ix >= 1 && iy >= 1 && ix + 2 < w && iy + 2 < h;
        }
        t
    }

    /// The bicubic weights of the lanes.
    #[inline(always)]
    pub(super) fn weights(&self) -> CubicWeights {
        CubicWeights { kx: self.fx.map(catmull_rom), ky: self.fy.map(catmull_rom) }
    }

    /// Bicubic values of plane `p` (rows of `w`) at the taps, weighted by `k`.
    #[inline(always)]
    pub(super) fn gather_cubic(&self, p: &[f32], w: usize, k: &CubicWeights) -> [f32; LANES] {
        let mut out = [0.0; LANES];
        for l in 0..LANES {
            // One bounds check for the sixteen taps.
            let q = &p[self.index[l] - w - 1..][..3 * w + 4];
            let (kx, ky) = (&k.kx[l], &k.ky[l]);
            let mut v = 0.0;
            for (r, wy) in ky.iter().enumerate() {
                let row = &q[r * w..][..4];
                v += wy * (kx[0] * row[0] + kx[1] * row[1] + kx[2] * row[2] + kx[3] * row[3]);
            }
            out[l] = v;
        }
        out
    }

    /// Bilinear values of plane `p` (rows of `w`) at the taps: the loads
    /// lane by lane, then the arithmetic on whole lanes (vectorised).
    #[inline(always)]
    pub(super) fn gather(&self, p: &[f32], w: usize) -> [f32; LANES] {
        let mut q = [[0.0f32; LANES]; 4];
        for l in 0..LANES {
            // One bounds check for the four taps.
            let r = &p[self.index[l]..][..w + 2];
            (q[0][l], q[1][l], q[2][l], q[3][l]) = (r[0], r[1], r[w], r[w + 1]);
        }
        let mut out = [0.0; LANES];
        for l in 0..LANES {
            let top = q[0][l] + self.fx[l] * (q[1][l] - q[0][l]);
            let bottom = q[2][l] + self.fx[l] * (q[3][l] - q[2][l]);
            out[l] = top + self.fy[l] * (bottom - top);
        }
        out
    }
}

/// Catmull-Rom weights of the four taps around a sample at fraction `f` past the second.
#[inline(always)]
pub(super) fn catmull_rom(f: f32) -> [f32; 4] {
    let (f2, f3) = (f * f, f * f * f);
    [0.5 * (-f3 + 2.0 * f2 - f), 0.5 * (3.0 * f3 - 5.0 * f2 + 2.0), 0.5 * (-3.0 * f3 + 4.0 * f2 + f), 0.5 * (f3 - f2)]
}

/// `st + k (a + alpha (b - a) - st)`: the motion-compensated blend of `a`
/// and `b` over the static value `st`.
#[inline(always)]
pub(super) fn blend(st: f32, a: f32, b: f32, alpha: f32, k: f32) -> f32 {
    st + k * (a + alpha * (b - a) - st)
}
