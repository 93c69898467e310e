//! The plan as a picture: an SVG of its graph (`--explain=svg`, and the dashboard's plan).
//!
//! Laid out by `layout-rs`, a pure-Rust implementation of Graphviz's layered layout, so the picture
//! is the same on every machine and needs no `dot` installed. Each timely operator is one box; the
//! stateless stages fused into it are listed inside it, one row each, under the operator's kind:
//!
//! ```text
//!   ( #0 input sales: Sale )
//!             │
//!   ┌─────────────────────┐
//!   │ fused operator      │
//!   │ #1 key_by(..)       │
//!   └─────────────────────┘
//!             │
//!   ┌─────────────────────┐
//!   │ hash aggregate      │
//!   │ #2 aggregate(..)    │
//!   └─────────────────────┘
//! ```

use dataflow_plan::{Node, Physical, Plan, StageKind};
use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::StyleAttr;
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, RecordDef, ShapeKind};
use layout::topo::layout::VisualGraph;

/// Longest stage text shown in a box; longer source text is cut with `…`.
const MAX_LABEL: usize = 56;

/// One box of the picture: the plan nodes one timely operator runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    /// The plan nodes, in order: a run of fused stages, or a single node.
    pub nodes: Vec<usize>,
    /// How the runtime executes them.
    pub physical: Physical,
}

/// Whether consecutive nodes of this kind run in one operator: stateless stages fused, and a
/// `window` stage with the aggregate after it.
fn shares_operator(physical: Physical) -> bool {
    matches!(physical, Physical::Fused | Physical::WindowAggregate)
}

/// The plan's nodes grouped into the operators that run them: consecutive stateless stages, each
/// the only reader of the one before, share one fused operator, as a `window` stage and its
/// aggregate share one window operator; every other node is its own.
pub fn plan_operators(plan: &Plan) -> Vec<Operator> {
    let mut readers = vec![0usize; plan.nodes.len()];
    for node in &plan.nodes {
        for &input in &node.inputs {
            if let Some(count) = readers.get_mut(input) {
                *count += 1;
            }
        }
    }
    let mut groups: Vec<Operator> = Vec::new();
    let mut group_of = vec![usize::MAX; plan.nodes.len()];
    for node in &plan.nodes {
        let fuses_into = match node.inputs.as_slice() {
            [input] if shares_operator(node.physical) => {
                let before = &plan.nodes[*input];
                (before.physical == node.physical && readers[*input] == 1).then(|| group_of[*input])
            }
            _ => None,
        };
        match fuses_into {
            Some(group) => {
                groups[group].nodes.push(node.id);
                group_of[node.id] = group;
            }
            None => {
                group_of[node.id] = groups.len();
                groups.push(Operator {
                    nodes: vec![node.id],
                    physical: node.physical,
                });
            }
        }
    }
    groups
}

/// What the operator kind is called in the picture.
fn physical_name(physical: Physical) -> &'static str {
    match physical {
        Physical::Input => "input",
        Physical::Fused => "fused operator",
        Physical::HashAggregate => "hash aggregate (exchanged by key)",
        Physical::ArrangeReduce => "arrangement + reduce",
        Physical::ArrangeJoin => "arrangements + join",
        Physical::Concat => "concatenation",
        Physical::WindowAggregate => "window aggregate (exchanged by key)",
        Physical::KeyedScan => "ordered per-key scan",
    }
}

/// A stage's label, cut to [`MAX_LABEL`] characters.
fn short_label(node: &Node) -> String {
    let label = match node.kind {
        StageKind::Input => match node.params.get("type") {
            Some(ty) => format!("#{} input {}: {ty}", node.id, node.name),
            None => node.label(),
        },
        _ => node.label(),
    };
    if label.chars().count() <= MAX_LABEL {
        label
    } else {
        let cut: String = label.chars().take(MAX_LABEL - 1).collect();
        format!("{cut}…")
    }
}

fn style(fill: &str, rounded: usize) -> StyleAttr {
    StyleAttr::new(
        Color::fast("#334155"),
        1,
        Some(Color::fast(fill)),
        rounded,
        13,
    )
}

fn element(shape: ShapeKind, look: StyleAttr) -> Element {
    let size = get_shape_size(Orientation::TopToBottom, &shape, look.font_size, false);
    Element::create(shape, look, Orientation::TopToBottom, size)
}

/// The fill of an operator's box: inputs, stateless and stateful operators apart.
fn fill(physical: Physical) -> &'static str {
    match physical {
        Physical::Input => "#e0f2fe",
        Physical::Fused | Physical::Concat => "#f1f5f9",
        _ => "#fef3c7",
    }
}

/// `svg` with the lines of its `<style>` block sorted: the SVG writer keeps its font classes in a
/// hash map, so their order would change from run to run and the picture would not be stable.
fn sorted_styles(svg: String) -> String {
    let Some(start) = svg.find("<style>").map(|at| at + "<style>".len()) else {
        return svg;
    };
    let Some(end) = svg[start..].find("</style>").map(|at| start + at) else {
        return svg;
    };
    let mut lines: Vec<&str> = svg[start..end].lines().filter(|l| !l.is_empty()).collect();
    lines.sort_unstable();
    format!("{}\n{}\n{}", &svg[..start], lines.join("\n"), &svg[end..])
}

