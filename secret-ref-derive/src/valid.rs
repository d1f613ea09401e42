//! Rules that involve more than one attribute or a field's type, one small function each.

use crate::ast::{Container, Data, Field};
use crate::ctxt::Ctxt;

pub fn check(cx: &Ctxt, container: &Container<'_>) {
    if container.attrs.plain.is_some() {
        check_plain(cx, container);
        return;
    }
    for field in container.fields() {
        check_skip_with_reference_only(cx, field);
        check_skipped_secret(cx, field);
        check_flatten_with_reference_only(cx, field);
    }
}

/// A `#[secret(plain)]` type is never walked: an attribute that would steer the walk inside
/// it does nothing, and a secret in it would never be resolved. Each is an error at its own
/// place rather than a silent no-op.
fn check_plain(cx: &Ctxt, container: &Container<'_>) {
    if let Some(first) = container.attrs.bound.as_ref().and_then(|b| b.first()) {
        cx.error_spanned_by(
            first,
            "`bound` has no effect on a #[secret(plain)] type, whose fields are not walked; \
             remove it",
        );
    }
    if let Data::Enum(variants) = &container.data {
        for variant in variants {
            if let Some(span) = variant.attrs.skip {
                cx.syn_error(syn::Error::new(
                    span,
                    "the type is #[secret(plain)], so no variant is walked; remove #[secret(skip)]",
                ));
            }
        }
    }
    for field in container.fields() {
        for (span, key) in [
            (field.attrs.skip, "skip"),
            (field.attrs.reference_only, "reference_only"),
        ] {
            if let Some(span) = span {
                cx.syn_error(syn::Error::new(
                    span,
                    format!(
                        "the type is #[secret(plain)], so its fields are not walked and \
                         `{key}` does nothing; remove #[secret({key})]"
                    ),
                ));
            }
        }
        if written_as_secret(field.ty) {
            cx.error_spanned_by(
                field.ty,
                "a #[secret(plain)] type is never walked, so this secret would never be \
                 resolved and reading it would panic; remove #[secret(plain)] from the type",
            );
        }
    }
}

/// `reference_only` is a rule about the field's value; a skipped field is never looked at,
/// so the rule would silently do nothing.
fn check_skip_with_reference_only(cx: &Ctxt, field: &Field<'_>) {
    if let (Some(_), Some(span)) = (field.attrs.skip, field.attrs.reference_only) {
        cx.syn_error(syn::Error::new(
            span,
            "`reference_only` has no effect on a field marked `skip`; remove one of them",
        ));
    }
}

/// A skipped `Secret` is never resolved, so reading it later would panic: almost surely not
/// what was meant.
fn check_skipped_secret(cx: &Ctxt, field: &Field<'_>) {
    let Some(span) = field.attrs.skip else {
        return;
    };
    if written_as_secret(field.ty) {
        cx.syn_error(syn::Error::new(
            span,
            "a `Secret` field marked `skip` is never resolved, and reading it would panic; \
             remove #[secret(skip)]",
        ));
    }
}

/// A flattened field's own fields sit at this level; mark those instead.
fn check_flatten_with_reference_only(cx: &Ctxt, field: &Field<'_>) {
    if let (true, Some(span)) = (field.attrs.flatten, field.attrs.reference_only) {
        cx.syn_error(syn::Error::new(
            span,
            "`reference_only` cannot apply to a #[serde(flatten)] field; put it on the \
             secret fields of the flattened type",
        ));
    }
}

/// Whether a field's type is written as a secret: `Secret<T>`, `SecretString` or `Live<T>`.
/// Only the written type is seen; an alias of the user's own hides it.
fn written_as_secret(ty: &syn::Type) -> bool {
    let syn::Type::Path(path) = ty else {
        return false;
    };
    path.qself.is_none()
        && path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Secret" || s.ident == "SecretString" || s.ident == "Live")
}
