//! The event-time → Hive partition mapping, and the log's crash-safety helpers (atomic
//! replace, directory fsync) under this crate's error type.

use std::path::Path;

use crate::error::Result;

/// fsyncs a directory (the log's helper, with this crate's error type).
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    Ok(strata_log::fsutil::sync_dir(dir)?)
}

/// Replaces `path` with `bytes` atomically and durably (the log's helper, with this crate's
/// error type).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(strata_log::fsutil::write_atomically(path, bytes)?)
}

pub(crate) use strata_log::now_ms;

const HOUR_MS: i64 = 3_600_000;

/// The hour (since the epoch) holding event time `ts` (ms, UTC); negative before 1970.
pub(crate) fn hour_of(ts: i64) -> i64 {
    ts.div_euclid(HOUR_MS)
}

/// The Hive partition directory of an hour: `date=YYYY-MM-DD/hour=HH`.
pub(crate) fn hive_dir(hour: i64) -> String {
    let days = hour.div_euclid(24);
    let (y, m, d) = civil_from_days(days);
    format!("date={y:04}-{m:02}-{d:02}/hour={:02}", hour.rem_euclid(24))
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), so that no date library is needed for one conversion.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn hive_dirs_follow_utc_calendar_dates() {
        assert_eq!(hive_dir(hour_of(0)), "date=1970-01-01/hour=00");
        assert_eq!(hive_dir(hour_of(-1)), "date=1969-12-31/hour=23");
        // 2024-02-29T13:05:00Z, a leap day.
        assert_eq!(
            hive_dir(hour_of(1_709_211_900_000)),
            "date=2024-02-29/hour=13"
        );
        // 2000-03-01T00:00:00Z.
        assert_eq!(
            hive_dir(hour_of(951_868_800_000)),
            "date=2000-03-01/hour=00"
        );
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.json");
        write_atomically(&path, b"one").expect("write");
        write_atomically(&path, b"two").expect("write");
        assert_eq!(fs::read(&path).expect("read"), b"two");
        assert!(!dir.path().join("m.json.tmp").exists());
    }

    #[test]
    fn atomic_write_on_a_full_disk_fails_naming_the_file_and_keeps_the_old_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("_manifest.json");
        write_atomically(&path, b"old").expect("write");
        // Writes to /dev/full fail with ENOSPC, as on a full disk.
        std::os::unix::fs::symlink("/dev/full", dir.path().join("_manifest.json.tmp"))
            .expect("symlink");
        let err = write_atomically(&path, &vec![b'x'; 1 << 20]).expect_err("full");
        assert!(err.to_string().contains("_manifest.json.tmp"), "{err}");
        assert_eq!(fs::read(&path).expect("read"), b"old");
    }
}
