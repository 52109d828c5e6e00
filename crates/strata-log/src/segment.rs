//! One segment: a `.log` file of batches with its two sparse indexes.
//!
//! [`Segment`] is the read side, shared with readers: a memory map plus published watermarks.
//! [`SegmentWriter`] is the write side, owned by the partition's writer: open file handles and
//! the bookkeeping for the next index entry. Recovery ([`Segment::recover`]) scans a segment,
//! verifying every CRC, and says where valid data ends.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use memmap2::{Mmap, MmapOptions};

use crate::batch::{BatchView, EncodedBatch, FrameError, peek_header};
use crate::error::{Error, IoContext, Result};
use crate::index::{self, IndexEntry, SealEntry};
use crate::publish::Watermark;
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::sync::{Arc, RwLock};

/// The file names of a segment, derived from its base offset.
#[derive(Debug, Clone)]
pub(crate) struct SegmentPaths {
    pub log: PathBuf,
    pub index: PathBuf,
    pub timeindex: PathBuf,
}

impl SegmentPaths {
    /// `<dir>/<20-digit base offset>.{log,index,timeindex}`.
    pub fn new(dir: &Path, base_offset: u64) -> Self {
        let stem = format!("{base_offset:020}");
        SegmentPaths {
            log: dir.join(format!("{stem}.log")),
            index: dir.join(format!("{stem}.index")),
            timeindex: dir.join(format!("{stem}.timeindex")),
        }
    }
}

/// Parses a segment file name (`00000000000000000042.log`) into its base offset.
pub(crate) fn parse_log_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".log")?;
    (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
        .then(|| stem.parse().ok())
        .flatten()
}

/// The read side of a segment.
#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: u64,
    pub paths: SegmentPaths,
    map: Option<Mmap>,
    /// Bytes of whole batches readers may read.
    pub len: Watermark,
    /// Offset after the last published record.
    pub next_offset: Watermark,
    /// Largest record timestamp, as i64 bits.
    max_timestamp: AtomicU64,
    /// Bytes from the start whose batch CRCs have been verified since the segment was opened:
    /// reads check each batch once, not on every read.
    verified: AtomicU64,
    /// Bytes from the start whose pages have been prefaulted into the map.
    populated: AtomicU64,
    /// Sealed and fsynced (files and directory entry): the batch layer may take it and
    /// retention may delete it. Never set on the active segment.
    durable: AtomicBool,
    index: RwLock<Vec<IndexEntry>>,
}

/// Where a recovery scan stopped and what it found before that.
#[derive(Debug)]
pub(crate) struct ScanOutcome {
    pub valid_len: u64,
    pub next_offset: u64,
    pub max_timestamp: i64,
    pub entries: Vec<IndexEntry>,
    /// The first bad batch: its position and what was wrong. `None` when the scan reached the end.
    pub stopped_at: Option<(u64, FrameError)>,
}

impl Segment {
    /// Maps `file` (of `file_len` bytes) with room for growth up to `capacity` bytes.
    fn map(paths: &SegmentPaths, file: &File, capacity: u64) -> Result<Option<Mmap>> {
        if capacity == 0 {
            return Ok(None);
        }
        // SAFETY: strata is the only writer of its data directory. The file only ever grows
        // while mapped (writes go through `pwrite`), and readers touch only bytes below the
        // published `len`, which were written before it was published; pages beyond the file's
        // end are mapped but never touched. Truncation happens only in recovery, before the map.
        let map = unsafe { MmapOptions::new().len(capacity as usize).map(file) }.at(&paths.log)?;
        Ok(Some(map))
    }

    fn new(
        base_offset: u64,
        paths: SegmentPaths,
        map: Option<Mmap>,
        len: u64,
        next_offset: u64,
        max_timestamp: i64,
        entries: Vec<IndexEntry>,
    ) -> Self {
        Segment {
            base_offset,
            paths,
            map,
            len: Watermark::new(len),
            next_offset: Watermark::new(next_offset),
            max_timestamp: AtomicU64::new(max_timestamp as u64),
            verified: AtomicU64::new(0),
            populated: AtomicU64::new(0),
            durable: AtomicBool::new(false),
            index: RwLock::new(entries),
        }
    }

    /// The published bytes of the segment.
    pub fn bytes(&self) -> &[u8] {
        let len = self.len.load() as usize;
        match &self.map {
            Some(map) => &map[..len],
            None => &[],
        }
    }

