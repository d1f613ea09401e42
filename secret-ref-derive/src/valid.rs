//! Rules that involve more than one attribute or a field's type, one small function each.

use crate::ast::{Container, Field};
use crate::ctxt::Ctxt;

pub fn check(cx: &Ctxt, container: &Container<'_>) {
    for field in container.fields() {
        check_skip_with_reference_only(cx, field);
        check_skipped_secret(cx, field);
        check_flatten_with_reference_only(cx, field);
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
/// what was meant. (Only the written type is checked; an alias hides it.)
fn check_skipped_secret(cx: &Ctxt, field: &Field<'_>) {
    let Some(span) = field.attrs.skip else {
        return;
    };
    if let syn::Type::Path(path) = field.ty
        && path.qself.is_none()
        && path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Secret")
    {
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
