//! A real etcd cluster for tests and benches: Debian's etcd-server
//! (`/usr/bin/etcd`, 3.4), members on 127.0.0.1, data in a [`TempDir`],
//! etcdctl as the oracle.
//!
//! Call [`Cluster::start`] from a thread inside a private network namespace
//! with `lo` up ([`crate::in_private_netns_lo_up`]): the members are child
//! processes, and a child inherits the network namespace of the thread that
//! spawns it, so every test has its own loopback and fixed ports never clash
//! with another test's or the machine's. Member `i` listens for clients on
//! 127.0.0.1:`2379 + 2i` and for peers on 127.0.0.1:`2380 + 2i`.
//!
//! A child inherits the *calling thread's* namespace, not the process's:
//! `std::process::Command` forks from the thread that calls `spawn`, and the
//! forked child keeps that thread's `nsproxy` (the test
//! `spawned_process_inherits_the_threads_netns` in `tests/etcd_harness.rs`
//! checks it with `readlink /proc/self/ns/net`).
//!
//! Data is fsync'ed as in production: etcd 3.4.23 has no switch to skip it
//! (`etcd --help` lists no `--unsafe-no-fsync`, which came in 3.5). The
//! system temp dir is on the root file system here (ext4 on a virtio disk,
//! not tmpfs); with real fsync a 3-member cluster starts (healthy) in
//! 0.95 to 2.6 s, mostly the first election's randomised timeout, and an
//! etcdctl txn takes 10 to 16 ms, its process start included: fast
//! enough. The heartbeat and election timeouts are etcd's defaults
//! (100 ms, 1 s).
//!
//! Readiness is polled (`etcdctl endpoint health`, a linearizable read that
//! needs a leader and a quorum) until a deadline, never waited for by a
//! fixed sleep. Every member's output goes to `mN.log` in the cluster's
//! directory, and a failure to start includes its tail.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

/// How long a member (or the cluster) may take to become healthy.
const READY: Duration = Duration::from_secs(60);

/// A running etcd cluster; every member is killed and its data removed on
/// drop.
pub struct Cluster {
    dir: TempDir,
    members: Vec<Option<Child>>,
    tls: bool,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("dir", &self.dir.path())
            .field("tls", &self.tls)
            .field(
                "running",
                &self.members.iter().map(Option::is_some).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn client_port(i: usize) -> u16 {
    2379 + 2 * i as u16
}

fn peer_port(i: usize) -> u16 {
    2380 + 2 * i as u16
}

fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (is the openssl package installed?)");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A CA (`NAME-ca.pem`, `NAME-ca-key.pem`) in `dir`.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} test CA"),
            "-keyout",
            &format!("{name}-ca-key.pem"),
            "-out",
            &format!("{name}-ca.pem"),
        ],
    );
}

/// A certificate `OUT.pem` / `OUT-key.pem` signed by CA `ca`, with the
/// extensions `ext` (an openssl extension section's lines).
fn make_cert(dir: &Path, ca: &str, out: &str, cn: &str, ext: &str) {
    fs::write(dir.join(format!("{out}.ext")), ext).expect("write ext");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &format!("{out}-key.pem"),
            "-out",
            &format!("{out}.csr"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{out}.csr"),
            "-days",
            "2",
            "-CA",
            &format!("{ca}-ca.pem"),
            "-CAkey",
            &format!("{ca}-ca-key.pem"),
            "-CAcreateserial",
            "-extfile",
            &format!("{out}.ext"),
            "-out",
            &format!("{out}.pem"),
        ],
    );
}

impl Cluster {
    /// `members` members over plain HTTP, healthy.
    pub fn start(members: usize) -> Cluster {
        Cluster::new(members, false)
    }

    /// `members` members whose client URLs are HTTPS with client
    /// certificate authentication (`--client-cert-auth`); the certificates
    /// are made with openssl: a CA, the members' server certificate (for
    /// IP 127.0.0.1 and localhost), a client certificate, and a client
    /// certificate from another CA that must be refused. Peers talk HTTP.
    pub fn start_tls(members: usize) -> Cluster {
        Cluster::new(members, true)
    }

    fn new(members: usize, tls: bool) -> Cluster {
        assert!(members > 0);
        let dir = TempDir::new("etcd");
        if tls {
            let d = dir.path();
            make_ca(d, "test");
            make_ca(d, "foreign");
            make_cert(
                d,
                "test",
                "server",
                "etcd",
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
            );
            make_cert(
                d,
                "test",
                "client",
                "netns-ipam",
                "extendedKeyUsage=clientAuth\n",
            );
            make_cert(
                d,
                "foreign",
                "foreign",
                "intruder",
                "extendedKeyUsage=clientAuth\n",
            );
        }
        let mut c = Cluster {
            dir,
            members: (0..members).map(|_| None).collect(),
            tls,
        };
        for i in 0..members {
            c.spawn(i, "new");
        }
        c.wait_healthy();
        c
    }

    fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    fn spawn(&mut self, i: usize, state: &str) {
        let n = self.members.len();
        let initial: Vec<String> = (0..n)
            .map(|j| format!("m{j}=http://127.0.0.1:{}", peer_port(j)))
            .collect();
        let client = format!("{}://127.0.0.1:{}", self.scheme(), client_port(i));
        let peer = format!("http://127.0.0.1:{}", peer_port(i));
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("m{i}.log")))
            .expect("open member log");
        let mut cmd = Command::new("etcd");
        cmd.arg("--name")
            .arg(format!("m{i}"))
            .arg("--data-dir")
            .arg(self.dir.path().join(format!("m{i}")))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &initial.join(",")])
            .args(["--initial-cluster-state", state])
            .args(["--initial-cluster-token", "netns-test"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        if self.tls {
            let d = self.dir.path();
            cmd.arg("--client-cert-auth")
                .arg("--trusted-ca-file")
                .arg(d.join("test-ca.pem"))
                .arg("--cert-file")
                .arg(d.join("server.pem"))
                .arg("--key-file")
                .arg(d.join("server-key.pem"));
        }
        let child = cmd
            .spawn()
            .expect("run etcd (is Debian's etcd-server installed?)");
        self.members[i] = Some(child);
    }

    /// The tail of member `i`'s log, for failure messages.
    pub fn log_tail(&self, i: usize) -> String {
        let text =
            fs::read_to_string(self.dir.path().join(format!("m{i}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// The tails of every member's log, headed by the member's name.
    pub fn log_tails(&self) -> String {
        (0..self.members.len())
            .map(|i| format!("--- m{i}.log ---\n{}\n", self.log_tail(i)))
            .collect()
    }

    /// Client URL of member `i`.
    pub fn endpoint(&self, i: usize) -> String {
        format!("{}://127.0.0.1:{}", self.scheme(), client_port(i))
    }

    /// Client URLs of every member, running or not, in member order.
    pub fn endpoints(&self) -> Vec<String> {
        (0..self.members.len()).map(|i| self.endpoint(i)).collect()
    }

    /// Whether member `i` runs.
    pub fn is_running(&self, i: usize) -> bool {
        self.members[i].is_some()
    }

    fn running(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|i| self.is_running(*i))
            .collect()
    }

    /// The CA that signed the members' and the client's certificates.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("test-ca.pem")
    }
    /// A client certificate the members accept.
    pub fn client_cert(&self) -> PathBuf {
        self.dir.path().join("client.pem")
    }
    /// Its key.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client-key.pem")
    }
    /// A client certificate from another CA, which the members refuse.
    pub fn foreign_client_cert(&self) -> PathBuf {
        self.dir.path().join("foreign.pem")
    }
    /// Its key.
    pub fn foreign_client_key(&self) -> PathBuf {
        self.dir.path().join("foreign-key.pem")
    }

    /// An etcdctl command (API 3, `--dial-timeout=2s --command-timeout=5s`,
    /// the CA and client certificate under TLS) against `endpoints`, with
    /// `args`, not yet run: for a test that wants its exit status or stdin.
    pub fn etcdctl_command(&self, endpoints: &[String], args: &[&str]) -> Command {
        let mut c = Command::new("etcdctl");
        c.env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .arg("--dial-timeout=2s")
            .arg("--command-timeout=5s");
        if self.tls {
            c.arg(format!("--cacert={}", self.ca_file().display()))
                .arg(format!("--cert={}", self.client_cert().display()))
                .arg(format!("--key={}", self.client_key().display()));
        }
        c.args(args);
        c
    }

    fn etcdctl_at(&self, endpoints: &[String], args: &[&str]) -> String {
        let o = self
            .etcdctl_command(endpoints, args)
            .output()
            .expect("run etcdctl (is Debian's etcd-client installed?)");
        assert!(
            o.status.success(),
            "etcdctl {args:?} on {endpoints:?}: {}{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            self.log_tails()
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// etcdctl (API 3, with the client certificate under TLS) against the
    /// running members; panics unless it succeeds; its stdout.
    pub fn etcdctl(&self, args: &[&str]) -> String {
        let eps: Vec<String> = self.running().iter().map(|i| self.endpoint(*i)).collect();
        self.etcdctl_at(&eps, args)
    }

    /// etcdctl against member `i` alone.
    pub fn etcdctl_on(&self, i: usize, args: &[&str]) -> String {
        self.etcdctl_at(&[self.endpoint(i)], args)
    }

    fn healthy(&self, i: usize) -> bool {
        self.etcdctl_command(&[self.endpoint(i)], &["endpoint", "health"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Wait until every running member answers a linearizable read (so
    /// there is a leader, a quorum, and the member has caught up).
    pub fn wait_healthy(&mut self) {
        let deadline = Instant::now() + READY;
        let mut pause = Duration::from_millis(20);
        for i in self.running() {
            loop {
                if let Some(Ok(Some(status))) = self.members[i].as_mut().map(Child::try_wait) {
                    panic!("etcd member m{i} exited ({status}):\n{}", self.log_tail(i));
                }
                if self.healthy(i) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "etcd member m{i} not healthy within {READY:?}:\n{}",
                    self.log_tail(i)
                );
                // Polling back-off, not synchronisation: the condition is
                // checked again.
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
        }
    }

    /// The index of the member that is the leader (asked of the running
    /// members).
    pub fn leader(&self) -> usize {
        for i in self.running() {
            let out = self.etcdctl_on(i, &["endpoint", "status", "-w", "json"]);
            let v: serde_json::Value = serde_json::from_str(&out).expect("endpoint status json");
            let st = &v[0]["Status"];
            let (me, leader) = (&st["header"]["member_id"], &st["leader"]);
            if !leader.is_null() && me == leader {
                return i;
            }
        }
        panic!("no running member says it is the leader");
    }

    /// SIGKILL member `i` and reap it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start member `i` again on its data (`--initial-cluster-state
    /// existing`) and wait until it serves linearizable reads.
    pub fn restart(&mut self, i: usize) {
        assert!(!self.is_running(i), "m{i} runs");
        self.spawn(i, "existing");
        self.wait_healthy();
    }

    /// Kill every member.
    pub fn stop_all(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }

    /// Start every stopped member on its data and wait until the cluster is
    /// healthy.
    pub fn start_all(&mut self) {
        for i in 0..self.members.len() {
            if !self.is_running(i) {
                self.spawn(i, "existing");
            }
        }
        self.wait_healthy();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_all();
    }
}
