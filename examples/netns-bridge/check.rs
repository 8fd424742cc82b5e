//! CHECK and DEL.
//!
//! CHECK verifies what ADD made against `prevResult` (the reference's
//! `cmdCheck`): the bridge, the container interface in CNI_NETNS, the host
//! end of its pair on the bridge, every address on the container interface
//! with its prefix route, every route. Two deliberate differences: the
//! bridge's MAC is not compared (a bridge without an address of its own
//! takes its lowest port's MAC, so any later pod can change it, and the
//! reference's CHECK then fails: plugins#704), and a route without a
//! gateway is looked for via the gateway ADD installed it with (the
//! reference looks for it without one and never finds it). CHECK also
//! verifies the MAC spoof check and the masquerade ADD made (the
//! reference's looks at neither).

use netns_cni::error::gone_is_ok;
use netns_cni::{CmdArgs, Error, Interface};
use netns_core::{Handle, LinkFlags, LinkInfo, MacAddr, MacSpoofCheck, Nat, NatKind, NatOwner};
use netns_examples::plugin;

use crate::conf;

fn fail(msg: impl std::fmt::Display) -> Error {
    Error::internal(msg)
}

pub fn check(args: &CmdArgs) -> Result<(), Error> {
    let n = conf::load(args)?;
    let cns = args.open_netns()?;
    // The reference asks IPAM even when there is none, and fails.
    if n.layer3 {
        netns_cni::ipam::check(args)?;
    }
    let Some(result) = args.prev_result()? else {
        return Err(fail("Required prevResult missing"));
    };
    let host = Handle::new()?;
    let container = cns.handle()?;
    let empty = Interface::default();
    let br_want = result
        .interfaces
        .iter()
        .find(|i| i.name == n.conf.bridge)
        .unwrap_or(&empty);
    let cont_want = result
        .interfaces
        .iter()
        .find(|i| i.name == args.ifname && i.sandbox.as_deref() == Some(args.netns.as_str()))
        .unwrap_or(&empty);
    let br = check_bridge(&host, br_want, n.conf.promisc)?;
    if cont_want.sandbox.as_deref() != Some(args.netns.as_str()) {
        return Err(fail(format!(
            "Sandbox in prevResult {} doesn't match configured netns: {}",
            cont_want.sandbox.as_deref().unwrap_or(""),
            args.netns
        )));
    }
    let cont = check_container_iface(&container, cont_want)?;
    let mut host_veth = None;
    for intf in &result.interfaces {
        if intf.name == br_want.name || intf.name == cont_want.name {
            continue;
        }
        if check_host_veth(&host, intf, &br, &cont)? {
            host_veth = Some(intf.name.clone());
            break;
        }
    }
    let Some(host_veth) = host_veth else {
        return Err(fail(format!(
            "CNI veth created for bridge {} was not found",
            n.conf.bridge
        )));
    };
    plugin::check_ips(&container, &args.ifname, cont.index, &result)?;
    plugin::check_routes(&container, &result)?;
    let owner = NatOwner::new(&args.conf.name, &args.container_id, &args.ifname);
    if n.conf.macspoofchk {
        // The MAC ADD checked against: the result's, else the interface's.
        let mac = match cont_want.mac.as_deref().map(str::parse::<MacAddr>) {
            Some(Ok(m)) => Some(m),
            _ => cont.mac,
        };
        let Some(mac) = mac else {
            return Err(fail(format!("{} has no MAC address", args.ifname)));
        };
        let wrong = MacSpoofCheck::new()?.mismatches(&owner, &host_veth, mac)?;
        if !wrong.is_empty() {
            return Err(fail(format!("macspoofchk: {}", wrong.join("; "))));
        }
    }
    if n.layer3 && n.conf.ip_masq {
        let (sources, _) = crate::add::masquerade_args(&result);
        let wrong = Nat::new()?.masquerade_mismatches(&owner, &sources)?;
        if !wrong.is_empty() {
            return Err(fail(format!("ipMasq: {}", wrong.join("; "))));
        }
    }
    Ok(())
}

