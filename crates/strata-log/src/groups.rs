//! Durable committed offsets of consumer groups.
//!
//! A consumer group records, per topic partition, the next offset it wants to read; after a
//! restart it resumes from there. [`GroupStore`] keeps every group in memory and one JSON file
//! per group on disk (`<dir>/<group>.json`). A commit rewrites that file whole with the
//! write-temp, fsync, rename, fsync-directory sequence, so after a crash a group file holds
//! either everything one commit wrote or everything the commit before it wrote, never a mix.
//!
//! The file format (version 1):
//!
//! ```json
//! {
//!   "version": 1,
//!   "offsets": [
//!     { "topic": "orders", "partition": 0, "offset": 42, "committed_at_ms": 1700000000000 }
//!   ]
//! }
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::error::{Error, IoContext, Result};
use crate::fsutil::sync_dir;
use crate::names::validate_name;
// Always std's, never loom's: this lock only guards file I/O and a map, which is outside the
// publication protocol loom checks, and a loom `Mutex` panics when used outside
// `loom::model`, which would break every test that opens a log under `--cfg loom`.
use crate::sync::unmodelled::Mutex;

/// The group file format this build writes and reads.
const FORMAT_VERSION: u32 = 1;

/// Suffix of a committed group file.
const GROUP_SUFFIX: &str = ".json";

/// Suffix of a commit in progress. `<group>.tmp` rather than `<group>.json.tmp`: a group name
/// may be 249 bytes, and 249 + `.json.tmp` would exceed the usual 255-byte file-name limit.
/// It cannot collide with a group file, which always ends in `.json`.
const TMP_SUFFIX: &str = ".tmp";

/// Committed offsets of one group, keyed by (topic, partition).
type GroupOffsets = BTreeMap<(String, u32), CommittedOffset>;

/// The durable committed offsets of every consumer group.
///
/// All methods take `&self` and are safe to call from many threads; commits are serialised.
#[derive(Debug)]
pub struct GroupStore {
    /// The directory holding one `<group>.json` per group.
    dir: PathBuf,
    /// Every group's offsets, always equal to what the group files hold.
    ///
    /// The map is only ever changed by single inserts or removals after the I/O they depend
    /// on has finished, so a panic while the lock was held cannot have left it half-updated:
    /// the lock's recovery from poisoning ([`crate::sync`]) is safe.
    groups: Mutex<BTreeMap<String, GroupOffsets>>,
}

/// A group's committed position in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    /// The next offset the group will read (Kafka's convention: last processed + 1).
    pub offset: u64,
    /// When the commit happened, in milliseconds since the Unix epoch.
    pub committed_at_ms: i64,
}

/// On-disk form of a group file.
#[derive(Serialize, Deserialize)]
struct GroupFile {
    version: u32,
    offsets: Vec<OffsetEntry>,
}

/// On-disk form of one committed offset.
#[derive(Serialize, Deserialize)]
struct OffsetEntry {
    topic: String,
    partition: u32,
    offset: u64,
    committed_at_ms: i64,
}

