//! nftables over NETLINK_NETFILTER, in process: [`Nft`], a socket bound to
//! one network namespace, and [`NftTransaction`], changes applied all or
//! nothing (one nfnetlink batch).
//!
//! What exists so far: tables, chains and rules (add, delete, list; rules
//! with payload, cmp, bitwise, meta, immediate, verdict, counter,
//! masquerade, nat (SNAT, DNAT), fib (daddr type) and ct (status)
//! expressions, prefix and port matches written as nft writes them, and a
//! comment). Verdict maps and the NAT layer on top come next (issue 12);
//! they reuse this module's transaction and dump paths.
//!
//! | call | nft equivalent | netlink |
//! |---|---|---|
//! | [`Nft::table_add`] | `nft add table ip NAME` | NFT_MSG_NEWTABLE, CREATE |
//! | [`Nft::table_del`] | `nft delete table ip NAME` | NFT_MSG_DELTABLE |
//! | [`Nft::tables`] | `nft list tables` | NFT_MSG_GETTABLE, DUMP |
//! | [`Nft::chain_add`] | `nft add chain ip T C '{ type nat hook prerouting priority dstnat; }'` | NFT_MSG_NEWCHAIN, CREATE |
//! | [`Nft::chain_del`] | `nft delete chain ip T C` | NFT_MSG_DELCHAIN |
//! | [`Nft::chains`] | `nft list chains ip` (one table) | NFT_MSG_GETCHAIN, DUMP |
//! | [`Nft::rule_add`] | `nft add rule ip T C ip saddr 10.0.0.0/24 masquerade`, `... tcp dport 8080 dnat to 10.0.0.2:80` | NFT_MSG_NEWRULE, CREATE, APPEND |
//! | [`Nft::rule_del`] | `nft delete rule ip T C handle H` | NFT_MSG_DELRULE |
//! | [`Nft::rules`] | `nft -a list chain ip T C` | NFT_MSG_GETRULE, DUMP |
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
use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE};

use crate::socket::{NfMessage, NlSocket};

mod rule;
mod set;
pub(crate) use rule::{parse_rule, parse_verdict};
pub use rule::{
    CmpOp, MetaKey, NftExpr, NftKeySource, NftReg, NftRule, NftRuleInfo, NftVerdict, PayloadBase,
};
pub(crate) use set::{key_bytes, parse_elements};
pub use set::{NftElement, NftKeyField, NftKeyValue, NftMapElement, NftSetData};

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
/// NFT_MSG_* for chains.
const MSG_NEWCHAIN: u16 = 3;
const MSG_GETCHAIN: u16 = 4;
const MSG_DELCHAIN: u16 = 5;
/// NFT_MSG_GETGEN and NFTA_GEN_ID.
const MSG_GETGEN: u16 = 16;
const GEN_ID: u16 = 1;
/// NFTA_CHAIN_* attributes.
const CHAIN_TABLE: u16 = 1;
const CHAIN_HANDLE: u16 = 2;
const CHAIN_NAME: u16 = 3;
const CHAIN_HOOK: u16 = 4;
const CHAIN_POLICY: u16 = 5;
const CHAIN_USE: u16 = 6;
const CHAIN_TYPE: u16 = 7;
const CHAIN_USERDATA: u16 = 12;
/// NFTA_HOOK_* attributes (nested in NFTA_CHAIN_HOOK).
const HOOK_HOOKNUM: u16 = 1;
const HOOK_PRIORITY: u16 = 2;
/// NLA_F_NESTED.
const NLA_F_NESTED: u16 = 0x8000;
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

/// A netfilter hook of the ip, ip6 and inet families (NF_INET_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NftHook {
    /// `prerouting` (NF_INET_PRE_ROUTING).
    Prerouting,
    /// `input` (NF_INET_LOCAL_IN).
    Input,
    /// `forward` (NF_INET_FORWARD).
    Forward,
    /// `output` (NF_INET_LOCAL_OUT).
    Output,
    /// `postrouting` (NF_INET_POST_ROUTING).
    Postrouting,
}

impl NftHook {
    const ALL: [NftHook; 5] = [
        NftHook::Prerouting,
        NftHook::Input,
        NftHook::Forward,
        NftHook::Output,
        NftHook::Postrouting,
    ];

