//! IP addresses on links: list, add, replace, delete; and the small value
//! types the address, route and neighbour modules share ([`IpFamily`],
//! [`IpPrefix`], [`Scope`]).
//!
//! ```no_run
//! use netns_core::{AddrFilter, AddrSpec, Handle, IpFamily};
//! let h = Handle::new()?;
//! // ip addr add 10.0.0.1/24 brd + dev eth0
//! h.addr_add(&AddrSpec::new("eth0", "10.0.0.1/24".parse()?).broadcast_auto())?;
//! // ip -4 addr show dev eth0
//! for a in h.addrs(&AddrFilter::new().link("eth0").family(IpFamily::V4))? {
//!     println!("{} {}", a.prefix, a.scope);
//! }
//! # Ok::<(), netns_core::Error>(())
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
//! ip-address(8), rtnetlink(7), linux/if_addr.h, net/ipv4/devinet.c,
//! net/ipv6/addrconf.c.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use netlink_packet_route::address::{
    AddressAttribute, AddressHeaderFlags, AddressMessage, AddressScope, CacheInfo,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::{Error, Result};
use crate::link::validate_ifname;
use crate::nla::{c_string, u32_at, u32_of, Nlas};
use crate::socket::{Reply, Verb};
use crate::{Batch, Handle, LinkId};

// ---------------------------------------------------------------------------
// Shared value types
// ---------------------------------------------------------------------------

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpFamily {
    /// IPv4 (AF_INET), shown as `inet`.
    V4,
    /// IPv6 (AF_INET6), shown as `inet6`.
    V6,
}

impl IpFamily {
    /// The family of `ip`.
    pub fn of(ip: &IpAddr) -> IpFamily {
        match ip {
            IpAddr::V4(_) => IpFamily::V4,
            IpAddr::V6(_) => IpFamily::V6,
        }
    }

    /// The longest prefix length of the family: 32 or 128.
    pub fn max_prefix_len(self) -> u8 {
        match self {
            IpFamily::V4 => 32,
            IpFamily::V6 => 128,
        }
    }

    pub(crate) fn from_af(af: u8) -> Option<IpFamily> {
        match i32::from(af) {
            libc::AF_INET => Some(IpFamily::V4),
            libc::AF_INET6 => Some(IpFamily::V6),
            _ => None,
        }
    }

    pub(crate) fn nl(self) -> AddressFamily {
        match self {
            IpFamily::V4 => AddressFamily::Inet,
            IpFamily::V6 => AddressFamily::Inet6,
        }
    }

    /// `IPv4` or `IPv6`, for messages.
    pub(crate) fn label(self) -> &'static str {
        match self {
            IpFamily::V4 => "IPv4",
            IpFamily::V6 => "IPv6",
        }
    }
}

impl fmt::Display for IpFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpFamily::V4 => "inet",
            IpFamily::V6 => "inet6",
        })
    }
}

/// An IP address with a prefix length: `10.0.0.1/24`, `2001:db8::/64`.
///
/// The address may have host bits set (an interface address such as
/// `10.0.0.1/24` does); [`IpPrefix::network`] clears them. The prefix length
/// is checked on construction: it can never exceed 32 (IPv4) or 128 (IPv6).
///
/// ```
/// use netns_core::IpPrefix;
/// let p: IpPrefix = "10.0.0.77/24".parse()?;
/// assert_eq!(p.network().to_string(), "10.0.0.0/24");
/// assert_eq!(p.broadcast().unwrap().to_string(), "10.0.0.255");
/// assert!(p.contains("10.0.0.200".parse().unwrap()));
/// assert_eq!("2001:db8::1".parse::<IpPrefix>()?.prefix_len(), 128);
/// assert!("10.0.0.0/33".parse::<IpPrefix>().is_err());
/// # Ok::<(), netns_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    addr: IpAddr,
    len: u8,
}

impl IpPrefix {
    /// `addr/len`; an error if `len` is longer than the family allows.
    pub fn new(addr: IpAddr, len: u8) -> Result<IpPrefix> {
        let max = IpFamily::of(&addr).max_prefix_len();
        if len > max {
            return Err(Error::invalid(
                "prefix",
                format!("{addr}/{len}"),
                format!(
                    "prefix length {len} is out of range for {} (0..={max})",
                    IpFamily::of(&addr).label()
                ),
            ));
        }
        Ok(IpPrefix { addr, len })
    }

