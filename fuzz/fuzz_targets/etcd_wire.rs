//! The `etcd_wire` target: see targets/etcd_wire.rs. Run:
//! `cargo fuzz run etcd_wire` (from fuzz/).
#![no_main]

#[path = "../targets/etcd_wire.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
