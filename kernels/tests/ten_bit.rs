//! The 10-bit 4:2:0 formats of broadcast chains (I420_10LE, P010_10LE) through `pack` and
//! `unpack` with no loss to 8 bits: a 10-bit gradient comes back within one 10-bit step and
//! keeps far more than 256 levels, colours are stable through a second round trip, the words
//! hold their value in the right bits, 10-bit codes that are 8-bit values times 4 read exactly as
//! those 8-bit values, a region writes only its samples, and the CUDA twins refuse 10-bit frames
//! with an error saying so (where a GPU is present).

use gst_ai_kernels::{
    Colorimetry, Frame, FrameMut, KernelError, PixelFormat, Rect, TensorSpec, YuvMatrix, pack, unpack,
};

const LIMITED: Colorimetry = Colorimetry { matrix: YuvMatrix::Bt709, full_range: false };
const FULL: Colorimetry = Colorimetry { matrix: YuvMatrix::Bt2020, full_range: true };

/// A frame's planes in tight rows.
struct Planes {
    format: PixelFormat,
    w: usize,
    h: usize,
    data: Vec<Vec<u8>>,
    c: Colorimetry,
}

impl Planes {
    fn new(format: PixelFormat, w: usize, h: usize, c: Colorimetry) -> Self {
        let data = (0..format.n_planes())
            .map(|p| {
                let (row, rows) = format.plane_dims(p, w, h);
                vec![0u8; row * rows]
            })
            .collect();
        Self { format, w, h, data, c }
    }

    fn strides(&self) -> Vec<usize> {
        (0..self.format.n_planes()).map(|p| self.format.plane_dims(p, self.w, self.h).0).collect()
    }

    fn view(&self) -> Frame<'_> {
        let planes: Vec<&[u8]> = self.data.iter().map(Vec::as_slice).collect();
        Frame::new(self.format, self.w, self.h, &planes, &self.strides(), self.c).unwrap()
    }

    fn view_mut(&mut self) -> FrameMut<'_> {
        let strides = self.strides();
        let planes = self.data.iter_mut().map(Vec::as_mut_slice).collect();
        FrameMut::new(self.format, self.w, self.h, planes, &strides, self.c).unwrap()
    }

    /// The 16-bit words of plane `p`.
    fn words(&self, p: usize) -> Vec<u16> {
        self.data[p].chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect()
    }

    /// The 10-bit codes of Y (plane 0), and of U and V in sample order.
    fn codes(&self) -> [Vec<u16>; 3] {
        let shift = if self.format == PixelFormat::P010_10Le { 6 } else { 0 };
        let y = self.words(0).iter().map(|w| w >> shift).collect();
        if self.format == PixelFormat::P010_10Le {
            let uv: Vec<u16> = self.words(1).iter().map(|w| w >> shift).collect();
            [y, uv.iter().step_by(2).copied().collect(), uv.iter().skip(1).step_by(2).copied().collect()]
        } else {
            [y, self.words(1), self.words(2)]
        }
    }

    /// Writes 10-bit codes: Y from `luma(x, y)`, U and V from `chroma(cx, cy)`.
    fn fill(&mut self, luma: impl Fn(usize, usize) -> u16, chroma: impl Fn(usize, usize) -> (u16, u16)) {
        let (w, h, cw) = (self.w, self.h, self.w.div_ceil(2));
        let shift = if self.format == PixelFormat::P010_10Le { 6 } else { 0 };
        let put = |plane: &mut Vec<u8>, i: usize, v: u16| {
            plane[2 * i..2 * i + 2].copy_from_slice(&(v << shift).to_le_bytes())
        };
        for y in 0..h {
            for x in 0..w {
                put(&mut self.data[0], y * w + x, luma(x, y));
            }
        }
        for cy in 0..h.div_ceil(2) {
            for cx in 0..cw {
                let (u, v) = chroma(cx, cy);
                if self.format == PixelFormat::P010_10Le {
                    put(&mut self.data[1], 2 * (cy * cw + cx), u);
                    put(&mut self.data[1], 2 * (cy * cw + cx) + 1, v);
                } else {
                    put(&mut self.data[1], cy * cw + cx, u);
                    put(&mut self.data[2], cy * cw + cx, v);
                }
            }
        }
    }
}

