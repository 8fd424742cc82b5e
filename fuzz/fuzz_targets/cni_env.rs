//! The `cni_env` target: see targets/cni_env.rs. Run:
//! `cargo fuzz run cni_env` (from fuzz/).
#![no_main]

#[path = "../targets/cni_env.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
