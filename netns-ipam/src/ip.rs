//! Address arithmetic, Go-compatible address parsing and the [`Cidr`] type.
//!
//! host-local is written in Go, so what it accepts as an address or a prefix
//! is what Go's `net.ParseIP` / `net.ParseCIDR` accept. The parsers here
//! follow them: IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are IPv4
//! addresses, prefix lengths may carry leading zeros (`10.0.0.0/024`), and
//! surrounding whitespace is an error.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

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

/// The netmask of `prefix` bits as an integer of `family`'s width.
pub(crate) fn mask(family: Family, prefix: u8) -> u128 {
    let bits = u32::from(family.bits());
    let prefix = u32::from(prefix).min(bits);
    if prefix == 0 {
        return 0;
    }
    let ones = u128::MAX << (128 - prefix);
    // Shift the mask down to the family's width.
    ones >> (128 - bits)
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

/// An address with a prefix length, as written in a config (`10.0.0.0/24`).
///
/// The address is kept as written (it may have host bits set, as a route's
/// `dst` may in host-local); [`Cidr::network`] gives the network address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// A prefix, or `None` if `prefix` is longer than the family's width.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let addr = canonical(addr);
        if prefix > Family::of(&addr).bits() {
            return None;
        }
        Some(Cidr { addr, prefix })
    }

    /// A prefix from parts known to be valid (`prefix` within the family).
    pub(crate) fn from_parts(addr: IpAddr, prefix: u8) -> Cidr {
        let addr = canonical(addr);
        let prefix = prefix.min(Family::of(&addr).bits());
        Cidr { addr, prefix }
    }

    /// The address as written.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The address family.
    pub fn family(&self) -> Family {
        Family::of(&self.addr)
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        let f = self.family();
        from_u128(f, to_u128(self.addr) & mask(f, self.prefix))
    }

    /// The last address of the prefix (all host bits set).
    pub fn last(&self) -> IpAddr {
        let f = self.family();
        let m = mask(f, self.prefix);
        from_u128(f, (to_u128(self.addr) & m) | (max_value(f) & !m))
    }

    /// Whether `ip` (of the same family) lies in the prefix.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let ip = canonical(*ip);
        let f = self.family();
        if Family::of(&ip) != f {
            return false;
        }
        let m = mask(f, self.prefix);
        to_u128(ip) & m == to_u128(self.addr) & m
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The error of [`Cidr::from_str`]: `invalid CIDR address: <input>`, as Go
/// words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrParseError(pub String);

impl fmt::Display for CidrParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid CIDR address: {}", self.0)
    }
}

impl std::error::Error for CidrParseError {}

impl FromStr for Cidr {
    type Err = CidrParseError;

    /// Parse like Go's `net.ParseCIDR`: `addr/len`, the length in decimal
    /// (leading zeros allowed), at most the family's width. An IPv4-mapped
    /// IPv6 address with an IPv6 prefix length is rejected (Go accepts it and
    /// host-local then fails with "IPNet IP and Mask version mismatch").
    ///
    /// ```
    /// use netns_ipam::Cidr;
    /// let c: Cidr = "10.0.0.0/024".parse().unwrap();
    /// assert_eq!(c.to_string(), "10.0.0.0/24");
    /// assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    /// assert!("10.0.0.0".parse::<Cidr>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Cidr, CidrParseError> {
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
        Cidr::new(raw, prefix).ok_or_else(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask(Family::V4, 24), 0xffff_ff00);
        assert_eq!(mask(Family::V4, 0), 0);
        assert_eq!(mask(Family::V4, 32), 0xffff_ffff);
        assert_eq!(mask(Family::V6, 128), u128::MAX);
        assert_eq!(mask(Family::V6, 64), u128::MAX << 64);
    }

    #[test]
    fn cidr_edges() {
        let c: Cidr = "10.1.2.3/8".parse().unwrap();
        assert_eq!(c.to_string(), "10.1.2.3/8");
        assert_eq!(c.network().to_string(), "10.0.0.0");
        assert_eq!(c.last().to_string(), "10.255.255.255");
        let c: Cidr = "2001:db8::/126".parse().unwrap();
        assert_eq!(c.last().to_string(), "2001:db8::3");
        assert!("::ffff:10.0.0.0/120".parse::<Cidr>().is_err());
        assert!("10.0.0.0/+24".parse::<Cidr>().is_err());
        assert!("10.0.0.0/".parse::<Cidr>().is_err());
        assert!(" 10.0.0.0/24".parse::<Cidr>().is_err());
        assert_eq!("::/0".parse::<Cidr>().unwrap().to_string(), "::/0");
        assert_eq!(next("255.255.255.255".parse().unwrap()), None);
    }
}
