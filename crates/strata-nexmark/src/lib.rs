//! `strata-nexmark`: the Nexmark benchmark for strata — a generator faithful to the
//! reference (nexmark/nexmark: persons, auctions and bids in proportions 1 : 3 : 46, hot
//! auctions, sellers and bidders, event time from the event number and a rate, ~200/500/100
//! byte events), its queries in strata SQL (`benches/nexmark/*.sql`), and a runner that
//! feeds them to the engine in-process as Arrow batches or through a log as JSON records.
//!
//! The three kinds of events are three streams (and topics): `person`, `auction`, `bid`.

pub mod columns;
pub mod config;
pub mod error;
pub mod generator;
pub mod json;
pub mod model;
pub mod parquet_out;
pub mod queries;
pub mod runner;
pub mod strings;

pub use config::NexmarkConfig;
pub use error::{NexmarkError, Result};
pub use generator::NexmarkGenerator;
pub use model::{Auction, Bid, Event, Kind, Person};
