//! Driving CNI plugins the way runtimes do, and comparing what they did.
//!
//! A test file includes this with `mod cni_common;` and runs everything inside
//! `netns_testutil::in_private_netns`:
//!
//! - [`driver`]: examples/cni-driver (a libcni 1.1.2 command-line driver, in
//!   Go), built once per cargo target dir;
//! - [`reference_dir`]: the reference plugins, /usr/lib/cni. The VM tier
//!   has neither Go nor /usr/lib/cni but shares the cargo target dir: the
//!   host tier leaves the driver and a copy of the plugins the VM tier needs
//!   (target/<profile>/ref-cni) there, and the VM tier runs them, and ours,
//!   from copies in guest memory;
//! - [`Pod`]: a container network namespace in a temporary netns directory;
//!   [`outside_pod`], one wired to the host side with no route to the pods, and
//!   [`seen_from_outside`], the address a pod's connection there comes from;
//! - [`Network`]: a conflist, a plugin search path and a libcni cache dir of
//!   its own, with [`Network::run`] (and `add`, `check`, `del`, `gc`,
//!   `status`, `validate`) running the driver from the calling thread, so the
//!   plugins' host side lands in the test's private namespace;
//! - [`Snapshot`]: what `ip -j` (and /proc/sys) shows of a namespace, and
//!   [`Snapshot::normalised`], which keeps what a plugin decides and replaces
//!   what differs from run to run (see [`Tokens`]);
//! - [`normalise_result`] and [`check_result`] for ADD results.
//!
//! ```ignore
//! in_private_netns(|| {
//!     let data = TempDir::new("ipam");
//!     let net = Network::new(
//!         json!({"cniVersion": "1.0.0", "name": "t", "plugins": [{
//!             "type": "netns-bridge", "bridge": "cni-t0", "isGateway": true,
//!             "ipam": {"type": "host-local", "subnet": "10.77.0.0/24", "dataDir": data.s()}
//!         }]}),
//!         our_path(), // target/<profile>/examples, then /usr/lib/cni
//!     );
//!     let pod = Pod::new("p1");
//!     let add = net.add(&pod, "c1", "eth0").expect_ok();
//!     check_result(add.result(), &pod);
//!     let mut t = Tokens::new();
//!     let host = Snapshot::here().normalised(&mut t);
//!     let inside = pod.snapshot().normalised(&mut t);
//!     let result = normalise_result(add.result(), &mut t);
//! });
//! ```
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use netns_core::NetnsDir;
use netns_testutil::TempNetnsDir;
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------
// Where things are

/// The reference plugins (Debian's containernetworking-plugins 1.1.1).
pub const REFERENCE_PLUGINS: &str = "/usr/lib/cni";

/// libcni's source, from Debian's golang-github-appc-cni-dev (GOPATH layout).
pub const GOCODE: &str = "/usr/share/gocode";
const LIBCNI: &str = "src/github.com/containernetworking/cni/libcni";

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ is in the workspace root")
        .to_path_buf()
}

/// target/<profile>: the test binary is in its deps/.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary is in <target>/<profile>/deps")
        .to_path_buf()
}

/// target/<profile>/examples, where cargo builds our plugins (the examples
/// of netns-examples) for `cargo test -p netns-examples`.
pub fn examples_dir() -> PathBuf {
    profile_dir().join("examples")
}

/// The reference plugins the VM tier's tests use, copied by the host tier
/// into [`staged_reference_dir`]: the VM image has no /usr/lib/cni (the
/// guest's /usr is its own), but it shares the cargo target dir.
pub const STAGED_PLUGINS: &[&str] = &["bridge", "host-local", "vlan", "ipvlan"];

/// target/<profile>/ref-cni: where the host tier copies [`STAGED_PLUGINS`]
/// for the VM tier.
pub fn staged_reference_dir() -> PathBuf {
    profile_dir().join("ref-cni")
}

/// The reference plugins' directory: /usr/lib/cni when it has them (on the
/// host, which then also copies [`STAGED_PLUGINS`] into
/// [`staged_reference_dir`], once per process, for the VM tier); else, in
/// the test VM only, that copy (run from a copy of it in guest memory, see
/// `vm_local_copy`). Fails, saying what to do, if neither is there.
pub fn reference_dir() -> PathBuf {
    let p = PathBuf::from(REFERENCE_PLUGINS);
    if p.join("bridge").is_file() && p.join("host-local").is_file() {
        static STAGED: OnceLock<()> = OnceLock::new();
        STAGED.get_or_init(|| stage_reference_plugins(&p, &staged_reference_dir()));
        return p;
    }
    if netns_testutil::in_test_vm() {
        let staged = staged_reference_dir();
        let missing: Vec<&str> = STAGED_PLUGINS
            .iter()
            .copied()
            .filter(|n| !staged.join(n).is_file())
            .collect();
        assert!(
            missing.is_empty(),
            "the reference plugins {missing:?} are missing from {}: the VM image has no \
             {REFERENCE_PLUGINS}, so the host tier copies them there (any CNI test run on the \
             host does, e.g. `cargo test -p netns-examples --test bridge_vlan`; .ci/test runs \
             the host tier before the VM tier)",
            staged.display()
        );
        static LOCAL: OnceLock<PathBuf> = OnceLock::new();
        return LOCAL
            .get_or_init(|| vm_local_copy(&staged, STAGED_PLUGINS, "ref-cni"))
            .clone();
    }
    panic!(
        "{REFERENCE_PLUGINS}/bridge or host-local is missing: install Debian's \
         containernetworking-plugins (apt-get install containernetworking-plugins)"
    );
}

/// In the test VM, copies of the programs `names` of `dir` in
/// `<temp dir>/netns-cni-exe-<pid>/<tag>`, made once per process, to run
/// them from there. The guest's target dir is a 9p share, its /tmp a tmpfs:
/// under emulation an exec from the share costs up to a second or more for a
/// 3 MB Go program, several times that of a copy in memory, and a CNI ADD
/// execs three. The copies live as long as the guest (its /tmp goes with
/// it). A name `dir` lacks is left out (who needs it fails on its own
/// terms).
fn vm_local_copy(dir: &Path, names: &[&str], tag: &str) -> PathBuf {
    let to = std::env::temp_dir()
        .join(format!("netns-cni-exe-{}", std::process::id()))
        .join(tag);
    fs::create_dir_all(&to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    for name in names {
        let src = dir.join(name);
        if src.is_file() {
            fs::copy(&src, to.join(name))
                .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), to.display()));
        }
    }
    to
}

/// Copy [`STAGED_PLUGINS`] from `from` into `to` where the copy differs
/// (each written under a name of this process, then renamed: a concurrent
/// test binary never runs a half-written plugin).
fn stage_reference_plugins(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    for name in STAGED_PLUGINS {
        let (src, dst) = (from.join(name), to.join(name));
        let want = fs::read(&src).unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
        if fs::read(&dst).is_ok_and(|have| have == want) {
            continue;
        }
        let tmp = to.join(format!(".{name}.{}", std::process::id()));
        fs::copy(&src, &tmp)
            .and_then(|_| fs::rename(&tmp, &dst))
            .unwrap_or_else(|e| {
                let _ = fs::remove_file(&tmp);
                panic!("copy {} to {}: {e}", src.display(), dst.display())
            });
    }
}

