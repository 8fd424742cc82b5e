//! vrf: a routing domain (`ip link add NAME type vrf table ID`). Links join
//! it with [`Handle::link_set_controller`](crate::Handle::link_set_controller);
//! its routes go in its table.

use netlink_packet_route::link::{InfoData, InfoKind, InfoVrf};

use super::{Attrs, KindOps};
use crate::error::{Error, Result};
use crate::link::{LinkSpec, Resolved};

/// Options of a VRF device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrfSpec {
    /// The routing table of the VRF (not 0).
    pub table: u32,
}

/// What the kernel reports of a VRF device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VrfData {
    /// Its routing table.
    pub table: Option<u32>,
}

const IFLA_VRF_TABLE: u16 = 1;

impl KindOps for VrfSpec {
    fn name(&self) -> &'static str {
        "vrf"
    }

    fn validate(&self, link: &LinkSpec<'_>) -> Result<()> {
        if self.table == 0 {
            return Err(Error::invalid(
                "link_add",
                &link.name,
                "a vrf needs a table id other than 0",
            ));
        }
        Ok(())
    }

    fn info_data(&self, _: &LinkSpec<'_>, _: Resolved) -> (InfoKind, Option<InfoData>) {
        (
            InfoKind::Vrf,
            Some(InfoData::Vrf(vec![InfoVrf::TableId(self.table)])),
        )
    }
}

pub(super) fn parse(a: &Attrs<'_>) -> VrfData {
    VrfData {
        table: a.u32(IFLA_VRF_TABLE),
    }
}
