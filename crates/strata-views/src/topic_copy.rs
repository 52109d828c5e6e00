//! A topic replay's copier: reads the source topic's records that were there when the replay
//! began (from/to a time, optionally matching a predicate) and appends them to the destination
//! with an origin header, step by step behind a durable cursor, so that a crash mid-step never
//! copies a record twice.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{Array, Int64Array};
use serde::{Deserialize, Serialize};
use strata_log::{BatchBuilder, ReadLimits, RecordView, Topic};

use crate::replay_jobs::{CopyCounts, CopyState};
use strata_engine::codec;
use strata_engine::decode::SourceDecoder;
use strata_engine::error::{Error, Result};
use strata_engine::expr::evaluate_predicate;
use strata_sql::plan::{Expr, SourceDef};

/// The header naming a copied record's origin: `<replay id>:<topic>/<partition>/<offset>`.
pub const ORIGIN_HEADER: &str = "strata.replay";

/// Records a topic replay reads from one partition per step.
const COPY_STEP_RECORDS: u64 = 8 * 1024;

/// A topic replay's durable cursor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// Per source partition, the next offset to read.
    pub(crate) positions: Vec<u64>,
    /// Per destination partition, its end when the cursor was written.
    pub(crate) dest_ends: Vec<u64>,
    pub(crate) counts: CopyCounts,
}

pub(crate) struct Copier {
    pub(crate) id: u64,
    pub(crate) source: Arc<Topic>,
    pub(crate) dest: Arc<Topic>,
    pub(crate) from_time: Option<i64>,
    pub(crate) to_time: Option<i64>,
    pub(crate) filter: Option<(SourceDef, Expr)>,
    pub(crate) end: Vec<u64>,
    pub(crate) cursor_path: PathBuf,
    pub(crate) cursor: Cursor,
    /// Source records found in the destination past the cursor: a step cut short by a crash.
    pub(crate) done_before: HashSet<(u32, u64)>,
    pub(crate) state: Arc<CopyState>,
}

impl Copier {
    /// Loads the cursor and finds what a step cut short already copied.
    pub(crate) fn restore(&mut self) -> Result<()> {
        match std::fs::read(&self.cursor_path) {
            Ok(bytes) => {
                self.cursor = codec::decode(&bytes).map_err(|message| Error::Checkpoint {
                    path: self.cursor_path.clone(),
                    message,
                })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dir = self.cursor_path.parent().unwrap_or(&self.cursor_path);
                std::fs::create_dir_all(dir).map_err(|e| Error::Checkpoint {
                    path: dir.to_owned(),
                    message: e.to_string(),
                })?;
                self.cursor.dest_ends = self.dest_ends();
            }
            Err(e) => {
                return Err(Error::Checkpoint {
                    path: self.cursor_path.clone(),
                    message: e.to_string(),
                });
            }
        }
        let prefix = format!("{}:{}/", self.id, self.source.name());
        for p in self.dest.partitions() {
            let mut at = self
                .cursor
                .dest_ends
                .get(p.id() as usize)
                .copied()
                .unwrap_or(0)
                .max(p.start_offset());
            while at < p.end_offset() {
                let fetch = p.read(
                    at,
                    ReadLimits {
                        max_records: 64 * 1024,
                        max_bytes: 16 << 20,
                    },
                )?;
                for r in fetch.records() {
                    if let Some(origin) = origin_of(&r?, &prefix) {
                        self.done_before.insert(origin);
                    }
                }
                at = fetch.next_offset();
            }
        }
        let c = self.cursor.counts;
        self.state.read.store(c.read, Ordering::Relaxed);
        self.state.copied.store(c.copied, Ordering::Relaxed);
        self.state
            .filtered_out
            .store(c.filtered_out, Ordering::Relaxed);
        self.state.invalid.store(c.invalid, Ordering::Relaxed);
        Ok(())
    }

    fn dest_ends(&self) -> Vec<u64> {
        self.dest
            .partitions()
            .iter()
            .map(|p| p.end_offset())
            .collect()
    }

    /// Copies until done (`Some(counts)`), cancelled or stopped (`None`).
    pub(crate) fn run(&mut self, stop: &AtomicBool) -> Result<Option<CopyCounts>> {
        let mut decoder = match &self.filter {
            Some((source, _)) => Some(SourceDecoder::new(source)?),
            None => None,
        };
        loop {
            if stop.load(Ordering::Acquire) || self.state.cancel.load(Ordering::Acquire) {
                return Ok(None);
            }
            if self.step(decoder.as_mut())? {
                return Ok(Some(self.cursor.counts));
            }
        }
    }

