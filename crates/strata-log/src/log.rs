//! The log: a data directory of topics, consumer groups, and the clean-shutdown marker.
//!
//! Layout of a data directory:
//! ```text
//! <dir>/.clean-shutdown            present only between a clean close and the next open
//! <dir>/topics/<topic>/topic.json  name, partition count, config
//! <dir>/topics/<topic>/<p>/        segments of partition p, and its recovery-point file
//! <dir>/groups/<group>.json        committed offsets of a consumer group
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::time::Duration;

use crate::clock::now_ms;
use crate::config::TopicConfig;
use crate::error::{Error, IoContext, Result};
use crate::fsutil::{sync_dir, write_atomically};
use crate::groups::GroupStore;
use crate::maintenance::{Maintenance, tend};
use crate::names::validate_name;
// Always std's, never loom's: the log's bookkeeping is outside every loom model, and a loom
// lock panics outside `loom::model` (opening a log under `--cfg loom` must still work).
use crate::sync::unmodelled::{Mutex, RwLock};
use crate::topic::{TOPIC_FILE, Topic};
use std::sync::Arc;

const CLEAN_MARKER: &str = ".clean-shutdown";

/// Options of a [`Log`] as a whole.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// How often the background thread flushes `interval` topics and rolls aged segments;
    /// `None` runs no background thread (tests drive [`Log::run_maintenance`] themselves).
    pub maintenance_tick: Option<Duration>,
    /// How often retention runs.
    pub retention_check: Duration,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            maintenance_tick: Some(Duration::from_millis(50)),
            retention_check: Duration::from_secs(30),
        }
    }
}

/// How far a consumer group is behind on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLag {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: u32,
    /// The committed offset (the next record the group will read).
    pub committed: u64,
    /// The partition's end offset.
    pub end_offset: u64,
    /// `end_offset - committed`, 0 if the commit is ahead.
    pub lag: u64,
}

/// A data directory of topics and consumer groups.
#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    groups: GroupStore,
    options: LogOptions,
    maintenance: Mutex<Option<Maintenance>>,
    was_clean: bool,
    on_create: CreateHooks,
}

/// A function called with every topic [`Log::create_topic`] creates.
type CreateHook = Box<dyn Fn(&Topic) + Send + Sync>;

/// The hooks of [`Log::on_topic_created`].
#[derive(Default)]
struct CreateHooks(RwLock<Vec<(&'static str, CreateHook)>>);

impl std::fmt::Debug for CreateHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.read().len();
        write!(f, "{n} topic-creation hooks")
    }
}

impl Log {
    /// Opens (or creates) the log in `dir`, recovering every partition.
    ///
    /// # Errors
    /// I/O errors, unreadable metadata, and corruption that recovery must not cut away.
    pub fn open(dir: impl AsRef<Path>, options: LogOptions) -> Result<Arc<Log>> {
        let dir = dir.as_ref().to_owned();
        let topics_dir = dir.join("topics");
        fs::create_dir_all(&topics_dir).at(&topics_dir)?;
        let marker = dir.join(CLEAN_MARKER);
        let clean = marker.exists();
        let mut topics = BTreeMap::new();
        for entry in fs::read_dir(&topics_dir).at(&topics_dir)? {
            let entry = entry.at(&topics_dir)?;
            let path = entry.path();
            if !path.join(TOPIC_FILE).exists() {
                // A topic whose creation crashed before its metadata landed: never acknowledged.
                tracing::warn!(path = %path.display(), "removing topic directory without metadata");
                fs::remove_dir_all(&path).at(&path)?;
                continue;
            }
            let topic = Topic::open(&path, clean)?;
            topics.insert(topic.name().to_owned(), Arc::new(topic));
        }
        let groups = GroupStore::open(&dir.join("groups"))?;
        if clean {
            // From here on the directory is live: a crash must trigger a recovery scan.
            fs::remove_file(&marker).at(&marker)?;
            sync_dir(&dir)?;
        }
        let log = Arc::new(Log {
            dir,
            topics: RwLock::new(topics),
            groups,
            options: options.clone(),
            maintenance: Mutex::new(None),
            was_clean: clean,
            on_create: CreateHooks::default(),
        });
        if let Some(tick) = options.maintenance_tick {
            // Weak: the thread must not keep the log alive (dropping the log stops it).
            let weak: Weak<Log> = Arc::downgrade(&log);
            let m = Maintenance::start(tick, options.retention_check, move |now_ms, retention| {
                let Some(log) = weak.upgrade() else {
                    return false;
                };
                log.run_maintenance(now_ms, retention);
                true
            });
            *log.maintenance.lock() = Some(m);
        }
        Ok(log)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// True when the last shutdown was clean (no recovery scan was needed).
    pub fn was_clean(&self) -> bool {
        self.was_clean
    }

    /// Creates a topic.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::TopicExists`], [`Error::InvalidConfig`], I/O errors.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: u32,
        config: TopicConfig,
    ) -> Result<Arc<Topic>> {
        validate_name("topic", name)?;
        let mut topics = self.topics.write();
        if topics.contains_key(name) {
            return Err(Error::TopicExists(name.to_owned()));
        }
        let dir = self.dir.join("topics").join(name);
        if dir.exists() {
            fs::remove_dir_all(&dir).at(&dir)?;
        }
        let topic = match Topic::create(&dir, name, partitions, config, now_ms()) {
            Ok(t) => Arc::new(t),
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        sync_dir(&self.dir.join("topics"))?;
        for (_, hook) in self.on_create.0.read().iter() {
            hook(&topic);
        }
        topics.insert(name.to_owned(), Arc::clone(&topic));
        Ok(topic)
    }

    /// Calls `hook` with every topic created from now on, before the topic can be found
    /// (so before anything is appended to it); registering again under the same `name`
    /// replaces the hook. The batch layer sets the retention floor of new topics with it.
    /// `hook` runs under the log's topic lock: it must not call the log.
    pub fn on_topic_created(
        &self,
        name: &'static str,
        hook: impl Fn(&Topic) + Send + Sync + 'static,
    ) {
        let mut hooks = self.on_create.0.write();
        hooks.retain(|(n, _)| *n != name);
        hooks.push((name, Box::new(hook)));
    }

    /// A topic by name.
    ///
    /// # Errors
    /// [`Error::UnknownTopic`].
    pub fn topic(&self, name: &str) -> Result<Arc<Topic>> {
        let topics = self.topics.read();
        topics
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownTopic(name.to_owned()))
    }

