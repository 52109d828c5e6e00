//! The lake's directory layout, and the check that it holds exactly what the manifest says.
//!
//! `<lake>/<topic>/date=YYYY-MM-DD/hour=HH/p<partition>-<segment base offset, 20 digits>.parquet`
//! (Hive layout by event time, so engines prune by date and hour), plus the topic's
//! `_manifest.json`. Names that start with `.` or `_` are invisible to Hive-style readers
//! (pyarrow, Spark), and only `*.parquet` is globbed by DuckDB, so temp files never show.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::manifest::{MANIFEST_FILE, Manifest};

/// The name of the file holding partition `p`'s rows of the segment at `base` for one hour.
pub fn file_name(partition: u32, base_offset: u64) -> String {
    format!("p{partition}-{base_offset:020}.parquet")
}

/// The temporary name a file is written under before its rename.
pub(crate) fn temp_name(partition: u32, base_offset: u64) -> String {
    format!(".{}.tmp", file_name(partition, base_offset))
}

fn is_archiver_file(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('p') else {
        return false;
    };
    let Some(rest) = rest.strip_suffix(".parquet") else {
        return false;
    };
    let Some((p, base)) = rest.split_once('-') else {
        return false;
    };
    !p.is_empty()
        && p.bytes().all(|b| b.is_ascii_digit())
        && base.len() == 20
        && base.bytes().all(|b| b.is_ascii_digit())
}

fn is_date_dir(name: &str) -> bool {
    let Some(d) = name.strip_prefix("date=") else {
        return false;
    };
    let b = d.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn is_hour_dir(name: &str) -> bool {
    name.strip_prefix("hour=")
        .is_some_and(|h| h.len() == 2 && h.bytes().all(|b| b.is_ascii_digit()))
}

/// A file of the lake that does not belong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A file or directory the archiver did not write.
    Foreign(PathBuf),
    /// A file the manifest lists that is missing or has the wrong size.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Foreign(p) => write!(f, "{}: not written by strata", p.display()),
            Problem::Corrupt { path, reason } => write!(f, "{}: {reason}", path.display()),
        }
    }
}

/// What a topic's lake directory holds, compared with its manifest.
#[derive(Debug, Default, Clone)]
pub struct LakeScan {
    /// Files the manifest lists and that look right (path, partition).
    pub listed: Vec<PathBuf>,
    /// Files an interrupted run left behind (archiver names not in the manifest, temp files):
    /// the next archive run rewrites or deletes them.
    pub leftovers: Vec<PathBuf>,
    /// Foreign and corrupt files.
    pub problems: Vec<Problem>,
}

/// Scans `<lake>/<topic>` against `manifest` (sizes only; reading a file verifies the rest).
///
/// # Errors
/// I/O errors listing directories.
pub fn scan(lake: &Path, topic: &str, manifest: Option<&Manifest>) -> Result<LakeScan> {
    let root = lake.join(topic);
    let mut scan = LakeScan::default();
    let mut expected: HashMap<PathBuf, u64> = manifest
        .map(|m| {
            m.files()
                .map(|(_, f)| (root.join(&f.path), f.bytes))
                .collect()
        })
        .unwrap_or_default();
    if !root.exists() {
        for path in expected.into_keys() {
            scan.problems.push(Problem::Corrupt {
                path,
                reason: "listed in the manifest but missing".into(),
            });
        }
        return Ok(scan);
    }
    for entry in sorted_entries(&root)? {
        let (path, name, is_dir) = entry;
        if name == MANIFEST_FILE {
            continue;
        }
        if name == format!("{MANIFEST_FILE}.tmp") {
            scan.leftovers.push(path);
            continue;
        }
        if !is_dir || !is_date_dir(&name) {
            scan.problems.push(Problem::Foreign(path));
            continue;
        }
        for (hour_path, hour_name, hour_is_dir) in sorted_entries(&path)? {
            if !hour_is_dir || !is_hour_dir(&hour_name) {
                scan.problems.push(Problem::Foreign(hour_path));
                continue;
            }
            for (file, file_name, file_is_dir) in sorted_entries(&hour_path)? {
                if file_is_dir {
                    scan.problems.push(Problem::Foreign(file));
                } else if let Some(bytes) = expected.remove(&file) {
                    let actual = std::fs::metadata(&file).at(&file)?.len();
                    if actual == bytes {
                        scan.listed.push(file);
                    } else {
                        scan.problems.push(Problem::Corrupt {
                            path: file,
                            reason: format!(
                                "{actual} bytes, but the manifest recorded {bytes} when it was committed"
                            ),
                        });
                    }
                } else if is_archiver_file(&file_name)
                    || (file_name.starts_with(".p") && file_name.ends_with(".parquet.tmp"))
                {
                    scan.leftovers.push(file);
                } else {
                    scan.problems.push(Problem::Foreign(file));
                }
            }
        }
    }
    let mut missing: Vec<PathBuf> = expected.into_keys().collect();
    missing.sort();
    for path in missing {
        scan.problems.push(Problem::Corrupt {
            path,
            reason: "listed in the manifest but missing".into(),
        });
    }
    Ok(scan)
}

fn sorted_entries(dir: &Path) -> Result<Vec<(PathBuf, String, bool)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let is_dir = entry.file_type().at(entry.path())?.is_dir();
        out.push((
            entry.path(),
            entry.file_name().to_string_lossy().into_owned(),
            is_dir,
        ));
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archiver_names_are_recognised_and_others_are_not() {
        assert!(is_archiver_file(&file_name(3, 4711)));
        assert_eq!(file_name(3, 4711), "p3-00000000000000004711.parquet");
        assert!(!is_archiver_file("p3-4711.parquet"));
        assert!(!is_archiver_file("part-0.parquet"));
        assert!(is_date_dir("date=2024-01-31"));
        assert!(!is_date_dir("date=2024-1-31"));
        assert!(is_hour_dir("hour=07"));
        assert!(!is_hour_dir("hour=7"));
    }
}
