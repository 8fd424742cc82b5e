//! The tour: the classic network-namespace walkthrough, with library calls
//! only (no `ip`, no shell).
//!
//! 1. namespaces red and blue;
//! 2. a veth pair between them, 192.168.15.1/24 and .2/24; a real TCP
//!    connection from red to blue;
//! 3. a bridge v-net-0 in a third namespace standing for the host, red and
//!    blue attached to it through veth pairs, the bridge addressed
//!    192.168.15.5/24; TCP red -> blue across the bridge and host -> blue;
//! 4. a default route in blue via the bridge and forwarding enabled in the
//!    host namespace; TCP from blue to a namespace behind the host
//!    ("outside", 10.0.0.2) proves the forwarding;
//! 5. outside loses its route back to the pods' subnet, as a real upstream
//!    network has none; masquerade on the host (the walkthrough's
//!    `iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE`,
//!    here netns-core's [`Nat::masquerade`] in table `inet netns-nat`) makes
//!    blue -> outside work again, outside seeing the host's address;
//! 6. a port forward host:8080 -> blue:80 ([`Nat::port_forward`], hairpin
//!    for the pods' subnet and loopback), reached from outside (blue sees
//!    outside's address) and from red through the host (blue sees the
//!    host's bridge address: hairpin masquerade);
//! 7. the NAT removed, its conntrack entries deleted, the table gone.
//!
//! Each step prints the state it produced, `ip -br` style, and the `ip` /
//! `nft` commands that do the same. Everything lives in namespaces the tour
//! creates, named in a private netns directory (not /run/netns), so the real
//! host's links, routes and nftables ruleset are never touched (the "host"
//! is a namespace of the tour's too); all of it is removed at the end, also
//! when a step fails or the tour is interrupted (SIGINT/SIGTERM are caught
//! and checked between steps).
//!
//! Run as root: `cargo run --example tour`.

use netns_examples::demo::{self, check_interrupt, cmd, show, Res};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use netns_core::conntrack::{Conntrack, CtFilter};
use netns_core::nat::NAT_TABLE;
use netns_core::{
    AddrSpec, Hairpin, Handle, IpFamily, IpNet, LinkSpec, Nat, NatKind, NatOwner, NatProto, NetNs,
    NetnsDir, NftFamily, PortForward, RouteSpec, Sysctl,
};

/// Everything the tour made; removed on drop, whatever happened.
struct Tour {
    dir: NetnsDir,
    names: Vec<String>,
    /// The NAT in the host namespace and what of it is still there.
    nat: Option<Nat>,
    nat_owners: Vec<(NatOwner, NatKind)>,
}

impl Tour {
    fn new() -> Res<Tour> {
        let path = std::env::temp_dir().join(format!("netns-tour-{}", std::process::id()));
        Ok(Tour {
            dir: NetnsDir::new(path),
            names: Vec::new(),
            nat: None,
            nat_owners: Vec::new(),
        })
    }

    fn namespace(&mut self, name: &str) -> Res<(NetNs, Handle)> {
        let ns = self.dir.create(name)?;
        self.names.push(name.to_owned());
        let h = ns.handle()?;
        h.link_set_up("lo")?;
        Ok((ns, h))
    }
}

impl Drop for Tour {
    fn drop(&mut self) {
        println!("\n== cleanup");
        // What a failed or interrupted step left of the NAT, removed the
        // way step 7 removes it (the host namespace's end would take the
        // table with it anyway).
        if let Some(nat) = &self.nat {
            for (owner, kind) in self.nat_owners.drain(..).rev() {
                match nat.remove(&owner, kind) {
                    Ok(_) => println!(
                        "   removed the {} of {owner}",
                        if kind == NatKind::Masquerade {
                            "masquerade"
                        } else {
                            "port forward"
                        }
                    ),
                    Err(e) => eprintln!("   {e}"),
                }
            }
        }
        self.nat = None;
        // Deleting the names frees the namespaces once our descriptors are
        // closed; their links (and veth peers elsewhere) go with them.
        for name in self.names.drain(..).rev() {
            match self.dir.delete(&name) {
                Ok(()) => println!("   deleted namespace {name}"),
                Err(e) => eprintln!("   {e}"),
            }
        }
        let path: PathBuf = self.dir.path().to_path_buf();
        // The netns directory itself was made a shared bind mount (as
        // `ip netns add` does with /run/netns); undo that and remove it.
        while nix_umount(&path) {}
        match std::fs::remove_dir(&path) {
            Ok(()) => println!("   removed {}", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => eprintln!("   remove {}: {e}", path.display()),
        }
    }
}

fn nix_umount(path: &std::path::Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: umount2 on a valid NUL-terminated path; no memory is shared.
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) == 0 }
}

