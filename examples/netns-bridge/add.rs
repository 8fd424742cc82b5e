//! ADD: the bridge, the veth pair, the addresses and routes, the gateway.
//!
//! The order and the kernel state are the reference plugin's
//! (plugins/main/bridge/bridge.go `cmdAdd`, v1.1.1, with the keys and fixes
//! of later versions, see the crate docs); the requests are netns-core's,
//! from this thread: the container side through a netlink socket opened
//! inside the container's namespace, sysctls there in one visit of a
//! helper thread. Nothing here switches this thread's namespace.

use std::net::IpAddr;
use std::time::Duration;

use netns_cni::{CmdArgs, CniResult, Error, Interface, Route};
use netns_core::{
    AddrFilter, AddrSpec, BridgePortChanges, BridgeVlan, ControllerChange, Handle, IpFamily, IpNet,
    LinkChanges, LinkInfo, LinkSpec, MacAddr, MacSpoofCheck, Nat, NatKind, NatOwner, NetNs, Sysctl,
    SysctlConf,
};
use netns_examples::{fault, plugin};

use crate::conf::{self, Net};

/// How long the host veth may take to come up with carrier: the reference
/// polls 0 + 50 + 500 + 1000 + 1000 ms.
const PORT_UP_TIMEOUT: Duration = Duration::from_millis(2550);

/// Test-only fault hook: with `NETNS_TEST_FAIL_AT=end` in its
/// environment, ADD fails after it made everything (and undoes it).
const FAIL_AT: &str = "NETNS_TEST_FAIL_AT";

fn fail(msg: impl std::fmt::Display) -> Error {
    Error::internal(msg)
}

/// What an ADD made, removed if it fails half-way (the reference leaves
/// the veth pair behind: plugins#29, and the masquerade).
struct Undo<'a> {
    container: &'a Handle,
    veth: Option<u32>,
    ipam: Option<&'a CmdArgs>,
    /// The owner of a MAC spoof check made.
    spoof: Option<NatOwner>,
    /// The owner of a masquerade made.
    masq: Option<NatOwner>,
}

impl Undo<'_> {
    fn run(self) {
        if let Some(o) = &self.masq {
            if let Err(e) = Nat::new().and_then(|nat| nat.remove(o, NatKind::Masquerade)) {
                eprintln!("netns-bridge: removing the masquerade of {o}: {e}");
            }
        }
        if let Some(o) = &self.spoof {
            if let Err(e) = MacSpoofCheck::new().and_then(|sc| sc.remove(o)) {
                eprintln!("netns-bridge: removing the MAC spoof check of {o}: {e}");
            }
        }
        if let Some(index) = self.veth {
            // Deleting the container end deletes the pair.
            let _ = self.container.link_del(index);
        }
        if let Some(args) = self.ipam {
            let _ = netns_cni::ipam::del(args);
        }
    }
}

pub fn add(args: &CmdArgs) -> Result<CniResult, Error> {
    let n = conf::load(args)?;
    if n.layer3 && n.conf.disable_container_interface {
        return Err(fail(
            "cannot use IPAM when DisableContainerInterface flag is set",
        ));
    }
    n.check_backend()?;
    if n.conf.hairpin && n.conf.promisc {
        return Err(fail(
            "cannot set hairpin mode and promiscuous mode at the same time.",
        ));
    }
    let mac = n.container_mac()?;
    // A bad IPAM config (in process: host-local's) fails before the bridge
    // is made, which a failed ADD leaves (as the reference does).
    if n.layer3 {
        netns_cni::ipam::precheck(args)?;
    }
    // What can be checked is checked before anything is made, so these
    // failures leave nothing (the reference has created the bridge and,
    // for a taken name, asked IPAM by then): the container's namespace...
    let cns = args.open_netns()?;
    let container = cns.handle()?;
    // ... and the interface name in it.
    plugin::ensure_absent(&container, args.ifname.as_str(), || {
        fail(format!(
            "container veth name provided ({}) already exists",
            args.ifname
        ))
    })?;
    let host = Handle::new()?;
    let here = NetNs::current()?;
    let br = ensure_bridge(&host, &here, &n)?;
    let mut undo = Undo {
        container: &container,
        veth: None,
        ipam: None,
        spoof: None,
        masq: None,
    };
    let env = Env {
        args,
        n: &n,
        host: &host,
        here: &here,
        cns: &cns,
        container: &container,
        br: &br,
    };
    match configure(&env, mac, &mut undo) {
        Ok(r) => Ok(r),
        Err(e) => {
            undo.run();
            Err(e)
        }
    }
}

