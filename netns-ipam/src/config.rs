//! host-local's IPAM configuration: ranges, range sets, requested addresses,
//! with host-local's normalisation, defaults and rejections.
//!
//! [`IpamInput`] is the configuration as given (the `json` feature parses it
//! from a network config); [`IpamInput::normalize`] turns it into an
//! [`IpamConfig`] or a [`ConfigError`] naming the offending value.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::gojson;
use crate::ip::{self, canonical, parse_cidr, Family};

/// One range as written in a config: `{subnet, rangeStart?, rangeEnd?, gateway?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSpec {
    /// The subnet; must be a network address (no host bits) and must not
    /// hold an IPv4-mapped IPv6 address (write IPv4 subnets as
    /// [`Ipv4Net`](ipnet::Ipv4Net)s; [`parse_cidr`] does).
    pub subnet: IpNet,
    /// First allocatable address (default: network + 1).
    pub range_start: Option<IpAddr>,
    /// Last allocatable address (default: the last address of the subnet,
    /// minus one for IPv4).
    pub range_end: Option<IpAddr>,
    /// Gateway (default: network + 1); never handed out by dynamic allocation.
    pub gateway: Option<IpAddr>,
}

impl RangeSpec {
    /// A range covering `subnet` with every default.
    pub fn new(subnet: IpNet) -> RangeSpec {
        RangeSpec {
            subnet,
            range_start: None,
            range_end: None,
            gateway: None,
        }
    }
}

/// A normalised range: every bound known, `range_start <= range_end`, both in
/// the subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    subnet: IpNet,
    range_start: IpAddr,
    range_end: IpAddr,
    gateway: IpAddr,
}

