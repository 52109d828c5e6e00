//! Events as JSON objects, the record values of the `person`, `auction` and `bid` topics.
//! Keys are the lower-cased field names the SQL schemas declare; times are epoch
//! milliseconds. The `--out` form of `strata gen nexmark` wraps each object with its kind,
//! as the reference's Kafka format does (`event_type` 0, 1, 2).

use std::fmt::Write;

use crate::model::{Event, Kind};

/// Appends `s` as a JSON string.
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends the event's value object (no newline) to `out`.
pub fn write_value(e: &Event, out: &mut String) {
    out.push('{');
    let mut first = true;
    let mut key = |out: &mut String, k: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        out.push('"');
        out.push_str(k);
        out.push_str("\":");
    };
    macro_rules! int {
        ($k:expr, $v:expr) => {{
            key(out, $k);
            let _ = write!(out, "{}", $v);
        }};
    }
    macro_rules! text {
        ($k:expr, $v:expr) => {{
            key(out, $k);
            string(out, $v);
        }};
    }
    match e {
        Event::Person(p) => {
            int!("id", p.id);
            text!("name", &p.name);
            text!("emailaddress", &p.email_address);
            text!("creditcard", &p.credit_card);
            text!("city", &p.city);
            text!("state", &p.state);
            int!("datetime", p.date_time);
            text!("extra", &p.extra);
        }
        Event::Auction(a) => {
            int!("id", a.id);
            text!("itemname", &a.item_name);
            text!("description", &a.description);
            int!("initialbid", a.initial_bid);
            int!("reserve", a.reserve);
            int!("datetime", a.date_time);
            int!("expires", a.expires);
            int!("seller", a.seller);
            int!("category", a.category);
            text!("extra", &a.extra);
        }
        Event::Bid(b) => {
            int!("auction", b.auction);
            int!("bidder", b.bidder);
            int!("price", b.price);
            text!("channel", &b.channel);
            text!("url", &b.url);
            int!("datetime", b.date_time);
            text!("extra", &b.extra);
        }
    }
    out.push('}');
}

/// The event's value object.
pub fn value(e: &Event) -> String {
    let mut s = String::with_capacity(256);
    write_value(e, &mut s);
    s
}

/// The event wrapped with its kind: `{"event_type":2,"bid":{…}}` (0 person, 1 auction, 2 bid).
pub fn tagged(e: &Event) -> String {
    let kind = e.kind();
    let number = Kind::ALL.iter().position(|&k| k == kind).unwrap_or(0);
    format!(
        "{{\"event_type\":{number},\"{}\":{}}}",
        kind.name(),
        value(e)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Bid;

    #[test]
    fn values_are_json_objects() {
        let e = Event::Bid(Bid {
            auction: 1000,
            bidder: 1001,
            price: 42,
            channel: "Google".into(),
            url: "https://www.nexmark.com/googl/item.htm?query=1".into(),
            date_time: 7,
            extra: "a\"b".into(),
        });
        assert_eq!(
            value(&e),
            r#"{"auction":1000,"bidder":1001,"price":42,"channel":"Google","url":"https://www.nexmark.com/googl/item.htm?query=1","datetime":7,"extra":"a\"b"}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&tagged(&e)).expect("json");
        assert_eq!(parsed["event_type"], 2);
        assert_eq!(parsed["bid"]["price"], 42);
    }
}
