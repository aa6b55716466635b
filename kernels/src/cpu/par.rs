//! Row-band parallelism: decides how many bands a call deserves (up to four
//! per worker, taken by the workers as they come free, so that one band
//! costing more than another, or a core busy with another process, delays a
//! call by a fraction of its share), splits row-major buffers into disjoint
//! per-band slices and runs one job per band on a process-wide pool of
//! persistent threads. Small calls stay on the calling thread because waking
//! a worker would cost more than it saves.
//!
//! The pool (`Pool`) starts on the first call that splits: one thread fewer
//! than `available_parallelism`, because the calling thread always works on
//! its own call's jobs too. Workers sleep on a condition variable between
//! calls and never exit. A call hands the pool up to `jobs - 1` tickets
//! pointing at its jobs, which live on the caller's stack; the caller then
//! takes jobs itself until none are left, withdraws the tickets no worker has
//! picked up, and waits for the workers still running one of its jobs. Only
//! then does it return, so no worker can touch a job after its call is over.
//!
//! The split into bands depends only on the call's size and
//! `available_parallelism`, never on which thread runs which band, so results
//! are bit-identical to running the same bands one after another. A call made
//! from inside a job (on a worker, or on a caller busy with its own jobs) runs
//! its jobs inline. A panicking job is caught, the other jobs still run, and
//! the first panic is resumed on the calling thread: the pool is never
//! poisoned and its workers never die.

use std::any::Any;
use std::cell::Cell;
use std::collections::VecDeque;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;

/// Calls touching at most this many pixels run single-threaded.
const MIN_PIXELS_TO_SPLIT: usize = 16 * 1024;
/// Each band must get at least this much work to pay for itself.
const MIN_PIXELS_PER_BAND: usize = 8 * 1024;
/// Bands per worker of a large call: the workers take bands as they come free, so one slowed
/// down (by content that costs more, or by another process on its core) holds up the call for
/// a quarter of its share instead of all of it.
const BANDS_PER_WORKER: usize = 4;

fn max_workers() -> usize {
    // `available_parallelism` reads cgroup files on Linux; once is enough.
    static WORKERS: OnceLock<usize> = OnceLock::new();
    *WORKERS.get_or_init(|| thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Contiguous, near-equal bands covering `0..rows`: one for a small call, else up to
/// `BANDS_PER_WORKER` per worker.
pub(crate) fn bands(rows: usize, pixels_per_row: usize) -> Vec<Range<usize>> {
    let total = rows.saturating_mul(pixels_per_row);
    let most = if max_workers() > 1 { max_workers() * BANDS_PER_WORKER } else { 1 };
    let n =
        if total <= MIN_PIXELS_TO_SPLIT { 1 } else { (total / MIN_PIXELS_PER_BAND).clamp(1, most).min(rows.max(1)) };
    let (base, extra) = (rows / n, rows % n);
    let mut start = 0;
    (0..n)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let band = start..start + len;
            start += len;
            band
        })
        .collect()
}

/// Splits `buf`, whose row `r` starts at `r * stride`, into one slice per
/// band, each starting at its band's first row. The last band gets the rest
/// of the buffer, because a last row may be shorter than `stride`.
pub(crate) fn split_rows<'a, T>(buf: &'a mut [T], stride: usize, bands: &[Range<usize>]) -> Vec<&'a mut [T]> {
    let first = bands.first().map_or(0, |b| b.start);
    let skip = first.saturating_mul(stride).min(buf.len());
    let mut rest = &mut buf[skip..];
    let mut out = Vec::with_capacity(bands.len());
    for (i, band) in bands.iter().enumerate() {
        let take = if i + 1 == bands.len() { rest.len() } else { band.len().saturating_mul(stride).min(rest.len()) };
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(take);
        out.push(head);
        rest = tail;
    }
    out
}

