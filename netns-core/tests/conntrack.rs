//! Conntrack entries through netns-core's ctnetlink socket, judged by
//! `conntrack -L -o xml` (Debian's conntrack) in the same private
//! namespace. Entries are made with `conntrack -I` (IPCTNL_MSG_CT_NEW, any
//! tuple, DNAT-shaped ones included) and, in one test, by real UDP traffic
//! over `lo` with an nft rule that loads conntrack in the namespace.
//!
//! On 6.12 and later the deletes go through the kernel-side filtered
//! delete; before (the VM tier's 6.1) the kernel refuses it and the delete
//! is per entry. Each test checks that the expected path was taken.

use std::collections::BTreeSet;
use std::net::{IpAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use netns_core::{Conntrack, CtEntry, CtFilter, IpFamily, NetNs};
use netns_testutil::nft::nft;
use netns_testutil::{in_private_netns, in_private_netns_lo_up, kernel_release};

/// `conntrack ARGS...` in the calling thread's namespace, which must
/// succeed; its stdout.
fn conntrack(args: &[&str]) -> String {
    let out = Command::new("conntrack")
        .args(args)
        .output()
        .expect("run conntrack (the Debian package conntrack; .ci/install-deps installs it)");
    assert!(
        out.status.success(),
        "conntrack {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Insert an entry (`conntrack -I`): orig src:sport -> dst:dport, and the
/// reply from `reply` (a DNAT target) when given, else from dst.
fn insert(proto: &str, src: &str, sport: u16, dst: &str, dport: u16, reply: Option<(&str, u16)>) {
    let (sp, dp) = (sport.to_string(), dport.to_string());
    let mut args = vec![
        "-I", "-p", proto, "-s", src, "-d", dst, "--sport", &sp, "--dport", &dp, "-t", "300",
    ];
    if proto == "tcp" {
        args.extend(["--state", "ESTABLISHED"]);
    }
    let rp;
    let rdp;
    if let Some((rsrc, rport)) = reply {
        rp = rport.to_string();
        rdp = sport.to_string();
        args.extend([
            "--reply-src",
            rsrc,
            "--reply-dst",
            src,
            "--reply-port-src",
            &rp,
            "--reply-port-dst",
            &rdp,
        ]);
    }
    conntrack(&args);
}

/// One entry as a comparable line: the tuples and the id.
fn key(
    proto: &str,
    o: (&str, &str, Option<&str>, Option<&str>),
    r: (&str, &str, Option<&str>, Option<&str>),
    id: &str,
) -> String {
    let side = |(s, d, sp, dp): (&str, &str, Option<&str>, Option<&str>)| {
        format!("{s}:{} -> {d}:{}", sp.unwrap_or("-"), dp.unwrap_or("-"))
    };
    format!("{proto} {} | {} id={id}", side(o), side(r))
}

fn ours_key(e: &CtEntry) -> String {
    let p = |p: Option<u16>| p.map(|p| p.to_string());
    let (os, od, rs, rd) = (
        e.orig_src.to_string(),
        e.orig_dst.to_string(),
        e.reply_src.to_string(),
        e.reply_dst.to_string(),
    );
    let (osp, odp, rsp, rdp) = (
        p(e.orig_sport),
        p(e.orig_dport),
        p(e.reply_sport),
        p(e.reply_dport),
    );
    key(
        &e.proto.to_string(),
        (&os, &od, osp.as_deref(), odp.as_deref()),
        (&rs, &rd, rsp.as_deref(), rdp.as_deref()),
        &e.id.map(|i| i.to_string()).unwrap_or_default(),
    )
}

/// The text between `<tag>` and `</tag>` in `s`.
fn tag<'a>(s: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = s.find(&open)? + open.len();
    let end = s[start..].find(&format!("</{tag}>"))? + start;
    Some(&s[start..end])
}

/// The `<meta direction="DIR">` element of a flow.
fn meta<'a>(flow: &'a str, dir: &str) -> &'a str {
    let open = format!("<meta direction=\"{dir}\">");
    let start = flow.find(&open).expect("a meta element") + open.len();
    let end = flow[start..].find("</meta>").expect("its end") + start;
    &flow[start..end]
}

/// Every entry of `family` as `conntrack -L -f ipv4|ipv6 -o xml` shows it.
fn theirs(family: IpFamily) -> BTreeSet<String> {
    let f = match family {
        IpFamily::V4 => "ipv4",
        IpFamily::V6 => "ipv6",
    };
    let xml = conntrack(&["-L", "-f", f, "-o", "xml"]);
    xml.split("<flow>")
        .skip(1)
        .map(|flow| {
            let side = |dir| {
                let m = meta(flow, dir);
                (
                    tag(m, "src").unwrap(),
                    tag(m, "dst").unwrap(),
                    tag(m, "sport"),
                    tag(m, "dport"),
                )
            };
            let o = meta(flow, "original");
            let proto_at = o.find("<layer4 protonum=\"").expect("layer4") + 18;
            let proto = &o[proto_at..proto_at + o[proto_at..].find('"').unwrap()];
            let id = tag(meta(flow, "independent"), "id").expect("an id");
            key(proto, side("original"), side("reply"), id)
        })
        .collect()
}

