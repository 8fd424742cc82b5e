//! The `conntrack_reply` target: see targets/conntrack_reply.rs. Run:
//! `cargo fuzz run conntrack_reply` (from fuzz/).
#![no_main]

#[path = "../targets/conntrack_reply.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
