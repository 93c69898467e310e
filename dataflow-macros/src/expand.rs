//! Writes the code for a checked declaration: a type implementing `dataflow_core::Pipeline`, with the
//! plan embedded and the graph built from the user's own closures.

use crate::build::{self, Built};
use crate::ctxt::Ctxt;
use crate::model::{self, Arg, Chain, PipelineFn};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn};

/// Expands `#[pipeline]` with arguments `attr` on `item`.
pub fn pipeline(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item: ItemFn = match syn::parse2(item) {
        Ok(item) => item,
        Err(error) => return error.to_compile_error(),
    };
    let cx = Ctxt::new();
    let options = options(attr, &cx);
    let Some(mut declared) = model::lower(&item, &cx) else {
        return report(cx.check(), TokenStream::new());
    };
    let ty = options
        .type_name
        .clone()
        .unwrap_or_else(|| type_name(&declared.name));
    let built = build::build(&mut declared, &cx);
    if let Err(errors) = cx.check() {
        // Still declare the type, so that code using it shows no follow-on errors.
        return report(Err(errors), fallback(&declared, &ty));
    }
    match generate(&declared, &built, &options.key, &ty) {
        Ok(tokens) => tokens,
        Err(error) => error.to_compile_error(),
    }
}

/// The options of `#[pipeline(..)]`.
#[derive(Default)]
struct Options {
    /// `key(field, ..)`: the output record's fields that identify a row of its served view (none:
    /// the whole record).
    key: Vec<Ident>,
    /// `name = "Type"`: the name of the generated type, instead of the function's name in camel
    /// case.
    type_name: Option<Ident>,
}

/// Reads the options of `#[pipeline(key(field, ..), name = "Type")]`.
fn options(attr: TokenStream, cx: &Ctxt) -> Options {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("key") {
            meta.parse_nested_meta(|field| match field.path.get_ident() {
                Some(ident) => {
                    options.key.push(ident.clone());
                    Ok(())
                }
                None => Err(field.error("a key field is a field name of the output record")),
            })
        } else if meta.path.is_ident("name") {
            let text: syn::LitStr = meta.value()?.parse()?;
            match syn::parse_str::<Ident>(&text.value()) {
                Ok(ident) => {
                    options.type_name = Some(Ident::new(&ident.to_string(), text.span()));
                    Ok(())
                }
                Err(_) => Err(syn::Error::new(
                    text.span(),
                    format!(
                        "`name` is the name of the generated pipeline type, a Rust identifier such as \"RevenueJob\", found {:?}",
                        text.value()
                    ),
                )),
            }
        } else {
            Err(meta.error(
                "`#[pipeline]` takes `key(field, ..)` (the output record's fields that identify a row of its view) and `name = \"Type\"` (the generated type's name)",
            ))
        }
    });
    if let Err(error) = syn::parse::Parser::parse2(parser, attr) {
        cx.error_at(error.span(), error);
    }
    options
}

/// The errors of `checked`, if any, followed by `tokens`.
fn report(checked: syn::Result<()>, tokens: TokenStream) -> TokenStream {
    let errors = checked.err().map(|e| e.to_compile_error());
    quote!(#errors #tokens)
}

/// `daily_sales` -> `DailySales`.
pub fn type_name(name: &Ident) -> Ident {
    let camel: String = name
        .to_string()
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect();
    format_ident!("{}", camel, span = name.span())
}

/// The type's doc attributes: the function's own, or a default line if it has no doc comment.
fn docs(declared: &PipelineFn) -> TokenStream {
    let attrs = &declared.attrs;
    let has_doc = attrs.iter().any(|a| a.path().is_ident("doc"));
    let name = declared.name.to_string();
    let default = format!(" The `{name}` pipeline, declared with `#[pipeline]`.");
    if has_doc {
        quote!(#(#attrs)*)
    } else {
        quote!(#[doc = #default] #(#attrs)*)
    }
}

/// The declaration's doc comment as text, one line per `///` line.
fn doc_text(declared: &PipelineFn) -> String {
    let lines: Vec<String> = declared
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(syn::MetaNameValue {
                value:
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(text),
                        ..
                    }),
                ..
            }) => Some(text.value()),
            _ => None,
        })
        .map(|line| line.strip_prefix(' ').unwrap_or(&line).to_string())
        .collect();
    lines.join("\n").trim().to_string()
}

