//! A two-input pipeline: revenue per country, from orders joined with the customers who placed them.

use dataflow_core::decimal::Decimal;
use dataflow_core::prelude::*;

/// One order: a CSV row `order_id,customer_id,amount`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Order {
    /// The order's id.
    pub order_id: u64,
    /// Who placed it.
    pub customer_id: u64,
    /// What it was worth.
    #[serde(with = "dataflow_core::decimal")]
    pub amount: Decimal,
}

/// One customer: a CSV row `customer_id,country`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Customer {
    /// The customer's id.
    pub customer_id: u64,
    /// Where the customer lives.
    pub country: String,
}

/// Revenue and number of orders per country.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CountryTotal {
    /// The country.
    pub country: String,
    /// Sum of the amounts of the orders placed from it.
    #[serde(with = "dataflow_core::decimal")]
    pub revenue: Decimal,
    /// Number of those orders.
    pub orders: u64,
}

/// Revenue and number of orders per customer country: orders joined with customers on the
/// customer's id.
#[pipeline(key(country))]
pub fn country_revenue(orders: Stream<Order>, customers: Stream<Customer>) -> Stream<CountryTotal> {
    let countries = customers.key_by(|c| (c.customer_id, c.country));
    orders
        .key_by(|o| (o.customer_id, o.amount))
        .join(countries)
        .key_by(|(_customer, (amount, country))| (country, amount))
        .aggregate(|a| (a.sum(|amount| *amount), a.count()))
        .map(|(country, (revenue, orders))| CountryTotal {
            country,
            revenue,
            orders,
        })
}
