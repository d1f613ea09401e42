//! Attribute parsing: `#[secret(...)]`, and the parts of `#[serde(...)]` that decide the
//! names a configuration file uses (so that error paths name the key the user wrote).

use proc_macro2::Span;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr, Path, Token, WherePredicate};

use crate::case::RenameRule;
use crate::ctxt::Ctxt;

/// Container attributes.
#[derive(Default)]
pub struct Container {
    /// `#[secret(bound = "...")]`: replaces the inferred where-clause.
    pub bound: Option<Vec<WherePredicate>>,
    /// `#[secret(crate = "...")]`: where `secret_ref` is, if renamed.
    pub krate: Option<Path>,
    /// `#[secret(plain)]`: the type holds no secret; its fields are not walked.
    pub plain: Option<Span>,
    /// `#[serde(rename_all = "...")]` on a struct: how its fields are named.
    pub rename_all: Option<RenameRule>,
    /// `#[serde(rename_all_fields = "...")]` on an enum: how fields of its variants are named.
    pub rename_all_fields: Option<RenameRule>,
}

/// Variant attributes.
#[derive(Default)]
pub struct Variant {
    /// `#[secret(skip)]`.
    pub skip: Option<Span>,
    /// `#[serde(rename_all = "...")]` on a variant: how its fields are named.
    pub rename_all: Option<RenameRule>,
}

/// Field attributes.
#[derive(Default)]
pub struct Field {
    /// `#[secret(skip)]`.
    pub skip: Option<Span>,
    /// `#[secret(reference_only)]`.
    pub reference_only: Option<Span>,
    /// `#[serde(rename = "...")]` (or its `deserialize = ` form).
    pub rename: Option<String>,
    /// `#[serde(flatten)]`.
    pub flatten: bool,
}

/// Where an attribute sits, for "belongs elsewhere" errors.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Container,
    Variant,
    Field,
}

impl Place {
    fn name(self) -> &'static str {
        match self {
            Place::Container => "the struct or enum",
            Place::Variant => "a variant",
            Place::Field => "a field",
        }
    }
}

const CONTAINER_KEYS: &[&str] = &["bound", "crate", "plain"];
const VARIANT_KEYS: &[&str] = &["skip"];
const FIELD_KEYS: &[&str] = &["skip", "reference_only"];

fn keys(place: Place) -> &'static [&'static str] {
    match place {
        Place::Container => CONTAINER_KEYS,
        Place::Variant => VARIANT_KEYS,
        Place::Field => FIELD_KEYS,
    }
}

/// Reports an attribute that is unknown, or known but misplaced, saying where it belongs.
fn misplaced(cx: &Ctxt, meta: &ParseNestedMeta<'_>, place: Place) {
    let key = meta
        .path
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_else(|| meta.path.to_token_stream().to_string().replace(' ', ""));
    let homes: Vec<&str> = [Place::Container, Place::Variant, Place::Field]
        .into_iter()
        .filter(|p| keys(*p).contains(&key.as_str()))
        .map(Place::name)
        .collect();
    let message = if homes.is_empty() {
        let expected: Vec<String> = keys(place).iter().map(|k| format!("`{k}`")).collect();
        format!(
            "unknown secret attribute `{key}`; on {} it can be {}",
            place.name(),
            expected.join(" or ")
        )
    } else {
        format!(
            "not expected here; the #[secret({key})] attribute belongs on {}",
            homes.join(" or ")
        )
    };
    cx.error_spanned_by(&meta.path, message);
    skip_value(meta);
}

/// Consumes whatever follows a key (`= value` or `(...)`) so parsing can go on.
fn skip_value(meta: &ParseNestedMeta<'_>) {
    if meta.input.peek(Token![=]) {
        if let Ok(value) = meta.value() {
            skip_to_comma(value);
        }
    } else if meta.input.peek(syn::token::Paren) {
        let _ = meta.parse_nested_meta(|inner| {
            skip_value(&inner);
            Ok(())
        });
    }
}

/// Consumes tokens up to the next `,` of the attribute list.
fn skip_to_comma(input: syn::parse::ParseStream<'_>) {
    while !input.is_empty() && !input.peek(Token![,]) {
        if input.parse::<proc_macro2::TokenTree>().is_err() {
            break;
        }
    }
}

/// A flag such as `skip`: no value allowed, at most once.
fn flag(cx: &Ctxt, meta: &ParseNestedMeta<'_>, slot: &mut Option<Span>) {
    let name = meta
        .path
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_default();
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            format!("`{name}` takes no value; write #[secret({name})]"),
        );
        skip_value(meta);
        return;
    }
    if slot.is_some() {
        cx.error_spanned_by(&meta.path, format!("duplicate secret attribute `{name}`"));
        return;
    }
    *slot = Some(meta.path.span());
}

/// `key = "string"`, at most once.
fn string_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>, seen: bool) -> Option<LitStr> {
    let name = meta
        .path
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_default();
    let wrong = || {
        cx.error_spanned_by(
            &meta.path,
            format!("`{name}` takes a string: #[secret({name} = \"...\")]"),
        );
    };
    let Ok(value) = meta.value() else {
        wrong();
        skip_value(meta);
        return None;
    };
    let Ok(lit) = value.parse::<LitStr>() else {
        wrong();
        skip_to_comma(value);
        return None;
    };
    if seen {
        cx.error_spanned_by(&meta.path, format!("duplicate secret attribute `{name}`"));
        return None;
    }
    Some(lit)
}

