//! Address arithmetic and Go-compatible address and prefix parsing.
//!
//! host-local is written in Go, so what it accepts as an address or a prefix
//! is what Go's `net.ParseIP` / `net.ParseCIDR` accept. The parsers here
//! follow them: IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are IPv4
//! addresses, prefix lengths may carry leading zeros (`10.0.0.0/024`), and
//! surrounding whitespace is an error.
//!
//! Prefixes are [`IpNet`]s. Where ipnet's semantics differ from what
//! host-local needs, we validate or convert at the edge: [`parse_cidr`]
//! parses config text, and every address taken from the caller is
//! canonicalised (IPv4-mapped to IPv4) before it meets [`IpNet::contains`],
//! which, unlike Go's `IPNet.Contains`, says an IPv4-mapped IPv6 address is
//! not in an IPv4 prefix.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of `ip`.
    pub fn of(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// Address width in bits (32 or 128).
    pub fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

/// The address as an unsigned integer (IPv4 in the low 32 bits).
pub(crate) fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// A key that orders addresses as `IpAddr`'s `Ord` does (IPv4 first), as
/// plain integers: cheaper to compare in the index's hot loops.
#[inline]
pub(crate) fn order_key(ip: &IpAddr) -> (bool, u128) {
    (ip.is_ipv6(), to_u128(*ip))
}

/// The address of `family` with integer value `v` (truncated for IPv4).
pub(crate) fn from_u128(family: Family, v: u128) -> IpAddr {
    match family {
        // Truncation is intended: callers only pass values of the family.
        Family::V4 => IpAddr::V4(Ipv4Addr::from((v & 0xffff_ffff) as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

/// The largest address value of `family`.
pub(crate) fn max_value(family: Family) -> u128 {
    match family {
        Family::V4 => u128::from(u32::MAX),
        Family::V6 => u128::MAX,
    }
}

/// The next address, or `None` past the end of the family.
pub(crate) fn next(ip: IpAddr) -> Option<IpAddr> {
    let f = Family::of(&ip);
    let v = to_u128(ip);
    if v >= max_value(f) {
        None
    } else {
        Some(from_u128(f, v + 1))
    }
}

/// Unmap an IPv4-mapped IPv6 address, as Go's `To4()` does.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(a),
        },
        v4 => v4,
    }
}

/// Parse an address the way Go's `net.ParseIP` does, returning IPv4-mapped
/// IPv6 addresses as IPv4 (Go's canonical form).
///
/// ```
/// use netns_ipam::parse_ip;
/// assert_eq!(parse_ip("10.0.0.1").unwrap().to_string(), "10.0.0.1");
/// assert_eq!(parse_ip("::ffff:10.0.0.1").unwrap().to_string(), "10.0.0.1");
/// assert_eq!(parse_ip("2001:DB8::0:5").unwrap().to_string(), "2001:db8::5");
/// assert!(parse_ip(" 10.0.0.1").is_none());
/// assert!(parse_ip("010.0.0.1").is_none());
/// ```
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    IpAddr::from_str(s).ok().map(canonical)
}

/// The prefix of `addr` (canonicalised) with `prefix` bits, clamped to the
/// family's width.
pub(crate) fn net(addr: IpAddr, prefix: u8) -> IpNet {
    let addr = canonical(addr);
    let prefix = prefix.min(Family::of(&addr).bits());
    // The prefix length is within the family's width: `new` cannot fail.
    IpNet::new(addr, prefix).unwrap_or_else(|_| IpNet::from(addr))
}

/// Whether `net` holds an IPv4-mapped IPv6 address (`::ffff:10.0.0.0/120`),
/// which host-local cannot use as a subnet.
pub(crate) fn is_mapped(net: &IpNet) -> bool {
    matches!(net, IpNet::V6(n) if n.addr().to_ipv4_mapped().is_some())
}

/// The error of [`parse_cidr`]: `invalid CIDR address: <input>`, as Go
/// words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrParseError(pub String);

impl fmt::Display for CidrParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid CIDR address: {}", self.0)
    }
}

impl std::error::Error for CidrParseError {}

