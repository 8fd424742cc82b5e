//! [`EtcdStore`]: reservations in etcd v3, for a network whose range spans
//! nodes. Every node's allocator reserves in the same keyspace, so no
//! address is handed out twice anywhere in the cluster.
//!
//! # Keys
//!
//! Under `PREFIX/NETWORK/` (the network's name percent-encoded):
//!
//! | key | value |
//! |---|---|
//! | `ips/v4/0a000005` (the address in fixed-width hex, so keys sort as addresses) | `{"ip":"10.0.0.5","containerID":"c1","ifname":"eth0","node":"n1"}` |
//! | `owners/ID/IFNAME/v4/0a000005` (id and ifname percent-encoded) | `10.0.0.5` |
//! | `cursor/N` | the last address reserved in range set N |
//! | `blocks/v4/0a0000` (the address without its last 8 bits) | 64 hex digits: a bit per address of the block, set when reserved; no key when none is |
//!
//! A reservation is one transaction: if the address key does not exist and
//! the block key is as last read, put the address key, its owner key, the
//! range set's cursor and the block with the address's bit set. A release
//! is one transaction too: if the address key was last written by that
//! reservation (its revision) and the block is as read, delete the address
//! and owner keys and clear the bit (deleting an empty block). So no reader
//! ever sees half a reservation, a release never removes an address
//! someone else has reserved since, and the blocks mirror the address
//! keys, which let the search for a free address read 4 block keys instead
//! of every taken address key in between, whatever the occupancy. A write
//! that fails only because its block changed is sent again with the block
//! as it is. The address keys stay the truth: a block found to say free
//! what is taken (written by something other than this store), or not
//! readable as a bitmap, is rebuilt from them, and a range set is declared
//! exhausted only after they confirm it ([`Store::recheck_free`]).
//!
//! There is no lock: allocators on many nodes race on the transaction, and
//! the loser moves on to another candidate, in host-local's round-robin
//! order after the cursor (a loser looks a few blocks further on first).
//!
//! # Failures
//!
//! Each call has the config's timeouts; an endpoint that cannot serve
//! (refused, timed out, no leader, no quorum) is skipped for the next one.
//! When none serves the error is [`StoreError::Unavailable`] (CNI code 11,
//! try again later), naming every endpoint and why. A reservation sent
//! again after an attempt that may have been applied recognises itself by
//! its owner, so a lost reply never strands an address.

mod client;
#[doc(hidden)]
pub mod fuzzing;
mod wire;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ip::{self, Family};
use crate::store::{owner_key, Reservation, Store, StoreError};
use client::Client;
use wire::{RangeReply, Read, TxnReply};

/// The key prefix when the config names none.
pub const DEFAULT_PREFIX: &str = "/netns-ipam";

/// How to reach the etcd cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// Client URLs (`http://10.0.0.1:2379`, `https://...`), tried in order
    /// from the last one that answered.
    pub endpoints: Vec<String>,
    /// The key prefix ([`DEFAULT_PREFIX`] by default).
    pub prefix: String,
    /// TLS settings for `https` endpoints.
    pub tls: Option<EtcdTls>,
    /// Time allowed to connect to one endpoint (TLS handshake included).
    pub dial_timeout: Duration,
    /// Time allowed for one request to one endpoint, reply included.
    pub request_timeout: Duration,
}

impl EtcdConfig {
    /// A config for `endpoints` with the default prefix, no TLS, a 2 s dial
    /// timeout and a 5 s request timeout.
    pub fn new(endpoints: Vec<String>) -> EtcdConfig {
        EtcdConfig {
            endpoints,
            prefix: DEFAULT_PREFIX.to_string(),
            tls: None,
            dial_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// TLS for `https` endpoints: the CA that signed the members' certificates
/// (the system's roots if unset) and a client certificate for etcd's
/// `--client-cert-auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcdTls {
    /// PEM file of the CA certificates to trust.
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate (chain).
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    pub key_file: Option<PathBuf>,
}

/// The value of an address key.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Owner {
    ip: String,
    #[serde(rename = "containerID")]
    container_id: String,
    ifname: String,
    node: String,
}

/// Reservations in etcd; see the [module docs](self).
#[derive(Debug)]
pub struct EtcdStore {
    client: Client,
    /// `PREFIX/NETWORK/`.
    base: String,
    node: String,
    /// What this store last read of an address key: the revision that
    /// wrote it and its owner key, for a release conditioned on both.
    seen: HashMap<IpAddr, (i64, Vec<u8>)>,
    /// Races for an address this operation lost to another allocator.
    lost_races: u32,
    /// Every range set's cursor, read in the same request as the first
    /// owner lookup of this operation (an ADD's duplicate check) and kept
    /// up to date by this operation's reservations: an ADD then reads the
    /// cursor without a request of its own. `None` until read.
    cursors: Option<HashMap<usize, IpAddr>>,
    /// The block bitmaps this operation read or wrote, with their
    /// revisions (the compare of the next write to each).
    blocks: HashMap<(Family, u128), Block>,
}

/// log2 of the addresses per block key.
const BLOCK_BITS: u32 = 8;
/// The offset of an address within its block.
const BLOCK_MASK: u128 = (1 << BLOCK_BITS) - 1;
/// Writes of one reservation or release that may lose to other writes to
/// the same block (the address itself still free) before the call gives up.
const BLOCK_TRIES: usize = 64;

/// One block bitmap: bit `i` of the 256 is set when the block's address `i`
/// is reserved. `rev` is the block key's mod revision as last read or
/// written (0: the key does not exist, the block is empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Block {
    rev: i64,
    bits: [u64; 4],
}