    /// Largest record timestamp (`i64::MIN` when empty).
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp.load(Ordering::Acquire) as i64
    }

    /// True once the segment is sealed and on stable storage.
    pub fn is_durable(&self) -> bool {
        self.durable.load(Ordering::Acquire)
    }

    /// Records that the sealed segment's files have been fsynced.
    pub fn mark_durable(&self) {
        self.durable.store(true, Ordering::Release);
    }

    /// Byte size of the published data.
    pub fn size(&self) -> u64 {
        self.len.load()
    }

    /// Prefaults the map's pages of `start..end` in one call, so a read after a reopen does
    /// not take a page fault every 4 KiB (it cost ~10% of a read of small records). Only
    /// published bytes are touched; a kernel without `MADV_POPULATE_READ` just skips it.
    pub fn prefault(&self, start: usize, end: usize) {
        let end = end.min(self.len.load() as usize);
        let done = self.populated.load(Ordering::Acquire) as usize;
        let contiguous = start <= done;
        let from = if contiguous { done } else { start };
        if end <= from {
            return;
        }
        if let Some(map) = &self.map {
            let _ = map.advise_range(memmap2::Advice::PopulateRead, from, end - from);
        }
        if contiguous {
            // Contiguous with what is already populated: extend the mark.
            self.populated.fetch_max(end as u64, Ordering::AcqRel);
        }
    }

    /// Frames the batch at `pos`, verifying its CRC unless an earlier read already did.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the file and position.
    pub fn batch_at<'a>(&self, bytes: &'a [u8], pos: usize) -> Result<BatchView<'a>> {
        let verified = self.verified.load(Ordering::Acquire) as usize;
        let view = if pos < verified {
            BatchView::frame(&bytes[pos..])
        } else {
            BatchView::frame_checked(&bytes[pos..])
        }
        .map_err(|e| self.corrupt_frame(pos, e))?;
        let end = pos + view.size();
        if pos <= verified && end > verified {
            // Extends the verified prefix only when contiguous with it.
            self.verified.fetch_max(end as u64, Ordering::AcqRel);
        }
        Ok(view)
    }

    /// Byte position of the batch holding `offset` or the first batch after it, scanning from
    /// the sparse index. `offset` must be within the segment's published range.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when the framing on the way is broken.
    pub fn position_of(&self, offset: u64) -> Result<u64> {
        let rel = u32::try_from(offset - self.base_offset).unwrap_or(u32::MAX);
        let start = {
            let index = self.index.read();
            index::floor_by_offset(&index, rel).map_or(0, |e| e.position)
        };
        let bytes = self.bytes();
        let mut pos = start as usize;
        while pos < bytes.len() {
            let (base, size) = peek_header(&bytes[pos..])
                .ok_or_else(|| self.corrupt(pos, "truncated batch header"))?;
            let count = BatchView::frame(&bytes[pos..])
                .map_err(|e| self.corrupt_frame(pos, e))?
                .record_count();
            if base + u64::from(count) > offset {
                break;
            }
            pos += size;
        }
        Ok(pos as u64)
    }

    /// Where a scan for the first record with timestamp ≥ `timestamp` may start.
    pub fn position_for_time(&self, timestamp: i64) -> u64 {
        let index = self.index.read();
        index::floor_by_time(&index, timestamp).map_or(0, |e| u64::from(e.position))
    }

    /// An error naming this segment's log file and a byte position.
    pub fn corrupt(&self, position: usize, reason: &str) -> Error {
        Error::Corrupt {
            path: self.paths.log.clone(),
            position: position as u64,
            reason: reason.to_owned(),
        }
    }

    /// [`Self::corrupt`] for a framing error.
    pub fn corrupt_frame(&self, position: usize, e: FrameError) -> Error {
        match e {
            FrameError::Truncated => self.corrupt(position, "batch extends past the segment's end"),
            FrameError::Invalid(reason) => self.corrupt(position, reason),
        }
    }

    /// Scans `bytes` from `start` (a batch boundary holding `start_offset`), verifying each
    /// batch's framing, CRC and offset continuity, and rebuilding the sparse index.
    pub fn scan(
        bytes: &[u8],
        base_offset: u64,
        start: (u64, u64, i64),
        mut entries: Vec<IndexEntry>,
        index_interval: u64,
    ) -> ScanOutcome {
        let (mut pos, mut next_offset, mut max_ts) = start;
        let mut since_index = index_interval; // index the first batch scanned if none covers it
        if entries.last().is_some_and(|e| u64::from(e.position) == pos) {
            since_index = 0;
        }
        let mut stopped_at = None;
        while (pos as usize) < bytes.len() {
            let view = match BatchView::frame_checked(&bytes[pos as usize..]) {
                Ok(v) => v,
                Err(e) => {
                    stopped_at = Some((pos, e));
                    break;
                }
            };
            if view.base_offset() != next_offset {
                stopped_at = Some((pos, FrameError::Invalid("batch offset breaks the sequence")));
                break;
            }
            if (since_index >= index_interval || entries.is_empty())
                && entries.last().is_none_or(|e| u64::from(e.position) < pos)
            {
                entries.push(IndexEntry {
                    rel_offset: (next_offset - base_offset) as u32,
                    position: pos as u32,
                    max_ts_before: max_ts,
                });
                since_index = 0;
            }
            since_index += view.size() as u64;
            max_ts = max_ts.max(view.max_timestamp());
            next_offset = view.next_offset();
            pos += view.size() as u64;
        }
        ScanOutcome {
            valid_len: pos,
            next_offset,
            max_timestamp: max_ts,
            entries,
            stopped_at,
        }
    }
}

