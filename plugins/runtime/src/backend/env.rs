//! The ONNX Runtime environment: one per process, created on first use from a dynamically loaded
//! `libonnxruntime.so`. The library is taken from `GST_AI_ORT_LIB` (ours) when set, else from
//! ORT's own `ORT_DYLIB_PATH` when set, else from where `make setup` put it (recorded at build
//! time). A variable that is set is an override, not a hint: when it names a library that cannot
//! be loaded, that is the error, rather than a quiet fallback to another library. A failure is
//! not cached: a user may fix the environment and set the element to PAUSED again.

use std::path::PathBuf;
use std::sync::Mutex;

use ort::environment::Environment;

use crate::error::{Error, Result};

/// Our own override, checked first.
pub const ENV_ORT_LIB: &str = "GST_AI_ORT_LIB";
/// ONNX Runtime's (and the `ort` crate's) conventional variable.
pub const ENV_ORT_DYLIB_PATH: &str = "ORT_DYLIB_PATH";
/// Where scripts/bootstrap.sh installs the library, fixed at build time.
pub const DEFAULT_ORT_LIB: &str = env!("GST_AI_ORT_DEFAULT");

static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);
static LOADED_FROM: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The candidate library paths, in search order, each with where it came from.
pub fn candidates() -> Vec<(PathBuf, &'static str)> {
    for var in [ENV_ORT_LIB, ENV_ORT_DYLIB_PATH] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return vec![(PathBuf::from(v), var)];
        }
    }
    vec![(PathBuf::from(DEFAULT_ORT_LIB), "the set-up location")]
}

/// The process-wide environment, created on first call.
pub fn environment() -> Result<Environment> {
    let mut guard = ENVIRONMENT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(env) = guard.as_ref() {
        return Ok(env.clone());
    }
    let mut tried = Vec::new();
    let mut builder = None;
    for (path, origin) in candidates() {
        if !path.exists() {
            tried.push(format!("{} ({origin}: no such file)", path.display()));
            continue;
        }
        match ort::init_from(&path) {
            Ok(b) => {
                *LOADED_FROM.lock().unwrap_or_else(|e| e.into_inner()) = Some(path);
                builder = Some(b);
                break;
            }
            Err(e) => tried.push(format!("{} ({origin}: {e})", path.display())),
        }
    }
    let Some(builder) = builder else {
        return Err(Error::RuntimeLibrary { tried: tried.join("; ") });
    };
    let env =
        builder.with_name("gst-ai").with_telemetry(false).build().map_err(|e| Error::Environment(e.to_string()))?;
    *guard = Some(env.clone());
    Ok(env)
}

/// The library the environment was loaded from, once it was.
pub fn loaded_from() -> Option<PathBuf> {
    LOADED_FROM.lock().unwrap_or_else(|e| e.into_inner()).clone()
}
