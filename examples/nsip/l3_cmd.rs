//! `nsip addr|route|neigh ...`: the `ip addr`, `ip route` and `ip neigh`
//! commands.

use std::collections::HashMap;
use std::net::IpAddr;

use netns_core::{
    parse_prefix, AddrFilter, AddrFlags, AddrSpec, Address, Broadcast, Handle, IpFamily, IpNet,
    Lifetime, LinkFilter, LinkFlags, LinkId, NeighFilter, NeighFlags, NeighSpec, NeighState,
    Neighbour, NextHopSpec, Route, RouteFilter, RouteProtocol, RouteSpec, RouteType,
};
use serde_json::{json, Map, Value};

use crate::args::{usage, Args, Res};
use crate::Ctx;

fn names(h: &Handle) -> Res<HashMap<u32, String>> {
    Ok(h.links(&LinkFilter::new())?
        .into_iter()
        .map(|l| (l.index, l.name))
        .collect())
}

fn name_of(names: &HashMap<u32, String>, i: u32) -> String {
    names.get(&i).cloned().unwrap_or_else(|| format!("if{i}"))
}

fn family_word(f: IpFamily) -> &'static str {
    match f {
        IpFamily::V4 => "inet",
        IpFamily::V6 => "inet6",
    }
}

// ----------------------------------------------------------------- addr --

pub fn addr(ctx: &Ctx, a: &mut Args) -> Res<()> {
    match a.next().as_deref() {
        Some(cmd @ ("add" | "a" | "replace" | "change" | "del" | "delete" | "d")) => {
            let h = ctx.handle()?;
            let spec = addr_spec(a)?;
            match cmd {
                "add" | "a" => h.addr_add(&spec)?,
                "replace" | "change" => h.addr_replace(&spec)?,
                _ => h.addr_del(&spec)?,
            }
            Ok(())
        }
        None | Some("show" | "list" | "ls" | "lst") => addr_show(ctx, a),
        Some(other) => usage(format!("unknown addr command \"{other}\"")),
    }
}

fn lifetime(a: &mut Args, what: &str) -> Res<Lifetime> {
    let v = a.value(what)?;
    if v == "forever" {
        return Ok(Lifetime::Forever);
    }
    let s = v.strip_suffix("sec").unwrap_or(&v);
    match s.parse::<u32>() {
        Ok(n) => Ok(Lifetime::Seconds(n)),
        Err(_) => usage(format!("invalid {what} \"{v}\"")),
    }
}

fn addr_spec(a: &mut Args) -> Res<AddrSpec> {
    let mut prefix: Option<IpNet> = None;
    let mut dev = None;
    let mut peer = None;
    let mut brd = None;
    let mut label = None;
    let mut scope = None;
    let (mut nodad, mut noprefixroute) = (false, false);
    let (mut valid, mut preferred) = (None, None);
    while let Some(w) = a.next() {
        match w.as_str() {
            "dev" => dev = Some(a.value("dev")?),
            "peer" => peer = Some(parse_prefix(&a.value("peer")?)?.addr()),
            "brd" | "broadcast" => {
                let v = a.value("brd")?;
                brd = Some(if v == "+" {
                    Broadcast::Auto
                } else {
                    Broadcast::Addr(
                        v.parse()
                            .or_else(|_| usage(format!("invalid broadcast \"{v}\"")))?,
                    )
                });
            }
            "label" => label = Some(a.value("label")?),
            "scope" => scope = Some(a.parsed("scope")?),
            "nodad" => nodad = true,
            "noprefixroute" => noprefixroute = true,
            "valid_lft" => valid = Some(lifetime(a, "valid_lft")?),
            "preferred_lft" => preferred = Some(lifetime(a, "preferred_lft")?),
            "local" => prefix = Some(parse_prefix(&a.value("local")?)?),
            w if prefix.is_none() => prefix = Some(parse_prefix(w)?),
            w => return usage(format!("unexpected argument \"{w}\"")),
        }
    }
    let (Some(prefix), Some(dev)) = (prefix, dev) else {
        return usage("addr needs PREFIX and \"dev NAME\"");
    };
    let mut spec = AddrSpec::new(dev, prefix);
    spec.peer = peer;
    spec.broadcast = brd;
    spec.label = label;
    spec.scope = scope;
    spec.nodad = nodad;
    spec.noprefixroute = noprefixroute;
    spec.valid_lft = valid;
    spec.preferred_lft = preferred;
    Ok(spec)
}

