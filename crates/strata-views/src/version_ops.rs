//! The view manager's operations on versions and aliases: which view answers for a name,
//! the versions of an alias, promoting one (an atomic switch, or a rollback) and dropping one.

use crate::catalog::CatalogFile;
use crate::engine::Engine;
use crate::replay_jobs::ReplayStatus;
use crate::start::StartAt;
use crate::versions::{Promotion, Version, VersionsInfo};
use strata_engine::error::{Error, NameKind, Result};

impl Engine {
    /// The view that answers for `name`: an alias's current version, a plain view itself;
    /// `None` for a name that is neither. Resolve once per answer, then read that view only,
    /// so that one answer never mixes two versions.
    pub fn resolve(&self, name: &str) -> Option<String> {
        let name = name.to_lowercase();
        let catalog = self.catalog.lock();
        catalog.versions.resolve(&name, &catalog.views)
    }

    /// The versions of a view or alias (one version for a view that was never replayed).
    ///
    /// # Errors
    /// [`Error::Unknown`] for a name that is neither.
    pub fn versions(&self, name: &str) -> Result<VersionsInfo> {
        let name = name.to_lowercase();
        let catalog = self.catalog.lock();
        let alias = match catalog.versions.aliases.get(&name) {
            Some(_) => name,
            None => match catalog.versions.alias_of(&name) {
                Some(a) => a.to_owned(),
                None if catalog.views.contains_key(&name) => {
                    return Ok(VersionsInfo {
                        alias: name.clone(),
                        current: name.clone(),
                        versions: vec![Version {
                            number: 1,
                            view: name,
                            created_ms: 0,
                            start: StartAt::Beginning,
                        }],
                    });
                }
                None => {
                    return Err(Error::Unknown {
                        kind: NameKind::View,
                        name,
                    });
                }
            },
        };
        let entry = &catalog.versions.aliases[&alias];
        Ok(VersionsInfo {
            alias: alias.clone(),
            current: entry.current.clone(),
            versions: entry.versions.clone(),
        })
    }

    /// Makes `version` (a view name, a number or `vN`) the one answering for `alias`, in one
    /// step: a reader resolves either the old or the new version, never half of each.
    ///
    /// # Errors
    /// [`Error::Unknown`] for an unknown alias or version; [`Error::Conflict`] when the
    /// version is not running (it failed or could not resume); catalog write errors.
    pub fn promote(&self, alias: &str, version: &str) -> Result<Promotion> {
        let alias = alias.to_lowercase();
        let view = {
            let catalog = self.catalog.lock();
            if !catalog.versions.aliases.contains_key(&alias) {
                return Err(self.no_alias(&catalog, &alias));
            }
            catalog.versions.version(&alias, version)?.view.clone()
        };
        if let Some(why) = self.failure(&view) {
            return Err(Error::Conflict(format!(
                "version {view:?} is not running ({why}); drop it, or replay {alias:?} again"
            )));
        }
        self.stats(&view)?;
        let mut catalog = self.catalog.lock();
        let mut next = catalog.versions.clone();
        let promotion = next.promote(&alias, version)?;
        // A replay still waiting to promote this version has nothing left to do.
        for r in next.replays.values_mut() {
            if r.version() == Some(promotion.to.as_str()) && r.status.is_active() {
                r.status = ReplayStatus::Promoted;
                r.finished_ms = Some(strata_log::now_ms());
            }
        }
        let previous = std::mem::replace(&mut catalog.versions, next);
        if let Err(e) = self.save(&catalog) {
            catalog.versions = previous;
            return Err(e);
        }
        tracing::info!(alias = %promotion.alias, from = %promotion.from, to = %promotion.to, "alias switched");
        Ok(promotion)
    }

    /// Stops and deletes one version of `alias` (not its current one), with its state and
    /// output topics. An unfinished replay into it is cancelled.
    ///
    /// # Errors
    /// [`Error::Unknown`] for an unknown alias or version; [`Error::Conflict`] for the current
    /// version; log errors.
    pub fn drop_version(&self, alias: &str, version: &str) -> Result<String> {
        let alias = alias.to_lowercase();
        let view = {
            let catalog = self.catalog.lock();
            if !catalog.versions.aliases.contains_key(&alias) {
                return Err(self.no_alias(&catalog, &alias));
            }
            let view = catalog.versions.version(&alias, version)?.view.clone();
            if catalog.versions.aliases[&alias].current == view {
                return Err(Error::Conflict(format!(
                    "{view:?} is the current version of {alias:?}: queries on {alias:?} read it, so it cannot be dropped; promote another version first (strata view promote {alias} VERSION)"
                )));
            }
            view
        };
        self.refuse_if_read(std::slice::from_ref(&view))?;
        self.drop_one_view(&view)?;
        let mut catalog = self.catalog.lock();
        catalog.versions.forget_version(&alias, &view);
        self.save(&catalog)?;
        Ok(view)
    }

    fn no_alias(&self, catalog: &CatalogFile, name: &str) -> Error {
        if catalog.views.contains_key(name) {
            Error::Conflict(format!(
                "{name:?} has a single version (it was never replayed); make another with strata replay view {name}"
            ))
        } else if let Some(alias) = catalog.versions.alias_of(name) {
            Error::plan(format!(
                "{name:?} is a version of {alias:?}: name the alias, e.g. strata view promote {alias} {name}"
            ))
        } else {
            Error::Unknown {
                kind: NameKind::View,
                name: name.to_owned(),
            }
        }
    }
}
