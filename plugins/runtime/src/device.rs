//! Which device a model runs on. The `device` property of every element is parsed here, and
//! `auto` is resolved here, so that all elements choose the same way and say so the same way.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum DeviceRequest {
    #[default]
    Auto,
    Cpu,
    /// `cuda` (ordinal None, meaning 0) or `cuda:N`.
    Cuda(Option<u32>),
}

impl FromStr for DeviceRequest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "" | "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(None)),
            _ => t
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<u32>().ok())
                .map(|n| Self::Cuda(Some(n)))
                .ok_or_else(|| Error::InvalidDevice(s.to_string())),
        }
    }
}

impl fmt::Display for DeviceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(None) => f.write_str("cuda"),
            Self::Cuda(Some(n)) => write!(f, "cuda:{n}"),
        }
    }
}

/// Where a model actually runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    Cuda { ordinal: u32 },
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda { ordinal } => write!(f, "cuda:{ordinal}"),
        }
    }
}

/// Why CUDA cannot be used in this build. The CUDA path (kernels through cudarc, ONNX Runtime's
/// CUDA execution provider) is not part of this build yet.
pub const CUDA_UNAVAILABLE: &str =
    "this build of gst-ai has no CUDA path yet (kernels and ONNX Runtime run on the CPU only)";

/// Resolves a request to a device: `auto` picks CUDA when usable, else the CPU, and returns the
/// reason alongside so the element can log which it chose and why. `cuda` when CUDA is not
/// usable is an error, never a silent fallback.
pub fn resolve(request: DeviceRequest) -> Result<(Device, &'static str)> {
    match request {
        DeviceRequest::Cpu => Ok((Device::Cpu, "asked for")),
        DeviceRequest::Auto => Ok((Device::Cpu, CUDA_UNAVAILABLE)),
        DeviceRequest::Cuda(_) => {
            Err(Error::DeviceUnavailable { device: request.to_string(), why: CUDA_UNAVAILABLE.to_string() })
        }
    }
}

/// Numeric precision for running a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// The model's own input type.
    #[default]
    Auto,
    Fp32,
    Fp16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_strings() {
        assert_eq!("auto".parse::<DeviceRequest>().unwrap(), DeviceRequest::Auto);
        assert_eq!("CPU".parse::<DeviceRequest>().unwrap(), DeviceRequest::Cpu);
        assert_eq!("cuda".parse::<DeviceRequest>().unwrap(), DeviceRequest::Cuda(None));
        assert_eq!("cuda:2".parse::<DeviceRequest>().unwrap(), DeviceRequest::Cuda(Some(2)));
        let e = "cuda:x".parse::<DeviceRequest>().unwrap_err().to_string();
        assert!(e.contains("cuda:x") && e.contains("expected auto, cpu, cuda or cuda:N"), "{e}");
        assert!("tpu".parse::<DeviceRequest>().is_err());
    }

    #[test]
    fn cuda_is_an_error_not_a_fallback() {
        let e = resolve(DeviceRequest::Cuda(None)).unwrap_err().to_string();
        assert!(e.contains("cuda") && e.contains("not available"), "{e}");
        assert_eq!(resolve(DeviceRequest::Auto).unwrap().0, Device::Cpu);
    }
}
