//! netns-bridge against the reference bridge plugin (/usr/lib/cni/bridge,
//! containernetworking-plugins 1.1.1), both driven by libcni 1.1.2 through
//! the project's driver (examples/cni-driver): the same conflist with only
//! `"type"` changed, on fresh namespaces (the plugins' host side in a
//! private one, pods in temporary netns directories). Equal after
//! normalising MACs and veth names (tests/cni_common): every ADD result,
//! `ip -j -d link/addr/route` and the sysctls of the host side and of every
//! pod after ADD, CHECK of every pod, and both sides after DEL.
//!
//! Where netns-bridge deliberately differs, the test says so and checks
//! the difference exactly.

netns_testutil::host_only!("needs go and the reference plugins, which the VM image lacks");

mod cni_common;

use cni_common::*;
use netns_testutil::{in_private_netns, ip};
use serde_json::{json, Value};

/// The reference plugin's type and ours.
const REFERENCE: &str = "bridge";
const OURS: &str = "netns-bridge";

/// One pod of a scenario: its container id, and CNI_ARGS if any.
#[derive(Clone)]
struct PodSpec {
    id: &'static str,
    args: Option<&'static str>,
    /// Set-up inside the pod's namespace before its ADD (`ip` arguments).
    pre: Option<&'static [&'static str]>,
    /// ADD with a CNI_NETNS that does not exist.
    missing_netns: bool,
}

impl PodSpec {
    fn new(id: &'static str) -> PodSpec {
        PodSpec {
            id,
            args: None,
            pre: None,
            missing_netns: false,
        }
    }
}

fn pods(n: usize) -> Vec<PodSpec> {
    ["c1", "c2", "c3", "c4"][..n]
        .iter()
        .map(|id| PodSpec::new(id))
        .collect()
}

/// A scenario: a conflist (its first plugin's type is set per run), the
/// pods, and what to do on the host side first.
struct Scenario {
    conf: Value,
    pods: Vec<PodSpec>,
    /// Host-side set-up in the plugins' namespace before any ADD.
    pre: fn(),
}

fn nothing() {}

/// The conflist of `s` for plugin type `ty`, its IPAM on `data`.
fn conflist(s: &Scenario, ty: &str, data: &TempDir) -> Value {
    let mut c = s.conf.clone();
    c["plugins"][0]["type"] = json!(ty);
    if let Some(ipam) = c["plugins"][0].get_mut("ipam") {
        if ipam.get("dataDir").is_some() {
            ipam["dataDir"] = json!(data.s());
        }
    }
    c
}

/// An outcome as the two plugins must agree on it: a result (normalised),
/// or an error code.
fn outcome(o: &Outcome, t: &mut Tokens) -> Value {
    if o.ok() {
        if o.stdout.trim().is_empty() {
            json!("ok")
        } else {
            normalise_result(o.result(), t)
        }
    } else {
        json!({"code": o.code()})
    }
}

