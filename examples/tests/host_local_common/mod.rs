//! Shared by the host_local_* integration tests: locating the two plugins,
//! running them, temp data dirs, directory snapshots.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The reference plugin. CI installs it (containernetworking-plugins); a
/// missing binary fails the tests, it never skips them.
pub const HOST_LOCAL: &str = "/usr/lib/cni/host-local";

pub fn host_local() -> PathBuf {
    let p = PathBuf::from(HOST_LOCAL);
    assert!(
        p.is_file(),
        "{HOST_LOCAL} is missing: install Debian's containernetworking-plugins \
         (apt-get install containernetworking-plugins); the differential tests need it"
    );
    p
}

/// Our plugin: the `netns-host-local` example, which `cargo test` builds next
/// to the test binaries (target/<profile>/examples/).
pub fn plugin() -> PathBuf {
    example("netns-host-local")
}

/// The example program `name`, which `cargo test` builds next to the test
/// binaries (target/<profile>/examples/).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let p = profile_dir.join("examples").join(name);
    assert!(
        p.is_file(),
        "{} is missing: run the tests with `cargo test -p netns-examples` (which builds the \
         examples), or build it first with `cargo build -p netns-examples --example {name}`",
        p.display()
    );
    p
}

pub use netns_testutil::TempDir;

/// One plugin invocation's outcome.
#[derive(Debug, Clone)]
pub struct Out {
    pub rc: i32,
    pub stdout: String,
    pub json: Option<Value>,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.rc == 0
    }
    pub fn code(&self) -> Option<u64> {
        self.json.as_ref()?.get("code")?.as_u64()
    }
    pub fn msg(&self) -> String {
        self.json
            .as_ref()
            .and_then(|j| j.get("msg"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
    /// The addresses of an ADD result (any version's format).
    pub fn ips(&self) -> Vec<String> {
        let Some(j) = &self.json else { return vec![] };
        let mut out = vec![];
        if let Some(a) = j.get("ips").and_then(Value::as_array) {
            for ip in a {
                out.push(ip["address"].as_str().unwrap_or_default().to_string());
            }
        }
        for k in ["ip4", "ip6"] {
            if let Some(ip) = j.get(k) {
                out.push(ip["ip"].as_str().unwrap_or_default().to_string());
            }
        }
        out
    }
}

/// The invocation: command, container id, ifname, stdin config, CNI_ARGS.
#[derive(Debug, Clone)]
pub struct Call {
    pub cmd: String,
    pub id: String,
    pub ifname: String,
    pub conf: String,
    pub args: Option<String>,
    pub uid: Option<u32>,
    /// Variables set to raw bytes (not UTF-8), after the others.
    pub raw_env: Vec<(String, Vec<u8>)>,
    /// Kill the plugin if it has not finished in two minutes (for inputs
    /// that used to hang it: a bound that detects a hang, not a timing
    /// assertion).
    pub bounded: bool,
}

impl Call {
    pub fn new(cmd: &str, id: &str, conf: &str) -> Call {
        Call {
            cmd: cmd.into(),
            id: id.into(),
            ifname: "eth0".into(),
            conf: conf.into(),
            args: None,
            uid: None,
            raw_env: Vec::new(),
            bounded: false,
        }
    }
    pub fn raw_env(mut self, k: &str, v: &[u8]) -> Call {
        self.raw_env.push((k.into(), v.to_vec()));
        self
    }
    pub fn bounded(mut self) -> Call {
        self.bounded = true;
        self
    }
    pub fn ifname(mut self, i: &str) -> Call {
        self.ifname = i.into();
        self
    }
    pub fn args(mut self, a: &str) -> Call {
        self.args = Some(a.into());
        self
    }
}

pub fn run(bin: &Path, call: &Call) -> Out {
    run_bytes(bin, call, call.conf.as_bytes())
}

/// [`run`] with the stdin config given as bytes (that need not be UTF-8).
pub fn run_bytes(bin: &Path, call: &Call, conf: &[u8]) -> Out {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let mut c = if call.bounded {
        let mut t = Command::new("timeout");
        t.args(["-s", "KILL", "120"]).arg(bin);
        t
    } else {
        Command::new(bin)
    };
    c.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("CNI_COMMAND", &call.cmd)
        .env("CNI_CONTAINERID", &call.id)
        .env("CNI_IFNAME", &call.ifname)
        .env("CNI_NETNS", "/var/run/netns/netns-ipam-test")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(a) = &call.args {
        c.env("CNI_ARGS", a);
    }
    for (k, v) in &call.raw_env {
        use std::os::unix::ffi::OsStrExt;
        c.env(k, std::ffi::OsStr::from_bytes(v));
    }
    if let Some(uid) = call.uid {
        c.uid(uid).gid(uid);
    }
    // ETXTBSY: a binary a test has just copied (to run it as another user)
    // is still open for writing in a child another test thread forked
    // meanwhile, until that child execs. A kernel race, not a wait on the
    // plugin: try again, boundedly.
    let mut tries = 0;
    let mut child = loop {
        match c.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 1000 => {
                tries += 1;
                std::thread::yield_now();
            }
            other => break other.unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display())),
        }
    };
    // A plugin may exit without reading its stdin (ours does for VERSION),
    // so a broken pipe here is not the plugin's failure; its exit status is.
    match child.stdin.take().expect("stdin").write_all(conf) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
        _ => {}
    }
    let o = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let json = serde_json::from_str(&stdout).ok();
    Out {
        rc: o.status.code().unwrap_or(-1),
        stdout,
        json,
    }
}

