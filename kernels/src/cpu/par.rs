//! Row-band parallelism: decides how many workers a call deserves, splits
//! row-major buffers into disjoint per-band slices and runs one job per band
//! on scoped threads. Small calls stay on the calling thread because thread
//! start-up would cost more than it saves.

use std::ops::Range;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;

/// Calls touching at most this many pixels run single-threaded.
const MIN_PIXELS_TO_SPLIT: usize = 64 * 1024;
/// Each extra worker must get at least this much work to pay for itself.
const MIN_PIXELS_PER_WORKER: usize = 32 * 1024;

fn max_workers() -> usize {
    // `available_parallelism` reads cgroup files on Linux; once is enough.
    static WORKERS: OnceLock<usize> = OnceLock::new();
    *WORKERS.get_or_init(|| thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Contiguous, near-equal bands covering `0..rows`, one per worker.
pub(crate) fn bands(rows: usize, pixels_per_row: usize) -> Vec<Range<usize>> {
    let total = rows.saturating_mul(pixels_per_row);
    let workers = if total <= MIN_PIXELS_TO_SPLIT {
        1
    } else {
        (total / MIN_PIXELS_PER_WORKER).clamp(1, max_workers()).min(rows.max(1))
    };
    let (base, extra) = (rows / workers, rows % workers);
    let mut start = 0;
    (0..workers)
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

/// Runs `work` on every job: the first on the calling thread, the others on
/// scoped threads. A job whose thread cannot be spawned runs inline.
pub(crate) fn run<J: Send>(jobs: Vec<J>, work: impl Fn(J) + Sync) {
    if jobs.len() <= 1 {
        jobs.into_iter().for_each(work);
        return;
    }
    // Jobs wait in slots the threads borrow, so a job whose thread failed to
    // spawn has not been moved away and can still be run here.
    let slots: Vec<Mutex<Option<J>>> = jobs.into_iter().map(|j| Mutex::new(Some(j))).collect();
    let work = &work;
    thread::scope(|scope| {
        for slot in &slots[1..] {
            let spawned = thread::Builder::new().spawn_scoped(scope, move || {
                if let Some(job) = take(slot) {
                    work(job);
                }
            });
            if spawned.is_err()
                && let Some(job) = take(slot)
            {
                work(job);
            }
        }
        if let Some(job) = take(&slots[0]) {
            work(job);
        }
    });
}

fn take<J>(slot: &Mutex<Option<J>>) -> Option<J> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
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
}
