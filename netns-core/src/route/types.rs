//! The values of routes: what the kernel reports ([`Route`], [`NextHop`]),
//! what to add or delete ([`RouteSpec`], [`NextHopSpec`]), what to list
//! ([`RouteFilter`]), and the named numbers of `ip route` ([`RouteType`],
//! [`RouteProtocol`], [`RouteFlags`], the tables).

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::ip::{IpFamily, Lazy, Scope, ShowDst};
use crate::named::bit_names;
use crate::LinkId;

/// The `main` table (RT_TABLE_MAIN), where routes go by default.
pub const TABLE_MAIN: u32 = 254;
/// The `local` table (RT_TABLE_LOCAL): local and broadcast routes.
pub const TABLE_LOCAL: u32 = 255;
/// The `default` table (RT_TABLE_DEFAULT).
pub const TABLE_DEFAULT: u32 = 253;

named! {
    /// A route type (`rtm_type`, `RTN_*`), shown as `ip route` shows it.
    struct RouteType(u8) {
        /// RTN_UNSPEC (0): no type (a wildcard in a delete).
        UNSPEC = 0 => "unspec",
        /// RTN_UNICAST: a gateway or direct route, the default.
        UNICAST = 1 => "unicast",
        /// RTN_LOCAL: a destination on this host.
        LOCAL = 2 => "local",
        /// RTN_BROADCAST: a broadcast destination.
        BROADCAST = 3 => "broadcast",
        /// RTN_ANYCAST.
        ANYCAST = 4 => "anycast",
        /// RTN_MULTICAST.
        MULTICAST = 5 => "multicast",
        /// RTN_BLACKHOLE: packets are dropped silently.
        BLACKHOLE = 6 => "blackhole",
        /// RTN_UNREACHABLE: packets are dropped, the sender gets ICMP
        /// unreachable.
        UNREACHABLE = 7 => "unreachable",
        /// RTN_PROHIBIT: packets are dropped, the sender gets ICMP prohibited.
        PROHIBIT = 8 => "prohibit",
        /// RTN_THROW: the lookup continues in the next rule.
        THROW = 9 => "throw",
        /// RTN_NAT.
        NAT = 10 => "nat",
        /// RTN_XRESOLVE.
        XRESOLVE = 11 => "xresolve",
    }
}

impl RouteType {
    /// Types that drop or reject: no gateway, device or nexthop.
    pub(crate) fn is_reject(self) -> bool {
        matches!(
            self,
            RouteType::BLACKHOLE | RouteType::UNREACHABLE | RouteType::PROHIBIT | RouteType::THROW
        )
    }
}

named! {
    /// Who installed a route (`rtm_protocol`, `RTPROT_*`), shown as
    /// `ip route` shows it (iproute2's rt_protos names).
    struct RouteProtocol(u8) {
        /// RTPROT_UNSPEC (a wildcard in a delete).
        UNSPEC = 0 => "unspec",
        /// RTPROT_REDIRECT: from an ICMP redirect.
        REDIRECT = 1 => "redirect",
        /// RTPROT_KERNEL: installed by the kernel (prefix routes of addresses).
        KERNEL = 2 => "kernel",
        /// RTPROT_BOOT: `ip route add`'s default.
        BOOT = 3 => "boot",
        /// RTPROT_STATIC: installed by an administrator.
        STATIC = 4 => "static",
        /// RTPROT_GATED.
        GATED = 8 => "gated",
        /// RTPROT_RA: from IPv6 router advertisements.
        RA = 9 => "ra",
        /// RTPROT_MRT.
        MRT = 10 => "mrt",
        /// RTPROT_ZEBRA: FRR / Quagga.
        ZEBRA = 11 => "zebra",
        /// RTPROT_BIRD.
        BIRD = 12 => "bird",
        /// RTPROT_DNROUTED.
        DNROUTED = 13 => "dnrouted",
        /// RTPROT_XORP.
        XORP = 14 => "xorp",
        /// RTPROT_NTK.
        NTK = 15 => "ntk",
        /// RTPROT_DHCP.
        DHCP = 16 => "dhcp",
        /// RTPROT_MROUTED.
        MROUTED = 17 => "mrouted",
        /// RTPROT_KEEPALIVED.
        KEEPALIVED = 18 => "keepalived",
        /// RTPROT_BABEL.
        BABEL = 42 => "babel",
        /// RTPROT_OPENR.
        OPENR = 99 => "openr",
        /// RTPROT_BGP.
        BGP = 186 => "bgp",
        /// RTPROT_ISIS.
        ISIS = 187 => "isis",
        /// RTPROT_OSPF.
        OSPF = 188 => "ospf",
        /// RTPROT_RIP.
        RIP = 189 => "rip",
    }
}

