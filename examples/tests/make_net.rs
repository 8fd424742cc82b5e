//! make-net, the Rust plugin (examples/make-net), under libcni: the tests of
//! tests/make_net_common (one list, shared with tests/make_net_go.rs, which
//! runs them for the Go make-net), on the host and in the VM tier (they need
//! only veth and network namespaces).

mod cni_common;
#[macro_use]
mod make_net_common;

use make_net_common::{Lang, Plugin};

/// target/<profile>/examples/make-net (built by `cargo test -p
/// netns-examples`), then our other plugins and the reference ones.
const RUST: Plugin = Plugin {
    lang: Lang::Rust,
    path: cni_common::our_path,
};

make_net_tests!(RUST);
