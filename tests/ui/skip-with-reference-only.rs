use secret_ref::ResolveSecrets;

#[derive(ResolveSecrets)]
struct Config {
    #[secret(skip, reference_only)]
    banner: String,
}

fn main() {}
