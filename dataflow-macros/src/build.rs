//! Walks a declaration in order, numbering its stage calls and building its plan, and applies the
//! rules of `check` at every input, binding, chain and stage call on the way.

use crate::check;
use crate::ctxt::Ctxt;
use crate::model::{Arg, Binding, Call, Chain, Input, PipelineFn, type_text};
use crate::source;
use crate::stages::{ArgSpec, StageSpec, TimeRule};
use crate::stream::{Env, Stream};
use dataflow_plan::{Node, Plan};
use std::collections::HashMap;

/// The result of the walk: the plan, and how often each input and binding is used.
pub struct Built {
    /// The plan; each call's `id` in the model is its node here.
    pub plan: Plan,
    /// How many chains start from each input or binding.
    pub uses: HashMap<String, usize>,
    /// Whether the output is an event-time stream (its records still carry their event time).
    pub output_timed: bool,
}

/// Checks `pipeline`, numbering its stage calls, and builds its plan.
pub fn build(pipeline: &mut PipelineFn, cx: &Ctxt) -> Built {
    let mut walk = Walk {
        cx,
        plan: Plan::new(&pipeline.name.to_string(), &type_text(&pipeline.output)),
        env: Env::new(),
        uses: HashMap::new(),
        output_timed: false,
    };
    for input in &pipeline.inputs {
        walk.input(input);
    }
    if let Some(body) = pipeline.body.as_mut() {
        let mut bound = Vec::new();
        for binding in &mut body.bindings {
            if walk.binding(binding) {
                bound.push(binding.name.clone());
            }
        }
        walk.output(&mut body.result);
        check::check_inputs_used(cx, &pipeline.inputs, &walk.uses);
        check::check_bindings_used(cx, &bound, &walk.uses);
        for param in &pipeline.params {
            check::check_param_unique(cx, &walk.env, param);
            check::check_param_used(cx, body, param);
        }
    }
    walk.plan.params = pipeline
        .params
        .iter()
        .map(|param| dataflow_plan::Param {
            name: param.name.to_string(),
            type_name: type_text(&param.ty),
            default: param.default.clone(),
            value: None,
        })
        .collect();
    Built {
        plan: walk.plan,
        uses: walk.uses,
        output_timed: walk.output_timed,
    }
}

/// The state of the walk.
struct Walk<'cx> {
    /// Where mistakes go.
    cx: &'cx Ctxt,
    /// The plan so far.
    plan: Plan,
    /// The inputs and bindings declared so far.
    env: Env,
    /// How many chains start from each input or binding so far.
    uses: HashMap<String, usize>,
    /// Whether the output is an event-time stream.
    output_timed: bool,
}

/// Walking an input, a binding, the final chain and any chain.
impl Walk<'_> {
    /// Adds `input`'s node and declares its name.
    fn input(&mut self, input: &Input) {
        let node = self
            .plan
            .push(Node::input(&input.name.to_string(), &type_text(&input.ty)));
        check::check_input_unique(self.cx, &self.env, input);
        self.declare(&input.name, Stream::input(node));
    }

    /// Walks `binding`'s chain and, if it has no mistakes, declares its name. Returns whether it did.
    fn binding(&mut self, binding: &mut Binding) -> bool {
        let stream = self.chain(&mut binding.chain);
        check::check_binding_unique(self.cx, &self.env, binding);
        match stream {
            Some(stream) => {
                self.declare(&binding.name, stream);
                true
            }
            None => false,
        }
    }

    /// Walks the final chain; its stream is the plan's output.
    fn output(&mut self, chain: &mut Chain) {
        if let Some(stream) = self.chain(chain) {
            check::check_output_complete(self.cx, chain, &stream);
            self.plan.output = stream.node;
            self.output_timed = stream.timed;
        }
    }

    /// Declares `name` as `stream`, not used yet.
    fn declare(&mut self, name: &syn::Ident, stream: Stream) {
        let name = name.to_string();
        self.env.insert(name.clone(), stream);
        self.uses.insert(name, 0);
    }

    /// Walks one chain, adding a node per stage. Returns what the chain produces, or `None` if it
    /// has mistakes.
    fn chain(&mut self, chain: &mut Chain) -> Option<Stream> {
        let mut stream = check::check_root_known(self.cx, &self.env, chain)?;
        *self.uses.entry(chain.root.to_string()).or_insert(0) += 1;
        let mut ok = true;
        // After an unknown stage the stream's state is unknown: later stages are not checked
        // against it, so that only the unknown stage is reported.
        let mut known = true;
        for call in &mut chain.calls {
            let Some(spec) = check::check_stage_known(self.cx, call) else {
                ok = false;
                known = false;
                continue;
            };
            if known {
                ok &= check::check_call(self.cx, spec, call, &stream);
            }
            let mut inputs = vec![stream.node];
            let mut other_keyed = true;
            for (arg, arg_spec) in call.args.iter_mut().zip(spec.args) {
                match (arg, arg_spec) {
                    (Arg::Expr(expr), ArgSpec::Closure { params, shape }) => {
                        ok &= check::check_closure_arity(self.cx, spec, expr, *params, shape);
                    }
                    (Arg::Chain(other), ArgSpec::Chain { keyed }) => match self.chain(other) {
                        Some(other_stream) => {
                            ok &=
                                check::check_chain_arg(self.cx, spec, other, &other_stream, *keyed);
                            other_keyed = other_stream.keyed;
                            inputs.push(other_stream.node);
                        }
                        None => ok = false,
                    },
                    _ => {}
                }
            }
            let node = self.plan.push(stage_node(spec, call, inputs, &stream));
            call.id = node;
            stream = stream.after(spec, node, other_keyed);
        }
        ok.then_some(stream)
    }
}

/// The plan node for `call`, a `spec` stage on `stream` reading `inputs`.
fn stage_node(spec: &StageSpec, call: &Call, inputs: Vec<usize>, stream: &Stream) -> Node {
    let line = call.method.span().start().line as u32;
    let mut node = Node::stage(spec.kind, inputs, &source::arguments(spec, call), line);
    if stream.windowed && spec.time == TimeRule::Aggregate {
        // The window and its aggregate run as one operator.
        node.physical = dataflow_plan::Physical::WindowAggregate;
    }
    node
}
