//! Attribute macros of `weir-guest`. See that crate for documentation.
//!
//! Each macro checks the shape of the item it is put on (with errors that
//! point at the user's code), keeps the item as written, and generates a
//! hidden module with the component bindings for one world of the
//! `weir:dataflow` contract plus the glue that loops over each batch.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ItemImpl, ReturnType, parse_macro_input};

/// The contract, one copy for the host and every SDK. Embedded as text
/// rather than named by path: a compiled macro is reused from a shared build
/// cache by checkouts in other directories, where a baked-in absolute path
/// would not exist.
const WIT: &str = include_str!("../../../wit/dataflow.wit");

mod v2;

/// Derive `weir_guest::v2::Record` for a struct whose fields are columns.
#[proc_macro_derive(Record)]
pub fn derive_record(item: TokenStream) -> TokenStream {
    v2::derive_record(item)
}

/// Export `fn(In) -> Out` (or `Option<Out>`, or a `Result` of either) as a
/// map over columns (`weir:dataflow@0.2.0`).
#[proc_macro_attribute]
pub fn map_v2(attr: TokenStream, item: TokenStream) -> TokenStream {
    v2::transform(attr, item, v2::Kind::Map)
}

/// Export `fn(a: A, b: B, …) -> R` (or `Result<R, E>`) as a SQL scalar
/// function over columns (`weir:dataflow@0.2.0`, world `transform`: a map
/// from the argument columns to one result column).
#[proc_macro_attribute]
pub fn scalar_v2(attr: TokenStream, item: TokenStream) -> TokenStream {
    v2::scalar(attr, item)
}

/// Export `fn(&In) -> bool` (or `Result<bool, E>`) as a filter over columns
/// (`weir:dataflow@0.2.0`).
#[proc_macro_attribute]
pub fn filter_v2(attr: TokenStream, item: TokenStream) -> TokenStream {
    v2::transform(attr, item, v2::Kind::Filter)
}

/// A flat-map over records read from columns (`weir:dataflow@0.2.0`):
/// `fn(In) -> Vec<Out>` (or `Result<Vec<Out>, E>`); every output row
/// keeps its input record's event time and key.
#[proc_macro_attribute]
pub fn flat_map_v2(attr: TokenStream, item: TokenStream) -> TokenStream {
    v2::transform(attr, item, v2::Kind::FlatMap)
}

/// Export `impl weir_guest::v2::Keyed for T` as a keyed process function
/// over columns (`weir:dataflow@0.2.0`, world `keyed`).
#[proc_macro_attribute]
pub fn keyed_v2(attr: TokenStream, item: TokenStream) -> TokenStream {
    v2::keyed(attr, item)
}

/// Export `impl weir_guest::v2::Aggregate for T` as a window aggregate
/// function over columns (`weir:dataflow@0.2.0`).
#[proc_macro_attribute]
pub fn aggregate_v2(attr: TokenStream, item: TokenStream) -> TokenStream {
    v2::aggregate(attr, item)
}

/// Export a function `fn(Event) -> Event` (or `Option<Event>`, or a `Result`
/// of either) as a map operator.
#[proc_macro_attribute]
pub fn map(attr: TokenStream, item: TokenStream) -> TokenStream {
    transform(attr, item, Kind::Map)
}

/// Export a function `fn(&Event) -> bool` (or `Result<bool, E>`) as a filter.
#[proc_macro_attribute]
pub fn filter(attr: TokenStream, item: TokenStream) -> TokenStream {
    transform(attr, item, Kind::Filter)
}

/// Export a function `fn(Event) -> Vec<Event>` (or `Result<Vec<Event>, E>`)
/// as a flat-map operator.
#[proc_macro_attribute]
pub fn flat_map(attr: TokenStream, item: TokenStream) -> TokenStream {
    transform(attr, item, Kind::FlatMap)
}

/// Export `impl weir_guest::Keyed for T` as a keyed operator.
#[proc_macro_attribute]
pub fn keyed(attr: TokenStream, item: TokenStream) -> TokenStream {
    trait_impl(attr, item, "Keyed")
}

/// Export `impl weir_guest::Aggregate for T` as a window aggregate function.
#[proc_macro_attribute]
pub fn aggregate(attr: TokenStream, item: TokenStream) -> TokenStream {
    trait_impl(attr, item, "Aggregate")
}

