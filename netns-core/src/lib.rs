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
//! - [`Nft`]: the same for nftables (NETLINK_NETFILTER), with
//!   [`NftTransaction`]s applied all or nothing.
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

#[macro_use]
mod named;

pub mod addr;
mod batch;
pub mod bridge;
pub mod conntrack;
pub mod error;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
mod handle;
pub mod ip;
pub mod link;
pub mod macspoof;
pub mod nat;
pub mod neigh;
pub mod nft;
mod nla;
pub mod ns;
mod nsid;
pub mod route;
mod socket;
pub mod sysctl;

pub use addr::{AddrFilter, AddrFlags, AddrSpec, Address, Broadcast, Lifetime};
pub use batch::Batch;
pub use bridge::{BridgePortChanges, BridgeVlan, PortVlans};
pub use conntrack::{Conntrack, CtEntry, CtFilter};
pub use error::{Error, ErrorKind, Result};
pub use events::{Event, Groups, Subscription};
pub use handle::Handle;
pub use ip::{parse_prefix, IpFamily, Scope};
pub use ipnet::{IpNet, Ipv4Net, Ipv6Net};
pub use link::{
    BondData, BondMode, BondSpec, BridgeData, BridgeSpec, ControllerChange, IpVlanData,
    IpVlanIsolation, IpVlanMode, IpVlanSpec, LinkChanges, LinkData, LinkFilter, LinkFlags, LinkId,
    LinkInfo, LinkKind, LinkSpec, MacAddr, MacVlanData, MacVlanMode, MacVlanSpec, MacVtapSpec,
    OperState, VethSpec, VlanData, VlanProtocol, VlanSpec, VrfData, VrfSpec, VxlanData, VxlanSpec,
};
pub use macspoof::{MacSpoofCheck, MacSpoofEntry};
pub use nat::{
    Hairpin, Nat, NatCondition, NatConditions, NatEntry, NatKind, NatOwner, NatProto, PortForward,
};
pub use neigh::{NeighFilter, NeighFlags, NeighSpec, NeighState, Neighbour};
pub use nft::{
    Nft, NftBaseChain, NftChain, NftChainType, NftElement, NftExpr, NftFamily, NftHook,
    NftKeyField, NftKeySource, NftKeyValue, NftMapElement, NftReg, NftRule, NftRuleInfo,
    NftSetData, NftTable, NftTransaction, NftVerdict,
};
pub use ns::{NetNs, NetnsDir};
pub use route::{
    NextHop, NextHopSpec, Route, RouteFilter, RouteFlags, RouteProtocol, RouteSpec, RouteType,
};
pub use socket::DEFAULT_DUMP_ATTEMPTS;
pub use sysctl::{Sysctl, SysctlConf};

/// The README's example is compiled as a doctest.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// This crate's README example is compiled as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct CrateReadmeDoctests;
