//! Attribute macros of the Strata contract SDK.
//!
//! Why macros: a contract's interface should be written once, as Rust. `#[contract]`
//! turns an `impl` block into the Wasm entry points (dispatch by Solidity selector,
//! ABI-decoded arguments, ABI-encoded returns, errors as revert data), and every
//! item — functions, constructor, `#[event]`s, `#[error]`s — emits its Solidity-ABI
//! entry (human-readable form) into the module's `strata_abi` custom section, from which
//! `strata contract build` writes the ABI JSON that web3.py, ethers and viem use.
//! Rust types map to Solidity types by name (see [`sol_type`]); an unmapped type is a
//! compile error that names it.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{format_ident, quote};
use sha3::{Digest, Keccak256};
use syn::{
    Fields, FnArg, GenericArgument, ImplItem, ItemImpl, ItemStruct, Pat, PathArguments, ReturnType, Type, parse_macro_input,
    spanned::Spanned,
};

fn keccak(s: &str) -> [u8; 32] {
    Keccak256::digest(s.as_bytes()).into()
}

/// The Solidity type of a Rust type, by its name.
fn sol_type(ty: &Type) -> syn::Result<String> {
    match ty {
        Type::Path(p) => {
            let seg = p.path.segments.last().ok_or_else(|| syn::Error::new(ty.span(), "empty type path"))?;
            let name = seg.ident.to_string();
            let simple = match name.as_str() {
                "Address" => Some("address"),
                "U256" => Some("uint256"),
                "I256" => Some("int256"),
                "B256" => Some("bytes32"),
                "bool" => Some("bool"),
                "String" => Some("string"),
                "Bytes" => Some("bytes"),
                "u8" => Some("uint8"),
                "u16" => Some("uint16"),
                "u32" => Some("uint32"),
                "u64" => Some("uint64"),
                "u128" => Some("uint128"),
                "i8" => Some("int8"),
                "i16" => Some("int16"),
                "i32" => Some("int32"),
                "i64" => Some("int64"),
                "i128" => Some("int128"),
                _ => None,
            };
            if let Some(s) = simple {
                return Ok(s.to_string());
            }
            if name == "Vec"
                && let PathArguments::AngleBracketed(args) = &seg.arguments
                && let Some(GenericArgument::Type(inner)) = args.args.first()
            {
                return Ok(format!("{}[]", sol_type(inner)?));
            }
            Err(syn::Error::new(
                ty.span(),
                format!("type `{name}` has no Solidity ABI mapping (use Address, U256, I256, B256, bool, String, Bytes, uN/iN or Vec<T>)"),
            ))
        }
        Type::Array(a) => {
            let syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(n), .. }) = &a.len else {
                return Err(syn::Error::new(a.len.span(), "array length must be a literal"));
            };
            Ok(format!("{}[{}]", sol_type(&a.elem)?, n.base10_digits()))
        }
        other => Err(syn::Error::new(other.span(), "this type has no Solidity ABI mapping")),
    }
}

/// Whether `strata_sdk::abi` codes this Solidity type (scalars, `string`, `bytes`);
/// the rest (arrays, tuples) goes through `alloy-sol-types`.
fn is_simple(sol: &str) -> bool {
    let digits = |rest: &str| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit());
    matches!(sol, "address" | "bool" | "bytes32" | "string" | "bytes")
        || sol.strip_prefix("uint").is_some_and(digits)
        || sol.strip_prefix("int").is_some_and(digits)
}

