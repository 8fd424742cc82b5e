//! The [`Store`] trait, the in-memory index shared by the stores, and
//! [`MemoryStore`].

use crate::diskindex::OwnerSrc;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::ip::{self, Family};

/// The owner string host-local writes into a reservation file:
/// `ID\r\nIFNAME`, the id trimmed of surrounding whitespace.
///
/// ```
/// assert_eq!(netns_ipam::owner_key("c1", "eth0"), "c1\r\neth0");
/// ```
pub fn owner_key(id: &str, ifname: &str) -> String {
    format!("{}\r\n{}", id.trim(), ifname)
}

/// One reserved address and its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The address.
    pub ip: IpAddr,
    /// The owner as stored (trimmed): `ID\r\nIFNAME`, or `ID` alone for a
    /// reservation written by an old host-local.
    pub owner: String,
}

impl Reservation {
    /// The container id.
    pub fn id(&self) -> &str {
        self.owner
            .split_once("\r\n")
            .map_or(&self.owner, |(id, _)| id)
    }

    /// The interface name, `None` for a legacy id-only reservation.
    pub fn ifname(&self) -> Option<&str> {
        self.owner.split_once("\r\n").map(|(_, ifname)| ifname)
    }
}

/// A store failure: an I/O error with the operation and the path, or an
/// unusable network name.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O operation failed.
    Io {
        /// What was being done (`create`, `write`, `rename`, `flock`...).
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The network name cannot name a directory (empty, `.`, `..`, or
    /// containing `/` or NUL).
    InvalidNetworkName(String),
    /// An entry the store must own is not a regular file (or, for the
    /// network's directory, not a directory): a symlink, FIFO or device
    /// planted in the data directory. Nothing was followed or opened.
    NotRegular {
        /// The entry.
        path: PathBuf,
        /// What it is instead (`symbolic link`, `fifo`...).
        found: &'static str,
    },
    /// A shared store (etcd) cannot serve now: unreachable, no leader, no
    /// quorum, timed out. Nothing was changed by the failed operation; try
    /// again later (CNI code 11). The text names every endpoint tried.
    Unavailable(String),
    /// A shared store refused the request or answered what cannot be read.
    Remote(String),
}

impl StoreError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io { op, path, source } => {
                write!(f, "{op} {}: {}", path.display(), go_os_message(source))
            }
            StoreError::InvalidNetworkName(n) => write!(f, "invalid network name {n:?}"),
            StoreError::NotRegular { path, found } => write!(
                f,
                "{}: is a {found}, not what the store made: refusing to follow or open it",
                path.display()
            ),
            StoreError::Unavailable(m) | StoreError::Remote(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io { source, .. } => Some(source),
            StoreError::InvalidNetworkName(_)
            | StoreError::NotRegular { .. }
            | StoreError::Unavailable(_)
            | StoreError::Remote(_) => None,
        }
    }
}

/// An OS error worded as Go words it (`no such file or directory`), so the
/// plugin's messages read like host-local's.
pub fn go_os_message(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.rfind(" (os error ") {
        Some(i) if e.raw_os_error().is_some() => text[..i].to_string(),
        _ => text,
    };
    let mut c = text.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => text,
    }
}

/// Where reservations live. The primitives are small; the host-local
/// semantics built on them (two-pass release, legacy owners) are provided
/// methods, so every store behaves the same.
///
/// Every method but [`Store::lock`] is called with the lock held.
pub trait Store {
    /// Take the store's exclusive lock (host-local: `flock` on `lock`).
    fn lock(&mut self) -> Result<(), StoreError>;

    /// Release the lock.
    fn unlock(&mut self) -> Result<(), StoreError>;

    /// Reserve `ip` for (`id`, `ifname`) and record it as the last reserved
    /// address of range set `range_id`. `Ok(false)` if it is already taken.
    /// On error nothing is reserved.
    fn reserve(
        &mut self,
        id: &str,
        ifname: &str,
        ip: IpAddr,
        range_id: usize,
    ) -> Result<bool, StoreError>;

