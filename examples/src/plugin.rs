//! What the CNI plugins among the examples (`netns-bridge`,
//! `netns-macvlan`) share: the container side of ADD once IPAM answered
//! (the reference's `ipam.ConfigureIface`), the address and route checks
//! of CHECK (`ip.ValidateExpectedInterfaceIPs`, `ip.ValidateExpectedRoute`),
//! GC and STATUS through IPAM, and Go's `net.ParseMAC` for a 6-byte MAC.
//!
//! Every error is [`Error::internal`] with the reference's message, as the
//! plugins had it.

use std::net::IpAddr;
use std::time::Duration;

use netns_cni::{CmdArgs, CniResult, Error, Route};
use netns_core::{
    AddrFilter, AddrSpec, Handle, IpFamily, MacAddr, RouteFilter, RouteProtocol, RouteSpec, Scope,
};

/// The main routing table.
const TABLE_MAIN: u32 = 254;

/// How long IPv6 duplicate address detection may take (the reference's
/// SettleAddresses timeout).
const DAD_TIMEOUT: Duration = Duration::from_secs(10);

fn fail(msg: impl std::fmt::Display) -> Error {
    Error::internal(msg)
}

fn fam(a: &IpAddr) -> IpFamily {
    if a.is_ipv4() {
        IpFamily::V4
    } else {
        IpFamily::V6
    }
}

fn gw_text(g: Option<IpAddr>) -> String {
    g.map(|g| g.to_string()).unwrap_or_else(|| "<nil>".into())
}

/// `ipam.ConfigureIface`: the addresses of `result` on the container's
/// interface `index` (named `ifname`), the link up, IPv6 settled when there
/// is an IPv6 gateway, then the routes (via the family's gateway when a
/// route has none). An address without an interface index is skipped; one
/// whose index does not name `ifname` in `result.interfaces` fails.
/// `prog` prefixes the warning printed when duplicate address detection
/// does not finish (not an error, as in the reference).
pub fn configure_iface(
    container: &Handle,
    ifname: &str,
    index: u32,
    result: &CniResult,
    prog: &str,
) -> Result<(), Error> {
    let (mut gw4, mut gw6) = (None, None);
    for ip in &result.ips {
        let Some(i) = ip.interface else {
            continue;
        };
        if result.interfaces.get(i).map(|f| f.name.as_str()) != Some(ifname) {
            return Err(fail(format!(
                "failed to add IP addr {} to {ifname:?}: invalid interface index",
                ip.address
            )));
        }
        let mut spec = AddrSpec::new(index, ip.address);
        if ip.address.addr().is_ipv4() {
            spec = spec.broadcast_auto();
        }
        container.addr_add(&spec).map_err(|e| {
            fail(format!(
                "failed to add IP addr {} to {ifname:?}: {e}",
                ip.address
            ))
        })?;
        crate::fault::point("address");
        match ip.gateway {
            Some(g @ IpAddr::V4(_)) if gw4.is_none() => gw4 = Some(g),
            Some(g @ IpAddr::V6(_)) if gw6.is_none() => gw6 = Some(g),
            _ => {}
        }
    }
    container
        .link_set_up(index)
        .map_err(|e| fail(format!("failed to set {ifname:?} UP: {e}")))?;
    crate::fault::point("link-up");
    if gw6.is_some() {
        // As the reference, a DAD that does not finish is not an error.
        if let Err(e) = container.wait_addrs_settled(index, DAD_TIMEOUT) {
            eprintln!("{prog}: {e}");
        }
    }
    for r in &result.routes {
        let gw = r.gw.or(if r.dst.addr().is_ipv4() { gw4 } else { gw6 });
        let mut spec = route_spec(r, index);
        spec.gateway = gw;
        container.route_add(&spec).map_err(|e| {
            fail(format!(
                "failed to add route '{} via {} dev {ifname}': {e}",
                r.dst,
                gw_text(gw)
            ))
        })?;
        crate::fault::point("route");
    }
    Ok(())
}

/// A result route as the reference's netlink library adds it: the
/// interface, scope universe, protocol boot, table main.
fn route_spec(r: &Route, index: u32) -> RouteSpec {
    let mut spec = RouteSpec::new(r.dst)
        .link(index)
        .scope(Scope::GLOBAL)
        .protocol(RouteProtocol::BOOT);
    if let Some(m) = r.priority.and_then(|p| u32::try_from(p).ok()) {
        spec = spec.metric(m);
    }
    if let Some(t) = r.table.and_then(|t| u32::try_from(t).ok()) {
        spec = spec.table(t);
    }
    if let Some(s) = r.scope.and_then(|s| u8::try_from(s).ok()) {
        spec = spec.scope(Scope(s));
    }
    spec
}

/// `ValidateExpectedInterfaceIPs`: each address of `result` on the
/// container's interface `index` (named `ifname`), with a route to its
/// prefix in the main table.
pub fn check_ips(
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

/// `ValidateExpectedRoute`: each route of `result` in the container's main
/// table (a default route by its destination alone, others by destination
/// and gateway; a route without a gateway via its family's first gateway,
/// as ADD installed it).
pub fn check_routes(container: &Handle, result: &CniResult) -> Result<(), Error> {
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

/// GC through IPAM: its reservations of attachments not in
/// `cni.dev/valid-attachments` (nothing without IPAM).
pub fn ipam_gc(args: &CmdArgs) -> Result<(), Error> {
    if args.conf.ipam.plugin_type.is_empty() {
        Ok(())
    } else {
        netns_cni::ipam::gc(args)
    }
}

/// STATUS through IPAM (ready without IPAM).
pub fn ipam_status(args: &CmdArgs) -> Result<(), Error> {
    if args.conf.ipam.plugin_type.is_empty() {
        Ok(())
    } else {
        netns_cni::ipam::status(args)
    }
}

/// A MAC as Go's `net.ParseMAC` reads a 6-byte one (`aa:bb:cc:dd:ee:ff`,
/// `aa-bb-cc-dd-ee-ff`, `aabb.ccdd.eeff`, either case); `None` for
/// anything else.
pub fn parse_mac(s: &str) -> Option<MacAddr> {
    let hex = |p: &str| -> Option<Vec<u8>> {
        if p.len() % 2 != 0 {
            return None;
        }
        (0..p.len())
            .step_by(2)
            .map(|i| p.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
            .collect()
    };
    let bytes: Vec<u8> = if s.len() == 17 && (s.contains(':') || s.contains('-')) {
        let sep = if s.contains(':') { ':' } else { '-' };
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() != 6 || parts.iter().any(|p| p.len() != 2) {
            return None;
        }
        hex(&parts.concat())?
    } else if s.len() == 14 {
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.len() != 4) {
            return None;
        }
        hex(&parts.concat())?
    } else {
        return None;
    };
    let a: [u8; 6] = bytes.try_into().ok()?;
    Some(MacAddr(a))
}

/// That the container has no link named `ifname` yet: `taken()` when it
/// has, the lookup's own error when the lookup fails.
pub fn ensure_absent(
    container: &Handle,
    ifname: &str,
    taken: impl FnOnce() -> Error,
) -> Result<(), Error> {
    match container.link_get(ifname) {
        Ok(_) => Err(taken()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}
