//! A deterministic Nexmark event generator, following the reference generator of the specification
//! (Apache Beam's `NexmarkUtils` / `GeneratorConfig`, also used by Flink's Nexmark suite).
//!
//! Event number `n` decides everything about event `n`: its kind, its ids and its time, and it seeds
//! the random choices of its other fields, so a run is the same for the same seed and configuration
//! however the events are produced.
//!
//! * **Kinds** come in epochs of 50 events: 1 person, 3 auctions, 46 bids (proportions 1 : 3 : 46).
//! * **Ids** start at 1000 for people and auctions; categories are 10 to 14.
//! * **Hot items**: a bid is for a *hot* auction with probability 1/2 (the latest multiple of 100 among
//!   the auction ids so far), by a hot bidder with probability 3/4; an auction's seller is a hot seller
//!   with probability 3/4. Otherwise the id is drawn among the last 1000 people (plus a lead of 10)
//!   or the 100 auctions in flight (plus a lead of 10).
//! * **Times**: event `n` happens at `base_time + n / rate` (`rate` events per second of event time),
//!   so events come in event-time order and the out-of-orderness is zero. The base time is fixed
//!   (2015-07-15T00:00:00Z), as in the reference generator, so runs are reproducible.
//! * **Auction lengths** are uniform in `[1, 2 × horizon]`, where the horizon is the time the next
//!   1,666 events take (the events in which 100 auctions open).
//! * **Prices** are `round(10^(6u) × 100)` cents for uniform `u`: one dollar to one million dollars.
//!
//! ```
//! use dataflow_examples::nexmark::{Event, GeneratorConfig, generate};
//!
//! let events = generate(&GeneratorConfig { events: 100, ..GeneratorConfig::default() });
//! assert!(matches!(events[0], Event::Person(_)));
//! assert!(matches!(events[1], Event::Auction(_)));
//! assert!(matches!(events[4], Event::Bid(_)));
//! assert!(events.windows(2).all(|w| w[0].date_time() <= w[1].date_time()));
//! ```

use super::model::{Auction, Bid, Event, Person};

/// The first person id.
pub const FIRST_PERSON_ID: u64 = 1000;
/// The first auction id.
pub const FIRST_AUCTION_ID: u64 = 1000;
/// The first category id.
pub const FIRST_CATEGORY_ID: u64 = 10;
/// The number of categories.
pub const NUM_CATEGORIES: u64 = 5;
/// People in each epoch of [`TOTAL_PROPORTION`] events.
pub const PERSON_PROPORTION: u64 = 1;
/// Auctions in each epoch.
pub const AUCTION_PROPORTION: u64 = 3;
/// Bids in each epoch.
pub const BID_PROPORTION: u64 = 46;
/// Events in an epoch.
pub const TOTAL_PROPORTION: u64 = PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION;
/// The reference generator's base time: 2015-07-15T00:00:00Z, ms.
pub const BASE_TIME: u64 = 1_436_918_400_000;

const NUM_ACTIVE_PEOPLE: u64 = 1000;
const NUM_IN_FLIGHT_AUCTIONS: u64 = 100;
const PERSON_ID_LEAD: u64 = 10;
const AUCTION_ID_LEAD: u64 = 10;
const HOT_AUCTION_RATIO: u64 = 100;
const HOT_SELLER_RATIO: u64 = 100;
const HOT_BIDDER_RATIO: u64 = 100;
/// One in `HOT_AUCTIONS_PROB` bids is for a cold auction.
const HOT_AUCTIONS_PROB: u64 = 2;
/// One in `HOT_SELLERS_PROB` auctions is by a cold seller.
const HOT_SELLERS_PROB: u64 = 4;
/// One in `HOT_BIDDERS_PROB` bids is by a cold bidder.
const HOT_BIDDERS_PROB: u64 = 4;
/// One in `HOT_CHANNELS_PROB` bids comes through a cold channel.
const HOT_CHANNELS_PROB: u64 = 10;

