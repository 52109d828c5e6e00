//! Where the SQL front end finds the streams and tables a statement refers to.

use std::collections::HashMap;

use crate::plan::SourceDef;

/// Where the SQL front end finds the streams and tables a statement refers to.
pub trait Catalog {
    /// The source called `name` (lower-cased), if there is one.
    fn source(&self, name: &str) -> Option<SourceDef>;

    /// This node's Kafka listener (`host:port`), which `'properties.bootstrap.servers'` may
    /// name besides loopback addresses; `None` when it has none.
    fn kafka_listener(&self) -> Option<String> {
        None
    }
}

/// A catalog with nothing in it (every statement must declare what it reads).
#[derive(Debug, Default, Clone, Copy)]
pub struct EmptyCatalog;

impl Catalog for EmptyCatalog {
    fn source(&self, _name: &str) -> Option<SourceDef> {
        None
    }
}

impl Catalog for HashMap<String, SourceDef> {
    fn source(&self, name: &str) -> Option<SourceDef> {
        self.get(name).cloned()
    }
}
