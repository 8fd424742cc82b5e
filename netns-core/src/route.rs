//! Routes: list, look up (`ip route get`), add, replace, append, delete;
//! IPv4 and IPv6, every table, multipath with weights.
//!
//! ```no_run
//! use netns_core::{Handle, NextHopSpec, RouteSpec};
//! let h = Handle::new()?;
//! // ip route add default via 10.0.0.1
//! h.route_add(&RouteSpec::default_via("10.0.0.1".parse().unwrap()))?;
//! // ip route add 10.9.0.0/16 nexthop via 10.0.0.2 weight 2 nexthop via 10.0.0.3
//! h.route_add(
//!     &RouteSpec::new("10.9.0.0/16".parse()?)
//!         .nexthop(NextHopSpec::via("10.0.0.2".parse().unwrap()).weight(2))
//!         .nexthop(NextHopSpec::via("10.0.0.3".parse().unwrap())),
//! )?;
//! let r = h.route_get("10.9.1.1".parse().unwrap())?; // ip route get 10.9.1.1
//! println!("{:?} {:?}", r.gateway, r.oif);
//! # Ok::<(), netns_core::Error>(())
//! ```
//!
//! # Defaults
//!
//! A [`RouteSpec`] mirrors `ip route add`: table `main` (`local` for the
//! `local`, `broadcast`, `anycast` and `nat` types), protocol `boot`, type
//! `unicast`, and iproute2's scope rule (`host` for local routes, `link` for
//! IPv4 unicast routes with neither gateway nor nexthops, `link` for
//! broadcast/multicast/anycast, else `global`). For a delete, every unset
//! field is a wildcard, as with `ip route del`.
//!
//! A destination with host bits set (`10.0.0.1/24`) is refused before
//! anything is sent, for both families: the kernel refuses it for IPv4
//! ("Invalid prefix for given prefix length") but silently masks it for IPv6.
//!
//! # References
//! ip-route(8), rtnetlink(7), linux/rtnetlink.h, net/ipv4/fib_frontend.c,
//! net/ipv6/route.c.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags as NlRouteFlags, RouteHeader, RouteMessage,
    RouteNextHop, RouteNextHopFlags, RouteProtocol as NlRouteProtocol, RouteScope as NlRouteScope,
    RouteType as NlRouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::addr::{ip_of, same_family, IpFamily, IpPrefix, Lazy, Scope};
use crate::error::{Error, Result};
use crate::link::validate_ifname;
use crate::nla::{u32_at, u32_of, Nlas};
use crate::socket::{Reply, Verb};
use crate::{Batch, Handle, LinkId};

/// The `main` table (RT_TABLE_MAIN), where routes go by default.
pub const TABLE_MAIN: u32 = 254;
/// The `local` table (RT_TABLE_LOCAL): local and broadcast routes.
pub const TABLE_LOCAL: u32 = 255;
/// The `default` table (RT_TABLE_DEFAULT).
pub const TABLE_DEFAULT: u32 = 253;

/// A route type (`rtm_type`), shown as `ip route` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RouteType(pub u8);

const RTN_NAMES: [&str; 12] = [
    "unspec",
    "unicast",
    "local",
    "broadcast",
    "anycast",
    "multicast",
    "blackhole",
    "unreachable",
    "prohibit",
    "throw",
    "nat",
    "xresolve",
];

impl RouteType {
    /// RTN_UNSPEC (0): no type (a wildcard in a delete).
    pub const UNSPEC: RouteType = RouteType(0);
    /// RTN_UNICAST: a gateway or direct route, the default.
    pub const UNICAST: RouteType = RouteType(1);
    /// RTN_LOCAL: a destination on this host.
    pub const LOCAL: RouteType = RouteType(2);
    /// RTN_BROADCAST: a broadcast destination.
    pub const BROADCAST: RouteType = RouteType(3);
    /// RTN_ANYCAST.
    pub const ANYCAST: RouteType = RouteType(4);
    /// RTN_MULTICAST.
    pub const MULTICAST: RouteType = RouteType(5);
    /// RTN_BLACKHOLE: packets are dropped silently.
    pub const BLACKHOLE: RouteType = RouteType(6);
    /// RTN_UNREACHABLE: packets are dropped, the sender gets ICMP
    /// unreachable.
    pub const UNREACHABLE: RouteType = RouteType(7);
    /// RTN_PROHIBIT: packets are dropped, the sender gets ICMP prohibited.
    pub const PROHIBIT: RouteType = RouteType(8);
    /// RTN_THROW: the lookup continues in the next rule.
    pub const THROW: RouteType = RouteType(9);
    /// RTN_NAT.
    pub const NAT: RouteType = RouteType(10);
    /// RTN_XRESOLVE.
    pub const XRESOLVE: RouteType = RouteType(11);

    /// Types that drop or reject: no gateway, device or nexthop.
    fn is_reject(self) -> bool {
        matches!(
            self,
            RouteType::BLACKHOLE | RouteType::UNREACHABLE | RouteType::PROHIBIT | RouteType::THROW
        )
    }
}