/// Everything one plugin does in a scenario, normalised: ADD results (or
/// codes), the host side and the pods after the ADDs, CHECKs, and both sides
/// after DEL. Also returns the error messages, for the reader.
fn observe(s: &Scenario, ty: &str) -> (Value, Vec<String>) {
    let paths = if ty == OURS {
        our_path()
    } else {
        reference_path()
    };
    in_private_netns(|| {
        ip(["link", "set", "lo", "up"]);
        let data = TempDir::new("ipam");
        let net = Network::new(conflist(s, ty, &data), paths);
        (s.pre)();
        let mut t = Tokens::new();
        let pods: Vec<Pod> = s.pods.iter().map(|p| Pod::new(p.id)).collect();
        let mut msgs = Vec::new();
        let mut adds = Vec::new();
        let mut left = Vec::new();
        for (spec, pod) in s.pods.iter().zip(&pods) {
            if let Some(args) = spec.pre {
                let mut c = std::process::Command::new("nsenter");
                c.arg(format!("--net={}", pod.path().display()))
                    .arg("ip")
                    .args(args);
                assert!(
                    c.status().expect("nsenter ip").success(),
                    "pod set-up {args:?}"
                );
            }
            let mut call = Call::on("add", pod, spec.id, "eth0");
            if let Some(a) = spec.args {
                call = call.args(a);
            }
            if spec.missing_netns {
                call = call.netns(pod.path().with_file_name("no-such-netns"));
            }
            // What a failed ADD leaves, compared with before it (with a
            // Tokens of its own: the same objects get the same names), but
            // for the bridge itself (shared, it stays: see
            // `errors_alike`) and host-local's own bookkeeping files.
            let before = (Snapshot::here(), pod.snapshot(), ipam_files(&data, "t"));
            let o = net.run(&call);
            if o.ok() {
                check_result(o.result(), pod);
            } else {
                msgs.push(format!("{ty} ADD {}: {}", spec.id, o.msg()));
                let after = (Snapshot::here(), pod.snapshot(), ipam_files(&data, "t"));
                let norm = |s: &(Snapshot, Snapshot, Vec<String>)| {
                    let mut t = Tokens::new();
                    let reservations: Vec<&String> =
                        s.2.iter()
                            .filter(|f| *f != "lock" && !f.starts_with("last_reserved_ip."))
                            .collect();
                    json!([
                        without_link(s.0.normalised(&mut t).as_value(), BRIDGE),
                        s.1.normalised(&mut t).as_value(),
                        reservations
                    ])
                };
                left.push(diff(&norm(&before), &norm(&after)));
            }
            adds.push(outcome(&o, &mut t));
        }
        let host_added = Snapshot::here().normalised(&mut t).as_value();
        let pods_added: Vec<Value> = pods
            .iter()
            .map(|p| p.snapshot().normalised(&mut t).as_value())
            .collect();
        let checks: Vec<Value> = s
            .pods
            .iter()
            .zip(&pods)
            .zip(&adds)
            .map(|((spec, pod), add)| {
                if add.get("code").is_some() {
                    return json!("no ADD");
                }
                let o = net.check(pod, spec.id, "eth0");
                if !o.ok() {
                    msgs.push(format!("{ty} CHECK {}: {}", spec.id, o.msg()));
                }
                outcome(&o, &mut t)
            })
            .collect();
        let dels: Vec<Value> = s
            .pods
            .iter()
            .zip(&pods)
            .map(|(spec, pod)| outcome(&net.del(pod, spec.id, "eth0"), &mut t))
            .collect();
        let host_deleted = Snapshot::here().normalised(&mut t).as_value();
        let pods_deleted: Vec<Value> = pods
            .iter()
            .map(|p| p.snapshot().normalised(&mut t).as_value())
            .collect();
        let ipam_left = ipam_files(&data, s.conf["name"].as_str().unwrap_or_default());
        (
            json!({
                "adds": adds, "host_added": host_added, "pods_added": pods_added,
                "checks": checks, "dels": dels, "host_deleted": host_deleted,
                "pods_deleted": pods_deleted, "ipam_left": ipam_left,
                "failed_adds_left": left,
            }),
            msgs,
        )
    })
}

/// The bridge of every scenario.
const BRIDGE: &str = "cni-t0";

/// A normalised snapshot without the link `name`: its entry in the links,
/// addresses and sysctls, and the routes through it.
fn without_link(mut v: Value, name: &str) -> Value {
    for key in ["links", "addrs"] {
        if let Some(a) = v[key].as_array_mut() {
            a.retain(|l| l["ifname"] != name);
        }
    }
    for key in ["routes4", "routes6"] {
        if let Some(a) = v[key].as_array_mut() {
            a.retain(|r| r["dev"] != name);
        }
    }
    if let Some(o) = v["sysctls"]["links"].as_object_mut() {
        o.remove(name);
    }
    v
}

/// Run `s` with both plugins; they must agree on everything (see
/// [`with_upstream_fixes`]). Returns ours and the reference's.
fn both(name: &str, s: &Scenario) -> (Value, Value) {
    let (reference, rmsgs) = observe(s, REFERENCE);
    let (ours, omsgs) = observe(s, OURS);
    for m in rmsgs.iter().chain(&omsgs) {
        eprintln!("{name}: {m}");
    }
    (ours, with_upstream_fixes(reference))
}