impl Block {
    fn taken(&self, i: usize) -> bool {
        (self.bits[i / 64] >> (i % 64)) & 1 == 1
    }

    fn with(&self, i: usize, taken: bool) -> [u64; 4] {
        let mut bits = self.bits;
        if taken {
            bits[i / 64] |= 1 << (i % 64);
        } else {
            bits[i / 64] &= !(1 << (i % 64));
        }
        bits
    }
}

/// A block's value, text as etcdctl prints it: 64 lowercase hex digits,
/// 32 bytes in order, address `i` of the block in bit `i % 8` (the least
/// significant first) of byte `i / 8`.
fn encode_block(bits: &[u64; 4]) -> Vec<u8> {
    let mut out = String::with_capacity(64);
    for byte in bits.iter().flat_map(|w| w.to_le_bytes()) {
        let _ = write!(out, "{byte:02x}");
    }
    out.into_bytes()
}

/// A block's bits, if `value` is one as [`encode_block`] writes it.
fn decode_block(value: &[u8]) -> Option<[u64; 4]> {
    if value.len() != 64 || !value.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut bits = [0u64; 4];
    for (j, pair) in value.chunks_exact(2).enumerate() {
        let byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        bits[j / 8] |= u64::from(byte) << (8 * (j % 8));
    }
    Some(bits)
}

/// `v4/0a0000`: the family and the block number (the address without its
/// last 8 bits) in fixed-width hex.
fn block_part(family: Family, block: u128) -> String {
    match family {
        Family::V4 => format!("v4/{block:06x}"),
        Family::V6 => format!("v6/{block:030x}"),
    }
}

/// The family and block of a key ending in [`block_part`], spelt exactly
/// as it writes it.
fn parse_block_part(key: &[u8]) -> Option<(Family, u128)> {
    match family_and_hex(key)? {
        ("v4", hex) if hex.len() == 6 => Some((Family::V4, u128::from_str_radix(hex, 16).ok()?)),
        ("v6", hex) if hex.len() == 30 => Some((Family::V6, u128::from_str_radix(hex, 16).ok()?)),
        _ => None,
    }
}

/// The last two `/`-separated fields of `key`, a family and lowercase hex
/// digits (nothing else), as [`addr_part`] and [`block_part`] end keys.
fn family_and_hex(key: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(key).ok()?;
    let mut it = text.rsplitn(3, '/');
    let hex = it.next()?;
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    Some((it.next()?, hex))
}

/// A txn compare: block `key` is as last seen (`rev`; 0: absent).
fn block_is(key: &[u8], rev: i64) -> serde_json::Value {
    if rev == 0 {
        wire::absent(key)
    } else {
        wire::mod_is(key, rev)
    }
}

/// A txn op: write block `key` (an empty block is no key at all, so a
/// network whose reservations are all released holds no block keys).
fn block_write(key: &[u8], bits: &[u64; 4]) -> serde_json::Value {
    if *bits == [0; 4] {
        wire::delete(key)
    } else {
        wire::put(key, &encode_block(bits))
    }
}

/// etcd's keys are bytes; ours are text with every byte outside
/// `[A-Za-z0-9._-]` percent-encoded, so `/` separates fields only.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `v4/0a000005`: the family and the address in fixed-width hex.
fn addr_part(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => format!("v4/{:08x}", u32::from(*a)),
        IpAddr::V6(a) => format!("v6/{:032x}", u128::from(*a)),
    }
}

/// The address of a key ending in [`addr_part`], spelt exactly as
/// [`addr_part`] writes it (lowercase hex digits, nothing else): a key
/// another spelling of the same address (`0A000005`, `+a000005`, which
/// `from_str_radix` takes) is not ours to interpret, since the store reads,
/// conditions on and deletes an address's one key (found by the etcd_wire
/// fuzz target).
fn parse_addr_part(key: &[u8]) -> Option<IpAddr> {
    match family_and_hex(key)? {
        ("v4", hex) if hex.len() == 8 => u32::from_str_radix(hex, 16)
            .ok()
            .map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        ("v6", hex) if hex.len() == 32 => u128::from_str_radix(hex, 16)
            .ok()
            .map(|v| IpAddr::V6(Ipv6Addr::from(v))),
        _ => None,
    }
}