/// Tokens that encode `values` (expressions of simple types) as a parameter sequence
/// after `prefix`.
fn simple_encode(prefix: Tokens, values: &[Tokens]) -> Tokens {
    quote! {
        ::strata_sdk::abi::encode(#prefix, &[#(::strata_sdk::abi::AbiType::value(#values)),*])
    }
}

fn is_dynamic(sol: &str) -> bool {
    sol == "string" || sol == "bytes" || sol.ends_with("[]")
}

/// `balance_of` -> `balanceOf`.
fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Parameters in human-readable ABI form: `uint256 amount,address indexed to`.
fn human_params(params: &[(String, String, bool)]) -> String {
    let items: Vec<String> = params
        .iter()
        .map(|(name, ty, indexed)| {
            let name = camel(name);
            let indexed = if *indexed { " indexed" } else { "" };
            if name.is_empty() { format!("{ty}{indexed}") } else { format!("{ty}{indexed} {name}") }
        })
        .collect();
    items.join(",")
}

/// A static in the `strata_abi` custom section holding one ABI entry in human-readable
/// form (`function transfer(address to,uint256 amount) returns (bool)`, as ethers and
/// alloy parse it) plus a newline: a third of the entry's JSON, and no type information
/// lost (internal types are not recorded either way). `strata contract build` writes
/// the JSON ABI from it.
fn abi_fragment(ident: &syn::Ident, line: &str) -> Tokens {
    let bytes = format!("{line}\n").into_bytes();
    let len = bytes.len();
    let name = format_ident!("__STRATA_ABI_{}", ident.to_string().to_uppercase());
    // Note: rustc up to 1.95 emits a `link_section` static on wasm both as the custom
    // section and in the data segment, so the ABI costs its size twice in the module;
    // rust-lang/rust#161862 (later releases) puts it only in the named section, which
    // `strata contract build`'s extraction will then have to read from the data segment.
    quote! {
        #[cfg(target_arch = "wasm32")]
        #[unsafe(link_section = "strata_abi")]
        #[used]
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        static #name: [u8; #len] = [#(#bytes),*];
    }
}

fn struct_fields(item: &ItemStruct) -> syn::Result<Vec<(syn::Ident, Type, bool)>> {
    let Fields::Named(named) = &item.fields else {
        return Err(syn::Error::new(item.span(), "events and errors need named fields"));
    };
    named
        .named
        .iter()
        .map(|f| {
            let indexed = f.attrs.iter().any(|a| a.path().is_ident("indexed"));
            Ok((f.ident.clone().expect("named"), f.ty.clone(), indexed))
        })
        .collect()
}

/// A Solidity event: `#[event] pub struct Transfer { #[indexed] pub from: Address, … }`.
/// Generates `emit()` (an Ethereum log: topic 0 = keccak of the signature, indexed
/// fields as topics, the rest ABI-encoded as data) and the event's ABI entry.
#[proc_macro_attribute]
pub fn event(_: TokenStream, item: TokenStream) -> TokenStream {
    let mut item = parse_macro_input!(item as ItemStruct);
    match expand_event(&mut item) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_event(item: &mut ItemStruct) -> syn::Result<Tokens> {
    let fields = struct_fields(item)?;
    if fields.iter().filter(|f| f.2).count() > 3 {
        return Err(syn::Error::new(item.span(), "an event has at most 3 indexed fields"));
    }
    let ident = item.ident.clone();
    let sols: Vec<String> = fields.iter().map(|f| sol_type(&f.1)).collect::<syn::Result<_>>()?;
    let signature = format!("{ident}({})", sols.join(","));
    let topic0 = keccak(&signature);
    let mut topics = Vec::new();
    let mut data_fields = Vec::new();
    for ((name, _, indexed), sol) in fields.iter().zip(&sols) {
        if *indexed {
            if is_dynamic(sol) {
                topics.push(quote! { ::strata_sdk::keccak256(::strata_sdk::SolValue::abi_encode_packed(&self.#name)).0 });
            } else {
                topics.push(quote! { ::strata_sdk::__private::word(&::strata_sdk::SolValue::abi_encode(&self.#name)) });
            }
        } else {
            data_fields.push(name.clone());
        }
    }
    let emit_body = if sols.iter().all(|s| is_simple(s)) {
        let topics: Vec<Tokens> =
            fields.iter().filter(|f| f.2).map(|(name, _, _)| quote! { ::strata_sdk::abi::AbiType::topic(&self.#name) }).collect();
        let values: Vec<Tokens> = data_fields.iter().map(|name| quote! { &self.#name }).collect();
        let data = simple_encode(quote! { &[] }, &values);
        quote! {
            let data = #data;
            ::strata_sdk::__private::emit_topics([Self::TOPIC0 #(, #topics)*], &data);
        }
    } else {
        quote! {
            let topics: ::strata_sdk::__private::Vec<[u8; 32]> = ::strata_sdk::__private::vec![Self::TOPIC0 #(, #topics)*];
            let data = ::strata_sdk::SolValue::abi_encode_params(&(#(self.#data_fields.clone(),)*));
            ::strata_sdk::__private::emit_raw(&topics, &data);
        }
    };
    let params: Vec<(String, String, bool)> = fields.iter().zip(&sols).map(|((n, _, i), s)| (n.to_string(), s.clone(), *i)).collect();
    let fragment = abi_fragment(&ident, &format!("event {ident}({})", human_params(&params)));
    // `#[indexed]` is ours: remove it from the emitted struct.
    if let Fields::Named(named) = &mut item.fields {
        for f in named.named.iter_mut() {
            f.attrs.retain(|a| !a.path().is_ident("indexed"));
        }
    }
    Ok(quote! {
        #item
        impl #ident {
            /// The event's Solidity signature.
            pub const SIGNATURE: &'static str = #signature;
            /// Topic 0: keccak256 of the signature.
            pub const TOPIC0: [u8; 32] = [#(#topic0),*];
            /// Emits the event as a log of this contract.
            pub fn emit(&self) {
                #emit_body
            }
        }
        #fragment
    })
}

/// A Solidity custom error: `#[error] pub struct InsufficientBalance { pub available: U256, … }`.
/// Returned as `Err(..)` from a contract function, it reverts with its selector and
/// ABI-encoded fields; it appears in the ABI.
#[proc_macro_attribute]
pub fn error(_: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as ItemStruct);
    match expand_error(&item) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_error(item: &ItemStruct) -> syn::Result<Tokens> {
    let fields = struct_fields(item)?;
    let ident = item.ident.clone();
    let sols: Vec<String> = fields.iter().map(|f| sol_type(&f.1)).collect::<syn::Result<_>>()?;
    let signature = format!("{ident}({})", sols.join(","));
    let selector: Vec<u8> = keccak(&signature)[..4].to_vec();
    let names: Vec<&syn::Ident> = fields.iter().map(|f| &f.0).collect();
    let params: Vec<(String, String, bool)> = fields.iter().zip(&sols).map(|((n, _, _), s)| (n.to_string(), s.clone(), false)).collect();
    let revert_body = if sols.iter().all(|s| is_simple(s)) {
        let values: Vec<Tokens> = names.iter().map(|name| quote! { &self.#name }).collect();
        simple_encode(quote! { &Self::SELECTOR }, &values)
    } else {
        quote! {
            let mut out = ::strata_sdk::__private::Vec::from(Self::SELECTOR);
            out.extend(::strata_sdk::SolValue::abi_encode_params(&(#(self.#names.clone(),)*)));
            out
        }
    };
    let fragment = abi_fragment(&ident, &format!("error {ident}({})", human_params(&params)));
    Ok(quote! {
        #item
        impl #ident {
            /// The error's selector.
            pub const SELECTOR: [u8; 4] = [#(#selector),*];
        }
        impl ::strata_sdk::ContractError for #ident {
            fn revert_data(&self) -> ::strata_sdk::__private::Vec<u8> {
                #revert_body
            }
        }
        #fragment
    })
}

struct Method {
    ident: syn::Ident,
    args: Vec<(syn::Ident, Type, String)>,
    /// (ok type, Solidity types of the outputs (empty: none), is `Result`)
    output: Option<(Type, Option<Vec<String>>, bool)>,
    mutability: &'static str,
    constructor: bool,
}

fn result_ok_type(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &seg.arguments else { return None };
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }
}

fn is_u8(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.is_ident("u8"))
}

/// The type used on the wire for `ty`: alloy has no `SolValue` for `u8` (because of
/// `Vec<u8>`), so a `u8` travels as a `U256` word — the same 32 bytes as `uint8`.
fn wire_type(ty: &Type) -> Tokens {
    if is_u8(ty) {
        quote! { ::strata_sdk::U256 }
    } else {
        quote! { #ty }
    }
}

/// Solidity types of a function's outputs: one, or one per element of a returned tuple.
fn output_types(ty: &Type) -> syn::Result<Vec<String>> {
    match ty {
        Type::Tuple(t) => t.elems.iter().map(sol_type).collect(),
        other => Ok(vec![sol_type(other)?]),
    }
}

fn is_tuple(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if !t.elems.is_empty())
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

/// A contract: `#[contract] impl Token { #[constructor] pub fn new(..) {..} pub fn transfer(..) -> Result<bool, E> {..} }`.
///
/// Every `pub fn` (associated, no `self`) becomes an ABI function named in camelCase,
/// dispatched by its selector. `#[view]` marks read-only functions and `#[payable]`
/// ones that accept value (others refuse it). Returning `Err(e)` reverts with `e`'s
/// revert data (`#[error]` types, or a `String` as `Error(string)`).
///
/// `#[contract(reentrant)]` opts in to re-entrant calls (the contract may be called
/// while it is already executing); without it the runtime refuses them.
#[proc_macro_attribute]
pub fn contract(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = proc_macro2::TokenStream::from(attr).to_string();
    let reentrant = match attr.trim() {
        "" => false,
        "reentrant" => true,
        other => {
            return syn::Error::new(Span::call_site(), format!("unknown #[contract] option `{other}` (only `reentrant`)"))
                .to_compile_error()
                .into();
        }
    };
    let mut item = parse_macro_input!(item as ItemImpl);
    match expand_contract(&mut item, reentrant) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_contract(item: &mut ItemImpl, reentrant: bool) -> syn::Result<Tokens> {
    let self_ty = item.self_ty.clone();
    let mut methods = Vec::new();
    for it in item.items.iter_mut() {
        let ImplItem::Fn(f) = it else { continue };
        let constructor = f.attrs.iter().any(|a| a.path().is_ident("constructor"));
        let view = f.attrs.iter().any(|a| a.path().is_ident("view"));
        let payable = f.attrs.iter().any(|a| a.path().is_ident("payable"));
        f.attrs.retain(|a| !(a.path().is_ident("constructor") || a.path().is_ident("view") || a.path().is_ident("payable")));
        if !matches!(f.vis, syn::Visibility::Public(_)) && !constructor {
            continue;
        }
        let mut args = Vec::new();
        for input in &f.sig.inputs {
            match input {
                FnArg::Receiver(r) => return Err(syn::Error::new(r.span(), "contract functions take no `self`: state lives in storage")),
                FnArg::Typed(pt) => {
                    let Pat::Ident(pi) = &*pt.pat else { return Err(syn::Error::new(pt.pat.span(), "use a plain argument name")) };
                    args.push((pi.ident.clone(), (*pt.ty).clone(), sol_type(&pt.ty)?));
                }
            }
        }
        let output = match &f.sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => match result_ok_type(ty) {
                Some(ok) if is_unit(&ok) => Some((ok, None, true)),
                Some(ok) => Some((ok.clone(), Some(output_types(&ok)?), true)),
                None if is_unit(ty) => None,
                None => Some(((**ty).clone(), Some(output_types(ty)?), false)),
            },
        };
        if constructor && output.as_ref().is_some_and(|o| o.1.is_some()) {
            return Err(syn::Error::new(f.sig.output.span(), "a constructor returns nothing (or Result<(), E>)"));
        }
        let mutability = if payable {
            "payable"
        } else if view {
            "view"
        } else {
            "nonpayable"
        };
        methods.push(Method { ident: f.sig.ident.clone(), args, output, mutability, constructor });
    }
    if methods.iter().filter(|m| m.constructor).count() > 1 {
        return Err(syn::Error::new(Span::call_site(), "at most one #[constructor]"));
    }

    let mut arms = Vec::new();
    let mut fragments = Vec::new();
    let mut deploy_body = quote! {};
    let mut seen = std::collections::BTreeMap::new();
    for m in &methods {
        let sol_name = camel(&m.ident.to_string());
        let sols: Vec<&str> = m.args.iter().map(|a| a.2.as_str()).collect();
        let signature = format!("{sol_name}({})", sols.join(","));
        let names: Vec<&syn::Ident> = m.args.iter().map(|a| &a.0).collect();
        let types: Vec<Tokens> = m.args.iter().map(|a| wire_type(&a.1)).collect();
        let narrow: Vec<Tokens> = m
            .args
            .iter()
            .filter(|a| is_u8(&a.1))
            .map(|(n, _, _)| {
                quote! { let #n: u8 = u8::try_from(#n).unwrap_or_else(|_| ::strata_sdk::revert_message(concat!("bad arguments for ", #signature))); }
            })
            .collect();
        let ident = &m.ident;
        let decode = if names.is_empty() {
            quote! {}
        } else if m.args.iter().all(|a| is_simple(&a.2)) {
            let tys: Vec<&Type> = m.args.iter().map(|a| &a.1).collect();
            let idx: Vec<usize> = (0..m.args.len()).collect();
            quote! {
                let (#(#names,)*) = match (|| ::core::option::Option::Some((#(::strata_sdk::abi::arg::<#tys>(args, #idx)?,)*)))() {
                    ::core::option::Option::Some(v) => v,
                    ::core::option::Option::None => ::strata_sdk::__private::bad_arguments(#signature),
                };
            }
        } else {
            quote! {
                let (#(#names,)*) = <(#(#types,)*) as ::strata_sdk::SolValue>::abi_decode_params(args)
                    .unwrap_or_else(|_| ::strata_sdk::revert_message(concat!("bad arguments for ", #signature)));
                #(#narrow)*
            }
        };
        let value_check = if m.mutability == "payable" {
            quote! {}
        } else {
            quote! { ::strata_sdk::__private::nonpayable(#signature); }
        };
        let invoke = quote! { <#self_ty>::#ident(#(#names),*) };
        // One value is encoded as a 1-tuple; a returned tuple already is the output list.
        let widen = |ok: &Type, v: Tokens| {
            if is_u8(ok) {
                quote! { &(::strata_sdk::U256::from(#v),) }
            } else if is_tuple(ok) {
                quote! { &#v }
            } else {
                quote! { &(#v,) }
            }
        };
        let encode_output = |ok: &Type, sols: &[String], v: Tokens| {
            if !sols.iter().all(|s| is_simple(s)) {
                let v = widen(ok, v);
                return quote! { ::strata_sdk::SolValue::abi_encode_params(#v) };
            }
            if is_tuple(ok) {
                let parts: Vec<syn::Ident> = (0..sols.len()).map(|i| format_ident!("__r{i}")).collect();
                let values: Vec<Tokens> = parts.iter().map(|p| quote! { &#p }).collect();
                let enc = simple_encode(quote! { &[] }, &values);
                quote! { { let (#(#parts,)*) = #v; #enc } }
            } else {
                simple_encode(quote! { &[] }, &[quote! { &#v }])
            }
        };
        let encode = match &m.output {
            None => quote! { #invoke; ::strata_sdk::__private::Vec::new() },
            Some((_, None, true)) => quote! {
                match #invoke { Ok(()) => ::strata_sdk::__private::Vec::new(), Err(e) => ::strata_sdk::__private::revert_with(&e) }
            },
            Some((ok, Some(sols), true)) => {
                let enc = encode_output(ok, sols, quote! { v });
                quote! {
                    match #invoke { Ok(v) => #enc, Err(e) => ::strata_sdk::__private::revert_with(&e) }
                }
            }
            Some((ok, sols, false)) => {
                let enc = encode_output(ok, sols.as_deref().unwrap_or_default(), quote! { __out });
                quote! { { let __out = #invoke; #enc } }
            }
        };
        let inputs: Vec<(String, String, bool)> = m.args.iter().map(|(n, _, s)| (n.to_string(), s.clone(), false)).collect();
        if m.constructor {
            deploy_body = quote! {
                let input = ::strata_sdk::host::input();
                let args: &[u8] = &input;
                #value_check
                #decode
                let _: ::strata_sdk::__private::Vec<u8> = { #encode };
            };
            let payable = if m.mutability == "payable" { " payable" } else { "" };
            let line = format!("constructor({}){payable}", human_params(&inputs));
            fragments.push(abi_fragment(&format_ident!("constructor"), &line));
            continue;
        }
        let selector: [u8; 4] = keccak(&signature)[..4].try_into().expect("4 bytes");
        if let Some(other) = seen.insert(selector, signature.clone()) {
            return Err(syn::Error::new(m.ident.span(), format!("selector of {signature} collides with {other}")));
        }
        let outputs: Vec<(String, String, bool)> =
            m.output.iter().filter_map(|o| o.1.clone()).flatten().map(|s| (String::new(), s, false)).collect();
        let mutability = if m.mutability == "nonpayable" { String::new() } else { format!(" {}", m.mutability) };
        let returns = if outputs.is_empty() { String::new() } else { format!(" returns ({})", human_params(&outputs)) };
        let line = format!("function {sol_name}({}){mutability}{returns}", human_params(&inputs));
        fragments.push(abi_fragment(&format_ident!("fn_{}", m.ident), &line));
        let [a, b, c, d] = selector;
        arms.push(quote! {
            [#a, #b, #c, #d] => { #value_check #decode #encode }
        });
    }
    let reentrancy = if reentrant {
        quote! {
            #[cfg(target_arch = "wasm32")]
            #[unsafe(no_mangle)]
            #[doc(hidden)]
            pub extern "C" fn strata_reentrant() {}
        }
    } else {
        quote! {}
    };
    Ok(quote! {
        #item
        #reentrancy

        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub extern "C" fn call() {
            let input = ::strata_sdk::host::input();
            if input.len() < 4 {
                ::strata_sdk::revert_message("calldata shorter than a selector");
            }
            let selector = [input[0], input[1], input[2], input[3]];
            let args: &[u8] = &input[4..];
            let out: ::strata_sdk::__private::Vec<u8> = match selector {
                #(#arms)*
                other => ::strata_sdk::__private::unknown_selector(other),
            };
            ::strata_sdk::host::return_data(&out);
        }

        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub extern "C" fn deploy() {
            #deploy_body
        }

        #(#fragments)*
    })
}
