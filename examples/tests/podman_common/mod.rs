//! Shared by the podman_* integration tests: podman 4.3 with its CNI backend
//! starting real containers on a network whose plugins the test chooses.
//!
//! One [`Podman`] per test. Everything it makes lives in places of its own,
//! removed on drop (also when the test fails):
//!
//! - a work directory under the system temp dir: a busybox-static rootfs
//!   (podman's `--rootfs`, no image), `containers.conf`, the network config
//!   dir, podman's `--root`, `--runroot` and `--tmpdir`, an IPAM `dataDir`;
//! - a temporary netns directory (a private bind mount of itself) holding two
//!   namespaces: `host`, the throw-away network namespace podman and every
//!   plugin it runs are started in (`nsenter --net`), so bridges, host veths
//!   and sysctls never land on the machine; and `mnt`, a private mount
//!   namespace podman runs in, where the paths rootful podman 4.3 hard-codes
//!   are bind mounts of directories in the work dir: `/run/netns` (where it
//!   creates its containers' namespaces: podman has no option for it),
//!   `/var/lib/cni` (libcni's result cache, `results/`, and host-local's
//!   default `dataDir`, `networks/`: podman cannot move the cache) and
//!   `/run/runc` (runc's state, which the exit command podman hands conmon
//!   would not find if moved with `--runtime-flag`). If those three
//!   directories do not exist on the machine they are created, empty, as
//!   mount points (podman, libcni and runc would create them on first use);
//!   nothing is ever written into them;
//! - a cgroup parent of its own (`--cgroup-parent /netns-podman-<tag>`) in
//!   every cgroup hierarchy, instead of podman's shared `/libpod_parent`.
//!
//! Podman locks are files in the work dir (`lock_type = "file"`): with the
//! default shm locks, a podman whose `--tmpdir` is new frees every lock in the
//! machine-wide `/dev/shm/libpod_lock`, other podmans' included.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use netns_testutil::TempNetnsDir;
use serde_json::Value;

/// The reference plugins (Debian's containernetworking-plugins).
pub const REFERENCE_PLUGINS: &str = "/usr/lib/cni";

/// The busybox applets linked into the rootfs.
const APPLETS: &[&str] = &[
    "sh", "ash", "ip", "nc", "sleep", "cat", "awk", "grep", "seq", "netstat", "ls", "echo", "ps",
    "true", "false", "ifconfig", "route", "ping", "hostname", "wc", "head", "tail", "sed", "env",
    "id", "kill", "mkdir", "rm", "touch", "test", "[", "printf", "tr", "cut",
];

/// Every podman command is run under `timeout` with this bound: a hang
/// detector, not a timing assertion.
const PODMAN_BOUND: &str = "300";

/// How long teardown waits for the processes podman left behind (conmon and
/// the `podman container cleanup` it runs after `rm -f`) to exit.
const QUIESCE_BOUND: Duration = Duration::from_secs(120);

/// The examples directory cargo builds next to the test binaries
/// (target/<profile>/examples/), where `netns-bridge` and `netns-host-local`
/// are: put it in `cni_plugin_dirs` to run them by `"type"`.
pub fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .join("examples")
}

/// Where libcni finds plugin `ty` in `dirs`: the first directory holding a
/// file of exactly that name.
pub fn find_plugin(dirs: &[PathBuf], ty: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(ty)).find(|p| p.is_file())
}

/// `cni_plugin_dirs` for running our plugins by `"type"` (`netns-bridge`,
/// `netns-host-local`) beside the reference ones: the examples directory
/// first, then /usr/lib/cni. Panics, saying how to build them, unless every
/// plugin of `ours` is there.
pub fn plugin_dirs_with_examples(ours: &[&str]) -> Vec<PathBuf> {
    let dirs = vec![examples_dir(), PathBuf::from(REFERENCE_PLUGINS)];
    for ty in ours {
        assert!(
            dirs[0].join(ty).is_file(),
            "{} is missing: run the tests with `cargo test -p netns-examples` (which builds the \
             examples), or build it first with `cargo build -p netns-examples --example {ty}`",
            dirs[0].join(ty).display()
        );
    }
    dirs
}