fn round_trip(src: &Planes) -> Planes {
    let (w, h) = (src.w, src.h);
    let mut tensor = vec![0.0f32; 3 * w * h];
    pack(&src.view(), Rect::new(0, 0, w, h), TensorSpec::CANONICAL, &mut tensor).unwrap();
    let mut out = Planes::new(src.format, w, h, src.c);
    unpack(&tensor, w, h, TensorSpec::CANONICAL, 0, 0, &mut out.view_mut()).unwrap();
    out
}

fn max_diff(a: &[u16], b: &[u16]) -> u16 {
    a.iter().zip(b).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0)
}

fn levels(v: &[u16]) -> usize {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.dedup();
    v.len()
}

#[test]
fn a_ten_bit_gray_gradient_comes_back_within_one_step() {
    let (w, h) = (64, 16);
    for format in PixelFormat::TEN_BIT {
        for (c, lo, hi) in [(LIMITED, 64u16, 940u16), (FULL, 0, 1023)] {
            let mut src = Planes::new(format, w, h, c);
            let span = (hi - lo) as usize;
            src.fill(|x, y| lo + ((y * w + x) * span / (w * h - 1)) as u16, |_, _| (512, 512));
            let out = round_trip(&src);
            let (a, b) = (src.codes(), out.codes());
            assert!(max_diff(&a[0], &b[0]) <= 1, "{format} {c:?}: luma off by {}", max_diff(&a[0], &b[0]));
            assert!(max_diff(&a[1], &b[1]) <= 1 && max_diff(&a[2], &b[2]) <= 1, "{format} {c:?}: chroma moved");
            let n = levels(&b[0]);
            assert!(n > 800, "{format} {c:?}: {n} luma levels out of {}", levels(&a[0]));
        }
    }
}

#[test]
fn colours_are_stable_through_a_second_round_trip() {
    // A smooth colour field made from RGB, so every 10-bit frame is inside the RGB gamut; the
    // first unpack sets the codes, a pack and unpack of those give them back within one step.
    let (w, h) = (33, 17);
    let mut tensor = vec![0.0f32; 3 * w * h];
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let rgb = [0.1 + 0.8 * fx, 0.2 + 0.6 * fy, 0.9 - 0.7 * fx * fy];
            for (c, v) in rgb.iter().enumerate() {
                tensor[c * w * h + y * w + x] = *v;
            }
        }
    }
    for format in PixelFormat::TEN_BIT {
        for c in [LIMITED, FULL] {
            let mut first = Planes::new(format, w, h, c);
            unpack(&tensor, w, h, TensorSpec::CANONICAL, 0, 0, &mut first.view_mut()).unwrap();
            let second = round_trip(&first);
            let (a, b) = (first.codes(), second.codes());
            for p in 0..3 {
                assert!(max_diff(&a[p], &b[p]) <= 1, "{format} {c:?} plane {p}: off by {}", max_diff(&a[p], &b[p]));
            }
            assert!(a[0].iter().all(|&v| v <= 1023), "{format}: codes are 10-bit");
        }
    }
}

#[test]
fn words_hold_the_value_in_the_right_bits() {
    let (w, h) = (8, 4);
    let ramp: Vec<f32> = (0..3 * w * h).map(|i| (i % (w * h)) as f32 / (w * h) as f32).collect();
    let mut p010 = Planes::new(PixelFormat::P010_10Le, w, h, FULL);
    unpack(&ramp, w, h, TensorSpec::CANONICAL, 0, 0, &mut p010.view_mut()).unwrap();
    assert!(p010.words(0).iter().chain(&p010.words(1)).all(|w| w & 0x3f == 0), "P010: low 6 bits are zero");
    let mut i420 = Planes::new(PixelFormat::I420_10Le, w, h, FULL);
    unpack(&ramp, w, h, TensorSpec::CANONICAL, 0, 0, &mut i420.view_mut()).unwrap();
    assert!((0..3).flat_map(|p| i420.words(p)).all(|w| w <= 1023), "I420_10LE: high 6 bits are zero");
    assert_eq!(p010.codes(), i420.codes(), "the same codes in either layout");
}

