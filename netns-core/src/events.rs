//! Notifications and waits: subscribe to the kernel's link, address, route
//! and neighbour events ([`Handle::subscribe`], like `ip monitor`), and wait
//! for a state with a timeout ([`Handle::wait_link_up`],
//! [`Handle::wait_addrs_settled`], [`Handle::wait_addr_usable`]) without
//! polling.
//!
//! ```no_run
//! use std::time::Duration;
//! use netns_core::{Groups, Handle};
//! let h = Handle::new()?;
//! // Wait until eth0 has carrier and is operationally up, at most 5 s.
//! let eth0 = h.wait_link_up("eth0", Duration::from_secs(5))?;
//! // Wait until IPv6 duplicate address detection of its addresses is over.
//! h.wait_addrs_settled(eth0.index, Duration::from_secs(5))?;
//! // Or watch events: ip monitor link address
//! let mut events = h.subscribe(Groups::LINK | Groups::IPV4_ADDR | Groups::IPV6_ADDR)?;
//! while let Some(event) = events.next(Some(Duration::from_secs(1)))? {
//!     println!("{event:?}");
//! }
//! # Ok::<(), netns_core::Error>(())
//! ```
//!
//! # How a wait works
//!
//! A wait subscribes first, then reads the state (one request), and reads it
//! again each time the kernel notifies a change of that kind, until the
//! condition holds or the deadline passes. Subscribing before the first read
//! means no change can slip between the read and the wait; reading the state
//! rather than interpreting events means lost notifications (ENOBUFS,
//! [`ErrorKind::ResyncNeeded`]) cost only one more read. The waiting itself
//! is poll(2) with the time left: no sleeping, no polling loop.
//!
//! # References
//! [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
//! (multicast groups `RTNLGRP_*`),
//! [ip-monitor(8)](https://man7.org/linux/man-pages/man8/ip-monitor.8.html).

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::addr::{parse_addr, AddrFilter, AddrFlags, Address};
use crate::error::{Error, ErrorKind, Result};
use crate::ip::IpFamily;
use crate::link::{parse_link, LinkId, LinkInfo};
use crate::neigh::{parse_neigh, Neighbour};
use crate::route::{parse_route, Route};
use crate::socket::{NlSocket, Reply};
use crate::{Handle, NetNs};

bitflags::bitflags! {
    /// The notification groups a [`Subscription`] listens to
    /// (`RTNLGRP_*` of linux/rtnetlink.h).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Groups: u32 {
        /// RTNLGRP_LINK: links created, changed, deleted.
        const LINK = 1 << 0;
        /// RTNLGRP_NEIGH: neighbour entries.
        const NEIGH = 1 << 1;
        /// RTNLGRP_IPV4_IFADDR: IPv4 addresses.
        const IPV4_ADDR = 1 << 2;
        /// RTNLGRP_IPV6_IFADDR: IPv6 addresses.
        const IPV6_ADDR = 1 << 3;
        /// RTNLGRP_IPV4_ROUTE: IPv4 routes.
        const IPV4_ROUTE = 1 << 4;
        /// RTNLGRP_IPV6_ROUTE: IPv6 routes.
        const IPV6_ROUTE = 1 << 5;
    }
}

impl Groups {
    /// The kernel's group numbers.
    fn numbers(self) -> Vec<u32> {
        const RTNLGRP: [(Groups, u32); 6] = [
            (Groups::LINK, 1),
            (Groups::NEIGH, 3),
            (Groups::IPV4_ADDR, 5),
            (Groups::IPV6_ADDR, 9),
            (Groups::IPV4_ROUTE, 7),
            (Groups::IPV6_ROUTE, 11),
        ];
        RTNLGRP
            .iter()
            .filter(|(g, _)| self.contains(*g))
            .map(|(_, n)| *n)
            .collect()
    }
}

/// A change the kernel notified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A link appeared or changed (RTM_NEWLINK).
    NewLink(LinkInfo),
    /// A link went away (RTM_DELLINK).
    DelLink(LinkInfo),
    /// An address was added or changed (RTM_NEWADDR).
    NewAddr(Address),
    /// An address was removed (RTM_DELADDR).
    DelAddr(Address),
    /// A route was added or changed (RTM_NEWROUTE).
    NewRoute(Route),
    /// A route was removed (RTM_DELROUTE).
    DelRoute(Route),
    /// A neighbour entry was added or changed (RTM_NEWNEIGH).
    NewNeigh(Neighbour),
    /// A neighbour entry was removed (RTM_DELNEIGH).
    DelNeigh(Neighbour),
}

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_NEWNEIGH: u16 = 28;
const RTM_DELNEIGH: u16 = 29;