impl fmt::Display for RouteType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match RTN_NAMES.get(usize::from(self.0)) {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

impl FromStr for RouteType {
    type Err = Error;
    /// A name as `ip route` spells it, or a number.
    fn from_str(s: &str) -> Result<Self> {
        if let Some(i) = RTN_NAMES.iter().position(|n| *n == s) {
            return Ok(RouteType(i as u8));
        }
        s.parse().map(RouteType).map_err(|_| {
            Error::invalid(
                "route_type_parse",
                s,
                "expected unicast, local, broadcast, anycast, multicast, blackhole, unreachable, prohibit, throw, nat or a number",
            )
        })
    }
}

/// Who installed a route (`rtm_protocol`), shown as `ip route` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RouteProtocol(pub u8);

const RTPROT_NAMES: [(u8, &str); 22] = [
    (0, "unspec"),
    (1, "redirect"),
    (2, "kernel"),
    (3, "boot"),
    (4, "static"),
    (8, "gated"),
    (9, "ra"),
    (10, "mrt"),
    (11, "zebra"),
    (12, "bird"),
    (13, "dnrouted"),
    (14, "xorp"),
    (15, "ntk"),
    (16, "dhcp"),
    (17, "mrouted"),
    (18, "keepalived"),
    (42, "babel"),
    (99, "openr"),
    (186, "bgp"),
    (187, "isis"),
    (188, "ospf"),
    (189, "rip"),
];

impl RouteProtocol {
    /// RTPROT_UNSPEC (a wildcard in a delete).
    pub const UNSPEC: RouteProtocol = RouteProtocol(0);
    /// RTPROT_REDIRECT: from an ICMP redirect.
    pub const REDIRECT: RouteProtocol = RouteProtocol(1);
    /// RTPROT_KERNEL: installed by the kernel (prefix routes of addresses).
    pub const KERNEL: RouteProtocol = RouteProtocol(2);
    /// RTPROT_BOOT: `ip route add`'s default.
    pub const BOOT: RouteProtocol = RouteProtocol(3);
    /// RTPROT_STATIC: installed by an administrator.
    pub const STATIC: RouteProtocol = RouteProtocol(4);
    /// RTPROT_RA: from IPv6 router advertisements.
    pub const RA: RouteProtocol = RouteProtocol(9);
    /// RTPROT_DHCP.
    pub const DHCP: RouteProtocol = RouteProtocol(16);
}

impl fmt::Display for RouteProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match RTPROT_NAMES.iter().find(|(v, _)| *v == self.0) {
            Some((_, n)) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

impl FromStr for RouteProtocol {
    type Err = Error;
    /// A name as iproute2's rt_protos spells it, or a number.
    fn from_str(s: &str) -> Result<Self> {
        if let Some((v, _)) = RTPROT_NAMES.iter().find(|(_, n)| *n == s) {
            return Ok(RouteProtocol(*v));
        }
        s.parse().map(RouteProtocol).map_err(|_| {
            Error::invalid(
                "route_protocol_parse",
                s,
                "expected a protocol name (boot, static, kernel, dhcp...) or 0..=255",
            )
        })
    }
}

/// Route and nexthop flags (`rtm_flags`, `rtnh_flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RouteFlags(pub u32);

impl RouteFlags {
    /// RTNH_F_DEAD: the nexthop is dead.
    pub const DEAD: u32 = 0x01;
    /// RTNH_F_PERVASIVE.
    pub const PERVASIVE: u32 = 0x02;
    /// RTNH_F_ONLINK: the gateway is on the link even if no prefix says so.
    pub const ONLINK: u32 = 0x04;
    /// RTNH_F_OFFLOAD.
    pub const OFFLOAD: u32 = 0x08;
    /// RTNH_F_LINKDOWN: the nexthop's carrier is down.
    pub const LINKDOWN: u32 = 0x10;
    /// RTM_F_CLONED: a cached/cloned route (`ip route get` answers).
    pub const CLONED: u32 = 0x200;

    /// Whether every bit of `flag` is set.
    pub fn contains(self, flag: u32) -> bool {
        self.0 & flag == flag
    }
    /// RTNH_F_ONLINK.
    pub fn is_onlink(self) -> bool {
        self.contains(Self::ONLINK)
    }
    /// RTNH_F_LINKDOWN.
    pub fn is_linkdown(self) -> bool {
        self.contains(Self::LINKDOWN)
    }
    /// RTNH_F_DEAD.
    pub fn is_dead(self) -> bool {
        self.contains(Self::DEAD)
    }
    /// The flag names `ip route` shows (`onlink`, `linkdown`, `dead`...).
    pub fn names(self) -> Vec<&'static str> {
        const NAMES: [(u32, &str); 5] = [
            (RouteFlags::DEAD, "dead"),
            (RouteFlags::ONLINK, "onlink"),
            (RouteFlags::PERVASIVE, "pervasive"),
            (RouteFlags::OFFLOAD, "offload"),
            (RouteFlags::LINKDOWN, "linkdown"),
        ];
        NAMES
            .iter()
            .filter(|(b, _)| self.0 & b != 0)
            .map(|(_, n)| *n)
            .collect()
    }
}

/// One path of a multipath route, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHop {
    /// `via ADDR`.
    pub gateway: Option<IpAddr>,
    /// `dev`: the output link's index.
    pub oif: Option<u32>,
    /// `weight`, 1..=256.
    pub weight: u16,
    /// The nexthop's flags (onlink, linkdown, dead...).
    pub flags: RouteFlags,
}

/// A route, as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The destination (`0.0.0.0/0` or `::/0` for `default`).
    pub dst: IpPrefix,
    /// The source prefix of a source-specific (IPv6 `from`) route.
    pub src: Option<IpPrefix>,
    /// The table id (RTA_TABLE, which holds ids above 255).
    pub table: u32,
    /// Who installed it.
    pub protocol: RouteProtocol,
    /// The scope.
    pub scope: Scope,
    /// The type (unicast, local, blackhole...).
    pub kind: RouteType,
    /// The route's flags (onlink, linkdown, cloned...).
    pub flags: RouteFlags,
    /// `via ADDR` (single-path routes).
    pub gateway: Option<IpAddr>,
    /// `dev`: the output link's index (single-path routes).
    pub oif: Option<u32>,
    /// `src ADDR`: the preferred source address.
    pub prefsrc: Option<IpAddr>,
    /// `metric N` (RTA_PRIORITY).
    pub metric: Option<u32>,
    /// The paths of a multipath route (empty for a single path).
    pub nexthops: Vec<NextHop>,
}

impl Route {
    /// The address family.
    pub fn family(&self) -> IpFamily {
        self.dst.family()
    }

    /// A spec that selects exactly this route for [`Handle::route_del`]
    /// (destination, table, type, protocol, scope, metric, gateway and
    /// device).
    pub fn to_spec(&self) -> RouteSpec {
        RouteSpec {
            dst: self.dst,
            gateway: self.gateway,
            dev: self.oif.map(LinkId::Index),
            prefsrc: None,
            metric: self.metric,
            table: Some(self.table),
            scope: Some(self.scope),
            protocol: Some(self.protocol),
            kind: Some(self.kind),
            onlink: false,
            nexthops: Vec::new(),
        }
    }
}