/// [`both`], asserting they are the same; returns ours. Every pod that
/// was added is back to its loopback alone after DEL.
fn same(name: &str, s: &Scenario) -> Value {
    let (ours, reference) = both(name, s);
    assert_same(name, &ours, &reference);
    for (i, p) in ours["pods_deleted"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let names: Vec<&Value> = p["links"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| &l["ifname"])
            .collect();
        assert_eq!(names, [&json!("lo")], "{name}: pod {i} after DEL");
    }
    ours
}

fn net(plugin: Value) -> Value {
    json!({"cniVersion": "1.0.0", "name": "t", "plugins": [plugin]})
}

fn ipam4(subnet: &str) -> Value {
    json!({"type": "host-local", "subnet": subnet, "dataDir": "set per run"})
}

fn ipam_dual(v4: &str, v6: &str) -> Value {
    json!({"type": "host-local", "dataDir": "set per run",
           "ranges": [[{"subnet": v4}], [{"subnet": v6}]]})
}

fn bridge(extra: Value) -> Value {
    let mut p = json!({"bridge": "cni-t0"});
    if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    p
}

fn one(conf: Value) -> Scenario {
    Scenario {
        conf: net(conf),
        pods: pods(1),
        pre: nothing,
    }
}

#[test]
fn gateway_v4() {
    let ours = same(
        "gateway_v4",
        &one(bridge(
            json!({"isGateway": true, "ipam": ipam4("10.77.0.0/24")}),
        )),
    );
    assert_eq!(ours["checks"], json!(["ok"]));
    assert_eq!(ours["dels"], json!(["ok"]));
}

#[test]
fn default_gateway_dual_stack() {
    let ours = same(
        "default_gateway_dual_stack",
        &one(bridge(json!({"isDefaultGateway": true,
                           "ipam": ipam_dual("10.77.0.0/24", "fd77::/64")}))),
    );
    assert_eq!(ours["checks"], json!(["ok"]));
    // Both default routes, via the bridge's addresses.
    let routes = &ours["adds"][0]["routes"];
    assert_eq!(
        routes,
        &json!([{"dst": "0.0.0.0/0", "gw": "10.77.0.1"}, {"dst": "::/0", "gw": "fd77::1"}])
    );
}

#[test]
fn hairpin_mode() {
    same(
        "hairpin_mode",
        &one(bridge(
            json!({"isGateway": true, "hairpinMode": true, "ipam": ipam4("10.77.0.0/24")}),
        )),
    );
}

#[test]
fn mtu() {
    same(
        "mtu",
        &one(bridge(
            json!({"isGateway": true, "mtu": 1400, "ipam": ipam4("10.77.0.0/24")}),
        )),
    );
}

#[test]
fn promisc_mode() {
    same(
        "promisc_mode",
        &one(bridge(
            json!({"isGateway": true, "promiscMode": true, "ipam": ipam4("10.77.0.0/24")}),
        )),
    );
}

#[test]
fn layer_2_only() {
    let (ours, mut reference) = both("layer_2_only", &one(bridge(json!({}))));
    // The reference's CHECK of a config without IPAM delegates to an IPAM
    // plugin named "" and fails ("no plugin name provided"); netns-bridge's
    // checks what there is and passes. Everything else is the same.
    assert_eq!(reference["checks"], json!([{"code": 999}]));
    assert_eq!(ours["checks"], json!(["ok"]));
    reference["checks"] = json!(["ok"]);
    assert_same("layer_2_only", &ours, &reference);
}

#[test]
fn two_pods_on_one_bridge_and_a_mac_from_cni_args() {
    let mut p = pods(2);
    p[1].args = Some("IgnoreUnknown=1;K8S_POD_NAME=p2;MAC=c2:00:00:00:00:02");
    let ours = same(
        "two_pods",
        &Scenario {
            conf: net(bridge(
                json!({"isGateway": true, "ipam": ipam4("10.77.0.0/24")}),
            )),
            pods: p,
            pre: nothing,
        },
    );
    assert_eq!(ours["checks"], json!(["ok", "ok"]));
}