/// The address a cursor key's value names (as host-local's
/// `last_reserved_ip.N` holds it: the address as text); `None` for
/// anything else.
fn parse_cursor(value: &[u8]) -> Option<IpAddr> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

/// The range set a cursor key (`...cursor/N`) belongs to, spelt exactly as
/// [`EtcdStore`] writes it (decimal, no sign, no leading zero).
fn parse_cursor_key(key: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(key).ok()?;
    let (head, n) = text.rsplit_once('/')?;
    if !head.ends_with("/cursor") && head != "cursor" {
        return None;
    }
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || (n.len() > 1 && n.starts_with('0'))
    {
        return None;
    }
    n.parse().ok()
}

/// Page size of full listings (GC).
const PAGE: i64 = 1000;
/// Keys read per step when looking for a free address.
const SCAN: i64 = 256;

impl EtcdStore {
    /// A store for `network`'s reservations made from `node`. Nothing is
    /// sent yet: an unreachable cluster shows at the first operation (or
    /// [`EtcdStore::status`]).
    pub fn open(conf: &EtcdConfig, network: &str, node: &str) -> Result<EtcdStore, StoreError> {
        if network.is_empty() || network.contains('\0') {
            return Err(StoreError::InvalidNetworkName(network.to_string()));
        }
        if conf.endpoints.is_empty() {
            return Err(StoreError::Remote("etcd: no endpoints".to_string()));
        }
        let prefix = conf.prefix.trim_end_matches('/');
        Ok(EtcdStore {
            client: Client::new(conf)?,
            base: format!("{prefix}/{}/", enc(network)),
            node: node.to_string(),
            seen: HashMap::new(),
            lost_races: 0,
            cursors: None,
            blocks: HashMap::new(),
        })
    }

    /// The node this store reserves for.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The key prefix of this network's entries (`PREFIX/NETWORK/`).
    pub fn key_prefix(&self) -> &str {
        &self.base
    }

    /// Whether the cluster serves: a linearizable read, which needs a
    /// leader and a quorum.
    pub fn status(&mut self) -> Result<(), StoreError> {
        let key = self.cursor_key(0);
        self.range(&key, None, 1, true, Read::Linearizable)
            .map(|_| ())
    }

    fn ip_key(&self, ip: &IpAddr) -> Vec<u8> {
        format!("{}ips/{}", self.base, addr_part(ip)).into_bytes()
    }

    fn owner_prefix(&self, id: &str, ifname: &str) -> String {
        format!("{}owners/{}/{}/", self.base, enc(id), enc(ifname))
    }

    fn cursor_key(&self, range_id: usize) -> Vec<u8> {
        format!("{}cursor/{range_id}", self.base).into_bytes()
    }

    fn range(
        &mut self,
        key: &[u8],
        end: Option<&[u8]>,
        limit: i64,
        keys_only: bool,
        read: Read,
    ) -> Result<RangeReply, StoreError> {
        let body = wire::range(key, end, limit, keys_only, read);
        Ok(self.client.call("/v3/kv/range", &body)?.body)
    }

    fn txn(&mut self, body: &serde_json::Value) -> Result<(TxnReply, bool), StoreError> {
        let r = self.client.call::<TxnReply>("/v3/kv/txn", body)?;
        Ok((r.body, r.resent))
    }

    fn block_key(&self, family: Family, block: u128) -> Vec<u8> {
        format!("{}blocks/{}", self.base, block_part(family, block)).into_bytes()
    }

    /// How many blocks past its own `next_free` looks first: none, unless
    /// this operation lost a race (see [`Store::next_free`]); then 1 to 3,
    /// by the node's name and the number of races lost.
    fn skip_blocks(&self) -> u128 {
        if self.lost_races == 0 {
            return 0;
        }
        let mut h = crate::store::FastHasher::default();
        std::hash::Hasher::write(&mut h, self.node.as_bytes());
        std::hash::Hasher::write_u32(&mut h, self.lost_races);
        1 + u128::from(std::hash::Hasher::finish(&h) % 3)
    }

