//! Nexmark queries 0–8 and 12, each declared once with `#[pipeline]` over the one stream of events.
//!
//! Closing price (queries 4 and 6): the highest price among the bids on the auction whose time lies in
//! `[auction.date_time, auction.expires]`, both ends included (as in the Nexmark SQL of the Flink
//! suite; the reserve price is not checked). An auction without such a bid has no closing price. The
//! queries compute it as a join of auctions and bids, so a stream refines it as bids arrive (a
//! retraction and the new value) and the consolidated answer equals the batch answer over the same
//! events.

use super::model::{BidderCount, Event, HighestBid, HotItem, NewSeller, SellerAuction};
use dataflow_core::prelude::*;
use std::cmp::Reverse;

/// Size of the tumbling windows of queries 7, 8 and 12.
pub const TUMBLING_WINDOW: Duration = Duration::from_secs(10);
/// Size of query 5's sliding windows.
pub const HOT_WINDOW: Duration = Duration::from_secs(10);
/// Slide of query 5's sliding windows.
pub const HOT_SLIDE: Duration = Duration::from_secs(2);
/// Query 2 keeps the bids on auctions whose id is a multiple of this.
pub const AUCTION_SKIP: u64 = 123;
/// Query 6 averages each seller's last this many closed auctions.
pub const LAST_AUCTIONS: usize = 10;

/// Dollars to euros at 0.908 € per $, in whole cents (rounded down).
#[inline]
pub fn to_euro(cents: u64) -> u64 {
    cents * 908 / 1000
}

/// Query 6: the average (rounded down) of the closing prices of the last [`LAST_AUCTIONS`] of `sold`,
/// which holds `(expires, auction, closing price)` in ascending order.
pub fn average_of_last<'a>(sold: impl ExactSizeIterator<Item = &'a (u64, u64, u64)>) -> u64 {
    let len = sold.len();
    let last: Vec<u64> = sold
        .skip(len.saturating_sub(LAST_AUCTIONS))
        .map(|s| s.2)
        .collect();
    last.iter().sum::<u64>() / last.len().max(1) as u64
}

/// Query 0, pass-through: every event, unchanged. Measures the cost of moving events through.
#[pipeline]
pub fn q0(events: Stream<Event>) -> Stream<Event> {
    events.map(|e| e)
}

/// Query 1, currency conversion: every bid with its price in euro cents.
#[pipeline]
pub fn q1(events: Stream<Event>) -> Stream<super::model::Bid> {
    events.filter_map(|e| e.into_bid()).map(|mut b| {
        b.price = to_euro(b.price);
        b
    })
}

/// Query 2, selection: `(auction, price)` of the bids on every 123rd auction.
#[pipeline]
pub fn q2(events: Stream<Event>) -> Stream<(u64, u64)> {
    events.filter_map(|e| match e {
        Event::Bid(b) if b.auction % AUCTION_SKIP == 0 => Some((b.auction, b.price)),
        _ => None,
    })
}

/// Query 3, local item suggestion: sellers in Oregon, Idaho or California with their category-10
/// auctions.
#[pipeline]
pub fn q3(events: Stream<Event>) -> Stream<SellerAuction> {
    let sellers = events.filter_map(|e| match e {
        Event::Person(p) if matches!(p.state.as_str(), "OR" | "ID" | "CA") => {
            Some((p.id, (p.name, p.city, p.state)))
        }
        _ => None,
    });
    events
        .filter_map(|e| match e {
            Event::Auction(a) if a.category == 10 => Some((a.seller, a.id)),
            _ => None,
        })
        .key_by(|pair| pair)
        .join(sellers.key_by(|pair| pair))
        .map(|(_seller, (auction, (name, city, state)))| SellerAuction {
            name,
            city,
            state,
            auction,
        })
}

/// Query 4, average closing price per category: `(category, mean closing price in cents)`.
#[pipeline]
pub fn q4(events: Stream<Event>) -> Stream<(u64, F64)> {
    let auctions = events.filter_map(|e| match e {
        Event::Auction(a) => Some((a.id, (a.date_time, a.expires, a.category))),
        _ => None,
    });
    events
        .filter_map(|e| match e {
            Event::Bid(b) => Some((b.auction, (b.date_time, b.price))),
            _ => None,
        })
        .key_by(|pair| pair)
        .join(auctions.key_by(|pair| pair))
        .filter(|(_, ((time, _), (opened, expires, _)))| opened <= time && time <= expires)
        .key_by(|(id, ((_, price), (_, _, category)))| ((id, category), price))
        .max(|price| *price)
        .key_by(|((_, category), price)| (category, price))
        .mean(|price| *price)
}

