//! `netns-portmap`: a drop-in for the CNI reference `portmap` plugin
//! (containernetworking/plugins v1.1.1), on netns-core's NAT layer
//! ([`netns_core::Nat`], nftables over netlink in table `inet netns-nat`)
//! instead of iptables.
//!
//! A chained plugin (prevResult required) with capability
//! `{"portMappings": true}`: `runtimeConfig.portMappings` entries
//! `{hostPort, containerPort, protocol, hostIP}`; keys `snat` (default
//! true), `masqAll`, `markMasqBit`, `externalSetMarkChain`,
//! `conditionsV4`, `conditionsV6`.
//!
//! - **ADD**: the container's addresses are the reference's (the first
//!   IPv4 and IPv6 address of prevResult not of a known non-sandbox
//!   interface); every mapping becomes a forward to each address of its
//!   family, in one [`Nat::port_forward_if`] call for the attachment
//!   (network name, CNI_CONTAINERID, CNI_IFNAME), with hairpin masquerade
//!   from the pod's subnets and loopback (`snat`), of everything
//!   (`masqAll`) or off (`snat: false`). With `snat` and an IPv4 address,
//!   `route_localnet=1` on the host interface routing to the pod (so
//!   127.0.0.1:hostPort works from the host), as the reference. Then the
//!   UDP conntrack entries of each UDP host port are deleted (stale ones
//!   would keep sending to the host). prevResult is passed through. No
//!   mappings: prevResult through, nothing written.
//! - **DEL**: [`Nat::remove`] of the attachment's forwards (idempotent;
//!   neither the namespace nor prevResult is needed) and the UDP conntrack
//!   entries of the UDP host ports it is told about.
//! - **CHECK**: [`Nat::port_forward_mismatches`]; each difference named.
//! - **GC** (1.1.0): [`Nat::gc`] of the network's attachments not in
//!   `cni.dev/valid-attachments`. **STATUS**: ready.
//!
//! Order and what a failure leaves: the forwards are written in one
//! transaction (all or nothing, also under SIGKILL); `route_localnet`
//! after them, and its failure removes them again; conntrack deletion
//! last (its failure is only logged, as the reference). A kill after the
//! forwards were written leaves them for the DEL the runtime sends;
//! `route_localnet`, once 1, stays 1 (also after DEL, as the reference:
//! the interface is the bridge other pods share).
//!
//! Where this differs from the reference, on purpose:
//! - bad input is refused before anything is written, with a clear
//!   message and the reference's code 999: a port of 0 or above 65535, an
//!   unknown protocol (the reference's iptables refuses these half-way,
//!   leaving its chains), an unparsable hostIP or one of a family the pod
//!   has no address of (the reference drops such a mapping silently), a
//!   host port mapped twice (the reference writes both, the first wins);
//! - a missing or empty `protocol` is tcp (the reference passes `-p ""`
//!   to iptables, which refuses it);
//! - a host port another attachment forwards is refused (EEXIST, code
//!   999, naming the port) instead of last-write-wins;
//! - `conditionsV4`/`conditionsV6` take the subset `[!] -s/--source CIDR`,
//!   `[!] -d/--destination CIDR`, `[!] -i/--in-interface NAME`,
//!   `[!] -o/--out-interface NAME` (one address or prefix of the list's
//!   family, exact interface names), turned into nftables matches on each
//!   forward of that family; anything else is refused, naming it (the
//!   reference pastes any text into its iptables rule);
//! - `masqAll` (a key of later reference versions; v1.1.1 ignores it) has
//!   its later meaning: every forwarded connection is masqueraded;
//! - `markMasqBit` and `externalSetMarkChain` are checked as the
//!   reference checks them (0 to 31; not both) but mark nothing: the
//!   masquerade is done directly by the attachment's hairpin chain;
//! - DEL removes everything ADD made, the table with the last attachment
//!   (the reference leaves its shared chains), and also deletes the UDP
//!   conntrack entries of the host ports; CHECK compares the map elements
//!   and rules and passes after a good ADD (the reference's CHECK also
//!   looks in ip6tables for an IPv4 pod's rules, and fails); GC and STATUS
//!   (spec 1.1.0).
//!
//! Test-only fault hook: with `NETNS_TEST_KILL_AT=<step>` in its
//! environment the plugin SIGKILLs itself at that step of ADD:
//! `before-nat`, `after-nat`, `after-localnet`, `after-conntrack`, or
//! at the N-th with `NETNS_TEST_KILL_AT=N` (every plugin of ours has the
//! numbered form: `netns_examples::fault`).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod conf;

