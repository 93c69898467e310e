//! The queries written by hand directly on timely dataflow (stateless and windowed queries) and on
//! differential dataflow (joins and per-key reductions), as one would write each batch job for speed:
//! the baselines the generated pipelines are measured against.
//!
//! Every function starts `workers` timely workers, hands worker `i` the `i`-th contiguous part of the
//! events (as the runner does), feeds it in chunks of [`FEED_CHUNK`] events with a worker step after
//! each, and returns the consolidated output, sorted, like a runner's batch output. The windowed
//! operators are batch operators: they aggregate until their input is exhausted, then emit.

use super::cost::consolidate;
use super::model::{BidderCount, Event, HighestBid, HotItem, NewSeller, SellerAuction};
use super::queries::{
    AUCTION_SKIP, HOT_SLIDE, HOT_WINDOW, LAST_AUCTIONS, TUMBLING_WINDOW, to_euro,
};
use crate::baseline::{capture, execute};
use dataflow_core::F64;
use differential_dataflow::input::Input as _;
use differential_dataflow::{Hashable, VecCollection};
use std::collections::HashMap;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Capability, Input as _};
use timely::dataflow::{Scope, StreamVec};

/// A query's consolidated output, sorted, or the reason the run failed.
pub type Output<T> = Result<Vec<(T, isize)>, String>;

/// Events a worker inserts between two of its steps.
pub const FEED_CHUNK: usize = 1 << 16;

/// A timely job: builds its dataflow over a stream of events, feeds its part, returns the output.
fn timely_job<O, B>(events: Vec<Event>, workers: usize, build: B) -> Result<Vec<(O, isize)>, String>
where
    O: Ord + Send + 'static,
    B: for<'s> Fn(StreamVec<'s, u64, Event>) -> StreamVec<'s, u64, O> + Send + Sync + 'static,
{
    let batches = execute(events, workers, move |worker, part, sender| {
        let mut input = worker.dataflow::<u64, _, _>(|scope: Scope<'_, u64>| {
            let (input, stream) = scope.new_input::<Vec<Event>>();
            capture(build(stream), sender);
            input
        });
        let mut part = part.into_iter();
        loop {
            let mut chunk: Vec<Event> = part.by_ref().take(FEED_CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            input.send_batch(&mut chunk);
            worker.step();
        }
        input.close();
        while worker.step_or_park(None) {}
    })?;
    Ok(consolidate(batches.into_iter().flatten().collect()))
}

/// A differential job: builds its dataflow over a collection of events, feeds its part, returns the
/// consolidated output.
fn differential_job<O, B>(
    events: Vec<Event>,
    workers: usize,
    build: B,
) -> Result<Vec<(O, isize)>, String>
where
    O: differential_dataflow::ExchangeData,
    B: for<'s> Fn(VecCollection<'s, u64, Event>) -> VecCollection<'s, u64, O>
        + Send
        + Sync
        + 'static,
{
    let batches = execute(events, workers, move |worker, part, sender| {
        let mut input = worker.dataflow::<u64, _, _>(|scope: Scope<'_, u64>| {
            let (input, events) = scope.new_collection::<Event, isize>();
            capture(build(events).inner, sender);
            input
        });
        let mut part = part.into_iter();
        loop {
            let mut any = false;
            for event in part.by_ref().take(FEED_CHUNK) {
                input.insert(event);
                any = true;
            }
            if !any {
                break;
            }
            input.flush();
            worker.step();
        }
        input.close();
        while worker.step_or_park(None) {}
    })?;
    let mut updates: Vec<(O, isize)> = batches
        .into_iter()
        .flatten()
        .map(|(record, _time, diff)| (record, diff))
        .collect();
    updates.sort_unstable();
    let mut out: Vec<(O, isize)> = Vec::with_capacity(updates.len());
    for (record, diff) in updates {
        match out.last_mut() {
            Some((last, total)) if *last == record => *total += diff,
            _ => out.push((record, diff)),
        }
    }
    out.retain(|(_, diff)| *diff != 0);
    Ok(out)
}

