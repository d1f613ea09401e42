//! Writing the impl. Everything that can fail happened in the earlier phases; this only
//! turns the checked AST into tokens.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Path, WherePredicate};

use crate::ast::{Container, Data, Field};
use crate::ctxt::Ctxt;
use crate::{ast, valid};

pub fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let container = ast::Container::from_ast(&cx, input);
    if let Some(container) = &container {
        valid::check(&cx, container);
    }
    let krate = container
        .as_ref()
        .and_then(|c| c.attrs.krate.clone())
        .unwrap_or_else(|| syn::parse_quote!(::secret_ref));
    let plain = container.as_ref().is_some_and(|c| c.attrs.plain.is_some());
    match (cx.check(), container) {
        (Ok(()), Some(_)) if plain => impl_plain(input, &krate),
        (Ok(()), Some(container)) => impl_resolve_secrets(&container, &krate),
        (Err(err), _) => {
            // A stub impl next to the error keeps the user's other code compiling, so they see
            // this one error rather than one per use of the type.
            let error = err.to_compile_error();
            let stub = stub(input, &krate, plain);
            quote!(#error #stub)
        }
        (Ok(()), None) => unreachable!("a missing container always comes with an error"),
    }
}

/// An impl that walks nothing: the stub after an error, and also the whole of a
/// `#[secret(plain)]` type's impl.
fn stub(input: &DeriveInput, krate: &Path, plain: bool) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    // A plain type can also be an element of a set, which needs the `Plain` marker.
    let marker = plain.then(|| {
        quote! {
            #[automatically_derived]
            impl #impl_generics #krate::__private::Plain for #ident #ty_generics #where_clause {}
        }
    });
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #krate::ResolveSecrets for #ident #ty_generics #where_clause {
                const SHAPE: #krate::__private::Shape = #krate::__private::Shape::Plain;
                fn visit_secrets<'__a>(&'__a mut self, _: &mut #krate::__private::Walker<'__a>) {}
            }
            #marker
        };
    }
}

/// `#[secret(plain)]`: the type holds no secret and is not walked, whatever its fields'
/// types (they need no `ResolveSecrets`, and type parameters no bound).
fn impl_plain(input: &DeriveInput, krate: &Path) -> TokenStream {
    stub(input, krate, true)
}

