use dataflow_core::kappa::Schema;
use dataflow_core::prelude::*;

/// With serde derives of its own, `#[record]` adds none.
#[record]
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PageView {
    url: String,
    ts: u64,
}

#[record(version = 3, upgrade = read_click)]
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Click(String, u64);

fn read_click(version: u32, _payload: &[u8]) -> Result<Click, dataflow_core::kappa::DecodeError> {
    Err(dataflow_core::kappa::DecodeError::unsupported(version, Click::VERSION))
}

#[pipeline]
fn clicks_per_url(clicks: Stream<Click>, views: Stream<PageView>) -> Stream<(String, u64)> {
    clicks.map(|c| c.0).union(views.map(|v| v.url)).key(|u| u.clone()).count()
}

fn main() {
    assert_eq!(PageView::VERSION, 1);
    assert_eq!(Click::VERSION, 3);
    assert_eq!(Click::SHAPE, Some("struct Click(String, u64)"));
    assert!(Click::upgrade(1, &[]).is_err());
    let output = Runner::<ClicksPerUrl>::new()
        .batch((
            vec![Click("/a".into(), 1)],
            vec![PageView { url: "/a".into(), ts: 2 }, PageView { url: "/b".into(), ts: 3 }],
        ))
        .unwrap();
    assert_eq!(output.records, vec![(("/a".to_string(), 2), 1), (("/b".to_string(), 1), 1)]);
}
