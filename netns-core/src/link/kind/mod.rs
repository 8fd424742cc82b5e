//! Link kinds. Each kind lives in one file of this folder, holding all of it:
//! its options for creation (`*Spec`), what the kernel reports of it
//! (`*Data`), its checks, and its IFLA_INFO_DATA, built and parsed.
//!
//! # Adding a kind
//!
//! 1. Write `kind/NAME.rs`: the spec type, implementing [`KindOps`] (name,
//!    checks, IFLA_INFO_DATA), and `parse` from IFLA_INFO_DATA to the data
//!    type (uapi/linux/if_link.h has both layouts).
//! 2. Register it below: a variant of [`LinkKind`] and of [`LinkData`], an
//!    arm in [`LinkKind::ops`] and in [`parse_data`], and a constructor on
//!    [`LinkSpec`](crate::LinkSpec) if it is common.
//! 3. A kind the development kernel lacks gets a request fixture
//!    (`link/fixtures.rs`, `tests/fixtures/record.sh`) and a test in
//!    `tests/kinds.rs`, which the VM tier runs.

use std::net::IpAddr;

use netlink_packet_route::link::{InfoData, InfoKind};

use crate::error::Result;
use crate::link::{LinkSpec, Resolved};
use crate::nla::{Nla, Nlas};

mod bond;
mod bridge;
mod dummy;
mod ipvlan;
mod macvlan;
mod veth;
mod vlan;
mod vrf;
mod vxlan;

pub use bond::{BondData, BondMode, BondSpec};
pub use bridge::{BridgeData, BridgeSpec};
pub use ipvlan::{IpVlanData, IpVlanIsolation, IpVlanMode, IpVlanSpec};
pub use macvlan::{MacVlanData, MacVlanMode, MacVlanSpec, MacVtapSpec};
pub use veth::VethSpec;
pub use vlan::{VlanData, VlanProtocol, VlanSpec};
pub use vrf::{VrfData, VrfSpec};
pub use vxlan::{VxlanData, VxlanSpec};

/// What every kind's spec provides to `link_add`.
pub(crate) trait KindOps {
    /// The kernel's name of the kind (IFLA_INFO_KIND).
    fn name(&self) -> &'static str;

    /// Whether the kind is a sub-interface that cannot exist without a
    /// parent (`link PARENT`).
    fn needs_parent(&self) -> bool {
        false
    }

    /// Whether the parent goes inside IFLA_INFO_DATA (vxlan's `dev`) rather
    /// than in IFLA_LINK.
    fn parent_in_info_data(&self) -> bool {
        false
    }

    /// The kind's own checks of a spec, before anything is sent.
    fn validate(&self, _link: &LinkSpec<'_>) -> Result<()> {
        Ok(())
    }

    /// IFLA_INFO_KIND and IFLA_INFO_DATA of the request.
    fn info_data(&self, link: &LinkSpec<'_>, resolved: Resolved) -> (InfoKind, Option<InfoData>);

    /// An optional feature the spec asks for that a kernel may lack while
    /// having the kind (it then answers a bare EOPNOTSUPP).
    fn optional_feature(&self) -> Option<&'static str> {
        None
    }
}

/// The kind of link to create, with its kind-specific options.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkKind<'a> {
    /// A veth pair: `type veth peer name PEER [netns NS]`.
    Veth(VethSpec<'a>),
    /// A Linux bridge: `type bridge`.
    Bridge(BridgeSpec),
    /// macvlan on the parent: `link PARENT type macvlan mode MODE`.
    MacVlan(MacVlanSpec),
    /// macvtap on the parent: `link PARENT type macvtap mode MODE`.
    MacVtap(MacVtapSpec),
    /// 802.1Q/802.1ad VLAN on the parent: `link PARENT type vlan id N`.
    Vlan(VlanSpec),
    /// ipvlan on the parent: `link PARENT type ipvlan mode MODE [FLAG]`.
    IpVlan(IpVlanSpec),
    /// VXLAN: `type vxlan id VNI ...`; the parent is the underlying device.
    Vxlan(VxlanSpec),
    /// A dummy interface: `type dummy`.
    Dummy,
    /// A bond: `type bond mode MODE`.
    Bond(BondSpec),
    /// A VRF device: `type vrf table ID`.
    Vrf(VrfSpec),
}

impl LinkKind<'_> {
    /// The kernel's name for this kind (`IFLA_INFO_KIND`).
    pub fn name(&self) -> &'static str {
        self.ops().name()
    }

    /// The kind's code: one arm per kind.
    pub(crate) fn ops(&self) -> &dyn KindOps {
        match self {
            LinkKind::Veth(k) => k,
            LinkKind::Bridge(k) => k,
            LinkKind::MacVlan(k) => k,
            LinkKind::MacVtap(k) => k,
            LinkKind::Vlan(k) => k,
            LinkKind::IpVlan(k) => k,
            LinkKind::Vxlan(k) => k,
            LinkKind::Dummy => &dummy::Dummy,
            LinkKind::Bond(k) => k,
            LinkKind::Vrf(k) => k,
        }
    }
}

