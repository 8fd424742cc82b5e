//! NAT for containers, in process: masquerade and port forwards (DNAT
//! with hairpin) over nftables netlink, in a table netns owns
//! (`inet netns-nat`), with exact removal. [`Nat`] is the API; the layout
//! below is what it writes, so `nft list table inet netns-nat` reads it.
//!
//! | call | what it adds (nft) |
//! |---|---|
//! | [`Nat::masquerade`]`(owner, [10.0.0.2], [10.0.0.0/24])` | chain `masq-N-O` `{ meta nfproto ipv4 ip daddr != 10.0.0.0/24 ip daddr != 224.0.0.0/4 masquerade }`; element `10.0.0.2 : jump masq-N-O` in map `masq4` |
//! | [`Nat::port_forward`]`(owner, [tcp 8080 -> 10.0.0.2:80], hairpin)` | element `tcp . 8080 : 10.0.0.2 . 80` in map `ports4` (`hostip4-ports` with a host address); with hairpin from 10.0.0.0/24, element `10.0.0.2 . 10.0.0.0/24` in set `hairpin4`; the owner's marker in set `owners` |
//! | [`Nat::port_forward_if`]`(owner, forwards, hairpin, conditions)` | chain `fwd-N-O` `{ meta nfproto ipv4 ip saddr != 10.1.0.0/16 iifname "eth0" tcp dport 8080 dnat ip to 10.0.0.2:80 }` (each forward's rule matching its family's [`NatConditions`]), element `tcp . 8080 : jump fwd-N-O` in map `cond-ports`; hairpin and marker as above |
//! | [`Nat::remove`]`(owner, kind)` | deletes those elements (and the owner's chains); the table itself when nothing else is left in it |
//! | [`Nat::gc`]`(network, valid)` | [`Nat::remove`] of every owner of `network` not in `valid` |
//!
//! The table's fixed part, made by the first call (one transaction):
//! ```text
//! table inet netns-nat {
//!   set owners { type ipv6_addr }     # one marker per owner and kind
//!   map ports4        { type inet_proto . inet_service : ipv4_addr . inet_service }
//!   map ports6        { type inet_proto . inet_service : ipv6_addr . inet_service }
//!   map hostip4-ports { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }
//!   map hostip6-ports { type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service }
//!   set hairpin4 { type ipv4_addr . ipv4_addr; flags interval }   # pod . sources
//!   set hairpin6 { type ipv6_addr . ipv6_addr; flags interval }
//!   map masq4 { type ipv4_addr : verdict }    map masq6 { type ipv6_addr : verdict }
//!   map cond-ports { type inet_proto . inet_service : verdict }  # forwards with conditions
//!   chain prerouting { type nat hook prerouting priority dstnat;
//!     fib daddr type local meta l4proto . th dport vmap @cond-ports
//!     fib daddr type local meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @hostip4-ports
//!     fib daddr type local meta nfproto ipv4 dnat ip to meta l4proto . th dport map @ports4
//!     (the same two for ipv6) }
//!   chain output { type nat hook output priority dstnat; (the same five rules) }
//!   chain postrouting { type nat hook postrouting priority srcnat;
//!     ct status dnat ip daddr . ip saddr @hairpin4 masquerade
//!     ct status dnat ip6 daddr . ip6 saddr @hairpin6 masquerade
//!     meta nfproto ipv4 ip saddr vmap @masq4
//!     meta nfproto ipv6 ip6 saddr vmap @masq6 }
//! }
//! ```
//!
//! - **Owners.** Everything an attachment adds is tagged with its
//!   [`NatOwner`] (network, container ID, interface): `KIND-N-O`, N and O
//!   64-bit FNV-1a hashes (hex) of the network and of the whole owner. A
//!   port forward's elements carry it as their comment (followed by the
//!   owner spelled out); a masquerade is a chain of that name, reached only
//!   from its map elements. Removing an owner is deleting what carries its
//!   tag; no rule handle is involved, and nothing of another owner is
//!   touched.
//! - **Atomic.** Each call is one nfnetlink transaction: an attachment's
//!   objects exist all together or not at all, also when the process is
//!   killed half-way. Removal reads the sets and deletes at the ruleset
//!   generation it read (NFNL_BATCH_GENID), so a concurrent change makes it
//!   read again instead of deleting a table another process just used.
//! - **Cost.** A port forward is data: map and set elements, no jump. A
//!   transaction that adds a jump makes the kernel validate the table's
//!   whole jump graph, every element of every verdict map (O(owners));
//!   one that adds only data elements does not, so adding a port forward
//!   costs the same with 1 or 1,000 others (benches/port_mapping.rs).
//!   A masquerade, a jump, costs O(owners) in the kernel's validation
//!   (microseconds each). Removing reads the sets' elements.
//! - **Conflicts.** A host port (protocol, port, host address, family)
//!   forwards to one owner: a second one is refused with EEXIST, instead
//!   of the first rule silently winning as with iptables.
//! - **What it does not do.** IP forwarding, `route_localnet` (needed for
//!   DNAT of 127.0.0.1, see [`Sysctl`](crate::Sysctl)) and hairpin mode on
//!   bridge ports (a pod reaching its own host port through a bridge needs
//!   it) are the caller's; so is deleting stale conntrack entries (see
//!   [`conntrack`](crate::conntrack)).

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::nft::{
    Nft, NftBaseChain, NftElement, NftFamily, NftHook, NftKeyField, NftKeySource, NftKeyValue,
    NftMapElement, NftRule, NftSetData, NftTransaction, NftVerdict,
};
use crate::ns::NetNs;

/// The table netns owns (family `inet`).
pub const NAT_TABLE: &str = "netns-nat";
const FAMILY: NftFamily = NftFamily::Inet;

