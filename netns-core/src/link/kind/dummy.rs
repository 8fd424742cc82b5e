//! dummy: a device that drops everything it is given (`ip link add NAME
//! type dummy`).

use netlink_packet_route::link::{InfoData, InfoKind};

use super::KindOps;
use crate::link::{LinkSpec, Resolved};

/// The dummy kind has no options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dummy;

impl KindOps for Dummy {
    fn name(&self) -> &'static str {
        "dummy"
    }

    fn info_data(&self, _: &LinkSpec<'_>, _: Resolved) -> (InfoKind, Option<InfoData>) {
        (InfoKind::Dummy, None)
    }
}
