//! Mergeability: whether a pipeline's output over `[0, B)` and its output over `[B, head)` combine
//! into its output over `[0, head)`, field by field, as the Lambda architecture needs.
//!
//! A plan is mergeable when
//!
//! * every stage is stateless (`map`, `filter`, `key`, ...): the outputs of both parts are simply
//!   added together ([`MergeKind::Union`]); or
//! * the stages before one aggregate (`count`, `sum`, `min`, `max`, or `aggregate` of those) are
//!   stateless or a tumbling, sliding or global `window`, and after it there is nothing, or one `map`
//!   that builds the record from the key and the aggregates as they are (a struct or tuple of them,
//!   fields of the key allowed): then records with equal key fields combine, each aggregate field by
//!   its own rule ([`MergeKind::Fields`]).
//!
//! Everything else is not, with the stage that prevents it and why: a `reduce` (arbitrary code over
//! all of a key's records), a `scan` (ordered state), a `join`, `distinct`, `mean` (partial means do
//! not combine exactly), a session window (sessions merge across the boundary), or a `map` that
//! computes with the aggregates. The analysis reads the plan's source texts; it never changes the
//! plan or its fingerprint.

use crate::{Plan, StageKind};
use serde::{Deserialize, Serialize};

/// How one field of the output combines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Merge {
    /// Part of the key: equal on both sides.
    Key,
    /// A sum: added.
    Sum,
    /// A count: added.
    Count,
    /// A minimum: the lesser.
    Min,
    /// A maximum: the greater.
    Max,
}

/// One field of the output and how it combines. `path` names it in the record's JSON form: a
/// struct field's name, or a tuple element's index, nested with `.` (`1.0`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeField {
    /// The field's path in the output record.
    pub path: String,
    /// How it combines.
    pub merge: Merge,
}

/// How the two parts of a mergeable output combine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "fields")]
pub enum MergeKind {
    /// Stateless: the records of both parts together.
    Union,
    /// One aggregate: records with equal key fields combine field by field.
    Fields(Vec<MergeField>),
}

/// Whether a plan's output is mergeable, and how or why not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mergeability {
    /// Whether the Lambda architecture can serve the pipeline.
    pub mergeable: bool,
    /// How the parts combine, when mergeable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeKind>,
    /// The stage that prevents merging (`#4 scan`), when not mergeable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Why not, when not mergeable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Mergeability {
    fn yes(merge: MergeKind) -> Mergeability {
        Mergeability {
            mergeable: true,
            merge: Some(merge),
            stage: None,
            reason: None,
        }
    }

    fn no(stage: String, reason: impl Into<String>) -> Mergeability {
        Mergeability {
            mergeable: false,
            merge: None,
            stage: Some(stage),
            reason: Some(reason.into()),
        }
    }

    /// One line for `--explain`: `mergeable (...)` or `not mergeable: stage: reason`.
    pub fn to_text(&self) -> String {
        match (&self.merge, &self.stage, &self.reason) {
            (Some(MergeKind::Union), _, _) => {
                "mergeable: stateless, the parts' records add up".into()
            }
            (Some(MergeKind::Fields(fields)), _, _) => {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|f| format!("{} {:?}", f.path, f.merge).to_lowercase())
                    .collect();
                format!("mergeable by fields: {}", fields.join(", "))
            }
            (None, stage, reason) => format!(
                "not mergeable: {}: {}",
                stage.as_deref().unwrap_or("?"),
                reason.as_deref().unwrap_or("?")
            ),
        }
    }
}

