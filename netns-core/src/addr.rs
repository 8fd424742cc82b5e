//! IP addresses on links: list, add, replace, delete.
//!
//! ```no_run
//! use netns_core::{AddrFilter, AddrSpec, Handle, IpFamily};
//! let h = Handle::new()?;
//! // ip addr add 10.0.0.1/24 brd + dev eth0
//! h.addr_add(&AddrSpec::new("eth0", "10.0.0.1/24".parse()?).broadcast_auto())?;
//! // ip -4 addr show dev eth0
//! for a in h.addrs(&AddrFilter::new().link("eth0").family(IpFamily::V4))? {
//!     println!("{a}"); // inet 10.0.0.1/24 brd 10.0.0.255 scope global dev if2 label eth0
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Broadcast
//!
//! Like `ip addr add`, an IPv4 address gets a broadcast address only when
//! asked: [`AddrSpec::broadcast_auto`] is iproute2's `brd +` (the prefix's
//! last address, for prefixes of 30 bits or less), [`AddrSpec::broadcast`]
//! sets one explicitly. (vishvananda/netlink computes one by default; we
//! follow the command each function names.) The kernel installs the
//! subnet's broadcast route either way.
//!
//! # References
//! [ip-address(8)](https://man7.org/linux/man-pages/man8/ip-address.8.html),
//! [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
//! linux/if_addr.h, net/ipv4/devinet.c, net/ipv6/addrconf.c.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use netlink_packet_route::address::{
    AddressAttribute, AddressHeaderFlags, AddressMessage, AddressScope, CacheInfo,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::{Error, Result};
use crate::ip::{brd_plus, ip_of, prefix, IpFamily, Lazy, Scope};
use crate::link::validate_ifname;
use crate::named::bit_names;
use crate::nla::{c_string, u32_at, u32_of, Nlas};
use crate::socket::{Reply, Verb};
use crate::{Batch, Handle, LinkId};

bitflags::bitflags! {
    /// Address flags (`IFA_F_*` of linux/if_addr.h), as `ip addr` shows them
    /// ([`AddrFlags::names`]).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct AddrFlags: u32 {
        /// IFA_F_SECONDARY (IPv4: not the first address of its subnet; IPv6:
        /// IFA_F_TEMPORARY, a privacy address).
        const SECONDARY = 0x01;
        /// IFA_F_NODAD: no duplicate address detection.
        const NODAD = 0x02;
        /// IFA_F_OPTIMISTIC: optimistic DAD.
        const OPTIMISTIC = 0x04;
        /// IFA_F_DADFAILED: duplicate address detection failed.
        const DADFAILED = 0x08;
        /// IFA_F_HOMEADDRESS: Mobile IPv6 home address.
        const HOMEADDRESS = 0x10;
        /// IFA_F_DEPRECATED: the preferred lifetime has run out.
        const DEPRECATED = 0x20;
        /// IFA_F_TENTATIVE: duplicate address detection has not finished.
        const TENTATIVE = 0x40;
        /// IFA_F_PERMANENT: the address never expires (set by the kernel).
        const PERMANENT = 0x80;
        /// IFA_F_MANAGETEMPADDR: make privacy addresses from this prefix.
        const MANAGETEMPADDR = 0x100;
        /// IFA_F_NOPREFIXROUTE: do not add the prefix route.
        const NOPREFIXROUTE = 0x200;
        /// IFA_F_MCAUTOJOIN: join the multicast group of a multicast address.
        const MCAUTOJOIN = 0x400;
        /// IFA_F_STABLE_PRIVACY: a stable privacy (RFC 7217) address.
        const STABLE_PRIVACY = 0x800;
        // Bits the kernel may add later are kept, not dropped.
        const _ = !0;
    }
}

