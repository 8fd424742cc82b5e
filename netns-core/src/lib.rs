//! netns-core: network namespaces and rtnetlink, synchronously.
//!
//! What `ip netns`, `ip link`, `ip addr`, `ip route` and `ip neigh` do, as a
//! library: typed, with the kernel's own error messages, and without ever
//! moving the calling thread into another namespace.
//!
//! - [`NetNs`] / [`NetnsDir`]: open, create, name, list, delete namespaces;
//!   run code or start processes inside them.
//! - [`Handle`]: a netlink socket bound to one namespace, usable from any
//!   thread; the object operations are methods on it.
//! - [`Error`]: one error type carrying the operation, the object, the errno
//!   and the kernel's extended-ack text.
//!
//! ```no_run
//! use netns_core::{Handle, NetNs};
//!
//! let red = NetNs::create_named("red")?;   // ip netns add red
//! let h = red.handle()?;                   // a socket inside "red"
//! println!("{:?}", h.nsid_get(&NetNs::current()?)?);
//! NetNs::delete_named("red")?;             // ip netns del red
//! # Ok::<(), netns_core::Error>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod addr;
mod batch;
pub mod bridge;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
mod handle;
pub mod link;
#[cfg(test)]
mod link_fixtures;
pub mod neigh;
mod nla;
pub mod ns;
mod nsid;
pub mod route;
mod socket;
pub mod sysctl;

pub use addr::{
    AddrFilter, AddrFlags, AddrSpec, Address, Broadcast, IpFamily, IpPrefix, Lifetime, Scope,
};
pub use batch::Batch;
pub use bridge::{BridgeVlan, PortVlans};
pub use error::{Error, Result};
pub use handle::Handle;
pub use link::{
    BondMode, BondSpec, BridgeSpec, ControllerChange, IpVlanIsolation, IpVlanMode, LinkChanges,
    LinkData, LinkFlags, LinkId, LinkInfo, LinkKind, LinkSpec, MacAddr, MacVlanMode, OperState,
    VlanProtocol, VxlanSpec,
};
pub use neigh::{NeighFilter, NeighFlags, NeighSpec, NeighState, Neighbour};
pub use ns::{NetNs, NetnsDir};
pub use route::{
    NextHop, NextHopSpec, Route, RouteFilter, RouteFlags, RouteProtocol, RouteSpec, RouteType,
};
pub use socket::DEFAULT_DUMP_ATTEMPTS;
pub use sysctl::{Sysctl, SysctlConf};

// The unit tests build and parse messages and compare requests with
// iproute2's recordings: no kernel involved, so the VM tier leaves them out.
#[cfg(test)]
netns_testutil::host_only!("unit tests of request building and parsing, no kernel involved");

/// The README's example is compiled as a doctest.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