    /// The host prefix of `addr`: `/32` or `/128`.
    pub fn host(addr: IpAddr) -> IpPrefix {
        IpPrefix {
            addr,
            len: IpFamily::of(&addr).max_prefix_len(),
        }
    }

    /// The prefix that matches everything (`0.0.0.0/0` or `::/0`): the
    /// destination of a default route.
    pub fn any(family: IpFamily) -> IpPrefix {
        let addr = match family {
            IpFamily::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpFamily::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        IpPrefix { addr, len: 0 }
    }

    /// The address, as given (host bits included).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// The address family.
    pub fn family(&self) -> IpFamily {
        IpFamily::of(&self.addr)
    }

    /// Whether this is the zero-length prefix (a default route's).
    pub fn is_default(&self) -> bool {
        self.len == 0
    }

    /// The netmask as an address (`255.255.255.0` for a /24).
    pub fn netmask(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(mask32(self.len))),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(mask128(self.len))),
        }
    }

    /// The same prefix with the host bits cleared.
    pub fn network(&self) -> IpPrefix {
        let addr = match self.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(self.len))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(self.len))),
        };
        IpPrefix {
            addr,
            len: self.len,
        }
    }

    /// Whether no host bit is set (what a route destination must be).
    pub fn is_network(&self) -> bool {
        self.network().addr == self.addr
    }

    /// Whether `ip` lies inside this prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) ^ u32::from(b)) & mask32(self.len) == 0,
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                (u128::from(a) ^ u128::from(b)) & mask128(self.len) == 0
            }
            _ => false,
        }
    }

    /// The broadcast address iproute2's `brd +` computes: the prefix's last
    /// address, for IPv4 prefixes of 30 bits or less. `None` for /31, /32
    /// (point-to-point links have no broadcast) and for IPv6.
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        match self.addr {
            IpAddr::V4(a) if self.len <= 30 => {
                Some(Ipv4Addr::from(u32::from(a) | !mask32(self.len)))
            }
            _ => None,
        }
    }
}

fn mask32(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for IpPrefix {
    type Err = Error;

    /// `ADDR/LEN`, or a bare `ADDR` for its host prefix.
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid("prefix_parse", s, why);
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| bad("expected an IP address like 10.0.0.1/24 or 2001:db8::1/64"))?;
        match l {
            None => Ok(IpPrefix::host(addr)),
            Some(l) => {
                if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("the prefix length must be a decimal number"));
                }
                let len: u8 = l
                    .parse()
                    .map_err(|_| bad("the prefix length is out of range"))?;
                IpPrefix::new(addr, len).map_err(|e| match e {
                    Error::InvalidArgument { reason, .. } => bad(&reason),
                    other => other,
                })
            }
        }
    }
}

impl From<IpAddr> for IpPrefix {
    /// The host prefix of the address.
    fn from(a: IpAddr) -> Self {
        IpPrefix::host(a)
    }
}

/// The scope of an address or route (`rt_scope_t`), shown the way `ip`
/// shows it: `global`, `site`, `link`, `host`, `nowhere`, or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scope(pub u8);

impl Scope {
    /// RT_SCOPE_UNIVERSE (0): `global`.
    pub const GLOBAL: Scope = Scope(0);
    /// RT_SCOPE_SITE (200): `site`.
    pub const SITE: Scope = Scope(200);
    /// RT_SCOPE_LINK (253): `link`, valid on the link only.
    pub const LINK: Scope = Scope(253);
    /// RT_SCOPE_HOST (254): `host`, valid inside this host only.
    pub const HOST: Scope = Scope(254);
    /// RT_SCOPE_NOWHERE (255): `nowhere`.
    pub const NOWHERE: Scope = Scope(255);

    fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "global",
            200 => "site",
            253 => "link",
            254 => "host",
            255 => "nowhere",
            _ => return None,
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

impl FromStr for Scope {
    type Err = Error;

    /// A name as `ip` spells it (`universe` is accepted for `global`) or a
    /// number 0..=255.
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "global" | "universe" => Scope::GLOBAL,
            "site" => Scope::SITE,
            "link" => Scope::LINK,
            "host" => Scope::HOST,
            "nowhere" => Scope::NOWHERE,
            _ => Scope(s.parse().map_err(|_| {
                Error::invalid(
                    "scope_parse",
                    s,
                    "expected global, site, link, host, nowhere or 0..=255",
                )
            })?),
        })
    }
}

// ---------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------

/// Address flags (`IFA_F_*`), as `ip addr` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AddrFlags(pub u32);

