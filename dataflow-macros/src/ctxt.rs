//! The error context: mistakes found while reading and checking a declaration are collected here and
//! reported together, as one `syn::Error`.

use proc_macro2::Span;
use quote::ToTokens;
use std::cell::RefCell;
use std::fmt::Display;
use std::thread;

/// Collects errors. It must be consumed with [`Ctxt::check`]: dropping it unchecked panics, so that no
/// error can be lost.
pub struct Ctxt {
    /// The errors so far, in the order they were found; `None` once checked.
    errors: RefCell<Option<Vec<syn::Error>>>,
}

/// Recording and checking errors.
impl Ctxt {
    /// An empty context.
    pub fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error at `span`.
    pub fn error_at(&self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records an error spanning `tokens`.
    pub fn error_spanned_by(&self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records `error`.
    fn push(&self, error: syn::Error) {
        self.errors
            .borrow_mut()
            .as_mut()
            .expect("the context is used after `check`")
            .push(error);
    }

    /// Consumes the context: `Ok` if nothing was recorded, else every error combined into one, in order.
    pub fn check(self) -> syn::Result<()> {
        let errors = self
            .errors
            .borrow_mut()
            .take()
            .expect("the context is checked twice");
        let mut errors = errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

/// The guard against unchecked errors.
impl Drop for Ctxt {
    /// Panics if the context was not checked, unless a panic is already under way.
    fn drop(&mut self) {
        if !thread::panicking() && self.errors.borrow().is_some() {
            panic!("an error context was dropped without `Ctxt::check`");
        }
    }
}

/// Tests of the error context.
#[cfg(test)]
mod tests {
    use super::*;

    /// No errors check as `Ok`.
    #[test]
    fn checks_clean_when_empty() {
        assert!(Ctxt::new().check().is_ok());
    }

    /// Errors combine into one, in the order they were recorded.
    #[test]
    fn combines_errors_in_order() {
        let cx = Ctxt::new();
        cx.error_at(Span::call_site(), "first");
        cx.error_spanned_by(quote::quote!(x), "second");
        let messages: Vec<String> = cx
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages, ["first", "second"]);
    }

    /// Dropping a context without checking it panics.
    #[test]
    #[should_panic(expected = "without `Ctxt::check`")]
    fn panics_when_dropped_unchecked() {
        let _cx = Ctxt::new();
    }
}
