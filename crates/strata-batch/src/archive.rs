//! The archiver: sealed log segments → Parquet files in the lake, committed by the manifest.
//!
//! For each partition, each sealed segment past the manifest's `archived_to` is read
//! zero-copy, decoded with the topic's schema (or kept raw), split by event-time hour, and
//! written as `date=…/hour=…/p<partition>-<base offset>.parquet` (zstd, row-group statistics).
//! The order of a segment's commit is what makes crashes harmless:
//!
//! 1. each Parquet file is written under a temp name, fsynced and renamed (readers never see a
//!    partial file); its directories are fsynced;
//! 2. records that do not match the schema are appended to `<topic>-invalid` and fsynced;
//! 3. the manifest is replaced atomically with the segment's entry, `archived_to` and the
//!    invalid topic's new end;
//! 4. in Lambda mode the partition's retention floor moves to `archived_to`.
//!
//! A crash before 3 leaves files the manifest does not list: the next run deletes them and
//! rewrites the same names from the same segment, and truncates the invalid topic back to the
//! manifest's `invalid_end`. So every offset lands in exactly one listed file (or exactly once
//! in the invalid topic).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_log::sync::unmodelled::Mutex;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, Int64Array, ListBuilder, RecordBatch, StringBuilder,
    StructBuilder, TimestampMillisecondArray, UInt32Array,
};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimestampMillisecondType};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use strata_engine::decode::{MAX_BATCH_ROWS, SourceDecoder};
use strata_engine::operator::ROWTIME;
use strata_engine::plan::SourceDef;
use strata_log::{BatchBuilder, Log, Partition, ReadLimits, RecordView, Topic, TopicConfig};

use crate::error::{Error, IoContext, ParquetContext, Result};
use crate::fsutil::{hive_dir, hour_of, sync_dir};
use crate::lake::{self, file_name, temp_name};
use crate::manifest::{FileEntry, Layout, Manifest, PartitionManifest, SegmentEntry};
use crate::metrics::BatchMetrics;

/// Name of the lake column holding the record timestamp.
pub const TIMESTAMP_COLUMN: &str = "_timestamp";
/// Header naming why a record went to the invalid topic.
pub const REASON_HEADER: &str = "strata.reason";
/// Header giving an invalid record's source partition.
pub const SOURCE_PARTITION_HEADER: &str = "strata.source.partition";
/// Header giving an invalid record's source offset.
pub const SOURCE_OFFSET_HEADER: &str = "strata.source.offset";

/// The topic holding `topic`'s records that did not match its schema.
pub fn invalid_topic(topic: &str) -> String {
    format!("{topic}-invalid")
}

/// How the archiver writes.
#[derive(Debug, Clone)]
pub struct ArchiveConfig {
    /// The lake's root directory.
    pub lake_dir: PathBuf,
    /// Lambda mode: move each partition's retention floor to what is archived, so the log
    /// never deletes a segment before it is in the lake. Kappa deployments turn it off.
    pub lambda: bool,
    /// zstd level (1 favours archiving speed; 3 is zstd's default).
    pub zstd_level: i32,
    /// Most rows per Parquet row group.
    pub row_group_rows: usize,
}

impl ArchiveConfig {
    /// Defaults for a lake at `lake_dir`: Lambda mode, zstd level 1, 128 Ki-row row groups.
    pub fn new(lake_dir: impl Into<PathBuf>) -> Self {
        ArchiveConfig {
            lake_dir: lake_dir.into(),
            lambda: true,
            zstd_level: 1,
            row_group_rows: 128 * 1024,
        }
    }
}

/// What one archive run of a topic did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ArchiveReport {
    /// The topic.
    pub topic: String,
    /// Segments archived.
    pub segments: u64,
    /// Rows written to the lake.
    pub rows: u64,
    /// Records sent to `<topic>-invalid`.
    pub invalid: u64,
    /// Parquet files committed.
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Records retention deleted before they could be archived.
    pub missed: u64,
    /// Leftovers of an interrupted run that were deleted.
    pub leftovers_removed: Vec<PathBuf>,
    /// Foreign or corrupt files in the topic's lake directory (also logged and counted).
    pub problems: Vec<String>,
    /// Per partition, the offset below which everything is archived.
    pub horizon: Vec<(u32, u64)>,
}

