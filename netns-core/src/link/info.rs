//! What the kernel reports of a link: [`LinkInfo`] with its [`LinkFlags`],
//! [`OperState`] and [`MacAddr`], parsed from an RTM_NEWLINK.

use std::fmt;
use std::str::FromStr;

use netlink_packet_route::link::{LinkAttribute, LinkExtentMask};

use super::kind::{parse_data, LinkData};
use crate::error::{Error, Result};
use crate::named::bit_names;
use crate::nla::{u32_at, Nlas};
use crate::socket::Reply;

/// A 48-bit Ethernet (MAC) address.
///
/// ```
/// use netns_core::MacAddr;
/// let m: MacAddr = "02:00:5e:10:00:01".parse().unwrap();
/// assert_eq!(m.to_string(), "02:00:5e:10:00:01");
/// assert!("02:00:5e".parse::<MacAddr>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl FromStr for MacAddr {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "mac_parse",
                s,
                "expected six hex bytes like 02:00:5e:10:00:01",
            )
        };
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for b in out.iter_mut() {
            let p = parts.next().ok_or_else(bad)?;
            if p.is_empty() || p.len() > 2 {
                return Err(bad());
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(MacAddr(out))
    }
}

impl MacAddr {
    /// Whether the group (multicast) bit is set: such an address cannot be a
    /// link's own address.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
}

bitflags::bitflags! {
    /// Interface flags (`IFF_*` of linux/if.h), as `ip link` shows them in
    /// `<...>` ([`LinkFlags::names`]).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct LinkFlags: u32 {
        /// IFF_UP: administratively up.
        const UP = 0x1;
        /// IFF_BROADCAST.
        const BROADCAST = 0x2;
        /// IFF_DEBUG.
        const DEBUG = 0x4;
        /// IFF_LOOPBACK.
        const LOOPBACK = 0x8;
        /// IFF_POINTOPOINT.
        const POINTOPOINT = 0x10;
        /// IFF_NOTRAILERS.
        const NOTRAILERS = 0x20;
        /// IFF_RUNNING: operationally up.
        const RUNNING = 0x40;
        /// IFF_NOARP.
        const NOARP = 0x80;
        /// IFF_PROMISC.
        const PROMISC = 0x100;
        /// IFF_ALLMULTI.
        const ALLMULTI = 0x200;
        /// IFF_MASTER: a controller (bond).
        const MASTER = 0x400;
        /// IFF_SLAVE: a port of a bond.
        const SLAVE = 0x800;
        /// IFF_MULTICAST.
        const MULTICAST = 0x1000;
        /// IFF_PORTSEL.
        const PORTSEL = 0x2000;
        /// IFF_AUTOMEDIA.
        const AUTOMEDIA = 0x4000;
        /// IFF_DYNAMIC.
        const DYNAMIC = 0x8000;
        /// IFF_LOWER_UP: the carrier is up.
        const LOWER_UP = 0x10000;
        /// IFF_DORMANT.
        const DORMANT = 0x20000;
        /// IFF_ECHO.
        const ECHO = 0x40000;
        // Bits the kernel may add later are kept, not dropped.
        const _ = !0;
    }
}

impl LinkFlags {
    /// The flag names in `ip link`'s order and spelling, e.g.
    /// `["BROADCAST", "MULTICAST", "UP", "LOWER_UP"]`; an up link without
    /// carrier starts with `NO-CARRIER`, as `ip` shows it.
    pub fn names(self) -> Vec<&'static str> {
        const NAMES: [(LinkFlags, &str); 16] = [
            (LinkFlags::LOOPBACK, "LOOPBACK"),
            (LinkFlags::BROADCAST, "BROADCAST"),
            (LinkFlags::POINTOPOINT, "POINTOPOINT"),
            (LinkFlags::MULTICAST, "MULTICAST"),
            (LinkFlags::NOARP, "NOARP"),
            (LinkFlags::ALLMULTI, "ALLMULTI"),
            (LinkFlags::PROMISC, "PROMISC"),
            (LinkFlags::NOTRAILERS, "NOTRAILERS"),
            (LinkFlags::UP, "UP"),
            (LinkFlags::DYNAMIC, "DYNAMIC"),
            (LinkFlags::MASTER, "MASTER"),
            (LinkFlags::SLAVE, "SLAVE"),
            (LinkFlags::PORTSEL, "PORTSEL"),
            (LinkFlags::AUTOMEDIA, "AUTOMEDIA"),
            (LinkFlags::LOWER_UP, "LOWER_UP"),
            (LinkFlags::DORMANT, "DORMANT"),
        ];
        let mut v = bit_names(self, &NAMES);
        if self.contains(LinkFlags::UP) && !self.contains(LinkFlags::RUNNING) {
            v.insert(0, "NO-CARRIER");
        }
        v
    }
}