impl Range {
    /// Normalise `spec` with host-local's defaults and rejections.
    ///
    /// A subnet holding an IPv4-mapped IPv6 address (which ipnet's
    /// `FromStr` accepts, [`parse_cidr`] does not) is rejected with
    /// host-local's message.
    ///
    /// ```
    /// use netns_ipam::{parse_cidr, IpNet, Range, RangeSpec};
    /// // A /30 has two usable addresses; .1 is the default gateway.
    /// let r = Range::new(&RangeSpec::new(parse_cidr("10.0.0.0/30")?))?;
    /// assert_eq!((r.range_start().to_string(), r.range_end().to_string()),
    ///            ("10.0.0.1".into(), "10.0.0.2".into()));
    /// // IPv6 ranges end at the last address (no broadcast).
    /// let r = Range::new(&RangeSpec::new(parse_cidr("2001:db8::/126")?))?;
    /// assert_eq!(r.range_end().to_string(), "2001:db8::3");
    /// // A /31 is too small, host bits are rejected.
    /// assert!(Range::new(&RangeSpec::new(parse_cidr("10.0.0.0/31")?)).is_err());
    /// let e = Range::new(&RangeSpec::new(parse_cidr("10.0.0.1/24")?)).unwrap_err();
    /// assert_eq!(e.to_string(), "Network has host bits set. For a subnet mask of \
    ///            length 24 the network address is 10.0.0.0");
    /// // IPv4-mapped IPv6:
    /// let mapped: IpNet = "::ffff:10.0.0.0/120".parse()?;
    /// let e = Range::new(&RangeSpec::new(mapped)).unwrap_err();
    /// assert_eq!(e.to_string(), "IPNet IP and Mask version mismatch");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(spec: &RangeSpec) -> Result<Range, ConfigError> {
        let subnet = spec.subnet;
        if ip::is_mapped(&subnet) {
            return Err(ConfigError::MappedSubnet(subnet));
        }
        let family = Family::of(&subnet.addr());
        if subnet.prefix_len() > family.bits() - 2 {
            return Err(ConfigError::TooSmall(subnet));
        }
        let network = subnet.network();
        if network != subnet.addr() {
            return Err(ConfigError::HostBits {
                prefix: subnet.prefix_len(),
                network,
            });
        }
        let first = ip::from_u128(family, ip::to_u128(network) + 1);
        let gateway = spec.gateway.map(canonical).unwrap_or(first);
        // As host-local: an explicit rangeStart must lie in the subnet and not
        // after an explicit rangeEnd.
        let end_given = spec.range_end.map(canonical);
        let not_after_end = |s: &IpAddr| match end_given {
            Some(e) if Family::of(&e) == Family::of(s) => ip::to_u128(*s) <= ip::to_u128(e),
            _ => true,
        };
        let range_start = match spec.range_start.map(canonical) {
            Some(s) if subnet.contains(&s) && not_after_end(&s) => s,
            Some(s) => return Err(ConfigError::StartNotInNetwork { ip: s, subnet }),
            None => first,
        };
        let range_end = match spec.range_end.map(canonical) {
            Some(e) if subnet.contains(&e) && ip::to_u128(e) >= ip::to_u128(range_start) => e,
            Some(e) => return Err(ConfigError::EndNotInNetwork { ip: e, subnet }),
            None => {
                let last = ip::to_u128(subnet.broadcast());
                match family {
                    Family::V4 => ip::from_u128(family, last - 1),
                    Family::V6 => ip::from_u128(family, last),
                }
            }
        };
        if ip::to_u128(range_start) > ip::to_u128(range_end) {
            // host-local accepts this (rangeStart = broadcast with a default
            // rangeEnd) and then walks out of the subnet: rejected here.
            return Err(ConfigError::StartAfterEnd {
                start: range_start,
                end: range_end,
            });
        }
        Ok(Range {
            subnet,
            range_start,
            range_end,
            gateway,
        })
    }

    /// The subnet (a network address, canonical: an IPv4 subnet is an
    /// [`IpNet::V4`]).
    pub fn subnet(&self) -> IpNet {
        self.subnet
    }
    /// First allocatable address (inclusive).
    pub fn range_start(&self) -> IpAddr {
        self.range_start
    }
    /// Last allocatable address (inclusive).
    pub fn range_end(&self) -> IpAddr {
        self.range_end
    }
    /// The gateway (may lie outside the subnet, as host-local allows).
    pub fn gateway(&self) -> IpAddr {
        self.gateway
    }
    /// The family of the range.
    pub fn family(&self) -> Family {
        Family::of(&self.subnet.addr())
    }

    /// Whether `ip` lies in `range_start..=range_end` (an IPv4-mapped IPv6
    /// `ip` is taken as IPv4, as Go does).
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let ip = canonical(*ip);
        if Family::of(&ip) != self.family() {
            return false;
        }
        let v = ip::to_u128(ip);
        v >= ip::to_u128(self.range_start) && v <= ip::to_u128(self.range_end)
    }

    fn overlaps(&self, other: &Range) -> bool {
        self.family() == other.family()
            && (self.contains(&other.range_start)
                || self.contains(&other.range_end)
                || other.contains(&self.range_start)
                || other.contains(&self.range_end))
    }
}

impl fmt::Display for Range {
    /// `start-end`, as host-local prints a range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.range_start, self.range_end)
    }
}

/// A set of ranges of one family, allocated from as one pool (one address
/// per set per attachment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<Range>,
}

impl RangeSet {
    /// Normalise every range; reject an empty set, mixed families and
    /// overlapping ranges.
    pub fn new(specs: &[RangeSpec]) -> Result<RangeSet, ConfigError> {
        if specs.is_empty() {
            return Err(ConfigError::EmptyRangeSet);
        }
        let mut ranges = Vec::with_capacity(specs.len());
        for s in specs {
            let r = Range::new(s)?;
            if let Some(first) = ranges.first() {
                let first: &Range = first;
                if first.family() != r.family() {
                    return Err(ConfigError::MixedFamilies);
                }
            }
            ranges.push(r);
        }
        for (i, a) in ranges.iter().enumerate() {
            for b in &ranges[i + 1..] {
                if a.overlaps(b) {
                    return Err(ConfigError::RangesOverlap {
                        a: a.to_string(),
                        b: b.to_string(),
                    });
                }
            }
        }
        Ok(RangeSet { ranges })
    }

    /// The ranges, in config order.
    pub fn ranges(&self) -> &[Range] {
        &self.ranges
    }

    /// The family of the set.
    pub fn family(&self) -> Family {
        // A set is never empty (checked in `new`).
        self.ranges.first().map(Range::family).unwrap_or(Family::V4)
    }

