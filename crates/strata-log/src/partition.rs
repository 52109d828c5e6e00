//! A partition: an ordered sequence of segments with one writer and many lock-free readers.
//!
//! Appends take the writer lock only to stamp offsets, `pwrite` the batch and publish the new
//! end; under [`Durability::Always`] the fsync happens after the lock is released, and appenders
//! that arrive while an fsync runs share the next one (group commit). Reads take no lock held by
//! the writer: they snapshot the segment list and read below published watermarks (see
//! [`crate::publish`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex as StdMutex};
use std::time::{Duration, Instant};

use crate::batch::{BatchView, EncodedBatch, RecordIter, RecordView};
use crate::config::{Durability, TopicConfig};
use crate::error::{Error, IoContext, Result};
use crate::fsutil::sync_dir;
use crate::loom::{Arc, AtomicU64, Mutex, Ordering};
use crate::publish::{SegmentSet, Watermark};
use crate::segment::{RecoveryMode, Segment, SegmentWriter, parse_log_name};

/// File holding the offset below which every segment is sealed and fsynced.
const RECOVERY_POINT_FILE: &str = "recovery-point";

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the batch's first record.
    pub base_offset: u64,
    /// Offset of its last record.
    pub last_offset: u64,
}

/// Bounds on one read; at least one batch is returned whatever `max_bytes` says, so a
/// consumer always makes progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Most records to return.
    pub max_records: u64,
    /// Most bytes of batches to return (soft: one batch may exceed it).
    pub max_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_records: 500,
            max_bytes: 1024 * 1024,
        }
    }
}

/// One segment of a partition, as the batch layer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    /// First offset of the segment.
    pub base_offset: u64,
    /// Offset after its last record.
    pub next_offset: u64,
    /// Bytes of data.
    pub size_bytes: u64,
    /// Largest record timestamp (`i64::MIN` when empty).
    pub max_timestamp: i64,
    /// True for every segment but the active one: its records never change.
    pub sealed: bool,
}

/// Sizes and offsets of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionStats {
    /// First retained offset.
    pub start_offset: u64,
    /// Next offset to be written.
    pub end_offset: u64,
    /// Bytes of all segments.
    pub size_bytes: u64,
    /// Number of segments.
    pub segments: usize,
    /// Offset up to which appends are fsynced.
    pub durable_offset: u64,
}

#[derive(Debug)]
struct WriterState {
    active: SegmentWriter,
    closed: bool,
}

/// One partition of a topic.
#[derive(Debug)]
pub struct Partition {
    topic: String,
    id: u32,
    dir: PathBuf,
    config: TopicConfig,
    segments: SegmentSet<Segment>,
    start_offset: Watermark,
    end_offset: Watermark,
    durable_offset: Watermark,
    /// Segments whose records are all below this offset may not be deleted by retention
    /// (the batch layer has not archived them yet). `u64::MAX` means no floor.
    retention_floor: AtomicU64,
    writer: Mutex<WriterState>,
    sync_lock: Mutex<()>,
    /// When the last fsync finished, for the interval flusher.
    last_flush: StdMutex<Instant>,
    /// Wakes long-polling readers when the end offset moves.
    appended: (StdMutex<()>, Condvar),
}

