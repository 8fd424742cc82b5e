//! Bad input, for every plugin (issue 18): a table per plugin of malformed
//! JSON, wrong types, unknown cniVersions, missing keys, names of 16+ bytes
//! or with `/`, NUL in strings, huge values, duplicate keys (Go's
//! encoding/json takes the last: so do we), a CNI_NETNS that cannot be
//! opened and one that is not a network namespace. Each case is run
//! directly (env and stdin, as a runtime execs a plugin: libcni would
//! refuse malformed JSON itself) and must be a CNI error with the expected
//! code and a message (msg and details) naming the offending value, with
//! nothing changed on the node: the host side and the pod (`ip -j`, the
//! sysctls, normalised), the IPAM data dir and make-net's directories
//! (every file and its bytes), the nft ruleset.
//!
//! The reference plugin of the same job (/usr/lib/cni, Debian's 1.1.1) is
//! run on the same case in a namespace of its own (it may leave things
//! behind) and must give the same code, unless the table says why not
//! (`Ref::Differs`: a case where the reference succeeds or fails later
//! with another code, documented; `Ref::Unjudged`: what the reference does
//! depends on the kernel, reported only). make-net and netns-cluster-ipam
//! have no reference (host-local, which the latter extends, would ignore
//! `etcd` and write to /var/lib/cni): their codes are the table's. Cases
//! already covered elsewhere are not repeated: see the notes on each
//! table. `--nocapture` prints the table (plugin, case, ours, the
//! reference's).
//!
//! All cases fail before any kernel call the host kernel lacks (vlan,
//! ipvlan links): the VM tier's vlan.rs and ipvlan.rs cover those that
//! need one.

netns_testutil::host_only!(
    "each case is judged by the reference plugins in /usr/lib/cni, which the VM image lacks; \
     no case reaches a kernel feature the host lacks"
);

mod cni_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cni_common::{our_plugin, veth_master, Pod, Snapshot, TempDir, Tokens};
use netns_testutil::in_private_netns;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// Running a plugin

/// Where CNI_NETNS points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Netns {
    /// The pod's namespace (a good one).
    Pod,
    /// A path that does not exist.
    Missing,
    /// A path below a regular file (ENOTDIR: it cannot be opened).
    UnderFile,
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A FIFO (opening it for reading would block).
    Fifo,
    /// A namespace file of another type (the plugin's mount namespace).
    MountNs,
}

/// The files and directories a table's cases point at.
struct Env {
    pod: Pod,
    files: TempDir,
    /// host-local's data dir (and netns-cluster-ipam's, unused).
    data: TempDir,
    /// make-net's nsDir and dataDir.
    ns_dir: TempDir,
    mk_data: TempDir,
}

impl Env {
    fn new() -> Env {
        let files = TempDir::new("bad-input-files");
        std::fs::write(files.path().join("file"), "not a namespace").expect("a file");
        std::fs::create_dir(files.path().join("dir")).expect("a dir");
        let fifo = std::ffi::CString::new(files.path().join("fifo").to_str().expect("utf-8"))
            .expect("no NUL");
        // SAFETY: a NUL-terminated path alive for the call.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0, "mkfifo");
        Env {
            pod: Pod::new("p1"),
            files,
            data: TempDir::new("bad-input-ipam"),
            ns_dir: TempDir::new("bad-input-nsdir"),
            mk_data: TempDir::new("bad-input-mkdata"),
        }
    }

    fn netns(&self, n: Netns) -> PathBuf {
        let f = self.files.path();
        match n {
            Netns::Pod => self.pod.path().to_path_buf(),
            Netns::Missing => f.join("gone"),
            Netns::UnderFile => f.join("file/ns"),
            Netns::File => f.join("file"),
            Netns::Dir => f.join("dir"),
            Netns::Fifo => f.join("fifo"),
            Netns::MountNs => PathBuf::from("/proc/self/ns/mnt"),
        }
    }

    /// `@DATA@`, `@NSDIR@`, `@MKDATA@` in a config, filled in.
    fn fill(&self, text: &str) -> String {
        text.replace("@DATA@", &self.data.s())
            .replace("@NSDIR@", &self.ns_dir.s())
            .replace("@MKDATA@", &self.mk_data.s())
    }
}

/// One invocation's outcome.
#[derive(Debug)]
struct Out {
    rc: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or(Value::Null)
    }
    fn code(&self) -> Option<u64> {
        if self.rc == 0 {
            return None;
        }
        self.json()["code"].as_u64()
    }
    /// msg and details, as a runtime shows them.
    fn text(&self) -> String {
        let j = self.json();
        format!(
            "{}; {}",
            j["msg"].as_str().unwrap_or_default(),
            j["details"].as_str().unwrap_or_default()
        )
    }
}