use netns_cni::{CmdArgs, CniResult, Error, Plugin};
use netns_core::{
    conntrack::Conntrack, CtFilter, Handle, IpFamily, Nat, NatConditions, NatKind, NatOwner,
    NatProto, NetNs, Sysctl, SysctlConf,
};

/// A step of ADD: SIGKILL here if `NETNS_TEST_KILL_AT` names it, by name
/// (`before-nat`, `after-nat`, `after-localnet`, `after-conntrack`) or
/// number (tests only, see [`netns_examples::fault`]).
fn kill_point(step: &str) {
    netns_examples::fault::point(step);
}

fn owner(args: &CmdArgs) -> NatOwner {
    NatOwner::new(&args.conf.name, &args.container_id, &args.ifname)
}

struct Portmap;

impl Plugin for Portmap {
    fn about(&self) -> String {
        format!("CNI netns-portmap plugin v{}", env!("CARGO_PKG_VERSION"))
    }

    fn uses_netns(&self) -> bool {
        // Everything is done in the plugin's own namespace; the container's
        // is not even opened.
        false
    }

    fn add(&self, args: &CmdArgs) -> Result<CniResult, Error> {
        add(args)
    }

    fn del(&self, args: &CmdArgs) -> Result<(), Error> {
        del(args)
    }

    fn check(&self, args: &CmdArgs) -> Result<(), Error> {
        check(args)
    }

    fn gc(&self, args: &CmdArgs) -> Result<(), Error> {
        let owners: Vec<NatOwner> = args
            .valid_attachments()?
            .iter()
            .map(|a| NatOwner::new(&args.conf.name, &a.container_id, &a.ifname))
            .collect();
        Nat::new()?.gc(&args.conf.name, &owners)?;
        Ok(())
    }
}

fn add(args: &CmdArgs) -> Result<CniResult, Error> {
    let conf = conf::load(args)?;
    let Some(prev) = args.prev_result()? else {
        return Err(Error::internal("must be called as chained plugin"));
    };
    if conf.mappings.is_empty() {
        return Ok(prev);
    }
    let (v4, v6) = conf::container_ips(&prev, &args.ifname);
    if v4.is_none() && v6.is_none() {
        // No address of the container's interface: nothing to forward to,
        // as the reference.
        return Ok(prev);
    }
    let forwards = conf::forwards(&conf, v4, v6, &args.ifname)?;
    let hairpin = conf::hairpin(&conf, v4, v6);
    let conditions = NatConditions {
        v4: conf.conditions_v4.clone(),
        v6: conf.conditions_v6.clone(),
    };
    let owner = owner(args);
    let nat = Nat::new()?;
    kill_point("before-nat");
    nat.port_forward_if(&owner, &forwards, &hairpin, &conditions)
        .map_err(|e| {
            if e.is_exists() {
                Error::internal(format!(
                    "a host port of {} is forwarded by another attachment already (nothing was written): {e}",
                    list_ports(&forwards)
                ))
            } else {
                Error::from(e).context("unable to set up the port forwards")
            }
        })?;
    kill_point("after-nat");
    if conf.snat {
        if let Some(pod) = v4 {
            if let Err(e) = enable_localnet(pod.addr()) {
                let _ = nat.remove(&owner, NatKind::PortForward);
                return Err(e.context("unable to enable route_localnet"));
            }
        }
    }
    kill_point("after-localnet");
    let udp: Vec<u16> = conf
        .mappings
        .iter()
        .filter(|m| m.proto == NatProto::Udp)
        .map(|m| m.host_port)
        .collect();
    let families: Vec<IpFamily> = [(v4, IpFamily::V4), (v6, IpFamily::V6)]
        .into_iter()
        .filter_map(|(a, f)| a.map(|_| f))
        .collect();
    flush_udp(&families, &udp);
    kill_point("after-conntrack");
    Ok(prev)
}

