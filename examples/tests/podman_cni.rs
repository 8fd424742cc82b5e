//! Real containers started by podman 4.3 with its CNI backend on a bridge
//! network: two busybox containers talk TCP, and `podman rm -f` leaves
//! nothing on the host side. The same conflist with the reference bridge
//! (/usr/lib/cni) and with `netns-bridge`: only `"type"` differs.

netns_testutil::host_only!("needs podman and runc, which the VM image lacks");

mod podman_common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use podman_common::*;
use serde_json::{json, Value};

const NETWORK: &str = "pmtest";
const BRIDGE: &str = "cni-pm0";

/// The network: one bridge plugin (of type `bridge_type`) with host-local
/// IPAM in the fixture's data dir.
///
/// For our plugin the same conflist with `"type": "netns-bridge"` (and, for
/// our IPAM too, `"ipam": {"type": "netns-host-local", ...}`), on a
/// `Podman::new(&plugin_dirs_with_examples(&["netns-bridge"]))`: podman
/// finds a plugin by its exact file name in `cni_plugin_dirs`, in order, so
/// target/<profile>/examples goes first and /usr/lib/cni after it (for
/// host-local and any other reference plugin of the chain). Podman treats a
/// first plugin whose type is not bridge/macvlan/ipvlan as a driver it does
/// not know: `network inspect` shows no subnets, but `run`, `inspect` and
/// `rm` work the same. The cniVersion must be one the plugin's VERSION
/// answer lists (podman skips the network otherwise).
fn conflist(pm: &Podman, bridge_type: &str) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": NETWORK,
        "plugins": [{
            "type": bridge_type,
            "bridge": BRIDGE,
            "isGateway": true,
            "ipam": {
                "type": "host-local",
                "subnet": "10.88.7.0/24",
                "dataDir": pm.ipam_dir(),
            },
        }],
    })
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The scenario: containers A and B on the network, each serving one word
/// on TCP port 80; each reads the other's over the bridge; while they run,
/// the host side holds exactly their veths, reservations, cached results,
/// namespaces and runc states; after `podman rm -f` of both, none of it.
/// Returns the two addresses.
fn talk_then_rm_f(pm: &Podman) -> (String, String) {
    // busybox nc: -ll serves every connection, -e runs the rest of the line.
    let a = pm.run_detached(
        "a",
        NETWORK,
        &["nc", "-ll", "-p", "80", "-e", "echo", "hello"],
    );
    let b = pm.run_detached(
        "b",
        NETWORK,
        &["nc", "-ll", "-p", "80", "-e", "echo", "world"],
    );
    pm.wait_listening(&a, 80);
    pm.wait_listening(&b, 80);

    let (ip_a, ip_b) = (pm.ip_on(&a, NETWORK), pm.ip_on(&b, NETWORK));
    assert_ne!(ip_a, ip_b);
    for c in [&a, &b] {
        let n = pm.network_settings(c, NETWORK);
        assert!(
            n["IPAddress"]
                .as_str()
                .unwrap_or("")
                .starts_with("10.88.7."),
            "{n}"
        );
        assert_eq!(n["IPPrefixLen"], 24, "{n}");
        assert_eq!(n["Gateway"], "10.88.7.1", "{n}");
        assert!(!n["MacAddress"].as_str().unwrap_or("").is_empty(), "{n}");
    }

    // -w bounds the connect (a hang detector); stdin is /dev/null, so nc
    // half-closes at once and prints what the server sends until it closes.
    assert_eq!(pm.exec_ok(&b, &["nc", "-w", "30", &ip_a, "80"]), "hello\n");
    assert_eq!(pm.exec_ok(&a, &["nc", "-w", "30", &ip_b, "80"]), "world\n");

    // While they run: one veth each on the bridge, one reservation each,
    // one cached result each, one namespace each.
    let st = pm.host_state(NETWORK);
    assert_eq!(st.veths.len(), 2, "{st:#?}");
    let links = pm.host_links();
    for v in &st.veths {
        let l = links
            .as_array()
            .and_then(|a| a.iter().find(|l| l["ifname"] == v.as_str()))
            .unwrap_or_else(|| panic!("{v} not in {links}"));
        assert_eq!(l["master"], BRIDGE, "{l}");
    }
    let res = pm.ipam_reservations(NETWORK);
    assert_eq!(
        res.keys().cloned().collect::<BTreeSet<_>>(),
        set(&[&ip_a, &ip_b]),
        "{res:#?}"
    );
    assert!(res[&ip_a].starts_with(&a), "{res:#?}");
    assert!(res[&ip_b].starts_with(&b), "{res:#?}");
    assert_eq!(
        st.cni_cache,
        set(&[
            &format!("{NETWORK}-{a}-eth0"),
            &format!("{NETWORK}-{b}-eth0")
        ]),
        "{st:#?}"
    );
    let keys: Vec<String> = [&a, &b].iter().map(|c| pm.sandbox_key(c)).collect();
    let names: BTreeSet<String> = keys
        .iter()
        .map(|k| {
            k.strip_prefix("/run/netns/")
                .unwrap_or_else(|| panic!("SandboxKey {k} is not under /run/netns"))
                .to_string()
        })
        .collect();
    assert_eq!(st.netns, names, "{st:#?}");
    assert_eq!(st.runc, set(&[&a, &b]), "{st:#?}");
    assert_eq!(st.containers, set(&[&a, &b]), "{st:#?}");

    pm.rm_f(&a);
    pm.rm_f(&b);

    // After: only host-local's lock and cursor, nothing else anywhere.
    let st = pm.host_state(NETWORK);
    assert_eq!(
        st,
        HostState {
            veths: vec![],
            ipam: set(&["last_reserved_ip.0", "lock"]),
            cni_cache: BTreeSet::new(),
            netns: BTreeSet::new(),
            runc: BTreeSet::new(),
            containers: BTreeSet::new(),
        },
        "host side after podman rm -f; links: {}",
        pm.host_links()
    );
    let dir = pm.ipam_dir().join(NETWORK);
    for f in &st.ipam {
        let c =
            String::from_utf8_lossy(&std::fs::read(dir.join(f)).unwrap_or_default()).into_owned();
        assert!(
            !c.contains(&a) && !c.contains(&b),
            "{f} still names a container: {c}"
        );
    }
    (ip_a, ip_b)
}

