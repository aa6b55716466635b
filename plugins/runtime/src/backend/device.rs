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

/// Why a model is not opened on CUDA by the shared session pool (`backend::model::load`): the
/// elements with a CUDA path (aiupscale, aistylize) open their own CUDA session
/// (`cuda_io::CudaModel`) beside it; the others run on the CPU.
pub const CUDA_UNAVAILABLE: &str = "the shared model pool opens models on the CPU only; aiupscale and aistylize \
     run on CUDA through their own session, the other elements on the CPU";

/// What an element's CUDA path needs beside a usable device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CudaPath {
    /// The element has none: it runs on the CPU.
    Absent,
    /// Our kernels (NVRTC): aiinterpolate's built-in flow.
    Kernels,
    /// Our kernels and ONNX Runtime's CUDA provider: aiupscale, aistylize.
    KernelsAndModels,
}

/// Whether CUDA device `ordinal` can run an element's CUDA path: the device is usable (the
/// probe, which never panics), our kernels compile (NVRTC) and, where the path runs models, ONNX
/// Runtime has its CUDA provider. `Ok` describes the device; `Err` says what is missing. An
/// element without a CUDA path is told so once the device is found.
fn cuda_usable(ordinal: u32, path: CudaPath) -> std::result::Result<String, String> {
    let d = gst_ai_kernels::cuda::probe(ordinal as usize)?;
    let found = format!("{} ({}, compute {}.{})", d.name, Device::Cuda { ordinal }, d.capability.0, d.capability.1);
    if path == CudaPath::Absent {
        return Err(format!("{found} was found, but this element has no CUDA path yet: it runs on the CPU"));
    }
    gst_ai_kernels::cuda::modules()
        .map_err(|e| format!("{found} was found, but the CUDA kernels cannot be built: {e}"))?;
    if path == CudaPath::KernelsAndModels {
        crate::backend::cuda_io::cuda_provider()
            .map_err(|e| format!("{found} was found and the kernels compile, but {e}"))?;
    }
    Ok(found)
}

/// Resolves a request to a device for an element whose work runs on the CPU only: `auto` gives
/// the CPU and says why not CUDA; `cuda` is an error, never a silent fallback.
pub fn resolve(request: DeviceRequest) -> Result<(Device, String)> {
    resolve_for(request, CudaPath::Absent)
}

/// Resolves a request to a device for an element with a CUDA path (aiupscale, aistylize): `auto`
/// picks CUDA when [usable](cuda_usable), else the CPU, and returns the reason alongside so the
/// element can log which it chose and why. `cuda` when CUDA is not usable is an error naming
/// what is missing, never a silent fallback.
pub fn resolve_cuda_capable(request: DeviceRequest) -> Result<(Device, String)> {
    resolve_for(request, CudaPath::KernelsAndModels)
}

/// [`resolve_cuda_capable`] for a CUDA path of kernels only (aiinterpolate's flow), which
/// needs no ONNX Runtime provider.
pub fn resolve_kernels(request: DeviceRequest) -> Result<(Device, String)> {
    resolve_for(request, CudaPath::Kernels)
}

fn resolve_for(request: DeviceRequest, path: CudaPath) -> Result<(Device, String)> {
    match request {
        DeviceRequest::Cpu => Ok((Device::Cpu, "asked for".to_string())),
        DeviceRequest::Auto => Ok(match cuda_usable(0, path) {
            Ok(found) => (Device::Cuda { ordinal: 0 }, found),
            Err(why) => (Device::Cpu, why),
        }),
        DeviceRequest::Cuda(n) => {
            let ordinal = n.unwrap_or(0);
            cuda_usable(ordinal, path)
                .map(|found| (Device::Cuda { ordinal }, found))
                .map_err(|why| Error::DeviceUnavailable { device: request.to_string(), why })
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

    #[test]
    fn cuda_for_a_chain_needs_a_device_kernels_and_the_provider() {
        // On a machine with a usable GPU, NVRTC and ONNX Runtime's CUDA provider this resolves to
        // CUDA; anywhere else (CI) `cuda` is an error naming what is missing and `auto` the CPU.
        // Likewise for a path of kernels only, which needs no provider.
        for resolver in [resolve_cuda_capable, resolve_kernels] {
            match resolver(DeviceRequest::Cuda(Some(0))) {
                Ok((device, found)) => assert_eq!(device, Device::Cuda { ordinal: 0 }, "{found}"),
                Err(e) => {
                    let e = e.to_string();
                    assert!(e.contains("cuda:0") && e.contains("not available"), "{e}");
                    let (device, why) = resolver(DeviceRequest::Auto).unwrap();
                    assert_eq!(device, Device::Cpu, "{why}");
                    assert!(!why.is_empty());
                }
            }
        }
        // Where the device itself is missing, the provider is not what is named.
        if gst_ai_kernels::cuda::probe(0).is_err() {
            let e = resolve_kernels(DeviceRequest::Cuda(None)).unwrap_err().to_string();
            assert!(!e.contains("provider"), "{e}");
        }
    }
}
