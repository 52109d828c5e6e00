//! Micro-benchmarks of the record-batch codec: encoding a 1000-record batch (what a producer
//! does off the writer lock) and decoding one (what every read does), for 100 B and 1 KiB
//! values. Decoding is measured with the CRC check (`frame_checked`, the path of
//! `Partition::read`) and without it (`frame`), so the two costs can be told apart.
//!
//! Run: `cargo bench --bench batch_codec`. Payloads come from a seeded RNG.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use strata_log::{BatchBuilder, BatchView, EncodedBatch};

const RECORDS: usize = 1000;
const SIZES: [usize; 2] = [100, 1024];
const BASE_TS: i64 = 1_700_000_000_000;

/// `RECORDS` values of `size` random bytes each, from a fixed seed.
fn values(size: usize) -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(0x5354_5241_5441 ^ size as u64);
    (0..RECORDS)
        .map(|_| {
            let mut v = vec![0u8; size];
            rng.fill_bytes(&mut v);
            v
        })
        .collect()
}

fn encode(values: &[Vec<u8>]) -> EncodedBatch {
    let bytes: usize = values.iter().map(|v| v.len() + 16).sum();
    let mut builder = BatchBuilder::with_capacity(bytes);
    for (i, v) in values.iter().enumerate() {
        builder.push(
            None,
            v,
            BASE_TS + i as i64,
            std::iter::empty::<(&str, &[u8])>(),
        );
    }
    builder.finish().expect("a non-empty batch")
}

/// Sums value lengths, touching every record, as a consumer iterating the batch would.
fn decode(view: BatchView<'_>) -> usize {
    view.records()
        .map(|r| black_box(r.expect("well-formed record").value).len())
        .sum()
}

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch_codec");
    group
        .throughput(Throughput::Elements(RECORDS as u64))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for size in SIZES {
        let values = values(size);
        let batch = encode(&values);
        let bytes = batch.as_bytes();

        group.bench_with_input(BenchmarkId::new("encode", size), &values, |b, values| {
            b.iter(|| encode(black_box(values)));
        });
        group.bench_with_input(
            BenchmarkId::new("decode_checked", size),
            bytes,
            |b, bytes| {
                b.iter(|| {
                    let view = BatchView::frame_checked(black_box(bytes)).expect("valid batch");
                    decode(view)
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("decode_unchecked", size),
            bytes,
            |b, bytes| {
                b.iter(|| {
                    let view = BatchView::frame(black_box(bytes)).expect("valid batch");
                    decode(view)
                });
            },
        );
        group.bench_with_input(BenchmarkId::new("crc_only", size), bytes, |b, bytes| {
            b.iter(|| {
                BatchView::frame(black_box(bytes))
                    .expect("valid batch")
                    .crc_ok()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
