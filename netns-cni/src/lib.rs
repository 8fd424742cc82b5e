//! The CNI protocol for Rust plugins: what Go plugins get from
//! containernetworking/cni's `pkg/skel`, `pkg/types`, `pkg/version` and
//! `pkg/invoke`, synchronous, with no namespace switching on the caller's
//! thread.
//!
//! - [`run`] / [`run_with`] and the [`Plugin`] trait: the environment
//!   (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS,
//!   CNI_PATH, read as bytes: a value that is not UTF-8 is an error naming
//!   it) and stdin validated as Go's skel validates them, with its codes
//!   and messages; VERSION answered; spec versions 0.1.0 to 1.1.0
//!   negotiated (CHECK from 0.4.0, GC and STATUS from 1.1.0); the result
//!   printed in the config's version; errors printed as the spec's error
//!   object on stdout, exit status 1; a panic caught and reported.
//! - [`CmdArgs`]: what a callback gets, with [`CmdArgs::plugin_conf`] to
//!   read the plugin's own keys with serde (Go's key rules, see [`json`]),
//!   [`CmdArgs::cni_args`], [`CmdArgs::prev_result`] and
//!   [`CmdArgs::valid_attachments`].
//! - [`CniResult`]: the 1.1 result, written in and read from every spec
//!   version exactly as Go converts it ([`result`]).
//! - [`Error`] and [`code`]: the error object; netns-core errors convert
//!   with their text (and the kernel's extended-ack message) kept.
//! - [`ipam`]: delegation to the IPAM plugin of `ipam.type` by exec, as
//!   Go's `invoke.DelegateAdd/Del/Check`, with an in-process path for
//!   host-local on its own files.
//!
//! # A plugin
//!
//! ```no_run
//! use netns_cni::{CmdArgs, CniResult, Error, Plugin};
//!
//! #[derive(serde::Deserialize, Default)]
//! #[serde(default)]
//! struct Conf { mtu: u32 }
//!
//! struct Mine;
//! impl Plugin for Mine {
//!     fn about(&self) -> String { "CNI mine plugin".into() }
//!     fn add(&self, args: &CmdArgs) -> Result<CniResult, Error> {
//!         let conf: Conf = args.plugin_conf()?;
//!         let mut result = netns_cni::ipam::add(args)?;
//!         // ... make the interface, configure it with `result` ...
//!         let _ = conf.mtu;
//!         Ok(result)
//!     }
//!     fn del(&self, args: &CmdArgs) -> Result<(), Error> { netns_cni::ipam::del(args) }
//!     fn check(&self, args: &CmdArgs) -> Result<(), Error> { netns_cni::ipam::check(args) }
//! }
//!
//! fn main() { netns_cni::run(&Mine) }
//! ```

#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod args;
pub mod conf;
pub mod error;
pub mod ipam;
pub mod json;
pub mod result;
pub mod skel;
pub mod version;

pub use args::CniArgs;
pub use conf::{Attachment, IpamConf, NetConf};
pub use error::{code, Error};
pub use result::{CniResult, Dns, Interface, IpConfig, Route};
pub use skel::{run, run_with, validate_ifname, CmdArgs, Command, Plugin};

// The VM test tier (.ci/vm) runs every test binary on Debian's 6.1 kernel
// unless it carries this marker (what `netns_testutil::host_only!` expands
// to; this crate does not depend on netns-testutil).
#[cfg(test)]
#[used]
static NETNS_VM_TIER_HOST_ONLY: &str =
    "NETNS_VM_TIER=host-only: unit tests of the protocol code, no kernel involved\0";

/// This crate's README example is compiled as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct CrateReadmeDoctests;
