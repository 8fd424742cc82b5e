//! The `cni_protocol` target: see targets/cni_protocol.rs. Run:
//! `cargo fuzz run cni_protocol` (from fuzz/).
#![no_main]

#[path = "../targets/cni_protocol.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
