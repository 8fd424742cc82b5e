//! `nsip nat ...`: netns-core's NAT layer ([`Nat`]) from the shell, in the
//! namespace `-n` names (or the current one). It writes table
//! `inet netns-nat` only, through the library, never by running `nft`.
//!
//! ```text
//! nsip nat list
//! nsip nat masquerade OWNER SRC[,SRC...] [except NET[,NET...]]
//! nsip nat forward OWNER PROTO HOSTPORT[@HOSTIP] TO:PORT [PROTO HOSTPORT[@HOSTIP] TO:PORT]...
//!                  [hairpin NET[,NET...]|all]
//! nsip nat del OWNER [masquerade|forward]
//! nsip nat flush
//! ```
//!
//! OWNER is `NETWORK/CONTAINER/IFNAME`, as a CNI plugin names an attachment.
//! `list` prints the table as `nft list table inet netns-nat` does (sets
//! and maps with their type line, `flags interval` where the set has it,
//! their elements with nft's `comment "..."` and `: DATA` or `: jump
//! CHAIN`, a range as nft prints one; base chains, each owner's chain
//! with its comment);
//! a rule is shown as its expressions' kernel names on an nft comment line
//! (`# meta cmp ... masq`), the library's rule listing giving no more, so
//! the listing stays one `nft -f` reads. With `-j` it is a JSON object:
//! `table`, `maps` (every set and map: `name`, `kind` set or map, `type`,
//! `map` (the data type, or `verdict`), `flags`, `elements` with `key`,
//! `data` or `verdict`, `comment`), `chains` and `owners` (what
//! [`Nat::list`] reports).

use std::net::{IpAddr, SocketAddr};

use netns_core::nat::NAT_TABLE;
use netns_core::{
    Hairpin, IpNet, Nat, NatKind, NatOwner, NatProto, Nft, NftChain, NftFamily, NftHook,
    NftVerdict, PortForward,
};
use serde_json::{json, Value};

use crate::args::{usage, Args, Res};
use crate::Ctx;

