//! ABI version 2: the read side of links and routes. A getter on NULL
//! returns its type's empty value (0, NULL, false); a list's `*_get` past
//! the end returns NULL. What a getter returns lives as long as its object.

use std::ffi::{c_char, CString};

use netns_core::{IpFamily, LinkInfo, Route, RouteFilter};

use crate::objects::with_handle;
use crate::{guard, netns_error, netns_handle, obj, out_ptr, req_str, Failure, FfiResult};

/// The main routing table (RT_TABLE_MAIN), what table 0 means.
const RT_TABLE_MAIN: u32 = 254;

pub(crate) fn cstring(s: impl Into<String>) -> CString {
    let s: String = s.into();
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

pub(crate) fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
}

/// Free a `Box` made by this library, inside the panic boundary. NULL is a
/// no-op.
pub(crate) fn free_box<T>(p: *mut T) {
    if !p.is_null() {
        guard((), || {
            // SAFETY: `p` was made by Box::into_raw in this library and, per
            // the ABI contract, is freed once.
            drop(unsafe { Box::from_raw(p) });
        });
    }
}

/// One link as the kernel reported it (`ip -d link show`), a snapshot:
/// it does not follow later changes. Free with [`netns_link_info_free`]
/// (when it came from [`netns_link_get`]; the entries of a `netns_links`
/// belong to the list).
pub struct netns_link_info {
    index: u32,
    name: CString,
    kind: Option<CString>,
    mtu: u32,
    mac: Option<CString>,
    up: bool,
    controller: u32,
}

impl From<LinkInfo> for netns_link_info {
    fn from(l: LinkInfo) -> Self {
        netns_link_info {
            index: l.index,
            up: l.is_up(),
            name: cstring(l.name),
            kind: l.kind.map(cstring),
            mtu: l.mtu,
            mac: l.mac.map(|m| cstring(m.to_string())),
            controller: l.controller.unwrap_or(0),
        }
    }
}

/// The link `ifname`, in a new `*out`. Like `ip -d link show dev IFNAME`;
/// a missing link is ENODEV.
#[no_mangle]
pub extern "C" fn netns_link_get(
    h: *const netns_handle,
    ifname: *const c_char,
    out: *mut *mut netns_link_info,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let ifname = req_str(ifname, "ifname")?;
        let out = out_ptr(out, "out")?;
        let l = h.link_get(ifname)?;
        *out = Box::into_raw(Box::new(netns_link_info::from(l)));
        Ok(())
    })
}

/// The link's index; 0 if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_link_info_index(l: *const netns_link_info) -> u32 {
    guard(0, || obj(l, "l").map_or(0, |l| l.index))
}

/// The link's name; NULL if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_link_info_name(l: *const netns_link_info) -> *const c_char {
    guard(std::ptr::null(), || {
        obj(l, "l").map_or(std::ptr::null(), |l| l.name.as_ptr())
    })
}

/// The link's kind ("veth", "bridge", "macvlan", ...); NULL for a link
/// without one (loopback, a physical NIC) or if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_link_info_kind(l: *const netns_link_info) -> *const c_char {
    guard(std::ptr::null(), || {
        obj(l, "l").map_or(std::ptr::null(), |l| opt_ptr(&l.kind))
    })
}

/// The link's MTU; 0 if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_link_info_mtu(l: *const netns_link_info) -> u32 {
    guard(0, || obj(l, "l").map_or(0, |l| l.mtu))
}

/// The link's MAC address, "aa:bb:cc:dd:ee:ff", as `ip link` shows it
/// (loopback's is 00:00:00:00:00:00); NULL for a link without a 6-byte
/// hardware address (a tun, an ipip tunnel) or if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_link_info_mac(l: *const netns_link_info) -> *const c_char {
    guard(std::ptr::null(), || {
        obj(l, "l").map_or(std::ptr::null(), |l| opt_ptr(&l.mac))
    })
}

/// Whether the link is administratively up (IFF_UP, `ip link set up`);
/// false if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_link_info_is_up(l: *const netns_link_info) -> bool {
    guard(false, || obj(l, "l").is_ok_and(|l| l.up))
}