const SET_OWNERS: &str = "owners";
const SET_COND_PORTS: &str = "cond-ports";
const SET_PORTS4: &str = "ports4";
const SET_PORTS6: &str = "ports6";
const SET_HOSTIP4: &str = "hostip4-ports";
const SET_HOSTIP6: &str = "hostip6-ports";
const SET_HAIRPIN4: &str = "hairpin4";
const SET_HAIRPIN6: &str = "hairpin6";
const SET_MASQ4: &str = "masq4";
const SET_MASQ6: &str = "masq6";
/// Every set of the table (what a removal reads).
const SETS: [&str; 10] = [
    SET_OWNERS,
    SET_COND_PORTS,
    SET_PORTS4,
    SET_PORTS6,
    SET_HOSTIP4,
    SET_HOSTIP6,
    SET_HAIRPIN4,
    SET_HAIRPIN6,
    SET_MASQ4,
    SET_MASQ6,
];
/// The sets a port forward adds to (its marker aside).
const FORWARD_SETS: [&str; 7] = [
    SET_COND_PORTS,
    SET_PORTS4,
    SET_PORTS6,
    SET_HOSTIP4,
    SET_HOSTIP6,
    SET_HAIRPIN4,
    SET_HAIRPIN6,
];
/// Every source, as a hairpin range (portmap's masqAll).
const ANY4: IpNet = IpNet::V4(ipnet::Ipv4Net::new_assert(
    std::net::Ipv4Addr::UNSPECIFIED,
    0,
));
const ANY6: IpNet = IpNet::V6(ipnet::Ipv6Net::new_assert(
    std::net::Ipv6Addr::UNSPECIFIED,
    0,
));

/// Multicast destinations are never masqueraded.
const MULTICAST4: IpNet = IpNet::V4(ipnet::Ipv4Net::new_assert(
    std::net::Ipv4Addr::new(224, 0, 0, 0),
    4,
));
const MULTICAST6: IpNet = IpNet::V6(ipnet::Ipv6Net::new_assert(
    std::net::Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
    8,
));

/// Who a NAT entry belongs to: an attachment (network name, container ID,
/// interface name), as CNI names one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NatOwner {
    /// The network's name.
    pub network: String,
    /// The container ID.
    pub container_id: String,
    /// The interface name in the container.
    pub ifname: String,
}

impl NatOwner {
    /// The owner (`network`, `container_id`, `ifname`).
    pub fn new(network: &str, container_id: &str, ifname: &str) -> NatOwner {
        NatOwner {
            network: network.to_string(),
            container_id: container_id.to_string(),
            ifname: ifname.to_string(),
        }
    }

    pub(crate) fn hash(&self) -> u64 {
        let mut h = fnv(FNV_OFFSET, self.network.as_bytes());
        h = fnv(h, b"\0");
        h = fnv(h, self.container_id.as_bytes());
        h = fnv(h, b"\0");
        fnv(h, self.ifname.as_bytes())
    }

    /// The name of this owner's chain of `kind`.
    fn chain(&self, kind: ChainKind) -> String {
        self.tag(kind.prefix())
    }

    /// `PREFIX-N-O`: the tag of what this owner adds (a chain name, the
    /// start of an element's comment), N and O the network's and the
    /// owner's hashes; [`parse_tag`] reads it back.
    pub(crate) fn tag(&self, prefix: &str) -> String {
        format!(
            "{prefix}-{:016x}-{:016x}",
            network_hash(&self.network),
            self.hash()
        )
    }

    /// An element's comment: `token` (what removal matches), then the
    /// owner, cut to what nft keeps.
    fn tagged(&self, token: &str) -> String {
        cut(format!("{token} {}", self.comment()))
    }

    /// The owner's marker of `kind` in the `owners` set: its network's and
    /// its own hash, as the 16 bytes of an IPv6 address.
    fn marker(&self, kind: ChainKind) -> IpAddr {
        let owner = fnv(self.hash(), kind.prefix().as_bytes());
        let bits = (u128::from(network_hash(&self.network)) << 64) | u128::from(owner);
        IpAddr::V6(std::net::Ipv6Addr::from(bits))
    }

    /// The chains' comment: the owner, cut to what nft keeps.
    pub(crate) fn comment(&self) -> String {
        cut(format!(
            "{} {} {}",
            self.network, self.container_id, self.ifname
        ))
    }
}

impl fmt::Display for NatOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "network {} container {} interface {}",
            self.network, self.container_id, self.ifname
        )
    }
}

/// The prefix, network hash and owner hash of a tag
/// ([`NatOwner::tag`]).
pub(crate) fn parse_tag(tag: &str) -> Option<(&str, u64, u64)> {
    let mut parts = tag.split('-');
    let (prefix, net, owner) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || net.len() != 16 || owner.len() != 16 {
        return None;
    }
    Some((
        prefix,
        u64::from_str_radix(net, 16).ok()?,
        u64::from_str_radix(owner, 16).ok()?,
    ))
}

/// `c` without NULs, cut to the 127 bytes nft keeps of a comment.
fn cut(mut c: String) -> String {
    c.retain(|ch| ch != '\0');
    let mut end = c.len().min(127);
    while !c.is_char_boundary(end) {
        end -= 1;
    }
    c.truncate(end);
    c
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

pub(crate) fn network_hash(network: &str) -> u64 {
    fnv(FNV_OFFSET, network.as_bytes())
}

/// What a [`Nat::remove`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NatKind {
    /// What [`Nat::masquerade`] added.
    Masquerade,
    /// What [`Nat::port_forward`] added (forwards and their hairpin).
    PortForward,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChainKind {
    Masq,
    Fwd,
    Hairpin,
}

impl ChainKind {
    const ALL: [ChainKind; 3] = [ChainKind::Masq, ChainKind::Fwd, ChainKind::Hairpin];

    fn prefix(self) -> &'static str {
        match self {
            ChainKind::Masq => "masq",
            ChainKind::Fwd => "fwd",
            ChainKind::Hairpin => "hp",
        }
    }

    fn of(kind: NatKind) -> &'static [ChainKind] {
        match kind {
            NatKind::Masquerade => &[ChainKind::Masq],
            NatKind::PortForward => &[ChainKind::Fwd, ChainKind::Hairpin],
        }
    }

    /// The kind, network hash and owner hash of a chain name netns made.
    fn parse(chain: &str) -> Option<(ChainKind, u64, u64)> {
        let (prefix, net, owner) = parse_tag(chain)?;
        let kind = ChainKind::ALL.into_iter().find(|k| k.prefix() == prefix)?;
        Some((kind, net, owner))
    }
}