/// A plugin search path of the reference plugins only.
pub fn reference_path() -> Vec<PathBuf> {
    vec![reference_dir()]
}

/// Our CNI plugins (examples of netns-examples).
pub const OUR_PLUGINS: &[&str] = &[
    "netns-bridge",
    "netns-host-local",
    "netns-portmap",
    "netns-macvlan",
    "netns-vlan",
    "netns-ipvlan",
    "make-net",
];

/// A plugin search path of our plugins first, then the reference ones
/// (a conflist naming `netns-bridge` finds ours, `host-local` the reference).
/// In the test VM, a directory of copies of [`OUR_PLUGINS`] in guest memory
/// (see `vm_local_copy`) instead of [`examples_dir`], each copied when
/// first needed: [`Network::new`] copies those its conflist names,
/// [`our_exe`] the one asked for.
pub fn our_path() -> Vec<PathBuf> {
    let ours = if netns_testutil::in_test_vm() {
        vm_our_dir().to_path_buf()
    } else {
        examples_dir()
    };
    vec![ours, reference_dir()]
}

/// The test VM's directory of guest-memory copies of our plugins (see
/// [`our_path`]), empty until [`vm_our_plugins`] fills it.
fn vm_our_dir() -> &'static Path {
    static LOCAL: OnceLock<PathBuf> = OnceLock::new();
    LOCAL.get_or_init(|| vm_local_copy(&examples_dir(), &[], "examples"))
}

/// In the test VM, copy those of `names` that are [`OUR_PLUGINS`] into
/// [`vm_our_dir`], once per process each (a debug build is 35-40 MB: all
/// seven cost about 5 s from the 9p share, and a test binary runs one to
/// three of them). Each is written under another name, then renamed: a
/// concurrent test never runs a half-written plugin. Elsewhere nothing.
fn vm_our_plugins<'a>(names: impl IntoIterator<Item = &'a str>) {
    if !netns_testutil::in_test_vm() {
        return;
    }
    static COPIED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut copied = COPIED.lock().unwrap_or_else(|e| e.into_inner());
    for name in names {
        if !OUR_PLUGINS.contains(&name)
            || copied.iter().any(|c| c == name)
            || !examples_dir().join(name).is_file()
        {
            // (a missing one is left out: who needs it fails on its own terms)
            continue;
        }
        let dir = vm_our_dir();
        let tmp = vm_local_copy(&examples_dir(), &[name], &format!("examples.{name}"));
        fs::rename(tmp.join(name), dir.join(name))
            .unwrap_or_else(|e| panic!("move the copy of {name} to {}: {e}", dir.display()));
        copied.push(name.to_owned());
    }
}

/// The plugin names (the strings under a `"type"` key, at any depth: the
/// plugins, their IPAM, whatever they delegate to) of a conflist's text,
/// if it is JSON.
fn plugin_types(conflist: &str) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                for (k, v) in o {
                    if let (true, Some(t)) = (k == "type", v.as_str()) {
                        out.push(t.to_owned());
                    }
                    walk(v, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = serde_json::from_str::<Value>(conflist) {
        walk(&v, &mut out);
    }
    out
}

/// Our plugin `name` where [`our_path`] has it, to run it directly (in the
/// test VM, its guest-memory copy, made now if need be).
pub fn our_exe(name: &str) -> PathBuf {
    vm_our_plugins([name]);
    our_path()[0].join(name)
}

/// Our plugin `name` (e.g. `netns-bridge`), built by cargo; fails with how to
/// build it if it is missing.
pub fn our_plugin(name: &str) -> PathBuf {
    let p = examples_dir().join(name);
    assert!(
        p.is_file(),
        "{} is missing: run the tests with `cargo test -p netns-examples` (which builds the \
         examples), or `cargo build -p netns-examples --example {name}`",
        p.display()
    );
    p
}

fn find_in_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

pub use netns_testutil::TempDir;

// ---------------------------------------------------------------------------
// The driver

/// FNV-1a: a hash that is the same in every build (the driver's file name
/// carries its source's hash, so an edited main.go gets a new binary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The driver, examples/cni-driver, built on first use in this process into
/// target/<profile>/cni-driver/cni-driver-<hash of main.go> (with Go's cache
/// beside it), and reused from there by later test runs until main.go
/// changes. Go builds in GOPATH mode against Debian's libcni source, offline
/// (GOPROXY=off); a missing `go` or libcni fails with what to install. In
/// the test VM, which has no Go, the host tier's build must be there (the
/// guest shares the target dir); no build is attempted, and the driver runs
/// from a copy in guest memory (see `vm_local_copy`).
pub fn driver() -> &'static Path {
    static DRIVER: OnceLock<PathBuf> = OnceLock::new();
    DRIVER.get_or_init(|| {
        let exe = build_driver();
        if !netns_testutil::in_test_vm() {
            return exe;
        }
        // Run from a copy in guest memory (see `vm_local_copy`).
        let (Some(dir), Some(name)) = (exe.parent(), exe.file_name()) else {
            return exe;
        };
        vm_local_copy(dir, &[&name.to_string_lossy()], "cni-driver").join(name)
    })
}