/// Query 5, hot items: per sliding window (10 s, every 2 s), the auction with the most bids (ties: the
/// smallest auction id).
#[pipeline]
pub fn q5(events: Stream<Event>) -> Stream<HotItem> {
    events
        .event_time(|e| e.date_time())
        .filter_map(|e| e.into_bid())
        .key_by(|b| (b.auction, ()))
        .window(Window::sliding(HOT_WINDOW, HOT_SLIDE))
        .count()
        .key_by(|((auction, window), bids)| (window, (bids, Reverse(auction))))
        .max(|top| *top)
        .map(|(window, (bids, Reverse(auction)))| HotItem {
            window_start: window.start,
            window_end: window.end,
            auction,
            bids,
        })
}

/// Query 6, average selling price by seller: per seller, the average closing price of their last 10
/// closed auctions (by expiry time, then id), rounded down to a cent.
#[pipeline]
pub fn q6(events: Stream<Event>) -> Stream<(u64, u64)> {
    let auctions = events.filter_map(|e| match e {
        Event::Auction(a) => Some((a.id, (a.date_time, a.expires, a.seller))),
        _ => None,
    });
    events
        .filter_map(|e| match e {
            Event::Bid(b) => Some((b.auction, (b.date_time, b.price))),
            _ => None,
        })
        .key_by(|pair| pair)
        .join(auctions.key_by(|pair| pair))
        .filter(|(_, ((time, _), (opened, expires, _)))| opened <= time && time <= expires)
        .key_by(|(id, ((_, price), (_, expires, seller)))| ((id, seller, expires), price))
        .max(|price| *price)
        .key_by(|((id, seller, expires), price)| (seller, (expires, id, price)))
        .reduce(|seller, sold| {
            (
                *seller,
                average_of_last(sold.iter().collect::<Vec<_>>().into_iter()),
            )
        })
}

/// Query 7, highest bid: per tumbling window of 10 s, the bid with the highest price (ties: the
/// greatest auction id, then bidder, then time).
#[pipeline]
pub fn q7(events: Stream<Event>) -> Stream<HighestBid> {
    events
        .event_time(|e| e.date_time())
        .filter_map(|e| e.into_bid())
        .key_by(|b| ((), (b.price, b.auction, b.bidder, b.date_time)))
        .window(Window::tumbling(TUMBLING_WINDOW))
        .max(|bid| *bid)
        .map(
            |(((), window), (price, auction, bidder, date_time))| HighestBid {
                window_start: window.start,
                window_end: window.end,
                price,
                auction,
                bidder,
                date_time,
            },
        )
}

/// Query 8, monitor new users: people who registered and opened an auction in the same tumbling
/// window of 10 s.
#[pipeline]
pub fn q8(events: Stream<Event>) -> Stream<NewSeller> {
    let people = events
        .event_time(|e| e.date_time())
        .filter_map(|e| e.into_person())
        .key_by(|p| (p.id, p.name))
        .window(Window::tumbling(TUMBLING_WINDOW))
        .max(|name| name.clone());
    events
        .event_time(|e| e.date_time())
        .filter_map(|e| e.into_auction())
        .key_by(|a| (a.seller, ()))
        .window(Window::tumbling(TUMBLING_WINDOW))
        .count()
        .key_by(|(seller_window, _auctions)| (seller_window, ()))
        .join(people.key_by(|pair| pair))
        .map(|((id, window), ((), name))| NewSeller {
            id,
            name,
            window_start: window.start,
        })
}

/// Query 12, bids per bidder in event-time tumbling windows of 10 s.
#[pipeline]
pub fn q12(events: Stream<Event>) -> Stream<BidderCount> {
    events
        .event_time(|e| e.date_time())
        .filter_map(|e| e.into_bid())
        .key_by(|b| (b.bidder, ()))
        .window(Window::tumbling(TUMBLING_WINDOW))
        .count()
        .map(|((bidder, window), bids)| BidderCount {
            bidder,
            window_start: window.start,
            window_end: window.end,
            bids,
        })
}