impl Partition {
    /// Opens (or creates) the partition in `dir`, recovering it. `clean` says the log was shut
    /// down cleanly, so its indexes can be trusted.
    ///
    /// # Errors
    /// I/O errors and [`Error::Corrupt`] for damage that recovery must not cut away.
    pub fn open(
        topic: &str,
        id: u32,
        dir: &Path,
        config: TopicConfig,
        clean: bool,
    ) -> Result<Self> {
        fs::create_dir_all(dir).at(dir)?;
        let mut bases = Vec::new();
        for entry in fs::read_dir(dir).at(dir)? {
            let entry = entry.at(dir)?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(base) = parse_log_name(&name) {
                bases.push(base);
            } else if name.ends_with(".tmp") || name.ends_with(".truncating") {
                // A half-written file from a crash: the old one is still in place.
                fs::remove_file(entry.path()).at(entry.path())?;
            }
        }
        bases.sort_unstable();
        let recovery_point = read_recovery_point(dir)?;
        let capacity = config.segment_bytes;
        let interval = config.index_interval_bytes;

        let mut segments = Vec::with_capacity(bases.len().max(1));
        let mut active = None;
        for (i, &base) in bases.iter().enumerate() {
            let is_last = i + 1 == bases.len();
            let next_base = bases.get(i + 1).copied().unwrap_or(u64::MAX);
            let mode = if clean || next_base <= recovery_point {
                RecoveryMode::Trusted
            } else {
                RecoveryMode::Scan
            };
            let recovered = Segment::recover(dir, base, mode, is_last, capacity, interval)?;
            if !is_last && recovered.segment.next_offset.load() != next_base {
                return Err(Error::Corrupt {
                    path: recovered.segment.paths.log.clone(),
                    position: recovered.segment.size(),
                    reason: format!(
                        "segment ends at offset {} but the next segment starts at {next_base}",
                        recovered.segment.next_offset.load()
                    ),
                });
            }
            if is_last {
                let writer = SegmentWriter::resume(
                    &recovered.segment,
                    recovered.entries_len,
                    capacity.max(recovered.segment.size()),
                )?;
                active = Some(writer);
            }
            segments.push(Arc::new(recovered.segment));
        }
        let active = match active {
            Some(writer) => writer,
            None => {
                let (writer, segment) = SegmentWriter::create(dir, 0, capacity)?;
                sync_dir(dir)?;
                segments.push(Arc::new(segment));
                writer
            }
        };
        let start = segments.first().map_or(0, |s| s.base_offset);
        let end = active.next_offset;
        Ok(Partition {
            topic: topic.to_owned(),
            id,
            dir: dir.to_owned(),
            config,
            segments: SegmentSet::new(segments),
            start_offset: Watermark::new(start),
            end_offset: Watermark::new(end),
            // Recovery scanned and kept only what is on disk; after a crash that is what
            // survived, so it is as durable as the OS makes it.
            durable_offset: Watermark::new(end),
            retention_floor: AtomicU64::new(u64::MAX),
            writer: Mutex::new(WriterState {
                active,
                closed: false,
            }),
            sync_lock: Mutex::new(()),
            last_flush: StdMutex::new(Instant::now()),
            appended: (StdMutex::new(()), Condvar::new()),
        })
    }

    /// The partition number.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The topic name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The partition's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// First retained offset.
    pub fn start_offset(&self) -> u64 {
        self.start_offset.load()
    }

    /// Next offset to be written: readers see every record below it.
    pub fn end_offset(&self) -> u64 {
        self.end_offset.load()
    }

    /// Appends a batch of records, assigning them consecutive offsets.
    ///
    /// Under [`Durability::Always`] it returns only after the batch is on stable storage.
    ///
    /// # Errors
    /// [`Error::RecordTooLarge`] / [`Error::BatchTooLarge`] against the topic's limits (nothing
    /// is written), [`Error::Closed`] after close, I/O errors naming the file.
    pub fn append(&self, mut batch: EncodedBatch) -> Result<AppendInfo> {
        if batch.largest_record() as u64 > self.config.max_record_bytes {
            return Err(Error::RecordTooLarge {
                index: batch.largest_record_index(),
                size: batch.largest_record(),
                limit: self.config.max_record_bytes as usize,
            });
        }
        if batch.as_bytes().len() as u64 > self.config.segment_bytes {
            return Err(Error::BatchTooLarge {
                size: batch.as_bytes().len(),
                limit: self.config.segment_bytes,
            });
        }
        let info = {
            let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            if w.closed {
                return Err(Error::Closed);
            }
            let len = batch.as_bytes().len() as u64;
            if w.active.position > 0
                && (w.active.position + len > w.active.capacity
                    || w.active.is_older_than(self.config.segment_ms))
            {
                self.roll(&mut w)?;
            }
            let active = self.active_segment();
            let base = w
                .active
                .append(&active, &mut batch, self.config.index_interval_bytes)?;
            let last = base + u64::from(batch.record_count()) - 1;
            self.end_offset.publish(last + 1);
            AppendInfo {
                base_offset: base,
                last_offset: last,
            }
        };
        self.notify_appended();
        if self.config.durability == Durability::Always {
            self.sync_through(info.last_offset + 1)?;
        }
        Ok(info)
    }

