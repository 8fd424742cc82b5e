//! What the portmap tests share: the conflist (a bridge plugin with
//! host-local, then a portmap plugin), a host side with an `outside`
//! namespace that has no route to the pods, real TCP and UDP through the
//! forwards, and the oracles for "nothing left": `nft -j list ruleset` and
//! `conntrack -L`, compared whole.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use netns_core::{AddrSpec, Handle, LinkSpec, NetNs, NetnsDir};
pub use netns_testutil::nft::ruleset;
use netns_testutil::TempNetnsDir;
use serde_json::{json, Value};

use crate::cni_common::{Network, Pod, TempDir};

/// The pods' subnet and the bridge's (gateway) address.
pub const SUBNET: &str = "10.88.0.0/24";
pub const GATEWAY: &str = "10.88.0.1";
/// The host's address towards `outside`, and outside's own.
pub const HOST_IP: &str = "192.168.99.1";
pub const OUTSIDE_IP: &str = "192.168.99.2";
/// The same in IPv6, and the pods' IPv6 subnet and gateway (dual stack).
pub const HOST_IP6: &str = "fd99::1";
pub const OUTSIDE_IP6: &str = "fd99::2";
pub const SUBNET6: &str = "fd88::/64";
pub const GATEWAY6: &str = "fd88::1";

/// [`conflist`] with dual-stack IPAM (an IPv4 and an IPv6 range set).
pub fn conflist_dual(
    version: &str,
    bridge: &str,
    portmap: &str,
    data: &TempDir,
    extra: Value,
) -> Value {
    let mut c = conflist(version, bridge, portmap, data, extra);
    let ipam = &mut c["plugins"][0]["ipam"];
    let obj = ipam.as_object_mut().expect("ipam");
    obj.remove("subnet");
    obj.insert(
        "ranges".into(),
        json!([[{"subnet": SUBNET}], [{"subnet": SUBNET6}]]),
    );
    obj.insert(
        "routes".into(),
        json!([{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]),
    );
    c
}

/// A conflist `[bridge (type `bridge`), portmap (type `portmap`)]` on
/// `data`, the portmap plugin's own keys `extra` merged in.
pub fn conflist(version: &str, bridge: &str, portmap: &str, data: &TempDir, extra: Value) -> Value {
    let mut pm = json!({"type": portmap, "capabilities": {"portMappings": true}});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            pm[k] = v;
        }
    }
    json!({"cniVersion": version, "name": "pmnet", "plugins": [
        {"type": bridge, "bridge": "cni-pm0", "isGateway": true, "hairpinMode": true,
         "ipam": {"type": "host-local", "subnet": SUBNET, "dataDir": data.s(),
                  "routes": [{"dst": "0.0.0.0/0"}]}},
        pm
    ]})
}

/// The mappings the connectivity tests use: TCP 8080 -> 80 and UDP
/// 8053 -> 53 on any address, TCP 9090 -> 90 on HOST_IP only.
pub fn mappings() -> Value {
    json!({"portMappings": [
        {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
        {"hostPort": 8053, "containerPort": 53, "protocol": "udp"},
        {"hostPort": 9090, "containerPort": 90, "protocol": "tcp", "hostIP": HOST_IP},
    ]})
}

/// This (private) namespace as the host: lo up, an `outside` namespace
/// wired to it (`r-out` HOST_IP/24 here, eth0 OUTSIDE_IP/24 there, no
/// route to the pods). Keep the directory to the end.
pub fn outside() -> (TempNetnsDir, NetNs) {
    let tmp = TempNetnsDir::new();
    let outside = NetnsDir::new(tmp.path())
        .create("outside")
        .expect("outside");
    let h = Handle::new().expect("a handle");
    let lo = h.link_get("lo").expect("lo").index;
    h.link_set_up(lo).expect("lo up");
    h.link_add(&LinkSpec::veth("r-out", "eth0").peer_netns(&outside))
        .expect("veth");
    let me = h.link_get("r-out").expect("r-out").index;
    h.addr_add(&AddrSpec::new(
        me,
        format!("{HOST_IP}/24").parse().expect("addr"),
    ))
    .expect("address");
    h.link_set_up(me).expect("up");
    let o = outside.handle().expect("a handle there");
    let t = o.link_get("eth0").expect("eth0").index;
    o.addr_add(&AddrSpec::new(
        t,
        format!("{OUTSIDE_IP}/24").parse().expect("addr"),
    ))
    .expect("address");
    // IPv6 too, without duplicate address detection (usable at once).
    h.addr_add(&AddrSpec::new(me, format!("{HOST_IP6}/64").parse().expect("addr")).nodad())
        .expect("address");
    o.addr_add(&AddrSpec::new(t, format!("{OUTSIDE_IP6}/64").parse().expect("addr")).nodad())
        .expect("address");
    o.link_set_up(t).expect("up");
    let lo = o.link_get("lo").expect("lo").index;
    o.link_set_up(lo).expect("lo up");
    (tmp, outside)
}

fn sa(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().expect("an address"), port)
}