/// A real TCP connection from `client` to `server_addr` in `server`: the
/// listener is opened inside `server`, the connection from inside `client`
/// (each on a helper thread; sockets stay in the namespace they were made
/// in). The server echoes one line back.
fn prove_tcp(client: (&str, &NetNs), server: (&str, &NetNs), server_addr: IpAddr) -> Res<()> {
    let listener = server
        .1
        .run(|| TcpListener::bind(SocketAddr::new(server_addr, 0)))??;
    let to = listener.local_addr()?;
    tcp(client, server.0, &listener, to)?;
    Ok(())
}

/// One connection from inside `client` to `to`, accepted on `listener` (of
/// the namespace `server` names), which echoes a line back. Returns the
/// peer address the server saw.
fn tcp(
    client: (&str, &NetNs),
    server: &str,
    listener: &TcpListener,
    to: SocketAddr,
) -> Res<SocketAddr> {
    std::thread::scope(|s| -> Res<SocketAddr> {
        let srv = s.spawn(move || -> std::io::Result<SocketAddr> {
            // Bounded, so a client that never gets through ends the step
            // with an error instead of hanging here.
            let mut pfd = libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the duration of the call.
            if unsafe { libc::poll(&mut pfd, 1, 5000) } != 1 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no connection arrived",
                ));
            }
            let (mut conn, peer) = listener.accept()?;
            let mut buf = [0u8; 64];
            let n = conn.read(&mut buf)?;
            conn.write_all(&buf[..n])?;
            println!("   {server} accepted from {peer}");
            Ok(peer)
        });
        let reply = client.1.run(|| -> std::io::Result<String> {
            let mut c = TcpStream::connect_timeout(&to, Duration::from_secs(3))?;
            c.set_read_timeout(Some(Duration::from_secs(3)))?;
            let msg = format!("hello from {}", client.0);
            c.write_all(msg.as_bytes())?;
            let mut buf = [0u8; 64];
            let n = c.read(&mut buf)?;
            Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
        })?;
        let peer = srv.join().map_err(|_| "server thread panicked")?;
        let reply = reply.map_err(|e| format!("TCP {} -> {server} ({to}): {e}", client.0))?;
        let peer = peer.map_err(|e| format!("TCP {} -> {server} ({to}): {e}", client.0))?;
        if reply != format!("hello from {}", client.0) {
            return Err(format!("unexpected echo {reply:?}").into());
        }
        println!(
            "   OK: TCP {} -> {server} at {to}, echo {reply:?}",
            client.0
        );
        Ok(peer)
    })
}

/// The owner of a pod's NAT entries: (network, container, interface), as
/// a CNI plugin names an attachment.
fn owner(pod: &str) -> NatOwner {
    NatOwner::new("tour", pod, &format!("veth-{pod}"))
}

/// What `nat` holds of `owner` of kind `prefix` (`masq`, `fwd`), as
/// `Nat::list` reports it and the table holds it: its tag (the masquerade
/// chain's name, or what the forward's element comments start with), its
/// elements as `SET KEY[ : DATA]` with a range as the prefix it is, the
/// elements' comment, and the owner's marker in set `owners`, if any.
struct Owned {
    tag: String,
    elements: Vec<String>,
    comment: String,
    marker: Option<String>,
}

