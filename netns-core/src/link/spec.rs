//! What to create ([`LinkSpec`], built with one constructor per kind and
//! chainable setters) and what to change ([`LinkChanges`]), with the checks
//! and the request building that need nothing but the spec.

use std::os::fd::AsRawFd;

use netlink_packet_route::link::{
    LinkAttribute, LinkFlags as NlLinkFlags, LinkInfo as NlLinkInfo, LinkMessage,
};

use super::kind::{
    BondMode, BondSpec, BridgeSpec, IpVlanIsolation, IpVlanMode, IpVlanSpec, LinkKind, MacVlanMode,
    MacVlanSpec, MacVtapSpec, VethSpec, VlanProtocol, VlanSpec, VrfSpec, VxlanSpec,
};
use super::{validate_ifname, LinkId, LinkInfo, MacAddr};
use crate::error::{Error, Result};
use crate::NetNs;

/// What to create: `ip link add [link PARENT] NAME [options] type KIND ...`.
///
/// Build one with a constructor ([`LinkSpec::veth`], [`LinkSpec::bridge`],
/// ...) and the chainable setters, or fill the fields directly.
///
/// ```
/// use netns_core::{LinkSpec, MacVlanMode};
/// let spec = LinkSpec::macvlan("mv0", "eth0", MacVlanMode::Bridge).mtu(1400).up();
/// assert_eq!(spec.kind.name(), "macvlan");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSpec<'a> {
    /// The new link's name (at most 15 bytes).
    pub name: String,
    /// Its kind and kind-specific options.
    pub kind: LinkKind<'a>,
    /// `link PARENT` (vlan, macvlan, macvtap, ipvlan) or `dev DEV` (vxlan).
    pub parent: Option<LinkId>,
    /// `mtu N`.
    pub mtu: Option<u32>,
    /// `address MAC`.
    pub mac: Option<MacAddr>,
    /// `txqueuelen N`.
    pub txqueuelen: Option<u32>,
    /// `up`: create it administratively up.
    pub up: bool,
    /// `master CONTROLLER`: attach to a bridge (or bond, vrf) on creation.
    pub controller: Option<LinkId>,
    /// `group N`.
    pub group: Option<u32>,
    /// `netns NS`: create the link directly in this namespace (the parent, if
    /// any, is looked up in the handle's namespace).
    pub netns: Option<&'a NetNs>,
}

impl<'a> LinkSpec<'a> {
    /// A spec with no options.
    pub fn new(name: impl Into<String>, kind: LinkKind<'a>) -> Self {
        LinkSpec {
            name: name.into(),
            kind,
            parent: None,
            mtu: None,
            mac: None,
            txqueuelen: None,
            up: false,
            controller: None,
            group: None,
            netns: None,
        }
    }

    /// `ip link add NAME type veth peer name PEER`.
    pub fn veth(name: impl Into<String>, peer: impl Into<String>) -> Self {
        Self::new(
            name,
            LinkKind::Veth(VethSpec {
                peer: peer.into(),
                peer_netns: None,
                peer_mac: None,
                peer_up: false,
            }),
        )
    }

    /// `ip link add NAME type bridge`.
    pub fn bridge(name: impl Into<String>) -> Self {
        Self::new(name, LinkKind::Bridge(BridgeSpec::default()))
    }

    /// `ip link add link PARENT NAME type macvlan mode MODE`.
    pub fn macvlan(name: impl Into<String>, parent: impl Into<LinkId>, mode: MacVlanMode) -> Self {
        Self::new(
            name,
            LinkKind::MacVlan(MacVlanSpec {
                mode,
                source_macs: Vec::new(),
            }),
        )
        .parent(parent)
    }

    /// `ip link add link PARENT NAME type macvtap mode MODE`.
    pub fn macvtap(name: impl Into<String>, parent: impl Into<LinkId>, mode: MacVlanMode) -> Self {
        Self::new(name, LinkKind::MacVtap(MacVtapSpec { mode })).parent(parent)
    }

    /// `ip link add link PARENT NAME type vlan id ID` (802.1Q).
    pub fn vlan(name: impl Into<String>, parent: impl Into<LinkId>, id: u16) -> Self {
        Self::new(
            name,
            LinkKind::Vlan(VlanSpec {
                id,
                protocol: VlanProtocol::Dot1Q,
            }),
        )
        .parent(parent)
    }

    /// `ip link add link PARENT NAME type ipvlan mode MODE`.
    pub fn ipvlan(name: impl Into<String>, parent: impl Into<LinkId>, mode: IpVlanMode) -> Self {
        Self::new(
            name,
            LinkKind::IpVlan(IpVlanSpec {
                mode,
                isolation: IpVlanIsolation::Bridge,
            }),
        )
        .parent(parent)
    }

