//! `make-net`: an extra named network namespace per pod (the pattern of
//! "X network namespaces for a pod": a BGP router in a pod runs inside a
//! namespace of its own, entered with `ip netns exec`), a CNI plugin that
//! takes the published make-net's config unchanged
//! (`{"type": "make-net", "netid": "1234567"}`) and does it properly.
//!
//! Keys: `netid` (required: the namespace's name; `{K8S_POD_NAMESPACE}`,
//! `{K8S_POD_NAME}`, `{K8S_POD_UID}` are filled in from CNI_ARGS, so one
//! definition serves many pods), `nsDir` (default /run/netns), `dataDir`
//! (the owner records, default /var/lib/cni/make-net), `peer` (`host`, the
//! default: the other veth end stays in the plugin's namespace, as in the
//! original; `pod`: it goes into CNI_NETNS as CNI_IFNAME), `ifName` (the
//! interface in the named namespace, default `veth0`), `peerName` (the
//! host-side name, default `v<netid>` when that is an interface name
//! (within 15 bytes, no ':' or '%'), else `mn` and a hash of netid), `mtu`,
//! `addresses` (static CIDRs), `ipam` (any IPAM plugin; host-local in
//! process).
//!
//! ADD checks everything before it touches anything; makes the namespace
//! as `ip netns add` does (netns-core's `NetnsDir::create`: a shared mount
//! directory, flock, bind mount), so `ip netns exec NETID` works from the
//! host and through a hostPath bind mount in the pod; inside it: `lo` up,
//! the veth end up, the addresses (static, then IPAM's), the routes
//! (IPAM's; with addresses of a family and no default route of it, a
//! default route via IPAM's gateway, else on-link, as the original's);
//! with `peer: pod`, a route in the pod to each of those addresses over
//! the veth, and IPAM's gateways (as /32, /128) on the pod's end, which is
//! the named namespace's only neighbour (so the default route via the
//! gateway reaches the pod). The owner (container ID, CNI_IFNAME) is recorded in `dataDir`
//! before the namespace is made. Another attachment's namespace, or one
//! make-net did not make, is a clear error and nothing is changed; a
//! failure half-way removes everything made so far.
//!
//! The result: prevResult's interfaces and ips, then the named
//! namespace's interface (real MAC, `sandbox` = the namespace's path) and
//! the peer (real MAC; `sandbox` = CNI_NETNS with `peer: pod`), the
//! addresses pointing at the named namespace's interface.
//!
//! CHECK: the namespace, its owner, both veth ends, the addresses and
//! routes against prevResult. DEL: idempotent, removes only what this
//! attachment owns (found by its record, so it needs no CNI_ARGS), and
//! releases IPAM. GC: removes the namespaces (and IPAM reservations) of
//! the network's attachments not in `cni.dev/valid-attachments` (another
//! network's, sharing `dataDir`, are left alone). STATUS: IPAM's.
//!
//! Where this differs from the original (MikeZappa87/blog-examples,
//! posts/x-netns-blog, main.go), on purpose:
//! - no thread switches namespace (the original unshares on an unlocked Go
//!   thread);
//! - `netid` is checked as a namespace name (the original joins it to
//!   /run/netns unchecked, `../x` included; a leading `.` is refused too,
//!   such names being make-net's own files in `dataDir`) and the derived
//!   names fit in 15 bytes (the original's `v<netid>` fails past 14 bytes
//!   of netid);
//! - no hard-coded 1.2.3.4/24: `addresses` or `ipam`, or none;
//! - the result reports the namespace's interface with its MAC and the
//!   namespace's path as `sandbox` (the original reports the host peer,
//!   with an empty MAC, under the bare netid) and passes prevResult
//!   through;
//! - a second pod with the same fixed netid is refused before anything is
//!   made (the original fails with EEXIST after unsharing); a templated
//!   netid gives each pod its own namespace;
//! - the netns directory is a shared mount, as iproute2 makes it;
//! - CHECK checks (the original only opens the namespace), DEL removes
//!   only what its attachment owns (the original deletes the name
//!   whoever made it), GC and STATUS, spec 1.1.0.
//!
//! ```text
//! cargo build --release --examples   # target/release/examples/make-net
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod conf;
mod owner;

use std::net::IpAddr;

use netns_cni::{CmdArgs, CniResult, Error, Interface, IpConfig, Plugin, Route};
use netns_core::{
    AddrSpec, Handle, IpNet, LinkChanges, LinkData, LinkInfo, LinkSpec, NetNs, NetnsDir, RouteSpec,
    Scope,
};
use netns_examples::{fault, plugin};