impl AddrFlags {
    /// The flag names as `ip addr` spells them, in its order (IFA_F_SECONDARY
    /// is `secondary`; `ip` calls it `temporary` on IPv6).
    pub fn names(self) -> Vec<&'static str> {
        const NAMES: [(AddrFlags, &str); 12] = [
            (AddrFlags::SECONDARY, "secondary"),
            (AddrFlags::NODAD, "nodad"),
            (AddrFlags::OPTIMISTIC, "optimistic"),
            (AddrFlags::DADFAILED, "dadfailed"),
            (AddrFlags::HOMEADDRESS, "home"),
            (AddrFlags::DEPRECATED, "deprecated"),
            (AddrFlags::TENTATIVE, "tentative"),
            (AddrFlags::PERMANENT, "permanent"),
            (AddrFlags::MANAGETEMPADDR, "mngtmpaddr"),
            (AddrFlags::NOPREFIXROUTE, "noprefixroute"),
            (AddrFlags::MCAUTOJOIN, "autojoin"),
            (AddrFlags::STABLE_PRIVACY, "stable-privacy"),
        ];
        bit_names(self, &NAMES)
    }
}

/// How long an address stays valid or preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifetime {
    /// Never expires (`forever`; INFINITY_LIFE_TIME on the wire).
    Forever,
    /// Seconds from now (from when the kernel last refreshed it, in a
    /// listing). `u32::MAX` is not a valid number of seconds: it means
    /// forever on the wire; use [`Lifetime::Forever`].
    Seconds(u32),
}

const INFINITY_LIFE_TIME: u32 = u32::MAX;

impl Lifetime {
    fn wire(self) -> u32 {
        match self {
            Lifetime::Forever => INFINITY_LIFE_TIME,
            Lifetime::Seconds(s) => s,
        }
    }

    fn from_wire(v: u32) -> Lifetime {
        if v == INFINITY_LIFE_TIME {
            Lifetime::Forever
        } else {
            Lifetime::Seconds(v)
        }
    }
}

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lifetime::Forever => f.write_str("forever"),
            Lifetime::Seconds(s) => write!(f, "{s}sec"),
        }
    }
}

/// An address of a link, as the kernel reports it.
///
/// `Display` prints it in `ip addr`'s words, the link by index as `ip`
/// names a link it cannot name (`if2`):
/// `inet 10.0.0.1/24 brd 10.0.0.255 scope global dev if2 label eth0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The index of the link it is on.
    pub link_index: u32,
    /// The local address and the prefix length (`inet 10.0.0.1/24`).
    pub prefix: IpNet,
    /// The peer of a point-to-point address (`peer 10.0.0.2/32`), when
    /// it differs from the local address.
    pub peer: Option<IpAddr>,
    /// The IPv4 broadcast address, if one is set.
    pub broadcast: Option<Ipv4Addr>,
    /// The IPv4 label (the link's name unless another was given).
    pub label: Option<String>,
    /// The scope.
    pub scope: Scope,
    /// The flags (permanent, nodad, tentative, secondary...).
    pub flags: AddrFlags,
    /// The valid lifetime left.
    pub valid_lft: Lifetime,
    /// The preferred lifetime left.
    pub preferred_lft: Lifetime,
}

impl Address {
    /// The address family.
    pub fn family(&self) -> IpFamily {
        IpFamily::of_net(&self.prefix)
    }

    /// The local address.
    pub fn addr(&self) -> IpAddr {
        self.prefix.addr()
    }

    /// Whether the address can be used: IPv6 duplicate address detection
    /// has finished (not `tentative`) and did not fail.
    pub fn is_usable(&self) -> bool {
        !self
            .flags
            .intersects(AddrFlags::TENTATIVE | AddrFlags::DADFAILED)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.family(), self.prefix)?;
        if let Some(p) = self.peer {
            write!(f, " peer {p}")?;
        }
        if let Some(b) = self.broadcast {
            write!(f, " brd {b}")?;
        }
        write!(f, " scope {}", self.scope)?;
        for n in self.flags.names() {
            if n != "permanent" {
                write!(f, " {n}")?;
            }
        }
        write!(f, " dev if{}", self.link_index)?;
        if let Some(l) = &self.label {
            write!(f, " label {l}")?;
        }
        if !self.flags.contains(AddrFlags::PERMANENT) {
            write!(
                f,
                " valid_lft {} preferred_lft {}",
                self.valid_lft, self.preferred_lft
            )?;
        }
        Ok(())
    }
}