/// Archives topics of a log into the lake. One archiver per lake: its per-topic lock keeps
/// the continuous archiver and on-demand runs of the same process apart.
#[derive(Debug)]
pub struct Archiver {
    config: ArchiveConfig,
    metrics: Arc<BatchMetrics>,
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl Archiver {
    /// An archiver writing to `config.lake_dir` (created if missing).
    ///
    /// # Errors
    /// I/O errors creating the lake directory.
    pub fn new(config: ArchiveConfig, metrics: Arc<BatchMetrics>) -> Result<Self> {
        fs::create_dir_all(&config.lake_dir).at(&config.lake_dir)?;
        Ok(Archiver {
            config,
            metrics,
            locks: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ArchiveConfig {
        &self.config
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<BatchMetrics> {
        &self.metrics
    }

    /// Whether the continuous archiver takes `topic`: every topic except views' changelogs
    /// (a view may truncate its changelog back to a checkpoint, which would rewrite offsets
    /// the lake already holds).
    pub fn archives(topic: &str) -> bool {
        !topic.ends_with("-changelog")
    }

    /// In Lambda mode, sets the retention floor of every partition of every archived topic
    /// to what its manifest covers (0 when never archived), and makes every topic `log`
    /// creates from now on start with a floor of 0 (nothing of it is archived yet), so that
    /// retention cannot reach a new topic before the archiver's next pass. Call when the
    /// node starts, before retention first runs; calling it again is harmless.
    ///
    /// # Errors
    /// Unreadable manifests.
    pub fn protect(&self, log: &Log) -> Result<()> {
        if !self.config.lambda {
            return Ok(());
        }
        log.on_topic_created("strata-batch retention floor", |topic| {
            if Self::archives(topic.name()) {
                for p in topic.partitions() {
                    p.set_retention_floor(0);
                }
            }
        });
        for topic in log.topics() {
            if !Self::archives(topic.name()) {
                continue;
            }
            let manifest = Manifest::load(&self.config.lake_dir, topic.name())?;
            for p in topic.partitions() {
                let floor = manifest
                    .as_ref()
                    .and_then(|m| m.partition(p.id()))
                    .map_or(0, |pm| pm.archived_to);
                p.set_retention_floor(floor);
            }
        }
        Ok(())
    }

    /// Archives every topic [`Archiver::archives`] takes; `sources` are the declared schemas
    /// (a topic without one is archived raw). A failing topic is logged, counted and reported
    /// in its place; the others still run.
    pub fn archive_all(&self, log: &Log, sources: &[SourceDef]) -> Vec<Result<ArchiveReport>> {
        log.topics()
            .iter()
            .filter(|t| Self::archives(t.name()))
            .map(|t| self.archive_topic(log, t.name(), schema_for_topic(sources, t.name())))
            .collect()
    }

    /// Archives the sealed segments of `topic` not archived yet. `source` is the topic's
    /// schema (`None`: raw key/value/timestamp/headers columns).
    ///
    /// # Errors
    /// Unknown topic, [`Error::SchemaChanged`], I/O and Parquet errors naming the file. What
    /// was committed before the error stays committed; the rest is redone by the next run.
    pub fn archive_topic(
        &self,
        log: &Log,
        topic: &str,
        source: Option<&SourceDef>,
    ) -> Result<ArchiveReport> {
        let result = self.archive_topic_inner(log, topic, source);
        if let Err(e) = &result {
            BatchMetrics::add(&self.metrics.archive_errors, 1);
            tracing::error!(topic, error = %e, "archiving failed");
        }
        result
    }

    fn topic_lock(&self, topic: &str) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock();
        Arc::clone(locks.entry(topic.to_owned()).or_default())
    }

    fn archive_topic_inner(
        &self,
        log: &Log,
        topic_name: &str,
        source: Option<&SourceDef>,
    ) -> Result<ArchiveReport> {
        let lock = self.topic_lock(topic_name);
        let _guard = lock.lock();
        let topic = log.topic(topic_name)?;
        let lake = &self.config.lake_dir;
        let layout = Layout::for_source(source);
        let mut manifest = match Manifest::load(lake, topic_name)? {
            Some(m) if m.layout != layout => {
                return Err(Error::SchemaChanged {
                    topic: topic_name.to_owned(),
                    archived: m.layout.describe(),
                    current: layout.describe(),
                });
            }
            Some(m) => m,
            None => Manifest::new(topic_name, layout.clone()),
        };
        let mut report = ArchiveReport {
            topic: topic_name.to_owned(),
            ..ArchiveReport::default()
        };

        let scan = lake::scan(lake, topic_name, Some(&manifest))?;
        for path in scan.leftovers {
            // Written by a run that crashed before its manifest commit: the segment will be
            // archived again, under the same name.
            fs::remove_file(&path).at(&path)?;
            tracing::info!(path = %path.display(), "removed the leftover of an interrupted archive run");
            report.leftovers_removed.push(path);
        }
        for problem in scan.problems {
            tracing::warn!(%problem, "the lake holds a file that does not belong there");
            BatchMetrics::add(&self.metrics.lake_problems, 1);
            report.problems.push(problem.to_string());
        }

        let topic_dir = lake.join(topic_name);
        if !topic_dir.exists() {
            fs::create_dir_all(&topic_dir).at(&topic_dir)?;
            sync_dir(lake)?;
        }
        // `<topic>-invalid` is created when the first invalid record appears, not before.
        let mut invalid = match source {
            Some(_) => existing_invalid_topic(log, &topic)?,
            None => None,
        };
        let mut writer = SegmentWriter::new(&self.config, source, &topic_dir)?;
        for partition in topic.partitions() {
            let p = partition.id();
            let mut invalid_partition = match &invalid {
                Some(t) => Some(invalid_partition_of(t, p, manifest.partition_mut(p))?),
                None => None,
            };
            for segment in partition.segments() {
                let archived_to = manifest.partition_mut(p).archived_to;
                if !segment.sealed || segment.next_offset <= archived_to {
                    continue;
                }
                if segment.base_offset > archived_to {
                    let missed = segment.base_offset - archived_to;
                    tracing::warn!(
                        topic = topic_name,
                        partition = p,
                        from = archived_to,
                        to = segment.base_offset,
                        "records were deleted by retention before they were archived"
                    );
                    BatchMetrics::add(&self.metrics.records_missed, missed);
                    report.missed += missed;
                    let pm = manifest.partition_mut(p);
                    pm.missing.push((archived_to, segment.base_offset));
                    pm.archived_to = segment.base_offset;
                }
                let from = segment.base_offset.max(archived_to);
                let (entry, invalid_batch) =
                    writer.archive_segment(partition, from, segment.next_offset)?;
                let invalid_count = entry.invalid;
                let mut invalid_end = manifest.partition_mut(p).invalid_end;
                if let Some(batch) = invalid_batch {
                    let ip = match &invalid_partition {
                        Some(ip) => Arc::clone(ip),
                        None => {
                            let t = create_invalid_topic(log, &topic)?;
                            let ip = invalid_partition_of(&t, p, manifest.partition_mut(p))?;
                            invalid = Some(t);
                            invalid_partition = Some(Arc::clone(&ip));
                            ip
                        }
                    };
                    let info = ip.append(batch)?;
                    ip.sync_through(info.last_offset + 1)?;
                    invalid_end = info.last_offset + 1;
                }
                let files = entry.files.len() as u64;
                let bytes: u64 = entry.files.iter().map(|f| f.bytes).sum();
                let rows = entry.rows;
                {
                    let pm = manifest.partition_mut(p);
                    pm.archived_to = entry.next_offset;
                    pm.invalid_end = invalid_end;
                    pm.segments.push(entry);
                }
                manifest.commit(lake)?;
                if self.config.lambda {
                    partition.set_retention_floor(manifest.partition_mut(p).archived_to);
                }
                report.segments += 1;
                report.rows += rows;
                report.invalid += invalid_count;
                report.files += files;
                report.bytes += bytes;
                let m = &self.metrics;
                BatchMetrics::add(&m.segments_archived, 1);
                BatchMetrics::add(&m.records_archived, rows);
                BatchMetrics::add(&m.invalid_records, invalid_count);
                BatchMetrics::add(&m.files_written, files);
                BatchMetrics::add(&m.bytes_written, bytes);
            }
            if self.config.lambda {
                partition.set_retention_floor(manifest.partition_mut(p).archived_to);
            }
        }
        report.horizon = manifest.horizon();
        Ok(report)
    }
}

/// The schema bound to `topic` among `sources`: a stream's first, else a table's.
pub fn schema_for_topic<'a>(sources: &'a [SourceDef], topic: &str) -> Option<&'a SourceDef> {
    let mut matching: Vec<&SourceDef> = sources.iter().filter(|s| s.topic == topic).collect();
    matching.sort_by_key(|s| (s.kind != strata_engine::plan::SourceKind::Stream, &s.name));
    matching.first().copied()
}

/// `<topic>-invalid`, if it exists.
fn existing_invalid_topic(log: &Log, topic: &Topic) -> Result<Option<Arc<Topic>>> {
    match log.topic(&invalid_topic(topic.name())) {
        Ok(t) => Ok(Some(t)),
        Err(strata_log::Error::UnknownTopic(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `<topic>-invalid`, created with the topic's partition count if it does not exist.
fn create_invalid_topic(log: &Log, topic: &Topic) -> Result<Arc<Topic>> {
    let name = invalid_topic(topic.name());
    match log.create_topic(&name, topic.partition_count(), TopicConfig::default()) {
        Ok(t) => Ok(t),
        Err(strata_log::Error::TopicExists(_)) => Ok(log.topic(&name)?),
        Err(e) => Err(e.into()),
    }
}

/// The partition of the invalid topic `t` that source partition `p` writes to, brought in
/// line with the manifest `pm`: what a run that crashed before committing appended is cut
/// (it will be appended again).
fn invalid_partition_of(t: &Topic, p: u32, pm: &mut PartitionManifest) -> Result<Arc<Partition>> {
    let ip = Arc::clone(t.partition(p % t.partition_count())?);
    let end = ip.end_offset();
    if end > pm.invalid_end && ip.start_offset() <= pm.invalid_end {
        ip.truncate_to(pm.invalid_end)?;
    } else if end < pm.invalid_end {
        tracing::warn!(topic = %t.name(), "the invalid topic is shorter than the manifest recorded (was it recreated?)");
        pm.invalid_end = end;
    }
    Ok(ip)
}

/// The lake schema of a topic with a schema: the decoder's columns with `rowtime` renamed.
pub fn lake_schema(source: &SourceDef) -> SchemaRef {
    rename_field(
        &strata_engine::decode::source_schema(source),
        ROWTIME,
        TIMESTAMP_COLUMN,
    )
}

/// The lake schema of a topic without a schema.
pub fn raw_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("_partition", DataType::Int64, false),
        Field::new("_offset", DataType::Int64, false),
        Field::new(
            TIMESTAMP_COLUMN,
            strata_engine::operator::timestamp(),
            false,
        ),
        Field::new("_key", DataType::Binary, true),
        Field::new("_value", DataType::Binary, false),
        Field::new(
            "_headers",
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(header_fields()),
                true,
            ))),
            false,
        ),
    ]))
}

