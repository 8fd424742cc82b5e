//! The tour passes every step and leaves nothing behind, also when a step
//! fails or it is interrupted: no namespace, mount or netns directory, and
//! no nftables table (its NAT lives in the tour's host namespace and is
//! removed by step 7, or by the cleanup when a step fails; the caller's
//! ruleset is never touched).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};

use netns_testutil::in_private_netns;
use netns_testutil::nft::ruleset;

fn tour() -> Command {
    let exe = std::env::current_exe().unwrap();
    let p: PathBuf = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/tour");
    assert!(
        p.exists(),
        "{} missing (examples are built with the tests)",
        p.display()
    );
    Command::new(p)
}

/// Run the tour to its end, output captured: its pid (which names its netns
/// directory) and its output.
fn run(cmd: &mut Command) -> (u32, Output) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child.id(), child.wait_with_output().unwrap())
}

/// The mounts under the tour's own netns directory (the tests run in
/// parallel in one mount namespace, so each counts only its own tour's).
fn mounts_of(pid: u32) -> usize {
    let dir = format!("/netns-tour-{pid}");
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.contains(&dir)))
        .count()
}

fn leftovers(pid: u32) -> bool {
    std::env::temp_dir()
        .join(format!("netns-tour-{pid}"))
        .exists()
}

