//! The `ipam_config` target: see targets/ipam_config.rs. Run:
//! `cargo fuzz run ipam_config` (from fuzz/).
#![no_main]

#[path = "../targets/ipam_config.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