    /// `ip link add NAME type vxlan id VNI`.
    pub fn vxlan(name: impl Into<String>, vni: u32) -> Self {
        Self::new(
            name,
            LinkKind::Vxlan(VxlanSpec {
                vni,
                ..VxlanSpec::default()
            }),
        )
    }

    /// `ip link add NAME type dummy`.
    pub fn dummy(name: impl Into<String>) -> Self {
        Self::new(name, LinkKind::Dummy)
    }

    /// `ip link add NAME type bond mode MODE`.
    pub fn bond(name: impl Into<String>, mode: BondMode) -> Self {
        Self::new(name, LinkKind::Bond(BondSpec { mode, miimon: None }))
    }

    /// `ip link add NAME type vrf table TABLE`.
    pub fn vrf(name: impl Into<String>, table: u32) -> Self {
        Self::new(name, LinkKind::Vrf(VrfSpec { table }))
    }

    /// Set the parent (`link PARENT`, or `dev DEV` for vxlan).
    pub fn parent(mut self, parent: impl Into<LinkId>) -> Self {
        self.parent = Some(parent.into());
        self
    }

    /// Set `mtu`.
    pub fn mtu(mut self, mtu: u32) -> Self {
        self.mtu = Some(mtu);
        self
    }

    /// Set `address`.
    pub fn mac(mut self, mac: MacAddr) -> Self {
        self.mac = Some(mac);
        self
    }

    /// Set `txqueuelen`.
    pub fn txqueuelen(mut self, n: u32) -> Self {
        self.txqueuelen = Some(n);
        self
    }

    /// Create it up.
    pub fn up(mut self) -> Self {
        self.up = true;
        self
    }

    /// Attach to a controller (bridge) on creation.
    pub fn controller(mut self, c: impl Into<LinkId>) -> Self {
        self.controller = Some(c.into());
        self
    }

    /// Set the link group.
    pub fn group(mut self, g: u32) -> Self {
        self.group = Some(g);
        self
    }

    /// Create the link directly in `ns`.
    pub fn netns(mut self, ns: &'a NetNs) -> Self {
        self.netns = Some(ns);
        self
    }

    /// For a veth: create the peer directly in `ns`.
    pub fn peer_netns(mut self, ns: &'a NetNs) -> Self {
        if let LinkKind::Veth(v) = &mut self.kind {
            v.peer_netns = Some(ns);
        }
        self
    }

    /// For a veth: the peer's MAC address.
    pub fn peer_mac(mut self, mac: MacAddr) -> Self {
        if let LinkKind::Veth(v) = &mut self.kind {
            v.peer_mac = Some(mac);
        }
        self
    }

    /// For a veth: create the peer up too (`peer name PEER up`).
    pub fn peer_up(mut self) -> Self {
        if let LinkKind::Veth(v) = &mut self.kind {
            v.peer_up = true;
        }
        self
    }

    /// For a vlan: the tag protocol.
    pub fn vlan_protocol(mut self, p: VlanProtocol) -> Self {
        if let LinkKind::Vlan(v) = &mut self.kind {
            v.protocol = p;
        }
        self
    }

    /// For an ipvlan: the isolation flag.
    pub fn ipvlan_isolation(mut self, i: IpVlanIsolation) -> Self {
        if let LinkKind::IpVlan(v) = &mut self.kind {
            v.isolation = i;
        }
        self
    }

    /// For a vxlan: mutable access to its options.
    pub fn vxlan_options(mut self, f: impl FnOnce(&mut VxlanSpec)) -> Self {
        if let LinkKind::Vxlan(v) = &mut self.kind {
            f(v);
        }
        self
    }

    /// What errors name: `NAME (type KIND)`.
    pub(crate) fn object(&self) -> String {
        format!("{} (type {})", self.name, self.kind.name())
    }
}

/// A change to the controller of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControllerChange {
    /// `master NAME`: attach to this controller.
    Attach(LinkId),
    /// `nomaster`: detach.
    Detach,
}

