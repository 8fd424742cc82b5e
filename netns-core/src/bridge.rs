//! Bridge ports: their options ([`Handle::bridge_port_set`], `ip link set
//! ... type bridge_slave`) and, with VLAN filtering, their VLANs
//! (`bridge vlan`).
//!
//! A bridge created with VLAN filtering on
//! (`BridgeSpec { vlan_filtering: Some(true) }`) forwards a frame only between
//! ports that carry its VLAN. Each port (and the bridge device itself, for
//! its own traffic) has a set of VLANs; one of them may be the PVID (untagged
//! frames arriving on the port belong to it) and any may egress untagged.
//!
//! ```no_run
//! use netns_core::{BridgeVlan, Handle};
//! let h = Handle::new()?;
//! // bridge vlan add dev veth-a vid 10 pvid untagged
//! h.bridge_vlan_add("veth-a", &BridgeVlan::access(10))?;
//! // bridge vlan add dev trunk0 vid 20
//! h.bridge_vlan_add("trunk0", &BridgeVlan::tagged(20))?;
//! # Ok::<(), netns_core::Error>(())
//! ```
//!
//! # References
//! [bridge(8)](https://man7.org/linux/man-pages/man8/bridge.8.html) `vlan`, linux/if_bridge.h (struct bridge_vlan_info),
//! net/bridge/br_netlink.c.

use netlink_packet_route::link::{
    AfSpecBridge, BridgeFlag, BridgeVlanInfo, BridgeVlanInfoFlags, InfoBridgePort, InfoPortData,
    InfoPortKind, LinkAttribute, LinkExtentMask, LinkInfo, LinkMessage,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::{Error, ErrorKind, Result};
use crate::link::LinkId;
use crate::nla::Nlas;
use crate::socket::Verb;
use crate::Handle;

/// A VLAN of a bridge port, to add or as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BridgeVlan {
    /// The VLAN id, 1..=4094.
    pub vid: u16,
    /// `pvid`: untagged frames entering the port belong to this VLAN.
    pub pvid: bool,
    /// `untagged`: frames of this VLAN leave the port without a tag.
    pub untagged: bool,
}

impl BridgeVlan {
    /// A tagged (trunk) VLAN: `vid N`.
    pub fn tagged(vid: u16) -> Self {
        BridgeVlan {
            vid,
            pvid: false,
            untagged: false,
        }
    }

    /// An access VLAN: `vid N pvid untagged`.
    pub fn access(vid: u16) -> Self {
        BridgeVlan {
            vid,
            pvid: true,
            untagged: true,
        }
    }
}

/// The VLANs of one port (or of a bridge device itself), as
/// `bridge vlan show` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortVlans {
    /// The port's (or bridge's) index.
    pub index: u32,
    /// Its VLANs, in the kernel's order.
    pub vlans: Vec<BridgeVlan>,
}

const RTM_NEWLINK: u16 = 16;
const IFLA_AF_SPEC: u16 = 26;
const IFLA_BRIDGE_VLAN_INFO: u16 = 2;

fn check_vid(op: &'static str, dev: &LinkId, vid: u16) -> Result<()> {
    if vid == 0 || vid >= 4095 {
        return Err(Error::invalid(
            op,
            dev.to_string(),
            format!("vlan id {vid} is out of range 1..=4094"),
        ));
    }
    Ok(())
}

/// RTM_SETLINK / RTM_DELLINK of family AF_BRIDGE with one
/// IFLA_BRIDGE_VLAN_INFO, as the `bridge` tool sends it.
pub(crate) fn vlan_request(index: u32, vlan: &BridgeVlan, on_bridge: bool) -> LinkMessage {
    let mut flags = BridgeVlanInfoFlags::empty();
    if vlan.pvid {
        flags |= BridgeVlanInfoFlags::Pvid;
    }
    if vlan.untagged {
        flags |= BridgeVlanInfoFlags::Untagged;
    }
    let mut spec = Vec::new();
    if on_bridge {
        spec.push(AfSpecBridge::Flags(BridgeFlag::LowerDev));
    }
    spec.push(AfSpecBridge::VlanInfo(BridgeVlanInfo {
        flags,
        vid: vlan.vid,
    }));
    let mut msg = LinkMessage::default();
    msg.header.interface_family = AddressFamily::Bridge;
    msg.header.index = index;
    msg.attributes.push(LinkAttribute::AfSpecBridge(spec));
    msg
}