    /// The first address of `from..=last` free by the block bitmaps,
    /// looking at no more than `max_blocks` blocks (4, then 64 per read).
    /// Blocks this operation already holds (read, or returned by a failed
    /// write) are not read again.
    fn first_free_by_blocks(
        &mut self,
        family: Family,
        from: u128,
        last: u128,
        max_blocks: u128,
    ) -> Result<Option<u128>, StoreError> {
        let mut want = from;
        let stop = (from >> BLOCK_BITS).saturating_add(max_blocks - 1);
        let mut count = 4u128;
        loop {
            let b0 = want >> BLOCK_BITS;
            if b0 > stop {
                return Ok(None);
            }
            let b1 = b0
                .saturating_add(count - 1)
                .min(last >> BLOCK_BITS)
                .min(stop);
            let mut b = b0;
            while self.blocks.contains_key(&(family, b)) && b < b1 {
                b += 1;
            }
            if !self.blocks.contains_key(&(family, b)) {
                self.read_blocks(family, b0, b1)?;
            }
            let wend = last.min((b1 << BLOCK_BITS) | BLOCK_MASK);
            while want <= wend {
                let bits = self
                    .blocks
                    .get(&(family, want >> BLOCK_BITS))
                    .map_or([0; 4], |k| k.bits);
                let i = (want & BLOCK_MASK) as usize;
                if i % 64 == 0 && bits[i / 64] == u64::MAX && want | 63 <= wend {
                    // 64 addresses taken: one step.
                    if want | 63 == last {
                        return Ok(None);
                    }
                    want = (want | 63) + 1;
                    continue;
                }
                if (bits[i / 64] >> (i % 64)) & 1 == 0 {
                    return Ok(Some(want));
                }
                if want == last {
                    return Ok(None);
                }
                want += 1;
            }
            count = 64;
        }
    }

    /// Read blocks `b0..=b1` (one request; serializable: a block a little
    /// behind only makes a reservation's compare fail) into the cache. A
    /// missing key is an empty block; a value this store cannot read is
    /// rebuilt from the address keys.
    fn read_blocks(&mut self, family: Family, b0: u128, b1: u128) -> Result<(), StoreError> {
        let start = self.block_key(family, b0);
        let mut end = self.block_key(family, b1);
        end.push(0);
        let page = self.range(&start, Some(&end), 0, false, Read::Serializable)?;
        let mut b = b0;
        loop {
            self.blocks.insert((family, b), Block::default());
            if b == b1 {
                break;
            }
            b += 1;
        }
        for kv in page.kvs {
            let Some((f, b)) = parse_block_part(&kv.key) else {
                continue;
            };
            if f != family || b < b0 || b > b1 {
                continue;
            }
            self.note_block(f, b, kv.mod_revision, &kv.value)?;
        }
        Ok(())
    }

    /// Cache block `b` as read (revision `rev`, value `value`).
    fn note_block(&mut self, f: Family, b: u128, rev: i64, value: &[u8]) -> Result<(), StoreError> {
        let bits = match decode_block(value) {
            Some(bits) => bits,
            None => self.bits_from_keys(f, b)?,
        };
        self.blocks.insert((f, b), Block { rev, bits });
        Ok(())
    }

    /// Block `b`'s bits as its address keys say (linearizable), for a
    /// block whose bitmap is unreadable or was found wrong.
    fn bits_from_keys(&mut self, f: Family, b: u128) -> Result<[u64; 4], StoreError> {
        let first = ip::from_u128(f, b << BLOCK_BITS);
        let last = ip::from_u128(f, (b << BLOCK_BITS) | BLOCK_MASK);
        let mut start = self.ip_key(&first);
        let mut end = self.ip_key(&last);
        end.push(0);
        let mut bits = [0u64; 4];
        loop {
            let page = self.range(&start, Some(&end), SCAN, true, Read::Linearizable)?;
            for kv in &page.kvs {
                if let Some(ip) = parse_addr_part(&kv.key) {
                    let v = ip::to_u128(ip);
                    if Family::of(&ip) == f && v >> BLOCK_BITS == b {
                        let i = (v & BLOCK_MASK) as usize;
                        bits[i / 64] |= 1 << (i % 64);
                    }
                }
            }
            match (page.more, page.kvs.last()) {
                (true, Some(kv)) => {
                    start = kv.key.clone();
                    start.push(0);
                }
                _ => return Ok(bits),
            }
        }
    }

    /// The block was found wrong (an address key it says is free exists):
    /// rebuild it from the address keys and write it back if nobody wrote
    /// it meanwhile.
    fn repair_block(&mut self, f: Family, b: u128) -> Result<(), StoreError> {
        let rev = self.blocks.get(&(f, b)).map_or(0, |k| k.rev);
        let bits = self.bits_from_keys(f, b)?;
        let key = self.block_key(f, b);
        let body = wire::txn(
            vec![block_is(&key, rev)],
            vec![block_write(&key, &bits)],
            vec![],
        );
        let (reply, _) = self.txn(&body)?;
        if !reply.succeeded {
            // Written meanwhile: read again when next needed.
            self.blocks.remove(&(f, b));
            return Ok(());
        }
        let rev = if bits == [0; 4] {
            0
        } else {
            reply.header.revision
        };
        self.blocks.insert((f, b), Block { rev, bits });
        Ok(())
    }

