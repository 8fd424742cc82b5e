//! `netns-vlan`: a drop-in for the CNI reference `vlan` plugin
//! (containernetworking/plugins), built on netns-core and netns-cni.
//!
//! Same config keys, kernel result and result JSON: `master` (required:
//! the trunk the 802.1Q sub-interface is made on), `vlanId`, `mtu` (0 to
//! the master's), `linkInContainer` (the master is in the container's
//! namespace, reference v1.2+), `ipam`, `dns`.
//!
//! ADD makes the VLAN link directly in the container's namespace under
//! CNI_IFNAME (`netns_examples::sublink::create`); IPAM `host-local` runs
//! in process (other IPAM plugins are executed from CNI_PATH). DEL is
//! idempotent (a gone interface or netns, an empty CNI_NETNS) and releases
//! IPAM; CHECK verifies against prevResult; GC and STATUS go to IPAM. No
//! thread switches namespace, nothing execs `ip`.
//!
//! Where this differs from the reference (v1.1.1, the one Debian ships,
//! and upstream's main), on purpose:
//! - `vlanId` must be 1-4094: the reference also takes 0, and so a config
//!   without `vlanId` (see `conf::parse`);
//! - DEL succeeds when the master is gone: the reference's DEL looks the
//!   master up first and fails, and the pod cannot be removed;
//! - without `ipam` the link is only brought up (layer 2 only, as
//!   macvlan's); the reference fails ADD, after it made the link;
//! - a name taken in the container fails before anything is made; the link
//!   is never in the plugin's namespace (the reference makes it under a
//!   temporary name in the container and renames it);
//! - CHECK checks that the interface is on the configured master (the
//!   reference's check is commented out) and words a VLAN id mismatch as
//!   one (the reference's message speaks of `promisc`);
//! - `linkInContainer` (reference v1.2+), GC and STATUS, spec 1.1.0.
//!
//! ```text
//! cargo build --release --examples   # target/release/examples/netns-vlan
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod conf;

use netns_cni::{CmdArgs, CniResult, Error, Plugin};
use netns_core::{LinkData, LinkSpec};
use netns_examples::{plugin, sublink};

struct Vlan;

impl Plugin for Vlan {
    fn about(&self) -> String {
        format!("CNI netns-vlan plugin v{}", env!("CARGO_PKG_VERSION"))
    }

    fn add(&self, args: &CmdArgs) -> Result<CniResult, Error> {
        let n = conf::load(args)?;
        let spec = |name: &str| {
            let s = LinkSpec::vlan(name, n.master_index, n.vlan_id);
            match n.mtu {
                Some(m) => s.mtu(m),
                None => s,
            }
        };
        let from = sublink::Addresses::ipam_if_configured(args);
        // The reference vlan sets neither arp_notify nor ndisc_notify.
        sublink::add(args, "vlan", n.conf.link_in_container, &spec, from, false)
    }

    fn del(&self, args: &CmdArgs) -> Result<(), Error> {
        sublink::del(args)
    }

    /// CHECK: IPAM's, then the container interface of prevResult in
    /// CNI_NETNS (a VLAN link on the configured master, of the configured
    /// id and MTU), its addresses and routes.
    fn check(&self, args: &CmdArgs) -> Result<(), Error> {
        let n = conf::load(args)?;
        let cns = args.open_netns()?;
        if n.layer3 {
            netns_cni::ipam::check(args)?;
        }
        let (result, want) = sublink::prev_interface(args, "vlan: Required prevResult missing")?;
        let container = cns.handle()?;
        let link =
            sublink::check_link(&container, &want, n.master_index, &n.conf.master, "vlan: ")?;
        let fail = |m: String| Err(Error::internal(m));
        let LinkData::Vlan(d) = &link.data else {
            return fail(format!(
                "Error: Container interface {} not of type vlan",
                link.name
            ));
        };
        if d.id != n.vlan_id {
            return fail(format!(
                "Error: link {} configured VLAN id is {}, current value is {}",
                link.name, n.vlan_id, d.id
            ));
        }
        if let Some(m) = n.mtu {
            if m != link.mtu {
                return fail(format!(
                    "Error: Tuning configured MTU of {} is {m}, current value is {}",
                    link.name, link.mtu
                ));
            }
        }
        sublink::check_l3(&container, args, &link, &result)
    }

    fn gc(&self, args: &CmdArgs) -> Result<(), Error> {
        plugin::ipam_gc(args)
    }

    fn status(&self, args: &CmdArgs) -> Result<(), Error> {
        plugin::ipam_status(args)
    }
}

fn main() {
    netns_cni::run(&Vlan)
}
