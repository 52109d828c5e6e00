//! The serving layer: a view's answer as the exact merge of its batch view and the speed
//! layer's partials of what the batch view has not covered yet (Summingbird's monoid merge,
//! per generation so that nothing is counted twice or missed at the hand-over).
//!
//! - [`attach`] hands a published batch view to the speed layer of its view: the speed layer
//!   drops the generations it covers, atomically for readers.
//! - [`query`] answers a lookup: `batch ⊕ Σ partials of generations ≥ horizon`, with its
//!   provenance (which layers contributed, the batch epoch and horizon); [`Scratch`] keeps a
//!   view's compiled scratch operators for its next lookups.

mod error;
mod merge;

pub use error::{Error, Result};
pub use merge::{Answer, BatchSource, Provenance, Scratch, Selection, attach, query};
