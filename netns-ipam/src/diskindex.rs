//! The persistent index of a [`FileStore`](crate::FileStore) directory: its
//! encoding only (the store does the I/O).
//!
//! ```text
//! "NNSIPIX1"                     magic and format version
//! u32 len, network name          the network the index was built for
//! u64 dev, u64 ino               the network directory it was built for
//! i64 s, u32 ns  x 2             that directory's ctime and mtime when the
//!                                index was written (after the last change)
//! u32 count
//! count x { u8 family (4 | 6), 4 | 16 address bytes, u64 inode of the
//!           reservation file, u32 len, owner bytes }
//! u64 checksum                   of everything before it
//! ```
//!
//! Integers are little-endian. Anything that does not decode exactly (short,
//! long, bad magic, bad checksum, unsorted or duplicate addresses, owners
//! that are not UTF-8) is no index.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The index of network `N` is `<dataDir>/.netns-ipam-index.N`: beside the
/// network's directory, not in it, so the network directory holds exactly
/// what host-local writes (its every entry is host-local's to read: it
/// walks them all on DEL), and the name is not an address.
pub(crate) const INDEX_PREFIX: &str = ".netns-ipam-index.";

const MAGIC: &[u8; 8] = b"NNSIPIX1";

/// The largest index read (a /8 fully reserved, with long owners, fits).
pub(crate) const INDEX_MAX: usize = 1 << 30;

/// The network directory's identity and timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirStamp {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) ctime: (i64, u32),
    pub(crate) mtime: (i64, u32),
}

/// A decoded index.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DiskIndex {
    pub(crate) network: String,
    pub(crate) stamp: DirStamp,
    /// (address, inode of its file, owner), in address order.
    pub(crate) entries: Vec<(IpAddr, u64, String)>,
}

/// A checksum of `data`: FNV-1a over 8-byte words, then the tail.
pub(crate) fn checksum(data: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ data.len() as u64;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(PRIME);
        h ^= h >> 29;
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(PRIME);
    }
    h ^ (h >> 31)
}

/// Encode an index. `entries` must be in address order.
pub(crate) fn encode<'a>(
    network: &str,
    stamp: DirStamp,
    entries: impl ExactSizeIterator<Item = (IpAddr, u64, &'a str)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + entries.len() * 48);
    out.extend_from_slice(MAGIC);
    put_bytes(&mut out, network.as_bytes());
    out.extend_from_slice(&stamp.dev.to_le_bytes());
    out.extend_from_slice(&stamp.ino.to_le_bytes());
    for (sec, nsec) in [stamp.ctime, stamp.mtime] {
        out.extend_from_slice(&sec.to_le_bytes());
        out.extend_from_slice(&nsec.to_le_bytes());
    }
    let count = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_le_bytes());
    for (ip, file_ino, owner) in entries.take(count as usize) {
        match ip {
            IpAddr::V4(a) => {
                out.push(4);
                out.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                out.push(6);
                out.extend_from_slice(&a.octets());
            }
        }
        out.extend_from_slice(&file_ino.to_le_bytes());
        put_bytes(&mut out, owner.as_bytes());
    }
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&b[..len as usize]);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.take(n)
    }
}

/// Decode an index; `None` unless `data` is exactly one well-formed index.
pub(crate) fn decode(data: &[u8]) -> Option<DiskIndex> {
    let body_len = data.len().checked_sub(8)?;
    let (body, sum) = data.split_at(body_len);
    if u64::from_le_bytes(sum.try_into().ok()?) != checksum(body) {
        return None;
    }
    let mut r = Reader(body);
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let network = std::str::from_utf8(r.bytes()?).ok()?.to_string();
    let dev = r.u64()?;
    let ino = r.u64()?;
    let mut times = [(0i64, 0u32); 2];
    for t in &mut times {
        *t = (i64::from_le_bytes(r.u64()?.to_le_bytes()), r.u32()?);
    }
    let stamp = DirStamp {
        dev,
        ino,
        ctime: times[0],
        mtime: times[1],
    };
    let count = usize::try_from(r.u32()?).ok()?;
    // Every entry takes at least 17 bytes: a count the data cannot hold is
    // a damaged index, not a reason to allocate.
    if count > r.0.len() / 17 {
        return None;
    }
    let mut entries: Vec<(IpAddr, u64, String)> = Vec::with_capacity(count);
    for _ in 0..count {
        let ip = match r.u8()? {
            4 => {
                let o: [u8; 4] = r.take(4)?.try_into().ok()?;
                IpAddr::V4(Ipv4Addr::from(o))
            }
            6 => {
                let o: [u8; 16] = r.take(16)?.try_into().ok()?;
                IpAddr::V6(Ipv6Addr::from(o))
            }
            _ => return None,
        };
        let file_ino = r.u64()?;
        let owner = std::str::from_utf8(r.bytes()?).ok()?.to_string();
        if entries.last().is_some_and(|(prev, _, _)| *prev >= ip) {
            return None;
        }
        entries.push((ip, file_ino, owner));
    }
    if !r.0.is_empty() {
        return None;
    }
    Some(DiskIndex {
        network,
        stamp,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let e: Vec<(IpAddr, u64, &str)> = vec![
            ("10.0.0.2".parse().unwrap(), 11, "c1\r\neth0"),
            ("10.0.0.3".parse().unwrap(), 12, "c2"),
            ("2001:db8::5".parse().unwrap(), 13, "c3\r\nnet1"),
        ];
        let stamp = DirStamp {
            dev: 7,
            ino: 8,
            ctime: (1, 2),
            mtime: (3, 4),
        };
        encode("net1", stamp, e.into_iter())
    }

    #[test]
    fn round_trip() {
        let d = decode(&sample()).unwrap();
        assert_eq!(d.network, "net1");
        assert_eq!((d.stamp.dev, d.stamp.ino), (7, 8));
        assert_eq!((d.stamp.ctime, d.stamp.mtime), ((1, 2), (3, 4)));
        assert_eq!(d.entries.len(), 3);
        assert_eq!(d.entries[1].2, "c2");
        assert_eq!(d.entries[2].1, 13);
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused() {
        let b = sample();
        for n in 0..b.len() {
            assert!(decode(&b[..n]).is_none(), "truncated at {n}");
        }
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x20;
            assert!(decode(&c).is_none(), "byte {i} flipped");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
    }
}