    /// The NF_INET_* number.
    pub const fn number(self) -> u32 {
        match self {
            NftHook::Prerouting => 0,
            NftHook::Input => 1,
            NftHook::Forward => 2,
            NftHook::Output => 3,
            NftHook::Postrouting => 4,
        }
    }

    fn from_number(n: u32) -> Option<NftHook> {
        NftHook::ALL.into_iter().find(|h| h.number() == n)
    }

    /// nft's name (`prerouting`...).
    pub const fn name(self) -> &'static str {
        match self {
            NftHook::Prerouting => "prerouting",
            NftHook::Input => "input",
            NftHook::Forward => "forward",
            NftHook::Output => "output",
            NftHook::Postrouting => "postrouting",
        }
    }
}

impl fmt::Display for NftHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a base chain is for (`type filter|nat|route`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NftChainType {
    /// `filter`.
    Filter,
    /// `nat`: the chain's rules see the first packet of each connection.
    Nat,
    /// `route`: rerouted when marks or addresses change (output hook).
    Route,
}

impl NftChainType {
    /// nft's name.
    pub const fn name(self) -> &'static str {
        match self {
            NftChainType::Filter => "filter",
            NftChainType::Nat => "nat",
            NftChainType::Route => "route",
        }
    }

    fn from_name(s: &str) -> Option<NftChainType> {
        [NftChainType::Filter, NftChainType::Nat, NftChainType::Route]
            .into_iter()
            .find(|t| t.name() == s)
    }
}

impl fmt::Display for NftChainType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What makes a chain a base chain: its type, hook and priority, and its
/// policy (`accept` unless `drop`).
///
/// ```
/// use netns_core::{NftBaseChain, NftHook};
/// let dnat = NftBaseChain::dstnat(NftHook::Prerouting); // type nat hook prerouting priority dstnat
/// assert_eq!(dnat.priority, -100);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NftBaseChain {
    /// The chain type.
    pub kind: NftChainType,
    /// The hook it is attached to.
    pub hook: NftHook,
    /// Its priority: lower runs first (`dstnat` -100, `filter` 0, `srcnat`
    /// 100).
    pub priority: i32,
    /// Whether packets that reach its end are dropped (`policy drop`).
    pub drop: bool,
}

impl NftBaseChain {
    /// A base chain of `kind` at `hook` and `priority`, policy accept.
    pub const fn new(kind: NftChainType, hook: NftHook, priority: i32) -> NftBaseChain {
        NftBaseChain {
            kind,
            hook,
            priority,
            drop: false,
        }
    }

    /// `type nat hook HOOK priority dstnat` (-100): prerouting or output.
    pub const fn dstnat(hook: NftHook) -> NftBaseChain {
        NftBaseChain::new(NftChainType::Nat, hook, -100)
    }

    /// `type nat hook HOOK priority srcnat` (100): postrouting or input.
    pub const fn srcnat(hook: NftHook) -> NftBaseChain {
        NftBaseChain::new(NftChainType::Nat, hook, 100)
    }

    /// `type filter hook HOOK priority filter` (0).
    pub const fn filter(hook: NftHook) -> NftBaseChain {
        NftBaseChain::new(NftChainType::Filter, hook, 0)
    }

    /// The same with `policy drop`.
    pub const fn with_drop_policy(mut self) -> NftBaseChain {
        self.drop = true;
        self
    }
}

/// A chain, as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NftChain {
    /// Its table's family.
    pub family: NftFamily,
    /// Its table.
    pub table: String,
    /// Its name.
    pub name: String,
    /// The kernel's handle.
    pub handle: u64,
    /// Type, hook, priority and policy, for a base chain.
    pub base: Option<NftBaseChain>,
    /// How many rules hold it as a jump or goto target.
    pub use_count: u32,
    /// Its comment, if it has one.
    pub comment: Option<String>,
}

