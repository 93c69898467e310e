use dataflow_core::prelude::*;

#[pipeline]
fn recent(clicks: Stream<(String, u64)>) -> Stream<(String, u64)> {
    clicks.event_time(|c| c.1).filter(|c| c.1 > 10)
}


fn main() {
    let out = Runner::<Recent>::new().batch(vec![("a".to_string(), 5), ("b".to_string(), 20)]).unwrap();
    assert_eq!(out.records, vec![(("b".to_string(), 20), 1)]);
}
