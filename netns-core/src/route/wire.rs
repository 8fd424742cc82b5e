//! The wire side of routes: the checks of a spec, iproute2's defaults, the
//! RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE requests built as `ip route`
//! builds them, and RTM_NEWROUTE parsed.

use std::fmt;
use std::net::IpAddr;

use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags as NlRouteFlags, RouteHeader, RouteMessage,
    RouteNextHop, RouteNextHopFlags, RouteProtocol as NlRouteProtocol, RouteScope as NlRouteScope,
    RouteType as NlRouteType,
};

use super::types::*;
use crate::error::{Error, Result};
use crate::ip::{ip_of, prefix, same_family, IpFamily, Lazy, Scope};
use crate::link::validate_ifname;
use crate::nla::{u32_at, u32_of, Nlas};
use crate::LinkId;

/// The largest weight a nexthop can have (rtnh_hops + 1).
const MAX_WEIGHT: u16 = 256;
pub(crate) const RTNH_HEADER_LEN: usize = 8;

/// The checks that need nothing but the spec.
pub(crate) fn validate_route(op: &'static str, spec: &RouteSpec, del: bool) -> Result<()> {
    let object = spec.object();
    let bad = |why: String| Err(Error::invalid(op, object.to_string(), why));
    let family = IpFamily::of_net(&spec.dst);
    if spec.dst.trunc() != spec.dst {
        return bad(format!(
            "{} has host bits set: the destination would be {}",
            spec.dst,
            spec.dst.trunc()
        ));
    }
    let dst_desc = Lazy(|f: &mut fmt::Formatter<'_>| write!(f, "the destination {}", spec.dst));
    if let Some(g) = spec.gateway {
        same_family(op, &object, &"gateway", g, family, &dst_desc)?;
    }
    if let Some(s) = spec.prefsrc {
        same_family(op, &object, &"source", s, family, &dst_desc)?;
    }
    if let Some(LinkId::Name(n)) = &spec.link {
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
        && (spec.gateway.is_some() || spec.link.is_some() || !spec.nexthops.is_empty())
    {
        return bad(format!("a {kind} route has no gateway, device or nexthops"));
    }
    if !spec.nexthops.is_empty() {
        if spec.gateway.is_some() || spec.link.is_some() || spec.onlink {
            return bad(
                "a multipath route takes its gateways, devices and onlink flags from its nexthops"
                    .into(),
            );
        }
        let mut bytes = 0usize;
        for (i, nh) in spec.nexthops.iter().enumerate() {
            let which = Lazy(move |f: &mut fmt::Formatter<'_>| write!(f, "nexthop {}", i + 1));
            if nh.gateway.is_none() && nh.link.is_none() {
                return bad(format!("{which} has neither a gateway nor a device"));
            }
            if let Some(g) = nh.gateway {
                let what = Lazy(|f: &mut fmt::Formatter<'_>| write!(f, "{which} gateway"));
                same_family(op, &object, &what, g, family, &dst_desc)?;
            }
            if let Some(LinkId::Name(n)) = &nh.link {
                validate_ifname(op, n)?;
            }
            if let Some(w) = nh.weight {
                if w == 0 || w > MAX_WEIGHT {
                    return bad(format!("{which} weight {w} is out of range (1..=256)"));
                }
            }
            if nh.onlink && (nh.gateway.is_none() || nh.link.is_none()) {
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
    if spec.onlink && (spec.gateway.is_none() || spec.link.is_none()) {
        return bad("an onlink route needs a gateway and a device".into());
    }
    Ok(())
}

/// iproute2's default scope for an added route.
fn default_route_scope(spec: &RouteSpec, kind: RouteType) -> Scope {
    if IpFamily::of_net(&spec.dst) == IpFamily::V6 {
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
    pub link: Option<u32>,
    /// One per nexthop of the spec.
    pub nexthops: Vec<Option<u32>>,
}

/// Build an RTM_NEWROUTE / RTM_DELROUTE body as `ip route add|del` does.
/// `spec` has been validated.
pub(crate) fn build_route(spec: &RouteSpec, links: &RouteLinks, del: bool) -> RouteMessage {
    let mut m = RouteMessage::default();
    let family = IpFamily::of_net(&spec.dst);
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
        h.flags = NlRouteFlags::from_bits_retain(RouteFlags::ONLINK.bits());
    }
    if spec.dst.prefix_len() != 0 {
        m.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(
                spec.dst.addr(),
            )));
    }
    if let Some(g) = spec.gateway {
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(g)));
    }
    if let Some(i) = links.link {
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
                    n.flags = RouteNextHopFlags::from_bits_retain(RouteFlags::ONLINK.bits() as u8);
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
pub(crate) fn build_get(dst: IpAddr) -> RouteMessage {
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
pub(crate) const RTM_NEWROUTE: u16 = 24;

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
    let flags = RouteFlags::from_bits_retain(u32::from_ne_bytes([h[8], h[9], h[10], h[11]]));
    let mut dst = None;
    let mut src = None;
    let (mut gateway, mut link_index, mut prefsrc, mut metric) = (None, None, None, None);
    let mut nexthops = Vec::new();
    for a in Nlas::new(&payload[ROUTE_HEADER_LEN..]) {
        let a = a?;
        let (t, v) = (a.kind, a.value);
        match t {
            RTA_DST => dst = Some(ip_of(family, v).ok_or("bad RTA_DST")?),
            RTA_SRC => src = Some(ip_of(family, v).ok_or("bad RTA_SRC")?),
            RTA_GATEWAY => gateway = Some(ip_of(family, v).ok_or("bad RTA_GATEWAY")?),
            RTA_VIA => gateway = Some(via(v).ok_or("bad RTA_VIA")?),
            RTA_OIF => link_index = Some(u32_of(v).ok_or("bad RTA_OIF")?),
            RTA_PREFSRC => prefsrc = Some(ip_of(family, v).ok_or("bad RTA_PREFSRC")?),
            RTA_PRIORITY => metric = Some(u32_of(v).ok_or("bad RTA_PRIORITY")?),
            RTA_TABLE => table = u32_of(v).ok_or("bad RTA_TABLE")?,
            RTA_MULTIPATH => nexthops = parse_multipath(family, v)?,
            _ => {}
        }
    }
    let any = family.unspecified();
    let dst = prefix("parse_route", dst.unwrap_or(any), dst_len).map_err(|e| e.to_string())?;
    // `ip route get` answers carry RTA_SRC `::` with a zero length: no
    // source prefix.
    let src = match (src, src_len) {
        (_, 0) => None,
        (s, l) => Some(prefix("parse_route", s.unwrap_or(any), l).map_err(|e| e.to_string())?),
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
        link_index,
        prefsrc,
        metric,
        nexthops,
    }))
}

/// Parse RTA_MULTIPATH: a sequence of `struct rtnexthop` each followed by
/// its attributes.
pub(crate) fn parse_multipath(
    family: IpFamily,
    mut v: &[u8],
) -> std::result::Result<Vec<NextHop>, String> {
    let mut out = Vec::new();
    while !v.is_empty() {
        let hdr = v.get(..RTNH_HEADER_LEN).ok_or("truncated rtnexthop")?;
        let len = usize::from(u16::from_ne_bytes([hdr[0], hdr[1]]));
        if len < RTNH_HEADER_LEN || len > v.len() {
            return Err(format!("rtnexthop with bad length {len}"));
        }
        let mut nh = NextHop {
            gateway: None,
            link_index: match u32_at(hdr, 4) {
                Some(0) | None => None,
                Some(i) => Some(i),
            },
            weight: u16::from(hdr[3]) + 1,
            flags: RouteFlags::from_bits_retain(u32::from(hdr[2])),
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

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;
    use ipnet::IpNet;
    use netlink_packet_core::Emitable;

    fn p(s: &str) -> IpNet {
        crate::parse_prefix(s).unwrap()
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
        assert!(bad(&RouteSpec::new(p("10.0.0.0/24")).link("a0").table(0)).contains("table 0"));
        assert!(bad(&RouteSpec::new(p("10.0.0.0/24"))
            .kind(RouteType::BLACKHOLE)
            .link("a0"))
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
        assert!(bad(&RouteSpec::new(p("10.0.0.0/24")).link("bad/name")).contains("'/'"));
        // A delete may leave the type unset.
        assert!(validate_route("route_del", &RouteSpec::new(p("10.0.0.0/24")), true).is_ok());
    }

    #[test]
    fn defaults_mirror_iproute2() {
        let links = RouteLinks {
            link: Some(3),
            nexthops: vec![],
        };
        // ip route add 10.1.0.0/24 dev a0: table main, boot, scope link, unicast
        let m = build_route(&RouteSpec::new(p("10.1.0.0/24")).link(3u32), &links, false);
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
                .link(1u32),
            &links,
            false,
        );
        assert_eq!(m.header.table, 255);
        assert_eq!(u8::from(m.header.scope), 254);
        // IPv6 device route: scope global
        let m = build_route(
            &RouteSpec::new(p("2001:db8::/64")).link(3u32),
            &links,
            false,
        );
        assert_eq!(u8::from(m.header.scope), 0);
        // big table ids go in RTA_TABLE with rtm_table = RT_TABLE_UNSPEC
        let m = build_route(
            &RouteSpec::new(p("10.1.0.0/24")).link(3u32).table(1000),
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
            .nexthop(NextHopSpec::via(ip("10.0.0.2")).link(3u32).weight(2))
            .nexthop(NextHopSpec::via(ip("10.0.0.3")).link(3u32));
        let m = build_route(
            &spec,
            &RouteLinks {
                link: None,
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
        assert_eq!(r.nexthops[0].link_index, Some(3));
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
                link: Some(4),
                nexthops: vec![],
            },
            false,
        ));
        let r = parse_route(&b).unwrap().unwrap();
        assert_eq!(r.dst, p("2001:db8::/64"));
        assert_eq!(r.table, 5000);
        assert_eq!(r.metric, Some(7));
        assert_eq!(r.link_index, Some(4));
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

    proptest::proptest! {
        #[test]
        fn parse_route_total(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse_route(&bytes);
            let _ = parse_multipath(IpFamily::V4, &bytes);
        }
    }
}