/// How recovery should treat one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecoveryMode {
    /// A sealed segment known to be fully written (below the recovery point or after a clean
    /// shutdown): trust its indexes if they validate.
    Trusted,
    /// A segment that may hold unflushed data: scan it all, verify every CRC.
    Scan,
}

/// The result of opening one segment.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub segment: Segment,
    /// Number of sparse index entries, where the writer continues numbering.
    pub entries_len: usize,
}

impl Segment {
    /// Opens an existing segment, checks it as `mode` says, rebuilding its indexes when
    /// they are missing or bad. `may_be_torn` says that the segment may hold writes that
    /// never reached the disk (it is above the recovery point), so a damaged tail is cut off;
    /// otherwise the same damage is corruption. `is_last` says whether it is the active
    /// segment (which keeps no seal entry). `capacity` is the map size for a segment that will
    /// be written to.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the file and position when a sealed segment is damaged;
    /// I/O errors naming their file.
    pub fn recover(
        dir: &Path,
        base_offset: u64,
        mode: RecoveryMode,
        may_be_torn: bool,
        is_last: bool,
        capacity: u64,
        index_interval: u64,
    ) -> Result<Recovered> {
        let paths = SegmentPaths::new(dir, base_offset);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&paths.log)
            .at(&paths.log)?;
        let file_len = file.metadata().at(&paths.log)?.len();
        let offsets = std::fs::read(&paths.index).unwrap_or_default();
        let times = std::fs::read(&paths.timeindex).unwrap_or_default();
        let loaded = match mode {
            RecoveryMode::Trusted => index::validate(&offsets, &times, file_len),
            RecoveryMode::Scan => None,
        };
        let map = Self::map(&paths, &file, capacity.max(file_len))?;
        let all = map.as_ref().map_or(&[][..], |m| &m[..file_len as usize]);

        let full_scan = || {
            Self::scan(
                all,
                base_offset,
                (0, base_offset, i64::MIN),
                Vec::new(),
                index_interval,
            )
        };
        let (outcome, loaded_seal, rebuilt) = match loaded {
            Some(loaded) => {
                // Trusted: resume the scan at the last indexed batch to find the end. If that
                // fails the index may be the liar, so fall back to a full scan before judging.
                let start = loaded
                    .entries
                    .last()
                    .map_or((0, base_offset, i64::MIN), |e| {
                        let offset = base_offset + u64::from(e.rel_offset);
                        (u64::from(e.position), offset, e.max_ts_before)
                    });
                let outcome = Self::scan(all, base_offset, start, loaded.entries, index_interval);
                if outcome.stopped_at.is_some() {
                    (full_scan(), None, true)
                } else {
                    (outcome, loaded.seal, false)
                }
            }
            None => (full_scan(), None, true),
        };

