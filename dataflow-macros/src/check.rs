//! Checks a declaration's shape and builds its plan. The checks are generic over the stage
//! descriptions in `stages`: which stages exist, their arguments, and what must come before them.

use crate::ctxt::Ctxt;
use crate::model::{Arg, Chain, PipelineFn, type_text};
use crate::stages::{self, ArgSpec, Keyed, TimeRule};
use dataflow_plan::{Node, Plan, StageKind};
use quote::ToTokens;
use std::collections::HashMap;
use syn::Expr;

/// What a name (input or binding) stands for while checking.
#[derive(Clone, Copy)]
struct Stream {
    node: usize,
    keyed: bool,
    /// An event-time stream (after `event_time`).
    timed: bool,
    /// Grouped into windows, waiting for an aggregate.
    windowed: bool,
    /// A pipeline input, with no stage applied yet.
    input: bool,
}

/// The result of the checks: the plan, and how often each input and binding is used.
pub struct Checked {
    /// The plan; each call's `id` in the model is its node here.
    pub plan: Plan,
    /// How many chains start from each input or binding.
    pub uses: HashMap<String, usize>,
}

/// Stages whose output must not be left waiting: a `window` needs an aggregate after it.
fn dangling(stream: &Stream) -> bool {
    stream.windowed
}

/// Checks `pipeline`, numbering its stage calls, and builds its plan.
pub fn check(pipeline: &mut PipelineFn, cx: &Ctxt) -> Checked {
    let mut plan = Plan::new(&pipeline.name.to_string(), &type_text(&pipeline.output));
    let mut env: HashMap<String, Stream> = HashMap::new();
    let mut uses: HashMap<String, usize> = HashMap::new();
    for input in &pipeline.inputs {
        let node = plan.push(Node::input(&input.name.to_string(), &type_text(&input.ty)));
        let name = input.name.to_string();
        if env.contains_key(&name) {
            cx.error_spanned_by(&input.name, format!("input `{name}` is declared twice"));
        }
        env.insert(
            name.clone(),
            Stream {
                node,
                keyed: false,
                timed: false,
                windowed: false,
                input: true,
            },
        );
        uses.insert(name, 0);
    }
    let Some(body) = pipeline.body.as_mut() else {
        return Checked { plan, uses };
    };
    let mut declared = Vec::new();
    for binding in &mut body.bindings {
        let stream = walk(&mut binding.chain, &mut plan, &env, &mut uses, cx);
        let name = binding.name.to_string();
        if env.contains_key(&name) {
            cx.error_spanned_by(
                &binding.name,
                format!(
                    "`{name}` is already an input or binding of this pipeline: choose another name"
                ),
            );
        }
        if let Some(stream) = stream {
            env.insert(name.clone(), stream);
            uses.insert(name.clone(), 0);
            declared.push(binding.name.clone());
        }
    }
    if let Some(stream) = walk(&mut body.result, &mut plan, &env, &mut uses, cx) {
        if dangling(&stream) {
            cx.error_spanned_by(
                &body.result.root,
                "the pipeline ends in a `window`: follow it with an aggregate such as `.count()`",
            );
        }
        plan.output = stream.node;
    }
    for input in &pipeline.inputs {
        if uses.get(&input.name.to_string()) == Some(&0) {
            cx.error_spanned_by(
                &input.name,
                format!(
                    "input `{}` is never used: use it in the body or remove it",
                    input.name
                ),
            );
        }
    }
    for name in declared {
        if uses.get(&name.to_string()) == Some(&0) {
            cx.error_spanned_by(
                &name,
                format!("`{name}` is never used: use it in the body or remove the `let`"),
            );
        }
    }
    Checked { plan, uses }
}