impl GroupStore {
    /// Opens the store in `dir` (normally `<data>/groups`), creating the directory if it is
    /// missing, and loads every group file in it.
    ///
    /// Leftover `*.tmp` files are commits that crashed before their rename; the group file
    /// next to them still holds the previous commit, so they are deleted unread. Files whose
    /// names are not `<valid group name>.json` are skipped with a warning.
    ///
    /// # Errors
    ///
    /// - [`Error::Io`] if the directory cannot be created or listed, or a file cannot be read
    ///   or a leftover `*.tmp` removed.
    /// - [`Error::Metadata`] naming the file if a group file is not valid JSON, has an
    ///   unsupported version, or lists a partition twice. The store refuses to open rather
    ///   than silently forget a group's position; move the file aside (the group then
    ///   restarts from its reset policy) or restore it from a backup.
    pub fn open(dir: &Path) -> Result<Self> {
        let existed = dir.is_dir();
        fs::create_dir_all(dir).at(dir)?;
        if !existed {
            // Without this, a crash could lose the new directory entry and with it every
            // group committed into it, despite each commit's own fsyncs.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }

        let mut groups = BTreeMap::new();
        for entry in fs::read_dir(dir).at(dir)? {
            let entry = entry.at(dir)?;
            let path = entry.path();
            let file_type = entry.file_type().at(&path)?;
            let file_name = path.file_name().and_then(|n| n.to_str());
            let Some(file_name) = file_name.filter(|_| file_type.is_file()) else {
                tracing::warn!(path = %path.display(), "skipping: not a group file");
                continue;
            };
            if file_name.ends_with(TMP_SUFFIX) {
                tracing::info!(path = %path.display(), "removing an interrupted group commit");
                fs::remove_file(&path).at(&path)?;
                continue;
            }
            let Some(group) = file_name.strip_suffix(GROUP_SUFFIX) else {
                tracing::warn!(path = %path.display(), "skipping: not a group file");
                continue;
            };
            if validate_name("group", group).is_err() {
                tracing::warn!(path = %path.display(), "skipping: not a valid group name");
                continue;
            }
            let offsets = read_group_file(&path)?;
            groups.insert(group.to_owned(), offsets);
        }
        // The removals above only need to be durable eventually: a `.tmp` that reappears after
        // a crash is removed again on the next open.

        Ok(Self {
            dir: dir.to_owned(),
            groups: Mutex::new(groups),
        })
    }

    /// Durably records `offsets` — `(topic, partition, next offset)` triples — for `group`,
    /// creating the group if it is new.
    ///
    /// All offsets of one call become durable together or not at all, and are visible to
    /// [`committed`](Self::committed) only once durable. If a partition appears more than
    /// once in `offsets`, the last one wins. An empty `offsets` still creates the group.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidName`] if `group` or a topic breaks the naming rule; nothing is
    ///   written.
    /// - [`Error::Io`] if writing, syncing or renaming the group file fails. The group's
    ///   previous offsets are then still in place, in memory and on disk. (The one exception
    ///   is a failed fsync of the directory after the rename: the new offsets are then
    ///   visible, but may not survive a crash.)
    pub fn commit(&self, group: &str, offsets: &[(&str, u32, u64)]) -> Result<()> {
        validate_name("group", group)?;
        for (topic, _, _) in offsets {
            validate_name("topic", topic)?;
        }
        let committed_at_ms = now_ms();

        // The lock is held across the file I/O: two commits to the same group must not share
        // the temp file, and must reach the disk in the order they reach memory.
        let mut groups = self.groups.lock();
        let mut updated = groups.get(group).cloned().unwrap_or_default();
        for &(topic, partition, offset) in offsets {
            updated.insert(
                (topic.to_owned(), partition),
                CommittedOffset {
                    offset,
                    committed_at_ms,
                },
            );
        }
        self.persist(&mut groups, group, updated)
    }

    /// The offset `group` last committed for `partition` of `topic`, if any.
    #[must_use]
    pub fn committed(&self, group: &str, topic: &str, partition: u32) -> Option<CommittedOffset> {
        self.groups
            .lock()
            .get(group)?
            .get(&(topic.to_owned(), partition))
            .copied()
    }

    /// The names of all groups, sorted.
    #[must_use]
    pub fn groups(&self) -> Vec<String> {
        self.groups.lock().keys().cloned().collect()
    }

    /// Every offset `group` has committed, as `(topic, partition, offset)`, sorted by topic
    /// then partition.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownGroup`] if the group has never committed (or was deleted).
    pub fn offsets(&self, group: &str) -> Result<Vec<(String, u32, CommittedOffset)>> {
        let groups = self.groups.lock();
        let offsets = groups
            .get(group)
            .ok_or_else(|| Error::UnknownGroup(group.to_owned()))?;
        Ok(offsets
            .iter()
            .map(|((topic, partition), committed)| (topic.clone(), *partition, *committed))
            .collect())
    }

    /// Deletes `group` and its file.
    ///
    /// # Errors
    ///
    /// - [`Error::UnknownGroup`] if there is no such group.
    /// - [`Error::Io`] if the file cannot be removed (the group is then kept) or the directory
    ///   cannot be synced afterwards (the group is then gone, but could reappear after a
    ///   crash).
    pub fn delete_group(&self, group: &str) -> Result<()> {
        let mut groups = self.groups.lock();
        if !groups.contains_key(group) {
            return Err(Error::UnknownGroup(group.to_owned()));
        }
        let path = self.group_path(group);
        fs::remove_file(&path).at(&path)?;
        // The file is gone from the namespace: memory follows it even if the sync below fails,
        // so that memory never shows a group that a plain reopen would not.
        groups.remove(group);
        sync_dir(&self.dir)
    }

    /// Drops the offsets of `topic` (one that has been deleted) from every group.
    ///
    /// Groups keep existing even if this leaves them without offsets. Each group's file is
    /// rewritten atomically, but not all groups at once; after an error, calling this again
    /// finishes the job.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if rewriting a group file fails; that group keeps its offsets of `topic`.
    pub fn forget_topic(&self, topic: &str) -> Result<()> {
        let mut groups = self.groups.lock();
        let affected: Vec<String> = groups
            .iter()
            .filter(|(_, offsets)| offsets.keys().any(|(t, _)| t == topic))
            .map(|(group, _)| group.clone())
            .collect();
        for group in affected {
            let mut updated = groups.get(&group).cloned().unwrap_or_default();
            updated.retain(|(t, _), _| t != topic);
            self.persist(&mut groups, &group, updated)?;
        }
        Ok(())
    }

    /// Makes `offsets` the durable state of `group`, then installs it in `groups`.
    fn persist(
        &self,
        groups: &mut BTreeMap<String, GroupOffsets>,
        group: &str,
        offsets: GroupOffsets,
    ) -> Result<()> {
        let path = self.group_path(group);
        let tmp = self.dir.join(format!("{group}{TMP_SUFFIX}"));
        let file = GroupFile {
            version: FORMAT_VERSION,
            offsets: offsets
                .iter()
                .map(|((topic, partition), committed)| OffsetEntry {
                    topic: topic.clone(),
                    partition: *partition,
                    offset: committed.offset,
                    committed_at_ms: committed.committed_at_ms,
                })
                .collect(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|source| Error::Metadata {
            path: path.clone(),
            source,
        })?;

        if let Err(err) = write_synced(&tmp, &bytes) {
            // Best effort: a leftover temp file is harmless (open removes it), so a failure
            // to clean it up must not hide the original error.
            let _ = fs::remove_file(&tmp);
            return Err(err);
        }
        if let Err(source) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            return Err(Error::Io { path, source });
        }
        // From here the new file is what a reopen would read, so memory must show it too,
        // even if the directory sync fails.
        groups.insert(group.to_owned(), offsets);
        sync_dir(&self.dir)
    }

    fn group_path(&self, group: &str) -> PathBuf {
        self.dir.join(format!("{group}{GROUP_SUFFIX}"))
    }
}

/// Reads and checks one group file.
fn read_group_file(path: &Path) -> Result<GroupOffsets> {
    let bytes = fs::read(path).at(path)?;
    let metadata_error = |source| Error::Metadata {
        path: path.to_owned(),
        source,
    };
    let file: GroupFile = serde_json::from_slice(&bytes).map_err(metadata_error)?;
    if file.version != FORMAT_VERSION {
        return Err(metadata_error(serde::de::Error::custom(format!(
            "unsupported group file version {} (this build reads version {FORMAT_VERSION}); \
             use a strata release that supports it",
            file.version
        ))));
    }
    let mut offsets = GroupOffsets::new();
    for entry in file.offsets {
        let key = (entry.topic, entry.partition);
        let committed = CommittedOffset {
            offset: entry.offset,
            committed_at_ms: entry.committed_at_ms,
        };
        if offsets.insert(key.clone(), committed).is_some() {
            // The writer never produces this, so the file was edited or damaged: refuse to
            // guess which of the two offsets is right.
            return Err(metadata_error(serde::de::Error::custom(format!(
                "partition {} of topic {:?} is listed twice",
                key.1, key.0
            ))));
        }
    }
    Ok(offsets)
}

/// Creates (or truncates) `path`, writes `bytes` and fsyncs the file.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).at(path)?;
    file.write_all(bytes).at(path)?;
    file.sync_all().at(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn store(dir: &tempfile::TempDir) -> GroupStore {
        GroupStore::open(&dir.path().join("groups")).expect("open group store")
    }

    fn offset_of(store: &GroupStore, group: &str, topic: &str, partition: u32) -> Option<u64> {
        store.committed(group, topic, partition).map(|c| c.offset)
    }

    #[test]
    fn open_creates_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store(&tmp);
        assert!(tmp.path().join("groups").is_dir());
        assert!(store.groups().is_empty());
    }

