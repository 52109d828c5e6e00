//! A segment's sparse indexes: offset → file position, and timestamp → offset.
//!
//! Both are written as fixed-size little-endian entries, one pair about every
//! `index_interval_bytes` of log, always including the segment's first batch:
//! - `.index`: `relative_offset: u32, position: u32` — where the batch starting at
//!   `base_offset + relative_offset` begins in the `.log` file.
//! - `.timeindex`: `timestamp: i64, relative_offset: u32` — `timestamp` is the largest record
//!   timestamp of the segment *before* that offset (`i64::MIN` for the first entry). Being a
//!   running maximum it never decreases, so "first offset whose timestamp ≥ T" starts its scan
//!   at the last entry whose timestamp is < T: no earlier record can qualify. A sealed segment
//!   ends its time index with one more entry, `(segment max timestamp, next offset)`.
//!
//! Indexes are rebuildable caches: recovery rebuilds any that fail [`validate`].

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{IoContext, Result};

/// Bytes of one `.index` entry.
pub(crate) const OFFSET_ENTRY_LEN: usize = 8;
/// Bytes of one `.timeindex` entry.
pub(crate) const TIME_ENTRY_LEN: usize = 12;

/// One sparse index point, as kept in memory (the two files' entries side by side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    /// Offset of the batch, relative to the segment's base offset.
    pub rel_offset: u32,
    /// Byte position of the batch in the `.log` file.
    pub position: u32,
    /// Largest record timestamp in the segment before this batch.
    pub max_ts_before: i64,
}

/// The closing time-index entry of a sealed segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SealEntry {
    /// Largest record timestamp in the segment.
    pub max_timestamp: i64,
    /// Offset after the segment's last record, relative to its base.
    pub rel_next_offset: u32,
}

/// Encodes an entry for the `.index` file.
pub(crate) fn encode_offset_entry(e: &IndexEntry) -> [u8; OFFSET_ENTRY_LEN] {
    let mut out = [0u8; OFFSET_ENTRY_LEN];
    out[..4].copy_from_slice(&e.rel_offset.to_le_bytes());
    out[4..].copy_from_slice(&e.position.to_le_bytes());
    out
}

/// Encodes an entry for the `.timeindex` file.
pub(crate) fn encode_time_entry(timestamp: i64, rel_offset: u32) -> [u8; TIME_ENTRY_LEN] {
    let mut out = [0u8; TIME_ENTRY_LEN];
    out[..8].copy_from_slice(&timestamp.to_le_bytes());
    out[8..].copy_from_slice(&rel_offset.to_le_bytes());
    out
}

/// Writes a whole index (and the seal entry, if any) to its two files, replacing them.
///
/// # Errors
/// I/O errors, naming the file.
pub(crate) fn write_files(
    index_path: &Path,
    timeindex_path: &Path,
    entries: &[IndexEntry],
    seal: Option<SealEntry>,
) -> Result<()> {
    let mut offsets = Vec::with_capacity(entries.len() * OFFSET_ENTRY_LEN);
    let mut times = Vec::with_capacity((entries.len() + 1) * TIME_ENTRY_LEN);
    for e in entries {
        offsets.extend_from_slice(&encode_offset_entry(e));
        times.extend_from_slice(&encode_time_entry(e.max_ts_before, e.rel_offset));
    }
    if let Some(s) = seal {
        times.extend_from_slice(&encode_time_entry(s.max_timestamp, s.rel_next_offset));
    }
    std::fs::write(index_path, &offsets).at(index_path)?;
    std::fs::write(timeindex_path, &times).at(timeindex_path)?;
    Ok(())
}

/// Appends one entry to the open index files at entry number `n`.
///
/// # Errors
/// I/O errors, naming the file.
pub(crate) fn append_entry(
    index: (&File, &Path),
    timeindex: (&File, &Path),
    n: u64,
    e: &IndexEntry,
) -> Result<()> {
    index
        .0
        .write_all_at(&encode_offset_entry(e), n * OFFSET_ENTRY_LEN as u64)
        .at(index.1)?;
    timeindex
        .0
        .write_all_at(
            &encode_time_entry(e.max_ts_before, e.rel_offset),
            n * TIME_ENTRY_LEN as u64,
        )
        .at(timeindex.1)?;
    Ok(())
}

/// Appends the seal entry after `n` regular entries.
///
/// # Errors
/// I/O errors, naming the file.
pub(crate) fn append_seal(timeindex: (&File, &Path), n: u64, seal: SealEntry) -> Result<()> {
    timeindex
        .0
        .write_all_at(
            &encode_time_entry(seal.max_timestamp, seal.rel_next_offset),
            n * TIME_ENTRY_LEN as u64,
        )
        .at(timeindex.1)
}

/// What a pair of index files says, once it has passed [`validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoadedIndex {
    pub entries: Vec<IndexEntry>,
    pub seal: Option<SealEntry>,
}

