//! Writing the impl. Everything that can fail happened in the earlier phases; this only
//! turns the checked AST into tokens.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{format_ident, quote};
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
    match (cx.check(), container) {
        (Ok(()), Some(container)) => impl_resolve_secrets(&container, &krate),
        (Err(err), _) => {
            // A stub impl next to the error keeps the user's other code compiling, so they see
            // this one error rather than one per use of the type.
            let error = err.to_compile_error();
            let stub = stub(input, &krate);
            quote!(#error #stub)
        }
        (Ok(()), None) => unreachable!("a missing container always comes with an error"),
    }
}

fn stub(input: &DeriveInput, krate: &Path) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #krate::ResolveSecrets for #ident #ty_generics #where_clause {
                const SHAPE: #krate::__private::Shape = #krate::__private::Shape::Plain;
                fn visit_secrets<'__a>(&'__a mut self, _: &mut #krate::__private::Walker<'__a>) {}
            }
        };
    }
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
                visit(f, quote!(&mut self.#member))
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
                        visit(f, quote!(#b))
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
                quote!(match self { #(#arms)* }),
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
    fields.iter().filter(|f| f.attrs.skip.is_none()).map(move |f| {
        let key = &f.key;
        let ty = f.ty;
        quote! {
            #krate::__private::Field {
                name: #key,
                shape: <#ty as #krate::ResolveSecrets>::shape,
            }
        }
    })
}

fn visit(field: &Field<'_>, place: TokenStream) -> TokenStream {
    let key = &field.key;
    if field.attrs.flatten {
        quote!(__walker.flatten(#place);)
    } else if field.attrs.reference_only.is_some() {
        quote!(__walker.field_reference_only(#key, #place);)
    } else {
        quote!(__walker.field(#key, #place);)
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
