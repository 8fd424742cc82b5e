//! Raw Ethernet frames between pods, for the MAC spoof check tests: a
//! packet socket bound to a pod's interface, frames sent with a chosen
//! source MAC, and what a neighbour received.
#![allow(dead_code)]

use std::os::fd::OwnedFd;
use std::path::Path;

use netns_core::NetNs;
pub use netns_testutil::frames::{receive_until, send_frames_on};

/// A packet socket for the test EtherType bound to `ifname` of the namespace
/// at `ns` (opened there; see `netns_testutil::frames::packet_socket_here`).
pub fn packet_socket(ns: &Path, ifname: &str) -> OwnedFd {
    let ns = NetNs::open(ns).expect("open the pod's namespace");
    let ifname = ifname.to_owned();
    ns.run(move || netns_testutil::frames::packet_socket_here(&ifname))
        .expect("run in the namespace")
}

/// Send, from `ifname` of the namespace at `ns`, one broadcast frame per
/// `(source MAC, tag)`, in order ([`send_frames_on`]).
pub fn send_frames(ns: &Path, ifname: &str, frames: &[([u8; 6], u8)]) {
    send_frames_on(&packet_socket(ns, ifname), frames);
}

/// The MAC of `ifname` in the namespace at `ns`.
pub fn mac_of(ns: &Path, ifname: &str) -> [u8; 6] {
    let ns = NetNs::open(ns).expect("open the pod's namespace");
    let l = ns
        .handle()
        .expect("a handle")
        .link_get(ifname)
        .expect("the interface");
    l.mac.expect("a MAC").0
}
