//! The per-namespace sysctls network setup needs: IPv4/IPv6 forwarding,
//! accept_ra, proxy_arp, proxy_ndp, rp_filter, disable_ipv6; globally, as
//! the default for new interfaces, or per interface.
//!
//! ```no_run
//! use netns_core::{NetNs, Sysctl, SysctlConf};
//! let ns = NetNs::named("red")?;
//! ns.sysctl_set(&Sysctl::Ipv4Forward, 1)?;                 // sysctl -w net.ipv4.ip_forward=1
//! ns.sysctl_set(&Sysctl::RpFilter(SysctlConf::link("eth0")), 2)?;
//! assert_eq!(ns.sysctl_get(&Sysctl::Ipv4Forward)?, 1);
//! # Ok::<(), netns_core::Error>(())
//! ```
//!
//! # Why these are methods of [`NetNs`]
//!
//! `/proc/sys/net` shows the network namespace of the thread that opens
//! it, not the one of the process that mounted /proc. So the file is opened
//! and written by a helper thread that has entered the namespace
//! ([`NetNs::run`]); the caller's thread never moves. A sysctl is state of
//! the namespace, not a netlink request, so it belongs to [`NetNs`]: a
//! [`Handle`](crate::Handle) only owns a socket, and does not need a second
//! descriptor just for this. For the calling thread's own namespace, use
//! `NetNs::current()?.sysctl_set(...)`.
//!
//! Interface names are checked like the kernel's (no `/`, not `.` or `..`,
//! at most 15 bytes): a name can never reach another file. `all` and
//! `default` are not interface names (the kernel refuses them): use
//! [`SysctlConf::All`] and [`SysctlConf::Default`].
//!
//! # References
//! Documentation/networking/ip-sysctl.rst, sysctl(8).

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::link::validate_ifname;
use crate::NetNs;

/// Which `conf` entry a per-interface sysctl addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SysctlConf {
    /// `conf/all`: every interface (for forwarding, writing it sets every
    /// interface; for others the kernel combines it with the interface's).
    All,
    /// `conf/default`: the value new interfaces start with.
    Default,
    /// `conf/IFNAME`: one interface.
    Link(String),
}

impl SysctlConf {
    /// `conf/IFNAME`.
    pub fn link(name: impl Into<String>) -> Self {
        SysctlConf::Link(name.into())
    }

    fn dir(&self) -> &str {
        match self {
            SysctlConf::All => "all",
            SysctlConf::Default => "default",
            SysctlConf::Link(n) => n,
        }
    }
}

/// A sysctl this library reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Sysctl {
    /// `net.ipv4.ip_forward` (0 or 1): IPv4 forwarding, globally.
    Ipv4Forward,
    /// `net.ipv4.conf.X.forwarding` (0 or 1).
    Ipv4Forwarding(SysctlConf),
    /// `net.ipv6.conf.X.forwarding` (0 or 1; `all` sets every interface).
    Ipv6Forwarding(SysctlConf),
    /// `net.ipv6.conf.X.accept_ra` (0: never, 1: unless forwarding, 2: even
    /// when forwarding).
    AcceptRa(SysctlConf),
    /// `net.ipv4.conf.X.proxy_arp` (0 or 1).
    ProxyArp(SysctlConf),
    /// `net.ipv6.conf.X.proxy_ndp` (0 or 1).
    ProxyNdp(SysctlConf),
    /// `net.ipv4.conf.X.rp_filter` (0: off, 1: strict, 2: loose; the
    /// kernel uses the higher of `all` and the interface's).
    RpFilter(SysctlConf),
    /// `net.ipv6.conf.X.disable_ipv6` (0 or 1).
    DisableIpv6(SysctlConf),
}

impl Sysctl {
    /// The path under /proc/sys, relative (`net/ipv4/conf/eth0/rp_filter`).
    fn rel_path(&self) -> String {
        let conf =
            |fam: &str, c: &SysctlConf, leaf: &str| format!("net/{fam}/conf/{}/{leaf}", c.dir());
        match self {
            Sysctl::Ipv4Forward => "net/ipv4/ip_forward".to_owned(),
            Sysctl::Ipv4Forwarding(c) => conf("ipv4", c, "forwarding"),
            Sysctl::Ipv6Forwarding(c) => conf("ipv6", c, "forwarding"),
            Sysctl::AcceptRa(c) => conf("ipv6", c, "accept_ra"),
            Sysctl::ProxyArp(c) => conf("ipv4", c, "proxy_arp"),
            Sysctl::ProxyNdp(c) => conf("ipv6", c, "proxy_ndp"),
            Sysctl::RpFilter(c) => conf("ipv4", c, "rp_filter"),
            Sysctl::DisableIpv6(c) => conf("ipv6", c, "disable_ipv6"),
        }
    }

    fn conf(&self) -> Option<&SysctlConf> {
        match self {
            Sysctl::Ipv4Forward => None,
            Sysctl::Ipv4Forwarding(c)
            | Sysctl::Ipv6Forwarding(c)
            | Sysctl::AcceptRa(c)
            | Sysctl::ProxyArp(c)
            | Sysctl::ProxyNdp(c)
            | Sysctl::RpFilter(c)
            | Sysctl::DisableIpv6(c) => Some(c),
        }
    }

    /// The largest value the sysctl takes.
    pub fn max_value(&self) -> u32 {
        match self {
            Sysctl::AcceptRa(_) | Sysctl::RpFilter(_) => 2,
            _ => 1,
        }
    }

