//! Arbitrary bytes as a CNI plugin's untrusted input, through netns-cni's
//! skeleton: `COMMAND \0 CNI_ARGS \0 STDIN` (missing parts empty). The
//! plugin echoes what it was given (its prevResult, or a result built from
//! the config), so the whole path runs: environment checks, Go-rule JSON,
//! version negotiation, prevResult reading, result writing in the config's
//! version, the error object. Whatever happens, the exit status is 0 or 1
//! and stdout is empty or one JSON document; a result printed is read back
//! the same. Run: `cargo fuzz run cni_protocol` (from fuzz/); replayed by
//! examples/tests/fuzz_seeds.rs.
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use netns_cni::{CmdArgs, CniArgs, CniResult, Error, Plugin};

struct Echo;

impl Plugin for Echo {
    fn about(&self) -> String {
        "fuzz".into()
    }
    fn uses_netns(&self) -> bool {
        false
    }
    fn add(&self, args: &CmdArgs) -> Result<CniResult, Error> {
        let _ = args.cni_args(CniArgs::K8S_KEYS);
        let _ = args.valid_attachments();
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Mine {
            mtu: u32,
            bridge: String,
            #[serde(rename = "vlanTrunk")]
            trunk: Option<Vec<Option<std::collections::BTreeMap<String, i64>>>>,
        }
        let _ = args.plugin_conf::<Mine>();
        match args.prev_result()? {
            Some(r) => Ok(r),
            None => Ok(CniResult::new()),
        }
    }
    fn del(&self, _: &CmdArgs) -> Result<(), Error> {
        Ok(())
    }
    fn check(&self, args: &CmdArgs) -> Result<(), Error> {
        args.prev_result().map(|_| ())
    }
}

/// One input. Panics on a finding.
pub fn run(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0);
    let command = parts.next().unwrap_or_default().to_vec();
    let cni_args = parts.next().unwrap_or_default().to_vec();
    let stdin = parts.next().unwrap_or_default().to_vec();
    let get = |k: &str| -> Option<OsString> {
        match k {
            "CNI_COMMAND" => Some(OsString::from_vec(command.clone())),
            "CNI_ARGS" => Some(OsString::from_vec(cni_args.clone())),
            "CNI_CONTAINERID" => Some("c1".into()),
            "CNI_NETNS" => Some("/nonexistent".into()),
            "CNI_IFNAME" => Some("eth0".into()),
            "CNI_PATH" => Some("/nonexistent".into()),
            _ => None,
        }
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let rc = netns_cni::run_with(&Echo, &get, &mut &stdin[..], &mut out, &mut err);
    assert!(rc == 0 || rc == 1, "exit status {rc}");
    if out.is_empty() {
        return;
    }
    let v: serde_json::Value = serde_json::from_slice(&out).expect("stdout is one JSON document");
    if rc == 0 && command == b"ADD" {
        // A result: read back as the version it says, written again the same.
        let version = v["cniVersion"].as_str().unwrap_or_default().to_string();
        let back = CniResult::parse(&out, &version).expect("a printed result reads back");
        let again = back.to_json(&version).expect("and writes again");
        assert_eq!(again.as_bytes(), &out[..]);
    } else if rc == 1 {
        assert!(v["code"].is_u64(), "an error object: {v}");
    }
}
