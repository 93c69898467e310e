//! The syntax model of a pipeline declaration: its signature and the chains of stages in its body.
//!
//! Lowering from syn keeps every span, so that each later check can point at the user's code.
//! Mistakes found here are collected in the error context ([`Ctxt`]) rather than returned one by one.

use crate::ctxt::Ctxt;
use crate::stages::{self, ArgSpec};
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, FnArg, Ident, ItemFn, Pat, ReturnType, Stmt, Type, Visibility};

/// A declared pipeline.
pub struct PipelineFn {
    /// Attributes on the function (its doc comments among them).
    pub attrs: Vec<Attribute>,
    /// The function's visibility, given to the generated type.
    pub vis: Visibility,
    /// The function's name.
    pub name: Ident,
    /// The inputs, one per `Stream` parameter.
    pub inputs: Vec<Input>,
    /// The runtime parameters: the parameters that are not streams.
    pub params: Vec<Param>,
    /// The output record type.
    pub output: Type,
    /// The body, if it could be read.
    pub body: Option<Body>,
}

/// A pipeline input: `name: Stream<Record>`.
pub struct Input {
    /// The parameter's name.
    pub name: Ident,
    /// The record type.
    pub ty: Type,
    /// Whether it is declared as `Stream<..>`. A parameter that is not is reported where it is
    /// declared, and kept only so that its uses report no follow-on errors.
    pub stream: bool,
}

/// A runtime parameter: `min_ts: u64`, optionally `#[param(default = 0)] min_ts: u64`.
pub struct Param {
    /// The parameter's name.
    pub name: Ident,
    /// Its type.
    pub ty: Type,
    /// The default value's text, if declared.
    pub default: Option<String>,
}

/// A pipeline body: `let` bindings, then the chain whose output the pipeline returns.
pub struct Body {
    /// `let name = chain;` statements, in order.
    pub bindings: Vec<Binding>,
    /// The final chain.
    pub result: Chain,
}

/// `let name = chain;`
pub struct Binding {
    /// The bound name.
    pub name: Ident,
    /// The chain bound to it.
    pub chain: Chain,
}

/// A chain of stages starting from an input or a binding: `sales.map(..).key(..).count()`.
pub struct Chain {
    /// The input or binding the chain starts from.
    pub root: Ident,
    /// The stage calls, in order.
    pub calls: Vec<Call>,
}

/// One stage call: `.method(args)`.
pub struct Call {
    /// The stage's name as written.
    pub method: Ident,
    /// The arguments.
    pub args: Vec<Arg>,
    /// The span of the parenthesized argument list.
    pub parens: Span,
    /// The stage's node id in the plan, set by the checks.
    pub id: usize,
}

/// A stage argument.
pub enum Arg {
    /// A Rust expression, usually a closure, passed through to rustc.
    Expr(Box<Expr>),
    /// Another chain of stages (the argument of `join` and `union`).
    Chain(Chain),
}

