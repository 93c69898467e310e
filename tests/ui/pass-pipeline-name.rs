use dataflow_core::prelude::*;

/// The output record has the name the function would give the pipeline type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CountryRevenue {
    country: String,
    revenue: u64,
}

#[pipeline(name = "RevenueJob", key(country))]
fn country_revenue(orders: Stream<(String, u64)>) -> Stream<CountryRevenue> {
    orders
        .key_by(|o| (o.0, o.1))
        .sum(|revenue| *revenue)
        .map(|(country, revenue)| CountryRevenue { country, revenue })
}

fn main() {
    // The pipeline keeps the function's name; only the type is named as asked.
    assert_eq!(<RevenueJob as Pipeline>::NAME, "country_revenue");
    let output = Runner::<RevenueJob>::new()
        .batch(vec![("NL".to_string(), 2), ("NL".to_string(), 3)])
        .unwrap();
    assert_eq!(
        output.expanded(),
        vec![CountryRevenue { country: "NL".into(), revenue: 5 }]
    );
}