    /// A reservation or release whose compare failed returns the address
    /// key and block `b` as they are: cache the block, return the address
    /// key (`None`: it does not exist).
    fn failed_write(
        &mut self,
        reply: TxnReply,
        f: Family,
        b: u128,
    ) -> Result<Option<wire::Kv>, StoreError> {
        let mut ranges = reply.responses.into_iter().filter_map(|r| r.response_range);
        let (Some(addr), Some(block)) = (ranges.next(), ranges.next()) else {
            return Err(StoreError::Remote(
                "etcd /v3/kv/txn: a failed write came back without its reads".to_string(),
            ));
        };
        match block.kvs.into_iter().next() {
            Some(kv) => self.note_block(f, b, kv.mod_revision, &kv.value)?,
            None => {
                self.blocks.insert((f, b), Block::default());
            }
        }
        Ok(addr.kvs.into_iter().next())
    }

    /// The cached block of `ip`, read first if this operation has not.
    fn block_of(&mut self, ip: &IpAddr) -> Result<(Family, u128, usize, Block), StoreError> {
        let f = Family::of(ip);
        let v = ip::to_u128(*ip);
        let b = v >> BLOCK_BITS;
        if !self.blocks.contains_key(&(f, b)) {
            self.read_blocks(f, b, b)?;
        }
        let blk = self.blocks.get(&(f, b)).copied().unwrap_or_default();
        Ok((f, b, (v & BLOCK_MASK) as usize, blk))
    }

    /// The first free address of `from..=last` read from the address keys
    /// themselves, one window of [`SCAN`] addresses at a time: what the
    /// block bitmaps are checked against when they find nothing.
    fn scan_keys(
        &mut self,
        family: Family,
        from: u128,
        last: u128,
    ) -> Result<Option<IpAddr>, StoreError> {
        let mut want = from;
        loop {
            // One window of SCAN addresses at a time: etcd counts every key
            // of a range it is asked for, whatever the limit, so the range
            // itself must be short for the cost not to grow with occupancy.
            let wend = want.saturating_add(SCAN as u128 - 1).min(last);
            let mut start = self.ip_key(&ip::from_u128(family, want));
            let mut end = self.ip_key(&ip::from_u128(family, wend));
            end.push(0);
            loop {
                // Serializable: an address taken a moment ago that this
                // member has not applied yet only makes the reservation's
                // transaction fail, and the allocator moves on.
                let page = self.range(&start, Some(&end), SCAN, true, Read::Serializable)?;
                for kv in &page.kvs {
                    let Some(taken) = parse_addr_part(&kv.key).map(ip::to_u128) else {
                        continue;
                    };
                    if want < taken {
                        return Ok(Some(ip::from_u128(family, want)));
                    }
                    if taken == want {
                        if want == last {
                            return Ok(None);
                        }
                        want += 1;
                    }
                }
                // More keys in the window than a page (keys that are not
                // addresses among them): read on after the last one.
                match (page.more, page.kvs.last()) {
                    (true, Some(kv)) => {
                        start = kv.key.clone();
                        start.push(0);
                    }
                    _ => break,
                }
            }
            if want <= wend {
                return Ok(Some(ip::from_u128(family, want)));
            }
        }
    }

    /// Every reservation of this network (all nodes), with the node that
    /// made it, in address order.
    pub fn reservations_with_node(&mut self) -> Result<Vec<(Reservation, String)>, StoreError> {
        let start = format!("{}ips/", self.base).into_bytes();
        let end = wire::prefix_end(&start);
        let mut from = start;
        let mut out = Vec::new();
        loop {
            let page = self.range(&from, Some(&end), PAGE, false, Read::Linearizable)?;
            for kv in &page.kvs {
                let (Some(ip), Ok(o)) = (
                    parse_addr_part(&kv.key),
                    serde_json::from_slice::<Owner>(&kv.value),
                ) else {
                    // Not ours to interpret: never released by GC.
                    continue;
                };
                let owner_k = format!(
                    "{}{}",
                    self.owner_prefix(&o.container_id, &o.ifname),
                    addr_part(&ip)
                );
                self.seen
                    .insert(ip, (kv.mod_revision, owner_k.into_bytes()));
                out.push((
                    Reservation {
                        ip,
                        owner: owner_key(&o.container_id, &o.ifname),
                    },
                    o.node,
                ));
            }
            match (page.more, page.kvs.last()) {
                (true, Some(last)) => {
                    from = last.key.clone();
                    from.push(0);
                }
                _ => break,
            }
        }
        Ok(out)
    }
}