/// One path of a multipath route to add (`nexthop via A dev X weight W`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NextHopSpec {
    /// `via ADDR` (same family as the destination).
    pub gateway: Option<IpAddr>,
    /// `dev LINK`.
    pub dev: Option<LinkId>,
    /// `weight W`, 1..=256; 1 if unset.
    pub weight: Option<u16>,
    /// `onlink`.
    pub onlink: bool,
}

impl NextHopSpec {
    /// `nexthop via GATEWAY`.
    pub fn via(gateway: IpAddr) -> Self {
        NextHopSpec {
            gateway: Some(gateway),
            ..Default::default()
        }
    }

    /// `nexthop dev LINK`.
    pub fn dev_only(dev: impl Into<LinkId>) -> Self {
        NextHopSpec {
            dev: Some(dev.into()),
            ..Default::default()
        }
    }

    /// `dev LINK`.
    pub fn dev(mut self, dev: impl Into<LinkId>) -> Self {
        self.dev = Some(dev.into());
        self
    }

    /// `weight W`.
    pub fn weight(mut self, w: u16) -> Self {
        self.weight = Some(w);
        self
    }

    /// `onlink`.
    pub fn onlink(mut self) -> Self {
        self.onlink = true;
        self
    }
}

/// A route to add, replace or delete (`ip route add DST ...`); see the
/// module docs for the defaults of unset fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// The destination; no host bits (`10.0.0.0/24`, not `10.0.0.1/24`).
    pub dst: IpPrefix,
    /// `via ADDR`, same family as the destination.
    pub gateway: Option<IpAddr>,
    /// `dev LINK`.
    pub dev: Option<LinkId>,
    /// `src ADDR`: the preferred source address.
    pub prefsrc: Option<IpAddr>,
    /// `metric N`.
    pub metric: Option<u32>,
    /// `table ID` (1..=u32::MAX; `main` if unset, `local` for local types).
    pub table: Option<u32>,
    /// `scope SCOPE`.
    pub scope: Option<Scope>,
    /// `proto PROTO` (`boot` if unset, like iproute2).
    pub protocol: Option<RouteProtocol>,
    /// The type (`unicast` if unset; a wildcard in a delete).
    pub kind: Option<RouteType>,
    /// `onlink`: trust that the gateway is on the device.
    pub onlink: bool,
    /// `nexthop ...` paths of a multipath route; when set, `gateway` and
    /// `dev` stay unset.
    pub nexthops: Vec<NextHopSpec>,
}

impl RouteSpec {
    /// A route to `dst`, with no options.
    pub fn new(dst: IpPrefix) -> Self {
        RouteSpec {
            dst,
            gateway: None,
            dev: None,
            prefsrc: None,
            metric: None,
            table: None,
            scope: None,
            protocol: None,
            kind: None,
            onlink: false,
            nexthops: Vec::new(),
        }
    }

    /// `default via GATEWAY` (the family is the gateway's).
    pub fn default_via(gateway: IpAddr) -> Self {
        RouteSpec::new(IpPrefix::any(IpFamily::of(&gateway))).via(gateway)
    }

    /// `via GATEWAY`.
    pub fn via(mut self, gateway: IpAddr) -> Self {
        self.gateway = Some(gateway);
        self
    }

    /// `dev LINK`.
    pub fn dev(mut self, dev: impl Into<LinkId>) -> Self {
        self.dev = Some(dev.into());
        self
    }

    /// `src ADDR`.
    pub fn prefsrc(mut self, src: IpAddr) -> Self {
        self.prefsrc = Some(src);
        self
    }

    /// `metric N`.
    pub fn metric(mut self, m: u32) -> Self {
        self.metric = Some(m);
        self
    }

    /// `table ID`.
    pub fn table(mut self, t: u32) -> Self {
        self.table = Some(t);
        self
    }

    /// `scope SCOPE`.
    pub fn scope(mut self, s: Scope) -> Self {
        self.scope = Some(s);
        self
    }

    /// `proto PROTO`.
    pub fn protocol(mut self, p: RouteProtocol) -> Self {
        self.protocol = Some(p);
        self
    }

    /// The route type (`blackhole`, `local`...).
    pub fn kind(mut self, t: RouteType) -> Self {
        self.kind = Some(t);
        self
    }

    /// `onlink`.
    pub fn onlink(mut self) -> Self {
        self.onlink = true;
        self
    }

    /// Add a `nexthop ...` path.
    pub fn nexthop(mut self, nh: NextHopSpec) -> Self {
        self.nexthops.push(nh);
        self
    }

    /// What errors name: the destination (`default` for a zero-length
    /// one) and a table other than main; formatted only when shown.
    fn object(&self) -> impl fmt::Display + '_ {
        Lazy(move |f: &mut fmt::Formatter<'_>| {
            match (self.dst.is_default(), self.dst.family()) {
                (true, IpFamily::V4) => f.write_str("default")?,
                (true, IpFamily::V6) => f.write_str("default (inet6)")?,
                (false, _) => write!(f, "{}", self.dst)?,
            }
            match self.table {
                Some(t) if t != TABLE_MAIN => write!(f, " table {t}"),
                _ => Ok(()),
            }
        })
    }
}

/// Which routes [`Handle::routes`] lists; the kernel does the filtering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteFilter {
    /// Only this family (`-4` / `-6`).
    pub family: Option<IpFamily>,
    /// Only this table (`table ID`); every table if unset (unlike
    /// `ip route show`, which shows `main` unless told otherwise).
    pub table: Option<u32>,
    /// Only routes through this link (`dev LINK`).
    pub link: Option<LinkId>,
}

impl RouteFilter {
    /// Every route of every table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only `family`.
    pub fn family(mut self, f: IpFamily) -> Self {
        self.family = Some(f);
        self
    }

    /// Only table `t`.
    pub fn table(mut self, t: u32) -> Self {
        self.table = Some(t);
        self
    }

    /// Only routes through `link`.
    pub fn link(mut self, link: impl Into<LinkId>) -> Self {
        self.link = Some(link.into());
        self
    }
}

/// The largest weight a nexthop can have (rtnh_hops + 1).
const MAX_WEIGHT: u16 = 256;
const RTNH_HEADER_LEN: usize = 8;

