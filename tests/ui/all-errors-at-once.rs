use secret_ref::{ResolveSecrets, Secret};

// One build reports every bad attribute, and the stub impl keeps the use below compiling.
#[derive(ResolveSecrets)]
#[secret(crate = 42)]
struct Config {
    #[secret(skipp)]
    a: Secret<String>,
    #[secret(skip = "yes")]
    b: String,
    #[secret(reference_only = true)]
    c: Secret<String>,
}

fn use_it(config: &mut Config, resolver: &secret_ref::Resolver) {
    let _ = config.resolve_secrets(resolver);
}

fn main() {}