#[test]
fn passes_every_step_and_cleans_up() {
    in_private_netns(|| {
        let (pid, out) = run(&mut tour());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for want in [
            "OK: TCP red -> blue at 192.168.15.2",
            "OK: TCP host -> blue at 192.168.15.2",
            "OK: TCP blue -> outside at 10.0.0.2",
            "route default via 192.168.15.5 dev veth-blue",
            "192.168.15.5/24",
            // 5: masquerade; the outside server sees the host's address.
            "outside: no route back to blue",
            "nft add element inet netns-nat masq4 '{ 192.168.15.2 comment \"masq-",
            "outside accepted from 10.0.0.1:",
            "outside saw 10.0.0.1 (the host's address)",
            // 6: the forward, from outside and, hairpinned, from red.
            // The forward is data: elements of the table's map and sets.
            "nft add element inet netns-nat ports4 '{ tcp . 8080 comment \"fwd-",
            " tour blue veth-blue\" : 192.168.15.2 . 80 }'",
            "nft add element inet netns-nat hairpin4 '{ 192.168.15.2 . 192.168.15.0/24 comment \"fwd-",
            "nft add element inet netns-nat hairpin4 '{ 192.168.15.2 . 127.0.0.0/8 comment \"fwd-",
            "nft add element inet netns-nat owners '{ ",
            "OK: TCP outside -> blue at 10.0.0.1:8080",
            "blue saw 10.0.0.2 (outside itself",
            "OK: TCP red -> blue at 192.168.15.5:8080",
            "blue saw 192.168.15.5 (the host's bridge address",
            // 7: removed, the forward's elements, then the table with the
            // last owner.
            "nft delete element inet netns-nat ports4 '{ tcp . 8080 }'",
            "nft delete element inet netns-nat hairpin4 '{ 192.168.15.2 . 192.168.15.0/24 }'",
            "nft delete element inet netns-nat owners '{ ",
            "nft delete chain inet netns-nat masq-",
            "nft delete table inet netns-nat",
            "host: 0 nftables tables left",
            "All steps passed.",
            "deleted namespace red",
            "deleted namespace host",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        // Steps 5-7 in order, each once.
        let at = |s: &str| text.find(s).unwrap_or(usize::MAX);
        assert!(
            at("== 5.") < at("== 6.") && at("== 6.") < at("== 7."),
            "{text}"
        );
        assert!(
            !text.contains("removed the"),
            "step 7 left NAT for cleanup:\n{text}"
        );
        assert_eq!(mounts_of(pid), 0, "a mount was left behind");
        assert!(!leftovers(pid));
        // The NAT lived in the tour's host namespace: the caller's own
        // ruleset (this test's namespace) was never touched.
        assert_eq!(ruleset(), Vec::<serde_json::Value>::new());
    });
}

#[test]
fn a_failing_step_after_the_nat_still_removes_it() {
    in_private_netns(|| {
        // Step 7 would remove the NAT: failing there leaves masquerades and
        // the forward for the cleanup, which removes them before the
        // namespaces.
        let (pid, out) = run(tour().env("NETNS_TOUR_FAIL", "7"));
        assert!(!out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        for want in [
            "removed the port forward of network tour container blue interface veth-blue",
            "removed the masquerade of network tour container blue interface veth-blue",
            "removed the masquerade of network tour container red interface veth-red",
            "deleted namespace host",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        let cleanup = text.find("== cleanup").unwrap();
        assert!(text[cleanup..].find("removed the") < text[cleanup..].find("deleted namespace"));
        assert!(String::from_utf8_lossy(&out.stderr).contains("step 7 failed"));
        assert_eq!(mounts_of(pid), 0, "a mount was left behind");
        assert!(!leftovers(pid));
        assert_eq!(ruleset(), Vec::<serde_json::Value>::new());
    });
}

#[test]
fn a_failing_step_still_cleans_up() {
    in_private_netns(|| {
        let (pid, out) = run(tour().env("NETNS_TOUR_FAIL", "3"));
        assert!(!out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("deleted namespace red") && text.contains("deleted namespace blue"),
            "{text}"
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("step 3 failed"));
        assert_eq!(mounts_of(pid), 0, "a mount was left behind");
        assert!(!leftovers(pid));
    });
}

/// The tour started with `NETNS_TOUR_PAUSE=step` (stdin and stdout piped)
/// and read up to its pause: the child (closing its stdin lets it go on),
/// the rest of its stdout, and what it printed up to the pause.
fn paused_tour(step: u32) -> (Child, BufReader<ChildStdout>, String) {
    let mut child = tour()
        .env("NETNS_TOUR_PAUSE", step.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let pause = format!("(paused before step {step})");
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "tour ended early:\n{seen}"
        );
        seen.push_str(&line);
        if line.starts_with(&pause) {
            break;
        }
    }
    (child, out, seen)
}

#[test]
fn an_interrupted_tour_cleans_up() {
    in_private_netns(|| {
        let (mut child, mut out, _) = paused_tour(3);
        let pid = child.id();
        // red and blue exist: their bind mounts are seen (the count works).
        assert!(mounts_of(pid) >= 2, "no mount of red and blue seen");
        // Interrupt while red and blue exist, then let it go on.
        // SAFETY: plain kill(2) of our own child.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGINT) }, 0);
        drop(child.stdin.take());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "{rest}");
        assert!(
            !rest.contains("== 3."),
            "it went on after the interrupt:\n{rest}"
        );
        assert!(
            rest.contains("deleted namespace red") && rest.contains("deleted namespace blue"),
            "{rest}"
        );
        assert_eq!(mounts_of(pid), 0, "a mount was left behind");
        assert!(!leftovers(pid));
    });
}

#[test]
fn nsip_lists_the_tours_nat_while_it_is_paused() {
    in_private_netns(|| {
        let (mut child, mut out, seen) = paused_tour(7);
        let pid = child.id();
        // What step 5 points to: nsip reads the NAT in the tour's host.
        let dir = std::env::temp_dir().join(format!("netns-tour-{pid}"));
        let nsip = tour().get_program().to_owned();
        let nsip = std::path::Path::new(&nsip).with_file_name("nsip");
        let listing = Command::new(&nsip)
            .arg("--netns-dir")
            .arg(&dir)
            .args(["-n", "host", "-j", "nat", "list"])
            .output()
            .unwrap();
        assert!(listing.status.success(), "{listing:?}");
        let j: serde_json::Value = serde_json::from_slice(&listing.stdout).unwrap();
        let mut owners: Vec<String> = j["owners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| format!("{} {}", o["owner"].as_str().unwrap(), o["kind"]))
            .collect();
        owners.sort();
        assert_eq!(
            owners,
            [
                "tour blue veth-blue \"forward\"",
                "tour blue veth-blue \"masquerade\"",
                "tour red veth-red \"masquerade\""
            ],
            "{j}"
        );
        // Each element the tour printed an `nft add element` for is in
        // nft's own listing of the table, as printed.
        let listed = Command::new(&nsip)
            .arg("--netns-dir")
            .arg(&dir)
            .args(["netns", "exec", "host", "nft", "list", "table", "inet"])
            .arg("netns-nat")
            .output()
            .unwrap();
        assert!(listed.status.success(), "{listed:?}");
        // One line per set (nft's wrapping undone), protocol numbers named
        // (nft prints numbers where /etc/protocols is missing: the VM tier).
        let listed = String::from_utf8_lossy(&listed.stdout)
            .replace(",\n", ", ")
            .replace("\t\t\t     ", "")
            .replace("{ 6 . ", "{ tcp . ")
            .replace(", 6 . ", ", tcp . ");
        let mut printed = 0;
        for l in seen.lines() {
            let Some(rest) = l.trim().strip_prefix("$ nft add element inet netns-nat ") else {
                continue;
            };
            let (set, elem) = rest.split_once(' ').unwrap();
            let elem = elem.trim_start_matches("'{ ").trim_end_matches(" }'");
            let mut in_set = false;
            let found = listed.lines().any(|t| {
                let t = t.trim();
                if t.starts_with("set ") || t.starts_with("map ") {
                    in_set = t == format!("set {set} {{") || t == format!("map {set} {{");
                }
                in_set
                    && t.starts_with("elements = { ")
                    && (t.contains(&format!("{{ {elem},"))
                        || t.contains(&format!(" {elem},"))
                        || t.ends_with(&format!(" {elem} }}")))
            });
            assert!(found, "{set} {elem:?} is not in nft's listing:\n{listed}");
            printed += 1;
        }
        // Two masquerades, the forward's map element, its two hairpin
        // elements and its marker.
        assert_eq!(printed, 6, "{seen}");
        drop(child.stdin.take());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        assert!(child.wait().unwrap().success(), "{rest}");
        assert!(rest.contains("All steps passed."), "{rest}");
        assert_eq!(mounts_of(pid), 0, "a mount was left behind");
        assert!(!leftovers(pid));
    });
}
