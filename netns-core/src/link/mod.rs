//! Links (network interfaces): list, look up, create every kind container
//! networking uses, change, move between namespaces, delete.
//!
//! The CNI flow, a veth pair with one end in the pod under its final name
//! and the other on the host:
//!
//! ```no_run
//! use netns_core::{Handle, LinkSpec, NetNs};
//! let host = Handle::new()?;
//! let pod = NetNs::named("pod1")?;
//! // eth0 goes into pod1 (created here under a temporary name, moved,
//! // renamed, brought up); its peer veth-pod1 stays here, up.
//! let eth0 = host.link_add_in(&LinkSpec::veth("eth0", "veth-pod1").up().peer_up(), &pod)?;
//! println!("{eth0}");
//! # Ok::<(), netns_core::Error>(())
//! ```
//!
//! Layout of this module: `mod.rs` holds the [`Handle`] operations and the
//! link-name resolver every object module uses; `spec.rs` what to create or
//! change; `info.rs` what the kernel reports; `kind/` one file per link kind
//! (its options, checks and IFLA_INFO_DATA, built and parsed).
//!
//! # References
//! [ip-link(8)](https://man7.org/linux/man-pages/man8/ip-link.8.html),
//! [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
//! linux/if_link.h, net/core/rtnetlink.c.

use std::fmt;
use std::os::fd::AsRawFd;

use netlink_packet_route::link::{
    InfoKind, LinkAttribute, LinkFlags as NlLinkFlags, LinkInfo as NlLinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::{Error, ErrorKind, Result};
use crate::nla;
use crate::socket::{Built, Verb};
use crate::{Batch, Handle, NetNs};

#[cfg(test)]
mod fixtures;
mod info;
mod kind;
mod spec;

use info::IFLA_IFNAME;
pub(crate) use info::{link_reply, parse_link, skip_stats};
pub use info::{LinkFlags, LinkInfo, MacAddr, OperState};
pub use kind::{
    BondData, BondMode, BondSpec, BridgeData, BridgeSpec, IpVlanData, IpVlanIsolation, IpVlanMode,
    IpVlanSpec, LinkData, LinkKind, MacVlanData, MacVlanMode, MacVlanSpec, MacVtapSpec, VethSpec,
    VlanData, VlanProtocol, VlanSpec, VrfData, VrfSpec, VxlanData, VxlanSpec,
};
use spec::validate_mtu;
pub(crate) use spec::{build_add, validate_mac, validate_spec, Resolved};
pub use spec::{ControllerChange, LinkChanges, LinkFilter, LinkSpec};

/// `IFNAMSIZ - 1`: the longest interface name.
pub const IFNAME_MAX: usize = 15;

/// A link, by index or by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LinkId {
    /// The interface index (`ifindex`).
    Index(u32),
    /// The interface name.
    Name(String),
}

impl From<u32> for LinkId {
    fn from(i: u32) -> Self {
        LinkId::Index(i)
    }
}

impl From<&str> for LinkId {
    fn from(s: &str) -> Self {
        LinkId::Name(s.to_owned())
    }
}

impl From<String> for LinkId {
    fn from(s: String) -> Self {
        LinkId::Name(s)
    }
}

impl From<&String> for LinkId {
    fn from(s: &String) -> Self {
        LinkId::Name(s.clone())
    }
}

impl From<&LinkId> for LinkId {
    fn from(l: &LinkId) -> Self {
        l.clone()
    }
}

impl From<&LinkInfo> for LinkId {
    fn from(l: &LinkInfo) -> Self {
        LinkId::Index(l.index)
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkId::Index(i) => write!(f, "index {i}"),
            LinkId::Name(n) => f.write_str(n),
        }
    }
}

