//! What one request's statements share and what ksqlDB's commands answer with: the
//! [`Session`] that `SET` changes, and the sizes `DESCRIBE EXTENDED` / `SHOW TOPICS` report.
//! Plain data below the engine (`engine.rs` and `statements.rs` both use it).

use serde::Serialize;
use strata_engine::error::{Error, Result};
use strata_sql::commands::OffsetReset;

/// What `SET` changed, for the statements after it in the same request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Session {
    /// Where a push query starts reading (`SET 'auto.offset.reset'`).
    pub offset_reset: OffsetReset,
}

impl Session {
    /// Applies `SET 'property' = 'value'` (both already checked by the parser).
    ///
    /// # Errors
    /// [`Error::Plan`] for a property or value the parser let through but the session does
    /// not know (a parser newer than this code).
    pub fn set(&mut self, property: &str, value: &str) -> Result<()> {
        match (property, value) {
            ("auto.offset.reset", "earliest") => self.offset_reset = OffsetReset::Earliest,
            ("auto.offset.reset", "latest") => self.offset_reset = OffsetReset::Latest,
            _ => {
                return Err(Error::plan(format!(
                    "SET '{property}' = '{value}' is not supported"
                )));
            }
        }
        Ok(())
    }
}

/// A topic's size, as `DESCRIBE EXTENDED` and `SHOW TOPICS` give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicStats {
    /// Its name.
    pub name: String,
    /// Its partitions.
    pub partitions: u32,
    /// Records retained (sum over partitions of end − start offset).
    pub records: u64,
    /// Each partition's first retained offset.
    pub start_offsets: Vec<u64>,
    /// Each partition's next offset.
    pub end_offsets: Vec<u64>,
}

/// What `DESCRIBE EXTENDED` adds: the topic's size and the queries that read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statistics {
    /// The topic (a view's: its changelog).
    pub topic: TopicStats,
    /// Ids of the queries reading it.
    pub read_by: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_changes_the_session() {
        let mut s = Session::default();
        assert_eq!(s.offset_reset, OffsetReset::Earliest);
        s.set("auto.offset.reset", "latest").unwrap();
        assert_eq!(s.offset_reset, OffsetReset::Latest);
        assert!(s.set("auto.offset.reset", "nope").is_err());
        assert!(s.set("other", "x").is_err());
    }
}
