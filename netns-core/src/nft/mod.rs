//! nftables over NETLINK_NETFILTER, in process: [`Nft`], a socket bound to
//! one network namespace, and [`NftTransaction`], changes applied all or
//! nothing (one nfnetlink batch).
//!
//! What exists so far: tables (add, delete, list). Chains, rules, maps and
//! the NAT layer on top come next (issue 12); they reuse this module's
//! transaction and dump paths.
//!
//! | call | nft equivalent | netlink |
//! |---|---|---|
//! | [`Nft::table_add`] | `nft add table ip NAME` | NFT_MSG_NEWTABLE, CREATE |
//! | [`Nft::table_del`] | `nft delete table ip NAME` | NFT_MSG_DELTABLE |
//! | [`Nft::tables`] | `nft list tables` | NFT_MSG_GETTABLE, DUMP |
//! | [`Nft::transaction`] | `nft -f FILE` (one transaction) | BATCH_BEGIN ... BATCH_END |
//!
//! netns writes only the tables it owns; nothing here touches a table it
//! was not asked to.
//!
//! # References
//! [nft(8)](https://www.netfilter.org/projects/nftables/manpage.html),
//! linux/netfilter/nf_tables.h and nfnetlink.h.

use std::fmt;
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::nla::{self, Nlas};
use crate::ns::NetNs;
use crate::socket::{NfMessage, NlSocket};

/// NFNL_SUBSYS_NFTABLES.
const SUBSYS_NFTABLES: u16 = 10;
/// NFT_MSG_* message numbers.
const MSG_NEWTABLE: u16 = 0;
const MSG_GETTABLE: u16 = 1;
const MSG_DELTABLE: u16 = 2;
/// NFTA_TABLE_* attributes.
const TABLE_NAME: u16 = 1;
const TABLE_FLAGS: u16 = 2;
const TABLE_USE: u16 = 3;
const TABLE_HANDLE: u16 = 4;
/// NFT_NAME_MAXLEN, the terminating NUL included.
const NAME_MAXLEN: usize = 256;

const fn nft_type(msg: u16) -> u16 {
    (SUBSYS_NFTABLES << 8) | msg
}

/// An nftables address family (`nft`'s family names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NftFamily {
    /// `ip`: IPv4 (NFPROTO_IPV4).
    Ip,
    /// `ip6`: IPv6 (NFPROTO_IPV6).
    Ip6,
    /// `inet`: IPv4 and IPv6 (NFPROTO_INET).
    Inet,
    /// `arp` (NFPROTO_ARP).
    Arp,
    /// `bridge` (NFPROTO_BRIDGE).
    Bridge,
    /// `netdev` (NFPROTO_NETDEV).
    Netdev,
}

impl NftFamily {
    /// Every family, in `nft list tables` order of its numbers.
    pub const ALL: [NftFamily; 6] = [
        NftFamily::Inet,
        NftFamily::Ip,
        NftFamily::Arp,
        NftFamily::Netdev,
        NftFamily::Bridge,
        NftFamily::Ip6,
    ];

    /// The NFPROTO_* number.
    pub const fn number(self) -> u8 {
        match self {
            NftFamily::Inet => 1,
            NftFamily::Ip => 2,
            NftFamily::Arp => 3,
            NftFamily::Netdev => 5,
            NftFamily::Bridge => 7,
            NftFamily::Ip6 => 10,
        }
    }

    /// The family of an NFPROTO_* number.
    pub fn from_number(n: u8) -> Option<NftFamily> {
        NftFamily::ALL.into_iter().find(|f| f.number() == n)
    }

    /// nft's name (`ip`, `ip6`, `inet`...).
    pub const fn name(self) -> &'static str {
        match self {
            NftFamily::Inet => "inet",
            NftFamily::Ip => "ip",
            NftFamily::Arp => "arp",
            NftFamily::Netdev => "netdev",
            NftFamily::Bridge => "bridge",
            NftFamily::Ip6 => "ip6",
        }
    }
}

impl fmt::Display for NftFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for NftFamily {
    type Err = Error;
    fn from_str(s: &str) -> Result<NftFamily> {
        NftFamily::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "nft_family",
                    s,
                    "not an nftables family (ip, ip6, inet, arp, bridge, netdev)",
                )
            })
    }
}

