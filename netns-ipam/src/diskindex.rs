//! The persistent index of a [`FileStore`](crate::FileStore) directory: its
//! encoding only (the store does the I/O).
//!
//! ```text
//! "NNSIPIX2"                     magic and format version
//! u32 len, network name          the network the index was built for
//! u64 dev, u64 ino               the network directory it was built for
//! i64 s, u32 ns  x 2             that directory's ctime and mtime when the
//!                                index was written (after the last change)
//! u32 n4, n4 x { 4 address bytes, u64 inode of the reservation file,
//!                u32 offset, u32 length of its owner in the blob }
//! u32 n6, n6 x { 16 address bytes, u64 inode, u32 offset, u32 length }
//! u32 len, blob                  the owners, UTF-8
//! u64 checksum                   of everything before it
//! ```
//!
//! Integers are little-endian; each family's records are in address order.
//! Anything that does not decode exactly (short, long, bad magic, bad
//! checksum, unsorted or duplicate addresses, an owner outside the blob or
//! not on a character boundary, a blob that is not UTF-8) is no index.
//!
//! The layout is made for a one-shot process that loads an index, changes a
//! reservation or two and writes it back: fixed-size records decode with no
//! allocation per entry; the owners stay in the one blob string the
//! in-memory index refers into (one UTF-8 check for all of them), and the
//! blob is written back as it was, new owners appended (the bytes of
//! released ones stay until they are half of it: then it is compacted).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The index of network `N` is `<dataDir>/.netns-ipam-index.N`: beside the
/// network's directory, not in it, so the network directory holds exactly
/// what host-local writes (its every entry is host-local's to read: it
/// walks them all on DEL), and the name is not an address.
pub(crate) const INDEX_PREFIX: &str = ".netns-ipam-index.";

const MAGIC: &[u8; 8] = b"NNSIPIX2";

/// The size of an IPv4 and of an IPv6 record.
const RECORD4: usize = 4 + 8 + 4 + 4;
const RECORD6: usize = 16 + 8 + 4 + 4;

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