/// The broadcast address to give an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Broadcast {
    /// `brd +`: the last address of the prefix, for IPv4 prefixes of 30
    /// bits or less (none for /31 and /32, unlike ipnet's `broadcast()`).
    Auto,
    /// `brd ADDR`.
    Addr(Ipv4Addr),
}

/// An address to add, replace or delete (`ip addr add PREFIX dev LINK ...`).
///
/// ```
/// use netns_core::{AddrSpec, Lifetime};
/// let spec = AddrSpec::new("eth0", "10.0.0.1/24".parse()?)
///     .broadcast_auto()
///     .label("eth0:web")
///     .valid_lft(Lifetime::Seconds(300))
///     .preferred_lft(Lifetime::Seconds(120));
/// assert_eq!(spec.prefix.to_string(), "10.0.0.1/24");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrSpec {
    /// `dev LINK`.
    pub link: LinkId,
    /// The local address and prefix length (`10.0.0.1/24`).
    pub prefix: IpNet,
    /// `peer ADDR`: the other end of a point-to-point link (same family).
    pub peer: Option<IpAddr>,
    /// `brd +` or `brd ADDR` (IPv4 only).
    pub broadcast: Option<Broadcast>,
    /// `label LABEL` (IPv4 only): 1 to 15 bytes. By convention it starts
    /// with the link's name (`eth0:web`), but neither the kernel nor
    /// iproute2 6.1 requires that, so neither does this library.
    pub label: Option<String>,
    /// `scope SCOPE`. Unset, iproute2's default: `host` for 127.0.0.0/8,
    /// else `global` (the kernel then picks IPv6 scopes from the address).
    pub scope: Option<Scope>,
    /// `nodad`: skip IPv6 duplicate address detection (the address is
    /// usable at once instead of tentative).
    pub nodad: bool,
    /// `noprefixroute`: do not add the prefix route.
    pub noprefixroute: bool,
    /// `valid_lft`: forever unless set.
    pub valid_lft: Option<Lifetime>,
    /// `preferred_lft`: forever unless set; at most `valid_lft`.
    pub preferred_lft: Option<Lifetime>,
}

impl AddrSpec {
    /// `PREFIX dev LINK` with no options.
    pub fn new(link: impl Into<LinkId>, prefix: IpNet) -> Self {
        AddrSpec {
            link: link.into(),
            prefix,
            peer: None,
            broadcast: None,
            label: None,
            scope: None,
            nodad: false,
            noprefixroute: false,
            valid_lft: None,
            preferred_lft: None,
        }
    }

    /// `peer ADDR`.
    pub fn peer(mut self, peer: IpAddr) -> Self {
        self.peer = Some(peer);
        self
    }

    /// `brd ADDR`.
    pub fn broadcast(mut self, brd: Ipv4Addr) -> Self {
        self.broadcast = Some(Broadcast::Addr(brd));
        self
    }

    /// `brd +`.
    pub fn broadcast_auto(mut self) -> Self {
        self.broadcast = Some(Broadcast::Auto);
        self
    }

    /// `label LABEL`.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// `scope SCOPE`.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// `nodad`.
    pub fn nodad(mut self) -> Self {
        self.nodad = true;
        self
    }

    /// `noprefixroute`.
    pub fn noprefixroute(mut self) -> Self {
        self.noprefixroute = true;
        self
    }

    /// `valid_lft`.
    pub fn valid_lft(mut self, l: Lifetime) -> Self {
        self.valid_lft = Some(l);
        self
    }

    /// `preferred_lft`.
    pub fn preferred_lft(mut self, l: Lifetime) -> Self {
        self.preferred_lft = Some(l);
        self
    }

    /// What errors name: `PREFIX dev LINK` (formatted only when shown).
    fn object(&self) -> impl fmt::Display + '_ {
        Lazy(move |f: &mut fmt::Formatter<'_>| write!(f, "{} dev {}", self.prefix, self.link))
    }
}

