//! Snapshots of every example pipeline's plan (YAML) and graph (Mermaid and DOT). A change to a pipeline
//! shows up here as a reviewable diff; its version (the plan's fingerprint) is pinned too, and so are
//! its view key and its mergeability (the serving layer's Lambda merge).

use dataflow_core::Pipeline;
use dataflow_examples::{
    CountryRevenue, DailySales, FraudDetection, LargeSales, WindowedSales, WordCount,
};

fn snapshot<P: Pipeline>() {
    let plan = P::plan();
    insta::assert_yaml_snapshot!(format!("{}-plan", P::NAME), plan);
    insta::assert_snapshot!(format!("{}-mermaid", P::NAME), plan.to_mermaid());
    insta::assert_snapshot!(format!("{}-dot", P::NAME), plan.to_dot());
    insta::assert_snapshot!(format!("{}-version", P::NAME), P::version());
    // What serving needs from the declaration: the view key and whether Lambda can merge the
    // output (kept beside the plan, so that neither changes the plan nor its version).
    insta::assert_yaml_snapshot!(
        format!("{}-serving", P::NAME),
        serde_json::json!({ "view_key": P::VIEW_KEY, "mergeability": plan.mergeability() })
    );
}

#[test]
fn daily_sales_plan() {
    snapshot::<DailySales>();
}

#[test]
fn word_count_plan() {
    snapshot::<WordCount>();
}

#[test]
fn fraud_detection_plan() {
    snapshot::<FraudDetection>();
}

#[test]
fn windowed_sales_plan() {
    snapshot::<WindowedSales>();
}

#[test]
fn country_revenue_plan() {
    snapshot::<CountryRevenue>();
}

#[test]
fn large_sales_plan() {
    // Its runtime parameter is part of the plan, with its default.
    snapshot::<LargeSales>();
}

#[test]
fn fingerprint_is_the_plan_version() {
    assert_eq!(DailySales::version(), DailySales::plan().fingerprint());
    assert_ne!(DailySales::version(), WordCount::version());
}
