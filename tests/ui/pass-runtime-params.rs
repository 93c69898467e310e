use dataflow_core::prelude::*;

/// Views at or after `min_ts` of pages under `prefix`, counted per URL with a weight.
#[pipeline]
fn recent(
    views: Stream<(String, u64)>,
    min_ts: u64,
    #[param(default = "/")] prefix: String,
    #[param(default = 2)] weight: u64,
) -> Stream<(String, u64)> {
    views
        .filter(|v| v.1 >= min_ts && v.0.starts_with(&prefix))
        .key(|v| v.0.clone())
        .aggregate(|a| a.sum(|v| v.1 * weight))
        .filter(|(url, _)| url.starts_with(&prefix))
}

fn main() {
    let views = vec![("/a".to_string(), 5), ("/b".to_string(), 9), ("x".to_string(), 9)];
    let output = Runner::<Recent>::new()
        .param("min_ts", 7)
        .batch(views)
        .unwrap();
    assert_eq!(output.expanded(), vec![("/b".to_string(), 18)]);
    let missing = Runner::<Recent>::new().batch(Vec::new()).unwrap_err();
    assert!(missing.to_string().contains("--param min_ts=<u64>"), "{missing}");
}
