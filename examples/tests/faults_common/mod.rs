//! What the fault-injection tests (faults.rs, faults_sublink.rs) share:
//! running a plugin as a runtime does, with `NETNS_TEST_KILL_AT`
//! (`netns_examples::fault`); the node's state, whole; the kill-at-each-step
//! and GC-after-a-kill loops. See faults.rs for what is compared and why.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::cni_common::*;
use crate::portmap_common;
use netns_testutil::etcd::Cluster;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// Running a plugin as a runtime does

/// One attachment of one plugin: what a runtime passes it.
pub struct Plugin {
    pub exe: PathBuf,
    /// The config, without `cniVersion`'s GC key (added by [`Plugin::gc`]).
    pub conf: Value,
    pub netns: PathBuf,
    pub id: String,
    pub ifname: String,
}

impl Plugin {
    pub fn new(name: &str, conf: Value, pod: &Pod) -> Plugin {
        Plugin {
            exe: our_exe(name),
            conf,
            netns: pod.path().to_path_buf(),
            id: "c1".into(),
            ifname: "eth0".into(),
        }
    }

    pub fn name(&self) -> String {
        self.exe
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The command with the runtime's environment, `env` over it.
    fn command(&self, cmd: &str, env: &[(&str, String)]) -> Command {
        let mut c = Command::new(&self.exe);
        c.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("CNI_COMMAND", cmd)
            .env("CNI_CONTAINERID", &self.id)
            .env("CNI_NETNS", &self.netns)
            .env("CNI_IFNAME", &self.ifname)
            .env("CNI_PATH", our_path()[0].as_os_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    pub fn spawn(&self, cmd: &str, conf: &Value, env: &[(&str, String)]) -> std::process::Child {
        let mut child = self
            .command(cmd, env)
            .spawn()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.exe.display()));
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(conf.to_string().as_bytes())
            .expect("write the config");
        drop(stdin);
        child
    }

    pub fn run(&self, cmd: &str, conf: &Value, env: &[(&str, String)]) -> Output {
        self.spawn(cmd, conf, env)
            .wait_with_output()
            .expect("wait for the plugin")
    }

    /// ADD, SIGKILLed at step `kill_at` of `prog` (this plugin if None).
    pub fn add_killed_at(&self, kill_at: u32, prog: Option<&str>) -> Output {
        let prog = prog.map_or_else(|| self.name(), str::to_owned);
        self.run(
            "ADD",
            &self.conf,
            &[
                ("NETNS_TEST_KILL_AT", kill_at.to_string()),
                ("NETNS_TEST_KILL_IN", prog),
            ],
        )
    }

    #[track_caller]
    pub fn add(&self) -> Value {
        let out = self.run("ADD", &self.conf, &[]);
        ok(&self.name(), "ADD", &out);
        serde_json::from_slice(&out.stdout).expect("the ADD result")
    }

    #[track_caller]
    pub fn del(&self) {
        let out = self.run("DEL", &self.conf, &[]);
        ok(&self.name(), "DEL", &out);
    }

    /// GC with `cni.dev/valid-attachments` empty (spec 1.1.0).
    #[track_caller]
    pub fn gc(&self) {
        let mut conf = self.conf.clone();
        conf["cni.dev/valid-attachments"] = json!([]);
        let out = self.run("GC", &conf, &[]);
        ok(&self.name(), "GC", &out);
    }
}

#[track_caller]
pub fn ok(name: &str, cmd: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{name} {cmd} failed ({}): stdout {} stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------
// The node, whole

/// What is compared before and after: see the file's docs.
pub struct Node<'a> {
    pub pod: &'a Pod,
    /// Directories whose every file (name and content) is compared, and
    /// under which mounts are compared.
    pub dirs: Vec<PathBuf>,
    pub etcd: Option<&'a Cluster>,
    /// Whether `conntrack -L` is compared (where portmap is involved: in
    /// the others' namespaces it shows etcd's and etcdctl's own
    /// connections on loopback).
    pub conntrack: bool,
    /// Whether both namespaces' nftables rulesets are compared.
    pub nft: bool,
}

impl<'a> Node<'a> {
    /// The pod and these directories, nftables compared, no etcd, no
    /// conntrack (set those with struct update syntax).
    pub fn of(pod: &'a Pod, dirs: &[&Path]) -> Node<'a> {
        Node {
            pod,
            dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
            etcd: None,
            conntrack: false,
            nft: true,
        }
    }

    pub fn state(&self) -> Value {
        let mut t = Tokens::new();
        let host = Snapshot::here().normalised(&mut t).as_value();
        let pod = self.pod.snapshot().normalised(&mut t).as_value();
        let mut files = BTreeMap::new();
        for d in &self.dirs {
            tree(d, d, &mut files);
        }
        let mut s = json!({
            "host": host,
            "pod": pod,
            "files": files,
            "mounts": self.mounts(),
        });
        if self.nft {
            s["nft"] = json!(portmap_common::ruleset());
            s["pod nft"] = json!(netns_testutil::nft::nft_json_in(
                self.pod.path(),
                &["list", "ruleset"]
            )["nftables"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|o| o.get("metainfo").is_none())
                .collect::<Vec<Value>>());
        }
        if self.conntrack {
            s["conntrack"] = json!(portmap_common::conntrack_table());
        }
        if let Some(c) = self.etcd {
            s["etcd"] = json!(c.etcdctl(&["get", "--prefix", "/netns-ipam/"]));
        }
        s
    }

    /// The mount points (and file system types) under [`Node::dirs`] and
    /// the pod's netns directory, from this process's mountinfo.
    pub fn mounts(&self) -> Vec<String> {
        let mut roots: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
        if let Some(p) = self.pod.path().parent() {
            roots.push(p.display().to_string());
        }
        let table = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        let mut v: Vec<String> = table
            .lines()
            .filter_map(|l| {
                let mp = l.split(' ').nth(4)?;
                let fstype = l.split(" - ").nth(1)?.split(' ').next()?;
                roots
                    .iter()
                    .any(|r| mp.starts_with(r.as_str()))
                    .then(|| format!("{mp} {fstype}"))
            })
            .collect();
        v.sort();
        v
    }
}

/// Every entry under `dir` (relative to `root`): a file's content, a
/// directory as `<dir>`, anything else by kind. netns-ipam's persistent
/// index (`.netns-ipam-index.<network>`) is left out: a cache (it records
/// the directory's timestamps; its absence costs the next command a full
/// read, a stale one is detected), which a store removes before its first
/// change in a lock, so an ADD killed after that and before it reserved
/// leaves it absent until the next change (the DEL that follows changes
/// nothing). Its temporary file is compared like any other.
fn tree(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
        let meta = std::fs::symlink_metadata(&p).expect("stat");
        if meta.is_dir() {
            out.insert(rel, "<dir>".into());
            tree(root, &p, out);
        } else if meta.is_file() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".netns-ipam-index.") && !name.ends_with(".tmp") {
                continue;
            }
            // A netns file (nsfs) reads as an error: its kind.
            let content = std::fs::read(&p)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|e| format!("<unreadable: {e}>"));
            out.insert(rel, content);
        } else {
            out.insert(rel, format!("<{:?}>", meta.file_type()));
        }
    }
}