/// What an ADD works with.
struct Env<'a> {
    args: &'a CmdArgs,
    n: &'a Net,
    host: &'a Handle,
    here: &'a NetNs,
    cns: &'a NetNs,
    container: &'a Handle,
    br: &'a LinkInfo,
}

/// The new pair: the container end as the container sees it, and the host
/// end's name.
struct Pair {
    veth: LinkInfo,
    host_name: String,
}

/// The rest of ADD, in the reference's order but for IPAM, which comes
/// before the veth pair so that an exhausted range or a gateway address
/// the bridge cannot take fails before there is a pair to remove.
fn configure<'a>(
    env: &Env<'a>,
    mac: Option<MacAddr>,
    undo: &mut Undo<'a>,
) -> Result<CniResult, Error> {
    let Env {
        args,
        n,
        host,
        here,
        cns,
        container,
        br,
    } = *env;
    let mut result = CniResult::new();
    let mut gws: [Vec<IpNet>; 2] = [Vec::new(), Vec::new()];
    if n.layer3 {
        // Released on failure from here on, also when IPAM's own ADD
        // fails: a delegated IPAM plugin killed (or failing) after it
        // reserved leaves the reservation otherwise, until the runtime's
        // DEL. The container has no interface of this name (checked
        // above), so no live attachment (id, ifname) holds it.
        undo.ipam = Some(args);
        let ipam = netns_cni::ipam::add(args)?;
        fault::point("ipam");
        result.ips = ipam.ips;
        result.routes = ipam.routes;
        result.dns = ipam.dns;
        if result.ips.is_empty() {
            return Err(fail("IPAM plugin returned missing IP config"));
        }
        gws = calc_gateways(&mut result, n);
        if n.is_gw {
            precheck_gateways(host, br, n, &gws)?;
        }
    }
    let cont = make_veth(container, here, &args.ifname, n.mtu, mac)?;
    undo.veth = Some(cont.veth.index);
    fault::point("veth");
    let port = Port {
        hairpin: n.conf.hairpin,
        isolated: n.conf.port_isolation,
        vlan: n.vlan,
        trunk: &n.trunk,
        preserve_default_vlan: n.conf.preserve_default_vlan,
    };
    attach_port(host, here, br, &cont.host_name, &port)?;
    let owner = NatOwner::new(&args.conf.name, &args.container_id, &args.ifname);
    if n.conf.macspoofchk {
        // The container end's MAC as it was made (the reference's).
        let Some(m) = cont.veth.mac else {
            return Err(fail(format!(
                "failed to setup spoof-check: {} has no MAC address",
                args.ifname
            )));
        };
        MacSpoofCheck::new()
            .and_then(|sc| sc.add(&owner, &cont.host_name, m))
            .map_err(|e| fail(format!("failed to setup spoof-check: {e}")))?;
        undo.spoof = Some(owner.clone());
        fault::point("macspoofchk");
    }
    result.interfaces = vec![
        Interface {
            name: br.name.clone(),
            mac: br.mac.map(|m| m.to_string()),
            ..Default::default()
        },
        // Its MAC once the port is up, below.
        Interface {
            name: cont.host_name.clone(),
            ..Default::default()
        },
        Interface {
            name: cont.veth.name.clone(),
            mac: cont.veth.mac.map(|m| m.to_string()),
            sandbox: Some(args.netns.clone()),
            ..Default::default()
        },
    ];
    if n.layer3 {
        container_sysctls(cns, &args.ifname, n, &result)?;
        fault::point("container-sysctls");
        plugin::configure_iface(
            container,
            &args.ifname,
            cont.veth.index,
            &result,
            "netns-bridge",
        )?;
    } else if !n.conf.disable_container_interface {
        container
            .link_set_up(cont.veth.index)
            .map_err(|e| fail(format!("failed to set {:?} up: {e}", args.ifname)))?;
    }
    let name = cont.host_name.as_str();
    let host_veth = if n.conf.disable_container_interface {
        host.link_get(name)?
    } else {
        // The reference polls the operstate with sleeps; this waits for
        // the kernel's notification.
        host.wait_link_up(name, PORT_UP_TIMEOUT).map_err(|e| {
            let state = host
                .link_get(name)
                .map(|l| l.operstate.to_string())
                .unwrap_or_else(|_| e.to_string());
            fail(format!("bridge port in error state: {state}"))
        })?
    };
    // The host end's MAC as it is now (as the reference rereads it).
    result.interfaces[1].mac = host_veth.mac.map(|m| m.to_string());
    if n.layer3 && n.is_gw {
        gateways(host, here, br, n, &gws, &mut result)?;
    }
    if n.layer3 && n.conf.ip_masq {
        let (sources, subnets) = masquerade_args(&result);
        Nat::new()
            .and_then(|nat| nat.masquerade(&owner, &sources, &subnets))
            .map_err(|e| fail(format!("failed to set up IP masquerade: {e}")))?;
        undo.masq = Some(owner);
        fault::point("masquerade");
    }
    // The bridge's MAC changes when its first port joins or its address is
    // set: read it again.
    let now = host.link_get(br.index)?;
    result.interfaces[0].mac = now.mac.map(|m| m.to_string());
    // DNS: the config's when it sets any, else the IPAM plugin's (the
    // reference v1.1.1 always took the config's, dropping IPAM's).
    if !args.conf.dns.is_empty() {
        result.dns = args.conf.dns.clone();
    }
    // Tests only: fail here, with everything made (as the reference's
    // debugPostIPAMError).
    if std::env::var_os(FAIL_AT).is_some_and(|v| v == "end") {
        return Err(fail(format!("{FAIL_AT}=end: failing as asked")));
    }
    Ok(result)
}