impl AddrFlags {
    /// IFA_F_SECONDARY (IPv4: not the first address of its subnet; IPv6:
    /// IFA_F_TEMPORARY, a privacy address).
    pub const SECONDARY: u32 = 0x01;
    /// IFA_F_NODAD: no duplicate address detection.
    pub const NODAD: u32 = 0x02;
    /// IFA_F_OPTIMISTIC: optimistic DAD.
    pub const OPTIMISTIC: u32 = 0x04;
    /// IFA_F_DADFAILED: duplicate address detection failed.
    pub const DADFAILED: u32 = 0x08;
    /// IFA_F_HOMEADDRESS: Mobile IPv6 home address.
    pub const HOMEADDRESS: u32 = 0x10;
    /// IFA_F_DEPRECATED: the preferred lifetime has run out.
    pub const DEPRECATED: u32 = 0x20;
    /// IFA_F_TENTATIVE: duplicate address detection has not finished.
    pub const TENTATIVE: u32 = 0x40;
    /// IFA_F_PERMANENT: the address never expires (set by the kernel).
    pub const PERMANENT: u32 = 0x80;
    /// IFA_F_MANAGETEMPADDR: make privacy addresses from this prefix.
    pub const MANAGETEMPADDR: u32 = 0x100;
    /// IFA_F_NOPREFIXROUTE: do not add the prefix route.
    pub const NOPREFIXROUTE: u32 = 0x200;
    /// IFA_F_MCAUTOJOIN: join the multicast group of a multicast address.
    pub const MCAUTOJOIN: u32 = 0x400;
    /// IFA_F_STABLE_PRIVACY: a stable privacy (RFC 7217) address.
    pub const STABLE_PRIVACY: u32 = 0x800;

    /// Whether every bit of `flag` is set.
    pub fn contains(self, flag: u32) -> bool {
        self.0 & flag == flag
    }
    /// IFA_F_PERMANENT.
    pub fn is_permanent(self) -> bool {
        self.contains(Self::PERMANENT)
    }
    /// IFA_F_NODAD.
    pub fn is_nodad(self) -> bool {
        self.contains(Self::NODAD)
    }
    /// IFA_F_SECONDARY.
    pub fn is_secondary(self) -> bool {
        self.contains(Self::SECONDARY)
    }
    /// IFA_F_TENTATIVE.
    pub fn is_tentative(self) -> bool {
        self.contains(Self::TENTATIVE)
    }
    /// IFA_F_DEPRECATED.
    pub fn is_deprecated(self) -> bool {
        self.contains(Self::DEPRECATED)
    }
    /// IFA_F_DADFAILED.
    pub fn is_dadfailed(self) -> bool {
        self.contains(Self::DADFAILED)
    }
    /// IFA_F_NOPREFIXROUTE.
    pub fn is_noprefixroute(self) -> bool {
        self.contains(Self::NOPREFIXROUTE)
    }

    /// The flag names as `ip addr` spells them, in its order (IFA_F_SECONDARY
    /// is `secondary`; `ip` calls it `temporary` on IPv6).
    pub fn names(self) -> Vec<&'static str> {
        const NAMES: [(u32, &str); 12] = [
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
        NAMES
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, n)| *n)
            .collect()
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The index of the link it is on.
    pub index: u32,
    /// The local address and the prefix length (`inet 10.0.0.1/24`).
    pub prefix: IpPrefix,
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
        self.prefix.family()
    }

    /// The local address.
    pub fn addr(&self) -> IpAddr {
        self.prefix.addr()
    }
}

