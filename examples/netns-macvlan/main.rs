//! `netns-macvlan`: a drop-in for the CNI reference `macvlan` plugin
//! (containernetworking/plugins), built on netns-core and netns-cni.
//!
//! Same config keys, kernel result and result JSON: `master` (default: the
//! interface of the default route, the first route of the main table
//! without a destination), `mode` (`bridge`, the default, `private`,
//! `vepa`, `passthru`), `mtu` (0 to the master's), `mac` (and CNI_ARGS
//! `MAC`, `runtimeConfig.mac`), `linkInContainer` (the master is in the
//! container's namespace, reference v1.2+), `ipam` (may be absent: the
//! interface is only brought up, layer 2 only), `dns`.
//!
//! ADD makes the macvlan directly in the container's namespace under
//! CNI_IFNAME (see `add.rs`); IPAM `host-local` runs in process (other IPAM
//! plugins are executed from CNI_PATH). DEL is idempotent (a gone
//! interface or netns, an empty CNI_NETNS) and releases IPAM; CHECK
//! verifies against prevResult; GC and STATUS go to IPAM. No thread
//! switches namespace, nothing execs `ip`.
//!
//! Where this differs from the reference (v1.1.1, the one Debian ships),
//! on purpose:
//! - a name taken in the container fails before anything is made, with
//!   the reference's message; the link is never in the plugin's namespace
//!   (the reference makes it under a temporary name in the container and
//!   renames it);
//! - an ADD that fails after IPAM releases the address and removes the
//!   macvlan (the reference's clean-up tests an `err` that a shadowing
//!   `:=` leaves nil: it leaks the macvlan, and the master stays
//!   promiscuous);
//! - the macvlan's txqueuelen is the kernel's default, the master's
//!   (v1.1.1 sends 0, a zero struct field, fixed upstream in 1.6.0);
//! - CHECK also checks that the interface is on the configured master
//!   (the reference only checks that the master exists);
//! - `linkInContainer` (reference v1.2+), GC and STATUS, spec 1.1.0.
//!
//! ```text
//! cargo build --release --examples   # target/release/examples/netns-macvlan
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod add;
mod check;
mod conf;

use netns_cni::{CmdArgs, CniResult, Error, Plugin};

struct MacVlan;

impl Plugin for MacVlan {
    fn about(&self) -> String {
        format!("CNI netns-macvlan plugin v{}", env!("CARGO_PKG_VERSION"))
    }

    fn add(&self, args: &CmdArgs) -> Result<CniResult, Error> {
        add::add(args)
    }

    fn del(&self, args: &CmdArgs) -> Result<(), Error> {
        netns_examples::sublink::del(args)
    }

    fn check(&self, args: &CmdArgs) -> Result<(), Error> {
        check::check(args)
    }

    fn gc(&self, args: &CmdArgs) -> Result<(), Error> {
        netns_examples::plugin::ipam_gc(args)
    }

    fn status(&self, args: &CmdArgs) -> Result<(), Error> {
        netns_examples::plugin::ipam_status(args)
    }
}

fn main() {
    netns_cni::run(&MacVlan)
}