    /// Whether any range contains `ip`.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.range_for(ip).is_some()
    }

    /// The first range containing `ip`.
    pub fn range_for(&self, ip: &IpAddr) -> Option<&Range> {
        self.ranges.iter().find(|r| r.contains(ip))
    }

    fn overlaps(&self, other: &RangeSet) -> bool {
        self.ranges
            .iter()
            .any(|a| other.ranges.iter().any(|b| a.overlaps(b)))
    }
}

impl fmt::Display for RangeSet {
    /// `start-end,start-end`, as host-local prints a set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// A route from `ipam.routes`, echoed in the ADD result.
///
/// To install it with netns-core: its `RouteSpec` refuses a destination with
/// host bits set, and `dst` may have some (host-local keeps what the config
/// says), so pass [`dst.trunc()`](IpNet::trunc):
///
/// ```
/// use netns_ipam::{parse_cidr, IpamRoute};
/// let r = IpamRoute::new(parse_cidr("10.1.2.3/16")?);
/// assert_eq!(r.dst.to_string(), "10.1.2.3/16"); // echoed as written
/// assert_eq!(r.dst.trunc().to_string(), "10.1.0.0/16"); // what to install
/// # Ok::<(), netns_ipam::CidrParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpamRoute {
    /// Destination, kept as written (host bits and all, as host-local does).
    pub dst: IpNet,
    /// Next hop.
    pub gw: Option<IpAddr>,
    /// CNI 1.1 `mtu`.
    pub mtu: Option<i64>,
    /// CNI 1.1 `advmss`.
    pub advmss: Option<i64>,
    /// CNI 1.1 `priority`.
    pub priority: Option<i64>,
    /// CNI 1.1 `table`.
    pub table: Option<i64>,
    /// CNI 1.1 `scope`.
    pub scope: Option<i64>,
}

impl IpamRoute {
    /// A route to `dst` with nothing else set.
    pub fn new(dst: IpNet) -> IpamRoute {
        IpamRoute {
            dst,
            gw: None,
            mtu: None,
            advmss: None,
            priority: None,
            table: None,
            scope: None,
        }
    }
}

/// The IPAM configuration as given, before normalisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpamInput {
    /// The network's `name`: the data directory's name.
    pub name: String,
    /// The network config's `cniVersion` (empty means 0.1.0).
    pub cni_version: String,
    /// The legacy single range (`ipam.subnet`, `ipam.rangeStart`...).
    pub legacy_range: Option<RangeSpec>,
    /// `ipam.ranges`.
    pub ranges: Vec<Vec<RangeSpec>>,
    /// `runtimeConfig.ipRanges`.
    pub runtime_ranges: Vec<Vec<RangeSpec>>,
    /// `IP=` from CNI_ARGS.
    pub env_ip: Option<IpAddr>,
    /// `args.cni.ips`.
    pub args_ips: Vec<IpAddr>,
    /// `runtimeConfig.ips` (prefix lengths already dropped).
    pub runtime_ips: Vec<IpAddr>,
    /// `ipam.routes`.
    pub routes: Vec<IpamRoute>,
    /// `ipam.dataDir` (empty or absent: the default).
    pub data_dir: Option<String>,
    /// `ipam.resolvConf`.
    pub resolv_conf: Option<String>,
}

/// A normalised IPAM configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpamConfig {
    /// The network's name (the data directory's name).
    pub name: String,
    /// The config's `cniVersion`.
    pub cni_version: String,
    /// Range sets in host-local's order: runtimeConfig.ipRanges, the legacy
    /// range, ipam.ranges. A set's position is its range id.
    pub range_sets: Vec<RangeSet>,
    /// Requested addresses: CNI_ARGS `IP`, then args.cni.ips, then
    /// runtimeConfig.ips, duplicates removed.
    pub requested_ips: Vec<IpAddr>,
    /// Routes for the result.
    pub routes: Vec<IpamRoute>,
    /// `ipam.dataDir`, `None` for the default.
    pub data_dir: Option<String>,
    /// `ipam.resolvConf`, `None` if unset.
    pub resolv_conf: Option<String>,
}

/// host-local's default data directory.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";

