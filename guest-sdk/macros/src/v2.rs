//! Macros of the columnar contract (`weir:dataflow@0.2.0`): the `Record`
//! derive, and `map`/`filter` over records read from columns.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Data, DeriveInput, Fields, FnArg, GenericArgument, GenericParam, ItemFn, ItemImpl,
    PathArguments, ReturnType, Type, parse_macro_input,
};

/// The 0.2 contract, embedded as text (see `WIT` in lib.rs for why).
const WIT: &str = include_str!("../../../wit/v0.2/dataflow.wit");

pub fn derive_record(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as DeriveInput);
    match record(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn record(input: &DeriveInput) -> Result<Tokens, syn::Error> {
    let name = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(Record)] goes on a struct with named fields",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new(
            data.fields.span(),
            "#[derive(Record)] needs named fields: they are the column names",
        ));
    };
    let mut lifetime = None;
    for p in &input.generics.params {
        match p {
            GenericParam::Lifetime(l) if lifetime.is_none() => lifetime = Some(l.lifetime.clone()),
            _ => {
                return Err(syn::Error::new(
                    p.span(),
                    "a record may have one lifetime (for `&str` fields borrowing the batch) and no other generics",
                ));
            }
        }
    }
    let (impl_lt, ty) = match &lifetime {
        Some(l) => (l.clone(), quote!(#name<#l>)),
        None => (
            syn::Lifetime::new("'__weir", Span::call_site()),
            quote!(#name),
        ),
    };
    let v2 = quote!(::weir_guest::v2);
    let names: Vec<String> = fields
        .named
        .iter()
        .map(|f| f.ident.as_ref().map(|i| i.to_string()).unwrap_or_default())
        .collect();
    let idents: Vec<&syn::Ident> = fields
        .named
        .iter()
        .filter_map(|f| f.ident.as_ref())
        .collect();
    let types: Vec<&Type> = fields.named.iter().map(|f| &f.ty).collect();
    let index: Vec<usize> = (0..types.len()).collect();
    let at: Vec<syn::Index> = index.iter().map(|i| syn::Index::from(*i)).collect();
    let count = types.len();
    let checks = types.iter().map(|t| {
        quote_spanned!(t.span()=> let _ = <#t as #v2::FromColumn<#impl_lt>>::accepts; let _ = <#t as #v2::ToColumn>::put;)
    });
    let b = quote!(#v2::ColumnBuilder);
    Ok(quote! {
        impl<#impl_lt> #v2::Record<#impl_lt> for #ty {
            type Readers = (#(#v2::Reader<#impl_lt, <#types as #v2::FromColumn<#impl_lt>>::Source>,)*);
            type Builders = (#(<#types as #v2::ToColumn>::Builder,)*);
            fn fields() -> ::std::vec::Vec<#v2::bindings::weir::dataflow::types::Field> {
                ::std::vec![#(#v2::__private::field::<#types>(#names)),*]
            }
            fn accepts(field: usize, data_type: #v2::bindings::weir::dataflow::types::DataType) -> bool {
                #(#checks)*
                match field {
                    #(#index => <#types as #v2::FromColumn<#impl_lt>>::accepts(data_type),)*
                    _ => false,
                }
            }
            fn readers(
                columns: &[#v2::ColumnView<#impl_lt>],
                rows: usize,
            ) -> ::std::result::Result<Self::Readers, ::weir_guest::Error> {
                if columns.len() < #count {
                    return ::std::result::Result::Err(::weir_guest::Error::msg("the batch has fewer columns than the record has fields"));
                }
                ::std::result::Result::Ok((#(#v2::Reader::new::<#types>(&columns[#index], rows)?,)*))
            }
            #[inline(always)]
            fn read(
                readers: &Self::Readers,
                row: usize,
            ) -> ::std::result::Result<Self, ::weir_guest::Error> {
                ::std::result::Result::Ok(Self {
                    #(#idents: readers.#at.get::<#types>(row)?,)*
                })
            }
            fn builders(capacity: usize) -> Self::Builders {
                (#(<<#types as #v2::ToColumn>::Builder as #b>::with_capacity(capacity),)*)
            }
            #[inline(always)]
            fn write(&self, builders: &mut Self::Builders) {
                #(#v2::ToColumn::put(&self.#idents, &mut builders.#at);)*
            }
            fn finish(builders: Self::Builders, origin: &#v2::Origin<'_, '_>) -> ::std::vec::Vec<#v2::__private::Column> {
                ::std::vec![#(#b::finish(builders.#at, origin)),*]
            }
        }
    })
}

/// The component bindings of the 0.2 contract's `world`, sharing the SDK's
/// types and log import (so every operator in a crate has one `Batch`).
fn bindings(world: &str) -> Tokens {
    let keyed = world == "keyed";
    let world = format!("weir:dataflow/{world}");
    // The keyed world also imports state, timers and keyed-context.
    let state = keyed.then(|| {
        quote! {
            "weir:dataflow/state@0.2.0": ::weir_guest::v2::bindings::weir::dataflow::state,
            "weir:dataflow/timers@0.2.0": ::weir_guest::v2::bindings::weir::dataflow::timers,
            "weir:dataflow/keyed-context@0.2.0": ::weir_guest::v2::bindings::weir::dataflow::keyed_context,
        }
    });
    quote! {
        ::weir_guest::__private::wit_bindgen::generate!({
            inline: #WIT,
            world: #world,
            runtime_path: "::weir_guest::__private::wit_bindgen::rt",
            with: {
                "weir:dataflow/types@0.2.0": ::weir_guest::v2::bindings::weir::dataflow::types,
                "weir:dataflow/log@0.2.0": ::weir_guest::v2::bindings::weir::dataflow::log,
                #state
            },
        });
    }
}

#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Map,
    FlatMap,
    Filter,
    /// A map written by [`scalar`]: its init also checks the arity.
    Scalar,
}

/// The `T` of `Wrapper<T>` when the last path segment is `wrapper`.
fn inner<'t>(ty: &'t Type, wrapper: &str) -> Option<&'t Type> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != wrapper {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

pub fn transform(attr: TokenStream, item: TokenStream, kind: Kind) -> TokenStream {
    let func = parse_macro_input!(item as ItemFn);
    match glue(attr, &func, kind) {
        Ok(t) => quote!(#func #t).into(),
        Err(e) => {
            let e = e.to_compile_error();
            quote!(#func #e).into()
        }
    }
}

fn glue(attr: TokenStream, func: &ItemFn, kind: Kind) -> Result<Tokens, syn::Error> {
    let (macro_name, expected) = match kind {
        Kind::Map => (
            "map",
            "fn name(record: In) -> Out (or Option<Out>, or a Result of either)",
        ),
        Kind::FlatMap => (
            "flat_map",
            "fn name(record: In) -> Vec<Out> (or Result<Vec<Out>, E>)",
        ),
        Kind::Filter => (
            "filter",
            "fn name(record: &In) -> bool (or Result<bool, E>)",
        ),
        Kind::Scalar => ("scalar", "fn name(args: Args) -> Result"),
    };
    if !attr.is_empty() {
        return Err(syn::Error::new(
            Tokens::from(attr).span(),
            format!("#[weir_guest::v2::{macro_name}] takes no arguments"),
        ));
    }
    let sig = &func.sig;
    if sig.asyncness.is_some() || !sig.generics.params.is_empty() || sig.inputs.len() != 1 {
        return Err(syn::Error::new(
            sig.span(),
            format!("an operator function takes one record; expected `{expected}`"),
        ));
    }
    let arg = match sig.inputs.first() {
        Some(FnArg::Typed(t)) => &*t.ty,
        Some(FnArg::Receiver(r)) => {
            return Err(syn::Error::new(r.span(), format!("expected `{expected}`")));
        }
        None => unreachable!("one input"),
    };
    let ReturnType::Type(_, ret) = &sig.output else {
        return Err(syn::Error::new(
            sig.paren_token.span.close(),
            format!("an operator function must return its result; expected `{expected}`"),
        ));
    };
    let name = &sig.ident;
    let v2 = quote!(::weir_guest::v2);
    let p = quote!(#v2::__private);
    let types = quote!(#v2::bindings::weir::dataflow::types);
    let (input_ty, init, process) = match kind {
        Kind::Map | Kind::FlatMap | Kind::Scalar => {
            let (result, after) = match inner(ret, "Result") {
                Some(t) => (true, t),
                None => (false, &**ret),
            };
            let (option, out) = match (kind, inner(after, "Option"), inner(after, "Vec")) {
                (Kind::Scalar, _, _) => (false, after),
                (Kind::Map, Some(t), _) => (true, t),
                (Kind::Map, None, _) => (false, after),
                (_, _, Some(t)) => (false, t),
                (_, _, None) => {
                    return Err(syn::Error::new(
                        after.span(),
                        format!("a flat-map returns a Vec of records; expected `{expected}`"),
                    ));
                }
            };
            let emit = if kind == Kind::FlatMap {
                quote!(for o in &r {
                    out.emit(row, o);
                })
            } else if option {
                quote!(if let ::std::option::Option::Some(o) = r {
                    out.emit(row, &o);
                })
            } else {
                quote!(out.emit(row, &r);)
            };
            let handle = if result {
                quote!(match r {
                    ::std::result::Result::Ok(r) => { #emit }
                    ::std::result::Result::Err(e) => out.reject(row, ::std::convert::Into::into(e)),
                })
            } else {
                emit
            };
            let out_check =
                quote_spanned!(out.span()=> fn __out<'x, T: #v2::Record<'x>>() {} __out::<#out>(););
            let init = if kind == Kind::Scalar {
                quote!(scalar_init)
            } else {
                quote!(init)
            };
            (
                arg.clone(),
                quote!(#p::#init::<#arg>(config, input, ::std::option::Option::Some(<#out as #v2::Record>::fields()))),
                quote! {
                    #[allow(dead_code)]
                    fn __checks() { #out_check }
                    let mut out = #p::Mapped::new::<#out>(batch.rows as usize);
                    let readers = match <#arg as #v2::Record>::readers(&columns, batch.rows as usize) {
                        ::std::result::Result::Ok(r) => r,
                        ::std::result::Result::Err(e) => return ::std::result::Result::Err(#p::batch_error(e)),
                    };
                    for row in 0..batch.rows as usize {
                        match <#arg as #v2::Record>::read(&readers, row) {
                            ::std::result::Result::Ok(input) => {
                                let r = super::#name(input);
                                #handle
                            }
                            ::std::result::Result::Err(e) => out.reject(row, e),
                        }
                    }
                    ::std::result::Result::Ok(out.finish::<#out>(batch.rows, &columns))
                },
            )
        }
        Kind::Filter => {
            let Type::Reference(r) = arg else {
                return Err(syn::Error::new(
                    arg.span(),
                    format!("a filter borrows its record; expected `{expected}`"),
                ));
            };
            let input = (*r.elem).clone();
            let ret_check = quote_spanned!(ret.span()=> fn __ret<R: #p::FilterReturn>(_: R) {});
            (
                input.clone(),
                quote!(#p::init::<#input>(config, input, ::std::option::Option::None)),
                quote! {
                    #[allow(dead_code)]
                    fn __checks() { #ret_check }
                    let mut kept = ::std::vec::Vec::with_capacity(batch.rows as usize);
                    let mut rejected = ::std::vec::Vec::new();
                    let readers = match <#input as #v2::Record>::readers(&columns, batch.rows as usize) {
                        ::std::result::Result::Ok(r) => r,
                        ::std::result::Result::Err(e) => return ::std::result::Result::Err(#p::batch_error(e)),
                    };
                    for row in 0..batch.rows as usize {
                        match <#input as #v2::Record>::read(&readers, row) {
                            ::std::result::Result::Ok(input) => {
                                match #p::FilterReturn::keep(super::#name(&input)) {
                                    ::std::result::Result::Ok(true) => kept.push(row as u32),
                                    ::std::result::Result::Ok(false) => {}
                                    ::std::result::Result::Err(e) => rejected.push((row, e)),
                                }
                            }
                            ::std::result::Result::Err(e) => rejected.push((row, e)),
                        }
                    }
                    ::std::result::Result::Ok(#p::select(batch.rows, kept, rejected))
                },
            )
        }
    };
    let bindings = bindings("transform");
    Ok(quote! {
        #[doc(hidden)]
        #[allow(missing_docs, unsafe_code, clippy::all)]
        mod __weir_component {
            #[allow(unused_imports)]
            use super::*;
            #bindings

            struct Operator;

            impl exports::weir::dataflow::transformer::Guest for Operator {
                fn init(config: ::std::string::String, input: #types::Schema)
                    -> ::std::result::Result<#types::OperatorSpec, #types::OperatorError> {
                    #init
                }
                fn process(batch: #types::Batch)
                    -> ::std::result::Result<#types::TransformOutput, #types::OperatorError> {
                    let fields = <#input_ty as #v2::Record>::fields();
                    let columns = #p::views(&batch, &fields);
                    #process
                }
            }

            export!(Operator);
        }
    })
}

/// `#[weir_guest::v2::scalar]` on `fn name(a: A, b: B, …) -> R` (or
/// `Result<R, E>`): a SQL scalar function. It is a map over columns whose
/// input columns are the arguments (`arg0`, `arg1`, … in order) and whose
/// output is one column, `result`, one row per input row; the function is
/// kept as written and called through a hidden wrapper that reads the
/// arguments as a record.
pub fn scalar(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func = parse_macro_input!(item as ItemFn);
    match scalar_glue(attr, &func) {
        Ok(t) => quote!(#func #t).into(),
        Err(e) => {
            let e = e.to_compile_error();
            quote!(#func #e).into()
        }
    }
}

fn scalar_glue(attr: TokenStream, func: &ItemFn) -> Result<Tokens, syn::Error> {
    let expected = "fn name(a: A, b: B, …) -> R (or Result<R, E>), each type one a column holds";
    if !attr.is_empty() {
        return Err(syn::Error::new(
            Tokens::from(attr).span(),
            "#[weir_guest::v2::scalar] takes no arguments",
        ));
    }
    let sig = &func.sig;
    if sig.asyncness.is_some() || !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.span(),
            format!("a scalar function is a plain function; expected `{expected}`"),
        ));
    }
    let lifetime: syn::Lifetime = syn::parse_quote!('__weir_a);
    let mut borrows = false;
    let mut types = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Typed(t) => {
                let mut ty = (*t.ty).clone();
                // A borrowed argument (`&str`) borrows the batch.
                if let Type::Reference(r) = &mut ty {
                    r.lifetime.get_or_insert_with(|| lifetime.clone());
                    borrows = true;
                }
                types.push(ty);
            }
            FnArg::Receiver(r) => {
                return Err(syn::Error::new(r.span(), format!("expected `{expected}`")));
            }
        }
    }
    let ReturnType::Type(_, ret) = &sig.output else {
        return Err(syn::Error::new(
            sig.paren_token.span.close(),
            format!("a scalar function returns its value; expected `{expected}`"),
        ));
    };
    let (result, value) = match inner(ret, "Result") {
        Some(t) => (true, t),
        None => (false, &**ret),
    };
    let name = &sig.ident;
    let v2 = quote!(::weir_guest::v2);
    let fields: Vec<syn::Ident> = (0..types.len())
        .map(|i| syn::Ident::new(&format!("arg{i}"), Span::call_site()))
        .collect();
    let lt = borrows.then(|| quote!(<#lifetime>));
    let (wrapper_ret, body) = if result {
        (
            quote!(::std::result::Result<__WeirScalarResult, ::weir_guest::Error>),
            quote!(#name(#(args.#fields),*).map(|result| __WeirScalarResult { result }).map_err(::std::convert::Into::into)),
        )
    } else {
        (
            quote!(__WeirScalarResult),
            quote!(__WeirScalarResult { result: #name(#(args.#fields),*) }),
        )
    };
    let wrapper: ItemFn = syn::parse_quote! {
        #[doc(hidden)]
        fn __weir_scalar(args: __WeirScalarArgs) -> #wrapper_ret {
            #body
        }
    };
    let glue = glue(TokenStream::new(), &wrapper, Kind::Scalar)?;
    Ok(quote! {
        #[doc(hidden)]
        #[derive(#v2::Record)]
        struct __WeirScalarArgs #lt { #(#fields: #types),* }
        #[doc(hidden)]
        #[derive(#v2::Record)]
        struct __WeirScalarResult { result: #value }
        #wrapper
        #glue
    })
}

/// `#[weir_guest::v2::aggregate]` on `impl Aggregate for T`.
pub fn aggregate(attr: TokenStream, item: TokenStream) -> TokenStream {
    trait_impl(attr, item, ("aggregate", "Aggregate"), |ty, p| {
        quote! {
            impl exports::weir::dataflow::aggregator::Guest for Operator {
                fn init(config: ::std::string::String)
                    -> ::std::result::Result<#p::AggregateSpec, #p::OperatorError> {
                    #p::aggregate_init::<#ty>(config)
                }
                fn add(batch: #p::Batch, groups: #p::Groups)
                    -> ::std::result::Result<#p::VarData, #p::OperatorError> {
                    #p::aggregate_add::<#ty>(batch, groups)
                }
                fn merge(left: #p::VarData, right: #p::VarData)
                    -> ::std::result::Result<#p::VarData, #p::OperatorError> {
                    #p::aggregate_merge::<#ty>(left, right)
                }
                fn finish(fired: #p::Fired)
                    -> ::std::result::Result<::std::vec::Vec<#p::Column>, #p::OperatorError> {
                    #p::aggregate_finish::<#ty>(fired)
                }
            }
        }
    })
}

/// `#[weir_guest::v2::keyed]` on `impl Keyed for T`.
pub fn keyed(attr: TokenStream, item: TokenStream) -> TokenStream {
    trait_impl(attr, item, ("keyed", "Keyed"), |ty, p| {
        quote! {
            impl exports::weir::dataflow::keyed_processor::Guest for Operator {
                fn init(config: ::std::string::String)
                    -> ::std::result::Result<#p::KeyedSpec, #p::OperatorError> {
                    #p::keyed_init::<#ty>(config)
                }
                fn process(batch: #p::Batch, keys: #p::VarData)
                    -> ::std::result::Result<#p::TransformOutput, #p::OperatorError> {
                    #p::keyed_process::<#ty>(batch, keys)
                }
                fn on_timer(timers: #p::FiredTimers)
                    -> ::std::result::Result<#p::OutputBatch, #p::OperatorError> {
                    #p::keyed_on_timer::<#ty>(timers)
                }
            }
        }
    })
}

/// An attribute on `impl {tr} for T` (world `name`): the impl itself, and
/// the component exporting it — its bindings and `Operator`, whose export
/// impl `export(T, private path)` writes.
fn trait_impl(
    attr: TokenStream,
    item: TokenStream,
    (name, tr): (&str, &str),
    export: impl FnOnce(&Type, &Tokens) -> Tokens,
) -> TokenStream {
    let imp = parse_macro_input!(item as ItemImpl);
    if let Err(e) = check_impl(attr, &imp, name, tr) {
        let e = e.to_compile_error();
        return quote!(#imp #e).into();
    }
    let p = quote!(::weir_guest::v2::__private);
    let export = export(&imp.self_ty, &p);
    let bindings = bindings(name);
    quote! {
        #imp

        #[doc(hidden)]
        #[allow(missing_docs, unsafe_code, clippy::all)]
        mod __weir_component {
            #[allow(unused_imports)]
            use super::*;
            #bindings

            struct Operator;

            #export

            export!(Operator);
        }
    }
    .into()
}

/// Check `#[weir_guest::v2::{name}]` takes no arguments and sits on a
/// non-generic `impl {tr} for T`.
fn check_impl(attr: TokenStream, imp: &ItemImpl, name: &str, tr: &str) -> Result<(), syn::Error> {
    let usage = format!(
        "#[weir_guest::v2::{name}] goes on `impl weir_guest::v2::{tr} for YourType {{ .. }}`"
    );
    if !attr.is_empty() {
        return Err(syn::Error::new(
            Tokens::from(attr).span(),
            format!("#[weir_guest::v2::{name}] takes no arguments"),
        ));
    }
    match &imp.trait_ {
        Some((None, path, _)) if path.segments.last().is_some_and(|s| s.ident == tr) => {
            if imp.generics.params.is_empty() {
                Ok(())
            } else {
                Err(syn::Error::new(
                    imp.generics.span(),
                    format!("the {name} type cannot be generic"),
                ))
            }
        }
        Some((_, path, _)) => Err(syn::Error::new(path.span(), usage)),
        None => Err(syn::Error::new(imp.self_ty.span(), usage)),
    }
}