/// `threads` threads at once, thread `t` making `per_thread` calls `cmd` of
/// the plugin `bin(t)` on config `conf`, with container ids `{prefix}{t}-{i}`:
/// every outcome with its id.
pub fn run_parallel(
    threads: usize,
    per_thread: usize,
    bin: impl Fn(usize) -> PathBuf + Sync,
    cmd: &str,
    prefix: &str,
    conf: &str,
) -> Vec<(String, Out)> {
    std::thread::scope(|s| {
        let bin = &bin;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let bin = bin(t);
                    (0..per_thread)
                        .map(|i| {
                            let id = format!("{prefix}{t}-{i}");
                            let o = run(&bin, &Call::new(cmd, &id, conf));
                            (id, o)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// Every entry of a network directory but `lock` and our temp files: name ->
/// (content, mode bits). `None` if the directory does not exist.
pub fn snapshot(dir: &Path) -> Option<BTreeMap<String, (Vec<u8>, u32)>> {
    use std::os::unix::fs::PermissionsExt;
    let rd = std::fs::read_dir(dir).ok()?;
    let mut out = BTreeMap::new();
    for e in rd {
        let e = e.expect("readdir");
        let name = e.file_name().to_string_lossy().to_string();
        if name == "lock" || (name.starts_with('.') && name.ends_with(".tmp")) {
            continue;
        }
        let md = e.metadata().expect("stat");
        let content = if md.is_dir() {
            b"<dir>".to_vec()
        } else {
            std::fs::read(e.path()).expect("read")
        };
        out.insert(name, (content, md.permissions().mode() & 0o7777));
    }
    Some(out)
}

/// Every entry below `root`, recursively, with content: for "byte for byte
/// unchanged" checks (includes `lock`).
pub fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, p: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        for e in rd.flatten() {
            let path = e.path();
            let rel = path
                .strip_prefix(base)
                .unwrap_or(&path)
                .display()
                .to_string();
            if path.is_dir() {
                out.insert(format!("{rel}/"), vec![]);
                walk(base, &path, out);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    walk(root, root, &mut out);
    out
}

/// The result or error of an invocation, in the form the two plugins must
/// agree on: success JSON as a whole; for errors the code and message.
pub fn comparable(o: &Out) -> Value {
    match &o.json {
        Some(j) if o.rc != 0 => serde_json::json!({
            "rc": o.rc, "code": j.get("code"), "msg": j.get("msg"),
            // netns-host-local also speaks 1.1.0: the only expected difference.
            "details": j.get("details").and_then(Value::as_str).map(|d| d.replace(r#" "1.1.0""#, "")),
        }),
        Some(j) => serde_json::json!({"rc": 0, "result": j}),
        None => serde_json::json!({"rc": o.rc, "stdout": o.stdout}),
    }
}
