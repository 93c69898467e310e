//! The rules a declaration must follow, one function each, generic over the stage descriptions in
//! `stages`. A `check_` function reports its mistakes into the error context and returns whether its
//! rules held; the rules on a stage call and on a chain passed to one are predicates, reported by
//! `check_call` and `check_chain_arg`. `build` applies the checks as it walks the declaration.

use crate::ctxt::Ctxt;
use crate::model::{Binding, Body, Call, Chain, Input, Param};
use crate::stages::{self, StageSpec, TimeRule};
use crate::stream::{Env, Stream};
use quote::ToTokens;
use std::collections::HashMap;
use std::fmt::Display;
use syn::Expr;

/// Reports `message` at `tokens` unless the rule `holds`; returns `holds`.
fn require(cx: &Ctxt, holds: bool, tokens: impl ToTokens, message: impl Display) -> bool {
    if !holds {
        cx.error_spanned_by(tokens, message);
    }
    holds
}

/// An input's name is not taken by an earlier input.
pub fn check_input_unique(cx: &Ctxt, env: &Env, input: &Input) {
    let name = input.name.to_string();
    let message = format!("input `{name}` is declared twice");
    require(cx, !env.contains_key(&name), &input.name, message);
}

/// A `let` binding's name is not taken by an input or an earlier binding.
pub fn check_binding_unique(cx: &Ctxt, env: &Env, binding: &Binding) {
    let name = binding.name.to_string();
    let message =
        format!("`{name}` is already an input or binding of this pipeline: choose another name");
    require(cx, !env.contains_key(&name), &binding.name, message);
}

/// A chain starts from an input or a `let` binding of the pipeline; returns that stream.
pub fn check_root_known(cx: &Ctxt, env: &Env, chain: &Chain) -> Option<Stream> {
    let root = chain.root.to_string();
    let stream = env.get(&root).copied();
    if stream.is_none() {
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
    }
    stream
}

