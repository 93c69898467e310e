//! The `#[record]` attribute: makes a struct or enum a pipeline record that can be stored in the event
//! log, with no direct `serde` dependency in the user's crate.
//!
//! It adds the serde derives (unless the type derives them already) pointed at the serde that
//! `dataflow-core` re-exports, and implements `Schema` with the declared version (1 by default), an
//! optional upgrade function for older versions, and the type's shape as declared (its name, and its
//! fields' names and types as written), whose fingerprint tells two layouts under one version apart.

use crate::ctxt::Ctxt;
use crate::model::type_text;
use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Attribute, Data, DeriveInput, Fields, LitInt, Meta, Path, Token, parse_quote};

/// The path of the serde that `dataflow-core` re-exports, as serde's `crate` attribute takes it.
const SERDE: &str = "::dataflow_core::__private::serde";

/// The arguments of `#[record(..)]`.
struct Args {
    /// The schema version, 1 unless declared.
    version: u32,
    /// The function that reads older versions, if declared.
    upgrade: Option<Path>,
}

/// Expands `#[record]` with arguments `attr` on `item`.
pub fn record(attr: TokenStream, item: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(item.clone()) {
        Ok(input) => input,
        Err(_) => {
            let error = syn::Error::new_spanned(
                &item,
                "`#[record]` goes on a struct or an enum, as in `#[record] struct Sale { .. }`",
            );
            let error = error.to_compile_error();
            return quote!(#error #item);
        }
    };
    let cx = Ctxt::new();
    let args = parse_args(attr, &cx);
    if let Data::Union(data) = &input.data {
        cx.error_spanned_by(
            data.union_token,
            "`#[record]` goes on a struct or an enum: serde cannot derive a union",
        );
    }
    if let Err(errors) = cx.check() {
        // Still emit the type, so that its users see no follow-on errors.
        let errors = errors.to_compile_error();
        return quote!(#errors #input);
    }
    expand(&input, &args.expect("arguments are checked"))
}

/// Reads `version = N, upgrade = path`, reporting mistakes into `cx`. `None` if there were any.
fn parse_args(attr: TokenStream, cx: &Ctxt) -> Option<Args> {
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr) {
        Ok(metas) => metas,
        Err(error) => {
            cx.error_at(
                error.span(),
                "`#[record]` takes `version = N` and `upgrade = path`, as in `#[record(version = 2, upgrade = sale_upgrade)]`",
            );
            return None;
        }
    };
    let mut version = None;
    let mut upgrade = None;
    let mut ok = true;
    for meta in metas {
        let Meta::NameValue(pair) = &meta else {
            cx.error_spanned_by(
                &meta,
                "`#[record]` takes `version = N` and `upgrade = path`, as in `#[record(version = 2, upgrade = sale_upgrade)]`",
            );
            ok = false;
            continue;
        };
        if pair.path.is_ident("version") {
            match syn::parse2::<LitInt>(pair.value.to_token_stream())
                .and_then(|lit| lit.base10_parse::<u32>())
            {
                Ok(n) if n >= 1 => version = Some((n, pair.clone())),
                _ => {
                    cx.error_spanned_by(
                        &pair.value,
                        "a schema version is a whole number from 1 up, as in `version = 2`",
                    );
                    ok = false;
                }
            }
        } else if pair.path.is_ident("upgrade") {
            match syn::parse2::<Path>(pair.value.to_token_stream()) {
                Ok(path) => upgrade = Some(path),
                Err(_) => {
                    cx.error_spanned_by(
                        &pair.value,
                        "`upgrade` names a function `fn(u32, &[u8]) -> Result<Self, DecodeError>`, as in `upgrade = sale_upgrade`",
                    );
                    ok = false;
                }
            }
        } else {
            let name = pair.path.to_token_stream().to_string();
            cx.error_spanned_by(
                &pair.path,
                format!("unknown `#[record]` argument `{name}`: it takes `version` and `upgrade`"),
            );
            ok = false;
        }
    }
    let version_number = version.as_ref().map_or(1, |(n, _)| *n);
    if let Some(path) = &upgrade
        && version_number == 1
    {
        cx.error_spanned_by(
            path,
            "version 1 has no older versions to upgrade from: declare the current version, as in `#[record(version = 2, upgrade = ..)]`",
        );
        ok = false;
    }
    ok.then_some(Args {
        version: version_number,
        upgrade,
    })
}

/// The type with its serde derives and its `Schema` implementation.
fn expand(input: &DeriveInput, args: &Args) -> TokenStream {
    let mut item = input.clone();
    if let Some(derive) = missing_derives(&input.attrs) {
        item.attrs.insert(0, derive);
    }
    if !has_serde_crate(&input.attrs) {
        // After every derive, since serde's helper attribute must follow the derive that declares it.
        item.attrs.push(parse_quote!(#[serde(crate = #SERDE)]));
    }
    let ident = &input.ident;
    let version = args.version;
    let shape = shape(input);
    let upgrade = args.upgrade.as_ref().map(|path| {
        quote! {
            fn upgrade(
                version: u32,
                payload: &[u8],
            ) -> ::core::result::Result<Self, ::dataflow_core::kappa::DecodeError> {
                #path(version, payload)
            }
        }
    });
    let mut generics = input.generics.clone();
    if !generics.params.is_empty() {
        // serde's derives bound the type's parameters; the schema holds wherever they do.
        let serde: Path = syn::parse_str(SERDE).expect("the serde path parses");
        generics
            .make_where_clause()
            .predicates
            .push(parse_quote!(Self: #serde::Serialize + #serde::de::DeserializeOwned));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    quote! {
        #item

        impl #impl_generics ::dataflow_core::kappa::Schema for #ident #ty_generics #where_clause {
            const VERSION: u32 = #version;
            const SHAPE: ::core::option::Option<&'static str> = ::core::option::Option::Some(#shape);
            #upgrade
        }
    }
}

/// A `#[derive(..)]` of the serde traits the type does not derive already, if it lacks any.
fn missing_derives(attrs: &[Attribute]) -> Option<Attribute> {
    let derived = derived_names(attrs);
    let serde: Path = syn::parse_str(SERDE).expect("the serde path parses");
    let missing: Vec<TokenStream> = ["Serialize", "Deserialize"]
        .into_iter()
        .filter(|name| !derived.iter().any(|d| d == name))
        .map(|name| {
            let name = syn::Ident::new(name, proc_macro2::Span::call_site());
            quote!(#serde::#name)
        })
        .collect();
    (!missing.is_empty()).then(|| parse_quote!(#[derive(#(#missing),*)]))
}

/// The last path segment of every derive on the type: `Serialize` for `serde::Serialize`.
fn derived_names(attrs: &[Attribute]) -> Vec<String> {
    let mut names = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        if let Ok(paths) = attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated) {
            names.extend(
                paths
                    .iter()
                    .filter_map(|p| p.segments.last().map(|s| s.ident.to_string())),
            );
        }
    }
    names
}

/// Whether the type already says which serde crate its derives use (`#[serde(crate = "..")]`).
fn has_serde_crate(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .any(|a| {
            let mut found = false;
            let _ = a.parse_nested_meta(|meta| {
                if meta.path.is_ident("crate") {
                    found = true;
                }
                if meta.input.peek(Token![=]) {
                    meta.value()?.parse::<syn::Expr>()?;
                } else if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                    meta.input.parse::<proc_macro2::TokenTree>()?;
                }
                Ok(())
            });
            found
        })
}

/// The type's shape: `struct Sale { item: String, cents: u64 }`, `struct Id(u64)`,
/// `enum Event { Click { url: String }, Close }`. Field names and types as written, in order, with
/// any `#[serde(..)]` attribute on a field or variant, since those change the stored layout.
fn shape(input: &DeriveInput) -> String {
    let name = &input.ident;
    let generics = if input.generics.params.is_empty() {
        String::new()
    } else {
        let params: Vec<String> = input
            .generics
            .params
            .iter()
            .map(|p| p.to_token_stream().to_string())
            .collect();
        format!("<{}>", params.join(", "))
    };
    match &input.data {
        Data::Struct(data) => format!("struct {name}{generics}{}", fields_shape(&data.fields)),
        Data::Enum(data) => {
            let variants: Vec<String> = data
                .variants
                .iter()
                .map(|v| {
                    format!(
                        "{}{}{}",
                        serde_attrs(&v.attrs),
                        v.ident,
                        fields_shape(&v.fields)
                    )
                })
                .collect();
            format!("enum {name}{generics} {{ {} }}", variants.join(", "))
        }
        Data::Union(_) => format!("union {name}{generics}"),
    }
}

/// ` { a: A, b: B }`, `(A, B)` or nothing.
fn fields_shape(fields: &Fields) -> String {
    let each: Vec<String> = fields
        .iter()
        .map(|f| {
            let attrs = serde_attrs(&f.attrs);
            let ty = type_text(&f.ty);
            match &f.ident {
                Some(name) => format!("{attrs}{name}: {ty}"),
                None => format!("{attrs}{ty}"),
            }
        })
        .collect();
    match fields {
        Fields::Named(_) => format!(" {{ {} }}", each.join(", ")),
        Fields::Unnamed(_) => format!("({})", each.join(", ")),
        Fields::Unit => String::new(),
    }
}

/// The `#[serde(..)]` attributes among `attrs`, as text followed by a space.
fn serde_attrs(attrs: &[Attribute]) -> String {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .map(|a| format!("#[{}] ", a.meta.to_token_stream()))
        .collect()
}

/// Tests of the expansion.
#[cfg(test)]
mod tests {
    use super::*;

    /// The expansion of `#[record(attr)]` on `item`, as text.
    fn expand_text(attr: &str, item: &str) -> String {
        record(attr.parse().unwrap(), item.parse().unwrap()).to_string()
    }

    /// The shape of `item`.
    fn shape_of(item: &str) -> String {
        shape(&syn::parse_str(item).unwrap())
    }

    /// Structs, tuple structs, unit structs and enums have their fields' names and types as written.
    #[test]
    fn shapes_name_fields_and_types_as_written() {
        assert_eq!(
            shape_of("pub struct Sale { pub item: String, cents: Option<Vec<u64>> }"),
            "struct Sale { item: String, cents: Option<Vec<u64>> }"
        );
        assert_eq!(
            shape_of("struct Id(u64, String);"),
            "struct Id(u64, String)"
        );
        assert_eq!(shape_of("struct Tick;"), "struct Tick");
        assert_eq!(
            shape_of("enum Event { Click { url: String }, Scroll(u32), Close }"),
            "enum Event { Click { url: String }, Scroll(u32), Close }"
        );
        assert_eq!(
            shape_of("struct Row { #[serde(skip)] cache: u8, #[doc = \"x\"] n: u8 }"),
            "struct Row { #[serde (skip)] cache: u8, n: u8 }"
        );
    }

    /// Reordering or retyping a field changes the shape.
    #[test]
    fn shapes_differ_when_the_layout_does() {
        let a = shape_of("struct S { a: u64, b: String }");
        assert_ne!(a, shape_of("struct S { b: String, a: u64 }"));
        assert_ne!(a, shape_of("struct S { a: u32, b: String }"));
        assert_ne!(a, shape_of("struct S { a: u64, c: String }"));
    }

    /// Without arguments: both derives through the re-exported serde, and version 1.
    #[test]
    fn derives_serde_through_dataflow_core_at_version_1() {
        let out = expand_text("", "#[derive(Clone)] struct Sale { item: String }");
        assert!(
            out.contains(
                "# [derive (:: dataflow_core :: __private :: serde :: Serialize , :: dataflow_core :: __private :: serde :: Deserialize)]"
            ),
            "{out}"
        );
        assert!(
            out.contains("# [serde (crate = \"::dataflow_core::__private::serde\")]"),
            "{out}"
        );
        assert!(out.contains("const VERSION : u32 = 1u32"), "{out}");
        assert!(out.contains("\"struct Sale { item: String }\""), "{out}");
        assert!(!out.contains("fn upgrade"), "{out}");
    }

    /// Derives the type already has are not added twice, nor is a `crate` attribute it already has.
    #[test]
    fn keeps_existing_derives_and_crate_attribute() {
        let out = expand_text(
            "",
            "#[derive(Serialize, serde::Deserialize)] #[serde(crate = \"my_serde\")] struct S { a: u8 }",
        );
        assert!(!out.contains("__private :: serde :: Serialize"), "{out}");
        assert!(!out.contains("__private :: serde :: Deserialize"), "{out}");
        assert!(!out.contains("::dataflow_core::__private::serde"), "{out}");
        let out = expand_text("", "#[derive(Serialize)] struct S { a: u8 }");
        assert!(
            out.contains("# [derive (:: dataflow_core :: __private :: serde :: Deserialize)]"),
            "{out}"
        );
    }

    /// A generic type's schema holds wherever its serde derives do.
    #[test]
    fn bounds_a_generic_schema_by_serde() {
        let out = expand_text("", "struct Pair<T> { a: T, b: T }");
        assert!(out.contains("Schema for Pair < T > where Self :"), "{out}");
        assert!(out.contains("\"struct Pair<T> { a: T, b: T }\""), "{out}");
    }

    /// `version` and `upgrade` give the version and the upgrade function.
    #[test]
    fn takes_a_version_and_an_upgrade_function() {
        let out = expand_text("version = 3, upgrade = old::read", "struct S { a: u8 }");
        assert!(out.contains("const VERSION : u32 = 3u32"), "{out}");
        assert!(out.contains("old :: read (version , payload)"), "{out}");
    }

    /// Mistakes in the arguments are reported together, and the type is still emitted.
    #[test]
    fn reports_argument_mistakes_and_keeps_the_type() {
        let out = expand_text("version = 0, colour = 1", "struct S { a: u8 }");
        assert!(
            out.contains("a schema version is a whole number from 1 up"),
            "{out}"
        );
        assert!(
            out.contains("unknown `#[record]` argument `colour`"),
            "{out}"
        );
        assert!(out.contains("struct S"), "{out}");
        let out = expand_text("upgrade = read", "struct S { a: u8 }");
        assert!(out.contains("version 1 has no older versions"), "{out}");
        let out = expand_text("", "union U { a: u8 }");
        assert!(out.contains("serde cannot derive a union"), "{out}");
        let out = expand_text("", "fn f() {}");
        assert!(out.contains("goes on a struct or an enum"), "{out}");
    }
}