/// A transport protocol of a port forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NatProto {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// SCTP (132).
    Sctp,
}

impl NatProto {
    /// The IPPROTO_* number.
    pub fn number(self) -> u8 {
        match self {
            NatProto::Tcp => 6,
            NatProto::Udp => 17,
            NatProto::Sctp => 132,
        }
    }

    /// `tcp`, `udp` or `sctp`.
    pub fn name(self) -> &'static str {
        match self {
            NatProto::Tcp => "tcp",
            NatProto::Udp => "udp",
            NatProto::Sctp => "sctp",
        }
    }
}

impl fmt::Display for NatProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for NatProto {
    type Err = String;

    /// `tcp`, `udp` or `sctp`, in any case (as CNI's portMappings spell
    /// them).
    fn from_str(s: &str) -> std::result::Result<NatProto, String> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(NatProto::Tcp),
            "udp" => Ok(NatProto::Udp),
            "sctp" => Ok(NatProto::Sctp),
            _ => Err(format!("unknown protocol {s:?} (tcp, udp or sctp)")),
        }
    }
}

/// One port forward: packets of `proto` to a local address of the host
/// (`host_ip`, or any) on `host_port` go to `to`:`to_port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortForward {
    /// The protocol.
    pub proto: NatProto,
    /// The host port (1 to 65535).
    pub host_port: u16,
    /// Only packets to this host address (`None`: any local address).
    pub host_ip: Option<IpAddr>,
    /// The destination (the pod's address).
    pub to: IpAddr,
    /// The destination port (1 to 65535).
    pub to_port: u16,
}

impl fmt::Display for PortForward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            Some(IpAddr::V6(a)) => write!(f, "[{a}]:")?,
            Some(a) => write!(f, "{a}:")?,
            None => {}
        }
        write!(f, "{}/{} -> ", self.host_port, self.proto)?;
        match self.to {
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.to_port),
            a => write!(f, "{a}:{}", self.to_port),
        }
    }
}

/// Which forwarded connections are also masqueraded (source NAT to the
/// host), so that the pod's replies come back through the host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Hairpin {
    /// None.
    #[default]
    Off,
    /// Those from these sources: the pod's own subnet (a pod reaching its
    /// own or a neighbour's host port) and loopback (`127.0.0.0/8`, `::1`,
    /// for a host process using 127.0.0.1:PORT).
    From(Vec<IpNet>),
    /// All of them (portmap's `masqAll`).
    All,
}

/// The matches port forwards are limited to ([`Nat::port_forward_if`]):
/// those of IPv4 forwards and those of IPv6 ones (portmap's
/// `conditionsV4` and `conditionsV6`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NatConditions {
    /// Every IPv4 forward matches all of these (addresses IPv4 only).
    pub v4: Vec<NatCondition>,
    /// Every IPv6 forward matches all of these (addresses IPv6 only).
    pub v6: Vec<NatCondition>,
}

/// A match a port forward can be limited to ([`Nat::port_forward_if`]):
/// the subset of iptables matches portmap's `conditionsV4`/`conditionsV6`
/// carry that nftables says the same way. The `bool` is `true` for a match,
/// `false` for its negation (iptables' `!`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NatCondition {
    /// `ip saddr NET` (`-s NET`).
    Saddr(IpNet, bool),
    /// `ip daddr NET` (`-d NET`).
    Daddr(IpNet, bool),
    /// `iifname NAME` (`-i NAME`): the input interface (none for packets
    /// the host sends, which never match it).
    Iifname(String, bool),
    /// `oifname NAME` (`-o NAME`): the output interface (none yet before
    /// routing, in prerouting, where it never matches).
    Oifname(String, bool),
}

impl NatCondition {
    /// `r` with this condition (checked to be of `r`'s family).
    fn apply(&self, r: NftRule) -> NftRule {
        use crate::nft::{CmpOp, MetaKey, NftExpr, NftReg};
        let name = |r: NftRule, key: MetaKey, n: &str, m: bool| {
            let mut data = n.as_bytes().to_vec();
            data.resize(16, 0);
            r.expr(NftExpr::Meta {
                key,
                dreg: NftReg::R1,
            })
            .expr(NftExpr::Cmp {
                sreg: NftReg::R1,
                op: if m { CmpOp::Eq } else { CmpOp::Neq },
                data,
            })
        };
        match self {
            NatCondition::Saddr(n, m) => r.ip_saddr(*n, *m),
            NatCondition::Daddr(n, m) => r.ip_daddr(*n, *m),
            NatCondition::Iifname(n, m) => name(r, MetaKey::Iifname, n, *m),
            NatCondition::Oifname(n, m) => name(r, MetaKey::Oifname, n, *m),
        }
    }
}

impl fmt::Display for NatCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, m) = match self {
            NatCondition::Saddr(n, m) => (format!("saddr {n}"), m),
            NatCondition::Daddr(n, m) => (format!("daddr {n}"), m),
            NatCondition::Iifname(n, m) => (format!("iifname {n:?}"), m),
            NatCondition::Oifname(n, m) => (format!("oifname {n:?}"), m),
        };
        if *m {
            f.write_str(&what)
        } else {
            write!(f, "not {what}")
        }
    }
}

/// Interface names as the kernel takes them (1 to 15 bytes, no NUL) and
/// addresses of their list's family.
fn check_conditions(op: &'static str, owner: &NatOwner, conditions: &NatConditions) -> Result<()> {
    for (v6, list) in [(false, &conditions.v4), (true, &conditions.v6)] {
        for c in list {
            let bad = match c {
                NatCondition::Iifname(n, _) | NatCondition::Oifname(n, _)
                    if n.is_empty() || n.len() > 15 || n.contains('\0') =>
                {
                    "an interface name is 1 to 15 bytes"
                }
                NatCondition::Saddr(n, _) | NatCondition::Daddr(n, _)
                    if matches!(n, IpNet::V6(_)) != v6 =>
                {
                    if v6 {
                        "not an IPv6 prefix, in the conditions of IPv6 forwards"
                    } else {
                        "not an IPv4 prefix, in the conditions of IPv4 forwards"
                    }
                }
                _ => continue,
            };
            return Err(Error::invalid(op, owner.to_string(), format!("{c}: {bad}")));
        }
    }
    Ok(())
}