    #[test]
    fn commits_survive_a_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let before = {
            let store = store(&tmp);
            store
                .commit("billing", &[("orders", 0, 10), ("orders", 1, 20)])
                .unwrap();
            store.commit("billing", &[("orders", 1, 25)]).unwrap();
            store.commit("audit", &[("payments", 3, 7)]).unwrap();
            store.offsets("billing").unwrap()
        };

        let store = store(&tmp);
        assert_eq!(store.groups(), ["audit", "billing"]);
        assert_eq!(store.offsets("billing").unwrap(), before);
        assert_eq!(offset_of(&store, "billing", "orders", 0), Some(10));
        assert_eq!(offset_of(&store, "billing", "orders", 1), Some(25));
        assert_eq!(offset_of(&store, "audit", "payments", 3), Some(7));
        assert_eq!(offset_of(&store, "audit", "payments", 4), None);
        assert_eq!(offset_of(&store, "nobody", "payments", 3), None);
    }

    #[test]
    fn offsets_are_sorted_and_carry_the_commit_time() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store(&tmp);
        let before = now_ms();
        store
            .commit("g", &[("b", 1, 1), ("a", 2, 2), ("a", 0, 3)])
            .unwrap();
        let after = now_ms();

        let offsets = store.offsets("g").unwrap();
        let keys: Vec<(&str, u32)> = offsets.iter().map(|(t, p, _)| (t.as_str(), *p)).collect();
        assert_eq!(keys, [("a", 0), ("a", 2), ("b", 1)]);
        for (_, _, committed) in offsets {
            assert!((before..=after).contains(&committed.committed_at_ms));
        }
    }

    #[test]
    fn the_last_duplicate_in_one_commit_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store(&tmp);
        store.commit("g", &[("t", 0, 5), ("t", 0, 9)]).unwrap();
        assert_eq!(offset_of(&store, "g", "t", 0), Some(9));
    }

    #[test]
    fn the_file_has_the_documented_format() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store(&tmp);
        store.commit("g", &[("t", 2, 42)]).unwrap();
        let text = fs::read_to_string(tmp.path().join("groups/g.json")).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let at = store.committed("g", "t", 2).unwrap().committed_at_ms;
        assert_eq!(
            json,
            serde_json::json!({
                "version": 1,
                "offsets": [{ "topic": "t", "partition": 2, "offset": 42, "committed_at_ms": at }],
            })
        );
    }

    #[test]
    fn a_leftover_temp_file_from_a_crash_is_ignored_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("groups");
        {
            let store = store(&tmp);
            store.commit("g", &[("t", 0, 5)]).unwrap();
        }
        // A crash after writing the temp file but before the rename: a complete newer commit,
        // a torn one, and one for a group that never finished its first commit.
        fs::write(
            dir.join("g.tmp"),
            concat!(
                r#"{"version":1,"offsets":"#,
                r#"[{"topic":"t","partition":0,"offset":99,"committed_at_ms":0}]}"#,
            ),
        )
        .unwrap();
        fs::write(dir.join("torn.tmp"), r#"{"version":1,"offs"#).unwrap();
        fs::write(dir.join("new.tmp"), "").unwrap();

        let store = store(&tmp);
        assert_eq!(store.groups(), ["g"]);
        assert_eq!(offset_of(&store, "g", "t", 0), Some(5));
        assert!(!dir.join("g.tmp").exists());
        assert!(!dir.join("torn.tmp").exists());
        assert!(!dir.join("new.tmp").exists());
    }

    #[test]
    fn a_failed_commit_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("groups");
        let store = store(&tmp);
        store.commit("g", &[("t", 0, 5), ("t", 1, 6)]).unwrap();

        // A directory where the temp file must go makes the write fail (even as root, which
        // read-only permissions would not stop).
        fs::create_dir(dir.join("g.tmp")).unwrap();
        let err = store
            .commit("g", &[("t", 0, 50), ("t", 1, 60)])
            .unwrap_err();
        assert!(
            matches!(&err, Error::Io { path, .. } if path == &dir.join("g.tmp")),
            "{err:?}"
        );

        assert_eq!(offset_of(&store, "g", "t", 0), Some(5));
        assert_eq!(offset_of(&store, "g", "t", 1), Some(6));
        fs::remove_dir(dir.join("g.tmp")).unwrap();
        let reopened = GroupStore::open(&dir).unwrap();
        assert_eq!(reopened.offsets("g").unwrap(), store.offsets("g").unwrap());
    }

    #[test]
    fn unknown_groups_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store(&tmp);
        assert!(matches!(store.offsets("ghost"), Err(Error::UnknownGroup(g)) if g == "ghost"));
        assert!(matches!(store.delete_group("ghost"), Err(Error::UnknownGroup(g)) if g == "ghost"));
    }

    #[test]
    fn invalid_names_are_rejected_before_any_write() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store(&tmp);
        for bad in ["", ".", "..", "../escape", "a/b", "a b", &"x".repeat(250)] {
            assert!(
                matches!(
                    store.commit(bad, &[("t", 0, 1)]),
                    Err(Error::InvalidName { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            store.commit("g", &[("ok", 0, 1), ("bad/topic", 0, 1)]),
            Err(Error::InvalidName { .. })
        ));
        assert!(store.groups().is_empty());
        assert_eq!(fs::read_dir(tmp.path().join("groups")).unwrap().count(), 0);
        assert!(!tmp.path().join("escape.json").exists());
    }

    #[test]
    fn the_longest_valid_group_name_fits_in_a_file_name() {
        let tmp = tempfile::tempdir().unwrap();
        let name = "g".repeat(crate::names::MAX_NAME_LEN);
        {
            let store = store(&tmp);
            store.commit(&name, &[("t", 0, 1)]).unwrap();
        }
        assert_eq!(store(&tmp).groups(), [name]);
    }

    #[test]
    fn delete_group_removes_it_durably() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let store = store(&tmp);
            store.commit("keep", &[("t", 0, 1)]).unwrap();
            store.commit("drop", &[("t", 0, 2)]).unwrap();
            store.delete_group("drop").unwrap();
            assert_eq!(store.groups(), ["keep"]);
            assert_eq!(offset_of(&store, "drop", "t", 0), None);
        }
        let store = store(&tmp);
        assert_eq!(store.groups(), ["keep"]);
        assert!(!tmp.path().join("groups/drop.json").exists());
    }

    #[test]
    fn forget_topic_drops_it_from_every_group() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let store = store(&tmp);
            store
                .commit("a", &[("gone", 0, 1), ("gone", 1, 2), ("kept", 0, 3)])
                .unwrap();
            store.commit("b", &[("gone", 0, 4)]).unwrap();
            store.commit("c", &[("kept", 5, 6)]).unwrap();
            store.forget_topic("gone").unwrap();
            store.forget_topic("never-existed").unwrap();
        }
        let store = store(&tmp);
        assert_eq!(store.groups(), ["a", "b", "c"]);
        let a = store.offsets("a").unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].0.as_str(), a[0].1, a[0].2.offset), ("kept", 0, 3));
        assert!(store.offsets("b").unwrap().is_empty());
        assert_eq!(offset_of(&store, "c", "kept", 5), Some(6));
    }

    #[test]
    fn a_corrupt_group_file_fails_open_and_names_the_file() {
        let cases = [
            ("not json", "{\"version\": 1, \"offs".to_owned()),
            ("empty", String::new()),
            (
                "wrong shape",
                r#"{"version":1,"offsets":{"t":1}}"#.to_owned(),
            ),
            ("future version", r#"{"version":2,"offsets":[]}"#.to_owned()),
            (
                "duplicate partition",
                r#"{"version":1,"offsets":[
                    {"topic":"t","partition":0,"offset":1,"committed_at_ms":0},
                    {"topic":"t","partition":0,"offset":2,"committed_at_ms":0}]}"#
                    .to_owned(),
            ),
        ];
        for (what, contents) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("groups");
            fs::create_dir(&dir).unwrap();
            fs::write(dir.join("ok.json"), r#"{"version":1,"offsets":[]}"#).unwrap();
            fs::write(dir.join("broken.json"), contents).unwrap();
            match GroupStore::open(&dir) {
                Err(Error::Metadata { path, .. }) => {
                    assert_eq!(path, dir.join("broken.json"), "{what}");
                }
                other => panic!("{what}: expected Error::Metadata, got {other:?}"),
            }
        }
    }

    #[test]
    fn stray_files_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("groups");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("README"), "not a group").unwrap();
        fs::write(dir.join("bad name.json"), "not even json").unwrap();
        fs::create_dir(dir.join("sub.json")).unwrap();
        let store = GroupStore::open(&dir).unwrap();
        assert!(store.groups().is_empty());
    }

    /// An operation in the model test below.
    #[derive(Debug, Clone)]
    enum Op {
        Commit(usize, Vec<(usize, u32, u64)>),
        Delete(usize),
        Forget(usize),
        Reopen,
    }

    const GROUPS: [&str; 3] = ["g0", "g1", "g2"];
    const TOPICS: [&str; 3] = ["t0", "t1", "t2"];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (
                0..GROUPS.len(),
                proptest::collection::vec((0..TOPICS.len(), 0..3u32, any::<u64>()), 0..4),
            )
                .prop_map(|(g, offsets)| Op::Commit(g, offsets)),
            1 => (0..GROUPS.len()).prop_map(Op::Delete),
            1 => (0..TOPICS.len()).prop_map(Op::Forget),
            1 => Just(Op::Reopen),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The store, reopened at any point, agrees with a plain map of maps.
        #[test]
        fn behaves_like_a_map_of_maps(ops in proptest::collection::vec(op(), 1..24)) {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("groups");
            let mut store = GroupStore::open(&dir).unwrap();
            let mut model: BTreeMap<String, BTreeMap<(String, u32), u64>> = BTreeMap::new();

            for op in ops {
                match op {
                    Op::Commit(g, offsets) => {
                        let offsets: Vec<(&str, u32, u64)> =
                            offsets.iter().map(|&(t, p, o)| (TOPICS[t], p, o)).collect();
                        store.commit(GROUPS[g], &offsets).unwrap();
                        let group = model.entry(GROUPS[g].to_owned()).or_default();
                        for (t, p, o) in offsets {
                            group.insert((t.to_owned(), p), o);
                        }
                    }
                    Op::Delete(g) => {
                        let result = store.delete_group(GROUPS[g]);
                        prop_assert_eq!(result.is_ok(), model.remove(GROUPS[g]).is_some());
                    }
                    Op::Forget(t) => {
                        store.forget_topic(TOPICS[t]).unwrap();
                        for group in model.values_mut() {
                            group.retain(|(topic, _), _| topic != TOPICS[t]);
                        }
                    }
                    Op::Reopen => store = GroupStore::open(&dir).unwrap(),
                }

                prop_assert_eq!(store.groups(), model.keys().cloned().collect::<Vec<_>>());
                for (group, expected) in &model {
                    let actual: BTreeMap<(String, u32), u64> = store
                        .offsets(group)
                        .unwrap()
                        .into_iter()
                        .map(|(t, p, c)| ((t, p), c.offset))
                        .collect();
                    prop_assert_eq!(&actual, expected);
                }
            }
        }
    }
}