const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// Number of events.
    pub events: u64,
    /// Events per second of event time (the reference default is 10,000).
    pub rate: u64,
    /// The time of event 0, ms.
    pub base_time: u64,
    /// Seed of the random choices.
    pub seed: u64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            events: 100_000,
            rate: 10_000,
            base_time: BASE_TIME,
            seed: 0,
        }
    }
}

impl GeneratorConfig {
    /// The time of event `n`, ms.
    pub fn time_of(&self, n: u64) -> u64 {
        let micros = u128::from(n) * 1_000_000 / u128::from(self.rate.max(1));
        self.base_time + (micros / 1000) as u64
    }
}

/// SplitMix64, seeded per event.
struct Random(u64);

impl Random {
    fn for_event(seed: u64, n: u64) -> Random {
        let mut r = Random(seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next();
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// Lower-case letters, between 3 and `max` of them.
    fn string(&mut self, max: u64) -> String {
        let len = 3 + self.below(max.saturating_sub(3) + 1);
        (0..len)
            .map(|_| char::from(b'a' + self.below(26) as u8))
            .collect()
    }

    /// `round(10^(6u) × 100)` cents.
    fn price(&mut self) -> u64 {
        (10f64.powf(self.unit() * 6.0) * 100.0).round() as u64
    }
}

/// The base-0 id of the last person created at or before event `n`.
#[expect(
    clippy::unnecessary_min_or_max,
    reason = "the specification's formula, kept general in the proportions"
)]
fn last_base0_person_id(n: u64) -> u64 {
    let epoch = n / TOTAL_PROPORTION;
    let offset = (n % TOTAL_PROPORTION).min(PERSON_PROPORTION - 1);
    epoch * PERSON_PROPORTION + offset
}

/// The base-0 id of the last auction created at or before event `n` (saturating at 0).
fn last_base0_auction_id(n: u64) -> u64 {
    let mut epoch = n / TOTAL_PROPORTION;
    let mut offset = n % TOTAL_PROPORTION;
    if offset < PERSON_PROPORTION {
        if epoch == 0 {
            return 0;
        }
        epoch -= 1;
        offset = AUCTION_PROPORTION - 1;
    } else if offset >= PERSON_PROPORTION + AUCTION_PROPORTION {
        offset = AUCTION_PROPORTION - 1;
    } else {
        offset -= PERSON_PROPORTION;
    }
    epoch * AUCTION_PROPORTION + offset
}

/// A person among the active ones (and a few not created yet).
fn next_base0_person_id(n: u64, random: &mut Random) -> u64 {
    let people = last_base0_person_id(n) + 1;
    let active = people.min(NUM_ACTIVE_PEOPLE);
    people - active + random.below(active + PERSON_ID_LEAD)
}

/// An auction among the ones in flight (and a few not created yet).
fn next_base0_auction_id(n: u64, random: &mut Random) -> u64 {
    let max = last_base0_auction_id(n);
    let min = max.saturating_sub(NUM_IN_FLIGHT_AUCTIONS);
    min + random.below(max - min + 1 + AUCTION_ID_LEAD)
}

