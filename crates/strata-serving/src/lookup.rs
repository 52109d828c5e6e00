//! Point lookups of a Lambda view on the async worker that received them: what the general
//! answer ([`crate::answer`]) does, minus what a lookup of one key's few rows cannot afford
//! per request — compiling a scratch operator (kept per view in [`Lookups`]), cloning the
//! view's plan, Arrow filter kernels and the JSON writer (the rows go straight to JSON,
//! [`crate::row_json`]), a `serde_json::Value` tree for the provenance.
//!
//! A view's kept state is tied to its running instance: the speed layer's partials. A view
//! dropped and created again (or restarted) has new partials, so its entry is rebuilt from
//! the current plan; an answer never uses another definition's operators.
//!
//! Anything this path does not cover — no key, ordering, limits, column types the direct
//! writer does not write, errors of any kind — returns `None`, and the general path answers
//! (with its error messages).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};

use strata_log::sync::unmodelled::Mutex;

use strata_views::engine::Engine;
use strata_views::streaming::SpeedPartials;

use crate::body::{Provenance, write_head, write_tail};
use crate::merge::{Scratch, Selection};
use crate::rows::{self, RowQuery};

/// A view's kept lookup state.
struct Prepared {
    /// The running instance it belongs to (compared by address; held weakly, the
    /// allocation cannot be reused while this lives).
    partials: Weak<SpeedPartials>,
    scratch: Scratch,
    /// The `columns` of its answers, as JSON (the same for every answer of the view).
    columns: OnceLock<Vec<u8>>,
}

/// Per view (version), the kept state of its point lookups.
#[derive(Default)]
pub struct Lookups {
    views: Mutex<HashMap<String, Arc<Prepared>>>,
}

impl std::fmt::Debug for Lookups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let views = self.views.lock().len();
        f.debug_struct("Lookups").field("views", &views).finish()
    }
}

impl Lookups {
    /// The JSON body answering the point lookup `q` on view (or alias) `asked`, as the
    /// general path would write it; `None` when this path does not cover it.
    pub fn answer(&self, engine: &Engine, asked: &str, q: &RowQuery) -> Option<Vec<u8>> {
        let key = q.key.as_deref()?;
        if q.order_by.is_some() || q.desc || q.limit.is_some() || q.top_by.is_some() {
            return None;
        }
        let view = engine.resolve(asked)?;
        let prepared = self.prepared(engine, &view)?;
        let plan = prepared.scratch.plan();
        let values = rows::key_values(plan, key)?;
        if values.len() != plan.group_by.len() {
            return None;
        }
        let stats = engine.stats(&view).ok()?;
        let selection = Selection {
            key: Some(values),
            from: q.from,
            to: q.to,
        };
        let answered = prepared
            .scratch
            .query(engine, &selection, |merged, served| {
                let rows = merged.snapshot()?;
                let columns = prepared
                    .columns
                    .get_or_init(|| rows::columns_json(&rows).to_string().into_bytes());
                let mut body = Vec::with_capacity(1024);
                write_head(&mut body, asked, &plan.name, columns);
                let Some(count) = crate::row_json::write_selected(&rows, plan, q, &mut body) else {
                    return Ok(None);
                };
                let failure = engine.failure(&view);
                let provenance = Provenance::new(plan, Some(&served), &stats, failure);
                write_tail(&mut body, count, &provenance);
                Ok(Some(body))
            });
        answered.ok().flatten()
    }

