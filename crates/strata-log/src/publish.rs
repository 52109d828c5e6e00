//! The publication protocol between a partition's one writer and its many readers.
//!
//! Readers never take the writer's lock. They see data only through two kinds of cells:
//! - [`Watermark`]: a monotonically growing position (a segment's published byte length, a
//!   partition's end offset). The writer stores it with `Release` *after* the bytes below it are
//!   written; a reader loads it with `Acquire` and touches only bytes below it, so it never sees
//!   a partial batch.
//! - [`SegmentSet`]: the ordered list of segments, replaced copy-on-write on roll and retention.
//!   A reader takes a snapshot (`Arc`s); a segment deleted by retention stays mapped until the
//!   last reader drops it, so deletion under a reader is safe.
//!
//! These types are used by the real partition and, under `--cfg loom`, model-checked in
//! `tests/loom_*.rs`.

use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{Arc, RwLock};

/// A monotonically growing published position.
#[derive(Debug, Default)]
pub struct Watermark(AtomicU64);

impl Watermark {
    /// A watermark at `value`.
    pub fn new(value: u64) -> Self {
        Watermark(AtomicU64::new(value))
    }

    /// Publishes `value`: everything written before this call is visible to a reader that
    /// [`load`](Self::load)s a value ≥ `value`.
    pub fn publish(&self, value: u64) {
        self.0.store(value, Ordering::Release);
    }

    /// The last published value, with the writes it covers.
    pub fn load(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// An ordered, copy-on-write list of shared items (segments), oldest first.
#[derive(Debug)]
pub struct SegmentSet<S> {
    inner: RwLock<Arc<Vec<Arc<S>>>>,
}

impl<S> SegmentSet<S> {
    /// A set holding `items`.
    pub fn new(items: Vec<Arc<S>>) -> Self {
        SegmentSet {
            inner: RwLock::new(Arc::new(items)),
        }
    }

    /// The current list; it stays valid (and its segments mapped) while held.
    pub fn snapshot(&self) -> Arc<Vec<Arc<S>>> {
        let guard = self.inner.read();
        Arc::clone(&guard)
    }

    /// Appends a new (active) item. Only the writer calls this.
    pub fn push(&self, item: Arc<S>) {
        let mut guard = self.inner.write();
        let mut next: Vec<Arc<S>> = guard.iter().cloned().collect();
        next.push(item);
        *guard = Arc::new(next);
    }

    /// Removes the `n` oldest items and returns them. Only the writer calls this.
    pub fn remove_oldest(&self, n: usize) -> Vec<Arc<S>> {
        let mut guard = self.inner.write();
        let n = n.min(guard.len());
        let removed = guard[..n].to_vec();
        *guard = Arc::new(guard[n..].to_vec());
        removed
    }

    /// Keeps the `keep` oldest items and appends `item` after them (truncation replaces the
    /// tail of the list). Writer only.
    pub fn truncate_and_push(&self, keep: usize, item: Arc<S>) {
        let mut guard = self.inner.write();
        let mut next: Vec<Arc<S>> = guard.iter().take(keep).cloned().collect();
        next.push(item);
        *guard = Arc::new(next);
    }
}
