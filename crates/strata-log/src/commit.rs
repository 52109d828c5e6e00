//! Group commit: how appends become durable, shared by the writer, waiting appenders and a
//! background flusher.
//!
//! An append is written (`pwrite`) and published to readers first; making it durable is a
//! separate step, so that one producer can keep several batches in flight (write batch N+1
//! while batch N's fsync runs) and so that many producers share each fsync. [`GroupCommit`]
//! owns the durable offset and serializes the fsyncs:
//! - a waiter ([`GroupCommit::wait_durable`]) that finds no fsync running runs one itself and
//!   covers everything written so far (the leader); waiters that arrive during it wait for
//!   the next one, which covers them all;
//! - [`GroupCommit::request`] asks for durability without waiting (an acknowledgement
//!   token is redeemed later); a flusher thread ([`GroupCommit::run_flusher`]) then fsyncs
//!   back to back while anything is asked for, and also does background work that nobody waits
//!   for (the fsync of sealed segments under `never`).
//!
//! What one fsync covers is decided by a [`SyncWork`] (the partition's files): it takes a job
//! under the lock and the job runs without it. A failed fsync is sticky: the kernel may have
//! dropped the pages it could not write, so a later fsync "succeeding" proves nothing, and
//! every later wait fails until the log is reopened and recovery checks the files.
//!
//! The protocol is model-checked with loom in `tests/loom_commit.rs`.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::publish::Watermark;
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{Condvar, Mutex, MutexGuard};

/// A flusher thread with nothing to do for this long exits; the next request starts another.
const FLUSHER_IDLE: Duration = Duration::from_secs(1);

/// The files behind a [`GroupCommit`]: what one fsync must cover.
pub trait SyncWork: Send {
    /// The work of one sync, taken under the lock and run without it.
    type Job: Send;

    /// True when there is work to do even though nobody waits for it.
    fn has_background_work(&self) -> bool;

    /// The offset below which records are written (the end offset).
    fn written(&self) -> u64;

    /// Takes the work of one sync. With `through_end`, the job makes every record written so
    /// far durable; otherwise only the background work. Returns the job and the offset below
    /// which every record is durable once the job has run.
    fn take(&mut self, through_end: bool) -> (Self::Job, u64);

    /// Runs a job (the fsyncs), with no lock held.
    ///
    /// # Errors
    /// The first I/O error; it names its file.
    fn run(job: Self::Job) -> Result<()>;
}

/// A failed fsync, remembered for every later waiter.
#[derive(Debug, Clone)]
struct Failure {
    path: PathBuf,
    reason: String,
}

impl Failure {
    fn of(e: &Error) -> Self {
        match e {
            Error::Io { path, source } => Failure {
                path: path.clone(),
                reason: source.to_string(),
            },
            Error::SyncFailed { path, reason } => Failure {
                path: path.clone(),
                reason: reason.clone(),
            },
            other => Failure {
                path: PathBuf::new(),
                reason: other.to_string(),
            },
        }
    }

    fn error(&self) -> Error {
        Error::SyncFailed {
            path: self.path.clone(),
            reason: self.reason.clone(),
        }
    }
}

#[derive(Debug)]
struct State<W> {
    work: W,
    /// Durability asked for through this offset (by requests and waiters).
    wanted: u64,
    /// Every record below this is durable.
    durable: u64,
    /// A job is running (at most one at a time).
    syncing: bool,
    /// A flusher thread is running.
    flusher: bool,
    /// Bumped by [`GroupCommit::reset`]: a job taken before it must not move `durable`.
    generation: u64,
    failed: Option<Failure>,
    closed: bool,
}

/// The durable offset of one partition and the protocol that moves it. See the module docs.
#[derive(Debug)]
pub struct GroupCommit<W> {
    state: Mutex<State<W>>,
    /// Signalled when a job finishes and when there is new work for the flusher.
    changed: Condvar,
    /// `state.durable`, readable without the lock.
    durable: Watermark,
    /// `state.failed.is_some()`, readable without the lock: every append checks it.
    failed: AtomicBool,
}

impl<W: SyncWork> GroupCommit<W> {
    /// A commit whose records below `durable` are already durable.
    pub fn new(work: W, durable: u64) -> Self {
        GroupCommit {
            state: Mutex::new(State {
                work,
                wanted: durable,
                durable,
                syncing: false,
                flusher: false,
                generation: 0,
                failed: None,
                closed: false,
            }),
            changed: Condvar::new(),
            durable: Watermark::new(durable),
            failed: AtomicBool::new(false),
        }
    }

    /// [`Error::SyncFailed`] once an fsync has failed: from then on the partition must not
    /// take more records (they could never be acknowledged, yet readers would see them and a
    /// restart might keep them), so its writer refuses appends until the log is reopened.
    pub fn failure(&self) -> Option<Error> {
        if !self.failed.load(Ordering::Acquire) {
            return None;
        }
        self.state.lock().failed.as_ref().map(Failure::error)
    }

