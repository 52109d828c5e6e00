//! A partition: an ordered sequence of segments with one writer and many lock-free readers.
//!
//! Appends take the writer lock only to stamp offsets, `pwrite` the batch and publish the new
//! end. Durability is a separate step ([`crate::commit`]): under [`Durability::Always`],
//! [`Partition::append`] waits for an fsync after the lock is released, and appenders that
//! arrive while an fsync runs share the next one (group commit); [`Partition::append_unacked`]
//! returns once the batch is written and [`Partition::wait_ack`] redeems it later, so that one
//! producer can keep several batches in flight. A segment roll fsyncs nothing on the append
//! path: the sealed segment's fsync runs in the background ([`crate::files`]). Reads take no
//! lock held by the writer: they snapshot the segment list and read below published watermarks
//! (see [`crate::publish`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::batch::{BatchView, EncodedBatch, RecordIter, RecordView};
use crate::commit::GroupCommit;
use crate::config::{Durability, TopicConfig};
use crate::error::{Error, IoContext, Result};
use crate::files::{PartitionFiles, read_recovery_point, write_recovery_point};
use crate::fsutil::sync_dir;
use crate::publish::{SegmentSet, Watermark};
use crate::segment::{RecoveryMode, Segment, SegmentPaths, SegmentWriter, parse_log_name};
use crate::sync::atomic::{AtomicU64, Ordering};
// std's always for the flush clock and the long poll: outside every loom model, and the long
// poll's timed wait needs real time (a loom wait never times out).
use crate::sync::unmodelled::{Condvar, Mutex as StdMutex};
use crate::sync::{Arc, Mutex};