    /// The last address reserved in range set `range_id`, if any.
    fn last_reserved_ip(&mut self, range_id: usize) -> Result<Option<IpAddr>, StoreError>;

    /// Remove the reservation of `ip`; `Ok(false)` if there was none.
    fn release_ip(&mut self, ip: IpAddr) -> Result<bool, StoreError>;

    /// The addresses whose stored owner is exactly `owner`, in order.
    fn ips_of_owner(&mut self, owner: &str) -> Result<Vec<IpAddr>, StoreError>;

    /// The first address in `from..=to` (one family) that is not reserved.
    fn next_free(&mut self, from: IpAddr, to: IpAddr) -> Result<Option<IpAddr>, StoreError>;

    /// Called only when [`Store::next_free`] found nothing free anywhere in
    /// a range set: a store whose `next_free` reads a summary that a
    /// foreign write can leave wrong (EtcdStore's block bitmaps) looks for
    /// a free address in `from..=to` again in the reservations themselves.
    /// Stores whose `next_free` is exact answer `None`.
    fn recheck_free(&mut self, from: IpAddr, to: IpAddr) -> Result<Option<IpAddr>, StoreError> {
        let _ = (from, to);
        Ok(None)
    }

    /// Every reservation, in address order.
    fn reservations(&mut self) -> Result<Vec<Reservation>, StoreError>;

    /// The reservations GC may release when their attachment is not valid:
    /// every reservation, unless the store is shared by nodes, whose GC sees
    /// only its own node's.
    fn gc_candidates(&mut self) -> Result<Vec<Reservation>, StoreError> {
        self.reservations()
    }

    /// host-local's `GetByID`: the addresses owned by (`id`, `ifname`) or by
    /// the legacy owner `id`.
    fn get_by_id(&mut self, id: &str, ifname: &str) -> Result<Vec<IpAddr>, StoreError> {
        let mut out = self.ips_of_owner(&owner_key(id, ifname))?;
        out.extend(self.ips_of_owner(id.trim())?);
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// host-local's `FindByID`: whether (`id`, `ifname`) or the legacy owner
    /// `id` holds anything.
    fn find_by_id(&mut self, id: &str, ifname: &str) -> Result<bool, StoreError> {
        Ok(!self.ips_of_owner(&owner_key(id, ifname))?.is_empty()
            || !self.ips_of_owner(id.trim())?.is_empty())
    }

    /// host-local's `ReleaseByID`: release everything owned by (`id`,
    /// `ifname`); only if there was nothing, release what the legacy owner
    /// `id` holds. Returns the released addresses.
    fn release_by_id(&mut self, id: &str, ifname: &str) -> Result<Vec<IpAddr>, StoreError> {
        release_by_id_in(self, id, ifname)
    }
}

/// [`Store::release_by_id`]'s semantics, for stores that wrap it.
pub(crate) fn release_by_id_in<S: Store + ?Sized>(
    s: &mut S,
    id: &str,
    ifname: &str,
) -> Result<Vec<IpAddr>, StoreError> {
    let mut released = Vec::new();
    for ip in s.ips_of_owner(&owner_key(id, ifname))? {
        if s.release_ip(ip)? {
            released.push(ip);
        }
    }
    if released.is_empty() {
        for ip in s.ips_of_owner(id.trim())? {
            if s.release_ip(ip)? {
                released.push(ip);
            }
        }
    }
    Ok(released)
}

/// Maximal runs of taken addresses: `start -> end`, inclusive, disjoint and
/// never adjacent, so the first free address at or after `x` is one lookup.
#[derive(Debug, Default, Clone)]
struct Intervals(BTreeMap<u128, u128>);

impl Intervals {
    fn containing(&self, v: u128) -> Option<(u128, u128)> {
        self.0
            .range(..=v)
            .next_back()
            .filter(|(_, &e)| e >= v)
            .map(|(&s, &e)| (s, e))
    }