/// Checks one chain, adding a node per stage. Returns what the chain produces.
fn walk(
    chain: &mut Chain,
    plan: &mut Plan,
    env: &HashMap<String, Stream>,
    uses: &mut HashMap<String, usize>,
    cx: &Ctxt,
) -> Option<Stream> {
    let root = chain.root.to_string();
    let Some(mut stream) = env.get(&root).copied() else {
        let mut known: Vec<&String> = env.keys().collect();
        known.sort();
        let known: Vec<String> = known.into_iter().map(|k| format!("`{k}`")).collect();
        cx.error_spanned_by(
            &chain.root,
            format!(
                "`{root}` is not an input or `let` binding of this pipeline; known names: {}",
                known.join(", ")
            ),
        );
        return None;
    };
    *uses.entry(root).or_insert(0) += 1;

    let mut ok = true;
    for call in &mut chain.calls {
        let name = call.method.to_string();
        let Some(spec) = stages::lookup(&name) else {
            let hint = match stages::suggest(&name) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!(
                    "the stages are {}",
                    stages::ALL
                        .iter()
                        .map(|s| format!("`{}`", s.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            cx.error_spanned_by(&call.method, format!("unknown stage `{name}`: {hint}"));
            ok = false;
            continue;
        };

        if call.args.len() != spec.args.len() {
            let expected = match spec.args.len() {
                0 => "no arguments".to_string(),
                1 => "1 argument".to_string(),
                n => format!("{n} arguments"),
            };
            cx.error_at(
                call.parens,
                format!(
                    "`{name}` takes {expected}, found {}: write `.{}`",
                    call.args.len(),
                    spec.example
                ),
            );
            ok = false;
        }
        if spec.needs_key && !stream.keyed {
            cx.error_spanned_by(
                &call.method,
                format!(
                    "`{name}` needs a `key` stage before it, as in `.key(|r| r.id).{}`",
                    spec.example
                ),
            );
            ok = false;
        }
        if spec.needs_event_time && !stream.timed {
            cx.error_spanned_by(
                &call.method,
                format!(
                    "`{name}` needs event time: add `.event_time(|r| r.ts)` before it, so that time comes from the data"
                ),
            );
            ok = false;
        }

        match spec.time {
            TimeRule::Stamp if !(stream.input) => {
                cx.error_spanned_by(
                    &call.method,
                    "`event_time` must come right after an input, as in `transactions.event_time(|t| t.ts)`, so that every record's time comes from the data as it arrives",
                );
                ok = false;
            }
            TimeRule::Stamp if stream.timed => {
                cx.error_spanned_by(&call.method, "this stream already has an `event_time`");
                ok = false;
            }
            TimeRule::Aggregate if stream.timed && !stream.windowed => {
                cx.error_spanned_by(
                    &call.method,
                    format!(
                        "`{name}` over an event-time stream needs a `window` before it, or its state would grow without end: add `.window(Window::tumbling(..))`, or opt in to one window over all time with `.window(Window::global())`"
                    ),
                );
                ok = false;
            }
            TimeRule::Untimed if stream.timed => {
                cx.error_spanned_by(
                    &call.method,
                    format!(
                        "`{name}` is not available on an event-time stream: aggregate it in a `window` first, or use `scan` for ordered per-key state"
                    ),
                );
                ok = false;
            }
            _ => {}
        }
        if stream.windowed && spec.time != TimeRule::Aggregate {
            cx.error_spanned_by(
                &call.method,
                format!(
                    "`window` must be followed by an aggregate (`count`, `sum`, `min`, `max`, `mean` or `aggregate`), found `{name}`"
                ),
            );
            ok = false;
        }

        let mut inputs = vec![stream.node];
        let mut other_keyed = true;
        for (arg, arg_spec) in call.args.iter_mut().zip(spec.args) {
            match (arg, arg_spec) {
                (Arg::Expr(expr), ArgSpec::Closure { params, shape }) => {
                    if let Expr::Closure(closure) = expr.as_ref()
                        && closure.inputs.len() != *params
                    {
                        cx.error_spanned_by(
                            &closure.inputs,
                            format!(
                                "`{name}` takes a closure with {params} parameter{}, `{shape}`, found {}",
                                if *params == 1 { "" } else { "s" },
                                closure.inputs.len()
                            ),
                        );
                        ok = false;
                    }
                }
                (Arg::Flow(other), ArgSpec::Flow { keyed }) => {
                    match walk(other, plan, env, uses, cx) {
                        Some(other_stream) => {
                            if *keyed && !other_stream.keyed {
                                cx.error_spanned_by(
                                    &other.root,
                                    format!(
                                        "the stream passed to `{name}` must be keyed: end it with `.key(|r| ..)`"
                                    ),
                                );
                                ok = false;
                            }
                            if other_stream.timed || dangling(&other_stream) {
                                cx.error_spanned_by(
                                    &other.root,
                                    format!(
                                        "the stream passed to `{name}` is an event-time stream: aggregate it in a `window` first"
                                    ),
                                );
                                ok = false;
                            }
                            other_keyed = other_stream.keyed;
                            inputs.push(other_stream.node);
                        }
                        None => ok = false,
                    }
                }
                _ => {}
            }
        }

        let source = match spec.args.first() {
            Some(ArgSpec::Flow { .. }) | None => String::new(),
            Some(_) => {
                let tokens: Vec<proc_macro2::TokenStream> = call
                    .args
                    .iter()
                    .map(|arg| match arg {
                        Arg::Expr(expr) => expr.to_token_stream(),
                        Arg::Flow(_) => proc_macro2::TokenStream::new(),
                    })
                    .collect();
                match call.parens.source_text() {
                    Some(text) => strip_parens(&dataflow_plan::normalize_whitespace(&text)),
                    None => quote::quote!(#(#tokens),*).to_string(),
                }
            }
        };
        let line = call.method.span().start().line as u32;
        let mut stage = Node::stage(spec.kind, inputs, &source, line);
        if stream.windowed && spec.time == TimeRule::Aggregate {
            // The window and its aggregate run as one operator.
            stage.physical = dataflow_plan::Physical::WindowAggregate;
        }
        let node = plan.push(stage);
        call.id = node;
        stream = Stream {
            node,
            keyed: match spec.keyed_after {
                Keyed::Set => true,
                Keyed::Keep => stream.keyed && (spec.kind != StageKind::Union || other_keyed),
                Keyed::Clear => false,
            },
            timed: match spec.time {
                TimeRule::Stamp | TimeRule::Window => true,
                TimeRule::Aggregate | TimeRule::Ordered => false,
                TimeRule::Stateless | TimeRule::Untimed => stream.timed,
            },
            windowed: spec.time == TimeRule::Window,
            input: false,
        };
    }
    ok.then_some(stream)
}

fn strip_parens(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        Some(inner) => inner.trim().trim_end_matches(',').trim_end().to_string(),
        None => trimmed.to_string(),
    }
}
