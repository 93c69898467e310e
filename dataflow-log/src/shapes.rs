//! The log's record shapes: for every schema version written to the log with a declared shape
//! ([`Schema::SHAPE`](crate::Schema::SHAPE)), the shape it was written with.
//!
//! A schema version names a layout only as long as everyone bumps it when the layout changes. The
//! log keeps the shape of each version in a small file beside its segments (`SHAPES`, one line
//! per version: `version`, a tab, the shape), written before the first record of that version is
//! committed. Appending records of a version under another shape is refused, and so is reading
//! them as another shape: a layout change under the same version is an error naming the fields,
//! never records decoded as garbage.

use crate::error::LogError;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

/// The file holding the shapes, in the log directory.
pub(crate) const SHAPES_NAME: &str = "SHAPES";

/// The shapes a log holds, by schema version.
pub(crate) type Shapes = BTreeMap<u32, String>;

/// Reads the shapes file of the log in `dir`; none when there is no file.
pub(crate) fn read(dir: &Path) -> Result<Shapes, LogError> {
    let path = dir.join(SHAPES_NAME);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Shapes::new()),
        Err(e) => return Err(LogError::io(format!("read {}", path.display()), e)),
    };
    let mut shapes = Shapes::new();
    for (number, line) in text.lines().enumerate() {
        let parsed = line
            .split_once('\t')
            .and_then(|(version, shape)| Some((version.parse::<u32>().ok()?, shape)));
        let Some((version, shape)) = parsed else {
            return Err(LogError::BadSegment {
                segment: SHAPES_NAME.to_string(),
                reason: format!("line {} is not `version<TAB>shape`: {line:?}", number + 1),
            });
        };
        shapes.insert(version, shape.to_string());
    }
    Ok(shapes)
}

/// Writes `shapes` to the log in `dir`, atomically: a reader sees the old file or the new one.
pub(crate) fn write(dir: &Path, shapes: &Shapes) -> Result<(), LogError> {
    let path = dir.join(SHAPES_NAME);
    let temporary = dir.join(format!("{SHAPES_NAME}.tmp"));
    let mut text = String::new();
    for (version, shape) in shapes {
        text.push_str(&format!("{version}\t{shape}\n"));
    }
    let io = |what: &str, path: &Path| {
        let context = format!("{what} {}", path.display());
        move |e| LogError::io(context, e)
    };
    let mut file = File::create(&temporary).map_err(io("create", &temporary))?;
    file.write_all(text.as_bytes())
        .map_err(io("write", &temporary))?;
    file.sync_all().map_err(io("sync", &temporary))?;
    fs::rename(&temporary, &path).map_err(io("rename", &temporary))?;
    if let Ok(directory) = File::open(dir) {
        // Make the rename durable; not every platform can sync a directory.
        let _ = directory.sync_all();
    }
    Ok(())
}

/// The error for records of `version` being written or read as shape `given` when the log holds
/// them as shape `logged`.
pub(crate) fn mismatch(
    dir: &Path,
    version: u32,
    logged: &str,
    given: &str,
    reading: bool,
) -> LogError {
    LogError::ShapeMismatch {
        dir: dir.to_path_buf(),
        version,
        logged: logged.to_string(),
        given: given.to_string(),
        differences: differences(logged, given),
        reading,
    }
}

/// The fields of two shapes that differ, in words: `country: String added`, `ts: u64 removed`,
/// `price: f64 became price: Decimal`; the type's name when it differs.
pub fn differences(logged: &str, given: &str) -> Vec<String> {
    let (logged_name, logged_fields) = fields(logged);
    let (given_name, given_fields) = fields(given);
    let mut out = Vec::new();
    if logged_name != given_name {
        out.push(format!("`{logged_name}` became `{given_name}`"));
    }
    let name_of = |field: &str| field.split(':').next().unwrap_or(field).trim().to_string();
    for field in &logged_fields {
        match given_fields.iter().find(|g| name_of(g) == name_of(field)) {
            None => out.push(format!("`{field}` removed")),
            Some(given) if given != field => out.push(format!("`{field}` became `{given}`")),
            Some(_) => {}
        }
    }
    for field in &given_fields {
        if !logged_fields.iter().any(|l| name_of(l) == name_of(field)) {
            out.push(format!("`{field}` added"));
        }
    }
    if out.is_empty() && logged != given {
        // Same fields, another order (postcard encodes fields in order).
        out.push(format!(
            "the fields are in another order: `{logged}` became `{given}`"
        ));
    }
    out
}