/// NAT for containers in one network namespace (see the module docs).
#[derive(Debug)]
pub struct Nat {
    nft: Nft,
}

impl Nat {
    /// NAT in the calling thread's namespace.
    pub fn new() -> Result<Nat> {
        Ok(Nat { nft: Nft::new()? })
    }

    /// NAT in `ns`.
    pub fn new_in(ns: &NetNs) -> Result<Nat> {
        Ok(Nat {
            nft: Nft::new_in(ns)?,
        })
    }

    /// The nftables handle underneath.
    pub fn nft(&self) -> &Nft {
        &self.nft
    }

    /// Masquerade what `owner`'s `sources` send, except to `except` (its
    /// subnets) and to multicast. Replaces what `owner` had of this kind.
    ///
    /// nft: `add element inet netns-nat masq4 { 10.0.0.2 : jump masq-N-O }`
    /// with chain `masq-N-O { meta nfproto ipv4 ip daddr != 10.0.0.0/24
    /// ip daddr != 224.0.0.0/4 masquerade }`.
    #[doc(alias = "iptables -t nat -A POSTROUTING -s 10.0.0.2 ! -d 10.0.0.0/24 -j MASQUERADE")]
    pub fn masquerade(&self, owner: &NatOwner, sources: &[IpAddr], except: &[IpNet]) -> Result<()> {
        const OP: &str = "nat_masquerade";
        if sources.is_empty() {
            return Err(Error::invalid(OP, owner.to_string(), "no source address"));
        }
        let chain = owner.chain(ChainKind::Masq);
        let comment = owner.tagged(&chain);
        self.add_owned(owner, NatKind::Masquerade, |mut t| {
            t = t.chain_create(FAMILY, NAT_TABLE, &chain, Some(&owner.comment()));
            for v6 in [false, true] {
                if !sources.iter().any(|s| s.is_ipv6() == v6) {
                    continue;
                }
                let mut r = NftRule::new().nfproto(v6);
                for net in except.iter().filter(|n| matches!(n, IpNet::V6(_)) == v6) {
                    r = r.ip_daddr(*net, false);
                }
                let multicast = if v6 { MULTICAST6 } else { MULTICAST4 };
                r = r.ip_daddr(multicast, false).masquerade();
                t = t.rule_add(FAMILY, NAT_TABLE, &chain, &r);
            }
            let mut seen = HashSet::new();
            for s in sources.iter().filter(|s| seen.insert(**s)) {
                let set = if s.is_ipv6() { SET_MASQ6 } else { SET_MASQ4 };
                let e = NftElement::new(&[NftKeyValue::Addr(*s)])
                    .verdict(NftVerdict::Jump(chain.clone()))
                    .comment(comment.clone());
                t = t.element_add(FAMILY, NAT_TABLE, set, &e, true);
            }
            t
        })
    }