impl Plan {
    /// Whether the output over two parts of the input combines into the output over all of it, as
    /// the Lambda architecture's serving layer needs (see [`Mergeability`]).
    pub fn mergeability(&self) -> Mergeability {
        let Some(chain) = self.chain_to_output() else {
            return Mergeability::no(
                format!("#{}", self.output),
                "the output does not come from one chain of stages",
            );
        };
        let aggregate = chain.iter().position(|&id| {
            matches!(
                self.nodes[id].kind,
                StageKind::Count
                    | StageKind::Sum
                    | StageKind::Min
                    | StageKind::Max
                    | StageKind::Aggregate
                    | StageKind::Mean
                    | StageKind::Reduce
                    | StageKind::Scan
                    | StageKind::Join
                    | StageKind::Distinct
            )
        });
        // Every node of the plan, not only the chain, must be stateless before the aggregate.
        let end = aggregate.map(|i| chain[i]);
        for node in &self.nodes {
            if Some(node.id) == end {
                break;
            }
            if let Some(reason) = unmergeable_before(node.kind, &node.source) {
                return Mergeability::no(node.label(), reason);
            }
        }
        let Some(at) = aggregate else {
            return Mergeability::yes(MergeKind::Union);
        };
        let node = &self.nodes[chain[at]];
        let components = match node.kind {
            StageKind::Count => vec![Merge::Count],
            StageKind::Sum => vec![Merge::Sum],
            StageKind::Min => vec![Merge::Min],
            StageKind::Max => vec![Merge::Max],
            StageKind::Aggregate => match aggregate_components(&node.source) {
                Ok(components) => components,
                Err(reason) => return Mergeability::no(node.label(), reason),
            },
            kind => return Mergeability::no(node.label(), unmergeable(kind)),
        };
        let tupled = node.kind == StageKind::Aggregate && components.len() > 1;
        let after = &chain[at + 1..];
        let fields = match after {
            [] => direct_fields(&components, tupled),
            [map] if self.nodes[*map].kind == StageKind::Map => {
                match map_fields(&self.nodes[*map].source, &components, tupled) {
                    Ok(fields) => fields,
                    Err(reason) => return Mergeability::no(self.nodes[*map].label(), reason),
                }
            }
            [first, ..] => {
                return Mergeability::no(
                    self.nodes[*first].label(),
                    "after the aggregate only one `map` that builds the record from the key and \
                     the aggregates is mergeable",
                );
            }
        };
        if !fields.iter().any(|f| f.merge == Merge::Key) {
            return Mergeability::no(
                node.label(),
                "the output keeps no field of the key, so records of the two parts cannot be matched",
            );
        }
        Mergeability::yes(MergeKind::Fields(fields))
    }

    /// The node ids from an input to the output, following first inputs back from the output.
    fn chain_to_output(&self) -> Option<Vec<usize>> {
        let mut chain = vec![self.output];
        let mut at = self.output;
        while let Some(&input) = self.nodes.get(at)?.inputs.first() {
            chain.push(input);
            at = input;
        }
        chain.reverse();
        Some(chain)
    }
}

/// Why a stage before the aggregate prevents merging, if it does.
fn unmergeable_before(kind: StageKind, source: &str) -> Option<String> {
    match kind {
        StageKind::Input
        | StageKind::Map
        | StageKind::Filter
        | StageKind::FilterMap
        | StageKind::FlatMap
        | StageKind::Key
        | StageKind::KeyBy
        | StageKind::EventTime
        | StageKind::Union => None,
        StageKind::Window if source.contains("session") => Some(
            "a session window: sessions on both sides of the boundary merge into one, so partial \
             results do not combine"
                .into(),
        ),
        StageKind::Window => None,
        kind => Some(unmergeable(kind)),
    }
}

fn unmergeable(kind: StageKind) -> String {
    match kind {
        StageKind::Reduce => "a `reduce` runs arbitrary code over all of a key's records, so its results over two parts do not combine".into(),
        StageKind::Scan => "a `scan` folds each key's records in order, so its state at the boundary cannot be rebuilt from the parts' outputs".into(),
        StageKind::Join => "a `join` pairs records across the boundary, which neither part sees".into(),
        StageKind::Distinct => "`distinct` over two parts would count a record seen on both sides twice".into(),
        StageKind::Mean => "partial means do not combine exactly (use `sum` and `count` and divide when reading)".into(),
        kind => format!("`{kind}` is not one of the mergeable aggregates (count, sum, min, max, aggregate of them)"),
    }
}

/// The components of `aggregate(|a| (a.sum(..), a.count(), ..))`, in order.
fn aggregate_components(source: &str) -> Result<Vec<Merge>, String> {
    let (params, body) = closure(source).ok_or("the aggregate is not a closure `|a| ..`")?;
    let param = params.trim();
    let body = body.trim();
    let items = match strip_parens(body) {
        Some(inner) => split_top(inner),
        None => vec![body],
    };
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            let item = item.trim();
            let call = item
                .strip_prefix(param)
                .and_then(|rest| rest.strip_prefix('.'))
                .ok_or_else(|| format!("`{item}` is not a built-in aggregate of `{param}`"))?;
            let name = call.split('(').next().unwrap_or("").trim();
            match name {
                "sum" => Ok(Merge::Sum),
                "count" => Ok(Merge::Count),
                "min" => Ok(Merge::Min),
                "max" => Ok(Merge::Max),
                "mean" => Err(unmergeable(StageKind::Mean)),
                other => Err(format!("`{other}` is not a mergeable aggregate")),
            }
        })
        .collect()
}

/// The fields of an aggregate's output written as it is: `(key, value)` or `(key, (v0, v1, ..))`.
fn direct_fields(components: &[Merge], tupled: bool) -> Vec<MergeField> {
    let mut fields = vec![MergeField {
        path: "0".into(),
        merge: Merge::Key,
    }];
    for (i, merge) in components.iter().enumerate() {
        let path = if tupled { format!("1.{i}") } else { "1".into() };
        fields.push(MergeField {
            path,
            merge: *merge,
        });
    }
    fields
}

