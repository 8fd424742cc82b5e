//! Property tests: random operation sequences through `Allocator` (over
//! `MemoryStore` and over `FileStore`) against a deliberately naive model of
//! host-local: a literal transcription of its iterator (one probe per
//! candidate), its duplicate check and its rollback.

// The VM tier leaves this binary out: what `netns_testutil::host_only!`
// expands to (this crate does not depend on netns-testutil).
#[used]
static NETNS_VM_TIER_HOST_ONLY: &str =
    "NETNS_VM_TIER=host-only: property tests of pure IPAM code, no kernel involved\0";

mod prop_common;

use netns_ipam::{Allocator, FileStore, MemoryStore};
use prop_common::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn memory_store_matches_model(which in 0usize..4, ops in proptest::collection::vec(op(), 1..60)) {
        let mut h = Mem(Allocator::new(range_sets(which), MemoryStore::new()));
        run_sequence(&mut h, which, &ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn file_store_matches_model(which in 0usize..4, ops in proptest::collection::vec(op(), 1..40)) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "netns-ipam-prop-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&root);
        let sets = range_sets(which);
        let a = Allocator::new(sets.clone(), FileStore::open(&root, "net").unwrap());
        let mut h = Disk { root, sets, a };
        run_sequence(&mut h, which, &ops)?;
    }
}

/// A FileStore opened afresh for every operation, as the plugin uses it
/// (one process per command): every command goes through the persistent
/// index (searched in place, its log appended, a new base past the log's
/// bound), or through the listing after a change behind its back.
struct OneShot {
    root: std::path::PathBuf,
    sets: Vec<netns_ipam::RangeSet>,
}

impl Drop for OneShot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl OneShot {
    fn fresh(&self) -> Allocator<FileStore> {
        Allocator::new(
            self.sets.clone(),
            FileStore::open(&self.root, "net").unwrap(),
        )
    }
}

impl AllocOps for OneShot {
    fn add(
        &mut self,
        id: &str,
        ifname: &str,
        req: &[std::net::IpAddr],
    ) -> Result<Vec<std::net::IpAddr>, String> {
        self.fresh().add(id, ifname, req)
    }
    fn del(&mut self, id: &str, ifname: &str) {
        self.fresh().del(id, ifname)
    }
    fn check(&mut self, id: &str, ifname: &str) -> bool {
        AllocOps::check(&mut self.fresh(), id, ifname)
    }
    fn files(&mut self) -> std::collections::BTreeMap<std::net::IpAddr, String> {
        self.fresh().files()
    }
}

impl Harness for OneShot {
    fn alloc(&mut self) -> &mut dyn AllocOps {
        self
    }
    fn seed_legacy(&mut self, ip: std::net::IpAddr, id: &str) {
        std::fs::write(self.root.join("net").join(ip.to_string()), id).unwrap();
    }
    fn reopen(&mut self) {}
    fn cursor(&mut self, set: usize) -> Option<std::net::IpAddr> {
        std::fs::read_to_string(self.root.join(format!("net/last_reserved_ip.{set}")))
            .ok()
            .map(|s| s.parse().unwrap())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Long sequences, so the log passes its bound and bases are rewritten.
    #[test]
    fn one_shot_file_stores_match_model(which in 0usize..4, ops in proptest::collection::vec(op(), 1..200)) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "netns-ipam-oneshot-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&root);
        let mut h = OneShot { root, sets: range_sets(which) };
        // The network's directory made, as the Disk harness's store does
        // (a hand-made reservation may be the first operation).
        drop(h.fresh());
        run_sequence(&mut h, which, &ops)?;
    }
}