    fn insert(&mut self, v: u128) {
        if self.containing(v).is_some() {
            return;
        }
        let left = v
            .checked_sub(1)
            .and_then(|p| self.containing(p))
            .map(|(s, _)| s);
        let right = v
            .checked_add(1)
            .and_then(|n| self.0.get(&n).map(|&e| (n, e)));
        let start = left.unwrap_or(v);
        let end = match right {
            Some((n, e)) => {
                self.0.remove(&n);
                e
            }
            None => v,
        };
        self.0.insert(start, end);
    }

    fn remove(&mut self, v: u128) {
        let Some((s, e)) = self.containing(v) else {
            return;
        };
        self.0.remove(&s);
        if s < v {
            self.0.insert(s, v - 1);
        }
        if v < e {
            self.0.insert(v + 1, e);
        }
    }

    fn next_free(&self, from: u128, to: u128) -> Option<u128> {
        if from > to {
            return None;
        }
        let x = match self.containing(from) {
            Some((_, e)) => e.checked_add(1)?,
            None => from,
        };
        (x <= to).then_some(x)
    }
}

/// A fast, deterministic hasher (FxHash's mixing) for the index's maps: their
/// keys are addresses and owner strings, and SipHash's cost dominated
/// building an index of thousands of entries in a one-shot process.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

/// A map keyed by address, in one of two shapes: sorted, as a persistent
/// index holds its entries (a one-shot process loads it with no hashing
/// and makes a change or two by insertion), or hashed, for a long-lived
/// store. A sorted map becomes a hashed one after [`AddrMap::SORTED_CHANGES`]
/// changes.
#[derive(Debug, Clone)]
pub(crate) enum AddrMap<V> {
    /// In strictly increasing address order; the changes made so far.
    Sorted(Vec<(IpAddr, V)>, usize),
    Hashed(FastMap<IpAddr, V>),
}

impl<V> Default for AddrMap<V> {
    fn default() -> Self {
        AddrMap::Hashed(FastMap::default())
    }
}

impl<V> AddrMap<V> {
    const SORTED_CHANGES: usize = 64;

    /// A map of `entries`, which must be in strictly increasing address
    /// order.
    pub(crate) fn from_sorted(entries: Vec<(IpAddr, V)>) -> Self {
        AddrMap::Sorted(entries, 0)
    }

    pub(crate) fn get(&self, ip: &IpAddr) -> Option<&V> {
        match self {
            AddrMap::Sorted(v, _) => v.binary_search_by(|(k, _)| k.cmp(ip)).ok().map(|i| &v[i].1),
            AddrMap::Hashed(m) => m.get(ip),
        }
    }

    pub(crate) fn contains_key(&self, ip: &IpAddr) -> bool {
        self.get(ip).is_some()
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            AddrMap::Sorted(v, _) => v.len(),
            AddrMap::Hashed(m) => m.len(),
        }
    }

    /// Counts a change of a sorted map; past the limit, hash it.
    fn changing(&mut self) {
        if let AddrMap::Sorted(v, n) = self {
            *n += 1;
            if *n > Self::SORTED_CHANGES {
                let m: FastMap<IpAddr, V> = std::mem::take(v).into_iter().collect();
                *self = AddrMap::Hashed(m);
            }
        }
    }

    pub(crate) fn insert(&mut self, ip: IpAddr, value: V) -> Option<V> {
        self.changing();
        match self {
            AddrMap::Sorted(v, _) => match v.binary_search_by(|(k, _)| k.cmp(&ip)) {
                Ok(i) => Some(std::mem::replace(&mut v[i].1, value)),
                Err(i) => {
                    v.insert(i, (ip, value));
                    None
                }
            },
            AddrMap::Hashed(m) => m.insert(ip, value),
        }
    }

    pub(crate) fn remove(&mut self, ip: &IpAddr) -> Option<V> {
        if !self.contains_key(ip) {
            return None;
        }
        self.changing();
        match self {
            AddrMap::Sorted(v, _) => v
                .binary_search_by(|(k, _)| k.cmp(ip))
                .ok()
                .map(|i| v.remove(i).1),
            AddrMap::Hashed(m) => m.remove(ip),
        }
    }