/// A batch aggregation operator: exchanges records by `key`, folds them into a hash map with `fold`,
/// and emits the map through `emit` once its input is exhausted.
fn fold_all<'s, D, K, S, O>(
    stream: StreamVec<'s, u64, D>,
    name: &str,
    key: impl Fn(&D) -> u64 + 'static,
    mut fold: impl FnMut(&mut HashMap<K, S>, D) + 'static,
    mut emit: impl FnMut(K, S) -> O + 'static,
) -> StreamVec<'s, u64, O>
where
    D: timely::ExchangeData,
    K: std::hash::Hash + Eq + 'static,
    S: 'static,
    O: 'static,
{
    stream.unary_frontier::<CapacityContainerBuilder<Vec<O>>, _, _, _>(
        Exchange::new(move |d: &D| key(d)),
        name,
        |_capability, _info| {
            let mut state: HashMap<K, S> = HashMap::new();
            let mut held: Option<Capability<u64>> = None;
            move |(input, frontier), output| {
                input.for_each(|capability, data| {
                    if held.is_none() {
                        held = capability.retain_least(0);
                    }
                    for record in data.drain(..) {
                        fold(&mut state, record);
                    }
                });
                if frontier.is_empty()
                    && let Some(capability) = held.take()
                {
                    let mut session = output.session(&capability);
                    for (k, s) in state.drain() {
                        session.give(emit(k, s));
                    }
                }
            }
        },
    )
}

fn millis(d: std::time::Duration) -> u64 {
    d.as_millis() as u64
}

/// Query 0 on timely.
pub fn q0(events: Vec<Event>, workers: usize) -> Output<Event> {
    timely_job(events, workers, |events| events.map(|e| e))
}

/// Query 1 on timely.
pub fn q1(events: Vec<Event>, workers: usize) -> Output<super::Bid> {
    timely_job(events, workers, |events| {
        events.flat_map(|e| {
            e.into_bid().map(|mut b| {
                b.price = to_euro(b.price);
                b
            })
        })
    })
}

/// Query 2 on timely.
pub fn q2(events: Vec<Event>, workers: usize) -> Output<(u64, u64)> {
    timely_job(events, workers, |events| {
        events.flat_map(|e| match e {
            Event::Bid(b) if b.auction % AUCTION_SKIP == 0 => Some((b.auction, b.price)),
            _ => None,
        })
    })
}

/// Query 3 on differential: a join of filtered people and auctions.
pub fn q3(events: Vec<Event>, workers: usize) -> Output<SellerAuction> {
    differential_job(events, workers, |events| {
        let sellers = events.clone().flat_map(|e| match e {
            Event::Person(p) if matches!(p.state.as_str(), "OR" | "ID" | "CA") => {
                Some((p.id, (p.name, p.city, p.state)))
            }
            _ => None,
        });
        events
            .flat_map(|e| match e {
                Event::Auction(a) if a.category == 10 => Some((a.seller, a.id)),
                _ => None,
            })
            .join(sellers)
            .map(|(_, (auction, (name, city, state)))| SellerAuction {
                name,
                city,
                state,
                auction,
            })
    })
}

/// Closing prices on differential: `((auction, extra), price)`, `extra` taken from the auction.
fn closing<'s, X: differential_dataflow::ExchangeData + std::hash::Hash>(
    events: VecCollection<'s, u64, Event>,
    extra: fn(&super::Auction) -> X,
) -> VecCollection<'s, u64, ((u64, X), u64)> {
    let auctions = events.clone().flat_map(move |e| match e {
        Event::Auction(a) => Some((a.id, (a.date_time, a.expires, extra(&a)))),
        _ => None,
    });
    events
        .flat_map(|e| match e {
            Event::Bid(b) => Some((b.auction, (b.date_time, b.price))),
            _ => None,
        })
        .join(auctions)
        .filter(|(_, ((time, _), (opened, expires, _)))| opened <= time && time <= expires)
        .map(|(id, ((_, price), (_, _, x)))| ((id, x), price))
        .reduce(
            |_auction, prices: &[(&u64, isize)], out: &mut Vec<(u64, isize)>| {
                if let Some((max, _)) = prices.last() {
                    out.push((**max, 1));
                }
            },
        )
}

/// Query 4 on differential: join, maximum per auction, mean per category.
pub fn q4(events: Vec<Event>, workers: usize) -> Output<(u64, F64)> {
    differential_job(events, workers, |events| {
        closing(events, |a| a.category)
            .map(|((_, category), price)| (category, price))
            .reduce(
                |_category, prices: &[(&u64, isize)], out: &mut Vec<(F64, isize)>| {
                    let (mut sum, mut count) = (0u64, 0u64);
                    for (price, n) in prices {
                        sum += **price * *n as u64;
                        count += *n as u64;
                    }
                    out.push((F64(sum as f64 / count as f64), 1));
                },
            )
    })
}

