//! Arbitrary bytes as nftables netlink replies, through
//! `netns_core::fuzzing::nft_reply`. Run: `cargo fuzz run nft_reply`
//! (from fuzz/); replayed by examples/tests/fuzz_seeds.rs.

/// One input. Panics on a finding.
pub fn run(data: &[u8]) {
    netns_core::fuzzing::nft_reply(data);
}
