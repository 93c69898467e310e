use dataflow_core::prelude::*;

#[pipeline]
fn joined(
    clicks: Stream<(u32, u64)>,
    users: Stream<(u32, String)>,
) -> Stream<(u32, ((u32, u64), (u32, String)))> {
    clicks.event_time(|c| c.1).key(|c| c.0).join(users.key(|u| u.0))
}

fn main() {}
