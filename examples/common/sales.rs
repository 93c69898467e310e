//! The generated sales the daily-sales benchmarks run on: `rows` sales over `products` products
//! (`product-00000` ...) and `days` days from 2024-01-01, at eight prices, the same for the same seed.

#![allow(dead_code)]

use super::rng::SplitMix64;
use chrono::{Days, NaiveDate};
use dataflow_core::decimal::Decimal;
use dataflow_examples::Sale;

/// The unit prices, cents.
pub const PRICES_CENTS: [i64; 8] = [99, 150, 499, 999, 1250, 2999, 4999, 19999];

/// `rows` sales over `products` products and `days` days, the same for the same seed.
pub fn generate(rows: usize, products: usize, days: usize, seed: u64) -> Vec<Sale> {
    let names: Vec<String> = (0..products).map(|p| format!("product-{p:05}")).collect();
    let first = NaiveDate::from_ymd_opt(2024, 1, 1).expect("a valid date");
    let dates: Vec<NaiveDate> = (0..days as u64)
        .map(|d| {
            first
                .checked_add_days(Days::new(d))
                .expect("a date in range")
        })
        .collect();
    let prices: Vec<Decimal> = PRICES_CENTS.iter().map(|&c| Decimal::new(c, 2)).collect();
    let mut rng = SplitMix64(seed);
    (0..rows)
        .map(|_| Sale {
            product: names[rng.below(names.len())].clone(),
            quantity: 1 + rng.below(5) as i64,
            price: prices[rng.below(prices.len())],
            date: dates[rng.below(dates.len())],
        })
        .collect()
}