/// The index of the link's controller (the bridge, bond or vrf it is
/// attached to); 0 for none or if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_link_info_controller(l: *const netns_link_info) -> u32 {
    guard(0, || obj(l, "l").map_or(0, |l| l.controller))
}

/// Free a link from [`netns_link_get`]. NULL is a no-op.
#[no_mangle]
pub extern "C" fn netns_link_info_free(l: *mut netns_link_info) {
    free_box(l)
}

/// A list of links, in index order. Free with [`netns_links_free`].
pub struct netns_links {
    items: Vec<netns_link_info>,
}

/// Every link of the handle's namespace, in index order, in a new `*out`.
/// Like `ip -d link show`.
#[no_mangle]
pub extern "C" fn netns_link_list(
    h: *const netns_handle,
    out: *mut *mut netns_links,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let out = out_ptr(out, "out")?;
        let items = h
            .links(&netns_core::LinkFilter::new())?
            .into_iter()
            .map(netns_link_info::from)
            .collect();
        *out = Box::into_raw(Box::new(netns_links { items }));
        Ok(())
    })
}

/// The number of links in a list; 0 if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_links_len(l: *const netns_links) -> usize {
    guard(0, || obj(l, "l").map_or(0, |l| l.items.len()))
}

/// Link `i` of a list, valid until the list is freed (do not free it on
/// its own); NULL past the end or if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_links_get(l: *const netns_links, i: usize) -> *const netns_link_info {
    guard(std::ptr::null(), || {
        obj(l, "l").map_or(std::ptr::null(), |l| {
            l.items.get(i).map_or(std::ptr::null(), |x| x as *const _)
        })
    })
}

/// Free a list of links. NULL is a no-op.
#[no_mangle]
pub extern "C" fn netns_links_free(l: *mut netns_links) {
    free_box(l)
}

/// One route as the kernel reported it. For a multipath route, the gateway
/// and link are those of its first path.
pub struct netns_route {
    family: i32,
    dst: CString,
    gateway: Option<CString>,
    link_index: u32,
    metric: u32,
    table: u32,
}

impl From<Route> for netns_route {
    fn from(r: Route) -> Self {
        let first = r.nexthops.first();
        let gateway = r.gateway.or_else(|| first.and_then(|n| n.gateway));
        let link_index = r.link_index.or_else(|| first.and_then(|n| n.link_index));
        let dst = if r.dst.prefix_len() == 0 {
            "default".to_string()
        } else {
            r.dst.to_string()
        };
        netns_route {
            family: match r.family() {
                IpFamily::V4 => libc::AF_INET,
                IpFamily::V6 => libc::AF_INET6,
            },
            dst: cstring(dst),
            gateway: gateway.map(|g| cstring(g.to_string())),
            link_index: link_index.unwrap_or(0),
            metric: r.metric.unwrap_or(0),
            table: r.table,
        }
    }
}

/// A list of routes, in the kernel's order. Free with [`netns_routes_free`].
pub struct netns_routes {
    items: Vec<netns_route>,
}

fn family(family: i32) -> FfiResult<Option<IpFamily>> {
    match family {
        0 => Ok(None),
        libc::AF_INET => Ok(Some(IpFamily::V4)),
        libc::AF_INET6 => Ok(Some(IpFamily::V6)),
        other => Err(Failure::new(
            libc::EINVAL,
            format!("family {other}: expected 0 (both), AF_INET or AF_INET6"),
        )),
    }
}

/// The routes of table `table` (0: main) of `family` (0: both, AF_INET,
/// AF_INET6), in a new `*out`. Like `ip [-4|-6] route show table T` (with
/// the kernel's own routes: connected prefixes, IPv6 link-local).
#[no_mangle]
pub extern "C" fn netns_route_list(
    h: *const netns_handle,
    family: i32,
    table: u32,
    out: *mut *mut netns_routes,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let family = self::family(family)?;
        let out = out_ptr(out, "out")?;
        let mut filter = RouteFilter::new().table(if table == 0 { RT_TABLE_MAIN } else { table });
        if let Some(f) = family {
            filter = filter.family(f);
        }
        let items = h
            .routes(&filter)?
            .into_iter()
            .map(netns_route::from)
            .collect();
        *out = Box::into_raw(Box::new(netns_routes { items }));
        Ok(())
    })
}