fn existing_bridge() {
    ip(["link", "add", "cni-t0", "mtu", "1300", "type", "bridge"]);
    ip(["addr", "add", "10.99.0.1/24", "dev", "cni-t0"]);
}

#[test]
fn an_existing_bridge_keeps_its_settings() {
    same(
        "an_existing_bridge",
        &Scenario {
            conf: net(bridge(json!({"ipam": ipam4("10.77.0.0/24")}))),
            pods: pods(1),
            pre: existing_bridge,
        },
    );
}

#[test]
fn force_address_replaces_the_bridges_address_and_without_it_the_add_fails() {
    let ours = same(
        "force_address",
        &Scenario {
            conf: net(bridge(
                json!({"isGateway": true, "forceAddress": true, "ipam": ipam4("10.77.0.0/24")}),
            )),
            pods: pods(1),
            pre: existing_bridge,
        },
    );
    assert_eq!(ours["checks"], json!(["ok"]));
    let s = Scenario {
        conf: net(bridge(
            json!({"isGateway": true, "ipam": ipam4("10.77.0.0/24")}),
        )),
        pods: pods(1),
        pre: existing_bridge,
    };
    errors_alike("no_force_address", &s, &[999]);
}

#[test]
fn routes_and_dns_of_the_config() {
    let mut ipam = ipam4("10.77.0.0/24");
    ipam["routes"] = json!([{"dst": "10.10.0.0/16", "gw": "10.77.0.254"}, {"dst": "0.0.0.0/0"}]);
    let mut conf = bridge(json!({"isGateway": true, "ipam": ipam}));
    conf["dns"] = json!({"nameservers": ["10.77.0.53"], "search": ["example.test"]});
    let ours = same("routes_and_dns", &one(conf));
    assert_eq!(ours["adds"][0]["dns"]["nameservers"], json!(["10.77.0.53"]));
}

#[test]
fn older_spec_versions() {
    for v in ["0.3.1", "0.4.0"] {
        let mut s = one(bridge(
            json!({"isGateway": true, "ipam": ipam4("10.77.0.0/24")}),
        ));
        s.conf["cniVersion"] = json!(v);
        let ours = same(&format!("spec {v}"), &s);
        assert_eq!(ours["adds"][0]["cniVersion"], v);
    }
}

#[test]
fn chained_with_the_reference_tuning_plugin() {
    let mut s = one(bridge(
        json!({"isGateway": true, "ipam": ipam4("10.77.0.0/24")}),
    ));
    s.conf["plugins"].as_array_mut().expect("plugins").push(
        json!({"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.arp_notify": "0"},
                     "mtu": 1280}),
    );
    let ours = same("tuning", &s);
    // tuning got netns-bridge's result as prevResult and passed it on.
    assert_eq!(ours["adds"][0]["interfaces"][2]["name"], "eth0");
    assert_eq!(
        ours["pods_added"][0]["sysctls"]["links"]["eth0"]["ipv4.arp_notify"],
        "0"
    );
}

