//! NAT for containers, in process: masquerade and port forwards (DNAT
//! with hairpin) over nftables netlink, in a table netns owns
//! (`inet netns-nat`), with exact removal. [`Nat`] is the API; the layout
//! below is what it writes, so `nft list table inet netns-nat` reads it.
//!
//! | call | what it adds (nft) |
//! |---|---|
//! | [`Nat::masquerade`]`(owner, [10.0.0.2], [10.0.0.0/24])` | chain `masq-N-O` `{ meta nfproto ipv4 ip daddr != 10.0.0.0/24 ip daddr != 224.0.0.0/4 masquerade }`; element `10.0.0.2 : jump masq-N-O` in map `masq4` |
//! | [`Nat::port_forward`]`(owner, [tcp 8080 -> 10.0.0.2:80], hairpin)` | chain `fwd-N-O` `{ meta nfproto ipv4 tcp dport 8080 dnat ip to 10.0.0.2:80 }`; element `tcp . 8080 : jump fwd-N-O` in map `hostports` (`hostip4-ports` with a host address); chain `hp-N-O` `{ meta nfproto ipv4 ip saddr 10.0.0.0/24 masquerade }` and element `10.0.0.2 : jump hp-N-O` in `hairpin4` |
//! | [`Nat::port_forward_if`]`(owner, forwards, hairpin, conditions)` | the same, each forward's rule also matching its family's [`NatConditions`] (`ip saddr != 10.1.0.0/16 iifname "eth0" tcp dport 8080 dnat ...`) |
//! | [`Nat::remove`]`(owner, kind)` | deletes those elements and chains; the table itself when nothing else is left in it |
//! | [`Nat::gc`]`(network, valid)` | [`Nat::remove`] of every owner of `network` not in `valid` |
//!
//! The table's fixed part, made by the first call (one transaction):
//! ```text
//! table inet netns-nat {
//!   map hostports     { type inet_proto . inet_service : verdict }
//!   map hostip4-ports { type ipv4_addr . inet_proto . inet_service : verdict }
//!   map hostip6-ports { type ipv6_addr . inet_proto . inet_service : verdict }
//!   map masq4 { type ipv4_addr : verdict }      map masq6 { type ipv6_addr : verdict }
//!   map hairpin4 { type ipv4_addr : verdict }   map hairpin6 { type ipv6_addr : verdict }
//!   chain prerouting { type nat hook prerouting priority dstnat;
//!     fib daddr type local meta nfproto ipv4 ip daddr . meta l4proto . th dport vmap @hostip4-ports
//!     fib daddr type local meta nfproto ipv6 ip6 daddr . meta l4proto . th dport vmap @hostip6-ports
//!     fib daddr type local meta l4proto . th dport vmap @hostports }
//!   chain output { type nat hook output priority dstnat; (the same three rules) }
//!   chain postrouting { type nat hook postrouting priority srcnat;
//!     meta nfproto ipv4 ip saddr vmap @masq4
//!     meta nfproto ipv6 ip6 saddr vmap @masq6
//!     ct status dnat meta nfproto ipv4 ip daddr vmap @hairpin4
//!     ct status dnat meta nfproto ipv6 ip6 daddr vmap @hairpin6 }
//! }
//! ```
//!
//! - **Owners.** Everything an attachment adds hangs off chains named from
//!   its [`NatOwner`] (network, container ID, interface): `KIND-N-O`, N and
//!   O 64-bit FNV-1a hashes (hex) of the network and of the whole owner;
//!   the chain's comment spells the owner out. Map elements are the only
//!   references to those chains, so removing an owner is deleting its
//!   elements and chains; no rule handle is involved, and nothing of
//!   another owner is touched.
//! - **Atomic.** Each call is one nfnetlink transaction: an attachment's
//!   objects exist all together or not at all, also when the process is
//!   killed half-way. Removal reads the maps and deletes at the ruleset
//!   generation it read (NFNL_BATCH_GENID), so a concurrent change makes it
//!   read again instead of deleting a table another process just used.
//! - **Cost.** Adding an owner is one transaction whatever the number of
//!   other owners (map elements are hashed by the kernel); removing one
//!   reads the maps' elements.
//! - **Conflicts.** A host port (protocol, port, host address) forwards to
//!   one owner: a second one is refused with EEXIST, instead of the first
//!   rule silently winning as with iptables.
//! - **What it does not do.** IP forwarding, `route_localnet` (needed for
//!   DNAT of 127.0.0.1, see [`Sysctl`](crate::Sysctl)) and hairpin mode on
//!   bridge ports are the caller's; so is deleting stale conntrack entries
//!   (see [`conntrack`](crate::conntrack)).

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::nft::{
    Nft, NftBaseChain, NftFamily, NftHook, NftKeyField, NftKeySource, NftKeyValue, NftMapElement,
    NftRule, NftTransaction, NftVerdict,
};
use crate::ns::NetNs;