/// Options of a bridge port to change; `None` leaves one as it is.
///
/// ```no_run
/// use netns_core::{BridgePortChanges, Handle};
/// let h = Handle::new()?;
/// // ip link set dev veth-a type bridge_slave hairpin on
/// h.bridge_port_set("veth-a", &BridgePortChanges { hairpin: Some(true), ..Default::default() })?;
/// # Ok::<(), netns_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BridgePortChanges {
    /// `hairpin on|off`: frames may be sent back out of the port they came
    /// in on (IFLA_BRPORT_MODE).
    pub hairpin: Option<bool>,
    /// `isolated on|off`: the port forwards only to ports that are not
    /// isolated (IFLA_BRPORT_ISOLATED).
    pub isolated: Option<bool>,
    /// `learning on|off`: the bridge learns source MACs on the port.
    pub learning: Option<bool>,
    /// `flood on|off`: unknown-unicast frames are flooded to the port.
    pub flood: Option<bool>,
}

impl Handle {
    /// Change options of a bridge port (a link whose controller is a
    /// bridge).
    ///
    /// Equivalent to `ip link set dev PORT type bridge_slave [hairpin on|off]
    /// [isolated on|off] [learning on|off] [flood on|off]`.
    #[doc(alias = "bridge link set")]
    #[doc(alias = "bridge_slave")]
    pub fn bridge_port_set(
        &self,
        port: impl Into<LinkId>,
        changes: &BridgePortChanges,
    ) -> Result<()> {
        const OP: &str = "bridge_port_set";
        let port = port.into();
        let index = self.resolve_link(OP, &port, "device", &port)?;
        let mut data = Vec::new();
        if let Some(v) = changes.hairpin {
            data.push(InfoBridgePort::HairpinMode(v));
        }
        if let Some(v) = changes.isolated {
            data.push(InfoBridgePort::Isolated(v));
        }
        if let Some(v) = changes.learning {
            data.push(InfoBridgePort::Learning(v));
        }
        if let Some(v) = changes.flood {
            data.push(InfoBridgePort::UnicastFlood(v));
        }
        if data.is_empty() {
            return Ok(());
        }
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(data)),
        ]));
        self.sock()
            .ack(OP, &port, RouteNetlinkMessage::NewLink(msg), Verb::Change)
    }

    fn bridge_vlan_change(
        &self,
        op: &'static str,
        dev: LinkId,
        vlan: &BridgeVlan,
        on_bridge: bool,
        add: bool,
    ) -> Result<()> {
        check_vid(op, &dev, vlan.vid)?;
        let object = format!("{dev} vid {}", vlan.vid);
        let index = self.resolve_link(op, &object, "device", &dev)?;
        let msg = vlan_request(index, vlan, on_bridge);
        let (msg, verb) = if add {
            (RouteNetlinkMessage::SetLink(msg), Verb::Change)
        } else {
            (RouteNetlinkMessage::DelLink(msg), Verb::Del)
        };
        self.sock()
            .ack(op, &object, msg, verb)
            .map_err(|e| match e.kind() {
                ErrorKind::Kernel {
                    errno: libc::EOPNOTSUPP,
                    ..
                } => e.into_unsupported("bridge VLAN filtering".into()),
                _ => e,
            })
    }

    /// Add a VLAN to a bridge port (the bridge needs VLAN filtering on).
    ///
    /// Equivalent to `bridge vlan add dev PORT vid N [pvid] [untagged]`.
    #[doc(alias = "bridge vlan add")]
    #[doc(alias = "RTM_SETLINK")]
    pub fn bridge_vlan_add(&self, port: impl Into<LinkId>, vlan: &BridgeVlan) -> Result<()> {
        self.bridge_vlan_change("bridge_vlan_add", port.into(), vlan, false, true)
    }

    /// Remove a VLAN from a bridge port.
    ///
    /// Equivalent to `bridge vlan del dev PORT vid N`.
    #[doc(alias = "bridge vlan del")]
    #[doc(alias = "RTM_DELLINK")]
    pub fn bridge_vlan_del(&self, port: impl Into<LinkId>, vid: u16) -> Result<()> {
        self.bridge_vlan_change(
            "bridge_vlan_del",
            port.into(),
            &BridgeVlan::tagged(vid),
            false,
            false,
        )
    }

    /// Add a VLAN to the bridge device itself (its own, local traffic).
    ///
    /// Equivalent to `bridge vlan add dev BRIDGE vid N [pvid] [untagged] self`.
    #[doc(alias = "bridge vlan add self")]
    pub fn bridge_vlan_add_self(&self, bridge: impl Into<LinkId>, vlan: &BridgeVlan) -> Result<()> {
        self.bridge_vlan_change("bridge_vlan_add", bridge.into(), vlan, true, true)
    }

    /// Remove a VLAN from the bridge device itself.
    ///
    /// Equivalent to `bridge vlan del dev BRIDGE vid N self`.
    #[doc(alias = "bridge vlan del self")]
    pub fn bridge_vlan_del_self(&self, bridge: impl Into<LinkId>, vid: u16) -> Result<()> {
        self.bridge_vlan_change(
            "bridge_vlan_del",
            bridge.into(),
            &BridgeVlan::tagged(vid),
            true,
            false,
        )
    }

    /// The VLANs of every bridge port and bridge that has some.
    ///
    /// Equivalent to `bridge vlan show` (one entry per VLAN, ranges not
    /// compressed).
    #[doc(alias = "bridge vlan show")]
    pub fn bridge_vlans(&self) -> Result<Vec<PortVlans>> {
        const OP: &str = "bridge_vlans";
        let mut req = LinkMessage::default();
        req.header.interface_family = AddressFamily::Bridge;
        req.attributes
            .push(LinkAttribute::ExtMask(vec![LinkExtentMask::Brvlan]));
        let all = self
            .sock()
            .dump(OP, &"all", RouteNetlinkMessage::GetLink(req), |r| {
                if r.message_type != RTM_NEWLINK {
                    return Ok(None);
                }
                parse_port_vlans(r.payload).map_err(|e| Error::protocol(OP, "all", e))
            })?;
        Ok(all.into_iter().filter(|p| !p.vlans.is_empty()).collect())
    }

    /// The VLANs of one port (empty if it has none).
    #[doc(alias = "bridge vlan show dev")]
    pub fn bridge_vlans_of(&self, port: impl Into<LinkId>) -> Result<Vec<BridgeVlan>> {
        let port = port.into();
        let index = self.resolve_link("bridge_vlans_of", &port, "device", &port)?;
        Ok(self
            .bridge_vlans()?
            .into_iter()
            .find(|p| p.index == index)
            .map(|p| p.vlans)
            .unwrap_or_default())
    }
}

