//! ABI version 2: links of every kind. A `netns_link_spec` is built with
//! typed setters, then created in the handle's namespace
//! ([`netns_link_add`]) or in another one ([`netns_link_add_in`]).
//!
//! A setter checks that the kind has the key (else
//! NETNS_ERR_INVALID_ARGUMENT naming both) and that the value is one the
//! key takes (else EINVAL, as a value refused before anything is sent is
//! everywhere in this ABI); what the kernel decides (a missing parent, a
//! taken name) is its errno at add time.

use std::ffi::c_char;

use netns_core::{
    BondMode, BridgeSpec, IpVlanMode, LinkKind, LinkSpec, MacAddr, MacVlanMode, NetNs, VxlanSpec,
};

use crate::objects::with_handle;
use crate::read::free_box;
use crate::{
    boundary, netns_error, netns_handle, obj, obj_mut, open_ns, out_ptr, req_str, Failure,
    FfiResult, NETNS_ERR_INVALID_ARGUMENT,
};

/// The kinds a spec can have, as `ip link add ... type KIND` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Veth,
    Bridge,
    Macvlan,
    Macvtap,
    Vlan,
    Ipvlan,
    Vxlan,
    Dummy,
    Bond,
    Vrf,
}

const KINDS: [(&str, Kind); 10] = [
    ("veth", Kind::Veth),
    ("bridge", Kind::Bridge),
    ("macvlan", Kind::Macvlan),
    ("macvtap", Kind::Macvtap),
    ("vlan", Kind::Vlan),
    ("ipvlan", Kind::Ipvlan),
    ("vxlan", Kind::Vxlan),
    ("dummy", Kind::Dummy),
    ("bond", Kind::Bond),
    ("vrf", Kind::Vrf),
];

impl Kind {
    fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }
}

/// The mode of a spec, parsed for its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    MacVlan(MacVlanMode),
    IpVlan(IpVlanMode),
    Bond(BondMode),
}

/// A link to create: a kind, a name and the keys set on it. Made by
/// [`netns_link_spec_new`], changed by the `netns_link_spec_set_*`
/// functions, used (not consumed) by [`netns_link_add`],
/// [`netns_link_add_in`] and `netns_batch_link_add`; free with
/// [`netns_link_spec_free`]. A spec is not shared: do not change it while
/// another thread uses it.
#[derive(Debug, Clone)]
pub struct netns_link_spec {
    kind: Kind,
    name: String,
    parent: Option<String>,
    peer: Option<String>,
    peer_netns: Option<String>,
    mtu: Option<u32>,
    mac: Option<MacAddr>,
    mode: Option<Mode>,
    id: Option<u32>,
    up: bool,
    vlan_filtering: Option<bool>,
}

fn lacks(kind: Kind, key: &str) -> Failure {
    Failure::new(
        NETNS_ERR_INVALID_ARGUMENT,
        format!("a {} link has no key {key:?}", kind.name()),
    )
}

fn needs(kind: Kind, key: &str, setter: &str) -> Failure {
    Failure::new(
        NETNS_ERR_INVALID_ARGUMENT,
        format!(
            "a {} link needs its {key}: set it with {setter}",
            kind.name()
        ),
    )
}

