//! ipvlan: sub-interfaces of a parent sharing its MAC address (`ip link add
//! link PARENT NAME type ipvlan mode l2|l3|l3s [bridge|private|vepa]`).

use netlink_packet_route::link::{
    InfoData, InfoIpVlan, InfoKind, IpVlanFlags as NlIpVlanFlags, IpVlanMode as NlIpVlanMode,
};

use super::{Attrs, KindOps};
use crate::link::{LinkSpec, Resolved};

named! {
    /// ipvlan mode.
    enum IpVlanMode {
        /// Layer 2: the parent switches by MAC (neighbour discovery works).
        L2 = "l2",
        /// Layer 3: the parent routes; no broadcast/multicast.
        L3 = "l3",
        /// Layer 3 with netfilter (conntrack) on the slave side.
        L3S = "l3s",
    }
}

named! {
    /// ipvlan isolation (`bridge`, `private` or `vepa` after the mode).
    enum IpVlanIsolation {
        /// Sub-interfaces talk to each other (the default).
        Bridge = "bridge",
        /// Sub-interfaces are isolated from each other.
        Private = "private",
        /// Traffic between sub-interfaces goes out to the switch.
        Vepa = "vepa",
    }
}

/// Options of an ipvlan sub-interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpVlanSpec {
    /// The mode.
    pub mode: IpVlanMode,
    /// The isolation flag.
    pub isolation: IpVlanIsolation,
}

/// What the kernel reports of an ipvlan sub-interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpVlanData {
    /// The mode.
    pub mode: Option<IpVlanMode>,
    /// The isolation flag.
    pub isolation: IpVlanIsolation,
}

const IFLA_IPVLAN_MODE: u16 = 1;
const IFLA_IPVLAN_FLAGS: u16 = 2;
const IPVLAN_F_PRIVATE: u16 = 1;
const IPVLAN_F_VEPA: u16 = 2;

impl KindOps for IpVlanSpec {
    fn name(&self) -> &'static str {
        "ipvlan"
    }

    fn needs_parent(&self) -> bool {
        true
    }

    fn info_data(&self, _: &LinkSpec<'_>, _: Resolved) -> (InfoKind, Option<InfoData>) {
        let m = match self.mode {
            IpVlanMode::L2 => NlIpVlanMode::L2,
            IpVlanMode::L3 => NlIpVlanMode::L3,
            IpVlanMode::L3S => NlIpVlanMode::L3S,
        };
        let f = match self.isolation {
            IpVlanIsolation::Bridge => NlIpVlanFlags::empty(),
            IpVlanIsolation::Private => NlIpVlanFlags::Private,
            IpVlanIsolation::Vepa => NlIpVlanFlags::Vepa,
        };
        (
            InfoKind::IpVlan,
            Some(InfoData::IpVlan(vec![
                InfoIpVlan::Mode(m),
                InfoIpVlan::Flags(f),
            ])),
        )
    }
}

pub(super) fn parse(a: &Attrs<'_>) -> IpVlanData {
    let flags = a.u16_ne(IFLA_IPVLAN_FLAGS).unwrap_or(0);
    IpVlanData {
        mode: match a.u16_ne(IFLA_IPVLAN_MODE) {
            Some(0) => Some(IpVlanMode::L2),
            Some(1) => Some(IpVlanMode::L3),
            Some(2) => Some(IpVlanMode::L3S),
            _ => None,
        },
        isolation: if flags & IPVLAN_F_PRIVATE != 0 {
            IpVlanIsolation::Private
        } else if flags & IPVLAN_F_VEPA != 0 {
            IpVlanIsolation::Vepa
        } else {
            IpVlanIsolation::Bridge
        },
    }
}
