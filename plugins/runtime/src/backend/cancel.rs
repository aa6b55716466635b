//! Stopping model runs from another thread: a flag that the loops around runs check, and ONNX
//! Runtime's run-options terminate signal that halts a local run in flight. A served model's
//! run sees the flag between its retries.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ort::session::RunOptions;

use crate::backend::env::environment;
use crate::error::{Error, Result};

/// Stops model runs from another thread: the runs given this token (see [`Model::run_with`](crate::Model::run_with))
/// and the loops around them that check [`is_cancelled`](Self::is_cancelled). A run in flight is
/// halted by ONNX Runtime as soon as it sees the signal and returns [`Error::Cancelled`].
#[derive(Clone)]
pub struct Cancel {
    inner: Arc<CancelInner>,
}

struct CancelInner {
    flag: AtomicBool,
    options: RunOptions,
}

impl Cancel {
    pub fn new() -> Result<Self> {
        environment()?;
        let options = RunOptions::new().map_err(|e| Error::Environment(format!("run options: {e}")))?;
        Ok(Self { inner: Arc::new(CancelInner { flag: AtomicBool::new(false), options }) })
    }

    /// Asks every run under this token to stop; runs started afterwards stop at once.
    pub fn cancel(&self) {
        self.inner.flag.store(true, Ordering::SeqCst);
        let _ = self.inner.options.terminate();
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.flag.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cancel({})", self.is_cancelled())
    }
}

impl Cancel {
    /// The ONNX Runtime run options that carry the terminate signal.
    pub(crate) fn options(&self) -> &RunOptions {
        &self.inner.options
    }
}