impl IpamConfig {
    /// The data directory (`ipam.dataDir` or [`DEFAULT_DATA_DIR`]).
    pub fn data_dir(&self) -> &str {
        self.data_dir.as_deref().unwrap_or(DEFAULT_DATA_DIR)
    }
}

impl IpamInput {
    /// Apply host-local's normalisation: order the range sets, normalise and
    /// validate each, reject overlapping sets and (before CNI 0.3.0) more than
    /// one set per family, collect the requested addresses.
    ///
    /// ```
    /// use netns_ipam::{parse_cidr, IpamInput, RangeSpec};
    /// let mut input = IpamInput { name: "net".into(), cni_version: "1.0.0".into(),
    ///                             ..Default::default() };
    /// input.ranges = vec![vec![RangeSpec::new(parse_cidr("10.0.0.0/24")?)],
    ///                     vec![RangeSpec::new(parse_cidr("10.0.0.0/25")?)]];
    /// let e = input.clone().normalize().unwrap_err();
    /// assert_eq!(e.to_string(), "range set 0 overlaps with 1");
    /// input.ranges.pop();
    /// input.legacy_range = Some(RangeSpec::new(parse_cidr("10.1.0.0/16")?));
    /// let conf = input.normalize()?;
    /// // The legacy range comes first: it is range set 0.
    /// assert_eq!(conf.range_sets[0].to_string(), "10.1.0.1-10.1.255.254");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn normalize(self) -> Result<IpamConfig, ConfigError> {
        let mut requested: Vec<IpAddr> = Vec::new();
        let all = self
            .env_ip
            .into_iter()
            .chain(self.args_ips)
            .chain(self.runtime_ips)
            .map(canonical);
        for ip in all {
            if !requested.contains(&ip) {
                requested.push(ip);
            }
        }

        let mut specs: Vec<Vec<RangeSpec>> = self.runtime_ranges;
        if let Some(l) = self.legacy_range {
            specs.push(vec![l]);
        }
        specs.extend(self.ranges);
        if specs.is_empty() {
            return Err(ConfigError::NoRanges);
        }
        let mut sets = Vec::with_capacity(specs.len());
        let (mut v4, mut v6) = (0, 0);
        for (i, s) in specs.iter().enumerate() {
            let set = RangeSet::new(s).map_err(|e| ConfigError::InvalidRangeSet {
                index: i,
                source: Box::new(e),
            })?;
            match set.family() {
                Family::V4 => v4 += 1,
                Family::V6 => v6 += 1,
            }
            sets.push(set);
        }
        if (v4 > 1 || v6 > 1) && !version_at_least(&self.cni_version, (0, 3, 0)) {
            return Err(ConfigError::TooManyPerFamily(self.cni_version));
        }
        for (i, a) in sets.iter().enumerate() {
            for (j, b) in sets.iter().enumerate().skip(i + 1) {
                if a.overlaps(b) {
                    return Err(ConfigError::RangeSetsOverlap(i, j));
                }
            }
        }
        Ok(IpamConfig {
            name: self.name,
            cni_version: self.cni_version,
            range_sets: sets,
            requested_ips: requested,
            routes: self.routes,
            data_dir: self.data_dir.filter(|d| !d.is_empty()),
            resolv_conf: self.resolv_conf.filter(|r| !r.is_empty()),
        })
    }
}

/// Parse a CNI version `MAJOR.MINOR.PATCH`.
pub fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let mut it = v.split('.');
    let mut num = || -> Option<u64> {
        let p = it.next()?;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let out = (num()?, num()?, num()?);
    if it.next().is_some() {
        return None;
    }
    Some(out)
}

/// Whether `v` parses and is at least `min` (an unparsable version is not).
pub fn version_at_least(v: &str, min: (u64, u64, u64)) -> bool {
    parse_version(v).is_some_and(|p| p >= min)
}

