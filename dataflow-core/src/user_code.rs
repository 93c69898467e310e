//! Running user code: a stage's closure that panics is caught, reported with its stage, and does not
//! unwind through the dataflow. Panics in user code are kept off standard error (they are reported with
//! their stage instead); every other panic reaches the previous panic hook.

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    static IN_USER_CODE: Cell<bool> = const { Cell::new(false) };
}

/// Installs, once per process, a panic hook that stays quiet for panics in user closures (they are
/// reported with their stage instead) and defers to the previous hook for everything else.
pub(crate) fn install_quiet_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_USER_CODE.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Runs user code, catching a panic instead of unwinding through the dataflow.
#[inline]
pub(crate) fn catch_user<R>(f: impl FnOnce() -> R) -> Result<R, Box<dyn Any + Send>> {
    IN_USER_CODE.with(|flag| flag.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_USER_CODE.with(|flag| flag.set(false));
    result
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}