/// A TCP connection from `from` (None: this namespace) to `to`; the
/// address `listener` saw it from, or the client's error.
pub fn tcp_peer(
    from: Option<&NetNs>,
    listener: &TcpListener,
    to: SocketAddr,
) -> Result<IpAddr, String> {
    let connect = move || TcpStream::connect_timeout(&to, Duration::from_secs(5));
    let client = match from {
        Some(ns) => ns.run(connect).expect("run"),
        None => connect(),
    }
    .map_err(|e| format!("connect to {to}: {e}"))?;
    // Connected: the connection is in the listener's queue.
    let (_c, peer) = listener.accept().expect("accept");
    drop(client);
    Ok(peer.ip())
}

/// A UDP datagram from `from` to `to`, received by `server`, answered, and
/// the answer received: the address the server saw, or what failed.
pub fn udp_peer(
    from: Option<&NetNs>,
    server: &UdpSocket,
    to: SocketAddr,
) -> Result<IpAddr, String> {
    let client = {
        let bind = move || -> std::io::Result<UdpSocket> {
            let s = UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.send_to(b"ping", to)?;
            Ok(s)
        };
        match from {
            Some(ns) => ns.run(bind).expect("run"),
            None => bind(),
        }
        .map_err(|e| format!("send to {to}: {e}"))?
    };
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 16];
    let (n, peer) = server
        .recv_from(&mut buf)
        .map_err(|e| format!("the datagram to {to} did not arrive: {e}"))?;
    assert_eq!(&buf[..n], b"ping");
    server.send_to(b"pong", peer).expect("answer");
    let (n, _) = client
        .recv_from(&mut buf)
        .map_err(|e| format!("the answer from {to} did not come back: {e}"))?;
    assert_eq!(&buf[..n], b"pong");
    Ok(peer.ip())
}

/// The pod's first IPv4 address in an ADD result.
pub fn pod_ip(result: &Value) -> String {
    result["ips"]
        .as_array()
        .and_then(|a| a.iter().find_map(|i| i["address"].as_str()))
        .and_then(|a| a.split('/').next())
        .expect("an address in the result")
        .to_string()
}