use conf::{Net, Peer};
use owner::{Owner, Records};

fn fail(msg: impl std::fmt::Display) -> Error {
    Error::internal(msg)
}

struct MakeNet;

impl Plugin for MakeNet {
    fn about(&self) -> String {
        format!("CNI make-net plugin v{}", env!("CARGO_PKG_VERSION"))
    }

    fn add(&self, args: &CmdArgs) -> Result<CniResult, Error> {
        add(args)
    }

    fn del(&self, args: &CmdArgs) -> Result<(), Error> {
        del(args)
    }

    fn check(&self, args: &CmdArgs) -> Result<(), Error> {
        check(args)
    }

    fn gc(&self, args: &CmdArgs) -> Result<(), Error> {
        gc(args)
    }

    fn status(&self, args: &CmdArgs) -> Result<(), Error> {
        plugin::ipam_status(args)
    }
}

fn main() {
    netns_cni::run(&MakeNet)
}

fn add(args: &CmdArgs) -> Result<CniResult, Error> {
    let n = conf::parse(args)?;
    let prev = args.prev_result()?.unwrap_or_default();
    // Where the peer goes, and that its name is free there.
    let target = match n.peer {
        Peer::Host => NetNs::current()?,
        Peer::Pod => args.open_netns()?,
    };
    let th = target.handle()?;
    let records = Records::lock(&n.data_dir)?;
    let dir = NetnsDir::new(&n.ns_dir);
    let path = dir.path_of(&n.netid)?;
    match records.get(&n.netid)? {
        Some(o) if !o.is(&args.container_id, &args.ifname) => {
            return Err(fail(format!(
                "namespace {:?} belongs to another attachment (container {}, interface {}): \
                 a fixed netid serves one pod; template it with {{K8S_POD_NAME}} or \
                 {{K8S_POD_UID}} for one namespace per pod",
                n.netid, o.container_id, o.ifname
            )))
        }
        // This attachment's (an ADD repeated, or one that did not
        // finish): start over.
        Some(o) => teardown(&o),
        None if path.symlink_metadata().is_ok() => {
            return Err(fail(format!(
                "namespace {:?} exists in {} and make-net did not make it: left alone",
                n.netid, n.ns_dir
            )))
        }
        None => {}
    }
    // After the owner check: with `peer: host` another attachment's peer
    // has the derived name, and its owner is the clearer error; this
    // attachment's own (a repeated ADD) is gone with the teardown above.
    plugin::ensure_absent(&th, &n.peer_name, || {
        fail(format!(
            "an interface named {:?} already exists in the {} namespace",
            n.peer_name,
            if n.peer == Peer::Pod {
                "pod's"
            } else {
                "plugin's"
            }
        ))
    })?;
    let owner = Owner {
        container_id: args.container_id.clone(),
        ifname: args.ifname.clone(),
        netid: n.netid.clone(),
        ns_dir: n.ns_dir.clone(),
        if_name: n.if_name.clone(),
        peer: if n.peer == Peer::Pod { "pod" } else { "host" }.into(),
        peer_name: n.peer_name.clone(),
        netns: args.netns.clone(),
        network: args.conf.name.clone(),
    };
    records.put(&owner)?;
    fault::point("owner-record");
    let made = build(args, &n, &dir, &path, &target, &th, prev);
    if made.is_err() {
        teardown(&owner);
        let _ = records.remove(&n.netid);
    }
    made
}

