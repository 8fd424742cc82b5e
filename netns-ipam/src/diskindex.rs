//! The persistent index of a [`FileStore`](crate::FileStore) directory: its
//! encoding only (the store does the I/O).
//!
//! A one-shot process (a plugin, one per command) must answer "the next
//! free address after the cursor" and "what does this owner hold" and
//! record a change or two, at a cost that does not grow with the number
//! of reservations. So the index is a *base*, searched in place (nothing is
//! decoded that the command does not look at), followed by a *log* of the
//! changes made since the base was written, each appended in one `write`.
//! Once the log holds more than [`LOG_MAX`] changes the next writer writes a
//! new base (O(n), once every [`LOG_MAX`] changes).
//!
//! ```text
//! base:
//!   "NNSIPIX3"                     magic and format version
//!   u64 key                        random per base; every check below is keyed by it
//!   u64 dev, u64 ino               the network directory it was built for
//!   i64 s, u32 ns  x 2             that directory's ctime and mtime after
//!                                  the last change the base records
//!   u32 n4, n6, r4, r6, blob, net  counts and lengths of the sections
//!   network name                   the network the index was built for
//!   u64 header check
//!   n4 x {addr 4,  u64 inode, u32 off, u32 len, u64 owner hash, u32 check}
//!   n6 x {addr 16, u64 inode, u32 off, u32 len, u64 owner hash, u32 check}
//!   (n4 + n6) x {u32 record, u32 check}    the records in owner-hash order
//!   r4 x {start 4,  end 4,  u32 check}    maximal runs of taken addresses
//!   r6 x {start 16, end 16, u32 check}
//!   blob                           the owners, UTF-8
//! log, after the base, any number of:
//!   u32 len, payload, u64 check    payload: u8 2, i64 s, u32 ns x 2 (the
//!                                  directory's ctime and mtime after the
//!                                  change), u32 count, count x change:
//!                                  u8 op (0 removed, 1 reserved), u8 4|6,
//!                                  address, and if reserved: u64 inode,
//!                                  u32 len, owner
//! ```
//!
//! Integers are little-endian; records are in address order. Every part a
//! command reads is checked before it is used: the header by its check, a
//! record, a position of the owner order and a run by theirs (keyed by the
//! base's key, its section and its position, so a record moved or copied
//! from another base does not check), an owner by the record's owner hash,
//! a log entry by its check. A part that does not check makes the store
//! read the files instead: a damaged index can cost a full read, never a
//! wrong answer. A log that ends in a part that does not check (a writer
//! killed mid-append) is used up to there, and never trusted as the
//! directory's current state.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ip::{self, Family};

/// The index of network `N` is `<dataDir>/.netns-ipam-index.N`: beside the
/// network's directory, not in it, so the network directory holds exactly
/// what host-local writes (its every entry is host-local's to read: it
/// walks them all on DEL), and the name is not an address.
pub(crate) const INDEX_PREFIX: &str = ".netns-ipam-index.";

const MAGIC: &[u8; 8] = b"NNSIPIX3";

/// The fixed part of the header, before the network name.
const HEADER: usize = 80;
/// The size of an IPv4 and of an IPv6 record, check included.
const RECORD4: usize = 4 + 8 + 4 + 4 + 8 + 4;
const RECORD6: usize = 16 + 8 + 4 + 4 + 8 + 4;
const PERM: usize = 8;
const RUN4: usize = 4 + 4 + 4;
const RUN6: usize = 16 + 16 + 4;

/// The number of changes the log may hold; past it, a new base is written.
pub(crate) const LOG_MAX: usize = 64;

/// The largest index read (a /8 fully reserved, with long owners, fits).
pub(crate) const INDEX_MAX: usize = 1 << 30;

const LOG_COMMIT: u8 = 2;

/// The network directory's identity and timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirStamp {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) ctime: (i64, u32),
    pub(crate) mtime: (i64, u32),
}

/// A whole index, every part checked, the log applied.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DiskIndex {
    pub(crate) network: String,
    /// As after the last change recorded.
    pub(crate) stamp: DirStamp,
    /// The owners.
    pub(crate) blob: String,
    /// (address, inode of its file, owner's offset and length in `blob`),
    /// in address order; every owner range lies in `blob` on character
    /// boundaries.
    pub(crate) entries: Vec<(IpAddr, u64, u32, u32)>,
}

impl DiskIndex {
    /// The owner at `off`, `len` of the blob.
    #[cfg(test)]
    pub(crate) fn owner(&self, off: u32, len: u32) -> &str {
        let (off, len) = (off as usize, len as usize);
        self.blob.get(off..off.saturating_add(len)).unwrap_or("")
    }
}

