//! The queries as plain single-threaded Rust over a slice of events: the COST baseline ("a
//! Configuration that Outperforms a Single Thread") and the reference answer every other
//! implementation is checked against.
//!
//! Each function returns what a batch run of the query's pipeline returns: the consolidated output,
//! sorted, every record with its multiplicity.

use super::model::Bid;
use super::model::{BidderCount, Event, HighestBid, HotItem, NewSeller, SellerAuction};
use super::queries::{
    AUCTION_SKIP, HOT_SLIDE, HOT_WINDOW, TUMBLING_WINDOW, average_of_last, to_euro,
};
use dataflow_core::F64;
use std::collections::HashMap;

/// Sorts `records` and counts repeats: the form of a runner's output.
pub fn consolidate<O: Ord>(mut records: Vec<O>) -> Vec<(O, isize)> {
    records.sort_unstable();
    let mut out: Vec<(O, isize)> = Vec::with_capacity(records.len());
    for record in records {
        match out.last_mut() {
            Some((last, count)) if *last == record => *count += 1,
            _ => out.push((record, 1)),
        }
    }
    out
}

fn millis(d: std::time::Duration) -> u64 {
    d.as_millis() as u64
}

/// Query 0: every event.
pub fn q0(events: &[Event]) -> Vec<(Event, isize)> {
    consolidate(events.to_vec())
}

/// Query 1: every bid, price in euro cents.
pub fn q1(events: &[Event]) -> Vec<(Bid, isize)> {
    let mut out = Vec::new();
    for event in events {
        if let Event::Bid(b) = event {
            let mut b = b.clone();
            b.price = to_euro(b.price);
            out.push(b);
        }
    }
    consolidate(out)
}

/// Query 2: `(auction, price)` of the bids on every 123rd auction.
pub fn q2(events: &[Event]) -> Vec<((u64, u64), isize)> {
    let mut out = Vec::new();
    for event in events {
        if let Event::Bid(b) = event
            && b.auction % AUCTION_SKIP == 0
        {
            out.push((b.auction, b.price));
        }
    }
    consolidate(out)
}

