//! [`Allocator`]: host-local's allocation semantics over any [`Store`].

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::RangeSet;
use crate::ip::{self, canonical};
use crate::store::{Store, StoreError};

/// One address handed out by [`Allocator::allocate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The range set it came from (its position, the cursor file's suffix).
    pub range_id: usize,
    /// The address with its range's prefix length (`10.0.0.2/24`; host bits
    /// set, as an interface address has them). Always canonical: an IPv4
    /// address is an [`IpNet::V4`].
    pub address: IpNet,
    /// The gateway of the range it came from.
    pub gateway: IpAddr,
}

impl Allocation {
    /// The address alone.
    pub fn ip(&self) -> IpAddr {
        self.address.addr()
    }
}

/// Why an allocation, release or check failed. Messages are host-local's.
#[derive(Debug)]
#[non_exhaustive]
pub enum AllocError {
    /// Every address of the set is taken.
    Exhausted {
        /// The set, as `start-end,start-end`.
        set: String,
    },
    /// (`id`, `ifname`) already holds `ip` in this set.
    Duplicate {
        /// The address it holds.
        ip: IpAddr,
        /// The container id.
        id: String,
    },
    /// The requested address is its range's gateway.
    RequestedGateway(IpAddr),
    /// The requested address is taken.
    RequestedUnavailable {
        /// The address.
        ip: IpAddr,
        /// The set, as `start-end,start-end`.
        set: String,
    },
    /// Allocation from range set `index` failed (everything this call had
    /// allocated was released).
    Range {
        /// The range set's position.
        index: usize,
        /// Why.
        source: Box<AllocError>,
    },
    /// Requested addresses that no range set contains.
    RequestedNotAllocated(Vec<IpAddr>),
    /// The store failed.
    Store(StoreError),
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocError::Exhausted { set } => {
                write!(f, "no IP addresses available in range set: {set}")
            }
            AllocError::Duplicate { ip, id } => write!(
                f,
                "{ip} has been allocated to {id}, duplicate allocation is not allowed"
            ),
            AllocError::RequestedGateway(ip) => write!(f, "requested ip {ip} is subnet's gateway"),
            AllocError::RequestedUnavailable { ip, set } => write!(
                f,
                "requested IP address {ip} is not available in range set {set}"
            ),
            AllocError::Range { index, source } => {
                write!(f, "failed to allocate for range {index}: {source}")
            }
            AllocError::RequestedNotAllocated(ips) => {
                f.write_str("failed to allocate all requested IPs:")?;
                for ip in ips {
                    write!(f, " {ip}")?;
                }
                Ok(())
            }
            AllocError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl AllocError {
    /// Whether the store could not serve (a shared store unreachable or
    /// without quorum): CNI code 11, try again later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            AllocError::Store(StoreError::Unavailable(_)) => true,
            AllocError::Range { source, .. } => source.is_unavailable(),
            _ => false,
        }
    }
}

impl std::error::Error for AllocError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AllocError::Range { source, .. } => Some(source.as_ref()),
            AllocError::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for AllocError {
    fn from(e: StoreError) -> Self {
        AllocError::Store(e)
    }
}

/// Allocates from range sets with host-local's semantics, over a [`Store`].
///
/// Every public operation holds the store's lock from start to end (host-local
/// takes it per range set; holding it across the sets makes a multi-set ADD
/// atomic with respect to other allocators, and changes nothing else).
#[derive(Debug)]
pub struct Allocator<S> {
    sets: Vec<RangeSet>,
    store: S,
}

impl<S: Store> Allocator<S> {
    /// An allocator over `sets` (in range-id order) backed by `store`.
    pub fn new(sets: Vec<RangeSet>, store: S) -> Self {
        Allocator { sets, store }
    }

