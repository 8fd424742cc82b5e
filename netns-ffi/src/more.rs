//! ABI version 2: address replace, neighbours, bridge VLANs and sysctls.

use std::ffi::{c_char, CString};
use std::net::IpAddr;

use netns_core::{BridgeVlan, MacAddr, NeighFilter, NeighSpec, Neighbour, Sysctl};

use crate::objects::{addr_spec_brd, with_handle};
use crate::read::{cstring, free_box, opt_ptr};
use crate::{
    boundary, guard, netns_error, netns_handle, obj, opt_str, out_ptr, req_str, Failure, FfiResult,
};

/// Add the address `cidr` to `ifname`, or update it if it is there (its
/// lifetimes, flags); IPv4 addresses get their prefix's broadcast address.
/// Like `ip addr replace CIDR brd + dev IFNAME`.
#[no_mangle]
pub extern "C" fn netns_addr_replace(
    h: *const netns_handle,
    ifname: *const c_char,
    cidr: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        h.addr_replace(&addr_spec_brd(ifname, cidr)?)?;
        Ok(())
    })
}

pub(crate) fn ip_arg(p: *const c_char, what: &str) -> FfiResult<IpAddr> {
    let text = req_str(p, what)?;
    text.parse::<IpAddr>()
        .map_err(|e| Failure::new(libc::EINVAL, format!("{what} {text:?}: {e}")))
}

pub(crate) fn mac_arg(p: *const c_char, what: &str) -> FfiResult<MacAddr> {
    let text = req_str(p, what)?;
    text.parse::<MacAddr>()
        .map_err(|e| Failure::new(libc::EINVAL, format!("{what} {text:?}: {e}")))
}

/// A permanent neighbour entry: `ip neigh add IP lladdr MAC dev IFNAME`.
pub(crate) fn neigh_spec(
    ifname: *const c_char,
    ip: *const c_char,
    mac: *const c_char,
) -> FfiResult<NeighSpec> {
    let ifname = req_str(ifname, "ifname")?;
    let ip = ip_arg(ip, "ip")?;
    let mac = mac_arg(mac, "mac")?;
    Ok(NeighSpec::new(ifname, ip).lladdr(mac))
}

/// Send a permanent neighbour entry with `op` (add or replace).
fn neigh_set(
    h: *const netns_handle,
    ifname: *const c_char,
    ip: *const c_char,
    mac: *const c_char,
    err: *mut *mut netns_error,
    op: fn(&netns_core::Handle, &NeighSpec) -> netns_core::Result<()>,
) -> i32 {
    with_handle(h, err, |h| {
        op(h, &neigh_spec(ifname, ip, mac)?)?;
        Ok(())
    })
}

/// Add a permanent neighbour entry: `ip` ("10.0.0.7" or an IPv6 address) is
/// at `mac` on `ifname`. An entry that exists is EEXIST. Like
/// `ip neigh add IP lladdr MAC dev IFNAME` (nud permanent).
#[no_mangle]
pub extern "C" fn netns_neigh_add(
    h: *const netns_handle,
    ifname: *const c_char,
    ip: *const c_char,
    mac: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    neigh_set(h, ifname, ip, mac, err, netns_core::Handle::neigh_add)
}

/// Add or replace a permanent neighbour entry. Like
/// `ip neigh replace IP lladdr MAC dev IFNAME` (nud permanent).
#[no_mangle]
pub extern "C" fn netns_neigh_replace(
    h: *const netns_handle,
    ifname: *const c_char,
    ip: *const c_char,
    mac: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    neigh_set(h, ifname, ip, mac, err, netns_core::Handle::neigh_replace)
}

/// Delete the neighbour entry of `ip` on `ifname`. Like
/// `ip neigh del IP dev IFNAME`; a missing entry is the kernel's ENOENT.
#[no_mangle]
pub extern "C" fn netns_neigh_del(
    h: *const netns_handle,
    ifname: *const c_char,
    ip: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let ifname = req_str(ifname, "ifname")?;
        let ip = ip_arg(ip, "ip")?;
        h.neigh_del(&NeighSpec::new(ifname, ip))?;
        Ok(())
    })
}

/// One neighbour entry as the kernel reported it.
pub struct netns_neigh {
    ip: CString,
    mac: Option<CString>,
    link_index: u32,
    state: CString,
}

impl From<Neighbour> for netns_neigh {
    fn from(n: Neighbour) -> Self {
        netns_neigh {
            ip: cstring(n.dst.to_string()),
            mac: n.mac().map(|m| cstring(m.to_string())),
            link_index: n.link_index,
            state: cstring(n.state.to_string()),
        }
    }
}

