//! nftables' own tool as the oracle: `nft` (Debian's nftables), run in the
//! calling thread's network namespace (or, with [`nft_json_in`], another
//! one through `nsenter`).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const MISSING: &str = "run nft (the Debian package nftables; .ci/install-deps installs it)";

fn checked(args: &[&str], out: Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "nft {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `nft ARGS...` in the calling thread's namespace, which must succeed
/// (else a panic with its stderr); its stdout.
pub fn nft(args: &[&str]) -> String {
    let out = Command::new("nft").args(args).output().expect(MISSING);
    String::from_utf8_lossy(&checked(args, out)).into_owned()
}

/// `nft -j ARGS...` in the calling thread's namespace, which must succeed;
/// its JSON.
pub fn nft_json(args: &[&str]) -> Value {
    let out = Command::new("nft")
        .arg("-j")
        .args(args)
        .output()
        .expect(MISSING);
    serde_json::from_slice(&checked(args, out)).expect("nft -j prints JSON")
}

/// [`nft_json`] in the network namespace at `netns` (a bind-mounted
/// namespace file), entered with `nsenter --net`.
pub fn nft_json_in(netns: &Path, args: &[&str]) -> Value {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .args(["nft", "-j"])
        .args(args)
        .output()
        .expect(MISSING);
    serde_json::from_slice(&checked(args, out)).expect("nft -j prints JSON")
}

/// The whole ruleset of the calling thread's namespace as
/// `nft -j list ruleset` prints it, without the metainfo (which names nft's
/// version): one object per table, chain, set, map, rule...
pub fn ruleset() -> Vec<Value> {
    nft_json(&["list", "ruleset"])["nftables"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|o| o.get("metainfo").is_none())
        .collect()
}

/// `text` (nft's syntax, e.g. what `nft list table` printed) is one nft
/// itself accepts: `nft -c -f` run in a fresh, empty network namespace
/// (`unshare --net`), so the text is checked on its own, not against what
/// is in the caller's. Panics with the text and nft's stderr if refused;
/// returns what `nft -c` printed on stdout.
pub fn nft_accepts(text: &str) -> String {
    let dir = crate::TempDir::new("nft-check");
    let file = dir.path().join("ruleset.nft");
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
    let out = Command::new("unshare")
        .args(["--net", "nft", "-c", "-f"])
        .arg(&file)
        .output()
        .expect("run unshare nft -c (util-linux, nftables)");
    assert!(
        out.status.success(),
        "nft -c refused what nft printed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
