//! The etcd harness itself (`netns_testutil::etcd`): a cluster that starts
//! healthy, survives the loss of a minority, takes a killed member back,
//! refuses requests when stopped and serves again when started, and, under
//! TLS, accepts only the client certificate from its CA.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use netns_testutil::etcd::Cluster;
use netns_testutil::{in_private_netns_lo_up, thread_netns_inode};

netns_testutil::host_only!("etcd runs on the host; it needs no VM kernel");

/// The value of `key` read (linearizably) through member `i` alone.
fn get_on(c: &Cluster, i: usize, key: &str) -> String {
    c.etcdctl_on(i, &["get", key, "--print-value-only"])
        .trim_end()
        .to_string()
}

#[test]
fn spawned_process_inherits_the_threads_netns() {
    let host = thread_netns_inode();
    in_private_netns_lo_up(|| {
        let mine = thread_netns_inode();
        assert_ne!(mine, host);
        let o = Command::new("readlink")
            .arg("/proc/self/ns/net")
            .output()
            .expect("run readlink");
        assert!(o.status.success());
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            format!("net:[{mine}]")
        );
    });
}

#[test]
fn three_members_start_healthy_and_serve_put_get() {
    in_private_netns_lo_up(|| {
        let t = Instant::now();
        let c = Cluster::start(3);
        eprintln!("Cluster::start(3): {:?}", t.elapsed());
        assert_eq!(
            c.endpoints(),
            [
                "http://127.0.0.1:2379",
                "http://127.0.0.1:2381",
                "http://127.0.0.1:2383"
            ]
        );
        assert!((0..3).all(|i| c.is_running(i)));
        assert!(c.leader() < 3);
        c.etcdctl(&["put", "/x/a", "1"]);
        c.etcdctl(&["put", "/x/b", "2"]);
        c.etcdctl(&["put", "/y", "3"]);
        assert_eq!(
            c.etcdctl(&["get", "--prefix", "/x", "--keys-only"])
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["/x/a", "/x/b"]
        );
        for i in 0..3 {
            assert_eq!(get_on(&c, i, "/x/b"), "2");
        }
        let v: serde_json::Value =
            serde_json::from_str(&c.etcdctl(&["get", "/y", "-w", "json"])).expect("json");
        assert_eq!(v["count"], 1);

        // One transaction, timed (etcdctl's process start included).
        let t = Instant::now();
        let mut child = c
            .etcdctl_command(&c.endpoints(), &["txn"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("etcdctl txn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"create(\"/t\") = \"0\"\n\nput /t created\n\nput /t again\n\n")
            .expect("write txn");
        let o = child.wait_with_output().expect("etcdctl txn");
        eprintln!("etcdctl txn: {:?}", t.elapsed());
        assert!(o.status.success());
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).lines().next(),
            Some("SUCCESS")
        );
        assert_eq!(get_on(&c, 0, "/t"), "created");
    });
}

#[test]
fn minority_killed_then_restarted_rejoins_and_catches_up() {
    in_private_netns_lo_up(|| {
        let mut c = Cluster::start(3);
        let victim = c.leader();
        c.kill(victim);
        assert!(!c.is_running(victim));
        // The two others elect a leader (polled: a write proposed during
        // the election may be dropped and then waits out etcdctl's whole
        // command timeout), then take a write.
        c.wait_healthy();
        c.etcdctl(&["put", "/after-kill", "v"]);
        let other = (victim + 1) % 3;
        assert_eq!(get_on(&c, other, "/after-kill"), "v");

        c.restart(victim);
        assert!(c.is_running(victim));
        // A linearizable read through the restarted member alone.
        assert_eq!(get_on(&c, victim, "/after-kill"), "v");
    });
}

#[test]
fn stopped_cluster_refuses_and_started_cluster_serves() {
    in_private_netns_lo_up(|| {
        let mut c = Cluster::start(3);
        c.etcdctl(&["put", "/before", "1"]);
        c.stop_all();
        assert!((0..3).all(|i| !c.is_running(i)));
        // Nothing listens: a connection is refused at once (etcdctl itself
        // only says "context deadline exceeded" after its dial timeout).
        for i in 0..3 {
            let addr = c.endpoint(i).trim_start_matches("http://").to_string();
            let e = std::net::TcpStream::connect(&addr).expect_err("a stopped member accepted");
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::ConnectionRefused,
                "{addr}: {e}"
            );
        }
        let t = Instant::now();
        let o = c
            .etcdctl_command(&c.endpoints(), &["put", "/during", "x"])
            .output()
            .expect("etcdctl");
        eprintln!("etcdctl put, cluster stopped: fails in {:?}", t.elapsed());
        assert!(
            !o.status.success(),
            "a write to a stopped cluster succeeded"
        );

        c.start_all();
        assert!((0..3).all(|i| c.is_running(i)));
        assert_eq!(get_on(&c, 1, "/before"), "1");
        assert_eq!(get_on(&c, 2, "/during"), "");
        c.etcdctl(&["put", "/after", "2"]);
        assert_eq!(get_on(&c, 0, "/after"), "2");
    });
}

/// etcdctl against `c` with the CA and, if given, a client certificate
/// other than the harness's own.
fn etcdctl_with_cert(c: &Cluster, cert: Option<(&str, &str)>) -> std::process::Output {
    let mut cmd = Command::new("etcdctl");
    cmd.env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", c.endpoint(0)))
        .arg("--dial-timeout=2s")
        .arg("--command-timeout=3s")
        .arg(format!("--cacert={}", c.ca_file().display()));
    if let Some((crt, key)) = cert {
        cmd.arg(format!("--cert={crt}")).arg(format!("--key={key}"));
    }
    cmd.args(["put", "/tls", "x"]).output().expect("etcdctl")
}

#[test]
fn tls_cluster_accepts_only_its_client_certificate() {
    in_private_netns_lo_up(|| {
        let c = Cluster::start_tls(3);
        assert!(c
            .endpoints()
            .iter()
            .all(|e| e.starts_with("https://127.0.0.1:")));
        for f in [
            c.ca_file(),
            c.client_cert(),
            c.client_key(),
            c.foreign_client_cert(),
            c.foreign_client_key(),
        ] {
            assert!(f.is_file(), "{}", f.display());
        }
        c.etcdctl(&["put", "/tls", "ok"]);
        assert_eq!(get_on(&c, 2, "/tls"), "ok");

        let crt = c.client_cert().display().to_string();
        let key = c.client_key().display().to_string();
        let good = etcdctl_with_cert(&c, Some((&crt, &key)));
        assert!(
            good.status.success(),
            "{}",
            String::from_utf8_lossy(&good.stderr)
        );

        let none = etcdctl_with_cert(&c, None);
        assert!(
            !none.status.success(),
            "a request without a client certificate succeeded"
        );

        let fcrt = c.foreign_client_cert().display().to_string();
        let fkey = c.foreign_client_key().display().to_string();
        let foreign = etcdctl_with_cert(&c, Some((&fcrt, &fkey)));
        assert!(
            !foreign.status.success(),
            "a request with the foreign CA's client certificate succeeded"
        );
        // Nothing they sent was written.
        assert_eq!(get_on(&c, 0, "/tls"), "x");
    });
}
