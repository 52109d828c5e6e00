//! An answer's JSON body, written straight into bytes: its head up to the `rows` array, and
//! its tail with the row count and the provenance (the general answer and the point-lookup
//! fast path write the same body through these).

use serde::Serialize;
use strata_engine::ViewPlan;
use strata_views::streaming::ViewStats;

use crate::merge;

/// Writes the start of an answer's body, up to the opening of its `rows` array:
/// `{"view":…,"version":…,"columns":…,"rows":[`.
pub(crate) fn write_head(body: &mut Vec<u8>, asked: &str, version: &str, columns: &[u8]) {
    body.extend_from_slice(b"{\"view\":");
    write_str(body, &asked.to_lowercase());
    body.extend_from_slice(b",\"version\":");
    write_str(body, version);
    body.extend_from_slice(b",\"columns\":");
    body.extend_from_slice(columns);
    body.extend_from_slice(b",\"rows\":[");
}

/// Writes the end of an answer's body after its rows: `],"count":…,"provenance":…}`.
pub(crate) fn write_tail(body: &mut Vec<u8>, count: usize, provenance: &Provenance) {
    body.extend_from_slice(b"],\"count\":");
    body.extend_from_slice(count.to_string().as_bytes());
    body.extend_from_slice(b",\"provenance\":");
    // Writing plain structs into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *body, provenance);
    body.push(b'}');
}

/// A JSON string literal, as `serde_json` writes it (names and versions seldom need
/// escaping, and the copy is cheaper than the serializer on a point lookup's path).
fn write_str(body: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(body, s);
    } else {
        body.push(b'"');
        body.extend_from_slice(s.as_bytes());
        body.push(b'"');
    }
}

/// Where an answer comes from: the layers merged, the batch view's epoch and horizon, the
/// speed layer's watermark, lag and generations, the view's counters and failure. Fields in
/// name order (as the `serde_json::Value` this replaced wrote them), written straight into
/// the body.
#[derive(Serialize)]
pub(crate) struct Provenance {
    batch: Option<BatchJson>,
    checkpoints: u64,
    emitted: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<String>,
    invalid: u64,
    lag: u64,
    late: u64,
    layers: Vec<&'static str>,
    mode: &'static str,
    records_in: u64,
    speed: SpeedJson,
    watermark: Option<i64>,
}

#[derive(Serialize)]
struct BatchJson {
    created_at: i64,
    epoch: u64,
    horizon: Vec<OffsetJson>,
}

#[derive(Serialize)]
struct OffsetJson {
    offset: u64,
    partition: u32,
}

#[derive(Serialize)]
struct SpeedJson {
    generations: Option<Vec<GenerationJson>>,
    lag: u64,
    watermark: Option<i64>,
}

#[derive(Serialize)]
struct GenerationJson {
    base_offset: u64,
    partition: u32,
}

impl Provenance {
    /// The provenance of an answer of `plan`: `served` is the merge's (`None` for a view
    /// served from the speed layer alone), `stats` and `failure` the view's.
    pub(crate) fn new(
        plan: &ViewPlan,
        served: Option<&merge::Provenance>,
        stats: &ViewStats,
        failure: Option<String>,
    ) -> Self {
        let mode = if plan.merges_batch() {
            "lambda"
        } else {
            "kappa"
        };
        let layers = served.map_or_else(|| vec!["speed"], merge::Provenance::layers);
        let batch = served.and_then(|p| p.batch.as_ref()).map(|b| BatchJson {
            created_at: b.created_at_ms,
            epoch: b.epoch,
            horizon: b
                .horizon
                .iter()
                .map(|&(partition, offset)| OffsetJson { offset, partition })
                .collect(),
        });
        let generations = served.map(|p| {
            p.generations
                .iter()
                .map(|&(partition, base_offset)| GenerationJson {
                    base_offset,
                    partition,
                })
                .collect()
        });
        Provenance {
            batch,
            checkpoints: stats.checkpoints,
            emitted: stats.emitted,
            failure,
            invalid: stats.invalid,
            lag: stats.lag,
            late: stats.late,
            layers,
            mode,
            records_in: stats.records_in,
            speed: SpeedJson {
                generations,
                lag: stats.lag,
                watermark: watermark(stats),
            },
            watermark: watermark(stats),
        }
    }
}

/// A view's watermark; `None` before its first event.
pub fn watermark(stats: &ViewStats) -> Option<i64> {
    (stats.watermark != i64::MIN).then_some(stats.watermark)
}