/// What a name bound by the map's pattern stands for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Bound {
    Key,
    Value(Merge),
}

/// The fields of the record a map after the aggregate builds.
fn map_fields(source: &str, components: &[Merge], tupled: bool) -> Result<Vec<MergeField>, String> {
    let (params, body) = closure(source).ok_or("the map is not a closure `|(key, values)| ..`")?;
    let pattern = strip_parens(params.trim())
        .map(split_top)
        .filter(|parts| parts.len() == 2)
        .ok_or("the map's argument is not a `(key, values)` pattern")?;
    let mut names: Vec<(String, Bound)> = Vec::new();
    bind(pattern[0], Bound::Key, &mut names);
    let values = pattern[1].trim();
    if tupled {
        let parts = strip_parens(values)
            .map(split_top)
            .filter(|p| p.iter().filter(|s| !s.trim().is_empty()).count() == components.len())
            .ok_or("the map does not name each aggregate in a tuple pattern")?;
        for (part, merge) in parts.iter().zip(components) {
            bind_one(part, Bound::Value(*merge), &mut names)?;
        }
    } else {
        let merge = components.first().copied().unwrap_or(Merge::Count);
        let single = strip_parens(values)
            .map(|inner| inner.trim().trim_end_matches(',').trim())
            .unwrap_or(values);
        bind_one(single, Bound::Value(merge), &mut names)?;
    }
    let body = strip_block(body.trim());
    let mut fields = Vec::new();
    if let Some(inner) = strip_parens(body) {
        for (i, item) in split_top(inner).into_iter().enumerate() {
            if item.trim().is_empty() {
                continue;
            }
            fields.push(MergeField {
                path: i.to_string(),
                merge: classify(item.trim(), &names)?,
            });
        }
        return Ok(fields);
    }
    let open = body
        .find('{')
        .filter(|&i| is_path(body[..i].trim()) && body.ends_with('}'))
        .ok_or_else(|| {
            format!(
                "the map's body `{body}` is not a struct or tuple of the key and the aggregates"
            )
        })?;
    for item in split_top(&body[open + 1..body.len() - 1]) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        if item.starts_with("..") {
            return Err("a struct update (`..`) in the map after the aggregate".into());
        }
        let (field, expr) = match item.split_once(':') {
            Some((field, expr)) => (field.trim(), expr.trim()),
            None => (item, item),
        };
        fields.push(MergeField {
            path: field.to_string(),
            merge: classify(expr, &names)?,
        });
    }
    Ok(fields)
}

/// How an expression of the map's body combines: a name bound to an aggregate, or anything read
/// from the key alone.
fn classify(expr: &str, names: &[(String, Bound)]) -> Result<Merge, String> {
    let expr = expr.strip_suffix(".clone()").unwrap_or(expr);
    let root = expr.split('.').next().unwrap_or("").trim();
    let fields_only = expr
        .split('.')
        .skip(1)
        .all(|f| !f.is_empty() && f.chars().all(|c| c.is_alphanumeric() || c == '_'));
    match names.iter().find(|(n, _)| n == root).map(|(_, b)| *b) {
        Some(Bound::Value(merge)) if root == expr => Ok(merge),
        Some(Bound::Key) if fields_only => Ok(Merge::Key),
        _ => Err(format!(
            "the map computes `{expr}`: only the key's fields and the aggregates as they are combine"
        )),
    }
}

/// Binds every name of a pattern to `bound`.
fn bind(pattern: &str, bound: Bound, names: &mut Vec<(String, Bound)>) {
    for name in pattern
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|n| !n.is_empty() && *n != "mut" && *n != "ref" && *n != "_")
    {
        names.push((name.to_string(), bound));
    }
}

/// Binds a pattern that must be one name (or `_`).
fn bind_one(pattern: &str, bound: Bound, names: &mut Vec<(String, Bound)>) -> Result<(), String> {
    let name = pattern.trim().trim_start_matches("mut ").trim();
    if name == "_" {
        return Ok(());
    }
    if !name.chars().all(|c| c.is_alphanumeric() || c == '_') || name.is_empty() {
        return Err(format!("the aggregate's pattern `{pattern}` is not a name"));
    }
    names.push((name.to_string(), bound));
    Ok(())
}

/// A closure's parameters and body: `|p| body` or `move |p| body`.
fn closure(source: &str) -> Option<(&str, &str)> {
    let source = source.trim();
    let source = source.strip_prefix("move ").unwrap_or(source).trim();
    let rest = source.strip_prefix('|')?;
    let end = rest.find('|')?;
    Some((&rest[..end], &rest[end + 1..]))
}

