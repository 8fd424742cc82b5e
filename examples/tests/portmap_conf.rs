//! netns-portmap's config parsing (examples/netns-portmap/conf.rs) and its
//! unit tests, compiled here (as tests/bridge_conf.rs does for
//! netns-bridge: an example with `test = true` would be built by `cargo
//! test` only as a test harness, not as the plugin binary the other tests
//! exec).

#[allow(dead_code)]
#[path = "../netns-portmap/conf.rs"]
mod conf;

netns_testutil::host_only!("unit tests of netns-portmap's config parsing, no kernel involved");