/// Runs `work` on every job, each exactly once: on the calling thread and
/// on up to `jobs.len() - 1` pool workers. Returns when every job is done;
/// if a job panicked, the first panic is then resumed here.
pub(crate) fn run<J: Send, F: Fn(J) + Sync>(jobs: Vec<J>, work: F) {
    if jobs.len() <= 1 {
        jobs.into_iter().for_each(work);
        return;
    }
    let call = Call {
        slots: jobs.into_iter().map(|j| Mutex::new(Some(j))).collect(),
        next: AtomicUsize::new(0),
        work: &work,
        panic: Mutex::new(None),
    };
    // Single jobs never start the pool (above), nor do nested calls.
    let helpers = if IN_JOB.get() { 0 } else { (call.slots.len() - 1).min(POOL.workers) };
    if helpers == 0 {
        call.drain();
    } else {
        POOL.drain_with_help(&call, helpers);
    }
    if let Some(payload) = call.panic.into_inner().unwrap_or_else(PoisonError::into_inner) {
        panic::resume_unwind(payload);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    /// Whether this thread is running a job (a pool worker always is, as far
    /// as nested calls are concerned).
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread as running jobs until dropped.
struct InJob(bool);

impl InJob {
    fn enter() -> Self {
        Self(IN_JOB.replace(true))
    }
}

impl Drop for InJob {
    fn drop(&mut self) {
        IN_JOB.set(self.0);
    }
}

/// One `run` call's jobs, shared by the caller and the workers helping it.
struct Call<'a, J, F> {
    slots: Vec<Mutex<Option<J>>>,
    /// The next slot to take; slots at or past `slots.len()` are all taken.
    next: AtomicUsize,
    work: &'a F,
    /// The first panic of a job.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl<J: Send, F: Fn(J) + Sync> Call<'_, J, F> {
    /// Takes and runs jobs until none are left, catching their panics.
    fn drain(&self) {
        let _job = InJob::enter();
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = self.slots.get(i) else { return };
            let Some(job) = lock(slot).take() else { continue };
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| (self.work)(job))) {
                lock(&self.panic).get_or_insert(payload);
            }
        }
    }

    /// `drain` on the `Call` that `call` points to, for a worker.
    ///
    /// # Safety
    ///
    /// `call` must point to a live `Call<J, F>` that stays alive until this
    /// returns.
    unsafe fn drain_erased(call: *const ()) {
        // SAFETY: the caller guarantees that `call` points to a live
        // `Call<J, F>` (it was made from a `&Call<J, F>` in
        // `Pool::drain_with_help`, which pairs it with this very function)
        // and that the `Call` outlives this borrow. Sharing it with this
        // thread is sound because `Call<J, F>` is `Sync` for `J: Send,
        // F: Sync`, which `Pool::drain_with_help` checks at compile time.
        let call = unsafe { &*call.cast::<Self>() };
        call.drain();
    }
}

/// A request for one worker to help with one call.
struct Ticket {
    /// A `&Call<J, F>` with its type and lifetime erased.
    call: *const (),
    /// `Call::<J, F>::drain_erased`.
    drain: unsafe fn(*const ()),
    /// The call's count of outstanding tickets.
    latch: Arc<Latch>,
}

// SAFETY: a `Ticket` only carries `call` to a worker, which dereferences it
// through `drain` as a shared reference to a `Call` that is `Sync` (checked in
// `Pool::drain_with_help`, which keeps the `Call` alive until the ticket has
// been withdrawn or its worker has counted down `latch`: see `Wait`). The
// other fields are `Send` themselves.
unsafe impl Send for Ticket {}

/// Counts a call's tickets that are queued or being worked on.
struct Latch {
    pending: Mutex<usize>,
    done: Condvar,
}

impl Latch {
    fn count_down(&self, n: usize) {
        let mut pending = lock(&self.pending);
        *pending -= n;
        if *pending == 0 {
            self.done.notify_all();
        }
    }