fn list_ports(forwards: &[netns_core::PortForward]) -> String {
    let mut v: Vec<String> = forwards
        .iter()
        .map(|f| match f.host_ip {
            Some(h) => format!("{h}:{}/{}", f.host_port, f.proto),
            None => format!("{}/{}", f.host_port, f.proto),
        })
        .collect();
    v.dedup();
    v.join(", ")
}

/// `route_localnet=1` on the interface that routes to `pod` (the
/// reference's getRoutableHostIF), when it is not 1 already.
fn enable_localnet(pod: std::net::IpAddr) -> Result<(), Error> {
    let h = Handle::new()?;
    let Ok(route) = h.route_get(pod) else {
        // The reference skips the sysctl when there is no route.
        return Ok(());
    };
    let Some(index) = route.link_index else {
        return Ok(());
    };
    let link = h.link_get(index)?;
    let ns = NetNs::current()?;
    let key = Sysctl::RouteLocalnet(SysctlConf::link(link.name.clone()));
    if ns.sysctl_get(&key)? != 1 {
        ns.sysctl_set(&key, 1)?;
    }
    Ok(())
}

/// Delete the UDP conntrack entries to `ports` (as original destination
/// port), in `families`; failures are only logged, as the reference does.
fn flush_udp(families: &[IpFamily], ports: &[u16]) {
    if ports.is_empty() || families.is_empty() {
        return;
    }
    let ct = match Conntrack::new() {
        Ok(ct) => ct,
        Err(e) => {
            eprintln!("netns-portmap: failed to delete stale UDP conntrack entries: {e}");
            return;
        }
    };
    for f in families {
        for p in ports {
            let filter = CtFilter::new(*f).proto(17).orig_dport(*p);
            if let Err(e) = ct.delete(&filter) {
                eprintln!(
                    "netns-portmap: failed to delete stale UDP conntrack entries of port {p}: {e}"
                );
            }
        }
    }
}

fn del(args: &CmdArgs) -> Result<(), Error> {
    let udp = conf::udp_ports_for_del(args)?;
    Nat::new()?
        .remove(&owner(args), NatKind::PortForward)
        .map_err(|e| Error::from(e).context("could not tear down the port forwards"))?;
    flush_udp(&[IpFamily::V4, IpFamily::V6], &udp);
    Ok(())
}

fn check(args: &CmdArgs) -> Result<(), Error> {
    let conf = conf::load(args)?;
    let Some(prev) = args.prev_result()? else {
        return Err(Error::internal("Required prevResult missing"));
    };
    if conf.mappings.is_empty() {
        return Ok(());
    }
    let (v4, v6) = conf::container_ips(&prev, &args.ifname);
    if v4.is_none() && v6.is_none() {
        return Ok(());
    }
    let forwards = conf::forwards(&conf, v4, v6, &args.ifname)?;
    let hairpin = conf::hairpin(&conf, v4, v6);
    let wrong = Nat::new()?.port_forward_mismatches(&owner(args), &forwards, &hairpin)?;
    if !wrong.is_empty() {
        return Err(Error::internal(format!(
            "port forwards of {} are not as ADD made them: {}",
            owner(args),
            wrong.join("; ")
        )));
    }
    Ok(())
}

fn main() {
    netns_cni::run(&Portmap)
}
