//! The runtime's error type. Every message names what was wrong (the file, the tensor, the
//! expected and the found) because it ends up verbatim on a GStreamer bus in front of a user.

use std::path::PathBuf;

use gst_ai_kernels::KernelError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "could not load the ONNX Runtime library (1.31 or newer); looked in: {tried}. \
         Run `make setup`, or point GST_AI_ORT_LIB (or ORT_DYLIB_PATH) at libonnxruntime.so"
    )]
    RuntimeLibrary { tried: String },

    #[error("could not create the ONNX Runtime environment: {0}")]
    Environment(String),

    #[error("invalid device '{0}': expected auto, cpu, cuda or cuda:N")]
    InvalidDevice(String),

    #[error("device {device} is not available: {why}")]
    DeviceUnavailable { device: String, why: String },

    #[error("model file {} does not exist", path.display())]
    ModelNotFound { path: PathBuf },

    #[error(
        "zoo:{name} is not in the model zoo (search path {search_path}: set GST_AI_ZOO_PATH to add folders; `make setup` imports the zoo); available: {available}"
    )]
    ZooNotFound { name: String, search_path: String, available: String },

    #[error("could not load model {model}: {why}")]
    ModelLoad { model: String, why: String },

    #[error("model {model} does not fit the {family} contract: {what}: expected {expected}, found {found}")]
    Contract { model: String, family: &'static str, what: String, expected: String, found: String },

    #[error("manifest {}: {why}", path.display())]
    Manifest { path: PathBuf, why: String },

    #[error("inference with model {model} failed: {why}")]
    Inference { model: String, why: String },

    #[error("{0}")]
    Kernel(#[from] KernelError),

    #[error("{0}")]
    Unsupported(String),

    /// A model's output held NaN or infinite values: a broken or mis-exported model, or a
    /// precision it overflows in. The element decides between a fallback picture and an error.
    #[error(
        "model {model} produced {bad} non-finite values (NaN or Inf) of {total} ({:.1}%)",
        100.0 * *bad as f64 / (*total).max(1) as f64
    )]
    NonFinite { model: String, bad: usize, total: usize },

    /// The caller asked a long job (a generation) to stop.
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Err([`Error::NonFinite`]) when `output` of `model` holds a NaN or an infinity.
    pub fn check_finite(model: &str, output: &[f32]) -> Result<()> {
        match gst_ai_kernels::count_non_finite(output) {
            0 => Ok(()),
            bad => Err(Error::NonFinite { model: model.to_string(), bad, total: output.len() }),
        }
    }

    /// The share (0..1) of an output's values that were not finite, for a [`Error::NonFinite`].
    pub fn non_finite_share(&self) -> Option<f64> {
        match self {
            Error::NonFinite { bad, total, .. } => Some(*bad as f64 / (*total).max(1) as f64),
            _ => None,
        }
    }

    /// A model that does not fit `family`'s contract: `what` (a tensor and its property) was
    /// expected to be `expected` and is `found`.
    pub fn contract(
        model: &str,
        family: &'static str,
        what: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Error::Contract {
            model: model.to_string(),
            family,
            what: what.into(),
            expected: expected.into(),
            found: found.into(),
        }
    }
}