/// Check an interface name as the kernel's dev_valid_name() does (not
/// empty, at most 15 bytes, not `.` or `..`, no `/`, `:` or byte the
/// kernel's isspace() takes for a space: `\t` `\n` `\v` `\f` `\r`, space
/// and 0xA0, which UTF-8 letters such as `à` contain), and without `%`: the
/// kernel reads a name with `%d` as a template and picks the first free
/// number (`a%d` makes `a0`, then `a1`), so a name that is taken would not
/// fail as it must.
pub fn validate_ifname(op: &'static str, name: &str) -> Result<()> {
    const KERNEL_SPACE: [u8; 7] = [b'\t', b'\n', 0x0b, 0x0c, b'\r', b' ', 0xa0];
    let reason = if name.is_empty() {
        "an interface name cannot be empty"
    } else if name.len() > IFNAME_MAX {
        "an interface name is at most 15 bytes (IFNAMSIZ - 1)"
    } else if name == "." || name == ".." {
        "an interface name cannot be \".\" or \"..\""
    } else if name.contains('%') {
        "an interface name cannot contain '%' (the kernel would read it as a template such as a%d)"
    } else if name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b == 0 || KERNEL_SPACE.contains(&b))
    {
        "an interface name cannot contain '/', ':', NUL or a byte the kernel takes for a space (whitespace, 0xA0)"
    } else {
        return Ok(());
    };
    Err(Error::invalid(op, name.escape_debug().to_string(), reason))
}

const RTM_GETLINK: u16 = 18;
const IFLA_EXT_MASK: u16 = 29;
const RTEXT_FILTER_SKIP_STATS: u32 = 8;

/// The payload of `ip link show dev X`'s RTM_GETLINK: a `struct ifinfomsg`
/// with the index (or IFLA_IFNAME with the name), and IFLA_EXT_MASK asking
/// for no statistics. The same bytes netlink-packet-route would write.
fn get_request(tx: &mut Vec<u8>, id: &LinkId) {
    let index = match id {
        LinkId::Index(i) => *i,
        LinkId::Name(_) => 0,
    };
    // family, pad, type (u16), index (i32), flags, change
    tx.extend_from_slice(&[0; 4]);
    tx.extend_from_slice(&index.to_ne_bytes());
    tx.extend_from_slice(&[0; 8]);
    if let LinkId::Name(n) = id {
        nla::put_str(tx, IFLA_IFNAME, n);
    }
    nla::put(tx, IFLA_EXT_MASK, &RTEXT_FILTER_SKIP_STATS.to_ne_bytes());
}

fn name_or_index(msg: &mut LinkMessage, id: &LinkId) {
    match id {
        LinkId::Index(i) => msg.header.index = *i,
        LinkId::Name(n) => msg.attributes.push(LinkAttribute::IfName(n.clone())),
    }
}

impl Handle {
    /// The links of the namespace, filtered as `filter` says.
    ///
    /// Equivalent to `ip -d link show [type KIND] [master NAME]`.
    #[doc(alias = "ip link show")]
    #[doc(alias = "RTM_GETLINK")]
    pub fn links(&self, filter: &LinkFilter) -> Result<Vec<LinkInfo>> {
        const OP: &str = "links";
        let object = match (&filter.kind, &filter.controller) {
            (None, None) => "all".to_owned(),
            (k, c) => {
                let mut o = String::new();
                if let Some(k) = k {
                    o.push_str(&format!("type {k}"));
                }
                if let Some(c) = c {
                    if !o.is_empty() {
                        o.push(' ');
                    }
                    o.push_str(&format!("master {c}"));
                }
                o
            }
        };
        let mut req = LinkMessage::default();
        req.attributes.push(skip_stats());
        let controller = match &filter.controller {
            Some(c) => {
                let i = self.resolve_link(OP, &object, "controller", c)?;
                req.attributes.push(LinkAttribute::Controller(i));
                Some(i)
            }
            None => None,
        };
        if let Some(k) = &filter.kind {
            req.attributes
                .push(LinkAttribute::LinkInfo(vec![NlLinkInfo::Kind(
                    InfoKind::from(k.as_str()),
                )]));
        }
        // The kernel filters by a kind only when it knows the kind (its
        // module is loaded) and says so with NLM_F_DUMP_FILTERED; checking
        // again here costs nothing and makes the answer exact either way.
        self.sock()
            .dump(OP, &object, RouteNetlinkMessage::GetLink(req), |r| {
                Ok(link_reply(OP, &object, r)?.filter(|l| filter.matches(l, controller)))
            })
    }