impl Store for EtcdStore {
    /// No lock: every reservation is a transaction of its own. (The start
    /// of an operation: no race lost yet.)
    fn lock(&mut self) -> Result<(), StoreError> {
        self.lost_races = 0;
        self.cursors = None;
        self.blocks.clear();
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
        let key = self.ip_key(&ip);
        let owner_k = format!("{}{}", self.owner_prefix(id.trim(), ifname), addr_part(&ip));
        let value = serde_json::to_vec(&Owner {
            ip: ip.to_string(),
            container_id: id.trim().to_string(),
            ifname: ifname.to_string(),
            node: self.node.clone(),
        })
        .map_err(|e| StoreError::Remote(e.to_string()))?;
        let text = ip.to_string();
        let (f, b, i, mut blk) = self.block_of(&ip)?;
        let bkey = self.block_key(f, b);
        for _ in 0..BLOCK_TRIES {
            let bits = blk.with(i, true);
            let body = wire::txn(
                vec![wire::absent(&key), block_is(&bkey, blk.rev)],
                vec![
                    wire::put(&key, &value),
                    wire::put(owner_k.as_bytes(), text.as_bytes()),
                    wire::put(&self.cursor_key(range_id), text.as_bytes()),
                    block_write(&bkey, &bits),
                ],
                vec![wire::get(&key), wire::get(&bkey)],
            );
            let (reply, resent) = self.txn(&body)?;
            let won = if reply.succeeded {
                let rev = reply.header.revision;
                self.blocks.insert((f, b), Block { rev, bits });
                Some(rev)
            } else {
                match self.failed_write(reply, f, b)? {
                    // Taken by this very reservation: an earlier attempt of
                    // it was applied before its reply was lost.
                    Some(kv) if resent && kv.value == value => Some(kv.mod_revision),
                    Some(_) if !self.blocks.get(&(f, b)).is_some_and(|k| k.taken(i)) => {
                        // The block says free what is taken: written by
                        // something other than this store. Not a race: the
                        // next address is the next free one.
                        self.repair_block(f, b)?;
                        return Ok(false);
                    }
                    Some(_) => {
                        // Lost to another allocator: the next free address
                        // this operation asks for is looked for further on
                        // (see `next_free`).
                        self.lost_races = self.lost_races.saturating_add(1);
                        return Ok(false);
                    }
                    None => None,
                }
            };
            if let Some(rev) = won {
                self.seen.insert(ip, (rev, owner_k.into_bytes()));
                self.lost_races = 0;
                if let Some(c) = &mut self.cursors {
                    c.insert(range_id, ip);
                }
                return Ok(true);
            }
            // Only the block changed (another address of it was reserved
            // or released meanwhile): again, with the block as it is now.
            blk = self.blocks.get(&(f, b)).copied().unwrap_or_default();
        }
        Err(StoreError::Unavailable(format!(
            "etcd: the block of {ip} changed under {BLOCK_TRIES} reservation attempts in a row"
        )))
    }

    fn last_reserved_ip(&mut self, range_id: usize) -> Result<Option<IpAddr>, StoreError> {
        if let Some(c) = &self.cursors {
            return Ok(c.get(&range_id).copied());
        }
        // Serializable: a cursor a little behind changes only which free
        // address is tried first.
        let key = self.cursor_key(range_id);
        let r = self.range(&key, None, 1, false, Read::Serializable)?;
        Ok(r.kvs.first().and_then(|kv| parse_cursor(&kv.value)))
    }

    fn release_ip(&mut self, ip: IpAddr) -> Result<bool, StoreError> {
        let ip = ip::canonical(ip);
        let key = self.ip_key(&ip);
        let (rev, owner_k) = match self.seen.get(&ip) {
            Some(s) => s.clone(),
            None => {
                let r = self.range(&key, None, 1, false, Read::Linearizable)?;
                let Some(kv) = r.kvs.first() else {
                    return Ok(false);
                };
                let Ok(o) = serde_json::from_slice::<Owner>(&kv.value) else {
                    return Err(StoreError::Remote(format!(
                        "etcd: {}: not a reservation this store can read",
                        String::from_utf8_lossy(&key)
                    )));
                };
                let owner_k = format!(
                    "{}{}",
                    self.owner_prefix(&o.container_id, &o.ifname),
                    addr_part(&ip)
                );
                (kv.mod_revision, owner_k.into_bytes())
            }
        };
        let (f, b, i, mut blk) = self.block_of(&ip)?;
        let bkey = self.block_key(f, b);
        for _ in 0..BLOCK_TRIES {
            let bits = blk.with(i, false);
            let body = wire::txn(
                vec![wire::mod_is(&key, rev), block_is(&bkey, blk.rev)],
                vec![
                    wire::delete(&key),
                    wire::delete(&owner_k),
                    block_write(&bkey, &bits),
                ],
                vec![wire::get(&key), wire::get(&bkey)],
            );
            let (reply, resent) = self.txn(&body)?;
            if reply.succeeded {
                self.seen.remove(&ip);
                let rev = if bits == [0; 4] {
                    0
                } else {
                    reply.header.revision
                };
                self.blocks.insert((f, b), Block { rev, bits });
                return Ok(true);
            }
            match self.failed_write(reply, f, b)? {
                // Gone: by this release if an earlier attempt may have been
                // applied.
                None => {
                    self.seen.remove(&ip);
                    return Ok(resent);
                }
                // Someone else's reservation now.
                Some(kv) if kv.mod_revision != rev => {
                    self.seen.remove(&ip);
                    return Ok(false);
                }
                // Only the block changed: again, with the block as it is.
                Some(_) => blk = self.blocks.get(&(f, b)).copied().unwrap_or_default(),
            }
        }
        Err(StoreError::Unavailable(format!(
            "etcd: the block of {ip} changed under {BLOCK_TRIES} release attempts in a row"
        )))
    }

