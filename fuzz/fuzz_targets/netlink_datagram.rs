//! Arbitrary bytes as a datagram from the kernel: framing, ACK/error/done,
//! extended acks, and every object parser. Run:
//! `cargo fuzz run netlink_datagram` (from fuzz/).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    netns_core::fuzzing::datagram(data);
});