/// The `Inputs` tuple type and the `Output` record type.
fn signature_types(declared: &PipelineFn) -> (TokenStream, TokenStream) {
    let tys = declared.inputs.iter().map(|i| &i.ty);
    let output = &declared.output;
    // Spanned at the inputs, so that a record type that is not a record is reported there.
    (
        quote_spanned!(inputs_span(declared)=> (#(#tys,)*)),
        quote!(#output),
    )
}

/// The span of the declaration's inputs: its first input's type.
fn inputs_span(declared: &PipelineFn) -> Span {
    declared
        .inputs
        .first()
        .map_or(Span::call_site(), |i| i.ty.span())
}

/// The type of the collections `build` takes.
fn input_collections(_declared: &PipelineFn) -> TokenStream {
    quote!(<Self::Inputs as ::dataflow_core::Inputs>::Collections<'scope>)
}

/// The type for a declaration with errors: it implements `Pipeline`, but its methods are unreachable.
fn fallback(declared: &PipelineFn, ty: &Ident) -> TokenStream {
    let vis = &declared.vis;
    let docs = docs(declared);
    let (inputs, output) = signature_types(declared);
    let collections = input_collections(declared);
    let name = declared.name.to_string();
    quote! {
        #docs
        #vis struct #ty;
        impl ::dataflow_core::Pipeline for #ty {
            type Inputs = #inputs;
            type Output = #output;
            const NAME: &'static str = #name;
            fn plan() -> &'static ::dataflow_core::plan::Plan {
                ::core::unreachable!("the pipeline declaration has errors")
            }
            fn build<'scope>(
                _ctx: &::dataflow_core::Context,
                _inputs: #collections,
            ) -> ::dataflow_core::__private::VecCollection<'scope, ::dataflow_core::Time, Self::Output, isize> {
                ::core::unreachable!("the pipeline declaration has errors")
            }
        }
    }
}