/// The checks that need nothing but the spec.
fn validate_route(op: &'static str, spec: &RouteSpec, del: bool) -> Result<()> {
    let object = spec.object();
    let bad = |why: String| Err(Error::invalid(op, object.to_string(), why));
    let family = spec.dst.family();
    if !spec.dst.is_network() {
        return bad(format!(
            "{} has host bits set: the destination would be {}",
            spec.dst,
            spec.dst.network()
        ));
    }
    let dst_desc = Lazy(|f: &mut fmt::Formatter<'_>| write!(f, "the destination {}", spec.dst));
    if let Some(g) = spec.gateway {
        same_family(op, &object, &"gateway", g, family, &dst_desc)?;
    }
    if let Some(s) = spec.prefsrc {
        same_family(op, &object, &"source", s, family, &dst_desc)?;
    }
    if let Some(LinkId::Name(n)) = &spec.dev {
        validate_ifname(op, n)?;
    }
    if spec.table == Some(0) {
        return bad("table 0 is RT_TABLE_UNSPEC, not a table".into());
    }
    let kind = spec.kind.unwrap_or(if del {
        RouteType::UNSPEC
    } else {
        RouteType::UNICAST
    });
    if kind.0 > RouteType::XRESOLVE.0 || (!del && kind == RouteType::UNSPEC) {
        return bad(format!("route type {kind} is not a valid route type"));
    }
    if kind.is_reject()
        && (spec.gateway.is_some() || spec.dev.is_some() || !spec.nexthops.is_empty())
    {
        return bad(format!("a {kind} route has no gateway, device or nexthops"));
    }
    if !spec.nexthops.is_empty() {
        if spec.gateway.is_some() || spec.dev.is_some() || spec.onlink {
            return bad(
                "a multipath route takes its gateways, devices and onlink flags from its nexthops"
                    .into(),
            );
        }
        let mut bytes = 0usize;
        for (i, nh) in spec.nexthops.iter().enumerate() {
            let which = Lazy(move |f: &mut fmt::Formatter<'_>| write!(f, "nexthop {}", i + 1));
            if nh.gateway.is_none() && nh.dev.is_none() {
                return bad(format!("{which} has neither a gateway nor a device"));
            }
            if let Some(g) = nh.gateway {
                let what = Lazy(|f: &mut fmt::Formatter<'_>| write!(f, "{which} gateway"));
                same_family(op, &object, &what, g, family, &dst_desc)?;
            }
            if let Some(LinkId::Name(n)) = &nh.dev {
                validate_ifname(op, n)?;
            }
            if let Some(w) = nh.weight {
                if w == 0 || w > MAX_WEIGHT {
                    return bad(format!("{which} weight {w} is out of range (1..=256)"));
                }
            }
            if nh.onlink && (nh.gateway.is_none() || nh.dev.is_none()) {
                return bad(format!(
                    "{which} is onlink: it needs a gateway and a device"
                ));
            }
            bytes += RTNH_HEADER_LEN
                + if nh.gateway.is_some() {
                    4 + usize::from(family.max_prefix_len() / 8)
                } else {
                    0
                };
        }
        if bytes > usize::from(u16::MAX) - 4 {
            return bad(format!(
                "{} nexthops do not fit in one RTA_MULTIPATH attribute",
                spec.nexthops.len()
            ));
        }
    }
    if spec.onlink && (spec.gateway.is_none() || spec.dev.is_none()) {
        return bad("an onlink route needs a gateway and a device".into());
    }
    Ok(())
}

/// iproute2's default scope for an added route.
fn default_route_scope(spec: &RouteSpec, kind: RouteType) -> Scope {
    if spec.dst.family() == IpFamily::V6 {
        return Scope::GLOBAL;
    }
    match kind {
        RouteType::LOCAL | RouteType::NAT => Scope::HOST,
        RouteType::BROADCAST | RouteType::MULTICAST | RouteType::ANYCAST => Scope::LINK,
        RouteType::UNICAST | RouteType::UNSPEC
            if spec.gateway.is_none() && spec.nexthops.is_empty() =>
        {
            Scope::LINK
        }
        _ => Scope::GLOBAL,
    }
}

/// iproute2's default table for a route of type `kind`.
fn default_table(kind: Option<RouteType>) -> u32 {
    match kind {
        Some(RouteType::LOCAL | RouteType::BROADCAST | RouteType::NAT | RouteType::ANYCAST) => {
            TABLE_LOCAL
        }
        _ => TABLE_MAIN,
    }
}

/// Link indices a route request needs, resolved beforehand.
#[derive(Debug, Clone, Default)]
pub(crate) struct RouteLinks {
    pub dev: Option<u32>,
    /// One per nexthop of the spec.
    pub nexthops: Vec<Option<u32>>,
}

/// Build an RTM_NEWROUTE / RTM_DELROUTE body as `ip route add|del` does.
/// `spec` has been validated.
pub(crate) fn build_route(spec: &RouteSpec, links: &RouteLinks, del: bool) -> RouteMessage {
    let mut m = RouteMessage::default();
    let family = spec.dst.family();
    let h = &mut m.header;
    h.address_family = family.nl();
    h.destination_prefix_length = spec.dst.prefix_len();
    let table = spec.table.unwrap_or_else(|| default_table(spec.kind));
    match u8::try_from(table) {
        Ok(t) => h.table = t,
        Err(_) => {
            h.table = RouteHeader::RT_TABLE_UNSPEC;
            m.attributes.push(RouteAttribute::Table(table));
        }
    }
    let h = &mut m.header;
    if del {
        h.protocol = NlRouteProtocol::from(spec.protocol.unwrap_or(RouteProtocol::UNSPEC).0);
        h.scope = NlRouteScope::from(spec.scope.unwrap_or(Scope::NOWHERE).0);
        h.kind = NlRouteType::from(spec.kind.unwrap_or(RouteType::UNSPEC).0);
    } else {
        let kind = spec.kind.unwrap_or(RouteType::UNICAST);
        h.protocol = NlRouteProtocol::from(spec.protocol.unwrap_or(RouteProtocol::BOOT).0);
        h.scope = NlRouteScope::from(
            spec.scope
                .unwrap_or_else(|| default_route_scope(spec, kind))
                .0,
        );
        h.kind = NlRouteType::from(kind.0);
    }
    if spec.onlink {
        h.flags = NlRouteFlags::from_bits_retain(RouteFlags::ONLINK);
    }
    if !spec.dst.is_default() {
        m.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(
                spec.dst.addr(),
            )));
    }
    if let Some(g) = spec.gateway {
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(g)));
    }
    if let Some(i) = links.dev {
        m.attributes.push(RouteAttribute::Oif(i));
    }
    if let Some(s) = spec.prefsrc {
        m.attributes
            .push(RouteAttribute::PrefSource(RouteAddress::from(s)));
    }
    if let Some(p) = spec.metric {
        m.attributes.push(RouteAttribute::Priority(p));
    }
    if !spec.nexthops.is_empty() {
        let hops = spec
            .nexthops
            .iter()
            .zip(links.nexthops.iter().chain(std::iter::repeat(&None)))
            .map(|(nh, oif)| {
                let mut n = RouteNextHop::default();
                n.interface_index = oif.unwrap_or(0);
                // rtnh_hops is the weight minus one.
                n.hops = nh.weight.map_or(0, |w| w.saturating_sub(1).min(255) as u8);
                if nh.onlink {
                    n.flags = RouteNextHopFlags::from_bits_retain(RouteFlags::ONLINK as u8);
                }
                if let Some(g) = nh.gateway {
                    n.attributes
                        .push(RouteAttribute::Gateway(RouteAddress::from(g)));
                }
                n
            })
            .collect();
        m.attributes.push(RouteAttribute::MultiPath(hops));
    }
    m
}