/// The namespace, the veth pair, the addresses and routes; the result.
fn build(
    args: &CmdArgs,
    n: &Net,
    dir: &NetnsDir,
    path: &std::path::Path,
    target: &NetNs,
    th: &Handle,
    prev: CniResult,
) -> Result<CniResult, Error> {
    let named = dir
        .create(&n.netid)
        .map_err(|e| fail(format!("failed to create namespace {:?}: {e}", n.netid)))?;
    fault::point("namespace");
    let nh = named.handle()?;
    nh.link_set_up("lo")?;
    fault::point("lo-up");
    let mut spec = LinkSpec::veth(n.if_name.as_str(), n.peer_name.as_str()).peer_netns(target);
    if let Some(m) = n.mtu {
        spec = spec.mtu(m);
    }
    nh.link_add(&spec)
        .map_err(|e| fail(format!("failed to make the veth pair: {e}")))?;
    fault::point("veth");
    let link = nh.link_get(n.if_name.as_str())?;
    let peer = th.link_get(n.peer_name.as_str())?;
    th.link_set(
        peer.index,
        &LinkChanges {
            up: Some(true),
            mtu: n.mtu,
            ..Default::default()
        },
    )
    .map_err(|e| fail(format!("failed to set {:?} up: {e}", n.peer_name)))?;
    fault::point("peer-up");
    let peer = th.link_get(peer.index)?;

    // The named namespace's own result: its interface first.
    let sandbox = path.display().to_string();
    let mut ours = CniResult::new();
    ours.interfaces = vec![
        iface(&link, Some(sandbox)),
        iface(&peer, (n.peer == Peer::Pod).then(|| args.netns.clone())),
    ];
    ours.ips = n
        .addresses
        .iter()
        .map(|a| IpConfig {
            address: *a,
            gateway: None,
            interface: Some(0),
        })
        .collect();
    let ipam = if n.ipam {
        // A delegated IPAM plugin that fails (or is killed) after it
        // reserved leaves the reservation otherwise, until the runtime's
        // DEL: released here (only this attachment's, whose ADD this is).
        let r = netns_cni::ipam::add(args).inspect_err(|_| {
            let _ = netns_cni::ipam::del(args);
        })?;
        fault::point("ipam");
        Some(r)
    } else {
        None
    };
    let r = (|| {
        if let Some(r) = &ipam {
            ours.ips.extend(r.ips.iter().cloned().map(|mut ip| {
                ip.interface = Some(0);
                ip
            }));
            ours.routes = r.routes.clone();
        }
        for v4 in [true, false] {
            let has_addr = ours.ips.iter().any(|i| i.address.addr().is_ipv4() == v4);
            let has_default = ours
                .routes
                .iter()
                .any(|r| r.dst.addr().is_ipv4() == v4 && r.dst.prefix_len() == 0);
            if has_addr && !has_default {
                let dst: IpNet = if v4 { "0.0.0.0/0" } else { "::/0" }
                    .parse()
                    .map_err(|e| fail(format!("a default route: {e}")))?;
                ours.routes.push(Route::new(dst, None));
            }
        }
        plugin::configure_iface(&nh, &n.if_name, link.index, &ours, "make-net")?;
        if n.peer == Peer::Pod {
            // The pod is the named namespace's only neighbour: IPAM's
            // gateways go on its end, or the default route via them would
            // lead nowhere and nothing in the named namespace could answer
            // the pod.
            let mut gateways: Vec<IpAddr> = Vec::new();
            for g in ours.ips.iter().filter_map(|ip| ip.gateway) {
                if !gateways.contains(&g) {
                    gateways.push(g);
                }
            }
            for g in gateways {
                let a = IpNet::new(g, full_len(g))
                    .map_err(|e| fail(format!("the gateway's address: {e}")))?;
                th.addr_add(&AddrSpec::new(peer.index, a).nodad())
                    .map_err(|e| {
                        fail(format!(
                            "failed to add the gateway {a} to {}: {e}",
                            n.peer_name
                        ))
                    })?;
                fault::point("gateway-address");
            }
            for ip in &ours.ips {
                let host = IpNet::new(ip.address.addr(), full_len(ip.address.addr()))
                    .map_err(|e| fail(format!("a host route: {e}")))?;
                th.route_add(&RouteSpec::new(host).link(peer.index).scope(Scope::LINK))
                    .map_err(|e| {
                        fail(format!(
                            "failed to add route '{host} dev {}': {e}",
                            n.peer_name
                        ))
                    })?;
                fault::point("host-route");
            }
        }
        Ok::<(), Error>(())
    })();
    if let Err(e) = r {
        if ipam.is_some() {
            let _ = netns_cni::ipam::del(args);
        }
        return Err(e);
    }

    // prevResult's, then ours (indexes shifted past prevResult's).
    let base = prev.interfaces.len();
    let mut result = prev;
    result.interfaces.extend(ours.interfaces);
    result.ips.extend(ours.ips.into_iter().map(|mut ip| {
        ip.interface = Some(base);
        ip
    }));
    result.routes.extend(ours.routes);
    if result.dns.is_empty() {
        result.dns = args.conf.dns.clone();
    }
    Ok(result)
}

fn full_len(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}

fn iface(l: &LinkInfo, sandbox: Option<String>) -> Interface {
    Interface {
        name: l.name.clone(),
        mac: l.mac.map(|m| m.to_string()),
        sandbox,
        ..Default::default()
    }
}

/// Remove what `o`'s ADD made, best effort: the veth pair (deleting the
/// named namespace's end takes the peer with it, now rather than when the
/// kernel frees the namespace) and the namespace's name. The name also
/// when it is no namespace (yet): an ADD killed inside the namespace's
/// creation leaves the empty file the bind mount goes on (the record,
/// written before it, says the name is this attachment's).
fn teardown(o: &Owner) {
    let dir = NetnsDir::new(&o.ns_dir);
    if let Ok(ns) = dir.open(&o.netid) {
        if let Ok(h) = ns.handle() {
            let _ = h.link_del(o.if_name.as_str());
        }
    }
    let _ = dir.delete(&o.netid);
}

