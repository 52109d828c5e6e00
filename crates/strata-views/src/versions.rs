//! View versions and aliases (Kappa): the name a user gave a view is its alias; a replay adds
//! versions, each a view of its own (`<alias>_v2`, … or a name of the user's choosing), and
//! the alias names one of them, its current version. Readers ask `Engine::resolve` which
//! view answers for a name; promoting switches that answer in one step under the catalog lock,
//! and promoting an older version back is an instant rollback, because old versions keep
//! running until they are dropped.
//!
//! A view that was never replayed has no alias entry and answers for itself. Versions and
//! aliases are kept in the engine's catalog file, so they survive restarts with the views.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::replay_jobs::{ReplayRecord, ReplayStatus};
use crate::start::StartAt;
use strata_engine::error::{Error, NameKind, Result};

/// The versions part of the engine's catalog.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct VersionCatalog {
    /// Aliases by name.
    #[serde(default)]
    pub aliases: BTreeMap<String, Alias>,
    /// Replays by id, finished ones included.
    #[serde(default)]
    pub replays: BTreeMap<u64, ReplayRecord>,
    /// The id the next replay gets.
    #[serde(default)]
    pub next_replay: u64,
}

/// An alias: the versions of one view and which of them answers for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// The view name of the current version.
    pub current: String,
    /// Every version still kept, oldest first.
    pub versions: Vec<Version>,
}

/// One version of an alias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// 1 for the view as first created, then 2, 3, …
    pub number: u32,
    /// The view that is this version.
    pub view: String,
    /// When it was made (ms since the epoch; 0 for the first version, made before any alias).
    pub created_ms: i64,
    /// Where it started reading its source when it had no checkpoint yet.
    #[serde(default)]
    pub start: StartAt,
}

/// The versions of a view, as [`Engine::versions`](crate::engine::Engine::versions) reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionsInfo {
    /// The alias (or the view's own name when it was never replayed).
    pub alias: String,
    /// The view name of the current version.
    pub current: String,
    /// Every version, oldest first.
    pub versions: Vec<Version>,
}

/// What a promotion did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promotion {
    /// The alias.
    pub alias: String,
    /// The version that answered before.
    pub from: String,
    /// The version that answers now.
    pub to: String,
}

impl VersionCatalog {
    /// The view answering for `name` (lower-cased): an alias's current version, or `name`
    /// itself when it is a view in `views` and no alias.
    pub fn resolve<V>(&self, name: &str, views: &BTreeMap<String, V>) -> Option<String> {
        if let Some(alias) = self.aliases.get(name) {
            return Some(alias.current.clone());
        }
        views.contains_key(name).then(|| name.to_owned())
    }

    /// The alias that has `view` among its versions.
    pub fn alias_of(&self, view: &str) -> Option<&str> {
        self.aliases
            .iter()
            .find(|(_, a)| a.versions.iter().any(|v| v.view == view))
            .map(|(name, _)| name.as_str())
    }