fn ours(ct: &Conntrack, family: IpFamily) -> BTreeSet<String> {
    ct.list(family)
        .expect("list")
        .iter()
        .map(ours_key)
        .collect()
}

/// Whether this kernel has the filtered delete (6.12 and later).
fn kernel_filters_deletes() -> bool {
    let r = kernel_release();
    let mut it = r
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<u32>().ok());
    let (major, minor) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (major, minor) >= (6, 12)
}

/// After a delete that found entries: the path the kernel allowed.
fn assert_path(ct: &Conntrack) {
    assert_eq!(
        ct.uses_kernel_filtered_delete(),
        kernel_filters_deletes(),
        "kernel {}: the kernel-side filtered delete is used exactly from 6.12 on",
        kernel_release()
    );
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The listing minus the entries for which `gone` is true.
fn without(before: &BTreeSet<String>, gone: impl Fn(&str) -> bool) -> BTreeSet<String> {
    before.iter().filter(|k| !gone(k)).cloned().collect()
}

#[test]
fn list_matches_the_conntrack_listing() {
    in_private_netns(|| {
        let ct = Conntrack::new().expect("a netfilter socket");
        assert!(ct.list(IpFamily::V4).expect("list").is_empty());
        insert("udp", "10.0.0.1", 1111, "10.0.0.2", 53, None);
        insert(
            "tcp",
            "10.0.0.1",
            40000,
            "10.0.0.100",
            8080,
            Some(("10.1.0.9", 80)),
        );
        conntrack(&[
            "-I",
            "-p",
            "icmp",
            "-s",
            "10.0.0.1",
            "-d",
            "10.0.0.2",
            "--icmp-type",
            "8",
            "--icmp-code",
            "0",
            "--icmp-id",
            "77",
            "-t",
            "300",
        ]);
        insert("udp", "fd00::1", 5000, "fd00::2", 53, None);
        let v4 = ours(&ct, IpFamily::V4);
        assert_eq!(v4.len(), 3, "{v4:#?}");
        assert_eq!(v4, theirs(IpFamily::V4));
        let v6 = ours(&ct, IpFamily::V6);
        assert_eq!(v6.len(), 1, "{v6:#?}");
        assert_eq!(v6, theirs(IpFamily::V6));

        let e = ct
            .list(IpFamily::V4)
            .unwrap()
            .into_iter()
            .find(|e| e.proto == 6)
            .unwrap();
        assert_eq!(
            (e.orig_dst, e.orig_dport, e.reply_src, e.reply_sport),
            (ip("10.0.0.100"), Some(8080), ip("10.1.0.9"), Some(80))
        );
        assert!(e.id.is_some() && e.zone.is_none(), "{e}");
        // The same through a handle opened from another namespace.
        let here = NetNs::current().expect("this namespace");
        std::thread::scope(|s| {
            s.spawn(|| {
                let other = Conntrack::new_in(&here).expect("new_in");
                assert_eq!(ours(&other, IpFamily::V4), v4);
            });
        });
    });
}

#[test]
fn delete_by_udp_orig_dport_removes_exactly_those_entries() {
    in_private_netns(|| {
        let ct = Conntrack::new().expect("a netfilter socket");
        insert("udp", "10.0.0.1", 1111, "10.0.0.2", 5353, None);
        insert(
            "udp",
            "10.0.0.7",
            2222,
            "10.0.0.100",
            5353,
            Some(("10.1.0.9", 53)),
        );
        insert("udp", "10.0.0.1", 5353, "10.0.0.2", 53, None); // source port 5353: stays
        insert("udp", "10.0.0.1", 1111, "10.0.0.2", 5354, None);
        insert("tcp", "10.0.0.1", 1111, "10.0.0.2", 5353, None); // TCP: stays
        insert("udp", "fd00::1", 1111, "fd00::2", 5353, None); // IPv6: stays
        let before = theirs(IpFamily::V4);
        let v6 = theirs(IpFamily::V6);
        assert_eq!(before.len(), 5);
        assert_eq!(ours(&ct, IpFamily::V4), before);

        let n = ct
            .delete(&CtFilter::new(IpFamily::V4).proto(17).orig_dport(5353))
            .expect("delete UDP to port 5353");
        assert_eq!(n, 2);
        assert_path(&ct);
        let after = theirs(IpFamily::V4);
        assert_eq!(
            after,
            without(&before, |k| k.starts_with("17 ") && k.contains(":5353 | "))
        );
        assert_eq!(after.len(), 3);
        assert_eq!(theirs(IpFamily::V6), v6, "the other family is untouched");
        assert_eq!(ours(&ct, IpFamily::V4), after);
    });
}

#[test]
fn delete_by_reply_src_catches_the_entries_dnated_to_the_pod() {
    in_private_netns(|| {
        let ct = Conntrack::new().expect("a netfilter socket");
        // To the host port, DNATed to the pod; straight to the pod; from the
        // pod (its reply comes from elsewhere: stays); unrelated.
        insert(
            "tcp",
            "10.0.0.1",
            40000,
            "10.0.0.100",
            8080,
            Some(("10.1.0.9", 80)),
        );
        insert("udp", "10.0.0.1", 1111, "10.1.0.9", 53, None);
        insert("udp", "10.1.0.9", 3333, "10.0.0.2", 53, None);
        insert("udp", "10.0.0.1", 1111, "10.0.0.2", 53, None);
        let before = theirs(IpFamily::V4);
        assert_eq!(before.len(), 4);

        let n = ct
            .delete(&CtFilter::new(IpFamily::V4).reply_src(ip("10.1.0.9")))
            .expect("delete by reply source");
        assert_eq!(n, 2);
        assert_path(&ct);
        let after = theirs(IpFamily::V4);
        assert_eq!(after, without(&before, |k| k.contains("| 10.1.0.9:")));
        assert_eq!(after.len(), 2);
    });
}

#[test]
fn delete_by_orig_dst_and_by_several_criteria() {
    in_private_netns(|| {
        let ct = Conntrack::new().expect("a netfilter socket");
        insert("udp", "10.0.0.1", 1111, "10.0.0.100", 53, None);
        insert("tcp", "10.0.0.1", 1111, "10.0.0.100", 80, None);
        insert("udp", "10.0.0.1", 1111, "10.0.0.101", 53, None);
        insert("udp", "10.0.0.3", 1111, "10.0.0.100", 54, None);
        let before = theirs(IpFamily::V4);

        // All three criteria at once: only the UDP entry to .100 port 53.
        let f = CtFilter::new(IpFamily::V4)
            .proto(17)
            .orig_dport(53)
            .orig_dst(ip("10.0.0.100"));
        assert_eq!(ct.delete(&f).expect("delete"), 1);
        assert_path(&ct);
        let mid = theirs(IpFamily::V4);
        assert_eq!(
            mid,
            without(&before, |k| k
                .starts_with("17 10.0.0.1:1111 -> 10.0.0.100:53 "))
        );

        let n = ct
            .delete(&CtFilter::new(IpFamily::V4).orig_dst(ip("10.0.0.100")))
            .expect("delete by original destination");
        assert_eq!(n, 2);
        assert_eq!(
            theirs(IpFamily::V4),
            without(&mid, |k| k.contains("-> 10.0.0.100:"))
        );
        assert_eq!(theirs(IpFamily::V4).len(), 1);
    });
}

#[test]
fn ipv6_entries_are_deleted_by_port_and_by_reply_source() {
    in_private_netns(|| {
        let ct = Conntrack::new().expect("a netfilter socket");
        insert("udp", "fd00::1", 1111, "fd00::2", 5353, None);
        insert(
            "udp",
            "fd00::1",
            2222,
            "fd00::100",
            5353,
            Some(("fd00:1::9", 53)),
        );
        insert("tcp", "fd00::1", 3333, "fd00:1::9", 443, None);
        insert("udp", "fd00::1", 1111, "fd00::2", 53, None);
        insert("udp", "10.0.0.1", 1111, "10.0.0.2", 5353, None); // IPv4: stays
        let v4 = theirs(IpFamily::V4);
        let before = theirs(IpFamily::V6);
        assert_eq!(before.len(), 4);
        assert_eq!(ours(&ct, IpFamily::V6), before);

        let n = ct
            .delete(&CtFilter::new(IpFamily::V6).proto(17).orig_dport(5353))
            .expect("delete UDP to 5353");
        assert_eq!(n, 2);
        assert_path(&ct);
        let mid = theirs(IpFamily::V6);
        assert_eq!(
            mid,
            without(&before, |k| k.starts_with("17 ") && k.contains(":5353 | "))
        );

        let n = ct
            .delete(&CtFilter::new(IpFamily::V6).reply_src(ip("fd00:1::9")))
            .expect("delete by reply source");
        assert_eq!(n, 1);
        assert_eq!(
            theirs(IpFamily::V6),
            without(&mid, |k| k.contains("| fd00:1::9:"))
        );
        assert_eq!(theirs(IpFamily::V6).len(), 1);
        assert_eq!(theirs(IpFamily::V4), v4, "the other family is untouched");
    });
}

#[test]
fn a_filter_without_criterion_is_refused_and_nothing_is_deleted() {
    in_private_netns(|| {
        let ct = Conntrack::new().expect("a netfilter socket");
        insert("udp", "10.0.0.1", 1111, "10.0.0.2", 53, None);
        insert("udp", "fd00::1", 1111, "fd00::2", 53, None);
        let (v4, v6) = (theirs(IpFamily::V4), theirs(IpFamily::V6));
        for f in [
            CtFilter::new(IpFamily::V4),
            CtFilter::new(IpFamily::V6),
            CtFilter::new(IpFamily::V4).orig_dport(53), // a port without protocol
            CtFilter::new(IpFamily::V4).proto(132).orig_dport(53), // SCTP ports do not filter
            CtFilter::new(IpFamily::V4).reply_src(ip("fd00::2")), // the other family
        ] {
            let e = ct.delete(&f).expect_err("a refused filter");
            assert!(e.is_invalid_argument(), "{f}: {e}");
            assert_eq!(e.errno(), Some(libc::EINVAL));
            assert_eq!(e.op(), "conntrack_delete");
            assert_eq!(e.object(), f.to_string());
        }
        let e = ct.delete(&CtFilter::new(IpFamily::V4)).unwrap_err();
        assert!(e.to_string().contains("criterion"), "{e}");
        assert_eq!((theirs(IpFamily::V4), theirs(IpFamily::V6)), (v4, v6));
        assert!(ct.uses_kernel_filtered_delete(), "nothing was sent");
    });
}

#[test]
fn deleting_when_nothing_matches_returns_zero() {
    in_private_netns(|| {
        let ct = Conntrack::new().expect("a netfilter socket");
        let f = CtFilter::new(IpFamily::V4).proto(17).orig_dport(9);
        assert_eq!(ct.delete(&f).expect("an empty table"), 0);
        insert("udp", "10.0.0.1", 1111, "10.0.0.2", 53, None);
        insert("tcp", "10.0.0.1", 1111, "10.0.0.2", 9, None);
        let before = theirs(IpFamily::V4);
        assert_eq!(ct.delete(&f).expect("nothing matches"), 0);
        assert_eq!(
            ct.delete(&CtFilter::new(IpFamily::V6).proto(17))
                .expect("no IPv6"),
            0
        );
        assert_eq!(theirs(IpFamily::V4), before);
    });
}

#[test]
fn real_udp_traffic_is_tracked_listed_and_deleted() {
    in_private_netns_lo_up(|| {
        // Any ct expression makes the kernel track this namespace's traffic.
        nft(&["add", "table", "inet", "ct-test"]);
        nft(&[
            "add",
            "chain",
            "inet",
            "ct-test",
            "out",
            "{ type filter hook output priority 0; }",
        ]);
        nft(&[
            "add", "rule", "inet", "ct-test", "out", "ct", "state", "new", "counter",
        ]);

        let ct = Conntrack::new().expect("a netfilter socket");
        let mut flows = Vec::new();
        for (local, family) in [("127.0.0.1", IpFamily::V4), ("::1", IpFamily::V6)] {
            let rx = UdpSocket::bind((local, 0)).expect("bind the receiver");
            rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            for _ in 0..2 {
                let tx = UdpSocket::bind((local, 0)).expect("bind a sender");
                tx.send_to(b"ping", rx.local_addr().unwrap()).expect("send");
                let mut buf = [0u8; 8];
                // The entry is confirmed on the way out, before send_to
                // returns; receiving proves the datagram went through.
                assert_eq!(rx.recv(&mut buf).expect("receive"), 4);
                flows.push((
                    family,
                    tx.local_addr().unwrap().port(),
                    rx.local_addr().unwrap().port(),
                ));
            }
        }
        for family in [IpFamily::V4, IpFamily::V6] {
            let listed = ct.list(family).expect("list");
            assert_eq!(ours(&ct, family), theirs(family));
            let mine: Vec<_> = flows.iter().filter(|f| f.0 == family).collect();
            for (_, sport, dport) in &mine {
                assert!(
                    listed.iter().any(|e| e.proto == 17
                        && e.orig_sport == Some(*sport)
                        && e.orig_dport == Some(*dport)),
                    "{family} flow {sport} -> {dport} in {listed:#?}"
                );
            }
            let dport = mine[0].2;
            let n = ct
                .delete(&CtFilter::new(family).proto(17).orig_dport(dport))
                .expect("delete the receiver's flows");
            assert_eq!(n, 2, "{family}");
            assert_path(&ct);
            assert!(
                !ct.list(family)
                    .unwrap()
                    .iter()
                    .any(|e| e.orig_dport == Some(dport)),
                "{family}"
            );
            assert!(!theirs(family)
                .iter()
                .any(|k| k.contains(&format!(":{dport} | "))));
        }
    });
}