    /// One link, by index or by name. A lookup by name is a single
    /// RTM_GETLINK carrying IFLA_IFNAME, never a dump. A link that does not
    /// exist is an [`ErrorKind::NotFound`] (ENODEV).
    ///
    /// Equivalent to `ip -d link show dev NAME`.
    #[doc(alias = "ip link show dev")]
    #[doc(alias = "RTM_GETLINK")]
    pub fn link_get(&self, id: impl Into<LinkId>) -> Result<LinkInfo> {
        const OP: &str = "link_get";
        let id = id.into();
        if let LinkId::Name(n) = &id {
            validate_ifname(OP, n)?;
        }
        // Written by hand: this is the hot path of every name lookup.
        let req = Built {
            message_type: RTM_GETLINK,
            build: |tx: &mut Vec<u8>| get_request(tx, &id),
        };
        self.sock().get(OP, &id, req, |r| {
            link_reply(OP, &id, r)?
                .ok_or_else(|| Error::protocol(OP, id.to_string(), "not a link message"))
        })
    }

    /// The index of the link `name`.
    ///
    /// Equivalent to `cat /sys/class/net/NAME/ifindex`, without sysfs.
    #[doc(alias = "if_nametoindex")]
    pub fn link_index(&self, name: &str) -> Result<u32> {
        Ok(self.link_get(name)?.index)
    }

    /// The index of the link `id` that a request of `op` on `object` names
    /// in its `role` (`device`, `parent`, `controller`): a name is checked,
    /// then looked up with one RTM_GETLINK. This is the one resolver of the
    /// object modules, so a missing device is the same
    /// [`ErrorKind::NotFound`] (ENODEV, naming the device) whichever call
    /// finds it.
    pub(crate) fn resolve_link(
        &self,
        op: &'static str,
        object: &dyn fmt::Display,
        role: &str,
        id: &LinkId,
    ) -> Result<u32> {
        match id {
            LinkId::Index(i) => Ok(*i),
            LinkId::Name(n) => {
                validate_ifname(op, n)?;
                self.link_get(n.as_str()).map(|l| l.index).map_err(|e| {
                    if matches!(e.kind(), ErrorKind::NotFound { .. }) {
                        Error::no_device(op, object.to_string(), role, n)
                    } else {
                        e
                    }
                })
            }
        }
    }

    /// Create a link.
    ///
    /// Equivalent to `ip link add [link PARENT] NAME ... type KIND ...`.
    /// The spec is checked and the parent and controller are looked up first,
    /// so a bad argument or an unknown parent is reported before anything is
    /// created. A kind the kernel lacks gives an error with
    /// `is_unsupported()` naming the kind. For a veth whose peer name is
    /// taken, the error names the peer.
    #[doc(alias = "ip link add")]
    #[doc(alias = "RTM_NEWLINK")]
    pub fn link_add(&self, spec: &LinkSpec<'_>) -> Result<()> {
        validate_spec(spec)?;
        self.link_add_checked(spec, &spec.name)
    }

    /// `link_add` of a checked spec; errors name the link `shown` (the
    /// final name, when `spec.name` is a temporary one).
    fn link_add_checked(&self, spec: &LinkSpec<'_>, shown: &str) -> Result<()> {
        const OP: &str = "link_add";
        let resolved = self.resolve_spec(spec)?;
        let msg = build_add(spec, resolved);
        let object = format!("{shown} (type {})", spec.kind.name());
        // The socket's lock is released before add_error asks more.
        let done = self
            .sock()
            .ack(OP, &object, RouteNetlinkMessage::NewLink(msg), Verb::Add);
        done.map_err(|e| self.add_error(e, spec, shown))?;
        match &spec.kind {
            LinkKind::Veth(v) if v.peer_up => self.veth_peer_up(spec, v).map_err(|e| {
                let _ = self.delete_made(spec);
                e.with_op(OP)
            }),
            _ => Ok(()),
        }
    }