/// Parses and checks a pair of index files against a log of `log_len` bytes.
///
/// Returns `None` when the files are missing, torn, or inconsistent: the caller rebuilds.
pub(crate) fn validate(offsets: &[u8], times: &[u8], log_len: u64) -> Option<LoadedIndex> {
    if !offsets.len().is_multiple_of(OFFSET_ENTRY_LEN)
        || !times.len().is_multiple_of(TIME_ENTRY_LEN)
    {
        return None;
    }
    let n = offsets.len() / OFFSET_ENTRY_LEN;
    let t = times.len() / TIME_ENTRY_LEN;
    if !(t == n || t == n + 1) || (n == 0 && log_len > 0) {
        return None;
    }
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let i64_at = |b: &[u8], at: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[at..at + 8]);
        i64::from_le_bytes(a)
    };
    let mut entries = Vec::with_capacity(n);
    for i in 0..n {
        let rel_offset = u32_at(offsets, i * OFFSET_ENTRY_LEN);
        let position = u32_at(offsets, i * OFFSET_ENTRY_LEN + 4);
        let max_ts_before = i64_at(times, i * TIME_ENTRY_LEN);
        let time_rel = u32_at(times, i * TIME_ENTRY_LEN + 8);
        if time_rel != rel_offset || u64::from(position) >= log_len.max(1) {
            return None;
        }
        if let Some(prev) = entries.last() {
            let prev: &IndexEntry = prev;
            if rel_offset <= prev.rel_offset
                || position <= prev.position
                || max_ts_before < prev.max_ts_before
            {
                return None;
            }
        } else if rel_offset != 0 || position != 0 {
            return None;
        }
        entries.push(IndexEntry {
            rel_offset,
            position,
            max_ts_before,
        });
    }
    let seal = (t == n + 1).then(|| SealEntry {
        max_timestamp: i64_at(times, n * TIME_ENTRY_LEN),
        rel_next_offset: u32_at(times, n * TIME_ENTRY_LEN + 8),
    });
    if let (Some(s), Some(last)) = (seal, entries.last())
        && (s.rel_next_offset <= last.rel_offset || s.max_timestamp < last.max_ts_before)
    {
        return None;
    }
    Some(LoadedIndex { entries, seal })
}

/// The last entry at or before `rel_offset`: where a scan for that offset starts.
pub(crate) fn floor_by_offset(entries: &[IndexEntry], rel_offset: u32) -> Option<IndexEntry> {
    let i = entries.partition_point(|e| e.rel_offset <= rel_offset);
    i.checked_sub(1).map(|i| entries[i])
}

/// The last entry before which every record is older than `timestamp`.
pub(crate) fn floor_by_time(entries: &[IndexEntry], timestamp: i64) -> Option<IndexEntry> {
    let i = entries.partition_point(|e| e.max_ts_before < timestamp);
    i.checked_sub(1).map(|i| entries[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<IndexEntry> {
        vec![
            IndexEntry {
                rel_offset: 0,
                position: 0,
                max_ts_before: i64::MIN,
            },
            IndexEntry {
                rel_offset: 10,
                position: 5000,
                max_ts_before: 100,
            },
            IndexEntry {
                rel_offset: 25,
                position: 9100,
                max_ts_before: 300,
            },
        ]
    }

    fn encode(entries: &[IndexEntry], seal: Option<SealEntry>) -> (Vec<u8>, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (i, t) = (dir.path().join("i"), dir.path().join("t"));
        write_files(&i, &t, entries, seal).expect("write");
        (
            std::fs::read(&i).expect("read"),
            std::fs::read(&t).expect("read"),
        )
    }

    #[test]
    fn round_trips_with_and_without_seal() {
        let seal = SealEntry {
            max_timestamp: 400,
            rel_next_offset: 30,
        };
        for s in [None, Some(seal)] {
            let (o, t) = encode(&entries(), s);
            let loaded = validate(&o, &t, 10_000).expect("valid");
            assert_eq!(loaded.entries, entries());
            assert_eq!(loaded.seal, s);
        }
    }

    #[test]
    fn rejects_torn_reordered_or_out_of_file_entries() {
        let (o, t) = encode(&entries(), None);
        assert!(validate(&o[..o.len() - 3], &t, 10_000).is_none(), "torn");
        assert!(validate(&o, &t, 9_000).is_none(), "position past the log");
        let mut swapped = entries();
        swapped.swap(1, 2);
        let (o, t) = encode(&swapped, None);
        assert!(validate(&o, &t, 10_000).is_none(), "not increasing");
        assert!(
            validate(&[], &[], 10).is_none(),
            "missing for a non-empty log"
        );
    }

    #[test]
    fn floor_lookups() {
        let e = entries();
        assert_eq!(floor_by_offset(&e, 0).map(|e| e.rel_offset), Some(0));
        assert_eq!(floor_by_offset(&e, 24).map(|e| e.rel_offset), Some(10));
        assert_eq!(floor_by_offset(&e, 99).map(|e| e.rel_offset), Some(25));
        assert_eq!(floor_by_time(&e, 100).map(|e| e.rel_offset), Some(0));
        assert_eq!(floor_by_time(&e, 101).map(|e| e.rel_offset), Some(10));
        assert_eq!(floor_by_time(&e, i64::MAX).map(|e| e.rel_offset), Some(25));
    }
}
