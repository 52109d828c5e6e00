//! The view manager's catalog file: the declared sources, the views' plans, and the versions
//! and replays, in `<dir>/catalog.json`, replaced atomically (write-temp, fsync, rename).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::versions::VersionCatalog;
use strata_engine::error::{Error, Result};
use strata_engine::sql::{Catalog, view_as_source};
use strata_sql::plan::{SourceDef, ViewPlan};

const CATALOG_FILE: &str = "catalog.json";

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct CatalogFile {
    version: u32,
    pub(crate) sources: BTreeMap<String, SourceDef>,
    pub(crate) views: BTreeMap<String, ViewPlan>,
    /// Aliases with their versions, and replays (absent from catalogs written before them).
    #[serde(default)]
    pub(crate) versions: VersionCatalog,
    /// Views whose query `TERMINATE` stopped: they stay stopped across restarts until dropped.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub(crate) terminated: std::collections::BTreeSet<String>,
    /// Running `INSERT INTO` queries by id (absent from catalogs written before them).
    #[serde(default)]
    pub(crate) queries: BTreeMap<String, InsertQuery>,
    /// The number of the next `INSERT INTO` query's id.
    #[serde(default)]
    pub(crate) next_query: u64,
}

impl Catalog for CatalogFile {
    fn source(&self, name: &str) -> Option<SourceDef> {
        let name = name.to_lowercase();
        if let Some(source) = self.sources.get(&name) {
            return Some(source.clone());
        }
        // A view, or an alias: its current version (the reader keeps reading that version).
        let view = self.versions.resolve(&name, &self.views)?;
        let mut source = self.views.get(&view).and_then(view_as_source)?;
        source.name = name;
        Some(source)
    }
}

/// Reads the catalog in `dir` (an empty one when there is none yet).
///
/// # Errors
/// [`Error::Checkpoint`] for an unreadable directory or catalog.
pub(crate) fn load(dir: &Path) -> Result<CatalogFile> {
    std::fs::create_dir_all(dir).map_err(|e| catalog_error(dir, e))?;
    let path = dir.join(CATALOG_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Checkpoint {
            path: path.clone(),
            message: format!("unreadable catalog: {e}"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CatalogFile {
            version: 1,
            ..CatalogFile::default()
        }),
        Err(e) => Err(catalog_error(&path, e)),
    }
}

/// Replaces the catalog in `dir` atomically.
///
/// # Errors
/// [`Error::Checkpoint`] when it cannot be encoded; log errors when it cannot be written.
pub(crate) fn save(dir: &Path, catalog: &CatalogFile) -> Result<()> {
    let path = dir.join(CATALOG_FILE);
    let bytes = serde_json::to_vec_pretty(catalog).map_err(|e| Error::Checkpoint {
        path: path.clone(),
        message: e.to_string(),
    })?;
    Ok(strata_log::fsutil::write_atomically(&path, &bytes)?)
}

fn catalog_error(path: &Path, e: std::io::Error) -> Error {
    Error::Checkpoint {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// An `INSERT INTO` query as the catalog keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct InsertQuery {
    /// The stream (or sink table) it writes into.
    pub(crate) target: String,
    /// Its plan; the name is the query's id, the sink the target's topic.
    pub(crate) plan: ViewPlan,
}