impl netns_link_spec {
    /// The core spec; `peer_ns` is the namespace `peer_netns` names,
    /// opened by the caller (it must outlive the spec).
    pub(crate) fn build<'a>(&self, peer_ns: Option<&'a NetNs>) -> FfiResult<LinkSpec<'a>> {
        let k = self.kind;
        let parent = || {
            self.parent
                .clone()
                .ok_or_else(|| needs(k, "parent", "netns_link_spec_set_parent"))
        };
        let id = || {
            self.id
                .ok_or_else(|| needs(k, "id", "netns_link_spec_set_id"))
        };
        let name = self.name.as_str();
        let mut spec = match k {
            Kind::Veth => {
                let peer = self
                    .peer
                    .clone()
                    .ok_or_else(|| needs(k, "peer", "netns_link_spec_set_peer"))?;
                let mut s = LinkSpec::veth(name, peer);
                if let Some(ns) = peer_ns {
                    s = s.peer_netns(ns);
                }
                s
            }
            Kind::Bridge => LinkSpec::new(
                name,
                LinkKind::Bridge(BridgeSpec {
                    vlan_filtering: self.vlan_filtering,
                }),
            ),
            Kind::Macvlan | Kind::Macvtap => {
                // The kernel's default when no mode is sent is vepa, as for
                // `ip link add ... type macvlan` without `mode`.
                let mode = match self.mode {
                    Some(Mode::MacVlan(m)) => m,
                    _ => MacVlanMode::Vepa,
                };
                if k == Kind::Macvlan {
                    LinkSpec::macvlan(name, parent()?, mode)
                } else {
                    LinkSpec::macvtap(name, parent()?, mode)
                }
            }
            Kind::Vlan => {
                let parent = parent()?;
                let id = u16::try_from(id()?).unwrap_or(u16::MAX);
                LinkSpec::vlan(name, parent, id)
            }
            Kind::Ipvlan => {
                let mode = match self.mode {
                    Some(Mode::IpVlan(m)) => m,
                    _ => IpVlanMode::L3,
                };
                LinkSpec::ipvlan(name, parent()?, mode)
            }
            Kind::Vxlan => {
                let mut s = LinkSpec::new(
                    name,
                    LinkKind::Vxlan(VxlanSpec {
                        vni: id()?,
                        ..VxlanSpec::default()
                    }),
                );
                if let Some(p) = &self.parent {
                    s = s.parent(p.as_str());
                }
                s
            }
            Kind::Dummy => LinkSpec::dummy(name),
            Kind::Bond => {
                let mode = match self.mode {
                    Some(Mode::Bond(m)) => m,
                    _ => BondMode::BalanceRr,
                };
                LinkSpec::bond(name, mode)
            }
            Kind::Vrf => LinkSpec::vrf(name, id()?),
        };
        if let Some(m) = self.mtu {
            spec = spec.mtu(m);
        }
        if let Some(m) = self.mac {
            spec = spec.mac(m);
        }
        if self.up {
            spec = spec.up();
        }
        Ok(spec)
    }

    /// The names of the links it creates in the handle's namespace: its
    /// own, and a veth's peer unless that goes elsewhere.
    pub(crate) fn names_here(&self) -> Vec<&str> {
        let mut names = vec![self.name.as_str()];
        if let (Some(p), None) = (&self.peer, &self.peer_netns) {
            names.push(p.as_str());
        }
        names
    }

    /// The namespace `peer_netns` names, opened.
    pub(crate) fn open_peer_ns(&self) -> FfiResult<Option<NetNs>> {
        self.peer_netns.as_deref().map(open_ns).transpose()
    }
}

/// A new spec for a link of `kind` named `name`, in `*out`. `kind` is one
/// of veth, bridge, macvlan, macvtap, vlan, ipvlan, vxlan, dummy, bond, vrf
/// (another is NETNS_ERR_INVALID_ARGUMENT). The name is checked when the
/// link is added (at most 15 bytes, no '/' or whitespace: EINVAL).
///
/// The keys each kind has (anything else is NETNS_ERR_INVALID_ARGUMENT):
/// every kind: mtu, mac, up; veth: peer (required), peer_netns; macvlan,
/// macvtap: parent (required), mode (bridge, private, vepa, passthru,
/// source; default vepa, the kernel's); vlan: parent and id (both
/// required, 0..4094); ipvlan: parent (required), mode (l2, l3, l3s;
/// default l3); vxlan: id (the VNI, required, below 2^24), parent
/// (`dev`); bridge: vlan_filtering; bond: mode (balance-rr, active-backup, balance-xor, broadcast,
/// 802.3ad, balance-tlb, balance-alb; default balance-rr); vrf: id (the
/// table, required).
#[no_mangle]
pub extern "C" fn netns_link_spec_new(
    kind: *const c_char,
    name: *const c_char,
    out: *mut *mut netns_link_spec,
    err: *mut *mut netns_error,
) -> i32 {
    boundary(err, || {
        let kind_name = req_str(kind, "kind")?;
        let name = req_str(name, "name")?;
        let out = out_ptr(out, "out")?;
        let kind = KINDS
            .iter()
            .find(|(n, _)| *n == kind_name)
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                let all: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
                Failure::new(
                    NETNS_ERR_INVALID_ARGUMENT,
                    format!("kind {kind_name:?}: expected one of {}", all.join(", ")),
                )
            })?;
        *out = Box::into_raw(Box::new(netns_link_spec {
            kind,
            name: name.to_owned(),
            parent: None,
            peer: None,
            peer_netns: None,
            mtu: None,
            mac: None,
            mode: None,
            id: None,
            up: false,
            vlan_filtering: None,
        }));
        Ok(())
    })
}