/// Tears the fixture down and checks that nothing of it is left: its
/// directories, mounts, namespaces (no process in them, no mount of them),
/// cgroups.
fn finish_clean(pm: Podman) {
    let fp = pm.footprint();
    let problems = pm.finish();
    assert!(problems.is_empty(), "teardown: {problems:#?}");
    assert!(!fp.work.exists() && !fp.ns_dir.exists(), "{fp:?}");
    assert_eq!(leftovers(&fp), Vec::<String>::new());
}

#[test]
fn two_containers_talk_over_the_reference_bridge_and_rm_f_cleans_up() {
    let pm = Podman::new(&[PathBuf::from(REFERENCE_PLUGINS)]);
    pm.write_conflist(NETWORK, &conflist(&pm, "bridge"));
    talk_then_rm_f(&pm);
    finish_clean(pm);
}

/// The same with netns-bridge (IPAM `host-local` in process: the
/// reservations are the same files), and with netns-bridge and
/// netns-host-local.
#[test]
fn two_containers_talk_over_netns_bridge_and_rm_f_cleans_up() {
    for ipam in ["host-local", "netns-host-local"] {
        let pm = Podman::new(&plugin_dirs_with_examples(&[
            "netns-bridge",
            "netns-host-local",
        ]));
        let mut conf = conflist(&pm, "netns-bridge");
        conf["plugins"][0]["ipam"]["type"] = json!(ipam);
        pm.write_conflist(NETWORK, &conf);
        talk_then_rm_f(&pm);
        finish_clean(pm);
    }
}

/// Two fixtures at once with the same network, bridge name and subnet (and
/// the test above alongside): each has its own host namespace, IPAM
/// directory, CNI cache and podman, so both hand out the same addresses and
/// neither sees the other.
#[test]
fn two_podmans_side_by_side_share_nothing() {
    let ips = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let pm = Podman::new(&plugin_dirs_with_examples(&["netns-bridge"]));
                    pm.write_conflist(NETWORK, &conflist(&pm, "netns-bridge"));
                    let ips = talk_then_rm_f(&pm);
                    finish_clean(pm);
                    ips
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect::<Vec<_>>()
    });
    let sets: Vec<BTreeSet<String>> = ips
        .into_iter()
        .map(|(a, b)| BTreeSet::from([a, b]))
        .collect();
    assert_eq!(
        sets[0], sets[1],
        "each fixture allocates from its own dataDir"
    );
}