/// The VLAN entries of an AF_BRIDGE RTM_NEWLINK (IFLA_AF_SPEC ->
/// IFLA_BRIDGE_VLAN_INFO, `struct bridge_vlan_info { u16 flags; u16 vid; }`).
fn parse_port_vlans(payload: &[u8]) -> std::result::Result<Option<PortVlans>, String> {
    let index = payload
        .get(4..8)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .ok_or("link message shorter than its header")?;
    let attrs = payload
        .get(16..)
        .ok_or("link message shorter than its header")?;
    let mut vlans = Vec::new();
    for nla in Nlas::new(attrs) {
        let nla = nla?;
        if nla.kind != IFLA_AF_SPEC {
            continue;
        }
        for inner in Nlas::new(nla.value) {
            let inner = inner?;
            if inner.kind != IFLA_BRIDGE_VLAN_INFO {
                continue;
            }
            let v = inner.value;
            if v.len() < 4 {
                return Err("short IFLA_BRIDGE_VLAN_INFO".into());
            }
            let flags = u16::from_ne_bytes([v[0], v[1]]);
            let vid = u16::from_ne_bytes([v[2], v[3]]);
            vlans.push(BridgeVlan {
                vid,
                pvid: flags & BridgeVlanInfoFlags::Pvid.bits() != 0,
                untagged: flags & BridgeVlanInfoFlags::Untagged.bits() != 0,
            });
        }
    }
    Ok(Some(PortVlans { index, vlans }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlan_ids_are_checked() {
        for bad in [0u16, 4095, 5000] {
            assert!(check_vid("t", &LinkId::from("p0"), bad)
                .unwrap_err()
                .is_invalid_argument());
        }
        assert!(check_vid("t", &LinkId::from("p0"), 4094).is_ok());
    }

    #[test]
    fn parses_vlan_entries() {
        let mut p = vec![0u8; 16];
        p[4..8].copy_from_slice(&7u32.to_ne_bytes());
        // IFLA_AF_SPEC { VLAN_INFO{pvid|untagged, 10}, VLAN_INFO{0, 20} }
        let mut spec = Vec::new();
        for (flags, vid) in [(6u16, 10u16), (0, 20)] {
            spec.extend_from_slice(&8u16.to_ne_bytes());
            spec.extend_from_slice(&IFLA_BRIDGE_VLAN_INFO.to_ne_bytes());
            spec.extend_from_slice(&flags.to_ne_bytes());
            spec.extend_from_slice(&vid.to_ne_bytes());
        }
        p.extend_from_slice(&((4 + spec.len()) as u16).to_ne_bytes());
        p.extend_from_slice(&IFLA_AF_SPEC.to_ne_bytes());
        p.extend_from_slice(&spec);
        let got = parse_port_vlans(&p).unwrap().unwrap();
        assert_eq!(got.index, 7);
        assert_eq!(
            got.vlans,
            vec![BridgeVlan::access(10), BridgeVlan::tagged(20)]
        );
        assert!(parse_port_vlans(&[0u8; 8]).is_err());
    }
}
