//! The article's speed layer: revenue per product in event-time windows.

use dataflow_core::decimal::Decimal;
use dataflow_core::prelude::*;

/// One sale with its event time: a CSV row `product,quantity,price,ts` (`ts` in milliseconds).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimedSale {
    /// What was sold.
    pub product: String,
    /// How many.
    pub quantity: i64,
    /// Unit price.
    #[serde(with = "dataflow_core::decimal")]
    pub price: Decimal,
    /// When, in milliseconds since the Unix epoch.
    pub ts: u64,
}

/// Revenue and transaction count of one product in one window.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WindowTotal {
    /// The product.
    pub product: String,
    /// The window's first millisecond.
    pub window_start: u64,
    /// The first millisecond after the window.
    pub window_end: u64,
    /// Sum of quantity × price in the window.
    #[serde(with = "dataflow_core::decimal")]
    pub total_revenue: Decimal,
    /// Number of sales in the window.
    pub transaction_count: u64,
}

/// Revenue and number of sales per product per hour of event time (`--window` picks another window).
#[pipeline(key(product, window_start))]
pub fn windowed_sales(sales: Stream<TimedSale>) -> Stream<WindowTotal> {
    sales
        .event_time(|s| s.ts)
        .key(|s| s.product.clone())
        .window(Window::tumbling(Duration::from_secs(3600)))
        .aggregate(|a| (a.sum(|s| Decimal::from(s.quantity) * s.price), a.count()))
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