named! {
    /// RFC 2863 operational state (IFLA_OPERSTATE, `IF_OPER_*`), as `ip link`
    /// shows it.
    struct OperState(u8) {
        /// IF_OPER_UNKNOWN: the driver does not say (loopback, dummy...).
        UNKNOWN = 0 => "UNKNOWN",
        /// IF_OPER_NOTPRESENT.
        NOTPRESENT = 1 => "NOTPRESENT",
        /// IF_OPER_DOWN.
        DOWN = 2 => "DOWN",
        /// IF_OPER_LOWERLAYERDOWN: a device it sits on is down.
        LOWERLAYERDOWN = 3 => "LOWERLAYERDOWN",
        /// IF_OPER_TESTING.
        TESTING = 4 => "TESTING",
        /// IF_OPER_DORMANT.
        DORMANT = 5 => "DORMANT",
        /// IF_OPER_UP: usable.
        UP = 6 => "UP",
    }
}

/// A link as the kernel reports it (`ip -d link show`).
///
/// `Display` prints it like the first line of `ip link show`:
/// `3: veth0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Interface index.
    pub index: u32,
    /// Name.
    pub name: String,
    /// Kind (`veth`, `bridge`, `macvlan`...), `None` for links without one
    /// (loopback, physical NICs).
    pub kind: Option<String>,
    /// MAC address, if the link has a 6-byte hardware address.
    pub mac: Option<MacAddr>,
    /// MTU.
    pub mtu: u32,
    /// IFF_* flags.
    pub flags: LinkFlags,
    /// Operational state.
    pub operstate: OperState,
    /// The index of the controller (bridge, bond, vrf) it is attached to.
    pub controller: Option<u32>,
    /// The index of the parent (IFLA_LINK): the lower device of a
    /// vlan/macvlan/ipvlan, or the peer of a veth.
    pub parent: Option<u32>,
    /// The nsid of the namespace the parent/peer lives in, if not this one.
    pub link_netnsid: Option<i32>,
    /// Transmit queue length.
    pub txqueuelen: Option<u32>,
    /// Alias.
    pub alias: Option<String>,
    /// Link group.
    pub group: u32,
    /// Kind-specific details.
    pub data: LinkData,
}

impl LinkInfo {
    /// Administratively up (IFF_UP).
    pub fn is_up(&self) -> bool {
        self.flags.contains(LinkFlags::UP)
    }

    /// Up and usable: administratively up with carrier (IFF_UP and
    /// IFF_LOWER_UP), and operationally up (or of unknown state, as loopback
    /// and dummy devices report). What
    /// [`Handle::wait_link_up`](crate::Handle::wait_link_up) waits for.
    pub fn is_operational(&self) -> bool {
        self.flags.contains(LinkFlags::UP | LinkFlags::LOWER_UP)
            && matches!(self.operstate, OperState::UP | OperState::UNKNOWN)
    }

    /// `ip -br link` style one-line summary: `name state mac <flags>`.
    pub fn brief(&self) -> String {
        let name = match self.parent {
            Some(p) => format!("{}@if{p}", self.name),
            None => self.name.clone(),
        };
        format!(
            "{:<16} {:<14} {} <{}>",
            name,
            self.operstate.to_string(),
            self.mac.map(|m| m.to_string()).unwrap_or_default(),
            self.flags.names().join(",")
        )
    }
}

