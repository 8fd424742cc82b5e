//! CNI 1.1.0 (GC, STATUS, 1.1 results) and VERSION. host-local 1.1.1 stops
//! at CNI 1.0.0, so these are checked against the CNI spec, not against it.

netns_testutil::host_only!("IPAM plugin on a data directory, no kernel networking involved");

mod host_local_common;

use host_local_common::*;
use serde_json::Value;

fn conf(dir: &TempDir, version: &str, extra: &str) -> String {
    format!(
        r#"{{"cniVersion":"{version}","name":"net",{extra}"ipam":{{"dataDir":"{}","subnet":"10.60.0.0/24",
            "routes":[{{"dst":"0.0.0.0/0","gw":"10.60.0.1","mtu":1400,"priority":5}}]}}}}"#,
        dir.s()
    )
}

#[test]
fn version_lists_every_supported_version() {
    let o = run(&plugin(), &Call::new("VERSION", "", "{}"));
    assert!(o.ok(), "{}", o.stdout);
    let j = o.json.unwrap();
    let v: Vec<&str> = j["supportedVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        v,
        ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
    );
    assert_eq!(j["cniVersion"], "1.1.0");
}

#[test]
fn add_1_1_0_result_format() {
    let d = TempDir::new("v11");
    let o = run(&plugin(), &Call::new("ADD", "c1", &conf(&d, "1.1.0", "")));
    assert!(o.ok(), "{}", o.stdout);
    let j = o.json.unwrap();
    assert_eq!(j["cniVersion"], "1.1.0");
    assert_eq!(
        j["ips"],
        serde_json::json!([{"address": "10.60.0.2/24", "gateway": "10.60.0.1"}])
    );
    // 1.1 route fields pass through in a 1.1 result...
    assert_eq!(
        j["routes"],
        serde_json::json!([{"dst": "0.0.0.0/0", "gw": "10.60.0.1", "mtu": 1400, "priority": 5}])
    );
    assert_eq!(j["dns"], serde_json::json!({}));
    // ...and not in a 1.0 one (as host-local 1.1.1, which drops them).
    let o = run(&plugin(), &Call::new("ADD", "c2", &conf(&d, "1.0.0", "")));
    assert_eq!(
        o.json.unwrap()["routes"],
        serde_json::json!([{"dst": "0.0.0.0/0", "gw": "10.60.0.1"}])
    );
    let o = run(&plugin(), &Call::new("CHECK", "c1", &conf(&d, "1.1.0", "")));
    assert!(o.ok(), "{}", o.stdout);
}

#[test]
fn gc_removes_what_is_not_a_valid_attachment() {
    let d = TempDir::new("gc");
    for id in ["a", "b", "c"] {
        assert!(run(&plugin(), &Call::new("ADD", id, &conf(&d, "1.1.0", ""))).ok());
    }
    let gc = conf(
        &d,
        "1.1.0",
        r#""cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"},{"containerID":"c","ifname":"eth0"}],"#,
    );
    // GC carries no container: CNI_CONTAINERID / CNI_IFNAME are not needed.
    let mut call = Call::new("GC", "", &gc);
    call.ifname = String::new();
    let o = run(&plugin(), &call);
    assert!(o.ok(), "{}", o.stdout);
    let files: Vec<String> = snapshot(&d.path().join("net"))
        .unwrap()
        .into_keys()
        .collect();
    assert_eq!(files, ["10.60.0.2", "10.60.0.4", "last_reserved_ip.0"]);
    assert!(d.path().join("net/lock").exists());

    // GC needs a 1.1.0 config.
    let o = run(&plugin(), &Call::new("GC", "", &conf(&d, "1.0.0", "")));
    assert_eq!(o.code(), Some(1));
    assert_eq!(o.msg(), "config version does not allow GC");
}

#[test]
fn status_and_errors_in_1_1_0() {
    let d = TempDir::new("status");
    let o = run(&plugin(), &Call::new("STATUS", "", &conf(&d, "1.1.0", "")));
    assert!(o.ok(), "{}", o.stdout);
    assert!(o.stdout.is_empty());
    // Errors carry the config's cniVersion (CNI 1.1 requires it).
    let bad = conf(&d, "1.1.0", "").replace("10.60.0.0/24", "10.60.0.1/24");
    let o = run(&plugin(), &Call::new("ADD", "c1", &bad));
    let j: Value = o.json.clone().unwrap();
    assert_eq!(j["cniVersion"], "1.1.0");
    assert_eq!(o.code(), Some(999));
    assert!(o.msg().contains("host bits"));
}

#[test]
fn no_command_prints_about_on_stderr() {
    let out = std::process::Command::new(plugin())
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CNI protocol versions supported: 0.1.0"));
}