    /// Bring up the peer of a veth just made, in the peer's namespace.
    fn veth_peer_up(&self, spec: &LinkSpec<'_>, v: &VethSpec<'_>) -> Result<()> {
        match v.peer_netns {
            None => self.link_set_up(v.peer.as_str()),
            Some(ns) => ns.handle()?.link_set_up(v.peer.as_str()),
        }
        .map_err(|e| e.with_object(format!("{} (peer of {})", v.peer, spec.name)))
    }

    /// Delete the link `spec` made (undoing a half-done link_add).
    fn delete_made(&self, spec: &LinkSpec<'_>) -> Result<()> {
        match spec.netns {
            None => self.link_del(spec.name.as_str()),
            Some(ns) => ns.handle()?.link_del(spec.name.as_str()),
        }
    }

    /// Make a refused `link_add` say what failed: an EOPNOTSUPP as an
    /// [`ErrorKind::Unsupported`] naming what the kernel lacks (an optional
    /// feature of the kind the spec asks for, when the kernel said nothing
    /// more; else the kind), and an EEXIST of a veth whose own name is free
    /// as the peer's (its name is the one taken).
    fn add_error(&self, e: Error, spec: &LinkSpec<'_>, shown: &str) -> Error {
        let kind = spec.kind.ops();
        match e.kind() {
            ErrorKind::Kernel {
                errno: libc::EOPNOTSUPP,
                extack,
                ..
            } => {
                let feature = match (kind.optional_feature(), extack) {
                    (Some(f), None) => f.to_owned(),
                    _ => format!("link kind \"{}\"", kind.name()),
                };
                e.into_unsupported(feature)
            }
            ErrorKind::Kernel {
                errno: libc::EEXIST,
                ..
            } => match &spec.kind {
                LinkKind::Veth(v) if self.peer_name_taken(spec, v) => {
                    e.with_object(format!("{} (type veth, peer of {shown})", v.peer))
                }
                _ => e,
            },
            _ => e,
        }
    }

    /// After an EEXIST: whether the link's own name is free where it was to
    /// be created (so the peer's is the taken one).
    fn peer_name_taken(&self, spec: &LinkSpec<'_>, v: &VethSpec<'_>) -> bool {
        let free_here = |h: &Handle, name: &str| {
            matches!(
                h.link_get(name).map_err(Error::into_kind),
                Err(ErrorKind::NotFound { .. })
            )
        };
        let own_free = match spec.netns {
            None => free_here(self, &spec.name),
            Some(ns) => ns.handle().is_ok_and(|h| free_here(&h, &spec.name)),
        };
        let peer_taken = match v.peer_netns {
            None => !free_here(self, &v.peer),
            Some(ns) => ns.handle().is_ok_and(|h| !free_here(&h, &v.peer)),
        };
        own_free && peer_taken
    }

    pub(crate) fn resolve_spec(&self, spec: &LinkSpec<'_>) -> Result<Resolved> {
        const OP: &str = "link_add";
        let object = spec.object();
        Ok(Resolved {
            parent: spec
                .parent
                .as_ref()
                .map(|p| self.resolve_link(OP, &object, "parent", p))
                .transpose()?,
            controller: spec
                .controller
                .as_ref()
                .map(|c| self.resolve_link(OP, &object, "controller", c))
                .transpose()?,
        })
    }