/// The environment of `go` for the driver (GOPATH mode, offline, caches in
/// `dir`), without anything of the caller's (a GOFLAGS=-mod=mod or a
/// GO111MODULE=on from the shell would break GOPATH mode).
fn go_command(dir: &Path, args: &[&str]) -> Command {
    let go = find_in_path("go").unwrap_or_else(|| {
        panic!(
            "`go` is not installed (not found in PATH): the CNI tests build their libcni \
             driver with it; install the Debian package golang-go (.ci/install-deps does)"
        )
    });
    let libcni = Path::new(GOCODE).join(LIBCNI);
    assert!(
        libcni.join("api.go").is_file(),
        "{} is missing: the CNI tests build their driver against Debian's libcni source; \
         install the Debian package golang-github-appc-cni-dev",
        libcni.display()
    );
    let mut cmd = Command::new(go);
    cmd.args(args)
        .current_dir(repo_root().join("examples/cni-driver"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GOCACHE", dir.join("cache"))
        .env(
            "GOPATH",
            format!("{}:{GOCODE}", dir.join("gopath").display()),
        )
        .env("GO111MODULE", "off")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0");
    cmd
}

/// The directory the driver and Go's caches live in.
pub fn driver_dir() -> PathBuf {
    profile_dir().join("cni-driver")
}

/// `go ARGS...` in examples/cni-driver with the driver's environment.
pub fn go_in_driver_dir(args: &[&str]) -> Command {
    go_command(&driver_dir(), args)
}

fn build_driver() -> PathBuf {
    let main = repo_root().join("examples/cni-driver/main.go");
    let source = fs::read(&main).unwrap_or_else(|e| panic!("read {}: {e}", main.display()));
    let dir = driver_dir();
    let name = format!("cni-driver-{:016x}", fnv1a(&source));
    let exe = dir.join(&name);
    if exe.is_file() {
        return exe;
    }
    // The VM image has no Go: the host tier builds the driver into the
    // target dir, which the VM shares.
    assert!(
        !netns_testutil::in_test_vm(),
        "{} is missing, and the test VM has no go to build it: the host tier builds it (any \
         CNI test run on the host does, e.g. `cargo test -p netns-examples --test bridge_vlan`; \
         .ci/test runs the host tier before the VM tier)",
        exe.display()
    );
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    // Built under a name of this process, then renamed: concurrent test
    // binaries never see (or execute) a half-written driver.
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let tmp_s = tmp.display().to_string();
    let out = go_command(&dir, &["build", "-o", &tmp_s, "."])
        .output()
        .unwrap_or_else(|e| panic!("run go build: {e}"));
    assert!(
        out.status.success(),
        "go build of examples/cni-driver failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    fs::rename(&tmp, &exe).unwrap_or_else(|e| panic!("rename to {}: {e}", exe.display()));
    // Drivers of older sources: removing a file another process runs is fine.
    if let Ok(entries) = fs::read_dir(&dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("cni-driver-") && n != name {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    exe
}

// ---------------------------------------------------------------------------
// Pods

/// A container's network namespace: `NAME` in a temporary netns directory of
/// its own (never /run/netns), as runtimes name theirs; unmounted and removed
/// on drop. Creating it does not depend on the calling thread's namespace.
#[derive(Debug)]
pub struct Pod {
    path: PathBuf,
    // Dropped last: unmounts whatever is left in the directory.
    dir: TempNetnsDir,
}

impl Pod {
    pub fn new(name: &str) -> Pod {
        let dir = TempNetnsDir::new();
        let netns_dir = NetnsDir::new(dir.path());
        netns_dir
            .create(name)
            .unwrap_or_else(|e| panic!("create the pod namespace {name}: {e}"));
        let path = netns_dir.path_of(name).expect("a valid name");
        Pod { path, dir }
    }

    /// The path runtimes pass as CNI_NETNS.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `ip -j ARGS...` inside the pod.
    pub fn ip_json(&self, args: &[&str]) -> Value {
        ip_json_in(Some(&self.path), args)
    }

    /// The pod's interface names, sorted.
    pub fn ifnames(&self) -> Vec<String> {
        netns_testutil::ifnames(&self.ip_json(&["link", "show"]))
    }

    /// A raw snapshot of the pod's namespace.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::of(&self.path)
    }

    /// `ip -j -d link show IFNAME` in the pod: the link's object.
    pub fn link(&self, ifname: &str) -> Value {
        self.ip_json(&["-d", "link", "show", ifname])[0].clone()
    }

    /// A TCP listener on `ip` (a port the kernel picks) in the pod.
    pub fn listen(&self, ip: std::net::IpAddr) -> std::net::TcpListener {
        netns_core::NetNs::open(&self.path)
            .expect("open the pod netns")
            .run(|| std::net::TcpListener::bind((ip, 0)))
            .expect("enter the pod")
            .unwrap_or_else(|e| panic!("bind {ip}: {e}"))
    }

    /// A TCP connection from the pod to `listener` (bound before, so the
    /// connect lands in its backlog) works, arrives from `from_ip`, and
    /// carries bytes. The connect is bounded by [`CONNECT_TIMEOUT`].
    pub fn connects(&self, listener: &std::net::TcpListener, from_ip: &str) {
        use std::io::{Read, Write};
        let at = listener.local_addr().expect("local_addr");
        let mut client = netns_core::NetNs::open(&self.path)
            .expect("open the pod netns")
            .run(|| std::net::TcpStream::connect_timeout(&at, CONNECT_TIMEOUT))
            .expect("enter the pod")
            .unwrap_or_else(|e| panic!("connect to {at}: {e}"));
        let (mut conn, peer) = listener.accept().expect("accept");
        assert_eq!(peer.ip().to_string(), from_ip, "the connection's source");
        client.write_all(b"ping").expect("write");
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).expect("read");
        assert_eq!(&buf, b"ping");
    }
}

/// How long a connect that must work is given: a bound, not a measurement
/// (the connections between namespaces take milliseconds).
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Drop for Pod {
    fn drop(&mut self) {
        let _ = NetnsDir::new(self.dir.path()).remove();
    }
}

/// An `outside` namespace (192.168.99.2/24) wired to the calling thread's
/// (`r-out`, 192.168.99.1/24), with no route to the pods' subnet: where a
/// masqueraded pod's traffic must come from the host's address.
pub fn outside_pod() -> Pod {
    use netns_core::{AddrSpec, Handle, LinkSpec, NetNs};
    let out = Pod::new("outside");
    let ns = NetNs::open(out.path()).expect("outside");
    let h = Handle::new().expect("a handle");
    h.link_add(&LinkSpec::veth("r-out", "eth0").peer_netns(&ns))
        .expect("veth");
    let me = h.link_get("r-out").expect("r-out").index;
    h.addr_add(&AddrSpec::new(me, "192.168.99.1/24".parse().expect("addr")))
        .expect("addr");
    h.link_set_up(me).expect("up");
    let o = ns.handle().expect("a handle there");
    let e = o.link_get("eth0").expect("eth0").index;
    o.addr_add(&AddrSpec::new(e, "192.168.99.2/24".parse().expect("addr")))
        .expect("addr");
    o.link_set_up(e).expect("up");
    out
}

/// Connect (TCP) from `pod` to a server in `out` (an [`outside_pod`]) and
/// return the address the server saw.
pub fn seen_from_outside(pod: &Pod, out: &Pod) -> std::net::IpAddr {
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::time::Duration;
    let listener = netns_core::NetNs::open(out.path())
        .expect("outside")
        .run(|| TcpListener::bind("192.168.99.2:0"))
        .expect("run")
        .expect("listen");
    let to: SocketAddr = listener.local_addr().expect("addr");
    let client = netns_core::NetNs::open(pod.path())
        .expect("pod")
        .run(move || TcpStream::connect_timeout(&to, Duration::from_secs(10)))
        .expect("run")
        .unwrap_or_else(|e| panic!("connect to {to}: {e}"));
    let (_c, peer) = listener.accept().expect("accept");
    drop(client);
    peer.ip()
}

// ---------------------------------------------------------------------------
// Running the driver

/// One invocation of the driver: a command and the runtime's arguments.
#[derive(Debug, Clone, Default)]
pub struct Call {
    pub cmd: String,
    pub netns: Option<PathBuf>,
    pub id: Option<String>,
    pub ifname: Option<String>,
    /// CNI_ARGS, `K=V;K=V`.
    pub args: Option<String>,
    /// The capability arguments (a JSON object), filtered by libcni.
    pub cap: Option<Value>,
    /// GC's valid attachments; `None` passes none at all.
    pub valid: Option<Vec<(String, String)>>,
}

impl Call {
    pub fn new(cmd: &str) -> Call {
        Call {
            cmd: cmd.into(),
            ..Call::default()
        }
    }

    /// `cmd` (add, check, del) for container `id`'s interface `ifname` in `pod`.
    pub fn on(cmd: &str, pod: &Pod, id: &str, ifname: &str) -> Call {
        Call::new(cmd).netns(pod.path()).id(id).ifname(ifname)
    }

    pub fn netns(mut self, path: impl AsRef<Path>) -> Call {
        self.netns = Some(path.as_ref().to_path_buf());
        self
    }

    pub fn no_netns(mut self) -> Call {
        self.netns = None;
        self
    }

    pub fn id(mut self, id: &str) -> Call {
        self.id = Some(id.into());
        self
    }

    pub fn ifname(mut self, ifname: &str) -> Call {
        self.ifname = Some(ifname.into());
        self
    }

    pub fn args(mut self, args: &str) -> Call {
        self.args = Some(args.into());
        self
    }

    pub fn cap(mut self, cap: Value) -> Call {
        self.cap = Some(cap);
        self
    }

    pub fn valid(mut self, valid: &[(&str, &str)]) -> Call {
        self.valid = Some(
            valid
                .iter()
                .map(|(c, i)| ((*c).to_owned(), (*i).to_owned()))
                .collect(),
        );
        self
    }
}

/// What the driver did: its exit code, its output, and stdout parsed (the
/// ADD result, or the error object `{"code","msg","details"}`).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub cmd: String,
    pub rc: i32,
    pub stdout: String,
    /// The driver's error text and the plugins' stderr.
    pub stderr: String,
    pub json: Option<Value>,
}

impl Outcome {
    /// What a driver run of command `cmd` that ended with `out` did (a
    /// process killed by a signal has rc -1).
    pub fn of(cmd: &str, out: &std::process::Output) -> Outcome {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let json = serde_json::from_str(stdout.trim()).ok();
        Outcome {
            cmd: cmd.to_owned(),
            rc: out.status.code().unwrap_or(-1),
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            json,
        }
    }

    pub fn ok(&self) -> bool {
        self.rc == 0
    }

    /// The error code (a plugin's, or -1 for an error of libcni or the
    /// driver); `None` on success.
    pub fn code(&self) -> Option<i64> {
        if self.ok() {
            return None;
        }
        self.json.as_ref()?.get("code")?.as_i64()
    }

    pub fn msg(&self) -> String {
        self.json
            .as_ref()
            .and_then(|j| j.get("msg"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    /// `self`, or a failure showing everything the driver said.
    #[track_caller]
    pub fn expect_ok(&self) -> &Outcome {
        assert!(self.ok(), "{} failed: {self}", self.cmd);
        self
    }

    /// The failure's code, or a failure if it succeeded.
    #[track_caller]
    pub fn expect_code(&self) -> i64 {
        assert!(!self.ok(), "{} was expected to fail: {self}", self.cmd);
        self.code()
            .unwrap_or_else(|| panic!("{} failed without an error object: {self}", self.cmd))
    }

    /// The ADD result (stdout's JSON).
    #[track_caller]
    pub fn result(&self) -> &Value {
        self.json
            .as_ref()
            .unwrap_or_else(|| panic!("{} printed no JSON: {self}", self.cmd))
    }

    /// The addresses of an ADD result.
    pub fn ips(&self) -> Vec<String> {
        self.json
            .as_ref()
            .and_then(|j| j["ips"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["address"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The result's first address, without its prefix length.
    pub fn first_ip(&self) -> String {
        let ips = self.ips();
        let a = ips.first().expect("an address in the result");
        a.split('/').next().unwrap_or_default().to_string()
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}; stdout: {}; stderr: {}",
            self.rc,
            self.stdout.trim(),
            self.stderr.trim()
        )
    }
}

/// A network as a runtime holds it: a conflist file, a plugin search path and
/// a libcni cache dir (results/<net>-<id>-<ifname>) of its own.
#[derive(Debug)]
pub struct Network {
    conflist: PathBuf,
    paths: Vec<PathBuf>,
    cache: PathBuf,
    work: TempDir,
}

impl Network {
    /// `conflist` is its JSON text: a `serde_json::Value` or a string (which
    /// need not be valid, to test how a bad one is refused).
    pub fn new(conflist: impl std::fmt::Display, paths: Vec<PathBuf>) -> Network {
        let work = TempDir::new("net");
        let file = work.path().join("net.conflist");
        let text = conflist.to_string();
        if netns_testutil::in_test_vm() && paths.iter().any(|p| p == vm_our_dir()) {
            vm_our_plugins(plugin_types(&text).iter().map(String::as_str));
        }
        fs::write(&file, text).expect("write the conflist");
        let cache = work.path().join("cache");
        Network {
            conflist: file,
            paths,
            cache,
            work,
        }
    }

    /// Like [`Network::new`] with libcni's cache in `cache` (a runtime has
    /// one for all its networks; GC only looks at its own network's entries).
    pub fn with_cache_dir(
        conflist: impl std::fmt::Display,
        paths: Vec<PathBuf>,
        cache: &Path,
    ) -> Network {
        let mut net = Network::new(conflist, paths);
        net.cache = cache.to_path_buf();
        net
    }

    /// libcni's cache directory.
    pub fn cache_dir(&self) -> &Path {
        &self.cache
    }

    /// The conflist as written.
    pub fn conflist(&self) -> String {
        fs::read_to_string(&self.conflist).expect("read the conflist")
    }

    /// Run the driver on the calling thread (its namespace is the plugins'
    /// host side), with an environment of PATH only.
    pub fn run(&self, call: &Call) -> Outcome {
        let mut cmd = self.command(call);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", driver().display()));
        Outcome::of(&call.cmd, &out)
    }

    /// The driver's command line for `call`, as [`Network::run`] runs it
    /// (to start it another way: in a process group of its own, say, to
    /// kill it and the plugin it runs together).
    pub fn command(&self, call: &Call) -> Command {
        let paths = std::env::join_paths(&self.paths).expect("plugin dirs without ':'");
        let mut cmd = Command::new(driver());
        cmd.env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .arg("-cmd")
            .arg(&call.cmd)
            .arg("-conflist")
            .arg(&self.conflist)
            .arg("-path")
            .arg(paths)
            .arg("-cachedir")
            .arg(&self.cache);
        if let Some(p) = &call.netns {
            cmd.arg("-netns").arg(p);
        }
        if let Some(id) = &call.id {
            cmd.args(["-id", id]);
        }
        if let Some(i) = &call.ifname {
            cmd.args(["-ifname", i]);
        }
        if let Some(a) = &call.args {
            cmd.args(["-args", a]);
        }
        if let Some(c) = &call.cap {
            cmd.arg("-cap").arg(c.to_string());
        }
        if let Some(v) = &call.valid {
            let list: Vec<Value> = v
                .iter()
                .map(|(c, i)| json!({"containerID": c, "ifname": i}))
                .collect();
            cmd.arg("-valid").arg(Value::Array(list).to_string());
        }
        cmd
    }

    /// The command object of `call` for the driver's `-serve` mode.
    pub fn serve_line(&self, call: &Call) -> Value {
        let paths = std::env::join_paths(&self.paths).expect("plugin dirs without ':'");
        let mut line = json!({
            "cmd": call.cmd,
            "conflist": self.conflist,
            "path": paths.to_string_lossy(),
            "cachedir": self.cache,
        });
        let opt = |v: &Option<String>| v.clone().map(Value::String);
        for (key, value) in [
            ("netns", call.netns.as_ref().map(|p| json!(p))),
            ("id", opt(&call.id)),
            ("ifname", opt(&call.ifname)),
            ("args", opt(&call.args)),
            ("cap", call.cap.as_ref().map(|c| json!(c.to_string()))),
        ] {
            if let Some(v) = value {
                line[key] = v;
            }
        }
        line
    }

    /// `calls` through one driver in `-serve` mode (the driver as a
    /// long-running runtime holds libcni), on the calling thread's
    /// namespace: its reply object for each.
    pub fn serve(&self, calls: &[Call]) -> Vec<Value> {
        let mut input = String::new();
        for c in calls {
            input.push_str(&self.serve_line(c).to_string());
            input.push('\n');
        }
        let mut child = Command::new(driver())
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .arg("-serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run {} -serve: {e}", driver().display()));
        let mut stdin = child.stdin.take().expect("the driver's stdin");
        // Replies are one line each, small: written before they are read.
        stdin
            .write_all(input.as_bytes())
            .expect("write the commands");
        drop(stdin);
        let out = child.wait_with_output().expect("wait for the driver");
        assert!(
            out.status.success(),
            "cni-driver -serve: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("reply {l:?}: {e}")))
            .collect()
    }

    pub fn add(&self, pod: &Pod, id: &str, ifname: &str) -> Outcome {
        self.run(&Call::on("add", pod, id, ifname))
    }

    pub fn check(&self, pod: &Pod, id: &str, ifname: &str) -> Outcome {
        self.run(&Call::on("check", pod, id, ifname))
    }

    pub fn del(&self, pod: &Pod, id: &str, ifname: &str) -> Outcome {
        self.run(&Call::on("del", pod, id, ifname))
    }

    /// GC with the valid attachments `(containerID, ifname)`.
    pub fn gc(&self, valid: &[(&str, &str)]) -> Outcome {
        self.run(&Call::new("gc").valid(valid))
    }

    pub fn status(&self) -> Outcome {
        self.run(&Call::new("status"))
    }

    pub fn validate(&self) -> Outcome {
        self.run(&Call::new("validate"))
    }

    /// The cached attachments' file names (libcni's `results/`).
    pub fn cached(&self) -> Vec<String> {
        file_names(&self.cache.join("results"))
    }
}

/// The names in `dir`, sorted (none if it does not exist).
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The files of host-local's directory for network `net` under `data`,
/// sorted.
pub fn ipam_files(data: &TempDir, net: &str) -> Vec<String> {
    file_names(&data.path().join(net))
}

/// The reference's observation with the bugs fixed upstream since 1.1.1
/// fixed, as netns-bridge has them fixed:
/// - a veth's txqueuelen: 1.1.1 gives both ends 0 (a struct literal left
///   it zero, plugins 3a49cff1, fixed in 1.6.0); the kernel's default
///   (1000) here.
pub fn with_upstream_fixes(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(o) => {
                let is_veth = o
                    .get("linkinfo")
                    .and_then(|l| l.get("info_kind"))
                    .is_some_and(|k| k == "veth");
                if is_veth && !o.contains_key("txqlen") {
                    o.insert("txqlen".into(), json!(1000));
                }
                o.values_mut().for_each(walk);
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

// ---------------------------------------------------------------------------
// Snapshots

/// `body` on the calling thread (`netns` None) or on a helper thread in the
/// namespace at `netns` (the net namespace only: no /sys remount, as `ip
/// netns exec` would do; what `nsenter --net` did before, without its exec,
/// which costs 50-100 ms under the VM tier's emulation). A process `body`
/// starts is in that namespace, and so are its reads of /proc/sys/net.
fn in_netns<T: Send>(netns: Option<&Path>, body: impl FnOnce() -> T + Send) -> T {
    match netns {
        None => body(),
        Some(p) => netns_core::NetNs::open(p)
            .unwrap_or_else(|e| panic!("open the namespace {}: {e}", p.display()))
            .run(body)
            .unwrap_or_else(|e| panic!("enter the namespace {}: {e}", p.display())),
    }
}

fn output_of(mut cmd: Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ip -j ARGS...` in the calling thread's namespace (`netns` None) or in
/// the one at `netns` (an empty output is `[]`).
pub fn ip_json_in(netns: Option<&Path>, args: &[&str]) -> Value {
    in_netns(netns, || ip_json_here(args))
}

/// `ip -j ARGS...` in the calling thread's namespace (an empty output is `[]`).
fn ip_json_here(args: &[&str]) -> Value {
    let mut cmd = Command::new("ip");
    cmd.arg("-j").args(args);
    let text = output_of(cmd);
    if text.trim().is_empty() {
        return Value::Array(vec![]);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("ip -j output is not JSON ({e}): {text}"))
}

/// The sysctls a bridge-like plugin sets, globally and per link.
const GLOBAL_SYSCTLS: &[&str] = &["net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"];
const LINK_SYSCTLS: &[&str] = &[
    "ipv4/conf/{}/forwarding",
    "ipv4/conf/{}/arp_notify",
    "ipv4/conf/{}/proxy_arp",
    "ipv4/conf/{}/rp_filter",
    "ipv6/conf/{}/forwarding",
    "ipv6/conf/{}/accept_ra",
    "ipv6/conf/{}/accept_dad",
    "ipv6/conf/{}/disable_ipv6",
];

/// The sysctls of `names` in the calling thread's namespace (/proc/sys/net
/// is the reading thread's network namespace's), read in this process: a
/// file per value, and under the VM tier's emulation each `cat` of the
/// `sh` loop this replaced cost 50-100 ms, 1.5-2 s per snapshot.
/// `{"global": {KEY: VALUE}, "links": {IFNAME: {KEY: VALUE}}}`, the value as
/// `$(cat FILE)` gives it (trailing newlines removed), "-" for a file that
/// is not there (IPv6 disabled, say).
fn sysctls_here(names: &[String]) -> Value {
    let read = |file: &str| {
        fs::read_to_string(format!("/proc/sys/{file}"))
            .map(|v| Value::String(v.trim_end_matches('\n').to_owned()))
            .unwrap_or_else(|_| Value::String("-".into()))
    };
    let mut global = Map::new();
    for f in GLOBAL_SYSCTLS {
        global.insert(f.replace('/', "."), read(f));
    }
    let mut links: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for n in names {
        let link = links.entry(n.clone()).or_default();
        for f in LINK_SYSCTLS {
            // FAMILY/conf/{}/KEY, as FAMILY.KEY
            let (family, key) = (f.split('/').next(), f.rsplit('/').next());
            let (Some(family), Some(key)) = (family, key) else {
                unreachable!("{f}")
            };
            let file = format!("net/{}", f.replace("{}", n));
            link.insert(format!("{family}.{key}"), read(&file));
        }
    }
    json!({"global": global, "links": links})
}

/// What `ip -j` shows of a namespace's links, addresses and routes, and the
/// sysctls bridge plugins set. Raw as taken; [`Snapshot::normalised`] for
/// comparing.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `ip -j -d link show`.
    pub links: Value,
    /// `ip -j addr show`.
    pub addrs: Value,
    /// `ip -j -4 route show table all`.
    pub routes4: Value,
    /// `ip -j -6 route show table all`.
    pub routes6: Value,
    /// See [`LINK_SYSCTLS`].
    pub sysctls: Value,
}

impl Snapshot {
    /// The calling thread's namespace (the host side of the plugins).
    pub fn here() -> Snapshot {
        Snapshot::take(None)
    }

    /// The namespace at `netns` (a pod's).
    pub fn of(netns: &Path) -> Snapshot {
        Snapshot::take(Some(netns))
    }

    fn take(netns: Option<&Path>) -> Snapshot {
        in_netns(netns, || {
            let links = ip_json_here(&["-d", "link", "show"]);
            let names = netns_testutil::ifnames(&links);
            Snapshot {
                addrs: ip_json_here(&["addr", "show"]),
                routes4: ip_json_here(&["-4", "route", "show", "table", "all"]),
                routes6: ip_json_here(&["-6", "route", "show", "table", "all"]),
                sysctls: sysctls_here(&names),
                links,
            }
        })
    }

    /// The link named `name` (in a normalised snapshot: its token).
    pub fn link(&self, name: &str) -> Option<&Value> {
        self.links.as_array()?.iter().find(|l| l["ifname"] == name)
    }

    /// The interface names, sorted.
    pub fn ifnames(&self) -> Vec<String> {
        netns_testutil::ifnames(&self.links)
    }

    /// The addresses of link `name` as `ADDRESS/PREFIXLEN`.
    pub fn addresses(&self, name: &str) -> Vec<String> {
        self.addrs
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["ifname"] == name)
            .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
            .map(|a| format!("{}/{}", a["local"].as_str().unwrap_or("?"), a["prefixlen"]))
            .collect()
    }

    /// The IPv4 and IPv6 routes of the main table.
    pub fn main_routes(&self) -> Vec<&Value> {
        [&self.routes4, &self.routes6]
            .into_iter()
            .filter_map(Value::as_array)
            .flatten()
            .filter(|r| r.get("table").is_none_or(|t| t == "main"))
            .collect()
    }

    /// Pretty JSON, for messages.
    pub fn pretty(&self) -> String {
        serde_json::to_string_pretty(&self.as_value()).unwrap_or_default()
    }

    pub fn as_value(&self) -> Value {
        json!({
            "links": self.links,
            "addrs": self.addrs,
            "routes4": self.routes4,
            "routes6": self.routes6,
            "sysctls": self.sysctls,
        })
    }

    /// The snapshot with everything that differs between two runs doing the
    /// same thing replaced or dropped, and everything a plugin decides kept.
    ///
    /// Kept: link names (but see veths below), kinds, MTU, master, flags
    /// (UP, BROADCAST...), promiscuity, allmulti, qdisc, txqlen, the bridge
    /// and bridge-port options `ip -d` shows (stp_state, hairpin, learning,
    /// cost, port numbers...), every address with its prefix, scope, label and
    /// broadcast, every route (type, dst, gateway, dev, table, scope,
    /// protocol, prefsrc, metric, pref), the sysctls. Lists are sorted (links
    /// by name, routes by content), so creation order does not matter.
    ///
    /// Replaced or dropped, and why:
    /// - `ifindex`, `link_index`, `link_netnsid`: numbering the kernel
    ///   chooses, which depends on how many objects the namespace saw; the
    ///   relations they express are kept by name (`master`, `link`);
    /// - host veth names of the reference's random pattern `veth` + 8 hex
    ///   digits: a token by position (`<veth0>` for the one with the lowest
    ///   ifindex...), in the addresses, routes and sysctls too;
    /// - MAC addresses (`address`, `broadcast`, `permaddr`, and the MAC in
    ///   bridge ids like `8000.a:b:c:d:e:f`): random per run, so a token per
    ///   address (`<mac0>`, in the order of the sorted links), consistent
    ///   within the snapshot (and across everything normalised with the same
    ///   [`Tokens`]); all-zero and broadcast addresses stay. A bridge whose
    ///   address is one of its ports' (the kernel's default: it takes the
    ///   lowest port address unless one was set, as the reference bridge does
    ///   with isGateway) gets `<a port's mac>`, since which port is lowest is
    ///   random;
    /// - `operstate`, and the flags `LOWER_UP` and `NO-CARRIER`: they follow
    ///   the carrier, which the kernel propagates asynchronously (linkwatch);
    ///   admin state stays in the flags (`UP`);
    /// - a bridge port's `state` (disabled, forwarding...): follows the
    ///   port's carrier, asynchronously;
    /// - `*_timer` of bridges and ports (hello, gc, hold, forward delay...):
    ///   running clocks; address lifetimes become `forever` or `<finite>`;
    ///   a route's `expires` is dropped;
    /// - IPv6 link-local addresses (fe80::/10) and their routes (fe80::/64,
    ///   the local and anycast fe80 routes), and the ff00::/8 multicast routes:
    ///   the kernel adds them once the link has carrier (asynchronously), from
    ///   the random MAC;
    /// - IPv6 `local` and `anycast` routes of the local table: the kernel
    ///   adds an address's local route when its duplicate address detection
    ///   ends (asynchronously); they mirror the addresses, which are kept;
    /// - the `tentative` flag of an address (DAD still running) and the
    ///   `linkdown` flag of a route (no carrier yet): asynchronous, as above;
    /// - `addr show`'s link fields (flags, mtu, MAC...): the same as in
    ///   `links`; only `ifname` and `addr_info` are kept there.
    pub fn normalised(&self, t: &mut Tokens) -> Snapshot {
        let links = normalise_links(&self.links, t);
        Snapshot {
            addrs: normalise_addrs(&self.addrs, t),
            routes4: normalise_routes(&self.routes4, t),
            routes6: normalise_routes(&self.routes6, t),
            sysctls: normalise_sysctls(&self.sysctls, t),
            links,
        }
    }
}

/// The replacements of one comparison: random veth names by position, MAC
/// addresses and sandbox paths by order of appearance. Use one `Tokens` for
/// everything that should be consistent (a host snapshot, the pods'
/// snapshots, the results of one run), a fresh one per run compared.
#[derive(Debug, Default)]
pub struct Tokens {
    veths: HashMap<String, String>,
    macs: HashMap<String, String>,
    netns: HashMap<String, String>,
}

/// The reference plugins' host veth names: `ip.RandomVethName()`, "veth"
/// and 4 random bytes in hex.
pub fn is_random_veth(name: &str) -> bool {
    name.len() == 12
        && name.starts_with("veth")
        && name[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `a:b:c:d:e:f` (as ip prints a MAC inside a bridge id, without leading
/// zeros) or `0a:...`: the canonical form, lowercase with two digits each.
fn canonical_mac(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = Vec::with_capacity(6);
    for p in parts {
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        out.push(format!("{:02x}", u8::from_str_radix(p, 16).ok()?));
    }
    Some(out.join(":"))
}

impl Tokens {
    pub fn new() -> Tokens {
        Tokens::default()
    }

    /// A random veth name's token (`<veth0>`...), other names unchanged.
    pub fn ifname(&mut self, name: &str) -> String {
        if !is_random_veth(name) {
            return name.to_owned();
        }
        let n = self.veths.len();
        self.veths
            .entry(name.to_owned())
            .or_insert_with(|| format!("<veth{n}>"))
            .clone()
    }

    /// A MAC address's token (`<mac0>`...); all-zero and broadcast
    /// addresses, and what is not a MAC, unchanged.
    pub fn mac(&mut self, mac: &str) -> String {
        let Some(m) = canonical_mac(mac) else {
            return mac.to_owned();
        };
        if m == "00:00:00:00:00:00" || m == "ff:ff:ff:ff:ff:ff" {
            return m;
        }
        let n = self.macs.len();
        self.macs
            .entry(m)
            .or_insert_with(|| format!("<mac{n}>"))
            .clone()
    }

    /// A sandbox path's token (`<netns0>`...).
    pub fn netns(&mut self, path: &str) -> String {
        let n = self.netns.len();
        self.netns
            .entry(path.to_owned())
            .or_insert_with(|| format!("<netns{n}>"))
            .clone()
    }

    fn ifname_value(&mut self, v: &mut Value) {
        if let Some(s) = v.as_str() {
            *v = Value::String(self.ifname(s));
        }
    }
}

/// A bridge id `PRIO.MAC`, with the MAC replaced as the bridges' addresses
/// were (`bridges`: canonical MAC -> token), or by its own token.
fn bridge_id(id: &str, bridges: &HashMap<String, String>, t: &mut Tokens) -> String {
    match id.split_once('.') {
        Some((prio, mac)) => {
            let token = canonical_mac(mac)
                .and_then(|m| bridges.get(&m).cloned())
                .unwrap_or_else(|| t.mac(mac));
            format!("{prio}.{token}")
        }
        None => id.to_owned(),
    }
}

fn normalise_links(raw: &Value, t: &mut Tokens) -> Value {
    let links: Vec<&Value> = raw
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    // Names first, in ip's order (by ifindex), so veth tokens go by position.
    let mut named: Vec<(String, &Value)> = links
        .iter()
        .map(|l| (t.ifname(l["ifname"].as_str().unwrap_or_default()), *l))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let mac_of = |l: &Value| l["address"].as_str().and_then(canonical_mac);
    // Bridges before the rest: ports name them in their bridge ids.
    let mut bridges: HashMap<String, String> = HashMap::new();
    for (_, l) in named
        .iter()
        .filter(|(_, l)| l["linkinfo"]["info_kind"] == "bridge")
    {
        let Some(mac) = mac_of(l) else { continue };
        let name = &l["ifname"];
        let inherited = links
            .iter()
            .any(|p| p["master"] == *name && mac_of(p).as_deref() == Some(mac.as_str()));
        let token = if inherited {
            "<a port's mac>".to_owned()
        } else {
            t.mac(&mac)
        };
        bridges.insert(mac, token);
    }
    let mut out = Vec::new();
    for (name, l) in named {
        let mut l = l.clone();
        let Some(o) = l.as_object_mut() else { continue };
        for k in [
            "ifindex",
            "link_index",
            "link_netnsid",
            "operstate",
            "stats",
            "stats64",
        ] {
            o.remove(k);
        }
        o.insert("ifname".into(), Value::String(name));
        for k in ["master", "link"] {
            if let Some(v) = o.get_mut(k) {
                t.ifname_value(v);
            }
        }
        if let Some(Value::Array(flags)) = o.get_mut("flags") {
            flags.retain(|f| f != "LOWER_UP" && f != "NO-CARRIER");
        }
        let is_bridge = o
            .get("linkinfo")
            .is_some_and(|i| i["info_kind"] == "bridge");
        for k in ["address", "broadcast", "permaddr"] {
            if let Some(Value::String(s)) = o.get_mut(k) {
                let bridge_token = canonical_mac(s).and_then(|m| bridges.get(&m).cloned());
                *s = match bridge_token {
                    Some(tok) if is_bridge && k == "address" => tok,
                    _ => t.mac(s),
                };
            }
        }
        if let Some(Value::Object(info)) = o.get_mut("linkinfo") {
            for data in ["info_data", "info_slave_data"] {
                let Some(Value::Object(d)) = info.get_mut(data) else {
                    continue;
                };
                d.retain(|k, _| !k.ends_with("_timer"));
                if data == "info_slave_data" {
                    d.remove("state");
                }
                for k in [
                    "bridge_id",
                    "root_id",
                    "designated_root",
                    "designated_bridge",
                ] {
                    if let Some(Value::String(s)) = d.get_mut(k) {
                        *s = bridge_id(s, &bridges, t);
                    }
                }
            }
        }
        out.push(l);
    }
    Value::Array(out)
}

fn normalise_addrs(raw: &Value, t: &mut Tokens) -> Value {
    let mut out: Vec<Value> = Vec::new();
    for l in raw.as_array().into_iter().flatten() {
        let name = t.ifname(l["ifname"].as_str().unwrap_or_default());
        let mut infos = Vec::new();
        for a in l["addr_info"].as_array().into_iter().flatten() {
            if a["family"] == "inet6" && a["scope"] == "link" {
                continue;
            }
            let mut a = a.clone();
            let Some(o) = a.as_object_mut() else { continue };
            o.remove("tentative");
            for k in ["valid_life_time", "preferred_life_time"] {
                if let Some(v) = o.get_mut(k) {
                    let forever = v.as_u64() == Some(u64::from(u32::MAX));
                    *v = Value::String(if forever { "forever" } else { "<finite>" }.into());
                }
            }
            if let Some(v) = o.get_mut("label") {
                t.ifname_value(v);
            }
            infos.push(a);
        }
        out.push(json!({"ifname": name, "addr_info": infos}));
    }
    out.sort_by(|a, b| a["ifname"].as_str().cmp(&b["ifname"].as_str()));
    Value::Array(out)
}

fn normalise_routes(raw: &Value, t: &mut Tokens) -> Value {
    let mut out: Vec<Value> = Vec::new();
    for r in raw.as_array().into_iter().flatten() {
        let dst = r["dst"].as_str().unwrap_or_default();
        let local_table = r["table"] == "local";
        let v6 = dst.contains(':');
        if dst.starts_with("fe80:")
            || (r["type"] == "multicast" && dst == "ff00::/8")
            || (v6 && local_table && (r["type"] == "local" || r["type"] == "anycast"))
        {
            continue;
        }
        let mut r = r.clone();
        let Some(o) = r.as_object_mut() else { continue };
        o.remove("expires");
        if let Some(Value::Array(flags)) = o.get_mut("flags") {
            flags.retain(|f| f != "linkdown");
        }
        if let Some(v) = o.get_mut("dev") {
            t.ifname_value(v);
        }
        if let Some(Value::Array(hops)) = o.get_mut("nexthops") {
            for h in hops {
                if let Some(v) = h.get_mut("dev") {
                    t.ifname_value(v);
                }
            }
        }
        out.push(r);
    }
    out.sort_by_cached_key(Value::to_string);
    Value::Array(out)
}

fn normalise_sysctls(raw: &Value, t: &mut Tokens) -> Value {
    let mut links = Map::new();
    if let Some(m) = raw["links"].as_object() {
        let mut v: Vec<(String, Value)> = m.iter().map(|(k, v)| (t.ifname(k), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        links.extend(v);
    }
    json!({"global": raw["global"], "links": links})
}

// ---------------------------------------------------------------------------
// Results

/// An ADD result with what differs between runs replaced: interface names of
/// the random veth pattern and sandbox paths by their tokens (the same
/// [`Tokens`] as the snapshots'), and each well-formed MAC by `<mac>`. Not
/// by a per-address token as in snapshots: which addresses of a result are
/// equal is itself random (a bridge that has no MAC of its own has the
/// lowest of its ports', and the other pods' ports are not in the result),
/// so [`check_result`] checks each MAC against the link it names instead.
/// A MAC that is empty or malformed stays as it is, to show (podman refuses
/// a sandbox interface with an empty MAC).
pub fn normalise_result(result: &Value, t: &mut Tokens) -> Value {
    let mut r = result.clone();
    if let Some(Value::Array(ifaces)) = r.get_mut("interfaces") {
        for i in ifaces {
            let Some(o) = i.as_object_mut() else { continue };
            if let Some(v) = o.get_mut("name") {
                t.ifname_value(v);
            }
            if let Some(Value::String(mac)) = o.get_mut("mac") {
                if canonical_mac(mac).is_some() && mac.len() == 17 {
                    *mac = "<mac>".into();
                }
            }
            if let Some(Value::String(s)) = o.get_mut("sandbox") {
                if !s.is_empty() {
                    *s = t.netns(s);
                }
            }
        }
    }
    r
}

/// Check that an ADD result describes what is there, right after the ADD
/// (later ADDs may change a bridge's MAC): every interface exists, in `pod`
/// if its `sandbox` is set (which must then be the pod's path) or else in the
/// calling thread's namespace, with the MAC the result says; every address
/// is on the interface its `interface` index names; the gateways and
/// `cniVersion` are present where a 1.x result has them.
#[track_caller]
pub fn check_result(result: &Value, pod: &Pod) {
    // `ip -j addr show` has each link's MAC and addresses.
    let here = ip_json_in(None, &["addr", "show"]);
    let inside = pod.ip_json(&["addr", "show"]);
    let ifaces = result["interfaces"].as_array().cloned().unwrap_or_default();
    let mut problems = String::new();
    // The link each interface of the result names, where it says.
    let mut links: Vec<Option<Value>> = Vec::new();
    for (n, i) in ifaces.iter().enumerate() {
        let name = i["name"].as_str().unwrap_or_default();
        let sandbox = i["sandbox"].as_str().unwrap_or_default();
        if !sandbox.is_empty() && Path::new(sandbox) != pod.path() {
            let _ = writeln!(
                problems,
                "interfaces[{n}]: sandbox {sandbox} is not the pod's"
            );
        }
        let listing = if sandbox.is_empty() { &here } else { &inside };
        let link = listing
            .as_array()
            .and_then(|a| a.iter().find(|l| l["ifname"] == name))
            .cloned();
        match &link {
            None => {
                let _ = writeln!(
                    problems,
                    "interfaces[{n}]: no link {name} where the result says"
                );
            }
            Some(l) => {
                let mac = i["mac"].as_str();
                if mac.is_some()
                    && mac.and_then(canonical_mac) != l["address"].as_str().and_then(canonical_mac)
                {
                    let _ = writeln!(
                        problems,
                        "interfaces[{n}] {name}: mac {mac:?} but the link has {}",
                        l["address"]
                    );
                }
            }
        }
        links.push(link);
    }
    for (n, ip) in result["ips"].as_array().into_iter().flatten().enumerate() {
        let addr = ip["address"].as_str().unwrap_or_default();
        let Some(idx) = ip["interface"].as_u64() else {
            continue;
        };
        let Some(link) = usize::try_from(idx).ok().and_then(|i| links.get(i)) else {
            let _ = writeln!(problems, "ips[{n}]: interface {idx} is out of range");
            continue;
        };
        let Some(link) = link else { continue };
        let present = link["addr_info"].as_array().into_iter().flatten().any(|a| {
            format!(
                "{}/{}",
                a["local"].as_str().unwrap_or_default(),
                a["prefixlen"]
            ) == addr
        });
        if !present {
            let _ = writeln!(problems, "ips[{n}]: {addr} is not on {}", link["ifname"]);
        }
    }
    if result["cniVersion"].as_str().is_none() {
        let _ = writeln!(problems, "no cniVersion");
    }
    assert!(
        problems.is_empty(),
        "the result does not describe the namespaces:\n{problems}result: {result}"
    );
}

// ---------------------------------------------------------------------------
// Comparing

/// Where two JSON values differ, one line per difference (`path: a != b`).
pub fn diff(a: &Value, b: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_at("", a, b, &mut out);
    out
}

fn diff_at(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) => diff_at(&p, va, vb, out),
                    (va, vb) => out.push(format!(
                        "{p}: {} != {}",
                        va.map_or("(absent)".into(), Value::to_string),
                        vb.map_or("(absent)".into(), Value::to_string)
                    )),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                // Name list entries by their ifname or dst where they have one.
                let tag = va["ifname"]
                    .as_str()
                    .or_else(|| va["dst"].as_str())
                    .map(|s| format!("[{i}:{s}]"))
                    .unwrap_or_else(|| format!("[{i}]"));
                diff_at(&format!("{path}{tag}"), va, vb, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} != {b}")),
        _ => {}
    }
}

/// Fail, listing the differences, unless `a` and `b` are equal.
#[track_caller]
pub fn assert_same(what: &str, a: &Value, b: &Value) {
    let d = diff(a, b);
    assert!(
        d.is_empty(),
        "{what} differ:\n{}\n--- first:\n{}\n--- second:\n{}",
        d.join("\n"),
        serde_json::to_string_pretty(a).unwrap_or_default(),
        serde_json::to_string_pretty(b).unwrap_or_default()
    );
}

// ---------------------------------------------------------------------------
// What a plugin executes

/// A plugin directory whose `NAME` runs `real` under
/// `strace -f -e trace=execve,execveat`, logging to `log`.
pub fn straced(name: &str, real: &std::path::Path, log: &std::path::Path) -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("strace");
    let script = dir.path().join(name);
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec strace -f -qq -e trace=execve,execveat -o '{}' '{}' \"$@\"\n",
            log.display(),
            real.display()
        ),
    )
    .expect("write the wrapper");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// The programs a traced run executed (successful execve/execveat calls).
pub fn execs(log: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).expect("the strace log");
    text.lines()
        .filter(|l| l.contains("execve") && !l.contains("= -1"))
        .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
        .collect()
}

// ---------------------------------------------------------------------------
// The sub-interface plugins' tests (macvlan, vlan, ipvlan)

/// A veth pair `NAME`/`NAME-p`, both up, in the calling thread's namespace:
/// a master (the host kernel has no dummy), `NAME-p` its far end.
pub fn veth_master(name: &str, mtu: u32) {
    let peer = format!("{name}-p");
    netns_testutil::ip(["link", "add", name, "type", "veth", "peer", "name", &peer]);
    netns_testutil::ip(["link", "set", name, "mtu", &mtu.to_string(), "up"]);
    netns_testutil::ip(["link", "set", &peer, "up"]);
}

/// Whether the running kernel makes `what` (a link kind): `probe` adds one
/// on a veth master (its index given) in a private namespace. Without it, a
/// printed SKIP and false (in the test VM, a failure); any other error
/// fails the test.
pub fn kernel_makes(
    what: &str,
    probe: impl FnOnce(&netns_core::Handle, u32) -> netns_core::Result<()> + Send,
) -> bool {
    netns_testutil::in_private_netns(|| {
        veth_master("probe-m", 1500);
        let h = netns_core::Handle::new().expect("a netlink socket");
        let m = h.link_get("probe-m").expect("the probe's master").index;
        match probe(&h, m) {
            Ok(()) => true,
            Err(e) if e.is_unsupported() => {
                netns_testutil::skip_kernel_lacks(what, &e);
                false
            }
            Err(e) => panic!("{what}: {e}"),
        }
    })
}

/// A conflist `t` (cniVersion 1.0.0) of the one plugin `p` with the keys of
/// `extra` set over its own.
pub fn one_plugin_list(mut p: Value, extra: Value) -> Value {
    if let (Some(o), Value::Object(e)) = (p.as_object_mut(), extra) {
        o.extend(e);
    }
    json!({"cniVersion": "1.0.0", "name": "t", "plugins": [p]})
}
