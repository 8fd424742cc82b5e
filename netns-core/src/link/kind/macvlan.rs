//! macvlan and macvtap: sub-interfaces of a parent with MAC addresses of
//! their own (`ip link add link PARENT NAME type macvlan|macvtap mode MODE`).

use netlink_packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, InfoMacVtap, MacVlanMacAddressMode,
    MacVlanMode as NlMacVlanMode,
};

use super::{Attrs, KindOps};
use crate::error::{Error, Result};
use crate::link::{LinkSpec, MacAddr, Resolved};

named! {
    /// macvlan / macvtap mode (`mode` in `ip link add ... type macvlan`).
    enum MacVlanMode {
        /// Do not let sub-interfaces on the same parent talk to each other.
        Private = "private",
        /// Send everything to the external switch (reflective relay).
        Vepa = "vepa",
        /// Sub-interfaces on the same parent talk directly.
        Bridge = "bridge",
        /// One sub-interface takes over the parent (for VMs).
        Passthru = "passthru",
        /// Accept only frames from a list of source MAC addresses.
        Source = "source",
    }
}

impl MacVlanMode {
    /// MACVLAN_MODE_* of linux/if_link.h.
    const fn bits(self) -> u32 {
        match self {
            MacVlanMode::Private => 1,
            MacVlanMode::Vepa => 2,
            MacVlanMode::Bridge => 4,
            MacVlanMode::Passthru => 8,
            MacVlanMode::Source => 16,
        }
    }

    fn nl(self) -> NlMacVlanMode {
        NlMacVlanMode::from(self.bits())
    }
}

/// Options of a macvlan sub-interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacVlanSpec {
    /// The mode.
    pub mode: MacVlanMode,
    /// For `mode source`: the allowed source MAC addresses.
    pub source_macs: Vec<MacAddr>,
}

/// Options of a macvtap sub-interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacVtapSpec {
    /// The mode.
    pub mode: MacVlanMode,
}

/// What the kernel reports of a macvlan or macvtap sub-interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MacVlanData {
    /// The mode.
    pub mode: Option<MacVlanMode>,
}

const IFLA_MACVLAN_MODE: u16 = 1;

impl KindOps for MacVlanSpec {
    fn name(&self) -> &'static str {
        "macvlan"
    }

    fn needs_parent(&self) -> bool {
        true
    }

    fn validate(&self, link: &LinkSpec<'_>) -> Result<()> {
        if !self.source_macs.is_empty() && self.mode != MacVlanMode::Source {
            return Err(Error::invalid(
                "link_add",
                &link.name,
                "source MAC addresses need macvlan mode source",
            ));
        }
        Ok(())
    }

    fn info_data(&self, _: &LinkSpec<'_>, _: Resolved) -> (InfoKind, Option<InfoData>) {
        let mut d = vec![InfoMacVlan::Mode(self.mode.nl())];
        if !self.source_macs.is_empty() {
            d.push(InfoMacVlan::MacAddrMode(MacVlanMacAddressMode::Set));
            d.push(InfoMacVlan::MacAddrData(
                self.source_macs
                    .iter()
                    .map(|m| InfoMacVlan::MacAddr(m.0))
                    .collect(),
            ));
        }
        (InfoKind::MacVlan, Some(InfoData::MacVlan(d)))
    }
}

impl KindOps for MacVtapSpec {
    fn name(&self) -> &'static str {
        "macvtap"
    }

    fn needs_parent(&self) -> bool {
        true
    }

    fn info_data(&self, _: &LinkSpec<'_>, _: Resolved) -> (InfoKind, Option<InfoData>) {
        (
            InfoKind::MacVtap,
            Some(InfoData::MacVtap(vec![InfoMacVtap::Mode(self.mode.nl())])),
        )
    }
}

pub(super) fn parse(a: &Attrs<'_>) -> MacVlanData {
    MacVlanData {
        mode: a.u32(IFLA_MACVLAN_MODE).and_then(|m| {
            MacVlanMode::NAMES
                .iter()
                .map(|(mode, _)| *mode)
                .find(|mode| mode.bits() == m)
        }),
    }
}
