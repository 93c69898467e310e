//! Declaration mistakes are compile errors at the user's span, with a hint. One file per mistake under
//! `tests/ui/`, named `<stage>-<problem>.rs`, with the expected compiler output in the `.stderr` beside it.
//!
//! Compiler messages change between Rust releases, so the `.stderr` files are only compared on the
//! toolchain they were written with (`UI_TOOLCHAIN`); set `TRYBUILD=overwrite` to bless new ones.

const UI_TOOLCHAIN: &str = "rustc 1.95.";

#[test]
fn declaration_mistakes_are_spanned_compile_errors() {
    let version = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !version.starts_with(UI_TOOLCHAIN) {
        eprintln!("skipping UI tests: they are pinned to {UI_TOOLCHAIN}x, this is {version}");
        return;
    }
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass-*.rs");
    for entry in std::fs::read_dir("tests/ui").expect("tests/ui exists") {
        let path = entry.expect("readable dir").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".rs") && !name.starts_with("pass-") {
            t.compile_fail(&path);
        }
    }
}
