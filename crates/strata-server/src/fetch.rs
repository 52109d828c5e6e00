//! Reading records for clients: where a read starts, how a fetch shares its record budget
//! among partitions, and the JSON it writes. Blocking (segment reads touch mapped files):
//! call from `spawn_blocking`.

use strata_log::{ReadLimits, Topic};

use crate::error::{Error, Result};
use crate::records::{ValueFormat, write_record};

/// Where a read starts in each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The first retained record.
    Earliest,
    /// The end: only records appended from now on.
    Latest,
    /// A given offset, the same in every partition read.
    Offset(u64),
    /// The first record whose timestamp is ≥ this (ms); the end if none is.
    Timestamp(i64),
}

/// How records are separated in a fetch's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `rec,rec,rec` (the caller wraps them in `[...]`).
    JsonArray,
    /// `rec\nrec\n`.
    Ndjson,
}

/// The records of one fetch, already written out.
#[derive(Debug, Default)]
pub struct FetchOutput {
    /// The records as JSON, framed as asked.
    pub json: Vec<u8>,
    /// Number of records.
    pub count: u64,
    /// Next offset to read, per partition read.
    pub next: Vec<(u32, u64)>,
}

/// Most bytes of batches one partition read maps in at a time.
const READ_CHUNK_BYTES: u64 = 4 * 1024 * 1024;

/// Resolves `start` to an offset in each of `partitions`.
///
/// # Errors
/// Unknown partition; [`strata_log::Error::OffsetOutOfRange`] for an offset outside a
/// partition's range; corruption met while searching by time.
pub fn resolve(topic: &Topic, partitions: &[u32], start: Start) -> Result<Vec<(u32, u64)>> {
    partitions
        .iter()
        .map(|&p| {
            let part = topic.partition(p)?;
            let offset = match start {
                Start::Earliest => part.start_offset(),
                Start::Latest => part.end_offset(),
                Start::Offset(o) => {
                    let (s, e) = (part.start_offset(), part.end_offset());
                    if o < s || o > e {
                        return Err(Error::Log(strata_log::Error::OffsetOutOfRange {
                            offset: o,
                            start: s,
                            end: e,
                        }));
                    }
                    o
                }
                Start::Timestamp(ts) => part
                    .offset_for_timestamp(ts)?
                    .unwrap_or_else(|| part.end_offset()),
            };
            Ok((p, offset))
        })
        .collect()
}

/// Reads up to `max` records from `positions`, sharing the budget fairly: each partition
/// first gets an equal share, then partitions with more to give share what is left, so one
/// busy partition cannot starve the others.
///
/// # Errors
/// [`strata_log::Error::OffsetOutOfRange`] when a position fell below the start (retention)
/// or is past the end; corruption.
pub fn read(
    topic: &Topic,
    positions: &[(u32, u64)],
    max: u64,
    format: ValueFormat,
    framing: Framing,
) -> Result<FetchOutput> {
    let mut out = FetchOutput {
        json: Vec::new(),
        count: 0,
        next: positions.to_vec(),
    };
    if positions.is_empty() || max == 0 {
        return Ok(out);
    }
    let share = max.div_ceil(positions.len() as u64);
    let mut exhausted = vec![false; positions.len()];
    for pass in 0..2 {
        for (i, (p, next)) in out.next.iter_mut().enumerate() {
            if exhausted[i] || out.count >= max {
                continue;
            }
            let budget = if pass == 0 {
                share.min(max - out.count)
            } else {
                max - out.count
            };
            let (got, done) = read_partition(
                topic,
                *p,
                next,
                budget,
                format,
                framing,
                &mut out.json,
                out.count,
            )?;
            out.count += got;
            exhausted[i] = done;
        }
    }
    Ok(out)
}

/// Reads up to `budget` records of partition `p` from `*next`, advancing it. Returns the
/// number read and whether the partition's end was reached.
#[expect(clippy::too_many_arguments, reason = "one private helper of `read`")]
fn read_partition(
    topic: &Topic,
    p: u32,
    next: &mut u64,
    budget: u64,
    format: ValueFormat,
    framing: Framing,
    json: &mut Vec<u8>,
    already: u64,
) -> Result<(u64, bool)> {
    let part = topic.partition(p)?;
    let mut got = 0u64;
    while got < budget {
        let fetch = part.read(
            *next,
            ReadLimits {
                max_records: budget - got,
                max_bytes: READ_CHUNK_BYTES,
            },
        )?;
        if fetch.record_count() == 0 {
            return Ok((got, true));
        }
        json.reserve(fetch.size_bytes() * 3 / 2 + 64 * fetch.record_count() as usize);
        for r in fetch.records() {
            let r = r?;
            if framing == Framing::JsonArray && already + got > 0 {
                json.push(b',');
            }
            write_record(json, p, &r, format);
            if framing == Framing::Ndjson {
                json.push(b'\n');
            }
            got += 1;
        }
        *next = fetch.next_offset();
    }
    Ok((got, *next >= part.end_offset()))
}
