//! Entry points for the fuzz targets in `fuzz/` and the replay tests: the
//! etcd JSON gateway's replies as [`EtcdStore`](super::EtcdStore) reads
//! them. Not part of the API.

use super::client::refusal;
use super::wire::{ErrorReply, Kv, RangeReply, TxnReply};
use super::{
    addr_part, block_part, decode_block, encode_block, parse_addr_part, parse_block_part,
    parse_cursor, parse_cursor_key, Owner,
};

/// Treat `data` as the body of every reply the store reads: a range
/// (`/v3/kv/range`), a txn (`/v3/kv/txn`, and each of its range
/// responses), an error body of a refused request (HTTP 400, 503), and
/// each key-value pair of what parses as the store reads it (address key,
/// owner value, cursor key and value, block key and bitmap). An address or
/// block read from a key, and a bitmap read from a value, is written back
/// as the same bytes. Must never panic.
pub fn reply(data: &[u8]) {
    if let Ok(r) = serde_json::from_slice::<RangeReply>(data) {
        range(&r);
    }
    if let Ok(t) = serde_json::from_slice::<TxnReply>(data) {
        let _ = (t.succeeded, t.header.revision);
        if let Some(r) = t.range() {
            range(r);
        }
        // The owner lookup's txn: every range response in turn.
        for r in t.responses.iter().filter_map(|r| r.response_range.as_ref()) {
            range(r);
        }
    }
    let _ = serde_json::from_slice::<ErrorReply>(data);
    for status in [400, 404, 500, 503] {
        let (msg, retryable) = refusal(status, data);
        assert!(!msg.is_empty());
        if status == 503 {
            assert!(retryable, "a 503 is another member's to serve");
        }
    }
}

fn range(r: &RangeReply) {
    for kv in &r.kvs {
        entry(kv);
    }
    let _ = (r.more, r.kvs.last().map(|kv| &kv.key));
}

fn entry(kv: &Kv) {
    if let Some(ip) = parse_addr_part(&kv.key) {
        // The key this store would have written for that address: a key
        // read as an address is that address's one key, so a release
        // conditioned on it removes exactly what was read.
        let canonical = addr_part(&ip);
        assert!(
            kv.key.ends_with(canonical.as_bytes()),
            "key {:?} read as {ip}, whose key ends {canonical:?}",
            String::from_utf8_lossy(&kv.key)
        );
    }
    let _ = serde_json::from_slice::<Owner>(&kv.value);
    let _ = parse_cursor(&kv.value);
    if let Some(n) = parse_cursor_key(&kv.key) {
        // Read back only as written: `cursor/N` in decimal.
        assert!(kv.key.ends_with(format!("cursor/{n}").as_bytes()));
    }
    if let Some((f, b)) = parse_block_part(&kv.key) {
        assert!(kv.key.ends_with(block_part(f, b).as_bytes()));
    }
    if let Some(bits) = decode_block(&kv.value) {
        // A value read as a bitmap is the value that bitmap is written as.
        assert_eq!(encode_block(&bits), kv.value);
    }
    let _ = kv.mod_revision;
}
