//! include/netns.h must be exactly what cbindgen generates from this crate.
//! Regenerate with `NETNS_BLESS=1 cargo test -p netns-ffi --test header`.

netns_testutil::host_only!("header drift check (cbindgen), no kernel involved");

use std::path::PathBuf;

#[test]
fn checked_in_header_matches_a_fresh_generation() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let header = crate_dir.join("../include/netns.h");
    if std::env::var_os("NETNS_BLESS").is_some() {
        std::fs::write(&header, &fresh).unwrap();
    }
    let checked_in = std::fs::read(&header).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "include/netns.h is out of date: regenerate it with \
         `NETNS_BLESS=1 cargo test -p netns-ffi --test header` and commit it"
    );
}