/// Parse a prefix like Go's `net.ParseCIDR`: `addr/len`, the length in
/// decimal (leading zeros allowed), at most the family's width; surrounding
/// whitespace is an error. An IPv4-mapped IPv6 address is rejected (Go
/// accepts it with an IPv6 prefix length and host-local then fails with
/// "IPNet IP and Mask version mismatch"), so the result always holds a
/// canonical address. The address is kept as written (host bits and all);
/// [`IpNet::trunc`] clears them.
///
/// Use this, not [`IpNet`]'s `FromStr`, for config text: ipnet rejects
/// `10.0.0.0/024` and accepts `::ffff:10.0.0.0/120` and `010.0.0.0/24`
/// (leading zeros in an IPv4 octet), host-local does the opposite.
///
/// ```
/// use netns_ipam::{parse_cidr, IpNet};
/// let c = parse_cidr("10.0.0.0/024")?;
/// assert_eq!(c.to_string(), "10.0.0.0/24");
/// assert!("10.0.0.0/024".parse::<IpNet>().is_err()); // ipnet differs
/// assert_eq!(parse_cidr("10.1.2.3/8")?.addr().to_string(), "10.1.2.3");
/// assert!(parse_cidr("10.0.0.0/33").is_err());
/// assert!(parse_cidr("10.0.0.0").is_err());
/// assert!(parse_cidr(" 10.0.0.0/24").is_err());
/// let e = parse_cidr("::ffff:10.0.0.0/120").unwrap_err();
/// assert_eq!(e.to_string(), "invalid CIDR address: ::ffff:10.0.0.0/120");
/// # Ok::<(), netns_ipam::CidrParseError>(())
/// ```
pub fn parse_cidr(s: &str) -> Result<IpNet, CidrParseError> {
    let err = || CidrParseError(s.to_string());
    let (a, p) = s.split_once('/').ok_or_else(err)?;
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let raw = IpAddr::from_str(a).map_err(|_| err())?;
    if let IpAddr::V6(v6) = raw {
        if v6.to_ipv4_mapped().is_some() {
            return Err(err());
        }
    }
    // Digits only: parse can only fail on overflow.
    let digits = p.trim_start_matches('0');
    let prefix: u32 = if digits.is_empty() {
        0
    } else if digits.len() > 3 {
        return Err(err());
    } else {
        digits.parse().map_err(|_| err())?
    };
    let prefix = u8::try_from(prefix).map_err(|_| err())?;
    IpNet::new(canonical(raw), prefix).map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        // The netmasks the range arithmetic relies on (ipnet's).
        let mask = |s: &str| to_u128(parse_cidr(s).unwrap().netmask());
        assert_eq!(mask("0.0.0.0/24"), 0xffff_ff00);
        assert_eq!(mask("0.0.0.0/0"), 0);
        assert_eq!(mask("0.0.0.0/32"), 0xffff_ffff);
        assert_eq!(mask("::/128"), u128::MAX);
        assert_eq!(mask("::/64"), u128::MAX << 64);
    }

    #[test]
    fn cidr_edges() {
        let c = parse_cidr("10.1.2.3/8").unwrap();
        assert_eq!(c.to_string(), "10.1.2.3/8");
        assert_eq!(c.network().to_string(), "10.0.0.0");
        assert_eq!(c.broadcast().to_string(), "10.255.255.255");
        let c = parse_cidr("2001:db8::/126").unwrap();
        assert_eq!(c.broadcast().to_string(), "2001:db8::3");
        assert!(parse_cidr("::ffff:10.0.0.0/120").is_err());
        assert!(parse_cidr("10.0.0.0/+24").is_err());
        assert!(parse_cidr("10.0.0.0/").is_err());
        assert!(parse_cidr(" 10.0.0.0/24").is_err());
        assert_eq!(parse_cidr("::/0").unwrap().to_string(), "::/0");
        assert_eq!(next("255.255.255.255".parse().unwrap()), None);
    }

    #[test]
    fn go_semantics_where_ipnet_differs() {
        // Leading zeros in the length: Go accepts, ipnet refuses.
        assert_eq!(
            parse_cidr("10.0.0.0/024").unwrap().to_string(),
            "10.0.0.0/24"
        );
        assert_eq!(
            parse_cidr("10.0.0.0/0000").unwrap().to_string(),
            "10.0.0.0/0"
        );
        assert!(parse_cidr("10.0.0.0/0033").is_err());
        // Leading zeros in an IPv4 octet: ipnet accepts, Go refuses.
        assert!("010.0.0.0/24".parse::<IpNet>().is_ok());
        assert_eq!(
            parse_cidr("010.0.0.0/24").unwrap_err().to_string(),
            "invalid CIDR address: 010.0.0.0/24"
        );
        // IPv4-mapped with an IPv6 length: ipnet accepts, refused here.
        for s in ["::ffff:10.0.0.0/120", "::ffff:10.0.0.0/24", "::ffff:0:0/96"] {
            assert!(s.parse::<IpNet>().is_ok(), "{s}");
            assert_eq!(
                parse_cidr(s).unwrap_err().to_string(),
                format!("invalid CIDR address: {s}")
            );
        }
        // IPv4-compatible (not mapped) stays IPv6.
        assert!(matches!(parse_cidr("::10.0.0.0/120"), Ok(IpNet::V6(_))));
        assert!(parse_cidr("10.0.0.0/24 ").is_err());
        assert!(parse_cidr("10.0.0.0/2 4").is_err());
        assert!(parse_cidr("10.0.0.0/24/1").is_err());
        // Built prefixes hold canonical addresses.
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().unwrap();
        assert_eq!(net(mapped, 24).to_string(), "10.0.0.5/24");
        assert_eq!(net(mapped, 120).to_string(), "10.0.0.5/32");
        assert!(is_mapped(&"::ffff:10.0.0.0/120".parse().unwrap()));
        assert!(!is_mapped(&parse_cidr("10.0.0.0/24").unwrap()));
    }
}