impl fmt::Display for LinkInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.index, self.name)?;
        if let Some(p) = self.parent {
            write!(f, "@if{p}")?;
        }
        write!(f, ": <{}> mtu {}", self.flags.names().join(","), self.mtu)?;
        if let Some(c) = self.controller {
            write!(f, " master if{c}")?;
        }
        write!(f, " state {}", self.operstate)?;
        if let Some(k) = &self.kind {
            write!(f, " type {k}")?;
        }
        if let Some(m) = self.mac {
            write!(f, " link/ether {m}")?;
        }
        Ok(())
    }
}

const IFLA_ADDRESS: u16 = 1;
pub(crate) const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_MASTER: u16 = 10;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKINFO: u16 = 18;
const IFLA_IFALIAS: u16 = 20;
const IFLA_GROUP: u16 = 27;
const IFLA_LINK_NETNSID: u16 = 37;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
/// struct ifinfomsg.
pub(crate) const LINK_HEADER_LEN: usize = 16;
pub(crate) const RTM_NEWLINK: u16 = 16;

/// Parse an RTM_NEWLINK payload into a [`LinkInfo`]. Only the attributes it
/// reports are decoded (a link message also carries statistics and
/// per-family configuration, skipped unread).
pub(crate) fn parse_link(payload: &[u8]) -> std::result::Result<LinkInfo, String> {
    let h = payload
        .get(..LINK_HEADER_LEN)
        .ok_or("link message shorter than its header")?;
    // struct ifinfomsg { family, pad, type: u16, index: i32, flags, change }
    let index = u32_at(h, 4).ok_or("link message shorter than its header")?;
    let flags = u32_at(h, 8).ok_or("link message shorter than its header")?;
    let mut info = LinkInfo {
        index,
        name: String::new(),
        kind: None,
        mac: None,
        mtu: 0,
        flags: LinkFlags::from_bits_retain(flags),
        operstate: OperState::UNKNOWN,
        controller: None,
        parent: None,
        link_netnsid: None,
        txqueuelen: None,
        alias: None,
        group: 0,
        data: LinkData::Other,
    };
    let bad = |what: &str| format!("malformed {what} attribute");
    for nla in Nlas::new(&payload[LINK_HEADER_LEN..]) {
        let nla = nla?;
        match nla.kind {
            IFLA_IFNAME => info.name = nla.str(),
            IFLA_MTU => info.mtu = nla.u32().ok_or_else(|| bad("IFLA_MTU"))?,
            IFLA_ADDRESS => {
                if let Ok(b) = <[u8; 6]>::try_from(nla.value) {
                    info.mac = Some(MacAddr(b));
                }
            }
            IFLA_MASTER => info.controller = nla.u32().filter(|&c| c != 0),
            IFLA_LINK => info.parent = nla.u32().filter(|&l| l != 0),
            IFLA_LINK_NETNSID => info.link_netnsid = nla.i32(),
            IFLA_TXQLEN => info.txqueuelen = nla.u32(),
            IFLA_IFALIAS => info.alias = Some(nla.str()),
            IFLA_GROUP => info.group = nla.u32().ok_or_else(|| bad("IFLA_GROUP"))?,
            IFLA_OPERSTATE => {
                info.operstate = OperState(nla.u8().ok_or_else(|| bad("IFLA_OPERSTATE"))?)
            }
            IFLA_LINKINFO => {
                // The kind and the kind's data (IFLA_INFO_DATA), decoded for
                // the kinds LinkData describes.
                let mut data = None;
                for inner in Nlas::new(nla.value) {
                    let inner = inner?;
                    match inner.kind {
                        IFLA_INFO_KIND => info.kind = Some(inner.str()),
                        IFLA_INFO_DATA => data = Some(inner.value),
                        _ => {}
                    }
                }
                if let Some(kind) = info.kind.as_deref() {
                    info.data = parse_data(kind, data)?;
                }
            }
            _ => {}
        }
    }
    if info.name.is_empty() {
        return Err("link message without a name".into());
    }
    // Devices without a parent report themselves (iflink == ifindex); a
    // peer in another namespace may have our index, hence the nsid check.
    if info.parent == Some(info.index) && info.link_netnsid.is_none() {
        info.parent = None;
    }
    Ok(info)
}

