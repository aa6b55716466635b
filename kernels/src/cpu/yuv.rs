//! RGB <-> YUV coefficients for a `Colorimetry`, folded into one multiply-add
//! per term in 0..255 units, and the row loops that apply them. Limited
//! range: Y = 16 + 219 Y', U/V = 128 + 224 C'; full range: Y = 255 Y',
//! U/V = 128 + 255 C'. The two directions are exact inverses before rounding.

use crate::frame::Colorimetry;

fn gains(c: Colorimetry) -> (f64, f64, f64) {
    if c.full_range { (0.0, 255.0, 255.0) } else { (16.0, 219.0, 224.0) }
}

/// YUV bytes -> RGB in 0..255. `repr(C)`: passed as is to the CUDA kernels (`convert.cu`).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct YuvToRgb {
    y_off: f32,
    y_gain: f32,
    rv: f32,
    gu: f32,
    gv: f32,
    bu: f32,
}

impl YuvToRgb {
    pub(crate) fn new(c: Colorimetry) -> Self {
        let (kr, kb) = c.matrix.kr_kb();
        let kg = 1.0 - kr - kb;
        let (y_off, y_range, c_range) = gains(c);
        let c_gain = 255.0 / c_range;
        Self {
            y_off: y_off as f32,
            y_gain: (255.0 / y_range) as f32,
            rv: (c_gain * 2.0 * (1.0 - kr)) as f32,
            gu: (-c_gain * 2.0 * kb * (1.0 - kb) / kg) as f32,
            gv: (-c_gain * 2.0 * kr * (1.0 - kr) / kg) as f32,
            bu: (c_gain * 2.0 * (1.0 - kb)) as f32,
        }
    }

    /// Converts rows holding Y, U, V byte values in place into R, G, B
    /// clamped to 0..255.
    pub(crate) fn convert(&self, [y, u, v]: [&mut [f32]; 3]) {
        for ((y, u), v) in y.iter_mut().zip(u.iter_mut()).zip(v.iter_mut()) {
            let luma = (*y - self.y_off) * self.y_gain;
            let (cb, cr) = (*u - 128.0, *v - 128.0);
            *y = (luma + self.rv * cr).clamp(0.0, 255.0);
            *u = (luma + self.gu * cb + self.gv * cr).clamp(0.0, 255.0);
            *v = (luma + self.bu * cb).clamp(0.0, 255.0);
        }
    }
}

/// RGB in 0..255 -> Y, and U/V without their +128 offset (so chroma can be
/// summed over a block before offsetting and rounding). `repr(C)`: passed as is to the CUDA
/// kernels (`convert.cu`).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct RgbToYuv {
    y_off: f32,
    y: [f32; 3],
    u: [f32; 3],
    v: [f32; 3],
}

impl RgbToYuv {
    pub(crate) fn new(c: Colorimetry) -> Self {
        let (kr, kb) = c.matrix.kr_kb();
        let kg = 1.0 - kr - kb;
        let (y_off, y_range, c_range) = gains(c);
        let (ys, cs) = (y_range / 255.0, c_range / 255.0);
        let (du, dv) = (2.0 * (1.0 - kb), 2.0 * (1.0 - kr));
        let f = |a: [f64; 3]| a.map(|v| v as f32);
        Self {
            y_off: y_off as f32,
            y: f([ys * kr, ys * kg, ys * kb]),
            u: f([-cs * kr / du, -cs * kg / du, cs * (1.0 - kb) / du]),
            v: f([cs * (1.0 - kr) / dv, -cs * kg / dv, -cs * kb / dv]),
        }
    }

    /// Luma of one row of clamped R, G, B, unrounded (0..255 scale).
    pub(crate) fn luma_values(&self, [r, g, b]: [&[f32]; 3], out: &mut [f32]) {
        let [kr, kg, kb] = self.y;
        for (((o, &r), &g), &b) in out.iter_mut().zip(r).zip(g).zip(b) {
            *o = self.y_off + kr * r + kg * g + kb * b;
        }
    }

    /// Writes rounded luma for one row of clamped R, G, B.
    pub(crate) fn luma(&self, [r, g, b]: [&[f32]; 3], out: &mut [u8]) {
        let [kr, kg, kb] = self.y;
        for (((o, &r), &g), &b) in out.iter_mut().zip(r).zip(g).zip(b) {
            *o = super::to_u8(self.y_off + kr * r + kg * g + kb * b);
        }
    }

    /// Sets (`first`) or adds to `u`/`v` the offset-free chroma of each pixel.
    pub(crate) fn chroma(&self, [r, g, b]: [&[f32]; 3], u: &mut [f32], v: &mut [f32], first: bool) {
        let ([ur, ug, ub], [vr, vg, vb]) = (self.u, self.v);
        let pixels = u.iter_mut().zip(v.iter_mut()).zip(r).zip(g).zip(b);
        if first {
            for ((((u, v), &r), &g), &b) in pixels {
                *u = ur * r + ug * g + ub * b;
                *v = vr * r + vg * g + vb * b;
            }
        } else {
            for ((((u, v), &r), &g), &b) in pixels {
                *u += ur * r + ug * g + ub * b;
                *v += vr * r + vg * g + vb * b;
            }
        }
    }
}

/// 10-bit sample codes <-> the 0..255 scale the kernels compute in, as GStreamer maps them:
/// limited range is the 8-bit values times 4 (Y 64..940, U/V 64..960, 512 neutral), full range
/// spans 0..1023 (U/V neutral at 512). Values keep their fraction on the 0..255 scale, so nothing
/// is rounded to 8 bits on the way.
#[derive(Clone, Copy)]
pub(crate) struct TenBit {
    /// 0..255-scale units per code.
    gain: f32,
}

impl TenBit {
    pub(crate) fn new(c: Colorimetry) -> Self {
        Self { gain: if c.full_range { 255.0 / 1023.0 } else { 0.25 } }
    }

    #[inline(always)]
    pub(crate) fn luma(self, code: u16) -> f32 {
        f32::from(code) * self.gain
    }

    #[inline(always)]
    pub(crate) fn chroma(self, code: u16) -> f32 {
        128.0 + (f32::from(code) - 512.0) * self.gain
    }

    /// The rounded code of a luma value on the 0..255 scale, clamped to 0..1023 (NaN: 0).
    #[inline(always)]
    pub(crate) fn luma_code(self, v: f32) -> u16 {
        ((v / self.gain + 0.5) as u16).min(1023)
    }

    /// The rounded code of a chroma value (with its +128) on the 0..255 scale, clamped.
    #[inline(always)]
    pub(crate) fn chroma_code(self, v: f32) -> u16 {
        ((512.0 + (v - 128.0) / self.gain + 0.5) as u16).min(1023)
    }
}
