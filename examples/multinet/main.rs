//! The multi-network pod: what Multus does for a pod whose interfaces are
//! each on their own VLAN, with netns's CNI plugins, step by step.
//!
//! 1. A lab of namespaces standing for a Kubernetes node, a VLAN-aware
//!    switch and one router per VLAN: `r10` (10.10.0.1/24) on VLAN 10,
//!    `r20` (10.20.0.1/24) on VLAN 20, and `r20-twin` on VLAN 20 with
//!    VLAN 10's subnet and r10's address (10.10.0.1/24): the VLANs are
//!    independent networks, so they may reuse addresses. Each router answers
//!    TCP on port 8080 with its own name.
//! 2. The networks: the cluster network (netns-bridge on `cni0`,
//!    10.244.0.0/24) and three attachment networks, as a
//!    NetworkAttachmentDefinition holds them: `vlan10`, `vlan20` and
//!    `vlan20-twin`, each with a host-local range and data dir of its own.
//! 3. Three pods, each given `eth0` on the cluster network and then its
//!    attachments on `net1` (and `net2`), with the CNI_ARGS Multus passes:
//!    pod a on VLANs 10 and 20, pod b on VLAN 10, pod c on VLAN 20 in the
//!    twin subnet.
//! 4. CHECK of every attachment.
//! 5. Real TCP: a and b reach each other and r10 over VLAN 10; a reaches
//!    r20 over VLAN 20; c's 10.10.0.1 is r20-twin, not r10; a and c, in the
//!    same subnet on different VLANs, cannot reach each other.
//! 6. DEL of every attachment in reverse order (net2, net1, eth0).
//! 7. The node is as it was before the pods (but the cluster bridge `cni0`,
//!    which the bridge plugin keeps, with no port), and no IPAM reservation
//!    is left.
//!
//! The attachments are netns-vlan (`vlanId` 10 and 20 on a trunk) where the
//! kernel has 802.1q VLAN devices (the 8021q module), and netns-macvlan on
//! one plain veth per VLAN into the switch (untagged) where it has not.
//! The kernel allows one VLAN device per VLAN id on a parent, whichever
//! namespace it is in: one pod per VLAN per trunk. So the node has two
//! trunks, `trunk0` (pod a) and `trunk1` (pods b and c).
//!
//! The example is its own minimal runtime (`netns_examples::runtime`,
//! shared with the pod-netns example): it execs the plugin binaries as the
//! CNI spec says, from the directory it was built in
//! (`target/<profile>/examples`), building them first with cargo when they
//! are missing and it runs under `cargo run`. Everything lives in
//! namespaces it creates in a private netns directory (not /run/netns);
//! the "node" is a namespace too, so the real host's links, routes and
//! sysctls are never touched. All of it is removed at the end, also when a
//! step fails or it is interrupted (SIGINT/SIGTERM are caught and checked
//! between steps).
//!
//! Run as root: `cargo run --example multinet`.

use netns_examples::demo::{self, check_interrupt, cmd, show, Res};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use netns_core::{
    AddrFilter, AddrSpec, Handle, IpNet, LinkFilter, LinkSpec, NetNs, NetnsDir, RouteFilter,
};
use netns_examples::runtime::{plugins_dir, Runtime, Sandbox};
use serde_json::{json, Value};

/// The port the routers answer on.
const ROUTER_PORT: u16 = 8080;

/// A connect that must work: milliseconds in practice; only a failure
/// waits for the bound.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connect that must fail: nobody on the VLAN answers ARP for the
/// address, and the kernel gives up after about 3 s.
const NO_CONNECTION_WAIT: Duration = Duration::from_secs(6);

/// How the attachments are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// netns-vlan, `vlanId` 10 / 20 on the trunks `trunk0` and `trunk1`.
    Vlan,
    /// netns-macvlan on the per-VLAN veths `vl10` / `vl20`, untagged.
    Macvlan,
}

/// An attachment network: one VLAN segment and one host-local range.
struct Segment {
    name: &'static str,
    vlan: u16,
    subnet: &'static str,
    range: (&'static str, &'static str),
}