/// The type for a checked declaration, with its plan embedded and its graph built from the body.
fn generate(
    declared: &PipelineFn,
    built: &Built,
    view_key: &[Ident],
    ty: &Ident,
) -> syn::Result<TokenStream> {
    let vis = &declared.vis;
    let docs = docs(declared);
    let (inputs_ty, output_ty) = signature_types(declared);
    let collections = input_collections(declared);
    let name = declared.name.to_string();
    let plan_json = serde_json::to_string(&built.plan)
        .map_err(|e| syn::Error::new(Span::call_site(), format!("cannot encode the plan: {e}")))?;
    let body = declared
        .body
        .as_ref()
        .ok_or_else(|| syn::Error::new(declared.name.span(), "the pipeline has no body"))?;

    let input_names: Vec<&Ident> = declared.inputs.iter().map(|i| &i.name).collect();
    // Each input through the check that its records are records, at the input's type.
    let inputs = declared.inputs.iter().map(|input| {
        let (name, ty) = (&input.name, &input.ty);
        let flow = quote_spanned!(ty.span()=>
            ::dataflow_core::Stream::<#ty>::declared().flow(__ctx, #name)
        );
        quote!(let #name = #flow;)
    });
    let shared = |name: &Ident| built.uses.get(&name.to_string()).copied().unwrap_or(0) > 1;
    let param_names: Vec<&Ident> = declared.params.iter().map(|p| &p.name).collect();
    let (param_lets, check_params) = param_tokens(declared);
    let bindings = body.bindings.iter().map(|binding| {
        let name = &binding.name;
        let chain = chain_tokens(&binding.chain, &shared, &param_names);
        if shared(name) {
            quote!(let #name = #chain.materialize();)
        } else {
            quote!(let #name = #chain;)
        }
    });
    let result = chain_tokens(&body.result, &shared, &param_names);
    let event_time = event_time_tokens(declared, body)?;
    let doc = doc_text(declared);
    let key_names = view_key.iter().map(|field| field.to_string());
    // Each key field must be a field of the output record: a type error at the field otherwise.
    let key_checks = view_key
        .iter()
        .map(|field| quote_spanned!(field.span()=> let _ = &record.#field;));
    let output = &declared.output;
    let result = if built.output_timed {
        quote_spanned!(output.span()=> ::dataflow_core::__private::timed_output::<#output, _, _, _>(#result))
    } else {
        quote_spanned!(output.span()=> ::dataflow_core::__private::output::<#output, _, _>(#result))
    };

    Ok(quote! {
        #docs
        #vis struct #ty;

        const _: fn(&#output_ty) = |record| { let _ = record; #(#key_checks)* };

        impl ::dataflow_core::Pipeline for #ty {
            type Inputs = #inputs_ty;
            type Output = #output_ty;
            const NAME: &'static str = #name;
            const DOC: &'static str = #doc;

            #event_time

            const VIEW_KEY: &'static [&'static str] = &[#(#key_names),*];

            #check_params

            fn plan() -> &'static ::dataflow_core::plan::Plan {
                static PLAN: ::dataflow_core::__private::OnceLock<::dataflow_core::plan::Plan> =
                    ::dataflow_core::__private::OnceLock::new();
                PLAN.get_or_init(|| ::dataflow_core::__private::parse_plan(#plan_json))
            }

            #[allow(clippy::redundant_clone, clippy::let_and_return)]
            fn build<'scope>(
                __ctx: &::dataflow_core::Context,
                __inputs: #collections,
            ) -> ::dataflow_core::__private::VecCollection<'scope, ::dataflow_core::Time, Self::Output, isize> {
                #[allow(unused_imports)]
                use ::dataflow_core::__private::{
                    ExactSum as _, StreamOfRecords as _, OwnedKey as _, RecordValue as _,
                };
                let (#(#input_names,)*) = __inputs;
                #( #param_lets )*
                #( #inputs )*
                #( #bindings )*
                #result
            }
        }
    })
}

/// For pipelines with runtime parameters: the `let` that gives each its value in `build`, and
/// `check_params`, which parses every value before a run builds anything.
fn param_tokens(declared: &PipelineFn) -> (Vec<TokenStream>, TokenStream) {
    if declared.params.is_empty() {
        return (Vec::new(), TokenStream::new());
    }
    let default = |param: &model::Param| match &param.default {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    };
    let lets = declared
        .params
        .iter()
        .map(|param| {
            let (name, ty) = (&param.name, &param.ty);
            let text = name.to_string();
            let default = default(param);
            quote_spanned!(ty.span()=>
                let #name: #ty = ::dataflow_core::__private::param::<#ty>(__ctx, #text, #default);
            )
        })
        .collect();
    let checks = declared.params.iter().map(|param| {
        let ty = &param.ty;
        let text = param.name.to_string();
        let default = default(param);
        quote_spanned!(ty.span()=>
            ::dataflow_core::__private::check_param::<#ty>(params, #text, #default)?;
        )
    });
    let check = quote! {
        fn check_params(
            params: &::dataflow_core::params::Params,
        ) -> ::core::result::Result<(), ::dataflow_core::Error> {
            #( #checks )*
            ::core::result::Result::Ok(())
        }
    };
    (lets, check)
}

/// For pipelines with `event_time` stages: the `EVENT_TIME` flag and `max_event_time`, which applies
/// each input's event-time closure to raw records so that runners can move the watermark.
fn event_time_tokens(declared: &PipelineFn, body: &model::Body) -> syn::Result<TokenStream> {
    let mut stamps: Vec<(usize, &syn::Expr)> = Vec::new();
    let mut chains: Vec<&Chain> = body.bindings.iter().map(|b| &b.chain).collect();
    chains.push(&body.result);
    while let Some(chain) = chains.pop() {
        for call in &chain.calls {
            for arg in &call.args {
                if let Arg::Chain(other) = arg {
                    chains.push(other);
                }
            }
        }
        let Some(first) = chain.calls.first() else {
            continue;
        };
        let Some(index) = declared.inputs.iter().position(|i| i.name == chain.root) else {
            continue;
        };
        if first.method == "event_time"
            && let Some(Arg::Expr(closure)) = first.args.first()
        {
            // Runners read event times before the graph is built, where parameters have no value.
            for param in &declared.params {
                if crate::params::mentions(closure.to_token_stream(), &param.name) {
                    return Err(syn::Error::new_spanned(
                        closure,
                        format!(
                            "an `event_time` closure takes the time from the record alone and cannot use the runtime parameter `{}`: use it in a later stage, as in `.filter(..)`",
                            param.name
                        ),
                    ));
                }
            }
            stamps.push((index, closure));
        }
    }
    if stamps.is_empty() {
        return Ok(TokenStream::new());
    }
    stamps.sort_by_key(|(index, _)| *index);
    let batch = quote!(<Self::Inputs as ::dataflow_core::Inputs>::Batch);
    let scans = stamps.iter().map(|(index, closure)| {
        let ty = &declared.inputs[*index].ty;
        let index = syn::Index::from(*index);
        quote! {
            {
                let mut event_time = ::dataflow_core::__private::event_time_of::<#ty, _>(#closure);
                for record in &batch.#index {
                    let time = event_time(record);
                    max = ::core::option::Option::Some(max.map_or(time, |max: u64| max.max(time)));
                }
            }
        }
    });
    Ok(quote! {
        const EVENT_TIME: bool = true;

        fn max_event_time(
            batch: &#batch,
        ) -> ::core::option::Option<u64> {
            let mut max: ::core::option::Option<u64> = ::core::option::Option::None;
            #( #scans )*
            max
        }
    })
}

/// A chain as calls on `Flow`, each stage getting its node id; shared names are cloned.
fn chain_tokens(chain: &Chain, shared: &dyn Fn(&Ident) -> bool, params: &[&Ident]) -> TokenStream {
    let root = &chain.root;
    let mut tokens = if shared(root) {
        quote!(#root.clone())
    } else {
        quote!(#root)
    };
    for call in &chain.calls {
        let method = &call.method;
        let id = call.id;
        if let Some(check) = closure_check(call) {
            tokens = check_closure(tokens, call, check, params);
            continue;
        }
        let args: Vec<TokenStream> = call
            .args
            .iter()
            .map(|arg| match arg {
                Arg::Expr(expr) => {
                    let expr = crate::params::capture((**expr).clone(), params);
                    quote!(#expr)
                }
                Arg::Chain(other) => chain_tokens(other, shared, params),
            })
            .collect();
        tokens = if matches!(call.method.to_string().as_str(), "join" | "union") {
            // Through the checks that both streams agree, reported in the stage's words.
            quote_spanned!(method.span()=> ::dataflow_core::__private::#method(#tokens, #id, #(#args),*))
        } else {
            quote_spanned!(method.span()=> #tokens.#method(#id, #(#args),*))
        };
    }
    tokens
}

/// How a stage's closure is checked.
#[derive(Clone, Copy)]
enum Check {
    /// The value the closure returns goes through this method of a trait in
    /// `dataflow_core::__private` (see there), which rustc reports in the stage's words at the closure.
    Value(&'static str),
    /// The closure of each `sum`, `mean`, `min` and `max` of an `aggregate`'s builder is checked as
    /// those stages' closures are.
    Aggregates,
    /// A `key_by` closure written as a pair, `|r| (key, value)`: the key is checked as a `key`
    /// closure's, the value as a record.
    KeyValue,
}

/// How `call`'s closure is checked, if it is.
fn closure_check(call: &model::Call) -> Option<Check> {
    match (call.method.to_string().as_str(), call.args.as_slice()) {
        ("key", [Arg::Expr(_)]) => Some(Check::Value("owned_key")),
        ("key_by", [Arg::Expr(_)]) => Some(Check::KeyValue),
        ("sum" | "mean", [Arg::Expr(_)]) => Some(Check::Value("exact_sum")),
        ("min" | "max" | "reduce", [Arg::Expr(_)]) => Some(Check::Value("record_value")),
        ("aggregate", [Arg::Expr(_)]) => Some(Check::Aggregates),
        _ => None,
    }
}

/// `flow.stage(id, closure)`, with the closure checked.
fn check_closure(
    flow: TokenStream,
    call: &model::Call,
    check: Check,
    params: &[&Ident],
) -> TokenStream {
    let method = &call.method;
    let id = call.id;
    let closure: syn::Expr = match call.args.first() {
        Some(Arg::Expr(expr)) => match (&**expr, check) {
            (syn::Expr::Closure(closure), Check::Value(method)) => {
                syn::Expr::Closure(checked_closure(closure, method))
            }
            (syn::Expr::Closure(closure), Check::Aggregates) => {
                syn::Expr::Closure(checked_aggregates(closure))
            }
            (syn::Expr::Closure(closure), Check::KeyValue) => {
                syn::Expr::Closure(checked_pair(closure))
            }
            (other, _) => other.clone(),
        },
        _ => unreachable!("a checked stage has one closure argument"),
    };
    let closure = crate::params::capture(closure, params);
    quote_spanned!(method.span()=> #flow.#method(#id, #closure))
}

/// `closure` with its body's value passed through the method `check`: `|v| { (v.url).owned_key() }`.
fn checked_closure(closure: &syn::ExprClosure, check: &str) -> syn::ExprClosure {
    let mut closure = closure.clone();
    let body = &closure.body;
    let check = Ident::new(check, body.span());
    *closure.body = syn::parse_quote_spanned!(body.span()=> { (#body).#check() });
    closure
}

/// A `key_by` closure, `|r| (key, value)`, with its key checked as a `key` closure's and its value
/// as a record; a closure written otherwise is left as it is.
fn checked_pair(closure: &syn::ExprClosure) -> syn::ExprClosure {
    let mut closure = closure.clone();
    if let syn::Expr::Tuple(pair) = &mut *closure.body
        && pair.elems.len() == 2
    {
        for (element, check) in pair.elems.iter_mut().zip(["owned_key", "record_value"]) {
            let check = Ident::new(check, element.span());
            *element = syn::parse_quote_spanned!(element.span()=> (#element).#check());
        }
    }
    closure
}

/// An `aggregate` closure, `|a| (a.sum(..), a.count())`, with the closure of each `sum`, `mean`,
/// `min` and `max` of its builder checked as those stages' closures are.
fn checked_aggregates(closure: &syn::ExprClosure) -> syn::ExprClosure {
    let mut closure = closure.clone();
    let builder = match closure.inputs.first() {
        Some(syn::Pat::Ident(pat)) if closure.inputs.len() == 1 => pat.ident.clone(),
        _ => return closure,
    };
    let check_call = |expr: &mut syn::Expr| {
        let syn::Expr::MethodCall(call) = expr else {
            return;
        };
        let on_builder =
            matches!(&*call.receiver, syn::Expr::Path(path) if path.path.is_ident(&builder));
        let check = match call.method.to_string().as_str() {
            "sum" | "mean" => "exact_sum",
            "min" | "max" => "record_value",
            _ => return,
        };
        if let (true, Some(syn::Expr::Closure(inner))) = (on_builder, call.args.first_mut()) {
            *inner = checked_closure(inner, check);
        }
    };
    match &mut *closure.body {
        syn::Expr::Tuple(tuple) => tuple.elems.iter_mut().for_each(check_call),
        other => check_call(other),
    }
    closure
}

/// Tests of the expansion.
#[cfg(test)]
mod tests {
    use super::*;

    /// The expansion of `source`, a function, as text.
    fn expand(source: &str) -> String {
        let item: TokenStream = source.parse().unwrap();
        pipeline(TokenStream::new(), item).to_string()
    }

    /// The type is the function's name in camel case.
    #[test]
    fn names_the_type_in_camel_case() {
        let ident = Ident::new("daily_sales", Span::call_site());
        assert_eq!(type_name(&ident).to_string(), "DailySales");
    }

    /// A chain becomes method calls on `Flow`, each with its node id.
    #[test]
    fn expands_a_chain_into_flow_calls() {
        let out = expand(
            "fn word_count(lines: Stream<String>) -> Stream<(String, u64)> { \
             lines.flat_map(|l| l.split(' ').map(String::from).collect::<Vec<_>>()).key(|w| w.clone()).count() }",
        );
        assert!(out.contains("struct WordCount"), "{out}");
        assert!(out.contains(". flat_map (1usize"), "{out}");
        assert!(out.contains(". key (2usize"), "{out}");
        assert!(out.contains(". count (3usize ,)"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    /// Every mistake is reported in one expansion, with the type still declared.
    #[test]
    fn reports_every_mistake_at_once() {
        let out = expand(
            "fn p(a: Stream<u32>) -> Stream<u32> { let b = a.mapp(|x| x); a.reduce(|k, r| 1).sum(|x, y| x) }",
        );
        assert!(
            out.contains("unknown stage `mapp`: did you mean `map`?"),
            "{out}"
        );
        assert!(
            out.contains("`reduce` needs a `key` stage before it"),
            "{out}"
        );
        assert!(
            out.contains("`sum` takes a closure with 1 parameter"),
            "{out}"
        );
        // The type is still declared, so its users see no follow-on errors.
        assert!(out.contains("struct P"), "{out}");
    }

    /// After an unknown stage, the rest of the chain is not checked against a stream it may not be.
    #[test]
    fn checks_nothing_after_an_unknown_stage() {
        let out =
            expand("fn p(a: Stream<u32>) -> Stream<(u32, u64)> { a.group_by(|x| *x).count() }");
        assert!(
            out.contains("unknown stage `group_by`: did you mean `key`?"),
            "{out}"
        );
        assert!(!out.contains("needs a `key` stage"), "{out}");
    }

    /// Closures whose values are checked return them through the check's method.
    #[test]
    fn checks_the_values_closures_return() {
        let out = expand(
            "fn p(a: Stream<(u32, u64)>) -> Stream<(u32, (u64, u64))> { \
             a.key(|x| x.0).aggregate(|agg| (agg.sum(|x| x.1), agg.max(|x| x.1))) }",
        );
        assert!(out.contains("(x . 0) . owned_key ()"), "{out}");
        assert!(
            out.contains("agg . sum (| x | { (x . 1) . exact_sum () })"),
            "{out}"
        );
        assert!(
            out.contains("agg . max (| x | { (x . 1) . record_value () })"),
            "{out}"
        );
        let out = expand(
            "fn p(a: Stream<(u32, u64)>) -> Stream<(u32, u64)> { a.key_by(|x| (x.0, x.1)).sum(|v| *v) }",
        );
        assert!(
            out.contains("((x . 0) . owned_key () , (x . 1) . record_value ())"),
            "{out}"
        );
    }

    /// The output goes through the check of its records, for an event-time stream as for others.
    #[test]
    fn checks_the_output_records() {
        let out =
            expand("fn p(a: Stream<(u32, u64)>) -> Stream<(u32, u64)> { a.filter(|x| x.1 > 0) }");
        assert!(
            out.contains("__private :: output :: < (u32 , u64) , _ , _ >"),
            "{out}"
        );
        let out = expand(
            "fn p(a: Stream<(u32, u64)>) -> Stream<(u32, u64)> { a.event_time(|x| x.1).filter(|x| x.1 > 0) }",
        );
        assert!(
            out.contains("__private :: timed_output :: < (u32 , u64) , _ , _ , _ >"),
            "{out}"
        );
    }

    /// A binding used more than once is materialized, and cloned at each use.
    #[test]
    fn shared_bindings_are_materialized_and_cloned() {
        let out = expand(
            "fn p(a: Stream<(u32, u32)>) -> Stream<(u32, (u32, u32))> { \
             let keyed = a.key(|x| x.0); keyed.join(keyed.filter(|x| x.1 > 0)).map(|(k, (l, r))| (k, (l.1, r.1))) }",
        );
        assert!(out.contains("let keyed = a . key (1usize"), "{out}");
        assert!(out.contains(". materialize ()"), "{out}");
        assert!(out.contains("keyed . clone ()"), "{out}");
    }
}
