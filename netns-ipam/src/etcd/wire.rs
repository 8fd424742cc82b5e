//! etcd v3's JSON gateway on the wire: keys and values in base64, int64
//! fields as decimal strings (grpc-gateway's encoding), fields at their
//! default value left out of replies.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

/// Bytes as the gateway wants them.
pub(crate) fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn de_b64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = String::deserialize(d)?;
    STANDARD
        .decode(s.as_bytes())
        .map_err(serde::de::Error::custom)
}

/// An int64 the gateway prints as a string (and, leniently, as a number).
fn de_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        S(String),
        N(i64),
    }
    match Num::deserialize(d)? {
        Num::N(n) => Ok(n),
        Num::S(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

/// A reply's header.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Header {
    #[serde(default, deserialize_with = "de_i64")]
    pub revision: i64,
}

/// One key-value pair.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Kv {
    #[serde(default, deserialize_with = "de_b64")]
    pub key: Vec<u8>,
    #[serde(default, deserialize_with = "de_b64")]
    pub value: Vec<u8>,
    #[serde(default, deserialize_with = "de_i64")]
    pub mod_revision: i64,
}

/// A range reply (`/v3/kv/range`, or a txn's `response_range`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RangeReply {
    #[serde(default)]
    pub kvs: Vec<Kv>,
    #[serde(default)]
    pub more: bool,
}

/// One response of a txn: only ranges are read back.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ResponseOp {
    #[serde(default)]
    pub response_range: Option<RangeReply>,
}

/// A txn reply (`/v3/kv/txn`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TxnReply {
    #[serde(default)]
    pub header: Header,
    #[serde(default)]
    pub succeeded: bool,
    #[serde(default)]
    pub responses: Vec<ResponseOp>,
}

impl TxnReply {
    /// The first range response of the branch that ran.
    pub fn range(&self) -> Option<&RangeReply> {
        self.responses
            .iter()
            .find_map(|r| r.response_range.as_ref())
    }
}

/// The gateway's error body: `{"error": ..., "message": ..., "code": N}`
/// (a gRPC status code).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorReply {
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: i64,
}

/// How a range is read: linearizable (through the leader, after every
/// committed write) or serializable (from the member's own state, possibly
/// a little behind; no consensus round).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    Linearizable,
    Serializable,
}

/// A range request body.
pub(crate) fn range(
    key: &[u8],
    range_end: Option<&[u8]>,
    limit: i64,
    keys_only: bool,
    read: Read,
) -> Value {
    let mut v = json!({ "key": b64(key) });
    if read == Read::Serializable {
        v["serializable"] = json!(true);
    }
    if let Some(end) = range_end {
        v["range_end"] = json!(b64(end));
    }
    if limit > 0 {
        v["limit"] = json!(limit.to_string());
    }
    if keys_only {
        v["keys_only"] = json!(true);
    }
    v
}

/// A txn compare: the key does not exist (its create revision is 0).
pub(crate) fn absent(key: &[u8]) -> Value {
    json!({ "key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0" })
}

/// A txn compare: the key was last written at `rev`.
pub(crate) fn mod_is(key: &[u8], rev: i64) -> Value {
    json!({ "key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": rev.to_string() })
}

/// A txn op: put.
pub(crate) fn put(key: &[u8], value: &[u8]) -> Value {
    json!({ "request_put": { "key": b64(key), "value": b64(value) } })
}

/// A txn op: delete one key.
pub(crate) fn delete(key: &[u8]) -> Value {
    json!({ "request_delete_range": { "key": b64(key) } })
}

/// A txn op: read one key.
pub(crate) fn get(key: &[u8]) -> Value {
    json!({ "request_range": { "key": b64(key) } })
}

/// A txn op: read a range (linearizable: a txn's reads are).
pub(crate) fn range_op(key: &[u8], range_end: Option<&[u8]>, limit: i64, keys_only: bool) -> Value {
    json!({ "request_range": range(key, range_end, limit, keys_only, Read::Linearizable) })
}

/// A txn body.
pub(crate) fn txn(compare: Vec<Value>, success: Vec<Value>, failure: Vec<Value>) -> Value {
    json!({ "compare": compare, "success": success, "failure": failure })
}

/// The end of the range of every key starting with `prefix` (etcd's
/// `clientv3.GetPrefixRangeEnd`): the prefix with its last byte below 0xff
/// incremented and what follows dropped.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte 0xff (or empty): to the end of the keyspace.
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_as_the_gateway_prints_them() {
        // Recorded from etcd 3.4.23's gateway.
        let r: RangeReply = serde_json::from_str(
            r#"{"header":{"cluster_id":"324952591200643719","member_id":"3319814642761637952","revision":"3","raft_term":"2"},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1"}],"more":true,"count":"2"}"#,
        )
        .unwrap();
        assert!(r.more);
        assert_eq!(r.kvs[0].key, b"foo");
        assert_eq!(r.kvs[0].mod_revision, 2);
        assert!(r.kvs[0].value.is_empty());
        let t: TxnReply = serde_json::from_str(
            r#"{"header":{"revision":"2"},"responses":[{"response_range":{"header":{"revision":"2"},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"}}]}"#,
        )
        .unwrap();
        assert!(!t.succeeded);
        assert_eq!(t.range().unwrap().kvs[0].value, b"bar");
        let t: TxnReply = serde_json::from_str(
            r#"{"header":{"revision":"3"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"3"}}}]}"#,
        )
        .unwrap();
        assert!(t.succeeded);
        assert!(t.range().is_none());
        let e: ErrorReply = serde_json::from_str(
            r#"{"error":"etcdserver: request timed out","message":"etcdserver: request timed out","code":14}"#,
        )
        .unwrap();
        assert_eq!(e.code, 14);
    }

    #[test]
    fn bad_replies_are_errors_not_panics() {
        for bad in [
            r#"{"kvs":[{"key":"***"}]}"#,
            r#"{"kvs":[{"mod_revision":"x"}]}"#,
            r#"{"kvs":7}"#,
            r#"{"kvs":[{"mod_revision":"99999999999999999999"}]}"#,
        ] {
            assert!(serde_json::from_str::<RangeReply>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"/a/"), b"/a0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), b"\0");
    }
}