    pub(crate) fn clear(&mut self) {
        *self = AddrMap::default();
    }

    /// Every entry, in address order when sorted, any order when hashed.
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = (&IpAddr, &V)> + '_> {
        match self {
            AddrMap::Sorted(v, _) => Box::new(v.iter().map(|(k, v)| (k, v))),
            AddrMap::Hashed(m) => Box::new(m.iter()),
        }
    }
}

/// A sorted set of addresses, with no allocation for the usual one.
#[derive(Debug, Clone)]
enum Ips {
    One(IpAddr),
    Many(Vec<IpAddr>),
}

impl Ips {
    fn as_slice(&self) -> &[IpAddr] {
        match self {
            Ips::One(ip) => std::slice::from_ref(ip),
            Ips::Many(v) => v,
        }
    }

    fn insert(&mut self, ip: IpAddr) {
        let mut v = match self {
            Ips::One(a) if *a == ip => return,
            Ips::One(a) => vec![*a],
            Ips::Many(v) => std::mem::take(v),
        };
        if let Err(at) = v.binary_search(&ip) {
            v.insert(at, ip);
        }
        *self = Ips::Many(v);
    }

    /// Remove `ip`; whether the set is now empty.
    fn remove(&mut self, ip: &IpAddr) -> bool {
        match self {
            Ips::One(a) => a == ip,
            Ips::Many(v) => {
                if let Ok(at) = v.binary_search(ip) {
                    v.remove(at);
                }
                v.is_empty()
            }
        }
    }
}

fn owner_hash(owner: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = FastHasher::default();
    h.write(owner.as_bytes());
    h.finish()
}

/// An owner string in an [`Index`]: a range of the index's blob (the
/// owners of a loaded persistent index stay in the one string they were
/// read into), or a string of its own.
#[derive(Debug, Clone)]
enum Owner {
    Blob(u32, u32),
    Own(Box<str>),
}

/// The in-memory view of a store's reservations: by address, by owner, and
/// as runs of taken addresses. Every operation is O(log n).
#[derive(Debug, Clone)]
pub(crate) struct Index {
    /// XOR of a hash of every (address, owner): equal before and after a
    /// lock iff the reservations are the same set (with overwhelming
    /// probability), whatever was done and undone in between. Relative
    /// only: an index loaded from a persistent one starts from 0.
    sig: u64,
    /// The owners [`Owner::Blob`] refers into.
    blob: String,
    by_ip: AddrMap<Owner>,
    /// Owner hash -> the addresses of the owners with that hash, sorted
    /// (no copy of the owner string: `by_ip` tells colliding owners apart).
    /// `None` in an index loaded from a persistent one ([`Index::from_disk`]):
    /// a one-shot process asks for an owner's addresses once or twice, which
    /// a scan of `by_ip` answers for less than building the map costs.
    by_owner: Option<FastMap<u64, Ips>>,
    taken_v4: Intervals,
    taken_v6: Intervals,
}

impl Default for Index {
    fn default() -> Index {
        Index {
            sig: 0,
            blob: String::new(),
            by_ip: AddrMap::default(),
            by_owner: Some(FastMap::default()),
            taken_v4: Intervals::default(),
            taken_v6: Intervals::default(),
        }
    }
}

impl Index {
    fn taken(&mut self, f: Family) -> &mut Intervals {
        match f {
            Family::V4 => &mut self.taken_v4,
            Family::V6 => &mut self.taken_v6,
        }
    }

    fn owner_of<'a>(blob: &'a str, o: &'a Owner) -> &'a str {
        match o {
            Owner::Blob(off, len) => {
                let (off, len) = (*off as usize, *len as usize);
                blob.get(off..off.saturating_add(len)).unwrap_or("")
            }
            Owner::Own(s) => s,
        }
    }

    /// The owner of `ip`, if reserved.
    pub(crate) fn owner(&self, ip: &IpAddr) -> Option<&str> {
        self.by_ip.get(ip).map(|o| Self::owner_of(&self.blob, o))
    }

