use secret_ref::ResolveSecrets;

#[derive(ResolveSecrets)]
struct Config {
    #[secret(plain)]
    level: u8,
    #[secret(plain = "yes")]
    other: u8,
}

#[derive(ResolveSecrets)]
#[secret(plain, plain)]
struct Twice;

fn main() {}
