//! bridge: a Linux software switch (`ip link add NAME type bridge
//! [vlan_filtering 0|1]`). Its ports join with
//! [`Handle::link_set_controller`](crate::Handle::link_set_controller); the
//! VLANs of its ports are in [`crate::bridge`].

use netlink_packet_route::link::{InfoBridge, InfoData, InfoKind};

use super::{Attrs, KindOps};
use crate::link::{LinkSpec, Resolved};

/// Options of a bridge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BridgeSpec {
    /// `vlan_filtering 0|1`.
    pub vlan_filtering: Option<bool>,
}

/// What the kernel reports of a bridge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BridgeData {
    /// Whether VLAN filtering is on.
    pub vlan_filtering: Option<bool>,
}

const IFLA_BR_VLAN_FILTERING: u16 = 7;

impl KindOps for BridgeSpec {
    fn name(&self) -> &'static str {
        "bridge"
    }

    fn info_data(&self, _: &LinkSpec<'_>, _: Resolved) -> (InfoKind, Option<InfoData>) {
        let mut d = Vec::new();
        if let Some(f) = self.vlan_filtering {
            d.push(InfoBridge::VlanFiltering(f));
        }
        (
            InfoKind::Bridge,
            (!d.is_empty()).then_some(InfoData::Bridge(d)),
        )
    }

    fn optional_feature(&self) -> Option<&'static str> {
        // A kernel built without CONFIG_BRIDGE_VLAN_FILTERING refuses
        // `vlan_filtering 1` with a bare EOPNOTSUPP.
        (self.vlan_filtering == Some(true)).then_some("bridge VLAN filtering (vlan_filtering 1)")
    }
}

pub(super) fn parse(a: &Attrs<'_>) -> BridgeData {
    BridgeData {
        vlan_filtering: a.u8(IFLA_BR_VLAN_FILTERING).map(|f| f != 0),
    }
}