impl fmt::Display for NftChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chain {} {} {}", self.family, self.table, self.name)
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

    /// The chains of table `table` of `family` (none for a table that does
    /// not exist: the kernel's filtered dump does not tell them apart).
    #[doc(alias = "nft list chains")]
    #[doc(alias = "NFT_MSG_GETCHAIN")]
    pub fn chains(&self, family: NftFamily, table: &str) -> Result<Vec<NftChain>> {
        const OP: &str = "nft_chain_list";
        let object = format!("table {family} {table}");
        check_name(table).map_err(|r| Error::invalid(OP, object.clone(), r))?;
        let mut filter = Vec::new();
        nla::put_str(&mut filter, CHAIN_TABLE, table);
        self.sock().nf_dump(
            OP,
            &object,
            nft_type(MSG_GETCHAIN),
            family.number(),
            &filter,
            |family, attrs| {
                let c = parse_chain(family, attrs).map_err(|d| Error::protocol(OP, "chain", d))?;
                // The kernel filters by table since 4.x; older ones list all.
                Ok(c.filter(|c| c.table == table))
            },
        )
    }

    /// Create chain `name` in table `table` of `family`: a base chain when
    /// `base` is given, else a regular one (a jump target). An existing
    /// chain is left as it is.
    #[doc(alias = "nft add chain")]
    #[doc(alias = "NFT_MSG_NEWCHAIN")]
    pub fn chain_add(
        &self,
        family: NftFamily,
        table: &str,
        name: &str,
        base: Option<&NftBaseChain>,
    ) -> Result<()> {
        self.transaction()
            .chain_add(family, table, name, base)
            .commit()
    }

    /// Delete chain `name` of table `table` with its rules. A missing chain
    /// is ENOENT; a chain that a rule still jumps to is EBUSY.
    #[doc(alias = "nft delete chain")]
    #[doc(alias = "NFT_MSG_DELCHAIN")]
    pub fn chain_del(&self, family: NftFamily, table: &str, name: &str) -> Result<()> {
        self.transaction().chain_del(family, table, name).commit()
    }

    /// A transaction: changes collected, then applied by
    /// [`NftTransaction::commit`] all or nothing.
    pub fn transaction(&self) -> NftTransaction<'_> {
        NftTransaction {
            nft: self,
            msgs: Vec::new(),
            invalid: None,
            genid: None,
        }
    }

    /// Read, decide and change at one ruleset generation: `plan` reads what
    /// it needs and returns the transaction to apply with its result
    /// (`None`: nothing to change); the transaction is committed at the
    /// generation read before `plan` ran, and a concurrent change (ERESTART)
    /// makes it read and decide again, up to 32 times, after a random pause
    /// that doubles each time (up to 1, 2, 4 ... 32 ms).
    ///
    /// The pause is what lets it through under load: when a read takes
    /// longer than the gap between other writers' commits (8 runtimes
    /// deleting pods of one network, each read walking every owner's
    /// elements), attempts made back to back lose every time (8 of them
    /// did, in `examples/tests/bridge_load.rs`); waiting a random while
    /// spreads the writers out.
    pub(crate) fn at_one_generation<'a, T>(
        &'a self,
        mut plan: impl FnMut() -> Result<Option<(NftTransaction<'a>, T)>>,
    ) -> Result<Option<T>> {
        const ATTEMPTS: u32 = 32;
        const MAX_PAUSE_US: u64 = 32_000;
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                let cap = (1_000u64 << (attempt - 1).min(5)).min(MAX_PAUSE_US);
                std::thread::sleep(std::time::Duration::from_micros(random_below(cap)));
            }
            let genid = self.generation()?;
            let Some((t, out)) = plan()? else {
                return Ok(None);
            };
            match t.at_generation(genid).commit() {
                Ok(()) => return Ok(Some(out)),
                Err(e) if e.errno() == Some(libc::ERESTART) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::invalid("nft_transaction", "ruleset", "no attempt")))
    }

    /// The ruleset's generation: a number the kernel changes with every
    /// committed transaction. A transaction made
    /// [`at_generation`](NftTransaction::at_generation) of it is refused
    /// (ERESTART) if anything changed since, so a read, a decision and a
    /// change are race-free together.
    #[doc(alias = "NFT_MSG_GETGEN")]
    pub fn generation(&self) -> Result<u32> {
        const OP: &str = "nft_generation";
        self.sock().nf_get(
            OP,
            &"ruleset",
            nft_type(MSG_GETGEN),
            libc::AF_UNSPEC as u8,
            &[],
            |_, attrs| {
                for a in Nlas::new(attrs) {
                    let a = a.map_err(|d| Error::protocol(OP, "generation", d))?;
                    if a.kind == GEN_ID {
                        if let Some(id) = nla::u32_of(a.value) {
                            return Ok(u32::from_be(id));
                        }
                    }
                }
                Err(Error::protocol(
                    OP,
                    "generation",
                    "NEWGEN without NFTA_GEN_ID",
                ))
            },
        )
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
    genid: Option<u32>,
}