/// Where [`encode`] takes an entry's owner from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OwnerSrc<'a> {
    /// `len` bytes at `off` of the `blob` given to [`encode`].
    Blob(u32, u32),
    /// This string (appended to the blob).
    Str(&'a str),
}

/// One change of the log: an address released, or reserved with its
/// file's inode and its owner.
pub(crate) type Change = (IpAddr, Option<(u64, Box<str>)>);

const PRIME: u64 = 0x0000_0100_0000_01b3;

/// A checksum of `data`: four FNV-1a-like lanes over 8-byte words (so the
/// multiplications overlap), then the tail, then the lanes folded.
pub(crate) fn checksum(data: &[u8]) -> u64 {
    let seed = 0xcbf2_9ce4_8422_2325 ^ data.len() as u64;
    let mut h = [seed, seed ^ 1, seed ^ 2, seed ^ 3];
    let word = |c: &[u8]| -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        u64::from_le_bytes(w)
    };
    let mut blocks = data.chunks_exact(32);
    for b in &mut blocks {
        for (lane, c) in h.iter_mut().zip(b.chunks_exact(8)) {
            *lane = (*lane ^ word(c)).wrapping_mul(PRIME);
            *lane ^= *lane >> 29;
        }
    }
    let mut x = h[0];
    for (i, lane) in h.iter().enumerate().skip(1) {
        x = (x ^ lane.rotate_left(i as u32 * 16)).wrapping_mul(PRIME);
    }
    let mut tail = blocks.remainder().chunks_exact(8);
    for c in &mut tail {
        x = (x ^ word(c)).wrapping_mul(PRIME);
        x ^= x >> 29;
    }
    for &b in tail.remainder() {
        x = (x ^ u64::from(b)).wrapping_mul(PRIME);
    }
    x ^ (x >> 31)
}

/// The check of `data` at position `at` of section `tag` of the base with
/// key `key`.
fn keyed(key: u64, tag: u8, at: u32, data: &[u8]) -> u64 {
    let mut x = checksum(data) ^ key ^ (u64::from(tag) << 56) ^ (u64::from(at) << 8);
    for _ in 0..2 {
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= x >> 32;
    }
    x
}

fn check32(key: u64, tag: u8, at: u32, data: &[u8]) -> [u8; 4] {
    // Truncation intended: the low half of the keyed check.
    (keyed(key, tag, at, data) as u32).to_le_bytes()
}

/// The hash of an owner kept in its record.
pub(crate) fn owner_hash(owner: &[u8]) -> u64 {
    keyed(0, b'o', 0, owner)
}

const TAG_REC4: u8 = b'4';
const TAG_REC6: u8 = b'6';
const TAG_PERM: u8 = b'p';
const TAG_RUN4: u8 = b'r';
const TAG_RUN6: u8 = b'R';
const TAG_HEADER: u8 = b'H';
const TAG_LOG: u8 = b'L';

fn put_stamp_times(out: &mut Vec<u8>, stamp: &DirStamp) {
    for (sec, nsec) in [stamp.ctime, stamp.mtime] {
        out.extend_from_slice(&sec.to_le_bytes());
        out.extend_from_slice(&nsec.to_le_bytes());
    }
}

fn addr_bytes(ip: &IpAddr) -> ([u8; 16], usize) {
    let mut a = [0u8; 16];
    match ip {
        IpAddr::V4(v) => {
            a[..4].copy_from_slice(&v.octets());
            (a, 4)
        }
        IpAddr::V6(v) => {
            a.copy_from_slice(&v.octets());
            (a, 16)
        }
    }
}

fn addr_of(family: Family, v: u128) -> ([u8; 16], usize) {
    addr_bytes(&ip::from_u128(family, v))
}