/// What `ipMasq` masquerades: the pod's addresses, except to their
/// subnets (and, in [`Nat::masquerade`], multicast), as the reference's
/// `SetupIPMasq` for each address.
pub fn masquerade_args(result: &CniResult) -> (Vec<IpAddr>, Vec<IpNet>) {
    let sources = result.ips.iter().map(|i| i.address.addr()).collect();
    let mut subnets: Vec<IpNet> = Vec::new();
    for i in &result.ips {
        let s = i.address.trunc();
        if !subnets.contains(&s) {
            subnets.push(s);
        }
    }
    (sources, subnets)
}

/// `ensureBridge`: create the bridge (an existing one is fine), check it is
/// one, promiscuous if asked, `accept_ra` 0, up.
fn ensure_bridge(host: &Handle, here: &NetNs, n: &Net) -> Result<LinkInfo, Error> {
    let name = &n.conf.bridge;
    let failed = |what: String| fail(format!("failed to create bridge {name:?}: {what}"));
    let mut spec = LinkSpec::bridge(name.as_str());
    if let Some(m) = n.mtu {
        spec = spec.mtu(m);
    }
    if n.vlan_filtering {
        if let netns_core::LinkKind::Bridge(b) = &mut spec.kind {
            b.vlan_filtering = Some(true);
        }
    }
    match host.link_add(&spec) {
        Ok(()) => {}
        Err(e) if e.is_exists() => {}
        Err(e) => return Err(failed(format!("could not add {name:?}: {e}"))),
    }
    fault::point("bridge");
    let br = host
        .link_get(name.as_str())
        .map_err(|e| failed(format!("could not lookup {name:?}: {e}")))?;
    if br.kind.as_deref() != Some("bridge") {
        return Err(failed(format!(
            "{name:?} already exists but is not a bridge"
        )));
    }
    // We want to own the routes of this interface.
    let _ = here.sysctl_set(&Sysctl::AcceptRa(SysctlConf::link(name.as_str())), 0);
    host.link_set(
        br.index,
        &LinkChanges {
            up: Some(true),
            promisc: n.conf.promisc.then_some(true),
            ..Default::default()
        },
    )
    .map_err(|e| failed(e.to_string()))?;
    fault::point("bridge-up");
    Ok(br)
}

