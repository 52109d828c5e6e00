//! The catalog: what the node knows about its topics and consumer groups, and the one place
//! that appends to and reads from the log on behalf of clients.
//!
//! Topics (with their configs) and groups' committed offsets are persisted by the log itself
//! (`topics/<t>/topic.json`, `groups/<g>.json`, each written atomically), so they survive a
//! restart with no second copy to drift out of sync; the catalog is the in-memory index built
//! from them at startup, plus what only a running node has: per-topic append notifications
//! (for long polls and follow streams), traffic counters, and consumer-group sessions.
//!
//! All methods here that touch the log block on file I/O: call them from `spawn_blocking`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use std::time::{Duration, Instant};
use strata_log::sync::unmodelled::{Mutex, RwLock};

use strata_log::{Log, Topic, TopicConfig};
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::records::{self, PreparedProduce};
use crate::time::now_ms;

/// Traffic counters of one topic, exported on `/metrics`.
#[derive(Debug, Default)]
pub struct TopicCounters {
    /// Records appended.
    pub records_in: AtomicU64,
    /// Key and value bytes appended.
    pub bytes_in: AtomicU64,
    /// Records served to consumers.
    pub records_out: AtomicU64,
    /// Response bytes served to consumers.
    pub bytes_out: AtomicU64,
}

/// A topic as the node sees it.
#[derive(Debug)]
pub struct TopicEntry {
    /// The log's topic.
    pub topic: Arc<Topic>,
    /// Bumped after every append; long polls and follow streams wait on it. Dropped (so
    /// waiters wake with an error) when the topic is deleted.
    pub appended: watch::Sender<u64>,
    /// Traffic counters.
    pub counters: TopicCounters,
    /// Set when the topic is deleted, for readers that still hold the entry.
    deleted: AtomicBool,
}

impl TopicEntry {
    fn new(topic: Arc<Topic>) -> Self {
        TopicEntry {
            topic,
            appended: watch::channel(0).0,
            counters: TopicCounters::default(),
            deleted: AtomicBool::new(false),
        }
    }

    /// True once the topic has been deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }
}

/// How often long polls and follow streams look at the log even without an append
/// notification: the SQL engine appends to its topics (view changelogs, late records) in the
/// log directly, without going through the catalog.
pub const APPEND_POLL: Duration = Duration::from_millis(50);

/// Where a produced record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Landed {
    /// Partition.
    pub partition: u32,
    /// Offset.
    pub offset: u64,
}

/// The delivery positions of a consumer group on one topic, between auto-commit fetches.
#[derive(Debug, Default)]
pub struct GroupSession {
    /// Next offset to deliver, per partition; `None` until the first fetch (or after the
    /// session expired or the group was reset).
    pub positions: Option<BTreeMap<u32, u64>>,
    /// When the last fetch finished.
    pub last_fetch: Option<Instant>,
}

/// Shared handle on one group session; fetches of one group on one topic run one at a time.
pub type SessionHandle = Arc<tokio::sync::Mutex<GroupSession>>;

/// The node's catalog of topics and groups.
#[derive(Debug)]
pub struct Catalog {
    log: Arc<Log>,
    topics: RwLock<BTreeMap<String, Arc<TopicEntry>>>,
    sessions: Mutex<HashMap<(String, String), SessionHandle>>,
    session_timeout: Duration,
}

impl Catalog {
    /// Builds the catalog over an opened log.
    pub fn new(log: Arc<Log>, session_timeout: Duration) -> Self {
        let topics = log
            .topics()
            .into_iter()
            .map(|t| (t.name().to_owned(), Arc::new(TopicEntry::new(t))))
            .collect();
        Catalog {
            log,
            topics: RwLock::new(topics),
            sessions: Mutex::new(HashMap::new()),
            session_timeout,
        }
    }

    /// The log.
    pub fn log(&self) -> &Arc<Log> {
        &self.log
    }

    /// A topic by name.
    ///
    /// # Errors
    /// [`strata_log::Error::UnknownTopic`] as [`Error::Log`].
    pub fn topic(&self, name: &str) -> Result<Arc<TopicEntry>> {
        {
            let topics = self.topics.read();
            if let Some(entry) = topics.get(name) {
                return Ok(Arc::clone(entry));
            }
        }
        // The SQL engine creates topics in the log directly (sources, view outputs); a name
        // the index has not seen yet may still be a topic.
        let topic = self
            .log
            .topic(name)
            .map_err(|_| Error::Log(strata_log::Error::UnknownTopic(name.to_owned())))?;
        let mut topics = self.topics.write();
        Ok(Arc::clone(
            topics
                .entry(name.to_owned())
                .or_insert_with(|| Arc::new(TopicEntry::new(topic))),
        ))
    }

