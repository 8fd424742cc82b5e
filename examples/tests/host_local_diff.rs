//! Differential tests: the same ADD/DEL/CHECK sequences through the real
//! host-local (/usr/lib/cni/host-local) and through netns-host-local, each on
//! a fresh data directory; after every step the results (or error code and
//! message), the reservation files and the cursor files must be identical.

netns_testutil::host_only!(
    "needs the reference plugin /usr/lib/cni/host-local, which the VM image lacks"
);

mod host_local_common;

use host_local_common::*;
use serde_json::Value;

enum Op {
    Call(Call),
    /// Write a file into the network directory of both sides.
    Write(&'static str, &'static str),
}

fn add(id: &str, conf: &str) -> Op {
    Op::Call(Call::new("ADD", id, conf))
}
fn del(id: &str, conf: &str) -> Op {
    Op::Call(Call::new("DEL", id, conf))
}
fn check(id: &str, conf: &str) -> Op {
    Op::Call(Call::new("CHECK", id, conf))
}
fn call(c: Call) -> Op {
    Op::Call(c)
}

/// Run `ops` through both plugins; returns host-local's outcomes (already
/// known equal to ours).
fn differential(name: &str, ops: Vec<Op>) -> Vec<Out> {
    let hl = host_local();
    let ours = plugin();
    let (a, b) = (TempDir::new("hl"), TempDir::new("ours"));
    let mut outs = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Write(file, content) => {
                for d in [&a, &b] {
                    let dir = d.path().join("net");
                    std::fs::create_dir_all(&dir).unwrap();
                    std::fs::write(dir.join(file), content).unwrap();
                }
            }
            Op::Call(c) => {
                let with = |d: &TempDir| Call {
                    conf: c.conf.replace("@DIR@", &d.s()),
                    ..c.clone()
                };
                let oa = run(&hl, &with(&a));
                let ob = run(&ours, &with(&b));
                assert_eq!(
                    comparable(&oa),
                    comparable(&ob),
                    "{name}: step {i} ({} {} {}) differs\nhost-local: {}\nours: {}",
                    c.cmd,
                    c.id,
                    c.ifname,
                    oa.stdout,
                    ob.stdout
                );
                outs.push(oa);
            }
        }
        assert_eq!(
            snapshot(&a.path().join("net")),
            snapshot(&b.path().join("net")),
            "{name}: data directories differ after step {i}"
        );
    }
    outs
}

fn conf(version: &str, ipam: &str) -> String {
    format!(
        r#"{{"cniVersion":"{version}","name":"net","ipam":{{"type":"host-local","dataDir":"@DIR@",{ipam}}}}}"#
    )
}

fn ok_count(outs: &[Out]) -> usize {
    outs.iter().filter(|o| o.ok()).count()
}

