//! vlan: an 802.1Q or 802.1ad sub-interface of a parent (`ip link add link
//! PARENT NAME type vlan id ID [protocol 802.1Q|802.1ad]`).

use netlink_packet_route::link::{InfoData, InfoKind, InfoVlan, VlanProtocol as NlVlanProtocol};

use super::{Attrs, KindOps};
use crate::error::{Error, Result};
use crate::link::{LinkSpec, Resolved};

named! {
    /// The VLAN tag protocol (`protocol` in `ip link add ... type vlan`).
    enum VlanProtocol {
        /// IEEE 802.1Q (C-tag, ethertype 0x8100), the default.
        Dot1Q = "802.1Q",
        /// IEEE 802.1ad (S-tag, QinQ, ethertype 0x88a8).
        Dot1AD = "802.1ad",
    }
}

/// Options of a VLAN sub-interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanSpec {
    /// The VLAN id, 0..=4094.
    pub id: u16,
    /// The tag protocol.
    pub protocol: VlanProtocol,
}

/// What the kernel reports of a VLAN sub-interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanData {
    /// The VLAN id.
    pub id: u16,
    /// The tag protocol.
    pub protocol: VlanProtocol,
}

const IFLA_VLAN_ID: u16 = 1;
const IFLA_VLAN_PROTOCOL: u16 = 5;
const ETH_P_8021AD: u16 = 0x88a8;

impl KindOps for VlanSpec {
    fn name(&self) -> &'static str {
        "vlan"
    }

    fn needs_parent(&self) -> bool {
        true
    }

    fn validate(&self, link: &LinkSpec<'_>) -> Result<()> {
        if self.id >= 4095 {
            return Err(Error::invalid(
                "link_add",
                &link.name,
                format!("vlan id {} is out of range 0..=4094", self.id),
            ));
        }
        Ok(())
    }

    fn info_data(&self, _: &LinkSpec<'_>, _: Resolved) -> (InfoKind, Option<InfoData>) {
        let mut d = vec![InfoVlan::Id(self.id)];
        // iproute2 sends the protocol only when it is given; 802.1Q is the
        // kernel's default.
        if self.protocol == VlanProtocol::Dot1AD {
            d.push(InfoVlan::Protocol(NlVlanProtocol::Ieee8021Ad));
        }
        (InfoKind::Vlan, Some(InfoData::Vlan(d)))
    }
}

pub(super) fn parse(a: &Attrs<'_>) -> VlanData {
    VlanData {
        id: a.u16_ne(IFLA_VLAN_ID).unwrap_or(0),
        // IFLA_VLAN_PROTOCOL is big-endian; absent means 802.1Q.
        protocol: match a.u16_be(IFLA_VLAN_PROTOCOL) {
            Some(ETH_P_8021AD) => VlanProtocol::Dot1AD,
            _ => VlanProtocol::Dot1Q,
        },
    }
}
