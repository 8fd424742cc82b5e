//! Shared helpers for the netns example programs (see the `[[example]]` targets).

#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod demo;
pub mod fault;
pub mod plugin;
pub mod runtime;
pub mod sublink;

// No unit tests here: the VM tier leaves the (empty) unit-test binary out.
#[cfg(test)]
netns_testutil::host_only!("no unit tests in the examples' shared helpers");
