//! A crate of a user's own needs `dataflow-core` and nothing else: `tests/fixtures/user-crate`
//! declares its records with `#[record]` (serde derives and log schema, without a `serde`
//! dependency) and a pipeline, and checks them when it runs. This test checks that its manifest
//! depends on `dataflow-core` alone, then builds and runs it offline, in a target directory of its
//! own under this build's.

use std::path::PathBuf;
use std::process::Command;

/// The fixture crate's directory.
const FIXTURE: &str = "tests/fixtures/user-crate";

/// The names in the `[dependencies]` table of the manifest `text`.
fn dependencies(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_dependencies = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
        } else if in_dependencies && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', ' ']).next().unwrap_or_default();
            names.push(name.to_string());
        }
    }
    names
}

/// The manifest reader finds every dependency and skips comments and other tables.
#[test]
fn manifest_reading_finds_every_dependency() {
    let text = "[package]\nname = \"x\"\n[dependencies]\na = \"1\"\n# note\nb = { path = \"b\" }\n[workspace]\n";
    assert_eq!(dependencies(text), ["a", "b"]);
}

/// The fixture depends on `dataflow-core` alone, builds, and passes its own checks when it runs.
#[test]
fn a_user_crate_depends_on_dataflow_core_alone() {
    let manifest = PathBuf::from(FIXTURE).join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("the fixture's manifest is readable");
    assert_eq!(dependencies(&text), ["dataflow-core"]);

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("tests")
        .join("user-crate");
    let output = Command::new(env!("CARGO"))
        .args(["run", "--offline", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim() == "ok",
        "the user crate failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
}
