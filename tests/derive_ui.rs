//! Compile errors of `#[derive(ResolveSecrets)]`: each misuse has its own case in `tests/ui/`
//! with the committed compiler output beside it. Regenerate with `TRYBUILD=overwrite` after
//! reviewing the change.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
}