    /// The kept state of running view `view`, made from its current plan when there is none
    /// for its running instance; `None` for views not served as Lambda views.
    fn prepared(&self, engine: &Engine, view: &str) -> Option<Arc<Prepared>> {
        let partials = engine.partials(view).ok()??;
        let views = self.views.lock();
        if let Some(p) = views.get(view)
            && std::ptr::eq(p.partials.as_ptr(), Arc::as_ptr(&partials))
        {
            return Some(Arc::clone(p));
        }
        drop(views);
        let plan = engine.plan(view)?;
        // The plan read after the partials belongs to the same instance only if the view
        // was not replaced in between.
        let now = engine.partials(view).ok()??;
        if !Arc::ptr_eq(&now, &partials) || !plan.merges_batch() {
            return None;
        }
        let prepared = Arc::new(Prepared {
            partials: Arc::downgrade(&partials),
            scratch: Scratch::new(Arc::new(plan)).ok()?,
            columns: OnceLock::new(),
        });
        let mut views = self.views.lock();
        // Entries of dropped views go when their instance is gone.
        views.retain(|_, p| p.partials.strong_count() > 0);
        views.insert(view.to_owned(), Arc::clone(&prepared));
        Some(prepared)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use serde_json::Value;
    use strata_log::{EncodedBatch, Log, Record};
    use strata_views::engine::EngineConfig;

    use super::*;

    /// The parts of an answer that do not move while the view stands still (its checkpoint
    /// counter does).
    fn stable(body: &[u8]) -> Value {
        let mut v: Value = serde_json::from_slice(body).unwrap();
        let p = v["provenance"].take();
        v["provenance"] = serde_json::json!({
            "mode": p["mode"], "layers": p["layers"], "batch": p["batch"],
            "generations": p["speed"]["generations"], "records_in": p["records_in"],
        });
        v
    }

    /// Random point lookups (keys present and absent, of the wrong type, with and without
    /// window ranges), interleaved so that a kept operator's leftovers would show: the fast
    /// path's answer is the general path's, whenever the fast path answers — and it answers
    /// every plain point lookup.
    #[test]
    fn fast_point_lookups_equal_the_general_answer() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(dir.path().join("log"), Default::default()).unwrap();
        let engine = Engine::open(
            Arc::clone(&log),
            &dir.path().join("engine"),
            EngineConfig::default(),
        )
        .unwrap();
        engine
            .execute(
                "CREATE STREAM s (name VARCHAR, n BIGINT, v BIGINT) WITH (kafka_topic='s', value_format='JSON');
                 CREATE TABLE v AS SELECT name, n, COUNT(*) AS c, SUM(v) AS total FROM s
                   WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY name, n EMIT CHANGES;",
            )
            .unwrap();
        let mut rng = StdRng::seed_from_u64(6);
        // Recent event times: windows the speed layer's idle watermark does not move past
        // retention while the test compares answers.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let base = now - now.rem_euclid(60_000) - 20 * 60_000;
        let names = ["a", "b", "c\"q", "d"];
        let records: Vec<Record> = (0..600)
            .map(|i| {
                let name = names[rng.random_range(0..names.len())].replace('"', "\\\"");
                let n = rng.random_range(0..3);
                let v = rng.random_range(-5..50);
                let ts = base + i64::from(rng.random_range(0..10u8)) * 60_000 + i;
                Record::new(
                    format!(r#"{{"name":"{name}","n":{n},"v":{v}}}"#).into_bytes(),
                    ts,
                )
            })
            .collect();
        let topic = log.topic("s").unwrap();
        for chunk in records.chunks(100) {
            topic
                .append(0, EncodedBatch::from_records(chunk).unwrap())
                .unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while engine.stats("v").unwrap().records_in < 600 {
            assert!(Instant::now() < deadline, "the view did not catch up");
            std::thread::sleep(Duration::from_millis(10));
        }
        let lookups = Lookups::default();
        let mut answered = 0;
        for _ in 0..300 {
            let name = ["a", "b", "c\"q", "d", "zz"][rng.random_range(0..5)];
            let key = match rng.random_range(0..4) {
                0 => format!("{name},{}", rng.random_range(0..4)),
                1 => serde_json::json!([name, rng.random_range(0..4)]).to_string(),
                2 => format!("{name},x"),
                _ => serde_json::json!([name, "1"]).to_string(),
            };
            let minute = |rng: &mut StdRng| Some(base + rng.random_range(0..12i64) * 60_000);
            let q = RowQuery {
                key: Some(key),
                from: if rng.random_bool(0.5) {
                    minute(&mut rng)
                } else {
                    None
                },
                to: if rng.random_bool(0.5) {
                    minute(&mut rng)
                } else {
                    None
                },
                ..RowQuery::default()
            };
            let general = crate::answer::answer(&engine, "V", &q);
            match lookups.answer(&engine, "V", &q) {
                Some(fast) => {
                    answered += 1;
                    assert_eq!(stable(&fast), stable(&general.unwrap()), "{q:?}");
                }
                None => assert!(general.is_err(), "declined {q:?}"),
            }
        }
        assert!(answered > 200, "the fast path answered only {answered}");
        // A view dropped and created again with another definition is not answered from
        // the old one's kept operators.
        engine.drop_view("v").unwrap();
        engine
            .execute(
                "CREATE TABLE v AS SELECT name, n, MAX(v) AS c FROM s
                   WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY name, n EMIT CHANGES;",
            )
            .unwrap();
        while engine.stats("v").unwrap().records_in < 600 {
            assert!(Instant::now() < deadline, "the view did not catch up");
            std::thread::sleep(Duration::from_millis(10));
        }
        let q = RowQuery {
            key: Some("a,1".into()),
            ..RowQuery::default()
        };
        let fast = lookups.answer(&engine, "v", &q).unwrap();
        let general = crate::answer::answer(&engine, "v", &q).unwrap();
        assert_eq!(stable(&fast), stable(&general));
        assert!(!String::from_utf8_lossy(&fast).contains("total"));
        engine.shutdown();
        log.close().unwrap();
    }
}