/// Panics, naming what to install, unless `program` is on PATH.
fn require_program(program: &str, hint: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    assert!(found, "{program} is missing: {hint}");
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// What the host side holds for a network: the state `podman rm -f` must
/// clean up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostState {
    /// Veths in the throw-away host namespace.
    pub veths: Vec<String>,
    /// Entries of the network's IPAM directory (`<dataDir>/<network>`).
    pub ipam: BTreeSet<String>,
    /// libcni's cached results (`/var/lib/cni/results` as podman sees it).
    pub cni_cache: BTreeSet<String>,
    /// Podman's container namespaces (`/run/netns` as podman sees it).
    pub netns: BTreeSet<String>,
    /// runc's container states (`/run/runc` as podman sees it).
    pub runc: BTreeSet<String>,
    /// Containers podman knows (full ids).
    pub containers: BTreeSet<String>,
}

/// Where a fixture lived: for checking after [`Podman::finish`] that it is
/// gone.
#[derive(Debug, Clone)]
pub struct Footprint {
    pub work: PathBuf,
    pub ns_dir: PathBuf,
    pub host_ns_inode: u64,
    pub mnt_ns_inode: u64,
    pub cgroup_parent: String,
}

/// A podman of a test's own; see the module documentation.
#[derive(Debug)]
pub struct Podman {
    work: PathBuf,
    ns: Option<TempNetnsDir>,
    ns_dir: PathBuf,
    /// The namespace inodes, once each exists.
    host_ino: Option<u64>,
    mnt_ino: Option<u64>,
    cgroup_parent: String,
    plugin_dirs: Vec<PathBuf>,
    /// Whether `work` was made by this fixture (only then is it removed).
    work_made: bool,
    done: bool,
}