/// Runs `each` on every item of every `#[secret(...)]` attribute.
fn for_each_secret_meta(
    cx: &Ctxt,
    attrs: &[Attribute],
    mut each: impl FnMut(&ParseNestedMeta<'_>),
) {
    for attr in attrs {
        if !attr.path().is_ident("secret") {
            continue;
        }
        if let syn::Meta::Path(_) | syn::Meta::NameValue(_) = attr.meta {
            cx.error_spanned_by(attr, "expected a list of options, such as #[secret(skip)]");
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            each(&meta);
            Ok(())
        });
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }
}

impl Container {
    pub fn from_ast(cx: &Ctxt, input: &syn::DeriveInput) -> Self {
        let mut out = Container::default();
        for_each_secret_meta(cx, &input.attrs, |meta| {
            if meta.path.is_ident("bound") {
                if let Some(lit) = string_value(cx, meta, out.bound.is_some()) {
                    match lit.parse_with(
                        syn::punctuated::Punctuated::<WherePredicate, Token![,]>::parse_terminated,
                    ) {
                        Ok(preds) => out.bound = Some(preds.into_iter().collect()),
                        Err(e) => cx.error_spanned_by(
                            &lit,
                            format!(
                                "`bound` must be where-clause predicates, such as \"T: Clone\": {e}"
                            ),
                        ),
                    }
                }
            } else if meta.path.is_ident("plain") {
                flag(cx, meta, &mut out.plain);
            } else if meta.path.is_ident("crate") {
                if let Some(lit) = string_value(cx, meta, out.krate.is_some()) {
                    match lit.parse::<Path>() {
                        Ok(path) => out.krate = Some(path),
                        Err(_) => cx.error_spanned_by(
                            &lit,
                            "`crate` must be a path, such as \"::secret_ref\"",
                        ),
                    }
                }
            } else {
                misplaced(cx, meta, Place::Container);
            }
        });
        for_each_serde_meta(&input.attrs, |meta| {
            if meta.path.is_ident("rename_all") {
                out.rename_all = rename_rule(meta).or(out.rename_all);
            } else if meta.path.is_ident("rename_all_fields") {
                out.rename_all_fields = rename_rule(meta).or(out.rename_all_fields);
            } else {
                skip_value(meta);
            }
        });
        out
    }
}

impl Variant {
    pub fn from_ast(cx: &Ctxt, variant: &syn::Variant) -> Self {
        let mut out = Variant::default();
        for_each_secret_meta(cx, &variant.attrs, |meta| {
            if meta.path.is_ident("skip") {
                flag(cx, meta, &mut out.skip);
            } else {
                misplaced(cx, meta, Place::Variant);
            }
        });
        for_each_serde_meta(&variant.attrs, |meta| {
            if meta.path.is_ident("rename_all") {
                out.rename_all = rename_rule(meta).or(out.rename_all);
            } else {
                skip_value(meta);
            }
        });
        out
    }
}

impl Field {
    pub fn from_ast(cx: &Ctxt, field: &syn::Field) -> Self {
        let mut out = Field::default();
        for_each_secret_meta(cx, &field.attrs, |meta| {
            if meta.path.is_ident("skip") {
                flag(cx, meta, &mut out.skip);
            } else if meta.path.is_ident("reference_only") {
                flag(cx, meta, &mut out.reference_only);
            } else {
                misplaced(cx, meta, Place::Field);
            }
        });
        for_each_serde_meta(&field.attrs, |meta| {
            if meta.path.is_ident("rename") {
                out.rename = deserialize_name(meta).or(out.rename.take());
            } else if meta.path.is_ident("flatten") {
                out.flatten = true;
            } else {
                skip_value(meta);
            }
        });
        out
    }
}

/// Walks `#[serde(...)]` items. Malformed serde attributes are serde_derive's to report, so
/// parse errors are ignored here.
fn for_each_serde_meta(attrs: &[Attribute], mut each: impl FnMut(&ParseNestedMeta<'_>)) {
    for attr in attrs {
        if attr.path().is_ident("serde") {
            let _ = attr.parse_nested_meta(|meta| {
                each(&meta);
                Ok(())
            });
        }
    }
}

/// `name = "x"` or `name(deserialize = "x", serialize = "y")`: the name used when reading.
fn deserialize_name(meta: &ParseNestedMeta<'_>) -> Option<String> {
    if meta.input.peek(Token![=]) {
        return meta.value().ok()?.parse::<LitStr>().ok().map(|l| l.value());
    }
    let mut found = None;
    let _ = meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("deserialize") {
            found = inner.value()?.parse::<LitStr>().ok().map(|l| l.value());
        } else {
            skip_value(&inner);
        }
        Ok(())
    });
    found
}

/// A rule serde does not know is serde_derive's to report; here it is ignored.
fn rename_rule(meta: &ParseNestedMeta<'_>) -> Option<RenameRule> {
    deserialize_name(meta).and_then(|s| RenameRule::from_str(&s))
}