    /// The range sets.
    pub fn range_sets(&self) -> &[RangeSet] {
        &self.sets
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, mutably.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Give the store back.
    pub fn into_store(self) -> S {
        self.store
    }

    fn locked<T>(
        &mut self,
        body: impl FnOnce(&[RangeSet], &mut S) -> Result<T, AllocError>,
    ) -> Result<T, AllocError> {
        self.store.lock()?;
        let out = body(&self.sets, &mut self.store);
        let unlocked = self.store.unlock();
        let out = out?;
        unlocked?;
        Ok(out)
    }

    /// host-local's ADD: one address from every range set, in order.
    ///
    /// A set containing one of `requested` gets that address (it must be in
    /// a range, not the range's gateway, and free; no duplicate check, as in
    /// host-local); any other set gets the next free address round-robin
    /// after the set's last reserved address, skipping the gateway, failing
    /// if (`id`, `ifname`) already holds an address in the set. On failure
    /// everything (`id`, `ifname`) holds is released (host-local's rollback)
    /// and the error names the set; requested addresses no set contains fail
    /// the call the same way.
    pub fn allocate(
        &mut self,
        id: &str,
        ifname: &str,
        requested: &[IpAddr],
    ) -> Result<Vec<Allocation>, AllocError> {
        let mut remaining: Vec<IpAddr> = Vec::new();
        for ip in requested.iter().copied().map(canonical) {
            if !remaining.contains(&ip) {
                remaining.push(ip);
            }
        }
        self.locked(|sets, store| {
            let mut out = Vec::with_capacity(sets.len());
            for (idx, set) in sets.iter().enumerate() {
                let req = remaining
                    .iter()
                    .position(|ip| set.contains(ip))
                    .map(|p| remaining.remove(p));
                match allocate_in_set(store, set, idx, id, ifname, req) {
                    Ok(a) => out.push(a),
                    Err(e) => {
                        rollback(store, out.len(), id, ifname);
                        return Err(AllocError::Range {
                            index: idx,
                            source: Box::new(e),
                        });
                    }
                }
            }
            if !remaining.is_empty() {
                rollback(store, out.len(), id, ifname);
                return Err(AllocError::RequestedNotAllocated(remaining));
            }
            Ok(out)
        })
    }

    /// host-local's DEL: for every range set, release what (`id`, `ifname`)
    /// holds, or failing that what the legacy owner `id` holds. Idempotent.
    /// Returns the released addresses.
    pub fn release(&mut self, id: &str, ifname: &str) -> Result<Vec<IpAddr>, AllocError> {
        self.locked(|sets, store| {
            let mut out = Vec::new();
            for _ in sets {
                out.extend(store.release_by_id(id, ifname)?);
            }
            Ok(out)
        })
    }

    /// host-local's CHECK: whether (`id`, `ifname`), or the legacy owner
    /// `id`, holds any address.
    pub fn check(&mut self, id: &str, ifname: &str) -> Result<bool, AllocError> {
        self.locked(|_, store| Ok(store.find_by_id(id, ifname)?))
    }

    /// CNI 1.1 GC: release every reservation whose owner is not among
    /// `valid` (container id, ifname) attachments. A legacy id-only
    /// reservation stays if any valid attachment has its id. Returns the
    /// released addresses.
    pub fn gc(&mut self, valid: &[(String, String)]) -> Result<Vec<IpAddr>, AllocError> {
        self.locked(|_, store| {
            let mut out = Vec::new();
            for r in store.gc_candidates()? {
                let keep = match r.ifname() {
                    Some(ifname) => valid.iter().any(|(i, n)| i.trim() == r.id() && n == ifname),
                    None => valid.iter().any(|(i, _)| i.trim() == r.id()),
                };
                if !keep && store.release_ip(r.ip)? {
                    out.push(r.ip);
                }
            }
            Ok(out)
        })
    }
}

/// host-local releases by (id, ifname) once per set allocated so far.
fn rollback<S: Store>(store: &mut S, allocated: usize, id: &str, ifname: &str) {
    for _ in 0..allocated {
        // Best effort, as in host-local: the original error is what matters.
        let _ = store.release_by_id(id, ifname);
    }
}

fn allocate_in_set<S: Store>(
    store: &mut S,
    set: &RangeSet,
    idx: usize,
    id: &str,
    ifname: &str,
    requested: Option<IpAddr>,
) -> Result<Allocation, AllocError> {
    let ranges = set.ranges();
    if let Some(ip) = requested {
        let Some(r) = set.range_for(&ip) else {
            // The caller only passes addresses the set contains.
            return Err(AllocError::RequestedUnavailable {
                ip,
                set: set.to_string(),
            });
        };
        if ip == r.gateway() {
            return Err(AllocError::RequestedGateway(ip));
        }
        if !store.reserve(id, ifname, ip, idx)? {
            return Err(AllocError::RequestedUnavailable {
                ip,
                set: set.to_string(),
            });
        }
        return Ok(Allocation {
            range_id: idx,
            address: ip::net(ip, r.subnet().prefix_len()),
            gateway: r.gateway(),
        });
    }

    // Duplicate refusal; host-local reports the first match in file-name
    // order.
    let mut held: Vec<IpAddr> = store
        .get_by_id(id, ifname)?
        .into_iter()
        .filter(|ip| set.contains(ip))
        .collect();
    held.sort_by_key(|ip| ip.to_string());
    if let Some(ip) = held.first() {
        return Err(AllocError::Duplicate {
            ip: *ip,
            id: id.to_string(),
        });
    }

    // host-local's iteration order as segments: after the cursor to the end
    // of its range, every other range in order (wrapping), then the start of
    // the cursor's range up to the cursor itself (tried last).
    let cursor = store
        .last_reserved_ip(idx)?
        .and_then(|c| ranges.iter().position(|r| r.contains(&c)).map(|i| (i, c)));
    let mut segments: Vec<(usize, IpAddr, IpAddr)> = Vec::with_capacity(ranges.len() + 1);
    match cursor {
        Some((i, last)) => {
            let r = &ranges[i];
            if let Some(n) = ip::next(last).filter(|n| r.contains(n)) {
                segments.push((i, n, r.range_end()));
            }
            for k in 1..ranges.len() {
                let j = (i + k) % ranges.len();
                segments.push((j, ranges[j].range_start(), ranges[j].range_end()));
            }
            segments.push((i, r.range_start(), last));
        }
        None => {
            for (j, r) in ranges.iter().enumerate() {
                segments.push((j, r.range_start(), r.range_end()));
            }
        }
    }

    for pass in [Pass::Index, Pass::Recheck] {
        for &(j, lo, hi) in &segments {
            if let Some(a) = first_reservable(store, pass, &ranges[j], idx, id, ifname, lo, hi)? {
                return Ok(a);
            }
        }
    }
    Err(AllocError::Exhausted {
        set: set.to_string(),
    })
}

/// How [`first_reservable`] finds free addresses: through the store's
/// `next_free`, or (when that found none in the whole set) its
/// `recheck_free`.
#[derive(Clone, Copy)]
enum Pass {
    Index,
    Recheck,
}

/// Reserve the first free address of `lo..=hi` in range `r` that is not its
/// gateway and that nobody takes first.
#[allow(clippy::too_many_arguments)]
fn first_reservable<S: Store>(
    store: &mut S,
    pass: Pass,
    r: &crate::config::Range,
    idx: usize,
    id: &str,
    ifname: &str,
    lo: IpAddr,
    hi: IpAddr,
) -> Result<Option<Allocation>, AllocError> {
    let mut from = lo;
    loop {
        let found = match pass {
            Pass::Index => store.next_free(from, hi)?,
            Pass::Recheck => store.recheck_free(from, hi)?,
        };
        let Some(candidate) = found else { break };
        if candidate != r.gateway() && store.reserve(id, ifname, candidate, idx)? {
            return Ok(Some(Allocation {
                range_id: idx,
                address: ip::net(candidate, r.subnet().prefix_len()),
                gateway: r.gateway(),
            }));
        }
        // The gateway, or taken behind the index's back: move on.
        match ip::next(candidate) {
            Some(n) if ip::to_u128(n) <= ip::to_u128(hi) => from = n,
            _ => break,
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RangeSpec;
    use crate::ip::parse_cidr;
    use crate::store::MemoryStore;

    #[test]
    fn mapped_requests_are_ipv4() {
        let set = RangeSet::new(&[RangeSpec::new(parse_cidr("10.0.0.0/29").unwrap())]).unwrap();
        let mut a = Allocator::new(vec![set], MemoryStore::new());
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().unwrap();
        let got = a.allocate("c1", "eth0", &[mapped]).unwrap();
        assert!(matches!(got[0].address, IpNet::V4(_)));
        assert_eq!(got[0].address.to_string(), "10.0.0.5/29");
        assert_eq!(got[0].ip().to_string(), "10.0.0.5");
        let got = a.allocate("c2", "eth0", &[]).unwrap();
        assert_eq!(got[0].address.to_string(), "10.0.0.6/29");
        let e = a.allocate("c3", "eth0", &[mapped]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to allocate for range 0: requested IP address 10.0.0.5 is not available in range set 10.0.0.1-10.0.0.6"
        );
    }
}
