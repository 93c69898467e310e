use dataflow_core::prelude::*;

#[pipeline]
fn orders_with_names(
    customers: Stream<(u32, String)>,
    orders: Stream<(u32, u64)>,
) -> Stream<(String, u64)> {
    let named = customers.key(|c| c.0);
    orders
        .key(|o| o.0)
        .join(named)
        .map(|(_id, (order, customer))| (customer.1, order.1))
}

fn main() {
    let output = Runner::<OrdersWithNames>::new()
        .batch((vec![(1, "ada".to_string()), (2, "bob".to_string())], vec![(1, 10), (1, 5), (3, 7)]))
        .unwrap();
    assert_eq!(output.records, vec![(("ada".to_string(), 5), 1), (("ada".to_string(), 10), 1)]);
}