/// `dataDir` of the config, read leniently: DEL and GC must work with a
/// config ADD would refuse (a netid template CNI_ARGS cannot fill, say).
fn data_dir(args: &CmdArgs) -> Result<String, Error> {
    let c: conf::Conf = args.plugin_conf()?;
    Ok(if c.data_dir.is_empty() {
        conf::DEFAULT_DATA_DIR.to_string()
    } else {
        c.data_dir
    })
}

fn del(args: &CmdArgs) -> Result<(), Error> {
    let records = Records::lock(&data_dir(args)?)?;
    if let Some(o) = records.of(&args.container_id, &args.ifname)? {
        teardown(&o);
        records.remove(&o.netid)?;
    }
    drop(records);
    if !args.conf.ipam.plugin_type.is_empty() {
        netns_cni::ipam::del(args)?;
    }
    Ok(())
}

fn gc(args: &CmdArgs) -> Result<(), Error> {
    let valid = args.valid_attachments()?;
    let records = Records::lock(&data_dir(args)?)?;
    for o in records.all()? {
        // Another network's attachments are not in this one's list.
        if o.network != args.conf.name {
            continue;
        }
        if !valid.iter().any(|a| o.is(&a.container_id, &a.ifname)) {
            teardown(&o);
            records.remove(&o.netid)?;
        }
    }
    drop(records);
    plugin::ipam_gc(args)
}

fn check(args: &CmdArgs) -> Result<(), Error> {
    let n = conf::parse(args)?;
    if n.ipam {
        netns_cni::ipam::check(args)?;
    }
    let Some(prev) = args.prev_result()? else {
        return Err(fail("Required prevResult missing"));
    };
    let records = Records::lock(&n.data_dir)?;
    match records.get(&n.netid)? {
        Some(o) if o.is(&args.container_id, &args.ifname) => {}
        _ => {
            return Err(fail(format!(
                "namespace {:?} is not this attachment's",
                n.netid
            )))
        }
    }
    let dir = NetnsDir::new(&n.ns_dir);
    let sandbox = dir.path_of(&n.netid)?.display().to_string();
    let named = dir
        .open(&n.netid)
        .map_err(|e| fail(format!("namespace {:?}: {e}", n.netid)))?;
    let nh = named.handle()?;
    let link = veth_in(&nh, &n.if_name, "the named namespace")?;
    let th = match n.peer {
        Peer::Host => Handle::new()?,
        Peer::Pod => args.open_netns()?.handle()?,
    };
    veth_in(&th, &n.peer_name, "the peer's namespace")?;
    let Some(idx) = prev
        .interfaces
        .iter()
        .position(|i| i.name == n.if_name && i.sandbox.as_deref() == Some(sandbox.as_str()))
    else {
        return Err(fail(format!(
            "prevResult has no interface {:?} in {sandbox}",
            n.if_name
        )));
    };
    if let Some(m) = &prev.interfaces[idx].mac {
        let have = link.mac.map(|m| m.to_string()).unwrap_or_default();
        if !m.eq_ignore_ascii_case(&have) {
            return Err(fail(format!(
                "interface {} Mac {m} doesn't match container Mac: {have}",
                n.if_name
            )));
        }
    }
    // Our addresses; the routes too when every address of prevResult is
    // ours (make-net first in its list, as in a NAD of its own): the
    // routes of a result name no interface.
    let all_ours = prev.ips.iter().all(|i| i.interface == Some(idx));
    let mine = CniResult {
        ips: prev
            .ips
            .iter()
            .filter(|i| i.interface == Some(idx))
            .cloned()
            .collect(),
        routes: if all_ours {
            prev.routes.clone()
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    plugin::check_ips(&nh, &n.if_name, link.index, &mine)?;
    plugin::check_routes(&nh, &mine)
}

/// The veth `name` in `h`'s namespace, up.
fn veth_in(h: &Handle, name: &str, where_: &str) -> Result<LinkInfo, Error> {
    let l = h
        .link_get(name)
        .map_err(|e| fail(format!("{name:?} in {where_}: {e}")))?;
    if !matches!(l.data, LinkData::Veth) {
        return Err(fail(format!("{name:?} in {where_} is not a veth")));
    }
    if !l.is_up() {
        return Err(fail(format!("{name:?} in {where_} is down")));
    }
    Ok(l)
}