    fn active_segment(&self) -> Arc<Segment> {
        let segments = self.segments.snapshot();
        #[expect(
            clippy::unwrap_used,
            reason = "a partition always has an active segment"
        )]
        Arc::clone(segments.last().unwrap())
    }

    /// Seals the active segment (fsync of its files) and starts a new one (fsync of the
    /// directory), then moves the recovery point past the sealed segment.
    fn roll(&self, w: &mut WriterState) -> Result<()> {
        w.active.seal()?;
        let base = w.active.next_offset;
        let (writer, segment) = SegmentWriter::create(&self.dir, base, self.config.segment_bytes)?;
        sync_dir(&self.dir)?;
        self.segments.push(Arc::new(segment));
        w.active = writer;
        // Everything below `base` is sealed and fsynced: recovery need not scan it.
        write_recovery_point(&self.dir, base)?;
        self.durable_offset
            .publish(self.durable_offset.load().max(base));
        Ok(())
    }

    /// Rolls the active segment if it holds records and is older than `segment_ms`, so that
    /// sealed segments keep arriving on a quiet topic.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn roll_if_aged(&self) -> Result<bool> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if w.closed || !w.active.is_older_than(self.config.segment_ms) {
            return Ok(false);
        }
        self.roll(&mut w)?;
        Ok(true)
    }

    /// Makes every record below `target` durable. Concurrent callers share one fsync: whoever
    /// takes the sync lock first flushes all that was written by then, and the rest find
    /// their records already covered.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn sync_through(&self, target: u64) -> Result<()> {
        if self.durable_offset.load() >= target {
            return Ok(());
        }
        let _sync = self.sync_lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.durable_offset.load() >= target {
            return Ok(());
        }
        let (file, path, written_end) = {
            let w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            (
                std::sync::Arc::clone(&w.active.log),
                w.active.paths.log.clone(),
                w.active.next_offset,
            )
        };
        // Records below `written_end` are in this file or in sealed segments, which were
        // fsynced when they rolled.
        file.sync_data().at(path)?;
        *self.last_flush.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.durable_offset
            .publish(self.durable_offset.load().max(written_end));
        Ok(())
    }

    /// fsyncs everything written so far (the interval flusher and close call this).
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn flush(&self) -> Result<()> {
        self.sync_through(self.end_offset())
    }

    /// True when records are waiting for an fsync and the last one is `interval_ms` old.
    pub fn flush_due(&self, interval_ms: u64) -> bool {
        let last = *self.last_flush.lock().unwrap_or_else(|e| e.into_inner());
        self.durable_offset.load() < self.end_offset()
            && last.elapsed() >= Duration::from_millis(interval_ms)
    }

    /// Reads records from `offset`, zero-copy.
    ///
    /// # Errors
    /// [`Error::OffsetOutOfRange`] outside `start..=end`; [`Error::Corrupt`] when a batch
    /// fails its CRC (it is never returned).
    pub fn read(&self, offset: u64, limits: ReadLimits) -> Result<Fetch> {
        let end = self.end_offset();
        let start = self.start_offset();
        if offset < start || offset > end {
            return Err(Error::OffsetOutOfRange { offset, start, end });
        }
        let mut fetch = Fetch {
            chunks: Vec::new(),
            from_offset: offset,
            next_offset: offset,
            end_offset: end,
        };
        if offset == end || limits.max_records == 0 {
            return Ok(fetch);
        }
        let segments = self.segments.snapshot();
        let first = segments.partition_point(|s| s.base_offset <= offset);
        if first == 0 {
            // Retention moved the start past `offset` after we checked.
            let start = self.start_offset();
            return Err(Error::OffsetOutOfRange { offset, start, end });
        }
        // Never past the end loaded above: a segment's length is published before the
        // partition's end, so the map may already hold a batch the end does not cover yet, and
        // a reader that took it would then ask for an offset "beyond the end" (found by the
        // concurrent reader test).
        let record_cap = offset.saturating_add(limits.max_records).min(end);
        let mut bytes_taken = 0u64;
        for segment in &segments[first - 1..] {
            let bytes = segment.bytes();
            let mut pos = if segment.base_offset <= fetch.next_offset
                && fetch.next_offset < segment.next_offset.load()
            {
                segment.position_of(fetch.next_offset)? as usize
            } else {
                0
            };
            let chunk_start = pos;
            segment.prefault(
                pos,
                pos.saturating_add(limits.max_bytes.min(64 << 20) as usize),
            );
            let mut full = false;
            while pos < bytes.len() {
                let view = segment.batch_at(bytes, pos)?;
                if view.base_offset() >= end {
                    full = true;
                    break;
                }
                let size = view.size() as u64;
                let first_batch = fetch.chunks.is_empty() && pos == chunk_start;
                if !first_batch && bytes_taken + size > limits.max_bytes {
                    full = true;
                    break;
                }
                bytes_taken += size;
                pos += view.size();
                fetch.next_offset = view.next_offset().min(record_cap);
                if fetch.next_offset >= record_cap {
                    full = true;
                    break;
                }
            }
            if pos > chunk_start {
                fetch.chunks.push(Chunk {
                    segment: Arc::clone(segment),
                    start: chunk_start,
                    end: pos,
                });
            }
            if full {
                break;
            }
        }
        Ok(fetch)
    }

    /// The first offset whose record timestamp is ≥ `timestamp`, in log order; `None` when
    /// no retained record is that new.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when a batch on the way fails its CRC.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<u64>> {
        let segments = self.segments.snapshot();
        for segment in segments.iter() {
            if segment.max_timestamp() < timestamp {
                continue;
            }
            let bytes = segment.bytes();
            let mut pos = segment.position_for_time(timestamp) as usize;
            while pos < bytes.len() {
                let view = segment.batch_at(bytes, pos)?;
                if view.max_timestamp() >= timestamp {
                    for record in view.records() {
                        let record = record.map_err(|r| segment.corrupt(pos, r))?;
                        if record.timestamp >= timestamp {
                            return Ok(Some(record.offset));
                        }
                    }
                }
                pos += view.size();
            }
        }
        Ok(None)
    }

    /// Blocks until the end offset passes `offset` or `timeout` elapses; returns the end offset.
    pub fn wait_for_data(&self, offset: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        let (lock, cond) = &self.appended;
        let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let end = self.end_offset();
            let now = Instant::now();
            if end > offset || now >= deadline {
                return end;
            }
            guard = cond
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn notify_appended(&self) {
        let (lock, cond) = &self.appended;
        // Taking the lock orders this wake-up after a waiter's check of the end offset.
        drop(lock.lock().unwrap_or_else(|e| e.into_inner()));
        cond.notify_all();
    }

    /// Forbids retention from deleting records at or above `offset` (the batch layer's
    /// archive position); `u64::MAX` lifts the floor.
    pub fn set_retention_floor(&self, offset: u64) {
        self.retention_floor.store(offset, Ordering::Release);
    }

    /// Deletes the oldest sealed segments that retention (time, then size) no longer keeps.
    /// Returns how many were deleted. The active segment is never deleted.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize> {
        let (retention_ms, retention_bytes) =
            (self.config.retention_ms, self.config.retention_bytes);
        if retention_ms.is_none() && retention_bytes.is_none() {
            return Ok(0);
        }
        // The writer lock orders retention with rolls, so the list cannot change under us.
        let _w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let segments = self.segments.snapshot();
        let floor = self.retention_floor.load(Ordering::Acquire);
        let mut total: u64 = segments.iter().map(|s| s.size()).sum();
        let mut doomed = 0;
        for segment in &segments[..segments.len() - 1] {
            let expired = retention_ms
                .is_some_and(|ms| segment.max_timestamp() < now_ms.saturating_sub(ms as i64));
            let oversize = retention_bytes.is_some_and(|b| total > b);
            let archived = segment.next_offset.load() <= floor;
            if !(expired || oversize) || !archived {
                break;
            }
            total -= segment.size();
            doomed += 1;
        }
        if doomed == 0 {
            return Ok(0);
        }
        // Move the start first, then drop the segments: a reader whose snapshot no longer
        // holds its offset is then sure to see the new start (found by the loom model).
        self.start_offset.publish(segments[doomed].base_offset);
        let removed = self.segments.remove_oldest(doomed);
        // Readers that still hold a removed segment keep its map; unlinking is safe.
        for segment in removed {
            for path in [
                &segment.paths.log,
                &segment.paths.index,
                &segment.paths.timeindex,
            ] {
                match fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).at(path),
                }
            }
        }
        sync_dir(&self.dir)?;
        Ok(doomed)
    }

    /// Cuts the partition back so that `offset` becomes its end offset: the records at and
    /// after it are removed. Used by views to drop output written after their last
    /// checkpoint, so that a restart neither duplicates nor loses output.
    ///
    /// The segment holding `offset` is rewritten into a fresh file (a new inode), so a reader
    /// still mapping the old one keeps reading valid bytes; later segments are deleted.
    ///
    /// # Errors
    /// [`Error::OffsetOutOfRange`] outside `start..=end`, [`Error::NotBatchBoundary`] inside a
    /// batch, I/O errors naming the file.
    pub fn truncate_to(&self, offset: u64) -> Result<()> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if w.closed {
            return Err(Error::Closed);
        }
        let (start, end) = (self.start_offset(), self.end_offset());
        if offset == end {
            return Ok(());
        }
        if offset < start || offset > end {
            return Err(Error::OffsetOutOfRange { offset, start, end });
        }
        let segments = self.segments.snapshot();
        let idx = segments.partition_point(|s| s.base_offset <= offset) - 1;
        let segment = &segments[idx];
        let position = segment.position_of(offset)? as usize;
        let bytes = segment.bytes();
        if position < bytes.len() {
            let view = BatchView::frame(&bytes[position..])
                .map_err(|e| segment.corrupt_frame(position, e))?;
            if view.base_offset() != offset {
                return Err(Error::NotBatchBoundary { offset });
            }
        }
        let tmp = segment.paths.log.with_extension("log.truncating");
        {
            let mut f = fs::File::create(&tmp).at(&tmp)?;
            std::io::Write::write_all(&mut f, &bytes[..position]).at(&tmp)?;
            f.sync_all().at(&tmp)?;
        }
        fs::rename(&tmp, &segment.paths.log).at(&segment.paths.log)?;
        for later in &segments[idx + 1..] {
            for path in [&later.paths.log, &later.paths.index, &later.paths.timeindex] {
                match fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).at(path),
                }
            }
        }
        // The recovery point must not claim the (now active) segment is sealed.
        write_recovery_point(&self.dir, segment.base_offset)?;
        sync_dir(&self.dir)?;
        let capacity = self.config.segment_bytes.max(position as u64);
        let recovered = Segment::recover(
            &self.dir,
            segment.base_offset,
            RecoveryMode::Scan,
            true,
            capacity,
            self.config.index_interval_bytes,
        )?;
        w.active = SegmentWriter::resume(&recovered.segment, recovered.entries_len, capacity)?;
        self.segments
            .truncate_and_push(idx, Arc::new(recovered.segment));
        self.end_offset.publish(offset);
        self.durable_offset
            .publish(self.durable_offset.load().min(offset));
        Ok(())
    }

    /// The partition's segments, oldest first; all but the last are sealed.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        let segments = self.segments.snapshot();
        let last = segments.len().saturating_sub(1);
        segments
            .iter()
            .enumerate()
            .map(|(i, s)| SegmentInfo {
                base_offset: s.base_offset,
                next_offset: s.next_offset.load(),
                size_bytes: s.size(),
                max_timestamp: s.max_timestamp(),
                sealed: i < last,
            })
            .collect()
    }

    /// Seals the active segment now if it holds records (so that the batch layer can take
    /// everything written so far); returns whether it rolled.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn roll_now(&self) -> Result<bool> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if w.closed || w.active.position == 0 {
            return Ok(false);
        }
        self.roll(&mut w)?;
        Ok(true)
    }

    /// Offsets, sizes and segment count.
    pub fn stats(&self) -> PartitionStats {
        let segments = self.segments.snapshot();
        PartitionStats {
            start_offset: self.start_offset(),
            end_offset: self.end_offset(),
            size_bytes: segments.iter().map(|s| s.size()).sum(),
            segments: segments.len(),
            durable_offset: self.durable_offset.load(),
        }
    }

    /// Flushes and stops accepting appends; the recovery point moves to the end.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn close(&self) -> Result<()> {
        self.flush()?;
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if w.closed {
            return Ok(());
        }
        w.active.sync_all()?;
        w.closed = true;
        Ok(())
    }
}

