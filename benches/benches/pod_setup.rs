//! Pod setup as a runtime sees it: ADD then DEL of one pod through the
//! libcni driver (examples/cni-driver, Debian's libcni 1.1.2), netns-bridge
//! with its in-process host-local against the reference bridge, which execs
//! the reference host-local (/usr/lib/cni/bridge, /usr/lib/cni/host-local).
//!
//! Everything runs in a private network namespace (the plugins' host side
//! included); pods are namespaces in a temporary netns directory. The two
//! sides alternate, pod by pod, in one run (which side goes first alternates
//! too), so drift on the machine falls on both. Each figure is the wall time
//! of the driver process from spawn to exit (the runtime's view), with the
//! user and system CPU time of its whole process tree (wait4's rusage: the
//! driver, the plugin and, for the reference, host-local). A pod's namespace
//! is made before its ADD and removed only at the end of the run, so the
//! kernel's asynchronous namespace teardown never lands in a timed call.
//!
//! In the same run, each round also sets up one pod per side through one
//! long-running driver (`cni-driver -serve`): libcni as containerd and
//! CRI-O hold it, inside their daemon, so no driver start is in those
//! figures (the driver times each command itself).
//!
//! Then where the time goes: each part below is sampled between the pods
//! of that same run (every fourth pod by default), so it shares the run's
//! conditions: the driver's start alone (`-cmd status` on a 1.0.0 list,
//! which execs no plugin), the driver calling a no-op plugin (this binary
//! under the name `noop`), each plugin's process start
//! (`CNI_COMMAND=VERSION`), IPAM as a process (host-local and
//! netns-host-local ADD/DEL: the former is what the reference bridge
//! execs), each plugin called directly without the driver, and the kernel
//! work alone done in process with netns-core (no process, no IPAM). After
//! the run, the system calls of one ADD and one DEL of each side
//! (`strace -f -c`, when strace is installed). The report ends with how
//! busy the machine was (other load makes every figure slower, and says
//! so) and a decomposition of the medians.
//!
//! Run as root, on an otherwise idle machine:
//!
//! ```text
//! cargo build --release --examples
//! cargo bench -p netns-benches --bench pod_setup
//! ```
//!
//! `POD_SETUP_PODS` (default 200) sets the pods per side of the main run,
//! `POD_SETUP_PARTS` (default 50) the samples of each breakdown part. The
//! driver is built on first use by Go (as the CNI tests build it), into
//! target/release/cni-driver.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use netns_core::{
    AddrSpec, ControllerChange, Handle, IpNet, LinkChanges, LinkFilter, LinkSpec, NetNs, NetnsDir,
};
use netns_testutil::TempNetnsDir;
use serde_json::{json, Value};

#[path = "../../examples/tests/cni_common/mod.rs"]
mod cni_common;

const WARMUP: usize = 5;
const SYS_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The no-op plugin's name: this binary, run through a symlink so named.
const NOOP: &str = "noop";

// ---------------------------------------------------------------------------
// Measuring a process tree

/// What one call cost: wall seconds from spawn to reaped exit, and the user
/// and system CPU seconds and voluntary context switches of the process
/// and of every descendant it waited for.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    wall: f64,
    user: f64,
    sys: f64,
    vcsw: f64,
}

#[derive(Debug)]
struct Ran {
    cost: Cost,
    code: i32,
    stdout: String,
    stderr: String,
}

fn secs(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 * 1e-6
}

/// Run `cmd` (stdin `input`, stdout and stderr captured; every output here
/// is far below a pipe's capacity, so reading after the exit cannot block
/// the child), reaping it with wait4 for its rusage.
// std's wait would not return the rusage: the child is reaped by wait4.
#[allow(clippy::zombie_processes)]
fn run(cmd: &mut Command, input: Option<&[u8]>) -> Ran {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    if let Some(bytes) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(bytes).expect("write the plugin's stdin");
    }
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; zeroed is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `ru` are valid for writes; `pid` is our
        // child, not reaped yet (std's Child never waits unless asked).
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if rc == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "wait4: {e}");
    }
    let wall = start.elapsed().as_secs_f64();
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ran {
        cost: Cost {
            wall,
            user: secs(ru.ru_utime),
            sys: secs(ru.ru_stime),
            vcsw: ru.ru_nvcsw as f64,
        },
        code,
        stdout,
        stderr,
    }
}

/// CPU seconds used so far by this process and by every child it reaped
/// (with their reaped descendants).
fn own_cpu() -> f64 {
    let mut total = 0.0;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: rusage is plain data; zeroed is a valid value.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `ru` is valid for writes.
        let rc = unsafe { libc::getrusage(who, &mut ru) };
        assert_eq!(rc, 0);
        total += secs(ru.ru_utime) + secs(ru.ru_stime);
    }
    total
}

/// This process's CPU time so far (user, system), for in-process work.
fn self_cpu() -> (f64, f64) {
    // SAFETY: rusage is plain data; zeroed is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is valid for writes.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0);
    (secs(ru.ru_utime), secs(ru.ru_stime))
}

// ---------------------------------------------------------------------------
// Statistics

#[derive(Debug, Default, Clone)]
struct Series(Vec<Cost>);

impl Series {
    fn push(&mut self, c: Cost) {
        self.0.push(c);
    }