/// A list of neighbour entries. Free with [`netns_neighs_free`].
pub struct netns_neighs {
    items: Vec<netns_neigh>,
}

/// The neighbour entries of `ifname` (NULL: of every link), IPv4 and IPv6,
/// in a new `*out`. Like `ip neigh show [dev IFNAME]` (which hides NOARP
/// entries; this list has them).
#[no_mangle]
pub extern "C" fn netns_neigh_list(
    h: *const netns_handle,
    ifname: *const c_char,
    out: *mut *mut netns_neighs,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let mut filter = NeighFilter::new();
        if let Some(n) = opt_str(ifname, "ifname")? {
            filter = filter.link(n);
        }
        let out = out_ptr(out, "out")?;
        let items = h
            .neighbours(&filter)?
            .into_iter()
            .map(netns_neigh::from)
            .collect();
        *out = Box::into_raw(Box::new(netns_neighs { items }));
        Ok(())
    })
}

/// The number of entries in a list; 0 if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_neighs_len(l: *const netns_neighs) -> usize {
    guard(0, || obj(l, "l").map_or(0, |l| l.items.len()))
}

/// Entry `i` of a list, valid until the list is freed; NULL past the end or
/// if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_neighs_get(l: *const netns_neighs, i: usize) -> *const netns_neigh {
    guard(std::ptr::null(), || {
        obj(l, "l").map_or(std::ptr::null(), |l| {
            l.items.get(i).map_or(std::ptr::null(), |x| x as *const _)
        })
    })
}

/// The entry's IP address; NULL if `n` is NULL.
#[no_mangle]
pub extern "C" fn netns_neigh_ip(n: *const netns_neigh) -> *const c_char {
    guard(std::ptr::null(), || {
        obj(n, "n").map_or(std::ptr::null(), |n| n.ip.as_ptr())
    })
}

/// The entry's link-layer address, "aa:bb:cc:dd:ee:ff"; NULL for none
/// (an incomplete or failed resolution) or if `n` is NULL.
#[no_mangle]
pub extern "C" fn netns_neigh_mac(n: *const netns_neigh) -> *const c_char {
    guard(std::ptr::null(), || {
        obj(n, "n").map_or(std::ptr::null(), |n| opt_ptr(&n.mac))
    })
}

/// The index of the entry's link; 0 if `n` is NULL.
#[no_mangle]
pub extern "C" fn netns_neigh_link_index(n: *const netns_neigh) -> u32 {
    guard(0, || obj(n, "n").map_or(0, |n| n.link_index))
}

/// The entry's state as `ip neigh` prints it ("PERMANENT", "REACHABLE",
/// "STALE", ...); NULL if `n` is NULL.
#[no_mangle]
pub extern "C" fn netns_neigh_state(n: *const netns_neigh) -> *const c_char {
    guard(std::ptr::null(), || {
        obj(n, "n").map_or(std::ptr::null(), |n| n.state.as_ptr())
    })
}

/// Free a list of neighbour entries. NULL is a no-op.
#[no_mangle]
pub extern "C" fn netns_neighs_free(l: *mut netns_neighs) {
    free_box(l)
}

/// Whether `ifname` is a bridge itself (its VLANs are `self` ones) rather
/// than a bridge port.
fn is_bridge(h: &netns_core::Handle, ifname: &str) -> FfiResult<bool> {
    Ok(h.link_get(ifname)?.kind.as_deref() == Some("bridge"))
}

/// Add VLAN `vid` (1..4094) to `ifname`, a port of a VLAN-filtering bridge
/// (or the bridge itself: then the bridge's own VLAN, `self`); `pvid`:
/// untagged frames entering belong to it; `untagged`: its frames leave
/// without a tag. Like `bridge vlan add dev IFNAME vid VID [pvid]
/// [untagged] [self]`. A bridge without VLAN filtering support in the
/// kernel is EOPNOTSUPP.
#[no_mangle]
pub extern "C" fn netns_bridge_vlan_add(
    h: *const netns_handle,
    ifname: *const c_char,
    vid: u16,
    pvid: bool,
    untagged: bool,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let ifname = req_str(ifname, "ifname")?;
        let vlan = BridgeVlan {
            vid,
            pvid,
            untagged,
        };
        if is_bridge(h, ifname)? {
            h.bridge_vlan_add_self(ifname, &vlan)?;
        } else {
            h.bridge_vlan_add(ifname, &vlan)?;
        }
        Ok(())
    })
}