    /// Brings the index up to date with the log after someone else (the SQL engine) created
    /// or deleted topics: new topics are added; entries whose topic is gone or was replaced
    /// by a new one of the same name are marked deleted (so their follow streams end) and
    /// dropped or replaced.
    pub fn sync(&self) {
        let live: BTreeMap<String, Arc<Topic>> = self
            .log
            .topics()
            .into_iter()
            .map(|t| (t.name().to_owned(), t))
            .collect();
        let mut gone = Vec::new();
        {
            let mut topics = self.topics.write();
            topics.retain(|name, entry| {
                let keep = live.get(name).is_some_and(|t| Arc::ptr_eq(t, &entry.topic));
                if !keep {
                    gone.push(Arc::clone(entry));
                }
                keep
            });
            for (name, topic) in live {
                topics
                    .entry(name)
                    .or_insert_with(|| Arc::new(TopicEntry::new(topic)));
            }
        }
        for entry in gone {
            self.lock_sessions()
                .retain(|(_, t), _| t != entry.topic.name());
            entry.deleted.store(true, Ordering::Release);
            entry.appended.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// All topics, by name.
    pub fn topics(&self) -> Vec<Arc<TopicEntry>> {
        let topics = self.topics.read();
        topics.values().cloned().collect()
    }

    /// Creates a topic (blocking: fsyncs).
    ///
    /// # Errors
    /// Invalid name or config, existing topic, I/O.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: u32,
        config: TopicConfig,
    ) -> Result<Arc<TopicEntry>> {
        let topic = self.log.create_topic(name, partitions, config)?;
        let entry = Arc::new(TopicEntry::new(topic));
        let mut topics = self.topics.write();
        topics.insert(name.to_owned(), Arc::clone(&entry));
        Ok(entry)
    }

    /// Deletes a topic, its data and every group's offsets for it (blocking).
    ///
    /// # Errors
    /// Unknown topic, I/O.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        // The index stays locked until the log has deleted the topic, so that a lookup that
        // misses the index cannot find the half-deleted topic in the log and index it again.
        let mut topics = self.topics.write();
        let Some(entry) = topics.remove(name) else {
            return Err(Error::Log(strata_log::Error::UnknownTopic(name.to_owned())));
        };
        self.lock_sessions().retain(|(_, t), _| t != name);
        // Wake long polls and follow streams: they see the flag and end.
        entry.deleted.store(true, Ordering::Release);
        entry.appended.send_modify(|n| *n = n.wrapping_add(1));
        self.log.delete_topic(name)?;
        drop(topics);
        Ok(())
    }

    /// Parses, validates and appends one produce request (blocking). Nothing is appended
    /// unless the whole body is valid.
    ///
    /// # Errors
    /// [`Error::BadRequest`] / [`Error::Record`] for bad input (nothing appended); log errors
    /// on append. An I/O error on a request spanning several partitions can leave the
    /// batches of earlier partitions appended.
    pub fn produce(&self, entry: &TopicEntry, body: &[u8]) -> Result<Vec<Landed>> {
        if entry.is_deleted() {
            return Err(Error::Log(strata_log::Error::UnknownTopic(
                entry.topic.name().to_owned(),
            )));
        }
        let wire = records::parse_body(body)?;
        let now = now_ms();
        let mut sticky = None;
        let mut validated = Vec::with_capacity(wire.len());
        for (i, r) in wire.into_iter().enumerate() {
            validated.push(r.validate(i, &entry.topic, &mut sticky, now)?);
        }
        let PreparedProduce {
            batches,
            slots,
            payload_bytes,
        } = records::encode(&validated, &entry.topic)?;
        drop(validated);
        let mut bases = Vec::with_capacity(batches.len());
        let mut written = Vec::with_capacity(batches.len());
        let mut count = 0u64;
        for (p, batch) in batches {
            count += u64::from(batch.record_count());
            // Write every partition's batch first (under `always` each one's fsync starts in
            // the background at once, so they overlap), then wait for all of them: the
            // response goes out only once the records are acknowledged (durable under
            // `always`).
            let partition = entry.topic.partition(p)?;
            let info = partition.append_unacked(batch);
            // Wake readers even when a later batch fails: earlier ones are visible.
            entry.appended.send_modify(|n| *n = n.wrapping_add(1));
            let info = info?;
            bases.push((p, info.base_offset));
            written.push((partition, info));
        }
        for (partition, info) in &written {
            partition.wait_ack(info)?;
        }
        entry
            .counters
            .records_in
            .fetch_add(count, Ordering::Relaxed);
        entry
            .counters
            .bytes_in
            .fetch_add(payload_bytes, Ordering::Relaxed);
        Ok(slots
            .into_iter()
            .map(|(slot, pos)| {
                let (partition, base) = bases[slot as usize];
                Landed {
                    partition,
                    offset: base + u64::from(pos),
                }
            })
            .collect())
    }

    /// The session of `group` on `topic`.
    pub fn session(&self, group: &str, topic: &str) -> SessionHandle {
        let mut sessions = self.lock_sessions();
        Arc::clone(
            sessions
                .entry((group.to_owned(), topic.to_owned()))
                .or_default(),
        )
    }

    /// Forgets the delivery positions of `group` (all topics, or one), so its next fetch
    /// starts from the committed offsets.
    pub fn forget_sessions(&self, group: &str, topic: Option<&str>) {
        self.lock_sessions()
            .retain(|(g, t), _| !(g == group && topic.is_none_or(|topic| topic == t)));
    }

    /// True when a session last used at `last` has expired.
    pub fn session_expired(&self, last: Option<Instant>) -> bool {
        last.is_none_or(|l| l.elapsed() > self.session_timeout)
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), SessionHandle>> {
        self.sessions.lock()
    }
}