/// Run only the ADDs of `s` with both plugins: the same error codes
/// (`codes`, one per failing ADD), and netns-bridge's failed ADDs leave
/// nothing behind (what the reference's leave is printed) but the bridge:
/// created or brought up before anything can fail, it is shared by the
/// network's pods and stays, as with the reference (removing it would race
/// with other pods' ADDs, plugins#283); a failure that can be found before
/// (a missing namespace, a taken interface name, a bad config) leaves no
/// bridge either.
fn errors_alike(name: &str, s: &Scenario, codes: &[i64]) {
    let (ours, reference) = both(name, s);
    let failed = |v: &Value| -> Vec<i64> {
        v["adds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["code"].as_i64())
            .collect()
    };
    assert_eq!(failed(&reference), codes, "{name}: the reference's codes");
    assert_eq!(failed(&ours), codes, "{name}: netns-bridge's codes");
    for d in reference["failed_adds_left"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if d.as_array().is_some_and(|a| !a.is_empty()) {
            eprintln!("{name}: the reference's failed ADD left: {d}");
        }
    }
    for d in ours["failed_adds_left"].as_array().into_iter().flatten() {
        assert_eq!(
            d,
            &json!([]),
            "{name}: netns-bridge's failed ADD left something"
        );
    }
}

#[test]
fn errors_have_the_references_codes_and_leave_nothing() {
    let with = |extra: Value| one(bridge(extra));
    errors_alike(
        "a key of the wrong type",
        &with(json!({"mtu": "1500", "ipam": ipam4("10.77.0.0/24")})),
        &[999],
    );
    errors_alike(
        "bridge name too long",
        &one(json!({"bridge": "cni-name-too-long0", "ipam": ipam4("10.77.0.0/24")})),
        &[999],
    );
    errors_alike(
        "hairpin and promisc",
        &with(json!({"hairpinMode": true, "promiscMode": true, "ipam": ipam4("10.77.0.0/24")})),
        &[999],
    );
    errors_alike(
        "vlan out of range",
        &with(json!({"vlan": 4095, "ipam": ipam4("10.77.0.0/24")})),
        &[999],
    );
    let mut p = pods(1);
    p[0].pre = Some(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    errors_alike(
        "the interface name is taken in the pod",
        &Scenario {
            conf: net(bridge(json!({"ipam": ipam4("10.77.0.0/24")}))),
            pods: p,
            pre: nothing,
        },
        &[999],
    );
    let mut p = pods(1);
    p[0].missing_netns = true;
    errors_alike(
        "the pod's namespace does not exist",
        &Scenario {
            conf: net(bridge(json!({"ipam": ipam4("10.77.0.0/24")}))),
            pods: p,
            pre: nothing,
        },
        &[999],
    );
    // A /30 has one address to give (.2; .1 is the gateway).
    errors_alike(
        "IPAM exhausted",
        &Scenario {
            conf: net(bridge(
                json!({"isGateway": true, "ipam": ipam4("10.77.0.0/30")}),
            )),
            pods: pods(2),
            pre: nothing,
        },
        &[999],
    );
}

#[test]
fn a_route_without_a_gateway_is_checked_via_the_one_add_used() {
    let mut ipam = ipam4("10.77.0.0/24");
    ipam["routes"] = json!([{"dst": "10.10.0.0/16"}]);
    let s = one(bridge(json!({"isGateway": true, "ipam": ipam})));
    let (ours, mut reference) = both("route_without_gateway", &s);
    // ADD installs it via the address's gateway, then the reference's
    // CHECK looks for it without one and fails.
    let r = &ours["pods_added"][0]["routes4"];
    assert!(
        r.as_array()
            .into_iter()
            .flatten()
            .any(|r| r["dst"] == "10.10.0.0/16" && r["gateway"] == "10.77.0.1"),
        "{r}"
    );
    assert_eq!(reference["checks"], json!([{"code": 999}]));
    assert_eq!(ours["checks"], json!(["ok"]));
    reference["checks"] = json!(["ok"]);
    assert_same("route_without_gateway", &ours, &reference);
}

#[test]
fn dns_from_ipam_is_kept_when_the_config_sets_none() {
    let resolv = TempDir::new("resolv");
    let file = resolv.path().join("resolv.conf");
    std::fs::write(&file, "nameserver 10.77.0.53\nsearch example.test\n").expect("write");
    let mut ipam = ipam4("10.77.0.0/24");
    ipam["resolvConf"] = json!(file.display().to_string());
    let s = one(bridge(json!({"isGateway": true, "ipam": ipam})));
    let (ours, mut reference) = both("dns_from_ipam", &s);
    // The reference (1.1.1) replaces the IPAM result's DNS with the
    // config's, empty here; later versions and netns-bridge keep IPAM's.
    let want = json!({"nameservers": ["10.77.0.53"], "search": ["example.test"]});
    assert_eq!(ours["adds"][0]["dns"], want);
    assert_eq!(reference["adds"][0]["dns"], json!({}));
    reference["adds"][0]["dns"] = want;
    assert_same("dns_from_ipam", &ours, &reference);
}

#[test]
fn disable_container_interface_leaves_it_down() {
    // The reference 1.1.1 does not know the key (later versions do): the
    // same config without it is what it is compared with.
    let with = one(bridge(json!({"disableContainerInterface": true})));
    let without = one(bridge(json!({})));
    let (ours, _) = observe(&with, OURS);
    let (mut reference, _) = observe(&without, REFERENCE);
    reference = with_upstream_fixes(reference);
    let eth0 = |v: &Value| -> Value {
        v["pods_added"][0]["links"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["ifname"] == "eth0")
            .cloned()
            .unwrap_or_default()
    };
    let (o, r) = (eth0(&ours), eth0(&reference));
    assert_eq!(o["flags"], json!(["BROADCAST", "MULTICAST"]), "{o}");
    assert_eq!(r["flags"], json!(["BROADCAST", "MULTICAST", "UP"]), "{r}");
    assert_eq!(ours["checks"], json!(["ok"]));
    // With IPAM the key is refused before anything is made.
    let s = one(bridge(
        json!({"disableContainerInterface": true, "ipam": ipam4("10.77.0.0/24")}),
    ));
    let (ours, _) = observe(&s, OURS);
    assert_eq!(ours["adds"], json!([{"code": 999}]));
    assert_eq!(ours["failed_adds_left"], json!([[]]));
    assert_eq!(
        ours["host_added"]["links"].as_array().map(Vec::len),
        Some(1),
        "only lo"
    );
}

#[test]
fn ip_masq_and_macspoofchk_are_done_not_refused() {
    // They used to be refused (code 2); now ADD, CHECK and DEL work, and
    // DEL leaves the host as before (tests/bridge_nat.rs judges the
    // nftables side and the traffic).
    for key in ["ipMasq", "macspoofchk"] {
        let mut p = bridge(json!({"isGateway": true, "ipam": ipam4("10.77.0.0/24")}));
        p[key] = json!(true);
        let (ours, msgs) = observe(&one(p), OURS);
        assert_eq!(ours["checks"], json!(["ok"]), "{key}: {msgs:?}");
        assert_eq!(ours["dels"], json!(["ok"]), "{key}: {msgs:?}");
    }
}

#[test]
fn gc_releases_the_reservations_of_attachments_not_valid_and_status_is_ready() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let mut conf = net(bridge(
            json!({"isGateway": true, "ipam": ipam4("10.77.0.0/24")}),
        ));
        conf["plugins"][0]["type"] = json!(OURS);
        conf["plugins"][0]["ipam"]["dataDir"] = json!(data.s());
        // libcni 1.1.2 reads results up to 1.0.0 only: the pods are added
        // with the 1.0.0 list; GC and STATUS (1.1) go with the same list
        // as 1.1.0, sharing its cache.
        let net = Network::new(&conf, our_path());
        conf["cniVersion"] = json!("1.1.0");
        let net11 = Network::with_cache_dir(&conf, our_path(), net.cache_dir());
        net11.status().expect_ok();
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        net.add(&p1, "c1", "eth0").expect_ok();
        net.add(&p2, "c2", "eth0").expect_ok();
        assert_eq!(
            ipam_files(&data, "t"),
            ["10.77.0.2", "10.77.0.3", "last_reserved_ip.0", "lock"]
        );
        // The runtime lost c2 (no cached attachment to DEL): only the
        // plugin's GC can release its address.
        let cached = net.cache_dir().join("results").join("t-c2-eth0");
        std::fs::remove_file(&cached).expect("drop c2 from libcni's cache");
        net11.gc(&[("c1", "eth0")]).expect_ok();
        assert_eq!(
            ipam_files(&data, "t"),
            ["10.77.0.2", "last_reserved_ip.0", "lock"]
        );
        net.check(&p1, "c1", "eth0").expect_ok();
        net.del(&p1, "c1", "eth0").expect_ok();
        net.del(&p2, "c2", "eth0").expect_ok();
        assert_eq!(p1.ifnames(), ["lo"]);
        assert_eq!(p2.ifnames(), ["lo"]);
    });
}