/// The step an ADD killed by [`netns_examples::fault`] says it was killed
/// after (its stderr).
pub fn killed_step(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find(|l| l.contains("NETNS_TEST_KILL_AT="))
        .unwrap_or("(no step printed)")
        .to_owned()
}

/// ADD killed at step 1, 2... of `prog` (the plugin by default) until an
/// ADD is no longer killed; after each kill, DEL and the node as before.
/// Returns the number of steps.
#[track_caller]
pub fn kill_at_each_step(p: &Plugin, node: &Node, prog: Option<&str>) -> u32 {
    let what = format!("{} (killing {})", p.name(), prog.unwrap_or("it"));
    // A complete ADD and DEL first: see the file's docs.
    p.add();
    p.del();
    let before = node.state();
    for n in 1.. {
        let out = p.add_killed_at(n, prog);
        // A delegated plugin killed fails the caller's ADD, which must
        // undo what it made.
        let delegate_killed = prog.is_some() && !out.status.success();
        if delegate_killed {
            assert_same(
                &format!("{what}: {}, the ADD failed: the node", killed_step(&out)),
                &before,
                &node.state(),
            );
        }
        if out.status.signal() != Some(libc::SIGKILL) && !delegate_killed {
            // Past the last step: a complete ADD, which DEL undoes too.
            ok(&what, &format!("ADD with NETNS_TEST_KILL_AT={n}"), &out);
            p.del();
            assert_same(&format!("{what}: ADD then DEL"), &before, &node.state());
            return n - 1;
        }
        let step = killed_step(&out);
        p.del();
        assert_same(
            &format!("{what}: {step}, then DEL: the node"),
            &before,
            &node.state(),
        );
    }
    unreachable!()
}

