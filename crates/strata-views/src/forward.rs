//! Named outputs: a view's committed changelog records, copied exactly once into a named
//! topic that other queries may write too (`INSERT INTO`).
//!
//! A view's own outputs are exactly-once by truncation: after a crash they are cut back to
//! the checkpoint. A named topic cannot be cut back — other writers' records follow ours —
//! so it only ever receives what a checkpoint has committed: right after each checkpoint the
//! view copies its changelog records up to the checkpoint's end (re-keyed in the declared
//! format by [`OutputEncoder`]). Each copy carries a header `strata.query: <writer>:<changelog
//! offset>`. The next checkpoint records how far the copy got and the named topic's ends;
//! on restart the records of this writer past those ends tell, per partition, which copies
//! already landed, and the copy resumes after them. Readers of the named topic therefore see
//! only committed rows, never a row a crash takes back (what Kafka's `read_committed` gives).
//! docs/design.md, "Named outputs", has the argument.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strata_engine::error::Result;
use strata_engine::sink::{OutputEncoder, output_encoder};
use strata_log::partitioner::partition_for_key;
use strata_log::{BatchBuilder, Log, ReadLimits, Topic, TopicConfig};
use strata_sql::plan::ViewPlan;

/// The header naming the query that wrote a named-output record, and the changelog offset it
/// copies: `<writer>:<offset>`.
pub const QUERY_HEADER: &str = "strata.query";

/// Records read from the changelog per step of a copy.
const COPY_STEP: u64 = 8 * 1024;

/// Where a copy stood at a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ForwardCheckpoint {
    /// The first changelog offset not yet copied.
    next: u64,
    /// The named topic's end offsets, per partition, when the checkpoint was taken: this
    /// writer's copies made after it are at or past them.
    sink_ends: Vec<u64>,
}

/// Copies a view's committed changelog into its named output topic.
pub(crate) struct Forwarder {
    writer: String,
    sink: Arc<Topic>,
    encoder: OutputEncoder,
    next: u64,
    /// Per partition of the named topic, the last changelog offset this writer copied there
    /// after the checkpoint it resumed from: the copy skips what is already there.
    landed: Vec<Option<u64>>,
}

impl Forwarder {
    /// The forwarder of `plan`'s named output, creating the topic when it is missing.
    ///
    /// # Errors
    /// A plan whose rows cannot be written as declared; log errors.
    pub(crate) fn open(log: &Log, plan: &ViewPlan) -> Result<Option<Forwarder>> {
        let Some(sink) = &plan.sink else {
            return Ok(None);
        };
        let encoder = output_encoder(plan)?;
        let partitions = sink.partitions.unwrap_or(1);
        let topic = match log.topic(&sink.topic) {
            Ok(t) => t,
            Err(_) => match log.create_topic(&sink.topic, partitions, TopicConfig::default()) {
                Ok(t) => t,
                Err(strata_log::Error::TopicExists(_)) => log.topic(&sink.topic)?,
                Err(e) => return Err(e.into()),
            },
        };
        Ok(Some(Forwarder {
            writer: plan.name.clone(),
            landed: vec![None; topic.partition_count() as usize],
            sink: topic,
            encoder,
            next: 0,
        }))
    }

    /// A view without a checkpoint copies from the start of its changelog (it copied nothing
    /// before its first checkpoint).
    pub(crate) fn start_at(&mut self, changelog_start: u64) {
        self.next = changelog_start;
    }

    /// Resumes from `checkpoint`: finds which copies made after it already landed.
    ///
    /// # Errors
    /// Log errors reading the named topic.
    pub(crate) fn restore(&mut self, checkpoint: &ForwardCheckpoint) -> Result<()> {
        self.next = checkpoint.next;
        let prefix = format!("{}:", self.writer);
        for p in self.sink.partitions() {
            let i = p.id() as usize;
            let from = checkpoint.sink_ends.get(i).copied().unwrap_or(0);
            let mut at = from.clamp(p.start_offset(), p.end_offset());
            while at < p.end_offset() {
                let fetch = p.read(at, limits())?;
                for r in fetch.records() {
                    let r = r?;
                    if let Some(origin) = origin_of(&r, &prefix) {
                        self.landed[i] = Some(self.landed[i].map_or(origin, |l| l.max(origin)));
                    }
                }
                at = fetch.next_offset();
            }
        }
        Ok(())
    }

    /// Flushes the named topic and says where the copy stands, for the checkpoint about to be
    /// written.
    ///
    /// # Errors
    /// Log errors (a failed fsync).
    pub(crate) fn checkpoint(&self) -> Result<ForwardCheckpoint> {
        let mut sink_ends = Vec::with_capacity(self.sink.partitions().len());
        for p in self.sink.partitions() {
            p.flush()?;
            sink_ends.push(p.end_offset());
        }
        Ok(ForwardCheckpoint {
            next: self.next,
            sink_ends,
        })
    }