    fn ips_of_owner(&mut self, owner: &str) -> Result<Vec<IpAddr>, StoreError> {
        // Only `ID\r\nIFNAME` owners are ever written here (no legacy
        // id-only reservations in etcd).
        let Some((id, ifname)) = owner.split_once("\r\n") else {
            return Ok(Vec::new());
        };
        let prefix = self.owner_prefix(id, ifname).into_bytes();
        let end = wire::prefix_end(&prefix);
        // Linearizable: what this owner holds decides host-local's
        // duplicate refusal and what DEL releases.
        let r = if self.cursors.is_some() {
            self.range(&prefix, Some(&end), 0, true, Read::Linearizable)?
        } else {
            // The first lookup of the operation also reads every cursor, in
            // one read-only txn (linearizable too): an ADD's next request is
            // then the search for a free address.
            let cursors = format!("{}cursor/", self.base).into_bytes();
            let cursors_end = wire::prefix_end(&cursors);
            let body = wire::txn(
                vec![],
                vec![
                    wire::range_op(&prefix, Some(&end), 0, true),
                    wire::range_op(&cursors, Some(&cursors_end), 0, false),
                ],
                vec![],
            );
            let (reply, _) = self.txn(&body)?;
            let mut ranges = reply.responses.into_iter().filter_map(|r| r.response_range);
            let (Some(owned), Some(cur)) = (ranges.next(), ranges.next()) else {
                return Err(StoreError::Remote(
                    "etcd /v3/kv/txn: a read of two ranges came back without both".to_string(),
                ));
            };
            self.cursors = Some(
                cur.kvs
                    .iter()
                    .filter_map(|kv| Some((parse_cursor_key(&kv.key)?, parse_cursor(&kv.value)?)))
                    .collect(),
            );
            owned
        };
        let mut out = Vec::with_capacity(r.kvs.len());
        for kv in r.kvs {
            if let Some(ip) = parse_addr_part(&kv.key) {
                self.seen.insert(ip, (kv.mod_revision, kv.key));
                out.push(ip);
            }
        }
        out.sort();
        Ok(out)
    }

    /// The first free address, as host-local picks it, read from the block
    /// bitmaps (4 blocks, then 64 at a time): one short read whatever the
    /// occupancy. After this allocation lost a race for an address (another
    /// node reserved it first), the first free one 1 to 3 blocks further
    /// on (by the node's name and the number of races lost), if any within
    /// the blocks read: the nodes that lost to the same winner would
    /// otherwise all go for the same next address, or at least the same
    /// block, whose bitmap each of their reservations rewrites, and lose
    /// again. Nothing free by the bitmaps is `None`;
    /// [`Store::recheck_free`] then asks the address keys.
    fn next_free(&mut self, from: IpAddr, to: IpAddr) -> Result<Option<IpAddr>, StoreError> {
        let (from, to) = (ip::canonical(from), ip::canonical(to));
        let family = Family::of(&from);
        if family != Family::of(&to) || ip::to_u128(from) > ip::to_u128(to) {
            return Ok(None);
        }
        let (from, last) = (ip::to_u128(from), ip::to_u128(to));
        let k = self.skip_blocks();
        if k > 0 {
            let b = (from >> BLOCK_BITS).saturating_add(k);
            if b <= last >> BLOCK_BITS {
                let start = b << BLOCK_BITS;
                if let Some(v) = self.first_free_by_blocks(family, start, last, 4 - k)? {
                    return Ok(Some(ip::from_u128(family, v)));
                }
            }
        }
        Ok(self
            .first_free_by_blocks(family, from, last, u128::MAX)?
            .map(|v| ip::from_u128(family, v)))
    }

    /// The bitmaps found nothing free: read the address keys, which are the
    /// truth (a bitmap is only wrong after a write by something other than
    /// this store: a hand edit, another program).
    fn recheck_free(&mut self, from: IpAddr, to: IpAddr) -> Result<Option<IpAddr>, StoreError> {
        let (from, to) = (ip::canonical(from), ip::canonical(to));
        let family = Family::of(&from);
        if family != Family::of(&to) || ip::to_u128(from) > ip::to_u128(to) {
            return Ok(None);
        }
        self.scan_keys(family, ip::to_u128(from), ip::to_u128(to))
    }

    fn reservations(&mut self) -> Result<Vec<Reservation>, StoreError> {
        Ok(self
            .reservations_with_node()?
            .into_iter()
            .map(|(r, _)| r)
            .collect())
    }

