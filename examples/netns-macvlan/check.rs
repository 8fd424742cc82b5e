//! CHECK and DEL (the reference's `cmdCheck`, `cmdDel`).

use std::net::IpAddr;

use netns_cni::error::gone_is_ok;
use netns_cni::{CmdArgs, CniResult, Error, Interface};
use netns_core::{AddrFilter, Handle, IpFamily, LinkData, RouteFilter};

use crate::conf;

fn fail(msg: impl std::fmt::Display) -> Error {
    Error::internal(msg)
}

/// The main routing table.
const TABLE_MAIN: u32 = 254;

/// CHECK: IPAM's, then the container interface of prevResult in
/// CNI_NETNS (a macvlan of the configured mode and, unlike the reference,
/// on the configured master), its addresses and routes.
pub fn check(args: &CmdArgs) -> Result<(), Error> {
    let n = conf::load(args)?;
    let cns = args.open_netns()?;
    if n.layer3 {
        netns_cni::ipam::check(args)?;
    }
    let Some(result) = args.prev_result()? else {
        return Err(fail("required prevResult missing"));
    };
    let empty = Interface::default();
    let want = result
        .interfaces
        .iter()
        .find(|i| i.name == args.ifname && i.sandbox.as_deref() == Some(args.netns.as_str()))
        .unwrap_or(&empty);
    if want.sandbox.as_deref() != Some(args.netns.as_str()) {
        return Err(fail(format!(
            "sandbox in prevResult {} doesn't match configured netns: {}",
            want.sandbox.as_deref().unwrap_or(""),
            args.netns
        )));
    }
    let container = cns.handle()?;
    let mode = conf::mode(&n.conf.mode)?;
    let link = container.link_get(want.name.as_str()).map_err(|_| {
        fail(format!(
            "container Interface name in prevResult: {} not found",
            want.name
        ))
    })?;
    let LinkData::MacVlan(d) = &link.data else {
        return Err(fail(format!(
            "error: Container interface {} not of type macvlan",
            link.name
        )));
    };
    if let Some(have) = d.mode {
        if have != mode {
            return Err(fail(format!(
                "container macvlan mode {have} does not match expected value: {mode}"
            )));
        }
    }
    // The master: the same link (the reference only checks that it
    // exists, which load did).
    if let Some(p) = link.parent {
        if p != n.master_index {
            return Err(fail(format!(
                "container interface {} is not on master {:?}",
                link.name, n.master
            )));
        }
    }
    if let Some(m) = &want.mac {
        let have = link.mac.map(|m| m.to_string()).unwrap_or_default();
        if !m.eq_ignore_ascii_case(&have) {
            return Err(fail(format!(
                "interface {} Mac {m} doesn't match container Mac: {have}",
                want.name
            )));
        }
    }
    check_ips(&container, &args.ifname, link.index, &result)?;
    check_routes(&container, &result)
}

fn fam(a: &IpAddr) -> IpFamily {
    if a.is_ipv4() {
        IpFamily::V4
    } else {
        IpFamily::V6
    }
}

/// `ValidateExpectedInterfaceIPs`: each address on the interface, with a
/// route to its prefix.
fn check_ips(
    container: &Handle,
    ifname: &str,
    index: u32,
    result: &CniResult,
) -> Result<(), Error> {
    for ip in &result.ips {
        let f = fam(&ip.address.addr());
        let addrs = container
            .addrs(&AddrFilter::new().link(index).family(f))
            .map_err(|_| fail("Cannot obtain List of IP Addresses"))?;
        if !addrs.iter().any(|a| a.prefix == ip.address) {
            return Err(fail(format!(
                "Failed to match addr {} on interface {ifname}",
                ip.address
            )));
        }
        let prefix = ip.address.trunc();
        let routes = container
            .routes(&RouteFilter::new().family(f).table(TABLE_MAIN))
            .map_err(|e| {
                fail(format!(
                    "Error {e} trying to find Gateway {} for interface {ifname}",
                    gw_text(ip.gateway)
                ))
            })?;
        if !routes.iter().any(|r| r.dst == prefix) {
            return Err(fail(format!(
                "Failed to find Gateway {} for interface {ifname}",
                gw_text(ip.gateway)
            )));
        }
    }
    Ok(())
}

fn gw_text(g: Option<IpAddr>) -> String {
    g.map(|g| g.to_string()).unwrap_or_else(|| "<nil>".into())
}

/// `ValidateExpectedRoute`: each route in the main table (a default route
/// by its destination alone, others by destination and gateway).
fn check_routes(container: &Handle, result: &CniResult) -> Result<(), Error> {
    let family_gw = |f: IpFamily| {
        result
            .ips
            .iter()
            .filter(|i| fam(&i.address.addr()) == f)
            .find_map(|i| i.gateway)
    };
    for r in &result.routes {
        let f = fam(&r.dst.addr());
        let routes = container
            .routes(&RouteFilter::new().family(f).table(TABLE_MAIN))
            .map_err(|e| {
                fail(format!(
                    "Expected Route {} not route table lookup error {e}",
                    r.dst
                ))
            })?;
        let is_default = r.dst.prefix_len() == 0;
        let gw = r.gw.or_else(|| family_gw(f));
        let found = routes
            .iter()
            .any(|k| k.dst == r.dst.trunc() && (is_default || k.gateway == gw));
        if !found {
            return Err(fail(format!(
                "Expected Route {{Dst:{} GW:{}}} not found in routing table",
                r.dst,
                gw_text(r.gw)
            )));
        }
    }
    Ok(())
}

/// DEL: IPAM's reservation, then the interface (gone is fine; a missing
/// namespace or an empty CNI_NETNS is fine). Like the reference, it needs
/// neither the master nor a valid `mode`.
pub fn del(args: &CmdArgs) -> Result<(), Error> {
    if !args.conf.ipam.plugin_type.is_empty() {
        netns_cni::ipam::del(args)?;
    }
    if let Some(cns) = args.open_netns_if_present()? {
        let container = cns.handle()?;
        if let Some(l) = gone_is_ok(container.link_get(args.ifname.as_str()))? {
            gone_is_ok(container.link_del(l.index))
                .map_err(|e| fail(format!("failed to delete {:?}: {e}", args.ifname)))?;
        }
    }
    Ok(())
}