#[derive(Clone, Copy)]
enum Kind {
    Map,
    Filter,
    FlatMap,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Map => "map",
            Kind::Filter => "filter",
            Kind::FlatMap => "flat_map",
        }
    }
    fn expected(self) -> &'static str {
        match self {
            Kind::Map => "fn name(event: Event) -> Event",
            Kind::Filter => "fn name(event: &Event) -> bool",
            Kind::FlatMap => "fn name(event: Event) -> Vec<Event>",
        }
    }
}

fn no_args(attr: TokenStream, name: &str) -> Result<(), syn::Error> {
    if attr.is_empty() {
        Ok(())
    } else {
        Err(syn::Error::new(
            Tokens::from(attr).span(),
            format!("#[weir_guest::{name}] takes no arguments"),
        ))
    }
}

fn transform(attr: TokenStream, item: TokenStream, kind: Kind) -> TokenStream {
    let func = parse_macro_input!(item as ItemFn);
    match check_fn(attr, &func, kind) {
        Ok(()) => transform_glue(&func, kind).into(),
        Err(e) => {
            let e = e.to_compile_error();
            quote!(#func #e).into()
        }
    }
}

fn check_fn(attr: TokenStream, func: &ItemFn, kind: Kind) -> Result<(), syn::Error> {
    no_args(attr, kind.name())?;
    let sig = &func.sig;
    let expected = kind.expected();
    if let Some(a) = &sig.asyncness {
        return Err(syn::Error::new(
            a.span(),
            "an operator function cannot be async",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            format!("an operator function cannot be generic; expected `{expected}`"),
        ));
    }
    if sig.inputs.len() != 1 {
        return Err(syn::Error::new(
            sig.inputs
                .span()
                .join(sig.ident.span())
                .unwrap_or(sig.ident.span()),
            format!("an operator function takes exactly one event; expected `{expected}`"),
        ));
    }
    if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
        return Err(syn::Error::new(
            r.span(),
            format!("an operator is a free function, not a method; expected `{expected}`"),
        ));
    }
    if let ReturnType::Default = sig.output {
        return Err(syn::Error::new(
            sig.paren_token.span.close(),
            format!("an operator function must return its result; expected `{expected}`"),
        ));
    }
    Ok(())
}

