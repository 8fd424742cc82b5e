//! Arbitrary bytes as the whole CNI environment and stdin, through
//! netns-cni's skeleton with the variables handed over as data (no
//! process environment is touched). The input is one byte saying which
//! variables are set (bit i: the i-th of CNI_COMMAND, CNI_CONTAINERID,
//! CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH, CNI_NETNS_OVERRIDE), then
//! their values and stdin, NUL-separated, in that order (missing parts
//! empty; a value that is not UTF-8 stays as it is). When the skeleton
//! calls the plugin, what it hands over must be what skel accepts and what
//! the input said: a known command, a container id and an interface name
//! skel's rules allow for ADD/DEL/CHECK, the variables unchanged, CNI_PATH
//! split without empty entries. The exit status is 0 or 1; stdout is empty
//! or one JSON document (a result, VERSION's answer, or an error object
//! with a code). The plugin works in no namespace, so CNI_NETNS is never
//! opened. Run: `cargo fuzz run cni_env` (from fuzz/); replayed by
//! examples/tests/fuzz_seeds.rs.
use std::cell::RefCell;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use netns_cni::skel::{validate_ifname, Command};
use netns_cni::{CmdArgs, CniArgs, CniResult, Error, Plugin};

/// The variables, in the order of the input's presence byte.
const VARS: [&str; 7] = [
    "CNI_COMMAND",
    "CNI_CONTAINERID",
    "CNI_NETNS",
    "CNI_IFNAME",
    "CNI_ARGS",
    "CNI_PATH",
    "CNI_NETNS_OVERRIDE",
];

/// Records what the skeleton handed over.
struct Record(RefCell<Option<CmdArgs>>);

impl Record {
    fn seen(&self, args: &CmdArgs) {
        let _ = args.cni_args(CniArgs::K8S_KEYS);
        let _ = args.cni_args(&[]);
        let _ = args.prev_result();
        let _ = args.valid_attachments();
        *self.0.borrow_mut() = Some(args.clone());
    }
}

impl Plugin for Record {
    fn about(&self) -> String {
        "fuzz".into()
    }
    fn uses_netns(&self) -> bool {
        false
    }
    fn add(&self, args: &CmdArgs) -> Result<CniResult, Error> {
        self.seen(args);
        // One address: a result without any cannot be written as 0.1.0 or
        // 0.2.0 (Go's "cannot convert: no valid IP addresses"), and this
        // plugin must succeed in every version.
        let one = br#"{"cniVersion":"1.1.0","ips":[{"address":"10.0.0.2/24"}]}"#;
        Ok(CniResult::parse(one, "1.1.0").expect("a valid result"))
    }
    fn del(&self, args: &CmdArgs) -> Result<(), Error> {
        self.seen(args);
        Ok(())
    }
    fn check(&self, args: &CmdArgs) -> Result<(), Error> {
        self.seen(args);
        Ok(())
    }
    fn gc(&self, args: &CmdArgs) -> Result<(), Error> {
        self.seen(args);
        Ok(())
    }
    fn status(&self, args: &CmdArgs) -> Result<(), Error> {
        self.seen(args);
        Ok(())
    }
}

/// skel's `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`.
fn valid_name(n: &str) -> bool {
    let mut b = n.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
}

/// One input. Panics on a finding.
pub fn run(data: &[u8]) {
    let (present, rest) = match data.split_first() {
        Some((&p, rest)) => (p, rest),
        None => (0, data),
    };
    let mut parts = rest.splitn(VARS.len() + 1, |&b| b == 0);
    let values: Vec<Vec<u8>> = (0..VARS.len())
        .map(|_| parts.next().unwrap_or_default().to_vec())
        .collect();
    let stdin = parts.next().unwrap_or_default().to_vec();
    let given = |k: &str| -> Option<&[u8]> {
        let i = VARS.iter().position(|v| *v == k)?;
        (present & (1 << i) != 0).then(|| values[i].as_slice())
    };
    let get = |k: &str| given(k).map(|v| OsString::from_vec(v.to_vec()));
    let text = |k: &str| {
        given(k)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };

    let plugin = Record(RefCell::new(None));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let rc = netns_cni::run_with(&plugin, &get, &mut &stdin[..], &mut out, &mut err);
    assert!(rc == 0 || rc == 1, "exit status {rc}");
    if !out.is_empty() {
        let v: serde_json::Value =
            serde_json::from_slice(&out).expect("stdout is one JSON document");
        if rc == 1 {
            assert!(v["code"].is_u64(), "an error object: {v}");
        }
    }

    let Some(args) = plugin.0.into_inner() else {
        return;
    };
    assert_eq!(
        rc,
        0,
        "the plugin succeeded: {}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(args.command.as_str(), text("CNI_COMMAND"));
    assert_ne!(args.command, Command::Version, "VERSION reached the plugin");
    if matches!(args.command, Command::Add | Command::Del | Command::Check) {
        assert!(valid_name(&args.container_id), "{:?}", args.container_id);
        assert!(validate_ifname(&args.ifname).is_ok(), "{:?}", args.ifname);
        assert!(!args.path.is_empty(), "CNI_PATH is required");
    }
    if matches!(args.command, Command::Add | Command::Check) {
        assert!(!args.netns.is_empty(), "CNI_NETNS is required");
    }
    assert_eq!(args.container_id, text("CNI_CONTAINERID"));
    assert_eq!(args.netns, text("CNI_NETNS"));
    assert_eq!(args.ifname, text("CNI_IFNAME"));
    assert_eq!(args.args, text("CNI_ARGS"));
    assert_eq!(args.path, text("CNI_PATH"));
    let over = text("CNI_NETNS_OVERRIDE");
    assert_eq!(
        args.netns_override,
        over == "1" || over.eq_ignore_ascii_case("true")
    );
    let dirs = args.path_dirs();
    assert!(dirs.iter().all(|d| !d.as_os_str().is_empty()));
    assert_eq!(
        dirs.len(),
        args.path.split(':').filter(|d| !d.is_empty()).count()
    );
    assert!(!args.conf.name.is_empty());
    assert_eq!(args.stdin, stdin);
}