bitflags::bitflags! {
    /// Route and nexthop flags (`rtm_flags`: RTNH_F_* and RTM_F_*), as
    /// `ip route` shows them ([`RouteFlags::names`]).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct RouteFlags: u32 {
        /// RTNH_F_DEAD: the nexthop is dead.
        const DEAD = 0x01;
        /// RTNH_F_PERVASIVE.
        const PERVASIVE = 0x02;
        /// RTNH_F_ONLINK: the gateway is on the link even if no prefix says so.
        const ONLINK = 0x04;
        /// RTNH_F_OFFLOAD.
        const OFFLOAD = 0x08;
        /// RTNH_F_LINKDOWN: the nexthop's carrier is down.
        const LINKDOWN = 0x10;
        /// RTNH_F_UNRESOLVED.
        const UNRESOLVED = 0x20;
        /// RTNH_F_TRAP.
        const TRAP = 0x40;
        /// RTM_F_NOTIFY.
        const NOTIFY = 0x100;
        /// RTM_F_CLONED: a cached/cloned route (`ip route get` answers).
        const CLONED = 0x200;
        /// RTM_F_EQUALIZE.
        const EQUALIZE = 0x400;
        /// RTM_F_PREFIX: a prefix route of an address.
        const PREFIX = 0x800;
        /// RTM_F_LOOKUP_TABLE: answer with the table the lookup used.
        const LOOKUP_TABLE = 0x1000;
        /// RTM_F_FIB_MATCH: answer with the matching FIB entry.
        const FIB_MATCH = 0x2000;
        // Bits the kernel may add later are kept, not dropped.
        const _ = !0;
    }
}

impl RouteFlags {
    /// The flag names `ip route` shows (`onlink`, `linkdown`, `dead`...).
    pub fn names(self) -> Vec<&'static str> {
        const NAMES: [(RouteFlags, &str); 5] = [
            (RouteFlags::DEAD, "dead"),
            (RouteFlags::ONLINK, "onlink"),
            (RouteFlags::PERVASIVE, "pervasive"),
            (RouteFlags::OFFLOAD, "offload"),
            (RouteFlags::LINKDOWN, "linkdown"),
        ];
        bit_names(self, &NAMES)
    }
}

/// One path of a multipath route, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHop {
    /// `via ADDR`.
    pub gateway: Option<IpAddr>,
    /// `dev`: the output link's index.
    pub link_index: Option<u32>,
    /// `weight`, 1..=256.
    pub weight: u16,
    /// The nexthop's flags (onlink, linkdown, dead...).
    pub flags: RouteFlags,
}