fn read_recovery_point(dir: &Path) -> Result<u64> {
    let path = dir.join(RECOVERY_POINT_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map_err(|_| Error::Corrupt {
            path,
            position: 0,
            reason: "recovery point is not a number".into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e).at(path),
    }
}

fn write_recovery_point(dir: &Path, offset: u64) -> Result<()> {
    crate::fsutil::write_atomically(
        &dir.join(RECOVERY_POINT_FILE),
        offset.to_string().as_bytes(),
    )
}

/// A range of whole, CRC-checked batches of one segment, kept mapped while held.
#[derive(Debug, Clone)]
struct Chunk {
    segment: Arc<Segment>,
    start: usize,
    end: usize,
}

/// The result of a read: whole batches, borrowed from the segment maps (zero-copy).
#[derive(Debug, Clone)]
pub struct Fetch {
    chunks: Vec<Chunk>,
    from_offset: u64,
    next_offset: u64,
    end_offset: u64,
}

impl Fetch {
    /// The records from the requested offset up to [`Fetch::next_offset`].
    pub fn records(&self) -> Records<'_> {
        Records {
            fetch: self,
            chunk: 0,
            pos: 0,
            current: None,
        }
    }

    /// The raw batches, whole (the first may start before the requested offset).
    pub fn batches(&self) -> impl Iterator<Item = BatchView<'_>> {
        self.chunks.iter().flat_map(|c| {
            let bytes = &c.segment.bytes()[c.start..c.end];
            BatchIter { bytes }
        })
    }

    /// The offset to read from next.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// The partition's end offset when the read began.
    pub fn end_offset(&self) -> u64 {
        self.end_offset
    }

    /// Number of records the fetch yields.
    pub fn record_count(&self) -> u64 {
        self.next_offset - self.from_offset
    }

    /// Bytes of batches held.
    pub fn size_bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.end - c.start).sum()
    }
}

