//! Where an f32 tensor's values are: in host memory or in a device's buffer (as candle's backend
//! storage), so a chain of operations (pack -> model -> unpack) can keep them on the device and
//! move them only when a step needs them elsewhere. The `_on`/`_from` operations of `ops`
//! (`pack_on`, `resize_on`, `unpack_from`) take and give device buffers.

use super::device::{Device, download, upload};
use crate::KernelError;

pub enum Storage<D: Device> {
    Host(Vec<f32>),
    /// `len` values in `buffer`.
    Device {
        buffer: D::Buffer,
        len: usize,
    },
}

impl<D: Device> Storage<D> {
    /// A device buffer holding `len` values (at least `4 * len` bytes).
    pub fn on_device(d: &D, buffer: D::Buffer, len: usize) -> Result<Self, KernelError> {
        if d.len(&buffer) < 4 * len {
            return Err(KernelError::BufferLength { what: "device tensor".into(), len: d.len(&buffer) / 4, need: len });
        }
        Ok(Self::Device { buffer, len })
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Host(v) => v.len(),
            Self::Device { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_on_device(&self) -> bool {
        matches!(self, Self::Device { .. })
    }

    /// The values on the device (uploaded if they were on the host).
    pub fn to_device(self, d: &D) -> Result<Self, KernelError> {
        match self {
            Self::Host(v) => Ok(Self::Device { len: v.len(), buffer: upload(d, &v)? }),
            on_device => Ok(on_device),
        }
    }

    /// The values in host memory (downloaded if they were on the device).
    pub fn into_host(self, d: &D) -> Result<Vec<f32>, KernelError> {
        match self {
            Self::Host(v) => Ok(v),
            Self::Device { buffer, len } => {
                let mut v = vec![0.0; len];
                download(d, &buffer, &mut v)?;
                Ok(v)
            }
        }
    }
}
