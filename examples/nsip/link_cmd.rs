//! `nsip link ...`: the `ip link` commands.

use std::collections::HashMap;

use netns_core::{
    BondMode, BondSpec, BridgeData, BridgeSpec, ControllerChange, IpVlanData, IpVlanIsolation,
    IpVlanMode, IpVlanSpec, LinkChanges, LinkData, LinkFilter, LinkFlags, LinkId, LinkInfo,
    LinkKind, LinkSpec, MacAddr, MacVlanData, MacVlanMode, MacVlanSpec, MacVtapSpec, NetNs,
    VethSpec, VlanData, VlanProtocol, VlanSpec, VrfSpec, VxlanData, VxlanSpec,
};
use serde_json::{json, Map, Value};

use crate::args::{usage, Args, Res};
use crate::Ctx;

pub fn run(ctx: &Ctx, a: &mut Args) -> Res<()> {
    match a.next().as_deref() {
        Some("add" | "a") => add(ctx, a),
        Some("set" | "s") => set(ctx, a),
        Some("del" | "delete" | "d") => del(ctx, a),
        None | Some("show" | "list" | "ls" | "lst") => show(ctx, a),
        Some(other) => usage(format!("unknown link command \"{other}\"")),
    }
}

/// Namespaces named on the command line, kept open while the request is
/// built (the spec borrows them).
#[derive(Default)]
struct OpenNs(Vec<NetNs>);