/// Kind-specific details of a link, as the kernel reports them
/// ([`LinkInfo::data`](crate::LinkInfo::data)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkData {
    /// veth: the peer's index is [`LinkInfo::parent`](crate::LinkInfo::parent)
    /// (in the namespace [`LinkInfo::link_netnsid`](crate::LinkInfo::link_netnsid)
    /// names, if it differs).
    Veth,
    /// A bridge.
    Bridge(BridgeData),
    /// macvlan.
    MacVlan(MacVlanData),
    /// macvtap.
    MacVtap(MacVlanData),
    /// 802.1Q/802.1ad VLAN.
    Vlan(VlanData),
    /// ipvlan.
    IpVlan(IpVlanData),
    /// VXLAN.
    Vxlan(VxlanData),
    /// A dummy interface.
    Dummy,
    /// A bond.
    Bond(BondData),
    /// A VRF device.
    Vrf(VrfData),
    /// A kind this library does not describe, or no kind (loopback,
    /// physical NICs).
    Other,
}

/// The [`LinkData`] of a link of kind `kind` from its IFLA_INFO_DATA
/// attributes. A value of the wrong size reads as absent; attributes that do
/// not fit their buffer are an error. Kinds not listed are not decoded (so a
/// malformed attribute of a kind we do not describe cannot hurt).
pub(crate) fn parse_data(kind: &str, data: Option<&[u8]>) -> std::result::Result<LinkData, String> {
    // Kinds without details need no attribute read.
    match kind {
        "veth" => return Ok(LinkData::Veth),
        "dummy" => return Ok(LinkData::Dummy),
        _ => {}
    }
    let a = Attrs::new(kind, data.unwrap_or_default())?;
    Ok(match kind {
        "bridge" => LinkData::Bridge(bridge::parse(&a)),
        "macvlan" => LinkData::MacVlan(macvlan::parse(&a)),
        "macvtap" => LinkData::MacVtap(macvlan::parse(&a)),
        "vlan" => LinkData::Vlan(vlan::parse(&a)),
        "ipvlan" => LinkData::IpVlan(ipvlan::parse(&a)),
        "vxlan" => LinkData::Vxlan(vxlan::parse(&a)),
        "dummy" => LinkData::Dummy,
        "bond" => LinkData::Bond(bond::parse(&a)),
        "vrf" => LinkData::Vrf(vrf::parse(&a)),
        _ => LinkData::Other,
    })
}

/// The attributes of an IFLA_INFO_DATA, read by type.
pub(crate) struct Attrs<'a>(Vec<Nla<'a>>);