/// The table netns owns (family `inet`).
pub const NAT_TABLE: &str = "netns-nat";
const FAMILY: NftFamily = NftFamily::Inet;

const MAP_PORTS: &str = "hostports";
const MAP_HOSTIP4: &str = "hostip4-ports";
const MAP_HOSTIP6: &str = "hostip6-ports";
const MAP_MASQ4: &str = "masq4";
const MAP_MASQ6: &str = "masq6";
const MAP_HAIRPIN4: &str = "hairpin4";
const MAP_HAIRPIN6: &str = "hairpin6";
const MAPS: [&str; 7] = [
    MAP_PORTS,
    MAP_HOSTIP4,
    MAP_HOSTIP6,
    MAP_MASQ4,
    MAP_MASQ6,
    MAP_HAIRPIN4,
    MAP_HAIRPIN6,
];

/// Multicast destinations are never masqueraded.
const MULTICAST4: IpNet = IpNet::V4(ipnet::Ipv4Net::new_assert(
    std::net::Ipv4Addr::new(224, 0, 0, 0),
    4,
));
const MULTICAST6: IpNet = IpNet::V6(ipnet::Ipv6Net::new_assert(
    std::net::Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
    8,
));

/// How many times a removal reads again after a concurrent change.
const REMOVE_ATTEMPTS: usize = 8;

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

    fn hash(&self) -> u64 {
        let mut h = fnv(FNV_OFFSET, self.network.as_bytes());
        h = fnv(h, b"\0");
        h = fnv(h, self.container_id.as_bytes());
        h = fnv(h, b"\0");
        fnv(h, self.ifname.as_bytes())
    }

    /// The name of this owner's chain of `kind`.
    fn chain(&self, kind: ChainKind) -> String {
        format!(
            "{}-{:016x}-{:016x}",
            kind.prefix(),
            network_hash(&self.network),
            self.hash()
        )
    }

    /// The chains' comment: the owner, cut to what nft keeps.
    fn comment(&self) -> String {
        let mut c = format!("{} {} {}", self.network, self.container_id, self.ifname);
        let mut end = c.len().min(127);
        while !c.is_char_boundary(end) {
            end -= 1;
        }
        c.truncate(end);
        c.retain(|ch| ch != '\0');
        c
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

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn network_hash(network: &str) -> u64 {
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
        let mut parts = chain.split('-');
        let (prefix, net, owner) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || net.len() != 16 || owner.len() != 16 {
            return None;
        }
        let kind = ChainKind::ALL.into_iter().find(|k| k.prefix() == prefix)?;
        Some((
            kind,
            u64::from_str_radix(net, 16).ok()?,
            u64::from_str_radix(owner, 16).ok()?,
        ))
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
                let map = if s.is_ipv6() { MAP_MASQ6 } else { MAP_MASQ4 };
                t = t.map_element_add(
                    FAMILY,
                    NAT_TABLE,
                    map,
                    &[NftKeyValue::Addr(*s)],
                    &NftVerdict::Jump(chain.clone()),
                    true,
                );
            }
            t
        })
    }

    /// Forward `forwards` to `owner`'s pod, masquerading the connections
    /// `hairpin` names. Replaces what `owner` had of this kind. A host port
    /// another owner forwards is refused (EEXIST), and nothing is added.
    ///
    /// nft: `add element inet netns-nat hostports { tcp . 8080 : jump
    /// fwd-N-O }` with chain `fwd-N-O { meta nfproto ipv4 tcp dport 8080
    /// dnat ip to 10.0.0.2:80 }`, reached from the prerouting and output
    /// chains for packets to a local address (`fib daddr type local`).
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
    /// (portmap's `conditionsV4`/`conditionsV6`). An address condition of
    /// the other family is refused (nothing written). Packets that fail one are not forwarded (they go on to the next
    /// rule of the base chain, as they return from portmap's chain).
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
        let fwd = owner.chain(ChainKind::Fwd);
        let hp = owner.chain(ChainKind::Hairpin);
        self.add_owned(owner, NatKind::PortForward, |mut t| {
            t = t.chain_create(FAMILY, NAT_TABLE, &fwd, Some(&owner.comment()));
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
                t = t.rule_add(FAMILY, NAT_TABLE, &fwd, &r);
            }
            let mut seen = HashSet::new();
            for (map, key) in forwards
                .iter()
                .map(forward_key)
                .filter(|k| seen.insert(k.clone()))
            {
                t = t.map_element_add(
                    FAMILY,
                    NAT_TABLE,
                    map,
                    &key,
                    &NftVerdict::Jump(fwd.clone()),
                    true,
                );
            }
            if *hairpin == Hairpin::Off {
                return t;
            }
            t = t.chain_create(FAMILY, NAT_TABLE, &hp, Some(&owner.comment()));
            for v6 in [false, true] {
                if !forwards.iter().any(|f| f.to.is_ipv6() == v6) {
                    continue;
                }
                match hairpin {
                    Hairpin::All => {
                        t = t.rule_add(
                            FAMILY,
                            NAT_TABLE,
                            &hp,
                            &NftRule::new().nfproto(v6).masquerade(),
                        );
                    }
                    Hairpin::From(nets) => {
                        for n in nets.iter().filter(|n| matches!(n, IpNet::V6(_)) == v6) {
                            let r = NftRule::new().nfproto(v6).ip_saddr(*n, true).masquerade();
                            t = t.rule_add(FAMILY, NAT_TABLE, &hp, &r);
                        }
                    }
                    Hairpin::Off => {}
                }
            }
            let mut seen = HashSet::new();
            for to in forwards.iter().map(|f| f.to).filter(|a| seen.insert(*a)) {
                let map = if to.is_ipv6() {
                    MAP_HAIRPIN6
                } else {
                    MAP_HAIRPIN4
                };
                t = t.map_element_add(
                    FAMILY,
                    NAT_TABLE,
                    map,
                    &[NftKeyValue::Addr(to)],
                    &NftVerdict::Jump(hp.clone()),
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
        let chains: Vec<String> = ChainKind::of(kind)
            .iter()
            .map(|k| owner.chain(*k))
            .collect();
        let removed = self.remove_where(|c| chains.iter().any(|o| o == c))?;
        Ok(removed > 0)
    }

    /// Remove what every owner of `network` not in `valid` added (CNI's
    /// GC). Returns how many chains went.
    pub fn gc(&self, network: &str, valid: &[NatOwner]) -> Result<usize> {
        let net = network_hash(network);
        let keep: HashSet<u64> = valid
            .iter()
            .filter(|o| o.network == network)
            .map(NatOwner::hash)
            .collect();
        self.remove_where(
            |c| matches!(ChainKind::parse(c), Some((_, n, o)) if n == net && !keep.contains(&o)),
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
        let fwd = owner.chain(ChainKind::Fwd);
        let hp = owner.chain(ChainKind::Hairpin);
        let mut want: Vec<(&str, Vec<u8>, &str)> = Vec::new();
        for (map, key) in forwards.iter().map(forward_key) {
            want.push((map, crate::nft::key_bytes(&key), &fwd));
        }
        if *hairpin != Hairpin::Off {
            for f in forwards {
                let map = if f.to.is_ipv6() {
                    MAP_HAIRPIN6
                } else {
                    MAP_HAIRPIN4
                };
                want.push((map, crate::nft::key_bytes(&[NftKeyValue::Addr(f.to)]), &hp));
            }
        }
        let mut out = self.element_mismatches(&want, &[&fwd, &hp])?;
        let rules = self.rule_count(&fwd)?;
        if rules != forwards.len() {
            out.push(format!(
                "chain {fwd} has {rules} forwards, not {}",
                forwards.len()
            ));
        }
        Ok(out)
    }

    /// What is wrong with `owner`'s masquerade (see
    /// [`port_forward_mismatches`](Self::port_forward_mismatches)).
    pub fn masquerade_mismatches(
        &self,
        owner: &NatOwner,
        sources: &[IpAddr],
    ) -> Result<Vec<String>> {
        let chain = owner.chain(ChainKind::Masq);
        let want: Vec<(&str, Vec<u8>, &str)> = sources
            .iter()
            .map(|s| {
                let map = if s.is_ipv6() { MAP_MASQ6 } else { MAP_MASQ4 };
                (
                    map,
                    crate::nft::key_bytes(&[NftKeyValue::Addr(*s)]),
                    chain.as_str(),
                )
            })
            .collect();
        let mut out = self.element_mismatches(&want, &[&chain])?;
        if self.rule_count(&chain)? == 0 {
            out.push(format!("chain {chain} has no masquerade rule"));
        }
        Ok(out)
    }

    /// Every owner's entries: each chain netns made, its comment (the
    /// owner) and the map elements that lead to it.
    pub fn list(&self) -> Result<Vec<NatEntry>> {
        let mut entries: Vec<NatEntry> = Vec::new();
        for c in self.nft.chains(FAMILY, NAT_TABLE)? {
            let Some((kind, _, _)) = ChainKind::parse(&c.name) else {
                continue;
            };
            entries.push(NatEntry {
                kind: if kind == ChainKind::Masq {
                    NatKind::Masquerade
                } else {
                    NatKind::PortForward
                },
                chain: c.name,
                owner: c.comment.unwrap_or_default(),
                keys: Vec::new(),
            });
        }
        for map in MAPS {
            for e in self.elements(map)? {
                if let Some(NftVerdict::Jump(c)) = &e.verdict {
                    if let Some(entry) = entries.iter_mut().find(|x| &x.chain == c) {
                        entry.keys.push(format!("{map} {}", show_key(map, &e.key)));
                    }
                }
            }
        }
        Ok(entries)
    }

    /// Add an owner's objects of `kind` with the transaction `build` makes:
    /// the table's fixed part is made first when it is missing, and what
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
            let res = build(self.nft.transaction()).commit();
            match res {
                Ok(()) => return Ok(()),
                // No table yet (or not all of it): make it, once.
                Err(e) if e.is_not_found() && !made_table => {
                    made_table = true;
                    match self.fixed_part().commit() {
                        Ok(()) => {}
                        // Another process made it meanwhile.
                        Err(e) if e.is_exists() => {}
                        Err(e) => return Err(e),
                    }
                }
                // The owner's chain is there already: an ADD again.
                Err(e) if e.is_exists() && e.op() == "nft_chain_create" && !replaced => {
                    replaced = true;
                    self.remove(owner, kind)?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The table, its maps, base chains and their rules, in one
    /// transaction that fails (EEXIST) if the table exists.
    fn fixed_part(&self) -> NftTransaction<'_> {
        use NftKeyField::{InetProto, InetService, Ipv4Addr, Ipv6Addr};
        let mut t = self
            .nft
            .transaction()
            .table_create(FAMILY, NAT_TABLE)
            .map_add(FAMILY, NAT_TABLE, MAP_PORTS, &[InetProto, InetService])
            .map_add(
                FAMILY,
                NAT_TABLE,
                MAP_HOSTIP4,
                &[Ipv4Addr, InetProto, InetService],
            )
            .map_add(
                FAMILY,
                NAT_TABLE,
                MAP_HOSTIP6,
                &[Ipv6Addr, InetProto, InetService],
            )
            .map_add(FAMILY, NAT_TABLE, MAP_MASQ4, &[Ipv4Addr])
            .map_add(FAMILY, NAT_TABLE, MAP_MASQ6, &[Ipv6Addr])
            .map_add(FAMILY, NAT_TABLE, MAP_HAIRPIN4, &[Ipv4Addr])
            .map_add(FAMILY, NAT_TABLE, MAP_HAIRPIN6, &[Ipv6Addr]);
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
                        .nfproto(false)
                        .vmap(&[Daddr(false), L4proto, Dport], MAP_HOSTIP4),
                )
                .rule_add(
                    FAMILY,
                    NAT_TABLE,
                    chain,
                    &NftRule::new()
                        .daddr_is_local()
                        .nfproto(true)
                        .vmap(&[Daddr(true), L4proto, Dport], MAP_HOSTIP6),
                )
                .rule_add(
                    FAMILY,
                    NAT_TABLE,
                    chain,
                    &NftRule::new()
                        .daddr_is_local()
                        .vmap(&[L4proto, Dport], MAP_PORTS),
                );
        }
        let post = "postrouting";
        t = t.chain_add(
            FAMILY,
            NAT_TABLE,
            post,
            Some(&NftBaseChain::srcnat(NftHook::Postrouting)),
        );
        for (v6, map) in [(false, MAP_MASQ4), (true, MAP_MASQ6)] {
            let r = NftRule::new().nfproto(v6).vmap(&[Saddr(v6)], map);
            t = t.rule_add(FAMILY, NAT_TABLE, post, &r);
        }
        for (v6, map) in [(false, MAP_HAIRPIN4), (true, MAP_HAIRPIN6)] {
            let r = NftRule::new().ct_dnat().nfproto(v6).vmap(&[Daddr(v6)], map);
            t = t.rule_add(FAMILY, NAT_TABLE, post, &r);
        }
        t
    }

    /// The elements of one of the table's maps (none when the table is
    /// not there).
    fn elements(&self, map: &str) -> Result<Vec<NftMapElement>> {
        match self.nft.map_elements(FAMILY, NAT_TABLE, map) {
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            other => other,
        }
    }

    fn rule_count(&self, chain: &str) -> Result<usize> {
        match self.nft.rules(FAMILY, NAT_TABLE, chain) {
            Ok(r) => Ok(r.len()),
            Err(e) if e.is_not_found() => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// The differences between the elements `want` (map, key, chain) and
    /// those that lead to `chains`.
    fn element_mismatches(
        &self,
        want: &[(&str, Vec<u8>, &str)],
        chains: &[&str],
    ) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut have: Vec<(String, Vec<u8>, String)> = Vec::new();
        for map in MAPS {
            for e in self.elements(map)? {
                if let Some(NftVerdict::Jump(c)) = e.verdict {
                    have.push((map.to_string(), e.key, c));
                }
            }
        }
        for (map, key, chain) in want {
            match have.iter().find(|(m, k, _)| m == map && k == key) {
                None => out.push(format!("no element {} in map {map}", show_key(map, key))),
                Some((_, _, c)) if c != chain => out.push(format!(
                    "element {} of map {map} leads to {c}, not {chain}",
                    show_key(map, key)
                )),
                Some(_) => {}
            }
        }
        for (map, key, chain) in &have {
            let ours = chains.contains(&chain.as_str());
            if ours && !want.iter().any(|(m, k, _)| m == map && k == key) {
                out.push(format!(
                    "element {} of map {map} is not expected",
                    show_key(map, key)
                ));
            }
        }
        Ok(out)
    }

    /// Delete every element leading to a chain `ours` names, and those
    /// chains (the whole table when nothing else is in it), at the
    /// generation the maps were read at. Returns how many chains went.
    fn remove_where(&self, ours: impl Fn(&str) -> bool) -> Result<usize> {
        let mut last = None;
        for _ in 0..REMOVE_ATTEMPTS {
            let genid = self.nft.generation()?;
            let mut doomed: Vec<(&str, Vec<u8>)> = Vec::new();
            let mut chains: Vec<String> = Vec::new();
            let mut others = 0usize;
            for map in MAPS {
                for e in self.elements(map)? {
                    match &e.verdict {
                        Some(NftVerdict::Jump(c)) if ours(c) => {
                            if !chains.contains(c) {
                                chains.push(c.clone());
                            }
                            doomed.push((map, e.key));
                        }
                        _ => others += 1,
                    }
                }
            }
            if chains.is_empty() {
                return Ok(0);
            }
            let mut t = self.nft.transaction().at_generation(genid);
            if others == 0 {
                t = t.table_del(FAMILY, NAT_TABLE);
            } else {
                for (map, key) in &doomed {
                    t = t.map_element_del(FAMILY, NAT_TABLE, map, key);
                }
                for c in &chains {
                    t = t.chain_del(FAMILY, NAT_TABLE, c);
                }
            }
            match t.commit() {
                Ok(()) => return Ok(chains.len()),
                // Changed since it was read: read again.
                Err(e) if e.errno() == Some(libc::ERESTART) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::invalid("nat_remove", NAT_TABLE, "no attempt made")))
    }
}

/// One owner's entry of [`Nat::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatEntry {
    /// What made it.
    pub kind: NatKind,
    /// The chain.
    pub chain: String,
    /// Its comment: the owner (network, container ID, interface).
    pub owner: String,
    /// The map elements leading to it (`hostports tcp . 8080`...).
    pub keys: Vec<String>,
}

/// The map and key of a forward's element.
fn forward_key(f: &PortForward) -> (&'static str, Vec<NftKeyValue>) {
    let proto = NftKeyValue::Proto(f.proto.number());
    let port = NftKeyValue::Port(f.host_port);
    match f.host_ip {
        None => (MAP_PORTS, vec![proto, port]),
        Some(h) => (
            if h.is_ipv6() {
                MAP_HOSTIP6
            } else {
                MAP_HOSTIP4
            },
            vec![NftKeyValue::Addr(h), proto, port],
        ),
    }
}

/// A key of one of the table's maps, as nft prints it.
fn show_key(map: &str, key: &[u8]) -> String {
    let proto_port = |b: &[u8]| -> Option<String> {
        let proto = match b.first()? {
            6 => "tcp".to_string(),
            17 => "udp".to_string(),
            132 => "sctp".to_string(),
            p => p.to_string(),
        };
        let port = u16::from_be_bytes([*b.get(4)?, *b.get(5)?]);
        Some(format!("{proto} . {port}"))
    };
    let v4 = |b: &[u8]| -> Option<String> {
        let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
        Some(std::net::Ipv4Addr::from(a).to_string())
    };
    let v6 = |b: &[u8]| -> Option<String> {
        let a: [u8; 16] = b.get(..16)?.try_into().ok()?;
        Some(std::net::Ipv6Addr::from(a).to_string())
    };
    let shown = match map {
        MAP_PORTS => proto_port(key),
        MAP_HOSTIP4 => v4(key)
            .zip(key.get(4..).and_then(proto_port))
            .map(|(a, p)| format!("{a} . {p}")),
        MAP_HOSTIP6 => v6(key)
            .zip(key.get(16..).and_then(proto_port))
            .map(|(a, p)| format!("{a} . {p}")),
        MAP_MASQ4 | MAP_HAIRPIN4 => v4(key),
        MAP_MASQ6 | MAP_HAIRPIN6 => v6(key),
        _ => None,
    };
    shown.unwrap_or_else(|| format!("{key:02x?}"))
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
        assert_eq!(
            show_key(MAP_PORTS, &[6, 0, 0, 0, 0x1f, 0x90, 0, 0]),
            "tcp . 8080"
        );
        assert_eq!(show_key(MAP_MASQ4, &[10, 0, 0, 2]), "10.0.0.2");
    }
}