struct BatchIter<'a> {
    bytes: &'a [u8],
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = BatchView<'a>;

    fn next(&mut self) -> Option<BatchView<'a>> {
        // Every batch here passed its CRC check in `read`.
        let view = BatchView::frame(self.bytes).ok()?;
        self.bytes = &self.bytes[view.size()..];
        Some(view)
    }
}

/// Iterates the records of a [`Fetch`].
#[derive(Debug)]
pub struct Records<'a> {
    fetch: &'a Fetch,
    chunk: usize,
    pos: usize,
    current: Option<(RecordIter<'a>, usize)>,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RecordView<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((records, batch_pos)) = &mut self.current {
                match records.next() {
                    Some(Ok(r)) if r.offset < self.fetch.from_offset => continue,
                    Some(Ok(r)) if r.offset >= self.fetch.next_offset => {
                        self.chunk = self.fetch.chunks.len();
                        self.current = None;
                        return None;
                    }
                    Some(Ok(r)) => return Some(Ok(r)),
                    Some(Err(reason)) => {
                        let chunk = &self.fetch.chunks[self.chunk];
                        let err = chunk.segment.corrupt(*batch_pos, reason);
                        self.chunk = self.fetch.chunks.len();
                        self.current = None;
                        return Some(Err(err));
                    }
                    None => self.current = None,
                }
            }
            let chunk = self.fetch.chunks.get(self.chunk)?;
            let bytes = &chunk.segment.bytes()[..chunk.end];
            if self.pos < chunk.start {
                self.pos = chunk.start;
            }
            if self.pos >= chunk.end {
                self.chunk += 1;
                self.pos = 0;
                continue;
            }
            let view = BatchView::frame(&bytes[self.pos..]).ok()?;
            self.current = Some((view.records(), self.pos));
            self.pos += view.size();
        }
    }
}