/// `vethXXXXXXXX` from 4 random bytes (getrandom(2), one system call).
fn random_veth_name() -> Result<String, Error> {
    let mut b = [0u8; 4];
    // SAFETY: `b` is valid for writes of its length; getrandom writes at
    // most that many bytes.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        return Err(fail(format!(
            "failed to generate random veth name: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(format!(
        "veth{:02x}{:02x}{:02x}{:02x}",
        b[0], b[1], b[2], b[3]
    ))
}

/// `makeVeth`: the pair, made by one request on the container's socket:
/// the container end under its final name there, the host end (a random
/// `vethXXXXXXXX`) created directly in this namespace. No temporary name
/// exists at any point, and a name taken on the host cannot collide with
/// the container's (the kernel looks the requested name up in the
/// requester's namespace).
fn make_veth(
    container: &Handle,
    here: &NetNs,
    ifname: &str,
    mtu: Option<u32>,
    mac: Option<MacAddr>,
) -> Result<Pair, Error> {
    for _ in 0..10 {
        let peer = random_veth_name()?;
        let mut spec = LinkSpec::veth(ifname, peer.as_str()).peer_netns(here);
        if let Some(m) = mtu {
            spec = spec.mtu(m);
        }
        if let Some(m) = mac {
            spec = spec.mac(m);
        }
        match container.link_add(&spec) {
            Ok(()) => {
                let veth = container.link_get(ifname).map_err(|e| {
                    let _ = container.link_del(ifname);
                    fail(format!("failed to make veth pair: {e}"))
                })?;
                return Ok(Pair {
                    veth,
                    host_name: peer,
                });
            }
            Err(e) if e.is_exists() => {
                if container.link_get(ifname).is_ok() {
                    return Err(fail(format!(
                        "container veth name provided ({ifname}) already exists"
                    )));
                }
                // The random host name is taken: another one.
            }
            Err(e) => return Err(fail(format!("failed to make veth pair: {e}"))),
        }
    }
    Err(fail("failed to find a unique veth name"))
}

/// The most ports a Linux bridge has: port numbers are 10 bits
/// (`BR_MAX_PORTS` 1024, net/bridge/br_private.h) and 0 is reserved
/// (`find_portno`, net/bridge/br_if.c); the next port is refused with
/// EXFULL.
const BRIDGE_MAX_PORTS: usize = 1023;

/// How a port joins the bridge.
struct Port<'a> {
    hairpin: bool,
    isolated: bool,
    /// The access VLAN, 0 for none.
    vlan: u16,
    /// Trunk VLANs.
    trunk: &'a [u16],
    preserve_default_vlan: bool,
}

/// The host end of a pair (or of the VLAN gateway's pair): `accept_ra` 0,
/// up, on the bridge, hairpin and isolation as configured, its VLANs
/// (`setupVeth`'s host half).
fn attach_port(
    host: &Handle,
    here: &NetNs,
    br: &LinkInfo,
    name: &str,
    p: &Port<'_>,
) -> Result<(), Error> {
    let _ = here.sysctl_set(&Sysctl::AcceptRa(SysctlConf::link(name)), 0);
    host.link_set(
        name,
        &LinkChanges {
            up: Some(true),
            controller: Some(ControllerChange::Attach(br.index.into())),
            ..Default::default()
        },
    )
    .map_err(|e| {
        if e.errno() == Some(libc::EXFULL) {
            // net/bridge/br_if.c find_portno: port numbers are 10 bits
            // (BR_MAX_PORTS 1024) and 0 is reserved.
            return fail(format!(
                "failed to connect {name:?} to bridge {}: the bridge is full: it has \
                 {BRIDGE_MAX_PORTS} ports, the kernel's limit per bridge: {e}",
                br.name
            ));
        }
        fail(format!(
            "failed to connect {name:?} to bridge {}: {e}",
            br.name
        ))
    })?;
    fault::point("port");
    if p.hairpin || p.isolated {
        let opts = BridgePortChanges {
            hairpin: p.hairpin.then_some(true),
            isolated: p.isolated.then_some(true),
            ..Default::default()
        };
        host.bridge_port_set(name, &opts)
            .map_err(|e| fail(format!("failed to setup hairpin mode for {name}: {e}")))?;
        fault::point("port-options");
    }
    let (vlan, trunk) = (p.vlan, p.trunk);
    if (vlan != 0 || !trunk.is_empty()) && !p.preserve_default_vlan {
        for v in host.bridge_vlans_of(name)? {
            host.bridge_vlan_del(name, v.vid).map_err(|e| {
                fail(format!(
                    "failed to remove default vlan on interface {name:?}: {e}"
                ))
            })?;
        }
    }
    let tag = |v: &BridgeVlan| {
        host.bridge_vlan_add(name, v).map_err(|e| {
            fail(format!(
                "failed to setup vlan tag on interface {name:?}: {e}"
            ))
        })
    };
    if vlan != 0 {
        tag(&BridgeVlan::access(vlan))?;
    }
    for v in trunk {
        tag(&BridgeVlan::tagged(*v))?;
    }
    if vlan == 0 && !trunk.is_empty() {
        // No access VLAN: the trunk's native VLAN is 1.
        tag(&BridgeVlan::access(1))?;
    }
    Ok(())
}