/// What each client of [`mappings`] is seen as by the server in `pod1`
/// (its address `ip`), as JSON: outside -> HOST_IP:8080 (TCP), :8053
/// (UDP), :9090 (TCP, hostIP), the host -> 127.0.0.1:8080 (TCP) and
/// 127.0.0.1:9090 (hostIP: not forwarded), `pod2` -> HOST_IP:8080
/// (hairpin through the bridge) and `pod1` -> HOST_IP:8080 (its own port).
pub fn connectivity(outside: &NetNs, pod1: &Pod, ip: &str, pod2: &Pod) -> Value {
    let p1 = NetNs::open(pod1.path()).expect("pod1");
    let p2 = NetNs::open(pod2.path()).expect("pod2");
    let ip = ip.to_string();
    let web = {
        let a = sa(&ip, 80);
        p1.run(move || TcpListener::bind(a))
            .expect("run")
            .unwrap_or_else(|e| {
                panic!(
                    "listen on {ip}:80 in {}: {e}: {}",
                    pod1.path().display(),
                    pod1.ip_json(&["addr"])
                )
            })
    };
    let other = {
        let ip = ip.clone();
        p1.run(move || TcpListener::bind(sa(&ip, 90)))
            .expect("run")
            .expect("listen")
    };
    let dns = {
        let ip = ip.clone();
        p1.run(move || UdpSocket::bind(sa(&ip, 53)))
            .expect("run")
            .expect("bind")
    };
    let show = |r: Result<IpAddr, String>| match r {
        Ok(a) => json!(a.to_string()),
        Err(e) => json!({"error": e.split(':').next().unwrap_or_default()}),
    };
    json!({
        "outside tcp": show(tcp_peer(Some(outside), &web, sa(HOST_IP, 8080))),
        "outside udp": show(udp_peer(Some(outside), &dns, sa(HOST_IP, 8053))),
        "outside tcp hostIP": show(tcp_peer(Some(outside), &other, sa(HOST_IP, 9090))),
        "localhost tcp": show(tcp_peer(None, &web, sa("127.0.0.1", 8080))),
        "localhost udp": show(udp_peer(None, &dns, sa("127.0.0.1", 8053))),
        "pod2 hairpin tcp": show(tcp_peer(Some(&p2), &web, sa(HOST_IP, 8080))),
        "pod2 hairpin udp": show(udp_peer(Some(&p2), &dns, sa(HOST_IP, 8053))),
        "pod1 own port tcp": show(tcp_peer(Some(&p1), &web, sa(HOST_IP, 8080))),
    })
}

/// The pod's first IPv6 address in an ADD result.
pub fn pod_ip6(result: &Value) -> String {
    result["ips"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .filter_map(|i| i["address"].as_str())
                .find(|a| a.contains(':'))
        })
        .and_then(|a| a.split('/').next())
        .expect("an IPv6 address in the result")
        .to_string()
}

/// [`connectivity`] in IPv6 (`ip` the pod's IPv6 address): outside ->
/// [HOST_IP6]:8080 (TCP) and :8053 (UDP), `pod2` -> [HOST_IP6]:8080
/// (hairpin). (Loopback is not forwarded in IPv6: the kernel never routes
/// ::1 out of the host.)
pub fn connectivity6(outside: &NetNs, pod1: &Pod, ip: &str, pod2: &Pod) -> Value {
    let p1 = NetNs::open(pod1.path()).expect("pod1");
    let p2 = NetNs::open(pod2.path()).expect("pod2");
    let (a80, a53) = (sa(ip, 80), sa(ip, 53));
    let web = p1
        .run(move || TcpListener::bind(a80))
        .expect("run")
        .expect("listen");
    let dns = p1
        .run(move || UdpSocket::bind(a53))
        .expect("run")
        .expect("bind");
    let show = |r: Result<IpAddr, String>| match r {
        Ok(a) => json!(a.to_string()),
        Err(e) => json!({"error": e.split(':').next().unwrap_or_default()}),
    };
    json!({
        "outside tcp6": show(tcp_peer(Some(outside), &web, sa(HOST_IP6, 8080))),
        "outside udp6": show(udp_peer(Some(outside), &dns, sa(HOST_IP6, 8053))),
        "pod2 hairpin tcp6": show(tcp_peer(Some(&p2), &web, sa(HOST_IP6, 8080))),
    })
}

/// What [`connectivity6`]'s clients must be seen as.
pub fn expected_connectivity6() -> Value {
    json!({
        "outside tcp6": OUTSIDE_IP6,
        "outside udp6": OUTSIDE_IP6,
        "pod2 hairpin tcp6": GATEWAY6,
    })
}

/// What every client must see (the reference's behaviour too): outside
/// clients keep their address; loopback and pods are masqueraded to the
/// bridge's address.
pub fn expected_connectivity() -> Value {
    json!({
        "outside tcp": OUTSIDE_IP,
        "outside udp": OUTSIDE_IP,
        "outside tcp hostIP": OUTSIDE_IP,
        "localhost tcp": GATEWAY,
        "localhost udp": GATEWAY,
        "pod2 hairpin tcp": GATEWAY,
        "pod2 hairpin udp": GATEWAY,
        "pod1 own port tcp": GATEWAY,
    })
}