/// Sealed segments that may wait for their fsync at once; past this the appender that rolled
/// waits for them (back-pressure when the disk cannot keep up, or no flusher could start).
const MAX_SEALED_WAITING: usize = 4;

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
    /// True for a segment that is sealed (not the active one: its records never change)
    /// and on stable storage (its files and directory entry fsynced). Segments become sealed
    /// in order, a short while after they roll.
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
    /// Every record below this offset is fsynced.
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
    /// Shared with the sync work, which reads what has been written from it.
    end_offset: std::sync::Arc<Watermark>,
    /// Segments whose records are all below this offset may not be deleted by retention
    /// (the batch layer has not archived them yet). `u64::MAX` means no floor.
    retention_floor: AtomicU64,
    writer: Mutex<WriterState>,
    /// The durable offset and the fsyncs that move it.
    commit: std::sync::Arc<GroupCommit<PartitionFiles>>,
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
        let bases = list_segments(dir)?;
        let recovery_point = read_recovery_point(dir)?;
        let (mut segments, active) = recover_segments(dir, bases, recovery_point, clean, &config)?;
        let active = match active {
            Some(writer) => writer,
            None => {
                let (writer, segment) = SegmentWriter::create(dir, 0, config.segment_bytes)?;
                // Also fsyncs the directory. From now on the recovery point exists, so a
                // crash before a sealed segment's fsync is told from lost metadata.
                write_recovery_point(dir, 0)?;
                segments.push(Arc::new(segment));
                writer
            }
        };
        let start = segments.first().map_or(0, |s| s.base_offset);
        let end = std::sync::Arc::new(Watermark::new(active.next_offset));
        let files = PartitionFiles::new(
            dir.to_owned(),
            std::sync::Arc::clone(&end),
            active.active_file(),
        );
        // Recovery scanned and kept only what is on disk; after a crash that is what
        // survived, so it is as durable as the OS makes it.
        let commit = GroupCommit::new(files, end.load());
        Ok(Partition {
            topic: topic.to_owned(),
            id,
            dir: dir.to_owned(),
            config,
            segments: SegmentSet::new(segments),
            start_offset: Watermark::new(start),
            end_offset: end,
            retention_floor: AtomicU64::new(u64::MAX),
            writer: Mutex::new(WriterState {
                active,
                closed: false,
            }),
            commit: std::sync::Arc::new(commit),
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
    /// Under [`Durability::Always`] it returns only after the batch is on stable storage
    /// (it is [`Self::append_unacked`] followed by [`Self::wait_ack`]).
    ///
    /// # Errors
    /// [`Error::RecordTooLarge`] / [`Error::BatchTooLarge`] against the topic's limits (nothing
    /// is written), [`Error::Closed`] after close, I/O errors naming the file,
    /// [`Error::SyncFailed`] when this append's fsync failed, or an earlier one did (then
    /// nothing is written: the partition is read-only until the log is reopened).
    pub fn append(&self, batch: EncodedBatch) -> Result<AppendInfo> {
        // The caller waits right away, so it runs the fsync itself (no hand-off to a flusher).
        let info = self.write(batch, false)?;
        self.wait_ack(&info)?;
        Ok(info)
    }

    /// Appends a batch like [`Self::append`] but returns as soon as it is written and
    /// visible to readers, without waiting for the topic's durability policy; redeem the
    /// returned [`AppendInfo`] with [`Self::wait_ack`] before acknowledging it to anyone.
    ///
    /// Under [`Durability::Always`] the fsync starts in the background at once, so a producer
    /// can write its next batch while this one's fsync runs, and batches written meanwhile
    /// share the next fsync. Appends are ordered: when a later append is acknowledged, so is
    /// every earlier one.
    ///
    /// # Errors
    /// As [`Self::append`], except that durability errors come from [`Self::wait_ack`].
    pub fn append_unacked(&self, batch: EncodedBatch) -> Result<AppendInfo> {
        self.write(batch, self.config.durability == Durability::Always)
    }

    /// Blocks until the append that returned `info` is acknowledged under the topic's
    /// durability policy: on stable storage under [`Durability::Always`]; at once otherwise
    /// (the batch was written when [`Self::append_unacked`] returned).
    ///
    /// # Errors
    /// [`Error::SyncFailed`] when its fsync failed (naming the file) or an earlier one did,
    /// [`Error::Truncated`] when the partition was truncated below the append:
    /// the append must then not be acknowledged.
    pub fn wait_ack(&self, info: &AppendInfo) -> Result<()> {
        if self.config.durability == Durability::Always {
            // Not `sync_through`, which caps its target at the end offset: records above the
            // end were truncated away and must not be acknowledged.
            self.commit.wait_durable(info.last_offset + 1)?;
        }
        Ok(())
    }

    /// True when [`Self::wait_ack`] for `info` would return at once with success: the topic
    /// does not wait for fsyncs, or this append is already on stable storage. Lets an async
    /// caller skip handing the wait to a blocking thread.
    pub fn is_acknowledged(&self, info: &AppendInfo) -> bool {
        self.config.durability != Durability::Always || self.durable_offset() > info.last_offset
    }

    /// Stamps, writes and publishes a batch; `request` asks for its fsync in the background.
    fn write(&self, mut batch: EncodedBatch, request: bool) -> Result<AppendInfo> {
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
        let mut sealed_waiting = 0;
        let info = {
            let mut w = self.writer.lock();
            if w.closed {
                return Err(Error::Closed);
            }
            if let Some(failed) = self.commit.failure() {
                return Err(failed);
            }
            let len = batch.as_bytes().len() as u64;
            if w.active.position > 0
                && (w.active.position + len > w.active.capacity
                    || w.active.is_older_than(self.config.segment_ms))
            {
                sealed_waiting = self.roll(&mut w)?;
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
        if sealed_waiting > MAX_SEALED_WAITING {
            self.commit.finish_background_work()?;
        }
        if request && self.commit.request(info.last_offset + 1) {
            self.start_flusher();
        }
        Ok(info)
    }

    /// Starts the partition's flusher thread (when [`GroupCommit`] says one is needed).
    fn start_flusher(&self) {
        let commit = std::sync::Arc::clone(&self.commit);
        let started = std::thread::Builder::new()
            .name("strata-log-sync".into())
            .spawn(move || commit.run_flusher());
        if let Err(e) = started {
            tracing::warn!(error = %e, topic = %self.topic, partition = self.id, "cannot start a flusher thread; appenders will fsync themselves");
            self.commit.flusher_not_started();
        }
    }

    fn active_segment(&self) -> Arc<Segment> {
        let segments = self.segments.snapshot();
        #[expect(
            clippy::unwrap_used,
            reason = "a partition always has an active segment"
        )]
        Arc::clone(segments.last().unwrap())
    }

    /// Seals the active segment and starts a new one. Nothing is fsynced here: the sealed
    /// segment's files, then the directory, are fsynced by the next sync job (in the
    /// background), which then moves the recovery point past them. Returns how many sealed
    /// segments wait for that.
    fn roll(&self, w: &mut WriterState) -> Result<usize> {
        w.active.write_seal()?;
        let base = w.active.next_offset;
        let (writer, segment) = SegmentWriter::create(&self.dir, base, self.config.segment_bytes)?;
        let sealed_segment = self.active_segment();
        let active_file = writer.active_file();
        self.segments.push(Arc::new(segment));
        let sealed = std::mem::replace(&mut w.active, writer).into_sealed(sealed_segment);
        let (waiting, spawn) = self.commit.update(|files| {
            files.rolled(sealed, active_file);
            files.sealed_waiting()
        });
        if spawn {
            self.start_flusher();
        }
        Ok(waiting)
    }

    /// Rolls the active segment if it holds records and is older than `segment_ms`, so that
    /// sealed segments keep arriving on a quiet topic.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn roll_if_aged(&self) -> Result<bool> {
        let mut w = self.writer.lock();
        if w.closed || !w.active.is_older_than(self.config.segment_ms) {
            return Ok(false);
        }
        self.roll(&mut w)?;
        Ok(true)
    }

    /// Makes every record below `target` durable (capped at the end offset). Concurrent
    /// callers share one fsync: whoever finds none running flushes all that was written by
    /// then, and the rest find their records covered by it or by the next one.
    ///
    /// # Errors
    /// I/O errors naming the file; [`Error::SyncFailed`] after an earlier failed fsync.
    pub fn sync_through(&self, target: u64) -> Result<()> {
        let target = target.min(self.end_offset());
        self.commit.wait_durable(target)?;
        *self.last_flush.lock() = Instant::now();
        Ok(())
    }

    /// Every record below this offset is on stable storage.
    pub fn durable_offset(&self) -> u64 {
        self.commit.durable()
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
        let last = *self.last_flush.lock();
        self.commit.durable() < self.end_offset()
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
        let mut guard = lock.lock();
        loop {
            let end = self.end_offset();
            let now = Instant::now();
            if end > offset || now >= deadline {
                return end;
            }
            guard = cond.wait_timeout(guard, deadline - now).0;
        }
    }

    fn notify_appended(&self) {
        let (lock, cond) = &self.appended;
        // Taking the lock orders this wake-up after a waiter's check of the end offset.
        drop(lock.lock());
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
        // Segments count for retention once sealed, i.e. fsynced: finish those waiting first
        // (outside the writer lock, so appends go on meanwhile).
        self.commit.finish_background_work()?;
        // The writer lock orders retention with rolls, so the list cannot change under us.
        let _w = self.writer.lock();
        let segments = self.segments.snapshot();
        let floor = self.retention_floor.load(Ordering::Acquire);
        let mut total: u64 = segments.iter().map(|s| s.size()).sum();
        let mut doomed = 0;
        for segment in &segments[..segments.len() - 1] {
            let expired = retention_ms
                .is_some_and(|ms| segment.max_timestamp() < now_ms.saturating_sub(ms as i64));
            let oversize = retention_bytes.is_some_and(|b| total > b);
            let archived = segment.next_offset.load() <= floor;
            // A segment whose fsync is still pending is not sealed yet for anyone.
            if !(expired || oversize) || !archived || !segment.is_durable() {
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
            remove_segment_files(&segment.paths)?;
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
        let mut w = self.writer.lock();
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
        // Sealed segments waiting for their fsync get it now: the recovery point written
        // below must not claim an unsynced segment, and segments about to be deleted must
        // leave the sync queue. (The writer lock keeps new rolls out meanwhile.)
        self.commit.finish_background_work()?;
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
            remove_segment_files(&later.paths)?;
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
            true,
            capacity,
            self.config.index_interval_bytes,
        )?;
        w.active = SegmentWriter::resume(&recovered.segment, recovered.entries_len, capacity)?;
        self.segments
            .truncate_and_push(idx, Arc::new(recovered.segment));
        self.end_offset.publish(offset);
        // The rewritten segment was fsynced, the sealed ones before it too.
        let active = w.active.active_file();
        self.commit
            .reset(offset, |files| files.replace_active(active));
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
                sealed: i < last && s.is_durable(),
            })
            .collect()
    }

    /// Seals the active segment now if it holds records (so that the batch layer can take
    /// everything written so far) and waits until every rolled segment is fsynced, so that
    /// [`Self::segments`] reports them sealed; returns whether it rolled.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn roll_now(&self) -> Result<bool> {
        let rolled = {
            let mut w = self.writer.lock();
            if w.closed {
                return Ok(false);
            }
            let roll = w.active.position > 0;
            if roll {
                self.roll(&mut w)?;
            }
            roll
        };
        self.commit.finish_background_work()?;
        Ok(rolled)
    }

    /// Blocks until every segment rolled so far is fsynced and so reported sealed by
    /// [`Self::segments`] (sealing otherwise completes in the background shortly after a roll).
    ///
    /// # Errors
    /// I/O errors naming the file; [`Error::SyncFailed`] after an earlier failed fsync.
    pub fn wait_sealed(&self) -> Result<()> {
        self.commit.finish_background_work()
    }

    /// Offsets, sizes and segment count.
    pub fn stats(&self) -> PartitionStats {
        let segments = self.segments.snapshot();
        PartitionStats {
            start_offset: self.start_offset(),
            end_offset: self.end_offset(),
            size_bytes: segments.iter().map(|s| s.size()).sum(),
            segments: segments.len(),
            durable_offset: self.commit.durable(),
        }
    }

    /// Flushes and stops accepting appends; the recovery point moves to the end.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn close(&self) -> Result<()> {
        self.flush()?;
        self.commit.finish_background_work()?;
        let mut w = self.writer.lock();
        if w.closed {
            return Ok(());
        }
        w.active.sync_all()?;
        w.closed = true;
        self.commit.close();
        Ok(())
    }
}