const SEGMENTS: [Segment; 3] = [
    Segment {
        name: "vlan10",
        vlan: 10,
        subnet: "10.10.0.0/24",
        range: ("10.10.0.10", "10.10.0.99"),
    },
    Segment {
        name: "vlan20",
        vlan: 20,
        subnet: "10.20.0.0/24",
        range: ("10.20.0.10", "10.20.0.99"),
    },
    // VLAN 20 again, with VLAN 10's subnet.
    Segment {
        name: "vlan20-twin",
        vlan: 20,
        subnet: "10.10.0.0/24",
        range: ("10.10.0.100", "10.10.0.199"),
    },
];

/// A pod: its name and uid, the trunk its VLAN devices hang off (vlan
/// variant), its attachments (interface, segment index).
struct PodSpec {
    name: &'static str,
    uid: &'static str,
    trunk: u8,
    attachments: &'static [(&'static str, usize)],
}

const PODS: [PodSpec; 3] = [
    PodSpec {
        name: "a",
        uid: "6f1c0f4e-3b7a-4d0e-8a51-00000000000a",
        trunk: 0,
        attachments: &[("net1", 0), ("net2", 1)],
    },
    PodSpec {
        name: "b",
        uid: "6f1c0f4e-3b7a-4d0e-8a51-00000000000b",
        trunk: 1,
        attachments: &[("net1", 0)],
    },
    PodSpec {
        name: "c",
        uid: "6f1c0f4e-3b7a-4d0e-8a51-00000000000c",
        trunk: 1,
        attachments: &[("net1", 2)],
    },
];

impl PodSpec {
    fn container_id(&self) -> String {
        format!("{:0>64x}", u32::from(self.name.as_bytes()[0]))
    }

    /// What Multus passes as CNI_ARGS.
    fn cni_args(&self) -> String {
        format!(
            "IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME={};K8S_POD_UID={}",
            self.name, self.uid
        )
    }
}

// ---------------------------------------------------------------------------
// The lab: namespaces and data dirs, removed on drop

struct Lab {
    root: PathBuf,
    dir: NetnsDir,
    names: Vec<String>,
}