fn impl_resolve_secrets(container: &Container<'_>, krate: &Path) -> TokenStream {
    let input = container.original;
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut where_clause = where_clause
        .cloned()
        .unwrap_or_else(|| syn::parse_quote!(where));
    where_clause.predicates.extend(bounds(container, krate));

    let (shape, body) = match &container.data {
        Data::Struct(fields) => {
            let shape_fields = shape_fields(fields, krate);
            let visits = fields.iter().filter(|f| f.attrs.skip.is_none()).map(|f| {
                let member = &f.member;
                visit(f, quote!(&mut self.#member), krate)
            });
            (
                quote!(#krate::__private::Shape::Struct(&[#(#shape_fields),*])),
                quote!(#(#visits)*),
            )
        }
        Data::Enum(variants) => {
            let live: Vec<_> = variants.iter().filter(|v| v.attrs.skip.is_none()).collect();
            let shapes = live.iter().map(|v| {
                let fields = shape_fields(&v.fields, krate);
                quote!(&[#(#fields),*])
            });
            let arms = variants.iter().map(|v| {
                let name = &v.original.ident;
                if v.attrs.skip.is_some() {
                    return match &v.original.fields {
                        syn::Fields::Named(_) => quote!(Self::#name { .. } => {}),
                        syn::Fields::Unnamed(_) => quote!(Self::#name(..) => {}),
                        syn::Fields::Unit => quote!(Self::#name => {}),
                    };
                }
                let binding = |i: usize| format_ident!("__field{}", i);
                let visits = v
                    .fields
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| f.attrs.skip.is_none())
                    .map(|(i, f)| {
                        let b = binding(i);
                        visit(f, quote!(#b), krate)
                    });
                let pattern = match &v.original.fields {
                    syn::Fields::Named(_) => {
                        let pats = v
                            .fields
                            .iter()
                            .enumerate()
                            .filter(|(_, f)| f.attrs.skip.is_none())
                            .map(|(i, f)| {
                                let member = &f.member;
                                let b = binding(i);
                                quote!(#member: #b)
                            });
                        quote!(Self::#name { #(#pats,)* .. })
                    }
                    syn::Fields::Unnamed(_) => {
                        let pats = v.fields.iter().enumerate().map(|(i, f)| {
                            if f.attrs.skip.is_some() {
                                quote!(_)
                            } else {
                                let b = binding(i);
                                quote!(#b)
                            }
                        });
                        quote!(Self::#name(#(#pats),*))
                    }
                    syn::Fields::Unit => quote!(Self::#name),
                };
                quote!(#pattern => { #(#visits)* })
            });
            (
                quote!(#krate::__private::Shape::Enum(&[#(#shapes),*])),
                // `match *self {}` for an empty enum: a reference is always inhabited.
                if variants.is_empty() {
                    quote!(match *self {})
                } else {
                    quote!(match self { #(#arms)* })
                },
            )
        }
    };

    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #krate::ResolveSecrets for #ident #ty_generics #where_clause {
                const SHAPE: #krate::__private::Shape = #shape;

                fn visit_secrets<'__a>(
                    &'__a mut self,
                    __walker: &mut #krate::__private::Walker<'__a>,
                ) {
                    #body
                }
            }
        };
    }
}

fn shape_fields<'a>(
    fields: &'a [Field<'a>],
    krate: &'a Path,
) -> impl Iterator<Item = TokenStream> + 'a {
    fields
        .iter()
        .filter(|f| f.attrs.skip.is_none())
        .map(move |f| {
            let key = &f.key;
            let ty = f.ty;
            // Spanned at the field's type, so that a type without the trait is reported there,
            // once (the visit below reports at the same place with the same words).
            let shape = quote_spanned!(ty.span()=> <#ty as #krate::ResolveSecrets>::shape);
            quote! {
                #krate::__private::Field {
                    name: #key,
                    shape: #shape,
                }
            }
        })
}

fn visit(field: &Field<'_>, place: TokenStream, krate: &Path) -> TokenStream {
    let key = &field.key;
    let ty = field.ty;
    // Spanned at the field's type, like the shape above: a type without the trait is then
    // reported once, at the field, instead of at the derive.
    let walk = quote_spanned!(ty.span()=> <#ty as #krate::ResolveSecrets>::visit_secrets);
    let call = if key.is_empty() {
        quote!(#walk(#place, __walker);)
    } else {
        let enter = match &field.member {
            syn::Member::Unnamed(index) => {
                let index = index.index as usize;
                quote!(__walker.enter_index(#index))
            }
            syn::Member::Named(_) => quote!(__walker.enter_field(#key)),
        };
        quote! {
            let __mark = #enter;
            #walk(#place, __walker);
            __walker.leave(__mark);
        }
    };
    if field.attrs.reference_only.is_some() {
        quote! {
            let __saved = __walker.set_reference_only(true);
            #call
            __walker.set_reference_only(__saved);
        }
    } else {
        call
    }
}

/// `#[secret(bound = "...")]` if given; otherwise `FieldType: ResolveSecrets` for each walked
/// field whose type mentions a type parameter (bounding the field type rather than the
/// parameter gets `Secret<T>`'s own requirements on `T` right).
fn bounds(container: &Container<'_>, krate: &Path) -> Vec<WherePredicate> {
    if let Some(bound) = &container.attrs.bound {
        return bound.clone();
    }
    let params: Vec<Ident> = container
        .original
        .generics
        .type_params()
        .map(|p| p.ident.clone())
        .collect();
    if params.is_empty() {
        return Vec::new();
    }
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for field in container.fields().filter(|f| f.attrs.skip.is_none()) {
        let ty = field.ty;
        let tokens = quote!(#ty);
        if mentions(tokens.clone(), &params) && !seen.contains(&tokens.to_string()) {
            seen.push(tokens.to_string());
            out.push(syn::parse_quote_spanned!(Span::call_site() => #ty: #krate::ResolveSecrets));
        }
    }
    out
}

fn mentions(tokens: TokenStream, params: &[Ident]) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => params.contains(&ident),
        TokenTree::Group(group) => mentions(group.stream(), params),
        _ => false,
    })
}