/// A table, as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NftTable {
    /// Its family.
    pub family: NftFamily,
    /// Its name.
    pub name: String,
    /// The kernel's handle (`nft -a`).
    pub handle: u64,
    /// NFT_TABLE_F_* flags (dormant 0x1, owner 0x2...).
    pub flags: u32,
    /// How many chains, sets and objects it holds.
    pub use_count: u32,
}

impl fmt::Display for NftTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {} {}", self.family, self.name)
    }
}

/// An nftables handle: one NETLINK_NETFILTER socket bound to one network
/// namespace, like [`Handle`](crate::Handle) for rtnetlink. [`Nft::new`]
/// binds it to the calling thread's namespace, [`Nft::new_in`] opens it
/// inside another one on a helper thread; afterwards it works from any
/// thread without setns. Needs CAP_NET_ADMIN in the namespace's user
/// namespace.
#[derive(Debug)]
pub struct Nft {
    sock: Mutex<NlSocket>,
}

impl Nft {
    /// A handle on the calling thread's namespace.
    pub fn new() -> Result<Nft> {
        Ok(Nft {
            sock: Mutex::new(NlSocket::open_netfilter()?),
        })
    }

    /// A handle on `ns` (the socket is opened by a helper thread that
    /// enters `ns` and exits).
    #[doc(alias = "ip netns exec NS nft")]
    pub fn new_in(ns: &NetNs) -> Result<Nft> {
        let sock = ns.run(NlSocket::open_netfilter)??;
        Ok(Nft {
            sock: Mutex::new(sock),
        })
    }

    fn sock(&self) -> MutexGuard<'_, NlSocket> {
        self.sock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every table of every family.
    #[doc(alias = "nft list tables")]
    #[doc(alias = "NFT_MSG_GETTABLE")]
    pub fn tables(&self) -> Result<Vec<NftTable>> {
        const OP: &str = "nft_table_list";
        self.sock().nf_dump(
            OP,
            &"tables",
            nft_type(MSG_GETTABLE),
            libc::AF_UNSPEC as u8,
            &[],
            |family, attrs| parse_table(family, attrs).map_err(|d| Error::protocol(OP, "table", d)),
        )
    }

    /// Create table `name` in `family`; an existing one is left as it is
    /// (nft's `add`, not `create`).
    #[doc(alias = "nft add table")]
    #[doc(alias = "NFT_MSG_NEWTABLE")]
    pub fn table_add(&self, family: NftFamily, name: &str) -> Result<()> {
        self.transaction().table_add(family, name).commit()
    }

    /// Delete table `name` of `family` with everything in it. A missing
    /// table is an error (ENOENT, [`Error::is_not_found`]).
    #[doc(alias = "nft delete table")]
    #[doc(alias = "NFT_MSG_DELTABLE")]
    pub fn table_del(&self, family: NftFamily, name: &str) -> Result<()> {
        self.transaction().table_del(family, name).commit()
    }

    /// A transaction: changes collected, then applied by
    /// [`NftTransaction::commit`] all or nothing.
    pub fn transaction(&self) -> NftTransaction<'_> {
        NftTransaction {
            nft: self,
            msgs: Vec::new(),
            invalid: None,
        }
    }
}

/// Changes applied together by [`commit`](NftTransaction::commit): one
/// nfnetlink batch, which the kernel applies all or nothing. Arguments are
/// checked as changes are added; the first bad one is the commit's error,
/// and nothing is sent.
///
/// ```no_run
/// use netns_core::{Nft, NftFamily};
/// let nft = Nft::new()?;
/// nft.transaction()
///     .table_add(NftFamily::Ip, "netns-a")
///     .table_add(NftFamily::Ip6, "netns-a")
///     .commit()?; // both tables, or neither
/// # Ok::<(), netns_core::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a transaction does nothing until it is committed"]
pub struct NftTransaction<'a> {
    nft: &'a Nft,
    msgs: Vec<NfMessage>,
    invalid: Option<Error>,
}

