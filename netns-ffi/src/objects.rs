//! Links, addresses and routes through a `netns_handle`.

use std::ffi::c_char;

use netns_core::{LinkChanges, LinkKind, LinkSpec, VxlanSpec};

use crate::{
    boundary, netns_error, netns_handle, netns_string_list, obj, open_ns, opt_str, out_ptr,
    parse_macvlan_mode, req_str, spec_for, string_list, FfiResult,
};

pub(crate) fn with_handle(
    h: *const netns_handle,
    err: *mut *mut netns_error,
    f: impl FnOnce(&netns_core::Handle) -> FfiResult,
) -> i32 {
    boundary(err, || f(&obj(h, "h")?.h))
}

/// Create a veth pair `name` / `peer_name`; the peer is created directly in
/// the namespace at `peer_netns_path` when it is not NULL. Like
/// `ip link add NAME type veth peer name PEER [netns NS]`.
#[no_mangle]
pub extern "C" fn netns_link_add_veth(
    h: *const netns_handle,
    name: *const c_char,
    peer_name: *const c_char,
    peer_netns_path: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let name = req_str(name, "name")?;
        let peer = req_str(peer_name, "peer_name")?;
        let peer_ns = opt_str(peer_netns_path, "peer_netns_path")?
            .map(open_ns)
            .transpose()?;
        let mut spec = LinkSpec::veth(name, peer);
        if let Some(ns) = &peer_ns {
            spec = spec.peer_netns(ns);
        }
        h.link_add(&spec)?;
        Ok(())
    })
}

/// Create a bridge. Like `ip link add NAME type bridge`.
#[no_mangle]
pub extern "C" fn netns_link_add_bridge(
    h: *const netns_handle,
    name: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        h.link_add(&LinkSpec::bridge(req_str(name, "name")?))?;
        Ok(())
    })
}

/// Create a macvlan on `parent`; `mode` is one of bridge, private, vepa,
/// passthru, source. Like `ip link add link PARENT NAME type macvlan mode M`.
#[no_mangle]
pub extern "C" fn netns_link_add_macvlan(
    h: *const netns_handle,
    name: *const c_char,
    parent: *const c_char,
    mode: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let mode = parse_macvlan_mode(req_str(mode, "mode")?)?;
        h.link_add(&LinkSpec::macvlan(
            req_str(name, "name")?,
            req_str(parent, "parent")?,
            mode,
        ))?;
        Ok(())
    })
}

/// Create an 802.1Q VLAN `vlan_id` (0..4094) on `parent`. Like
/// `ip link add link PARENT NAME type vlan id N`.
#[no_mangle]
pub extern "C" fn netns_link_add_vlan(
    h: *const netns_handle,
    name: *const c_char,
    parent: *const c_char,
    vlan_id: u16,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        h.link_add(&LinkSpec::vlan(
            req_str(name, "name")?,
            req_str(parent, "parent")?,
            vlan_id,
        ))?;
        Ok(())
    })
}

/// Create a VXLAN with id `vni`, over `parent` when it is not NULL, to UDP
/// port `dstport` (0: the kernel's default, 8472). Like
/// `ip link add NAME type vxlan id VNI [dev PARENT] [dstport P]`.
#[no_mangle]
pub extern "C" fn netns_link_add_vxlan(
    h: *const netns_handle,
    name: *const c_char,
    vni: u32,
    parent: *const c_char,
    dstport: u16,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let mut spec = spec_for(
            req_str(name, "name")?,
            LinkKind::Vxlan(VxlanSpec {
                vni,
                dstport: (dstport != 0).then_some(dstport),
                ..VxlanSpec::default()
            }),
        );
        if let Some(p) = opt_str(parent, "parent")? {
            spec = spec.parent(p);
        }
        h.link_add(&spec)?;
        Ok(())
    })
}

/// Delete a link. Like `ip link del NAME`.
#[no_mangle]
pub extern "C" fn netns_link_del(
    h: *const netns_handle,
    name: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        h.link_del(req_str(name, "name")?)?;
        Ok(())
    })
}

/// The index of link `name`, in `*out_index`.
#[no_mangle]
pub extern "C" fn netns_link_index(
    h: *const netns_handle,
    name: *const c_char,
    out_index: *mut u32,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let name = req_str(name, "name")?;
        let out = out_ptr(out_index, "out_index")?;
        *out = h.link_index(name)?;
        Ok(())
    })
}