#[test]
fn exhaustion_release_and_rotation_v4() {
    let c = conf("1.0.0", r#""subnet":"10.1.0.0/29""#);
    let mut ops = vec![];
    for i in 1..=7 {
        ops.push(add(&format!("c{i}"), &c));
    }
    ops.extend([
        del("c2", &c),
        del("c4", &c),
        del("nobody", &c),
        add("c8", &c),
        add("c9", &c),
        add("c10", &c),
        check("c3", &c),
        check("c2", &c),
        add("c3", &c),
        del("c1", &c),
        del("c1", &c),
        add("c11", &c),
    ]);
    let outs = differential("exhaustion", ops);
    // .2 to .6: five addresses, then exhaustion; the test must exercise both.
    assert_eq!(outs[0].ips(), ["10.1.0.2/29"]);
    assert!(outs[5].msg().contains("no IP addresses available"));
    assert!(ok_count(&outs) > 8);
}

#[test]
fn ipv6_126_and_canonical_file_names() {
    let c = conf("1.0.0", r#""subnet":"2001:DB8:0:0::/126""#);
    let outs = differential(
        "v6",
        vec![
            add("a", &c),
            add("b", &c),
            add("c", &c),
            del("a", &c),
            add("d", &c),
        ],
    );
    assert_eq!(outs[0].ips(), ["2001:db8::2/126"]);
    assert_eq!(outs[4].ips(), ["2001:db8::2/126"]);
}

#[test]
fn range_start_end_and_explicit_gateway() {
    let c = conf(
        "0.4.0",
        r#""subnet":"10.2.0.0/24","rangeStart":"10.2.0.10","rangeEnd":"10.2.0.13","gateway":"10.2.0.11""#,
    );
    let single = conf(
        "0.4.0",
        r#""subnet":"10.3.0.0/24","rangeStart":"10.3.0.7","rangeEnd":"10.3.0.7""#,
    );
    let gw_out = conf("0.4.0", r#""subnet":"10.4.0.0/30","gateway":"10.9.9.9""#);
    let mut ops = vec![];
    for i in 0..5 {
        ops.push(add(&format!("r{i}"), &c));
    }
    ops.extend([
        del("r1", &c),
        add("r5", &c),
        add("s1", &single),
        add("s2", &single),
        del("s1", &single),
        add("s2", &single),
        add("g1", &gw_out),
        add("g2", &gw_out),
        add("g3", &gw_out),
    ]);
    let outs = differential("start-end", ops);
    assert_eq!(outs[0].ips(), ["10.2.0.10/24"]);
    assert_eq!(outs[1].ips(), ["10.2.0.12/24"]);
    assert_eq!(outs[11].ips(), ["10.4.0.1/30"]);
}

#[test]
fn several_ranges_in_a_set_wrap() {
    let c = conf(
        "1.0.0",
        r#""ranges":[[{"subnet":"10.5.0.0/30"},{"subnet":"10.5.1.0/29","rangeStart":"10.5.1.4"},{"subnet":"10.5.2.0/30","gateway":"10.5.2.2"}]]"#,
    );
    let mut ops = vec![];
    for i in 0..6 {
        ops.push(add(&format!("w{i}"), &c));
    }
    ops.extend([
        del("w0", &c),
        del("w3", &c),
        add("w6", &c),
        add("w7", &c),
        add("w8", &c),
        del("w6", &c),
        add("w9", &c),
    ]);
    let outs = differential("multi-range", ops);
    assert!(ok_count(&outs) >= 8);
}

#[test]
fn dual_stack_sets_rollback_and_cursors() {
    let c = conf(
        "0.3.1",
        r#""ranges":[[{"subnet":"10.6.0.0/29"}],[{"subnet":"fd00:6::/125"}]],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0","gw":"fd00:6::1"}]"#,
    );
    let small6 = conf(
        "0.3.1",
        r#""ranges":[[{"subnet":"10.7.0.0/28"}],[{"subnet":"fd00:7::/126"}]]"#,
    );
    let mut ops = vec![];
    for i in 0..4 {
        ops.push(add(&format!("d{i}"), &c));
    }
    // The v6 set of small6 runs out first: the v4 address must be given back
    // (and the v4 cursor has moved anyway, as host-local does).
    for i in 0..4 {
        ops.push(add(&format!("e{i}"), &small6));
    }
    ops.extend([
        del("d1", &c),
        add("d9", &c),
        del("e0", &small6),
        add("e9", &small6),
    ]);
    let outs = differential("dual-stack", ops);
    assert_eq!(outs[0].ips().len(), 2);
    assert!(outs[6].msg().starts_with("failed to allocate for range 1"));
}

#[test]
fn requested_ips_three_ways() {
    let c = conf("1.0.0", r#""subnet":"10.8.0.0/24""#);
    let with = |extra: &str| {
        format!(
            r#"{{"cniVersion":"1.0.0","name":"net",{extra},"ipam":{{"dataDir":"@DIR@","subnet":"10.8.0.0/24"}}}}"#
        )
    };
    let args_ips = with(r#""args":{"cni":{"ips":["10.8.0.20"]}}"#);
    let args_cidr = with(r#""args":{"cni":{"ips":["10.8.0.21/24"]}}"#);
    let rt = with(r#""runtimeConfig":{"ips":["10.8.0.22/24"]}"#);
    let outside = with(r#""runtimeConfig":{"ips":["10.9.0.1"]}"#);
    let outs = differential(
        "requested",
        vec![
            call(Call::new("ADD", "q1", &c).args("IP=10.8.0.10")),
            call(Call::new("ADD", "q2", &c).args("IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.8.0.11")),
            call(Call::new("ADD", "q3", &c).args("IP=10.8.0.10")),
            call(Call::new("ADD", "q4", &c).args("IP=10.8.0.1")),
            call(Call::new("ADD", "q5", &c).args("K8S_POD_NAME=p")),
            call(Call::new("ADD", "q6", &c).args("IP=")),
            add("q7", &args_ips),
            add("q8", &args_cidr),
            add("q9", &rt),
            add("q10", &outside),
            // Requested path: no duplicate check, as in host-local.
            call(Call::new("ADD", "q1", &c).args("IP=10.8.0.30")),
            add("q11", &c),
            del("q1", &c),
            add("q12", &c),
        ],
    );
    assert_eq!(outs[0].ips(), ["10.8.0.10/24"]);
    assert!(outs[2].msg().contains("is not available"));
    assert!(outs[3].msg().contains("gateway"));
    assert!(outs[4].msg().contains("unknown args"));
    assert_eq!(outs[7].ips(), ["10.8.0.21/24"]);
    assert!(outs[9]
        .msg()
        .contains("failed to allocate all requested IPs"));
}

#[test]
fn runtime_ip_ranges_and_legacy_plus_ranges() {
    let c = r#"{"cniVersion":"1.0.0","name":"net","runtimeConfig":{"ipRanges":[[{"subnet":"10.10.0.0/29"}]]},
        "ipam":{"dataDir":"@DIR@","subnet":"10.11.0.0/29","ranges":[[{"subnet":"10.12.0.0/29"}]]}}"#;
    let outs = differential(
        "runtime-ranges",
        vec![
            add("x1", c),
            add("x2", c),
            del("x1", c),
            add("x3", c),
            check("x3", c),
        ],
    );
    assert_eq!(
        outs[0].ips(),
        ["10.10.0.2/29", "10.11.0.2/29", "10.12.0.2/29"]
    );
}

#[test]
fn old_cni_versions_and_result_formats() {
    let mut ops = vec![];
    for (i, v) in ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"]
        .iter()
        .enumerate()
    {
        let c = conf(
            v,
            r#""ranges":[[{"subnet":"10.13.0.0/24"}],[{"subnet":"fd00:13::/64"}]],"routes":[{"dst":"0.0.0.0/0","gw":"10.13.0.1"},{"dst":"fd00::/8"}]"#,
        );
        ops.push(add(&format!("v{i}"), &c));
        ops.push(check(&format!("v{i}"), &c));
        ops.push(del(&format!("v{i}"), &c));
    }
    // Legacy single range, no cniVersion at all (0.1.0), and 1.1.0, which
    // host-local 1.1.1 rejects (so ours is compared on 1.0.0 and below only).
    let legacy = r#"{"name":"net","ipam":{"dataDir":"@DIR@","subnet":"10.14.0.0/24","gateway":"10.14.0.254"}}"#;
    ops.push(add("l1", legacy));
    ops.push(del("l1", legacy));
    let outs = differential("versions", ops);
    assert!(outs[0].json.as_ref().unwrap().get("ip4").is_some());
    assert!(outs[0].json.as_ref().unwrap().get("ip6").is_some());
    // CHECK is refused before 0.4.0.
    assert_eq!(outs[1].code(), Some(1));
    assert!(outs[13].ok());
    let r: &Value = outs[15].json.as_ref().unwrap();
    assert_eq!(r["routes"].as_array().unwrap().len(), 2);
}

#[test]
fn legacy_id_only_files_del_and_check() {
    let one = conf("0.4.0", r#""subnet":"10.15.0.0/24""#);
    let two = conf(
        "0.4.0",
        r#""ranges":[[{"subnet":"10.15.0.0/24"}],[{"subnet":"10.16.0.0/24"}]]"#,
    );
    let outs = differential(
        "legacy",
        vec![
            Op::Write("10.15.0.50", "old"),
            Op::Write("10.15.0.51", "old"),
            Op::Write("10.16.0.50", "mixed"),
            check("old", &one),
            add("mixed", &two),
            // One set: the exact owner's files go, the legacy ones stay.
            del("mixed", &one),
            add("mixed", &two),
            // Two sets: the second pass finds nothing exact and removes the
            // legacy files too.
            del("mixed", &two),
            call(Call::new("DEL", "old", &one).ifname("eth9")),
            check("old", &one),
        ],
    );
    assert!(outs[0].ok());
    assert_eq!(outs[6].code(), Some(999));
}

#[test]
fn routes_dns_and_duplicate_keys() {
    let dir = TempDir::new("rc");
    let rc = dir.path().join("resolv.conf");
    std::fs::write(
        &rc,
        "# comment\nnameserver 10.0.0.53\ndomain example.test\nsearch a b\nsearch c\noptions ndots:2 rotate\n; x\nnameserver fd00::53\n",
    )
    .unwrap();
    let c = format!(
        r#"{{"cniVersion":"0.4.0","name":"net","ipam":{{"dataDir":"@DIR@","SUBNET":"10.17.0.0/24","subnet":"10.18.0.0/24",
            "resolvConf":"{}","routes":[{{"dst":"10.1.2.3/8","gw":"10.18.0.1"}},{{"dst":"0.0.0.0/0"}}],"unknownField":true}}}}"#,
        rc.display()
    );
    let missing = conf(
        "0.4.0",
        r#""subnet":"10.19.0.0/24","resolvConf":"/nonexistent/resolv.conf""#,
    );
    let outs = differential("dns", vec![add("n1", &c), add("n2", &missing)]);
    assert_eq!(outs[0].ips(), ["10.18.0.2/24"]);
    assert_eq!(
        outs[0].json.as_ref().unwrap()["dns"]["search"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(outs[1].code(), Some(999));
}

#[test]
fn skeleton_errors() {
    let c = conf("1.0.0", r#""subnet":"10.20.0.0/24""#);
    let outs = differential(
        "skel",
        vec![
            call(Call::new("ADD", "bad id", &c)),
            call(Call::new("ADD", "c1", &c).ifname("eth0/x")),
            call(Call::new("ADD", "c1", &c).ifname("a-very-long-ifname")),
            call(Call::new(
                "ADD",
                "c1",
                &c.replace(r#""name":"net""#, r#""name":"a/b""#),
            )),
            call(Call::new("ADD", "c1", &c.replace(r#""name":"net","#, ""))),
            call(Call::new("FOO", "c1", &c)),
            call(Call::new("ADD", "c1", &c.replace("1.0.0", "9.9.9"))),
        ],
    );
    assert_eq!(outs[0].code(), Some(4));
    assert_eq!(outs[3].code(), Some(7));
    assert_eq!(outs[6].code(), Some(1));
}
