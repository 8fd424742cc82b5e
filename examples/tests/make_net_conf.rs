//! make-net's config parsing (examples/make-net/conf.rs) and its unit
//! tests, compiled here (an example's own tests would build it as a test
//! harness, not as the plugin binary the other tests exec).

#[allow(dead_code)]
#[path = "../make-net/conf.rs"]
mod conf;

netns_testutil::host_only!("unit tests of make-net's config parsing, no kernel involved");
