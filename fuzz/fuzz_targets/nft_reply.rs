//! The `nft_reply` target: see targets/nft_reply.rs. Run:
//! `cargo fuzz run nft_reply` (from fuzz/).
#![no_main]

#[path = "../targets/nft_reply.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