fn addr_show(ctx: &Ctx, a: &mut Args) -> Res<()> {
    let h = ctx.handle()?;
    let mut filter = AddrFilter::new();
    if let Some(f) = ctx.family {
        filter = filter.family(f);
    }
    let mut only = None;
    if a.eat("dev") || a.peek().is_some() {
        let dev = a.value("dev")?;
        filter = filter.link(dev.as_str());
        only = Some(dev);
    }
    a.done()?;
    let addrs = h.addrs(&filter)?;
    let links = match &only {
        Some(d) => vec![h.link_get(d.as_str())?],
        None => h.links(&LinkFilter::new())?,
    };
    let mut out = Vec::new();
    for l in &links {
        let mine: Vec<&Address> = addrs.iter().filter(|x| x.link_index == l.index).collect();
        if ctx.brief && !ctx.json {
            // ip -br addr: name, state, then the addresses.
            let list: Vec<String> = mine.iter().map(|x| x.prefix.to_string()).collect();
            println!(
                "{:<16} {:<14} {}",
                l.name,
                l.operstate.to_string(),
                list.join(" ")
            );
        } else if ctx.json {
            let info: Vec<Value> = mine.iter().map(|x| addr_json(x)).collect();
            out.push(json!({
                "ifindex": l.index, "ifname": l.name, "flags": l.flags.names(), "mtu": l.mtu,
                "operstate": l.operstate.to_string(), "addr_info": info,
            }));
        } else {
            println!(
                "{}: {}: <{}> mtu {} state {}",
                l.index,
                l.name,
                l.flags.names().join(","),
                l.mtu,
                l.operstate
            );
            if let Some(m) = l.mac {
                println!(
                    "    link/{} {m}",
                    if l.flags.contains(LinkFlags::LOOPBACK) {
                        "loopback"
                    } else {
                        "ether"
                    }
                );
            }
            for x in mine {
                println!("    {}", addr_text(x));
            }
        }
    }
    if ctx.json {
        println!("{}", Value::Array(out));
    }
    Ok(())
}

fn addr_text(x: &Address) -> String {
    let mut s = format!("{} {}", family_word(x.family()), x.prefix);
    if let Some(p) = x.peer {
        s += &format!(" peer {p}");
    }
    if let Some(b) = x.broadcast {
        s += &format!(" brd {b}");
    }
    s += &format!(" scope {}", x.scope);
    for f in ip_addr_flags(x) {
        s += &format!(" {f}");
    }
    if let Some(l) = &x.label {
        s += &format!(" {l}");
    }
    s += &format!(
        "\n       valid_lft {} preferred_lft {}",
        x.valid_lft, x.preferred_lft
    );
    s
}

/// The flags as ip shows them: permanent is the norm and not shown; an
/// address without it is "dynamic".
fn ip_addr_flags(x: &Address) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = x
        .flags
        .names()
        .into_iter()
        .filter(|f| *f != "permanent")
        .collect();
    if !x.flags.contains(AddrFlags::PERMANENT) {
        v.insert(0, "dynamic");
    }
    v
}

fn life_json(l: Lifetime) -> Value {
    match l {
        Lifetime::Forever => json!(4294967295u32),
        Lifetime::Seconds(s) => json!(s),
    }
}

fn addr_json(x: &Address) -> Value {
    let mut m = Map::new();
    m.insert("family".into(), json!(family_word(x.family())));
    m.insert("local".into(), json!(x.addr().to_string()));
    if let Some(p) = x.peer {
        m.insert("address".into(), json!(p.to_string()));
    }
    m.insert("prefixlen".into(), json!(x.prefix.prefix_len()));
    if let Some(b) = x.broadcast {
        m.insert("broadcast".into(), json!(b.to_string()));
    }
    m.insert("scope".into(), json!(x.scope.to_string()));
    for f in ip_addr_flags(x) {
        m.insert(f.into(), json!(true));
    }
    if let Some(l) = &x.label {
        m.insert("label".into(), json!(l));
    }
    m.insert("valid_life_time".into(), life_json(x.valid_lft));
    m.insert("preferred_life_time".into(), life_json(x.preferred_lft));
    Value::Object(m)
}

// ---------------------------------------------------------------- route --