impl NftTransaction<'_> {
    /// Apply only if the ruleset is still at generation `genid` (from
    /// [`Nft::generation`]); otherwise the commit fails with ERESTART and
    /// changes nothing.
    pub fn at_generation(mut self, genid: u32) -> Self {
        self.genid = Some(genid);
        self
    }

    /// Add table `name` to `family` (an existing one is kept).
    pub fn table_add(mut self, family: NftFamily, name: &str) -> Self {
        let mut attrs = Vec::new();
        nla::put_str(&mut attrs, TABLE_NAME, name);
        nla::put(&mut attrs, TABLE_FLAGS, &0u32.to_be_bytes());
        self.push(
            "nft_table_add",
            format!("table {family} {name}"),
            check_name(name),
            (MSG_NEWTABLE, NLM_F_CREATE),
            family,
            attrs,
        );
        self
    }

    /// Create table `name` in `family` (nft's `create table`): a table of
    /// that name already there is an error (EEXIST, [`Error::is_exists`]).
    pub fn table_create(mut self, family: NftFamily, name: &str) -> Self {
        let mut attrs = Vec::new();
        nla::put_str(&mut attrs, TABLE_NAME, name);
        nla::put(&mut attrs, TABLE_FLAGS, &0u32.to_be_bytes());
        self.push(
            "nft_table_create",
            format!("table {family} {name}"),
            check_name(name),
            (MSG_NEWTABLE, NLM_F_CREATE | netlink_packet_core::NLM_F_EXCL),
            family,
            attrs,
        );
        self
    }

    /// Delete table `name` of `family` and everything in it.
    pub fn table_del(mut self, family: NftFamily, name: &str) -> Self {
        let mut attrs = Vec::new();
        nla::put_str(&mut attrs, TABLE_NAME, name);
        self.push(
            "nft_table_del",
            format!("table {family} {name}"),
            check_name(name),
            (MSG_DELTABLE, 0),
            family,
            attrs,
        );
        self
    }

    /// Add chain `name` to table `table` (see [`Nft::chain_add`]).
    pub fn chain_add(
        mut self,
        family: NftFamily,
        table: &str,
        name: &str,
        base: Option<&NftBaseChain>,
    ) -> Self {
        let mut attrs = chain_attrs(table, name);
        if let Some(b) = base {
            let mut hook = Vec::new();
            nla::put(&mut hook, HOOK_HOOKNUM, &b.hook.number().to_be_bytes());
            nla::put(&mut hook, HOOK_PRIORITY, &b.priority.to_be_bytes());
            nla::put(&mut attrs, CHAIN_HOOK | NLA_F_NESTED, &hook);
            let policy: u32 = if b.drop { 0 } else { 1 }; // NF_DROP, NF_ACCEPT
            nla::put(&mut attrs, CHAIN_POLICY, &policy.to_be_bytes());
            nla::put_str(&mut attrs, CHAIN_TYPE, b.kind.name());
        }
        self.push(
            "nft_chain_add",
            format!("chain {family} {table} {name}"),
            check_name(table).and_then(|()| check_name(name)),
            (MSG_NEWCHAIN, NLM_F_CREATE),
            family,
            attrs,
        );
        self
    }

    /// Create regular chain `name` in table `table` with `comment`
    /// (nft's `create chain T C { comment "..." ; }`): a chain of that name
    /// already there is an error (EEXIST, [`Error::is_exists`]).
    pub fn chain_create(
        mut self,
        family: NftFamily,
        table: &str,
        name: &str,
        comment: Option<&str>,
    ) -> Self {
        let mut attrs = chain_attrs(table, name);
        if let Some(c) = comment {
            nla::put(&mut attrs, CHAIN_USERDATA, &rule::comment_tlv(c));
        }
        let valid = check_name(table)
            .and_then(|()| check_name(name))
            .and_then(|()| comment.map_or(Ok(()), rule::check_comment));
        self.push(
            "nft_chain_create",
            format!("chain {family} {table} {name}"),
            valid,
            (MSG_NEWCHAIN, NLM_F_CREATE | netlink_packet_core::NLM_F_EXCL),
            family,
            attrs,
        );
        self
    }

    /// Delete chain `name` of table `table` (see [`Nft::chain_del`]).
    pub fn chain_del(mut self, family: NftFamily, table: &str, name: &str) -> Self {
        self.push(
            "nft_chain_del",
            format!("chain {family} {table} {name}"),
            check_name(table).and_then(|()| check_name(name)),
            (MSG_DELCHAIN, 0),
            family,
            chain_attrs(table, name),
        );
        self
    }

    /// Queue one message: `msg` (NFT_MSG_*) with the `flags` it adds to
    /// REQUEST|ACK, about `object`. When `valid` failed, the first such
    /// failure is kept instead and [`commit`](Self::commit) sends nothing.
    fn push(
        &mut self,
        op: &'static str,
        object: String,
        valid: std::result::Result<(), String>,
        (msg, flags): (u16, u16),
        family: NftFamily,
        attrs: Vec<u8>,
    ) {
        if let Err(reason) = valid {
            self.invalid
                .get_or_insert(Error::invalid(op, object, reason));
            return;
        }
        self.msgs.push(NfMessage {
            op,
            message_type: nft_type(msg),
            flags,
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
            .transaction("nft_transaction", SUBSYS_NFTABLES, &self.msgs, self.genid)
    }
}

/// NFTA_CHAIN_TABLE and NFTA_CHAIN_NAME.
fn chain_attrs(table: &str, name: &str) -> Vec<u8> {
    let mut attrs = Vec::new();
    nla::put_str(&mut attrs, CHAIN_TABLE, table);
    nla::put_str(&mut attrs, CHAIN_NAME, name);
    attrs
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

/// A chain from a NEWCHAIN message's family and attributes.
pub(crate) fn parse_chain(
    family: u8,
    attrs: &[u8],
) -> std::result::Result<Option<NftChain>, String> {
    let Some(family) = NftFamily::from_number(family) else {
        return Ok(None);
    };
    let be32 = |v: &[u8]| <[u8; 4]>::try_from(v).ok().map(u32::from_be_bytes);
    let mut c = NftChain {
        family,
        table: String::new(),
        name: String::new(),
        handle: 0,
        base: None,
        use_count: 0,
        comment: None,
    };
    let (mut hook, mut priority, mut policy, mut kind) = (None, None, None, None);
    for a in Nlas::new(attrs) {
        let a = a?;
        match a.kind {
            CHAIN_TABLE => c.table = a.str(),
            CHAIN_NAME => c.name = a.str(),
            CHAIN_HANDLE => {
                c.handle = <[u8; 8]>::try_from(a.value)
                    .map(u64::from_be_bytes)
                    .map_err(|_| "NFTA_CHAIN_HANDLE is not 8 bytes")?
            }
            CHAIN_USE => c.use_count = be32(a.value).ok_or("NFTA_CHAIN_USE is not 4 bytes")?,
            CHAIN_POLICY => policy = Some(be32(a.value).ok_or("NFTA_CHAIN_POLICY is not 4 bytes")?),
            CHAIN_TYPE => kind = NftChainType::from_name(&a.str()),
            CHAIN_USERDATA => c.comment = rule::comment_of(a.value),
            CHAIN_HOOK => {
                for h in Nlas::new(a.value) {
                    let h = h?;
                    match h.kind {
                        HOOK_HOOKNUM => {
                            hook = Some(be32(h.value).ok_or("NFTA_HOOK_HOOKNUM is not 4 bytes")?)
                        }
                        HOOK_PRIORITY => {
                            priority =
                                Some(be32(h.value).ok_or("NFTA_HOOK_PRIORITY is not 4 bytes")?
                                    as i32)
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if c.table.is_empty() || c.name.is_empty() {
        return Err("a chain without its table or name".into());
    }
    if let (Some(kind), Some(hook), Some(priority)) =
        (kind, hook.and_then(NftHook::from_number), priority)
    {
        c.base = Some(NftBaseChain {
            kind,
            hook,
            priority,
            drop: policy == Some(0),
        });
    }
    Ok(Some(c))
}

/// A random number below `n` (at least 1), for retry pauses: std's
/// per-process random hash keys and the clock, no dependency.
fn random_below(n: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() % n.max(1)
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