/// `generate!` for one world, with the shared interfaces pointed at the SDK.
fn bindings(world: &str, extra: &[&str]) -> Tokens {
    let world = format!("weir:dataflow/{world}");
    let mut with = vec![
        quote!("weir:dataflow/types@0.1.0": ::weir_guest::bindings::weir::dataflow::types),
        quote!("weir:dataflow/log@0.1.0": ::weir_guest::bindings::weir::dataflow::log),
    ];
    for iface in extra {
        let ident = syn::Ident::new(&iface.replace('-', "_"), Span::call_site());
        let name = format!("weir:dataflow/{iface}@0.1.0");
        with.push(quote!(#name: ::weir_guest::bindings::weir::dataflow::#ident));
    }
    quote! {
        ::weir_guest::__private::wit_bindgen::generate!({
            inline: #WIT,
            world: #world,
            runtime_path: "::weir_guest::__private::wit_bindgen::rt",
            with: { #(#with),* },
        });
    }
}

fn transform_glue(func: &ItemFn, kind: Kind) -> Tokens {
    let name = &func.sig.ident;
    let arg = match func.sig.inputs.first() {
        Some(FnArg::Typed(t)) => &t.ty,
        _ => unreachable!("checked by check_fn"),
    };
    let ret = match &func.sig.output {
        ReturnType::Type(_, ty) => ty,
        ReturnType::Default => unreachable!("checked by check_fn"),
    };
    // Checks spanned on the user's argument and return types, so a wrong
    // signature is reported there and not inside generated code.
    let (arg_check, ret_trait, runner) = match kind {
        Kind::Map => (
            quote_spanned!(arg.span()=> let _: fn(::weir_guest::Event) -> _ = super::#name;),
            quote!(::weir_guest::__private::MapReturn),
            quote!(::weir_guest::__private::run_map),
        ),
        Kind::Filter => (
            quote_spanned!(arg.span()=> let _: fn(&::weir_guest::Event) -> _ = super::#name;),
            quote!(::weir_guest::__private::FilterReturn),
            quote!(::weir_guest::__private::run_filter),
        ),
        Kind::FlatMap => (
            quote_spanned!(arg.span()=> let _: fn(::weir_guest::Event) -> _ = super::#name;),
            quote!(::weir_guest::__private::FlatMapReturn),
            quote!(::weir_guest::__private::run_flat_map),
        ),
    };
    let ret_check = quote_spanned!(ret.span()=> fn __returns<R: #ret_trait>(_: fn(#arg) -> R) {} __returns(super::#name););
    let bindings = bindings("transform", &[]);
    quote! {
        #func

        #[doc(hidden)]
        #[allow(missing_docs, unsafe_code, clippy::all)]
        mod __weir_component {
            #[allow(unused_imports)]
            use super::*;
            #bindings

            struct Operator;

            #[allow(dead_code)]
            fn __signature_checks() {
                #arg_check
                #ret_check
            }

            impl exports::weir::dataflow::transformer::Guest for Operator {
                fn init(config: ::std::string::String)
                    -> ::std::result::Result<(), ::weir_guest::bindings::weir::dataflow::types::OperatorError> {
                    ::weir_guest::__private::init(config)
                }
                fn process(batch: ::std::vec::Vec<::weir_guest::Event>)
                    -> ::std::result::Result<
                        ::weir_guest::bindings::weir::dataflow::types::Output,
                        ::weir_guest::bindings::weir::dataflow::types::OperatorError,
                    > {
                    #runner(batch, super::#name)
                }
            }

            export!(Operator);
        }
    }
}

fn trait_impl(attr: TokenStream, item: TokenStream, trait_name: &str) -> TokenStream {
    let imp = parse_macro_input!(item as ItemImpl);
    let macro_name = trait_name.to_lowercase();
    let check = no_args(attr, &macro_name).and_then(|()| {
        let usage = format!("#[weir_guest::{macro_name}] goes on `impl weir_guest::{trait_name} for YourType {{ .. }}`");
        match &imp.trait_ {
            Some((None, path, _))
                if path.segments.last().is_some_and(|s| s.ident == trait_name) =>
            {
                if imp.generics.params.is_empty() {
                    Ok(())
                } else {
                    Err(syn::Error::new(imp.generics.span(), "the operator type cannot be generic"))
                }
            }
            Some((_, path, _)) => Err(syn::Error::new(path.span(), usage)),
            None => Err(syn::Error::new(imp.self_ty.span(), usage)),
        }
    });
    if let Err(e) = check {
        let e = e.to_compile_error();
        return quote!(#imp #e).into();
    }
    let ty = &imp.self_ty;
    let glue = if trait_name == "Keyed" {
        let bindings = bindings("keyed", &["state", "timers", "keyed-context"]);
        quote! {
            #bindings
            struct Operator;
            impl exports::weir::dataflow::keyed_processor::Guest for Operator {
                fn init(config: ::std::string::String) -> ::std::result::Result<(), Error> {
                    ::weir_guest::__private::init(config)
                }
                fn process(batch: ::std::vec::Vec<::weir_guest::Event>) -> ::std::result::Result<Output, Error> {
                    ::weir_guest::__private::keyed_process::<#ty>(batch)
                }
                fn on_timer(timers: ::std::vec::Vec<::weir_guest::bindings::weir::dataflow::types::FiredTimer>)
                    -> ::std::result::Result<Output, Error> {
                    ::weir_guest::__private::keyed_on_timer::<#ty>(timers)
                }
            }
            export!(Operator);
        }
    } else {
        let bindings = bindings("aggregate", &[]);
        quote! {
            #bindings
            struct Operator;
            type Bytes = ::std::vec::Vec<u8>;
            impl exports::weir::dataflow::aggregator::Guest for Operator {
                fn init(config: ::std::string::String) -> ::std::result::Result<(), Error> {
                    ::weir_guest::__private::init(config)
                }
                fn add(inputs: ::std::vec::Vec<::weir_guest::bindings::weir::dataflow::types::Accumulate>)
                    -> ::std::result::Result<::std::vec::Vec<Bytes>, Error> {
                    ::weir_guest::__private::aggregate_add::<#ty>(inputs)
                }
                fn merge(pairs: ::std::vec::Vec<(Bytes, Bytes)>) -> ::std::result::Result<::std::vec::Vec<Bytes>, Error> {
                    ::weir_guest::__private::aggregate_merge::<#ty>(pairs)
                }
                fn finish(inputs: ::std::vec::Vec<::weir_guest::bindings::weir::dataflow::types::FinishInput>)
                    -> ::std::result::Result<::std::vec::Vec<Bytes>, Error> {
                    ::weir_guest::__private::aggregate_finish::<#ty>(inputs)
                }
            }
            export!(Operator);
        }
    };
    quote! {
        #imp

        #[doc(hidden)]
        #[allow(missing_docs, unsafe_code, clippy::all)]
        mod __weir_component {
            use super::*;
            use ::weir_guest::bindings::weir::dataflow::types::{OperatorError as Error, Output};
            #glue
        }
    }
    .into()
}