pub fn route(ctx: &Ctx, a: &mut Args) -> Res<()> {
    match a.next().as_deref() {
        Some(cmd @ ("add" | "a" | "replace" | "append" | "del" | "delete" | "d")) => {
            let h = ctx.handle()?;
            let spec = route_spec(a)?;
            match cmd {
                "add" | "a" => h.route_add(&spec)?,
                "replace" => h.route_replace(&spec)?,
                "append" => h.route_append(&spec)?,
                _ => h.route_del(&spec)?,
            }
            Ok(())
        }
        Some("get" | "g") => {
            let h = ctx.handle()?;
            a.eat("to");
            let dst: IpAddr = a.parsed("ADDRESS")?;
            a.done()?;
            let r = h.route_get(dst)?;
            print_routes(ctx, &h, &[r])
        }
        None | Some("show" | "list" | "ls" | "lst") => {
            let h = ctx.handle()?;
            let mut filter = RouteFilter::new().family(ctx.family.unwrap_or(IpFamily::V4));
            let mut table = Some(254u32);
            let mut exact: Option<IpNet> = None;
            while let Some(w) = a.next() {
                match w.as_str() {
                    "table" => {
                        let t = a.value("table")?;
                        table = match t.as_str() {
                            "all" => None,
                            "main" => Some(254),
                            "local" => Some(255),
                            n => Some(
                                n.parse()
                                    .or_else(|_| usage(format!("invalid table \"{n}\"")))?,
                            ),
                        };
                    }
                    "dev" => filter = filter.link(a.value("dev")?.as_str()),
                    "exact" | "to" => exact = Some(prefix_or_default(&a.value(&w)?, ctx.family)?),
                    other if exact.is_none() => exact = Some(prefix_or_default(other, ctx.family)?),
                    other => return usage(format!("unexpected argument \"{other}\"")),
                }
            }
            if let Some(t) = table {
                filter = filter.table(t);
            }
            let mut routes = h.routes(&filter)?;
            if let Some(p) = exact {
                routes.retain(|r| r.dst == p);
            }
            print_routes(ctx, &h, &routes)
        }
        Some(other) => usage(format!("unknown route command \"{other}\"")),
    }
}

fn prefix_or_default(w: &str, fam_hint: Option<IpFamily>) -> Res<IpNet> {
    if w == "default" || w == "all" {
        return Ok(fam_hint.unwrap_or(IpFamily::V4).default_prefix());
    }
    Ok(parse_prefix(w)?)
}

fn route_spec(a: &mut Args) -> Res<RouteSpec> {
    let mut words = Vec::new();
    while let Some(w) = a.next() {
        words.push(w);
    }
    // The family of "default" follows the gateway, as with ip.
    let via_family = words
        .windows(2)
        .find(|w| w[0] == "via")
        .and_then(|w| w[1].parse::<IpAddr>().ok())
        .map(|g| IpFamily::of(&g));
    let mut a = Args::new(words);
    let mut dst: Option<IpNet> = None;
    let mut kind = None;
    let mut spec_fields: Vec<(String, String)> = Vec::new();
    let mut nexthops = Vec::new();
    let mut onlink = false;
    while let Some(w) = a.next() {
        match w.as_str() {
            "via" | "dev" | "src" | "metric" | "priority" | "preference" | "table" | "scope"
            | "proto" | "protocol" => {
                spec_fields.push((w.clone(), a.value(&w)?));
            }
            "onlink" => onlink = true,
            "nexthop" => {
                let mut nh = NextHopSpec::default();
                loop {
                    match a.peek() {
                        Some("via") => {
                            a.next();
                            nh.gateway = Some(a.parsed("via")?);
                        }
                        Some("dev") => {
                            a.next();
                            nh.link = Some(LinkId::from(a.value("dev")?));
                        }
                        Some("weight") => {
                            a.next();
                            nh.weight = Some(a.parsed("weight")?);
                        }
                        Some("onlink") => {
                            a.next();
                            nh.onlink = true;
                        }
                        _ => break,
                    }
                }
                nexthops.push(nh);
            }
            "to" => dst = Some(prefix_or_default(&a.value("to")?, via_family)?),
            t @ ("unicast" | "local" | "blackhole" | "unreachable" | "prohibit" | "throw"
            | "broadcast") => {
                kind = Some(t.parse::<RouteType>()?);
            }
            other if dst.is_none() => dst = Some(prefix_or_default(other, via_family)?),
            other => return usage(format!("unexpected argument \"{other}\"")),
        }
    }
    let Some(dst) = dst else {
        return usage("route needs a destination");
    };
    let mut spec = RouteSpec::new(dst);
    spec.kind = kind;
    spec.onlink = onlink;
    spec.nexthops = nexthops;
    for (k, v) in spec_fields {
        match k.as_str() {
            "via" => {
                spec.gateway = Some(
                    v.parse()
                        .or_else(|_| usage(format!("invalid gateway \"{v}\"")))?,
                )
            }
            "dev" => spec.link = Some(LinkId::from(v)),
            "src" => {
                spec.prefsrc = Some(
                    v.parse()
                        .or_else(|_| usage(format!("invalid src \"{v}\"")))?,
                )
            }
            "metric" | "priority" | "preference" => {
                spec.metric = Some(
                    v.parse()
                        .or_else(|_| usage(format!("invalid metric \"{v}\"")))?,
                )
            }
            "table" => {
                spec.table = Some(match v.as_str() {
                    "main" => 254,
                    "local" => 255,
                    n => n
                        .parse()
                        .or_else(|_| usage(format!("invalid table \"{n}\"")))?,
                })
            }
            "scope" => spec.scope = Some(v.parse()?),
            _ => spec.protocol = Some(v.parse()?),
        }
    }
    Ok(spec)
}

