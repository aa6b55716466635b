//! The token that stops an element's model run in flight from another thread: FLUSH_START and
//! PAUSED->READY trigger it (the streaming thread then returns FLUSHING instead of finishing a
//! run of seconds), a flush renews it once it has been used, and the streaming thread clones it
//! for each run. Its lock is held only for those moments, never across a run.

use std::sync::Mutex;

use gst_ai_runtime::{Cancel, Result};

use super::lock;

#[derive(Default)]
pub struct RunCancel(Mutex<Option<Cancel>>);

impl RunCancel {
    /// A fresh token (at start), or none when the element runs no model or when it cannot be
    /// made (the error).
    pub fn start(&self, with_model: bool) -> Result<()> {
        let mut c = lock(&self.0);
        *c = None;
        if with_model {
            *c = Some(Cancel::new()?);
        }
        Ok(())
    }

    /// Stops the run in flight and every later one, until [`renew`](Self::renew).
    pub fn cancel(&self) {
        if let Some(c) = lock(&self.0).as_ref() {
            c.cancel();
        }
    }

    /// After a flush: a fresh token in place of one that was used.
    pub fn renew(&self) {
        let mut c = lock(&self.0);
        if c.as_ref().is_some_and(Cancel::is_cancelled) {
            *c = Cancel::new().ok();
        }
    }

    /// The token for the next run.
    pub fn token(&self) -> Option<Cancel> {
        lock(&self.0).clone()
    }
}
