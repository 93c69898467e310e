//! The `#[pipeline]` attribute of `dataflow-core`.
//!
//! This crate only parses and delegates: the declaration is read into a model (`model`), walked in
//! order to number its stage calls and build its plan (`build`, with `stream` and `source`) while the
//! rules of `check` are applied against the stage descriptions (`stages`), and expanded (`expand`).
//! Mistakes are collected in an error context (`ctxt`) and reported together. All of it works on
//! `proc_macro2` types, so it is tested with plain `#[test]`s. Use the attribute through
//! `dataflow_core::pipeline`; its documentation lives there. `#[record]` (`record`) derives a record
//! type's serde traits and its log schema.

mod build;
mod check;
mod ctxt;
mod expand;
mod model;
mod params;
mod record;
mod source;
mod stages;
mod stream;

use proc_macro::TokenStream;

/// Turns a function into a pipeline. See `dataflow_core` for the stages and an example.
#[proc_macro_attribute]
pub fn pipeline(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::pipeline(attr.into(), item.into()).into()
}

/// Makes a struct or enum a record that can be stored in the event log, with no direct `serde`
/// dependency: derives the serde traits and implements `Schema` (version 1 unless
/// `#[record(version = N, upgrade = path)]`). The crate documentation of `dataflow_core` (section "Records") has an example.
#[proc_macro_attribute]
pub fn record(attr: TokenStream, item: TokenStream) -> TokenStream {
    record::record(attr.into(), item.into()).into()
}
