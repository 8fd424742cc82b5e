//! Every seed and regression input of the fuzz targets (fuzz/seeds/TARGET/)
//! through the target's own entry point: the targets' bodies live in
//! fuzz/targets/ and are compiled here unchanged, so what cargo-fuzz runs
//! and what `cargo test` replays is one function per target. A target
//! whose directory holds no input fails: seeds are not optional.
//! (Here because this crate depends on everything the targets reach: the
//! plugins' config files, netns-ipam's etcd store.)

#[path = "../../fuzz/targets/cni_env.rs"]
mod cni_env;
#[path = "../../fuzz/targets/cni_protocol.rs"]
mod cni_protocol;
#[path = "../../fuzz/targets/conntrack_reply.rs"]
mod conntrack_reply;
#[path = "../../fuzz/targets/etcd_wire.rs"]
mod etcd_wire;
#[path = "../../fuzz/targets/ipam_config.rs"]
mod ipam_config;
#[path = "../../fuzz/targets/nft_reply.rs"]
mod nft_reply;
#[path = "../../fuzz/targets/plugin_config.rs"]
mod plugin_config;

use std::path::PathBuf;

netns_testutil::host_only!("replays fuzz inputs through pure parsers, no kernel involved");

/// Run every file of fuzz/seeds/`target` through `run`; a panic names the
/// file.
fn replay(target: &str, run: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no seeds", dir.display());
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let r = std::panic::catch_unwind(|| run(&data));
        assert!(r.is_ok(), "{target}: {} fails", f.display());
    }
}

#[test]
fn netlink_datagram() {
    replay("netlink_datagram", netns_core::fuzzing::datagram);
}

#[test]
fn netlink_payload() {
    replay("netlink_payload", netns_core::fuzzing::payload);
}

#[test]
fn nft_reply() {
    replay("nft_reply", nft_reply::run);
}

#[test]
fn conntrack_reply() {
    replay("conntrack_reply", conntrack_reply::run);
}

#[test]
fn etcd_wire() {
    replay("etcd_wire", etcd_wire::run);
}

#[test]
fn ipam_config() {
    replay("ipam_config", ipam_config::run);
}

#[test]
fn cni_protocol() {
    replay("cni_protocol", cni_protocol::run);
}

#[test]
fn cni_env() {
    replay("cni_env", cni_env::run);
}

#[test]
fn plugin_config() {
    replay("plugin_config", plugin_config::run);
}