/// Query 5 on timely: counts per auction and window exchanged by auction, then the top auction per
/// window exchanged by window.
pub fn q5(events: Vec<Event>, workers: usize) -> Output<HotItem> {
    let (size, slide) = (millis(HOT_WINDOW), millis(HOT_SLIDE));
    timely_job(events, workers, move |events| {
        let counts = fold_all(
            events.flat_map(|e| e.into_bid().map(|b| (b.auction, b.date_time))),
            "CountPerAuctionWindow",
            |(auction, _)| auction.hashed(),
            move |counts: &mut HashMap<(u64, u64), u64>, (auction, time)| {
                let last = time - time % slide;
                let mut start = last;
                loop {
                    if start + size > time {
                        *counts.entry((start, auction)).or_default() += 1;
                    }
                    if start < slide || start - slide + size <= time {
                        break;
                    }
                    start -= slide;
                }
            },
            |(start, auction), count| (start, auction, count),
        );
        fold_all(
            counts,
            "TopAuctionPerWindow",
            |(start, _, _)| start.hashed(),
            |best: &mut HashMap<u64, (u64, std::cmp::Reverse<u64>)>, (start, auction, count)| {
                let candidate = (count, std::cmp::Reverse(auction));
                let entry = best.entry(start).or_insert(candidate);
                *entry = (*entry).max(candidate);
            },
            move |start, (bids, std::cmp::Reverse(auction))| HotItem {
                window_start: start,
                window_end: start + size,
                auction,
                bids,
            },
        )
    })
}

/// Query 6 on differential: join, maximum per auction, last ten per seller.
pub fn q6(events: Vec<Event>, workers: usize) -> Output<(u64, u64)> {
    differential_job(events, workers, |events| {
        closing(events, |a| (a.seller, a.expires))
            .map(|((id, (seller, expires)), price)| (seller, (expires, id, price)))
            .reduce(
                |_seller, sold: &[(&(u64, u64, u64), isize)], out: &mut Vec<(u64, isize)>| {
                    let mut last: Vec<u64> = Vec::with_capacity(LAST_AUCTIONS);
                    'outer: for (sale, n) in sold.iter().rev() {
                        for _ in 0..*n {
                            if last.len() == LAST_AUCTIONS {
                                break 'outer;
                            }
                            last.push(sale.2);
                        }
                    }
                    out.push((last.iter().sum::<u64>() / last.len().max(1) as u64, 1));
                },
            )
            .map(|(seller, average)| (seller, average))
    })
}

/// Query 7 on timely: the highest bid per window, exchanged by window.
pub fn q7(events: Vec<Event>, workers: usize) -> Output<HighestBid> {
    let size = millis(TUMBLING_WINDOW);
    timely_job(events, workers, move |events| {
        fold_all(
            events.flat_map(|e| e.into_bid()),
            "HighestBid",
            move |b| (b.date_time - b.date_time % size).hashed(),
            move |best: &mut HashMap<u64, (u64, u64, u64, u64)>, b| {
                let candidate = (b.price, b.auction, b.bidder, b.date_time);
                let entry = best
                    .entry(b.date_time - b.date_time % size)
                    .or_insert(candidate);
                *entry = (*entry).max(candidate);
            },
            move |start, (price, auction, bidder, date_time)| HighestBid {
                window_start: start,
                window_end: start + size,
                price,
                auction,
                bidder,
                date_time,
            },
        )
    })
}

/// Query 8 on differential: people per window semi-joined with the sellers of the window.
pub fn q8(events: Vec<Event>, workers: usize) -> Output<NewSeller> {
    let size = millis(TUMBLING_WINDOW);
    differential_job(events, workers, move |events| {
        let sellers = events
            .clone()
            .flat_map(move |e| match e {
                Event::Auction(a) => Some((a.seller, a.date_time - a.date_time % size)),
                _ => None,
            })
            .distinct();
        events
            .flat_map(move |e| match e {
                Event::Person(p) => Some(((p.id, p.date_time - p.date_time % size), p.name)),
                _ => None,
            })
            .semijoin(sellers)
            .map(|((id, window_start), name)| NewSeller {
                id,
                name,
                window_start,
            })
    })
}

/// Query 12 on timely: bids per bidder and window, exchanged by bidder.
pub fn q12(events: Vec<Event>, workers: usize) -> Output<BidderCount> {
    let size = millis(TUMBLING_WINDOW);
    timely_job(events, workers, move |events| {
        fold_all(
            events.flat_map(move |e| {
                e.into_bid()
                    .map(|b| (b.bidder, b.date_time - b.date_time % size))
            }),
            "BidsPerBidder",
            |(bidder, _)| bidder.hashed(),
            |counts: &mut HashMap<(u64, u64), u64>, key| *counts.entry(key).or_default() += 1,
            move |(bidder, start), bids| BidderCount {
                bidder,
                window_start: start,
                window_end: start + size,
                bids,
            },
        )
    })
}