    /// The version of `alias` that `spec` names: its view name, its number (`2`) or `v2`.
    ///
    /// # Errors
    /// [`Error::Unknown`] when the alias or the version does not exist.
    pub fn version(&self, alias: &str, spec: &str) -> Result<&Version> {
        let entry = self.aliases.get(alias).ok_or_else(|| Error::Unknown {
            kind: NameKind::View,
            name: alias.to_owned(),
        })?;
        let spec = spec.to_lowercase();
        let number = spec.strip_prefix('v').unwrap_or(&spec).parse::<u32>().ok();
        entry
            .versions
            .iter()
            .find(|v| v.view == spec || Some(v.number) == number)
            .ok_or_else(|| {
                Error::plan(format!(
                    "{alias:?} has no version {spec:?}; its versions are {} (name a version by its view name or number)",
                    entry
                        .versions
                        .iter()
                        .map(|v| format!("{} (v{})", v.view, v.number))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// Makes the version `spec` of `alias` its current one.
    ///
    /// # Errors
    /// As [`VersionCatalog::version`].
    pub fn promote(&mut self, alias: &str, spec: &str) -> Result<Promotion> {
        let to = self.version(alias, spec)?.view.clone();
        let entry = self.aliases.get_mut(alias).ok_or_else(|| Error::Unknown {
            kind: NameKind::View,
            name: alias.to_owned(),
        })?;
        let from = std::mem::replace(&mut entry.current, to.clone());
        Ok(Promotion {
            alias: alias.to_owned(),
            from,
            to,
        })
    }

    /// Adds `view` as the next version of `alias`; an alias that does not exist yet is made
    /// with `alias` itself (the view as first created) as version 1 and current. Returns the
    /// new version's number.
    pub fn add_version(&mut self, alias: &str, view: &str, start: StartAt, now_ms: i64) -> u32 {
        let entry = self
            .aliases
            .entry(alias.to_owned())
            .or_insert_with(|| Alias {
                current: alias.to_owned(),
                versions: vec![Version {
                    number: 1,
                    view: alias.to_owned(),
                    created_ms: 0,
                    start: StartAt::Beginning,
                }],
            });
        let number = entry.versions.iter().map(|v| v.number).max().unwrap_or(0) + 1;
        entry.versions.push(Version {
            number,
            view: view.to_owned(),
            created_ms: now_ms,
            start,
        });
        number
    }

    /// The number the next version of `alias` gets.
    pub fn next_number(&self, alias: &str) -> u32 {
        self.aliases
            .get(alias)
            .and_then(|a| a.versions.iter().map(|v| v.number).max())
            .unwrap_or(1)
            + 1
    }

    /// The views that dropping `name` deletes: every version of an alias, or the one view.
    ///
    /// # Errors
    /// [`Error::Conflict`] when `name` is the current version of an alias it is not the name of.
    pub fn drop_targets(&self, name: &str) -> Result<Vec<String>> {
        if let Some(alias) = self.aliases.get(name) {
            return Ok(alias.versions.iter().map(|v| v.view.clone()).collect());
        }
        if let Some(alias) = self.alias_of(name)
            && self.aliases.get(alias).is_some_and(|a| a.current == name)
        {
            return Err(Error::Conflict(format!(
                "{name:?} is the current version of {alias:?}, so queries on {alias:?} read it; promote another version first (strata view promote {alias} VERSION), or drop {alias:?} with all its versions"
            )));
        }
        Ok(vec![name.to_owned()])
    }

    /// Forgets `name` after it was dropped: an alias with its versions, or one version.
    /// An alias left with only the view that bears its name is no alias any more.
    pub fn forget(&mut self, name: &str) {
        if self.aliases.remove(name).is_some() {
            return;
        }
        let Some(alias) = self.alias_of(name).map(str::to_owned) else {
            return;
        };
        if let Some(entry) = self.aliases.get_mut(&alias) {
            entry.versions.retain(|v| v.view != name);
            if entry.versions.len() == 1 && entry.versions[0].view == alias {
                self.aliases.remove(&alias);
            }
        }
    }

    /// Removes `view` from `alias`'s versions and cancels an unfinished replay into it.
    pub fn forget_version(&mut self, alias: &str, view: &str) {
        if let Some(entry) = self.aliases.get_mut(alias) {
            entry.versions.retain(|v| v.view != view);
            if entry.versions.len() == 1 && entry.versions[0].view == alias {
                self.aliases.remove(alias);
            }
        }
        cancel_replays_of(self, |r| r.version() == Some(view));
    }

    /// Forgets `name` (an alias or a version) after its views were dropped, cancelling the
    /// unfinished replays into them; false when `name` was neither (nothing changed).
    pub fn forget_dropped(&mut self, name: &str) -> bool {
        let was_alias = self.aliases.contains_key(name);
        let known = was_alias || self.alias_of(name).is_some();
        if !known {
            return false;
        }
        self.forget(name);
        cancel_replays_of(self, |r| {
            r.version() == Some(name) || (was_alias && r.alias() == Some(name))
        });
        true
    }

    /// Where `view` starts reading when it has no checkpoint: where its replay said, or the
    /// beginning.
    pub fn start_of(&self, view: &str) -> StartAt {
        self.aliases
            .values()
            .flat_map(|a| a.versions.iter())
            .find(|v| v.view == view)
            .map(|v| v.start.clone())
            .unwrap_or_default()
    }
}

/// Marks the unfinished replays that `which` picks as cancelled.
fn cancel_replays_of(versions: &mut VersionCatalog, which: impl Fn(&ReplayRecord) -> bool) {
    for r in versions.replays.values_mut() {
        if r.status.is_active() && which(r) {
            r.status = ReplayStatus::Cancelled;
            r.finished_ms = Some(strata_log::now_ms());
            r.message = Some("its version was dropped".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn views(names: &[&str]) -> BTreeMap<String, ()> {
        names.iter().map(|n| ((*n).to_owned(), ())).collect()
    }

    #[test]
    fn a_plain_view_resolves_to_itself_and_an_alias_to_its_current_version() {
        let mut c = VersionCatalog::default();
        let v = views(&["counts", "counts_v2"]);
        assert_eq!(c.resolve("counts", &v).as_deref(), Some("counts"));
        assert_eq!(c.resolve("nope", &v), None);
        assert_eq!(c.next_number("counts"), 2);
        assert_eq!(
            c.add_version("counts", "counts_v2", StartAt::Beginning, 7),
            2
        );
        assert_eq!(c.resolve("counts", &v).as_deref(), Some("counts"));
        let p = c.promote("counts", "v2").unwrap();
        assert_eq!((p.from.as_str(), p.to.as_str()), ("counts", "counts_v2"));
        assert_eq!(c.resolve("counts", &v).as_deref(), Some("counts_v2"));
        // Rollback by number, and by view name.
        c.promote("counts", "1").unwrap();
        assert_eq!(c.resolve("counts", &v).as_deref(), Some("counts"));
        c.promote("counts", "COUNTS_V2").unwrap();
        assert_eq!(c.resolve("counts", &v).as_deref(), Some("counts_v2"));
        assert!(
            c.promote("counts", "v9")
                .unwrap_err()
                .to_string()
                .contains("counts_v2 (v2)")
        );
        assert_eq!(c.next_number("counts"), 3);
    }

    #[test]
    fn dropping_follows_aliases_and_refuses_the_current_version() {
        let mut c = VersionCatalog::default();
        c.add_version("counts", "counts_v2", StartAt::Beginning, 7);
        c.add_version("counts", "fixed", StartAt::Time(5), 8);
        c.promote("counts", "fixed").unwrap();
        assert_eq!(
            c.drop_targets("counts").unwrap(),
            vec!["counts", "counts_v2", "fixed"]
        );
        let e = c.drop_targets("fixed").unwrap_err();
        assert!(matches!(e, Error::Conflict(_)), "{e}");
        assert!(e.to_string().contains("promote another version first"));
        assert_eq!(c.drop_targets("counts_v2").unwrap(), vec!["counts_v2"]);
        c.forget("counts_v2");
        assert_eq!(c.alias_of("counts_v2"), None);
        assert_eq!(c.alias_of("fixed"), Some("counts"));
        // Back to version 1 and drop the other: no alias is left.
        c.promote("counts", "1").unwrap();
        c.forget("fixed");
        assert!(c.aliases.is_empty());
        c.add_version("x", "x_v2", StartAt::Beginning, 1);
        c.forget("x");
        assert!(c.aliases.is_empty());
    }

    #[test]
    fn the_catalog_round_trips_through_json_and_reads_old_catalogs() {
        let mut c = VersionCatalog::default();
        c.add_version("a", "a_v2", StartAt::Offsets(vec![(0, 5)]), 3);
        let text = serde_json::to_string(&c).unwrap();
        let back: VersionCatalog = serde_json::from_str(&text).unwrap();
        assert_eq!(back.aliases, c.aliases);
        let empty: VersionCatalog = serde_json::from_str("{}").unwrap();
        assert!(empty.aliases.is_empty() && empty.replays.is_empty());
    }
}
