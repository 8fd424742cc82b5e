//! The small IP value types the address, route and neighbour modules share:
//! [`IpFamily`], [`Scope`], and the prefix type, [`ipnet::IpNet`].
//!
//! # Prefixes are `ipnet::IpNet`
//!
//! An interface address (`10.0.0.1/24`), a route destination
//! (`10.9.0.0/16`), an allocation from netns-ipam: all are
//! [`IpNet`] (re-exported at the crate root, with [`Ipv4Net`] and
//! [`Ipv6Net`]), so values pass between netns-ipam and netns-core without
//! conversion. Where the kernel needs more than ipnet checks, the library
//! checks at its edge, before sending anything:
//!
//! - `IpNet` keeps host bits (`10.0.0.1/24` stays that), which is what an
//!   interface address needs. A route destination must not have any: a
//!   [`RouteSpec`](crate::RouteSpec) whose destination has host bits is
//!   refused (pass `net.trunc()`; netns-ipam keeps route destinations as
//!   the config wrote them, as host-local does).
//! - ipnet's `FromStr` wants `ADDR/LEN`. [`parse_prefix`] reads iproute2's
//!   grammar, where a bare address means its host prefix (`/32`, `/128`).
//! - iproute2's `brd +` is not ipnet's `broadcast()` (the last address of any
//!   prefix): see [`AddrSpec::broadcast_auto`](crate::AddrSpec::broadcast_auto).
//!
//! ```
//! use netns_core::{parse_prefix, IpFamily, IpNet};
//! let p: IpNet = "10.0.0.77/24".parse()?;
//! assert_eq!(p.trunc().to_string(), "10.0.0.0/24");
//! assert_eq!(IpFamily::of_net(&p), IpFamily::V4);
//! assert_eq!(parse_prefix("2001:db8::1")?.prefix_len(), 128);
//! assert!(parse_prefix("10.0.0.0/33").is_err());
//! assert_eq!(IpFamily::V6.default_prefix().to_string(), "::/0");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use netlink_packet_route::AddressFamily;

use crate::error::{Error, Result};

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

    /// The family of a prefix.
    pub fn of_net(net: &IpNet) -> IpFamily {
        match net {
            IpNet::V4(_) => IpFamily::V4,
            IpNet::V6(_) => IpFamily::V6,
        }
    }

    /// The longest prefix length of the family: 32 or 128.
    pub fn max_prefix_len(self) -> u8 {
        match self {
            IpFamily::V4 => 32,
            IpFamily::V6 => 128,
        }
    }

    /// The prefix that matches everything, `0.0.0.0/0` or `::/0`: the
    /// destination of a default route.
    pub fn default_prefix(self) -> IpNet {
        match self {
            IpFamily::V4 => IpNet::V4(Ipv4Net::default()),
            IpFamily::V6 => IpNet::V6(Ipv6Net::default()),
        }
    }

    /// The unspecified address, `0.0.0.0` or `::`.
    pub fn unspecified(self) -> IpAddr {
        match self {
            IpFamily::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpFamily::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
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

/// `addr/len` as an [`IpNet`], or an invalid-argument error of `op` when
/// `len` is longer than the family allows.
pub fn prefix(op: &'static str, addr: IpAddr, len: u8) -> Result<IpNet> {
    IpNet::new(addr, len).map_err(|_| {
        let family = IpFamily::of(&addr);
        Error::invalid(
            op,
            format!("{addr}/{len}"),
            format!(
                "prefix length {len} is out of range for {} (0..={})",
                family.label(),
                family.max_prefix_len()
            ),
        )
    })
}

/// Parse a prefix in iproute2's grammar: `ADDR/LEN`, or a bare `ADDR` for its
/// host prefix (`/32` or `/128`). The length is 1 to 3 decimal digits, at
/// most the family's width. Errors are invalid-argument errors naming the
/// text.
pub fn parse_prefix(s: &str) -> Result<IpNet> {
    const OP: &str = "prefix_parse";
    let bad = |why: &str| Error::invalid(OP, s, why);
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a
        .parse()
        .map_err(|_| bad("expected an IP address like 10.0.0.1/24 or 2001:db8::1/64"))?;
    match l {
        None => Ok(IpNet::from(addr)),
        Some(l) => {
            if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("the prefix length must be a decimal number"));
            }
            let len: u8 = l
                .parse()
                .map_err(|_| bad("the prefix length is out of range"))?;
            prefix(OP, addr, len).map_err(|e| match e.into_kind() {
                crate::ErrorKind::InvalidArgument { reason } => bad(&reason),
                other => Error::new(OP, s, other),
            })
        }
    }
}

/// The broadcast address iproute2's `brd +` computes: the last address of
/// the prefix, for IPv4 prefixes of 30 bits or less; none for /31 and /32
/// (point-to-point links have no broadcast) or IPv6.
pub(crate) fn brd_plus(net: &IpNet) -> Option<Ipv4Addr> {
    match net {
        IpNet::V4(n) if n.prefix_len() <= 30 => Some(n.broadcast()),
        _ => None,
    }
}