/// Reads a function as a pipeline declaration. Returns `None` only if nothing usable is left.
pub fn lower(item: &ItemFn, cx: &Ctxt) -> Option<PipelineFn> {
    let sig = &item.sig;
    if let Some(token) = &sig.asyncness {
        cx.error_spanned_by(token, "a pipeline cannot be `async`: remove `async`");
    }
    if let Some(token) = &sig.constness {
        cx.error_spanned_by(token, "a pipeline cannot be `const`: remove `const`");
    }
    if let Some(token) = &sig.unsafety {
        cx.error_spanned_by(token, "a pipeline cannot be `unsafe`: remove `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(abi, "a pipeline cannot have an ABI: remove it");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &sig.generics,
            "a pipeline cannot be generic: name its record types, as in `fn p(sales: Stream<Sale>)`",
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, "a pipeline cannot be variadic");
    }

    let mut inputs = Vec::new();
    let mut params = Vec::new();
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(receiver) => cx.error_spanned_by(
                receiver,
                "a pipeline is a free function, not a method: remove `self`",
            ),
            FnArg::Typed(typed) => {
                let name = match &*typed.pat {
                    Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                        Some(pat.ident.clone())
                    }
                    other => {
                        cx.error_spanned_by(
                            other,
                            "a pipeline input is a plain name, as in `sales: Stream<Sale>`",
                        );
                        None
                    }
                };
                let record = stream_record(&typed.ty);
                let default = param_default(&typed.attrs, cx);
                if record.is_none() && collection_item(&typed.ty).is_none() {
                    // Not a stream: a runtime parameter.
                    if let Type::Reference(reference) = &*typed.ty {
                        cx.error_spanned_by(
                            reference,
                            format!(
                                "a runtime parameter owns its value: write `{}` instead of `{}`",
                                owned_type_text(&reference.elem),
                                type_text(&typed.ty)
                            ),
                        );
                    }
                    if let Some(name) = name {
                        params.push(Param {
                            name,
                            ty: (*typed.ty).clone(),
                            default,
                        });
                    }
                    continue;
                }
                if let Some(attr) = typed.attrs.first() {
                    cx.error_spanned_by(
                        attr,
                        "an input takes no attributes: `#[param(..)]` is for runtime parameters, the parameters that are not streams",
                    );
                }
                if record.is_none() {
                    let param = name.as_ref().map_or("input".to_string(), |n| n.to_string());
                    cx.error_spanned_by(&typed.ty, not_a_stream(&param, &typed.ty));
                }
                if let Some(name) = name {
                    inputs.push(Input {
                        name,
                        stream: record.is_some(),
                        // Keep a parameter that is not a stream, so that its uses report no
                        // follow-on errors.
                        ty: record.unwrap_or_else(|| (*typed.ty).clone()),
                    });
                }
            }
        }
    }
    if inputs.is_empty() {
        cx.error_at(
            sig.paren_token.span.join(),
            "a pipeline needs at least one input, as in `fn p(sales: Stream<Sale>)`",
        );
    }

    let output = match &sig.output {
        ReturnType::Type(_, ty) => match stream_record(ty) {
            Some(record) => Some(record),
            None => {
                let written = type_text(ty);
                let record = collection_item(ty).map_or(written.clone(), |item| type_text(&item));
                cx.error_spanned_by(
                    ty,
                    format!(
                        "a pipeline returns a stream of records, `Stream<Record>`, found `{written}`: write `-> Stream<{record}>`"
                    ),
                );
                None
            }
        },
        ReturnType::Default => {
            cx.error_at(
                sig.ident.span(),
                "a pipeline must declare its output: add `-> Stream<Output>`",
            );
            None
        }
    };

    let body = lower_body(item, cx);
    Some(PipelineFn {
        attrs: item.attrs.clone(),
        vis: item.vis.clone(),
        name: sig.ident.clone(),
        inputs,
        params,
        output: output?,
        body,
    })
}

/// The text of `#[param(default = ..)]` among a parameter's attributes: a string literal's value,
/// or any other literal as written.
fn param_default(attrs: &[Attribute], cx: &Ctxt) -> Option<String> {
    let mut default = None;
    for attr in attrs {
        if !attr.path().is_ident("param") {
            cx.error_spanned_by(
                attr,
                "a pipeline parameter takes only `#[param(default = ..)]`, as in `#[param(default = 0)] min_ts: u64`",
            );
            continue;
        }
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") {
                let literal: syn::Lit = meta.value()?.parse()?;
                default = Some(match &literal {
                    syn::Lit::Str(text) => text.value(),
                    other => other.to_token_stream().to_string(),
                });
                Ok(())
            } else {
                Err(meta.error(
                    "`#[param]` takes only `default = value`, as in `#[param(default = 0)]`",
                ))
            }
        });
        if let Err(error) = parsed {
            cx.error_at(error.span(), error);
        }
    }
    default
}

/// The owned type for a borrowed one: `String` for `str`, `Vec<T>` for `[T]`, else the type itself.
fn owned_type_text(ty: &Type) -> String {
    match ty {
        Type::Path(path) if path.path.is_ident("str") => "String".to_string(),
        Type::Slice(slice) => format!("Vec<{}>", type_text(&slice.elem)),
        other => type_text(other),
    }
}

/// The error for an input `name` declared as a collection of records `ty` instead of a `Stream`.
fn not_a_stream(name: &str, ty: &Type) -> String {
    let written = type_text(ty);
    let item = collection_item(ty).map_or(written.clone(), |item| type_text(&item));
    format!(
        "a pipeline input is a stream of records, found `{written}`: write `{name}: Stream<{item}>`; \
         the records are given when the pipeline runs, as in `Runner::batch(vec![..])`"
    )
}

