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

/// Why CUDA cannot be used in this build even where a GPU is usable: the CUDA kernels compile
/// (NVRTC, see docs/gpu.md) but nothing launches them yet, and ONNX Runtime's CUDA execution
/// provider is not wired in.
pub const CUDA_UNAVAILABLE: &str = "this build's CUDA path is not complete yet (its kernels compile with NVRTC but \
     are not run, and ONNX Runtime's CUDA provider is not used): kernels and models run on the CPU";

/// Why CUDA device `ordinal` cannot be used: what the probe found (no driver, no such device) and,
/// where the device itself is fine, that this build cannot use it yet.
fn cuda_unusable(ordinal: u32) -> String {
    match gst_ai_kernels::cuda::probe(ordinal as usize) {
        Err(why) => why,
        Ok(d) => format!("{} ({}) was found, but {CUDA_UNAVAILABLE}", d.name, Device::Cuda { ordinal }),
    }
}

/// Resolves a request to a device: `auto` picks CUDA when usable, else the CPU, and returns the
/// reason alongside so the element can log which it chose and why. `cuda` when CUDA is not
/// usable is an error, never a silent fallback.
pub fn resolve(request: DeviceRequest) -> Result<(Device, String)> {
    match request {
        DeviceRequest::Cpu => Ok((Device::Cpu, "asked for".to_string())),
        DeviceRequest::Auto => Ok((Device::Cpu, cuda_unusable(0))),
        DeviceRequest::Cuda(n) => {
            Err(Error::DeviceUnavailable { device: request.to_string(), why: cuda_unusable(n.unwrap_or(0)) })
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
