//! The Nexmark data model: an online auction's people, auctions and bids, and the queries' outputs.
//!
//! Field names follow the specification (`dateTime` → `date_time`, ...). Times are milliseconds since
//! the Unix epoch; prices are whole cents. The `extra` padding fields of the reference generators are
//! left out: they carry no information any query reads.

use dataflow_core::prelude::*;

/// A person who registered with the auction site.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Person {
    /// Person id, from 1000 on.
    pub id: u64,
    /// First and last name.
    pub name: String,
    /// E-mail address.
    pub email_address: String,
    /// Credit card number, four groups of four digits.
    pub credit_card: String,
    /// City of residence.
    pub city: String,
    /// US state of residence, upper case (`OR`, `ID`, `CA`, ...).
    pub state: String,
    /// Registration time, ms.
    pub date_time: u64,
}

/// An auction of one item.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Auction {
    /// Auction id, from 1000 on.
    pub id: u64,
    /// Name of the item.
    pub item_name: String,
    /// Description of the item.
    pub description: String,
    /// Opening price, cents.
    pub initial_bid: u64,
    /// Reserve price, cents.
    pub reserve: u64,
    /// Opening time, ms.
    pub date_time: u64,
    /// Closing time, ms (after `date_time`).
    pub expires: u64,
    /// The selling person's id.
    pub seller: u64,
    /// Category, 10 to 14.
    pub category: u64,
}

/// A bid on an auction.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Bid {
    /// The auction's id.
    pub auction: u64,
    /// The bidding person's id.
    pub bidder: u64,
    /// Price, cents.
    pub price: u64,
    /// The channel the bid came through (`Google`, `Facebook`, ... or `channel-N`).
    pub channel: String,
    /// The page the bid was placed on.
    pub url: String,
    /// Time of the bid, ms.
    pub date_time: u64,
}

/// One event of the auction site: a new person, a new auction or a bid.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Event {
    /// A person registered.
    Person(Person),
    /// An auction opened.
    Auction(Auction),
    /// A bid was placed.
    Bid(Bid),
}

impl Event {
    /// The event's time, ms.
    #[inline]
    pub fn date_time(&self) -> u64 {
        match self {
            Event::Person(p) => p.date_time,
            Event::Auction(a) => a.date_time,
            Event::Bid(b) => b.date_time,
        }
    }

    /// The person, if this event is one.
    #[inline]
    pub fn into_person(self) -> Option<Person> {
        match self {
            Event::Person(p) => Some(p),
            _ => None,
        }
    }

    /// The auction, if this event is one.
    #[inline]
    pub fn into_auction(self) -> Option<Auction> {
        match self {
            Event::Auction(a) => Some(a),
            _ => None,
        }
    }

    /// The bid, if this event is one.
    #[inline]
    pub fn into_bid(self) -> Option<Bid> {
        match self {
            Event::Bid(b) => Some(b),
            _ => None,
        }
    }
}

/// Query 3's output: a seller in Oregon, Idaho or California and one of their category-10 auctions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SellerAuction {
    /// The seller's name.
    pub name: String,
    /// The seller's city.
    pub city: String,
    /// The seller's state.
    pub state: String,
    /// The auction's id.
    pub auction: u64,
}

/// Query 5's output: the auction with the most bids in one sliding window.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HotItem {
    /// The window's first millisecond.
    pub window_start: u64,
    /// The first millisecond after the window.
    pub window_end: u64,
    /// The auction.
    pub auction: u64,
    /// Its number of bids in the window.
    pub bids: u64,
}

/// Query 7's output: the highest bid of one tumbling window.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HighestBid {
    /// The window's first millisecond.
    pub window_start: u64,
    /// The first millisecond after the window.
    pub window_end: u64,
    /// The bid's price, cents.
    pub price: u64,
    /// The bid's auction.
    pub auction: u64,
    /// The bidder.
    pub bidder: u64,
    /// The bid's time, ms.
    pub date_time: u64,
}

/// Query 8's output: a person who registered and opened an auction in the same tumbling window.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NewSeller {
    /// The person's id.
    pub id: u64,
    /// The person's name.
    pub name: String,
    /// The window's first millisecond.
    pub window_start: u64,
}

/// Query 12's output: one bidder's number of bids in one tumbling window.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BidderCount {
    /// The bidder.
    pub bidder: u64,
    /// The window's first millisecond.
    pub window_start: u64,
    /// The first millisecond after the window.
    pub window_end: u64,
    /// Bids in the window.
    pub bids: u64,
}
