//! Stored batch views: epochs with their horizon, the reader API, removal of replaced epochs
//! once no reader holds them, and runs that refuse a lake with foreign or corrupt files.

mod common;

use std::sync::Arc;

use common::*;
use strata_batch::{
    ArchiveConfig, Archiver, BatchMetrics, BatchViewStore, Error, HORIZON_FILE, PART_FILE,
    RunOptions,
};
use strata_engine::builder::{ViewBuilder, col};
use strata_engine::plan::{AggregateFunction, ViewPlan, WindowSpec};
use strata_log::Record;

/// 2024-03-10T00:00:00Z.
const T0: i64 = 1_710_028_800_000;

fn plan() -> ViewPlan {
    ViewBuilder::new("sales", orders_source())
        .window(WindowSpec::Tumbling { size_ms: 3_600_000 })
        .group_by("product", col("product"))
        .aggregate("n", AggregateFunction::Count, None)
        .aggregate("total", AggregateFunction::Sum, Some(col("amount")))
        .build()
}

struct Fixture {
    dir: tempfile::TempDir,
    log: Arc<strata_log::Log>,
    archiver: Archiver,
    store: BatchViewStore,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = open_log(&dir.path().join("log"));
        log.create_topic("orders", 2, small_segments())
            .expect("topic");
        let metrics = Arc::new(BatchMetrics::default());
        let archiver = Archiver::new(
            ArchiveConfig::new(dir.path().join("lake")),
            Arc::clone(&metrics),
        )
        .expect("archiver");
        let store =
            BatchViewStore::open(dir.path().join("views"), dir.path().join("lake"), metrics)
                .expect("store");
        Fixture {
            dir,
            log,
            archiver,
            store,
        }
    }

    /// Appends `n` orders of amount 1 to each partition, seals and archives them.
    fn produce_and_archive(&self, n: i64) {
        for p in 0..2 {
            let records: Vec<Record> = (0..n)
                .map(|i| Record::new(order("a", 1.0, i, T0 + i * 1_000), T0))
                .collect();
            append(&self.log, "orders", p, &records, 20);
            self.log
                .topic("orders")
                .expect("t")
                .partition(p)
                .expect("p")
                .roll_now()
                .expect("roll");
        }
        self.archiver
            .archive_topic(&self.log, "orders", Some(&orders_source()))
            .expect("archive");
    }
}

#[test]
fn epochs_publish_rows_with_their_horizon_and_replaced_ones_go_when_released() {
    let f = Fixture::new();
    assert!(f.store.latest("sales").expect("latest").is_none());
    f.produce_and_archive(300);
    let mut calls = 0;
    let mut progress = |_: strata_batch::Progress| calls += 1;
    let first = f
        .store
        .run(
            &plan(),
            RunOptions {
                threads: 1,
                progress: Some(&mut progress),
            },
        )
        .expect("run");
    assert!(calls > 0);
    assert_eq!(first.epoch(), 1);
    assert_eq!(first.horizon().offset(0), 300);
    assert_eq!(first.horizon().offset(1), 300);
    assert_eq!(first.horizon().input_rows, 600);
    let n: i64 = first
        .rows()
        .column_by_name("n")
        .expect("n")
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .expect("int64")
        .iter()
        .flatten()
        .sum();
    assert_eq!(n, 600);
    let epoch1 = f.dir.path().join("views/sales/batch-1");
    assert!(epoch1.join(PART_FILE).exists() && epoch1.join(HORIZON_FILE).exists());
    // The stored view opens as-is in DuckDB.
    let rows = duckdb(&format!(
        "SELECT sum(n), sum(total) FROM read_parquet('{}')",
        epoch1.join(PART_FILE).display()
    ));
    assert_eq!(rows[0], serde_json::json!([600, 600.0]));

    // A reader holds epoch 1 while epoch 2 is published: it stays until released.
    let reader = f.store.latest("sales").expect("latest").expect("some");
    drop(first);
    f.produce_and_archive(100);
    let second = f.store.run(&plan(), RunOptions::default()).expect("run");
    assert_eq!(second.epoch(), 2);
    assert_eq!(second.horizon().offset(0), 400);
    assert_eq!(f.store.latest("sales").expect("l").expect("s").epoch(), 2);
    assert!(epoch1.exists(), "deleted under a reader");
    assert_eq!(reader.rows().num_rows(), 1);
    drop(reader);
    assert!(
        !epoch1.exists(),
        "a replaced epoch outlived its last reader"
    );

    // With no reader, the replaced epoch goes at once.
    drop(second);
    f.store.run(&plan(), RunOptions::default()).expect("run");
    assert!(!f.dir.path().join("views/sales/batch-2").exists());

    // A fresh store (a restarted node) loads the latest epoch from disk.
    let reopened = BatchViewStore::open(
        f.dir.path().join("views"),
        f.dir.path().join("lake"),
        Arc::new(BatchMetrics::default()),
    )
    .expect("store");
    let latest = reopened.latest("sales").expect("latest").expect("some");
    assert_eq!(latest.epoch(), 3);
    assert_eq!(latest.horizon().offset(1), 400);
    assert_eq!(latest.horizon().plan, plan());
}

#[test]
fn foreign_and_corrupt_lake_files_fail_the_run_naming_them_and_keep_the_last_epoch() {
    let f = Fixture::new();
    f.produce_and_archive(200);
    f.store.run(&plan(), RunOptions::default()).expect("run");

    let stray = f
        .dir
        .path()
        .join("lake/orders/date=2024-03-10/hour=00/export.parquet");
    std::fs::write(&stray, b"not ours").expect("write");
    let err = f
        .store
        .run(&plan(), RunOptions::default())
        .expect_err("foreign file");
    assert!(matches!(err, Error::ForeignFiles { .. }), "{err}");
    assert!(err.to_string().contains("export.parquet"), "{err}");
    std::fs::remove_file(&stray).expect("rm");

    // Flip bytes in the middle of a listed file (same size, so only reading finds it).
    let manifest = strata_batch::Manifest::load(&f.dir.path().join("lake"), "orders")
        .expect("load")
        .expect("manifest");
    let (_, entry) = manifest.files().next().expect("a file");
    let victim = f.dir.path().join("lake/orders").join(&entry.path);
    let mut bytes = std::fs::read(&victim).expect("read");
    let len = bytes.len();
    for b in &mut bytes[len - 200..len - 8] {
        *b ^= 0x5a;
    }
    std::fs::write(&victim, &bytes).expect("write");
    let err = f
        .store
        .run(&plan(), RunOptions::default())
        .expect_err("corrupt file");
    assert!(err.to_string().contains(&entry.path), "{err}");

    // A truncated file is caught by its size before any reading.
    std::fs::write(&victim, &bytes[..len / 2]).expect("write");
    let err = f
        .store
        .run(&plan(), RunOptions::default())
        .expect_err("truncated file");
    assert!(matches!(err, Error::CorruptFile { .. }), "{err}");
    assert!(err.to_string().contains(&entry.path), "{err}");

    assert_eq!(f.store.latest("sales").expect("l").expect("s").epoch(), 1);
    assert_eq!(
        f.store
            .metrics()
            .batch_run_errors
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
}