impl Drop for Partition {
    /// Stops the flusher thread (after its current fsync), so that a partition dropped
    /// without [`Partition::close`] leaves its files alone, like a crash would.
    fn drop(&mut self) {
        self.commit.close();
    }
}

/// Deletes a segment's three files (a missing one is fine).
fn remove_segment_files(paths: &SegmentPaths) -> Result<()> {
    for path in [&paths.log, &paths.index, &paths.timeindex] {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).at(path),
        }
    }
    Ok(())
}

/// The base offsets of the segments in `dir` (created if missing), sorted; removes the
/// half-written files a crash left behind.
fn list_segments(dir: &Path) -> Result<Vec<u64>> {
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
            match fs::remove_file(entry.path()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).at(entry.path()),
            }
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// Recovers the segments at `bases`, oldest first: checks each (trusting the indexes of
/// those below the recovery point, or all of them after a clean shutdown), cuts the log
/// where a sealed segment lost its tail, and makes the sealed segments durable. Returns the
/// segments and the writer of the last one (`None` when there are no segments).
///
/// # Errors
/// I/O errors and [`Error::Corrupt`] for damage that recovery must not cut away.
fn recover_segments(
    dir: &Path,
    mut bases: Vec<u64>,
    recovery_point: Option<u64>,
    clean: bool,
    config: &TopicConfig,
) -> Result<(Vec<Arc<Segment>>, Option<SegmentWriter>)> {
    let capacity = config.segment_bytes;
    let interval = config.index_interval_bytes;
    let mut segments = Vec::with_capacity(bases.len().max(1));
    let mut active = None;
    // Sealed segments above the recovery point: their fsync may not have run.
    let mut unsynced = Vec::new();
    let mut i = 0;
    while i < bases.len() {
        let base = bases[i];
        let mut is_last = i + 1 == bases.len();
        let next_base = bases.get(i + 1).copied().unwrap_or(u64::MAX);
        let mode = if clean || next_base <= recovery_point.unwrap_or(0) {
            RecoveryMode::Trusted
        } else {
            RecoveryMode::Scan
        };
        // The active segment may always be torn; a sealed one only if its fsync may not
        // have run, i.e. it is above a recovery point that exists. (With the file missing
        // nothing is known, and damage in a sealed segment is reported, not cut away.)
        let may_be_torn = is_last || recovery_point.is_some();
        let mut recovered =
            Segment::recover(dir, base, mode, may_be_torn, is_last, capacity, interval)?;
        let ends_at = recovered.segment.next_offset.load();
        if !is_last && ends_at != next_base {
            if mode == RecoveryMode::Trusted || !may_be_torn {
                return Err(Error::Corrupt {
                    path: recovered.segment.paths.log.clone(),
                    position: recovered.segment.size(),
                    reason: format!(
                        "segment ends at offset {ends_at} but the next segment starts at {next_base}"
                    ),
                });
            }
            // A crash came before this sealed segment's fsync: its tail never reached the
            // disk, so the log ends here and later segments (after the gap) go. Nothing in
            // them was acknowledged as durable or handed to the batch layer: both wait for
            // this segment's fsync.
            tracing::warn!(
                path = %recovered.segment.paths.log.display(),
                ends_at,
                next_base,
                removed_segments = bases.len() - i - 1,
                "a sealed segment lost its tail in a crash; the log is cut there"
            );
            for &later in &bases[i + 1..] {
                remove_segment_files(&SegmentPaths::new(dir, later))?;
            }
            sync_dir(dir)?;
            bases.truncate(i + 1);
            is_last = true;
            recovered = Segment::recover(
                dir,
                base,
                RecoveryMode::Scan,
                true,
                true,
                capacity,
                interval,
            )?;
        }
        if !is_last {
            if mode == RecoveryMode::Trusted {
                recovered.segment.mark_durable();
            } else {
                unsynced.push(recovered.segment.paths.clone());
            }
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
        i += 1;
    }
    if !unsynced.is_empty() {
        sync_survivors(dir, &segments, &unsynced)?;
    }
    Ok((segments, active))
}

/// Makes the sealed segments that survived a crash above the recovery point (`unsynced`)
/// durable, then moves the recovery point past every sealed segment: what survived may
/// still sit in the page cache only, and nothing may count on it before that.
///
/// # Errors
/// I/O errors naming the file.
fn sync_survivors(dir: &Path, segments: &[Arc<Segment>], unsynced: &[SegmentPaths]) -> Result<()> {
    for paths in unsynced {
        for path in [&paths.log, &paths.index, &paths.timeindex] {
            fs::File::open(path).and_then(|f| f.sync_all()).at(path)?;
        }
    }
    let sealed_end = segments[segments.len() - 2].next_offset.load();
    write_recovery_point(dir, sealed_end)?;
    for segment in &segments[..segments.len() - 1] {
        segment.mark_durable();
    }
    Ok(())
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
    /// The batch being decoded: its records, its position, and whether it straddles the
    /// fetch's bounds (only the first and last batch can; the rest need no offset checks).
    current: Option<(RecordIter<'a>, usize, bool)>,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RecordView<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((records, batch_pos, clip)) = &mut self.current {
                match records.next() {
                    Some(Ok(r)) if !*clip => return Some(Ok(r)),
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
            let clip = view.base_offset() < self.fetch.from_offset
                || view.next_offset() > self.fetch.next_offset;
            self.current = Some((view.records(), self.pos, clip));
            self.pos += view.size();
        }
    }
}