        let mut truncated_bytes = 0;
        if let Some((position, error)) = &outcome.stopped_at {
            // Only a segment that may hold unflushed writes (above the recovery point) can be
            // torn; the same damage elsewhere is corruption, reported and never served.
            if !may_be_torn || mode == RecoveryMode::Trusted {
                let reason = match error {
                    FrameError::Truncated => "batch extends past the end of the file",
                    FrameError::Invalid(r) => r,
                };
                return Err(Error::Corrupt {
                    path: paths.log.clone(),
                    position: *position,
                    reason: reason.to_owned(),
                });
            }
            truncated_bytes = file_len - outcome.valid_len;
            tracing::warn!(
                path = %paths.log.display(),
                position,
                bytes = truncated_bytes,
                ?error,
                "truncating the torn tail of a segment above the recovery point"
            );
            file.set_len(outcome.valid_len).at(&paths.log)?;
            file.sync_all().at(&paths.log)?;
        }
        let seal = (!is_last).then(|| {
            loaded_seal.unwrap_or(SealEntry {
                max_timestamp: outcome.max_timestamp,
                rel_next_offset: (outcome.next_offset - base_offset) as u32,
            })
        });
        // An active segment must not keep a seal entry: appends would land after it.
        if rebuilt || truncated_bytes > 0 || (is_last && loaded_seal.is_some()) {
            index::write_files(&paths.index, &paths.timeindex, &outcome.entries, seal)?;
        }
        let entries_len = outcome.entries.len();
        let segment = Segment::new(
            base_offset,
            paths,
            map,
            outcome.valid_len,
            outcome.next_offset,
            seal.map_or(outcome.max_timestamp, |s| {
                s.max_timestamp.max(outcome.max_timestamp)
            }),
            outcome.entries,
        );
        Ok(Recovered {
            segment,
            entries_len,
        })
    }
}

/// The write side of the active segment.
#[derive(Debug)]
pub(crate) struct SegmentWriter {
    pub log: std::sync::Arc<File>,
    index_file: File,
    timeindex_file: File,
    pub paths: SegmentPaths,
    pub base_offset: u64,
    pub position: u64,
    pub next_offset: u64,
    pub capacity: u64,
    entries: u64,
    since_index: u64,
    max_timestamp: i64,
    pub created: Instant,
}