/// Remove VLAN `vid` from `ifname` (a port, or the bridge itself). Like
/// `bridge vlan del dev IFNAME vid VID [self]`.
#[no_mangle]
pub extern "C" fn netns_bridge_vlan_del(
    h: *const netns_handle,
    ifname: *const c_char,
    vid: u16,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let ifname = req_str(ifname, "ifname")?;
        if is_bridge(h, ifname)? {
            h.bridge_vlan_del_self(ifname, vid)?;
        } else {
            h.bridge_vlan_del(ifname, vid)?;
        }
        Ok(())
    })
}

/// The VLANs of one bridge port (or bridge). Free with
/// [`netns_bridge_vlans_free`].
pub struct netns_bridge_vlans {
    items: Vec<BridgeVlan>,
}

/// The VLANs of `ifname` (a port of a bridge, or the bridge), in the
/// kernel's order, in a new `*out`. Like `bridge vlan show dev IFNAME`.
#[no_mangle]
pub extern "C" fn netns_bridge_vlan_list(
    h: *const netns_handle,
    ifname: *const c_char,
    out: *mut *mut netns_bridge_vlans,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let ifname = req_str(ifname, "ifname")?;
        let out = out_ptr(out, "out")?;
        let items = h.bridge_vlans_of(ifname)?;
        *out = Box::into_raw(Box::new(netns_bridge_vlans { items }));
        Ok(())
    })
}

fn vlan_at(l: *const netns_bridge_vlans, i: usize) -> Option<BridgeVlan> {
    obj(l, "l").ok().and_then(|l| l.items.get(i).copied())
}

/// The number of VLANs in a list; 0 if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_bridge_vlans_len(l: *const netns_bridge_vlans) -> usize {
    guard(0, || obj(l, "l").map_or(0, |l| l.items.len()))
}

/// The id of VLAN `i`; 0 past the end or if `l` is NULL.
#[no_mangle]
pub extern "C" fn netns_bridge_vlans_vid(l: *const netns_bridge_vlans, i: usize) -> u16 {
    guard(0, || vlan_at(l, i).map_or(0, |v| v.vid))
}

/// Whether VLAN `i` is the port's PVID; false past the end or if `l` is
/// NULL.
#[no_mangle]
pub extern "C" fn netns_bridge_vlans_is_pvid(l: *const netns_bridge_vlans, i: usize) -> bool {
    guard(false, || vlan_at(l, i).is_some_and(|v| v.pvid))
}

/// Whether VLAN `i` leaves the port untagged; false past the end or if `l`
/// is NULL.
#[no_mangle]
pub extern "C" fn netns_bridge_vlans_is_untagged(l: *const netns_bridge_vlans, i: usize) -> bool {
    guard(false, || vlan_at(l, i).is_some_and(|v| v.untagged))
}

/// Free a list of VLANs. NULL is a no-op.
#[no_mangle]
pub extern "C" fn netns_bridge_vlans_free(l: *mut netns_bridge_vlans) {
    free_box(l)
}

fn sysctl_key(key: *const c_char) -> FfiResult<Sysctl> {
    let key = req_str(key, "key")?;
    key.parse::<Sysctl>()
        .map_err(|e| Failure::new(libc::EINVAL, e.to_string()))
}

/// The value of the sysctl `key` in the handle's namespace, as text
/// without the trailing newline, in a new `*out_value` (free it with
/// `netns_string_free`). Keys as sysctl(8) writes them:
/// net.ipv4.ip_forward, net.ipv4.conf.IF.KEY, net.ipv6.conf.IF.KEY (IF is
/// all, default or an interface, a '.' in its name written '/'). Like
/// `ip netns exec NS sysctl -n KEY`; the calling thread does not move.
#[no_mangle]
pub extern "C" fn netns_sysctl_get(
    h: *const netns_handle,
    key: *const c_char,
    out_value: *mut *mut c_char,
    err: *mut *mut netns_error,
) -> i32 {
    boundary(err, || {
        let ns = &obj(h, "h")?.ns;
        let key = sysctl_key(key)?;
        let out = out_ptr(out_value, "out_value")?;
        let value = ns.sysctl_get_text(&key)?;
        *out = cstring(value).into_raw();
        Ok(())
    })
}

/// Set the sysctl `key` (as for [`netns_sysctl_get`]) of the handle's
/// namespace to `value` (text, one line; the kernel judges it). Like
/// `ip netns exec NS sysctl -w KEY=VALUE`.
#[no_mangle]
pub extern "C" fn netns_sysctl_set(
    h: *const netns_handle,
    key: *const c_char,
    value: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    boundary(err, || {
        let ns = &obj(h, "h")?.ns;
        let key = sysctl_key(key)?;
        let value = req_str(value, "value")?;
        ns.sysctl_set_text(&key, value)?;
        Ok(())
    })
}
