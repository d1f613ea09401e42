use secret_ref::ResolveSecrets;

#[derive(ResolveSecrets)]
#[secret(bound = "T is clone")]
struct Config<T> {
    inner: T,
}

fn main() {}
