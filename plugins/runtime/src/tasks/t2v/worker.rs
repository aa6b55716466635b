//! The generator worker: one thread that makes clip after clip with a [`Pipeline`] and hands them
//! over through a bounded queue, so that the next clip is denoised while the current one plays.
//!
//! Work is pulled: the worker asks its `next` source for clip k's request (a snapshot of the
//! owner's settings) when it begins clip k, so a setting changed meanwhile applies from the next
//! clip begun and never to one under way. Progress goes to `on_event`, on the worker's thread:
//! what is wrong with a new prompt, then every denoising step and every clip. The consumer waits in [`Worker::next`], which
//! [`Worker::interrupt`] releases at once (a flush); [`Worker::stop`] cancels the clip under way,
//! in the middle of a model run too (ONNX Runtime's terminate flag, through [`Cancel`]), and joins
//! the thread. Dropping a worker stops it, so its thread never outlives its owner.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use super::{Clip, Pipeline, Request};
use crate::backend::model::Cancel;
use crate::error::{Error, Result};

/// A clip and the request it was made from.
pub struct Made {
    pub index: u64,
    pub clip: Clip,
    pub request: Request,
}

/// Progress, reported on the worker's thread.
pub enum Event<'a> {
    /// Something a user should know about clip `clip`'s prompt (told once per prompt).
    Warning { clip: u64, text: String },
    /// Denoising step `step` of `steps` of clip `clip` is done; it took `seconds`.
    Step { clip: u64, step: usize, steps: usize, timestep: f64, seconds: f64 },
    /// A clip is made and about to be queued; it took `seconds`.
    Clip { made: &'a Made, seconds: f64 },
}

/// What [`Worker::next`] returns.
pub enum Next<E> {
    Clip(Box<Made>),
    /// Every clip asked for was made, or the worker was stopped.
    Done,
    /// Making a clip failed; the worker has ended.
    Failed(E),
    /// [`Worker::interrupt`] is on.
    Interrupted,
}

/// Clips queued ahead of the one the consumer has.
const AHEAD: usize = 1;

struct Queue<E> {
    items: VecDeque<Result<Made, E>>,
    /// The thread has ended: nothing more will come.
    finished: bool,
    /// [`Worker::stop`] was called: the thread queues nothing more.
    stopped: bool,
    interrupted: bool,
}

struct Shared<E> {
    queue: Mutex<Queue<E>>,
    changed: Condvar,
    cancel: Cancel,
}

impl<E> Shared<E> {
    fn lock(&self) -> MutexGuard<'_, Queue<E>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, q: MutexGuard<'a, Queue<E>>) -> MutexGuard<'a, Queue<E>> {
        self.changed.wait(q).unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `item`, waiting while the queue is full; false when the worker is stopped.
    fn push(&self, item: Result<Made, E>) -> bool {
        let mut q = self.lock();
        while q.items.len() >= AHEAD && !q.stopped {
            q = self.wait(q);
        }
        if q.stopped {
            return false;
        }
        q.items.push_back(item);
        self.changed.notify_all();
        true
    }
}

/// Marks the queue finished when the thread ends, by returning or by a panic (which is queued as
/// a failure, so the consumer is not left waiting).
struct Finish<E: From<Error>>(Arc<Shared<E>>);

impl<E: From<Error>> Drop for Finish<E> {
    fn drop(&mut self) {
        let mut q = self.0.lock();
        if std::thread::panicking() {
            q.items.push_back(Err(E::from(Error::Unsupported("the text-to-video worker thread panicked".into()))));
        }
        q.finished = true;
        self.0.changed.notify_all();
    }
}

pub struct Worker<E> {
    shared: Arc<Shared<E>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<E: From<Error> + Send + 'static> Worker<E> {
    /// Starts a thread named `name` that makes `clips` clips (0: until stopped) with `pipeline`,
    /// clip k from the request `next(k)` returns; an error from `next` ends it like a failed clip.
    pub fn spawn(
        name: &str,
        pipeline: Arc<Pipeline>,
        clips: u64,
        mut next: impl FnMut(u64) -> Result<Request, E> + Send + 'static,
        mut on_event: impl FnMut(Event<'_>) + Send + 'static,
    ) -> Result<Self> {
        let queue = Queue { items: VecDeque::new(), finished: false, stopped: false, interrupted: false };
        let shared = Arc::new(Shared { queue: Mutex::new(queue), changed: Condvar::new(), cancel: Cancel::new()? });
        let finish = Finish(shared.clone());
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let s = finish.0.clone();
                let (mut index, mut prompt) = (0, None);
                while clips == 0 || index < clips {
                    let made = next(index).and_then(|r| {
                        if prompt.as_ref() != Some(&r.prompt) {
                            for text in pipeline.prompt_warnings(&r.prompt) {
                                on_event(Event::Warning { clip: index, text });
                            }
                            prompt = Some(r.prompt.clone());
                        }
                        make(&pipeline, index, r, &s.cancel, &mut on_event).map_err(E::from)
                    });
                    if s.cancel.is_cancelled() {
                        break;
                    }
                    let failed = made.is_err();
                    if !s.push(made) || failed {
                        break;
                    }
                    index += 1;
                }
                drop(finish);
            })
            .map_err(|e| Error::Environment(format!("cannot start the thread {name}: {e}")))?;
        Ok(Self { shared, thread: Mutex::new(Some(thread)) })
    }
}

impl<E> Worker<E> {
    /// The next clip, waiting for it; returns at once while interrupted.
    pub fn next(&self) -> Next<E> {
        let mut q = self.shared.lock();
        loop {
            if q.interrupted {
                return Next::Interrupted;
            }
            if let Some(item) = q.items.pop_front() {
                self.shared.changed.notify_all();
                return match item {
                    Ok(made) => Next::Clip(Box::new(made)),
                    Err(e) => Next::Failed(e),
                };
            }
            if q.finished {
                return Next::Done;
            }
            q = self.shared.wait(q);
        }
    }

    /// While on, [`next`](Self::next) returns [`Next::Interrupted`] at once (the consumer is
    /// flushing); generation goes on.
    pub fn interrupt(&self, on: bool) {
        self.shared.lock().interrupted = on;
        self.shared.changed.notify_all();
    }

    /// Cancels the clip under way (its model run too) and waits for the thread to end.
    pub fn stop(&self) {
        self.shared.lock().stopped = true;
        self.shared.cancel.cancel();
        self.shared.changed.notify_all();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        // The worker's own thread can drop the last handle (through its owner); it cannot join itself.
        if let Some(t) = thread.filter(|t| t.thread().id() != std::thread::current().id()) {
            let _ = t.join();
        }
    }
}

impl<E> Drop for Worker<E> {
    fn drop(&mut self) {
        self.stop();
    }
}

fn make(
    pipeline: &Pipeline,
    index: u64,
    request: Request,
    cancel: &Cancel,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Made> {
    let t0 = Instant::now();
    let mut last = t0;
    let clip = pipeline.generate(&request, None, Some(cancel), &mut |step, steps, timestep| {
        let seconds = last.elapsed().as_secs_f64();
        last = Instant::now();
        on_event(Event::Step { clip: index, step, steps, timestep, seconds });
        !cancel.is_cancelled()
    })?;
    let made = Made { index, clip, request };
    on_event(Event::Clip { made: &made, seconds: t0.elapsed().as_secs_f64() });
    Ok(made)
}