fn family(a: &IpAddr) -> usize {
    usize::from(a.is_ipv6())
}

/// `calcGateways`: every address is the container interface's (index 2);
/// with a gateway role, an address without a gateway gets its subnet's
/// first address; `isDefaultGateway` adds a default route per family
/// unless IPAM gave one with a gateway. Returns the gateway prefixes to put
/// on the bridge, per family.
fn calc_gateways(result: &mut CniResult, n: &Net) -> [Vec<IpNet>; 2] {
    let mut gws: [Vec<IpNet>; 2] = [Vec::new(), Vec::new()];
    let mut default_found = [false, false];
    for i in 0..result.ips.len() {
        let Some(ip) = result.ips.get_mut(i) else {
            break;
        };
        ip.interface = Some(2);
        let fam = family(&ip.address.addr());
        if ip.gateway.is_none() && n.is_gw {
            ip.gateway = Some(first_address(&ip.address));
        }
        let (gateway, prefix) = (ip.gateway, ip.address.prefix_len());
        if n.conf.is_default_gw && !default_found[fam] {
            let default: IpNet = if fam == 0 {
                IpNet::V4(Default::default())
            } else {
                IpNet::V6(Default::default())
            };
            let found = result
                .routes
                .iter()
                .any(|r| r.gw.is_some() && r.dst == default);
            if !found {
                result.routes.push(Route::new(default, gateway));
            }
            default_found[fam] = true;
        }
        if n.is_gw {
            if let Some(g) = gateway.and_then(|g| IpNet::new(g, prefix).ok()) {
                gws[fam].push(g);
            }
        }
    }
    gws
}

/// The subnet's first address (`calcGatewayIP`: network + 1).
fn first_address(net: &IpNet) -> IpAddr {
    match net.trunc().addr() {
        IpAddr::V4(a) => IpAddr::V4(u32::from(a).wrapping_add(1).into()),
        IpAddr::V6(a) => IpAddr::V6(u128::from(a).wrapping_add(1).into()),
    }
}

/// The container interface's sysctls, in one visit: duplicate address
/// detection as configured and gratuitous ARP (best effort, as the
/// reference), and IPv6 enabled on `lo` and the interface when it gets an
/// IPv6 address (that one must work).
fn container_sysctls(cns: &NetNs, ifname: &str, n: &Net, result: &CniResult) -> Result<(), Error> {
    let link = || SysctlConf::link(ifname);
    let mut best_effort = Vec::new();
    if n.conf.enabledad {
        best_effort.push((
            Sysctl::Conf(IpFamily::V6, link(), "enhanced_dad".into()),
            "1",
        ));
        best_effort.push((Sysctl::AcceptDad(link()), "1"));
    } else {
        best_effort.push((Sysctl::AcceptDad(link()), "0"));
    }
    best_effort.push((Sysctl::ArpNotify(link()), "1"));
    let v6 = result.ips.iter().any(|i| i.address.addr().is_ipv6());
    let required = if v6 {
        vec![
            (Sysctl::DisableIpv6(SysctlConf::link("lo")), "0"),
            (Sysctl::DisableIpv6(link()), "0"),
        ]
    } else {
        Vec::new()
    };
    let n_best = best_effort.len();
    let all: Vec<(Sysctl, &str)> = best_effort.into_iter().chain(required).collect();
    let outcomes = cns.sysctl_set_many(&all)?;
    for ((key, _), r) in all.iter().zip(outcomes).skip(n_best) {
        if let Err(e) = r {
            let iface = match key {
                Sysctl::DisableIpv6(SysctlConf::Link(i)) => i.as_str(),
                _ => ifname,
            };
            return Err(fail(format!(
                "failed to enable IPv6 for interface {iface:?} ({key}=0): {e}"
            )));
        }
    }
    Ok(())
}

