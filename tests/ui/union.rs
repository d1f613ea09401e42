use secret_ref::ResolveSecrets;

#[derive(ResolveSecrets)]
union Bits {
    a: u32,
    b: f32,
}

fn main() {}