/// Build the RTM_GETROUTE of `ip route get ADDR`.
fn build_get(dst: IpAddr) -> RouteMessage {
    let mut m = RouteMessage::default();
    let family = IpFamily::of(&dst);
    m.header.address_family = family.nl();
    m.header.destination_prefix_length = family.max_prefix_len();
    // RTM_F_LOOKUP_TABLE: answer with the table the lookup used. IPv4
    // only, as iproute2 does: the IPv6 strict check refuses it ("ipv6:
    // Invalid flags for get route request"), and IPv6 reports the table
    // anyway.
    if family == IpFamily::V4 {
        m.header.flags = NlRouteFlags::LookupTable;
    }
    m.attributes
        .push(RouteAttribute::Destination(RouteAddress::from(dst)));
    m
}

const RTA_DST: u16 = 1;
const RTA_SRC: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const RTA_VIA: u16 = 18;
const ROUTE_HEADER_LEN: usize = 12;
const RTM_NEWROUTE: u16 = 24;

/// RTA_VIA: `struct rtvia { sa_family_t family; u8 addr[]; }`.
fn via(v: &[u8]) -> Option<IpAddr> {
    let fam = u16::from_ne_bytes([*v.first()?, *v.get(1)?]);
    let family = IpFamily::from_af(u8::try_from(fam).ok()?)?;
    ip_of(family, v.get(2..)?)
}

/// Parse an RTM_NEWROUTE payload. `Ok(None)` for families other than IPv4
/// and IPv6 (multicast routing, MPLS...).
pub(crate) fn parse_route(payload: &[u8]) -> std::result::Result<Option<Route>, String> {
    let h = payload
        .get(..ROUTE_HEADER_LEN)
        .ok_or("route message shorter than its header")?;
    let Some(family) = IpFamily::from_af(h[0]) else {
        return Ok(None);
    };
    let (dst_len, src_len) = (h[1], h[2]);
    let mut table = u32::from(h[4]);
    let protocol = RouteProtocol(h[5]);
    let scope = Scope(h[6]);
    let kind = RouteType(h[7]);
    let flags = RouteFlags(u32::from_ne_bytes([h[8], h[9], h[10], h[11]]));
    let mut dst = None;
    let mut src = None;
    let (mut gateway, mut oif, mut prefsrc, mut metric) = (None, None, None, None);
    let mut nexthops = Vec::new();
    for a in Nlas::new(&payload[ROUTE_HEADER_LEN..]) {
        let a = a?;
        let (t, v) = (a.kind, a.value);
        match t {
            RTA_DST => dst = Some(ip_of(family, v).ok_or("bad RTA_DST")?),
            RTA_SRC => src = Some(ip_of(family, v).ok_or("bad RTA_SRC")?),
            RTA_GATEWAY => gateway = Some(ip_of(family, v).ok_or("bad RTA_GATEWAY")?),
            RTA_VIA => gateway = Some(via(v).ok_or("bad RTA_VIA")?),
            RTA_OIF => oif = Some(u32_of(v).ok_or("bad RTA_OIF")?),
            RTA_PREFSRC => prefsrc = Some(ip_of(family, v).ok_or("bad RTA_PREFSRC")?),
            RTA_PRIORITY => metric = Some(u32_of(v).ok_or("bad RTA_PRIORITY")?),
            RTA_TABLE => table = u32_of(v).ok_or("bad RTA_TABLE")?,
            RTA_MULTIPATH => nexthops = parse_multipath(family, v)?,
            _ => {}
        }
    }
    let any = IpPrefix::any(family).addr();
    let dst = IpPrefix::new(dst.unwrap_or(any), dst_len).map_err(|e| e.to_string())?;
    // `ip route get` answers carry RTA_SRC `::` with a zero length: no
    // source prefix.
    let src = match (src, src_len) {
        (_, 0) => None,
        (s, l) => Some(IpPrefix::new(s.unwrap_or(any), l).map_err(|e| e.to_string())?),
    };
    Ok(Some(Route {
        dst,
        src,
        table,
        protocol,
        scope,
        kind,
        flags,
        gateway,
        oif,
        prefsrc,
        metric,
        nexthops,
    }))
}