    /// All topics, by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        let topics = self.topics.read();
        topics.values().cloned().collect()
    }

    /// Deletes a topic, its data and the groups' offsets for it. Readers that hold a fetch
    /// keep reading it; new calls get [`Error::UnknownTopic`].
    ///
    /// # Errors
    /// [`Error::UnknownTopic`], I/O errors.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        let topic = {
            let mut topics = self.topics.write();
            topics
                .remove(name)
                .ok_or_else(|| Error::UnknownTopic(name.to_owned()))?
        };
        topic.close()?;
        // Move it out of `topics/` first (one atomic rename), so a crash midway never leaves
        // a half-deleted topic that would be reopened.
        let trash = self.dir.join("trash");
        fs::create_dir_all(&trash).at(&trash)?;
        let doomed = trash.join(format!("{name}-{}", now_ms()));
        fs::rename(topic.dir(), &doomed).at(topic.dir())?;
        sync_dir(&self.dir.join("topics"))?;
        fs::remove_dir_all(&doomed).at(&doomed)?;
        self.groups.forget_topic(name)?;
        Ok(())
    }

    /// The consumer groups' committed offsets.
    pub fn groups(&self) -> &GroupStore {
        &self.groups
    }

    /// Lag per partition of every topic a group has committed offsets for.
    ///
    /// # Errors
    /// [`Error::UnknownGroup`].
    pub fn group_lag(&self, group: &str) -> Result<Vec<GroupLag>> {
        let offsets = self.groups.offsets(group)?;
        Ok(offsets
            .into_iter()
            .filter_map(|(topic, partition, committed)| {
                let t = self.topic(&topic).ok()?;
                let end = t.partition(partition).ok()?.end_offset();
                Some(GroupLag {
                    topic,
                    partition,
                    committed: committed.offset,
                    end_offset: end,
                    lag: end.saturating_sub(committed.offset),
                })
            })
            .collect())
    }

    /// One round of background work: flushes `interval` topics that are due, rolls aged
    /// segments, and (when `retention` is true) enforces retention at `now_ms`.
    pub fn run_maintenance(&self, now_ms: i64, retention: bool) {
        for topic in self.topics() {
            for p in topic.partitions() {
                if let Err(e) = tend(p, topic.config(), now_ms, retention) {
                    tracing::error!(topic = topic.name(), partition = p.id(), error = %e, "log maintenance failed");
                }
            }
        }
    }

    /// Stops the background thread, flushes every partition and leaves the clean-shutdown
    /// marker, so the next open trusts the indexes and skips the recovery scan.
    ///
    /// # Errors
    /// I/O errors; the marker is written only if every partition closed cleanly.
    pub fn close(&self) -> Result<()> {
        if let Some(m) = self.maintenance.lock().take() {
            m.stop();
        }
        for topic in self.topics() {
            topic.close()?;
        }
        write_atomically(&self.dir.join(CLEAN_MARKER), b"")?;
        Ok(())
    }

    /// The options the log was opened with.
    pub fn options(&self) -> &LogOptions {
        &self.options
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        if let Some(m) = self.maintenance.lock().take() {
            m.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn creation_hooks_see_each_new_topic_and_replace_each_other_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = LogOptions {
            maintenance_tick: None,
            ..LogOptions::default()
        };
        let log = Log::open(dir.path(), options).expect("open");
        let seen = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let (seen, weak) = (Arc::clone(&seen), Arc::downgrade(&log));
            log.on_topic_created("count", move |t| {
                assert_eq!(t.partition_count(), 3);
                // Not findable yet (the hook runs before the topic is published).
                let log = weak.upgrade().expect("log");
                assert!(log.topics.try_read().is_none(), "runs under the topic lock");
                seen.fetch_add(1, Ordering::SeqCst);
            });
        }
        log.create_topic("a", 3, TopicConfig::default()).expect("a");
        assert_eq!(
            seen.load(Ordering::SeqCst),
            1,
            "the second hook replaced the first"
        );
        log.create_topic("b", 3, TopicConfig::default()).expect("b");
        assert_eq!(seen.load(Ordering::SeqCst), 2);
        assert!(log.create_topic("a", 3, TopicConfig::default()).is_err());
        assert_eq!(
            seen.load(Ordering::SeqCst),
            2,
            "no hook for a topic not created"
        );
    }
}