/// Encode a base with key `key` and no log. `entries` must be in address
/// order; their [`OwnerSrc::Blob`] owners are ranges of `blob` (on
/// character boundaries), which is written first, as it is.
pub(crate) fn encode<'a>(
    key: u64,
    network: &str,
    stamp: DirStamp,
    blob: &str,
    entries: impl ExactSizeIterator<Item = (IpAddr, u64, OwnerSrc<'a>)>,
) -> Vec<u8> {
    let mut new_blob: Vec<u8> = blob.as_bytes().to_vec();
    // (address, inode, off, len, owner hash), in order; an entry whose
    // owner does not fit the format ends the list (never a bad base).
    let mut recs: Vec<(IpAddr, u64, u32, u32, u64)> = Vec::with_capacity(entries.len());
    let mut prev: Option<(bool, u128)> = None;
    for (ip, file_ino, owner) in entries {
        let key_of = ip::order_key(&ip);
        if prev.is_some_and(|p| p >= key_of) {
            break;
        }
        prev = Some(key_of);
        let (off, len, bytes) = match owner {
            OwnerSrc::Blob(off, len) => {
                let (s, l) = (off as usize, len as usize);
                match blob.get(s..s.saturating_add(l)) {
                    Some(b) => (off, len, b.as_bytes()),
                    None => break,
                }
            }
            OwnerSrc::Str(s) => {
                let (Ok(off), Ok(len)) = (u32::try_from(new_blob.len()), u32::try_from(s.len()))
                else {
                    break;
                };
                new_blob.extend_from_slice(s.as_bytes());
                (off, len, s.as_bytes())
            }
        };
        if u32::try_from(new_blob.len()).is_err() {
            break;
        }
        recs.push((ip, file_ino, off, len, owner_hash(bytes)));
    }
    let n4 = recs.iter().take_while(|r| r.0.is_ipv4()).count();
    let n6 = recs.len() - n4;
    // Runs of taken addresses, per family.
    let mut runs: [Vec<(u128, u128)>; 2] = [Vec::new(), Vec::new()];
    for r in &recs {
        let v = ip::to_u128(r.0);
        let list = &mut runs[usize::from(r.0.is_ipv6())];
        match list.last_mut() {
            Some((_, e)) if e.checked_add(1) == Some(v) => *e = v,
            _ => list.push((v, v)),
        }
    }
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let net = network.as_bytes();
    let net = &net[..net.len().min(4096)];
    let mut out =
        Vec::with_capacity(HEADER + net.len() + 8 + recs.len() * (RECORD6 + PERM) + new_blob.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&key.to_le_bytes());
    out.extend_from_slice(&stamp.dev.to_le_bytes());
    out.extend_from_slice(&stamp.ino.to_le_bytes());
    put_stamp_times(&mut out, &stamp);
    for n in [
        n4,
        n6,
        runs[0].len(),
        runs[1].len(),
        new_blob.len(),
        net.len(),
    ] {
        out.extend_from_slice(&count(n).to_le_bytes());
    }
    out.extend_from_slice(net);
    let h = keyed(key, TAG_HEADER, 0, &out);
    out.extend_from_slice(&h.to_le_bytes());
    for (i, &(ip, file_ino, off, len, oh)) in recs.iter().enumerate() {
        let (a, alen) = addr_bytes(&ip);
        let (tag, at) = if i < n4 {
            (TAG_REC4, i)
        } else {
            (TAG_REC6, i - n4)
        };
        let start = out.len();
        out.extend_from_slice(&a[..alen]);
        out.extend_from_slice(&file_ino.to_le_bytes());
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&oh.to_le_bytes());
        let c = check32(key, tag, count(at), &out[start..]);
        out.extend_from_slice(&c);
    }
    let mut perm: Vec<u32> = (0..count(recs.len())).collect();
    perm.sort_unstable_by_key(|&i| (recs.get(i as usize).map_or(0, |r| r.4), i));
    for (pos, idx) in perm.into_iter().enumerate() {
        let b = idx.to_le_bytes();
        out.extend_from_slice(&b);
        out.extend_from_slice(&check32(key, TAG_PERM, count(pos), &b));
    }
    for (f, family, tag) in [(0, Family::V4, TAG_RUN4), (1, Family::V6, TAG_RUN6)] {
        for (pos, &(s, e)) in runs[f].iter().enumerate() {
            let start = out.len();
            let ((sa, alen), (ea, _)) = (addr_of(family, s), addr_of(family, e));
            out.extend_from_slice(&sa[..alen]);
            out.extend_from_slice(&ea[..alen]);
            let c = check32(key, tag, count(pos), &out[start..]);
            out.extend_from_slice(&c);
        }
    }
    out.extend_from_slice(&new_blob);
    out
}