    /// Create a link inside `target` under its final name, the way CNI
    /// plugins do, and return it as `target` sees it.
    ///
    /// The kernel cannot create a link in another namespace under a name
    /// that is taken here, nor move and rename in one atomic request (the
    /// move can succeed and the rename fail), so this takes three requests:
    /// create the link here under a temporary name, move it into `target`
    /// under that name, then rename it there, bringing it up in the same
    /// request if the spec says `up` (a move between namespaces always
    /// takes a link down). If any step fails, the temporary link is deleted:
    /// nothing is left behind, and the error names the link by its final
    /// name.
    ///
    /// For a veth, `spec.name` is the end that goes into `target`; the peer
    /// stays here (or goes where `peer_netns` says), up if `peer_up`.
    ///
    /// Equivalent to `ip link add TMP ...; ip link set TMP netns NS;
    /// ip -n NS link set TMP name NAME [up]`.
    #[doc(alias = "ip link add netns")]
    pub fn link_add_in(&self, spec: &LinkSpec<'_>, target: &NetNs) -> Result<LinkInfo> {
        const OP: &str = "link_add_in";
        validate_spec(spec)?;
        // Open the target's socket first: nothing is made if that fails.
        let inside = target.handle()?;
        let tmp = temp_ifname();
        let mut here = spec.clone();
        here.name = tmp.clone();
        here.netns = None;
        here.up = false;
        let named = |e: Error| e.with_op(OP).with_object(spec.object());
        self.link_add_checked(&here, &spec.name)
            .map_err(|e| e.with_op(OP))?;
        if let Err(e) = self.link_set_netns(tmp.as_str(), target) {
            let _ = self.link_del(tmp.as_str());
            return Err(named(e));
        }
        let index = match inside.link_get(tmp.as_str()) {
            Ok(l) => l.index,
            Err(e) => {
                let _ = inside.link_del(tmp.as_str());
                return Err(named(e));
            }
        };
        let renamed = inside
            .link_set(
                index,
                &LinkChanges {
                    name: Some(spec.name.clone()),
                    up: spec.up.then_some(true),
                    ..Default::default()
                },
            )
            .and_then(|()| inside.link_get(index));
        renamed.map_err(|e| {
            // By index: the rename may have happened before what failed.
            let _ = inside.link_del(index);
            named(e)
        })
    }

    /// Change a link: every `Some` field of `changes`, in one request.
    ///
    /// Equivalent to `ip link set dev NAME [up|down] [promisc on|off] [mtu N]
    /// [address MAC] [name NEW] [alias TEXT] [master C|nomaster] [netns NS]
    /// [txqueuelen N]`.
    #[doc(alias = "ip link set")]
    #[doc(alias = "RTM_SETLINK")]
    pub fn link_set(&self, id: impl Into<LinkId>, changes: &LinkChanges<'_>) -> Result<()> {
        let id = id.into();
        let msg = self.link_set_request(&id, changes)?;
        self.sock().ack(
            "link_set",
            &id,
            RouteNetlinkMessage::NewLink(msg),
            Verb::Change,
        )
    }

    /// Check `changes` and build their request (resolving a controller name
    /// and, for a rename by name, the link's index).
    fn link_set_request(&self, id: &LinkId, changes: &LinkChanges<'_>) -> Result<LinkMessage> {
        const OP: &str = "link_set";
        let shown = id.to_string();
        if let LinkId::Name(n) = id {
            validate_ifname(OP, n)?;
        }
        validate_mtu(OP, &shown, changes.mtu)?;
        validate_mac(OP, &shown, changes.mac)?;
        if let Some(n) = &changes.name {
            validate_ifname(OP, n)?;
        }
        if let Some(a) = &changes.alias {
            if a.len() > 255 || a.contains('\0') {
                return Err(Error::invalid(
                    OP,
                    &shown,
                    "an alias is at most 255 bytes, without NUL",
                ));
            }
        }
        let controller = match &changes.controller {
            Some(ControllerChange::Attach(c)) => {
                Some(self.resolve_link(OP, &shown, "controller", c)?)
            }
            Some(ControllerChange::Detach) => Some(0),
            None => None,
        };
        // A rename needs the index: IFLA_IFNAME then carries the new name.
        let target = match (id, &changes.name) {
            (LinkId::Name(n), Some(_)) => {
                LinkId::Index(self.link_get(n.as_str()).map_err(|e| e.with_op(OP))?.index)
            }
            _ => id.clone(),
        };
        let mut msg = LinkMessage::default();
        name_or_index(&mut msg, &target);
        for (want, flag) in [
            (changes.up, NlLinkFlags::Up),
            (changes.promisc, NlLinkFlags::Promisc),
        ] {
            if let Some(on) = want {
                msg.header.change_mask |= flag;
                if on {
                    msg.header.flags |= flag;
                }
            }
        }
        if let Some(n) = &changes.name {
            msg.attributes.push(LinkAttribute::IfName(n.clone()));
        }
        if let Some(m) = changes.mtu {
            msg.attributes.push(LinkAttribute::Mtu(m));
        }
        if let Some(m) = changes.mac {
            msg.attributes.push(LinkAttribute::Address(m.0.to_vec()));
        }
        if let Some(a) = &changes.alias {
            msg.attributes.push(LinkAttribute::IfAlias(a.clone()));
        }
        if let Some(c) = controller {
            msg.attributes.push(LinkAttribute::Controller(c));
        }
        if let Some(ns) = changes.netns {
            msg.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
        }
        if let Some(t) = changes.txqueuelen {
            msg.attributes.push(LinkAttribute::TxQueueLen(t));
        }
        if let Some(g) = changes.group {
            msg.attributes.push(LinkAttribute::Group(g));
        }
        Ok(msg)
    }

