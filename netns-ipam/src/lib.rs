//! IP address management with the semantics and on-disk format of the CNI
//! reference `host-local` plugin.
//!
//! - [`IpamInput`] / [`IpamConfig`]: host-local's IPAM configuration (range
//!   sets, the legacy single range, routes, dataDir, resolvConf, requested
//!   addresses from CNI_ARGS, `args.cni.ips` and `runtimeConfig.ips`) with its
//!   normalisation, defaults and rejections. With the default `json` feature,
//!   [`json::parse_ipam_config`] reads it from a network config.
//! - [`Allocator`]: allocation, release, check and GC over range sets, in
//!   host-local's order (round-robin after the last reserved address, wrapping
//!   across the ranges of a set, gateway skipped, the last reserved address
//!   tried last), with its duplicate refusal and requested-address rules.
//! - [`Store`]: where reservations live. [`MemoryStore`] keeps them in memory;
//!   [`FileStore`] is host-local's data directory byte for byte and can share
//!   it with a running host-local. Both answer "next free address" from an
//!   index of runs of taken addresses, so allocation costs the same in an
//!   empty range and in a full one.
//!
//! This crate does no I/O outside [`FileStore`] (module `file`).
//!
//! # Prefixes
//!
//! Prefixes are [`ipnet::IpNet`]s (re-exported as [`IpNet`], [`Ipv4Net`],
//! [`Ipv6Net`]), the type netns-core uses too, so allocations and routes go
//! to it without conversion. Where ipnet's semantics differ from what
//! host-local needs, we validate/convert at the edge:
//!
//! - Config text is parsed with [`parse_cidr`] (Go's `net.ParseCIDR`), not
//!   ipnet's `FromStr`: it allows leading zeros in the prefix length
//!   (`10.0.0.0/024`) and rejects IPv4-mapped IPv6 addresses
//!   (`::ffff:10.0.0.0/120`) and leading zeros in an IPv4 octet
//!   (`010.0.0.0/24`), where ipnet does the opposite.
//! - Every [`IpNet`] the crate produces holds a canonical address: IPv4 as
//!   [`IpNet::V4`], never IPv4-mapped IPv6. A [`RangeSpec`] subnet holding
//!   an IPv4-mapped address is rejected ([`ConfigError::MappedSubnet`]).
//! - Addresses taken from the caller (requested addresses, range bounds and
//!   gateways, `contains` queries, store operations) are canonicalised
//!   (`::ffff:10.0.0.1` is `10.0.0.1`, as Go's `To4` makes it) before they
//!   are compared with a prefix: ipnet's `contains` says an IPv4-mapped IPv6
//!   address is not in an IPv4 prefix, Go's `IPNet.Contains` says it is.
//! - Prefixes keep the address as written ([`IpNet::new`] does not truncate):
//!   an [`IpamRoute::dst`] may have host bits set, as host-local echoes it;
//!   [`IpNet::trunc`] clears them.
//!
//! # Examples
//!
//! A /30 has two usable addresses, .1 (the default gateway, never handed
//! out) and .2:
//!
//! ```
//! use netns_ipam::{parse_cidr, Allocator, AllocError, MemoryStore, RangeSet, RangeSpec};
//! let set = RangeSet::new(&[RangeSpec::new(parse_cidr("10.0.0.0/30")?)])?;
//! let mut a = Allocator::new(vec![set], MemoryStore::new());
//! let got = a.allocate("c1", "eth0", &[])?;
//! assert_eq!(got[0].address.to_string(), "10.0.0.2/30");
//! assert_eq!(got[0].gateway.to_string(), "10.0.0.1");
//! // Exhausted set:
//! let e = a.allocate("c2", "eth0", &[]).unwrap_err();
//! assert_eq!(e.to_string(),
//!     "failed to allocate for range 0: no IP addresses available in range set: 10.0.0.1-10.0.0.2");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Round-robin on a /29: a released address is handed out again only after
//! every other one, and a second ADD for the same (id, ifname) is refused:
//!
//! ```
//! use netns_ipam::{parse_cidr, Allocator, MemoryStore, RangeSet, RangeSpec};
//! let set = RangeSet::new(&[RangeSpec::new(parse_cidr("10.0.0.0/29")?)])?;
//! let mut a = Allocator::new(vec![set], MemoryStore::new());
//! let ip = |a: &mut Allocator<MemoryStore>, id: &str| -> String {
//!     a.allocate(id, "eth0", &[]).map(|v| v[0].ip().to_string()).unwrap_or_else(|e| e.to_string())
//! };
//! assert_eq!(ip(&mut a, "c1"), "10.0.0.2");
//! assert_eq!(ip(&mut a, "c2"), "10.0.0.3");
//! a.release("c1", "eth0")?;
//! assert_eq!(ip(&mut a, "c3"), "10.0.0.4");
//! assert_eq!(ip(&mut a, "c2"),
//!     "failed to allocate for range 0: 10.0.0.3 has been allocated to c2, duplicate allocation is not allowed");
//! for id in ["c4", "c5"] { ip(&mut a, id); }        // .5, .6
//! assert_eq!(ip(&mut a, "c6"), "10.0.0.2");          // wrapped around
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! IPv6 /126 (the last address is usable: no broadcast), rangeStart = rangeEnd,
//! and requesting the gateway:
//!
//! ```
//! use netns_ipam::{parse_cidr, Allocator, MemoryStore, RangeSet, RangeSpec};
//! let v6 = RangeSet::new(&[RangeSpec::new(parse_cidr("2001:db8::/126")?)])?;
//! assert_eq!(v6.to_string(), "2001:db8::1-2001:db8::3");
//! let mut one = RangeSpec::new(parse_cidr("10.0.0.0/24")?);
//! one.range_start = Some("10.0.0.9".parse()?);
//! one.range_end = Some("10.0.0.9".parse()?);
//! let mut a = Allocator::new(vec![v6, RangeSet::new(&[one])?], MemoryStore::new());
//! let got = a.allocate("c1", "eth0", &[])?;
//! assert_eq!(got[0].address.to_string(), "2001:db8::2/126");
//! assert_eq!(got[1].address.to_string(), "10.0.0.9/24");
//! // The single address is taken: the second ADD fails on set 1 and gives
//! // back what it took in set 0.
//! assert!(a.allocate("c2", "eth0", &[]).is_err());
//! assert_eq!(a.store().len(), 2);
//! a.release("c1", "eth0")?;
//! let e = a.allocate("c2", "eth0", &["2001:db8::1".parse()?]).unwrap_err();
//! assert_eq!(e.to_string(), "failed to allocate for range 0: requested ip 2001:db8::1 is subnet's gateway");
//! let got = a.allocate("c2", "eth0", &["2001:db8::3".parse()?])?;
//! assert_eq!(got[0].ip().to_string(), "2001:db8::3");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod allocator;
mod config;
mod diskindex;
#[cfg(feature = "etcd")]
pub mod etcd;
pub mod file;
pub mod gojson;
mod ip;
#[cfg(feature = "json")]
pub mod json;
mod store;

pub use allocator::{AllocError, Allocation, Allocator};
pub use config::{
    parse_cni_args, parse_ip_or_cidr, parse_version, version_at_least, ConfigError, IpamConfig,
    IpamInput, IpamRoute, Range, RangeSet, RangeSpec, DEFAULT_DATA_DIR,
};
pub use file::FileStore;
pub use ip::{parse_cidr, parse_ip, CidrParseError, Family};
pub use ipnet::{IpNet, Ipv4Net, Ipv6Net};
pub use store::{go_os_message, owner_key, MemoryStore, Reservation, Store, StoreError};

// The unit tests are pure: the VM tier leaves their binary out (what
// `netns_testutil::host_only!` expands to; this crate does not depend on
// netns-testutil).
#[cfg(test)]
#[used]
static NETNS_VM_TIER_HOST_ONLY: &str =
    "NETNS_VM_TIER=host-only: unit tests of pure IPAM code, no kernel involved\0";

/// This crate's README example is compiled as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct CrateReadmeDoctests;
