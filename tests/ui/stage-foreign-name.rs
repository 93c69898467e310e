use dataflow_core::prelude::*;

#[pipeline]
fn words(lines: Stream<String>) -> Stream<(String, u64)> {
    let a = lines.group_by(|l| l.clone()).count();
    let b = lines.keyBy(|l| l.clone()).count();
    let c = lines.map(|l| (l, 1u64)).reduce_by_key(|x, y| x + y);
    let d = lines.fold(0, |n, _| n + 1);
    let e = lines.map(|l| l.len()).collect();
    let f = lines.for_each(|l| println!("{l}"));
    let g = lines.window_all(Window::global()).count();
    let h = lines.map(|l| (l, 1u64)).group_by_key().count();
    let i = lines.map(|l| (l, 1u64)).aggregate_by_key(0, |a, b| a + b.1);
    let j = lines.sum_by(|l| l.len());
    let k = lines.map(|l| (l, 1u64)).count_by_key();
    let l = lines.sink(std::io::stdout());
    lines.key(|l| l.clone()).count().print()
}

fn main() {}