/// A stage call names one of the stages; returns its description.
pub fn check_stage_known(cx: &Ctxt, call: &Call) -> Option<&'static StageSpec> {
    let name = call.method.to_string();
    let spec = stages::lookup(&name);
    if spec.is_none() {
        let hint = match (stages::foreign::lookup(&name), stages::suggest(&name)) {
            (Some(foreign), _) => match foreign.stage {
                Some(stage) => format!("did you mean `{stage}`? {}", capitalized(foreign.hint)),
                None => foreign.hint.to_string(),
            },
            (None, Some(near)) => format!("did you mean `{near}`?"),
            (None, None) => format!(
                "the stages are {}",
                stages::ALL
                    .iter()
                    .map(|s| format!("`{}`", s.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        cx.error_spanned_by(&call.method, format!("unknown stage `{name}`: {hint}"));
    }
    spec
}

/// `text` with its first letter in upper case.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Applies the rules for `call`, a `spec` stage on `stream`; returns whether they all held.
pub fn check_call(cx: &Ctxt, spec: &StageSpec, call: &Call, stream: &Stream) -> bool {
    let mut ok = check_arg_count(cx, spec, call);
    for (holds, message) in CALL_RULES {
        if !holds(spec, stream) {
            let message = message
                .replace("{name}", spec.name)
                .replace("{example}", spec.example);
            cx.error_spanned_by(&call.method, message);
            ok = false;
        }
    }
    ok
}

/// A stage call has as many arguments as the stage takes.
fn check_arg_count(cx: &Ctxt, spec: &StageSpec, call: &Call) -> bool {
    if call.args.len() == spec.args.len() {
        return true;
    }
    let expected = match spec.args.len() {
        0 => "no arguments".to_string(),
        1 => "1 argument".to_string(),
        n => format!("{n} arguments"),
    };
    cx.error_at(
        call.parens,
        format!(
            "`{}` takes {expected}, found {}: write `.{}`",
            spec.name,
            call.args.len(),
            spec.example
        ),
    );
    false
}

/// A rule on a stage call: whether it holds for a stage on a stream.
type CallRule = fn(&StageSpec, &Stream) -> bool;

/// The rules on a stage call with the mistake each reports at the stage's name, in the order they are
/// reported; `{name}` and `{example}` stand for the stage's own.
const CALL_RULES: &[(CallRule, &str)] = &[
    (
        key_before,
        "`{name}` needs a `key` stage before it, as in `.key(|r| r.id).{example}`",
    ),
    (
        event_time_before,
        "`{name}` needs event time: add `.event_time(|r| r.ts)` before it, so that time comes from the data",
    ),
    (
        event_time_on_input,
        "`event_time` must come right after an input, as in `transactions.event_time(|t| t.ts)`, so that every record's time comes from the data as it arrives",
    ),
    (event_time_once, "this stream already has an `event_time`"),
    (
        window_before_aggregate,
        "`{name}` over an event-time stream needs a `window` before it, or its state would grow without end: add `.window(Window::tumbling(..))`, or opt in to one window over all time with `.window(Window::global())`",
    ),
    (
        untimed,
        "`{name}` is not available on an event-time stream: aggregate it in a `window` first, or use `scan` for ordered per-key state",
    ),
    (
        aggregate_after_window,
        "`window` must be followed by an aggregate (`count`, `sum`, `min`, `max`, `mean` or `aggregate`), found `{name}`",
    ),
];

/// A stage that needs a key comes after a `key` stage.
fn key_before(spec: &StageSpec, stream: &Stream) -> bool {
    !spec.needs_key || stream.keyed
}

/// A stage that needs event time comes after an `event_time` stage.
fn event_time_before(spec: &StageSpec, stream: &Stream) -> bool {
    !spec.needs_event_time || stream.timed
}

/// `event_time` comes right after an input.
fn event_time_on_input(spec: &StageSpec, stream: &Stream) -> bool {
    spec.time != TimeRule::Stamp || stream.input
}

/// An `event_time` right after an input is not applied to a stream that already has event time.
fn event_time_once(spec: &StageSpec, stream: &Stream) -> bool {
    spec.time != TimeRule::Stamp || !stream.input || !stream.timed
}

/// An aggregate over an event-time stream comes after a `window`.
fn window_before_aggregate(spec: &StageSpec, stream: &Stream) -> bool {
    spec.time != TimeRule::Aggregate || !stream.timed || stream.windowed
}

/// A stage that is not available on event-time streams is not applied to one.
fn untimed(spec: &StageSpec, stream: &Stream) -> bool {
    spec.time != TimeRule::Untimed || !stream.timed
}

/// A `window` is followed by an aggregate.
fn aggregate_after_window(spec: &StageSpec, stream: &Stream) -> bool {
    !stream.windowed || spec.time == TimeRule::Aggregate
}

/// A closure argument has as many parameters as the stage passes it.
pub fn check_closure_arity(
    cx: &Ctxt,
    spec: &StageSpec,
    expr: &Expr,
    params: usize,
    shape: &str,
) -> bool {
    let Expr::Closure(closure) = expr else {
        return true;
    };
    let message = format!(
        "`{}` takes a closure with {params} parameter{}, `{shape}`, found {}",
        spec.name,
        if params == 1 { "" } else { "s" },
        closure.inputs.len()
    );
    require(cx, closure.inputs.len() == params, &closure.inputs, message)
}

/// Applies the rules for `other`, a chain producing `stream` passed to a `spec` stage that needs it
/// `keyed` or not; returns whether they held.
pub fn check_chain_arg(
    cx: &Ctxt,
    spec: &StageSpec,
    other: &Chain,
    stream: &Stream,
    keyed: bool,
) -> bool {
    let name = spec.name;
    let keyed = require(
        cx,
        chain_arg_keyed(keyed, stream),
        &other.root,
        format!("the stream passed to `{name}` must be keyed: end it with `.key(|r| ..)`"),
    );
    let untimed = require(
        cx,
        chain_arg_untimed(stream),
        &other.root,
        format!(
            "the stream passed to `{name}` is an event-time stream: aggregate it in a `window` first"
        ),
    );
    keyed && untimed
}

/// A chain passed to a stage that needs it keyed ends keyed.
fn chain_arg_keyed(keyed: bool, stream: &Stream) -> bool {
    !keyed || stream.keyed
}

/// A chain passed to a stage is not an event-time stream.
fn chain_arg_untimed(stream: &Stream) -> bool {
    !stream.timed && !stream.dangling()
}

/// The pipeline's output is not left waiting, as a `window` without its aggregate is.
pub fn check_output_complete(cx: &Ctxt, chain: &Chain, stream: &Stream) {
    let message = "the pipeline ends in a `window`: follow it with an aggregate such as `.count()`";
    require(cx, !stream.dangling(), &chain.root, message);
}

/// Every input stream is used by a chain (a parameter that is not a stream is reported where it is
/// declared).
pub fn check_inputs_used(cx: &Ctxt, inputs: &[Input], uses: &HashMap<String, usize>) {
    for input in inputs.iter().filter(|input| input.stream) {
        let message = format!(
            "input `{}` is never used: use it in the body or remove it",
            input.name
        );
        require(cx, !unused(uses, &input.name), &input.name, message);
    }
}

/// Every `let` binding (of those without mistakes, `bound`) is used by a chain.
pub fn check_bindings_used(cx: &Ctxt, bound: &[syn::Ident], uses: &HashMap<String, usize>) {
    for name in bound {
        let message = format!("`{name}` is never used: use it in the body or remove the `let`");
        require(cx, !unused(uses, name), name, message);
    }
}

/// Whether `name` is counted in `uses` with no use.
fn unused(uses: &HashMap<String, usize>, name: &syn::Ident) -> bool {
    uses.get(&name.to_string()) == Some(&0)
}

/// A runtime parameter's name is not also an input's or a binding's.
pub fn check_param_unique(cx: &Ctxt, env: &Env, param: &Param) {
    let name = param.name.to_string();
    let message = format!(
        "`{name}` is both a runtime parameter and an input or `let` binding: choose another name"
    );
    require(cx, !env.contains_key(&name), &param.name, message);
}

/// A runtime parameter is used by a stage's closure.
pub fn check_param_used(cx: &Ctxt, body: &Body, param: &Param) {
    let message = format!(
        "runtime parameter `{}` is never used: use it in a closure, as in `.filter(|r| r.ts >= {})`, or remove it",
        param.name, param.name
    );
    require(
        cx,
        crate::params::used_in_body(body, &param.name),
        &param.name,
        message,
    );
}