/// Which addresses [`Handle::addrs`] lists; the kernel does the filtering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrFilter {
    /// Only the addresses of this link (`dev LINK`).
    pub link: Option<LinkId>,
    /// Only this family (`-4` / `-6`).
    pub family: Option<IpFamily>,
}

impl AddrFilter {
    /// Every address.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only the addresses of `link`.
    pub fn link(mut self, link: impl Into<LinkId>) -> Self {
        self.link = Some(link.into());
        self
    }

    /// Only addresses of `family`.
    pub fn family(mut self, family: IpFamily) -> Self {
        self.family = Some(family);
        self
    }
}

/// The checks that need nothing but the spec.
fn validate_addr(op: &'static str, spec: &AddrSpec, del: bool) -> Result<()> {
    let bad = |why: String| Err(Error::invalid(op, spec.object().to_string(), why));
    let family = IpFamily::of_net(&spec.prefix);
    if let LinkId::Name(n) = &spec.link {
        validate_ifname(op, n)?;
    }
    if let Some(p) = spec.peer {
        if IpFamily::of(&p) != family {
            return bad(format!(
                "peer {p} is {} but the address is {}",
                IpFamily::of(&p).label(),
                family.label()
            ));
        }
    }
    if spec.broadcast.is_some() && family != IpFamily::V4 {
        return bad("a broadcast address is IPv4 only".into());
    }
    if let Some(l) = &spec.label {
        if family != IpFamily::V4 {
            return bad("an address label is IPv4 only (the kernel ignores it for IPv6)".into());
        }
        if l.is_empty() || l.len() > crate::link::IFNAME_MAX || l.contains('\0') {
            return bad(format!(
                "label {l:?} must be 1 to 15 bytes without NUL (IFNAMSIZ - 1)"
            ));
        }
    }
    if del {
        return Ok(());
    }
    let valid = spec.valid_lft.unwrap_or(Lifetime::Forever);
    let preferred = spec.preferred_lft.unwrap_or(Lifetime::Forever);
    for (what, l) in [("valid_lft", valid), ("preferred_lft", preferred)] {
        if l == Lifetime::Seconds(INFINITY_LIFE_TIME) {
            return bad(format!(
                "{what} of {INFINITY_LIFE_TIME} seconds means forever on the wire: use Lifetime::Forever"
            ));
        }
    }
    if valid == Lifetime::Seconds(0) {
        return bad("valid_lft is zero".into());
    }
    if preferred.wire() > valid.wire() {
        return bad(format!(
            "preferred_lft ({preferred}) is greater than valid_lft ({valid})"
        ));
    }
    Ok(())
}

/// iproute2's default address scope: `host` for 127.0.0.0/8, else global.
fn default_addr_scope(addr: IpAddr) -> Scope {
    match addr {
        IpAddr::V4(a) if a.octets()[0] == 127 => Scope::HOST,
        _ => Scope::GLOBAL,
    }
}