named! {
        /// The scope of an address or route (`rt_scope_t`), as `ip` shows it:
        /// `global`, `site`, `link`, `host`, `nowhere`, or a number
        /// (`universe` is read as `global`).
        struct Scope(u8) {
            /// RT_SCOPE_UNIVERSE (0): `global`.
            GLOBAL = 0 => "global" | "universe",
            /// RT_SCOPE_SITE (200): `site`.
            SITE = 200 => "site",
            /// RT_SCOPE_LINK (253): `link`, valid on the link only.
            LINK = 253 => "link",
            /// RT_SCOPE_HOST (254): `host`, valid inside this host only.
            HOST = 254 => "host",
            /// RT_SCOPE_NOWHERE (255): `nowhere`.
            NOWHERE = 255 => "nowhere",
        }
}

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

/// A prefix as `ip` prints a destination: `default` for a zero-length one.
pub(crate) struct ShowDst<'a>(pub(crate) &'a IpNet);

impl fmt::Display for ShowDst<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.prefix_len() == 0 {
            f.write_str("default")
        } else if self.0.prefix_len() == self.0.max_prefix_len() {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> IpNet {
        parse_prefix(s).unwrap()
    }

    #[test]
    fn prefix_parse_and_display() {
        assert_eq!(p("10.0.0.1/24").to_string(), "10.0.0.1/24");
        assert_eq!(p("10.0.0.1").prefix_len(), 32);
        assert_eq!(p("::/0").to_string(), "::/0");
        assert_eq!(p("2001:db8::1/64").trunc().to_string(), "2001:db8::/64");
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
            let e = parse_prefix(bad).unwrap_err();
            assert!(e.is_invalid_argument(), "{bad}: {e}");
        }
        let e = parse_prefix("10.0.0.0/33").unwrap_err();
        assert_eq!(
            e.to_string(),
            "prefix_parse 10.0.0.0/33: invalid argument: prefix length 33 is out of range for IPv4 (0..=32)"
        );
        assert!(prefix("t", "::1".parse().unwrap(), 129).is_err());
        assert!(prefix("t", "::1".parse().unwrap(), 128).is_ok());
    }

    #[test]
    fn broadcast_like_iproute2_brd_plus() {
        let b = |s: &str| brd_plus(&p(s)).map(|a| a.to_string());
        assert_eq!(b("10.0.0.1/24").as_deref(), Some("10.0.0.255"));
        assert_eq!(b("10.0.0.1/30").as_deref(), Some("10.0.0.3"));
        assert_eq!(b("10.0.0.1/31"), None);
        assert_eq!(b("10.0.0.1/32"), None);
        assert_eq!(b("10.1.2.3/0").as_deref(), Some("255.255.255.255"));
        assert_eq!(b("10.1.2.3/8").as_deref(), Some("10.255.255.255"));
        assert_eq!(b("2001:db8::1/64"), None);
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
        assert_eq!("universe".parse::<Scope>().unwrap(), Scope::GLOBAL);
        assert_eq!("17".parse::<Scope>().unwrap().to_string(), "17");
        assert!("galactic".parse::<Scope>().is_err());
    }

    #[test]
    fn destinations_show_like_ip() {
        assert_eq!(ShowDst(&p("0.0.0.0/0")).to_string(), "default");
        assert_eq!(ShowDst(&p("::/0")).to_string(), "default");
        assert_eq!(ShowDst(&p("10.9.9.9/32")).to_string(), "10.9.9.9");
        assert_eq!(ShowDst(&p("10.9.0.0/16")).to_string(), "10.9.0.0/16");
        assert_eq!(IpFamily::V4.default_prefix(), p("0.0.0.0/0"));
    }

    proptest! {
        #[test]
        fn prefix_math(a in any::<u32>(), len in 0u8..=32) {
            let pr = prefix("t", IpAddr::V4(Ipv4Addr::from(a)), len).unwrap();
            let net = pr.trunc();
            prop_assert!(pr.contains(&pr.addr()));
            prop_assert!(net.contains(&pr.addr()));
            prop_assert_eq!(net.trunc(), net);
            let IpAddr::V4(n) = net.addr() else { unreachable!() };
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            prop_assert_eq!(u32::from(n), a & mask);
            match brd_plus(&pr) {
                Some(b) => {
                    prop_assert!(len <= 30);
                    prop_assert_eq!(u32::from(b), a | !mask);
                    prop_assert!(pr.contains(&IpAddr::V4(b)));
                }
                None => prop_assert!(len > 30),
            }
            // Display / parse round trip.
            prop_assert_eq!(parse_prefix(&pr.to_string()).unwrap(), pr);
        }

        #[test]
        fn prefix_math_v6(a in any::<u128>(), len in 0u8..=128) {
            let pr = prefix("t", IpAddr::V6(Ipv6Addr::from(a)), len).unwrap();
            prop_assert!(pr.trunc().contains(&pr.addr()));
            prop_assert_eq!(parse_prefix(&pr.to_string()).unwrap(), pr);
            prop_assert_eq!(brd_plus(&pr), None);
        }

        #[test]
        fn out_of_range_lengths_refused(a in any::<u32>(), len in 33u8..=255) {
            prop_assert!(prefix("t", IpAddr::V4(Ipv4Addr::from(a)), len).is_err());
            let s = format!("{}/{}", Ipv4Addr::from(a), len);
            prop_assert!(parse_prefix(&s).is_err());
        }
    }
}