/// A log entry recording `changes`, after which the directory's stamp is
/// `stamp`, to be appended at `offset` (the index file's length) of the
/// index whose base has key `key`.
pub(crate) fn encode_log(key: u64, offset: usize, stamp: &DirStamp, changes: &[Change]) -> Vec<u8> {
    let mut p = vec![LOG_COMMIT];
    put_stamp_times(&mut p, stamp);
    p.extend_from_slice(&u32::try_from(changes.len()).unwrap_or(0).to_le_bytes());
    for (ip, what) in changes.iter().take(u32::MAX as usize) {
        let (a, alen) = addr_bytes(ip);
        p.push(u8::from(what.is_some()));
        p.push(if alen == 4 { 4 } else { 6 });
        p.extend_from_slice(&a[..alen]);
        if let Some((file_ino, owner)) = what {
            p.extend_from_slice(&file_ino.to_le_bytes());
            let o = &owner.as_bytes()[..owner.len().min(1 << 20)];
            p.extend_from_slice(&u32::try_from(o.len()).unwrap_or(0).to_le_bytes());
            p.extend_from_slice(o);
        }
    }
    let mut out = Vec::with_capacity(p.len() + 12);
    out.extend_from_slice(&u32::try_from(p.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&p);
    let at = u32::try_from(offset).unwrap_or(u32::MAX);
    out.extend_from_slice(&keyed(key, TAG_LOG, at, &p).to_le_bytes());
    out
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

fn ip_at(b: &[u8], at: usize, family: Family) -> Option<IpAddr> {
    Some(match family {
        Family::V4 => {
            let a: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
            IpAddr::V4(Ipv4Addr::from(a))
        }
        Family::V6 => {
            let a: [u8; 16] = b.get(at..at.checked_add(16)?)?.try_into().ok()?;
            IpAddr::V6(Ipv6Addr::from(a))
        }
    })
}

fn stamp_times_at(b: &[u8], at: usize) -> Option<((i64, u32), (i64, u32))> {
    let t = |o: usize| -> Option<(i64, u32)> {
        Some((
            i64::from_le_bytes(u64_at(b, o)?.to_le_bytes()),
            u32_at(b, o + 8)?,
        ))
    };
    Some((t(at)?, t(at.checked_add(12)?)?))
}

/// A part of the index did not check: read the files instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Damaged;

/// One record of the base, checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record {
    pub(crate) ip: IpAddr,
    pub(crate) ino: u64,
    pub(crate) off: u32,
    pub(crate) len: u32,
    ohash: u64,
}

/// An index file as read: the base searched in place, the log decoded.
#[derive(Debug)]
pub(crate) struct View {
    bytes: Vec<u8>,
    key: u64,
    network: (usize, usize),
    base_stamp: DirStamp,
    n: [usize; 2],
    runs: [usize; 2],
    at_rec: [usize; 2],
    at_perm: usize,
    at_runs: [usize; 2],
    at_blob: usize,
    blob_len: usize,
    /// The log's changes, in order.
    log: Vec<Change>,
    /// The stamp of the last log entry.
    log_stamp: Option<DirStamp>,
    /// The log ends in a part that does not check.
    torn: bool,
}

impl View {
    /// Parse the header and the log; `None` unless the header checks and
    /// every section lies in `bytes`. The records are checked as they are
    /// read.
    pub(crate) fn parse(bytes: Vec<u8>) -> Option<View> {
        let b = &bytes;
        if b.get(..8)? != MAGIC {
            return None;
        }
        let key = u64_at(b, 8)?;
        let (dev, ino) = (u64_at(b, 16)?, u64_at(b, 24)?);
        let (ctime, mtime) = stamp_times_at(b, 32)?;
        let c = |i: usize| -> Option<usize> { usize::try_from(u32_at(b, 56 + 4 * i)?).ok() };
        let (n4, n6, r4, r6, blob_len, net_len) = (c(0)?, c(1)?, c(2)?, c(3)?, c(4)?, c(5)?);
        let net_end = HEADER.checked_add(net_len)?;
        let header = b.get(..net_end)?;
        if u64_at(b, net_end)? != keyed(key, TAG_HEADER, 0, header) {
            return None;
        }
        std::str::from_utf8(b.get(HEADER..net_end)?).ok()?;
        let at4 = net_end + 8;
        let at6 = at4.checked_add(n4.checked_mul(RECORD4)?)?;
        let at_perm = at6.checked_add(n6.checked_mul(RECORD6)?)?;
        let at_r4 = at_perm.checked_add(n4.checked_add(n6)?.checked_mul(PERM)?)?;
        let at_r6 = at_r4.checked_add(r4.checked_mul(RUN4)?)?;
        let at_blob = at_r6.checked_add(r6.checked_mul(RUN6)?)?;
        let base_len = at_blob.checked_add(blob_len)?;
        if base_len > b.len() {
            return None;
        }
        let mut v = View {
            key,
            network: (HEADER, net_end),
            base_stamp: DirStamp {
                dev,
                ino,
                ctime,
                mtime,
            },
            n: [n4, n6],
            runs: [r4, r6],
            at_rec: [at4, at6],
            at_perm,
            at_runs: [at_r4, at_r6],
            at_blob,
            blob_len,
            log: Vec::new(),
            log_stamp: None,
            torn: false,
            bytes: Vec::new(),
        };
        v.torn = !v.parse_log(b, base_len);
        v.bytes = bytes;
        Some(v)
    }

    /// Decode the log entries from `at` on; false if it ends in a part
    /// that does not check (what came before it stands).
    fn parse_log(&mut self, b: &[u8], mut at: usize) -> bool {
        while at < b.len() {
            let Some(entry) = Self::log_entry(self.key, b, at) else {
                return false;
            };
            let (stamp_times, changes, next) = entry;
            self.log.extend(changes);
            self.log_stamp = Some(DirStamp {
                ctime: stamp_times.0,
                mtime: stamp_times.1,
                ..self.base_stamp
            });
            at = next;
        }
        true
    }

    #[allow(clippy::type_complexity)]
    fn log_entry(
        key: u64,
        b: &[u8],
        at: usize,
    ) -> Option<(((i64, u32), (i64, u32)), Vec<Change>, usize)> {
        let len = usize::try_from(u32_at(b, at)?).ok()?;
        let start = at.checked_add(4)?;
        let end = start.checked_add(len)?;
        let p = b.get(start..end)?;
        if u64_at(b, end)? != keyed(key, TAG_LOG, u32::try_from(at).ok()?, p) {
            return None;
        }
        if *p.first()? != LOG_COMMIT {
            return None;
        }
        let times = stamp_times_at(p, 1)?;
        let count = usize::try_from(u32_at(p, 25)?).ok()?;
        let mut changes = Vec::with_capacity(count.min(p.len()));
        let mut o = 29;
        for _ in 0..count {
            let op = *p.get(o)?;
            let family = match *p.get(o + 1)? {
                4 => Family::V4,
                6 => Family::V6,
                _ => return None,
            };
            let ip = ip_at(p, o + 2, family)?;
            o += 2 + usize::from(family.bits() / 8);
            let what = match op {
                0 => None,
                1 => {
                    let file_ino = u64_at(p, o)?;
                    let olen = usize::try_from(u32_at(p, o + 8)?).ok()?;
                    let s = p.get(o + 12..(o + 12).checked_add(olen)?)?;
                    o += 12 + olen;
                    Some((file_ino, Box::from(std::str::from_utf8(s).ok()?)))
                }
                _ => return None,
            };
            changes.push((ip, what));
        }
        if o != p.len() {
            return None;
        }
        Some((times, changes, end.checked_add(8)?))
    }

    /// The network the index was built for.
    pub(crate) fn network(&self) -> &str {
        let (s, e) = self.network;
        self.bytes
            .get(s..e)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// The directory's stamp after the last change recorded.
    pub(crate) fn stamp(&self) -> DirStamp {
        self.log_stamp.unwrap_or(self.base_stamp)
    }

    /// The log ends in a part that does not check.
    pub(crate) fn torn(&self) -> bool {
        self.torn
    }

    /// The base's key.
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// The file's length (where the next log entry goes).
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The log's changes, in order.
    pub(crate) fn log(&self) -> &[Change] {
        &self.log
    }

    /// The number of records of the base.
    pub(crate) fn records(&self) -> usize {
        self.n[0] + self.n[1]
    }

    /// Record `i` of the base (IPv4 ones first), checked.
    pub(crate) fn record(&self, i: usize) -> Result<Record, Damaged> {
        let (f, j) = if i < self.n[0] {
            (0, i)
        } else if i - self.n[0] < self.n[1] {
            (1, i - self.n[0])
        } else {
            return Err(Damaged);
        };
        let (size, alen, tag, family) = if f == 0 {
            (RECORD4, 4, TAG_REC4, Family::V4)
        } else {
            (RECORD6, 16, TAG_REC6, Family::V6)
        };
        let at = self.at_rec[f] + j * size;
        let rec = self.bytes.get(at..at + size).ok_or(Damaged)?;
        let (body, check) = rec.split_at(size - 4);
        let pos = u32::try_from(j).map_err(|_| Damaged)?;
        if check != check32(self.key, tag, pos, body) {
            return Err(Damaged);
        }
        let get = || -> Option<Record> {
            Some(Record {
                ip: ip_at(body, 0, family)?,
                ino: u64_at(body, alen)?,
                off: u32_at(body, alen + 8)?,
                len: u32_at(body, alen + 12)?,
                ohash: u64_at(body, alen + 16)?,
            })
        };
        get().ok_or(Damaged)
    }

    /// The owner of `r`, checked against its hash.
    pub(crate) fn owner(&self, r: &Record) -> Result<&str, Damaged> {
        let s = usize::try_from(r.off).map_err(|_| Damaged)?;
        let e = s.checked_add(r.len as usize).ok_or(Damaged)?;
        if e > self.blob_len {
            return Err(Damaged);
        }
        let b = self
            .bytes
            .get(self.at_blob + s..self.at_blob + e)
            .ok_or(Damaged)?;
        if owner_hash(b) != r.ohash {
            return Err(Damaged);
        }
        std::str::from_utf8(b).map_err(|_| Damaged)
    }

    /// The record at position `pos` of the owner order, checked.
    fn perm(&self, pos: usize) -> Result<usize, Damaged> {
        let at = self.at_perm + pos * PERM;
        let e = self.bytes.get(at..at + PERM).ok_or(Damaged)?;
        let (idx, check) = e.split_at(4);
        let p = u32::try_from(pos).map_err(|_| Damaged)?;
        if check != check32(self.key, TAG_PERM, p, idx) {
            return Err(Damaged);
        }
        usize::try_from(u32_at(idx, 0).ok_or(Damaged)?).map_err(|_| Damaged)
    }

    /// The base's addresses whose owner is exactly `owner`, in address
    /// order: a binary search of the owner order.
    pub(crate) fn ips_of_owner(&self, owner: &str) -> Result<Vec<IpAddr>, Damaged> {
        let h = owner_hash(owner.as_bytes());
        let n = self.records();
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.record(self.perm(mid)?)?.ohash < h {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut out = Vec::new();
        while lo < n {
            let r = self.record(self.perm(lo)?)?;
            if r.ohash != h {
                break;
            }
            if self.owner(&r)? == owner {
                out.push(r.ip);
            }
            lo += 1;
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Run `pos` of `family`, checked: (start, end).
    fn run(&self, f: usize, pos: usize) -> Result<(u128, u128), Damaged> {
        let (size, family, tag) = if f == 0 {
            (RUN4, Family::V4, TAG_RUN4)
        } else {
            (RUN6, Family::V6, TAG_RUN6)
        };
        let alen = usize::from(family.bits() / 8);
        let at = self.at_runs[f] + pos * size;
        let e = self.bytes.get(at..at + size).ok_or(Damaged)?;
        let (body, check) = e.split_at(size - 4);
        let p = u32::try_from(pos).map_err(|_| Damaged)?;
        if check != check32(self.key, tag, p, body) {
            return Err(Damaged);
        }
        let s = ip_at(body, 0, family).ok_or(Damaged)?;
        let t = ip_at(body, alen, family).ok_or(Damaged)?;
        let (s, t) = (ip::to_u128(s), ip::to_u128(t));
        if s > t {
            return Err(Damaged);
        }
        Ok((s, t))
    }

    /// The first address of `family` at or after `from` that the base does
    /// not hold (`None` past the family's last address): a binary search
    /// of the runs.
    pub(crate) fn next_free(&self, family: Family, from: u128) -> Result<Option<u128>, Damaged> {
        let f = usize::from(family == Family::V6);
        let (mut lo, mut hi) = (0usize, self.runs[f]);
        // The last run starting at or before `from`.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.run(f, mid)?.0 <= from {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 {
            return Ok(Some(from));
        }
        let (_, end) = self.run(f, lo - 1)?;
        if end < from {
            return Ok(Some(from));
        }
        Ok(end.checked_add(1).filter(|&v| v <= ip::max_value(family)))
    }

    /// The whole index, every record checked, the log applied: `None` if
    /// any part of the base does not check.
    pub(crate) fn into_disk_index(self) -> Option<DiskIndex> {
        let mut blob = String::with_capacity(self.blob_len);
        blob.push_str(
            std::str::from_utf8(self.bytes.get(self.at_blob..self.at_blob + self.blob_len)?)
                .ok()?,
        );
        for pos in 0..self.records() {
            self.perm(pos).ok()?;
        }
        for f in 0..2 {
            for pos in 0..self.runs[f] {
                self.run(f, pos).ok()?;
            }
        }
        let mut map: BTreeMap<(bool, u128), (IpAddr, u64, u32, u32)> = BTreeMap::new();
        let mut prev: Option<(bool, u128)> = None;
        for i in 0..self.records() {
            let r = self.record(i).ok()?;
            self.owner(&r).ok()?;
            let k = ip::order_key(&r.ip);
            if prev.is_some_and(|p| p >= k) {
                return None;
            }
            prev = Some(k);
            map.insert(k, (r.ip, r.ino, r.off, r.len));
        }
        for (ip, what) in &self.log {
            let k = ip::order_key(ip);
            match what {
                None => {
                    map.remove(&k);
                }
                Some((file_ino, owner)) => {
                    let off = u32::try_from(blob.len()).ok()?;
                    let len = u32::try_from(owner.len()).ok()?;
                    blob.push_str(owner);
                    map.insert(k, (*ip, *file_ino, off, len));
                }
            }
        }
        Some(DiskIndex {
            network: self.network().to_string(),
            stamp: self.stamp(),
            blob,
            entries: map.into_values().collect(),
        })
    }
}

/// Decode a whole index; `None` unless its base decodes and checks.
#[cfg(test)]
pub(crate) fn decode(data: &[u8]) -> Option<DiskIndex> {
    View::parse(data.to_vec())?.into_disk_index()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> DirStamp {
        DirStamp {
            dev: 7,
            ino: 8,
            ctime: (1, 2),
            mtime: (3, 4),
        }
    }

    fn sample() -> Vec<u8> {
        let e: Vec<(IpAddr, u64, &str)> = vec![
            ("10.0.0.2".parse().unwrap(), 11, "c1\r\neth0"),
            ("10.0.0.3".parse().unwrap(), 12, "c2"),
            ("10.0.0.7".parse().unwrap(), 14, "c2"),
            ("2001:db8::5".parse().unwrap(), 13, "c3\r\nnet1"),
        ];
        let e = e
            .into_iter()
            .map(|(ip, ino, o)| (ip, ino, OwnerSrc::Str(o)));
        encode(0x1234, "net1", stamp(), "", e)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// (address, inode, owner) of every entry.
    fn listed(d: &DiskIndex) -> Vec<(String, u64, &str)> {
        d.entries
            .iter()
            .map(|&(a, n, off, len)| (a.to_string(), n, d.owner(off, len)))
            .collect()
    }

    #[test]
    fn round_trip() {
        let d = decode(&sample()).unwrap();
        assert_eq!(d.network, "net1");
        assert_eq!(d.stamp, stamp());
        assert_eq!(d.entries.len(), 4);
        let (_, ino, off, len) = d.entries[1];
        assert_eq!((ino, d.owner(off, len)), (12, "c2"));
        let (a, ino, off, len) = d.entries[3];
        assert_eq!(a, ip("2001:db8::5"));
        assert_eq!((ino, d.owner(off, len)), (13, "c3\r\nnet1"));
        assert_eq!(d.owner(d.entries[0].2, d.entries[0].3), "c1\r\neth0");
    }

    #[test]
    fn the_base_is_searched_in_place() {
        let v = View::parse(sample()).unwrap();
        assert_eq!(v.network(), "net1");
        assert!(!v.torn());
        assert_eq!(
            v.ips_of_owner("c2").unwrap(),
            vec![ip("10.0.0.3"), ip("10.0.0.7")]
        );
        assert_eq!(
            v.ips_of_owner("c3\r\nnet1").unwrap(),
            vec![ip("2001:db8::5")]
        );
        assert!(v.ips_of_owner("c9").unwrap().is_empty());
        let n = |s: &str| ip::to_u128(ip(s));
        let free = |from: &str| v.next_free(Family::V4, n(from)).unwrap();
        assert_eq!(free("10.0.0.1"), Some(n("10.0.0.1")));
        assert_eq!(free("10.0.0.2"), Some(n("10.0.0.4")));
        assert_eq!(free("10.0.0.3"), Some(n("10.0.0.4")));
        assert_eq!(free("10.0.0.7"), Some(n("10.0.0.8")));
        assert_eq!(free("10.0.0.9"), Some(n("10.0.0.9")));
        assert_eq!(
            v.next_free(Family::V6, n("2001:db8::5")).unwrap(),
            Some(n("2001:db8::6"))
        );
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_of_the_base_is_refused() {
        let b = sample();
        for n in 0..b.len() {
            assert!(decode(&b[..n]).is_none(), "truncated at {n}");
        }
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x20;
            assert!(decode(&c).is_none(), "byte {i} flipped");
        }
    }

    /// What a search reads is checked: a flipped byte it meets is an
    /// error, never a different answer.
    #[test]
    fn a_search_never_answers_from_a_flipped_byte() {
        let b = sample();
        let good = View::parse(b.clone()).unwrap();
        let q = |v: &View| {
            (
                v.ips_of_owner("c2"),
                v.ips_of_owner("c1\r\neth0"),
                v.next_free(Family::V4, ip::to_u128(ip("10.0.0.2"))),
            )
        };
        let want = q(&good);
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x01;
            let Some(v) = View::parse(c) else { continue };
            let (a, o, f) = q(&v);
            for (got, exp) in [(a, want.0.clone()), (o, want.1.clone())] {
                assert!(got.is_err() || got == exp, "byte {i}");
            }
            assert!(f.is_err() || f == want.2, "byte {i}");
        }
    }

    #[test]
    fn the_log_is_applied_and_a_torn_entry_is_not_trusted() {
        let mut b = sample();
        let later = DirStamp {
            ctime: (9, 9),
            mtime: (9, 10),
            ..stamp()
        };
        let changes: Vec<Change> = vec![
            (ip("10.0.0.3"), None),
            (ip("10.0.0.4"), Some((21, Box::from("c4\r\neth0")))),
        ];
        let entry = encode_log(0x1234, b.len(), &later, &changes);
        b.extend_from_slice(&entry);
        let v = View::parse(b.clone()).unwrap();
        assert!(!v.torn());
        assert_eq!(v.stamp(), later);
        assert_eq!(v.log(), &changes[..]);
        let d = v.into_disk_index().unwrap();
        assert_eq!(
            listed(&d),
            vec![
                ("10.0.0.2".into(), 11, "c1\r\neth0"),
                ("10.0.0.4".into(), 21, "c4\r\neth0"),
                ("10.0.0.7".into(), 14, "c2"),
                ("2001:db8::5".into(), 13, "c3\r\nnet1"),
            ]
        );
        // Every cut inside the entry: the base stands, the entry is not
        // used, and the index is marked torn.
        let base = b.len() - entry.len();
        for cut in base + 1..b.len() {
            let v = View::parse(b[..cut].to_vec()).unwrap();
            assert!(v.torn(), "cut at {cut}");
            assert!(v.log().is_empty());
            assert_eq!(v.stamp(), stamp());
        }
        // An entry made for another base (key) or another place does not
        // check.
        let mut other = sample();
        other.extend_from_slice(&encode_log(0x9999, other.len(), &later, &changes));
        assert!(View::parse(other).unwrap().torn());
        let mut moved = sample();
        moved.extend_from_slice(&encode_log(0x1234, moved.len() + 1, &later, &changes));
        assert!(View::parse(moved).unwrap().torn());
    }

    #[test]
    fn owners_from_the_old_blob_are_kept_and_new_ones_appended() {
        let old = "gone\r\neth0c1\r\neth0";
        let e = vec![
            (ip("10.0.0.2"), 5, OwnerSrc::Blob(10, 8)),
            (ip("10.0.0.9"), 6, OwnerSrc::Str("c9\r\neth0")),
            (ip("fd00::1"), 7, OwnerSrc::Blob(0, 10)),
        ];
        let d = decode(&encode(1, "n", stamp(), old, e.into_iter())).unwrap();
        assert_eq!(
            listed(&d),
            vec![
                ("10.0.0.2".to_string(), 5, "c1\r\neth0"),
                ("10.0.0.9".to_string(), 6, "c9\r\neth0"),
                ("fd00::1".to_string(), 7, "gone\r\neth0"),
            ]
        );
    }

    #[test]
    fn an_owner_range_outside_the_blob_or_inside_a_character_ends_the_entries() {
        for (blob, off, len) in [("abc", 2, 2), ("\u{e9}x", 1, 1), ("abc", u32::MAX, 2)] {
            let e = vec![
                (ip("10.0.0.1"), 4, OwnerSrc::Str("ok")),
                (ip("10.0.0.2"), 5, OwnerSrc::Blob(off, len)),
            ];
            let d = decode(&encode(1, "n", stamp(), blob, e.into_iter())).unwrap();
            assert_eq!(d.entries.len(), 1);
        }
    }

    #[test]
    fn a_large_base_is_searched_in_place() {
        let owners: Vec<String> = (0..3000).map(|i| format!("c{i}\r\neth0")).collect();
        // Every third address free.
        let ips: Vec<IpAddr> = (0..3000u32)
            .map(|i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i / 2 * 3 + i % 2)))
            .collect();
        let e = ips
            .iter()
            .zip(&owners)
            .map(|(a, o)| (*a, 1, OwnerSrc::Str(o)));
        let v = View::parse(encode(3, "n", stamp(), "", e)).unwrap();
        for (i, (a, o)) in ips.iter().zip(&owners).enumerate().step_by(97) {
            assert_eq!(v.ips_of_owner(o).unwrap(), vec![*a], "{i}");
            let free = v.next_free(Family::V4, ip::to_u128(*a)).unwrap().unwrap();
            assert_eq!((free - 0x0a00_0000) % 3, 2, "{a}");
        }
    }
}