/// The broadcast address to give an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Broadcast {
    /// `brd +`: the last address of the prefix (none for /31 and /32),
    /// computed by [`IpPrefix::broadcast`].
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
/// # Ok::<(), netns_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrSpec {
    /// `dev LINK`.
    pub link: LinkId,
    /// The local address and prefix length (`10.0.0.1/24`).
    pub prefix: IpPrefix,
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
    pub fn new(link: impl Into<LinkId>, prefix: IpPrefix) -> Self {
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
    let family = spec.prefix.family();
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
    let family = spec.prefix.family();
    m.header.family = family.nl();
    m.header.prefix_len = spec.prefix.prefix_len();
    m.header.index = index;
    let local = spec.prefix.addr();
    let peer = spec.peer.unwrap_or(local);
    if !del {
        let scope = spec.scope.unwrap_or_else(|| default_addr_scope(local));
        m.header.scope = AddressScope::from(scope.0);
        let mut flags = 0u32;
        if spec.nodad {
            flags |= AddrFlags::NODAD;
        }
        if spec.noprefixroute {
            flags |= AddrFlags::NOPREFIXROUTE;
        }
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
        Some(Broadcast::Auto) => IpPrefix {
            addr: peer,
            len: spec.prefix.prefix_len(),
        }
        .broadcast(),
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
    let prefix = IpPrefix::new(addr, prefix_len).map_err(|e| e.to_string())?;
    Ok(Some(Address {
        index,
        prefix,
        peer,
        broadcast,
        label,
        scope,
        flags: AddrFlags(flags),
        valid_lft: valid,
        preferred_lft: preferred,
    }))
}

// ---------------------------------------------------------------------------
// Helpers shared with route.rs and neigh.rs
// ---------------------------------------------------------------------------

/// An address of `family` from its wire bytes.
pub(crate) fn ip_of(family: IpFamily, v: &[u8]) -> Option<IpAddr> {
    match family {
        IpFamily::V4 => <[u8; 4]>::try_from(v).ok().map(IpAddr::from),
        IpFamily::V6 => <[u8; 16]>::try_from(v).ok().map(IpAddr::from),
    }
}

/// Text formatted only when shown: the object of a request is needed only
/// if it fails, so the hot path does not format it.
pub(crate) struct Lazy<F>(pub(crate) F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Lazy<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

/// Check that `ip` is of family `want` ("{what} {ip} is IPv6 but
/// {of_what} is IPv4" otherwise).
pub(crate) fn same_family(
    op: &'static str,
    object: &dyn fmt::Display,
    what: &dyn fmt::Display,
    ip: IpAddr,
    want: IpFamily,
    of_what: &dyn fmt::Display,
) -> Result<()> {
    let got = IpFamily::of(&ip);
    if got == want {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            object.to_string(),
            format!(
                "{what} {ip} is {} but {of_what} is {}",
                got.label(),
                want.label()
            ),
        ))
    }
}

impl Handle {
    /// The index of the device `id` (a name is validated, then looked up
    /// with one RTM_GETLINK). An unknown name is an invalid-argument error
    /// naming it.
    pub(crate) fn resolve_link(
        &self,
        op: &'static str,
        object: &dyn fmt::Display,
        id: &LinkId,
    ) -> Result<u32> {
        if let LinkId::Name(n) = id {
            validate_ifname(op, n)?;
        }
        self.resolve(op, object, "device", id)
    }