/// A route, as the kernel reports it.
///
/// `Display` prints it as `ip route` does, a link by index as `ip` names a
/// link it cannot name: `default via 10.0.0.1 dev if2 proto static metric 100`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The destination (`0.0.0.0/0` or `::/0` for `default`).
    pub dst: IpNet,
    /// The source prefix of a source-specific (IPv6 `from`) route.
    pub src: Option<IpNet>,
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
    pub link_index: Option<u32>,
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
        IpFamily::of_net(&self.dst)
    }

    /// A spec that selects exactly this route for [`Handle::route_del`](crate::Handle::route_del)
    /// (destination, table, type, protocol, scope, metric, gateway and
    /// device).
    pub fn to_spec(&self) -> RouteSpec {
        RouteSpec {
            dst: self.dst,
            gateway: self.gateway,
            link: self.link_index.map(LinkId::Index),
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
    pub link: Option<LinkId>,
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

    /// `nexthop dev LINK`: a path straight out of `link`, no gateway.
    pub fn direct(link: impl Into<LinkId>) -> Self {
        NextHopSpec {
            link: Some(link.into()),
            ..Default::default()
        }
    }

    /// `dev LINK`.
    #[doc(alias = "dev")]
    pub fn link(mut self, link: impl Into<LinkId>) -> Self {
        self.link = Some(link.into());
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
    pub dst: IpNet,
    /// `via ADDR`, same family as the destination.
    pub gateway: Option<IpAddr>,
    /// `dev LINK`.
    pub link: Option<LinkId>,
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
    /// `link` stay unset.
    pub nexthops: Vec<NextHopSpec>,
}

impl RouteSpec {
    /// A route to `dst`, with no options.
    pub fn new(dst: IpNet) -> Self {
        RouteSpec {
            dst,
            gateway: None,
            link: None,
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
        RouteSpec::new(IpFamily::of(&gateway).default_prefix()).via(gateway)
    }

    /// `via GATEWAY`.
    pub fn via(mut self, gateway: IpAddr) -> Self {
        self.gateway = Some(gateway);
        self
    }

    /// `dev LINK`.
    #[doc(alias = "dev")]
    pub fn link(mut self, link: impl Into<LinkId>) -> Self {
        self.link = Some(link.into());
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
    pub(crate) fn object(&self) -> impl fmt::Display + '_ {
        Lazy(move |f: &mut fmt::Formatter<'_>| {
            match (self.dst.prefix_len() == 0, IpFamily::of_net(&self.dst)) {
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

/// Which routes [`Handle::routes`](crate::Handle::routes) lists; the kernel does the filtering.
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

impl fmt::Display for NextHop {
    /// `nexthop via GW dev ifN weight W [flags]`, as `ip route` shows a path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nexthop")?;
        if let Some(g) = self.gateway {
            write!(f, " via {g}")?;
        }
        if let Some(i) = self.link_index {
            write!(f, " dev if{i}")?;
        }
        write!(f, " weight {}", self.weight)?;
        for n in self.flags.names() {
            write!(f, " {n}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind != RouteType::UNICAST {
            write!(f, "{} ", self.kind)?;
        }
        write!(f, "{}", ShowDst(&self.dst))?;
        if let Some(s) = &self.src {
            write!(f, " from {s}")?;
        }
        if let Some(g) = self.gateway {
            write!(f, " via {g}")?;
        }
        if let Some(i) = self.link_index {
            write!(f, " dev if{i}")?;
        }
        if self.table != TABLE_MAIN {
            write!(f, " table {}", self.table)?;
        }
        if !matches!(self.protocol, RouteProtocol::BOOT | RouteProtocol::UNSPEC) {
            write!(f, " proto {}", self.protocol)?;
        }
        if self.scope != Scope::GLOBAL {
            write!(f, " scope {}", self.scope)?;
        }
        if let Some(s) = self.prefsrc {
            write!(f, " src {s}")?;
        }
        if let Some(m) = self.metric {
            write!(f, " metric {m}")?;
        }
        for n in self.flags.names() {
            write!(f, " {n}")?;
        }
        for nh in &self.nexthops {
            write!(f, " {nh}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!("bgp".parse::<RouteProtocol>().unwrap(), RouteProtocol(186));
        assert_eq!("77".parse::<RouteProtocol>().unwrap().to_string(), "77");
        assert_eq!(
            (RouteFlags::ONLINK | RouteFlags::LINKDOWN).names(),
            vec!["onlink", "linkdown"]
        );
    }

    #[test]
    fn routes_show_like_ip() {
        let mut r = Route {
            dst: "0.0.0.0/0".parse().unwrap(),
            src: None,
            table: TABLE_MAIN,
            protocol: RouteProtocol::STATIC,
            scope: Scope::GLOBAL,
            kind: RouteType::UNICAST,
            flags: RouteFlags::empty(),
            gateway: Some("10.0.0.1".parse().unwrap()),
            link_index: Some(2),
            prefsrc: None,
            metric: Some(100),
            nexthops: vec![],
        };
        assert_eq!(
            r.to_string(),
            "default via 10.0.0.1 dev if2 proto static metric 100"
        );
        r.dst = "::/0".parse().unwrap();
        r.gateway = Some("fe80::1".parse().unwrap());
        assert!(r.to_string().starts_with("default via fe80::1 dev if2"));
        let bh = Route {
            dst: "10.9.0.0/16".parse().unwrap(),
            kind: RouteType::BLACKHOLE,
            gateway: None,
            link_index: None,
            protocol: RouteProtocol::BOOT,
            metric: None,
            table: 7,
            ..r
        };
        assert_eq!(bh.to_string(), "blackhole 10.9.0.0/16 table 7");
    }
}
