//! The differential harness of the sub-interface plugins (netns-macvlan,
//! netns-vlan, netns-ipvlan) against their reference plugins
//! (containernetworking-plugins 1.1.1), both driven by libcni 1.1.2
//! through the project's driver: the same conflist with only `"type"`
//! changed, on fresh namespaces (the plugins' host side in a private one,
//! with a veth end as the master; pods in temporary netns directories).
//! [`same`] compares, after normalising MACs and netns paths, every ADD
//! result, `ip -j -d link/addr/route` of the host side and of every pod
//! after ADD, CHECK of every pod, and both sides after DEL; [`attempt`]
//! runs a failing ADD and reports its code, message and whether anything
//! changed.

#![allow(dead_code)]

use crate::cni_common::*;
use netns_testutil::{in_private_netns, ip};
use serde_json::{json, Value};

/// The pair compared: the reference plugin's name under /usr/lib/cni, ours,
/// and the link kind both make (as `ip -d` names it).
pub struct Pair {
    pub reference: &'static str,
    pub ours: &'static str,
    pub kind: &'static str,
}

/// A scenario: the plugin's keys (its `type` and IPAM `dataDir` set per
/// run), and each pod's (container id, ifname, CNI_ARGS).
pub struct Scenario {
    pub plugin: Value,
    pub pods: Vec<(&'static str, &'static str, Option<&'static str>)>,
}

impl Pair {
    fn paths(&self, ty: &str) -> Vec<std::path::PathBuf> {
        if ty == self.ours {
            our_path()
        } else {
            reference_path()
        }
    }

    /// The reference's observation with its zero txqueuelen (1.1.1 sends
    /// the zero of a struct field; fixed upstream in 1.6.0, as for veths:
    /// `with_upstream_fixes`) as upstream fixed it: the kernel's default,
    /// 1000 for the links these make on a veth master.
    fn fixed(&self, mut v: Value) -> Value {
        fn walk(v: &mut Value, kind: &str) {
            match v {
                Value::Object(o) => {
                    let is_kind = o
                        .get("linkinfo")
                        .and_then(|l| l.get("info_kind"))
                        .is_some_and(|k| k == kind);
                    if is_kind && !o.contains_key("txqlen") {
                        o.insert("txqlen".into(), json!(1000));
                    }
                    o.values_mut().for_each(|v| walk(v, kind));
                }
                Value::Array(a) => a.iter_mut().for_each(|v| walk(v, kind)),
                _ => {}
            }
        }
        walk(&mut v, self.kind);
        with_upstream_fixes(v)
    }

    /// Everything plugin `ty` does in a scenario, normalised.
    pub fn observe(&self, s: &Scenario, ty: &str) -> Value {
        in_private_netns(|| {
            host_side();
            let data = TempDir::new("ipam");
            let net = Network::new(conflist(&s.plugin, ty, &data), self.paths(ty));
            let mut t = Tokens::new();
            let pods: Vec<Pod> = s.pods.iter().map(|p| Pod::new(p.0)).collect();
            let mut adds = Vec::new();
            for ((id, ifname, args), pod) in s.pods.iter().zip(&pods) {
                let mut call = Call::on("add", pod, id, ifname);
                if let Some(a) = args {
                    call = call.args(a);
                }
                let o = net.run(&call);
                if o.ok() {
                    check_result(o.result(), pod);
                }
                adds.push(outcome(&o, &mut t));
            }
            let host = Snapshot::here().normalised(&mut t).as_value();
            let inside: Vec<Value> = pods
                .iter()
                .map(|p| p.snapshot().normalised(&mut t).as_value())
                .collect();
            let checks: Vec<Value> = s
                .pods
                .iter()
                .zip(&pods)
                .map(|((id, ifname, _), pod)| outcome(&net.check(pod, id, ifname), &mut t))
                .collect();
            let dels: Vec<Value> = s
                .pods
                .iter()
                .zip(&pods)
                .map(|((id, ifname, _), pod)| outcome(&net.del(pod, id, ifname), &mut t))
                .collect();
            let host_after = Snapshot::here().normalised(&mut t).as_value();
            let inside_after: Vec<Value> = pods
                .iter()
                .map(|p| p.snapshot().normalised(&mut t).as_value())
                .collect();
            json!({
                "adds": adds, "host": host, "pods": inside, "checks": checks,
                "dels": dels, "host_after": host_after, "pods_after": inside_after,
                "ipam_after": held(&data),
            })
        })
    }