/// What a set of the table holds: nothing but keys, data, or verdicts.
#[derive(Clone, Copy, PartialEq)]
enum Holds {
    Keys,
    Data(&'static str),
    Verdicts,
}

/// A set or map of the table (netns-core's layout, see `netns_core::nat`),
/// in the order nft lists them (the kernel's, the order they are made in).
struct SetDef {
    name: &'static str,
    key_type: &'static str,
    holds: Holds,
    interval: bool,
}

const fn def(name: &'static str, key_type: &'static str, holds: Holds, interval: bool) -> SetDef {
    SetDef {
        name,
        key_type,
        holds,
        interval,
    }
}

const SETS: [SetDef; 10] = [
    def("owners", "ipv6_addr", Holds::Keys, false),
    def(
        "cond-ports",
        "inet_proto . inet_service",
        Holds::Verdicts,
        false,
    ),
    def(
        "ports4",
        "inet_proto . inet_service",
        Holds::Data("ipv4_addr . inet_service"),
        false,
    ),
    def(
        "ports6",
        "inet_proto . inet_service",
        Holds::Data("ipv6_addr . inet_service"),
        false,
    ),
    def(
        "hostip4-ports",
        "ipv4_addr . inet_proto . inet_service",
        Holds::Data("ipv4_addr . inet_service"),
        false,
    ),
    def(
        "hostip6-ports",
        "ipv6_addr . inet_proto . inet_service",
        Holds::Data("ipv6_addr . inet_service"),
        false,
    ),
    def("hairpin4", "ipv4_addr . ipv4_addr", Holds::Keys, true),
    def("hairpin6", "ipv6_addr . ipv6_addr", Holds::Keys, true),
    def("masq4", "ipv4_addr", Holds::Verdicts, false),
    def("masq6", "ipv6_addr", Holds::Verdicts, false),
];

const FAMILY: NftFamily = NftFamily::Inet;

pub fn run(ctx: &Ctx, a: &mut Args) -> Res<()> {
    match a.next().as_deref() {
        None | Some("list" | "show" | "ls") => {
            a.done()?;
            list(ctx, &nat(ctx)?)
        }
        Some("masquerade" | "masq") => {
            let owner = owner(&a.value("OWNER")?)?;
            let sources: Vec<IpAddr> = list_of(&a.value("SRC")?, "source address")?;
            let except: Vec<IpNet> = if a.eat("except") {
                list_of(&a.value("except")?, "subnet")?
            } else {
                Vec::new()
            };
            a.done()?;
            nat(ctx)?.masquerade(&owner, &sources, &except)?;
            Ok(())
        }
        Some("forward" | "fwd") => {
            let owner = owner(&a.value("OWNER")?)?;
            let mut forwards = Vec::new();
            let mut hairpin = Hairpin::Off;
            while let Some(w) = a.next() {
                if w == "hairpin" {
                    let v = a.value("hairpin")?;
                    hairpin = if v == "all" {
                        Hairpin::All
                    } else {
                        Hairpin::From(list_of(&v, "subnet")?)
                    };
                    a.done()?;
                    break;
                }
                let proto: NatProto = w
                    .parse()
                    .or_else(|e: String| usage(format!("invalid PROTO \"{w}\": {e}")))?;
                let (host_port, host_ip) = host_port(&a.value("HOSTPORT")?)?;
                let to = a.value("TO:PORT")?;
                let to: SocketAddr = to.parse().or_else(|_| {
                    usage(format!(
                        "invalid TO:PORT \"{to}\" (ADDR:PORT, [ADDR6]:PORT)"
                    ))
                })?;
                forwards.push(PortForward {
                    proto,
                    host_port,
                    host_ip,
                    to: to.ip(),
                    to_port: to.port(),
                });
            }
            if forwards.is_empty() {
                return usage("nat forward needs PROTO HOSTPORT[@HOSTIP] TO:PORT");
            }
            nat(ctx)?.port_forward(&owner, &forwards, &hairpin)?;
            Ok(())
        }
        Some("del" | "delete" | "d") => {
            let owner = owner(&a.value("OWNER")?)?;
            let kinds: &[NatKind] = match a.next().as_deref() {
                None => &[NatKind::Masquerade, NatKind::PortForward],
                Some("masquerade" | "masq") => &[NatKind::Masquerade],
                Some("forward" | "fwd") => &[NatKind::PortForward],
                Some(w) => return usage(format!("unknown NAT kind \"{w}\" (masquerade|forward)")),
            };
            a.done()?;
            let nat = nat(ctx)?;
            let mut any = false;
            for k in kinds {
                any |= nat.remove(&owner, *k)?;
            }
            if !any {
                return Err(format!("nat del {owner}: no such NAT entry").into());
            }
            Ok(())
        }
        Some("flush") => {
            a.done()?;
            let nat = nat(ctx)?;
            // The whole table netns owns, and nothing else: gone already
            // is success, like `ip route flush` with nothing to flush.
            if table(nat.nft())?.is_some() {
                nat.nft().table_del(FAMILY, NAT_TABLE)?;
            }
            Ok(())
        }
        Some(other) => usage(format!("unknown nat command \"{other}\"")),
    }
}

fn nat(ctx: &Ctx) -> Res<Nat> {
    Ok(match &ctx.netns {
        Some(n) => Nat::new_in(&ctx.named_or_path(n)?)?,
        None => Nat::new()?,
    })
}

/// `NETWORK/CONTAINER/IFNAME`: three parts, none empty (none of them can
/// hold a `/`: CNI's network names and container IDs do not, interface
/// names cannot).
fn owner(s: &str) -> Res<NatOwner> {
    let parts: Vec<&str> = s.split('/').collect();
    match parts[..] {
        [n, c, i] if !n.is_empty() && !c.is_empty() && !i.is_empty() => Ok(NatOwner::new(n, c, i)),
        _ => usage(format!("invalid OWNER \"{s}\" (NETWORK/CONTAINER/IFNAME)")),
    }
}

/// A comma-separated list of `what`s.
fn list_of<T>(s: &str, what: &str) -> Res<Vec<T>>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    s.split(',')
        .map(|w| {
            w.parse::<T>()
                .or_else(|e| usage(format!("invalid {what} \"{w}\": {e}")))
        })
        .collect()
}

