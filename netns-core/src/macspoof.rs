//! MAC spoof check for bridge ports, in process: frames a container sends
//! through its port (the host end of its veth pair) with a source MAC
//! other than the container's are dropped, over nftables netlink, in a
//! table netns owns (`bridge netns-macspoof`). This is what the CNI
//! reference bridge plugin's `macspoofchk` does (pkg/link/spoofcheck.go,
//! there with rules in table `bridge nat` found again by their comment);
//! [`MacSpoofCheck`] is the API, and the layout below is what it writes,
//! so `nft list table bridge netns-macspoof` reads it.
//!
//! | call | what it adds (nft) |
//! |---|---|
//! | [`MacSpoofCheck::add`]`(owner, "veth1a2b3c4d", 02:42:0a:00:00:02)` | chain `mac-N-O` `{ ether saddr != 02:42:0a:00:00:02 drop }`; element `"veth1a2b3c4d" : jump mac-N-O` in map `ports` |
//! | [`MacSpoofCheck::remove`]`(owner)` | deletes that element and chain; the table itself when no other owner is left in it |
//! | [`MacSpoofCheck::gc`]`(network, valid)` | [`MacSpoofCheck::remove`] of every owner of `network` not in `valid` |
//!
//! The table's fixed part, made by the first call (one transaction):
//! ```text
//! table bridge netns-macspoof {
//!   map ports { type ifname : verdict }
//!   chain prerouting { type filter hook prerouting priority -300; policy accept;
//!     iifname vmap @ports }
//! }
//! ```
//!
//! - **What passes.** Only frames whose source MAC is the container's
//!   (ARP, IPv4, IPv6 and anything else alike), as the reference allows:
//!   its chain returns for `ether saddr MAC` and drops the rest. Frames of
//!   other ports, and frames to the port, are not looked at.
//! - **Where.** At the bridge's prerouting hook, priority -300 (the
//!   reference's, `NF_BR_PRI_NAT_DST_BRIDGED`), before the bridge learns or
//!   forwards: a forged frame neither reaches a neighbour nor the host,
//!   and its source address is not learnt.
//! - **Owners.** As in [`nat`](crate::nat): everything an attachment adds
//!   hangs off one chain named from its [`NatOwner`] (`mac-N-O`, N and O
//!   64-bit FNV-1a hashes of the network and of the whole owner, the
//!   owner spelled out in the chain's comment, the MAC in the rule's), and
//!   the map element keyed by the port's name is the only reference to
//!   it. Removing an owner needs neither its port's name nor its MAC (an
//!   attachment whose container is gone is removed all the same).
//! - **Atomic.** Each call is one nfnetlink transaction (the reference
//!   uses two for a set-up and three for a tear-down); removal deletes at
//!   the ruleset generation it read, and reads again after a concurrent
//!   change.
//! - **Cost.** One map lookup per frame of the bridge, whatever the number
//!   of ports (the reference adds one `iifname` rule per port to one
//!   chain, walked in order).
//!
//! The table needs nf_tables' bridge family (`CONFIG_NF_TABLES_BRIDGE`).

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::link::MacAddr;
use crate::nat::NatOwner;
use crate::nft::{
    Nft, NftBaseChain, NftChainType, NftFamily, NftHook, NftKeyField, NftKeySource, NftKeyValue,
    NftMapElement, NftRule, NftTransaction, NftVerdict,
};
use crate::ns::NetNs;

/// The table netns owns (family `bridge`).
pub const MACSPOOF_TABLE: &str = "netns-macspoof";
const FAMILY: NftFamily = NftFamily::Bridge;
const MAP_PORTS: &str = "ports";
const BASE_CHAIN: &str = "prerouting";
/// The reference's priority (NF_BR_PRI_NAT_DST_BRIDGED).
pub const MACSPOOF_PRIORITY: i32 = -300;
const PREFIX: &str = "mac";
/// `mac-N-O` (see [`NatOwner`]'s tags).
fn chain_of(o: &NatOwner) -> String {
    o.tag(PREFIX)
}

/// The network and owner hashes of a chain name this module made.
fn parse_chain(name: &str) -> Option<(u64, u64)> {
    match crate::nat::parse_tag(name)? {
        (PREFIX, net, owner) => Some((net, owner)),
        _ => None,
    }
}

/// The rule's comment: what it allows.
fn rule_comment(mac: MacAddr) -> String {
    format!("only {mac}")
}

/// One owner's entry of [`MacSpoofCheck::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MacSpoofEntry {
    /// The chain.
    pub chain: String,
    /// Its comment: the owner (network, container ID, interface).
    pub owner: String,
    /// The ports whose elements lead to it.
    pub ports: Vec<String>,
    /// Its rule's comment (`only MAC`).
    pub rule: Option<String>,
}

/// The MAC spoof check in one network namespace (see the module docs).
#[derive(Debug)]
pub struct MacSpoofCheck {
    nft: Nft,
}

impl MacSpoofCheck {
    /// The check in the calling thread's namespace.
    pub fn new() -> Result<MacSpoofCheck> {
        Ok(MacSpoofCheck { nft: Nft::new()? })
    }