/// A table of someone else's in this namespace (`inet other`, a
/// prerouting chain counting new connections), which nothing of ours may
/// touch; its `ct` match also turns conntrack on in the namespace (the
/// kernel tracks connections in a namespace only once something there
/// asks for it).
pub fn someone_elses_table() {
    use std::io::Write as _;
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run nft");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            b"table inet other {\n chain pre {\n  type filter hook prerouting priority -300;\n  \
              ct state new counter\n }\n}\n",
        )
        .expect("write");
    assert!(
        child.wait().expect("wait").success(),
        "nft -f refused the table"
    );
}

/// A TCP connection from `from` to `to` fails (nothing forwards it).
pub fn tcp_refused(from: &NetNs, to: &str) -> bool {
    let to: SocketAddr = to.parse().expect("addr");
    from.run(move || TcpStream::connect_timeout(&to, Duration::from_secs(5)))
        .expect("run")
        .is_err()
}

/// `conntrack -L` of this namespace, both families: each TCP, UDP and
/// SCTP entry's protocol and tuples (the countdown and state, which change
/// by themselves, left out), sorted. Other protocols are left out: the
/// kernel's own IGMP and ICMPv6 traffic when links come up adds entries of
/// those at any time.
pub fn conntrack_table() -> Vec<String> {
    let mut all = Vec::new();
    for f in ["ipv4", "ipv6"] {
        let out = Command::new("conntrack")
            .args(["-L", "-f", f])
            .output()
            .expect("run conntrack (Debian's conntrack package)");
        assert!(
            out.status.success(),
            "conntrack -L: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let mut words = line.split_whitespace();
            let proto = words.next().unwrap_or_default().to_string();
            if !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
                continue;
            }
            let tuple: Vec<&str> = words
                .filter(|w| {
                    ["src=", "dst=", "sport=", "dport="]
                        .iter()
                        .any(|k| w.starts_with(k))
                })
                .collect();
            all.push(format!("{proto} {}", tuple.join(" ")));
        }
    }
    all.sort();
    all
}

/// The NAT table's chains and the owner each names (its comment).
pub fn nat_owners() -> Vec<String> {
    let mut v: Vec<String> = netns_core::Nat::new()
        .expect("nat")
        .list()
        .expect("list")
        .into_iter()
        .map(|e| {
            format!(
                "{} {}",
                e.chain.split('-').next().unwrap_or_default(),
                e.owner
            )
        })
        .collect();
    v.sort();
    v
}

/// A plugin directory holding a `netns-portmap` that runs `real` with
/// `NETNS_TEST_KILL_AT=step` (put it first in the search path).
pub fn killing_wrapper(real: &Path, step: &str) -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("pm-kill");
    let script = dir.path().join("netns-portmap");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nNETNS_TEST_KILL_AT={step} exec '{}' \"$@\"\n",
            real.display()
        ),
    )
    .expect("write the wrapper");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// `net`'s ADD of `pod` as container `id`, with the capability args `cap`.
pub fn add(net: &Network, pod: &Pod, id: &str, cap: &Value) -> crate::cni_common::Outcome {
    net.run(&crate::cni_common::Call::on("add", pod, id, "eth0").cap(cap.clone()))
}

/// `net`'s DEL of `pod` as container `id`, with the capability args `cap`.
pub fn del(net: &Network, pod: &Pod, id: &str, cap: &Value) -> crate::cni_common::Outcome {
    net.run(&crate::cni_common::Call::on("del", pod, id, "eth0").cap(cap.clone()))
}

/// `net`'s CHECK of `pod` as container `id`, with the capability args `cap`.
pub fn check(net: &Network, pod: &Pod, id: &str, cap: &Value) -> crate::cni_common::Outcome {
    net.run(&crate::cni_common::Call::on("check", pod, id, "eth0").cap(cap.clone()))
}