    /// Bring a link up. Equivalent to `ip link set dev NAME up`.
    #[doc(alias = "ip link set up")]
    pub fn link_set_up(&self, id: impl Into<LinkId>) -> Result<()> {
        self.link_set(
            id,
            &LinkChanges {
                up: Some(true),
                ..Default::default()
            },
        )
    }

    /// Bring a link down. Equivalent to `ip link set dev NAME down`.
    #[doc(alias = "ip link set down")]
    pub fn link_set_down(&self, id: impl Into<LinkId>) -> Result<()> {
        self.link_set(
            id,
            &LinkChanges {
                up: Some(false),
                ..Default::default()
            },
        )
    }

    /// Set the MTU. Equivalent to `ip link set dev NAME mtu N`.
    #[doc(alias = "ip link set mtu")]
    pub fn link_set_mtu(&self, id: impl Into<LinkId>, mtu: u32) -> Result<()> {
        self.link_set(
            id,
            &LinkChanges {
                mtu: Some(mtu),
                ..Default::default()
            },
        )
    }

    /// Set the MAC address. Equivalent to `ip link set dev NAME address MAC`.
    #[doc(alias = "ip link set address")]
    pub fn link_set_mac(&self, id: impl Into<LinkId>, mac: MacAddr) -> Result<()> {
        self.link_set(
            id,
            &LinkChanges {
                mac: Some(mac),
                ..Default::default()
            },
        )
    }

    /// Rename. Equivalent to `ip link set dev NAME name NEW`.
    #[doc(alias = "ip link set name")]
    pub fn link_set_name(&self, id: impl Into<LinkId>, new_name: &str) -> Result<()> {
        self.link_set(
            id,
            &LinkChanges {
                name: Some(new_name.to_owned()),
                ..Default::default()
            },
        )
    }

    /// Set the alias (an empty string removes it). Equivalent to
    /// `ip link set dev NAME alias TEXT`.
    #[doc(alias = "ip link set alias")]
    pub fn link_set_alias(&self, id: impl Into<LinkId>, alias: &str) -> Result<()> {
        self.link_set(
            id,
            &LinkChanges {
                alias: Some(alias.to_owned()),
                ..Default::default()
            },
        )
    }

    /// Attach to a controller (make it a bridge port). Equivalent to
    /// `ip link set dev NAME master CONTROLLER`.
    #[doc(alias = "ip link set master")]
    pub fn link_set_controller(
        &self,
        id: impl Into<LinkId>,
        controller: impl Into<LinkId>,
    ) -> Result<()> {
        self.link_set(
            id,
            &LinkChanges {
                controller: Some(ControllerChange::Attach(controller.into())),
                ..Default::default()
            },
        )
    }

    /// Detach from its controller. Equivalent to `ip link set dev NAME nomaster`.
    #[doc(alias = "ip link set nomaster")]
    pub fn link_set_nocontroller(&self, id: impl Into<LinkId>) -> Result<()> {
        self.link_set(
            id,
            &LinkChanges {
                controller: Some(ControllerChange::Detach),
                ..Default::default()
            },
        )
    }

