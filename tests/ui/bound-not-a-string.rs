use secret_ref::ResolveSecrets;

#[derive(ResolveSecrets)]
#[secret(bound = T)]
struct Config<T> {
    inner: T,
}

fn main() {}
