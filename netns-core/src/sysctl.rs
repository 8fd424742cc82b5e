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
//! [ip-sysctl](https://docs.kernel.org/networking/ip-sysctl.html),
//! [sysctl(8)](https://man7.org/linux/man-pages/man8/sysctl.8.html).

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::ip::IpFamily;
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

/// A sysctl of a network namespace: the global IPv4 forwarding switch, the
/// per-interface ones container networking uses by name, or any key of
/// `net.ipv4.conf.X` / `net.ipv6.conf.X` ([`Sysctl::Conf`], as a tuning
/// plugin sets them). [`str::parse`] reads the dotted name
/// (`net.ipv4.conf.eth0.arp_notify`).
///
/// ```
/// use netns_core::{IpFamily, Sysctl, SysctlConf};
/// let k: Sysctl = "net.ipv4.conf.eth0.route_localnet".parse()?;
/// assert_eq!(k, Sysctl::RouteLocalnet(SysctlConf::link("eth0")));
/// let k: Sysctl = "net.ipv6.conf.eth0/100.hop_limit".parse()?;
/// assert_eq!(k, Sysctl::Conf(IpFamily::V6, SysctlConf::link("eth0.100"), "hop_limit".into()));
/// assert!("net.ipv4.conf.eth0.../x".parse::<Sysctl>().is_err());
/// # Ok::<(), netns_core::Error>(())
/// ```
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
    /// `net.ipv6.conf.X.accept_dad` (0: no duplicate address detection, 1:
    /// DAD, 2: DAD and disable IPv6 on a duplicate link-local address).
    AcceptDad(SysctlConf),
    /// `net.ipv4.conf.X.arp_notify` (0 or 1: send gratuitous ARP when the
    /// link comes up or its address changes).
    ArpNotify(SysctlConf),
    /// `net.ipv4.conf.X.route_localnet` (0 or 1: route 127.0.0.0/8, as a
    /// DNAT to localhost needs).
    RouteLocalnet(SysctlConf),
    /// Any key of `net.ipv4.conf.X` or `net.ipv6.conf.X`: the key is
    /// checked (lowercase letters, digits and `_`, as the kernel names
    /// them), the value only by the kernel.
    Conf(IpFamily, SysctlConf, String),
}

impl Sysctl {
    /// (family, conf entry, leaf, largest value) of the sysctl.
    fn parts(&self) -> (&'static str, Option<&SysctlConf>, &str, Option<u32>) {
        match self {
            Sysctl::Ipv4Forward => ("ipv4", None, "ip_forward", Some(1)),
            Sysctl::Ipv4Forwarding(c) => ("ipv4", Some(c), "forwarding", Some(1)),
            Sysctl::Ipv6Forwarding(c) => ("ipv6", Some(c), "forwarding", Some(1)),
            Sysctl::AcceptRa(c) => ("ipv6", Some(c), "accept_ra", Some(2)),
            Sysctl::ProxyArp(c) => ("ipv4", Some(c), "proxy_arp", Some(1)),
            Sysctl::ProxyNdp(c) => ("ipv6", Some(c), "proxy_ndp", Some(1)),
            Sysctl::RpFilter(c) => ("ipv4", Some(c), "rp_filter", Some(2)),
            Sysctl::DisableIpv6(c) => ("ipv6", Some(c), "disable_ipv6", Some(1)),
            Sysctl::AcceptDad(c) => ("ipv6", Some(c), "accept_dad", Some(2)),
            Sysctl::ArpNotify(c) => ("ipv4", Some(c), "arp_notify", Some(1)),
            Sysctl::RouteLocalnet(c) => ("ipv4", Some(c), "route_localnet", Some(1)),
            Sysctl::Conf(IpFamily::V4, c, k) => ("ipv4", Some(c), k, None),
            Sysctl::Conf(IpFamily::V6, c, k) => ("ipv6", Some(c), k, None),
        }
    }