    /// Forward `forwards` to `owner`'s pod, masquerading the connections
    /// `hairpin` names. Replaces what `owner` had of this kind. A host port
    /// another owner forwards is refused (EEXIST), and nothing is added.
    ///
    /// nft: `add element inet netns-nat ports4 { tcp . 8080 : 10.0.0.2 .
    /// 80 comment "fwd-N-O ..." }`, looked up by the prerouting and output
    /// chains for packets to a local address (`fib daddr type local dnat ip
    /// to meta l4proto . th dport map @ports4`); with hairpin, `add element
    /// inet netns-nat hairpin4 { 10.0.0.2 . 10.0.0.0-10.0.0.255 }`.
    #[doc(
        alias = "iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80"
    )]
    pub fn port_forward(
        &self,
        owner: &NatOwner,
        forwards: &[PortForward],
        hairpin: &Hairpin,
    ) -> Result<()> {
        self.port_forward_if(owner, forwards, hairpin, &NatConditions::default())
    }

    /// [`port_forward`](Self::port_forward), each forward limited to the
    /// packets that also match every one of `conditions` of its family
    /// (portmap's `conditionsV4`/`conditionsV6`): address conditions apply
    /// to the forwards of their family, interface conditions to all.
    /// Packets that fail one are not forwarded (they go on to the next
    /// rule of the base chain, as they return from portmap's chain).
    ///
    /// Conditions make the forwards rules of a chain of the owner's
    /// (`fwd-N-O`), reached from map `cond-ports` by (protocol, port): a
    /// jump, which costs O(owners) to add (see the module docs).
    ///
    /// nft: `fwd-N-O { meta nfproto ipv4 ip saddr != 10.1.0.0/16 iifname
    /// "eth0" tcp dport 8080 dnat ip to 10.0.0.2:80 }`.
    pub fn port_forward_if(
        &self,
        owner: &NatOwner,
        forwards: &[PortForward],
        hairpin: &Hairpin,
        conditions: &NatConditions,
    ) -> Result<()> {
        const OP: &str = "nat_port_forward";
        check_forwards(OP, owner, forwards)?;
        check_conditions(OP, owner, conditions)?;
        let token = owner.chain(ChainKind::Fwd);
        let comment = owner.tagged(&token);
        let conditional = !conditions.v4.is_empty() || !conditions.v6.is_empty();
        let chain = conditional.then_some(token.as_str());
        let elements = forward_elements(forwards, hairpin, chain);
        self.add_owned(owner, NatKind::PortForward, |mut t| {
            let marker = NftElement::new(&[NftKeyValue::Addr(owner.marker(ChainKind::Fwd))])
                .comment(comment.clone());
            t = t.element_add(FAMILY, NAT_TABLE, SET_OWNERS, &marker, true);
            if let Some(chain) = chain {
                t = t.chain_create(FAMILY, NAT_TABLE, chain, Some(&owner.comment()));
                for f in forwards {
                    let v6 = f.to.is_ipv6();
                    let mut r = NftRule::new().nfproto(v6);
                    if let Some(h) = f.host_ip {
                        r = r.ip_daddr(IpNet::from(h), true);
                    }
                    let list = if v6 { &conditions.v6 } else { &conditions.v4 };
                    for c in list {
                        r = c.apply(r);
                    }
                    let r = r
                        .dport(f.proto.number(), f.host_port)
                        .dnat(f.to, Some(f.to_port))
                        .comment(f.to_string());
                    t = t.rule_add(FAMILY, NAT_TABLE, chain, &r);
                }
            }
            for (set, e) in &elements {
                t = t.element_add(
                    FAMILY,
                    NAT_TABLE,
                    set,
                    &e.clone().comment(comment.clone()),
                    true,
                );
            }
            t
        })
    }

    /// Remove what `owner` added of `kind`. Returns whether there was
    /// anything; removing twice is not an error. When nothing of anyone is
    /// left, the table goes too.
    #[doc(alias = "nft delete element")]
    pub fn remove(&self, owner: &NatOwner, kind: NatKind) -> Result<bool> {
        let tokens: Vec<String> = ChainKind::of(kind)
            .iter()
            .map(|k| owner.chain(*k))
            .collect();
        let removed = self.remove_where(|t| tokens.iter().any(|o| o == t))?;
        Ok(removed > 0)
    }

    /// Remove what every owner of `network` not in `valid` added (CNI's
    /// GC). Returns how many owners' entries (of each kind) went.
    pub fn gc(&self, network: &str, valid: &[NatOwner]) -> Result<usize> {
        let net = network_hash(network);
        let keep: HashSet<u64> = valid
            .iter()
            .filter(|o| o.network == network)
            .map(NatOwner::hash)
            .collect();
        self.remove_where(
            |t| matches!(ChainKind::parse(t), Some((_, n, o)) if n == net && !keep.contains(&o)),
        )
    }

    /// What is wrong with `owner`'s port forwards, compared with what
    /// [`port_forward`](Self::port_forward) with these arguments adds: an
    /// empty list when they are all there (CNI's CHECK).
    pub fn port_forward_mismatches(
        &self,
        owner: &NatOwner,
        forwards: &[PortForward],
        hairpin: &Hairpin,
    ) -> Result<Vec<String>> {
        let token = owner.chain(ChainKind::Fwd);
        let want: Vec<(&str, NftMapElement)> = forward_elements(forwards, hairpin, None)
            .into_iter()
            .map(|(set, e)| (set, e.listed()))
            .collect();
        let mut have = Vec::new();
        for set in FORWARD_SETS {
            for e in self.elements(set)? {
                if owner_of(&e) == Some(token.as_str()) {
                    have.push((set, e));
                }
            }
        }
        Ok(differences(&want, &have))
    }

    /// What is wrong with `owner`'s masquerade (see
    /// [`port_forward_mismatches`](Self::port_forward_mismatches)).
    pub fn masquerade_mismatches(
        &self,
        owner: &NatOwner,
        sources: &[IpAddr],
    ) -> Result<Vec<String>> {
        let chain = owner.chain(ChainKind::Masq);
        let mut seen = HashSet::new();
        let want: Vec<(&str, NftMapElement)> = sources
            .iter()
            .filter(|s| seen.insert(**s))
            .map(|s| {
                let set = if s.is_ipv6() { SET_MASQ6 } else { SET_MASQ4 };
                let e = NftElement::new(&[NftKeyValue::Addr(*s)])
                    .verdict(NftVerdict::Jump(chain.clone()));
                (set, e.listed())
            })
            .collect();
        let mut have = Vec::new();
        for set in [SET_MASQ4, SET_MASQ6] {
            for e in self.elements(set)? {
                if owner_of(&e) == Some(chain.as_str()) {
                    have.push((set, e));
                }
            }
        }
        let mut out = differences(&want, &have);
        match self.nft.rules(FAMILY, NAT_TABLE, &chain) {
            Ok(r) if !r.is_empty() => {}
            Ok(_) => out.push(format!("chain {chain} has no masquerade rule")),
            Err(e) if e.is_not_found() => out.push(format!("no chain {chain}")),
            Err(e) => return Err(e),
        }
        Ok(out)
    }

    /// Every owner's entries: the elements each owner added (its comment
    /// names it) and, for a masquerade, its chain.
    pub fn list(&self) -> Result<Vec<NatEntry>> {
        let mut entries: Vec<NatEntry> = Vec::new();
        for set in SETS {
            if set == SET_OWNERS {
                continue;
            }
            for e in self.elements(set)? {
                let Some(token) = owner_of(&e) else { continue };
                let Some((kind, _, _)) = ChainKind::parse(token) else {
                    continue;
                };
                let i = match entries.iter().position(|x| x.chain == token) {
                    Some(i) => i,
                    None => {
                        entries.push(NatEntry {
                            kind: if kind == ChainKind::Masq {
                                NatKind::Masquerade
                            } else {
                                NatKind::PortForward
                            },
                            chain: token.to_string(),
                            owner: owner_text(&e).unwrap_or_default(),
                            keys: Vec::new(),
                        });
                        entries.len() - 1
                    }
                };
                entries[i]
                    .keys
                    .push(format!("{set} {}", show_element(set, &e)));
            }
        }
        Ok(entries)
    }

    /// Add an owner's objects of `kind` with the transaction `build` makes:
    /// the table's fixed part is made with them when it is missing, and what
    /// the owner already had of `kind` is replaced.
    fn add_owned<'a>(
        &'a self,
        owner: &NatOwner,
        kind: NatKind,
        build: impl Fn(NftTransaction<'a>) -> NftTransaction<'a>,
    ) -> Result<()> {
        let mut made_table = false;
        let mut replaced = false;
        loop {
            match build(self.nft.transaction()).commit() {
                Ok(()) => return Ok(()),
                // No table yet (or not all of it): make it, once, in the
                // same transaction as the owner's objects, so that a
                // process killed in between never leaves a table no owner
                // is in (which no `remove` would find).
                Err(e) if e.is_not_found() && !made_table => {
                    made_table = true;
                    match build(self.fixed_part()).commit() {
                        Ok(()) => return Ok(()),
                        // Another process made it meanwhile: as above.
                        Err(e) if e.is_exists() => {}
                        Err(e) => return Err(e),
                    }
                }
                // The owner has entries of this kind already (its chain, or
                // its marker): an ADD again.
                Err(e) if e.is_exists() && !replaced && is_owner_mark(&e) => {
                    replaced = true;
                    self.remove(owner, kind)?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The table, its sets and maps, base chains and their rules, in one
    /// transaction that fails (EEXIST) if the table exists.
    fn fixed_part(&self) -> NftTransaction<'_> {
        use NftKeyField::{InetProto, InetService, Ipv4Addr, Ipv6Addr};
        use NftSetData::{Values, Verdict};
        let to4 = &[Ipv4Addr, InetService][..];
        let to6 = &[Ipv6Addr, InetService][..];
        let mut t = self
            .nft
            .transaction()
            .table_create(FAMILY, NAT_TABLE)
            .set_add(
                FAMILY,
                NAT_TABLE,
                SET_OWNERS,
                &[Ipv6Addr],
                NftSetData::None,
                false,
            )
            .set_add(
                FAMILY,
                NAT_TABLE,
                SET_COND_PORTS,
                &[InetProto, InetService],
                Verdict,
                false,
            )
            .set_add(
                FAMILY,
                NAT_TABLE,
                SET_PORTS4,
                &[InetProto, InetService],
                Values(to4),
                false,
            )
            .set_add(
                FAMILY,
                NAT_TABLE,
                SET_PORTS6,
                &[InetProto, InetService],
                Values(to6),
                false,
            )
            .set_add(
                FAMILY,
                NAT_TABLE,
                SET_HOSTIP4,
                &[Ipv4Addr, InetProto, InetService],
                Values(to4),
                false,
            )
            .set_add(
                FAMILY,
                NAT_TABLE,
                SET_HOSTIP6,
                &[Ipv6Addr, InetProto, InetService],
                Values(to6),
                false,
            )
            .set_add(
                FAMILY,
                NAT_TABLE,
                SET_HAIRPIN4,
                &[Ipv4Addr, Ipv4Addr],
                NftSetData::None,
                true,
            )
            .set_add(
                FAMILY,
                NAT_TABLE,
                SET_HAIRPIN6,
                &[Ipv6Addr, Ipv6Addr],
                NftSetData::None,
                true,
            )
            .set_add(FAMILY, NAT_TABLE, SET_MASQ4, &[Ipv4Addr], Verdict, false)
            .set_add(FAMILY, NAT_TABLE, SET_MASQ6, &[Ipv6Addr], Verdict, false);
        use NftKeySource::{Daddr, Dport, L4proto, Saddr};
        for (chain, hook) in [
            ("prerouting", NftHook::Prerouting),
            ("output", NftHook::Output),
        ] {
            t = t
                .chain_add(FAMILY, NAT_TABLE, chain, Some(&NftBaseChain::dstnat(hook)))
                .rule_add(
                    FAMILY,
                    NAT_TABLE,
                    chain,
                    &NftRule::new()
                        .daddr_is_local()
                        .vmap(&[L4proto, Dport], SET_COND_PORTS),
                );
            for (v6, hostip, ports) in [
                (false, SET_HOSTIP4, SET_PORTS4),
                (true, SET_HOSTIP6, SET_PORTS6),
            ] {
                let local = NftRule::new().daddr_is_local().nfproto(v6);
                t = t
                    .rule_add(
                        FAMILY,
                        NAT_TABLE,
                        chain,
                        &local
                            .clone()
                            .dnat_map(&[Daddr(v6), L4proto, Dport], hostip, v6),
                    )
                    .rule_add(
                        FAMILY,
                        NAT_TABLE,
                        chain,
                        &local.dnat_map(&[L4proto, Dport], ports, v6),
                    );
            }
        }
        let post = "postrouting";
        t = t.chain_add(
            FAMILY,
            NAT_TABLE,
            post,
            Some(&NftBaseChain::srcnat(NftHook::Postrouting)),
        );
        for (v6, set) in [(false, SET_HAIRPIN4), (true, SET_HAIRPIN6)] {
            let r = NftRule::new()
                .ct_dnat()
                .nfproto(v6)
                .lookup(&[Daddr(v6), Saddr(v6)], set)
                .masquerade();
            t = t.rule_add(FAMILY, NAT_TABLE, post, &r);
        }
        for (v6, map) in [(false, SET_MASQ4), (true, SET_MASQ6)] {
            let r = NftRule::new().nfproto(v6).vmap(&[Saddr(v6)], map);
            t = t.rule_add(FAMILY, NAT_TABLE, post, &r);
        }
        t
    }

    /// The elements of one of the table's sets (none when the table is
    /// not there).
    fn elements(&self, set: &str) -> Result<Vec<NftMapElement>> {
        self.nft.elements_if_any(FAMILY, NAT_TABLE, set)
    }

    /// Delete every element whose owner token `ours` accepts (and the
    /// masquerade chains they lead to); the whole table when nothing else
    /// is in it. At the generation the sets were read at, so a concurrent
    /// change makes it read again. Returns how many owner tokens went.
    fn remove_where(&self, ours: impl Fn(&str) -> bool) -> Result<usize> {
        let removed = self.nft.at_one_generation(|| {
            let mut doomed: Vec<(&str, NftMapElement)> = Vec::new();
            let mut tokens: Vec<String> = Vec::new();
            let mut chains: Vec<String> = Vec::new();
            let mut others = 0usize;
            for set in SETS {
                for e in self.elements(set)? {
                    match owner_of(&e) {
                        Some(t) if ours(t) => {
                            if !tokens.iter().any(|x| x == t) {
                                tokens.push(t.to_string());
                            }
                            if let Some(NftVerdict::Jump(c)) = &e.verdict {
                                if !chains.contains(c) {
                                    chains.push(c.clone());
                                }
                            }
                            doomed.push((set, e));
                        }
                        _ => others += 1,
                    }
                }
            }
            if tokens.is_empty() {
                return Ok(None);
            }
            let mut t = self.nft.transaction();
            if others == 0 {
                t = t.table_del(FAMILY, NAT_TABLE);
            } else {
                for (set, e) in &doomed {
                    t = t.element_del(FAMILY, NAT_TABLE, set, e);
                }
                for c in &chains {
                    t = t.chain_del(FAMILY, NAT_TABLE, c);
                }
            }
            Ok(Some((t, tokens.len())))
        })?;
        Ok(removed.unwrap_or(0))
    }
}

/// Whether a refused add was refused for an owner mark (its masquerade
/// chain, or its forwards' marker): the owner is there already.
fn is_owner_mark(e: &Error) -> bool {
    e.op() == "nft_chain_create"
        || (e.op() == "nft_element_add" && e.object().contains(&format!(" {SET_OWNERS} ")))
}

/// The owner token of an element: the chain a masquerade element jumps
/// to, or the first word of a forward element's comment.
fn owner_of(e: &NftMapElement) -> Option<&str> {
    match (&e.verdict, &e.comment) {
        (Some(NftVerdict::Jump(c)), _) => Some(c),
        (_, Some(c)) => c.split(' ').next(),
        _ => None,
    }
}

/// The owner as an element's comment spells it (after its token).
fn owner_text(e: &NftMapElement) -> Option<String> {
    let c = e.comment.as_deref()?;
    c.split_once(' ').map(|(_, rest)| rest.to_string())
}

/// The elements `want` lacks in `have` and those `have` has beyond
/// `want`, by set, key, end and data.
fn differences(want: &[(&str, NftMapElement)], have: &[(&str, NftMapElement)]) -> Vec<String> {
    let same = |a: &NftMapElement, b: &NftMapElement| {
        a.key == b.key && a.key_end == b.key_end && a.value == b.value && a.verdict == b.verdict
    };
    let mut out = Vec::new();
    for (set, w) in want {
        if !have.iter().any(|(s, h)| s == set && same(w, h)) {
            out.push(format!("no element {} in {set}", show_element(set, w)));
        }
    }
    for (set, h) in have {
        if !want.iter().any(|(s, w)| s == set && same(w, h)) {
            out.push(format!(
                "element {} in {set} is not expected",
                show_element(set, h)
            ));
        }
    }
    out
}

/// One owner's entry of [`Nat::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatEntry {
    /// What made it.
    pub kind: NatKind,
    /// The owner's token: its masquerade chain's name, or the tag its
    /// forward elements' comments start with (`fwd-N-O`).
    pub chain: String,
    /// The owner (network, container ID, interface).
    pub owner: String,
    /// Its elements (`ports4 tcp . 8080 : 10.0.0.2 . 80`...).
    pub keys: Vec<String>,
}

/// The elements (set, element) `port_forward` adds for `forwards` and
/// `hairpin`, without their comment.
///
/// With `chain`, the forwards are that chain's rules, and their elements
/// jumps to it by (protocol, port) in `cond-ports`.
fn forward_elements(
    forwards: &[PortForward],
    hairpin: &Hairpin,
    chain: Option<&str>,
) -> Vec<(&'static str, NftElement)> {
    let mut out = Vec::new();
    let mut seen_ports = HashSet::new();
    for f in forwards {
        match chain {
            None => {
                let (set, key) = forward_key(f);
                let value = [NftKeyValue::Addr(f.to), NftKeyValue::Port(f.to_port)];
                out.push((set, NftElement::new(&key).value(&value)));
            }
            Some(c) if seen_ports.insert((f.proto, f.host_port)) => {
                let key = [
                    NftKeyValue::Proto(f.proto.number()),
                    NftKeyValue::Port(f.host_port),
                ];
                let e = NftElement::new(&key).verdict(NftVerdict::Jump(c.to_string()));
                out.push((SET_COND_PORTS, e));
            }
            Some(_) => {}
        }
    }
    let mut seen = HashSet::new();
    for to in forwards.iter().map(|f| f.to).filter(|a| seen.insert(*a)) {
        let set = if to.is_ipv6() {
            SET_HAIRPIN6
        } else {
            SET_HAIRPIN4
        };
        let whole: IpNet = if to.is_ipv6() { ANY6 } else { ANY4 };
        let nets: Vec<IpNet> = match hairpin {
            Hairpin::Off => Vec::new(),
            Hairpin::All => vec![whole],
            Hairpin::From(nets) => nets
                .iter()
                .filter(|n| matches!(n, IpNet::V6(_)) == to.is_ipv6())
                .map(IpNet::trunc)
                .collect(),
        };
        let mut seen_nets = HashSet::new();
        for n in nets.into_iter().filter(|n| seen_nets.insert(*n)) {
            let e = NftElement::new(&[NftKeyValue::Addr(to), NftKeyValue::Addr(n.network())])
                .up_to(&[NftKeyValue::Addr(to), NftKeyValue::Addr(n.broadcast())]);
            out.push((set, e));
        }
    }
    out
}

/// The map and key of a forward's element.
fn forward_key(f: &PortForward) -> (&'static str, Vec<NftKeyValue>) {
    let proto = NftKeyValue::Proto(f.proto.number());
    let port = NftKeyValue::Port(f.host_port);
    match (f.host_ip, f.to.is_ipv6()) {
        (None, false) => (SET_PORTS4, vec![proto, port]),
        (None, true) => (SET_PORTS6, vec![proto, port]),
        (Some(h), false) => (SET_HOSTIP4, vec![NftKeyValue::Addr(h), proto, port]),
        (Some(h), true) => (SET_HOSTIP6, vec![NftKeyValue::Addr(h), proto, port]),
    }
}

/// An element of one of the table's sets, as nft prints it.
fn show_element(set: &str, e: &NftMapElement) -> String {
    let v4 = |b: &[u8]| -> Option<String> {
        let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
        Some(std::net::Ipv4Addr::from(a).to_string())
    };
    let v6 = |b: &[u8]| -> Option<String> {
        let a: [u8; 16] = b.get(..16)?.try_into().ok()?;
        Some(std::net::Ipv6Addr::from(a).to_string())
    };
    let port = |b: &[u8]| -> Option<String> {
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]).to_string())
    };
    let proto_port = |b: &[u8]| -> Option<String> {
        let proto = match b.first()? {
            6 => "tcp".to_string(),
            17 => "udp".to_string(),
            132 => "sctp".to_string(),
            p => p.to_string(),
        };
        Some(format!("{proto} . {}", port(b.get(4..)?)?))
    };
    let key = &e.key;
    let shown = match set {
        SET_PORTS4 | SET_PORTS6 | SET_COND_PORTS => proto_port(key),
        SET_HOSTIP4 => v4(key)
            .zip(key.get(4..).and_then(proto_port))
            .map(|(a, p)| format!("{a} . {p}")),
        SET_HOSTIP6 => v6(key)
            .zip(key.get(16..).and_then(proto_port))
            .map(|(a, p)| format!("{a} . {p}")),
        SET_MASQ4 => v4(key),
        SET_MASQ6 => v6(key),
        SET_HAIRPIN4 => v4(key).zip(key.get(4..).and_then(v4)).map(|(a, s)| {
            let end = e.key_end.as_deref().and_then(|k| k.get(4..)).and_then(v4);
            format!("{a} . {s}-{}", end.unwrap_or_default())
        }),
        SET_HAIRPIN6 => v6(key).zip(key.get(16..).and_then(v6)).map(|(a, s)| {
            let end = e.key_end.as_deref().and_then(|k| k.get(16..)).and_then(v6);
            format!("{a} . {s}-{}", end.unwrap_or_default())
        }),
        _ => None,
    };
    let mut text = shown.unwrap_or_else(|| format!("{key:02x?}"));
    if let Some(v) = &e.value {
        let to = if v.len() == 8 {
            v4(v).zip(v.get(4..).and_then(port))
        } else {
            v6(v).zip(v.get(16..).and_then(port))
        };
        if let Some((a, p)) = to {
            text = format!("{text} : {a} . {p}");
        }
    }
    if let Some(NftVerdict::Jump(c)) = &e.verdict {
        text = format!("{text} : jump {c}");
    }
    text
}

