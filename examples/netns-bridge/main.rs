//! `netns-bridge`: a drop-in for the CNI reference `bridge` plugin
//! (containernetworking/plugins), built on netns-core and netns-cni.
//!
//! Same config keys, same kernel result, same result JSON: a conflist made
//! for the reference plugin works by changing only `"type"`. Keys:
//! `bridge` (default `cni0`), `isGateway`, `isDefaultGateway`,
//! `forceAddress`, `hairpinMode`, `promiscMode`, `mtu`, `vlan`,
//! `vlanTrunk`, `preserveDefaultVlan`, `enabledad`,
//! `disableContainerInterface`, `portIsolation`, `ipMasq`, `ipMasqBackend`,
//! `macspoofchk`, `ipam`, `dns`, and the MAC from CNI_ARGS `MAC`,
//! `args.cni.mac` or `runtimeConfig.mac`.
//!
//! `ipMasq` masquerades what the pod's addresses send, except to their
//! subnets and to multicast (the reference's rules), with netns-core's
//! [`Nat`](netns_core::Nat) in table `inet netns-nat` of the plugin's
//! namespace, owned by (network, container ID, interface). `ipMasqBackend`
//! (`iptables` or `nftables`, as the reference v1.5+ accepts) changes
//! nothing: netns-bridge speaks nftables netlink whichever is named, and
//! never execs iptables or nft; another value is the reference's error.
//! `macspoofchk` drops the frames the pod's port receives with a source MAC
//! other than the pod interface's, with netns-core's
//! [`MacSpoofCheck`](netns_core::MacSpoofCheck) in table `bridge
//! netns-macspoof` (the reference: rules in `bridge nat`, priority -300,
//! the same).
//!
//! ADD creates the bridge if needed (in the plugin's namespace), the veth
//! pair in one request on a netlink socket opened inside the container's
//! namespace (the container end under its final name, the host end
//! `vethXXXXXXXX` directly in the plugin's namespace), addresses and routes
//! from IPAM, the gateway address on the bridge, forwarding; it waits for
//! the port to come up and for IPv6 duplicate address detection with the
//! kernel's notifications instead of sleeping. IPAM `host-local` runs in
//! process (netns-ipam, on host-local's files); other IPAM plugins are
//! executed from CNI_PATH. DEL is idempotent (a gone interface or netns, an
//! empty CNI_NETNS) and releases IPAM; CHECK verifies against prevResult;
//! GC and STATUS go to IPAM. No thread switches namespace, nothing execs
//! `ip`.
//!
//! Where this differs from the reference (v1.1.1, the one Debian ships),
//! on purpose:
//! - an ADD that fails half-way removes the veth pair it made (the
//!   reference leaves it, plugins#29) and makes nothing at all when the
//!   container's namespace does not exist (the reference has created the
//!   bridge by then);
//! - the keys of later reference versions (`vlanTrunk`,
//!   `preserveDefaultVlan`, `disableContainerInterface`, `portIsolation`)
//!   with their meaning there: with `vlan`/`vlanTrunk` a port's default
//!   VLAN 1 is removed unless `preserveDefaultVlan`;
//! - the result's `dns` is the config's when set, else the IPAM plugin's
//!   (v1.1.1 drops IPAM's);
//! - CHECK without IPAM does not fail for want of an IPAM plugin; it does
//!   not compare the bridge's MAC (a port can change it); it finds routes
//!   that IPAM gave without a gateway (see `check.rs`);
//! - spec 1.1.0 configs, GC (IPAM's reservations, masquerades and MAC
//!   spoof checks of attachments not in `cni.dev/valid-attachments` are
//!   removed) and STATUS;
//! - DEL removes the masquerade and the MAC spoof check by their owner, so
//!   also when the netns is gone, CNI_NETNS is empty or the interface lost
//!   its addresses (the reference finds its rules from the addresses on
//!   the interface it deletes, and leaks them otherwise: plugins#810); an
//!   ADD that fails after either removes it (the reference leaks the
//!   masquerade of a failed ADD);
//! - CHECK also verifies the masquerade and the MAC spoof check (the
//!   reference's CHECK looks at neither);
//! - one masquerade chain per attachment excludes all of the pod's
//!   subnets (the reference's shared chain, with two addresses of one
//!   family, excludes only the first one's subnet).
//!
//! ```text
//! cargo build --release --examples   # target/release/examples/netns-bridge
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod add;
mod check;
mod conf;

use netns_cni::{CmdArgs, CniResult, Error, Plugin};
use netns_core::{MacSpoofCheck, Nat, NatOwner};

struct Bridge;

impl Plugin for Bridge {
    fn about(&self) -> String {
        format!("CNI netns-bridge plugin v{}", env!("CARGO_PKG_VERSION"))
    }

    fn add(&self, args: &CmdArgs) -> Result<CniResult, Error> {
        add::add(args)
    }

    fn del(&self, args: &CmdArgs) -> Result<(), Error> {
        check::del(args)
    }

    fn check(&self, args: &CmdArgs) -> Result<(), Error> {
        check::check(args)
    }

    fn gc(&self, args: &CmdArgs) -> Result<(), Error> {
        let n = conf::load(args)?;
        if n.conf.ip_masq || n.conf.macspoofchk {
            let valid: Vec<NatOwner> = args
                .valid_attachments()?
                .iter()
                .map(|a| NatOwner::new(&args.conf.name, &a.container_id, &a.ifname))
                .collect();
            if n.conf.ip_masq {
                Nat::new()?.gc(&args.conf.name, &valid)?;
            }
            if n.conf.macspoofchk {
                MacSpoofCheck::new()?.gc(&args.conf.name, &valid)?;
            }
        }
        netns_examples::plugin::ipam_gc(args)
    }

    fn status(&self, args: &CmdArgs) -> Result<(), Error> {
        // The config is checked first (an invalid one is STATUS's error).
        conf::load(args)?;
        netns_examples::plugin::ipam_status(args)
    }
}

fn main() {
    netns_cni::run(&Bridge)
}