    /// The full /proc path, after checking the interface name.
    fn path(&self, op: &'static str) -> Result<PathBuf> {
        if let Some(SysctlConf::Link(n)) = self.conf() {
            validate_ifname(op, n)?;
            if n == "all" || n == "default" {
                return Err(Error::invalid(
                    op,
                    self.to_string(),
                    format!(
                        "{n:?} is not an interface name: use SysctlConf::{}",
                        if n == "all" { "All" } else { "Default" }
                    ),
                ));
            }
        }
        Ok(PathBuf::from("/proc/sys").join(self.rel_path()))
    }

    /// The `conf/all` sibling of a per-interface path, to tell a missing
    /// interface from a missing protocol.
    fn all_path(&self) -> Option<PathBuf> {
        let SysctlConf::Link(n) = self.conf()? else {
            return None;
        };
        let rel = self.rel_path();
        let marker = format!("/conf/{n}/");
        let (head, tail) = rel.split_once(&marker)?;
        Some(PathBuf::from("/proc/sys").join(format!("{head}/conf/all/{tail}")))
    }
}

impl fmt::Display for Sysctl {
    /// The dotted sysctl name (`net.ipv4.conf.eth0.rp_filter`; a `.` in an
    /// interface name is shown as `/`, as sysctl(8) expects).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.conf() {
            Some(SysctlConf::Link(n)) => {
                let rel = self.rel_path();
                let marker = format!("/conf/{n}/");
                match rel.split_once(&marker) {
                    Some((head, tail)) => format!(
                        "{}.conf.{}.{}",
                        head.replace('/', "."),
                        n.replace('.', "/"),
                        tail.replace('/', ".")
                    ),
                    None => rel.replace('/', "."),
                }
            }
            _ => self.rel_path().replace('/', "."),
        };
        f.write_str(&name)
    }
}

impl NetNs {
    /// Read a sysctl of this namespace.
    ///
    /// Equivalent to `ip netns exec NS sysctl -n NAME`.
    pub fn sysctl_get(&self, key: &Sysctl) -> Result<u32> {
        const OP: &str = "sysctl_get";
        let path = key.path(OP)?;
        let all = key.all_path();
        let text = self
            .run(move || std::fs::read_to_string(&path).map_err(|e| (e, missing_link(&all))))?
            .map_err(|(e, missing)| os_error(OP, key, e, missing))?;
        text.trim().parse().map_err(|_| {
            Error::protocol(
                OP,
                key.to_string(),
                format!("not a number: {:?}", text.trim()),
            )
        })
    }

    /// Write a sysctl of this namespace. The value is checked against the
    /// sysctl's range (0..=1, or 0..=2 for accept_ra and rp_filter) before
    /// anything is written; an interface that does not exist is an
    /// invalid-argument error naming it.
    ///
    /// Equivalent to `ip netns exec NS sysctl -w NAME=VALUE`.
    pub fn sysctl_set(&self, key: &Sysctl, value: u32) -> Result<()> {
        const OP: &str = "sysctl_set";
        if value > key.max_value() {
            return Err(Error::invalid(
                OP,
                format!("{key}={value}"),
                format!("{key} takes 0..={}", key.max_value()),
            ));
        }
        let path = key.path(OP)?;
        let all = key.all_path();
        self.run(move || {
            std::fs::write(&path, format!("{value}\n")).map_err(|e| (e, missing_link(&all)))
        })?
        .map_err(|(e, missing)| os_error(OP, key, e, missing))
    }
}

/// Whether a failed per-interface access failed because the interface is
/// missing (its protocol's `conf/all` exists). Runs inside the namespace.
fn missing_link(all: &Option<PathBuf>) -> bool {
    all.as_ref().is_some_and(|p| p.exists())
}

fn os_error(op: &'static str, key: &Sysctl, e: io::Error, missing_link: bool) -> Error {
    match (key.conf(), e.kind()) {
        (Some(SysctlConf::Link(n)), io::ErrorKind::NotFound) if missing_link => {
            Error::no_device(op, key.to_string(), "device", n)
        }
        _ => Error::io(op, key.to_string(), e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        let k = Sysctl::RpFilter(SysctlConf::link("eth0.100"));
        assert_eq!(k.to_string(), "net.ipv4.conf.eth0/100.rp_filter");
        assert_eq!(
            k.path("t").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/rp_filter")
        );
        assert_eq!(
            k.all_path().unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/all/rp_filter")
        );
        assert_eq!(Sysctl::Ipv4Forward.to_string(), "net.ipv4.ip_forward");
        assert_eq!(Sysctl::Ipv4Forward.all_path(), None);
        assert_eq!(
            Sysctl::Ipv6Forwarding(SysctlConf::All).to_string(),
            "net.ipv6.conf.all.forwarding"
        );
        assert_eq!(
            Sysctl::AcceptRa(SysctlConf::Default).path("t").unwrap(),
            PathBuf::from("/proc/sys/net/ipv6/conf/default/accept_ra")
        );
        assert_eq!(Sysctl::AcceptRa(SysctlConf::All).max_value(), 2);
        assert_eq!(Sysctl::ProxyArp(SysctlConf::All).max_value(), 1);
    }

    #[test]
    fn names_cannot_escape() {
        for bad in [
            "../../../etc",
            "a/b",
            "..",
            ".",
            "",
            "all",
            "default",
            "0123456789abcdef",
        ] {
            let e = Sysctl::ProxyArp(SysctlConf::link(bad))
                .path("sysctl_set")
                .unwrap_err();
            assert!(e.is_invalid_argument(), "{bad}: {e}");
        }
    }
}