/// `PORT` or `PORT@ADDR` (`PORT@[ADDR6]` too).
fn host_port(s: &str) -> Res<(u16, Option<IpAddr>)> {
    let (port, ip) = match s.split_once('@') {
        Some((p, ip)) => (p, Some(ip)),
        None => (s, None),
    };
    let port: u16 = port
        .parse()
        .or_else(|_| usage(format!("invalid HOSTPORT \"{s}\" (PORT[@HOSTIP])")))?;
    let ip = match ip {
        None => None,
        Some(ip) => {
            let bare = ip
                .strip_prefix('[')
                .and_then(|i| i.strip_suffix(']'))
                .unwrap_or(ip);
            Some(
                bare.parse::<IpAddr>()
                    .or_else(|e| usage(format!("invalid HOSTIP \"{ip}\": {e}")))?,
            )
        }
    };
    Ok((port, ip))
}

fn table(nft: &Nft) -> Res<Option<netns_core::NftTable>> {
    Ok(nft
        .tables()?
        .into_iter()
        .find(|t| t.family == FAMILY && t.name == NAT_TABLE))
}

/// An element as nft prints it: key (a range as nft prints one), data
/// or verdict, comment.
struct Elem {
    key: String,
    data: Option<String>,
    verdict: Option<String>,
    comment: Option<String>,
}

impl Elem {
    /// `KEY comment "..." : DATA`, as nft writes an element.
    fn line(&self) -> String {
        let mut s = self.key.clone();
        if let Some(c) = &self.comment {
            s.push_str(&format!(" comment {}", quoted(c)));
        }
        if let Some(v) = self.data.as_ref().or(self.verdict.as_ref()) {
            s.push_str(&format!(" : {v}"));
        }
        s
    }
}

/// A set's elements, in nft's order: an interval set's as the kernel
/// lists them; the others sorted by key, as nft sorts them (measured with
/// nft 1.0.6: a one-field key as the number its bytes spell, a
/// concatenation as the host-order (little-endian) number of its bytes).
fn elements(nft: &Nft, set: &SetDef) -> Res<Vec<Elem>> {
    let mut elems = match nft.map_elements(FAMILY, NAT_TABLE, set.name) {
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        other => other?,
    };
    if !set.interval {
        if set.key_type.contains(" . ") {
            elems.sort_by(|a, b| a.key.iter().rev().cmp(b.key.iter().rev()));
        } else {
            elems.sort_by(|a, b| a.key.cmp(&b.key));
        }
    }
    Ok(elems
        .iter()
        .map(|e| Elem {
            key: match &e.key_end {
                Some(end) => show_range(set.key_type, &e.key, end),
                None => show_key(set.key_type, &e.key),
            },
            data: match (set.holds, &e.value) {
                (Holds::Data(t), Some(v)) => Some(show_key(t, v)),
                _ => None,
            },
            verdict: match (&set.holds, &e.verdict) {
                (Holds::Verdicts, Some(v)) => Some(match v {
                    NftVerdict::Accept => "accept".to_string(),
                    NftVerdict::Drop => "drop".to_string(),
                    NftVerdict::Return => "return".to_string(),
                    NftVerdict::Jump(c) => format!("jump {c}"),
                    NftVerdict::Goto(c) => format!("goto {c}"),
                    _ => "?".to_string(),
                }),
                _ => None,
            },
            comment: e.comment.clone(),
        })
        .collect())
}

/// A field's length in a key (4-byte registers; addresses 4 or 16 bytes).
fn field_len(field: &str) -> usize {
    if field == "ipv6_addr" {
        16
    } else {
        4
    }
}

/// One field's bytes as nft prints a value of type `field`.
fn show_field(field: &str, b: &[u8]) -> String {
    match field {
        "ipv4_addr" => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
        "ipv6_addr" => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[..16]);
            std::net::Ipv6Addr::from(a).to_string()
        }
        "inet_proto" => match b[0] {
            6 => "tcp".to_string(),
            17 => "udp".to_string(),
            132 => "sctp".to_string(),
            p => p.to_string(),
        },
        _ => u16::from_be_bytes([b[0], b[1]]).to_string(),
    }
}

