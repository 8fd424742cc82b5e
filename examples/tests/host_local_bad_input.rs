//! Bad input: each is a clear CNI error (code and a message naming the
//! offending value), from both plugins alike, and the data directory is left
//! byte for byte as it was.

netns_testutil::host_only!(
    "needs the reference plugin /usr/lib/cni/host-local, which the VM image lacks"
);

mod host_local_common;

use host_local_common::*;

fn conf(ipam: &str) -> String {
    format!(r#"{{"cniVersion":"1.0.0","name":"net","ipam":{{"dataDir":"@DIR@",{ipam}}}}}"#)
}

/// Set up a data dir holding one reservation (made by `bin` itself), run
/// `bad` through `bin`, check the error and that nothing changed.
fn rejected(bin: &std::path::Path, bad: &Call, code: u64, needle: &str) -> Out {
    let d = TempDir::new("bad");
    let good = conf(r#""subnet":"10.30.0.0/24""#).replace("@DIR@", &d.s());
    assert!(run(bin, &Call::new("ADD", "keep", &good)).ok());
    let before = tree(d.path());
    let call = Call {
        conf: bad.conf.replace("@DIR@", &d.s()),
        ..bad.clone()
    };
    let out = run(bin, &call);
    assert_eq!(
        out.rc,
        1,
        "{}: expected failure, got {}",
        bin.display(),
        out.stdout
    );
    assert_eq!(out.code(), Some(code), "{}: {}", bin.display(), out.stdout);
    assert!(
        out.msg().contains(needle),
        "{}: message {:?} does not name {needle:?}",
        bin.display(),
        out.msg()
    );
    assert_eq!(
        before,
        tree(d.path()),
        "{}: data dir changed",
        bin.display()
    );
    out
}

/// Both plugins reject `bad` with `code` and a message containing `needle`.
fn both(bad: Call, code: u64, needle: &str) {
    let a = rejected(&host_local(), &bad, code, needle);
    let b = rejected(&plugin(), &bad, code, needle);
    if code == 999 {
        assert_eq!(a.msg(), b.msg());
    }
}

#[test]
fn malformed_json() {
    both(
        Call::new(
            "ADD",
            "c1",
            r#"{"cniVersion":"1.0.0","name":"net","ipam":{"#,
        ),
        6,
        "error unmarshall network config",
    );
    both(
        Call::new(
            "DEL",
            "c1",
            r#"{"cniVersion":"1.0.0","name":"net","ipam":{"subnet":5}}"#,
        ),
        999,
        "",
    );
}

#[test]
fn unknown_cni_args_are_rejected_unless_ignored() {
    both(
        Call::new("ADD", "c1", &conf(r#""subnet":"10.30.0.0/24""#)).args("FOO=bar"),
        999,
        "FOO=bar",
    );
    both(
        Call::new("ADD", "c1", &conf(r#""subnet":"10.30.0.0/24""#)).args("IP=10.30.0.x"),
        999,
        "10.30.0.x",
    );
}

#[test]
fn subnet_with_host_bits() {
    both(
        Call::new("ADD", "c1", &conf(r#""subnet":"10.31.0.1/24""#)),
        999,
        "Network has host bits set. For a subnet mask of length 24 the network address is 10.31.0.0",
    );
}

#[test]
fn ipv4_slash_31_and_ipv6_slash_127() {
    both(
        Call::new("ADD", "c1", &conf(r#""subnet":"10.32.0.0/31""#)),
        999,
        "10.32.0.0/31 too small",
    );
    both(
        Call::new("ADD", "c1", &conf(r#""subnet":"fd00:32::/127""#)),
        999,
        "fd00:32::/127 too small",
    );
}

#[test]
fn overlapping_sets_and_ranges() {
    both(
        Call::new(
            "ADD",
            "c1",
            &conf(r#""ranges":[[{"subnet":"10.33.0.0/24"}],[{"subnet":"10.33.0.128/25"}]]"#),
        ),
        999,
        "range set 0 overlaps with 1",
    );
    both(
        Call::new(
            "ADD",
            "c1",
            &conf(r#""ranges":[[{"subnet":"10.33.0.0/24"},{"subnet":"10.33.0.0/25"}]]"#),
        ),
        999,
        "10.33.0.1-10.33.0.126 overlap",
    );
    both(
        Call::new(
            "ADD",
            "c1",
            &conf(r#""ranges":[[{"subnet":"10.33.0.0/24"},{"subnet":"fd00::/64"}]]"#),
        ),
        999,
        "mixed address families",
    );
}

#[test]
fn range_bounds_outside_the_subnet() {
    both(
        Call::new(
            "ADD",
            "c1",
            &conf(r#""subnet":"10.34.0.0/24","rangeStart":"10.34.1.5""#),
        ),
        999,
        "RangeStart 10.34.1.5 not in network 10.34.0.0/24",
    );
    both(
        Call::new(
            "ADD",
            "c1",
            &conf(r#""subnet":"10.34.0.0/24","rangeStart":"10.34.0.9","rangeEnd":"10.34.0.5""#),
        ),
        999,
        "RangeStart 10.34.0.9 not in network 10.34.0.0/24",
    );
    both(
        Call::new(
            "ADD",
            "c1",
            &conf(r#""subnet":"10.34.0.0/24","rangeStart":"10.34.0.2","rangeEnd":"10.35.0.1""#),
        ),
        999,
        "RangeEnd 10.35.0.1 not in network 10.34.0.0/24",
    );
    both(
        Call::new(
            "ADD",
            "c1",
            &conf(r#""subnet":"10.34.0.0/24","gateway":"bad""#),
        ),
        999,
        "invalid IP address: bad",
    );
    both(
        Call::new("ADD", "c1", &conf(r#""subnet":"10.34.0.0""#)),
        999,
        "invalid CIDR address: 10.34.0.0",
    );
}

/// host-local accepts rangeStart = broadcast with a default rangeEnd and then
/// allocates the broadcast address and walks out of the subnet; we reject it.
#[test]
fn range_start_after_default_end_is_rejected_by_us() {
    let bad = Call::new(
        "ADD",
        "c1",
        &conf(r#""subnet":"10.35.0.0/24","rangeStart":"10.35.0.255""#),
    );
    rejected(
        &plugin(),
        &bad,
        999,
        "RangeStart 10.35.0.255 is after RangeEnd 10.35.0.254",
    );
    // The reference really does hand out the broadcast address:
    let d = TempDir::new("bcast");
    let out = run(
        &host_local(),
        &Call {
            conf: bad.conf.replace("@DIR@", &d.s()),
            ..bad.clone()
        },
    );
    assert_eq!(out.ips(), ["10.35.0.255/24"]);
}

#[test]
fn missing_ipam_and_no_ranges() {
    both(
        Call::new("ADD", "c1", r#"{"cniVersion":"1.0.0","name":"net"}"#),
        999,
        "IPAM config missing 'ipam' key",
    );
    both(
        Call::new("ADD", "c1", &conf(r#""type":"x""#)),
        999,
        "no IP ranges specified",
    );
}

/// The data directory cannot be written: run as `nobody` against a root-owned
/// directory (or, when not root, a read-only one).
#[test]
fn unwritable_data_dir() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let exe_dir = TempDir::new("exe");
    for bin in [host_local(), plugin()] {
        // `nobody` must be able to run the binary wherever the checkout is:
        // run a copy from a world-readable temp dir.
        let bin = if root {
            use std::os::unix::fs::PermissionsExt;
            let copy = exe_dir.path().join(bin.file_name().unwrap());
            std::fs::copy(&bin, &copy).unwrap();
            std::fs::set_permissions(exe_dir.path(), std::fs::Permissions::from_mode(0o755))
                .unwrap();
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
            copy
        } else {
            bin
        };
        let d = TempDir::new("ro");
        let c = conf(r#""subnet":"10.36.0.0/24""#).replace("@DIR@", &d.s());
        assert!(run(&bin, &Call::new("ADD", "keep", &c)).ok());
        let mut bad = Call::new("ADD", "c1", &c);
        if root {
            bad.uid = Some(65534);
        } else {
            use std::os::unix::fs::PermissionsExt;
            for p in [d.path().to_path_buf(), d.path().join("net")] {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o555)).unwrap();
            }
        }
        let before = tree(d.path());
        let out = run(&bin, &bad);
        assert_eq!(out.rc, 1, "{}: {}", bin.display(), out.stdout);
        assert_eq!(out.code(), Some(999));
        assert!(
            out.msg().contains("permission denied"),
            "{}: {}",
            bin.display(),
            out.msg()
        );
        assert_eq!(before, tree(d.path()));
        if !root {
            use std::os::unix::fs::PermissionsExt;
            for p in [d.path().to_path_buf(), d.path().join("net")] {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
    }
}

/// The cursor cannot be written (here: a directory stands in its place).
/// host-local leaks the reservation file it just created; we remove it.
#[test]
fn failed_cursor_write_leaks_nothing() {
    for (bin, leaks) in [(host_local(), true), (plugin(), false)] {
        let d = TempDir::new("cursor");
        let c = conf(r#""subnet":"10.37.0.0/24""#).replace("@DIR@", &d.s());
        std::fs::create_dir_all(d.path().join("net/last_reserved_ip.0")).unwrap();
        let out = run(&bin, &Call::new("ADD", "c1", &c));
        assert_eq!(out.rc, 1, "{}: {}", bin.display(), out.stdout);
        assert_eq!(out.code(), Some(999));
        assert!(out.msg().contains("last_reserved_ip.0"), "{}", out.msg());
        assert_eq!(
            d.path().join("net/10.37.0.2").exists(),
            leaks,
            "{}: reservation file after a failed cursor write",
            bin.display()
        );
    }
}

#[test]
fn environment_that_is_not_utf8_is_refused_not_taken_for_absent() {
    let good = conf(r#""subnet":"10.30.0.0/24""#);
    // An unknown command: host-local says code 4 too.
    both(
        Call::new("ADD", "c1", &good).raw_env("CNI_COMMAND", b"AD\xffD"),
        4,
        "",
    );
    // The others: host-local takes the bytes as they are; the plugin names
    // the variable instead of ignoring it (CNI_ARGS: IP= would be dropped and
    // another address handed out).
    for (var, value) in [
        ("CNI_ARGS", &b"IgnoreUnknown=1;IP=10.30.0.9;X=\xff"[..]),
        ("CNI_CONTAINERID", &b"c\xff1"[..]),
        ("CNI_IFNAME", &b"eth\xff"[..]),
        ("CNI_NETNS", &b"/run/netns/\xff"[..]),
    ] {
        let out = rejected(
            &plugin(),
            &Call::new("ADD", "c1", &good).raw_env(var, value),
            4,
            var,
        );
        assert!(out.msg().contains("not valid UTF-8"), "{}", out.msg());
    }
}

#[test]
fn resolv_conf_is_read_with_a_bound_and_as_bytes() {
    // /dev/zero: refused at once (host-local would read until memory ran
    // out), nothing changed.
    let out = rejected(
        &plugin(),
        &Call::new(
            "ADD",
            "c1",
            &conf(r#""subnet":"10.30.0.0/24","resolvConf":"/dev/zero""#),
        )
        .bounded(),
        999,
        "not a regular file",
    );
    assert!(out.msg().contains("/dev/zero"), "{}", out.msg());
    // A FIFO: not opened for reading with a block.
    let d = TempDir::new("resolv");
    let fifo = d.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path alive for the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    rejected(
        &plugin(),
        &Call::new(
            "ADD",
            "c1",
            &conf(&format!(
                r#""subnet":"10.30.0.0/24","resolvConf":"{}""#,
                fifo.display()
            )),
        )
        .bounded(),
        999,
        "not a regular file",
    );
    // A byte that is not UTF-8 in a comment: both plugins succeed alike.
    let rc = d.path().join("resolv.conf");
    std::fs::write(
        &rc,
        b"# caf\xe9 \xff\nnameserver 10.0.0.53\nsearch a.example b.example\n",
    )
    .unwrap();
    let c = conf(&format!(
        r#""subnet":"10.30.0.0/24","resolvConf":"{}""#,
        rc.display()
    ));
    let mut results = Vec::new();
    for bin in [host_local(), plugin()] {
        let data = TempDir::new("resolv-data");
        let out = run(
            &bin,
            &Call::new("ADD", "c1", &c.replace("@DIR@", &data.s())),
        );
        assert!(out.ok(), "{}: {}", bin.display(), out.stdout);
        results.push(out.json.unwrap()["dns"].clone());
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[1]["nameservers"], serde_json::json!(["10.0.0.53"]));
}

#[test]
fn planted_entries_in_the_data_directory_neither_hang_nor_redirect_the_plugin() {
    let d = TempDir::new("planted");
    let net = d.path().join("net");
    std::fs::create_dir_all(&net).unwrap();
    let victim = d.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, net.join(".last_reserved_ip.0.tmp")).unwrap();
    let fifo = std::ffi::CString::new(net.join("10.30.0.2").to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path alive for the call.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let c = conf(r#""subnet":"10.30.0.0/24""#).replace("@DIR@", &d.s());
    let out = run(&plugin(), &Call::new("ADD", "c1", &c).bounded());
    assert!(out.ok(), "{}", out.stdout);
    assert_eq!(out.ips(), vec!["10.30.0.3/24"]);
    let out = run(&plugin(), &Call::new("DEL", "c1", &c).bounded());
    assert!(out.ok(), "{}", out.stdout);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(net.join("last_reserved_ip.0"))
        .unwrap()
        .is_file());
}

#[test]
fn deep_nesting_and_bytes_that_are_not_utf8_are_read_as_host_local_reads_them() {
    // 200 levels (serde_json alone stops at 128) in a key nobody reads, a
    // string with a byte that is not UTF-8: both plugins allocate alike.
    let nested = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let c = format!(
        r#"{{"cniVersion":"1.0.0","name":"net","x":{nested},"y":"caf@E9@","ipam":{{"dataDir":"@DIR@","subnet":"10.30.0.0/24"}}}}"#
    );
    let mut results = Vec::new();
    for bin in [host_local(), plugin()] {
        let d = TempDir::new("deep");
        let text = c.replace("@DIR@", &d.s());
        // "café" with its é as a lone Latin-1 byte 0xe9: not UTF-8.
        let (head, tail) = text.split_once("@E9@").unwrap();
        let conf = [head.as_bytes(), &[0xe9], tail.as_bytes()].concat();
        let out = run_bytes(&bin, &Call::new("ADD", "c1", ""), &conf);
        assert!(out.ok(), "{}: {}", bin.display(), out.stdout);
        results.push(comparable(&out));
    }
    assert_eq!(results[0], results[1]);
    // Go's limit: 10,000 levels in all; one more is refused by both alike.
    let too_deep = format!(
        r#"{{"cniVersion":"1.0.0","name":"net","x":{}{},"ipam":{{"dataDir":"@DIR@","subnet":"10.30.0.0/24"}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    both(
        Call::new("ADD", "c1", &too_deep),
        6,
        "invalid character '[' exceeded max depth",
    );
}