fn set(
    h: *const netns_handle,
    name: *const c_char,
    err: *mut *mut netns_error,
    changes: impl FnOnce() -> FfiResult<LinkChanges<'static>>,
) -> i32 {
    with_handle(h, err, |h| {
        let name = req_str(name, "name")?;
        h.link_set(name, &changes()?)?;
        Ok(())
    })
}

/// Bring a link up. Like `ip link set NAME up`.
#[no_mangle]
pub extern "C" fn netns_link_set_up(
    h: *const netns_handle,
    name: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    set(h, name, err, || {
        Ok(LinkChanges {
            up: Some(true),
            ..Default::default()
        })
    })
}

/// Bring a link down. Like `ip link set NAME down`.
#[no_mangle]
pub extern "C" fn netns_link_set_down(
    h: *const netns_handle,
    name: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    set(h, name, err, || {
        Ok(LinkChanges {
            up: Some(false),
            ..Default::default()
        })
    })
}

/// Set the MTU. Like `ip link set NAME mtu N`.
#[no_mangle]
pub extern "C" fn netns_link_set_mtu(
    h: *const netns_handle,
    name: *const c_char,
    mtu: u32,
    err: *mut *mut netns_error,
) -> i32 {
    set(h, name, err, || {
        Ok(LinkChanges {
            mtu: Some(mtu),
            ..Default::default()
        })
    })
}

/// Rename a link. Like `ip link set NAME name NEW`.
#[no_mangle]
pub extern "C" fn netns_link_set_name(
    h: *const netns_handle,
    name: *const c_char,
    new_name: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    set(h, name, err, || {
        Ok(LinkChanges {
            name: Some(req_str(new_name, "new_name")?.to_owned()),
            ..Default::default()
        })
    })
}

/// Attach a link to `controller` (a bridge), or detach it when `controller`
/// is NULL. Like `ip link set NAME master C` / `nomaster`.
#[no_mangle]
pub extern "C" fn netns_link_set_controller(
    h: *const netns_handle,
    name: *const c_char,
    controller: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let name = req_str(name, "name")?;
        match opt_str(controller, "controller")? {
            Some(c) => h.link_set_controller(name, c)?,
            None => h.link_set_nocontroller(name)?,
        }
        Ok(())
    })
}

/// Move a link into the namespace at `netns_path`. Like
/// `ip link set NAME netns NS`.
#[no_mangle]
pub extern "C" fn netns_link_set_netns(
    h: *const netns_handle,
    name: *const c_char,
    netns_path: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let name = req_str(name, "name")?;
        let ns = open_ns(req_str(netns_path, "netns_path")?)?;
        h.link_set_netns(name, &ns)?;
        Ok(())
    })
}

/// The names of all links, in index order, in a new `*out`.
#[no_mangle]
pub extern "C" fn netns_link_names(
    h: *const netns_handle,
    out: *mut *mut netns_string_list,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let out = out_ptr(out, "out")?;
        let names = h
            .links(&netns_core::LinkFilter::new())?
            .into_iter()
            .map(|l| l.name)
            .collect();
        *out = string_list(names);
        Ok(())
    })
}

pub(crate) fn prefix(s: &str, what: &str) -> FfiResult<netns_core::IpNet> {
    netns_core::parse_prefix(s)
        .map_err(|e| crate::Failure::new(libc::EINVAL, format!("{what}: {e}")))
}

pub(crate) fn addr_spec(
    ifname: *const c_char,
    cidr: *const c_char,
) -> FfiResult<netns_core::AddrSpec> {
    let ifname = req_str(ifname, "ifname")?;
    let cidr = prefix(req_str(cidr, "cidr")?, "cidr")?;
    Ok(netns_core::AddrSpec::new(ifname, cidr))
}

/// The address to add: [`addr_spec`], with the prefix's broadcast address
/// for IPv4 (`brd +`).
pub(crate) fn addr_spec_brd(
    ifname: *const c_char,
    cidr: *const c_char,
) -> FfiResult<netns_core::AddrSpec> {
    let spec = addr_spec(ifname, cidr)?;
    if netns_core::IpFamily::of_net(&spec.prefix) == netns_core::IpFamily::V4 {
        Ok(spec.broadcast_auto())
    } else {
        Ok(spec)
    }
}

