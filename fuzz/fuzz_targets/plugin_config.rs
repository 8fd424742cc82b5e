//! The `plugin_config` target: see targets/plugin_config.rs. Run:
//! `cargo fuzz run plugin_config` (from fuzz/).
#![no_main]

#[path = "../targets/plugin_config.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