/// Run a setter: the spec, then the key's check for its kind.
fn setter(
    s: *mut netns_link_spec,
    err: *mut *mut netns_error,
    key: &str,
    kinds: Option<&[Kind]>,
    f: impl FnOnce(&mut netns_link_spec) -> FfiResult,
) -> i32 {
    boundary(err, || {
        let spec = obj_mut(s, "s")?;
        if let Some(kinds) = kinds {
            if !kinds.contains(&spec.kind) {
                return Err(lacks(spec.kind, key));
            }
        }
        f(spec)
    })
}

/// The parent (lower) link, in the handle's namespace: `link PARENT` of a
/// macvlan, macvtap, vlan or ipvlan, `dev PARENT` of a vxlan.
#[no_mangle]
pub extern "C" fn netns_link_spec_set_parent(
    s: *mut netns_link_spec,
    ifname: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    use Kind::*;
    setter(
        s,
        err,
        "parent",
        Some(&[Macvlan, Macvtap, Vlan, Ipvlan, Vxlan]),
        |spec| {
            spec.parent = Some(req_str(ifname, "ifname")?.to_owned());
            Ok(())
        },
    )
}

/// The name of a veth's other end: `peer name PEER`.
#[no_mangle]
pub extern "C" fn netns_link_spec_set_peer(
    s: *mut netns_link_spec,
    peer_name: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    setter(s, err, "peer", Some(&[Kind::Veth]), |spec| {
        spec.peer = Some(req_str(peer_name, "peer_name")?.to_owned());
        Ok(())
    })
}

/// Create a veth's other end directly in the namespace at `ns_path` (opened
/// when the link is added): `peer name PEER netns NS`.
#[no_mangle]
pub extern "C" fn netns_link_spec_set_peer_netns(
    s: *mut netns_link_spec,
    ns_path: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    setter(s, err, "peer_netns", Some(&[Kind::Veth]), |spec| {
        spec.peer_netns = Some(req_str(ns_path, "ns_path")?.to_owned());
        Ok(())
    })
}

/// The MTU: `mtu N` (for a veth, both ends). The kernel checks the range.
#[no_mangle]
pub extern "C" fn netns_link_spec_set_mtu(
    s: *mut netns_link_spec,
    mtu: u32,
    err: *mut *mut netns_error,
) -> i32 {
    setter(s, err, "mtu", None, |spec| {
        spec.mtu = Some(mtu);
        Ok(())
    })
}

/// The MAC address, "aa:bb:cc:dd:ee:ff": `address MAC`.
#[no_mangle]
pub extern "C" fn netns_link_spec_set_mac(
    s: *mut netns_link_spec,
    mac: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    setter(s, err, "mac", None, |spec| {
        let text = req_str(mac, "mac")?;
        let m = text
            .parse::<MacAddr>()
            .map_err(|e| Failure::new(libc::EINVAL, format!("mac {text:?}: {e}")))?;
        spec.mac = Some(m);
        Ok(())
    })
}