impl NftTransaction<'_> {
    /// Add table `name` to `family` (an existing one is kept).
    pub fn table_add(mut self, family: NftFamily, name: &str) -> Self {
        self.table_msg("nft_table_add", MSG_NEWTABLE, family, name, true);
        self
    }

    /// Delete table `name` of `family` and everything in it.
    pub fn table_del(mut self, family: NftFamily, name: &str) -> Self {
        self.table_msg("nft_table_del", MSG_DELTABLE, family, name, false);
        self
    }

    fn table_msg(&mut self, op: &'static str, msg: u16, family: NftFamily, name: &str, new: bool) {
        let object = format!("table {family} {name}");
        if let Err(reason) = check_name(name) {
            self.invalid
                .get_or_insert(Error::invalid(op, object, reason));
            return;
        }
        let mut attrs = Vec::new();
        nla::put_str(&mut attrs, TABLE_NAME, name);
        if new {
            nla::put(&mut attrs, TABLE_FLAGS, &0u32.to_be_bytes());
        }
        self.msgs.push(NfMessage {
            op,
            message_type: nft_type(msg),
            flags: if new {
                netlink_packet_core::NLM_F_CREATE
            } else {
                0
            },
            family: family.number(),
            attrs,
            object,
        });
    }

    /// Apply every change, all or nothing. The error names the first change
    /// the kernel refused (or the first invalid argument, when nothing was
    /// sent).
    pub fn commit(self) -> Result<()> {
        if let Some(e) = self.invalid {
            return Err(e);
        }
        self.nft
            .sock()
            .transaction("nft_transaction", SUBSYS_NFTABLES, &self.msgs)
    }
}

/// A table or chain name as the kernel takes it: 1 to 255 bytes, no NUL.
fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("an nftables name cannot be empty".into());
    }
    if name.len() >= NAME_MAXLEN {
        return Err(format!(
            "an nftables name is at most {} bytes, not {}",
            NAME_MAXLEN - 1,
            name.len()
        ));
    }
    if name.contains('\0') {
        return Err("an nftables name cannot contain NUL".into());
    }
    Ok(())
}

/// A table from a NEWTABLE message's family and attributes.
pub(crate) fn parse_table(
    family: u8,
    attrs: &[u8],
) -> std::result::Result<Option<NftTable>, String> {
    let Some(family) = NftFamily::from_number(family) else {
        return Ok(None);
    };
    let mut t = NftTable {
        family,
        name: String::new(),
        handle: 0,
        flags: 0,
        use_count: 0,
    };
    let be32 = |v: &[u8]| <[u8; 4]>::try_from(v).ok().map(u32::from_be_bytes);
    for a in Nlas::new(attrs) {
        let a = a?;
        match a.kind {
            TABLE_NAME => t.name = a.str(),
            TABLE_FLAGS => t.flags = be32(a.value).ok_or("NFTA_TABLE_FLAGS is not 4 bytes")?,
            TABLE_USE => t.use_count = be32(a.value).ok_or("NFTA_TABLE_USE is not 4 bytes")?,
            TABLE_HANDLE => {
                t.handle = <[u8; 8]>::try_from(a.value)
                    .map(u64::from_be_bytes)
                    .map_err(|_| "NFTA_TABLE_HANDLE is not 8 bytes")?
            }
            _ => {}
        }
    }
    if t.name.is_empty() {
        return Err("a table without NFTA_TABLE_NAME".into());
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_round_trip() {
        for f in NftFamily::ALL {
            assert_eq!(NftFamily::from_number(f.number()), Some(f));
            assert_eq!(f.name().parse::<NftFamily>().unwrap(), f);
        }
        assert!("ipv4".parse::<NftFamily>().is_err());
        assert_eq!(NftFamily::from_number(4), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("netns-nat").is_ok());
        assert!(check_name(&"a".repeat(255)).is_ok());
        assert!(check_name(&"a".repeat(256)).is_err());
        assert!(check_name("").is_err());
        assert!(check_name("a\0b").is_err());
    }

    /// The reply nft 1.0.6 got from kernel 6.18 for `nft list tables`
    /// (strace), one table `ip t1`, handle 1.
    #[test]
    fn a_captured_table_parses() {
        let attrs = [
            7u8, 0, 1, 0, b't', b'1', 0, 0, // NAME "t1"
            8, 0, 3, 0, 0, 0, 0, 0, // USE 0
            12, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, // HANDLE 1
            8, 0, 2, 0, 0, 0, 0, 0, // FLAGS 0
        ];
        let t = parse_table(2, &attrs).unwrap().unwrap();
        assert_eq!(t.to_string(), "table ip t1");
        assert_eq!((t.handle, t.flags, t.use_count), (1, 0, 0));
        assert_eq!(parse_table(99, &attrs).unwrap(), None);
        assert!(parse_table(2, &attrs[..4]).is_err());
        assert!(parse_table(2, &attrs[8..]).is_err());
    }
}