/// A reply of a link request: `None` for messages that are not RTM_NEWLINK.
pub(crate) fn link_reply(
    op: &'static str,
    object: &dyn fmt::Display,
    r: Reply<'_>,
) -> Result<Option<LinkInfo>> {
    if r.message_type != RTM_NEWLINK {
        return Ok(None);
    }
    parse_link(r.payload)
        .map(Some)
        .map_err(|e| Error::protocol(op, object.to_string(), e))
}

/// Ask for no statistics: they are large, and [`LinkInfo`] does not carry them.
pub(crate) fn skip_stats() -> LinkAttribute {
    LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        crate::nla::put(&mut v, kind, value);
        v
    }

    /// An RTM_NEWLINK payload for link 7 "x0" of `kind` with IFLA_INFO_DATA
    /// made of `data` (attributes), as the kernel lays it out.
    fn link_with(kind: &str, data: &[(u16, &[u8])]) -> LinkInfo {
        let mut p = vec![0u8; LINK_HEADER_LEN];
        p[4..8].copy_from_slice(&7i32.to_ne_bytes());
        p[8..12].copy_from_slice(&0x11043u32.to_ne_bytes());
        p.extend(attr(IFLA_IFNAME, b"x0\0"));
        p.extend(attr(IFLA_MTU, &1500u32.to_ne_bytes()));
        p.extend(attr(IFLA_OPERSTATE, &[6]));
        let mut info = attr(IFLA_INFO_KIND, format!("{kind}\0").as_bytes());
        let data: Vec<u8> = data.iter().flat_map(|(t, v)| attr(*t, v)).collect();
        info.extend(attr(IFLA_INFO_DATA, &data));
        p.extend(attr(IFLA_LINKINFO, &info));
        parse_link(&p).unwrap()
    }

    #[test]
    fn a_link_message_is_read_and_shown_like_ip() {
        let l = link_with("vlan", &[(1, &10u16.to_ne_bytes())]);
        assert_eq!(
            (l.index, l.name.as_str(), l.kind.as_deref()),
            (7, "x0", Some("vlan"))
        );
        assert_eq!(l.operstate, OperState::UP);
        assert!(l.is_up() && l.is_operational());
        assert_eq!(
            l.to_string(),
            "7: x0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP type vlan"
        );
        assert_eq!(OperState(9).to_string(), "9");
        assert_eq!(
            (LinkFlags::UP | LinkFlags::BROADCAST).names(),
            vec!["NO-CARRIER", "BROADCAST", "UP"]
        );
    }

    #[test]
    fn attributes_that_do_not_fit_are_an_error() {
        let mut p = vec![0u8; LINK_HEADER_LEN];
        p.extend(attr(IFLA_IFNAME, b"x0\0"));
        let mut info = attr(IFLA_INFO_KIND, b"vlan\0");
        info.extend(attr(IFLA_INFO_DATA, &[200, 0, 1, 0, 0]));
        p.extend(attr(IFLA_LINKINFO, &info));
        assert!(parse_link(&p).unwrap_err().contains("vlan"));
    }

    #[test]
    fn mac_parse_and_display() {
        let m: MacAddr = "0A:0b:0c:0d:0e:0f".parse().unwrap();
        assert_eq!(m.to_string(), "0a:0b:0c:0d:0e:0f");
        for bad in [
            "",
            "0a:0b:0c:0d:0e",
            "0a:0b:0c:0d:0e:0f:10",
            "0a:0b:0c:0d:0e:zz",
            "0a:0b:0c:0d:0e:100",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parse_link_rejects_garbage_without_panicking() {
        assert!(parse_link(&[]).is_err());
        assert!(parse_link(&[0u8; 16]).is_err());
        let mut m = vec![0u8; 16];
        m.extend_from_slice(&[200, 0, 3, 0]);
        assert!(parse_link(&m).is_err());
    }
}