impl SegmentWriter {
    /// Creates a new, empty segment at `base_offset` and its read side.
    ///
    /// # Errors
    /// I/O errors naming the file; creating over an existing segment is an error.
    pub fn create(dir: &Path, base_offset: u64, capacity: u64) -> Result<(Self, Segment)> {
        let paths = SegmentPaths::new(dir, base_offset);
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&paths.log)
            .at(&paths.log)?;
        let create = |p: &Path| {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(p)
                .at(p)
        };
        let index_file = create(&paths.index)?;
        let timeindex_file = create(&paths.timeindex)?;
        let map = Segment::map(&paths, &log, capacity)?;
        let segment = Segment::new(
            base_offset,
            paths.clone(),
            map,
            0,
            base_offset,
            i64::MIN,
            Vec::new(),
        );
        let writer = SegmentWriter {
            log: std::sync::Arc::new(log),
            index_file,
            timeindex_file,
            paths,
            base_offset,
            position: 0,
            next_offset: base_offset,
            capacity,
            entries: 0,
            since_index: 0,
            max_timestamp: i64::MIN,
            created: Instant::now(),
        };
        Ok((writer, segment))
    }

    /// Resumes writing a recovered segment.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn resume(segment: &Segment, entries: usize, capacity: u64) -> Result<Self> {
        let paths = segment.paths.clone();
        let open = |p: &Path| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(p)
                .at(p)
        };
        let log = open(&paths.log)?;
        let index_file = open(&paths.index)?;
        let timeindex_file = open(&paths.timeindex)?;
        let last_indexed = {
            let index = segment.index.read();
            index.last().map_or(0, |e| u64::from(e.position))
        };
        let position = segment.len.load();
        Ok(SegmentWriter {
            log: std::sync::Arc::new(log),
            index_file,
            timeindex_file,
            paths,
            base_offset: segment.base_offset,
            position,
            next_offset: segment.next_offset.load(),
            capacity,
            entries: entries as u64,
            since_index: position - last_indexed,
            max_timestamp: segment.max_timestamp(),
            created: Instant::now(),
        })
    }

    /// Writes a stamped batch at the end of the segment and publishes it to readers of
    /// `segment`. On a failed write the file is cut back, so nothing partial remains.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn append(
        &mut self,
        segment: &Segment,
        batch: &mut EncodedBatch,
        index_interval: u64,
    ) -> Result<u64> {
        let base = self.next_offset;
        batch.set_base_offset(base);
        let bytes = batch.as_bytes();
        if let Err(source) = self.log.write_all_at(bytes, self.position) {
            // Best effort: a partial batch at the tail would be cut by recovery anyway.
            let _ = self.log.set_len(self.position);
            return Err(Error::Io {
                path: self.paths.log.clone(),
                source,
            });
        }
        if self.position == 0 || self.since_index >= index_interval {
            let entry = IndexEntry {
                rel_offset: (base - self.base_offset) as u32,
                position: self.position as u32,
                max_ts_before: self.max_timestamp,
            };
            index::append_entry(
                (&self.index_file, &self.paths.index),
                (&self.timeindex_file, &self.paths.timeindex),
                self.entries,
                &entry,
            )?;
            self.entries += 1;
            self.since_index = 0;
            segment.index.write().push(entry);
        }
        self.since_index += bytes.len() as u64;
        self.position += bytes.len() as u64;
        self.next_offset = base + u64::from(batch.record_count());
        self.max_timestamp = self.max_timestamp.max(batch.max_timestamp());
        segment
            .max_timestamp
            .store(self.max_timestamp as u64, Ordering::Release);
        segment.len.publish(self.position);
        segment.next_offset.publish(self.next_offset);
        Ok(base)
    }

    /// Writes the closing time-index entry of a segment about to be sealed. (Should the roll
    /// fail after it, the next index entry overwrites it: entries are written by position.)
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn write_seal(&self) -> Result<()> {
        index::append_seal(
            (&self.timeindex_file, &self.paths.timeindex),
            self.entries,
            SealEntry {
                max_timestamp: self.max_timestamp,
                rel_next_offset: (self.next_offset - self.base_offset) as u32,
            },
        )
    }

    /// Hands over the files of a sealed segment (after [`Self::write_seal`]), to be fsynced
    /// off the append path (see [`crate::files`]).
    pub fn into_sealed(self, segment: Arc<Segment>) -> SealedFiles {
        SealedFiles {
            segment,
            log: self.log,
            index: self.index_file,
            timeindex: self.timeindex_file,
            paths: self.paths,
            next_offset: self.next_offset,
        }
    }

    /// The log file, for fsyncs of the active segment.
    pub fn active_file(&self) -> ActiveFile {
        ActiveFile {
            file: std::sync::Arc::clone(&self.log),
            path: self.paths.log.clone(),
        }
    }

    /// fsyncs the log and both indexes.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn sync_all(&self) -> Result<()> {
        self.log.sync_data().at(&self.paths.log)?;
        self.index_file.sync_data().at(&self.paths.index)?;
        self.timeindex_file.sync_data().at(&self.paths.timeindex)?;
        Ok(())
    }

    /// True when the segment has records and is older than `max_age_ms`.
    pub fn is_older_than(&self, max_age_ms: u64) -> bool {
        self.position > 0 && self.created.elapsed().as_millis() >= u128::from(max_age_ms)
    }
}

/// The open files of a sealed segment that waits for its fsync (queued by [`crate::files`]).
#[derive(Debug)]
pub(crate) struct SealedFiles {
    pub segment: Arc<Segment>,
    pub log: std::sync::Arc<File>,
    pub index: File,
    pub timeindex: File,
    pub paths: SegmentPaths,
    /// Offset after the segment's last record.
    pub next_offset: u64,
}

impl SealedFiles {
    /// fsyncs the log and both indexes.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn sync(&self) -> Result<()> {
        self.log.sync_data().at(&self.paths.log)?;
        self.index.sync_data().at(&self.paths.index)?;
        self.timeindex.sync_data().at(&self.paths.timeindex)
    }
}

/// The active segment's log file, shared with the fsyncs of [`crate::files`].
#[derive(Debug, Clone)]
pub(crate) struct ActiveFile {
    pub file: std::sync::Arc<File>,
    pub path: PathBuf,
}

impl ActiveFile {
    /// fsyncs the file's data.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().at(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_twenty_digit_log_names() {
        assert_eq!(parse_log_name("00000000000000000042.log"), Some(42));
        assert_eq!(parse_log_name("42.log"), None);
        assert_eq!(parse_log_name("00000000000000000042.index"), None);
        assert_eq!(parse_log_name("0000000000000000004x.log"), None);
    }
}