/// Forwards as the kernel can take them: ports 1 to 65535, a host address
/// of the destination's family, no host port twice.
fn check_forwards(op: &'static str, owner: &NatOwner, forwards: &[PortForward]) -> Result<()> {
    let bad = |reason: String| Err(Error::invalid(op, owner.to_string(), reason));
    if forwards.is_empty() {
        return bad("no port forward".into());
    }
    let mut seen = HashSet::new();
    for f in forwards {
        if f.host_port == 0 || f.to_port == 0 {
            return bad(format!("{f}: a port is 1 to 65535"));
        }
        if f.host_ip.is_some_and(|h| h.is_ipv6() != f.to.is_ipv6()) {
            return bad(format!(
                "{f}: the host address and the destination are of different families"
            ));
        }
        if !seen.insert((f.proto, f.host_port, f.host_ip, f.to.is_ipv6())) {
            return bad(format!(
                "{f}: host port {}/{} is given twice",
                f.host_port, f.proto
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_parse_back() {
        let o = NatOwner::new("net1", "c1", "eth0");
        for k in ChainKind::ALL {
            let name = o.chain(k);
            assert!(name.len() < 40, "{name}");
            let (kind, net, owner) = ChainKind::parse(&name).unwrap();
            assert_eq!((kind, net, owner), (k, network_hash("net1"), o.hash()));
        }
        assert_ne!(o.hash(), NatOwner::new("net1", "c1", "eth1").hash());
        assert_ne!(o.hash(), NatOwner::new("net1c", "1", "eth0").hash());
        assert_eq!(ChainKind::parse("prerouting"), None);
        assert_eq!(ChainKind::parse("fwd-0-0"), None);
        assert_eq!(
            ChainKind::parse("fwd-000000000000000g-0000000000000000"),
            None
        );
        let long = NatOwner::new(&"é".repeat(100), "c", "e");
        assert!(long.comment().len() <= 127);
    }

    #[test]
    fn bad_forwards_are_refused() {
        let o = NatOwner::new("n", "c", "eth0");
        let f = PortForward {
            proto: NatProto::Tcp,
            host_port: 8080,
            host_ip: None,
            to: "10.0.0.2".parse().unwrap(),
            to_port: 80,
        };
        assert!(check_forwards("t", &o, &[f]).is_ok());
        assert!(check_forwards("t", &o, &[]).is_err());
        assert!(check_forwards("t", &o, &[PortForward { host_port: 0, ..f }]).is_err());
        assert!(check_forwards("t", &o, &[PortForward { to_port: 0, ..f }]).is_err());
        let v6 = Some("::1".parse().unwrap());
        assert!(check_forwards("t", &o, &[PortForward { host_ip: v6, ..f }]).is_err());
        assert!(check_forwards("t", &o, &[f, f]).is_err());
        let udp = PortForward {
            proto: NatProto::Udp,
            ..f
        };
        assert!(check_forwards("t", &o, &[f, udp]).is_ok());
        assert_eq!("TCP".parse::<NatProto>(), Ok(NatProto::Tcp));
        assert!("icmp".parse::<NatProto>().is_err());
        let e = NftMapElement {
            key: vec![6, 0, 0, 0, 0x1f, 0x90, 0, 0],
            value: Some(vec![10, 0, 0, 2, 0, 80, 0, 0]),
            ..Default::default()
        };
        assert_eq!(show_element(SET_PORTS4, &e), "tcp . 8080 : 10.0.0.2 . 80");
        let e = NftMapElement {
            key: vec![10, 0, 0, 2, 10, 0, 0, 0],
            key_end: Some(vec![10, 0, 0, 2, 10, 0, 0, 255]),
            ..Default::default()
        };
        assert_eq!(
            show_element(SET_HAIRPIN4, &e),
            "10.0.0.2 . 10.0.0.0-10.0.0.255"
        );
        let o = NatOwner::new("n", "c", "eth0");
        let e = NftMapElement {
            comment: Some(o.tagged(&o.chain(ChainKind::Fwd))),
            ..Default::default()
        };
        assert_eq!(owner_of(&e), Some(o.chain(ChainKind::Fwd).as_str()));
        assert_eq!(owner_text(&e).as_deref(), Some("n c eth0"));
    }
}