/// `default`, a host route without its /32 (/128), else the prefix: as ip.
fn dst_text(d: &IpNet) -> String {
    if d.prefix_len() == 0 {
        "default".to_owned()
    } else if d.prefix_len() == d.max_prefix_len() {
        d.addr().to_string()
    } else {
        d.to_string()
    }
}

/// ip does not show `proto boot` (its default) nor `proto unspec`.
fn hidden_proto(r: &Route) -> bool {
    r.protocol == RouteProtocol::BOOT || r.protocol == RouteProtocol::UNSPEC
}

fn route_text(r: &Route, names: &HashMap<u32, String>) -> String {
    let mut s = String::new();
    if r.kind != RouteType::UNICAST {
        s += &format!("{} ", r.kind);
    }
    s += &dst_text(&r.dst);
    if let Some(g) = r.gateway {
        s += &format!(" via {g}");
    }
    if let Some(o) = r.link_index {
        s += &format!(" dev {}", name_of(names, o));
    }
    if r.table != 254 {
        s += &format!(" table {}", r.table);
    }
    if !hidden_proto(r) {
        s += &format!(" proto {}", r.protocol);
    }
    if r.scope.0 != 0 {
        s += &format!(" scope {}", r.scope);
    }
    if let Some(p) = r.prefsrc {
        s += &format!(" src {p}");
    }
    if let Some(m) = r.metric {
        s += &format!(" metric {m}");
    }
    for f in r.flags.names() {
        s += &format!(" {f}");
    }
    for nh in &r.nexthops {
        s += "\n\tnexthop";
        if let Some(g) = nh.gateway {
            s += &format!(" via {g}");
        }
        if let Some(o) = nh.link_index {
            s += &format!(" dev {}", name_of(names, o));
        }
        s += &format!(" weight {}", nh.weight);
    }
    s
}

fn route_json(r: &Route, names: &HashMap<u32, String>) -> Value {
    let mut m = Map::new();
    if r.kind != RouteType::UNICAST {
        m.insert("type".into(), json!(r.kind.to_string()));
    }
    m.insert("dst".into(), json!(dst_text(&r.dst)));
    if let Some(g) = r.gateway {
        m.insert("gateway".into(), json!(g.to_string()));
    }
    if let Some(o) = r.link_index {
        m.insert("dev".into(), json!(name_of(names, o)));
    }
    if r.table != 254 {
        m.insert("table".into(), json!(r.table.to_string()));
    }
    if !hidden_proto(r) {
        m.insert("protocol".into(), json!(r.protocol.to_string()));
    }
    if r.scope.0 != 0 {
        m.insert("scope".into(), json!(r.scope.to_string()));
    }
    if let Some(p) = r.prefsrc {
        m.insert("prefsrc".into(), json!(p.to_string()));
    }
    if let Some(x) = r.metric {
        m.insert("metric".into(), json!(x));
    }
    m.insert("flags".into(), json!(r.flags.names()));
    if !r.nexthops.is_empty() {
        let nh: Vec<Value> = r
            .nexthops
            .iter()
            .map(|n| {
                let mut o = Map::new();
                if let Some(g) = n.gateway {
                    o.insert("gateway".into(), json!(g.to_string()));
                }
                if let Some(i) = n.link_index {
                    o.insert("dev".into(), json!(name_of(names, i)));
                }
                o.insert("weight".into(), json!(n.weight));
                o.insert("flags".into(), json!(n.flags.names()));
                Value::Object(o)
            })
            .collect();
        m.insert("nexthops".into(), json!(nh));
    }
    Value::Object(m)
}

