//! bond: several ports acting as one link (`ip link add NAME type bond mode
//! MODE [miimon MS]`). Ports join with
//! [`Handle::link_set_controller`](crate::Handle::link_set_controller) (a
//! port must be down to join).

use netlink_packet_route::link::{BondMode as NlBondMode, InfoBond, InfoData, InfoKind};

use super::{Attrs, KindOps};
use crate::link::{LinkSpec, Resolved};

named! {
    /// Bonding mode (`mode` in `ip link add NAME type bond`).
    enum BondMode {
        /// Round-robin over the ports (mode 0).
        BalanceRr = "balance-rr",
        /// One active port, the others standing by (mode 1).
        ActiveBackup = "active-backup",
        /// Hash of the addresses picks the port (mode 2).
        BalanceXor = "balance-xor",
        /// Everything on every port (mode 3).
        Broadcast = "broadcast",
        /// IEEE 802.3ad dynamic link aggregation, LACP (mode 4).
        Lacp = "802.3ad",
        /// Adaptive transmit load balancing (mode 5).
        BalanceTlb = "balance-tlb",
        /// Adaptive load balancing (mode 6).
        BalanceAlb = "balance-alb",
    }
}

impl BondMode {
    /// The kernel's number of the mode (BOND_MODE_*): its place in the
    /// list above.
    pub(super) fn number(self) -> u8 {
        BondMode::NAMES
            .iter()
            .position(|(m, _)| *m == self)
            .and_then(|p| u8::try_from(p).ok())
            .unwrap_or(0)
    }
}

/// Options of a bond.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BondSpec {
    /// The mode.
    pub mode: BondMode,
    /// `miimon MS`: link monitoring interval in milliseconds.
    pub miimon: Option<u32>,
}

/// What the kernel reports of a bond.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BondData {
    /// The mode.
    pub mode: Option<BondMode>,
}

const IFLA_BOND_MODE: u16 = 1;

impl KindOps for BondSpec {
    fn name(&self) -> &'static str {
        "bond"
    }

    fn info_data(&self, _: &LinkSpec<'_>, _: Resolved) -> (InfoKind, Option<InfoData>) {
        let mut d = vec![InfoBond::Mode(NlBondMode::from(self.mode.number()))];
        if let Some(m) = self.miimon {
            d.push(InfoBond::MiiMon(m));
        }
        (InfoKind::Bond, Some(InfoData::Bond(d)))
    }
}

pub(super) fn parse(a: &Attrs<'_>) -> BondData {
    BondData {
        mode: a
            .u8(IFLA_BOND_MODE)
            .and_then(|m| BondMode::NAMES.get(usize::from(m)).map(|(mode, _)| *mode)),
    }
}