/// Build an RTM_NEWADDR / RTM_DELADDR body the way `ip addr add|del` does.
/// `spec` has been validated; `index` is the link's index.
pub(crate) fn build_addr(spec: &AddrSpec, index: u32, del: bool) -> AddressMessage {
    let mut m = AddressMessage::default();
    let family = IpFamily::of_net(&spec.prefix);
    m.header.family = family.nl();
    m.header.prefix_len = spec.prefix.prefix_len();
    m.header.index = index;
    let local = spec.prefix.addr();
    let peer = spec.peer.unwrap_or(local);
    if !del {
        let scope = spec.scope.unwrap_or_else(|| default_addr_scope(local));
        m.header.scope = AddressScope::from(scope.0);
        let mut flags = AddrFlags::empty();
        flags.set(AddrFlags::NODAD, spec.nodad);
        flags.set(AddrFlags::NOPREFIXROUTE, spec.noprefixroute);
        let flags = flags.bits();
        // As iproute2: the header's byte when it suffices, else IFA_FLAGS.
        match u8::try_from(flags) {
            Ok(b) => m.header.flags = AddressHeaderFlags::from_bits_retain(b),
            Err(_) => m.attributes.push(AddressAttribute::Flags(
                netlink_packet_route::address::AddressFlags::from_bits_retain(flags),
            )),
        }
    } else if let Some(s) = spec.scope {
        m.header.scope = AddressScope::from(s.0);
    }
    m.attributes.push(AddressAttribute::Local(local));
    m.attributes.push(AddressAttribute::Address(peer));
    if let Some(l) = &spec.label {
        m.attributes.push(AddressAttribute::Label(l.clone()));
    }
    if del {
        return m;
    }
    let brd = match spec.broadcast {
        Some(Broadcast::Addr(b)) => Some(b),
        // `brd +` is computed from the peer prefix, as iproute2 does.
        Some(Broadcast::Auto) => IpNet::new(peer, spec.prefix.prefix_len())
            .ok()
            .and_then(|p| brd_plus(&p)),
        None => None,
    };
    if let Some(b) = brd {
        m.attributes.push(AddressAttribute::Broadcast(b));
    }
    if spec.valid_lft.is_some() || spec.preferred_lft.is_some() {
        let mut ci = CacheInfo::default();
        ci.ifa_valid = spec.valid_lft.unwrap_or(Lifetime::Forever).wire();
        ci.ifa_preferred = spec.preferred_lft.unwrap_or(Lifetime::Forever).wire();
        m.attributes.push(AddressAttribute::CacheInfo(ci));
    }
    m
}

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;
const ADDR_HEADER_LEN: usize = 8;
const RTM_NEWADDR: u16 = 20;

/// Parse an RTM_NEWADDR payload. `Ok(None)` for families other than IPv4
/// and IPv6. Only the attributes [`Address`] reports are decoded.
pub(crate) fn parse_addr(payload: &[u8]) -> std::result::Result<Option<Address>, String> {
    let h = payload
        .get(..ADDR_HEADER_LEN)
        .ok_or("address message shorter than its header")?;
    let Some(family) = IpFamily::from_af(h[0]) else {
        return Ok(None);
    };
    let prefix_len = h[1];
    let mut flags = u32::from(h[2]);
    let scope = Scope(h[3]);
    let index = u32::from_ne_bytes([h[4], h[5], h[6], h[7]]);
    let (mut local, mut address, mut broadcast, mut label) = (None, None, None, None);
    let (mut valid, mut preferred) = (Lifetime::Forever, Lifetime::Forever);
    for a in Nlas::new(&payload[ADDR_HEADER_LEN..]) {
        let a = a?;
        let (kind, v) = (a.kind, a.value);
        match kind {
            IFA_ADDRESS => address = Some(ip_of(family, v).ok_or("bad IFA_ADDRESS")?),
            IFA_LOCAL => local = Some(ip_of(family, v).ok_or("bad IFA_LOCAL")?),
            IFA_BROADCAST => match ip_of(IpFamily::V4, v) {
                Some(IpAddr::V4(b)) => broadcast = Some(b),
                _ => return Err("bad IFA_BROADCAST".into()),
            },
            IFA_LABEL => label = Some(c_string(v)),
            IFA_FLAGS => flags = u32_of(v).ok_or("bad IFA_FLAGS")?,
            IFA_CACHEINFO => {
                // struct ifa_cacheinfo { prefered, valid, cstamp, tstamp }
                preferred = Lifetime::from_wire(u32_at(v, 0).ok_or("bad IFA_CACHEINFO")?);
                valid = Lifetime::from_wire(u32_at(v, 4).ok_or("bad IFA_CACHEINFO")?);
            }
            _ => {}
        }
    }
    // As iproute2: the local address is IFA_LOCAL, else IFA_ADDRESS; the
    // peer is IFA_ADDRESS when both are present and differ.
    let (addr, peer) = match (local, address) {
        (Some(l), Some(a)) if l != a => (l, Some(a)),
        (Some(l), _) => (l, None),
        (None, Some(a)) => (a, None),
        (None, None) => return Err("address message without an address".into()),
    };
    let prefix = prefix("parse_addr", addr, prefix_len).map_err(|e| e.to_string())?;
    Ok(Some(Address {
        link_index: index,
        prefix,
        peer,
        broadcast,
        label,
        scope,
        flags: AddrFlags::from_bits_retain(flags),
        valid_lft: valid,
        preferred_lft: preferred,
    }))
}

