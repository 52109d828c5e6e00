//! loom models of group commit (`strata_log::commit::GroupCommit`): acknowledgements never
//! run ahead of the fsync that covers them, with appenders, a waiter, the background flusher
//! and sealed-segment work interleaved every way loom can find. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p strata-log --release --test loom_commit`.
//!
//! A mock file holds one byte per record in loom `UnsafeCell`s (the page cache) and a second
//! array for the disk. A job's "fsync" copies the page-cache bytes it covers to the disk, so
//! loom reports a job that reads a record not yet written (the sync would miss it), and an
//! acknowledged reader that is not ordered after the fsync that made its record durable.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use strata_log::Result;
use strata_log::commit::{GroupCommit, SyncWork};
use strata_log::publish::Watermark;

const RECORDS: usize = 2;

struct MockFile {
    page_cache: Vec<UnsafeCell<u8>>,
    disk: Vec<UnsafeCell<u8>>,
    /// The partition's end offset: records below it are written.
    end: Watermark,
    /// Sealed segments whose fsync ran.
    sealed_synced: AtomicUsize,
}

// SAFETY: the cells are only touched through loom's `UnsafeCell::with`/`with_mut`, which is
// exactly what loom checks for unsynchronized access; the trait bounds of `SyncWork` (real
// jobs cross threads) need the marker.
unsafe impl Sync for MockFile {}
unsafe impl Send for MockFile {}

impl MockFile {
    fn new() -> Self {
        MockFile {
            page_cache: (0..RECORDS).map(|_| UnsafeCell::new(0)).collect(),
            disk: (0..RECORDS).map(|_| UnsafeCell::new(0)).collect(),
            end: Watermark::new(0),
            sealed_synced: AtomicUsize::new(0),
        }
    }

    /// The writer: write record `i`, then publish the end.
    fn append(&self, i: usize) {
        self.page_cache[i].with_mut(|p| unsafe { *p = i as u8 + 1 });
        self.end.publish(i as u64 + 1);
    }

    /// An acknowledged record must be on the disk.
    fn check_durable(&self, below: u64) {
        for i in 0..below as usize {
            let v = self.disk[i].with(|p| unsafe { *p });
            assert_eq!(v, i as u8 + 1, "record {i} acknowledged but not on disk");
        }
    }
}

struct MockWork {
    file: Arc<MockFile>,
    /// Records below this were copied to the disk by an earlier job (a real fsync writes
    /// only dirty pages; rewriting durable bytes would race with readers of the disk).
    synced_to: u64,
    /// Sealed segments waiting for their fsync.
    sealed_waiting: usize,
}

struct MockJob {
    file: Arc<MockFile>,
    from: u64,
    through: u64,
    seals: usize,
}

impl SyncWork for MockWork {
    type Job = MockJob;

    fn has_background_work(&self) -> bool {
        self.sealed_waiting > 0
    }

    fn written(&self) -> u64 {
        self.file.end.load()
    }

    fn take(&mut self, through_end: bool) -> (MockJob, u64) {
        let through = if through_end { self.file.end.load() } else { 0 };
        let from = self.synced_to.min(through);
        self.synced_to = self.synced_to.max(through);
        let seals = std::mem::take(&mut self.sealed_waiting);
        let job = MockJob {
            file: Arc::clone(&self.file),
            from,
            through,
            seals,
        };
        (job, through)
    }

    fn run(job: MockJob) -> Result<()> {
        for i in job.from as usize..job.through as usize {
            let v = job.file.page_cache[i].with(|p| unsafe { *p });
            job.file.disk[i].with_mut(|p| unsafe { *p = v });
        }
        job.file
            .sealed_synced
            .fetch_add(job.seals, Ordering::AcqRel);
        Ok(())
    }
}

/// Runs `f` under loom with a preemption bound: three or four threads contending for one
/// mutex and condvar are too many interleavings to enumerate unbounded in CI; loom's docs
/// recommend a bound of 2–3 (3 here: ~1 s; 4 takes ~8 s and found nothing more).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = builder.preemption_bound.or(Some(PREEMPTIONS));
    builder.check(f);
}

/// Forced context switches per execution (`LOOM_MAX_PREEMPTIONS` overrides).
const PREEMPTIONS: usize = 3;

fn commit(file: &Arc<MockFile>) -> Arc<GroupCommit<MockWork>> {
    Arc::new(GroupCommit::new(
        MockWork {
            file: Arc::clone(file),
            synced_to: 0,
            sealed_waiting: 0,
        },
        0,
    ))
}

/// A pipelined producer (append, request, append, request) with the flusher running, a
/// second waiter for the first record, and the producer redeeming its last append.
#[test]
fn an_acknowledged_record_is_on_disk() {
    model(|| {
        let file = Arc::new(MockFile::new());
        let commit = commit(&file);
        let mut flusher = None;

        file.append(0);
        if commit.request(1) {
            let c = Arc::clone(&commit);
            flusher = Some(thread::spawn(move || c.run_flusher()));
        }
        let waiter = {
            let (c, f) = (Arc::clone(&commit), Arc::clone(&file));
            thread::spawn(move || {
                c.wait_durable(1).expect("durable");
                f.check_durable(1);
            })
        };
        file.append(1);
        if commit.request(2) {
            let c = Arc::clone(&commit);
            flusher = Some(thread::spawn(move || c.run_flusher()));
        }
        commit.wait_durable(2).expect("durable");
        file.check_durable(2);
        assert!(commit.durable() >= 2);
        waiter.join().expect("waiter");
        commit.close();
        if let Some(f) = flusher {
            f.join().expect("flusher");
        }
    });
}

/// Background work (a sealed segment) done by the flusher or by a waiter, whichever comes
/// first, exactly once; a truncation-style reset waits for a running job and is not undone
/// by it.
#[test]
fn sealed_work_runs_once_and_reset_is_not_undone() {
    model(|| {
        let file = Arc::new(MockFile::new());
        let commit = commit(&file);
        file.append(0);
        let (_, spawn) = commit.update(|w| w.sealed_waiting += 1);
        assert!(spawn, "background work needs a flusher");
        let flusher = {
            let c = Arc::clone(&commit);
            thread::spawn(move || c.run_flusher())
        };
        let syncer = {
            let (c, f) = (Arc::clone(&commit), Arc::clone(&file));
            thread::spawn(move || match c.wait_durable(1) {
                Ok(()) => f.check_durable(1),
                // The truncation came first: the record is gone, not acknowledged.
                Err(strata_log::Error::Truncated { offset: 0 }) => {}
                Err(e) => panic!("{e}"),
            })
        };
        commit.finish_background_work().expect("sealed");
        assert_eq!(file.sealed_synced.load(Ordering::Acquire), 1);
        // Truncate back to 0 (the end moves first, as in `Partition::truncate_to`): whatever
        // job still runs, the durable offset stays at 0 after.
        file.end.publish(0);
        commit.reset(0, |w| w.synced_to = 0);
        assert_eq!(commit.durable(), 0);
        syncer.join().expect("syncer");
        assert!(
            commit.durable() == 0,
            "a job taken before the reset moved the durable offset"
        );
        commit.close();
        flusher.join().expect("flusher");
        assert_eq!(file.sealed_synced.load(Ordering::Acquire), 1);
    });
}
