//! The CUDA backend's foundation: the kernel sources in `kernels/cu/`, compiled at run time by
//! NVRTC (nothing of CUDA is needed to build), once per process, and a probe that says whether a
//! CUDA device can be used, without the panic cudarc raises when a library is missing.
//!
//! Libraries are found at run time, never at build time:
//! - NVRTC (`libnvrtc.so.13`): `GST_AI_NVRTC_LIB` (a file path), then `.deps/nvrtc/` of the
//!   checkout this crate was built in (what `scripts/bootstrap.sh` puts there, from the
//!   `nvidia-cuda-nvrtc` wheel), then the dynamic loader's search path (`LD_LIBRARY_PATH`, a
//!   CUDA toolkit's lib folder in `ld.so.conf`).
//! - The driver (`libcuda.so`): the loader's search path only; it comes with the NVIDIA driver.
//!
//! A library loaded here by its full path stays loaded for the life of the process, so that
//! cudarc's own `dlopen` by name finds it (the loader matches an already loaded object by its
//! soname).

pub mod device;
pub mod flow_ops;
pub mod half_ops;
pub mod interp_ops;
mod launch;
pub mod ops;
pub mod pixel_ops;
pub mod shim;
pub mod storage;
pub mod tile_ops;
pub mod timed;

pub use device::{Call, Device};
pub use launch::Gpu;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cudarc::nvrtc::{CompileError, CompileOptions, Ptx};

use crate::KernelError;

/// For tests that need a GPU: the device `ready` gives, or `None` after saying why the test
/// named `test` is skipped; with `GST_AI_REQUIRE_CUDA` set (the GPU check) a missing device
/// fails the test instead.
#[doc(hidden)]
pub fn gpu_or_skip(test: &str, ready: Result<Gpu, String>) -> Option<Gpu> {
    match ready {
        Ok(gpu) => Some(gpu),
        Err(why) if std::env::var_os("GST_AI_REQUIRE_CUDA").is_some() => {
            panic!("GST_AI_REQUIRE_CUDA is set but {why}")
        }
        Err(why) => {
            eprintln!("{test}: skipped, {why}");
            None
        }
    }
}

/// Every kernel source, by file name without `.cu`.
pub const SOURCES: &[(&str, &str)] = &[
    ("convert", include_str!("../../cu/convert.cu")),
    ("resize", include_str!("../../cu/resize.cu")),
    ("tile", include_str!("../../cu/tile.cu")),
    ("style", include_str!("../../cu/style.cu")),
    ("warp", include_str!("../../cu/warp.cu")),
    ("face", include_str!("../../cu/face.cu")),
    ("flow", include_str!("../../cu/flow.cu")),
];

/// The names of the `extern "C" __global__` functions a source defines, in order.
pub fn entry_points(source: &str) -> Vec<&str> {
    source
        .split("extern \"C\" __global__ void ")
        .skip(1)
        .filter_map(|rest| rest.split('(').next())
        .map(str::trim)
        .collect()
}

/// Where NVRTC was found, or why it was not.
pub fn nvrtc() -> Result<&'static str, String> {
    static FOUND: OnceLock<Result<String, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.deps/nvrtc/libnvrtc.so.13");
            let explicit = std::env::var_os("GST_AI_NVRTC_LIB").map(PathBuf::from);
            if let Some(path) = &explicit {
                return load_by_path(path).map_err(|e| format!("GST_AI_NVRTC_LIB={}: {e}", path.display()));
            }
            if bundled.is_file() {
                return load_by_path(&bundled);
            }
            // SAFETY: `is_culib_present` is unsafe because it `dlopen`s (and, dropping the
            // handle, `dlclose`s) each of cudarc's candidate NVRTC names, which runs that
            // library's initialisers and finalisers. NVRTC's have no preconditions on the caller,
            // no symbol is looked up or called, and no handle outlives the call.
            if unsafe { cudarc::nvrtc::sys::is_culib_present() } {
                return Ok("libnvrtc.so.13 (loader search path)".to_string());
            }
            Err(format!(
                "NVRTC (libnvrtc.so.13, CUDA 13) not found: not at {}, not on the loader's search path; \
                 run scripts/bootstrap.sh, or set GST_AI_NVRTC_LIB to the library's path",
                bundled.display()
            ))
        })
        .as_deref()
        .map_err(Clone::clone)
}

