//! What one fsync of a partition covers ([`PartitionFiles`], the partition's [`SyncWork`]):
//! the active segment's log file, and the segments sealed since the last fsync.
//!
//! A roll no longer fsyncs on the append path: the sealed segment's files join a queue, and
//! the next job (the flusher's, or that of whoever waits for durability first) fsyncs them,
//! oldest first, then moves the recovery point past them. Only then does the segment count
//! as sealed for the batch layer and for retention
//! ([`Segment::is_durable`](crate::segment::Segment::is_durable)).

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};

use crate::commit::SyncWork;
use crate::error::{Error, IoContext, Result};
use crate::publish::Watermark;
use crate::segment::{ActiveFile, SealedFiles};

/// File holding the offset below which every segment is sealed and fsynced.
const RECOVERY_POINT_FILE: &str = "recovery-point";

/// The offset below which every segment of the partition in `dir` is sealed and fsynced;
/// `None` when the file is missing (a partition written before the file existed, or one
/// whose file was lost: nothing is known about its segments).
///
/// # Errors
/// I/O errors, [`Error::Corrupt`] when the file does not hold a number.
pub(crate) fn read_recovery_point(dir: &Path) -> Result<Option<u64>> {
    let path = dir.join(RECOVERY_POINT_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map(Some).map_err(|_| Error::Corrupt {
            path,
            position: 0,
            reason: "recovery point is not a number".into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).at(path),
    }
}

/// Records the recovery point (write-temp, fsync, rename, fsync of the directory: the last
/// step also makes the entries of newly created segment files durable).
///
/// # Errors
/// I/O errors naming the file.
pub(crate) fn write_recovery_point(dir: &Path, offset: u64) -> Result<()> {
    crate::fsutil::write_atomically(
        &dir.join(RECOVERY_POINT_FILE),
        offset.to_string().as_bytes(),
    )
}

/// A partition's sync work: see the module docs.
#[derive(Debug)]
pub(crate) struct PartitionFiles {
    dir: PathBuf,
    /// The partition's end offset: records below it are in the active file or in segments
    /// sealed before it.
    end: std::sync::Arc<Watermark>,
    active: ActiveFile,
    sealed: VecDeque<SealedFiles>,
}

impl PartitionFiles {
    pub fn new(dir: PathBuf, end: std::sync::Arc<Watermark>, active: ActiveFile) -> Self {
        PartitionFiles {
            dir,
            end,
            active,
            sealed: VecDeque::new(),
        }
    }

    /// A roll: `sealed` waits for its fsync, `active` is the new active file. The writer
    /// calls this before it writes to the new file.
    pub fn rolled(&mut self, sealed: SealedFiles, active: ActiveFile) {
        self.sealed.push_back(sealed);
        self.active = active;
    }

    /// Replaces the active file (truncation rewrote it); nothing may wait to be sealed.
    pub fn replace_active(&mut self, active: ActiveFile) {
        debug_assert!(self.sealed.is_empty());
        self.active = active;
    }

    /// Sealed segments waiting for their fsync.
    pub fn sealed_waiting(&self) -> usize {
        self.sealed.len()
    }
}

/// One sync of a partition.
#[derive(Debug)]
pub(crate) struct PartitionJob {
    dir: PathBuf,
    sealed: Vec<SealedFiles>,
    active: Option<ActiveFile>,
}

impl SyncWork for PartitionFiles {
    type Job = PartitionJob;

    fn has_background_work(&self) -> bool {
        !self.sealed.is_empty()
    }

    fn written(&self) -> u64 {
        self.end.load()
    }

    fn take(&mut self, through_end: bool) -> (PartitionJob, u64) {
        // Read under the lock, before the snapshot of the files: every record below `end` was
        // written to a file that a roll registered here before `end` was published, so the
        // snapshot holds it (or it was already synced).
        let end = self.end.load();
        let sealed: Vec<SealedFiles> = self.sealed.drain(..).collect();
        let covers = if through_end {
            end
        } else {
            sealed.last().map_or(0, |s| s.next_offset)
        };
        let job = PartitionJob {
            dir: self.dir.clone(),
            sealed,
            active: through_end.then(|| self.active.clone()),
        };
        (job, covers)
    }

    fn run(job: PartitionJob) -> Result<()> {
        for sealed in &job.sealed {
            sealed.sync()?;
        }
        if let Some(last) = job.sealed.last() {
            // Everything below is sealed and fsynced: recovery need not scan it.
            write_recovery_point(&job.dir, last.next_offset)?;
            for sealed in &job.sealed {
                sealed.segment.mark_durable();
            }
        }
        if let Some(active) = &job.active {
            active.sync()?;
        }
        Ok(())
    }
}
