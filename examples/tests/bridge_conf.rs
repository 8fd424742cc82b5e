//! netns-bridge's config parsing (examples/netns-bridge/conf.rs) and its unit
//! tests, compiled here: an example with `test = true` is built by `cargo
//! test` only as a test harness, not as the plugin binary the other tests
//! exec, so the plugin keeps the default and its config tests live here.

#[allow(dead_code)]
#[path = "../netns-bridge/conf.rs"]
mod conf;

netns_testutil::host_only!("unit tests of netns-bridge's config parsing, no kernel involved");