    /// An index of a persistent one's entries: (address, owner's offset
    /// and length in `blob`), in strictly increasing address order, every
    /// range in `blob` on character boundaries. The runs are built in one
    /// pass; no owner is copied or hashed.
    pub(crate) fn from_disk(
        blob: String,
        entries: impl ExactSizeIterator<Item = (IpAddr, u32, u32)>,
    ) -> Index {
        let mut sorted: Vec<(IpAddr, Owner)> = Vec::with_capacity(entries.len());
        let mut v4: Vec<(u128, u128)> = Vec::new();
        let mut v6: Vec<(u128, u128)> = Vec::new();
        for (ip, off, len) in entries {
            let v = ip::to_u128(ip);
            let runs = match Family::of(&ip) {
                Family::V4 => &mut v4,
                Family::V6 => &mut v6,
            };
            match runs.last_mut() {
                Some((_, e)) if e.checked_add(1) == Some(v) => *e = v,
                _ => runs.push((v, v)),
            }
            sorted.push((ip, Owner::Blob(off, len)));
        }
        Index {
            sig: 0,
            blob,
            by_ip: AddrMap::from_sorted(sorted),
            by_owner: None,
            taken_v4: Intervals(v4.into_iter().collect()),
            taken_v6: Intervals(v6.into_iter().collect()),
        }
    }

    /// An empty index whose [`Index::insert_from_blob`] owners are ranges
    /// of `blob`.
    pub(crate) fn with_blob(blob: String) -> Index {
        Index {
            blob,
            ..Index::default()
        }
    }

    pub(crate) fn clear(&mut self) {
        *self = Index::default();
    }

    pub(crate) fn contains(&self, ip: &IpAddr) -> bool {
        self.by_ip.contains_key(ip)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_ip.len()
    }

    pub(crate) fn sig(&self) -> u64 {
        self.sig
    }

    fn entry_hash(ip: &IpAddr, owner: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        // Compared within one process only; any deterministic hash will do.
        let mut h = FastHasher::default();
        ip.hash(&mut h);
        owner.hash(&mut h);
        h.finish()
    }

    /// Record `ip` as owned by `owner`, replacing any previous owner.
    pub(crate) fn insert(&mut self, ip: IpAddr, owner: String) {
        self.insert_owner(ip, Owner::Own(owner.into_boxed_str()));
    }

    /// Record `ip` as owned by the owner at `off`, `len` of the blob given
    /// to [`Index::with_blob`] (a range on character boundaries).
    pub(crate) fn insert_from_blob(&mut self, ip: IpAddr, off: u32, len: u32) {
        self.insert_owner(ip, Owner::Blob(off, len));
    }