impl Podman {
    /// A fresh podman whose CNI backend looks for plugins in `plugin_dirs`,
    /// in order (containers.conf `cni_plugin_dirs`; also what the plugins get
    /// as CNI_PATH).
    pub fn new(plugin_dirs: &[PathBuf]) -> Podman {
        for (p, hint) in [
            ("podman", "apt-get install podman"),
            ("runc", "apt-get install runc"),
            ("conmon", "apt-get install conmon"),
            ("nsenter", "apt-get install util-linux"),
            ("unshare", "apt-get install util-linux"),
            ("timeout", "apt-get install coreutils"),
            ("ip", "apt-get install iproute2"),
        ] {
            require_program(p, hint);
        }
        assert!(
            Path::new("/bin/busybox").is_file(),
            "/bin/busybox is missing: apt-get install busybox-static"
        );
        for d in plugin_dirs {
            assert!(
                d.is_dir(),
                "plugin directory {} does not exist",
                d.display()
            );
        }

        let ns = TempNetnsDir::new();
        let ns_dir = ns.path().to_path_buf();
        // mkdtemp's random suffix, with the pid and a counter: unique among
        // concurrent tests and test binaries.
        let rand = ns_dir
            .file_name()
            .and_then(OsStr::to_str)
            .and_then(|n| n.rsplit('.').next())
            .unwrap_or("x")
            .to_string();
        let tag = format!(
            "{}-{}-{rand}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let work = std::env::temp_dir().join(format!("netns-podman-{tag}"));
        let mut pm = Podman {
            work,
            ns: Some(ns),
            ns_dir,
            host_ino: None,
            mnt_ino: None,
            cgroup_parent: format!("netns-podman-{tag}"),
            plugin_dirs: plugin_dirs.to_vec(),
            work_made: false,
            done: false,
        };
        // From here on a panic drops `pm`, which undoes what was made.
        pm.setup();
        pm
    }

    fn setup(&mut self) {
        let w = self.work.clone();
        fs::create_dir(&w).unwrap_or_else(|e| panic!("create {}: {e}", w.display()));
        self.work_made = true;
        for d in [
            "rootfs/bin",
            "net.d",
            "root",
            "runroot",
            "tmp",
            "ipam",
            "run-netns",
            "run-runc",
            "var-lib-cni",
        ] {
            fs::create_dir_all(w.join(d)).expect("create work subdirectory");
        }
        fs::copy("/bin/busybox", w.join("rootfs/bin/busybox")).expect("copy /bin/busybox");
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", w.join("rootfs/bin").join(a))
                .expect("symlink a busybox applet");
        }
        fs::write(w.join("containers.conf"), self.containers_conf())
            .expect("write containers.conf");

        // The namespace files: the directory must be a private mount for a
        // mount namespace to be bind-mounted in it (unshare(1)).
        let d = self.ns_dir.clone();
        run_ok(Command::new("mount").arg("--bind").arg(&d).arg(&d));
        run_ok(Command::new("mount").arg("--make-private").arg(&d));

        let host = self.host_ns();
        fs::File::create(&host).expect("create the host namespace file");
        run_ok(
            Command::new("unshare")
                .arg(format!("--net={}", host.display()))
                .arg("true"),
        );
        self.host_ino = Some(ns_inode(&host));

        // The mount namespace is made after the network one so that its
        // nsfs mount is in it too.
        let mnt = self.mnt_ns();
        fs::File::create(&mnt).expect("create the mount namespace file");
        let mut c = Command::new("unshare");
        c.arg(format!("--mount={}", mnt.display()))
            .args(["--propagation", "private", "sh", "-c"])
            .arg(
                r#"set -e
while [ $# -gt 0 ]; do mkdir -p "$2"; mount --bind "$1" "$2"; shift 2; done"#,
            )
            .arg("sh");
        for (src, dst) in [
            ("run-netns", "/run/netns"),
            ("run-runc", "/run/runc"),
            ("var-lib-cni", "/var/lib/cni"),
        ] {
            c.arg(w.join(src)).arg(dst);
        }
        run_ok(&mut c);
        self.mnt_ino = Some(ns_inode(&mnt));
    }

    fn containers_conf(&self) -> String {
        // A JSON string is a TOML basic string (our paths are plain ASCII).
        let s = |p: &Path| Value::String(p.display().to_string()).to_string();
        let dirs: Vec<String> = self.plugin_dirs.iter().map(|d| s(d)).collect();
        format!(
            "[network]\nnetwork_backend = \"cni\"\ncni_plugin_dirs = [{}]\nnetwork_config_dir = {}\n\n\
             [engine]\nlock_type = \"file\"\n",
            dirs.join(", "),
            s(&self.work.join("net.d")),
        )
    }

    // ---- where things are ----

    /// The work directory.
    pub fn work_dir(&self) -> &Path {
        &self.work
    }

    /// The rootfs every container runs (busybox-static).
    pub fn rootfs(&self) -> PathBuf {
        self.work.join("rootfs")
    }

    /// A directory for conflists' `ipam.dataDir` (host-local keeps
    /// `<dataDir>/<network>/`).
    pub fn ipam_dir(&self) -> PathBuf {
        self.work.join("ipam")
    }

    /// The throw-away network namespace podman runs in (a file to
    /// `nsenter --net=`).
    pub fn host_ns(&self) -> PathBuf {
        self.ns_dir.join("host")
    }

    /// The private mount namespace podman runs in.
    pub fn mnt_ns(&self) -> PathBuf {
        self.ns_dir.join("mnt")
    }

    /// What podman sees as /var/lib/cni.
    pub fn var_lib_cni(&self) -> PathBuf {
        self.work.join("var-lib-cni")
    }

    /// What podman sees as /run/netns.
    pub fn run_netns(&self) -> PathBuf {
        self.work.join("run-netns")
    }

    /// What podman sees as /run/runc.
    pub fn run_runc(&self) -> PathBuf {
        self.work.join("run-runc")
    }

    /// The cgroup parent of this fixture's containers (without the leading /).
    pub fn cgroup_parent(&self) -> &str {
        &self.cgroup_parent
    }

    pub fn footprint(&self) -> Footprint {
        Footprint {
            work: self.work.clone(),
            ns_dir: self.ns_dir.clone(),
            host_ns_inode: self.host_ino.unwrap_or(0),
            mnt_ns_inode: self.mnt_ino.unwrap_or(0),
            cgroup_parent: self.cgroup_parent.clone(),
        }
    }

    // ---- networks ----

    /// Writes `conf` as `<network>.conflist` in the network config dir (its
    /// `name` is set to `network` if absent, and must be `network` if
    /// present), then checks that podman loaded it: podman skips a conflist
    /// it cannot validate (a plugin not found in `cni_plugin_dirs`, or whose
    /// VERSION answer lacks the conflist's cniVersion) with only a warning,
    /// and `run` would then just say "network not found".
    pub fn write_conflist(&self, network: &str, conf: &Value) -> PathBuf {
        let mut conf = conf.clone();
        match conf.get("name") {
            None => {
                conf["name"] = Value::String(network.into());
            }
            Some(n) => assert_eq!(n.as_str(), Some(network), "conflist name"),
        }
        let path = self.work.join("net.d").join(format!("{network}.conflist"));
        fs::write(
            &path,
            serde_json::to_string_pretty(&conf).expect("serialise"),
        )
        .expect("write conflist");
        let o = self.podman(["network", "inspect", network]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() && !err.contains(&path.display().to_string()),
            "podman did not load {}: {err}",
            path.display()
        );
        path
    }

    // ---- running podman ----

    /// The command line: `timeout nsenter --mount --net -- podman <global
    /// flags> ARGS`, with CONTAINERS_CONF pointing at our containers.conf.
    fn podman_command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let w = &self.work;
        let mut c = Command::new("timeout");
        c.args(["--kill-after=10", PODMAN_BOUND, "nsenter"])
            .arg(format!("--mount={}", self.mnt_ns().display()))
            .arg(format!("--net={}", self.host_ns().display()))
            .args(["--", "podman", "--root"])
            .arg(w.join("root"))
            .arg("--runroot")
            .arg(w.join("runroot"))
            .arg("--tmpdir")
            .arg(w.join("tmp"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "none",
                "--runtime",
                "runc",
            ])
            .args(args)
            .env("CONTAINERS_CONF", w.join("containers.conf"))
            .stdin(Stdio::null());
        // Podman passes CNI_ARGS from its environment on to every plugin;
        // the others would point it at another config or a remote service.
        for v in [
            "CNI_ARGS",
            "CNI_PATH",
            "CONTAINER_HOST",
            "CONTAINER_CONNECTION",
            "CONTAINERS_STORAGE_CONF",
            "CONTAINERS_REGISTRIES_CONF",
            "CONTAINERS_CONF_OVERRIDE",
            "STORAGE_DRIVER",
            "STORAGE_OPTS",
        ] {
            c.env_remove(v);
        }
        c
    }