#[test]
fn del_is_idempotent_without_netns_and_with_a_gone_one() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let mut conf = net(bridge(
            json!({"isGateway": true, "ipam": ipam4("10.77.0.0/24")}),
        ));
        conf["plugins"][0]["type"] = json!(OURS);
        conf["plugins"][0]["ipam"]["dataDir"] = json!(data.s());
        let net = Network::new(&conf, our_path());
        let p1 = Pod::new("p1");
        net.add(&p1, "c1", "eth0").expect_ok();
        // DEL twice; then an empty CNI_NETNS (as containerd sends).
        net.del(&p1, "c1", "eth0").expect_ok();
        net.del(&p1, "c1", "eth0").expect_ok();
        net.run(&Call::on("del", &p1, "c1", "eth0").no_netns())
            .expect_ok();
        assert_eq!(Snapshot::here().ifnames(), [BRIDGE, "lo"]);
        // A pod whose namespace is gone: DEL still releases its address.
        let p2 = Pod::new("p2");
        net.add(&p2, "c2", "eth0").expect_ok();
        let gone = p2.path().to_path_buf();
        // The kernel destroys a namespace (and the veth end in it, and so
        // its peer here) asynchronously once its last reference goes:
        // wait for the host end's RTM_DELLINK (bounded), no sleeping.
        let h = netns_core::Handle::new().expect("handle");
        let mut sub = h.subscribe(netns_core::Groups::LINK).expect("subscribe");
        drop(p2);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while Snapshot::here().ifnames().len() > 2 {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(!left.is_zero(), "the veth outlived its namespace by 60 s");
            let _ = sub.next(Some(left));
        }
        net.run(&Call::new("del").netns(&gone).id("c2").ifname("eth0"))
            .expect_ok();
        assert_eq!(ipam_files(&data, "t"), ["last_reserved_ip.0", "lock"]);
    });
}

