//! Arbitrary bytes as a reply body of etcd's JSON gateway, through
//! `netns_ipam::etcd::fuzzing::reply` (range, txn and error replies, their
//! base64 keys and values, int64s as strings, as EtcdStore reads them).
//! Run: `cargo fuzz run etcd_wire` (from fuzz/); replayed by
//! examples/tests/fuzz_seeds.rs.

/// One input. Panics on a finding.
pub fn run(data: &[u8]) {
    netns_ipam::etcd::fuzzing::reply(data);
}
