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
//! `list` prints the table as `nft list table inet netns-nat` does (maps
//! with their elements, base chains, each owner's chain with its comment);
//! a rule is shown as its expressions' kernel names on an nft comment line
//! (`# meta cmp ... masq`), the library's rule listing giving no more, so
//! the listing stays one `nft -f` reads. With `-j` it is a JSON object:
//! `table`, `maps`, `chains` and `owners` (what [`Nat::list`] reports).

use std::net::{IpAddr, SocketAddr};

use netns_core::nat::NAT_TABLE;
use netns_core::{
    Hairpin, IpNet, Nat, NatKind, NatOwner, NatProto, Nft, NftChain, NftFamily, NftHook,
    NftVerdict, PortForward,
};
use serde_json::{json, Value};

use crate::args::{usage, Args, Res};
use crate::Ctx;

/// The maps of the table (netns-core's layout, see `netns_core::nat`) and
/// their key types as nft names them.
const MAPS: [(&str, &str); 7] = [
    ("hostports", "inet_proto . inet_service"),
    ("hostip4-ports", "ipv4_addr . inet_proto . inet_service"),
    ("hostip6-ports", "ipv6_addr . inet_proto . inet_service"),
    ("masq4", "ipv4_addr"),
    ("masq6", "ipv6_addr"),
    ("hairpin4", "ipv4_addr"),
    ("hairpin6", "ipv6_addr"),
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

/// A map's elements: (key as nft prints it, verdict as nft prints it).
fn elements(nft: &Nft, map: &str, key_type: &str) -> Res<Vec<(String, String)>> {
    let elems = match nft.map_elements(FAMILY, NAT_TABLE, map) {
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        other => other?,
    };
    // In key order, as nft lists them.
    let mut elems = elems;
    elems.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(elems
        .iter()
        .map(|e| {
            let verdict = match &e.verdict {
                Some(NftVerdict::Accept) => "accept".to_string(),
                Some(NftVerdict::Drop) => "drop".to_string(),
                Some(NftVerdict::Return) => "return".to_string(),
                Some(NftVerdict::Jump(c)) => format!("jump {c}"),
                Some(NftVerdict::Goto(c)) => format!("goto {c}"),
                Some(_) | None => "?".to_string(),
            };
            (show_key(key_type, &e.key), verdict)
        })
        .collect())
}

/// Key bytes as nft prints a key of `key_type` (fields in 4-byte
/// registers; addresses 4 or 16 bytes).
fn show_key(key_type: &str, key: &[u8]) -> String {
    let mut out = Vec::new();
    let mut at = 0usize;
    for field in key_type.split(" . ") {
        let len = if field == "ipv6_addr" { 16 } else { 4 };
        let Some(b) = key.get(at..at + len) else {
            return format!("{key:02x?}");
        };
        at += len;
        out.push(match field {
            "ipv4_addr" => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
            "ipv6_addr" => {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                std::net::Ipv6Addr::from(a).to_string()
            }
            "inet_proto" => match b[0] {
                6 => "tcp".to_string(),
                17 => "udp".to_string(),
                132 => "sctp".to_string(),
                p => p.to_string(),
            },
            _ => u16::from_be_bytes([b[0], b[1]]).to_string(),
        });
    }
    out.join(" . ")
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
    let mut maps = Vec::new();
    for (name, key_type) in MAPS {
        maps.push((name, key_type, elements(nft, name, key_type)?));
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
            "maps": maps.iter().map(|(name, key_type, elems)| json!({
                "name": name,
                "type": key_type,
                "elements": elems.iter().map(|(k, v)| json!({"key": k, "verdict": v}))
                    .collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
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
    for (name, key_type, elems) in &maps {
        gap(&mut first);
        println!("\tmap {name} {{");
        println!("\t\ttype {key_type} : verdict");
        if !elems.is_empty() {
            let e: Vec<String> = elems.iter().map(|(k, v)| format!("{k} : {v}")).collect();
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
