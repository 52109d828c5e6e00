//! Names and records every stage of the pipeline shares — the columns the engine adds
//! (`rowtime`, `window_start`, `window_end`) and a row set aside as late — in a leaf below
//! the operator and its stages (the explode stage reports late rows too).

/// Name of the column that carries a record's log timestamp.
pub const ROWTIME: &str = "rowtime";
/// Output column: window start.
pub const WINDOW_START: &str = "window_start";
/// Output column: window end.
pub const WINDOW_END: &str = "window_end";

/// Why a row was set aside instead of aggregated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateRow {
    /// Row index in the (unfiltered) input batch.
    pub row: usize,
    /// Human-readable reason.
    pub reason: String,
}
