//! Arbitrary bytes as conntrack netlink replies, through
//! `netns_core::fuzzing::conntrack_reply`. Run:
//! `cargo fuzz run conntrack_reply` (from fuzz/); replayed by
//! examples/tests/fuzz_seeds.rs.

/// One input. Panics on a finding.
pub fn run(data: &[u8]) {
    netns_core::fuzzing::conntrack_reply(data);
}