/// Key (or data) bytes as nft prints a value of `key_type`.
fn show_key(key_type: &str, key: &[u8]) -> String {
    let mut out = Vec::new();
    let mut at = 0usize;
    for field in key_type.split(" . ") {
        let len = field_len(field);
        let Some(b) = key.get(at..at + len) else {
            return format!("{key:02x?}");
        };
        at += len;
        out.push(show_field(field, b));
    }
    out.join(" . ")
}

/// The range `start`..=`end` of `key_type` as nft prints it: field by
/// field, a value where both ends are one, an address prefix where the
/// range is one (`10.0.0.0/24`), else `a-b`.
fn show_range(key_type: &str, start: &[u8], end: &[u8]) -> String {
    let mut out = Vec::new();
    let mut at = 0usize;
    for field in key_type.split(" . ") {
        let len = field_len(field);
        let (Some(a), Some(b)) = (start.get(at..at + len), end.get(at..at + len)) else {
            return format!("{start:02x?}-{end:02x?}");
        };
        at += len;
        out.push(if a == b {
            show_field(field, a)
        } else if let Some(bits) = prefix_len(field, a, b) {
            format!("{}/{bits}", show_field(field, a))
        } else {
            format!("{}-{}", show_field(field, a), show_field(field, b))
        });
    }
    out.join(" . ")
}

/// The prefix length of address range `a`..=`b`, when it is a prefix.
fn prefix_len(field: &str, a: &[u8], b: &[u8]) -> Option<u32> {
    let (a, b, width) = match field {
        "ipv4_addr" => (
            u128::from(u32::from_be_bytes(a.get(..4)?.try_into().ok()?)),
            u128::from(u32::from_be_bytes(b.get(..4)?.try_into().ok()?)),
            32,
        ),
        "ipv6_addr" => (
            u128::from_be_bytes(a.get(..16)?.try_into().ok()?),
            u128::from_be_bytes(b.get(..16)?.try_into().ok()?),
            128,
        ),
        _ => return None,
    };
    // The host part: the bits that differ, all ones in b, all zeros in a.
    let host = a ^ b;
    let host_bits = 128 - host.leading_zeros();
    let mask = if host_bits == 0 {
        0
    } else {
        u128::MAX >> (128 - host_bits)
    };
    (host == mask && a & mask == 0).then_some(width - host_bits)
}

/// `type nat hook prerouting priority dstnat; policy accept;`, as nft
/// writes a base chain's line (a priority by name where nft uses one).
fn base_line(c: &NftChain) -> Option<String> {
    let b = c.base?;
    let prio = match (b.hook, b.priority) {
        (NftHook::Prerouting, -100) => "dstnat".to_string(),
        (NftHook::Postrouting, 100) => "srcnat".to_string(),
        (_, p) => p.to_string(),
    };
    let policy = if b.drop { "drop" } else { "accept" };
    Some(format!(
        "type {} hook {} priority {prio}; policy {policy};",
        b.kind, b.hook
    ))
}

/// nft's quoting of a comment.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "'"))
}