/// Parse CNI_ARGS (`K=V;K2=V2`) as host-local does: `IP` is the requested
/// address (a prefix length is dropped, an empty value means none),
/// `IgnoreUnknown` (1/0/true/false, any case) allows other keys, any other
/// key is an error unless ignored.
///
/// ```
/// use netns_ipam::parse_cni_args;
/// assert_eq!(parse_cni_args("IP=10.0.0.5")?.unwrap().to_string(), "10.0.0.5");
/// assert_eq!(parse_cni_args("IgnoreUnknown=1;K8S_POD_NAME=p")?, None);
/// let e = parse_cni_args("K8S_POD_NAME=p").unwrap_err();
/// assert_eq!(e.to_string(), r#"ARGS: unknown args ["K8S_POD_NAME=p"]"#);
/// # Ok::<(), netns_ipam::ConfigError>(())
/// ```
pub fn parse_cni_args(args: &str) -> Result<Option<IpAddr>, ConfigError> {
    if args.is_empty() {
        return Ok(None);
    }
    let mut ip = None;
    let mut ignore_unknown = false;
    let mut unknown = Vec::new();
    for pair in args.split(';') {
        let kv: Vec<&str> = pair.split('=').collect();
        let [k, v] = kv.as_slice() else {
            return Err(ConfigError::CniArgs(format!(
                "ARGS: invalid pair {}",
                gojson::quote(pair)
            )));
        };
        match *k {
            "IP" => {
                if v.is_empty() {
                    ip = None;
                } else {
                    ip = Some(parse_ip_or_cidr(v).ok_or_else(|| {
                        ConfigError::CniArgs(format!(
                            "ARGS: error parsing value of pair {}: invalid IP address {v}",
                            gojson::quote(pair)
                        ))
                    })?);
                }
            }
            "IgnoreUnknown" => {
                ignore_unknown = match v.to_lowercase().as_str() {
                    "1" | "true" => true,
                    "0" | "false" => false,
                    other => {
                        return Err(ConfigError::CniArgs(format!(
                            "ARGS: error parsing value of pair {}: boolean unmarshal error: invalid input {other}",
                            gojson::quote(pair)
                        )))
                    }
                }
            }
            _ => unknown.push(pair),
        }
    }
    if !unknown.is_empty() && !ignore_unknown {
        let list: Vec<String> = unknown.iter().map(|s| gojson::quote(s)).collect();
        return Err(ConfigError::CniArgs(format!(
            "ARGS: unknown args [{}]",
            list.join(" ")
        )));
    }
    Ok(ip)
}

/// Parse `addr` or `addr/len` (the prefix dropped), as the plugins' `ip.IP`
/// type does for `runtimeConfig.ips`, `args.cni.ips` and CNI_ARGS `IP`.
pub fn parse_ip_or_cidr(s: &str) -> Option<IpAddr> {
    if s.contains('/') {
        parse_cidr(s).ok().map(|c| c.addr())
    } else {
        ip::parse_ip(s)
    }
}