fn owned(nat: &Nat, owner: &NatOwner, prefix: &str) -> Res<Owned> {
    let comment = format!("{} {} {}", owner.network, owner.container_id, owner.ifname);
    let e = nat
        .list()?
        .into_iter()
        .find(|e| e.owner == comment && e.chain.starts_with(&format!("{prefix}-")))
        .ok_or_else(|| format!("no {prefix} entries of {owner}"))?;
    let comment = format!("{} {comment}", e.chain);
    let marker = nat
        .nft()
        .map_elements(NftFamily::Inet, NAT_TABLE, "owners")?
        .into_iter()
        .find(|m| m.comment.as_deref() == Some(comment.as_str()))
        .and_then(|m| <[u8; 16]>::try_from(m.key.as_slice()).ok())
        .map(|b| std::net::Ipv6Addr::from(b).to_string());
    Ok(Owned {
        tag: e.chain,
        elements: e.keys.iter().map(|k| prefixed(k)).collect(),
        comment,
        marker,
    })
}

/// `SET KEY[ : DATA]` with each address range of KEY (`a-b`) written as
/// the prefix it is, as nft prints it.
fn prefixed(element: &str) -> String {
    let (key, data) = match element.split_once(" : ") {
        Some((k, d)) => (k, Some(d)),
        None => (element, None),
    };
    let key: Vec<String> = key
        .split(" . ")
        .map(|f| {
            let Some((a, b)) = f.split_once('-') else {
                return f.to_string();
            };
            let (Ok(a), Ok(b)) = (a.parse::<IpAddr>(), b.parse::<IpAddr>()) else {
                return f.to_string();
            };
            let bits = if a.is_ipv4() { 32 } else { 128 };
            (0..=bits)
                .filter_map(|len| IpNet::new(a, len).ok())
                .find(|n| n.network() == a && n.broadcast() == b)
                .map_or_else(|| f.to_string(), |n| n.to_string())
        })
        .collect();
    let key = key.join(" . ");
    match data {
        Some(d) => format!("{key} : {d}"),
        None => key,
    }
}

/// `SET KEY[ comment "C"][ : DATA]`, as `nft add element` takes it.
fn element_cmd(verb: &str, element: &str, comment: Option<&str>) -> String {
    let (set, rest) = element.split_once(' ').unwrap_or((element, ""));
    let (key, data) = match rest.split_once(" : ") {
        Some((k, d)) => (k, format!(" : {d}")),
        None => (rest, String::new()),
    };
    let comment = comment
        .map(|c| format!(" comment \"{c}\""))
        .unwrap_or_default();
    format!("nft {verb} element inet {NAT_TABLE} {set} '{{ {key}{comment}{data} }}'")
}

/// The nft commands that add what `nat` holds of `owner` of kind `prefix`:
/// a masquerade's chain (its comment the owner) and `rules` (as `nft list`
/// prints them: the `meta nfproto` the library writes before an `ip` match
/// is implied), the elements (a forward is nothing else) with their
/// comment, the owner's marker.
fn print_added(nat: &Nat, owner: &NatOwner, prefix: &str, rules: &[String]) -> Res<()> {
    let o = owned(nat, owner, prefix)?;
    if prefix == "masq" {
        let comment = format!("{} {} {}", owner.network, owner.container_id, owner.ifname);
        cmd(&format!(
            "nft add chain inet {NAT_TABLE} {} '{{ comment \"{comment}\"; }}'",
            o.tag
        ));
        for r in rules {
            cmd(&format!("nft add rule inet {NAT_TABLE} {} {r}", o.tag));
        }
    }
    for e in &o.elements {
        cmd(&element_cmd("add", e, Some(&o.comment)));
    }
    if let Some(m) = &o.marker {
        cmd(&element_cmd(
            "add",
            &format!("owners {m}"),
            Some(&o.comment),
        ));
    }
    Ok(())
}

/// Whether the host namespace has table `inet netns-nat`.
fn has_nat_table(nat: &Nat) -> Res<bool> {
    Ok(nat
        .nft()
        .tables()?
        .iter()
        .any(|t| t.family == NftFamily::Inet && t.name == NAT_TABLE))
}