/// The mode, as `ip` spells it: macvlan and macvtap (bridge, private, vepa,
/// passthru, source), ipvlan (l2, l3, l3s), bond (balance-rr,
/// active-backup, balance-xor, broadcast, 802.3ad, balance-tlb,
/// balance-alb).
#[no_mangle]
pub extern "C" fn netns_link_spec_set_mode(
    s: *mut netns_link_spec,
    mode: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    use Kind::*;
    setter(
        s,
        err,
        "mode",
        Some(&[Macvlan, Macvtap, Ipvlan, Bond]),
        |spec| {
            let text = req_str(mode, "mode")?;
            let bad = |e: netns_core::Error| Failure::new(libc::EINVAL, e.to_string());
            spec.mode = Some(match spec.kind {
                Ipvlan => Mode::IpVlan(text.parse().map_err(bad)?),
                Bond => Mode::Bond(text.parse().map_err(bad)?),
                _ => Mode::MacVlan(text.parse().map_err(bad)?),
            });
            Ok(())
        },
    )
}

/// The number that names the link's segment: a vlan's id (0..4094), a
/// vxlan's VNI (below 2^24), a vrf's table (not 0).
#[no_mangle]
pub extern "C" fn netns_link_spec_set_id(
    s: *mut netns_link_spec,
    id: u32,
    err: *mut *mut netns_error,
) -> i32 {
    use Kind::*;
    setter(s, err, "id", Some(&[Vlan, Vxlan, Vrf]), |spec| {
        let (max, what) = match spec.kind {
            Vlan => (4094, "a vlan id is 0..4094"),
            Vxlan => ((1 << 24) - 1, "a vxlan id (VNI) is 0..16777215"),
            _ => (u32::MAX, "a vrf table is 1..4294967295"),
        };
        if id > max || (spec.kind == Vrf && id == 0) {
            return Err(Failure::new(libc::EINVAL, format!("id {id}: {what}")));
        }
        spec.id = Some(id);
        Ok(())
    })
}

/// Create the link administratively up (`up`), or not (the default).
#[no_mangle]
pub extern "C" fn netns_link_spec_set_up(
    s: *mut netns_link_spec,
    up: bool,
    err: *mut *mut netns_error,
) -> i32 {
    setter(s, err, "up", None, |spec| {
        spec.up = up;
        Ok(())
    })
}

/// A bridge's VLAN filtering (`vlan_filtering 1|0`), what the
/// `netns_bridge_vlan_*` functions need; a kernel without it refuses the
/// bridge with EOPNOTSUPP when it is added.
#[no_mangle]
pub extern "C" fn netns_link_spec_set_vlan_filtering(
    s: *mut netns_link_spec,
    on: bool,
    err: *mut *mut netns_error,
) -> i32 {
    setter(s, err, "vlan_filtering", Some(&[Kind::Bridge]), |spec| {
        spec.vlan_filtering = Some(on);
        Ok(())
    })
}

/// Free a spec. NULL is a no-op.
#[no_mangle]
pub extern "C" fn netns_link_spec_free(s: *mut netns_link_spec) {
    free_box(s)
}

/// Create the link `s` describes in the handle's namespace. Like
/// `ip link add [link PARENT] NAME [mtu N] [address MAC] [up] type KIND ...`.
#[no_mangle]
pub extern "C" fn netns_link_add(
    h: *const netns_handle,
    s: *const netns_link_spec,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let s = obj(s, "s")?;
        let peer_ns = s.open_peer_ns()?;
        h.link_add(&s.build(peer_ns.as_ref())?)?;
        Ok(())
    })
}

/// Create the link `s` describes in the namespace at `target_ns_path`,
/// under its name there even if that name is taken in the handle's
/// namespace; its parent (if any) is looked up in the handle's namespace,
/// as `ip link add link PARENT NAME netns NS` does, and a veth's peer stays
/// in the handle's namespace unless `peer_netns` says otherwise. If a step
/// fails nothing is left behind.
#[no_mangle]
pub extern "C" fn netns_link_add_in(
    h: *const netns_handle,
    s: *const netns_link_spec,
    target_ns_path: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let s = obj(s, "s")?;
        let target = open_ns(req_str(target_ns_path, "target_ns_path")?)?;
        let peer_ns = s.open_peer_ns()?;
        h.link_add_in(&s.build(peer_ns.as_ref())?, &target)?;
        Ok(())
    })
}