/// A case: what is wrong, the invocation, what must come of it.
#[derive(Debug, Clone)]
struct Case {
    what: String,
    cmd: &'static str,
    stdin: Vec<u8>,
    id: String,
    ifname: String,
    netns: Netns,
    /// Our code.
    code: u64,
    /// In our msg or details.
    needle: String,
    reference: Ref,
}

/// What the reference does with a case.
#[derive(Debug, Clone)]
enum Ref {
    /// Fails with our code.
    Same,
    /// Fails with another code, or succeeds (`None`): why (documented).
    Differs(Option<u64>, &'static str),
    /// Run and reported, not judged: what it does depends on the kernel
    /// (why).
    Unjudged(&'static str),
    /// No reference plugin judges this case.
    Na,
}

impl Case {
    fn new(what: impl Into<String>, stdin: impl Into<Vec<u8>>, code: u64, needle: &str) -> Case {
        Case {
            what: what.into(),
            cmd: "ADD",
            stdin: stdin.into(),
            id: "c1".into(),
            ifname: "eth0".into(),
            netns: Netns::Pod,
            code,
            needle: needle.into(),
            reference: Ref::Same,
        }
    }
    fn netns(mut self, n: Netns) -> Case {
        self.netns = n;
        self
    }
    fn ifname(mut self, i: &str) -> Case {
        self.ifname = i.into();
        self
    }
    fn id(mut self, i: &str) -> Case {
        self.id = i.into();
        self
    }
    fn cmd(mut self, c: &'static str) -> Case {
        self.cmd = c;
        self
    }
    fn differs(mut self, code: Option<u64>, why: &'static str) -> Case {
        self.reference = Ref::Differs(code, why);
        self
    }
    fn unjudged(mut self, why: &'static str) -> Case {
        self.reference = Ref::Unjudged(why);
        self
    }
}

fn run(bin: &Path, env: &Env, c: &Case) -> Out {
    use std::io::Write;
    let stdin = env.fill(&String::from_utf8_lossy(&c.stdin));
    // Configs with raw bytes that are not UTF-8 are not filled in.
    let stdin = if std::str::from_utf8(&c.stdin).is_ok() {
        stdin.into_bytes()
    } else {
        c.stdin.clone()
    };
    // A bound that detects a hang (a FIFO opened with a blocking read),
    // not a timing assertion.
    let mut child = Command::new("timeout")
        .args(["-s", "KILL", "120"])
        .arg(bin)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("CNI_COMMAND", c.cmd)
        .env("CNI_CONTAINERID", &c.id)
        .env("CNI_IFNAME", &c.ifname)
        .env("CNI_NETNS", env.netns(c.netns))
        .env("CNI_PATH", cni_common::REFERENCE_PLUGINS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    match child.stdin.take().expect("stdin").write_all(&stdin) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
        _ => {}
    }
    let o = child.wait_with_output().expect("wait");
    Out {
        rc: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

// ---------------------------------------------------------------------------
// What the node looks like

/// Every entry below `root`, recursively, with its bytes.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, p: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        for e in rd.flatten() {
            let path = e.path();
            let rel = path
                .strip_prefix(base)
                .unwrap_or(&path)
                .display()
                .to_string();
            let meta = std::fs::symlink_metadata(&path).expect("lstat");
            if meta.is_dir() {
                out.insert(format!("{rel}/"), vec![]);
                walk(base, &path, out);
            } else if meta.is_file() {
                out.insert(rel, std::fs::read(&path).unwrap_or_default());
            } else {
                out.insert(rel, format!("{:?}", meta.file_type()).into_bytes());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

struct State {
    host: Snapshot,
    pod: Snapshot,
    files: BTreeMap<String, Vec<u8>>,
    nft: Vec<Value>,
}

fn state(env: &Env) -> State {
    let mut files = BTreeMap::new();
    for (tag, d) in [
        ("data", &env.data),
        ("nsdir", &env.ns_dir),
        ("mkdata", &env.mk_data),
        ("files", &env.files),
    ] {
        for (k, v) in tree(d.path()) {
            files.insert(format!("{tag}/{k}"), v);
        }
    }
    State {
        host: Snapshot::here(),
        pod: env.pod.snapshot(),
        files,
        nft: netns_testutil::nft::ruleset(),
    }
}

/// What changed between `a` and `b`, nothing if nothing did (the
/// snapshots normalised with one [`Tokens`], so what the kernel finishes
/// asynchronously after the setup, a link-local address and its DAD, is no
/// difference).
fn changes(a: &State, b: &State) -> Vec<String> {
    let mut t = Tokens::new();
    let n = |s: &Snapshot, t: &mut Tokens| s.normalised(t).as_value();
    let mut out = Vec::new();
    for (what, x, y) in [("host side", &a.host, &b.host), ("pod", &a.pod, &b.pod)] {
        let (x, y) = (n(x, &mut t), n(y, &mut t));
        out.extend(
            cni_common::diff(&x, &y)
                .into_iter()
                .map(|d| format!("{what}: {d}")),
        );
    }
    let keys: std::collections::BTreeSet<&String> = a.files.keys().chain(b.files.keys()).collect();
    for k in keys {
        if a.files.get(k) != b.files.get(k) {
            out.push(format!(
                "file {k}: {:?} -> {:?}",
                a.files
                    .get(k)
                    .map(|v| String::from_utf8_lossy(v).into_owned()),
                b.files
                    .get(k)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            ));
        }
    }
    if a.nft != b.nft {
        out.push(format!(
            "nft ruleset: {} -> {}",
            Value::Array(a.nft.clone()),
            Value::Array(b.nft.clone())
        ));
    }
    out
}

// ---------------------------------------------------------------------------
// A table

/// One plugin's table: ours, the reference (if any), what the host side
/// needs, the cases.
struct Table {
    ours: &'static str,
    reference: Option<&'static str>,
    setup: fn(),
    cases: Vec<Case>,
}

/// One row of the report: plugin, case, ours, the reference's.
type Row = (String, String, String, String);

fn code_of(o: &Out) -> String {
    match (o.rc, o.code()) {
        (0, _) => "ok".into(),
        (_, Some(c)) => c.to_string(),
        (rc, None) => format!("exit {rc}, no error object"),
    }
}

/// Run a table: ours in a private namespace (code, message, nothing
/// changed), then the reference in another (its code only: it may leave
/// things behind). Returns the report's rows; panics listing every case
/// that failed.
fn run_table(t: &Table) -> Vec<Row> {
    let ours = our_plugin(t.ours);
    let mut failures: Vec<String> = Vec::new();
    let our_outs: Vec<Out> = in_private_netns(|| {
        (t.setup)();
        let env = Env::new();
        t.cases
            .iter()
            .map(|c| {
                let before = state(&env);
                let o = run(&ours, &env, c);
                let after = state(&env);
                let what = format!("{} {}", t.ours, c.what);
                if o.code() != Some(c.code) {
                    failures.push(format!(
                        "{what}: code {} (want {}): {} {}",
                        code_of(&o),
                        c.code,
                        o.stdout,
                        o.stderr.trim()
                    ));
                } else if !o.text().contains(&c.needle) {
                    failures.push(format!(
                        "{what}: message {:?} does not name {:?}",
                        o.text(),
                        c.needle
                    ));
                }
                if o.stderr.contains("panicked") {
                    failures.push(format!("{what}: a panic: {}", o.stderr));
                }
                let changed = changes(&before, &after);
                if !changed.is_empty() {
                    failures.push(format!("{what}: changed the node: {}", changed.join("; ")));
                }
                o
            })
            .collect()
    });
    let ref_outs: Vec<Option<Out>> = match t.reference {
        None => t.cases.iter().map(|_| None).collect(),
        Some(r) => {
            let bin = Path::new(cni_common::REFERENCE_PLUGINS).join(r);
            in_private_netns(|| {
                (t.setup)();
                let env = Env::new();
                t.cases
                    .iter()
                    .map(|c| match c.reference {
                        Ref::Na => None,
                        _ => Some(run(&bin, &env, c)),
                    })
                    .collect()
            })
        }
    };
    let mut rows = Vec::new();
    for ((c, o), r) in t.cases.iter().zip(&our_outs).zip(&ref_outs) {
        let theirs = match (r, &c.reference) {
            (None, _) => "-".to_string(),
            (Some(r), Ref::Same) => {
                if r.code() != Some(c.code) {
                    failures.push(format!(
                        "{} {}: the reference gives {} (ours {}): {}",
                        t.ours,
                        c.what,
                        code_of(r),
                        c.code,
                        r.stdout.trim()
                    ));
                }
                code_of(r)
            }
            (Some(r), Ref::Differs(code, why)) => {
                if r.code() != *code || (code.is_none() && r.rc != 0) {
                    failures.push(format!(
                        "{} {}: the reference gives {}, the table says {code:?} ({why}): {}",
                        t.ours,
                        c.what,
                        code_of(r),
                        r.stdout.trim()
                    ));
                }
                format!("{} ({why})", code_of(r))
            }
            (Some(r), Ref::Unjudged(why)) => format!("{} ({why})", code_of(r)),
            (Some(_), Ref::Na) => unreachable!("not run"),
        };
        rows.push((
            t.ours.to_string(),
            c.what.clone(),
            format!("{} {}", code_of(o), o.text()),
            theirs,
        ));
    }
    for (p, what, ours, theirs) in &rows {
        eprintln!("| {p} | {what} | {ours} | {theirs} |");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    rows
}

// ---------------------------------------------------------------------------
// Building configs

fn text(v: &Value) -> String {
    v.to_string()
}

/// `base` with the keys of `extra` set (a `null` removes a key); keys
/// under `ipam.` go into the ipam object.
fn with(base: &Value, extra: Value) -> Vec<u8> {
    let mut v = base.clone();
    if let Value::Object(e) = extra {
        for (k, x) in e {
            let (obj, key) = match k.strip_prefix("ipam.") {
                Some(rest) => (&mut v["ipam"], rest.to_string()),
                None => (&mut v, k),
            };
            let o = obj.as_object_mut().expect("an object");
            if x.is_null() {
                o.remove(&key);
            } else {
                o.insert(key, x);
            }
        }
    }
    text(&v).into_bytes()
}

/// `base`'s text with `extra` (`"key":value`) added as its last member:
/// a duplicate key there is the one Go takes.
fn last(base: &Value, extra: &str) -> Vec<u8> {
    let t = text(base);
    format!("{},{extra}}}", &t[..t.len() - 1]).into_bytes()
}

/// `base`'s text with `extra` as its first member: a duplicate there is
/// overridden by base's own.
fn first(base: &Value, extra: &str) -> Vec<u8> {
    let t = text(base);
    format!("{{{extra},{}", &t[1..]).into_bytes()
}

/// The cases every plugin shares: what skel checks, in its order, with
/// its codes (1 incompatible version, 4 environment, 6 decoding, 7
/// network config), and a shared key of the wrong type that skel does not
/// read (`ipam`: the plugin's `failed to load netconf`, 999). Already
/// covered: host_local_bad_input.rs has malformed JSON, not-UTF-8
/// variables and deep nesting for host-local; netns-cni's skel unit tests
/// the order of skel's checks.
fn common(base: &Value) -> Vec<Case> {
    let t = text(base);
    vec![
        Case::new(
            "malformed JSON (cut short)",
            &t[..t.len() - 1],
            6,
            "error unmarshall network config",
        ),
        Case::new(
            "a raw NUL byte in the JSON",
            last(base, "\"x\":\"a\0b\""),
            6,
            "error unmarshall network config",
        ),
        Case::new(
            "wrong type: name a number",
            with(base, json!({"name": 5})),
            6,
            "5",
        ),
        Case::new(
            "wrong type: cniVersion a number",
            with(base, json!({"cniVersion": 1})),
            6,
            "1",
        ),
        Case::new(
            "unknown cniVersion 9.9.9",
            with(base, json!({"cniVersion": "9.9.9"})),
            1,
            "9.9.9",
        ),
        Case::new(
            "cniVersion not a version",
            with(base, json!({"cniVersion": "1.x"})),
            1,
            "1.x",
        ),
        Case::new(
            "wrong type: ipam a string",
            with(base, json!({"ipam": "host-local"})),
            999,
            "host-local",
        ),
        Case::new(
            "missing name",
            with(base, json!({"name": null})),
            7,
            "missing network name",
        ),
        Case::new("name with /", with(base, json!({"name": "a/b"})), 7, "a/b"),
        Case::new(
            "name with NUL",
            with(base, json!({"name": "a\u{0}b"})),
            7,
            "a\u{0}b",
        ),
        Case::new(
            "CHECK with cniVersion 0.3.1",
            with(base, json!({"cniVersion": "0.3.1"})),
            1,
            "config version does not allow CHECK",
        )
        .cmd("CHECK"),
        Case::new(
            "duplicate cniVersion, the last unknown",
            last(base, r#""cniVersion":"9.9.9""#),
            1,
            "9.9.9",
        ),
        Case::new(
            "duplicate name, the last with /",
            last(base, r#""name":"x/y""#),
            7,
            "x/y",
        ),
        Case::new(
            "CNI_IFNAME of 16 bytes",
            t.clone(),
            4,
            "interface name is too long",
        )
        .ifname("eth0123456789abc"),
        Case::new(
            "CNI_IFNAME with /",
            t.clone(),
            4,
            "interface name contains / or : or whitespace characters",
        )
        .ifname("a/b"),
        Case::new("CNI_CONTAINERID with /", t.clone(), 4, "a/b").id("a/b"),
    ]
}

/// CNI_NETNS that cannot be opened or is not a network namespace, for the
/// plugins that open it (code 999, the path named); a DEL on one that is
/// not a namespace fails too (one that is gone is a DEL's success).
/// `dup_first` is a duplicate key, wrong first and right last: Go takes
/// the last, so the case fails on CNI_NETNS, not on the key.
fn netns_cases(base: &Value, dup_first: &str) -> Vec<Case> {
    let t = text(base);
    let mk = |what: &str, n: Netns, needle: &str| {
        Case::new(format!("CNI_NETNS {what}"), t.clone(), 999, needle).netns(n)
    };
    vec![
        mk("missing", Netns::Missing, "gone"),
        mk("below a regular file", Netns::UnderFile, "file/ns"),
        mk("a regular file", Netns::File, "file"),
        mk("a directory", Netns::Dir, "dir"),
        mk("a FIFO", Netns::Fifo, "fifo"),
        mk("a mount namespace", Netns::MountNs, "/proc/self/ns/mnt"),
        mk("a regular file, on DEL", Netns::File, "file").cmd("DEL"),
        mk("a regular file, on CHECK", Netns::File, "file").cmd("CHECK"),
        Case::new(
            format!("duplicate key, the first wrong ({dup_first}), the last taken"),
            first(base, dup_first),
            999,
            "gone",
        )
        .netns(Netns::Missing),
    ]
}

fn master_setup() {
    veth_master("mst0", 1400);
}

fn no_setup() {}

// ---------------------------------------------------------------------------
// The tables

#[test]
fn bridge() {
    let base = json!({"cniVersion": "1.0.0", "name": "net", "type": "bridge",
        "bridge": "cni-bad0", "isGateway": true, "ipMasq": true,
        "ipam": {"type": "host-local", "subnet": "10.88.0.0/24", "dataDir": "@DATA@"}});
    let mut cases = common(&base);
    cases.extend(netns_cases(&base, r#""bridge":"br/9""#));
    cases.extend([
        Case::new(
            "wrong type: mtu a string",
            with(&base, json!({"mtu": "1500"})),
            999,
            "1500",
        ),
        Case::new(
            "wrong type: ipMasq a string",
            with(&base, json!({"ipMasq": "yes"})),
            999,
            "yes",
        ),
        Case::new(
            "huge mtu 2^40",
            with(&base, json!({"mtu": 1u64 << 40})),
            999,
            "1099511627776",
        ),
        Case::new("huge mtu 1e30", last(&base, r#""mtu":1e30"#), 999, "1e+30"),
        Case::new(
            "huge vlan",
            with(&base, json!({"vlan": 99_999})),
            999,
            "99999",
        ),
        Case::new(
            "bridge name of 16 bytes",
            with(&base, json!({"bridge": "cni-bad0123456789"})),
            999,
            "cni-bad0123456789",
        ),
        Case::new(
            "bridge name with /",
            with(&base, json!({"bridge": "br/0"})),
            999,
            "br/0",
        ),
        Case::new(
            "bridge name with NUL",
            with(&base, json!({"bridge": "br\u{0}x"})),
            999,
            "br\\0x",
        )
        .differs(
            None,
            "the kernel reads the name up to the NUL: makes bridge br",
        ),
        Case::new(
            "duplicate bridge, the last with /",
            last(&base, r#""bridge":"br/1""#),
            999,
            "br/1",
        ),
        Case::new(
            "ipam subnet with NUL",
            with(&base, json!({"ipam.subnet": "10.88.0.0/24\u{0}"})),
            999,
            "10.88.0.0/24",
        ),
    ]);
    run_table(&Table {
        ours: "netns-bridge",
        reference: Some("bridge"),
        setup: no_setup,
        cases,
    });
}

/// The sub-interface plugins' cases for their `master` and `mtu`
/// (already covered by macvlan.rs, vlan.rs, ipvlan.rs through libcni: a
/// master that does not exist, an MTU above the master's or negative, an
/// unknown mode, a taken name, no master and no default route).
fn master_cases(base: &Value) -> Vec<Case> {
    vec![
        Case::new(
            "wrong type: mtu a string",
            with(base, json!({"mtu": "1500"})),
            999,
            "1500",
        ),
        Case::new(
            "huge mtu 2^40",
            with(base, json!({"mtu": 1u64 << 40})),
            999,
            "1099511627776",
        ),
        Case::new("huge mtu 1e30", last(base, r#""mtu":1e30"#), 999, "1e+30"),
        Case::new(
            "master name of 16 bytes",
            with(base, json!({"master": "mst0123456789abc"})),
            999,
            "mst0123456789abc",
        ),
        Case::new(
            "master name with /",
            with(base, json!({"master": "ms/t0"})),
            999,
            "ms/t0",
        ),
        Case::new(
            "master name with NUL",
            with(base, json!({"master": "mst0\u{0}x"})),
            999,
            "mst0\\0x",
        )
        .unjudged("the kernel reads the name up to the NUL: takes mst0 as the master"),
        Case::new(
            "duplicate master, the last with /",
            last(base, r#""master":"m/1""#),
            999,
            "m/1",
        ),
    ]
}

fn ipam(subnet: &str) -> Value {
    json!({"type": "host-local", "subnet": subnet, "dataDir": "@DATA@"})
}

#[test]
fn macvlan() {
    let base = json!({"cniVersion": "1.0.0", "name": "net", "type": "macvlan",
        "master": "mst0", "mode": "bridge", "ipam": ipam("10.89.0.0/24")});
    let mut cases = common(&base);
    cases.extend(netns_cases(&base, r#""mode":5"#));
    cases.extend(master_cases(&base));
    cases.extend([
        Case::new(
            "wrong type: mode a number",
            with(&base, json!({"mode": 5})),
            999,
            "5",
        ),
        Case::new(
            "mode with NUL",
            with(&base, json!({"mode": "bridge\u{0}"})),
            999,
            "bridge\\0",
        ),
        Case::new(
            "duplicate mode, the last unknown",
            last(&base, r#""mode":"vepa2""#),
            999,
            "vepa2",
        ),
    ]);
    run_table(&Table {
        ours: "netns-macvlan",
        reference: Some("macvlan"),
        setup: master_setup,
        cases,
    });
}

#[test]
fn vlan() {
    let base = json!({"cniVersion": "1.0.0", "name": "net", "type": "vlan",
        "master": "mst0", "vlanId": 10, "ipam": ipam("10.90.0.0/24")});
    let mut cases = common(&base);
    cases.extend(netns_cases(&base, r#""vlanId":"ten""#));
    cases.extend(master_cases(&base));
    cases.extend([
        Case::new(
            "missing master",
            with(&base, json!({"master": null})),
            999,
            "\"master\" field is required",
        ),
        Case::new(
            "huge vlanId",
            with(&base, json!({"vlanId": 99_999_999_999u64})),
            999,
            "99999999999",
        ),
        Case::new(
            "huge vlanId 1e30",
            last(&base, r#""vlanId":1e30"#),
            999,
            "1e+30",
        ),
        Case::new(
            "duplicate vlanId, the last out of range",
            last(&base, r#""vlanId":5000"#),
            999,
            "5000",
        ),
    ]);
    run_table(&Table {
        ours: "netns-vlan",
        reference: Some("vlan"),
        setup: master_setup,
        cases,
    });
}

#[test]
fn ipvlan() {
    let base = json!({"cniVersion": "1.0.0", "name": "net", "type": "ipvlan",
        "master": "mst0", "mode": "l2", "ipam": ipam("10.91.0.0/24")});
    let mut cases = common(&base);
    cases.extend(netns_cases(&base, r#""mode":2"#));
    cases.extend(master_cases(&base));
    cases.extend([
        Case::new(
            "wrong type: mode a number",
            with(&base, json!({"mode": 2})),
            999,
            "2",
        ),
        Case::new(
            "mode with NUL",
            with(&base, json!({"mode": "l2\u{0}"})),
            999,
            "l2\\0",
        ),
        Case::new(
            "duplicate mode, the last unknown",
            last(&base, r#""mode":"l9""#),
            999,
            "l9",
        ),
    ]);
    run_table(&Table {
        ours: "netns-ipvlan",
        reference: Some("ipvlan"),
        setup: master_setup,
        cases,
    });
}

/// Already covered by portmap_conf.rs (the parsing units: ports 0 and
/// 65536, negative ports, protocols, hostIP forms, conditions) and
/// portmap.rs (a host port another attachment holds).
#[test]
fn portmap() {
    let base = json!({"cniVersion": "1.0.0", "name": "net", "type": "portmap",
        "capabilities": {"portMappings": true},
        "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]},
        "prevResult": {"cniVersion": "1.0.0",
            "interfaces": [{"name": "eth0", "sandbox": "/run/netns/x"}],
            "ips": [{"address": "10.92.0.5/24", "interface": 0}]}});
    let pm = |m: Value| with(&base, json!({"runtimeConfig": {"portMappings": [m]}}));
    let mut cases = common(&base);
    cases.extend([
        Case::new(
            "wrong type: prevResult a number",
            with(&base, json!({"prevResult": 5})),
            999,
            "prevResult",
        ),
        Case::new(
            "missing prevResult",
            with(&base, json!({"prevResult": null})),
            999,
            "must be called as chained plugin",
        ),
        Case::new(
            "wrong type: hostPort a string",
            pm(json!({"hostPort": "8080", "containerPort": 80})),
            999,
            "8080",
        ),
        Case::new(
            "huge hostPort",
            pm(json!({"hostPort": 99_999_999_999u64, "containerPort": 80})),
            999,
            "99999999999",
        ),
        Case::new(
            "huge containerPort 1e30",
            last(
                &base,
                r#""runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":1e30}]}"#,
            ),
            999,
            "1e+30",
        ),
        Case::new(
            "protocol with NUL",
            pm(json!({"hostPort": 8080, "containerPort": 80, "protocol": "tcp\u{0}"})),
            999,
            "tcp\\0",
        ),
        Case::new(
            "hostIP with NUL",
            pm(json!({"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "10.0.0.1\u{0}"})),
            999,
            "10.0.0.1\\0",
        )
        .differs(None, "drops a mapping whose hostIP it cannot parse"),
        Case::new(
            "huge markMasqBit",
            with(&base, json!({"markMasqBit": 99_999_999_999u64})),
            999,
            // The reference's exact words (portmap_diff compares them),
            // which name the key but not the value.
            "MasqMarkBit must be between 0 and 31",
        ),
        Case::new(
            "duplicate runtimeConfig, the last with port 70000",
            last(
                &base,
                r#""runtimeConfig":{"portMappings":[{"hostPort":70000,"containerPort":80}]}"#,
            ),
            999,
            "70000",
        ),
    ]);
    run_table(&Table {
        ours: "netns-portmap",
        reference: Some("portmap"),
        setup: no_setup,
        cases,
    });
}

/// What host_local_bad_input.rs lacks (it has malformed JSON, unknown
/// CNI_ARGS, bad ranges, missing ipam, not-UTF-8 variables, unreadable
/// data dirs, deep nesting). host-local does not open CNI_NETNS, as the
/// reference.
#[test]
fn host_local() {
    let base = json!({"cniVersion": "1.0.0", "name": "net", "ipam": ipam("10.93.0.0/24")});
    let mut cases: Vec<Case> = common(&base)
        .into_iter()
        .filter(|c| !c.what.starts_with("malformed"))
        .collect();
    cases.extend([
        Case::new(
            "wrong type: subnet a number",
            with(&base, json!({"ipam.subnet": 5})),
            999,
            "ipam.subnet",
        ),
        Case::new(
            "subnet with NUL",
            with(&base, json!({"ipam.subnet": "10.93.0.0/24\u{0}"})),
            999,
            "10.93.0.0/24",
        ),
        Case::new(
            "huge prefix length",
            with(&base, json!({"ipam.subnet": "10.93.0.0/4294967320"})),
            999,
            "4294967320",
        ),
        Case::new(
            "huge dataDir (5000 bytes)",
            with(
                &base,
                json!({"ipam.dataDir": format!("@DATA@/{}", "d".repeat(5000))}),
            ),
            999,
            "file name too long",
        ),
        Case::new(
            "duplicate ipam, the last with host bits",
            last(
                &base,
                r#""ipam":{"type":"host-local","subnet":"10.93.0.1/24","dataDir":"@DATA@"}"#,
            ),
            999,
            "host bits set",
        ),
    ]);
    run_table(&Table {
        ours: "netns-host-local",
        reference: Some("host-local"),
        setup: no_setup,
        cases,
    });
}

/// No reference (host-local, which it extends, would ignore `etcd` and
/// write to /var/lib/cni: not run). etcd is unreachable (127.0.0.1:1 in a
/// namespace whose `lo` is down): every case but the last fails before
/// contacting it, the last shows what contacting it gives. cluster_ipam.rs
/// covers etcd down, no quorum, and bad TLS files.
#[test]
fn cluster_ipam() {
    let base = json!({"cniVersion": "1.0.0", "name": "net", "ipam": {
        "type": "netns-cluster-ipam", "subnet": "10.94.0.0/24", "node": "n1",
        "etcd": {"endpoints": ["http://127.0.0.1:1"], "dialTimeoutMs": 1000,
                 "requestTimeoutMs": 300}}});
    let etcd = |e: Value| {
        let mut v = base.clone();
        v["ipam"]["etcd"] = e;
        text(&v).into_bytes()
    };
    let mut cases = common(&base);
    cases.extend([
        Case::new(
            "wrong type: etcd a string",
            with(&base, json!({"ipam.etcd": "http://127.0.0.1:1"})),
            7,
            "ipam.etcd",
        ),
        Case::new(
            "missing etcd",
            with(&base, json!({"ipam.etcd": null})),
            7,
            "ipam.etcd is required",
        ),
        Case::new(
            "no endpoints",
            etcd(json!({"endpoints": []})),
            7,
            "at least one endpoint",
        ),
        Case::new(
            "endpoint with NUL",
            etcd(json!({"endpoints": ["http://127.0.0.1:1\u{0}"]})),
            7,
            "127.0.0.1:1\\0",
        ),
        Case::new(
            "endpoint not a URL",
            etcd(json!({"endpoints": ["127.0.0.1/2379"]})),
            7,
            "127.0.0.1/2379",
        ),
        Case::new(
            "wrong type: dialTimeoutMs a string",
            etcd(json!({"endpoints": ["http://127.0.0.1:1"], "dialTimeoutMs": "5"})),
            7,
            "dialTimeoutMs",
        ),
        Case::new(
            "huge dialTimeoutMs 1e30",
            text(&base).replace(r#""dialTimeoutMs":1000"#, r#""dialTimeoutMs":1e30"#),
            7,
            "1e+30",
        ),
        Case::new(
            "wrong type: node a number",
            with(&base, json!({"ipam.node": 5})),
            7,
            "ipam.node",
        ),
        Case::new(
            "subnet with NUL",
            with(&base, json!({"ipam.subnet": "10.94.0.0/24\u{0}"})),
            999,
            "10.94.0.0/24",
        ),
        Case::new(
            "duplicate ipam, the last without etcd",
            last(
                &base,
                r#""ipam":{"type":"netns-cluster-ipam","subnet":"10.94.0.0/24"}"#,
            ),
            7,
            "ipam.etcd is required",
        ),
        Case::new(
            "a good config, etcd unreachable",
            text(&base),
            11,
            "127.0.0.1:1",
        ),
    ]);
    for c in &mut cases {
        c.reference = Ref::Na;
    }
    run_table(&Table {
        ours: "netns-cluster-ipam",
        reference: None,
        setup: no_setup,
        cases,
    });
}

/// No reference plugin (the original make-net is a blog's Go program, see
/// make_net_go.rs). Its own checks are code 7 (invalid network config);
/// a key of the wrong type is 999, as the reference plugins' `failed to
/// load netconf`. make_net_conf.rs covers netid templates and names
/// that are not names as units; make_net.rs a namespace of another
/// attachment or of nobody's.
#[test]
fn make_net() {
    let base = json!({"cniVersion": "1.0.0", "name": "net", "type": "make-net",
        "netid": "bad-ns", "nsDir": "@NSDIR@", "dataDir": "@MKDATA@", "peer": "pod"});
    let mut cases = common(&base);
    cases.extend(
        netns_cases(&base, r#""netid":5"#)
            .into_iter()
            .filter(|c| c.cmd == "ADD"),
    );
    cases.extend([
        Case::new(
            "missing netid",
            with(&base, json!({"netid": null})),
            7,
            "\"netid\" is required",
        ),
        Case::new(
            "wrong type: netid a number",
            with(&base, json!({"netid": 5})),
            999,
            "5",
        ),
        Case::new(
            "netid with /",
            with(&base, json!({"netid": "a/b"})),
            7,
            "a/b",
        ),
        Case::new(
            "netid with NUL",
            with(&base, json!({"netid": "a\u{0}b"})),
            7,
            "a\\0b",
        ),
        Case::new(
            "huge netid (256 bytes)",
            with(&base, json!({"netid": "n".repeat(256)})),
            7,
            &"n".repeat(256),
        ),
        Case::new(
            "ifName of 16 bytes",
            with(&base, json!({"ifName": "veth0123456789ab"})),
            7,
            "veth0123456789ab",
        ),
        Case::new(
            "peerName with /",
            with(&base, json!({"peer": "host", "peerName": "p/1"})),
            7,
            "p/1",
        ),
        Case::new(
            "huge mtu",
            with(&base, json!({"mtu": 99_999_999_999u64})),
            7,
            "99999999999",
        ),
        Case::new(
            "unknown peer",
            with(&base, json!({"peer": "router"})),
            7,
            "router",
        ),
        Case::new(
            "address with a huge prefix",
            with(&base, json!({"addresses": ["10.95.0.1/4294967320"]})),
            7,
            "10.95.0.1/4294967320",
        ),
        Case::new(
            "duplicate netid, the last ../x",
            last(&base, r#""netid":"../x""#),
            7,
            "../x",
        ),
    ]);
    for c in &mut cases {
        c.reference = Ref::Na;
    }
    run_table(&Table {
        ours: "make-net",
        reference: None,
        setup: no_setup,
        cases,
    });
}