    /// The named sysctl of `family` `conf` `leaf`, or [`Sysctl::Conf`].
    fn named(family: IpFamily, conf: SysctlConf, leaf: &str) -> Sysctl {
        match (family, leaf) {
            (IpFamily::V4, "forwarding") => Sysctl::Ipv4Forwarding(conf),
            (IpFamily::V6, "forwarding") => Sysctl::Ipv6Forwarding(conf),
            (IpFamily::V6, "accept_ra") => Sysctl::AcceptRa(conf),
            (IpFamily::V4, "proxy_arp") => Sysctl::ProxyArp(conf),
            (IpFamily::V6, "proxy_ndp") => Sysctl::ProxyNdp(conf),
            (IpFamily::V4, "rp_filter") => Sysctl::RpFilter(conf),
            (IpFamily::V6, "disable_ipv6") => Sysctl::DisableIpv6(conf),
            (IpFamily::V6, "accept_dad") => Sysctl::AcceptDad(conf),
            (IpFamily::V4, "arp_notify") => Sysctl::ArpNotify(conf),
            (IpFamily::V4, "route_localnet") => Sysctl::RouteLocalnet(conf),
            (f, k) => Sysctl::Conf(f, conf, k.to_owned()),
        }
    }

    /// The path under /proc/sys, relative (`net/ipv4/conf/eth0/rp_filter`).
    fn rel_path(&self) -> String {
        match self.parts() {
            (fam, None, leaf, _) => format!("net/{fam}/{leaf}"),
            (fam, Some(c), leaf, _) => format!("net/{fam}/conf/{}/{leaf}", c.dir()),
        }
    }

    fn conf(&self) -> Option<&SysctlConf> {
        self.parts().1
    }

    /// The largest value the sysctl takes, when the library knows it
    /// (`None` for [`Sysctl::Conf`]: the kernel checks).
    pub fn max_value(&self) -> Option<u32> {
        self.parts().3
    }

    /// The full /proc path, after checking the interface name.
    fn path(&self, op: &'static str) -> Result<PathBuf> {
        if let Sysctl::Conf(_, _, key) = self {
            validate_key(op, key)?;
        }
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
    /// Read a numeric sysctl of this namespace.
    ///
    /// Equivalent to `ip netns exec NS sysctl -n NAME`.
    #[doc(alias = "sysctl -n")]
    pub fn sysctl_get(&self, key: &Sysctl) -> Result<u32> {
        const OP: &str = "sysctl_get";
        let text = self.read_sysctl(OP, key)?;
        text.parse()
            .map_err(|_| Error::protocol(OP, key.to_string(), format!("not a number: {text:?}")))
    }

    /// Write a numeric sysctl of this namespace. The value is checked
    /// against the sysctl's range when the library knows it (0..=1, or
    /// 0..=2 for accept_ra, accept_dad and rp_filter) before anything is
    /// written; an interface that does not exist is an
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) naming it.
    ///
    /// Equivalent to `ip netns exec NS sysctl -w NAME=VALUE`.
    #[doc(alias = "sysctl -w")]
    pub fn sysctl_set(&self, key: &Sysctl, value: u32) -> Result<()> {
        const OP: &str = "sysctl_set";
        if let Some(max) = key.max_value() {
            if value > max {
                return Err(Error::invalid(
                    OP,
                    format!("{key}={value}"),
                    format!("{key} takes 0..={max}"),
                ));
            }
        }
        self.write_sysctl(OP, key, &value.to_string())
    }

    /// Read a sysctl as text (its value without the trailing newline), for
    /// keys that are not numbers (`stable_secret`) or several numbers.
    ///
    /// Equivalent to `ip netns exec NS sysctl -n NAME`.
    #[doc(alias = "sysctl -n")]
    pub fn sysctl_get_text(&self, key: &Sysctl) -> Result<String> {
        self.read_sysctl("sysctl_get", key)
    }

    /// Write a sysctl as text, as a tuning plugin's config gives it. The
    /// text is at most 4096 bytes, on one line; the kernel judges the rest.
    ///
    /// Equivalent to `ip netns exec NS sysctl -w NAME=VALUE`.
    #[doc(alias = "sysctl -w")]
    pub fn sysctl_set_text(&self, key: &Sysctl, value: &str) -> Result<()> {
        const OP: &str = "sysctl_set";
        check_text(OP, key, value)?;
        self.write_sysctl(OP, key, value)
    }