    /// Validate, resolve and build an address request.
    fn addr_request(&self, op: &'static str, spec: &AddrSpec, del: bool) -> Result<AddressMessage> {
        validate_addr(op, spec, del)?;
        let index = self.resolve_link(op, &spec.object(), &spec.link)?;
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
    pub fn addr_add(&self, spec: &AddrSpec) -> Result<()> {
        self.addr_send("addr_add", spec, Verb::Add)
    }

    /// Add an address, or update it if it exists. For an existing IPv4
    /// address the kernel updates only the lifetimes (and the route metric):
    /// the broadcast, label and scope it was created with stay (delete and
    /// add to change those).
    ///
    /// Equivalent to `ip addr replace PREFIX ... dev LINK`.
    pub fn addr_replace(&self, spec: &AddrSpec) -> Result<()> {
        self.addr_send("addr_replace", spec, Verb::Replace)
    }

    /// Remove an address. The link, the address and its prefix length (and
    /// the peer and label when set) select it; the other fields of the spec
    /// are ignored. A missing address is an error with `is_not_found()`.
    ///
    /// Equivalent to `ip addr del PREFIX [peer P] [label L] dev LINK`.
    pub fn addr_del(&self, spec: &AddrSpec) -> Result<()> {
        self.addr_send("addr_del", spec, Verb::Del)
    }

    /// The addresses of the namespace, filtered by the kernel by link and
    /// family (a strict dump request carrying `ifa_index` and
    /// `ifa_family`). An unknown link name is an invalid-argument error.
    ///
    /// Equivalent to `ip [-4|-6] addr show [dev LINK]`.
    pub fn addrs(&self, filter: &AddrFilter) -> Result<Vec<Address>> {
        const OP: &str = "addrs";
        let object = match &filter.link {
            Some(l) => format!("dev {l}"),
            None => "all".to_owned(),
        };
        let mut req = AddressMessage::default();
        if let Some(l) = &filter.link {
            req.header.index = self.resolve_link(OP, &object, l)?;
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

    fn p(s: &str) -> IpPrefix {
        s.parse().unwrap()
    }

    #[test]
    fn prefix_parse_and_display() {
        assert_eq!(p("10.0.0.1/24").to_string(), "10.0.0.1/24");
        assert_eq!(p("10.0.0.1").prefix_len(), 32);
        assert_eq!(p("::/0").to_string(), "::/0");
        assert_eq!(p("2001:db8::1/64").network().to_string(), "2001:db8::/64");
        for bad in [
            "10.0.0.0/33",
            "2001:db8::/129",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "10.0.0.0/+1",
            "10.0.0.0/0024",
            "10.0.0/24",
            "default",
            "",
            "10.0.0.0/24/1",
        ] {
            let e = bad.parse::<IpPrefix>().unwrap_err();
            assert!(e.is_invalid_argument(), "{bad}: {e}");
        }
        let e = "10.0.0.0/33".parse::<IpPrefix>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "prefix_parse 10.0.0.0/33: invalid argument: prefix length 33 is out of range for IPv4 (0..=32)"
        );
        assert!(IpPrefix::new("::1".parse().unwrap(), 129).is_err());
        assert!(IpPrefix::new("::1".parse().unwrap(), 128).is_ok());
    }

    #[test]
    fn broadcast_like_iproute2_brd_plus() {
        assert_eq!(
            p("10.0.0.1/24").broadcast(),
            Some("10.0.0.255".parse().unwrap())
        );
        assert_eq!(
            p("10.0.0.1/30").broadcast(),
            Some("10.0.0.3".parse().unwrap())
        );
        assert_eq!(p("10.0.0.1/31").broadcast(), None);
        assert_eq!(p("10.0.0.1/32").broadcast(), None);
        assert_eq!(p("10.1.2.3/0").broadcast(), Some(Ipv4Addr::BROADCAST));
        assert_eq!(
            p("10.1.2.3/8").broadcast(),
            Some("10.255.255.255".parse().unwrap())
        );
        assert_eq!(p("2001:db8::1/64").broadcast(), None);
    }

    #[test]
    fn scope_names() {
        for (s, v) in [
            ("global", 0),
            ("site", 200),
            ("link", 253),
            ("host", 254),
            ("nowhere", 255),
        ] {
            assert_eq!(s.parse::<Scope>().unwrap(), Scope(v));
            assert_eq!(Scope(v).to_string(), s);
        }
        assert_eq!("17".parse::<Scope>().unwrap().to_string(), "17");
        assert!("galactic".parse::<Scope>().is_err());
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
        assert_eq!(a.index, 7);
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
        fn prefix_math(a in any::<u32>(), len in 0u8..=32) {
            let pr = IpPrefix::new(IpAddr::V4(Ipv4Addr::from(a)), len).unwrap();
            let net = pr.network();
            prop_assert!(net.is_network());
            prop_assert!(pr.contains(pr.addr()));
            prop_assert!(net.contains(pr.addr()));
            prop_assert_eq!(net.network(), net);
            let IpAddr::V4(n) = net.addr() else { unreachable!() };
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            prop_assert_eq!(u32::from(n), a & mask);
            match pr.broadcast() {
                Some(b) => {
                    prop_assert!(len <= 30);
                    prop_assert_eq!(u32::from(b), a | !mask);
                    prop_assert!(pr.contains(IpAddr::V4(b)));
                }
                None => prop_assert!(len > 30),
            }
            // Display / FromStr round trip.
            prop_assert_eq!(pr.to_string().parse::<IpPrefix>().unwrap(), pr);
        }

        #[test]
        fn prefix_math_v6(a in any::<u128>(), len in 0u8..=128) {
            let pr = IpPrefix::new(IpAddr::V6(Ipv6Addr::from(a)), len).unwrap();
            prop_assert!(pr.network().is_network());
            prop_assert!(pr.network().contains(pr.addr()));
            prop_assert_eq!(pr.is_network(), pr.network() == pr);
            prop_assert_eq!(pr.to_string().parse::<IpPrefix>().unwrap(), pr);
            prop_assert_eq!(pr.broadcast(), None);
        }

        #[test]
        fn out_of_range_lengths_refused(a in any::<u32>(), len in 33u8..=255) {
            prop_assert!(IpPrefix::new(IpAddr::V4(Ipv4Addr::from(a)), len).is_err());
            let s = format!("{}/{}", Ipv4Addr::from(a), len);
            prop_assert!(s.parse::<IpPrefix>().is_err());
        }

        #[test]
        fn parse_addr_total(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_addr(&bytes);
            for a in Nlas::new(&bytes) { let _ = a; }
        }
    }
}