    /// The reference and ours alike in scenario `s`, where every ADD of
    /// ours made a link of the kind in its pod (not equal by both
    /// failing).
    #[track_caller]
    pub fn same(&self, s: &Scenario) {
        let theirs = self.fixed(self.observe(s, self.reference));
        let ours = self.observe(s, self.ours);
        let kind = format!("\"{}\"", self.kind);
        for (a, p) in ours["adds"]
            .as_array()
            .into_iter()
            .flatten()
            .zip(ours["pods"].as_array().into_iter().flatten())
        {
            assert!(a.get("interfaces").is_some(), "ADD: {a}");
            assert!(p.to_string().contains(&kind), "pod: {p}");
        }
        assert_same("reference, ours", &theirs, &ours);
    }

    /// What a failing ADD of `plugin` (type `ty`) on `ifname` does: its
    /// code and message, whether the host side, the pod and the IPAM
    /// reservations are as they were (Tokens of their own: the same objects
    /// get the same names), and the pod's interfaces after it. With
    /// `first`, another pod (`c0` in `p0`) is added on the same network
    /// before (it must succeed), so the failing ADD is a second one.
    pub fn attempt(
        &self,
        ty: &str,
        plugin: &Value,
        ifname: &str,
        first: bool,
    ) -> (Value, [bool; 3], Vec<String>) {
        in_private_netns(|| {
            host_side();
            let data = TempDir::new("ipam");
            let net = Network::new(conflist(plugin, ty, &data), self.paths(ty));
            let _p0 = first.then(|| {
                let p0 = Pod::new("p0");
                net.add(&p0, "c0", ifname).expect_ok();
                p0
            });
            let pod = Pod::new("p1");
            let before = (Snapshot::here(), pod.snapshot(), held(&data));
            let o = net.add(&pod, "c1", ifname);
            assert!(!o.ok(), "{ty} {plugin}: {o}");
            let after = (Snapshot::here(), pod.snapshot(), held(&data));
            let mut t = Tokens::new();
            let alike = |a: &Snapshot, b: &Snapshot, t: &mut Tokens| {
                diff(&a.normalised(t).as_value(), &b.normalised(t).as_value()).is_empty()
            };
            let unchanged = [
                alike(&before.0, &after.0, &mut t),
                alike(&before.1, &after.1, &mut t),
                before.2 == after.2,
            ];
            (
                json!({"code": o.code(), "msg": o.msg()}),
                unchanged,
                pod.ifnames(),
            )
        })
    }

    /// An ADD of `plugin` that fails after IPAM (a route via a gateway off
    /// every link, [`ipam_bad_route`]) on `eth0`: the same code from both,
    /// both messages naming the route (the reference's then prints Go's
    /// net.IPNet struct, `'{10.200.0.0 ffff0000} via`, ours the prefix and
    /// the kernel's extended ack); ours changes nothing and leaves the pod
    /// with `lo` only. Returns what the reference left changed (host side,
    /// pod, IPAM files) and the pod's interfaces, for the caller to assert.
    #[track_caller]
    pub fn failure_after_ipam(&self, plugin: &Value) -> ([bool; 3], Vec<String>) {
        let theirs = self.attempt(self.reference, plugin, "eth0", false);
        let ours = self.attempt(self.ours, plugin, "eth0", false);
        assert_eq!(theirs.0["code"], ours.0["code"]);
        for m in [&theirs.0["msg"], &ours.0["msg"]] {
            assert!(
                m.as_str()
                    .is_some_and(|m| m.starts_with("failed to add route '")),
                "{m}"
            );
        }
        assert_eq!(ours.1, [true; 3], "ours: {ours:?}");
        assert_eq!(ours.2, ["lo"]);
        (theirs.1, theirs.2)
    }