/// The inside of `( .. )` when the parentheses enclose the whole text.
fn strip_parens(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    let mut depth = 0i32;
    for c in inner.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return None;
        }
    }
    Some(inner)
}

/// A block `{ expr }` around a body, removed (a struct literal is kept).
fn strip_block(body: &str) -> &str {
    match body.strip_prefix('{').and_then(|b| b.strip_suffix('}')) {
        Some(inner) if !inner.contains(':') || inner.trim_start().starts_with('(') => inner.trim(),
        Some(inner)
            if inner
                .trim()
                .split('{')
                .next()
                .is_some_and(|p| is_path(p.trim())) =>
        {
            inner.trim()
        }
        _ => body,
    }
}

/// Whether `text` is a type path such as `DailyTotal` or `crate::Total`.
fn is_path(text: &str) -> bool {
    !text.is_empty()
        && text
            .split("::")
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_'))
}

/// Splits at the commas outside brackets and string literals.
fn split_top(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start, mut quoted) = (0i32, 0, false);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            _ if quoted => {}
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Node;

    fn plan(stages: &[(StageKind, &str)]) -> Plan {
        let mut plan = Plan::new("p", "T");
        let mut last = plan.push(Node::input("in", "R"));
        for (kind, source) in stages {
            last = plan.push(Node::stage(*kind, vec![last], source, 1));
        }
        plan.output = last;
        plan
    }

    #[test]
    fn an_aggregate_mapped_into_a_struct_merges_by_fields() {
        let merged = plan(&[
            (StageKind::KeyBy, "|s| ((s.product, s.date), s.price)"),
            (StageKind::Aggregate, "|a| (a.sum(|revenue| *revenue), a.count())"),
            (
                StageKind::Map,
                "|((product, date), (total_revenue, transaction_count))| DailyTotal { product, date, total_revenue, transaction_count, }",
            ),
        ])
        .mergeability();
        let fields = match merged.merge {
            Some(MergeKind::Fields(fields)) => fields,
            other => panic!("{other:?}"),
        };
        let merges: Vec<(&str, Merge)> =
            fields.iter().map(|f| (f.path.as_str(), f.merge)).collect();
        assert_eq!(
            merges,
            vec![
                ("product", Merge::Key),
                ("date", Merge::Key),
                ("total_revenue", Merge::Sum),
                ("transaction_count", Merge::Count)
            ]
        );
    }

    #[test]
    fn window_fields_of_the_key_and_a_bare_count_merge() {
        let windowed = plan(&[
            (StageKind::EventTime, "|s| s.ts"),
            (StageKind::Key, "|s| s.product.clone()"),
            (
                StageKind::Window,
                "Window::tumbling(Duration::from_secs(3600))",
            ),
            (StageKind::Count, ""),
            (
                StageKind::Map,
                "|((product, window), n)| T { product, window_start: window.start, n }",
            ),
        ]);
        assert!(
            windowed.mergeability().mergeable,
            "{:?}",
            windowed.mergeability()
        );
        let direct = plan(&[(StageKind::Key, "|w| w.clone()"), (StageKind::Count, "")]);
        assert_eq!(
            direct.mergeability().merge,
            Some(MergeKind::Fields(vec![
                MergeField {
                    path: "0".into(),
                    merge: Merge::Key
                },
                MergeField {
                    path: "1".into(),
                    merge: Merge::Count
                },
            ]))
        );
        let stateless = plan(&[(StageKind::Filter, "|x| x > 1")]);
        assert_eq!(stateless.mergeability().merge, Some(MergeKind::Union));
    }

    #[test]
    fn the_stage_that_prevents_merging_is_named() {
        let scan = plan(&[
            (StageKind::Key, "|t| t.user"),
            (StageKind::Scan, "0, |s, r, emit| .."),
        ]);
        let verdict = scan.mergeability();
        assert!(!verdict.mergeable);
        assert_eq!(
            verdict.stage.as_deref(),
            Some("#2 scan(0, |s, r, emit| ..)")
        );
        let computed = plan(&[
            (StageKind::Key, "|w| w.clone()"),
            (StageKind::Count, ""),
            (StageKind::Map, "|(w, n)| (w, n * 2)"),
        ]);
        let verdict = computed.mergeability();
        assert!(verdict.reason.unwrap().contains("`n * 2`"));
        let session = plan(&[
            (StageKind::Key, "|w| w.clone()"),
            (
                StageKind::Window,
                "Window::session(Duration::from_secs(60))",
            ),
            (StageKind::Count, ""),
        ]);
        assert!(!session.mergeability().mergeable);
        let mean = plan(&[
            (StageKind::Key, "|w| w.k"),
            (StageKind::Aggregate, "|a| (a.mean(|r| r.x), a.count())"),
        ]);
        assert!(mean.mergeability().reason.unwrap().contains("means"));
    }
}
