//! `netns-ipvlan`: a drop-in for the CNI reference `ipvlan` plugin
//! (containernetworking/plugins), built on netns-core and netns-cni.
//!
//! Same config keys, kernel result and result JSON: `master` (default:
//! chained after another plugin, the single interface of its result; else
//! the interface of the default route), `mode` (`l2`, the default, `l3`,
//! `l3s`), `mtu` (0 to the master's), `linkInContainer` (the master is in
//! the container's namespace, reference v1.2+), `ipam` (may be absent when
//! chained: the previous result's addresses are configured), `dns`.
//!
//! ADD makes the ipvlan directly in the container's namespace under
//! CNI_IFNAME (`netns_examples::sublink::create`); IPAM `host-local` runs
//! in process (other IPAM plugins are executed from CNI_PATH). DEL is
//! idempotent (a gone interface or netns, an empty CNI_NETNS) and releases
//! IPAM; CHECK verifies against prevResult; GC and STATUS go to IPAM. No
//! thread switches namespace, nothing execs `ip`.
//!
//! Where this differs from the reference (v1.1.1, the one Debian ships),
//! on purpose:
//! - an MTU above the master's, or negative, fails before anything is
//!   made, with macvlan's and vlan's message (the reference hands a
//!   positive one to the kernel, which makes the ipvlan with an MTU above
//!   its master's, and drops a negative one);
//! - DEL needs no master: the reference's looks for the default route's
//!   interface when `master` is absent and it has no prevResult (a
//!   runtime without its cache; a repeated DEL, libcni having dropped the
//!   cached result with the first), and fails without one;
//! - a name taken in the container fails before anything is made; the link
//!   is never in the plugin's namespace;
//! - CHECK also checks that the interface is on the configured master,
//!   and passes with the default route's master or chained (the
//!   reference's CHECK looks up a master named "" then, and fails);
//! - an ADD that fails after IPAM removes the link and releases the
//!   address (the reference leaks both);
//! - `ndisc_notify` as well as `arp_notify` (reference v1.2+),
//!   `linkInContainer` (v1.2+), GC and STATUS, spec 1.1.0.
//!
//! ```text
//! cargo build --release --examples   # target/release/examples/netns-ipvlan
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod conf;

use netns_cni::{CmdArgs, CniResult, Error, Plugin};
use netns_core::{LinkData, LinkSpec};
use netns_examples::{plugin, sublink};

struct IpVlan;

impl Plugin for IpVlan {
    fn about(&self) -> String {
        format!("CNI netns-ipvlan plugin v{}", env!("CARGO_PKG_VERSION"))
    }

    fn add(&self, args: &CmdArgs) -> Result<CniResult, Error> {
        let n = conf::load(args)?;
        let spec = |name: &str| {
            let s = LinkSpec::ipvlan(name, n.master_index, n.mode);
            match n.mtu {
                Some(m) => s.mtu(m),
                None => s,
            }
        };
        // Chained without IPAM: the previous result's addresses, if it has
        // any; else IPAM's (which fails when none is configured, as the
        // reference's).
        let from = match n.prev {
            Some(p) if args.conf.ipam.plugin_type.is_empty() && !p.ips.is_empty() => {
                sublink::Addresses::Given(p)
            }
            _ => sublink::Addresses::Ipam,
        };
        sublink::add(args, "ipvlan", n.conf.link_in_container, &spec, from, true)
    }

    fn del(&self, args: &CmdArgs) -> Result<(), Error> {
        sublink::del(args)
    }

    /// CHECK: IPAM's (if configured), then the container interface of
    /// prevResult in CNI_NETNS (an ipvlan of the configured mode on the
    /// configured master: any master when chained without `master`), its
    /// addresses and routes.
    fn check(&self, args: &CmdArgs) -> Result<(), Error> {
        let (mode, master) = conf::load_check(args)?;
        let cns = args.open_netns()?;
        if !args.conf.ipam.plugin_type.is_empty() {
            netns_cni::ipam::check(args)?;
        }
        let (result, want) = sublink::prev_interface(args, "Required prevResult missing")?;
        let container = cns.handle()?;
        // Chained without `master`: the link's own master, whatever it is.
        let (name, index) = master.unwrap_or_else(|| {
            let parent = container
                .link_get(want.name.as_str())
                .ok()
                .and_then(|l| l.parent);
            (String::new(), parent.unwrap_or(0))
        });
        let link = sublink::check_link(&container, &want, index, &name, "")?;
        let LinkData::IpVlan(d) = &link.data else {
            return Err(Error::internal(format!(
                "Error: Container interface {} not of type ipvlan",
                link.name
            )));
        };
        if let Some(have) = d.mode {
            if have != mode {
                return Err(Error::internal(format!(
                    "Container IPVlan mode {have} does not match expected value: {mode}"
                )));
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
    netns_cni::run(&IpVlan)
}