impl<'a> Attrs<'a> {
    fn new(kind: &str, data: &'a [u8]) -> std::result::Result<Self, String> {
        const DESCRIBED: [&str; 8] = [
            "bridge", "macvlan", "macvtap", "vlan", "ipvlan", "vxlan", "bond", "vrf",
        ];
        if !DESCRIBED.contains(&kind) {
            return Ok(Attrs(Vec::new()));
        }
        Nlas::new(data)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Attrs)
            .map_err(|e| format!("IFLA_INFO_DATA of {kind}: {e}"))
    }

    fn exact<const N: usize>(&self, t: u16) -> Option<[u8; N]> {
        self.0
            .iter()
            .find(|a| a.kind == t)
            .and_then(|a| <[u8; N]>::try_from(a.value).ok())
    }

    /// A u8 attribute.
    pub(crate) fn u8(&self, t: u16) -> Option<u8> {
        self.exact::<1>(t).map(|b| b[0])
    }

    /// A native-endian u16 attribute.
    pub(crate) fn u16_ne(&self, t: u16) -> Option<u16> {
        self.exact(t).map(u16::from_ne_bytes)
    }

    /// A big-endian (network order) u16 attribute.
    pub(crate) fn u16_be(&self, t: u16) -> Option<u16> {
        self.exact(t).map(u16::from_be_bytes)
    }

    /// A native-endian u32 attribute.
    pub(crate) fn u32(&self, t: u16) -> Option<u32> {
        self.exact(t).map(u32::from_ne_bytes)
    }

    /// An address given as an IPv4 attribute `t4` or an IPv6 one `t6`; an
    /// all-zero one is absent.
    pub(crate) fn ip(&self, t4: u16, t6: u16) -> Option<IpAddr> {
        let v4 = self.exact::<4>(t4).map(IpAddr::from);
        let v6 = self.exact::<16>(t6).map(IpAddr::from);
        let set = |a: &IpAddr| !a.is_unspecified();
        v4.filter(set).or(v6.filter(set))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        crate::nla::put(&mut v, kind, value);
        v
    }

    fn data(kind: &str, attrs: &[(u16, &[u8])]) -> LinkData {
        let d: Vec<u8> = attrs.iter().flat_map(|(t, v)| attr(*t, v)).collect();
        parse_data(kind, Some(&d)).unwrap()
    }

    #[test]
    fn kind_data_is_decoded_as_if_link_h_lays_it_out() {
        let be16 = |v: u16| v.to_be_bytes();
        assert_eq!(
            data("vlan", &[(1, &10u16.to_ne_bytes()), (5, &be16(0x88a8))]),
            LinkData::Vlan(VlanData {
                id: 10,
                protocol: VlanProtocol::Dot1AD
            })
        );
        assert_eq!(
            data("vlan", &[(1, &20u16.to_ne_bytes())]),
            LinkData::Vlan(VlanData {
                id: 20,
                protocol: VlanProtocol::Dot1Q
            })
        );
        assert_eq!(
            data("macvlan", &[(1, &4u32.to_ne_bytes())]),
            LinkData::MacVlan(MacVlanData {
                mode: Some(MacVlanMode::Bridge)
            })
        );
        assert_eq!(
            data("macvtap", &[(1, &16u32.to_ne_bytes())]),
            LinkData::MacVtap(MacVlanData {
                mode: Some(MacVlanMode::Source)
            })
        );
        assert_eq!(
            data(
                "ipvlan",
                &[(1, &1u16.to_ne_bytes()), (2, &2u16.to_ne_bytes())]
            ),
            LinkData::IpVlan(IpVlanData {
                mode: Some(IpVlanMode::L3),
                isolation: IpVlanIsolation::Vepa
            })
        );
        assert_eq!(
            data(
                "vxlan",
                &[
                    (1, &42u32.to_ne_bytes()),
                    (2, &[10, 0, 0, 1]),
                    (3, &3u32.to_ne_bytes()),
                    (4, &[0, 0, 0, 0]),
                    (7, &[0]),
                    (15, &be16(4789)),
                ]
            ),
            LinkData::Vxlan(VxlanData {
                vni: 42,
                remote: Some("10.0.0.1".parse().unwrap()),
                local: None,
                dstport: Some(4789),
                learning: Some(false),
                underlying: Some(3),
            })
        );
        assert_eq!(
            data("bridge", &[(7, &[1])]),
            LinkData::Bridge(BridgeData {
                vlan_filtering: Some(true)
            })
        );
        assert_eq!(
            data("bond", &[(1, &[4])]),
            LinkData::Bond(BondData {
                mode: Some(BondMode::Lacp)
            })
        );
        assert_eq!(
            data("vrf", &[(1, &100u32.to_ne_bytes())]),
            LinkData::Vrf(VrfData { table: Some(100) })
        );
        assert_eq!(data("dummy", &[]), LinkData::Dummy);
        assert_eq!(parse_data("veth", None).unwrap(), LinkData::Veth);
    }

    #[test]
    fn malformed_kind_data_never_panics() {
        // Values of the wrong size read as absent.
        assert_eq!(
            data("vlan", &[(1, &10u32.to_ne_bytes())]),
            LinkData::Vlan(VlanData {
                id: 0,
                protocol: VlanProtocol::Dot1Q
            })
        );
        assert_eq!(
            data("macvlan", &[(1, &[4])]),
            LinkData::MacVlan(MacVlanData { mode: None })
        );
        // Found by the netlink_payload fuzz target: netlink-packet-route 0.34
        // panicked on a bareudp IFLA_BAREUDP_PORT of 4 bytes (it expects 2);
        // kinds LinkData does not describe are not decoded.
        assert_eq!(data("bareudp", &[(1, &[0, 0, 0, 0])]), LinkData::Other);
        assert_eq!(
            parse_data("bareudp", Some(&[200, 0, 1, 0, 0])).unwrap(),
            LinkData::Other
        );
        // Attributes that do not fit: an error, not a panic.
        assert!(parse_data("vlan", Some(&[200, 0, 1, 0, 0]))
            .unwrap_err()
            .contains("vlan"));
    }

    #[test]
    fn named_enums_round_trip() {
        for m in ["private", "vepa", "bridge", "passthru", "source"] {
            assert_eq!(m.parse::<MacVlanMode>().unwrap().to_string(), m);
        }
        assert_eq!(
            "802.1ad".parse::<VlanProtocol>().unwrap(),
            VlanProtocol::Dot1AD
        );
        let e = "l4".parse::<IpVlanMode>().unwrap_err();
        assert!(e.to_string().contains("l2 l3 l3s"), "{e}");
        assert!(e.is_invalid_argument());
        // The bond mode numbers are BOND_MODE_* of the kernel.
        assert_eq!(BondMode::BalanceRr.number(), 0);
        assert_eq!(BondMode::Lacp.number(), 4);
        assert_eq!(BondMode::BalanceAlb.number(), 6);
    }
}
