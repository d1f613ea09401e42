use std::collections::HashSet;

use secret_ref::ResolveSecrets;

#[derive(PartialEq, Eq, Hash, ResolveSecrets)]
enum Level {
    Debug,
    Info,
}

#[derive(ResolveSecrets)]
struct Config {
    levels: HashSet<Level>,
}

fn main() {}