/// A checksum of `data`: four FNV-1a-like lanes over 8-byte words (so the
/// multiplications overlap), then the tail, then the lanes folded.
pub(crate) fn checksum(data: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
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

/// Encode an index. `entries` must be in address order; their
/// [`OwnerSrc::Blob`] owners are ranges of `blob` (on character
/// boundaries), which is written first, as it is.
pub(crate) fn encode<'a>(
    network: &str,
    stamp: DirStamp,
    blob: &str,
    entries: impl ExactSizeIterator<Item = (IpAddr, u64, OwnerSrc<'a>)>,
) -> Vec<u8> {
    let n = entries.len();
    let mut out = Vec::with_capacity(80 + network.len() + n * RECORD4 + blob.len());
    let mut new_blob: Vec<u8> = blob.as_bytes().to_vec();
    out.extend_from_slice(MAGIC);
    put_bytes(&mut out, network.as_bytes());
    out.extend_from_slice(&stamp.dev.to_le_bytes());
    out.extend_from_slice(&stamp.ino.to_le_bytes());
    for (sec, nsec) in [stamp.ctime, stamp.mtime] {
        out.extend_from_slice(&sec.to_le_bytes());
        out.extend_from_slice(&nsec.to_le_bytes());
    }
    // Each section's count, patched when known.
    let mut count_at = out.len();
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut count = 0u32;
    let mut in_v6 = false;
    for (ip, file_ino, owner) in entries {
        let (off, len) = match owner {
            OwnerSrc::Blob(off, len) => (off, len),
            OwnerSrc::Str(s) => {
                let (Ok(off), Ok(len)) = (u32::try_from(new_blob.len()), u32::try_from(s.len()))
                else {
                    break;
                };
                new_blob.extend_from_slice(s.as_bytes());
                (off, len)
            }
        };
        if count == u32::MAX || u32::try_from(new_blob.len()).is_err() {
            break;
        }
        // One fixed-size copy per record.
        let mut rec = [0u8; RECORD6];
        let alen = match ip {
            IpAddr::V4(a) => {
                if in_v6 {
                    // Out of order: the caller's bug; stop rather than
                    // write an index that does not decode.
                    break;
                }
                rec[..4].copy_from_slice(&a.octets());
                4
            }
            IpAddr::V6(a) => {
                if !in_v6 {
                    out[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
                    (in_v6, count, count_at) = (true, 0, out.len());
                    out.extend_from_slice(&0u32.to_le_bytes());
                }
                rec[..16].copy_from_slice(&a.octets());
                16
            }
        };
        rec[alen..alen + 8].copy_from_slice(&file_ino.to_le_bytes());
        rec[alen + 8..alen + 12].copy_from_slice(&off.to_le_bytes());
        rec[alen + 12..alen + 16].copy_from_slice(&len.to_le_bytes());
        if alen == 4 {
            let r4: &[u8; RECORD4] = rec.first_chunk().unwrap_or(&[0; RECORD4]);
            out.extend_from_slice(r4);
        } else {
            out.extend_from_slice(&rec);
        }
        count += 1;
    }
    out[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
    if !in_v6 {
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    put_bytes(&mut out, &new_blob);
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

    /// A section of `u32 count` records of `size` bytes.
    fn records(&mut self, size: usize) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.take(n.checked_mul(size)?)
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
    let v4 = r.records(RECORD4)?;
    let v6 = r.records(RECORD6)?;
    let blob = String::from_utf8(r.bytes()?.to_vec()).ok()?;
    if !r.0.is_empty() {
        return None;
    }
    let mut entries: Vec<(IpAddr, u64, u32, u32)> =
        Vec::with_capacity(v4.len() / RECORD4 + v6.len() / RECORD6);
    let u32_at = |rec: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(rec.get(at..at + 4)?.try_into().ok()?))
    };
    let u64_at = |rec: &[u8], at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(rec.get(at..at + 8)?.try_into().ok()?))
    };
    let sections = [(v4, RECORD4, 4usize), (v6, RECORD6, 16usize)];
    let mut prev: Option<(bool, u128)> = None;
    for (records, size, alen) in sections {
        for rec in records.chunks_exact(size) {
            let ip = if alen == 4 {
                let a: [u8; 4] = rec.get(..4)?.try_into().ok()?;
                IpAddr::V4(Ipv4Addr::from(a))
            } else {
                let a: [u8; 16] = rec.get(..16)?.try_into().ok()?;
                IpAddr::V6(Ipv6Addr::from(a))
            };
            let file_ino = u64_at(rec, alen)?;
            let (off, len) = (u32_at(rec, alen + 8)?, u32_at(rec, alen + 12)?);
            let start = usize::try_from(off).ok()?;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            if end > blob.len() || !blob.is_char_boundary(start) || !blob.is_char_boundary(end) {
                return None;
            }
            let key = crate::ip::order_key(&ip);
            if prev.is_some_and(|p| p >= key) {
                return None;
            }
            prev = Some(key);
            entries.push((ip, file_ino, off, len));
        }
    }
    Some(DiskIndex {
        network,
        stamp,
        blob,
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
        let e = e
            .into_iter()
            .map(|(ip, ino, o)| (ip, ino, OwnerSrc::Str(o)));
        encode("net1", stamp, "", e)
    }

    #[test]
    fn round_trip() {
        let d = decode(&sample()).unwrap();
        assert_eq!(d.network, "net1");
        assert_eq!((d.stamp.dev, d.stamp.ino), (7, 8));
        assert_eq!((d.stamp.ctime, d.stamp.mtime), ((1, 2), (3, 4)));
        assert_eq!(d.entries.len(), 3);
        let (_, ino, off, len) = d.entries[1];
        assert_eq!((ino, d.owner(off, len)), (12, "c2"));
        let (ip, ino, off, len) = d.entries[2];
        assert_eq!(ip, "2001:db8::5".parse::<IpAddr>().unwrap());
        assert_eq!((ino, d.owner(off, len)), (13, "c3\r\nnet1"));
        assert_eq!(d.owner(d.entries[0].2, d.entries[0].3), "c1\r\neth0");
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

#[cfg(test)]
mod blob_tests {
    use super::*;

    #[test]
    fn owners_from_the_old_blob_are_kept_and_new_ones_appended() {
        let stamp = DirStamp {
            dev: 1,
            ino: 2,
            ctime: (0, 0),
            mtime: (0, 0),
        };
        let old = "gone\r\neth0c1\r\neth0";
        let e = vec![
            ("10.0.0.2".parse().unwrap(), 5, OwnerSrc::Blob(10, 8)),
            ("10.0.0.9".parse().unwrap(), 6, OwnerSrc::Str("c9\r\neth0")),
            ("fd00::1".parse().unwrap(), 7, OwnerSrc::Blob(0, 10)),
        ];
        let d = decode(&encode("n", stamp, old, e.into_iter())).unwrap();
        let owners: Vec<(String, u64, &str)> = d
            .entries
            .iter()
            .map(|&(ip, ino, off, len)| (ip.to_string(), ino, d.owner(off, len)))
            .collect();
        assert_eq!(
            owners,
            vec![
                ("10.0.0.2".to_string(), 5, "c1\r\neth0"),
                ("10.0.0.9".to_string(), 6, "c9\r\neth0"),
                ("fd00::1".to_string(), 7, "gone\r\neth0"),
            ]
        );
    }

    #[test]
    fn an_owner_range_outside_the_blob_or_inside_a_character_is_refused() {
        let stamp = DirStamp {
            dev: 1,
            ino: 2,
            ctime: (0, 0),
            mtime: (0, 0),
        };
        for (blob, off, len) in [("abc", 2, 2), ("\u{e9}x", 1, 1), ("abc", u32::MAX, 2)] {
            let e = vec![("10.0.0.2".parse().unwrap(), 5, OwnerSrc::Blob(off, len))];
            assert!(decode(&encode("n", stamp, blob, e.into_iter())).is_none());
        }
    }
}