    /// Move into another namespace (the kernel takes the link down).
    /// Equivalent to `ip link set dev NAME netns NS`.
    #[doc(alias = "ip link set netns")]
    pub fn link_set_netns(&self, id: impl Into<LinkId>, ns: &NetNs) -> Result<()> {
        self.link_set(
            id,
            &LinkChanges {
                netns: Some(ns),
                ..Default::default()
            },
        )
    }

    /// Set the transmit queue length. Equivalent to
    /// `ip link set dev NAME txqueuelen N`.
    #[doc(alias = "ip link set txqueuelen")]
    pub fn link_set_txqueuelen(&self, id: impl Into<LinkId>, n: u32) -> Result<()> {
        self.link_set(
            id,
            &LinkChanges {
                txqueuelen: Some(n),
                ..Default::default()
            },
        )
    }

    /// Delete a link (for a veth, both ends go).
    ///
    /// Equivalent to `ip link del dev NAME`.
    #[doc(alias = "ip link del")]
    #[doc(alias = "RTM_DELLINK")]
    pub fn link_del(&self, id: impl Into<LinkId>) -> Result<()> {
        let id = id.into();
        let msg = link_del_request(&id)?;
        self.sock().ack(
            "link_del",
            &id,
            RouteNetlinkMessage::DelLink(msg),
            Verb::Del,
        )
    }

    /// Delete every link of group `group` in one request: the kernel tears
    /// them down together, paying its per-deletion synchronisation once.
    ///
    /// Equivalent to `ip link del group N`.
    #[doc(alias = "ip link del group")]
    pub fn link_del_group(&self, group: u32) -> Result<()> {
        const OP: &str = "link_del_group";
        if group == 0 {
            return Err(Error::invalid(
                OP,
                "group 0",
                "group 0 is the default group of every link",
            ));
        }
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::Group(group));
        self.sock().ack(
            OP,
            &format_args!("group {group}"),
            RouteNetlinkMessage::DelLink(msg),
            Verb::Del,
        )
    }

    /// Delete many links at the kernel's bulk speed: they are put into one
    /// unused link group (one batched request), then the group is deleted
    /// (one request). Deleting 200 veths this way costs about one veth
    /// deletion's kernel synchronisation instead of 200.
    ///
    /// Links that do not exist are skipped; the names of those that could not
    /// be moved into the group are returned in the error. Equivalent to
    /// `ip link set dev X group G` for each, then `ip link del group G`.
    pub fn link_del_many<I, L>(&self, ids: I) -> Result<()>
    where
        I: IntoIterator<Item = L>,
        L: Into<LinkId>,
    {
        const OP: &str = "link_del_many";
        let ids: Vec<LinkId> = ids.into_iter().map(Into::into).collect();
        for id in &ids {
            if let LinkId::Name(n) = id {
                validate_ifname(OP, n)?;
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let group = self.unused_group()?;
        let requests = ids
            .iter()
            .map(|id| {
                let mut m = LinkMessage::default();
                name_or_index(&mut m, id);
                m.attributes.push(LinkAttribute::Group(group));
                (RouteNetlinkMessage::NewLink(m), Verb::Change)
            })
            .collect();
        let outcomes = self.sock().batch(OP, requests)?;
        let mut failed = Vec::new();
        let mut grouped = 0;
        for (id, o) in ids.iter().zip(outcomes) {
            match o {
                Ok(()) => grouped += 1,
                Err(n) if n.code == -libc::ENODEV => {}
                Err(n) => failed.push(format!(
                    "{id}: {}",
                    std::io::Error::from_raw_os_error(-n.code)
                )),
            }
        }
        if grouped > 0 {
            self.link_del_group(group)?;
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(
                OP,
                failed.join(", "),
                "these links could not be deleted",
            ))
        }
    }

    /// A link group no link uses: random, checked against one dump (the
    /// kernel cannot filter a dump by group).
    fn unused_group(&self) -> Result<u32> {
        let used: std::collections::HashSet<u32> = self
            .links(&LinkFilter::new())?
            .into_iter()
            .map(|l| l.group)
            .collect();
        let mut g = random_u32() | 0x4000_0000;
        while used.contains(&g) || g == 0 {
            g = g.wrapping_add(1) | 0x4000_0000;
        }
        Ok(g)
    }
}

