//! Runtime parameters in the generated code: which stage arguments use a parameter, and how a
//! closure that does takes its own copy of the value.
//!
//! The graph is built once per worker and its closures outlive the build, so a closure cannot
//! borrow a parameter. Every closure that names one becomes `{ let p = p.clone(); move |..| .. }`,
//! nested closures included; nothing else in a pipeline body is captured, so `move` changes nothing
//! else.

use crate::model::{Arg, Body, Chain};
use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, Ident};

/// Whether `tokens` contain the identifier `name` anywhere.
pub fn mentions(tokens: TokenStream, name: &Ident) -> bool {
    tokens.into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident == *name,
        TokenTree::Group(group) => mentions(group.stream(), name),
        _ => false,
    })
}

/// Whether any stage argument of `body` names `name`.
pub fn used_in_body(body: &Body, name: &Ident) -> bool {
    body.bindings
        .iter()
        .map(|b| &b.chain)
        .chain(std::iter::once(&body.result))
        .any(|chain| used_in_chain(chain, name))
}

/// Whether any stage argument of `chain` (or of a chain passed to one) names `name`.
fn used_in_chain(chain: &Chain, name: &Ident) -> bool {
    chain.calls.iter().any(|call| {
        call.args.iter().any(|arg| match arg {
            Arg::Expr(expr) => mentions(expr.to_token_stream(), name),
            Arg::Chain(other) => used_in_chain(other, name),
        })
    })
}

/// `expr` with every closure in it that names one of `params` taking its own clone of them.
pub fn capture(mut expr: Expr, params: &[&Ident]) -> Expr {
    if params.is_empty() {
        return expr;
    }
    Capture { params }.visit_expr_mut(&mut expr);
    expr
}

/// The rewrite of [`capture`].
struct Capture<'a> {
    params: &'a [&'a Ident],
}

impl VisitMut for Capture<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        // Inner closures first, so that an outer closure clones from its own copy.
        syn::visit_mut::visit_expr_mut(self, expr);
        let Expr::Closure(closure) = expr else {
            return;
        };
        let used: Vec<&Ident> = self
            .params
            .iter()
            .copied()
            .filter(|name| mentions(closure.body.to_token_stream(), name))
            .collect();
        if used.is_empty() {
            return;
        }
        let mut closure = closure.clone();
        if closure.capture.is_none() {
            closure.capture = Some(syn::Token![move](closure.span()));
        }
        let span = closure.span();
        let block: TokenStream = quote_spanned!(span=> {
            #( let #used = ::core::clone::Clone::clone(&#used); )*
            #closure
        });
        *expr = syn::parse2(block).expect("a block of `let`s and a closure is an expression");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    #[test]
    fn closures_naming_a_parameter_take_their_own_copy() {
        let min = Ident::new("min", Span::call_site());
        let expr: Expr = syn::parse_quote!(|a| (a.sum(|x| x.1 * min), a.count()));
        let captured = capture(expr, &[&min]).to_token_stream().to_string();
        assert_eq!(
            captured,
            "{ let min = :: core :: clone :: Clone :: clone (& min) ; move | a | (a . sum ({ let min = :: core :: clone :: Clone :: clone (& min) ; move | x | x . 1 * min }) , a . count ()) }"
        );
        let untouched: Expr = syn::parse_quote!(|x| x + 1);
        assert_eq!(
            capture(untouched.clone(), &[&min])
                .to_token_stream()
                .to_string(),
            untouched.to_token_stream().to_string()
        );
    }
}