    /// Copies the changelog's records below `upto` (a checkpoint's end) that are not copied
    /// yet. A record keeps its timestamp; its partition is its key's (Kafka's murmur2), or
    /// for a record without a key its changelog offset modulo the partitions — a function of
    /// the record, so a copy redone after a crash goes where the first one went.
    ///
    /// # Errors
    /// Log errors; a changelog record the encoder cannot read.
    pub(crate) fn forward(&mut self, changelog: &Topic, upto: u64) -> Result<()> {
        let source = changelog.partition(0)?;
        let n = self.sink.partition_count();
        // One buffer for every record's header, `<writer>:` then the offset.
        let mut origin = String::with_capacity(self.writer.len() + 21);
        origin.push_str(&self.writer);
        origin.push(':');
        while self.next < upto {
            let fetch = source.read(self.next, limits())?;
            // Sized for the step's records and their headers: growing by doubling was a tenth
            // of a copy's cost (profiled).
            let room = (fetch.size_bytes()
                + fetch.record_count() as usize * (origin.capacity() + 16))
                / n as usize;
            let mut builders: Vec<BatchBuilder> = (0..n)
                .map(|_| BatchBuilder::with_capacity(room.min(4 << 20)))
                .collect();
            let mut last = self.next;
            for r in fetch.records() {
                let r = r?;
                if r.offset >= upto {
                    break;
                }
                last = r.offset + 1;
                let (key, value) = self.encoder.encode(r.key, r.value)?;
                let p = match &key {
                    _ if n == 1 => 0,
                    Some(k) => partition_for_key(k, n),
                    None => (r.offset % u64::from(n)) as u32,
                };
                if self.landed[p as usize].is_some_and(|l| r.offset <= l) {
                    continue;
                }
                origin.truncate(self.writer.len() + 1);
                push_decimal(&mut origin, r.offset);
                let header = [(QUERY_HEADER, origin.as_bytes())];
                let b = &mut builders[p as usize];
                b.push(key.as_deref(), &value, r.timestamp, header.into_iter());
                if b.size_bytes() > 4 << 20 {
                    let full = std::mem::take(b);
                    self.append(p, full)?;
                }
            }
            if last == self.next {
                // Nothing below `upto` to read: the changelog ends earlier (it was cut).
                break;
            }
            for (p, b) in builders.into_iter().enumerate() {
                self.append(p as u32, b)?;
            }
            self.next = last;
        }
        Ok(())
    }

    fn append(&self, p: u32, builder: BatchBuilder) -> Result<()> {
        if let Some(batch) = builder.finish() {
            // Flushed before the next checkpoint; no need to wait for an fsync here.
            self.sink.partition(p)?.append_unacked(batch)?;
        }
        Ok(())
    }
}

/// Appends `n` in decimal (without the formatting machinery, which showed in profiles).
fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

fn limits() -> ReadLimits {
    ReadLimits {
        max_records: COPY_STEP,
        max_bytes: 16 << 20,
    }
}

