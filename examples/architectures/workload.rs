//! The workload every architecture runs: timestamped sales, daily revenue per product. Version 1 of
//! the logic has a bug (its revenue adds up unit prices and forgets the quantity); version 2,
//! `dataflow_examples::DailySales`, fixes it. Events are generated deterministically from their
//! sequence number, and the oracle folds them with a hash map, independently of the runtime.

use chrono::NaiveDate;
use dataflow_core::decimal::Decimal;
use dataflow_core::prelude::*;
use dataflow_examples::{DailyTotal, Sale};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Version 1 of daily revenue per product: revenue adds up unit prices (the bug version 2 fixes).
#[pipeline(key(product, date))]
pub fn daily_sales_v1(sales: Stream<Sale>) -> Stream<DailyTotal> {
    sales
        .key_by(|s| ((s.product, s.date), s.price))
        .aggregate(|a| (a.sum(|price| *price), a.count()))
        .map(
            |((product, date), (total_revenue, transaction_count))| DailyTotal {
                product,
                date,
                total_revenue,
                transaction_count,
            },
        )
}

/// Days of sales: 2026-11-01 to 2026-11-28.
pub const DAYS: u64 = 28;

/// One sale, compactly: what the harness keeps of every event for the oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Product number.
    pub product: u16,
    /// Quantity, 1 to 4.
    pub quantity: u8,
    /// Unit price in cents.
    pub cents: u16,
    /// Day of November 2026, from 0.
    pub day: u8,
}

impl Event {
    /// The event number `seq` of a run over `products` products.
    pub fn generate(seq: u64, products: u16) -> Event {
        let mut x = seq.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        Event {
            product: (x % u64::from(products.max(1))) as u16,
            quantity: 1 + ((x >> 16) % 4) as u8,
            cents: 150 + ((x >> 24) % 300) as u16,
            day: ((x >> 40) % DAYS) as u8,
        }
    }

    /// The day as a date.
    pub fn date(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 1 + u32::from(self.day)).unwrap_or_default()
    }

    /// The event as the pipeline's input record.
    pub fn sale(&self) -> Sale {
        Sale {
            product: product_name(self.product),
            quantity: i64::from(self.quantity),
            price: Decimal::new(i64::from(self.cents), 2),
            date: self.date(),
        }
    }

    /// The sale's day as event time, ms since the Unix epoch.
    pub fn event_time(&self) -> u64 {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        u64::try_from((self.date() - epoch).num_milliseconds()).unwrap_or(0)
    }

    /// Appends the event as a JSON line, as `POST /v1/events` takes it.
    pub fn write_json(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "{{\"product\":\"{}\",\"quantity\":{},\"price\":{}.{:02},\"date\":\"{}\"}}",
            product_name(self.product),
            self.quantity,
            self.cents / 100,
            self.cents % 100,
            self.date()
        );
    }
}

/// A product's name.
pub fn product_name(product: u16) -> String {
    format!("product-{product:03}")
}

/// A view as the oracle and the harness compare it: (product, day) → (revenue in cents, count).
pub type ViewMap = BTreeMap<(u16, u8), (i64, u64)>;

/// Adds `event` to `view` as version `version` of the logic computes it.
pub fn fold(view: &mut ViewMap, version: u8, event: &Event) {
    let revenue = if version == 1 {
        i64::from(event.cents)
    } else {
        i64::from(event.cents) * i64::from(event.quantity)
    };
    let entry = view.entry((event.product, event.day)).or_default();
    entry.0 += revenue;
    entry.1 += 1;
}

/// The oracle: each version's view over a prefix of the events, advanced incrementally from the
/// last prefix asked for (recomputed from the start when asked for a shorter one).
#[derive(Default)]
pub struct Oracle {
    cached: [(u64, ViewMap); 2],
}

impl Oracle {
    /// Version `version`'s view over the first `upto` events; `fetch(from, to)` gives the events
    /// `[from, to)` it has not folded yet.
    pub fn view(
        &mut self,
        version: u8,
        upto: u64,
        fetch: impl FnOnce(u64, u64) -> Vec<Event>,
    ) -> &ViewMap {
        let slot = &mut self.cached[usize::from(version == 2)];
        if upto < slot.0 {
            *slot = (0, ViewMap::new());
        }
        for event in &fetch(slot.0, upto) {
            fold(&mut slot.1, version, event);
        }
        slot.0 = upto;
        &slot.1
    }
}

/// Reads a served answer's rows into a [`ViewMap`]; `None` names the first row it cannot read.
pub fn read_rows(rows: &[serde_json::Value]) -> Result<ViewMap, String> {
    let mut view = ViewMap::new();
    for row in rows {
        let bad = || format!("unexpected row {row}");
        let product = row["product"]
            .as_str()
            .and_then(|p| p.strip_prefix("product-"))
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(bad)?;
        let day = row["date"]
            .as_str()
            .and_then(|d| d.strip_prefix("2026-11-"))
            .and_then(|d| d.parse::<u8>().ok())
            .and_then(|d| d.checked_sub(1))
            .ok_or_else(bad)?;
        let cents = row["total_revenue"]
            .as_number()
            .and_then(|n| cents_of(&n.to_string()))
            .ok_or_else(bad)?;
        let count = row["transaction_count"].as_u64().ok_or_else(bad)?;
        view.insert((product, day), (cents, count));
    }
    Ok(view)
}

/// `12.5` → 1250, `3` → 300; `None` for more than two decimals or anything else.
fn cents_of(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 2 || text.contains(['e', 'E']) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<2}").parse().ok()?
    };
    Some(whole * 100 + if whole < 0 { -fraction } else { fraction })
}