/// The type name and top-level fields of a shape: `struct Sale { item: String, cents: u64 }` gives
/// `("struct Sale", ["item: String", "cents: u64"])`.
fn fields(shape: &str) -> (String, Vec<String>) {
    let Some(open) = shape.find(['{', '(']) else {
        return (shape.trim().to_string(), Vec::new());
    };
    let name = shape[..open].trim().to_string();
    let inner = shape[open + 1..]
        .trim_end()
        .strip_suffix(['}', ')'])
        .unwrap_or(&shape[open + 1..]);
    let mut fields = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for c in inner.chars() {
        match c {
            '<' | '(' | '[' | '{' => depth += 1,
            '>' | ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                if !current.trim().is_empty() {
                    fields.push(current.trim().to_string());
                }
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        fields.push(current.trim().to_string());
    }
    (name, fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_the_fields() {
        let old = "struct PageView { url: String, ts: u64 }";
        assert_eq!(
            differences(
                old,
                "struct PageView { url: String, ts: u64, country: String }"
            ),
            vec!["`country: String` added"]
        );
        assert_eq!(
            differences(old, "struct PageView { url: String, ts: i64 }"),
            vec!["`ts: u64` became `ts: i64`"]
        );
        assert_eq!(
            differences(old, "struct PageView { ts: u64, url: String }"),
            vec![
                "the fields are in another order: `struct PageView { url: String, ts: u64 }` became `struct PageView { ts: u64, url: String }`"
            ]
        );
        assert_eq!(
            differences("struct A { m: BTreeMap<String, u64> }", "struct A { }"),
            vec!["`m: BTreeMap<String, u64>` removed"]
        );
    }

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct ViewV1 {
        url: String,
    }
    impl crate::Schema for ViewV1 {
        const VERSION: u32 = 1;
        const SHAPE: Option<&'static str> = Some("struct View { url: String }");
    }

    /// The same version with a field added: the mistake the shapes catch.
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct ViewChanged {
        url: String,
        ts: u64,
    }
    impl crate::Schema for ViewChanged {
        const VERSION: u32 = 1;
        const SHAPE: Option<&'static str> = Some("struct View { url: String, ts: u64 }");
    }

    #[test]
    fn a_new_layout_under_an_old_version_is_refused_when_written_and_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let log = crate::EventLog::open(dir.path(), crate::LogOptions::default()).unwrap();
        log.append(1, &ViewV1 { url: "/a".into() }).unwrap();
        assert_eq!(
            log.shape(1).unwrap().as_deref(),
            Some("struct View { url: String }")
        );
        log.check_shape::<ViewV1>().unwrap();
        let read = log.check_shape::<ViewChanged>().unwrap_err().to_string();
        assert!(
            read.contains("holds version 1 records as `struct View { url: String }`")
                && read.contains("`ts: u64` added")
                && read.contains("version = 2"),
            "{read}"
        );
        let head = log.head();
        let written = log
            .append(
                2,
                &ViewChanged {
                    url: "/b".into(),
                    ts: 2,
                },
            )
            .unwrap_err()
            .to_string();
        assert!(
            written.contains("these records are `struct View { url: String, ts: u64 }`"),
            "{written}"
        );
        // Nothing was appended, and the log still takes records of its shape.
        assert_eq!(log.head(), head);
        log.append(3, &ViewV1 { url: "/c".into() }).unwrap();
        drop(log);
        // The shapes outlive the handle.
        let log = crate::EventLog::open_read_only(dir.path()).unwrap();
        assert!(log.check_shape::<ViewChanged>().is_err());
    }

    #[test]
    fn the_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_empty());
        let mut shapes = Shapes::new();
        shapes.insert(1, "struct A { x: u64 }".into());
        shapes.insert(2, "struct A { x: u64, y: String }".into());
        write(dir.path(), &shapes).unwrap();
        assert_eq!(read(dir.path()).unwrap(), shapes);
        std::fs::write(dir.path().join(SHAPES_NAME), "two\tstruct A {}\n").unwrap();
        let error = read(dir.path()).unwrap_err().to_string();
        assert!(error.contains("line 1"), "{error}");
    }
}