    /// Runs `podman ARGS` and returns its output whatever the status.
    pub fn podman<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.podman_command(args)
            .output()
            .expect("run timeout/nsenter/podman")
    }

    /// Runs `podman ARGS`; panics with its stderr unless it succeeds.
    /// Returns stdout.
    pub fn podman_ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<std::ffi::OsString> =
            args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let o = self.podman(&args);
        assert!(
            o.status.success(),
            "podman {:?} failed ({}): {}{}",
            args,
            o.status,
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `podman run --detach --name NAME --network NETWORK` of `cmd` on the
    /// busybox rootfs, with the flags these machines need (see
    /// /work/shared/REAL-RUNTIMES.md). Returns the container id.
    pub fn run_detached(&self, name: &str, network: &str, cmd: &[&str]) -> String {
        let mut args: Vec<std::ffi::OsString> = [
            "run",
            "--detach",
            "--name",
            name,
            "--network",
            network,
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ]
        .iter()
        .map(Into::into)
        .collect();
        args.push("--cgroup-parent".into());
        args.push(format!("/{}", self.cgroup_parent).into());
        // `--rootfs` is a switch: the first argument after the options is
        // then the rootfs instead of an image.
        args.push("--rootfs".into());
        args.push(self.rootfs().into());
        args.extend(cmd.iter().map(Into::into));
        self.podman_ok(args).trim().to_string()
    }

    /// `podman exec CONTAINER cmd...`, whatever its status.
    pub fn exec(&self, container: &str, cmd: &[&str]) -> Output {
        let mut args = vec!["exec", container];
        args.extend_from_slice(cmd);
        self.podman(args)
    }

    /// `podman exec CONTAINER cmd...`; panics unless it succeeds. Returns
    /// stdout.
    pub fn exec_ok(&self, container: &str, cmd: &[&str]) -> String {
        let mut args = vec!["exec", container];
        args.extend_from_slice(cmd);
        self.podman_ok(args)
    }

    /// `podman rm --force --time 0 CONTAINER` (no 10 s SIGTERM grace: a
    /// container's pid 1 ignores SIGTERM). Runs the plugins' DEL. Returns
    /// stdout.
    pub fn rm_f(&self, container: &str) -> String {
        self.podman_ok(["rm", "--force", "--time", "0", container])
    }

    /// `podman inspect` of one container: the object.
    pub fn inspect(&self, container: &str) -> Value {
        let out = self.podman_ok(["inspect", "--type", "container", container]);
        let v: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("podman inspect is not JSON ({e}): {out}"));
        v.get(0)
            .cloned()
            .unwrap_or_else(|| panic!("podman inspect {container}: {out}"))
    }

    /// The container's attachment to `network` in `podman inspect`
    /// (`NetworkSettings.Networks.<network>`: IPAddress, IPPrefixLen,
    /// Gateway, MacAddress, ...), which podman builds from the plugins' ADD
    /// result.
    pub fn network_settings(&self, container: &str, network: &str) -> Value {
        let i = self.inspect(container);
        i["NetworkSettings"]["Networks"][network].clone()
    }

    /// The container's IPv4 address on `network` (from `podman inspect`).
    pub fn ip_on(&self, container: &str, network: &str) -> String {
        let n = self.network_settings(container, network);
        match n["IPAddress"].as_str() {
            Some(ip) if !ip.is_empty() => ip.to_string(),
            _ => panic!("{container} has no IPAddress on {network}: {n}"),
        }
    }

    /// The container's network namespace as podman sees it
    /// (`/run/netns/netns-<uuid>`, i.e. an entry of [`Podman::run_netns`]).
    pub fn sandbox_key(&self, container: &str) -> String {
        self.inspect(container)["NetworkSettings"]["SandboxKey"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until something in `container` listens on TCP `port` (IPv4 or
    /// IPv6, as busybox nc binds ::): one `podman exec` running a bounded
    /// loop over /proc/net/tcp{,6} inside the container (no sleeping).
    pub fn wait_listening(&self, container: &str, port: u16) {
        let script = format!(
            r#"for i in $(seq 20000); do
  awk '$2 ~ /:{port:04X}$/ && $4 == "0A" {{ f = 1 }} END {{ exit !f }}' /proc/net/tcp /proc/net/tcp6 && exit 0
done
exit 1"#
        );
        let o = self.exec(container, &["sh", "-c", &script]);
        assert!(
            o.status.success(),
            "nothing listens on port {port} in {container}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Full ids of every container podman knows.
    pub fn containers(&self) -> BTreeSet<String> {
        self.podman_ok(["ps", "--all", "--quiet", "--no-trunc"])
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    // ---- the host side ----

    /// Runs `program ARGS` in the throw-away host namespace
    /// (`nsenter --net=...`), whatever its status.
    pub fn in_host<I, S>(&self, program: &str, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Command::new("nsenter")
            .arg(format!("--net={}", self.host_ns().display()))
            .arg("--")
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run nsenter")
    }

    /// `ip -j ARGS` in the throw-away host namespace, parsed.
    pub fn host_ip_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["-j"];
        all.extend_from_slice(args);
        let o = self.in_host("ip", &all);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "ip {all:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if out.trim().is_empty() {
            return Value::Array(vec![]);
        }
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("ip -j is not JSON ({e}): {out}"))
    }

    /// `ip -j -d link` in the throw-away host namespace.
    pub fn host_links(&self) -> Value {
        self.host_ip_json(&["-d", "link", "show"])
    }

    /// The veths in the throw-away host namespace, sorted.
    pub fn host_veths(&self) -> Vec<String> {
        netns_testutil::ifnames(&self.host_ip_json(&["link", "show", "type", "veth"]))
    }

    /// Entries of `<ipam_dir>/<network>` (empty if it does not exist).
    pub fn ipam_entries(&self, network: &str) -> BTreeSet<String> {
        entries(&self.ipam_dir().join(network))
    }

    /// The reservations in `<ipam_dir>/<network>`: address -> file content
    /// (host-local writes `<container id>\r\n<ifname>`); `lock` and the
    /// `last_reserved_ip.*` cursors left out.
    pub fn ipam_reservations(&self, network: &str) -> BTreeMap<String, String> {
        let dir = self.ipam_dir().join(network);
        self.ipam_entries(network)
            .into_iter()
            .filter(|n| n != "lock" && !n.starts_with("last_reserved_ip."))
            .map(|n| {
                let c = fs::read(dir.join(&n)).unwrap_or_default();
                (n, String::from_utf8_lossy(&c).into_owned())
            })
            .collect()
    }

    /// Everything the host side holds for `network` right now.
    pub fn host_state(&self, network: &str) -> HostState {
        HostState {
            veths: self.host_veths(),
            ipam: self.ipam_entries(network),
            cni_cache: entries(&self.var_lib_cni().join("results")),
            netns: entries(&self.run_netns()),
            runc: entries(&self.run_runc()),
            containers: self.containers(),
        }
    }

    // ---- teardown ----

    /// Tears everything down now and returns what could not be removed (an
    /// empty list when all is gone): every container (`podman rm -fa`), the
    /// processes podman left behind (waited for), both namespaces, the
    /// cgroup parent, the work dir; then checks that no mount, process or
    /// directory of this fixture is left.
    pub fn finish(mut self) -> Vec<String> {
        self.teardown()
    }

    fn teardown(&mut self) -> Vec<String> {
        if self.done {
            return vec![];
        }
        self.done = true;
        let mut problems = vec![];
        if self.mnt_ino.is_some() {
            let o = self.podman(["rm", "--all", "--force", "--time", "0"]);
            if !o.status.success() {
                problems.push(format!(
                    "podman rm -fa: {}",
                    String::from_utf8_lossy(&o.stderr)
                ));
            }
            let o = self.podman(["ps", "--all", "--quiet"]);
            let left = String::from_utf8_lossy(&o.stdout);
            if !left.trim().is_empty() {
                problems.push(format!("containers left after rm -fa: {left}"));
            }
        }
        // conmon runs the exit command (`podman container cleanup`) after
        // the container is gone, in our namespaces: wait for it and its
        // children, or they would keep the namespaces alive and recreate
        // directories under the work dir while it is being removed.
        problems.extend(self.quiesce());
        // Unmounts host and mnt (the last references once no process is
        // in them), then the directory's own bind mount.
        drop(self.ns.take());
        problems.extend(remove_cgroup_parent(&self.cgroup_parent));
        if self.work_made {
            if let Err(e) = fs::remove_dir_all(&self.work) {
                problems.push(format!("remove {}: {e}", self.work.display()));
            }
        }
        problems.extend(leftovers(&self.footprint()));
        problems
    }

    /// Waits (pidfd, bounded) until no process is in this fixture's
    /// namespaces or cgroup parent; kills by pid what is still there at the
    /// bound (all of it was started by this fixture's podman).
    fn quiesce(&self) -> Vec<String> {
        let fp = self.footprint();
        let deadline = Instant::now() + QUIESCE_BOUND;
        loop {
            let pids = processes_of(&fp);
            if pids.is_empty() {
                return vec![];
            }
            if Instant::now() >= deadline {
                for &(pid, _) in &pids {
                    // SAFETY: kill(2) takes plain integers.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                let late = Instant::now() + Duration::from_secs(10);
                for &(pid, _) in &pids {
                    wait_exit(pid, late);
                }
                return vec![format!(
                    "processes still running {}s after rm -fa, killed: {pids:?}",
                    QUIESCE_BOUND.as_secs()
                )];
            }
            for &(pid, _) in &pids {
                wait_exit(pid, deadline);
            }
        }
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for p in self.teardown() {
            eprintln!("podman fixture teardown: {p}");
        }
    }
}

/// Runs `c`; panics with its stderr unless it succeeds.
fn run_ok(c: &mut Command) {
    let o = c
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {c:?}: {e}"));
    assert!(
        o.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The inode of the namespace bind-mounted at `path` (nsfs reports it as
/// the file's inode).
fn ns_inode(path: &Path) -> u64 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .ino()
}

/// The names in `dir`, sorted (empty if it does not exist).
fn entries(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Live (not zombie) processes in the fixture's namespaces or cgroup
/// parent, with their command names.
fn processes_of(fp: &Footprint) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let mnt = format!("mnt:[{}]", fp.mnt_ns_inode);
    let net = format!("net:[{}]", fp.host_ns_inode);
    let cg = format!("/{}", fp.cgroup_parent);
    let mut out = vec![];
    let Ok(rd) = fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let p = e.path();
        let Ok(stat) = fs::read_to_string(p.join("stat")) else {
            continue;
        };
        // pid (comm) state ...: comm may hold spaces and parentheses.
        let Some((head, tail)) = stat.rsplit_once(')') else {
            continue;
        };
        if tail.trim_start().starts_with('Z') {
            continue;
        }
        let comm = head.split_once('(').map(|x| x.1).unwrap_or("").to_string();
        let link = |ns: &str| {
            fs::read_link(p.join("ns").join(ns))
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let in_cgroup = fs::read_to_string(p.join("cgroup"))
            .map(|c| {
                c.lines().any(|l| {
                    let path = l.splitn(3, ':').nth(2).unwrap_or("");
                    path == cg || path.starts_with(&format!("{cg}/"))
                })
            })
            .unwrap_or(false);
        if (fp.mnt_ns_inode != 0 && link("mnt") == mnt)
            || (fp.host_ns_inode != 0 && link("net") == net)
            || in_cgroup
        {
            out.push((pid, comm));
        }
    }
    out
}

/// Waits for process `pid` to exit, until `deadline`; true if it did (or
/// was already gone).
fn wait_exit(pid: i32, deadline: Instant) -> bool {
    // SAFETY: pidfd_open(2) takes a pid and flags, and returns a new
    // descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return true;
    }
    // SAFETY: `fd` was just returned by pidfd_open and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `p` is one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r > 0 {
            return true;
        }
        if r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

/// The cgroup (v1 and v2) mount points of this mount namespace.
fn cgroup_mounts() -> Vec<PathBuf> {
    let table = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    table
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let fstype = post.split(' ').next()?;
            let mp = pre.split(' ').nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(mp))
        })
        .collect()
}

/// Removes `<hierarchy>/<parent>` and the cgroups below it in every
/// hierarchy (empty once the containers and conmon are gone).
fn remove_cgroup_parent(parent: &str) -> Vec<String> {
    fn rm(dir: &Path, problems: &mut Vec<String>) {
        if let Ok(rd) = fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    rm(&e.path(), problems);
                }
            }
        }
        if let Err(e) = fs::remove_dir(dir) {
            problems.push(format!("rmdir cgroup {}: {e}", dir.display()));
        }
    }
    let mut problems = vec![];
    for m in cgroup_mounts() {
        let d = m.join(parent);
        if d.is_dir() {
            rm(&d, &mut problems);
        }
    }
    problems
}

/// What is left of a fixture: directories, mounts, processes, cgroups.
pub fn leftovers(fp: &Footprint) -> Vec<String> {
    let mut problems = vec![];
    for p in [&fp.work, &fp.ns_dir] {
        if p.exists() {
            problems.push(format!("{} still exists", p.display()));
        }
    }
    let table = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for l in table.lines() {
        let mp = l.split(' ').nth(4).unwrap_or("");
        let under = |d: &Path| {
            let d = d.to_string_lossy();
            mp == d || mp.starts_with(&format!("{d}/"))
        };
        if under(&fp.work) || under(&fp.ns_dir) {
            problems.push(format!("still mounted: {mp}"));
        }
    }
    let procs = processes_of(fp);
    if !procs.is_empty() {
        problems.push(format!(
            "processes left in the fixture's namespaces: {procs:?}"
        ));
    }
    for m in cgroup_mounts() {
        let d = m.join(&fp.cgroup_parent);
        if d.exists() {
            problems.push(format!("cgroup left: {}", d.display()));
        }
    }
    problems
}