fn link_del_request(id: &LinkId) -> Result<LinkMessage> {
    if let LinkId::Name(n) = id {
        validate_ifname("link_del", n)?;
    }
    let mut msg = LinkMessage::default();
    name_or_index(&mut msg, id);
    Ok(msg)
}

impl Batch<'_> {
    /// Queue [`Handle::link_add`].
    pub fn link_add(&mut self, spec: &LinkSpec<'_>) -> &mut Self {
        let built = validate_spec(spec)
            .and_then(|()| self.handle.resolve_spec(spec))
            .map(|r| (RouteNetlinkMessage::NewLink(build_add(spec, r)), Verb::Add));
        self.push("link_add", spec.object(), built)
    }

    /// Queue [`Handle::link_set`].
    pub fn link_set(&mut self, id: impl Into<LinkId>, changes: &LinkChanges<'_>) -> &mut Self {
        let id = id.into();
        let built = self
            .handle
            .link_set_request(&id, changes)
            .map(|m| (RouteNetlinkMessage::NewLink(m), Verb::Change));
        self.push("link_set", id.to_string(), built)
    }

    /// Queue [`Handle::link_set_up`].
    pub fn link_set_up(&mut self, id: impl Into<LinkId>) -> &mut Self {
        self.link_set(
            id,
            &LinkChanges {
                up: Some(true),
                ..Default::default()
            },
        )
    }

    /// Queue [`Handle::link_set_down`].
    pub fn link_set_down(&mut self, id: impl Into<LinkId>) -> &mut Self {
        self.link_set(
            id,
            &LinkChanges {
                up: Some(false),
                ..Default::default()
            },
        )
    }

    /// Queue [`Handle::link_del`].
    pub fn link_del(&mut self, id: impl Into<LinkId>) -> &mut Self {
        let id = id.into();
        let built = link_del_request(&id).map(|m| (RouteNetlinkMessage::DelLink(m), Verb::Del));
        self.push("link_del", id.to_string(), built)
    }
}

fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as u32
}

/// A temporary interface name: `tmp` and 12 hex digits (15 bytes).
fn temp_ifname() -> String {
    format!(
        "tmp{:06x}{:06x}",
        random_u32() & 0xff_ffff,
        random_u32() & 0xff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifname_rules_match_dev_valid_name() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a:b",
            "a b",
            "a\tb",
            "sixteen-chars-xx",
            "nul\0",
            "a%d",
            "%",
            "v\x0btab",
            "f\x0cff",
            "caf\u{e0}",
        ] {
            assert!(validate_ifname("t", bad).is_err(), "{bad:?}");
        }
        // Other UTF-8 the kernel accepts (no 0xA0 byte) passes.
        assert!(validate_ifname("t", "caf\u{e9}").is_ok());
        for good in ["eth0", "veth-host", "fifteen-chars-x", "br.10", "x"] {
            assert!(validate_ifname("t", good).is_ok(), "{good:?}");
        }
        assert_eq!(temp_ifname().len(), 15);
        assert!(validate_ifname("t", &temp_ifname()).is_ok());
    }

    #[test]
    fn the_hand_written_get_is_what_netlink_packet_route_writes() {
        use netlink_packet_core::Emitable;
        for id in [
            LinkId::from("eth0"),
            LinkId::Index(7),
            LinkId::from("fifteen-chars-x"),
        ] {
            let mut ours = Vec::new();
            get_request(&mut ours, &id);
            let mut m = LinkMessage::default();
            name_or_index(&mut m, &id);
            m.attributes.push(skip_stats());
            let mut theirs = vec![0; m.buffer_len()];
            m.emit(&mut theirs);
            assert_eq!(ours, theirs, "{id}");
        }
    }
}