    /// Every record below this offset is durable.
    pub fn durable(&self) -> u64 {
        self.durable.load()
    }

    /// Changes the sync work (a segment roll). Returns `f`'s result and whether the caller
    /// must start a flusher thread ([`Self::run_flusher`]) for background work `f` created.
    pub fn update<R>(&self, f: impl FnOnce(&mut W) -> R) -> (R, bool) {
        let mut st = self.state.lock();
        let r = f(&mut st.work);
        let spawn = self.wake_flusher(&mut st);
        (r, spawn)
    }

    /// Asks for every record below `target` to become durable, without waiting. Returns
    /// whether the caller must start a flusher thread ([`Self::run_flusher`]).
    pub fn request(&self, target: u64) -> bool {
        if self.durable() >= target {
            return false;
        }
        let mut st = self.state.lock();
        st.wanted = st.wanted.max(target);
        self.wake_flusher(&mut st)
    }

    /// Notifies a running flusher, or says that one must be started.
    fn wake_flusher(&self, st: &mut State<W>) -> bool {
        let work = st.wanted > st.durable || st.work.has_background_work();
        if !work || st.closed || st.failed.is_some() {
            return false;
        }
        if st.flusher {
            self.changed.notify_all();
            false
        } else {
            st.flusher = true;
            true
        }
    }

    /// Says that a flusher thread the caller was told to start could not be started: waiters
    /// then run the fsyncs themselves.
    pub fn flusher_not_started(&self) {
        self.state.lock().flusher = false;
    }

    /// Blocks until every record below `target` is durable, running the fsync itself when
    /// none is in flight. A `target` past what is written means the records were cut away.
    ///
    /// # Errors
    /// [`Error::SyncFailed`] when the fsync this caller ran or waited for failed, or an earlier
    /// fsync failed, [`Error::Truncated`] when a [`Self::reset`] cut the records away first.
    pub fn wait_durable(&self, target: u64) -> Result<()> {
        if self.durable() >= target {
            return Ok(());
        }
        let mut st = self.state.lock();
        let generation = st.generation;
        let written = st.work.written();
        if target > written {
            // Only a truncation moves the end back below an append's records.
            return Err(Error::Truncated { offset: written });
        }
        loop {
            if let Some(f) = &st.failed {
                return Err(f.error());
            }
            if st.durable >= target {
                return Ok(());
            }
            if st.generation != generation {
                return Err(Error::Truncated { offset: st.durable });
            }
            st.wanted = st.wanted.max(target);
            st = if st.syncing {
                self.changed.wait(st)
            } else {
                let before = st.durable;
                let st = self.sync_once(st, true)?;
                if st.durable == before && st.generation == generation {
                    // Nothing below `target` was left to cover: the end moved back under us
                    // (a truncation about to reset). Wait for it instead of spinning.
                    self.changed.wait(st)
                } else {
                    st
                }
            };
        }
    }

    /// Blocks until no background work is left (sealed segments fsynced), running it itself
    /// when no fsync is in flight.
    ///
    /// # Errors
    /// As [`Self::wait_durable`].
    pub fn finish_background_work(&self) -> Result<()> {
        let mut st = self.state.lock();
        loop {
            if let Some(f) = &st.failed {
                return Err(f.error());
            }
            if !st.syncing && !st.work.has_background_work() {
                return Ok(());
            }
            st = if st.syncing {
                self.changed.wait(st)
            } else {
                self.sync_once(st, false)?
            };
        }
    }