/// Query 3: sellers in OR, ID or CA with their category-10 auctions.
pub fn q3(events: &[Event]) -> Vec<(SellerAuction, isize)> {
    let mut sellers: HashMap<u64, Vec<(&str, &str, &str)>> = HashMap::new();
    let mut auctions: Vec<(u64, u64)> = Vec::new();
    for event in events {
        match event {
            Event::Person(p) if matches!(p.state.as_str(), "OR" | "ID" | "CA") => sellers
                .entry(p.id)
                .or_default()
                .push((&p.name, &p.city, &p.state)),
            Event::Auction(a) if a.category == 10 => auctions.push((a.seller, a.id)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (seller, auction) in auctions {
        for (name, city, state) in sellers.get(&seller).into_iter().flatten() {
            out.push(SellerAuction {
                name: name.to_string(),
                city: city.to_string(),
                state: state.to_string(),
                auction,
            });
        }
    }
    consolidate(out)
}

/// The closing price of every auction with a bid in its lifetime: auction id → (auction, price).
fn closing_prices(events: &[Event]) -> HashMap<u64, (&super::model::Auction, u64)> {
    let mut auctions: HashMap<u64, &super::model::Auction> = HashMap::new();
    for event in events {
        if let Event::Auction(a) = event {
            auctions.insert(a.id, a);
        }
    }
    let mut closing: HashMap<u64, (&super::model::Auction, u64)> = HashMap::new();
    for event in events {
        if let Event::Bid(b) = event
            && let Some(a) = auctions.get(&b.auction)
            && a.date_time <= b.date_time
            && b.date_time <= a.expires
        {
            let best = closing.entry(a.id).or_insert((a, b.price));
            best.1 = best.1.max(b.price);
        }
    }
    closing
}

/// Query 4: `(category, mean closing price)`.
pub fn q4(events: &[Event]) -> Vec<((u64, F64), isize)> {
    let mut categories: HashMap<u64, (u64, u64)> = HashMap::new();
    for (auction, price) in closing_prices(events).values() {
        let entry = categories.entry(auction.category).or_default();
        entry.0 += price;
        entry.1 += 1;
    }
    consolidate(
        categories
            .into_iter()
            .map(|(category, (sum, count))| (category, F64(sum as f64 / count as f64)))
            .collect(),
    )
}

/// Query 5: per sliding window, the auction with the most bids.
pub fn q5(events: &[Event]) -> Vec<(HotItem, isize)> {
    let (size, slide) = (millis(HOT_WINDOW), millis(HOT_SLIDE));
    let mut counts: HashMap<(u64, u64), u64> = HashMap::new();
    for event in events {
        if let Event::Bid(b) = event {
            let mut start = b.date_time - b.date_time % slide;
            loop {
                if start + size > b.date_time {
                    *counts.entry((start, b.auction)).or_default() += 1;
                }
                if start < slide {
                    break;
                }
                start -= slide;
                if start + size <= b.date_time {
                    break;
                }
            }
        }
    }
    let mut best: HashMap<u64, (u64, std::cmp::Reverse<u64>)> = HashMap::new();
    for ((start, auction), bids) in counts {
        let candidate = (bids, std::cmp::Reverse(auction));
        let entry = best.entry(start).or_insert(candidate);
        *entry = (*entry).max(candidate);
    }
    consolidate(
        best.into_iter()
            .map(|(start, (bids, std::cmp::Reverse(auction)))| HotItem {
                window_start: start,
                window_end: start + size,
                auction,
                bids,
            })
            .collect(),
    )
}

/// Query 6: per seller, the average closing price of their last 10 closed auctions.
pub fn q6(events: &[Event]) -> Vec<((u64, u64), isize)> {
    let mut sellers: HashMap<u64, Vec<(u64, u64, u64)>> = HashMap::new();
    for (auction, price) in closing_prices(events).values() {
        sellers
            .entry(auction.seller)
            .or_default()
            .push((auction.expires, auction.id, *price));
    }
    consolidate(
        sellers
            .into_iter()
            .map(|(seller, mut sold)| {
                sold.sort_unstable();
                (seller, average_of_last(sold.iter()))
            })
            .collect(),
    )
}

/// Query 7: the highest bid per tumbling window.
pub fn q7(events: &[Event]) -> Vec<(HighestBid, isize)> {
    let size = millis(TUMBLING_WINDOW);
    let mut best: HashMap<u64, (u64, u64, u64, u64)> = HashMap::new();
    for event in events {
        if let Event::Bid(b) = event {
            let candidate = (b.price, b.auction, b.bidder, b.date_time);
            let entry = best
                .entry(b.date_time - b.date_time % size)
                .or_insert(candidate);
            *entry = (*entry).max(candidate);
        }
    }
    consolidate(
        best.into_iter()
            .map(|(start, (price, auction, bidder, date_time))| HighestBid {
                window_start: start,
                window_end: start + size,
                price,
                auction,
                bidder,
                date_time,
            })
            .collect(),
    )
}

/// Query 8: people who registered and opened an auction in the same tumbling window.
pub fn q8(events: &[Event]) -> Vec<(NewSeller, isize)> {
    let size = millis(TUMBLING_WINDOW);
    let mut people: HashMap<(u64, u64), &str> = HashMap::new();
    let mut sellers: std::collections::HashSet<(u64, u64)> = Default::default();
    for event in events {
        match event {
            Event::Person(p) => {
                let key = (p.id, p.date_time - p.date_time % size);
                let name = people.entry(key).or_insert(&p.name);
                *name = (*name).max(p.name.as_str());
            }
            Event::Auction(a) => {
                sellers.insert((a.seller, a.date_time - a.date_time % size));
            }
            Event::Bid(_) => {}
        }
    }
    consolidate(
        people
            .into_iter()
            .filter(|(key, _)| sellers.contains(key))
            .map(|((id, start), name)| NewSeller {
                id,
                name: name.to_string(),
                window_start: start,
            })
            .collect(),
    )
}

/// Query 12: bids per bidder per tumbling window.
pub fn q12(events: &[Event]) -> Vec<(BidderCount, isize)> {
    let size = millis(TUMBLING_WINDOW);
    let mut counts: HashMap<(u64, u64), u64> = HashMap::new();
    for event in events {
        if let Event::Bid(b) = event {
            *counts
                .entry((b.bidder, b.date_time - b.date_time % size))
                .or_default() += 1;
        }
    }
    consolidate(
        counts
            .into_iter()
            .map(|((bidder, start), bids)| BidderCount {
                bidder,
                window_start: start,
                window_end: start + size,
                bids,
            })
            .collect(),
    )
}
