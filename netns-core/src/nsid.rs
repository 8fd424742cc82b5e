//! Namespace ids (nsid): the numbers by which one network namespace refers to
//! another in netlink messages (IFLA_LINK_NETNSID, `link-netnsid`).
//!
//! # References
//! [ip-netns(8)](https://man7.org/linux/man-pages/man8/ip-netns.8.html) `set` and `list-id`; net/core/net_namespace.c (rtnl_net_newid,
//! rtnl_net_getid).

use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use netlink_packet_route::RouteNetlinkMessage;
use std::os::fd::AsRawFd;

use crate::error::{Error, Result};
use crate::socket::Verb;
use crate::{Handle, NetNs};

fn request(ns: &NetNs, id: Option<i32>) -> Result<RouteNetlinkMessage> {
    let fd = u32::try_from(ns.as_raw_fd())
        .map_err(|_| Error::invalid("nsid", "fd", "negative file descriptor"))?;
    let mut msg = NsidMessage::default();
    msg.attributes.push(NsidAttribute::Fd(fd));
    if let Some(id) = id {
        msg.attributes.push(NsidAttribute::Id(id));
    }
    Ok(if id.is_some() {
        RouteNetlinkMessage::NewNsId(msg)
    } else {
        RouteNetlinkMessage::GetNsId(msg)
    })
}

fn describe(ns: &NetNs) -> String {
    match ns.name() {
        Some(n) => n.to_owned(),
        None => format!("net:[{}]", ns.inode()),
    }
}

impl Handle {
    /// The id this handle's namespace uses for `peer`, if one is assigned.
    ///
    /// Equivalent to the `(id: N)` that `ip netns list` shows.
    #[doc(alias = "ip netns list-id")]
    #[doc(alias = "RTM_GETNSID")]
    pub fn nsid_get(&self, peer: &NetNs) -> Result<Option<i32>> {
        const OP: &str = "nsid_get";
        let req = request(peer, None)?;
        let object = describe(peer);
        self.sock().get(OP, &object, req, |reply| {
            let msg = match reply.parse() {
                Ok(RouteNetlinkMessage::NewNsId(m)) => m,
                Ok(_) => {
                    return Err(Error::protocol(
                        OP,
                        object.clone(),
                        "not an RTM_NEWNSID reply",
                    ))
                }
                Err(e) => return Err(Error::protocol(OP, object.clone(), e)),
            };
            Ok(msg.attributes.iter().find_map(|a| match a {
                NsidAttribute::Id(id) if *id >= 0 => Some(*id),
                _ => None,
            }))
        })
    }

    /// Assign `id` as this namespace's id for `peer`.
    ///
    /// Equivalent to `ip netns set NAME NSID` (run in this handle's
    /// namespace). Fails with EEXIST if `peer` already has an id here or `id`
    /// is taken; ids cannot be changed once assigned.
    #[doc(alias = "ip netns set")]
    #[doc(alias = "RTM_NEWNSID")]
    pub fn nsid_set(&self, peer: &NetNs, id: u32) -> Result<()> {
        const OP: &str = "nsid_set";
        let id = i32::try_from(id)
            .map_err(|_| Error::invalid(OP, id.to_string(), "an nsid is at most 2147483647"))?;
        let req = request(peer, Some(id))?;
        self.sock().ack(OP, &describe(peer), req, Verb::Add)
    }

    /// Let the kernel pick an id for `peer` (if it has none yet) and return it.
    ///
    /// Equivalent to `ip netns set NAME auto`.
    #[doc(alias = "ip netns set auto")]
    #[doc(alias = "RTM_NEWNSID")]
    pub fn nsid_assign(&self, peer: &NetNs) -> Result<i32> {
        const OP: &str = "nsid_assign";
        if let Some(id) = self.nsid_get(peer)? {
            return Ok(id);
        }
        let req = request(peer, Some(-1))?;
        self.sock().ack(OP, &describe(peer), req, Verb::Add)?;
        self.nsid_get(peer)?.ok_or_else(|| {
            Error::protocol(
                OP,
                describe(peer),
                "no nsid assigned after the kernel acknowledged",
            )
        })
    }
}