    /// GC considers this node's reservations only: another node's
    /// attachments are not in this node's valid list.
    fn gc_candidates(&mut self) -> Result<Vec<Reservation>, StoreError> {
        let node = self.node.clone();
        Ok(self
            .reservations_with_node()?
            .into_iter()
            .filter(|(_, n)| *n == node)
            .map(|(r, _)| r)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_addresses_and_parse_back() {
        let ips: Vec<IpAddr> = [
            "10.0.0.1",
            "10.0.0.2",
            "10.0.1.0",
            "192.168.0.1",
            "255.255.255.255",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let keys: Vec<String> = ips.iter().map(addr_part).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        for (ip, k) in ips.iter().zip(&keys) {
            assert_eq!(
                parse_addr_part(format!("/p/n/ips/{k}").as_bytes()),
                Some(*ip)
            );
        }
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(addr_part(&v6), "v6/20010db8000000000000000000000001");
        assert_eq!(parse_addr_part(addr_part(&v6).as_bytes()), Some(v6));
        for bad in [
            "v4/0a00000",
            "v4/0a0000zz",
            "v5/0a000001",
            "0a000001",
            "v6/0a000001",
            // Other spellings of 10.0.0.5: not the key the store writes.
            "v4/0A000005",
            "v4/+a000005",
            "v6/+0010db8000000000000000000000001",
        ] {
            assert_eq!(parse_addr_part(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn blocks_encode_and_parse_only_as_written() {
        let mut b = Block::default();
        for i in [0, 1, 63, 64, 200, 255] {
            b.bits = b.with(i, true);
        }
        assert!(b.taken(63) && b.taken(64) && b.taken(255) && !b.taken(2));
        let v = encode_block(&b.bits);
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            "0300000000000080010000000000000000000000000000000001000000000080"
        );
        assert_eq!(decode_block(&v), Some(b.bits));
        assert_eq!(decode_block(&v[..63]), None);
        let mut upper = v.clone();
        upper[1] = b'A';
        assert_eq!(decode_block(&upper), None);
        upper[1] = b'a';
        assert!(decode_block(&upper).is_some());
        assert_eq!(decode_block(b""), None);
        b.bits = b.with(255, false);
        assert!(!b.taken(255));
        assert_eq!(block_part(Family::V4, 0x0a0000), "v4/0a0000");
        assert_eq!(
            parse_block_part(b"/p/n/blocks/v4/0a0000"),
            Some((Family::V4, 0x0a0000))
        );
        let v6 = 0x0020_010d_b800_0000_0000_0000_0000_0000_u128;
        assert_eq!(
            parse_block_part(block_part(Family::V6, v6).as_bytes()),
            Some((Family::V6, v6))
        );
        for bad in [
            "v4/0A0000",
            "v4/0a00000",
            "v4/+a0000",
            "v6/0a0000",
            "v5/0a0000",
        ] {
            assert_eq!(parse_block_part(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn cursor_keys_parse_only_as_written() {
        let s = EtcdStore::open(
            &EtcdConfig::new(vec!["http://127.0.0.1:1".into()]),
            "n",
            "x",
        )
        .unwrap();
        for id in [0usize, 7, 12] {
            assert_eq!(parse_cursor_key(&s.cursor_key(id)), Some(id));
        }
        for bad in [
            "/p/n/cursor/",
            "/p/n/cursor/01",
            "/p/n/cursor/+1",
            "/p/n/cursor/x",
            "/p/n/cursors/1",
            "/p/n/ips/v4/0a000001",
        ] {
            assert_eq!(parse_cursor_key(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn names_are_escaped_so_slash_only_separates() {
        assert_eq!(enc("c1_x.y-z"), "c1_x.y-z");
        assert_eq!(enc("a/b c%"), "a%2Fb%20c%25");
        assert_eq!(enc("é"), "%C3%A9");
    }

    #[test]
    fn open_refuses_what_cannot_name_keys() {
        let c = EtcdConfig::new(vec!["http://127.0.0.1:1".into()]);
        assert!(matches!(
            EtcdStore::open(&c, "", "n"),
            Err(StoreError::InvalidNetworkName(_))
        ));
        let none = EtcdConfig::new(vec![]);
        assert!(EtcdStore::open(&none, "net", "n").is_err());
        let s = EtcdStore::open(&c, "a/b", "n").unwrap();
        assert_eq!(s.key_prefix(), "/netns-ipam/a%2Fb/");
    }

    #[test]
    fn an_unreachable_cluster_is_unavailable_naming_each_endpoint() {
        // Port 1 on loopback: nothing listens there (connection refused).
        let mut c = EtcdConfig::new(vec![
            "http://127.0.0.1:1".into(),
            "http://127.0.0.1:2".into(),
        ]);
        c.request_timeout = Duration::from_millis(200);
        let mut s = EtcdStore::open(&c, "net", "n").unwrap();
        let e = s.status().unwrap_err();
        let StoreError::Unavailable(msg) = &e else {
            panic!("{e:?}")
        };
        assert!(
            msg.contains("http://127.0.0.1:1: connection refused"),
            "{msg}"
        );
        assert!(
            msg.contains("http://127.0.0.1:2: connection refused"),
            "{msg}"
        );
    }
}