    /// One step: up to a slice of every source partition. Returns true when all is copied.
    fn step(&mut self, mut decoder: Option<&mut SourceDecoder>) -> Result<bool> {
        let mut outputs: Vec<BatchBuilder> = (0..self.dest.partition_count())
            .map(|_| BatchBuilder::new())
            .collect();
        let mut finished = true;
        for p in self.source.partitions() {
            let i = p.id() as usize;
            let (pos, end) = (self.cursor.positions[i], self.end[i]);
            if pos >= end {
                continue;
            }
            finished = false;
            let fetch = p.read(
                pos,
                ReadLimits {
                    max_records: COPY_STEP_RECORDS.min(end - pos),
                    max_bytes: 8 << 20,
                },
            )?;
            let records: Vec<(u32, RecordView<'_>)> = fetch
                .records()
                .map(|r| r.map(|r| (p.id(), r)))
                .filter(|r| r.as_ref().map_or(true, |(_, r)| r.offset < end))
                .collect::<strata_log::Result<_>>()?;
            let keep = self.select(&records, decoder.as_deref_mut())?;
            let mut counts = self.cursor.counts;
            counts.read += records.len() as u64;
            for ((_, r), keep) in records.iter().zip(keep) {
                match keep {
                    Keep::Yes => {
                        counts.copied += 1;
                        if self.done_before.contains(&(p.id(), r.offset)) {
                            continue;
                        }
                        let to = self.dest_partition(p.id(), r.key);
                        let origin =
                            format!("{}:{}/{}/{}", self.id, self.source.name(), p.id(), r.offset);
                        let headers = r
                            .headers()
                            .filter_map(std::result::Result::ok)
                            .chain(std::iter::once((ORIGIN_HEADER, origin.as_bytes())));
                        outputs[to as usize].push(
                            r.key,
                            r.value,
                            r.timestamp,
                            headers.collect::<Vec<_>>().into_iter(),
                        );
                        if outputs[to as usize].size_bytes() > 4 << 20 {
                            let full =
                                std::mem::replace(&mut outputs[to as usize], BatchBuilder::new());
                            if let Some(b) = full.finish() {
                                self.dest.append(to, b)?;
                            }
                        }
                    }
                    Keep::Filtered => counts.filtered_out += 1,
                    Keep::Invalid => counts.invalid += 1,
                }
            }
            self.cursor.positions[i] = fetch.next_offset().min(end);
            self.cursor.counts = counts;
        }
        for (to, builder) in outputs.into_iter().enumerate() {
            if let Some(b) = builder.finish() {
                self.dest.append(to as u32, b)?;
            }
        }
        // Output first, then the cursor that says it is there.
        for p in self.dest.partitions() {
            p.flush()?;
        }
        self.cursor.dest_ends = self.dest_ends();
        let bytes = codec::encode(&self.cursor).map_err(|message| Error::Checkpoint {
            path: self.cursor_path.clone(),
            message,
        })?;
        strata_log::fsutil::write_atomically(&self.cursor_path, &bytes)?;
        let c = self.cursor.counts;
        self.state.read.store(c.read, Ordering::Relaxed);
        self.state.copied.store(c.copied, Ordering::Relaxed);
        self.state
            .filtered_out
            .store(c.filtered_out, Ordering::Relaxed);
        self.state.invalid.store(c.invalid, Ordering::Relaxed);
        Ok(finished)
    }

    /// Which records of one partition's slice to copy.
    fn select(
        &self,
        records: &[(u32, RecordView<'_>)],
        decoder: Option<&mut SourceDecoder>,
    ) -> Result<Vec<Keep>> {
        let in_time = |r: &RecordView<'_>| {
            self.from_time.is_none_or(|t| r.timestamp >= t)
                && self.to_time.is_none_or(|t| r.timestamp < t)
        };
        let mut keep: Vec<Keep> = records
            .iter()
            .map(|(_, r)| {
                if in_time(r) {
                    Keep::Yes
                } else {
                    Keep::Filtered
                }
            })
            .collect();
        let (Some((_, filter)), Some(decoder)) = (&self.filter, decoder) else {
            return Ok(keep);
        };
        let index: HashMap<u64, usize> = records
            .iter()
            .enumerate()
            .map(|(i, (_, r))| (r.offset, i))
            .collect();
        for chunk in records.chunks(strata_engine::decode::MAX_BATCH_ROWS) {
            let decoded = decoder.decode(chunk)?;
            for bad in &decoded.invalid {
                if let Some(&i) = index.get(&bad.offset)
                    && keep[i] == Keep::Yes
                {
                    keep[i] = Keep::Invalid;
                }
            }
            let mask = evaluate_predicate(filter, &decoded.batch)?;
            let offsets = decoded
                .batch
                .column_by_name("_offset")
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned())
                .ok_or_else(|| Error::Eval("decoded records carry no offsets".into()))?;
            for row in 0..mask.len() {
                if !mask.value(row)
                    && let Some(&i) = index.get(&(offsets.value(row) as u64))
                    && keep[i] == Keep::Yes
                {
                    keep[i] = Keep::Filtered;
                }
            }
        }
        Ok(keep)
    }

    /// Same partition when the counts match; else by key (Kafka's murmur2), or the source
    /// partition modulo the count for records without a key.
    fn dest_partition(&self, from: u32, key: Option<&[u8]>) -> u32 {
        let n = self.dest.partition_count();
        if n == self.source.partition_count() {
            return from;
        }
        match key {
            Some(k) => strata_log::partitioner::partition_for_key(k, n),
            None => from % n,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    Yes,
    Filtered,
    Invalid,
}

/// The source position a copied record names in its origin header, when it is this replay's.
fn origin_of(r: &RecordView<'_>, prefix: &str) -> Option<(u32, u64)> {
    let value = r
        .headers()
        .filter_map(std::result::Result::ok)
        .filter(|(name, _)| *name == ORIGIN_HEADER)
        .last()?
        .1;
    let rest = std::str::from_utf8(value).ok()?.strip_prefix(prefix)?;
    let (p, o) = rest.split_once('/')?;
    Some((p.parse().ok()?, o.parse().ok()?))
}