    fn read_sysctl(&self, op: &'static str, key: &Sysctl) -> Result<String> {
        use std::io::Read;
        let path = key.path(op)?;
        let all = key.all_path();
        let text = self
            .visit(move || {
                let mut text = String::new();
                std::fs::File::open(&path)
                    .and_then(|f| f.take(SYSCTL_TEXT_MAX as u64 + 1).read_to_string(&mut text))
                    .map(|_| text)
                    .map_err(|e| (e, missing_link(&all)))
            })?
            .map_err(|(e, missing)| os_error(op, key, e, missing))?;
        Ok(text.trim_end_matches('\n').to_owned())
    }

    fn write_sysctl(&self, op: &'static str, key: &Sysctl, value: &str) -> Result<()> {
        let path = key.path(op)?;
        let all = key.all_path();
        let line = format!("{value}\n");
        self.visit(move || std::fs::write(&path, line).map_err(|e| (e, missing_link(&all))))?
            .map_err(|(e, missing)| os_error(op, key, e, missing))
    }

    /// Write several sysctls of this namespace in one visit (one helper
    /// thread, or none when the calling thread is in this namespace), in
    /// order; each has its own outcome, so a caller can treat some as
    /// best effort (as the CNI plugins treat `accept_dad`). Values are
    /// checked as [`NetNs::sysctl_set_text`] checks them. The outer error
    /// is for when the namespace cannot be entered.
    ///
    /// Equivalent to `ip netns exec NS sysctl -w K1=V1 K2=V2 ...`.
    pub fn sysctl_set_many(&self, settings: &[(Sysctl, &str)]) -> Result<Vec<Result<()>>> {
        const OP: &str = "sysctl_set";
        let mut out: Vec<Option<Result<()>>> = Vec::with_capacity(settings.len());
        let mut todo = Vec::new();
        for (i, (key, value)) in settings.iter().enumerate() {
            if let Err(e) = check_text(OP, key, value) {
                out.push(Some(Err(e)));
                continue;
            }
            match key.path(OP) {
                Ok(path) => {
                    out.push(None);
                    todo.push((i, path, key.all_path(), format!("{value}\n")));
                }
                Err(e) => out.push(Some(Err(e))),
            }
        }
        let written = self.visit(move || {
            todo.into_iter()
                .map(|(i, path, all, line)| {
                    (
                        i,
                        std::fs::write(&path, line).map_err(|e| (e, missing_link(&all))),
                    )
                })
                .collect::<Vec<_>>()
        })?;
        for (i, r) in written {
            if let (Some(slot), Some((key, _))) = (out.get_mut(i), settings.get(i)) {
                *slot = Some(r.map_err(|(e, missing)| os_error(OP, key, e, missing)));
            }
        }
        Ok(out
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::invalid(OP, "sysctl", "not written"))))
            .collect())
    }
}

/// A value [`NetNs::sysctl_set_text`] writes: one line of at most
/// [`SYSCTL_TEXT_MAX`] bytes, without NUL (the kernel judges the rest).
fn check_text(op: &'static str, key: &Sysctl, value: &str) -> Result<()> {
    if value.len() > SYSCTL_TEXT_MAX || value.contains(['\n', '\0']) {
        return Err(Error::invalid(
            op,
            key.to_string(),
            "a sysctl value is one line of at most 4096 bytes, without NUL",
        ));
    }
    Ok(())
}

/// The longest sysctl text read or written.
const SYSCTL_TEXT_MAX: usize = 4096;

/// Check a key of `net.ipv4.conf.X` / `net.ipv6.conf.X`: lowercase letters,
/// digits and `_`, 1 to 64 bytes, so it can only name a file of that
/// directory.
fn validate_key(op: &'static str, key: &str) -> Result<()> {
    if key.is_empty()
        || key.len() > 64
        || !key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(Error::invalid(
            op,
            key.escape_debug().to_string(),
            "a sysctl key is 1 to 64 lowercase letters, digits or '_'",
        ));
    }
    Ok(())
}

