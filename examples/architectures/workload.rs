//! The workload every architecture runs: timestamped sales, with daily revenue per product
//! ([`Kind::Daily`]) or revenue per product per hour of event time ([`Kind::Windowed`]). Version 1
//! of the logic has a bug (its revenue adds up unit prices and forgets the quantity); version 2,
//! `dataflow_examples::DailySales` or `WindowedSales`, fixes it. Events are generated
//! deterministically from their sequence number, and the oracle folds them with a hash map,
//! independently of the runtime.

use chrono::NaiveDate;
use dataflow_core::decimal::Decimal;
use dataflow_core::prelude::*;
use dataflow_examples::{DailyTotal, Sale, TimedSale, WindowTotal};
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

/// Version 1 of revenue per product per hour of event time: revenue adds up unit prices (the bug
/// version 2 fixes).
#[pipeline(key(product, window_start))]
pub fn windowed_sales_v1(sales: Stream<TimedSale>) -> Stream<WindowTotal> {
    sales
        .event_time(|s| s.ts)
        .key(|s| s.product.clone())
        .window(Window::tumbling(Duration::from_secs(3600)))
        .aggregate(|a| (a.sum(|s| s.price), a.count()))
        .map(
            |((product, window), (total_revenue, transaction_count))| WindowTotal {
                product,
                window_start: window.start,
                window_end: window.end,
                total_revenue,
                transaction_count,
            },
        )
}

/// Which view the workload computes.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Daily revenue per product (`daily_sales`): 28 days.
    Daily,
    /// Revenue per product per hour of event time (`windowed_sales`): 28 hours, out of order.
    Windowed,
}

impl Kind {
    /// The file name stem of the matrix it writes.
    pub fn stem(self) -> &'static str {
        match self {
            Kind::Daily => "architectures",
            Kind::Windowed => "architectures-windowed",
        }
    }

    /// In words.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Daily => {
                "daily_sales (version 1: revenue = Σ price, the bug; version 2: Σ quantity × price)"
            }
            Kind::Windowed => {
                "windowed_sales, hourly tumbling windows of event time, served as they change (version 1: revenue = Σ price, the bug; version 2: Σ quantity × price)"
            }
        }
    }
}

/// Days (daily) or hours (windowed) of sales.
pub const DAYS: u64 = 28;

/// The windowed workload's first hour: 2026-11-01T00:00Z, ms.
pub const FIRST_HOUR_MS: u64 = 1_793_491_200_000;

/// The windowed workload's hours are at most this far out of order.
pub const MAX_DELAY: Duration = Duration::from_secs(2 * 86_400);

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

    /// The windowed workload's record: its day number is the hour of the event time.
    pub fn timed_sale(&self) -> TimedSale {
        TimedSale {
            product: product_name(self.product),
            quantity: i64::from(self.quantity),
            price: Decimal::new(i64::from(self.cents), 2),
            ts: self.ts(),
        }
    }

    /// The windowed workload's event time, ms.
    pub fn ts(&self) -> u64 {
        let within =
            (u64::from(self.cents) * 7_919 + u64::from(self.product) * 104_729) % 3_600_000;
        FIRST_HOUR_MS + u64::from(self.day) * 3_600_000 + within
    }

    /// Appends the event as a JSON line, as `POST /v1/events` takes it.
    pub fn write_json(&self, kind: Kind, out: &mut String) {
        if kind == Kind::Windowed {
            let _ = writeln!(
                out,
                "{{\"product\":\"{}\",\"quantity\":{},\"price\":{}.{:02},\"ts\":{}}}",
                product_name(self.product),
                self.quantity,
                self.cents / 100,
                self.cents % 100,
                self.ts()
            );
            return;
        }
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

/// Reads a served answer's rows into a [`ViewMap`]; the error names the first row it cannot read.
pub fn read_rows(kind: Kind, rows: &[serde_json::Value]) -> Result<ViewMap, String> {
    let mut view = ViewMap::new();
    for row in rows {
        let bad = || format!("unexpected row {row}");
        let product = row["product"]
            .as_str()
            .and_then(|p| p.strip_prefix("product-"))
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(bad)?;
        let day = match kind {
            Kind::Daily => row["date"]
                .as_str()
                .and_then(|d| d.strip_prefix("2026-11-"))
                .and_then(|d| d.parse::<u8>().ok())
                .and_then(|d| d.checked_sub(1)),
            Kind::Windowed => row["window_start"]
                .as_u64()
                .and_then(|t| t.checked_sub(FIRST_HOUR_MS))
                .filter(|t| t % 3_600_000 == 0)
                .and_then(|t| u8::try_from(t / 3_600_000).ok()),
        }
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