/// Changes to an existing link: `ip link set dev NAME ...`. Every `Some`
/// field is changed, in one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkChanges<'a> {
    /// `up` / `down`.
    pub up: Option<bool>,
    /// `promisc on|off`: receive every frame (IFF_PROMISC).
    pub promisc: Option<bool>,
    /// `mtu N`.
    pub mtu: Option<u32>,
    /// `address MAC`.
    pub mac: Option<MacAddr>,
    /// `name NEW`.
    pub name: Option<String>,
    /// `alias TEXT` (an empty text removes the alias).
    pub alias: Option<String>,
    /// `master NAME` / `nomaster`.
    pub controller: Option<ControllerChange>,
    /// `netns NS`: move the link into another namespace.
    pub netns: Option<&'a NetNs>,
    /// `txqueuelen N`.
    pub txqueuelen: Option<u32>,
    /// `group N`.
    pub group: Option<u32>,
}

/// Which links [`Handle::links`](crate::Handle::links) lists. The kernel filters by kind and by
/// controller (a strict dump request with IFLA_LINKINFO / IFLA_MASTER); the
/// name prefix, which the kernel cannot filter by, is applied to its answer.
///
/// ```no_run
/// use netns_core::{Handle, LinkFilter};
/// let h = Handle::new()?;
/// // ip link show type veth master br0
/// for l in h.links(&LinkFilter::new().kind("veth").controller("br0"))? {
///     println!("{l}");
/// }
/// # Ok::<(), netns_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFilter {
    /// Only links of this kind (`type KIND`: `veth`, `bridge`...).
    pub kind: Option<String>,
    /// Only the ports of this controller (`master NAME`).
    pub controller: Option<LinkId>,
    /// Only links whose name starts with this.
    pub name_prefix: Option<String>,
}

impl LinkFilter {
    /// Every link.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only links of `kind`.
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// Only the ports of `controller`.
    pub fn controller(mut self, controller: impl Into<LinkId>) -> Self {
        self.controller = Some(controller.into());
        self
    }

    /// Only links whose name starts with `prefix`.
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = Some(prefix.into());
        self
    }

    pub(crate) fn matches(&self, l: &LinkInfo, controller: Option<u32>) -> bool {
        self.kind
            .as_deref()
            .is_none_or(|k| l.kind.as_deref() == Some(k))
            && controller.is_none_or(|c| l.controller == Some(c))
            && self
                .name_prefix
                .as_deref()
                .is_none_or(|p| l.name.starts_with(p))
    }
}

pub(crate) fn validate_mtu(op: &'static str, object: &str, mtu: Option<u32>) -> Result<()> {
    match mtu {
        Some(0) => Err(Error::invalid(op, object, "mtu 0 is not a valid MTU")),
        Some(m) if m > i32::MAX as u32 => {
            Err(Error::invalid(op, object, format!("mtu {m} is too large")))
        }
        _ => Ok(()),
    }
}

pub(crate) fn validate_mac(op: &'static str, object: &str, mac: Option<MacAddr>) -> Result<()> {
    match mac {
        Some(m) if m.is_multicast() => Err(Error::invalid(
            op,
            object,
            format!("{m} is a multicast address and cannot be a link's address"),
        )),
        Some(m) if m.0 == [0; 6] => Err(Error::invalid(
            op,
            object,
            "00:00:00:00:00:00 is not a valid link address",
        )),
        _ => Ok(()),
    }
}

/// Indices the request needs, resolved beforehand (so an unknown parent or
/// controller is reported before anything is created).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Resolved {
    pub parent: Option<u32>,
    pub controller: Option<u32>,
}

/// Check a spec; nothing is sent.
pub(crate) fn validate_spec(spec: &LinkSpec<'_>) -> Result<()> {
    const OP: &str = "link_add";
    validate_ifname(OP, &spec.name)?;
    validate_mtu(OP, &spec.name, spec.mtu)?;
    validate_mac(OP, &spec.name, spec.mac)?;
    if let Some(LinkId::Name(p)) = &spec.parent {
        validate_ifname(OP, p)
            .map_err(|e| e.with_object(format!("{} (parent {p:?})", spec.name)))?;
    }
    if let Some(LinkId::Name(c)) = &spec.controller {
        validate_ifname(OP, c)
            .map_err(|e| e.with_object(format!("{} (controller {c:?})", spec.name)))?;
    }
    let kind = spec.kind.ops();
    if kind.needs_parent() && spec.parent.is_none() {
        return Err(Error::invalid(
            OP,
            &spec.name,
            format!("a {} link needs a parent link (`link PARENT`)", kind.name()),
        ));
    }
    kind.validate(spec)
}