impl std::str::FromStr for Sysctl {
    type Err = Error;

    /// A dotted name as sysctl(8) writes it: `net.ipv4.ip_forward`,
    /// `net.ipv4.conf.X.KEY` or `net.ipv6.conf.X.KEY`, where X is `all`,
    /// `default` or an interface (a `.` in its name written as `/`).
    fn from_str(s: &str) -> Result<Sysctl> {
        const OP: &str = "sysctl_parse";
        if s == "net.ipv4.ip_forward" {
            return Ok(Sysctl::Ipv4Forward);
        }
        let bad = || {
            Error::invalid(
                OP,
                s.escape_debug().to_string(),
                "expected net.ipv4.ip_forward, net.ipv4.conf.IF.KEY or net.ipv6.conf.IF.KEY",
            )
        };
        let (family, rest) = if let Some(r) = s.strip_prefix("net.ipv4.conf.") {
            (IpFamily::V4, r)
        } else if let Some(r) = s.strip_prefix("net.ipv6.conf.") {
            (IpFamily::V6, r)
        } else {
            return Err(bad());
        };
        let (dir, key) = rest.rsplit_once('.').ok_or_else(bad)?;
        validate_key(OP, key)?;
        let conf = match dir {
            "all" => SysctlConf::All,
            "default" => SysctlConf::Default,
            name => {
                let name = name.replace('/', ".");
                validate_ifname(OP, &name)?;
                SysctlConf::Link(name)
            }
        };
        Ok(Sysctl::named(family, conf, key))
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
        assert_eq!(Sysctl::AcceptRa(SysctlConf::All).max_value(), Some(2));
        assert_eq!(Sysctl::ProxyArp(SysctlConf::All).max_value(), Some(1));
        let any = Sysctl::Conf(IpFamily::V6, SysctlConf::link("e0"), "hop_limit".into());
        assert_eq!(any.max_value(), None);
        assert_eq!(any.to_string(), "net.ipv6.conf.e0.hop_limit");
        assert_eq!(
            any.path("t").unwrap(),
            PathBuf::from("/proc/sys/net/ipv6/conf/e0/hop_limit")
        );
        for (name, want) in [
            (
                "net.ipv4.conf.eth0.arp_notify",
                Sysctl::ArpNotify(SysctlConf::link("eth0")),
            ),
            (
                "net.ipv6.conf.default.accept_dad",
                Sysctl::AcceptDad(SysctlConf::Default),
            ),
            (
                "net.ipv4.conf.all.route_localnet",
                Sysctl::RouteLocalnet(SysctlConf::All),
            ),
            ("net.ipv4.ip_forward", Sysctl::Ipv4Forward),
            (
                "net.ipv4.conf.eth0/100.rp_filter",
                Sysctl::RpFilter(SysctlConf::link("eth0.100")),
            ),
        ] {
            let k: Sysctl = name.parse().unwrap();
            assert_eq!(k, want);
            assert_eq!(k.to_string(), name, "round trip");
        }
    }

    #[test]
    fn keys_and_dotted_names_cannot_escape() {
        for bad in [
            "net.ipv4.conf.eth0.../x",
            "net.ipv4.conf.eth0.",
            "net.ipv4.conf.eth0.Up",
            "net.ipv4.conf.sixteen-chars-xxx.rp_filter",
            "net.core.somaxconn",
            "net.ipv4.conf.eth0",
            "kernel.hostname",
        ] {
            let e = bad.parse::<Sysctl>().unwrap_err();
            assert!(e.is_invalid_argument(), "{bad}: {e}");
        }
        for bad in ["", "../x", "a/b", "A", "x".repeat(65).as_str()] {
            let k = Sysctl::Conf(IpFamily::V4, SysctlConf::All, bad.to_owned());
            assert!(k.path("t").unwrap_err().is_invalid_argument(), "{bad:?}");
        }
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