/// The event of one notification; `Ok(None)` for families or types an
/// [`Event`] does not describe.
pub(crate) fn parse_event(r: &Reply<'_>) -> std::result::Result<Option<Event>, String> {
    let p = r.payload;
    Ok(match r.message_type {
        RTM_NEWLINK => Some(Event::NewLink(parse_link(p)?)),
        RTM_DELLINK => Some(Event::DelLink(parse_link(p)?)),
        RTM_NEWADDR => parse_addr(p)?.map(Event::NewAddr),
        RTM_DELADDR => parse_addr(p)?.map(Event::DelAddr),
        RTM_NEWROUTE => parse_route(p)?.map(Event::NewRoute),
        RTM_DELROUTE => parse_route(p)?.map(Event::DelRoute),
        RTM_NEWNEIGH => parse_neigh(p)?.map(Event::NewNeigh),
        RTM_DELNEIGH => parse_neigh(p)?.map(Event::DelNeigh),
        _ => None,
    })
}

/// A socket subscribed to notification groups, in the namespace of the
/// handle that made it. Made by [`Handle::subscribe`].
#[derive(Debug)]
pub struct Subscription {
    sock: NlSocket,
    queue: VecDeque<Event>,
}

impl Subscription {
    /// The next event, waiting up to `timeout` (`None`: without limit).
    /// `Ok(None)` when none came in time. An error with
    /// [`Error::is_resync_needed`] means the kernel dropped notifications
    /// (the receive queue was full): read the state again; the subscription
    /// goes on.
    pub fn next(&mut self, timeout: Option<Duration>) -> Result<Option<Event>> {
        const OP: &str = "subscription_next";
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Ok(Some(e));
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let mut bad = None;
            let queue = &mut self.queue;
            let got = self
                .sock
                .recv_notifications(OP, left, &mut |r| match parse_event(&r) {
                    Ok(Some(e)) => queue.push_back(e),
                    Ok(None) => {}
                    // The first unreadable one is reported, after the rest
                    // of the datagram is queued.
                    Err(d) => {
                        bad.get_or_insert(d);
                    }
                })?;
            if let Some(d) = bad {
                return Err(Error::protocol(OP, "notification", d));
            }
            if !got {
                return Ok(None);
            }
        }
    }

    /// Shrink the socket's receive queue to the kernel's minimum, so that a
    /// few notifications overflow it (tests of the ENOBUFS path only).
    #[doc(hidden)]
    pub fn debug_shrink_queue(&mut self) -> Result<()> {
        self.sock.set_recv_buffer("subscription", 0)
    }

    /// Wait until a notification arrives (reading and dropping what came),
    /// up to `timeout`; `Ok(false)` if none came.
    fn changed(&mut self, timeout: Duration) -> Result<bool> {
        self.queue.clear();
        let got = self
            .sock
            .recv_notifications("wait", Some(timeout), &mut |_| {})?;
        // Take whatever else is already queued without waiting.
        while got
            && self
                .sock
                .recv_notifications("wait", Some(Duration::ZERO), &mut |_| {})?
        {}
        Ok(got)
    }
}

/// `SIOCGSKNS` from linux/sockios.h: the network namespace of a socket.
const SIOCGSKNS: libc::c_ulong = 0x894C;