    fn wait(&self) {
        let mut pending = lock(&self.pending);
        while *pending > 0 {
            pending = self.done.wait(pending).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The process-wide pool, started on first use.
static POOL: LazyLock<Pool> = LazyLock::new(Pool::start);

struct Pool {
    queue: Mutex<VecDeque<Ticket>>,
    ready: Condvar,
    /// Worker threads actually started.
    workers: usize,
}

impl Pool {
    /// Starts `max_workers() - 1` workers; a thread that cannot be spawned
    /// just leaves the pool smaller (with none, every call runs inline).
    fn start() -> Self {
        let want = max_workers().saturating_sub(1);
        let workers = (0..want)
            .take_while(|i| thread::Builder::new().name(format!("gst-ai-kernels-{i}")).spawn(Self::work).is_ok())
            .count();
        Self { queue: Mutex::new(VecDeque::new()), ready: Condvar::new(), workers }
    }

    /// A worker: forever takes a ticket and helps with its call.
    fn work() {
        // Nested calls from a worker run inline: a worker never waits on
        // another worker, so the pool cannot deadlock on itself.
        IN_JOB.set(true);
        let pool = &*POOL;
        loop {
            let ticket = {
                let mut queue = lock(&pool.queue);
                loop {
                    match queue.pop_front() {
                        Some(t) => break t,
                        None => queue = pool.ready.wait(queue).unwrap_or_else(PoisonError::into_inner),
                    }
                }
            };
            // SAFETY: `ticket.call` and `ticket.drain` were made together in
            // `Pool::drain_with_help` from a live `&Call<J, F>` and the
            // matching `drain_erased`. That function's `Wait` does not let it
            // return or unwind (so the `Call` stays alive) while this ticket
            // is outstanding, and the ticket stays outstanding until
            // `count_down` below, after `drain` has returned. `drain` catches
            // the jobs' panics, so it does not unwind past the count-down.
            unsafe { (ticket.drain)(ticket.call) };
            ticket.latch.count_down(1);
        }
    }

    /// Drains `call` on this thread with the help of up to `helpers`
    /// workers: queues that many tickets for it and wakes as many workers.
    /// Returns (or unwinds) only once no worker uses `call` any more, which
    /// is what lets a ticket carry a pointer to it.
    fn drain_with_help<J: Send, F: Fn(J) + Sync>(&self, call: &Call<'_, J, F>, helpers: usize) {
        fn sync<T: Sync>(_: &T) {}
        // What `Ticket`'s `Send` and `drain_erased` rely on.
        sync(call);
        let latch = Arc::new(Latch { pending: Mutex::new(helpers), done: Condvar::new() });
        let ptr: *const Call<'_, J, F> = call;
        {
            let mut queue = lock(&self.queue);
            for _ in 0..helpers {
                queue.push_back(Ticket { call: ptr.cast(), drain: Call::<J, F>::drain_erased, latch: latch.clone() });
            }
        }
        // Dropped on return and on unwinding alike.
        let _wait = Wait { pool: self, latch };
        if helpers >= self.workers {
            self.ready.notify_all();
        } else {
            (0..helpers).for_each(|_| self.ready.notify_one());
        }
        call.drain();
    }
}

/// Withdraws a call's queued tickets and waits for the rest when dropped,
/// also while unwinding, so the call's jobs outlive every use by a worker.
struct Wait<'p> {
    pool: &'p Pool,
    latch: Arc<Latch>,
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        let withdrawn = {
            let mut queue = lock(&self.pool.queue);
            let before = queue.len();
            queue.retain(|t| !Arc::ptr_eq(&t.latch, &self.latch));
            before - queue.len()
        };
        if withdrawn > 0 {
            self.latch.count_down(withdrawn);
        }
        self.latch.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_rows_once() {
        for rows in [0, 1, 7, 1000, 4097] {
            let bands = bands(rows, 1000);
            assert_eq!(bands.first().map(|b| b.start), Some(0));
            assert_eq!(bands.last().map(|b| b.end), Some(rows));
            assert!(bands.windows(2).all(|w| w[0].end == w[1].start));
        }
        assert_eq!(bands(100, 100).len(), 1);
    }

    #[test]
    fn split_rows_gives_each_band_its_rows() {
        let mut buf: Vec<u32> = (0..23).collect();
        // Stride 5 with a 3-element last row: rows start at 0, 5, 10, 15, 20.
        let parts = split_rows(&mut buf, 5, &[1..3, 3..5]);
        assert_eq!(parts[0], &[5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
        assert_eq!(parts[1], &[15, 16, 17, 18, 19, 20, 21, 22]);
    }

    #[test]
    fn run_runs_every_job() {
        let mut out = vec![0u32; 5];
        let jobs: Vec<_> = out.iter_mut().enumerate().collect();
        run(jobs, |(i, o)| *o = i as u32 * 2);
        assert_eq!(out, [0, 2, 4, 6, 8]);
    }

    /// Float work whose result depends on the order of its operations (plain
    /// arithmetic: Miri perturbs transcendental functions).
    fn chunk_sum(chunk: &[f32]) -> f32 {
        chunk.iter().fold(0.1, |acc, &v| acc * 0.999 + v / (v + 3.0))
    }

    #[test]
    fn pool_runs_each_job_once_with_sequential_results() {
        let data: Vec<f32> = (0..40_000).map(|i| i as f32 * 0.37).collect();
        // Uneven chunks, more of them than there are workers.
        let chunks: Vec<&[f32]> = data.chunks(977).collect();
        let expected: Vec<f32> = chunks.iter().map(|c| chunk_sum(c)).collect();
        for _ in 0..200 {
            let runs: Vec<AtomicUsize> = chunks.iter().map(|_| AtomicUsize::new(0)).collect();
            let mut out = vec![f32::NAN; chunks.len()];
            let jobs: Vec<_> = out.iter_mut().zip(&chunks).zip(&runs).collect();
            run(jobs, |((o, c), n)| {
                n.fetch_add(1, Ordering::Relaxed);
                *o = chunk_sum(c);
            });
            assert!(runs.iter().all(|n| n.load(Ordering::Relaxed) == 1));
            assert_eq!(
                out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn nested_calls_run_inline() {
        let mut out = vec![[0u64; 8]; 16];
        let jobs: Vec<_> = out.iter_mut().enumerate().collect();
        run(jobs, |(i, row)| {
            assert!(IN_JOB.get());
            let inner: Vec<_> = row.iter_mut().enumerate().collect();
            run(inner, |(j, v)| *v = (i * 100 + j) as u64);
        });
        for (i, row) in out.iter().enumerate() {
            assert!(row.iter().enumerate().all(|(j, &v)| v == (i * 100 + j) as u64));
        }
        assert!(!IN_JOB.get(), "the caller's mark is cleared after the call");
    }

    #[test]
    fn panic_reaches_the_caller_and_the_pool_survives() {
        let ran: Vec<AtomicUsize> = (0..12).map(|_| AtomicUsize::new(0)).collect();
        let result = panic::catch_unwind(|| {
            run((0..12).collect(), |i: usize| {
                ran[i].fetch_add(1, Ordering::Relaxed);
                if i == 5 {
                    panic!("job 5 failed");
                }
            })
        });
        let payload = result.expect_err("the job's panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"job 5 failed"));
        // Every job still ran, once; the pool takes new work afterwards.
        assert!(ran.iter().all(|n| n.load(Ordering::Relaxed) == 1));
        assert!(!IN_JOB.get());
        let mut out = vec![0usize; 12];
        run(out.iter_mut().enumerate().collect(), |(i, o)| *o = i + 1);
        assert_eq!(out, (1..=12).collect::<Vec<_>>());
    }

    #[test]
    fn concurrent_callers_share_the_pool() {
        thread::scope(|s| {
            for t in 0..4usize {
                s.spawn(move || {
                    for k in 0..100usize {
                        let mut out = [0usize; 9];
                        run(out.iter_mut().enumerate().collect(), |(i, o)| *o = t * 1000 + k + i);
                        assert!(out.iter().enumerate().all(|(i, &v)| v == t * 1000 + k + i));
                    }
                });
            }
        });
    }
}
