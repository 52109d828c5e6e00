//! loom models of the writer/reader publication protocol (`strata_log::publish`), run with
//! `RUSTFLAGS="--cfg loom" cargo test -p strata-log --release --test loom_publish`.
//!
//! The real partition writes with `pwrite` into files that readers see through memory maps;
//! here a segment's bytes are loom `UnsafeCell`s, so loom reports any read that is not ordered
//! after the write of the same byte — exactly the "reader sees a partial batch" bug.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use strata_log::publish::{SegmentSet, Watermark};

/// Bytes per modelled batch; a reader must only ever see whole batches.
const BATCH: usize = 2;

/// A segment of `capacity` bytes holding offsets from `base` (one byte per record).
struct MockSegment {
    base: u64,
    data: Vec<UnsafeCell<u8>>,
    len: Watermark,
}

impl MockSegment {
    fn new(base: u64, capacity: usize) -> Self {
        MockSegment {
            base,
            data: (0..capacity).map(|_| UnsafeCell::new(0)).collect(),
            len: Watermark::new(0),
        }
    }

    /// The writer: fill one batch past the published length, then publish it.
    fn append_batch(&self) {
        let at = self.len.load() as usize;
        for i in at..at + BATCH {
            // Each byte holds its own offset (+1 so that 0 means "never written").
            self.data[i].with_mut(|p| unsafe { *p = (self.base as usize + i + 1) as u8 });
        }
        self.len.publish((at + BATCH) as u64);
    }

    /// A reader: everything below the published length is whole and correct.
    fn check_published(&self) -> u64 {
        let n = self.len.load() as usize;
        assert_eq!(n % BATCH, 0, "a reader saw a partial batch");
        for i in 0..n {
            let v = self.data[i].with(|p| unsafe { *p });
            assert_eq!(
                v as usize,
                self.base as usize + i + 1,
                "byte {i} read before it was written"
            );
        }
        n as u64
    }
}

#[test]
fn readers_see_only_whole_published_batches() {
    loom::model(|| {
        let segment = Arc::new(MockSegment::new(0, 2 * BATCH));
        let reader = {
            let segment = Arc::clone(&segment);
            thread::spawn(move || segment.check_published())
        };
        segment.append_batch();
        segment.append_batch();
        let seen = reader.join().expect("reader");
        assert!(seen <= (2 * BATCH) as u64);
        assert_eq!(segment.check_published(), (2 * BATCH) as u64);
    });
}

/// The partition-level protocol: an end offset and a start offset published by the writer,
/// a copy-on-write segment list changed by roll (push) and retention (remove oldest).
struct MockPartition {
    segments: SegmentSet<MockSegment>,
    start: Watermark,
    end: Watermark,
}

impl MockPartition {
    /// A reader of every offset in `start..end`: each one is either readable in its
    /// segment of the snapshot, or was deleted by retention (below the current start).
    fn read_all(&self) {
        let start = self.start.load();
        let end = self.end.load();
        let snapshot = self.segments.snapshot();
        for offset in start..end {
            let segment = snapshot.iter().rev().find(|s| s.base <= offset);
            match segment {
                Some(s) if offset < s.base + s.len.load() => {
                    let published = s.check_published();
                    assert!(offset < s.base + published);
                }
                _ => assert!(
                    offset < self.start.load(),
                    "offset {offset} below the end is neither readable nor deleted"
                ),
            }
        }
    }
}

#[test]
fn segment_roll_and_retention_under_a_reader() {
    loom::model(|| {
        let first = Arc::new(MockSegment::new(0, BATCH));
        let partition = Arc::new(MockPartition {
            segments: SegmentSet::new(vec![Arc::clone(&first)]),
            start: Watermark::new(0),
            end: Watermark::new(0),
        });
        first.append_batch();
        partition.end.publish(BATCH as u64);
        drop(first);

        let reader = {
            let partition = Arc::clone(&partition);
            thread::spawn(move || partition.read_all())
        };

        // Roll: a new active segment, then a batch in it, then the end moves.
        let second = Arc::new(MockSegment::new(BATCH as u64, BATCH));
        partition.segments.push(Arc::clone(&second));
        second.append_batch();
        partition.end.publish(2 * BATCH as u64);
        // Retention: move the start, then drop the sealed first segment (the other order
        // lets a reader miss a segment yet still see the old start: loom finds it).
        partition.start.publish(BATCH as u64);
        let removed = partition.segments.remove_oldest(1);
        drop(removed); // "unlink": the map lives on only in readers' snapshots

        reader.join().expect("reader");
        partition.read_all();
    });
}