    /// The check in `ns`.
    pub fn new_in(ns: &NetNs) -> Result<MacSpoofCheck> {
        Ok(MacSpoofCheck {
            nft: Nft::new_in(ns)?,
        })
    }

    /// The nftables handle underneath.
    pub fn nft(&self) -> &Nft {
        &self.nft
    }

    /// Drop the frames bridge port `port` receives (those its container
    /// sends) whose source MAC is not `mac`. Replaces what `owner` had. A
    /// port another owner checks is refused (EEXIST), and nothing is added.
    ///
    /// nft: `add element bridge netns-macspoof ports { "veth1a2b3c4d" :
    /// jump mac-N-O }` with chain `mac-N-O { ether saddr !=
    /// 02:42:0a:00:00:02 drop comment "only 02:42:0a:00:00:02" }`.
    #[doc(alias = "macspoofchk")]
    pub fn add<'s>(&'s self, owner: &NatOwner, port: &str, mac: MacAddr) -> Result<()> {
        const OP: &str = "macspoof_add";
        let Some(key) = NftKeyValue::ifname(port) else {
            return Err(Error::invalid(
                OP,
                owner.to_string(),
                format!("port {port:?}: an interface name is 1 to 15 bytes"),
            ));
        };
        let chain = chain_of(owner);
        let build = |t: NftTransaction<'s>| -> NftTransaction<'s> {
            t.chain_create(FAMILY, MACSPOOF_TABLE, &chain, Some(&owner.comment()))
                .rule_add(
                    FAMILY,
                    MACSPOOF_TABLE,
                    &chain,
                    &NftRule::new()
                        .ether_saddr(mac.0, false)
                        .verdict(NftVerdict::Drop)
                        .comment(rule_comment(mac)),
                )
                .map_element_add(
                    FAMILY,
                    MACSPOOF_TABLE,
                    MAP_PORTS,
                    &[key],
                    &NftVerdict::Jump(chain.clone()),
                    true,
                )
        };
        let mut made_table = false;
        let mut replaced = false;
        loop {
            match build(self.nft.transaction()).commit() {
                Ok(()) => return Ok(()),
                // No table yet (or it went meanwhile): make it, once, in
                // the same transaction as the owner's objects, so that a
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
                // The owner's chain is there already: an ADD again.
                Err(e) if e.is_exists() && e.op() == "nft_chain_create" && !replaced => {
                    replaced = true;
                    self.remove(owner)?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Remove what `owner` added. Returns whether there was anything;
    /// removing twice is not an error. When no owner is left, the table
    /// goes too.
    pub fn remove(&self, owner: &NatOwner) -> Result<bool> {
        let chain = chain_of(owner);
        Ok(self.remove_where(|c| c == chain)? > 0)
    }

    /// Remove what every owner of `network` not in `valid` added (CNI's
    /// GC). Returns how many owners' chains went.
    pub fn gc(&self, network: &str, valid: &[NatOwner]) -> Result<usize> {
        let net = crate::nat::network_hash(network);
        let keep: HashSet<u64> = valid
            .iter()
            .filter(|o| o.network == network)
            .map(NatOwner::hash)
            .collect();
        self.remove_where(
            |c| matches!(parse_chain(c), Some((n, o)) if n == net && !keep.contains(&o)),
        )
    }

    /// What is wrong with `owner`'s check, compared with what
    /// [`add`](Self::add) with these arguments adds: an empty list when it
    /// is all there (CNI's CHECK).
    pub fn mismatches(&self, owner: &NatOwner, port: &str, mac: MacAddr) -> Result<Vec<String>> {
        let chain = chain_of(owner);
        let mut out = Vec::new();
        let key = NftKeyValue::ifname(port).map(|k| crate::nft::key_bytes(&[k]));
        let mut found = false;
        for e in self.elements()? {
            let NftVerdict::Jump(c) = e.verdict.clone().unwrap_or(NftVerdict::Accept) else {
                continue;
            };
            let to_us = c == chain;
            let ours = key.as_deref() == Some(e.key.as_slice());
            match (ours, to_us) {
                (true, true) => found = true,
                (true, false) => {
                    found = true;
                    out.push(format!("port {port} leads to {c}, not {chain}"));
                }
                (false, true) => out.push(format!(
                    "port {} leads to {chain} and is not expected",
                    show_ifname(&e.key)
                )),
                (false, false) => {}
            }
        }
        if !found {
            out.push(format!("no element for port {port} in map {MAP_PORTS}"));
        }
        let want = rule_comment(mac);
        match self.nft.rules(FAMILY, MACSPOOF_TABLE, &chain) {
            Ok(rules) => {
                let have: Vec<Option<String>> = rules.into_iter().map(|r| r.comment).collect();
                if have != [Some(want.clone())] {
                    out.push(format!(
                        "chain {chain} has rules {have:?}, not one {want:?}"
                    ));
                }
            }
            Err(e) if e.is_not_found() => out.push(format!("no chain {chain}")),
            Err(e) => return Err(e),
        }
        Ok(out)
    }

    /// Every owner's entry: each chain this module made, its comment (the
    /// owner), the ports leading to it and its rule's comment.
    pub fn list(&self) -> Result<Vec<MacSpoofEntry>> {
        let chains = match self.nft.chains(FAMILY, MACSPOOF_TABLE) {
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            other => other?,
        };
        let mut out = Vec::new();
        for c in chains {
            if parse_chain(&c.name).is_none() {
                continue;
            }
            let rule = match self.nft.rules(FAMILY, MACSPOOF_TABLE, &c.name) {
                Ok(r) => r.into_iter().find_map(|r| r.comment),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            };
            out.push(MacSpoofEntry {
                chain: c.name,
                owner: c.comment.unwrap_or_default(),
                ports: Vec::new(),
                rule,
            });
        }
        for e in self.elements()? {
            if let Some(NftVerdict::Jump(c)) = &e.verdict {
                if let Some(entry) = out.iter_mut().find(|x| &x.chain == c) {
                    entry.ports.push(show_ifname(&e.key));
                }
            }
        }
        Ok(out)
    }

    /// The table, its map and its base chain with the lookup, in one
    /// transaction that fails (EEXIST) if the table exists.
    fn fixed_part(&self) -> NftTransaction<'_> {
        self.nft
            .transaction()
            .table_create(FAMILY, MACSPOOF_TABLE)
            .map_add(FAMILY, MACSPOOF_TABLE, MAP_PORTS, &[NftKeyField::Ifname])
            .chain_add(
                FAMILY,
                MACSPOOF_TABLE,
                BASE_CHAIN,
                Some(&NftBaseChain::new(
                    NftChainType::Filter,
                    NftHook::Prerouting,
                    MACSPOOF_PRIORITY,
                )),
            )
            .rule_add(
                FAMILY,
                MACSPOOF_TABLE,
                BASE_CHAIN,
                &NftRule::new().vmap(&[NftKeySource::Iifname], MAP_PORTS),
            )
    }

    /// The map's elements (none when the table is not there).
    fn elements(&self) -> Result<Vec<NftMapElement>> {
        self.nft.elements_if_any(FAMILY, MACSPOOF_TABLE, MAP_PORTS)
    }

    /// Delete the chains `ours` names and the elements leading to them
    /// (the whole table when no other owner's chain is in it), at the
    /// generation they were read at. Returns how many chains went.
    fn remove_where(&self, ours: impl Fn(&str) -> bool) -> Result<usize> {
        let removed = self.nft.at_one_generation(|| {
            let chains = match self.nft.chains(FAMILY, MACSPOOF_TABLE) {
                Err(e) if e.is_not_found() => return Ok(None),
                other => other?,
            };
            // A table that is there has its base chain.
            if chains.is_empty() {
                return Ok(None);
            }
            let mut doomed_chains = Vec::new();
            let mut others = 0usize;
            for c in chains {
                if parse_chain(&c.name).is_none() {
                    continue;
                }
                if ours(&c.name) {
                    doomed_chains.push(c.name);
                } else {
                    others += 1;
                }
            }
            if doomed_chains.is_empty() && others > 0 {
                return Ok(None);
            }
            // No owner's chain at all: the table is a leftover (of a
            // version that made it apart from its first owner's objects,
            // and was killed in between): it goes too.
            let mut t = self.nft.transaction();
            if others == 0 {
                t = t.table_del(FAMILY, MACSPOOF_TABLE);
            } else {
                for e in self.elements()? {
                    if matches!(&e.verdict, Some(NftVerdict::Jump(c)) if doomed_chains.contains(c))
                    {
                        t = t.element_del(FAMILY, MACSPOOF_TABLE, MAP_PORTS, &e);
                    }
                }
                for c in &doomed_chains {
                    t = t.chain_del(FAMILY, MACSPOOF_TABLE, c);
                }
            }
            Ok(Some((t, doomed_chains.len())))
        })?;
        Ok(removed.unwrap_or(0))
    }
}

/// An interface-name key as text.
fn show_ifname(key: &[u8]) -> String {
    let end = key.iter().position(|b| *b == 0).unwrap_or(key.len());
    String::from_utf8_lossy(&key[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_parse_back() {
        let o = NatOwner::new("net1", "c1", "eth0");
        let name = chain_of(&o);
        assert_eq!(
            parse_chain(&name),
            Some((crate::nat::network_hash("net1"), o.hash()))
        );
        assert_ne!(chain_of(&NatOwner::new("net1", "c1", "eth1")), name);
        assert_ne!(chain_of(&NatOwner::new("net1c", "1", "eth0")), name);
        assert_eq!(parse_chain(BASE_CHAIN), None);
        assert_eq!(parse_chain("masq-0000000000000000-0000000000000000"), None);
        assert!(NatOwner::new(&"é".repeat(100), "c\0", "e").comment().len() <= 127);
        assert_eq!(show_ifname(b"veth0\0\0\0"), "veth0");
        assert_eq!(
            rule_comment(MacAddr([2, 0x42, 10, 0, 0, 2])),
            "only 02:42:0a:00:00:02"
        );
    }
}
