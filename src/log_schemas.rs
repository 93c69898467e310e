//! How the example input types are stored in the event log: their schema versions, and how older
//! versions are read.
//!
//! [`Sale`] shows schema evolution: the first version stored the unit price as whole cents
//! ([`SaleV1`]); the current version (2) stores it as an exact decimal. A log written by the first
//! version is read by today's pipelines through [`Schema::upgrade`]; a record written by a newer
//! version than the reader knows is an error naming its offset.

use crate::{Line, Sale, TimedSale, Transaction};
use chrono::NaiveDate;
use dataflow_core::decimal::Decimal;
use dataflow_core::kappa::{DecodeError, Schema, upgrade_from};
use serde::{Deserialize, Serialize};

/// A sale as version 1 wrote it to the log: the unit price in whole cents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleV1 {
    /// What was sold.
    pub product: String,
    /// How many.
    pub quantity: i64,
    /// Unit price, cents.
    pub price_cents: i64,
    /// The day of the sale.
    pub date: NaiveDate,
}

impl Schema for SaleV1 {
    const VERSION: u32 = 1;
}

impl From<SaleV1> for Sale {
    fn from(old: SaleV1) -> Self {
        Sale {
            product: old.product,
            quantity: old.quantity,
            price: Decimal::new(old.price_cents, 2),
            date: old.date,
        }
    }
}

impl Schema for Sale {
    const VERSION: u32 = 2;

    fn upgrade(version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        match version {
            1 => upgrade_from::<SaleV1, Sale>(payload),
            other => Err(DecodeError::unsupported(other, Self::VERSION)),
        }
    }
}

impl Schema for Line {
    const VERSION: u32 = 1;
}

impl Schema for Transaction {
    const VERSION: u32 = 1;
}

impl Schema for TimedSale {
    const VERSION: u32 = 1;
}

impl Schema for crate::orders::Order {
    const VERSION: u32 = 1;
}

impl Schema for crate::orders::Customer {
    const VERSION: u32 = 1;
}

impl Schema for crate::nexmark::Event {
    const VERSION: u32 = 1;
}
