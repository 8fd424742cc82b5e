//! Arbitrary bytes as the payload of each kind of kernel reply. Run:
//! `cargo fuzz run netlink_payload` (from fuzz/).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    netns_core::fuzzing::payload(data);
});