/// Remove `owner`'s NAT of `kind` (the tour's record of it too), printing
/// the nft commands that do the same.
fn remove_nat(
    nat: &Nat,
    owners: &mut Vec<(NatOwner, NatKind)>,
    owner: &NatOwner,
    kind: NatKind,
) -> Res<()> {
    let prefix = match kind {
        NatKind::Masquerade => "masq",
        _ => "fwd",
    };
    let doomed = owned(nat, owner, prefix)?;
    if !nat.remove(owner, kind)? {
        return Err(format!("nothing of {owner} to remove").into());
    }
    owners.retain(|(o, k)| !(o == owner && *k == kind));
    if has_nat_table(nat)? {
        for e in &doomed.elements {
            // The key alone names an element to delete.
            let key = e.split_once(" : ").map_or(e.as_str(), |(k, _)| k);
            cmd(&element_cmd("delete", key, None));
        }
        if let Some(m) = &doomed.marker {
            cmd(&element_cmd("delete", &format!("owners {m}"), None));
        }
        if kind == NatKind::Masquerade {
            cmd(&format!("nft delete chain inet {NAT_TABLE} {}", doomed.tag));
        }
    } else {
        // The last owner gone: the library deletes the whole table.
        cmd(&format!("nft delete table inet {NAT_TABLE}"));
    }
    Ok(())
}

/// Start step `n`. Two hooks for the tour's own tests: NETNS_TOUR_PAUSE=N
/// waits for a line (or EOF) on stdin before step N, NETNS_TOUR_FAIL=N makes
/// step N fail, so cleanup after an interruption or a failure can be checked.
fn step(n: u32, title: &str) -> Res<()> {
    let hook = |var: &str| std::env::var(var).ok().and_then(|v| v.parse::<u32>().ok()) == Some(n);
    if hook("NETNS_TOUR_PAUSE") {
        println!("(paused before step {n})");
        std::io::stdout().flush()?;
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
    }
    check_interrupt()?;
    println!("\n== {n}. {title}");
    if hook("NETNS_TOUR_FAIL") {
        return Err(format!("step {n} failed (NETNS_TOUR_FAIL)").into());
    }
    Ok(())
}

