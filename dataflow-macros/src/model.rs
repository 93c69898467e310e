//! The syntax model of a pipeline declaration: its signature and the chains of stages in its body.
//!
//! Lowering from syn keeps every span, so that each later check can point at the user's code.
//! Mistakes found here are collected in [`Errors`] rather than returned one by one.

use crate::stages::{self, ArgSpec};
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, FnArg, Ident, ItemFn, Pat, ReturnType, Stmt, Type, Visibility};

/// Errors collected while reading and checking a declaration, reported together.
#[derive(Default)]
pub struct Errors(Vec<syn::Error>);

impl Errors {
    /// Records an error at `span`.
    pub fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.0.push(syn::Error::new(span, message));
    }

    /// Records an error spanning `tokens`.
    pub fn spanning(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.0.push(syn::Error::new_spanned(tokens, message));
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All errors as one `syn::Error`, if there are any.
    pub fn combined(self) -> Option<syn::Error> {
        self.0.into_iter().reduce(|mut all, next| {
            all.combine(next);
            all
        })
    }
}

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
    Flow(Chain),
}

/// Reads a function as a pipeline declaration. Returns `None` only if nothing usable is left.
pub fn lower(item: &ItemFn, errors: &mut Errors) -> Option<PipelineFn> {
    let sig = &item.sig;
    if let Some(token) = &sig.asyncness {
        errors.spanning(token, "a pipeline cannot be `async`: remove `async`");
    }
    if let Some(token) = &sig.constness {
        errors.spanning(token, "a pipeline cannot be `const`: remove `const`");
    }
    if let Some(token) = &sig.unsafety {
        errors.spanning(token, "a pipeline cannot be `unsafe`: remove `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.spanning(abi, "a pipeline cannot have an ABI: remove it");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.spanning(
            &sig.generics,
            "a pipeline cannot be generic: name its record types, as in `fn p(sales: Stream<Sale>)`",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanning(variadic, "a pipeline cannot be variadic");
    }

    let mut inputs = Vec::new();
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(receiver) => errors.spanning(
                receiver,
                "a pipeline is a free function, not a method: remove `self`",
            ),
            FnArg::Typed(typed) => {
                let name = match &*typed.pat {
                    Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                        Some(pat.ident.clone())
                    }
                    other => {
                        errors.spanning(
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
                        errors.spanning(
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
        errors.at(
            sig.paren_token.span.join(),
            "a pipeline needs at least one input, as in `fn p(sales: Stream<Sale>)`",
        );
    }

    let output = match &sig.output {
        ReturnType::Type(_, ty) => match stream_record(ty) {
            Some(record) => Some(record),
            None => {
                errors.spanning(
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
            errors.at(
                sig.ident.span(),
                "a pipeline must declare its output: add `-> Stream<Output>`",
            );
            None
        }
    };

    let body = lower_body(item, errors);
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

fn lower_body(item: &ItemFn, errors: &mut Errors) -> Option<Body> {
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
                        errors.spanning(
                            &typed.ty,
                            "a `let` in a pipeline takes no type annotation: rustc infers it",
                        );
                        None
                    }
                    other => {
                        errors.spanning(other, "a `let` in a pipeline binds one plain name");
                        None
                    }
                };
                let chain = match &local.init {
                    Some(init) => {
                        if let Some((_, diverge)) = &init.diverge {
                            errors.spanning(diverge, "a `let` in a pipeline has no `else`");
                        }
                        lower_chain(&init.expr, errors)
                    }
                    None => {
                        errors.spanning(local, "a `let` in a pipeline must bind a chain of stages");
                        None
                    }
                };
                if let (Some(name), Some(chain)) = (name, chain) {
                    bindings.push(Binding { name, chain });
                }
            }
            Stmt::Expr(expr, None) if last => result = lower_chain(expr, errors),
            Stmt::Expr(expr, Some(semi)) if last => {
                errors.spanning(
                    semi,
                    "remove this `;`: a pipeline body ends with the chain of stages whose output it returns",
                );
                result = lower_chain(expr, errors);
            }
            Stmt::Expr(Expr::Return(ret), _) => errors.spanning(
                ret,
                "a pipeline body ends with its output chain, without `return`",
            ),
            other => errors.spanning(
                other,
                "a pipeline body holds `let name = chain;` bindings and ends with the chain of stages it returns",
            ),
        }
    }
    if count == 0 || !matches!(item.block.stmts.last(), Some(Stmt::Expr(..))) {
        errors.at(
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
pub fn lower_chain(expr: &Expr, errors: &mut Errors) -> Option<Chain> {
    match expr {
        Expr::MethodCall(call) => {
            let mut chain = lower_chain(&call.receiver, errors)?;
            if let Some(turbofish) = &call.turbofish {
                errors.spanning(
                    turbofish,
                    format!(
                        "`{}` takes no type parameters: annotate the closure instead",
                        call.method
                    ),
                );
            }
            let flow_args = stages::lookup(&call.method.to_string())
                .map(|spec| {
                    spec.args
                        .iter()
                        .map(|arg| matches!(arg, ArgSpec::Flow { .. }))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let mut args = Vec::new();
            for (index, arg) in call.args.iter().enumerate() {
                if flow_args.get(index).copied().unwrap_or(false) {
                    args.push(Arg::Flow(lower_chain(arg, errors)?));
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
                    errors.spanning(
                        path,
                        "a chain of stages starts from an input or a `let` binding of this pipeline",
                    );
                    None
                }
            }
        }
        Expr::Paren(paren) => lower_chain(&paren.expr, errors),
        Expr::Group(group) => lower_chain(&group.expr, errors),
        other => {
            errors.at(
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
