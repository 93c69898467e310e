//! The article's stream processor: fraud detection over each user's transactions in event-time order.

use dataflow_core::decimal::Decimal;
use dataflow_core::prelude::*;
use std::collections::VecDeque;

/// One transaction: a CSV row `user_id,amount,ts` (`ts` is event time in milliseconds).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Transaction {
    /// Who paid.
    pub user_id: String,
    /// How much.
    #[serde(with = "dataflow_core::decimal")]
    pub amount: Decimal,
    /// When, in milliseconds since the Unix epoch.
    pub ts: u64,
}

/// An alert for one offending transaction.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Alert {
    /// The user.
    pub user_id: String,
    /// The transaction's event time.
    pub ts: u64,
    /// The transaction's amount.
    #[serde(with = "dataflow_core::decimal")]
    pub amount: Decimal,
    /// `"amount"` or `"velocity"`.
    pub reason: String,
}

/// How far back the velocity rule looks, ms.
pub const VELOCITY_WINDOW_MS: u64 = 60_000;
/// More than this many transactions inside the velocity window raise an alert.
pub const VELOCITY_LIMIT: usize = 5;
/// An amount more than this many times the user's mean raises an alert.
pub const AMOUNT_FACTOR: i64 = 10;

/// One user's history, as the rules need it: the count and total of earlier amounts, and the times of
/// the transactions inside the velocity window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    count: u64,
    total: Decimal,
    recent: VecDeque<u64>,
}

impl History {
    /// Applies the rules to the user's next transaction (in event-time order) and records it.
    ///
    /// `"amount"`: the amount is more than 10 × the mean of the user's earlier transactions (needs at
    /// least one). `"velocity"`: more than 5 of the user's transactions so far have `ts` in
    /// `(t − 60 s, t]`, this one included. A transaction matching both gets one alert, `"amount"`.
    pub fn check(&mut self, tx: &Transaction) -> Option<Alert> {
        // amount > factor × total / count, without dividing.
        let amount = self.count > 0
            && tx.amount * Decimal::from(self.count) > Decimal::from(AMOUNT_FACTOR) * self.total;
        self.recent.push_back(tx.ts);
        while self
            .recent
            .front()
            .is_some_and(|&front| front + VELOCITY_WINDOW_MS <= tx.ts)
        {
            self.recent.pop_front();
        }
        let velocity = self.recent.len() > VELOCITY_LIMIT;
        self.count += 1;
        self.total += tx.amount;
        let reason = if amount {
            "amount"
        } else if velocity {
            "velocity"
        } else {
            return None;
        };
        Some(Alert {
            user_id: tx.user_id.clone(),
            ts: tx.ts,
            amount: tx.amount,
            reason: reason.to_string(),
        })
    }
}

/// Alerts on transactions that break a user's usual pattern, per user in event-time order.
#[pipeline]
pub fn fraud_detection(transactions: Stream<Transaction>) -> Stream<Alert> {
    transactions
        .event_time(|t| t.ts)
        .key(|t| t.user_id.clone())
        .scan(History::default(), |history, tx, alerts| {
            alerts.extend(history.check(tx))
        })
}