fn add(ctx: &Ctx, a: &mut Args) -> Res<()> {
    let h = ctx.handle()?;
    let mut name: Option<String> = None;
    let mut parent: Option<String> = None;
    let mut mtu = None;
    let mut mac = None;
    let mut txq = None;
    let mut up = false;
    let mut controller = None;
    let mut group = None;
    let mut netns: Option<String> = None;
    let kind_name = loop {
        match a.next().as_deref() {
            Some("link") => parent = Some(a.value("link")?),
            Some("name") => name = Some(a.value("name")?),
            Some("mtu") => mtu = Some(a.parsed::<u32>("mtu")?),
            Some("address") => mac = Some(a.parsed::<MacAddr>("address")?),
            Some("txqueuelen" | "txqlen" | "qlen") => txq = Some(a.parsed::<u32>("txqueuelen")?),
            Some("up") => up = true,
            Some("master") => controller = Some(a.value("master")?),
            Some("group") => group = Some(a.parsed::<u32>("group")?),
            Some("netns") => netns = Some(a.value("netns")?),
            Some("type") => break a.value("type")?,
            Some("dev") => name = Some(a.value("dev")?),
            Some(w) if name.is_none() => name = Some(w.to_owned()),
            Some(w) => return usage(format!("unexpected argument \"{w}\" (missing \"type\"?)")),
            None => return usage("link add needs \"type KIND\""),
        }
    };
    let Some(name) = name else {
        return usage("link add needs a name");
    };
    let mut opened = OpenNs::default();
    let mut peer_netns_at = None;
    let kind = match kind_name.as_str() {
        "veth" => {
            let mut peer = None;
            let mut peer_mac = None;
            if a.eat("peer") {
                loop {
                    match a.peek() {
                        Some("name") => {
                            a.next();
                            peer = Some(a.value("peer name")?);
                        }
                        Some("netns") => {
                            a.next();
                            let ns = ctx.netns_arg(&a.value("peer netns")?)?;
                            opened.0.push(ns);
                            peer_netns_at = Some(opened.0.len() - 1);
                        }
                        Some("address") => {
                            a.next();
                            peer_mac = Some(a.parsed::<MacAddr>("peer address")?);
                        }
                        Some(w) if peer.is_none() => {
                            peer = Some(w.to_owned());
                            a.next();
                        }
                        _ => break,
                    }
                }
            }
            let Some(peer) = peer else {
                return usage("a veth needs \"peer name PEER\"");
            };
            KindArgs::Veth { peer, peer_mac }
        }
        "bridge" => {
            let mut b = BridgeSpec::default();
            if a.eat("vlan_filtering") {
                b.vlan_filtering = Some(a.parsed::<u8>("vlan_filtering")? != 0);
            }
            KindArgs::Ready(LinkKind::Bridge(b))
        }
        "dummy" => KindArgs::Ready(LinkKind::Dummy),
        "bond" => {
            let mut b = BondSpec {
                mode: BondMode::BalanceRr, // the kernel's default, as for ip
                miimon: None,
            };
            loop {
                if a.eat("mode") {
                    b.mode = a.parsed("mode")?;
                } else if a.eat("miimon") {
                    b.miimon = Some(a.parsed("miimon")?);
                } else {
                    break;
                }
            }
            KindArgs::Ready(LinkKind::Bond(b))
        }
        "vrf" => {
            if !a.eat("table") {
                return usage("a vrf needs \"table ID\"");
            }
            KindArgs::Ready(LinkKind::Vrf(VrfSpec {
                table: a.parsed("table")?,
            }))
        }
        "macvlan" | "macvtap" => {
            let mut mode = MacVlanMode::Vepa; // the kernel's default, as for ip
            if a.eat("mode") {
                mode = a.parsed("mode")?;
            }
            KindArgs::Ready(if kind_name == "macvlan" {
                LinkKind::MacVlan(MacVlanSpec {
                    mode,
                    source_macs: Vec::new(),
                })
            } else {
                LinkKind::MacVtap(MacVtapSpec { mode })
            })
        }
        "vlan" => {
            let mut id = None;
            let mut protocol = VlanProtocol::Dot1Q;
            loop {
                if a.eat("id") {
                    id = Some(a.parsed::<u16>("id")?);
                } else if a.eat("protocol") {
                    protocol = a.parsed("protocol")?;
                } else {
                    break;
                }
            }
            let Some(id) = id else {
                return usage("a vlan needs \"id N\"");
            };
            KindArgs::Ready(LinkKind::Vlan(VlanSpec { id, protocol }))
        }
        "ipvlan" => {
            let mut mode = IpVlanMode::L3; // the kernel's default
            let mut isolation = IpVlanIsolation::Bridge;
            if a.eat("mode") {
                mode = a.parsed("mode")?;
            }
            if let Some(w) = a.peek() {
                if let Ok(i) = w.parse::<IpVlanIsolation>() {
                    isolation = i;
                    a.next();
                }
            }
            KindArgs::Ready(LinkKind::IpVlan(IpVlanSpec { mode, isolation }))
        }
        "vxlan" => {
            let mut v = VxlanSpec::default();
            let mut vni = None;
            loop {
                match a.peek() {
                    Some("id" | "vni") => {
                        a.next();
                        vni = Some(a.parsed::<u32>("id")?);
                    }
                    Some("remote" | "group") => {
                        a.next();
                        v.remote = Some(a.parsed("remote")?);
                    }
                    Some("local") => {
                        a.next();
                        v.local = Some(a.parsed("local")?);
                    }
                    Some("dstport") => {
                        a.next();
                        v.dstport = Some(a.parsed("dstport")?);
                    }
                    Some("dev") => {
                        a.next();
                        parent = Some(a.value("dev")?);
                    }
                    Some("learning") => {
                        a.next();
                        v.learning = Some(true);
                    }
                    Some("nolearning") => {
                        a.next();
                        v.learning = Some(false);
                    }
                    Some("ttl") => {
                        a.next();
                        v.ttl = Some(a.parsed("ttl")?);
                    }
                    _ => break,
                }
            }
            let Some(vni) = vni else {
                return usage("a vxlan needs \"id VNI\"");
            };
            v.vni = vni;
            KindArgs::Ready(LinkKind::Vxlan(v))
        }
        other => return usage(format!("unsupported link type \"{other}\"")),
    };
    a.done()?;
    let target_at = match &netns {
        Some(n) => {
            opened.0.push(ctx.netns_arg(n)?);
            Some(opened.0.len() - 1)
        }
        None => None,
    };
    let kind = match kind {
        KindArgs::Ready(k) => k,
        KindArgs::Veth { peer, peer_mac } => LinkKind::Veth(VethSpec {
            peer,
            peer_netns: peer_netns_at.map(|i| &opened.0[i]),
            peer_mac,
            peer_up: false,
        }),
    };
    let mut spec = LinkSpec::new(name, kind);
    spec.parent = parent.map(LinkId::from);
    spec.mtu = mtu;
    spec.mac = mac;
    spec.txqueuelen = txq;
    spec.up = up;
    spec.controller = controller.map(LinkId::from);
    spec.group = group;
    spec.netns = target_at.map(|i| &opened.0[i]);
    h.link_add(&spec)?;
    Ok(())
}

