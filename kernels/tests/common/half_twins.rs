//! The f16 conversion kernels (`to_f16`, `from_f16` in convert.cu) against the `half` crate,
//! on any `Device`: every special class (zeros, subnormals on both sides, the smallest and
//! largest normals, ties at every rounding position, overflow to infinity, infinities, NaNs with
//! payloads) and random bit patterns; and every one of the 65,536 f16 values back to f32.

use super::twins::case_rng;
use gst_ai_kernels::KernelError;
use gst_ai_kernels::cuda::{Device, half_ops};
use half::f16;

/// f32 values that probe every branch of the conversion.
fn probes(seed: u64) -> Vec<f32> {
    let mut v: Vec<f32> = vec![0.0, -0.0, 1.0, -1.0, 65504.0, 65519.0, 65520.0, 1e9, -1e9, f32::MAX, f32::MIN_POSITIVE];
    v.extend([
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7F80_0001),
        f32::from_bits(0xFFC1_2345),
    ]);
    // Around the smallest subnormal (2^-24) and the normal range's bottom (2^-14), ties included.
    for e in -26..=-13 {
        let p = 2f32.powi(e);
        v.extend([p, 1.5 * p, 1.25 * p, 1.75 * p, -p, p * (1.0 + f32::EPSILON)]);
    }
    // Ties and near-ties at the f16 rounding position of ordinary numbers.
    for m in [1.0f32, 1.5, 3.0, 1000.0, 0.1] {
        let ulp = m * 2f32.powi(-11);
        v.extend([m + ulp, m + ulp * (1.0 + f32::EPSILON), m + 3.0 * ulp, m - ulp]);
    }
    let mut rng = case_rng(seed, 40_000);
    v.extend((0..4000).map(|_| f32::from_bits(rng.next_u64() as u32)));
    v.extend((0..4000).map(|_| (rng.unit() - 0.5) * 2f32.powi(rng.below(40) as i32 - 26)));
    v
}

/// Runs the cases; returns how many values were compared.
pub fn half_cases<D: Device>(d: &D, seed: u64) -> Result<usize, KernelError> {
    let values = probes(seed);
    let mut got = vec![0u16; values.len()];
    half_ops::to_f16(d, &values, &mut got)?;
    for (v, g) in values.iter().zip(&got) {
        let want = f16::from_f32(*v).to_bits();
        assert_eq!(*g, want, "to_f16({v:e} = {:#010x}): {g:#06x}, the half crate gives {want:#06x}", v.to_bits());
    }
    let all: Vec<u16> = (0..=u16::MAX).collect();
    let mut back = vec![0f32; all.len()];
    half_ops::from_f16(d, &all, &mut back)?;
    for (b, g) in all.iter().zip(&back) {
        let want = f16::from_bits(*b).to_f32();
        assert_eq!(g.to_bits(), want.to_bits(), "from_f16({b:#06x}): {g:e}, the half crate gives {want:e}");
    }
    // Buffers too short for the count asked are refused.
    let short = gst_ai_kernels::cuda::device::upload(d, &[1.0f32; 3])?;
    assert!(half_ops::to_f16_on(d, &short, 4).is_err() && half_ops::from_f16_on(d, &short, 7).is_err());
    Ok(values.len() + all.len())
}