/// `T` from a collection type a user may write for a batch of records: `Vec<T>`, `&[T]`, `[T; N]`,
/// `&Vec<T>`, `impl Iterator<Item = T>`.
fn collection_item(ty: &Type) -> Option<Type> {
    match ty {
        Type::Reference(reference) => collection_item(&reference.elem),
        Type::Slice(slice) => Some((*slice.elem).clone()),
        Type::Array(array) => Some((*array.elem).clone()),
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            if !["Vec", "VecDeque", "HashSet", "BTreeSet"]
                .contains(&last.ident.to_string().as_str())
            {
                return None;
            }
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            match args.args.first()? {
                syn::GenericArgument::Type(item) if args.args.len() == 1 => Some(item.clone()),
                _ => None,
            }
        }
        Type::ImplTrait(bounds) => bounds.bounds.iter().find_map(|bound| {
            let syn::TypeParamBound::Trait(bound) = bound else {
                return None;
            };
            let last = bound.path.segments.last()?;
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            args.args.iter().find_map(|arg| match arg {
                syn::GenericArgument::AssocType(assoc) if assoc.ident == "Item" => {
                    Some(assoc.ty.clone())
                }
                _ => None,
            })
        }),
        _ => None,
    }
}

/// `T` from `Stream<T>`.
fn stream_record(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != "Stream" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    if args.args.len() != 1 {
        return None;
    }
    match args.args.first()? {
        syn::GenericArgument::Type(ty) => Some(ty.clone()),
        _ => None,
    }
}

/// Reads the body: its `let` bindings and the chain it ends with.
fn lower_body(item: &ItemFn, cx: &Ctxt) -> Option<Body> {
    let mut bindings = Vec::new();
    let mut result = None;
    let count = item.block.stmts.len();
    for (index, stmt) in item.block.stmts.iter().enumerate() {
        let last = index + 1 == count;
        match stmt {
            Stmt::Local(local) => {
                let name = match &local.pat {
                    Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                        Some(pat.ident.clone())
                    }
                    Pat::Type(typed) => {
                        cx.error_spanned_by(
                            &typed.ty,
                            "a `let` in a pipeline takes no type annotation: rustc infers it",
                        );
                        None
                    }
                    other => {
                        cx.error_spanned_by(other, "a `let` in a pipeline binds one plain name");
                        None
                    }
                };
                let chain = match &local.init {
                    Some(init) if !chain_like(&init.expr) => {
                        cx.error_spanned_by(local, let_value(name.as_ref(), &init.expr));
                        None
                    }
                    Some(init) => {
                        if let Some((_, diverge)) = &init.diverge {
                            cx.error_spanned_by(diverge, "a `let` in a pipeline has no `else`");
                        }
                        lower_chain(&init.expr, cx)
                    }
                    None => {
                        cx.error_spanned_by(local, "a `let` in a pipeline must bind a chain of stages");
                        None
                    }
                };
                if let (Some(name), Some(chain)) = (name, chain) {
                    bindings.push(Binding { name, chain });
                }
            }
            Stmt::Expr(expr, None) if last => result = lower_chain(expr, cx),
            Stmt::Expr(expr, Some(semi)) if last => {
                cx.error_spanned_by(
                    semi,
                    "remove this `;`: a pipeline body ends with the chain of stages whose output it returns",
                );
                result = lower_chain(expr, cx);
            }
            Stmt::Expr(Expr::Return(ret), _) => cx.error_spanned_by(
                ret,
                "a pipeline body ends with its output chain, without `return`",
            ),
            other => cx.error_spanned_by(
                other,
                "a pipeline body holds only `let name = chain;` bindings, as in `let big = sales.filter(|s| s.cents > 100);`, \
                 and ends with the chain of stages it returns; declare constants, functions and types outside the function",
            ),
        }
    }
    if count == 0 || !matches!(item.block.stmts.last(), Some(Stmt::Expr(..))) {
        cx.error_at(
            item.block.brace_token.span.close(),
            "a pipeline body must end with the chain of stages whose output it returns, as in `sales.map(..)` (no trailing `;`)",
        );
        return None;
    }
    Some(Body {
        bindings,
        result: result?,
    })
}