/// Parse RTA_MULTIPATH: a sequence of `struct rtnexthop` each followed by
/// its attributes.
fn parse_multipath(family: IpFamily, mut v: &[u8]) -> std::result::Result<Vec<NextHop>, String> {
    let mut out = Vec::new();
    while !v.is_empty() {
        let hdr = v.get(..RTNH_HEADER_LEN).ok_or("truncated rtnexthop")?;
        let len = usize::from(u16::from_ne_bytes([hdr[0], hdr[1]]));
        if len < RTNH_HEADER_LEN || len > v.len() {
            return Err(format!("rtnexthop with bad length {len}"));
        }
        let mut nh = NextHop {
            gateway: None,
            oif: match u32_at(hdr, 4) {
                Some(0) | None => None,
                Some(i) => Some(i),
            },
            weight: u16::from(hdr[3]) + 1,
            flags: RouteFlags(u32::from(hdr[2])),
        };
        for a in Nlas::new(&v[RTNH_HEADER_LEN..len]) {
            let a = a?;
            let (t, val) = (a.kind, a.value);
            match t {
                RTA_GATEWAY => {
                    nh.gateway = Some(ip_of(family, val).ok_or("bad nexthop RTA_GATEWAY")?)
                }
                RTA_VIA => nh.gateway = Some(via(val).ok_or("bad nexthop RTA_VIA")?),
                _ => {}
            }
        }
        out.push(nh);
        v = v.get((len + 3) & !3..).unwrap_or_default();
    }
    Ok(out)
}

impl Handle {
    /// Validate, resolve and build a route request.
    fn route_request(&self, op: &'static str, spec: &RouteSpec, del: bool) -> Result<RouteMessage> {
        validate_route(op, spec, del)?;
        let object = spec.object();
        let dev = spec
            .dev
            .as_ref()
            .map(|d| self.resolve_link(op, &object, d))
            .transpose()?;
        let nexthops = spec
            .nexthops
            .iter()
            .map(|nh| {
                nh.dev
                    .as_ref()
                    .map(|d| self.resolve_link(op, &object, d))
                    .transpose()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(build_route(spec, &RouteLinks { dev, nexthops }, del))
    }

    fn route_send(&self, op: &'static str, spec: &RouteSpec, verb: Verb) -> Result<()> {
        let del = verb == Verb::Del;
        let m = self.route_request(op, spec, del)?;
        let m = if del {
            RouteNetlinkMessage::DelRoute(m)
        } else {
            RouteNetlinkMessage::NewRoute(m)
        };
        self.sock().ack(op, &spec.object(), m, verb)
    }

    /// Add a route. The spec is checked and the devices looked up first: a
    /// bad argument (host bits in the destination, a gateway of the other
    /// family, a weight out of range...) or an unknown device is reported
    /// before anything is sent. A route that exists is an error with
    /// `is_exists()`.
    ///
    /// Equivalent to `ip route add [TYPE] DST [via GW] [dev LINK] [src ADDR]
    /// [metric N] [table ID] [scope S] [proto P] [onlink]
    /// [nexthop via GW dev LINK weight W ...]`.
    pub fn route_add(&self, spec: &RouteSpec) -> Result<()> {
        self.route_send("route_add", spec, Verb::Add)
    }

    /// Add a route or replace the one with the same destination, table,
    /// metric (and TOS).
    ///
    /// Equivalent to `ip route replace ...`.
    pub fn route_replace(&self, spec: &RouteSpec) -> Result<()> {
        self.route_send("route_replace", spec, Verb::Replace)
    }

    /// Add a route next to existing ones with the same destination (for
    /// IPv6, a new path of a multipath route).
    ///
    /// Equivalent to `ip route append ...`.
    pub fn route_append(&self, spec: &RouteSpec) -> Result<()> {
        self.route_send("route_append", spec, Verb::Append)
    }

    /// Delete a route. Unset fields are wildcards (type, protocol, scope,
    /// gateway, device, metric); the table is `main` unless set. A missing
    /// route is an error with `is_not_found()`.
    ///
    /// Equivalent to `ip route del DST [via GW] [dev LINK] [metric N]
    /// [table ID] ...`.
    pub fn route_del(&self, spec: &RouteSpec) -> Result<()> {
        self.route_send("route_del", spec, Verb::Del)
    }

    /// The routes of the namespace, filtered by the kernel by family, table
    /// and output link (a strict dump request with RTA_TABLE / RTA_OIF).
    /// Every table unless `filter.table` says one. A table that does not
    /// exist has no routes: the kernel's ENOENT ("FIB table does not exist")
    /// is returned as an empty list.
    ///
    /// Equivalent to `ip [-4|-6] route show table all|ID [dev LINK]`.
    pub fn routes(&self, filter: &RouteFilter) -> Result<Vec<Route>> {
        const OP: &str = "routes";
        let mut object = match filter.table {
            Some(t) => format!("table {t}"),
            None => "table all".to_owned(),
        };
        if let Some(l) = &filter.link {
            object.push_str(&format!(" dev {l}"));
        }
        let mut req = RouteMessage::default();
        req.header.address_family = filter
            .family
            .map(IpFamily::nl)
            .unwrap_or(AddressFamily::Unspec);
        if let Some(t) = filter.table {
            if t == 0 {
                return Err(Error::invalid(
                    OP,
                    object,
                    "table 0 is RT_TABLE_UNSPEC, not a table",
                ));
            }
            req.header.table = u8::try_from(t).unwrap_or(RouteHeader::RT_TABLE_UNSPEC);
            req.attributes.push(RouteAttribute::Table(t));
        }
        if let Some(l) = &filter.link {
            let i = self.resolve_link(OP, &object, l)?;
            req.attributes.push(RouteAttribute::Oif(i));
        }
        let res = self.sock().dump(
            OP,
            &object,
            RouteNetlinkMessage::GetRoute(req),
            |r: Reply<'_>| {
                if r.message_type != RTM_NEWROUTE {
                    return Ok(None);
                }
                parse_route(r.payload).map_err(|d| Error::protocol(OP, object.clone(), d))
            },
        );
        match res {
            Err(Error::Kernel {
                errno: libc::ENOENT,
                ..
            }) if filter.table.is_some() => Ok(Vec::new()),
            other => other,
        }
    }

    /// The route the kernel would use to reach `dst`, with the output
    /// device, gateway and preferred source it picked. An unreachable
    /// destination is the kernel's error (ENETUNREACH...).
    ///
    /// Equivalent to `ip route get ADDR`.
    pub fn route_get(&self, dst: IpAddr) -> Result<Route> {
        const OP: &str = "route_get";
        self.sock().get(
            OP,
            &dst,
            RouteNetlinkMessage::GetRoute(build_get(dst)),
            |r: Reply<'_>| {
                if r.message_type != RTM_NEWROUTE {
                    return Err(Error::protocol(OP, dst.to_string(), "not a route message"));
                }
                parse_route(r.payload)
                    .map_err(|d| Error::protocol(OP, dst.to_string(), d))?
                    .ok_or_else(|| Error::protocol(OP, dst.to_string(), "reply of another family"))
            },
        )
    }
}