/// `isGateway`: each gateway address on the bridge (or on its VLAN
/// interface), forwarding on for each family that has one.
fn gateways(
    host: &Handle,
    here: &NetNs,
    br: &LinkInfo,
    n: &Net,
    gws: &[Vec<IpNet>; 2],
    result: &mut CniResult,
) -> Result<(), Error> {
    let mut vlan_iface: Option<LinkInfo> = None;
    for (fam, list) in gws.iter().enumerate() {
        for gw in list {
            if n.vlan != 0 {
                let v = match &vlan_iface {
                    Some(v) => v.clone(),
                    None => {
                        let v = ensure_vlan_interface(host, here, br, n)
                            .map_err(|e| e.context("failed to create vlan interface"))?;
                        result.interfaces.push(Interface {
                            name: v.name.clone(),
                            mac: v.mac.map(|m| m.to_string()),
                            ..Default::default()
                        });
                        vlan_iface = Some(v.clone());
                        v
                    }
                };
                ensure_addr(host, &v, fam, gw, n.conf.force_address)
                    .map_err(|e| e.context("failed to set vlan interface for bridge with addr"))?;
            } else {
                ensure_addr(host, br, fam, gw, n.conf.force_address)
                    .map_err(|e| e.context("failed to set bridge addr"))?;
            }
        }
        if !list.is_empty() {
            enable_forwarding(here, fam)
                .map_err(|e| fail(format!("failed to enable forwarding: {e}")))?;
            fault::point("forwarding");
        }
    }
    Ok(())
}

/// Whether `link` cannot take the gateway `gw` without `forceAddress`
/// (`ensureAddr`'s rule: another IPv4 address, or an overlapping IPv6 one),
/// as the error ADD fails with.
fn addr_conflict(
    host: &Handle,
    link: &LinkInfo,
    fam: usize,
    gw: &IpNet,
) -> Result<Option<Error>, Error> {
    let f = if fam == 0 { IpFamily::V4 } else { IpFamily::V6 };
    let addrs = host.addrs(&AddrFilter::new().link(link.index).family(f))?;
    if addrs.iter().any(|a| a.prefix == *gw) {
        return Ok(None);
    }
    let clash = addrs.iter().any(|a| clashes(fam, &a.prefix, gw));
    Ok(clash.then(|| {
        fail(format!(
            "{:?} already has an IP address different from {gw}",
            link.name
        ))
    }))
}

/// `ensureAddr`'s rule: a link has one IPv4 address; IPv6 ones may be
/// several if their prefixes do not overlap.
fn clashes(fam: usize, have: &IpNet, gw: &IpNet) -> bool {
    fam == 0 || have.contains(&gw.addr()) || gw.contains(&have.addr())
}

/// The gateway addresses' conflicts, found before anything is made (the
/// reference finds them last, its veth pair made).
fn precheck_gateways(
    host: &Handle,
    br: &LinkInfo,
    n: &Net,
    gws: &[Vec<IpNet>; 2],
) -> Result<(), Error> {
    if n.conf.force_address {
        return Ok(());
    }
    let (link, what) = if n.vlan == 0 {
        (br.clone(), "failed to set bridge addr")
    } else {
        match host.link_get(format!("{}.{}", br.name, n.vlan).as_str()) {
            Ok(l) => (l, "failed to set vlan interface for bridge with addr"),
            // Made by this ADD: it has no address yet.
            Err(_) => return Ok(()),
        }
    };
    for (fam, list) in gws.iter().enumerate() {
        for gw in list {
            if let Some(e) = addr_conflict(host, &link, fam, gw)? {
                return Err(e.context(what));
            }
        }
    }
    Ok(())
}