fn print_routes(ctx: &Ctx, h: &Handle, routes: &[Route]) -> Res<()> {
    let names = names(h)?;
    if ctx.json {
        println!(
            "{}",
            Value::Array(routes.iter().map(|r| route_json(r, &names)).collect())
        );
    } else {
        for r in routes {
            println!("{}", route_text(r, &names));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- neigh --

pub fn neigh(ctx: &Ctx, a: &mut Args) -> Res<()> {
    match a.next().as_deref() {
        Some(cmd @ ("add" | "a" | "replace" | "change" | "del" | "delete" | "d")) => {
            let h = ctx.handle()?;
            let mut dst = None;
            let mut dev = None;
            let mut lladdr = None;
            let mut state = None;
            let (mut router, mut proxy) = (false, false);
            while let Some(w) = a.next() {
                match w.as_str() {
                    "dev" => dev = Some(a.value("dev")?),
                    "lladdr" => lladdr = Some(a.parsed("lladdr")?),
                    "nud" => state = Some(a.parsed::<NeighState>("nud")?),
                    "router" => router = true,
                    "proxy" => proxy = true,
                    "to" => dst = Some(a.parsed::<IpAddr>("to")?),
                    w if dst.is_none() => {
                        dst = Some(
                            w.parse::<IpAddr>()
                                .or_else(|_| usage(format!("invalid address \"{w}\"")))?,
                        )
                    }
                    w => return usage(format!("unexpected argument \"{w}\"")),
                }
            }
            let (Some(dst), Some(dev)) = (dst, dev) else {
                return usage("neigh needs ADDR and \"dev NAME\"");
            };
            let mut spec = NeighSpec::new(dev, dst);
            spec.lladdr = lladdr;
            spec.state = state;
            spec.router = router;
            spec.proxy = proxy;
            match cmd {
                "add" | "a" => h.neigh_add(&spec)?,
                "replace" | "change" => h.neigh_replace(&spec)?,
                _ => h.neigh_del(&spec)?,
            }
            Ok(())
        }
        None | Some("show" | "list" | "ls" | "lst") => {
            let h = ctx.handle()?;
            let mut filter = NeighFilter::new();
            if let Some(f) = ctx.family {
                filter = filter.family(f);
            }
            while let Some(w) = a.next() {
                match w.as_str() {
                    "dev" => filter = filter.link(a.value("dev")?.as_str()),
                    "proxy" => filter = filter.proxy(),
                    other => return usage(format!("unexpected argument \"{other}\"")),
                }
            }
            let names = names(&h)?;
            let mut entries = h.neighbours(&filter)?;
            // Like ip, entries in state NOARP (multicast, broadcast) are not shown.
            entries.retain(|n| !n.state.contains(NeighState::NOARP));
            if ctx.json {
                println!(
                    "{}",
                    Value::Array(entries.iter().map(|n| neigh_json(n, &names)).collect())
                );
            } else {
                for n in &entries {
                    let mut s = format!("{} dev {}", n.dst, name_of(&names, n.link_index));
                    if let Some(m) = n.mac() {
                        s += &format!(" lladdr {m}");
                    }
                    if n.flags.contains(NeighFlags::ROUTER) {
                        s += " router";
                    }
                    s += &format!(" {}", n.state);
                    println!("{s}");
                }
            }
            Ok(())
        }
        Some(other) => usage(format!("unknown neigh command \"{other}\"")),
    }
}

fn neigh_json(n: &Neighbour, names: &HashMap<u32, String>) -> Value {
    let mut m = Map::new();
    m.insert("dst".into(), json!(n.dst.to_string()));
    m.insert("dev".into(), json!(name_of(names, n.link_index)));
    if let Some(mac) = n.mac() {
        m.insert("lladdr".into(), json!(mac.to_string()));
    }
    if n.flags.contains(NeighFlags::ROUTER) {
        m.insert("router".into(), json!(null));
    }
    m.insert("state".into(), json!(n.state.names()));
    Value::Object(m)
}
