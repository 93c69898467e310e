//! The `#[pipeline]` attribute of `dataflow-core`.
//!
//! This crate only parses and delegates: the declaration is read into a model (`model`), walked in
//! order to number its stage calls and build its plan (`build`, with `stream` and `source`) while the
//! rules of `check` are applied against the stage descriptions (`stages`), and expanded (`expand`).
//! Mistakes are collected in an error context (`ctxt`) and reported together. All of it works on
//! `proc_macro2` types, so it is tested with plain `#[test]`s. Use the attribute through
//! `dataflow_core::pipeline`; its documentation lives there.

mod build;
mod check;
mod ctxt;
mod expand;
mod model;
mod source;
mod stages;
mod stream;

use proc_macro::TokenStream;

/// Turns a function into a pipeline. See `dataflow_core` for the stages and an example.
#[proc_macro_attribute]
pub fn pipeline(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::pipeline(attr.into(), item.into()).into()
}
