//! `#[derive(ResolveSecrets)]` for the `secret-ref` crate. Use it through `secret_ref`, which
//! re-exports it; the attributes it takes are documented on `secret_ref::ResolveSecrets`.
//!
//! The macro works in phases, one file each: `attr.rs` parses attributes (serde's rename
//! rules are in `case.rs`), `ast.rs` builds a borrowed view of the input once, `valid.rs`
//! checks rules that span several attributes, and `expand.rs` writes the impl and cannot
//! fail. Errors are collected in `ctxt.rs`, so one build reports every bad attribute.

mod ast;
mod attr;
mod case;
mod ctxt;
mod expand;
mod valid;

use proc_macro::TokenStream;

/// Derives `secret_ref::ResolveSecrets`. `serde` is a helper attribute here too, because
/// `rename`, `rename_all` and `flatten` decide the field paths that errors report.
#[proc_macro_derive(ResolveSecrets, attributes(secret, serde))]
pub fn derive_resolve_secrets(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input).into()
}