fn list(ctx: &Ctx, nat: &Nat) -> Res<()> {
    let nft = nat.nft();
    let Some(t) = table(nft)? else {
        if ctx.json {
            println!(
                "{}",
                json!({"table": null, "maps": [], "chains": [], "owners": []})
            );
        }
        return Ok(());
    };
    let mut sets = Vec::new();
    for set in &SETS {
        sets.push((set, elements(nft, set)?));
    }
    let mut chains = Vec::new();
    for c in nft.chains(FAMILY, NAT_TABLE)? {
        let rules = nft.rules(FAMILY, NAT_TABLE, &c.name)?;
        chains.push((c, rules));
    }
    let owners = nat.list()?;
    if ctx.json {
        let v = json!({
            "table": {"family": t.family.name(), "name": t.name, "handle": t.handle},
            "maps": sets.iter().map(|(set, elems)| {
                let mut o = serde_json::Map::new();
                o.insert("name".into(), json!(set.name));
                o.insert("kind".into(), json!(if set.holds == Holds::Keys { "set" } else { "map" }));
                o.insert("type".into(), json!(set.key_type));
                match set.holds {
                    Holds::Keys => {}
                    Holds::Data(t) => { o.insert("map".into(), json!(t)); }
                    Holds::Verdicts => { o.insert("map".into(), json!("verdict")); }
                }
                if set.interval {
                    o.insert("flags".into(), json!(["interval"]));
                }
                o.insert("elements".into(), Value::Array(elems.iter().map(|e| {
                    let mut eo = serde_json::Map::new();
                    eo.insert("key".into(), json!(e.key));
                    if let Some(d) = &e.data {
                        eo.insert("data".into(), json!(d));
                    }
                    if let Some(v) = &e.verdict {
                        eo.insert("verdict".into(), json!(v));
                    }
                    if let Some(c) = &e.comment {
                        eo.insert("comment".into(), json!(c));
                    }
                    Value::Object(eo)
                }).collect()));
                Value::Object(o)
            }).collect::<Vec<_>>(),
            "chains": chains.iter().map(|(c, rules)| {
                let mut o = serde_json::Map::new();
                o.insert("name".into(), json!(c.name));
                o.insert("handle".into(), json!(c.handle));
                if let Some(b) = c.base {
                    o.insert("type".into(), json!(b.kind.to_string()));
                    o.insert("hook".into(), json!(b.hook.to_string()));
                    o.insert("prio".into(), json!(b.priority));
                    o.insert("policy".into(), json!(if b.drop { "drop" } else { "accept" }));
                }
                if let Some(cm) = &c.comment {
                    o.insert("comment".into(), json!(cm));
                }
                o.insert("rules".into(), Value::Array(rules.iter().map(|r| {
                    let mut ro = serde_json::Map::new();
                    ro.insert("handle".into(), json!(r.handle));
                    ro.insert("exprs".into(), json!(r.exprs));
                    if let Some(cm) = &r.comment {
                        ro.insert("comment".into(), json!(cm));
                    }
                    Value::Object(ro)
                }).collect()));
                Value::Object(o)
            }).collect::<Vec<_>>(),
            "owners": owners.iter().map(|e| json!({
                "owner": e.owner,
                "kind": if e.kind == NatKind::Masquerade { "masquerade" } else { "forward" },
                "chain": e.chain,
                "elements": e.keys,
            })).collect::<Vec<_>>(),
        });
        println!("{v}");
        return Ok(());
    }
    println!("table {} {} {{", t.family, t.name);
    let mut first = true;
    let gap = |first: &mut bool| {
        if !*first {
            println!();
        }
        *first = false;
    };
    for (set, elems) in &sets {
        gap(&mut first);
        match set.holds {
            Holds::Keys => {
                println!("\tset {} {{", set.name);
                println!("\t\ttype {}", set.key_type);
            }
            Holds::Data(t) => {
                println!("\tmap {} {{", set.name);
                println!("\t\ttype {} : {t}", set.key_type);
            }
            Holds::Verdicts => {
                println!("\tmap {} {{", set.name);
                println!("\t\ttype {} : verdict", set.key_type);
            }
        }
        if set.interval {
            println!("\t\tflags interval");
        }
        if !elems.is_empty() {
            let e: Vec<String> = elems.iter().map(Elem::line).collect();
            println!("\t\telements = {{ {} }}", e.join(", "));
        }
        println!("\t}}");
    }
    for (c, rules) in &chains {
        gap(&mut first);
        println!("\tchain {} {{", c.name);
        if let Some(cm) = &c.comment {
            println!("\t\tcomment {}", quoted(cm));
        }
        if let Some(line) = base_line(c) {
            println!("\t\t{line}");
        }
        for r in rules {
            let comment = r
                .comment
                .as_deref()
                .map(|c| format!(" comment {}", quoted(c)))
                .unwrap_or_default();
            println!("\t\t# {}{comment} # handle {}", r.exprs.join(" "), r.handle);
        }
        println!("\t}}");
    }
    println!("}}");
    Ok(())
}