/// Event `n` of the configured stream.
pub fn event(config: &GeneratorConfig, n: u64) -> Event {
    let mut random = Random::for_event(config.seed, n);
    let time = config.time_of(n);
    let offset = n % TOTAL_PROPORTION;
    if offset < PERSON_PROPORTION {
        let name = format!("{} {}", random.pick(&FIRST_NAMES), random.pick(&LAST_NAMES));
        let email_address = format!("{}@{}.com", random.string(7), random.string(5));
        let credit_card = (0..4)
            .map(|_| format!("{:04}", random.below(10_000)))
            .collect::<Vec<_>>()
            .join(" ");
        Event::Person(Person {
            id: last_base0_person_id(n) + FIRST_PERSON_ID,
            name,
            email_address,
            credit_card,
            city: random.pick(&US_CITIES).to_string(),
            state: random.pick(&US_STATES).to_string(),
            date_time: time,
        })
    } else if offset < PERSON_PROPORTION + AUCTION_PROPORTION {
        let seller = if random.below(HOT_SELLERS_PROB) > 0 {
            (last_base0_person_id(n) / HOT_SELLER_RATIO) * HOT_SELLER_RATIO
        } else {
            next_base0_person_id(n, &mut random)
        };
        let category = FIRST_CATEGORY_ID + random.below(NUM_CATEGORIES);
        let initial_bid = random.price();
        let events_for_auctions = NUM_IN_FLIGHT_AUCTIONS * TOTAL_PROPORTION / AUCTION_PROPORTION;
        let horizon = config.time_of(n + events_for_auctions) - time;
        let expires = time + 1 + random.below((horizon * 2).max(1));
        let item_name = random.string(20);
        let description = random.string(100);
        let reserve = initial_bid + random.price();
        Event::Auction(Auction {
            id: last_base0_auction_id(n) + FIRST_AUCTION_ID,
            item_name,
            description,
            initial_bid,
            reserve,
            date_time: time,
            expires,
            seller: seller + FIRST_PERSON_ID,
            category,
        })
    } else {
        let auction = if random.below(HOT_AUCTIONS_PROB) > 0 {
            (last_base0_auction_id(n) / HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO
        } else {
            next_base0_auction_id(n, &mut random)
        };
        let bidder = if random.below(HOT_BIDDERS_PROB) > 0 {
            (last_base0_person_id(n) / HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1
        } else {
            next_base0_person_id(n, &mut random)
        };
        let price = random.price();
        let (channel, url) = if random.below(HOT_CHANNELS_PROB) > 0 {
            let channel = random.pick(&HOT_CHANNELS);
            let url = format!("https://www.nexmark.com/{channel}/item.htm?query=1");
            (channel.to_string(), url)
        } else {
            let channel = random.below(10_000);
            let url = format!(
                "https://www.nexmark.com/{}/{}/item.htm?query=1&channel_id={channel}",
                random.string(5),
                random.string(5)
            );
            (format!("channel-{channel}"), url)
        };
        Event::Bid(Bid {
            auction: auction + FIRST_AUCTION_ID,
            bidder: bidder + FIRST_PERSON_ID,
            price,
            channel,
            url,
            date_time: time,
        })
    }
}

/// The first `config.events` events, in event-time order.
pub fn generate(config: &GeneratorConfig) -> Vec<Event> {
    (0..config.events).map(|n| event(config, n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportions_and_ids_follow_the_specification() {
        let config = GeneratorConfig {
            events: 50_000,
            ..GeneratorConfig::default()
        };
        let events = generate(&config);
        let people = events
            .iter()
            .filter(|e| matches!(e, Event::Person(_)))
            .count();
        let auctions = events
            .iter()
            .filter(|e| matches!(e, Event::Auction(_)))
            .count();
        assert_eq!((people, auctions), (1000, 3000));
        let Event::Person(first) = &events[0] else {
            panic!("event 0 is a person")
        };
        assert_eq!(first.id, FIRST_PERSON_ID);
        let Event::Auction(a) = &events[1] else {
            panic!("event 1 is an auction")
        };
        assert_eq!(a.id, FIRST_AUCTION_ID);
        assert!(events.iter().all(|e| match e {
            Event::Auction(a) => (10..15).contains(&a.category) && a.expires > a.date_time,
            Event::Bid(b) => (100..=100_000_000).contains(&b.price),
            Event::Person(p) => US_STATES.contains(&p.state.as_str()),
        }));
        assert_eq!(events[49_999].date_time(), BASE_TIME + 4_999);
        assert_eq!(
            generate(&config),
            events,
            "the same seed gives the same events"
        );
    }

    #[test]
    fn about_half_the_bids_are_for_hot_auctions() {
        let events = generate(&GeneratorConfig {
            events: 20_000,
            ..GeneratorConfig::default()
        });
        let bids: Vec<&Bid> = events
            .iter()
            .filter_map(|e| match e {
                Event::Bid(b) => Some(b),
                _ => None,
            })
            .collect();
        let hot = bids
            .iter()
            .filter(|b| (b.auction - FIRST_AUCTION_ID).is_multiple_of(HOT_AUCTION_RATIO))
            .count();
        let share = hot as f64 / bids.len() as f64;
        assert!((0.45..0.6).contains(&share), "{share}");
    }
}
