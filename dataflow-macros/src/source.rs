//! The source text the plan records for a stage: its arguments as the user wrote them.

use crate::model::{Arg, Call};
use crate::stages::{ArgSpec, StageSpec};
use quote::ToTokens;

/// The arguments of `call`, a `spec` stage, as written (without the parentheses); empty for a stage
/// without arguments or one whose argument is another chain.
pub fn arguments(spec: &StageSpec, call: &Call) -> String {
    match spec.args.first() {
        Some(ArgSpec::Chain { .. }) | None => String::new(),
        Some(_) => match call.parens.source_text() {
            Some(text) => strip_parens(&dataflow_plan::normalize_whitespace(&text)),
            None => {
                let tokens = call.args.iter().map(|arg| match arg {
                    Arg::Expr(expr) => expr.to_token_stream(),
                    Arg::Chain(_) => proc_macro2::TokenStream::new(),
                });
                quote::quote!(#(#tokens),*).to_string()
            }
        },
    }
}

/// `text` without its surrounding parentheses and a trailing comma.
fn strip_parens(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        Some(inner) => inner.trim().trim_end_matches(',').trim_end().to_string(),
        None => trimmed.to_string(),
    }
}
