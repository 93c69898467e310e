//! The article's batch job: daily revenue and transaction count per product.

use chrono::NaiveDate;
use dataflow_core::decimal::Decimal;
use dataflow_core::prelude::*;

/// One sale: a CSV row `product,quantity,price,date` (`date` as `YYYY-MM-DD`, `price` a decimal).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Sale {
    /// What was sold.
    pub product: String,
    /// How many.
    pub quantity: i64,
    /// Unit price.
    #[serde(with = "dataflow_core::decimal")]
    pub price: Decimal,
    /// The day of the sale.
    #[serde(with = "dataflow_core::date")]
    pub date: NaiveDate,
}

/// One output row per product and day.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DailyTotal {
    /// The product.
    pub product: String,
    /// The day.
    #[serde(with = "dataflow_core::date")]
    pub date: NaiveDate,
    /// Sum of quantity × price over the day's sales of the product.
    #[serde(with = "dataflow_core::decimal")]
    pub total_revenue: Decimal,
    /// Number of sales.
    pub transaction_count: u64,
}

/// Daily revenue and number of transactions per product.
#[pipeline(key(product, date))]
pub fn daily_sales(sales: Stream<Sale>) -> Stream<DailyTotal> {
    sales
        .key_by(|s| ((s.product, s.date), Decimal::from(s.quantity) * s.price))
        .aggregate(|a| (a.sum(|revenue| *revenue), a.count()))
        .map(
            |((product, date), (total_revenue, transaction_count))| DailyTotal {
                product,
                date,
                total_revenue,
                transaction_count,
            },
        )
}

/// Daily revenue and number of transactions per product, counting only sales worth at least
/// `min_revenue` (quantity × price): a runtime parameter, given as `--param min_revenue=100`.
#[pipeline(key(product, date))]
pub fn large_sales(
    sales: Stream<Sale>,
    #[param(default = "0")] min_revenue: Decimal,
) -> Stream<DailyTotal> {
    sales
        .filter(|s| Decimal::from(s.quantity) * s.price >= min_revenue)
        .key_by(|s| ((s.product, s.date), Decimal::from(s.quantity) * s.price))
        .aggregate(|a| (a.sum(|revenue| *revenue), a.count()))
        .map(
            |((product, date), (total_revenue, transaction_count))| DailyTotal {
                product,
                date,
                total_revenue,
                transaction_count,
            },
        )
}
