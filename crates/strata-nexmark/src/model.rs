//! The three kinds of Nexmark events, as plain structs.

/// A person registers to buy or sell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Person id (from [`crate::config::FIRST_PERSON_ID`]).
    pub id: i64,
    /// "First Last".
    pub name: String,
    /// E-mail address.
    pub email_address: String,
    /// Four groups of four digits.
    pub credit_card: String,
    /// City.
    pub city: String,
    /// US state code.
    pub state: String,
    /// Event time, ms since the epoch.
    pub date_time: i64,
    /// Padding to the average person size.
    pub extra: String,
}

/// A person puts an item up for auction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auction {
    /// Auction id (from [`crate::config::FIRST_AUCTION_ID`]).
    pub id: i64,
    /// Item name.
    pub item_name: String,
    /// Item description.
    pub description: String,
    /// Opening bid, cents.
    pub initial_bid: i64,
    /// Reserve price, cents.
    pub reserve: i64,
    /// Event time, ms since the epoch.
    pub date_time: i64,
    /// When the auction closes, ms since the epoch.
    pub expires: i64,
    /// The selling person's id.
    pub seller: i64,
    /// Category id.
    pub category: i64,
    /// Padding to the average auction size.
    pub extra: String,
}

/// A person bids on an auction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bid {
    /// The auction's id.
    pub auction: i64,
    /// The bidding person's id.
    pub bidder: i64,
    /// Price, cents.
    pub price: i64,
    /// Where the bid came from: one of four hot channels (`Google`, `Facebook`, `Baidu`,
    /// `Apple`) or `channel-N`.
    pub channel: String,
    /// The page the bid was made on; a `channel-N` page mostly carries `&channel_id=…`.
    pub url: String,
    /// Event time, ms since the epoch.
    pub date_time: i64,
    /// Padding to the average bid size.
    pub extra: String,
}

/// One generated event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new person.
    Person(Person),
    /// A new auction.
    Auction(Auction),
    /// A bid.
    Bid(Bid),
}

impl Event {
    /// Event time, ms since the epoch.
    pub fn date_time(&self) -> i64 {
        match self {
            Event::Person(p) => p.date_time,
            Event::Auction(a) => a.date_time,
            Event::Bid(b) => b.date_time,
        }
    }

    /// Which kind it is.
    pub fn kind(&self) -> Kind {
        match self {
            Event::Person(_) => Kind::Person,
            Event::Auction(_) => Kind::Auction,
            Event::Bid(_) => Kind::Bid,
        }
    }
}

/// The kind of an event, which is also the stream (and topic) it goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `person`.
    Person,
    /// `auction`.
    Auction,
    /// `bid`.
    Bid,
}

impl Kind {
    /// All kinds, in the order of their `event_type` numbers (0, 1, 2).
    pub const ALL: [Kind; 3] = [Kind::Person, Kind::Auction, Kind::Bid];

    /// The stream's (and default topic's) name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Person => "person",
            Kind::Auction => "auction",
            Kind::Bid => "bid",
        }
    }
}
