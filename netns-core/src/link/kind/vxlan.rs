//! vxlan: an Ethernet segment tunnelled over UDP (`ip link add NAME type
//! vxlan id VNI [local A] [remote A | group A dev DEV] [dstport P] ...`). The
//! spec's parent is the underlying device (`dev`), sent as IFLA_VXLAN_LINK.

use std::net::IpAddr;

use netlink_packet_route::link::{InfoData, InfoKind, InfoVxlan};

use super::{Attrs, KindOps};
use crate::error::{Error, Result};
use crate::link::{LinkSpec, Resolved};

/// Options of a VXLAN link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VxlanSpec {
    /// The VXLAN network identifier (24 bits).
    pub vni: u32,
    /// `local ADDR`: the source address of encapsulated packets.
    pub local: Option<IpAddr>,
    /// `remote ADDR` (unicast) or `group ADDR` (multicast; needs an
    /// underlying device given as the link's parent).
    pub remote: Option<IpAddr>,
    /// `dstport PORT`; the kernel's default (8472) if unset. IANA's is 4789.
    pub dstport: Option<u16>,
    /// `learning` / `nolearning`.
    pub learning: Option<bool>,
    /// `ttl N`.
    pub ttl: Option<u8>,
}

/// What the kernel reports of a VXLAN link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VxlanData {
    /// VNI.
    pub vni: u32,
    /// Remote or group address.
    pub remote: Option<IpAddr>,
    /// Local address.
    pub local: Option<IpAddr>,
    /// Destination UDP port.
    pub dstport: Option<u16>,
    /// Whether the FDB learns.
    pub learning: Option<bool>,
    /// The underlying device's index.
    pub underlying: Option<u32>,
}

const IFLA_VXLAN_ID: u16 = 1;
const IFLA_VXLAN_GROUP: u16 = 2;
const IFLA_VXLAN_LINK: u16 = 3;
const IFLA_VXLAN_LOCAL: u16 = 4;
const IFLA_VXLAN_LEARNING: u16 = 7;
const IFLA_VXLAN_PORT: u16 = 15;
const IFLA_VXLAN_GROUP6: u16 = 16;
const IFLA_VXLAN_LOCAL6: u16 = 17;

impl KindOps for VxlanSpec {
    fn name(&self) -> &'static str {
        "vxlan"
    }

    fn parent_in_info_data(&self) -> bool {
        true
    }

    fn validate(&self, link: &LinkSpec<'_>) -> Result<()> {
        let bad = |why: String| Err(Error::invalid("link_add", &link.name, why));
        if self.vni >= 1 << 24 {
            return bad(format!(
                "vxlan id {} is out of range 0..=16777215",
                self.vni
            ));
        }
        if let (Some(l), Some(r)) = (self.local, self.remote) {
            if l.is_ipv4() != r.is_ipv4() {
                return bad(format!(
                    "local {l} and remote {r} are of different families"
                ));
            }
        }
        if let Some(r) = self.remote {
            if r.is_multicast() && link.parent.is_none() {
                return bad(format!(
                    "multicast group {r} needs an underlying device (`dev`)"
                ));
            }
        }
        if self.dstport == Some(0) {
            return bad("dstport 0 is not a valid port".into());
        }
        Ok(())
    }

    fn info_data(&self, _: &LinkSpec<'_>, resolved: Resolved) -> (InfoKind, Option<InfoData>) {
        let mut d = vec![InfoVxlan::Id(self.vni)];
        match self.remote {
            Some(IpAddr::V4(a)) => d.push(InfoVxlan::Group(a)),
            Some(IpAddr::V6(a)) => d.push(InfoVxlan::Group6(a)),
            None => {}
        }
        match self.local {
            Some(IpAddr::V4(a)) => d.push(InfoVxlan::Local(a)),
            Some(IpAddr::V6(a)) => d.push(InfoVxlan::Local6(a)),
            None => {}
        }
        if let Some(p) = resolved.parent {
            d.push(InfoVxlan::Link(p));
        }
        if let Some(t) = self.ttl {
            d.push(InfoVxlan::Ttl(t));
        }
        if let Some(l) = self.learning {
            d.push(InfoVxlan::Learning(l));
        }
        if let Some(p) = self.dstport {
            d.push(InfoVxlan::Port(p));
        }
        (InfoKind::Vxlan, Some(InfoData::Vxlan(d)))
    }
}

pub(super) fn parse(a: &Attrs<'_>) -> VxlanData {
    VxlanData {
        vni: a.u32(IFLA_VXLAN_ID).unwrap_or(0),
        remote: a.ip(IFLA_VXLAN_GROUP, IFLA_VXLAN_GROUP6),
        local: a.ip(IFLA_VXLAN_LOCAL, IFLA_VXLAN_LOCAL6),
        // IFLA_VXLAN_PORT is big-endian.
        dstport: a.u16_be(IFLA_VXLAN_PORT),
        learning: a.u8(IFLA_VXLAN_LEARNING).map(|l| l != 0),
        underlying: a.u32(IFLA_VXLAN_LINK).filter(|&l| l != 0),
    }
}