/// ADD killed at its last step `last` and not deleted; GC with no valid
/// attachments; `gc_owned` (a part of the state) as before the ADD; then
/// DEL and all of it as before.
#[track_caller]
pub fn gc_after_kill(p: &Plugin, node: &Node, last: u32, gc_owned: &[&str]) {
    let before = node.state();
    let out = p.add_killed_at(last, None);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "{}: not killed at step {last}",
        p.name()
    );
    let after_kill = node.state();
    assert_ne!(before, after_kill, "{}: step {last} left nothing", p.name());
    p.gc();
    let after_gc = node.state();
    for k in gc_owned {
        assert_same(
            &format!("{}: {} after a kill then GC", p.name(), k),
            &before[*k],
            &after_gc[*k],
        );
    }
    p.del();
    assert_same(
        &format!("{}: kill, GC, then DEL: the node", p.name()),
        &before,
        &node.state(),
    );
}

/// host-local's config on `data`: a range of one address (10.N.0.2; .1 is
/// the gateway), a route.
pub fn host_local(data: &TempDir, n: u8) -> Value {
    json!({"type": "host-local", "subnet": format!("10.{n}.0.0/30"), "dataDir": data.s(),
           "routes": [{"dst": format!("10.{}.0.0/16", n + 100)}]})
}

pub fn conf(plugin: Value) -> Value {
    let mut c = json!({"cniVersion": "1.1.0", "name": "fnet"});
    if let (Some(o), Value::Object(p)) = (c.as_object_mut(), plugin) {
        o.extend(p);
    }
    c
}

/// A report line straight to stderr (the harness captures eprintln!).
pub fn report(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "faults: {line}");
}

/// xorshift64*: the random delays' generator (seeded per run, the seed in
/// every failure message).
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng::seeded(nanos ^ u64::from(std::process::id()))
    }

    pub fn seeded(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn seed(&self) -> u64 {
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// `rounds` ADDs each SIGKILLed after a random delay, up to as long as a
/// complete ADD took (the delay is the fault, not a synchronisation: an
/// ADD that finished first is a complete one), each followed by DEL and
/// the node as before. `NETNS_TEST_FAULT_SEED` replays a run,
/// `NETNS_TEST_FAULT_ROUNDS` sets the number of rounds. Returns how
/// many were killed.
#[track_caller]
pub fn random_kills(p: &Plugin, node: &Node, rounds: u32) -> u32 {
    // A soak: `NETNS_TEST_FAULT_ROUNDS=N` instead of the CI's few.
    let rounds = std::env::var("NETNS_TEST_FAULT_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(rounds);
    p.add();
    p.del();
    let before = node.state();
    // The shortest of three complete ADDs: the delays fall within a run.
    let full = (0..3)
        .map(|_| {
            let t0 = std::time::Instant::now();
            p.add();
            let d = t0.elapsed();
            p.del();
            d
        })
        .min()
        .unwrap_or_default();
    let mut rng = match std::env::var("NETNS_TEST_FAULT_SEED") {
        Ok(s) => Rng::seeded(s.parse().expect("NETNS_TEST_FAULT_SEED: a number")),
        Err(_) => Rng::new(),
    };
    let seed = rng.seed();
    let mut killed = 0;
    for r in 0..rounds {
        let micros = u64::try_from(full.as_micros()).unwrap_or(u64::MAX);
        let delay = std::time::Duration::from_micros(rng.below(micros));
        let mut child = p.spawn("ADD", &p.conf, &[]);
        std::thread::sleep(delay);
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait for the plugin");
        if out.status.signal() == Some(libc::SIGKILL) {
            killed += 1;
        } else {
            ok(&p.name(), "ADD (not killed in time)", &out);
        }
        p.del();
        assert_same(
            &format!(
                "{}: round {r}, killed after {delay:?} (of {full:?}; NETNS_TEST_FAULT_SEED={seed}), then DEL: the node",
                p.name()
            ),
            &before,
            &node.state(),
        );
    }
    report(&format!(
        "{}: {killed} of {rounds} ADDs killed after a random delay (NETNS_TEST_FAULT_SEED={seed}), DEL exact",
        p.name()
    ));
    killed
}