    /// Runs one job: takes it under the lock, runs it without, publishes what it covered.
    fn sync_once<'a>(
        &'a self,
        mut st: MutexGuard<'a, State<W>>,
        through_end: bool,
    ) -> Result<MutexGuard<'a, State<W>>> {
        st.syncing = true;
        let generation = st.generation;
        let (job, covers) = st.work.take(through_end);
        drop(st);
        let outcome = W::run(job);
        let mut st = self.state.lock();
        st.syncing = false;
        let mut result = Ok(());
        if st.generation == generation {
            match outcome {
                Ok(()) if covers > st.durable => {
                    st.durable = covers;
                    self.durable.publish(covers);
                }
                Ok(()) => {}
                Err(e) => {
                    tracing::error!(error = %e, "fsync failed: the partition is read-only until the node restarts");
                    let failure = Failure::of(&e);
                    // Every waiter, this one included, gets the same `SyncFailed`, so callers
                    // tell "not durable" apart from other I/O errors by one variant.
                    result = Err(failure.error());
                    st.failed = Some(failure);
                    self.failed.store(true, Ordering::Release);
                }
            }
        }
        self.changed.notify_all();
        result.map(|()| st)
    }

    /// The flusher thread's body: fsyncs while durability is asked for or background work
    /// waits, and returns after `FLUSHER_IDLE` without work, after [`Self::close`], or after
    /// a failed fsync. Start it only when [`Self::request`] or [`Self::update`] says so.
    pub fn run_flusher(&self) {
        let mut st = self.state.lock();
        // (durable, wanted) after a job that could not move the durable offset to `wanted`
        // (the end moved back: a truncation): do not retry until either changes.
        let mut stuck = None;
        loop {
            if st.closed || st.failed.is_some() {
                break;
            }
            let wanted = st.wanted > st.durable && stuck != Some((st.durable, st.wanted));
            if !st.syncing && (wanted || st.work.has_background_work()) {
                let before = (st.durable, st.wanted);
                st = match self.sync_once(st, wanted) {
                    Ok(st) => st,
                    // Logged and remembered by `sync_once`; waiters get it.
                    Err(_) => self.state.lock(),
                };
                stuck = (wanted && st.durable == before.0).then_some((st.durable, st.wanted));
                continue;
            }
            let (guard, timeout) = self.changed.wait_timeout(st, FLUSHER_IDLE);
            st = guard;
            let idle = !st.syncing && st.wanted <= st.durable && !st.work.has_background_work();
            if timeout.timed_out() && idle {
                break;
            }
        }
        st.flusher = false;
        self.changed.notify_all();
    }

    /// Replaces the work and the durable offset after the files were cut back (truncation).
    /// Waits for a running job first; a job taken before the reset cannot move the durable
    /// offset afterwards.
    pub fn reset(&self, durable: u64, f: impl FnOnce(&mut W)) {
        let mut st = self.state.lock();
        while st.syncing {
            st = self.changed.wait(st);
        }
        st.generation += 1;
        f(&mut st.work);
        st.durable = durable;
        st.wanted = durable;
        self.durable.publish(durable);
        self.changed.notify_all();
    }

    /// Stops the flusher and waits until it has stopped (and no job runs), so that nothing
    /// touches the files afterwards; later waits still run their own fsyncs. Background work
    /// still queued stays undone (closing callers finish it first; a dropped partition
    /// leaves it to recovery, as a crash would).
    pub fn close(&self) {
        let mut st = self.state.lock();
        st.closed = true;
        self.changed.notify_all();
        while st.flusher || st.syncing {
            st = self.changed.wait(st);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use super::*;

    /// Files that are "written" through `written` and whose fsync fails while `fail` is set.
    struct Work {
        written: u64,
        fail: Arc<AtomicBool>,
    }

    impl SyncWork for Work {
        type Job = Arc<AtomicBool>;

        fn has_background_work(&self) -> bool {
            false
        }

        fn written(&self) -> u64 {
            self.written
        }

        fn take(&mut self, _through_end: bool) -> (Self::Job, u64) {
            (Arc::clone(&self.fail), self.written)
        }

        fn run(fail: Self::Job) -> Result<()> {
            if fail.load(Ordering::SeqCst) {
                return Err(Error::Io {
                    path: "00000000000000000000.log".into(),
                    source: std::io::Error::from_raw_os_error(5),
                });
            }
            Ok(())
        }
    }

    fn commit(fail: &Arc<AtomicBool>) -> GroupCommit<Work> {
        let work = Work {
            written: 0,
            fail: Arc::clone(fail),
        };
        GroupCommit::new(work, 0)
    }

    #[test]
    fn a_failed_fsync_is_sticky_and_reported_as_sync_failed() {
        let fail = Arc::new(AtomicBool::new(false));
        let commit = commit(&fail);
        commit.update(|w| w.written = 10);
        commit.wait_durable(10).expect("a working disk");
        assert_eq!(commit.durable(), 10);
        assert!(commit.failure().is_none());

        fail.store(true, Ordering::SeqCst);
        commit.update(|w| w.written = 20);
        let first = commit.wait_durable(20).expect_err("the fsync fails");
        assert!(
            matches!(&first, Error::SyncFailed { path, reason } if path.ends_with("00000000000000000000.log") && reason.contains("os error 5")),
            "{first:?}"
        );
        assert!(matches!(commit.failure(), Some(Error::SyncFailed { .. })));

        // The disk "recovers": a later fsync would succeed, but proves nothing about the
        // pages the failed one dropped, so the commit stays failed and durable stays put.
        fail.store(false, Ordering::SeqCst);
        assert!(matches!(
            commit.wait_durable(20),
            Err(Error::SyncFailed { .. })
        ));
        assert!(matches!(commit.failure(), Some(Error::SyncFailed { .. })));
        assert_eq!(commit.durable(), 10);
        // Nothing asks for a flusher any more: the partition is read-only.
        assert!(!commit.request(20));
    }
}