/// Build the RTM_NEWLINK of `ip link add`. Pure: used by
/// [`Handle::link_add`](crate::Handle::link_add) and compared with
/// iproute2's request in the tests.
pub(crate) fn build_add(spec: &LinkSpec<'_>, resolved: Resolved) -> LinkMessage {
    let kind = spec.kind.ops();
    let mut msg = LinkMessage::default();
    if spec.up {
        msg.header.flags = NlLinkFlags::Up;
        msg.header.change_mask = NlLinkFlags::Up;
    }
    if let (Some(p), false) = (resolved.parent, kind.parent_in_info_data()) {
        msg.attributes.push(LinkAttribute::Link(p));
    }
    msg.attributes
        .push(LinkAttribute::IfName(spec.name.clone()));
    if let Some(m) = spec.mtu {
        msg.attributes.push(LinkAttribute::Mtu(m));
    }
    if let Some(m) = spec.mac {
        msg.attributes.push(LinkAttribute::Address(m.0.to_vec()));
    }
    if let Some(t) = spec.txqueuelen {
        msg.attributes.push(LinkAttribute::TxQueueLen(t));
    }
    if let Some(c) = resolved.controller {
        msg.attributes.push(LinkAttribute::Controller(c));
    }
    if let Some(g) = spec.group {
        msg.attributes.push(LinkAttribute::Group(g));
    }
    if let Some(ns) = spec.netns {
        msg.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
    }
    let (info_kind, data) = kind.info_data(spec, resolved);
    let mut info = vec![NlLinkInfo::Kind(info_kind)];
    if let Some(d) = data {
        info.push(NlLinkInfo::Data(d));
    }
    msg.attributes.push(LinkAttribute::LinkInfo(info));
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_validation_catches_bad_input_before_sending() {
        let cases: Vec<(LinkSpec<'_>, &str)> = vec![
            (LinkSpec::veth("this-name-is-too-long", "p"), "at most 15"),
            (LinkSpec::veth("v0", "p").mtu(0), "mtu 0"),
            (LinkSpec::vlan("v10", "eth0", 4095), "vlan id 4095"),
            (
                LinkSpec::new(
                    "m0",
                    LinkKind::MacVlan(MacVlanSpec {
                        mode: MacVlanMode::Bridge,
                        source_macs: vec![],
                    }),
                ),
                "needs a parent",
            ),
            (LinkSpec::vxlan("vx", 1 << 24), "vxlan id"),
            (LinkSpec::veth("v0", "v0"), "same name"),
            (
                LinkSpec::veth("v0", "p").mac(MacAddr([1, 0, 0, 0, 0, 1])),
                "multicast",
            ),
            (LinkSpec::vlan("v10", "bad/parent", 10), "parent"),
            (LinkSpec::vrf("vrf0", 0), "table id other than 0"),
            (
                LinkSpec::macvlan("m0", "eth0", MacVlanMode::Bridge).peer_mac(MacAddr([2; 6])),
                "",
            ),
        ];
        for (spec, want) in cases {
            if want.is_empty() {
                // peer_mac on a macvlan is ignored: the spec stays valid.
                assert!(validate_spec(&spec).is_ok());
                continue;
            }
            let e = validate_spec(&spec).unwrap_err();
            assert!(e.is_invalid_argument(), "{e}");
            assert!(e.to_string().contains(want), "{e} should mention {want}");
        }
    }

    #[test]
    fn vxlan_parent_is_not_ifla_link() {
        let spec = LinkSpec::vxlan("vx0", 42).parent(3u32);
        let m = build_add(
            &spec,
            Resolved {
                parent: Some(3),
                controller: None,
            },
        );
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, LinkAttribute::Link(_))));
        let spec = LinkSpec::vlan("v0", 3u32, 10);
        let m = build_add(
            &spec,
            Resolved {
                parent: Some(3),
                controller: None,
            },
        );
        assert!(m.attributes.contains(&LinkAttribute::Link(3)));
    }

    #[test]
    fn filters_match_what_they_say() {
        let l = LinkInfo {
            index: 4,
            name: "veth-a1".into(),
            kind: Some("veth".into()),
            mac: None,
            mtu: 1500,
            flags: crate::LinkFlags::empty(),
            operstate: crate::OperState::DOWN,
            controller: Some(3),
            parent: None,
            link_netnsid: None,
            txqueuelen: None,
            alias: None,
            group: 0,
            data: crate::LinkData::Veth,
        };
        assert!(LinkFilter::new().matches(&l, None));
        assert!(LinkFilter::new().kind("veth").matches(&l, Some(3)));
        assert!(!LinkFilter::new().kind("bridge").matches(&l, None));
        assert!(!LinkFilter::new().matches(&l, Some(9)));
        assert!(LinkFilter::new().name_prefix("veth-").matches(&l, None));
        assert!(!LinkFilter::new().name_prefix("eth").matches(&l, None));
    }
}