#[test]
fn limited_range_codes_four_times_a_byte_read_as_that_byte() {
    let (w, h) = (10, 6);
    let mut eight = Planes::new(PixelFormat::I420, w, h, LIMITED);
    let luma = |x: usize, y: usize| (16 + (x * 23 + y * 31) % 219) as u8;
    let chroma = |x: usize, y: usize| ((16 + (x * 41 + y * 13) % 224) as u8, (16 + (x * 7 + y * 53) % 224) as u8);
    for y in 0..h {
        for x in 0..w {
            eight.data[0][y * w + x] = luma(x, y);
        }
    }
    for cy in 0..h / 2 {
        for cx in 0..w / 2 {
            let (u, v) = chroma(cx, cy);
            eight.data[1][cy * (w / 2) + cx] = u;
            eight.data[2][cy * (w / 2) + cx] = v;
        }
    }
    let mut want = vec![0.0f32; 3 * w * h];
    pack(&eight.view(), Rect::new(0, 0, w, h), TensorSpec::CANONICAL, &mut want).unwrap();
    for format in PixelFormat::TEN_BIT {
        let mut ten = Planes::new(format, w, h, LIMITED);
        ten.fill(
            |x, y| 4 * u16::from(luma(x, y)),
            |x, y| {
                let (u, v) = chroma(x, y);
                (4 * u16::from(u), 4 * u16::from(v))
            },
        );
        let mut got = vec![0.0f32; 3 * w * h];
        pack(&ten.view(), Rect::new(0, 0, w, h), TensorSpec::CANONICAL, &mut got).unwrap();
        assert_eq!(got, want, "{format}");
    }
}

#[test]
fn a_region_of_a_ten_bit_frame_writes_only_its_samples() {
    let (w, h) = (10, 8);
    for format in PixelFormat::TEN_BIT {
        let mut f = Planes::new(format, w, h, LIMITED);
        f.fill(|_, _| 100, |_, _| (300, 700));
        let before = f.codes();
        {
            let mut frame = f.view_mut();
            let mut sub = frame.region(2, 4, 4, 4).unwrap();
            unpack(&[1.0f32; 3 * 16], 4, 4, TensorSpec::CANONICAL, 0, 0, &mut sub).unwrap();
            assert!(frame.region(1, 0, 2, 2).is_err(), "{format}: odd x on 4:2:0");
        }
        let after = f.codes();
        for y in 0..h {
            for x in 0..w {
                let inside = (2..6).contains(&x) && (4..8).contains(&y);
                let (a, b) = (before[0][y * w + x], after[0][y * w + x]);
                assert_eq!(a != b, inside, "{format} luma ({x},{y}): {a} -> {b}");
            }
        }
        for cy in 0..h / 2 {
            for cx in 0..w / 2 {
                let inside = (1..3).contains(&cx) && (2..4).contains(&cy);
                let i = cy * (w / 2) + cx;
                assert_eq!(before[1][i] != after[1][i], inside, "{format} U ({cx},{cy})");
            }
        }
    }
}

#[test]
fn the_cuda_twins_refuse_ten_bit_frames() -> Result<(), KernelError> {
    let Ok(gpu) = gst_ai_kernels::cuda::Gpu::new(0) else {
        eprintln!("the_cuda_twins_refuse_ten_bit_frames: skipped, no CUDA device");
        return Ok(());
    };
    for format in PixelFormat::TEN_BIT {
        let mut f = Planes::new(format, 4, 4, LIMITED);
        let mut out = vec![0.0f32; 48];
        let e = gpu.pack(&f.view(), Rect::new(0, 0, 4, 4), TensorSpec::CANONICAL, &mut out).unwrap_err();
        assert!(e.to_string().contains("8-bit formats only"), "{e}");
        let e = gpu.unpack(&out, 4, 4, TensorSpec::CANONICAL, 0, 0, &mut f.view_mut()).unwrap_err();
        assert!(e.to_string().contains("8-bit formats only"), "{e}");
    }
    Ok(())
}