/// The number of routes in a list; 0 if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_routes_len(l: *const netns_routes) -> usize {
    guard(0, || obj(l, "l").map_or(0, |l| l.items.len()))
}

/// Route `i` of a list, valid until the list is freed (do not free it on
/// its own); NULL past the end or if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_routes_get(l: *const netns_routes, i: usize) -> *const netns_route {
    guard(std::ptr::null(), || {
        obj(l, "l").map_or(std::ptr::null(), |l| {
            l.items.get(i).map_or(std::ptr::null(), |x| x as *const _)
        })
    })
}

/// The destination: "default" or a CIDR ("10.0.0.0/24"); NULL if `r` is
/// NULL.
#[no_mangle]
pub extern "C" fn netns_route_dst(r: *const netns_route) -> *const c_char {
    guard(std::ptr::null(), || {
        obj(r, "r").map_or(std::ptr::null(), |r| r.dst.as_ptr())
    })
}

/// The route's family, AF_INET or AF_INET6 (what tells an IPv4 "default"
/// from an IPv6 one); 0 if `r` is NULL. To delete an IPv6 default route
/// without a gateway, name it "::/0".
#[no_mangle]
pub extern "C" fn netns_route_family(r: *const netns_route) -> i32 {
    guard(0, || obj(r, "r").map_or(0, |r| r.family))
}

/// The gateway (`via`); NULL for none or if `r` is NULL.
#[no_mangle]
pub extern "C" fn netns_route_gateway(r: *const netns_route) -> *const c_char {
    guard(std::ptr::null(), || {
        obj(r, "r").map_or(std::ptr::null(), |r| opt_ptr(&r.gateway))
    })
}

/// The output link's index (`dev`); 0 for none or if `r` is NULL.
#[no_mangle]
pub extern "C" fn netns_route_link_index(r: *const netns_route) -> u32 {
    guard(0, || obj(r, "r").map_or(0, |r| r.link_index))
}

/// The metric (`metric`, RTA_PRIORITY); 0 for none or if `r` is NULL.
#[no_mangle]
pub extern "C" fn netns_route_metric(r: *const netns_route) -> u32 {
    guard(0, || obj(r, "r").map_or(0, |r| r.metric))
}

/// The table id (254: main); 0 if `r` is NULL.
#[no_mangle]
pub extern "C" fn netns_route_table(r: *const netns_route) -> u32 {
    guard(0, || obj(r, "r").map_or(0, |r| r.table))
}

/// Free a list of routes. NULL is a no-op.
#[no_mangle]
pub extern "C" fn netns_routes_free(l: *mut netns_routes) {
    free_box(l)
}

/// The route the kernel would use to reach the address `dst` ("10.0.0.7",
/// "2001:db8::7"), in a new `*out`: its output link, gateway, metric and
/// table. Like `ip route get ADDR`; an unreachable address is the kernel's
/// error (ENETUNREACH, ...).
#[no_mangle]
pub extern "C" fn netns_route_get(
    h: *const netns_handle,
    dst: *const c_char,
    out: *mut *mut netns_route,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let text = req_str(dst, "dst")?;
        let addr = text.parse::<std::net::IpAddr>().map_err(|e| {
            Failure::new(
                libc::EINVAL,
                format!("dst {text:?}: {e} (an address, not a prefix)"),
            )
        })?;
        let out = out_ptr(out, "out")?;
        let r = h.route_get(addr)?;
        *out = Box::into_raw(Box::new(netns_route::from(r)));
        Ok(())
    })
}

/// Free a route from [`netns_route_get`] (not one of a `netns_routes`).
/// NULL is a no-op.
#[no_mangle]
pub extern "C" fn netns_route_free(r: *mut netns_route) {
    free_box(r)
}