#[test]
fn enabledad_waits_for_duplicate_address_detection() {
    let s = one(bridge(json!({"isDefaultGateway": true, "enabledad": true,
                              "ipam": ipam_dual("10.77.0.0/24", "fd77::/64")})));
    let ours = same("enabledad", &s);
    assert_eq!(
        ours["pods_added"][0]["sysctls"]["links"]["eth0"]["ipv6.accept_dad"],
        "1"
    );
    // Right after ADD, the address is no longer tentative: ADD waited for
    // DAD (the normalised snapshots above leave the flag out).
    in_private_netns(|| {
        ip(["link", "set", "lo", "up"]);
        let data = TempDir::new("ipam");
        let net = Network::new(conflist(&s, OURS, &data), our_path());
        let pod = Pod::new("p");
        net.add(&pod, "c1", "eth0").expect_ok();
        let addrs = pod.ip_json(&["-6", "addr", "show", "dev", "eth0"]);
        let infos = addrs[0]["addr_info"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let global: Vec<&Value> = infos.iter().filter(|a| a["scope"] == "global").collect();
        assert_eq!(global.len(), 1, "{addrs}");
        assert!(global[0].get("tentative").is_none(), "{addrs}");
        net.del(&pod, "c1", "eth0").expect_ok();
    });
}

/// Bytes that are not a JSON document cannot pass through libcni (it parses
/// the conflist itself): the two plugins are run directly.
#[test]
fn a_config_that_is_not_json_is_code_6_for_both() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    for conf in [&b"{"[..], b"{\"name\":\"t\",", b"\xff", b""] {
        let mut codes = Vec::new();
        for bin in [reference_dir().join(REFERENCE), our_plugin(OURS)] {
            let mut child = Command::new(&bin)
                .env_clear()
                .env("CNI_COMMAND", "ADD")
                .env("CNI_CONTAINERID", "c1")
                .env("CNI_NETNS", "/nonexistent")
                .env("CNI_IFNAME", "eth0")
                .env("CNI_PATH", "/nonexistent")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn");
            let _ = child.stdin.take().expect("stdin").write_all(conf);
            let out = child.wait_with_output().expect("wait");
            let v: Value = serde_json::from_slice(&out.stdout).expect("an error object");
            assert_eq!(out.status.code(), Some(1));
            codes.push(v["code"].clone());
        }
        assert_eq!(
            codes,
            [json!(6), json!(6)],
            "{:?}",
            String::from_utf8_lossy(conf)
        );
    }
}
