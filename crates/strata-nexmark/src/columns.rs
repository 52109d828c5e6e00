//! Events → Arrow batches shaped like the engine's decoded batches of the `person`,
//! `auction` and `bid` streams: the stream's declared value columns (looked up by name, so
//! a schema may declare them in any order or leave some out), then `rowtime`, `_partition`,
//! `_offset`, `_key` — exactly what [`strata_engine::decode::source_schema`] gives, so the
//! batches go straight into a `ViewOperator` with no JSON in between.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int64Array, Int64Builder, RecordBatch, StringArray, StringBuilder,
    TimestampMillisecondArray, new_null_array,
};
use arrow::compute::cast;
use strata_engine::decode::{arrow_type, source_schema};
use strata_engine::plan::SourceDef;

use crate::error::Result;
use crate::model::{Event, Kind};

/// Column builders of one kind of event, every field in the reference's order.
#[derive(Debug, Default)]
pub struct KindColumns {
    ints: Vec<(&'static str, Int64Builder)>,
    strings: Vec<(&'static str, StringBuilder)>,
    times: Vec<i64>,
}

impl KindColumns {
    fn new(kind: Kind) -> Self {
        let (ints, strings): (&[&'static str], &[&'static str]) = match kind {
            Kind::Person => (
                &["id"],
                &[
                    "name",
                    "emailaddress",
                    "creditcard",
                    "city",
                    "state",
                    "extra",
                ],
            ),
            Kind::Auction => (
                &[
                    "id",
                    "initialbid",
                    "reserve",
                    "expires",
                    "seller",
                    "category",
                ],
                &["itemname", "description", "extra"],
            ),
            Kind::Bid => (
                &["auction", "bidder", "price"],
                &["channel", "url", "extra"],
            ),
        };
        KindColumns {
            ints: ints.iter().map(|&n| (n, Int64Builder::new())).collect(),
            strings: strings.iter().map(|&n| (n, StringBuilder::new())).collect(),
            times: Vec::new(),
        }
    }

    fn push(&mut self, e: &Event) {
        self.times.push(e.date_time());
        match e {
            Event::Person(p) => {
                self.ints[0].1.append_value(p.id);
                for (b, v) in self.strings.iter_mut().zip([
                    &p.name,
                    &p.email_address,
                    &p.credit_card,
                    &p.city,
                    &p.state,
                    &p.extra,
                ]) {
                    b.1.append_value(v);
                }
            }
            Event::Auction(a) => {
                for (b, v) in self.ints.iter_mut().zip([
                    a.id,
                    a.initial_bid,
                    a.reserve,
                    a.expires,
                    a.seller,
                    a.category,
                ]) {
                    b.1.append_value(v);
                }
                for (b, v) in self
                    .strings
                    .iter_mut()
                    .zip([&a.item_name, &a.description, &a.extra])
                {
                    b.1.append_value(v);
                }
            }
            Event::Bid(b) => {
                for (c, v) in self.ints.iter_mut().zip([b.auction, b.bidder, b.price]) {
                    c.1.append_value(v);
                }
                for (c, v) in self.strings.iter_mut().zip([&b.channel, &b.url, &b.extra]) {
                    c.1.append_value(v);
                }
            }
        }
    }

    fn len(&self) -> usize {
        self.times.len()
    }

    /// The batch of `source`'s schema; `first_offset` numbers the rows' `_offset`.
    fn finish(&mut self, source: &SourceDef, first_offset: i64) -> Result<RecordBatch> {
        let n = self.len();
        let times = std::mem::take(&mut self.times);
        let mut named: Vec<(&str, ArrayRef)> = Vec::new();
        for (name, b) in &mut self.ints {
            named.push((name, Arc::new(b.finish())));
        }
        for (name, b) in &mut self.strings {
            named.push((name, Arc::new(b.finish())));
        }
        let time_array: ArrayRef = Arc::new(Int64Array::from(times.clone()));
        named.push(("datetime", Arc::clone(&time_array)));
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(source.columns.len() + 4);
        for c in &source.columns {
            let want = arrow_type(c.data_type);
            let column = match named.iter().find(|(name, _)| *name == c.name) {
                Some((_, array)) if array.data_type() == &want => Arc::clone(array),
                Some((_, array)) => cast(array, &want)?,
                None => new_null_array(&want, n),
            };
            columns.push(column);
        }
        columns.push(Arc::new(TimestampMillisecondArray::from(times)));
        columns.push(Arc::new(Int64Array::from(vec![0i64; n])));
        columns.push(Arc::new(Int64Array::from_iter_values(
            first_offset..first_offset + n as i64,
        )));
        columns.push(Arc::new(StringArray::new_null(n)));
        Ok(RecordBatch::try_new(source_schema(source), columns)?)
    }
}

/// One chunk of consecutive events, split by kind, as engine batches.
#[derive(Debug, Clone)]
pub struct EventBatches {
    /// The persons.
    pub person: RecordBatch,
    /// The auctions.
    pub auction: RecordBatch,
    /// The bids.
    pub bid: RecordBatch,
    /// Event time of the chunk's last event.
    pub max_time: i64,
}

impl EventBatches {
    /// The batch of one kind.
    pub fn of(&self, kind: Kind) -> &RecordBatch {
        match kind {
            Kind::Person => &self.person,
            Kind::Auction => &self.auction,
            Kind::Bid => &self.bid,
        }
    }

    /// Events in the chunk.
    pub fn len(&self) -> usize {
        self.person.num_rows() + self.auction.num_rows() + self.bid.num_rows()
    }

    /// True when the chunk has no events.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Turns a stream of events into [`EventBatches`] of the three streams' schemas.
#[derive(Debug)]
pub struct BatchMaker {
    sources: [SourceDef; 3],
    columns: [KindColumns; 3],
    offsets: [i64; 3],
}

impl BatchMaker {
    /// A maker for the `person`, `auction` and `bid` sources (in that order).
    pub fn new(sources: [SourceDef; 3]) -> Self {
        BatchMaker {
            sources,
            columns: Kind::ALL.map(KindColumns::new),
            offsets: [0; 3],
        }
    }

    /// Appends the events and returns them as one chunk.
    ///
    /// # Errors
    /// Arrow errors (a declared column of a type the field cannot be cast to).
    pub fn make<'e>(
        &mut self,
        events: impl IntoIterator<Item = &'e Event>,
    ) -> Result<EventBatches> {
        let mut max_time = i64::MIN;
        for e in events {
            max_time = max_time.max(e.date_time());
            self.columns[e.kind() as usize].push(e);
        }
        let mut out = Vec::with_capacity(3);
        for k in 0..3 {
            let n = self.columns[k].len() as i64;
            out.push(self.columns[k].finish(&self.sources[k], self.offsets[k])?);
            self.offsets[k] += n;
        }
        let bid = out
            .pop()
            .unwrap_or_else(|| RecordBatch::new_empty(source_schema(&self.sources[2])));
        let auction = out
            .pop()
            .unwrap_or_else(|| RecordBatch::new_empty(source_schema(&self.sources[1])));
        let person = out
            .pop()
            .unwrap_or_else(|| RecordBatch::new_empty(source_schema(&self.sources[0])));
        Ok(EventBatches {
            person,
            auction,
            bid,
            max_time,
        })
    }
}