/// Whether `expr` has the form of a chain of stages, `name.stage(..).stage(..)`, right or wrong.
fn chain_like(expr: &Expr) -> bool {
    match expr {
        Expr::MethodCall(call) => chain_like(&call.receiver),
        Expr::Path(_) => true,
        Expr::Paren(paren) => chain_like(&paren.expr),
        Expr::Group(group) => chain_like(&group.expr),
        _ => false,
    }
}

/// The error for `let name = value;` in a body, where `value` is not a chain of stages.
fn let_value(name: Option<&Ident>, value: &Expr) -> String {
    let name = name.map_or("value".to_string(), |n| n.to_string());
    let ty = match value {
        Expr::Lit(lit) => match &lit.lit {
            syn::Lit::Int(int) if !int.suffix().is_empty() => int.suffix().to_string(),
            syn::Lit::Int(_) => "u64".to_string(),
            syn::Lit::Float(float) if !float.suffix().is_empty() => float.suffix().to_string(),
            syn::Lit::Float(_) => "f64".to_string(),
            syn::Lit::Str(_) => "&str".to_string(),
            syn::Lit::Bool(_) => "bool".to_string(),
            syn::Lit::Char(_) => "char".to_string(),
            _ => "Type".to_string(),
        },
        _ => "Type".to_string(),
    };
    format!(
        "a `let` in a pipeline body binds a chain of stages, as in `let big = sales.filter(|s| s.cents > 100);`, \
         but `{name}` is bound to `{}`: declare values outside the function, as in `const {}: {ty} = {};`, \
         and use them in the closures",
        abbreviate(&value.to_token_stream()),
        name.to_uppercase(),
        abbreviate(&value.to_token_stream()),
    )
}

/// Reads `root.stage(..).stage(..)`.
pub fn lower_chain(expr: &Expr, cx: &Ctxt) -> Option<Chain> {
    match expr {
        Expr::MethodCall(call) => {
            let mut chain = lower_chain(&call.receiver, cx)?;
            if let Some(turbofish) = &call.turbofish {
                cx.error_spanned_by(
                    turbofish,
                    format!(
                        "`{}` takes no type parameters: annotate the closure instead",
                        call.method
                    ),
                );
            }
            let chain_args = stages::lookup(&call.method.to_string())
                .map(|spec| {
                    spec.args
                        .iter()
                        .map(|arg| matches!(arg, ArgSpec::Chain { .. }))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let mut args = Vec::new();
            for (index, arg) in call.args.iter().enumerate() {
                if chain_args.get(index).copied().unwrap_or(false) {
                    args.push(Arg::Chain(lower_chain(arg, cx)?));
                } else {
                    args.push(Arg::Expr(Box::new(arg.clone())));
                }
            }
            chain.calls.push(Call {
                method: call.method.clone(),
                args,
                parens: call.paren_token.span.join(),
                id: 0,
            });
            Some(chain)
        }
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
            match path.path.get_ident() {
                Some(ident) => Some(Chain {
                    root: ident.clone(),
                    calls: Vec::new(),
                }),
                None => {
                    cx.error_spanned_by(
                        path,
                        "a chain of stages starts from an input or a `let` binding of this pipeline",
                    );
                    None
                }
            }
        }
        Expr::Paren(paren) => lower_chain(&paren.expr, cx),
        Expr::Group(group) => lower_chain(&group.expr, cx),
        other => {
            cx.error_at(
                other.span(),
                format!(
                    "expected a chain of stages starting from an input, as in `sales.map(|s| ..)`, found `{}`",
                    abbreviate(&other.to_token_stream())
                ),
            );
            None
        }
    }
}

/// `tokens` as text, cut to 40 characters.
fn abbreviate(tokens: &TokenStream) -> String {
    let text = tokens.to_string();
    if text.chars().count() > 40 {
        let cut: String = text.chars().take(37).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// A type as text, spaced the way people write it: `Vec<(String, u64)>`.
pub fn type_text(ty: &Type) -> String {
    let mut text = ty.to_token_stream().to_string();
    for (from, to) in [
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("( ", "("),
        (" )", ")"),
        (" :: ", "::"),
        ("& ", "&"),
    ] {
        text = text.replace(from, to);
    }
    text
}