fn run(t: &mut Tour) -> Res<()> {
    step(1, "namespaces red and blue")?;
    cmd("ip netns add red; ip netns add blue; ip -n red link set lo up; ip -n blue link set lo up");
    let (red, hr) = t.namespace("red")?;
    let (blue, hb) = t.namespace("blue")?;
    show("red", &hr)?;
    show("blue", &hb)?;

    step(2, "a veth pair red <-> blue, 192.168.15.1/24 and .2/24")?;
    // Created from red, the peer placed directly into blue.
    cmd("ip -n red link add veth-red type veth peer name veth-blue netns blue");
    cmd("ip -n red addr add 192.168.15.1/24 brd + dev veth-red");
    cmd("ip -n blue addr add 192.168.15.2/24 brd + dev veth-blue");
    cmd("ip -n red link set veth-red up; ip -n blue link set veth-blue up");
    hr.link_add(&LinkSpec::veth("veth-red", "veth-blue").peer_netns(&blue))?;
    hr.addr_add(&AddrSpec::new("veth-red", "192.168.15.1/24".parse()?).broadcast_auto())?;
    hb.addr_add(&AddrSpec::new("veth-blue", "192.168.15.2/24".parse()?).broadcast_auto())?;
    hr.link_set_up("veth-red")?;
    hb.link_set_up("veth-blue")?;
    show("red", &hr)?;
    show("blue", &hb)?;
    prove_tcp(("red", &red), ("blue", &blue), "192.168.15.2".parse()?)?;

    step(
        3,
        "a bridge v-net-0 in a host namespace; red and blue attached to it",
    )?;
    cmd("ip -n red link del veth-red   # the blue end goes with it");
    hr.link_del("veth-red")?;
    cmd("ip netns add host");
    cmd("ip -n host link add v-net-0 type bridge");
    cmd("ip -n host addr add 192.168.15.5/24 brd + dev v-net-0");
    cmd("ip -n host link set v-net-0 up");
    let (host, hh) = t.namespace("host")?;
    hh.link_add(&LinkSpec::bridge("v-net-0"))?;
    hh.addr_add(&AddrSpec::new("v-net-0", "192.168.15.5/24".parse()?).broadcast_auto())?;
    hh.link_set_up("v-net-0")?;
    for (name, ns, h, ip) in [
        ("red", &red, &hr, "192.168.15.1/24"),
        ("blue", &blue, &hb, "192.168.15.2/24"),
    ] {
        let inside = format!("veth-{name}");
        let bridge_side = format!("veth-{name}-br");
        cmd(&format!(
            "ip -n host link add {bridge_side} up master v-net-0 type veth peer name {inside} netns {name}"
        ));
        cmd(&format!("ip -n {name} addr add {ip} brd + dev {inside}"));
        cmd(&format!("ip -n {name} link set {inside} up"));
        // The bridge side stays in host and joins v-net-0 on creation; the
        // other end is created directly in the colour's namespace.
        hh.link_add(
            &LinkSpec::veth(bridge_side.as_str(), inside.as_str())
                .peer_netns(ns)
                .controller("v-net-0")
                .up(),
        )?;
        h.addr_add(&AddrSpec::new(inside.as_str(), ip.parse::<IpNet>()?).broadcast_auto())?;
        h.link_set_up(inside.as_str())?;
    }
    show("host", &hh)?;
    show("red", &hr)?;
    show("blue", &hb)?;
    prove_tcp(("red", &red), ("blue", &blue), "192.168.15.2".parse()?)?;
    prove_tcp(("host", &host), ("blue", &blue), "192.168.15.2".parse()?)?;

    step(
        4,
        "default route in blue via the bridge; forwarding on in host",
    )?;
    // Something behind the host to route to: namespace "outside", 10.0.0.2,
    // linked to host (10.0.0.1).
    cmd("ip netns add outside");
    cmd("ip -n host link add veth-out up type veth peer name eth0 netns outside");
    cmd("ip -n host addr add 10.0.0.1/24 brd + dev veth-out");
    cmd("ip -n outside addr add 10.0.0.2/24 brd + dev eth0");
    cmd("ip -n outside link set eth0 up");
    cmd("ip -n outside route add 192.168.15.0/24 via 10.0.0.1");
    cmd("ip -n blue route add default via 192.168.15.5");
    cmd("ip netns exec host sysctl -w net.ipv4.ip_forward=1");
    let (outside, ho) = t.namespace("outside")?;
    hh.link_add(&LinkSpec::veth("veth-out", "eth0").peer_netns(&outside).up())?;
    hh.addr_add(&AddrSpec::new("veth-out", "10.0.0.1/24".parse()?).broadcast_auto())?;
    ho.addr_add(&AddrSpec::new("eth0", "10.0.0.2/24".parse()?).broadcast_auto())?;
    ho.link_set_up("eth0")?;
    ho.route_add(&RouteSpec::new("192.168.15.0/24".parse()?).via("10.0.0.1".parse()?))?;
    hb.route_add(&RouteSpec::default_via("192.168.15.5".parse()?))?;
    host.sysctl_set(&Sysctl::Ipv4Forward, 1)?;
    println!(
        "   host: net.ipv4.ip_forward = {}",
        host.sysctl_get(&Sysctl::Ipv4Forward)?
    );
    show("blue", &hb)?;
    show("outside", &ho)?;
    prove_tcp(("blue", &blue), ("outside", &outside), "10.0.0.2".parse()?)?;

    step(5, "outside loses its route back; masquerade on host")?;
    let subnet: IpNet = "192.168.15.0/24".parse()?;
    cmd("ip -n outside route del 192.168.15.0/24 via 10.0.0.1");
    ho.route_del(&RouteSpec::new(subnet).via("10.0.0.1".parse()?))?;
    match ho.route_get("192.168.15.2".parse()?) {
        Err(e) if e.errno() == Some(libc::ENETUNREACH) => {
            println!("   outside: no route back to blue ({e})")
        }
        Err(e) => return Err(e.into()),
        Ok(_) => return Err("outside still has a route to blue".into()),
    }
    println!(
        "   walkthrough: iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE\n   \
         netns: Nat::masquerade per pod, in table inet {NAT_TABLE} of the host namespace"
    );
    // One handle for the steps, one kept for the cleanup.
    t.nat = Some(Nat::new_in(&host)?);
    let nat = Nat::new_in(&host)?;
    cmd(&format!(
        "nft add table inet {NAT_TABLE}   # first use: its verdict maps and base chains \
         (`nsip --netns-dir {} -n host nat list` shows them)",
        t.dir.path().display()
    ));
    for (pod, ip) in [("red", "192.168.15.1"), ("blue", "192.168.15.2")] {
        let o = owner(pod);
        t.nat_owners.push((o.clone(), NatKind::Masquerade));
        nat.masquerade(&o, &[ip.parse()?], &[subnet])?;
        print_added(
            &nat,
            &o,
            "masq",
            &[format!(
                "ip daddr != {subnet} ip daddr != 224.0.0.0/4 masquerade"
            )],
        )?;
    }
    let listener = outside.run(|| TcpListener::bind("10.0.0.2:0"))??;
    let to = listener.local_addr()?;
    let peer = tcp(("blue", &blue), "outside", &listener, to)?;
    if peer.ip() != "10.0.0.1".parse::<IpAddr>()? {
        return Err(format!("outside saw {peer}, not the host's 10.0.0.1").into());
    }
    println!(
        "   outside saw {} (the host's address), not blue's 192.168.15.2",
        peer.ip()
    );

    step(
        6,
        "port forward host:8080 -> blue:80, from outside and from red",
    )?;
    println!(
        "   walkthrough: iptables -t nat -A PREROUTING -p tcp --dport 8080 \
         -j DNAT --to-destination 192.168.15.2:80\n   \
         netns: Nat::port_forward, hairpin for the pods' subnet and loopback"
    );
    let fwd = PortForward {
        proto: NatProto::Tcp,
        host_port: 8080,
        host_ip: None,
        to: "192.168.15.2".parse()?,
        to_port: 80,
    };
    let loopback: IpNet = "127.0.0.0/8".parse()?;
    let o = owner("blue");
    t.nat_owners.push((o.clone(), NatKind::PortForward));
    nat.port_forward(&o, &[fwd], &Hairpin::From(vec![subnet, loopback]))?;
    // Data only: the elements the table's fixed rules look up (map ports4
    // for the DNAT, set hairpin4 for the masquerade of hairpin traffic).
    print_added(&nat, &o, "fwd", &[])?;
    let listener = blue.run(|| TcpListener::bind("192.168.15.2:80"))??;
    let peer = tcp(
        ("outside", &outside),
        "blue",
        &listener,
        "10.0.0.1:8080".parse()?,
    )?;
    if peer.ip() != "10.0.0.2".parse::<IpAddr>()? {
        return Err(format!("blue saw {peer}, not outside's 10.0.0.2").into());
    }
    println!(
        "   blue saw {} (outside itself: the forward rewrote the destination only)",
        peer.ip()
    );
    let peer = tcp(
        ("red", &red),
        "blue",
        &listener,
        "192.168.15.5:8080".parse()?,
    )?;
    if peer.ip() != "192.168.15.5".parse::<IpAddr>()? {
        return Err(format!("blue saw {peer}, not the host's 192.168.15.5").into());
    }
    println!(
        "   blue saw {} (the host's bridge address: hairpin masquerade, so blue's \
         reply goes back through the host; red is another port of v-net-0, so \
         the bridge needs no hairpin mode)",
        peer.ip()
    );

    step(7, "the NAT removed")?;
    for (pod, kind) in [
        ("blue", NatKind::PortForward),
        ("red", NatKind::Masquerade),
        ("blue", NatKind::Masquerade),
    ] {
        remove_nat(&nat, &mut t.nat_owners, &owner(pod), kind)?;
    }
    cmd("conntrack -D -p tcp --orig-port-dst 8080");
    let n =
        Conntrack::new_in(&host)?.delete(&CtFilter::new(IpFamily::V4).proto(6).orig_dport(8080))?;
    println!("   deleted {n} conntrack entries of the forward");
    if has_nat_table(&nat)? {
        return Err(format!("table inet {NAT_TABLE} is still there").into());
    }
    let tables = nat.nft().tables()?;
    println!("   host: {} nftables tables left", tables.len());
    check_interrupt()?;
    println!("\nAll steps passed.");
    Ok(())
}

fn main() -> ExitCode {
    demo::main_with("tour", Tour::new, run)
}