impl Batch<'_> {
    fn route_push(&mut self, op: &'static str, spec: &RouteSpec, verb: Verb) -> &mut Self {
        let del = verb == Verb::Del;
        let built = self.handle.route_request(op, spec, del).map(|m| {
            let m = if del {
                RouteNetlinkMessage::DelRoute(m)
            } else {
                RouteNetlinkMessage::NewRoute(m)
            };
            (m, verb)
        });
        self.push(op, spec.object().to_string(), built)
    }

    /// Queue [`Handle::route_add`]. Devices given by name are looked up now,
    /// one request each: give indices for large batches.
    pub fn route_add(&mut self, spec: &RouteSpec) -> &mut Self {
        self.route_push("route_add", spec, Verb::Add)
    }

    /// Queue [`Handle::route_replace`].
    pub fn route_replace(&mut self, spec: &RouteSpec) -> &mut Self {
        self.route_push("route_replace", spec, Verb::Replace)
    }

    /// Queue [`Handle::route_append`].
    pub fn route_append(&mut self, spec: &RouteSpec) -> &mut Self {
        self.route_push("route_append", spec, Verb::Append)
    }

    /// Queue [`Handle::route_del`].
    pub fn route_del(&mut self, spec: &RouteSpec) -> &mut Self {
        self.route_push("route_del", spec, Verb::Del)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::Emitable;

    fn p(s: &str) -> IpPrefix {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
    fn emit(m: &RouteMessage) -> Vec<u8> {
        let mut b = vec![0u8; m.buffer_len()];
        m.emit(&mut b);
        b
    }

    #[test]
    fn validation_refuses_bad_specs() {
        let bad = |s: &RouteSpec| {
            validate_route("route_add", s, false)
                .unwrap_err()
                .to_string()
        };
        assert!(bad(&RouteSpec::new(p("10.0.0.1/24")))
            .contains("10.0.0.1/24 has host bits set: the destination would be 10.0.0.0/24"));
        assert!(bad(&RouteSpec::new(p("2001:db8::1/64"))).contains("host bits"));
        assert!(
            bad(&RouteSpec::new(p("10.0.0.0/24")).via(ip("2001:db8::1")))
                .contains("gateway 2001:db8::1 is IPv6 but the destination 10.0.0.0/24 is IPv4")
        );
        assert!(
            bad(&RouteSpec::new(p("2001:db8::/64")).prefsrc(ip("10.0.0.1")))
                .contains("source 10.0.0.1 is IPv4")
        );
        assert!(bad(&RouteSpec::new(p("10.0.0.0/24")).dev("a0").table(0)).contains("table 0"));
        assert!(bad(&RouteSpec::new(p("10.0.0.0/24"))
            .kind(RouteType::BLACKHOLE)
            .dev("a0"))
        .contains("a blackhole route has no gateway"));
        assert!(bad(&RouteSpec::new(p("10.0.0.0/24")).kind(RouteType(12)))
            .contains("not a valid route type"));
        assert!(bad(&RouteSpec::new(p("10.0.0.0/24"))
            .via(ip("10.0.0.9"))
            .onlink())
        .contains("onlink route needs"));
        let mp = RouteSpec::new(p("10.0.0.0/24"));
        assert!(bad(&mp
            .clone()
            .via(ip("10.1.0.1"))
            .nexthop(NextHopSpec::via(ip("10.1.0.2"))))
        .contains("multipath"));
        assert!(bad(&mp.clone().nexthop(NextHopSpec::default())).contains("nexthop 1 has neither"));
        assert!(bad(&mp
            .clone()
            .nexthop(NextHopSpec::via(ip("10.1.0.2")))
            .nexthop(NextHopSpec::via(ip("fe80::1"))))
        .contains("nexthop 2 gateway fe80::1 is IPv6"));
        assert!(bad(&mp
            .clone()
            .nexthop(NextHopSpec::via(ip("10.1.0.2")).weight(0)))
        .contains("weight 0"));
        assert!(bad(&mp
            .clone()
            .nexthop(NextHopSpec::via(ip("10.1.0.2")).weight(257)))
        .contains("weight 257"));
        assert!(validate_route(
            "route_add",
            &mp.clone()
                .nexthop(NextHopSpec::via(ip("10.1.0.2")).weight(256)),
            false
        )
        .is_ok());
        let many = (0..7000).fold(mp.clone(), |s, _| {
            s.nexthop(NextHopSpec::via(ip("10.1.0.2")))
        });
        assert!(bad(&many).contains("do not fit"));
        assert!(bad(&RouteSpec::new(p("10.0.0.0/24")).dev("bad/name")).contains("'/'"));
        // A delete may leave the type unset.
        assert!(validate_route("route_del", &RouteSpec::new(p("10.0.0.0/24")), true).is_ok());
    }

    #[test]
    fn defaults_mirror_iproute2() {
        let links = RouteLinks {
            dev: Some(3),
            nexthops: vec![],
        };
        // ip route add 10.1.0.0/24 dev a0: table main, boot, scope link, unicast
        let m = build_route(&RouteSpec::new(p("10.1.0.0/24")).dev(3u32), &links, false);
        assert_eq!(m.header.table, 254);
        assert_eq!(u8::from(m.header.protocol), 3);
        assert_eq!(u8::from(m.header.scope), 253);
        assert_eq!(u8::from(m.header.kind), 1);
        // via a gateway: scope global
        let m = build_route(
            &RouteSpec::new(p("10.2.0.0/16")).via(ip("10.0.0.2")),
            &RouteLinks::default(),
            false,
        );
        assert_eq!(u8::from(m.header.scope), 0);
        assert_eq!(
            m.attributes,
            vec![
                RouteAttribute::Destination(RouteAddress::from(ip("10.2.0.0"))),
                RouteAttribute::Gateway(RouteAddress::from(ip("10.0.0.2"))),
            ]
        );
        // ip route add local 10.9.9.9 dev lo: table local, scope host
        let m = build_route(
            &RouteSpec::new(p("10.9.9.9/32"))
                .kind(RouteType::LOCAL)
                .dev(1u32),
            &links,
            false,
        );
        assert_eq!(m.header.table, 255);
        assert_eq!(u8::from(m.header.scope), 254);
        // IPv6 device route: scope global
        let m = build_route(&RouteSpec::new(p("2001:db8::/64")).dev(3u32), &links, false);
        assert_eq!(u8::from(m.header.scope), 0);
        // big table ids go in RTA_TABLE with rtm_table = RT_TABLE_UNSPEC
        let m = build_route(
            &RouteSpec::new(p("10.1.0.0/24")).dev(3u32).table(1000),
            &links,
            false,
        );
        assert_eq!(m.header.table, 0);
        assert!(m.attributes.contains(&RouteAttribute::Table(1000)));
        // default route: no RTA_DST
        let m = build_route(
            &RouteSpec::default_via(ip("10.0.0.1")),
            &RouteLinks::default(),
            false,
        );
        assert_eq!(m.header.destination_prefix_length, 0);
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Destination(_))));
        // ip route del 10.2.0.0/16: wildcards
        let m = build_route(
            &RouteSpec::new(p("10.2.0.0/16")),
            &RouteLinks::default(),
            true,
        );
        assert_eq!(u8::from(m.header.protocol), 0);
        assert_eq!(u8::from(m.header.scope), 255);
        assert_eq!(u8::from(m.header.kind), 0);
        assert_eq!(m.header.table, 254);
    }

    #[test]
    fn multipath_bytes_match_iproute2() {
        // ip route add 10.3.0.0/16 nexthop via 10.0.0.2 dev a0 weight 2
        //                          nexthop via 10.0.0.3 dev a0   (a0 = 3)
        // as strace shows it: RTA_MULTIPATH len 36, two rtnexthop of 16
        // bytes, hops 1 and 0.
        let spec = RouteSpec::new(p("10.3.0.0/16"))
            .nexthop(NextHopSpec::via(ip("10.0.0.2")).dev(3u32).weight(2))
            .nexthop(NextHopSpec::via(ip("10.0.0.3")).dev(3u32));
        let m = build_route(
            &spec,
            &RouteLinks {
                dev: None,
                nexthops: vec![Some(3), Some(3)],
            },
            false,
        );
        assert_eq!(u8::from(m.header.scope), 0);
        let b = emit(&m);
        assert_eq!(b.len(), 12 + 8 + 36);
        let mp = &b[20..];
        assert_eq!(u16::from_ne_bytes([mp[0], mp[1]]), 36);
        assert_eq!(u16::from_ne_bytes([mp[2], mp[3]]), RTA_MULTIPATH);
        assert_eq!(&mp[4..12], &[16, 0, 0, 1, 3, 0, 0, 0]);
        assert_eq!(&mp[12..20], &[8, 0, 5, 0, 10, 0, 0, 2]);
        assert_eq!(&mp[20..28], &[16, 0, 0, 0, 3, 0, 0, 0]);
        // and it parses back
        let r = parse_route(&b).unwrap().unwrap();
        assert_eq!(r.nexthops.len(), 2);
        assert_eq!(r.nexthops[0].weight, 2);
        assert_eq!(r.nexthops[0].gateway, Some(ip("10.0.0.2")));
        assert_eq!(r.nexthops[0].oif, Some(3));
        assert_eq!(r.nexthops[1].weight, 1);
        assert_eq!(r.dst, p("10.3.0.0/16"));
    }

    #[test]
    fn parse_round_trip_and_garbage() {
        let spec = RouteSpec::new(p("2001:db8::/64"))
            .via(ip("2001:db8:1::1"))
            .metric(7)
            .table(5000)
            .prefsrc(ip("2001:db8:1::2"));
        let b = emit(&build_route(
            &spec,
            &RouteLinks {
                dev: Some(4),
                nexthops: vec![],
            },
            false,
        ));
        let r = parse_route(&b).unwrap().unwrap();
        assert_eq!(r.dst, p("2001:db8::/64"));
        assert_eq!(r.table, 5000);
        assert_eq!(r.metric, Some(7));
        assert_eq!(r.oif, Some(4));
        assert_eq!(r.gateway, Some(ip("2001:db8:1::1")));
        assert_eq!(r.prefsrc, Some(ip("2001:db8:1::2")));
        assert_eq!(r.protocol, RouteProtocol::BOOT);
        assert!(parse_route(&[]).is_err());
        assert_eq!(
            parse_route(&[128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap(),
            None
        );
        // dst_len 40 for IPv4: error, not panic
        assert!(parse_route(&[2, 40, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0]).is_err());
        // a multipath attribute with a lying rtnexthop length
        let mut b = vec![2u8, 16, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0];
        b.extend_from_slice(&12u16.to_ne_bytes());
        b.extend_from_slice(&RTA_MULTIPATH.to_ne_bytes());
        b.extend_from_slice(&[200, 0, 0, 0, 3, 0, 0, 0]);
        assert!(parse_route(&b).is_err());
    }

    #[test]
    fn via_attribute_for_ipv6_gateway_of_ipv4_route() {
        let mut v = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&std::net::Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1).octets());
        assert_eq!(via(&v), Some(ip("fe80::1")));
        assert_eq!(via(&v[..5]), None);
        assert_eq!(via(&[]), None);
    }

    #[test]
    fn names() {
        assert_eq!(RouteType::BLACKHOLE.to_string(), "blackhole");
        assert_eq!(
            "prohibit".parse::<RouteType>().unwrap(),
            RouteType::PROHIBIT
        );
        assert_eq!(RouteType(99).to_string(), "99");
        assert!("nope".parse::<RouteType>().is_err());
        assert_eq!(RouteProtocol::BOOT.to_string(), "boot");
        assert_eq!(
            "static".parse::<RouteProtocol>().unwrap(),
            RouteProtocol::STATIC
        );
        assert_eq!("77".parse::<RouteProtocol>().unwrap().to_string(), "77");
        assert_eq!(
            RouteFlags(RouteFlags::ONLINK | RouteFlags::LINKDOWN).names(),
            vec!["onlink", "linkdown"]
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_route_total(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse_route(&bytes);
            let _ = parse_multipath(IpFamily::V4, &bytes);
        }
    }
}
