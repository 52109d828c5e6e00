//! Records on the wire: produce bodies in ([`parse_body`], [`WireRecordRef::validate`],
//! [`encode`]) and fetched records out as JSON ([`write_record`]).

mod json;
mod produce;

pub use json::{ValueFormat, is_json, push_u64, write_record, write_str};
pub use produce::{PreparedProduce, ProduceRecord, WireRecordRef, encode, parse_body};