/// Add the address `cidr` (e.g. "10.0.0.2/24" or "2001:db8::2/64") to
/// `ifname`; IPv4 addresses get the broadcast address of their prefix. Like
/// `ip addr add CIDR brd + dev IFNAME`.
#[no_mangle]
pub extern "C" fn netns_addr_add(
    h: *const netns_handle,
    ifname: *const c_char,
    cidr: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        h.addr_add(&addr_spec_brd(ifname, cidr)?)?;
        Ok(())
    })
}

/// Remove the address `cidr` from `ifname`. Like `ip addr del CIDR dev IFNAME`.
#[no_mangle]
pub extern "C" fn netns_addr_del(
    h: *const netns_handle,
    ifname: *const c_char,
    cidr: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        h.addr_del(&addr_spec(ifname, cidr)?)?;
        Ok(())
    })
}

/// The addresses of `ifname` (NULL: of every link) as CIDR strings
/// ("10.0.0.2/24"), IPv4 first, in a new `*out_cidrs`. Like
/// `ip -br addr show [dev IFNAME]`.
#[no_mangle]
pub extern "C" fn netns_addr_list(
    h: *const netns_handle,
    ifname: *const c_char,
    out_cidrs: *mut *mut netns_string_list,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let mut filter = netns_core::AddrFilter::new();
        if let Some(n) = opt_str(ifname, "ifname")? {
            filter = filter.link(n);
        }
        let out = out_ptr(out_cidrs, "out_cidrs")?;
        let mut addrs = h.addrs(&filter)?;
        addrs.sort_by_key(|a| a.family() != netns_core::IpFamily::V4);
        *out = string_list(addrs.iter().map(|a| a.prefix.to_string()).collect());
        Ok(())
    })
}

pub(crate) fn route_spec(
    dst: *const c_char,
    gateway: *const c_char,
    ifname: *const c_char,
    metric: u32,
) -> FfiResult<netns_core::RouteSpec> {
    let dst = req_str(dst, "dst")?;
    let gateway = opt_str(gateway, "gateway")?
        .map(|g| {
            g.parse::<std::net::IpAddr>()
                .map_err(|e| crate::Failure::new(libc::EINVAL, format!("gateway {g:?}: {e}")))
        })
        .transpose()?;
    let dst = if dst == "default" {
        // The family of "default" follows the gateway (IPv4 without one).
        let family = match gateway {
            Some(g) => netns_core::IpFamily::of(&g),
            None => netns_core::IpFamily::V4,
        };
        family.default_prefix()
    } else {
        prefix(dst, "dst")?
    };
    let mut spec = netns_core::RouteSpec::new(dst);
    spec.gateway = gateway;
    if let Some(i) = opt_str(ifname, "ifname")? {
        spec = spec.link(i);
    }
    if metric != 0 {
        spec = spec.metric(metric);
    }
    Ok(spec)
}

/// Add a route to `dst` (a CIDR or "default") via `gateway` and/or out of
/// `ifname` (either may be NULL, not both); `metric` 0 means none. Like
/// `ip route add DST [via GW] [dev IFNAME] [metric M]`.
#[no_mangle]
pub extern "C" fn netns_route_add(
    h: *const netns_handle,
    dst: *const c_char,
    gateway: *const c_char,
    ifname: *const c_char,
    metric: u32,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        h.route_add(&route_spec(dst, gateway, ifname, metric)?)?;
        Ok(())
    })
}

/// Add or replace a route; arguments as for [`netns_route_add`]. Like
/// `ip route replace ...`.
#[no_mangle]
pub extern "C" fn netns_route_replace(
    h: *const netns_handle,
    dst: *const c_char,
    gateway: *const c_char,
    ifname: *const c_char,
    metric: u32,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        h.route_replace(&route_spec(dst, gateway, ifname, metric)?)?;
        Ok(())
    })
}

/// Delete the route to `dst` (a CIDR or "default"), narrowed by `gateway`
/// and `ifname` when they are not NULL. Like
/// `ip route del DST [via GW] [dev IFNAME]`.
#[no_mangle]
pub extern "C" fn netns_route_del(
    h: *const netns_handle,
    dst: *const c_char,
    gateway: *const c_char,
    ifname: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        h.route_del(&route_spec(dst, gateway, ifname, 0)?)?;
        Ok(())
    })
}