    fn insert_owner(&mut self, ip: IpAddr, owner: Owner) {
        self.remove(&ip);
        let o = Self::owner_of(&self.blob, &owner);
        self.sig ^= Self::entry_hash(&ip, o);
        if let Some(by_owner) = &mut self.by_owner {
            match by_owner.entry(owner_hash(o)) {
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(Ips::One(ip));
                }
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().insert(ip),
            }
        }
        self.by_ip.insert(ip, owner);
        let v = ip::to_u128(ip);
        self.taken(Family::of(&ip)).insert(v);
    }

    pub(crate) fn remove(&mut self, ip: &IpAddr) -> bool {
        let Some(owner) = self.by_ip.remove(ip) else {
            return false;
        };
        let o = Self::owner_of(&self.blob, &owner);
        self.sig ^= Self::entry_hash(ip, o);
        if let Some(by_owner) = &mut self.by_owner {
            let h = owner_hash(o);
            if by_owner.get_mut(&h).is_some_and(|list| list.remove(ip)) {
                by_owner.remove(&h);
            }
        }
        let v = ip::to_u128(*ip);
        self.taken(Family::of(ip)).remove(v);
        true
    }

    pub(crate) fn ips_of_owner(&self, owner: &str) -> Vec<IpAddr> {
        let Some(by_owner) = &self.by_owner else {
            let is = |o: &Owner| match o {
                // The length first: most owners differ in it or early on.
                Owner::Blob(_, len) => {
                    *len as usize == owner.len() && Self::owner_of(&self.blob, o) == owner
                }
                Owner::Own(s) => &**s == owner,
            };
            if let AddrMap::Sorted(v, _) = &self.by_ip {
                return v.iter().filter(|(_, o)| is(o)).map(|(ip, _)| *ip).collect();
            }
            let mut out: Vec<IpAddr> = self
                .by_ip
                .iter()
                .filter(|(_, o)| is(o))
                .map(|(ip, _)| *ip)
                .collect();
            out.sort_unstable();
            return out;
        };
        by_owner
            .get(&owner_hash(owner))
            .map(|list| {
                list.as_slice()
                    .iter()
                    .copied()
                    .filter(|ip| self.owner(ip) == Some(owner))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn next_free(&self, from: IpAddr, to: IpAddr) -> Option<IpAddr> {
        let f = Family::of(&from);
        if Family::of(&to) != f {
            return None;
        }
        let taken = match f {
            Family::V4 => &self.taken_v4,
            Family::V6 => &self.taken_v6,
        };
        taken
            .next_free(ip::to_u128(from), ip::to_u128(to))
            .map(|v| ip::from_u128(f, v))
    }

    /// Every (address, owner), in address order, without copying owners:
    /// read off the runs of taken addresses (already in order: IPv4 sorts
    /// before IPv6), so no sort.
    fn sorted_owners(&self) -> Vec<(IpAddr, &Owner)> {
        if let AddrMap::Sorted(v, _) = &self.by_ip {
            return v.iter().map(|(ip, o)| (*ip, o)).collect();
        }
        let mut out: Vec<(IpAddr, &Owner)> = Vec::with_capacity(self.by_ip.len());
        for (f, runs) in [(Family::V4, &self.taken_v4), (Family::V6, &self.taken_v6)] {
            for (&start, &end) in &runs.0 {
                let mut v = start;
                loop {
                    let ip = ip::from_u128(f, v);
                    if let Some(o) = self.by_ip.get(&ip) {
                        out.push((ip, o));
                    }
                    if v == end {
                        break;
                    }
                    v += 1;
                }
            }
        }
        if out.len() != self.by_ip.len() {
            // The runs and the map disagree (they never should): the map
            // is the truth.
            out = self.by_ip.iter().map(|(ip, o)| (*ip, o)).collect();
            out.sort_unstable_by_key(|e| e.0);
        }
        out
    }

    /// The index as [`diskindex::encode`](crate::diskindex::encode) takes
    /// it: the blob to write as it is, and every entry in address order
    /// with where its owner is. The blob is kept while at least half of it
    /// is the owners of current entries; otherwise every owner is copied
    /// out of it (compacted).
    pub(crate) fn disk_entries(&self) -> (&str, Vec<(IpAddr, OwnerSrc<'_>)>) {
        let blob_len = |o: &Owner| match o {
            Owner::Blob(_, len) => *len as usize,
            Owner::Own(_) => 0,
        };
        let live: usize = match &self.by_ip {
            AddrMap::Sorted(v, _) => v.iter().map(|(_, o)| blob_len(o)).sum(),
            AddrMap::Hashed(m) => m.values().map(blob_len).sum(),
        };
        let keep = live.saturating_mul(2) >= self.blob.len();
        fn src<'a>(blob: &'a str, keep: bool, o: &'a Owner) -> OwnerSrc<'a> {
            match o {
                Owner::Blob(off, len) if keep => OwnerSrc::Blob(*off, *len),
                _ => OwnerSrc::Str(Index::owner_of(blob, o)),
            }
        }
        let src = |o| src(&self.blob, keep, o);
        let out = match &self.by_ip {
            AddrMap::Sorted(v, _) => v.iter().map(|(ip, o)| (*ip, src(o))).collect(),
            AddrMap::Hashed(_) => self
                .sorted_owners()
                .into_iter()
                .map(|(ip, o)| (ip, src(o)))
                .collect(),
        };
        (if keep { &self.blob } else { "" }, out)
    }

    pub(crate) fn reservations(&self) -> Vec<Reservation> {
        let mut out: Vec<Reservation> = self
            .by_ip
            .iter()
            .map(|(ip, owner)| Reservation {
                ip: *ip,
                owner: Self::owner_of(&self.blob, owner).to_string(),
            })
            .collect();
        out.sort_by_key(|r| r.ip);
        out
    }
}

/// A store in memory: for tests, embedding, and as the reference the file
/// store is checked against. Locking is a no-op (use it from one thread, or
/// wrap it).
///
/// ```
/// use netns_ipam::{MemoryStore, Store};
/// let mut s = MemoryStore::new();
/// let ip = "10.0.0.5".parse()?;
/// assert!(s.reserve("c1", "eth0", ip, 0)?);
/// assert!(!s.reserve("c2", "eth0", ip, 0)?);
/// assert_eq!(s.last_reserved_ip(0)?, Some(ip));
/// assert_eq!(s.release_by_id("c1", "eth0")?, vec![ip]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    index: Index,
    cursors: HashMap<usize, IpAddr>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Insert a reservation with an arbitrary owner string (e.g. a legacy
    /// id-only owner), replacing any existing one.
    pub fn insert_raw(&mut self, ip: IpAddr, owner: &str) {
        self.index
            .insert(ip::canonical(ip), owner.trim().to_string());
    }

    /// Set the cursor of range set `range_id`.
    pub fn set_last_reserved_ip(&mut self, range_id: usize, ip: Option<IpAddr>) {
        match ip {
            Some(ip) => self.cursors.insert(range_id, ip),
            None => self.cursors.remove(&range_id),
        };
    }

    /// Number of reservations.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether nothing is reserved.
    pub fn is_empty(&self) -> bool {
        self.index.len() == 0
    }
}

impl Store for MemoryStore {
    fn lock(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn unlock(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn reserve(
        &mut self,
        id: &str,
        ifname: &str,
        ip: IpAddr,
        range_id: usize,
    ) -> Result<bool, StoreError> {
        let ip = ip::canonical(ip);
        if self.index.contains(&ip) {
            return Ok(false);
        }
        self.index.insert(ip, owner_key(id, ifname));
        self.cursors.insert(range_id, ip);
        Ok(true)
    }

    fn last_reserved_ip(&mut self, range_id: usize) -> Result<Option<IpAddr>, StoreError> {
        Ok(self.cursors.get(&range_id).copied())
    }

    fn release_ip(&mut self, ip: IpAddr) -> Result<bool, StoreError> {
        Ok(self.index.remove(&ip::canonical(ip)))
    }

    fn ips_of_owner(&mut self, owner: &str) -> Result<Vec<IpAddr>, StoreError> {
        Ok(self.index.ips_of_owner(owner))
    }

    fn next_free(&mut self, from: IpAddr, to: IpAddr) -> Result<Option<IpAddr>, StoreError> {
        Ok(self.index.next_free(from, to))
    }

    fn reservations(&mut self) -> Result<Vec<Reservation>, StoreError> {
        Ok(self.index.reservations())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        let mut t = Intervals::default();
        for v in [5, 7, 6, 1, 2, 10] {
            t.insert(v);
        }
        assert_eq!(
            t.0.iter().map(|(&a, &b)| (a, b)).collect::<Vec<_>>(),
            vec![(1, 2), (5, 7), (10, 10)]
        );
        assert_eq!(t.next_free(5, 20), Some(8));
        assert_eq!(t.next_free(1, 2), None);
        assert_eq!(t.next_free(3, 4), Some(3));
        t.remove(6);
        assert_eq!(t.next_free(5, 20), Some(6));
        t.remove(5);
        t.remove(7);
        assert_eq!(
            t.0.iter().map(|(&a, &b)| (a, b)).collect::<Vec<_>>(),
            vec![(1, 2), (10, 10)]
        );
        t.insert(u128::MAX);
        assert_eq!(t.next_free(u128::MAX, u128::MAX), None);
        t.insert(0);
        assert_eq!(t.next_free(0, 5), Some(3));
    }
}
