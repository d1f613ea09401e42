//! Reading a live secret against reading a plain `Arc<String>` (the baselines: taking a
//! handle with `Arc::clone`, and just dereferencing it), from 1 and from 8 threads. A read is
//! what a request handler does: take the current value and use it. A `RwLock` around the
//! value, the obvious way to make it changeable, is measured too.
//!
//! `cargo bench -p secret-ref --bench live`

use std::sync::{Arc, LazyLock, RwLock};

use divan::black_box;
use secret_ref::Live;

fn main() {
    divan::main();
}

static PLAIN: LazyLock<Arc<String>> = LazyLock::new(|| Arc::new("opensesame-0123456789".into()));
static LIVE: LazyLock<Live<String>> = LazyLock::new(|| Live::new("opensesame-0123456789".into()));
/// The obvious alternative to `Live`: a lock around the current value.
static LOCKED: LazyLock<RwLock<Arc<String>>> =
    LazyLock::new(|| RwLock::new(Arc::new("opensesame-0123456789".into())));

#[divan::bench(threads = [1, 8], sample_count = 200, sample_size = 1000)]
fn baseline_arc_string_clone() -> usize {
    let value = Arc::clone(black_box(&*PLAIN));
    value.len()
}

#[divan::bench(threads = [1, 8], sample_count = 200, sample_size = 1000)]
fn baseline_arc_string_deref() -> usize {
    black_box(&*PLAIN).len()
}

#[divan::bench(threads = [1, 8], sample_count = 200, sample_size = 1000)]
fn live_expose_secret() -> usize {
    let value = black_box(&*LIVE).expose_secret();
    value.len()
}

#[divan::bench(threads = [1, 8], sample_count = 200, sample_size = 1000)]
fn rwlock_arc_string_read() -> usize {
    let value = Arc::clone(&black_box(&*LOCKED).read().unwrap());
    value.len()
}
