//! A borrowed view of the input, built once: every later phase reads it and none re-parses.

use syn::{DeriveInput, Member, Type};

use crate::attr;
use crate::case::RenameRule;
use crate::ctxt::Ctxt;

pub struct Container<'a> {
    pub original: &'a DeriveInput,
    pub attrs: attr::Container,
    pub data: Data<'a>,
}

pub enum Data<'a> {
    Struct(Vec<Field<'a>>),
    Enum(Vec<Variant<'a>>),
}

pub struct Variant<'a> {
    pub original: &'a syn::Variant,
    pub attrs: attr::Variant,
    pub fields: Vec<Field<'a>>,
}

pub struct Field<'a> {
    pub member: Member,
    pub ty: &'a Type,
    pub attrs: attr::Field,
    /// The key this field has in a configuration file (serde's name for it): `[i]` for a
    /// tuple field, empty for a flattened field or the field of a newtype, which serde
    /// reads in place of the newtype.
    pub key: String,
}

impl<'a> Container<'a> {
    /// `None` for input the derive cannot handle at all (a union); the error is in `cx`.
    pub fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let attrs = attr::Container::from_ast(cx, input);
        let data = match &input.data {
            syn::Data::Struct(data) => {
                Data::Struct(fields_from_ast(cx, &data.fields, attrs.rename_all))
            }
            syn::Data::Enum(data) => Data::Enum(
                data.variants
                    .iter()
                    .map(|variant| {
                        let vattrs = attr::Variant::from_ast(cx, variant);
                        let rule = vattrs.rename_all.or(attrs.rename_all_fields);
                        Variant {
                            original: variant,
                            fields: fields_from_ast(cx, &variant.fields, rule),
                            attrs: vattrs,
                        }
                    })
                    .collect(),
            ),
            // A plain union holds no secret: there is nothing to walk, so nothing to tell.
            syn::Data::Union(_) if attrs.plain.is_some() => Data::Struct(Vec::new()),
            syn::Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "ResolveSecrets cannot be derived for a union: the derive could not tell \
                     which field holds the secret; use a struct or an enum, or mark the union \
                     #[secret(plain)] if it holds no secret",
                );
                return None;
            }
        };
        Some(Container {
            original: input,
            attrs,
            data,
        })
    }

    /// Every field, of every variant.
    pub fn fields(&self) -> Box<dyn Iterator<Item = &Field<'a>> + '_> {
        match &self.data {
            Data::Struct(fields) => Box::new(fields.iter()),
            Data::Enum(variants) => Box::new(variants.iter().flat_map(|v| v.fields.iter())),
        }
    }
}

fn fields_from_ast<'a>(
    cx: &Ctxt,
    fields: &'a syn::Fields,
    rename_all: Option<RenameRule>,
) -> Vec<Field<'a>> {
    let newtype = matches!(fields, syn::Fields::Unnamed(f) if f.unnamed.len() == 1);
    fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let attrs = attr::Field::from_ast(cx, field);
            let member = match &field.ident {
                Some(ident) => Member::Named(ident.clone()),
                None => Member::Unnamed(i.into()),
            };
            let key = if attrs.flatten || newtype {
                String::new()
            } else if let Some(rename) = &attrs.rename {
                rename.clone()
            } else {
                match &field.ident {
                    Some(ident) => {
                        let name = ident.to_string();
                        let name = name.strip_prefix("r#").unwrap_or(&name).to_owned();
                        match rename_all {
                            Some(rule) => rule.apply_to_field(&name),
                            None => name,
                        }
                    }
                    None => format!("[{i}]"),
                }
            };
            Field {
                member,
                ty: &field.ty,
                attrs,
                key,
            }
        })
        .collect()
}
