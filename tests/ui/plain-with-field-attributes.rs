use secret_ref::ResolveSecrets;

#[derive(ResolveSecrets)]
#[secret(plain, bound = "T: Clone")]
struct Limits<T> {
    #[secret(skip)]
    rate: T,
    #[secret(reference_only)]
    burst: u32,
}

#[derive(ResolveSecrets)]
#[secret(plain)]
enum Level {
    #[secret(skip)]
    Debug,
    Info,
}

fn main() {}