    fn sorted(&self, f: fn(&Cost) -> f64) -> Vec<f64> {
        let mut v: Vec<f64> = self.0.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The nearest-rank percentile `p` (0..1) of field `f`.
    fn pct(&self, f: fn(&Cost) -> f64, p: f64) -> f64 {
        let v = self.sorted(f);
        if v.is_empty() {
            return f64::NAN;
        }
        let rank = (p * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }

    fn med(&self, f: fn(&Cost) -> f64) -> f64 {
        self.pct(f, 0.5)
    }

    fn total(&self, f: fn(&Cost) -> f64) -> f64 {
        self.0.iter().map(f).sum()
    }

    fn count_over(&self, f: fn(&Cost) -> f64, limit: f64) -> usize {
        self.0.iter().filter(|c| f(c) >= limit).count()
    }
}

fn wall(c: &Cost) -> f64 {
    c.wall
}
fn user(c: &Cost) -> f64 {
    c.user
}
fn sys(c: &Cost) -> f64 {
    c.sys
}
fn cpu(c: &Cost) -> f64 {
    c.user + c.sys
}
fn off_cpu(c: &Cost) -> f64 {
    (c.wall - c.user - c.sys).max(0.0)
}
fn vcsw(c: &Cost) -> f64 {
    c.vcsw
}

fn ms(s: f64) -> String {
    format!("{:.2} ms", s * 1e3)
}

/// One line: median, p90 and mean of the wall time; the median CPU time of
/// the tree (user + system, exact: the scheduler's runtime) and its
/// off-CPU time (wall minus CPU: sleeping, blocked in the kernel, waiting
/// for a CPU or for kernel workers; 0 where the tree ran on both cores at
/// once); the user / system split as means (the kernel samples it at each
/// tick, 4 ms at HZ=250, so single calls of a few ms are all-or-nothing and
/// only sums over many are meaningful); voluntary context switches.
fn line(name: &str, s: &Series) -> String {
    let n = s.0.len() as f64;
    format!(
        "{name:<44} wall median {:>9} p90 {:>9} mean {:>9} | CPU {:>8} off-CPU {:>8} | mean user {:>8} sys {:>8} | vcsw {:>4}",
        ms(s.med(wall)),
        ms(s.pct(wall, 0.9)),
        ms(s.total(wall) / n),
        ms(s.med(cpu)),
        ms(s.med(off_cpu)),
        ms(s.total(user) / n),
        ms(s.total(sys) / n),
        s.med(vcsw),
    )
}

/// A series known only by its wall times (the serving driver's figures).
fn wall_line(name: &str, s: &Series) -> String {
    format!(
        "{name:<44} wall median {:>9} p90 {:>9} mean {:>9}",
        ms(s.med(wall)),
        ms(s.pct(wall, 0.9)),
        ms(s.total(wall) / s.0.len() as f64),
    )
}

/// Busy and total CPU seconds of the machine so far (/proc/stat, all CPUs;
/// idle and iowait count as idle).
fn machine_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    ((total - idle) / hz, total / hz)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

// ---------------------------------------------------------------------------
// The no-op plugin

/// This binary under the name `noop`: a CNI plugin that does nothing. ADD
/// prints an empty 1.0.0 result, VERSION the supported versions, anything
/// else nothing.
fn noop_plugin() {
    let mut conf = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut conf);
    match std::env::var("CNI_COMMAND").as_deref() {
        Ok("ADD") => println!(r#"{{"cniVersion":"1.0.0"}}"#),
        Ok("VERSION") => {
            println!(r#"{{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}}"#)
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Pods, networks, calls

/// The pods: namespaces in one temporary netns directory, kept until the
/// end of the run.
struct Pods {
    dir: NetnsDir,
    n: usize,
    // Dropped last: unmounts and removes whatever is left.
    _tmp: TempNetnsDir,
}

impl Pods {
    fn new() -> Pods {
        let tmp = TempNetnsDir::new();
        Pods {
            dir: NetnsDir::new(tmp.path()),
            n: 0,
            _tmp: tmp,
        }
    }

    fn create(&mut self, tag: &str) -> PathBuf {
        self.n += 1;
        let name = format!("{tag}-{}", self.n);
        self.dir
            .create(&name)
            .unwrap_or_else(|e| panic!("create pod namespace {name}: {e}"));
        self.dir.path_of(&name).expect("a valid name")
    }
}

/// One side: a conflist of one bridge plugin, its plugin search path and
/// libcni cache, and the same plugin's configuration for direct calls.
struct Side {
    tag: &'static str,
    conflist: PathBuf,
    search: String,
    cache: PathBuf,
    plugin: PathBuf,
    plugin_conf: Vec<u8>,
    subnet_prefix: &'static str,
}

impl Side {
    #[allow(clippy::too_many_arguments)]
    fn new(
        work: &Path,
        tag: &'static str,
        kind: &str,
        plugin: PathBuf,
        search: &[&Path],
        bridge: &str,
        subnet: &str,
        subnet_prefix: &'static str,
    ) -> Side {
        let ipam_dir = work.join(format!("ipam-{tag}"));
        let plugin_keys = json!({
            "type": kind, "bridge": bridge, "isGateway": true,
            "ipam": {"type": "host-local", "subnet": subnet, "dataDir": ipam_dir}
        });
        let list = json!({"cniVersion": "1.0.0", "name": "bench", "plugins": [plugin_keys]});
        let conflist = work.join(format!("{tag}.conflist"));
        std::fs::write(&conflist, list.to_string()).expect("write the conflist");
        let mut direct = plugin_keys;
        direct["cniVersion"] = json!("1.0.0");
        direct["name"] = json!("bench");
        let search = std::env::join_paths(search)
            .expect("plugin dirs without ':'")
            .to_string_lossy()
            .into_owned();
        Side {
            tag,
            conflist,
            search,
            cache: work.join(format!("cache-{tag}")),
            plugin,
            plugin_conf: direct.to_string().into_bytes(),
            subnet_prefix,
        }
    }

    /// The driver running `cmd` on this side's network for pod `netns`.
    fn driver(&self, driver: &Path, cmd: &str, netns: &Path, id: &str) -> Command {
        let mut c = Command::new(driver);
        c.env_clear()
            .env("PATH", SYS_PATH)
            .args(["-cmd", cmd])
            .arg("-conflist")
            .arg(&self.conflist)
            .args(["-path", &self.search])
            .arg("-cachedir")
            .arg(&self.cache)
            .arg("-netns")
            .arg(netns)
            .args(["-id", id, "-ifname", "eth0"]);
        c
    }

    /// The plugin itself, as the driver would exec it, without the driver.
    fn direct(&self, cmd: &str, netns: &Path, id: &str) -> Command {
        cni_env(&self.plugin, cmd, netns, id, &self.search)
    }

    fn check_add(&self, what: &str, r: &Ran) {
        assert!(
            r.code == 0,
            "{} {what} failed (exit {}): {} {}",
            self.tag,
            r.code,
            r.stdout,
            r.stderr
        );
        let v: Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "{} {what}: result is not JSON ({e}): {}",
                self.tag, r.stdout
            )
        });
        let ip = v["ips"][0]["address"].as_str().unwrap_or_default();
        assert!(
            ip.starts_with(self.subnet_prefix),
            "{} {what}: no address of the network in the result: {v}",
            self.tag
        );
    }

    fn check_ok(&self, what: &str, r: &Ran) {
        assert!(
            r.code == 0,
            "{} {what} failed (exit {}): {} {}",
            self.tag,
            r.code,
            r.stdout,
            r.stderr
        );
    }
}

/// A plugin with the CNI environment of `cmd` (what libcni sets).
fn cni_env(plugin: &Path, cmd: &str, netns: &Path, id: &str, search: &str) -> Command {
    let mut c = Command::new(plugin);
    c.env_clear()
        .env("PATH", SYS_PATH)
        .env("CNI_COMMAND", cmd)
        .env("CNI_CONTAINERID", id)
        .env("CNI_NETNS", netns)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", search);
    c
}

/// A plugin with only CNI_COMMAND=VERSION (its process start and exit).
fn version_cmd(plugin: &Path) -> Command {
    let mut c = Command::new(plugin);
    c.env_clear()
        .env("PATH", SYS_PATH)
        .env("CNI_COMMAND", "VERSION");
    c
}

// ---------------------------------------------------------------------------
// The driver as a daemon

/// The driver in `-serve` mode, one process for the whole run: libcni as a
/// long-running runtime holds it (containerd and CRI-O call it inside their
/// daemon), so no driver start is in the figures. Each figure is the time
/// the driver measured around the command (reading the conflist and the
/// libcni call, which execs the plugin); CPU times are not available per
/// command and are left at 0.
struct Daemon {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Daemon {
    fn start(driver: &Path) -> Daemon {
        let mut child = Command::new(driver)
            .env_clear()
            .env("PATH", SYS_PATH)
            .arg("-serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {} -serve: {e}", driver.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Daemon {
            child,
            stdin,
            stdout,
        }
    }

    /// `cmd` on `side`'s network for pod `netns`: its cost and what it
    /// printed; panics on a failure.
    fn call(&mut self, side: &Side, cmd: &str, netns: &Path, id: &str) -> (Cost, String) {
        let line = json!({
            "cmd": cmd, "conflist": side.conflist, "path": side.search,
            "cachedir": side.cache, "netns": netns, "id": id, "ifname": "eth0",
        });
        writeln!(self.stdin, "{line}").expect("write to the driver");
        let mut reply = String::new();
        self.stdout
            .read_line(&mut reply)
            .expect("read the driver's reply");
        let v: Value =
            serde_json::from_str(&reply).unwrap_or_else(|e| panic!("driver reply {reply:?}: {e}"));
        assert_eq!(
            v["error"],
            Value::Null,
            "{} {cmd} through the serving driver failed: {v}",
            side.tag
        );
        let cost = Cost {
            wall: v["ns"].as_f64().unwrap_or_default() * 1e-9,
            ..Cost::default()
        };
        (cost, v["out"].as_str().unwrap_or_default().to_owned())
    }

    /// ADD then DEL of one new pod on `side`.
    fn pod(&mut self, side: &Side, pods: &mut Pods, id: &str) -> (Cost, Cost) {
        let pod = pods.create(side.tag);
        let (add, out) = self.call(side, "add", &pod, id);
        side.check_add(
            "serving driver ADD",
            &Ran {
                cost: add,
                code: 0,
                stdout: out,
                stderr: String::new(),
            },
        );
        let (del, _) = self.call(side, "del", &pod, id);
        (add, del)
    }

    /// End of stdin: the driver exits.
    fn stop(self) {
        let Daemon {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        let status = child.wait().expect("wait for the serving driver");
        assert!(status.success(), "cni-driver -serve: {status}");
    }
}

// ---------------------------------------------------------------------------
// strace

/// `strace -f -c` of one call: the total number of system calls and the
/// most frequent ones. None without strace.
fn strace_summary(cmd: &Command, input: Option<&[u8]>, out: &Path) -> Option<String> {
    let strace = ["/usr/bin/strace", "/bin/strace"]
        .into_iter()
        .find(|p| Path::new(p).is_file())?;
    let mut c = Command::new(strace);
    c.args(["-f", "-c", "-o"]).arg(out).arg(cmd.get_program());
    c.args(cmd.get_args());
    c.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    let r = run(&mut c, input);
    assert_eq!(r.code, 0, "strace of {cmd:?} failed: {}", r.stderr);
    let text = std::fs::read_to_string(out).ok()?;
    let mut rows: Vec<(u64, String)> = Vec::new();
    for l in text.lines() {
        let t: Vec<&str> = l.split_whitespace().collect();
        // "% time seconds usecs/call calls [errors] syscall"
        if t.len() < 5 || t[0].parse::<f64>().is_err() || t.last() == Some(&"total") {
            continue;
        }
        if let Ok(calls) = t[3].parse::<u64>() {
            rows.push((calls, (*t.last().unwrap_or(&"?")).to_owned()));
        }
    }
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let total: u64 = rows.iter().map(|r| r.0).sum();
    let count = |name: &str| rows.iter().find(|r| r.1 == name).map_or(0, |r| r.0);
    let mut s = format!(
        "{total} syscalls (execve {}, clone/clone3 {}, sendto+sendmsg {}); top:",
        count("execve"),
        count("clone") + count("clone3"),
        count("sendto") + count("sendmsg"),
    );
    for (calls, name) in rows.iter().take(6) {
        let _ = write!(s, " {name} {calls},");
    }
    s.pop();
    Some(s)
}

// ---------------------------------------------------------------------------
// The in-process kernel floor

/// What the kernel does for one pod, done in process with netns-core and
/// nothing else: open the pod's namespace and a socket in it, the veth pair
/// (host end created in this namespace), host end up on the bridge, the
/// address, the container end up, wait for the port's carrier; then DEL:
/// delete the pair. No IPAM, no sysctls, no process.
struct Floor {
    host: Handle,
    here: NetNs,
    bridge: u32,
    n: usize,
}

impl Floor {
    fn new() -> Floor {
        let host = Handle::new().expect("a netlink socket");
        let here = NetNs::current().expect("this namespace");
        let name = "cni-flr0";
        host.link_add(&LinkSpec::bridge(name))
            .expect("the floor's bridge");
        host.link_set_up(name).expect("bridge up");
        let bridge = host.link_get(name).expect("the bridge").index;
        Floor {
            host,
            here,
            bridge,
            n: 0,
        }
    }

    /// One pod: (ADD, DEL).
    fn pod(&mut self, pod: &Path) -> (Cost, Cost) {
        self.n += 1;
        let i = self.n;
        let peer = format!("vflr{i}");
        let addr: IpNet = format!("10.93.{}.{}/16", i / 250, i % 250 + 2)
            .parse()
            .expect("an address");
        let (u0, s0) = self_cpu();
        let t0 = Instant::now();
        let ns = NetNs::open(pod).expect("open the pod");
        let c = ns.handle().expect("a socket in the pod");
        c.link_add(&LinkSpec::veth("eth0", peer.as_str()).peer_netns(&self.here))
            .expect("veth");
        let eth = c.link_get("eth0").expect("eth0").index;
        self.host
            .link_set(
                peer.as_str(),
                &LinkChanges {
                    up: Some(true),
                    controller: Some(ControllerChange::Attach(self.bridge.into())),
                    ..Default::default()
                },
            )
            .expect("port up on the bridge");
        c.addr_add(&AddrSpec::new(eth, addr).broadcast_auto())
            .expect("address");
        c.link_set_up(eth).expect("eth0 up");
        self.host
            .wait_link_up(peer.as_str(), Duration::from_secs(3))
            .expect("port up");
        let t1 = Instant::now();
        let (u1, s1) = self_cpu();
        c.link_del(eth).expect("delete the pair");
        let t2 = Instant::now();
        let (u2, s2) = self_cpu();
        let add = Cost {
            wall: (t1 - t0).as_secs_f64(),
            user: u1 - u0,
            sys: s1 - s0,
            vcsw: 0.0,
        };
        let del = Cost {
            wall: (t2 - t1).as_secs_f64(),
            user: u2 - u1,
            sys: s2 - s1,
            vcsw: 0.0,
        };
        (add, del)
    }
}

// ---------------------------------------------------------------------------
// The breakdown parts, sampled between the main pairs

/// Every part of the breakdown; [`Parts::sample`] takes one sample of each.
struct Parts {
    /// (1) The driver's start: `status` on a 1.0.0 list returns before any
    /// plugin is executed (libcni 1.1.2 has no STATUS; the driver does
    /// what 1.2 does, which is nothing below 1.1.0).
    status: Series,
    /// (2) The driver ADD / DEL with a no-op plugin: its start plus
    /// libcni's exec path (env, stdin, pipes, result parsing, cache file).
    noop_add: Series,
    noop_del: Series,
    /// (2b) The same through the serving driver: libcni's exec path and the
    /// no-op plugin's start, the floor of a daemon's figures.
    serve_noop_add: Series,
    serve_noop_del: Series,
    noop: Side,
    noop_pod: PathBuf,
    /// (3) Process starts: VERSION of each plugin, /bin/true as the floor
    /// of a fork + exec + exit.
    starts: Vec<(&'static str, PathBuf, Series)>,
    /// (4) IPAM as a process: host-local (what the reference bridge execs)
    /// and netns-host-local (the same netns-ipam code that netns-bridge runs
    /// in process), ADD and DEL on a file store of their own.
    ipam: [(PathBuf, String, Series, Series); 2],
    /// (5) The two plugins called directly, without the driver: ADD, DEL.
    direct: [(Series, Series); 2],
    /// (6) The kernel work alone, in process: ADD, DEL.
    floor: Floor,
    floor_add: Series,
    floor_del: Series,
    n: usize,
}

impl Parts {
    fn sample(
        &mut self,
        driver: &Path,
        daemon: &mut Daemon,
        sides: [&Side; 2],
        pods: &mut Pods,
        record: bool,
    ) {
        self.n += 1;
        let k = self.n;
        let keep = |series: &mut Series, c: Cost| {
            if record {
                series.push(c);
            }
        };
        let mut st = Command::new(driver);
        st.env_clear()
            .env("PATH", SYS_PATH)
            .args(["-cmd", "status", "-conflist"])
            .arg(&sides[0].conflist)
            .args(["-path", &sides[0].search])
            .arg("-cachedir")
            .arg(&sides[0].cache);
        let r = run(&mut st, None);
        assert_eq!(r.code, 0, "driver status: {}", r.stderr);
        keep(&mut self.status, r.cost);

        let id = format!("noop-{k}");
        let a = run(
            &mut self.noop.driver(driver, "add", &self.noop_pod, &id),
            None,
        );
        self.noop.check_ok("driver ADD", &a);
        keep(&mut self.noop_add, a.cost);
        let d = run(
            &mut self.noop.driver(driver, "del", &self.noop_pod, &id),
            None,
        );
        self.noop.check_ok("driver DEL", &d);
        keep(&mut self.noop_del, d.cost);
        let id = format!("noop-serve-{k}");
        let (a, _) = daemon.call(&self.noop, "add", &self.noop_pod, &id);
        keep(&mut self.serve_noop_add, a);
        let (d, _) = daemon.call(&self.noop, "del", &self.noop_pod, &id);
        keep(&mut self.serve_noop_del, d);

        for (_, exe, series) in &mut self.starts {
            let r = run(&mut version_cmd(exe), None);
            assert_eq!(r.code, 0, "{} VERSION: {}", exe.display(), r.stderr);
            keep(series, r.cost);
        }

        let order = if k % 2 == 0 { [0, 1] } else { [1, 0] };
        let search = &sides[0].search;
        for j in order {
            let (exe, conf, add, del) = &mut self.ipam[j];
            let id = format!("ipam-{k}");
            let a = run(
                &mut cni_env(exe, "ADD", &self.noop_pod, &id, search),
                Some(conf.as_bytes()),
            );
            assert_eq!(
                a.code,
                0,
                "{} ADD: {} {}",
                exe.display(),
                a.stdout,
                a.stderr
            );
            keep(add, a.cost);
            let d = run(
                &mut cni_env(exe, "DEL", &self.noop_pod, &id, search),
                Some(conf.as_bytes()),
            );
            assert_eq!(
                d.code,
                0,
                "{} DEL: {} {}",
                exe.display(),
                d.stdout,
                d.stderr
            );
            keep(del, d.cost);
        }

        for j in order {
            let side = sides[j];
            let pod = pods.create(side.tag);
            let id = format!("direct-{}-{k}", side.tag);
            let a = run(&mut side.direct("ADD", &pod, &id), Some(&side.plugin_conf));
            side.check_add("direct ADD", &a);
            let d = run(&mut side.direct("DEL", &pod, &id), Some(&side.plugin_conf));
            side.check_ok("direct DEL", &d);
            let (add, del) = &mut self.direct[j];
            keep(add, a.cost);
            keep(del, d.cost);
        }

        let pod = pods.create("floor");
        let (a, d) = self.floor.pod(&pod);
        keep(&mut self.floor_add, a);
        keep(&mut self.floor_del, d);
    }
}

// ---------------------------------------------------------------------------

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args_os()
        .next()
        .is_some_and(|a| Path::new(&a).file_name() == Some(OsStr::new(NOOP)))
    {
        noop_plugin();
        return;
    }
    let pods_n = env_usize("POD_SETUP_PODS", 200).max(1);
    let parts_n = env_usize("POD_SETUP_PARTS", 50).clamp(1, pods_n);

    // cargo bench passes --bench; nothing else is read.
    netns_benches::enter_private_netns();
    let examples = cni_common::examples_dir();
    for p in ["netns-bridge", "netns-host-local"] {
        assert!(
            examples.join(p).is_file(),
            "{} is missing: run `cargo build --release --examples` first",
            examples.join(p).display()
        );
    }
    let reference = cni_common::reference_dir();
    let driver = cni_common::driver().to_path_buf();

    let work = cni_common::TempDir::new("pod-setup");
    let w = work.path();
    let ref_side = Side::new(
        w,
        "ref",
        "bridge",
        reference.join("bridge"),
        &[&reference],
        "cni-ref0",
        "10.88.0.0/16",
        "10.88.",
    );
    let our_side = Side::new(
        w,
        "ours",
        "netns-bridge",
        examples.join("netns-bridge"),
        &[&examples, &reference],
        "cni-our0",
        "10.89.0.0/16",
        "10.89.",
    );
    let sides = [&ref_side, &our_side];
    let mut pods = Pods::new();

    // The no-op plugin: this binary through a symlink named `noop`.
    let noop_dir = w.join("noop-bin");
    std::fs::create_dir(&noop_dir).expect("mkdir noop-bin");
    let me = std::env::current_exe().expect("current_exe");
    std::os::unix::fs::symlink(&me, noop_dir.join(NOOP)).expect("symlink the no-op plugin");
    let noop_list = w.join("noop.conflist");
    std::fs::write(
        &noop_list,
        json!({"cniVersion": "1.0.0", "name": "noop", "plugins": [{"type": NOOP}]}).to_string(),
    )
    .expect("write the no-op conflist");
    let ipam_conf = |subnet: &str, dir: &str| {
        json!({"cniVersion": "1.0.0", "name": "bench",
            "ipam": {"type": "host-local", "subnet": subnet, "dataDir": w.join(dir)}})
        .to_string()
    };
    let mut parts = Parts {
        status: Series::default(),
        noop_add: Series::default(),
        noop_del: Series::default(),
        serve_noop_add: Series::default(),
        serve_noop_del: Series::default(),
        noop: Side {
            tag: "noop",
            conflist: noop_list,
            search: noop_dir.display().to_string(),
            cache: w.join("cache-noop"),
            plugin: noop_dir.join(NOOP),
            plugin_conf: Vec::new(),
            subnet_prefix: "",
        },
        noop_pod: pods.create("noop"),
        starts: vec![
            (
                "/bin/true (fork+exec+exit floor)",
                PathBuf::from("/bin/true"),
                Series::default(),
            ),
            (
                "noop (this bench binary, Rust)",
                noop_dir.join(NOOP),
                Series::default(),
            ),
            (
                "netns-bridge (Rust)",
                examples.join("netns-bridge"),
                Series::default(),
            ),
            (
                "netns-host-local (Rust)",
                examples.join("netns-host-local"),
                Series::default(),
            ),
            (
                "reference bridge (Go)",
                reference.join("bridge"),
                Series::default(),
            ),
            (
                "reference host-local (Go)",
                reference.join("host-local"),
                Series::default(),
            ),
        ],
        ipam: [
            (
                reference.join("host-local"),
                ipam_conf("10.91.0.0/16", "ipam-hl"),
                Series::default(),
                Series::default(),
            ),
            (
                examples.join("netns-host-local"),
                ipam_conf("10.92.0.0/16", "ipam-nhl"),
                Series::default(),
                Series::default(),
            ),
        ],
        direct: Default::default(),
        floor: Floor::new(),
        floor_add: Series::default(),
        floor_del: Series::default(),
        n: 0,
    };

    let load_start = loadavg();
    println!(
        "pod setup through libcni ({}), {pods_n} pods per side, interleaved, {parts_n} samples of each breakdown part between them; load average at start: {load_start}",
        driver.display()
    );
    let run_start = Instant::now();
    let cpu_start = machine_cpu();
    let own_start = own_cpu();

    // The run: per pod, ADD then DEL through the driver on each side (which
    // side goes first alternates); every `every` pods, one sample of each
    // breakdown part, so that all figures share the run's conditions.
    // Each pod round also runs one pod per side through the serving driver
    // (the daemon's view), in the same alternating order.
    let every = pods_n / parts_n;
    let mut adds = [Series::default(), Series::default()];
    let mut dels = [Series::default(), Series::default()];
    let mut serve_adds = [Series::default(), Series::default()];
    let mut serve_dels = [Series::default(), Series::default()];
    let mut daemon = Daemon::start(&driver);
    for i in 0..WARMUP + pods_n {
        let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for s in order {
            let side = sides[s];
            let pod = pods.create(side.tag);
            let id = format!("{}-{i}", side.tag);
            let add = run(&mut side.driver(&driver, "add", &pod, &id), None);
            side.check_add("driver ADD", &add);
            let del = run(&mut side.driver(&driver, "del", &pod, &id), None);
            side.check_ok("driver DEL", &del);
            let (sadd, sdel) = daemon.pod(side, &mut pods, &format!("{}-serve-{i}", side.tag));
            if i >= WARMUP {
                adds[s].push(add.cost);
                dels[s].push(del.cost);
                serve_adds[s].push(sadd);
                serve_dels[s].push(sdel);
            }
        }
        if i < WARMUP {
            parts.sample(&driver, &mut daemon, sides, &mut pods, false);
        } else if (i - WARMUP) % every == 0 && parts.status.0.len() < parts_n {
            parts.sample(&driver, &mut daemon, sides, &mut pods, true);
        }
    }
    daemon.stop();
    let run_secs = run_start.elapsed().as_secs_f64();
    let cpu_end = machine_cpu();
    let own_run = own_cpu() - own_start;
    let load_end = loadavg();

    // System calls of one ADD and one DEL of each side (after the run:
    // strace slows everything down).
    let mut straces = Vec::new();
    for side in sides {
        let pod = pods.create(side.tag);
        let id = format!("strace-{}", side.tag);
        for cmd in ["add", "del"] {
            let out = w.join(format!("strace-{}-{cmd}", side.tag));
            let summary = strace_summary(&side.driver(&driver, cmd, &pod, &id), None, &out);
            straces.push((format!("{} {cmd}", side.tag), summary));
        }
    }

    // Nothing left behind on the host side: every veth went with its DEL.
    let host = Handle::new().expect("a netlink socket");
    let left: Vec<String> = host
        .links(&LinkFilter::new())
        .expect("links")
        .into_iter()
        .map(|l| l.name)
        .filter(|n| !["lo", "cni-ref0", "cni-our0", "cni-flr0"].contains(&n.as_str()))
        .collect();
    assert!(left.is_empty(), "links left on the host side: {left:?}");

    report(&Report {
        pods_n,
        run_secs,
        adds: &adds,
        dels: &dels,
        serve_adds: &serve_adds,
        serve_dels: &serve_dels,
        parts: &parts,
        straces: &straces,
        busy: cpu_end.0 - cpu_start.0,
        capacity: cpu_end.1 - cpu_start.1,
        own: own_run,
        load_start: &load_start,
        load_end: &load_end,
    });
}

struct Report<'a> {
    pods_n: usize,
    run_secs: f64,
    adds: &'a [Series; 2],
    dels: &'a [Series; 2],
    serve_adds: &'a [Series; 2],
    serve_dels: &'a [Series; 2],
    parts: &'a Parts,
    straces: &'a [(String, Option<String>)],
    busy: f64,
    capacity: f64,
    own: f64,
    load_start: &'a str,
    load_end: &'a str,
}

fn report(r: &Report<'_>) {
    let pods_n = r.pods_n;
    let p = r.parts;
    let [ref_add, our_add] = r.adds;
    let [ref_del, our_del] = r.dels;
    println!();
    println!(
        "== ADD then DEL through the libcni driver, {pods_n} pods per side (after {WARMUP} warm-up pods); run {:.1} s",
        r.run_secs
    );
    println!("{}", line("reference bridge + host-local  ADD", ref_add));
    println!("{}", line("netns-bridge (in-process IPAM)  ADD", our_add));
    println!("{}", line("reference bridge + host-local  DEL", ref_del));
    println!("{}", line("netns-bridge (in-process IPAM)  DEL", our_del));
    for (name, a, b) in [("ADD", ref_add, our_add), ("DEL", ref_del, our_del)] {
        println!(
            "{name}: totals ref {:.3} s, ours {:.3} s; ratio ref/ours: median {:.2}x, p90 {:.2}x, total {:.2}x",
            a.total(wall),
            b.total(wall),
            a.med(wall) / b.med(wall),
            a.pct(wall, 0.9) / b.pct(wall, 0.9),
            a.total(wall) / b.total(wall),
        );
    }
    println!(
        "ADDs of 50 ms or more (the reference's first poll sleep is 50 ms): ref {}, ours {}; max ref {}, ours {}",
        ref_add.count_over(wall, 0.050),
        our_add.count_over(wall, 0.050),
        ms(ref_add.pct(wall, 1.0)),
        ms(our_add.pct(wall, 1.0)),
    );
    // How busy the machine was: all CPU time spent during the run, what
    // this bench and its children used, and the rest: other processes, and
    // kernel workers (some on this bench's behalf: RCU, link watch).
    let others = r.busy - r.own;
    println!(
        "machine during the run: {:.0}% of {:.1} CPU-s busy: this bench and its children {:.1} CPU-s, other processes and kernel workers {:.1} CPU-s ({:.0}% of one CPU)",
        100.0 * r.busy / r.capacity,
        r.capacity,
        r.own,
        others,
        100.0 * others / r.run_secs,
    );
    if others > 0.25 * r.run_secs {
        println!(
            "WARNING: the machine was not idle (other load used {:.0}% of one CPU during the run): figures are slower than on a quiet machine",
            100.0 * others / r.run_secs
        );
    }

    println!();
    println!(
        "== ADD then DEL through one serving driver (cni-driver -serve: libcni in a long-running process, as containerd and CRI-O hold it), {pods_n} pods per side, in the same run; time measured by the driver around each command"
    );
    let [sref_add, sour_add] = r.serve_adds;
    let [sref_del, sour_del] = r.serve_dels;
    println!(
        "{}",
        wall_line("reference bridge + host-local  ADD", sref_add)
    );
    println!(
        "{}",
        wall_line("netns-bridge (in-process IPAM)  ADD", sour_add)
    );
    println!(
        "{}",
        wall_line("reference bridge + host-local  DEL", sref_del)
    );
    println!(
        "{}",
        wall_line("netns-bridge (in-process IPAM)  DEL", sour_del)
    );
    println!("{}", wall_line("no-op plugin ADD", &p.serve_noop_add));
    println!("{}", wall_line("no-op plugin DEL", &p.serve_noop_del));
    for (name, a, b) in [("ADD", sref_add, sour_add), ("DEL", sref_del, sour_del)] {
        println!(
            "{name}: ratio ref/ours: median {:.2}x, p90 {:.2}x, total {:.2}x",
            a.med(wall) / b.med(wall),
            a.pct(wall, 0.9) / b.pct(wall, 0.9),
            a.total(wall) / b.total(wall),
        );
    }
    println!(
        "ceiling of the ADD ratio through the serving driver (a plugin that does nothing): ref ADD / no-op ADD = {:.2}x; for a plugin that does only the kernel work, in no time of its own: ref ADD / (no-op ADD + the kernel work alone) = {:.2}x",
        sref_add.med(wall) / p.serve_noop_add.med(wall),
        sref_add.med(wall) / (p.serve_noop_add.med(wall) + p.floor_add.med(wall))
    );

    println!();
    println!(
        "== Where the time goes ({} samples of each part, taken between the pods above)",
        p.status.0.len()
    );
    println!("{}", line("driver start alone (-cmd status)", &p.status));
    println!("{}", line("driver + no-op plugin ADD", &p.noop_add));
    println!("{}", line("driver + no-op plugin DEL", &p.noop_del));
    for (name, _, s) in &p.starts {
        println!("{}", line(&format!("VERSION: {name}"), s));
    }
    println!("{}", line("host-local ADD (process)", &p.ipam[0].2));
    println!("{}", line("host-local DEL (process)", &p.ipam[0].3));
    println!("{}", line("netns-host-local ADD (process)", &p.ipam[1].2));
    println!("{}", line("netns-host-local DEL (process)", &p.ipam[1].3));
    println!("{}", line("reference bridge ADD, direct", &p.direct[0].0));
    println!("{}", line("netns-bridge ADD, direct", &p.direct[1].0));
    println!("{}", line("reference bridge DEL, direct", &p.direct[0].1));
    println!("{}", line("netns-bridge DEL, direct", &p.direct[1].1));
    println!(
        "{}",
        line("kernel work in process (netns-core) ADD", &p.floor_add)
    );
    println!(
        "{}",
        line("kernel work in process (netns-core) DEL", &p.floor_del)
    );
    for (name, s) in r.straces {
        match s {
            Some(s) => println!("strace -f -c, one {name}: {s}"),
            None => println!("strace -f -c, one {name}: strace not installed"),
        }
    }

    // A decomposition from the medians above (separate samples, so the
    // parts add up only approximately).
    let m = |s: &Series| s.med(wall);
    let drv = m(&p.status);
    let noop_start = m(&p.starts[1].2);
    let bridge_start = m(&p.starts[4].2);
    let (our_start, nhl_start) = (m(&p.starts[2].2), m(&p.starts[3].2));
    println!();
    println!("== Decomposition of the medians");
    for (name, total, noop, direct, start, ipam, ipam_note, floor) in [
        (
            "ref ADD",
            m(ref_add),
            m(&p.noop_add),
            m(&p.direct[0].0),
            bridge_start,
            m(&p.ipam[0].2),
            "host-local exec (a Go process)",
            m(&p.floor_add),
        ),
        (
            "ours ADD",
            m(our_add),
            m(&p.noop_add),
            m(&p.direct[1].0),
            our_start,
            m(&p.ipam[1].2) - nhl_start,
            "in-process IPAM (netns-host-local ADD minus its start)",
            m(&p.floor_add),
        ),
        (
            "ref DEL",
            m(ref_del),
            m(&p.noop_del),
            m(&p.direct[0].1),
            bridge_start,
            m(&p.ipam[0].3),
            "host-local exec (a Go process)",
            m(&p.floor_del),
        ),
        (
            "ours DEL",
            m(our_del),
            m(&p.noop_del),
            m(&p.direct[1].1),
            our_start,
            m(&p.ipam[1].3) - nhl_start,
            "in-process IPAM (netns-host-local DEL minus its start)",
            m(&p.floor_del),
        ),
    ] {
        println!(
            "{name:<9} {:>9}: driver start {} + libcni's exec path {} + plugin direct {} [= plugin start {} + {ipam_note} {} + the rest (netlink, kernel, sysctls, waits) {}; the kernel work alone, in process: {}]; through the driver minus direct: {}",
            ms(total),
            ms(drv),
            ms(noop - drv - noop_start),
            ms(direct),
            ms(start),
            ms(ipam),
            ms(direct - start - ipam),
            ms(floor),
            ms(total - direct),
        );
    }
    println!(
        "ceiling of the ADD ratio through this driver (a plugin that does nothing): ref ADD / (driver + no-op plugin ADD) = {:.2}x; for a plugin that does only the kernel work, in no time of its own: ref ADD / (driver + no-op plugin ADD + the kernel work alone) = {:.2}x",
        m(ref_add) / m(&p.noop_add),
        m(ref_add) / (m(&p.noop_add) + m(&p.floor_add))
    );
    println!();
    println!(
        "load average at start: {}; at end: {}",
        r.load_start, r.load_end
    );
}
