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
//!    ("outside", 10.0.0.2) proves the forwarding.
//!
//! Each step prints the state it produced, `ip -br` style. Everything lives
//! in namespaces the tour creates, named in a private netns directory (not
//! /run/netns), so the real host's links and routes are never touched; all of
//! it is removed at the end, also when a step fails or the tour is
//! interrupted (SIGINT/SIGTERM are caught and checked between steps).
//!
//! Run as root: `cargo run --example tour`.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use netns_core::{
    AddrFilter, AddrSpec, Handle, IpNet, LinkFilter, LinkSpec, NetNs, NetnsDir, RouteFilter,
    RouteSpec, Sysctl,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

fn check_interrupt() -> Res<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err("interrupted".into());
    }
    Ok(())
}

/// Everything the tour made; removed on drop, whatever happened.
struct Tour {
    dir: NetnsDir,
    names: Vec<String>,
}

impl Tour {
    fn new() -> Res<Tour> {
        let path = std::env::temp_dir().join(format!("netns-tour-{}", std::process::id()));
        Ok(Tour {
            dir: NetnsDir::new(path),
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
}

impl Drop for Tour {
    fn drop(&mut self) {
        println!("\n== cleanup");
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

/// `ip -br link` + `ip -br addr` + `ip route` of one namespace.
fn show(name: &str, h: &Handle) -> Res<()> {
    println!("   [{name}]");
    let addrs = h.addrs(&AddrFilter::new())?;
    for l in h.links(&LinkFilter::new())? {
        let a: Vec<String> = addrs
            .iter()
            .filter(|a| {
                a.link_index == l.index && !a.addr().is_loopback() && !is_link_local(&a.addr())
            })
            .map(|a| a.prefix.to_string())
            .collect();
        println!("     {}  {}", l.brief(), a.join(" "));
    }
    for r in h.routes(
        &RouteFilter::new()
            .family(netns_core::IpFamily::V4)
            .table(254),
    )? {
        let dev = match r.link_index {
            Some(i) => h
                .link_get(i)
                .map(|l| l.name)
                .unwrap_or_else(|_| i.to_string()),
            None => "-".into(),
        };
        let dst = if r.dst.prefix_len() == 0 {
            "default".to_owned()
        } else {
            r.dst.to_string()
        };
        match r.gateway {
            Some(g) => println!("     route {dst} via {g} dev {dev}"),
            None => println!("     route {dst} dev {dev}"),
        }
    }
    Ok(())
}

fn is_link_local(a: &IpAddr) -> bool {
    match a {
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        IpAddr::V4(v4) => v4.is_link_local(),
    }
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
    std::thread::scope(|s| -> Res<()> {
        let srv = s.spawn(move || -> std::io::Result<()> {
            let (mut conn, peer) = listener.accept()?;
            let mut buf = [0u8; 64];
            let n = conn.read(&mut buf)?;
            conn.write_all(&buf[..n])?;
            println!("   {} accepted from {peer}", server.0);
            Ok(())
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
        let reply = reply.map_err(|e| format!("TCP {} -> {} ({to}): {e}", client.0, server.0))?;
        srv.join().map_err(|_| "server thread panicked")??;
        if reply != format!("hello from {}", client.0) {
            return Err(format!("unexpected echo {reply:?}").into());
        }
        println!(
            "   OK: TCP {} -> {} at {to}, echo {reply:?}",
            client.0, server.0
        );
        Ok(())
    })
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
    let (red, hr) = t.namespace("red")?;
    let (blue, hb) = t.namespace("blue")?;
    show("red", &hr)?;
    show("blue", &hb)?;

    step(2, "a veth pair red <-> blue, 192.168.15.1/24 and .2/24")?;
    // Created from red, the peer placed directly into blue.
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
    hr.link_del("veth-red")?; // the blue end goes with it
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
    check_interrupt()?;
    println!("\nAll steps passed.");
    Ok(())
}

fn main() -> ExitCode {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
    let mut tour = match Tour::new() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tour: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = run(&mut tour);
    drop(tour);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\ntour failed: {e}");
            ExitCode::FAILURE
        }
    }
}