impl Handle {
    /// The network namespace this handle's socket lives in (SIOCGSKNS on the
    /// socket).
    pub fn netns(&self) -> Result<NetNs> {
        use std::os::fd::{FromRawFd, OwnedFd};
        let fd = self.sock().raw_fd();
        // SAFETY: SIOCGSKNS takes no argument; it returns a new descriptor
        // or -1, and `fd` stays open (the handle is borrowed) for the call.
        let ns = unsafe { libc::ioctl(fd, SIOCGSKNS) };
        if ns < 0 {
            return Err(Error::io(
                "handle_netns",
                "SIOCGSKNS",
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: `ns` is a descriptor the kernel just created for us; no one
        // else owns it.
        NetNs::from_owned_fd(unsafe { OwnedFd::from_raw_fd(ns) })
    }

    /// Subscribe to the kernel's notifications of `groups`, in this handle's
    /// namespace (the socket is opened there on a helper thread when it is
    /// not the calling thread's).
    ///
    /// Equivalent to `ip monitor link address route neigh`.
    #[doc(alias = "ip monitor")]
    #[doc(alias = "RTNLGRP_LINK")]
    pub fn subscribe(&self, groups: Groups) -> Result<Subscription> {
        const OP: &str = "subscribe";
        let numbers = groups.numbers();
        let open = || -> Result<NlSocket> {
            let mut s = NlSocket::open()?;
            s.join_groups(OP, &numbers)?;
            Ok(s)
        };
        let ns = self.netns()?;
        let sock = if ns == NetNs::current()? {
            open()?
        } else {
            ns.run(open)??
        };
        Ok(Subscription {
            sock,
            queue: VecDeque::new(),
        })
    }

    /// Wait until `check` gives a value: check, then check again after every
    /// notification of `groups`, until `timeout` has passed.
    fn wait_for<T>(
        &self,
        op: &'static str,
        object: &dyn std::fmt::Display,
        waited_for: &str,
        groups: Groups,
        timeout: Duration,
        mut check: impl FnMut() -> Result<Option<T>>,
    ) -> Result<T> {
        let deadline = Instant::now() + timeout;
        let mut sub = self.subscribe(groups)?;
        loop {
            if let Some(v) = check()? {
                return Ok(v);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::new(
                    op,
                    object.to_string(),
                    ErrorKind::TimedOut {
                        waited_for: waited_for.to_owned(),
                        after: timeout,
                    },
                ));
            }
            match sub.changed(left) {
                Ok(_) => {}
                // Lost notifications: the next check reads the state anyway.
                Err(e) if e.is_resync_needed() => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Wait until the link is up and usable: administratively up, with
    /// carrier, operationally up (or of unknown state, as loopback and dummy
    /// devices report): [`LinkInfo::is_operational`]. Returns the link as it
    /// is then. A veth is usable once both ends are up; a bridge once it has
    /// a port that is. A link that does not exist is an error at once; one
    /// that does not come up in `timeout` is an [`ErrorKind::TimedOut`].
    pub fn wait_link_up(&self, id: impl Into<LinkId>, timeout: Duration) -> Result<LinkInfo> {
        const OP: &str = "wait_link_up";
        let id = id.into();
        self.wait_for(
            OP,
            &id,
            "the link to be up with carrier",
            Groups::LINK,
            timeout,
            || {
                let l = self.link_get(&id).map_err(|e| e.with_op(OP))?;
                Ok(l.is_operational().then_some(l))
            },
        )
    }

    /// Wait until no IPv6 address of the link is tentative: duplicate
    /// address detection is over for all of them (what the CNI bridge
    /// plugin's SettleAddresses waits for). Returns the link's addresses.
    /// DAD runs only while the link is up, so a link that stays down times
    /// out. An address whose DAD failed is an
    /// [`ErrorKind::DuplicateAddress`].
    pub fn wait_addrs_settled(
        &self,
        link: impl Into<LinkId>,
        timeout: Duration,
    ) -> Result<Vec<Address>> {
        const OP: &str = "wait_addrs_settled";
        let link = link.into();
        let object = format!("dev {link}");
        let filter = AddrFilter::new().link(link);
        self.wait_for(
            OP,
            &object,
            "IPv6 duplicate address detection to finish",
            Groups::IPV6_ADDR,
            timeout,
            || {
                let addrs = self.addrs(&filter).map_err(|e| e.with_op(OP))?;
                if let Some(a) = addrs
                    .iter()
                    .find(|a| a.flags.contains(AddrFlags::DADFAILED))
                {
                    return Err(dad_failed(OP, &object, a.addr()));
                }
                let settled = addrs
                    .iter()
                    .all(|a| a.family() != IpFamily::V6 || !a.flags.contains(AddrFlags::TENTATIVE));
                Ok(settled.then_some(addrs))
            },
        )
    }

    /// Wait until the address `addr` is on the link and usable (present, not
    /// tentative); returns it. An address whose DAD failed is an
    /// [`ErrorKind::DuplicateAddress`].
    pub fn wait_addr_usable(
        &self,
        link: impl Into<LinkId>,
        addr: IpAddr,
        timeout: Duration,
    ) -> Result<Address> {
        const OP: &str = "wait_addr_usable";
        let link = link.into();
        let object = format!("{addr} dev {link}");
        let filter = AddrFilter::new().link(link).family(IpFamily::of(&addr));
        let groups = match IpFamily::of(&addr) {
            IpFamily::V4 => Groups::IPV4_ADDR,
            IpFamily::V6 => Groups::IPV6_ADDR,
        };
        self.wait_for(OP, &object, "the address", groups, timeout, || {
            let found = self
                .addrs(&filter)
                .map_err(|e| e.with_op(OP))?
                .into_iter()
                .find(|a| a.addr() == addr);
            match found {
                Some(a) if a.flags.contains(AddrFlags::DADFAILED) => {
                    Err(dad_failed(OP, &object, addr))
                }
                Some(a) if a.is_usable() => Ok(Some(a)),
                _ => Ok(None),
            }
        })
    }
}

fn dad_failed(op: &'static str, object: &str, addr: IpAddr) -> Error {
    Error::new(op, object, ErrorKind::DuplicateAddress { addr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_numbers_are_the_kernels() {
        assert_eq!(Groups::LINK.numbers(), vec![1]);
        assert_eq!(
            (Groups::IPV4_ADDR | Groups::IPV6_ADDR | Groups::IPV6_ROUTE).numbers(),
            vec![5, 9, 11]
        );
        assert!(Groups::empty().numbers().is_empty());
    }

    #[test]
    fn notifications_of_other_kinds_are_skipped_and_garbage_is_an_error() {
        let other = Reply {
            message_type: 88,
            payload: &[],
        };
        assert_eq!(parse_event(&other), Ok(None));
        let bad = Reply {
            message_type: RTM_NEWLINK,
            payload: &[1, 2, 3],
        };
        assert!(parse_event(&bad).is_err());
    }
}
