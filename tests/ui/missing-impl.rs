use secret_ref::{ResolveSecrets, Secret};

struct LogLevel;

#[derive(ResolveSecrets)]
struct Config {
    password: Secret<String>,
    level: LogLevel,
}

fn main() {}