    /// A name taken in the pod (`lo`): the same code and message from
    /// both; the reference made its link under a temporary name first and
    /// leaves it in the pod when the rename fails; ours fails before it
    /// makes anything.
    #[track_caller]
    pub fn taken_name_alike(&self, plugin: &Value) {
        let theirs = self.attempt(self.reference, plugin, "lo", false);
        let ours = self.attempt(self.ours, plugin, "lo", false);
        let msg = format!("failed to rename {} to \"lo\": file exists", self.kind);
        assert_eq!(theirs.0, json!({"code": 999, "msg": msg}));
        assert_eq!(theirs.0, ours.0);
        assert_eq!(theirs.1, [true, false, true], "reference: {theirs:?}");
        assert!(
            theirs.2.len() == 2 && theirs.2.iter().any(|n| is_random_veth(n)),
            "{:?}",
            theirs.2
        );
        assert_eq!(ours.1, [true; 3], "ours: {ours:?}");
        assert_eq!(ours.2, ["lo"]);
    }

    /// Bad input: for each case, the same code and message from both, and
    /// neither changed anything (host side, pod, IPAM files).
    #[track_caller]
    pub fn bad_input_alike(&self, cases: &[(Value, &str)]) {
        for (plugin, ifname) in cases {
            let theirs = self.attempt(self.reference, plugin, ifname, false);
            let ours = self.attempt(self.ours, plugin, ifname, false);
            assert_eq!(theirs.0, ours.0, "{plugin} on {ifname}");
            assert_eq!(theirs.1, [true; 3], "reference: {plugin} on {ifname}");
            assert_eq!(ours.1, [true; 3], "ours: {plugin} on {ifname}");
        }
    }
}

/// A conflist `t` of the one plugin `plugin` of type `ty`, its IPAM (if
/// any) on `data`.
pub fn conflist(plugin: &Value, ty: &str, data: &TempDir) -> Value {
    let mut p = plugin.clone();
    p["type"] = json!(ty);
    if p.get("ipam").is_some() {
        p["ipam"]["dataDir"] = json!(data.s());
    }
    json!({"cniVersion": "1.0.0", "name": "t", "plugins": [p]})
}

/// The host side: the master `mst0` (mtu 1500) and its peer, up.
pub fn host_side() {
    ip(["link", "set", "lo", "up"]);
    ip([
        "link", "add", "mst0", "type", "veth", "peer", "name", "mst0-p",
    ]);
    ip(["link", "set", "mst0", "up"]);
    ip(["link", "set", "mst0-p", "up"]);
}

/// IPAM's reservations in `data` for network `t` (host-local's lock and
/// last_reserved_ip files stay after a release).
pub fn held(data: &TempDir) -> Vec<String> {
    ipam_files(data, "t")
        .into_iter()
        .filter(|f| f.starts_with("10.") || f.starts_with("fd"))
        .collect()
}

/// A call's outcome, normalised: `"ok"` (no output), the result, or the
/// error's code and message.
pub fn outcome(o: &Outcome, t: &mut Tokens) -> Value {
    if o.ok() {
        if o.stdout.trim().is_empty() {
            json!("ok")
        } else {
            normalise_result(o.result(), t)
        }
    } else {
        json!({"code": o.code(), "msg": o.msg()})
    }
}

/// An IPv4 host-local range with a default route and one via a gateway.
pub fn ipam4() -> Value {
    json!({"type": "host-local", "subnet": "10.79.0.0/24",
           "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.200.0.0/16", "gw": "10.79.0.9"}]})
}

/// Dual-stack host-local ranges.
pub fn ipam_dual() -> Value {
    json!({"type": "host-local",
           "ranges": [[{"subnet": "10.79.0.0/24"}], [{"subnet": "fd00:79::/64"}]]})
}

/// IPAM whose route's gateway is off every link: ADD fails after IPAM.
pub fn ipam_bad_route() -> Value {
    json!({"type": "host-local", "subnet": "10.79.0.0/24",
           "routes": [{"dst": "10.200.0.0/16", "gw": "192.0.2.1"}]})
}