/// The changelog offset a record of this writer copies (`prefix` is `<writer>:`).
fn origin_of(r: &strata_log::RecordView<'_>, prefix: &str) -> Option<u64> {
    r.headers()
        .filter_map(std::result::Result::ok)
        .find_map(|(k, v)| {
            (k == QUERY_HEADER)
                .then(|| {
                    std::str::from_utf8(v)
                        .ok()?
                        .strip_prefix(prefix)?
                        .parse()
                        .ok()
                })
                .flatten()
        })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use strata_engine::plan::{SourceDef, SqlType, Statement};
    use strata_log::{Durability, LogOptions};

    use super::*;

    const N_PARTITIONS: u32 = 3;

    fn plan() -> ViewPlan {
        let mut catalog = HashMap::new();
        catalog.insert(
            "s".to_owned(),
            SourceDef::stream("s").column("k", SqlType::Varchar),
        );
        let sql = format!(
            "CREATE TABLE v WITH (kafka_topic='out', partitions={N_PARTITIONS}) AS SELECT k, COUNT(*) AS n FROM s GROUP BY k"
        );
        match strata_engine::sql::parse(&sql, &catalog).unwrap().remove(0) {
            Statement::CreateView { plan, .. } => plan,
            other => panic!("{other:?}"),
        }
    }

    fn open_log(dir: &std::path::Path) -> Arc<Log> {
        Log::open(
            dir,
            LogOptions {
                maintenance_tick: None,
                ..LogOptions::default()
            },
        )
        .unwrap()
    }

    /// A changelog of `keys.len()` records: record `i` keyed `{"k":"k<key>"}` (or unkeyed).
    fn changelog(log: &Log, keys: &[Option<u8>]) -> Arc<Topic> {
        let config = TopicConfig {
            durability: Durability::Never,
            ..TopicConfig::default()
        };
        let topic = log.create_topic("v-changelog", 1, config).unwrap();
        for chunk in keys.chunks(7) {
            let mut b = BatchBuilder::new();
            for k in chunk {
                let key = k.map(|k| format!(r#"{{"k":"k{k}"}}"#));
                b.push(
                    key.as_deref().map(str::as_bytes),
                    b"{\"n\":1}",
                    5,
                    std::iter::empty(),
                );
            }
            topic.append(0, b.finish().unwrap()).unwrap();
        }
        topic
    }

    /// Another writer of the named topic.
    fn other_writer(sink: &Topic, writes: &[(u32, usize)]) {
        for (p, n) in writes {
            let mut b = BatchBuilder::new();
            for _ in 0..*n {
                b.push(
                    None,
                    b"{}",
                    1,
                    [(QUERY_HEADER, b"w2:0".as_slice())].into_iter(),
                );
            }
            sink.append(*p % N_PARTITIONS, b.finish().unwrap()).unwrap();
        }
    }

    /// Batch boundaries of a partition from `from` on (where a crash may have cut it).
    fn boundaries(p: &strata_log::Partition, from: u64) -> Vec<u64> {
        let mut out = vec![from];
        let fetch = p.read(from, ReadLimits::default()).unwrap();
        for b in fetch.batches() {
            if b.next_offset() > from {
                out.push(b.next_offset());
            }
        }
        out
    }

    #[test]
    fn decimals_are_written_as_format_writes_them() {
        for n in [0, 7, 10, 99, 12_345, u64::MAX] {
            let mut s = String::from("v:");
            push_decimal(&mut s, n);
            assert_eq!(s, format!("v:{n}"));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The model: each committed changelog record lands once in the partition of its key,
        /// in changelog order, however far the copy got before the crash and whatever of the
        /// named topic's tail the crash lost, with another writer interleaved.
        #[test]
        fn a_copy_redone_after_a_crash_lands_each_record_once(
            keys in prop::collection::vec(prop::option::of(0u8..20), 1..200),
            copied_before in any::<prop::sample::Index>(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), N_PARTITIONS as usize),
            before in prop::collection::vec((0u32..3, 1usize..4), 0..4),
            after in prop::collection::vec((0u32..3, 1usize..4), 0..4),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let log = open_log(dir.path());
            let changelog = changelog(&log, &keys);
            let plan = plan();
            let mut f = Forwarder::open(&log, &plan).unwrap().unwrap();
            f.start_at(0);
            other_writer(&f.sink, &before);
            let checkpoint = f.checkpoint().unwrap();
            other_writer(&f.sink, &after);
            f.forward(&changelog, copied_before.index(keys.len() + 1) as u64).unwrap();
            other_writer(&f.sink, &after);
            // The crash: each partition loses a tail past the checkpoint, at a batch boundary.
            for (p, cut) in f.sink.partitions().iter().zip(&cuts) {
                let b = boundaries(p, checkpoint.sink_ends[p.id() as usize]);
                p.truncate_to(b[cut.index(b.len())]).unwrap();
            }
            let mut g = Forwarder::open(&log, &plan).unwrap().unwrap();
            g.restore(&checkpoint).unwrap();
            g.forward(&changelog, keys.len() as u64).unwrap();

            let mut want: Vec<Vec<(u64, Option<Vec<u8>>)>> = vec![Vec::new(); N_PARTITIONS as usize];
            for (i, k) in keys.iter().enumerate() {
                let key = k.map(|k| format!("k{k}").into_bytes());
                let p = match &key {
                    Some(k) => partition_for_key(k, N_PARTITIONS),
                    None => (i as u64 % u64::from(N_PARTITIONS)) as u32,
                };
                want[p as usize].push((i as u64, key));
            }
            for p in g.sink.partitions() {
                let fetch = p.read(0, ReadLimits { max_records: 10_000, max_bytes: 1 << 24 }).unwrap();
                let got: Vec<(u64, Option<Vec<u8>>)> = fetch
                    .records()
                    .map(Result::unwrap)
                    .filter_map(|r| origin_of(&r, "v:").map(|o| (o, r.key.map(<[u8]>::to_vec))))
                    .collect();
                prop_assert_eq!(&got, &want[p.id() as usize], "partition {}", p.id());
            }
        }
    }
}
