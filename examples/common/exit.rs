//! How a benchmark ends: success, or its error printed on one line and a failing status.

use std::process::ExitCode;

/// `result` as the process's exit: the error, if any, goes to standard error.
pub fn exit(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
