//! f32 <-> f16 on a `Device` (`to_f16`, `from_f16` in convert.cu), so a model that takes or
//! gives f16 (`precision=fp16`, an fp16 model) is fed and read on the device: the tensor is
//! converted where it lies, never brought to the host for it. The CPU twin is the `half`
//! crate's conversion, which the runtime's host path uses: equal bit for bit, NaN payloads
//! included (integer arithmetic on both sides).

use super::device::{Call, Device, download, grid1, upload};
use crate::KernelError;

fn room(what: &str, have: usize, need: usize) -> Result<(), KernelError> {
    if have < need {
        return Err(KernelError::BufferLength { what: format!("{what} (bytes)"), len: have, need });
    }
    Ok(())
}

fn convert<D: Device>(
    d: &D,
    kernel: &'static str,
    src: &D::Buffer,
    n: usize,
    out_size: usize,
) -> Result<D::Buffer, KernelError> {
    let dst = d.zeros(n * out_size)?;
    if n == 0 {
        return Ok(dst);
    }
    let mut call = Call::new(kernel, grid1(n));
    call.buffer(src).buffer(&dst).value(n as i64);
    // SAFETY: the arguments match `to_f16` / `from_f16` in convert.cu; threads at or past n
    // return; thread i reads element i of `src` (checked by the callers to hold n of its type)
    // and writes element i of `dst` (n of the other type, allocated above).
    unsafe { d.launch(&call) }?;
    Ok(dst)
}

/// The first `n` f32 of `values` as f16 bits in a new device buffer.
pub fn to_f16_on<D: Device>(d: &D, values: &D::Buffer, n: usize) -> Result<D::Buffer, KernelError> {
    room("to_f16 input", d.len(values), n.checked_mul(4).ok_or(KernelError::TooLarge { what: "to_f16 input" })?)?;
    convert(d, "to_f16", values, n, 2)
}

/// The first `n` f16 of `halves` as f32 in a new device buffer.
pub fn from_f16_on<D: Device>(d: &D, halves: &D::Buffer, n: usize) -> Result<D::Buffer, KernelError> {
    room("from_f16 input", d.len(halves), n.checked_mul(2).ok_or(KernelError::TooLarge { what: "from_f16 input" })?)?;
    convert(d, "from_f16", halves, n, 4)
}

/// `to_f16_on` from and to host slices (for the twin tests).
pub fn to_f16<D: Device>(d: &D, values: &[f32], out: &mut [u16]) -> Result<(), KernelError> {
    room("to_f16 output", 2 * out.len(), 2 * values.len())?;
    if values.is_empty() {
        return Ok(());
    }
    let b = to_f16_on(d, &upload(d, values)?, values.len())?;
    download(d, &b, &mut out[..values.len()])
}

/// `from_f16_on` from and to host slices (for the twin tests).
pub fn from_f16<D: Device>(d: &D, halves: &[u16], out: &mut [f32]) -> Result<(), KernelError> {
    room("from_f16 output", 4 * out.len(), 4 * halves.len())?;
    if halves.is_empty() {
        return Ok(());
    }
    let b = from_f16_on(d, &upload(d, halves)?, halves.len())?;
    download(d, &b, &mut out[..halves.len()])
}
