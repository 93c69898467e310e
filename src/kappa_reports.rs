//! Two versions of a sales report, for the Kappa reprocessing example: version 1 shipped with a bug
//! (its revenue adds up unit prices and forgets the quantity); version 2 fixes it. Deployed over the
//! same event log, version 2 recomputes history from offset 0 and takes over the served view.

use crate::Sale;
use dataflow_core::decimal::Decimal;
use dataflow_core::prelude::*;

/// Sales and revenue of one product, all time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProductReport {
    /// The product.
    pub product: String,
    /// Number of sales.
    pub sales: u64,
    /// Revenue.
    #[serde(with = "dataflow_core::decimal")]
    pub revenue: Decimal,
}

/// Version 1: sales and revenue per product, with revenue summing unit prices (the bug).
#[pipeline]
pub fn product_report_v1(sales: Stream<Sale>) -> Stream<ProductReport> {
    sales
        .key_by(|s| (s.product, s.price))
        .aggregate(|a| (a.count(), a.sum(|price| *price)))
        .map(|(product, (sales, revenue))| ProductReport {
            product,
            sales,
            revenue,
        })
}

/// Version 2: sales and revenue per product, revenue being quantity × unit price.
#[pipeline]
pub fn product_report_v2(sales: Stream<Sale>) -> Stream<ProductReport> {
    sales
        .key_by(|s| (s.product, Decimal::from(s.quantity) * s.price))
        .aggregate(|a| (a.count(), a.sum(|revenue| *revenue)))
        .map(|(product, (sales, revenue))| ProductReport {
            product,
            sales,
            revenue,
        })
}