fn header_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Binary, false),
    ])
}

pub(crate) fn rename_field(schema: &SchemaRef, from: &str, to: &str) -> SchemaRef {
    Arc::new(Schema::new_with_metadata(
        schema
            .fields()
            .iter()
            .map(|f| {
                if f.name() == from {
                    f.as_ref().clone().with_name(to)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect::<Vec<_>>(),
        schema.metadata().clone(),
    ))
}

/// Turns one segment into Parquet files; reused across segments of a run.
struct SegmentWriter<'a> {
    topic_dir: &'a Path,
    schema: SchemaRef,
    decoder: Option<SourceDecoder>,
    /// Index of the event-time column in the lake schema (`None`: the record timestamp).
    event_time: Option<usize>,
    props: WriterProperties,
}

struct HourFile {
    writer: ArrowWriter<fs::File>,
    tmp: PathBuf,
    path: PathBuf,
    rel: String,
    rows: u64,
    min_time: i64,
    max_time: i64,
}

impl<'a> SegmentWriter<'a> {
    fn new(
        config: &'a ArchiveConfig,
        source: Option<&SourceDef>,
        topic_dir: &'a Path,
    ) -> Result<Self> {
        let (schema, decoder, event_time) = match source {
            Some(s) => {
                let schema = lake_schema(s);
                let event_time = s
                    .timestamp_column
                    .as_ref()
                    .and_then(|c| schema.index_of(c).ok());
                (schema, Some(SourceDecoder::new(s)?), event_time)
            }
            None => (raw_schema(), None, None),
        };
        let level = ZstdLevel::try_new(config.zstd_level).map_err(|e| Error::Parquet {
            path: topic_dir.to_owned(),
            source: e,
        })?;
        // Dictionaries only for strings: numbers and timestamps are mostly distinct, and
        // building a dictionary only to abandon it costs archiving speed (measured).
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(config.row_group_rows.max(1)))
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_dictionary_enabled(false)
            .set_created_by("strata batch layer".into());
        for field in schema.fields() {
            if matches!(field.data_type(), DataType::Utf8 | DataType::Binary) {
                props = props.set_column_dictionary_enabled(
                    parquet::schema::types::ColumnPath::from(field.name().as_str()),
                    true,
                );
            }
        }
        let props = props.build();
        Ok(SegmentWriter {
            topic_dir,
            schema,
            decoder,
            event_time,
            props,
        })
    }

    /// Writes the records `[from, to)` of `partition`; returns the manifest entry and the
    /// batch of invalid records to append to the invalid topic.
    fn archive_segment(
        &mut self,
        partition: &Partition,
        from: u64,
        to: u64,
    ) -> Result<(SegmentEntry, Option<strata_log::EncodedBatch>)> {
        let p = partition.id();
        let mut files: BTreeMap<i64, HourFile> = BTreeMap::new();
        let mut invalid = BatchBuilder::new();
        let mut invalid_count = 0u64;
        let mut rows = 0u64;
        let mut offset = from;
        let result = (|| {
            while offset < to {
                let fetch = partition.read(
                    offset,
                    ReadLimits {
                        max_records: to - offset,
                        max_bytes: u64::MAX,
                    },
                )?;
                if fetch.next_offset() <= offset {
                    return Err(Error::Log(strata_log::Error::OffsetOutOfRange {
                        offset,
                        start: partition.start_offset(),
                        end: partition.end_offset(),
                    }));
                }
                let mut chunk: Vec<(u32, RecordView<'_>)> = Vec::with_capacity(MAX_BATCH_ROWS);
                let mut records = fetch.records();
                loop {
                    chunk.clear();
                    for r in records.by_ref() {
                        chunk.push((p, r?));
                        if chunk.len() == MAX_BATCH_ROWS {
                            break;
                        }
                    }
                    if chunk.is_empty() {
                        break;
                    }
                    let batch = match &mut self.decoder {
                        Some(decoder) => {
                            let decoded = decoder.decode(&chunk)?;
                            for bad in &decoded.invalid {
                                let i = chunk.partition_point(|(_, r)| r.offset < bad.offset);
                                let Some((_, r)) = chunk.get(i) else { continue };
                                let p_text = p.to_string();
                                let o_text = r.offset.to_string();
                                let mut headers: Vec<(String, Vec<u8>)> = r
                                    .headers()
                                    .filter_map(|h| h.ok())
                                    .map(|(k, v)| (k.to_owned(), v.to_vec()))
                                    .collect();
                                headers
                                    .push((REASON_HEADER.into(), bad.reason.clone().into_bytes()));
                                headers.push((SOURCE_PARTITION_HEADER.into(), p_text.into_bytes()));
                                headers.push((SOURCE_OFFSET_HEADER.into(), o_text.into_bytes()));
                                invalid.push(
                                    r.key,
                                    r.value,
                                    r.timestamp,
                                    headers.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
                                );
                                invalid_count += 1;
                            }
                            RecordBatch::try_new(
                                Arc::clone(&self.schema),
                                decoded.batch.columns().to_vec(),
                            )?
                        }
                        None => raw_batch(&self.schema, &chunk)?,
                    };
                    rows += batch.num_rows() as u64;
                    self.write_by_hour(&mut files, p, from, &batch)?;
                }
                offset = fetch.next_offset();
            }
            Ok(())
        })();
        if let Err(e) = result {
            for f in files.into_values() {
                let _ = fs::remove_file(&f.tmp);
            }
            return Err(e);
        }
        let entries = self.commit_files(files)?;
        let invalid = if invalid.is_empty() {
            None
        } else {
            invalid.finish()
        };
        Ok((
            SegmentEntry {
                base_offset: from,
                next_offset: to,
                rows,
                invalid: invalid_count,
                files: entries,
            },
            invalid,
        ))
    }

    fn event_times(&self, batch: &RecordBatch) -> Result<Vec<i64>> {
        let record_ts = batch
            .column_by_name(TIMESTAMP_COLUMN)
            .map(|c| c.as_primitive::<TimestampMillisecondType>().clone())
            .ok_or_else(|| arrow::error::ArrowError::SchemaError("no _timestamp column".into()))?;
        Ok(match self.event_time {
            Some(i) => {
                // The event-time column may be TIMESTAMP or BIGINT epoch millis (ksqlDB's
                // `timestamp='viewtime'`): read it as Int64 either way.
                let et = arrow::compute::cast(batch.column(i), &arrow::datatypes::DataType::Int64)?;
                let et = et.as_primitive::<arrow::datatypes::Int64Type>();
                (0..batch.num_rows())
                    .map(|r| {
                        if et.is_valid(r) {
                            et.value(r)
                        } else {
                            record_ts.value(r)
                        }
                    })
                    .collect()
            }
            None => record_ts.values().to_vec(),
        })
    }

    fn write_by_hour(
        &self,
        files: &mut BTreeMap<i64, HourFile>,
        p: u32,
        base: u64,
        batch: &RecordBatch,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let times = self.event_times(batch)?;
        let first_hour = hour_of(times[0]);
        if times.iter().all(|&t| hour_of(t) == first_hour) {
            return self.write_hour(files, p, base, first_hour, batch, &times);
        }
        let mut by_hour: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        for (i, &t) in times.iter().enumerate() {
            by_hour.entry(hour_of(t)).or_default().push(i as u32);
        }
        for (hour, rows) in by_hour {
            let part_times: Vec<i64> = rows.iter().map(|&r| times[r as usize]).collect();
            let part = take_record_batch(batch, &UInt32Array::from(rows))?;
            self.write_hour(files, p, base, hour, &part, &part_times)?;
        }
        Ok(())
    }

    fn write_hour(
        &self,
        files: &mut BTreeMap<i64, HourFile>,
        p: u32,
        base: u64,
        hour: i64,
        batch: &RecordBatch,
        times: &[i64],
    ) -> Result<()> {
        let f = match files.entry(hour) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let dir_rel = hive_dir(hour);
                let dir = self.topic_dir.join(&dir_rel);
                fs::create_dir_all(&dir).at(&dir)?;
                let tmp = dir.join(temp_name(p, base));
                let path = dir.join(file_name(p, base));
                let file = fs::File::create(&tmp).at(&tmp)?;
                let writer =
                    ArrowWriter::try_new(file, Arc::clone(&self.schema), Some(self.props.clone()))
                        .at(&tmp)?;
                e.insert(HourFile {
                    writer,
                    tmp,
                    path,
                    rel: format!("{dir_rel}/{}", file_name(p, base)),
                    rows: 0,
                    min_time: i64::MAX,
                    max_time: i64::MIN,
                })
            }
        };
        f.writer.write(batch).at(&f.tmp)?;
        f.rows += batch.num_rows() as u64;
        for &t in times {
            f.min_time = f.min_time.min(t);
            f.max_time = f.max_time.max(t);
        }
        Ok(())
    }

    /// Closes, fsyncs and renames every file of the segment, then fsyncs their directories
    /// (hour, date and topic), so that the files are durable before the manifest names them.
    fn commit_files(&self, files: BTreeMap<i64, HourFile>) -> Result<Vec<FileEntry>> {
        let mut entries = Vec::with_capacity(files.len());
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut pending: Vec<PathBuf> = files.values().map(|f| f.tmp.clone()).collect();
        let result = (|| {
            for (_, f) in files {
                let file = f.writer.into_inner().at(&f.tmp)?;
                file.sync_all().at(&f.tmp)?;
                let bytes = file.metadata().at(&f.tmp)?.len();
                drop(file);
                fs::rename(&f.tmp, &f.path).at(&f.path)?;
                pending.retain(|t| *t != f.tmp);
                if let Some(hour_dir) = f.path.parent() {
                    dirs.push(hour_dir.to_owned());
                    if let Some(date_dir) = hour_dir.parent() {
                        dirs.push(date_dir.to_owned());
                    }
                }
                entries.push(FileEntry {
                    path: f.rel,
                    rows: f.rows,
                    bytes,
                    min_time: f.min_time,
                    max_time: f.max_time,
                });
            }
            dirs.push(self.topic_dir.to_owned());
            dirs.sort();
            dirs.dedup();
            for d in &dirs {
                sync_dir(d)?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            for t in pending {
                let _ = fs::remove_file(t);
            }
            return Err(e);
        }
        Ok(entries)
    }
}

/// The raw columns of records of a topic without a schema.
fn raw_batch(schema: &SchemaRef, chunk: &[(u32, RecordView<'_>)]) -> Result<RecordBatch> {
    let mut keys = BinaryBuilder::new();
    let mut values = BinaryBuilder::new();
    let mut headers = ListBuilder::new(StructBuilder::from_fields(header_fields(), 0)).with_field(
        Arc::new(Field::new("item", DataType::Struct(header_fields()), true)),
    );
    for (_, r) in chunk {
        match r.key {
            Some(k) => keys.append_value(k),
            None => keys.append_null(),
        }
        values.append_value(r.value);
        let entries = headers.values();
        for h in r.headers() {
            let (k, v) = h.map_err(|reason| {
                arrow::error::ArrowError::InvalidArgumentError(format!(
                    "record {}: {reason}",
                    r.offset
                ))
            })?;
            entries
                .field_builder::<StringBuilder>(0)
                .expect("field 0 is Utf8")
                .append_value(k);
            entries
                .field_builder::<BinaryBuilder>(1)
                .expect("field 1 is Binary")
                .append_value(v);
            entries.append(true);
        }
        headers.append(true);
    }
    let headers: ArrayRef = Arc::new(headers.finish());
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            chunk.iter().map(|(p, _)| i64::from(*p)),
        )),
        Arc::new(Int64Array::from_iter_values(
            chunk.iter().map(|(_, r)| r.offset as i64),
        )),
        Arc::new(TimestampMillisecondArray::from_iter_values(
            chunk.iter().map(|(_, r)| r.timestamp),
        )),
        Arc::new(keys.finish()),
        Arc::new(values.finish()),
        headers,
    ];
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}
