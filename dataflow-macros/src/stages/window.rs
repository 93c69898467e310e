use super::*;

/// `window(Window::tumbling(Duration::from_secs(60)))`
///
/// Assigns keyed records to event-time windows: tumbling, sliding, session or global. The aggregate that follows runs per key and window.
pub const WINDOW: StageSpec = StageSpec {
    name: "window",
    kind: StageKind::Window,
    args: &[ArgSpec::Value {
        shape: "Window::tumbling(Duration::from_secs(3600))",
    }],
    needs_key: true,
    needs_event_time: true,
    time: TimeRule::Window,
    keyed_after: Keyed::Keep,
    example: "window(Window::tumbling(Duration::from_secs(60)))",
};