fn load_by_path(path: &Path) -> Result<String, String> {
    // SAFETY: `Library::new` is unsafe because loading runs the library's initialisers (and
    // unloading its finalisers). The path is the NVRTC this checkout's bootstrap installed or the
    // one `GST_AI_NVRTC_LIB` names, which must be NVRTC: its initialisers have no preconditions
    // on the caller. No symbol is taken from the handle here, and the handle is leaked, so the
    // library is never unloaded while cudarc (which opens it again by soname) uses it.
    match unsafe { libloading::Library::new(path) } {
        Ok(lib) => {
            std::mem::forget(lib);
            Ok(path.display().to_string())
        }
        Err(e) => Err(format!("cannot load {}: {e}", path.display())),
    }
}

/// Compiles one source to PTX. Fused multiply-add is off so that the kernels round like their
/// CPU twins; IEEE division and square root are NVRTC's defaults.
pub fn compile(name: &str, source: &str) -> Result<Ptx, KernelError> {
    nvrtc().map_err(KernelError::Cuda)?;
    let opts = CompileOptions { fmad: Some(false), name: Some(format!("{name}.cu")), ..Default::default() };
    cudarc::nvrtc::compile_ptx_with_opts(source, opts).map_err(|e| {
        let why = match e {
            CompileError::CompileError { log, .. } => log.to_string_lossy().trim().to_string(),
            other => format!("{other:?}"),
        };
        KernelError::Cuda(format!("kernels/cu/{name}.cu does not compile: {why}"))
    })
}

/// Every source compiled, once per process: the first call compiles, later calls return the
/// same modules (or the same error).
pub fn modules() -> Result<&'static [(&'static str, Ptx)], KernelError> {
    static MODULES: OnceLock<Result<Vec<(&'static str, Ptx)>, KernelError>> = OnceLock::new();
    MODULES
        .get_or_init(|| SOURCES.iter().map(|&(name, src)| Ok((name, compile(name, src)?))).collect())
        .as_deref()
        .map_err(Clone::clone)
}

/// A usable CUDA device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    pub ordinal: usize,
    pub name: String,
    /// Compute capability (major, minor).
    pub capability: (i32, i32),
}

/// Whether CUDA device `ordinal` can be used, and if not, why: no driver library, a driver that
/// fails to initialise, no such device. Never panics.
pub fn probe(ordinal: usize) -> Result<DeviceInfo, String> {
    // SAFETY: as for NVRTC in `nvrtc`: this `dlopen`s and `dlclose`s cudarc's candidate names
    // of the driver library, whose initialisers and finalisers have no preconditions on the
    // caller; no symbol is looked up or called, and no handle outlives the call.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err("no NVIDIA driver: libcuda.so is not on the loader's search path".to_string());
    }
    use cudarc::driver::result;
    result::init().map_err(|e| format!("the CUDA driver does not initialise: {e}"))?;
    let count = result::device::get_count().map_err(|e| format!("cannot count CUDA devices: {e}"))?;
    if ordinal >= count.max(0) as usize {
        return Err(format!("no CUDA device {ordinal}: the driver reports {count}"));
    }
    let ctx = cudarc::driver::CudaContext::new(ordinal).map_err(|e| format!("cuda:{ordinal}: {e}"))?;
    let name = ctx.name().map_err(|e| format!("cuda:{ordinal}: {e}"))?;
    let capability = ctx.compute_capability().map_err(|e| format!("cuda:{ordinal}: {e}"))?;
    Ok(DeviceInfo { ordinal, name, capability })
}