impl Handle {
    /// Validate, resolve and build an address request.
    fn addr_request(&self, op: &'static str, spec: &AddrSpec, del: bool) -> Result<AddressMessage> {
        validate_addr(op, spec, del)?;
        let index = self.resolve_link(op, &spec.object(), "device", &spec.link)?;
        Ok(build_addr(spec, index, del))
    }

    fn addr_send(&self, op: &'static str, spec: &AddrSpec, verb: Verb) -> Result<()> {
        let msg = self.addr_request(op, spec, verb == Verb::Del)?;
        let msg = if verb == Verb::Del {
            RouteNetlinkMessage::DelAddress(msg)
        } else {
            RouteNetlinkMessage::NewAddress(msg)
        };
        self.sock().ack(op, &spec.object(), msg, verb)
    }

    /// Add an address to a link. The spec is checked and the link looked up
    /// first: a bad argument or an unknown device is reported before
    /// anything is sent. An address that already exists is an error with
    /// `is_exists()`.
    ///
    /// Equivalent to `ip addr add PREFIX [peer P] [brd +|ADDR] [label L]
    /// [scope S] [nodad] [noprefixroute] [valid_lft N] [preferred_lft N]
    /// dev LINK`.
    #[doc(alias = "ip addr add")]
    #[doc(alias = "RTM_NEWADDR")]
    pub fn addr_add(&self, spec: &AddrSpec) -> Result<()> {
        self.addr_send("addr_add", spec, Verb::Add)
    }

    /// Add an address, or update it if it exists. For an existing IPv4
    /// address the kernel updates only the lifetimes (and the route metric):
    /// the broadcast, label and scope it was created with stay (delete and
    /// add to change those).
    ///
    /// Equivalent to `ip addr replace PREFIX ... dev LINK`.
    #[doc(alias = "ip addr replace")]
    #[doc(alias = "RTM_NEWADDR")]
    pub fn addr_replace(&self, spec: &AddrSpec) -> Result<()> {
        self.addr_send("addr_replace", spec, Verb::Replace)
    }

    /// Remove an address. The link, the address and its prefix length (and
    /// the peer and label when set) select it; the other fields of the spec
    /// are ignored. A missing address is an error with `is_not_found()`.
    ///
    /// Equivalent to `ip addr del PREFIX [peer P] [label L] dev LINK`.
    #[doc(alias = "ip addr del")]
    #[doc(alias = "RTM_DELADDR")]
    pub fn addr_del(&self, spec: &AddrSpec) -> Result<()> {
        self.addr_send("addr_del", spec, Verb::Del)
    }

    /// The addresses of the namespace, filtered by the kernel by link and
    /// family (a strict dump request carrying `ifa_index` and
    /// `ifa_family`). An unknown link name is an invalid-argument error.
    ///
    /// Equivalent to `ip [-4|-6] addr show [dev LINK]`.
    #[doc(alias = "ip addr show")]
    #[doc(alias = "RTM_GETADDR")]
    pub fn addrs(&self, filter: &AddrFilter) -> Result<Vec<Address>> {
        const OP: &str = "addrs";
        let object = match &filter.link {
            Some(l) => format!("dev {l}"),
            None => "all".to_owned(),
        };
        let mut req = AddressMessage::default();
        if let Some(l) = &filter.link {
            req.header.index = self.resolve_link(OP, &object, "device", l)?;
        }
        req.header.family = filter
            .family
            .map(IpFamily::nl)
            .unwrap_or(AddressFamily::Unspec);
        let want = filter.family;
        self.sock().dump(
            OP,
            &object,
            RouteNetlinkMessage::GetAddress(req),
            |r: Reply<'_>| {
                if r.message_type != RTM_NEWADDR {
                    return Ok(None);
                }
                let a =
                    parse_addr(r.payload).map_err(|d| Error::protocol(OP, object.clone(), d))?;
                // The kernel filtered already; this guards only against
                // families we do not model.
                Ok(a.filter(|a| want.is_none_or(|f| a.family() == f)))
            },
        )
    }
}