/// A rejected configuration. Each message names the offending value and,
/// where host-local has one, is host-local's message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The subnet address has host bits set.
    HostBits {
        /// The prefix length.
        prefix: u8,
        /// The network address it should have been.
        network: IpAddr,
    },
    /// The subnet has fewer than two host bits (IPv4 /31, /32; IPv6 /127, /128).
    TooSmall(IpNet),
    /// The subnet holds an IPv4-mapped IPv6 address (`::ffff:10.0.0.0/120`):
    /// host-local canonicalises the address to IPv4 and then refuses the
    /// IPv6 prefix length.
    MappedSubnet(IpNet),
    /// `rangeStart` outside the subnet.
    StartNotInNetwork {
        /// rangeStart.
        ip: IpAddr,
        /// The subnet.
        subnet: IpNet,
    },
    /// `rangeEnd` outside the subnet or before `rangeStart`.
    EndNotInNetwork {
        /// rangeEnd.
        ip: IpAddr,
        /// The subnet.
        subnet: IpNet,
    },
    /// `rangeStart` after the (default) `rangeEnd` (host-local accepts this
    /// and allocates outside the subnet).
    StartAfterEnd {
        /// rangeStart.
        start: IpAddr,
        /// rangeEnd.
        end: IpAddr,
    },
    /// A range set with no range.
    EmptyRangeSet,
    /// IPv4 and IPv6 ranges in one set.
    MixedFamilies,
    /// Two ranges of a set overlap (`start-end` of each).
    RangesOverlap {
        /// The first range.
        a: String,
        /// The second range.
        b: String,
    },
    /// A range set failed validation.
    InvalidRangeSet {
        /// The set's position (its range id).
        index: usize,
        /// Why.
        source: Box<ConfigError>,
    },
    /// Two range sets overlap.
    RangeSetsOverlap(usize, usize),
    /// No range at all.
    NoRanges,
    /// Before CNI 0.3.0, one address per family only.
    TooManyPerFamily(String),
    /// No `ipam` key.
    MissingIpam,
    /// A value of the JSON config could not be understood (message says
    /// which).
    Invalid(String),
    /// CNI_ARGS could not be parsed (message starts with `ARGS:`).
    CniArgs(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::HostBits { prefix, network } => write!(
                f,
                "Network has host bits set. For a subnet mask of length {prefix} the network address is {network}"
            ),
            ConfigError::TooSmall(c) => write!(f, "Network {c} too small to allocate from"),
            ConfigError::MappedSubnet(_) => f.write_str("IPNet IP and Mask version mismatch"),
            ConfigError::StartNotInNetwork { ip, subnet } => {
                write!(f, "RangeStart {ip} not in network {subnet}")
            }
            ConfigError::EndNotInNetwork { ip, subnet } => {
                write!(f, "RangeEnd {ip} not in network {subnet}")
            }
            ConfigError::StartAfterEnd { start, end } => {
                write!(f, "RangeStart {start} is after RangeEnd {end}")
            }
            ConfigError::EmptyRangeSet => f.write_str("empty range set"),
            ConfigError::MixedFamilies => f.write_str("mixed address families"),
            ConfigError::RangesOverlap { a, b } => write!(f, "subnets {a} and {b} overlap"),
            ConfigError::InvalidRangeSet { index, source } => {
                write!(f, "invalid range set {index}: {source}")
            }
            ConfigError::RangeSetsOverlap(a, b) => write!(f, "range set {a} overlaps with {b}"),
            ConfigError::NoRanges => f.write_str("no IP ranges specified"),
            ConfigError::TooManyPerFamily(v) => write!(
                f,
                "CNI version {v} does not support more than 1 address per family"
            ),
            ConfigError::MissingIpam => f.write_str("IPAM config missing 'ipam' key"),
            ConfigError::Invalid(m) | ConfigError::CniArgs(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> RangeSpec {
        RangeSpec::new(parse_cidr(s).unwrap())
    }

    #[test]
    fn defaults_and_rejections() {
        let r = Range::new(&spec("10.0.0.0/24")).unwrap();
        assert_eq!(r.to_string(), "10.0.0.1-10.0.0.254");
        assert_eq!(r.gateway().to_string(), "10.0.0.1");
        assert!(matches!(
            Range::new(&spec("2001:db8::/127")),
            Err(ConfigError::TooSmall(_))
        ));
        let mut s = spec("10.0.0.0/24");
        s.range_start = Some("10.0.1.5".parse().unwrap());
        assert_eq!(
            Range::new(&s).unwrap_err().to_string(),
            "RangeStart 10.0.1.5 not in network 10.0.0.0/24"
        );
        let mut s = spec("10.0.0.0/24");
        s.range_start = Some("10.0.0.9".parse().unwrap());
        s.range_end = Some("10.0.0.5".parse().unwrap());
        assert_eq!(
            Range::new(&s).unwrap_err().to_string(),
            "RangeStart 10.0.0.9 not in network 10.0.0.0/24"
        );
        let mut s = spec("10.0.0.0/24");
        s.range_start = Some("10.0.0.255".parse().unwrap());
        assert!(matches!(
            Range::new(&s),
            Err(ConfigError::StartAfterEnd { .. })
        ));
        let mut s = spec("10.0.0.0/24");
        s.gateway = Some("10.9.9.9".parse().unwrap());
        assert_eq!(Range::new(&s).unwrap().gateway().to_string(), "10.9.9.9");
    }

    #[test]
    fn ipnet_edges() {
        // A mapped subnet (ipnet's FromStr accepts it) is refused, in any
        // length, before any other check.
        for m in [
            "::ffff:10.0.0.0/120",
            "::ffff:10.0.0.0/24",
            "::ffff:10.0.0.0/127",
        ] {
            let r = Range::new(&RangeSpec::new(m.parse().unwrap()));
            assert!(matches!(r, Err(ConfigError::MappedSubnet(_))), "{m}");
        }
        // IPv4-mapped addresses are IPv4 to every bound and query.
        let mapped = |s: &str| -> IpAddr { format!("::ffff:{s}").parse().unwrap() };
        let mut s = spec("10.0.0.0/24");
        s.range_start = Some(mapped("10.0.0.10"));
        s.range_end = Some(mapped("10.0.0.20"));
        s.gateway = Some(mapped("10.0.0.254"));
        let r = Range::new(&s).unwrap();
        assert_eq!(r.to_string(), "10.0.0.10-10.0.0.20");
        assert_eq!(r.gateway().to_string(), "10.0.0.254");
        assert!(matches!(r.subnet(), IpNet::V4(_)));
        assert!(r.contains(&mapped("10.0.0.15")));
        assert!(!r.contains(&mapped("10.0.0.21")));
        let set = RangeSet::new(&[s]).unwrap();
        assert!(set.contains(&mapped("10.0.0.10")));
        assert_eq!(set.range_for(&mapped("10.0.0.20")), Some(&r));
        // An IPv6 range does not contain IPv4(-mapped) addresses.
        let r6 = Range::new(&spec("::/96")).unwrap();
        assert!(!r6.contains(&mapped("0.0.0.5")));
        // Route destinations keep their host bits; parse_ip_or_cidr drops the
        // length and unmaps.
        assert_eq!(
            IpamRoute::new(parse_cidr("10.1.2.3/16").unwrap())
                .dst
                .to_string(),
            "10.1.2.3/16"
        );
        assert_eq!(
            parse_ip_or_cidr("10.0.0.5/024").unwrap().to_string(),
            "10.0.0.5"
        );
        assert_eq!(
            parse_ip_or_cidr("::ffff:10.0.0.5").unwrap().to_string(),
            "10.0.0.5"
        );
        assert_eq!(parse_ip_or_cidr("::ffff:10.0.0.5/120"), None);
    }

    #[test]
    fn sets() {
        assert_eq!(
            RangeSet::new(&[spec("10.0.0.0/24"), spec("10.0.0.0/25")])
                .unwrap_err()
                .to_string(),
            "subnets 10.0.0.1-10.0.0.254 and 10.0.0.1-10.0.0.126 overlap"
        );
        assert_eq!(
            RangeSet::new(&[spec("10.0.0.0/24"), spec("2001:db8::/64")]).unwrap_err(),
            ConfigError::MixedFamilies
        );
        let input = IpamInput {
            cni_version: "0.2.0".into(),
            ranges: vec![vec![spec("10.0.0.0/24")], vec![spec("10.1.0.0/24")]],
            ..Default::default()
        };
        assert_eq!(
            input.normalize().unwrap_err().to_string(),
            "CNI version 0.2.0 does not support more than 1 address per family"
        );
    }

    #[test]
    fn cni_args() {
        assert_eq!(
            parse_cni_args("A=b=c").unwrap_err().to_string(),
            r#"ARGS: invalid pair "A=b=c""#
        );
        assert_eq!(
            parse_cni_args(";").unwrap_err().to_string(),
            r#"ARGS: invalid pair """#
        );
        assert_eq!(parse_cni_args("IP=").unwrap(), None);
        assert!(parse_cni_args("IP=bad").is_err());
        assert!(parse_cni_args("ip=10.0.0.1").is_err());
        assert_eq!(
            parse_cni_args("X=1;Y=2").unwrap_err().to_string(),
            r#"ARGS: unknown args ["X=1" "Y=2"]"#
        );
        assert_eq!(
            parse_cni_args("IP=10.0.0.5/24;IgnoreUnknown=TRUE;Z=1")
                .unwrap()
                .unwrap()
                .to_string(),
            "10.0.0.5"
        );
    }

    #[test]
    fn versions() {
        assert!(version_at_least("0.3.1", (0, 3, 0)));
        assert!(!version_at_least("0.2.0", (0, 3, 0)));
        assert!(!version_at_least("", (0, 3, 0)));
        assert!(!version_at_least("1.0", (0, 3, 0)));
    }
}
