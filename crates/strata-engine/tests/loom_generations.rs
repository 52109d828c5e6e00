//! loom model of the speed → batch hand-off (`strata_engine::generations::Ledger`), run with
//! `RUSTFLAGS="--cfg loom" cargo test -p strata-engine --release --test loom_generations`.
//!
//! A partition of four records in segments of two (generations `(0, 0)` and `(0, 2)`): the
//! speed layer folds each record into its generation's count while batch views covering the
//! first segment, then both, are handed over, and a reader sums batch ⊕ partials. A double
//! count shows as a total above four or one that goes down; a miss as a final total below four.
#![cfg(loom)]

use std::convert::Infallible;

use loom::sync::Arc;
use loom::thread;
use strata_engine::generations::{Coverage, Ledger};

const RECORDS: u64 = 4;
const SEGMENT: u64 = 2;

fn merged(ledger: &Ledger<u64, u64>) -> u64 {
    ledger.read(|r| r.coverage.map_or(0, |c| c.batch) + r.generations.values().sum::<u64>())
}

#[test]
fn readers_never_double_count_nor_miss_across_a_hand_off() {
    loom::model(|| {
        let ledger: Arc<Ledger<u64, u64>> = Arc::new(Ledger::default());
        let speed = {
            let ledger = Arc::clone(&ledger);
            thread::spawn(move || {
                for offset in 0..RECORDS {
                    let generation = (0, offset / SEGMENT * SEGMENT);
                    let folded = ledger.fold(
                        generation,
                        || Ok(0),
                        |count| {
                            *count += 1;
                            Ok::<_, Infallible>(())
                        },
                    );
                    let _ = folded.unwrap_or_else(|e| match e {});
                }
            })
        };
        let batch = {
            let ledger = Arc::clone(&ledger);
            thread::spawn(move || {
                // Each batch view counts every record below its horizon, as a batch run over
                // the archived segments does.
                for (epoch, horizon) in [(1, SEGMENT), (2, 2 * SEGMENT)] {
                    let coverage = Coverage {
                        epoch,
                        horizon: vec![(0, horizon)],
                        batch: horizon,
                    };
                    ledger.cover(coverage).expect("horizons only grow");
                }
            })
        };
        let first = merged(&ledger);
        let second = merged(&ledger);
        assert!(
            first <= RECORDS && second <= RECORDS,
            "double count: {first}, {second}"
        );
        assert!(first <= second, "a count went down: {first} then {second}");
        speed.join().expect("speed thread");
        batch.join().expect("batch thread");
        assert_eq!(
            merged(&ledger),
            RECORDS,
            "every record counted exactly once"
        );
    });
}