impl Lab {
    fn new() -> Res<Lab> {
        let root = std::env::temp_dir().join(format!("netns-multinet-{}", std::process::id()));
        std::fs::create_dir(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
        Ok(Lab {
            dir: NetnsDir::new(root.join("netns")),
            root,
            names: Vec::new(),
        })
    }

    fn namespace(&mut self, name: &str) -> Res<(NetNs, Handle)> {
        let ns = self.dir.create(name)?;
        self.names.push(name.to_owned());
        let h = ns.handle()?;
        h.link_set_up("lo")?;
        Ok((ns, h))
    }

    fn path_of(&self, name: &str) -> Res<PathBuf> {
        Ok(self.dir.path_of(name)?)
    }

    /// A host-local data dir.
    fn data_dir(&self, network: &str) -> PathBuf {
        self.root.join("ipam").join(network)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        println!("\n== cleanup");
        for name in self.names.drain(..).rev() {
            match self.dir.delete(&name) {
                Ok(()) => println!("   deleted namespace {name}"),
                Err(e) => eprintln!("   {e}"),
            }
        }
        // The netns directory was made a shared bind mount (as `ip netns
        // add` does with /run/netns): undone, and the directory removed.
        match self.dir.remove() {
            Ok(()) => match std::fs::remove_dir_all(&self.root) {
                Ok(()) => println!("   removed {}", self.root.display()),
                Err(e) => eprintln!("   remove {}: {e}", self.root.display()),
            },
            Err(e) => eprintln!("   {e}; left {}", self.root.display()),
        }
    }
}

// ---------------------------------------------------------------------------
// Showing things

/// What the node has, one line per link, address and route (by name, not
/// index), sorted, without the cluster bridge `cni0` and what is on it.
fn node_state(h: &Handle) -> Res<Vec<String>> {
    let links = h.links(&LinkFilter::new())?;
    let name_of = |i: u32| {
        links
            .iter()
            .find(|l| l.index == i)
            .map_or_else(|| i.to_string(), |l| l.name.clone())
    };
    let cni0 = links.iter().find(|l| l.name == "cni0").map(|l| l.index);
    let mut out = Vec::new();
    for l in &links {
        if Some(l.index) == cni0 {
            continue;
        }
        out.push(format!(
            "link {} {} mtu {} mac {} master {} up {}",
            l.name,
            l.kind.as_deref().unwrap_or("-"),
            l.mtu,
            l.mac.map(|m| m.to_string()).unwrap_or_default(),
            l.controller.map(name_of).unwrap_or_default(),
            l.is_up()
        ));
    }
    for a in h.addrs(&AddrFilter::new())? {
        if Some(a.link_index) == cni0 || is_link_local(&a.addr()) {
            continue;
        }
        out.push(format!("addr {} dev {}", a.prefix, name_of(a.link_index)));
    }
    for r in h.routes(&RouteFilter::new())? {
        if r.link_index.is_some() && r.link_index == cni0 {
            continue;
        }
        if matches!(r.dst, IpNet::V6(n) if (n.addr().segments()[0] & 0xffc0) == 0xfe80 || n.addr().segments()[0] == 0xff00)
        {
            continue;
        }
        out.push(format!(
            "route {} via {:?} dev {} table {}",
            r.dst,
            r.gateway,
            r.link_index.map(name_of).unwrap_or_default(),
            r.table
        ));
    }
    out.sort();
    Ok(out)
}

fn is_link_local(a: &IpAddr) -> bool {
    match a {
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        IpAddr::V4(v4) => v4.is_link_local(),
    }
}

// ---------------------------------------------------------------------------
// TCP

/// A router: a namespace on one VLAN, listening on [`ROUTER_PORT`].
struct Router {
    name: &'static str,
    listener: TcpListener,
}

/// Accept one connection on `l` within `wait`, or none. After a client's
/// connect returned, its connection may not be queued yet (the handshake's
/// last ACK is on its way): a bounded wait, not a sleep; it only runs out
/// when the connection went somewhere else.
fn accept_within(l: &TcpListener, wait: Duration) -> io::Result<Option<(TcpStream, SocketAddr)>> {
    let mut pfd = libc::pollfd {
        fd: l.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd, for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n == 0 {
        return Ok(None);
    }
    l.accept().map(Some)
}

/// Who answers `from`'s connection to `at`:8080: it must be `router`,
/// seeing `from`'s address `src`.
fn ask(from: (&str, &NetNs), src: IpAddr, at: IpAddr, router: &Router) -> Res<()> {
    let to = SocketAddr::new(at, ROUTER_PORT);
    let mut client = from
        .1
        .run(|| TcpStream::connect_timeout(&to, CONNECT_TIMEOUT))?
        .map_err(|e| format!("TCP {} -> {to}: {e}", from.0))?;
    let Some((mut conn, peer)) = accept_within(&router.listener, CONNECT_TIMEOUT)? else {
        return Err(format!("{} connected to {to}, but not to {}", from.0, router.name).into());
    };
    conn.write_all(router.name.as_bytes())?;
    drop(conn);
    let mut name = String::new();
    client.read_to_string(&mut name)?;
    if name != router.name || peer.ip() != src {
        return Err(format!(
            "{} -> {to}: {name:?} answered, seeing {peer}; expected {} seeing {src}",
            from.0, router.name
        )
        .into());
    }
    println!(
        "   OK: TCP {} ({src}) -> {to}: \"{name}\" answered, saw {}",
        from.0,
        peer.ip()
    );
    Ok(())
}

/// A pod as the walkthrough holds it.
struct LivePod {
    spec: &'static PodSpec,
    ns: NetNs,
    path: PathBuf,
    /// (interface, address)
    addrs: Vec<(String, IpAddr)>,
}

impl LivePod {
    fn addr(&self, ifname: &str) -> Res<IpAddr> {
        self.addrs
            .iter()
            .find(|(i, _)| i == ifname)
            .map(|(_, a)| *a)
            .ok_or_else(|| format!("pod {} has no {ifname}", self.spec.name).into())
    }

    fn listen(&self, ifname: &str) -> Res<TcpListener> {
        let ip = self.addr(ifname)?;
        Ok(self.ns.run(move || TcpListener::bind((ip, 0)))??)
    }

    fn who(&self, ifname: &str) -> String {
        format!("pod {} {ifname}", self.spec.name)
    }
}

/// `from`'s `from_if` reaches `to`'s listener on `to_if`, which sees
/// `from`'s `from_if` address.
fn reaches(from: &LivePod, from_if: &str, to: &LivePod, to_if: &str) -> Res<()> {
    let listener = to.listen(to_if)?;
    let at = listener.local_addr()?;
    let _client = from
        .ns
        .run(|| TcpStream::connect_timeout(&at, CONNECT_TIMEOUT))?
        .map_err(|e| format!("TCP {} -> {at}: {e}", from.who(from_if)))?;
    let Some((_conn, peer)) = accept_within(&listener, CONNECT_TIMEOUT)? else {
        return Err(format!(
            "{} connected, but not to {}",
            from.who(from_if),
            to.who(to_if)
        )
        .into());
    };
    let src = from.addr(from_if)?;
    if peer.ip() != src {
        return Err(format!("{} saw {peer}, expected {src}", to.who(to_if)).into());
    }
    println!(
        "   OK: TCP {} ({src}) -> {} ({at})",
        from.who(from_if),
        to.who(to_if)
    );
    Ok(())
}

/// `from` cannot reach `to`'s address on `to_if`, though it is on-link for
/// it: the connection fails and `to`'s listener there gets nothing.
fn cannot_reach(from: &LivePod, from_if: &str, to: &LivePod, to_if: &str) -> Res<()> {
    let listener = to.listen(to_if)?;
    let at = listener.local_addr()?;
    let r = from
        .ns
        .run(|| TcpStream::connect_timeout(&at, NO_CONNECTION_WAIT))?;
    if r.is_ok() || accept_within(&listener, Duration::ZERO)?.is_some() {
        return Err(format!(
            "{} reached {} at {at}: the VLANs are not isolated",
            from.who(from_if),
            to.who(to_if)
        )
        .into());
    }
    let why = r.err().map(|e| e.to_string()).unwrap_or_default();
    println!(
        "   OK: TCP {} ({}) -> {} ({at}) fails ({why}): different VLANs",
        from.who(from_if),
        from.addr(from_if)?,
        to.who(to_if)
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// The kernel

/// Whether the kernel has 802.1q VLAN devices: a VLAN on a throw-away veth
/// in `h`'s namespace (the node's, before anything else is there).
fn kernel_has_8021q(h: &Handle) -> Res<Result<(), netns_core::Error>> {
    h.link_add(&LinkSpec::veth("probe0", "probe1"))?;
    let r = h.link_add(&LinkSpec::vlan("probe0.10", "probe0", 10));
    h.link_del("probe0")?;
    match r {
        Ok(()) => Ok(Ok(())),
        Err(e) if e.is_unsupported() => Ok(Err(e)),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------
// The walkthrough

fn run(lab: &mut Lab) -> Res<()> {
    println!("== 1. the lab: a node, a VLAN-aware switch, a router per VLAN");
    let (node, nh) = lab.namespace("node")?;
    let variant = match kernel_has_8021q(&nh)? {
        Ok(()) => {
            println!(
                "   this kernel has 802.1q VLAN devices: the attachments are netns-vlan \
                 (vlanId 10 and 20 on a trunk)"
            );
            Variant::Vlan
        }
        Err(e) => {
            println!(
                "   this kernel has no 802.1q VLAN devices ({e}): the attachments are \
                 netns-macvlan, on one plain veth per VLAN into the switch (untagged; the \
                 switch keeps the VLANs apart by port)"
            );
            Variant::Macvlan
        }
    };
    let needed: &[&str] = match variant {
        Variant::Vlan => &["netns-bridge", "netns-vlan"],
        Variant::Macvlan => &["netns-bridge", "netns-macvlan"],
    };
    let plugins = plugins_dir(needed, "multinet")?;
    println!("   plugins (CNI_PATH): {}", plugins.display());
    let (sw_ns, sw) = lab.namespace("switch")?;
    for br in ["br10", "br20"] {
        cmd(&format!(
            "ip -n switch link add {br} type bridge && ip -n switch link set {br} up"
        ));
        sw.link_add(&LinkSpec::bridge(br).up())?;
    }
    match variant {
        Variant::Vlan => {
            println!(
                "   The kernel allows one VLAN device per VLAN id on a parent, in whatever \
                 namespace it is: one pod per VLAN per trunk. The node gets two trunks."
            );
            for (trunk, port) in [("trunk0", "t0"), ("trunk1", "t1")] {
                cmd(&format!(
                    "ip -n node link add {trunk} type veth peer name {port} netns switch"
                ));
                nh.link_add(&LinkSpec::veth(trunk, port).peer_netns(&sw_ns).up())?;
                sw.link_set_up(port)?;
                for vlan in [10u16, 20] {
                    let sub = format!("{port}.{vlan}");
                    cmd(&format!(
                        "ip -n switch link add link {port} name {sub} type vlan id {vlan} \
                         master br{vlan}"
                    ));
                    sw.link_add(
                        &LinkSpec::vlan(sub.as_str(), port, vlan)
                            .controller(format!("br{vlan}").as_str())
                            .up(),
                    )?;
                }
            }
        }
        Variant::Macvlan => {
            for vlan in [10u16, 20] {
                let (mine, theirs) = (format!("vl{vlan}"), format!("a{vlan}"));
                cmd(&format!(
                    "ip -n node link add {mine} type veth peer name {theirs} netns switch \
                     master br{vlan}"
                ));
                nh.link_add(
                    &LinkSpec::veth(mine.as_str(), theirs.as_str())
                        .peer_netns(&sw_ns)
                        .up(),
                )?;
                sw.link_set_controller(theirs.as_str(), format!("br{vlan}").as_str())?;
                sw.link_set_up(theirs.as_str())?;
            }
        }
    }
    let mut routers = Vec::new();
    for (name, addr, vlan, port) in [
        ("r10", "10.10.0.1/24", 10, "r10p"),
        ("r20", "10.20.0.1/24", 20, "r20p"),
        ("r20-twin", "10.10.0.1/24", 20, "r20tp"),
    ] {
        let (rns, rh) = lab.namespace(name)?;
        cmd(&format!(
            "ip -n switch link add {port} type veth peer name eth0 netns {name} master br{vlan}; \
             ip -n {name} addr add {addr} dev eth0"
        ));
        sw.link_add(
            &LinkSpec::veth(port, "eth0")
                .peer_netns(&rns)
                .controller(format!("br{vlan}").as_str())
                .up(),
        )?;
        let prefix: IpNet = addr.parse()?;
        rh.addr_add(&AddrSpec::new(rh.link_index("eth0")?, prefix))?;
        rh.link_set_up("eth0")?;
        let ip = prefix.addr();
        let listener = rns.run(move || TcpListener::bind((ip, ROUTER_PORT)))??;
        println!("   {name} listens on {ip}:{ROUTER_PORT} (VLAN {vlan})");
        routers.push(Router { name, listener });
    }
    show("node", &nh)?;
    show("switch", &sw)?;
    let node_before = node_state(&nh)?;
    check_interrupt()?;

    println!("\n== 2. the networks (one NetworkAttachmentDefinition each)");
    let cluster_data = lab.data_dir("cluster");
    let cluster = json!({
        "cniVersion": "1.0.0", "name": "cluster", "type": "netns-bridge",
        "bridge": "cni0", "isGateway": true,
        "ipam": {"type": "netns-host-local", "subnet": "10.244.0.0/24",
                 "routes": [{"dst": "0.0.0.0/0"}], "dataDir": cluster_data}
    });
    println!("   cluster: {cluster}");
    let ipam_root = lab.data_dir("");
    let attachment = |seg: &Segment, pod: &PodSpec| -> Value {
        let mut c = json!({
            "cniVersion": "1.0.0", "name": seg.name,
            "ipam": {"type": "netns-host-local",
                     "ranges": [[{"subnet": seg.subnet, "rangeStart": seg.range.0,
                                  "rangeEnd": seg.range.1}]],
                     "dataDir": ipam_root.join(seg.name)}
        });
        match variant {
            Variant::Vlan => {
                c["type"] = json!("netns-vlan");
                c["master"] = json!(format!("trunk{}", pod.trunk));
                c["vlanId"] = json!(seg.vlan);
            }
            Variant::Macvlan => {
                c["type"] = json!("netns-macvlan");
                c["master"] = json!(format!("vl{}", seg.vlan));
                c["mode"] = json!("bridge");
            }
        }
        c
    };
    for (i, seg) in SEGMENTS.iter().enumerate() {
        let user = PODS
            .iter()
            .find(|p| p.attachments.iter().any(|(_, s)| *s == i))
            .ok_or("a segment without a pod")?;
        println!("   {}: {}", seg.name, attachment(seg, user));
    }
    check_interrupt()?;

    println!("\n== 3. the pods: eth0 on the cluster network, then their attachments");
    let mut rt = Runtime::new(plugins, node.try_clone()?);
    let mut pods: Vec<LivePod> = Vec::new();
    for spec in &PODS {
        let (ns, _) = lab.namespace(&format!("pod-{}", spec.name))?;
        let path = lab.path_of(&format!("pod-{}", spec.name))?;
        let (id, args) = (spec.container_id(), spec.cni_args());
        let sb = Sandbox {
            container_id: &id,
            netns: &path,
            args: &args,
        };
        println!("   pod {} (k8s uid {})", spec.name, spec.uid);
        let mut addrs = Vec::new();
        let r = rt.add(&cluster, &sb, "eth0")?;
        addrs.push(("eth0".to_owned(), first_ip(&r)?));
        print_result(&r);
        for (ifname, seg) in spec.attachments {
            let r = rt.add(&attachment(&SEGMENTS[*seg], spec), &sb, ifname)?;
            addrs.push(((*ifname).to_owned(), first_ip(&r)?));
            print_result(&r);
        }
        show(&format!("pod {}", spec.name), &ns.handle()?)?;
        pods.push(LivePod {
            spec,
            ns,
            path,
            addrs,
        });
        check_interrupt()?;
    }

    println!("\n== 4. CHECK every attachment against its ADD result");
    for p in &pods {
        let (id, args) = (p.spec.container_id(), p.spec.cni_args());
        let sb = Sandbox {
            container_id: &id,
            netns: &p.path,
            args: &args,
        };
        rt.check(&cluster, &sb, "eth0")?;
        for (ifname, seg) in p.spec.attachments {
            rt.check(&attachment(&SEGMENTS[*seg], p.spec), &sb, ifname)?;
        }
    }
    println!("   OK: {} attachments check out", rt.attachments().len());
    check_interrupt()?;

    println!("\n== 5. traffic: the VLANs are independent networks");
    let [a, b, c] = &pods[..] else {
        return Err("three pods".into());
    };
    let [r10, r20, r20_twin] = &routers[..] else {
        return Err("three routers".into());
    };
    println!("   VLAN 10: pods a and b, and r10");
    reaches(a, "net1", b, "net1")?;
    reaches(b, "net1", a, "net1")?;
    ask(
        ("pod a net1", &a.ns),
        a.addr("net1")?,
        "10.10.0.1".parse()?,
        r10,
    )?;
    ask(
        ("pod b net1", &b.ns),
        b.addr("net1")?,
        "10.10.0.1".parse()?,
        r10,
    )?;
    println!("   VLAN 20: pod a's second interface, and r20");
    ask(
        ("pod a net2", &a.ns),
        a.addr("net2")?,
        "10.20.0.1".parse()?,
        r20,
    )?;
    println!("   the cluster network");
    reaches(c, "eth0", a, "eth0")?;
    println!("   VLAN 20 with VLAN 10's subnet: pod c's 10.10.0.1 is r20-twin");
    ask(
        ("pod c net1", &c.ns),
        c.addr("net1")?,
        "10.10.0.1".parse()?,
        r20_twin,
    )?;
    if accept_within(&r10.listener, Duration::ZERO)?.is_some() {
        return Err("r10 had a connection from VLAN 20".into());
    }
    println!("   OK: r10 heard nothing");
    println!("   the same subnet on two VLANs: nothing crosses");
    std::thread::scope(|s| -> Res<()> {
        let c_to_a = s.spawn(|| cannot_reach(c, "net1", a, "net1").map_err(|e| e.to_string()));
        let a_to_c = s.spawn(|| cannot_reach(a, "net1", c, "net1").map_err(|e| e.to_string()));
        for h in [c_to_a, a_to_c] {
            h.join().map_err(|_| "a thread panicked")??;
        }
        Ok(())
    })?;
    check_interrupt()?;

    println!("\n== 6. DEL in reverse order: net2, net1, eth0, pod by pod");
    for p in pods.iter().rev() {
        let (id, args) = (p.spec.container_id(), p.spec.cni_args());
        let sb = Sandbox {
            container_id: &id,
            netns: &p.path,
            args: &args,
        };
        for (ifname, seg) in p.spec.attachments.iter().rev() {
            rt.del(&attachment(&SEGMENTS[*seg], p.spec), &sb, ifname)?;
        }
        rt.del(&cluster, &sb, "eth0")?;
        let left: Vec<String> =
            p.ns.handle()?
                .links(&LinkFilter::new())?
                .into_iter()
                .map(|l| l.name)
                .filter(|n| n != "lo")
                .collect();
        if !left.is_empty() {
            return Err(format!("pod {} still has {left:?}", p.spec.name).into());
        }
        println!("   OK: pod {} has only lo", p.spec.name);
    }
    check_interrupt()?;

    println!("\n== 7. the node is as before");
    let node_after = node_state(&nh)?;
    if node_after != node_before {
        let gone: Vec<&String> = node_before
            .iter()
            .filter(|l| !node_after.contains(l))
            .collect();
        let new: Vec<&String> = node_after
            .iter()
            .filter(|l| !node_before.contains(l))
            .collect();
        return Err(format!("the node changed: gone {gone:?}, new {new:?}").into());
    }
    let ports = nh
        .links(&LinkFilter::new())?
        .into_iter()
        .filter(|l| l.controller.is_some() && l.controller == nh.link_index("cni0").ok())
        .count();
    if ports != 0 {
        return Err(format!("cni0 still has {ports} ports").into());
    }
    println!(
        "   OK: {} links, addresses and routes as before; cni0 (the cluster bridge, which \
         the bridge plugin keeps) has no port",
        node_after.len()
    );
    let mut held = Vec::new();
    for net in ["cluster", "vlan10", "vlan20", "vlan20-twin"] {
        let dir = lab.data_dir(net).join(net);
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.parse::<IpAddr>().is_ok() {
                held.push(format!("{net}: {n}"));
            }
        }
    }
    if !held.is_empty() {
        return Err(format!("IPAM reservations left: {held:?}").into());
    }
    println!("   OK: no IPAM reservation left (4 data dirs)");
    println!("\nAll steps passed.");
    Ok(())
}

fn first_ip(result: &Value) -> Res<IpAddr> {
    let a = result["ips"][0]["address"]
        .as_str()
        .ok_or_else(|| format!("a result without an address: {result}"))?;
    let ip = a.split('/').next().unwrap_or_default();
    Ok(ip.parse()?)
}

fn print_result(r: &Value) {
    let ifaces: Vec<String> = r["interfaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["sandbox"].as_str().is_some_and(|s| !s.is_empty()))
        .map(|i| {
            format!(
                "{} {}",
                i["name"].as_str().unwrap_or("?"),
                i["mac"].as_str().unwrap_or("?")
            )
        })
        .collect();
    let ips: Vec<&str> = r["ips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["address"].as_str())
        .collect();
    println!("     -> {} {}", ifaces.join(", "), ips.join(" "));
}

fn main() -> ExitCode {
    demo::main_with("multinet", Lab::new, run)
}