/// `ensureAddr`: the gateway prefix on the link. An IPv4 link (or an IPv6
/// one whose prefixes overlap) holding another address is an error, or
/// that address is removed with `forceAddress`. Then the link's MAC is set
/// to the one it had (`link`, read before its ports joined), so the
/// bridge's MAC no longer follows its ports.
fn ensure_addr(
    host: &Handle,
    link: &LinkInfo,
    fam: usize,
    gw: &IpNet,
    force: bool,
) -> Result<(), Error> {
    let f = if fam == 0 { IpFamily::V4 } else { IpFamily::V6 };
    let addrs = host.addrs(&AddrFilter::new().link(link.index).family(f))?;
    for a in addrs {
        if a.prefix == *gw {
            return Ok(());
        }
        if clashes(fam, &a.prefix, gw) {
            if force {
                let spec = AddrSpec::new(link.index, a.prefix);
                host.addr_del(&spec).map_err(|e| {
                    fail(format!(
                        "could not remove IP address from {:?}: {e}",
                        link.name
                    ))
                })?;
            } else {
                return Err(fail(format!(
                    "{:?} already has an IP address different from {gw}",
                    link.name
                )));
            }
        }
    }
    let mut spec = AddrSpec::new(link.index, *gw);
    if fam == 0 {
        spec = spec.broadcast_auto();
    }
    match host.addr_add(&spec) {
        Ok(()) => {}
        Err(e) if e.is_exists() => {}
        Err(e) => {
            return Err(fail(format!(
                "could not add IP address to {:?}: {e}",
                link.name
            )))
        }
    }
    fault::point("gateway-address");
    if let Some(mac) = link.mac {
        host.link_set_mac(link.index, mac)
            .map_err(|e| fail(format!("could not set bridge's mac: {e}")))?;
        fault::point("bridge-mac");
    }
    Ok(())
}

/// `ip.EnableIP4Forward` / `EnableIP6Forward`: write 1 unless it is 1.
fn enable_forwarding(here: &NetNs, fam: usize) -> Result<(), netns_core::Error> {
    let key = if fam == 0 {
        Sysctl::Ipv4Forward
    } else {
        Sysctl::Ipv6Forwarding(SysctlConf::All)
    };
    if here.sysctl_get(&key).ok() == Some(1) {
        return Ok(());
    }
    here.sysctl_set(&key, 1)
}

/// `ensureVlanInterface`: the bridge's gateway interface for the VLAN,
/// `BRIDGE.VLAN`, one end of a veth pair whose other end is an access port
/// of the VLAN.
fn ensure_vlan_interface(
    host: &Handle,
    here: &NetNs,
    br: &LinkInfo,
    n: &Net,
) -> Result<LinkInfo, Error> {
    let name = format!("{}.{}", br.name, n.vlan);
    match host.link_get(name.as_str()) {
        Ok(l) => return Ok(l),
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(fail(format!("failed to find interface {name:?}: {e}"))),
    }
    let mut made = None;
    for _ in 0..10 {
        let peer = random_veth_name()?;
        match host.link_add(&LinkSpec::veth(name.as_str(), peer.as_str()).mtu(br.mtu)) {
            Ok(()) => {
                made = Some(peer);
                break;
            }
            Err(e) if e.is_exists() && host.link_get(name.as_str()).is_err() => continue,
            Err(e) => {
                return Err(fail(format!(
                    "faild to create vlan gateway {name:?}: failed to make veth pair: {e}"
                )))
            }
        }
    }
    let Some(peer) = made else {
        return Err(fail("failed to find a unique veth name"));
    };
    let port = Port {
        hairpin: false,
        isolated: false,
        vlan: n.vlan,
        trunk: &[],
        preserve_default_vlan: n.conf.preserve_default_vlan,
    };
    let done = attach_port(host, here, br, &peer, &port)
        .and_then(|()| Ok(host.link_set_up(name.as_str())?))
        .and_then(|()| Ok(host.link_get(name.as_str())?));
    if done.is_err() {
        let _ = host.link_del(name.as_str());
    }
    done
}