/// `plan` as an SVG picture of its operators, laid out by `layout-rs` (Graphviz's layered layout):
/// each timely operator one box, listing the stateless stages fused into it.
pub fn plan_svg(plan: &Plan) -> String {
    let groups = plan_operators(plan);
    let mut graph = VisualGraph::new(Orientation::TopToBottom);
    let mut handle_of_node = vec![None; plan.nodes.len()];
    let mut handles = Vec::with_capacity(groups.len());
    for group in &groups {
        let first = &plan.nodes[group.nodes[0]];
        let shape = if group.physical == Physical::Input {
            ShapeKind::new_box(&short_label(first))
        } else {
            let mut fields = vec![RecordDef::new_text(physical_name(group.physical))];
            fields.extend(
                group
                    .nodes
                    .iter()
                    .map(|&id| RecordDef::new_text(&short_label(&plan.nodes[id]))),
            );
            ShapeKind::new_record(&RecordDef::Array(fields))
        };
        let rounded = if group.physical == Physical::Input {
            12
        } else {
            0
        };
        let handle = graph.add_node(element(shape, style(fill(group.physical), rounded)));
        for &id in &group.nodes {
            handle_of_node[id] = Some(handle);
        }
        handles.push(handle);
    }
    for (group, &handle) in groups.iter().zip(&handles) {
        let first = &plan.nodes[group.nodes[0]];
        for &input in &first.inputs {
            if let Some(from) = handle_of_node.get(input).copied().flatten() {
                graph.add_edge(Arrow::simple(""), from, handle);
            }
        }
    }
    let output = graph.add_node(element(
        ShapeKind::new_double_circle("output"),
        style("#dcfce7", 0),
    ));
    if let Some(last) = handle_of_node.get(plan.output).copied().flatten() {
        graph.add_edge(Arrow::simple(""), last, output);
    }
    let mut svg = SVGWriter::new();
    graph.do_it(false, false, false, &mut svg);
    let mut out = sorted_styles(svg.finalize());
    // A title, for readers of the file and for the page that shows it.
    if let Some(at) = out
        .find("<svg")
        .and_then(|svg| out[svg..].find('>').map(|end| svg + end))
    {
        out.insert_str(
            at + 1,
            &format!(
                "<title>{} plan</title>",
                plan.pipeline.replace('&', "&amp;").replace('<', "&lt;")
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> Plan {
        let mut plan = Plan::new("p", "u64");
        let input = plan.push(Node::input("xs", "u64"));
        let map = plan.push(Node::stage(StageKind::Map, vec![input], "|x| x + 1", 3));
        let filter = plan.push(Node::stage(StageKind::Filter, vec![map], "|x| *x > 2", 4));
        let key = plan.push(Node::stage(StageKind::Key, vec![filter], "|x| x % 10", 5));
        let count = plan.push(Node::stage(StageKind::Count, vec![key], "", 6));
        plan.output = count;
        plan
    }

    #[test]
    fn the_picture_is_the_same_every_time() {
        let first = plan_svg(&chain());
        for _ in 0..20 {
            assert_eq!(plan_svg(&chain()), first);
        }
    }

    #[test]
    fn consecutive_stateless_stages_are_one_operator() {
        let groups = plan_operators(&chain());
        let nodes: Vec<Vec<usize>> = groups.iter().map(|g| g.nodes.clone()).collect();
        assert_eq!(nodes, vec![vec![0], vec![1, 2, 3], vec![4]]);
    }

    #[test]
    fn a_stage_read_twice_ends_its_operator() {
        let mut plan = Plan::new("p", "u64");
        let input = plan.push(Node::input("xs", "u64"));
        let map = plan.push(Node::stage(StageKind::Map, vec![input], "|x| x", 3));
        let left = plan.push(Node::stage(StageKind::Filter, vec![map], "|x| true", 4));
        let right = plan.push(Node::stage(StageKind::Filter, vec![map], "|x| false", 5));
        let union = plan.push(Node::stage(StageKind::Union, vec![left, right], "", 6));
        plan.output = union;
        let nodes: Vec<Vec<usize>> = plan_operators(&plan)
            .iter()
            .map(|g| g.nodes.clone())
            .collect();
        assert_eq!(nodes, vec![vec![0], vec![1], vec![2], vec![3], vec![4]]);
    }

    #[test]
    fn the_picture_shows_every_stage_inside_its_operator() {
        let svg = plan_svg(&chain());
        assert!(svg.contains("<svg "), "{svg}");
        assert!(svg.contains("<title>p plan</title>"));
        for text in [
            "fused operator",
            "#1 map(|x| x + 1)",
            "#2 filter(|x| *x &gt; 2)",
            "#4 count",
            "output",
        ] {
            let escaped = text.replace('&', "&amp;").replace("&amp;gt;", "&gt;");
            assert!(
                svg.contains(&escaped) || svg.contains(text),
                "{text} missing"
            );
        }
        // One box per operator and one for the output: four arrows.
        assert_eq!(svg.matches("<path").count(), 3, "{svg}");
    }
}
