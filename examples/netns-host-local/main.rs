//! `netns-host-local`: a drop-in replacement for the CNI reference
//! `host-local` IPAM plugin, built on netns-ipam and netns-cni.
//!
//! Install it as `host-local` (or under its own name and set `ipam.type`):
//! a runtime or a main plugin (bridge, macvlan...) delegates to it exactly as
//! to host-local. Same config, same CNI_* environment, same data directory
//! (`ipam.dataDir`, default /var/lib/cni/networks) and files, so the two can
//! even share a directory. Commands: ADD, DEL, CHECK, GC, STATUS, VERSION;
//! CNI versions 0.1.0 to 1.1.0, results in the requested version's format,
//! errors as the spec's JSON on stdout with the CNI error codes and exit
//! status 1. Like host-local it ignores `ipam.type`.
//!
//! The plugin is [`netns_cni::ipam::host_local`] behind netns-cni's
//! skeleton: main plugins built on netns-cni (netns-bridge) run the same
//! code in process instead of executing this binary.
//!
//! ```text
//! cargo build --release --example netns-host-local
//! CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/x CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin \
//!   target/release/examples/netns-host-local <<< \
//!   '{"cniVersion":"1.0.0","name":"n","ipam":{"type":"host-local","subnet":"10.0.0.0/24","dataDir":"/tmp/d"}}'
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use netns_cni::ipam::host_local;
use netns_cni::{CmdArgs, CniResult, Error, Plugin};

struct HostLocal;

impl Plugin for HostLocal {
    fn about(&self) -> String {
        format!(
            "CNI netns-host-local plugin (netns-ipam) v{}",
            env!("CARGO_PKG_VERSION")
        )
    }

    // An IPAM plugin does not touch CNI_NETNS.
    fn uses_netns(&self) -> bool {
        false
    }

    fn add(&self, args: &CmdArgs) -> Result<CniResult, Error> {
        let r = host_local::add(args)?;
        // Reserved, the result not printed yet (tests only).
        netns_examples::fault::point("reserved");
        Ok(r)
    }

    fn del(&self, args: &CmdArgs) -> Result<(), Error> {
        host_local::del(args)
    }

    fn check(&self, args: &CmdArgs) -> Result<(), Error> {
        host_local::check(args)
    }

    fn gc(&self, args: &CmdArgs) -> Result<(), Error> {
        host_local::gc(args)
    }

    fn status(&self, args: &CmdArgs) -> Result<(), Error> {
        host_local::status(args)
    }
}

fn main() {
    netns_cni::run(&HostLocal)
}
