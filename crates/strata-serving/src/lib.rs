//! The serving layer: everything that answers a view query — a view's answer as the exact
//! merge of its batch view and the speed layer's partials of what the batch view has not
//! covered yet (Summingbird's monoid merge, per generation so that nothing is counted twice
//! or missed at the hand-over), its rows selected as asked and written as JSON with their
//! provenance, and its changes as a stream reads them.
//!
//! - [`attach`] hands a published batch view to the speed layer of its view: the speed layer
//!   drops the generations it covers, atomically for readers.
//! - [`answer`] writes the JSON body answering a [`RowQuery`]: `batch ⊕ Σ partials of
//!   generations ≥ horizon` for a Lambda view, the speed layer's rows otherwise, with their
//!   provenance (which layers contributed, the batch epoch and horizon).
//! - [`Lookups`] answers a Lambda view's point lookups faster, with kept scratch operators
//!   and a direct JSON writer, whenever it can write the same body.
//! - [`read_changes`] and [`read_rows`] read a view's changelog for change streams.
//! - [`pull`] answers a pull query (`SELECT … FROM table_or_view WHERE …`) once, from a
//!   view's current rows (or a table source's, read on the spot).
//! - [`columns_json`] describes rows' columns as answers do.
//!
//! Inside: `merge` (the merge itself), `rows` (row selection), `row_json` (the fast JSON
//! writer), `body` (the answer body's head, tail and provenance).

mod answer;
mod body;
mod changes;
mod error;
mod lookup;
mod merge;
mod pull;
mod row_json;
mod rows;

pub use answer::answer;
pub use body::watermark;
pub use changes::{Change, TAIL_BATCH, read_changes, read_rows};
pub use error::{Error, Result};
pub use lookup::Lookups;
pub use merge::attach;
pub use pull::{PullAnswer, pull};
pub use rows::{RowQuery, columns_json};
