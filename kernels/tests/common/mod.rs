//! Helpers shared by the integration tests: a seeded RNG, owned frame
//! storage with padded strides, and independent index/value formulas the
//! kernels' results are checked against.
#![allow(dead_code)]

pub mod half_twins;
pub mod interp_twins;
pub mod mouth_twins;
pub mod pixel_twins;
pub mod twins;

use gst_ai_kernels::{
    ChannelOrder, Colorimetry, Frame, FrameMut, KernelError, Layout, PixelFormat, TensorSpec, ValueRange,
};

/// xorshift64*: deterministic and dependency-free.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn byte(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Every layout x range x order combination.
pub fn all_specs() -> Vec<TensorSpec> {
    let mut specs = Vec::new();
    for layout in [Layout::Nchw, Layout::Nhwc] {
        for range in [ValueRange::Unit, ValueRange::Signed, ValueRange::Byte] {
            for order in [ChannelOrder::Rgb, ChannelOrder::Bgr] {
                specs.push(TensorSpec { layout, range, order });
            }
        }
    }
    specs
}

/// Index of canonical channel `c` (0 = R) of pixel (x, y) in a w x h tensor.
pub fn tidx(spec: TensorSpec, w: usize, h: usize, c: usize, x: usize, y: usize) -> usize {
    let c = match spec.order {
        ChannelOrder::Rgb => c,
        ChannelOrder::Bgr => 2 - c,
    };
    match spec.layout {
        Layout::Nchw => c * w * h + y * w + x,
        Layout::Nhwc => (y * w + x) * 3 + c,
    }
}

pub fn byte_to(range: ValueRange, b: f32) -> f32 {
    match range {
        ValueRange::Unit => b / 255.0,
        ValueRange::Signed => b / 127.5 - 1.0,
        ValueRange::Byte => b,
    }
}

pub fn to_byte(range: ValueRange, v: f32) -> f32 {
    match range {
        ValueRange::Unit => v * 255.0,
        ValueRange::Signed => (v + 1.0) * 127.5,
        ValueRange::Byte => v,
    }
}

/// Converts a canonical (NCHW, RGB, 0..1) tensor to `spec`.
pub fn from_canonical(canon: &[f32], w: usize, h: usize, spec: TensorSpec) -> Vec<f32> {
    let mut out = vec![0.0; canon.len()];
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                let v = canon[c * w * h + y * w + x];
                out[tidx(spec, w, h, c, x, y)] = byte_to(spec.range, v * 255.0);
            }
        }
    }
    out
}

/// Iterative mirror, written independently of the kernel's periodic formula.
pub fn mirror(mut i: i64, n: usize) -> usize {
    let n = n as i64;
    if n == 1 {
        return 0;
    }
    loop {
        if i < 0 {
            i = -i;
        } else if i >= n {
            i = 2 * (n - 1) - i;
        } else {
            return i as usize;
        }
    }
}

/// Frame memory with `pad` spare bytes after each row; the last row of each
/// plane is left without padding, the tightest layout validation accepts.
pub struct OwnedFrame {
    pub format: PixelFormat,
    pub width: usize,
    pub height: usize,
    pub planes: Vec<Vec<u8>>,
    pub strides: Vec<usize>,
    pub colorimetry: Colorimetry,
}

impl OwnedFrame {
    pub fn filled(
        format: PixelFormat,
        width: usize,
        height: usize,
        pad: usize,
        colorimetry: Colorimetry,
        mut fill: impl FnMut() -> u8,
    ) -> Self {
        let mut planes = Vec::new();
        let mut strides = Vec::new();
        for p in 0..format.n_planes() {
            let (row, rows) = format.plane_dims(p, width, height);
            let stride = row + pad;
            planes.push((0..stride * (rows - 1) + row).map(|_| fill()).collect());
            strides.push(stride);
        }
        Self { format, width, height, planes, strides, colorimetry }
    }

    pub fn random(format: PixelFormat, w: usize, h: usize, pad: usize, rng: &mut Rng) -> Self {
        Self::filled(format, w, h, pad, Colorimetry::default(), || rng.byte())
    }

    pub fn view(&self) -> Result<Frame<'_>, KernelError> {
        let planes: Vec<&[u8]> = self.planes.iter().map(Vec::as_slice).collect();
        Frame::new(self.format, self.width, self.height, &planes, &self.strides, self.colorimetry)
    }

    pub fn view_mut(&mut self) -> Result<FrameMut<'_>, KernelError> {
        let planes = self.planes.iter_mut().map(Vec::as_mut_slice).collect();
        FrameMut::new(self.format, self.width, self.height, planes, &self.strides, self.colorimetry)
    }

    pub fn bpp(&self) -> usize {
        self.format.plane_dims(0, 1, 1).0
    }

    /// The bytes of pixel (x, y) of a single-plane format.
    pub fn pixel(&self, x: usize, y: usize) -> &[u8] {
        let bpp = self.bpp();
        &self.planes[0][y * self.strides[0] + x * bpp..][..bpp]
    }

    /// R, G, B of pixel (x, y) of a packed or gray frame.
    pub fn rgb(&self, x: usize, y: usize) -> [u8; 3] {
        let p = self.pixel(x, y);
        match self.format {
            PixelFormat::Rgb | PixelFormat::Rgba | PixelFormat::Rgbx => [p[0], p[1], p[2]],
            PixelFormat::Bgr | PixelFormat::Bgra | PixelFormat::Bgrx => [p[2], p[1], p[0]],
            PixelFormat::Gray8 => [p[0]; 3],
            f => panic!("rgb() of {f}"),
        }
    }
}
