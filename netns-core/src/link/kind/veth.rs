//! veth: a pair of connected Ethernet devices (`ip link add NAME type veth
//! peer name PEER [netns NS]`).

use std::os::fd::AsRawFd;

use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkMessage};

use super::KindOps;
use crate::error::{Error, Result};
use crate::link::{validate_ifname, validate_mac, LinkSpec, MacAddr, Resolved};
use crate::NetNs;

/// Options of a veth pair: the other end. The spec's MTU is given to both
/// ends (as vishvananda/netlink and the CNI plugins do; iproute2 needs it
/// repeated after `peer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VethSpec<'a> {
    /// The peer's name.
    pub peer: String,
    /// Create the peer directly in this namespace.
    pub peer_netns: Option<&'a NetNs>,
    /// The peer's MAC address.
    pub peer_mac: Option<MacAddr>,
    /// Bring the peer up once the pair exists (`ip link set PEER up`: the
    /// kernel cannot open a veth end before its pair is complete, so this
    /// is a second request, and a failure of it deletes the pair).
    pub peer_up: bool,
}

impl KindOps for VethSpec<'_> {
    fn name(&self) -> &'static str {
        "veth"
    }

    fn validate(&self, link: &LinkSpec<'_>) -> Result<()> {
        const OP: &str = "link_add";
        let peer = &self.peer;
        validate_ifname(OP, peer)
            .map_err(|e| e.with_object(format!("{} (peer {peer:?})", link.name)))?;
        validate_mac(OP, peer, self.peer_mac)?;
        if peer == &link.name && link.netns.is_none() && self.peer_netns.is_none() {
            return Err(Error::invalid(
                OP,
                &link.name,
                "a veth and its peer cannot have the same name in one namespace",
            ));
        }
        Ok(())
    }

    fn info_data(&self, link: &LinkSpec<'_>, _: Resolved) -> (InfoKind, Option<InfoData>) {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(self.peer.clone()));
        if let Some(m) = link.mtu {
            p.attributes.push(LinkAttribute::Mtu(m));
        }
        if let Some(m) = self.peer_mac {
            p.attributes.push(LinkAttribute::Address(m.0.to_vec()));
        }
        if let Some(ns) = self.peer_netns {
            p.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
        }
        (InfoKind::Veth, Some(InfoData::Veth(InfoVeth::Peer(p))))
    }
}