fn lookup(h: &Handle, intf: &Interface, in_sandbox: bool) -> Result<LinkInfo, Error> {
    if intf.name.is_empty() {
        return Err(fail("Interface name missing "));
    }
    let link = h
        .link_get(intf.name.as_str())
        .map_err(|_| fail(format!("Interface name {} not found", intf.name)))?;
    match (in_sandbox, intf.sandbox.is_some()) {
        (true, false) => Err(fail(format!(
            "Interface {} is expected to be in a sandbox",
            intf.name
        ))),
        (false, true) => Err(fail(format!(
            "Interface {} should not be in sandbox",
            intf.name
        ))),
        _ => Ok(link),
    }
}

fn mac_text(l: &LinkInfo) -> String {
    l.mac.map(|m| m.to_string()).unwrap_or_default()
}

fn check_bridge(host: &Handle, want: &Interface, promisc: bool) -> Result<LinkInfo, Error> {
    let br = lookup(host, want, false)?;
    if br.kind.as_deref() != Some("bridge") {
        return Err(fail(format!(
            "Interface {} does not have link type of bridge",
            want.name
        )));
    }
    let is_promisc = br.flags.contains(LinkFlags::PROMISC);
    if is_promisc != promisc {
        return Err(fail(format!(
            "Bridge interface {} configured Promisc Mode {promisc} doesn't match current state: {is_promisc} ",
            want.name
        )));
    }
    Ok(br)
}

fn check_container_iface(container: &Handle, want: &Interface) -> Result<LinkInfo, Error> {
    let link = lookup(container, want, true)?;
    if link.kind.as_deref() != Some("veth") {
        return Err(fail(format!(
            "Error: Container interface {} not of type veth",
            link.name
        )));
    }
    if link.parent.is_none() {
        return Err(fail(format!(
            "Unable to obtain veth peer index for veth {}",
            link.name
        )));
    }
    if let Some(m) = &want.mac {
        if *m != mac_text(&link) {
            return Err(fail(format!(
                "Interface {} Mac {m} doesn't match container Mac: {}",
                want.name,
                mac_text(&link)
            )));
        }
    }
    Ok(link)
}

/// Whether `intf` is the host end of the container's pair, on the bridge.
fn check_host_veth(
    host: &Handle,
    intf: &Interface,
    br: &LinkInfo,
    cont: &LinkInfo,
) -> Result<bool, Error> {
    let link = lookup(host, intf, false)?;
    if link.kind.as_deref() != Some("veth") {
        // Not one CNI made.
        return Ok(false);
    }
    let Some(peer) = link.parent else {
        return Err(fail(format!(
            "Unable to obtain veth peer index for veth {}",
            link.name
        )));
    };
    if cont.parent != Some(link.index) || peer != cont.index || link.controller != Some(br.index) {
        return Ok(false);
    }
    if let Some(m) = &intf.mac {
        if *m != mac_text(&link) {
            return Err(fail(format!(
                "Interface {} Mac doesn't match: {m} not found",
                intf.name
            )));
        }
    }
    Ok(true)
}

/// DEL: the container interface (gone is fine; a missing namespace or an
/// empty CNI_NETNS is fine), then the IPAM reservation, then the MAC spoof
/// check and the masquerade, by their owner (so whatever the state of the
/// namespace: the reference finds its masquerade from the addresses of
/// the interface it deletes, and leaks it when there is none,
/// plugins#810). The bridge stays, as the reference leaves it (others may
/// use it; removing it races with their ADDs: plugins#283).
pub fn del(args: &CmdArgs) -> Result<(), Error> {
    let n = conf::load(args)?;
    if let Some(cns) = args.open_netns_if_present()? {
        let container = cns.handle()?;
        if let Some(l) = gone_is_ok(container.link_get(args.ifname.as_str()))? {
            gone_is_ok(container.link_del(l.index))
                .map_err(|e| fail(format!("failed to delete {:?}: {e}", args.ifname)))?;
        }
    }
    if n.layer3 {
        netns_cni::ipam::del(args)?;
    }
    let owner = NatOwner::new(&args.conf.name, &args.container_id, &args.ifname);
    if n.conf.macspoofchk {
        MacSpoofCheck::new()?.remove(&owner)?;
    }
    // ADD masquerades only with IPAM; a config without it has nothing to
    // remove.
    if n.layer3 && n.conf.ip_masq {
        Nat::new()?.remove(&owner, NatKind::Masquerade)?;
    }
    Ok(())
}