impl Batch<'_> {
    fn addr_push(&mut self, op: &'static str, spec: &AddrSpec, verb: Verb) -> &mut Self {
        let del = verb == Verb::Del;
        let built = self.handle.addr_request(op, spec, del).map(|m| {
            let m = if del {
                RouteNetlinkMessage::DelAddress(m)
            } else {
                RouteNetlinkMessage::NewAddress(m)
            };
            (m, verb)
        });
        self.push(op, spec.object().to_string(), built)
    }

    /// Queue [`Handle::addr_add`]. A link given by name is looked up now
    /// (give an index to save that request).
    pub fn addr_add(&mut self, spec: &AddrSpec) -> &mut Self {
        self.addr_push("addr_add", spec, Verb::Add)
    }

    /// Queue [`Handle::addr_replace`].
    pub fn addr_replace(&mut self, spec: &AddrSpec) -> &mut Self {
        self.addr_push("addr_replace", spec, Verb::Replace)
    }

    /// Queue [`Handle::addr_del`].
    pub fn addr_del(&mut self, spec: &AddrSpec) -> &mut Self {
        self.addr_push("addr_del", spec, Verb::Del)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::Emitable;
    use proptest::prelude::*;

    fn p(s: &str) -> IpNet {
        crate::parse_prefix(s).unwrap()
    }

    #[test]
    fn spec_validation_before_anything_is_sent() {
        let v4 = AddrSpec::new("a0", p("10.0.0.1/24"));
        let v6 = AddrSpec::new("a0", p("2001:db8::1/64"));
        let bad = |s: &AddrSpec| validate_addr("addr_add", s, false).unwrap_err();
        assert!(validate_addr("addr_add", &v4, false).is_ok());
        assert!(validate_addr("addr_add", &v6.clone().nodad(), false).is_ok());
        let e = bad(&v4.clone().peer("2001:db8::2".parse().unwrap()));
        assert!(e.to_string().contains("peer 2001:db8::2 is IPv6"), "{e}");
        assert!(bad(&v6.clone().broadcast_auto())
            .to_string()
            .contains("IPv4 only"));
        assert!(bad(&v6.clone().label("a0:1"))
            .to_string()
            .contains("IPv4 only"));
        // Any label of 1 to 15 bytes, as the kernel and iproute2 6.1 accept.
        assert!(validate_addr("addr_add", &v4.clone().label("eth0:1"), false).is_ok());
        assert!(validate_addr("addr_add", &v4.clone().label("a0:web"), false).is_ok());
        let e = bad(&v4.clone().label("sixteen-bytes-xx"));
        assert!(e.to_string().contains("1 to 15 bytes"), "{e}");
        assert!(bad(&v4.clone().label("a0:0123456789abc"))
            .to_string()
            .contains("1 to 15 bytes"));
        assert!(bad(&v4.clone().valid_lft(Lifetime::Seconds(0)))
            .to_string()
            .contains("zero"));
        let e = bad(&v4.clone().valid_lft(Lifetime::Seconds(10)));
        assert!(
            e.to_string()
                .contains("preferred_lft (forever) is greater than valid_lft (10sec)"),
            "{e}"
        );
        assert!(validate_addr(
            "addr_add",
            &v4.clone()
                .valid_lft(Lifetime::Seconds(10))
                .preferred_lft(Lifetime::Seconds(10)),
            false
        )
        .is_ok());
        assert!(bad(&v4.clone().valid_lft(Lifetime::Seconds(u32::MAX)))
            .to_string()
            .contains("Forever"));
        let e = bad(&AddrSpec::new("a/b", p("10.0.0.1/24")));
        assert!(e.is_invalid_argument());
        // Deletion ignores the add-only options.
        assert!(validate_addr(
            "addr_del",
            &v4.clone().valid_lft(Lifetime::Seconds(0)),
            true
        )
        .is_ok());
    }

    #[test]
    fn build_matches_iproute2_request() {
        // ip addr add 10.0.5.1/24 brd + dev a0 (index 3), as strace shows it:
        // header {AF_INET, 24, 0, universe, 3}, IFA_LOCAL, IFA_ADDRESS,
        // IFA_BROADCAST 10.0.5.255.
        let m = build_addr(
            &AddrSpec::new(3u32, p("10.0.5.1/24")).broadcast_auto(),
            3,
            false,
        );
        assert_eq!(m.header.family, AddressFamily::Inet);
        assert_eq!(m.header.prefix_len, 24);
        assert_eq!(m.header.index, 3);
        assert_eq!(u8::from(m.header.scope), 0);
        assert_eq!(
            m.attributes,
            vec![
                AddressAttribute::Local(IpAddr::from([10, 0, 5, 1])),
                AddressAttribute::Address(IpAddr::from([10, 0, 5, 1])),
                AddressAttribute::Broadcast(Ipv4Addr::new(10, 0, 5, 255)),
            ]
        );
        let m = build_addr(&AddrSpec::new(3u32, p("127.0.0.2/8")), 3, false);
        assert_eq!(u8::from(m.header.scope), 254, "127/8 gets scope host");
        let m = build_addr(
            &AddrSpec::new(3u32, p("2001:db8::1/64"))
                .nodad()
                .noprefixroute()
                .valid_lft(Lifetime::Seconds(300))
                .preferred_lft(Lifetime::Seconds(200)),
            3,
            false,
        );
        assert!(m.attributes.contains(&AddressAttribute::Flags(
            netlink_packet_route::address::AddressFlags::from_bits_retain(0x202)
        )));
        let mut ci = CacheInfo::default();
        ci.ifa_valid = 300;
        ci.ifa_preferred = 200;
        assert!(m.attributes.contains(&AddressAttribute::CacheInfo(ci)));
        // A delete carries only what selects the address.
        let m = build_addr(
            &AddrSpec::new(3u32, p("10.0.5.1/24")).broadcast_auto(),
            3,
            true,
        );
        assert_eq!(m.attributes.len(), 2);
    }

    #[test]
    fn parse_round_trips_a_built_message() {
        let mut m = build_addr(
            &AddrSpec::new(3u32, p("10.0.5.1/24"))
                .broadcast_auto()
                .label("a0:x"),
            7,
            false,
        );
        let mut ci = CacheInfo::default();
        ci.ifa_valid = 300;
        ci.ifa_preferred = 100;
        m.attributes.push(AddressAttribute::CacheInfo(ci));
        let mut buf = vec![0u8; m.buffer_len()];
        m.emit(&mut buf);
        let a = parse_addr(&buf).unwrap().unwrap();
        assert_eq!(a.link_index, 7);
        assert_eq!(a.prefix, p("10.0.5.1/24"));
        assert_eq!(a.peer, None);
        assert_eq!(a.broadcast, Some(Ipv4Addr::new(10, 0, 5, 255)));
        assert_eq!(a.label.as_deref(), Some("a0:x"));
        assert_eq!(a.valid_lft, Lifetime::Seconds(300));
        assert_eq!(a.preferred_lft, Lifetime::Seconds(100));
    }

    #[test]
    fn parse_never_panics_on_garbage() {
        assert!(parse_addr(&[]).is_err());
        assert!(parse_addr(&[2, 24, 0, 0, 1, 0, 0, 0, 8, 0, 2, 0, 10]).is_err());
        // unknown family: skipped
        assert_eq!(parse_addr(&[99, 0, 0, 0, 1, 0, 0, 0]).unwrap(), None);
        // prefix length out of range from the kernel: an error, not a panic
        let mut b = vec![2u8, 40, 0, 0, 1, 0, 0, 0];
        b.extend_from_slice(&8u16.to_ne_bytes());
        b.extend_from_slice(&IFA_LOCAL.to_ne_bytes());
        b.extend_from_slice(&[10, 0, 0, 1]);
        assert!(parse_addr(&b).is_err());
    }

    proptest! {
        #[test]
        fn parse_addr_total(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_addr(&bytes);
            for a in Nlas::new(&bytes) { let _ = a; }
        }
    }
}
