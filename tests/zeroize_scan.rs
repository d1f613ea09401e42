//! Credentials in memory: a configured token is never left in a freed block.
//!
//! A global allocator scans every block as it is freed for a canary token. The token is
//! configured the way users configure it (`ResolverBuilder::configure`, and kong.conf's
//! `vault_hcv_token`), used for a real read from OpenBao, and the resolver dropped: every
//! copy the crate made must have been wiped before it was freed.
//!
//! One test function only: the scan counts the whole process's frees.
#![cfg(feature = "hcv")]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{Bao, unique};
use secret_ref::Resolver;
use secret_ref::kong_conf::Loader;
use secret_ref::zeroize::Zeroizing;
use serde_json::json;

/// The token OpenBao will know: an id of our choosing, so it is the canary itself.
const CANARY: &str = "c4n4ryZer0izeScanT0ken";

static ARMED: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicUsize = AtomicUsize::new(0);

struct Scan;

fn holds_canary(block: &[u8]) -> bool {
    let needle = CANARY.as_bytes();
    block.len() >= needle.len() && block.windows(needle.len()).any(|w| w == needle)
}

unsafe impl GlobalAlloc for Scan {
    /// Blocks start zeroed, so that a block found holding the canary when freed wrote it
    /// during its own life, rather than inheriting it from memory freed before the scan.
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::Relaxed) {
            // SAFETY: the block is still allocated, `layout.size()` bytes long.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if holds_canary(block) {
                FOUND.fetch_add(1, Ordering::Relaxed);
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
    // `realloc` is left to the default, which allocates, copies and frees through the two
    // methods above, so a block left behind by growing a buffer is scanned too.
}

#[global_allocator]
static ALLOCATOR: Scan = Scan;

/// Runs `f` with the scan on; returns how many freed blocks held the canary.
fn scanned(f: impl FnOnce()) -> usize {
    FOUND.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    f();
    ARMED.store(false, Ordering::SeqCst);
    FOUND.load(Ordering::SeqCst)
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn a_configured_token_is_wiped_before_it_is_freed() {
    // The scanner itself: a plain `String` with the canary, freed, is found.
    assert_eq!(scanned(|| drop(String::from(CANARY))), 1);

    let bao = Bao::plain();
    let p = unique("scan");
    bao.write_kv2(&p, json!({"password": "scanned"}));
    // A run before may have made it: revoke it first, since ids are unique.
    bao.api("POST", "auth/token/revoke", Some(json!({"token": CANARY})));
    let (status, body) = bao.api(
        "POST",
        "auth/token/create",
        Some(json!({"id": CANARY, "policies": [bao.read_policy()], "ttl": "1h"})),
    );
    assert_eq!(status, 200, "{body}");
    let settings = bao.settings("v2", "secret");
    let reference = format!("{{vault://hcv/{p}/password}}");

    // A resolver of the kong.conf settings, with `option` set through the builder to the
    // canary (moved in, as a caller holding it in zeroizing storage would).
    let with_canary = |builder: secret_ref::ResolverBuilder, option: &str| {
        let mut canary = Zeroizing::new(String::from(CANARY));
        Loader::new()
            .text("kong.conf", &settings)
            .load()
            .unwrap()
            .apply_to(builder.configure("hcv", option, std::mem::take(&mut *canary)))
            .unwrap()
            .build()
            .unwrap()
    };

    // Through the builder: built and dropped, then built, one fetch, dropped.
    let built = scanned(|| drop(with_canary(Resolver::builder(), "token")));
    assert_eq!(
        built, 0,
        "freed blocks with the token after building a resolver"
    );

    let fetched = scanned(|| {
        let resolver = with_canary(Resolver::builder(), "token");
        let secret = resolver.get(&reference).unwrap();
        assert_eq!(secret.expose_secret(), "scanned");
        drop(secret);
        drop(resolver);
    });
    assert_eq!(fetched, 0, "freed blocks with the token after one fetch");

    // Through kong.conf: the file's text is the caller's, but every copy the crate makes
    // of the setting is wiped.
    let from_conf = scanned(|| {
        let text = Zeroizing::new(format!("{settings}vault_hcv_token = {CANARY}\n"));
        let conf = Loader::new().text("kong.conf", &text).load().unwrap();
        let resolver = conf.resolver().unwrap();
        assert_eq!(resolver.get(&reference).unwrap().expose_secret(), "scanned");
        drop(resolver);
        drop(conf);
        drop(text);
    });
    assert_eq!(
        from_conf, 0,
        "freed blocks with the token, configured by kong.conf"
    );

    // A kong.conf file, read from disk.
    let path = std::env::temp_dir().join(unique("scan.conf"));
    std::fs::write(
        &path,
        Zeroizing::new(format!("{settings}vault_hcv_token = {CANARY}\n")).as_bytes(),
    )
    .unwrap();
    let from_file = scanned(|| {
        let conf = Loader::new().file(&path).load().unwrap();
        let resolver = conf.resolver().unwrap();
        assert_eq!(resolver.get(&reference).unwrap().expose_secret(), "scanned");
        drop(resolver);
        drop(conf);
    });
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        from_file, 0,
        "freed blocks with the token, from a kong.conf file"
    );

    // An AppRole secret id: sent in a login body, never left behind.
    let role = unique("scan-role");
    let (status, body) = bao.api(
        "POST",
        &format!("auth/approle/role/{role}"),
        Some(json!({"token_policies": [bao.read_policy()]})),
    );
    assert_eq!(status, 204, "{body}");
    let (_, body) = bao.api("GET", &format!("auth/approle/role/{role}/role-id"), None);
    let role_id = body["data"]["role_id"].as_str().unwrap().to_owned();
    let (status, body) = bao.api(
        "POST",
        &format!("auth/approle/role/{role}/custom-secret-id"),
        Some(json!({"secret_id": CANARY})),
    );
    assert_eq!(status, 200, "{body}");
    let approle = scanned(|| {
        let resolver = with_canary(
            Resolver::builder()
                .configure("hcv", "auth_method", "approle")
                .configure("hcv", "approle_role_id", role_id.as_str()),
            "approle_secret_id",
        );
        assert_eq!(resolver.get(&reference).unwrap().expose_secret(), "scanned");
        drop(resolver);
    });
    assert_eq!(approle, 0, "freed blocks with the AppRole secret id");
}
