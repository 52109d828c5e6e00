//! The engine's two operators as pipeline stages: how a [`ViewOperator`] and a
//! [`TopNOperator`] process a batch, advance the watermark, and snapshot and restore their
//! state behind the one [`Operator`] trait. Kept apart from both operators and from the
//! pipeline so that neither operator depends on the pipeline that drives it.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::error::{Error, Result};
use crate::operator::ViewOperator;
use crate::pipeline::{Operator, OperatorState, Output};
use crate::plan::EmitMode;
use crate::topn::TopNOperator;

impl Operator for ViewOperator {
    fn output_schema(&self) -> Result<SchemaRef> {
        ViewOperator::output_schema(self)
    }

    fn watermark(&self) -> i64 {
        ViewOperator::watermark(self)
    }

    fn process(
        &mut self,
        batch: &RecordBatch,
        tombstones: &[usize],
        out: &mut Output,
    ) -> Result<()> {
        let processed = self.process_with_tombstones(batch, tombstones)?;
        if let Some(rows) = processed.passthrough {
            out.push_rows(None, rows);
        } else if self.emit_updates
            && self.plan.emit != EmitMode::Final
            && !processed.changed.is_empty()
        {
            if self.plan.reads_table() && self.plan.having.is_some() {
                // A row of a table view that HAVING turns away is gone: a tombstone.
                let (keys, values, hidden) =
                    self.output_with_keys_and_hidden(&processed.changed)?;
                out.push_rows(Some(keys), values);
                out.push_removed(hidden);
            } else {
                let (keys, values) = self.output_with_keys(&processed.changed)?;
                out.push_rows(Some(keys), values);
            }
        }
        if let Some(removed) = processed.removed {
            out.push_removed(removed);
        }
        out.late.extend(processed.late);
        Ok(())
    }

    fn advance(&mut self, watermark: i64, out: &mut Output) -> Result<()> {
        let closed = self.advance_watermark(watermark);
        if self.plan.emit == EmitMode::Final && !closed.is_empty() {
            let (keys, values) = self.output_with_keys(&closed)?;
            out.push_rows(Some(keys), values);
        }
        Ok(())
    }

    fn current_rows(&self) -> Result<RecordBatch> {
        self.snapshot()
    }

    fn snapshot_state(&self) -> Result<OperatorState> {
        Ok(OperatorState {
            groups: self.state.clone(),
            table_input: self.table_state().cloned(),
            topn: None,
        })
    }

    fn restore_state(&mut self, state: OperatorState) -> Result<()> {
        self.restore(state.groups)?;
        if let Some(table_input) = state.table_input {
            self.restore_table_state(table_input)?;
        }
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

impl Operator for TopNOperator {
    fn output_schema(&self) -> Result<SchemaRef> {
        Ok(Arc::clone(&self.output_schema))
    }

    fn watermark(&self) -> i64 {
        self.watermark
    }

    /// Ranks the rows of `batch`; a window Top-N reads a stream, so `tombstones` are ignored.
    fn process(
        &mut self,
        batch: &RecordBatch,
        _tombstones: &[usize],
        out: &mut Output,
    ) -> Result<()> {
        let late = self.process_with_late(batch)?;
        out.late.extend(late);
        Ok(())
    }

    fn advance(&mut self, watermark: i64, out: &mut Output) -> Result<()> {
        let ranked = self.advance_watermark(watermark)?;
        out.push_rows(None, ranked);
        Ok(())
    }

    fn current_rows(&self) -> Result<RecordBatch> {
        self.snapshot()
    }

    fn snapshot_state(&self) -> Result<OperatorState> {
        Ok(OperatorState {
            groups: self.inner_state().clone(),
            table_input: None,
            topn: Some(self.state()?),
        })
    }

    fn restore_state(&mut self, state: OperatorState) -> Result<()> {
        let topn = state.topn.ok_or_else(|| {
            Error::plan("the checkpoint of a window Top-N view has no ranking state")
        })?;
        self.restore(state.groups, topn)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}