enum KindArgs {
    Ready(LinkKind<'static>),
    Veth {
        peer: String,
        peer_mac: Option<MacAddr>,
    },
}

fn dev_name(a: &mut Args, what: &str) -> Res<String> {
    a.eat("dev");
    a.value(what)
}

fn set(ctx: &Ctx, a: &mut Args) -> Res<()> {
    let h = ctx.handle()?;
    let dev = dev_name(a, "link set")?;
    let mut ch = LinkChanges::default();
    let mut netns = None;
    while let Some(w) = a.next() {
        match w.as_str() {
            "up" => ch.up = Some(true),
            "down" => ch.up = Some(false),
            "mtu" => ch.mtu = Some(a.parsed("mtu")?),
            "address" => ch.mac = Some(a.parsed("address")?),
            "name" => ch.name = Some(a.value("name")?),
            "alias" => ch.alias = Some(a.value("alias")?),
            "master" => ch.controller = Some(ControllerChange::Attach(a.value("master")?.into())),
            "nomaster" => ch.controller = Some(ControllerChange::Detach),
            "netns" => netns = Some(ctx.netns_arg(&a.value("netns")?)?),
            "txqueuelen" | "txqlen" | "qlen" => ch.txqueuelen = Some(a.parsed("txqueuelen")?),
            "group" => ch.group = Some(a.parsed("group")?),
            other => return usage(format!("unknown link set argument \"{other}\"")),
        }
    }
    ch.netns = netns.as_ref();
    h.link_set(dev, &ch)?;
    Ok(())
}

fn del(ctx: &Ctx, a: &mut Args) -> Res<()> {
    let h = ctx.handle()?;
    if a.eat("group") {
        let g: u32 = a.parsed("group")?;
        a.done()?;
        h.link_del_group(g)?;
        return Ok(());
    }
    let dev = dev_name(a, "link del")?;
    a.done()?;
    h.link_del(dev)?;
    Ok(())
}

fn show(ctx: &Ctx, a: &mut Args) -> Res<()> {
    let h = ctx.handle()?;
    let mut filter = LinkFilter::new();
    let mut dev = None;
    while let Some(w) = a.next() {
        match w.as_str() {
            "type" => filter = filter.kind(a.value("type")?),
            "master" => filter = filter.controller(a.value("master")?),
            "dev" => dev = Some(a.value("dev")?),
            other if dev.is_none() => dev = Some(other.to_owned()),
            other => return usage(format!("unexpected argument \"{other}\"")),
        }
    }
    let all = h.links(&LinkFilter::new())?;
    let names: HashMap<u32, String> = all.iter().map(|l| (l.index, l.name.clone())).collect();
    let links = match dev {
        Some(d) => vec![h.link_get(d)?],
        None if filter == LinkFilter::new() => all,
        None => h.links(&filter)?,
    };
    print_links(ctx, &links, &names);
    Ok(())
}

/// Print links as `ip [-j] [-d] [-br] link show` does.
pub fn print_links(ctx: &Ctx, links: &[LinkInfo], names: &HashMap<u32, String>) {
    if ctx.json {
        let v: Vec<Value> = links
            .iter()
            .map(|l| to_json(l, names, ctx.details))
            .collect();
        println!("{}", Value::Array(v));
    } else {
        for l in links {
            if ctx.brief {
                println!("{}", brief(l, names));
            } else {
                print!("{}", to_text(l, names, ctx.details));
            }
        }
    }
}

/// `ip -br link` style: name (with its parent's name), state, MAC, flags.
pub fn brief(l: &LinkInfo, names: &HashMap<u32, String>) -> String {
    format!(
        "{:<16} {:<14} {} <{}>",
        display_name(l, names),
        l.operstate.to_string(),
        l.mac.map(|m| m.to_string()).unwrap_or_default(),
        l.flags.names().join(",")
    )
}

fn display_name(l: &LinkInfo, names: &HashMap<u32, String>) -> String {
    match (l.parent, l.link_netnsid) {
        (Some(p), None) => match names.get(&p) {
            Some(n) => format!("{}@{n}", l.name),
            None => format!("{}@if{p}", l.name),
        },
        (Some(p), Some(_)) => format!("{}@if{p}", l.name),
        (None, _) => l.name.clone(),
    }
}

/// `ip link show` style text.
fn to_text(l: &LinkInfo, names: &HashMap<u32, String>, details: bool) -> String {
    let mut s = format!(
        "{}: {}: <{}> mtu {}",
        l.index,
        display_name(l, names),
        l.flags.names().join(","),
        l.mtu
    );
    if let Some(c) = l.controller {
        s += &format!(
            " master {}",
            names.get(&c).cloned().unwrap_or_else(|| c.to_string())
        );
    }
    s += &format!(" state {}", l.operstate);
    if let Some(q) = l.txqueuelen {
        s += &format!(" qlen {q}");
    }
    s.push('\n');
    let kind = if l.flags.contains(LinkFlags::LOOPBACK) {
        "loopback"
    } else {
        "ether"
    };
    if let Some(m) = l.mac {
        s += &format!("    link/{kind} {m}");
        if let Some(n) = l.link_netnsid {
            s += &format!(" link-netnsid {n}");
        }
        s.push('\n');
    }
    if let Some(a) = &l.alias {
        s += &format!("    alias {a}\n");
    }
    if details {
        if let Some(k) = &l.kind {
            s += &format!("    {k}{}\n", data_text(&l.data));
        }
    }
    s
}

fn data_text(d: &LinkData) -> String {
    match d {
        LinkData::Vlan(VlanData { id, protocol }) => format!(" protocol {protocol} id {id}"),
        LinkData::MacVlan(MacVlanData { mode: Some(m) })
        | LinkData::MacVtap(MacVlanData { mode: Some(m) }) => {
            format!(" mode {m}")
        }
        LinkData::IpVlan(IpVlanData { mode, isolation }) => {
            format!(
                " mode {} {isolation}",
                mode.map(|m| m.to_string()).unwrap_or_default()
            )
        }
        LinkData::Vxlan(VxlanData {
            vni,
            remote,
            local,
            dstport,
            ..
        }) => {
            let mut s = format!(" id {vni}");
            if let Some(r) = remote {
                s += &format!(" {} {r}", if r.is_multicast() { "group" } else { "remote" });
            }
            if let Some(l) = local {
                s += &format!(" local {l}");
            }
            if let Some(p) = dstport {
                s += &format!(" dstport {p}");
            }
            s
        }
        LinkData::Bridge(BridgeData {
            vlan_filtering: Some(v),
        }) => format!(" vlan_filtering {}", u8::from(*v)),
        _ => String::new(),
    }
}

/// `ip -j link show` style JSON (the keys ip uses).
pub fn to_json(l: &LinkInfo, names: &HashMap<u32, String>, details: bool) -> Value {
    let mut m = Map::new();
    m.insert("ifindex".into(), json!(l.index));
    if let Some(p) = l.parent {
        match (l.link_netnsid, names.get(&p)) {
            (None, Some(n)) => m.insert("link".into(), json!(n)),
            _ => m.insert("link_index".into(), json!(p)),
        };
    }
    m.insert("ifname".into(), json!(l.name));
    m.insert("flags".into(), json!(l.flags.names()));
    m.insert("mtu".into(), json!(l.mtu));
    if let Some(c) = l.controller {
        m.insert(
            "master".into(),
            json!(names.get(&c).cloned().unwrap_or_else(|| c.to_string())),
        );
    }
    m.insert("operstate".into(), json!(l.operstate.to_string()));
    if let Some(q) = l.txqueuelen {
        m.insert("txqlen".into(), json!(q));
    }
    if let Some(mac) = l.mac {
        m.insert(
            "link_type".into(),
            json!(if l.flags.contains(LinkFlags::LOOPBACK) {
                "loopback"
            } else {
                "ether"
            }),
        );
        m.insert("address".into(), json!(mac.to_string()));
    }
    if let Some(n) = l.link_netnsid {
        m.insert("link_netnsid".into(), json!(n));
    }
    if let Some(a) = &l.alias {
        m.insert("ifalias".into(), json!(a));
    }
    if details {
        if let Some(k) = &l.kind {
            let mut li = Map::new();
            li.insert("info_kind".into(), json!(k));
            let data = data_json(&l.data, names);
            if !data.is_empty() {
                li.insert("info_data".into(), Value::Object(data));
            }
            m.insert("linkinfo".into(), Value::Object(li));
        }
    }
    Value::Object(m)
}

fn data_json(d: &LinkData, names: &HashMap<u32, String>) -> Map<String, Value> {
    let mut m = Map::new();
    match d {
        LinkData::Vlan(VlanData { id, protocol }) => {
            m.insert("protocol".into(), json!(protocol.to_string()));
            m.insert("id".into(), json!(id));
        }
        LinkData::MacVlan(MacVlanData { mode: Some(mo) })
        | LinkData::MacVtap(MacVlanData { mode: Some(mo) }) => {
            m.insert("mode".into(), json!(mo.to_string()));
        }
        LinkData::IpVlan(IpVlanData { mode, isolation }) => {
            if let Some(mo) = mode {
                m.insert("mode".into(), json!(mo.to_string()));
            }
            m.insert("flags".into(), json!(isolation.to_string()));
        }
        LinkData::Vxlan(VxlanData {
            vni,
            remote,
            local,
            dstport,
            learning,
            underlying,
        }) => {
            m.insert("id".into(), json!(vni));
            if let Some(r) = remote {
                let key = match (r.is_multicast(), r.is_ipv4()) {
                    (true, true) => "group",
                    (true, false) => "group6",
                    (false, true) => "remote",
                    (false, false) => "remote6",
                };
                m.insert(key.into(), json!(r.to_string()));
            }
            if let Some(l) = local {
                m.insert(
                    if l.is_ipv4() { "local" } else { "local6" }.into(),
                    json!(l.to_string()),
                );
            }
            if let Some(u) = underlying {
                m.insert(
                    "link".into(),
                    json!(names.get(u).cloned().unwrap_or_else(|| u.to_string())),
                );
            }
            if let Some(p) = dstport {
                m.insert("port".into(), json!(p));
            }
            if let Some(l) = learning {
                m.insert("learning".into(), json!(l));
            }
        }
        LinkData::Bridge(BridgeData {
            vlan_filtering: Some(v),
        }) => {
            m.insert("vlan_filtering".into(), json!(u8::from(*v)));
        }
        _ => {}
    }
    m
}
