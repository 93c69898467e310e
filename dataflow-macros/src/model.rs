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
    /// The inputs, one per parameter.
    pub inputs: Vec<Input>,
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
                let ty = match stream_record(&typed.ty) {
                    Some(ty) => ty,
                    None => {
                        let written = type_text(&typed.ty);
                        cx.error_spanned_by(
                            &typed.ty,
                            format!(
                                "a pipeline input has type `Stream<Record>`, found `{written}`: write `Stream<{written}>`"
                            ),
                        );
                        // Keep the input, so that its uses report no follow-on errors.
                        (*typed.ty).clone()
                    }
                };
                if let Some(name) = name {
                    inputs.push(Input { name, ty });
                }
            }
        }
    }
    if sig.inputs.is_empty() {
        cx.error_at(
            sig.paren_token.span.join(),
            "a pipeline needs at least one input, as in `fn p(sales: Stream<Sale>)`",
        );
    }

    let output = match &sig.output {
        ReturnType::Type(_, ty) => match stream_record(ty) {
            Some(record) => Some(record),
            None => {
                cx.error_spanned_by(
                    ty,
                    format!(
                        "a pipeline returns `Stream<Record>`, found `{}`",
                        ty.to_token_stream()
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
        output: output?,
        body,
    })
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
                "a pipeline body holds `let name = chain;` bindings and ends with the chain of stages it returns",
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
