use dataflow_core::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PageView {
    url: String,
    ts: u64,
}

#[pipeline]
fn views_per_url(views: Stream<PageView>) -> Stream<(String, u64)> {
    views.key(|v| &v.url).count()
}

fn main() {}
